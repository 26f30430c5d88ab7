"""Deterministic sensitivity analysis: one-way (tornado), break-even thresholds, two-way grid, scenarios.

Every analysis is many rows of parameter values through the same vectorised model.
Outcomes (for the first non-comparator strategy against the comparator):
``savings`` per-child savings (default), ``nmb`` incremental NMB at λ, ``placements``
placements avoided per child.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import declarations
from ..inputs import schema
from ..inputs.distributions import percentile_range
from ..model.family_states import run_model
from ..model.scenarios import apply_scenario, scenario_names
from ..model.spec import base_values, build_spec
from . import comparison
from .psa import RR_UNIT, between_study_sd, predictive_parameters

DEFAULT_THRESHOLDS = declarations.THRESHOLD_PARAMETERS
KNOTS = declarations.RISK_KNOTS


class Evaluator:
    """Evaluates an outcome for many rows of parameter values (workbook units)."""

    def __init__(self, inputs, outcome: str = "savings", wtp: float | None = None):
        if outcome not in declarations.DSA_OUTCOME_RESULTS:
            raise ValueError(f"outcome must be one of {list(declarations.DSA_OUTCOME_RESULTS)}, got {outcome!r}")
        self.inputs, self.outcome = inputs, outcome
        self.spec = build_spec(inputs)
        self.wtp = float(inputs.settings["wtp_default"]) if wtp is None else float(wtp)
        self.base = base_values(inputs)

    def __call__(self, values: pd.DataFrame) -> np.ndarray:
        res = run_model(values, self.spec)
        inc = comparison.incremental(res.outcomes, res.strategies, res.comparator, self.wtp)
        return inc[next(iter(inc))][declarations.DSA_OUTCOME_RESULTS[self.outcome]]

    def rows(self, changes: list[dict[str, float]]) -> pd.DataFrame:
        """The base row repeated, with each dict of changes applied to its own row (shares rescaled)."""
        columns = list(self.base.columns)
        at = {c: j for j, c in enumerate(columns)}
        table = np.repeat(self.base.to_numpy(float), len(changes), axis=0)
        for i, change in enumerate(changes):
            for name, value in change.items():
                _set_value(table[i], at, columns, name, value)
        return pd.DataFrame(table, columns=columns)


def share_group(name: str) -> str | None:
    """The prefix shared by the members of a share's group (``mix:<band>:`` or ``age_share:``), if ``name`` is a share."""
    if name.startswith("mix:"):
        return name.rsplit(":", 1)[0] + ":"
    return "age_share:" if name.startswith("age_share:") else None


def set_value(table: pd.DataFrame, row: int, name: str, value: float) -> None:
    """Set one value; a share moves with the other shares of its group rescaled to keep the sum at 1."""
    prefix = share_group(name)
    if prefix is None:
        table.loc[row, name] = value
        return
    others = [c for c in table.columns if c.startswith(prefix) and c != name]
    rest = table.loc[row, others].astype(float)
    scale = (1.0 - value) / rest.sum() if rest.sum() > 0 else 0.0
    table.loc[row, others] = rest * scale
    table.loc[row, name] = value


def _set_value(row: np.ndarray, at: dict[str, int], columns: list[str], name: str, value: float) -> None:
    """:func:`set_value` on one row of a float array (same arithmetic, without pandas indexing)."""
    prefix = share_group(name)
    if prefix is not None:
        others = [at[c] for c in columns if c.startswith(prefix) and c != name]
        rest = row[others]
        total = rest.sum()
        scale = (1.0 - value) / total if total > 0 else 0.0
        row[others] = rest * scale
    row[at[name]] = value


def one_way_ranges(inputs) -> pd.DataFrame:
    """Low/high per parameter: the workbook's, else the distribution's 2.5th/97.5th percentiles. A relative risk the
    PSA draws for a new setting (``rr_between_study_sd`` τ > 0) runs over the 2.5th/97.5th percentiles of that
    predictive distribution, as the PSA samples it; its workbook range (the pooled mean's 95% CI) follows as a second,
    labelled row (``parameter`` "<name> (pooled 95% CI)"; ``varies``: the parameter it sets)."""
    params = inputs.parameters
    pct = percentile_range(params)
    tau = between_study_sd(inputs)
    predictive = percentile_range(predictive_parameters(inputs)) if tau > 0 else pct
    rows = []
    for name, p in params.iterrows():
        low, high, source = p["low"], p["high"], "workbook low/high"
        is_rr = str(p["unit"]) == RR_UNIT and tau > 0 and str(p["distribution"]) in ("lognormal_ci", "lognormal_log")
        if is_rr:
            pooled = (float(low), float(high)) if pd.notna(low) and pd.notna(high) else None
            low, high = predictive.loc[name].iloc[0], predictive.loc[name].iloc[1]
            rows.append({"parameter": name, "label": f"{p.get('label', name)} — predictive 95% interval, new setting "
                                                     f"(τ = {tau:g})", "base": float(p["value"]), "low": float(low),
                         "high": float(high), "range_source": f"2.5th/97.5th percentile of the predictive distribution "
                         f"the PSA samples (pooled log-SE and between-study SD τ = {tau:g})", "moves": name,
                         "varies": name})
            if pooled is not None and pooled[0] != pooled[1]:
                rows.append({"parameter": f"{name} (pooled 95% CI)", "label": f"{p.get('label', name)} — pooled-mean "
                             "95% CI (no between-study spread)", "base": float(p["value"]), "low": pooled[0],
                             "high": pooled[1], "range_source": "workbook low/high: the pooled mean's 95% CI",
                             "moves": name, "varies": name})
            continue
        if pd.isna(low) or pd.isna(high):
            if str(p["distribution"]) == "fixed" or name not in pct.index or pct.loc[name].isna().any():
                continue
            low, high = pct.loc[name].iloc[0], pct.loc[name].iloc[1]
            source = "2.5th/97.5th percentile of the distribution"
        low, high, moves, note = float(low), float(high), name, ""
        if name in KNOTS:
            i = KNOTS.index(name)
            if name == "risk_12m":  # the curve's anchor: the linked knots move in proportion (model rule)
                linked = [k for k in KNOTS if k != name and str(params.loc[k, "distribution"]) == "fixed"]
                moves = ", ".join([name] + linked)
                note = "whole usual-care curve scaled (" + ", ".join(linked) + " in proportion)" if linked else ""
            else:  # keep the curve ordered without moving a neighbour: clip into [previous knot, next knot]
                prev = float(params.loc[KNOTS[i - 1], "value"]) if i > 0 else 0.0
                nxt = float(params.loc[KNOTS[i + 1], "value"]) if i + 1 < len(KNOTS) else 1.0 - 1e-9
                if low < prev or high > nxt:
                    note = f"range kept between its neighbours ({prev:g}–{nxt:g})"
                low, high = max(low, prev), min(high, nxt)
        if low == high:
            continue
        label = p.get("label", name) + (" — whole usual-care curve scaled" if "," in moves else "")
        rows.append({"parameter": name, "label": label, "base": float(p["value"]), "low": low,
                     "high": high, "range_source": source + (f"; {note}" if note else ""), "moves": moves, "varies": name})
    return pd.DataFrame(rows)


@dataclass
class Tornado:
    table: pd.DataFrame  # parameter, label, low, high, outcome_low, outcome_high, swing, range_source
    base_outcome: float
    outcome: str


def one_way(evaluator: Evaluator) -> Tornado:
    """Every parameter at its low and high value, all other parameters at base."""
    ranges = one_way_ranges(evaluator.inputs)
    changes: list[dict[str, float]] = [{}]
    for _, r in ranges.iterrows():
        changes += [{r["varies"]: r["low"]}, {r["varies"]: r["high"]}]
    out = evaluator(evaluator.rows(changes))
    table = ranges.drop(columns="varies")
    table["outcome_low"] = out[1::2]
    table["outcome_high"] = out[2::2]
    table["swing"] = (table["outcome_high"] - table["outcome_low"]).abs()
    table = table.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    return Tornado(table, float(out[0]), evaluator.outcome)


SEARCH_LIMIT_GBP = 1e8  # break-even searches for a cost widen their bracket up to this (GBP in the row's unit)


def search_range(inputs, name: str) -> tuple[float, float]:
    """Where a break-even value is looked for: the natural bounds of the parameter's kind (costs: from 0 up to
    ten times the value, widened by :func:`threshold` until the sign changes or :data:`SEARCH_LIMIT_GBP`)."""
    p = inputs.parameters.loc[name]
    unit, value = str(p["unit"]), float(p["value"])
    if unit.startswith("GBP"):
        return 0.0, max(10.0 * value, float(p["high"]) if pd.notna(p["high"]) else 0.0, 1.0)
    if unit == "relative risk":
        return 0.01, 2.0
    if unit.startswith("probability") or unit == "share":
        return 1e-6, 0.999
    if unit in ("months",):
        return 0.0, 216.0
    lo, hi, inclusive = schema.value_range(unit)  # stay inside the parameter's allowed range
    return (max(min(0.0, value), lo if inclusive else value / 100.0), min(10.0 * abs(value) or 1.0, hi))


def threshold(evaluator: Evaluator, name: str, grid_points: int = 41) -> dict:
    """The value of ``name`` at which the outcome is zero (root-finding), within its search range."""
    a, b = search_range(evaluator.inputs, name)
    is_cost = str(evaluator.inputs.parameters.loc[name, "unit"]).startswith("GBP")
    while True:
        xs = np.linspace(a, b, grid_points)
        ys = evaluator(evaluator.rows([{name: x} for x in xs]))
        sign = np.sign(ys)
        crossings = np.flatnonzero(sign[:-1] * sign[1:] <= 0)
        if len(crossings) or not is_cost or b >= SEARCH_LIMIT_GBP:
            break
        b = min(b * 10.0, SEARCH_LIMIT_GBP)  # widen: a cost has no natural upper bound
    base_value = float(evaluator.inputs.parameters.loc[name, "value"])
    if len(crossings) == 0:
        return {"parameter": name, "base": base_value, "threshold": None, "search_from": a, "search_to": b,
                "note": f"no break-even within [{a:,.10g}, {b:,.10g}]"}
    from scipy.optimize import brentq  # here: a report's main process imports this module but never solves

    # the crossing nearest the base value
    i = crossings[np.argmin(np.abs(xs[crossings] - base_value))]
    f = lambda x: float(evaluator(evaluator.rows([{name: x}]))[0])  # noqa: E731
    root = xs[i] if ys[i] == 0 else brentq(f, xs[i], xs[i + 1], xtol=1e-10 * max(1.0, abs(xs[i])), rtol=1e-12)
    note = f"{evaluator.outcome} is zero at {name} = {root:,.6g}"
    if str(evaluator.inputs.parameters.loc[name, "unit"]) == "months":
        note += f" (the model counts whole months: the sign changes between {np.floor(root):g} and {np.ceil(root):g})"
    if name == "risk_12m" and evaluator.spec.linked_risks:
        ratio = root / evaluator.spec.risk_12m_base
        params = evaluator.inputs.parameters
        note += " (the whole curve scaled: " + ", ".join(
            f"{k} = {min(float(params.loc[k, 'value']) * ratio, 1 - 1e-9):.4g}" for k in evaluator.spec.linked_risks) + ")"
    if len(crossings) > 1:
        note += f" ({len(crossings)} crossings; nearest the base value shown)"
    return {"parameter": name, "base": base_value, "threshold": float(root), "search_from": a, "search_to": b,
            "note": note}


def two_way(evaluator: Evaluator, x_name: str = declarations.TWO_WAY_PAIR[0], y_name: str = declarations.TWO_WAY_PAIR[1],
            points: int = 21) -> pd.DataFrame:
    """Outcome over a grid of two parameters (each between its one-way low and high)."""
    ranges = one_way_ranges(evaluator.inputs).set_index("parameter")
    xs = np.linspace(ranges.loc[x_name, "low"], ranges.loc[x_name, "high"], points)
    ys = np.linspace(ranges.loc[y_name, "low"], ranges.loc[y_name, "high"], points)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    changes = [{x_name: x, y_name: y} for x, y in zip(gx.ravel(), gy.ravel())]
    out = evaluator(evaluator.rows(changes))
    return pd.DataFrame({x_name: gx.ravel(), y_name: gy.ravel(), evaluator.outcome: out})


def scenarios(inputs, wtp: float | None = None) -> pd.DataFrame:
    """One results row per named scenario of the workbook (plus the base case)."""
    rows = []
    for name in ["Base case"] + scenario_names(inputs):
        case = inputs if name == "Base case" else apply_scenario(inputs, name)
        spec = build_spec(case)
        res = run_model(base_values(case), spec)
        w = float(case.settings["wtp_default"]) if wtp is None else wtp
        inc = comparison.incremental(res.outcomes, res.strategies, res.comparator, w)
        strategy, v = next(iter(inc.items()))
        savings, avoided = float(v["per_child_savings"][0]), float(v["placements_avoided_per_child"][0])
        rows.append({
            "scenario": name, "strategy": strategy, "comparator": res.comparator,
            "per_child_savings": savings, "placements_avoided_per_child": avoided,
            "care_months_avoided_per_child": float(v["care_months_avoided_per_child"][0]),
            "incremental_nmb": float(v["incremental_nmb"][0]),
            "cost_per_placement_avoided": comparison.cost_per_placement_avoided(savings, avoided),
            "dominance": comparison.dominance_label(savings, avoided, strategy=strategy),
        })
    return pd.DataFrame(rows)


@dataclass
class DSAResult:
    """Deterministic sensitivity analysis of one outcome (per child, for the first non-comparator strategy).

    ``tornado``: one row per varied parameter (low/high, outcome at each, swing, what it moves);
    ``thresholds``: break-even values; ``two_way``: the outcome over a grid of two parameters;
    ``scenarios``: one row per named scenario (and the base case).
    """

    outcome: str
    wtp: float
    base_outcome: float
    tornado: pd.DataFrame
    thresholds: pd.DataFrame
    two_way: pd.DataFrame
    two_way_pair: tuple[str, str]
    scenarios: pd.DataFrame

    def incremental(self) -> pd.DataFrame:
        """Incremental results (per child) of the base case and every named scenario, one row each."""
        return self.scenarios.copy()

    def summary(self) -> pd.DataFrame:
        """The tornado as a tidy table: one row per parameter and end of its range."""
        t = self.tornado
        return pd.concat([t.assign(end=end, value=t[end], outcome_value=t[f"outcome_{end}"])
                          [["parameter", "label", "end", "value", "outcome_value", "moves"]] for end in ("low", "high")],
                         ignore_index=True)

    def to_json(self) -> dict:
        records = lambda df: [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}  # noqa: E731
                              for r in df.to_dict("records")]
        return {"outcome": self.outcome, "wtp": self.wtp, "base_outcome": self.base_outcome,
                "tornado": records(self.tornado), "thresholds": records(self.thresholds),
                "two_way": {"x": self.two_way_pair[0], "y": self.two_way_pair[1], "points": len(self.two_way)},
                "scenarios": records(self.scenarios)}

    def __repr__(self) -> str:
        top = self.tornado.iloc[0]["parameter"] if len(self.tornado) else "—"
        return (f"DSAResult({self.outcome}: base {self.base_outcome:,.2f}; {len(self.tornado)} one-way bars, widest "
                f"{top}; {len(self.thresholds)} thresholds; {len(self.scenarios)} scenarios)")


def run_dsa(inputs, outcome: str = "savings", wtp: float | None = None, threshold_parameters=None,
            two_way_pair: tuple[str, str] = declarations.TWO_WAY_PAIR) -> DSAResult:
    """Tornado, break-even thresholds, two-way grid and scenarios; thresholds default to the workbook's
    ``threshold_parameters`` setting."""
    evaluator = Evaluator(inputs, outcome, wtp)
    tornado = one_way(evaluator)
    names = threshold_parameters or inputs.settings.get("threshold_parameters") or DEFAULT_THRESHOLDS
    names = [n for n in names if n in inputs.parameters.index]
    x, y = two_way_pair
    return DSAResult(outcome, evaluator.wtp, tornado.base_outcome, tornado.table,
                     pd.DataFrame([threshold(evaluator, n) for n in names]), two_way(evaluator, x, y), (x, y),
                     scenarios(inputs, evaluator.wtp))
