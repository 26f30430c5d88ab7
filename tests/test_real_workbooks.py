"""Workbooks as people save them (LibreOffice, shifted tables, decimal commas, renamed headers), and the rule
that ``validate`` finds every problem a user can fix, with its sheet and cell."""
import shutil
import subprocess

import pytest
from click.testing import CliRunner
from hostile_corpus import libreoffice_style_workbook, understated_dimension_workbook
from openpyxl import load_workbook

from ifpp_econ.cli import main
from ifpp_econ.exceptions import WorkbookError
from ifpp_econ.inputs import schema
from ifpp_econ.inputs.loader import parse_number
from ifpp_econ.inputs.reader import read_workbook
from ifpp_econ.inputs.template import write_template
from ifpp_econ.outputs import charts


@pytest.fixture
def template(tmp_path):
    return write_template(tmp_path / "my.xlsx")


def row_of(name):
    return 2 + [p["name"] for p in schema.PARAMETERS].index(name)


def append(ws, values):
    """Write ``values`` into the first row whose column A is empty (the template formats rows below its tables)."""
    row = next(r for r in range(2, ws.max_row + 2) if ws.cell(r, 1).value is None)
    for j, v in enumerate(values, start=1):
        ws.cell(row, j).value = v
    return row


def problems(path):
    with pytest.raises(WorkbookError) as err:
        read_workbook(path)
    return "\n".join(err.value.problems)


def edit(path, *changes):
    wb = load_workbook(path)
    for sheet, cell, value in changes:
        wb[sheet][cell] = value
    wb.save(path)
    return path


# -- rows that hold data ---------------------------------------------------------------------------------------
def test_libreoffice_row_record_at_the_last_row_and_overstated_dimension(tmp_path, default_inputs):
    inputs = read_workbook(libreoffice_style_workbook(tmp_path))
    assert inputs.parameters["value"].equals(default_inputs.parameters["value"])


def test_understated_dimension_reads_every_row(tmp_path, default_inputs):
    inputs = read_workbook(understated_dimension_workbook(tmp_path))
    assert list(inputs.parameters.index) == list(default_inputs.parameters.index)
    assert len(inputs.scenarios) == len(default_inputs.scenarios)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_saved_by_libreoffice_after_deleting_rows(tmp_path, default_inputs):
    path = write_template(tmp_path / "edited.xlsx")
    wb = load_workbook(path)
    append(wb["Correlations"], ["rr_12m", "risk_12m", 0.2])
    wb["Correlations"].delete_rows(3)  # an empty (formatted) row below the only correlation
    wb["Parameters"].delete_rows(60)  # an empty (formatted) row below the table
    wb["Scenarios"].delete_rows(3)  # a scenario row
    wb.save(path)
    out = tmp_path / "lo"
    done = subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
                           "--convert-to", "xlsx", "--outdir", str(out), str(path)], capture_output=True, timeout=180)
    assert done.returncode == 0 and (out / "edited.xlsx").exists(), done.stderr
    inputs = read_workbook(out / "edited.xlsx")
    assert list(inputs.parameters.index) == list(default_inputs.parameters.index)
    assert len(inputs.scenarios) == len(default_inputs.scenarios) - 1 and len(inputs.correlations) == 1


# -- numbers ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, value", [("1,200", 1200), ("12,000,000", 12e6), ("£1,200.50", 1200.5), ("1 200", 1200),
                                         ("35%", 0.35), ("0.5", 0.5)])
def test_clear_numbers(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text, readings", [("400,50", ("400.50", "40050")), ("1,5", ("1.5", "15")),
                                            ("1,5%", ("1.5%", "15%"))])
def test_decimal_comma_is_refused_with_both_readings(text, readings):
    with pytest.raises(ValueError) as err:
        parse_number(text)
    assert all(r in str(err.value) for r in readings)


def test_decimal_comma_names_the_cell(template):
    edit(template, ("Parameters", f"C{row_of('cost_ifa')}", "900,50"))
    text = problems(template)
    assert f"Parameters!C{row_of('cost_ifa')}: found '900,50'" in text and "900.50" in text and "90050" in text


# -- headers ---------------------------------------------------------------------------------------------------
def test_table_one_row_lower_reads(template, default_inputs):
    wb = load_workbook(template)
    for sheet in schema.SHEETS[1:]:
        wb[sheet].insert_rows(1)
    wb["Parameters"]["A1"] = "My local parameters"  # a title above the table
    wb.save(template)
    inputs = read_workbook(template)
    assert inputs.parameters["value"].equals(default_inputs.parameters["value"])
    edit(template, ("Parameters", f"C{row_of('cost_ifa') + 1}", "x"))
    assert f"Parameters!C{row_of('cost_ifa') + 1}: found text 'x'" in problems(template)  # cells keep their rows


def test_renamed_header_says_expected_found_and_did_you_mean(template):
    edit(template, ("Strategies", "D1", "cost_methd"), ("Age bands", "C1", "proportion"))
    text = problems(template)
    assert "Strategies!D1: found the header 'cost_methd'; expected 'cost_method' — did you mean 'cost_method'?" in text
    assert "Age bands!C1: found the header 'proportion'; expected 'share'" in text


def test_duplicate_headers_name_both_cells(template):
    edit(template, ("Parameters", "N1", "value"))
    assert "Parameters!C1 and Parameters!N1: two columns headed 'value'" in problems(template)


# -- one rule: domains everywhere ------------------------------------------------------------------------------
@pytest.mark.parametrize("name, col, value, expect", [
    ("cost_ifa", "I", -10, "found -10 for cost_ifa's low; allowed for GBP/week/child: ≥ 0"),
    ("risk_12m", "J", 1.2, "found 1.2 for risk_12m's high; allowed for probability: ≥ 0 and ≤ 1"),
    ("rr_12m", "J", 12, "found 12 for rr_12m's high; allowed for relative risk: > 0 and ≤ 10"),
    ("cost_ifa", "C", 2e9, "found 2e+09; allowed for GBP/week/child: ≥ 0 and ≤ 1,000,000,000"),
])
def test_low_high_and_value_in_the_domain(template, name, col, value, expect):
    edit(template, ("Parameters", f"{col}{row_of(name)}", value))
    assert f"Parameters!{col}{row_of(name)}: {expect}" in problems(template)


@pytest.mark.parametrize("name, value, dist, a, b, share", [
    ("reunify_0_6m", 0.04, "normal_mean_se", 0.04, None, "15.87% of reunify_0_6m's draws"),  # normal on a probability
    ("share_entries_with_proceedings", 0.6, "gamma_mean_se", 0.3, None, "of share_entries_with_proceedings's draws"),
    ("cost_ifa", 900, "lognormal_log", 25, 0.1, "all of cost_ifa's draws"),  # median £72bn a week
    ("rr_12m", 6, "uniform", 5, 20, "66.67% of rr_12m's draws"),
])
def test_distribution_outside_the_domain(template, name, value, dist, a, b, share):
    r = row_of(name)
    edit(template, ("Parameters", f"C{r}", value), ("Parameters", f"F{r}", dist), ("Parameters", f"G{r}", a),
         ("Parameters", f"H{r}", b), ("Parameters", f"I{r}", None), ("Parameters", f"J{r}", None))
    text = problems(template)
    assert f"Parameters!F{r}: {dist}" in text and share in text and "at most 0.1% may fall outside" in text, text


def test_tiny_tail_outside_is_accepted_and_clipped(template):
    from ifpp_econ.analyses.sampling import sample

    r = row_of("reunify_0_6m")  # normal(0.026, 0.0078): 0.04% below 0
    edit(template, ("Parameters", f"F{r}", "normal_mean_se"), ("Parameters", f"G{r}", 0.0078))
    inputs = read_workbook(template)
    draws = sample(inputs.parameters, 20_000, 1)
    assert draws["reunify_0_6m"].min() >= 0 and (draws["reunify_0_6m"] == 0).any()


def test_non_positive_definite_correlations_name_the_cells(template):
    wb = load_workbook(template)
    for row in (["rr_12m", "risk_12m", 0.9], ["rr_12m", "cost_ifa", 0.9], ["risk_12m", "cost_ifa", -0.9]):
        append(wb["Correlations"], row)
    wb.save(template)
    text = problems(template)
    assert "Correlations!C2, Correlations!C3, Correlations!C4: these correlations together are impossible" in text
    assert "not positive definite" in text


def test_scenarios_checked_like_their_targets(template):
    wb = load_workbook(template)
    for row in (["High risk", "risk_12m", 0.5], ["Old prices", "analysis_price_year", "2030/31"],
                ["Other comparator", "comparator", "Nobody"], ["Free IFPP", "strategy_cost_method:IFPP", "none"],
                ["Fine grid", "wtp_step", 1]):
        append(wb["Scenarios"], row)
    wb.save(template)
    text = problems(template)
    first = len(schema.SCENARIOS) + 2
    assert f"Scenarios!C{first}: scenario 'High risk': the cumulative risks become" in text
    assert f"Scenarios!C{first + 1}: scenario 'Old prices': analysis_price_year 2030/31" in text
    assert f"Scenarios!C{first + 2}: scenario 'Other comparator': comparator 'Nobody'" in text
    assert f"Scenarios!C{first + 3}: scenario 'Free IFPP': strategy 'IFPP' receives IFPP" in text
    assert f"Scenarios!C{first + 4}: scenario 'Fine grid': the willingness-to-pay grid" in text


def test_settings_limits_and_threshold_names(template):
    wb = load_workbook(template)
    ws = wb["Settings"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    ws.cell(rows["wtp_step"], 2).value = 1
    ws.cell(rows["threshold_parameters"], 2).value = "rr_12m, rr12m, return_support_months"
    wb.save(template)
    text = problems(template)
    assert f"Settings!B{rows['wtp_step']}: the willingness-to-pay grid from 0 to 200000 by 1 has 200,001 points" in text
    assert f"Settings!B{rows['threshold_parameters']}: 'rr12m' is not a parameter (did you mean rr_12m?)" in text
    assert "return_support_months sets the model's structure" in text


def test_strategy_receiving_ifpp_needs_a_cost_method_and_a_sane_multiplier(template):
    edit(template, ("Strategies", "D3", "none"), ("Strategies", "E3", 1e308))
    text = problems(template)
    assert "Strategies!D3: strategy 'IFPP' receives IFPP but its cost method is none" in text
    assert "Strategies!E3: found 1e+308; allowed: 0 to 1000" in text


@pytest.mark.slow
def test_validated_unusual_workbook_runs_every_command(tmp_path, monkeypatch):
    """Valid but unusual: a normal on a probability with a tiny tail, strong (valid) correlations, a
    threshold on children per family, a mathtext-like strategy name."""
    path = write_template(tmp_path / "odd.xlsx")
    wb = load_workbook(path)
    r = row_of("reunify_0_6m")
    wb["Parameters"][f"F{r}"], wb["Parameters"][f"G{r}"] = "normal_mean_se", 0.0078
    append(wb["Correlations"], ["rr_12m", "risk_12m", 0.6])
    append(wb["Strategies"], ["$x^$ \\notacommand", "", "yes", "per_family", 1.2])
    ws = wb["Settings"]
    row = next(i for i in range(2, ws.max_row + 1) if ws.cell(i, 1).value == "threshold_parameters")
    ws.cell(row, 2).value = "children_per_family, families_per_team_year, rr_12m"
    wb.save(path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for command in (["validate"], ["run"], ["psa", "-n", "50", "--no-evppi"], ["dsa"]):
        result = runner.invoke(main, [*command, str(path)], catch_exceptions=False)
        assert result.exit_code == 0, (command, result.output)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["$x^$", "\\notacommand", "$\\notacommand$", "Price $5 to $10"])
def test_chart_text_from_the_workbook_is_drawn_literally(tmp_path, name):
    import numpy as np
    import pandas as pd

    from ifpp_econ.outputs.run_folder import RunFolder

    ceac = pd.DataFrame({"wtp": [0.0, 1e4], name: [0.2, 0.6], "Usual care": [0.8, 0.4],
                         "frontier_probability": [0.8, 0.6]})
    trace = pd.DataFrame({"strategy": [name] * 3, "month": [0, 1, 2], "at_home": [1.0, 0.9, 0.8],
                          "in_care": [0.0, 0.1, 0.2], "returned_home": [0.0] * 3, "left_care": [0.0] * 3})
    run = RunFolder("run", root=tmp_path)
    run.figure("ceac", charts.ceac_chart(ceac, [name, "Usual care"]))
    run.figure("trace", charts.trace_chart(trace, conventions=name))
    run.figure("plane", charts.ce_plane(np.array([0.1, 0.2]), np.array([-100.0, 50.0]), 5e4, name, "Usual care"))
    dest = run.commit()  # drawing (PNG and SVG) raises no mathtext error
    assert all((dest / f"{c}.{e}").stat().st_size > 0 for c in ("ceac", "trace", "plane") for e in ("png", "svg"))


@pytest.mark.parametrize("a, b", [(0.0177, 1e308), (1e-9, 1)])
def test_distribution_too_extreme_to_sample(template, a, b):
    r = row_of("annual_risk_after_24m")
    edit(template, ("Parameters", f"F{r}", "beta_alpha_beta"), ("Parameters", f"G{r}", a), ("Parameters", f"H{r}", b))
    assert f"Parameters!F{r}: beta_alpha_beta" in problems(template) and "draws cannot be computed" in problems(template)


@pytest.mark.slow
@pytest.mark.parametrize("name, col, value, expect", [
    ("annual_risk_after_24m", "C", 1, "a probability of entering care must be below 1"),
    ("risk_24m", "J", 1, "found 1 for risk_24m's high; a probability of entering care must be below 1"),
    ("risk_12m", "C", 0, "risk_12m must be above 0"),
])
def test_entry_risks_that_the_model_cannot_follow(template, name, col, value, expect):
    changes = [("Parameters", f"{col}{row_of(name)}", value)]
    if name == "risk_12m":  # keep the curve ordered, so only the rule under test fires
        changes += [("Parameters", f"C{row_of(n)}", 0) for n in ("risk_3m", "risk_6m")]
    edit(template, *changes)
    assert f"Parameters!{col}{row_of(name)}: " in problems(template) and expect in problems(template)
