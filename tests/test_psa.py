"""PSA: reproducible whatever the chunk size; fixed parameters reproduce the base case; the HIV PSA agrees
statistically with the published Briggs Exercise 4.7 results."""
import dataclasses
import json

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


@pytest.mark.slow
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


def _small_blocks(monkeypatch, kept: int = 2048, block: int = 512):
    """A PSA that keeps only ``kept`` iterations, in blocks of ``block`` (as a 10,000,000-iteration PSA keeps
    524,288 in blocks of 65,536), so streaming is tested in seconds."""
    from ifpp_econ.analyses import psa

    monkeypatch.setattr(psa, "KEPT_ITERATIONS", kept)
    monkeypatch.setattr(psa, "SUMMARY_BLOCK", block)


def test_memory_does_not_grow_past_the_kept_iterations_and_means_cover_every_iteration(default_inputs, monkeypatch):
    from ifpp_econ.analyses import psa

    _small_blocks(monkeypatch, kept=10**9)  # the same blocks, every iteration kept
    full = run_psa(default_inputs, n=3500, seed=7, chunk_size=1024, keep_draws=2000, workers=2)
    _small_blocks(monkeypatch)
    streamed = run_psa(default_inputs, n=3500, seed=7, chunk_size=1024, keep_draws=2000, workers=2)
    other_chunks = run_psa(default_inputs, n=3500, seed=7, chunk_size=3000, keep_draws=2000, workers=1)
    assert streamed.kept_iterations == psa.KEPT_ITERATIONS == 2048 and full.kept_iterations == 3500
    assert all(v.shape[-1] == 2048 for v in streamed.outcomes.values())
    assert all(v.shape[-1] == 2048 for band in streamed.by_band.values() for v in band.values())
    assert len(streamed.children_per_family) == 2048 and len(streamed.draws) == 2000
    a, b = full.to_json(), streamed.to_json()
    assert b == other_chunks.to_json()  # the chunking changes nothing, streamed or kept
    assert full.streamed is None and "subsample" not in a
    # every mean is over all 3,500 iterations: the full run's, up to rounding (sums in blocks)
    for metric in ("per_child_savings", "per_family_savings", "placements_avoided_per_child",
                   "care_months_avoided_per_child"):
        assert b[metric]["mean"] == pytest.approx(a[metric]["mean"], rel=1e-12)
        assert b[metric]["lower"] != a[metric]["lower"]  # percentiles: from the first 2,048
    assert b["incremental_nmb"]["mean"] == pytest.approx(a["incremental_nmb"]["mean"], rel=1e-12)
    assert b["prob_cost_saving"] == a["prob_cost_saving"]
    assert b["ceac"] == a["ceac"] and b["evpi_per_child"] == a["evpi_per_child"]  # exact: the same block sums
    for x, y in zip(a["outcomes"], b["outcomes"]):
        for key in ("ifpp", "usual_care", "difference"):
            assert (x[key] is None) == (y[key] is None)
            if x[key] is not None:
                assert y[key] == pytest.approx(x[key], rel=1e-12, abs=1e-12)
    for x, y in zip(a["by_payer"], b["by_payer"]):
        assert (y["ifpp"], y["usual_care"], y["savings"]) == pytest.approx((x["ifpp"], x["usual_care"], x["savings"]),
                                                                           rel=1e-12)
    for band in a["by_age_band"]:
        for metric, v in a["by_age_band"][band].items():
            assert b["by_age_band"][band][metric]["mean"] == pytest.approx(v["mean"], rel=1e-12)
    for name, by_outcome in a["strategies"].items():
        for outcome, v in by_outcome.items():
            assert b["strategies"][name][outcome]["mean"] == pytest.approx(v["mean"], rel=1e-12)
    sub = b["subsample"]
    assert (sub["iterations"], sub["iterations_kept"]) == (3500, 2048) and "first 2,048" in sub["note"]
    se = sub["interval_se"]["per_child_savings"]
    width = b["per_child_savings"]["upper"] - b["per_child_savings"]["lower"]
    assert 0 < se["lower"] < width / 10 and 0 < se["upper"] < width / 10


@pytest.mark.slow
def test_save_iterations_writes_every_iteration_while_holding_the_first(default_inputs, monkeypatch, tmp_path):
    from ifpp_econ import pipeline

    _small_blocks(monkeypatch, kept=1024, block=256)
    outcome = pipeline.psa(default_inputs, n=1500, seed=3, out=tmp_path / "run", chunk_size=600,
                           save_iterations=True, evppi=False)
    rows = pd.read_csv(outcome.folder / "iterations.csv.gz", index_col="iteration")
    assert list(rows.index) == list(range(1500))
    kept = run_psa(default_inputs, n=1500, seed=3, chunk_size=600)
    assert kept.kept_iterations == 1024
    k = kept.strategies.index("IFPP")
    np.testing.assert_array_equal(rows["cost[IFPP]"].to_numpy()[:1024], kept.outcomes["cost"][k])
    assert rows["cost[IFPP]"].mean() == pytest.approx(kept.streamed.outcomes["cost"][k], rel=1e-12)
    assert rows.filter(like="draw:").shape[1] > 10 and not rows.isna().any().any()
    assert "iterations.csv.gz" in json.loads((outcome.folder / "manifest.json").read_text())["files"]


def test_iterations_file_rows_are_pandas_csv_text(default_inputs):
    """iterations.csv.gz's rows are written by a faster formatter than pandas': the same text, to the character, for
    a model-averaged PSA's rows (floats and integer codes) and for missing values, infinities, −0.0, tiny and huge
    numbers, booleans; text columns are left to pandas."""
    from ifpp_econ.analyses.psa import iteration_rows
    from ifpp_econ.outputs.writers import csv_rows

    averaged = run_psa(apply_overrides(default_inputs, {"psa_structural": "model_averaged"}), 300, seed=4,
                       keep_draws=True)
    assert averaged.draws is not None
    rows = iteration_rows(dict(averaged.outcomes), averaged.strategies, averaged.draws, 700)
    assert {t.kind for t in rows.dtypes} == {"f", "i"}
    odd = pd.DataFrame({"x": [np.nan, np.inf, -np.inf, -0.0, 1e-05, 1e16, 123456789012345.0, 1 / 3, 5e-324, 2.5e300],
                        "k": np.arange(10), "b": [True, False] * 5}, index=pd.RangeIndex(7, 17, name="iteration"))
    text = odd.assign(name=["a,b", 'say "hi"'] * 5)
    for frame in (rows, odd, text):
        assert csv_rows(frame) == frame.to_csv(header=False)


@pytest.mark.slow
def test_report_of_a_psa_past_the_kept_iterations_says_so_and_uses_every_iteration(default_inputs, monkeypatch,
                                                                                    tmp_path):
    from ifpp_econ import pipeline

    _small_blocks(monkeypatch)
    outcome = pipeline.report(default_inputs, n=3000, seed=5, out=tmp_path / "report")
    page = (outcome.folder / "report.html").read_text(encoding="utf-8")
    assert "over all 3,000 iterations" in page and "from the first 2,048" in page
    every = run_psa(default_inputs, n=3000, seed=5)
    assert every.streamed is not None
    assert outcome.data["psa_per_child_savings"]["mean"] == pytest.approx(every.to_json()["per_child_savings"]["mean"],
                                                                          rel=1e-12)


FAULTS_PER_CHUNK = """
import resource, sys
from ifpp_econ import default_workbook
from ifpp_econ.analyses.psa import plan_chunks, run_chunk
from ifpp_econ.engine import allocator
from ifpp_econ.inputs.reader import read_workbook

plan = plan_chunks(read_workbook(default_workbook()))
assert allocator.keep_freed_memory() is True  # set (once) by plan_chunks
run_chunk(plan, 7, 0, 2048)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for start in range(2048, 5 * 2048, 2048):
    run_chunk(plan, 7, start, 2048)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 4)
"""


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="the allocator setting is glibc's")
def test_chunks_reuse_freed_memory_instead_of_page_faulting_it_in_again():
    """Issue 31: by default glibc returned each chunk's arrays to the system and page-faulted them in again (≈ 3,200
    minor faults a chunk of 4,096, ≈ 16% of the model's CPU); a chunk plan sets the allocator to keep them. Counted in
    a process of its own, as a PSA run is one (a long-lived test worker's earlier tests leave their own heap)."""
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", FAULTS_PER_CHUNK], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "IFPP_ECON_KERNEL": "numpy"})
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 100  # ≈ 3,000 a chunk without it (5 with it; the numpy reference kernel: no compile)
