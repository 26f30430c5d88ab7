"""Issue 27: the usual-care baseline risk from the CIN census linked to SSDA903 (synthetic and hand-made data only)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ifpp_econ.exceptions import LocalDataError
from ifpp_econ.inputs import schema
from ifpp_econ.local_data.baseline_risk import (
    HORIZONS,
    PROXY_CAVEAT,
    _proxy_families,
    aalen_johansen,
    cif_at,
    estimate_baseline,
)
from ifpp_econ.local_data.cin_census import read_cin
from ifpp_econ.local_data.ssda903 import clean, read_returns
from ifpp_econ.testing.synthetic_cin import LinkedConfig, simulate_linked

DEFAULTS = {p["name"]: p["value"] for p in schema.PARAMETERS}
RISKS = list(HORIZONS)
RECOVERED = [*RISKS, "children_placed_per_family_placement", "children_per_family"]
TODAY = pd.Timestamp("2026-12-01")


def _run(files, cohort="cpp_start", families=True, **kw):
    cin = read_cin(files["cin"], today=TODAY)
    returns = read_returns(files["episodes"], files["header"], files["uasc"])
    fam = files["families"][0] if families is True else families
    return estimate_baseline(cin, clean(returns), cohort=cohort, families=fam, uasc=returns.uasc["CHILD"],
                             today=TODAY, **kw)


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    synth = simulate_linked(LinkedConfig(), seed=1)
    root = tmp_path_factory.mktemp("linked")
    xml, csv = synth.write(root / "xml", "xml"), synth.write(root / "csv", "csv")
    return synth, xml, csv, _run(xml), _run(csv)


# ---------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------
def test_aalen_johansen_matches_a_hand_computed_example():
    # t=1 entry (n 6); t=2 competing + a censoring at the same time (n 5: ties, events first); t=3 entry (n 3);
    # t=4 entry (n 2); t=5 censored. S: 5/6, 2/3, 4/9, 2/9. CIF1: 1/6, 1/6, 1/6 + 2/3·1/3, + 4/9·1/2.
    time = [1, 2, 2, 3, 4, 5]
    status = [1, 2, 0, 1, 1, 0]
    t, cif1, cif2, at_risk = aalen_johansen(time, status)
    assert list(t) == [1, 2, 3, 4, 5]
    assert np.allclose(cif1, [1 / 6, 1 / 6, 7 / 18, 11 / 18, 11 / 18])
    assert np.allclose(cif2, [0, 1 / 6, 1 / 6, 1 / 6, 1 / 6])
    assert list(at_risk) == [6, 5, 3, 2, 1]
    assert cif_at(t, cif1, 0.5) == 0 and cif_at(t, cif1, 3.9) == pytest.approx(7 / 18)
    # weights: a replicate of ones is the plain estimate; integer weights are duplicated subjects
    w = np.array([[1, 1, 1, 1, 1, 1], [2, 1, 1, 1, 3, 1]], float)
    _, b1, b2, _ = aalen_johansen(time, status, w)
    assert np.allclose(b1[0], cif1) and np.allclose(b2[0], cif2)
    dup_t = [1, 1, 2, 2, 3, 4, 4, 4, 5]
    dup_s = [1, 1, 2, 0, 1, 1, 1, 1, 0]
    _, d1, d2, _ = aalen_johansen(dup_t, dup_s)
    assert np.allclose(b1[1], d1) and np.allclose(b2[1], d2)


def test_aalen_johansen_agrees_with_lifelines_when_installed():
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(3)
    time = rng.uniform(1, 400, 500)  # no ties: lifelines would break them with random jitter
    status = rng.choice(3, 500, p=[0.3, 0.5, 0.2])
    t, cif1, _, _ = aalen_johansen(time, status)
    fitter = lifelines.AalenJohansenFitter(calculate_variance=False).fit(time, status, event_of_interest=1)
    theirs = fitter.cumulative_density_.iloc[:, 0]
    for h in (30, 100, 250, 399):
        assert cif_at(t, cif1, h) == pytest.approx(float(theirs[theirs.index <= h].iloc[-1]), abs=1e-9)


# ---------------------------------------------------------------------------------------
# Recovering a known truth
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_estimates_recover_a_truth_far_from_the_workbook(linked):
    synth, _, _, est, _ = linked
    rows = est.estimates.set_index("parameter")
    for name in RECOVERED:
        r, truth = rows.loc[name], synth.truth[name]
        assert not r["withheld"] and r["status"] == "L"
        assert abs(truth - DEFAULTS[name]) >= 5 * r["se"], (name, truth, DEFAULTS[name], r["se"])
        assert abs(r["value"] - truth) <= 3 * r["se"], (name, r["value"], truth, r["se"])
        assert r["low"] <= r["value"] <= r["high"]
    after = rows.loc["annual_risk_after_24m"]
    assert abs(after["value"] - synth.truth["annual_risk_after_24m"]) <= 3 * after["se"]
    # the risks are ordered and their PSA betas are moment-matched to the estimate and its bootstrap SE
    values = rows.loc[RISKS, "value"].to_numpy()
    assert np.all(np.diff(values) >= 0)
    for name in RISKS:
        a, b, p, se = rows.loc[name, ["param_a", "param_b", "value", "se"]]
        assert rows.loc[name, "distribution"] == "beta_alpha_beta"
        assert a / (a + b) == pytest.approx(p) and np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))) == pytest.approx(se)
    k = rows.loc["children_placed_per_family_placement"]
    assert k["distribution"] == "gamma_mean_se" and k["param_a"] == pytest.approx(k["se"])
    assert 1 <= k["value"] <= rows.loc["children_per_family", "value"]
    assert "cohort cpp_start" in rows.loc["risk_12m", "source"] and "cin_2020.xml" in rows.loc["risk_12m", "source"]
    # the curve passes through the risks and its interval brackets it
    curve = est.curve.set_index("months")
    assert curve.loc[12, "cif"] == pytest.approx(rows.loc["risk_12m", "value"], abs=0.01)
    assert (curve["low"] <= curve["cif"] + 1e-12).all() and (curve["cif"] <= curve["high"] + 1e-12).all()
    assert curve["cif"].is_monotonic_increasing


@pytest.mark.slow
def test_every_family_gets_its_simulated_follow_up_from_the_files(linked):
    synth, _, _, est, _ = linked
    truth = synth.families[synth.families["in_window"]].set_index("family")
    got = est.families.set_index("family")
    assert sorted(got.index) == sorted(truth.index)
    got = got.loc[truth.index]
    assert (got["t0"] == pd.Timestamp("1970-01-01") + pd.to_timedelta(truth["t0"], unit="D")).all()
    assert (got["size"].to_numpy() == truth["size"].to_numpy()).all()
    assert (got["time"].to_numpy() == truth["time"].to_numpy()).all()
    assert (got["status"].to_numpy() == truth["status"].to_numpy()).all()
    assert set(truth["status"]) == {0, 1, 2}


@pytest.mark.slow
def test_xml_and_csv_inputs_give_identical_results(linked):
    _, _, _, from_xml, from_csv = linked
    pd.testing.assert_frame_equal(from_xml.estimates.drop(columns="source"), from_csv.estimates.drop(columns="source"))
    pd.testing.assert_frame_equal(from_xml.curve, from_csv.curve)
    pd.testing.assert_frame_equal(from_xml.families, from_csv.families)
    assert from_xml.link_rate == from_csv.link_rate


@pytest.mark.slow
def test_counts_match_the_simulated_authority(linked):
    synth, xml, _, est, _ = linked
    d0, d1 = synth.data_start, synth.data_end
    fam = synth.families[synth.families["in_window"]]
    assert est.counts["families in the cohort"] == len(fam)
    assert est.counts["children in the cohort"] == fam["size"].sum()
    kids = synth.children
    in_care = kids[(kids["kind"] == "in_care") & kids["family"].isin(fam["family"])]
    assert est.counts["children in care at cohort entry (open 903 period; excluded)"] == len(in_care)
    uasc_plans = synth.cpp.merge(synth.referrals[["rid", "LAchildID"]], on="rid")
    uasc_plans = uasc_plans[uasc_plans["LAchildID"].isin(synth.uasc) & (uasc_plans["start"] >= d0) & (uasc_plans["start"] < d1)]
    assert est.counts["UASC children excluded (903 UASC table or assessment factor 9A)"] == uasc_plans["LAchildID"].nunique()
    # link rate: every 903 child has a CIN record except the unlinked ones (identifiers starting X)
    per = clean(read_returns(xml["episodes"], xml["header"], xml["uasc"])).periods
    inside = per[(per["start"] >= pd.Timestamp("1970-01-01") + pd.Timedelta(days=d0))
                 & (per["start"] < pd.Timestamp("1970-01-01") + pd.Timedelta(days=d1))]
    assert est.link_rate == pytest.approx(1 - inside["child"].str.startswith("X").mean())
    assert 0.9 < est.link_rate < 1


# ---------------------------------------------------------------------------------------
# Families: file, proxy, cohort list
# ---------------------------------------------------------------------------------------
def test_proxy_families_join_children_through_shared_keys():
    events = pd.DataFrame({"LAchildID": ["A", "B", "B", "C", "D", "E"], "key": ["k1", "k1", "k2", "k2", "k3", "k4"]})
    fam = _proxy_families(events)
    assert fam["A"] == fam["B"] == fam["C"]  # A–B on k1, B–C on k2: one family (union-find)
    assert len({fam["A"], fam["D"], fam["E"]}) == 3


@pytest.mark.slow
def test_families_file_against_the_census_proxy(linked):
    synth, xml, _, with_file, _ = linked
    proxy = _run(xml, families=None)
    assert with_file.family_source == "families file" and proxy.family_source == "proxy"
    assert PROXY_CAVEAT in proxy.warnings and PROXY_CAVEAT not in with_file.warnings
    # the proxy reports its clusters; separately referred siblings are split, so it differs from the truth
    assert proxy.counts["proxy clusters (families)"] == proxy.clusters["families"].sum() == len(proxy.families)
    assert proxy.counts["largest proxy cluster (children)"] == proxy.clusters["size"].max()
    assert proxy.counts["proxy clusters (families)"] != with_file.counts["families in the cohort"]
    # a split-off sibling whose own plan starts after the family's first entry is in care by then: excluded
    assert 0 <= with_file.counts["children in the cohort"] - proxy.counts["children in the cohort"] <= 10
    p, f = proxy.estimates.set_index("parameter"), with_file.estimates.set_index("parameter")
    assert abs(p.loc["children_per_family", "value"] - synth.truth["children_per_family"]) < 0.15
    for name in RISKS:
        assert abs(p.loc[name, "value"] - f.loc[name, "value"]) < 0.03


@pytest.mark.slow
def test_a_cohort_list_with_family_ids_reproduces_the_families_file(linked, tmp_path):
    synth, xml, _, with_file, _ = linked
    plans = synth.cpp.merge(synth.referrals[["rid", "LAchildID"]], on="rid").merge(synth.children, on="LAchildID")
    plans = plans[(plans["kind"] == "cohort")].sort_values("start").drop_duplicates("LAchildID")
    start = pd.Timestamp("1970-01-01") + pd.to_timedelta(plans["start"], unit="D")
    listing = pd.DataFrame({"child_id": plans["LAchildID"], "referral_date": start.dt.strftime("%d/%m/%Y"),
                            "family_id": plans["family"]})
    path = tmp_path / "panel.csv"
    listing.to_csv(path, index=False)
    est = _run(xml, cohort=f"list:{path}", families=None)
    assert est.family_source == "cohort list"
    pd.testing.assert_frame_equal(est.estimates.drop(columns="source"), with_file.estimates.drop(columns="source"))


# ---------------------------------------------------------------------------------------
# Other cohorts
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_repeat_plan_cohort_is_a_subset_indexed_on_repeat_plans(linked):
    _, xml, _, all_plans, _ = linked
    repeat = _run(xml, cohort="cpp_repeat", bootstrap=0)
    assert 0 < repeat.counts["families in the cohort"] < all_plans.counts["families in the cohort"]
    cin = read_cin(xml["cin"], today=TODAY)
    repeat_starts = set(cin.cpp.loc[cin.cpp["NumberOfPreviousCPP"] >= 1, "CPPstartDate"])
    assert set(repeat.families["t0"]) <= repeat_starts


@pytest.mark.slow
def test_pre_proceedings_cohort_uses_pp_start_dates(tmp_path):
    synth = simulate_linked(LinkedConfig(families_per_year=150, years=4, pre_proceedings_share=0.5), seed=4)
    files = synth.write(tmp_path, "xml")
    est = _run(files, cohort="pre_proceedings", bootstrap=100)
    cin = read_cin(files["cin"], today=TODAY)
    assert cin.has_pre_proceedings and len(cin.pre_proceedings)
    assert set(est.families["t0"]) <= set(cin.pre_proceedings["PPStartDate"])
    assert 0 < est.counts["families in the cohort"] < 0.6 * len(synth.families)


# ---------------------------------------------------------------------------------------
# Hand-made returns: deduplication, exclusions, withholding
# ---------------------------------------------------------------------------------------
CIN_COLUMNS = ("LAchildID,PersonBirthDate,CINreferralDate,ReferralNFA,CINclosureDate,ReasonForClosure,S47ActualStartDate,"
               "DateOfInitialCPC,CPPstartDate,CPPendDate,InitialCategoryOfAbuse,NumberOfPreviousCPP")
CIN_2022 = f"""{CIN_COLUMNS},ReferenceDate
A,01/02/2015,01/05/2021,false,,,05/05/2021,01/06/2021,01/06/2021,,NEG,0,31/03/2022
B,01/03/2013,01/05/2021,false,,,05/05/2021,01/06/2021,01/06/2021,,NEG,0,31/03/2022
C,10/10/2016,02/05/2021,false,,,06/05/2021,10/06/2021,10/06/2021,,EMO,0,31/03/2022
D,11/11/2011,03/05/2021,false,,,07/05/2021,20/06/2021,20/06/2021,20/06/2021,PHY,1,31/03/2022
E,12/12/2010,04/05/2021,false,,,08/05/2021,01/07/2021,01/07/2021,,NEG,0,31/03/2022
"""
CIN_2023 = f"""{CIN_COLUMNS},ReferenceDate
A,01/02/2015,01/05/2021,false,,,,,01/06/2021,15/08/2021,NEG,0,31/03/2023
B,01/03/2013,01/05/2021,false,,,,,01/06/2021,15/08/2021,NEG,0,31/03/2023
C,10/10/2016,02/05/2021,false,01/02/2023,RC7,,,10/06/2021,01/12/2022,MUL,0,31/03/2023
E,12/12/2010,04/05/2021,false,,,,,01/07/2021,,NEG,0,31/03/2023
"""
EPISODES = {
    2021: """CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC
E,01/01/2021,S,C2,N1,U4,PR1,01/03/2021,E4A
""",
    2022: """CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC
B,01/01/2021,S,C2,N1,U4,PR1,01/07/2021,X1
B,01/07/2021,P,C2,N1,U5,PR1,,
A,15/08/2021,S,C2,N1,U1,PR1,,
C,09/06/2021,S,V3,N2,K2,PR1,11/06/2021,E4A
D,20/06/2021,S,V2,N1,U4,PR1,,
""",
    2023: """CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC
B,01/07/2021,P,C2,N1,U5,PR1,,
A,15/08/2021,S,C2,N1,U1,PR1,01/09/2021,X1
A,01/09/2021,P,C2,N1,U4,PR4,,
D,20/06/2021,S,V2,N1,U4,PR1,,
""",
}
HEADER = """CHILD,SEX,DOB,ETHNIC
A,1,01/02/2015,WBRI
B,2,01/03/2013,WBRI
C,1,10/10/2016,WBRI
D,2,11/11/2011,WBRI
E,2,12/12/2010,WBRI
"""


@pytest.fixture
def hand(tmp_path):
    (tmp_path / "cin_2022.csv").write_text(CIN_2022)
    (tmp_path / "cin_2023.csv").write_text(CIN_2023)
    for y, text in EPISODES.items():  # a YEAR column: the rows' own dates would put 2022-23 in 2021-22
        lines = text.splitlines()
        (tmp_path / f"episodes_{y}.csv").write_text("\n".join([lines[0] + ",YEAR"] + [f"{r},{y}" for r in lines[1:]]) + "\n")
    (tmp_path / "header.csv").write_text(HEADER)
    return {"cin": [tmp_path / "cin_2022.csv", tmp_path / "cin_2023.csv"],
            "episodes": [tmp_path / f"episodes_{y}.csv" for y in EPISODES], "header": [tmp_path / "header.csv"],
            "uasc": [], "families": [None], "dir": tmp_path}


def test_rows_repeated_across_years_are_deduplicated_keeping_the_latest(hand):
    cin = read_cin(hand["cin"], today=TODAY)
    assert cin.cpp["LAchildID"].tolist() == ["A", "B", "C", "D", "E"]  # one plan each, though A, B, C, E are in both
    plans = cin.cpp.set_index("LAchildID")
    assert plans.loc["A", "CPPendDate"] == pd.Timestamp("2021-08-15")  # end filled in by the later return
    assert plans.loc["C", "InitialCategoryOfAbuse"] == "MUL" and plans.loc["C", "_file"] == "cin_2023.csv"
    assert pd.isna(plans.loc["E", "CPPendDate"]) and plans.loc["D", "_year"] == 2022
    assert plans.loc["A", "DateOfInitialCPC"] == pd.Timestamp("2021-06-01")  # from the S47 row of the same referral
    assert cin.counts["cpp: rows repeated in a later return (latest kept)"] == 4
    assert cin.counts["cpp: CPPendDate filled in by a later return"] == 3
    refs = cin.referrals.set_index("LAchildID")
    assert refs.loc["C", "ReasonForClosure"] == "RC7" and len(cin.referrals) == 5
    conflicts = cin.conflicts.set_index(["LAchildID", "column"])
    c = conflicts.loc[("C", "InitialCategoryOfAbuse")]
    assert (c["earlier"], c["later"], c["earlier_file"], c["later_file"]) == ("EMO", "MUL", "cin_2022.csv", "cin_2023.csv")
    assert ("C", "CPPendDate") not in conflicts.index  # blank → filled is an update, not a conflict
    assert cin.data_start == pd.Timestamp("2021-04-01") and cin.data_end == pd.Timestamp("2023-04-01")


@pytest.mark.slow
def test_synthetic_returns_keep_one_row_per_natural_key(linked):
    _, xml, _, _, _ = linked
    cin = read_cin(xml["cin"], today=TODAY)
    assert cin.counts["cpp: rows repeated in a later return (latest kept)"] > 1000
    assert cin.counts["referrals: CINclosureDate filled in by a later return"] > 1000
    for table, key in ((cin.cpp, "CPPstartDate"), (cin.referrals, "CINreferralDate"), (cin.s47, "S47ActualStartDate")):
        assert not table.duplicated(["LAchildID", key]).any()
    assert not cin.children["LAchildID"].duplicated().any()


def test_children_in_care_at_cohort_entry_are_excluded_and_placement_changes_are_not_entries(hand):
    est = _run(hand, families=None, bootstrap=0)
    fam = est.families.set_index("t0")
    # A and B share a plan; B has been in care since January (a placement change in July) and is excluded
    assert est.counts["children in care at cohort entry (open 903 period; excluded)"] == 1
    ab = fam.loc[pd.Timestamp("2021-06-01")]
    assert (ab["size"], ab["status"], ab["time"], ab["k"]) == (1, 1, 75, 1)  # A enters 15/08; its 01/09 move is not one
    # C: a short break (V3) over its plan start is neither care at entry nor an entry: censored at the data end
    c = fam.loc[pd.Timestamp("2021-06-10")]
    assert (c["size"], c["status"], c["time"]) == (1, 0, (pd.Timestamp("2023-04-01") - pd.Timestamp("2021-06-10")).days)
    # D enters care the day its plan starts (CPPendDate = DECOM): an entry at day 0
    assert (fam.loc[pd.Timestamp("2021-06-20"), "status"], fam.loc[pd.Timestamp("2021-06-20"), "time"]) == (1, 0)
    # E was in care before and went home: kept, counted
    assert fam.loc[pd.Timestamp("2021-07-01"), "status"] == 0
    assert est.counts["cohort children with an earlier period of care that had ended (kept: entries after t0 are re-entries)"] == 1
    assert est.link_rate == 1.0


def test_fewer_than_ten_events_are_withheld_with_the_workbook_value(hand):
    est = _run(hand, families=None, bootstrap=0)
    rows = est.estimates.set_index("parameter")
    assert rows["withheld"].all()
    for name in RISKS:
        assert rows.loc[name, "value"] == DEFAULTS[name] and "fewer than 10" in rows.loc[name, "reason"]
    assert any("risk_12m withheld" in w for w in est.warnings)


def test_withheld_early_risks_stay_ordered_below_estimated_later_ones(tmp_path):
    # few early entries, many late ones: risk_3m and risk_6m are withheld; the workbook's 0.15/0.22 would exceed
    # the local risk_12m, so they are capped at it
    cfg = LinkedConfig(families_per_year=40, years=6, risks=(0.01, 0.02, 0.12, 0.55), no_plan_children_per_year=50)
    files = simulate_linked(cfg, seed=8).write(tmp_path, "csv")
    rows = _run(files, bootstrap=200).estimates.set_index("parameter")
    assert rows.loc["risk_3m", "withheld"] and not rows.loc["risk_24m", "withheld"]
    values = rows.loc[RISKS, "value"].to_numpy()
    assert np.all(np.diff(values) >= 0), values
    assert rows.loc["risk_3m", "value"] <= DEFAULTS["risk_3m"]


@pytest.mark.slow
def test_month_degraded_dates_of_birth_still_link(linked, tmp_path):
    synth, xml, _, with_file, _ = linked
    headers = []
    for p in xml["header"]:
        h = pd.read_csv(p, dtype=str)
        h["DOB"] = h["DOB"].str[3:]  # DD/MM/YYYY → MM/YYYY
        out = tmp_path / p.name
        h.to_csv(out, index=False)
        headers.append(out)
    est = _run({**xml, "header": headers}, bootstrap=0)
    assert est.counts["CIN children linked to 903 on the month of birth (dates degraded to the month)"] > 1000
    assert est.link_rate == with_file.link_rate
    pd.testing.assert_frame_equal(est.families, with_file.families)


# ---------------------------------------------------------------------------------------
# Bad input: every problem with file, row and column
# ---------------------------------------------------------------------------------------
def _problems(exc_info) -> str:
    return "\n".join(exc_info.value.problems)


def test_unknown_cohort(hand):
    with pytest.raises(LocalDataError) as err:
        _run(hand, cohort="everyone", families=None)
    assert "--cohort 'everyone': unknown cohort; allowed: cpp_start, cpp_repeat, pre_proceedings, list:FILE" in _problems(err)


def test_cin_file_without_plan_dates(hand):
    path = hand["dir"] / "cin_2023.csv"
    df = pd.read_csv(path, dtype=str).drop(columns=["CPPstartDate", "CPPendDate"])
    df.to_csv(path, index=False)
    with pytest.raises(LocalDataError) as err:
        _run(hand, families=None)
    text = _problems(err)
    assert f"{path}: column CPPstartDate: no child protection plan dates in this census year (2022-23)" in text
    assert "cin_2022.csv" not in text


def test_no_links_between_cin_and_903_children(hand):
    for p in [*hand["episodes"], *hand["header"]]:
        text = p.read_text().splitlines()
        p.write_text("\n".join([text[0]] + ["Z" + line for line in text[1:]]) + "\n")
    with pytest.raises(LocalDataError) as err:
        _run(hand, families=None)
    assert "link rate 0.0% (0 of 2 903 periods starting inside the CIN coverage" in _problems(err)


def test_dates_in_the_future_plans_ending_before_they_start_unreadable_dates_all_at_once(hand):
    path = hand["dir"] / "cin_2023.csv"
    text = path.read_text().splitlines()
    text[1] = text[1].replace("15/08/2021", "15/08/2029")  # A: plan end in the future (row 2)
    text[2] = text[2].replace("15/08/2021", "15/08/2020")  # B: plan ends before it starts (row 3)
    text[3] = text[3].replace("02/05/2021", "31/02/2021")  # C: no such date (row 4)
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(LocalDataError) as err:
        read_cin(hand["cin"], today=TODAY)
    problems = err.value.problems
    assert f"{path}: row 2, column CPPendDate: 15/08/2029 is in the future (today is 01/12/2026)" in problems
    assert f"{path}: row 3, column CPPendDate: the plan ends (15/08/2020) before it starts (CPPstartDate 01/06/2021)" in problems
    assert (f"{path}: row 4, column CINreferralDate: found '31/02/2021'; expected a date (DD/MM/YYYY or YYYY-MM-DD)"
            in problems)


def test_missing_columns(hand):
    path = hand["dir"] / "cin_2022.csv"
    pd.read_csv(path, dtype=str).drop(columns=["CINreferralDate", "PersonBirthDate"]).to_csv(path, index=False)
    with pytest.raises(LocalDataError) as err:
        read_cin(hand["cin"], today=TODAY)
    text = _problems(err)
    assert f"{path}: row 1, column CINreferralDate: missing" in text and f"{path}: row 1, column PersonBirthDate: missing" in text


def test_xml_that_is_not_a_cin_return(tmp_path):
    other = tmp_path / "school.xml"
    other.write_text("<Message><Header><CollectionDetails><Collection>SCHOOL CENSUS</Collection></CollectionDetails>"
                     "</Header></Message>")
    broken = tmp_path / "broken.xml"
    broken.write_text("<Message><Header>")
    with pytest.raises(LocalDataError) as err:
        read_cin([other, broken])
    text = _problems(err)
    assert (f"{other}: not a CIN census return: expected <Message> with Header/CollectionDetails/Collection = CIN; "
            "found root <Message>, Collection 'SCHOOL CENSUS'") in text
    assert f"{broken}: cannot be read as XML" in text


@pytest.mark.slow
def test_xml_problems_name_the_line_child_and_element(linked, tmp_path):
    _, xml, _, _, _ = linked
    src = xml["cin"][0].read_text()
    at = src.index("<CPPendDate>")
    start = src.index("<CPPstartDate>", src.rindex("<ChildProtectionPlans>", 0, at)) + len("<CPPstartDate>")
    bad = src[:start] + "2020-13-45" + src[start + 10:]
    path = tmp_path / "cin_2020.xml"
    path.write_text(bad)
    with pytest.raises(LocalDataError) as err:
        read_cin([path], today=TODAY)
    line = bad[:start].count("\n") + 1
    child = bad[:start].count("<Child>")
    ident = bad[bad.rindex("<LAchildID>", 0, start) + 11: bad.rindex("</LAchildID>", 0, start)]
    assert (f"{path}: line {line}, Child {child} (LAchildID {ident}), element CINdetails/ChildProtectionPlans/CPPstartDate: "
            "found '2020-13-45'; expected a date (DD/MM/YYYY or YYYY-MM-DD)") in err.value.problems


@pytest.mark.slow
def test_namespaced_xml_is_read_like_the_plain_one(linked):
    _, xml, _, _, _ = linked
    texts = [p.read_text()[:400] for p in xml["cin"]]
    assert sum('xmlns="' in t for t in texts) == 1
    cin = read_cin(xml["cin"], today=TODAY)
    assert sorted(cin.returns["year"]) == list(range(2020, 2026))


def test_pre_proceedings_cohort_refused_without_the_block(hand):
    with pytest.raises(LocalDataError) as err:
        _run(hand, cohort="pre_proceedings", families=None)
    text = _problems(err)
    assert f"{hand['cin'][0]}: no PreProceedingsandFGDM block (PPStartDate) in census year 2021-22" in text
    assert "--cohort list:FILE" in text


@pytest.mark.slow
def test_bad_families_and_cohort_list_files(hand):
    fam = hand["dir"] / "families.csv"
    fam.write_text("LAchildID,FamilyID\nA,F1\nB,F1\nA,F2\nC,\n")
    with pytest.raises(LocalDataError) as err:
        _run(hand, families=fam)
    text = _problems(err)
    assert f"{fam}: row 5, column FamilyID: empty" in text
    assert f"{fam}: row 4, column FamilyID: child A is listed in more than one family (F2)" in text
    lst = hand["dir"] / "panel.csv"
    lst.write_text("child_id,referral_date\nA,01/06/2021\nB,June 2021\n")
    with pytest.raises(LocalDataError) as err:
        _run(hand, cohort=f"list:{lst}", families=None)
    assert f"{lst}: row 3, column referral_date: found 'June 2021'; expected a date" in _problems(err)


# ---------------------------------------------------------------------------------------
# The calibrate command
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_linked(tmp_path_factory):
    synth = simulate_linked(LinkedConfig(families_per_year=150, years=4), seed=3)
    return synth, synth.write(tmp_path_factory.mktemp("small") / "in", "xml")


def _paths(files, *kinds):
    return [str(p) for k in kinds for p in files[k]]


@pytest.mark.slow
def test_calibrate_writes_the_local_baseline_into_the_workbook_copy(small_linked, tmp_path):
    from click.testing import CliRunner
    from openpyxl import load_workbook

    from ifpp_econ.cli import main

    _, files = small_linked
    out = tmp_path / "local.xlsx"
    args = ["calibrate", *_paths(files, "episodes", "header", "uasc", "cin"), "--families", str(files["families"][0]),
            "--out", str(out), "--bootstrap", "0", "--baseline-bootstrap", "300", "--json"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    import json

    data = json.loads(res.stdout)
    base = {r["parameter"]: r for r in data["baseline"]["estimates"]}
    assert data["baseline"]["cohort"] == "cpp_start" and data["baseline"]["family_source"] == "families file"
    ws = load_workbook(out, data_only=True)["Parameters"]
    head = {c.value: c.column for c in ws[1]}
    rows = {ws.cell(r, head["name"]).value: r for r in range(2, ws.max_row + 1)}

    def cell(name, col):
        return ws.cell(rows[name], head[col]).value

    for name in [*RISKS, "children_placed_per_family_placement", "children_per_family"]:
        assert not base[name]["withheld"]
        assert cell(name, "status") == "L" and cell(name, "value") == pytest.approx(base[name]["value"], abs=1e-6)
        assert "cin_2022.xml" in cell(name, "source") and "cohort cpp_start" in cell(name, "source")
        assert "families.csv" in cell(name, "source") and "01/04/2021–31/03/2025" in cell(name, "source")
    assert cell("risk_12m", "distribution") == "beta_alpha_beta"
    assert cell("risk_12m", "param_a") == pytest.approx(base["risk_12m"]["param_a"], rel=1e-5)
    assert cell("risk_3m", "distribution") == "fixed"  # moves with risk_12m in the PSA
    assert cell("children_per_family", "distribution") == "gamma_mean_se"
    after = base["annual_risk_after_24m"]
    assert after["withheld"] and cell("annual_risk_after_24m", "value") == DEFAULTS["annual_risk_after_24m"]
    assert cell("annual_risk_after_24m", "status") != "L"
    sc = pd.read_excel(out, sheet_name="Scenarios")
    every = sc[sc["scenario"] == "Every child of a placed family placed"]
    assert every["value"].astype(float).iloc[0] == pytest.approx(base["children_per_family"]["value"], abs=1e-4)
    folder = tmp_path / "local_calibration"
    for name in ("baseline_estimates.csv", "baseline_curve.csv", "baseline_counts.csv", "baseline_cif.png"):
        assert (folder / name).exists(), name
    assert "Usual-care baseline from the CIN census (cohort cpp_start)" in (folder / "report.html").read_text()
    runner = CliRunner()
    for more in (["validate", str(out)], ["psa", str(out), "-n", "200", "--no-evppi", "--out", str(tmp_path / "psa")]):
        res = runner.invoke(main, more)
        assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_calibrate_recognises_cin_files_among_the_episodes_and_reports_bad_cin_input(small_linked, tmp_path):
    from click.testing import CliRunner

    from ifpp_econ.cli import main

    _, files = small_linked
    args = ["calibrate", *_paths(files, "episodes", "header", "uasc", "cin"), "--bootstrap", "0", "--baseline-bootstrap", "0"]
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a.xlsx"), "--json"])
    assert res.exit_code == 0, res.output
    assert '"family_source": "proxy"' in res.stdout and PROXY_CAVEAT in res.stderr
    res = CliRunner().invoke(main, [*args, "--cohort", "everyone", "--out", str(tmp_path / "b.xlsx")])
    assert res.exit_code == 2 and "unknown cohort" in res.output and not (tmp_path / "b.xlsx").exists()


@pytest.mark.slow
def test_the_old_cin_codes_option_is_a_deprecated_alias_of_need(small_linked, tmp_path):
    from click.testing import CliRunner

    from ifpp_econ.cli import main

    _, files = small_linked
    base = ["calibrate", *_paths(files, "episodes", "header", "uasc"), "--bootstrap", "0"]
    old = CliRunner().invoke(main, [*base, "--cin", "N1,N4", "--out", str(tmp_path / "old.xlsx"), "--json"])
    new = CliRunner().invoke(main, [*base, "--need", "N1,N4", "--out", str(tmp_path / "new.xlsx"), "--json"])
    assert old.exit_code == 0 and new.exit_code == 0, old.output + new.output
    assert "--cin N1,N4 is deprecated as a category-of-need filter: use --need N1,N4" in old.stderr
    assert "deprecated" not in new.stderr
    import json

    a, b = json.loads(old.stdout), json.loads(new.stdout)
    assert a["counts"] == b["counts"] and "baseline" not in a
    assert any("category of need is not N1, N4" in k for k in a["counts"])


# ---------------------------------------------------------------------------------------
# The calibration report's baseline section, the savings it implies and the console summary
# ---------------------------------------------------------------------------------------
def test_the_workbook_curve_passes_through_the_knots_with_a_constant_hazard_between_them():
    from ifpp_econ.local_data.baseline_risk import family_curve

    values = {"risk_3m": 0.12, "risk_6m": 0.2, "risk_12m": 0.3, "risk_24m": 0.4, "annual_risk_after_24m": 0.06}
    curve = family_curve(values, 48)
    assert curve[0] == 0 and [curve[m] for m in (3, 6, 12, 24)] == pytest.approx([0.12, 0.2, 0.3, 0.4], abs=1e-12)
    monthly = 1 - (1 - curve[1:]) / (1 - curve[:-1])  # conditional probability of a first entry in each month
    for a, b in ((0, 3), (3, 6), (6, 12), (12, 24), (24, 48)):
        assert np.allclose(monthly[a:b], monthly[a], rtol=1e-9)
    assert (1 - curve[36]) / (1 - curve[24]) == pytest.approx(1 - 0.06)


@pytest.mark.slow
def test_the_report_shows_the_baseline_against_the_workbook_and_published_figures_and_what_it_does_to_savings(
        small_linked, tmp_path, default_inputs):
    import dataclasses
    import json

    from click.testing import CliRunner

    from ifpp_econ.analyses.deterministic import run_base_case
    from ifpp_econ.cli import main
    from ifpp_econ.local_data.baseline_risk import family_curve
    from ifpp_econ.outputs.calibration import BASELINE_WRITTEN, format_summary

    _, files = small_linked
    out = tmp_path / "local.xlsx"
    res = CliRunner().invoke(main, ["calibrate", *_paths(files, "episodes", "header", "uasc", "cin"), "--families",
                                    str(files["families"][0]), "--out", str(out), "--bootstrap", "0",
                                    "--baseline-bootstrap", "200", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    folder = tmp_path / "local_calibration"
    base = {r["parameter"]: r for r in data["baseline"]["estimates"]}

    # savings per child: each workbook's base case, the baseline's own effect separated
    savings = pd.read_csv(folder / "savings_comparison.csv").set_index("workbook")
    assert list(savings.index) == ["Input workbook", "Baseline only", "Care dynamics only", "Calibrated copy"]
    assert savings.loc["Input workbook", "per_child_savings"] == pytest.approx(
        run_base_case(default_inputs).to_json()["per_child_savings"])
    params = default_inputs.parameters.copy()
    for name in BASELINE_WRITTEN:
        params.loc[name, "value"] = base[name]["value"]
    only = run_base_case(dataclasses.replace(default_inputs, parameters=params)).to_json()["per_child_savings"]
    assert savings.loc["Baseline only", "per_child_savings"] == pytest.approx(only, rel=1e-6)
    assert savings.loc["Baseline only", "per_child_savings"] != pytest.approx(savings.loc["Input workbook", "per_child_savings"])
    assert savings.loc["Calibrated copy", "change"] == pytest.approx(
        savings.loc["Calibrated copy", "per_child_savings"] - savings.loc["Input workbook", "per_child_savings"])

    # the curve beside the workbook's usual-care curve (through its 3/6/12/24-month values)
    curve = pd.read_csv(folder / "baseline_curve.csv").set_index("months")
    defaults = default_inputs.parameters["value"].to_dict()
    assert np.allclose(curve["workbook"], family_curve(defaults, int(curve.index.max())))
    assert [curve.loc[m, "workbook"] for m in (3, 6, 12, 24)] == pytest.approx([DEFAULTS[f"risk_{m}m"] for m in (3, 6, 12, 24)])
    assert curve.loc[12, "written"] == pytest.approx(base["risk_12m"]["value"])
    published = pd.read_csv(folder / "baseline_comparisons.csv")
    assert list(published["published"]) == [0.448, 0.065, 0.30]
    assert published["measures"].str.contains("status on one day").iloc[0]
    assert published.loc[0, "local"] == pytest.approx(base["risk_12m"]["estimate"], abs=0.01)

    report = (folder / "report.html").read_text()
    for text in ("Usual-care baseline from the CIN census (cohort cpp_start)", "Link rate", "Families by number of children",
                 "How per-child savings change with the local baseline", "FGC trial, control arm", "44.8%", "McHale",
                 "The workbook&#x27;s default: US IFPP trials&#x27; control arms", "the workbook&#x27;s usual-care curve",
                 "What changed in the workbook", "Savings per child with the local values", "<svg"):
        assert text in report, text
    assert "<img" not in report  # self-contained: charts inline
    counts = pd.read_csv(folder / "baseline_counts.csv").set_index("item")["count"]
    assert counts["families in the cohort"] == data["baseline"]["counts"]["families in the cohort"]
    sizes = pd.read_csv(folder / "baseline_family_sizes.csv")
    assert sizes["families"].sum() == counts["families in the cohort"]

    # the console: every row replaced (old → new, status) and every row kept, with why
    changes = {c["parameter"]: c for c in data["changes"]}
    assert changes["risk_12m"]["action"] == "replaced" and changes["risk_12m"]["old_value"] == DEFAULTS["risk_12m"]
    assert changes["annual_risk_after_24m"]["action"] == "kept" and "withheld" in changes["annual_risk_after_24m"]["why"]
    text = format_summary(data)
    replaced, kept = text.split("Replaced in the copy")[1].split("Kept as in the workbook")
    assert "risk_12m" in replaced and f"30.0% → {base['risk_12m']['value']:.1%}" in replaced and "E → L" in replaced
    assert "annual_risk_after_24m" in kept and "4.0% a year" in kept and "withheld: " in kept
    assert "Savings per child (base case): input workbook £" in text and "baseline only £" in text
