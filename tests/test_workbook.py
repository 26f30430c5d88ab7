"""The parameter workbook: template, reading typed values, cell-addressed errors, never modifying the input."""
import hashlib
import shutil
import subprocess
import zipfile

import pytest
from openpyxl import load_workbook

from ifpp_econ.exceptions import WorkbookError
from ifpp_econ.inputs import schema
from ifpp_econ.inputs.loader import parse_number
from ifpp_econ.inputs.reader import read_workbook
from ifpp_econ.inputs.template import write_template


def cell_values(path):
    wb = load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets}


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def template(tmp_path):
    return write_template(tmp_path / "my.xlsx")


def edit(path, sheet, cell, value):
    wb = load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)


def param_row(name):
    return 2 + [p["name"] for p in schema.PARAMETERS].index(name)


def problems(path):
    with pytest.raises(WorkbookError) as err:
        read_workbook(path)
    return err.value.problems


def test_template_reads_back_with_every_parameter(template):
    inputs = read_workbook(template)
    assert set(p["name"] for p in schema.PARAMETERS) <= set(inputs.parameters.index)
    assert inputs.parameters.loc["rr_12m", "value"] == 0.60
    assert inputs.parameters.loc["court_cost_proceedings", "price_year"] == "2017/18"
    assert inputs.parameters.loc["mix:11-17:residential", "group"] == "placement_mix:11-17"
    assert inputs.parameters.loc["court_cost_proceedings", "payer"] == "HMCTS"
    assert inputs.settings["analysis_price_year"] == "2023/24"
    assert list(inputs.strategies["strategy"]) == ["Usual care", "IFPP"]
    assert inputs.parameters["source"].str.len().gt(0).sum() > 20


def test_bundled_and_parameters_copies_equal_a_fresh_template(tmp_path, default_workbook_path):
    from pathlib import Path
    fresh = cell_values(write_template(tmp_path / "fresh.xlsx"))
    assert cell_values(Path(str(default_workbook_path))) == fresh
    assert cell_values(Path(__file__).resolve().parents[1] / "parameters" / "default.xlsx") == fresh


@pytest.mark.parametrize("preset", ["option2", "ifss"])
def test_presets_validate_and_cost_the_programme_their_way(tmp_path, preset):
    inputs = read_workbook(write_template(tmp_path / f"{preset}.xlsx", preset=preset))
    ifpp = inputs.strategies.set_index("strategy").loc["IFPP"]
    if preset == "ifss":
        assert ifpp["cost_method"] == "bottom_up" and "72-hour" in ifpp["description"]
    else:
        assert inputs.parameters.loc["ifpp_cost_per_family", "value"] == 2475
        assert inputs.parameters.loc["ifpp_cost_per_family", "price_year"] == "2013/14"


def test_template_refuses_to_overwrite(template):
    with pytest.raises(FileExistsError):
        write_template(template)
    write_template(template, force=True)


def test_input_styling_and_dropdowns(template):
    wb = load_workbook(template)
    ws = wb["Parameters"]
    assert ws["C2"].fill.fgColor.rgb.endswith("FFF2CC")  # value column is an input cell
    assert ws["A2"].fill.fgColor.rgb in (None, "00000000")
    formulas = {dv.formula1 for dv in ws.data_validations.dataValidation}
    assert any("Lists!" in f for f in formulas) and len(formulas) >= 3


@pytest.mark.parametrize("typed, expected", [("35%", 0.35), ("£1,200", 1200.0), (" 1 200 ", 1200.0), ("1.2e3", 1200.0),
                                              (7, 7.0), ("-0.5", -0.5)])
def test_numbers_as_people_type_them(typed, expected):
    assert parse_number(typed) == pytest.approx(expected)


@pytest.mark.parametrize("typed", ["abc", "nan", "inf", True, "12..5", ""])
def test_non_numbers_rejected(typed):
    with pytest.raises(ValueError):
        parse_number(typed)


def test_edited_cost_is_used(template):
    edit(template, "Parameters", f"C{param_row('cost_residential')}", "£5,000")
    inputs = read_workbook(template)
    assert inputs.parameters.loc["cost_residential", "value"] == 5000


def test_errors_name_file_sheet_and_cell_and_all_are_reported(template):
    edit(template, "Parameters", f"C{param_row('rr_12m')}", "abc")
    edit(template, "Parameters", f"C{param_row('share_entries_with_proceedings')}", 1.4)
    edit(template, "Parameters", f"C{param_row('cost_la_foster')}", -5)
    edit(template, "Parameters", f"F{param_row('cost_ifa')}", "weibull")
    edit(template, "Settings", "B5", "lots")
    found = problems(template)
    text = "\n".join(found)
    assert len(found) >= 5
    assert f"my.xlsx: Parameters!C{param_row('rr_12m')}: found text 'abc'" in text
    assert f"Parameters!C{param_row('share_entries_with_proceedings')}: found 1.4" in text
    assert f"Parameters!C{param_row('cost_la_foster')}: found -5" in text
    assert f"Parameters!F{param_row('cost_ifa')}: unknown distribution 'weibull'" in text and "gamma_mean_se" in text
    assert "Settings!B5" in text


@pytest.mark.slow
@pytest.mark.parametrize("cell_edits, expected", [
    ({"F": "beta_mean_se", "G": 0.9}, "SE"),  # infeasible beta SE for share_entries_with_proceedings
    ({"I": 0.9, "J": 0.7}, "low 0.9 is above high 0.7"),
])
def test_distribution_and_range_rules(template, cell_edits, expected):
    row = param_row("share_entries_with_proceedings")
    for col, v in cell_edits.items():
        edit(template, "Parameters", f"{col}{row}", v)
    assert any(expected in p and "Parameters!" in p for p in problems(template))


def test_shares_must_sum_to_one(template):
    edit(template, "Placement mix", "C2", 0.5)
    assert any("Placement mix!C2:C9: age band 0-4: shares sum to 1.2;" in p for p in problems(template))


def test_duplicate_and_unknown_names(template):
    wb = load_workbook(template)
    ws = wb["Parameters"]
    ws.append(["rr_12m", "again", 0.5, "relative risk", None, "fixed"])
    ws.append(["made_up", "x", 1, "months", None, "fixed"])
    wb.save(template)
    text = "\n".join(problems(template))
    assert "duplicate parameter rr_12m" in text and "unknown parameter 'made_up'" in text


def test_missing_sheet_and_renamed_column(template):
    wb = load_workbook(template)
    del wb["Inflation"]
    wb["Parameters"]["C1"] = "amount"
    wb.save(template)
    text = "\n".join(problems(template))
    assert "Inflation: sheet missing" in text
    assert "Parameters!C1: found the header 'amount'; expected 'value'" in text


def test_formula_without_cached_value_is_reported_not_read_as_empty(template):
    edit(template, "Parameters", f"C{param_row('cost_kinship')}", "=200*2")  # openpyxl saves no cached value
    text = "\n".join(problems(template))
    assert f"Parameters!C{param_row('cost_kinship')}: formula without a saved value" in text


def test_cumulative_risks_must_not_decrease(template):
    edit(template, "Parameters", f"C{param_row('risk_6m')}", 0.10)
    assert any("risk_6m = 0.1 is below risk_3m = 0.15" in p for p in problems(template))


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"name,value\nrr_12m,0.6\n", "not an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "encrypted"),
    (bytes(range(256)) * 40, "not an Excel .xlsx workbook"),
])
def test_not_a_workbook(tmp_path, content, message):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    found = problems(path)
    assert len(found) == 1 and found[0].startswith("bad.xlsx: ") and message in found[0]


def test_truncated_workbook(tmp_path, template):
    data = template.read_bytes()
    bad = tmp_path / "truncated.xlsx"
    bad.write_bytes(data[: len(data) // 2])
    assert "truncated.xlsx" in problems(bad)[0]


def test_zip_without_workbook(tmp_path):
    path = tmp_path / "zip.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "hi")
    assert "no xl/workbook.xml" in problems(path)[0]


def test_input_is_never_modified(template):
    before = sha(template)
    read_workbook(template)
    edit(template, "Parameters", f"C{param_row('rr_12m')}", "abc")
    broken = sha(template)
    with pytest.raises(WorkbookError):
        read_workbook(template)
    assert sha(template) == broken and broken != before


@pytest.mark.slow
def test_workbook_saved_by_libreoffice(tmp_path, template):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed; .ci/run installs it")
    edit(template, "Parameters", f"C{param_row('cost_ifa')}", 950)
    out = tmp_path / "lo"
    result = subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to",
                             "xlsx", "--outdir", str(out), str(template)], capture_output=True, timeout=180)
    assert result.returncode == 0, result.stderr
    inputs = read_workbook(out / "my.xlsx")
    assert inputs.parameters.loc["cost_ifa", "value"] == 950
    assert inputs.parameters.loc["rr_12m", "param_a"] == 0.48
    assert inputs.settings == read_workbook(template).settings


def test_analysis_year_beyond_inflation_is_one_clear_problem(template):
    edit(template, "Settings", "B2", "2025/26")
    found = problems(template)
    assert found == ["my.xlsx: Settings!B2: analysis_price_year 2025/26 is after the last year of the Inflation sheet "
                     "(2023/24); add its index change or choose an earlier year"]


def test_no_cascade_from_one_bad_cell(template):
    edit(template, "Parameters", f"C{param_row('rr_12m')}", "sixty")  # rr_12m is also a scenario target
    edit(template, "Parameters", f"H{param_row('rr_3m')}", "abc")
    found = problems(template)
    assert len(found) == 2 and not any("Scenarios" in p or "needs param" in p for p in found)


# ---------------------------------------------------------------------------------------
# One rule at a time: each message names the sheet and cell
# ---------------------------------------------------------------------------------------
SETTING_ROW = {name: 2 + i for i, (name, *_rest) in enumerate(schema.SETTINGS)}
SCENARIO_ROW = {}
for _i, _s in enumerate(schema.SCENARIOS):
    SCENARIO_ROW.setdefault((_s["scenario"], _s["target"]), 2 + _i)
INFLATION_ROW = {y: 2 + i for i, (y, _c, _s) in enumerate(schema.INFLATION)}


def P(col, name):
    return "Parameters", f"{col}{param_row(name)}"


def S(name):
    return "Settings", f"B{SETTING_ROW[name]}"


RULES = [
    # (edits [(sheet, cell, value)], cell named in the message, text in the message)
    ([(*P("C", "rr_12m"), True)], "Parameters!C{rr_12m}", "found TRUE/FALSE"),
    ([(*P("C", "cost_ifa"), "nan")], "Parameters!C{cost_ifa}", "found text 'nan'"),
    ([(*P("C", "cost_ifa"), "inf")], "Parameters!C{cost_ifa}", "found text 'inf'"),
    ([(*P("C", "cost_ifa"), None)], "Parameters!C{cost_ifa}", "empty; expected a number"),
    ([(*P("C", "rr_12m"), 0)], "Parameters!C{rr_12m}", "allowed for relative risk: > 0"),
    ([(*P("G", "risk_12m"), 0)], "Parameters!F{risk_12m}", "beta needs alpha > 0"),
    ([(*P("G", "share_entries_with_proceedings"), 200)], "Parameters!F{share_entries_with_proceedings}", "events/n"),
    ([(*P("G", "cost_ifa"), 0)], "Parameters!F{cost_ifa}", "SE as a share of the value needs"),
    ([(*P("G", "rr_3m"), 0.6)], "Parameters!F{rr_3m}", "0 < lower < value < upper"),
    ([(*P("G", "children_per_family"), 2.95)], "Parameters!F{children_per_family}", "min ≤ value ≤ max"),
    ([(*P("F", "cost_other"), "triangular"), (*P("G", "cost_other"), 3000), (*P("H", "cost_other"), 2500)],
     "Parameters!F{cost_other}", "triangular needs min < max"),
    ([(*P("F", "cost_other"), "normal_mean_se"), (*P("G", "cost_other"), -5)], "Parameters!F{cost_other}",
     "normal needs"),
    ([(*P("D", "cost_kinship"), "GBP/fortnight/child")], "Parameters!D{cost_kinship}",
     "allowed for cost_kinship: GBP/week/child, GBP/week/family, GBP/month/child"),
    ([(*P("D", "cost_kinship"), "probability")], "Parameters!D{cost_kinship}", "allowed for cost_kinship"),
    ([(*P("D", "reentry_0_3m"), "GBP/week/child")], "Parameters!D{reentry_0_3m}",
     "allowed for reentry_0_3m: probability/month, probability/year, rate/year"),
    ([(*P("L", "rr_12m"), "X")], "Parameters!L{rr_12m}", "allowed: F, D, E"),
    ([(*P("E", "cost_ifa"), None)], "Parameters!E{cost_ifa}", "a cost needs its price year"),
    ([(*P("E", "cost_ifa"), "2023-24")], "Parameters!E{cost_ifa}", "not a financial year like 2023/24"),
    ([(*P("J", "cost_ifa"), None)], "Parameters!I{cost_ifa}", "give both low and high"),
    ([(*P("A", "team_fte"), None), (*P("C", "team_fte"), None), (*P("D", "team_fte"), None),
      (*P("B", "team_fte"), None), (*P("F", "team_fte"), None), (*P("I", "team_fte"), None),
      (*P("J", "team_fte"), None), (*P("K", "team_fte"), None), (*P("L", "team_fte"), None),
      (*P("M", "team_fte"), None)], "Parameters", "parameter team_fte is missing"),
    ([(*P("C", "return_support_months"), 13)], "Parameters!C{return_support_months}", "0 to 12 months"),
    ([(*S("psa_iterations"), 2.5)], "Settings!B{psa_iterations}", "found 2.5; allowed: 1 to 10,000,000"),
    ([(*S("discount_rate_costs"), "25%")], "Settings!B{discount_rate_costs}", "found 0.25; allowed: 0 to 0.2"),
    ([(*S("within_cycle_correction"), "trapezoid")], "Settings!B{within_cycle_correction}",
     "allowed: none-start, none-end, half-cycle, simpson"),
    ([(*S("effect_model"), "weibull")], "Settings!B{effect_model}", "allowed: single_rr, window_rrs"),
    ([(*S("analysis_price_year"), "2023-24")], "Settings!B{analysis_price_year}", "a financial year"),
    ([(*S("comparator"), "Nothing")], "Settings!B{comparator}", "allowed: Usual care, IFPP"),
    ([(*S("wtp_max"), 0)], "Settings!B{wtp_max}", "must be greater than wtp_min"),
    ([("Strategies", "C3", "maybe")], "Strategies!C3", "allowed: yes, no"),
    ([("Strategies", "D3", "hourly")], "Strategies!D3", "allowed: none, per_family, bottom_up"),
    ([("Strategies", "A3", "Usual care")], "Strategies!A3", "duplicate strategy name Usual care"),
    ([("Strategies", "A3", "Usual care")], "Strategies", "at least two are needed"),
    ([("Age bands", "B4", 18)], "Age bands!B4", "allowed: 0 to under 18"),
    ([("Age bands", "C4", 0.5)], "Age bands!C2:C4", "shares sum to 1.1"),
    ([(*S("placement_mix_effective_n"), -1)], "Settings!B{placement_mix_effective_n}", "found -1"),
    ([("Placement mix", "A2", "granny")], "Placement mix!A2", "unknown placement type 'granny'"),
    ([("Placement mix", "B3", "cost_ifa")], "Placement mix!B3", "expected cost_la_foster"),
    ([("Placement mix", "C2", "23%"), ("Placement mix", "C3", "0.3")], "Placement mix!C2:C9",
     "age band 0-4: shares sum to 0.88"),
    ([("Placement mix", "D1", "5-9")], "Placement mix!1:1", "no share column for age band '5-10'"),
    ([("Placement mix", "E5", 1.5)], "Placement mix!E5", "found 1.5; allowed: a share between 0 and 1"),
    ([("Scenarios", "B2", "rr_99")], "Scenarios!B2", "unknown target 'rr_99'"),
    ([("Scenarios", f"C{SCENARIO_ROW[('Time-varying RRs', 'effect_model')]}", "both")],
     "Scenarios!C{Time-varying RRs}", "allowed: single_rr, window_rrs"),
    ([("Scenarios", "C2", -1)], "Scenarios!C2", "allowed for relative risk: > 0"),
    ([("Scenarios", f"C{SCENARIO_ROW[('5-year horizon', 'horizon_years')]}", 50)], "Scenarios!C{5-year horizon}",
     "allowed: 0.1 to 18 years"),
    ([("Scenarios", f"C{SCENARIO_ROW[('Residential-heavy mix (11-17)', 'mix:11-17:residential')]}", 0.38)],
     "Scenarios!C{Residential-heavy mix (11-17)}", "placement_mix:11-17 shares sum to 1.1"),
    ([("Scenarios", f"C{SCENARIO_ROW[('Bottom-up IFPP costing', 'strategy_cost_method:IFPP')]}", "hourly")],
     "Scenarios!C{Bottom-up IFPP costing}", "allowed: none, per_family, bottom_up"),
    ([("Correlations", "A2", "rr_12m"), ("Correlations", "B2", "made_up"), ("Correlations", "C2", 0.3)],
     "Correlations!B2", "'made_up' is not a parameter with a distribution"),
    ([("Correlations", "A2", "rr_12m"), ("Correlations", "B2", "risk_12m"), ("Correlations", "C2", 1.2)],
     "Correlations!C2", "strictly between -1 and 1"),
    ([("Correlations", "A2", "rr_12m"), ("Correlations", "B2", "team_fte"), ("Correlations", "C2", 0.2)],
     "Correlations!B2", "'team_fte' is not a parameter with a distribution"),
    ([("Correlations", "A2", "rr_12m"), ("Correlations", "B2", "rr_12m"), ("Correlations", "C2", 0.5)],
     "Correlations!B2", "cannot be correlated with itself"),
    ([("Inflation", "A3", "2015")], "Inflation!A3", "expected a financial year like 2023/24"),
    ([("Inflation", "B3", 2)], "Inflation!B3", "allowed: between -50% and 100%"),
    ([("Inflation", "A2", None), ("Inflation", "B2", None), ("Inflation", "C2", None)],
     "Parameters!E{social_worker_hourly_cost}", "no inflation index for 2014/15"),
]


def _cell_text(where):
    """'Parameters!C{rr_12m}' → 'Parameters!C5' (row of a parameter, setting or scenario)."""
    if "{" not in where:
        return where
    head, key = where[:-1].split("{")
    sheet = head.split("!")[0]
    row = {"Parameters": lambda k: param_row(k), "Settings": lambda k: SETTING_ROW[k],
           "Scenarios": lambda k: min(r for (s, _t), r in SCENARIO_ROW.items() if s == k)}[sheet](key)
    if sheet == "Scenarios" and key == "Residential-heavy mix":
        row = min(r for (s, _t), r in SCENARIO_ROW.items() if s == key)
    return f"{head}{row}"


@pytest.mark.slow
@pytest.mark.parametrize("edits, where, expected", RULES, ids=[f"{w}:{e[:30]}" for _e, w, e in RULES])
def test_each_rule_names_sheet_and_cell(template, edits, where, expected):
    wb = load_workbook(template)
    for sheet, cell, value in edits:
        wb[sheet][cell] = value
    wb.save(template)
    found = problems(template)
    prefix = f"my.xlsx: {_cell_text(where)}: "
    assert any(p.startswith(prefix) and expected in p for p in found), (prefix, expected, found)


def test_problems_across_sheets_reported_in_one_pass(template):
    wb = load_workbook(template)
    wb["Parameters"][f"C{param_row('cost_ifa')}"] = "lots"
    wb["Settings"][f"B{SETTING_ROW['psa_iterations']}"] = 0
    wb["Strategies"]["C3"] = "maybe"
    wb["Age bands"]["B2"] = -1
    wb["Placement mix"]["D2"] = "lots"
    wb["Scenarios"]["B2"] = "nothing"
    for col, v in zip("ABC", ["rr_12m", "risk_12m", 3]):
        wb["Correlations"][f"{col}2"] = v
    wb["Inflation"]["B5"] = "n/a"
    wb.save(template)
    text = "\n".join(problems(template))
    for cell in (f"Parameters!C{param_row('cost_ifa')}", f"Settings!B{SETTING_ROW['psa_iterations']}", "Strategies!C3",
                 "Age bands!B2", "Placement mix!D2", "Scenarios!B2", "Correlations!C2", "Inflation!B5"):
        assert f"my.xlsx: {cell}: " in text, cell


# ---------------------------------------------------------------------------------------
# What a valid workbook gives the model
# ---------------------------------------------------------------------------------------
def test_inputs_fields_and_one_table_of_parameters(template):
    inputs = read_workbook(template)
    assert inputs.path == template and inputs.sha256 == sha(template)
    p = inputs.parameters
    assert list(p.columns) == ["label", "value", "unit", "price_year", "payer", "distribution", "param_a", "param_b", "low",
                               "high", "applies_to", "cashable_share", "cashable_lag_months", "source", "status", "notes",
                               "group", "cell", "min", "max", "edited"]
    assert p.loc["rr_12m", "cell"] == f"Parameters!C{param_row('rr_12m')}"
    assert p.loc["rr_12m", ["param_a", "param_b"]].tolist() == [0.48, 0.76]
    for col, band in zip("CDE", ("0-4", "5-10", "11-17")):
        mix = p[p["group"] == f"placement_mix:{band}"]
        assert list(mix.index) == [schema.mix_name(band, t) for t in schema.PLACEMENT_TYPES]
        assert mix["value"].sum() == pytest.approx(1) and set(mix["distribution"]) == {"dirichlet"}
        assert set(mix["param_a"]) == {60}  # the effective sample size; the shares are the mean
        assert p.loc[schema.mix_name(band, "kinship"), "cell"] == f"Placement mix!{col}2"
    ages = p[p["group"] == "age_bands"]
    assert list(ages.index) == ["age_share:0-4", "age_share:5-10", "age_share:11-17"]
    assert set(ages["distribution"]) == {"fixed"} and ages["value"].tolist() == [0.30, 0.30, 0.40]
    assert inputs.age_bands["age_at_referral_years"].tolist() == [2.5, 8.0, 14.5]  # the bands' mid-points
    assert inputs.inflation["2017/18"] == 0.0124 and "2014/15" in inputs.inflation.index
    assert len(inputs.correlations) == 0 and list(inputs.correlations.columns) == ["parameter_1", "parameter_2",
                                                                                   "rank_correlation"]
    assert set(inputs.scenarios["scenario"]) == {s["scenario"] for s in schema.SCENARIOS}
    s = inputs.settings
    assert (s["psa_iterations"], s["horizon_years"], s["discount_rate_costs"], s["comparator"]) == (
        10000, 18, 0.035, "Usual care")
    assert isinstance(s["psa_iterations"], int)


def test_default_values_follow_the_evidence(template):
    p = read_workbook(template).parameters
    expected = {"rr_3m": 0.57, "rr_6m": 0.51, "rr_12m": 0.60, "rr_24m": 0.51, "effect_duration_months": 24,
                "risk_3m": 0.15, "risk_6m": 0.22, "risk_12m": 0.30, "risk_24m": 0.37, "annual_risk_after_24m": 0.04,
                "reunify_0_6m": 0.026, "permanence_6_12m": 0.0238, "reentry_0_3m": 0.042, "reentry_3_12m": 0.0105,
                "reentry_12m_plus": 0.0035, "ifpp_cost_per_family": 5000, "team_fte": 7.5,
                "families_per_team_year": 47, "cost_per_fte": 55000, "children_per_family": 2.9, "cost_kinship": 400,
                "cost_la_foster": 800, "cost_ifa": 900, "cost_residential": 6106, "cost_with_parents": 150,
                "cost_other": 700, "cost_secure": 8000, "cost_semi_independent": 1200, "rr_between_study_sd": 0.3,
                "children_placed_per_family_placement": 1.5, "rr_family_12m": 0.85, "court_cost_proceedings": 4180,
                "la_legal_cost_proceedings": 8000,
                "share_entries_with_proceedings": 0.6, "share_reentries_with_proceedings": 0.3,
                "reunification_support_cost": 7857, "case_support_cost": 220,
                "case_support_months": 12, "return_support_months": 12, "sgo_allowance": 0,
                "social_worker_hourly_cost": 55}
    for name, value in expected.items():
        assert p.loc[name, "value"] == pytest.approx(value), name
    assert p.loc["reentry_0_3m", "status"] == "D" and "0.88" in p.loc["reentry_0_3m", "notes"]
    assert p.loc["reunify_0_6m", "distribution"] == "fixed"
    assert p.loc["care_multiplier_reunify", ["distribution", "param_b"]].tolist() == ["lognormal_log", 0.25]
    assert p.loc["risk_12m", ["distribution", "param_a", "param_b"]].tolist() == ["beta_alpha_beta", 7.5, 17.5]
    assert p.loc["children_per_family", ["distribution", "param_a", "param_b"]].tolist() == ["triangular", 2.3, 3.1]
    assert p.loc["social_worker_hourly_cost", "price_year"] == "2013/14"
    assert p.loc["case_support_cost", "price_year"] == "2013/14"  # £55 an hour is a 2013/14 price
    assert p.loc["cost_per_fte", ["distribution", "param_a"]].tolist() == ["gamma_mean_sepct", 0.15]
    costs = p[p["unit"].str.startswith("GBP") & (p["group"] == "")]
    assert costs["price_year"].notna().all()


def test_cost_entered_per_month_is_accepted_with_its_unit(template):
    row = param_row("cost_kinship")
    edit(template, "Parameters", f"D{row}", "GBP/month/child")
    edit(template, "Parameters", f"C{row}", 1739)
    # the weekly one-way range no longer brackets a monthly value: widened, with a warning naming the cells
    assert any(f"Parameters!C{row}: value 1739 is outside the one-way range 300–600" in w
               for w in read_workbook(template).warnings)
    edit(template, "Parameters", f"I{row}", 1300)  # low/high are in the row's unit too
    edit(template, "Parameters", f"J{row}", 2600)
    p = read_workbook(template).parameters
    assert p.loc["cost_kinship", "unit"] == "GBP/month/child" and p.loc["cost_kinship", "value"] == 1739


def test_percentages_in_settings_and_valid_correlations(template):
    wb = load_workbook(template)
    wb["Settings"][f"B{SETTING_ROW['discount_rate_costs']}"] = "1.5%"
    for col, v in zip("ABC", ["rr_12m", "risk_12m", "-30%"]):
        wb["Correlations"][f"{col}8"] = v
    wb.save(template)
    inputs = read_workbook(template)
    assert inputs.settings["discount_rate_costs"] == pytest.approx(0.015)
    assert inputs.correlations.to_dict("records")[-1:] == [
        {"parameter_1": "rr_12m", "parameter_2": "risk_12m", "rank_correlation": pytest.approx(-0.3)}]


def test_age_band_effective_n_makes_the_shares_uncertain(template):
    wb = load_workbook(template)
    wb["Settings"][f"B{SETTING_ROW['age_mix_effective_n']}"] = 100
    wb.save(template)
    ages = read_workbook(template).parameters.query("group == 'age_bands'")
    assert set(ages["distribution"]) == {"dirichlet"} and set(ages["param_a"]) == {100}


def test_old_style_absolute_se_is_warned(template):
    row = param_row("cost_ifa")
    edit(template, "Parameters", f"F{row}", "gamma_mean_se")
    edit(template, "Parameters", f"G{row}", 20)  # £20 on £900: 2%
    inputs = read_workbook(template)
    assert any(f"Parameters!G{row}" in w and "gamma_mean_sepct" in w for w in inputs.warnings)


def test_blank_row_in_the_middle_is_skipped(template):
    wb = load_workbook(template)
    wb["Parameters"].insert_rows(5, amount=2)
    wb["Scenarios"].insert_rows(3)
    wb.save(template)
    p = read_workbook(template).parameters
    assert p.loc["rr_24m", "value"] == 0.51 and p.loc["rr_24m", "cell"] == "Parameters!C7"


def test_merged_cells_over_a_table_are_reported(template):
    wb = load_workbook(template)
    wb["Parameters"].merge_cells("C3:D3")
    wb.save(template)
    assert any("Parameters!C3:D3: merged cells" in p for p in problems(template))


def test_template_bytes_are_deterministic(tmp_path):
    a = write_template(tmp_path / "a.xlsx").read_bytes()
    b = write_template(tmp_path / "b.xlsx", preset=None).read_bytes()
    assert a == b


def test_readme_sheet_explains_editing(template):
    text = "\n".join(str(r[0]) for r in cell_values(template)["README"] if r[0])
    for needed in ("yellow", "lognormal_ci", "beta_events_n", "probability/month", "F = figure", "E = estimate",
                   "only reads this file"):
        assert needed in text, needed
    names = [n for n in load_workbook(template).sheetnames if n != "Key inputs"]  # a guide, not read by the tool
    assert names[:len(schema.SHEETS)] == list(schema.SHEETS)


def test_unknown_preset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="option2"):
        write_template(tmp_path / "x.xlsx", preset="homebuilders")


# ---------------------------------------------------------------------------------------
# Command line: template and validate
# ---------------------------------------------------------------------------------------
def test_cli_template_refuses_overwrite_and_validate_reports(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ifpp_econ.cli import main

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["template", "wb.xlsx", "--preset", "ifss"]).exit_code == 0
    again = runner.invoke(main, ["template", "wb.xlsx"])
    assert again.exit_code == 2 and "already exists" in again.output and "Traceback" not in again.output
    assert runner.invoke(main, ["template", "wb.xlsx", "--force"]).exit_code == 0
    ok = runner.invoke(main, ["validate", "wb.xlsx"])
    assert ok.exit_code == 0 and ok.output.startswith("OK: ") and "analysis price year 2023/24" in ok.output
    assert "2 strategies" in ok.output
    bundled = runner.invoke(main, ["validate"])
    assert bundled.exit_code == 0 and "default.xlsx" in bundled.output

    wb = load_workbook(tmp_path / "wb.xlsx")
    wb["Parameters"][f"C{param_row('cost_ifa')}"] = "lots"
    wb["Strategies"]["C3"] = "maybe"
    wb.save(tmp_path / "wb.xlsx")
    broken = runner.invoke(main, ["validate", "wb.xlsx"])
    assert broken.exit_code == 2 and "Traceback" not in broken.output
    assert f"Parameters!C{param_row('cost_ifa')}" in broken.output and "Strategies!C3" in broken.output
    (tmp_path / "junk.xlsx").write_bytes(b"\x00\x01garbage")
    junk = runner.invoke(main, ["validate", "junk.xlsx"])
    assert junk.exit_code == 2 and "junk.xlsx" in junk.output and "Traceback" not in junk.output


def test_template_guides_a_finance_lead(template):
    wb = load_workbook(template)
    assert wb.sheetnames[:3] == ["README", "Key inputs", "Settings"]
    ws = wb["Parameters"]
    header = [c.value for c in ws[1]]
    row = param_row("ifpp_cost_per_family")
    yellow = lambda col: ws.cell(row, header.index(col) + 1).fill.fgColor.rgb.endswith("FFF2CC")  # noqa: E731
    assert yellow("value") and yellow("low") and yellow("source") and not yellow("distribution") and not yellow("param_a")
    assert ws.cell(row, header.index("value") + 1).number_format == '"£"#,##0'
    assert ws.cell(param_row("risk_12m"), header.index("value") + 1).number_format == "0.00%"
    key = wb["Key inputs"]
    links = {key.cell(r, 1).value: key.cell(r, 3) for r in range(3, key.max_row + 1)}
    cost = links["IFPP cost per family (£ per episode)"]
    assert cost.value == f"Parameters!C{row}" and cost.hyperlink.location == f"'Parameters'!C{row}"
    assert key.cell(3, 2).value == f"='Parameters'!C{row}"  # the current value, read from the cell to edit
    validations = [dv for sheet in wb.worksheets for dv in sheet.data_validations.dataValidation]
    assert validations and all(dv.showErrorMessage and dv.errorStyle == "stop" for dv in validations)


def test_local_value_outside_the_one_way_range_widens_it_with_a_warning(template):
    row = param_row("ifpp_cost_per_family")
    edit(template, "Parameters", f"C{row}", 12000)  # high is 9,000
    inputs = read_workbook(template)
    assert inputs.parameters.loc["ifpp_cost_per_family", ["low", "high"]].tolist() == [2500, 12000]
    assert any(f"Parameters!C{row}" in w and f"Parameters!J{row}" in w for w in inputs.warnings)
    edit(template, "Parameters", f"I{row}", 20000)  # low above high: a real mistake
    assert any(f"Parameters!I{row}: low 20000 is above high 9000" in p for p in problems(template))
