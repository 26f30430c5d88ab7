"""First entry to care: the usual-care cumulative risk curve, the child ÷ family risk factor, the IFPP effect and
what happens after it, as cumulative curves and monthly probabilities (the numpy reference; the compiled kernel
in :mod:`._compiled` computes the same curves row by row).

Model-unit values ``p`` are dicts of arrays ``(N,)`` (iterations); curves are ``(N, T+1)`` (rows 0..T).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import declarations
from ..engine.threads import choose_kernel
from ..exceptions import ModelError
from . import entry_arithmetic as arithmetic
from . import kernels
from .after_effects import ASSUMPTIONS, RULES
from .spec import ModelSpec

RR_NAMES = declarations.WINDOW_RRS
RISK_KNOT_NAMES = declarations.RISK_KNOTS

def link_cumulative_risks(values: pd.DataFrame, spec: ModelSpec) -> tuple[pd.DataFrame, np.ndarray]:
    """Keep the usual-care cumulative risk curve whole and ordered when risk_12m varies.

    Rule (every path: run, PSA, DSA, scenarios, budget): the knots in ``spec.linked_risks`` (the
    3/6/24-month risks without a distribution of their own) move in proportion to
    ``risk_12m / spec.risk_12m_base`` (capped below 1), so varying risk_12m scales the whole curve; then
    any remaining disorder is removed with a running maximum over 3→6→12→24 months. At the workbook's
    own values this changes nothing. Returns the adjusted copy and a flag ``(N,)`` for iterations where
    the running maximum had to act (the adjusted knots alone: :func:`linked_risk_knots`).
    """
    changed, reordered = linked_risk_knots(values, spec)
    if not changed:
        return values, reordered
    out = values.copy(deep=False)  # copy-on-write: only the changed columns are new
    for name, column in changed.items():
        out[name] = column
    return out, reordered

def linked_risk_knots(values: pd.DataFrame, spec: ModelSpec) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The knots :func:`link_cumulative_risks` changes, name → ``(N,)`` in workbook units (only those that change),
    and its flag ``(N,)``."""
    if not set(RISK_KNOT_NAMES) <= set(values.columns):
        return {}, np.zeros(len(values), dtype=bool)
    knots = {name: values[name].to_numpy(float) for name in RISK_KNOT_NAMES}
    given = dict(knots)
    if spec.risk_12m_base:
        ratio = knots["risk_12m"] / spec.risk_12m_base
        if np.any(ratio != 1.0):
            for name in spec.linked_risks:
                knots[name] = np.minimum(knots[name] * ratio, 1.0 - 1e-9)
    curve = np.stack([knots[name] for name in RISK_KNOT_NAMES])  # (4, N)
    ordered = curve.copy()  # the running maximum over the knots, row by row (maximum.accumulate on axis 0 is slow)
    for j in range(1, len(ordered)):
        np.maximum(ordered[j - 1], ordered[j], out=ordered[j])
    reordered = np.any(ordered > curve, axis=0)
    changed = {name: ordered[j] for j, name in enumerate(RISK_KNOT_NAMES) if not np.array_equal(ordered[j], given[name])}
    return changed, reordered

def _log_survival_at_knots(p: dict[str, np.ndarray]) -> np.ndarray:
    """log(1 − family risk) at the 0/3/6/12/24-month knots, ``(N, 5)``, after checking the curve is ordered."""
    risks = np.stack([np.zeros_like(p[declarations.RISK_ANCHOR])] + [p[name] for name in RISK_KNOT_NAMES], -1)
    if np.any(np.diff(risks, axis=-1) < -1e-12) or np.any(risks >= 1):
        raise ModelError("cumulative risks must satisfy 0 ≤ risk_3m ≤ risk_6m ≤ risk_12m ≤ risk_24m < 1")
    return np.log1p(-risks)

def _usual_care_months(p: dict[str, np.ndarray], n_cycles: int, factor: np.ndarray):
    """Usual care's cumulative risk month by month (:mod:`.entry_arithmetic`, as the compiled kernel steps it):
    yields ``(month, risk (N,))`` for months 0..T, the family's risk × ``factor`` (never below last month's)."""
    log_s = _log_survival_at_knots(p)  # (N, 5)
    log_after = np.log1p(-p["annual_risk_after_24m"])
    knots = {month: i for i, month in enumerate(arithmetic.KNOT_MONTHS)}
    survival = risk = q = hazard = usual = np.zeros(len(log_s))
    for r in range(n_cycles + 1):
        i = knots.get(r)
        if i is None:
            survival, risk = arithmetic.between_knots(survival, risk, q, hazard)
        else:
            slope = (log_after if i == len(knots) - 1 else
                     arithmetic.knot_slope(log_s[:, i], log_s[:, i + 1], arithmetic.KNOT_MONTHS[i + 1] - r))
            survival, risk, q, hazard = arithmetic.at_knot(log_s[:, i], slope)
        usual = arithmetic.child_risk(risk, factor, usual)
        yield r, usual


def usual_care_family_curve(p: dict[str, np.ndarray], n_cycles: int) -> np.ndarray:
    """Cumulative probability that a family has its first placement by month, ``(N, T+1)``.

    Constant monthly hazard between the 0/3/6/12/24-month knots, so the curve passes exactly
    through the workbook's cumulative risks; after 24 months the annual risk (as a monthly probability).
    """
    curve = np.empty((len(p["risk_12m"]), n_cycles + 1))
    for r, risk in _usual_care_months(p, n_cycles, np.ones(len(curve))):
        curve[:, r] = risk
    return curve

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
        knots = np.array(declarations.RISK_KNOT_MONTHS, dtype=float)
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
    """Cumulative probability of a child's first entry to care by month, ``(N, T+1)``, for usual care and IFPP:
    the numpy reference, month by month with the compiled kernel's arithmetic (:mod:`.entry_arithmetic`).

    Usual care: the family curve × :func:`child_risk_factor`. IFPP: RR × usual care's cumulative risk
    at each month up to the effect duration (single 12-month RR, family-level RR, or the window RRs
    interpolated linearly between 3/6/12/24 months and flat outside); after it, the rule of each iteration's
    after-effect assumption (``after_effect`` codes ``(N,)``, default the spec's; :mod:`.after_effects`).
    ``no_effect`` ``(N,)`` sets RR = 1 (structural PSA). A curve may never decrease: the IFPP curve is
    replaced by its running maximum; the third array flags the iterations ``(N,)`` where that rule bound.
    """
    factor, _ = child_risk_factor(p)
    n = len(factor)
    rr = relative_risk_curve(p, spec, np.arange(n_cycles + 1))
    if no_effect is not None:
        rr = np.where(np.asarray(no_effect, bool)[:, None], 1.0, rr)
    codes = np.full(n, ASSUMPTIONS.index(spec.after_effect)) if after_effect is None else np.asarray(after_effect)
    months = spec.after_effect_months_by_code()
    duration = np.clip(np.round(p["effect_duration_months"]).astype(int), 0, n_cycles)  # (N,)
    usual, ifpp = np.empty((n, n_cycles + 1)), np.empty((n, n_cycles + 1))
    u_d, t_d, top, bound = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    for r, u in _usual_care_months(p, n_cycles, factor):
        usual[:, r] = u
        c = arithmetic.treated(rr[:, r], u)
        at_end = duration == r
        u_d[at_end], t_d[at_end] = u[at_end], c[at_end]
        for code in np.unique(codes[duration < r]):
            later = (duration < r) & (codes == code)
            c[later] = RULES[code](u[later], u_d[later], t_d[later], (r - duration[later]).astype(float), months[code])
        c = arithmetic.clipped(c)
        bound |= top > c + 1e-12
        top = np.maximum(top, c)
        ifpp[:, r] = top
    return usual, ifpp, bound

@dataclass(frozen=True)
class EntryCurves:
    """What fixes every strategy's cumulative first-entry risk, per iteration, in the compiled kernels' terms
    (the inputs of :func:`cumulative_entry_curves` after units, links and checks).

    log_s ``(N, 5)`` log family survival at the 0/3/6/12/24-month knots; log_after ``(N,)`` its monthly
    fall after 24 months; factor ``(N,)`` child ÷ family risk; rr ``(N, T+1)``, or ``(N, 1)`` when one RR holds for
    every month (the kernels read its last column past its end); no_effect
    ``(N,)`` bool; after_effect ``(N,)`` codes (positions in :data:`.after_effects.ASSUMPTIONS`); duration
    ``(N,)`` whole months; months ``(A,)`` each assumption's months setting; receives_ifpp ``(K,)`` bool.
    ``bound`` ``(N,)`` is filled by the kernel that
    uses them: the iterations where IFPP's curve needed its running maximum.
    """

    log_s: np.ndarray
    log_after: np.ndarray
    factor: np.ndarray
    rr: np.ndarray
    no_effect: np.ndarray
    after_effect: np.ndarray
    duration: np.ndarray
    months: np.ndarray
    receives_ifpp: np.ndarray
    bound: np.ndarray
    n_cycles: int  # T: months followed (not a kernel argument)

    def arrays(self) -> tuple:
        """The kernels' arguments, in order (``bound`` last)."""
        return (self.log_s, self.log_after, self.factor, self.rr, self.no_effect, self.after_effect, self.duration,
                self.months, self.receives_ifpp, self.bound)

    def hazards(self) -> np.ndarray:
        """Monthly first-entry probabilities ``(K, N, T)`` (and ``bound``), by the compiled entry kernel."""
        entry = np.empty((len(self.receives_ifpp), len(self.factor), self.n_cycles))
        args = self.arrays()
        kernels.compiled("entry_hazards_kernel", len(self.factor))(*args[:-1], entry, self.bound)
        return entry

def entry_curves(p: dict[str, np.ndarray], spec: ModelSpec, n_cycles: int, after_effect: np.ndarray | None = None,
                 no_effect: np.ndarray | None = None) -> EntryCurves:
    """:class:`EntryCurves` for model-unit values ``p`` (arguments as :func:`cumulative_entry_curves`)."""
    n = len(p["rr_12m"])
    if after_effect is None:
        after_effect = np.full(n, ASSUMPTIONS.index(spec.after_effect))
    rr = relative_risk_curve(p, spec, np.arange(n_cycles + 1))
    if rr.strides[1] == 0:  # one RR for every month: one column, not (N, T+1) copies of it for the kernel
        rr = rr[:, :1]
    return EntryCurves(
        log_s=np.ascontiguousarray(_log_survival_at_knots(p)),
        log_after=np.log1p(-p["annual_risk_after_24m"]),
        factor=np.ascontiguousarray(child_risk_factor(p)[0], dtype=float),
        rr=rr,
        no_effect=np.zeros(n, dtype=bool) if no_effect is None else np.asarray(no_effect, dtype=bool),
        after_effect=np.asarray(after_effect, dtype=np.int64),
        duration=np.clip(np.round(p["effect_duration_months"]).astype(np.int64), 0, n_cycles),
        months=spec.after_effect_months_by_code(),
        receives_ifpp=np.array([s.receives_ifpp for s in spec.strategies]),
        bound=np.zeros(n, dtype=bool),
        n_cycles=n_cycles)

def first_entry_probabilities(p: dict[str, np.ndarray], spec: ModelSpec, n_cycles: int,
                              after_effect: np.ndarray | None = None, no_effect: np.ndarray | None = None,
                              kernel: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Monthly first-entry probabilities of every strategy ``(K, N, T)`` and the running-maximum flags ``(N,)``.

    The curves of :func:`cumulative_entry_curves` turned into monthly probabilities by
    :func:`hazards_from_curve`. With the compiled kernel (see :mod:`ifpp_econ.kernels`) the same
    arithmetic runs in one loop per iteration, with no ``(N, T)`` temporaries; it agrees with
    this numpy reference to rounding.
    """
    if choose_kernel(kernel) == "numpy":
        receives = [s.receives_ifpp for s in spec.strategies]
        usual, ifpp, bound = cumulative_entry_curves(p, spec, n_cycles, after_effect, no_effect)
        return hazards_from_curve(np.stack([ifpp if r else usual for r in receives])), bound
    curves = entry_curves(p, spec, n_cycles, after_effect, no_effect)
    return curves.hazards(), curves.bound

def hazards_from_curve(cumulative: np.ndarray) -> np.ndarray:
    """Monthly conditional probabilities ``(..., T)`` from a cumulative curve ``(..., T+1)``."""
    return arithmetic.monthly_probability(cumulative[..., 1:], cumulative[..., :-1])
