"""Units and prices: converting workbook values to model units; price-year uplift.

Model units: recurring costs in GBP per month, one-off costs in GBP per episode, both
at the analysis price year; transition probabilities per month. A month is 1/12 year,
so a weekly cost × ``WEEKS_PER_MONTH = 365.25 / 7 / 12`` (4.3482 weeks a month) is a monthly
cost, and a yearly cost ÷ 12.
Probability over a period → monthly: ``1 − (1 − p)^(1/12)`` for a year; rate per year →
monthly probability ``1 − exp(−r/12)``. Per-family costs stay per family here: the model
divides by children per family, which is itself uncertain.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..exceptions import UnitsError

WEEKS_PER_MONTH = 365.25 / 7 / 12
COST_PERIODS = {"week": WEEKS_PER_MONTH, "month": 1.0, "year": 1.0 / 12.0, "episode": 1.0}
COST_UNITS = tuple(f"GBP/{period}/{who}" for period in COST_PERIODS for who in ("child", "family"))
OTHER_UNITS = ("GBP/year", "GBP/hour", "probability", "probability/month", "probability/year", "rate/year",
               "relative risk", "months", "years", "FTE", "families/year", "children", "share", "multiplier",
               "log-RR SD")
UNITS = COST_UNITS + OTHER_UNITS
YEAR_PATTERN = re.compile(r"^(\d{4})/(\d{2})$")


def cost_period(unit: str) -> str | None:
    """``week``/``month``/``year``/``episode`` for a per-child or per-family cost unit, else None."""
    parts = unit.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "GBP" else None


def is_per_family(unit: str) -> bool:
    """True for ``GBP/<period>/family`` costs (the model divides them by children per family)."""
    return cost_period(unit) is not None and unit.endswith("/family")


def to_model_units(values, unit: str) -> np.ndarray:
    """Workbook values (scalar or array) in ``unit`` → model units (vectorised)."""
    v = np.asarray(values, dtype=float)
    period = cost_period(unit)
    if period is not None:
        return v * COST_PERIODS[period]
    if unit == "probability/year":
        return -np.expm1(np.log1p(-np.minimum(v, 1.0)) / 12.0)
    if unit == "rate/year":
        return -np.expm1(-v / 12.0)
    if unit in UNITS:
        return v
    raise UnitsError(f"unknown unit {unit!r}; allowed: {', '.join(UNITS)}")


def year_start(financial_year: str) -> int:
    """``"2023/24"`` → 2023; raises :class:`UnitsError` for other forms."""
    m = YEAR_PATTERN.match(str(financial_year).strip())
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        raise UnitsError(f"price year {financial_year!r} is not a financial year like 2023/24")
    return int(m.group(1))


def uplift_factor(price_year: str, analysis_year: str, inflation: pd.Series) -> float:
    """Factor taking prices of ``price_year`` to ``analysis_year``.

    ``inflation``: annual change by financial year (``"2022/23" → 0.0732`` means prices
    rose 7.32% from 2021/22 to 2022/23). The factor is the product of (1 + change) over
    the years after the price year up to the analysis year (its inverse going back).
    """
    start, end = year_start(price_year), year_start(analysis_year)
    changes = {year_start(k): float(v) for k, v in inflation.items()}
    lo, hi = sorted((start, end))
    missing = [f"{y}/{(y + 1) % 100:02d}" for y in range(lo + 1, hi + 1) if y not in changes]
    if missing:
        raise UnitsError(f"no inflation index for {', '.join(missing)} (needed to move {price_year} prices to {analysis_year})")
    factor = float(np.prod([1.0 + changes[y] for y in range(lo + 1, hi + 1)]))
    return factor if end >= start else 1.0 / factor
