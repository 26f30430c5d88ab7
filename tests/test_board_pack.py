"""results.xlsx as a board pack (issue 28): it prints in at most 25 A4 pages, the budget is a short board
table, the native tornado labels every bar with its range in £ and %, and every footer states the
conventions of what it shows (no discount rates under undiscounted cash)."""
from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from types import SimpleNamespace

import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ifpp_econ.analyses.budget import run_budget
from ifpp_econ.cli import main
from ifpp_econ.model.spec import build_spec
from ifpp_econ.outputs import presentation, xlsx
from ifpp_econ.outputs.writers import format_budget, psa_conventions
from ifpp_econ.outputs.xlsx import budget_board, write_results_xlsx

MAX_PAGES = 25


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def _to_pdf(xlsx_path, out_dir) -> bytes:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed; .ci/run installs it")
    result = subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{out_dir}/profile", "--convert-to",
                             "pdf", "--outdir", str(out_dir), str(xlsx_path)], capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return (out_dir / "results.pdf").read_bytes()


def _pages_per_sheet(pdf_path) -> dict[str, int]:
    """Pages of each sheet, read from the footers "sheet — page x of y" (needs pdftotext)."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True).stdout
    counts: dict[str, int] = {}
    for page in text.split("\f"):
        found = re.findall(r"(\S[^\n]*?) — page \d+ of \d+", page)
        if found:
            sheet = found[-1].strip()
            counts[sheet] = counts.get(sheet, 0) + 1
    return counts


@pytest.mark.slow
def test_report_results_xlsx_prints_in_at_most_25_pages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["report", "-n", "2000", "--out", "r"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    pdf = _to_pdf(tmp_path / "r" / "results.xlsx", tmp_path)
    pages = _pdf_pages(pdf)
    assert 15 <= pages <= MAX_PAGES, pages
    if shutil.which("pdftotext"):
        per_sheet = _pages_per_sheet(tmp_path / "results.pdf")
        assert sum(per_sheet.values()) == pages
        for sheet in ("Budget", "Tornado (one-way)", "Budget detail", "Cohort trace", "CE plane points",
                      "Two-way sensitivity", "Data dictionary"):
            assert per_sheet[sheet] == 1, (sheet, per_sheet)  # a data sheet prints its note (and chart) only
    wb = load_workbook(tmp_path / "r" / "results.xlsx")
    data = ["Budget detail", "Cohort trace", "CE plane points", "Two-way sensitivity", "Data dictionary"]
    assert wb.sheetnames[-len(data):] == data  # data sheets last, visible
    assert all(wb[name].sheet_state == "visible" for name in data)


@pytest.mark.slow
def test_a_workbook_asking_for_evsi_still_prints_in_at_most_25_pages(tmp_path, monkeypatch):
    from ifpp_econ.inputs.template import write_template

    monkeypatch.chdir(tmp_path)
    path = write_template(tmp_path / "trial.xlsx")
    wb = load_workbook(path)
    ws = wb["Settings"]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "evsi_sample_sizes")
    ws.cell(row, 2).value = "25, 100, 400, 1600"
    wb.save(path)
    result = CliRunner().invoke(main, ["report", str(path), "-n", "2000", "--out", "r"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    pages = _pdf_pages(_to_pdf(tmp_path / "r" / "results.xlsx", tmp_path))
    assert pages <= MAX_PAGES, pages
    if shutil.which("pdftotext"):
        assert _pages_per_sheet(tmp_path / "results.pdf")["EVPPI and EVSI"] == 1  # the two VOI tables share a page
    summary = load_workbook(tmp_path / "r" / "results.xlsx")["Summary"]
    header = next(r for r in range(1, summary.max_row + 1) if summary.cell(r, 2).value == "Savings per child (£)")
    assert summary.row_dimensions[header].height >= 29  # a wrapped key-figure header gets its two lines


# -- the budget's board table ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def budget_table(default_inputs):
    return run_budget(default_inputs, iterations=60, seed=5).table()


def _write(tmp_path, tables, summary=(("Workbook setting: analysis_price_year", "2023/24"),), context=None):
    path = tmp_path / "results.xlsx"
    write_results_xlsx(path, tables, list(summary), context)
    return load_workbook(path), path


def _rows(ws) -> list[list]:
    return [[c.value for c in row] for row in ws.iter_rows()]


BOARD_HEADERS = ["Year", "Extra programme spend (£)", "Costs avoided (£)", "Net saving (£)", "Cumulative net saving (£)",
                 "Cumulative net saving, 2.5th percentile (£)", "Cumulative net saving, 97.5th percentile (£)",
                 "Probability cumulative saving > 0"]


CASH_COLUMNS = ["cashable_savings", "notional_savings", "cumulative_cash_net_saving"]


@pytest.mark.slow
def test_budget_board_table_is_short_with_a_total_and_the_detail_apart(tmp_path, budget_table):
    budget_table = budget_table.drop(columns=CASH_COLUMNS)  # a table that does not split its savings
    assert len(budget_table.columns) == 28  # 7 cost categories × 2 strategies, year, net and interval columns
    wb, _ = _write(tmp_path, {"budget_by_year": budget_table})
    assert wb.sheetnames == ["Summary", "Budget", "Budget detail", "Data dictionary"]
    board = wb["Budget"]
    rows = _rows(board)
    years = len(budget_table)
    assert [v for v in rows[0] if v is not None] == BOARD_HEADERS
    assert [r[0] for r in rows[1:years + 1]] == list(range(1, years + 1))
    total = rows[years + 1]
    assert total[0] == f"Total, years 1–{years}"
    for j, name in ((1, "programme_spend"), (2, "costs_avoided"), (3, "net_saving")):
        assert total[j] == pytest.approx(budget_table[name].sum())
        assert [r[j] for r in rows[1:years + 1]] == pytest.approx(budget_table[name].tolist())
    assert [r[5] for r in rows[1:years + 1]] == pytest.approx(budget_table["cumulative_lower"].tolist())
    assert total[3] == pytest.approx(budget_table["cumulative_net_saving"].iloc[-1])
    notes = " ".join(str(r[0]) for r in rows[years + 2:] if isinstance(r[0], str))
    assert "undiscounted cash, 2023/24 prices" in notes and "discount rate" not in notes
    assert "Payback year: 2" in notes and "Budget detail" in notes and "Cashable" not in notes
    assert board.page_setup.fitToWidth == 1 and board.page_setup.fitToHeight == 1  # one A4 page, its chart included
    assert board.print_title_rows.replace("$", "") == "1:1" and len(board._charts) == 1
    detail = wb["Budget detail"]
    assert detail.max_column >= 26 and detail.cell(1, 1).value == "Year"
    note_cell = detail.print_area.split("!")[-1].replace("$", "")
    assert ":" not in note_cell or note_cell.split(":")[0] == note_cell.split(":")[1]  # a single note cell is printed
    assert "data sheet, not printed" in detail[note_cell.split(":")[0]].value


def test_budget_board_table_shows_cashable_and_notional_savings_when_the_table_has_them(tmp_path, budget_table):
    table = budget_table
    board = budget_board(table)
    assert list(board.columns[:5]) == ["year", "programme_spend", "costs_avoided", "cashable_savings", "notional_savings"]
    cashable, notional = table["cashable_savings"].sum(), table["notional_savings"].sum()
    assert board["cashable_savings"].iloc[-1] == pytest.approx(cashable)
    assert cashable + notional == pytest.approx(table["costs_avoided"].sum(), rel=1e-12) and notional > 0
    wb, _ = _write(tmp_path, {"budget_by_year": table})
    rows = _rows(wb["Budget"])
    assert rows[0][3:5] == ["Cashable savings (£)", "Notional savings (£)"]
    years = len(table)
    assert rows[years + 1][4] == pytest.approx(notional)
    assert all(c.number_format.startswith('"£"') for c in wb["Budget"]["D"][1:years + 2])
    assert any(isinstance(r[0], str) and r[0].startswith("Cashable savings release money") for r in rows)
    summary = {r[0]: r[1] for r in _rows(wb["Summary"]) if r[0]}
    assert summary["Cashable savings (£)"] == pytest.approx(cashable)
    assert summary["Payback year on cash alone (cashable savings only)"] == xlsx.cash_payback(table)


def test_budget_board_without_a_psa_has_no_interval_columns(tmp_path, default_inputs):
    table = run_budget(default_inputs, iterations=0).table()
    board = budget_board(table)
    assert list(board.columns) == ["year", "programme_spend", "costs_avoided", "cashable_savings", "notional_savings",
                                   "net_saving", "cumulative_net_saving"]
    wb, _ = _write(tmp_path, {"budget_by_year": table})
    assert not any("percentile" in str(v) for v in _rows(wb["Budget"])[0])


# -- conventions ---------------------------------------------------------------------------------------
def test_budget_footer_states_undiscounted_cash_and_no_discount_rate(default_inputs):
    spec = build_spec(default_inputs)
    conventions = spec.describe_conventions()
    assert "discount rates" in conventions  # what the model's footer says, and the budget's must not
    summary = run_budget(default_inputs, iterations=0).to_json()
    text = format_budget(summary, conventions, spec.price_year)
    footer = text.splitlines()[-1]
    assert footer.startswith(f"Conventions: undiscounted cash, {spec.price_year} prices")
    assert "discount rate" not in footer and "(1+r)" not in footer and "%" not in footer
    assert "GBP per child" not in footer and "not per child" in footer
    assert "effect model single_rr" in footer and "local authority perspective" in footer  # what applies is kept
    assert "discount" not in presentation.budget_basis("2023/24", conventions).replace("not discounted", "").replace(
        "undiscounted", "")


def test_model_averaged_psa_names_no_single_after_effect_assumption():
    conventions = "monthly cycles; effect model single_rr, after the effect effect_stops; local authority perspective"
    single = SimpleNamespace(structural=None, after_effect="effect_stops")
    averaged = SimpleNamespace(structural={"weights": {}}, after_effect="effect_stops")
    assert psa_conventions(conventions, single) == conventions
    text = psa_conventions(conventions, averaged)
    assert "after the effect effect_stops" not in text and "after the effect model-averaged" in text


def test_report_summary_separates_per_child_and_budget_conventions():
    model = "monthly cycles; discount rates 3.50% (costs), 3.50% (outcomes) a year, factor (1+r)^-(months/12); " \
            "costs in 2023/24 GBP per child"
    summary = [("Conventions", model), ("Tool", "ifpp-econ"), ("Workbook setting: analysis_price_year", "2023/24")]
    rows = dict(xlsx.summary_rows({"incremental": pd.DataFrame(), "budget_by_year": pd.DataFrame()}, summary))
    assert rows["Conventions (per-child results)"] == model and "Conventions" not in rows
    assert rows["Budget conventions"].startswith("undiscounted cash, 2023/24 prices")
    assert "discount rate" not in rows["Budget conventions"] and "GBP per child" not in rows["Budget conventions"]
    budget_run = [("Conventions", presentation.budget_basis("2023/24", model)), ("Tool", "ifpp-econ")]
    assert xlsx.summary_rows({"budget_by_year": pd.DataFrame()}, budget_run) == budget_run  # a budget run's own


# -- the native tornado --------------------------------------------------------------------------------
def _tornado_tables(n: int) -> dict[str, pd.DataFrame]:
    params = pd.DataFrame({"name": ["ifpp_cost_per_family", "risk_12m", "effect_duration_months", "rr_12m"],
                           "label": ["IFPP cost per family", "Usual-care 12-month risk", "Duration of the IFPP effect",
                                     "RR of placement at 12 months"],
                           "unit": ["GBP/episode/family", "probability", "months", "relative risk"]})
    rows = [("risk_12m", "Usual-care 12-month risk", 0.3, 0.2, 0.57, 5680.0, 19993.0),
            ("ifpp_cost_per_family", "IFPP cost per family", 5000.0, 2500.0, 9000.0, 10313.0, 8072.0),
            ("effect_duration_months", "Duration of the IFPP effect", 24.0, 12.0, 60.0, 7218.0, 11203.0),
            ("rr_12m", "RR of placement at 12 months", 0.6, 0.48, 0.76, 12803.0, 4981.0)]
    tornado = pd.DataFrame([{"parameter": p, "label": lab, "base": b, "low": lo, "high": hi, "range_source": "workbook",
                             "moves": p, "outcome_low": ol, "outcome_high": oh, "swing": abs(oh - ol)}
                            for p, lab, b, lo, hi, ol, oh in rows[:n]])
    return {"tornado": tornado, "parameters": params}


def _chart_xml(path) -> list[str]:
    with zipfile.ZipFile(path) as z:
        return [z.read(n).decode() for n in sorted(z.namelist()) if n.startswith("xl/charts/chart")]


def _drawing_heights(path) -> list[int]:
    with zipfile.ZipFile(path) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/drawings/drawing"))
    return [int(v) for v in re.findall(r'<(?:xdr:)?ext cx="\d+" cy="(\d+)"', xml)]


def test_native_tornado_categories_are_string_references_labelled_with_pounds_and_percent(tmp_path):
    _, path = _write(tmp_path, _tornado_tables(4), context={"dsa_outcome": "savings", "dsa_base_outcome": 9451.0})
    xml = re.sub(r"<(/?)c:", r"<\1", next(x for x in _chart_xml(path) if "One-way sensitivity" in x))
    cats = re.findall(r"<cat>(.*?)</cat>", xml, re.S)
    assert len(cats) == 2 and all(c.strip().startswith("<strRef>") and "<numRef>" not in c for c in cats)
    assert re.search(r'<tickLblSkip val="1"\s*/>', xml)
    ref = re.search(r"<strRef>\s*<f>([^<]+)</f>", cats[0]).group(1)
    wb = load_workbook(path)
    sheet, cells = ref.rsplit("!", 1)
    ws = wb[sheet.strip("'")]
    first, last = cells.replace("$", "").split(":")
    labels = [c.value for row in ws[first:last] for c in row]
    assert labels == ["RR of placement at 12 months (0.48 to 0.76)", "Duration of the IFPP effect (12 to 60 months)",
                      "IFPP cost per family (£2,500 to £9,000)", "Usual-care 12-month risk (20% to 57%)"]
    assert all(isinstance(v, str) for v in labels)


def test_native_tornado_grows_a_bar_height_per_parameter(tmp_path):
    heights = []
    for n in (2, 4):
        folder = tmp_path / str(n)
        folder.mkdir()
        _, path = _write(folder, _tornado_tables(n), context={"dsa_base_outcome": 9451.0})
        heights.append(_drawing_heights(path)[0])
    per_bar = (heights[1] - heights[0]) / 2 / 360000  # EMU → cm
    assert per_bar == pytest.approx(xlsx.TORNADO_BAR_CM, rel=0.01)
