"""The family states and their monthly step, vectorised over (strategy, iteration).

States (40): ``at_home`` (never placed since referral); ``in_care_0m`` … ``in_care_23m``
and ``in_care_24m_plus`` (tunnels by completed months in the current episode);
``returned_0m`` … ``returned_11m`` and ``returned_12m_plus`` (tunnels by completed
months since the return home); ``left_care`` (adoption, special guardianship, other
permanence; absorbing). Monthly cycles. A child who enters care during cycle t is in
``in_care_0m`` at row t; re-entry restarts the care tunnel.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from ..exceptions import TransitionError
from .entry import EntryCurves

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
        for name, arr in checks:  # a NaN fails both comparisons; two reductions, no temporaries
            if arr.size and not (arr.min() >= -1e-12 and arr.max() <= 1 + 1e-12):
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
