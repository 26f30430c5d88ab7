"""ifpp-econ report: a self-contained report.html that renders in Chromium, and a results.xlsx whose
native charts reference existing data."""
import re
import shutil
import subprocess

import pytest
from openpyxl import load_workbook
from openpyxl.utils import range_boundaries

from ifpp_econ.report import build_report
from ifpp_econ.runs import RunFolder


@pytest.fixture(scope="module")
def report_folder(tmp_path_factory, default_inputs):
    root = tmp_path_factory.mktemp("report")
    run = RunFolder("report", root=root)
    build_report(default_inputs, 400, 3, run)
    return run.commit(default_inputs, settings=default_inputs.settings)


def test_report_is_self_contained_with_every_section(report_folder):
    html = (report_folder / "report.html").read_text()
    assert "<script" not in html and "<link" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for section in ("Decision problem", "Model", "Conventions", "Base case", "Cohort trace",
                    "Probabilistic sensitivity analysis", "One-way sensitivity", "Break-even thresholds", "Scenarios",
                    "Value of information", "Budget impact", "Parameters", "CHEERS 2022 checklist"):
        assert f">{section}" in html, section
    assert html.count("<svg") >= 10
    assert 'class="estimate"' in html  # estimates flagged in the parameter table


def test_results_xlsx_charts_reference_existing_data(report_folder):
    wb = load_workbook(report_folder / "results.xlsx")
    assert wb.sheetnames[0] == "Summary"
    charts = [(ws, ch) for ws in wb.worksheets for ch in ws._charts]
    assert {ws.title for ws, _ in charts} >= {"ceac", "tornado", "cohort_trace", "budget_by_year"}
    for ws, chart in charts:
        for series in chart.series:
            ref = series.val.numRef.f
            sheet, cells = ref.rsplit("!", 1)
            target = wb[sheet.strip("'")]
            min_col, min_row, max_col, max_row = range_boundaries(cells.replace("$", ""))
            assert max_row <= target.max_row and max_col <= target.max_column
            values = [target.cell(r, min_col).value for r in range(min_row, max_row + 1)]
            assert all(isinstance(v, (int, float)) for v in values), (ws.title, ref)


def test_report_renders_in_headless_chromium(report_folder, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed; .ci/run installs it")
    shot = tmp_path / "report.png"
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'profile'}",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            "--enable-logging=stderr", "--v=0", "--window-size=1200,3000"]
    url = (report_folder / "report.html").as_uri()
    result = subprocess.run(args + [f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert console == []
    dom = subprocess.run(args + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<svg") >= 10 and "CHEERS 2022 checklist" in dom


def test_results_xlsx_charts_survive_libreoffice(report_folder, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice is not installed; .ci/run installs it")
    result = subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to",
                             "xlsx", "--outdir", str(tmp_path / "lo"), str(report_folder / "results.xlsx")],
                            capture_output=True, timeout=180)
    assert result.returncode == 0, result.stderr
    import zipfile
    with zipfile.ZipFile(tmp_path / "lo" / "results.xlsx") as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
    assert len(charts) >= 4  # LibreOffice read and re-wrote every native chart
