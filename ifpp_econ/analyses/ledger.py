"""The payer ledger: who pays and who saves. A row per payer (the LA split into children's services and legal), with
each strategy's discounted cost per child and the savings (the comparator's cost less the strategy's).

The rows come from the model's ``payer:<row>`` outcomes (:data:`ifpp_econ.model.family_states.PAYER_PREFIX`); every
payer is listed whatever the perspective (the perspective chooses which rows the headline counts). The rows sum to the
public-sector cost.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.family_states import PAYER_PREFIX
from . import comparison


def rows(outcomes: dict) -> list[str]:
    """The ledger rows present in model outcomes, in order (``LA: children's services``, ``LA: legal``, ``HMCTS`` …)."""
    return [k[len(PAYER_PREFIX):] for k in outcomes if k.startswith(PAYER_PREFIX)]


def split(row: str) -> tuple[str, str]:
    """(payer, part) of a ledger row: ``LA: legal`` → (LA, legal); ``NHS`` → (NHS, "")."""
    payer, _, part = row.partition(": ")
    return payer, part


def ledger_table(outcomes: dict[str, np.ndarray], strategies: list[str], comparator: str, strategy: str,
                 iteration: int = 0) -> pd.DataFrame:
    """One iteration's ledger (columns payer, part, ifpp, usual_care, savings), per child, discounted."""
    k, c = strategies.index(strategy), strategies.index(comparator)
    out = []
    for row in rows(outcomes):
        values = outcomes[PAYER_PREFIX + row][:, iteration]
        out.append({"payer": split(row)[0], "part": split(row)[1], "ifpp": float(values[k]),
                    "usual_care": float(values[c]), "savings": float(values[c] - values[k])})
    return pd.DataFrame(out, columns=["payer", "part", "ifpp", "usual_care", "savings"])


def summarise(outcomes: dict[str, np.ndarray], strategies: list[str], comparator: str, strategy: str) -> list[dict]:
    """Per ledger row over the iterations: each strategy's mean cost and the savings' mean and 95% interval."""
    k, c = strategies.index(strategy), strategies.index(comparator)
    names = rows(outcomes)
    savings = {row: outcomes[PAYER_PREFIX + row][c] - outcomes[PAYER_PREFIX + row][k] for row in names}
    summaries = comparison.summarise_many(savings)
    return [{"payer": split(row)[0], "part": split(row)[1], "ifpp": float(outcomes[PAYER_PREFIX + row][k].mean()),
             "usual_care": float(outcomes[PAYER_PREFIX + row][c].mean()), "savings": summaries[row]["mean"],
             "savings_lower": summaries[row]["lower"], "savings_upper": summaries[row]["upper"]} for row in names]
