"""Turning analysis results into tables, charts and printed summaries in a run folder."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from . import charts
from typing import TYPE_CHECKING

from .runs import RunFolder

if TYPE_CHECKING:
    from .deterministic import BaseCase
    from .psa import PSAResult


def _gbp(v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"-£{abs(v):,.0f}" if v < 0 else f"£{v:,.0f}"


def parameters_table(inputs) -> pd.DataFrame:
    """The parameters used, with sources and status, for every output folder."""
    cols = ["label", "value", "unit", "price_year", "distribution", "param_a", "param_b", "low", "high", "source", "status", "notes"]
    df = inputs.parameters.reindex(columns=cols).reset_index()
    return df.rename(columns={"index": "name"})


def format_base_case(base: "BaseCase") -> str:
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


def headline_base_case(base: "BaseCase") -> list[tuple[str, str]]:
    """Headline sentences for the Summary sheet."""
    rows = [("Strategies", ", ".join(base.results.strategies) + f" (comparator: {base.results.comparator})"),
            ("Price year", f"{base.spec.price_year} GBP, per child unless stated")]
    for name, v in base.incremental().items():
        ratio = v["dominance"] if v["cost_per_placement_avoided"] is None else _gbp(v["cost_per_placement_avoided"])
        rows.append((f"{name} vs {base.results.comparator}",
                     f"{name} {'saves' if v['per_child_savings'] >= 0 else 'costs'} {_gbp(abs(v['per_child_savings']))} "
                     f"per child ({_gbp(abs(v['per_family_savings']))} per family) and avoids "
                     f"{v['placements_avoided_per_child']:.3f} placements and {v['care_months_avoided_per_child']:.1f} "
                     f"months in care per child; cost per placement avoided: {ratio}."))
    return rows


def write_base_case(run: RunFolder, base: "BaseCase", inputs) -> None:
    run.table("base_case", base.strategy_table())
    run.table("incremental", base.incremental_table())
    if len(base.results.strategies) > 2:
        run.table("frontier", base.frontier_table())
    trace = base.trace_table()
    run.table("cohort_trace", trace)
    run.table("parameters", parameters_table(inputs))
    run.figure("cohort_trace", charts.trace_chart(trace, base.spec.describe_conventions()))
    run.manifest["conventions"] = base.spec.describe_conventions()
    run.headline += headline_base_case(base)


def format_psa(result: "PSAResult") -> str:
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


def write_psa(run: RunFolder, result: "PSAResult", inputs, conventions: str, save_iterations: bool = False,
              evppi: bool = True) -> dict:
    """PSA tables and charts into a run folder; returns extra JSON (EVPPI, population EVPI)."""
    from . import voi

    extra = {}
    run.table("psa_strategies", result.strategy_summary())
    run.table("psa_incremental", result.incremental_summary())
    ceac = result.accumulator.ceac()
    run.table("ceac", ceac)
    evpi = result.accumulator.evpi()
    settings = inputs.settings
    children_per_year = float(settings["la_referrals_per_year"]) * float(inputs.parameters.loc["children_per_family", "value"])
    decision_years = int(settings.get("decision_years", 10))
    evpi["evpi_population"] = voi.population_evpi(evpi["evpi_per_child"].to_numpy(), children_per_year, decision_years,
                                                  float(settings["discount_rate_costs"]))
    evpi["population_basis"] = f"{children_per_year:,.1f} children a year for {decision_years} years, discounted"
    run.table("evpi", evpi)
    if evppi and result.draws is not None and len(result.draws) >= 200:
        started = time.perf_counter()
        table = voi.evppi_table(result.draws, result.net_benefit())
        run.time("evppi_seconds", time.perf_counter() - started)
        run.table("evppi", table)
        run.figure("evppi", charts.evppi_chart(table, result.wtp_default))
        extra["evppi"] = [{k: r[k] for k in ("parameter", "evppi_per_child", "r_squared")} for r in table.to_dict("records")]
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
    data = result.to_json()
    s = data["per_child_savings"]
    run.headline.append(("PSA", f"{result.iterations:,} iterations (seed {result.seed}): per-child savings "
                                f"{_gbp(s['mean'])} (95% interval {_gbp(s['lower'])} to {_gbp(s['upper'])}); "
                                f"probability cost-saving {data['prob_cost_saving']:.1%}."))
    run.manifest.update({"conventions": conventions, "psa": {"iterations": result.iterations, "seed": result.seed,
                                                               "rule_counts": result.rule_counts}})
    run.timings.update(result.timings)
    return extra


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


def write_budget(run: RunFolder, inputs, years: int | None, families: float | None, iterations: int, seed: int) -> dict:
    """Budget impact tables and chart; with ``iterations`` > 0 a PSA interval for each year's net saving."""
    from .budget import budget_impact
    from .sampling import sample

    base = budget_impact(inputs, years, families)
    strategy = next(s for s in base.strategies if s != base.comparator)
    table = base.table()
    summary = {"strategy": strategy, "comparator": base.comparator, "families_per_year": base.families_per_year,
               "referral_years": base.referral_years, **base.headline()}
    if iterations > 0:
        draws = sample(inputs.parameters, iterations, seed, correlations=inputs.correlations)
        psa = budget_impact(inputs, years, families, values=draws)
        net = psa.net(psa.strategies.index(strategy))  # (N, years)
        cumulative = np.cumsum(net, axis=1)
        table["net_saving_lower"] = np.quantile(net, 0.025, axis=0)
        table["net_saving_upper"] = np.quantile(net, 0.975, axis=0)
        table["cumulative_lower"] = np.quantile(cumulative, 0.025, axis=0)
        table["cumulative_upper"] = np.quantile(cumulative, 0.975, axis=0)
        table["prob_cumulative_saving"] = (cumulative > 0).mean(axis=0)
        summary["psa"] = {"iterations": iterations, "seed": seed,
                          "net_saving": {"lower": float(table["cumulative_lower"].iloc[-1]),
                                         "upper": float(table["cumulative_upper"].iloc[-1])}}
    run.table("budget_by_year", table)
    run.figure("budget_by_year", charts.budget_chart(table, strategy, base.comparator))
    run.table("parameters", parameters_table(inputs))
    run.manifest["budget"] = {"basis": "undiscounted cash; referrals spread evenly over each year's months; "
                                       "years are 12-month periods from the programme start"}
    summary["by_year"] = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                          for r in table[[c for c in table.columns if ":" not in c]].to_dict("records")]
    return summary


def format_budget(summary: dict) -> str:
    lines = [f"Budget impact: {summary['strategy']} vs {summary['comparator']}, "
             f"{summary['families_per_year']:,.0f} families referred a year (undiscounted cash)",
             f"{'Year':>6} {'Programme spend':>16} {'Costs avoided':>15} {'Net saving':>12} {'Cumulative':>12}"]
    for r in summary["by_year"]:
        lines.append(f"{r['year']:>6} {_gbp(r['programme_spend']):>16} {_gbp(r['costs_avoided']):>15} "
                     f"{_gbp(r['net_saving']):>12} {_gbp(r['cumulative_net_saving']):>12}")
    roi = summary["return_on_investment"]
    lines.append(f"Payback year: {summary['payback_year'] or 'not within the period'}; return on investment: "
                 + ("n/a" if roi is None else f"{roi:.0%}"))
    if "psa" in summary:
        p = summary["psa"]
        lines.append(f"Cumulative net saving 95% interval ({p['iterations']:,} iterations): "
                     f"{_gbp(p['net_saving']['lower'])} to {_gbp(p['net_saving']['upper'])}")
    return "\n".join(lines)
