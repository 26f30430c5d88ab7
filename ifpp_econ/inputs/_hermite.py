"""The sampler's tabulated inverse CDF compiled (imported only when it runs; see :mod:`ifpp_econ.inputs.inversion`)."""
import numpy as np

from ..engine.compiling import jit


@jit(nogil=True)
def hermite_clipped(x, slope, z, z_clip, intervals, lo, hi, out):  # pragma: no cover - compiled; equal to the numpy
    """``out[i] = clip(_hermite(x, slope, z[i]), lo, hi)``: :func:`ifpp_econ.inputs.inversion._hermite` one value at a
    time, every operation the same and in the same order (no fast-math), so the numbers are identical."""
    h = 2 * z_clip / intervals
    for i in range(z.shape[0]):
        t = (min(max(z[i], -z_clip), z_clip) + z_clip) / h
        k = min(np.intp(t), intervals - 1)
        s = t - k
        x0, x1 = x[k], x[k + 1]
        s2 = s * s
        v = x0 + s2 * (3 - 2 * s) * (x1 - x0) + h * (s * (s - 1) ** 2 * slope[k] + s2 * (s - 1) * slope[k + 1])
        out[i] = min(max(v, lo), hi)
