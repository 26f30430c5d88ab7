"""The engine's compiled dense cohort loop (imported only when it runs; see :mod:`ifpp_econ.engine.cohort`)."""
import numpy as np
from numba import prange

from .compiling import jit, serial_twin


@jit(parallel=True, nogil=True)
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


dense_cohort_serial = serial_twin(dense_cohort)


def compiled(name: str, threads: int):
    """The parallel kernel ``name`` when ``threads`` > 1, else its serial twin."""
    return globals()[name if threads > 1 else name + "_serial"]
