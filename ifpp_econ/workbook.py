"""Parameter workbooks: writing the template, reading and validating a user's workbook.

The reader never writes to the input. It reports every problem it finds in one pass,
each as ``<file>: <Sheet>!<Cell>: <what was found>; <what is allowed>``, and returns
validated :class:`Inputs`: settings, one table of parameter values (placement-mix and
age-band shares included as ``mix:<type>`` and ``age_share:<band>`` rows), strategies,
age bands, scenarios, correlations and inflation.
"""
from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import io
import math
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import distributions, schema, units
from .distributions import MARGINALS, SamplingError, arity, check_distributions, correlation_cholesky
from .exceptions import InputError
from .inputs import Inputs, Settings

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 50 * 1024 * 1024
MAX_ROWS = 2000
MAX_TEXT = 5000
MAX_COLUMNS = 200  # cells further right are ignored
HEADER_SEARCH_ROWS = 10  # a table's header row is looked for among its first data rows
FIXED_TIME = dt.datetime(2024, 1, 1)


class WorkbookError(InputError):
    """Every problem found in a workbook (``problems``: one message each)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------
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


def _key_inputs_sheet(wb, tables: dict) -> None:
    """A sheet (second, after README) listing the inputs a finance lead changes first, each with its current value
    and a link to the yellow cell to edit. Only a guide: the tool reads the cells it links to."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.hyperlink import Hyperlink

    ws = wb.create_sheet("Key inputs", 1)
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


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------
NUMBER_PATTERN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
THOUSANDS_PATTERN = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?$")  # 1,200 or 12,000,000.5


def parse_number(value) -> float:
    """A number from a cell: numbers, or text such as "35%", "£1,200", "1 200", "1.2e3".

    A comma is read only as a thousands separator in a clear grouping (``1,200``,
    ``12,000,000``); any other comma (``400,50``, ``1,5``) may be a decimal comma, so the
    text is refused with both readings.
    """
    if isinstance(value, bool):
        raise ValueError(f"found TRUE/FALSE ({value})")
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
    elif isinstance(value, str):
        text = value.strip().replace("£", "").replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
        percent = text.endswith("%")
        text = text.rstrip("%")
        if "," in text:
            plain = text.replace(",", "")
            if not THOUSANDS_PATTERN.match(text) and NUMBER_PATTERN.match(plain) and text.count(",") == 1 \
                    and "." not in text and NUMBER_PATTERN.match(text.replace(",", ".")):
                unit = "%" if percent else ""
                raise ValueError(f"found {_show(value)}: a decimal comma or a thousands separator? It reads as "
                                 f"{text.replace(',', '.')}{unit} or as {plain}{unit}; type it with a decimal point "
                                 f"(e.g. {text.replace(',', '.')}{unit}) or without the comma")
            if not THOUSANDS_PATTERN.match(text):
                raise ValueError(f"found text {_show(value)} (commas only separate thousands, as in 1,200)")
            text = plain
        if not NUMBER_PATTERN.match(text):
            raise ValueError(f"found text {_show(value)}")
        v = float(text) / (100.0 if percent else 1.0)
    elif isinstance(value, (dt.datetime, dt.date)):
        raise ValueError(f"found a date ({value})")
    else:
        raise ValueError(f"found {type(value).__name__}")
    if not math.isfinite(v):
        raise ValueError(f"found {v} (not a finite number)")
    return v


def _show(value) -> str:
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


class _Collector:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{self.path.name}: {where}: {message}" if where else f"{self.path.name}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{self.path.name}: {where}: {message}")


@dataclass
class _Sheet:
    name: str
    rows: list[dict]  # column -> value, plus "_row"
    columns: dict[str, int]  # column name -> 1-based index
    formulas: set[tuple[int, int]]  # (row, col) of formula cells without a cached value
    complete: bool = True  # every required column was found


def _cell(sheet: _Sheet, row: int, column: str) -> str:
    from openpyxl.utils import get_column_letter

    return f"{sheet.name}!{get_column_letter(sheet.columns[column])}{row}"


def _precheck(path: Path, c: _Collector) -> bool:
    if not path.exists():
        c.add("", "file not found")
        return False
    if path.is_dir():
        c.add("", "is a folder, not a workbook")
        return False
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        c.add("", f"expected an Excel workbook ending in .xlsx; found a {path.suffix or 'file without an extension'} "
                  "(save it from Excel or LibreOffice as Excel Workbook (.xlsx))")
        return False
    size = path.stat().st_size
    if size == 0:
        c.add("", "the file is empty; expected an Excel .xlsx workbook")
        return False
    if size > MAX_FILE_BYTES:
        c.add("", f"the file is {size / 1e6:.0f} MB; a parameter workbook should be well under {MAX_FILE_BYTES // 2**20} MB")
        return False
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        c.add("", "this is an encrypted (password-protected) workbook or an old .xls file; save it as an unprotected "
                  "Excel Workbook (.xlsx)")
        return False
    if not zipfile.is_zipfile(path):
        c.add("", "not an Excel .xlsx workbook (it may be a CSV, a text file or a damaged download); "
                  "open it in Excel or LibreOffice and save as Excel Workbook (.xlsx)")
        return False
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            total = sum(i.file_size for i in infos)
            bomb = any(i.file_size > 10 * 2**20 and i.file_size > 1000 * max(i.compress_size, 1) for i in infos)
            if total > MAX_UNZIPPED_BYTES or bomb:
                c.add("", f"the workbook unpacks to {total / 1e6:,.0f} MB, far more than a parameter workbook needs; "
                          "refusing to read it")
                return False
            if "xl/workbook.xml" not in z.namelist():
                c.add("", "a zip file but not an Excel workbook (no xl/workbook.xml); save it as .xlsx")
                return False
            bad = z.testzip()
            if bad:
                c.add("", f"the file is damaged (entry {bad} is corrupt); save it again from Excel or LibreOffice")
                return False
            for sheet, ref in _merged_input_cells(z):
                c.add(f"{sheet}!{ref}", "merged cells in a table; unmerge them so each value has its own cell")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        c.add("", f"the file is damaged or truncated ({exc}); save it again from Excel or LibreOffice")
        return False
    return True


def _merged_input_cells(z: zipfile.ZipFile) -> list[tuple[str, str]]:
    """(sheet, range) of merged cells in the table sheets (read from the workbook's XML, safely parsed)."""
    from defusedxml import ElementTree

    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
          "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
    try:
        book = ElementTree.fromstring(z.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return []
    targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", ns)}
    found = []
    for sheet in book.findall("m:sheets/m:sheet", ns):
        name = sheet.get("name")
        if name not in schema.SHEETS[1:]:
            continue
        target = targets.get(sheet.get(f"{{{ns['r']}}}id"), "").lstrip("/")
        path = target if target.startswith("xl/") else f"xl/{target}"
        try:
            with z.open(path) as fh:
                head = fh.read(MAX_UNZIPPED_BYTES)
        except KeyError:
            continue
        found += [(name, ref) for ref in re.findall(rb'<(?:\w+:)?mergeCell ref="([A-Z0-9:]+)"', head)]
    return [(n, r.decode()) for n, r in found]


def _load_sheets(path: Path, c: _Collector) -> dict[str, _Sheet] | None:
    import warnings

    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values_wb = load_workbook(path, read_only=True, data_only=True)
            formula_wb = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for damaged files
        c.add("", f"cannot be read as an Excel workbook ({type(exc).__name__}: {str(exc)[:200]}); "
                  "save it again as Excel Workbook (.xlsx)")
        return None
    sheets = {}
    try:
        missing = [s for s in schema.SHEETS[1:] if s not in values_wb.sheetnames]
        for s in missing:
            optional = s == "Correlations"
            if not optional:
                c.add(s, f"sheet missing; the workbook needs the sheets {', '.join(schema.SHEETS[1:])} "
                         "(write a fresh one with ifpp-econ template)")
        for name in schema.SHEETS[1:]:
            if name not in values_wb.sheetnames:
                continue
            values, formulas = _data_rows(values_wb[name]), _data_rows(formula_wb[name])
            if values is None or formulas is None:
                c.add(name, f"the sheet has more than {MAX_ROWS:,} rows holding data; at most {MAX_ROWS:,} are allowed")
                continue
            sheets[name] = _table(name, values, formulas, c)
    except Exception as exc:  # sheets are parsed lazily: damaged XML surfaces here
        c.add("", f"cannot be read as an Excel workbook ({type(exc).__name__}: {str(exc)[:200]}); "
                  "save it again as Excel Workbook (.xlsx)")
        return None
    finally:
        values_wb.close()
        formula_wb.close()
    return sheets


def _holds_data(row) -> bool:
    return any(v is not None and not (isinstance(v, str) and not v.strip()) for v in row)


def _data_rows(ws) -> dict[int, list] | None:
    """Row number → cell values of the rows that hold data (None if more than :data:`MAX_ROWS`).

    Counts rows by their content, not by the sheet's ``<dimension>`` (which may be under- or
    overstated) nor by empty or formatting-only row records (LibreOffice writes one at row
    1,048,576 after rows are deleted). Reads the row records themselves with openpyxl's
    sheet parser, so a gap of a million rows costs nothing; the unpacked-size guard bounds
    the work. Cells beyond column :data:`MAX_COLUMNS` are ignored.
    """
    from openpyxl.worksheet._reader import WorkSheetParser

    book = ws.parent
    rows = {}
    with ws._get_source() as src:
        parser = WorkSheetParser(src, ws._shared_strings, data_only=book.data_only, epoch=book.epoch,
                                 date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
        for i, cells in parser.parse():
            cells = [cell for cell in cells if cell["column"] <= MAX_COLUMNS]
            row = [None] * max((cell["column"] for cell in cells), default=0)
            for cell in cells:
                row[cell["column"] - 1] = cell["value"]
            if _holds_data(row):
                rows[i] = row
                if len(rows) > MAX_ROWS:
                    return None
    return rows


def _header_key(value) -> str:
    return str(value).strip().lower() if value is not None else ""


def _find_header(name: str, values: dict[int, list]) -> int | None:
    """The row holding the most of the sheet's expected headers, among its first data rows (ties: the first)."""
    expected = set(schema.COLUMNS[name])
    best, best_row = 0, None
    for i in sorted(values)[:HEADER_SEARCH_ROWS]:
        hits = len(expected & {_header_key(v) for v in values[i]})
        if hits > best:
            best, best_row = hits, i
    return best_row if best_row is not None else (min(values) if values else None)


def _table(name: str, values: dict[int, list], fvalues: dict[int, list], c: _Collector) -> _Sheet:
    """A sheet's records keyed by header name; headers are found by name in the first rows."""
    expected = schema.COLUMNS[name]
    header_row = _find_header(name, values)
    header = [_header_key(v) for v in values.get(header_row, [])]
    at = header_row or 1
    columns, first_cell = {}, {}
    for j, h in enumerate(header, start=1):
        if h not in expected:
            continue
        if h in columns:
            c.add(f"{name}!{_letter(first_cell[h])}{at} and {name}!{_letter(j)}{at}",
                  f"two columns headed {h!r}; keep one (rename or delete the other)")
            continue
        columns[h], first_cell[h] = j, j
    optional = ("notes", "source", "label", "allowed", "description", "payer")
    unmatched = {j: values[header_row][j - 1] for j, h in enumerate(header, start=1)
                 if h and h not in expected} if header_row else {}
    if name == "Placement mix":  # plus one share column per age band, headed with the band's name
        for j in list(unmatched):
            columns.setdefault(header[j - 1], j)
        unmatched = {}
    for col in expected:
        if col in columns or col in optional:
            continue
        near = {j: v for j, v in unmatched.items() if difflib.get_close_matches(col, [_header_key(v)], n=1, cutoff=0.6)}
        j = min(near) if near else (expected.index(col) + 1 if expected.index(col) + 1 in unmatched else None)
        listed = f"the sheet's headers are {', '.join(expected)}"
        if j is not None and near:
            c.add(f"{name}!{_letter(j)}{at}", f"found the header {_show(unmatched[j])}; expected {col!r} — did you mean "
                                              f"{col!r}? ({listed})")
            unmatched.pop(j)
        elif j is not None:
            c.add(f"{name}!{_letter(j)}{at}", f"found the header {_show(unmatched[j])}; expected {col!r} ({listed})")
            unmatched.pop(j)
        else:
            found = ", ".join(repr(h) for h in header if h) or "none"
            c.add(f"{name}!{at}:{at}", f"missing the column {col!r}; found the headers {found} ({listed})")
    formulas = set()
    rows = []
    for i in sorted(set(values) | set(fvalues)):
        if header_row is not None and i <= header_row:
            continue  # the header, and any title above it
        row, frow = values.get(i, []), fvalues.get(i, [])
        if not _holds_data(row) and not any(isinstance(f, str) and f.startswith("=") for f in frow):
            continue  # blank row: skipped
        record = {"_row": i}
        for col, j in columns.items():
            v = row[j - 1] if j - 1 < len(row) else None
            f = frow[j - 1] if j - 1 < len(frow) else None
            if v is None and isinstance(f, str) and f.startswith("="):
                formulas.add((i, j))
            if isinstance(v, str):
                if len(v) > MAX_TEXT:
                    c.add(f"{name}!{_letter(j)}{i}", f"text of {len(v):,} characters; at most {MAX_TEXT:,} allowed")
                    v = v[:MAX_TEXT]
                v = v.strip() if col not in ("notes", "source", "description", "label") else v
            record[col] = v
        rows.append(record)
    required = [col for col in expected if col not in optional]
    return _Sheet(name, rows, columns, formulas, complete=all(col in columns for col in required))


def _letter(j: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(j)


def _value(sheet: _Sheet, rec: dict, col: str, c: _Collector, required: bool = True, allowed: str = "a number"):
    """A parsed number from one cell (None if blank and optional); problems go to ``c``."""
    if col not in sheet.columns:
        return None
    where = _cell(sheet, rec["_row"], col)
    if (rec["_row"], sheet.columns[col]) in sheet.formulas:
        c.add(where, "formula without a saved value (the file was written by a program and never opened in Excel); "
                     "open and save it in Excel or LibreOffice, or type the number")
        return None
    v = rec.get(col)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            c.add(where, f"empty; expected {allowed}")
        return None
    try:
        return parse_number(v)
    except ValueError as exc:
        c.add(where, f"{exc}; expected {allowed}")
        return None


def _text(sheet: _Sheet, rec: dict, col: str) -> str:
    v = rec.get(col)
    return "" if v is None else str(v).strip()


def _check_formula_text(sheet: _Sheet, rec: dict, col: str, c: _Collector) -> bool:
    if col in sheet.columns and (rec["_row"], sheet.columns[col]) in sheet.formulas:
        c.add(_cell(sheet, rec["_row"], col), "formula without a saved value; open and save the file in Excel or "
                                              "LibreOffice, or type the value")
        return False
    return True


def _read_settings(sheet: _Sheet, c: _Collector) -> dict:
    known = {s[0]: s for s in schema.SETTINGS}
    found = {}
    for rec in sheet.rows:
        name = _text(sheet, rec, "setting")
        if name not in known:
            c.add(_cell(sheet, rec["_row"], "setting"), f"unknown setting {_show(name)}; settings: {', '.join(known)}")
            continue
        if name in found:
            c.add(_cell(sheet, rec["_row"], "setting"), f"setting {name} appears twice")
            continue
        _, default, kind, allowed, _ = known[name]
        where = _cell(sheet, rec["_row"], "value")
        if not _check_formula_text(sheet, rec, "value", c):
            continue
        raw = rec.get("value")
        if kind.startswith(("int", "number")):
            v = _value(sheet, rec, "value", c, allowed=allowed)
            if v is None:
                continue
            _, lo, hi = kind.split(":")
            if not float(lo) <= v <= float(hi) or (kind.startswith("int") and v != int(v)):
                c.add(where, f"found {v:g}; allowed: {allowed}")
                continue
            found[name] = int(v) if kind.startswith("int") else v
        elif kind.startswith("choice:"):
            vocab = schema.VOCABULARIES[kind.split(":")[1]]
            text = _text(sheet, rec, "value")
            if text not in vocab:
                c.add(where, f"found {_show(text)}; allowed: {', '.join(vocab)}")
                continue
            found[name] = text
        elif kind == "year":
            text = _text(sheet, rec, "value")
            try:
                units.year_start(text)
            except units.UnitsError:
                c.add(where, f"found {_show(text)}; allowed: {allowed}")
                continue
            found[name] = text
        elif kind == "list":
            found[name] = [t.strip() for t in str(raw or "").split(",") if t.strip()]
        else:
            text = _text(sheet, rec, "value")
            if not text:
                c.add(where, f"empty; allowed: {allowed}")
                continue
            found[name] = text
    for name, default, *_ in schema.SETTINGS:
        if name not in found and not any(_text(sheet, r, "setting") == name for r in sheet.rows):
            c.add(f"{sheet.name}", f"setting {name} is missing (default {default})")
    if {"wtp_min", "wtp_max"} <= found.keys() and found["wtp_max"] <= found["wtp_min"]:
        c.add(_setting_cell(sheet, "wtp_max"), f"wtp_max ({found['wtp_max']:g}) must be greater than wtp_min ({found['wtp_min']:g})")
    return found


def _setting_cell(sheet: _Sheet, name: str) -> str:
    """The value cell of a setting (the sheet name if the setting has no row)."""
    return next((_cell(sheet, r["_row"], "value") for r in sheet.rows if _text(sheet, r, "setting") == name), sheet.name)


def _new_key(sheet: _Sheet, rec: dict, column: str, known, noun: str, listed: str, seen: dict, c: _Collector) -> str | None:
    """A row's key if it is one of ``known`` and not seen before (``seen``: key → row, updated); else None,
    with the problem named at its cell."""
    key = _text(sheet, rec, column)
    where = _cell(sheet, rec["_row"], column)
    if key not in known:
        c.add(where, f"unknown {noun} {_show(key)}; {listed}: {', '.join(known)}")
        return None
    if key in seen:
        c.add(where, f"duplicate {noun} {key} (also in row {seen[key]})")
        return None
    seen[key] = rec["_row"]
    return key


def _read_parameters(sheet: _Sheet, c: _Collector) -> list[dict]:
    known = {p["name"]: p for p in schema.PARAMETERS}
    seen = {}
    out = []
    for rec in sheet.rows:
        name = _new_key(sheet, rec, "name", known, "parameter", "the model uses", seen, c)
        if name is None:
            continue
        default = known[name]
        ok = True
        unit = _text(sheet, rec, "unit") or default["unit"]
        allowed_units = schema.allowed_units(name, default["unit"])
        if unit not in allowed_units:
            c.add(_cell(sheet, rec["_row"], "unit"), f"found {_show(unit)}; allowed for {name}: {', '.join(allowed_units)}")
            ok = False
        dist = _text(sheet, rec, "distribution") or "fixed"
        if dist not in schema.VOCABULARIES["distribution"]:
            c.add(_cell(sheet, rec["_row"], "distribution"),
                  f"unknown distribution {_show(dist)}; allowed: {', '.join(schema.VOCABULARIES['distribution'])}")
            ok = False
        status = _text(sheet, rec, "status")
        if status and status not in schema.STATUSES:
            c.add(_cell(sheet, rec["_row"], "status"), f"found {_show(status)}; allowed: {', '.join(schema.STATUSES)}")
        payer = _text(sheet, rec, "payer") or (default.get("payer") or ("LA" if unit.startswith("GBP") else ""))
        if payer and payer not in schema.PAYERS:
            c.add(_cell(sheet, rec["_row"], "payer"), f"found {_show(payer)}; allowed: {', '.join(schema.PAYERS)}")
            ok = False
        price_year = _text(sheet, rec, "price_year") or None
        if unit.startswith("GBP") and price_year is None:
            c.add(_cell(sheet, rec["_row"], "price_year"), "empty; a cost needs its price year, e.g. 2023/24")
            ok = False
        elif price_year is not None:
            try:
                units.year_start(price_year)
            except units.UnitsError as exc:
                c.add(_cell(sheet, rec["_row"], "price_year"), f"{exc}")
                ok = False
        value = _value(sheet, rec, "value", c)
        a = _value(sheet, rec, "param_a", c, required=False)
        b = _value(sheet, rec, "param_b", c, required=False)
        low = _value(sheet, rec, "low", c, required=False)
        high = _value(sheet, rec, "high", c, required=False)
        if value is None:
            continue
        lo, hi, inclusive = schema.value_range(unit)
        if not ((lo <= value if inclusive else lo < value) and value <= hi):
            c.add(_cell(sheet, rec["_row"], "value"),
                  f"found {value:g}; allowed for {unit}: {'≥' if inclusive else '>'} {lo:g}" + (f" and ≤ {hi:g}" if hi < math.inf else ""))
            ok = False
        if low is not None and high is not None and low > high:
            c.add(_cell(sheet, rec["_row"], "low"), f"low {low:g} is above high {high:g}; swap them")
            ok = False
        elif low is not None and high is not None and not low <= value <= high:
            # a local value outside the pre-filled one-way range: the range is widened to include it
            side, cell = ("low", "low") if value < low else ("high", "high")
            c.warn(_cell(sheet, rec["_row"], "value"),
                   f"value {value:g} is outside the one-way range {low:g}–{high:g}; the {side} end is taken as {value:g} "
                   f"for the tornado (set {_cell(sheet, rec['_row'], cell)} yourself to choose another range)")
            low, high = min(low, value), max(high, value)
        elif (low is None) != (high is None):
            c.add(_cell(sheet, rec["_row"], "low"), "give both low and high, or neither (then the DSA uses the "
                                                    "distribution's 2.5th/97.5th percentiles)")
        if ok and dist in MARGINALS:
            need_a, need_b = arity(dist) >= 1, arity(dist) == 2
            typed_a, typed_b = (rec.get(col) not in (None, "") for col in ("param_a", "param_b"))  # bad text: reported
            if (need_a and a is None and not typed_a) or (need_b and b is None and not typed_b):
                c.add(_cell(sheet, rec["_row"], "param_a"), f"{dist} needs param_a" + (" and param_b" if need_b else ""))
                ok = False
            elif (need_a and a is None) or (need_b and b is None):
                ok = False
            else:
                try:
                    check_distributions(pd.DataFrame([{"value": value, "distribution": dist, "param_a": a, "param_b": b}],
                                                    index=[name]))
                except SamplingError as exc:
                    c.add(_cell(sheet, rec["_row"], "distribution"), str(exc))
                    ok = False
                else:
                    if dist == "gamma_mean_se" and value > 0 and not 0.05 <= a / value <= 1.0:
                        c.warn(_cell(sheet, rec["_row"], "param_a"),
                               f"SE {a:g} is {a / value:.1%} of the value {value:g} (an absolute SE does not follow an "
                               "edited value); if the SE is meant as a share of the value, use gamma_mean_sepct with "
                               "param_a as that share (e.g. 25%)")
                    if dist == "uniform" and not a <= value <= b:
                        c.add(_cell(sheet, rec["_row"], "value"), f"found {value:g}; a uniform parameter's value must "
                                                                  f"lie between param_a {a:g} and param_b {b:g}")
                        ok = False
        out.append({"name": name, "label": _text(sheet, rec, "label") or default["label"], "value": value, "unit": unit,
                    "price_year": price_year, "payer": payer or None, "distribution": dist, "param_a": a, "param_b": b,
                    "low": low, "high": high,
                    "source": _text(sheet, rec, "source"), "status": status, "notes": _text(sheet, rec, "notes"),
                    "group": "", "cell": _cell(sheet, rec["_row"], "value"),
                    "price_cell": _cell(sheet, rec["_row"], "price_year") if "price_year" in sheet.columns else sheet.name,
                    "_row": rec["_row"]})
    for name in known:
        if name not in seen:
            c.add(sheet.name, f"parameter {name} is missing (add a row for it; see ifpp-econ template)")
    return out


def _read_shares(sheet: _Sheet, key: str, prefix: str, group: str, effective_n: float, c: _Collector,
                 extra=None) -> tuple[list[dict], list[dict]]:
    """Share rows → parameter rows (``prefix + key``) and the sheet's own records; Dirichlet with mean = the shares
    and concentration ``effective_n`` (0 = fixed)."""
    params, records, seen = [], [], set()
    for rec in sheet.rows:
        label = _text(sheet, rec, key)
        if not label:
            c.add(_cell(sheet, rec["_row"], key), f"empty; each row needs a {key}")
            continue
        if label in seen:
            c.add(_cell(sheet, rec["_row"], key), f"duplicate {key} {label}")
            continue
        seen.add(label)
        share = _value(sheet, rec, "share", c, allowed="a share between 0 and 1")
        if share is not None and not 0 <= share <= 1:
            c.add(_cell(sheet, rec["_row"], "share"), f"found {share:g}; allowed: a share between 0 and 1")
            share = None
        record = {key: label, "share": share, "_row": rec["_row"]}
        if extra:
            record.update(extra(sheet, rec, c))
        records.append(record)
        params.append(_share_parameter(f"{prefix}{label}", f"{sheet.name}: {label}", share, group, effective_n,
                                       _text(sheet, rec, "notes"), _cell(sheet, rec["_row"], "share")))
    shares = [r["share"] for r in records]
    if records and all(s is not None for s in shares) and abs(sum(shares) - 1) > 1e-6:
        c.add(f"{sheet.name}!{_letter(sheet.columns['share'])}:{_letter(sheet.columns['share'])}",
              f"shares sum to {sum(shares):.6g}; they must sum to 1")
    if not records:
        c.add(sheet.name, "no rows; at least one is needed")
    return params, records


def _share_parameter(name: str, label: str, share, group: str, effective_n: float, notes: str, cell: str) -> dict:
    dirichlet = effective_n > 0
    return {"name": name, "label": label, "value": share, "unit": "share", "price_year": None, "payer": None,
            "distribution": "dirichlet" if dirichlet else "fixed", "param_a": effective_n if dirichlet else None,
            "param_b": None, "low": None, "high": None, "source": "", "status": "", "notes": notes, "group": group,
            "cell": cell}


def _read_placement_mix(sheet: _Sheet, bands: list[str], effective_n: float, c: _Collector) -> list[dict]:
    """The wide Placement mix sheet → one share parameter ``mix:<band>:<type>`` per age band and placement type."""
    band_cols = {}
    for band in bands:
        col = next((h for h in sheet.columns if h == band.strip().lower()), None)
        if col is None:
            c.add(f"{sheet.name}!1:1", f"no share column for age band {_show(band)}; add a column headed {band} "
                                       "(one column per band of the Age bands sheet)")
        else:
            band_cols[band] = col
    fixed_cols = set(schema.COLUMNS[sheet.name])
    for h, j in sheet.columns.items():
        if h not in fixed_cols and h not in band_cols.values():
            c.add(f"{sheet.name}!{_letter(j)}1", f"column {_show(h)} is not an age band; bands: {', '.join(bands)}")
    params, seen = [], {}
    for rec in sheet.rows:
        ptype = _new_key(sheet, rec, "placement_type", schema.PLACEMENT_TYPES, "placement type", "allowed", seen, c)
        if ptype is None:
            continue
        cost = _text(sheet, rec, "cost_parameter")
        if cost != f"cost_{ptype}":
            c.add(_cell(sheet, rec["_row"], "cost_parameter"), f"found {_show(cost)}; expected cost_{ptype}")
        for band, col in band_cols.items():
            share = _value(sheet, rec, col, c, allowed="a share between 0 and 1 (0 if unused)")
            if share is not None and not 0 <= share <= 1:
                c.add(_cell(sheet, rec["_row"], col), f"found {share:g}; allowed: a share between 0 and 1")
                share = None
            params.append(_share_parameter(schema.mix_name(band, ptype), f"Placement mix: {ptype}, age {band}", share,
                                           f"placement_mix:{band}", effective_n, "", _cell(sheet, rec["_row"], col)))
    missing = [t for t in schema.PLACEMENT_TYPES if t not in seen]
    if missing:
        c.add(sheet.name, f"missing placement type(s) {', '.join(missing)} (use share 0 if unused)")
    for band, col in band_cols.items():
        shares = [p["value"] for p in params if p["group"] == f"placement_mix:{band}"]
        if shares and all(v is not None for v in shares) and abs(sum(shares) - 1) > 1e-6:
            j = sheet.columns[col]
            c.add(f"{sheet.name}!{_letter(j)}:{_letter(j)}", f"age band {band}: shares sum to {sum(shares):.6g}; they "
                                                             "must sum to 1")
    return params


def read_workbook(path: str | Path) -> Inputs:
    """Read and validate a parameter workbook; raises :class:`WorkbookError` listing every problem."""
    path = Path(path)
    c = _Collector(path)
    if not _precheck(path, c):
        raise WorkbookError(c.problems)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    sheets = _load_sheets(path, c)
    if sheets is None:
        raise WorkbookError(c.problems)
    if any(s not in sheets for s in schema.SHEETS[1:] if s != "Correlations"):
        raise WorkbookError(c.problems)
    if not all(s.complete for s in sheets.values()):  # the tables cannot be read without their columns
        raise WorkbookError(c.problems)

    settings = _read_settings(sheets["Settings"], c)
    params = _read_parameters(sheets["Parameters"], c)
    param_names = {_text(sheets["Parameters"], r, "name") for r in sheets["Parameters"].rows}  # even rows with bad values

    def age_extra(sheet, rec, col):
        age = _value(sheet, rec, "age_at_referral_years", col, allowed="an age from 0 to under 18")
        if age is not None and not 0 <= age < 18:
            col.add(_cell(sheet, rec["_row"], "age_at_referral_years"), f"found {age:g}; allowed: 0 to under 18")
            age = None
        return {"age_at_referral_years": age}

    age_params, ages = _read_shares(sheets["Age bands"], "band", "age_share:", "age_bands",
                                    float(settings.get("age_mix_effective_n", 0)), c, age_extra)
    mix_params = _read_placement_mix(sheets["Placement mix"], [r["band"] for r in ages],
                                     float(settings.get("placement_mix_effective_n", 0)), c)
    strategies = _read_strategies(sheets["Strategies"], settings, c, _setting_cell(sheets["Settings"], "comparator"))
    inflation = _read_inflation(sheets["Inflation"], c)
    all_params = params + mix_params + age_params
    year_cell = _setting_cell(sheets["Settings"], "analysis_price_year")
    _check_prices(all_params, settings, inflation, c, year_cell)
    _check_risks(params, c)
    _check_parameter_domains(params, sheets["Parameters"], c)
    _check_strategy_costs(strategies, sheets["Strategies"], c)
    _check_dirichlet_counts(mix_params + age_params, sheets, c)
    _check_settings_limits(settings, sheets["Settings"], param_names | {p["name"] for p in mix_params + age_params},
                           len(strategies), c)
    names = param_names | {p["name"] for p in mix_params + age_params}
    scenarios = _read_scenarios(sheets["Scenarios"], all_params, names, settings, strategies, c, inflation)
    unreadable = param_names - {p["name"] for p in params}  # rows already reported: no cascade
    correlations = _read_correlations(sheets.get("Correlations"), params, c, unreadable)
    if c.problems:
        raise WorkbookError(c.problems)
    Settings.from_mapping(settings)  # every setting read: the typed view holds

    table = pd.DataFrame(all_params).drop(columns=["price_cell", "_row"], errors="ignore").set_index("name")
    table["min"], table["max"] = zip(*(domain(unit) for unit in table["unit"]))  # draws are clipped to these
    below_one = table.index.isin(BELOW_ONE) & table["unit"].str.startswith("probability")
    table.loc[below_one, "max"] = 1 - 1e-9
    for col in ("value", "param_a", "param_b", "low", "high"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    table["price_year"] = table["price_year"].astype(object)
    return Inputs(
        path=path,
        sha256=sha,
        settings=settings,
        parameters=table,
        strategies=pd.DataFrame(strategies).drop(columns="_row"),
        age_bands=pd.DataFrame(ages).drop(columns="_row"),
        scenarios=pd.DataFrame(scenarios, columns=["scenario", "target", "value"]),
        correlations=pd.DataFrame(correlations, columns=["parameter_1", "parameter_2", "rank_correlation"]),
        inflation=inflation,
        warnings=tuple(c.warnings),
    )


def _read_strategies(sheet: _Sheet, settings: dict, c: _Collector, comparator_cell: str = "Settings") -> list[dict]:
    out, seen = [], set()
    for rec in sheet.rows:
        name = _text(sheet, rec, "strategy")
        if not name:
            c.add(_cell(sheet, rec["_row"], "strategy"), "empty; each strategy needs a name")
            continue
        if name in seen:
            c.add(_cell(sheet, rec["_row"], "strategy"), f"duplicate strategy name {name}")
            continue
        seen.add(name)
        receives = _text(sheet, rec, "receives_ifpp").lower()
        if receives not in schema.YES_NO:
            c.add(_cell(sheet, rec["_row"], "receives_ifpp"), f"found {_show(receives)}; allowed: yes, no")
        method = _text(sheet, rec, "cost_method") or "none"
        if method not in schema.COST_METHODS:
            c.add(_cell(sheet, rec["_row"], "cost_method"), f"found {_show(method)}; allowed: {', '.join(schema.COST_METHODS)}")
        mult = _value(sheet, rec, "cost_multiplier", c, required=False, allowed="a number ≥ 0")
        if mult is not None and mult < 0:
            c.add(_cell(sheet, rec["_row"], "cost_multiplier"), f"found {mult:g}; allowed: ≥ 0")
        out.append({"strategy": name, "description": _text(sheet, rec, "description"), "receives_ifpp": receives,
                    "cost_method": method, "cost_multiplier": 1.0 if mult is None else mult,
                    "notes": _text(sheet, rec, "notes"), "_row": rec["_row"]})
    if len(out) < 2:
        c.add(sheet.name, f"found {len(out)} strategy(ies); at least two are needed")
    comparator = settings.get("comparator")
    if comparator is not None and comparator not in seen:
        c.add(comparator_cell, f"comparator {_show(comparator)} is not one of the strategies; allowed: "
                               f"{', '.join(r['strategy'] for r in out) or 'none'}")
    return out


def _read_inflation(sheet: _Sheet, c: _Collector) -> pd.Series:
    values = {}
    for rec in sheet.rows:
        year = _text(sheet, rec, "financial_year")
        try:
            units.year_start(year)
        except units.UnitsError:
            c.add(_cell(sheet, rec["_row"], "financial_year"), f"found {_show(year)}; expected a financial year like 2023/24")
            continue
        change = _value(sheet, rec, "annual_change", c, allowed="an annual change such as 0.0431 or 4.31%")
        if change is None:
            continue
        if not -0.5 < change < 1:
            c.add(_cell(sheet, rec["_row"], "annual_change"), f"found {change:g}; allowed: between -50% and 100%")
            continue
        if year in values:
            c.add(_cell(sheet, rec["_row"], "financial_year"), f"{year} appears twice")
        values[year] = change
    return pd.Series(values, name="annual_change", dtype=float)


def _check_prices(params: list[dict], settings: dict, inflation: pd.Series, c: _Collector, year_cell: str) -> None:
    year = settings.get("analysis_price_year")
    if year is None:
        return
    indexed = sorted(units.year_start(y) for y in inflation.index)
    if indexed and units.year_start(year) > indexed[-1]:
        c.add(year_cell, f"analysis_price_year {year} is after the last year of the Inflation sheet "
                          f"({indexed[-1]}/{(indexed[-1] + 1) % 100:02d}); add its index change or choose an earlier year")
        return
    for p in params:
        if p["unit"].startswith("GBP") and p["price_year"]:
            try:
                units.uplift_factor(p["price_year"], year, inflation)
            except units.UnitsError as exc:
                c.add(p.get("price_cell", p["cell"]), str(exc))


def _check_risks(params: list[dict], c: _Collector) -> None:
    values = {p["name"]: p for p in params}
    names = ["risk_3m", "risk_6m", "risk_12m", "risk_24m"]
    if all(n in values for n in names):
        for a, b in zip(names, names[1:]):
            if values[a]["value"] > values[b]["value"]:
                c.add(values[b]["cell"], f"{b} = {values[b]['value']:g} is below {a} = {values[a]['value']:g}; cumulative "
                                         "risks must not decrease (risk_3m ≤ risk_6m ≤ risk_12m ≤ risk_24m)")
        if values["risk_24m"]["value"] >= 1:
            c.add(values["risk_24m"]["cell"], "cumulative risk must be below 1")
    for name in ("return_support_months", "case_support_months"):
        if name in values and values[name]["value"] != int(values[name]["value"]):
            c.add(values[name]["cell"], f"found {values[name]['value']:g}; allowed: a whole number of months")
    if "return_support_months" in values and values["return_support_months"]["value"] > 12:
        c.add(values["return_support_months"]["cell"], "allowed: 0 to 12 months (time-since-return tunnels)")


def _read_scenarios(sheet: _Sheet, params: list[dict], names: set[str], settings: dict, strategies: list[dict],
                    c: _Collector, inflation: pd.Series | None = None) -> list[dict]:
    """Scenario overrides; each value is checked as its target's cell would be, and overridden shares must
    still sum to 1 within each scenario."""
    out = []
    known_settings = {s[0]: s for s in schema.SETTINGS}
    strategy_names = {s["strategy"] for s in strategies}
    by_name = {p["name"]: p for p in params}
    for rec in sheet.rows:
        scenario, target = _text(sheet, rec, "scenario"), _text(sheet, rec, "target")
        where, value_cell = _cell(sheet, rec["_row"], "target"), _cell(sheet, rec["_row"], "value")
        if not scenario:
            c.add(_cell(sheet, rec["_row"], "scenario"), "empty; each override needs a scenario name")
            continue
        if target in names:
            value = _value(sheet, rec, "value", c)
            if value is None:
                continue
            unit = by_name[target]["unit"] if target in by_name else None
            if unit is not None:
                lo, hi, inclusive = schema.value_range(unit)
                if not ((lo <= value if inclusive else lo < value) and value <= hi):
                    c.add(value_cell, f"found {value:g} for {target}; allowed for {unit}: "
                                      f"{'≥' if inclusive else '>'} {lo:g}" + (f" and ≤ {hi:g}" if hi < math.inf else ""))
                    continue
        elif target in known_settings:
            _, _, kind, allowed, _ = known_settings[target]
            if kind.startswith(("int", "number")):
                value = _value(sheet, rec, "value", c, allowed=allowed)
                if value is None:
                    continue
                _, lo, hi = kind.split(":")
                if not float(lo) <= value <= float(hi) or (kind.startswith("int") and value != int(value)):
                    c.add(value_cell, f"found {value:g} for {target}; allowed: {allowed}")
                    continue
            else:
                value = _text(sheet, rec, "value")
                if kind.startswith("choice:") and value not in schema.VOCABULARIES[kind.split(":")[1]]:
                    c.add(value_cell, f"found {_show(value)}; allowed: {', '.join(schema.VOCABULARIES[kind.split(':')[1]])}")
                    continue
                if kind == "year":
                    try:
                        units.year_start(value)
                    except units.UnitsError:
                        c.add(value_cell, f"found {_show(value)}; allowed: {allowed}")
                        continue
        elif target.startswith("strategy_cost_method:") and target.split(":", 1)[1] in strategy_names:
            value = _text(sheet, rec, "value")
            if value not in schema.COST_METHODS:
                c.add(value_cell, f"found {_show(value)}; allowed: {', '.join(schema.COST_METHODS)}")
                continue
        else:
            c.add(where, f"unknown target {_show(target)}; allowed: a parameter name, a setting, mix:<band>:<type>, "
                         "age_share:<band> or strategy_cost_method:<strategy>")
            continue
        out.append({"scenario": scenario, "target": target, "value": value, "_row": rec["_row"]})
    groups: dict[str, dict[str, float]] = {}
    for p in params:
        if p.get("group"):
            groups.setdefault(p["group"], {})[p["name"]] = p["value"]
    for group, base in groups.items():
        if any(v is None for v in base.values()):
            continue
        for scenario in dict.fromkeys(r["scenario"] for r in out):
            rows = [r for r in out if r["scenario"] == scenario and r["target"] in base]
            if not rows:
                continue
            total = sum({**base, **{r["target"]: r["value"] for r in rows}}.values())
            if abs(total - 1) > 1e-6:
                c.add(_cell(sheet, rows[0]["_row"], "value"), f"scenario {_show(scenario)}: {group} shares sum to "
                                                              f"{total:.6g} after its overrides; they must sum to 1")
    _check_scenario_effects(sheet, out, params, settings, strategies, inflation, c)
    return [{k: v for k, v in r.items() if k != "_row"} for r in out]


def _read_correlations(sheet: _Sheet | None, params: list[dict], c: _Collector, unreadable: set[str] = frozenset()
                       ) -> list[dict]:
    if sheet is None:
        return []
    sampled = {p["name"] for p in params if p["distribution"] not in ("fixed",)}
    out = []
    for rec in sheet.rows:
        a, b = _text(sheet, rec, "parameter_1"), _text(sheet, rec, "parameter_2")
        ok = True
        for col, n in (("parameter_1", a), ("parameter_2", b)):
            if n in unreadable:
                ok = False
            elif n not in sampled:
                c.add(_cell(sheet, rec["_row"], col), f"{_show(n)} is not a parameter with a distribution; "
                                                      "correlations need two sampled parameters")
                ok = False
        rho = _value(sheet, rec, "rank_correlation", c, allowed="a rank correlation strictly between -1 and 1")
        if rho is not None and not -1 < rho < 1:
            c.add(_cell(sheet, rec["_row"], "rank_correlation"), f"found {rho:g}; allowed: strictly between -1 and 1")
            ok = False
        if ok and a == b:
            c.add(_cell(sheet, rec["_row"], "parameter_2"), "a parameter cannot be correlated with itself")
            ok = False
        if ok and rho is not None:
            out.append({"parameter_1": a, "parameter_2": b, "rank_correlation": rho, "_row": rec["_row"]})
    _check_correlation_matrix(sheet, out, [p["name"] for p in params if p["name"] in sampled], c)
    return [{k: v for k, v in r.items() if k != "_row"} for r in out]


# ---------------------------------------------------------------------------------------
# Rules across cells: what the model, PSA and DSA need, so that a validated workbook never
# fails later. Limits (documented in the README):
# ---------------------------------------------------------------------------------------
MAX_OUTSIDE = 0.001  # largest share of a distribution allowed outside its parameter's range (those draws are clipped)
MAX_WTP_POINTS = 201  # willingness-to-pay grid points (wtp_min to wtp_max by wtp_step)
MAX_STRATEGIES = 20
MAX_COST_MULTIPLIER = 1e3
# Whole numbers of months that set the model's structure: fixed, no one-way range, no threshold.
STRUCTURAL = ("return_support_months",)
WHOLE_MONTHS = ("return_support_months", "case_support_months")
TWO_WAY_AXES = ("risk_12m", "rr_12m")  # the DSA's two-way grid spans their one-way ranges
# Probabilities of first entry that must stay below 1 (a certain entry leaves no one at home to follow),
# as value, low/high, scenario value and draw (clipped to 1 − 1e-9).
BELOW_ONE = ("risk_3m", "risk_6m", "risk_12m", "risk_24m", "annual_risk_after_24m")
MIN_DIRICHLET_COUNT = 0.1  # smaller counts draw shares that underflow to 0/0


def domain(unit: str) -> tuple[float, float]:
    """The closed range draws of a parameter in ``unit`` are clipped to (an open lower bound moved up by 1e-9)."""
    lo, hi, inclusive = schema.value_range(unit)
    return (lo if inclusive else lo + 1e-9), hi


def _range_text(unit: str) -> str:
    lo, hi, inclusive = schema.value_range(unit)
    return f"{'≥' if inclusive else '>'} {lo:g}" + (f" and ≤ {hi:g}" if hi < math.inf else "")


def _in_range(value: float, unit: str) -> bool:
    lo, hi, inclusive = schema.value_range(unit)
    return (lo <= value if inclusive else lo < value) and value <= hi


def share_outside(dist: str, value: float, a, b, unit: str) -> float | None:
    """Share of the distribution's probability outside the parameter's allowed range (1.0 if not computable);
    None when its draws cannot be computed at all (arguments so extreme that scipy overflows)."""
    lo, hi, _ = schema.value_range(unit)
    return distributions.share_outside(dist, value, a, b, lo, hi, sampler_check=_sampleable)


def _sampleable(spec: tuple) -> bool:
    """The sampler's own check (imports scipy.stats), for the few arguments :func:`distributions.computable`
    cannot decide."""
    from scipy import stats

    from .sampling import sampleable

    name, args, kwargs = spec
    with np.errstate(all="ignore"):
        return sampleable(getattr(stats, name)(*args, **kwargs))


def _check_parameter_domains(params: list[dict], sheet: _Sheet, c: _Collector) -> None:
    """Each parameter's domain (its unit's range) applies to its low/high and to its distribution."""
    for p in params:
        name, unit, row = p["name"], p["unit"], p["_row"]
        if name == "risk_12m" and p["value"] == 0:
            c.add(_cell(sheet, row, "value"), "found 0; risk_12m must be above 0: the 3-, 6- and 24-month risks move in "
                                              "proportion to it in the PSA and DSA")
        for col in ("value", "low", "high"):
            v = p[col]
            if v is None:
                continue
            if name in BELOW_ONE and unit.startswith("probability") and v >= 1:
                c.add(_cell(sheet, row, col), f"found {v:g} for {name}'s {col}; a probability of entering care must be "
                                              "below 1")
            if col == "value":
                continue
            if not _in_range(v, unit):
                c.add(_cell(sheet, row, col), f"found {v:g} for {name}'s {col}; allowed for {unit}: {_range_text(unit)}")
            elif name in WHOLE_MONTHS and v != int(v):
                c.add(_cell(sheet, row, col), f"found {v:g}; allowed: a whole number of months")
        if name in STRUCTURAL:
            if p["distribution"] != "fixed":
                c.add(_cell(sheet, row, "distribution"), f"found {p['distribution']!r}; {name} sets the model's "
                                                         "time-since-return tunnels, so it must be fixed (vary it "
                                                         "with a scenario)")
            if p["low"] is not None and p["high"] is not None and p["low"] != p["high"]:
                c.add(_cell(sheet, row, "low"), f"{name} sets the model's time-since-return tunnels: leave low and high "
                                                "blank (vary it with a scenario)")
        if name in TWO_WAY_AXES and p["distribution"] == "fixed" and (p["low"] is None or p["low"] == p["high"]):
            c.add(_cell(sheet, row, "low"), f"{name} is an axis of the two-way sensitivity analysis: give it a low and "
                                            "a high value (or a distribution)")
        dist, value, a, b = p["distribution"], p["value"], p["param_a"], p["param_b"]
        if dist not in MARGINALS or value is None or not _in_range(value, unit):
            continue
        try:
            share = share_outside(dist, value, a, b, unit)
        except SamplingError:
            continue  # an infeasible distribution: already reported
        if share is None:
            c.add(_cell(sheet, row, "distribution"), f"{dist} with value {value:g}" + "".join(
                f", {k} {v:g}" for k, v in (("param_a", a), ("param_b", b)) if v is not None) +
                  f": {name}'s draws cannot be computed (the arguments are too extreme); use less extreme arguments")
        elif share > MAX_OUTSIDE:
            c.add(_cell(sheet, row, "distribution"),
                  f"{dist} with value {value:g}" + "".join(f", {k} {v:g}" for k, v in (("param_a", a), ("param_b", b))
                                                           if v is not None) +
                  f" puts {_share_text(share)} of {name}'s draws outside its allowed range for {unit} "
                  f"({_range_text(unit)}); at most {MAX_OUTSIDE:.1%} may fall outside")


def _check_dirichlet_counts(shares: list[dict], sheets: dict[str, _Sheet], c: _Collector) -> None:
    for p in shares:
        if p["distribution"] == "dirichlet" and p["param_a"] is not None and p["param_a"] < MIN_DIRICHLET_COUNT:
            name, ref = p["cell"].split("!")
            where = _cell(sheets[name], int(re.search(r"(\d+)$", ref).group(1)), "dirichlet_count")
            c.add(where, f"found {p['param_a']:g}; allowed: a Dirichlet count of at least {MIN_DIRICHLET_COUNT:g} "
                         "(or none, for fixed shares)")


def _share_text(share: float) -> str:
    return "all" if share >= 0.9995 else f"{share:.2%}" if share >= 0.0001 else f"{share:.2g}"


def _check_strategy_costs(strategies: list[dict], sheet: _Sheet, c: _Collector) -> None:
    for s in strategies:
        if s["receives_ifpp"] == "yes" and s["cost_method"] == "none":
            c.add(_cell(sheet, s["_row"], "cost_method"), f"strategy {_show(s['strategy'])} receives IFPP but its cost "
                                                           "method is none (its programme would cost £0); allowed: "
                                                           "per_family, bottom_up")
        if s["cost_multiplier"] > MAX_COST_MULTIPLIER:
            c.add(_cell(sheet, s["_row"], "cost_multiplier"), f"found {s['cost_multiplier']:g}; allowed: 0 to "
                                                               f"{MAX_COST_MULTIPLIER:g}")
    if len(strategies) > MAX_STRATEGIES:
        c.add(sheet.name, f"found {len(strategies)} strategies; at most {MAX_STRATEGIES} are allowed")


def wtp_points(settings: dict) -> int:
    """Points of the willingness-to-pay grid wtp_min, wtp_min + wtp_step, …, wtp_max."""
    return int((settings["wtp_max"] - settings["wtp_min"]) // settings["wtp_step"]) + 1


def _wtp_problem(settings: dict) -> str | None:
    if not {"wtp_min", "wtp_max", "wtp_step"} <= settings.keys():
        return None
    if settings["wtp_max"] <= settings["wtp_min"]:
        return f"wtp_max ({settings['wtp_max']:g}) must be greater than wtp_min ({settings['wtp_min']:g})"
    if wtp_points(settings) > MAX_WTP_POINTS:
        return (f"the willingness-to-pay grid from {settings['wtp_min']:g} to {settings['wtp_max']:g} by "
                f"{settings['wtp_step']:g} has {wtp_points(settings):,} points; at most {MAX_WTP_POINTS} are allowed "
                "(choose a larger wtp_step)")
    return None


def _check_settings_limits(settings: dict, sheet: _Sheet, names: set[str], n_strategies: int, c: _Collector) -> None:
    problem = _wtp_problem(settings)
    if problem and "must be greater" not in problem:  # wtp_max ≤ wtp_min is reported with the settings
        c.add(_setting_cell(sheet, "wtp_step"), problem)
    for name in settings.get("threshold_parameters") or []:
        if name not in names:
            close = difflib.get_close_matches(name, sorted(names), n=1)
            c.add(_setting_cell(sheet, "threshold_parameters"),
                  f"{_show(name)} is not a parameter" + (f" (did you mean {close[0]}?)" if close else "") +
                  "; allowed: parameter names separated by commas")
        elif name in STRUCTURAL:
            c.add(_setting_cell(sheet, "threshold_parameters"), f"{name} sets the model's structure and has no "
                                                                 "break-even value; remove it from the list")


def _check_scenario_effects(sheet: _Sheet, rows: list[dict], params: list[dict], settings: dict,
                            strategies: list[dict], inflation: pd.Series | None, c: _Collector) -> None:
    """Each scenario, applied to the workbook, must still satisfy the rules across cells."""
    base = {p["name"]: p for p in params}
    receives = {s["strategy"]: s["receives_ifpp"] == "yes" for s in strategies}
    risks = ["risk_3m", "risk_6m", "risk_12m", "risk_24m"]
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        mine = [r for r in rows if r["scenario"] == scenario]
        where = {r["target"]: _cell(sheet, r["_row"], "value") for r in mine}
        over = {r["target"]: r["value"] for r in mine}
        label = f"scenario {_show(scenario)}"
        for name in WHOLE_MONTHS:
            if name in over and over[name] != int(over[name]):
                c.add(where[name], f"{label}: found {over[name]:g} for {name}; allowed: a whole number of months")
        if all(n in base and base[n]["value"] is not None for n in risks) and any(n in over for n in risks):
            curve = [float(over.get(n, base[n]["value"])) for n in risks]
            if any(x > y for x, y in zip(curve, curve[1:])) or curve[-1] >= 1 or curve[2] == 0:
                cell = where[next(n for n in reversed(risks) if n in over)]
                c.add(cell, f"{label}: the cumulative risks become " + ", ".join(f"{n} = {v:g}" for n, v in zip(risks, curve))
                            + "; they must satisfy risk_3m ≤ risk_6m ≤ risk_12m ≤ risk_24m < 1 and risk_12m > 0")
        after = "annual_risk_after_24m"
        if after in over and after in base and base[after]["unit"].startswith("probability") and over[after] >= 1:
            c.add(where[after], f"{label}: found {over[after]:g} for {after}; a probability of entering care must be "
                                "below 1")
        if "comparator" in over and over["comparator"] not in receives:
            c.add(where["comparator"], f"{label}: comparator {_show(over['comparator'])} is not one of the strategies; "
                                       f"allowed: {', '.join(receives)}")
        problem = _wtp_problem({**settings, **{k: v for k, v in over.items() if k.startswith("wtp_")}})
        if problem and any(k.startswith("wtp_") for k in over):
            c.add(where[next(k for k in over if k.startswith("wtp_"))], f"{label}: {problem}")
        for target, value in over.items():
            if target.startswith("strategy_cost_method:") and value == "none" and receives.get(target.split(":", 1)[1]):
                c.add(where[target], f"{label}: strategy {_show(target.split(':', 1)[1])} receives IFPP, so its cost "
                                     "method cannot be none; allowed: per_family, bottom_up")
        year = over.get("analysis_price_year")
        if year is not None and inflation is not None:
            problems = _Collector(Path(""))
            _check_prices(params, {**settings, "analysis_price_year": year}, inflation, problems, where["analysis_price_year"])
            if problems.problems:
                first = problems.problems[0].split(": ", 2)[-1]
                c.add(where["analysis_price_year"], f"{label}: analysis_price_year {year}: {first}")


def _check_correlation_matrix(sheet: _Sheet, rows: list[dict], sampled: list[str], c: _Collector) -> None:
    """The correlations together must form a usable (positive definite) matrix, each pair given once."""
    seen: dict[tuple, dict] = {}
    for r in rows:
        key = tuple(sorted((r["parameter_1"], r["parameter_2"])))
        if key in seen:
            first = seen[key]
            c.add(_cell(sheet, r["_row"], "rank_correlation"),
                  f"{key[0]} ~ {key[1]} is given twice (also {_cell(sheet, first['_row'], 'rank_correlation')}); "
                  "give each pair once")
            return
        seen[key] = r
    if not rows:
        return
    try:
        correlation_cholesky(sampled, pd.DataFrame(rows))
    except SamplingError as exc:
        cells = ", ".join(_cell(sheet, r["_row"], "rank_correlation") for r in rows)
        c.add(cells, f"these correlations together are impossible: {exc}")
