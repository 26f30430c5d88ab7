"""What happens to IFPP's effect after the effect duration: one rule per assumption, each one month's arithmetic.

Each rule gives IFPP's cumulative first-entry risk ``a`` months after the effect duration ``D`` from usual care's
cumulative risk ``u`` this month, usual care's ``u_d`` and IFPP's ``t_d`` at ``D``, and the assumption's ``months``
setting (``declarations.AFTER_EFFECT_MONTHS``). Rules use arithmetic and ``np.minimum``/``np.maximum`` only, so the
same functions run on numpy arrays (the reference in :mod:`.entry`) and, compiled, on one iteration at a time (the
kernel in :mod:`._compiled`): one copy of the arithmetic. The result is clipped to [0, 1) and made non-decreasing by
the caller.

To add an assumption: its name, label and months setting in :mod:`ifpp_econ.declarations`, its rule here (a function
and a branch of :func:`after_effect`), its settings in :mod:`ifpp_econ.inputs.schema`.
"""
from __future__ import annotations

import numpy as np

from .. import declarations

ASSUMPTIONS = tuple(declarations.AFTER_EFFECT_LABELS)  # an assumption's code is its position here


def effect_stops(u, u_d, t_d, a, months):
    """Children still at home face usual care's conditional monthly hazard: S(t) = S(D) × S_uc(t) / S_uc(D)."""
    return 1.0 - (1.0 - t_d) * (1.0 - u) / (1.0 - u_d)


def gap_persists(u, u_d, t_d, a, months):
    """The absolute gap in cumulative risk at D persists (equal absolute monthly entries; an upper bound)."""
    return u - (u_d - t_d)


def catch_up(u, u_d, t_d, a, months):
    """The gap closes linearly over ``months`` (pure delay)."""
    return u - (u_d - t_d) * np.minimum(np.maximum(1.0 - a / np.maximum(months, 1e-9), 0.0), 1.0)


def linear_decay(u, u_d, t_d, a, months):
    """The relative reduction in cumulative risk at D, 1 − t_D/u_D, fades linearly to none over ``months``, as WSIPP
    decays effect sizes: IFPP's risk is u × (1 − (1 − t_D/u_D) × max(0, 1 − a/months))."""
    reduction = (u_d - t_d) / np.maximum(u_d, 1e-300)  # 0 when there was no risk to reduce
    return u * (1.0 - reduction * np.minimum(np.maximum(1.0 - a / np.maximum(months, 1e-9), 0.0), 1.0))


RULES = (effect_stops, gap_persists, catch_up, linear_decay)  # in the order of ASSUMPTIONS


def after_effect(code, u, u_d, t_d, a, months):
    """The rule of assumption ``code`` (its position in :data:`ASSUMPTIONS`) for one iteration (the compiled kernel's
    dispatch; the numpy reference takes :data:`RULES` by code)."""
    if code == 0:
        return effect_stops(u, u_d, t_d, a, months)
    if code == 1:
        return gap_persists(u, u_d, t_d, a, months)
    if code == 2:
        return catch_up(u, u_d, t_d, a, months)
    return linear_decay(u, u_d, t_d, a, months)


def months_setting(settings: dict) -> np.ndarray:
    """Each assumption's months setting ``(A,)``, by code (0 where an assumption reads none)."""
    return np.array([float(settings.get(declarations.AFTER_EFFECT_MONTHS.get(name, ""), 0.0) or 0.0)
                     for name in ASSUMPTIONS])
