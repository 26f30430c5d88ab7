"""Result objects: one small surface (summary, incremental, to_json, short repr) for every analysis, obtainable
from Python without a run folder; presentation that only renders (EVPPI once, nothing read back)."""
import json

import numpy as np
import pandas as pd
import pytest

import ifpp_econ as ie
from ifpp_econ import declarations
from ifpp_econ.analyses import dsa, voi
from ifpp_econ.outputs import presentation, run_folder


@pytest.fixture(scope="module")
def psa(default_inputs):
    return ie.run_psa(default_inputs, n=600, seed=11, keep_draws=True)


def _check_surface(result):
    assert isinstance(result.summary(), pd.DataFrame) and len(result.summary()) > 0
    json.dumps(result.to_json(), default=str)  # serialisable
    text = repr(result)
    assert "\n" not in text and len(text) < 300, text
    return result.incremental()


@pytest.mark.slow
def test_every_result_has_the_same_small_surface(default_inputs, psa):
    base = ie.run_base_case(default_inputs)
    assert _check_surface(base)["IFPP"]["per_child_savings"] == pytest.approx(9986, abs=1)
    assert set(_check_surface(psa)) == {"IFPP"}
    assert {"scenario", "per_child_savings"} <= set(_check_surface(ie.run_dsa(default_inputs)).columns)
    assert _check_surface(ie.run_budget(default_inputs, iterations=0))["years"] == 5
    assert _check_surface(ie.run_voi(psa))["evpi_per_child"] > 0


def test_psa_samples_are_rows(psa):
    samples = psa.samples(draws=True)
    assert len(samples) == 600 and samples.index.name == "iteration"
    assert "cost[IFPP]" in samples and "draw:rr_12m" in samples
    np.testing.assert_array_equal(samples["cost[IFPP]"], psa.outcomes["cost"][psa.strategies.index("IFPP")])
    long = psa.summary()
    assert {"strategy", "versus", "measure", "mean", "lower", "upper"} <= set(long.columns)


def test_population_evpi_and_ceac_without_a_run_folder(default_inputs, psa):
    per_child = psa.evpi()
    assert list(per_child.columns) == ["wtp", "evpi_per_child"]
    population = psa.evpi(population=True)
    s = default_inputs.settings
    children = float(s["la_referrals_per_year"]) * float(default_inputs.parameters.loc["children_per_family", "value"])
    factor = ((1 + float(s["discount_rate_costs"])) ** -np.arange(int(s.get("decision_years", 10)))).sum()
    np.testing.assert_allclose(population["evpi_population"], per_child["evpi_per_child"] * children * factor)
    np.testing.assert_allclose(psa.evpi(population=10.0)["evpi_population"], per_child["evpi_per_child"] * 10 * factor)
    ceac = psa.ceac()
    assert ceac["wtp"].is_monotonic_increasing and np.allclose(ceac[psa.strategies].sum(axis=1), 1)


def test_evppi_is_computed_once_per_argument_set(default_inputs, monkeypatch):

    calls = []
    real = voi.evppi_table
    monkeypatch.setattr(voi, "evppi_table", lambda *a, **k: calls.append(1) or real(*a, **k))
    result = ie.run_psa(default_inputs, n=300, seed=1, keep_draws=True)
    first = result.evppi()
    pd.testing.assert_frame_equal(first, result.evppi())
    pd.testing.assert_frame_equal(ie.run_voi(result).evppi, first)
    assert len(calls) == 1


def test_budget_intervals_from_python_reuse_the_psa_draws(default_inputs, psa):
    reused = ie.run_budget(default_inputs, psa=psa, iterations=300, seed=11)
    drawn = ie.run_budget(default_inputs, iterations=300, seed=11)
    pd.testing.assert_frame_equal(reused.table(), drawn.table(), check_exact=True)
    assert reused.to_json()["psa"]["iterations"] == 300
    table = reused.table()
    assert {"net_saving_lower", "cumulative_upper", "prob_cumulative_saving", "net_saving_public_sector"} <= set(table)
    assert ie.run_budget(default_inputs, iterations=0).psa is None


@pytest.mark.slow
def test_report_computes_evppi_once_and_reads_nothing_back(default_inputs, tmp_path, monkeypatch):
    from ifpp_econ import pipeline
    from ifpp_econ.outputs.run_folder import RunFolder

    calls = []
    real = voi.evppi_table
    monkeypatch.setattr(voi, "evppi_table", lambda *a, **k: calls.append(1) or real(*a, **k))
    commits = []
    real_commit = RunFolder.commit
    monkeypatch.setattr(RunFolder, "commit", lambda self, *a, **k: commits.append(self) or real_commit(self, *a, **k))

    def no_reading(*args, **kwargs):
        raise AssertionError("the report read a file back")

    monkeypatch.setattr(pd, "read_csv", no_reading)
    try:
        pipeline.report(default_inputs, 300, 5, out=tmp_path / "r")
    finally:
        monkeypatch.undo()
    run = commits[0]
    assert len(calls) == 1
    # every column of every table is declared once (presentation.COLUMNS or its table's TABLE_COLUMNS), or is a name
    # its table declares the kind of (a strategy in the CEAC, a budget category, a parameter of the two-way grid):
    # nothing is guessed

    for table, df in run.tables.items():
        undeclared = [c for c in df.columns if c not in presentation.COLUMNS
                      and c not in presentation.TABLE_COLUMNS.get(table, {})]
        if table == "two_way":
            undeclared = [c for c in undeclared if c not in default_inputs.parameters.index]
        assert not undeclared or presentation.TABLES[table][1] is not None, (table, undeclared)


def test_generic_layers_take_the_model_s_names(default_inputs):

    rng = np.random.default_rng(0)
    draws = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    nb = np.vstack([np.zeros(400), draws["a"].to_numpy()])
    assert list(voi.evppi_table(draws, nb)["parameter"]) == ["a", "b"]  # no groups unless given
    grouped = voi.evppi_table(draws, nb, groups={"both": ("a", "b")})
    assert "group: both" in set(grouped["parameter"])
    result = dsa.run_dsa(default_inputs, threshold_parameters=["rr_12m"], two_way_pair=("rr_12m", "risk_12m"))
    assert list(result.thresholds["parameter"]) == ["rr_12m"] and result.two_way_pair == ("rr_12m", "risk_12m")
    assert dsa.run_dsa.__defaults__[-1] == declarations.TWO_WAY_PAIR


def test_charts_are_the_same_with_or_without_the_worker(tmp_path):
    from ifpp_econ import executors
    from ifpp_econ.outputs.figures import ChartSpec
    from ifpp_econ.outputs.render import Charts

    ceac = pd.DataFrame({"wtp": [0.0, 1e4, 2e4], "A": [0.2, 0.5, 0.7], "B": [0.8, 0.5, 0.3]})
    out = {}
    for name, executor in (("serial", executors.Serial()), ("worker", executors.Worker(start=True))):
        folder = tmp_path / name
        folder.mkdir()
        with executor, Charts(folder, executor) as charts:
            charts.draw([ChartSpec("ceac", "ceac", (ceac, ["A", "B"]))])
            out[name] = charts.svg("ceac")
            assert charts.wait() == ["ceac.png", "ceac.svg"]
        assert (folder / "ceac.png").stat().st_size > 0
    assert out["serial"] == out["worker"] and "<svg" in out["worker"]
    assert (tmp_path / "serial" / "ceac.png").read_bytes() == (tmp_path / "worker" / "ceac.png").read_bytes()


def test_results_xlsx_started_early_is_written_once(default_inputs, tmp_path, monkeypatch):
    calls = []
    real = run_folder.write_results_xlsx
    monkeypatch.setattr(run_folder, "write_results_xlsx", lambda *a, **k: calls.append(1) or real(*a, **k))
    run = run_folder.RunFolder("run", root=tmp_path)
    run.table("base_case", ie.run_base_case(default_inputs).strategy_table())
    run.results_workbook(default_inputs, {"seed": 1})
    dest = run.commit(default_inputs, settings={"seed": 1})
    assert len(calls) == 1 and (dest / "results.xlsx").stat().st_size > 0
    run = run_folder.RunFolder("run", root=tmp_path)
    run.table("base_case", ie.run_base_case(default_inputs).strategy_table())
    run.results_workbook(default_inputs, {"seed": 1})
    run.commit(default_inputs, settings={"seed": 2})  # settings changed since: written again
    assert len(calls) == 3


def test_charts_are_drawn_here_when_the_chart_worker_dies(tmp_path):
    """A killed chart worker loses nothing: the charts it had not finished are drawn in this process."""
    import time

    from ifpp_econ import executors
    from ifpp_econ.outputs.figures import ChartSpec
    from ifpp_econ.outputs.render import Charts

    worker = executors.Worker(start=True)
    assert worker.parallel
    for process in list(worker._pool._processes.values()):
        process.kill()
    time.sleep(0.2)
    with worker, Charts(tmp_path, worker) as charts:
        charts.draw([ChartSpec(name, "warm_up") for name in ("one", "two", "three")])
        charts.wait()
        assert "<svg" in charts.svg("two")
    assert all((tmp_path / f"{name}.{ext}").stat().st_size > 0 for name in ("one", "two", "three") for ext in ("png", "svg"))
