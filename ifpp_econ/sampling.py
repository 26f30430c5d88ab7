"""Parameter draws for probabilistic sensitivity analysis.

Uncorrelated scalar parameters are drawn directly from their distributions (scipy's
samplers on a numpy Generator); correlated ones by a Gaussian copula: correlated
standard normals mapped through each marginal's inverse CDF. Dirichlet groups are drawn
from gamma variates. Reproducibility regardless of chunk size: the iteration axis is cut
into blocks of :data:`BLOCK` iterations and block ``b`` draws all its random numbers from
``PCG64(SeedSequence([seed, b]))`` in a fixed order, so iteration i's draws depend only
on (seed, i).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

BLOCK = 1024
Z = 3.919927969080108  # 2 × 1.959963984540054: width of a 95% interval in standard errors


class SamplingError(ValueError):
    """A distribution that cannot be sampled (message names the parameter)."""


def _num(row, key) -> float:
    v = row.get(key)
    return float(v) if v is not None and pd.notna(v) else float("nan")


# Each marginal checks its arguments and returns (scipy.stats name, args, kwargs); scipy is
# imported only when distributions are built, so validating a workbook stays fast.
def _beta(name, mean, a_, b_):
    if not (a_ > 0 and b_ > 0):
        raise SamplingError(f"{name}: beta needs alpha > 0 and beta > 0 (got {a_:g}, {b_:g})")
    return "beta", (a_, b_), {}


def _beta_mean_se(name, value, a, b):
    if not 0 < value < 1:
        raise SamplingError(f"{name}: beta mean must be strictly between 0 and 1 (got {value:g})")
    if not (a > 0 and a * a < value * (1 - value)):
        raise SamplingError(f"{name}: beta SE must be positive and SE² < mean × (1 − mean) = {value * (1 - value):.4g} (got SE {a:g})")
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


def _lognormal_ci(name, value, a, b):
    if not (0 < a < value < b):
        raise SamplingError(f"{name}: lognormal 95% CI needs 0 < lower < value < upper (got {a:g}, {value:g}, {b:g})")
    return "lognorm", ((np.log(b) - np.log(a)) / Z,), {"scale": value}


def _lognormal_log(name, value, a, b):
    if not (b > 0 and np.isfinite(a)):
        raise SamplingError(f"{name}: lognormal needs a finite log-mean and a positive log-SE (got {a:g}, {b:g})")
    return "lognorm", (b,), {"scale": np.exp(a)}


def _normal(name, value, a, b):
    if not a > 0:
        raise SamplingError(f"{name}: normal SE must be positive (got {a:g})")
    return "norm", (value, a), {}


def _bounded(name, value, a, b, kind):
    if not (a < b and a <= value <= b):
        raise SamplingError(f"{name}: {kind} needs min < max and min ≤ value ≤ max (got {a:g}, {value:g}, {b:g})")


def _uniform(name, value, a, b):
    if not a < b:
        raise SamplingError(f"{name}: uniform needs min < max (got {a:g}, {b:g})")
    return "uniform", (a, b - a), {}


def _triangular(name, value, a, b):
    _bounded(name, value, a, b, "triangular")
    return "triang", ((value - a) / (b - a),), {"loc": a, "scale": b - a}


def _pert(name, value, a, b):
    _bounded(name, value, a, b, "PERT")
    return "beta", (1 + 4 * (value - a) / (b - a), 1 + 4 * (b - value) / (b - a)), {"loc": a, "scale": b - a}


MARGINALS = {
    "beta_mean_se": _beta_mean_se,
    "beta_alpha_beta": lambda name, value, a, b: _beta(name, value, a, b),
    "beta_events_n": _beta_events_n,
    "gamma_mean_se": _gamma,
    "lognormal_ci": _lognormal_ci,
    "lognormal_log": _lognormal_log,
    "normal_mean_se": _normal,
    "uniform": _uniform,
    "triangular": _triangular,
    "pert": _pert,
}
DISTRIBUTIONS = ("fixed", "dirichlet", *MARGINALS)


def check_distributions(parameters: pd.DataFrame) -> dict[str, tuple]:
    """Validate every non-fixed scalar parameter's distribution; returns their scipy specifications.

    Raises :class:`SamplingError` naming every parameter whose distribution is unusable.
    """
    out, problems = {}, []
    for name, row in parameters.iterrows():
        dist = str(row.get("distribution", "fixed")).strip()
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
    """Frozen scipy distributions for every non-fixed scalar parameter (Dirichlet rows excluded)."""
    from scipy import stats

    return {name: getattr(stats, dist)(*args, **kwargs)
            for name, (dist, args, kwargs) in check_distributions(parameters).items()}


def dirichlet_groups(parameters: pd.DataFrame) -> dict[str, tuple[list[str], np.ndarray]]:
    """Group name → (member parameter names, concentration counts) for Dirichlet rows."""
    groups: dict[str, tuple[list[str], list[float]]] = {}
    for name, row in parameters.iterrows():
        if str(row.get("distribution", "")).strip() != "dirichlet":
            continue
        group = row.get("group")
        if group is None or (isinstance(group, float) and np.isnan(group)) or str(group).strip() == "":
            raise SamplingError(f"{name}: a dirichlet parameter needs a group")
        count = _num(row, "param_a")
        if not count > 0:
            raise SamplingError(f"{name}: Dirichlet count must be positive (got {count:g})")
        names, counts = groups.setdefault(str(group), ([], []))
        names.append(name)
        counts.append(count)
    return {g: (names, np.array(counts)) for g, (names, counts) in groups.items()}


def correlation_cholesky(names: list[str], correlations: pd.DataFrame | None) -> np.ndarray | None:
    """Cholesky factor of the normal-copula correlation matrix, or None without correlations.

    Rank (Spearman) correlations ρ are converted to normal correlations 2·sin(πρ/6).
    """
    if correlations is None or len(correlations) == 0:
        return None
    index = {n: i for i, n in enumerate(names)}
    r = np.eye(len(names))
    for _, row in correlations.iterrows():
        a, b, rho = str(row["parameter_1"]), str(row["parameter_2"]), float(row["rank_correlation"])
        for n in (a, b):
            if n not in index:
                raise SamplingError(f"correlation with {n!r}: not a sampled scalar parameter (fixed or Dirichlet parameters cannot be correlated)")
        if a == b or not -1 < rho < 1:
            raise SamplingError(f"correlation {a} ~ {b}: needs two different parameters and −1 < ρ < 1 (got {rho:g})")
        r[index[a], index[b]] = r[index[b], index[a]] = 2 * np.sin(np.pi * rho / 6)
    try:
        return np.linalg.cholesky(r)
    except np.linalg.LinAlgError:
        involved = sorted(set(correlations["parameter_1"]) | set(correlations["parameter_2"]))
        raise SamplingError(f"the correlation matrix of {', '.join(map(str, involved))} is not positive definite") from None


def _block(seed: int, b: int, correlated: list[str], independent: list[str], dists: dict, chol,
           groups) -> dict[str, np.ndarray]:
    """All draws of block ``b``, consuming the block's random stream in a fixed order."""
    from scipy import stats

    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), int(b)])))
    out = {}
    if correlated:
        z = rng.standard_normal((BLOCK, len(correlated))) @ chol.T
        u = np.clip(stats.norm.cdf(z), 1e-12, 1 - 1e-12)
        out.update({name: dists[name].ppf(u[:, j]) for j, name in enumerate(correlated)})
    for name in independent:
        out[name] = dists[name].rvs(size=BLOCK, random_state=rng)
    for names, counts in groups.values():
        g = rng.standard_gamma(counts, size=(BLOCK, len(counts)))
        shares = g / g.sum(axis=1, keepdims=True)
        out.update({n: shares[:, i] for i, n in enumerate(names)})
    return out


def sample(parameters: pd.DataFrame, n: int, seed: int, start: int = 0,
           correlations: pd.DataFrame | None = None) -> pd.DataFrame:
    """Draws for iterations ``[start, start + n)``: DataFrame ``(n, P)`` with parameters as columns."""
    if n < 0 or start < 0:
        raise ValueError("n and start must be non-negative")
    dists = make_distributions(parameters)
    correlated = [] if correlations is None or len(correlations) == 0 else [
        n for n in dists if n in set(correlations["parameter_1"].astype(str)) | set(correlations["parameter_2"].astype(str))]
    chol = correlation_cholesky(correlated, correlations) if correlated else None
    if correlations is not None and len(correlations) and not correlated:
        correlation_cholesky([], correlations)  # reports the unknown names
    independent = [n for n in dists if n not in correlated]
    groups = dirichlet_groups(parameters)
    columns = {name: np.full(n, float(v)) for name, v in parameters["value"].items()}
    first, last = start // BLOCK, (start + n - 1) // BLOCK
    pieces: dict[str, list[np.ndarray]] = {name: [] for name in columns}
    for b in range(first, last + 1) if n > 0 else ():
        drawn = _block(seed, b, correlated, independent, dists, chol, groups)
        lo = max(start - b * BLOCK, 0)
        hi = min(start + n - b * BLOCK, BLOCK)
        for name in drawn:
            pieces[name].append(drawn[name][lo:hi])
    for name, parts in pieces.items():
        if parts:
            columns[name] = np.concatenate(parts)
    return pd.DataFrame(columns, index=pd.RangeIndex(start, start + n, name="iteration"))


def percentile_range(parameters: pd.DataFrame, q=(0.025, 0.975)) -> pd.DataFrame:
    """Per parameter the ``q`` quantiles of its marginal (Dirichlet share: Beta(c, C − c)); NaN for fixed."""
    from scipy import stats

    dists = make_distributions(parameters)
    rows = {}
    for names, counts in dirichlet_groups(parameters).values():
        for name, c in zip(names, counts):
            dists[name] = stats.beta(c, counts.sum() - c)
    for name in parameters.index:
        rows[name] = dists[name].ppf(q) if name in dists else [np.nan] * len(q)
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"q{x:g}" for x in q])
