"""Expected value of sample information (EVSI), expected net benefit of sampling (ENBS) and the optimal trial size.

The question (issue 30): is a two-arm randomised trial of n families per arm in England, measuring whether a family
has a placement within 12 months (binary, family level), worth its cost, and how large should it be?

**What the trial informs.** Under the model a child's 12-month risk is the family's risk × k ÷ children per family
(:func:`ifpp_econ.model.child_risk_factor`) and IFPP's child risk is RR × that, so at a fixed k the *family-level* RR
equals the RR the model applies: the trial's intervention arm has family risk p_t = min(RR × p_c, 1), with p_c the
usual-care family risk ``risk_12m``. The RR is whichever the effect model uses — ``rr_12m`` (``single_rr``,
``window_rrs``; the window RRs move with it through their correlation) or ``rr_family_12m`` (``family_rr``) — as
drawn for a *new setting* (the PSA's predictive draw). In a model-averaged PSA the iterations with
``structure:no_effect = 1`` have RR = 1 and their trials are simulated with RR = 1. So the trial informs the
effective RR and p_c (which scales the whole usual-care risk curve): as n grows EVSI tends to the EVPPI of these two
(:attr:`EVSIResult.evppi_informed_per_child`). Simplifications: the effect is assumed to last at least the 12 months
of follow-up (the default duration is 24); k and children per family are not informed (the outcome is family level).

**Method (default: regression).** Strong, Oakley, Brennan & Breeze (2015, Med Decis Making 35:570–583): for each
PSA iteration i one trial is simulated from that iteration's parameters, X_c ~ Bin(n, p_c,i) and
X_t ~ Bin(n, p_t,i), and reduced to a summary statistic; each strategy's incremental net benefit (INB) is regressed
on the summary with the spline design EVPPI uses (:func:`ifpp_econ.voi.design_matrix`,
:class:`ifpp_econ.voi.Projection`). The fitted values estimate E[INB | trial data]; EVSI = mean of their row maxima
− max of their means. The summary is the observed risk difference (X_c − X_t)/n and the control-arm proportion
X_c/n: a one-to-one function of (X_c, X_t), so sufficient, and INB is nearly linear in the risk difference (it
drives placements avoided), so the regression is easy. (The log RR estimate with 0.5 added to each cell and the
control-arm proportion, also sufficient, was tried first: E[INB | data] is then strongly curved where the decision
changes and the same regression missed over 90% of EVSI at n = 25 against exact enumeration of the trial's
outcomes; the risk difference matches it within Monte Carlo error.) The regression reuses the PSA's draws and net
benefits, uses the binomial likelihood with the workbook's own non-normal (possibly model-averaged) priors and the
cap p_t ≤ 1, and keeps the information on p_c. The trials for the sample sizes are nested (the trial of 400
families per arm contains the trial of 100), so each iteration's data change smoothly with n. It is the default.

**Cross-check: Gaussian approximation** (Jalal & Alarid-Escudero 2018, Med Decis Making 38:174–188; dampack's
``calc_evsi``): the EVPPI regression of INB on the informed parameters (log effective RR, p_c), its fitted values
shrunk towards their mean by √(n / (n + n0)) — the preposterior mean of a parameter with prior effective sample
size n0 keeps n / (n + n0) of its prior variance. n0 is the effect's: (variance of the log RR estimate from one
family per arm at the prior means, (1 − p_t)/p_t + (1 − p_c)/p_c) ÷ (prior variance of the log RR), about 65
families per arm in the default workbook. It assumes a normal prior and likelihood; here the effect's prior is
skewed (lognormal, widened for a new setting) and the decision changes only in its tail, so at small n it
understates EVSI (about half at n = 25 in the default workbook), agreeing within a few per cent from about 200
families per arm.

**Monte Carlo error.** Each estimate's standard error is a bootstrap over iterations (the tuples of parameters,
simulated trial and net benefit are resampled and the regression refitted; the design's knots are kept), so it
covers the PSA sample, the simulated trials and the fit — not the regression's small upward bias. EVSI is capped
at the EVPPI of the informed parameters (as EVPPI is capped at EVPI); the uncapped estimate is in :meth:`table`.

**ENBS.** population EVSI = EVSI per child × children referred a year over the decision's years, discounted
(:func:`ifpp_econ.voi.population_evpi`); ENBS(n) = population EVSI − (trial_fixed_cost + trial_cost_per_family × 2n).
The optimal n maximises ENBS over the grid (optionally refined between the best grid point's neighbours); a
negative optimal ENBS means no trial on the grid is worth its cost (not running one has ENBS 0). Not modelled: the
decisions made while the trial runs and reports, and the opportunity cost of randomising families to the arm that
is not expected to be best. Units: GBP per child (EVSI, EVPPI), GBP for the population (population EVSI, trial
cost, ENBS); sample sizes are families per arm.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..inputs.schema import setting_default
from . import voi

# (draws (N, P), sample sizes (J,), generator) → summary statistics (J, N, S): one simulated study per iteration and size
SummarySimulator = Callable[[pd.DataFrame, np.ndarray, np.random.Generator], np.ndarray]
Method = Literal["regression", "gaussian"]
METHODS: tuple[str, ...] = ("regression", "gaussian")
NO_EFFECT_COLUMN = "structure:no_effect"
BOOTSTRAP_REPLICATES = 200

# Without a workbook (or when its evsi_sample_sizes is empty and sizes are asked for): the schema's trial costs (status E)
DEFAULT_TRIAL_FIXED_COST = float(setting_default("trial_fixed_cost"))  # GBP: set-up, management, evaluation, reporting
DEFAULT_TRIAL_COST_PER_FAMILY = float(setting_default("trial_cost_per_family"))  # GBP per family randomised
DEFAULT_SAMPLE_SIZES = (25, 50, 100, 200, 400, 800, 1600)  # families per arm


def effect_rr_column(effect_model: str) -> str:
    """The RR draw a family-level 12-month trial informs under ``effect_model`` (``family_rr``: ``rr_family_12m``)."""
    return "rr_family_12m" if effect_model == "family_rr" else "rr_12m"


def effective_rr(draws: pd.DataFrame, rr_column: str = "rr_12m") -> np.ndarray:
    """The RR each iteration's model applies ``(N,)``: the drawn RR, or 1 where ``structure:no_effect`` is 1."""
    rr = draws[rr_column].to_numpy(float)
    if NO_EFFECT_COLUMN in draws.columns:
        rr = np.where(draws[NO_EFFECT_COLUMN].to_numpy() == 1, 1.0, rr)
    return rr


def informed_parameters(draws: pd.DataFrame, rr_column: str = "rr_12m", risk_column: str = "risk_12m") -> pd.DataFrame:
    """What the trial informs, ``(N, 2)``: the log effective RR and the usual-care 12-month family risk."""
    return pd.DataFrame({f"log {rr_column} (effective)": np.log(effective_rr(draws, rr_column)),
                         risk_column: draws[risk_column].to_numpy(float)}, index=draws.index)


def trial_summary(events_control: np.ndarray, events_treated: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """Summary statistics ``(..., 2)`` of trials with ``n`` families per arm: the observed risk difference
    (control − intervention) and the control-arm proportion. Event counts ``(J, N)`` (or shapes broadcasting with ``n``)."""
    size = np.asarray(n, dtype=float)
    return np.stack([(events_control - events_treated) / size, events_control / size], axis=-1)


def binomial_trial(rr_column: str = "rr_12m", risk_column: str = "risk_12m") -> SummarySimulator:
    """Simulator of the two-arm trial: X_c ~ Bin(n, p_c), X_t ~ Bin(n, min(RR × p_c, 1)) per iteration and sample size
    (RR = 1 where ``structure:no_effect`` is 1). Vectorised over iterations and sizes. Returns :func:`trial_summary`
    ``(J, N, 2)`` in the order of the sizes.

    A trial of n families does not depend on which other sizes are asked for: the families up to the largest power of
    two ≤ n come from a chain nested over the powers of two (the trial of 512 contains the trial of 256), each
    doubling from its own stream, and the n − 2ᵏ others from a stream keyed by n; every stream is a child of the
    generator's seed sequence. So ``--evsi 100`` and ``--evsi 25,100`` give the same EVSI at 100.
    """
    def simulate(draws: pd.DataFrame, sample_sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        root = rng.bit_generator.seed_seq
        if not isinstance(root, np.random.SeedSequence):
            raise TypeError("the trial simulator needs a generator made from a numpy SeedSequence")

        def stream(*key: int) -> np.random.Generator:
            return np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, *key)))

        sizes = np.asarray(sample_sizes, dtype=np.int64)
        p = np.stack([draws[risk_column].to_numpy(float), np.zeros(len(draws))])
        p[1] = np.minimum(effective_rr(draws, rr_column) * p[0], 1.0)  # (2, N): control, intervention
        levels = int(np.log2(sizes.max())) + 1
        chain = np.empty((levels, *p.shape))  # events among the first 2^l families per arm, l = 0 … levels − 1
        for level in range(levels):
            added = stream(1, level).binomial(1 if level == 0 else 2 ** (level - 1), p)
            chain[level] = added if level == 0 else chain[level - 1] + added
        out = np.empty((len(sizes), p.shape[1], 2))
        for j, n in enumerate(sizes):
            level = int(np.log2(n))
            events = chain[level] + (stream(2, int(n)).binomial(int(n) - 2 ** level, p) if n > 2 ** level else 0)
            out[j] = trial_summary(events[0], events[1], n)
        return out

    return simulate


def binomial_n0(draws: pd.DataFrame, rr_column: str = "rr_12m", risk_column: str = "risk_12m") -> float:
    """Prior effective sample size of the log RR in families per arm (for the Gaussian approximation).

    n0 = v₁ ÷ Var(log RR), with v₁ = (1 − p_t)/p_t + (1 − p_c)/p_c the variance of the log RR estimate from one
    family per arm at the prior means of p_c and p_t = min(RR × p_c, 1). Infinite when the RR does not vary.
    """
    rr = effective_rr(draws, rr_column)
    p_c = draws[risk_column].to_numpy(float)
    pc, pt = float(np.mean(p_c)), float(np.mean(np.minimum(rr * p_c, 1.0)))
    per_family = (1 - pt) / max(pt, 1e-12) + (1 - pc) / max(pc, 1e-12)
    var = float(np.var(np.log(rr)))
    return per_family / var if var > 0 else float("inf")


def _number(value: float | None) -> float | None:
    """A finite float for JSON, else None (an n0 of ∞ when the RR is fixed; an SE without bootstrap)."""
    return None if value is None or not np.isfinite(value) else float(value)


def _gain(fitted: np.ndarray) -> float:
    """Value of choosing on fitted incremental NB ``(K-1, N)`` (vs the first strategy): E max − max E, at least 0."""
    return voi._evppi_from_fit(fitted, fitted.shape[1])[0]


def _regression_values(designs: Sequence[np.ndarray], inb: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """EVSI ``(J,)``: ``inb`` ``(K-1, N)`` regressed on each sample size's design ``(N, p)`` (on the iterations ``rows``)."""
    if rows is None:
        return np.array([_gain(voi.Projection(x).fit(inb)) for x in designs])
    y = inb[:, rows]
    return np.array([_gain(voi.Projection(x[rows]).fit(y)) for x in designs])


def _gaussian_values(design: np.ndarray, inb: np.ndarray, shrink: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """EVSI ``(J,)``: the EVPPI fit of ``inb`` on ``design`` shrunk towards its mean by each factor of ``shrink`` ``(J,)``."""
    x, y = (design, inb) if rows is None else (design[rows], inb[:, rows])
    fitted = voi.Projection(x).fit(y)
    centre = fitted.mean(1, keepdims=True)
    return np.array([_gain(centre + v * (fitted - centre)) for v in shrink])


def _bootstrap_se(estimate: Callable[[np.ndarray], np.ndarray], n: int, replicates: int, rng: np.random.Generator,
                  size: int) -> np.ndarray:
    """Standard deviation ``(size,)`` of ``estimate(rows)`` over ``replicates`` resamples of ``n`` iterations (NaN if < 2)."""
    if replicates < 2:
        return np.full(size, np.nan)
    return np.array([estimate(rng.integers(0, n, n)) for _ in range(replicates)]).std(0, ddof=1)


@dataclass
class EVSIResult:
    """EVSI by sample size, the EVPPI of the informed parameters and, with a population, ENBS and the optimal n.

    Arrays are ``(J,)`` over ``sample_sizes`` (families per arm, ascending). ``evsi_per_child`` (GBP per child) is
    capped at ``evppi_informed_per_child``; ``evsi_raw_per_child`` is before the cap; ``evsi_se`` its bootstrap
    standard error. ``cross_check``: the other method's EVSI per child ``(J,)`` or None. ``n0``: the prior effective
    sample size used by the Gaussian approximation (NaN when not given). ``population``: children_per_year, years,
    discount_rate (None: per-child figures only); trial costs in GBP.
    """

    sample_sizes: np.ndarray
    evsi_per_child: np.ndarray
    evsi_raw_per_child: np.ndarray
    evsi_se: np.ndarray
    evppi_informed_per_child: float
    evppi_informed_se: float
    evpi_per_child: float
    method: str
    n0: float
    cross_check: np.ndarray | None = None
    population: dict | None = None
    trial_fixed_cost: float = 0.0
    trial_cost_per_family: float = 0.0
    iterations: int = 0
    informed: list[str] = field(default_factory=list)

    @property
    def cross_check_method(self) -> str:
        return "gaussian" if self.method == "regression" else "regression"

    def enbs_table(self, values: np.ndarray | None = None, se: np.ndarray | None = None) -> pd.DataFrame | None:
        """:func:`enbs` of this result's EVSI (or of ``values``, with ``se``); None without a population."""
        if self.population is None:
            return None
        if values is None:
            values, se = self.evsi_per_child, self.evsi_se
        return enbs(values, self.sample_sizes, self.population, self.trial_fixed_cost, self.trial_cost_per_family, se)

    def optimal(self) -> tuple[int | None, float | None]:
        """The sample size (families per arm) with the highest ENBS, and that ENBS (GBP); (None, None) without a population."""
        table = self.enbs_table()
        return (None, None) if table is None else optimal_sample_size(table)

    def table(self) -> pd.DataFrame:
        """One row per sample size: EVSI per child (capped and raw) and SE, the EVPPI of the informed parameters, the
        cross-check's EVSI and, with a population, population EVSI, trial cost, ENBS (with SEs) and the optimum."""
        out = pd.DataFrame({"sample_size": self.sample_sizes, "families_randomised": 2 * self.sample_sizes,
                            "evsi_per_child": self.evsi_per_child, "evsi_se": self.evsi_se,
                            "evsi_raw_per_child": self.evsi_raw_per_child,
                            "evppi_informed_per_child": self.evppi_informed_per_child, "method": self.method})
        if self.cross_check is not None:
            out[f"{self.cross_check_method}_evsi_per_child"] = self.cross_check
        table = self.enbs_table()
        if table is not None:
            out = pd.concat([out, table.drop(columns=["sample_size", "evsi_per_child", "evsi_se"])], axis=1)
            out["optimal"] = out["sample_size"] == optimal_sample_size(table)[0]
        return out

    def _rows(self, values: np.ndarray, se: np.ndarray | None) -> list[dict]:
        table = self.enbs_table(values, se)
        return [{"sample_size": int(n), "evsi_per_child": float(values[j]),
                 **({} if se is None else {"evsi_se": _number(se[j])}),
                 "population_evsi": None if table is None else float(table["population_evsi"].iloc[j]),
                 "enbs": None if table is None else float(table["enbs"].iloc[j])} for j, n in enumerate(self.sample_sizes)]

    def to_json(self) -> dict:
        """``{by_sample_size: [{sample_size, evsi_per_child, evsi_se, population_evsi, enbs}], evppi_informed_per_child,
        optimal_sample_size, optimal_enbs, method, cross_check}``; ``cross_check`` holds the other method's
        ``by_sample_size`` (without SEs), its optimum and n0 (empty when not computed); population figures are null
        without a population."""
        best, best_enbs = self.optimal()
        cross: dict = {}
        if self.cross_check is not None:
            alt = self.enbs_table(self.cross_check)
            alt_best, alt_enbs = (None, None) if alt is None else optimal_sample_size(alt)
            cross = {"method": self.cross_check_method, "n0": _number(self.n0), "by_sample_size": self._rows(self.cross_check, None),
                     "optimal_sample_size": alt_best, "optimal_enbs": alt_enbs}
        return {"by_sample_size": self._rows(self.evsi_per_child, self.evsi_se),
                "evppi_informed_per_child": self.evppi_informed_per_child, "optimal_sample_size": best,
                "optimal_enbs": best_enbs, "method": self.method, "cross_check": cross}

    def __repr__(self) -> str:
        pairs = ", ".join(f"n={n:,}: {v:,.2f}" for n, v in zip(self.sample_sizes, self.evsi_per_child))
        best, value = self.optimal()
        tail = "" if best is None or value is None else f"; optimal n {best:,} per arm, ENBS £{value:,.0f}"
        return (f"EVSIResult({self.method}; EVSI per child {pairs}; EVPPI of the informed parameters "
                f"{self.evppi_informed_per_child:,.2f}{tail})")


def evsi(draws: pd.DataFrame, nb: np.ndarray, sample_sizes: Sequence[int] | np.ndarray, *, rr_column: str = "rr_12m",
         risk_column: str = "risk_12m", method: Method = "regression", seed: int = 0,
         simulate: SummarySimulator | None = None, informed: pd.DataFrame | np.ndarray | None = None,
         n0: float | None = None, population: dict | None = None, trial_fixed_cost: float = 0.0,
         trial_cost_per_family: float = 0.0, refine: int = 0, bootstrap: int = BOOTSTRAP_REPLICATES,
         cross_check: bool = True, max_iterations: int = 20_000) -> EVSIResult:
    """EVSI per child of a study with each of ``sample_sizes`` (families per arm), from one PSA's draws.

    ``draws``: PSA draws ``(N, P)`` in workbook units; ``nb``: net benefit ``(K, N)`` in GBP per child at one
    willingness to pay (first strategy: the reference for incremental NB). The study is :func:`binomial_trial` on
    ``rr_column`` and ``risk_column`` unless ``simulate`` replaces it (draws, sample sizes ``(J,)``, generator →
    summaries ``(J, N, S)``); ``informed`` ``(N, P')`` are the parameters it informs (EVSI's limit, and what the
    Gaussian approximation shrinks with the prior effective sample size ``n0``) — both default to the binomial
    trial's (:func:`informed_parameters`, :func:`binomial_n0`); a custom ``simulate`` needs ``informed`` (and ``n0``
    for the Gaussian). ``method``: ``regression`` (default) or ``gaussian``; the other is the ``cross_check``.
    ``population`` (as ``PSAResult.population``) and the trial costs (GBP) give ENBS; ``refine`` > 0 estimates that many
    more sample sizes between the best grid point's neighbours. ``bootstrap``: replicates for the standard errors.
    At most ``max_iterations`` iterations (the first) are used. Seeded: the same ``seed`` gives the same result.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    sizes = np.unique(np.asarray(sample_sizes, dtype=np.int64))
    if len(sizes) == 0 or sizes[0] < 1:
        raise ValueError("sample sizes must be whole numbers of families per arm, at least 1")
    n = min(len(draws), nb.shape[1], int(max_iterations))
    draws = draws.iloc[:n]
    nb = np.asarray(nb, dtype=float)[:, :n]
    inb = nb[1:] - nb[:1]
    if simulate is None:
        simulate = binomial_trial(rr_column, risk_column)
        informed = informed_parameters(draws, rr_column, risk_column) if informed is None else informed
        n0 = binomial_n0(draws, rr_column, risk_column) if n0 is None else n0
    elif informed is None:
        raise ValueError("with a custom simulate, give the parameters the study informs (informed=)")
    if method == "gaussian" and n0 is None:
        raise ValueError("the Gaussian approximation needs the prior effective sample size n0")
    theta = np.asarray(informed, dtype=float)[:n]
    theta = theta[:, None] if theta.ndim == 1 else theta
    names = [str(c) for c in informed.columns] if isinstance(informed, pd.DataFrame) else [f"informed_{j}" for j in range(theta.shape[1])]
    limit = voi.evppi(theta, nb)
    parameters_design = voi.design_matrix(theta)
    simulator = simulate

    def estimate(grid: np.ndarray, stream: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(EVSI, its bootstrap SE, the cross-check's EVSI or None), each ``(J,)``, at the sample sizes ``grid``."""
        trials, boot = stream.spawn(2)
        values: dict[str, np.ndarray] = {}
        designs: list[np.ndarray] = []
        shrink = np.sqrt(grid / (grid + float(n0))) if n0 is not None else None
        if method == "regression" or cross_check:
            summaries = np.asarray(simulator(draws, grid, np.random.default_rng(trials)), dtype=float)
            designs = [voi.design_matrix(summaries[j]) for j in range(len(grid))]
            values["regression"] = _regression_values(designs, inb)
        if shrink is not None and (method == "gaussian" or cross_check):
            values["gaussian"] = _gaussian_values(parameters_design, inb, shrink)
        if method == "regression":
            def resampled(rows: np.ndarray) -> np.ndarray:
                return _regression_values(designs, inb, rows)
        else:
            def resampled(rows: np.ndarray) -> np.ndarray:
                assert shrink is not None
                return _gaussian_values(parameters_design, inb, shrink, rows)
        se = _bootstrap_se(resampled, n, bootstrap, np.random.default_rng(boot), len(grid))
        other = "gaussian" if method == "regression" else "regression"
        return values[method], se, values.get(other)

    first, more = np.random.SeedSequence(int(seed)).spawn(2)  # the grid; the refinement
    raw, se, other = estimate(sizes, first)
    result = EVSIResult(sizes, np.minimum(raw, limit["evppi"]), raw, se, limit["evppi"], limit["se"], voi.evpi(nb), method,
                        float("nan") if n0 is None else float(n0), other, population, float(trial_fixed_cost),
                        float(trial_cost_per_family), n, names)
    if refine > 0 and population is not None and len(sizes) > 1:
        grid = result.enbs_table()
        assert grid is not None  # a population was given
        best = int(np.argmax(grid["enbs"].to_numpy()))
        lo, hi = sizes[max(best - 1, 0)], sizes[min(best + 1, len(sizes) - 1)]
        extra = np.setdiff1d(np.round(np.geomspace(lo, hi, refine + 2)).astype(np.int64), sizes)
        if len(extra):
            raw2, se2, other2 = estimate(extra, more)
            order = np.argsort(np.r_[sizes, extra])
            result.sample_sizes = np.r_[sizes, extra][order]
            result.evsi_raw_per_child = np.r_[raw, raw2][order]
            result.evsi_per_child = np.minimum(result.evsi_raw_per_child, limit["evppi"])
            result.evsi_se = np.r_[se, se2][order]
            result.cross_check = None if other is None or other2 is None else np.r_[other, other2][order]
    return result


def enbs(evsi_per_child: np.ndarray | Sequence[float], sample_sizes: np.ndarray | Sequence[int], population: dict,
         trial_fixed_cost: float, trial_cost_per_family: float, evsi_se: np.ndarray | Sequence[float] | None = None
         ) -> pd.DataFrame:
    """ENBS by sample size: population EVSI − (``trial_fixed_cost`` + ``trial_cost_per_family`` × 2n), in GBP.

    ``evsi_per_child`` ``(J,)`` GBP per child at ``sample_sizes`` ``(J,)`` families per arm; ``population``:
    ``children_per_year``, ``years``, ``discount_rate`` (scaled by :func:`ifpp_econ.voi.population_evpi`). One row per
    sample size: sample_size, evsi_per_child, evsi_se, population_evsi, population_evsi_se, trial_cost, enbs, enbs_se
    (the SEs are NaN without ``evsi_se``; the trial cost is taken as known, so ENBS has the population EVSI's SE).
    """
    sizes = np.asarray(sample_sizes, dtype=np.int64)
    values = np.asarray(evsi_per_child, dtype=float)
    se = np.full(len(values), np.nan) if evsi_se is None else np.asarray(evsi_se, dtype=float)
    basis = (float(population["children_per_year"]), int(population["years"]), float(population["discount_rate"]))
    population_evsi = voi.population_evpi(values, *basis)
    population_se = voi.population_evpi(se, *basis)
    cost = float(trial_fixed_cost) + float(trial_cost_per_family) * 2 * sizes
    return pd.DataFrame({"sample_size": sizes, "evsi_per_child": values, "evsi_se": se, "population_evsi": population_evsi,
                         "population_evsi_se": population_se, "trial_cost": cost, "enbs": population_evsi - cost,
                         "enbs_se": population_se})


def optimal_sample_size(table: pd.DataFrame) -> tuple[int, float]:
    """The sample size (families per arm) with the highest ENBS in an :func:`enbs` table, and that ENBS (GBP).

    Ties go to the smaller trial. A negative ENBS means no trial in the table is worth its cost; an optimum at the
    table's largest size means a larger trial may be better still (extend the grid).
    """
    j = int(np.argmax(table["enbs"].to_numpy(float)))
    return int(table["sample_size"].iloc[j]), float(table["enbs"].iloc[j])


def run_evsi(psa, inputs=None, sample_sizes: Sequence[int] | None = None, *, wtp: float | None = None,
             trial_fixed_cost: float | None = None, trial_cost_per_family: float | None = None,
             method: Method = "regression", seed: int | None = None, population: bool | dict = True,
             **options) -> EVSIResult:
    """:func:`evsi` of a :class:`~ifpp_econ.psa.PSAResult` run with ``keep_draws``, at ``wtp`` (default the workbook's).

    ``inputs`` (the workbook) chooses the RR by its ``effect_model`` and gives ``evsi_sample_sizes``,
    ``trial_fixed_cost`` and ``trial_cost_per_family`` when its settings have them (else this module's defaults,
    status E). ``population``: True the PSA's local authority, a dict another population (e.g. England), False none.
    ``seed`` defaults to the PSA's. ``options`` go to :func:`evsi` (refine, bootstrap, cross_check, max_iterations).
    """
    if psa.draws is None:
        raise ValueError("EVSI needs the PSA's draws: run_psa(..., keep_draws=True or a number)")
    settings = dict(inputs.settings) if inputs is not None else {}
    sizes = sample_sizes if sample_sizes is not None else (settings.get("evsi_sample_sizes") or DEFAULT_SAMPLE_SIZES)
    fixed = settings.get("trial_fixed_cost", DEFAULT_TRIAL_FIXED_COST) if trial_fixed_cost is None else trial_fixed_cost
    per_family = (settings.get("trial_cost_per_family", DEFAULT_TRIAL_COST_PER_FAMILY) if trial_cost_per_family is None
                  else trial_cost_per_family)
    basis = psa.population if population is True else (population or None)
    return evsi(psa.draws, psa.net_benefit(wtp), sizes, rr_column=effect_rr_column(str(settings.get("effect_model", ""))),
                method=method, seed=psa.seed if seed is None else seed, population=basis,
                trial_fixed_cost=float(fixed), trial_cost_per_family=float(per_family), **options)
