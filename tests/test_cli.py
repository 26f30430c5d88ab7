"""The command line as a user runs it: help, version, JSON, exit codes, output folders."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ifpp_econ import __version__
from ifpp_econ.cli import main


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def invoke(runner, *args):
    result = runner.invoke(main, list(args), catch_exceptions=False)
    return result


@pytest.mark.parametrize("command", [[], ["run"], ["psa"], ["dsa"], ["budget"], ["report"], ["rollup"], ["template"],
                                     ["validate"]])
def test_help_everywhere(runner, command):
    result = invoke(runner, *command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_version(runner):
    assert __version__ in invoke(runner, "--version").output


@pytest.mark.slow
def test_run_json_and_outputs(runner, tmp_path):
    result = invoke(runner, "run", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    for key in ("per_child_savings", "placements_avoided_per_child", "care_months_avoided_per_child",
                "cost_per_placement_avoided", "dominance", "strategies"):
        assert key in data
    assert data["cost_per_placement_avoided"] is None and data["dominance"].startswith("IFPP dominant")
    assert data["per_child_savings"] > 0
    folder = tmp_path / data["output_folder"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["workbook"]["sha256"] and manifest["version"] == __version__
    for name in ("base_case.csv", "incremental.csv", "cohort_trace.csv", "cohort_trace.png", "cohort_trace.svg",
                 "results.xlsx"):
        assert (folder / name).exists(), name
    assert "Summary" in load_workbook(folder / "results.xlsx").sheetnames


@pytest.mark.slow
def test_runs_never_overwrite_each_other(runner, tmp_path):
    first = json.loads(invoke(runner, "run", "--json").output)["output_folder"]
    second = json.loads(invoke(runner, "run", "--json").output)["output_folder"]
    assert first != second


@pytest.mark.slow
def test_out_refuses_non_empty_folder_without_force(runner, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = invoke(runner, "run", "--out", "mine")
    assert result.exit_code == 2 and "--force" in result.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    forced = invoke(runner, "run", "--out", "mine", "--force")  # not an earlier run's folder: never replaced
    assert forced.exit_code == 2 and "did not write" in forced.output
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    (tmp_path / "mine" / "notes.txt").unlink()
    assert invoke(runner, "run", "--out", "mine").exit_code == 0  # empty: filled
    assert invoke(runner, "run", "--out", "mine", "--force").exit_code == 0  # an earlier run: replaced


@pytest.mark.slow
def test_psa_json(runner):
    result = invoke(runner, "psa", "-n", "300", "--seed", "4", "--json", "--out", "p")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["iterations"] == 300 and data["seed"] == 4
    for key in ("per_child_savings", "placements_avoided_per_child"):
        assert set(data[key]) >= {"mean", "lower", "upper"}
    assert 0 <= data["prob_cost_saving"] <= 1
    assert set(data["ceac"]) == {"Usual care", "IFPP"}
    assert {"wtp", "probability"} == set(data["ceac"]["IFPP"][0])
    # every chart of a PSA, those queued before EVPPI (queue_psa_charts) and after it (write_psa), in files and manifest
    folder = Path(data["output_folder"])
    listed = json.loads((folder / "manifest.json").read_text())["files"]
    for chart in ("ce_plane", "ceac", "convergence", "evpi", "evppi"):
        for ext in ("png", "svg"):
            assert (folder / f"{chart}.{ext}").stat().st_size > 0 and f"{chart}.{ext}" in listed, (chart, ext)


@pytest.mark.slow
def test_psa_same_seed_same_numbers_whatever_chunk_size(runner):
    a = json.loads(invoke(runner, "psa", "-n", "600", "--seed", "8", "--json", "--no-evppi", "--out", "a").output)
    b = json.loads(invoke(runner, "psa", "-n", "600", "--seed", "8", "--json", "--no-evppi", "--chunk-size", "77",
                          "--out", "b").output)
    for key in ("output_folder", "files"):  # where the outputs went differs; the numbers do not
        a.pop(key), b.pop(key)
    assert a == b


@pytest.mark.slow
def test_psa_same_numbers_whatever_workers(runner):
    runs = [json.loads(invoke(runner, "psa", "-n", "900", "--seed", "8", "--json", "--no-evppi", *extra,
                              "--out", f"w{i}").output)
            for i, extra in enumerate((["--workers", "1"], ["--workers", "2", "--chunk-size", "250"]))]
    for r in runs:
        r.pop("output_folder")
        r.pop("files")  # absolute paths of each run's own folder
    assert runs[0] == runs[1]
    assert invoke(runner, "psa", "-n", "10", "--workers", "0").exit_code == 2


def test_template_and_validate(runner, tmp_path):
    assert invoke(runner, "template", "my.xlsx").exit_code == 0
    again = invoke(runner, "template", "my.xlsx")
    assert again.exit_code == 2 and "--force" in again.output
    result = invoke(runner, "validate", "my.xlsx")
    assert result.exit_code == 0 and result.output.startswith("OK") and "2023/24" in result.output
    wb = load_workbook(tmp_path / "my.xlsx")
    wb["Parameters"]["C2"] = "lots"
    wb.save(tmp_path / "my.xlsx")
    result = invoke(runner, "validate", "my.xlsx")
    assert result.exit_code == 2 and "Parameters!C2" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_edited_workbook_is_used_by_run(runner, tmp_path):
    invoke(runner, "template", "my.xlsx")
    base = json.loads(invoke(runner, "run", "my.xlsx", "--json").stdout)
    wb = load_workbook(tmp_path / "my.xlsx")
    ws = wb["Parameters"]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "ifpp_cost_per_family")
    ws.cell(row, 3).value = 8000
    wb.save(tmp_path / "my.xlsx")
    edited = json.loads(invoke(runner, "run", "my.xlsx", "--json").stdout)
    assert edited["per_child_savings"] == pytest.approx(base["per_child_savings"] - 3000 / 2.9)


@pytest.mark.parametrize("command", ["run", "psa", "dsa", "budget", "validate"])
def test_broken_workbook_exit_2_no_traceback_no_output(runner, tmp_path, command):
    (tmp_path / "bad.xlsx").write_text("name,value\n")
    result = invoke(runner, command, "bad.xlsx")
    assert result.exit_code == 2
    assert "bad.xlsx" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_missing_workbook(runner):
    result = invoke(runner, "run", "nope.xlsx")
    assert result.exit_code == 2 and "nope.xlsx" in result.output


@pytest.mark.slow
def test_dsa_json(runner):
    result = invoke(runner, "dsa", "--json", "--out", "d")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    row = data["tornado"][0]
    assert set(row) >= {"parameter", "low", "high", "outcome_low", "outcome_high"}
    assert {t["parameter"] for t in data["thresholds"]} >= {"ifpp_cost_per_family", "rr_12m"}
    assert [s["scenario"] for s in data["scenarios"]][0] == "Base case"


def test_budget_json(runner):
    result = invoke(runner, "budget", "--years", "3", "--referrals", "20", "-n", "50", "--json", "--out", "b")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["years"] == 3 and len(data["by_year"]) == 3 and data["families_per_year"] == 20


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "ifpp_econ", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and __version__ in result.stdout


@pytest.mark.slow
def test_three_strategies_end_to_end(runner, tmp_path):
    invoke(runner, "template", "three.xlsx")
    wb = load_workbook(tmp_path / "three.xlsx")
    wb["Strategies"].append(["IFPP + step-down", "IFPP with a 12-month step-down", "yes", "per_family", 1.4, ""])
    wb.save(tmp_path / "three.xlsx")
    run = json.loads(invoke(runner, "run", "three.xlsx", "--json").output)
    assert set(run["strategies"]) == {"Usual care", "IFPP", "IFPP + step-down"}
    assert set(run["incremental"]) == {"IFPP", "IFPP + step-down"}
    frontier = (tmp_path / run["output_folder"] / "frontier.csv").read_text()
    assert "IFPP + step-down" in frontier and "dominated" in frontier  # same effect, costlier
    psa = json.loads(invoke(runner, "psa", "three.xlsx", "-n", "200", "--json", "--out", "p3").output)
    assert len(psa["ceac"]) == 3
    total = sum(psa["ceac"][s][-1]["probability"] for s in psa["ceac"])
    assert total == pytest.approx(1.0)


def test_progress_bar_only_on_a_terminal(capsys):
    from ifpp_econ.cli import Progress

    Progress("PSA")(5, 10)  # stderr is not a terminal under pytest: nothing
    assert capsys.readouterr().err == ""
    bar = Progress("PSA", enabled=True)
    bar(5, 10)
    bar(10, 10)
    err = capsys.readouterr().err
    assert "PSA [" in err and "50.0%" in err and "100.0%" in err and err.endswith("\n")


@pytest.mark.parametrize("command", ["run", "psa", "dsa", "budget", "report", "validate"])
def test_help_explains_workbook_and_exit_codes(runner, command):
    text = " ".join(invoke(runner, command, "--help").output.split())
    assert "omit it to use the bundled default workbook" in text and "Exit codes: 0 success; 2" in text


@pytest.mark.slow
@pytest.mark.parametrize("args, basis", [(["psa", "-n", "200", "--no-evppi"], "monthly cycles"), (["dsa"], "monthly cycles"),
                                         (["budget", "-n", "0"], "undiscounted cash, 2023/24 prices")])
def test_every_command_states_its_conventions(runner, args, basis):
    result = invoke(runner, *args, "--out", "o")
    assert result.exit_code == 0 and f"\nConventions: {basis}" in result.output


@pytest.mark.slow
def test_tiny_psa_warns_and_probabilities_never_certain(runner):
    text = invoke(runner, "psa", "-n", "5", "--no-evppi", "--out", "o").output
    assert "Warning: only 5 PSA iterations" in text and "100.0%" not in text and "> 99.9%" in text
    data = json.loads(invoke(runner, "psa", "-n", "5", "--no-evppi", "--json", "--out", "j").output)
    assert data["warnings"] and data["price_year"] == "2023/24" and "money" in data["units"]
    assert all(Path(p).is_absolute() and Path(p).exists() for p in data["files"].values())


@pytest.mark.slow
def test_budget_with_no_referrals_has_no_payback(runner):
    result = invoke(runner, "budget", "--referrals", "0", "-n", "0", "--out", "o")
    assert "Payback year: 1" not in result.output and "No families referred" in result.output
    assert "2023/24 prices" in result.output
    data = json.loads(invoke(runner, "budget", "--referrals", "0", "-n", "0", "--json", "--out", "j").output)
    assert data["payback_year"] is None


@pytest.mark.slow
def test_run_keeps_per_child_and_per_family_apart(runner):
    text = invoke(runner, "run", "--out", "o").output
    per_child, per_family = text.split("\nPer child\n", 1)[1].split("\nPer family\n", 1)
    assert "IFPP programme" in per_child and "IFPP programme" not in per_family.split("\n\n")[0]


@pytest.mark.slow
def test_dsa_prints_labels_and_pounds(runner):
    text = invoke(runner, "dsa", "--out", "o").output
    assert "Cumulative risk of a family's first placement by 12 months" in text and "£" in text
    assert "risk_12m " not in text.split("Break-even")[0]


@pytest.mark.slow
def test_manifest_records_what_was_used(runner, tmp_path):
    data = json.loads(invoke(runner, "psa", "-n", "50", "--seed", "9", "--no-evppi", "--json", "--out", "m").output)
    manifest = json.loads((Path(data["output_folder"]) / "manifest.json").read_text())
    assert manifest["settings"] == {"iterations": 50, "seed": 9, "chunk_size": 1024, "structural": "none",
                                    "evsi_sample_sizes": []}
    assert manifest["workbook_settings"]["psa_seed"] != 9 or manifest["workbook_settings"]["psa_iterations"] != 50
    assert Path(manifest["workbook"]["path"]).is_absolute() and manifest["argv"]
    assert {"numpy", "pandas", "scipy", "openpyxl", "matplotlib", "click"} <= set(manifest["versions"])
    assert (Path(data["output_folder"]) / "data_dictionary.csv").exists()


@pytest.mark.slow
def test_report_prints_stages_headline_and_both_paths(runner, tmp_path):
    result = invoke(runner, "report", "-n", "200", "--out", "r")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "[1/8] base case" in text and "[8/8] results.xlsx" in text  # stage messages (stderr)
    assert "savings per child £" in text and "95% interval" in text
    for label, name in (("Report:", "report.html"), ("Results:", "results.xlsx")):
        line = next(line for line in text.splitlines() if line.startswith(label))
        path = Path(line.split(":", 1)[1].strip())
        assert path.is_absolute() and path.name == name and path.exists()
