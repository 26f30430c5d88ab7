"""Turning analysis results into tables, charts and printed summaries in a run folder."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import charts
from .deterministic import BaseCase
from .psa import PSAResult
from .runs import RunFolder


def _gbp(v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"-£{abs(v):,.0f}" if v < 0 else f"£{v:,.0f}"


def parameters_table(inputs) -> pd.DataFrame:
    """The parameters used, with sources and status, for every output folder."""
    cols = ["label", "value", "unit", "price_year", "distribution", "param_a", "param_b", "low", "high", "source", "status", "notes"]
    df = inputs.parameters.reindex(columns=cols).reset_index()
    return df.rename(columns={"index": "name"})


def format_base_case(base: BaseCase) -> str:
    """A plain-text base-case table for the terminal."""
    table = base.strategy_table().set_index("strategy")
    rows = [
        ("Discounted cost per child", "cost", _gbp),
        ("Discounted cost per family", "cost_per_family", _gbp),
        ("  of which IFPP programme", "cost_intervention", _gbp),
        ("  of which placements", "cost_placements", _gbp),
        ("First placements per child", "first_placements", lambda v: f"{v:.4f}"),
        ("All care entries per child", "care_entries", lambda v: f"{v:.4f}"),
        ("Months in care per child", "care_months", lambda v: f"{v:.2f}"),
        ("Living at home at 1 year", "living_at_home_1y", lambda v: f"{v:.1%}"),
        ("Living at home at 2 years", "living_at_home_2y", lambda v: f"{v:.1%}"),
        ("Living at home at 5 years", "living_at_home_5y", lambda v: f"{v:.1%}" if np.isfinite(v) else "n/a"),
    ]
    names = list(table.index)
    width = max(14, *(len(n) + 2 for n in names))
    lines = [f"Base case ({base.spec.price_year} GBP; outcomes discounted)", "",
             f"{'':32}" + "".join(f"{n:>{width}}" for n in names)]
    for label, key, fmt in rows:
        lines.append(f"{label:32}" + "".join(f"{fmt(table.loc[n, key]):>{width}}" for n in names))
    lines.append("")
    for name, v in base.incremental().items():
        lines += [
            f"{name} vs {base.results.comparator}:",
            f"  Per-child savings             {_gbp(v['per_child_savings'])}",
            f"  Per-family savings            {_gbp(v['per_family_savings'])}",
            f"  Placements avoided per child  {v['placements_avoided_per_child']:.4f}",
            f"  Care months avoided per child {v['care_months_avoided_per_child']:.2f}",
            "  Cost per placement avoided    "
            + (v["dominance"] if v["cost_per_placement_avoided"] is None else _gbp(v["cost_per_placement_avoided"])),
            f"  NMB at £{base.wtp:,.0f} per placement avoided  {_gbp(v['incremental_nmb'])}",
        ]
    lines += ["", "Conventions: " + base.spec.describe_conventions()]
    return "\n".join(lines)


def write_base_case(run: RunFolder, base: BaseCase, inputs) -> None:
    run.table("base_case", base.strategy_table())
    run.table("incremental", base.incremental_table())
    if len(base.results.strategies) > 2:
        run.table("frontier", base.frontier_table())
    trace = base.trace_table()
    run.table("cohort_trace", trace)
    run.table("parameters", parameters_table(inputs))
    run.figure("cohort_trace", charts.trace_chart(trace, base.spec.describe_conventions()))
    run.manifest["conventions"] = base.spec.describe_conventions()


def format_psa(result: PSAResult) -> str:
    data = result.to_json()
    s, p = data["per_child_savings"], data["placements_avoided_per_child"]
    c = data["care_months_avoided_per_child"]
    nmb = data["incremental_nmb"]
    return "\n".join([
        f"PSA: {result.iterations:,} iterations, seed {result.seed}; {data['strategy']} vs {result.comparator}",
        f"  Per-child savings             {_gbp(s['mean'])}  (95% interval {_gbp(s['lower'])} to {_gbp(s['upper'])})",
        f"  Placements avoided per child  {p['mean']:.4f}  ({p['lower']:.4f} to {p['upper']:.4f})",
        f"  Care months avoided per child {c['mean']:.2f}  ({c['lower']:.2f} to {c['upper']:.2f})",
        f"  NMB at £{nmb['wtp']:,.0f}/placement      {_gbp(nmb['mean'])}  ({_gbp(nmb['lower'])} to {_gbp(nmb['upper'])})",
        f"  Probability cost-saving       {data['prob_cost_saving']:.1%}",
        f"  Rules that bound: {data['rule_counts']}",
    ])


def write_psa(run: RunFolder, result: PSAResult, inputs, conventions: str, save_iterations: bool = False) -> None:
    run.table("psa_strategies", result.strategy_summary())
    run.table("psa_incremental", result.incremental_summary())
    ceac = result.accumulator.ceac()
    run.table("ceac", ceac)
    evpi = result.accumulator.evpi()
    run.table("evpi", evpi)
    run.table("parameters", parameters_table(inputs))
    inc = result.incremental()
    for name, metrics in inc.items():
        suffix = "" if len(inc) == 1 else "_" + "".join(ch if ch.isalnum() else "_" for ch in name)
        run.figure(f"ce_plane{suffix}", charts.ce_plane(metrics["placements_avoided_per_child"], -metrics["per_child_savings"],
                                                       result.wtp_default, name, result.comparator))
    main = inc[next(iter(inc))]
    run.figure("ceac", charts.ceac_chart(ceac, result.strategies))
    run.figure("evpi", charts.evpi_chart(evpi))
    run.figure("convergence", charts.convergence_chart(main["per_child_savings"]))
    if save_iterations:
        frame = pd.DataFrame({f"{o}[{s}]": result.outcomes[o][k] for o in result.outcomes for k, s in enumerate(result.strategies)})
        if result.draws is not None:
            frame = pd.concat([result.draws.reset_index(drop=True).add_prefix("draw:"), frame], axis=1)
        frame.index.name = "iteration"
        frame.to_csv(run.path / "iterations.csv.gz")
        run.files.append("iterations.csv.gz")
    run.manifest.update({"conventions": conventions, "psa": {"iterations": result.iterations, "seed": result.seed,
                                                               "rule_counts": result.rule_counts}})
    run.timings.update(result.timings)


def write_dsa(run: RunFolder, inputs, outcome: str = "savings", wtp: float | None = None, top: int = 15,
              threshold_parameters=None, two_way_pair=("risk_12m", "rr_12m")) -> dict:
    """One-way (tornado), thresholds, two-way grid and scenarios into a run folder; returns a JSON summary."""
    from . import dsa

    evaluator = dsa.Evaluator(inputs, outcome, wtp)
    tornado = dsa.one_way(evaluator)
    label = dsa.OUTCOME_LABELS[outcome]
    run.table("tornado", tornado.table)
    run.figure("tornado", charts.tornado_chart(tornado.table, tornado.base_outcome, label, top))
    names = [n for n in (threshold_parameters or dsa.DEFAULT_THRESHOLDS) if n in inputs.parameters.index]
    thresholds = pd.DataFrame([dsa.threshold(evaluator, n) for n in names])
    run.table("thresholds", thresholds)
    x, y = two_way_pair
    grid = dsa.two_way(evaluator, x, y)
    run.table("two_way", grid)
    run.figure("two_way", charts.two_way_chart(grid, x, y, outcome, label))
    scen = dsa.scenarios(inputs, evaluator.wtp)
    run.table("scenarios", scen)
    run.table("parameters", parameters_table(inputs))
    note = ("Shares (placement mix, age bands) vary one at a time with the other shares of their group rescaled "
            "to keep the sum at 1; fixed cumulative risks at 3/6/24 months move in proportion to risk_12m.")
    run.manifest["dsa"] = {"outcome": outcome, "wtp": evaluator.wtp, "note": note}
    records = lambda df: [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}  # noqa: E731
                          for r in df.to_dict("records")]
    return {
        "outcome": outcome, "wtp": evaluator.wtp, "base_outcome": tornado.base_outcome, "note": note,
        "tornado": records(tornado.table[["parameter", "low", "high", "outcome_low", "outcome_high", "swing", "range_source"]]),
        "thresholds": records(thresholds),
        "two_way": {"x": x, "y": y, "points": len(grid)},
        "scenarios": records(scen),
    }


def format_dsa(summary: dict, top: int = 10) -> str:
    lines = [f"One-way sensitivity ({summary['outcome']}; base {summary['base_outcome']:,.2f}):"]
    for r in summary["tornado"][:top]:
        lines.append(f"  {r['parameter']:32} {r['low']:>12,.4g} → {r['outcome_low']:>12,.2f}   "
                     f"{r['high']:>12,.4g} → {r['outcome_high']:>12,.2f}")
    lines.append("Break-even thresholds:")
    for r in summary["thresholds"]:
        lines.append(f"  {r['parameter']:32} base {r['base']:,.4g}: {r['note']}")
    lines.append("Scenarios:")
    for r in summary["scenarios"]:
        lines.append(f"  {r['scenario']:32} savings {_gbp(r['per_child_savings']):>10}   placements avoided "
                     f"{r['placements_avoided_per_child']:.4f}   {r['dominance']}")
    lines.append(summary["note"])
    return "\n".join(lines)
