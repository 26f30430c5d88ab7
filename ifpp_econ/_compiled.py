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
LANES = 64  # iterations run side by side in one block (long enough for the compiler to vectorise the lane loops)


@_jit(parallel=True, nogil=True)
def family_states_kernel(initial, entry, reunify, permanence, reentry, ser_ptr, ser_idx, ser_w, series_kind,
                          stream_kind, stream_w, snap_ptr, snap_q, snap_s, snap_a, tail_ptr, tail_q, tail_a, tail_w,
                          out, full):  # pragma: no cover - compiled
    """One pass of the family-states model with its reward totals.

    Shapes: entry ``(K, N, T)``; reunify/permanence ``(N, C)``; reentry ``(N, R)``;
    ser_* CSR ``(A, S)``: a state reward's values per state, or a move reward's values per
    move (series_kind 0 / 1); stream_w ``(Σ, T+1)`` row weights of each discount stream
    (stream_kind 0: state rewards, 1: move rewards); out ``(Q, K, N)``; full ``(A, K, N, T+1)``
    or empty.

    Each row r, every reward's value ``v_a = ser[a] · y_r`` (y: the states, or the cycle's
    moves) is computed once; a stream accumulates ``X[σ, a] = Σ_r stream_w[σ, r] · v_a``. A
    snapshot event (q, σ, a) at row e adds ``X[σ, a]`` as accumulated over rows < e; a tail
    event (q, a, w) at row r adds ``w × v_a``. States: 0 home, 1..C care tunnels,
    C+1..C+R return tunnels, C+R+1 left care.

    :data:`LANES` iterations of one strategy run side by side, one per SIMD lane (every
    array's last axis): each lane does exactly the operations a lone iteration would, so
    results do not depend on which lane, block, thread or chunk an iteration falls in.
    Blocks of lanes are shared between threads."""
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
        lanes = min(LANES, n_iter - n0)
        x = np.zeros((n_states, LANES))
        mv = np.zeros((4, LANES))  # moves of the cycle just run
        ent = np.zeros(LANES)
        ru = np.zeros((n_care, LANES))
        pm = np.zeros((n_care, LANES))
        stay_care = np.ones((n_care, LANES))
        re = np.zeros((n_return, LANES))
        stay_home = np.ones((n_return, LANES))
        acc = np.zeros((n_streams, n_series, LANES))
        qacc = np.zeros((n_queries, LANES))
        v = np.zeros((n_series, LANES))
        m0 = np.zeros(LANES)
        m1 = np.zeros(LANES)
        m2 = np.zeros(LANES)
        m3 = np.zeros(LANES)
        for j in range(lanes):
            n = n0 + j
            for i in range(n_care):
                ru[i, j] = reunify[n, i]
                pm[i, j] = permanence[n, i]
                stay_care[i, j] = 1.0 - ru[i, j] - pm[i, j]
            for i in range(n_return):
                re[i, j] = reentry[n, i]
                stay_home[i, j] = 1.0 - re[i, j]
        for i in range(n_states):
            for j in range(LANES):
                x[i, j] = initial[i]
        for r in range(n_cycles + 1):
            if r > 0:
                for j in range(lanes):
                    ent[j] = entry[k, n0 + j, r - 1]
                for j in range(LANES):
                    m0[j] = x[0, j] * ent[j]
                    m1[j] = 0.0
                    m2[j] = 0.0
                    m3[j] = 0.0
                for i in range(n_return):
                    for j in range(LANES):
                        m1[j] += x[back0 + i, j] * re[i, j]
                for i in range(n_care):
                    for j in range(LANES):
                        m2[j] += x[1 + i, j] * ru[i, j]
                        m3[j] += x[1 + i, j] * pm[i, j]
                # shift the tunnels in place, from the last one down
                for j in range(LANES):
                    x[left, j] = x[left, j] + m3[j]
                    x[left - 1, j] = x[left - 2, j] * stay_home[n_return - 2, j] + x[left - 1, j] * stay_home[n_return - 1, j]
                for i in range(n_return - 2, 0, -1):
                    for j in range(LANES):
                        x[back0 + i, j] = x[back0 + i - 1, j] * stay_home[i - 1, j]
                for j in range(LANES):
                    x[back0, j] = m2[j]
                    x[n_care, j] = x[n_care - 1, j] * stay_care[n_care - 2, j] + x[n_care, j] * stay_care[n_care - 1, j]
                for i in range(n_care - 2, 0, -1):
                    for j in range(LANES):
                        x[1 + i, j] = x[i, j] * stay_care[i - 1, j]
                for j in range(LANES):
                    x[1, j] = m0[j] + m1[j]
                    x[0, j] = x[0, j] - m0[j]
                    mv[0, j] = m0[j]
                    mv[1, j] = m1[j]
                    mv[2, j] = m2[j]
                    mv[3, j] = m3[j]
            for e in range(snap_ptr[r], snap_ptr[r + 1]):
                q, s, a = snap_q[e], snap_s[e], snap_a[e]
                for j in range(LANES):
                    qacc[q, j] += acc[s, a, j]
            for a in range(n_series):
                for j in range(LANES):
                    v[a, j] = 0.0
                if series_kind[a] == 0:
                    for p in range(ser_ptr[a], ser_ptr[a + 1]):
                        wp, ip = ser_w[p], ser_idx[p]
                        for j in range(LANES):
                            v[a, j] += wp * x[ip, j]
                else:
                    for p in range(ser_ptr[a], ser_ptr[a + 1]):
                        wp, ip = ser_w[p], ser_idx[p]
                        for j in range(LANES):
                            v[a, j] += wp * mv[ip, j]
            for s in range(n_streams):
                w = stream_w[s, r]
                if w != 0.0:
                    for a in range(n_series):
                        if series_kind[a] == stream_kind[s]:
                            for j in range(LANES):
                                acc[s, a, j] += w * v[a, j]
            for e in range(tail_ptr[r], tail_ptr[r + 1]):
                q, a, w = tail_q[e], tail_a[e], tail_w[e]
                for j in range(LANES):
                    qacc[q, j] += w * v[a, j]
            if write_full:
                for a in range(n_series):
                    for j in range(lanes):
                        full[a, k, n0 + j, r] = v[a, j]
        for e in range(snap_ptr[n_cycles + 1], snap_ptr[n_cycles + 2]):
            q, s, a = snap_q[e], snap_s[e], snap_a[e]
            for j in range(LANES):
                qacc[q, j] += acc[s, a, j]
        for q in range(n_queries):
            for j in range(lanes):
                out[q, k, n0 + j] = qacc[q, j]


@_jit(parallel=True, nogil=True)
def entry_hazards_kernel(log_s, log_after, factor, rr, no_effect, after_effect, duration, catch_up_months,
                         receives_ifpp, entry, bound):  # pragma: no cover - compiled
    """Monthly first-entry probabilities of every strategy, as :func:`ifpp_econ.model.cumulative_entry_curves`
    followed by :func:`~ifpp_econ.model.hazards_from_curve` compute them, one iteration at a time.

    Shapes: log_s ``(N, 5)`` log survival at the 0/3/6/12/24-month knots; log_after ``(N,)`` log(1 − annual
    risk after 24 months, as a monthly probability); factor ``(N,)`` child ÷ family risk; rr ``(N, T+1)``
    (any strides); no_effect ``(N,)`` bool; after_effect ``(N,)`` codes 0 effect stops, 1 gap persists,
    2 catch-up; duration ``(N,)`` whole months in 0..T; receives_ifpp ``(K,)`` bool; out: entry
    ``(K, N, T)``, bound ``(N,)`` (the IFPP curve needed its running maximum)."""
    n_strategies, n_iter, n_cycles = entry.shape
    for n in prange(n_iter):
        usual = np.empty(n_cycles + 1)
        ifpp = np.empty(n_cycles + 1)
        la = log_after[n]
        top = 0.0
        for t in range(n_cycles + 1):
            within = min(t, 24)
            i = 0 if within < 3 else 1 if within < 6 else 2 if within < 12 else 3
            lo = 0 if i == 0 else 3 if i == 1 else 6 if i == 2 else 12
            hi = 3 if i == 0 else 6 if i == 1 else 12 if i == 2 else 24
            lam = (within - lo) / (hi - lo)
            log_surv = log_s[n, i] * (1 - lam) + log_s[n, i + 1] * lam
            log_surv = log_surv + la * max(t - 24, 0)
            top = max(top, -np.expm1(log_surv))
            usual[t] = top * factor[n]
        d = duration[n]
        ud = usual[d]
        rd = 1.0 if no_effect[n] else rr[n, d]
        td = min(rd * ud, 1.0 - 1e-12)
        code = after_effect[n]
        top = 0.0
        hit = False
        for t in range(n_cycles + 1):
            u = usual[t]
            if t <= d:
                r = 1.0 if no_effect[n] else rr[n, t]
                c = min(r * u, 1.0 - 1e-12)
            elif code == 0:
                c = 1.0 - (1.0 - td) * (1.0 - u) / (1.0 - ud)
            elif code == 1:
                c = u - (ud - td)
            else:
                fading = min(max(1.0 - (t - d) / max(catch_up_months, 1e-9), 0.0), 1.0)
                c = u - (ud - td) * fading
            c = min(max(c, 0.0), 1.0 - 1e-12)
            if top > c + 1e-12:
                hit = True
            top = max(top, c)
            ifpp[t] = top
        bound[n] = hit
        for k in range(n_strategies):
            curve = ifpp if receives_ifpp[k] else usual
            for t in range(n_cycles):
                entry[k, n, t] = 1.0 - (1.0 - curve[t + 1]) / (1.0 - curve[t])


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
entry_hazards_kernel_serial = _serial(entry_hazards_kernel)
dense_cohort_serial = _serial(dense_cohort)


def compiled(name: str, threads: int):
    """The parallel kernel ``name`` when ``threads`` > 1, else its serial twin."""
    return globals()[name if threads > 1 else name + "_serial"]
