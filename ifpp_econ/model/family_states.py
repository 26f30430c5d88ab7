"""The IFPP family-states model: parameter values (iterations × parameters) → outcomes.

The model knows nothing about Excel: it takes a :class:`~.spec.ModelSpec` (strategies, age
bands, conventions, units) and a table of parameter values in workbook units with one
row per iteration, and returns arrays ``(strategies, iterations)``: it converts units, builds each
strategy's first-entry curves (:mod:`.entry`) and care dynamics, runs the family states (:mod:`.states`)
through the compiled kernel (:mod:`.kernels`) or the engine's numpy reference, and values the totals by payer.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import declarations
from ..engine import CohortResult, Reward
from ..engine.threads import choose_kernel
from ..exceptions import ModelError
from ..inputs import units
from .entry import child_risk_factor, entry_curves, first_entry_probabilities, linked_risk_knots
from .kernels import FamilyStatesResult, simulate_family_states
from .spec import PERSPECTIVE_PAYERS, ModelSpec
from .states import (
    CARE,
    CARE_BAND_OF_TUNNEL,
    CARE_BANDS,
    HOME,
    LEFT,
    N_STATES,
    RETURN_BAND_OF_TUNNEL,
    RETURN_BANDS,
    RETURN_TUNNELS,
    RETURNED,
    FamilyStatesTransitions,
    state_indicator,
)


def sum_arrays(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """``sum(arrays)``, typed as an array: the builtin's ``0`` start is returned only for no arrays, an error here."""
    total = sum(arrays)
    if isinstance(total, int):
        raise ValueError("no arrays to add")
    return total

PLACEMENT_TYPES = declarations.PLACEMENT_TYPES

def to_model_units(values: pd.DataFrame, spec: ModelSpec, columns: dict[str, np.ndarray] | None = None
                   ) -> dict[str, np.ndarray]:
    """Workbook-unit values (iterations × parameters) → arrays ``(N,)`` in model units (read-only where no conversion
    applies: views of one copy of ``values``); ``columns``: workbook-unit values ``(N,)`` that replace those of
    ``values`` (e.g. the linked risk knots, :func:`.entry.linked_risk_knots`).

    Recurring costs become GBP per month, one-off costs GBP per episode, both at the
    analysis price year; period probabilities become monthly probabilities. Per-family
    costs stay per family here (children per family is itself uncertain).
    """
    out = {}
    table = values.to_numpy(dtype=float, copy=True)  # (N, P): one block (no per-column lookups), this model's own
    table.flags.writeable = False
    columns = columns or {}
    for j, name in enumerate(values.columns):
        v = columns[name] if name in columns else table[:, j]
        unit = spec.units.get(name)
        if unit is not None:  # salaries (GBP/year) and hourly rates (GBP/hour) keep their unit
            v = units.to_model_units(v, unit)
        factor = spec.price_factors.get(name, 1.0)
        out[name] = v * factor if factor != 1.0 else v
    return out

@dataclass
class ModelResults:
    """Per-child results, each ``(K strategies, N iterations)`` unless stated."""

    strategies: list[str]
    comparator: str
    outcomes: dict[str, np.ndarray]
    curve_rule_bound: np.ndarray  # (N,) IFPP cumulative curve needed the running-maximum rule
    exits_rescaled: np.ndarray  # (N,) competing care exits summed above 1 and were rescaled
    trace: np.ndarray | None = None  # (K, N, T+1, S) when requested
    horizon_cycles: int = 0
    by_band: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # band -> outcome -> (K, N), per child
    band_shares: np.ndarray | None = None  # (B, N) age-band shares used to weight the bands
    risk_curve_reordered: np.ndarray | None = None  # (N,) usual-care knots needed the running maximum
    child_risk_capped: np.ndarray | None = None  # (N,) k > children per family: child risk capped at family risk

    def table(self, iteration: int = 0) -> pd.DataFrame:
        """One iteration's outcomes as a DataFrame (rows = strategies; the payer ledger is :meth:`ledger`)."""
        return pd.DataFrame({k: v[:, iteration] for k, v in self.outcomes.items() if not k.startswith(PAYER_PREFIX)},
                            index=pd.Index(self.strategies, name="strategy"))

MODEL_OUTCOME_LABELS = {
    "cost": "Total discounted cost per child (GBP), chosen perspective",
    "cost_intervention": "IFPP programme cost per child (GBP)",
    "cost_placements": "Placement cost per child (GBP)",
    "cost_proceedings": "Care proceedings cost per child (GBP)",
    "cost_reunification": "Reunification support per child (GBP)",
    "cost_case_support": "Case support at home and after return per child (GBP)",
    "cost_allowances": "Special guardianship / adoption allowances per child (GBP)",
    "cost_per_family": "Total discounted cost per family (GBP)",
    "cost_local_authority": "Total discounted cost per child, local authority perspective (GBP)",
    "cost_public_sector": "Total discounted cost per child, public-sector perspective (GBP)",
    "first_placements": "First placements per child (discounted)",
    "first_placements_undiscounted": "First placements per child (undiscounted)",
    "care_entries": "All care entries incl. re-entries per child (discounted)",
    "care_months": "Months in care per child (discounted)",
    "living_at_home_1y": "Share living at home 1 year after referral",
    "living_at_home_2y": "Share living at home 2 years after referral",
    "living_at_home_5y": "Share living at home 5 years after referral",
}

COST_CATEGORIES = ("cost_intervention", "cost_placements", "cost_proceedings", "cost_reunification",
                   "cost_case_support", "cost_allowances", "cost_added")
MODEL_OUTCOME_LABELS.update({
    "cost_added": "Added cost rows per child (GBP), chosen perspective",
    "care_entries_undiscounted": "All care entries incl. re-entries per child (undiscounted)",
    "care_months_undiscounted": "Months in care per child (undiscounted)",
    "proceedings_issued": "Care proceedings issued per child (undiscounted)",
    "reentries": "Re-entries to care after a return home per child (undiscounted)",
    "child_years_at_home": "Child-years living at home to 18 per child (discounted)",
    "child_years_at_home_undiscounted": "Child-years living at home to 18 per child (undiscounted)",
})
PAYER_PREFIX = "payer:"  # outcome ``payer:<ledger row>``: the discounted cost per child that one payer row bears

@dataclass
class _Cohort:
    """One simulation of every strategy and iteration, with the unit costs to value it."""

    spec: ModelSpec
    result: CohortResult
    horizons: np.ndarray  # (B,) cycles per age band
    shares: np.ndarray  # (B, N) age-band shares
    support_months: np.ndarray  # (N,) months of case support at home after referral
    p: dict[str, np.ndarray]  # parameter values in model units, (N,) each
    programme: dict[str, np.ndarray]  # ledger row -> (K, N) programme cost per child at referral (rows bearing one)
    cpf: np.ndarray  # (N,) children per family
    proceedings_per_entry: dict[str, np.ndarray]  # first_entry, reentry -> (N,) proceedings issued per child's entry
    curve_rule_bound: np.ndarray
    exits_rescaled: np.ndarray
    risk_curve_reordered: np.ndarray
    child_risk_capped: np.ndarray

    def units(self, payers=None, rows=None, weight=None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Unit costs (as :func:`_unit_costs`, every one: 0 where no row bears it) and programme cost ``(K, N)`` borne
        by a set of payers (or of ledger ``rows``); ``weight(name)``, if given, scales each cost parameter (e.g. by its
        cashable share)."""
        if rows is None:
            rows = [r for r in self.spec.ledger_rows() if self.spec.ledger_payer(r) in payers]
        per_row = [_unit_costs(self.p, self.spec, r, self.proceedings_per_entry, weight) for r in rows]
        n = len(self.cpf)
        units = {}
        for k in UNIT_COSTS:
            total = _sum_given(u.get(k) for u in per_row)
            units[k] = np.zeros((len(self.spec.age_bands), n) if k == "placement_month" else n) if total is None else total
        programme = _sum_given(self.programme.get(r) for r in rows)
        return units, np.zeros((len(self.spec.strategies), n)) if programme is None else programme


def _sum_given(terms: Iterable[np.ndarray | None]) -> np.ndarray | None:
    """The sum of the terms that are not None (arrays of one shape, or broadcasting to the first two's), left to
    right, as a new array; None when none is."""
    given = [t for t in terms if t is not None]
    if not given:
        return None
    total = given[0] + given[1] if len(given) > 1 else given[0].copy()
    for t in given[2:]:
        total += t
    return total

def _times(a: np.ndarray | None, b: np.ndarray | float) -> np.ndarray | None:
    """``a * b``, or None when ``a`` is None (a cost that is not borne)."""
    return None if a is None else a * b

UNIT_COSTS = ("placement_month", "first_entry", "reentry", "reunification", "support_month", "return_support_month",
              "allowance_month", "added_month_in_care", "added_first_entry", "added_reentry", "added_month_returned",
              "added_referral")

def _unit_costs(p: dict[str, np.ndarray], spec: ModelSpec, row: str, proceedings_per_entry: dict[str, np.ndarray],
                weight=None) -> dict[str, np.ndarray]:
    """GBP per child of one ledger row: per month (placements ``(B, N)`` by age band) or per event ``(N,)``; only the
    unit costs of :data:`UNIT_COSTS` the row bears (a missing one is 0, so costing skips it).

    A family event (care proceedings, a return home and its support) concerns the children placed together: per child
    it is shared by k (capped at the children per family), not by every child of the family."""
    per_child = 1.0 / p["children_per_family"]
    per_placed_child = 1.0 / np.minimum(p["children_placed_per_family_placement"], p["children_per_family"])

    def paid(name: str) -> np.ndarray | None:
        """A cost parameter in model units if this ledger row bears it, else None."""
        if spec.ledger_row(name) != row:
            return None
        return p[name] if weight is None else p[name] * weight(name)

    # per family → per child: a recurring cost or one at referral ÷ children per family, an entry ÷ children placed
    # together; per proceedings: a family's case, already per child through proceedings_per_entry
    family_share = {"care_entry": per_placed_child, "proceedings": 1.0}
    added = {code: _sum_given(_times(paid(name), family_share.get(code, per_child)
                                     if spec.units.get(name, "").endswith("/family") else 1.0)
                              for name, applies in spec.added_costs if applies == code)
             for code in declarations.APPLIES_TO}
    borne = [t for t in PLACEMENT_TYPES if spec.ledger_row(f"cost_{t}") == row]  # placement types this row pays for
    proceedings = _sum_given((paid("court_cost_proceedings"), paid("la_legal_cost_proceedings")))
    support = paid("case_support_cost")
    units = {
        "placement_month": np.stack([sum_arrays(p[f"mix:{b.name}:{t}"] * paid(f"cost_{t}") for t in borne)
                                     for b in spec.age_bands]) if borne else None,  # (B, N)
        "first_entry": _times(proceedings, proceedings_per_entry["first_entry"]),
        "reentry": _times(proceedings, proceedings_per_entry["reentry"]),
        "reunification": _times(paid("reunification_support_cost"), per_placed_child),
        "support_month": _times(support, per_child),
        "return_support_month": _times(support, per_placed_child),
        "allowance_month": paid("sgo_allowance"),
        # added cost rows: per month in care, per care entry (and per proceedings issued), per month at home after a
        # return, per referral
        "added_month_in_care": added["month_in_care"],
        **{f"added_{event}": _sum_given((added["care_entry"], _times(added["proceedings"], proceedings_per_entry[event])))
           for event in ("first_entry", "reentry")},
        "added_month_returned": added["month_at_home_after_return"],
        "added_referral": added["referral"],
    }
    return {k: v for k, v in units.items() if v is not None}

def _structure(values: pd.DataFrame, name: str) -> np.ndarray | None:
    """A per-iteration structural choice drawn by the PSA (column ``structure:<name>``), if present."""
    col = f"structure:{name}"
    return values[col].to_numpy() if col in values.columns else None

def _care_probability(p: dict[str, np.ndarray], kind: str, bands: tuple[str, ...]) -> np.ndarray:
    """Monthly probabilities ``(bands, N)`` of one transition type, scaled on the rate scale by its multiplier."""
    base = np.stack([p[f"{kind}_{b}"] for b in bands])
    m = p.get(f"care_multiplier_{kind}")
    if m is None:
        return base
    return -np.expm1(np.log1p(-np.minimum(base, 1.0 - 1e-15)) * m)

def _simulate(values: pd.DataFrame, spec: ModelSpec, keep_trace: bool, kernel: str | None = None) -> _Cohort:
    linked, reordered = linked_risk_knots(values, spec)
    p = to_model_units(values, spec, linked)
    n = len(values)
    horizons = spec.band_horizons()
    n_cycles = int(horizons.max())
    cpf = p["children_per_family"]
    if np.any(cpf <= 0):
        raise ModelError("children_per_family must be positive")

    after_effect, no_effect = _structure(values, "after_effect"), _structure(values, "no_effect")
    if keep_trace or choose_kernel(kernel) == "numpy":  # a kept trace is the numpy reference's (no compiler)
        entry, bound = first_entry_probabilities(p, spec, n_cycles, after_effect, no_effect, "numpy")
        curves = None
    else:  # the compiled kernel computes the entries as it goes, and the running-maximum flags into curves.bound
        entry, curves = None, entry_curves(p, spec, n_cycles, after_effect, no_effect)
        bound = curves.bound
    _, capped = child_risk_factor(p)

    reunify, permanence = _care_probability(p, "reunify", CARE_BANDS), _care_probability(p, "permanence", CARE_BANDS)
    exits = reunify + permanence  # (care bands, N): every band has tunnels
    over = exits > 1.0
    rescaled = np.any(over, axis=0)  # competing exits: rescaled proportionally to sum to 1
    scale = np.where(over, 1.0 / np.maximum(exits, 1e-300), 1.0)
    # (N, tunnels), each band's row repeated for its tunnels (bands as rows: reductions and copies along N)
    reunify, permanence = (reunify * scale)[CARE_BAND_OF_TUNNEL].T, (permanence * scale)[CARE_BAND_OF_TUNNEL].T
    reentry = _care_probability(p, "reentry", RETURN_BANDS)[RETURN_BAND_OF_TUNNEL].T

    support_after_return = np.round(p["return_support_months"]).astype(int)
    if np.any(support_after_return != support_after_return[0]) or not 0 <= support_after_return[0] <= RETURN_TUNNELS:
        raise ModelError(f"return_support_months must be one whole number from 0 to {RETURN_TUNNELS} across all iterations")
    m_ret = int(support_after_return[0])
    rewards = {
        "at_home": Reward(state_values=state_indicator(HOME)),
        "in_care": Reward(state_values=state_indicator(CARE)),
        "living_at_home": Reward(state_values=state_indicator(HOME, RETURNED)),
        "return_support": Reward(state_values=state_indicator(slice(RETURNED.start, RETURNED.start + m_ret))),
        "left_care": Reward(state_values=state_indicator(LEFT)),
        "first_entries": Reward(transition_values=np.array([1.0, 0, 0, 0])),
        "care_entries": Reward(transition_values=np.array([1.0, 1.0, 0, 0])),
        "reunifications": Reward(transition_values=np.array([0, 0, 1.0, 0])),
    }
    transitions = FamilyStatesTransitions(entry, reunify, permanence, reentry, entry_checked=True, curves=curves)
    support_months = np.round(p["case_support_months"]).astype(int)
    # the totals the costing asks for, computed in the loop
    totals_at = set(horizons.tolist()) | {min(int(m), int(h)) for m in np.unique(support_months) if m > 0 for h in horizons}
    totals_at |= {edge for windows in spec.band_windows() for _, start, end in windows for edge in (start, end) if edge > 0}
    rc, ro = spec.discount_rate_costs, spec.discount_rate_outcomes
    rates = {"at_home": (rc,), "return_support": (rc,), "in_care": (rc, ro, 0.0), "care_entries": (rc, ro, 0.0),
             "reunifications": (rc,), "left_care": (rc,), "first_entries": (ro, 0.0, rc),
             "living_at_home": (rc, ro, 0.0)}  # the totals run_model reads
    result = simulate_family_states(np.eye(N_STATES)[HOME], transitions, n_cycles, rewards, spec.conventions, keep_trace,
                                    horizons=sorted(totals_at), rates=rates, rows=range(0, n_cycles + 1, 12), kernel=kernel)

    # a family event (care proceedings, a return home and its support) concerns the children placed together:
    # per child it is shared by k (capped at the children per family), not by every child of the family
    per_placed_child = 1.0 / np.minimum(p["children_placed_per_family_placement"], cpf)
    # a family's proceedings, per child's entry: shared by the children placed together
    proceedings_per_entry = {"first_entry": p["share_entries_with_proceedings"] * per_placed_child,
                             "reentry": p["share_reentries_with_proceedings"] * per_placed_child}
    per_child = 1.0 / cpf
    programme: dict[str, np.ndarray] = {}  # ledger row -> (K, N), for the rows that bear a programme cost
    for k, s in enumerate(spec.strategies):
        if s.cost_method == "per_family":
            row, cost = spec.ledger_row("ifpp_cost_per_family"), p["ifpp_cost_per_family"] * s.cost_multiplier * per_child
        elif s.cost_method == "bottom_up":
            # cost per FTE is an annual salary with on-costs: uplifted, not converted to a monthly cost
            salary = values["cost_per_fte"].to_numpy(float) * spec.price_factors.get("cost_per_fte", 1.0)
            row = spec.ledger_row("cost_per_fte")
            cost = p["team_fte"] * salary / p["families_per_team_year"] * s.cost_multiplier * per_child
        elif s.cost_method == "none":
            continue
        else:
            raise ModelError(f"unknown cost method {s.cost_method!r} for strategy {s.name!r}")
        programme.setdefault(row, np.zeros((len(spec.strategies), n)))[k] = cost
    shares = np.stack([p[f"age_share:{b.name}"] for b in spec.age_bands])  # (B, N)
    return _Cohort(spec, result, horizons, shares, support_months, p,
                   programme, cpf, proceedings_per_entry, bound, rescaled, reordered, capped)

def _read_total(result: CohortResult | FamilyStatesResult):
    """``result.total`` for totals only read: the compiled loop's without a copy (:meth:`.FamilyStatesResult.total_view`)."""
    return result.total_view if isinstance(result, FamilyStatesResult) else result.total

def _band_totals(c: _Cohort) -> Iterator[dict[str, Any]]:
    """Discounted occupancy and event totals per child ``(K, N)`` of each age band in turn (followed to its horizon),
    only to be read."""
    total, rc = _read_total(c.result), c.spec.discount_rate_costs
    support = {int(m): c.support_months == m for m in np.unique(c.support_months) if m > 0}  # months → iterations
    for h, windows in zip(c.horizons.tolist(), c.spec.band_windows()):
        first = total("first_entries", h, rc)
        home_support = np.zeros_like(first)
        for m, cols in support.items():
            home_support = np.where(cols, total("at_home", min(m, h), rc), home_support)
        in_care = [(j, total("in_care", end, rc) - (total("in_care", start, rc) if start > 0 else 0.0))
                   for j, start, end in windows]
        yield {"home_support_months": home_support, "return_support_months": total("return_support", h, rc),
               "first_entries": first, "reentries": total("care_entries", h, rc) - first,
               "returned_months": total("living_at_home", h, rc) - total("at_home", h, rc),
               "in_care_by_band": in_care, "referrals": np.ones_like(first),
               **{name: total(name, h, rc) for name in ("in_care", "reunifications", "left_care")}}

COST_TERMS = {  # cost category -> (total of _band_totals, unit cost) pairs, added in this order (placements apart)
    "cost_proceedings": (("first_entries", "first_entry"), ("reentries", "reentry")),
    "cost_reunification": (("reunifications", "reunification"),),
    "cost_case_support": (("home_support_months", "support_month"), ("return_support_months", "return_support_month")),
    "cost_allowances": (("left_care", "allowance_month"),),
    "cost_added": (("in_care", "added_month_in_care"), ("first_entries", "added_first_entry"),
                   ("reentries", "added_reentry"), ("returned_months", "added_month_returned"),
                   ("referrals", "added_referral")),
}

def _band_costs(totals: dict, units: dict[str, np.ndarray], programme: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per-child discounted costs ``(K, N)`` by category (in :data:`COST_CATEGORIES` order) for one age band at
    referral, valued with one ledger row's unit costs (:func:`_unit_costs`) and programme cost: only the categories
    it bears (a missing one is 0). Months in care are valued at the placement mix of the age band the child is in
    as it ages."""
    placement = units.get("placement_month")  # (B, N)
    costs = {"cost_intervention": programme,
             "cost_placements": None if placement is None else _sum_given(months * placement[j]
                                                                          for j, months in totals["in_care_by_band"]),
             **{category: _sum_given(totals[total] * units[unit] for total, unit in terms if unit in units)
                for category, terms in COST_TERMS.items()}}
    return {category: cost for category, cost in costs.items() if cost is not None}

def _summed(terms: Iterable[np.ndarray | None], shape: tuple[int, int]) -> np.ndarray:
    """The sum of the arrays given (a new array; None = 0), zeros ``shape`` if none is."""
    total = _sum_given(terms)
    return np.zeros(shape) if total is None else total

def _band_outcomes(c: _Cohort, totals: dict, h: int, units: dict[str, dict[str, np.ndarray]],
                   at_home: dict[int, np.ndarray], shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """One age band's per-child outcomes ``(K, N)`` (``shape``), followed for ``h`` cycles: costs by category,
    perspective and payer-ledger row, then events and time at home. ``totals``: the band's :func:`_band_totals`;
    ``units``: ledger row → its :func:`_unit_costs`; ``at_home``: years → the share living at home then."""
    spec, result, ro = c.spec, c.result, c.spec.discount_rate_outcomes
    # ledger row -> discounted cost per child by category it bears
    row_costs = {row: _band_costs(totals, row_units, c.programme.get(row)) for row, row_units in units.items()}
    band: dict[str, np.ndarray] = {}
    for perspective, payers in PERSPECTIVE_PAYERS.items():
        rows = [r for r in row_costs if spec.ledger_payer(r) in payers]
        costs = {cat: _sum_given(row_costs[r].get(cat) for r in rows) for cat in COST_CATEGORIES}
        band[f"cost_{perspective}"] = _summed(costs.values(), shape)
        if perspective == spec.perspective:
            band.update({cat: np.zeros(shape) if cost is None else cost for cat, cost in costs.items()})
            band["cost"] = band[f"cost_{perspective}"]
    for row, row_cost in row_costs.items():  # the payer ledger: each row's cost per child, whatever the perspective
        band[PAYER_PREFIX + row] = _summed(row_cost.values(), shape)
    band["cost_per_family"] = band["cost"] * c.cpf
    band["first_placements"] = result.total("first_entries", h, ro)
    band["first_placements_undiscounted"] = result.total("first_entries", h, 0.0)
    band["care_entries"] = result.total("care_entries", h, ro)
    band["care_months"] = result.total("in_care", h, ro)
    # children's outcomes (cost-consequence): counts per child referred, undiscounted, to age 18
    band["care_entries_undiscounted"] = result.total("care_entries", h, 0.0)
    band["care_months_undiscounted"] = result.total("in_care", h, 0.0)
    band["reentries"] = band["care_entries_undiscounted"] - band["first_placements_undiscounted"]
    band["proceedings_issued"] = (band["first_placements_undiscounted"] * c.proceedings_per_entry["first_entry"]
                                  + band["reentries"] * c.proceedings_per_entry["reentry"])
    band["child_years_at_home"] = _read_total(result)("living_at_home", h, ro) / 12.0
    band["child_years_at_home_undiscounted"] = _read_total(result)("living_at_home", h, 0.0) / 12.0
    for years in (1, 2, 5):  # past the band's horizon (18th birthday): not applicable
        band[f"living_at_home_{years}y"] = at_home[years].copy() if 12 * years <= h else np.full(shape, np.nan)
    return band

def run_model(values: pd.DataFrame, spec: ModelSpec, keep_trace: bool = False, kernel: str | None = None) -> ModelResults:
    """Evaluate every strategy for every row of ``values`` (iterations × parameters, workbook units).

    Outcomes are per child, weighted over the age bands by their shares; ``by_band`` holds each band's own
    per-child results. ``cost`` counts the payers of ``spec.perspective``; ``cost_local_authority`` and
    ``cost_public_sector`` give both perspectives. ``kernel``: as :func:`ifpp_econ.kernels.choose_kernel`
    (a few iterations run as fast on the numpy reference, without importing the compiler).
    """
    c = _simulate(values, spec, keep_trace, kernel)
    result, horizons, shares = c.result, c.horizons, c.shares
    shape = (len(spec.strategies), len(c.cpf))  # (K, N)
    ledger = spec.ledger_rows()
    units = {row: _unit_costs(c.p, spec, row, c.proceedings_per_entry) for row in ledger}
    n_cycles = int(horizons.max())
    at_home = {years: result.row_values["living_at_home"][..., 12 * years] for years in (1, 2, 5) if 12 * years <= n_cycles}
    # band by band: about one band's totals and costs are held at a time (less memory to allocate afresh)
    by_band = {band.name: _band_outcomes(c, totals, h, units, at_home, shape)
               for band, totals, h in zip(spec.age_bands, _band_totals(c), horizons.tolist())}
    bands = list(by_band.values())
    weights = np.repeat(shares[:, None, :], shape[0], axis=1)  # (B, K, N): each band's shares, one row per strategy
    scratch = np.empty(shape)

    def weighted(key: str) -> np.ndarray:
        """The bands' values of ``key`` ``(K, N)`` weighted by their shares (a new array), added in band order."""
        total = weights[0] * bands[0][key]
        for w, band in zip(weights[1:], bands[1:]):
            total += np.multiply(w, band[key], out=scratch)
        return total

    keys = (*COST_CATEGORIES, "cost", "cost_per_family", "cost_local_authority", "cost_public_sector",
            "first_placements", "first_placements_undiscounted", "care_entries", "care_months",
            "care_entries_undiscounted", "care_months_undiscounted", "proceedings_issued", "reentries",
            "child_years_at_home", "child_years_at_home_undiscounted", *(PAYER_PREFIX + name for name in ledger))
    out = {k: weighted(k) for k in keys}
    for years in (1, 2, 5):
        out[f"living_at_home_{years}y"] = at_home[years] if years in at_home else np.full(shape, np.nan)
    return ModelResults(spec.strategy_names, spec.comparator, out, c.curve_rule_bound, c.exits_rescaled, result.trace,
                        n_cycles, by_band, shares, c.risk_curve_reordered, c.child_risk_capped)

CASH_CATEGORIES = COST_CATEGORIES


class MonthlyCash:
    """Undiscounted cash per child by month since referral, ``(K, N, T)`` per cost category, from one simulation.

    Month m is cycle m (m = 1..T). Occupancy costs in month m use the occupancy of cycle m
    under the workbook's correction (start: row m−1; end: row m; half-cycle and Simpson:
    the mean of rows m−1 and m, so months add up to the trapezoid total); one-off costs
    fall in the month of the move; the programme cost and per-referral rows in month 1. Children leave at 18:
    each age band's cash stops at its horizon. Summed over all months these equal the
    undiscounted totals (exactly, except Simpson's rule, whose weights do not split by month).
    """

    def __init__(self, values: pd.DataFrame, spec: ModelSpec):
        self.spec = spec
        self.c = c = _simulate(values, spec, keep_trace=False)
        n_cycles = int(c.horizons.max())
        months = np.arange(1, n_cycles + 1)
        self.alive = sum_arrays(c.shares[b][:, None] * (months[None, :] <= h) for b, h in enumerate(c.horizons))  # (N, T)
        self.home_support = np.zeros_like(self.alive)
        for m in np.unique(c.support_months):
            cols = c.support_months == m
            self.home_support[cols] = self.alive[cols] * (months[None, :] <= m)
        self.months = months
        # not cash: first placements per child by month (undiscounted), for placements avoided by budget year
        self.first_placements = c.result.flow_values["first_entries"] * self.alive

    def _per_cycle(self, rows: np.ndarray) -> np.ndarray:
        if self.spec.counting == "start":
            return rows[..., :-1]
        if self.spec.counting == "end":
            return rows[..., 1:]
        return 0.5 * (rows[..., :-1] + rows[..., 1:])

    def cash(self, payers=None, rows=None, weight=None) -> dict[str, np.ndarray]:
        """Cash ``(K, N, T)`` by category borne by ``payers`` (default: the perspective's) or by ledger ``rows``;
        ``weight(name)`` scales each cost parameter (e.g. its cashable share)."""
        c, alive, months, per_cycle = self.c, self.alive, self.months, self._per_cycle
        rv, fv = c.result.row_values, c.result.flow_values
        if rows is None and payers is None:
            payers = PERSPECTIVE_PAYERS[self.spec.perspective]
        unit, prog = c.units(payers, rows, weight)
        # placements: the mix of the age band each referral band's children are in as they age (share-weighted)
        placement_month = sum_arrays(c.shares[b][:, None] * ((months[None, :] > start) & (months[None, :] <= end))
                                     * unit["placement_month"][j][:, None]
                                     for b, windows in enumerate(self.spec.band_windows())
                                     for j, start, end in windows)  # (N, T)
        in_care = per_cycle(rv["in_care"])
        first = np.asarray(fv["first_entries"]) * alive
        reentries = np.asarray(fv["care_entries"]) * alive - first
        returned = per_cycle(np.asarray(rv["living_at_home"]) - np.asarray(rv["at_home"])) * alive
        cash = {
            "cost_placements": in_care * placement_month,
            "cost_proceedings": first * unit["first_entry"][:, None] + reentries * unit["reentry"][:, None],
            "cost_reunification": fv["reunifications"] * alive * unit["reunification"][:, None],
            "cost_case_support": per_cycle(rv["at_home"]) * self.home_support * unit["support_month"][:, None]
            + per_cycle(rv["return_support"]) * alive * unit["return_support_month"][:, None],
            "cost_allowances": per_cycle(rv["left_care"]) * alive * unit["allowance_month"][:, None],
            "cost_added": (in_care * alive * unit["added_month_in_care"][:, None]
                           + first * unit["added_first_entry"][:, None] + reentries * unit["added_reentry"][:, None]
                           + returned * unit["added_month_returned"][:, None]),
        }
        programme = np.zeros_like(cash["cost_placements"])
        programme[..., 0] = prog
        cash["cost_added"][..., 0] += unit["added_referral"][None, :]
        return {"cost_intervention": programme, **cash}


def monthly_cash(values: pd.DataFrame, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Undiscounted cash per child by month since referral, ``(K, N, T)`` per cost category, borne by the
    perspective's payers, and ``first_placements`` by month (see :class:`MonthlyCash`)."""
    m = MonthlyCash(values, spec)
    return {**m.cash(), "first_placements": m.first_placements}

def load_kernels(inputs) -> None:
    """Load the compiled kernel that runs batches on one thread now (from numba's cache; about 0.4 s the first time
    in a process, as numba sets itself up) by running the base case on it, so that processes forked afterwards
    inherit it ready (the report's compute worker runs on one thread). Nothing computed is kept; without numba,
    nothing is done."""
    if choose_kernel() != "numba":
        return
    from .spec import base_values, build_spec

    run_model(base_values(inputs), build_spec(inputs))
