"""Operational validation (AdViSHE): model outputs set against observed figures not used to build the model.

Each row: what is measured, the observed figure and its source, the model's figure computed from the
workbook's base-case values, the difference, and a one-line reason for it. The observed figures are from
``evidence.md`` ("Observed data for operational validation").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .model import RETURN_BAND_OF_TUNNEL, RETURN_BANDS, _care_probability, _simulate, to_model_units, \
    usual_care_family_curve
from .spec import base_values, build_spec

def _usual_care_cohort(inputs) -> tuple[float, float]:
    """Usual care, undiscounted, each age band to 18: months in care per care entry, and the share of exits from
    care (reunification, other permanence, or still in care at 18) that are returns home."""
    spec = build_spec(inputs)
    c = _simulate(base_values(inputs), spec, keep_trace=False)
    k, res = spec.comparator_index, c.result
    months = entries = reunified = left = still = 0.0
    for b, h in enumerate(c.horizons):
        w = float(c.shares[b, 0])
        months += w * res.total("in_care", int(h), 0.0)[k, 0]
        entries += w * res.total("care_entries", int(h), 0.0)[k, 0]
        reunified += w * res.total("reunifications", int(h), 0.0)[k, 0]
        left += w * res.row_values["left_care"][k, 0, int(h)]
        still += w * res.row_values["in_care"][k, 0, int(h)]
    return float(months / entries), float(reunified / (reunified + left + still))


def operational_validation(inputs) -> pd.DataFrame:
    """The validation table for a workbook's base case (one row per observed figure)."""
    spec = build_spec(inputs)
    p = to_model_units(base_values(inputs), spec)
    months_per_entry, returned_home = _usual_care_cohort(inputs)
    family = usual_care_family_curve(p, 42)[0]
    reentry = _care_probability(p, "reentry", RETURN_BANDS)[0][RETURN_BAND_OF_TUNNEL[np.minimum(np.arange(72), 12)]]
    back_within = {years: float(1 - np.prod(1 - reentry[: 12 * years])) for years in (1, 5, 6)}
    rows = [
        ("Months in care per care entry (usual care)", 30.4, "England 2024: 83,630 looked after ÷ 33,050 starts a year "
         "(years × 12)", months_per_entry, "months",
         "model: usual care's months in care ÷ care entries to age 18, undiscounted; stock ÷ starts is a steady-state "
         "average over all entrants, whose ages differ from referred children's"),
        ("Families with a placement within 3.5 years (usual care)", 0.40, "Option 2 comparison group (Forrester et al. "
         "2012), mean follow-up 3.5 years", float(family[42]), "share of families",
         "the Option 2 follow-up varied around 3.5 years; the model's family curve is read at exactly 42 months"),
        ("Back in care within 1 year of a return home", 0.20, "NSPCC 2024; Goldacre et al. 2022 (Br J Soc Work, "
         "doi 10.1093/bjsw/bcac079)", back_within[1], "share of returns",
         "the 0–3 and 3–12-month re-entry rates were derived from the same NSPCC figures (a check of the arithmetic)"),
        ("Back in care within 5 years of a return home", 0.30, "DfE: 2006-07 returns home", back_within[5],
         "share of returns", "the 12+ month rate was derived from NSPCC's 35% within six years, not from the DfE cohort"),
        ("Back in care within 6 years of a return home", 0.35, "NSPCC 2024 (over a third within six years)",
         back_within[6], "share of returns", "derived from this figure (a check of the arithmetic)"),
        ("Care leavers who return home", 0.34, "England 2014/15 (27% in 2022/23)", returned_home, "share of leavers",
         "model: returns home ÷ (returns home + other permanence + in care at 18), usual care; the national figure "
         "counts every leaver in a year, older on average than referred children"),
    ]
    table = pd.DataFrame(rows, columns=["measure", "observed", "source", "model", "unit", "reason"])
    table["difference"] = table["model"] - table["observed"]
    return table[["measure", "unit", "observed", "model", "difference", "source", "reason"]]
