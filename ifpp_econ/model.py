"""The IFPP family-states model: parameter values (iterations × parameters) → outcomes.

States (40): ``at_home`` (never placed since referral); ``in_care_0m`` … ``in_care_23m``
and ``in_care_24m_plus`` (tunnels by completed months in the current episode);
``returned_0m`` … ``returned_11m`` and ``returned_12m_plus`` (tunnels by completed
months since the return home); ``left_care`` (adoption, special guardianship, other
permanence; absorbing). Monthly cycles. A child who enters care during cycle t is in
``in_care_0m`` at row t; re-entry restarts the care tunnel.

The model knows nothing about Excel: it takes a :class:`ModelSpec` (strategies, age
bands, conventions, units) and a table of parameter values in workbook units with one
row per iteration, and returns arrays ``(strategies, iterations)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .engine import Conventions, Reward, TransitionError, simulate
from . import units
from .exceptions import InputError

CARE_TUNNELS = 24  # months 0..23, then 24+
RETURN_TUNNELS = 12  # months 0..11, then 12+
STATE_NAMES = (
    ["at_home"]
    + [f"in_care_{m}m" for m in range(CARE_TUNNELS)]
    + [f"in_care_{CARE_TUNNELS}m_plus"]
    + [f"returned_{k}m" for k in range(RETURN_TUNNELS)]
    + [f"returned_{RETURN_TUNNELS}m_plus"]
    + ["left_care"]
)
N_STATES = len(STATE_NAMES)
HOME = 0
CARE = slice(1, 2 + CARE_TUNNELS)
RETURNED = slice(CARE.stop, CARE.stop + RETURN_TUNNELS + 1)
LEFT = N_STATES - 1
MOVES = ("first_entry", "reentry", "reunification", "other_permanence")

# Band of each care tunnel (0-6, 6-12, 12-24, 24+ months) and return tunnel (0-3, 3-12, 12+).
CARE_BANDS = ("0_6m", "6_12m", "12_24m", "24m_plus")
CARE_BAND_OF_TUNNEL = np.searchsorted([6, 12, 24], np.arange(CARE_TUNNELS + 1), side="right")
RETURN_BANDS = ("0_3m", "3_12m", "12m_plus")
RETURN_BAND_OF_TUNNEL = np.searchsorted([3, 12], np.arange(RETURN_TUNNELS + 1), side="right")
RISK_KNOTS = np.array([0, 3, 6, 12, 24])
RR_NAMES = ("rr_3m", "rr_6m", "rr_12m", "rr_24m")
PLACEMENT_TYPES = ("kinship", "la_foster", "ifa", "residential", "with_parents", "other")


class ModelError(InputError, ValueError):
    """Parameter values the model cannot use (message says which and why)."""


@dataclass(frozen=True)
class Strategy:
    name: str
    receives_ifpp: bool
    cost_method: str = "none"  # none | per_family | bottom_up
    cost_multiplier: float = 1.0
    description: str = ""


@dataclass(frozen=True)
class AgeBand:
    name: str
    age_at_referral_years: float


@dataclass(frozen=True)
class ModelSpec:
    """Everything but the parameter values: strategies, bands, settings, units."""

    strategies: tuple[Strategy, ...]
    age_bands: tuple[AgeBand, ...]
    comparator: str
    units: dict[str, str]  # parameter name -> workbook unit
    price_factors: dict[str, float]  # parameter name -> uplift to the analysis price year
    discount_rate_costs: float = 0.035
    discount_rate_outcomes: float = 0.035
    counting: str = "half-cycle"
    horizon_years: float = 18.0
    effect_model: str = "single_rr"  # single_rr | window_rrs
    after_effect: str = "gap_persists"  # gap_persists | catch_up
    catch_up_months: float = 12.0
    price_year: str = ""
    conventions: Conventions = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "conventions", Conventions(counting=self.counting, cycle_years=1.0 / 12.0))
        names = [s.name for s in self.strategies]
        if len(self.strategies) < 2 or len(set(names)) != len(names):
            raise ModelError("need at least two strategies with unique names")
        if self.comparator not in names:
            raise ModelError(f"comparator {self.comparator!r} is not one of the strategies {names}")

    @property
    def strategy_names(self) -> list[str]:
        return [s.name for s in self.strategies]

    @property
    def comparator_index(self) -> int:
        return self.strategy_names.index(self.comparator)

    def band_horizons(self) -> np.ndarray:
        """Cycles (months) each age band is followed: to age 18, capped by the horizon setting."""
        to_18 = np.array([round((18.0 - b.age_at_referral_years) * 12) for b in self.age_bands])
        return np.maximum(np.minimum(to_18, round(self.horizon_years * 12)), 1).astype(int)

    def describe_conventions(self) -> str:
        return (
            f"monthly cycles; within-cycle correction: {self.counting}; discount rates "
            f"{self.discount_rate_costs:.2%} (costs), {self.discount_rate_outcomes:.2%} (outcomes) a year, "
            f"factor (1+r)^-(months/12) from referral; one-off costs at the end of the cycle in which they occur; "
            f"intervention cost at referral, undiscounted; effect model {self.effect_model}, after the effect "
            f"{self.after_effect}; costs in {self.price_year} GBP per child"
        )


def to_model_units(values: pd.DataFrame, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Workbook-unit values (iterations × parameters) → arrays ``(N,)`` in model units.

    Recurring costs become GBP per month, one-off costs GBP per episode, both at the
    analysis price year; period probabilities become monthly probabilities. Per-family
    costs stay per family here (children per family is itself uncertain).
    """
    out = {}
    for name in values.columns:
        v = values[name].to_numpy(dtype=float)
        unit = spec.units.get(name)
        if unit is not None:  # salaries (GBP/year) and hourly rates (GBP/hour) keep their unit
            v = units.to_model_units(v, unit)
        out[name] = v * spec.price_factors.get(name, 1.0)
    return out


def cumulative_entry_curves(p: dict[str, np.ndarray], spec: ModelSpec, n_cycles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative probability of first entry to care by month, ``(N, T+1)``, for usual care and IFPP.

    Usual care: constant monthly hazard between the 0/3/6/12/24-month knots so that the
    curve passes exactly through the workbook's cumulative risks; after 24 months the
    annual risk (as a monthly probability). IFPP: RR × usual-care cumulative risk at each
    month up to the effect duration (single 12-month RR, or the window RRs interpolated
    linearly between 3/6/12/24 months and flat outside); afterwards the absolute gap
    persists, or closes linearly over ``catch_up_months``. A curve may never decrease:
    the IFPP curve is replaced by its running maximum; the third array flags the
    iterations ``(N,)`` where that rule bound.
    """
    risks = np.stack([np.zeros_like(p["risk_12m"])] + [p[f"risk_{k}m"] for k in (3, 6, 12, 24)], -1)
    if np.any(np.diff(risks, axis=-1) < -1e-12) or np.any(risks >= 1):
        raise ModelError("cumulative risks must satisfy 0 ≤ risk_3m ≤ risk_6m ≤ risk_12m ≤ risk_24m < 1")
    log_s = np.log1p(-risks)  # (N, 5)
    months = np.arange(n_cycles + 1)
    within = np.minimum(months, 24)
    i = np.clip(np.searchsorted(RISK_KNOTS, within, side="right") - 1, 0, len(RISK_KNOTS) - 2)
    lam = (within - RISK_KNOTS[i]) / (RISK_KNOTS[i + 1] - RISK_KNOTS[i])
    log_surv = log_s[:, i] * (1 - lam) + log_s[:, i + 1] * lam
    log_surv = log_surv + np.log1p(-p["annual_risk_after_24m"])[:, None] * np.maximum(months - 24, 0)
    usual = -np.expm1(log_surv)  # (N, T+1)

    if spec.effect_model == "single_rr":
        rr = np.broadcast_to(p["rr_12m"][:, None], usual.shape)
    elif spec.effect_model == "window_rrs":
        knots = np.array([3.0, 6.0, 12.0, 24.0])
        window = np.stack([p[n] for n in RR_NAMES], -1)  # (N, 4)
        j = np.clip(np.searchsorted(knots, months, side="right") - 1, 0, 3)
        k = np.minimum(j + 1, 3)
        span = np.where(k > j, knots[k] - knots[j], 1.0)
        lam = np.clip((months - knots[j]) / span, 0.0, 1.0)
        rr = window[:, j] * (1 - lam) + window[:, k] * lam
    else:
        raise ModelError(f"effect_model must be single_rr or window_rrs, got {spec.effect_model!r}")
    duration = np.round(p["effect_duration_months"]).astype(int)  # (N,)
    during = months[None, :] <= duration[:, None]
    treated = np.minimum(rr * usual, 1.0)
    gap = usual[np.arange(len(duration)), np.minimum(duration, n_cycles)] - treated[np.arange(len(duration)), np.minimum(duration, n_cycles)]
    after = np.maximum(months[None, :] - duration[:, None], 0)
    if spec.after_effect == "catch_up":
        fading = np.clip(1.0 - after / max(spec.catch_up_months, 1e-9), 0.0, 1.0)
    elif spec.after_effect == "gap_persists":
        fading = np.ones_like(after, dtype=float)
    else:
        raise ModelError(f"after_effect must be gap_persists or catch_up, got {spec.after_effect!r}")
    ifpp = np.where(during, treated, usual - gap[:, None] * fading)
    ifpp = np.clip(ifpp, 0.0, 1.0 - 1e-12)
    monotone = np.maximum.accumulate(ifpp, axis=1)
    bound = np.any(monotone > ifpp + 1e-12, axis=1)
    return usual, monotone, bound


def hazards_from_curve(cumulative: np.ndarray) -> np.ndarray:
    """Monthly conditional probabilities ``(..., T)`` from a cumulative curve ``(..., T+1)``."""
    survival = 1.0 - cumulative
    return 1.0 - survival[..., 1:] / survival[..., :-1]


class FamilyStatesTransitions:
    """Structured monthly step for the 40 family states, vectorised over (strategy, iteration).

    ``entry``: ``(K, N, T)`` first-entry probabilities by cycle; ``reunify``/``permanence``:
    ``(N, 25)`` per care tunnel; ``reentry``: ``(N, 13)`` per return tunnel. Reported
    moves: first entries, re-entries, reunifications, other-permanence exits.
    """

    n_states = N_STATES
    move_shape = (len(MOVES),)
    state_first = True  # the engine passes x as (S, K, N): tunnel shifts are contiguous slices

    def __init__(self, entry: np.ndarray, reunify: np.ndarray, permanence: np.ndarray, reentry: np.ndarray):
        self.entry, self.reunify, self.permanence, self.reentry = entry, reunify, permanence, reentry
        self.batch_shape = entry.shape[:-1]
        # state-first copies: (T, K, N) and (tunnels, 1, N), broadcasting over strategies
        self.entry_by_cycle = np.ascontiguousarray(np.moveaxis(entry, -1, 0))
        self._reunify = np.ascontiguousarray(reunify.T[:, None, :])
        self._permanence = np.ascontiguousarray(permanence.T[:, None, :])
        self._reentry = np.ascontiguousarray(reentry.T[:, None, :])
        self.stay_care = 1.0 - self._reunify - self._permanence
        self.stay_home = 1.0 - self._reentry
        for name, arr in (("first entry", entry), ("reunification", reunify), ("other permanence", permanence),
                          ("re-entry", reentry), ("staying in care", 1.0 - reunify - permanence)):
            if not np.all(np.isfinite(arr)) or np.any(arr < -1e-12) or np.any(arr > 1 + 1e-12):
                raise TransitionError(f"{name} probabilities outside [0, 1]")

    def step(self, x: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """``x``: ``(S, K, N)`` at row t → ``(S, K, N)`` at row t+1 and moves ``(4, K, N)``."""
        home, care, back = x[HOME], x[CARE], x[RETURNED]
        moves = np.empty((len(MOVES),) + x.shape[1:])
        np.multiply(home, self.entry_by_cycle[t], out=moves[0])
        np.einsum("i...,i...->...", back, self._reentry, out=moves[1])
        np.einsum("i...,i...->...", care, self._reunify, out=moves[2])
        np.einsum("i...,i...->...", care, self._permanence, out=moves[3])
        new = np.empty_like(x)
        np.subtract(home, moves[0], out=new[HOME])
        np.add(moves[0], moves[1], out=new[CARE.start])
        np.multiply(care[:-1], self.stay_care[:-1], out=new[CARE.start + 1 : CARE.stop])
        new[CARE.stop - 1] += care[-1] * self.stay_care[-1]
        new[RETURNED.start] = moves[2]
        np.multiply(back[:-1], self.stay_home[:-1], out=new[RETURNED.start + 1 : RETURNED.stop])
        new[RETURNED.stop - 1] += back[-1] * self.stay_home[-1]
        np.add(x[LEFT], moves[3], out=new[LEFT])
        return new, moves

    def dense(self) -> np.ndarray:
        """The same transitions as full matrices ``(K, N, T, S, S)`` (for verification)."""
        k, n, t = self.entry.shape
        p = np.zeros((k, n, t, N_STATES, N_STATES))
        p[..., HOME, HOME] = 1 - self.entry
        p[..., HOME, CARE.start] = self.entry
        tunnels = np.arange(CARE_TUNNELS + 1)
        nxt = np.minimum(tunnels + 1, CARE_TUNNELS) + CARE.start
        p[..., CARE.start + tunnels, nxt] = (1 - self.reunify - self.permanence)[None, :, None, :]
        p[..., CARE.start + tunnels, RETURNED.start] = self.reunify[None, :, None, :]
        p[..., CARE.start + tunnels, LEFT] = self.permanence[None, :, None, :]
        back = np.arange(RETURN_TUNNELS + 1)
        nxt = np.minimum(back + 1, RETURN_TUNNELS) + RETURNED.start
        p[..., RETURNED.start + back, nxt] = 1 - self.reentry[None, :, None, :]
        p[..., RETURNED.start + back, CARE.start] = self.reentry[None, :, None, :]
        p[..., LEFT, LEFT] = 1.0
        return p


def state_indicator(*states: int | slice) -> np.ndarray:
    v = np.zeros(N_STATES)
    for s in states:
        v[s] = 1.0
    return v


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

    def table(self, iteration: int = 0) -> pd.DataFrame:
        """One iteration's outcomes as a DataFrame (rows = strategies)."""
        return pd.DataFrame({k: v[:, iteration] for k, v in self.outcomes.items()}, index=pd.Index(self.strategies, name="strategy"))


OUTCOME_LABELS = {
    "cost": "Total discounted cost per child (GBP)",
    "cost_intervention": "IFPP programme cost per child (GBP)",
    "cost_placements": "Placement cost per child (GBP)",
    "cost_proceedings": "Care proceedings cost per child (GBP)",
    "cost_reunification": "Reunification support per child (GBP)",
    "cost_case_support": "Case support at home and after return per child (GBP)",
    "cost_allowances": "Special guardianship / adoption allowances per child (GBP)",
    "cost_per_family": "Total discounted cost per family (GBP)",
    "first_placements": "First placements per child (discounted)",
    "care_entries": "All care entries incl. re-entries per child (discounted)",
    "care_months": "Months in care per child (discounted)",
    "living_at_home_1y": "Share living at home 1 year after referral",
    "living_at_home_2y": "Share living at home 2 years after referral",
    "living_at_home_5y": "Share living at home 5 years after referral",
}


@dataclass
class _Cohort:
    """One simulation of every strategy and iteration, with the unit costs to value it."""

    spec: ModelSpec
    result: object  # engine CohortResult
    horizons: np.ndarray  # (B,) cycles per age band
    shares: np.ndarray  # (B, N) age-band shares
    support_months: np.ndarray  # (N,) months of case support at home after referral
    unit: dict[str, np.ndarray]  # GBP per child: per month (placement, support, allowance) or per event
    programme: np.ndarray  # (K, N) programme cost per child at referral
    cpf: np.ndarray  # (N,) children per family
    curve_rule_bound: np.ndarray
    exits_rescaled: np.ndarray


def _simulate(values: pd.DataFrame, spec: ModelSpec, keep_trace: bool) -> _Cohort:
    p = to_model_units(values, spec)
    n = len(values)
    horizons = spec.band_horizons()
    n_cycles = int(horizons.max())
    cpf = p["children_per_family"]
    if np.any(cpf <= 0):
        raise ModelError("children_per_family must be positive")

    usual, ifpp, bound = cumulative_entry_curves(p, spec, n_cycles)
    curves = np.stack([ifpp if s.receives_ifpp else usual for s in spec.strategies])  # (K, N, T+1)
    entry = hazards_from_curve(curves)

    reunify = np.stack([p[f"reunify_{b}"] for b in CARE_BANDS], -1)[:, CARE_BAND_OF_TUNNEL]
    permanence = np.stack([p[f"permanence_{b}"] for b in CARE_BANDS], -1)[:, CARE_BAND_OF_TUNNEL]
    exits = reunify + permanence
    rescaled = np.any(exits > 1.0, axis=1)  # competing exits: rescaled proportionally to sum to 1
    scale = np.where(exits > 1.0, 1.0 / np.maximum(exits, 1e-300), 1.0)
    reunify, permanence = reunify * scale, permanence * scale
    reentry = np.stack([p[f"reentry_{b}"] for b in RETURN_BANDS], -1)[:, RETURN_BAND_OF_TUNNEL]

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
    transitions = FamilyStatesTransitions(entry, reunify, permanence, reentry)
    result = simulate(np.eye(N_STATES)[HOME], transitions, n_cycles, rewards, spec.conventions, keep_trace=keep_trace)

    per_child = 1.0 / cpf
    unit = {
        "placement_month": sum(p[f"mix:{t}"] * p[f"cost_{t}"] for t in PLACEMENT_TYPES),
        "care_entry": p["share_entries_with_proceedings"] * (p["court_cost_proceedings"] + p["la_legal_cost_proceedings"]) * per_child,
        "reunification": p["reunification_support_cost"] * per_child,
        "support_month": p["case_support_cost"] * per_child,
        "allowance_month": p["sgo_allowance"],
    }
    programme = np.zeros((len(spec.strategies), n))
    for k, s in enumerate(spec.strategies):
        if s.cost_method == "per_family":
            programme[k] = p["ifpp_cost_per_family"] * s.cost_multiplier * per_child
        elif s.cost_method == "bottom_up":
            # cost per FTE is an annual salary with on-costs: uplifted, not converted to a monthly cost
            salary = values["cost_per_fte"].to_numpy(float) * spec.price_factors.get("cost_per_fte", 1.0)
            programme[k] = p["team_fte"] * salary / p["families_per_team_year"] * s.cost_multiplier * per_child
        elif s.cost_method != "none":
            raise ModelError(f"unknown cost method {s.cost_method!r} for strategy {s.name!r}")
    shares = np.stack([p[f"age_share:{b.name}"] for b in spec.age_bands])  # (B, N)
    return _Cohort(spec, result, horizons, shares, np.round(p["case_support_months"]).astype(int), unit, programme,
                   cpf, bound, rescaled)


def run_model(values: pd.DataFrame, spec: ModelSpec, keep_trace: bool = False) -> ModelResults:
    """Evaluate every strategy for every row of ``values`` (iterations × parameters, workbook units)."""
    c = _simulate(values, spec, keep_trace)
    result, horizons, shares = c.result, c.horizons, c.shares
    n_strategies, n = c.programme.shape
    rc, ro = spec.discount_rate_costs, spec.discount_rate_outcomes

    def banded(name: str, rate: float) -> np.ndarray:
        return sum(shares[b] * result.total(name, h, rate) for b, h in enumerate(horizons))

    def home_support_months() -> np.ndarray:
        total = np.zeros((n_strategies, n))
        for b, h in enumerate(horizons):
            for m in np.unique(c.support_months):
                cols = c.support_months == m
                if m > 0:
                    total[:, cols] += shares[b, cols] * result.total("at_home", min(int(m), h), rc)[:, cols]
        return total

    out = {
        "cost_intervention": c.programme,
        "cost_placements": banded("in_care", rc) * c.unit["placement_month"],
        "cost_proceedings": banded("care_entries", rc) * c.unit["care_entry"],
        "cost_reunification": banded("reunifications", rc) * c.unit["reunification"],
        "cost_case_support": (home_support_months() + banded("return_support", rc)) * c.unit["support_month"],
        "cost_allowances": banded("left_care", rc) * c.unit["allowance_month"],
    }
    out["cost"] = sum(out.values())
    out["cost_per_family"] = out["cost"] * c.cpf
    out["first_placements"] = banded("first_entries", ro)
    out["care_entries"] = banded("care_entries", ro)
    out["care_months"] = banded("in_care", ro)
    n_cycles = int(horizons.max())
    for years in (1, 2, 5):
        row = 12 * years
        out[f"living_at_home_{years}y"] = (
            result.row_values["living_at_home"][..., row] if row <= n_cycles else np.full((n_strategies, n), np.nan)
        )
    return ModelResults(spec.strategy_names, spec.comparator, out, c.curve_rule_bound, c.exits_rescaled, result.trace, n_cycles)


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
    cash = {
        "cost_placements": per_cycle(rv["in_care"]) * alive * c.unit["placement_month"][:, None],
        "cost_proceedings": fv["care_entries"] * alive * c.unit["care_entry"][:, None],
        "cost_reunification": fv["reunifications"] * alive * c.unit["reunification"][:, None],
        "cost_case_support": (per_cycle(rv["at_home"]) * home_support + per_cycle(rv["return_support"]) * alive)
        * c.unit["support_month"][:, None],
        "cost_allowances": per_cycle(rv["left_care"]) * alive * c.unit["allowance_month"][:, None],
    }
    programme = np.zeros_like(cash["cost_placements"])
    programme[..., 0] = c.programme
    return {"cost_intervention": programme, **cash}
