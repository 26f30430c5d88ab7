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
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .exceptions import InputError

BLOCK = 1024
U_CLIP = 1e-12
Z_CLIP = 7.034483825301131  # −Φ⁻¹(1e-12): clipping z to ±Z_CLIP is clipping U to [1e-12, 1 − 1e-12]
TABLE_INTERVALS = 2048
TABLE_TOL = 1e-10  # largest midpoint error of a table, as a fraction of the interquartile range
CI95_WIDTH = 3.919927969080108  # 2 × 1.959963984540054 (the "3.92" of a 95% CI), so the CI is reproduced exactly
PARALLEL_MIN = 20_000  # ppf work (iterations × columns) below which threads are not worth starting


class SamplingError(InputError, ValueError):
    """A distribution, Dirichlet group or correlation that cannot be sampled (the message names it)."""


def _num(row, key) -> float:
    v = row.get(key)
    return float(v) if v is not None and pd.notna(v) else float("nan")


# Each marginal checks its arguments and returns (scipy.stats name, args, kwargs); scipy is
# imported only when distributions are built, so validating a workbook stays fast.
def _beta(name, value, a, b):
    if not (a > 0 and b > 0):
        raise SamplingError(f"{name}: beta needs alpha > 0 and beta > 0 (got {a:g}, {b:g})")
    return "beta", (a, b), {}


def _beta_mean_se(name, value, a, b):
    if not 0 < value < 1:
        raise SamplingError(f"{name}: beta mean must be strictly between 0 and 1 (got {value:g})")
    if not (a > 0 and a * a < value * (1 - value)):
        raise SamplingError(f"{name}: beta SE must be positive and SE² < mean × (1 − mean) = "
                            f"{value * (1 - value):.4g} (got SE {a:g})")
    k = value * (1 - value) / (a * a) - 1
    return _beta(name, value, value * k, (1 - value) * k)


def _beta_events_n(name, value, a, b):
    if not (b > 0 and 0 < a < b):
        raise SamplingError(f"{name}: beta events/n needs 0 < events < n (got {a:g}, {b:g})")
    return _beta(name, value, a, b - a)


def _gamma(name, value, a, b):
    if not (value > 0 and a > 0):
        raise SamplingError(f"{name}: gamma needs a positive mean and SE (got {value:g}, {a:g})")
    return "gamma", ((value / a) ** 2,), {"scale": a * a / value}


def _gamma_sepct(name, value, a, b):
    if not (value > 0 and 0 < a <= 10):
        raise SamplingError(f"{name}: gamma with SE as a share of the value needs a positive value and a share above 0 "
                            f"and at most 10 (1000%) (got value {value:g}, share {a:g})")
    return _gamma(name, value, a * value, b)


def _lognormal_ci(name, value, a, b):
    if not (0 < a < value < b):
        raise SamplingError(f"{name}: lognormal 95% CI needs 0 < lower < value < upper (got {a:g}, {value:g}, {b:g})")
    return "lognorm", ((np.log(b) - np.log(a)) / CI95_WIDTH,), {"scale": value}


def _lognormal_log(name, value, a, b):
    if not (b > 0 and np.isfinite(a)):
        raise SamplingError(f"{name}: lognormal needs a finite log-mean and a positive log-SE (got {a:g}, {b:g})")
    with np.errstate(over="ignore"):  # an enormous log-mean gives scale inf: the reader rejects it as out of range
        return "lognorm", (b,), {"scale": np.exp(a)}


def _normal(name, value, a, b):
    if not (a > 0 and np.isfinite(value)):
        raise SamplingError(f"{name}: normal needs a finite mean and a positive SE (got {value:g}, {a:g})")
    return "norm", (value, a), {}


def _uniform(name, value, a, b):
    if not a < b:
        raise SamplingError(f"{name}: uniform needs min < max (got {a:g}, {b:g})")
    return "uniform", (a, b - a), {}


def _bounded(name, value, a, b, kind):
    if not (a < b and a <= value <= b):
        raise SamplingError(f"{name}: {kind} needs min < max and min ≤ value ≤ max (got {a:g}, {value:g}, {b:g})")


def _triangular(name, value, a, b):
    _bounded(name, value, a, b, "triangular")
    return "triang", ((value - a) / (b - a),), {"loc": a, "scale": b - a}


def _pert(name, value, a, b):
    _bounded(name, value, a, b, "PERT")
    return "beta", (1 + 4 * (value - a) / (b - a), 1 + 4 * (b - value) / (b - a)), {"loc": a, "scale": b - a}


MARGINALS = {
    "beta_mean_se": _beta_mean_se,
    "beta_alpha_beta": _beta,
    "beta_events_n": _beta_events_n,
    "gamma_mean_se": _gamma,
    "gamma_mean_sepct": _gamma_sepct,
    "lognormal_ci": _lognormal_ci,
    "lognormal_log": _lognormal_log,
    "normal_mean_se": _normal,
    "uniform": _uniform,
    "triangular": _triangular,
    "pert": _pert,
}
DISTRIBUTIONS = ("fixed", "dirichlet", *MARGINALS)  # order matters to schema.py (dirichlet second)


def _dist_name(row) -> str:
    return str(row.get("distribution", "fixed")).strip()


def check_distributions(parameters: pd.DataFrame) -> dict[str, tuple]:
    """Validate every non-fixed scalar parameter; returns name → (scipy name, args, kwargs).

    Raises :class:`SamplingError` naming every parameter whose distribution is unusable.
    """
    out, problems = {}, []
    for name, row in parameters.iterrows():
        dist = _dist_name(row)
        if dist in ("fixed", "dirichlet"):
            continue
        if dist not in MARGINALS:
            problems.append(f"{name}: unknown distribution {dist!r}; allowed: {', '.join(DISTRIBUTIONS)}")
            continue
        try:
            out[name] = MARGINALS[dist](name, _num(row, "value"), _num(row, "param_a"), _num(row, "param_b"))
        except SamplingError as exc:
            problems.append(str(exc))
    if problems:
        raise SamplingError("; ".join(problems))
    return out


def make_distributions(parameters: pd.DataFrame) -> dict[str, object]:
    """Validated frozen scipy distributions for every non-fixed scalar parameter (fixed and Dirichlet rows excluded)."""
    from scipy import stats

    return {name: getattr(stats, dist)(*args, **kwargs)
            for name, (dist, args, kwargs) in check_distributions(parameters).items()}


def _has_group(group) -> bool:
    return group is not None and not (isinstance(group, float) and np.isnan(group)) and str(group).strip() != ""


def dirichlet_groups(parameters: pd.DataFrame) -> dict[str, tuple[list[str], np.ndarray]]:
    """Group → (member names, Dirichlet concentrations ``(m,)``) for Dirichlet rows, in order of first appearance.

    The shares (``value``) are the Dirichlet mean and ``param_a`` is the group's effective sample size n,
    so member i has concentration n × share_i (a share of 0 stays 0). A group whose rows are all
    ``fixed`` is not listed (it stays fixed); a group mixing ``dirichlet`` with other distributions is an
    error, as its shares could not sum to 1.
    """
    groups: dict[str, tuple[list[str], list[float]]] = {}
    for name, row in parameters.iterrows():
        if _dist_name(row) != "dirichlet":
            continue
        if not _has_group(row.get("group")):
            raise SamplingError(f"{name}: a dirichlet parameter needs a group")
        n_eff, share = _num(row, "param_a"), _num(row, "value")
        if not n_eff > 0:
            raise SamplingError(f"{name}: Dirichlet effective sample size must be positive (got {n_eff:g})")
        if not 0 <= share <= 1:
            raise SamplingError(f"{name}: a Dirichlet share must lie between 0 and 1 (got {share:g})")
        names, counts = groups.setdefault(str(row["group"]).strip(), ([], []))
        names.append(name)
        counts.append(n_eff * share)
    for name, row in parameters.iterrows():
        group = row.get("group")
        if _has_group(group) and str(group).strip() in groups and _dist_name(row) != "dirichlet":
            raise SamplingError(f"{name}: group {str(group).strip()!r} mixes dirichlet and {_dist_name(row)!r} rows; "
                                "give every share of a group the same distribution")
    for g, (names, counts) in groups.items():
        if not sum(counts) > 0:
            raise SamplingError(f"group {g!r}: the shares sum to 0")
    return {g: (names, np.array(counts)) for g, (names, counts) in groups.items()}


def correlation_cholesky(names: list[str], correlations: pd.DataFrame | None) -> tuple[list[str], np.ndarray | None]:
    """Parameters named in ``correlations`` (in ``names`` order) and the lower Cholesky factor ``(k, k)``
    of their normal-copula correlation matrix; ``([], None)`` without correlations.

    ``names`` are the sampled scalar parameters. Rank (Spearman) correlations ρ are
    converted to normal correlations r = 2·sin(πρ/6), so the achieved rank correlation is ρ.
    """
    if correlations is None or len(correlations) == 0:
        return [], None
    missing = {"parameter_1", "parameter_2", "rank_correlation"} - set(correlations.columns)
    if missing:
        raise SamplingError(f"correlations need the columns parameter_1, parameter_2, rank_correlation "
                            f"(missing {', '.join(sorted(missing))})")
    known = set(map(str, names))
    pairs: dict[tuple[str, str], float] = {}
    for _, row in correlations.iterrows():
        a, b, rho = str(row["parameter_1"]).strip(), str(row["parameter_2"]).strip(), float(row["rank_correlation"])
        for p in (a, b):
            if p not in known:
                raise SamplingError(f"correlation {a} ~ {b}: {p!r} is not a sampled scalar parameter "
                                    "(unknown, fixed or Dirichlet parameters cannot be correlated)")
        if a == b or not -1 < rho < 1:
            raise SamplingError(f"correlation {a} ~ {b}: needs two different parameters and −1 < ρ < 1 (got {rho:g})")
        key = tuple(sorted((a, b)))
        if key in pairs and pairs[key] != rho:
            raise SamplingError(f"correlation {a} ~ {b}: given twice with different values ({pairs[key]:g}, {rho:g})")
        pairs[key] = rho
    involved = {p for key in pairs for p in key}
    subset = [n for n in names if str(n) in involved]
    index = {str(n): i for i, n in enumerate(subset)}
    r = np.eye(len(subset))
    for (a, b), rho in pairs.items():
        r[index[a], index[b]] = r[index[b], index[a]] = 2 * np.sin(np.pi * rho / 6)
    try:
        return subset, np.linalg.cholesky(r)
    except np.linalg.LinAlgError:
        smallest = np.linalg.eigvalsh(r).min()
        raise SamplingError(f"the correlation matrix of {', '.join(map(str, subset))} is not positive definite "
                            f"(smallest eigenvalue {smallest:.3g}); loosen some of their correlations") from None


def _workers(jobs: int, work: int) -> int:
    from .kernels import workers  # the run's --workers (default: every available core)

    return 1 if work < PARALLEL_MIN else max(1, min(workers(), jobs))


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
    from scipy import stats

    dist = getattr(stats, dist_name)(*args, **dict(kwargs))
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


def _inverse_cdf(dist):
    """Vectorised z ↦ F⁻¹(Φ(clip(z))) for one frozen scipy distribution."""
    from scipy import special

    name = dist.dist.name
    if name in ("norm", "lognorm"):  # closed forms: F⁻¹(Φ(z)) is linear in z, or exp of a linear function of z
        shape = float(dist.args[0]) if name == "lognorm" else 1.0
        loc = float(dist.kwds.get("loc", dist.args[0] if name == "norm" and dist.args else 0.0))
        scale = float(dist.kwds.get("scale", dist.args[1] if name == "norm" and len(dist.args) > 1 else 1.0))
        if name == "norm":
            return lambda z: loc + scale * np.clip(z, -Z_CLIP, Z_CLIP)
        return lambda z: loc + scale * np.exp(shape * np.clip(z, -Z_CLIP, Z_CLIP))
    table = _inverse_table(name, tuple(map(float, dist.args)), tuple(sorted(dist.kwds.items()))) \
        if name in ("beta", "gamma") else None
    if table is None:
        return lambda z: dist.ppf(np.clip(special.ndtr(z), U_CLIP, 1 - U_CLIP))
    x, slope, (lo, hi) = table
    return lambda z: np.clip(_hermite(x, slope, z), lo, hi)


def sampleable(dist) -> bool:
    """True when draws of the frozen scipy ``dist`` can be computed: its inverse CDF gives finite
    values over the whole clipped normal range (extreme arguments overflow inside scipy)."""
    try:
        with np.errstate(all="ignore"):
            x = _inverse_cdf(dist)(np.linspace(-Z_CLIP, Z_CLIP, 257))
    except (ArithmeticError, ValueError):
        return False
    return bool(np.all(np.isfinite(x)))


def _invert_columns(inverses: list, z: np.ndarray) -> list[np.ndarray]:
    """``inverses[j](z[:, j])`` (from :func:`_inverse_cdf`) for every column of ``z`` ``(n, k)``; threads
    across columns (numpy and scipy's special functions release the GIL), results identical to a serial loop."""
    def one(j):
        return inverses[j](z[:, j])

    workers = _workers(len(inverses), z.size)
    if workers == 1:
        return [one(j) for j in range(len(inverses))]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(len(inverses))))


def _block(seed: int, b: int, k: int, corr_cols: list[int], chol, groups) -> tuple[np.ndarray, list[np.ndarray]]:
    """Block ``b``: copula normals ``(BLOCK, k)`` and per Dirichlet group shares ``(BLOCK, m_g)``."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(b)])))
    z = rng.standard_normal((BLOCK, k))
    if chol is not None:  # z_c ← z_c Lᵀ, written out so rounding cannot depend on BLAS blocking
        zc = z[:, corr_cols].copy()
        for j, col in enumerate(corr_cols):
            acc = chol[j, 0] * zc[:, 0]
            for i in range(1, j + 1):
                acc = acc + chol[j, i] * zc[:, i]
            z[:, col] = acc
    shares = []
    for _, counts in groups.values():
        g = rng.standard_gamma(counts, size=(BLOCK, len(counts)))
        shares.append(g / g.sum(axis=1, keepdims=True))
    return z, shares


class Sampler:
    """Everything :func:`sample` needs that does not depend on the iterations: the validated
    distributions, their inverse CDFs, Dirichlet groups and the copula's Cholesky factor.
    Built once per run (a PSA in chunks calls :meth:`sample` per chunk)."""

    def __init__(self, parameters: pd.DataFrame, correlations: pd.DataFrame | None = None):
        self.parameters = parameters
        self.dists = make_distributions(parameters)
        self.groups = dirichlet_groups(parameters)
        self.scalar = list(self.dists)
        correlated, self.chol = correlation_cholesky(self.scalar, correlations)
        self.corr_cols = [self.scalar.index(p) for p in correlated]
        self.inverses = [_inverse_cdf(self.dists[p]) for p in self.scalar]
        self.base_values = pd.to_numeric(parameters["value"], errors="coerce").to_numpy(dtype=float)  # (P,)
        position = {name: i for i, name in enumerate(parameters.index)}
        self.scalar_positions = np.array([position[p] for p in self.scalar], dtype=np.intp)
        self.group_positions = [np.array([position[p] for p in names], dtype=np.intp) for names, _ in self.groups.values()]
        bounded = "min" in parameters.columns and "max" in parameters.columns  # draws kept inside the domain
        self.bounds = [(parameters.at[p, "min"], parameters.at[p, "max"]) if bounded else None for p in self.scalar]

    def sample(self, n: int, seed: int, start: int = 0) -> pd.DataFrame:
        """Draws for iterations ``[start, start + n)``: see :func:`sample`."""
        return _sample(self, n, seed, start)


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


def _sample(sampler: Sampler, n: int, seed: int, start: int) -> pd.DataFrame:
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
    out = columns.T
    if scalar and blocks:
        z = np.concatenate([zb for zb, _ in blocks])[lo:hi]
        for j, values in enumerate(_invert_columns(sampler.inverses, z)):
            bounds = sampler.bounds[j]
            out[:, sampler.scalar_positions[j]] = values if bounds is None else np.clip(values, *bounds)
    for g, positions in enumerate(sampler.group_positions):
        if blocks:
            out[:, positions] = np.concatenate([sb[g] for _, sb in blocks])[lo:hi]
    return pd.DataFrame(out, index=pd.RangeIndex(start, start + n, name="iteration"), columns=parameters.index)


def percentile_range(parameters: pd.DataFrame, q=(0.025, 0.975)) -> pd.DataFrame:
    """Quantiles ``q`` of each parameter's marginal: DataFrame ``(P, len(q))``, columns ``q0.025`` etc.

    Dirichlet share i of a group with counts c: Beta(c_i, C − c_i). NaN for fixed
    parameters (and one-member Dirichlet groups, whose share is always 1).
    """
    from scipy import stats

    dists = make_distributions(parameters)
    for names, counts in dirichlet_groups(parameters).values():
        if len(names) > 1:
            dists.update({p: stats.beta(c, counts.sum() - c) for p, c in zip(names, counts) if 0 < c < counts.sum()})
    q = np.asarray(q, dtype=float)
    rows = {name: dists[name].ppf(q) if name in dists else np.full(len(q), np.nan) for name in parameters.index}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"q{x:g}" for x in q])
