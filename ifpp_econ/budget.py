"""Budget impact for one local authority: undiscounted cash by year for an open cohort.

Families are referred at a constant rate, spread evenly over the months of each of the
first ``referral_years`` years (children = families × children per family). Each child's
undiscounted monthly cash comes from :func:`~ifpp_econ.model.monthly_cash`; the LA's cash
in month M is the sum over earlier referral months. Years are 12-month periods from the
start of the programme. Savings are usual care's cash minus the strategy's (positive =
money saved).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .model import CASH_CATEGORIES, monthly_cash
from .spec import base_values, build_spec

CATEGORY_LABELS = {
    "cost_intervention": "IFPP programme spend",
    "cost_placements": "Placements",
    "cost_proceedings": "Care proceedings",
    "cost_reunification": "Reunification support",
    "cost_case_support": "Case support",
    "cost_allowances": "Permanence allowances",
}


def la_cash_by_year(cash: dict[str, np.ndarray], children_per_month: np.ndarray, referral_years: int,
                    years: int) -> dict[str, np.ndarray]:
    """LA cash per year ``(K, N, years)`` per category from per-child monthly cash ``(K, N, T)``.

    ``children_per_month`` ``(N,)``: children referred each month during the referral years.
    """
    out = {}
    n_months = 12 * years
    for cat, per_child in cash.items():
        k, n, t = per_child.shape
        padded = np.zeros((k, n, n_months + 1))
        length = min(t, n_months)
        padded[..., 1 : length + 1] = np.cumsum(per_child[..., :length], axis=-1)
        padded[..., length + 1 :] = padded[..., length : length + 1]
        months = np.arange(1, n_months + 1)
        window_start = np.maximum(months - 12 * referral_years, 0)
        monthly = (padded[..., months] - padded[..., window_start]) * children_per_month[None, :, None]
        out[cat] = monthly.reshape(k, n, years, 12).sum(-1)
    return out


@dataclass
class BudgetImpact:
    strategies: list[str]
    comparator: str
    referral_years: int
    families_per_year: float
    by_year: dict[str, np.ndarray]  # category -> (K, N, years); N = 1 for the base case; first_placements: counts
    children_by_year: np.ndarray | None = None  # (N, years) children referred in each year

    def table(self, strategy: str | None = None, iteration: int = 0) -> pd.DataFrame:
        """Cash by year for one strategy against the comparator (base case unless ``iteration``)."""
        k = self._index(strategy)
        c = self.strategies.index(self.comparator)
        years = self.by_year["cost_placements"].shape[-1]
        df = pd.DataFrame({"year": np.arange(1, years + 1)})
        for cat, label in CATEGORY_LABELS.items():
            df[f"{label}: {self.strategies[k]}"] = self.by_year[cat][k, iteration]
            df[f"{label}: {self.comparator}"] = self.by_year[cat][c, iteration]
        net = self.net(k)[iteration]
        df["programme_spend"] = self.by_year["cost_intervention"][k, iteration] - self.by_year["cost_intervention"][c, iteration]
        df["costs_avoided"] = net + df["programme_spend"]
        df["net_saving"] = net
        df["cumulative_net_saving"] = np.cumsum(net)
        if "first_placements" in self.by_year:  # counts, undiscounted
            df["children_referred"] = self.children_by_year[iteration]
            df["placements_avoided"] = (self.by_year["first_placements"][c, iteration]
                                        - self.by_year["first_placements"][k, iteration])
        return df

    def net(self, k: int) -> np.ndarray:
        """Net saving per year ``(N, years)``: comparator total minus strategy total."""
        c = self.strategies.index(self.comparator)
        total = sum(self.by_year[cat] for cat in CASH_CATEGORIES)
        return total[c] - total[k]

    def headline(self, strategy: str | None = None, iteration: int = 0) -> dict:
        df = self.table(strategy, iteration)
        spend = float(df["programme_spend"].sum())
        cumulative = df["cumulative_net_saving"].to_numpy()
        payback = next((int(y) for y, v in zip(df["year"], cumulative) if v >= 0), None) if spend > 0 else None
        return {
            "years": int(len(df)),
            "programme_spend": spend,
            "costs_avoided": float(df["costs_avoided"].sum()),
            "net_saving": float(cumulative[-1]),
            "payback_year": payback,
            "return_on_investment": (float(df["costs_avoided"].sum()) - spend) / spend if spend > 0 else None,
        }

    def _index(self, strategy: str | None) -> int:
        if strategy is None:
            return next(i for i, s in enumerate(self.strategies) if s != self.comparator)
        return self.strategies.index(strategy)


def budget_impact(inputs, years: int | None = None, families_per_year: float | None = None,
                  values: pd.DataFrame | None = None, referral_years: int | None = None) -> BudgetImpact:
    """Budget impact for the base case (or for each row of ``values``, e.g. PSA draws).

    ``years``: the budget window (default: workbook ``budget_years``); referrals continue
    through ``referral_years`` (default: the whole window).
    """
    years = int(years or inputs.settings["budget_years"])
    referral_years = int(referral_years or years)
    families = float(inputs.settings["la_referrals_per_year"] if families_per_year is None else families_per_year)
    if years < 1 or referral_years < 1 or families < 0:
        raise ValueError("years and referral years must be at least 1 and referrals non-negative")
    spec = build_spec(inputs)
    values = base_values(inputs) if values is None else values
    cash = monthly_cash(values, spec)
    children_per_month = families * values["children_per_family"].to_numpy(float) / 12.0
    by_year = la_cash_by_year(cash, children_per_month, referral_years, years)
    referring = (np.arange(1, years + 1) <= referral_years).astype(float)  # (years,)
    children = 12.0 * children_per_month[:, None] * referring[None, :]
    return BudgetImpact(spec.strategy_names, spec.comparator, referral_years, families, by_year, children)
