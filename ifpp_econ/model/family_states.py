"""The IFPP family-states model: parameter values (iterations × parameters) → outcomes.

The model knows nothing about Excel: it takes a :class:`~.spec.ModelSpec` (strategies, age
bands, conventions, units) and a table of parameter values in workbook units with one
row per iteration, and returns arrays ``(strategies, iterations)``: it converts units, builds each
strategy's first-entry curves (:mod:`.entry`) and care dynamics, runs the family states (:mod:`.states`)
through the compiled kernel (:mod:`.kernels`) or the engine's numpy reference, and values the totals by payer.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import declarations
from ..engine import CohortResult, Reward
from ..engine.threads import choose_kernel
from ..exceptions import ModelError
from ..inputs import units
from .entry import child_risk_factor, entry_curves, first_entry_probabilities, link_cumulative_risks
from .kernels import simulate_family_states
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

def to_model_units(values: pd.DataFrame, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Workbook-unit values (iterations × parameters) → arrays ``(N,)`` in model units.

    Recurring costs become GBP per month, one-off costs GBP per episode, both at the
    analysis price year; period probabilities become monthly probabilities. Per-family
    costs stay per family here (children per family is itself uncertain).
    """
    out = {}
    table = values.to_numpy(dtype=float)  # (N, P): one view of the draws' single block (no per-column lookups)
    for j, name in enumerate(values.columns):
        v = table[:, j]
        unit = spec.units.get(name)
        if unit is not None:  # salaries (GBP/year) and hourly rates (GBP/hour) keep their unit
            v = units.to_model_units(v, unit)
        out[name] = v * spec.price_factors.get(name, 1.0)
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
        """One iteration's outcomes as a DataFrame (rows = strategies)."""
        return pd.DataFrame({k: v[:, iteration] for k, v in self.outcomes.items()}, index=pd.Index(self.strategies, name="strategy"))

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
                   "cost_case_support", "cost_allowances")

@dataclass
class _Cohort:
    """One simulation of every strategy and iteration, with the unit costs to value it."""

    spec: ModelSpec
    result: CohortResult
    horizons: np.ndarray  # (B,) cycles per age band
    shares: np.ndarray  # (B, N) age-band shares
    support_months: np.ndarray  # (N,) months of case support at home after referral
    units_by_payer: dict[str, dict[str, np.ndarray]]  # payer -> GBP per child: per month or per event; placement (B, N)
    programme: dict[str, np.ndarray]  # payer -> (K, N) programme cost per child at referral
    cpf: np.ndarray  # (N,) children per family
    curve_rule_bound: np.ndarray
    exits_rescaled: np.ndarray
    risk_curve_reordered: np.ndarray
    child_risk_capped: np.ndarray

    def units(self, payers) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Unit costs and programme cost counted by a set of payers."""
        units = {k: sum_arrays(self.units_by_payer[p][k] for p in payers) for k in self.units_by_payer["LA"]}
        return units, sum_arrays(self.programme[p] for p in payers)

def _structure(values: pd.DataFrame, name: str) -> np.ndarray | None:
    """A per-iteration structural choice drawn by the PSA (column ``structure:<name>``), if present."""
    col = f"structure:{name}"
    return values[col].to_numpy() if col in values.columns else None

def _care_probability(p: dict[str, np.ndarray], kind: str, bands: tuple[str, ...]) -> np.ndarray:
    """Monthly probabilities ``(N, bands)`` of one transition type, scaled on the rate scale by its multiplier."""
    base = np.stack([p[f"{kind}_{b}"] for b in bands], -1)
    m = p.get(f"care_multiplier_{kind}")
    if m is None:
        return base
    return -np.expm1(np.log1p(-np.minimum(base, 1.0 - 1e-15)) * m[:, None])

def _simulate(values: pd.DataFrame, spec: ModelSpec, keep_trace: bool, kernel: str | None = None) -> _Cohort:
    values, reordered = link_cumulative_risks(values, spec)
    p = to_model_units(values, spec)
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

    reunify = _care_probability(p, "reunify", CARE_BANDS)[:, CARE_BAND_OF_TUNNEL]
    permanence = _care_probability(p, "permanence", CARE_BANDS)[:, CARE_BAND_OF_TUNNEL]
    exits = reunify + permanence
    rescaled = np.any(exits > 1.0, axis=1)  # competing exits: rescaled proportionally to sum to 1
    scale = np.where(exits > 1.0, 1.0 / np.maximum(exits, 1e-300), 1.0)
    reunify, permanence = reunify * scale, permanence * scale
    reentry = _care_probability(p, "reentry", RETURN_BANDS)[:, RETURN_BAND_OF_TUNNEL]

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
    support = np.unique(np.round(p["case_support_months"]).astype(int))  # totals the costing asks for, computed in the loop
    totals_at = set(horizons.tolist()) | {min(int(m), int(h)) for m in support if m > 0 for h in horizons}
    totals_at |= {edge for windows in spec.band_windows() for _, start, end in windows for edge in (start, end) if edge > 0}
    rc, ro = spec.discount_rate_costs, spec.discount_rate_outcomes
    rates = {"at_home": (rc,), "return_support": (rc,), "in_care": (rc, ro), "care_entries": (rc, ro),
             "reunifications": (rc,), "left_care": (rc,), "first_entries": (ro, 0.0, rc)}  # the totals run_model reads
    result = simulate_family_states(np.eye(N_STATES)[HOME], transitions, n_cycles, rewards, spec.conventions, keep_trace,
                                    horizons=sorted(totals_at), rates=rates, rows=range(0, n_cycles + 1, 12), kernel=kernel)

    per_child = 1.0 / cpf
    # a family event (care proceedings, a return home and its support) concerns the children placed together:
    # per child it is shared by k (capped at the children per family), not by every child of the family
    per_placed_child = 1.0 / np.minimum(p["children_placed_per_family_placement"], cpf)
    zero = np.zeros(n)

    def paid(name: str, payer: str) -> np.ndarray:
        """A cost parameter in model units if ``payer`` pays it, else 0."""
        return p[name] if spec.payers.get(name, "LA") == payer else zero

    units_by_payer, programme = {}, {}
    for payer in ("LA", "HMCTS"):
        proceedings = paid("court_cost_proceedings", payer) + paid("la_legal_cost_proceedings", payer)
        units_by_payer[payer] = {
            "placement_month": np.stack([sum(p[f"mix:{b.name}:{t}"] * paid(f"cost_{t}", payer) for t in PLACEMENT_TYPES)
                                         for b in spec.age_bands]),  # (B, N)
            "first_entry": p["share_entries_with_proceedings"] * proceedings * per_placed_child,
            "reentry": p["share_reentries_with_proceedings"] * proceedings * per_placed_child,
            "reunification": paid("reunification_support_cost", payer) * per_placed_child,
            "support_month": paid("case_support_cost", payer) * per_child,
            "return_support_month": paid("case_support_cost", payer) * per_placed_child,
            "allowance_month": paid("sgo_allowance", payer),
        }
        prog = np.zeros((len(spec.strategies), n))
        for k, s in enumerate(spec.strategies):
            if s.cost_method == "per_family":
                prog[k] = paid("ifpp_cost_per_family", payer) * s.cost_multiplier * per_child
            elif s.cost_method == "bottom_up":
                # cost per FTE is an annual salary with on-costs: uplifted, not converted to a monthly cost
                salary = values["cost_per_fte"].to_numpy(float) * spec.price_factors.get("cost_per_fte", 1.0)
                salary = salary if spec.payers.get("cost_per_fte", "LA") == payer else zero
                prog[k] = p["team_fte"] * salary / p["families_per_team_year"] * s.cost_multiplier * per_child
            elif s.cost_method != "none":
                raise ModelError(f"unknown cost method {s.cost_method!r} for strategy {s.name!r}")
        programme[payer] = prog
    shares = np.stack([p[f"age_share:{b.name}"] for b in spec.age_bands])  # (B, N)
    return _Cohort(spec, result, horizons, shares, np.round(p["case_support_months"]).astype(int), units_by_payer,
                   programme, cpf, bound, rescaled, reordered, capped)

def _band_totals(c: _Cohort, band: int) -> dict[str, np.ndarray]:
    """Discounted occupancy and event totals per child ``(K, N)`` for one age band (followed to its horizon)."""
    result, h, rc = c.result, int(c.horizons[band]), c.spec.discount_rate_costs
    home_support = np.zeros(c.result.row_values["at_home"].shape[:-1])
    for m in np.unique(c.support_months):
        cols = c.support_months == m
        if m > 0:
            home_support[:, cols] = result.total("at_home", min(int(m), h), rc)[:, cols]
    first = result.total("first_entries", h, rc)
    in_care = [(j, result.total("in_care", end, rc) - (result.total("in_care", start, rc) if start > 0 else 0.0))
               for j, start, end in c.spec.band_windows()[band]]
    return {"home_support_months": home_support, "return_support_months": result.total("return_support", h, rc),
            "first_entries": first, "reentries": result.total("care_entries", h, rc) - first,
            "in_care_by_band": in_care,
            **{name: result.total(name, h, rc) for name in ("in_care", "reunifications", "left_care")}}

def _band_costs(totals: dict, units: dict[str, np.ndarray], programme: np.ndarray) -> dict[str, np.ndarray]:
    """Per-child discounted costs ``(K, N)`` by category for one age band at referral, valued with one payer set's
    unit costs: months in care at the placement mix of the age band the child is in as it ages."""
    return {
        "cost_intervention": programme,
        "cost_placements": sum_arrays(months * units["placement_month"][j] for j, months in totals["in_care_by_band"]),
        "cost_proceedings": totals["first_entries"] * units["first_entry"] + totals["reentries"] * units["reentry"],
        "cost_reunification": totals["reunifications"] * units["reunification"],
        "cost_case_support": (totals["home_support_months"] * units["support_month"]
                              + totals["return_support_months"] * units["return_support_month"]),
        "cost_allowances": totals["left_care"] * units["allowance_month"],
    }

def run_model(values: pd.DataFrame, spec: ModelSpec, keep_trace: bool = False, kernel: str | None = None) -> ModelResults:
    """Evaluate every strategy for every row of ``values`` (iterations × parameters, workbook units).

    Outcomes are per child, weighted over the age bands by their shares; ``by_band`` holds each band's own
    per-child results. ``cost`` counts the payers of ``spec.perspective``; ``cost_local_authority`` and
    ``cost_public_sector`` give both perspectives. ``kernel``: as :func:`ifpp_econ.kernels.choose_kernel`
    (a few iterations run as fast on the numpy reference, without importing the compiler).
    """
    c = _simulate(values, spec, keep_trace, kernel)
    result, horizons, shares = c.result, c.horizons, c.shares
    ro = spec.discount_rate_outcomes
    bands = [b.name for b in spec.age_bands]
    by_band: dict[str, dict[str, np.ndarray]] = {}
    totals = [_band_totals(c, b) for b in range(len(bands))]
    for perspective, payers in PERSPECTIVE_PAYERS.items():
        units, programme = c.units(payers)
        for b, name in enumerate(bands):
            costs = _band_costs(totals[b], units, programme)
            band = by_band.setdefault(name, {})
            band[f"cost_{perspective}"] = sum_arrays(costs.values())
            if perspective == spec.perspective:
                band.update(costs)
                band["cost"] = band[f"cost_{perspective}"]
    for b, name in enumerate(bands):
        h = int(horizons[b])
        band = by_band[name]
        band["cost_per_family"] = band["cost"] * c.cpf
        band["first_placements"] = result.total("first_entries", h, ro)
        band["first_placements_undiscounted"] = result.total("first_entries", h, 0.0)
        band["care_entries"] = result.total("care_entries", h, ro)
        band["care_months"] = result.total("in_care", h, ro)

    def weighted(key: str) -> np.ndarray:
        return sum(shares[b] * by_band[name][key] for b, name in enumerate(bands))

    keys = (*COST_CATEGORIES, "cost", "cost_per_family", "cost_local_authority", "cost_public_sector",
            "first_placements", "first_placements_undiscounted", "care_entries", "care_months")
    out = {k: weighted(k) for k in keys}
    n_strategies, n = c.programme["LA"].shape
    n_cycles = int(horizons.max())
    for years in (1, 2, 5):
        row = 12 * years
        out[f"living_at_home_{years}y"] = (
            result.row_values["living_at_home"][..., row] if row <= n_cycles else np.full((n_strategies, n), np.nan)
        )
    return ModelResults(spec.strategy_names, spec.comparator, out, c.curve_rule_bound, c.exits_rescaled, result.trace,
                        n_cycles, by_band, shares, c.risk_curve_reordered, c.child_risk_capped)

CASH_CATEGORIES = ("cost_intervention", "cost_placements", "cost_proceedings", "cost_reunification",
                   "cost_case_support", "cost_allowances")

def monthly_cash(values: pd.DataFrame, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Undiscounted cash per child by month since referral, ``(K, N, T)`` per cost category.

    Month m is cycle m (m = 1..T). Occupancy costs in month m use the occupancy of cycle m
    under the workbook's correction (start: row m−1; end: row m; half-cycle and Simpson:
    the mean of rows m−1 and m, so months add up to the trapezoid total); one-off costs
    fall in the month of the move; the programme cost in month 1. Children leave at 18:
    each age band's cash stops at its horizon. Summed over all months these equal the
    undiscounted totals (exactly, except Simpson's rule, whose weights do not split by month).
    """
    c = _simulate(values, spec, keep_trace=False)
    rv, fv = c.result.row_values, c.result.flow_values
    n_cycles = int(c.horizons.max())

    def per_cycle(rows: np.ndarray) -> np.ndarray:
        if spec.counting == "start":
            return rows[..., :-1]
        if spec.counting == "end":
            return rows[..., 1:]
        return 0.5 * (rows[..., :-1] + rows[..., 1:])

    months = np.arange(1, n_cycles + 1)
    alive = sum(c.shares[b][:, None] * (months[None, :] <= h) for b, h in enumerate(c.horizons))  # (N, T)
    home_support = np.zeros_like(alive)
    for m in np.unique(c.support_months):
        cols = c.support_months == m
        home_support[cols] = alive[cols] * (months[None, :] <= m)
    unit, prog = c.units(PERSPECTIVE_PAYERS[spec.perspective])
    # placements: the mix of the age band each referral band's children are in as they age (share-weighted)
    placement_month = sum(c.shares[b][:, None] * ((months[None, :] > start) & (months[None, :] <= end))
                          * unit["placement_month"][j][:, None]
                          for b, windows in enumerate(spec.band_windows()) for j, start, end in windows)  # (N, T)
    first = np.asarray(fv["first_entries"])
    cash = {
        "cost_placements": per_cycle(rv["in_care"]) * placement_month,
        "cost_proceedings": (first * unit["first_entry"][:, None]
                             + (np.asarray(fv["care_entries"]) - first) * unit["reentry"][:, None]) * alive,
        "cost_reunification": fv["reunifications"] * alive * unit["reunification"][:, None],
        "cost_case_support": per_cycle(rv["at_home"]) * home_support * unit["support_month"][:, None]
        + per_cycle(rv["return_support"]) * alive * unit["return_support_month"][:, None],
        "cost_allowances": per_cycle(rv["left_care"]) * alive * unit["allowance_month"][:, None],
    }
    programme = np.zeros_like(cash["cost_placements"])
    programme[..., 0] = prog
    # not cash: first placements per child by month (undiscounted), for placements avoided by budget year
    return {"cost_intervention": programme, **cash, "first_placements": fv["first_entries"] * alive}

def load_kernels(inputs) -> None:
    """Load the compiled kernel that runs batches on one thread now (from numba's cache; about 0.4 s the first time
    in a process, as numba sets itself up) by running the base case on it, so that processes forked afterwards
    inherit it ready (the report's compute worker runs on one thread). Nothing computed is kept; without numba,
    nothing is done."""
    if choose_kernel() != "numba":
        return
    from .spec import base_values, build_spec

    run_model(base_values(inputs), build_spec(inputs))
