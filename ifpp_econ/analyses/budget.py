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

from ..model.family_states import CASH_CATEGORIES, MonthlyCash, sum_arrays
from ..model.spec import ModelSpec, base_values, build_spec
from . import ledger

CATEGORY_LABELS = {
    "cost_intervention": "IFPP programme spend",
    "cost_placements": "Placements",
    "cost_proceedings": "Care proceedings",
    "cost_reunification": "Reunification support",
    "cost_case_support": "Case support",
    "cost_allowances": "Permanence allowances",
    "cost_added": "Added cost rows",
}
SAVING_CATEGORIES = tuple(c for c in CASH_CATEGORIES if c != "cost_intervention")  # costs a programme may avoid


def la_cash_by_year(cash: dict[str, np.ndarray], children_per_month: np.ndarray, referral_years: int,
                    years: int, months_kept: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """LA cash per year ``(K, N, years)`` per category from per-child monthly cash ``(K, N, T)``.

    ``children_per_month`` ``(N,)``: children referred each month during the referral years; ``months_kept``
    ``(12 × years,)``: 1 for the months since the programme's start counted, 0 for those left out (default: all).
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
        if months_kept is not None:
            monthly = monthly * months_kept
        out[cat] = monthly.reshape(k, n, years, 12).sum(-1)
    return out


def window_totals(cash: dict[str, np.ndarray], children_per_month: np.ndarray, years: int) -> dict[str, np.ndarray]:
    """The LA's totals ``(K, N)`` over a window of ``years`` years with referrals through all of it, per category,
    from per-child monthly cash ``(K, N, T)``: the sum over years of :func:`la_cash_by_year` (``referral_years =
    years``), in closed form. A child referred in month r contributes its months 1 … 12·years − r + 1, so month m of a
    child's cash counts ``12·years − m + 1`` times: total = children a month × Σ_m cash(m)·(12·years − m + 1)."""
    months = 12 * int(years)
    out = {}
    for cat, per_child in cash.items():
        length = min(per_child.shape[-1], months)
        weights = (months - np.arange(length)).astype(float)  # 12·years − m + 1 for m = 1 … length
        # an element-wise product summed along each row (no BLAS: a row's sum cannot depend on the batch's size)
        out[cat] = (per_child[..., :length] * weights).sum(axis=-1) * children_per_month[None, :]
    return out


@dataclass
class BudgetImpact:
    strategies: list[str]
    comparator: str
    referral_years: int
    families_per_year: float
    by_year: dict[str, np.ndarray]  # category -> (K, N, years); N = 1 for the base case; first_placements: counts
    children_by_year: np.ndarray | None = None  # (N, years) children referred in each year
    cashable: np.ndarray | None = None  # (K, N, years) costs other than the programme's that are cash (cashable shares)
    notional: np.ndarray | None = None  # (K, N, years) the rest of those costs: capacity, not cash
    by_payer: dict[str, np.ndarray] | None = None  # ledger row -> (K, N, years) that payer's cash, every category

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
        if self.cashable is not None and self.notional is not None:  # savings split into cash and capacity
            df["cashable_savings"] = self.cashable[c, iteration] - self.cashable[k, iteration]
            df["notional_savings"] = self.notional[c, iteration] - self.notional[k, iteration]
            df["cumulative_cash_net_saving"] = np.cumsum(df["cashable_savings"] - df["programme_spend"])
        if "first_placements" in self.by_year:  # counts, undiscounted
            assert self.children_by_year is not None, "budget_impact gives the children referred with the placements"
            df["children_referred"] = self.children_by_year[iteration]
            df["placements_avoided"] = (self.by_year["first_placements"][c, iteration]
                                        - self.by_year["first_placements"][k, iteration])
        return df

    def net(self, k: int) -> np.ndarray:
        """Net saving per year ``(N, years)``: comparator total minus strategy total."""
        c = self.strategies.index(self.comparator)
        total = sum_arrays(self.by_year[cat] for cat in CASH_CATEGORIES)
        return total[c] - total[k]

    def headline(self, strategy: str | None = None, iteration: int = 0) -> dict:
        df = self.table(strategy, iteration)
        spend = float(df["programme_spend"].sum())
        cumulative = df["cumulative_net_saving"].to_numpy()
        payback = next((int(y) for y, v in zip(df["year"], cumulative) if v >= 0), None) if spend > 0 else None
        out = {
            "years": int(len(df)),
            "programme_spend": spend,
            "costs_avoided": float(df["costs_avoided"].sum()),
            "net_saving": float(cumulative[-1]),
            "payback_year": payback,
            "return_on_investment": (float(df["costs_avoided"].sum()) - spend) / spend if spend > 0 else None,
        }
        if "cashable_savings" in df.columns:
            cash = df["cumulative_cash_net_saving"].to_numpy()
            out.update(cashable_savings=float(df["cashable_savings"].sum()),
                       notional_savings=float(df["notional_savings"].sum()),
                       cash_net_saving=float(cash[-1]),
                       payback_year_cash=next((int(y) for y, v in zip(df["year"], cash) if v >= 0), None)
                       if spend > 0 else None)
        return out

    def ledger(self, strategy: str | None = None, iteration: int = 0) -> list[dict]:
        """The payer ledger of the budget: each payer's cash over the budget's years, undiscounted (rows payer, part,
        ifpp, usual_care, savings)."""
        if self.by_payer is None:
            return []
        k, c = self._index(strategy), self.strategies.index(self.comparator)
        rows = []
        for row, cash in self.by_payer.items():
            payer, part = ledger.split(row)
            total = cash[:, iteration].sum(-1)
            rows.append({"payer": payer, "part": part, "ifpp": float(total[k]), "usual_care": float(total[c]),
                         "savings": float(total[c] - total[k])})
        return rows

    def _index(self, strategy: str | None) -> int:
        if strategy is None:
            return next(i for i, s in enumerate(self.strategies) if s != self.comparator)
        return self.strategies.index(strategy)


def cashable_split(flows: MonthlyCash, spec: ModelSpec, children_per_month: np.ndarray, referral_years: int,
                   years: int) -> tuple[np.ndarray, np.ndarray]:
    """(cashable, notional) cash per year ``(K, N, years)`` of the costs a programme may avoid (every category but the
    programme's), borne by the perspective's payers.

    A cost row's cash splits by its cashable share; its cashable part counts as cash only in the months after its lag
    (months from the programme's start), notional before. ``all_savings_cashable``: every cost is cash from month 1.
    The two add up to the categories' cash (the budget's costs avoided, taken between strategies)."""
    n_months = 12 * years
    months = np.arange(1, n_months + 1)
    names = set(spec.cashable) | {n for n, _ in spec.added_costs}
    lag = {n: 0.0 if spec.all_savings_cashable else spec.cashable_lag.get(n, 0.0) for n in names}

    def yearly(weight, kept=None) -> np.ndarray:
        cash = flows.cash(weight=weight)
        by_year = la_cash_by_year({k: cash[k] for k in SAVING_CATEGORIES}, children_per_month, referral_years, years,
                                  kept)
        return sum_arrays(by_year.values())

    notional = yearly(lambda n: 1.0 - spec.cashable_share(n))
    cashable = np.zeros_like(notional)
    for months_lag in sorted(set(lag.values())):
        share = lambda n, m=months_lag: spec.cashable_share(n) if lag.get(n, 0.0) == m else 0.0  # noqa: E731
        after = (months > months_lag).astype(float)
        cashable += yearly(share, after)
        if months_lag > 0:
            notional += yearly(share, 1.0 - after)
    return cashable, notional


def budget_impact(inputs, years: int | None = None, families_per_year: float | None = None,
                  values: pd.DataFrame | None = None, referral_years: int | None = None,
                  split: bool = True) -> BudgetImpact:
    """Budget impact for the base case (or for each row of ``values``, e.g. PSA draws).

    ``years``: the budget window (default: workbook ``budget_years``); referrals continue
    through ``referral_years`` (default: the whole window). ``split``: also the cashable and notional savings and the
    payer ledger (the PSA's intervals need neither).
    """
    years = int(years or inputs.settings["budget_years"])
    referral_years = int(referral_years or years)
    families = float(inputs.settings["la_referrals_per_year"] if families_per_year is None else families_per_year)
    if years < 1 or referral_years < 1 or families < 0:
        raise ValueError("years and referral years must be at least 1 and referrals non-negative")
    spec = build_spec(inputs)
    values = base_values(inputs) if values is None else values
    flows = MonthlyCash(values, spec)
    cash = {**flows.cash(), "first_placements": flows.first_placements}
    children_per_month = families * values["children_per_family"].to_numpy(float) / 12.0
    by_year = la_cash_by_year(cash, children_per_month, referral_years, years)
    referring = (np.arange(1, years + 1) <= referral_years).astype(float)  # (years,)
    children = 12.0 * children_per_month[:, None] * referring[None, :]
    if not split:
        return BudgetImpact(spec.strategy_names, spec.comparator, referral_years, families, by_year, children)
    cashable, notional = cashable_split(flows, spec, children_per_month, referral_years, years)
    by_payer = {row: sum_arrays(la_cash_by_year(flows.cash(rows=[row]), children_per_month, referral_years,
                                                years).values()) for row in spec.ledger_rows()}
    return BudgetImpact(spec.strategy_names, spec.comparator, referral_years, families, by_year, children, cashable,
                        notional, by_payer)


PERSPECTIVES = ("local_authority", "public_sector")
INTERVAL_ITERATIONS = 1000  # PSA iterations for the budget's intervals unless told
CHUNK = 4096  # iterations costed at once (monthly cash is (strategies, iterations, months)): memory bounded for any N


@dataclass
class BudgetResult:
    """Budget impact for one local authority (undiscounted cash by year), with PSA intervals when sampled.

    ``table()``: one row per year (spend and costs avoided by category and strategy, net and
    cumulative net saving, net saving by perspective, children referred, placements avoided and,
    with a PSA, 2.5th/97.5th percentiles and the probability of a cumulative saving);
    ``summary()``: the same as a long tidy table (year, measure, value); ``incremental()``: the
    headline (spend, costs avoided, net saving, payback year, ROI); ``to_json()``: all of it.
    """

    strategy: str
    comparator: str
    families_per_year: float
    children_per_year: float
    referral_years: int
    perspective: str
    base: BudgetImpact
    by_year: pd.DataFrame
    psa: dict | None = None  # iterations, seed and the cumulative net saving's interval, when sampled

    def table(self) -> pd.DataFrame:
        return self.by_year.copy()

    def incremental(self) -> dict:
        """Totals over the budget's years for the strategy against the comparator."""
        return self.base.headline()

    def summary(self) -> pd.DataFrame:
        keep = [c for c in self.by_year.columns if ":" not in c and c != "year"]
        long = self.by_year.melt(id_vars="year", value_vars=keep, var_name="measure", value_name="value")
        return long.assign(strategy=self.strategy, comparator=self.comparator)[
            ["strategy", "comparator", "year", "measure", "value"]]

    def to_json(self) -> dict:
        out = {"strategy": self.strategy, "comparator": self.comparator, "families_per_year": self.families_per_year,
               "children_per_year": self.children_per_year, "referral_years": self.referral_years,
               **self.base.headline()}
        out["by_payer"] = self.base.ledger()
        if self.psa is not None:
            out["psa"] = dict(self.psa)
        out["by_year"] = [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                          for r in self.by_year[[c for c in self.by_year.columns if ":" not in c]].to_dict("records")]
        return out

    def __repr__(self) -> str:
        h = self.base.headline()
        interval = (f" (95% interval {self.psa['net_saving']['lower']:,.0f} to {self.psa['net_saving']['upper']:,.0f})"
                    if self.psa else "")
        return (f"BudgetResult({self.strategy} vs {self.comparator}, {self.families_per_year:,.0f} families a year: "
                f"cumulative net saving {h['net_saving']:,.0f}{interval} over {h['years']} years; payback "
                f"{'year ' + str(h['payback_year']) if h['payback_year'] else 'not within the period'})")


def run_budget(inputs, years: int | None = None, families_per_year: float | None = None, psa=None,
               iterations: int | None = None, seed: int | None = None) -> BudgetResult:
    """Budget impact by year (base case, both perspectives) with PSA intervals for each year's net saving.

    Intervals come from ``iterations`` PSA iterations (default 1,000; 0 for none) drawn with ``seed``
    (default: the workbook's); a :class:`~ifpp_econ.psa.PSAResult` ``psa`` that kept those iterations'
    draws (same seed and sampling) is reused instead of drawing them again — the draws are the same.
    """
    from ..model.scenarios import apply_overrides
    from .psa import draw, structural_weights

    seed = int(inputs.settings["psa_seed"]) if seed is None else int(seed)
    if iterations is None:
        iterations = min(psa.iterations, INTERVAL_ITERATIONS) if psa is not None else INTERVAL_ITERATIONS
    base = budget_impact(inputs, years, families_per_year)
    strategy = next(s for s in base.strategies if s != base.comparator)
    table = base.table()
    perspective = str(inputs.settings["perspective"])
    for name in PERSPECTIVES:  # net saving by perspective (the chosen one is the table)
        other = base if name == perspective else budget_impact(apply_overrides(inputs, {"perspective": name}), years,
                                                                 families_per_year, split=False)
        table[f"net_saving_{name}"] = other.table()["net_saving"].to_numpy()
    children = base.families_per_year * float(inputs.parameters.loc["children_per_family", "value"])
    summary_psa = None
    if iterations > 0:
        reusable = (psa is not None and psa.seed == seed and psa.draws is not None and len(psa.draws) >= iterations
                    and (psa.structural is None) == (structural_weights(inputs) is None))
        net = np.empty((iterations, len(table)))  # (N, years), filled chunk by chunk: memory stays bounded
        for start in range(0, iterations, CHUNK):
            size = min(CHUNK, iterations - start)
            draws = psa.draws.iloc[start:start + size] if reusable else draw(inputs, size, seed, start)
            sampled = budget_impact(inputs, years, families_per_year, values=draws, split=False)
            net[start:start + size] = sampled.net(sampled.strategies.index(strategy))
        cumulative = np.cumsum(net, axis=1)
        table["net_saving_lower"] = np.quantile(net, 0.025, axis=0)
        table["net_saving_upper"] = np.quantile(net, 0.975, axis=0)
        table["cumulative_lower"] = np.quantile(cumulative, 0.025, axis=0)
        table["cumulative_upper"] = np.quantile(cumulative, 0.975, axis=0)
        table["prob_cumulative_saving"] = (cumulative > 0).mean(axis=0)
        summary_psa = {"iterations": iterations, "seed": seed,
                       "net_saving": {"lower": float(table["cumulative_lower"].iloc[-1]),
                                      "upper": float(table["cumulative_upper"].iloc[-1])}}
    return BudgetResult(strategy, base.comparator, base.families_per_year, children, base.referral_years, perspective,
                        base, table, summary_psa)
