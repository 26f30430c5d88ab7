"""The numba-compiled loops of the family-states model, behind :mod:`.kernels` (imported only when they run).

``cache=True``: compiled once per install into ``__pycache__`` (or numba's user cache
directory when the package folder is read-only), then loaded in a fraction of a second.
No fast-math: every iteration is computed by the same IEEE operations whatever thread
or block it falls in. ``nogil=True``: chunks may run in Python threads side by side.
"""
import numpy as np
from numba import prange

from ..engine.compiling import jit, serial_twin, shared, source_tag
from . import after_effects, entry_arithmetic
from .entry_arithmetic import KNOT_MONTHS

# The model's arithmetic, written once in plain Python (the numpy reference calls the same functions), compiled here
# and inlined into the loops below. The loops are named after these modules' source (source_tag), so a change there
# compiles them anew instead of loading a cached kernel built from the old arithmetic.
_knot_slope, _at_knot, _between_knots, _child_risk, _treated, _clipped, _monthly_probability = (
    shared(getattr(entry_arithmetic, name)) for name in ("knot_slope", "at_knot", "between_knots", "child_risk", "treated",
                                                        "clipped", "monthly_probability"))
_after_effect = shared(after_effects.after_effect, **{rule.__name__: shared(rule) for rule in after_effects.RULES})
TAG = source_tag(after_effects, entry_arithmetic)

LANES = 128  # iterations run side by side in one block (long enough for the compiler to vectorise the lane loops)


@jit(inline="always")
def _chain_step(first, ring, off, seg_len, r, pw, stay, agg, a0, flow, lanes_flow, n_seg):  # pragma: no cover
    """Advance one chain of tunnels (care or return) from row r−1 to row r, in place.

    Segment j (``agg[a0 + j]``: its occupancy) holds ``seg_len[j]`` tunnels with one stay probability
    ``stay[j]``, so tunnel m of the segment at row r holds ``entry_j(r − m) · stay[j]^m``. ``ring``
    keeps each segment's last ``seg_len[j]`` entries (offset ``off[j]``); the slot of row r holds
    ``entry_j(r − seg_len[j])``, which sat in the segment's last tunnel at row r−1 (times ``pw[j]`` =
    stay^(len−1)). The chain's last segment is the absorbing-tunnel ("+") state with a self-loop.
    ``first`` ``(LANES,)``: what enters the first tunnel at row r."""
    for j in range(LANES):
        flow[j] = first[j]
    for g in range(n_seg - 1):
        slot = off[g] + r % seg_len[g]
        for j in range(LANES):
            last = ring[slot, j] * pw[g, j]
            lanes_flow[j] = last * stay[g, j]
            agg[a0 + g, j] = flow[j] + stay[g, j] * (agg[a0 + g, j] - last)
            ring[slot, j] = flow[j]
            flow[j] = lanes_flow[j]
    g = n_seg - 1
    for j in range(LANES):
        agg[a0 + g, j] = flow[j] + agg[a0 + g, j] * stay[g, j]


@jit(tag=TAG, parallel=True, nogil=True)
def family_states_kernel(initial, log_s, log_after, factor, rr, no_effect, after_effect, duration, months,
                          receives_ifpp, bound, reunify, permanence, reentry, care_len, return_len, ser_ptr, ser_idx,
                          ser_w, series_kind, stream_series, stream_w, snap_ptr, snap_q, snap_s, snap_a, tail_ptr, tail_q,
                          tail_a, tail_w, out, full):  # pragma: no cover - compiled
    """One pass of the family-states model with its reward totals.

    The care and return tunnels are run as *segments*: runs of tunnels with the same exit
    probabilities for every iteration (and the same reward values), so a tunnel's occupancy is
    an earlier entry times a power of the segment's stay probability and a segment's
    occupancy follows a sliding sum (see :func:`_chain_step`): O(segments), not O(tunnels),
    per month. Occupancies ``agg``: 0 home, 1..Jc care segments (last: the 24+ tunnel),
    then Jr return segments (last: 12+), then left care.

    First entries: each strategy's cumulative risk curve is computed as the rows go, exactly as
    :func:`entry_hazards_kernel` computes it (log_s … receives_ifpp: its arguments, see there;
    ``bound`` ``(N,)`` gets its running-maximum flags), and a row's first-entry probability is
    1 − (1 − c_r) / (1 − c_{r−1}): no ``(K, N, T)`` array is made.

    Shapes: initial ``(A,)`` over ``agg`` (a segment's mass in its first tunnel);
    reunify/permanence ``(N, Jc)`` and reentry ``(N, Jr)`` per segment; care_len ``(Jc,)``,
    return_len ``(Jr,)`` tunnels per segment; ser_* CSR ``(A_series, A)``: a state reward's value
    per ``agg`` entry, or a move reward's value per move (series_kind 0 / 1); stream_w ``(Σ, T+1)``
    row weights of each discount stream; stream_series ``(Σ, A_series)``: 1 where the stream sums that reward; out
    ``(Q, K, N)``; full ``(A_series, K, N, T+1)`` or empty.

    Each row r, every reward's value ``v_a`` is computed once; a stream accumulates
    ``X[σ, a] = Σ_r stream_w[σ, r] · v_a``. A snapshot event (q, σ, a) at row e adds ``X[σ, a]``
    as accumulated over rows < e; a tail event (q, a, w) at row r adds ``w × v_a``.

    :data:`LANES` iterations of one strategy run side by side, one per lane (every scratch
    array's last axis): each lane does exactly the operations a lone iteration would, so
    results do not depend on which lane, block, thread or chunk an iteration falls in."""
    n_strategies, n_iter, n_cycles = receives_ifpp.shape[0], factor.shape[0], stream_w.shape[1] - 1
    bound_k = _first_ifpp(receives_ifpp)
    jc, jr = reunify.shape[1], reentry.shape[1]
    n_agg = 2 + jc + jr
    n_series = ser_ptr.shape[0] - 1
    n_streams, n_queries = stream_w.shape[0], out.shape[0]
    write_full = full.shape[0] > 0
    c0, r0, left = 1, 1 + jc, n_agg - 1
    off_c = np.zeros(jc, dtype=np.int64)
    off_r = np.zeros(jr, dtype=np.int64)
    for g in range(1, jc):
        off_c[g] = off_c[g - 1] + care_len[g - 1]
    for g in range(1, jr):
        off_r[g] = off_r[g - 1] + return_len[g - 1]
    n_blocks = (n_iter + LANES - 1) // LANES
    for block in prange(n_strategies * n_blocks):
        k = block // n_blocks
        n0 = (block % n_blocks) * LANES
        lanes = min(LANES, n_iter - n0)
        agg = np.zeros((n_agg, LANES))
        ru = np.zeros((jc, LANES))
        pm = np.zeros((jc, LANES))
        stay_c = np.ones((jc, LANES))
        pw_c = np.ones((jc, LANES))
        re = np.zeros((jr, LANES))
        stay_r = np.ones((jr, LANES))
        pw_r = np.ones((jr, LANES))
        ring_c = np.zeros((off_c[jc - 1] + care_len[jc - 1], LANES))
        ring_r = np.zeros((off_r[jr - 1] + return_len[jr - 1], LANES))
        mv = np.zeros((4, LANES))  # moves of the cycle just run
        acc = np.zeros((n_streams, n_series, LANES))
        qacc = np.zeros((n_queries, LANES))
        v = np.zeros((n_series, LANES))
        cs = np.zeros((_CURVE_ROWS, LANES))  # entry-curve state per lane (see _curve_row)
        fac = np.zeros(LANES)
        dur = np.zeros(LANES, dtype=np.int64)
        code = np.zeros(LANES, dtype=np.int64)
        noeff = np.zeros(LANES, dtype=np.bool_)
        ifpp = receives_ifpp[k]
        ent = np.zeros(LANES)
        first = np.zeros(LANES)
        flow = np.zeros(LANES)
        spare = np.zeros(LANES)
        _load_curve_lanes(n0, lanes, factor, duration, after_effect, no_effect, fac, dur, code, noeff)
        for j in range(lanes):
            n = n0 + j
            for g in range(jc):
                ru[g, j] = reunify[n, g]
                pm[g, j] = permanence[n, g]
                stay_c[g, j] = 1.0 - ru[g, j] - pm[g, j]
                for m in range(care_len[g] - 1):
                    pw_c[g, j] *= stay_c[g, j]
            for g in range(jr):
                re[g, j] = reentry[n, g]
                stay_r[g, j] = 1.0 - re[g, j]
                for m in range(return_len[g] - 1):
                    pw_r[g, j] *= stay_r[g, j]
        for a in range(n_agg):
            for j in range(LANES):
                agg[a, j] = initial[a]
        for g in range(jc - 1):  # row 0's entries (a segment's initial mass is in its first tunnel)
            for j in range(LANES):
                ring_c[off_c[g], j] = initial[c0 + g]
        for g in range(jr - 1):
            for j in range(LANES):
                ring_r[off_r[g], j] = initial[r0 + g]
        for r in range(n_cycles + 1):
            _curve_row(r, n0, lanes, ifpp, log_s, log_after, rr, months, cs, fac, dur, code, noeff)
            if r > 0:
                for j in range(LANES):
                    ent[j] = _monthly_probability(cs[_C, j], cs[_C_PREV, j])
                for j in range(LANES):
                    mv[0, j] = agg[0, j] * ent[j]
                    mv[1, j] = 0.0
                    mv[2, j] = 0.0
                    mv[3, j] = 0.0
                for g in range(jr):
                    for j in range(LANES):
                        mv[1, j] += agg[r0 + g, j] * re[g, j]
                for g in range(jc):
                    for j in range(LANES):
                        mv[2, j] += agg[c0 + g, j] * ru[g, j]
                        mv[3, j] += agg[c0 + g, j] * pm[g, j]
                for j in range(LANES):
                    first[j] = mv[0, j] + mv[1, j]
                _chain_step(first, ring_c, off_c, care_len, r, pw_c, stay_c, agg, c0, flow, spare, jc)
                _chain_step(mv[2], ring_r, off_r, return_len, r, pw_r, stay_r, agg, r0, flow, spare, jr)
                for j in range(LANES):
                    agg[left, j] = agg[left, j] + mv[3, j]
                    agg[0, j] = agg[0, j] - mv[0, j]
            for e in range(snap_ptr[r], snap_ptr[r + 1]):
                q, s, a = snap_q[e], snap_s[e], snap_a[e]
                for j in range(LANES):
                    qacc[q, j] += acc[s, a, j]
            for a in range(n_series):  # every series has at least one entry (see _Plan)
                y = agg if series_kind[a] == 0 else mv
                p0 = ser_ptr[a]
                wp, ip = ser_w[p0], ser_idx[p0]
                for j in range(LANES):
                    v[a, j] = wp * y[ip, j]
                for p in range(p0 + 1, ser_ptr[a + 1]):
                    wp, ip = ser_w[p], ser_idx[p]
                    for j in range(LANES):
                        v[a, j] += wp * y[ip, j]
            for s in range(n_streams):
                w = stream_w[s, r]
                if w != 0.0:
                    for a in range(n_series):
                        if stream_series[s, a]:
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
        if k == bound_k:
            for j in range(lanes):
                bound[n0 + j] = cs[_HIT, j] != 0.0


@jit(inline="always")
def _first_ifpp(receives_ifpp):  # pragma: no cover - compiled
    """The first strategy receiving IFPP (it reports the running-maximum flags), or −1."""
    for k in range(receives_ifpp.shape[0]):
        if receives_ifpp[k]:
            return k
    return -1


@jit(inline="always")
def _load_curve_lanes(n0, lanes, factor, duration, after_effect, no_effect, fac, dur, code, noeff):  # pragma: no cover
    """Copy iterations n0 … n0 + lanes − 1's entry-curve parameters into the lanes."""
    for j in range(lanes):
        fac[j] = factor[n0 + j]
        dur[j] = duration[n0 + j]
        code[j] = after_effect[n0 + j]
        noeff[j] = no_effect[n0 + j]


_SURV, _RISK, _Q, _H, _USUAL, _C, _C_PREV, _TOP, _UD, _TD, _HIT = range(11)
_CURVE_ROWS = 11


@jit(inline="always")
def _curve_row(r, n0, lanes, ifpp, log_s, log_after, rr, months, cs, fac, dur, code, noeff):  # pragma: no cover
    """Advance the lanes' cumulative first-entry risk to row r: ``cs[_C]`` ← the strategy's curve at r (usual
    care's, or IFPP's), ``cs[_C_PREV]`` ← its value at r − 1, with the running maxima carried.

    The arithmetic is :mod:`.entry_arithmetic`'s and :mod:`.after_effects`' (compiled copies of the same functions
    the numpy reference calls): usual care stepped from each knot's exact value (one exp per stretch), a child's
    risk the family's × ``fac``; IFPP the RR × usual care up to the duration, then its after-effect rule, clipped
    below 1 and made non-decreasing."""
    for j in range(LANES):
        cs[_C_PREV, j] = cs[_C, j]
    knot = -1
    for i in range(len(KNOT_MONTHS)):
        if KNOT_MONTHS[i] == r:
            knot = i
    if knot >= 0:  # a knot: restart from its exact value (libm: per lane)
        for j in range(lanes):
            ls = log_s[n0 + j, knot]
            if knot == len(KNOT_MONTHS) - 1:
                slope = log_after[n0 + j]
            else:
                slope = _knot_slope(ls, log_s[n0 + j, knot + 1], KNOT_MONTHS[knot + 1] - r)
            cs[_SURV, j], cs[_RISK, j], cs[_Q, j], cs[_H, j] = _at_knot(ls, slope)
    else:
        for j in range(LANES):
            cs[_SURV, j], cs[_RISK, j] = _between_knots(cs[_SURV, j], cs[_RISK, j], cs[_Q, j], cs[_H, j])
    for j in range(LANES):
        u = _child_risk(cs[_RISK, j], fac[j], cs[_USUAL, j])
        cs[_USUAL, j] = u
        cs[_C, j] = u
    if ifpp:
        for j in range(lanes):
            u = cs[_USUAL, j]
            d = dur[j]
            if r <= d:
                c = _treated(1.0 if noeff[j] else rr[n0 + j, min(r, rr.shape[1] - 1)], u)
                if r == d:
                    cs[_UD, j] = u
                    cs[_TD, j] = c
            else:
                c = _after_effect(code[j], u, cs[_UD, j], cs[_TD, j], float(r - d), months[code[j]])
            c = _clipped(c)
            if cs[_TOP, j] > c + 1e-12:
                cs[_HIT, j] = 1.0
            cs[_TOP, j] = max(cs[_TOP, j], c)
            cs[_C, j] = cs[_TOP, j]


@jit(tag=TAG, parallel=True, nogil=True)
def entry_hazards_kernel(log_s, log_after, factor, rr, no_effect, after_effect, duration, months,
                         receives_ifpp, entry, bound):  # pragma: no cover - compiled
    """Monthly first-entry probabilities of every strategy, as :func:`ifpp_econ.model.cumulative_entry_curves`
    followed by :func:`~ifpp_econ.model.hazards_from_curve` compute them, one iteration at a time.

    Shapes: log_s ``(N, 5)`` log survival at the 0/3/6/12/24-month knots; log_after ``(N,)`` log(1 − annual
    risk after 24 months, as a monthly probability); factor ``(N,)`` child ÷ family risk; rr ``(N, T+1)``, or
    ``(N, 1)`` for one RR every month; no_effect ``(N,)`` bool; after_effect ``(N,)`` codes 0 effect stops, 1 gap persists,
    2 catch-up; duration ``(N,)`` whole months in 0..T; receives_ifpp ``(K,)`` bool; out: entry
    ``(K, N, T)``, bound ``(N,)`` (the IFPP curve needed its running maximum). Blocks of :data:`LANES`
    iterations of one strategy are shared between threads; each block runs :func:`_curve_row` row by row."""
    n_strategies, n_iter, n_cycles = entry.shape
    bound_k = _first_ifpp(receives_ifpp)
    n_blocks = (n_iter + LANES - 1) // LANES
    for block in prange(n_strategies * n_blocks):
        k = block // n_blocks
        n0 = (block % n_blocks) * LANES
        lanes = min(LANES, n_iter - n0)
        cs = np.zeros((_CURVE_ROWS, LANES))
        fac = np.zeros(LANES)
        dur = np.zeros(LANES, dtype=np.int64)
        code = np.zeros(LANES, dtype=np.int64)
        noeff = np.zeros(LANES, dtype=np.bool_)
        _load_curve_lanes(n0, lanes, factor, duration, after_effect, no_effect, fac, dur, code, noeff)
        for r in range(n_cycles + 1):
            _curve_row(r, n0, lanes, receives_ifpp[k], log_s, log_after, rr, months, cs, fac, dur, code, noeff)
            if r > 0:
                for j in range(lanes):
                    entry[k, n0 + j, r - 1] = _monthly_probability(cs[_C, j], cs[_C_PREV, j])
        if k == bound_k:
            for j in range(lanes):
                bound[n0 + j] = cs[_HIT, j] != 0.0


family_states_kernel_serial = serial_twin(family_states_kernel)
entry_hazards_kernel_serial = serial_twin(entry_hazards_kernel)


def compiled(name: str, threads: int):
    """The parallel kernel ``name`` when ``threads`` > 1, else its serial twin."""
    return globals()[name if threads > 1 else name + "_serial"]
