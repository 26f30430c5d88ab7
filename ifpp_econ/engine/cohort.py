"""Generic cohort state-transition (Markov) engine.

The engine knows nothing about family preservation: it moves a cohort through
``S`` states over ``T`` cycles and totals rewards under explicit conventions.
Every array may carry leading batch axes ``...`` (PSA iterations, strategies),
so one call evaluates thousands of parameter sets without a Python loop over them.

Shapes (``...`` = any leading batch axes, broadcast together):

* ``initial``: ``(..., S)`` state distribution at trace row 0.
* dense transitions: ``(..., S, S)`` (time-homogeneous) or ``(..., T, S, S)``;
  ``P[..., t-1, i, j]`` moves the cohort from row ``t-1`` to row ``t`` (cycle ``t``).
* sparse transitions (:class:`Edges`): probabilities ``(..., E)`` or ``(..., T, E)``
  for ``E`` listed moves ``source[e] -> target[e]``; unlisted moves have probability 0.
* trace: ``(..., T+1, S)``; row ``r`` is the distribution after ``r`` transitions.
* state values (per state, per row): broadcastable to ``(..., T+1, S)``.
* transition values (one-off, per move, per cycle): broadcastable to
  ``(..., T, S, S)`` (dense) or ``(..., T, E)`` (sparse).

Conventions (:class:`Conventions`), all explicit:

* ``counting`` — which trace rows are counted and with what weight:
  ``"start"`` rows ``0..T-1`` (value of cycle t at its start; row 0 counted),
  ``"end"`` rows ``1..T`` (value at the end of each cycle; row 0 not counted),
  ``"half-cycle"`` trapezoid rule (rows 0 and T weighted 1/2, others 1),
  ``"simpson"`` Simpson's 1/3 rule (weights 1,4,2,…,4,1 over 3; with an odd
  number of cycles the last three cycles use Simpson's 3/8 rule; one cycle: trapezoid).
* discounting — row ``r`` lies at ``r × cycle_years`` years; its discount factor is
  ``(1 + rate) ** -max(r - discount_origin, 0) × cycle_years``; ``discount_step="year"``
  floors that time to whole years (annual-step schedules, e.g. the Green Book table).
  ``discount_origin`` is the trace row that is not discounted (0 by default).
* one-off transition values are counted once per cycle in which the move happens,
  never corrected, and discounted at the cycle's end row (``transition_timing="end"``)
  or start row (``"start"``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..exceptions import TransitionError
from .threads import choose_kernel, threads_for

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

COUNTING_METHODS = ("start", "end", "half-cycle", "simpson")


@dataclass(frozen=True)
class Conventions:
    """Counting and discounting conventions (see module docstring)."""

    counting: str = "half-cycle"
    cycle_years: float = 1.0 / 12.0
    discount_origin: int = 0
    discount_step: str = "cycle"
    transition_timing: str = "end"

    def __post_init__(self) -> None:
        if self.counting not in COUNTING_METHODS:
            raise ValueError(f"counting must be one of {COUNTING_METHODS}, got {self.counting!r}")
        if self.discount_step not in ("cycle", "year"):
            raise ValueError(f"discount_step must be 'cycle' or 'year', got {self.discount_step!r}")
        if self.transition_timing not in ("start", "end"):
            raise ValueError(f"transition_timing must be 'start' or 'end', got {self.transition_timing!r}")
        if not self.cycle_years > 0:
            raise ValueError(f"cycle_years must be positive, got {self.cycle_years!r}")

    def describe(self) -> str:
        """One line stating the conventions, for echoing in outputs."""
        return (
            f"counting={self.counting}; cycle length {self.cycle_years:g} years; "
            f"discount time of row r = max(r - {self.discount_origin}, 0) cycles"
            f"{' floored to whole years' if self.discount_step == 'year' else ''}; "
            f"one-off transition values discounted at the cycle {self.transition_timing}"
        )


@dataclass(frozen=True)
class Edges:
    """Sparse transition structure: move ``e`` goes from ``source[e]`` to ``target[e]``."""

    source: np.ndarray
    target: np.ndarray
    n_states: int
    # derived in __post_init__: the edges sorted by target, where each target's run starts, and those targets
    _order: np.ndarray = field(init=False, repr=False, compare=False)
    _starts: np.ndarray = field(init=False, repr=False, compare=False)
    _targets: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        source = np.asarray(self.source, dtype=np.intp)
        target = np.asarray(self.target, dtype=np.intp)
        if source.shape != target.shape or source.ndim != 1:
            raise ValueError("source and target must be 1-D arrays of equal length")
        if len({(int(s), int(t)) for s, t in zip(source, target)}) != len(source):
            raise ValueError("each (source, target) move may be listed only once")
        if source.min(initial=0) < 0 or max(source.max(initial=0), target.max(initial=0)) >= self.n_states:
            raise ValueError("state index out of range")
        order = np.argsort(target, kind="stable")
        sorted_target = target[order]
        starts = np.flatnonzero(np.r_[True, sorted_target[1:] != sorted_target[:-1]])
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "_order", order)
        object.__setattr__(self, "_starts", starts)
        object.__setattr__(self, "_targets", sorted_target[starts])

    def apply(self, flows: np.ndarray) -> np.ndarray:
        """Sum edge flows ``(..., E)`` into the states they enter → ``(..., S)``."""
        out = np.zeros(flows.shape[:-1] + (self.n_states,))
        out[..., self._targets] = np.add.reduceat(flows[..., self._order], self._starts, axis=-1)
        return out

    def to_dense(self, probabilities: np.ndarray) -> np.ndarray:
        """Dense ``(..., S, S)`` matrices from edge probabilities ``(..., E)``."""
        p = np.asarray(probabilities, dtype=float)
        dense = np.zeros(p.shape[:-1] + (self.n_states, self.n_states))
        dense[..., self.source, self.target] = p
        return dense


@dataclass(frozen=True)
class Reward:
    """A quantity to total: state values per row plus one-off transition values.

    ``discount_rate`` is per year (0.035 = 3.5%).
    """

    state_values: np.ndarray | float | None = None
    transition_values: np.ndarray | float | None = None
    discount_rate: float = 0.0
    varies_by_cycle: bool = False


def _distinct(a: np.ndarray) -> np.ndarray:
    """``a`` without its broadcast (stride-0) copies: checking it checks every element of ``a``."""
    return a[tuple(slice(0, 1) if stride == 0 and size > 1 else slice(None) for stride, size in zip(a.strides, a.shape))]


def check_transitions(p: np.ndarray, edges: Edges | None = None, atol: float = 1e-9) -> None:
    """Raise :class:`TransitionError` unless every row is a probability distribution.

    Cost: a few passes over the distinct values of ``p`` (axes broadcast with stride 0 are
    checked once), vectorised; pass ``check=False`` to :func:`simulate` when the caller
    guarantees valid rows (e.g. it built them from probabilities it already checked).
    """
    p = _distinct(np.asarray(p, dtype=float))
    problems = []
    lo, hi = (float(p.min()), float(p.max())) if p.size else (0.0, 0.0)  # NaN propagates: two passes, no temporaries
    if not (np.isfinite(lo) and np.isfinite(hi)):
        problems.append("contains NaN or infinite probabilities")
        lo, hi = (np.nanmin(p), np.nanmax(p)) if not np.all(np.isnan(p)) else (0.0, 0.0)
    if lo < -atol:
        problems.append(f"has negative probabilities (min {lo:.3g})")
    if hi > 1 + atol:
        problems.append(f"has probabilities above 1 (max {hi:.6g})")
    if edges is None:
        sums = p.sum(axis=-1)
    else:
        sums = np.zeros(p.shape[:-1] + (edges.n_states,))
        np.add.at(np.moveaxis(sums, -1, 0), edges.source, np.moveaxis(p, -1, 0))
        sums = sums[..., np.unique(edges.source)]
    bad = np.abs(sums - 1.0) > atol
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        problems.append(
            f"has rows not summing to 1 (first at index {index}: sum {sums[index]:.12g}, tolerance {atol:g})"
        )
    if problems:
        raise TransitionError("transition probabilities " + "; ".join(problems))


def cycle_weights(n_cycles: int, counting: str) -> np.ndarray:
    """Weights ``(T+1,)`` of trace rows ``0..T`` under a counting method."""
    if n_cycles < 1:
        raise ValueError("n_cycles must be at least 1")
    w = np.ones(n_cycles + 1)
    if counting == "start":
        w[-1] = 0.0
    elif counting == "end":
        w[0] = 0.0
    elif counting == "half-cycle":
        w[0] = w[-1] = 0.5
    elif counting == "simpson":
        if n_cycles == 1:  # a single interval: the trapezoid rule (exact for a straight line)
            return np.array([0.5, 0.5])
        even_part = n_cycles if n_cycles % 2 == 0 else n_cycles - 3
        w[:] = 0.0
        if even_part > 0:
            w[: even_part + 1] = np.where(np.arange(even_part + 1) % 2 == 1, 4.0, 2.0)
            w[0] = w[even_part] = 1.0
            w[: even_part + 1] /= 3.0
        if even_part != n_cycles:
            w[even_part : n_cycles + 1] += np.array([1.0, 3.0, 3.0, 1.0]) * 3.0 / 8.0
    else:
        raise ValueError(f"counting must be one of {COUNTING_METHODS}, got {counting!r}")
    return w


def discount_factors(n_cycles: int, rate: float, conventions: Conventions) -> np.ndarray:
    """Discount factors ``(T+1,)`` for trace rows ``0..T``."""
    rows = np.arange(n_cycles + 1)
    years = np.maximum(rows - conventions.discount_origin, 0) * conventions.cycle_years
    if conventions.discount_step == "year":
        years = np.floor(years + 1e-9)
    return (1.0 + rate) ** -years


@dataclass
class CohortResult:
    """Trace and per-row / per-cycle reward values of one :func:`simulate` call.

    ``row_values[name]``: ``(..., T+1)`` occupancy-weighted state values per row (undiscounted); a view of a
    rows-first block (rows, rewards or one reward, batch), as both loops write them, not a C-contiguous array.
    ``flow_values[name]``: ``(..., T)`` one-off transition values per cycle (undiscounted).
    """

    n_cycles: int
    conventions: Conventions
    rewards: dict[str, Reward]
    row_values: dict[str, np.ndarray]
    flow_values: dict[str, np.ndarray]
    trace: np.ndarray | None = None

    def total(self, name: str, horizon: int | None = None, discount_rate: float | None = None) -> np.ndarray:
        """Discounted, counted total of one reward over cycles ``1..horizon`` → ``(...)``.

        ``discount_rate`` overrides the reward's own rate (the same occupancy can be
        totalled as a cost and as an outcome).
        """
        horizon = self.n_cycles if horizon is None else int(horizon)
        if not 1 <= horizon <= self.n_cycles:
            raise ValueError(f"horizon must be in 1..{self.n_cycles}, got {horizon}")
        conv = self.conventions
        rate = self.rewards[name].discount_rate if discount_rate is None else discount_rate
        disc = discount_factors(horizon, rate, conv)
        total = 0.0
        if name in self.row_values:
            w = cycle_weights(horizon, conv.counting) * disc
            total = np.einsum("...r,r->...", self.row_values[name][..., : horizon + 1], w)  # not BLAS: batch-independent sums
        if name in self.flow_values:
            d = disc[1:] if conv.transition_timing == "end" else disc[:-1]
            total = total + np.einsum("...t,t->...", self.flow_values[name][..., :horizon], d)
        return np.asarray(total)

    def totals(self, horizon: int | None = None) -> dict[str, np.ndarray]:
        """:meth:`total` for every reward."""
        return {name: self.total(name, horizon) for name in self.rewards}


def _sum_plan(matrix: np.ndarray) -> list[list[tuple[int, int, float]]]:
    """For each column of a (S, R) value matrix: runs (start, stop, weight) of equal non-zero values."""
    plan = []
    for col in matrix.T:
        runs, s = [], 0
        while s < len(col):
            e = s + 1
            while e < len(col) and col[e] == col[s]:
                e += 1
            if col[s] != 0:
                runs.append((s, e, float(col[s])))
            s = e
        plan.append(runs)
    return plan


def _weighted_sums(plan, flat: np.ndarray, out: np.ndarray) -> None:
    """``out[r] = Σ_s matrix[s, r] · flat[s]`` by slice sums: exact, order fixed, independent of the batch size."""
    for r, runs in enumerate(plan):
        acc = None
        for s, e, w in runs:
            part = flat[s:e].sum(axis=0) if e - s > 1 else flat[s]
            part = part if w == 1.0 else part * w
            acc = part.copy() if acc is None else acc + part
        out[r] = 0.0 if acc is None else acc


class TransitionModel(Protocol):
    """Anything that moves a cohort one cycle.

    ``step(x, t)`` takes the distribution ``x`` ``(..., S)`` at row ``t`` and returns the
    distribution at row ``t+1`` and the amounts moved during cycle ``t+1`` along the
    model's reported moves, ``(..., *move_shape)``. Transition values are given per
    reported move.
    """

    n_states: int
    move_shape: tuple[int, ...]
    batch_shape: tuple[int, ...]

    def step(self, x: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]: ...


class DenseTransitions:
    """Full matrices ``(..., S, S)``, or ``(..., T, S, S)`` with ``time_varying``; moves are ``(S, S)``.

    With ``cycle_index`` ``(T,)`` the time-varying array holds only the ``M`` distinct
    matrices, ``(..., M, S, S)``, and cycle ``t`` uses matrix ``cycle_index[t - 1]`` — e.g. a
    treatment effect for the first two cycles is ``M = 2`` matrices, not ``T``.
    """

    def __init__(self, p: ArrayLike, time_varying: bool = False, check: bool = True, atol: float = 1e-9,
                 cycle_index: np.ndarray | None = None):
        self.p = np.asarray(p, dtype=float)
        self.time_varying = time_varying or cycle_index is not None
        core = 3 if self.time_varying else 2
        if self.p.ndim < core:
            raise ValueError(f"transition array needs at least {core} axes, got shape {self.p.shape}")
        if check:
            check_transitions(self.p, None, atol)
        self.n_states = self.p.shape[-1]
        self.move_shape: tuple[int, ...] = (self.n_states, self.n_states)
        self.batch_shape = self.p.shape[:-core]
        self.cycle_index = None
        if cycle_index is not None:
            self.cycle_index = np.asarray(cycle_index, dtype=np.int64)
            if self.cycle_index.ndim != 1 or np.any(self.cycle_index < 0) or np.any(self.cycle_index >= self.p.shape[-3]):
                raise ValueError(f"cycle_index must be a 1-D array of matrix numbers 0..{self.p.shape[-3] - 1}")
        self.n_cycles = (len(self.cycle_index) if self.cycle_index is not None
                         else self.p.shape[-3] if self.time_varying else None)

    def matrix(self, t: int) -> np.ndarray:
        """Transition matrices ``(..., S, S)`` of cycle ``t + 1`` (row t → row t+1)."""
        if not self.time_varying:
            return self.p
        return self.p[..., t if self.cycle_index is None else self.cycle_index[t], :, :]

    def step(self, x: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        moves = x[..., :, None] * self.matrix(t)
        return moves.sum(-2), moves


class SparseTransitions:
    """Listed moves only: probabilities ``(..., E)`` or ``(..., T, E)``; moves are ``(E,)``."""

    def __init__(self, edges: Edges, p: ArrayLike, time_varying: bool = False, check: bool = True, atol: float = 1e-9):
        self.edges = edges
        self.p = np.asarray(p, dtype=float)
        self.time_varying = time_varying
        if check:
            check_transitions(self.p, edges, atol)
        self.n_states = edges.n_states
        self.move_shape: tuple[int, ...] = (len(edges.source),)
        self.batch_shape = self.p.shape[: -2 if time_varying else -1]
        self.n_cycles = self.p.shape[-2] if time_varying else None

    def step(self, x: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
        p_t = self.p[..., t, :] if self.time_varying else self.p
        moves = x[..., self.edges.source] * p_t
        return self.edges.apply(moves), moves


TRACE_AUTO_BYTES = 64 * 2**20


def _simulate_dense_compiled(x: np.ndarray, model: DenseTransitions, n_cycles: int, rewards: dict[str, Reward],
                             conventions: Conventions, keep_trace: bool) -> CohortResult:
    """:func:`simulate` for dense transitions and state rewards: cohort loop and row values in one compiled pass.

    ``x``: ``(..., S)`` at row 0, already broadcast to the batch.
    """
    from . import _dense

    batch, n_states = x.shape[:-1], x.shape[-1]
    n_batch = int(np.prod(batch, dtype=np.int64))
    if model.time_varying:
        index = model.cycle_index if model.cycle_index is not None else np.arange(n_cycles, dtype=np.int64)
        p = model.p
    else:
        index, p = np.zeros(n_cycles, dtype=np.int64), model.p[..., None, :, :]
    # (B, M, S, S): the caller's memory read in place when it is C-ordered or has the batch axes last (a view of an
    # (M, S, S, *batch) array: each matrix entry contiguous over the batch, as a PSA builds them), else a C-ordered copy
    p = np.broadcast_to(p, batch + p.shape[-3:]).reshape((n_batch,) + p.shape[-3:])
    if not (p.flags.c_contiguous or p.strides[0] == p.itemsize):
        p = np.ascontiguousarray(p)
    # state values by kind: one vector per reward (A0, S); per batch element (A1, B, S); per element and row (A2, B, T+1, S)
    shapes = {"plain": (n_states,), "batch": (n_batch, n_states), "row": (n_batch, n_cycles + 1, n_states)}
    groups: dict[str, list[tuple[str, np.ndarray]]] = {kind: [] for kind in shapes}
    for name, r in rewards.items():
        if r.state_values is not None:
            v = np.asarray(r.state_values, float)
            kind = "row" if r.varies_by_cycle else "plain" if v.ndim == 1 else "batch"
            groups[kind].append((name, v if kind == "plain" else np.broadcast_to(v, batch + shapes[kind][1:])))
    values = {kind: np.array([v for _, v in members], dtype=float).reshape((len(members),) + shapes[kind])
              for kind, members in groups.items()}
    # rows first (A, T+1, B), like the numpy loop's row block: exposed as (..., T+1) views
    outs = {kind: np.empty((len(members), n_cycles + 1, n_batch)) for kind, members in groups.items()}
    trace = np.empty((n_batch, n_cycles + 1, n_states) if keep_trace else (0, 0, 0))
    _dense.compiled("dense_cohort", threads_for())(np.ascontiguousarray(x.reshape(n_batch, n_states)), p, index, values["plain"],
                             values["batch"], values["row"], outs["plain"], outs["batch"], outs["row"], trace)
    row_values = {name: np.moveaxis(outs[kind][a], 0, -1).reshape(batch + (n_cycles + 1,))
                  for kind, members in groups.items() for a, (name, _) in enumerate(members)}
    kept = trace.reshape(batch + (n_cycles + 1, n_states)) if keep_trace else None
    return CohortResult(n_cycles, conventions, dict(rewards), row_values, {}, kept)


def simulate(
    initial: np.ndarray,
    transitions: np.ndarray | TransitionModel,
    n_cycles: int,
    rewards: dict[str, Reward] | None = None,
    conventions: Conventions | None = None,
    edges: Edges | None = None,
    time_varying: bool = False,
    keep_trace: bool | None = None,
    check: bool = True,
    atol: float = 1e-9,
    cycle_index: np.ndarray | None = None,
    kernel: str | None = None,
) -> CohortResult:
    """Run a cohort for ``n_cycles`` cycles and collect rewards.

    ``transitions`` is dense ``(..., S, S)``, or with ``edges`` sparse ``(..., E)``; with
    ``time_varying=True`` it carries a cycle axis ``(..., T, S, S)`` / ``(..., T, E)``, or,
    dense with ``cycle_index`` ``(T,)``, only its distinct matrices ``(..., M, S, S)``.
    Any :class:`TransitionModel` may be passed instead (a model's own structured step).
    Rewards with ``varies_by_cycle=True`` carry a row axis ``(..., T+1, S)`` for state
    values and a cycle axis ``(..., T, *move_shape)`` for transition values.

    Fast options for large batches (PSA): ``check=False`` when the caller guarantees
    valid rows (the check is otherwise a few vectorised passes over the distinct
    transition values, so ``cycle_index`` also makes it cheaper); ``keep_trace=False``
    (default ``None``: the trace is kept when it needs at most :data:`TRACE_AUTO_BYTES`);
    dense matrices held with the batch axes last, i.e. ``np.moveaxis(q, (0, 1, 2), (-3, -2, -1))``
    of ``q`` ``(M, S, S, *batch)`` (each entry one contiguous vector over the batch, as PSA
    draws come), which the compiled loop reads in place instead of copying (same numbers).
    Dense transitions without one-off transition values run their cohort loop compiled
    (numba, :mod:`ifpp_econ.kernels`; ``kernel="numpy"`` or ``IFPP_ECON_KERNEL=numpy``
    selects the pure-numpy loop, the reference).
    """
    conventions = conventions or Conventions()
    rewards = rewards or {}
    model: TransitionModel
    if isinstance(transitions, np.ndarray) or np.isscalar(transitions) or isinstance(transitions, list):
        if edges is None:
            model = DenseTransitions(transitions, time_varying, check, atol, cycle_index)
        else:
            if cycle_index is not None:
                raise ValueError("cycle_index is supported for dense transitions only")
            model = SparseTransitions(edges, transitions, time_varying, check, atol)
    else:
        model = transitions
    model_cycles = getattr(model, "n_cycles", None)
    if model_cycles not in (None, n_cycles):
        raise ValueError(f"time-varying transitions have {model_cycles} cycles, expected {n_cycles}")
    x = np.asarray(initial, dtype=float)
    if check and (np.any(x < -atol) or np.any(np.abs(x.sum(-1) - 1) > atol)):
        raise TransitionError("initial distribution must be non-negative and sum to 1")
    n_states = model.n_states
    batch = np.broadcast_shapes(x.shape[:-1], tuple(model.batch_shape))
    x = np.broadcast_to(x, batch + (n_states,)).copy()
    if keep_trace is None:
        keep_trace = int(np.prod(batch, dtype=np.int64)) * (n_cycles + 1) * n_states * 8 <= TRACE_AUTO_BYTES
    if isinstance(model, DenseTransitions) and not any(r.transition_values is not None for r in rewards.values()):
        if choose_kernel(kernel) == "numba":
            return _simulate_dense_compiled(x, model, n_cycles, rewards, conventions, keep_trace)
    move_axes = tuple(range(-len(model.move_shape), 0))
    # A model may keep states on the first axis, (S, ...) and moves (M, ...), for contiguous slicing.
    state_first = bool(getattr(model, "state_first", False))
    if state_first:
        x = np.ascontiguousarray(np.moveaxis(x, -1, 0))
    n_batch = int(np.prod(batch, dtype=int))

    # Rewards whose values are one plain vector are totalled together with one matrix product.
    def plain(r: Reward, v: np.ndarray, core: int) -> bool:
        return not r.varies_by_cycle and v.ndim == core
    state_values = {k: np.asarray(r.state_values, float) for k, r in rewards.items() if r.state_values is not None}
    move_values = {k: np.asarray(r.transition_values, float) for k, r in rewards.items() if r.transition_values is not None}
    plain_states = [k for k, v in state_values.items() if plain(rewards[k], v, 1)]
    plain_moves = [k for k, v in move_values.items() if plain(rewards[k], v, len(model.move_shape))]
    state_matrix = np.stack([state_values[k] for k in plain_states], -1) if plain_states else None  # (S, R)
    move_matrix = np.stack([move_values[k].reshape(-1) for k in plain_moves], -1) if plain_moves else None  # (M, R)
    # row-major blocks (rows, rewards, batch) for fast writes; exposed as (..., rows) views
    row_block = np.empty((n_cycles + 1, len(plain_states)) + batch)  # every row is written below
    flow_block = np.empty((n_cycles, len(plain_moves)) + batch)
    row_values = {k: np.moveaxis(row_block[:, i], 0, -1) for i, k in enumerate(plain_states)}
    flow_values = {k: np.moveaxis(flow_block[:, i], 0, -1) for i, k in enumerate(plain_moves)}
    row_values.update({k: np.zeros(batch + (n_cycles + 1,)) for k in state_values if k not in row_values})
    flow_values.update({k: np.zeros(batch + (n_cycles,)) for k in move_values if k not in flow_values})
    trace = np.empty(batch + (n_cycles + 1, n_states)) if keep_trace else None

    state_plan = _sum_plan(state_matrix) if state_matrix is not None else None
    move_plan = _sum_plan(move_matrix) if move_matrix is not None else None

    def record_row(r: int, occupancy: np.ndarray) -> None:
        if state_plan is not None:
            flat = occupancy.reshape(n_states, n_batch) if state_first else occupancy.reshape(n_batch, n_states).T
            _weighted_sums(state_plan, flat, row_block[r].reshape(len(plain_states), n_batch))
        if state_first:
            occupancy = np.moveaxis(occupancy, 0, -1)
        if trace is not None:
            trace[..., r, :] = occupancy
        for k, v in state_values.items():
            if k not in plain_states:
                v_r = v[..., r, :] if rewards[k].varies_by_cycle else v
                row_values[k][..., r] = (occupancy * v_r).sum(-1)

    record_row(0, x)
    for t in range(n_cycles):
        x, moves = model.step(x, t)
        if move_plan is not None:
            flat = moves.reshape(-1, n_batch) if state_first else moves.reshape(n_batch, -1).T
            _weighted_sums(move_plan, flat, flow_block[t].reshape(len(plain_moves), n_batch))
        if state_first and move_values.keys() - set(plain_moves):
            moves = np.moveaxis(moves.reshape(model.move_shape + batch), tuple(range(len(move_axes))), move_axes)
        for k, c in move_values.items():
            if k not in plain_moves:
                c_t = c[(Ellipsis, t) + (slice(None),) * len(move_axes)] if rewards[k].varies_by_cycle else c
                flow_values[k][..., t] = (moves * c_t).sum(axis=move_axes)
        record_row(t + 1, x)

    return CohortResult(n_cycles, conventions, dict(rewards), row_values, flow_values, trace)
