"""``ifpp-econ calibrate``: 903 files → calibrated copy of a workbook + a calibration report folder.

The input workbook and the 903 files are only read. The workbook copy is written to a
hidden temporary file beside ``--out``, checked with the workbook reader, and renamed into
place; the report folder ``<OUT>_calibration/`` is written through :class:`RunFolder`
(whole or not at all). An existing ``--out`` or report folder is refused unless ``force``;
the input workbook is never the output. The base case is run on the input workbook and on the copy (and,
with CIN census returns, on copies holding only the baseline or only the care dynamics) to show how the local
values change savings per child. The summary lists every row replaced, kept (and why) and every thin cell.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import declarations
from ..exceptions import InputError, OutputError
from ..local_data.baseline_risk import BaselineEstimate, estimate_baseline
from ..local_data.care_dynamics import KEPT, SHRUNK, Calibration, Options
from ..local_data.cin_census import read_cin
from ..local_data.ssda903 import PLACEMENT_TYPES
from . import calibration_report
from .calibration_report import ReportData, pct
from .run_folder import RunFolder

if TYPE_CHECKING:
    from ..inputs.container import Inputs

WRITTEN_COLUMNS = ("value", "unit", "distribution", "param_a", "param_b", "low", "high", "source", "status", "notes")


def report_folder(out: Path) -> Path:
    return out.with_name(f"{out.stem}_calibration")


def _check_outputs(src: Path, out: Path, folder: Path, inputs: list, force: bool) -> None:
    if out.suffix.lower() != ".xlsx":
        raise OutputError(f"--out {out}: the calibrated workbook must be an .xlsx file")
    for p in [src, *map(Path, inputs)]:
        if out.resolve() == p.resolve() or (p.exists() and out.exists() and os.path.samefile(p, out)):
            raise OutputError(f"--out {out} is one of the input files; the inputs are never overwritten")
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder; give a file name ending in .xlsx")
    if out.exists() and not force:
        raise OutputError(f"--out {out} already exists; choose another name or pass --force to replace it")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise OutputError(f"the report folder {folder} already holds files; choose another --out or pass --force")
    if not out.parent.is_dir():
        raise OutputError(f"--out {out}: the folder {out.parent} does not exist")


def _settings(cal: Calibration, options: Options, files: str, include_uasc: bool) -> dict:
    w0, w1 = cal.window
    return {"files": files, "window_start": f"{w0:%Y-%m-%d}", "window_end": f"{w1 - pd.Timedelta(days=1):%Y-%m-%d}",
            "include_uasc": include_uasc, "exclude_youth_justice": options.exclude_youth_justice,
            "cin": list(options.cin), "e13": options.e13, "other_exits": options.other_exits,
            "shrink_months": options.shrink_months, "bootstrap": options.bootstrap, "seed": options.seed}


# ---------------------------------------------------------------------------------------
# The workbook copy
# ---------------------------------------------------------------------------------------
def _headers(ws) -> dict[str, int]:
    """Header text (stripped, as written) → 1-based column of row 1."""
    return {str(c.value).strip(): c.column for c in ws[1] if c.value is not None and str(c.value).strip()}


def _rows(ws, column: int) -> dict[str, int]:
    """Key text in ``column`` → row number (rows 2+)."""
    return {str(ws.cell(r, column).value).strip(): r for r in range(2, ws.max_row + 1)
            if ws.cell(r, column).value is not None}


def write_workbook(src: Path, dst: Path, cal: Calibration, files: str) -> None:
    """Copy ``src`` to ``dst`` with the calibrated rows, entrant mix, age shares and effective n replaced."""
    import warnings

    from openpyxl import load_workbook

    shutil.copyfile(src, dst)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = load_workbook(dst)
    w0, w1 = cal.window
    window = f"{w0:%d/%m/%Y}–{w1 - pd.Timedelta(days=1):%d/%m/%Y}"
    people = f"{cal.counts['periods used']:,} periods, {cal.counts['children used']:,} children"
    _write_parameters(wb["Parameters"], cal.estimates, f"SSDA903 {files}; window {window}", people)
    write_placement_mix(wb["Placement mix"], cal.mix, f"SSDA903 local entrants, window {window}")
    _write_age_bands(wb["Age bands"], cal.age_shares, f"SSDA903 local first entries, window {window}")
    children = cal.mix.groupby("band")["children"].first()
    children = children[children > 0]
    _write_settings(wb["Settings"], {"placement_mix_effective_n": int(children.min()) if len(children) else None,
                                     "age_mix_effective_n": int(cal.age_shares["children"].sum()) or None})
    if "Lists" in wb.sheetnames:
        _allow_local_status(wb)
    wb.save(dst)


def _write_parameters(ws, est: pd.DataFrame, source: str, people: str) -> None:
    cols = _headers(ws)
    rows = _rows(ws, cols["name"])
    fixed_kinds = multipliers_fixed(est)
    for r in est[est["written"]].itertuples():
        if r.parameter not in rows:
            continue
        i = rows[r.parameter]
        shrink = (f"; shrunk towards the default {r.default:.4g} (raw {r.probability:.4g})"
                  if np.isfinite(r.shrunk) else "")
        thin = (f"; thin cell ({r.events:,} events, {r.person_months:,.0f} person-months: {r.reason}): written only "
                "because it is shrunk towards the workbook's value" if r.thin else "")
        raised = "; PSA α raised to 1 (mean kept) so that the beta has no spike at 0" if r.alpha_raised else ""
        kind = r.parameter.split("_")[0]
        if kind not in fixed_kinds:
            raised += (f"; care_multiplier_{kind} stays as in the workbook (rows of this kind are kept from it), so this "
                       "row's PSA spread is overstated")
        values = {
            "value": round(float(r.value), 7), "unit": "probability/month", "distribution": "beta_alpha_beta",
            "param_a": round(float(r.psa_alpha), 4), "param_b": round(float(r.psa_beta), 4),
            "low": round(float(r.low), 7), "high": round(float(r.high), 7),
            "source": f"{source}; {r.events:,} events / {r.person_months:,.0f} person-months ({people})",
            "status": "L",
            "notes": (f"local: rate {r.rate:.5f}/month = events ÷ person-months; monthly probability with the competing "
                      f"exit (λ/Λ)(1 − e^−Λ); low/high = 95% exact Poisson interval widened to the child bootstrap; "
                      f"PSA beta moment-matched to Gamma(events + 0.5, person-months) × design effect "
                      f"{r.design_effect:.2f}; default was {r.default:.4g}{shrink}{thin}{raised}"),
        }
        for col, v in values.items():
            if col in cols:
                ws.cell(i, cols[col], v)
    # Local rows carry their own beta: a shared multiplier on top would count the uncertainty twice. It stays as in the
    # workbook while rows of its kind are kept from the workbook (their only PSA spread), so the local rows' spread is
    # then overstated rather than the kept rows' lost.
    for kind in multipliers_fixed(est):
        name = f"care_multiplier_{kind}"
        if name in rows:
            fixed = {"value": 1.0, "distribution": "fixed", "param_a": None, "param_b": None, "low": None,
                     "high": None, "status": "L", "notes": f"fixed at 1 by ifpp-econ calibrate: the local {kind} rows "
                     "have their own beta distributions from the data"}
            for col, v in fixed.items():
                if col in cols:
                    ws.cell(rows[name], cols[col], v)


def multipliers_fixed(est: pd.DataFrame) -> list[str]:
    """Kinds (reunify, permanence, reentry) whose ``care_multiplier_<kind>`` is fixed at 1: every row of the kind is
    written with its own beta."""
    kinds = est["parameter"].str.split("_").str[0]
    return [k for k in dict.fromkeys(kinds) if est.loc[kinds == k, "written"].all()]


def write_placement_mix(ws, mix: pd.DataFrame, note: str) -> None:
    """Write the entrant mix (tidy: ``band``, ``placement_type``, ``share``, ``children``) into the
    Placement mix sheet, finding columns by header: one share column per age band, headed with the
    band's name. Types the sheet lacks are added to ``other``; bands without entrants are kept."""
    cols = _headers(ws)
    rows = _rows(ws, cols["placement_type"])
    fold = {t: (t if t in rows else "other") for t in PLACEMENT_TYPES}
    tidy = mix.assign(row_type=mix["placement_type"].map(fold))
    for band in (b for b in dict.fromkeys(tidy["band"]) if b in cols):
        part = tidy[tidy["band"] == band]
        if part["children"].iloc[0] == 0:
            continue
        shares = part.groupby("row_type")["share"].sum()
        for t, i in rows.items():
            ws.cell(i, cols[band], float(shares.get(t, 0.0)))
    if "notes" in cols:
        for i in rows.values():
            ws.cell(i, cols["notes"], note)


def _write_age_bands(ws, ages: pd.DataFrame, note: str) -> None:
    cols = _headers(ws)
    rows = _rows(ws, cols["band"])
    n = int(ages["children"].sum())
    if n == 0:
        return
    for r in ages.itertuples():
        if r.band in rows:
            ws.cell(rows[r.band], cols["share"], float(r.share))
            if "notes" in cols:
                ws.cell(rows[r.band], cols["notes"], f"{note}: {r.children:,} of {n:,} children")


def _write_settings(ws, values: dict) -> None:
    cols = _headers(ws)
    rows = _rows(ws, cols["setting"])
    for name, v in values.items():
        if name in rows and v is not None:
            ws.cell(rows[name], cols["value"], v)


def _allow_local_status(wb) -> None:
    """Add L to the hidden Lists sheet's status drop-down (workbooks written before status L existed)."""
    from openpyxl.utils import get_column_letter

    lists = wb["Lists"]
    cols = _headers(lists)
    if "status" not in cols:
        return
    c = cols["status"]
    values = [lists.cell(r, c).value for r in range(2, lists.max_row + 1)]
    values = [v for v in values if v is not None]
    if "L" in values:
        return
    last = len(values) + 1
    lists.cell(last + 1, c, "L")
    letter = get_column_letter(c)
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            if dv.formula1 and "Lists!" in dv.formula1:
                dv.formula1 = dv.formula1.replace(f"${letter}${last}", f"${letter}${last + 1}")


# ---------------------------------------------------------------------------------------
# What changed, and what it does to the results
# ---------------------------------------------------------------------------------------
def _same(a, b) -> bool:
    missing = [v is None or (isinstance(v, float) and not np.isfinite(v)) or v == "" for v in (a, b)]
    if all(missing):
        return True
    if any(missing):
        return False
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return bool(abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a))))
    return str(a) == str(b)


def workbook_changes(before, after, cal: Calibration, base: BaselineEstimate | None) -> pd.DataFrame:
    """Every scalar parameter row the copy changed (or that calibrate estimated and kept): parameter, label, unit,
    old/new value, status and distribution, action (replaced, shrunk, fixed at 1, capped, kept) and why, in plain
    words. The placement mix and age shares are reported separately."""
    b, a = before.parameters, after.parameters
    est = cal.estimates.set_index("parameter")
    bl = base.estimates.set_index("parameter") if base is not None else None
    rows = []
    for name in b.index:
        if str(name).startswith(("mix:", "age_share:")) or name not in a.index:
            continue
        old, new = b.loc[name], a.loc[name]
        changed = not all(_same(old[c], new[c]) for c in ("value", "distribution", "param_a", "param_b", "low", "high",
                                                           "status"))
        if name in est.index:
            r = est.loc[name]
            held = f"{r['events']:,} event{'' if r['events'] == 1 else 's'} in {r['person_months']:,.0f} person-months"
            if r["person_months"] == 0:
                action, why = "kept", "no person-time in the window"
            elif r["action"] == KEPT:
                action, why = "kept", f"thin: {held} ({r['reason']}); local estimate {pct(r['probability'], 2)} not written"
            elif r["action"] == SHRUNK:
                action = "shrunk"
                why = (f"{held}; local estimate {pct(r['probability'], 2)} shrunk towards the workbook's value"
                       + (f" (thin: {r['reason']})" if r["thin"] else ""))
            else:
                action, why = "replaced", f"{held}; 95% {pct(r['low'], 2)}–{pct(r['high'], 2)}"
        elif bl is not None and name in bl.index:
            r = bl.loc[name]
            if r["withheld"]:
                action = "capped" if changed else "kept"
                why = f"withheld: {r['reason']}" + ("; capped to keep the risks ordered" if changed else "")
            else:
                action = "replaced"
                why = {"children_placed_per_family_placement": f"{r['events']:,} families with an entry (within 30 days)",
                       "children_per_family": f"{r['events']:,} families in the cohort"}.get(
                    name, f"{r['events']:,} families with an entry by day {r['horizon_days']}; "
                          f"{r['n_at_risk']:,} still followed then")
        elif str(name).startswith("care_multiplier_"):
            kind = str(name).removeprefix("care_multiplier_")
            kept = [p for p in est.index if p.startswith(f"{kind}_") and not est.loc[p, "written"]]
            if changed:
                action, why = "fixed at 1", f"every {kind} row is local, with its own PSA beta"
            elif len(kept) < int(est.index.str.startswith(f"{kind}_").sum()):
                action, why = "kept", (f"{', '.join(kept)} kept from the workbook take their PSA spread from it; the "
                                       f"local {kind} rows get it on top of their own beta (their spread is overstated)")
            else:
                continue
        elif changed:
            action, why = "changed", "changed by calibrate"
        else:
            continue
        rows.append({"parameter": name, "label": str(old["label"]), "unit": str(old["unit"]),
                     "old_value": float(old["value"]), "new_value": float(new["value"]), "old_status": str(old["status"]),
                     "new_status": str(new["status"]), "old_distribution": str(old["distribution"]),
                     "new_distribution": str(new["distribution"]), "action": action, "why": why})
    columns = ["parameter", "label", "unit", "old_value", "new_value", "old_status", "new_status", "old_distribution",
               "new_distribution", "action", "why"]
    return pd.DataFrame(rows, columns=columns)


def compare_savings(variants: Sequence[tuple[str, str, Inputs]]) -> tuple[pd.DataFrame | None, list[str]]:
    """The deterministic base case of each (label, what it holds, inputs): savings per child and the change against the
    first, placements and months in care avoided, usual care's cost per child. A workbook the model refuses is named
    in the returned notes instead."""
    from ..analyses.deterministic import run_base_case

    rows, notes = [], []
    for label, holds, inputs in variants:
        try:
            j = run_base_case(inputs).to_json()
        except InputError as exc:
            notes.append(f"the base case could not be run on the {label.lower()}: {exc}")
            continue
        rows.append({"workbook": label, "holds": holds,
                     "risk_12m": float(inputs.parameters.loc["risk_12m", "value"]),
                     "per_child_savings": float(j["per_child_savings"]), "change": np.nan,
                     "placements_avoided_per_child": float(j["placements_avoided_per_child"]),
                     "care_months_avoided_per_child": float(j["care_months_avoided_per_child"]),
                     "usual_care_cost": float(j["strategies"][j["comparator"]]["cost"])})
    if not rows:
        return None, notes
    table = pd.DataFrame(rows)
    if table["workbook"].iloc[0] == "Input workbook":
        table.loc[1:, "change"] = table["per_child_savings"].iloc[1:] - table["per_child_savings"].iloc[0]
    return table, notes


# ---------------------------------------------------------------------------------------
# The report folder and the summary
# ---------------------------------------------------------------------------------------
def write_report(folder: RunFolder, cal: Calibration, files: str, out: Path, data: ReportData | None = None) -> None:
    """Tables (CSV and results.xlsx), charts (PNG and SVG) and report.html into ``folder``
    (:func:`.calibration_report.write_report`; without ``data``: the care dynamics only)."""
    calibration_report.write_report(folder, cal, data or ReportData(files, Path(out), warnings=list(cal.warnings)))


def summary(cal: Calibration, out: Path, folder: Path, options: Options | None = None) -> dict:
    options = options or Options()
    est = cal.estimates
    return {
        "workbook": str(out),
        "report": str(folder / "report.html"),
        "window": [f"{cal.window[0]:%Y-%m-%d}", f"{cal.window[1] - pd.Timedelta(days=1):%Y-%m-%d}"],
        "estimates": _records(est[["parameter", "events", "person_months", "rate", "probability", "low", "high",
                                   "default", "value", "written", "thin", "action", "reason"]]),
        "minimum_person_months": options.min_person_months,
        "minimum_events": options.min_events,
        "thin_cells": _records(cal.thin),
        "placement_mix": _records(cal.mix),
        "age_shares": _records(cal.age_shares),
        "counts": cal.counts,
        "warnings": cal.warnings,
    }


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (native numbers; NaN → None)."""
    return json.loads(df.to_json(orient="records", double_precision=15))


def value_text(v, unit: str) -> str:
    """A workbook value in plain words: probabilities as percentages (a month, a year), other units as numbers."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    if unit == "probability/month":
        return f"{pct(v, 2)} a month"
    if unit == "probability/year":
        return f"{pct(v, 1)} a year"
    if unit == "probability":
        return pct(v, 1)
    return f"{v:,.4g}" + (f" {unit}" if unit == "children" else "")


def format_summary(data: dict) -> str:
    """The console summary: the window, each workbook row replaced (old → new, status L), each row kept and why, the
    other sheets replaced, savings per child with each workbook, the report."""
    w0, w1 = (pd.Timestamp(d) for d in data["window"])
    counts = data["counts"]
    lines = [f"Calibrated copy: {data['workbook']}" + (f" (from {data['workbook_input']})" if data.get("workbook_input") else ""),
             f"SSDA903 window {w0:%d/%m/%Y} to {w1:%d/%m/%Y}: {counts['periods used']:,} periods of care, "
             f"{counts['children used']:,} children"]
    if data.get("baseline"):
        b = data["baseline"]
        lines.append(f"CIN census baseline: cohort {b['cohort']}, entries {pd.Timestamp(b['window'][0]):%d/%m/%Y} to "
                     f"{pd.Timestamp(b['window'][1]):%d/%m/%Y}, families from the {b['family_source']}, link rate "
                     f"{b['link_rate']:.1%}")
    changes = data.get("changes") or []
    done = [c for c in changes if c["action"] != "kept"]
    kept = [c for c in changes if c["action"] == "kept"]
    width = max([len(c["parameter"]) for c in changes] + [10]) + 2
    moves = [f"{value_text(c['old_value'], c['unit'])} → {value_text(c['new_value'], c['unit'])}" for c in done]
    shift = max([len(m) for m in moves] + [len(value_text(c["old_value"], c["unit"])) for c in kept] + [10]) + 2
    if done:
        lines += ["", "Replaced in the copy (old → new value; status):"]
        for c, move in zip(done, moves):
            what = {"fixed at 1": "fixed at 1", "capped": "capped"}.get(c["action"], "")
            lines.append(f"  {c['parameter']:<{width}}{move:<{shift}}{c['old_status']} → {c['new_status']}; "
                         + (f"{what}: " if what else "") + c["why"])
    if kept:
        lines += ["", "Kept as in the workbook (status unchanged):"]
        for c in kept:
            lines.append(f"  {c['parameter']:<{width}}{value_text(c['old_value'], c['unit']):<{shift}}{c['old_status']}; "
                         f"{c['why']}")
    ages = ", ".join(f"{a['band']} {a['share']:.0%}" for a in data["age_shares"])
    lines += ["", f"Also replaced: the placement mix of children entering care (by age band) and the age shares ({ages})."]
    savings = data.get("savings") or []
    if savings:
        g = "−£{:,.0f}".format
        money = [(f"£{s['per_child_savings']:,.0f}" if s["per_child_savings"] >= 0 else g(-s["per_child_savings"]))
                 for s in savings]
        lines += ["", "Savings per child (base case): " + "; ".join(f"{s['workbook'].lower()} {m}"
                                                                  for s, m in zip(savings, money))]
    lines += ["", f"Report: {data['report']}"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# The CIN-linked usual-care baseline (issue 27)
# ---------------------------------------------------------------------------------------
BASELINE_WRITTEN = (*declarations.RISK_KNOTS, "annual_risk_after_24m",
                    "children_placed_per_family_placement", "children_per_family")
FOLLOWS_RISK_12M = tuple(n for n in declarations.RISK_KNOTS if n != declarations.RISK_ANCHOR)
EVERY_CHILD_SCENARIO = "Every child of a placed family placed"


def estimate_local_baseline(cin, cleaned, returns, families, cohort: str, options: Options, bootstrap: int,
                            defaults: dict, include_uasc: bool) -> BaselineEstimate:
    """Read the CIN files and estimate the baseline against the cleaned 903 periods (the care window, if given,
    restricts cohort entry)."""
    tables = read_cin(cin)
    window = None
    if options.window is not None:
        window = (options.window[0], options.window[1])
    names = ", ".join(Path(p).name for p in cin) + (f"; families {Path(families).name}" if families else "")
    return estimate_baseline(tables, cleaned, cohort=cohort, families=families, window=window, bootstrap=bootstrap,
                             seed=options.seed, uasc=() if include_uasc else returns.uasc["CHILD"], defaults=defaults,
                             sources=names)


def write_baseline_rows(dst: Path, base: BaselineEstimate) -> None:
    """Write the local baseline into the workbook copy ``dst`` (in place): value, distribution, low/high (bootstrap
    interval), source and status L of each row not withheld. risk_12m carries its beta; risk_3m/6m/24m stay
    ``fixed`` at their local values so that they move in proportion to risk_12m in the PSA and DSA (the four
    knots of one curve are strongly correlated; independent betas would break the curve). Withheld rows keep the
    workbook's value unless it had to be capped to keep the risks ordered. The scenario "every child of a placed
    family placed" is set to the local children per family."""
    import warnings

    from openpyxl import load_workbook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = load_workbook(dst)
    ws = wb["Parameters"]
    cols = _headers(ws)
    rows = _rows(ws, cols["name"])
    est = base.estimates.set_index("parameter")
    for name in BASELINE_WRITTEN:
        if name not in rows or name not in est.index:
            continue
        r = est.loc[name]
        if r["withheld"]:
            if r["value"] != r["default"]:
                values = {"value": round(float(r["value"]), 7),
                          "notes": f"workbook value {r['default']:g} capped at {r['value']:.4g} to stay below the local "
                                   f"later risk; local estimate withheld ({r['reason']})"}
            else:
                continue
        else:
            values = _baseline_values(name, r)
        for col, v in values.items():
            if col in cols:
                ws.cell(rows[name], cols[col], v)
    if "Scenarios" in wb.sheetnames and not est.loc["children_per_family", "withheld"]:
        sc = wb["Scenarios"]
        sc_cols = _headers(sc)
        if {"scenario", "target", "value"} <= set(sc_cols):
            for i in range(2, sc.max_row + 1):
                if (sc.cell(i, sc_cols["scenario"]).value == EVERY_CHILD_SCENARIO
                        and sc.cell(i, sc_cols["target"]).value == "children_placed_per_family_placement"):
                    sc.cell(i, sc_cols["value"], round(float(est.loc["children_per_family", "value"]), 4))
                    if "notes" in sc_cols:
                        sc.cell(i, sc_cols["notes"], "k = children per family (local, from the CIN census)")
    if "Lists" in wb.sheetnames:
        _allow_local_status(wb)
    wb.save(dst)


def _baseline_values(name: str, r: pd.Series) -> dict:
    value = float(r["value"])
    low = min(float(r["low"]), value) if np.isfinite(r["low"]) else None
    high = max(float(r["high"]), value) if np.isfinite(r["high"]) else None
    what = {"children_placed_per_family_placement": f"{r['events']:,} families with an entry (counted within 30 days)",
            "children_per_family": f"{r['events']:,} families"}.get(name, f"{r['events']:,} entries by day "
                                                                      f"{r['horizon_days']}, {r['n_at_risk']:,} families "
                                                                      "still at risk then")
    values = {"value": round(value, 7), "low": None if low is None else round(low, 7),
              "high": None if high is None else round(high, 7), "source": f"{r['source']}; {what}", "status": "L"}
    own = (f"beta({r['param_a']:.4g}, {r['param_b']:.4g})" if r["distribution"] == "beta_alpha_beta"
           else f"gamma (mean {value:.4g}, SE {r['param_a']:.4g})" if r["distribution"] == "gamma_mean_se" else "none")
    if name in FOLLOWS_RISK_12M:
        values.update(distribution="fixed", param_a=None, param_b=None,
                      notes=f"local Aalen–Johansen cumulative incidence; bootstrap SE {r['se']:.4f}; fixed so that it "
                            f"moves in proportion to risk_12m in the PSA and DSA (its own moment-matched {own} is in "
                            "the calibration report); low/high = 95% family bootstrap interval")
    else:
        values.update(distribution=r["distribution"], param_a=None if pd.isna(r["param_a"]) else round(float(r["param_a"]), 6),
                      param_b=None if pd.isna(r["param_b"]) else round(float(r["param_b"]), 6),
                      notes=f"local, from the CIN census linked to SSDA903; PSA {own} from the family bootstrap "
                            f"(SE {r['se']:.4g}); low/high = 95% bootstrap interval")
    return values


def baseline_summary(base: BaselineEstimate) -> dict:
    return {"cohort": base.cohort, "family_source": base.family_source, "link_rate": base.link_rate,
            "window": [f"{base.window[0]:%Y-%m-%d}", f"{base.window[1]:%Y-%m-%d}"],
            "estimates": _records(base.estimates.drop(columns=["source"])), "counts": base.counts}
