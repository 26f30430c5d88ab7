"""What the IFPP model declares, in one place: its outcomes, placement types, DSA defaults and EVPPI groups.

The generic layers take these as arguments (as dampack's ``calculate_icers(cost, effect,
strategies)`` and voi's ``pars`` do): :func:`ifpp_econ.voi.evppi_table` is given ``groups``,
:func:`ifpp_econ.dsa.run_dsa` its outcome names, threshold parameters and two-way pair; the
defaults below are what the IFPP model passes. A leaf module: it imports nothing of the package.
"""
from __future__ import annotations

# Placement types of children entering care (costs ``cost_<type>``, mix rows ``mix:<band>:<type>``).
PLACEMENT_TYPES = ("kinship", "la_foster", "ifa", "residential", "secure", "semi_independent", "with_parents", "other")

# DSA outcomes: option name → incremental result (first non-comparator strategy vs the comparator), and label.
DSA_OUTCOME_RESULTS = {"savings": "per_child_savings", "nmb": "incremental_nmb", "placements": "placements_avoided_per_child"}
DSA_OUTCOME_LABELS = {"savings": "Per-child savings (£)", "nmb": "Incremental NMB per child (£)",
                      "placements": "Placements avoided per child"}
DSA_OUTCOME_MONEY = {"savings": True, "nmb": True, "placements": False}  # drawn with £ axes

# Break-even thresholds searched unless the workbook's threshold_parameters setting names others.
THRESHOLD_PARAMETERS = ("ifpp_cost_per_family", "rr_12m", "risk_12m", "cost_residential", "effect_duration_months")

# The two-way sensitivity grid: 12-month usual-care risk (x) by 12-month relative risk (y).
TWO_WAY_PAIR = ("risk_12m", "rr_12m")

# The usual-care cumulative-risk knots and their months (risk_12m anchors the curve: the others move with it), and
# the window relative risks at the same months.
RISK_KNOTS = ("risk_3m", "risk_6m", "risk_12m", "risk_24m")
RISK_KNOT_MONTHS = (3, 6, 12, 24)
RISK_ANCHOR = "risk_12m"
WINDOW_RRS = ("rr_3m", "rr_6m", "rr_12m", "rr_24m")
# The parameter setting the between-study SD of the log RR (the effect in a new setting).
BETWEEN_STUDY_SD = "rr_between_study_sd"

# EVPPI parameter groups: group name → parameter names or prefixes (ending "_" or ":").
EVPPI_GROUPS = {
    "effectiveness": ("rr_", "effect_duration_months"),
    "usual-care risk": ("risk_", "annual_risk_after_24m"),
    "care dynamics": ("reunify_", "permanence_", "reentry_"),
    "placement costs": (*(f"cost_{t}" for t in PLACEMENT_TYPES), "mix:"),
    "programme cost": ("ifpp_cost_per_family", "team_fte", "cost_per_fte", "families_per_team_year",
                       "children_per_family"),
    "proceedings and support costs": ("court_cost_proceedings", "la_legal_cost_proceedings",
                                      "share_entries_with_proceedings", "share_reentries_with_proceedings",
                                      "reunification_support_cost",
                                      "case_support_cost"),
    "structural choices": ("structure:",),  # a model-averaged PSA's per-iteration choices
}

# The structural choices a model-averaged PSA draws per iteration (columns ``structure:<name>`` of its draws).
STRUCTURE_LABELS = {"structure:after_effect": "After-effect assumption (drawn per iteration)",
                    "structure:no_effect": "IFPP has no effect in this setting (drawn per iteration)"}

# What happens after the effect duration (the evidence covers 24 months): each assumption's label, in the order of
# its code (the model's rules are in ifpp_econ/model/after_effects.py), and the setting of months it reads, if any.
AFTER_EFFECT_LABELS = {"effect_stops": "Effect stops (usual care's hazard after the effect)",
                       "gap_persists": "Gap persists to age 18 (upper bound)",
                       "catch_up": "Catch-up over catch_up_months (pure delay)",
                       "linear_decay": "Relative effect fades linearly to none over decay_months (WSIPP-style decay)"}
AFTER_EFFECT_SHORT = {"effect_stops": "Effect stops", "gap_persists": "Gap persists", "catch_up": "Catch-up (pure delay)",
                      "linear_decay": "Linear decay"}
AFTER_EFFECT_MONTHS = {"catch_up": "catch_up_months", "linear_decay": "decay_months"}
PERSPECTIVE_LABELS = {"local_authority": "Local authority", "public_sector": "Public sector (adds HMCTS)"}

# Who pays a cost row (the payer ledger): the local authority, HM Courts & Tribunals Service, and the agencies an added
# cost row may name. The local_authority perspective counts LA; public_sector counts every payer.
PAYERS = ("LA", "HMCTS", "NHS", "education", "police/youth justice", "other")
# The LA's ledger rows: a built-in cost row's part of the LA (children's services unless listed here).
LA_PARTS = ("children's services", "legal")
LA_PART_OF = {"la_legal_cost_proceedings": "legal"}
# What an added cost row (a Parameters row with a new name and an applies_to) is counted per: code → description.
APPLIES_TO = {"month_in_care": "per month in care",
              "care_entry": "per care entry (first entries and re-entries)",
              "month_at_home_after_return": "per month at home after a return home",
              "referral": "per family or child referred (once, at referral; both strategies)",
              "proceedings": "per care proceedings issued (a family's case: GBP/episode/family)"}
APPLIES_TO_RECURRING = ("month_in_care", "month_at_home_after_return")  # entered in a recurring cost unit

# Children's outcomes (cost-consequence): key → (label, unit, DfE Children's Social Care National Framework (2023)
# outcome). Counts are per child referred, undiscounted, followed to age 18 (living at home: share at the time).
FRAMEWORK = {"together": "Children, young people and families stay together and get the help they need",
             "network": "Children and young people are supported by their family network",
             "stable": "Children in care and care leavers have stable, loving homes"}
FRAMEWORK_SHORT = {FRAMEWORK["together"]: "Families stay together", FRAMEWORK["network"]: "Supported by family network",
                   FRAMEWORK["stable"]: "Stable, loving homes"}
CHILD_OUTCOMES = {
    "first_placements_undiscounted": ("First entries to care", "entries", FRAMEWORK["together"]),
    "care_entries_undiscounted": ("All entries to care (incl. re-entries)", "entries", FRAMEWORK["together"]),
    "care_months_undiscounted": ("Months in care", "months", FRAMEWORK["together"]),
    "proceedings_issued": ("Care proceedings issued", "proceedings", FRAMEWORK["network"]),
    "reentries": ("Re-entries to care after a return home", "entries", FRAMEWORK["stable"]),
    "living_at_home_1y": ("Living at home 1 year after referral", "share of children", FRAMEWORK["together"]),
    "living_at_home_2y": ("Living at home 2 years after referral", "share of children", FRAMEWORK["together"]),
    "living_at_home_5y": ("Living at home 5 years after referral", "share of children", FRAMEWORK["together"]),
    "child_years_at_home_undiscounted": ("Child-years living at home (to age 18)", "years", FRAMEWORK["together"]),
}
