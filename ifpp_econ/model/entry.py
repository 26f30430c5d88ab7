"""First entry to care: the usual-care cumulative risk curve, the child ÷ family risk factor, the IFPP effect and
what happens after it, as cumulative curves and monthly probabilities (the numpy reference; the compiled kernel
in :mod:`._compiled` computes the same curves row by row).

Model-unit values ``p`` are dicts of arrays ``(N,)`` (iterations); curves are ``(N, T+1)`` (rows 0..T).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine.threads import choose_kernel
from ..exceptions import ModelError
from ..inputs.container import AFTER_EFFECTS
from . import kernels
from .spec import ModelSpec

RISK_KNOTS = np.array([0, 3, 6, 12, 24])

RR_NAMES = ("rr_3m", "rr_6m", "rr_12m", "rr_24m")

RISK_KNOT_NAMES = ("risk_3m", "risk_6m", "risk_12m", "risk_24m")

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
    if choose_kernel(kernel) == "numpy":
        receives = [s.receives_ifpp for s in spec.strategies]
        usual, ifpp, bound = cumulative_entry_curves(p, spec, n_cycles, after_effect, no_effect)
        return hazards_from_curve(np.stack([ifpp if r else usual for r in receives])), bound
    curves = entry_curves(p, spec, n_cycles, after_effect, no_effect)
    return curves.hazards(), curves.bound

def hazards_from_curve(cumulative: np.ndarray) -> np.ndarray:
    """Monthly conditional probabilities ``(..., T)`` from a cumulative curve ``(..., T+1)``."""
    survival = 1.0 - cumulative
    return 1.0 - survival[..., 1:] / survival[..., :-1]
