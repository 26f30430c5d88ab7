"""Run folders: complete or absent, never over an earlier run; text never becomes a formula."""
import json

import pandas as pd
import pytest
from openpyxl import load_workbook

from ifpp_econ.exceptions import OutputError
from ifpp_econ.outputs.run_folder import RunFolder, safe_text


def test_commit_publishes_complete_folder_with_manifest(tmp_path):
    run = RunFolder("run", root=tmp_path)
    run.table("t", pd.DataFrame({"a": [1.0, 2.0], "label": ["x", "=1+1"]}))
    dest = run.commit(settings={"seed": 3})
    assert dest.parent == tmp_path and dest.name.startswith("run-")
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["settings"] == {"seed": 3} and "t.csv" in manifest["files"] and "results.xlsx" in manifest["files"]
    assert [p.name for p in tmp_path.iterdir()] == [dest.name]  # no temporary folder left


def test_two_runs_in_the_same_second_get_different_folders(tmp_path):
    a, b = RunFolder("psa", root=tmp_path), RunFolder("psa", root=tmp_path)
    a.table("t", pd.DataFrame({"x": [1]}))
    b.table("t", pd.DataFrame({"x": [2]}))
    da, db = a.commit(), b.commit()
    assert da != db and da.exists() and db.exists()
    assert pd.read_csv(da / "t.csv")["x"][0] == 1 and pd.read_csv(db / "t.csv")["x"][0] == 2


def test_failed_run_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with RunFolder("run", root=tmp_path) as run:
            run.table("t", pd.DataFrame({"x": [1]}))
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_out_folder_with_files_refused_unless_force(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")
    with pytest.raises(OutputError, match="--force"):
        RunFolder("run", out=out)
    with pytest.raises(OutputError, match=r"cannot write to .*mine: .*ifpp-econ did not write.*; choose another --out"):
        RunFolder("run", out=out, force=True)  # not an earlier run's folder: never replaced
    assert (out / "keep.txt").read_text() == "earlier results"
    assert [p.name for p in tmp_path.iterdir()] == ["mine"] and [p.name for p in out.iterdir()] == ["keep.txt"]


def test_text_is_never_a_formula(tmp_path):
    assert safe_text("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_text("-x") == "'-x" and safe_text("ok") == "ok"
    run = RunFolder("run", root=tmp_path)
    run.table("t", pd.DataFrame({"label": ["=cmd|' /C calc'!A0", "@SUM(A1)", "+1", "plain"], "v": [1, 2, 3, 4]}))
    dest = run.commit()
    csv = (dest / "t.csv").read_text()
    assert "\n=cmd" not in csv and "'=cmd" in csv
    wb = load_workbook(dest / "results.xlsx")
    ws = wb["t"]
    for row in ws.iter_rows(min_row=2, max_col=1):
        assert row[0].data_type == "s"
        assert not str(row[0].value).startswith(("=", "@", "+"))
