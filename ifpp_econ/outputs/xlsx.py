"""results.xlsx: a board pack that prints on A4, and the data behind it.

Sheets, in order: Summary (key figures as numbers, headline sentences, the run's settings), one
formatted sheet per table in the run's order — the base case's small decision tables together on one
sheet (:data:`GROUPS`), the budget as a short board table ("Budget": a row per year and a total) —
and last the data-only sheets (:data:`DATA_TABLES`, and any table longer than :data:`DATA_ROWS`
rows: the budget's detail, the cohort trace, the CE plane points, the two-way grid, the data
dictionary). A data sheet stays visible and whole, but its print area is a note saying it is not
printed, with the chart or the compact grid drawn from it, so that it prints as one page.

Every printed sheet: human headers and sheet names (from :mod:`ifpp_econ.outputs.presentation`), a
number format on every numeric cell, a frozen and repeated header row, column widths, A4 in the
orientation its printed width suits, fitted to the page width (and to a whole number of pages tall
when it runs just over), and the footer "sheet — page x of y". Wide tables of one or two rows (the
base case, the incremental results) are written transposed, one measure per row; measures named in
a row (PSA tables, decision ratios) show their label and unit.

Native charts (restylable in Excel/LibreOffice) reference the sheets' own cells: a tornado whose bars
start at the base case, one category per parameter labelled with its range in its unit ("IFPP cost per
family (£2,500 to £9,000)"; string references, and a height per bar, so that LibreOffice labels every
bar), the CEAC on 0–100%, the CE plane, the cohort trace and the budget by year. Text is stored as
text, never as a formula; equal content gives equal bytes (fixed timestamps).
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import presentation

HEADER_FILL = "DDEBF7"
PALETTE = ["0072B2", "E69F00", "009E73", "CC79A7", "56B4E9", "D55E00"]  # Okabe–Ito, as in the PNG charts
MAX_WIDTH = 48
HEADER_WIDTH = 12  # a column is at least this wide for its header (longer headers wrap)

# Data-only sheets, last in the workbook in this order and not printed (a note page instead); a table
# longer than DATA_ROWS rows (e.g. PSA iteration samples) is a data sheet too.
DATA_TABLES = ("budget_detail", "cohort_trace", "ce_plane", "two_way", "psa_samples", "iterations", "data_dictionary")
DATA_ROWS = 250
# Small tables printed together on one sheet (named after the first), each under its caption, as in report.html.
GROUPS = {"decision_ratios": (("decision_ratios", "Decision ratios (placements counted undiscounted)"),
                              ("headline_range", "The headline's structural range: savings per child by assumption "
                                                 "after the effect (the evidence covers 24 months), effect at child or "
                                                 "family level"),
                              ("by_perspective", "Savings by perspective"),
                              ("by_age_band", "By age band at referral (each band followed to age 18)")),
          "consequences": (("outcomes", "Children's outcomes, base case (per child referred, undiscounted, to age 18; "
                                        "the DfE National Framework outcome each informs)"),
                           ("psa_outcomes", "Children's outcomes, PSA: means and 95% intervals"),
                           ("by_payer", "Who pays and who saves: discounted cost per child by payer, base case"),
                           ("psa_by_payer", "Who pays and who saves, PSA: means and 95% intervals of the savings"),
                           ("budget_by_payer", "Who pays and who saves in the budget: undiscounted cash over its "
                                               "years")),
          "value_of_information": (("evppi", "EVPPI: the value of learning each parameter or group exactly, per child "
                                             "referred, at the workbook's willingness to pay"),
                                   ("evsi", "EVSI: the value of a two-arm trial of each size, per child referred, and "
                                            "its expected net benefit of sampling (ENBS) for the local authority"))}
ONE_PAGE = ("consequences",)  # groups printed on one page (their tables are short; wrapped headers run them over)
# Tables this wide and this short are written transposed (a measure per row) so that they print readably.
TRANSPOSE_COLUMNS, TRANSPOSE_ROWS = 10, 4

# Page geometry: A4 less the margins set in _print_setup, in pixels at 96 an inch; column widths convert as in
# Excel (7 px a character + 5), rows without a set height count as ROW_PX.
MARGIN_SIDE, MARGIN_END = 0.4, 0.6
PAGE_PX = {"portrait": ((8.27 - 2 * MARGIN_SIDE) * 96, (11.69 - 2 * MARGIN_END) * 96),
           "landscape": ((11.69 - 2 * MARGIN_SIDE) * 96, (8.27 - 2 * MARGIN_END) * 96)}
ROW_PX = 18
PORTRAIT_UP_TO = 1.06  # portrait while the printed width is at most this many portrait page widths
SHRINK_TO_PAGE = 0.3  # fitted to n pages tall when it runs at most this far into page n + 1
FOOTER = "&A — page &P of &N"


def _sheet_title(name: str, used: set[str]) -> str:
    """A unique, valid sheet name (≤ 31 characters, no []:*?/\\) from the table's human label."""
    label = presentation.TABLES.get(name, (name, None))[0]
    base = "".join("_" if ch in '[]:*?/\\' else ch for ch in label)[:31] or "Sheet"
    title, n = base, 2
    while title in used:
        title = f"{base[:28]}-{n}"
        n += 1
    used.add(title)
    return title


def _store(cell, value, fmt: str | None = None) -> None:
    """Put a value in a cell: text always as text (never a formula), numbers as numbers with a format."""
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        value = None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"
    else:
        cell.value = value
        if fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
            cell.number_format = fmt


# -- page geometry and printing --------------------------------------------------------------------
def _letter(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


def _width(ws, col: int) -> float:
    """A column's width in characters (the default 8.43 when not set)."""
    letter = _letter(col)
    return float((ws.column_dimensions[letter].width if letter in ws.column_dimensions else None) or 8.43)


def _column_px(ws, col: int) -> float:
    return 7 * _width(ws, col) + 5


def _row_px(ws, row: int) -> float:
    height = ws.row_dimensions[row].height if row in ws.row_dimensions else None
    return float(height) * 96 / 72 if height else ROW_PX


def _cells_under(ws, col: int, row: int, width_cm: float, height_cm: float) -> tuple[int, int]:
    """The last column and row that a chart of this size anchored at (``col``, ``row``) covers."""
    need, last_col = width_cm / 2.54 * 96, col
    while need > _column_px(ws, last_col):
        need -= _column_px(ws, last_col)
        last_col += 1
    need, last_row = height_cm / 2.54 * 96, row
    while need > _row_px(ws, last_row):
        need -= _row_px(ws, last_row)
        last_row += 1
    return last_col, last_row


def _area(first_col: int, first_row: int, last_col: int, last_row: int) -> str:
    return f"{_letter(first_col)}{first_row}:{_letter(last_col)}{last_row}"


def _print_setup(ws, orientation: str = "landscape", pages_tall: int = 0, title_rows: str | None = "1:1") -> None:
    """A4 in ``orientation``, one page wide and ``pages_tall`` pages tall (0: as many as needed), the header row
    repeated on every page and the footer "sheet — page x of y"."""
    ws.page_setup.orientation = orientation
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = pages_tall
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = MARGIN_SIDE
    ws.page_margins.top = ws.page_margins.bottom = MARGIN_END
    ws.page_margins.header = ws.page_margins.footer = 0.3
    ws.oddFooter.center.text = FOOTER
    if title_rows:
        ws.print_title_rows = title_rows


def fit_to_page(ws, last_col: int, last_row: int, first_col: int = 1, first_row: int = 1,
                title_rows: str | None = "1:1", max_pages_tall: int | None = None) -> tuple[str, int]:
    """Print setup for the block (``first_col``, ``first_row``)–(``last_col``, ``last_row``): portrait when its
    width suits a portrait page, else landscape; fitted to the page width, and to a whole number of pages tall
    when it would run just into another page (or to ``max_pages_tall``). Returns (orientation, pages tall)."""
    width = sum(_column_px(ws, c) for c in range(first_col, last_col + 1))
    orientation = "portrait" if width <= PORTRAIT_UP_TO * PAGE_PX["portrait"][0] else "landscape"
    page_width, page_height = PAGE_PX[orientation]
    scale = min(1.0, page_width / width)
    pages = sum(_row_px(ws, r) for r in range(first_row, last_row + 1)) * scale / page_height
    whole = math.floor(pages)
    tall = whole if whole >= 1 and pages - whole <= SHRINK_TO_PAGE else 0
    if max_pages_tall is not None and (tall == 0 or tall > max_pages_tall):
        tall = max_pages_tall
    _print_setup(ws, orientation, tall, title_rows)
    return orientation, tall


def _header_row(ws, headers: list[str], row: int = 1, first_col: int = 1, right_from: int | None = None) -> None:
    """Bold, shaded, wrapped headers; those from column ``right_from`` on aligned right (over numbers)."""
    from openpyxl.styles import Alignment, Font, PatternFill

    fill = PatternFill("solid", fgColor=HEADER_FILL)
    for j, h in enumerate(headers, start=first_col):
        cell = ws.cell(row, j)
        _store(cell, h)
        cell.font = Font(bold=True)
        cell.fill = fill
        right = right_from is not None and j >= right_from
        cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="right" if right else None)


def _lines(text: str, width: float, bold: bool = False) -> int:
    """Lines that ``text`` takes word-wrapped in a column ``width`` characters wide (proportional text fits about
    15% more characters than the width; bold text about as many)."""
    capacity = max(int(width * (1.0 if bold else 1.15)) - 1, 1)
    total = 0
    for part in str(text).split("\n"):
        lines, used = 1, 0
        for word in part.split(" "):
            size = len(word)
            if used and used + 1 + size > capacity:
                lines, used = lines + 1, 0
            used += size + (1 if used else 0)
            while used > capacity:  # a word longer than a line breaks
                lines, used = lines + 1, used - capacity
        total += lines
    return total


def _height(lines: int) -> float:
    return 14.5 * lines + 1


def _fit_rows(ws, widths: dict[int, float], min_row: int = 1, max_row: int | None = None) -> None:
    """Row heights that show every line of wrapped text (LibreOffice does not grow rows on opening)."""
    for row in ws.iter_rows(min_row=min_row, max_row=max_row):
        lines = 1
        for cell in row:
            if isinstance(cell.value, str) and cell.alignment is not None and cell.alignment.wrap_text:
                bold = bool(cell.font is not None and cell.font.b)
                lines = max(lines, _lines(cell.value, widths.get(cell.column, _width(ws, cell.column)), bold))
        if lines > 1:
            ws.row_dimensions[row[0].row].height = _height(lines)


def _note(ws, row: int, col: int, text: str, span: int = 1, bold: bool = False) -> None:
    """A wrapped line of text at (``row``, ``col``) merged over ``span`` columns, its row tall enough to show it."""
    from openpyxl.styles import Alignment, Font

    cell = ws.cell(row, col)
    _store(cell, text)
    cell.alignment = Alignment(wrap_text=True, vertical="top")
    if bold:
        cell.font = Font(bold=True)
    if span > 1:
        ws.merge_cells(start_row=row, start_column=col, end_row=row, end_column=col + span - 1)
    lines = _lines(text, sum(_width(ws, c) for c in range(col, col + span)), bold)
    if lines > 1:
        ws.row_dimensions[row].height = _height(lines)


# -- table sheets ----------------------------------------------------------------------------------
def _table_block(ws, name: str, df: pd.DataFrame, context: dict | None, top: int = 1) -> dict[int, float]:
    """A table's header row at row ``top`` and its rows below, formatted; returns the widths its columns need.

    Measures named in a row of a row-keyed table (``metric``, ``measure``, ``outcome``) show their label and unit.
    """
    from openpyxl.styles import Alignment

    headers, texts, cols, _ = presentation.display_table(df, name, context)
    _header_row(ws, headers, row=top)
    for j, c in enumerate(df.columns):  # headers over numbers aligned with them, on the right
        if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
            ws.cell(top, j + 1).alignment = Alignment(wrap_text=True, vertical="top", horizontal="right")
    key = presentation.ROW_KEYED.get(name, (None,))[0]
    wrap, at_top = Alignment(wrap_text=True, vertical="top"), Alignment(vertical="top")
    for i, row in enumerate(df.itertuples(index=False)):
        for j, value in enumerate(row):
            col = cols[i][j]
            cell = ws.cell(top + 1 + i, j + 1)
            if df.columns[j] == key and str(value) in presentation.COLUMNS:
                value = presentation.COLUMNS[str(value)].header
            _store(cell, value, presentation.excel_format(col, value))
            long = col.kind == "text" and isinstance(value, str) and len(value) > MAX_WIDTH
            cell.alignment = wrap if long else at_top  # a row's cells start level when one of them wraps
    widths = {}
    for j, h in enumerate(headers):
        words = max((len(w) for w in h.split()), default=0) + 1
        shown = [len(str(ws.cell(top + 1 + i, j + 1).value)) for i in range(min(len(df), 300))] if df.columns[j] == key \
            else [len(t[j]) for t in texts[:300]]
        longest = max(shown + [min(len(h), HEADER_WIDTH), words])
        widths[j + 1] = float(min(max(longest + 2, 9), MAX_WIDTH + 2))
    return widths


def write_table_sheet(ws, name: str, df: pd.DataFrame, context: dict | None = None) -> tuple[int, int]:
    """One table on a sheet: human headers, formatted cells, widths, frozen header; returns its last column and row."""
    widths = _table_block(ws, name, df, context)
    for j, w in widths.items():
        ws.column_dimensions[_letter(j)].width = w
    _fit_rows(ws, widths)
    ws.freeze_panes = "B2" if len(df.columns) > 8 else "A2"
    return len(df.columns), len(df) + 1


def transposed(df: pd.DataFrame) -> bool:
    """Whether a table is written a measure per row: wide, with a few rows of results."""
    return len(df.columns) > TRANSPOSE_COLUMNS and 0 < len(df) <= TRANSPOSE_ROWS


def write_transposed_sheet(ws, name: str, df: pd.DataFrame, context: dict | None = None) -> tuple[int, int]:
    """A wide, short table a measure per row ("Measure", then a column per strategy), each row in its measure's
    format (the CSV keeps the table's own layout); returns its last column and row."""
    from openpyxl.styles import Alignment

    headers, texts, cols, _ = presentation.display_table(df, name, context)
    key = "strategy" if "strategy" in df.columns else df.columns[0]
    k = list(df.columns).index(key)
    names = [texts[i][k] for i in range(len(df))]
    _header_row(ws, ["Measure", *names], right_from=2)
    wrap = Alignment(wrap_text=True, vertical="top", horizontal="right")
    r = 1
    for j, c in enumerate(df.columns):
        if c == key:
            continue
        r += 1
        _store(ws.cell(r, 1), headers[j])
        for i in range(len(df)):
            value = df.iat[i, j]
            cell = ws.cell(r, 2 + i)
            _store(cell, value, presentation.excel_format(cols[i][j], value))
            if isinstance(value, str):
                cell.alignment = wrap
    ws.column_dimensions["A"].width = min(max(max(len(h) for h in headers) + 2, 24), MAX_WIDTH + 2)
    for i in range(len(df)):
        longest = max(len(texts[i][j]) for j in range(len(df.columns)) if j != k)
        ws.column_dimensions[_letter(2 + i)].width = min(max(longest + 2, len(names[i]) + 2, 14), 30)
    _fit_rows(ws, {})
    ws.freeze_panes = "B2"
    return len(df) + 1, r


def write_group_sheet(ws, members: list[tuple[str, str, pd.DataFrame]], context: dict | None = None) -> tuple[int, int]:
    """Small tables on one sheet, each under its bold caption with its own header row; returns the last column
    and row."""
    from openpyxl.styles import Font

    top, widths = 1, dict[int, float]()
    for name, caption, df in members:
        _store(ws.cell(top, 1), caption)
        ws.cell(top, 1).font = Font(bold=True)
        for j, w in _table_block(ws, name, df, context, top=top + 1).items():
            widths[j] = max(widths.get(j, 0.0), w)
        top += len(df) + 3
    for j, w in widths.items():
        ws.column_dimensions[_letter(j)].width = w
    _fit_rows(ws, widths)  # captions are not wrapped: they run across the row
    return max(widths, default=1), top - 2


# -- the Summary -----------------------------------------------------------------------------------
def _summary_format(key: str, value) -> str | None:
    """Number format of a Summary row's value (settings: rates as %, λ as £, seeds and years plain)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    k = key.lower().removeprefix("workbook setting: ").removesuffix(" (default)")
    if "seed" in k or "price_year" in k:
        return "0"
    if "rate" in k or "share" in k:
        return "0.0%"
    if k.startswith("wtp") or "cost" in k:
        return '"£"#,##0'
    if "iterations" in k or "referrals" in k:
        return "#,##0"
    return presentation.excel_format(presentation.Column(k), value)


def _setting(summary: list[tuple[str, object]], name: str) -> str:
    """A workbook setting recorded on the Summary ('' when absent)."""
    for key, value in summary:
        if str(key).startswith("Workbook setting: ") and str(key).removeprefix("Workbook setting: ").removesuffix(
                " (default)") == name:
            return str(value)
    return ""


def summary_rows(tables: dict[str, pd.DataFrame], summary: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """The "About this run" rows: the run's, and, when the workbook holds a budget beside per-child results (a
    report), the budget's conventions (undiscounted cash) after the model's, which then say they are the per-child
    results', so that no reader applies the model's discount rates to the budget (a budget run's conventions are
    the budget's own)."""
    rows = list(summary)
    conventions = next((str(v) for k, v in rows if k == "Conventions"), "")
    if "budget_by_year" not in tables or conventions.startswith("undiscounted cash"):  # none, or the budget's own
        return rows
    basis = ("Budget conventions", presentation.budget_basis(_setting(rows, "analysis_price_year"), conventions))
    at = next((i for i, (k, _) in enumerate(rows) if k == "Conventions"), None)
    if at is None:
        rows.insert(next((i for i, (k, _) in enumerate(rows) if k == "Tool"), len(rows)), basis)
    else:
        rows[at] = ("Conventions (per-child results)", rows[at][1])
        rows.insert(at + 1, basis)
    return rows


SUMMARY_WIDTHS: dict[int, float] = {1: 40, 2: 14, 3: 14, 4: 14, 5: 22}


def write_summary(ws, tables: dict[str, pd.DataFrame], summary: list[tuple[str, object]]) -> tuple[int, int]:
    """The Summary sheet: key figures as numbers, then the headline sentences, then the run's settings; returns
    its last column and row."""
    from openpyxl.styles import Alignment, Font

    ws.append(["ifpp-econ results"])
    ws["A1"].font = Font(bold=True, size=14)
    wrap = Alignment(wrap_text=True, vertical="top")
    left = Alignment(horizontal="left", vertical="top")
    for title, headers, rows in key_figures(tables):
        r = ws.max_row + 2
        _store(ws.cell(r, 1), title)
        ws.cell(r, 1).font = Font(bold=True)
        for j, h in enumerate(headers, start=1):
            _store(ws.cell(r + 1, j), h)
            ws.cell(r + 1, j).font = Font(bold=True)
            ws.cell(r + 1, j).alignment = wrap
        for i, (label, values, col) in enumerate(rows, start=r + 2):
            _store(ws.cell(i, 1), label)
            ws.cell(i, 1).alignment = wrap
            for j, v in enumerate(values, start=2):
                _store(ws.cell(i, j), v, presentation.excel_format(col, v))
                ws.cell(i, j).alignment = left
    r = ws.max_row + 2
    about = r  # from here on, sentences are merged across columns B–E
    _store(ws.cell(r, 1), "About this run")
    ws.cell(r, 1).font = Font(bold=True)
    for key, value in summary_rows(tables, summary):
        r = ws.max_row + 1
        _store(ws.cell(r, 1), str(key))
        _store(ws.cell(r, 2), value, _summary_format(str(key), value))
        ws.cell(r, 1).alignment = wrap
        ws.cell(r, 2).alignment = wrap if isinstance(value, str) else left
        if isinstance(value, str):  # sentences span columns B–E
            ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=5)
    for j, w in SUMMARY_WIDTHS.items():
        ws.column_dimensions[_letter(j)].width = w
    _fit_rows(ws, SUMMARY_WIDTHS, max_row=about - 1)  # key figures: each header in its own column's width
    _fit_rows(ws, {**SUMMARY_WIDTHS, 2: sum(SUMMARY_WIDTHS[j] for j in (2, 3, 4, 5))}, min_row=about)
    return 5, ws.max_row


# Columns a reader looks for first, moved to the left of their sheet (the CSV keeps the analysis' order).
LEAD_COLUMNS = {name: ("year", "programme_spend", "costs_avoided", "cashable_savings", "notional_savings", "net_saving",
                       "cumulative_net_saving", "net_saving_lower", "net_saving_upper", "cumulative_lower",
                       "cumulative_upper", "prob_cumulative_saving") for name in ("budget_by_year", "budget_detail")}


def _lead(name: str, df: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in LEAD_COLUMNS.get(name, ()) if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]] if first else df


KEY_MEASURES = ("per_child_savings", "per_family_savings", "placements_avoided_per_child",
                "care_months_avoided_per_child", "incremental_nmb", "cost_per_placement_avoided")


def key_figures(tables: dict[str, pd.DataFrame]
                ) -> list[tuple[str, list[str], list[tuple[str, list, presentation.Column]]]]:
    """Blocks of numbers for the Summary sheet: base-case incremental results, PSA means with intervals and the
    budget's totals."""
    blocks = []
    if "incremental" in tables:
        inc = tables["incremental"]
        comparator = str(inc["comparator"].iloc[0]) if "comparator" in inc.columns and len(inc) else "comparator"
        rows = []
        for m in KEY_MEASURES:
            if m in inc.columns:
                values = [r["dominance"] if m == "cost_per_placement_avoided" and pd.isna(r[m]) and "dominance" in r
                          else r[m] for _, r in inc.iterrows()]
                rows.append((presentation.column(m).header, values, presentation.column(m)))
        blocks.append((f"Base case against {comparator}", ["Measure"] + [str(s) for s in inc["strategy"]], rows))
    if "headline_range" in tables and len(tables["headline_range"]):
        cases, col = tables["headline_range"], presentation.column("per_child_savings")
        rows = [(str(r["name"]) + (" (base case)" if r["default"] else ""), [r["per_child_savings"]], col)
                for _, r in cases.iterrows()]
        rows += [("Lowest of these", [cases["per_child_savings"].min()], col),
                 ("Highest of these", [cases["per_child_savings"].max()], col)]
        blocks.append(("The headline's structural range (after-effect assumption × effect at child or family level)",
                       ["Case", col.header], rows))
    if "psa_incremental" in tables:
        psa = tables["psa_incremental"]
        first = psa["strategy"].iloc[0]
        rows = []
        for _, r in psa[psa["strategy"] == first].iterrows():
            metric = str(r["metric"])
            col = presentation.COLUMNS["prob_cost_saving"] if metric.startswith("prob") else presentation.column(metric)
            mean = r["note"] if pd.isna(r["mean"]) and isinstance(r.get("note"), str) else r["mean"]
            rows.append((col.header, [mean, r["lower"], r["upper"]], col))
        blocks.append((f"PSA: {first} against {psa['comparator'].iloc[0]}",
                       ["Measure", "Mean", "2.5th percentile", "97.5th percentile"], rows))
    if "budget_by_year" in tables and len(tables["budget_by_year"]):
        blocks.append(_budget_figures(tables["budget_by_year"]))
    return blocks


# -- the budget: a board table and its detail --------------------------------------------------------
BOARD_COLUMNS = ("year", "programme_spend", "costs_avoided", "cashable_savings", "notional_savings", "net_saving",
                 "cumulative_net_saving", "cumulative_lower", "cumulative_upper", "prob_cumulative_saving")
SUMMED = ("programme_spend", "costs_avoided", "cashable_savings", "notional_savings", "net_saving")


def budget_strategies(df: pd.DataFrame) -> tuple[str, str]:
    """(strategy, comparator) of a budget table, from its category columns ("Placements: IFPP", …)."""
    names = list(dict.fromkeys(str(c).split(": ", 1)[1] for c in df.columns if ": " in str(c)))
    return (names[0] if names else "the programme", names[1] if len(names) > 1 else "the comparator")


def budget_board(df: pd.DataFrame) -> pd.DataFrame:
    """The budget for a board: a row per year — extra programme spend, costs avoided (and, when the table splits
    them, cashable and notional savings), net and cumulative net saving, and, when a PSA gave them, the cumulative
    net saving's 95% interval and the probability of a cumulative saving — and a total row."""
    board = df[[c for c in BOARD_COLUMNS if c in df.columns]].copy()
    total = {c: float(board[c].sum()) for c in SUMMED if c in board.columns}
    board["year"] = board["year"].astype(object)
    return pd.concat([board, pd.DataFrame([{"year": f"Total, years 1–{len(df)}", **total}])], ignore_index=True)


def payback(df: pd.DataFrame) -> tuple[int | None, float | None]:
    """The first year whose cumulative net saving is ≥ 0 and the return on investment over the budget's years
    (both None when nothing is spent on the programme)."""
    spend = float(df["programme_spend"].sum())
    if spend <= 0:
        return None, None
    year = next((int(y) for y, v in zip(df["year"], df["cumulative_net_saving"]) if v >= 0), None)
    return year, (float(df["costs_avoided"].sum()) - spend) / spend


def cash_payback(df: pd.DataFrame) -> int | None | bool:
    """The first year whose cumulative net saving on cash alone (cashable savings less programme spend) is ≥ 0; None
    when not within the period; False when the table does not split savings into cashable and notional."""
    if "cumulative_cash_net_saving" not in df.columns or float(df["programme_spend"].sum()) <= 0:
        return False
    return next((int(y) for y, v in zip(df["year"], df["cumulative_cash_net_saving"]) if v >= 0), None)


def _budget_figures(df: pd.DataFrame) -> tuple[str, list[str], list[tuple[str, list, presentation.Column]]]:
    """The Summary's budget block: totals over the budget's years, with the net saving's 95% interval when sampled."""
    strategy, comparator = budget_strategies(df)
    last = df.iloc[-1]
    interval = "cumulative_lower" in df.columns
    rows: list[tuple[str, list, presentation.Column]] = []
    for c in SUMMED:
        if c in df.columns:
            values: list = [float(df[c].sum())]
            if c == "net_saving" and interval:
                values += [last["cumulative_lower"], last["cumulative_upper"]]
            col = presentation.column(c, "budget_by_year")
            rows.append((col.header, values, col))
    if "prob_cumulative_saving" in df.columns:
        col = presentation.COLUMNS["prob_cumulative_saving"]
        rows.append((col.header, [last["prob_cumulative_saving"]], col))
    year, roi = payback(df)
    rows.append(("Payback year", [year if year is not None else "not within the period"], presentation.COLUMNS["year"]))
    cash_year = cash_payback(df)
    if cash_year is not False:
        rows.append(("Payback year on cash alone (cashable savings only)",
                     [cash_year if cash_year is not None else "not within the period"], presentation.COLUMNS["year"]))
    rows.append(("Return on investment", [roi if roi is not None else "no programme spend"],
                 presentation.Column("Return on investment", kind="pct")))
    headers = ["Measure", "Total"] + (["2.5th percentile", "97.5th percentile"] if interval else [])
    return f"Budget: {strategy} against {comparator}, {len(df)} years (undiscounted cash)", headers, rows


BOARD_WIDTH = 15  # characters, every column of the board table but the first


def write_budget_sheet(ws, df: pd.DataFrame, context: dict | None = None) -> tuple[int, int]:
    """The board table (one A4 page with its chart): a row per year and a total, then notes; returns its last
    column and the last row of the notes."""
    from openpyxl.styles import Alignment, Font

    board = budget_board(df)
    _table_block(ws, "budget", board, context)
    n = len(board.columns)
    ws.column_dimensions["A"].width = 17
    for j in range(2, n + 1):
        ws.column_dimensions[_letter(j)].width = BOARD_WIDTH
    for j in range(1, n + 1):
        ws.cell(len(board) + 1, j).font = Font(bold=True)
    for i in range(2, len(board) + 2):  # years and the total are row labels
        ws.cell(i, 1).alignment = Alignment(horizontal="left")
    _fit_rows(ws, {}, max_row=1)
    strategy, comparator = budget_strategies(df)
    year, roi = payback(df)
    basis = presentation.budget_basis((context or {}).get("price_year", "")).split("; totals")[0]
    notes = [f"Budget impact of {strategy} against {comparator} for the local authority: {basis}.",
             f"Extra programme spend: {strategy}'s programme cost less {comparator}'s; costs avoided: every other cost "
             f"(placements, proceedings, reunification and case support, allowances), {comparator}'s less {strategy}'s; "
             "net saving = costs avoided − extra programme spend (below 0: a net cost)."]
    if "cashable_savings" in board.columns or "notional_savings" in board.columns:
        cash_year = cash_payback(df)
        notes.append("Cashable savings release money from budgets (spot-purchased placements, allowances, bought-in "
                     "legal work); notional savings free capacity (in-house foster beds, staff time) but release no "
                     "cash until capacity is cut. Each cost row's cashable share is on the workbook's Parameters sheet"
                     + (f"; payback on cash alone: year {cash_year}" if cash_year else
                        "; on cash alone the programme does not pay back within the period" if cash_year is None
                        else "") + ".")
    if "cumulative_lower" in board.columns:
        notes.append("Cumulative net saving's 2.5th and 97.5th percentiles (its 95% interval) and the probability of a "
                     "cumulative saving come from the PSA's iterations.")
    notes.append(f"Payback year: {year or 'not within the period'}; return on investment: "
                 + ("n/a" if roi is None else f"{roi:.0%}") + ".")
    notes.append("By cost category and strategy, net saving by perspective, children referred and placements avoided: "
                 "the Budget detail sheet (not printed).")
    r = len(board) + 3
    for text in notes:
        _note(ws, r, 1, text, span=n)
        r += 1
    ws.freeze_panes = "B2"
    return n, r - 1


# -- data sheets -------------------------------------------------------------------------------------
def data_sheet(name: str, df: pd.DataFrame) -> bool:
    """Whether a table is data only (not printed): listed in :data:`DATA_TABLES` or longer than :data:`DATA_ROWS`."""
    return name in DATA_TABLES or len(df) > DATA_ROWS


DATA_NOTES = {"ce_plane": "The chart below is drawn from them.", "cohort_trace": "The chart below is drawn from them.",
              "two_way": "The grid below lays them out by the two parameters.",
              "budget_detail": "Spend and costs avoided by cost category and strategy, net saving by perspective, "
                               "children referred and placements avoided; the Budget sheet has the board table.",
              "data_dictionary": "Every column of the run's CSV files with its label and unit (data_dictionary.csv)."}


def data_note(name: str, df: pd.DataFrame, title: str) -> str:
    """The printed note of a data sheet: what it holds and where."""
    return (f"{title}: data sheet, not printed — {len(df):,} rows in columns A–{_letter(len(df.columns))}. "
            + DATA_NOTES.get(name, "The CSV file holds the same data."))


def print_data_sheet(ws, name: str, df: pd.DataFrame, block: tuple[int, int] | None = None) -> None:
    """Print only a note, and ``block`` (the last column and row of what lies under it: a chart or a grid), on one
    page: the sheet stays visible and whole on screen."""
    from openpyxl.styles import Alignment, Font

    col = len(df.columns) + 2
    cell = ws.cell(1, col)
    _store(cell, data_note(name, df, ws.title))
    cell.font = Font(bold=True)
    if block is None:
        ws.column_dimensions[_letter(col)].width = 80
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.row_dimensions[1].height = max(ws.row_dimensions[1].height or 0, _height(_lines(str(cell.value), 80, True)))
    last_col, last_row = block or (col, 1)
    ws.print_area = _area(col, 1, last_col, last_row)
    fit_to_page(ws, last_col, last_row, first_col=col, title_rows=None, max_pages_tall=1)


def _two_way_grid(ws, df: pd.DataFrame, context: dict) -> tuple[int, int] | None:
    """The two-way grid laid out by its two parameters (rows: the second, columns: the first) right of the data;
    returns its last column and row (None when the table is not a grid)."""
    from openpyxl.styles import Alignment, Font

    if len(df.columns) != 3 or len(df) == 0:
        return None
    x, y, outcome = (str(c) for c in df.columns)
    grid = df.pivot_table(index=y, columns=x, values=outcome, aggfunc="first")
    if grid.shape[1] > 40:
        return None
    units, labels = context.get("units", {}), context.get("labels", {})
    percent = {p for p in (x, y) if str(units.get(p, "")).startswith(("probability", "share"))}
    fmt = {p: "0.0%" if p in percent else presentation.excel_format(presentation.unit_column(units.get(p, "")),
                                                                   float(df[p].iloc[0])) for p in (x, y)}
    out = presentation.column(outcome)
    col, top = len(df.columns) + 2, 3
    _store(ws.cell(top, col), f"{out.header}: a row per value of {labels.get(y, y)}, a column per value of "
                              f"{labels.get(x, x)}")
    ws.cell(top, col).font = Font(bold=True)
    for j, xv in enumerate(grid.columns, start=col + 1):
        _store(ws.cell(top + 1, j), float(xv), fmt[x])
        ws.cell(top + 1, j).font = Font(bold=True)
        ws.column_dimensions[_letter(j)].width = 8.5
    ws.column_dimensions[_letter(col)].width = 10
    for i, (yv, values) in enumerate(grid.iterrows(), start=top + 2):
        _store(ws.cell(i, col), float(yv), fmt[y])
        ws.cell(i, col).font = Font(bold=True)
        ws.cell(i, col).alignment = Alignment(horizontal="left")
        for j, v in enumerate(values, start=col + 1):
            _store(ws.cell(i, j), float(v), presentation.excel_format(out, float(v)))
    return col + grid.shape[1], top + 1 + grid.shape[0]


# -- the workbook ------------------------------------------------------------------------------------
@dataclass
class Sheet:
    """A written sheet: its table(s), its role (``table``, ``transposed``, ``group``, ``budget``, ``data``), the last
    column and row it fills (a chart included) and, when its print area is a block of its own, that block."""
    ws: Any
    name: str
    df: pd.DataFrame
    role: str
    last: tuple[int, int]
    area: tuple[int, int, int, int] | None = None

    def extend(self, col: int, row: int) -> None:
        self.last = (max(self.last[0], col), max(self.last[1], row))


def sheet_plan(tables: dict[str, pd.DataFrame]) -> list[tuple[str, Any, str]]:
    """(name, table or group members, role) of every sheet after the Summary: printed sheets in the run's order,
    then the data sheets and the data dictionary last."""
    printed: list[tuple[str, Any, str]] = []
    data: list[tuple[str, Any, str]] = []
    grouped = {}
    for group, members in GROUPS.items():
        present = [(name, caption, _lead(name, tables[name])) for name, caption in members if name in tables]
        if len(present) > 1:
            grouped.update({name: (group, present) for name, _, _ in present})
    for name, df in tables.items():
        if name in grouped:
            group, present = grouped[name]
            if not any(item[0] == group for item in printed):
                printed.append((group, present, "group"))
        elif name == "budget_by_year":
            printed.append(("budget", df, "budget"))
            data.append(("budget_detail", _lead("budget_detail", df), "data"))
        elif data_sheet(name, df):
            data.append((name, _lead(name, df), "data"))
        else:
            printed.append((name, _lead(name, df), "transposed" if transposed(df) else "table"))
    order = {name: i for i, name in enumerate(DATA_TABLES)}
    data.sort(key=lambda item: order.get(item[0], order["data_dictionary"] - 0.5))
    return printed + data + [("data_dictionary", presentation.data_dictionary(tables), "data")]


def write_results_xlsx(path: Path, tables: dict[str, pd.DataFrame], summary: list[tuple[str, object]],
                       context: dict | None = None) -> None:
    """A results workbook: Summary first, one formatted sheet per table, the data sheets and the data dictionary
    last, native charts, every sheet set up to print.

    ``context``: ``units`` (parameter → workbook unit), ``labels`` (parameter → label), ``dsa_outcome``,
    ``dsa_base_outcome`` and ``dsa_top`` (bars in the tornado; default: the run's ``top`` setting, else 15),
    ``price_year`` (default: the Summary's ``analysis_price_year`` setting).
    """
    from openpyxl import Workbook

    from ..inputs.template import FIXED_TIME, _fixed_zip_times

    context = dict(context or {})
    if "parameters" in tables:
        p = tables["parameters"]
        if "units" not in context:
            context["units"] = dict(zip(p["name"].astype(str), p["unit"].astype(str)))
        if "labels" not in context and "label" in p.columns:
            context["labels"] = {str(k): v for k, v in zip(p["name"], p["label"]) if isinstance(v, str) and v}
    context.setdefault("price_year", _setting(summary, "analysis_price_year"))
    top = next((v for k, v in summary if k == "top" and isinstance(v, int) and v > 0), None)  # dsa --top
    if top is not None:
        context.setdefault("dsa_top", top)
    wb = Workbook()
    wb.properties.created = wb.properties.modified = FIXED_TIME
    wb.properties.creator = "ifpp-econ"
    ws = wb.active
    ws.title = "Summary"
    fit_to_page(ws, *write_summary(ws, tables, summary), title_rows=None)
    used = {"Summary"}
    sheets: dict[str, Sheet] = {}
    for name, payload, role in sheet_plan(tables):
        sheet = wb.create_sheet(_sheet_title(name, used))
        if role == "group":
            last = write_group_sheet(sheet, payload, context)
            payload = payload[0][2]
        elif role == "budget":
            last = write_budget_sheet(sheet, payload, context)
        elif role == "transposed":
            last = write_transposed_sheet(sheet, name, payload, context)
        else:
            last = write_table_sheet(sheet, name, payload, context)
        sheets[name] = Sheet(sheet, name, payload, role, last)
    add_native_charts(sheets, context)
    for s in sheets.values():
        if s.role == "data":
            block = (s.area[2], s.area[3]) if s.area is not None else None
            if s.name == "two_way":
                block = _two_way_grid(s.ws, s.df, context)
            print_data_sheet(s.ws, s.name, s.df, block)
        elif s.area is not None:  # a block of its own (the tornado's chart page)
            first_col, first_row, last_col, last_row = s.area
            s.ws.print_area = _area(*s.area)
            fit_to_page(s.ws, last_col, last_row, first_col, first_row, title_rows=None, max_pages_tall=1)
        else:
            fit_to_page(s.ws, *s.last, title_rows=None if s.role == "group" else "1:1",
                        max_pages_tall=1 if s.role == "budget" or s.name in ONE_PAGE else None)
    buffer = io.BytesIO()
    wb.save(buffer)
    tmp = path.with_suffix(".xlsx.partial")
    tmp.write_bytes(_fixed_zip_times(buffer.getvalue()))
    os.replace(tmp, path)


# -- native charts ---------------------------------------------------------------------------------
def _col(df: pd.DataFrame, name: str) -> int:
    return list(df.columns).index(name) + 1


def add_native_charts(sheets: dict[str, Sheet], context: dict | None = None) -> None:
    """Excel charts built from the sheets' own cells; each sheet's extent (and print block) grows to hold them."""
    context = context or {}
    if "ceac" in sheets:
        sheets["ceac"].extend(*_ceac(sheets["ceac"].ws, sheets["ceac"].df))
    if "tornado" in sheets:
        s = sheets["tornado"]
        s.area = _tornado(s.ws, s.df, context.get("dsa_outcome", "savings"), context.get("dsa_base_outcome"),
                          top=int(context.get("dsa_top", 15)), units=context.get("units", {}))
    for name, draw in (("ce_plane", _ce_plane), ("cohort_trace", _trace)):
        if name in sheets:
            s = sheets[name]
            col = len(s.df.columns) + 2
            last_col, last_row = draw(s.ws, s.df, f"{_letter(col)}3")
            s.area = (col, 1, last_col, last_row)
    if "budget" in sheets:
        s = sheets["budget"]
        s.extend(*_budget(s.ws, budget_board(s.df), s.last[1] + 2, rows=len(s.df)))


def _anchor(ws, df: pd.DataFrame) -> str:
    return f"{_letter(len(df.columns) + 2)}2"


def _placed(ws, chart, anchor: str) -> tuple[int, int]:
    """Add ``chart`` at ``anchor``; returns the last column and row it covers."""
    from openpyxl.utils.cell import column_index_from_string, coordinate_from_string

    ws.add_chart(chart, anchor)
    letters, row = coordinate_from_string(anchor)
    return _cells_under(ws, column_index_from_string(letters), row, chart.width, chart.height)


def _scatter(title: str, x_title: str, y_title: str):
    """An openpyxl scatter chart in the workbook's style, titled."""
    from openpyxl.chart import ScatterChart

    chart = ScatterChart()
    chart.title, chart.style = title, 13
    chart.x_axis.title, chart.y_axis.title = x_title, y_title
    return chart


def _ceac(ws, df: pd.DataFrame) -> tuple[int, int]:
    from openpyxl.chart import Reference, Series

    chart = _scatter("Probability most cost-effective (CEAC)", "Willingness to pay per placement avoided (£)",
                     "Probability most cost-effective")
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.y_axis.majorUnit = 0.2
    chart.y_axis.number_format = "0%"
    chart.x_axis.number_format = '"£"#,##0'
    chart.x_axis.scaling.min = float(df["wtp"].min())
    chart.x_axis.scaling.max = float(df["wtp"].max())
    xs = Reference(ws, min_col=_col(df, "wtp"), min_row=2, max_row=len(df) + 1)
    skip = {"wtp", "optimal_strategy", "frontier_probability"}
    for name in df.columns:
        if name in skip:
            continue
        c = _col(df, name)
        series = Series(Reference(ws, min_col=c, min_row=1, max_row=len(df) + 1), xs, title_from_data=True)
        series.marker.symbol = "none"
        series.smooth = False
        series.graphicalProperties.line.solidFill = PALETTE[len(chart.series) % len(PALETTE)]
        series.graphicalProperties.line.width = 28575  # 2.25 pt
        chart.series.append(series)
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.legend.position = "b"
    chart.width, chart.height = 16, 10
    return _placed(ws, chart, _anchor(ws, df))


def _str_categories(chart, ws, col: int, first_row: int, last_row: int) -> None:
    """Categories as a string reference to text cells (``<c:cat><c:strRef>``), which LibreOffice and Excel both
    label (openpyxl's ``set_categories`` writes a number reference)."""
    from openpyxl.chart.data_source import AxDataSource, StrRef
    from openpyxl.chart.reference import Reference

    ref = Reference(ws, min_col=col, min_row=first_row, max_row=last_row)
    for series in chart.series:
        series.cat = AxDataSource(strRef=StrRef(f=str(ref)))


def _text_properties(size_pt: float):
    """Chart text properties: ``size_pt`` points."""
    from openpyxl.chart.text import RichText
    from openpyxl.drawing.text import CharacterProperties, Paragraph, ParagraphProperties

    props = CharacterProperties(sz=int(size_pt * 100))
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=props), endParaRPr=props)])


TORNADO_BAR_CM = 0.9  # chart height per bar: room for a two-line label, so that none is skipped
TORNADO_FRAME_CM = 4.5  # the chart's title, axis and legend
TORNADO_VALUE_WIDTH = 13  # characters, the two outcome columns of the chart's block


def tornado_label(row, units: dict[str, str]) -> str:
    """A tornado bar's label: the parameter's label and its low–high range in its unit."""
    label = row["label"] if isinstance(row.get("label"), str) and row["label"] else str(row["parameter"])
    unit = units.get(str(row["parameter"]), "")
    return f"{label} ({presentation.unit_range(row['low'], row['high'], unit)})"


def _tornado(ws, df: pd.DataFrame, outcome: str, base_outcome: float | None = None, top: int = 15,
             units: dict[str, str] | None = None) -> tuple[int, int, int, int] | None:
    """Bars from the base case to the outcome at each parameter's low and high value (largest swing on top); returns
    the block it prints (first column, first row, last column, last row).

    A clustered bar chart with full overlap whose category axis crosses the value axis at the base-case outcome,
    so every bar starts at the base case. Below the table, a block holds the chart's labels (each parameter with
    its range in its unit) and outcomes in largest-swing-last order, and the chart below it: that block is the
    sheet's printed page, the table above being the detail.
    """
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment

    n = min(top, len(df))
    base_outcome = _base_outcome(df, base_outcome)
    if n == 0 or base_outcome is None or len(df.columns) < 4:
        return None
    units = units or {}
    unit, kind, decimals = presentation.DSA_OUTCOME_FORMATS.get(outcome, ("", "number", 4))
    out = presentation.Column("", unit, kind, decimals)
    fmt = presentation.excel_format(out, 1.0)
    label = "Savings per child" if outcome == "savings" else presentation.COLUMNS[outcome].label
    labelled = f"{label} ({unit})" if unit else label
    for c in (3, 4):
        ws.column_dimensions[_letter(c)].width = max(_width(ws, c), TORNADO_VALUE_WIDTH)
    first = len(df) + 3
    _note(ws, first, 1, f"{labelled} with each parameter at its low and high value: the {n} largest swings (all "
                        f"{len(df)} parameters in the table above); bars start at the base case, "
                        f"{presentation.format_value(base_outcome, out)}.", span=4, bold=True)
    head = first + 1
    _header_row(ws, ["Parameter (low to high value)", "", "Parameter at its low value",
                     "Parameter at its high value"], row=head, right_from=3)
    ws.merge_cells(start_row=head, start_column=1, end_row=head, end_column=2)
    wrap = Alignment(wrap_text=True, vertical="top")
    rows = df.head(n).iloc[::-1]  # largest swing last: drawn on top
    label_width = _width(ws, 1) + _width(ws, 2)
    for k, (_, r) in enumerate(rows.iterrows(), start=head + 1):
        text = tornado_label(r, units)
        _store(ws.cell(k, 1), text)
        ws.cell(k, 1).alignment = wrap
        ws.merge_cells(start_row=k, start_column=1, end_row=k, end_column=2)
        lines = _lines(text, label_width)
        if lines > 1:
            ws.row_dimensions[k].height = _height(lines)
        _store(ws.cell(k, 3), float(r["outcome_low"]), fmt)
        _store(ws.cell(k, 4), float(r["outcome_high"]), fmt)
    _fit_rows(ws, {3: _width(ws, 3), 4: _width(ws, 4)}, min_row=head, max_row=head)
    chart = BarChart()
    chart.type = "bar"
    chart.grouping = "clustered"
    chart.overlap = 100
    chart.gapWidth = 40
    chart.title = f"One-way sensitivity: {labelled}; bars start at the base case ({presentation.format_value(base_outcome, out)})"
    for c in (3, 4):
        chart.add_data(Reference(ws, min_col=c, min_row=head, max_row=head + n), titles_from_data=True)
    _str_categories(chart, ws, 1, head + 1, head + n)
    chart.x_axis.crossesAt = base_outcome  # the category axis sits at the base case: bars grow from it
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.x_axis.tickLblPos = "low"  # parameter labels at the left edge, clear of the bars
    chart.x_axis.tickLblSkip = 1  # every parameter labelled
    chart.x_axis.txPr = _text_properties(8)
    chart.y_axis.title = labelled
    chart.y_axis.number_format = '"£"#,##0,"k"' if kind == "gbp" else "0.000"
    chart.y_axis.majorGridlines = None
    chart.legend.position = "b"
    for series, colour in zip(chart.series, ("E69F00", "0072B2")):  # low orange, high blue (as the PNG)
        series.graphicalProperties.solidFill = colour
        series.graphicalProperties.line.solidFill = colour
    chart.width = sum(_column_px(ws, c) for c in range(1, 5)) / 96 * 2.54
    chart.height = TORNADO_FRAME_CM + TORNADO_BAR_CM * n
    last_col, last_row = _placed(ws, chart, f"A{head + n + 2}")
    return 1, first, max(4, last_col), last_row


def _base_outcome(df: pd.DataFrame, known: float | None) -> float | None:
    """The base-case outcome (the bars' common end): given by the run, else that of a parameter that moves nothing."""
    if known is not None:
        return float(known)
    lo, hi = df["outcome_low"].to_numpy(float), df["outcome_high"].to_numpy(float)
    flat = np.isclose(lo, hi, rtol=0, atol=1e-9 * max(1.0, float(np.nanmax(np.abs(lo)))))
    return float(lo[flat][0]) if flat.any() else None


def _ce_plane(ws, df: pd.DataFrame, anchor: str) -> tuple[int, int]:
    from openpyxl.chart import Reference, Series

    chart = _scatter("Cost-effectiveness plane (PSA iterations)", "Placements avoided per child",
                     "Incremental cost per child (£; below 0 = saving)")
    chart.y_axis.number_format = '"£"#,##0'
    chart.x_axis.number_format = "0.00"
    chart.x_axis.tickLblPos = "low"  # labels below the plot, not along the y = 0 line
    chart.y_axis.tickLblPos = "low"
    x = _col(df, "placements_avoided_per_child")
    y = _col(df, "incremental_cost_per_child")
    strategies = df["strategy"].astype(str).tolist() if "strategy" in df.columns else ["PSA"] * len(df)
    start = 2
    for name in dict.fromkeys(strategies):
        count = strategies.count(name)
        xs = Reference(ws, min_col=x, min_row=start, max_row=start + count - 1)
        ys = Reference(ws, min_col=y, min_row=start, max_row=start + count - 1)
        series = Series(ys, xs, title=f"{name} (each point one iteration)")
        series.marker.symbol = "circle"
        series.marker.size = 3
        colour = PALETTE[len(chart.series) % len(PALETTE)]
        series.marker.graphicalProperties.solidFill = colour
        series.marker.graphicalProperties.line.solidFill = colour
        series.graphicalProperties.line.noFill = True
        chart.series.append(series)
        start += count
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.legend.position = "b"
    chart.width, chart.height = 24, 15
    return _placed(ws, chart, anchor)


def _trace(ws, df: pd.DataFrame, anchor: str) -> tuple[int, int]:
    from openpyxl.chart import LineChart, Reference
    from openpyxl.chart.series import SeriesLabel

    strategies = df["strategy"].astype(str).tolist()
    chart = LineChart()
    chart.title, chart.y_axis.title, chart.x_axis.title = "Share of children in care", "Share of children", "Month"
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min = 0
    start = 2
    for name in dict.fromkeys(strategies):
        count = strategies.count(name)
        chart.add_data(Reference(ws, min_col=_col(df, "in_care"), min_row=start, max_row=start + count - 1),
                       titles_from_data=False)
        chart.series[-1].tx = SeriesLabel(v=name)
        chart.series[-1].smooth = False
        start += count
    first = strategies.count(strategies[0]) if strategies else 0
    chart.set_categories(Reference(ws, min_col=_col(df, "month"), min_row=2, max_row=1 + first))
    chart.x_axis.tickLblSkip = chart.x_axis.tickMarkSkip = 12  # a label a year
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.legend.position = "b"
    chart.width, chart.height = 24, 13
    return _placed(ws, chart, anchor)


def _budget(ws, df: pd.DataFrame, row: int, rows: int | None = None) -> tuple[int, int]:
    """Spend, costs avoided and net saving by year (the first ``rows`` rows: not the board table's total), at row
    ``row``; returns the last column and row it covers."""
    from openpyxl.chart import BarChart, Reference

    rows = len(df) if rows is None else rows
    chart = BarChart()
    chart.title = "Budget impact by year (undiscounted cash)"
    chart.y_axis.title = "£"
    chart.y_axis.number_format = '"£"#,##0'
    for name in ("programme_spend", "costs_avoided", "net_saving"):
        chart.add_data(Reference(ws, min_col=_col(df, name), min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=_col(df, "year"), min_row=2, max_row=rows + 1))
    chart.x_axis.title = "Year"
    chart.x_axis.delete = chart.y_axis.delete = False
    for series, colour in zip(chart.series, ("D55E00", "0072B2", "000000")):
        series.graphicalProperties.solidFill = colour
        series.graphicalProperties.line.solidFill = colour
    chart.legend.position = "b"
    chart.width, chart.height = 20, 9
    return _placed(ws, chart, f"A{row}")
