"""Engine fast options: distinct matrices by cycle index, the compiled dense loop, cheap checks, trace auto."""
import numpy as np
import pytest
from hiv_model import HIV_CONVENTIONS, LAMIVUDINE, N_CYCLES, hiv_inputs, run_hiv

from ifpp_econ.engine import Reward, TransitionError, check_transitions, cohort, simulate, threads

# compiled loops: slow (the fast path compiles nothing)
numba_only = [pytest.mark.slow, pytest.mark.skipif(threads.choose_kernel("auto") != "numba", reason="numba not importable")]


def batch_of_hiv(n=64, seed=0):
    """Full time-varying arrays (n, 2, T, 4, 4) and their compact form (n, 2, 2, 4, 4) + cycle index."""
    rng = np.random.default_rng(seed)
    ps, cs = zip(*(hiv_inputs(rr=rr) for rr in rng.uniform(0.3, 1.0, size=n)))
    p, costs = np.stack(ps), np.stack(cs)
    compact = np.stack([p[:, :, 0], p[:, :, -1]], axis=2)
    index = np.r_[0, 0, np.ones(N_CYCLES - 2, dtype=int)]
    return p, costs, compact, index


@pytest.mark.parametrize("kernel", ["numpy", pytest.param("numba", marks=numba_only)])
def test_cycle_index_equals_full_time_varying_arrays(kernel):
    p, costs, compact, index = batch_of_hiv()
    rewards = {"cost": Reward(state_values=costs, discount_rate=0.06, varies_by_cycle=True),
               "ly": Reward(state_values=np.array([1.0, 1, 1, 0]))}
    full = simulate(np.array([1.0, 0, 0, 0]), p, N_CYCLES, rewards, HIV_CONVENTIONS, time_varying=True, kernel="numpy")
    short = simulate(np.array([1.0, 0, 0, 0]), compact, N_CYCLES, rewards, HIV_CONVENTIONS, cycle_index=index, kernel=kernel)
    for name in rewards:
        np.testing.assert_allclose(short.total(name), full.total(name), rtol=1e-13)
    np.testing.assert_allclose(short.trace, full.trace, rtol=1e-13, atol=1e-16)


@pytest.mark.slow
@pytest.mark.skipif(threads.choose_kernel("auto") != "numba", reason="numba not importable")
def test_compiled_dense_loop_equals_numpy_reference():
    p, costs, compact, index = batch_of_hiv(n=300, seed=2)
    alive = np.array([1.0, 1, 1, 0])
    rewards = {"cost": Reward(state_values=costs[:, :, 0], discount_rate=0.06), "alive": Reward(state_values=alive, discount_rate=0.06),
               "by_cycle": Reward(state_values=costs, discount_rate=0.06, varies_by_cycle=True)}
    runs = {k: simulate(np.array([1.0, 0, 0, 0]), compact, N_CYCLES, rewards, HIV_CONVENTIONS, cycle_index=index,
                        kernel=k, keep_trace=False, check=False) for k in ("numba", "numpy")}
    assert runs["numba"].trace is None
    for name in rewards:
        for horizon in (1, 2, N_CYCLES):
            np.testing.assert_allclose(runs["numba"].total(name, horizon), runs["numpy"].total(name, horizon), rtol=1e-12)
    # the published combination-therapy cost, written as state costs + lamivudine on the alive states for 2 years
    single = runs["numba"].total("cost")[0] + np.array([0.0, LAMIVUDINE]) * runs["numba"].total("alive", 2)[0]
    np.testing.assert_allclose(single, runs["numba"].total("by_cycle")[0], rtol=1e-12)


@pytest.mark.slow
def test_published_hiv_results_with_either_kernel(monkeypatch):
    for kernel in ("numpy", "numba") if threads.choose_kernel("auto") == "numba" else ("numpy",):
        monkeypatch.setenv("IFPP_ECON_KERNEL", kernel)
        totals = run_hiv().totals()
        assert totals["cost"][0] == pytest.approx(44663.4535637, rel=1e-9)
        assert totals["cost"][1] == pytest.approx(50601.6513312, rel=1e-9)
        assert totals["life_years"][1] == pytest.approx(8.9373889, rel=1e-8)


def test_check_sees_every_value_of_broadcast_arrays():
    good = np.broadcast_to(np.array([[0.9, 0.1], [0.0, 1.0]]), (1000, 5, 2, 2))
    check_transitions(good)
    bad = np.array([[0.9, 0.2], [0.0, 1.0]])
    with pytest.raises(TransitionError, match="not summing to 1"):
        check_transitions(np.broadcast_to(bad, (1000, 5, 2, 2)))
    nan = np.array([[np.nan, 0.1], [0.0, 1.0]])
    with pytest.raises(TransitionError, match="NaN"):
        check_transitions(np.broadcast_to(nan, (3, 2, 2)))
    assert cohort._distinct(good).shape == (1, 1, 2, 2)


def test_cycle_index_validated():
    p = np.tile(np.eye(2), (2, 1, 1))
    with pytest.raises(ValueError, match="cycle_index"):
        simulate(np.array([1.0, 0]), p, 3, cycle_index=np.array([0, 1, 2]))


def test_trace_kept_by_default_only_when_small(monkeypatch):
    p = np.array([[0.9, 0.1], [0.0, 1.0]])
    assert simulate(np.array([1.0, 0]), p, 5).trace is not None
    monkeypatch.setattr(cohort, "TRACE_AUTO_BYTES", 95)  # the trace needs 6 × 2 × 8 = 96 bytes
    assert simulate(np.array([1.0, 0]), p, 5).trace is None
    assert simulate(np.array([1.0, 0]), p, 5, keep_trace=True).trace.shape == (6, 2)


@pytest.mark.slow
@pytest.mark.skipif(threads.choose_kernel("auto") != "numba", reason="numba not importable")
@pytest.mark.parametrize("n_states, n_cycles", [(4, 20), (24, 8)])  # 8·24·24 > COPY_MAX: matrices read in place
def test_compiled_dense_blocks_give_every_element_its_own_numbers(n_states, n_cycles):
    """The compiled loop moves elements in blocks of LANES: each element's numbers are bit-identical whichever block
    (and position in it) it falls in, equal to the numpy reference, with a trace and every kind of state value."""
    from ifpp_econ.engine import _dense

    rng = np.random.default_rng(5)
    n = 2 * _dense.LANES + 3
    p = rng.uniform(size=(n, n_cycles, n_states, n_states))
    p /= p.sum(-1, keepdims=True)
    x0 = rng.dirichlet(np.ones(n_states), size=n)
    rewards = {"plain": Reward(state_values=rng.uniform(size=n_states), discount_rate=0.035),
               "batch": Reward(state_values=rng.uniform(size=(n, n_states))),
               "row": Reward(state_values=rng.uniform(size=(n, n_cycles + 1, n_states)), varies_by_cycle=True)}
    runs = {k: simulate(x0, p, n_cycles, rewards, HIV_CONVENTIONS, time_varying=True, kernel=k, keep_trace=True)
            for k in ("numba", "numpy")}
    np.testing.assert_allclose(runs["numba"].trace, runs["numpy"].trace, rtol=1e-12, atol=1e-15)
    for name in rewards:
        np.testing.assert_allclose(runs["numba"].row_values[name], runs["numpy"].row_values[name], rtol=1e-12)
    for lo, hi in ((0, 1), (_dense.LANES - 1, _dense.LANES + 2), (n - 5, n)):  # alone, or across a block edge
        part = {"plain": rewards["plain"], "batch": Reward(state_values=rewards["batch"].state_values[lo:hi]),
                "row": Reward(state_values=rewards["row"].state_values[lo:hi], varies_by_cycle=True)}
        alone = simulate(x0[lo:hi], p[lo:hi], n_cycles, part, HIV_CONVENTIONS, time_varying=True, kernel="numba",
                         keep_trace=True)
        assert np.array_equal(alone.trace, runs["numba"].trace[lo:hi])
        for name in rewards:
            assert np.array_equal(alone.row_values[name], runs["numba"].row_values[name][lo:hi])


@pytest.mark.slow
@pytest.mark.skipif(threads.choose_kernel("auto") != "numba", reason="numba not importable")
@pytest.mark.parametrize("n_states", [4, 23])  # 2·23·23 > COPY_MAX: matrices read in place, not copied per block
def test_matrices_held_with_the_batch_axes_last_give_the_same_numbers(n_states, monkeypatch):
    """Transitions held as a view of an (M, S, S, *batch) array (each entry contiguous over the batch, as a PSA builds
    them) are read in place by the compiled loop, not copied: the numbers are bit-identical to a C-ordered array's,
    with either kernel, for a batch of two axes (strategies × samples) crossing block edges."""
    from ifpp_econ.engine import _dense

    rng = np.random.default_rng(11)
    n, n_cycles = _dense.LANES + 7, 6
    q = rng.uniform(size=(2, n_states, n_states, 2, n))  # (matrix, from, to, strategy, sample)
    q /= q.sum(axis=2, keepdims=True)
    held = np.moveaxis(q, (0, 1, 2), (-3, -2, -1))  # (2, n, 2, S, S): a view, batch axes last in memory
    assert not held.flags.c_contiguous and np.shares_memory(held, q)
    ordered = np.ascontiguousarray(held)
    index = np.array([0, 0, 1, 1, 1, 1])
    rewards = {"plain": Reward(state_values=rng.uniform(size=n_states), discount_rate=0.035),
               "batch": Reward(state_values=rng.uniform(size=(1, n, n_states)))}
    x0 = np.eye(n_states)[0]
    given = []  # the transition array each compiled call received
    compiled = _dense.compiled

    def spy(name, threads):
        kernel = compiled(name, threads)

        def call(*args):
            given.append(args[1])
            return kernel(*args)
        return call
    monkeypatch.setattr(_dense, "compiled", spy)
    runs = {(kernel, name): simulate(x0, p, n_cycles, rewards, HIV_CONVENTIONS, cycle_index=index, kernel=kernel,
                                     keep_trace=True)
            for kernel in ("numba", "numpy") for name, p in (("held", held), ("ordered", ordered))}
    for kernel in ("numba", "numpy"):
        assert np.array_equal(runs[kernel, "held"].trace, runs[kernel, "ordered"].trace)
        for name in rewards:
            assert runs[kernel, "held"].row_values[name].shape == (2, n, n_cycles + 1)
            assert np.array_equal(runs[kernel, "held"].row_values[name], runs[kernel, "ordered"].row_values[name])
    np.testing.assert_allclose(runs["numba", "held"].total("batch"), runs["numpy", "held"].total("batch"), rtol=1e-12)
    assert len(given) == 2 and np.shares_memory(given[0], q) and given[1].flags.c_contiguous  # read in place
