"""Every documented path works (issue 24): each row of the issue's table, reproduced as a user meets it.

A workbook is edited as a user would (openpyxl, or the stored XML for what only another program writes), then
run through the command line in-process. Exit codes: 0 success, 2 a problem the user can fix (with its file,
sheet and cell), never 1 (a bug), never a traceback.
"""
from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ifpp_econ.cli import main
from ifpp_econ.exceptions import WorkbookError
from ifpp_econ.inputs.reader import read_workbook
from ifpp_econ.inputs.template import write_template


def run(*args):
    """The command line in-process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def header_column(ws, name):
    for row in ws.iter_rows(min_row=1, max_row=5):
        for cell in row:
            if cell.value == name:
                return cell.column, cell.row
    raise KeyError(name)


def key_row(ws, key, column=1):
    for row in ws.iter_rows(min_row=1):
        if row[column - 1].value == key:
            return row[0].row
    raise KeyError(key)


def edited(path: Path, edit) -> Path:
    wb = load_workbook(path)
    edit(wb)
    wb.save(path)
    return path


def set_cell(wb, sheet, key, column, value):
    ws = wb[sheet]
    j, _ = header_column(ws, column)
    ws.cell(key_row(ws, key), j).value = value


def problems(path) -> str:
    with pytest.raises(WorkbookError) as err:
        read_workbook(path)
    return "\n".join(err.value.problems)


@pytest.fixture
def template(tmp_path):
    return write_template(tmp_path / "my.xlsx")


# -- row 1: EVPPI on discrete structural draws ---------------------------------------------------------------------
@pytest.mark.slow
def test_model_averaged_psa_exits_0_with_the_evppi_of_the_structural_choices(tmp_path):
    import json

    code, out, err = run("psa", "-n", 400, "--seed", 3, "--structural", "model_averaged", "--json", "--out", tmp_path / "a")
    assert code == 0, err
    data = json.loads(out)
    names = {row["parameter"] for row in data["evppi"]}
    assert {"structure:after_effect", "structure:no_effect", "group: structural choices"} <= names
    assert all(np.isfinite(row["evppi_per_child"]) and row["evppi_per_child"] >= 0 for row in data["evppi"])


def test_evppi_of_a_discrete_column_is_exact_conditioning_and_a_constant_column_gives_zero():
    from ifpp_econ.analyses import voi

    rng = np.random.default_rng(1)
    code = rng.integers(0, 3, 6000)
    inb = np.where(code == 0, -100.0, np.where(code == 1, 50.0, 400.0)) + rng.normal(0, 30, 6000)
    nb = np.stack([np.zeros(6000), inb])
    means = np.array([inb[code == k].mean() for k in range(3)])
    exact = np.maximum(means, 0.0)[code].mean() - max(0.0, inb.mean())  # E[max(0, E[INB | code])] − max(0, E[INB])
    got = voi.evppi(code.astype(float), nb)
    assert got["evppi"] == pytest.approx(exact, rel=1e-9) and got["method"] == "group means (discrete)"
    assert voi.evppi(np.full(6000, 0.3), nb)["evppi"] == 0.0


@pytest.mark.slow
def test_report_on_a_model_averaged_workbook_exits_0(tmp_path, template):
    edited(template, lambda wb: set_cell(wb, "Settings", "psa_structural", "value", "model_averaged"))
    code, out, err = run("report", template, "-n", 300, "--out", tmp_path / "r")
    assert code == 0, err


# (rows 2, 6 and calibrate's option ranges of row 7 are tested in tests/test_calibrate.py)


# -- row 3: the after-effect weights all 0 ------------------------------------------------------------------------
def test_after_effect_weights_all_zero_are_a_validator_rule_with_a_cell(template):
    def zero(wb):
        for name in ("weight_effect_stops", "weight_gap_persists", "weight_catch_up"):
            set_cell(wb, "Settings", name, "value", 0)
    edited(template, zero)
    text = problems(template)
    assert re.search(r"Settings!B\d+: the after-effect weights .*sum to 0", text), text


# -- row 4: a value typed on the Key inputs sheet ------------------------------------------------------------------------
def test_a_value_typed_over_a_key_input_is_refused_with_where_to_type_it(template):
    def type_over(wb):
        ws = wb["Key inputs"]
        row = key_row(ws, "IFPP cost per family (£ per episode)")
        ws.cell(row, 2).value = 8000
    edited(template, type_over)
    text = problems(template)
    assert re.search(r"Key inputs!B\d+: found 8000 typed over the link to Parameters!C\d+; .*type the IFPP cost per family "
                     r"\(£ per episode\) in Parameters!C\d+", text), text


def test_the_key_inputs_sheet_is_protected_and_the_yellow_cells_are_not(template):
    wb = load_workbook(template)
    assert wb["Key inputs"].protection.sheet
    assert not wb["Parameters"].protection.sheet


# -- row 5: an edited value whose source was not updated ------------------------------------------------------------------
def test_an_edited_value_with_its_old_source_is_flagged_with_the_source_cell(template):
    edited(template, lambda wb: set_cell(wb, "Parameters", "cost_residential", "value", 5200))
    inputs = read_workbook(template)
    warning = next(w for w in inputs.warnings if "cost_residential" in w)
    assert re.search(r"Parameters!C\d+: cost_residential is 5200 .*source .*update the source in Parameters!K\d+ and the status to "
                     r"L or E", warning), warning
    assert inputs.parameters.loc["cost_residential", "edited"] and not inputs.parameters.loc["cost_ifa", "edited"]


@pytest.mark.slow
def test_the_report_marks_an_edited_value_whose_source_was_not_updated(template, tmp_path):
    import pandas as pd

    edited(template, lambda wb: set_cell(wb, "Parameters", "cost_residential", "value", 5200))
    code, out, err = run("report", template, "-n", 300, "--out", tmp_path / "r")
    assert code == 0, err
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "F/D — edited; source not updated" in html and "Edited; source not updated:</strong> cost_residential" in html
    table = pd.read_csv(tmp_path / "r" / "parameters.csv").set_index("name")
    assert table.loc["cost_residential", "check"] == "edited; source not updated"
    assert table["check"].fillna("").astype(bool).sum() == 1


def test_a_value_edited_with_a_new_source_is_not_flagged(template):
    def local(wb):
        set_cell(wb, "Parameters", "cost_residential", "value", 5200)
        set_cell(wb, "Parameters", "cost_residential", "source", "Our 2024/25 contracts")
        set_cell(wb, "Parameters", "cost_residential", "status", "L")
    edited(template, local)
    inputs = read_workbook(template)
    assert not [w for w in inputs.warnings if "cost_residential" in w]
    assert not inputs.parameters["edited"].any()


# -- row 7: option ranges and a closed stdout ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_closed_stdout_is_not_a_bug():
    script = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-m', 'ifpp_econ', 'validate'], "
              "stdout=subprocess.PIPE, stderr=subprocess.PIPE); p.stdout.close(); err = p.stderr.read().decode(); "
              "code = p.wait(); print(code); print(err)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    code, _, err = done.stdout.partition("\n")
    assert int(code) == 0 and "internal error" not in err and "Traceback" not in err


# -- row 8: small Dirichlet effective sample sizes -------------------------------------------------------------------
@pytest.mark.parametrize("setting", ["placement_mix_effective_n", "age_mix_effective_n"])
def test_a_tiny_effective_sample_size_is_refused_at_its_setting_cell(template, setting):
    edited(template, lambda wb: set_cell(wb, "Settings", setting, "value", 0.05))
    assert re.search(rf"Settings!B\d+: found 0.05 for {setting}; allowed: 0 \(fixed shares\) or at least 0.1", problems(template))


# -- row 9: two share columns headed with the same band --------------------------------------------------------------------
def test_two_placement_mix_columns_with_the_same_band_are_refused(template):
    def copy_column(wb):
        ws = wb["Placement mix"]
        j, r = header_column(ws, "0-4")
        new = ws.max_column + 1
        for row in range(r, r + 9):
            ws.cell(row, new).value = ws.cell(row, j).value
    edited(template, copy_column)
    assert re.search(r"Placement mix!C1 and Placement mix!\w+1: two columns headed '0-4'", problems(template))


# -- row 10: a renamed optional header ---------------------------------------------------------------------------------------------
def test_a_renamed_payer_header_is_refused_not_replaced_by_the_default(template):
    def rename(wb):
        ws = wb["Parameters"]
        j, r = header_column(ws, "payer")
        ws.cell(r, j).value = "paid by"
        ws.cell(key_row(ws, "la_legal_cost_proceedings"), j).value = "HMCTS"
    edited(template, rename)
    assert re.search(r"Parameters!\w+1: found the header 'paid by'; expected 'payer'", problems(template))


# -- row 11: a scenario that breaks the model's structure ----------------------------------------------------------------------------
def test_a_scenario_return_support_months_above_12_is_refused_at_its_cell(template):
    def add(wb):
        ws = wb["Scenarios"]
        row = next(r for r in range(2, ws.max_row + 2) if ws.cell(r, 1).value is None)
        for j, v in enumerate(["long support", "return_support_months", 13], start=1):
            ws.cell(row, j).value = v
    edited(template, add)
    assert re.search(r"Scenarios!C\d+: scenario 'long support': found 13 for return_support_months; allowed: 0 to 12",
                     problems(template))


# -- row 12: a stored NaN; a cost multiplier of 0 ----------------------------------------------------------------------------------------
def _store_nan(path: Path, sheet: str, cell: str) -> Path:
    """Write ``NaN`` as a cell's stored number, as some programs do (Excel and openpyxl never write it)."""
    wb = load_workbook(path)
    index = wb.sheetnames.index(sheet) + 1
    target = path.with_name("nan.xlsx")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == f"xl/worksheets/sheet{index}.xml":
                data = re.sub(rf'<c r="{cell}"[^>]*?(/>|>.*?</c>)'.encode(), f'<c r="{cell}" t="n"><v>NaN</v></c>'.encode(),
                              data, count=1)
            dst.writestr(info, data)
    return target


def test_a_stored_nan_is_reported_at_its_cell(template):
    path = _store_nan(template, "Parameters", "C34")
    assert re.search(r"Parameters!C34: found NaN \(not a number\)", problems(path))


@pytest.mark.slow
def test_a_cost_multiplier_of_zero_warns_that_break_even_is_undefined(template, tmp_path):
    import json

    edited(template, lambda wb: set_cell(wb, "Strategies", "IFPP", "cost_multiplier", 0))
    inputs = read_workbook(template)
    assert any("cost_multiplier" in w and "max_affordable_cost_per_family" in w for w in inputs.warnings)
    code, out, err = run("run", template, "--json", "--out", tmp_path / "o")
    assert code == 0 and json.loads(out)["max_affordable_cost_per_family"] is None


# -- row 13: messages -------------------------------------------------------------------------------------------------------------------
def test_a_negative_cost_is_reported_once_not_also_at_its_untouched_low_cell(template):
    edited(template, lambda wb: set_cell(wb, "Parameters", "cost_kinship", "value", -5))
    text = problems(template)
    assert re.search(r"Parameters!C\d+: found -5; allowed for GBP/week/child: ≥ 0 and ≤ 1,000,000,000", text)
    assert len(text.splitlines()) == 1 and "'s low" not in text


def test_a_deleted_parameter_row_gets_no_invalid_did_you_mean(template):
    edited(template, lambda wb: wb["Parameters"].delete_rows(key_row(wb["Parameters"], "cost_residential")))
    text = problems(template)
    assert "parameter cost_residential is missing" in text
    assert "did you mean mix:" not in text and "threshold_parameters" not in text


def test_a_renamed_sheet_gets_a_did_you_mean(template):
    def rename(wb):
        wb["Placement mix"].title = "tmp"  # openpyxl compares titles without case
        wb["tmp"].title = "Placement Mix"
    edited(template, rename)
    assert re.search(r"Placement mix: sheet missing; found a sheet named 'Placement Mix' — did you mean 'Placement mix'\?",
                     problems(template))


def test_a_share_sum_names_the_cells_that_hold_the_shares(template):
    def share(wb):
        ws = wb["Age bands"]
        j, r = header_column(ws, "share")
        ws.cell(r + 1, j).value = 0.9
    edited(template, share)
    assert re.search(r"Age bands!C2:C4: shares sum to 1.6", problems(template))


@pytest.mark.slow
@pytest.mark.parametrize("args", [["dsa", "--outcome", "nmb", "--wtp", "£50,000"], ["budget", "-n", "0", "--referrals", "1,200"],
                                  ["psa", "-n", "1,000", "--seed", "1,234"]])
def test_numeric_options_accept_pounds_percent_and_thousands_separators(tmp_path, args):
    code, out, err = run(*args, "--out", tmp_path / "o")
    assert code == 0, err


def test_a_numeric_option_with_a_decimal_comma_is_refused_with_both_readings(tmp_path):
    code, out, err = run("dsa", "--outcome", "nmb", "--wtp", "50,5", "--out", tmp_path / "o")
    assert code == 2 and "50.5" in err and "505" in err
