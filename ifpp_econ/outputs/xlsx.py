"""results.xlsx: a Summary sheet, one formatted sheet per table, a data dictionary and native charts.

Every sheet: human headers and sheet names (from :mod:`ifpp_econ.presentation`), a number
format on every numeric cell, frozen header row, column widths, landscape A4 fitted to one
page wide with the header row repeated. Native charts (restylable in Excel/LibreOffice)
reference the sheets' own cells: a tornado whose bars start at the base case, the CEAC on
0–100%, the CE plane, the cohort trace and the budget by year. Text is stored as text,
never as a formula; equal content gives equal bytes (fixed timestamps).
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import presentation

HEADER_FILL = "DDEBF7"
PALETTE = ["0072B2", "E69F00", "009E73", "CC79A7", "56B4E9", "D55E00"]  # Okabe–Ito, as in the PNG charts
MAX_WIDTH = 48


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


def _print_setup(ws, landscape: bool = True) -> None:
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "&A — page &P of &N"


def _header_row(ws, headers: list[str], row: int = 1) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    fill = PatternFill("solid", fgColor=HEADER_FILL)
    for j, h in enumerate(headers, start=1):
        cell = ws.cell(row, j)
        _store(cell, h)
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def write_table_sheet(ws, name: str, df: pd.DataFrame, context: dict | None = None) -> None:
    """One table on a sheet: human headers, formatted cells, widths, frozen header, print setup."""
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter

    headers, texts, cols, _ = presentation.display_table(df, name, context)
    _header_row(ws, headers)
    wrap = Alignment(wrap_text=True, vertical="top")
    for i, row in enumerate(df.itertuples(index=False), start=2):
        for j, value in enumerate(row, start=1):
            col = cols[i - 2][j - 1]
            cell = ws.cell(i, j)
            _store(cell, value, presentation.excel_format(col, value))
            if col.kind == "text" and isinstance(value, str) and len(value) > MAX_WIDTH:
                cell.alignment = wrap
    for j, h in enumerate(headers, start=1):
        longest = max([len(t[j - 1]) for t in texts[:300]] + [min(len(h), 24)])
        ws.column_dimensions[get_column_letter(j)].width = min(max(longest + 2, 9), MAX_WIDTH + 2)
    widths = {j: ws.column_dimensions[get_column_letter(j)].width for j in range(1, len(headers) + 1)}
    _fit_rows(ws, widths)
    ws.freeze_panes = "B2" if len(df.columns) > 8 else "A2"
    _print_setup(ws)
    ws.print_title_rows = "1:1"


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


def _fit_rows(ws, widths: dict[int, float], min_row: int = 1) -> None:
    """Row heights that show every line of wrapped text (LibreOffice does not grow rows on opening)."""
    for row in ws.iter_rows(min_row=min_row):
        lines = 1
        for cell in row:
            if isinstance(cell.value, str) and cell.alignment is not None and cell.alignment.wrap_text:
                width = widths.get(cell.column, 10)
                lines = max(lines, sum(-(-max(len(part), 1) // max(int(width) - 1, 1)) for part in cell.value.split("\n")))
        if lines > 1:
            ws.row_dimensions[row[0].row].height = 13 * lines


def write_summary(ws, tables: dict[str, pd.DataFrame], summary: list[tuple[str, object]]) -> None:
    """The Summary sheet: key figures as numbers, then the headline sentences, then the run's settings."""
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
        for i, (label, values, col) in enumerate(rows, start=r + 2):
            _store(ws.cell(i, 1), label)
            for j, v in enumerate(values, start=2):
                _store(ws.cell(i, j), v, presentation.excel_format(col, v))
                ws.cell(i, j).alignment = left
    r = ws.max_row + 2
    _store(ws.cell(r, 1), "About this run")
    ws.cell(r, 1).font = Font(bold=True)
    widths = {1: 40, 2: 18, 3: 18, 4: 18, 5: 60}
    for key, value in summary:
        r = ws.max_row + 1
        _store(ws.cell(r, 1), str(key))
        _store(ws.cell(r, 2), value, _summary_format(str(key), value))
        ws.cell(r, 1).alignment = wrap
        ws.cell(r, 2).alignment = wrap if isinstance(value, str) else left
        if isinstance(value, str):  # sentences span columns B–E
            ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=5)
    for j, w in widths.items():
        ws.column_dimensions["ABCDE"[j - 1]].width = w
    _fit_rows(ws, {**widths, 2: sum(widths[j] for j in (2, 3, 4, 5))})
    _print_setup(ws, landscape=True)


# Columns a reader looks for first, moved to the left of their sheet (the CSV keeps the analysis' order).
LEAD_COLUMNS = {"budget_by_year": ("year", "programme_spend", "costs_avoided", "net_saving", "cumulative_net_saving",
                                   "net_saving_lower", "net_saving_upper", "cumulative_lower", "cumulative_upper",
                                   "prob_cumulative_saving")}


def _lead(name: str, df: pd.DataFrame) -> pd.DataFrame:
    first = [c for c in LEAD_COLUMNS.get(name, ()) if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]] if first else df


KEY_MEASURES = ("per_child_savings", "per_family_savings", "placements_avoided_per_child",
                "care_months_avoided_per_child", "incremental_nmb", "cost_per_placement_avoided")


def key_figures(tables: dict[str, pd.DataFrame]
                ) -> list[tuple[str, list[str], list[tuple[str, list, presentation.Column]]]]:
    """Blocks of numbers for the Summary sheet: base-case incremental results and PSA means with intervals."""
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
    return blocks


def write_results_xlsx(path: Path, tables: dict[str, pd.DataFrame], summary: list[tuple[str, object]],
                       context: dict | None = None) -> None:
    """A results workbook: Summary first, one formatted sheet per table, the data dictionary, native charts.

    ``context``: ``units`` (parameter → workbook unit) and ``dsa_outcome`` for the row-wise formats.
    """
    from openpyxl import Workbook

    from ..inputs.template import FIXED_TIME, _fixed_zip_times

    context = dict(context or {})
    if "parameters" in tables and "units" not in context:
        p = tables["parameters"]
        context["units"] = dict(zip(p["name"].astype(str), p["unit"].astype(str)))
    wb = Workbook()
    wb.properties.created = wb.properties.modified = FIXED_TIME
    wb.properties.creator = "ifpp-econ"
    ws = wb.active
    ws.title = "Summary"
    write_summary(ws, tables, summary)
    used = {"Summary"}
    sheets = {}
    for name, df in {**tables, "data_dictionary": presentation.data_dictionary(tables)}.items():
        df = _lead(name, df)
        sheet = wb.create_sheet(_sheet_title(name, used))
        write_table_sheet(sheet, name, df, context)
        sheets[name] = (sheet, df)
    add_native_charts(sheets, context)
    buffer = io.BytesIO()
    wb.save(buffer)
    tmp = path.with_suffix(".xlsx.partial")
    tmp.write_bytes(_fixed_zip_times(buffer.getvalue()))
    os.replace(tmp, path)


# -- native charts ---------------------------------------------------------------------------------
def _col(df: pd.DataFrame, name: str) -> int:
    return list(df.columns).index(name) + 1


def add_native_charts(sheets: dict[str, tuple[object, pd.DataFrame]], context: dict | None = None) -> None:
    """Excel charts built from the sheets' own cells; ``sheets``: table name → (worksheet, DataFrame)."""
    if "ceac" in sheets:
        _ceac(*sheets["ceac"])
    if "tornado" in sheets:
        context = context or {}
        _tornado(*sheets["tornado"], context.get("dsa_outcome", "savings"), context.get("dsa_base_outcome"))
    if "ce_plane" in sheets:
        _ce_plane(*sheets["ce_plane"])
    if "cohort_trace" in sheets:
        _trace(*sheets["cohort_trace"])
    if "budget_by_year" in sheets:
        _budget(*sheets["budget_by_year"])


def _anchor(ws, df: pd.DataFrame) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(len(df.columns) + 2)}2"


def _scatter(title: str, x_title: str, y_title: str):
    """An openpyxl scatter chart in the workbook's style, titled."""
    from openpyxl.chart import ScatterChart

    chart = ScatterChart()
    chart.title, chart.style = title, 13
    chart.x_axis.title, chart.y_axis.title = x_title, y_title
    return chart


def _ceac(ws, df: pd.DataFrame) -> None:
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
    chart.width, chart.height = 18, 9
    ws.add_chart(chart, _anchor(ws, df))


def _tornado(ws, df: pd.DataFrame, outcome: str, base_outcome: float | None = None, top: int = 15) -> None:
    """Bars from the base case to the outcome at each parameter's low and high value (largest swing on top).

    A clustered bar chart with full overlap whose category axis crosses the value axis at
    the base-case outcome, so every bar starts at the base case; helper columns hold the
    chart's labels (parameter and its low–high range) in largest-swing-last order.
    """
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    n = min(top, len(df))
    base_outcome = _base_outcome(df, base_outcome)
    if n == 0 or base_outcome is None:
        return
    # helper block right of the table: label, low and high outcome (reversed: largest swing on top of the chart)
    start = len(df.columns) + 2
    for j, h in enumerate(["Chart label", "Parameter at its low value", "Parameter at its high value"]):
        _store(ws.cell(1, start + j), h)
        ws.cell(1, start + j).font = Font(bold=True)
    units = presentation.DSA_OUTCOMES.get(outcome, ("", "number", 4))
    money = units[1] == "gbp"
    fmt = '"£"#,##0;-"£"#,##0' if money else "0.0000"
    rows = df.head(n).iloc[::-1]
    for k, (_, r) in enumerate(rows.iterrows(), start=2):
        label = r["label"] if isinstance(r.get("label"), str) and r["label"] else r["parameter"]
        _store(ws.cell(k, start), f"{label} ({presentation.number(r['low'])} to {presentation.number(r['high'])})")
        _store(ws.cell(k, start + 1), float(r["outcome_low"]), fmt)
        _store(ws.cell(k, start + 2), float(r["outcome_high"]), fmt)
    chart = BarChart()
    chart.type = "bar"
    chart.grouping = "clustered"
    chart.overlap = 100
    chart.gapWidth = 40
    label, _ = ("Savings per child (£)", None) if outcome == "savings" else (presentation.COLUMNS[outcome].header, None)
    base_text = presentation.gbp(base_outcome) if money else presentation.number(base_outcome, 4)
    chart.title = f"One-way sensitivity: {label}; bars start at the base case ({base_text})"
    for c in (start + 1, start + 2):
        chart.add_data(Reference(ws, min_col=c, min_row=1, max_row=n + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=start, min_row=2, max_row=n + 1))
    chart.x_axis.crossesAt = base_outcome  # the category axis sits at the base case: bars grow from it
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.x_axis.tickLblPos = "low"  # parameter labels at the left edge, clear of the bars
    chart.y_axis.title = label
    chart.y_axis.number_format = '"£"#,##0,"k"' if money else "0.000"
    chart.y_axis.majorGridlines = None
    chart.legend.position = "b"
    for series, colour in zip(chart.series, ("E69F00", "0072B2")):  # low orange, high blue (as the PNG)
        series.graphicalProperties.solidFill = colour
        series.graphicalProperties.line.solidFill = colour
    chart.width, chart.height = 32, 13
    ws.column_dimensions[get_column_letter(start)].width = 60
    for c in (start + 1, start + 2):
        ws.column_dimensions[get_column_letter(c)].width = 16
    ws.add_chart(chart, f"A{len(df) + 4}")


def _base_outcome(df: pd.DataFrame, known: float | None) -> float | None:
    """The base-case outcome (the bars' common end): given by the run, else that of a parameter that moves nothing."""
    if known is not None:
        return float(known)
    lo, hi = df["outcome_low"].to_numpy(float), df["outcome_high"].to_numpy(float)
    flat = np.isclose(lo, hi, rtol=0, atol=1e-9 * max(1.0, float(np.nanmax(np.abs(lo)))))
    return float(lo[flat][0]) if flat.any() else None


def _ce_plane(ws, df: pd.DataFrame) -> None:
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
    chart.width, chart.height = 18, 11
    ws.add_chart(chart, _anchor(ws, df))


def _trace(ws, df: pd.DataFrame) -> None:
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
        start += count
    first = strategies.count(strategies[0]) if strategies else 0
    chart.set_categories(Reference(ws, min_col=_col(df, "month"), min_row=2, max_row=1 + first))
    chart.x_axis.delete = chart.y_axis.delete = False
    chart.width, chart.height = 18, 9
    ws.add_chart(chart, _anchor(ws, df))


def _budget(ws, df: pd.DataFrame) -> None:
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.title = "Budget impact by year (undiscounted cash)"
    chart.y_axis.title = "£"
    chart.y_axis.number_format = '"£"#,##0'
    for name in ("programme_spend", "costs_avoided", "net_saving"):
        chart.add_data(Reference(ws, min_col=_col(df, name), min_row=1, max_row=len(df) + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=_col(df, "year"), min_row=2, max_row=len(df) + 1))
    chart.x_axis.title = "Year"
    chart.x_axis.delete = chart.y_axis.delete = False
    for series, colour in zip(chart.series, ("D55E00", "0072B2", "000000")):
        series.graphicalProperties.solidFill = colour
        series.graphicalProperties.line.solidFill = colour
    chart.legend.position = "b"
    chart.width, chart.height = 18, 9
    ws.add_chart(chart, f"B{len(df) + 4}")
