"""Which charts each result has: plain specs (a name, a drawing function's key and its data), drawn by one function
(:func:`ifpp_econ.outputs.render.draw`) wherever an executor runs it.

A spec holds only summaries and short arrays (e.g. the 5,000 CE-plane points shown, never a PSA's arrays), so it
is cheap to send to a worker process; building one imports no plotting library. To add a chart: a drawing function
in :mod:`.charts` (returning a figure, listed in ``charts.DRAWERS``) and a spec here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .. import declarations

if TYPE_CHECKING:
    from ..analyses.budget import BudgetResult
    from ..analyses.deterministic import BaseCase
    from ..analyses.dsa import DSAResult
    from ..analyses.evsi import EVSIResult
    from ..analyses.psa import PSAResult
    from ..analyses.rollup import RollupResult
    from ..analyses.voi import VOIResult


@dataclass(frozen=True)
class ChartSpec:
    """One chart: files ``name.png`` and ``name.svg`` (none when ``save`` is false: only inlined in a report), drawn by
    ``charts.DRAWERS[kind](*args, **kwargs)``."""

    name: str
    kind: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    save: bool = True


def base_case(base: "BaseCase") -> list[ChartSpec]:
    """The cohort trace."""
    return [ChartSpec("cohort_trace", "trace", (base.trace_table(), base.spec.describe_conventions()))]


def ce_plane_sample(placements_avoided: np.ndarray, incremental_cost: np.ndarray, max_points: int = 5000) -> dict:
    """What the CE plane draws, from any number of iterations: the evenly spaced points it shows and the mean."""
    n = len(placements_avoided)
    idx = np.linspace(0, n - 1, min(n, max_points)).astype(int)
    return {"placements_avoided": placements_avoided[idx], "incremental_cost": incremental_cost[idx],
            "mean": (placements_avoided.mean(), incremental_cost.mean())}


def ce_plane_name(strategy: str, comparisons: int) -> str:
    """The CE plane's file name: ``ce_plane``, or one per strategy when several are compared with the comparator."""
    import re

    return "ce_plane" if comparisons == 1 else "ce_plane_" + re.sub(r"[^A-Za-z0-9]+", "_", strategy).strip("_").lower()


def psa(result: "PSAResult") -> list[ChartSpec]:
    """The charts of a PSA that need no value of information: a CE plane per comparison, the CEAC, the convergence
    of the mean."""
    inc = result.incremental()
    specs = []
    # the points: the kept iterations; the mean: every iteration
    means = None if result.streamed is None else result.incremental_summary().set_index(["strategy", "metric"])["mean"]
    for name, metrics in inc.items():
        points = ce_plane_sample(metrics["placements_avoided_per_child"], -metrics["per_child_savings"])
        if means is not None:
            points["mean"] = (means[name, "placements_avoided_per_child"], -means[name, "per_child_savings"])
        specs.append(ChartSpec(ce_plane_name(name, len(inc)), "ce_plane",
                               (points["placements_avoided"], points["incremental_cost"], result.wtp_default, name,
                                result.comparator), {"mean": points["mean"]}))
    specs.append(ChartSpec("ceac", "ceac", (result.ceac(), list(result.strategies))))
    specs.append(ChartSpec("convergence", "convergence", (inc[next(iter(inc))]["per_child_savings"],)))
    return specs


def value_of_information(voi: "VOIResult", inputs) -> list[ChartSpec]:
    """EVPI by willingness to pay, and EVPPI (when computed) with the workbook's labels."""
    specs = [ChartSpec("evpi", "evpi", (voi.evpi,))]
    if voi.evppi is not None:
        labels = {str(k): str(v) for k, v in inputs.parameters["label"].items()} | declarations.STRUCTURE_LABELS
        specs.insert(0, ChartSpec("evppi", "evppi", (voi.evppi, voi.wtp), {"labels": labels}))
    return specs


def evsi(result: "EVSIResult") -> list[ChartSpec]:
    """EVSI, trial cost and ENBS against the trial's size (families per arm)."""
    return [ChartSpec("evsi", "evsi", (result,))]


def dsa(result: "DSAResult", inputs, top: int = 15) -> list[ChartSpec]:
    """The tornado (``top`` bars) and the two-way grid."""
    label = declarations.DSA_OUTCOME_LABELS[result.outcome]
    money = declarations.DSA_OUTCOME_MONEY[result.outcome]
    units = {str(k): str(v) for k, v in inputs.parameters["unit"].items()}
    labels = {str(k): str(v) for k, v in inputs.parameters["label"].items()}
    x, y = result.two_way_pair
    return [ChartSpec("tornado", "tornado", (result.tornado, result.base_outcome, label, top),
                      {"units": units, "money": money}),
            ChartSpec("two_way", "two_way", (result.two_way, x, y, result.outcome, label, labels), {"money": money})]


def budget(result: "BudgetResult") -> list[ChartSpec]:
    """Spend, costs avoided and net by year."""
    return [ChartSpec("budget_by_year", "budget", (result.table(), result.strategy, result.comparator))]


def rollup(result: "RollupResult") -> list[ChartSpec]:
    """The authorities ranked by mean net saving, with intervals."""
    table = result.summary()
    return [ChartSpec("rollup_ranked", "rollup", (
        [str(v) for v in table["authority"]], table["net_saving_mean"].to_numpy(), table["net_saving_lower"].to_numpy(),
        table["net_saving_upper"].to_numpy(), result.years, result.strategy, result.comparator))]


def model_diagram() -> list[ChartSpec]:
    """The family states and their transitions (inlined in the report, not saved as a file)."""
    return [ChartSpec("model_diagram", "model_diagram", save=False)]
