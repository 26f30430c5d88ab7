"""The calibration report of ``ifpp-econ calibrate``: tables (CSV and results.xlsx), charts (PNG and SVG) and a
self-contained report.html styled like the main report (:mod:`.report`'s CSS, :mod:`.presentation`'s labels and
number formats; charts inline as SVG).

Sections: what changed in the workbook, savings per child with the local values, the care dynamics (903) and
their thin cells, checks against the data and national figures, the entrant mix, and with CIN census returns the
usual-care baseline (estimates, the cumulative incidence curve against the workbook's curve, cohort, linkage and
families, published figures), then the 903 exclusions and the warnings. Probabilities are shown as percentages
(monthly ones to 0.01%), money in £.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..local_data.baseline_risk import PROXY_CAVEAT, BaselineEstimate, family_curve
from ..local_data.care_dynamics import KEPT, Calibration
from ..local_data.ssda903 import PLACEMENT_TYPES
from . import presentation
from .report import chart, render, table_html
from .run_folder import RunFolder

PLACEMENT_LABELS = {"kinship": "Kinship foster care", "la_foster": "LA foster care", "ifa": "Independent fostering agency",
                    "residential": "Residential home", "secure": "Secure children's home",
                    "semi_independent": "Semi-independent or supported", "with_parents": "Placed with parents",
                    "other": "Other (adoption placements, hospitals, …)"}
# Published figures the local baseline can be set against (shared evidence notes, cin-census §6): what each measures.
PUBLISHED_RISKS: list[dict[str, Any]] = [
    {"figure": "FGC trial, control arm: looked after 12 months after the pre-proceedings letter",
     "measures": "status on one day (looked after at 12 months), children; not cumulative entry, which is at least as high",
     "cohort": "pre-proceedings (cohort pre_proceedings); 2,548 children in 1,471 families, 21 English LAs, 2020–22",
     "published": 0.448, "horizon": 12,
     "source": "Taylor et al., Br J Soc Work 2024 (doi:10.1093/bjsw/bcae035)"},
    {"figure": "Children first known to children's social care who became looked after (Liverpool, 2019–22)",
     "measures": "crude share of children ever looked after, censored follow-up of up to 3 years; all referrals",
     "cohort": "every referral (far broader than a plan or pre-proceedings cohort: single digits expected)",
     "published": 0.065, "horizon": None,
     "source": "McHale et al., BMJ Public Health 2024;2:e001130 (377 of 5,808 children)"},
    {"figure": "The workbook's default: US IFPP trials' control arms, placed by 12 months",
     "measures": "cumulative risk of a first placement by 12 months, families at imminent risk (95% range 20%–57%)",
     "cohort": "US imminent-risk referrals to family preservation trials",
     "published": 0.30, "horizon": 12, "source": "Feldman 1991 (New Jersey RCT); Westat 2001"},
]
PUBLISHED_FAMILIES: list[dict[str, Any]] = [
    {"figure": "FGC trial: children per family", "measures": "children per family entering pre-proceedings",
     "published": 2548 / 1471, "source": "Taylor et al. 2024: 2,548 children in 1,471 families"},
    {"figure": "One London LA, 2013–17: children per family", "measures": "children per family in pre-proceedings or "
     "care proceedings", "published": 937 / 522, "source": "Dyke, Br J Soc Work: 937 children in 522 families"},
    {"figure": "Care proceedings in England: children per case", "measures": "children per care proceedings case "
     "(about 18,000 children in 10,500 cases a year)", "published": 18000 / 10500,
     "source": "REF 2014 impact case study 40295"},
]
CAUSE_WORDS = {"reunification": "returns home", "permanence": "other permanence exits", "re-entry": "re-entries"}


@dataclass
class ReportData:
    """What the report shows beyond the estimates: the input workbook's labels and units (by parameter name), the rows
    changed or kept in the copy (``changes``), savings per child on each workbook (``savings``), the baseline."""
    files: str
    out: Path
    labels: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    changes: pd.DataFrame | None = None
    savings: pd.DataFrame | None = None
    base: BaselineEstimate | None = None
    defaults: dict[str, float] = field(default_factory=dict)
    shrink_months: float = 0.0
    warnings: list[str] = field(default_factory=list)


def short_label(name: str, labels: dict[str, str]) -> str:
    """The workbook's label without "Monthly probability of" (chart rows)."""
    text = labels.get(name, name)
    for prefix in ("Monthly probability of ", "Cumulative risk of a family's first placement "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text[:1].upper() + text[1:]


def pct(v: float, decimals: int = 1) -> str:
    return presentation.format_value(v, presentation.Column("", "", "pct", decimals))


# ---------------------------------------------------------------------------------------
# Charts (drawn in the main report's style)
# ---------------------------------------------------------------------------------------
def _percent_axis(axis, values) -> None:
    from matplotlib.ticker import FuncFormatter

    top = float(np.nanmax(np.asarray(values, float))) if len(values) else 1.0
    decimals = 1 if top < 0.1 else 0
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.{decimals}%}".replace("-", presentation.MINUS)))


def estimates_chart(est: pd.DataFrame, labels: dict[str, str], shrink: bool):
    """Each band's local estimate with its own 95% interval, the shrunk value (when shrinking) and the workbook's value;
    the rows kept as in the workbook are marked. Intervals are drawn however the shrunk value falls."""
    import matplotlib.pyplot as plt

    from .charts import BLUE, ORANGE, VERMILION, style, wrap

    with style():
        fig, ax = plt.subplots(figsize=(7.2, 0.42 * len(est) + 1.9))
        y = np.arange(len(est))[::-1]
        p = est["probability"].to_numpy(float)
        lo = np.nan_to_num(np.clip(p - est["raw_low"].to_numpy(float), 0, None))
        hi = np.nan_to_num(np.clip(est["raw_high"].to_numpy(float) - p, 0, None))
        kept = (est["action"] == KEPT).to_numpy()
        seen = np.isfinite(p)
        ax.errorbar(p[seen], y[seen], xerr=[lo[seen], hi[seen]], fmt="o", color=BLUE, ms=5, capsize=2,
                    label="local estimate (95% interval)" + ("" if shrink else ": written unless kept" if kept.any()
                                                              else ": written"))
        if shrink:
            s = est["shrunk"].to_numpy(float)
            done = ~kept & np.isfinite(s)
            ax.plot(s[done], y[done], "D", color=ORANGE, ms=6, label="shrunk towards the workbook value: written")
        d = est["default"].to_numpy(float)
        ax.plot(d[~kept], y[~kept], "x", color=VERMILION, ms=7, label="workbook value (replaced)")
        if kept.any():
            ax.plot(d[kept], y[kept], "s", color=VERMILION, ms=7, mfc="none", mew=1.6,
                    label="workbook value: kept (thin cell or no data)")
        names = [wrap(short_label(n, labels) + (" (kept)" if k else ""), 44) for n, k in zip(est["parameter"], kept)]
        ax.set_yticks(y, names)
        _percent_axis(ax.xaxis, np.r_[p[seen], d, est["raw_high"].to_numpy(float)[seen]])
        ax.set_xlim(left=0)
        ax.set_xlabel("Monthly probability")
        ax.set_title("Local care dynamics against the workbook's values")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
        fig.tight_layout()
    return fig


def exits_chart(c: pd.DataFrame):
    import matplotlib.pyplot as plt

    from .charts import BLUE, GREEN, style

    with style():
        fig, ax = plt.subplots(figsize=(7, 4))
        for cause, colour, word in (("reunification", BLUE, "Returned home"), ("permanence", GREEN, "Other permanence")):
            ax.step(c["months"], c[f"aj_{cause}"], where="post", color=colour, label=f"{word}: this authority's data")
            ax.plot(c["months"], c[f"implied_{cause}"], "--", color=colour, label=f"{word}: implied by the copy's values")
        _percent_axis(ax.yaxis, [1.0])
        ax.set_xlabel("Months since the period of care started")
        ax.set_ylabel("Cumulative share of periods")
        ax.set_title("Exits from care: the data against the banded probabilities")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
        fig.tight_layout()
    return fig


def reentry_chart(r: pd.DataFrame):
    import matplotlib.pyplot as plt

    from .charts import BLUE, VERMILION, style

    with style():
        fig, ax = plt.subplots(figsize=(7, 4))
        seen = r["at_risk"] > 0
        ax.step(r.loc[seen, "months"], r.loc[seen, "km_reentry"], where="post", color=BLUE,
                label="this authority's data (Kaplan–Meier)")
        ax.plot(r["months"], r["implied_reentry"], "--", color=BLUE, label="implied by the copy's values")
        ax.plot([12, 72], [0.20, 1 / 3], "s", color=VERMILION, label="national: about 20% by 1 year, a third by 6 years")
        _percent_axis(ax.yaxis, [0.5])
        ax.set_ylim(bottom=0)
        ax.set_xlabel("Months since the return home")
        ax.set_ylabel("Cumulative share re-entering care")
        ax.set_title("Re-entry after a return home (re-entry elsewhere is not seen)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
        fig.tight_layout()
    return fig


def mix_chart(mix: pd.DataFrame):
    import matplotlib.pyplot as plt

    from .charts import OKABE_ITO, PCT, style

    wide = mix.pivot(index="band", columns="placement_type", values="share").reindex(
        index=list(dict.fromkeys(mix["band"])), columns=list(PLACEMENT_TYPES)).fillna(0)
    with style():
        fig, ax = plt.subplots(figsize=(7, 3.6))
        left = np.zeros(len(wide))
        for colour, t in zip(OKABE_ITO, wide.columns):
            ax.barh(wide.index, wide[t], left=left, label=PLACEMENT_LABELS.get(t, t), color=colour)
            left += wide[t].to_numpy()
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(PCT)
        ax.set_xlabel("Share of entrants' time in care")
        ax.set_ylabel("Age band at entry")
        ax.set_title("Placement mix of children entering care, by age band")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
        fig.tight_layout()
    return fig


def leavers_chart(checks: pd.DataFrame):
    import matplotlib.pyplot as plt

    from .charts import BLUE, PCT, style

    observed = float(checks.iloc[0]["observed"])
    with style():
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.bar(["This authority", "England 2014/15", "England 2022/23"], [np.nan_to_num(observed), 0.34, 0.27],
               color=[BLUE, "#999999", "#999999"])
        ax.yaxis.set_major_formatter(PCT)
        ax.set_ylabel("Share of care leavers")
        ax.set_title("Care leavers who returned home (E4A/E4B)")
        ax.grid(alpha=0.3, axis="y")
        fig.tight_layout()
    return fig


def baseline_chart(curve: pd.DataFrame, cohort: str):
    """The local cumulative incidence with its bootstrap interval against the workbook's usual-care curve, the model's
    curve through the values written, and the published 12-month figures."""
    import matplotlib.pyplot as plt

    from .charts import BLUE, GREEN, PINK, SKY, VERMILION, style

    with style():
        fig, ax = plt.subplots(figsize=(7.2, 5.4))
        m = curve["months"]
        if curve["low"].notna().any():
            ax.fill_between(m, curve["low"], curve["high"], step="post", color=SKY, alpha=0.35,
                            label="95% interval (family bootstrap)")
        ax.step(m, curve["cif"], where="post", color=BLUE, lw=2,
                label="this authority: first entry of any child of the family")
        ax.plot(m, curve["workbook"], "--", color=VERMILION, label="the workbook's usual-care curve")
        knots = [k for k in (3, 6, 12, 24) if k <= m.max()]
        ax.plot(knots, curve.set_index("months").loc[knots, "workbook"], "x", color=VERMILION, ms=7)
        if not np.allclose(curve["written"], curve["workbook"]):
            ax.plot(m, curve["written"], ":", color=GREEN, lw=2, label="the model's curve through the values in the copy")
        if m.max() >= 12:
            ax.plot([12.4], [0.448], "^", color=PINK, ms=8,
                    label="FGC trial control arm: looked after at 12 months (status, pre-proceedings)")
            ax.errorbar([11.6], [0.30], yerr=[[0.10], [0.27]], fmt="o", mfc="white", color="#555555", capsize=3,
                        label="US trials' control arms: 30% (20%–57%) by 12 months")
        _percent_axis(ax.yaxis, [1.0])
        ax.set_ylim(0, max(0.6, float(np.nanmax(curve[["high", "cif", "workbook"]].to_numpy())) + 0.05))
        ax.set_xlim(0, m.max())
        ax.set_xlabel("Months since cohort entry")
        ax.set_ylabel("Cumulative risk of a family's first entry to care")
        ax.set_title(f"Usual-care baseline: cohort {cohort}")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1, frameon=False)
        fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------
def baseline_curve(base: BaselineEstimate, defaults: dict[str, float]) -> pd.DataFrame:
    """The local curve with the workbook's usual-care curve and the model's curve through the values written."""
    c = base.curve.copy()
    top = int(c["months"].max()) if len(c) else 0
    c["workbook"] = family_curve(defaults, top)[c["months"].to_numpy()]
    written = dict(defaults)
    written.update(base.estimates.set_index("parameter")["value"].to_dict())
    c["written"] = family_curve(written, top)[c["months"].to_numpy()]
    return c


def comparisons(base: BaselineEstimate) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Published figures (risks; children per family) beside this authority's comparable figure."""
    curve = base.curve.set_index("months")
    fam = base.families
    crude = float((fam["status"] == 1).mean()) if len(fam) else np.nan
    rows = []
    for r in PUBLISHED_RISKS:
        if r["horizon"] is None:
            local, what = crude, (f"crude share of the {base.cohort} cohort's families with an entry, any follow-up "
                                  "(family level)")
        else:
            h = int(r["horizon"])
            local = float(curve.loc[h, "cif"]) if h in curve.index else np.nan
            what = f"cumulative risk of a first entry by {h} months, families, cohort {base.cohort}"
        rows.append({"figure": r["figure"], "measures": r["measures"], "cohort": r["cohort"], "published": r["published"],
                     "local": local, "local_measure": what, "source": r["source"]})
    cpf = base.estimates.set_index("parameter").loc["children_per_family", "estimate"]
    families = pd.DataFrame([{**r, "local": cpf} for r in PUBLISHED_FAMILIES])
    return pd.DataFrame(rows), families[["figure", "measures", "published", "local", "source"]]


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------
def write_report(folder: RunFolder, cal: Calibration, data: ReportData) -> None:
    """Every table (CSV and results.xlsx), chart (PNG and SVG) and report.html into ``folder``."""
    est = cal.estimates.drop(columns=["prior_rate", "other_rate"])
    counts = pd.DataFrame({"item": list(cal.counts), "count": list(cal.counts.values())})
    thin = thin_table(cal, data)
    tables = {"estimates": est, "thin_cells": thin, "counts": counts, "placement_mix": cal.mix,
              "age_shares": cal.age_shares, "checks": cal.checks, "exits": cal.exits,
              "cumulative_incidence": cal.curves, "reentry_curve": cal.reentry_curve}
    if data.changes is not None:
        tables["workbook_changes"] = data.changes
    if data.savings is not None:
        tables["savings_comparison"] = data.savings
    for name, df in tables.items():
        folder.table(name, df)
    figures = {"estimates": estimates_chart(est, data.labels, data.shrink_months > 0), "cumulative_incidence":
               exits_chart(cal.curves), "reentry": reentry_chart(cal.reentry_curve), "placement_mix": mix_chart(cal.mix),
               "leavers_home": leavers_chart(cal.checks)}
    base_parts: list[tuple[str, str, str]] = []
    if data.base is not None:
        base_parts = _baseline(folder, data)
    for name, fig in figures.items():
        folder.figure(name, fig)
    svg = {name: (folder.path / f"{name}.svg").read_text(encoding="utf-8") for name in figures}
    context = {"units": data.units}
    sections = [
        ("changes", "What changed in the workbook", _changes_html(data, context)),
        *([("savings", "Savings per child with the local values", _savings_html(data))] if data.savings is not None
          else []),
        ("care-dynamics", "Care dynamics: exits from care and re-entry", _estimates_html(est, data, svg, context)),
        ("thin", "Thin cells", _thin_html(thin, context)),
        ("checks", "Checks against the data and national figures",
         table_html(cal.checks, "checks", widths=[24, 9, 11, 18, 38])
         + chart(svg["cumulative_incidence"], "Exits from care", "Cumulative share of periods of care ending in a "
                 "return home or other permanence: this authority's data (Aalen–Johansen) against the curve the "
                 "values in the copy imply; close agreement says the bands describe the data.")
         + "<div class=cols>" + chart(svg["reentry"], "Re-entry", "Cumulative re-entry after a return home "
                                      "(Kaplan–Meier) against the values in the copy and national figures.")
         + chart(svg["leavers_home"], "Care leavers who returned home", "This authority against England.") + "</div>"),
        ("mix", "Entrant placement mix and age at entry", _mix_html(cal, svg)),
        *base_parts,
        ("exclusions", "903 exclusions, repairs and contradictions", table_html(counts, "counts", widths=[85, 15])),
        ("warnings", "Warnings", "<ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in data.warnings) + "</ul>"
         if data.warnings else "<p>None.</p>"),
        ("method", "How it is estimated", METHOD),
    ]
    title = "Local calibration from SSDA903 returns" + (" and the CIN census" if data.base is not None else "")
    sentences = lead_sentences(cal, data)
    lead = _lead(sentences)
    folder.headline = [("Calibration", line.replace("**", "")) for line in sentences]
    text = render(sections, title, lead)
    text = IDENTIFIER.sub(lambda m: m.group(1) + m.group(2).replace("_", "_<wbr>") + m.group(3), text)
    (folder.path / "report.html").write_text(text, encoding="utf-8")
    folder.files.append("report.html")


IDENTIFIER = re.compile(r"(<td class=t>)([a-z0-9]+(?:_[a-z0-9]+)+)(</td>)")  # row names break after "_", not anywhere
METHOD = (
    "<p>Episodes become periods of care: a new period starts with RNE S, after a gap, or after an exit code; placement "
    "and legal-status changes (and T0–T4 temporary moves) continue the period. Each period counts only the time inside "
    "the window, measured from its real start (left truncation); time stops at the exit, the window end or the 18th "
    "birthday (censoring). In each duration band, rate = events ÷ person-months and the monthly probability allows "
    "for the competing exit, p = (λ/Λ)(1 − e<sup>−Λ</sup>). Intervals: the exact Poisson interval widened to the "
    "child-level bootstrap (children can have several periods). PSA: a beta moment-matched to Gamma(events + ½, "
    "person-months) times the design effect; every beta written has α ≥ 1.</p>"
    "<p>A band resting on fewer than 100 person-months or fewer than 5 events is thin: the copy keeps the workbook's "
    "value, or with <code>--shrink M</code> the value shrunk towards it (M person-months at the workbook's rate) is "
    "written and marked as shrunk.</p>"
    "<p>The usual-care baseline (with CIN census returns) is the family-level cumulative incidence of a first new "
    "period of care after cohort entry (Aalen–Johansen; competing event: every child 18, died or adopted; censored at "
    "the data end and on a transfer to another authority, RC5), with a family bootstrap. Entries in another "
    "authority are not seen, so it is a lower bound. Estimates resting on fewer than 10 events are withheld.</p>")


def thin_table(cal: Calibration, data: ReportData) -> pd.DataFrame:
    est = cal.estimates
    t = est[est["thin"]]
    return pd.DataFrame({"parameter": t["parameter"], "label": [data.labels.get(p, p) for p in t["parameter"]],
                         "events": t["events"], "person_months": t["person_months"], "reason": t["reason"],
                         "probability": t["probability"], "action": t["action"], "value_written": t["value"]}
                        ).reset_index(drop=True)


def lead_sentences(cal: Calibration, data: ReportData) -> list[str]:
    """The report's opening sentences, with **bold** marks (also the Summary sheet's headline, marks removed)."""
    w0, w1 = cal.window
    lines = [f"Window {w0:%d/%m/%Y} to {w1 - pd.Timedelta(days=1):%d/%m/%Y}: {cal.counts['periods used']:,} periods of "
             f"care of {cal.counts['children used']:,} children. Calibrated copy: **{data.out}**."]
    if data.changes is not None:
        ch = data.changes
        n_kept, n_done = int((ch["action"] == "kept").sum()), int((ch["action"] != "kept").sum())
        lines.append(f"**{n_done} workbook row{'' if n_done == 1 else 's'} replaced** (status L) and {n_kept} kept as "
                     "they were (thin or withheld local data: listed below); the entrant placement mix and the age "
                     "shares replaced too.")
    if data.savings is not None and len(data.savings) > 1:
        s = data.savings.set_index("workbook")["per_child_savings"]
        lines.append("Savings per child: " + "; ".join(f"{k} **{presentation.gbp(v)}**" for k, v in s.items()) + ".")
    if data.base is not None:
        r = data.base.estimates.set_index("parameter").loc["risk_12m"]
        interval = f" (95% {pct(r['low'])}–{pct(r['high'])})" if np.isfinite(r["low"]) else ""
        lines.append(f"Usual-care risk of a family's first entry by 12 months: this authority {pct(r['estimate'])}{interval}, "
                     f"the workbook {pct(r['default'])}; cohort {data.base.cohort}, "
                     f"{data.base.counts['families in the cohort']:,} families.")
    return lines


def _lead(sentences: list[str]) -> str:
    parts = [re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(line)) for line in sentences]
    return "<div class=headline>" + "".join(f"<p>{line}</p>" for line in parts) + "</div>"


def _changes_html(data: ReportData, context: dict) -> str:
    if data.changes is None or not len(data.changes):
        return "<p>No parameter row changed.</p>"
    ch = data.changes
    done, kept = ch[ch["action"] != "kept"], ch[ch["action"] == "kept"]
    cols = ["parameter", "label", "old_value", "new_value", "old_status", "new_status", "new_distribution", "why"]
    text = ("<p class=note>Rows shaded green now hold local data (status L). Values in each row's unit (monthly "
            "probabilities to 0.01%). The placement mix of entrants and the age shares are replaced as shown under "
            "Entrant placement mix and age at entry.</p>"
            + table_html(done[cols].rename(columns={"new_status": "status"}), "workbook_changes", context,
                         flag_estimates=True, caption="Replaced in the copy", widths=[12, 20, 7.5, 7.5, 6, 6, 9.5, 31.5]))
    if len(kept):
        text += table_html(kept[["parameter", "label", "old_value", "old_status", "why"]], "workbook_changes", context,
                           caption="Kept as in the workbook (the local data are too thin or were withheld)",
                           widths=[14, 26, 9, 8, 43])
    return text


def _savings_html(data: ReportData) -> str:
    s = data.savings
    assert s is not None
    return ("<p>The base case (deterministic, the workbook's settings) run on the input workbook and on the calibrated "
            "copy" + (", and on copies holding only the local baseline or only the local care dynamics, so that each "
                      "one's own effect can be seen" if len(s) > 2 else "") + ".</p>"
            + table_html(s, "savings_comparison", widths=[13, 27, 9, 10, 10, 10, 10, 11]))


def _estimates_html(est: pd.DataFrame, data: ReportData, svg: dict, context: dict) -> str:
    shown = est.assign(label=[short_label(p, data.labels) for p in est["parameter"]])
    cols = ["parameter", "label", "events", "person_months", "probability", "raw_low", "raw_high", "design_effect",
            "default", *(["shrunk"] if data.shrink_months > 0 else []), "value", "action"]
    widths = [12, 19, 6, 8, 8.5, 7.5, 7.5, 6.5, 8, *([7.5] if data.shrink_months > 0 else []), 8, 9]
    written = (f"for every band with person-time, the local estimate shrunk towards the workbook's value (as if "
               f"{data.shrink_months:,.0f} more person-months had the workbook's rate), with the interval of the shrunk "
               "value" if data.shrink_months > 0 else
               "the local estimate for every band with enough data (thin bands keep the workbook's value), with the "
               "exact Poisson interval widened to the child-level bootstrap")
    return ("<p>Events and person-months in each band of months in care (re-entry: months since the return home) in "
            f"the window. The copy holds {written}. Every figure is in results.xlsx (sheet Care dynamics), with the "
            "PSA beta of each row.</p>"
            + table_html(shown[cols], "estimates", context, widths=widths)
            + chart(svg["estimates"], "Local care dynamics", "Each band's local estimate with its 95% interval"
                    + (", the shrunk value written" if data.shrink_months > 0 else "")
                    + " and the workbook's value; rows marked (kept) keep the workbook's value.", tall=True))


def _thin_html(thin: pd.DataFrame, context: dict) -> str:
    if not len(thin):
        return ("<p>None: every band rests on at least 100 person-months and 5 events, so every estimate was written as "
                "it stands.</p>")
    return ("<p>Bands resting on fewer than 100 person-months or fewer than 5 events. Without <code>--shrink</code> the "
            "copy keeps the workbook's value and status; with it, the value shrunk towards the workbook's is written "
            "(status L, marked as shrunk in the row's notes).</p>"
            + table_html(thin, "thin_cells", context, widths=[13, 26, 6, 9, 17, 8, 12, 9]))


def _mix_html(cal: Calibration, svg: dict) -> str:
    bands = list(dict.fromkeys(cal.mix["band"]))
    wide = cal.mix.pivot(index="placement_type", columns="band", values="share").reindex(
        index=list(PLACEMENT_TYPES), columns=bands)
    wide.index = [PLACEMENT_LABELS.get(t, t) for t in wide.index]
    wide = wide.rename_axis("placement type").reset_index()
    wide.columns = ["placement type", *(f"{b} share" for b in bands)]
    children = cal.mix.groupby("band")["children"].first().reindex(bands)
    return ("<div class=cols><div>"
            + table_html(wide, "placement_mix", caption="Share of entrants' time in care, by age band at entry ("
                         + ", ".join(f"{b}: {n:,} children" for b, n in children.items()) + ")")
            + "</div><div>" + table_html(cal.age_shares, "age_shares", caption="Age at first entry in the window "
                                         "(a proxy for the age at referral)")
            + table_html(cal.exits, "exits", caption="Periods ending in the window, by reason") + "</div></div>"
            + chart(svg["placement_mix"], "Placement mix of entrants", "Share of entrants' time in each placement type."))


def _baseline(folder: RunFolder, data: ReportData) -> list[tuple[str, str, str]]:
    """The baseline's tables and chart into ``folder``; returns its report sections."""
    base = data.base
    assert base is not None
    context = {"units": data.units}
    counts = pd.DataFrame({"item": list(base.counts), "count": list(base.counts.values())})
    curve = baseline_curve(base, data.defaults)
    risks, families = comparisons(base)
    folder.table("baseline_estimates", base.estimates)
    folder.table("baseline_curve", curve)
    folder.table("baseline_counts", counts)
    folder.table("baseline_family_sizes", base.clusters)
    folder.table("baseline_comparisons", risks)
    folder.table("baseline_families", families)
    folder.figure("baseline_cif", baseline_chart(curve, base.cohort))
    svg = (folder.path / "baseline_cif.svg").read_text(encoding="utf-8")
    w0, w1 = base.window
    est = base.estimates.assign(label=[data.labels.get(p, p) for p in base.estimates["parameter"]],
                                status=["L" if not w else "kept" for w in base.estimates["withheld"]])
    shown = est[["parameter", "label", "estimate", "low", "high", "events", "n_at_risk", "default", "value", "status",
                 "reason"]]
    g = presentation.gbp
    effect = ""
    if data.savings is not None and "Baseline only" in set(data.savings["workbook"]):
        s = data.savings.set_index("workbook")["per_child_savings"]
        effect = (f"<p><b>How per-child savings change with the local baseline:</b> {g(s['Input workbook'])} with the "
                  f"input workbook, {g(s['Baseline only'])} with only the baseline rows replaced, "
                  f"{g(s['Calibrated copy'])} with the whole calibrated copy (see "
                  "<a href=\"#savings\">Savings per child</a>).</p>")
    intro = (f"<p><b>What it is.</b> The chance that a family in the cohort ({html.escape(base.cohort)}: "
             f"{html.escape(COHORT_WORDS.get(base.cohort.split(':')[0], base.cohort))}) has a first new period of care "
             "(any of its children) within 3, 6, 12 and 24 months of entering the cohort, under this authority's usual "
             "care. Cohort entries "
             f"{w0:%d/%m/%Y}–{w1:%d/%m/%Y}, followed to {base.data_end - pd.Timedelta(days=1):%d/%m/%Y}. Competing "
             "event: every child of the family 18, died or adopted. Censored at the data end and when the family moves "
             "to another authority (RC5): entries there are not seen, so the risk is a lower bound. Estimates "
             "resting on fewer than 10 events are withheld and the workbook's value kept. risk_3m, risk_6m and "
             "risk_24m are written fixed and move in proportion to risk_12m in the PSA.</p>" + effect)
    estimates = (table_html(shown, "baseline_estimates", context, widths=[13, 21, 7, 7, 7, 6, 7, 7, 7, 5, 13])
                 + chart(svg, "Usual-care baseline", "Cumulative risk of a family's first entry to care: this authority "
                         "with its 95% family-bootstrap interval, the workbook's usual-care curve (constant monthly "
                         "hazard between the 3/6/12/24-month values) and, where they differ, the model's curve through "
                         "the values in the copy; published 12-month figures for reference (see below).", tall=True))
    sizes = ", ".join(f"{r.size} {'child' if r.size == 1 else 'children'}: {r.families:,}" for r in base.clusters.itertuples())
    source = {"families file": "the families file (--families)", "cohort list": "the family ids of the cohort list",
              "proxy": "the census proxy"}.get(base.family_source, base.family_source)
    caveat = f"<p class=note>Caveat: {html.escape(PROXY_CAVEAT)}.</p>" if base.family_source == "proxy" else ""
    link = (f"<p>Link rate <b>{base.link_rate:.1%}</b>: the share of 903 periods of care starting inside the CIN "
            "coverage whose child has a CIN record with the same LAchildID = CHILD and date of birth (looked-after "
            "children are children in need, so it should be near 100%; a low rate means the identifiers differ). "
            f"Families from {html.escape(source)}: {base.counts['families in the cohort']:,} families, "
            f"{base.counts['children in the cohort']:,} children; sizes {html.escape(sizes)}.</p>" + caveat)
    published = ("<p>Each published figure measures something a little different; the column “This authority” gives "
                 "the local figure closest to it.</p>"
                 + table_html(risks, "baseline_comparisons", widths=[17, 22, 17, 7, 7, 15, 15],
                              caption="Risk of entering care")
                 + table_html(families, "baseline_families", widths=[24, 30, 9, 9, 28], caption="Children per family "
                              "(this authority: children at risk per cohort family)"))
    return [
        ("baseline", f"Usual-care baseline from the CIN census (cohort {base.cohort})", intro + estimates),
        ("baseline-cohort", "Baseline cohort, linkage, families and exclusions",
         link + "<div class=cols><div>" + table_html(counts, "baseline_counts", widths=[85, 15]) + "</div><div>"
         + table_html(base.clusters, "baseline_family_sizes", caption="Families by number of children") + "</div></div>"),
        ("baseline-published", "The baseline against published figures", published),
    ]


COHORT_WORDS = {"cpp_start": "the start of a child protection plan", "cpp_repeat": "the start of a repeat child "
                "protection plan", "pre_proceedings": "the start of pre-proceedings (PPStartDate)",
                "list": "the authority's own referral list"}
