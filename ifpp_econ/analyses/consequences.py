"""Children's outcomes beside the money (a cost-consequence table): entries to care, months in care, proceedings,
re-entries and children living at home, each mapped to the DfE Children's Social Care National Framework outcome
(:data:`ifpp_econ.declarations.CHILD_OUTCOMES`), per child and per 100 families referred, with the cost per
child-year at home gained.

Counts are per child referred, undiscounted, to age 18 (living at home: the share at 1, 2 and 5 years). The cost
per child-year at home gained divides the discounted incremental cost (chosen perspective) by the child-years at home
gained, discounted at the outcome rate. No QALYs: no published utilities for "in care" against "at home" meet the
evidence bar (shared/docs/evidence.md, "Outcomes for children").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import declarations
from . import comparison

BASES = ("per child", "per 100 families referred")


def _per(basis: str, children_per_family: np.ndarray) -> np.ndarray:
    """Multiplier from per child to ``basis`` ``(N,)``."""
    return np.ones_like(children_per_family) if basis == BASES[0] else 100.0 * children_per_family


def value(outcomes: dict[str, np.ndarray], key: str, strategy: int) -> np.ndarray:
    """A children's outcome of one strategy ``(N,)``, a new array; re-entries, if not kept, are all entries less first
    entries."""
    if key == "reentries" and key not in outcomes:
        return outcomes["care_entries_undiscounted"][strategy] - outcomes["first_placements_undiscounted"][strategy]
    return outcomes[key][strategy].copy()


def _unit(unit: str, basis: str) -> str:
    """An outcome's unit on a basis: a share of children becomes a number of children per 100 families."""
    return "children" if unit == "share of children" and basis != BASES[0] else unit


def differences(outcomes: dict[str, np.ndarray], strategies: list[str], comparator: str, strategy: str,
                children_per_family: np.ndarray) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(outcome, basis) → (strategy, comparator, strategy − comparator), each ``(N,)`` per iteration.

    ``outcomes``: model outcomes ``(K, N)``; ``children_per_family`` ``(N,)``."""
    k, c = strategies.index(strategy), strategies.index(comparator)
    out = {}
    for key in declarations.CHILD_OUTCOMES:
        for basis in BASES:
            m = _per(basis, children_per_family)
            a, b = value(outcomes, key, k) * m, value(outcomes, key, c) * m
            out[key, basis] = (a, b, a - b)
    return out


def cost_per_year_at_home(outcomes: dict[str, np.ndarray], strategies: list[str], comparator: str, strategy: str
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(incremental cost per child, child-years at home gained per child) ``(N,)``, both discounted."""
    k, c = strategies.index(strategy), strategies.index(comparator)
    return (outcomes["cost"][k] - outcomes["cost"][c],
            outcomes["child_years_at_home"][k] - outcomes["child_years_at_home"][c])


def ratio(cost: float, gained: float, strategy: str = "the strategy") -> dict:
    """Cost per child-year at home gained, or None with how to read it where a ratio is not meaningful."""
    value = comparison.cost_per_placement_avoided(-cost, gained)
    if value is not None:
        reading = f"£{value:,.0f} per child-year at home gained"
    elif gained > 0:
        reading = f"{strategy} saves money and gains child-years at home (dominant): no ratio"
    elif gained < 0 and cost <= 0:
        reading = f"{strategy} saves money but loses child-years at home: no single ratio"
    elif cost > 0:
        reading = f"{strategy} costs more and gains no child-years at home (dominated)"
    else:
        reading = "no difference"
    return {"incremental_cost_per_child": cost, "child_years_at_home_gained_per_child": gained,
            "cost_per_child_year_at_home_gained": value, "reading": reading}


def outcomes_table(outcomes: dict[str, np.ndarray], strategies: list[str], comparator: str, strategy: str,
                   children_per_family: np.ndarray, iteration: int = 0) -> pd.DataFrame:
    """One iteration's outcomes: a row per outcome and basis (columns outcome, key, basis, unit, ifpp, usual_care,
    difference, framework_outcome)."""
    rows = []
    for (key, basis), (a, b, d) in differences(outcomes, strategies, comparator, strategy, children_per_family).items():
        label, unit, framework = declarations.CHILD_OUTCOMES[key]
        rows.append({"outcome": label, "key": key, "basis": basis, "unit": _unit(unit, basis), "ifpp": float(a[iteration]),
                     "usual_care": float(b[iteration]), "difference": float(d[iteration]),
                     "framework_outcome": framework})
    return pd.DataFrame(rows)


def to_records(table: pd.DataFrame) -> list[dict]:
    """JSON records of an outcomes table (NaN → None: an outcome past the horizon)."""
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
            for r in table.to_dict("records")]


def summarise(outcomes: dict[str, np.ndarray], strategies: list[str], comparator: str, strategy: str,
              children_per_family: np.ndarray, means: tuple[dict, dict] | None = None) -> list[dict]:
    """Per outcome and basis: the mean of each strategy and the mean and 95% interval of the difference over the
    iterations (each iteration's own children per family). Each difference is made when it is summarised, one at a
    time (a million iterations: 8 MB each, not every one at once). ``means``: (per child, per family) outcome →
    ``(K, 1)`` means over more iterations than ``outcomes`` holds (a PSA's running sums), reported as the means."""
    k, c = strategies.index(strategy), strategies.index(comparator)

    def known(key: str, basis: str, strategy: int) -> float | None:
        """The mean from ``means``: per child, or per family × 100 (children per family varies by iteration)."""
        if means is None:
            return None
        v = float(value(means[0] if basis == BASES[0] else means[1], key, strategy)[0])
        return v if basis == BASES[0] else 100.0 * v

    def difference(key: str, basis: str):
        def made() -> np.ndarray:  # in place: two arrays of N at a time
            d = value(outcomes, key, k)
            d -= value(outcomes, key, c)
            d *= _per(basis, children_per_family)
            return d
        return made

    def mean(values: np.ndarray) -> float | None:
        return float(np.nanmean(values)) if np.isfinite(values).any() else None

    keys = [(key, basis) for key in declarations.CHILD_OUTCOMES for basis in BASES]
    given = None if means is None else {(key, basis): known(key, basis, k) - known(key, basis, c)  # type: ignore[operator]
                                        for key, basis in keys}
    summaries = comparison.summarise_many({(key, basis): difference(key, basis) for key, basis in keys},
                                          finite_only=True, means=given)
    rows = []
    for key, basis in keys:
        label, unit, framework = declarations.CHILD_OUTCOMES[key]
        s = summaries.get((key, basis))  # None: no finite value (e.g. living at home past every band's horizon)
        m = _per(basis, children_per_family)
        rows.append({"outcome": label, "key": key, "basis": basis, "unit": _unit(unit, basis),
                     "ifpp": mean(value(outcomes, key, k) * m) if means is None else _finite(known(key, basis, k)),
                     "usual_care": mean(value(outcomes, key, c) * m) if means is None else _finite(known(key, basis, c)),
                     "difference": None if s is None else s["mean"],
                     "difference_lower": None if s is None else s["lower"],
                     "difference_upper": None if s is None else s["upper"],
                     "framework_outcome": framework})
    return rows


def _finite(v: float | None) -> float | None:
    return v if v is not None and np.isfinite(v) else None


def by_age_band(by_band: dict[str, dict[str, np.ndarray]], strategies: list[str], comparator: str, strategy: str,
                children_per_family: np.ndarray) -> dict[str, list[dict]]:
    """Per age band (followed to 18): the outcomes per child of the base case (iteration 0)."""
    out = {}
    for band, o in by_band.items():
        table = outcomes_table(o, strategies, comparator, strategy, children_per_family)
        out[band] = to_records(table[table["basis"] == BASES[0]].drop(columns="basis"))
    return out


WHY_NO_QALY = ("No QALYs or wellbeing scores: no published utilities for children in care against children at home "
               "meet the evidence bar for a base case (the project's evidence review, evidence.md); the SDQ collected in SSDA903 with a "
               "published SDQ→CHU9D mapping (Furber 2014; Sharma 2019) is a research route, not a default. The "
               "outcomes are therefore reported side by side with the costs (a cost-consequence analysis, as NICE's "
               "social care methods and CHEERS 2022 allow). No model outcome measures whether children are safe at "
               "home (the Framework's third outcome): a placement avoided is not by itself a child kept safe.")
