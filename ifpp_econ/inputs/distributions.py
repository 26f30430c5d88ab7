"""Parameter distributions: names, arguments, feasibility checks and percentiles.

One home for what a workbook's ``distribution``, ``param_a`` and ``param_b`` mean, shared by
the schema (the allowed names), the reader (is a row usable? how much of it falls outside the
parameter's range?) and the sampler (the marginals it inverts).

Each marginal checks its arguments and returns ``(scipy.stats name, args, kwargs)``. Reading a
workbook never imports :mod:`scipy.stats` (≈1 s): :class:`Marginal` evaluates the CDF, survival
function and inverse CDF of those six scipy families with the same :mod:`scipy.special`
functions and the same loc/scale arithmetic scipy.stats uses, so its answers are scipy's
(tested to 1e-12); :class:`Frozen` does the same for the sampler's and the DSA's percentiles.
:func:`make_distributions` builds scipy.stats objects, importing scipy.stats only when called.

This module imports nothing from the package but :mod:`ifpp_econ.exceptions`.
"""
from __future__ import annotations

import functools
import math
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import SamplingError

CI95_WIDTH = 3.919927969080108  # 2 × 1.959963984540054 (the "3.92" of a 95% CI), so the CI is reproduced exactly
U_CLIP = 1e-12  # the sampler clips its uniforms to [U_CLIP, 1 − U_CLIP]
Z_CLIP = 7.034483825301131  # −Φ⁻¹(1e-12): clipping z to ±Z_CLIP is clipping U to [1e-12, 1 − 1e-12]


Spec = tuple[str, tuple, dict]  # (scipy.stats name, args, kwargs)


def _num(row, key) -> float:
    v = row.get(key)
    return float(v) if v is not None and pd.notna(v) else float("nan")


# ---------------------------------------------------------------------------------------
# The marginals: (name, value, param_a, param_b) → (scipy.stats name, args, kwargs)
# ---------------------------------------------------------------------------------------
def _beta(name: str, value: float, a: float, b: float) -> Spec:
    if not (a > 0 and b > 0):
        raise SamplingError(f"{name}: beta needs alpha > 0 and beta > 0 (got {a:g}, {b:g})")
    return "beta", (a, b), {}


def _beta_mean_se(name: str, value: float, a: float, b: float) -> Spec:
    if not 0 < value < 1:
        raise SamplingError(f"{name}: beta mean must be strictly between 0 and 1 (got {value:g})")
    if not (a > 0 and 0 < a * a < value * (1 - value)):  # a subnormal SE squares to 0
        raise SamplingError(f"{name}: beta SE must be positive and SE² < mean × (1 − mean) = "
                            f"{value * (1 - value):.4g} (got SE {a:g})")
    k = value * (1 - value) / (a * a) - 1
    return _beta(name, value, value * k, (1 - value) * k)


def _beta_events_n(name: str, value: float, a: float, b: float) -> Spec:
    if not (b > 0 and 0 < a < b):
        raise SamplingError(f"{name}: beta events/n needs 0 < events < n (got {a:g}, {b:g})")
    return _beta(name, value, a, b - a)


def _gamma(name: str, value: float, a: float, b: float) -> Spec:
    if not (value > 0 and a > 0):
        raise SamplingError(f"{name}: gamma needs a positive mean and SE (got {value:g}, {a:g})")
    try:
        shape = (value / a) ** 2
    except OverflowError:
        shape = math.inf
    if not math.isfinite(shape):
        raise SamplingError(f"{name}: gamma's shape (mean/SE)² is too large to compute (got mean {value:g}, SE {a:g}); "
                            "use a larger SE")
    return "gamma", (shape,), {"scale": a * a / value}


def _gamma_sepct(name: str, value: float, a: float, b: float) -> Spec:
    if not (value > 0 and 0 < a <= 10):
        raise SamplingError(f"{name}: gamma with SE as a share of the value needs a positive value and a share above 0 "
                            f"and at most 10 (1000%) (got value {value:g}, share {a:g})")
    return _gamma(name, value, a * value, b)


def _lognormal_ci(name: str, value: float, a: float, b: float) -> Spec:
    if not (0 < a < value < b):
        raise SamplingError(f"{name}: lognormal 95% CI needs 0 < lower < value < upper (got {a:g}, {value:g}, {b:g})")
    return "lognorm", ((np.log(b) - np.log(a)) / CI95_WIDTH,), {"scale": value}


def _lognormal_log(name: str, value: float, a: float, b: float) -> Spec:
    if not (b > 0 and np.isfinite(a)):
        raise SamplingError(f"{name}: lognormal needs a finite log-mean and a positive log-SE (got {a:g}, {b:g})")
    with np.errstate(over="ignore"):  # an enormous log-mean gives scale inf: the reader rejects it as out of range
        return "lognorm", (b,), {"scale": np.exp(a)}


def _normal(name: str, value: float, a: float, b: float) -> Spec:
    if not (a > 0 and np.isfinite(value)):
        raise SamplingError(f"{name}: normal needs a finite mean and a positive SE (got {value:g}, {a:g})")
    return "norm", (value, a), {}


def _uniform(name: str, value: float, a: float, b: float) -> Spec:
    if not a < b:
        raise SamplingError(f"{name}: uniform needs min < max (got {a:g}, {b:g})")
    return "uniform", (a, b - a), {}


def _bounded(name: str, value: float, a: float, b: float, kind: str) -> None:
    if not (a < b and a <= value <= b):
        raise SamplingError(f"{name}: {kind} needs min < max and min ≤ value ≤ max (got {a:g}, {value:g}, {b:g})")


def _triangular(name: str, value: float, a: float, b: float) -> Spec:
    _bounded(name, value, a, b, "triangular")
    return "triang", ((value - a) / (b - a),), {"loc": a, "scale": b - a}


def _pert(name: str, value: float, a: float, b: float) -> Spec:
    _bounded(name, value, a, b, "PERT")
    return "beta", (1 + 4 * (value - a) / (b - a), 1 + 4 * (b - value) / (b - a)), {"loc": a, "scale": b - a}


MARGINALS: dict[str, Callable[[str, float, float, float], Spec]] = {
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

# What param_a and param_b mean for each distribution (None: not used); value is the base case throughout.
ARGUMENTS: dict[str, tuple[str | None, str | None]] = {
    "fixed": (None, None),
    "dirichlet": ("effective sample size of the group", None),
    "beta_mean_se": ("SE", None),
    "beta_alpha_beta": ("alpha", "beta"),
    "beta_events_n": ("events", "n"),
    "gamma_mean_se": ("SE", None),
    "gamma_mean_sepct": ("SE as a share of the value", None),
    "lognormal_ci": ("lower 95% limit", "upper 95% limit"),
    "lognormal_log": ("log-mean", "log-SE"),
    "normal_mean_se": ("SE", None),
    "uniform": ("min", "max"),
    "triangular": ("min", "max (mode = value)"),
    "pert": ("min", "max (mode = value)"),
}


def arity(dist: str) -> int:
    """How many of param_a, param_b a distribution needs (0, 1 or 2)."""
    return sum(x is not None for x in ARGUMENTS[dist])


def _dist_name(row) -> str:
    return str(row.get("distribution", "fixed")).strip()


def check_distributions(parameters: pd.DataFrame) -> dict[str, Spec]:
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
            out[str(name)] = MARGINALS[dist](str(name), _num(row, "value"), _num(row, "param_a"), _num(row, "param_b"))
        except SamplingError as exc:
            problems.append(str(exc))
    if problems:
        raise SamplingError("; ".join(problems))
    return out


def make_distributions(parameters: pd.DataFrame) -> dict[str, Any]:
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
        names.append(str(name))
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
    pairs: dict[tuple[str, ...], float] = {}
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


# ---------------------------------------------------------------------------------------
# scipy.stats' arithmetic without importing scipy.stats
# ---------------------------------------------------------------------------------------
_SHAPES = {"beta": 2, "gamma": 1, "lognorm": 1, "triang": 1, "norm": 0, "uniform": 0}
_SUPPORT = {"beta": (0.0, 1.0), "gamma": (0.0, math.inf), "lognorm": (0.0, math.inf), "triang": (0.0, 1.0),
            "norm": (-math.inf, math.inf), "uniform": (0.0, 1.0)}


@functools.lru_cache(maxsize=None)
def _standard(kind: str) -> dict[str, Callable]:
    """The standardised (loc 0, scale 1) cdf, sf, ppf and isf of a scipy.stats family, as scipy.stats computes them."""
    from scipy import special as sc

    try:  # the inverse scipy.stats' beta uses (Boost's ibeta_inv with scipy.stats' error policy)
        from scipy.special._ufuncs import _beta_ppf as beta_ppf
    except ImportError:  # pragma: no cover - older scipy
        beta_ppf = sc.betaincinv

    def tri_cdf(x, c):
        if c == 0:
            return 2 * x - x * x
        if x < c:
            return x * x / c
        return (x * x - 2 * x + c) / (c - 1) if c != 1 else x * x

    def tri_ppf(q, c):
        return np.where(q < c, np.sqrt(c * q), 1 - np.sqrt((1 - c) * (1 - q)))

    try:  # the density scipy.stats' beta uses
        from scipy.special._ufuncs import _beta_pdf as beta_pdf
    except ImportError:  # pragma: no cover - older scipy
        def beta_pdf(x, a, b):
            return np.exp(sc.xlogy(a - 1.0, x) + sc.xlog1py(b - 1.0, -x) - sc.betaln(a, b))

    return {
        "beta": {"cdf": lambda x, a, b: sc.betainc(a, b, x), "sf": lambda x, a, b: sc.betaincc(a, b, x),
                 "ppf": beta_ppf, "isf": lambda q, a, b: sc.betainccinv(a, b, q), "pdf": beta_pdf},
        "gamma": {"cdf": lambda x, a: sc.gammainc(a, x), "sf": lambda x, a: sc.gammaincc(a, x),
                  "ppf": lambda q, a: sc.gammaincinv(a, q), "isf": lambda q, a: sc.gammainccinv(a, q),
                  "pdf": lambda x, a: np.exp(sc.xlogy(a - 1.0, x) - x - sc.gammaln(a))},
        "lognorm": {"cdf": lambda x, s: sc.ndtr(np.log(x) / s), "sf": lambda x, s: sc.ndtr(-(np.log(x) / s)),
                    "ppf": lambda q, s: np.exp(s * sc.ndtri(q)), "isf": lambda q, s: np.exp(s * -sc.ndtri(q))},
        "norm": {"cdf": sc.ndtr, "sf": lambda x: sc.ndtr(-x), "ppf": sc.ndtri, "isf": lambda q: -sc.ndtri(q)},
        "uniform": {"cdf": lambda x: x, "sf": lambda x: 1.0 - x, "ppf": lambda q: q, "isf": lambda q: 1.0 - q},
        "triang": {"cdf": tri_cdf, "sf": lambda x, c: 1.0 - tri_cdf(x, c), "ppf": tri_ppf,
                   "isf": lambda q, c: tri_ppf(1.0 - q, c)},
    }[kind]


@dataclass(frozen=True)
class Marginal:
    """A scipy.stats-family distribution evaluated with :mod:`scipy.special` (scalars): same values as the frozen
    ``scipy.stats.<kind>(*shapes, loc=loc, scale=scale)``, including its answers outside the support and
    for invalid arguments (NaN)."""

    kind: str
    shapes: tuple[float, ...]
    loc: float = 0.0
    scale: float = 1.0

    @classmethod
    def from_spec(cls, spec: Spec) -> Marginal:
        kind, args, kwargs = spec
        k = _SHAPES[kind]
        rest = dict(zip(("loc", "scale"), args[k:])) | dict(kwargs)
        return cls(kind, tuple(float(x) for x in args[:k]), float(rest.get("loc", 0.0)), float(rest.get("scale", 1.0)))

    def _valid(self) -> bool:
        s = self.shapes
        ok = {"triang": lambda: 0 <= s[0] <= 1, "norm": lambda: True, "uniform": lambda: True}.get(
            self.kind, lambda: all(x > 0 for x in s))()
        return bool(ok and self.scale > 0 and self.loc == self.loc)

    def _tail(self, fn: str, x: float) -> float:
        if not self._valid():
            return math.nan
        with np.errstate(all="ignore"):
            z = (x - self.loc) / self.scale
        if z != z:
            return math.nan
        lo, hi = _SUPPORT[self.kind]
        if z <= lo and fn == "sf" or z >= hi and fn == "cdf":
            return 1.0
        if not lo < z < hi:
            return 0.0
        with np.errstate(all="ignore"):
            return float(_standard(self.kind)[fn](z, *self.shapes))

    def cdf(self, x: float) -> float:
        return self._tail("cdf", x)

    def sf(self, x: float) -> float:
        return self._tail("sf", x)

    def _inverse(self, fn: str, q: float) -> float:
        if not (self._valid() and 0 <= q <= 1):
            return math.nan
        lo, hi = _SUPPORT[self.kind]
        with np.errstate(all="ignore"):
            if q in (0, 1):
                edge = lo if (q == 0) == (fn == "ppf") else hi
                return edge * self.scale + self.loc
            return float(_standard(self.kind)[fn](q, *self.shapes)) * self.scale + self.loc

    def ppf(self, q: float) -> float:
        return self._inverse("ppf", q)

    def isf(self, q: float) -> float:
        return self._inverse("isf", q)


class Frozen:
    """The part of a frozen ``scipy.stats.<name>(*args, **kwds)`` the sampler uses — ``ppf``, ``isf`` and, for
    beta and gamma, ``pdf`` on arrays inside the support, ``support()``, ``dist.name``, ``args``, ``kwds`` — with
    scipy.stats' own :mod:`scipy.special` arithmetic (the same values), so a PSA never imports scipy.stats (≈1 s)."""

    def __init__(self, name: str, args: tuple = (), kwds: dict | None = None):
        k = _SHAPES[name]
        rest = dict(zip(("loc", "scale"), args[k:])) | dict(kwds or {})
        self.dist = types.SimpleNamespace(name=name)
        self.args, self.kwds = tuple(args), dict(kwds or {})
        self._shapes = tuple(float(x) for x in args[:k])
        self._loc, self._scale = float(rest.get("loc", 0.0)), float(rest.get("scale", 1.0))
        self._f = _standard(name)

    def __getstate__(self) -> dict:  # picklable (for process pools and clusters): the functions are looked up again
        return {k: v for k, v in self.__dict__.items() if k != "_f"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._f = _standard(self.dist.name)

    def ppf(self, q) -> np.ndarray:
        return self._f["ppf"](np.asarray(q, dtype=float), *self._shapes) * self._scale + self._loc

    def isf(self, q) -> np.ndarray:
        return self._f["isf"](np.asarray(q, dtype=float), *self._shapes) * self._scale + self._loc

    def pdf(self, x) -> np.ndarray:
        z = (np.asarray(x, dtype=float) - self._loc) / self._scale
        lo, hi = _SUPPORT[self.dist.name]
        with np.errstate(over="ignore"):
            return np.where((z >= lo) & (z <= hi), self._f["pdf"](z, *self._shapes), 0.0) / self._scale

    def support(self) -> tuple[float, float]:
        lo, hi = _SUPPORT[self.dist.name]
        return lo * self._scale + self._loc, hi * self._scale + self._loc


def frozen_distributions(parameters: pd.DataFrame) -> dict[str, Frozen]:
    """:class:`Frozen` distributions for every non-fixed scalar parameter (as :func:`make_distributions`, without
    importing scipy.stats)."""
    return {name: Frozen(dist, args, kwargs) for name, (dist, args, kwargs) in check_distributions(parameters).items()}


# Beyond these beta shapes the sampler's tabulated inverse may fail where the inverse CDF itself does not (the
# density overflows at 0 or 1, or in a needle-thin peak), and for a gamma whose clipped inverse overflows the
# table may still work: those few cases are left to :func:`ifpp_econ.sampling.sampleable` (scipy.stats).
BETA_SHAPES_CHECKED = (1.0, 1e7)


def computable(marginal: Marginal, points: int = 257) -> bool | None:
    """True when the sampler can compute draws of ``marginal``: its inverse CDF ``F⁻¹(clip(Φ(z)))`` is finite for
    z over ±:data:`Z_CLIP` (extreme arguments overflow); None when only the sampler's own check can tell
    (:data:`BETA_SHAPES_CHECKED`)."""
    if marginal.kind == "beta" and not all(BETA_SHAPES_CHECKED[0] <= s <= BETA_SHAPES_CHECKED[1]
                                           for s in marginal.shapes):
        return None
    from scipy.special import ndtr

    u = np.clip(ndtr(np.linspace(-Z_CLIP, Z_CLIP, points)), U_CLIP, 1 - U_CLIP)  # strictly inside (0, 1)
    try:
        with np.errstate(all="ignore"):
            x = _standard(marginal.kind)["ppf"](u, *marginal.shapes) * marginal.scale + marginal.loc
        finite = marginal._valid() and bool(np.isfinite(x).all())
    except (ArithmeticError, ValueError):
        finite = False
    return None if not finite and marginal.kind == "gamma" else finite


def share_outside(dist: str, value: float, a: float | None, b: float | None, lo: float, hi: float,
                  sampler_check: Callable[[Spec], bool] | None = None) -> float | None:
    """Share of a distribution's probability below ``lo`` or above ``hi`` (1.0 if it cannot be computed);
    None when its draws cannot be computed at all (arguments so extreme that the inverse CDF overflows).
    ``sampler_check(spec)`` decides the cases :func:`computable` leaves open (without it they count as
    computable). Raises :class:`SamplingError` for infeasible arguments."""
    a_, b_ = (math.nan if x is None else float(x) for x in (a, b))
    spec = MARGINALS[dist]("", value, a_, b_)
    marginal = Marginal.from_spec(spec)
    ok = computable(marginal)
    if ok is None:
        ok = sampler_check(spec) if sampler_check is not None else True
    if not ok:
        return None
    outside = (marginal.cdf(lo) if lo > -math.inf else 0.0) + (marginal.sf(hi) if hi < math.inf else 0.0)
    spread = marginal.ppf(0.975) - marginal.ppf(0.025)
    return min(outside, 1.0) if math.isfinite(outside) and math.isfinite(spread) else 1.0


def percentile_range(parameters: pd.DataFrame, q: Iterable[float] = (0.025, 0.975)) -> pd.DataFrame:
    """Quantiles ``q`` of each parameter's marginal: DataFrame ``(P, len(q))``, columns ``q0.025`` etc.

    Dirichlet share i of a group with counts c: Beta(c_i, C − c_i). NaN for fixed
    parameters (and one-member Dirichlet groups, whose share is always 1).
    """
    dists = frozen_distributions(parameters)  # scipy.stats' arithmetic, without importing it
    for names, counts in dirichlet_groups(parameters).values():
        if len(names) > 1:
            dists.update({p: Frozen("beta", (c, counts.sum() - c)) for p, c in zip(names, counts) if 0 < c < counts.sum()})
    qs = np.asarray(q, dtype=float)
    rows = {name: dists[name].ppf(qs) if name in dists else np.full(len(qs), np.nan) for name in parameters.index}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"q{x:g}" for x in qs])
