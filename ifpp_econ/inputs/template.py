"""Writing the parameter workbook template (the default workbook or a preset's) from the schema.

The cell content depends only on the schema: workbook properties and zip entries carry a fixed
date, so equal content gives equal bytes.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from pathlib import Path

from . import schema

FIXED_TIME = dt.datetime(2024, 1, 1)
KEY_INPUTS_SHEET = "Key inputs"


def template_tables(preset: str | None = "default") -> dict[str, list[dict]]:
    """The rows of every table sheet for a preset."""
    changes = schema.preset_changes(preset or "default")
    params = [dict(r) for r in schema.PARAMETERS]
    for r in params:
        r.update(changes["parameters"].get(r["name"], {}))
    strategies = [dict(r) for r in schema.STRATEGIES]
    for r in strategies:
        r.update(changes["strategies"].get(r["strategy"], {}))
    settings = [{"setting": n, "value": v, "allowed": allowed, "notes": notes} for n, v, _, allowed, notes in schema.SETTINGS]
    return {
        "Settings": settings,
        "Parameters": params,
        "Strategies": strategies,
        "Age bands": [dict(r) for r in schema.AGE_BANDS],
        "Placement mix": [dict(r) for r in schema.PLACEMENT_MIX],
        "Scenarios": [dict(r) for r in schema.SCENARIOS],
        "Correlations": [dict(r) for r in schema.CORRELATIONS],
        "Inflation": [{"financial_year": y, "annual_change": c, "source": s} for y, c, s in schema.INFLATION],
    }


README_TEXT = [
    "ifpp-econ parameter workbook",
    "",
    "Edit only the yellow cells, save, and rerun (ifpp-econ validate / run / psa). The tool only reads this file.",
    "Errors name the sheet and cell, what was found and what is allowed.",
    "",
    "Sheets:",
    "Settings — analysis price year, horizon, discount rates, within-cycle correction, effect model, PSA iterations and "
    "seed, willingness-to-pay grid, LA referrals per year, comparator.",
    "Parameters — one row per parameter: value, unit, price year, PSA distribution and its arguments, one-way low/high, "
    "source, status and notes.",
    "Added cost rows — a cost of your own (e.g. CAMHS per month in care, paid by the NHS): a Parameters row with a new "
    "name, a cost unit, price_year, payer (LA, HMCTS, NHS, education, police/youth justice, other) and applies_to "
    "(month_in_care, care_entry, month_at_home_after_return, referral, proceedings); it is sampled, varied and "
    "reported like every row, in its payer's row of the payer ledger.",
    "Cashable shares — cashable_share: the share of a cost row's savings that releases cash (spot purchases 100%; "
    "in-house capacity and staff time 0% until capacity is cut); cashable_lag_months: months from the programme's "
    "start before they do. Settings all_savings_cashable = yes counts every saving as cash.",
    "Strategies — the options compared (at least two); receives_ifpp yes/no; cost_method none, per_family "
    "(ifpp_cost_per_family) or bottom_up (team_fte × cost_per_fte ÷ families_per_team_year); cost_multiplier.",
    "Age bands — age at referral and share of children; each band is followed to age 18 (PSA spread: Settings "
    "age_mix_effective_n).",
    "Placement mix — for children entering care: one column per age band (headed with the band's name) with the share "
    "of entrants in each placement type; each column sums to 1. PSA spread: Settings placement_mix_effective_n "
    "(Dirichlet with the shares as its mean).",
    "Scenarios — named overrides: target is a parameter name, a setting, mix:<band>:<type>, age_share:<band> or "
    "strategy_cost_method:<strategy>.",
    "Correlations — optional rank correlations between sampled parameters (Gaussian copula).",
    "Inflation — annual change in prices by financial year, used to uplift each cost from its price year.",
    "",
    "Numbers may be typed as 0.35, 35%, £1,200 or 1 200. Type numbers rather than formulas; a formula is read only "
    "from its saved value. Add strategies, scenarios, correlations or inflation years as new rows; blank rows are "
    "skipped. Low, high and the distribution arguments are in the row's unit; costs are uplifted from their "
    "price_year to the analysis price year with the Inflation sheet.",
    "",
    "Units: costs GBP/<week|month|year|episode>/<child|family> (per-family costs are divided by children_per_family); "
    "GBP/year (salary per FTE); GBP/hour; probability (cumulative); probability/month; probability/year; rate/year; "
    "relative risk; months; years; FTE; families/year; children; share.",
    "",
    "Distributions (value = base case; a = param_a, b = param_b; low/high = one-way range, blank = the "
    "distribution's 2.5th/97.5th percentiles): fixed; beta_mean_se (a = SE); beta_alpha_beta (a = α, b = β); beta_events_n "
    "(a = events, b = n); gamma_mean_se (a = SE); lognormal_ci (value = point estimate, a/b = 95% CI); lognormal_log "
    "(a = log-mean, b = log-SE); normal_mean_se (a = SE); uniform (a = min, b = max); triangular and pert (a = min, "
    "b = max, mode = value); gamma_mean_sepct (a = SE as a share of the value, e.g. 25%: the spread follows an edited "
    "value). Shares use a Dirichlet whose mean is the shares, spread set in Settings.",
    "",
    "Payer: LA (local authority children's services) or HMCTS (courts). The perspective setting decides which costs "
    "count: local_authority (LA only, the base case) or public_sector (LA and HMCTS).",
    "",
    "Status: F = figure reported by the source; D = derived from reported figures; E = estimate where no source was "
    "found — replace with local data; L = local data (e.g. from ifpp-econ calibrate).",
]


def write_template(path: str | Path, preset: str | None = None, force: bool = False) -> Path:
    """Write the default (or a preset's: ``option2``, ``ifss``) workbook to ``path``.

    Refuses to overwrite an existing file unless ``force`` (:class:`FileExistsError`).
    Workbook properties carry a fixed date, so the cell content depends only on the schema.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; choose another name or use --force to replace it")
    if path.suffix.lower() != ".xlsx":
        raise ValueError(f"{path}: the workbook must be an .xlsx file")
    tables = template_tables(preset or "default")
    wb = Workbook()
    wb.properties.creator = "ifpp-econ"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    header_fill = PatternFill("solid", fgColor="1F4E78")
    input_fill = PatternFill("solid", fgColor="FFF2CC")
    readme = wb.active
    readme.title = "README"
    for line in README_TEXT:
        readme.append([line])
    readme["A1"].font = Font(bold=True, size=14)
    readme.column_dimensions["A"].width = 140
    for row in readme.iter_rows():
        row[0].alignment = Alignment(wrap_text=True, vertical="top")

    list_ref = {vocab: f"=Lists!${get_column_letter(j)}$2:${get_column_letter(j)}${len(values) + 1}"
                for j, (vocab, values) in enumerate(schema.VOCABULARIES.items(), start=1)}

    for sheet in schema.SHEETS[1:]:
        ws = wb.create_sheet(sheet)
        cols = sheet_columns(sheet, [r["band"] for r in tables["Age bands"]])
        ws.append(list(cols))
        for cell in ws[1]:
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = header_fill
        for row in tables[sheet]:
            ws.append([row.get(c) for c in cols])
        ws.freeze_panes = "B2"
        n_rows = max(len(tables[sheet]) + 1, 2)
        last = n_rows + 50  # room for rows a user adds
        for j, col in enumerate(cols, start=1):
            letter = get_column_letter(j)
            width = max(len(col), *(len(str(r.get(col) or "")) for r in tables[sheet])) if tables[sheet] else len(col)
            ws.column_dimensions[letter].width = min(max(width + 2, 10), 60)
            if col in schema.INPUT_COLUMNS.get(sheet, ()) or (sheet == "Placement mix" and col not in cols[:2] + ("notes",)):
                for i in range(2, last + 1):
                    ws.cell(i, j).fill = input_fill
            vocab = col if col in schema.VOCABULARIES else None
            if vocab:
                dv = DataValidation(type="list", formula1=list_ref[vocab], allow_blank=True, showErrorMessage=True,
                                    errorStyle="stop", errorTitle="Not an allowed value")
                dv.error = f"Choose one of the allowed values for {col} from the list"
                dv.add(f"{letter}2:{letter}{last}")
                ws.add_data_validation(dv)
        if sheet == "Settings":
            for i, (name, *_rest) in enumerate(schema.SETTINGS, start=2):
                if name in schema.VOCABULARIES:
                    dv = DataValidation(type="list", formula1=list_ref[name], allow_blank=False, showErrorMessage=True,
                                        errorStyle="stop", errorTitle="Not an allowed value")
                    dv.error = f"Choose one of the allowed values for {name} from the list"
                    dv.add(f"B{i}")
                    ws.add_data_validation(dv)
            ws.column_dimensions["B"].width = 28
    _number_formats(wb["Parameters"], tables["Parameters"])
    _key_inputs_sheet(wb, tables)
    lists = wb.create_sheet("Lists")  # hidden, last: the drop-down vocabularies
    for j, (vocab, values) in enumerate(schema.VOCABULARIES.items(), start=1):
        lists.cell(1, j, vocab)
        for i, v in enumerate(values, start=2):
            lists.cell(i, j, v)
    lists.sheet_state = "hidden"
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    wb.save(buffer)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")  # a failed write leaves nothing behind
    try:
        partial.write_bytes(_fixed_zip_times(buffer.getvalue()))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _number_formats(ws, rows: list[dict]) -> None:
    """Value, low and high cells shown in each row's unit: £ with thousands separators, probabilities as %."""
    cols = schema.COLUMNS["Parameters"]
    for i, row in enumerate(rows, start=2):
        unit = str(row.get("unit") or "")
        fmt = ('"£"#,##0' if unit.startswith("GBP") else "0.00%" if unit.startswith("probability") or unit == "share"
               else None)
        if fmt:
            for col in ("value", "low", "high"):
                ws.cell(i, cols.index(col) + 1).number_format = fmt
        if row.get("cashable_share") is not None:
            ws.cell(i, cols.index("cashable_share") + 1).number_format = "0%"


def _key_inputs_sheet(wb, tables: dict) -> None:
    """A sheet (second, after README) listing the inputs a finance lead changes first, each with its current value
    (a formula linking to the yellow cell) and a link to that cell. Only a guide: the tool reads the cells it links to,
    so the sheet is protected, and the reader refuses a value typed over a link (:data:`KEY_INPUTS_SHEET`)."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.hyperlink import Hyperlink

    ws = wb.create_sheet(KEY_INPUTS_SHEET, 1)
    ws.append(["Key inputs: change these first (click a cell reference to go to the yellow cell), save, rerun."])
    ws["A1"].font = Font(bold=True, size=12)
    ws.append(["input", "current value", "edit it at"])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for what, sheet, key, col in schema.KEY_INPUTS:
        names = [str(r.get(schema.COLUMNS[sheet][0])) for r in tables[sheet]]
        if key not in names:
            continue
        columns = sheet_columns(sheet, [r["band"] for r in tables["Age bands"]])
        col = columns[2] if sheet == "Placement mix" else col  # the first age band's shares
        row = tables[sheet][names.index(key)]
        ref = f"{get_column_letter(columns.index(col) + 1)}{names.index(key) + 2}"
        target = f"'{sheet}'!{ref}"
        ws.append([what, f"={target}", f"{sheet}!{ref}"])
        unit = str(row.get("unit") or ("share" if sheet == "Placement mix" else ""))
        if col == "value" or sheet == "Placement mix":
            ws.cell(ws.max_row, 2).number_format = ('"£"#,##0' if unit.startswith("GBP") else "0.0%"
                                                    if unit.startswith("probability") or unit == "share" else "General")
        link = ws.cell(ws.max_row, 3)
        link.hyperlink = Hyperlink(ref=link.coordinate, location=target)  # a link inside the workbook
        link.font = Font(color="0563C1", underline="single")
    ws.column_dimensions["A"].width = 70
    ws.column_dimensions["B"].width = 18
    ws.column_dimensions["C"].width = 24
    # Only a guide: its values are links to the yellow cells the tool reads. Protected (no password; Excel and
    # LibreOffice refuse typing here), and a value typed over a link anyway is refused by the reader, with where to type.
    ws.protection.sheet = True


def sheet_columns(sheet: str, bands: list[str]) -> tuple[str, ...]:
    """A sheet's columns; the Placement mix sheet has one share column per age band before its notes."""
    cols = schema.COLUMNS[sheet]
    return cols[:-1] + tuple(bands) + cols[-1:] if sheet == "Placement mix" else cols


def _fixed_zip_times(data: bytes) -> bytes:
    """The same zip with every entry dated FIXED_TIME, so equal content gives equal bytes."""
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, content)
            dst.writestr(fixed, content)
    return out.getvalue()
