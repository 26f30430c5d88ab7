"""ifpp-econ report: a self-contained report.html that renders in Chromium, and a results.xlsx whose
native charts reference existing data."""
import json
import re
import shutil
import subprocess

import pytest
from openpyxl import load_workbook
from openpyxl.utils import range_boundaries

from ifpp_econ import pipeline


@pytest.fixture(scope="module")
def report_folder(tmp_path_factory, default_inputs):
    root = tmp_path_factory.mktemp("report")
    return pipeline.report(default_inputs, 400, 3, out=root / "report").folder


@pytest.mark.slow
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


@pytest.mark.slow
def test_results_xlsx_charts_reference_existing_data(report_folder):
    wb = load_workbook(report_folder / "results.xlsx")
    assert wb.sheetnames[0] == "Summary"
    charts = [(ws, ch) for ws in wb.worksheets for ch in ws._charts]
    assert {ws.title for ws, _ in charts} >= {"CEAC", "Tornado (one-way)", "Cohort trace", "Budget",
                                              "CE plane points"}
    for ws, chart in charts:
        for series in chart.series:
            ref = (series.val or series.yVal).numRef.f
            sheet, cells = ref.rsplit("!", 1)
            target = wb[sheet.strip("'")]
            min_col, min_row, max_col, max_row = range_boundaries(cells.replace("$", ""))
            assert max_row <= target.max_row and max_col <= target.max_column
            values = [target.cell(r, min_col).value for r in range(min_row, max_row + 1)]
            assert all(isinstance(v, (int, float)) for v in values), (ws.title, ref)


@pytest.mark.slow
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


@pytest.mark.slow
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


def _tables(html: str) -> list[str]:
    return re.findall(r"<table.*?</table>", html, re.S)


@pytest.mark.slow
def test_tables_show_no_exponents_none_or_nan(report_folder):
    html = (report_folder / "report.html").read_text()
    tables = _tables(html)
    assert len(tables) >= 8
    for table in tables:
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", table, re.S)]
        for text in cells:
            assert not re.search(r"\de[+-]\d", text), text
            assert not re.search(r"\b(None|nan|NaN|inf)\b", text), text
    numeric = re.compile(r"^[−-]?£?[\d,]+(\.\d+)?%?$")
    for table in tables:  # every number sits in a right-aligned, unbreakable cell
        for cls, text in re.findall(r"<td class=(\w+)>(.*?)</td>", table, re.S):
            if numeric.match(text):
                assert cls == "n", text


@pytest.mark.slow
def test_every_inline_svg_has_a_title(report_folder):
    html = (report_folder / "report.html").read_text()
    svgs = re.findall(r"<svg[^>]*>(.{0,400})", html, re.S)
    assert len(svgs) >= 10
    assert all(s.startswith("<title>") for s in svgs)
    assert "@page{size:A4" in html.replace(" ", "")


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MEASURE = """<script>
const split = [];
document.querySelectorAll("td.n").forEach((td) => {
  const range = document.createRange();
  range.selectNodeContents(td);
  const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
  if (tops.size > 1) split.push(td.textContent);
});
document.body.setAttribute("data-numeric-cells", document.querySelectorAll("td.n").length);
document.body.setAttribute("data-split", JSON.stringify(split));
</script></body>"""


@pytest.mark.slow
def test_no_number_split_across_lines_and_a4_print_fits(report_folder, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed; .ci/run installs it")
    args = [chromium, *CHROMIUM_ARGS, f"--user-data-dir={tmp_path / 'profile'}"]
    measured = tmp_path / "measured.html"
    measured.write_text((report_folder / "report.html").read_text().replace("</body>", MEASURE))
    dom = subprocess.run(args + ["--window-size=760,1100", "--dump-dom", measured.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    cells = int(re.search(r'data-numeric-cells="(\d+)"', dom).group(1))
    split = json.loads(html_unescape(re.search(r'data-split="([^"]*)"', dom).group(1)))
    assert cells > 200 and split == []
    pdf = tmp_path / "report.pdf"
    subprocess.run(args + [f"--print-to-pdf={pdf}", "--no-pdf-header-footer", (report_folder / "report.html").as_uri()],
                   capture_output=True, timeout=120)
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 1 <= pages <= 14, pages  # 13 with issue 26 (headline range, τ table); 14 with issue 28 (outcomes, payers)
    width, height = (float(v) for v in re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", data).groups())
    assert abs(width - 595) < 2 and abs(height - 842) < 2  # A4 in points


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


@pytest.mark.slow
def test_results_xlsx_every_number_formatted_and_printable(report_folder):
    wb = load_workbook(report_folder / "results.xlsx")
    assert wb.sheetnames[:2] == ["Summary", "Base case"] and wb.sheetnames[-1] == "Data dictionary"
    for ws in wb.worksheets:
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.orientation in ("portrait", "landscape"), ws.title
        assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4) and "&P of &N" in ws.oddFooter.center.text, ws.title
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, (int, float)) and not isinstance(cell.value, bool):
                    assert cell.number_format != "General", (ws.title, cell.coordinate, cell.value)
        if ws.title not in ("Summary", "Decision ratios", "Outcomes and who pays"):  # sheets of several small tables
            assert ws.freeze_panes in ("A2", "B2"), ws.title
    summary = wb["Summary"]
    numbers = [c.value for row in summary.iter_rows() for c in row if isinstance(c.value, (int, float))]
    looks_numeric = re.compile(r"^[−-]?£?[\d,]+(\.\d+)?%?$")
    texts = [c.value for row in summary.iter_rows() for c in row if isinstance(c.value, str)]
    assert len(numbers) >= 15 and not [t for t in texts if looks_numeric.match(t.strip())]


def _chart_xml(folder) -> list[str]:
    import zipfile

    with zipfile.ZipFile(folder / "results.xlsx") as z:
        return [z.read(n).decode() for n in sorted(z.namelist()) if n.startswith("xl/charts/chart")]


@pytest.mark.slow
def test_native_tornado_bars_start_at_the_base_case(report_folder):
    manifest = json.loads((report_folder / "manifest.json").read_text())
    base = manifest["dsa"]["base_outcome"]
    xml = next(x for x in _chart_xml(report_folder) if "One-way sensitivity" in x)
    xml = re.sub(r"<(/?)c:", r"<\1", xml)  # with or without the c: prefix
    assert re.search(r'<barDir val="bar"\s*/>', xml) and re.search(r'<overlap val="100"\s*/>', xml)
    crosses = float(re.search(r'<catAx>.*?<crossesAt val="([^"]+)"\s*/>', xml, re.S).group(1))
    assert crosses == pytest.approx(base)  # the category axis crosses at the base case: bars grow from it
    wb = load_workbook(report_folder / "results.xlsx")
    chart = wb["Tornado (one-way)"]._charts[0]
    lows, highs = ([wb["Tornado (one-way)"][c.replace("$", "")].value for c in _cells(s.val.numRef.f)]
                   for s in chart.series)
    assert any(lo < base < hi or hi < base < lo for lo, hi in zip(lows, highs))
    top_low, top_high = lows[-1], highs[-1]  # largest swing drawn on top
    swing = abs(top_high - top_low)
    assert all(abs(h - lo) <= swing + 1e-9 for lo, h in zip(lows, highs))


@pytest.mark.slow
def test_native_tornado_labels_every_bar_with_its_range_in_pounds_and_percent(report_folder):
    xml = re.sub(r"<(/?)c:", r"<\1", next(x for x in _chart_xml(report_folder) if "One-way sensitivity" in x))
    cats = re.findall(r"<cat>\s*<(\w+)>\s*<f>([^<]+)</f>", xml)
    assert cats and {kind for kind, _ in cats} == {"strRef"}  # string references: LibreOffice labels every bar
    ws = load_workbook(report_folder / "results.xlsx")["Tornado (one-way)"]
    labels = [ws[c].value for c in _cells(cats[0][1])]
    assert len(labels) == 15 and all(isinstance(v, str) and " to " in v for v in labels)
    assert "IFPP cost per family (episode) (£2,500 to £9,000)" in labels
    assert any(v.endswith("(20% to 57%)") for v in labels)  # risk_12m, a probability, in %
    assert not any(re.search(r"\de-?\d|0\.0000", v) for v in labels)  # no raw ranges such as 0.00002996
    data = ["Budget detail", "Cohort trace", "CE plane points", "Two-way sensitivity", "Data dictionary"]
    wb = load_workbook(report_folder / "results.xlsx")
    assert wb.sheetnames[-len(data):] == data and "Budget" in wb.sheetnames[:-len(data)]
    for name in data:  # printed: a note (with the chart or grid drawn from the data), on one page
        area = wb[name].print_area.split("!")[-1].replace("$", "")
        assert "data sheet, not printed" in wb[name][area.split(":")[0]].value, name
        assert wb[name].page_setup.fitToHeight == 1, name


def _cells(ref: str) -> list[str]:
    from openpyxl.utils import get_column_letter, range_boundaries

    _, cells = ref.rsplit("!", 1)
    c0, r0, c1, r1 = range_boundaries(cells.replace("$", ""))
    return [f"{get_column_letter(c0)}{r}" for r in range(r0, r1 + 1)]


@pytest.mark.slow
def test_native_ceac_axis_is_0_to_1(report_folder):
    xml = re.sub(r"<(/?)c:", r"<\1", next(x for x in _chart_xml(report_folder) if "CEAC" in x))
    scaling = re.findall(r"<valAx>.*?<scaling>(.*?)</scaling>.*?</valAx>", xml, re.S)
    ys = [s for s in scaling if re.search(r'<max val="1(\.0)?"\s*/>', s) and re.search(r'<min val="0(\.0)?"\s*/>', s)]
    assert len(ys) == 1


@pytest.mark.slow
def test_identical_report_runs_give_identical_files(report_folder, tmp_path, default_inputs):
    again = pipeline.report(default_inputs, 400, 3, out=tmp_path / "again").folder
    names = sorted(p.name for p in report_folder.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    differ = [n for n in names if n != "manifest.json" and (report_folder / n).read_bytes() != (again / n).read_bytes()]
    assert differ == []
    first, second = (json.loads((f / "manifest.json").read_text()) for f in (report_folder, again))
    for m in (first, second):
        m.pop("timings"), m.pop("created")
    assert first == second


@pytest.mark.slow
def test_cheers_checklist_points_at_sections_that_exist(report_folder):
    from ifpp_econ.outputs.report import CHEERS_2022

    html = (report_folder / "report.html").read_text()
    ids = set(re.findall(r'id="([^"]+)"', html))
    assert len(CHEERS_2022) == 28
    for item, topic, asks, where in CHEERS_2022:
        assert asks.endswith(".") and len(asks) > 20, item
        assert where in ids or where.startswith(("not ", "state in")), (item, where)
    decision = html.split('id="decision"', 1)[1].split("</section>", 1)[0]
    assert "Perspective:" in decision and "Time horizon:" in decision  # items 8 and 9 answered where they point
