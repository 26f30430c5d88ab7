"""Opening a user's .xlsx safely and reading its table sheets as records.

Checks the file before parsing it (exists, not a folder, .xlsx, size, not an old/encrypted
file, a real zip, unpacked size, damaged entries, merged cells in the tables), then reads each
table sheet with openpyxl in read-only mode twice (saved values, and formulas, to find formulas
without a saved value), counting rows by content and finding headers by name. Problems go to a
:class:`_Collector` as ``<file>: <Sheet>!<Cell>: <message>``; nothing is ever written.
"""
from __future__ import annotations

import datetime as dt
import difflib
import functools
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import schema

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 50 * 1024 * 1024
MAX_ROWS = 2000
MAX_TEXT = 5000
MAX_COLUMNS = 200  # cells further right are ignored
HEADER_SEARCH_ROWS = 10  # a table's header row is looked for among its first data rows


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
    if isinstance(value, StoredText):
        raise ValueError(f"found {value.strip() or 'an empty stored value'} (not a number): the cell's stored value is "
                         "not a number; type the number again")
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
            close = difflib.get_close_matches(s.lower(), [n.lower() for n in values_wb.sheetnames], n=1, cutoff=0.8)
            renamed = next((n for n in values_wb.sheetnames if close and n.lower() == close[0]), None)
            if renamed is not None:
                c.add(s, f"sheet missing; found a sheet named {renamed!r} — did you mean {s!r}? (sheet names are read "
                         "exactly; rename it back)")
            elif not optional:
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
        if KEY_INPUTS in formula_wb.sheetnames:
            _check_key_inputs(_data_rows(formula_wb[KEY_INPUTS]) or {}, c)
    except Exception as exc:  # sheets are parsed lazily: damaged XML surfaces here
        c.add("", f"cannot be read as an Excel workbook ({type(exc).__name__}: {str(exc)[:200]}); "
                  "save it again as Excel Workbook (.xlsx)")
        return None
    finally:
        values_wb.close()
        formula_wb.close()
    return sheets


class StoredText(str):
    """A cell's stored value that its type says is a number but that is not one (e.g. ``NaN`` written by a program):
    kept as its text, so the cell that holds it is reported."""


@functools.lru_cache(maxsize=1)
def _parser():
    """openpyxl's sheet parser, but a stored number it cannot read (``NaN``, ``1,5``) becomes :class:`StoredText`
    in its cell instead of failing the whole sheet."""
    from openpyxl.worksheet._reader import WorkSheetParser

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            try:
                return super().parse_cell(element)
            except (ValueError, TypeError, OverflowError):
                from openpyxl.utils.cell import coordinate_to_tuple

                row, column = coordinate_to_tuple(element.get("r"))
                self.col_counter = column
                raw = element.findtext("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}v") or ""
                return {"row": row, "column": column, "value": StoredText(raw), "data_type": "n", "style_id": 0}

    return Parser


KEY_INPUTS = "Key inputs"  # the template's guide sheet (see template.KEY_INPUTS_SHEET)


def _reference(text) -> str:
    """A cell reference in a comparable form: ``='Parameters'!$C$29`` and ``Parameters!C29`` → ``parameters!c29``."""
    return str(text).lstrip("=").replace("$", "").replace("'", "").strip().lower()


def _check_key_inputs(rows: dict[int, list], c: _Collector) -> None:
    """The Key inputs sheet shows linked values (column B, a formula ``='Sheet'!Ref``) beside the cell to edit
    (column C). A value typed over a link would be ignored (the tool reads the linked cell): refused, saying where to
    type it."""
    for i, row in sorted(rows.items()):
        what, shown, link = (row + [None, None, None])[:3]
        if not isinstance(link, str) or "!" not in link or i < 3:
            continue  # the title, the header, or a row the user added
        if isinstance(shown, str) and shown.startswith("=") and _reference(shown) == _reference(link):
            continue
        found = "an empty cell" if shown is None or (isinstance(shown, str) and not shown.strip()) else _show(shown).strip("'")
        c.add(f"{KEY_INPUTS}!B{i}", f"found {found} typed over the link to {link}; the tool reads {link}, not this "
                                    f"sheet: type the {str(what or 'value').strip()} in {link} (this sheet only shows it)")


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
    book = ws.parent
    rows = {}
    with ws._get_source() as src:
        parser = _parser()(src, ws._shared_strings, data_only=book.data_only, epoch=book.epoch,
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
    header = [_header_key(v) for v in (values.get(header_row, []) if header_row is not None else [])]
    at = header_row or 1
    columns: dict[str, int] = {}
    first_cell: dict[str, int] = {}
    for j, h in enumerate(header, start=1):
        if h not in expected:
            continue
        if h in columns:
            c.add(f"{name}!{_letter(first_cell[h])}{at} and {name}!{_letter(j)}{at}",
                  f"two columns headed {h!r}; keep one (rename or delete the other)")
            continue
        columns[h], first_cell[h] = j, j
    optional = ("notes", "source", "label", "allowed", "description", "payer", "applies_to", "cashable_share",
                "cashable_lag_months")
    unmatched = {j: values[header_row][j - 1] for j, h in enumerate(header, start=1)
                 if h and h not in expected} if header_row else {}
    if name == "Placement mix":  # plus one share column per age band, headed with the band's name
        for j in sorted(unmatched):
            h = header[j - 1]
            if h in columns:
                c.add(f"{name}!{_letter(columns[h])}{at} and {name}!{_letter(j)}{at}",
                      f"two columns headed {h!r}; keep one (rename or delete the other)")
            else:
                columns[h] = j
        unmatched = {}
    for col in expected:
        if col in columns:
            continue
        near = {j: v for j, v in unmatched.items() if difflib.get_close_matches(col, [_header_key(v)], n=1, cutoff=0.6)}
        at_col = min(near) if near else (expected.index(col) + 1 if expected.index(col) + 1 in unmatched else None)
        if col in optional and at_col is None:
            continue  # an optional column left out: its defaults apply
        # an optional column renamed (close to its name, or in its place) is reported, not silently replaced by defaults
        listed = f"the sheet's headers are {', '.join(expected)}"
        if at_col is not None and near:
            c.add(f"{name}!{_letter(at_col)}{at}", f"found the header {_show(unmatched[at_col])}; expected {col!r} — did you mean "
                                              f"{col!r}? ({listed})")
            unmatched.pop(at_col)
        elif at_col is not None:
            c.add(f"{name}!{_letter(at_col)}{at}", f"found the header {_show(unmatched[at_col])}; expected {col!r} ({listed})")
            unmatched.pop(at_col)
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
        record: dict[str, Any] = {"_row": i}
        for col, j in columns.items():
            v = row[j - 1] if j - 1 < len(row) else None
            f = frow[j - 1] if j - 1 < len(frow) else None
            if v is None and isinstance(f, str) and f.startswith("="):
                formulas.add((i, j))
            if isinstance(v, str):
                if len(v) > MAX_TEXT:
                    c.add(f"{name}!{_letter(j)}{i}", f"text of {len(v):,} characters; at most {MAX_TEXT:,} allowed")
                    v = v[:MAX_TEXT]
                v = type(v)(v.strip()) if col not in ("notes", "source", "description", "label") else v
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
