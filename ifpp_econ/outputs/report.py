"""A self-contained HTML report: every analysis, charts inline as SVG, no network requests.

Printable on A4 (``@page``); every table formatted through :mod:`ifpp_econ.presentation`
(numbers right-aligned and never split across lines, "—" with a footnote for a missing
value); every inline SVG carries a ``<title>`` and ``<desc>`` for screen readers.
"""
from __future__ import annotations

import html

import pandas as pd

from .. import __version__, declarations
from ..inputs import schema
from . import figures, presentation, writers

LAMBDA_NOTE = "λ = willingness to pay per placement avoided"  # as LAMBDA_NOTE, without importing matplotlib

# (item, topic, what the item asks, section id in this report)
CHEERS_2022 = [
    ("1", "Title", "Identify the study as an economic evaluation and name the interventions compared.", "title"),
    ("2", "Abstract", "Summarise context, methods (perspective, horizon), results and conclusions.", "summary"),
    ("3", "Background and objectives", "Give the context and the decision the study informs.", "decision"),
    ("4", "Health economic analysis plan", "Say whether an analysis plan was written and where it is.", "conventions"),
    ("5", "Study population", "Describe the population and its characteristics.", "decision"),
    ("6", "Setting and location", "Describe the setting and place the decision applies to.", "decision"),
    ("7", "Comparators", "Describe the interventions or strategies compared and why.", "decision"),
    ("8", "Perspective", "State the perspective(s) adopted and why.", "decision"),
    ("9", "Time horizon", "State the time horizon and why it is appropriate.", "decision"),
    ("10", "Discount rate", "Report the discount rate(s) and why they were chosen.", "conventions"),
    ("11", "Selection of outcomes", "Describe the outcomes used as benefits and why.", "decision"),
    ("12", "Measurement of outcomes", "Describe how outcomes were measured.", "parameters"),
    ("13", "Valuation of outcomes", "Describe how outcomes were valued.", "psa"),
    ("14", "Measurement and valuation of resources and costs", "Describe how costs were measured and valued.",
     "parameters"),
    ("15", "Currency, price date and conversion", "Report the currency, price year and any conversion.", "conventions"),
    ("16", "Rationale and description of model", "Describe the model, its structure and why it was chosen.", "model"),
    ("17", "Analytics and assumptions", "Describe how data were analysed and the model's assumptions.", "conventions"),
    ("18", "Characterising heterogeneity", "Describe methods for subgroups and heterogeneity.", "scenarios"),
    ("19", "Characterising distributional effects", "Describe how effects on different groups were assessed.",
     "not assessed"),
    ("20", "Characterising uncertainty", "Describe methods to characterise sources of uncertainty.", "psa"),
    ("21", "Approach to engagement with patients and others affected", "Describe engagement with those affected.",
     "not applicable to a tool run"),
    ("22", "Study parameters", "Report all parameter values, ranges, references and distributions.", "parameters"),
    ("23", "Summary of main results", "Report mean costs and outcomes and the summary measures.", "base-case"),
    ("24", "Effect of uncertainty", "Describe how uncertainty about parameters and assumptions affects findings.",
     "tornado"),
    ("25", "Effect of engagement with patients and others affected", "Report any difference engagement made.",
     "not applicable to a tool run"),
    ("26", "Study findings, limitations, generalisability and current knowledge",
     "Discuss findings, limitations and generalisability.", "parameters"),
    ("27", "Source of funding", "Describe how the study was funded.", "state in the submission"),
    ("28", "Conflicts of interest", "Report authors' conflicts of interest.", "state in the submission"),
]


def svg(markup: str, title: str = "", desc: str = "") -> str:
    """A chart's SVG text (as :mod:`ifpp_econ.render` saved it) made inline, with ``<title>``/``<desc>``."""
    text = markup[markup.index("<svg"):]
    end = text.index(">") + 1
    label = html.escape(title or "chart")
    return (text[:end - 1] + f' role="img" aria-label="{label}">' + f"<title>{label}</title>"
            + (f"<desc>{html.escape(desc)}</desc>" if desc else "") + text[end:])


def table_html(df: pd.DataFrame, table: str | None = None, context: dict | None = None,
               flag_estimates: bool = False, caption: str = "", widths: list[float] | None = None) -> str:
    """An HTML table through the presentation vocabulary: human headers, formatted numbers, footnotes for "—".

    ``widths``: column widths in % for a fixed layout (long text then wraps inside its column).
    """
    headers, texts, cols, notes = presentation.display_table(df, table, context)
    numeric = [[c.kind != "text" for c in row] for row in cols] or [[False] * len(headers)]
    head = "".join(f'<th{" class=n" if all(r[j] for r in numeric) else ""}>{html.escape(h)}</th>'
                   for j, h in enumerate(headers))
    rows = []
    statuses = df["status"].astype(str).tolist() if "status" in df.columns else [""] * len(df)
    for i, row in enumerate(texts):
        cells = "".join(f'<td class={"n" if numeric[i][j] else "t"}>{html.escape(t)}</td>' for j, t in enumerate(row))
        status = statuses[i].strip().upper() if flag_estimates else ""
        cls = ' class="estimate"' if status.startswith("E") else ' class="local"' if status == "L" else ""
        rows.append(f"<tr{cls}>{cells}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    foot = "".join(f"<p class=foot>{html.escape(n)}</p>" for n in notes)
    if widths:
        colgroup = "".join(f'<col style="width:{w:g}%">' for w in widths)
        return (f"<table class=fixed>{cap}<colgroup>{colgroup}</colgroup><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>{foot}")
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{foot}"


STYLE = """
@page{size:A4;margin:13mm 12mm 14mm}
body{font-family:Georgia,'DejaVu Serif',serif;max-width:980px;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.55em;margin:.2em 0}h2{font-size:1.2em;border-bottom:2px solid #0072B2;padding-bottom:.15em;margin:1.4em 0 .5em;
break-after:avoid}
table{border-collapse:collapse;font-size:.76em;margin:.5em 0;width:100%}caption{text-align:left;font-weight:bold;padding:.2em 0}
th,td{border:1px solid #ccc;padding:2px 5px;vertical-align:top;text-align:left}th{background:#eaf2fb}
th.n{text-align:right}td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}td.t{overflow-wrap:break-word}
tr{break-inside:avoid}table.fixed{table-layout:fixed;font-size:.66em}table.fixed td.t{overflow-wrap:anywhere}
table.measures{width:auto;min-width:60%}table.measures tbody th{font-weight:normal;background:#f7f9fc}
tr.estimate td{background:#fff4e0}tr.local td{background:#e6f2e6}
figure.chart{margin:.5em 0;break-inside:avoid}.chart svg{max-width:100%;height:auto;display:block}
.note,.foot,figcaption{font-size:.82em;color:#555}.foot{margin:.1em 0}
.headline{background:#f5f9ff;border-left:4px solid #0072B2;padding:.5em 1em;margin:.5em 0}
.headline p{margin:.3em 0}.cols{display:flex;flex-wrap:wrap;gap:0 1em}.cols>figure{flex:1 1 420px}
nav ol{columns:2;font-size:.85em;margin:.3em 0}
@media print{body{max-width:none;margin:0;padding:0;font-size:9.5pt}.chart svg{max-height:105mm;width:auto;margin:auto}
.tall svg{max-height:170mm}
nav{display:none}a{color:inherit;text-decoration:none}.cols>figure{flex:1 1 45%}}
"""


PERSPECTIVE_COSTS = ["cost_local_authority", "cost_public_sector"]  # shown in "Savings by perspective"
DECISION_KEYS = ["programme_cost_per_placement_avoided", "net_saving_per_placement_avoided",
                 "children_referred_per_placement_avoided", "families_referred_per_placement_avoided",
                 "max_affordable_cost_per_family", "programme_cost_per_child"]  # shown in "Decision ratios"


def scalar_parameters(inputs) -> pd.DataFrame:
    """The parameter table without the share rows (the placement and age mixes are shown as their own tables)."""

    table = writers.parameters_table(inputs)
    table = table[~table["name"].str.startswith(("mix:", "age_share:"))].copy()
    repeated = table["source"].astype(str).eq(table["source"].astype(str).shift()) & table["source"].astype(str).ne("")
    table.loc[repeated, "source"] = "as above"  # long sources shared by consecutive rows are printed once
    return table


def marked_parameters(inputs) -> pd.DataFrame:
    """:func:`scalar_parameters`, with "edited; source not updated" beside the status of a value that no longer matches
    its source (changed from the template's while its source and status were not)."""
    table = scalar_parameters(inputs)
    edited = table["check"].astype(str) != ""
    table.loc[edited, "status"] = table.loc[edited, "status"].astype(str) + " — edited; source not updated"
    return table


def edited_note(inputs) -> str:
    """A warning paragraph naming the values edited without updating their source (empty when there are none)."""
    names = [str(n) for n in inputs.parameters.index[inputs.parameters.get("edited", pd.Series(False, index=inputs.parameters.index))
                                                   .astype(bool)]]
    if not names:
        return ""
    return ("<p class=note><strong>Edited; source not updated:</strong> " + html.escape(", ".join(names))
            + " differ from the values their sources give; update each row's source and set its status to L (local) "
              "or E (estimate).</p>")


def shares_html(inputs, context: dict) -> str:
    """The entrant placement mix (type × age band) and the age-band shares, as the workbook shows them."""
    p = inputs.parameters
    bands = list(inputs.age_bands["band"])
    mix = pd.DataFrame({"placement type": schema.PLACEMENT_TYPES,
                        **{f"share_{b}": [p.loc[schema.mix_name(b, t), "value"] for t in schema.PLACEMENT_TYPES]
                           for b in bands}})
    mix.columns = ["placement type", *(f"{b} share" for b in bands)]
    ages = inputs.age_bands[["band", "age_at_referral_years", "share"]]
    n_mix, n_age = (inputs.settings.get(k, 0) for k in ("placement_mix_effective_n", "age_mix_effective_n"))
    return ("<div class=cols><div>" + table_html(mix, "placement_mix", context, caption="Placement mix of children "
            f"entering care, by age band (PSA: Dirichlet, effective n {n_mix:g})") + "</div><div>"
            + table_html(ages, "age_bands", context, caption="Age at referral (PSA: "
                         + (f"Dirichlet, effective n {n_age:g})" if n_age else "fixed)")) + "</div></div>")


def decision_html(tables: dict, context: dict) -> str:
    """The commissioner's ratios, the three after-effect assumptions, perspectives and age bands, side by side."""
    t = tables
    return ("<div class=cols><div>"
            + table_html(t["decision_ratios"], "decision_ratios", context,
                         caption="Decision ratios (placements counted undiscounted)")
            + table_html(t["headline_range"][["name", "per_child_savings", "default"]], "headline_range",
                         context, caption="The headline's structural range (after-effect assumption; effect at child "
                                          "or family level)")
            + "</div><div>"
            + table_html(t["by_perspective"], "by_perspective", context, caption="Savings by perspective")
            + table_html(t["by_age_band"][["age_band", "share", "per_child_savings", "placements_avoided_per_child"]],
                         "by_age_band", context, caption="By age band at referral (each followed to 18)")
            + "</div></div>")


def averaged_html(averaged) -> str:
    """One paragraph on the model-averaged PSA (after-effect assumption and 'no effect' drawn per iteration)."""

    data = averaged.to_json()
    s = data["per_child_savings"]
    return ("<p>Model-averaged PSA (structural uncertainty: " + html.escape(writers.structural_text(averaged))
            + f"): savings per child mean {presentation.gbp(s['mean'])} (95% interval {presentation.gbp(s['lower'])} to "
            f"{presentation.gbp(s['upper'])}); probability cost-saving "
            f"{presentation.probability(data['prob_cost_saving'])}.</p>")


def render(sections: list[tuple[str, str, str]], title: str, lead: str = "") -> str:
    """The HTML document: title, ``lead`` (headline block), contents and ``sections`` (id, heading, html)."""
    body = "".join(f'<section id="{sid}"><h2>{html.escape(h)}</h2>{content}</section>' for sid, h, content in sections)
    toc = "".join(f'<li><a href="#{sid}">{html.escape(h)}</a></li>' for sid, h, _ in sections)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1 id=\"title\">{html.escape(title)}</h1>"
            f"<p class=note>ifpp-econ {__version__}</p>{lead}<nav><ol>{toc}</ol></nav>{body}</body></html>")


def chart(markup: str, title: str, caption: str, tall: bool = False) -> str:
    """A figure block around a chart's SVG text."""
    return (f'<figure class="chart{" tall" if tall else ""}">{svg(markup, title, caption)}<figcaption>{html.escape(caption)}</figcaption>'
            f"</figure>")


def measures_html(df: pd.DataFrame, table: str, key: str = "strategy", caption: str = "") -> str:
    """A wide per-strategy table turned on its side: one row per measure, one column per strategy."""
    _, texts, cols, notes = presentation.display_table(df, table)
    names = [str(v) for v in df[key]]
    head = "<th>Measure</th>" + "".join(f"<th class=n>{html.escape(n)}</th>" for n in names)
    rows = []
    for j, c in enumerate(df.columns):
        if c == key:
            continue
        cells = "".join(f'<td class={"n" if cols[i][j].kind != "text" else "t"}>{html.escape(texts[i][j])}</td>'
                        for i in range(len(names)))
        rows.append(f"<tr><th class=t>{html.escape(presentation.column(str(c), table).header)}</th>{cells}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    foot = "".join(f"<p class=foot>{html.escape(n)}</p>" for n in notes)
    return f"<table class=measures>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{foot}"


def _rules_text(counts: dict, n: int) -> str:
    """Rule counts as a sentence: which sampling rules bound, in how many iterations."""
    used = [f"{k.replace('_', ' ')} in {v:,} of {n:,} iterations" for k, v in counts.items() if v]
    return ("Rules that bound in sampling: " + "; ".join(used) + ".") if used else \
        "No sampling rule bound: every draw was used as sampled."


def _interval(s: dict, fmt) -> str:
    return f"{fmt(s['mean'])} (95% interval {fmt(s['lower'])} to {fmt(s['upper'])})"


def range_sentence(headline_range: dict, psa_json: dict, averaged_json: dict | None) -> str:
    """The structural range and both PSAs' probability cost-saving, in one sentence (plain text)."""
    g, r = presentation.gbp, headline_range
    text = (f"Structural range {g(r['low'])} to {g(r['high'])} per child over {len(r['cases'])} cases (each "
            "after-effect assumption, with the effect at child or family level)")
    if averaged_json is not None:
        text += (f"; model-averaged PSA mean {g(averaged_json['per_child_savings']['mean'])}, probability cost-saving "
                 f"{presentation.probability(averaged_json['prob_cost_saving'])}, beside the default PSA's "
                 f"{g(psa_json['per_child_savings']['mean'])} and "
                 f"{presentation.probability(psa_json['prob_cost_saving'])}")
    return text + "."


def headline_html(comparator: str, strategy: str, main: dict, psa_json: dict, budget: dict, n: int, seed: int,
                  price_year: str, headline_range: dict | None = None, averaged_json: dict | None = None) -> str:
    """The figures a board asks for first, each with its PSA interval; then the structural range and the
    model-averaged PSA beside the default one."""
    g, num = presentation.gbp, presentation.number
    s, p = psa_json["per_child_savings"], psa_json["placements_avoided_per_child"]
    ratio = main["cost_per_placement_avoided"]
    verb = "saves" if main["per_child_savings"] >= 0 else "costs"
    lines = [
        f"Compared with <b>{html.escape(comparator)}</b>, <b>{html.escape(strategy)}</b> {verb} "
        f"<b>{g(abs(main['per_child_savings']))} per child</b> in the base case "
        f"({g(abs(main['per_family_savings']))} per family); PSA mean {_interval(s, g)}.",
        f"Placements avoided per child: <b>{num(main['placements_avoided_per_child'], 3)}</b> (PSA mean "
        f"{num(p['mean'], 3)}, 95% interval {num(p['lower'], 3)} to {num(p['upper'], 3)}); months in care avoided "
        "per child: "
        f"{num(main['care_months_avoided_per_child'], 1)}.",
        "Cost per placement avoided: " + (html.escape(main["dominance"]) if ratio is None else f"<b>{g(ratio)}</b>")
        + f". Probability cost-saving: <b>{presentation.probability(psa_json['prob_cost_saving'])}</b>.",
    ]
    if headline_range is not None:
        lines.append("<b>" + html.escape(range_sentence(headline_range, psa_json, averaged_json)) + "</b>")
    if budget.get("families_per_year", 0) > 0:
        interval = budget.get("psa", {}).get("net_saving")
        lines.append(
            f"Budget impact for {budget['families_per_year']:,.0f} families referred a year: cumulative net saving "
            f"<b>{g(budget['net_saving'])}</b> over {budget['years']} years"
            + (f" (95% interval {g(interval['lower'])} to {g(interval['upper'])})" if interval else "")
            + "; payback " + (f"in year {budget['payback_year']}" if budget["payback_year"] else "not within the period")
            + " (undiscounted cash).")
    lines.append(f"<span class=note>{n:,} PSA iterations, seed {seed}; {price_year} prices; per-child results "
                 f"discounted. Intervals are the 2.5th–97.5th percentiles of the PSA.</span>")
    warn = presentation.small_sample_warning(n)
    if warn:
        lines.append(f"<b>{html.escape(warn)}</b>")
    return "<div class=headline>" + "".join(f"<p>{line}</p>" for line in lines) + "</div>"




def write_report(run, results, charts, n: int, seed: int, dsa_summary: dict, budget_summary: dict) -> dict:
    """``report.html`` into the run folder ``run`` from a pipeline's results (every analysis) and the tables already
    written there; ``charts``: the run's :class:`~ifpp_econ.outputs.render.Charts` (their SVG inlined). Returns the
    command's summary (headline, savings, the report's file name, price year)."""
    from ..analyses.comparison import summarise

    inputs, base, psa, voi, averaged = results.inputs, results.base, results.psa, results.voi, results.averaged
    conventions = base.spec.describe_conventions()
    validation_table = run.tables["operational_validation"]
    comparator = base.results.comparator
    inc = base.incremental()
    strategy, main = next(iter(inc.items()))
    psa_json = psa.to_json()
    params = inputs.parameters
    units = {str(k): str(v) for k, v in params["unit"].items()}
    labels = {str(k): str(v) for k, v in params["label"].items()}
    context = {"units": units, "dsa_outcome": "savings"}
    settings = inputs.settings
    price_year = base.spec.price_year
    averaged_json = averaged.to_json() if averaged is not None else None
    lead = headline_html(comparator, strategy, main, psa_json, budget_summary, n, seed, price_year,
                         base.headline_range(), averaged_json)
    tables = run.tables

    strategies = pd.DataFrame([{"strategy": st.name, "receives IFPP": "yes" if st.receives_ifpp else "no",
                                "costing": st.cost_method, "description": st.description} for st in base.spec.strategies])
    horizon = float(settings["horizon_years"])
    decision = (
        "<p>Intensive Family Preservation Programmes are short, intensive, home-based crisis services for families "
        "where a child is at imminent risk of entering care. The question: compared with usual care, what does IFPP "
        "cost per placement avoided, how much does it save per child, and how sure are we?</p><ul>"
        "<li><b>Population:</b> children at imminent risk of entering care, referred with their families; age at "
        "referral by age band (Parameters and the workbook's Age bands sheet).</li>"
        "<li><b>Setting:</b> local-authority children's social care in the UK (England and Wales).</li>"
        "<li><b>Perspective:</b> the local authority (children's social care costs: programme, placements, care "
        "proceedings, reunification and case support, permanence allowances), the budget that pays for IFPP and "
        "for the placements it avoids.</li>"
        f"<li><b>Time horizon:</b> {'to age 18' if horizon >= 18 else f'{horizon:g} years, capped at age 18'} "
        "(each age band followed until it leaves children's services), so that every avoided or delayed "
        "placement is counted.</li>"
        "<li><b>Outcomes:</b> placements avoided and months in care avoided per child, savings per child and per "
        "family, cost per placement avoided, net monetary benefit at a willingness to pay per placement avoided "
        f"(λ = £{float(settings['wtp_default']):,.0f}); beside them, children's outcomes mapped to the National "
        "Framework (entries to care, months in care, proceedings issued, re-entries, living at home at 1, 2 and 5 "
        "years; section Children's outcomes) and who pays and who saves (section Who pays and who saves).</li>"
        f"<li><b>Comparators</b> (comparator: {html.escape(comparator)}):</li></ul>"
        + table_html(strategies))
    sections = [
        ("summary", "Summary", "<p>The headline figures are at the top of this report. " + html.escape(
            headline_base_text(base)) + "</p>"),
        ("decision", "Decision problem", decision),
        ("model", "Model", chart(charts.svg("model_diagram"), "Model diagram", "Family states and monthly transitions.")
         + "<p>A cohort state-transition model with monthly cycles. Usual care's first-entry hazard is calibrated to "
           "the workbook's cumulative risks at 3, 6, 12 and 24 months; IFPP applies the relative risk to the "
           "cumulative risk; time-in-care and time-since-return tunnels carry exit and re-entry probabilities by "
           "band.</p>"),
        ("conventions", "Conventions", f"<p>{html.escape(conventions)}.</p><p>Currency: pounds sterling at "
         f"{html.escape(price_year)} prices (costs from other years uplifted with the workbook's inflation index). "
         f"PSA: {n:,} iterations, seed {seed}. No separate analysis plan: the analyses are those listed in this "
         f"report, run with the settings recorded in manifest.json.</p><p class=note>Workbook: "
         f"{html.escape(str(inputs.path.resolve()))} (SHA-256 {inputs.sha256}).</p>"),
        ("base-case", "Base case", measures_html(tables["base_case"].drop(columns=PERSPECTIVE_COSTS, errors="ignore"),
                                                 "base_case", caption=f"Per strategy, discounted, {price_year} prices")
         + measures_html(tables["incremental"].drop(columns=["comparator", *DECISION_KEYS], errors="ignore"),
                         "incremental", caption=f"Against {comparator} (decision ratios below)")
         + (table_html(tables["frontier"], "frontier", context, caption="Efficiency frontier")
            if "frontier" in tables else "")),
        ("decision-ratios", "Decision ratios and assumptions", decision_html(tables, context)),
        ("validation", "Operational validation", "<p>Model outputs against observed figures not used to build the "
         "model (AdViSHE); sources in results.xlsx.</p>"
         + table_html(validation_table[["measure", "observed", "model", "difference", "passes", "reason"]],
                      "operational_validation", context, widths=[24, 8, 8, 9, 6, 45])),
        ("outcomes", "Children's outcomes", outcomes_html(tables, psa_json, base.to_json(), context)),
        ("payers", "Who pays and who saves", payers_html(tables, context, base.spec.perspective)),
        ("trace", "Cohort trace", chart(charts.svg("cohort_trace"), "Cohort trace",
                                        "Share of children in each state over time, by strategy.")),
        ("psa", "Probabilistic sensitivity analysis",
         table_html(tables["psa_incremental"].drop(columns=["comparator"]), "psa_incremental", context,
                    caption=f"Against {comparator}: PSA mean and 95% interval")
         + chart(charts.svg(figures.ce_plane_name(strategy, len(inc))), "Cost-effectiveness plane",
                 f"Each dot is one PSA iteration; {LAMBDA_NOTE}.")
         + "<div class=cols>"
         + chart(charts.svg("ceac"), "Cost-effectiveness acceptability curve",
                 f"Probability most cost-effective by willingness to pay ({LAMBDA_NOTE}).")
         + chart(charts.svg("convergence"), "Convergence of the PSA",
                 "Running mean and 95% interval of savings per child.") + "</div>"
         + f"<p class=note>{html.escape(_rules_text(psa.rule_counts, psa.iterations))}</p>"
         + ("" if "subsample" not in psa_json else f"<p class=note>{html.escape(psa_json['subsample']['note'])}.</p>")
         + f"<p>{html.escape(psa.distributions)}.</p>" + averaged_html(averaged)),
        ("tornado", "One-way sensitivity (tornado)",
         chart(charts.svg("tornado"), "Tornado diagram",
               "Savings per child with each parameter at its low and high value (values at the bar ends).", tall=True)
         + f"<p class=note>{html.escape(dsa_summary['note'])}</p>"),
        ("thresholds", "Break-even thresholds",
         table_html(tables["thresholds"][["parameter", "base", "threshold", "note"]], "thresholds", context)
         + chart(charts.svg("two_way"), "Two-way sensitivity", two_way_caption(results.dsa, labels))),
        ("scenarios", "Scenarios", table_html(tables["scenarios"].drop(columns=["strategy", "comparator"]), "scenarios",
                                              context)),
        ("voi", "Value of information", voi_html(charts, voi, labels, results.evsi)
         + (table_html(tables["tau_sensitivity"][["tau", "per_child_savings", "prob_cost_saving", "evpi_per_child"]],
                       "tau_sensitivity", context,
                       caption="The effect in a new setting: probability cost-saving and EVPI per child by the "
                               "between-study SD τ of the log RR (the PSA's draws re-run, first "
                               f"{int(tables['tau_sensitivity']['iterations'].iloc[0]):,} iterations)")
            if "tau_sensitivity" in tables else "") + cheers_voi_html(results.evsi)),
        ("budget", "Budget impact", budget_html(charts, tables["budget_by_year"], budget_summary, price_year,
                                                tables.get("budget_by_payer"))),
        ("parameters", "Parameters", "<p class=note>Rows shaded orange are estimates (status E): replace them with "
         "local data where possible; rows shaded green are local data (status L, e.g. from ifpp-econ calibrate). "
         "Values in each parameter's unit; distribution parameters in results.xlsx.</p>"
         + edited_note(inputs)
         + table_html(marked_parameters(inputs)[["name", "label", "value", "unit", "distribution", "low", "high",
                                                 "source", "status"]], "parameters", context,
                      flag_estimates=True, widths=[13, 18, 7, 10, 10.5, 6, 6, 21.5, 8])
         + shares_html(inputs, context)),
        ("cheers", "CHEERS 2022 checklist", cheers_html()),
    ]
    text = render(sections, f"Cost-effectiveness of {strategy} compared with {comparator}", lead)
    (run.path / "report.html").write_text(text, encoding="utf-8")
    run.files.append("report.html")
    s = psa_json["per_child_savings"] if strategy == psa_json["strategy"] else summarise(
        psa.incremental()[strategy]["per_child_savings"])
    run.manifest["report"] = {"headline": headline_plain(comparator, strategy, main, s, budget_summary) + " "
                              + range_sentence(base.headline_range(), psa_json, averaged_json)}
    return {"per_child_savings": main["per_child_savings"], "psa_per_child_savings": s, "report": "report.html",
            "headline": run.manifest["report"]["headline"], "price_year": price_year}


def headline_base_text(base) -> str:
    from .writers import headline_base_case

    return " ".join(sentence for label, sentence in headline_base_case(base) if label not in ("Strategies", "Price year"))


def headline_plain(comparator: str, strategy: str, main: dict, s: dict, budget: dict) -> str:
    """One line for the console: base-case and PSA savings per child, and the budget's cumulative net saving."""
    g = presentation.gbp
    ratio = main["cost_per_placement_avoided"]
    text = (f"{strategy} vs {comparator}: savings per child {g(main['per_child_savings'])} (PSA mean {g(s['mean'])}, "
            f"95% interval {g(s['lower'])} to {g(s['upper'])}); placements avoided per child "
            f"{presentation.number(main['placements_avoided_per_child'], 3)}; cost per placement avoided: "
            + (main["dominance"] if ratio is None else g(ratio)))
    if budget.get("families_per_year", 0) > 0:
        text += f"; budget: cumulative net saving {g(budget['net_saving'])} over {budget['years']} years"
    return text + "."


def voi_html(charts, voi, labels: dict, evsi=None) -> str:
    """EVPI and EVPPI charts and the top of the EVPPI table, from the run's VOI result; with an EVSI result (the
    workbook's ``evsi_sample_sizes``), the value of a trial: its table and chart."""
    parts = [chart(charts.svg("evpi"), "Expected value of perfect information",
                   "EVPI per child and for the local authority's population, by willingness to pay.")]
    if voi.evppi is not None:
        ev = voi.evppi
        parts.append(chart(charts.svg("evppi"), "Expected value of partial perfect information",
                           "EVPPI by parameter and parameter group (regression method, Strong et al. 2014)."))
        if (ev["evppi_per_child"] > 0).any():
            top = ev.head(10).copy()
            top["parameter"] = [labels.get(p, p) for p in top["parameter"]]
            parts.append(table_html(top[["parameter", "evppi_per_child", "r_squared", "permuted_null"]], "evppi",
                                    caption=f"Top {len(top)} of {len(ev)} (all in results.xlsx)"))
    if evsi is not None:
        parts.append(evsi_html(charts, evsi))
    return "".join(parts)


def evsi_html(charts, evsi) -> str:
    """The value of a trial: what is simulated, the EVSI/ENBS table by trial size and the chart."""
    table, sentence = evsi.table(), writers.evsi_sentence(evsi)
    cols = [c for c in ("sample_size", "families_randomised", "evsi_per_child", "evsi_se", "population_evsi",
                        "trial_cost", "enbs") if c in table.columns]
    p = evsi.population
    population = (f"{float(p['children_per_year']):,.1f} children referred a year for {int(p['years'])} years, "
                  f"discounted at {float(p['discount_rate']):.1%}" if p else "no population (per-child figures only)")
    return ("<h3>Value of a trial (EVSI)</h3><p>Expected value of sample information of a two-arm randomised trial of "
            "n families per arm in England, measuring whether each family has a placement within 12 months, which "
            "informs the effect in a new setting (the predictive relative risk) and the usual-care risk. Estimator: "
            f"{html.escape(evsi.method)} (Strong et al. 2015; spline regression of incremental net benefit on each "
            "simulated trial's risk difference and control-arm proportion, reusing the PSA's draws), cross-checked "
            "with the Gaussian approximation (Jalal &amp; Alarid-Escudero 2018); standard errors by bootstrap. "
            f"Population: {html.escape(population)}. Trial cost: £{evsi.trial_fixed_cost:,.0f} fixed + "
            f"£{evsi.trial_cost_per_family:,.0f} per family randomised (workbook settings trial_fixed_cost and "
            f"trial_cost_per_family). {html.escape(sentence[:1].upper() + sentence[1:])}</p>"
            + table_html(table[cols], "evsi", caption="EVSI per child, population EVSI, trial cost and ENBS "
                         "(= population EVSI − trial cost) by families per arm")
            + chart(charts.svg("evsi"), "EVSI and ENBS by trial size",
                    "Population EVSI, trial cost and expected net benefit of sampling against families per arm."))


# The VOI topics CHEERS-VOI (Kunst et al. 2023, Value in Health 26:1461) asks a report to add or elaborate, and where
# this report answers them.
CHEERS_VOI = [
    ("Decision problem and the research question", "The decision VOI informs and the research proposed.", "voi"),
    ("VOI methods", "Which VOI measures (EVPI, EVPPI, EVSI, ENBS) and how each was computed.", "voi"),
    ("Uncertainty characterised", "The PSA the VOI uses: iterations, distributions, structural uncertainty.", "psa"),
    ("Population and time horizon", "The population benefiting from the decision, years of decision relevance and "
     "discounting.", "voi"),
    ("Proposed research design", "The study design(s) considered: arms, outcome, follow-up, sample sizes.", "voi"),
    ("Research costs", "The costs of the research (fixed and per participant) and their source.", "voi"),
    ("VOI results", "EVPI, EVPPI, EVSI and ENBS with the optimal sample size and Monte Carlo error.", "voi"),
]


def cheers_voi_html(evsi) -> str:
    """Where this report answers the CHEERS-VOI topics (:data:`CHEERS_VOI`), as one short note closing the value of
    information section (the research design and its costs only with an EVSI)."""
    here = [topic for topic, _, where in CHEERS_VOI if where == "voi" and (evsi is not None or topic not in
                                                                          ("Proposed research design", "Research costs"))]
    text = (f"CHEERS-VOI (Kunst et al. 2023): {'; '.join(here)}: this section; the uncertainty "
            'characterised: <a href="#psa">Probabilistic sensitivity analysis</a>')
    if evsi is None:
        text += "; research design and costs: no trial analysed (set evsi_sample_sizes, or psa --evsi)"
    return f"<p class=note>{text}.</p>"


def budget_html(charts, table: pd.DataFrame, summary: dict, price_year: str,
                tables_ledger: pd.DataFrame | None = None) -> str:
    if summary.get("families_per_year", 0) <= 0:
        return "<p>No families referred (referrals = 0): nothing is spent on the programme and nothing is saved.</p>"
    cols = [c for c in ("year", "children_referred", "placements_avoided", "programme_spend", "costs_avoided",
                        "cashable_savings", "notional_savings", "net_saving", "cumulative_net_saving",
                        "cumulative_lower", "cumulative_upper", "prob_cumulative_saving") if c in table.columns]
    payback = summary["payback_year"]
    cash = ""
    if "cashable_savings" in summary:
        cash_year = summary.get("payback_year_cash")
        cash = (f"<p>Of the costs avoided over the {summary['years']} years, £{summary['cashable_savings']:,.0f} is "
                f"cashable (money not spent: spot-purchased placements, allowances, bought-in legal work) and "
                f"£{summary['notional_savings']:,.0f} notional (in-house capacity and staff time freed, which "
                "releases cash only if capacity is cut). On cash alone the net saving is "
                f"£{summary['cash_net_saving']:,.0f} and payback comes in "
                f"{'year ' + str(cash_year) if cash_year else 'no year within the period'}. Each cost row's cashable "
                "share and lag are on the workbook's Parameters sheet (estimates, status E: replace them with the "
                "authority's own; Settings all_savings_cashable = yes counts every saving as cash).</p>")
    return (table_html(table[cols], "budget_by_year", caption=f"{summary['families_per_year']:,.0f} families "
                       f"({summary.get('children_per_year', 0):,.0f} children) referred a year; undiscounted cash at "
                       f"{price_year} prices")
            + chart(charts.svg("budget_by_year"), "Budget impact by year",
                    "Extra programme spend and costs avoided by year, with the net and cumulative net saving.")
            + f"<p>Payback: {'year ' + str(payback) if payback else 'not within the period'}.</p>" + cash
            + (table_html(tables_ledger, "budget_by_payer", caption="Who pays and who saves in the budget: each "
                          "payer's undiscounted cash over the budget's years") if tables_ledger is not None else ""))


def outcomes_html(tables: dict, psa_json: dict, base_json: dict, context: dict) -> str:
    """The children's outcomes (a cost-consequence table) with the National Framework outcome each informs, the PSA's
    intervals, the cost per child-year at home gained and why there are no QALYs."""
    from ..analyses.consequences import WHY_NO_QALY

    ratio = base_json["cost_per_child_year_at_home"]
    bands = base_json["outcomes_by_age_band"]
    band_rows = pd.DataFrame([{"age_band": band, **{r["outcome"]: r["difference"] for r in rows}}
                              for band, rows in bands.items()])
    return ("<p>What happens to the children, beside the money: counts per child referred over childhood (to age 18, "
            "undiscounted) and the share living at home at 1, 2 and 5 years, each mapped to the outcome of the DfE "
            "Children's Social Care National Framework (2023) it informs. Per 100 families referred multiplies by "
            "100 × children per family.</p>"
            + table_html(with_interval(tables["outcomes"], tables.get("psa_outcomes"), "outcome", "difference"),
                         "outcomes", context, caption="Base case, with the 95% interval of each difference from the "
                                                      "PSA")
            + f"<p><b>Cost per child-year at home gained</b> (discounted cost, chosen perspective, per child-year at "
              f"home, discounted): {html.escape(ratio['reading'])} (incremental cost "
              f"{presentation.gbp(ratio['incremental_cost_per_child'])} per child; "
              f"{ratio['child_years_at_home_gained_per_child']:.3f} child-years at home gained).</p>"
            + table_html(band_rows, None, context, caption="Difference per child by age band at referral (each band "
                                                           "followed to age 18; living at home past 18: —)")
            + f"<p class=note>{html.escape(WHY_NO_QALY)}</p>")


def payers_html(tables: dict, context: dict, perspective: str) -> str:
    """The payer ledger: who bears each strategy's costs and who gets the savings."""
    return ("<p>Who pays and who saves: each payer's discounted cost per child under each strategy and the savings "
            "(usual care's cost less the strategy's), the local authority split into children's services and legal. "
            "Every payer is listed; the headline counts the "
            + html.escape(perspective.replace("_", " ")) + " perspective's. A finance lead adds another agency's costs "
            "(e.g. CAMHS per month in care, payer NHS) as a row of the workbook's Parameters sheet with a payer and "
            "an applies_to (README, 'Adding a cost row').</p>"
            + table_html(with_interval(tables["by_payer"], tables.get("psa_by_payer"), "payer_row", "savings"),
                         "by_payer", context, caption="Base case per child, with the 95% interval of each payer's "
                                                      "savings from the PSA"))


def with_interval(base: pd.DataFrame, psa: pd.DataFrame | None, key: str, measure: str) -> pd.DataFrame:
    """A base-case table with the PSA's 2.5th and 97.5th percentiles of ``measure`` (matched on ``key``) beside it."""
    if psa is None:
        return base
    bounds = psa.set_index(key)[[f"{measure}_lower", f"{measure}_upper"]]
    out = base.join(bounds, on=key)
    at = list(out.columns).index(measure) + 1
    cols = list(base.columns)
    return out[cols[:at] + [f"{measure}_lower", f"{measure}_upper"] + cols[at:]]


def two_way_caption(result, labels: dict) -> str:
    """What the two-way chart shows, from the DSA result's pair and outcome."""

    x, y = result.two_way_pair
    return (f"{declarations.DSA_OUTCOME_LABELS[result.outcome]} over {labels.get(x, x)} (x) and {labels.get(y, y)} (y).")


def cheers_html() -> str:
    """The CHEERS 2022 items, what each asks, and a link to the section that answers it."""
    rows = []
    for item, topic, asks, where in CHEERS_2022:
        target = next((h for sid, h in SECTION_TITLES if sid == where), None)
        link = f'<a href="#{where}">{html.escape(target)}</a>' if target else html.escape(where.capitalize())
        rows.append(f"<tr><td class=n>{item}</td><td class=t>{html.escape(topic)}</td><td class=t>{html.escape(asks)}"
                    f"</td><td class=t>{link}</td></tr>")
    return ("<table><thead><tr><th class=n>Item</th><th>Topic</th><th>What the item asks</th><th>Where in this report"
            "</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


SECTION_TITLES = [("title", "Title"), ("summary", "Summary"), ("decision", "Decision problem"), ("model", "Model"),
                  ("conventions", "Conventions"), ("base-case", "Base case"), ("trace", "Cohort trace"),
                  ("psa", "Probabilistic sensitivity analysis"), ("tornado", "One-way sensitivity (tornado)"),
                  ("thresholds", "Break-even thresholds"), ("scenarios", "Scenarios"),
                  ("voi", "Value of information"), ("budget", "Budget impact"), ("parameters", "Parameters"),
                  ("cheers", "CHEERS 2022 checklist")]


def write_rollup_report(run, result, charts) -> str:
    """``report.html`` of ``ifpp-econ rollup`` into the run folder ``run`` (its tables already written; ``charts``:
    the run's :class:`~ifpp_econ.outputs.render.Charts`, the ranked chart inlined). Returns the headline sentence."""
    data = result.to_json()
    t, voi = data["total"], data["value_of_information"]

    def interval(s: dict) -> str:
        return _interval(s, presentation.gbp)

    headline = (f"Across {len(result.names)} authorities ({t['families_per_year']:,.0f} families referred a year), "
                f"{result.strategy} is expected to save {interval(t['net_saving'])} over {result.years} years of "
                f"referrals (undiscounted) against {result.comparator}; the probability that the region saves money "
                f"is {presentation.probability(t['prob_region_saves'])}.")
    lead = f"<div class=headline><p>{html.escape(headline)}</p>"
    if "national" in data:
        nat = data["national"]
        lead += (f"<p>Scaled to {nat['families_per_year']:,.0f} families a year nationally: a net saving of "
                 f"{html.escape(interval(nat['net_saving']))} (the rest of the country assumed like this region).</p>")
    lead += (f"<p class=note>{result.iterations:,} iterations, seed {result.seed}; per-child results discounted, "
             "budget totals undiscounted cash at each workbook's analysis prices.</p></div>")
    authorities = run.tables["rollup_authorities"]
    shown = authorities[["rank", "authority", "families_per_year", "net_saving_mean", "net_saving_lower",
                         "net_saving_upper", "prob_budget_saving", "per_child_savings_mean", "prob_cost_saving",
                         "placements_avoided_mean"]]
    model = (
        "<p>The effect of IFPP is uncertain in two ways. The pooled effect — what the trials say IFPP does on "
        "average — is one unknown shared by every authority: if it is smaller than hoped, it is smaller everywhere. "
        "Each authority's own effect also differs from the pooled one (between-study SD τ, "
        "<code>rr_between_study_sd</code>), and its costs, risks and care dynamics are its own. So each iteration "
        "draws</p><p style=\"text-align:center\">log RR<sub>a,i</sub> = μ<sub>a</sub> + σ<sub>a</sub>·s<sub>i</sub> "
        "+ τ<sub>a</sub>·e<sub>a,i</sub></p><p>with s<sub>i</sub> one standard normal shared by all authorities and "
        "e<sub>a,i</sub> and every other parameter from authority a's own stream. Each authority's results have the "
        "distribution of its own <code>ifpp-econ psa</code>; adding them up keeps the shared part together, so the "
        "region's interval is wider than it would be if authorities were independent.</p>")
    voi_html_ = (
        f"<p>Population EVPI of the region: {presentation.gbp(voi['evpi'])} — the most it is worth paying to remove "
        f"all uncertainty before the region decides. Of that, learning the shared effect exactly (e.g. a larger "
        f"trial) is worth {presentation.gbp(voi['evppi_shared_effect'])}; learning every local parameter is worth "
        f"at most {presentation.gbp(voi['evppi_local_parameters'])}.</p><p class=note>{html.escape(voi['note'])}</p>")
    files = pd.DataFrame({"authority": result.names, "workbook": result.files})
    sections = [
        ("region", "The region", table_html(run.tables["rollup_totals"], "rollup_totals")),
        ("authorities", "Authorities ranked by net saving",
         chart(charts.svg("rollup_ranked"), "Authorities ranked by net saving",
               f"Mean net saving over {result.years} years of referrals with its 95% interval, per authority.",
               tall=True)
         + table_html(shown, "rollup_authorities")),
        ("model", "Shared and local uncertainty", model),
        ("voi", "Value of information", voi_html_),
        ("workbooks", "Workbooks", table_html(files, "rollup_authorities")),
    ]
    text = render(sections, f"{result.strategy} across {len(result.names)} authorities", lead)
    (run.path / "report.html").write_text(text, encoding="utf-8")
    run.files.append("report.html")
    run.manifest["report"] = {"headline": headline}
    return headline
