"""Structural uncertainty beside a PSA, from the same parameter draws: the model-averaged PSA (or, for a
model-averaged PSA, the default one) and the between-study SD τ of the effect.

Both re-run the model on the PSA's own draws of its first ``min(n, 10,000)`` iterations, so they cost one model run
of at most 10,000 iterations each (no new sampling of the parameters; four runs by default: the other PSA and the
three τ values other than the workbook's, whose row is the PSA's own):

* **the other PSA**: the draws with (or without) the per-iteration structural choices of a model-averaged PSA
  (:func:`~.psa.structural_draws`, the same seed and stream: these iterations are exactly the first ones of
  ``psa --structural model_averaged``);
* **τ**: each lognormal relative risk's draw moved on the log scale about its median by the ratio of predictive
  SDs, √(SE² + τ'²) / √(SE² + τ²) — the draw the PSA would have made with τ' from the same random numbers (the
  window RRs keep their standardised draws, so their tie to rr_12m holds). For each τ': the mean per-child
  savings, P(cost-saving) and the EVPI per child at the workbook's λ.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..inputs.distributions import CI95_WIDTH
from ..model.family_states import run_model
from ..model.spec import build_spec
from . import comparison, voi
from .psa import RR_UNIT, between_study_sd, draw, structural_draws, structural_weights

MAX_ITERATIONS = 10_000  # iterations re-run for each companion result
TAUS = (0.0, 0.15, 0.3, 0.5)  # between-study SDs of the log RR in the τ table


@dataclass
class BesidePSA:
    """``averaged``: the other PSA's mean per-child savings, 95% interval and P(cost-saving) (``kind``:
    model_averaged or default; ``iterations``); ``tau``: one row per τ (``tau``, ``per_child_savings``,
    ``prob_cost_saving``, ``evpi_per_child``, ``iterations``, ``workbook``); ``seconds``: what they cost."""

    averaged: dict
    tau: pd.DataFrame
    seconds: float

    def to_json(self) -> dict:
        """``other_psa`` and ``tau_table`` (the seconds they took go to the run folder's timings, not here: the same
        seed gives the same JSON)."""
        return {"other_psa": self.averaged, "tau_table": self.tau.to_dict("records")}


def _draws(psa, inputs, m: int) -> pd.DataFrame:
    """The PSA's draws of its first ``m`` iterations (the kept ones, else drawn again: the same numbers)."""
    if psa.draws is not None and len(psa.draws) >= m:
        return psa.draws.iloc[:m]
    return draw(inputs, m, psa.seed, structural="model_averaged" if psa.structural else None)


def _savings(values: pd.DataFrame, spec, wtp: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-child savings ``(m,)`` of the first non-comparator strategy and net benefits ``(K, m)`` at ``wtp``."""
    res = run_model(values, spec)
    inc = comparison.incremental(res.outcomes, res.strategies, res.comparator, wtp)
    return next(iter(inc.values()))["per_child_savings"], comparison.net_benefit(res.outcomes, np.array([wtp]))[0]


def _summary(savings: np.ndarray) -> dict:
    return {"mean": float(savings.mean()), "lower": float(np.percentile(savings, 2.5)),
            "upper": float(np.percentile(savings, 97.5)), "prob_cost_saving": float(np.mean(savings > 0))}


def effect_log_sd(inputs) -> dict[str, tuple[float, float]]:
    """Each lognormal relative risk's median on the log scale and its pooled-mean log-SE: ``{name: (μ, SE)}``."""
    out = {}
    for name, row in inputs.parameters.iterrows():
        if str(row["unit"]) != RR_UNIT:
            continue
        dist = str(row["distribution"])
        if dist == "lognormal_ci":
            out[name] = (float(np.log(row["value"])), float((np.log(row["param_b"]) - np.log(row["param_a"])) / CI95_WIDTH))
        elif dist == "lognormal_log":
            out[name] = (float(row["param_a"]), float(row["param_b"]))
    return out


def with_tau(values: pd.DataFrame, inputs, tau: float) -> pd.DataFrame:
    """PSA draws made with the workbook's τ, as they would be with ``tau`` (same random numbers)."""
    current = between_study_sd(inputs)
    out = values.copy()
    for name, (mu, se) in effect_log_sd(inputs).items():
        if name not in out.columns or np.hypot(se, current) == 0:
            continue
        ratio = np.hypot(se, tau) / np.hypot(se, current)
        out[name] = np.exp(mu + (np.log(out[name].to_numpy(float)) - mu) * ratio)
    return out


def beside_psa(psa, inputs, max_iterations: int = MAX_ITERATIONS, taus=TAUS) -> BesidePSA:
    """The other PSA (model-averaged beside the default, or the reverse) and the τ table, from ``psa``'s draws."""
    started = time.perf_counter()
    spec = build_spec(inputs)
    m = min(psa.iterations, max_iterations)
    values = _draws(psa, inputs, m)
    wtp = psa.wtp_default
    structure = [c for c in values.columns if c.startswith("structure:")]
    if structure:  # a model-averaged PSA: the default one beside it
        other, kind = values.drop(columns=structure), "default"
    else:
        weights = structural_weights(inputs, "model_averaged")
        assert weights is not None, "model_averaged always has weights"
        other = pd.concat([values, structural_draws(weights, m, psa.seed).set_axis(values.index)], axis=1)
        kind = "model_averaged"
    savings, _ = _savings(other, spec, wtp)
    averaged = {"kind": kind, "iterations": m, "per_child_savings": _summary(savings),
                "prob_cost_saving": float(np.mean(savings > 0))}
    workbook_tau = between_study_sd(inputs)
    rows = []
    for tau in sorted({*taus, workbook_tau}):
        if tau == workbook_tau:  # the PSA itself: each iteration is computed alone, so its first m are these
            savings = next(iter(psa.incremental().values()))["per_child_savings"][:m]
            nb = psa.net_benefit()[:, :m]
        else:
            savings, nb = _savings(with_tau(values, inputs, tau), spec, wtp)
        rows.append({"tau": float(tau), "per_child_savings": float(savings.mean()),
                     "prob_cost_saving": float(np.mean(savings > 0)), "evpi_per_child": voi.evpi(nb), "iterations": m,
                     "workbook": "workbook τ" if tau == workbook_tau else ""})
    return BesidePSA(averaged, pd.DataFrame(rows), time.perf_counter() - started)
