"""Never lose a user's file: --force replaces only an earlier run's own files; every output problem is exit 2
("cannot write to …; choose another --out") and leaves nothing behind; folders get the user's permissions."""
import errno
import json
import os
import stat

import pandas as pd
import pytest
from click.testing import CliRunner

from ifpp_econ.cli import main
from ifpp_econ.exceptions import OutputError
from ifpp_econ.outputs.run_folder import RunFolder


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(main, list(args), catch_exceptions=False)


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_force_on_a_user_folder_deletes_nothing(runner, tmp_path):
    folder = tmp_path / "Documents"
    folder.mkdir()
    assert invoke(runner, "template", str(folder / "my.xlsx")).exit_code == 0
    (folder / "letter.docx").write_text("mine")
    (folder / "sub").mkdir()
    (folder / "sub" / "data.csv").write_text("1,2")
    os.chmod(folder, 0o755)
    before = listing(folder)
    result = invoke(runner, "run", str(folder / "my.xlsx"), "--out", str(folder), "--force")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"cannot write to {folder}" in result.output and "choose another --out" in result.output
    assert listing(folder) == before and (folder / "letter.docx").read_text() == "mine"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


@pytest.mark.slow
def test_force_replaces_only_the_files_an_earlier_run_listed(runner, tmp_path):
    assert invoke(runner, "psa", "-n", "50", "--no-evppi", "--out", "res").exit_code == 0
    listed = json.loads((tmp_path / "res" / "manifest.json").read_text())["files"]
    assert invoke(runner, "run", "--out", "res", "--force").exit_code == 0  # an earlier run's folder: replaced
    now = json.loads((tmp_path / "res" / "manifest.json").read_text())
    assert now["command"] == "run" and sorted(p.name for p in (tmp_path / "res").iterdir()) == sorted(now["files"])
    assert "ceac.csv" in listed and not (tmp_path / "res" / "ceac.csv").exists()  # the earlier run's own file went
    (tmp_path / "res" / "notes.txt").write_text("my notes")  # a user's file in a run folder: refused, kept
    result = invoke(runner, "run", "--out", "res", "--force")
    assert result.exit_code == 2 and "notes.txt" in result.output
    assert (tmp_path / "res" / "notes.txt").read_text() == "my notes"


@pytest.mark.slow
def test_the_input_workbook_is_never_replaced(runner, tmp_path):
    assert invoke(runner, "run", "--out", "res").exit_code == 0
    manifest = json.loads((tmp_path / "res" / "manifest.json").read_text())
    manifest["files"].append("my.xlsx")  # a manifest that claims the workbook
    (tmp_path / "res" / "manifest.json").write_text(json.dumps(manifest))
    invoke(runner, "template", "res/my.xlsx")
    before = (tmp_path / "res" / "my.xlsx").read_bytes()
    result = invoke(runner, "run", "res/my.xlsx", "--out", "res", "--force")
    assert result.exit_code == 2 and "my.xlsx is the input workbook" in result.output
    assert (tmp_path / "res" / "my.xlsx").read_bytes() == before


@pytest.mark.slow
@pytest.mark.parametrize("out, reason", [(".", "it is the current folder"), ("..", "it holds the current folder"),
                                         ("~", "it is the home folder"), ("/", "it holds the current folder"),
                                         ("/proc", "mount point")])
def test_folders_that_are_never_outputs(runner, tmp_path, out, reason):
    (tmp_path / "keep.txt").write_text("x")
    result = invoke(runner, "run", "--out", os.path.expanduser(out), "--force")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot write to" in result.output and reason in result.output and "choose another --out" in result.output
    assert listing(tmp_path) == ["keep.txt"]


@pytest.mark.slow
def test_output_folders_get_the_users_permissions(runner, tmp_path):
    old = os.umask(0o022)
    try:
        assert invoke(runner, "run", "--out", "shared").exit_code == 0
        data = json.loads(invoke(runner, "run", "--json").output)
    finally:
        os.umask(old)
    for folder in (tmp_path / "shared", tmp_path / data["output_folder"]):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in folder.iterdir())


def test_not_a_folder_and_unwritable_paths(runner, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    for out, reason in (("file.txt/sub", "file.txt is a file, not a folder"),
                        ("/proc/self/ifpp", "cannot write to /proc/self/ifpp")):
        result = invoke(runner, "run", "--out", out)
        assert result.exit_code == 2 and reason in result.output and "choose another --out" in result.output, out
    assert listing(tmp_path) == ["file.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_working_folder(runner, tmp_path):
    tmp_path.chmod(0o555)
    try:
        result = invoke(runner, "run")
    finally:
        tmp_path.chmod(0o755)
    assert result.exit_code == 2 and "cannot write to" in result.output and "permission denied" in result.output
    assert listing(tmp_path) == []


def test_read_only_folder_simulated(runner, tmp_path, monkeypatch):
    """The same as a read-only folder for any user (root included): creating the run folder fails."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", kwargs.get("dir"))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    result = invoke(runner, "run", "--out", "res")
    assert result.exit_code == 2 and "cannot write to" in result.output and "permission denied" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "res").exists() or not any((tmp_path / "res").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("command", [["run"], ["psa", "-n", "30", "--no-evppi"], ["dsa"]])
def test_full_disk_leaves_nothing(runner, tmp_path, monkeypatch, command):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    result = invoke(runner, *command, "--out", "res")
    assert result.exit_code == 2, result.output
    assert "cannot write to" in result.output and "no space left on device" in result.output
    assert listing(tmp_path) == []


@pytest.mark.slow
def test_full_disk_on_replacing_an_earlier_run_keeps_it(runner, tmp_path, monkeypatch):
    assert invoke(runner, "run", "--out", "res").exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "res").iterdir()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert invoke(runner, "run", "--out", "res", "--force").exit_code == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "res").iterdir()} == before


def test_run_folder_in_place_keeps_the_folder_itself(tmp_path):
    out = tmp_path / "res"
    out.mkdir(mode=0o750)
    os.chmod(out, 0o750)
    run = RunFolder("run", out=out)
    run.table("t", pd.DataFrame({"x": [1]}))
    assert run.commit() == out
    assert stat.S_IMODE(out.stat().st_mode) == 0o750 and sorted(p.name for p in out.iterdir()) == [
        "data_dictionary.csv", "manifest.json", "results.xlsx", "t.csv"]
    with pytest.raises(OutputError, match="--force"):
        RunFolder("run", out=out)


@pytest.mark.parametrize("option", [["psa", "--seed", "-1"], ["psa", "-n", "0"], ["psa", "-n", "99999999999"],
                                    ["budget", "--seed", "-5"], ["dsa", "--wtp", "-1"], ["psa", "--chunk-size", "0"],
                                    ["budget", "--referrals", "1e300"]])
def test_bad_options_exit_2(runner, option):
    result = runner.invoke(main, option)
    assert result.exit_code == 2 and "Invalid value" in result.output and "Traceback" not in result.output


def test_template_on_a_full_disk_leaves_nothing(runner, tmp_path, monkeypatch):
    from pathlib import Path

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    result = invoke(runner, "template", "my.xlsx")
    assert result.exit_code == 2 and "cannot write to my.xlsx: no space left on device" in result.output
    assert listing(tmp_path) == []
