import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    """The fast path (``-m "not slow"``) runs the model on its numpy reference, so a fresh clone compiles nothing
    (the numba kernels, bit-identical to it, are compiled and tested by the full suite); IFPP_ECON_KERNEL, when
    set, wins."""
    if " ".join(str(config.option.markexpr or "").split()) == "not slow":
        os.environ.setdefault("IFPP_ECON_KERNEL", "numpy")


@pytest.fixture(scope="session")
def default_workbook_path():
    from importlib.resources import files
    return files("ifpp_econ") / "data" / "default.xlsx"


@pytest.fixture(scope="session")
def default_inputs(default_workbook_path):
    from ifpp_econ.inputs.reader import read_workbook
    return read_workbook(default_workbook_path)


def _contract_runs() -> list:
    """(label, seconds) of the command runs the contract test made in this process."""
    import sys

    return list(getattr(sys.modules.get("test_contract"), "RUNS", None) or [])


def pytest_sessionfinish(session):
    """Under pytest-xdist (``-n``), each worker hands its contract runs to the controller."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["contract_runs"] = _contract_runs()


_WORKER_RUNS: list = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The controller collects each xdist worker's contract runs."""
    _WORKER_RUNS.extend(getattr(node, "workeroutput", {}).get("contract_runs", []))


def pytest_terminal_summary(terminalreporter):
    """How many command runs the contract test made, and their time (quoted in closing notes; with ``-n``, the
    workers' runs summed: they overlap in wall time)."""
    runs = _contract_runs() + _WORKER_RUNS
    if runs:
        by: dict[str, tuple[int, float]] = {}
        for label, seconds in runs:
            n, t = by.get(label.split()[0], (0, 0.0))
            by[label.split()[0]] = (n + 1, t + seconds)
        terminalreporter.write_line(f"contract: {len(runs)} command runs in {sum(s for _, s in runs):.0f} s: "
                                    + ", ".join(f"{k} {n} ({t:.0f} s)" for k, (n, t) in sorted(by.items())))
