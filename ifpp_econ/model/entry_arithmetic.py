"""One month of the first-entry arithmetic, written once: the numpy reference (:mod:`.entry`, vectorised over
iterations) and the compiled kernel (:mod:`._compiled`, one iteration per vector lane) both call these functions.

Usual care: the family's log survival is linear between the 0/3/6/12/24-month knots (then falls by the monthly
log survival of the annual risk after 24 months), so from each knot's exact value the survival S is stepped by a
constant monthly factor q and the cumulative risk gathers S·(1 − q): one exp per stretch, no cancellation. A child's
risk is the family's × the child ÷ family factor, never below last month's. IFPP: the relative risk × usual care's
cumulative risk up to the effect duration, then an after-effect rule (:mod:`.after_effects`); clipped to [0, 1).

Only arithmetic and ``np.exp``/``np.expm1``/``np.minimum``/``np.maximum``: the same operations on arrays and scalars.
"""
from __future__ import annotations

import numpy as np

from .. import declarations

KNOT_MONTHS = (0, *declarations.RISK_KNOT_MONTHS)  # usual care's risk knots (0 at month 0; risk_3m … risk_24m)
BELOW_ONE = 1.0 - 1e-12  # cumulative risks stay below 1: a certain entry would leave no one at home to follow


def knot_slope(log_s: np.ndarray | float, log_s_next: np.ndarray | float, months: float):
    """The monthly change of log survival between two knots ``months`` apart."""
    return (log_s_next - log_s) / months


def at_knot(log_s, slope):
    """At a knot: survival S, cumulative risk 1 − S, and the monthly survival factor q and hazard 1 − q until the
    next knot (``slope``: the monthly change of log survival)."""
    return np.exp(log_s), -np.expm1(log_s), np.exp(slope), -np.expm1(slope)


def between_knots(survival, risk, q, hazard):
    """One month on from a knot: the risk gathers S × hazard, then S falls by q. Returns (survival, risk)."""
    return survival * q, risk + survival * hazard


def child_risk(family_risk, factor, last_month):
    """A child's cumulative risk: the family's × the child ÷ family factor, never below last month's."""
    return np.maximum(family_risk * factor, last_month)


def treated(rr, usual):
    """IFPP's cumulative risk during the effect: the relative risk × usual care's, below 1."""
    return np.minimum(rr * usual, BELOW_ONE)


def clipped(risk):
    """A cumulative risk clipped to [0, 1)."""
    return np.minimum(np.maximum(risk, 0.0), BELOW_ONE)


def monthly_probability(cumulative, last_month):
    """The probability of a first entry this month among those not yet placed: 1 − (1 − c_t) / (1 − c_{t−1})."""
    return 1.0 - (1.0 - cumulative) / (1.0 - last_month)
