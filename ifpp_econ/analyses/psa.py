"""Probabilistic sensitivity analysis, streamed in chunks.

Iteration i's parameter draws depend only on (seed, i), and the model treats each
iteration independently (no BLAS reductions across the batch), so results are
identical, bit for bit, whatever the chunk size and the number of workers. With several
workers, whole chunks run side by side in threads (numpy, scipy's special functions and
the compiled model release the GIL), one thread per chunk, and are collected in order.
Memory does not grow with N past :data:`KEPT_ITERATIONS`: per-iteration outcomes are kept for the first
KEPT_ITERATIONS only (8 bytes per value per iteration: about 0.24 GB) for intervals, the CE
plane, convergence and EVPPI, while every iteration passes through fixed blocks of :data:`SUMMARY_BLOCK`
iterations, in order, for the CEAC and EVPI sums and (past the kept ones) running sums for every mean
(:class:`StreamedMeans`), so these too are independent of chunking.
"""
from __future__ import annotations

import collections
import contextlib
import copy
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import declarations
from ..engine import threads
from ..engine.allocator import keep_freed_memory
from ..exceptions import ModelError
from ..inputs.container import AFTER_EFFECTS
from ..inputs.distributions import CI95_WIDTH
from ..inputs.rules import weights_problem
from ..model.family_states import MODEL_OUTCOME_LABELS, PAYER_PREFIX, run_model
from ..model.spec import ModelSpec, build_spec
from . import comparison, consequences, ledger
from .sampling import BLOCK, Sampler

SUMMARY_BLOCK = 65_536
# Iterations whose outcomes a PSA keeps (8 blocks): percentiles, the CE plane and convergence come from the first
# KEPT_ITERATIONS (independent draws, so a random sample of all N); means, probabilities, CEAC and EVPI from every
# iteration (running sums). Memory stays below about 0.25 GB whatever N; a PSA of at most this many is unchanged.
KEPT_ITERATIONS = 8 * SUMMARY_BLOCK
# Children's outcomes summarised in the outcomes table (PSAResult.consequences), not again per strategy.
IN_OUTCOMES_TABLE = ("care_entries_undiscounted", "care_months_undiscounted", "proceedings_issued",
                     "child_years_at_home_undiscounted")
# Model outcomes a PSA does not keep per iteration (16 MB each a million iterations): re-entries are all entries less
# first entries (consequences.value); the discounted child-years at home serve the base case's cost per child-year.
NOT_KEPT = ("reentries", "child_years_at_home")


def wtp_grid(settings: dict) -> np.ndarray:
    """Willingness-to-pay grid (GBP per placement avoided) from the workbook settings."""
    lo, hi, step = float(settings["wtp_min"]), float(settings["wtp_max"]), float(settings["wtp_step"])
    grid = np.arange(lo, hi + step / 2, step) if step > 0 else np.array([lo])
    return np.union1d(grid, [float(settings["wtp_default"])])


RR_UNIT = "relative risk"
STRUCTURAL_STREAM = 1  # SeedSequence([seed, block, 1]): the structural draws' own stream, apart from the parameters'


def between_study_sd(inputs) -> float:
    """τ, the between-study SD of the log RR (``rr_between_study_sd``; 0 when the workbook has no such row)."""
    params = inputs.parameters
    name = declarations.BETWEEN_STUDY_SD
    return float(params.loc[name, "value"]) if name in params.index else 0.0


def predictive_parameters(inputs) -> pd.DataFrame:
    """The parameter table the PSA samples: every relative risk drawn for a *new setting*.

    A lognormal RR with pooled-mean log-SE σ becomes lognormal with log-SD √(σ² + τ²), τ =
    ``rr_between_study_sd`` (0 keeps the pooled-mean distribution). The base value stays the median.
    """
    params = inputs.parameters
    tau = between_study_sd(inputs)
    if tau == 0:
        return params
    out = params.copy()
    for name, row in params.iterrows():
        if str(row["unit"]) != RR_UNIT:
            continue
        dist, value, a, b = str(row["distribution"]), float(row["value"]), row["param_a"], row["param_b"]
        if dist == "lognormal_ci":
            mu, sd = np.log(value), (np.log(b) - np.log(a)) / CI95_WIDTH
        elif dist == "lognormal_log":
            mu, sd = float(a), float(b)
        else:  # fixed (the user chose no uncertainty) or another family: left as entered
            continue
        out.loc[name, ["distribution", "param_a", "param_b"]] = ["lognormal_log", mu, float(np.hypot(sd, tau))]
    return out


WINDOW_RR_CORRELATION = 0.85  # one meta-analysis: the 3/6/24-month RRs share the 12-month RR's draw (evidence.md)
WINDOW_RRS = ("rr_3m", "rr_6m", "rr_24m")


def tie_window_rrs(draws: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The window RRs as one common draw plus deviations: on the log scale each window's standardised draw
    becomes √ρ·z₁₂ + √(1 − ρ)·z_w, with z₁₂ the 12-month RR's, so the windows move together (normal correlation
    ρ = :data:`WINDOW_RR_CORRELATION` between windows, √ρ with the 12-month RR) and keep their own marginals.
    Element-wise, so chunking cannot change it; skipped unless the RRs are lognormal."""
    def log_params(name):
        row = table.loc[name] if name in table.index else None
        if row is None or str(row["distribution"]) not in ("lognormal_ci", "lognormal_log"):
            return None
        if str(row["distribution"]) == "lognormal_log":
            return float(row["param_a"]), float(row["param_b"])
        return float(np.log(row["value"])), float((np.log(row["param_b"]) - np.log(row["param_a"])) / CI95_WIDTH)

    anchor = log_params("rr_12m")
    if anchor is None or "rr_12m" not in draws.columns:
        return draws
    columns = {name: j for j, name in enumerate(draws.columns)}
    # one (P, n) block, copied whole and changed in place: the frame stays one block, so the model reads it as one
    # array (setting columns one by one would split it, and reading it back would cost more than drawing them)
    values = draws.to_numpy(dtype=float).T.copy()
    z12 = (np.log(values[columns["rr_12m"]]) - anchor[0]) / anchor[1]
    a, b = np.sqrt(WINDOW_RR_CORRELATION), np.sqrt(1.0 - WINDOW_RR_CORRELATION)
    for name in WINDOW_RRS:
        params = log_params(name)
        if params is None or name not in columns:
            continue
        mu, sd = params
        z = (np.log(values[columns[name]]) - mu) / sd
        values[columns[name]] = np.exp(mu + sd * (a * z12 + b * z))
    return pd.DataFrame(values.T, index=draws.index, columns=draws.columns, copy=False)  # values: ours alone


def structural_weights(inputs, structural: str | None = None) -> dict[str, float] | None:
    """After-effect weights (summing to 1) and the 'no effect' probability for a model-averaged PSA, else None."""
    s = inputs.settings
    if (structural or s.get("psa_structural", "none")) != "model_averaged":
        return None
    problem = weights_problem(s)
    if problem:  # a validated workbook never gets here (the validator's rule); settings edited in Python may
        raise ModelError(problem)
    raw = {name: float(s.get(f"weight_{name}", 0.0)) for name in AFTER_EFFECTS}
    total = sum(raw.values())
    return {**{k: v / total for k, v in raw.items()}, "no_effect": float(s.get("weight_no_effect", 0.0))}


def structural_draws(weights: dict[str, float], n: int, seed: int, start: int = 0) -> pd.DataFrame:
    """Per-iteration structural choices ``(n, 2)``: ``structure:after_effect`` code and ``structure:no_effect``.

    Drawn from their own stream per block of iterations (as the parameters are), so iteration i's
    choice depends only on (seed, i), whatever the chunking.
    """
    first, stop = start // BLOCK, -(-(start + n) // BLOCK)
    u = np.concatenate([np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), b, STRUCTURAL_STREAM])))
                        .random((BLOCK, 2)) for b in range(first, stop)])[start - first * BLOCK:][:n]
    edges = np.cumsum([weights.get(name, 0.0) for name in AFTER_EFFECTS])
    code = np.minimum(np.searchsorted(edges, u[:, 0], side="right"), len(AFTER_EFFECTS) - 1)
    return pd.DataFrame({"structure:after_effect": code, "structure:no_effect": (u[:, 1] < weights["no_effect"]).astype(int)},
                        index=pd.RangeIndex(start, start + n, name="iteration"))


def shared_effect_weights(inputs, table: pd.DataFrame | None = None) -> dict[str, float]:
    """For each relative risk drawn lognormally (the window RRs excepted: they follow ``rr_12m``), the pooled
    effect's share of its predictive log-SD, ``w = σ / √(σ² + τ²)`` (σ: its pooled-mean log-SE, τ:
    :func:`between_study_sd`), so that ``log RR = μ + √(σ² + τ²)·(w·z_shared + √(1 − w²)·z_own) = μ + σ·z_shared +
    τ·z_own``. Fixed RRs have none. ``table``: :func:`predictive_parameters` of ``inputs`` when already made."""
    table = predictive_parameters(inputs) if table is None else table
    tau = between_study_sd(inputs)
    rr = table[(table["unit"].astype(str) == RR_UNIT) & (table["distribution"].astype(str) == "lognormal_log")]
    out = {}
    for name, total in zip(rr.index, pd.to_numeric(rr["param_b"]).to_numpy(float)):
        if name not in WINDOW_RRS and total > 0:
            out[str(name)] = float(np.sqrt(max(total * total - tau * tau, 0.0)) / total)
    return out


def draw(inputs, n: int, seed: int, start: int = 0, structural: str | None = None,
         sampler: Sampler | None = None, shared_z: np.ndarray | None = None,
         shared_weights: dict[str, float] | None = None) -> pd.DataFrame:
    """Parameter draws for iterations ``[start, start + n)`` (predictive RRs; structural columns when model-averaged).

    ``sampler``: a :class:`Sampler` of :func:`predictive_parameters` built once for many chunks. ``shared_z``
    ``(n,)``: standard normals of the pooled effect shared with other workbooks (``ifpp-econ rollup``); the 12-month
    RR's log becomes ``μ + σ·z_shared + τ·z_own`` (:func:`shared_effect_weights`, or ``shared_weights`` when already
    computed; the window RRs follow it), the same distribution as without it.
    """
    sampler = sampler or Sampler(predictive_parameters(inputs), inputs.correlations)
    if shared_z is not None and shared_weights is None:
        shared_weights = shared_effect_weights(inputs)
    shared = None if shared_z is None else {k: (w, shared_z) for k, w in (shared_weights or {}).items()}
    draws = tie_window_rrs(sampler.sample(n, seed, start=start, shared=shared), sampler.parameters)
    weights = structural_weights(inputs, structural)
    if weights is not None:
        draws = pd.concat([draws, structural_draws(weights, n, seed, start)], axis=1)
    return draws


@dataclass
class PSAResult:
    strategies: list[str]
    comparator: str
    iterations: int
    seed: int
    wtp: np.ndarray
    wtp_default: float
    outcomes: dict[str, np.ndarray]  # (K, M) per outcome: the first M = min(N, KEPT_ITERATIONS) iterations
    accumulator: comparison.PSAAccumulator
    rule_counts: dict[str, int]
    draws: pd.DataFrame | None = None  # (N, P) when kept
    timings: dict[str, float] = field(default_factory=dict)
    by_band: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # band -> outcome -> (K, N)
    structural: dict | None = None  # weights of a model-averaged PSA and how often each choice was drawn
    distributions: str = ""  # one line on how the effect was drawn
    after_effect: str = "effect_stops"  # the assumption used when not model-averaged
    unused_parameters: tuple[str, ...] = ()  # drawn but never read by this model (not in EVPPI)
    after_effect_savings: dict[str, float] = field(default_factory=dict)  # base-case per-child savings, each assumption
    headline_range: dict = field(default_factory=dict)  # the base case's headline and structural range (BaseCase)
    chunk_size: int = 0  # iterations per chunk used (results do not depend on it)
    population: dict | None = None  # the LA's population for EVPI: children_per_year, years, discount_rate
    children_per_family: np.ndarray | None = None  # (M,) each kept iteration's children per family (per family)
    streamed: StreamedMeans | None = None  # means over all N when N > M = KEPT_ITERATIONS (None: every iteration kept)
    _voi_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        inc = self.incremental()
        name = next(iter(inc), None)
        if name is None:
            return f"PSAResult({self.iterations:,} iterations, seed {self.seed})"
        s = self._incremental_summaries[name]["per_child_savings"]
        return (f"PSAResult({self.iterations:,} iterations, seed {self.seed}; {name} vs {self.comparator}: savings per "
                f"child mean {s['mean']:,.0f} (95% interval {s['lower']:,.0f} to {s['upper']:,.0f}); probability "
                f"cost-saving {self.prob_cost_saving(name):.1%})")

    @property
    def kept_iterations(self) -> int:
        """M: the iterations whose outcomes are kept (:attr:`outcomes`; the first min(N, KEPT_ITERATIONS))."""
        return int(next(iter(self.outcomes.values())).shape[-1])

    def prob_cost_saving(self, strategy: str | None = None) -> float:
        """Share of all N iterations in which ``strategy`` (default the first compared) costs less than the comparator."""
        name = strategy or next(s for s in self.strategies if s != self.comparator)
        if self.streamed is not None:
            return float(self.streamed.cost_saving[self.strategies.index(name)])
        return float(np.mean(self.incremental()[name]["per_child_savings"] > 0))

    def _incremental_means(self) -> dict[tuple[str, str], float] | None:
        """(strategy, metric) → mean over all N iterations (None when every iteration is kept)."""
        if self.streamed is None:
            return None
        inc = comparison.incremental(self.streamed.shaped(), self.strategies, self.comparator, self.wtp_default)
        return {(name, metric): float(v[0]) for name, metrics in inc.items() for metric, v in metrics.items()}

    def summary(self) -> pd.DataFrame:
        """Long tidy table: per strategy and outcome, then per comparison and measure — mean, 2.5th and 97.5th
        percentiles (columns strategy, versus, measure, label, mean, lower, upper, note)."""
        per = self.strategy_summary().rename(columns={"outcome": "measure"}).assign(versus="")
        inc = self.incremental_summary().rename(columns={"metric": "measure", "comparator": "versus"})
        inc["label"] = inc["measure"]
        out = pd.concat([per, inc], ignore_index=True)
        if "note" not in out.columns:
            out["note"] = ""
        return out[["strategy", "versus", "measure", "label", "mean", "lower", "upper", "note"]]

    def samples(self, draws: bool = False) -> pd.DataFrame:
        """Every kept iteration (the first :attr:`kept_iterations`) as a row: each outcome per strategy
        (``cost[IFPP]`` …) and, with ``draws``, the parameter draws that were kept (``draw:<name>``). Every iteration
        of a larger PSA: ``ifpp-econ psa --save-iterations`` (or ``run_psa``'s ``on_chunk``)."""
        return iteration_rows(self.outcomes, self.strategies, self.draws if draws else None)

    def ceac(self) -> pd.DataFrame:
        """Probability each strategy is most cost-effective, one row per willingness to pay (``wtp``), with the
        optimal strategy (highest expected NMB) and the probability on the frontier."""
        return self.accumulator.ceac()

    def evpi(self, population: bool | float = False) -> pd.DataFrame:
        """EVPI per child by willingness to pay; ``population=True`` adds ``evpi_population`` for the workbook's
        local authority (children referred a year for ``decision_years``, discounted), a number uses that many
        children a year instead."""
        from . import voi

        table = self.accumulator.evpi()
        if population is False or population is None:
            return table
        basis = dict(self.population or {})
        if population is not True:
            basis["children_per_year"] = float(population)
        if "children_per_year" not in basis:
            raise ValueError("no population: pass the number of children referred a year")
        years, rate = int(basis.get("years", 10)), float(basis.get("discount_rate", 0.0))
        table["evpi_population"] = voi.population_evpi(table["evpi_per_child"].to_numpy(), basis["children_per_year"],
                                                       years, rate)
        table["population_basis"] = f"{basis['children_per_year']:,.1f} children a year for {years} years, discounted"
        return table

    def evppi(self, wtp: float | None = None, groups: dict | None = None, singles: bool = True) -> pd.DataFrame:
        """EVPPI per child of each uncertain parameter and parameter group (regression on the kept draws; at
        ``wtp``, default the workbook's; groups default to the model's :data:`ifpp_econ.declarations.EVPPI_GROUPS`).
        Parameters the model does not read (:attr:`unused_parameters`: e.g. the window RRs under single_rr, drawn
        only for their correlation with rr_12m) are left out: their EVPPI would only echo a parameter the model
        uses. The structural choices of a model-averaged PSA (discrete) are conditioned on exactly (group means).
        Computed once per set of arguments."""
        from .. import declarations
        from . import voi

        if self.draws is None:
            raise ValueError("EVPPI needs the PSA's draws: run_psa(..., keep_draws=True or a number)")
        groups = declarations.EVPPI_GROUPS if groups is None else groups
        key = ("evppi", wtp, tuple((k, tuple(v)) for k, v in groups.items()), singles)
        if key not in self._voi_cache:
            used = self.draws.drop(columns=[c for c in self.unused_parameters if c in self.draws.columns])
            self._voi_cache[key] = voi.evppi_table(used, self.net_benefit(wtp), groups, singles)
        return self._voi_cache[key].copy()

    def incremental(self) -> dict[str, dict[str, np.ndarray]]:
        return self._incremental

    @functools.cached_property
    def _incremental(self) -> dict[str, dict[str, np.ndarray]]:
        return comparison.incremental(self.outcomes, self.strategies, self.comparator, self.wtp_default)

    @functools.cached_property
    def _summaries(self) -> dict[str, dict[str, dict[str, float]]]:
        """Mean and 95% interval per strategy and outcome (computed once: sorting a million values is not free)."""
        means = None if self.streamed is None else {
            (name, outcome): float(v[k]) for k, name in enumerate(self.strategies)
            for outcome, v in self.streamed.outcomes.items()}
        summaries = comparison.summarise_many({(name, outcome): values[k] for k, name in enumerate(self.strategies)
                                             for outcome, values in self.outcomes.items()
                                             if not outcome.startswith(PAYER_PREFIX) and outcome not in
                                             IN_OUTCOMES_TABLE}, finite_only=True, means=means)
        out: dict[str, dict[str, dict[str, float]]] = {name: {} for name in self.strategies}
        for (name, outcome), summary in summaries.items():
            out[name][outcome] = summary
        return out

    def strategy_summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"strategy": name, "outcome": outcome, "label": MODEL_OUTCOME_LABELS.get(outcome, outcome), **s}
                             for name, by_outcome in self._summaries.items() for outcome, s in by_outcome.items()])

    @functools.cached_property
    def _incremental_summaries(self) -> dict[str, dict[str, dict[str, float]]]:
        summaries = comparison.summarise_many({(name, metric): values for name, metrics in self.incremental().items()
                                             for metric, values in metrics.items()}, means=self._incremental_means())
        return {name: {metric: summaries[name, metric] for metric in metrics} for name, metrics in self.incremental().items()}

    def incremental_summary(self) -> pd.DataFrame:
        rows = []
        for name, metrics in self.incremental().items():
            for metric in metrics:
                rows.append({"strategy": name, "comparator": self.comparator, "metric": metric,
                             **self._incremental_summaries[name][metric]})
            rows.append({"strategy": name, "comparator": self.comparator, "metric": "prob_cost_saving",
                         "mean": self.prob_cost_saving(name), "lower": np.nan, "upper": np.nan})
            savings = self._incremental_summaries[name]["per_child_savings"]["mean"]
            avoided = self._incremental_summaries[name]["placements_avoided_per_child"]["mean"]
            label = comparison.dominance_label(savings, avoided, strategy=name)
            ratio = comparison.cost_per_placement_avoided(savings, avoided)
            rows.append({"strategy": name, "comparator": self.comparator, "metric": "cost_per_placement_avoided (ratio of means)",
                         "mean": np.nan if ratio is None else ratio, "lower": np.nan, "upper": np.nan, "note": label})
        return pd.DataFrame(rows)

    def net_benefit(self, wtp: float | None = None) -> np.ndarray:
        """NMB ``(K, N)`` at ``wtp`` (default: the workbook's)."""
        w = self.wtp_default if wtp is None else wtp
        return comparison.net_benefit(self.outcomes, np.array([w]))[0]

    def to_json(self) -> dict:
        return copy.deepcopy(self._json)

    @functools.cached_property
    def _json(self) -> dict:
        inc = self.incremental()
        main_name = next(iter(inc))
        summaries = self._incremental_summaries[main_name]
        ceac = self.accumulator.ceac()
        return {
            "iterations": self.iterations,
            "seed": self.seed,
            "comparator": self.comparator,
            "strategy": main_name,
            **{m: summaries[m] for m in ("per_child_savings", "per_family_savings", "placements_avoided_per_child",
                                         "care_months_avoided_per_child")},
            "incremental_nmb": {"wtp": self.wtp_default, **summaries["incremental_nmb"]},
            "prob_cost_saving": self.prob_cost_saving(main_name),
            "ceac": {name: [{"wtp": float(w), "probability": float(p)} for w, p in zip(ceac["wtp"], ceac[name])]
                     for name in self.strategies},
            "evpi_per_child": [{"wtp": float(w), "evpi": float(e)} for w, e in
                               zip(self.accumulator.evpi()["wtp"], self.accumulator.evpi()["evpi_per_child"])],
            "rule_counts": self.rule_counts,
            "strategies": self._summaries,
            "by_age_band": self.by_band_summary(main_name),
            **self.consequences(main_name),
            "structural": self.structural or {"sampled": False},
            "effect_distribution": self.distributions,
            "after_effect": "model_averaged" if self.structural else self.after_effect,
            "scenarios_after_effect": {k: {"per_child_savings": v, "default": k == self.after_effect}
                                       for k, v in self.after_effect_savings.items()},
            "headline_range": self.headline_range,
            **({} if self.streamed is None else {"subsample": self.subsample()}),
        }

    def subsample(self) -> dict:
        """How a PSA of more than :data:`KEPT_ITERATIONS` iterations reports: means and probabilities over all N,
        percentiles from the first M kept (a random sample: iterations are independent), with the Monte Carlo
        standard error of each interval end of the main comparison's savings and placements avoided."""
        name = next(s for s in self.strategies if s != self.comparator)
        inc = self.incremental()[name]
        return {"iterations": self.iterations, "iterations_kept": self.kept_iterations,
                "note": (f"means, probabilities, CEAC and EVPI over all {self.iterations:,} iterations; 95% intervals, "
                         f"the CE plane and convergence from the first {self.kept_iterations:,} (independent draws: "
                         "a random sample of all of them)"
                         + ("" if self.draws is None else f"; EVPPI from the first {len(self.draws):,}")),
                "interval_se": {metric: {"lower": comparison.quantile_se(inc[metric], 0.025),
                                         "upper": comparison.quantile_se(inc[metric], 0.975)}
                                for metric in ("per_child_savings", "placements_avoided_per_child")}}

    def consequences(self, strategy: str | None = None) -> dict:
        """Children's outcomes (mean and 95% interval of each difference, per child and per 100 families referred)
        and the payer ledger (savings with intervals)."""
        name = strategy or next(s for s in self.strategies if s != self.comparator)
        cpf = (self.children_per_family if self.children_per_family is not None
               else np.full(self.kept_iterations, np.nan))
        means = None if self.streamed is None else (self.streamed.shaped(), self.streamed.shaped("per_family"))
        return {"outcomes": consequences.summarise(self.outcomes, self.strategies, self.comparator, name, cpf, means),
                "by_payer": ledger.summarise(self.outcomes, self.strategies, self.comparator, name,
                                             None if means is None else means[0])}

    def by_band_summary(self, strategy: str | None = None) -> dict[str, dict[str, dict[str, float]]]:
        """Per age band: mean and 95% interval of per-child savings and placements avoided (discounted and not)."""
        k = self.strategies.index(strategy or next(s for s in self.strategies if s != self.comparator))
        c = self.strategies.index(self.comparator)
        metrics = {"per_child_savings": "cost", "placements_avoided_per_child": "first_placements",
                   "placements_avoided_per_child_undiscounted": "first_placements_undiscounted"}
        def difference(o: dict, key: str):
            return lambda: o[key][c] - o[key][k]  # made when summarised: one band's difference at a time

        means = None if self.streamed is None else {
            (band, m): float(o[key][c] - o[key][k]) for band, o in self.streamed.bands.items()
            for m, key in metrics.items()}
        summaries = comparison.summarise_many({(band, m): difference(o, key) for band, o in self.by_band.items()
                                             for m, key in metrics.items()}, means=means)
        return {band: {m: summaries[band, m] for m in metrics} for band in self.by_band}

def iteration_rows(outcomes: dict[str, np.ndarray], strategies: list[str], draws: pd.DataFrame | None = None,
                   start: int = 0) -> pd.DataFrame:
    """Iterations from ``start`` as rows (index ``iteration``): the ``draws`` (``draw:<name>``, when given) then each
    outcome ``(K, n)`` per strategy (``cost[IFPP]`` …)."""
    frame = pd.DataFrame({f"{o}[{s}]": v[k] for o, v in outcomes.items() for k, s in enumerate(strategies)})
    if draws is not None:
        frame = pd.concat([draws.reset_index(drop=True).add_prefix("draw:"), frame], axis=1)
    frame.index = pd.RangeIndex(start, start + len(frame), name="iteration")
    return frame


def auto_chunk_size(n: int, workers: int) -> int:
    """Iterations per chunk: at least 4 chunks per worker for balance, whole sampling blocks
    (:data:`~ifpp_econ.sampling.BLOCK`), between 1,024 and 8,192: a chunk's fixed costs (≈ 4,000 Python-level calls
    in sampling and the model's costing) amortised over more iterations — on one thread 8,192 took 10–20% less CPU an
    iteration than 4,096, with two 4–8% less wall time (December 2026) — at about 70 MB of buffers per chunk in
    flight (a 3,000,000-iteration PSA's peak 0.82 GB, against 0.73 GB with 4,096). Results do not depend on it."""
    per = -(-n // (4 * max(workers, 1)))
    return int(min(max(-(-per // BLOCK) * BLOCK, BLOCK), 8 * BLOCK))


def run_psa(inputs, n: int | None = None, seed: int | None = None, chunk_size: int | None = None,
            keep_draws: bool | int = False, progress=None, structural: str | None = None,
            workers: int | None = None, base=None, on_chunk=None) -> PSAResult:
    """Sample every parameter ``n`` times and run the model on all iterations, chunk by chunk.

    ``keep_draws``: True keeps every iteration's draws; an integer keeps the first that many
    (enough for EVPPI without holding a million rows). ``progress(done, total)`` is called
    after each chunk when given. ``workers``: threads for the compiled model and the
    sampling pool (default: every available core); results do not depend on it, nor on
    ``chunk_size`` (default: :func:`auto_chunk_size`). ``base``: the workbook's
    :class:`~ifpp_econ.deterministic.BaseCase` when already run (its after-effect savings are reused).
    ``on_chunk(start, draws, outcomes)``: called with each chunk in order (draws ``(n, P)``, kept outcomes ``(K, n)``),
    e.g. to write every iteration to disk while only the first :data:`KEPT_ITERATIONS` are held. Memory does not
    grow with ``n`` beyond :data:`KEPT_ITERATIONS` (draws kept: at most that many too).
    """
    n = int(inputs.settings["psa_iterations"] if n is None else n)
    seed = int(inputs.settings["psa_seed"] if seed is None else seed)
    if n < 1:
        raise ValueError("the number of iterations must be at least 1")
    previous = threads.set_workers(workers)
    try:
        chunk_size = int(chunk_size or auto_chunk_size(n, threads.workers()))
        result = _run_psa(inputs, n, seed, chunk_size, keep_draws, progress, structural, base, on_chunk)
    finally:
        threads.set_workers(previous)
    result.population = population_basis(inputs)
    return result


def population_basis(inputs) -> dict:
    """The local authority's population for EVPI: children referred a year, decision years, discount rate."""
    s = inputs.settings
    return {"children_per_year": float(s["la_referrals_per_year"])
            * float(inputs.parameters.loc["children_per_family", "value"]),
            "years": int(s.get("decision_years", 10)), "discount_rate": float(s["discount_rate_costs"])}


@dataclass(frozen=True)
class ChunkPlan:
    """What every chunk of a PSA shares (built once per workbook): the inputs, the model spec, the
    sampler (distributions and inverse-CDF tables) and the structural-uncertainty setting."""

    inputs: Any  # workbook inputs (parameters, settings, correlations)
    spec: ModelSpec
    sampler: Sampler
    structural: str | None = None


def plan_chunks(inputs, structural: str | None = None) -> ChunkPlan:
    """A :class:`ChunkPlan` for ``inputs`` (``structural``: as :func:`run_psa`). Chunks free and re-allocate the same
    arrays, so the process's allocator is first set to keep freed memory (:mod:`ifpp_econ.engine.allocator`)."""
    keep_freed_memory()
    return ChunkPlan(inputs, build_spec(inputs), Sampler(predictive_parameters(inputs), inputs.correlations), structural)


def run_chunk(plan: ChunkPlan, seed: int, start: int, size: int, seconds: list | None = None):
    """Draws ``(size, P)`` and model results ``(K, size)`` of iterations ``[start, start + size)``.

    A pure function of (workbook, seed, start, size): iteration i's numbers do not depend on how the
    iterations are cut into chunks, so chunks may be run anywhere — threads here, a process pool or a
    cluster (Dask, Ray) — and placed by iteration number. ``seconds``: a list to which the sampling
    wall time, the model's wall time and the model's thread CPU time are appended.
    """
    t0 = time.perf_counter()
    draws = draw(plan.inputs, size, seed, start, plan.structural, plan.sampler)
    t1, c1 = time.perf_counter(), time.thread_time()
    results = run_model(draws, plan.spec)
    if seconds is not None:
        seconds += [t1 - t0, time.perf_counter() - t1, time.thread_time() - c1]
    return draws, results


def _run_psa(inputs, n: int, seed: int, chunk_size: int, keep_draws: bool | int, progress,
             structural: str | None, base=None, on_chunk=None) -> PSAResult:
    keep = min(n if keep_draws is True else int(keep_draws or 0), KEPT_ITERATIONS)
    plan = plan_chunks(inputs, structural)  # distributions built once per run
    spec = plan.spec
    wtp = wtp_grid(inputs.settings)
    acc = comparison.PSAAccumulator(spec.strategy_names, spec.comparator, wtp)
    stream: _Stream | None = None
    draws_kept = []
    counts = {"risk_curve_reordered": 0, "ifpp_curve_running_max": 0, "care_exits_rescaled": 0,
              "child_risk_capped": 0}
    weights = structural_weights(inputs, structural)
    chosen = {name: 0 for name in AFTER_EFFECTS} | {"no_effect": 0}

    # "cost" is the chosen perspective's cost, the same values (the model's same array, weighted alike): one copy kept
    same = {f"cost_{spec.perspective}": "cost"}

    def keeps(name: str) -> bool:
        """Outcomes kept per iteration: not those derived from others (re-entries, two ledger rows), nor the discounted
        child-years at home (the cost per child-year at home is the base case's), nor added rows' costs if none."""
        return (ledger.kept(name) and name not in NOT_KEPT
                and (name != "cost_added" or bool(spec.added_costs)))
    timings = {"sampling_seconds": 0.0, "model_seconds": 0.0, "model_cpu_seconds": 0.0}

    def chunk(start: int):
        """Draws and model results of iterations [start, start + chunk_size); seconds per phase."""
        seconds: list[float] = []
        draws, results = run_chunk(plan, seed, start, min(chunk_size, n - start), seconds)
        return start, draws, results, seconds

    starts = range(0, n, chunk_size)
    n_threads = threads.workers()
    wall, cpu = time.perf_counter(), time.process_time()
    base_figures = None
    with contextlib.ExitStack() as stack:
        if n_threads > 1 and len(starts) > 1:  # whole chunks side by side, one thread each; taken in order
            pool = ThreadPoolExecutor(n_threads, thread_name_prefix="psa-chunk")
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)  # on Ctrl-C: finish running chunks only
            if base is None:  # the base case among the chunks (on one thread), not after them
                base_figures = pool.submit(threads.on_one_thread, _base_case_figures, inputs)
            done = _in_order(pool, functools.partial(threads.on_one_thread, chunk), starts, ahead=n_threads + 1)
        else:  # one chunk at a time, each using every worker (compiled loop, sampling pool)
            done = map(chunk, starts)
        for start, draws, results, seconds in done:
            m = len(draws)
            for key, value in zip(("sampling_seconds", "model_seconds", "model_cpu_seconds"), seconds):
                timings[key] += value
            if stream is None:
                stream = _Stream(n, spec.strategy_names.index(spec.comparator), acc)
                order = [k for k in results.outcomes if keeps(k)]  # the model's order
            stream.put(start, {**{("outcome", k): results.outcomes[k] for k in order if k not in same},
                               ("cpf",): draws["children_per_family"].to_numpy(float),
                               **{("band", band, k): o[k] for band, o in results.by_band.items() for k in BAND_OUTCOMES}})
            if on_chunk is not None:
                on_chunk(start, draws, {k: results.outcomes[k] for k in order})
            if weights is not None:
                codes = draws["structure:after_effect"].to_numpy()
                for i, name in enumerate(AFTER_EFFECTS):
                    chosen[name] += int((codes == i).sum())
                chosen["no_effect"] += int(draws["structure:no_effect"].sum())
            counts["risk_curve_reordered"] += int(results.risk_curve_reordered.sum())
            counts["child_risk_capped"] += int(results.child_risk_capped.sum())
            counts["ifpp_curve_running_max"] += int(results.curve_rule_bound.sum())
            counts["care_exits_rescaled"] += int(results.exits_rescaled.sum())
            if start < keep:
                draws_kept.append(draws.iloc[: keep - start])
            if progress is not None:
                progress(start + m, n)
    timings["chunks_seconds"] = time.perf_counter() - wall  # sampling + model, wall clock
    timings["chunks_cpu_seconds"] = time.process_time() - cpu  # the same, CPU of all threads
    assert stream is not None, "run_psa checks for at least one iteration"
    finished, cpf, bands = stream.finish()
    kept = {k: finished[same.get(k, k)] for k in order}  # the model's order; the perspective's cost is "cost", one array
    streamed = stream.means({k: same.get(k, k) for k in order})
    return PSAResult(
        strategies=spec.strategy_names,
        comparator=spec.comparator,
        iterations=n,
        seed=seed,
        wtp=wtp,
        wtp_default=float(inputs.settings["wtp_default"]),
        outcomes=kept,
        accumulator=acc,
        rule_counts=counts,
        draws=pd.concat(draws_kept) if draws_kept else None,
        timings={k: round(v, 4) for k, v in timings.items()},
        by_band=bands,
        structural=None if weights is None else {"weights": weights, "iterations_drawn": chosen},
        distributions=effect_distribution_note(inputs),
        after_effect=spec.after_effect,
        unused_parameters=spec.unused_parameters(),
        **(base_figures.result() if base_figures is not None else _base_case_figures(inputs, base)),
        chunk_size=chunk_size,
        children_per_family=cpf,
        streamed=streamed,
    )


BAND_OUTCOMES = ("cost", "first_placements", "first_placements_undiscounted")  # kept per age band


@dataclass
class StreamedMeans:
    """Means over every iteration of a PSA that kept only its first :data:`KEPT_ITERATIONS` per iteration (running
    sums over fixed blocks of :data:`SUMMARY_BLOCK` iterations, added in order: independent of the chunking).

    ``outcomes``: outcome → ``(K,)`` mean of each strategy over the iterations where it is finite; ``per_family``:
    the same of outcome × the iteration's children per family; ``bands``: band → outcome → ``(K,)``;
    ``cost_saving``: ``(K,)`` share of iterations in which each strategy costs less than the comparator."""

    outcomes: dict[str, np.ndarray]
    per_family: dict[str, np.ndarray]
    bands: dict[str, dict[str, np.ndarray]]
    cost_saving: np.ndarray

    def shaped(self, which: str = "outcomes") -> dict[str, np.ndarray]:
        """The means as ``(K, 1)`` arrays: a one-iteration stand-in for ``(K, N)`` outcomes in linear formulas."""
        return {k: v[:, None] for k, v in getattr(self, which).items()}


class _Stream:
    """Where a PSA's per-iteration values go, chunk by chunk and in order: the first ``KEPT_ITERATIONS`` are kept
    (M = min(N, KEPT_ITERATIONS)); every iteration passes through fixed blocks of :data:`SUMMARY_BLOCK` for the CEAC
    and EVPI sums and, when N > M, for :class:`StreamedMeans` (the iterations past M held one block at a time).
    Memory: M iterations plus one block, whatever N.

    A chunk's values are one flat mapping of ``(..., n)`` arrays: ``("outcome", name)`` ``(K, n)``, ``("cpf",)``
    (children per family, ``(n,)``) and ``("band", band, name)`` ``(K, n)``."""

    def __init__(self, n: int, comparator: int, acc: comparison.PSAAccumulator):
        self.n, self.m, self.comparator, self.acc = n, min(n, KEPT_ITERATIONS), comparator, acc
        self.kept: dict[tuple, np.ndarray] = {}  # (…, M)
        self.buffer: dict[tuple, np.ndarray] = {}  # (…, SUMMARY_BLOCK): the block being filled past M
        self.later: list[tuple] = []  # CEAC/EVPI sums of the blocks past M, in order
        self.sums: dict[tuple, np.ndarray] = {}  # running sums for StreamedMeans (N > M only)

    def put(self, start: int, values: dict[tuple, np.ndarray]) -> None:
        """Iterations ``[start, start + n)`` of every value (keys as in the class docstring)."""
        if not self.kept:
            self.kept = {key: np.empty(v.shape[:-1] + (self.m,)) for key, v in values.items()}
            if self.n > self.m:
                self.buffer = {key: np.empty(v.shape[:-1] + (SUMMARY_BLOCK,)) for key, v in values.items()}
        size, at = values["cpf",].shape[-1], 0
        while at < size:
            i = start + at  # the first iteration of this piece, which ends with the chunk or its block
            first = i // SUMMARY_BLOCK * SUMMARY_BLOCK
            block_end = min(first + SUMMARY_BLOCK, self.n)
            stop = min(start + size, block_end)
            # kept, or the block past M (KEPT_ITERATIONS is whole blocks: a block is kept or not)
            into, offset = (self.kept, 0) if i < self.m else (self.buffer, first)
            for key, v in values.items():
                into[key][..., i - offset : stop - offset] = v[..., at : at + stop - i]
            if stop == block_end and self.n > self.m:
                self._block(first, block_end - first)
            at += stop - i

    def _block(self, first: int, size: int) -> None:
        """A complete block (``size`` iterations from ``first``): its running sums; its CEAC/EVPI sums if past M."""
        if first >= self.m:
            block = {key: v[..., :size] for key, v in self.buffer.items()}
            self.later.append(self.acc.block_sums({k: block["outcome", k] for k in ("cost", "first_placements")}))
        else:
            block = {key: v[..., first : first + size] for key, v in self.kept.items()}
        cpf = block["cpf",]
        for key, v in block.items():
            if key[0] == "outcome":
                finite = np.isfinite(v)
                if finite.all():  # most outcomes: the same sums without masking
                    self._add(("sum", key[1]), v.sum(axis=-1))
                    self._add(("count", key[1]), np.full(v.shape[:-1], v.shape[-1]))
                    self._add(("family", key[1]), (v * cpf).sum(axis=-1))
                    continue
                self._add(("sum", key[1]), np.where(finite, v, 0.0).sum(axis=-1))
                self._add(("count", key[1]), finite.sum(axis=-1))
                self._add(("family", key[1]), np.where(finite, v * cpf, 0.0).sum(axis=-1))
            elif key[0] == "band":
                self._add(key, v.sum(axis=-1))
        cost = block["outcome", "cost"]
        self._add(("saving",), (cost[self.comparator] - cost > 0).sum(axis=-1))

    def _add(self, key: tuple, value: np.ndarray) -> None:
        self.sums[key] = self.sums[key] + value if key in self.sums else value

    def finish(self) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, dict[str, np.ndarray]]]:
        """Once every iteration has been put: adds the CEAC/EVPI sums in block order and returns the kept outcomes
        ``(K, M)``, children per family ``(M,)`` and band outcomes."""
        self.acc.add_blocks([{k: self.kept["outcome", k][..., s : s + SUMMARY_BLOCK] for k in ("cost", "first_placements")}
                             for s in range(0, self.m, SUMMARY_BLOCK)], then=self.later)
        self.buffer = {}
        bands: dict[str, dict[str, np.ndarray]] = {}
        for key, v in self.kept.items():
            if key[0] == "band":
                bands.setdefault(key[1], {})[key[2]] = v
        return {key[1]: v for key, v in self.kept.items() if key[0] == "outcome"}, self.kept["cpf",], bands

    def means(self, names: dict[str, str]) -> StreamedMeans | None:
        """Means over all N iterations (None when every iteration is kept: the outputs then use the kept arrays);
        ``names``: each outcome to report → the kept outcome holding its values."""
        if self.n <= self.m:
            return None
        s = self.sums
        bands: dict[str, dict[str, np.ndarray]] = {}
        for key in self.kept:
            if key[0] == "band":
                bands.setdefault(key[1], {})[key[2]] = s[key] / self.n
        with np.errstate(invalid="ignore", divide="ignore"):
            return StreamedMeans(
                outcomes={k: s["sum", v] / s["count", v] for k, v in names.items()},
                per_family={k: s["family", v] / s["count", v] for k, v in names.items()},
                bands=bands, cost_saving=s["saving",] / self.n)


def _in_order(pool: ThreadPoolExecutor, func, items, ahead: int):
    """``func(item)`` for each item, run in ``pool`` and yielded in order, with at most ``ahead`` submitted
    but not yet taken (``pool.map`` would submit every chunk at once and hold every finished one: memory)."""
    pending: collections.deque = collections.deque()
    for item in items:
        pending.append(pool.submit(func, item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _base_case_figures(inputs, base=None) -> dict:
    """The base case's per-child savings under each after-effect assumption and its headline range."""
    from .deterministic import run_base_case

    data = (base or run_base_case(inputs)).to_json()
    return {"after_effect_savings": {k: v["per_child_savings"] for k, v in data["scenarios_after_effect"].items()},
            "headline_range": data["headline_range"]}


def effect_distribution_note(inputs) -> str:
    """How the PSA draws the effect, in one line (echoed in every PSA output)."""
    tau = between_study_sd(inputs)
    if tau == 0:
        return "RR drawn for the pooled mean (rr_between_study_sd = 0)"
    return (f"RR drawn for a new setting: log RR ~ N(ln RR, √(SE² + τ²)), τ = {tau:g} between-study SD "
            f"(rr_between_study_sd); window RRs share the 12-month draw (correlation {WINDOW_RR_CORRELATION:g})")
