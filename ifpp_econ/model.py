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

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from . import declarations, kernels, units
from .engine import CohortResult, Reward, TransitionError
from .kernels import simulate_family_states
from .spec import (  # noqa: F401 - defined with the spec; re-exported here for existing imports
    AFTER_EFFECTS,
    LINKED_RISKS,
    PERSPECTIVE_PAYERS,
    AgeBand,
    ModelError,
    ModelSpec,
    Strategy,
)

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


def sum_arrays(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """``sum(arrays)``, typed as an array: the builtin's ``0`` start is returned only for no arrays, an error here."""
    total = sum(arrays)
    if isinstance(total, int):
        raise ValueError("no arrays to add")
    return total

# Band of each care tunnel (0-6, 6-12, 12-24, 24+ months) and return tunnel (0-3, 3-12, 12+).
CARE_BANDS = ("0_6m", "6_12m", "12_24m", "24m_plus")
CARE_BAND_OF_TUNNEL = np.searchsorted([6, 12, 24], np.arange(CARE_TUNNELS + 1), side="right")
RETURN_BANDS = ("0_3m", "3_12m", "12m_plus")
RETURN_BAND_OF_TUNNEL = np.searchsorted([3, 12], np.arange(RETURN_TUNNELS + 1), side="right")
RISK_KNOTS = np.array([0, 3, 6, 12, 24])
RR_NAMES = ("rr_3m", "rr_6m", "rr_12m", "rr_24m")
PLACEMENT_TYPES = declarations.PLACEMENT_TYPES
RISK_KNOT_NAMES = ("risk_3m", "risk_6m", "risk_12m", "risk_24m")


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


def link_cumulative_risks(values: pd.DataFrame, spec: ModelSpec) -> tuple[pd.DataFrame, np.ndarray]:
    """Keep the usual-care cumulative risk curve whole and ordered when risk_12m varies.

    Rule (every path: run, PSA, DSA, scenarios, budget): the knots in ``spec.linked_risks`` (the
    3/6/24-month risks without a distribution of their own) move in proportion to
    ``risk_12m / spec.risk_12m_base`` (capped below 1), so varying risk_12m scales the whole curve; then
    any remaining disorder is removed with a running maximum over 3→6→12→24 months. At the workbook's
    own values this changes nothing. Returns the adjusted copy and a flag ``(N,)`` for iterations where
    the running maximum had to act.
    """
    if not set(RISK_KNOT_NAMES) <= set(values.columns):
        return values, np.zeros(len(values), dtype=bool)
    knots = {name: values[name].to_numpy(float) for name in RISK_KNOT_NAMES}
    if spec.risk_12m_base:
        ratio = knots["risk_12m"] / spec.risk_12m_base
        if np.any(ratio != 1.0):
            for name in spec.linked_risks:
                knots[name] = np.minimum(knots[name] * ratio, 1.0 - 1e-9)
    curve = np.stack([knots[name] for name in RISK_KNOT_NAMES], axis=1)
    ordered = np.maximum.accumulate(curve, axis=1)
    reordered = np.any(ordered > curve, axis=1)
    changed = {name: ordered[:, j] for j, name in enumerate(RISK_KNOT_NAMES)
               if not np.array_equal(ordered[:, j], values[name].to_numpy(float))}
    if not changed:
        return values, reordered
    out = values.copy(deep=False)  # copy-on-write: only the changed columns are new
    for name, column in changed.items():
        out[name] = column
    return out, reordered


def _log_survival_at_knots(p: dict[str, np.ndarray]) -> np.ndarray:
    """log(1 − family risk) at the 0/3/6/12/24-month knots, ``(N, 5)``, after checking the curve is ordered."""
    risks = np.stack([np.zeros_like(p["risk_12m"])] + [p[f"risk_{k}m"] for k in (3, 6, 12, 24)], -1)
    if np.any(np.diff(risks, axis=-1) < -1e-12) or np.any(risks >= 1):
        raise ModelError("cumulative risks must satisfy 0 ≤ risk_3m ≤ risk_6m ≤ risk_12m ≤ risk_24m < 1")
    return np.log1p(-risks)


def usual_care_family_curve(p: dict[str, np.ndarray], n_cycles: int) -> np.ndarray:
    """Cumulative probability that a family has its first placement by month, ``(N, T+1)``.

    Constant monthly hazard between the 0/3/6/12/24-month knots, so the curve passes exactly
    through the workbook's cumulative risks; after 24 months the annual risk (as a monthly probability).
    """
    log_s = _log_survival_at_knots(p)  # (N, 5)
    months = np.arange(n_cycles + 1)
    within = np.minimum(months, 24)
    i = np.clip(np.searchsorted(RISK_KNOTS, within, side="right") - 1, 0, len(RISK_KNOTS) - 2)
    lam = (within - RISK_KNOTS[i]) / (RISK_KNOTS[i + 1] - RISK_KNOTS[i])
    log_surv = log_s[:, i] * (1 - lam) + log_s[:, i + 1] * lam
    log_surv = log_surv + np.log1p(-p["annual_risk_after_24m"])[:, None] * np.maximum(months - 24, 0)
    # interpolating between equal knots can differ in the last bit: keep the curve exactly non-decreasing
    return np.maximum.accumulate(-np.expm1(log_surv), axis=1)


def child_risk_factor(p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Child risk ÷ family risk = children placed per family placement ÷ children per family, capped at 1.

    Returns the factor ``(N,)`` and a flag ``(N,)`` where the cap bound (k > children per family).
    """
    ratio = p["children_placed_per_family_placement"] / p["children_per_family"]
    return np.minimum(ratio, 1.0), ratio > 1.0


def relative_risk_curve(p: dict[str, np.ndarray], spec: ModelSpec, months: np.ndarray) -> np.ndarray:
    """RR applied to the cumulative risk at each month, ``(N, T+1)`` (before the effect duration ends)."""
    n = len(p["rr_12m"])
    if spec.effect_model == "single_rr":
        return np.broadcast_to(p["rr_12m"][:, None], (n, len(months)))
    if spec.effect_model == "family_rr":
        return np.broadcast_to(p["rr_family_12m"][:, None], (n, len(months)))
    if spec.effect_model == "window_rrs":
        knots = np.array([3.0, 6.0, 12.0, 24.0])
        window = np.stack([p[name] for name in RR_NAMES], -1)  # (N, 4)
        j = np.clip(np.searchsorted(knots, months, side="right") - 1, 0, 3)
        k = np.minimum(j + 1, 3)
        span = np.where(k > j, knots[k] - knots[j], 1.0)
        lam = np.clip((months - knots[j]) / span, 0.0, 1.0)
        return window[:, j] * (1 - lam) + window[:, k] * lam
    raise ModelError(f"effect_model must be single_rr, window_rrs or family_rr, got {spec.effect_model!r}")


def cumulative_entry_curves(p: dict[str, np.ndarray], spec: ModelSpec, n_cycles: int,
                            after_effect: np.ndarray | None = None, no_effect: np.ndarray | None = None
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative probability of a child's first entry to care by month, ``(N, T+1)``, for usual care and IFPP.

    Usual care: the family curve × :func:`child_risk_factor`. IFPP: RR × usual care's cumulative risk
    at each month up to the effect duration (single 12-month RR, family-level RR, or the window RRs
    interpolated linearly between 3/6/12/24 months and flat outside). After it (``after_effect`` codes
    ``(N,)``, default the spec's): 0 *effect stops* — children still at home face usual care's
    conditional monthly hazard, S(t) = S(D) × S_uc(t) / S_uc(D); 1 *gap persists* — the absolute gap in
    cumulative risk stays; 2 *catch-up* — the gap closes linearly over ``catch_up_months``.
    ``no_effect`` ``(N,)`` sets RR = 1 (structural PSA). A curve may never decrease: the IFPP curve is
    replaced by its running maximum; the third array flags the iterations ``(N,)`` where that rule bound.
    """
    family = usual_care_family_curve(p, n_cycles)
    factor, _ = child_risk_factor(p)
    usual = family * factor[:, None]
    n = len(usual)
    months = np.arange(n_cycles + 1)
    rr = relative_risk_curve(p, spec, months)
    if no_effect is not None:
        rr = np.where(np.asarray(no_effect, bool)[:, None], 1.0, rr)
    if after_effect is None:
        after_effect = np.full(n, AFTER_EFFECTS.index(spec.after_effect))
    duration = np.clip(np.round(p["effect_duration_months"]).astype(int), 0, n_cycles)  # (N,)
    rows = np.arange(n)
    during = months[None, :] <= duration[:, None]
    treated = np.minimum(rr * usual, 1.0 - 1e-12)
    after = np.maximum(months[None, :] - duration[:, None], 0)
    ifpp = np.empty_like(usual)
    for code, name in enumerate(AFTER_EFFECTS):
        sel = after_effect == code
        if not sel.any():
            continue
        u, t, d, a = usual[sel], treated[sel], duration[sel], after[sel]
        r = rows[: int(sel.sum())]
        if name == "effect_stops":
            later = (1.0 - t[r, d])[:, None] * (1.0 - u) / (1.0 - u[r, d])[:, None]
            ifpp[sel] = np.where(during[sel], t, 1.0 - later)
        else:
            gap = u[r, d] - t[r, d]
            fading = (np.clip(1.0 - a / max(spec.catch_up_months, 1e-9), 0.0, 1.0) if name == "catch_up"
                      else np.ones_like(a, dtype=float))
            ifpp[sel] = np.where(during[sel], t, u - gap[:, None] * fading)
    ifpp = np.clip(ifpp, 0.0, 1.0 - 1e-12)
    monotone = np.maximum.accumulate(ifpp, axis=1)
    bound = np.any(monotone > ifpp + 1e-12, axis=1)
    return usual, monotone, bound


@dataclass(frozen=True)
class EntryCurves:
    """What fixes every strategy's cumulative first-entry risk, per iteration, in the compiled kernels' terms
    (the inputs of :func:`cumulative_entry_curves` after units, links and checks).

    log_s ``(N, 5)`` log family survival at the 0/3/6/12/24-month knots; log_after ``(N,)`` its monthly
    fall after 24 months; factor ``(N,)`` child ÷ family risk; rr ``(N, T+1)`` (any strides); no_effect
    ``(N,)`` bool; after_effect ``(N,)`` codes (0 effect stops, 1 gap persists, 2 catch-up); duration
    ``(N,)`` whole months; receives_ifpp ``(K,)`` bool. ``bound`` ``(N,)`` is filled by the kernel that
    uses them: the iterations where IFPP's curve needed its running maximum.
    """

    log_s: np.ndarray
    log_after: np.ndarray
    factor: np.ndarray
    rr: np.ndarray
    no_effect: np.ndarray
    after_effect: np.ndarray
    duration: np.ndarray
    catch_up_months: float
    receives_ifpp: np.ndarray
    bound: np.ndarray

    def arrays(self) -> tuple:
        """The kernels' arguments, in order (``bound`` last)."""
        return (self.log_s, self.log_after, self.factor, self.rr, self.no_effect, self.after_effect, self.duration,
                self.catch_up_months, self.receives_ifpp, self.bound)

    def hazards(self) -> np.ndarray:
        """Monthly first-entry probabilities ``(K, N, T)`` (and ``bound``), by the compiled entry kernel."""
        entry = np.empty((len(self.receives_ifpp), len(self.factor), self.rr.shape[1] - 1))
        args = self.arrays()
        kernels.compiled("entry_hazards_kernel", len(self.factor))(*args[:-1], entry, self.bound)
        return entry


def entry_curves(p: dict[str, np.ndarray], spec: ModelSpec, n_cycles: int, after_effect: np.ndarray | None = None,
                 no_effect: np.ndarray | None = None) -> EntryCurves:
    """:class:`EntryCurves` for model-unit values ``p`` (arguments as :func:`cumulative_entry_curves`)."""
    n = len(p["rr_12m"])
    if after_effect is None:
        after_effect = np.full(n, AFTER_EFFECTS.index(spec.after_effect))
    return EntryCurves(
        log_s=np.ascontiguousarray(_log_survival_at_knots(p)),
        log_after=np.log1p(-p["annual_risk_after_24m"]),
        factor=np.ascontiguousarray(child_risk_factor(p)[0], dtype=float),
        rr=relative_risk_curve(p, spec, np.arange(n_cycles + 1)),
        no_effect=np.zeros(n, dtype=bool) if no_effect is None else np.asarray(no_effect, dtype=bool),
        after_effect=np.asarray(after_effect, dtype=np.int64),
        duration=np.clip(np.round(p["effect_duration_months"]).astype(np.int64), 0, n_cycles),
        catch_up_months=float(spec.catch_up_months),
        receives_ifpp=np.array([s.receives_ifpp for s in spec.strategies]),
        bound=np.zeros(n, dtype=bool))


def first_entry_probabilities(p: dict[str, np.ndarray], spec: ModelSpec, n_cycles: int,
                              after_effect: np.ndarray | None = None, no_effect: np.ndarray | None = None,
                              kernel: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Monthly first-entry probabilities of every strategy ``(K, N, T)`` and the running-maximum flags ``(N,)``.

    The curves of :func:`cumulative_entry_curves` turned into monthly probabilities by
    :func:`hazards_from_curve`. With the compiled kernel (see :mod:`ifpp_econ.kernels`) the same
    arithmetic runs in one loop per iteration, with no ``(N, T)`` temporaries; it agrees with
    this numpy reference to rounding.
    """
    if kernels.choose_kernel(kernel) == "numpy":
        receives = [s.receives_ifpp for s in spec.strategies]
        usual, ifpp, bound = cumulative_entry_curves(p, spec, n_cycles, after_effect, no_effect)
        return hazards_from_curve(np.stack([ifpp if r else usual for r in receives])), bound
    curves = entry_curves(p, spec, n_cycles, after_effect, no_effect)
    return curves.hazards(), curves.bound


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

    def __init__(self, entry: np.ndarray | None, reunify: np.ndarray, permanence: np.ndarray, reentry: np.ndarray,
                 entry_checked: bool = False, curves: EntryCurves | None = None):
        """``entry_checked``: the caller guarantees ``entry`` lies in [0, 1] (it comes from a non-decreasing
        cumulative curve below 1), so only the ``(N, tunnels)`` care probabilities are checked. ``curves``:
        instead of ``entry``, what fixes it; the compiled kernel then computes it as it goes, and
        :attr:`entry` is made only if asked for."""
        if (entry is None) == (curves is None):
            raise ValueError("give the first-entry probabilities or their curves, not both")
        self._entry, self.curves = entry, curves
        self.reunify, self.permanence, self.reentry = reunify, permanence, reentry
        if entry is not None:
            self.batch_shape = entry.shape[:-1]
        else:
            assert curves is not None  # checked above: exactly one is given
            self.batch_shape = (len(curves.receives_ifpp), len(curves.factor))
        checks = [("reunification", reunify), ("other permanence", permanence), ("re-entry", reentry),
                  ("staying in care", 1.0 - reunify - permanence)]
        if entry is not None and not entry_checked:
            checks.append(("first entry", entry))
        for name, arr in checks:
            if not np.all(np.isfinite(arr)) or np.any(arr < -1e-12) or np.any(arr > 1 + 1e-12):
                raise TransitionError(f"{name} probabilities outside [0, 1]")

    @property
    def entry(self) -> np.ndarray:
        """First-entry probabilities ``(K, N, T)`` (made from :attr:`curves` on first use)."""
        if self._entry is None:
            assert self.curves is not None  # __init__ was given one or the other
            self._entry = self.curves.hazards()
        return self._entry

    @cached_property
    def _state_first(self) -> tuple[np.ndarray, ...]:
        """State-first copies for :meth:`step`: entry ``(T, K, N)``, reunify/permanence/stay in care ``(25, 1, N)``,
        re-entry/stay at home ``(13, 1, N)`` (made on first use: the compiled kernel reads the originals)."""
        reunify = np.ascontiguousarray(self.reunify.T[:, None, :])
        permanence = np.ascontiguousarray(self.permanence.T[:, None, :])
        reentry = np.ascontiguousarray(self.reentry.T[:, None, :])
        return (np.ascontiguousarray(np.moveaxis(self.entry, -1, 0)), reunify, permanence, 1.0 - reunify - permanence,
                reentry, 1.0 - reentry)

    def step(self, x: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        """``x``: ``(S, K, N)`` at row t → ``(S, K, N)`` at row t+1 and moves ``(4, K, N)``."""
        entry_by_cycle, reunify, permanence, stay_care, reentry, stay_home = self._state_first
        home, care, back = x[HOME], x[CARE], x[RETURNED]
        moves = np.empty((len(MOVES),) + x.shape[1:])
        np.multiply(home, entry_by_cycle[t], out=moves[0])
        np.einsum("i...,i...->...", back, reentry, out=moves[1])
        np.einsum("i...,i...->...", care, reunify, out=moves[2])
        np.einsum("i...,i...->...", care, permanence, out=moves[3])
        new = np.empty_like(x)
        np.subtract(home, moves[0], out=new[HOME])
        np.add(moves[0], moves[1], out=new[CARE.start])
        np.multiply(care[:-1], stay_care[:-1], out=new[CARE.start + 1 : CARE.stop])
        new[CARE.stop - 1] += care[-1] * stay_care[-1]
        new[RETURNED.start] = moves[2]
        np.multiply(back[:-1], stay_home[:-1], out=new[RETURNED.start + 1 : RETURNED.stop])
        new[RETURNED.stop - 1] += back[-1] * stay_home[-1]
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
    by_band: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # band -> outcome -> (K, N), per child
    band_shares: np.ndarray | None = None  # (B, N) age-band shares used to weight the bands
    risk_curve_reordered: np.ndarray | None = None  # (N,) usual-care knots needed the running maximum
    child_risk_capped: np.ndarray | None = None  # (N,) k > children per family: child risk capped at family risk

    def table(self, iteration: int = 0) -> pd.DataFrame:
        """One iteration's outcomes as a DataFrame (rows = strategies)."""
        return pd.DataFrame({k: v[:, iteration] for k, v in self.outcomes.items()}, index=pd.Index(self.strategies, name="strategy"))


OUTCOME_LABELS = {
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
    if keep_trace or kernels.choose_kernel(kernel) == "numpy":  # a kept trace is the numpy reference's (no compiler)
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
    rc, ro = spec.discount_rate_costs, spec.discount_rate_outcomes
    rates = {"at_home": (rc,), "return_support": (rc,), "in_care": (rc, ro), "care_entries": (rc, ro),
             "reunifications": (rc,), "left_care": (rc,), "first_entries": (ro, 0.0)}  # the totals run_model reads
    result = simulate_family_states(np.eye(N_STATES)[HOME], transitions, n_cycles, rewards, spec.conventions, keep_trace,
                                    horizons=sorted(totals_at), rates=rates, rows=range(0, n_cycles + 1, 12), kernel=kernel)

    per_child = 1.0 / cpf
    zero = np.zeros(n)

    def paid(name: str, payer: str) -> np.ndarray:
        """A cost parameter in model units if ``payer`` pays it, else 0."""
        return p[name] if spec.payers.get(name, "LA") == payer else zero

    units_by_payer, programme = {}, {}
    for payer in ("LA", "HMCTS"):
        units_by_payer[payer] = {
            "placement_month": np.stack([sum(p[f"mix:{b.name}:{t}"] * paid(f"cost_{t}", payer) for t in PLACEMENT_TYPES)
                                         for b in spec.age_bands]),  # (B, N)
            "care_entry": p["share_entries_with_proceedings"] * (paid("court_cost_proceedings", payer)
                                                                 + paid("la_legal_cost_proceedings", payer)) * per_child,
            "reunification": paid("reunification_support_cost", payer) * per_child,
            "support_month": paid("case_support_cost", payer) * per_child,
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
    return {"support_months": home_support + result.total("return_support", h, rc),
            **{name: result.total(name, h, rc) for name in ("in_care", "care_entries", "reunifications", "left_care")}}


def _band_costs(totals: dict[str, np.ndarray], band: int, units: dict[str, np.ndarray], programme: np.ndarray
                ) -> dict[str, np.ndarray]:
    """Per-child discounted costs ``(K, N)`` by category for one age band, valued with one payer set's unit costs."""
    return {
        "cost_intervention": programme,
        "cost_placements": totals["in_care"] * units["placement_month"][band],
        "cost_proceedings": totals["care_entries"] * units["care_entry"],
        "cost_reunification": totals["reunifications"] * units["reunification"],
        "cost_case_support": totals["support_months"] * units["support_month"],
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
            costs = _band_costs(totals[b], b, units, programme)
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
    # placements: each band's own mix, while the band is followed (share-weighted)
    placement_month = sum(c.shares[b][:, None] * (months[None, :] <= h) * unit["placement_month"][b][:, None]
                          for b, h in enumerate(c.horizons))  # (N, T)
    cash = {
        "cost_placements": per_cycle(rv["in_care"]) * placement_month,
        "cost_proceedings": fv["care_entries"] * alive * unit["care_entry"][:, None],
        "cost_reunification": fv["reunifications"] * alive * unit["reunification"][:, None],
        "cost_case_support": (per_cycle(rv["at_home"]) * home_support + per_cycle(rv["return_support"]) * alive)
        * unit["support_month"][:, None],
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
    if kernels.choose_kernel() != "numba":
        return
    from .spec import base_values, build_spec

    run_model(base_values(inputs), build_spec(inputs))
