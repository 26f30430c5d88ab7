"""ifpp-econ rollup: shared and local uncertainty, bit-identical work units on any executor, the region's totals,
bad input refused before any work."""
import json
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from click.testing import CliRunner

from ifpp_econ.analyses import rollup
from ifpp_econ.analyses.psa import between_study_sd, draw, predictive_parameters, shared_effect_weights
from ifpp_econ.cli import main
from ifpp_econ.inputs.reader import read_workbook
from ifpp_econ.testing.region import set_settings, write_region


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    """Three authorities (the default workbook with its own name and referrals; the third assumes the gap persists
    after the effect, so they differ in more than scale)."""
    paths = write_region(tmp_path_factory.mktemp("region"), 3, seed=1)
    set_settings(paths[2], {"after_effect": "gap_persists"})
    return paths


@pytest.fixture(scope="module")
def authorities(region):
    return [rollup.Authority(rollup.authority_name(i), i) for i in map(read_workbook, region)]


def _json(result) -> dict:
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def _without_paths_and_timings(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("output_folder", "files", "report", "results", "execution")}


# -- the model of shared and local uncertainty ---------------------------------------------------------------------------
def test_the_shared_normal_splits_the_log_rr_into_pooled_and_local_parts(default_inputs):
    """log RR_a = μ + σ·s + τ·e_a: two authorities' log RRs correlate σ²/(σ² + τ²) and each keeps the PSA's SD
    √(σ² + τ²); without a shared normal the draws are the PSA's own, bit for bit."""
    n = 40_000
    s = rollup.shared_normals(11, 0, n)
    logs = [np.log(draw(default_inputs, n, rollup.authority_seed(11, name), shared_z=s)["rr_12m"].to_numpy())
            for name in ("North", "South")]
    row = predictive_parameters(default_inputs).loc["rr_12m"]
    total, tau = float(row["param_b"]), between_study_sd(default_inputs)
    w = shared_effect_weights(default_inputs)["rr_12m"]
    assert w == pytest.approx(np.sqrt(total**2 - tau**2) / total)
    assert np.corrcoef(logs[0], logs[1])[0, 1] == pytest.approx(w * w, abs=0.02)
    for x in logs:
        assert x.std() == pytest.approx(total, rel=0.02) and x.mean() == pytest.approx(row["param_a"], abs=0.01)
    # the window RRs follow the 12-month RR, and the family-level RR shares the same normal
    family = [np.log(draw(default_inputs, n, rollup.authority_seed(11, k), shared_z=s)["rr_family_12m"].to_numpy())
              for k in ("North", "South")]
    assert np.corrcoef(*family)[0, 1] == pytest.approx(shared_effect_weights(default_inputs)["rr_family_12m"] ** 2,
                                                       abs=0.02)
    assert draw(default_inputs, 500, 3).equals(draw(default_inputs, 500, 3, shared_z=None))


def test_streams_are_chunk_invariant_and_keyed_by_name():
    assert np.array_equal(rollup.shared_normals(5, 0, 3000),
                          np.concatenate([rollup.shared_normals(5, 0, 1000), rollup.shared_normals(5, 1000, 2000)]))
    assert rollup.authority_seed(5, "Leeds") == rollup.authority_seed(5, "Leeds")
    assert len({rollup.authority_seed(5, k) for k in ("Leeds", "Leeds ", "Bradford")} |
               {rollup.authority_seed(6, "Leeds")}) == 4


def test_the_budget_window_costs_the_same_numbers_as_the_budget(authorities):
    """A unit costs its budget with the horizon capped at the window and sums the window in closed form: the same
    net saving, placements and children (to rounding) as ifpp-econ budget's year-by-year costing of the same draws
    with the full horizon; the capped horizon alone changes nothing, bit for bit."""
    from ifpp_econ.analyses.budget import budget_impact

    a = authorities[2]
    _, _, got, _ = rollup.run_unit(a, 9, 1000, 700, 5)
    values = draw(a.inputs, 700, rollup.authority_seed(9, a.name), 1000, shared_z=rollup.shared_normals(9, 1000, 700))
    full = budget_impact(a.inputs, 5, values=values)
    k, c = full.strategies.index("IFPP"), full.strategies.index(full.comparator)
    assert np.allclose(got["net_saving"], full.net(k).sum(axis=1), rtol=1e-11, atol=1e-6)
    placements = full.by_year["first_placements"]
    assert np.allclose(got["placements_avoided"], (placements[c] - placements[k]).sum(axis=1), rtol=1e-11, atol=1e-12)
    assert np.allclose(got["children_referred"], full.children_by_year.sum(axis=1), rtol=1e-13)
    from ifpp_econ.model.scenarios import apply_overrides

    capped = budget_impact(apply_overrides(a.inputs, {"horizon_years": 5}), 5, values=values)
    assert np.array_equal(capped.net(k), full.net(k))
    assert np.array_equal(capped.by_year["first_placements"], placements)


# -- the same numbers anywhere -------------------------------------------------------------------------------------------
@pytest.mark.slow  # a process pool (about 2 s)
def test_bit_identical_for_any_chunk_size_executor_and_order(authorities):
    serial = rollup.run_rollup(authorities, 1500, 4, chunk_size=1500)
    small = rollup.run_rollup(authorities, 1500, 4, chunk_size=333)
    with ProcessPoolExecutor(2) as pool:
        pooled = rollup.run_rollup(authorities, 1500, 4, executor=pool, chunk_size=1024, workers=2)
    for other in (small, pooled):
        for m in rollup.KEPT:
            assert np.array_equal(serial.arrays[m], other.arrays[m]), m
        for m in rollup.SUMMED:
            assert np.array_equal(serial.regional[m], other.regional[m]), m
        assert json.dumps(other.to_json()["total"]) == json.dumps(serial.to_json()["total"])
    # keyed by name: an authority's numbers do not depend on the others nor on their order
    alone = rollup.run_rollup(authorities[2:][::-1] + authorities[:1], 1500, 4)
    assert np.array_equal(alone.arrays["net_saving"][1], serial.arrays["net_saving"][0])
    assert np.array_equal(alone.arrays["net_saving"][0], serial.arrays["net_saving"][2])


def test_totals_carry_the_shared_correlation(authorities):
    """Authorities' net savings correlate (the shared effect), so the region's variance exceeds the sum of theirs;
    the totals are the sums per iteration; P(region saves) and the intervals come from them."""
    r = rollup.run_rollup(authorities, 3000, 2)
    net = r.arrays["net_saving"]
    assert np.corrcoef(net)[0, 1] > 0.05
    assert net.sum(0).var() > net.var(axis=1).sum()
    total = r.to_json()["total"]
    assert total["net_saving"]["mean"] == pytest.approx(net.sum(0).mean())
    assert total["net_saving"]["lower"] < total["net_saving"]["mean"] < total["net_saving"]["upper"]
    assert total["prob_region_saves"] == pytest.approx(np.mean(net.sum(0) > 0))
    assert total["placements_avoided_per_year"]["mean"] == pytest.approx(r.arrays["placements_avoided"].sum(0).mean() / 5)
    voi = r.value_of_information
    assert 0 <= voi["evppi_shared_effect"] <= voi["evpi"] and 0 <= voi["evppi_local_parameters"] <= voi["evpi"]
    ranked = r.summary()
    assert list(ranked["rank"]) == [1, 2, 3] and ranked["net_saving_mean"].is_monotonic_decreasing


def test_national_extrapolation_scales_the_region(authorities):
    r = rollup.run_rollup(authorities, 800, 2, scale_to=2000)
    data = r.to_json()
    factor = 2000 / sum(float(a.inputs.settings["la_referrals_per_year"]) for a in authorities)
    assert data["national"]["scale_factor"] == pytest.approx(factor)
    assert data["national"]["net_saving"]["mean"] == pytest.approx(factor * data["total"]["net_saving"]["mean"])
    assert "national_net_saving" in set(r.totals()["measure"])


# -- the command ------------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_rollup_means_match_each_authoritys_own_psa(region, tmp_path):
    """Done when: rollup a b c -n 2000 --seed 5 --json gives 3 authorities whose means match each workbook's own
    psa -n 2000 --seed 5 within Monte Carlo error, and a total net saving with its interval."""
    runner = CliRunner()
    data = _json(runner.invoke(main, ["rollup", *map(str, region), "-n", "2000", "--seed", "5", "--json",
                                      "--out", str(tmp_path / "rollup")]))
    assert [a["name"] for a in data["authorities"]] == ["Authority 001", "Authority 002", "Authority 003"]
    t = data["total"]["net_saving"]
    assert t["lower"] < t["mean"] < t["upper"]
    for k, (a, path) in enumerate(zip(data["authorities"], region)):
        own = _json(runner.invoke(main, ["psa", str(path), "-n", "2000", "--seed", "5", "--json", "--no-evppi",
                                         "--out", str(tmp_path / f"psa{k}")]))
        for measure in ("per_child_savings", "placements_avoided_per_child"):
            ours, theirs = a[measure], own[measure]
            sd = (theirs["upper"] - theirs["lower"]) / 3.92  # ≈ the SD of one iteration's value
            assert abs(ours["mean"] - theirs["mean"]) < 4 * sd * np.sqrt(2 / 2000), (a["name"], measure)
    for name in ("report.html", "results.xlsx", "rollup_ranked.png", "rollup_ranked.svg", "rollup_authorities.csv",
                 "rollup_totals.csv", "manifest.json"):
        assert name in data["files"]
    manifest = json.loads((tmp_path / "rollup" / "manifest.json").read_text())
    assert [w["authority"] for w in manifest["workbooks"]] == [a["name"] for a in data["authorities"]]


@pytest.mark.slow
def test_dask_gives_byte_identical_json(region, tmp_path):
    """--executor dask (a LocalCluster) gives the same JSON, byte for byte, as the default (processes) and as serial
    with another chunk size — bar output paths and timings."""
    pytest.importorskip("distributed")
    runner = CliRunner()
    base = ["rollup", *map(str, region), "-n", "1200", "--seed", "5", "--json", "--scale-to", "3000"]
    runs = [_json(runner.invoke(main, base + extra + ["--out", str(tmp_path / f"r{k}")])) for k, extra in enumerate((
        [], ["--executor", "dask", "--workers", "2"], ["--executor", "serial", "--chunk-size", "500"]))]
    texts = [json.dumps(_without_paths_and_timings(r), sort_keys=True) for r in runs]
    assert texts[0] == texts[1] == texts[2]
    assert runs[1]["execution"]["executor"] == "dask"


def test_bad_workbook_stops_before_any_work(region, tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(region[0].read_bytes())
    set_settings(bad, {"authority": "Bad", "discount_rate_costs": 7})
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["rollup", *map(str, region), str(bad), "-n", "100", "--out", str(out)])
    assert result.exit_code == 2
    assert "bad.xlsx" in result.stderr and "Settings!B" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_two_workbooks_naming_one_authority_are_refused(region, tmp_path):
    twin = tmp_path / "twin.xlsx"
    twin.write_bytes(region[0].read_bytes())
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["rollup", str(region[0]), str(twin), "-n", "100", "--out", str(out)])
    assert result.exit_code == 2
    assert "Authority 001" in result.stderr and "twin.xlsx" in result.stderr
    assert not out.exists()


def test_a_workbook_is_named_by_its_authority_setting_else_its_file(region, tmp_path, default_inputs):
    assert rollup.authority_name(read_workbook(region[1])) == "Authority 002"
    assert rollup.authority_name(default_inputs) == "default"


def test_an_older_workbook_without_the_authority_setting_takes_the_file_name(region, tmp_path):
    from openpyxl import load_workbook

    older = tmp_path / "Calderdale.xlsx"
    older.write_bytes(region[0].read_bytes())
    wb = load_workbook(older)
    ws = wb["Settings"]
    row = next(r[0].row for r in ws.iter_rows(min_row=2) if r[0].value == "authority")
    ws.delete_rows(row)
    wb.save(older)
    inputs = read_workbook(older)
    assert any("authority" in w and "default" in w for w in inputs.warnings)
    assert rollup.authority_name(inputs) == "Calderdale"


@pytest.mark.slow  # a CLI run end to end
def test_dir_option_and_help(region, tmp_path):
    result = CliRunner().invoke(main, ["rollup", "--help"])
    assert result.exit_code == 0 and "--scale-to" in result.stdout and "--scheduler" in result.stdout
    result = CliRunner().invoke(main, ["rollup", "--dir", str(tmp_path / "none"), "-n", "10"])
    assert result.exit_code == 2 and "not a folder" in result.stderr
    result = CliRunner().invoke(main, ["rollup", "--dir", str(region[0].parent), "-n", "60", "--executor", "serial",
                                       "--years", "2", "--json", "--out", str(tmp_path / "out")])
    data = _json(result)
    assert len(data["authorities"]) == 3 and data["years"] == 2
    result = CliRunner().invoke(main, ["rollup", str(region[0]), "-n", "10", "--scheduler", "tcp://x:1"])
    assert result.exit_code == 2 and "--executor dask" in result.stderr
