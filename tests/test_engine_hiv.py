"""The engine reproduces the published HIV model (Chancellor 1997; Briggs et al. 2006 Ex. 2.5)."""
import numpy as np
import pytest
from hiv_model import HIV_CONVENTIONS, N_CYCLES, hiv_inputs, run_hiv

from ifpp_econ.engine import Edges, Reward, simulate


def test_published_costs_life_years_and_icer():
    result = run_hiv()
    totals = result.totals()
    assert totals["cost"][0] == pytest.approx(44663.4535637, rel=1e-9)
    assert totals["cost"][1] == pytest.approx(50601.6513312, rel=1e-9)
    assert totals["life_years"][0] == pytest.approx(7.9912066, rel=1e-8)
    assert totals["life_years"][1] == pytest.approx(8.9373889, rel=1e-8)
    icer = (totals["cost"][1] - totals["cost"][0]) / (totals["life_years"][1] - totals["life_years"][0])
    assert icer == pytest.approx(6275.95560, rel=1e-8)


def test_published_trace_rows():
    trace = run_hiv().trace
    np.testing.assert_allclose(trace[0, 1], [0.721453, 0.201845, 0.066897, 0.009804], atol=5e-7)
    np.testing.assert_allclose(trace[0, 2], [0.520495, 0.262911, 0.180596, 0.035999], atol=5e-7)
    np.testing.assert_allclose(trace[1, 1], [0.858220, 0.102739, 0.034051, 0.004990], atol=5e-7)
    np.testing.assert_allclose(trace.sum(-1), 1.0, atol=1e-12)


def test_rounded_probabilities_give_published_rounded_results():
    mono = np.array([
        [0.721, 0.202, 0.067, 0.010],
        [0.0, 0.581, 0.407, 0.012],
        [0.0, 0.0, 0.750, 0.250],
        [0.0, 0.0, 0.0, 1.0],
    ])
    totals = run_hiv(mono=mono).totals()
    assert totals["cost"][0] == pytest.approx(44613.85, abs=0.005)
    assert totals["life_years"][0] == pytest.approx(7.979173, abs=5e-7)
    assert totals["cost"][1] == pytest.approx(50554.72, abs=0.005)
    assert totals["life_years"][1] == pytest.approx(8.925505, abs=5e-7)


def test_many_parameter_sets_at_once_equal_each_separately():
    rng = np.random.default_rng(1)
    rrs = rng.uniform(0.3, 1.0, size=7)
    ps, cs = zip(*(hiv_inputs(rr=rr) for rr in rrs))
    p = np.stack(ps)  # (7, 2, T, 4, 4)
    c = np.stack(cs)  # (7, 2, T+1, 4)
    rewards = {"cost": Reward(state_values=c, discount_rate=0.06, varies_by_cycle=True)}
    batched = simulate(np.array([1.0, 0, 0, 0]), p, N_CYCLES, rewards, HIV_CONVENTIONS, time_varying=True)
    for k, rr in enumerate(rrs):
        single = run_hiv(rr=rr)
        np.testing.assert_allclose(batched.total("cost")[k], single.total("cost"), rtol=1e-13)
        np.testing.assert_allclose(batched.trace[k], single.trace, rtol=1e-13, atol=1e-15)


def test_sparse_edges_equal_dense():
    p, costs = hiv_inputs()
    source, target = np.nonzero(p[1].max(axis=0) > 0)
    edges = Edges(source, target, 4)
    p_sparse = p[..., source, target]  # (2, T, E)
    rewards = {"cost": Reward(state_values=costs, discount_rate=0.06, varies_by_cycle=True)}
    sparse = simulate(np.array([1.0, 0, 0, 0]), p_sparse, N_CYCLES, rewards, HIV_CONVENTIONS, edges=edges, time_varying=True)
    dense = run_hiv()
    np.testing.assert_allclose(sparse.trace, dense.trace, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(sparse.total("cost"), dense.total("cost"), rtol=1e-13)
