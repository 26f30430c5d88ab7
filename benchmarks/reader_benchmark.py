"""Time the workbook reader (``read_workbook``: load, validate, every cross-cell rule) on the template, on the
template as LibreOffice saves it after rows are deleted (a claimed million-row ``<dimension>`` and a row record
at row 1,048,576 in every sheet) and on a workbook with 2,000 correlation rows, the row limit.

    python benchmarks/reader_benchmark.py [--repeat 7]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import load_workbook

from ifpp_econ.exceptions import WorkbookError
from ifpp_econ.inputs.reader import read_workbook
from ifpp_econ.inputs.template import write_template

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from hostile_corpus import as_libreoffice_saves, rewrite_sheets  # noqa: E402  (the tests' own workbook rewriter)


def libreoffice_style(good: Path, path: Path) -> Path:
    return rewrite_sheets(good, path, as_libreoffice_saves)


def many_rows(good: Path, path: Path, rows: int = 1_990) -> Path:
    wb = load_workbook(good)
    ws = wb["Correlations"]
    for i in range(rows):
        ws.cell(2 + i, 1, "rr_12m"), ws.cell(2 + i, 2, "risk_12m"), ws.cell(2 + i, 3, 0.1)
    wb.save(path)
    return path


def seconds(path: Path, repeat: int) -> tuple[float, str]:
    times, outcome = [], "OK"
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            read_workbook(path)
        except WorkbookError as exc:
            outcome = f"rejected ({len(exc.problems)} problems)"
        times.append(time.perf_counter() - start)
    return statistics.median(times), outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        good = write_template(tmp / "template.xlsx")
        read_workbook(good)  # imports and caches warm
        for label, path in (("template", good), ("LibreOffice-style", libreoffice_style(good, tmp / "lo.xlsx")),
                            ("1,990 correlation rows", many_rows(good, tmp / "rows.xlsx"))):
            median, outcome = seconds(path, args.repeat)
            print(f"{label:>24}: {median * 1000:7.0f} ms median of {args.repeat} ({outcome})")


if __name__ == "__main__":
    main()
