"""The engine's compiled dense cohort loop (imported only when it runs; see :mod:`ifpp_econ.engine.cohort`)."""
import numpy as np
from numba import prange

from .compiling import jit, serial_twin

LANES = 256  # batch elements moved together: each state's occupancy is a (LANES,) vector, so the loops vectorise;
# 256 rather than 64: each lane loop then runs 32 vector steps instead of 8, so its set-up (alias checks, remainder) is
# paid less often (the HIV PSA's loop 0.33-0.40 -> 0.24 µs a sample on one thread; the numbers do not depend on it)
GROUP = 4  # blocks run one after another by a thread, reusing one set of scratch arrays (GROUP × LANES = 1,024 elements)
COPY_MAX = 1024  # a block's matrices are copied to (M, S, S, LANES) (contiguous over the lanes) when M·S·S is at most
# this: at most 2 MB of copies


@jit(parallel=True, nogil=True)
def dense_cohort(x0, p, cycle_index, plain, per_batch, per_row, out_plain, out_batch, out_row, trace):  # pragma: no cover
    """Dense cohort loop with state-reward values per row, in one pass.

    Shapes: x0 ``(B, S)``; p ``(B, M, S, S)``; cycle_index ``(T,)`` in ``0..M-1`` (row r+1 =
    row r @ ``p[b, cycle_index[r]]``); reward values per state: plain ``(A0, S)``, per_batch
    ``(A1, B, S)``, per_row ``(A2, B, T+1, S)``; their row values out_* ``(A·, T+1, B)`` (rows first: each row's
    values of a block are one contiguous store);
    trace ``(B, T+1, S)``, or empty when not kept. Sums run over states in order, from 0.0.

    Batch elements are moved in blocks of :data:`LANES` held state-major, ``x[s, lane]``: every
    arithmetic step is the same for each element as one element at a time (the same products,
    added in the same order), so the numbers do not depend on the block an element falls in.
    """
    n_batch, n_states = x0.shape
    n_mat = p.shape[1]
    n_cycles = cycle_index.shape[0]
    keep = trace.shape[0] > 0
    copy = n_mat * n_states * n_states <= COPY_MAX
    n_blocks = (n_batch + LANES - 1) // LANES
    for group in prange((n_blocks + GROUP - 1) // GROUP):
        x = np.zeros((n_states, LANES))
        nx = np.zeros((n_states, LANES))
        acc = np.zeros(LANES)
        q = np.zeros((n_mat, n_states, n_states, LANES) if copy else (0, 0, 0, LANES))
        vb = np.zeros((per_batch.shape[0], n_states, LANES))
        for blk in range(group * GROUP, min(group * GROUP + GROUP, n_blocks)):
            b0 = blk * LANES
            lanes = min(LANES, n_batch - b0)
            for j in range(n_states):  # loops over lanes innermost: contiguous stores
                for k in range(lanes):
                    x[j, k] = x0[b0 + k, j]
            for a in range(per_batch.shape[0]):
                for s in range(n_states):
                    for k in range(lanes):
                        vb[a, s, k] = per_batch[a, b0 + k, s]
            if copy:
                for m in range(n_mat):
                    for i in range(n_states):
                        for j in range(n_states):
                            for k in range(lanes):
                                q[m, i, j, k] = p[b0 + k, m, i, j]
            for r in range(n_cycles + 1):
                if r > 0:
                    m = cycle_index[r - 1]
                    for j in range(n_states):
                        acc[:] = 0.0
                        for i in range(n_states):
                            if copy:
                                for k in range(LANES):
                                    acc[k] += x[i, k] * q[m, i, j, k]
                            else:
                                for k in range(lanes):
                                    acc[k] += x[i, k] * p[b0 + k, m, i, j]
                        nx[j] = acc
                    x, nx = nx, x
                for a in range(plain.shape[0]):
                    acc[:] = 0.0
                    for s in range(n_states):
                        w = plain[a, s]
                        for k in range(LANES):
                            acc[k] += x[s, k] * w
                    for k in range(lanes):
                        out_plain[a, r, b0 + k] = acc[k]
                for a in range(per_batch.shape[0]):
                    acc[:] = 0.0
                    for s in range(n_states):
                        for k in range(LANES):
                            acc[k] += x[s, k] * vb[a, s, k]
                    for k in range(lanes):
                        out_batch[a, r, b0 + k] = acc[k]
                for a in range(per_row.shape[0]):
                    acc[:] = 0.0
                    for s in range(n_states):
                        for k in range(lanes):
                            acc[k] += x[s, k] * per_row[a, b0 + k, r, s]
                    for k in range(lanes):
                        out_row[a, r, b0 + k] = acc[k]
                if keep:
                    for k in range(lanes):
                        for s in range(n_states):
                            trace[b0 + k, r, s] = x[s, k]


dense_cohort_serial = serial_twin(dense_cohort)


def compiled(name: str, threads: int):
    """The parallel kernel ``name`` when ``threads`` > 1, else its serial twin."""
    return globals()[name if threads > 1 else name + "_serial"]
