"""ifpp-econ calibrate: SSDA903 episodes → local care dynamics (synthetic data only)."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ifpp_econ.cli import main
from ifpp_econ.exceptions import LocalDataError
from ifpp_econ.inputs import schema
from ifpp_econ.local_data.care_dynamics import Options, estimate
from ifpp_econ.local_data.ssda903 import DAYS_PER_MONTH, clean, parse_dates, read_returns
from ifpp_econ.testing.synthetic903 import SyntheticConfig, simulate, write_returns

BANDS = ["0-4", "5-10", "11-17"]
DEFAULTS = {p["name"]: p["value"] for p in schema.PARAMETERS}
CARE_PARAMETERS = [f"{k}_{b}" for k in ("reunify", "permanence") for b in ("0_6m", "6_12m", "12_24m", "24m_plus")]
ALL_PARAMETERS = CARE_PARAMETERS + ["reentry_0_3m", "reentry_3_12m", "reentry_12m_plus"]


def calibrated(synth, options=None, **clean_options):
    return estimate(clean(synth.as_returns(), **clean_options), options or Options(bootstrap=0), DEFAULTS, BANDS)


def row(cal, name):
    return cal.estimates.set_index("parameter").loc[name]


# ---------------------------------------------------------------------------------------
# Recovering known rates
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_intervals_cover_the_true_monthly_probabilities_in_90_percent_of_20_seeds():
    covered = []
    for seed in range(20):
        synth = simulate(SyntheticConfig(entrants_per_year=600, years=5), seed=seed)
        assert synth.n_children >= 5000
        est = calibrated(synth, Options(bootstrap=200, seed=seed)).estimates.set_index("parameter")
        truth = pd.Series(synth.truth)[est.index]
        covered.append((est["low"] <= truth) & (truth <= est["high"]))
    rate = pd.concat(covered, axis=1).mean(axis=1)
    assert sorted(rate.index) == sorted(ALL_PARAMETERS)
    assert (rate >= 0.9).all(), rate.to_dict()


@pytest.mark.slow
def test_entrant_placement_mix_and_age_shares_match_the_simulated_ones():
    synth = simulate(SyntheticConfig(entrants_per_year=600), seed=11)
    cal = calibrated(synth)
    mix = cal.mix.pivot(index="band", columns="placement_type", values="share")
    assert np.allclose(mix.sum(axis=1), 1.0)
    assert (mix - synth.true_mix.loc[mix.index, mix.columns]).abs().max().max() < 0.04
    ages = cal.age_shares.set_index("band")["share"]
    assert abs(ages - pd.Series(synth.true_age_shares)).max() < 0.03
    assert cal.age_shares["share"].sum() == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------
# The guards matter: switching each off visibly biases a named estimate
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth5():
    return simulate(SyntheticConfig(entrants_per_year=600), seed=5)


@pytest.mark.slow
def test_leaving_in_short_breaks_inflates_early_reunification_and_reentry(synth5):
    good, bad = calibrated(synth5), calibrated(synth5, keep_short_breaks=True)
    for name in ("reunify_0_6m", "reentry_0_3m"):
        truth = synth5.truth[name]
        assert row(good, name)["low"] <= truth <= row(good, name)["high"]
        assert row(bad, name)["low"] > 2 * truth  # short breaks end in a "return home" within days
    assert good.counts["short-break episodes (LS V3/V4) excluded"] > 0


@pytest.mark.slow
def test_treating_episodes_as_entries_understates_early_reunification(synth5):
    good, bad = calibrated(synth5), calibrated(synth5, episodes_as_periods=True)
    truth = synth5.truth["reunify_0_6m"]
    assert row(good, "reunify_0_6m")["low"] <= truth <= row(good, "reunify_0_6m")["high"]
    assert row(bad, "reunify_0_6m")["high"] < 0.75 * truth  # placement moves restart the clock of long stayers


@pytest.mark.slow
def test_dropping_left_truncated_periods_overstates_exits_after_24_months():
    # exits slow down after 4 years in care; 10 years of returns, the default window is the last 5
    synth = simulate(SyntheticConfig(entrants_per_year=400, years=10, late_factor=0.25), seed=5)
    cleaned = clean(synth.as_returns())
    good = estimate(cleaned, Options(bootstrap=0), DEFAULTS, BANDS)
    bad = estimate(cleaned, Options(bootstrap=0, drop_left_truncated=True), DEFAULTS, BANDS)
    for name in ("reunify_24m_plus", "permanence_24m_plus"):
        truth = synth.truth[name]
        assert row(good, name)["low"] <= truth <= row(good, name)["high"]
        assert row(bad, name)["low"] > truth * 1.3, (name, row(bad, name)["low"], truth)


# ---------------------------------------------------------------------------------------
# Episodes → periods → exposure, on a hand-made return
# ---------------------------------------------------------------------------------------
EPISODES_2020 = """CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC
A,01/10/2019,S,C2,N1,U1,PR1,01/12/2019,X1
A,01/12/2019,P,C2,N1,T1,PR1,03/12/2019,X1
A,03/12/2019,T,C2,N1,U4,PR4,01/03/2020,E4A
B,01/05/2019,S,V3,N1,K2,PR1,03/05/2019,E4A
C,01/02/2020,S,V2,N1,U4,PR1,,
D,01/03/2020,S,V2,N1,R1,PR1,,
"""
EPISODES_2021 = """CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC
A,01/07/2020,S,C2,N1,U5,PR1,,
C,01/05/2020,P,V2,N1,P1,PR1,15/08/2020,e4a
D,01/03/2020,S,V2,N1,R1,PR1,15/06/2020,E45
"""
HEADER = """CHILD,SEX,DOB,ETHNIC
A,1,2010-01-01,WBRI
B,2,2012-01-01,WBRI
C,1,2005-01-01,WBRI
D,2,2002-06-15,WBRI
"""


@pytest.fixture
def small(tmp_path):
    paths = []
    for name, text in (("episodes_2020.csv", EPISODES_2020), ("episodes_2021.csv", EPISODES_2021),
                       ("header.csv", HEADER)):
        (tmp_path / name).write_text(text)
        paths.append(tmp_path / name)
    return paths


def _days(a, b):
    return (pd.Timestamp(b) - pd.Timestamp(a)).days / DAYS_PER_MONTH


def test_periods_exposure_and_events_of_a_hand_made_return(small):
    cleaned = clean(read_returns(small))
    per = cleaned.periods.set_index("child")
    # A: three episodes (a T1 temporary move inside) are one period ending in E4A, then a re-entry
    assert list(cleaned.periods["child"]) == ["A", "A", "C", "D"]
    a_eps = cleaned.episodes[cleaned.episodes["CHILD"] == "A"]
    assert list(a_eps["ptype"]) == ["kinship", "kinship", "ifa", "la_foster"]  # T1 takes the placement before it
    assert cleaned.counts["short-break episodes (LS V3/V4) excluded"] == 1
    # C: open in 2020 and never closed there; the 2021 return starts a continuation: closed at it (X1)
    assert cleaned.counts["stale open episodes closed at the next episode (X1)"] == 1
    assert per.loc["C", "rec"] == "E4A"
    cal = estimate(cleaned, Options(bootstrap=0), DEFAULTS, BANDS)
    est = cal.estimates.set_index("parameter")
    # window 01/04/2019–31/03/2021; D turns 18 on 15/06/2020 and leaves that day: censored at the birthday
    a2 = _days("2020-07-01", "2021-04-01")  # A's second period, open at the window end
    c = _days("2020-02-01", "2020-08-15")
    expected_0_6 = _days("2019-10-01", "2020-03-01") + min(a2, 6) + min(c, 6) + _days("2020-03-01", "2020-06-15")
    assert est.loc["reunify_0_6m", "person_months"] == pytest.approx(expected_0_6)
    assert est.loc["reunify_6_12m", "person_months"] == pytest.approx(a2 - 6 + c - 6)
    assert est.loc["reunify_0_6m", "events"] == 1  # A in month 5
    assert est.loc["reunify_6_12m", "events"] == 1  # C just after 6 months
    assert est.loc["permanence_0_6m", "events"] == 0  # D's E45 falls on the 18th birthday: censored
    assert cal.counts["exits on or after the 18th birthday in the window (censored)"] == 1
    # re-entry: A home 01/03/2020, back 01/07/2020 (4 months); C home 15/08/2020, censored at the window end
    assert est.loc["reentry_0_3m", "person_months"] == pytest.approx(3 + 3)
    assert est.loc["reentry_3_12m", "events"] == 1
    assert est.loc["reentry_3_12m", "person_months"] == pytest.approx(
        _days("2020-03-01", "2020-07-01") - 3 + _days("2020-08-15", "2021-04-01") - 3)


def test_dates_in_every_format_returns_use():
    got = parse_dates(pd.Series(["31/03/2024", "2024-03-31", "2024-03-31 00:00:00", "", "03/2008"]), allow_month=True)
    assert list(got[:3]) == [pd.Timestamp("2024-03-31")] * 3
    assert pd.isna(got[3]) and got[4] == pd.Timestamp("2008-03-15")


def test_dfe_and_pooled_files_give_the_same_estimates(tmp_path):
    synth = simulate(SyntheticConfig(entrants_per_year=150), seed=2)
    dfe = write_returns(synth, tmp_path / "dfe", "dfe")
    pooled = write_returns(synth, tmp_path / "pooled", "pooled")
    a = estimate(clean(read_returns(dfe["episodes"], dfe["header"], dfe["uasc"])), Options(bootstrap=50), DEFAULTS, BANDS)
    b = estimate(clean(read_returns(pooled["episodes"], pooled["header"], pooled["uasc"])), Options(bootstrap=50),
                 DEFAULTS, BANDS)
    pd.testing.assert_frame_equal(a.estimates, b.estimates)
    pd.testing.assert_frame_equal(a.mix, b.mix)


def test_shrinkage_reports_both_values_and_moves_towards_the_default():
    synth = simulate(SyntheticConfig(entrants_per_year=40, reunify=(0.08, 0.025, 0.012, 0.006)), seed=4)
    cal = calibrated(synth, Options(bootstrap=0, shrink_months=500))
    r = row(cal, "reunify_0_6m")
    assert r["default"] < r["shrunk"] < r["probability"]
    assert r["value"] == r["shrunk"] and r["low"] <= r["value"] <= r["high"]


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def returns_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("903")
    write_returns(simulate(SyntheticConfig(entrants_per_year=200), seed=7), folder)
    return folder


def _files(folder):
    return sorted(str(p) for p in Path(folder).glob("*.csv"))


def _digest(paths):
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def first_run(returns_dir, tmp_path_factory, default_workbook_path):
    """One calibration shared by the tests below: (output workbook, JSON, input digests before, after)."""
    files = _files(returns_dir)
    before = _digest(files + [str(default_workbook_path)])
    out = tmp_path_factory.mktemp("calibrated") / "local.xlsx"
    res = CliRunner().invoke(main, ["calibrate", *files, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout), before, _digest(files + [str(default_workbook_path)])


@pytest.mark.slow
def test_calibrate_writes_a_workbook_that_validate_run_and_psa_accept(first_run, tmp_path):
    from openpyxl import load_workbook

    out, data, before, after = first_run
    assert data["workbook"] == str(out) and Path(data["report"]).exists()
    assert after == before  # the 903 files and the input workbook are untouched
    runner = CliRunner()
    for args in (["validate", str(out)], ["run", str(out), "--out", str(tmp_path / "run")],
                 ["psa", str(out), "-n", "200", "--no-evppi", "--out", str(tmp_path / "psa")]):
        res = runner.invoke(main, args)
        assert res.exit_code == 0, res.output
    wb = load_workbook(out, data_only=True)
    ws = wb["Parameters"]
    head = {c.value: c.column for c in ws[1]}
    rows = {ws.cell(r, head["name"]).value: r for r in range(2, ws.max_row + 1)}
    for kind in ("reunify", "permanence", "reentry"):  # every row of each kind local: the multipliers are fixed at 1
        r = rows[f"care_multiplier_{kind}"]
        assert ws.cell(r, head["distribution"]).value == "fixed" and ws.cell(r, head["value"]).value == 1
    for name in ALL_PARAMETERS:
        r = rows[name]
        assert ws.cell(r, head["status"]).value == "L"
        assert ws.cell(r, head["distribution"]).value == "beta_alpha_beta"
        source = ws.cell(r, head["source"]).value
        assert "episodes_2024.csv" in source and "window 01/04/2019–31/03/2024" in source and "person-months" in source
    mix = pd.read_excel(out, sheet_name="Placement mix")
    assert np.allclose(mix[BANDS].sum(), 1.0)
    folder = out.parent / "local_calibration"
    for name in ("report.html", "estimates.csv", "counts.csv", "checks.csv", "cumulative_incidence.png",
                 "cumulative_incidence.svg", "reentry.png", "placement_mix.svg", "leavers_home.png", "manifest.json"):
        assert (folder / name).exists(), name
    checks = pd.read_csv(folder / "checks.csv")
    assert "share of leavers returning home" in set(checks["check"])


@pytest.mark.slow
def test_a_repeated_run_gives_identical_output(returns_dir, first_run, tmp_path):
    one = first_run[0]
    two = tmp_path / "two.xlsx"
    assert CliRunner().invoke(main, ["calibrate", *_files(returns_dir), "--out", str(two)]).exit_code == 0
    for table in ("estimates.csv", "placement_mix.csv", "age_shares.csv", "counts.csv", "checks.csv"):
        assert (one.parent / "local_calibration" / table).read_bytes() == (tmp_path / "two_calibration" / table).read_bytes()
    a, b = (pd.read_excel(path, sheet_name=None) for path in (one, two))
    for sheet in a:
        pd.testing.assert_frame_equal(a[sheet], b[sheet])


@pytest.mark.slow
def test_outputs_are_never_overwritten_without_force_and_never_the_input(returns_dir, first_run, tmp_path,
                                                                        default_workbook_path):
    files = _files(returns_dir)
    runner = CliRunner()
    out = tmp_path / "local.xlsx"
    out.write_bytes(first_run[0].read_bytes())
    res = runner.invoke(main, ["calibrate", *files, "--out", str(out)])
    assert res.exit_code == 2 and "--force" in res.output
    assert out.read_bytes() == first_run[0].read_bytes()
    assert runner.invoke(main, ["calibrate", *files, "--out", str(out), "--force"]).exit_code == 0
    copy = tmp_path / "mine.xlsx"
    copy.write_bytes(Path(default_workbook_path).read_bytes())
    res = runner.invoke(main, ["calibrate", *files, "--workbook", str(copy), "--out", str(copy), "--force"])
    assert res.exit_code == 2 and "never overwritten" in res.output
    assert copy.read_bytes() == Path(default_workbook_path).read_bytes()


BAD = {
    "missing column": ("CHILD,DECOM,RNE,LS,PLACE,DEC\nA,01/04/2020,S,C2,U1,\n", ["bad.csv", "missing column(s) REC"]),
    "bad date": ("CHILD,DECOM,RNE,LS,PLACE,DEC,REC\nA,31/02/2020,S,C2,U1,,\n",
                 ["bad.csv: row 2, column DECOM", "'31/02/2020'"]),
    "DEC before DECOM": ("CHILD,DECOM,RNE,LS,PLACE,DEC,REC\nA,01/04/2020,S,C2,U1,01/03/2020,E4A\n",
                         ["bad.csv: row 2, column DEC", "before it starts"]),
    "overlap": ("CHILD,DECOM,RNE,LS,PLACE,DEC,REC\nA,01/04/2020,S,C2,U1,01/05/2020,E4A\nA,01/04/2020,S,C2,K2,,\n",
                ["bad.csv: row 2", "cannot be repaired"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD))
def test_bad_903_files_exit_2_naming_file_row_and_column_and_write_nothing(case, tmp_path):
    text, expected = BAD[case]
    (tmp_path / "bad.csv").write_text(text)
    (tmp_path / "header.csv").write_text("CHILD,DOB\nA,01/01/2010\n")
    out = tmp_path / "local.xlsx"
    res = CliRunner().invoke(main, ["calibrate", str(tmp_path / "bad.csv"), "--header", str(tmp_path / "header.csv"),
                                    "--out", str(out)])
    assert res.exit_code == 2, res.output
    for part in expected:
        assert part in res.output, res.output
    assert "Traceback" not in res.output
    assert not out.exists() and not (tmp_path / "local_calibration").exists()


def test_a_window_with_no_data_is_refused(returns_dir, tmp_path):
    res = CliRunner().invoke(main, ["calibrate", *_files(returns_dir), "--window", "2001-04-01", "2002-03-31",
                                    "--out", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2 and "holds no data" in res.output
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.slow
def test_unknown_codes_are_warned_counted_and_mapped_to_other(small, tmp_path):
    text = EPISODES_2021.replace("A,01/07/2020,S,C2,N1,U5", "A,01/07/2020,S,C2,N1,Q9")
    (small[1]).write_text(text)
    res = CliRunner().invoke(main, ["calibrate", *map(str, small), "--out", str(tmp_path / "x.xlsx"), "--bootstrap", "0"])
    assert res.exit_code == 0, res.output
    assert "warning: 1 episodes with an unknown placement code (counted as other): Q9" in res.output
    counts = pd.read_csv(tmp_path / "x_calibration" / "counts.csv").set_index("item")["count"]
    assert counts["episodes with an unknown placement code (counted as other)"] == 1


def test_calibrate_help():
    res = CliRunner().invoke(main, ["calibrate", "--help"])
    assert res.exit_code == 0 and "--window" in res.output and "--header" in res.output


def test_reader_names_a_file_that_is_not_a_903_table(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(LocalDataError, match="notes.csv: not a 903 Episodes"):
        read_returns([tmp_path / "notes.csv"])


def test_a_pooled_file_without_year_is_refused(tmp_path):
    (tmp_path / "pooled.csv").write_text("CHILD,DECOM,RNE,LS,PLACE,DEC,REC\nA,01/04/2019,S,C2,U1,01/05/2019,E4A\n"
                                         "A,01/04/2021,S,C2,U1,01/05/2021,E4A\n")
    (tmp_path / "header.csv").write_text("CHILD,DOB\nA,01/01/2010\n")
    with pytest.raises(LocalDataError, match="pooled.csv: episodes end in collection years 2020–2022 but there is no YEAR"):
        read_returns([tmp_path / "pooled.csv", tmp_path / "header.csv"])


def test_xlsx_returns_with_real_date_cells_read_like_csv(small, tmp_path):
    xlsx = []
    for path in small:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        for col in ("DECOM", "DEC", "DOB"):
            if col in df.columns:
                df[col] = parse_dates(df[col])  # real Excel dates, not text
        xlsx.append(tmp_path / f"{path.stem}.xlsx")
        df.to_excel(xlsx[-1], index=False)
    from_csv, from_xlsx = clean(read_returns(small)), clean(read_returns(xlsx))
    pd.testing.assert_frame_equal(from_csv.periods, from_xlsx.periods)


def test_a_stale_open_episode_before_a_new_start_is_censored_at_its_returns_year_end(tmp_path):
    (tmp_path / "e2020.csv").write_text("CHILD,DECOM,RNE,LS,PLACE,DEC,REC\nE,01/01/2020,S,C2,U1,,\n")
    (tmp_path / "e2021.csv").write_text("CHILD,DECOM,RNE,LS,PLACE,DEC,REC\nE,01/09/2020,S,C2,U1,,\n")
    (tmp_path / "header.csv").write_text("CHILD,DOB\nE,01/01/2010\n")
    cleaned = clean(read_returns([tmp_path / "e2020.csv", tmp_path / "e2021.csv", tmp_path / "header.csv"]))
    assert cleaned.counts["stale open episodes censored at their return's 31 March"] == 1
    assert cleaned.periods["end"].iloc[0] == pd.Timestamp("2020-04-01") and pd.isna(cleaned.periods["end"].iloc[1])
    assert list(cleaned.periods["rec"]) == ["", ""]  # censored, not an exit


@pytest.mark.slow
def test_exit_and_population_options_move_events_and_periods_as_stated():
    synth = simulate(SyntheticConfig(entrants_per_year=150), seed=9)
    cleaned = clean(synth.as_returns())
    full = estimate(cleaned, Options(bootstrap=0), DEFAULTS, BANDS)
    base = full.estimates.set_index("parameter")
    e13 = estimate(cleaned, Options(bootstrap=0, e13="permanence"), DEFAULTS, BANDS).estimates.set_index("parameter")
    moved = base.loc[CARE_PARAMETERS[:4], "events"].to_numpy() - e13.loc[CARE_PARAMETERS[:4], "events"].to_numpy()
    assert moved.sum() > 0  # E13 exits now count as other permanence, band by band
    assert np.array_equal(e13.loc[CARE_PARAMETERS[4:], "events"].to_numpy() - base.loc[CARE_PARAMETERS[4:], "events"].to_numpy(),
                          moved)
    censored = estimate(cleaned, Options(bootstrap=0, other_exits="censored"), DEFAULTS, BANDS).estimates
    assert (censored.set_index("parameter").loc[CARE_PARAMETERS[4:], "events"] <= base.loc[CARE_PARAMETERS[4:], "events"]).all()
    neglect = estimate(cleaned, Options(bootstrap=0, cin=("N1",)), DEFAULTS, BANDS)
    assert 0 < neglect.counts["periods used"] < full.counts["periods used"]
    yj = estimate(cleaned, Options(bootstrap=0, exclude_youth_justice=True), DEFAULTS, BANDS)
    assert "periods wholly on youth-justice legal statuses J1–J3 (excluded)" in yj.counts


# ---------------------------------------------------------------------------------------
# Issue 24: small authorities, thin cells and option ranges
# ---------------------------------------------------------------------------------------
def _workbook_rows(path):
    from openpyxl import load_workbook

    ws = load_workbook(path, data_only=True)["Parameters"]
    head = {c.value: c.column for c in ws[1]}
    return {ws.cell(r, head["name"]).value: {k: ws.cell(r, c).value for k, c in head.items()}
            for r in range(2, ws.max_row + 1)}


@pytest.mark.slow
def test_shrinking_a_small_authority_draws_the_raw_estimate_and_the_shrunk_value(tmp_path):
    write_returns(simulate(SyntheticConfig(entrants_per_year=8, years=8), seed=1), tmp_path / "903")
    out = tmp_path / "small.xlsx"
    res = CliRunner().invoke(main, ["calibrate", *_files(tmp_path / "903"), "--shrink", "200", "--out", str(out)])
    assert res.exit_code == 0, res.output
    folder = tmp_path / "small_calibration"
    est = pd.read_csv(folder / "estimates.csv")
    outside = (est["probability"] < est["low"]) | (est["probability"] > est["high"])
    assert outside.any()  # the case that broke the chart: a raw estimate outside the shrunk interval written
    assert (folder / "estimates.png").stat().st_size > 0 and (folder / "estimates.svg").exists()
    svg = (folder / "estimates.svg").read_text()
    assert "local estimate (95% interval)" in svg and "shrunk towards the workbook value: written" in svg
    assert "written" in (folder / "report.html").read_text()


@pytest.fixture(scope="module")
def thin_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("thin")
    write_returns(simulate(SyntheticConfig(entrants_per_year=8, years=5), seed=11), folder)
    return folder


@pytest.mark.slow
def test_thin_cells_keep_the_workbook_value_and_are_listed_everywhere(thin_dir, tmp_path, default_workbook_path):
    out = tmp_path / "thin.xlsx"
    res = CliRunner().invoke(main, ["calibrate", *_files(thin_dir), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["minimum_person_months"] == 100 and data["minimum_events"] == 5
    thin = {c["parameter"]: c for c in data["thin_cells"]}
    est = {r["parameter"]: r for r in data["estimates"]}
    assert thin, "this small authority has thin cells"
    assert set(thin) == {p for p, r in est.items() if 0 < r["person_months"] and (r["person_months"] < 100 or r["events"] < 5)}
    before, after = _workbook_rows(default_workbook_path), _workbook_rows(out)
    report = (tmp_path / "thin_calibration" / "report.html").read_text()
    for name, cell in thin.items():
        assert cell["action"] == "kept workbook value" and cell["events"] == est[name]["events"]
        assert cell["value_written"] == pytest.approx(before[name]["value"])
        assert after[name]["value"] == before[name]["value"] and after[name]["status"] == before[name]["status"] != "L"
        assert after[name]["distribution"] == before[name]["distribution"]
        assert f"warning: {name}: " in res.stderr and "kept the workbook's value" in res.stderr
        assert name in report
    written = [p for p, r in est.items() if r["written"]]
    assert written and all(after[p]["status"] == "L" for p in written)
    assert all(p not in thin for p in written)
    # a multiplier whose kind has kept rows stays as in the workbook: it is their only PSA spread
    kept = {c["parameter"]: c for c in data["changes"] if c["action"] == "kept"}
    assert set(thin) <= set(kept)
    assert written == ["reunify_0_6m"] and "care_multiplier_reunify" in kept
    assert after["care_multiplier_reunify"] == before["care_multiplier_reunify"]
    assert "care_multiplier_reunify stays as in the workbook" in after["reunify_0_6m"]["notes"]


@pytest.mark.slow
def test_with_shrinkage_thin_cells_are_written_shrunk_with_a_beta_that_has_no_spike_at_zero(thin_dir, tmp_path):
    out = tmp_path / "shrunk.xlsx"
    res = CliRunner().invoke(main, ["calibrate", *_files(thin_dir), "--shrink", "200", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    thin = {c["parameter"]: c for c in data["thin_cells"]}
    assert thin and {c["action"] for c in thin.values()} == {"shrunk"}
    assert any(c["events"] <= 1 for c in thin.values())  # the case that gave U-shaped betas
    rows = _workbook_rows(out)
    for name, cell in thin.items():
        r = rows[name]
        assert r["status"] == "L" and r["value"] == pytest.approx(cell["value_written"], abs=1e-7)
        assert "shrunk" in r["notes"] and r["distribution"] == "beta_alpha_beta" and r["param_a"] >= 1
        assert f"warning: {name}: " in res.stderr
    assert CliRunner().invoke(main, ["validate", str(out)]).exit_code == 0


@pytest.mark.parametrize("option, value", [("--seed", "-1"), ("--seed", "4294967296"), ("--bootstrap", "-1"),
                                           ("--bootstrap", "10001"), ("--baseline-bootstrap", "10001")])
def test_calibrate_option_ranges_are_checked_up_front(small, tmp_path, option, value):
    res = CliRunner().invoke(main, ["calibrate", *map(str, small), option, value, "--out", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '{option}'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.slow
def test_the_largest_seed_is_accepted(small, tmp_path):
    res = CliRunner().invoke(main, ["calibrate", *map(str, small), "--seed", "4294967295", "--bootstrap", "20",
                                    "--out", str(tmp_path / "x.xlsx")])
    assert res.exit_code == 0, res.output
