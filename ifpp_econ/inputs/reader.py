"""Parameter workbooks: reading and validating a user's workbook (the template writer is in
:mod:`.template`, the safe file loader in :mod:`.loader`).

The reader never writes to the input. It reports every problem it finds in one pass,
each as ``<file>: <Sheet>!<Cell>: <what was found>; <what is allowed>``, and returns
validated :class:`Inputs`: settings, one table of parameter values (placement-mix and
age-band shares included as ``mix:<type>`` and ``age_share:<band>`` rows), strategies,
age bands, scenarios, correlations and inflation.
"""
from __future__ import annotations

import hashlib
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import SamplingError, WorkbookError
from . import schema, units
from .container import Inputs, Settings
from .distributions import MARGINALS, arity, check_distributions
from .loader import (
    _cell,
    _check_formula_text,
    _Collector,
    _letter,
    _load_sheets,
    _precheck,
    _Sheet,
    _show,
    _text,
    _value,
)
from .rules import (
    BELOW_ONE,
    _check_correlation_matrix,
    _check_edited_values,
    _check_parameter_domains,
    _check_prices,
    _check_risks,
    _check_scenario_effects,
    _check_settings_limits,
    _check_strategy_costs,
    _setting_cell,
    _unit_problem,
    domain,
)


def _read_settings(sheet: _Sheet, c: _Collector) -> dict:
    known = {s[0]: s for s in schema.SETTINGS}
    found: dict[str, Any] = {}
    for rec in sheet.rows:
        name = _text(sheet, rec, "setting")
        if name not in known:
            c.add(_cell(sheet, rec["_row"], "setting"), f"unknown setting {_show(name)}; settings: {', '.join(known)}")
            continue
        if name in found:
            c.add(_cell(sheet, rec["_row"], "setting"), f"setting {name} appears twice")
            continue
        _, default, kind, allowed, _ = known[name]
        where = _cell(sheet, rec["_row"], "value")
        if not _check_formula_text(sheet, rec, "value", c):
            continue
        raw = rec.get("value")
        if kind == "list":
            found[name] = [t.strip() for t in str(raw or "").split(",") if t.strip()]
        elif kind == "name":
            found[name] = _text(sheet, rec, "value")
        elif kind.startswith("intlist"):
            found[name] = _whole_numbers(raw, kind, allowed, where, c)
        elif kind == "text" and not _text(sheet, rec, "value"):
            c.add(where, f"empty; allowed: {allowed}")
        else:
            ok, v = _setting_value(sheet, rec, kind, allowed, c)
            if ok:
                found[name] = int(v) if kind.startswith("int") else v
    for name, default, *_ in schema.SETTINGS:
        if name not in found and not any(_text(sheet, r, "setting") == name for r in sheet.rows):
            if name in schema.LATER_SETTINGS:  # added after workbooks were written: the default, said once
                kind, allowed = known[name][2], known[name][3]
                found[name] = _whole_numbers(default, kind, allowed, sheet.name, c) if kind.startswith("intlist") else default
                c.warn(f"{sheet.name}", f"setting {name} is missing (a newer setting); its default {default} is used "
                                        "(add a row for it, or write a fresh workbook with ifpp-econ template)")
            else:
                c.add(f"{sheet.name}", f"setting {name} is missing (default {default})")
    if {"wtp_min", "wtp_max"} <= found.keys() and found["wtp_max"] <= found["wtp_min"]:
        c.add(_setting_cell(sheet, "wtp_max"), f"wtp_max ({found['wtp_max']:g}) must be greater than wtp_min ({found['wtp_min']:g})")
    return found


def _whole_numbers(raw: Any, kind: str, allowed: str, where: str, c: _Collector) -> list[int]:
    """The ascending, distinct whole numbers in a cell of ``kind`` ``intlist:lo:hi`` (a number, or numbers separated by
    commas or semicolons; empty: none); each entry that is not a whole number in range is added to ``c``."""
    _, lo, hi = kind.split(":")
    tokens = [raw] if isinstance(raw, (int, float)) else [t.strip() for t in str(raw or "").replace(";", ",").split(",")]
    values = []
    for token in tokens:
        if token == "":
            continue
        try:
            v = float(token)
        except (TypeError, ValueError):
            v = float("nan")
        if not (float(lo) <= v <= float(hi) and v == int(v)):
            c.add(where, f"found {_show(token) if v != v else f'{v:g}'}; allowed: {allowed}")
            continue
        values.append(int(v))
    return sorted(set(values))


# ---------------------------------------------------------------------------------------
# The value checks, driven by the schema's tables: a setting's kind (schema.SETTINGS) and a
# parameter's unit (schema.value_range). Settings, parameters, one-way ranges and scenario
# overrides are all checked by these two.
# ---------------------------------------------------------------------------------------
def _setting_value(sheet: _Sheet, rec: dict, kind: str, allowed: str, c: _Collector, label: str = "") -> tuple[bool, Any]:
    """(ok, value) of a row's ``value`` cell for a setting of ``kind`` (``int:lo:hi``, ``number:lo:hi``,
    ``choice:<vocabulary>``, ``year``; any other kind is text); a problem is added to ``c``. ``label``
    follows the found value in the message (e.g. " for wtp_max" in a scenario)."""
    where = _cell(sheet, rec["_row"], "value")
    if kind.startswith(("int", "number")):
        v = _value(sheet, rec, "value", c, allowed=allowed)
        if v is None:
            return False, None
        _, lo, hi = kind.split(":")
        if not float(lo) <= v <= float(hi) or (kind.startswith("int") and v != int(v)):
            c.add(where, f"found {v:g}{label}; allowed: {allowed}")
            return False, None
        return True, v
    text = _text(sheet, rec, "value")
    if kind.startswith("choice:") and text not in schema.VOCABULARIES[kind.split(":")[1]]:
        c.add(where, f"found {_show(text)}; allowed: {', '.join(schema.VOCABULARIES[kind.split(':')[1]])}")
        return False, None
    if kind == "year":
        try:
            units.year_start(text)
        except units.UnitsError:
            c.add(where, f"found {_show(text)}; allowed: {allowed}")
            return False, None
    return True, text






def _new_key(sheet: _Sheet, rec: dict, column: str, known, noun: str, listed: str, seen: dict, c: _Collector,
             problem=None) -> str | None:
    """A row's key if it is one of ``known`` (or, given ``problem(key)`` → message or None, if that finds none) and
    not seen before (``seen``: key → row, updated); else None, with the problem named at its cell."""
    key = _text(sheet, rec, column)
    where = _cell(sheet, rec["_row"], column)
    found = problem(key) if problem is not None else (
        None if key in known else f"unknown {noun} {_show(key)}; {listed}: {', '.join(known)}")
    if found:
        c.add(where, found)
        return None
    if key in seen:
        c.add(where, f"duplicate {noun} {key} (also in row {seen[key]})")
        return None
    seen[key] = rec["_row"]
    return key


def _read_parameters(sheet: _Sheet, c: _Collector) -> list[dict]:
    known = {p["name"]: p for p in schema.PARAMETERS}
    seen: dict[str, int] = {}
    out = []
    for rec in sheet.rows:
        applies_to = _text(sheet, rec, "applies_to")
        added = bool(applies_to) and _text(sheet, rec, "name") not in known
        name = _new_key(sheet, rec, "name", known, "parameter", "a cost row of your own also needs an applies_to; "
                        "the model uses", seen, c, _added_name_problem if added else None)
        if name is None:
            continue
        default = known.get(name) or {"label": name, "unit": _text(sheet, rec, "unit")}
        ok = True
        if added and applies_to not in schema.APPLIES_TO:
            c.add(_cell(sheet, rec["_row"], "applies_to"), f"found {_show(applies_to)}; allowed: "
                                                            f"{', '.join(schema.APPLIES_TO)}")
            ok = False
        elif applies_to and not added:
            c.add(_cell(sheet, rec["_row"], "applies_to"), f"found {_show(applies_to)} on the built-in row {name}, whose "
                  "use the model fixes; leave it empty (to add a cost of your own, add a row with a new name)")
            ok = False
        unit = _text(sheet, rec, "unit") or default["unit"]
        allowed_units = (schema.added_cost_units(applies_to) if added else schema.allowed_units(name, default["unit"]))
        if unit not in allowed_units:
            c.add(_cell(sheet, rec["_row"], "unit"), f"found {_show(unit)}; allowed for {name}: {', '.join(allowed_units)}")
            ok = False
        dist = _text(sheet, rec, "distribution") or "fixed"
        if dist not in schema.VOCABULARIES["distribution"]:
            c.add(_cell(sheet, rec["_row"], "distribution"),
                  f"unknown distribution {_show(dist)}; allowed: {', '.join(schema.VOCABULARIES['distribution'])}")
            ok = False
        status = _text(sheet, rec, "status")
        if status and status not in schema.STATUSES:
            c.add(_cell(sheet, rec["_row"], "status"), f"found {_show(status)}; allowed: {', '.join(schema.STATUSES)}")
        payer = _text(sheet, rec, "payer") or (default.get("payer") or ("LA" if unit.startswith("GBP") else ""))
        if payer and payer not in schema.PAYERS:
            c.add(_cell(sheet, rec["_row"], "payer"), f"found {_show(payer)}; allowed: {', '.join(schema.PAYERS)}")
            ok = False
        price_year = _text(sheet, rec, "price_year") or None
        if unit.startswith("GBP") and price_year is None:
            c.add(_cell(sheet, rec["_row"], "price_year"), "empty; a cost needs its price year, e.g. 2023/24")
            ok = False
        elif price_year is not None:
            try:
                units.year_start(price_year)
            except units.UnitsError as exc:
                c.add(_cell(sheet, rec["_row"], "price_year"), f"{exc}")
                ok = False
        cashable, lag = _cashable(sheet, rec, name, unit, added, c)
        value = _value(sheet, rec, "value", c)
        a = _value(sheet, rec, "param_a", c, required=False)
        b = _value(sheet, rec, "param_b", c, required=False)
        low = _value(sheet, rec, "low", c, required=False)
        high = _value(sheet, rec, "high", c, required=False)
        if value is None:
            continue
        problem = _unit_problem(value, unit)
        if problem:
            c.add(_cell(sheet, rec["_row"], "value"), f"found {value:g}; {problem}")
            ok = False
        if low is not None and high is not None and low > high:
            c.add(_cell(sheet, rec["_row"], "low"), f"low {low:g} is above high {high:g}; swap them")
            ok = False
        elif ok and low is not None and high is not None and not low <= value <= high:
            # a local value outside the pre-filled one-way range: the range is widened to include it (a value outside
            # its unit's range is reported once, at its own cell, and widens nothing)
            side, cell = ("low", "low") if value < low else ("high", "high")
            c.warn(_cell(sheet, rec["_row"], "value"),
                   f"value {value:g} is outside the one-way range {low:g}–{high:g}; the {side} end is taken as {value:g} "
                   f"for the tornado (set {_cell(sheet, rec['_row'], cell)} yourself to choose another range)")
            low, high = min(low, value), max(high, value)
        elif (low is None) != (high is None):
            c.add(_cell(sheet, rec["_row"], "low"), "give both low and high, or neither (then the DSA uses the "
                                                    "distribution's 2.5th/97.5th percentiles)")
        if ok and dist in MARGINALS:
            need_a, need_b = arity(dist) >= 1, arity(dist) == 2
            typed_a, typed_b = (rec.get(col) not in (None, "") for col in ("param_a", "param_b"))  # bad text: reported
            if (need_a and a is None and not typed_a) or (need_b and b is None and not typed_b):
                c.add(_cell(sheet, rec["_row"], "param_a"), f"{dist} needs param_a" + (" and param_b" if need_b else ""))
                ok = False
            elif (need_a and a is None) or (need_b and b is None):
                ok = False
            else:
                try:
                    check_distributions(pd.DataFrame([{"value": value, "distribution": dist, "param_a": a, "param_b": b}],
                                                    index=[name]))
                except SamplingError as exc:
                    c.add(_cell(sheet, rec["_row"], "distribution"), str(exc))
                    ok = False
                else:
                    if dist == "gamma_mean_se" and value > 0 and not 0.05 <= a / value <= 1.0:
                        c.warn(_cell(sheet, rec["_row"], "param_a"),
                               f"SE {a:g} is {a / value:.1%} of the value {value:g} (an absolute SE does not follow an "
                               "edited value); if the SE is meant as a share of the value, use gamma_mean_sepct with "
                               "param_a as that share (e.g. 25%)")
                    if dist == "uniform" and not a <= value <= b:
                        c.add(_cell(sheet, rec["_row"], "value"), f"found {value:g}; a uniform parameter's value must "
                                                                  f"lie between param_a {a:g} and param_b {b:g}")
                        ok = False
        out.append({"name": name, "label": _text(sheet, rec, "label") or default["label"], "value": value, "unit": unit,
                    "price_year": price_year, "payer": payer or None, "distribution": dist, "param_a": a, "param_b": b,
                    "low": low, "high": high, "applies_to": applies_to if added else None,
                    "cashable_share": cashable, "cashable_lag_months": lag,
                    "source": _text(sheet, rec, "source"), "status": status, "notes": _text(sheet, rec, "notes"),
                    "group": "", "cell": _cell(sheet, rec["_row"], "value"),
                    "price_cell": _cell(sheet, rec["_row"], "price_year") if "price_year" in sheet.columns else sheet.name,
                    "_row": rec["_row"]})
    for name in known:
        if name in seen:
            continue
        if name in schema.LATER_PARAMETERS:  # added after workbooks were written: the default, said once
            default = known[name]
            out.append({**default, "group": "", "cell": sheet.name, "price_cell": sheet.name, "_row": None})
            c.warn(sheet.name, f"parameter {name} is missing (a newer parameter); its default {default['value']:g} is "
                               "used (add a row for it, or write a fresh workbook with ifpp-econ template)")
        else:
            c.add(sheet.name, f"parameter {name} is missing (add a row for it; see ifpp-econ template)")
    return out


def _added_name_problem(name: str) -> str | None:
    """What is wrong with the name of an added cost row (a new name with an applies_to), if anything."""
    if not name or ":" in name or name.startswith("structure"):
        return f"found {_show(name)}; an added cost row needs a name of its own, without ':' (e.g. camhs_in_care)"
    return None


def _cashable(sheet: _Sheet, rec: dict, name: str, unit: str, added: bool, c: _Collector
              ) -> tuple[float | None, float | None]:
    """A cost row's cashable share of its savings (0 to 1) and the months from the programme's start before they are
    cash (0 to 216); blank: the schema's default (an added row: 0, notional); a row that is not a cost: (None, None)."""
    share = _value(sheet, rec, "cashable_share", c, required=False, allowed="a share from 0 to 1")
    lag = _value(sheet, rec, "cashable_lag_months", c, required=False, allowed="months from 0 to 216")
    if not unit.startswith("GBP") or name not in schema.CASHABLE and not added:
        for col, v in (("cashable_share", share), ("cashable_lag_months", lag)):
            if v is not None:
                c.add(_cell(sheet, rec["_row"], col), f"found {v:g} on {name}, which is not a cost whose savings the "
                                                      "budget counts; leave it empty")
        return None, None
    if share is not None and not 0 <= share <= 1:
        c.add(_cell(sheet, rec["_row"], "cashable_share"), f"found {share:g}; allowed: a share from 0 to 1 (0% to 100%)")
    if lag is not None and not 0 <= lag <= 216:
        c.add(_cell(sheet, rec["_row"], "cashable_lag_months"), f"found {lag:g}; allowed: months from 0 to 216")
    default = 0.0 if added else schema.CASHABLE[name][0]
    return (default if share is None else share), (0.0 if lag is None else lag)


def _read_shares(sheet: _Sheet, key: str, prefix: str, group: str, effective_n: float, c: _Collector,
                 extra=None) -> tuple[list[dict], list[dict]]:
    """Share rows → parameter rows (``prefix + key``) and the sheet's own records; Dirichlet with mean = the shares
    and concentration ``effective_n`` (0 = fixed)."""
    params, records, seen = [], [], set()
    for rec in sheet.rows:
        label = _text(sheet, rec, key)
        if not label:
            c.add(_cell(sheet, rec["_row"], key), f"empty; each row needs a {key}")
            continue
        if label in seen:
            c.add(_cell(sheet, rec["_row"], key), f"duplicate {key} {label}")
            continue
        seen.add(label)
        share = _value(sheet, rec, "share", c, allowed="a share between 0 and 1")
        if share is not None and not 0 <= share <= 1:
            c.add(_cell(sheet, rec["_row"], "share"), f"found {share:g}; allowed: a share between 0 and 1")
            share = None
        record = {key: label, "share": share, "_row": rec["_row"]}
        if extra:
            record.update(extra(sheet, rec, c))
        records.append(record)
        params.append(_share_parameter(f"{prefix}{label}", f"{sheet.name}: {label}", share, group, effective_n,
                                       _text(sheet, rec, "notes"), _cell(sheet, rec["_row"], "share")))
    shares = [r["share"] for r in records]
    if records and all(s is not None for s in shares) and abs(sum(shares) - 1) > 1e-6:
        c.add(_column_range(sheet, "share", [r["_row"] for r in records]), f"shares sum to {sum(shares):.6g}; they must "
                                                                           "sum to 1")
    if not records:
        c.add(sheet.name, "no rows; at least one is needed")
    return params, records


def _share_parameter(name: str, label: str, share, group: str, effective_n: float, notes: str, cell: str) -> dict:
    dirichlet = effective_n > 0
    return {"name": name, "label": label, "value": share, "unit": "share", "price_year": None, "payer": None,
            "distribution": "dirichlet" if dirichlet else "fixed", "param_a": effective_n if dirichlet else None,
            "param_b": None, "low": None, "high": None, "source": "", "status": "", "notes": notes, "group": group,
            "cell": cell}


def _column_range(sheet: _Sheet, column: str, rows: list[int]) -> str:
    """The cells of ``column`` that hold a table's values, e.g. ``Age bands!C2:C4``."""
    letter = _letter(sheet.columns[column])
    return f"{sheet.name}!{letter}{min(rows)}:{letter}{max(rows)}"


def _read_placement_mix(sheet: _Sheet, bands: list[str], effective_n: float, c: _Collector) -> list[dict]:
    """The wide Placement mix sheet → one share parameter ``mix:<band>:<type>`` per age band and placement type."""
    band_cols = {}
    for band in bands:
        col = next((h for h in sheet.columns if h == band.strip().lower()), None)
        if col is None:
            c.add(f"{sheet.name}!1:1", f"no share column for age band {_show(band)}; add a column headed {band} "
                                       "(one column per band of the Age bands sheet)")
        else:
            band_cols[band] = col
    fixed_cols = set(schema.COLUMNS[sheet.name])
    for h, j in sheet.columns.items():
        if h not in fixed_cols and h not in band_cols.values():
            c.add(f"{sheet.name}!{_letter(j)}1", f"column {_show(h)} is not an age band; bands: {', '.join(bands)}")
    params: list[dict] = []
    seen: dict[str, int] = {}
    for rec in sheet.rows:
        ptype = _new_key(sheet, rec, "placement_type", schema.PLACEMENT_TYPES, "placement type", "allowed", seen, c)
        if ptype is None:
            continue
        cost = _text(sheet, rec, "cost_parameter")
        if cost != f"cost_{ptype}":
            c.add(_cell(sheet, rec["_row"], "cost_parameter"), f"found {_show(cost)}; expected cost_{ptype}")
        for band, col in band_cols.items():
            share = _value(sheet, rec, col, c, allowed="a share between 0 and 1 (0 if unused)")
            if share is not None and not 0 <= share <= 1:
                c.add(_cell(sheet, rec["_row"], col), f"found {share:g}; allowed: a share between 0 and 1")
                share = None
            params.append(_share_parameter(schema.mix_name(band, ptype), f"Placement mix: {ptype}, age {band}", share,
                                           f"placement_mix:{band}", effective_n, "", _cell(sheet, rec["_row"], col)))
    missing = [t for t in schema.PLACEMENT_TYPES if t not in seen]
    if missing:
        c.add(sheet.name, f"missing placement type(s) {', '.join(missing)} (use share 0 if unused)")
    for band, col in band_cols.items():
        shares = [p["value"] for p in params if p["group"] == f"placement_mix:{band}"]
        if shares and all(v is not None for v in shares) and abs(sum(shares) - 1) > 1e-6:
            rows = [int(p["cell"].rsplit(_letter(sheet.columns[col]), 1)[1]) for p in params
                    if p["group"] == f"placement_mix:{band}"]
            c.add(_column_range(sheet, col, rows), f"age band {band}: shares sum to {sum(shares):.6g}; they must sum to 1")
    return params


def read_workbook(path: str | Path) -> Inputs:
    """Read and validate a parameter workbook; raises :class:`WorkbookError` listing every problem."""
    path = Path(path)
    c = _Collector(path)
    if not _precheck(path, c):
        raise WorkbookError(c.problems)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    sheets = _load_sheets(path, c)
    if sheets is None:
        raise WorkbookError(c.problems)
    if any(s not in sheets for s in schema.SHEETS[1:] if s != "Correlations"):
        raise WorkbookError(c.problems)
    if not all(s.complete for s in sheets.values()):  # the tables cannot be read without their columns
        raise WorkbookError(c.problems)

    settings = _read_settings(sheets["Settings"], c)
    params = _read_parameters(sheets["Parameters"], c)
    param_names = {_text(sheets["Parameters"], r, "name") for r in sheets["Parameters"].rows}  # even rows with bad values
    param_names |= {p["name"] for p in params if p["name"] in schema.LATER_PARAMETERS}  # a newer one at its default

    def age_extra(sheet, rec, col):
        age = _value(sheet, rec, "age_at_referral_years", col, allowed="an age from 0 to under 18")
        if age is not None and not 0 <= age < 18:
            col.add(_cell(sheet, rec["_row"], "age_at_referral_years"), f"found {age:g}; allowed: 0 to under 18")
            age = None
        return {"age_at_referral_years": age}

    age_params, ages = _read_shares(sheets["Age bands"], "band", "age_share:", "age_bands",
                                    float(settings.get("age_mix_effective_n", 0)), c, age_extra)
    mix_params = _read_placement_mix(sheets["Placement mix"], [r["band"] for r in ages],
                                     float(settings.get("placement_mix_effective_n", 0)), c)
    strategies = _read_strategies(sheets["Strategies"], settings, c, _setting_cell(sheets["Settings"], "comparator"))
    inflation = _read_inflation(sheets["Inflation"], c)
    all_params = params + mix_params + age_params
    year_cell = _setting_cell(sheets["Settings"], "analysis_price_year")
    _check_prices(all_params, settings, inflation, c, year_cell)
    _check_risks(params, c)
    edited = _check_edited_values(params, sheets["Parameters"], c) if "source" in sheets["Parameters"].columns else set()
    _check_parameter_domains(params, sheets["Parameters"], c)
    _check_strategy_costs(strategies, sheets["Strategies"], c)
    missing = {p["name"] for p in schema.PARAMETERS} - param_names  # rows reported missing with the Parameters sheet
    _check_settings_limits(settings, sheets["Settings"], param_names | {p["name"] for p in mix_params + age_params},
                           len(strategies), c, missing)
    names = param_names | {p["name"] for p in mix_params + age_params}
    scenarios = _read_scenarios(sheets["Scenarios"], all_params, names, settings, strategies, c, inflation)
    unreadable = param_names - {p["name"] for p in params}  # rows already reported: no cascade
    correlations = _read_correlations(sheets.get("Correlations"), params, c, unreadable)
    if c.problems:
        raise WorkbookError(c.problems)
    Settings.from_mapping(settings)  # every setting read: the typed view holds

    table = pd.DataFrame(all_params).drop(columns=["price_cell", "_row"], errors="ignore").set_index("name")
    table["min"], table["max"] = zip(*(domain(unit) for unit in table["unit"]))  # draws are clipped to these
    table["edited"] = table.index.isin(sorted(edited))  # value changed, source and status not: "edited; source not updated"
    below_one = table.index.isin(BELOW_ONE) & table["unit"].str.startswith("probability")
    table.loc[below_one, "max"] = 1 - 1e-9
    for col in ("value", "param_a", "param_b", "low", "high"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    table["price_year"] = table["price_year"].astype(object)
    return Inputs(
        path=path,
        sha256=sha,
        settings=settings,
        parameters=table,
        strategies=pd.DataFrame(strategies).drop(columns="_row"),
        age_bands=pd.DataFrame(ages).drop(columns="_row"),
        scenarios=pd.DataFrame(scenarios, columns=["scenario", "target", "value"]),
        correlations=pd.DataFrame(correlations, columns=["parameter_1", "parameter_2", "rank_correlation"]),
        inflation=inflation,
        warnings=tuple(c.warnings),
    )


def _read_strategies(sheet: _Sheet, settings: dict, c: _Collector, comparator_cell: str = "Settings") -> list[dict]:
    out, seen = [], set()
    for rec in sheet.rows:
        name = _text(sheet, rec, "strategy")
        if not name:
            c.add(_cell(sheet, rec["_row"], "strategy"), "empty; each strategy needs a name")
            continue
        if name in seen:
            c.add(_cell(sheet, rec["_row"], "strategy"), f"duplicate strategy name {name}")
            continue
        seen.add(name)
        receives = _text(sheet, rec, "receives_ifpp").lower()
        if receives not in schema.YES_NO:
            c.add(_cell(sheet, rec["_row"], "receives_ifpp"), f"found {_show(receives)}; allowed: yes, no")
        method = _text(sheet, rec, "cost_method") or "none"
        if method not in schema.COST_METHODS:
            c.add(_cell(sheet, rec["_row"], "cost_method"), f"found {_show(method)}; allowed: {', '.join(schema.COST_METHODS)}")
        mult = _value(sheet, rec, "cost_multiplier", c, required=False, allowed="a number ≥ 0")
        if mult is not None and mult < 0:
            c.add(_cell(sheet, rec["_row"], "cost_multiplier"), f"found {mult:g}; allowed: ≥ 0")
        out.append({"strategy": name, "description": _text(sheet, rec, "description"), "receives_ifpp": receives,
                    "cost_method": method, "cost_multiplier": 1.0 if mult is None else mult,
                    "notes": _text(sheet, rec, "notes"), "_row": rec["_row"]})
    if len(out) < 2:
        c.add(sheet.name, f"found {len(out)} strategy(ies); at least two are needed")
    comparator = settings.get("comparator")
    if comparator is not None and comparator not in seen:
        c.add(comparator_cell, f"comparator {_show(comparator)} is not one of the strategies; allowed: "
                               f"{', '.join(r['strategy'] for r in out) or 'none'}")
    return out


def _read_inflation(sheet: _Sheet, c: _Collector) -> pd.Series:
    values = {}
    for rec in sheet.rows:
        year = _text(sheet, rec, "financial_year")
        try:
            units.year_start(year)
        except units.UnitsError:
            c.add(_cell(sheet, rec["_row"], "financial_year"), f"found {_show(year)}; expected a financial year like 2023/24")
            continue
        change = _value(sheet, rec, "annual_change", c, allowed="an annual change such as 0.0431 or 4.31%")
        if change is None:
            continue
        if not -0.5 < change < 1:
            c.add(_cell(sheet, rec["_row"], "annual_change"), f"found {change:g}; allowed: between -50% and 100%")
            continue
        if year in values:
            c.add(_cell(sheet, rec["_row"], "financial_year"), f"{year} appears twice")
        values[year] = change
    return pd.Series(values, name="annual_change", dtype=float)






def _read_scenarios(sheet: _Sheet, params: list[dict], names: set[str], settings: dict, strategies: list[dict],
                    c: _Collector, inflation: pd.Series | None = None) -> list[dict]:
    """Scenario overrides; each value is checked as its target's cell would be, and overridden shares must
    still sum to 1 within each scenario."""
    out = []
    known_settings = {s[0]: s for s in schema.SETTINGS}
    strategy_names = {s["strategy"] for s in strategies}
    by_name = {p["name"]: p for p in params}
    for rec in sheet.rows:
        scenario, target = _text(sheet, rec, "scenario"), _text(sheet, rec, "target")
        where, value_cell = _cell(sheet, rec["_row"], "target"), _cell(sheet, rec["_row"], "value")
        if not scenario:
            c.add(_cell(sheet, rec["_row"], "scenario"), "empty; each override needs a scenario name")
            continue
        if target in names:
            value = _value(sheet, rec, "value", c)
            if value is None:
                continue
            problem = _unit_problem(value, by_name[target]["unit"]) if target in by_name else None
            if problem:
                c.add(value_cell, f"found {value:g} for {target}; {problem}")
                continue
        elif target in known_settings:
            _, _, kind, allowed, _ = known_settings[target]
            ok, value = _setting_value(sheet, rec, kind, allowed, c, f" for {target}")
            if not ok:
                continue
        elif target.startswith("strategy_cost_method:") and target.split(":", 1)[1] in strategy_names:
            value = _text(sheet, rec, "value")
            if value not in schema.COST_METHODS:
                c.add(value_cell, f"found {_show(value)}; allowed: {', '.join(schema.COST_METHODS)}")
                continue
        else:
            c.add(where, f"unknown target {_show(target)}; allowed: a parameter name, a setting, mix:<band>:<type>, "
                         "age_share:<band> or strategy_cost_method:<strategy>")
            continue
        out.append({"scenario": scenario, "target": target, "value": value, "_row": rec["_row"]})
    groups: dict[str, dict[str, float]] = {}
    for p in params:
        if p.get("group"):
            groups.setdefault(p["group"], {})[p["name"]] = p["value"]
    for group, base in groups.items():
        if any(v is None for v in base.values()):
            continue
        for scenario in dict.fromkeys(r["scenario"] for r in out):
            rows = [r for r in out if r["scenario"] == scenario and r["target"] in base]
            if not rows:
                continue
            total = sum({**base, **{r["target"]: r["value"] for r in rows}}.values())
            if abs(total - 1) > 1e-6:
                c.add(_cell(sheet, rows[0]["_row"], "value"), f"scenario {_show(scenario)}: {group} shares sum to "
                                                              f"{total:.6g} after its overrides; they must sum to 1")
    _check_scenario_effects(sheet, out, params, settings, strategies, inflation, c)
    return [{k: v for k, v in r.items() if k != "_row"} for r in out]


def _read_correlations(sheet: _Sheet | None, params: list[dict], c: _Collector, unreadable: AbstractSet[str] = frozenset()
                       ) -> list[dict]:
    if sheet is None:
        return []
    sampled = {p["name"] for p in params if p["distribution"] not in ("fixed",)}
    out = []
    for rec in sheet.rows:
        a, b = _text(sheet, rec, "parameter_1"), _text(sheet, rec, "parameter_2")
        ok = True
        for col, n in (("parameter_1", a), ("parameter_2", b)):
            if n in unreadable:
                ok = False
            elif n not in sampled:
                c.add(_cell(sheet, rec["_row"], col), f"{_show(n)} is not a parameter with a distribution; "
                                                      "correlations need two sampled parameters")
                ok = False
        rho = _value(sheet, rec, "rank_correlation", c, allowed="a rank correlation strictly between -1 and 1")
        if rho is not None and not -1 < rho < 1:
            c.add(_cell(sheet, rec["_row"], "rank_correlation"), f"found {rho:g}; allowed: strictly between -1 and 1")
            ok = False
        if ok and a == b:
            c.add(_cell(sheet, rec["_row"], "parameter_2"), "a parameter cannot be correlated with itself")
            ok = False
        if ok and rho is not None:
            out.append({"parameter_1": a, "parameter_2": b, "rank_correlation": rho, "_row": rec["_row"]})
    _check_correlation_matrix(sheet, out, [p["name"] for p in params if p["name"] in sampled], c)
    return [{k: v for k, v in r.items() if k != "_row"} for r in out]
