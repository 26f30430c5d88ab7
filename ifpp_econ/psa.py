"""Probabilistic sensitivity analysis, streamed in chunks.

Iteration i's parameter draws depend only on (seed, i), and the model treats each
iteration independently (no BLAS reductions across the batch), so results are
identical, bit for bit, whatever the chunk size and the number of workers. With several
workers, whole chunks run side by side in threads (numpy, scipy's special functions and
the compiled model release the GIL), one thread per chunk, and are collected in order.
Per-iteration outcomes are kept (8 bytes per outcome per strategy per iteration: about
0.25 GB for a million iterations) for intervals, the CE plane, convergence and EVPPI;
CEAC and EVPI sums are accumulated over fixed blocks of iterations so they too are
independent of chunking.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import analysis, kernels
from .model import OUTCOME_LABELS, run_model
from .sampling import Sampler
from .spec import build_spec, link_cumulative_risks


SUMMARY_BLOCK = 65_536


def wtp_grid(settings: dict) -> np.ndarray:
    """Willingness-to-pay grid (GBP per placement avoided) from the workbook settings."""
    lo, hi, step = float(settings["wtp_min"]), float(settings["wtp_max"]), float(settings["wtp_step"])
    grid = np.arange(lo, hi + step / 2, step) if step > 0 else np.array([lo])
    return np.union1d(grid, [float(settings["wtp_default"])])


@dataclass
class PSAResult:
    strategies: list[str]
    comparator: str
    iterations: int
    seed: int
    wtp: np.ndarray
    wtp_default: float
    outcomes: dict[str, np.ndarray]  # (K, N) per outcome
    accumulator: analysis.PSAAccumulator
    rule_counts: dict[str, int]
    draws: pd.DataFrame | None = None  # (N, P) when kept
    timings: dict[str, float] = field(default_factory=dict)

    def incremental(self) -> dict[str, dict[str, np.ndarray]]:
        return self._incremental

    @functools.cached_property
    def _incremental(self) -> dict[str, dict[str, np.ndarray]]:
        return analysis.incremental(self.outcomes, self.strategies, self.comparator, self.wtp_default)

    @functools.cached_property
    def _summaries(self) -> dict[str, dict[str, dict[str, float]]]:
        """Mean and 95% interval per strategy and outcome (computed once: sorting a million values is not free)."""
        out = {}
        for k, name in enumerate(self.strategies):
            out[name] = {}
            for outcome, values in self.outcomes.items():
                v = values[k][np.isfinite(values[k])]
                if len(v):
                    out[name][outcome] = analysis.summarise(v)
        return out

    def strategy_summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"strategy": name, "outcome": outcome, "label": OUTCOME_LABELS.get(outcome, outcome), **s}
                             for name, by_outcome in self._summaries.items() for outcome, s in by_outcome.items()])

    @functools.cached_property
    def _incremental_summaries(self) -> dict[str, dict[str, dict[str, float]]]:
        return {name: {metric: analysis.summarise(values) for metric, values in metrics.items()}
                for name, metrics in self.incremental().items()}

    def incremental_summary(self) -> pd.DataFrame:
        rows = []
        for name, metrics in self.incremental().items():
            for metric in metrics:
                rows.append({"strategy": name, "comparator": self.comparator, "metric": metric,
                             **self._incremental_summaries[name][metric]})
            savings, avoided = metrics["per_child_savings"], metrics["placements_avoided_per_child"]
            rows.append({"strategy": name, "comparator": self.comparator, "metric": "prob_cost_saving",
                         "mean": float(np.mean(savings > 0)), "lower": np.nan, "upper": np.nan})
            label = analysis.dominance_label(savings.mean(), avoided.mean(), strategy=name)
            ratio = analysis.cost_per_placement_avoided(savings.mean(), avoided.mean())
            rows.append({"strategy": name, "comparator": self.comparator, "metric": "cost_per_placement_avoided (ratio of means)",
                         "mean": np.nan if ratio is None else ratio, "lower": np.nan, "upper": np.nan, "note": label})
        return pd.DataFrame(rows)

    def net_benefit(self, wtp: float | None = None) -> np.ndarray:
        """NMB ``(K, N)`` at ``wtp`` (default: the workbook's)."""
        w = self.wtp_default if wtp is None else wtp
        return analysis.net_benefit(self.outcomes, np.array([w]))[0]

    def to_json(self) -> dict:
        return copy.deepcopy(self._json)

    @functools.cached_property
    def _json(self) -> dict:
        inc = self.incremental()
        main_name = next(iter(inc))
        main = inc[main_name]
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
            "prob_cost_saving": float(np.mean(main["per_child_savings"] > 0)),
            "ceac": {name: [{"wtp": float(w), "probability": float(p)} for w, p in zip(ceac["wtp"], ceac[name])]
                     for name in self.strategies},
            "evpi_per_child": [{"wtp": float(w), "evpi": float(e)} for w, e in
                               zip(self.accumulator.evpi()["wtp"], self.accumulator.evpi()["evpi_per_child"])],
            "rule_counts": self.rule_counts,
            "strategies": self._summaries,
        }


def run_psa(inputs, n: int, seed: int, chunk_size: int = 2_048, keep_draws: bool | int = False,
            progress=None, workers: int | None = None) -> PSAResult:
    """Sample every parameter ``n`` times and run the model on all iterations, chunk by chunk.

    ``keep_draws``: True keeps every iteration's draws; an integer keeps the first that many
    (enough for EVPPI without holding a million rows). ``progress(done, total)`` is called
    after each chunk when given. ``workers``: threads for the compiled model and the
    sampling pool (default: every available core); results do not depend on it.
    """
    if n < 1:
        raise ValueError("the number of iterations must be at least 1")
    previous = kernels.set_workers(workers)
    try:
        return _run_psa(inputs, n, seed, chunk_size, keep_draws, progress)
    finally:
        kernels.set_workers(previous)


def _run_psa(inputs, n: int, seed: int, chunk_size: int, keep_draws: bool | int, progress) -> PSAResult:
    keep = n if keep_draws is True else int(keep_draws or 0)
    sampler = Sampler(inputs.parameters, inputs.correlations)
    spec = build_spec(inputs)
    wtp = wtp_grid(inputs.settings)
    acc = analysis.PSAAccumulator(spec.strategy_names, spec.comparator, wtp)
    kept: dict[str, np.ndarray] | None = None
    draws_kept = []
    counts = {"risk_curve_reordered": 0, "ifpp_curve_running_max": 0, "care_exits_rescaled": 0}
    timings = {"sampling_seconds": 0.0, "model_seconds": 0.0, "model_cpu_seconds": 0.0}

    def chunk(start: int):
        """Draws and model results of iterations [start, start + chunk_size); seconds per phase."""
        m = min(chunk_size, n - start)
        t0 = time.perf_counter()
        draws = sampler.sample(m, seed, start=start)
        draws, reordered = link_cumulative_risks(draws, inputs)
        t1, c1 = time.perf_counter(), time.thread_time()
        results = run_model(draws, spec)
        return start, draws, reordered, results, (t1 - t0, time.perf_counter() - t1, time.thread_time() - c1)

    def in_own_thread(start: int):
        with kernels.single_thread():
            return chunk(start)

    starts = range(0, n, chunk_size)
    threads = kernels.workers()
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.ExitStack() as stack:
        if threads > 1 and len(starts) > 1:  # whole chunks side by side, one thread each; taken in order
            pool = ThreadPoolExecutor(threads, thread_name_prefix="psa-chunk")
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)  # on Ctrl-C: finish running chunks only
            done = pool.map(in_own_thread, starts)
        else:  # one chunk at a time, each using every worker (compiled loop, sampling pool)
            done = map(chunk, starts)
        for start, draws, reordered, results, seconds in done:
            m = len(draws)
            for key, value in zip(("sampling_seconds", "model_seconds", "model_cpu_seconds"), seconds):
                timings[key] += value
            if kept is None:
                kept = {k: np.empty(v.shape[:-1] + (n,)) for k, v in results.outcomes.items()}
            for k, v in results.outcomes.items():
                kept[k][..., start : start + m] = v
            counts["risk_curve_reordered"] += int(reordered.sum())
            counts["ifpp_curve_running_max"] += int(results.curve_rule_bound.sum())
            counts["care_exits_rescaled"] += int(results.exits_rescaled.sum())
            if start < keep:
                draws_kept.append(draws.iloc[: keep - start])
            if progress is not None:
                progress(start + m, n)
    timings["chunks_seconds"] = time.perf_counter() - wall  # sampling + model, wall clock
    timings["chunks_cpu_seconds"] = time.process_time() - cpu  # the same, CPU of all threads
    for start in range(0, n, SUMMARY_BLOCK):  # fixed blocks: sums do not depend on the chunk size
        acc.add({k: v[..., start : start + SUMMARY_BLOCK] for k, v in kept.items()})
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
    )
