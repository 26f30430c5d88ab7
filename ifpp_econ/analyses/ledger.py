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

# Rows a PSA need not keep (:func:`kept` is False for them): the LA's children's services are the local authority's
# cost less its legal row; HMCTS is the public sector's cost less the local authority's and every other payer's.
DERIVED = ("LA: children's services", "HMCTS")


def rows(outcomes: dict) -> list[str]:
    """The ledger rows of model outcomes, in order (``LA: children's services``, ``LA: legal``, ``HMCTS``, then any
    other payer), the :data:`DERIVED` ones included whether kept or not."""
    named = [k[len(PAYER_PREFIX):] for k in outcomes if k.startswith(PAYER_PREFIX)]
    others = [r for r in named if r not in DERIVED and r != "LA: legal"]
    return [DERIVED[0], "LA: legal", DERIVED[1], *others] if named else []


def values(outcomes: dict[str, np.ndarray], row: str, strategy: int | None = None) -> np.ndarray:
    """A ledger row's discounted cost per child ``(K, N)``, or ``(N,)`` of one ``strategy``: kept, or derived
    (:data:`DERIVED`)."""
    at = slice(None) if strategy is None else strategy
    if PAYER_PREFIX + row in outcomes:
        return outcomes[PAYER_PREFIX + row][at]
    legal = outcomes[PAYER_PREFIX + "LA: legal"][at]
    if row == DERIVED[0]:
        return outcomes["cost_local_authority"][at] - legal
    if row == DERIVED[1]:
        derived = outcomes["cost_public_sector"][at] - outcomes["cost_local_authority"][at]
        for other in rows(outcomes)[3:]:
            derived -= outcomes[PAYER_PREFIX + other][at]
        return derived
    raise KeyError(row)


def kept(name: str) -> bool:
    """Whether a PSA keeps the model outcome ``name`` per iteration (the derivable ledger rows it does not)."""
    return name not in (PAYER_PREFIX + r for r in DERIVED)


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
        cost = values(outcomes, row)[:, iteration]
        out.append({"payer": split(row)[0], "part": split(row)[1], "ifpp": float(cost[k]),
                    "usual_care": float(cost[c]), "savings": float(cost[c] - cost[k])})
    return pd.DataFrame(out, columns=["payer", "part", "ifpp", "usual_care", "savings"])


def summarise(outcomes: dict[str, np.ndarray], strategies: list[str], comparator: str, strategy: str,
              means: dict[str, np.ndarray] | None = None) -> list[dict]:
    """Per ledger row over the iterations: each strategy's mean cost and the savings' mean and 95% interval.
    ``means``: outcome → ``(K, 1)`` means over more iterations than ``outcomes`` holds, reported as the means."""
    k, c = strategies.index(strategy), strategies.index(comparator)
    out = []
    for row in rows(outcomes):  # one row's strategies at a time
        ifpp, usual_care = values(outcomes, row, k), values(outcomes, row, c)
        if means is None:
            mean_ifpp, mean_usual = float(ifpp.mean()), float(usual_care.mean())
            s = comparison.summarise(usual_care - ifpp)
        else:
            mean_ifpp, mean_usual = float(values(means, row, k)[0]), float(values(means, row, c)[0])
            s = comparison.summarise(usual_care - ifpp, mean=mean_usual - mean_ifpp)
        out.append({"payer": split(row)[0], "part": split(row)[1], "ifpp": mean_ifpp, "usual_care": mean_usual,
                    "savings": s["mean"], "savings_lower": s["lower"], "savings_upper": s["upper"]})
    return out
