"""A self-contained HTML report: every analysis, charts inline as SVG, no network requests."""
from __future__ import annotations

import html
import io

import numpy as np
import pandas as pd

from . import __version__, charts

CHEERS_2022 = [
    ("1", "Title", "Report title names the intervention, comparator and analysis type."),
    ("2", "Abstract", "Headline results section."),
    ("3", "Background and objectives", "Decision problem."),
    ("4", "Health economic analysis plan", "Conventions and analyses listed; workbook settings in the manifest."),
    ("5", "Study population", "Children at imminent risk of entering care; age bands (parameter table)."),
    ("6", "Setting and location", "Local-authority children's social care, UK (England/Wales)."),
    ("7", "Comparators", "Strategies section."),
    ("8", "Perspective", "Local authority / public sector (conventions)."),
    ("9", "Time horizon", "To age 18 or the horizon setting (conventions)."),
    ("10", "Discount rate", "Conventions."),
    ("11", "Selection of outcomes", "Placements avoided, months in care, per-child savings."),
    ("12", "Measurement of outcomes", "Evidence sources in the parameter table."),
    ("13", "Valuation of outcomes", "Net monetary benefit per placement avoided over a willingness-to-pay grid."),
    ("14", "Measurement and valuation of resources and costs", "Parameter table: unit costs, units, price years, sources."),
    ("15", "Currency, price date and conversion", "Conventions: price year and inflation uplift."),
    ("16", "Rationale and description of model", "Model section and state diagram."),
    ("17", "Analytics and assumptions", "Conventions, assumptions, rule counts."),
    ("18", "Characterising heterogeneity", "Age bands (sub-cohorts); scenarios."),
    ("19", "Characterising distributional effects", "Not assessed."),
    ("20", "Characterising uncertainty", "PSA, DSA (tornado, thresholds, two-way), scenarios, VOI."),
    ("21", "Approach to engagement with patients and others affected", "Not applicable to this tool."),
    ("22", "Study parameters", "Parameter table with distributions, ranges, sources and status."),
    ("23", "Summary of main results", "Base case and PSA sections."),
    ("24", "Effect of uncertainty", "PSA, CEAC, tornado, EVPI/EVPPI."),
    ("25", "Effect of engagement with patients and others affected", "Not applicable."),
    ("26", "Study findings, limitations, generalisability", "Estimates flagged (status E) in the parameter table."),
    ("27", "Source of funding", "Not applicable to a tool run; state in the submission."),
    ("28", "Conflicts of interest", "Not applicable to a tool run; state in the submission."),
]


def svg(fig) -> str:
    """A matplotlib figure as inline SVG markup (closes the figure)."""
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def model_diagram() -> "charts.plt.Figure":
    """The state-transition diagram of the family-states model."""
    plt = charts.plt
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    boxes = {"At home\n(never placed)": (0.12, 0.5), "In care\n(tunnels 0–23 m, 24 m+)": (0.5, 0.5),
             "Returned home\n(tunnels 0–11 m, 12 m+)": (0.88, 0.8), "Left care\n(adoption, SGO, other)": (0.88, 0.2)}
    for label, (x, y) in boxes.items():
        ax.text(x, y, label, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.6", fc="#eef4fb", ec="#1f77b4"))
    arrows = [((0.2, 0.5), (0.4, 0.5), "first entry (calibrated hazard; × RR for IFPP)"),
              ((0.6, 0.58), (0.78, 0.78), "reunification"),
              ((0.77, 0.72), (0.59, 0.54), "re-entry"),
              ((0.6, 0.42), (0.78, 0.22), "other permanence")]
    for (x0, y0), (x1, y1), text in arrows:
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", lw=1.3))
        ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.06, text, ha="center", fontsize=7)
    ax.text(0.5, 0.02, "Monthly cycles; the cohort leaves the model at age 18 (age bands as sub-cohorts).",
            ha="center", fontsize=7)
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return fig


def table_html(df: pd.DataFrame, money: tuple[str, ...] = (), pct: tuple[str, ...] = (), digits: int = 4,
               flag_estimates: bool = False) -> str:
    """An HTML table with escaped text and formatted numbers."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for _, r in df.iterrows():
        cells = []
        for c in df.columns:
            v = r[c]
            if isinstance(v, (float, np.floating)) and not np.isfinite(v):
                text = ""
            elif c in money and isinstance(v, (int, float, np.number)):
                text = f"-£{abs(v):,.0f}" if v < 0 else f"£{v:,.0f}"
            elif c in pct and isinstance(v, (int, float, np.number)):
                text = f"{v:.1%}"
            elif isinstance(v, (float, np.floating)):
                text = f"{v:,.{digits}g}"
            else:
                text = str(v)
            cells.append(f"<td>{html.escape(text)}</td>")
        status = str(r.get("status", "")).strip().upper() if flag_estimates else ""
        cls = ' class="estimate"' if status.startswith("E") else ' class="local"' if status == "L" else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


STYLE = """
body{font-family:Georgia,serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:2px solid #1f77b4;padding-bottom:.2em;margin-top:2em;page-break-before:always}
h2.first{page-break-before:avoid}table{border-collapse:collapse;font-size:.78em;margin:1em 0;width:100%;word-break:break-word}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#eef4fb}
tr.estimate td{background:#fff4e0}tr.local td{background:#e6f2e6}.chart svg{max-width:100%;height:auto}.note{font-size:.85em;color:#555}
.headline{font-size:1.1em;background:#f5f9ff;border-left:4px solid #1f77b4;padding:.6em 1em}
@media print{body{max-width:none}.chart{page-break-inside:avoid}}
"""


def render(sections: list[tuple[str, str]], title: str) -> str:
    body = "".join(f'<section id="s{i}"><h2{" class=first" if i == 0 else ""}>{html.escape(h)}</h2>{content}</section>'
                   for i, (h, content) in enumerate(sections))
    toc = "".join(f'<li><a href="#s{i}">{html.escape(h)}</a></li>' for i, (h, _) in enumerate(sections))
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class=note>ifpp-econ {__version__}</p><nav><ol>{toc}</ol></nav>{body}</body></html>")


def chart(fig, caption: str) -> str:
    return f'<figure class="chart">{svg(fig)}<figcaption class=note>{html.escape(caption)}</figcaption></figure>'


def build_report(inputs, n: int, seed: int, run, progress=None) -> dict:
    """Run base case, PSA, DSA, VOI and budget impact; write every table/chart to ``run`` and ``report.html``."""
    from . import dsa, outputs, voi
    from .analysis import summarise
    from .budget import budget_impact
    from .deterministic import run_base_case
    from .psa import run_psa
    from .validation import operational_validation

    base = run_base_case(inputs)
    outputs.write_base_case(run, base, inputs)
    conventions = base.spec.describe_conventions()
    psa = run_psa(inputs, n, seed, keep_draws=min(n, 20_000), progress=progress)
    extra = outputs.write_psa(run, psa, inputs, conventions)
    averaged = run_psa(inputs, n, seed, structural="model_averaged")  # structural uncertainty, beside the default
    validation_table = operational_validation(inputs)
    dsa_summary = outputs.write_dsa(run, inputs)
    budget_summary = outputs.write_budget(run, inputs, None, None, min(n, 1000), seed)

    comparator = base.results.comparator
    inc = base.incremental()
    strategy, main = next(iter(inc.items()))
    psa_json = psa.to_json()
    s = psa_json["per_child_savings"]
    ratio = main["cost_per_placement_avoided"]
    headline = (
        f"<p class=headline>Compared with {html.escape(comparator)}, {html.escape(strategy)} saves "
        f"<b>£{main['per_child_savings']:,.0f} per child</b> in the base case (PSA mean £{s['mean']:,.0f}, 95% interval "
        f"£{s['lower']:,.0f} to £{s['upper']:,.0f}) and avoids {main['placements_avoided_per_child']:.3f} placements per "
        f"child; cost per placement avoided: "
        f"{html.escape(main['dominance'] if ratio is None else f'£{ratio:,.0f}')}. Probability cost-saving: "
        f"{psa_json['prob_cost_saving']:.0%} ({n:,} iterations, seed {seed}).</p>"
    )
    strategies = pd.DataFrame([{"strategy": st.name, "receives IFPP": "yes" if st.receives_ifpp else "no",
                                "costing": st.cost_method, "description": st.description} for st in base.spec.strategies])
    psa_inc = psa.incremental_summary()
    tornado = dsa.one_way(dsa.Evaluator(inputs))
    ceac = psa.accumulator.ceac()
    params = outputs.parameters_table(inputs)
    checklist = pd.DataFrame(CHEERS_2022, columns=["item", "topic", "where in this report"])
    evppi_html = ""
    if "evppi" in extra:
        ev = pd.DataFrame(extra["evppi"])
        evppi_html = (chart(charts.evppi_chart(voi.evppi_table(psa.draws, psa.net_benefit()), psa.wtp_default),
                            "EVPPI by parameter and parameter group (regression method, Strong et al. 2014).")
                      + table_html(ev, money=("evppi_per_child",)))
    budget_table = pd.DataFrame(budget_summary["by_year"])
    budget_table_full = budget_impact(inputs).table()
    two_way = dsa.two_way(dsa.Evaluator(inputs), "risk_12m", "rr_12m")
    sections = [
        ("Summary", headline),
        ("Decision problem", "<p>Intensive Family Preservation Programmes are short, intensive, home-based crisis "
         "services for families where a child is at imminent risk of entering care. The question: compared with usual "
         "care, what does IFPP cost per placement avoided, how much does it save per child, and how sure are we?</p>"
         + table_html(strategies)),
        ("Model", chart(model_diagram(), "Family states and monthly transitions.")
         + "<p>A cohort state-transition model with monthly cycles. Usual care's first-entry hazard is calibrated to the "
           "workbook's cumulative risks at 3, 6, 12 and 24 months; IFPP applies the relative risk to the cumulative risk; "
           "time-in-care and time-since-return tunnels carry exit and re-entry probabilities by band.</p>"),
        ("Conventions", f"<p>{html.escape(conventions)}.</p><p>Workbook: {html.escape(str(inputs.path))} "
         f"(SHA-256 {inputs.sha256}).</p>"),
        ("Base case", table_html(base.strategy_table(), money=tuple(c for c in base.strategy_table().columns if c.startswith("cost")),
                                 pct=("living_at_home_1y", "living_at_home_2y", "living_at_home_5y"))
         + table_html(base.incremental_table().drop(columns=["comparator"]),
                      money=("per_child_savings", "per_family_savings", "incremental_nmb", "cost_per_placement_avoided", "wtp"))),
        ("Decision ratios and assumptions", "<pre>" + html.escape("\n".join(outputs.decision_lines(base)).strip())
         + "</pre>"),
        ("Operational validation", "<p>Model outputs against observed figures not used to build the model "
         "(AdViSHE).</p>" + table_html(validation_table)),
        ("Cohort trace", chart(charts.trace_chart(base.trace_table()), "Share of children in each state over time.")),
        ("Probabilistic sensitivity analysis",
         table_html(psa_inc.astype(object).where(psa_inc.notna(), ""), money=())
         + chart(charts.ce_plane(psa.incremental()[strategy]["placements_avoided_per_child"],
                                 -psa.incremental()[strategy]["per_child_savings"], psa.wtp_default, strategy, comparator),
                 "Cost-effectiveness plane.")
         + chart(charts.ceac_chart(ceac, psa.strategies), "Probability most cost-effective by willingness to pay.")
         + chart(charts.convergence_chart(psa.incremental()[strategy]["per_child_savings"]), "Convergence of the PSA.")
         + f"<p class=note>Rules that bound in sampling: {html.escape(str(psa.rule_counts))}.</p>"
         + f"<p>{html.escape(psa.distributions)}.</p>"
         + "<p>Model-averaged PSA (structural uncertainty: " + html.escape(outputs.structural_text(averaged))
         + "): per-child savings mean £{:,.0f} (95% interval £{:,.0f} to £{:,.0f}); probability cost-saving {}.</p>".format(
             *(averaged.to_json()["per_child_savings"][k] for k in ("mean", "lower", "upper")),
             outputs.probability(averaged.to_json()["prob_cost_saving"], n))),
        ("One-way sensitivity (tornado)", chart(charts.tornado_chart(tornado.table, tornado.base_outcome,
                                                                     dsa.OUTCOME_LABELS["savings"]),
                                                "Per-child savings at each parameter's low and high value.")
         + f"<p class=note>{html.escape(dsa_summary['note'])}</p>"),
        ("Break-even thresholds", table_html(pd.DataFrame(dsa_summary["thresholds"]))
         + chart(charts.two_way_chart(two_way, "risk_12m", "rr_12m", "savings", dsa.OUTCOME_LABELS["savings"]),
                 "Two-way sensitivity: 12-month usual-care risk × 12-month RR, with the break-even contour.")),
        ("Scenarios", table_html(pd.DataFrame(dsa_summary["scenarios"]),
                                 money=("per_child_savings", "incremental_nmb", "cost_per_placement_avoided"))),
        ("Value of information", chart(charts.evpi_chart(pd.read_csv(run.path / "evpi.csv")),
                                        "EVPI per child and for the local authority's population.") + evppi_html),
        ("Budget impact", table_html(budget_table, money=tuple(c for c in budget_table.columns if c != "year"
                                                               and not c.startswith("prob")), pct=("prob_cumulative_saving",))
         + chart(charts.budget_chart(budget_table_full, strategy, comparator), "Spend and costs avoided by year.")
         + f"<p>Payback year: {budget_summary['payback_year'] or 'not within the period'}.</p>"),
        ("Parameters", "<p class=note>Rows shaded orange are estimates (status E): replace them with local data where "
                       "possible; rows shaded green are local data (status L, e.g. from ifpp-econ calibrate).</p>" + table_html(params, flag_estimates=True)),
        ("CHEERS 2022 checklist", table_html(checklist)),
    ]
    text = render(sections, f"Cost-effectiveness of {strategy} compared with {comparator}")
    (run.path / "report.html").write_text(text, encoding="utf-8")
    run.files.append("report.html")
    return {"per_child_savings": main["per_child_savings"], "psa_per_child_savings": summarise(
        psa.incremental()[strategy]["per_child_savings"]), "report": "report.html"}
