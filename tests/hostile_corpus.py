"""Builds a corpus of broken and hostile workbooks (nothing binary is committed).

Run as a script to write the corpus to a folder: ``python tests/hostile_corpus.py DIR``.
Each case is (file name, what the error message must contain).
"""
from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

from openpyxl import load_workbook

from ifpp_econ.inputs import schema
from ifpp_econ.inputs.template import write_template


def _row(name: str) -> int:
    return 2 + [p["name"] for p in schema.PARAMETERS].index(name)


def _edited(folder: Path, file: str, edits) -> Path:
    path = write_template(folder / file, force=True)
    wb = load_workbook(path)
    edits(wb)
    wb.save(path)
    return path


def _set(sheet: str, cell: str, value):
    def edit(wb):
        wb[sheet][cell] = value
    return edit


# The corpus's cases by file name (what build_corpus returns), so tests can be parametrized by case.
CASE_NAMES = (
    "wrong_extension.txt", "empty.xlsx", "truncated.xlsx", "old_format.xls", "csv_renamed.xlsx", "encrypted.xlsx",
    "random_bytes.xlsx", "zip_bomb.xlsx", "too_many_rows.xlsx", "missing_sheet.xlsx", "renamed_column.xlsx",
    "merged_cells.xlsx", "text_in_number.xlsx", "nan.xlsx", "inf.xlsx", "negative_cost.xlsx",
    "probability_above_1.xlsx", "shares_not_one.xlsx", "beta_infeasible_se.xlsx", "duplicate_names.xlsx",
    "unknown_distribution.xlsx", "formula_no_value.xlsx", "huge_text.xlsx", "unicode_name.xlsx",
)


def build_corpus(folder: Path) -> dict[str, tuple[Path, list[str]]]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    good = write_template(folder / "good.xlsx", force=True)
    cases: dict[str, tuple[Path, list[str]]] = {}

    def raw(file, data, *expect):
        p = folder / file
        p.write_bytes(data)
        cases[file] = (p, list(expect))

    def edited(file, edits, *expect):
        cases[file] = (_edited(folder, file, edits), list(expect))

    raw("wrong_extension.txt", good.read_bytes(), "expected an Excel workbook ending in .xlsx")
    raw("empty.xlsx", b"", "empty")
    raw("truncated.xlsx", good.read_bytes()[: good.stat().st_size // 2], "truncated.xlsx")
    raw("old_format.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000, "expected an Excel workbook ending in .xlsx")
    raw("csv_renamed.xlsx", b"name,value\nrr_12m,0.6\n", "not an Excel .xlsx workbook")
    raw("encrypted.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000, "encrypted")
    raw("random_bytes.xlsx", bytes(range(256)) * 64, "not an Excel .xlsx workbook")

    bomb = folder / "zip_bomb.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        with dst.open("xl/padding.xml", "w") as fh:  # 64 MB of zeros, compressed to ~64 KB
            chunk = b"\0" * (1 << 20)
            for _ in range(64):
                fh.write(chunk)
    cases["zip_bomb.xlsx"] = (bomb, ["refusing to read it"])

    def many_rows(wb):
        ws = wb["Correlations"]
        for _ in range(2_500):
            ws.append(["rr_12m", "risk_12m", 0.1])
    edited("too_many_rows.xlsx", many_rows, "Correlations: the sheet has more than 2,000 rows holding data")

    def drop_sheet(wb):
        del wb["Strategies"]
    edited("missing_sheet.xlsx", drop_sheet, "Strategies: sheet missing")
    edited("renamed_column.xlsx", _set("Parameters", "C1", "amount"), "Parameters!C1: found the header 'amount'; expected 'value'")

    def merge(wb):
        wb["Parameters"].merge_cells(f"C{_row('cost_ifa')}:C{_row('cost_ifa') + 1}")
    edited("merged_cells.xlsx", merge, f"Parameters!C{_row('cost_ifa')}:C{_row('cost_ifa') + 1}: merged cells")
    edited("text_in_number.xlsx", _set("Parameters", f"C{_row('cost_ifa')}", "nine hundred"),
           f"Parameters!C{_row('cost_ifa')}: found text 'nine hundred'")
    edited("nan.xlsx", _set("Parameters", f"C{_row('cost_ifa')}", "NaN"), f"Parameters!C{_row('cost_ifa')}")
    edited("inf.xlsx", _set("Parameters", f"C{_row('cost_ifa')}", "inf"), f"Parameters!C{_row('cost_ifa')}")
    edited("negative_cost.xlsx", _set("Parameters", f"C{_row('cost_ifa')}", -900),
           f"Parameters!C{_row('cost_ifa')}: found -900")
    edited("probability_above_1.xlsx", _set("Parameters", f"C{_row('reunify_0_6m')}", 1.5),
           f"Parameters!C{_row('reunify_0_6m')}: found 1.5")
    edited("shares_not_one.xlsx", _set("Placement mix", "C3", 0.5), "shares sum to")

    def infeasible_beta(wb):
        ws = wb["Parameters"]
        r = _row("share_entries_with_proceedings")
        ws[f"F{r}"], ws[f"G{r}"] = "beta_mean_se", 0.6
    edited("beta_infeasible_se.xlsx", infeasible_beta, f"Parameters!F{_row('share_entries_with_proceedings')}", "SE")

    def duplicate(wb):
        wb["Parameters"].append(["rr_12m", "again", 0.5, "relative risk", None, "fixed"])
    edited("duplicate_names.xlsx", duplicate, "duplicate parameter rr_12m")
    edited("unknown_distribution.xlsx", _set("Parameters", f"F{_row('cost_ifa')}", "weibull"),
           f"Parameters!F{_row('cost_ifa')}: unknown distribution 'weibull'")
    edited("formula_no_value.xlsx", _set("Parameters", f"C{_row('cost_ifa')}", "=800+100"),
           f"Parameters!C{_row('cost_ifa')}: formula without a saved value")
    # a 10 MB text cell (written into the XML directly: openpyxl itself stops at Excel's 32,767 characters)
    marker = _edited(folder, "huge_text_base.xlsx", _set("Parameters", f"M{_row('cost_ifa')}", "HUGE-TEXT-HERE"))
    huge = folder / "huge_text.xlsx"
    with zipfile.ZipFile(marker) as src, zipfile.ZipFile(huge, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if b"HUGE-TEXT-HERE" in data:
                data = data.replace(b"HUGE-TEXT-HERE", b"x" * 10_000_000)
            dst.writestr(item, data)
    marker.unlink()
    cases["huge_text.xlsx"] = (huge, [f"Parameters!M{_row('cost_ifa')}: text of 10,000,000 characters"])
    edited("unicode_name.xlsx", _set("Parameters", f"A{_row('cost_ifa')}", "coût_ifa_🏠"),
           "unknown parameter 'coût_ifa_🏠'")
    return cases


def blank_rows_workbook(folder: Path) -> Path:
    """A valid workbook with blank rows in the middle of the Parameters table (must read completely)."""
    def insert(wb):
        wb["Parameters"].insert_rows(10, amount=3)
    return _edited(Path(folder), "blank_rows.xlsx", insert)


def rewrite_sheets(good: Path, path: Path, transform) -> Path:
    """A copy of the workbook ``good`` at ``path`` with every worksheet's XML passed through ``transform``."""
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item, transform(data) if item.filename.startswith("xl/worksheets/sheet") else data)
    return path


def as_libreoffice_saves(xml: bytes) -> bytes:
    """A sheet as LibreOffice saves it after rows are deleted: a ``<dimension>`` claiming 1,048,576 rows and a
    formatting-only row record at row 1,048,576."""
    xml = re.sub(rb'<dimension ref="A1:([A-Z]+)\d+"', rb'<dimension ref="A1:\g<1>1048576"', xml, count=1)
    return xml.replace(b"</sheetData>", b'<row r="1048576" customFormat="1" s="1"><c r="A1048576" s="1"/>'
                                        b'</row></sheetData>')


def libreoffice_style_workbook(folder: Path) -> Path:
    """A valid workbook as LibreOffice saves one after rows are deleted (see :func:`as_libreoffice_saves`)."""
    good = write_template(Path(folder) / "lo_source.xlsx", force=True)
    return rewrite_sheets(good, Path(folder) / "libreoffice_style.xlsx", as_libreoffice_saves)


def understated_dimension_workbook(folder: Path) -> Path:
    """A valid workbook whose sheets' ``<dimension>`` claims only A1:B2."""
    good = write_template(Path(folder) / "dim_source.xlsx", force=True)
    return rewrite_sheets(good, Path(folder) / "understated_dimension.xlsx",
                          lambda xml: re.sub(rb'<dimension ref="[A-Z0-9:]+"', rb'<dimension ref="A1:B2"', xml, count=1))


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-workbooks")
    for name, (path, expect) in build_corpus(target).items():
        print(f"{path}  (expects: {'; '.join(expect)})")
