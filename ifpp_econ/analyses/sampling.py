"""Parameter draws for probabilistic sensitivity analysis.

Every non-fixed scalar parameter is drawn by inversion: standard normals ``Z`` (made
correlated by a Gaussian copula where rank correlations are given) become uniforms
``U = Φ(Z)``, clipped to ``[1e-12, 1 − 1e-12]``, and then ``value = F⁻¹(U)`` with the
marginal's scipy ``ppf``. Beta and gamma inverse CDFs cost ~0.5 µs each, so for them
``F⁻¹(Φ(z))`` is tabulated once per distribution (exact scipy values and slopes at 2,049
nodes in z) and evaluated by cubic Hermite interpolation; a table is used only if it
matches scipy at every interval midpoint to 1e-10 × the interquartile range (about
1e-14 relative for usual parameters), otherwise scipy's ``ppf`` is called directly.
Dirichlet groups are drawn from gamma variates.

Reproducibility regardless of chunk size: the iteration axis is cut into blocks of
:data:`BLOCK` iterations and block ``b`` draws all its random numbers from
``PCG64(SeedSequence([seed, b]))`` in a fixed order (first ``Z`` of shape
``(BLOCK, n_scalar)``, then one gamma matrix per Dirichlet group in order of first
appearance). Everything after that is element-wise or per block, so iteration i's draws
depend only on (seed, i) and are bit-identical whatever ``start``/``n`` chunking is used.

A shared component (``shared``, for draws of several workbooks that must move together, e.g. one
pooled effect for many local authorities): column j's standard normal becomes
``w·z_shared + √(1 − w²)·z_j`` before inversion, with ``z_shared`` ``(n,)`` supplied by the caller
(its own stream) and ``0 ≤ w ≤ 1``. It is still standard normal, so the marginal is unchanged.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..engine.threads import workers
from ..inputs.distributions import correlation_cholesky, dirichlet_groups, frozen_distributions
from ..inputs.inversion import inverse_cdf, is_cheap

BLOCK = 1024
PARALLEL_MIN = 20_000  # ppf work (iterations × columns) below which threads are not worth starting


def _workers(jobs: int, work: int) -> int:
    return 1 if work < PARALLEL_MIN else max(1, min(workers(), jobs))


def _invert_columns(inverses: list, z: np.ndarray) -> list[np.ndarray]:
    """``inverses[j](z[:, j])`` (from :func:`inverse_cdf`) for every column of ``z`` ``(n, k)``; threads
    across the columns inverted by scipy's ``ppf`` (numpy and scipy's special functions release the GIL; closed forms
    and tables are too quick to be worth a thread), results identical to a serial loop."""
    def one(j):
        return inverses[j](z[:, j])

    slow = [j for j in range(len(inverses)) if not is_cheap(inverses[j])]  # scipy ppf: threads may pay off
    workers = _workers(len(slow), len(z) * len(slow))
    if workers == 1:
        return [one(j) for j in range(len(inverses))]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        done = dict(zip(slow, pool.map(one, slow)))
    return [done[j] if j in done else one(j) for j in range(len(inverses))]


def _block(seed: int, b: int, k: int, corr_cols: list[int], chol, groups) -> tuple[np.ndarray, list[np.ndarray]]:
    """Block ``b``: copula normals ``(BLOCK, k)`` and per Dirichlet group its gamma variates ``(BLOCK, m_g)``
    (made shares by :func:`_shares`)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(b)])))
    z = rng.standard_normal((BLOCK, k))
    if chol is not None:  # z_c ← z_c Lᵀ, written out so rounding cannot depend on BLAS blocking
        zc = z[:, corr_cols].copy()
        for j, col in enumerate(corr_cols):
            acc = chol[j, 0] * zc[:, 0]
            for i in range(1, j + 1):
                acc = acc + chol[j, i] * zc[:, i]
            z[:, col] = acc
    return z, [rng.standard_gamma(counts, size=(BLOCK, len(counts))) for _, counts in groups.values()]


def _shares(gammas: np.ndarray) -> list[np.ndarray]:
    """A Dirichlet group's shares, column by column: each gamma variate ÷ its row's total, ``(n, m)`` → m × ``(n,)``.
    Exactly ``gammas / gammas.sum(axis=1, keepdims=True)``: numpy adds fewer than 8 values one after another from
    the first, which whole columns reproduce without numpy's per-row reduction (≈ 10 ns a row); longer rows use
    numpy's own (pairwise) sum."""
    m = gammas.shape[1]
    if m < 8:
        total = gammas[:, 0].copy()
        for j in range(1, m):
            total += gammas[:, j]
    else:
        total = gammas.sum(axis=1)
    return [gammas[:, j] / total for j in range(m)]


class Sampler:
    """Everything :func:`sample` needs that does not depend on the iterations: the validated
    distributions, their inverse CDFs, Dirichlet groups and the copula's Cholesky factor.
    Built once per run (a PSA in chunks calls :meth:`sample` per chunk)."""

    def __init__(self, parameters: pd.DataFrame, correlations: pd.DataFrame | None = None):
        self.parameters = parameters
        self.dists = frozen_distributions(parameters)  # scipy.stats' arithmetic without importing it
        self.groups = dirichlet_groups(parameters)
        self.scalar = list(self.dists)
        correlated, self.chol = correlation_cholesky(self.scalar, correlations)
        self.corr_cols = [self.scalar.index(p) for p in correlated]
        self.inverses = [inverse_cdf(self.dists[p]) for p in self.scalar]
        self.base_values = pd.to_numeric(parameters["value"], errors="coerce").to_numpy(dtype=float)  # (P,)
        position = {name: i for i, name in enumerate(parameters.index)}
        self.scalar_positions = np.array([position[p] for p in self.scalar], dtype=np.intp)
        self.group_positions = [np.array([position[p] for p in names], dtype=np.intp) for names, _ in self.groups.values()]
        bounded = "min" in parameters.columns and "max" in parameters.columns  # draws kept inside the domain
        self.bounds = [(parameters.at[p, "min"], parameters.at[p, "max"]) if bounded else None for p in self.scalar]

    def __getstate__(self) -> dict:  # picklable (process pools, clusters): the inverse CDFs are rebuilt on arrival
        return {k: v for k, v in self.__dict__.items() if k != "inverses"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.inverses = [inverse_cdf(self.dists[p]) for p in self.scalar]

    def sample(self, n: int, seed: int, start: int = 0,
               shared: dict[str, tuple[float, np.ndarray]] | None = None) -> pd.DataFrame:
        """Draws for iterations ``[start, start + n)``: see :func:`sample`. ``shared``: parameter name →
        (weight w, standard normals ``(n,)`` of the same iterations) mixed into that parameter's normal
        (see the module docstring); names not sampled here are ignored."""
        return _sample(self, n, seed, start, shared)


def sample(parameters: pd.DataFrame, n: int, seed: int, start: int = 0,
           correlations: pd.DataFrame | None = None) -> pd.DataFrame:
    """Draws for iterations ``[start, start + n)``.

    Returns a DataFrame ``(n, P)``: one column per parameter in ``parameters.index`` order,
    index = iteration numbers. Fixed parameters (including all-fixed share groups) repeat
    their ``value``; Dirichlet shares of a group sum to 1 in every row. When the table has
    ``min``/``max`` columns (the parameters' allowed ranges), draws are clipped to them: the
    reader allows at most 0.1% of a distribution outside, so clipping only tidies the tail.
    """
    return Sampler(parameters, correlations).sample(n, seed, start)


def _mix_shared(z: np.ndarray, scalar: list[str], shared: dict[str, tuple[float, np.ndarray]]) -> None:
    """``z[:, j] ← w·s + √(1 − w²)·z[:, j]`` in place for each shared (w, s) of a sampled parameter."""
    for name, (w, common) in shared.items():
        if name in scalar:
            if not 0.0 <= w <= 1.0 or len(common) != len(z):
                raise ValueError(f"shared normal for {name}: weight {w} outside [0, 1] or {len(common)} values for "
                                 f"{len(z)} iterations")
            j = scalar.index(name)
            z[:, j] = w * np.asarray(common, dtype=float) + np.sqrt(1.0 - w * w) * z[:, j]


def _sample(sampler: Sampler, n: int, seed: int, start: int,
            shared: dict[str, tuple[float, np.ndarray]] | None = None) -> pd.DataFrame:
    n, start = int(n), int(start)
    if n < 0 or start < 0:
        raise ValueError("n and start must be non-negative")
    parameters, groups, scalar = sampler.parameters, sampler.groups, sampler.scalar
    corr_cols, chol = sampler.corr_cols, sampler.chol

    first, stop = start // BLOCK, -(-(start + n) // BLOCK)
    blocks = [_block(seed, b, len(scalar), corr_cols, chol, groups) for b in range(first, stop)]
    lo, hi = start - first * BLOCK, start - first * BLOCK + n

    columns = np.empty((len(parameters), n))  # one row per parameter: contiguous writes, and pandas' own layout
    columns[:] = sampler.base_values[:, None]
    if scalar and blocks:
        z = np.concatenate([zb for zb, _ in blocks])[lo:hi]
        if shared:
            _mix_shared(z, scalar, shared)
        for j, values in enumerate(_invert_columns(sampler.inverses, z)):
            bounds = sampler.bounds[j]
            columns[sampler.scalar_positions[j]] = values if bounds is None else np.clip(values, *bounds)
    for g, positions in enumerate(sampler.group_positions):
        if blocks:
            for position, share in zip(positions, _shares(np.concatenate([sb[g] for _, sb in blocks])[lo:hi])):
                columns[position] = share
    return pd.DataFrame(columns.T, index=pd.RangeIndex(start, start + n, name="iteration"), columns=parameters.index,
                        copy=False)  # columns: made here, held by nothing else
