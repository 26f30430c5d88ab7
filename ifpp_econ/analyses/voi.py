"""Value of information: EVPI (population) and regression-based EVPPI (Strong, Oakley & Brennan 2014).

EVPPI for a parameter (group) φ: regress each strategy's incremental net benefit (vs the
comparator) on the PSA draws of φ; the fitted values estimate E[NB | φ]; then
EVPPI = mean over iterations of max_k fitted_k − max_k mean fitted_k.
Regression: a cubic B-spline basis (knots at quantiles) for one parameter; for a group,
additive splines for each parameter plus all pairwise products (a flexible, smooth
surface that stays cheap for 10⁵ iterations). A discrete column (at most
:data:`MAX_DISCRETE_VALUES` distinct values, e.g. a structural choice drawn per iteration) is
never put through a spline: it enters as indicators of its values (jointly with the group's
other discrete columns), so the fit conditions on it exactly — for a discrete parameter alone,
the fitted values are the group means. A column that does not vary carries no information and
is left out (its EVPPI is 0). Fit is reported as R²; the estimate is
capped at EVPI, and the upward bias of the fit is checked with a permuted-parameter
null (the EVPPI of φ shuffled, which should be ≈ 0). Each design is factorised once
(:class:`Projection`) and serves both the estimate and the null; the table reports each
estimate's Monte Carlo standard error.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd


def spline_basis(x: np.ndarray, n_knots: int = 6, degree: int = 3) -> np.ndarray:
    """Cubic B-spline basis ``(N, n_knots + degree - 1)`` with interior knots at quantiles of ``x``."""
    x = np.asarray(x, dtype=float)
    lo, hi = x.min(), x.max()
    if hi <= lo:
        return np.ones((len(x), 1))
    inner = np.unique(np.quantile(x, np.linspace(0, 1, n_knots)[1:-1]))
    knots = np.r_[[lo] * (degree + 1), inner, [hi] * (degree + 1)]
    return bspline_design(np.clip(x, lo, hi), knots, degree)


def bspline_design(x: np.ndarray, knots: np.ndarray, degree: int) -> np.ndarray:
    """B-spline basis values ``(N, len(knots) − degree − 1)`` at ``x`` (inside the knots' span), by de Boor's
    recurrence on the ``degree + 1`` functions that are non-zero at each point, vectorised over points.
    The same values as ``scipy.interpolate.BSpline.design_matrix`` (to rounding), without its
    sparse-matrix detour and per-call checks (a large share of EVPPI's time)."""
    n_basis = len(knots) - degree - 1
    span = np.clip(np.searchsorted(knots, x, side="right") - 1, degree, n_basis - 1)  # knots[span] <= x < knots[span+1]
    values = np.zeros((degree + 1, len(x)))
    values[0] = 1.0
    left = np.empty((degree + 1, len(x)))
    right = np.empty((degree + 1, len(x)))
    for j in range(1, degree + 1):
        left[j] = x - knots[span + 1 - j]
        right[j] = knots[span + j] - x
        saved = np.zeros(len(x))
        for r in range(j):
            span_width = right[r + 1] + left[j - r]  # 0 only between repeated knots, where the term is 0
            temp = np.divide(values[r], span_width, out=np.zeros(len(x)), where=span_width != 0)
            values[r] = saved + right[r + 1] * temp
            saved = left[j - r] * temp
        values[j] = saved
    out = np.zeros((len(x), n_basis))
    rows = np.arange(len(x))
    for r in range(degree + 1):
        out[rows, span - degree + r] = values[r]
    return out


MAX_DISCRETE_VALUES = 20  # a column with at most this many distinct values is conditioned on exactly (indicators)


def is_discrete(x: np.ndarray) -> bool:
    """True when ``x`` ``(N,)`` takes at most :data:`MAX_DISCRETE_VALUES` distinct values (and more than one)."""
    return 1 < len(np.unique(x)) <= MAX_DISCRETE_VALUES


def design_matrix(theta: np.ndarray) -> np.ndarray:
    """Regression design for draws ``(N, P)``: intercept; indicators of the joint values of the discrete columns (one
    dropped); additive splines of the continuous columns and their pairwise products; each indicator × each
    standardised continuous column. Columns that do not vary add nothing."""
    theta = np.asarray(theta, dtype=float)
    if theta.ndim == 1:
        theta = theta[:, None]
    varying = [j for j in range(theta.shape[1]) if np.ptp(theta[:, j]) > 0]
    discrete = [j for j in varying if is_discrete(theta[:, j])]
    continuous = [j for j in varying if j not in discrete]
    columns = [np.ones((len(theta), 1))]
    indicators = np.zeros((len(theta), 0))
    if discrete:
        _, joint = np.unique(theta[:, discrete], axis=0, return_inverse=True)
        joint = joint.reshape(-1)
        indicators = (joint[:, None] == np.arange(1, joint.max() + 1)[None, :]).astype(float)
        columns.append(indicators)
    x = theta[:, continuous]
    z = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    for j in range(z.shape[1]):
        basis = spline_basis(z[:, j], n_knots=6 if len(varying) == 1 else 4)
        columns.append(basis[:, 1:])  # drop one column: the intercept is already there
    if 1 < z.shape[1] <= 12:
        rows, cols = np.triu_indices(z.shape[1], k=1)
        columns.append(z[:, rows] * z[:, cols])
    if indicators.shape[1] and z.shape[1]:
        columns.append((indicators[:, :, None] * z[:, None, :]).reshape(len(z), -1))
    return np.hstack(columns)


class Projection:
    """Least-squares projection onto the columns of a design ``X`` ``(N, p)``, factorised once.

    The Gram matrix ``XᵀX`` (one BLAS-3 pass over the rows, the only O(N p²) step) is
    inverted through its eigendecomposition, dropping directions whose eigenvalue is below
    ``rcond × λ_max`` (a rank-deficient design, e.g. tied spline knots, is fitted on its
    column space as by ``lstsq``); fitted values are ``X (XᵀX)⁺ Xᵀ y``. The Gram matrix
    does not change when the rows are permuted, so the permuted-parameter null costs two
    matrix–vector products more. The designs here are standardised splines and products
    (condition numbers ~10³), so squaring the condition number loses nothing that matters.
    """

    def __init__(self, design: np.ndarray, rcond: float = 1e-12):
        from scipy.linalg.blas import dsyrk

        self.x = np.ascontiguousarray(design, dtype=float)
        upper = dsyrk(1.0, self.x.T)  # XᵀX (upper triangle; half the work of a general product)
        gram = np.triu(upper) + np.triu(upper, 1).T
        eigval, eigvec = np.linalg.eigh(gram)
        keep = eigval > rcond * max(eigval.max(initial=0.0), 0.0)
        self.gram_pinv = (eigvec[:, keep] / eigval[keep]) @ eigvec[:, keep].T  # (p, p)

    def fit(self, y: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Fitted values ``(K', N)`` of ``y`` ``(K', N)``; with ``rows`` (a permutation), for the design ``X[rows]``."""
        if rows is None:
            return (self.x @ (self.gram_pinv @ (self.x.T @ y.T))).T
        inverse = np.empty_like(rows)
        inverse[rows] = np.arange(len(rows))
        return (self.x @ (self.gram_pinv @ (self.x.T @ y[:, inverse].T))).T[:, rows]


def _fit_quality(inb: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """R² ``(K',)`` of fitted values."""
    resid = inb - fitted
    total = ((inb - inb.mean(1, keepdims=True)) ** 2).sum(1)
    return np.where(total > 0, 1 - (resid**2).sum(1) / np.where(total > 0, total, 1), 1.0)


def fitted_net_benefit(theta: np.ndarray, inb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares fits ``(K', N)`` of incremental NB ``(K', N)`` on the design of ``theta``; and R² ``(K',)``."""
    fitted = Projection(design_matrix(theta)).fit(inb)
    return fitted, _fit_quality(inb, fitted)


def evpi(nb: np.ndarray) -> float:
    """EVPI from net benefits ``(K, N)``: E[max_k NB] − max_k E[NB]."""
    return float(max(nb.max(0).mean() - nb.mean(1).max(), 0.0))


def _evppi_from_fit(fitted: np.ndarray, n: int) -> tuple[float, float]:
    """EVPPI and its Monte Carlo standard error from fitted incremental NB ``(K-1, N)``.

    SE: the estimate is the mean over iterations of ``max_k g_k − g_k*`` (k* the strategy
    with the highest mean), so its SE is that quantity's SD / √N (fit uncertainty not included).
    """
    g = np.vstack([np.zeros((1, n)), fitted])
    gain = g.max(0) - g[int(np.argmax(g.mean(1)))]
    return float(max(gain.mean(), 0.0)), float(gain.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0


def evppi(theta: np.ndarray, nb: np.ndarray, null_rows: np.ndarray | None = None) -> dict[str, Any]:
    """EVPPI of ``theta`` ``(N,)`` or ``(N, P)`` given net benefits ``nb`` ``(K, N)``.

    Returns ``evppi`` (capped at EVPI), its Monte Carlo standard error ``se``, the worst
    strategy's R², the ``method`` (group means for discrete columns, splines otherwise) and, with ``null_rows``
    (a permutation of the iterations), the
    ``permuted_null``: the EVPPI of ``theta`` shuffled, from the same factorisation.
    """
    n = nb.shape[1]
    inb = nb - nb[:1]  # relative to the first strategy (EVPPI is invariant to this shift)
    theta = np.asarray(theta, dtype=float).reshape(n, -1)
    varying = [j for j in range(theta.shape[1]) if np.ptp(theta[:, j]) > 0]
    if not varying:  # no information: conditioning on a constant changes nothing
        out = {"evppi": 0.0, "se": 0.0, "r_squared": 0.0, "method": "constant (no information)"}
        if null_rows is not None:
            out["permuted_null"] = 0.0
        return out
    method = ("group means (discrete)" if all(is_discrete(theta[:, j]) for j in varying) else "regression (splines)")
    projection = Projection(design_matrix(theta))
    fitted = projection.fit(inb[1:])
    r2 = _fit_quality(inb[1:], fitted)
    total = evpi(nb)
    value, se = _evppi_from_fit(fitted, n)
    out = {"evppi": min(value, total), "se": se, "r_squared": float(np.min(r2)) if len(r2) else 1.0, "method": method}
    if null_rows is not None:
        out["permuted_null"] = min(_evppi_from_fit(projection.fit(inb[1:], null_rows), n)[0], total)
    return out


def group_columns(columns, prefixes) -> list[str]:
    return [c for c in columns if any(c == p or (p.endswith(("_", ":")) and c.startswith(p)) for p in prefixes)]


def evppi_table(draws: pd.DataFrame, nb: np.ndarray, groups: dict | None = None, singles: bool = True,
                max_iterations: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """EVPPI per child for single uncertain parameters and for parameter groups.

    ``draws``: PSA draws ``(N, P)``; ``nb``: net benefit ``(K, N)`` at one willingness to pay;
    ``groups``: group name → parameter names or prefixes (the model declares its own, e.g.
    :data:`ifpp_econ.declarations.EVPPI_GROUPS`).
    At most ``max_iterations`` iterations are used (the first ones; the fit's cost grows with N).
    """
    n = min(len(draws), max_iterations)
    draws = draws.iloc[:n]
    nb = nb[:, :n]
    varying = [c for c in draws.columns if np.ptp(draws[c].to_numpy(float)) > 0]
    total = evpi(nb)
    rng = np.random.default_rng(seed)
    items = [(c, [c]) for c in varying] if singles else []
    for name, prefixes in (groups or {}).items():
        cols = [c for c in group_columns(draws.columns, prefixes) if c in varying]
        if cols:
            items.append((f"group: {name}", cols))
    nulls = [rng.permutation(n) for _ in items]  # drawn in order: the same permutations however the fits are run

    def one(i: int) -> dict:
        name, cols = items[i]
        est = evppi(draws[cols].to_numpy(float), nb, null_rows=nulls[i])
        return {"parameter": name, "parameters": ", ".join(cols), "n_parameters": len(cols),
                "evppi_per_child": est["evppi"], "evppi_se": est["se"], "r_squared": est["r_squared"],
                "permuted_null": est["permuted_null"], "evpi_per_child": total, "iterations": n, "method": est["method"]}

    from ..engine.threads import workers  # fits side by side (numpy and BLAS release the GIL)

    with ThreadPoolExecutor(max(1, min(workers(), len(items)))) as pool:
        rows = list(pool.map(one, range(len(items))))
    return pd.DataFrame(rows).sort_values("evppi_per_child", ascending=False, kind="stable").reset_index(drop=True)


def population_evpi(evpi_per_child: np.ndarray, children_per_year: float, years: int, discount_rate: float) -> np.ndarray:
    """EVPI for the LA's population: per-child EVPI × children referred over the decision's years, discounted."""
    factors = (1 + discount_rate) ** -np.arange(years)
    return np.asarray(evpi_per_child) * children_per_year * factors.sum()


class VOIResult:
    """Value of information from one PSA: EVPI per child and for the population, and EVPPI.

    ``evpi``: one row per willingness to pay (``wtp``, ``evpi_per_child``, ``evpi_population``,
    ``population_basis``); ``evppi``: one row per parameter and group at the workbook's λ
    (``evppi_per_child``, its standard error, R², the permuted null), or None when the draws
    were not kept. ``summary()`` is both as one long tidy table.
    """

    def __init__(self, wtp: float, evpi: pd.DataFrame, evppi: pd.DataFrame | None, seconds: float = 0.0):
        self.wtp, self.evpi, self.evppi, self.seconds = wtp, evpi, evppi, seconds

    def incremental(self) -> dict:
        """The value of resolving all uncertainty, and the largest single item's share of it, at λ."""
        at = self.evpi.loc[(self.evpi["wtp"] - self.wtp).abs().idxmin()]
        out: dict[str, object] = {"wtp": self.wtp, "evpi_per_child": float(at["evpi_per_child"])}
        if "evpi_population" in self.evpi:
            out["evpi_population"] = float(at["evpi_population"])
        if self.evppi is not None and len(self.evppi):
            top = self.evppi.iloc[0]
            out["largest_evppi"] = {"parameter": str(top["parameter"]), "evppi_per_child": float(top["evppi_per_child"])}
        return out

    def summary(self) -> pd.DataFrame:
        rows = [{"measure": "evpi_per_child", "item": "all parameters", "wtp": float(w), "value": float(v)}
                for w, v in zip(self.evpi["wtp"], self.evpi["evpi_per_child"])]
        if "evpi_population" in self.evpi:
            rows += [{"measure": "evpi_population", "item": "all parameters", "wtp": float(w), "value": float(v)}
                     for w, v in zip(self.evpi["wtp"], self.evpi["evpi_population"])]
        if self.evppi is not None:
            rows += [{"measure": "evppi_per_child", "item": str(r["parameter"]), "wtp": self.wtp,
                      "value": float(r["evppi_per_child"])} for r in self.evppi.to_dict("records")]
        return pd.DataFrame(rows)

    def to_json(self) -> dict:
        out = {"wtp": self.wtp, "evpi": self.evpi.to_dict("records")}
        if self.evppi is not None:
            out["evppi"] = [{k: r[k] for k in ("parameter", "evppi_per_child", "r_squared")}
                            for r in self.evppi.to_dict("records")]
        return out

    def __repr__(self) -> str:
        i = self.incremental()
        top = i.get("largest_evppi")
        return (f"VOIResult(λ = {self.wtp:,.0f}: EVPI per child {i['evpi_per_child']:,.2f}"
                + (f", population {i['evpi_population']:,.0f}" if "evpi_population" in i else "")
                + (f"; largest EVPPI {top['parameter']} {top['evppi_per_child']:,.2f}" if top else "") + ")")


MIN_EVPPI_ITERATIONS = 200  # fewer kept draws than this: no EVPPI (the regressions would overfit)


def run_voi(psa, population: bool | float = True, evppi: bool = True, groups: dict | None = None) -> VOIResult:
    """EVPI (per child and, with ``population``, for the local authority) and EVPPI from a PSA result
    (``psa.evpi()`` and ``psa.evppi()``, each computed once); EVPPI needs at least 200 kept draws."""
    import time

    started = time.perf_counter()
    table = None
    if evppi and psa.draws is not None and len(psa.draws) >= MIN_EVPPI_ITERATIONS:
        table = psa.evppi(groups=groups)
    return VOIResult(psa.wtp_default, psa.evpi(population=population), table, time.perf_counter() - started)
