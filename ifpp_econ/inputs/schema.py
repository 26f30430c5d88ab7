"""The parameter workbook's schema and default content: the single source of truth.

Every default value, distribution, range, source and status comes from
``shared/docs/evidence.md``. Status: F = figure reported by the source; D = derived
from reported figures (arithmetic in the notes); E = estimate where no source was
found — replace with local data.
"""
from __future__ import annotations

from .. import declarations
from .container import AFTER_EFFECTS, CORRECTIONS, EFFECT_MODELS, PERSPECTIVES, PSA_STRUCTURAL, YES_NO  # noqa: F401
from .distributions import DISTRIBUTIONS
from .units import COST_UNITS, UNITS

SHEETS = ("README", "Settings", "Parameters", "Strategies", "Age bands", "Placement mix", "Scenarios",
          "Correlations", "Inflation")
COLUMNS = {
    "Settings": ("setting", "value", "allowed", "notes"),
    "Parameters": ("name", "label", "value", "unit", "price_year", "distribution", "param_a", "param_b", "low", "high",
                   "source", "status", "notes", "payer", "applies_to", "cashable_share", "cashable_lag_months"),
    "Strategies": ("strategy", "description", "receives_ifpp", "cost_method", "cost_multiplier", "notes"),
    "Age bands": ("band", "age_at_referral_years", "share", "notes"),
    # plus one share column per age band, headed with the band's name (see PLACEMENT_MIX)
    "Placement mix": ("placement_type", "cost_parameter", "notes"),
    "Scenarios": ("scenario", "target", "value", "notes"),
    "Correlations": ("parameter_1", "parameter_2", "rank_correlation"),
    "Inflation": ("financial_year", "annual_change", "source"),
}
# Columns a user types into (styled as inputs).
INPUT_COLUMNS = {
    "Settings": ("value",),
    "Parameters": ("value", "price_year", "low", "high", "source", "status", "payer", "applies_to", "cashable_share",
                   "cashable_lag_months"),  # the technical columns stay white
    "Strategies": ("strategy", "description", "receives_ifpp", "cost_method", "cost_multiplier"),
    "Age bands": ("band", "age_at_referral_years", "share"),
    "Placement mix": (),  # the band columns are inputs (styled by the writer)
    "Scenarios": ("scenario", "target", "value"),
    "Correlations": ("parameter_1", "parameter_2", "rank_correlation"),
    "Inflation": ("financial_year", "annual_change"),
}
STATUSES = ("F", "D", "E", "F/D", "D/F", "L")
PAYERS = declarations.PAYERS  # LA (children's services and legal), HMCTS and the agencies an added cost row may name
APPLIES_TO = tuple(declarations.APPLIES_TO)  # what an added cost row is counted per (declarations.APPLIES_TO)
# The cashable share of each built-in cost's savings (status E, evidence.md "Realisable (cashable) vs notional
# savings"): an avoided spot purchase releases cash; in-house capacity and staff time release cash only if capacity is
# cut (notional in the short run); court costs fall to HMCTS (no LA cash). name → (share, reasoning).
CASHABLE = {
    "cost_kinship": (0.0, "in-house carers"),
    "cost_la_foster": (0.0, "in-house capacity"),
    "cost_ifa": (1.0, "spot purchase"),
    "cost_residential": (1.0, "spot purchase"),
    "cost_secure": (1.0, "spot purchase"),
    "cost_semi_independent": (1.0, "spot purchase"),
    "cost_with_parents": (0.0, "staff time"),
    "cost_other": (0.0, "mostly in-house"),
    "court_cost_proceedings": (0.0, "HMCTS, not LA cash"),
    "la_legal_cost_proceedings": (0.5, "counsel bought in, lawyers in-house"),
    "reunification_support_cost": (0.0, "staff time"),
    "case_support_cost": (0.0, "staff time"),
    "sgo_allowance": (1.0, "paid in cash"),
}

COST_METHODS = ("none", "per_family", "bottom_up")
AFTER_EFFECT = AFTER_EFFECTS
VOCABULARIES = {
    "distribution": DISTRIBUTIONS[:1] + DISTRIBUTIONS[2:],  # dirichlet is set on the share sheets, not here
    "unit": UNITS,
    "status": STATUSES,
    "receives_ifpp": YES_NO,
    "cost_method": COST_METHODS,
    "within_cycle_correction": CORRECTIONS,
    "effect_model": EFFECT_MODELS,
    "after_effect": AFTER_EFFECT,
    "perspective": tuple(PERSPECTIVES),
    "psa_structural": PSA_STRUCTURAL,
    "payer": PAYERS,
    "applies_to": APPLIES_TO,
    "yes_no": YES_NO,
}

# Settings added after workbooks were in use: a workbook without them takes their default (with a warning).
LATER_SETTINGS = ("decay_months", "weight_linear_decay", "evsi_sample_sizes", "trial_fixed_cost", "trial_cost_per_family",
                  "authority", "all_savings_cashable")
# Parameters added after workbooks were in use: likewise.
LATER_PARAMETERS = ("share_reentries_with_proceedings",)

# (name, default, kind, allowed text, notes); kinds: text, name (text that may be empty), year, int, number, rate,
# choice:<vocab>, list, intlist:lo:hi (whole numbers separated by commas; empty allowed)
SETTINGS = (
    ("analysis_price_year", "2023/24", "year", "a financial year in the Inflation sheet, e.g. 2023/24",
     "all costs are uplifted to this price year"),
    ("cycle_length_months", 1, "int:1:1", "1 (monthly cycles)", "the model runs in monthly cycles"),
    ("horizon_years", 18, "number:0.0833:18", "0.1 to 18 years", "18 = follow each age band to age 18; less caps the "
     "horizon in years from referral (e.g. 5 for a budget view)"),
    ("discount_rate_costs", 0.035, "number:0:0.2", "0 to 0.2 a year (e.g. 3.5% or 0.035)",
     "HM Treasury Green Book 3.5% (years 0–30); NICE/HTW reference case"),
    ("discount_rate_outcomes", 0.035, "number:0:0.2", "0 to 0.2 a year", "HM Treasury Green Book; NICE/HTW reference case"),
    ("within_cycle_correction", "half-cycle", "choice:within_cycle_correction", ", ".join(CORRECTIONS),
     "none-start counts each month at its start, none-end at its end; half-cycle = trapezoid rule; simpson = Simpson's 1/3"),
    ("effect_model", "single_rr", "choice:effect_model", ", ".join(EFFECT_MODELS),
     "single_rr: the child-level 12-month RR at every time point up to the effect duration; window_rrs: the "
     "3/6/12/24-month RRs; family_rr: rr_family_12m applied to the family-level risk (scenario)"),
    ("after_effect", "effect_stops", "choice:after_effect", ", ".join(AFTER_EFFECT),
     "after the effect duration: effect_stops (base case; IFPP children still at home face usual care's monthly "
     "hazard), gap_persists (the absolute gap in cumulative risk persists to age 18), catch_up (the gap closes over "
     "catch_up_months) or linear_decay (the relative reduction in cumulative risk fades linearly to none over "
     "decay_months, as WSIPP decays effect sizes). Evidence covers 24 months only (E)"),
    ("catch_up_months", 12, "number:1:216", "1 to 216 months", "used when after_effect = catch_up"),
    ("decay_months", 36, "number:1:216", "1 to 216 months", "used when after_effect = linear_decay: months over "
     "which the relative effect fades to none (E; WSIPP decays effect sizes over years)"),
    ("perspective", "local_authority", "choice:perspective", ", ".join(PERSPECTIVES),
     "local_authority counts costs whose payer is LA; public_sector adds HMCTS (court) costs and every other payer an "
     "added cost row names (NHS, education, police/youth justice, other)"),
    ("all_savings_cashable", "no", "choice:yes_no", "yes, no",
     "budget: yes counts every avoided cost as cash (cashable shares 1, no lags: the budget before cashable shares); "
     "no uses each cost row's cashable_share and cashable_lag_months on the Parameters sheet"),
    ("psa_structural", "none", "choice:psa_structural", ", ".join(PSA_STRUCTURAL),
     "none: the PSA uses after_effect only; model_averaged: each iteration draws the after-effect assumption and "
     "'no effect' with the weights below (structural uncertainty)"),
    ("weight_effect_stops", 0.5, "number:0:1", "0 to 1", "model-averaged PSA: weight of effect_stops (E)"),
    ("weight_gap_persists", 0.25, "number:0:1", "0 to 1", "model-averaged PSA: weight of gap_persists (E)"),
    ("weight_catch_up", 0.25, "number:0:1", "0 to 1", "model-averaged PSA: weight of catch_up (E); the after-effect "
     "weights are rescaled to sum to 1"),
    ("weight_linear_decay", 0.0, "number:0:1", "0 to 1", "model-averaged PSA: weight of linear_decay (E; 0 keeps the "
     "published three-assumption average)"),
    ("weight_no_effect", 0.25, "number:0:1", "0 to 1", "model-averaged PSA: prior probability that IFPP has no effect "
     "in this setting (RR = 1; Al et al. 2012, Westat 2001) (E)"),
    ("placement_mix_effective_n", 60, "number:0:1e6", "0 (fixed shares) or an effective sample size > 0",
     "PSA: each age band's placement shares ~ Dirichlet(n × shares); the shares are the mean (E)"),
    ("age_mix_effective_n", 0, "number:0:1e6", "0 (fixed shares) or an effective sample size > 0",
     "PSA: age-band shares ~ Dirichlet(n × shares); 0 keeps them fixed"),
    ("psa_iterations", 10000, "int:1:10000000", "1 to 10,000,000", "default for ifpp-econ psa -n"),
    ("psa_seed", 20231, "int:0:4294967295", "a whole number ≥ 0", "fixes every random draw"),
    ("wtp_min", 0, "number:0:1e9", "≥ 0 (GBP per placement avoided)", "willingness-to-pay grid for CEAC/EVPI"),
    ("wtp_max", 200000, "number:0:1e9", "> wtp_min", "willingness-to-pay grid for CEAC/EVPI"),
    ("wtp_step", 5000, "number:1:1e9", "> 0", "willingness-to-pay grid step"),
    ("wtp_default", 50000, "number:0:1e9", "≥ 0", "λ for net monetary benefit and the CE plane (E)"),
    ("la_referrals_per_year", 47, "number:0:1e6", "≥ 0 families", "IFSS Year 3 acceptances per site (budget impact)"),
    ("authority", "", "name", "a name, or empty for the workbook's file name",
     "the local authority this workbook describes (ifpp-econ rollup names and seeds each authority by it)"),
    ("budget_years", 5, "int:1:5", "1 to 5", "years of referrals and of the budget impact"),
    ("decision_years", 10, "int:1:50", "1 to 50", "years of decision relevance for population EVPI (E)"),
    ("evsi_sample_sizes", "", "intlist:2:1000000", "empty (no EVSI) or families per arm separated by commas, "
     "e.g. 25, 100, 400, 1600 (each 2 to 1,000,000)", "expected value of sample information of a two-arm trial of "
     "that many families per arm (psa and report; psa --evsi overrides)"),
    ("trial_fixed_cost", 600000, "number:0:1e9", "≥ 0 GBP", "a UK trial's fixed cost: set-up, trial management, process "
     "evaluation, analysis and reporting (E: a mid-sized social care RCT budget; replace with a costed proposal)"),
    ("trial_cost_per_family", 500, "number:0:1e7", "≥ 0 GBP per family randomised", "recruitment, randomisation and "
     "the 12-month outcome from LA records (E; outcome collection from routine data keeps it low)"),
    ("comparator", "Usual care", "text", "one of the strategies", "the reference strategy in every comparison"),
    ("threshold_parameters", "ifpp_cost_per_family, rr_12m, risk_12m, cost_residential, effect_duration_months, "
     "children_placed_per_family_placement", "list",
     "parameter names separated by commas", "break-even values are searched for these in ifpp-econ dsa"),
)

def setting_default(name: str):
    """The default value of setting ``name`` (see :data:`SETTINGS`)."""
    return next(default for setting, default, *_ in SETTINGS if setting == name)


BEZECZKY = "Bezeczky et al. 2020, Child Abuse & Neglect 102:104394 (child level)"
CONTROL_ARMS = ("Control arms: Feldman 1991 NJ RCT 37%/50%/57% by 3/6/12 months; Westat 2001 24–27% at ≈1 year; "
                "Yuan 1990 20% at 2–8 months; Option 2 comparison 40% over 3.5 years")
CARE_STATS = ("England 2024 (83,630 looked after; 33,620 ceased); England 2013 leavers; Wales 2018-19 and 2010-11 "
              "(evidence.md, care dynamics)")


def _p(name, label, value, unit, dist="fixed", a=None, b=None, low=None, high=None, source="", status="E", notes="",
       price_year=None, payer=None):
    if payer is None and unit.startswith("GBP"):
        payer = "LA"
    share, lag = (CASHABLE[name][0], 0) if name in CASHABLE else (None, None)
    if name in CASHABLE:
        notes = (notes + "; " if notes else "") + f"cashable {share:.0%} (E): {CASHABLE[name][1]}"
    return {"name": name, "label": label, "value": value, "unit": unit, "price_year": price_year, "payer": payer,
            "distribution": dist, "param_a": a, "param_b": b, "low": low, "high": high, "source": source,
            "status": status, "notes": notes, "applies_to": None, "cashable_share": share, "cashable_lag_months": lag}


def _cost(name, label, value, unit, se_share, low=None, high=None, source="", status="E", notes="", price_year="2023/24",
          payer="LA"):
    return _p(name, label, value, unit, "gamma_mean_sepct", se_share, None, low, high, source, status,
              notes + ("; " if notes else "") + f"gamma, SE {se_share:.0%} of the value (follows an edited value)",
              price_year, payer)


def _monthly(name, label, value, status="E", notes=""):
    kind = name.split("_")[0]
    return _p(name, label, value, "probability/month", "fixed", None, None, None, None, CARE_STATS, status,
              (notes + "; " if notes else "") + f"PSA and one-way: scaled with the other {kind} probabilities by "
              f"care_multiplier_{kind} (keeps the curve's shape); a beta per row is allowed instead")


# The exit split (evidence.md care dynamics: 0.040/0.025/0.012/0.006 return home, 0.005/0.015/0.015/0.008 other
# permanence) recalibrated: each return-home rate × 0.65, the difference moved to other permanence (the total monthly
# exit, and so the months in care, kept), so that usual care's leavers who return home are 30.4% (England 27% in
# 2022/23, 34% in 2014/15; the first build's split gave 46.5%).
EXIT_SPLIT = ("recalibrated exit split: return-home rates of evidence.md × 0.65, the difference moved to other "
              "permanence (same total exit) so that 30.4% of usual care's leavers return home (England 27% in 2022/23, "
              "34% in 2014/15; operational validation)")

LOG_SD_CARE = 0.25  # evidence.md, revisions: one shared lognormal multiplier per transition type, SD 0.25 (log scale)


def _multiplier(kind, label):
    # log-mean −σ²/2 puts the mean at 1 (the base value); one-way range = 2.5th/97.5th percentiles
    return _p(f"care_multiplier_{kind}", label, 1.0, "multiplier", "lognormal_log", round(-LOG_SD_CARE ** 2 / 2, 6),
              LOG_SD_CARE, None, None, "evidence.md, revisions (care dynamics)", "E",
              f"multiplies every {kind} monthly rate (p → 1 − (1 − p)^m); lognormal, log-SD {LOG_SD_CARE}, mean 1")


PARAMETERS = (
    # effectiveness
    _p("rr_12m", "RR of placement, IFPP vs usual care, 12 months (child level)", 0.60, "relative risk", "lognormal_ci",
       0.48, 0.76, 0.48, 0.76, BEZECZKY, "F", "log-SE (ln 0.76 − ln 0.48)/3.92 = 0.117 (pooled mean); the PSA widens it "
       "by rr_between_study_sd for a new setting; base = median"),
    _p("rr_3m", "RR of placement at 3 months", 0.57, "relative risk", "lognormal_ci", 0.35, 0.93, 0.35, 0.93, BEZECZKY, "F",
       "used when effect_model = window_rrs; the windows share the 12-month draw in the PSA (one meta-analysis); "
       "base = median"),
    _p("rr_6m", "RR of placement at 6 months", 0.51, "relative risk", "lognormal_ci", 0.27, 0.96, 0.27, 0.96, BEZECZKY, "F",
       "used when effect_model = window_rrs; base = median"),
    _p("rr_24m", "RR of placement at 24 months", 0.51, "relative risk", "lognormal_ci", 0.30, 0.87, 0.30, 0.87, BEZECZKY, "F",
       "used when effect_model = window_rrs; base = median"),
    _p("rr_family_12m", "RR of placement at family level (scenario)", 0.85, "relative risk", "lognormal_ci", 0.60, 1.10,
       0.60, 1.10, "Bezeczky 2020: no significant reduction at family level (RR 1.0 within its CI); evidence.md "
       "revisions", "E", "used when effect_model = family_rr; base = median"),
    _p("rr_between_study_sd", "Between-study SD of the log RR (effect in a new setting)", 0.3, "log-RR SD", "fixed",
       None, None, None, None, "Al et al. 2012 (20 studies, effects moderated by client and programme); Westat 2001 (no "
       "difference); evidence.md revisions", "E", "PSA only: log RR ~ N(ln RR, √(SE² + τ²)) — the predictive "
       "distribution for a new setting; 0 = uncertainty in the pooled mean only; plausible range 0–0.5"),
    _p("effect_duration_months", "Duration of the IFPP effect", 24, "months", "fixed", None, None, 12, 60,
       "Longest follow-up in Bezeczky 2020", "E", "after it: after_effect setting"),
    # usual-care risk of first entry (family level: at least one child placed)
    _p("risk_3m", "Cumulative risk of a family's first placement by 3 months (usual care)", 0.15, "probability",
       "fixed", None, None, 0.10, 0.37, CONTROL_ARMS, "E",
       "range F (one-way range kept between its neighbours); moves in proportion to risk_12m when risk_12m varies"),
    _p("risk_6m", "Cumulative risk of a family's first placement by 6 months (usual care)", 0.22, "probability",
       "fixed", None, None, 0.15, 0.50, CONTROL_ARMS, "E",
       "range F (one-way range kept between its neighbours); moves in proportion to risk_12m when risk_12m varies"),
    _p("risk_12m", "Cumulative risk of a family's first placement by 12 months (usual care)", 0.30, "probability",
       "beta_alpha_beta", 7.5, 17.5, 0.20, 0.57, CONTROL_ARMS, "E",
       "range F; beta(7.5, 17.5): mean 0.30, effective n 25, 95% 0.14–0.49; varying it scales the whole curve "
       "(3/6/24-month risks in proportion)"),
    _p("risk_24m", "Cumulative risk of a family's first placement by 24 months (usual care)", 0.37, "probability",
       "fixed", None, None, 0.25, 0.60, CONTROL_ARMS, "E",
       "one-way range kept between its neighbours; moves in proportion to risk_12m when risk_12m varies"),
    _p("annual_risk_after_24m", "Annual risk of first entry after 24 months", 0.04, "probability/year", "beta_alpha_beta",
       4, 96, 0.02, 0.08, CONTROL_ARMS, "E", "beta(4, 96)"),
    _p("children_placed_per_family_placement", "Children placed when a family has a placement (k)", 1.5, "children",
       "triangular", 1.0, 2.9, 1.0, 2.9, "evidence.md revisions: control-arm risks are family level (Feldman 1991, "
       "Westat 2001)", "E", "a child's first-entry risk = family risk × k ÷ children_per_family (capped at the family "
       "risk); triangular(1.0, 2.9), base = mode 1.5 (mean 1.8)"),
    # care dynamics
    _monthly("reunify_0_6m", "Monthly probability of return home, 0–6 months in care", 0.026,
             notes=EXIT_SPLIT),
    _monthly("reunify_6_12m", "Monthly probability of return home, 6–12 months in care", 0.0163, notes=EXIT_SPLIT),
    _monthly("reunify_12_24m", "Monthly probability of return home, 12–24 months in care", 0.0078, notes=EXIT_SPLIT),
    _monthly("reunify_24m_plus", "Monthly probability of return home, 24+ months in care", 0.0039, notes=EXIT_SPLIT),
    _monthly("permanence_0_6m", "Monthly probability of other permanence exit, 0–6 months in care", 0.019,
             notes=EXIT_SPLIT),
    _monthly("permanence_6_12m", "Monthly probability of other permanence exit, 6–12 months in care", 0.0238,
             notes=EXIT_SPLIT),
    _monthly("permanence_12_24m", "Monthly probability of other permanence exit, 12–24 months in care", 0.0192,
             notes=EXIT_SPLIT),
    _monthly("permanence_24m_plus", "Monthly probability of other permanence exit, 24+ months in care", 0.0101,
             notes=EXIT_SPLIT),
    _monthly("reentry_0_3m", "Monthly probability of re-entry, 0–3 months after return", 0.042, "D",
             "1 − 0.88^(1/3); NSPCC 2024: 12% back in care within 3 months"),
    _monthly("reentry_3_12m", "Monthly probability of re-entry, 3–12 months after return", 0.0105, "D",
             "1 − (0.80/0.88)^(1/9); NSPCC 2024: 20% within a year"),
    _monthly("reentry_12m_plus", "Monthly probability of re-entry, 12+ months after return", 0.0035, "D",
             "1 − (0.65/0.80)^(1/60); NSPCC 2024: 35% within six years"),
    _multiplier("reunify", "Multiplier on all reunification probabilities"),
    _multiplier("permanence", "Multiplier on all other-permanence probabilities"),
    _multiplier("reentry", "Multiplier on all re-entry probabilities"),
    # costs
    _cost("ifpp_cost_per_family", "IFPP cost per family (episode)", 5000, "GBP/episode/family", 0.25, 2500, 9000,
          "WSIPP Homebuilders $4,259 per participant (2023 USD); Option 2 £2,000–3,000 per child per year (c. 2008); "
          "Scottish intensive family support £1,300–1,900 per family-month", "E", "range F"),
    _p("team_fte", "Bottom-up: team size", 7.5, "FTE", "fixed", None, None, 6, 9.5,
       "IFSS evaluation (seed 003), team sizes March 2013", "F", "used when a strategy's cost_method = bottom_up"),
    _p("families_per_team_year", "Bottom-up: families accepted per team per year", 47, "families/year", "fixed", None,
       None, 31, 49, "IFSS evaluation, Year 3 acceptances per site", "F"),
    _p("cost_per_fte", "Bottom-up: cost per FTE incl. on-costs and overheads", 55000, "GBP/year", "gamma_mean_sepct", 0.15,
       None, 45000, 65000, "", "E", "gamma, SE 15% of the value", "2023/24", "LA"),
    _p("children_per_family", "Children per family", 2.9, "children", "triangular", 2.3, 3.1, 2.3, 3.1,
       "Westat Kentucky 3.08 (942/306); New Jersey 2.9; Option 2 3.07 and 2.33", "F/D",
       "triangular(2.3, 3.1), base = mode 2.9 (mean 2.77)"),
    _cost("cost_kinship", "Kinship foster care, weekly cost", 400, "GBP/week/child", 0.25, 300, 600, "", "E"),
    _cost("cost_la_foster", "LA foster care, weekly cost", 800, "GBP/week/child", 0.20, 646, 960,
          "PSSRU Unit Costs 2017 £646 (full cost), uplifted", "D"),
    _cost("cost_ifa", "Independent fostering agency, weekly cost", 900, "GBP/week/child", 0.20, 800, 1000,
          "CMA children's social care market study 2021 £820; Caerphilly 2019 £800", "D"),
    _cost("cost_residential", "Residential children's home, weekly cost", 6106, "GBP/week/child", 0.25, 3830, 7500,
          "NAO 2025: £318,400 per place per year in 2023-24 (÷ 52.14); CMA 2021 £3,830", "F/D"),
    _cost("cost_secure", "Secure children's home, weekly cost", 8000, "GBP/week/child", 0.30, 6000, 11000,
          "evidence.md revisions", "E"),
    _cost("cost_semi_independent", "Semi-independent / supported accommodation, weekly cost", 1200, "GBP/week/child",
          0.30, 600, 2500, "evidence.md revisions", "E"),
    _cost("cost_with_parents", "Placed with parents, weekly cost", 150, "GBP/week/child", 0.30, 100, 300, "", "E"),
    _cost("cost_other", "Other placements (placed for adoption, other arrangements), weekly cost", 700,
          "GBP/week/child", 0.30, 300, 2000, "evidence.md revisions", "E"),
    _cost("court_cost_proceedings", "Court cost of care proceedings (HMCTS)", 4180, "GBP/episode/family", 0.25, 3790,
          4270, "Parliamentary answer 2019", "F", price_year="2017/18", payer="HMCTS",
          notes="paid by HMCTS: counted in the public_sector perspective only"),
    _cost("la_legal_cost_proceedings", "LA legal and assessment cost of proceedings", 8000, "GBP/episode/family", 0.50,
          4000, 16000, "", "E"),
    _p("share_entries_with_proceedings", "Share of first care entries with care proceedings", 0.6, "probability",
       "beta_events_n", 30, 50, 0.4, 0.8, "", "E", "beta with effective n 50; charged on a family's first entry"),
    _p("share_reentries_with_proceedings", "Share of re-entries to care with new care proceedings", 0.3, "probability",
       "beta_events_n", 15, 50, 0.1, 0.6, "evidence.md: no figure found", "E",
       "beta with effective n 50; most re-entries after a return home are under an existing care order or s20 "
       "(voluntary accommodation), so fewer start new proceedings than first entries (0.6)"),
    _cost("reunification_support_cost", "Reunification support on return home", 7857, "GBP/episode/family", 0.25, 1644,
          15000, "NSPCC 2024", "F"),
    _cost("case_support_cost", "Case support while at home / after return", 220, "GBP/month/family", 0.30, 100, 400,
          "social worker £55 per client-related hour (2013/14 prices) × 4 h", "E", price_year="2013/14",
          notes="£55 × 4 h = £220 at 2013/14 prices, uplifted by the Inflation sheet (≈ £282 in 2023/24)"),
    _p("case_support_months", "Months of case support at home after referral", 12, "months", "fixed", None, None, None,
       None, "", "E", "monthly case support (case_support_cost) for this many months after referral, both strategies"),
    _p("return_support_months", "Months of case support after a return home", 12, "months", "fixed", None, None, None,
       None, "", "E", "monthly case support (case_support_cost) continues for this many months after a return home; "
       "whole number 0–12 (time-since-return tunnels)"),
    _p("sgo_allowance", "Special guardianship / adoption allowance", 0, "GBP/week/child", "fixed", None, None, 0, 200,
       "", "E", "scenario only", "2023/24"),
    _p("social_worker_hourly_cost", "Social worker cost per client-related hour", 55, "GBP/hour", "fixed", None, None,
       40, 70, "Unit-cost valuation 2013/14", "F", "used by the option2 preset's costing", "2013/14"),
)

# Units each parameter may be entered in (any cost period for recurring costs).
RECURRING = tuple(u for u in COST_UNITS if "/episode/" not in u)
ONE_OFF = ("GBP/episode/child", "GBP/episode/family")
PROBABILITIES = ("probability/month", "probability/year", "rate/year")


def allowed_units(name: str, default_unit: str) -> tuple[str, ...]:
    if default_unit in RECURRING:
        return RECURRING
    if default_unit in ONE_OFF:
        return ONE_OFF
    if default_unit in PROBABILITIES:
        return PROBABILITIES
    return (default_unit,)


def added_cost_units(applies_to: str) -> tuple[str, ...]:
    """Units an added cost row may be entered in: a recurring cost per month in care or at home after a return, a
    one-off cost per entry, referral or proceedings."""
    if applies_to in declarations.APPLIES_TO_RECURRING:
        return RECURRING
    if applies_to == "proceedings":  # proceedings concern a family (as court_cost_proceedings)
        return ("GBP/episode/family",)
    return ONE_OFF if applies_to in APPLIES_TO else COST_UNITS


# Value ranges by unit: (minimum, maximum, inclusive minimum?). Every range is finite: values
# beyond ±1e9 (costs up to £1bn) are typing errors and would overflow the model's sums.
MAX_MAGNITUDE = 1e9


def value_range(unit: str) -> tuple[float, float, bool]:
    if unit.startswith("GBP"):
        return 0.0, MAX_MAGNITUDE, True
    if unit.startswith("probability") or unit == "share":
        return 0.0, 1.0, True
    if unit == "relative risk":
        return 0.0, 10.0, False
    if unit == "rate/year":
        return 0.0, 50.0, True
    if unit == "months":
        return 0.0, 216.0, True
    if unit in ("children", "FTE", "families/year"):
        return 0.0, 1e6, False
    if unit == "multiplier":
        return 0.0, 100.0, False
    if unit == "log-RR SD":
        return 0.0, 2.0, True
    return -MAX_MAGNITUDE, MAX_MAGNITUDE, True


STRATEGIES = (
    {"strategy": "Usual care", "description": "Usual children's social care services", "receives_ifpp": "no",
     "cost_method": "none", "cost_multiplier": 1.0, "notes": "the comparator"},
    {"strategy": "IFPP", "description": "Intensive family preservation programme (4–6 weeks, home-based, crisis)",
     "receives_ifpp": "yes", "cost_method": "per_family", "cost_multiplier": 1.0,
     "notes": "costed with ifpp_cost_per_family; bottom_up uses team_fte × cost_per_fte ÷ families_per_team_year"},
)
AGE_BANDS = (
    {"band": "0-4", "age_at_referral_years": 2.5, "share": 0.30,
     "notes": "Option 2 mean age 6–7; almost half of edge-of-care services target adolescents (WWCSC 2018) (E)"},
    {"band": "5-10", "age_at_referral_years": 8.0, "share": 0.30,
     "notes": "E; run at the band's mid-point (ages 5 to under 11)"},
    {"band": "11-17", "age_at_referral_years": 14.5, "share": 0.40,
     "notes": "E; run at the band's mid-point (ages 11 to under 18)"},
)
PLACEMENT_TYPES = declarations.PLACEMENT_TYPES
# Entrants' placement mix by age band (evidence.md, revisions; E until local data replace it): type → share per band.
ENTRANT_MIX = {
    "0-4": (0.30, 0.35, 0.20, 0.00, 0.00, 0.00, 0.12, 0.03),
    "5-10": (0.26, 0.31, 0.25, 0.04, 0.00, 0.00, 0.11, 0.03),
    "11-17": (0.15, 0.20, 0.25, 0.14, 0.01, 0.10, 0.08, 0.07),
}
PLACEMENT_MIX = tuple(
    {"placement_type": t, "cost_parameter": f"cost_{t}", **{band: shares[i] for band, shares in ENTRANT_MIX.items()},
     "notes": "share of children entering care, by age band at referral (E; evidence.md revisions); each band's "
              "column sums to 1; replace with local data (ifpp-econ calibrate)"}
    for i, t in enumerate(PLACEMENT_TYPES)
)


def mix_name(band: str, placement_type: str) -> str:
    """Parameter name of one placement-mix share."""
    return f"mix:{band}:{placement_type}"


def _residential_heavy(band: str = "11-17") -> dict[str, float]:
    """The band's mix with the residential share doubled and the others rescaled to keep the sum at 1."""
    shares = dict(zip(PLACEMENT_TYPES, ENTRANT_MIX[band]))
    res = 2 * shares["residential"]
    rest = 1 - shares["residential"]
    return {t: round(res if t == "residential" else s * (1 - res) / rest, 6) for t, s in shares.items()}


SCENARIOS: tuple[dict, ...] = (
    *({"scenario": "No effect", "target": rr, "value": 1.0,
       "notes": "RR 1: no effect in a new setting (Al et al. 2012; Westat 2001: no difference in placement)"}
      for rr in ("rr_3m", "rr_6m", "rr_12m", "rr_24m")),
    {"scenario": "Time-varying RRs", "target": "effect_model", "value": "window_rrs", "notes": "Bezeczky 2020 windows"},
    {"scenario": "Family-level RR", "target": "effect_model", "value": "family_rr",
     "notes": "a UK-style effect at family level: RR 0.85 (rr_family_12m; Bezeczky 2020 found no significant family-level "
              "reduction), child risk scaled by k ÷ children per family"},
    {"scenario": "Gap persists after the effect", "target": "after_effect", "value": "gap_persists",
     "notes": "the old default: equal absolute monthly entries after 24 months (upper bound)"},
    {"scenario": "Catch-up after the effect", "target": "after_effect", "value": "catch_up",
     "notes": "IFPP's cumulative risk closes to usual care's over catch_up_months (pure delay)"},
    {"scenario": "Effect decays after the effect", "target": "after_effect", "value": "linear_decay",
     "notes": "the relative reduction in cumulative risk fades linearly to none over decay_months (WSIPP-style)"},
    {"scenario": "Every child of a placed family placed", "target": "children_placed_per_family_placement",
     "value": 2.9, "notes": "k = children per family: the first build's assumption"},
    {"scenario": "Children per family 1.73 (pre-proceedings)", "target": "children_per_family", "value": 1.73,
     "notes": "2,548 children in 1,471 families entering pre-proceedings (FGC RCT, Taylor et al. 2024; evidence.md "
              "Additions (December)); k 1.5 stays below it"},
    {"scenario": "Public-sector perspective", "target": "perspective", "value": "public_sector",
     "notes": "adds HMCTS court costs"},
    *({"scenario": "Residential-heavy mix (11-17)", "target": mix_name("11-17", t), "value": v,
       "notes": "residential share of adolescent entrants doubled"} for t, v in _residential_heavy().items()),
    {"scenario": "5-year horizon", "target": "horizon_years", "value": 5, "notes": "budget-style horizon"},
    {"scenario": "Bottom-up IFPP costing", "target": "strategy_cost_method:IFPP", "value": "bottom_up",
     "notes": "the IFSS team costing: team FTE 7.5 × cost per FTE £55,000 ÷ 47 families a year = £8,777 per family"},
)
# No default rank correlations: the window RRs are tied by the PSA itself (psa.WINDOW_RR_CORRELATION).
CORRELATIONS: tuple[dict, ...] = ()
INFLATION = (
    ("2014/15", 0.0100, "Estimate (E): not in the evidence; PSSRU series below starts 2015. Needed only to uplift "
                        "2013/14 prices; replace with the published index"),
    *((f"{y}/{(y + 1) % 100:02d}", c, f"PSSRU NHS cost inflation index, pay and prices, {y}") for y, c in
      ((2015, 0.0040), (2016, 0.0209), (2017, 0.0124), (2018, 0.0160), (2019, 0.0214), (2020, 0.0249), (2021, 0.0258),
       (2022, 0.0732), (2023, 0.0431))),
)

# The handful of inputs a finance lead changes first: (what, sheet, row key, column) → the "Key inputs" sheet.
KEY_INPUTS = (
    ("IFPP cost per family (£ per episode)", "Parameters", "ifpp_cost_per_family", "value"),
    ("Price year of that cost", "Parameters", "ifpp_cost_per_family", "price_year"),
    ("How IFPP is costed (per_family or bottom_up team costing)", "Strategies", "IFPP", "cost_method"),
    ("Team size (FTE), for bottom-up costing", "Parameters", "team_fte", "value"),
    ("Cost per FTE incl. on-costs (£ a year), for bottom-up costing", "Parameters", "cost_per_fte", "value"),
    ("Families accepted per team per year, for bottom-up costing", "Parameters", "families_per_team_year", "value"),
    ("Families referred a year (budget impact)", "Settings", "la_referrals_per_year", "value"),
    ("Children per family", "Parameters", "children_per_family", "value"),
    ("Residential children's home (£ a week)", "Parameters", "cost_residential", "value"),
    ("LA foster care (£ a week)", "Parameters", "cost_la_foster", "value"),
    ("Independent fostering agency (£ a week)", "Parameters", "cost_ifa", "value"),
    ("Placement mix of children entering care (one column per age band)", "Placement mix", "kinship", "placement_type"),
    ("Usual-care risk of a family's first placement by 12 months", "Parameters", "risk_12m", "value"),
    ("What happens after the effect (effect_stops, gap_persists, catch_up)", "Settings", "after_effect", "value"),
    ("Perspective (local_authority or public_sector)", "Settings", "perspective", "value"),
)

PRESETS = ("default", "option2", "ifss")


def preset_changes(preset: str) -> dict:
    """Rows a preset changes: ``{"parameters": {name: {col: value}}, "strategies": {name: {col: value}}}``."""
    if preset == "default":
        return {"parameters": {}, "strategies": {}}
    if preset == "option2":
        # 30 direct hours per family × £55 per client-related hour (2013/14) uplifted, × 1.5 for travel,
        # supervision and overheads: 30 × 55 × 1.5 = £2,475 at 2013/14 prices.
        return {
            "parameters": {"ifpp_cost_per_family": {
                "value": 2475, "price_year": "2013/14", "param_a": 0.25, "low": 1650, "high": 3300,
                "source": "Option 2 (Forrester et al. 2012; seed 001/HTW): contact within 24 hours, 4–6 weeks, about 30 "
                          "hours per family; social worker £55 per client-related hour (2013/14)",
                "status": "D", "notes": "30 h × £55 × 1.5 (travel, supervision, overheads) = £2,475 at 2013/14 prices, "
                                        "uplifted by the Inflation sheet; SE 25%; low/high use overhead ratios 1.0 and 2.0 "
                                        "(30 × 55 × 1.0 = £1,650; 30 × 55 × 2.0 = £3,300)"}},
            "strategies": {"IFPP": {"description": "Option 2: contact within 24 hours; 4–6 weeks; about 30 hours per "
                                                   "family", "cost_method": "per_family"}},
        }
    if preset == "ifss":
        return {
            "parameters": {},
            "strategies": {"IFPP": {
                "description": "IFSS: 72-hour assessment; 4–6-week intensive phase (40–50 hours); 12-month step-down "
                               "with up to three booster sessions; teams of 6–9.5 FTE accepting about 47 families a year",
                "cost_method": "bottom_up",
                "notes": "bottom-up team costing: team_fte 7.5 × cost_per_fte £55,000 ÷ 47 families a year "
                         "(IFSS evaluation, seed 003)"}},
        }
    raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
