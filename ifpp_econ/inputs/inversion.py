"""Inverse CDFs of the marginal distributions, z ↦ F⁻¹(Φ(z)): how a standard normal draw becomes a parameter value.

Normal and lognormal are closed forms. Beta and gamma inverse CDFs cost ~0.5 µs each, so for them
``F⁻¹(Φ(z))`` is tabulated once per distribution (exact scipy values and slopes at 2,049 nodes in z) and
evaluated by cubic Hermite interpolation; a table is used only if it matches scipy at every interval midpoint
to 1e-10 × the interquartile range (about 1e-14 relative for usual parameters), otherwise scipy's ``ppf`` is
called directly. :func:`sampleable` tells the workbook's validator whether draws can be computed at all.
"""
from __future__ import annotations

import functools

import numpy as np

from .distributions import U_CLIP, Z_CLIP, Frozen

TABLE_INTERVALS = 2048

TABLE_TOL = 1e-10  # largest midpoint error of a table, as a fraction of the interquartile range

def _exact_inverse(dist, z: np.ndarray) -> np.ndarray:
    """F⁻¹(Φ(z)) by scipy, using the upper tail (``isf``) for z > 0 so it stays accurate near U = 1."""
    from scipy import special

    return np.where(z <= 0, dist.ppf(special.ndtr(np.minimum(z, 0))), dist.isf(special.ndtr(-np.maximum(z, 0))))

def _hermite(x: np.ndarray, slope: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation of node values ``x`` and slopes ``slope`` (per unit z) at ``z``."""
    h = 2 * Z_CLIP / TABLE_INTERVALS
    t = (np.clip(z, -Z_CLIP, Z_CLIP) + Z_CLIP) / h
    k = np.minimum(t.astype(np.intp), TABLE_INTERVALS - 1)
    s = t - k
    x0, x1 = x[k], x[k + 1]
    s2 = s * s
    return x0 + s2 * (3 - 2 * s) * (x1 - x0) + h * (s * (s - 1) ** 2 * slope[k] + s2 * (s - 1) * slope[k + 1])

@functools.lru_cache(maxsize=512)
def _inverse_table(dist_name: str, args: tuple, kwargs: tuple) -> tuple[np.ndarray, np.ndarray, tuple] | None:
    """(node values, node slopes dx/dz, support) of z ↦ F⁻¹(Φ(z)) on ``[−Z_CLIP, Z_CLIP]``, or None
    when interpolation would not reproduce scipy to :data:`TABLE_TOL` (then ``ppf`` is used)."""
    dist = Frozen(dist_name, args, dict(kwargs))
    z = np.linspace(-Z_CLIP, Z_CLIP, TABLE_INTERVALS + 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = _exact_inverse(dist, z)
        slope = np.exp(-z * z / 2) / np.sqrt(2 * np.pi) / dist.pdf(x)
        if not (np.isfinite(x).all() and np.isfinite(slope).all()):
            return None
        mid = z[:-1] + (z[1] - z[0]) / 2
        error = np.abs(_hermite(x, slope, mid) - _exact_inverse(dist, mid)).max()
    iqr = float(np.subtract(*dist.ppf([0.75, 0.25])))
    return (x, slope, dist.support()) if error <= TABLE_TOL * iqr else None

def inverse_cdf(dist):
    """Vectorised z ↦ F⁻¹(Φ(clip(z))) for one frozen distribution (scipy.stats' or a :class:`Frozen`)."""
    from scipy import special

    name = dist.dist.name
    if name in ("norm", "lognorm"):  # closed forms: F⁻¹(Φ(z)) is linear in z, or exp of a linear function of z
        shape = float(dist.args[0]) if name == "lognorm" else 1.0
        loc = float(dist.kwds.get("loc", dist.args[0] if name == "norm" and dist.args else 0.0))
        scale = float(dist.kwds.get("scale", dist.args[1] if name == "norm" and len(dist.args) > 1 else 1.0))
        if name == "norm":
            return _cheap(lambda z: loc + scale * np.clip(z, -Z_CLIP, Z_CLIP))
        return _cheap(lambda z: loc + scale * np.exp(shape * np.clip(z, -Z_CLIP, Z_CLIP)))
    table = _inverse_table(name, tuple(map(float, dist.args)), tuple(sorted(dist.kwds.items()))) \
        if name in ("beta", "gamma") else None
    if table is None:
        return lambda z: dist.ppf(np.clip(special.ndtr(z), U_CLIP, 1 - U_CLIP))
    x, slope, (lo, hi) = table
    return _cheap(functools.partial(_tabulated, x, slope, float(lo), float(hi)))


def _cheap(inverse):
    """Mark an inverse CDF as cheap (a closed form or a table: a few ns a value, against ~0.5 µs for scipy's ``ppf``),
    so the sampler does not start threads for it (:func:`is_cheap`)."""
    inverse.cheap = True
    return inverse


def is_cheap(inverse) -> bool:
    """Whether ``inverse`` (from :func:`inverse_cdf`) is a closed form or a table rather than scipy's ``ppf``."""
    return getattr(inverse, "cheap", False)


COMPILED_MIN = 4096  # values below which a table is evaluated by numpy (no compiler needed, e.g. for validation)


def compiled_table_job() -> tuple[list, tuple]:
    """The compiled table evaluation and arguments of its one signature, for
    :func:`ifpp_econ.engine.compiling.prepare` (compiled with the model's kernel, not by surprise in a later run)."""
    from ._hermite import hermite_clipped

    x = np.zeros(TABLE_INTERVALS + 1)
    return [hermite_clipped], (x, x.copy(), np.zeros(COMPILED_MIN), float(Z_CLIP), TABLE_INTERVALS, 0.0, 1.0,
                               np.empty(COMPILED_MIN))


def _tabulated(x: np.ndarray, slope: np.ndarray, lo: float, hi: float, z: np.ndarray) -> np.ndarray:
    """``clip(_hermite(x, slope, z), lo, hi)``; compiled (the same operations one value at a time, so the same numbers)
    for :data:`COMPILED_MIN` values or more when the kernel is numba (:func:`ifpp_econ.engine.threads.choose_kernel`)."""
    z = np.asarray(z, dtype=float)
    if z.ndim == 1 and z.size >= COMPILED_MIN:
        from ..engine.threads import choose_kernel

        if choose_kernel() == "numba":
            from ._hermite import hermite_clipped

            out = np.empty(z.shape)
            hermite_clipped(x, slope, np.ascontiguousarray(z), Z_CLIP, TABLE_INTERVALS, lo, hi, out)
            return out
    return np.clip(_hermite(x, slope, z), lo, hi)

def sampleable(dist) -> bool:
    """True when draws of the frozen scipy ``dist`` can be computed: its inverse CDF gives finite
    values over the whole clipped normal range (extreme arguments overflow inside scipy)."""
    try:
        with np.errstate(all="ignore"):
            x = inverse_cdf(dist)(np.linspace(-Z_CLIP, Z_CLIP, 257))
    except (ArithmeticError, ValueError):
        return False
    return bool(np.all(np.isfinite(x)))
