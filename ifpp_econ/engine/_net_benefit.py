"""The compiled net-benefit sums of a block of PSA iterations (imported only when they run; see
:meth:`ifpp_econ.analyses.comparison.PSAAccumulator.block_sums`, whose numpy form is the reference).

One pass per willingness to pay over an L2-sized scratch row instead of numpy's five temporaries: the same IEEE
operations element by element, and sums added in numpy's own pairwise order (8 accumulators up to 128 values,
halves split at multiples of 8 above), so every figure equals the numpy reference's to the bit (tested).
"""
import numpy as np

from .compiling import jit

PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE


@jit(nogil=True)
def _leaf_sum(a, lo, n):  # pragma: no cover - compiled
    """Σ a[lo : lo + n] for n ≤ 128 as numpy adds it: in order below 8 values, else 8 running sums added in pairs,
    then the values past the last multiple of 8."""
    if n < 8:
        total = 0.0
        for i in range(lo, lo + n):
            total += a[i]
        return total
    r0, r1, r2, r3, r4, r5, r6, r7 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3], a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:  # scalars, not an array: no allocation per leaf
        k = lo + i
        r0, r1, r2, r3 = r0 + a[k], r1 + a[k + 1], r2 + a[k + 2], r3 + a[k + 3]
        r4, r5, r6, r7 = r4 + a[k + 4], r5 + a[k + 5], r6 + a[k + 6], r7 + a[k + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += a[lo + i]
        i += 1
    return total


@jit(nogil=True)
def _pairwise_sum(a, n):  # pragma: no cover - compiled
    """Σ a[:n] in numpy's pairwise order (``np.add.reduce`` of a contiguous float64 row): above 128 values, the sum
    of the first half (rounded down to a multiple of 8) plus the sum of the rest. Walked with explicit stacks, not
    recursion (numba's cache cannot reload a recursive function safely)."""
    if n <= PAIRWISE_BLOCK:
        return _leaf_sum(a, 0, n)
    first = np.empty(64, dtype=np.int64)  # the pending ranges: first index, length, children visited (0, 1, 2)
    length = np.empty(64, dtype=np.int64)
    visited = np.empty(64, dtype=np.int64)
    sums = np.empty(64)  # sums of finished ranges, left to right
    top, done = 0, 0
    first[0], length[0], visited[0] = 0, n, 0
    while top >= 0:
        lo, m = first[top], length[top]
        half = m // 2
        half -= half % 8
        if m <= PAIRWISE_BLOCK:
            sums[done] = _leaf_sum(a, lo, m)
            done += 1
            top -= 1
        elif visited[top] < 2:
            visited[top] += 1
            start, size = (lo, half) if visited[top] == 1 else (lo + half, m - half)
            top += 1
            first[top], length[top], visited[top] = start, size, 0
        else:
            sums[done - 2] = sums[done - 2] + sums[done - 1]
            done -= 1
            top -= 1
    return sums[0]


@jit(nogil=True)
def net_benefit_sums(cost, effect, wtp, counts, nmb_sum, max_sum, nmb, best):  # pragma: no cover - compiled
    """For each λ = ``wtp[w]``: NMB = −cost − λ·effect per strategy and iteration; adds to ``counts[w, k]`` the
    iterations in which strategy k has the highest NMB (the first on ties; a NaN counts as highest, as numpy's
    argmax) and sets ``nmb_sum[w, k]`` to the sum of its NMB and ``max_sum[w]`` to the sum of the highest NMB.

    Shapes: cost, effect ``(K, n)``; wtp ``(W,)``; counts, nmb_sum ``(W, K)``; max_sum ``(W,)``; scratch nmb
    ``(K, n)`` and best ``(n,)``, overwritten.
    """
    n_strategies, n = cost.shape
    for w in range(wtp.shape[0]):
        lam = wtp[w]
        for k in range(n_strategies):
            for i in range(n):
                nmb[k, i] = -cost[k, i] - lam * effect[k, i]
        for i in range(n):
            top, value = 0, nmb[0, i]
            if not np.isnan(value):
                for k in range(1, n_strategies):
                    v = nmb[k, i]
                    if np.isnan(v) or v > value:
                        top, value = k, v
                        if np.isnan(v):
                            break
            counts[w, top] += 1.0
            best[i] = value
        for k in range(n_strategies):
            nmb_sum[w, k] = _pairwise_sum(nmb[k], n)
        max_sum[w] = _pairwise_sum(best, n)


def net_benefit_job() -> tuple[list, tuple]:
    """The compiled sums and arguments of their one signature, for :func:`ifpp_econ.engine.compiling.prepare`
    (compiled with the model's kernel, not by surprise in a later run)."""
    k = np.zeros((2, 8))
    return [net_benefit_sums], (k, k.copy(), np.zeros(1), np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1),
                                k.copy(), np.zeros(8))
