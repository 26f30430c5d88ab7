"""The command-line contract, in the combinations users reach (issue 24): every command × every documented option
value and every enumerated setting value, in pairs (all-pairs), on workbooks written by the tool and saved by
LibreOffice. Each run exits 0 or 2 — never 1 (a bug) —, prints no traceback and leaks no Python warning; a run
that exits 2 names what to fix. Plus a Hypothesis property test over the options' values as people type them.

The pairs are generated here (a greedy all-pairs cover, :func:`all_pairs`); the enumerations come from the
workbook's own schema, so a new setting value is covered without editing this file.
"""
from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from ifpp_econ.cli import main
from ifpp_econ.inputs import schema
from ifpp_econ.inputs.template import write_template

pytestmark = pytest.mark.slow

RUNS: list[tuple[str, float]] = []  # (case, seconds): summarised at the end of the module


def all_pairs(factors: dict[str, list]) -> list[dict]:
    """Cases (factor → value) that together contain every pair of values of every two factors (a greedy cover: each
    case starts from the first pair not yet covered and takes, factor by factor, the value covering most new pairs)."""
    names = sorted(factors)

    def pair(a: str, x: int, b: str, y: int) -> tuple:
        return ((a, x), (b, y)) if a < b else ((b, y), (a, x))

    uncovered = {pair(a, x, b, y) for a, b in itertools.combinations(names, 2) for x in range(len(factors[a]))
                 for y in range(len(factors[b]))}
    cases = []
    while uncovered:
        (a, x), (b, y) = min(uncovered)  # deterministic
        case = {a: x, b: y}
        for name in names:
            if name not in case:
                case[name] = max(range(len(factors[name])),
                                 key=lambda v, name=name: (sum(pair(name, v, o, w) in uncovered for o, w in case.items()), -v))
        uncovered -= {pair(p, u, q, w) for (p, u), (q, w) in itertools.combinations(case.items(), 2)}
        cases.append({name: factors[name][case[name]] for name in factors})
    return cases


def test_all_pairs_covers_every_pair():
    factors = {"a": [1, 2, 3], "b": ["x", "y"], "c": [True, False], "d": [0, 1, 2, 3]}
    cases = all_pairs(factors)
    for a, b in itertools.combinations(factors, 2):
        assert {(c[a], c[b]) for c in cases} == set(itertools.product(factors[a], factors[b]))
    assert len(cases) < len(list(itertools.product(*factors.values())))


# Every enumerated setting of the workbook (Settings sheet choices) and the IFPP strategy's costing.
SETTING_CHOICES = {name: list(schema.VOCABULARIES[kind.split(":", 1)[1]]) for name, _, kind, *_ in schema.SETTINGS
                   if kind.startswith("choice:") and name != "comparator"}
WORKBOOK_FACTORS = {**SETTING_CHOICES, "ifpp_cost_method": ["per_family", "bottom_up"],
                    "saved_by": ["ifpp-econ", "libreoffice"]}


def _variant_name(case: dict) -> str:
    return "-".join(str(case[k]) for k in WORKBOOK_FACTORS if k != "saved_by")


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory):
    """A factory: the workbook for a case's settings (written by openpyxl, or saved by LibreOffice), made once."""
    folder = tmp_path_factory.mktemp("contract")
    made: dict[tuple, Path] = {}

    def edit(case: dict) -> Path:
        path = folder / f"{_variant_name(case)}.xlsx"
        if not path.exists():
            write_template(path)
            wb = load_workbook(path)
            ws = wb["Settings"]
            for row in ws.iter_rows(min_row=2):
                if row[0].value in SETTING_CHOICES:
                    row[1].value = case[row[0].value]
            ws = wb["Strategies"]
            method = [c.column for c in ws[1] if c.value == "cost_method"][0]
            for row in ws.iter_rows(min_row=2):
                if row[0].value == "IFPP":
                    ws.cell(row[0].row, method).value = case["ifpp_cost_method"]
            wb.save(path)
        return path

    def get(case: dict) -> Path:
        key = (_variant_name(case), case["saved_by"])
        if key not in made:
            path = edit(case)
            if case["saved_by"] == "libreoffice":
                if shutil.which("soffice") is None:
                    pytest.skip("LibreOffice (soffice) is not installed")
                out = folder / "libreoffice"
                done = subprocess.run(["soffice", f"-env:UserInstallation=file://{folder}/profile", "--headless",
                                       "--convert-to", "xlsx", "--outdir", str(out), str(path)], capture_output=True,
                                      timeout=240)
                assert done.returncode == 0, done.stderr
                path = out / path.name
            made[key] = path
        return made[key]

    return get


def invoke(args: list, label: str):
    """Run the command line in-process; returns the click result. Python warnings are recorded, not printed."""
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(main, [str(a) for a in args])
    RUNS.append((label, time.perf_counter() - started))
    ours = [w for w in caught if not issubclass(w.category, DeprecationWarning) or "ifpp_econ" in str(w.filename)]
    return result, ours


def check(result, caught, args) -> None:
    text = f"{args}\nexit {result.exit_code}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
    assert result.exit_code in (0, 2), text
    assert "Traceback" not in result.stdout + result.stderr and "internal error" not in result.stderr, text
    assert not caught, f"{text}\nwarnings: {[str(w.message) for w in caught]}"
    if result.exit_code == 2:  # our message ("error: file: Sheet!Cell: …"), or click's for an option ("Error: Invalid value …")
        assert result.stderr.strip().startswith("error:") or "Error: " in result.stderr, text
    if "--json" in args and result.exit_code == 0:
        json.loads(result.stdout)


COMMANDS: dict[str, dict[str, list]] = {
    "validate": {},
    "run": {"--json": [False, True]},
    "psa": {"-n": [250, 1100], "--structural": [None, "none", "model_averaged"], "--no-evppi": [False, True],
            "--save-iterations": [False, True], "--chunk-size": [None, 100], "--workers": [None, 1], "--json": [False, True]},
    "dsa": {"--outcome": ["savings", "nmb", "placements"], "--wtp": [None, 0, 1e9], "--top": [1, 15], "--json": [False, True]},
    "budget": {"--years": [None, 1, 5], "--referrals": [None, 0, 1e6], "-n": [0, 60], "--json": [False, True]},
    "report": {"-n": [250], "--json": [False, True]},
    "rollup": {"-n": [250], "--executor": ["serial", "processes"], "--scale-to": [None, 2000], "--years": [None, 1],
               "--json": [False, True]},
}


def command_cases() -> list[tuple[str, dict]]:
    cases = []
    for command, options in COMMANDS.items():
        for case in all_pairs({**WORKBOOK_FACTORS, **options}):
            cases.append((command, case))
    return cases


CASES = command_cases()


def _args(command: str, case: dict, workbook: Path, out: Path) -> list:
    args: list = [command, workbook]
    for option, value in case.items():
        if not option.startswith("-") or value is None or value is False:
            continue
        args += [option] if value is True else [option, value]
    if command != "validate":
        args += ["--out", out]
    return args


@pytest.mark.parametrize("command, case", CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CASES)])
def test_every_command_in_pairs_of_options_and_settings_exits_0_or_2(command, case, workbooks, tmp_path):
    args = _args(command, case, workbooks(case), tmp_path / "out")
    result, caught = invoke(args, command)
    check(result, caught, args)
    if command == "psa" and case["psa_structural"] == "model_averaged" and result.exit_code == 0 and "--json" in args:
        data = json.loads(result.stdout)
        assert data["after_effect"] == "model_averaged" or case["--structural"] == "none"


@pytest.fixture(scope="module")
def returns_903(tmp_path_factory):
    from ifpp_econ.testing.synthetic903 import SyntheticConfig, simulate, write_returns

    folder = tmp_path_factory.mktemp("903")
    write_returns(simulate(SyntheticConfig(entrants_per_year=60, years=5), seed=5), folder)
    return sorted(folder.glob("*.csv"))


CALIBRATE = all_pairs({"--e13": ["reunification", "permanence"], "--other-exits": ["permanence", "censored"],
                       "--include-uasc": [False, True], "--exclude-youth-justice": [False, True], "--shrink": [0, 200],
                       "--bootstrap": [0, 20], "--need": [None, "N1,N4"], "--json": [False, True]})


@pytest.mark.parametrize("case", CALIBRATE, ids=[f"calibrate-{i}" for i in range(len(CALIBRATE))])
def test_calibrate_in_pairs_of_options_exits_0_or_2(case, returns_903, tmp_path):
    args: list = ["calibrate", *returns_903, "--out", tmp_path / "local.xlsx"]
    for option, value in case.items():
        if value is None or value is False:
            continue
        args += [option] if value is True else [option, value]
    result, caught = invoke(args, "calibrate")
    check(result, caught, args)


@pytest.mark.parametrize("preset", ["default", "option2", "ifss"])
def test_template_presets(preset, tmp_path):
    args = ["template", tmp_path / "a b ü.xlsx", "--preset", preset]
    result, caught = invoke(args, "template")
    check(result, caught, args)
    result, caught = invoke(args + ["--force"], "template")
    check(result, caught, args)


# -- property test: option values as people type them --------------------------------------------------------------------
NUMBERS = st.one_of(
    st.integers(-10**10, 10**10).map(str),
    st.integers(0, 10**7).map(lambda v: f"{v:,}"),
    st.integers(0, 10**6).map(lambda v: f"£{v:,}"),
    st.floats(-1e10, 1e10, allow_nan=False).map(lambda v: f"{v:g}"),
    st.integers(0, 100).map(lambda v: f"{v}%"),
    st.sampled_from(["", " ", "1,5", "50,5", "abc", "nan", "inf", "1e400", "½", "١٢", "--", "0x10", "1_000"]),
)
OPTIONS = [("psa", "-n"), ("psa", "--seed"), ("psa", "--chunk-size"), ("psa", "--workers"), ("dsa", "--wtp"),
           ("dsa", "--top"), ("budget", "--years"), ("budget", "--referrals"), ("budget", "-n"), ("report", "--seed")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(option=st.sampled_from(OPTIONS), value=NUMBERS,
       folder=st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters="/\\\x00"),
                      min_size=1, max_size=12))
def test_any_typed_option_value_exits_0_or_2(option, value, folder, tmp_path_factory):
    command, name = option
    base = tmp_path_factory.mktemp("prop")
    extra = ["-n", "60"] if command in ("psa", "report") and name != "-n" else []
    if command == "budget" and name != "-n":
        extra = ["-n", "0"]
    if name == "-n":  # keep accepted sizes small (memory is bounded for any size, time is not)
        try:
            if float(value.replace(",", "").replace("£", "").rstrip("%")) > 3000:
                value = "3,000"
        except ValueError:
            pass
    args = [command, name, value, *extra, "--out", base / folder.strip(". ") / "out"]
    result, caught = invoke(args, f"property {command} {name}")
    check(result, caught, args)
    if result.exit_code == 2 and "cannot write" not in result.stderr:
        assert name in result.stderr or "Invalid value" in result.stderr or "error:" in result.stderr
