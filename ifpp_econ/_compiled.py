"""The numba-compiled loops behind :mod:`ifpp_econ.kernels` and the engine (imported only when they run).

``cache=True``: compiled once per install into ``__pycache__`` (or numba's user cache
directory when the package folder is read-only), then loaded in a fraction of a second.
No fast-math: every iteration is computed by the same IEEE operations whatever thread
or block it falls in. ``nogil=True``: chunks may run in Python threads side by side.
"""
import types
import warnings

import numpy as np
from numba import njit, prange


def _jit(**options):
    """``njit(cache=True, **options)``; when no cache location is writable (read-only install and
    no writable user cache directory) compile in memory instead, with one warning."""
    def wrap(func):
        try:
            return njit(cache=True, **options)(func)
        except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
            if "cannot cache" not in str(exc):
                raise
            global _WARNED
            if not _WARNED:
                warnings.warn("numba cannot cache compiled code here (no writable cache directory; set NUMBA_CACHE_DIR): "
                              "compiling in memory, which adds 10-20 s to each run", RuntimeWarning, stacklevel=2)
                _WARNED = True
            return njit(cache=False, **options)(func)
    return wrap


_WARNED = False
LANES = 64  # iterations per block handed to a thread (scratch arrays allocated once per block)


@_jit(inline="always")
def _dot(ptr, idx, w, a, y):  # pragma: no cover - compiled
    """Σ over series ``a``'s non-zero entries (CSR ``ptr``, ``idx``, ``w``) of ``w · y``."""
    total = 0.0
    for p in range(ptr[a], ptr[a + 1]):
        total += w[p] * y[idx[p]]
    return total


@_jit(parallel=True, nogil=True)
def family_states_kernel(initial, entry, reunify, permanence, reentry, ser_ptr, ser_idx, ser_w, series_kind,
                          stream_kind, stream_w, snap_ptr, snap_q, snap_s, snap_a, tail_ptr, tail_q, tail_a, tail_w,
                          out, full):  # pragma: no cover - compiled
    """One pass of the family-states model with its reward totals.

    Shapes: entry ``(K, N, T)``; reunify/permanence ``(N, C)``; reentry ``(N, R)``;
    ser_* CSR ``(A, S)``: a state reward's values per state, or a move reward's values per
    move (series_kind 0 / 1); stream_w ``(Σ, T+1)`` row weights of
    each discount stream (stream_kind 0: state occupancy, 1: moves); out ``(Q, K, N)``;
    full ``(A, K, N, T+1)`` or empty.

    A stream accumulates the weighted occupancy of every state (or move) over rows,
    ``X[σ, i] = Σ_r stream_w[σ, r] · y_r[i]``: independent multiply-adds, no long add
    chains. A reward's total is then ``ser[a] · X[σ]``: a snapshot event (q, σ, a) at row
    e adds it for rows < e; a tail event (q, a, w) at row r adds ``w × v_a`` with the
    reward's row value ``v_a = ser[a] · y_r``. States: 0 home, 1..C care tunnels,
    C+1..C+R return tunnels, C+R+1 left care. One (strategy, iteration) at a time; blocks of :data:`LANES` iterations are shared
    between threads, each block allocating its scratch arrays once."""
    n_strategies, n_iter, n_cycles = entry.shape
    n_care, n_return = reunify.shape[1], reentry.shape[1]
    n_states = 2 + n_care + n_return
    n_series = ser_ptr.shape[0] - 1
    n_streams, n_queries = stream_kind.shape[0], out.shape[0]
    write_full = full.shape[0] > 0
    back0 = 1 + n_care
    left = n_states - 1
    n_blocks = (n_iter + LANES - 1) // LANES
    for block in prange(n_strategies * n_blocks):
        k = block // n_blocks
        n0 = (block % n_blocks) * LANES
        x = np.empty(n_states)
        mv = np.zeros(n_states)  # moves of the cycle just run, in the first 4 entries
        stay_care = np.empty(n_care)
        stay_home = np.empty(n_return)
        acc = np.empty((n_streams, n_states))
        qacc = np.empty(n_queries)
        v = np.empty(n_series)
        ru = np.empty(n_care)  # local copies: provably not aliased with x, so they stay in registers/L1
        pm = np.empty(n_care)
        re = np.empty(n_return)
        for n in range(n0, min(n0 + LANES, n_iter)):
            for i in range(n_care):
                ru[i] = reunify[n, i]
                pm[i] = permanence[n, i]
                stay_care[i] = 1.0 - ru[i] - pm[i]
            for i in range(n_return):
                re[i] = reentry[n, i]
                stay_home[i] = 1.0 - re[i]
            for i in range(n_states):  # explicit loops: array expressions here would become nested parfors
                x[i] = initial[i]
            for i in range(4):
                mv[i] = 0.0
            for s in range(n_streams):
                for i in range(n_states):
                    acc[s, i] = 0.0
            for q in range(n_queries):
                qacc[q] = 0.0
            for r in range(n_cycles + 1):
                if r > 0:
                    m0 = x[0] * entry[k, n, r - 1]
                    m1 = 0.0
                    for i in range(n_return):
                        m1 += x[back0 + i] * re[i]
                    m2 = 0.0
                    m3 = 0.0
                    for i in range(n_care):
                        m2 += x[1 + i] * ru[i]
                        m3 += x[1 + i] * pm[i]
                    # shift the tunnels in place, from the last one down
                    x[left] = x[left] + m3
                    x[left - 1] = x[left - 2] * stay_home[n_return - 2] + x[left - 1] * stay_home[n_return - 1]
                    for i in range(n_return - 2, 0, -1):
                        x[back0 + i] = x[back0 + i - 1] * stay_home[i - 1]
                    x[back0] = m2
                    x[n_care] = x[n_care - 1] * stay_care[n_care - 2] + x[n_care] * stay_care[n_care - 1]
                    for i in range(n_care - 2, 0, -1):
                        x[1 + i] = x[i] * stay_care[i - 1]
                    x[1] = m0 + m1
                    x[0] = x[0] - m0
                    mv[0], mv[1], mv[2], mv[3] = m0, m1, m2, m3
                for e in range(snap_ptr[r], snap_ptr[r + 1]):
                    qacc[snap_q[e]] += _dot(ser_ptr, ser_idx, ser_w, snap_a[e], acc[snap_s[e]])
                for s in range(n_streams):
                    w = stream_w[s, r]
                    if w != 0.0:
                        if stream_kind[s] == 0:
                            for i in range(n_states):
                                acc[s, i] += w * x[i]
                        else:
                            for i in range(4):
                                acc[s, i] += w * mv[i]
                if write_full or tail_ptr[r + 1] > tail_ptr[r]:
                    for a in range(n_series):
                        v[a] = _dot(ser_ptr, ser_idx, ser_w, a, x if series_kind[a] == 0 else mv)
                for e in range(tail_ptr[r], tail_ptr[r + 1]):
                    qacc[tail_q[e]] += tail_w[e] * v[tail_a[e]]
                if write_full:
                    for a in range(n_series):
                        full[a, k, n, r] = v[a]
            for e in range(snap_ptr[n_cycles + 1], snap_ptr[n_cycles + 2]):
                qacc[snap_q[e]] += _dot(ser_ptr, ser_idx, ser_w, snap_a[e], acc[snap_s[e]])
            for q in range(n_queries):
                out[q, k, n] = qacc[q]


@_jit(parallel=True, nogil=True)
def dense_cohort(x0, p, cycle_index, plain, per_batch, per_row, out_plain, out_batch, out_row, trace):  # pragma: no cover
    """Dense cohort loop with state-reward values per row, in one pass.

    Shapes: x0 ``(B, S)``; p ``(B, M, S, S)``; cycle_index ``(T,)`` in ``0..M-1`` (row r+1 =
    row r @ ``p[b, cycle_index[r]]``); reward values per state: plain ``(A0, S)``, per_batch
    ``(A1, B, S)``, per_row ``(A2, B, T+1, S)``; their row values out_* ``(A·, B, T+1)``;
    trace ``(B, T+1, S)``, or empty when not kept. Sums run over states in order.
    """
    n_batch, n_states = x0.shape
    n_cycles = cycle_index.shape[0]
    keep = trace.shape[0] > 0
    for b in prange(n_batch):
        x = np.empty(n_states)
        nx = np.empty(n_states)
        for j in range(n_states):
            x[j] = x0[b, j]
        for r in range(n_cycles + 1):
            if r > 0:
                m = cycle_index[r - 1]
                for j in range(n_states):
                    total = 0.0
                    for i in range(n_states):
                        total += x[i] * p[b, m, i, j]
                    nx[j] = total
                x, nx = nx, x
            for a in range(plain.shape[0]):
                total = 0.0
                for s in range(n_states):
                    total += x[s] * plain[a, s]
                out_plain[a, b, r] = total
            for a in range(per_batch.shape[0]):
                total = 0.0
                for s in range(n_states):
                    total += x[s] * per_batch[a, b, s]
                out_batch[a, b, r] = total
            for a in range(per_row.shape[0]):
                total = 0.0
                for s in range(n_states):
                    total += x[s] * per_row[a, b, r, s]
                out_row[a, b, r] = total
            if keep:
                for s in range(n_states):
                    trace[b, r, s] = x[s]


def _serial(kernel):
    """The same loop compiled without numba's thread pool (``prange`` is then ``range``, so every
    number is the same), for one thread: ``--workers 1``, or a chunk running in a thread of its own.
    A renamed copy of the Python function, so its cache files do not collide with the parallel one's."""
    func = kernel.py_func
    twin = types.FunctionType(func.__code__, func.__globals__, func.__name__ + "_serial", func.__defaults__, func.__closure__)
    twin.__qualname__ = twin.__name__
    twin.__doc__ = func.__doc__
    return _jit(nogil=True)(twin)


family_states_kernel_serial = _serial(family_states_kernel)
dense_cohort_serial = _serial(dense_cohort)


def compiled(name: str, threads: int):
    """The parallel kernel ``name`` when ``threads`` > 1, else its serial twin."""
    return globals()[name if threads > 1 else name + "_serial"]
