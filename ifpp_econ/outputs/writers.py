"""Turning analysis results into tables in a run folder, and into printed summaries (charts: :mod:`.figures`)."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import declarations
from . import presentation
from .run_folder import RunFolder

if TYPE_CHECKING:
    from ..analyses.budget import BudgetResult
    from ..analyses.deterministic import BaseCase
    from ..analyses.dsa import DSAResult
    from ..analyses.evsi import EVSIResult
    from ..analyses.psa import PSAResult
    from ..analyses.rollup import RollupResult
    from ..analyses.structural import BesidePSA
    from ..analyses.voi import VOIResult


def _gbp(v: float | None) -> str:
    """£ text for the console ("n/a" for a missing value)."""
    if v is None or not np.isfinite(v):
        return "n/a"
    return presentation.gbp(v)


def conventions_line(conventions: str) -> str:
    return "Conventions: " + conventions


def psa_conventions(conventions: str, result: "PSAResult") -> str:
    """The model's conventions as they apply to a PSA: a model-averaged PSA draws the after-effect assumption
    (and 'no effect') per iteration, so it names no single assumption."""
    if not conventions or not result.structural:
        return conventions
    averaged = "after the effect model-averaged (assumption and 'no effect' drawn per iteration; see Structural uncertainty)"
    single = f"after the effect {result.after_effect}"
    return conventions.replace(single, averaged) if single in conventions else f"{conventions}; {averaged}"


def _frontier_lines(frontier: pd.DataFrame, comparator: str) -> list[str]:
    """Full incremental analysis (N > 2 strategies): expected cost and placements, status, ICER on the frontier."""
    lines = ["Incremental analysis of all strategies (efficiency frontier; 'dominant'/'dominated' in the comparisons "
             f"above are against {comparator} only):",
             f"  {'Strategy':24}{'Cost per child':>16}{'Placements':>12}  {'Status':22}{'£ per placement avoided':>24}"]
    for _, r in frontier.iterrows():
        icer = r["icer_per_placement_avoided"]
        lines.append(f"  {str(r['strategy']):24}{_gbp(r['expected_cost']):>16}{r['expected_placements']:>12.4f}  "
                     f"{str(r['status']):22}{(_gbp(icer) if np.isfinite(icer) else '—'):>24}")
    return lines


def parameters_table(inputs) -> pd.DataFrame:
    """The parameters used, with sources and status, for every output folder; ``check`` says "edited; source not
    updated" where a value differs from the template's while its source and status are still the template's."""
    cols = ["label", "value", "unit", "price_year", "distribution", "param_a", "param_b", "low", "high", "source", "status", "notes"]
    df = inputs.parameters.reindex(columns=cols).reset_index().rename(columns={"index": "name"})
    edited = inputs.parameters["edited"].to_numpy(bool) if "edited" in inputs.parameters else np.zeros(len(df), bool)
    df["check"] = np.where(edited, "edited; source not updated", "")  # the value no longer matches its source
    return df


def format_base_case(base: "BaseCase") -> str:
    """A plain-text base-case table for the terminal: a per-child block, a per-family block, the comparisons."""
    table = base.strategy_table().set_index("strategy")
    pct = lambda v: f"{v:.1%}" if np.isfinite(v) else "n/a"  # noqa: E731
    per_child = [
        ("Discounted cost", "cost", _gbp),
        ("  of which IFPP programme", "cost_intervention", _gbp),
        ("  of which placements", "cost_placements", _gbp),
        ("First placements", "first_placements", lambda v: f"{v:.4f}"),
        ("All care entries", "care_entries", lambda v: f"{v:.4f}"),
        ("Months in care", "care_months", lambda v: f"{v:.2f}"),
        ("Living at home at 1 year", "living_at_home_1y", pct),
        ("Living at home at 2 years", "living_at_home_2y", pct),
        ("Living at home at 5 years", "living_at_home_5y", pct),
    ]
    names = list(table.index)
    width = max(14, *(len(n) + 2 for n in names))
    header = f"{'':32}" + "".join(f"{n:>{width}}" for n in names)
    lines = [f"Base case ({base.spec.price_year} prices; costs and outcomes discounted)", "", "Per child", header]
    for label, key, fmt in per_child:
        lines.append(f"{label:32}" + "".join(f"{fmt(table.loc[n, key]):>{width}}" for n in names))
    lines += ["", "Per family", header,
              f"{'Discounted cost':32}" + "".join(f"{_gbp(table.loc[n, 'cost_per_family']):>{width}}" for n in names),
              ""]
    row = lambda label, text: f"    {label:40}{text:>14}"  # noqa: E731
    for name, v in base.incremental().items():
        ratio = v["cost_per_placement_avoided"]
        lines += [
            f"{name} vs {base.results.comparator}:",
            "  Per child",
            row("Savings", _gbp(v["per_child_savings"])),
            row("Placements avoided", f"{v['placements_avoided_per_child']:.4f}"),
            row("Months in care avoided", f"{v['care_months_avoided_per_child']:.2f}"),
            row(f"NMB at £{base.wtp:,.0f} per placement avoided", _gbp(v["incremental_nmb"])),
            "  Per family",
            row("Savings", _gbp(v["per_family_savings"])),
            f"  Cost per placement avoided: {v['dominance'] if ratio is None else _gbp(ratio)}",
        ]
    lines += decision_lines(base)
    lines += outcome_lines({**base.to_json(), "strategy": next(iter(base.incremental()), "")})
    if len(base.results.strategies) > 2:
        lines += [""] + _frontier_lines(base.frontier_table(), base.results.comparator)
    lines += ["", conventions_line(base.spec.describe_conventions())]
    return "\n".join(lines)


AFTER_EFFECT_LABELS = declarations.AFTER_EFFECT_LABELS
PERSPECTIVE_LABELS = declarations.PERSPECTIVE_LABELS


def _opt(v, fmt) -> str:
    return "—" if v is None else fmt(v)


def decision_lines(base: "BaseCase") -> list[str]:
    """The ratios a commissioner needs, the three after-effect assumptions, perspectives and age bands."""
    data = base.to_json()
    name = next(iter(base.incremental()))
    lines = ["", f"Decision ratios, {name} vs {base.results.comparator} (placements counted undiscounted):",
             f"  Programme cost per placement avoided   {_opt(data['programme_cost_per_placement_avoided'], _gbp)}",
             f"  Net saving per placement avoided       {_opt(data['net_saving_per_placement_avoided'], _gbp)}",
             f"  Children referred per placement avoided {_opt(data['children_referred_per_placement_avoided'], lambda v: f'{v:.1f}')}"
             f" ({_opt(data['families_referred_per_placement_avoided'], lambda v: f'{v:.1f}')} families)",
             f"  Maximum affordable cost per family     {_opt(data['max_affordable_cost_per_family'], _gbp)} (break-even)",
             ""] + headline_range_lines(data["headline_range"])
    lines += ["", "Savings by perspective:"]
    for key, v in data["by_perspective"].items():
        mark = "  ← chosen" if key == data["perspective"] else ""
        lines.append(f"  {PERSPECTIVE_LABELS[key]:28} {_gbp(v['per_child_savings']):>10} per child "
                     f"{_gbp(v['per_family_savings']):>10} per family{mark}")
    lines += ["", "By age band at referral (each followed to age 18):",
              f"  {'band':8} {'share':>6} {'savings per child':>18} {'placements avoided (disc.)':>27}"]
    for band, v in data["by_age_band"].items():
        lines.append(f"  {band:8} {v['share']:>6.0%} {_gbp(v['per_child_savings']):>18} "
                     f"{v['placements_avoided_per_child']:>27.4f}")
    return lines


def outcomes_wide(records: list[dict], interval: bool = False) -> pd.DataFrame:
    """Children's outcomes as a board reads them: a row per outcome — the National Framework outcome it maps to
    (short name; base case only), per child each strategy and the difference (with its 95% interval from a PSA), and
    the difference per 100 families referred."""
    per_child = [r for r in records if r["basis"] == "per child"]
    per_100 = {r["key"]: r for r in records if r["basis"] != "per child"}
    rows = []
    for r in per_child:
        row = {"outcome": r["outcome"], "unit": r["unit"]}
        if not interval:  # the Framework outcome (short name) once, in the base case's table
            row["framework_outcome"] = declarations.FRAMEWORK_SHORT.get(r["framework_outcome"], r["framework_outcome"])
        row.update(ifpp=r["ifpp"], usual_care=r["usual_care"], difference=r["difference"])
        if interval:
            row.update(difference_lower=r["difference_lower"], difference_upper=r["difference_upper"])
        row["difference_per_100_families"] = per_100[r["key"]]["difference"]
        rows.append(row)
    return pd.DataFrame(rows)


def ledger_frame(records: list[dict]) -> pd.DataFrame:
    """The payer ledger as a table: a row per payer (the LA's parts named) and a total row."""
    df = pd.DataFrame(records)
    df.insert(0, "payer_row", [f"{r['payer']}: {r['part']}" if r["part"] else r["payer"] for r in records])
    df = df.drop(columns=["payer", "part"])
    total = {"payer_row": "Total, every payer", **{c: float(df[c].sum()) for c in ("ifpp", "usual_care", "savings")}}
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)


def outcome_lines(data: dict, per: str = "per 100 families referred") -> list[str]:
    """Children's outcomes and the payer ledger for the terminal (from run or psa JSON)."""
    rows = [r for r in data["outcomes"] if r["basis"] == per]
    interval = "difference_lower" in (rows[0] if rows else {})
    strategy = data.get("strategy") or "IFPP"
    lines = ["", f"Children's outcomes, {strategy} vs {data['comparator']} ({per}; undiscounted, to age 18"
                 + ("; mean (95% interval)" if interval else "") + "):",
             f"  {'':58} {strategy[:10]:>10} {data['comparator'][:10]:>10} {'difference':>10}"]
    num = lambda v: "n/a" if v is None else f"{v:,.2f}".replace("-", presentation.MINUS)  # noqa: E731
    for r in rows:
        text = f"  {r['outcome'] + ' (' + r['unit'] + ')':58} {num(r['ifpp']):>10} {num(r['usual_care']):>10} " \
               f"{num(r['difference']):>10}"
        if interval and r["difference_lower"] is not None:
            text += f"  ({num(r['difference_lower'])} to {num(r['difference_upper'])})"
        lines.append(text)
    ratio = data.get("cost_per_child_year_at_home")
    if ratio:
        lines.append(f"  Cost per child-year at home gained (discounted): {ratio['reading']}")
    lines += ["", "Who pays and who saves (discounted cost per child; savings = comparator − strategy):",
              f"  {'':28} {strategy[:10]:>10} {data['comparator'][:10]:>10} {'savings':>10}"]
    for r in data["by_payer"]:
        name = f"{r['payer']}: {r['part']}" if r["part"] else r["payer"]
        text = f"  {name:28} {_gbp(r['ifpp']):>10} {_gbp(r['usual_care']):>10} {_gbp(r['savings']):>10}"
        if "savings_lower" in r:
            text += f"  ({_gbp(r['savings_lower'])} to {_gbp(r['savings_upper'])})"
        lines.append(text)
    return lines


def headline_range_text(r: dict) -> str:
    """"£X per child (structural range £low to £high over N cases)"."""
    return (f"{_gbp(r['default'])} per child (structural range {_gbp(r['low'])} to {_gbp(r['high'])} over "
            f"{len(r['cases'])} cases: each after-effect assumption × the effect at child or family level)")


def headline_range_lines(r: dict) -> list[str]:
    """The headline with its structural range, case by case (console of run, psa and report)."""
    lines = [f"Headline: {headline_range_text(r)}; evidence covers 24 months:"]
    for case in r["cases"]:
        lines.append(f"  {case['name']:52} {_gbp(case['per_child_savings']):>10}" + ("  ← base case" if case["default"]
                                                                                     else ""))
    return lines


def base_case_tables(base: "BaseCase") -> dict[str, pd.DataFrame]:
    """The decision tables of a base case: after-effect assumptions, perspectives, age bands, decision ratios,
    children's outcomes and the payer ledger."""
    data = base.to_json()
    return {
        "outcomes": outcomes_wide(data["outcomes"]),
        "by_payer": ledger_frame(data["by_payer"]),
        "headline_range": pd.DataFrame([{"name": c["name"], "after_effect": c["after_effect"],
                                         "effect_level": c["effect_level"], "relative_risk": c["relative_risk"],
                                         "per_child_savings": c["per_child_savings"],
                                         "default": "base case" if c["default"] else ""}
                                        for c in data["headline_range"]["cases"]]),
        "by_perspective": pd.DataFrame([{"perspective": PERSPECTIVE_LABELS[k], **v}
                                        for k, v in data["by_perspective"].items()]),
        "by_age_band": pd.DataFrame([{"age_band": k, **v} for k, v in data["by_age_band"].items()]),
        "decision_ratios": pd.DataFrame([{"measure": k, "value": data[k]} for k in (
            "programme_cost_per_placement_avoided", "net_saving_per_placement_avoided",
            "children_referred_per_placement_avoided", "families_referred_per_placement_avoided",
            "max_affordable_cost_per_family", "placements_avoided_per_child_undiscounted")]),
    }


def headline_base_case(base: "BaseCase") -> list[tuple[str, str]]:
    """Headline sentences for the Summary sheet."""
    rows = [("Headline", headline_range_text(base.headline_range())),
            ("Strategies", ", ".join(base.results.strategies) + f" (comparator: {base.results.comparator})"),
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
    from ..analyses.validation import operational_validation

    for name, table in base_case_tables(base).items():
        run.table(name, table)
    run.table("operational_validation", base.validation if base.validation is not None else operational_validation(inputs))
    run.table("parameters", parameters_table(inputs))
    run.manifest["conventions"] = base.spec.describe_conventions()
    run.headline += headline_base_case(base)


def format_psa(result: "PSAResult", conventions: str = "", beside: "BesidePSA | None" = None) -> str:
    """PSA summary for the terminal: every strategy against the comparator, with 95% intervals; ``beside``: the
    other PSA (model-averaged or default) and the τ table."""
    data = result.to_json()
    summary = result.incremental_summary()
    lines = ([f"Base case: {headline_range_text(result.headline_range)}"] if result.headline_range else [])
    lines += [f"PSA: {result.iterations:,} iterations, seed {result.seed}; per child unless stated; "
              "mean (2.5th to 97.5th percentile)"]
    warning = presentation.small_sample_warning(result.iterations)
    if warning:
        lines.append(warning)
    if "subsample" in data:
        se = data["subsample"]["interval_se"]["per_child_savings"]
        lines.append(f"  ({data['subsample']['note']}; Monte Carlo SE of the savings interval's ends "
                     f"{_gbp(se['lower'])} and {_gbp(se['upper'])})")
    rows = [("per_child_savings", "Savings per child", _gbp), ("per_family_savings", "Savings per family", _gbp),
            ("placements_avoided_per_child", "Placements avoided", lambda v: f"{v:.4f}".replace("-", presentation.MINUS)),
            ("care_months_avoided_per_child", "Months in care avoided", lambda v: f"{v:.2f}".replace("-", presentation.MINUS)),
            ("incremental_nmb", f"NMB at £{result.wtp_default:,.0f}/placement", _gbp)]
    for name, df in summary.groupby("strategy", sort=False):
        by = df.set_index("metric")
        lines.append(f"{name} vs {result.comparator}:")
        for metric, label, fmt in rows:
            if metric in by.index:
                r = by.loc[metric]
                lines.append(f"  {label:30} {fmt(r['mean']):>12}  ({fmt(r['lower'])} to {fmt(r['upper'])})")
        lines.append(f"  {'Probability cost-saving':30} {presentation.probability(by.loc['prob_cost_saving', 'mean']):>12}")
        ratio = by.loc["cost_per_placement_avoided (ratio of means)"]
        lines.append(f"  {'Cost per placement avoided':30} "
                     + (_gbp(ratio["mean"]) if np.isfinite(ratio["mean"]) else str(ratio.get("note", "n/a"))))
    if len(result.strategies) > 2:
        lines += _frontier_lines(psa_frontier(result), result.comparator)
    lines += [*beside_lines(result, beside), f"  Effect: {result.distributions}", *after_effect_lines(result),
              "  Structural uncertainty: " + structural_text(result),
              f"  By age band, {data['strategy']} (per-child savings, 95% interval):",
              *(f"    {band:8} {_gbp(v['per_child_savings']['mean']):>10}  ({_gbp(v['per_child_savings']['lower'])} to "
                f"{_gbp(v['per_child_savings']['upper'])})" for band, v in data["by_age_band"].items())]
    lines += outcome_lines(data)
    lines.append(rules_sentence(data["rule_counts"], result.iterations))
    if conventions:
        lines.append(conventions_line(psa_conventions(conventions, result)))
    return "\n".join(lines)


def psa_frontier(result: "PSAResult") -> pd.DataFrame:
    """The efficiency frontier on the PSA means of cost and first placements per child."""
    from ..analyses.comparison import frontier

    means = result.strategy_summary().set_index(["strategy", "outcome"])["mean"]
    costs = np.array([means[(s, "cost")] for s in result.strategies])
    placements = np.array([means[(s, "first_placements")] for s in result.strategies])
    return frontier(costs, placements, list(result.strategies))


def rules_sentence(counts: dict, iterations: int) -> str:
    """Which sampling rules bound (e.g. a risk curve reordered), in how many iterations."""
    used = [f"{k.replace('_', ' ')} in {v:,} of {iterations:,} iterations" for k, v in counts.items() if v]
    return ("Rules that bound in sampling: " + "; ".join(used) + ".") if used else \
        "Rules that bound in sampling: none (every draw used as sampled)."


def after_effect_lines(result: "PSAResult") -> list[str]:
    """The three after-effect assumptions side by side (deterministic, at base values), the PSA's one marked."""
    if not result.after_effect_savings:
        return []
    chosen = "model-averaged" if result.structural else result.after_effect
    lines = ["  After the effect, at child and family level (base-case values; the PSA above uses "
             + (chosen.replace("_", " ") if chosen != "model-averaged" else "a model-averaged mix") + "):"]
    for case in result.headline_range.get("cases", []):
        lines.append(f"    {case['name']:52} {_gbp(case['per_child_savings']):>10}" + ("  ← PSA" if case["default"]
                                                                                       and not result.structural else ""))
    return lines


def beside_text(result: "PSAResult", beside: "BesidePSA") -> str:
    """Both PSAs' mean per-child savings and P(cost-saving) in one sentence."""
    data, other = result.to_json(), beside.averaged
    this = "model-averaged" if result.structural else "default"
    that = "model-averaged" if other["kind"] == "model_averaged" else "default"
    return (f"{this} PSA mean {_gbp(data['per_child_savings']['mean'])}, probability cost-saving "
            f"{presentation.probability(data['prob_cost_saving'])} ({result.iterations:,} iterations); {that} PSA mean "
            f"{_gbp(other['per_child_savings']['mean'])}, probability cost-saving "
            f"{presentation.probability(other['prob_cost_saving'])} (the same draws, first {other['iterations']:,} "
            f"iterations)")


def beside_lines(result: "PSAResult", beside: "BesidePSA | None") -> list[str]:
    """The two PSAs side by side and the τ table (console)."""
    if beside is None:
        return []
    lines = [f"  Beside it: {beside_text(result, beside)}; {beside.seconds:.1f} s",
             "  Between-study SD τ of the log RR (same draws, first "
             f"{int(beside.tau['iterations'].iloc[0]):,} iterations):",
             f"    {'τ':>5} {'mean savings':>13} {'P(cost-saving)':>15} {'EVPI per child':>15}"]
    for r in beside.tau.to_dict("records"):
        lines.append(f"    {r['tau']:>5.2f} {_gbp(r['per_child_savings']):>13} "
                     f"{presentation.probability(r['prob_cost_saving']):>15} {presentation.gbp(r['evpi_per_child'], 2):>15}"
                     + ("  ← workbook" if r["workbook"] else ""))
    return lines


def structural_text(result: "PSAResult") -> str:
    if not result.structural:
        return "none sampled (one after-effect assumption; set psa_structural = model_averaged or --structural)"
    w, drawn = result.structural["weights"], result.structural["iterations_drawn"]
    return ("model-averaged: " + ", ".join(f"{k} weight {w[k]:.2f} ({drawn[k]:,} iterations)" for k in AFTER_EFFECT_LABELS)
            + f"; no effect probability {w['no_effect']:.2f} ({drawn['no_effect']:,} iterations)")




def write_psa(run: RunFolder, result: "PSAResult", inputs, conventions: str, save_iterations: bool = False,
              voi: "VOIResult | None" = None, beside: "BesidePSA | None" = None) -> dict:
    """A PSA result's tables (and its value of information's and the other PSA's and τ table, when given) into a
    run folder; nothing is computed here. Returns extra JSON (EVPPI, the other PSA, the τ table)."""
    extra: dict = {}
    if beside is not None:
        run.table("tau_sensitivity", beside.tau)
        extra.update(beside.to_json())
    run.table("psa_strategies", result.strategy_summary())
    run.table("psa_incremental", result.incremental_summary())
    ceac = result.ceac()
    run.table("ceac", ceac)
    evpi = voi.evpi if voi is not None else result.evpi()
    run.table("evpi", evpi)
    if voi is not None and voi.evppi is not None:
        run.time("evppi_seconds", voi.seconds)
        run.table("evppi", voi.evppi)
        extra["evppi"] = voi.to_json()["evppi"]
        drawn = result.draws.columns if result.draws is not None else ()
        extra["evppi_not_used_by_this_model"] = [name for name in result.unused_parameters if name in drawn]
    run.table("parameters", parameters_table(inputs))
    run.table("ce_plane", ce_plane_points(result.incremental()))
    if len(result.strategies) > 2:
        run.table("psa_frontier", psa_frontier(result))
    if save_iterations:  # written while the PSA ran (IterationsFile)
        run.files.append(IterationsFile.NAME)
    data = result.to_json()
    s = data["per_child_savings"]
    run.headline.append(("PSA", f"{result.iterations:,} iterations (seed {result.seed}): per-child savings "
                                f"{_gbp(s['mean'])} (95% interval {_gbp(s['lower'])} to {_gbp(s['upper'])}); "
                                f"probability cost-saving {presentation.probability(data['prob_cost_saving'])}; "
                                f"{result.distributions}; structural uncertainty: {structural_text(result)}."))
    run.table("psa_outcomes", outcomes_wide(data["outcomes"], interval=True))
    run.table("psa_by_payer", ledger_frame(data["by_payer"]))
    if beside is not None:
        run.headline.append(("PSA beside it", beside_text(result, beside) + "."))
    run.table("psa_by_age_band", pd.DataFrame([{"age_band": band, "metric": metric, **v}
                                               for band, metrics in data["by_age_band"].items()
                                               for metric, v in metrics.items()]))
    run.manifest.update({"conventions": psa_conventions(conventions, result), "psa": {"iterations": result.iterations, "seed": result.seed,
                                                               "rule_counts": result.rule_counts,
                                                               "effect_distribution": result.distributions,
                                                               "structural": result.structural or {"sampled": False}}})
    run.timings.update(result.timings)
    return extra






class IterationsFile:
    """``iterations.csv.gz``: every PSA iteration as a row (``draw:<parameter>`` columns, then each kept outcome per
    strategy, ``cost[IFPP]`` …), written chunk by chunk while the PSA runs (:func:`~ifpp_econ.analyses.psa.run_psa`'s
    ``on_chunk``), so no iteration is held for it: the same rows as ``PSAResult.samples(draws=True)`` of a PSA that
    kept them all."""

    NAME = "iterations.csv.gz"

    def __init__(self, run: RunFolder, strategies: list[str]):
        import gzip

        self.strategies = strategies
        # level 1: ≈ 17 µs of compression an iteration against ≈ 160 µs at gzip's default 9, for a file ≈ 8% larger
        # (≈ 0.9 kB an iteration); formatting the CSV text (:func:`csv_rows`, ≈ 60 µs an iteration) is the rest
        self.handle = gzip.open(run.path / self.NAME, "wt", encoding="utf-8", newline="", compresslevel=1)
        self.first = True

    def __call__(self, start: int, draws: pd.DataFrame, outcomes: dict[str, np.ndarray]) -> None:
        from ..analyses.psa import iteration_rows

        rows = iteration_rows(outcomes, self.strategies, draws, start)
        if self.first:  # the header by pandas (it quotes names that need it)
            rows.iloc[:0].to_csv(self.handle)
            self.first = False
        self.handle.write(csv_rows(rows))

    def close(self) -> None:
        self.handle.close()


def csv_rows(frame: pd.DataFrame) -> str:
    """``frame.to_csv(header=False)``'s text (index first), about 2.5 times faster for a frame of numbers: each value
    as ``str`` (a float's shortest round-trip form, as pandas writes it), missing values empty. Text columns (which
    pandas may need to quote) are left to pandas."""
    columns = [frame.index.to_numpy(), *(frame[c].to_numpy() for c in frame.columns)]
    if any(c.dtype.kind not in "biuf" for c in columns):
        return frame.to_csv(header=False)

    def text(values: np.ndarray) -> list[str]:
        if values.dtype.kind == "f" and np.isnan(values).any():
            return ["" if v != v else str(v) for v in values.tolist()]
        return list(map(str, values.tolist()))
    return "".join(",".join(row) + "\n" for row in zip(*map(text, columns)))


def write_evsi(run: RunFolder, result: "EVSIResult") -> dict:
    """The EVSI table (``evsi.csv``: one row per trial size) into a run folder, its settings into the manifest and a
    headline line; returns the ``evsi`` JSON."""
    run.table("evsi", result.table())
    run.manifest["evsi"] = {"method": result.method, "sample_sizes": [int(n) for n in result.sample_sizes],
                            "trial_fixed_cost": result.trial_fixed_cost,
                            "trial_cost_per_family": result.trial_cost_per_family, "iterations": result.iterations,
                            "informed": result.informed}
    run.headline.append(("EVSI", evsi_sentence(result)))
    return {"evsi": result.to_json()}


def evsi_sentence(result: "EVSIResult") -> str:
    """One sentence: EVSI per child at the smallest and largest trial, the ceiling, and the optimal trial size."""
    n, v = result.sample_sizes, result.evsi_per_child
    text = (f"a two-arm trial of {n[0]:,} to {n[-1]:,} families per arm is worth {_gbp(v[0])} to {_gbp(v[-1])} per "
            f"child referred (EVPPI of what it informs: {_gbp(result.evppi_informed_per_child)})")
    best, value = result.optimal()
    if best is not None and value is not None:
        text += (f"; optimal {best:,} families per arm, ENBS {_gbp(value)}" if value > 0 else
                 f"; no trial size on the grid is worth its cost (best ENBS {_gbp(value)} at {best:,} per arm)")
    return text + f" ({result.method} estimator)."


def format_evsi(result: "EVSIResult") -> str:
    """EVSI for the terminal: one line per trial size (EVSI per child ± SE, population EVSI, trial cost, ENBS)."""
    lines = [f"Value of a trial (EVSI, {result.method} estimator; two arms, n families per arm, placement within 12 "
             f"months): EVPPI of what it informs {_gbp(result.evppi_informed_per_child)} per child"]
    table = result.table()
    for row in table.itertuples():
        line = f"  n = {row.sample_size:>7,}  EVSI {_gbp(row.evsi_per_child):>9} per child (SE {_gbp(row.evsi_se)})"
        if "enbs" in table.columns:
            line += (f"; population {_gbp(row.population_evsi):>12}, trial cost {_gbp(row.trial_cost):>11}, "
                     f"ENBS {_gbp(row.enbs):>12}" + ("  ← optimal" if row.optimal else ""))
        lines.append(line)
    return "\n".join(lines)


def ce_plane_points(incremental: dict[str, dict[str, np.ndarray]], max_points: int = 1000) -> pd.DataFrame:
    """The first ``max_points`` PSA iterations of each comparison: placements avoided and incremental cost per child."""
    frames = []
    for name, m in incremental.items():
        n = min(len(m["per_child_savings"]), max_points)
        frames.append(pd.DataFrame({"strategy": name, "iteration": np.arange(1, n + 1),
                                    "placements_avoided_per_child": m["placements_avoided_per_child"][:n],
                                    "incremental_cost_per_child": -m["per_child_savings"][:n]}))
    return pd.concat(frames, ignore_index=True)


def write_dsa(run: RunFolder, result: "DSAResult", inputs, top: int = 15) -> dict:
    """A DSA result's tables into a run folder (nothing computed here); returns its JSON summary."""
    units = {str(k): str(v) for k, v in inputs.parameters["unit"].items()}
    run.table("tornado", result.tornado)
    run.table("thresholds", result.thresholds)
    run.table("two_way", result.two_way)
    run.table("scenarios", result.scenarios)
    run.table("parameters", parameters_table(inputs))
    note = ("Shares (placement mix by age band, age bands) vary one at a time with the other shares of their group "
            "rescaled to keep the sum at 1; risk_12m scales the whole usual-care curve (the 3/6/24-month risks in "
            "proportion), and the 3/6/24-month risks vary only between their neighbours. A relative risk runs over the "
            "predictive 95% interval the PSA samples for a new setting (between-study SD rr_between_study_sd); its "
            "pooled-mean 95% CI is a second row.")
    run.manifest["dsa"] = {"outcome": result.outcome, "wtp": result.wtp, "base_outcome": result.base_outcome,
                           "note": note}
    run.manifest.setdefault("conventions", _model_conventions(inputs))  # as the console prints them
    data = result.to_json()
    keep = ["parameter", "label", "low", "high", "outcome_low", "outcome_high", "swing", "range_source", "moves"]
    data["tornado"] = [{k: r[k] for k in keep if k in r} for r in data["tornado"]]
    return {**data, "note": note, "units": {r: units.get(r, units.get(m)) for r, m in zip(result.tornado["parameter"],
                                                                               result.tornado["moves"])}}


def format_dsa(summary: dict, top: int = 10, conventions: str = "") -> str:
    """One-way, thresholds and scenarios for the terminal, with human labels and £."""
    unit, kind, decimals = presentation.DSA_OUTCOME_FORMATS.get(summary["outcome"], ("", "number", 4))
    out = presentation.Column("", unit, kind, decimals)
    fmt_out = lambda v: presentation.format_value(v, out)  # noqa: E731
    label = presentation.COLUMNS[summary["outcome"]].label
    units = summary.get("units", {})
    value = lambda name, v: presentation.format_value(v, presentation.unit_column(units.get(name) or ""))  # noqa: E731
    lines = [f"One-way sensitivity: {label}, base case {fmt_out(summary['base_outcome'])}"
             + (f" (NMB at £{summary['wtp']:,.0f} per placement avoided)" if summary["outcome"] == "nmb" else ""),
             f"  {'Parameter':46} {'low value → outcome':>30}   {'high value → outcome':>30}"]
    for r in summary["tornado"][:top]:
        name = str(r.get("label") or r["parameter"])
        if len(name) > 46:  # a long label on its own line (never cut)
            lines.append(f"  {name}")
            name = ""
        lines.append(f"  {name:46} {value(r['parameter'], r['low']):>12} → {fmt_out(r['outcome_low']):>14}   "
                     f"{value(r['parameter'], r['high']):>12} → {fmt_out(r['outcome_high']):>14}")
    labels = {r["parameter"]: (r.get("label") or r["parameter"]).split(" — predictive")[0] for r in summary["tornado"]}
    lines.append(f"Break-even thresholds (the value at which {label.lower()} is zero):")
    for r in summary["thresholds"]:
        name = r["parameter"]
        found = (f"break-even at {value(name, r['threshold'])}" if r["threshold"] is not None else
                 f"no break-even between {value(name, r['search_from'])} and {value(name, r['search_to'])}")
        lines.append(f"  {labels.get(name, name)} ({name}): base {value(name, r['base'])}; {found}")
    lines.append("Scenarios (per child):")
    for r in summary["scenarios"]:
        ratio = r.get("cost_per_placement_avoided")
        lines.append(f"  {r['scenario']:28} savings {_gbp(r['per_child_savings']):>10}   placements avoided "
                     f"{r['placements_avoided_per_child']:.4f}   "
                     + (f"cost per placement avoided {_gbp(ratio)}" if ratio is not None else r["dominance"]))
    lines.append(summary["note"])
    if conventions:
        lines.append(conventions_line(conventions))
    return "\n".join(lines)


def write_budget(run: RunFolder, result: "BudgetResult", inputs) -> dict:
    """A budget result's table into a run folder (nothing computed here); returns its JSON summary."""
    table = result.table()
    run.table("budget_by_year", table)
    ledger = result.base.ledger()
    if ledger:
        run.table("budget_by_payer", ledger_frame(ledger))
    run.table("parameters", parameters_table(inputs))
    from ..analyses.psa import structural_weights
    from ..model.spec import build_spec

    summary = result.to_json()
    averaged = "psa" in summary and structural_weights(inputs) is not None  # its intervals drawn model-averaged
    if averaged:
        summary["psa"]["structural"] = "model_averaged"
    conventions = presentation.budget_basis(build_spec(inputs).price_year, _model_conventions(inputs))
    if averaged:
        conventions = averaged_intervals(conventions)
    run.manifest["budget"] = {"basis": "undiscounted cash; referrals spread evenly over each year's months; "
                                       "years are 12-month periods from the programme start",
                              "conventions": conventions}
    run.manifest.setdefault("conventions", conventions)  # a budget run's own: what format_budget prints
    return summary


def averaged_intervals(conventions: str) -> str:
    """Budget conventions whose PSA intervals were drawn model-averaged: the after-effect assumption named is the
    base case's only."""
    return re.sub(r"after the effect (\w+)", r"after the effect \1 in the base case (the 95% intervals model-averaged "
                  r"over the after-effect assumptions and 'no effect')", conventions, count=1)


def _model_conventions(inputs) -> str:
    """The model's conventions for a workbook (what the commands print under their results)."""
    from ..model.spec import build_spec

    return build_spec(inputs).describe_conventions()


def format_budget(summary: dict, conventions: str = "", price_year: str = "") -> str:
    """Budget impact by year for the terminal (undiscounted cash at the analysis year's prices).

    ``conventions``: the model's; its footer keeps only what applies to cash (no discount rates, nothing per child).
    """
    base = f"undiscounted cash{f', {price_year} prices' if price_year else ''}"
    lines = [f"Budget impact: {summary['strategy']} vs {summary['comparator']}, "
             f"{summary['families_per_year']:,.0f} families ({summary.get('children_per_year', 0):,.0f} children) "
             f"referred a year ({base})"]
    if summary["families_per_year"] <= 0:
        lines.append("No families referred: nothing is spent on the programme and nothing is saved.")
    else:
        lines.append(f"{'Year':>6} {'Children':>9} {'Placements avoided':>19} {'Programme spend':>16} {'Costs avoided':>15} "
                     f"{'Net saving':>12} {'Cumulative':>12}")
        for r in summary["by_year"]:
            lines.append(f"{r['year']:>6} {r.get('children_referred', 0):>9,.0f} {r.get('placements_avoided', 0):>19.2f} "
                         f"{_gbp(r['programme_spend']):>16} {_gbp(r['costs_avoided']):>15} "
                         f"{_gbp(r['net_saving']):>12} {_gbp(r['cumulative_net_saving']):>12}")
        lines.append("Placements avoided: children not placed that year (undiscounted count).")
        roi = summary["return_on_investment"]
        lines.append(f"Payback year: {summary['payback_year'] or 'not within the period'}; return on investment: "
                     + ("n/a" if roi is None else f"{roi:.0%}"))
        if "cashable_savings" in summary:
            lines.append(f"Of the costs avoided, cashable {_gbp(summary['cashable_savings'])} (spot purchases and "
                         f"other cash) and notional {_gbp(summary['notional_savings'])} (capacity freed, no cash); "
                         f"on cash alone the net saving is {_gbp(summary['cash_net_saving'])}, payback year "
                         f"{summary['payback_year_cash'] or 'not within the period'}")
        if summary.get("by_payer"):
            lines.append("By payer over the years (undiscounted; savings = usual care − strategy): " + "; ".join(
                f"{r['payer'] + (': ' + r['part'] if r['part'] else '')} {_gbp(r['savings'])}"
                for r in summary["by_payer"]))
        if "psa" in summary:
            p = summary["psa"]
            averaged = ", model-averaged" if p.get("structural") == "model_averaged" else ""
            lines.append(f"Cumulative net saving 95% interval ({p['iterations']:,} iterations{averaged}): "
                         f"{_gbp(p['net_saving']['lower'])} to {_gbp(p['net_saving']['upper'])}")
            warning = presentation.small_sample_warning(p["iterations"])
            if warning:
                lines.append(warning)
    footer = presentation.budget_basis(price_year, conventions)
    if summary.get("psa", {}).get("structural") == "model_averaged":
        footer = averaged_intervals(footer)
    lines.append(conventions_line(footer))
    return "\n".join(lines)


ROLLUP_MODEL = ("log RR of authority a in iteration i = μ_a + σ_a·s_i + τ_a·e_ai: s_i (the pooled effect) shared by "
                "every authority, e_ai (its deviation, τ = rr_between_study_sd) and every other parameter from the "
                "authority's own stream; each authority's marginal is its own PSA's")


def write_rollup(run: RunFolder, result: "RollupResult") -> None:
    """A rollup's tables into a run folder: ``rollup_authorities`` (ranked) and ``rollup_totals`` (the region)."""
    run.table("rollup_authorities", result.summary())
    run.table("rollup_totals", result.totals())
    run.manifest["rollup"] = {"model": ROLLUP_MODEL, "authorities": len(result.names), "years": result.years,
                              "value_of_information": result.value_of_information["note"]}
    run.manifest.setdefault("conventions", "per-child results discounted (each workbook's rates); budget totals "
                            f"undiscounted cash over {result.years} years of referrals; " + ROLLUP_MODEL)


def format_rollup(result: "RollupResult", top: int = 10) -> str:
    """A rollup for the terminal: the region's totals, then the authorities ranked by net saving (the first ``top``
    and the last)."""
    data = result.to_json()
    t = data["total"]
    voi = data["value_of_information"]

    def interval(s: dict, fmt=_gbp) -> str:
        return f"{fmt(s['mean'])} (95% interval {fmt(s['lower'])} to {fmt(s['upper'])})"

    def count(v: float) -> str:
        return f"{v:,.1f}"

    lines = [f"Rollup: {result.strategy} vs {result.comparator}, {len(result.names)} authorities, "
             f"{t['families_per_year']:,.0f} families referred a year, {result.iterations:,} iterations (seed "
             f"{result.seed})",
             f"Net saving over {result.years} years of referrals (undiscounted): {interval(t['net_saving'])}",
             f"Probability the region saves money: {presentation.probability(t['prob_region_saves'])}",
             f"First placements avoided a year: {interval(t['placements_avoided_per_year'], count)}",
             f"Children kept at home over {result.years} years: {interval(t['children_kept_at_home'], count)}",
             f"Population EVPI of the region: {_gbp(voi['evpi'])}; EVPPI of the shared effect "
             f"{_gbp(voi['evppi_shared_effect'])}, of the local parameters at most {_gbp(voi['evppi_local_parameters'])}"]
    if "national" in data:
        nat = data["national"]
        lines.append(f"National ({nat['families_per_year']:,.0f} families a year, ×{nat['scale_factor']:.2f}): net "
                     f"saving {interval(nat['net_saving'])}; first placements avoided a year "
                     f"{interval(nat['placements_avoided_per_year'], count)}")
    table = result.summary()
    lines.append("")
    lines.append(f"{'Rank':>4}  {'Authority':<28} {'Net saving (95% interval)':>42} {'P(saves)':>9} {'Per child':>10}")
    shown = table if len(table) <= 2 * top else pd.concat([table.head(top), table.tail(top)])
    last = None
    for r in shown.to_dict("records"):
        if last is not None and r["rank"] != last + 1:
            lines.append(f"{'…':>4}")
        last = r["rank"]
        saving = f"{_gbp(r['net_saving_mean'])} ({_gbp(r['net_saving_lower'])} to {_gbp(r['net_saving_upper'])})"
        lines.append(f"{r['rank']:>4}  {str(r['authority'])[:28]:<28} {saving:>42} "
                     f"{presentation.probability(r['prob_budget_saving']):>9} {_gbp(r['per_child_savings_mean']):>10}")
    lines.append(conventions_line(f"budget totals undiscounted, per-child savings discounted; {ROLLUP_MODEL}"))
    return "\n".join(lines)
