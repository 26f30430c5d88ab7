"""PSA: reproducible whatever the chunk size; fixed parameters reproduce the base case; the HIV PSA agrees
statistically with the published Briggs Exercise 4.7 results."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
from hiv_model import HIV_CONVENTIONS, LAMIVUDINE, N_CYCLES, ZIDOVUDINE, psa_matrices, psa_parameters

from ifpp_econ.analyses.deterministic import run_base_case
from ifpp_econ.analyses.psa import run_psa, wtp_grid
from ifpp_econ.analyses.sampling import sample
from ifpp_econ.engine import Reward, cycle_weights, simulate
from ifpp_econ.model.scenarios import apply_overrides


def all_fixed(inputs):
    params = inputs.parameters.copy()
    params["distribution"] = "fixed"
    return dataclasses.replace(inputs, parameters=params, correlations=inputs.correlations.iloc[:0])


def test_every_parameter_fixed_gives_the_deterministic_result(default_inputs):
    inputs = all_fixed(default_inputs)
    psa = run_psa(inputs, 7, seed=1)
    base = run_base_case(inputs)
    for key, values in psa.outcomes.items():
        np.testing.assert_allclose(values, np.repeat(base.results.outcomes[key], 7, axis=1), rtol=1e-12, equal_nan=True)


def test_chunked_and_unchunked_runs_are_identical(default_inputs):
    whole = run_psa(default_inputs, 3000, seed=5, chunk_size=3000)
    for chunk in (700, 1024, 2999):
        parts = run_psa(default_inputs, 3000, seed=5, chunk_size=chunk)
        for key in whole.outcomes:
            assert np.array_equal(whole.outcomes[key], parts.outcomes[key], equal_nan=True), (key, chunk)
        pd.testing.assert_frame_equal(whole.accumulator.ceac(), parts.accumulator.ceac(), check_exact=True)
        pd.testing.assert_frame_equal(whole.accumulator.evpi(), parts.accumulator.evpi(), check_exact=True)


def test_seed_reproducibility_and_json(default_inputs):
    a = run_psa(default_inputs, 500, seed=9).to_json()
    b = run_psa(default_inputs, 500, seed=9).to_json()
    c = run_psa(default_inputs, 500, seed=10).to_json()
    assert a == b and a != c
    for key in ("iterations", "seed", "per_child_savings", "placements_avoided_per_child", "prob_cost_saving", "ceac"):
        assert key in a
    assert set(a["per_child_savings"]) == {"mean", "lower", "upper"}
    assert a["per_child_savings"]["lower"] < a["per_child_savings"]["mean"] < a["per_child_savings"]["upper"]
    assert {"wtp", "probability"} == set(a["ceac"]["IFPP"][0])
    grid = wtp_grid(default_inputs.settings)
    assert len(a["ceac"]["IFPP"]) == len(grid)
    total = np.array([p["probability"] for p in a["ceac"]["IFPP"]]) + np.array([p["probability"] for p in a["ceac"]["Usual care"]])
    np.testing.assert_allclose(total, 1.0)


def test_psa_mean_near_deterministic(default_inputs):
    default_inputs = apply_overrides(default_inputs, {"rr_between_study_sd": 0.0})  # RR's median = its mean, nearly
    params = default_inputs.parameters.copy()
    params.loc["children_placed_per_family_placement", "distribution"] = "fixed"  # its base is the mode, not the mean
    default_inputs = dataclasses.replace(default_inputs, parameters=params)
    psa = run_psa(default_inputs, 4000, seed=3)
    base = run_base_case(default_inputs).incremental()["IFPP"]
    inc = psa.incremental()["IFPP"]
    # placements avoided is close to linear in the inputs: the PSA mean sits near the base case
    assert inc["placements_avoided_per_child"].mean() == pytest.approx(base["placements_avoided_per_child"], rel=0.05)


def hiv_psa(n, seed):
    d = sample(psa_parameters(), n, seed=seed)
    mono, combo = psa_matrices(d)
    p = np.empty((n, 2, N_CYCLES, 4, 4))
    p[:, 0] = mono[:, None]
    p[:, 1] = mono[:, None]
    p[:, 1, :2] = combo[:, None]
    alive = np.array([1.0, 1, 1, 0])
    state_costs = np.stack([d["c_A"], d["c_B"], d["c_C"], np.zeros(n)], -1)
    costs = np.broadcast_to((state_costs + ZIDOVUDINE * alive)[:, None, None, :], (n, 2, N_CYCLES + 1, 4)).copy()
    costs[:, 1, 1:3] += LAMIVUDINE * alive
    rewards = {"cost": Reward(state_values=costs, discount_rate=0.06, varies_by_cycle=True), "ly": Reward(state_values=alive)}
    res = simulate(np.array([1.0, 0, 0, 0]), p, N_CYCLES, rewards, HIV_CONVENTIONS, time_varying=True)
    cost = res.total("cost")
    life_years = res.row_values["ly"] @ cycle_weights(N_CYCLES, "half-cycle")  # the spreadsheet's half-cycle LYs
    return cost[:, 1] - cost[:, 0], life_years[:, 1] - life_years[:, 0]


def test_hiv_psa_agrees_with_briggs_exercise_4_7():
    d_cost, d_ly = hiv_psa(20_000, seed=2024)
    for ours, published in ((d_cost, 5835.0), (d_ly, 0.925)):
        # published from 1,000 runs: compare within the Monte Carlo error of both
        se = np.sqrt(ours.var() / len(ours) + ours.var() / 1000)
        assert abs(ours.mean() - published) < 3 * se


def test_chunks_run_anywhere_give_the_psa_numbers(default_inputs):
    """run_chunk is a pure function of (workbook, seed, start, size): chunks cut differently and run in any order
    (as a process pool or a cluster would) and placed by iteration number reproduce run_psa bit for bit."""
    from ifpp_econ.analyses.psa import plan_chunks, run_chunk

    whole = run_psa(default_inputs, 2500, seed=8)
    plan = plan_chunks(default_inputs)
    cost = np.empty_like(whole.outcomes["cost"])
    for start, size in [(1700, 800), (0, 300), (300, 1400)]:
        draws, results = run_chunk(plan, 8, start, size)
        assert list(draws.index) == list(range(start, start + size))
        cost[:, start : start + size] = results.outcomes["cost"]
    assert np.array_equal(cost, whole.outcomes["cost"])


@pytest.mark.slow
def test_psa_does_not_import_scipy_stats():
    """Reading a workbook and running a PSA with EVPPI never import scipy.stats (about 1 s of every run's start-up)."""
    import subprocess
    import sys

    code = ("import sys, ifpp_econ as ie; from ifpp_econ.analyses import psa; "
            "r = psa.run_psa(ie.read_workbook(ie.default_workbook()), n=300, keep_draws=300); r.to_json(); r.evppi(); "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_readme_scale_out_recipe_runs_as_written(tmp_path, default_inputs):
    """The README's process-pool recipe pickles the plan with the standard library and reproduces the PSA's mean."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### Scale-out", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "recipe.py"
    script.write_text("\n".join(line[2:] if line.startswith("  ") else line for line in code.splitlines()))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    mean = run_psa(default_inputs, 10_000, seed=20231).incremental()["IFPP"]["per_child_savings"].mean()
    assert out.stdout.strip() == f"mean savings per child £{mean:,.2f} over 10,000 iterations"


def test_the_chunk_plan_pickles_and_gives_the_same_draws_and_results(default_inputs):
    import pickle

    from ifpp_econ.analyses.psa import plan_chunks, run_chunk

    plan = plan_chunks(default_inputs)
    copy = pickle.loads(pickle.dumps(plan))
    (d1, r1), (d2, r2) = run_chunk(plan, 3, 100, 64), run_chunk(copy, 3, 100, 64)
    assert d1.equals(d2) and all(np.array_equal(r1.outcomes[k], r2.outcomes[k]) for k in r1.outcomes)
