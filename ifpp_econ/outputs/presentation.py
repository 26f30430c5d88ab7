"""The presentation vocabulary, declared once: a label, unit and number format for every output column.

Used by the HTML report, the results.xlsx sheets and the console. CSV files keep the
machine names; ``data_dictionary`` lists them with their labels and units. Columns are never
guessed from their names: a column not declared here (a strategy's name in the CEAC, a
budget category) takes its table's declared kind and unit (:data:`TABLES`), and its own
name as the label.

Kinds: ``year`` (a price or financial year, no separator), ``gbp`` (£ with thousands separators, whole pounds),
``gbp2`` (£ to the penny, for
small values such as EVPI per child), ``pct`` (a share, 0.0%), ``prob`` (a probability
estimated from a finite sample: never "0.0%" or "100.0%" but "< 0.1%" / "> 99.9%"),
``count`` (whole numbers), ``number`` (``decimals`` fixed, or four significant digits
when ``decimals`` is None), ``text``. Negative numbers use the Unicode minus (−) in
text; missing values are "—" with a footnote naming what the dash means.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    Number = float | np.number[Any, Any]  # what the formatters take: Python and numpy numbers

MINUS = "\u2212"
DASH = "—"


@dataclass(frozen=True)
class Column:
    label: str
    unit: str = ""
    kind: str = "number"  # gbp, gbp2, pct, prob, count, number, text
    decimals: int | None = None
    dash: str = "not applicable"  # what "—" means in this column

    @property
    def header(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


def _c(label, unit="", kind="number", decimals=None, dash="not applicable") -> Column:
    return Column(label, unit, kind, decimals, dash)


RATIO_DASH = "not meaningful when one strategy dominates the other (see the dominance column)"
COLUMNS: dict[str, Column] = {
    # identifiers and text
    "strategy": _c("Strategy", kind="text"), "comparator": _c("Comparator", kind="text"),
    "scenario": _c("Scenario", kind="text"), "parameter": _c("Parameter", kind="text"),
    "parameters": _c("Parameters in the group", kind="text"), "label": _c("Description", kind="text"),
    "name": _c("Name", kind="text"), "note": _c("Note", kind="text"), "notes": _c("Notes", kind="text"),
    "dominance": _c("Dominance", kind="text"), "status": _c("Status", kind="text"), "source": _c("Source", kind="text"),
    "unit": _c("Unit", kind="text"), "distribution": _c("Distribution", kind="text"),
    "range_source": _c("Range from", kind="text"), "metric": _c("Measure", kind="text"),
    "outcome": _c("Outcome", kind="text"), "optimal_strategy": _c("Optimal strategy", kind="text"),
    "population_basis": _c("Population basis", kind="text"),
    "moves": _c("Parameters moved", kind="text"), "costing": _c("Costing", kind="text"),
    "check": _c("Check", kind="text"), "method": _c("Method", kind="text"),
    # costs (discounted, per child unless stated)
    "cost": _c("Total cost per child", "£", "gbp"), "cost_per_family": _c("Total cost per family", "£", "gbp"),
    "cost_intervention": _c("IFPP programme cost per child", "£", "gbp"),
    "cost_placements": _c("Placement cost per child", "£", "gbp"),
    "cost_proceedings": _c("Care proceedings cost per child", "£", "gbp"),
    "cost_reunification": _c("Reunification support cost per child", "£", "gbp"),
    "cost_case_support": _c("Case support cost per child", "£", "gbp"),
    "cost_allowances": _c("Permanence allowances per child", "£", "gbp"),
    "expected_cost": _c("Expected cost per child", "£", "gbp"),
    "per_child_savings": _c("Savings per child", "£", "gbp"), "per_family_savings": _c("Savings per family", "£", "gbp"),
    "incremental_nmb": _c("Net monetary benefit per child", "£", "gbp"),
    "cost_per_placement_avoided": _c("Cost per placement avoided", "£", "gbp", dash=RATIO_DASH),
    "icer_per_placement_avoided": _c("ICER per placement avoided", "£", "gbp",
                                     dash="not on the frontier or the reference strategy"),
    "cost_per_placement_avoided (ratio of means)": _c("Cost per placement avoided (ratio of means)", "£", "gbp",
                                                      dash=RATIO_DASH),
    "wtp": _c("Willingness to pay per placement avoided", "£", "gbp"),
    "evpi_per_child": _c("EVPI per child", "£", "gbp2"), "evppi_per_child": _c("EVPPI per child", "£", "gbp2"),
    "permuted_null": _c("EVPPI with shuffled parameter (noise floor)", "£", "gbp2"),
    "evppi_se": _c("Standard error of EVPPI per child", "£", "gbp2"),
    "programme_cost_per_child": _c("Programme cost per child", "£", "gbp"),
    "evpi_population": _c("EVPI for the local authority", "£", "gbp"),
    "programme_spend": _c("Extra programme spend", "£", "gbp"), "costs_avoided": _c("Costs avoided", "£", "gbp"),
    "net_saving": _c("Net saving", "£", "gbp"), "cumulative_net_saving": _c("Cumulative net saving", "£", "gbp"),
    "net_saving_lower": _c("Net saving, 2.5th percentile", "£", "gbp"),
    "net_saving_upper": _c("Net saving, 97.5th percentile", "£", "gbp"),
    "cumulative_lower": _c("Cumulative net saving, 2.5th percentile", "£", "gbp"),
    "cumulative_upper": _c("Cumulative net saving, 97.5th percentile", "£", "gbp"),
    # outcomes
    "first_placements": _c("First placements per child", kind="number", decimals=4),
    "care_entries": _c("Care entries per child", kind="number", decimals=4),
    "care_months": _c("Months in care per child", "months", "number", 2),
    "expected_placements": _c("Expected placements per child", kind="number", decimals=4),
    "placements_avoided_per_child": _c("Placements avoided per child", kind="number", decimals=4),
    "care_entries_avoided_per_child": _c("Care entries avoided per child", kind="number", decimals=4),
    "care_months_avoided_per_child": _c("Months in care avoided per child", "months", "number", 2),
    "living_at_home_1y": _c("Living at home at 1 year", kind="pct"),
    "living_at_home_2y": _c("Living at home at 2 years", kind="pct"),
    "living_at_home_5y": _c("Living at home at 5 years", kind="pct", dash="horizon shorter than 5 years"),
    "at_home": _c("At home (never placed)", kind="pct"), "in_care": _c("In care", kind="pct"),
    "returned_home": _c("Returned home", kind="pct"), "left_care": _c("Left care (other permanence)", kind="pct"),
    "prob_cost_saving": _c("Probability cost-saving", kind="prob"),
    "prob_cumulative_saving": _c("Probability cumulative saving > 0", kind="prob"),
    "frontier_probability": _c("Probability the optimal strategy is most cost-effective", kind="prob"),
    "r_squared": _c("Regression R²", kind="number", decimals=3),
    "mean": _c("Mean", dash="see the note"), "lower": _c("2.5th percentile", dash="no interval for this measure"),
    "upper": _c("97.5th percentile", dash="no interval for this measure"),
    # counts and time
    "month": _c("Month", kind="count"), "year": _c("Year", kind="count"), "iterations": _c("Iterations", kind="count"),
    "n_parameters": _c("Parameters", kind="count"), "item": _c("Item", kind="text"),
    "price_year": _c("Price year", kind="year", dash="not a cost"), "financial_year": _c("Financial year", kind="year"),
    # values in each row's own unit (parameters, thresholds, tornado)
    "value": _c("Base value"), "param_a": _c("Parameter a", dash="not used by this distribution"),
    "param_b": _c("Parameter b", dash="not used by this distribution"),
    "low": _c("Low", dash="no low/high in the workbook: one-way analysis uses the distribution's 2.5th/97.5th "
                          "percentiles"),
    "high": _c("High", dash="no low/high in the workbook: one-way analysis uses the distribution's 2.5th/97.5th "
                            "percentiles"),
    "base": _c("Base value"),
    "threshold": _c("Break-even value", dash="no break-even within the search range"),
    "search_from": _c("Searched from"), "search_to": _c("Searched to"),
    # one-way outcomes: kind set by the DSA outcome (see ``dsa_columns``)
    "outcome_low": _c("Outcome at low value", "£", "gbp"), "outcome_high": _c("Outcome at high value", "£", "gbp"),
    "swing": _c("Swing (high − low)", "£", "gbp"),
    "savings": _c("Savings per child", "£", "gbp"), "nmb": _c("Net monetary benefit per child", "£", "gbp"),
    "placements": _c("Placements avoided per child", kind="number", decimals=4),
    "incremental_cost_per_child": _c("Incremental cost per child", "£", "gbp"),
    "iteration": _c("Iteration", kind="count"),
    "table": _c("Table", kind="text"), "column": _c("Column", kind="text"), "format": _c("Shown as", kind="text"),
    "blank_means": _c("A blank (—) means", kind="text"),
    # base-case decision tables (after-effect assumptions, perspectives, age bands, decision ratios, validation)
    "assumption": _c("Assumption", kind="text"), "default": _c("Base case", kind="text"),
    "perspective": _c("Perspective", kind="text"), "age_band": _c("Age band", kind="text"),
    "share": _c("Share of children", kind="pct"), "measure": _c("Measure", kind="text"),
    "placement type": _c("Placement type", kind="text"), "band": _c("Age band", kind="text"),
    "age_at_referral_years": _c("Age at referral", "years", "number", 1),
    "placements_avoided_per_child_undiscounted": _c("Placements avoided per child (undiscounted)", kind="number",
                                                    decimals=4),
    "first_placements_undiscounted": _c("First placements per child (undiscounted)", kind="number", decimals=4),
    "cost_local_authority": _c("Total cost per child, local authority", "£", "gbp"),
    "cost_public_sector": _c("Total cost per child, public sector", "£", "gbp"),
    "programme_cost_per_placement_avoided": _c("Programme cost per placement avoided", "£", "gbp",
                                               dash="no placements avoided"),
    "net_saving_per_placement_avoided": _c("Net saving per placement avoided", "£", "gbp", dash="no placements avoided"),
    "children_referred_per_placement_avoided": _c("Children referred per placement avoided", kind="number",
                                                  decimals=1, dash="no placements avoided"),
    "families_referred_per_placement_avoided": _c("Families referred per placement avoided", kind="number",
                                                  decimals=1, dash="no placements avoided"),
    "max_affordable_cost_per_family": _c("Maximum affordable programme cost per family", "£", "gbp"),
    "observed": _c("Observed"), "model": _c("Model"), "difference": _c("Model − observed"),
    "reason": _c("Why they differ", kind="text"),
    "tau": _c("Between-study SD τ of the log RR", decimals=2), "workbook": _c("Workbook's τ", kind="text"),
    "tolerance": _c("Passes within (±)"), "passes": _c("Passes", kind="text"),
    "effect_level": _c("Effect level", kind="text"), "after_effect": _c("After the effect", kind="text"),
    "effect_model": _c("Effect model", kind="text"), "relative_risk": _c("Relative risk", kind="number", decimals=2),
    "net_saving_local_authority": _c("Net saving, local authority", "£", "gbp"),
    "children_referred": _c("Children referred", kind="number", decimals=1),
    "placements_avoided": _c("Placements avoided (undiscounted)", kind="number", decimals=2),
    "net_saving_public_sector": _c("Net saving, public sector", "£", "gbp"),
    # cashable and notional savings (budget), children's outcomes per strategy (base case)
    "cashable_savings": _c("Cashable savings", "£", "gbp"), "notional_savings": _c("Notional savings", "£", "gbp"),
    "cumulative_cash_net_saving": _c("Cumulative net saving on cash alone", "£", "gbp"),
    "cost_added": _c("Added cost rows per child", "£", "gbp"),
    "care_entries_undiscounted": _c("Care entries per child (undiscounted)", kind="number", decimals=4),
    "care_months_undiscounted": _c("Months in care per child (undiscounted)", "months", "number", 2),
    "proceedings_issued": _c("Care proceedings issued per child (undiscounted)", kind="number", decimals=4),
    "reentries": _c("Re-entries after a return home per child (undiscounted)", kind="number", decimals=4),
    "child_years_at_home": _c("Child-years at home to 18 per child (discounted)", "years", "number", 3),
    "child_years_at_home_undiscounted": _c("Child-years at home to 18 per child (undiscounted)", "years", "number", 3),
    # value of sample information (a two-arm trial, n families per arm)
    "sample_size": _c("Families per arm", kind="count"), "families_randomised": _c("Families randomised", kind="count"),
    "evsi_per_child": _c("EVSI per child", "£", "gbp2"), "evsi_se": _c("Standard error of EVSI per child", "£", "gbp2"),
    "evsi_raw_per_child": _c("EVSI per child before the cap at the EVPPI", "£", "gbp2"),
    "evppi_informed_per_child": _c("EVPPI of what the trial informs, per child", "£", "gbp2"),
    "gaussian_evsi_per_child": _c("EVSI per child, Gaussian approximation (cross-check)", "£", "gbp2"),
    "regression_evsi_per_child": _c("EVSI per child, regression (cross-check)", "£", "gbp2"),
    "population_evsi": _c("Population EVSI", "£", "gbp"),
    "population_evsi_se": _c("Standard error of population EVSI", "£", "gbp"),
    "trial_cost": _c("Trial cost", "£", "gbp"), "enbs": _c("Expected net benefit of sampling (ENBS)", "£", "gbp"),
    "enbs_se": _c("Standard error of ENBS", "£", "gbp"), "optimal": _c("Optimal trial size", kind="text"),
}

# Table-level vocabulary: a label per table (sheet names, ≤ 31 characters) and the kind of
# columns not declared above (e.g. one column per strategy in the CEAC).
# table → (sheet label, kind of its undeclared columns); the unit of a kind is in KIND_UNITS
TABLES: dict[str, tuple[str, str | None]] = {
    "base_case": ("Base case", None), "incremental": ("Incremental", None), "frontier": ("Frontier", None),
    "cohort_trace": ("Cohort trace", "pct"), "parameters": ("Parameters", None),
    "psa_strategies": ("PSA by strategy", None), "psa_incremental": ("PSA incremental", None),
    "ceac": ("CEAC", "prob"), "evpi": ("EVPI", None), "evppi": ("EVPPI", None), "tornado": ("Tornado (one-way)", None),
    "thresholds": ("Break-even thresholds", None), "two_way": ("Two-way sensitivity", None),
    "scenarios": ("Scenarios", None), "budget_by_year": ("Budget by year", "gbp"),
    "data_dictionary": ("Data dictionary", None), "ce_plane": ("CE plane points", None),
    "psa_frontier": ("PSA frontier", None),
    "by_perspective": ("By perspective", None),
    "by_age_band": ("By age band", None), "decision_ratios": ("Decision ratios", None),
    "operational_validation": ("Operational validation", None), "headline_range": ("Headline range", None),
    "tau_sensitivity": ("Effect spread τ", None), "psa_by_age_band": ("PSA by age band", None),
    "placement_mix": ("Placement mix", "pct"), "age_bands": ("Age bands", None),
    # results.xlsx only: the budget's board table (year rows and a total) and its full detail
    "budget": ("Budget", "gbp"), "budget_detail": ("Budget detail", "gbp"),
    "outcomes": ("Children's outcomes", None), "psa_outcomes": ("PSA children's outcomes", None),
    "by_payer": ("Who pays and who saves", None), "psa_by_payer": ("PSA who pays and who saves", None),
    "budget_by_payer": ("Budget by payer", None), "consequences": ("Outcomes and who pays", None),
    "evsi": ("EVSI (value of a trial)", None), "value_of_information": ("EVPPI and EVSI", None),
}
# Tables whose value columns take their unit from a row's key column (the measure named in that row).
ROW_KEYED = {"psa_incremental": ("metric", ("mean", "lower", "upper")),
             "psa_by_age_band": ("metric", ("mean", "lower", "upper")), "decision_ratios": ("measure", ("value",)),
             "psa_strategies": ("outcome", ("mean", "lower", "upper"))}
# Tables whose value columns are in the unit of the parameter named in the row.
PARAMETER_VALUED = {"parameters": ("name", ("value", "param_a", "param_b", "low", "high")),
                    "tornado": ("parameter", ("base", "low", "high")),
                    "thresholds": ("parameter", ("base", "threshold", "search_from", "search_to"))}
DSA_OUTCOME_FORMATS = {"savings": ("£", "gbp", None), "nmb": ("£", "gbp", None), "placements": ("", "number", 4)}

# -- the calibration report (ifpp-econ calibrate) -----------------------------------------------
# Its tables reuse names such as value, low, high and default with meanings of their own, so their
# columns are declared per table (consulted before COLUMNS). Monthly probabilities are shown to 0.01%.
MONTHLY = "pct"  # kind of a monthly probability (2 decimals)


def _m(label: str, dash: str = "not applicable") -> Column:
    return Column(label, "", MONTHLY, 2, dash)


def _n(label: str, decimals: int | None = None, dash: str = "not applicable") -> Column:
    return Column(label, "", "number", decimals, dash)


def _t(label: str) -> Column:
    return Column(label, "", "text")


def _k(label: str) -> Column:
    return Column(label, "", "count")


NO_DATA = "no person-time in the window"
TABLE_COLUMNS: dict[str, dict[str, Column]] = {
    "estimates": {
        "kind": _t("Kind"), "band": _t("Duration band"), "cause": _t("Exit"), "events": _k("Events"),
        "person_months": _n("Person-months", 0), "rate": _n("Rate per person-month", 4, NO_DATA),
        "probability": _m("Monthly probability (local estimate)", NO_DATA),
        "exact_low": _m("Exact Poisson 95% low", NO_DATA), "exact_high": _m("Exact Poisson 95% high", NO_DATA),
        "bootstrap_low": _m("Bootstrap 95% low", "no bootstrap (fewer than 20 usable replicates)"),
        "bootstrap_high": _m("Bootstrap 95% high", "no bootstrap (fewer than 20 usable replicates)"),
        "design_effect": _n("Design effect", 2), "low": _m("95% low", NO_DATA), "high": _m("95% high", NO_DATA),
        "raw_low": _m("Local estimate 95% low", NO_DATA), "raw_high": _m("Local estimate 95% high", NO_DATA),
        "default": _m("Workbook value"), "shrunk": _m("Shrunk value", "no shrinkage (--shrink 0)"),
        "value": _m("Value in the copy"), "psa_alpha": _n("PSA beta α", None, NO_DATA),
        "psa_beta": _n("PSA beta β", None, NO_DATA), "written": _t("Written"), "thin": _t("Thin"),
        "action": _t("What the copy holds"), "reason": _t("Why"), "alpha_raised": _t("PSA α raised to 1"),
        "label": _t("Description"), "parameter": _t("Workbook row"),
    },
    "thin_cells": {"parameter": _t("Workbook row"), "events": _k("Events"), "person_months": _n("Person-months", 0),
                   "reason": _t("Why it is thin"),
                   "action": _t("What the copy holds"), "probability": _m("Local estimate"),
                   "value_written": _m("Value in the copy"), "label": _t("Description")},
    "counts": {"item": _t("What was counted"), "count": _k("Count")},
    "baseline_counts": {"item": _t("What was counted"), "count": _k("Count")},
    "placement_mix": {"placement_type": _t("Placement type"), "person_days": _n("Days in care", 0),
                      "share": Column("Share of time in care", "", "pct", 1), "children": _k("Entrant children")},
    "age_shares": {"children": _k("Children (first entry in the window)")},
    "checks": {"check": _t("Check"), "observed": Column("This authority", "", "pct", 1, "no one at risk that long"),
               "implied": Column("Implied by the values in the copy", "", "pct", 1, "not a model quantity"),
               "national": _t("National figure")},
    "exits": {"exit": _t("Why the period of care ended"), "periods": _k("Periods"), "share": Column("Share", "", "pct", 1)},
    "cumulative_incidence": {
        "months": _k("Months in care"), "aj_reunification": Column("Returned home (data)", "", "pct", 1),
        "aj_permanence": Column("Other permanence (data)", "", "pct", 1),
        "implied_reunification": Column("Returned home (implied)", "", "pct", 1),
        "implied_permanence": Column("Other permanence (implied)", "", "pct", 1), "at_risk": _k("Periods at risk")},
    "reentry_curve": {"months": _k("Months since the return home"), "km_reentry": Column("Re-entered (data)", "", "pct", 1),
                      "implied_reentry": Column("Re-entered (implied)", "", "pct", 1),
                      "at_risk": _k("Children at home and at risk")},
    "workbook_changes": {"parameter": _t("Workbook row"), "old_value": _n("Workbook value"), "new_value": _n("Value in the copy"),
                         "old_status": _t("Status before"), "new_status": _t("Status in the copy"),
                         "status": _t("Status in the copy"),
                         "old_distribution": _t("PSA distribution before"),
                         "new_distribution": _t("PSA distribution in the copy"), "action": _t("Change"),
                         "why": _t("Why"), "label": _t("Description")},
    "savings_comparison": {"workbook": _t("Workbook"), "holds": _t("What it holds"),
                           "risk_12m": Column("Usual-care risk by 12 months", "", "pct", 1),
                           "change": Column("Change against the input workbook", "£", "gbp", None,
                                            "the input workbook is the reference"),
                           "usual_care_cost": Column("Usual care: total cost per child", "£", "gbp")},
    "baseline_estimates": {
        "value": _n("Value in the copy"), "estimate": _n("Local estimate", None, "not estimable"),
        "se": _n("Bootstrap SE", None, "no bootstrap"), "low": _n("95% low", None, "no bootstrap"),
        "high": _n("95% high", None, "no bootstrap"), "events": _k("Events"),
        "n_at_risk": _k("Families still followed"), "horizon_days": _k("Horizon (days)"),
        "param_a": _n("PSA parameter a", None, "not used by this distribution"),
        "param_b": _n("PSA parameter b", None, "not used by this distribution"),
        "withheld": _t("Withheld"), "reason": _t("Why withheld"), "default": _n("Workbook value"),
        "label": _t("Description"), "status": _t("Status in the copy"), "parameter": _t("Workbook row")},
    "baseline_curve": {
        "months": _k("Months since cohort entry"), "day": _k("Day"), "cif": Column("Local cumulative risk", "", "pct", 1),
        "cif_competing": Column("Competing event (cumulative)", "", "pct", 1),
        "low": Column("Bootstrap 95% low", "", "pct", 1, "no bootstrap"),
        "high": Column("Bootstrap 95% high", "", "pct", 1, "no bootstrap"), "at_risk": _k("Families at risk"),
        "events": _k("Families with an entry (cumulative)"),
        "workbook": Column("Workbook's usual-care curve", "", "pct", 1),
        "written": Column("Model's curve through the values in the copy", "", "pct", 1)},
    "baseline_family_sizes": {"size": _k("Children in the family"), "families": _k("Families")},
    "baseline_comparisons": {
        "figure": _t("Figure"), "measures": _t("What it measures"), "cohort": _t("Population"),
        "published": Column("Published", "", "pct", 1), "local": Column("This authority", "", "pct", 1,
                                                                        "not estimable from these data"),
        "local_measure": _t("This authority's comparable figure"), "source": _t("Source")},
    "baseline_families": {"figure": _t("Figure"), "measures": _t("What it measures"), "published": _n("Published", 2),
                          "local": _n("This authority", 2), "source": _t("Source")},
}
_OUTCOMES = {"outcome": _t("Outcome"), "unit": _t("Counted in"), "ifpp": _n("IFPP, per child"),
             "usual_care": _n("Usual care, per child"), "difference": _n("Difference, per child"),
             "difference_lower": _n("Difference, 2.5th percentile"), "difference_upper": _n("Difference, 97.5th percentile"),
             "difference_per_100_families": _n("Difference per 100 families referred"),
             "framework_outcome": _t("National Framework outcome")}
_LEDGER = {"payer_row": _t("Payer"), "ifpp": Column("IFPP", "£", "gbp"), "usual_care": Column("Usual care", "£", "gbp"),
           "savings": Column("Savings", "£", "gbp"),
           "savings_lower": Column("Savings, 2.5th percentile", "£", "gbp", dash="percentiles do not add up over payers"),
           "savings_upper": Column("Savings, 97.5th percentile", "£", "gbp", dash="percentiles do not add up over payers")}
TABLE_COLUMNS.update({"outcomes": _OUTCOMES, "psa_outcomes": {**_OUTCOMES, "ifpp": _n("IFPP, per child (mean)"),
                                                              "usual_care": _n("Usual care, per child (mean)"),
                                                              "difference": _n("Difference, per child (mean)")},
                      "by_payer": _LEDGER, "psa_by_payer": {**_LEDGER, "savings": Column("Savings (mean)", "£", "gbp")},
                      "budget_by_payer": _LEDGER})


def _interval_columns(name: str, label: str, unit: str, kind: str, decimals: int | None = None) -> dict[str, Column]:
    return {f"{name}_mean": Column(f"{label}, mean", unit, kind, decimals),
            f"{name}_lower": Column(f"{label}, 2.5th percentile", unit, kind, decimals),
            f"{name}_upper": Column(f"{label}, 97.5th percentile", unit, kind, decimals)}


# ifpp-econ rollup: one row per authority (ranked), and the region's totals (one row per measure)
TABLE_COLUMNS["rollup_authorities"] = {
    "rank": _k("Rank by net saving"), "authority": _t("Authority"), "workbook": _t("Workbook"),
    "families_per_year": _n("Families referred a year", 1),
    **_interval_columns("per_child_savings", "Savings per child", "£", "gbp"),
    **_interval_columns("placements_avoided_per_child", "Placements avoided per child", "", "number", 4),
    **_interval_columns("net_saving", "Net saving over the budget years (undiscounted)", "£", "gbp"),
    **_interval_columns("placements_avoided", "First placements avoided over the budget years", "", "number", 1),
    "prob_cost_saving": COLUMNS["prob_cost_saving"],
    "prob_budget_saving": Column("Probability the budget saves money", "", "prob"),
}
COLUMNS.update({  # the region's measures (rows of rollup_totals; their unit formats the row)
    "placements_avoided_per_year": _c("First placements avoided a year", kind="number", decimals=1),
    "children_kept_at_home": _c("Children kept at home", kind="number", decimals=1),
    "prob_region_saves": _c("Probability the region saves money", kind="prob"),
    "evpi": _c("Population EVPI", "£", "gbp"), "evppi_shared_effect": _c("EVPPI of the shared effect", "£", "gbp"),
    "evppi_local_parameters": _c("EVPPI of the local parameters (upper bound)", "£", "gbp"),
    "national_net_saving": _c("National net saving", "£", "gbp"),
    "national_placements_avoided_per_year": _c("National first placements avoided a year", kind="number", decimals=0),
    "national_children_kept_at_home": _c("National children kept at home", kind="number", decimals=0),
})
TABLE_COLUMNS["rollup_totals"] = {"measure": _t("Measure"), "label": _t("Description"),
                                  "mean": _c("Mean", dash="see the measure"),
                                  "lower": _c("2.5th percentile", dash="no interval for this measure"),
                                  "upper": _c("97.5th percentile", dash="no interval for this measure")}
TABLES.update({"rollup_authorities": ("Authorities", None), "rollup_totals": ("Region", None)})
ROW_KEYED["rollup_totals"] = ("measure", ("mean", "lower", "upper"))
TABLES.update({  # the calibration report's sheets (placement_mix: already declared)
    "estimates": ("Care dynamics", None), "thin_cells": ("Thin cells", None), "counts": ("903 exclusions and repairs", None),
    "age_shares": ("Age at entry", None), "checks": ("Checks", None), "exits": ("Exits by reason", None),
    "cumulative_incidence": ("Exits cumulative incidence", None), "reentry_curve": ("Re-entry curve", None),
    "workbook_changes": ("Changes to the workbook", None), "savings_comparison": ("Savings per child", None),
    "baseline_estimates": ("Baseline estimates", None), "baseline_curve": ("Baseline curve", None),
    "baseline_counts": ("Baseline cohort and linkage", None), "baseline_family_sizes": ("Baseline family sizes", None),
    "baseline_comparisons": ("Baseline vs published risks", None),
    "baseline_families": ("Baseline vs published families", None)})
# Tables whose value columns take the unit of the parameter named in a row (``context["units"]``): probabilities
# as percentages (0.01% for monthly ones), other units as numbers.
PARAMETER_PERCENT = {"workbook_changes": ("parameter", ("old_value", "new_value")),
                     "baseline_estimates": ("parameter", ("value", "estimate", "se", "low", "high", "default")),
                     "thin_cells": ("parameter", ("probability", "value_written"))}


def parameter_value_column(unit: str, col: Column) -> Column:
    """``col`` shown in a parameter's workbook ``unit``: a probability as a percentage, anything else as a number."""
    u = str(unit)
    if u.startswith("probability"):
        return Column(col.label, "", "pct", 2 if u.endswith("/month") else 1, col.dash)
    if u.startswith("GBP"):
        return Column(col.label, "£", "gbp", None, col.dash)
    return Column(col.label, "", "number", 2 if u in ("children", "multiplier") else None, col.dash)


def humanise(name: str) -> str:
    """A readable label for an undeclared column: spaces for underscores, first letter capital."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else text


KIND_UNITS = {"gbp": "£", "gbp2": "£"}


def undeclared(name: str, kind: str | None = None) -> Column:
    """The presentation of a column not in :data:`COLUMNS`: its table's kind (number by default), never a
    guess from the name."""
    kind = kind or "number"
    return Column(humanise(name), KIND_UNITS.get(kind, ""), kind)


def column(name: str, table: str | None = None) -> Column:
    """The declared presentation of ``name`` (in ``table``'s own declarations first); ``table`` declares the kind of
    undeclared columns."""
    if name in TABLE_COLUMNS.get(table or "", {}):
        return TABLE_COLUMNS[table or ""][name]
    if name in COLUMNS:
        return COLUMNS[name]
    return undeclared(name, TABLES.get(table or "", (None, None))[1])


def unit_column(unit: str) -> Column:
    """The presentation of a parameter value in its workbook unit (``GBP/week/child``, ``probability`` …)."""
    u = str(unit)
    if u.startswith("GBP"):
        return Column("", u.replace("GBP", "£", 1), "gbp")
    if u == "share":
        return Column("", "", "pct")
    return Column("", u, "number")


def dsa_columns(outcome: str) -> dict[str, Column]:
    """Columns of the one-way table for a DSA ``outcome`` (savings, nmb, placements)."""
    unit, kind, decimals = DSA_OUTCOME_FORMATS.get(outcome, ("", "number", None))
    return {name: Column(COLUMNS[name].label, unit, kind, decimals) for name in ("outcome_low", "outcome_high", "swing")}


# -- text --------------------------------------------------------------------------------------
def _is_missing(v) -> bool:
    if v is None:
        return True
    if isinstance(v, (float, np.floating)):
        return not math.isfinite(v)
    return v is pd.NA or v is pd.NaT


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and not _is_missing(v)


def _significant_decimals(v: float, digits: int = 4) -> int:
    """Decimals that show ``digits`` significant digits of ``v`` (0 for values ≥ 10^(digits−1))."""
    if v == 0:
        return 0
    return int(min(8, max(0, digits - 1 - math.floor(math.log10(abs(v))))))


def _pence(v: Number) -> int:
    """Decimals for an amount of money: pence only below £100 and when there are any."""
    return 2 if -100 < v < 100 and round(float(v), 2) != round(float(v)) else 0


def gbp(v: Number, decimals: int = 0) -> str:
    """£ with thousands separators and a Unicode minus: −£1,234."""
    if _is_missing(v):
        return DASH
    text = f"£{abs(v):,.{decimals}f}"
    return MINUS + text if v < 0 and text.strip("£0.,") else text


def number(v: Number, decimals: int | None = None) -> str:
    """Thousands separators, fixed ``decimals`` (or four significant digits), never an exponent."""
    if _is_missing(v):
        return DASH
    v = float(v)
    d = _significant_decimals(v) if decimals is None else decimals
    text = f"{abs(v):,.{d}f}"
    if decimals is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    return MINUS + text if v < 0 and text.strip("0.,") else text


def probability(p: Number) -> str:
    """An estimated probability: "< 0.1%" and "> 99.9%" at the ends, never 0.0% or 100.0%."""
    if _is_missing(p):
        return DASH
    if p >= 0.9995:
        return "> 99.9%"
    if p <= 0.0005:
        return "< 0.1%"
    return f"{p:.1%}"


def format_value(v, col: Column) -> str:
    """A cell's text for HTML and the console."""
    if _is_missing(v):
        return "" if col.kind == "text" else DASH
    if col.kind == "year" and _is_number(v):
        return f"{v:.0f}"
    if col.kind == "text" or isinstance(v, str) or not isinstance(v, (int, float, np.number)) or isinstance(v, bool):
        return str(v)
    if col.kind == "gbp":
        return gbp(v, _pence(v) if col.decimals is None else col.decimals)
    if col.kind == "gbp2":
        return gbp(v, 2 if -1000 < v < 1000 else 0)
    if col.kind == "pct":
        return number(100 * v, 1 if col.decimals is None else col.decimals) + "%"
    if col.kind == "prob":
        return probability(v)
    if col.kind == "count":
        return number(v, 0)
    return number(v, col.decimals)


def excel_format(col: Column, v=None) -> str:
    """An Excel number format for a cell of ``col`` holding ``v`` (never "General")."""
    if col.kind == "gbp":
        d = col.decimals if col.decimals is not None else (_pence(v) if _is_number(v) else 0)
        return '"£"#,##0;-"£"#,##0' if not d else f'"£"#,##0.{"0" * d};-"£"#,##0.{"0" * d}'
    if col.kind == "gbp2":
        return '"£"#,##0.00;-"£"#,##0.00'
    if col.kind == "pct" and col.decimals is not None:
        return "0" + ("." + "0" * col.decimals if col.decimals else "") + "%"
    if col.kind in ("pct", "prob"):
        return "0.0%"
    if col.kind == "count":
        return "#,##0"
    if col.kind == "text":
        return "@"
    if col.kind == "year":
        return "0"
    places = col.decimals
    if places is None:
        places = (0 if float(v).is_integer() else _significant_decimals(float(v))) if _is_number(v) else 2
    return "#,##0" + ("." + "0" * places if places else "")


# -- tables ------------------------------------------------------------------------------------
def table_columns(df: pd.DataFrame, table: str | None = None, context: dict | None = None) -> dict[str, Column]:
    """The Column of each column of a table (headers; rows may refine units, see :func:`cell_columns`)."""
    cols = {c: column(str(c), table) for c in df.columns}
    for c in df.columns:  # undeclared columns of text (e.g. "yes"/"no") are text, whatever their name says
        if str(c) not in COLUMNS and str(c) not in TABLE_COLUMNS.get(table or "", {}) and \
                not pd.api.types.is_numeric_dtype(df[c]) and \
                all(isinstance(v, str) or _is_missing(v) for v in df[c]):
            cols[c] = Column(cols[c].label, "", "text")
    if table == "tornado":
        cols.update({k: v for k, v in dsa_columns((context or {}).get("dsa_outcome", "savings")).items() if k in cols})
    return cols


def cell_columns(df: pd.DataFrame, table: str | None = None, context: dict | None = None) -> list[list[Column]]:
    """The Column of every cell, shape (rows, columns) — row-keyed tables take a row's measure or parameter unit.

    ``context`` may give ``units`` (parameter name → workbook unit) and ``dsa_outcome``.
    """
    context = context or {}
    base = table_columns(df, table, context)
    rows = []
    key, valued = ROW_KEYED.get(table or "", (None, ()))
    pkey, pvalued = PARAMETER_VALUED.get(table or "", (None, ()))
    qkey, qvalued = PARAMETER_PERCENT.get(table or "", (None, ()))
    units = context.get("units", {})
    if table == "parameters" and "unit" in df.columns and "name" in df.columns:
        units = {**units, **dict(zip(df["name"].astype(str), df["unit"].astype(str)))}
    at = {c: j for j, c in enumerate(df.columns)}
    plain = [base[c] for c in df.columns]
    keyed = key in at or pkey in at or qkey in at
    if not keyed:
        return [plain for _ in range(len(df))]
    for r in df.values:  # the values iterrows() would give; only keys are read
        cols = dict(base)
        if key in at:
            name = str(r[at[key]])
            measure = COLUMNS["prob_cost_saving"] if name.startswith("prob") else column(name)
            for c in valued:
                if c in cols:
                    cols[c] = Column(cols[c].label, measure.unit, measure.kind, measure.decimals, measure.dash)
        if pkey in at and str(r[at[pkey]]) in units:
            u = unit_column(units[str(r[at[pkey]])])
            for c in pvalued:
                if c in cols:
                    cols[c] = Column(cols[c].label, "", u.kind, u.decimals, cols[c].dash)
        if qkey in at and str(r[at[qkey]]) in units:
            for c in qvalued:
                if c in cols:
                    cols[c] = parameter_value_column(units[str(r[at[qkey]])], cols[c])
        rows.append([cols[c] for c in df.columns])
    return rows


def display_table(df: pd.DataFrame, table: str | None = None, context: dict | None = None
                  ) -> tuple[list[str], list[list[str]], list[list[Column]], list[str]]:
    """Headers, cell texts, cell Columns and footnotes (one per column that shows "—") of a table."""
    cols = cell_columns(df, table, context)
    key = ROW_KEYED.get(table or "", (None,))[0]
    headers = [c.header for c in table_columns(df, table, context).values()]
    texts: list[list[str]] = []
    notes: dict[str, str] = {}
    for i, r in enumerate(df.values):  # the values iterrows() would give (one common dtype per row)
        row = []
        for j, c in enumerate(df.columns):
            v = r[j]
            text = format_value(v, cols[i][j])
            if c == key and str(v) in COLUMNS:  # a measure's machine name → its label
                text = COLUMNS[str(v)].label
            if text == DASH:
                notes.setdefault(headers[j], cols[i][j].dash)
            row.append(text)
        texts.append(row)
    footnotes = [f"— in “{h}”: {why}." for h, why in notes.items()]
    return headers, texts, cols, footnotes


def data_dictionary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every CSV column of a run: table, machine name, label, unit and how it is shown."""
    rows = []
    for table, df in tables.items():
        for c in df.columns:
            col = column(str(c), table)
            unit = col.unit or {"pct": "share (0–1)", "prob": "probability (0–1)"}.get(col.kind, "")
            if table in ROW_KEYED and c in ROW_KEYED[table][1]:
                unit = f"unit of the measure named in column {ROW_KEYED[table][0]}"
            if (table in PARAMETER_VALUED and c in PARAMETER_VALUED[table][1]) or \
                    (table in PARAMETER_PERCENT and c in PARAMETER_PERCENT[table][1]):
                unit = "the parameter's workbook unit"
            rows.append({"table": f"{table}.csv", "column": str(c), "label": col.label, "unit": unit,
                         "format": col.kind, "blank_means": col.dash if col.kind != "text" else ""})
    return pd.DataFrame(rows)


def small_sample_warning(iterations: int, minimum: int = 1000) -> str:
    """A warning when a PSA is too small for its intervals and probabilities to be trusted ('' otherwise)."""
    if iterations >= minimum:
        return ""
    return (f"Warning: only {iterations:,} PSA iterations; intervals and probabilities are unreliable below "
            f"{minimum:,} (use -n 10000 for decisions).")


# -- parameter values and the budget's basis, as a reader says them ----------------------------------
DIMENSIONLESS_UNITS = ("", "relative risk", "multiplier", "log-RR SD", "ratio", "odds ratio", "hazard ratio")


def _percent(v: float) -> str:
    """A probability or share as a percentage with two significant digits (whole percent from 10%): 20%, 6.5%, 0.003%."""
    pct = 100 * float(v)
    decimals = 0 if pct == 0 else int(min(4, max(0, 1 - math.floor(math.log10(abs(pct))))))
    text = number(pct, decimals)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "%"


def unit_value(v, unit: str) -> str:
    """A parameter's value in its workbook unit as a reader says it: £2,500 (money), 20% (probabilities and
    shares, per month or year too), 24 months (counts with a unit), 0.48 (relative risks and multipliers)."""
    if _is_missing(v):
        return DASH
    u = str(unit or "")
    if u.startswith("GBP"):
        return gbp(v, _pence(v))
    if u == "share" or u.startswith("probability"):
        return _percent(v)
    text = number(v, 2 if u in DIMENSIONLESS_UNITS else None)
    if u in DIMENSIONLESS_UNITS:
        return text
    return f"{text} {u}"


def unit_range(low, high, unit: str) -> str:
    """A parameter's low–high range in its unit: "£2,500 to £9,000", "20% to 57%", "12 to 60 months"."""
    u = str(unit or "")
    if u.startswith(("GBP", "probability")) or u == "share" or u in DIMENSIONLESS_UNITS:
        return f"{unit_value(low, u)} to {unit_value(high, u)}"
    return f"{number(low)} to {unit_value(high, u)}"


def budget_basis(price_year: str = "", conventions: str = "") -> str:
    """The conventions of a budget impact (undiscounted cash), from the model's ``conventions`` text.

    The budget is cash as it is spent and saved, so the model's discounting and its per-child price basis
    do not apply to it and are left out; what does apply (cycles, the effect model, the perspective) is kept.
    """
    basis = ["undiscounted cash" + (f", {price_year} prices" if price_year else ""),
             "each year's spend and costs avoided as they fall, not discounted",
             "families referred evenly over each year's months; years are 12-month periods from the programme start",
             "totals for the local authority, not per child"]
    dropped = ("discount rate", "factor (1+r)", "costs in ")
    own = {part.strip() for part in "; ".join(basis).split(";")}
    kept = [part.strip() for part in str(conventions).split(";")
            if part.strip() and not any(part.strip().startswith(d) for d in dropped)
            and part.strip() not in own and not part.strip().startswith("undiscounted cash")]  # given a budget's own
    return "; ".join(basis + kept)
