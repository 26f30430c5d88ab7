"""Compiled inner loop for the family-states model: monthly step and reward totals in one pass.

:func:`simulate_family_states` returns an object with the surface the model uses from
the engine's :class:`~ifpp_econ.engine.CohortResult` (``total``, ``row_values``,
``flow_values``, ``trace``). With the numba kernel each iteration's 40 states stay in
L1: the step and the discounted totals the caller announced (``horizons`` × ``rates``,
state-reward values at ``rows``) are computed in one loop, and nothing of size
``(K, N, T)`` is allocated. Any other
total or row is answered from full per-row values, computed on first use by a second
pass of the same kernel (correct, just slower; ``full_passes`` counts them).

Kernels (``kernel=`` argument, else the ``IFPP_ECON_KERNEL`` environment variable):

* ``"numba"`` — the compiled loop in :mod:`ifpp_econ._compiled` (blocks of iterations
  shared between :func:`workers` threads, or its serial twin for one thread;
  ``cache=True``: compiled once per install, then loaded in a fraction of a second;
  numba is imported only when it runs);
* ``"numpy"`` — the engine's vectorised :func:`~ifpp_econ.engine.simulate`, the reference;
* ``"auto"`` (default) — numba when it imports, else numpy.

Reproducibility: every iteration is computed by the same sequence of floating-point
operations whatever block, thread or chunk it falls in (no reductions across
iterations, no fast-math), so results are bit-identical for any number of threads and
any chunk size. They agree with the numpy reference to rounding (≈1e-15 relative).
Keeping a trace (the deterministic base case) always uses the numpy reference.
"""
from __future__ import annotations

import threading
from functools import cached_property

import numpy as np

from ..engine import CohortResult, Conventions, Reward, cycle_weights, discount_factors, simulate
from ..engine.threads import ANNOUNCE, choose_kernel, threads_for


def compiled(name: str, iterations: int | None = None):
    """The family-states kernel ``name`` of :mod:`._compiled` for a batch of ``iterations`` (parallel, or its serial
    twin on one thread; see :func:`ifpp_econ.engine.threads.threads_for`)."""
    from . import _compiled

    return _compiled.compiled(name, threads_for(iterations))

def _csr(rows: list[list[tuple]], dtypes) -> tuple:
    """Events grouped by row → (pointer ``(rows+1,)``, one array per field)."""
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    flat = [e for r in rows for e in r]
    return (ptr,) + tuple(np.array([e[f] for e in flat], dtype=dt) for f, dt in enumerate(dtypes))


class _Segments:
    """The family states grouped for the compiled kernel: home, runs of care tunnels, runs of return
    tunnels, left care (``agg`` entries, in that order).

    A run ("segment") is a maximal sequence of tunnels with the same exit probabilities in every
    iteration and the same value in every state reward; the last tunnel of each chain (24+, 12+)
    is a segment of its own. ``representative[a]``: a state of entry a (its first). ``ok`` is False
    when the initial distribution puts mass beyond a segment's first tunnel (the kernel assumes it
    does not; the caller then uses the numpy reference).
    """

    def __init__(self, transitions, rewards: dict[str, Reward], initial: np.ndarray):
        n_care, n_return = transitions.reunify.shape[1], transitions.reentry.shape[1]
        values = np.array([r.state_values for r in rewards.values() if r.state_values is not None]).reshape(-1, len(initial))

        def runs(probabilities, first_state: int, n: int) -> tuple[np.ndarray, np.ndarray]:
            change = np.zeros(n, dtype=bool)
            change[[0, n - 1]] = True
            for arr in probabilities:
                change[1:] |= np.any(arr[:, 1:] != arr[:, :-1], axis=0)
            block = values[:, first_state : first_state + n]
            change[1:] |= np.any(block[:, 1:] != block[:, :-1], axis=0)
            starts = np.flatnonzero(change)
            return starts, np.diff(np.r_[starts, n]).astype(np.int64)

        care_starts, self.care_len = runs((transitions.reunify, transitions.permanence), 1, n_care)
        return_starts, self.return_len = runs((transitions.reentry,), 1 + n_care, n_return)
        self.reunify = np.ascontiguousarray(transitions.reunify[:, care_starts])
        self.permanence = np.ascontiguousarray(transitions.permanence[:, care_starts])
        self.reentry = np.ascontiguousarray(transitions.reentry[:, return_starts])
        left = len(initial) - 1
        self.representative = np.r_[0, 1 + care_starts, 1 + n_care + return_starts, left]
        members = [np.arange(s, s + n) for s, n in zip(self.representative[1:-1], np.r_[self.care_len, self.return_len])]
        self.initial = np.array([initial[0], *(initial[m].sum() for m in members), initial[left]], dtype=float)
        plus = {len(self.care_len) - 1, len(members) - 1}  # the 24+ and 12+ tunnels may hold any mass
        self.ok = all(g in plus or not np.any(initial[m[1:]] != 0) for g, m in enumerate(members))


class _Plan:
    """The reward series, discount streams and per-row events that produce the announced totals: they depend on the
    rewards, conventions, totals asked for and the segments' representative states, not on the iterations, so one plan
    serves every chunk of a PSA (:func:`_plan`)."""

    def __init__(self, n_cycles: int, rewards: dict[str, Reward], conventions: Conventions, representative: np.ndarray,
                 horizons, rates, rows):
        """``representative`` ``(A,)``: a state of each segment (:class:`_Segments`); ``rates``: discount rates for
        every reward's totals, or a mapping reward name → its rates."""
        self.n_cycles = T = n_cycles
        self.state_names = [k for k, r in rewards.items() if r.state_values is not None]
        self.move_names = [k for k, r in rewards.items() if r.transition_values is not None]
        self.series = {name: a for a, name in enumerate(self.state_names + self.move_names)}
        dense = np.zeros((len(self.series), len(representative)))
        self.series_kind = np.zeros(len(self.series), dtype=np.int64)
        for name, a in self.series.items():
            if name in self.state_names:
                dense[a] = np.asarray(rewards[name].state_values)[representative]
            else:
                dense[a, :4] = np.asarray(rewards[name].transition_values, float).reshape(4)
                self.series_kind[a] = 1
        # every series gets at least one entry (a zero weight on entry 0 for an all-zero reward): the kernel's first
        # multiply then sets the value, with no separate pass to clear it
        self.series_csr = _csr([[(i, row[i]) for i in np.flatnonzero(row)] or [(0, 0.0)] for row in dense],
                               (np.int64, float))

        def weights(kind: int, h: int, rate: float) -> np.ndarray:
            """Row weights ``(T+1,)`` for a horizon, exactly as the engine's ``CohortResult.total``."""
            w = np.zeros(T + 1)
            disc = discount_factors(h, rate, conventions)
            if kind == 0:
                w[: h + 1] = cycle_weights(h, conventions.counting) * disc
            else:
                w[1 : h + 1] = disc[1:] if conventions.transition_timing == "end" else disc[:-1]
            return w

        streams: dict[tuple[int, float], int] = {}
        stream_w: list[np.ndarray] = []
        snaps: list[list[tuple[int, int, int]]] = [[] for _ in range(T + 2)]  # (query, stream, series)
        tails: list[list[tuple[int, int, float]]] = [[] for _ in range(T + 1)]  # (query, series, weight)
        self.queries: dict[tuple, int] = {}
        members = []  # (stream, series) pairs accumulated in the loop
        for name, a in self.series.items():
            kind = int(self.series_kind[a])
            for rate in sorted({float(r) for r in (rates.get(name, ()) if isinstance(rates, dict) else rates)}):
                if (kind, rate) not in streams:
                    streams[kind, rate] = len(stream_w)
                    stream_w.append(weights(kind, T, rate))
                s = streams[kind, rate]
                members.append((s, a))
                for h in sorted({int(h) for h in horizons if 1 <= int(h) <= T}):
                    w = weights(kind, h, rate)
                    differ = np.flatnonzero(w != stream_w[s])
                    e = int(differ[0]) if len(differ) else T + 1  # rows < e use the stream's own weights
                    q = self.queries.setdefault(("total", name, h, rate), len(self.queries))
                    if e > 0:
                        snaps[e].append((q, s, a))
                    for r in range(e, h + 1):
                        if w[r] != 0.0:
                            tails[r].append((q, a, w[r]))
        for name in self.state_names:
            for r in sorted({int(r) for r in rows if 0 <= int(r) <= T}):
                q = self.queries.setdefault(("row", name, r), len(self.queries))
                tails[r].append((q, self.series[name], 1.0))
        self.stream_w = np.array(stream_w).reshape(len(stream_w), T + 1)
        self.stream_series = np.zeros((len(stream_w), len(self.series)), dtype=np.int64)
        for s, a in members:
            self.stream_series[s, a] = 1
        self.snap = _csr(snaps, (np.int64, np.int64, np.int64))
        self.tail = _csr(tails, (np.int64, np.int64, float))

    def run(self, transitions, g: _Segments, out: np.ndarray, full: np.ndarray) -> None:
        """Run the compiled loop on ``transitions`` grouped as ``g``, writing ``out`` ``(Q, K, N)`` (and ``full``)."""
        from ..engine import compiling

        k, n = transitions.batch_shape
        args = compiling.plain_arrays(
            (g.initial, *transitions.curves.arrays(), g.reunify, g.permanence, g.reentry, g.care_len,
             g.return_len, *self.series_csr, self.series_kind, self.stream_series, self.stream_w, *self.snap, *self.tail,
             out, full))
        assert args[-2] is out and args[-1] is full, "the kernel's output arrays must be written in place"
        if not _PREPARED:  # the first run in a process: both the parallel loop and its serial twin are made ready
            with _PREPARING:  # chunks run in threads side by side: one compiles, the others wait for it
                if not _PREPARED:
                    from ..engine._net_benefit import net_benefit_job
                    from ..inputs.inversion import compiled_table_job
                    from . import _compiled

                    compiling.prepare([([_compiled.compiled("family_states_kernel", 2),
                                         _compiled.compiled("family_states_kernel", 1)], args),
                                       compiled_table_job(),  # the sampler's tables, used by chunks of 4,096
                                       net_benefit_job()],  # a PSA's CEAC and EVPI sums
                                      ANNOUNCE[0] if ANNOUNCE else None)
                    _PREPARED.append(True)
        compiled("family_states_kernel", k * n)(*args)


_PREPARED: list[bool] = []  # family_states_kernel's variants are compiled or loaded (once per process)
_PREPARING = threading.Lock()
_PLANS: dict[tuple, _Plan] = {}  # plans by everything they depend on (a few per process: PSA, report, scenarios)
PLANS_KEPT = 64


def _plan(n_cycles: int, rewards: dict[str, Reward], conventions: Conventions, representative: np.ndarray,
          horizons=(), rates=(), rows=()) -> _Plan:
    """The :class:`_Plan` of these arguments, made once per process (≈ 1 ms each, a quarter of a µs per iteration in
    chunks of 4,096). Plans are read-only once made, so chunks running in threads may share one."""
    def values(v) -> tuple | None:
        return None if v is None else tuple(np.asarray(v, dtype=float).ravel().tolist())

    key = (n_cycles, conventions, tuple((name, values(r.state_values), values(r.transition_values))
                                        for name, r in rewards.items()),
           tuple(np.asarray(representative).tolist()), tuple(sorted({int(h) for h in horizons})),
           tuple(sorted((k, tuple(v)) for k, v in rates.items())) if isinstance(rates, dict) else tuple(rates),
           tuple(int(r) for r in rows))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= PLANS_KEPT:  # a long session of many scenarios: start again rather than grow
            _PLANS.clear()
        plan = _PLANS[key] = _Plan(n_cycles, rewards, conventions, representative, horizons, rates, rows)
    return plan


class _Values:
    """A kernel pass's totals and rows, and on first need every reward's full per-row values (a second pass): what a
    :class:`FamilyStatesResult` and its row accessors share. Nothing here refers back to them, so no reference cycle
    holds a chunk's arrays after the chunk is dropped (they would otherwise wait for the garbage collector: a
    million-iteration PSA held ≈ 70 chunks' totals, 0.27 GB)."""

    def __init__(self, plan: _Plan, segments: _Segments, transitions, conventions: Conventions,
                 rewards: dict[str, Reward], out: np.ndarray):
        self.plan, self.segments, self.transitions, self.conventions, self.rewards = (plan, segments, transitions,
                                                                                      conventions, rewards)
        self.out, self.batch_shape, self.full_passes = out, tuple(out.shape[1:]), 0

    @cached_property
    def full(self) -> dict[str, np.ndarray]:
        """Every reward's per-row values ``(K, N, T+1)`` (move rewards: 0 at row 0), by a second kernel pass."""
        plan = self.plan
        full = np.empty((len(plan.series),) + self.batch_shape + (plan.n_cycles + 1,))
        empty = _plan(plan.n_cycles, {k: self.rewards[k] for k in plan.series}, self.conventions,
                      self.segments.representative)
        empty.run(self.transitions, self.segments, np.empty((0,) + self.batch_shape), full)
        self.full_passes += 1
        return {name: full[a] for name, a in plan.series.items()}


class _Rows:
    """``row_values[name]`` / ``flow_values[name]`` of a :class:`FamilyStatesResult`: ``[..., r]`` for an
    announced row is answered directly; anything else materialises the full ``(K, N, rows)`` array."""

    def __init__(self, values: _Values, name: str, flows: bool):
        self._values, self._name, self._flows = values, name, flows

    def full(self) -> np.ndarray:
        values = self._values.full[self._name]
        return values[..., 1:] if self._flows else values

    def __getitem__(self, key):
        if (not self._flows and isinstance(key, tuple) and len(key) == 2 and key[0] is Ellipsis
                and isinstance(key[1], (int, np.integer))):
            q = self._values.plan.queries.get(("row", self._name, int(key[1])))
            if q is not None:
                return self._values.out[q].copy()
        return self.full()[key]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.full(), dtype=dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._values.batch_shape + (self._values.plan.n_cycles + (0 if self._flows else 1),)


class FamilyStatesResult:
    """Totals from the compiled kernel, with the :class:`~ifpp_econ.engine.CohortResult` surface."""

    trace = None

    def __init__(self, plan: _Plan, segments: _Segments, transitions, conventions: Conventions,
                 rewards: dict[str, Reward], out: np.ndarray):
        self._values = values = _Values(plan, segments, transitions, conventions, dict(rewards), out)
        self.n_cycles, self.conventions, self.rewards = plan.n_cycles, conventions, values.rewards
        self.batch_shape = values.batch_shape
        self.row_values = {k: _Rows(values, k, False) for k in plan.state_names}
        self.flow_values = {k: _Rows(values, k, True) for k in plan.move_names}

    @property
    def full_passes(self) -> int:
        """Second kernel passes made for full per-row values (0 or 1)."""
        return self._values.full_passes

    def total(self, name: str, horizon: int | None = None, discount_rate: float | None = None) -> np.ndarray:
        """As :meth:`CohortResult.total`: discounted, counted total over cycles ``1..horizon`` → ``(K, N)``."""
        total = self.total_view(name, horizon, discount_rate)
        return total if total.flags.writeable else total.copy()

    def total_view(self, name: str, horizon: int | None = None, discount_rate: float | None = None) -> np.ndarray:
        """:meth:`total`, only to be read: where the loop computed it, a read-only view of the loop's output (no copy)."""
        horizon = self.n_cycles if horizon is None else int(horizon)
        rate = self.rewards[name].discount_rate if discount_rate is None else discount_rate
        q = self._values.plan.queries.get(("total", name, horizon, float(rate)))
        if q is None:
            return self._full_result().total(name, horizon, rate)
        total = self._values.out[q]
        total.flags.writeable = False
        return total

    def totals(self, horizon: int | None = None) -> dict[str, np.ndarray]:
        return {name: self.total(name, horizon) for name in self.rewards}

    def _full_result(self) -> CohortResult:
        values, plan = self._values.full, self._values.plan
        return CohortResult(self.n_cycles, self.conventions, self.rewards,
                            {k: values[k] for k in plan.state_names},
                            {k: values[k][..., 1:] for k in plan.move_names})


def _supported(rewards: dict[str, Reward]) -> bool:
    def vector(v: np.ndarray | float | None) -> bool:
        return v is not None and np.ndim(v) == 1

    return all(not r.varies_by_cycle and (r.state_values is None) != (r.transition_values is None)
               and (vector(r.state_values) or vector(r.transition_values))  # the one given is a vector
               for r in rewards.values())


def simulate_family_states(initial: np.ndarray, transitions, n_cycles: int, rewards: dict[str, Reward],
                           conventions: Conventions, keep_trace: bool = False, horizons=(), rates=(), rows=(),
                           kernel: str | None = None):
    """Run the family-states model (a :class:`~ifpp_econ.model.FamilyStatesTransitions`) for ``n_cycles``.

    ``horizons`` (cycles) × ``rates`` (per year) are the totals computed in the loop for
    every reward (``rates`` may map each reward's name to its own rates: fewer sums in the loop),
    ``rows`` the trace rows whose state-reward values are kept. Returns a
    :class:`FamilyStatesResult` (numba) or the engine's :class:`CohortResult` (numpy,
    or whenever a trace is kept or a reward is not a plain per-state / per-move vector).
    """
    batch = tuple(transitions.batch_shape)
    if keep_trace or not _supported(rewards) or choose_kernel(kernel) == "numpy" or transitions.curves is None:
        return simulate(initial, transitions, n_cycles, rewards, conventions, keep_trace=keep_trace)
    initial = np.asarray(initial, dtype=float)
    if np.any(initial < -1e-9) or abs(initial.sum() - 1) > 1e-9:
        raise ValueError("initial distribution must be non-negative and sum to 1")
    segments = _Segments(transitions, rewards, initial)
    if not segments.ok:
        return simulate(initial, transitions, n_cycles, rewards, conventions, keep_trace=keep_trace)
    plan = _plan(n_cycles, rewards, conventions, segments.representative, horizons, rates, rows)
    out = np.empty((len(plan.queries),) + batch)
    plan.run(transitions, segments, out, np.empty((0, 0, 0, 0)))
    return FamilyStatesResult(plan, segments, transitions, conventions, rewards, out)
