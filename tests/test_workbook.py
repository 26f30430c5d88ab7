"""The parameter workbook: template, reading typed values, cell-addressed errors, never modifying the input."""
import hashlib
import shutil
import subprocess
import zipfile

import pytest
from openpyxl import load_workbook

from ifpp_econ import schema
from ifpp_econ.workbook import WorkbookError, parse_number, read_workbook, write_template


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
    assert inputs.parameters.loc["mix:residential", "group"] == "placement_mix"
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


@pytest.mark.parametrize("cell_edits, expected", [
    ({"F": "beta_mean_se", "G": 0.9}, "SE"),  # infeasible beta SE for share_entries_with_proceedings
    ({"I": 0.7, "J": 0.9}, "low 0.7 ≤ value 0.6"),
])
def test_distribution_and_range_rules(template, cell_edits, expected):
    row = param_row("share_entries_with_proceedings")
    for col, v in cell_edits.items():
        edit(template, "Parameters", f"{col}{row}", v)
    assert any(expected in p and "Parameters!" in p for p in problems(template))


def test_shares_must_sum_to_one(template):
    edit(template, "Placement mix", "C2", 0.5)
    assert any("Placement mix!C:C: shares sum to 1.27" in p for p in problems(template))


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
    assert "Parameters!1:1: missing column(s) value" in text


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
