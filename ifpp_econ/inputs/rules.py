"""The rules across cells that a validated workbook satisfies, so that it never fails later in the model, the PSA,
the DSA, the report or calibrate: each parameter's domain (its unit's range) for its value, one-way range and
distribution; Dirichlet counts; strategy costing; the settings' limits; what each scenario does once applied;
correlation matrices. Each rule reports its problems with the cell they concern.
"""
from __future__ import annotations

import difflib
import math
from collections.abc import Set as AbstractSet
from pathlib import Path

import numpy as np
import pandas as pd

from .. import declarations
from ..exceptions import SamplingError, UnitsError
from . import distributions, schema, units
from .container import AFTER_EFFECTS
from .distributions import MARGINALS, correlation_cholesky
from .loader import _cell, _Collector, _Sheet, _show, _text


def _unit_problem(value: float, unit: str) -> str | None:
    """None if ``value`` is in the range of ``unit``; else what is allowed ("allowed for <unit>: ≥ 0 …")."""
    return None if _in_range(value, unit) else f"allowed for {unit}: {_range_text(unit)}"

def _setting_cell(sheet: _Sheet, name: str) -> str:
    """The value cell of a setting (the sheet name if the setting has no row)."""
    return next((_cell(sheet, r["_row"], "value") for r in sheet.rows if _text(sheet, r, "setting") == name), sheet.name)

def _check_prices(params: list[dict], settings: dict, inflation: pd.Series, c: _Collector, year_cell: str) -> None:
    year = settings.get("analysis_price_year")
    if year is None:
        return
    indexed = sorted(units.year_start(y) for y in inflation.index)
    if indexed and units.year_start(year) > indexed[-1]:
        c.add(year_cell, f"analysis_price_year {year} is after the last year of the Inflation sheet "
                          f"({indexed[-1]}/{(indexed[-1] + 1) % 100:02d}); add its index change or choose an earlier year")
        return
    for p in params:
        if p["unit"].startswith("GBP") and p["price_year"]:
            try:
                units.uplift_factor(p["price_year"], year, inflation)
            except units.UnitsError as exc:
                c.add(p.get("price_cell", p["cell"]), str(exc))

def _check_risks(params: list[dict], c: _Collector) -> None:
    values = {p["name"]: p for p in params}
    names = list(declarations.RISK_KNOTS)
    if all(n in values for n in names):
        for a, b in zip(names, names[1:]):
            if values[a]["value"] > values[b]["value"]:
                c.add(values[b]["cell"], f"{b} = {values[b]['value']:g} is below {a} = {values[a]['value']:g}; cumulative "
                                         "risks must not decrease (risk_3m ≤ risk_6m ≤ risk_12m ≤ risk_24m)")
        if values["risk_24m"]["value"] >= 1:
            c.add(values["risk_24m"]["cell"], "cumulative risk must be below 1")
    for name in ("return_support_months", "case_support_months"):
        if name in values and values[name]["value"] != int(values[name]["value"]):
            c.add(values[name]["cell"], f"found {values[name]['value']:g}; allowed: a whole number of months")
    support = values.get("return_support_months")
    if support is not None and support["value"] > MAX_RETURN_SUPPORT_MONTHS:
        c.add(support["cell"], f"found {support['value']:g}; allowed: 0 to {MAX_RETURN_SUPPORT_MONTHS} months "
                               "(time-since-return tunnels)")


def sourced_values() -> dict[str, list[dict]]:
    """Each parameter's values as the template writes them, with their source and status: the default workbook's and
    each preset's (``name`` → rows with ``value``, ``unit``, ``source``, ``status``)."""
    out: dict[str, list[dict]] = {}
    for preset in schema.PRESETS:
        changes = schema.preset_changes(preset)["parameters"]
        for row in schema.PARAMETERS:
            row = {**row, **changes.get(row["name"], {})}
            out.setdefault(row["name"], []).append(row)
    return out


def _check_edited_values(params: list[dict], sheet: _Sheet, c: _Collector) -> set[str]:
    """Values that differ from what the template wrote for their row while the row's source and status are still the
    template's: the number no longer matches its source. Each is warned about at its value cell, naming the source
    cell to update; returns their names (the report marks them "edited; source not updated")."""
    template = sourced_values()
    edited = set()
    for p in params:
        same_source = [r for r in template.get(p["name"], []) if str(r.get("source") or "").strip() == p["source"].strip()
                       and str(r.get("status") or "").strip() == p["status"].strip()]
        if not same_source or p["value"] is None:
            continue
        try:
            with np.errstate(all="ignore"):  # a probability of 1 is compared, not used
                value = float(units.to_model_units(p["value"], p["unit"]))
                known = [float(units.to_model_units(r["value"], r["unit"])) for r in same_source]
        except (UnitsError, KeyError, ValueError):
            continue  # an unknown unit: reported at its own cell
        if any(np.isclose(value, k, rtol=1e-9, atol=0) or value == k for k in known):
            continue
        edited.add(p["name"])
        c.warn(p["cell"], f"{p['name']} is {p['value']:g} but its source and status are still the template's "
                          f"({_show(p['source'][:70] + ('…' if len(p['source']) > 70 else ''))}, status "
                          f"{p['status'] or 'blank'}), which give {same_source[0]['value']:g}: update the source in "
                          f"{_cell(sheet, p['_row'], 'source')} and the status to L or E")
    return edited


# ---------------------------------------------------------------------------------------
# Rules across cells: what the model, PSA and DSA need, so that a validated workbook never
# fails later. Limits (documented in the README):
# ---------------------------------------------------------------------------------------
MAX_OUTSIDE = 0.001  # largest share of a distribution allowed outside its parameter's range (those draws are clipped)
MAX_WTP_POINTS = 201  # willingness-to-pay grid points (wtp_min to wtp_max by wtp_step)
MAX_STRATEGIES = 20
MAX_COST_MULTIPLIER = 1e3
# Whole numbers of months that set the model's structure: fixed, no one-way range, no threshold.
STRUCTURAL = ("return_support_months",)
WHOLE_MONTHS = ("return_support_months", "case_support_months")
TWO_WAY_AXES = ("risk_12m", "rr_12m")  # the DSA's two-way grid spans their one-way ranges
# Probabilities of first entry that must stay below 1 (a certain entry leaves no one at home to follow),
# as value, low/high, scenario value and draw (clipped to 1 − 1e-9).
BELOW_ONE = (*declarations.RISK_KNOTS, "annual_risk_after_24m")
MAX_RETURN_SUPPORT_MONTHS = 12  # the model's time-since-return tunnels (0–11 months, then 12+)
MIN_DIRICHLET_COUNT = 0.1  # smaller counts draw shares that underflow to 0/0
# The model-averaged PSA's weights of the after-effect assumptions (rescaled to sum to 1 when it draws them).
AFTER_EFFECT_WEIGHTS = tuple(f"weight_{name}" for name in AFTER_EFFECTS)


def domain(unit: str) -> tuple[float, float]:
    """The closed range draws of a parameter in ``unit`` are clipped to (an open lower bound moved up by 1e-9)."""
    lo, hi, inclusive = schema.value_range(unit)
    return (lo if inclusive else lo + 1e-9), hi


def _range_text(unit: str) -> str:
    lo, hi, inclusive = schema.value_range(unit)
    return f"{'≥' if inclusive else '>'} {_limit(lo)}" + (f" and ≤ {_limit(hi)}" if hi < math.inf else "")


def _limit(x: float) -> str:
    """A range limit as people write it: 1,000,000,000 (never 1e+09), 0.5, -1,000,000,000."""
    return f"{x:,.0f}" if x == int(x) else f"{x:g}"


def _in_range(value: float, unit: str) -> bool:
    lo, hi, inclusive = schema.value_range(unit)
    return (lo <= value if inclusive else lo < value) and value <= hi


def share_outside(dist: str, value: float, a, b, unit: str) -> float | None:
    """Share of the distribution's probability outside the parameter's allowed range (1.0 if not computable);
    None when its draws cannot be computed at all (arguments so extreme that scipy overflows)."""
    lo, hi, _ = schema.value_range(unit)
    return distributions.share_outside(dist, value, a, b, lo, hi, sampler_check=_sampleable)


def _sampleable(spec: tuple) -> bool:
    """The sampler's own check, for the few arguments :func:`distributions.computable` cannot decide."""
    from .inversion import sampleable

    name, args, kwargs = spec
    with np.errstate(all="ignore"):
        return sampleable(distributions.Frozen(name, args, kwargs))


def _check_parameter_domains(params: list[dict], sheet: _Sheet, c: _Collector) -> None:
    """Each parameter's domain (its unit's range) applies to its low/high and to its distribution."""
    for p in params:
        name, unit, row = p["name"], p["unit"], p["_row"]
        if name == "risk_12m" and p["value"] == 0:
            c.add(_cell(sheet, row, "value"), "found 0; risk_12m must be above 0: the 3-, 6- and 24-month risks move in "
                                              "proportion to it in the PSA and DSA")
        for col in ("value", "low", "high"):
            v = p[col]
            if v is None:
                continue
            if name in BELOW_ONE and unit.startswith("probability") and v >= 1:
                c.add(_cell(sheet, row, col), f"found {v:g} for {name}'s {col}; a probability of entering care must be "
                                              "below 1")
            if col == "value":
                continue
            problem = _unit_problem(v, unit)
            if problem:
                c.add(_cell(sheet, row, col), f"found {v:g} for {name}'s {col}; {problem}")
            elif name in WHOLE_MONTHS and v != int(v):
                c.add(_cell(sheet, row, col), f"found {v:g}; allowed: a whole number of months")
        if name in STRUCTURAL:
            if p["distribution"] != "fixed":
                c.add(_cell(sheet, row, "distribution"), f"found {p['distribution']!r}; {name} sets the model's "
                                                         "time-since-return tunnels, so it must be fixed (vary it "
                                                         "with a scenario)")
            if p["low"] is not None and p["high"] is not None and p["low"] != p["high"]:
                c.add(_cell(sheet, row, "low"), f"{name} sets the model's time-since-return tunnels: leave low and high "
                                                "blank (vary it with a scenario)")
        if name in TWO_WAY_AXES and p["distribution"] == "fixed" and (p["low"] is None or p["low"] == p["high"]):
            c.add(_cell(sheet, row, "low"), f"{name} is an axis of the two-way sensitivity analysis: give it a low and "
                                            "a high value (or a distribution)")
        dist, value, a, b = p["distribution"], p["value"], p["param_a"], p["param_b"]
        if dist not in MARGINALS or value is None or not _in_range(value, unit):
            continue
        try:
            share = share_outside(dist, value, a, b, unit)
        except SamplingError:
            continue  # an infeasible distribution: already reported
        if share is None:
            c.add(_cell(sheet, row, "distribution"), f"{dist} with value {value:g}" + "".join(
                f", {k} {v:g}" for k, v in (("param_a", a), ("param_b", b)) if v is not None) +
                  f": {name}'s draws cannot be computed (the arguments are too extreme); use less extreme arguments")
        elif share > MAX_OUTSIDE:
            c.add(_cell(sheet, row, "distribution"),
                  f"{dist} with value {value:g}" + "".join(f", {k} {v:g}" for k, v in (("param_a", a), ("param_b", b))
                                                           if v is not None) +
                  f" puts {_share_text(share)} of {name}'s draws outside its allowed range for {unit} "
                  f"({_range_text(unit)}); at most {MAX_OUTSIDE:.1%} may fall outside")


def _share_text(share: float) -> str:
    return "all" if share >= 0.9995 else f"{share:.2%}" if share >= 0.0001 else f"{share:.2g}"


def _check_strategy_costs(strategies: list[dict], sheet: _Sheet, c: _Collector) -> None:
    for s in strategies:
        if s["receives_ifpp"] == "yes" and s["cost_method"] == "none":
            c.add(_cell(sheet, s["_row"], "cost_method"), f"strategy {_show(s['strategy'])} receives IFPP but its cost "
                                                           "method is none (its programme would cost £0); allowed: "
                                                           "per_family, bottom_up")
        if s["receives_ifpp"] == "yes" and s["cost_multiplier"] == 0:
            c.warn(_cell(sheet, s["_row"], "cost_multiplier"),
                   f"cost_multiplier 0: strategy {_show(s['strategy'])}'s programme costs nothing, so the break-even "
                   "programme cost per family (max_affordable_cost_per_family) is not defined (shown as — , null in "
                   "--json)")
        if s["cost_multiplier"] > MAX_COST_MULTIPLIER:
            c.add(_cell(sheet, s["_row"], "cost_multiplier"), f"found {s['cost_multiplier']:g}; allowed: 0 to "
                                                               f"{MAX_COST_MULTIPLIER:g}")
    if len(strategies) > MAX_STRATEGIES:
        c.add(sheet.name, f"found {len(strategies)} strategies; at most {MAX_STRATEGIES} are allowed")


def wtp_points(settings: dict) -> int:
    """Points of the willingness-to-pay grid wtp_min, wtp_min + wtp_step, …, wtp_max."""
    return int((settings["wtp_max"] - settings["wtp_min"]) // settings["wtp_step"]) + 1


def _wtp_problem(settings: dict) -> str | None:
    if not {"wtp_min", "wtp_max", "wtp_step"} <= settings.keys():
        return None
    if settings["wtp_max"] <= settings["wtp_min"]:
        return f"wtp_max ({settings['wtp_max']:g}) must be greater than wtp_min ({settings['wtp_min']:g})"
    if wtp_points(settings) > MAX_WTP_POINTS:
        return (f"the willingness-to-pay grid from {settings['wtp_min']:g} to {settings['wtp_max']:g} by "
                f"{settings['wtp_step']:g} has {wtp_points(settings):,} points; at most {MAX_WTP_POINTS} are allowed "
                "(choose a larger wtp_step)")
    return None


def _check_settings_limits(settings: dict, sheet: _Sheet, names: set[str], n_strategies: int, c: _Collector,
                           missing: AbstractSet[str] = frozenset()) -> None:
    """The settings' rules across cells: the willingness-to-pay grid, the threshold parameters (``missing``: schema
    parameters whose rows are missing, already reported), the model-averaged PSA's weights and the Dirichlet
    effective sample sizes."""
    problem = _wtp_problem(settings)
    if problem and "must be greater" not in problem:  # wtp_max ≤ wtp_min is reported with the settings
        c.add(_setting_cell(sheet, "wtp_step"), problem)
    scalars = sorted(n for n in names if ":" not in n)
    for name in settings.get("threshold_parameters") or []:
        if name in missing:
            continue  # its row is missing: reported once, with the Parameters sheet
        if name not in names:
            close = difflib.get_close_matches(name, scalars, n=1)
            c.add(_setting_cell(sheet, "threshold_parameters"),
                  f"{_show(name)} is not a parameter" + (f" (did you mean {close[0]}?)" if close else "") +
                  "; allowed: parameter names separated by commas")
        elif name in STRUCTURAL:
            c.add(_setting_cell(sheet, "threshold_parameters"), f"{name} sets the model's structure and has no "
                                                                 "break-even value; remove it from the list")
    problem = weights_problem(settings)
    if problem:
        c.add(_setting_cell(sheet, AFTER_EFFECT_WEIGHTS[0]), problem)
    for name in ("placement_mix_effective_n", "age_mix_effective_n"):
        n = settings.get(name)
        if n is not None and 0 < n < MIN_DIRICHLET_COUNT:
            c.add(_setting_cell(sheet, name), f"found {n:g} for {name}; allowed: 0 (fixed shares) or at least "
                                              f"{MIN_DIRICHLET_COUNT:g} (smaller draws shares that underflow to 0/0)")


def weights_problem(settings: dict) -> str | None:
    """Why the model-averaged PSA's after-effect weights cannot be used (they must not all be 0), or None."""
    weights = [settings.get(name) for name in AFTER_EFFECT_WEIGHTS]
    if any(w is None for w in weights) or sum(float(w) for w in weights if w is not None) > 0:
        return None
    return (f"the after-effect weights {', '.join(AFTER_EFFECT_WEIGHTS)} sum to 0; a model-averaged PSA (psa_structural "
            "model_averaged, or psa --structural model_averaged) draws the assumption with these weights: give at "
            "least one a positive weight")


def _check_scenario_effects(sheet: _Sheet, rows: list[dict], params: list[dict], settings: dict,
                            strategies: list[dict], inflation: pd.Series | None, c: _Collector) -> None:
    """Each scenario, applied to the workbook, must still satisfy the rules across cells."""
    base = {p["name"]: p for p in params}
    receives = {s["strategy"]: s["receives_ifpp"] == "yes" for s in strategies}
    risks = list(declarations.RISK_KNOTS)
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        mine = [r for r in rows if r["scenario"] == scenario]
        where = {r["target"]: _cell(sheet, r["_row"], "value") for r in mine}
        over = {r["target"]: r["value"] for r in mine}
        label = f"scenario {_show(scenario)}"
        for name in WHOLE_MONTHS:
            if name in over and over[name] != int(over[name]):
                c.add(where[name], f"{label}: found {over[name]:g} for {name}; allowed: a whole number of months")
        support = over.get("return_support_months")
        if support is not None and support == int(support) and not 0 <= support <= MAX_RETURN_SUPPORT_MONTHS:
            c.add(where["return_support_months"], f"{label}: found {support:g} for return_support_months; allowed: 0 to "
                                                  f"{MAX_RETURN_SUPPORT_MONTHS} (the time-since-return tunnels)")
        if all(n in base and base[n]["value"] is not None for n in risks) and any(n in over for n in risks):
            curve = [float(over.get(n, base[n]["value"])) for n in risks]
            if any(x > y for x, y in zip(curve, curve[1:])) or curve[-1] >= 1 or curve[2] == 0:
                cell = where[next(n for n in reversed(risks) if n in over)]
                c.add(cell, f"{label}: the cumulative risks become " + ", ".join(f"{n} = {v:g}" for n, v in zip(risks, curve))
                            + "; they must satisfy risk_3m ≤ risk_6m ≤ risk_12m ≤ risk_24m < 1 and risk_12m > 0")
        after = "annual_risk_after_24m"
        if after in over and after in base and base[after]["unit"].startswith("probability") and over[after] >= 1:
            c.add(where[after], f"{label}: found {over[after]:g} for {after}; a probability of entering care must be "
                                "below 1")
        if "comparator" in over and over["comparator"] not in receives:
            c.add(where["comparator"], f"{label}: comparator {_show(over['comparator'])} is not one of the strategies; "
                                       f"allowed: {', '.join(receives)}")
        problem = _wtp_problem({**settings, **{k: v for k, v in over.items() if k.startswith("wtp_")}})
        if problem and any(k.startswith("wtp_") for k in over):
            c.add(where[next(k for k in over if k.startswith("wtp_"))], f"{label}: {problem}")
        for target, value in over.items():
            if target.startswith("strategy_cost_method:") and value == "none" and receives.get(target.split(":", 1)[1]):
                c.add(where[target], f"{label}: strategy {_show(target.split(':', 1)[1])} receives IFPP, so its cost "
                                     "method cannot be none; allowed: per_family, bottom_up")
        year = over.get("analysis_price_year")
        if year is not None and inflation is not None:
            problems = _Collector(Path(""))
            _check_prices(params, {**settings, "analysis_price_year": year}, inflation, problems, where["analysis_price_year"])
            if problems.problems:
                first = problems.problems[0].split(": ", 2)[-1]
                c.add(where["analysis_price_year"], f"{label}: analysis_price_year {year}: {first}")


def _check_correlation_matrix(sheet: _Sheet, rows: list[dict], sampled: list[str], c: _Collector) -> None:
    """The correlations together must form a usable (positive definite) matrix, each pair given once."""
    seen: dict[tuple, dict] = {}
    for r in rows:
        key = tuple(sorted((r["parameter_1"], r["parameter_2"])))
        if key in seen:
            first = seen[key]
            c.add(_cell(sheet, r["_row"], "rank_correlation"),
                  f"{key[0]} ~ {key[1]} is given twice (also {_cell(sheet, first['_row'], 'rank_correlation')}); "
                  "give each pair once")
            return
        seen[key] = r
    if not rows:
        return
    try:
        correlation_cholesky(sampled, pd.DataFrame(rows))
    except SamplingError as exc:
        cells = ", ".join(_cell(sheet, r["_row"], "rank_correlation") for r in rows)
        c.add(cells, f"these correlations together are impossible: {exc}")
