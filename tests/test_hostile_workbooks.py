"""Broken and hostile workbooks: exit code 2, a message naming the file (and sheet and cell), no traceback,
no output folder, and the input file unchanged."""
import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from hostile_corpus import CASE_NAMES, blank_rows_workbook, build_corpus

from ifpp_econ.cli import main
from ifpp_econ.inputs import schema
from ifpp_econ.inputs.reader import read_workbook


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_corpus_covers_every_listed_case(corpus):
    assert set(corpus) == set(CASE_NAMES) and len(CASE_NAMES) == 24


@pytest.mark.slow
@pytest.mark.parametrize("name", CASE_NAMES)
def test_every_hostile_workbook_is_rejected_cleanly(corpus, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    path, expected = corpus[name]
    for command in ("validate", "run"):
        before = sha(path)
        started = time.perf_counter()
        result = runner.invoke(main, [command, str(path)], catch_exceptions=False)
        elapsed = time.perf_counter() - started
        assert result.exit_code == 2, (command, result.output)
        assert name in result.output, (command, result.output)
        for text in expected:
            assert text in result.output, (command, text, result.output)
        assert "Traceback" not in result.output, command
        assert sha(path) == before, command
        assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").iterdir()), command
        assert elapsed < 60, command  # bounded: no case may hang or exhaust memory


def test_blank_rows_in_the_middle_lose_nothing(tmp_path):
    inputs = read_workbook(blank_rows_workbook(tmp_path))
    assert set(p["name"] for p in schema.PARAMETERS) <= set(inputs.parameters.index)


def test_bug_gives_exit_1_and_a_saved_traceback(monkeypatch, tmp_path):
    import ifpp_econ.analyses.deterministic as det

    def broken(*args, **kwargs):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(det, "run_base_case", broken)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "internal error" in result.output and "Traceback" not in result.output
    saved = result.output.rsplit("saved in ", 1)[1].strip()
    assert "ZeroDivisionError: simulated bug" in open(saved).read()
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_large_psa_leaves_nothing_and_rerun_succeeds(tmp_path, sig):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    # Ctrl-C as in a terminal: a background job of a non-interactive shell (nohup, `cmd &` in a script) inherits
    # SIGINT ignored, and Python then leaves it ignored, as it should
    proc = subprocess.Popen([sys.executable, "-m", "ifpp_econ", "psa", "-n", "1000000"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    outputs = tmp_path / "outputs"
    deadline = time.time() + 60
    while time.time() < deadline and not (outputs.exists() and list(outputs.glob(".*partial*"))):
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    if sig != signal.SIGKILL:  # SIGKILL cannot be caught: the next run removes what it left
        assert list(outputs.iterdir()) == []
    rerun = subprocess.run([sys.executable, "-m", "ifpp_econ", "run"], cwd=tmp_path, capture_output=True, text=True,
                           env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert [p.name.startswith("run-") for p in outputs.iterdir()] == [True]
