"""Random schema-level mutations of the template workbook, and the contract every command keeps on them.

A mutation is a few edits a person might make (or get wrong): a value of another type, a
renamed header, rows shifted or deleted, a value outside its domain, a changed
distribution, an added scenario, correlation, strategy or setting. ``mutate`` takes a
``pick(options)`` function, so the same edits are driven by hypothesis (the property test)
or by ``random.Random`` (``scripts/mutation_sweep.py``).

The contract (``check_commands``): ``validate``, ``run``, a tiny ``psa`` and ``dsa`` exit 0
or 2, never 1; on 2 every error line names the file and a sheet, nothing is written and the
input is unchanged.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from ifpp_econ.cli import main
from ifpp_econ.inputs import schema

TABLES = [s for s in schema.SHEETS if s not in ("README",)]
PARAMETER_NAMES = [p["name"] for p in schema.PARAMETERS]
SAMPLED = [p["name"] for p in schema.PARAMETERS if p["distribution"] != "fixed"]
NUMBERS = [0, 1, -1, 0.5, 1.5, 2, 10, 11, 12.5, 24, 100, 250, 1e6, 1e9, 2e9, 1e12, 1e308, -1e308, 1e-9, -0.001, 0.999,
           0.0177, 3, 5000, 200000, 1_000_000]
TEXTS = ["", " ", "abc", "1,5", "400,50", "1,200", "12,000,000", "35%", "£1,200", "1 200", "1e3", "NaN", "inf", "-",
         "=1+1", "$x^$", "\\notacommand", "yes", "no", "none", "fixed", "2023/24", "2030/31", "2013/14", "Usual care"]
OTHER = [True, False, dt.datetime(2024, 1, 1), None]
MUTATIONS = ("cell_value", "header", "shift_rows", "delete_row", "out_of_domain", "distribution", "scenario",
             "correlation", "strategy", "setting")
COMMANDS = (["validate"], ["run"], ["psa", "-n", "20", "--no-evppi"], ["dsa"])
SHEET_PATTERN = re.compile("|".join(re.escape(s) for s in TABLES))


def any_value(pick):
    kind = pick(("number", "text", "other"))
    return pick(NUMBERS) if kind == "number" else pick(TEXTS) if kind == "text" else pick(OTHER)


def _data_cell(ws, pick):
    rows = max(ws.max_row, 2)
    return ws.cell(pick(range(2, rows + 1)), pick(range(1, max(ws.max_column, 1) + 1)))


def _param_row(ws, name):
    return next((r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == name), None)


def mutate(wb, pick) -> list[str]:
    """Apply one to three mutations to an openpyxl workbook; returns a description of each."""
    done = []
    for _ in range(pick((1, 1, 2, 3))):
        kind = pick(MUTATIONS)
        if kind == "cell_value":
            sheet = pick(TABLES[:-1] + ["Inflation"])
            if sheet not in wb.sheetnames:
                continue
            cell = _data_cell(wb[sheet], pick)
            cell.value = any_value(pick)
            done.append(f"{sheet}!{cell.coordinate} = {cell.value!r}")
        elif kind == "header":
            sheet = pick(TABLES)
            if sheet not in wb.sheetnames:
                continue
            ws = wb[sheet]
            col = pick(range(1, len(schema.COLUMNS[sheet]) + 1))
            old = str(ws.cell(1, col).value)
            new = pick([old.upper(), old[:-1], old + "s", old[1:] + old[:1], "amount", "", schema.COLUMNS[sheet][0]])
            ws.cell(1, col).value = new
            done.append(f"{sheet} header {old!r} → {new!r}")
        elif kind == "shift_rows":
            sheet = pick(TABLES)
            if sheet not in wb.sheetnames:
                continue
            at, n = pick((1, 2, 5)), pick((1, 2))
            wb[sheet].insert_rows(at, amount=n)
            if at == 1 and pick((True, False)):
                wb[sheet].cell(1, 1).value = "My title"
            done.append(f"{sheet}: {n} row(s) inserted at {at}")
        elif kind == "delete_row":
            sheet = pick(TABLES)
            if sheet not in wb.sheetnames:
                continue
            row = pick(range(1, max(wb[sheet].max_row, 2) + 1))
            wb[sheet].delete_rows(row)
            done.append(f"{sheet}: row {row} deleted")
        elif kind == "out_of_domain":
            ws = wb["Parameters"]
            name = pick(PARAMETER_NAMES)
            row, col = _param_row(ws, name), pick(("C", "I", "J", "G", "H"))
            if row is None:
                continue
            value = pick([-1, -0.001, 0, 1, 1.0001, 1.5, 10, 10.5, 216, 217, 1e9, 1.1e9, 1e308, 0.5, 2.5])
            ws[f"{col}{row}"] = value
            done.append(f"{name} {col} = {value}")
        elif kind == "distribution":
            ws = wb["Parameters"]
            name = pick(PARAMETER_NAMES)
            row = _param_row(ws, name)
            if row is None:
                continue
            dist = pick(schema.VOCABULARIES["distribution"])
            a, b = pick(NUMBERS + [None]), pick(NUMBERS + [None])
            ws[f"F{row}"], ws[f"G{row}"], ws[f"H{row}"] = dist, a, b
            done.append(f"{name}: {dist}({a}, {b})")
        elif kind == "scenario":
            targets = PARAMETER_NAMES + [s[0] for s in schema.SETTINGS] + [
                "strategy_cost_method:IFPP", "strategy_cost_method:Usual care", "mix:residential", "age_share:0-4", "bogus"]
            target = pick(targets)
            value = any_value(pick)
            if "Scenarios" in wb.sheetnames:
                wb["Scenarios"].append([pick(("No effect", "New one")), target, value])
                done.append(f"scenario {target} = {value!r}")
        elif kind == "correlation":
            if "Correlations" in wb.sheetnames:
                a, b = pick(SAMPLED + ["rr_3m"]), pick(SAMPLED + ["risk_3m"])
                rho = pick((-0.99, -0.9, -0.5, 0, 0.3, 0.9, 0.99, 1, 2))
                wb["Correlations"].append([a, b, rho])
                done.append(f"correlation {a} ~ {b} = {rho}")
        elif kind == "strategy":
            if "Strategies" in wb.sheetnames:
                ws = wb["Strategies"]
                if pick((True, False)):
                    ws.append([pick(("IFPP 2", "$x^$", "\\notacommand", "IFPP")), "", pick(("yes", "no", "maybe")),
                               pick(("per_family", "bottom_up", "none", None, "x")), pick((1, 0, 1.4, 1e3, 1e308, None))])
                    done.append("strategy added")
                else:
                    cell = ws.cell(pick((2, 3)), pick((1, 3, 4, 5)))
                    cell.value = any_value(pick)
                    done.append(f"Strategies!{cell.coordinate} = {cell.value!r}")
        elif kind == "setting":
            if "Settings" in wb.sheetnames:
                ws = wb["Settings"]
                row = pick(range(2, len(schema.SETTINGS) + 2))
                value = pick(NUMBERS + TEXTS + ["window_rrs", "catch_up", "simpson", "none-end", "IFPP",
                                                "rr_12m, nope", "return_support_months", 1e-6])
                ws.cell(row, 2).value = value
                done.append(f"setting {ws.cell(row, 1).value} = {value!r}")
    return done


def mutated_workbook(template: Path, target: Path, pick) -> list[str]:
    wb = load_workbook(template)
    done = mutate(wb, pick)
    wb.save(target)
    return done


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_commands(workbook: Path, workdir: Path, all_after_rejection: bool = True) -> list[str]:
    """Run every command in-process on ``workbook`` (cwd ``workdir``); returns the contract's breaches.

    ``all_after_rejection=False`` stops after ``validate`` exits 2 (every command reads the workbook
    with the same ``load_inputs`` first, so they would all give the same answer)."""
    breaches = []
    before = _sha(workbook)
    runner = CliRunner()
    old = os.getcwd()
    os.chdir(workdir)
    validated = None
    try:
        for command in COMMANDS:
            result = runner.invoke(main, [*command, str(workbook)], catch_exceptions=True)
            name = command[0]
            if name == "validate":
                validated = result.exit_code == 0
            if result.exit_code not in (0, 2) or (result.exception and not isinstance(result.exception, SystemExit)):
                breaches.append(f"{name}: exit {result.exit_code}: {result.output.strip()[-800:]} {result.exception!r}")
                continue
            if result.exit_code == 2:
                if validated:
                    breaches.append(f"{name}: exit 2 after validate said OK: {result.output.strip()[-500:]}")
                errors = [line for line in result.output.splitlines() if line.startswith("error:")]
                if not errors:
                    breaches.append(f"{name}: exit 2 without an error line: {result.output[-500:]}")
                for line in errors:
                    if workbook.name not in line or not SHEET_PATTERN.search(line):
                        breaches.append(f"{name}: message names no file and sheet: {line[:300]}")
                outputs = workdir / "outputs"
                if outputs.exists() and any(p.name.startswith((f"{name}-", ".")) for p in outputs.iterdir()):
                    breaches.append(f"{name}: exit 2 but something was written to outputs/")
            if _sha(workbook) != before:
                breaches.append(f"{name}: the input workbook changed")
            if name == "validate" and result.exit_code == 2 and not all_after_rejection:
                break
    finally:
        os.chdir(old)
    return breaches
