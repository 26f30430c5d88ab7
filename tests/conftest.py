import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def default_workbook_path():
    from importlib.resources import files
    return files("ifpp_econ") / "data" / "default.xlsx"


@pytest.fixture(scope="session")
def default_inputs(default_workbook_path):
    from ifpp_econ.inputs.reader import read_workbook
    return read_workbook(default_workbook_path)
