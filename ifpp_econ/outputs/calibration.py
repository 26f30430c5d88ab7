"""``ifpp-econ calibrate``: 903 files → calibrated copy of a workbook + a calibration report folder.

The input workbook and the 903 files are only read. The workbook copy is written to a
hidden temporary file beside ``--out``, checked with the workbook reader, and renamed into
place; the report folder ``<OUT>_calibration/`` is written through :class:`RunFolder`
(whole or not at all). An existing ``--out`` or report folder is refused unless ``force``;
the input workbook is never the output.
"""
from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import OutputError, WorkbookError
from ..local_data.baseline_risk import BaselineEstimate, estimate_baseline
from ..local_data.care_dynamics import Calibration, Options, estimate
from ..local_data.cin_census import is_cin_file, read_cin
from ..local_data.ssda903 import PLACEMENT_TYPES, clean, read_returns
from .run_folder import RunFolder

WRITTEN_COLUMNS = ("value", "unit", "distribution", "param_a", "param_b", "low", "high", "source", "status", "notes")


def report_folder(out: Path) -> Path:
    return out.with_name(f"{out.stem}_calibration")


def calibrate_workbook(episodes, header=(), uasc=(), workbook=None, out=None, force=False,
                       options: Options | None = None, include_uasc: bool = False, cin=(), families=None,
                       cohort: str = "cpp_start", baseline_bootstrap: int = 1000) -> dict:
    """Run the whole calibration; returns a JSON-ready summary (paths, estimates, counts, warnings).

    With CIN census files (``cin``, or recognised among ``episodes`` by their columns or XML) the usual-care baseline
    risk is estimated too (:func:`~ifpp_econ.local_data.baseline_risk.estimate_baseline`; ``families``: LAchildID,FamilyID
    CSV; ``cohort``: cpp_start, cpp_repeat, pre_proceedings or list:FILE) and written into the copy.
    Raises :class:`~ifpp_econ.exceptions.LocalDataError` (903 or CIN files), :class:`~ifpp_econ.exceptions.WorkbookError`
    (input workbook) or :class:`OutputError` (outputs) before anything is written.
    """
    from ..inputs.reader import read_workbook

    options = options or Options()
    src = Path(workbook)
    out = Path(out)
    folder_path = report_folder(out)
    cin = [*cin, *(p for p in episodes if is_cin_file(p))]
    episodes = [p for p in episodes if not is_cin_file(p)]
    extra = [*cin, *([families] if families else []), *([cohort[5:]] if cohort.startswith("list:") else [])]
    _check_outputs(src, out, folder_path, [*episodes, *header, *uasc, *extra], force)
    inputs = read_workbook(src)
    defaults = inputs.parameters["value"].to_dict()
    bands = list(inputs.age_bands["band"])
    returns = read_returns(episodes, header, uasc)
    cleaned = clean(returns, include_uasc=include_uasc)
    cal = estimate(cleaned, options, defaults, bands)
    files = ", ".join(Path(p).name for p in [*episodes, *header, *uasc])
    base = (estimate_local_baseline(cin, cleaned, returns, families, cohort, options, baseline_bootstrap, defaults,
                                    include_uasc) if cin else None)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}.xlsx")
    try:
        write_workbook(src, tmp, cal, files)
        if base is not None:
            write_baseline_rows(tmp, base)
        try:
            read_workbook(tmp)
        except WorkbookError as exc:  # the copy must stay a valid workbook
            raise OutputError("the calibrated copy did not pass validation:\n" + "\n".join(exc.problems)) from None
        with RunFolder("calibrate", folder_path, force) as folder:
            sections = write_baseline_report(folder, base) if base is not None else []
            write_report(folder, cal, files, out, sections)
            settings = _settings(cal, options, files, include_uasc)
            if base is not None:
                settings.update(cin=[Path(p).name for p in cin], cohort=cohort, families=str(families or ""),
                                baseline_bootstrap=baseline_bootstrap)
            dest = folder.commit(inputs, settings=settings)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    data = summary(cal, out, dest)
    if base is not None:
        data["baseline"] = baseline_summary(base)
        data["warnings"] = list(dict.fromkeys([*data["warnings"], *base.warnings]))
    return data


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
    for r in est[est["written"]].itertuples():
        if r.parameter not in rows:
            continue
        i = rows[r.parameter]
        shrink = (f"; shrunk towards the default {r.default:.4g} (raw {r.probability:.4g})"
                  if np.isfinite(r.shrunk) else "")
        values = {
            "value": round(float(r.value), 7), "unit": "probability/month", "distribution": "beta_alpha_beta",
            "param_a": round(float(r.psa_alpha), 4), "param_b": round(float(r.psa_beta), 4),
            "low": round(float(r.low), 7), "high": round(float(r.high), 7),
            "source": f"{source}; {r.events:,} events / {r.person_months:,.0f} person-months ({people})",
            "status": "L",
            "notes": (f"local: rate {r.rate:.5f}/month = events ÷ person-months; monthly probability with the competing "
                      f"exit (λ/Λ)(1 − e^−Λ); low/high = 95% exact Poisson interval widened to the child bootstrap; "
                      f"PSA beta moment-matched to Gamma(events + 0.5, person-months) × design effect "
                      f"{r.design_effect:.2f}; default was {r.default:.4g}{shrink}"),
        }
        for col, v in values.items():
            if col in cols:
                ws.cell(i, cols[col], v)
    # Local rows carry their own beta: a shared multiplier on top would count the uncertainty twice.
    for kind in est.loc[est["written"], "parameter"].str.split("_").str[0].unique():
        name = f"care_multiplier_{kind}"
        if name in rows:
            fixed = {"value": 1.0, "distribution": "fixed", "param_a": None, "param_b": None, "low": None,
                     "high": None, "status": "L", "notes": f"fixed at 1 by ifpp-econ calibrate: the local {kind} rows "
                     "have their own beta distributions from the data"}
            for col, v in fixed.items():
                if col in cols:
                    ws.cell(rows[name], cols[col], v)


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
# The report folder
# ---------------------------------------------------------------------------------------
def _charts(cal: Calibration) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = {}
    est = cal.estimates
    fig, ax = plt.subplots(figsize=(7, 4.5))
    y = np.arange(len(est))[::-1]
    ax.errorbar(est["probability"], y, xerr=[est["probability"] - est["low"], est["high"] - est["probability"]],
                fmt="o", color="#1F4E78", label="local estimate (95% interval)")
    ax.plot(est["default"], y, "x", color="#C00000", label="workbook default")
    ax.set_yticks(y, est["parameter"])
    ax.set_xlabel("monthly probability")
    ax.set_title("Local care dynamics against the workbook defaults", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    figs["estimates"] = fig

    c = cal.curves
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for cause, colour in (("reunification", "#1F4E78"), ("permanence", "#548235")):
        ax.step(c["months"], c[f"aj_{cause}"], where="post", color=colour, label=f"{cause}: Aalen–Johansen (data)")
        ax.plot(c["months"], c[f"implied_{cause}"], "--", color=colour, label=f"{cause}: implied by the bands")
    ax.set_xlabel("months since the period of care started")
    ax.set_ylabel("cumulative incidence")
    ax.set_title("Exits from care: observed against the banded probabilities", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    figs["cumulative_incidence"] = fig

    r = cal.reentry_curve
    fig, ax = plt.subplots(figsize=(7, 4.5))
    seen = r["at_risk"] > 0
    ax.step(r.loc[seen, "months"], r.loc[seen, "km_reentry"], where="post", label="Kaplan–Meier (data)")
    ax.plot(r["months"], r["implied_reentry"], "--", label="implied by the bands")
    ax.plot([12, 72], [0.20, 1 / 3], "s", color="#C00000", label="national: 20% at 1 year, a third by 6 years")
    ax.set_xlabel("months since the return home")
    ax.set_ylabel("cumulative re-entry")
    ax.set_title("Re-entry after a return home", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    figs["reentry"] = fig

    wide = cal.mix.pivot(index="band", columns="placement_type", values="share").reindex(
        index=list(dict.fromkeys(cal.mix["band"])), columns=list(PLACEMENT_TYPES)).fillna(0)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    left = np.zeros(len(wide))
    for t in wide.columns:
        ax.barh(wide.index, wide[t], left=left, label=t)
        left += wide[t].to_numpy()
    ax.set_xlabel("share of entrants' time in care")
    ax.set_title("Placement mix of entrants by age band at entry", fontsize=10)
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    figs["placement_mix"] = fig

    check = cal.checks.iloc[0]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(["this LA", "England 2014/15", "England 2022/23"], [check["observed"], 0.34, 0.27],
           color=["#1F4E78", "#999999", "#999999"])
    ax.set_ylabel("share of leavers returning home")
    ax.set_title("Leavers returning home (E4A/E4B)", fontsize=10)
    figs["leavers_home"] = fig
    return figs


def write_report(folder: RunFolder, cal: Calibration, files: str, out: Path, sections: list[str] | None = None) -> None:
    """Tables (CSV and results.xlsx), charts (PNG and SVG) and report.html into ``folder``; ``sections``: extra HTML
    sections placed before the exclusions (the CIN baseline's)."""
    est = cal.estimates.drop(columns=["prior_rate", "other_rate"])
    counts = pd.DataFrame({"item": list(cal.counts), "count": list(cal.counts.values())})
    tables = {"estimates": est, "counts": counts, "placement_mix": cal.mix, "age_shares": cal.age_shares,
              "checks": cal.checks, "exits": cal.exits, "cumulative_incidence": cal.curves,
              "reentry_curve": cal.reentry_curve}
    for name, df in tables.items():
        folder.table(name, df)
    for name, fig in _charts(cal).items():
        folder.figure(name, fig)
    w0, w1 = cal.window
    wide_mix = cal.mix.pivot(index="placement_type", columns="band", values="share").reindex(
        index=list(PLACEMENT_TYPES), columns=list(dict.fromkeys(cal.mix["band"])))
    shown = est[["parameter", "events", "person_months", "rate", "probability", "low", "high", "bootstrap_low",
                 "bootstrap_high", "design_effect", "default", "shrunk", "value", "psa_alpha", "psa_beta"]]
    parts = [
        f"<h1>Local calibration from SSDA903 episodes</h1><p>Files: {html.escape(files)}<br>Window: "
        f"{w0:%d/%m/%Y} to {w1 - pd.Timedelta(days=1):%d/%m/%Y}<br>Calibrated workbook: {html.escape(str(out))}</p>",
        "<h2>Estimates</h2><p>Events and person-months in each duration band; rate = events ÷ person-months; "
        "probability = one month's chance with the competing exit; low/high = 95% exact Poisson interval widened to "
        "the child-level bootstrap interval; value = what the workbook now holds (the shrunk value when shrinkage is "
        "on); psa_alpha/psa_beta = its beta distribution.</p>" + shown.to_html(index=False, float_format="%.5g", na_rep="–"),
        "<img src='estimates.png' width=640>",
        "<h2>Cumulative incidence of exits</h2>" + cal.checks.to_html(index=False, float_format="%.3f", na_rep="–")
        + "<img src='cumulative_incidence.png' width=640><img src='reentry.png' width=640>"
          "<img src='leavers_home.png' width=480>",
        "<h2>Entrant placement mix by age band (share of time in care)</h2>"
        + wide_mix.to_html(float_format="%.3f", na_rep="–") + "<img src='placement_mix.png' width=640>",
        "<h2>Age at entry (first periods in the window)</h2>" + cal.age_shares.to_html(index=False, float_format="%.3f"),
        "<h2>Exits in the window by reason</h2>" + cal.exits.to_html(index=False, float_format="%.3f"),
        *(sections or []),
        "<h2>Exclusions, repairs and contradictions</h2>" + counts.to_html(index=False),
        "<h2>Warnings</h2><ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in cal.warnings) + "</ul>",
    ]
    text = ("<!doctype html><html><head><meta charset='utf-8'><title>Calibration report</title><style>"
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;font-size:12px}"
            "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>" + "".join(parts) + "</body></html>")
    (folder.path / "report.html").write_text(text, encoding="utf-8")
    folder.files.append("report.html")


def summary(cal: Calibration, out: Path, folder: Path) -> dict:
    est = cal.estimates
    return {
        "workbook": str(out),
        "report": str(folder / "report.html"),
        "window": [f"{cal.window[0]:%Y-%m-%d}", f"{cal.window[1] - pd.Timedelta(days=1):%Y-%m-%d}"],
        "estimates": _records(est[["parameter", "events", "person_months", "rate", "probability", "low", "high",
                                   "default", "value", "written"]]),
        "placement_mix": _records(cal.mix),
        "age_shares": _records(cal.age_shares),
        "counts": cal.counts,
        "warnings": cal.warnings,
    }


def _records(df: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (native numbers; NaN → None)."""
    return json.loads(df.to_json(orient="records", double_precision=15))


def format_summary(data: dict) -> str:
    lines = [f"Calibrated {data['workbook']} from SSDA903 episodes, window {data['window'][0]} to {data['window'][1]}",
             "", f"{'parameter':<22}{'events':>8}{'person-months':>15}{'monthly p':>11}{'95% interval':>20}{'default':>9}"]
    for r in data["estimates"]:
        if r["written"]:
            lines.append(f"{r['parameter']:<22}{r['events']:>8,}{r['person_months']:>15,.0f}{r['value']:>11.4f}"
                         f"{r['low']:>10.4f}–{r['high']:<9.4f}{r['default']:>9.4f}")
        else:
            lines.append(f"{r['parameter']:<22}   no person-time in the window: default kept")
    if data.get("baseline"):
        lines += ["", *format_baseline(data["baseline"])]
    lines += ["", "Age at entry: " + ", ".join(f"{a['band']} {a['share']:.0%}" for a in data["age_shares"]),
              f"Periods used: {data['counts']['periods used']:,}; children: {data['counts']['children used']:,}",
              f"Report: {data['report']}"]
    return "\n".join(lines)



# ---------------------------------------------------------------------------------------
# The CIN-linked usual-care baseline (issue 27)
# ---------------------------------------------------------------------------------------
BASELINE_WRITTEN = ("risk_3m", "risk_6m", "risk_12m", "risk_24m", "annual_risk_after_24m",
                    "children_placed_per_family_placement", "children_per_family")
FOLLOWS_RISK_12M = ("risk_3m", "risk_6m", "risk_24m")
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


def write_baseline_report(folder: RunFolder, base: BaselineEstimate) -> list[str]:
    """Baseline tables and chart into ``folder``; returns the report's HTML section."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = pd.DataFrame({"item": list(base.counts), "count": list(base.counts.values())})
    folder.table("baseline_estimates", base.estimates)
    folder.table("baseline_curve", base.curve)
    folder.table("baseline_counts", counts)
    folder.table("baseline_family_sizes", base.clusters)
    c = base.curve
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.fill_between(c["months"], c["low"], c["high"], step="post", alpha=0.25, color="#1F4E78", label="95% family bootstrap")
    ax.step(c["months"], c["cif"], where="post", color="#1F4E78", label="local Aalen–Johansen (first entry of the family)")
    est = base.estimates.set_index("parameter")
    knots = [3, 6, 12, 24]
    ax.plot(knots, [est.loc[f"risk_{m}m", "default"] for m in knots], "x", color="#C00000", ms=8, label="workbook default")
    ax.set_xlabel("months since cohort entry")
    ax.set_ylabel("cumulative risk of a first entry to care")
    ax.set_title(f"Usual-care baseline: cohort {base.cohort}", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    folder.figure("baseline_cif", fig)
    w0, w1 = base.window
    shown = base.estimates[["parameter", "value", "estimate", "se", "low", "high", "events", "n_at_risk", "horizon_days",
                            "distribution", "param_a", "param_b", "withheld", "reason", "default"]]
    sizes = ", ".join(f"{r.size}: {r.families:,}" for r in base.clusters.itertuples())
    text = (f"<h2>Usual-care baseline from the CIN census (cohort {html.escape(base.cohort)})</h2>"
            f"<p>Cohort entries {w0:%d/%m/%Y}–{w1:%d/%m/%Y}, followed to {base.data_end - pd.Timedelta(days=1):%d/%m/%Y}; "
            f"families from the {html.escape(base.family_source)}; link rate {base.link_rate:.1%}. Family sizes "
            f"(children: families) {html.escape(sizes)}. The risk is the cumulative incidence of the family's first new "
            "period of care (Aalen–Johansen; competing event: every child 18, died or adopted; censored at the data end "
            "and on a transfer out, RC5). value = what the workbook now holds (the workbook's own value when withheld); "
            "risk_3m/6m/24m are written fixed and move with risk_12m in the PSA.</p>"
            + shown.to_html(index=False, float_format="%.4g", na_rep="–") + "<img src='baseline_cif.png' width=640>"
            + "<h3>Linkage, cohort and exclusions</h3>" + counts.to_html(index=False))
    return [text]


def baseline_summary(base: BaselineEstimate) -> dict:
    return {"cohort": base.cohort, "family_source": base.family_source, "link_rate": base.link_rate,
            "window": [f"{base.window[0]:%Y-%m-%d}", f"{base.window[1]:%Y-%m-%d}"],
            "estimates": _records(base.estimates.drop(columns=["source"])), "counts": base.counts}


def format_baseline(b: dict) -> list[str]:
    lines = [f"Usual-care baseline from the CIN census: cohort {b['cohort']}, entries {b['window'][0]} to {b['window'][1]}, "
             f"families from the {b['family_source']}, link rate {b['link_rate']:.1%}",
             f"{'parameter':<38}{'value':>9}{'95% interval':>20}{'events':>8}{'default':>9}"]
    for r in b["estimates"]:
        if r["withheld"]:
            lines.append(f"{r['parameter']:<38}{r['value']:>9.4f}   withheld ({r['reason']}): workbook value kept")
        else:
            interval = (f"{r['low']:>10.4f}–{r['high']:<9.4f}" if r["low"] is not None and r["high"] is not None
                        else f"{'(no bootstrap)':>20}")
            lines.append(f"{r['parameter']:<38}{r['value']:>9.4f}{interval}{r['events']:>8,}{r['default']:>9.4g}")
    return lines
