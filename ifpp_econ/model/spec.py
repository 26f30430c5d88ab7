"""What the model needs besides parameter values (:class:`ModelSpec`, :class:`Strategy`, :class:`AgeBand`), and
how validated workbook inputs become one: a spec and base-case values (scenarios are in :mod:`.scenarios`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import declarations
from ..engine import Conventions
from ..exceptions import ModelError
from ..inputs import units
from ..inputs.container import AFTER_EFFECTS, PERSPECTIVES

PERSPECTIVE_PAYERS = PERSPECTIVES  # perspective → the payers whose costs it counts


LINKED_RISKS = tuple(n for n in declarations.RISK_KNOTS if n != declarations.RISK_ANCHOR)  # move with risk_12m


@dataclass(frozen=True)
class Strategy:
    name: str
    receives_ifpp: bool
    cost_method: str = "none"  # none | per_family | bottom_up
    cost_multiplier: float = 1.0
    description: str = ""


@dataclass(frozen=True)
class AgeBand:
    name: str
    age_at_referral_years: float


@dataclass(frozen=True)
class ModelSpec:
    """Everything but the parameter values: strategies, bands, settings, units."""

    strategies: tuple[Strategy, ...]
    age_bands: tuple[AgeBand, ...]
    comparator: str
    units: dict[str, str]  # parameter name -> workbook unit
    price_factors: dict[str, float]  # parameter name -> uplift to the analysis price year
    discount_rate_costs: float = 0.035
    discount_rate_outcomes: float = 0.035
    counting: str = "half-cycle"
    horizon_years: float = 18.0
    effect_model: str = "single_rr"  # single_rr | window_rrs | family_rr
    after_effect: str = "effect_stops"  # one of declarations.AFTER_EFFECT_LABELS (rules: after_effects.py)
    after_effect_months: dict[str, float] = field(default_factory=dict)  # assumption → its months setting
    price_year: str = ""
    perspective: str = "local_authority"  # local_authority | public_sector
    payers: dict[str, str] = field(default_factory=dict)  # cost parameter -> one of declarations.PAYERS (default LA)
    added_costs: tuple[tuple[str, str], ...] = ()  # added cost rows: (parameter, applies_to code)
    cashable: dict[str, float] = field(default_factory=dict)  # cost parameter -> cashable share of its savings
    cashable_lag: dict[str, float] = field(default_factory=dict)  # cost parameter -> months before they are cash
    all_savings_cashable: bool = False  # the budget counts every saving as cash (shares 1, no lags)
    risk_12m_base: float | None = None  # the workbook's 12-month risk: linked knots move in proportion to risk_12m / this
    linked_risks: tuple[str, ...] = ()  # knots that move with risk_12m (those without a distribution of their own)
    conventions: Conventions = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "conventions", Conventions(counting=self.counting, cycle_years=1.0 / 12.0))
        names = [s.name for s in self.strategies]
        if len(self.strategies) < 2 or len(set(names)) != len(names):
            raise ModelError("need at least two strategies with unique names")
        if self.comparator not in names:
            raise ModelError(f"comparator {self.comparator!r} is not one of the strategies {names}")
        if self.after_effect not in AFTER_EFFECTS:
            raise ModelError(f"after_effect must be one of {', '.join(AFTER_EFFECTS)}, got {self.after_effect!r}")
        if self.perspective not in PERSPECTIVE_PAYERS:
            raise ModelError(f"perspective must be one of {', '.join(PERSPECTIVE_PAYERS)}, got {self.perspective!r}")

    def ledger_row(self, name: str) -> str:
        """The payer-ledger row of a cost parameter: ``LA: children's services``, ``LA: legal`` or its payer."""
        payer = self.payers.get(name, "LA")
        return f"LA: {declarations.LA_PART_OF.get(name, declarations.LA_PARTS[0])}" if payer == "LA" else payer

    def ledger_rows(self) -> tuple[str, ...]:
        """The ledger's rows, in order: the LA's parts, HMCTS, then each other payer an added cost row names."""
        named = {self.payers.get(name, "LA") for name, _ in self.added_costs}
        return (*(f"LA: {part}" for part in declarations.LA_PARTS), "HMCTS",
                *(p for p in declarations.PAYERS if p not in ("LA", "HMCTS") and p in named))

    @staticmethod
    def ledger_payer(row: str) -> str:
        """The payer of a ledger row (``LA: legal`` → ``LA``)."""
        return row.split(":", 1)[0]

    def cashable_share(self, name: str) -> float:
        """The share of a cost parameter's savings that is cash (1 for every row with ``all_savings_cashable``)."""
        return 1.0 if self.all_savings_cashable else float(self.cashable.get(name, 0.0))

    def after_effect_months_by_code(self) -> np.ndarray:
        """Each after-effect assumption's months setting ``(A,)``, by code (0 where it reads none)."""
        return np.array([float(self.after_effect_months.get(name, 0.0)) for name in AFTER_EFFECTS])

    @property
    def strategy_names(self) -> list[str]:
        return [s.name for s in self.strategies]

    @property
    def comparator_index(self) -> int:
        return self.strategy_names.index(self.comparator)

    def band_horizons(self) -> np.ndarray:
        """Cycles (months) each age band is followed: to age 18, capped by the horizon setting."""
        to_18 = np.array([round((18.0 - b.age_at_referral_years) * 12) for b in self.age_bands])
        return np.maximum(np.minimum(to_18, round(self.horizon_years * 12)), 1).astype(int)

    def unused_parameters(self) -> tuple[str, ...]:
        """Parameters this spec's model never reads: the relative risks of the other effect models, and the programme
        costing of a method no strategy uses (value of information is not asked of them)."""
        used_rrs = {"single_rr": ("rr_12m",), "window_rrs": declarations.WINDOW_RRS,
                    "family_rr": ("rr_family_12m",)}.get(self.effect_model, ())
        unused = [n for n in (*declarations.WINDOW_RRS, "rr_family_12m") if n not in used_rrs]
        methods = {s.cost_method for s in self.strategies}
        if "per_family" not in methods:
            unused.append("ifpp_cost_per_family")
        if "bottom_up" not in methods:
            unused += ["team_fte", "cost_per_fte", "families_per_team_year"]
        return tuple(unused)

    def band_ages(self) -> np.ndarray:
        """Each age band's ages ``(B, 2)``, [from, to) in years: from band names "a-b" (ages a to b inclusive, so
        [a, b+1)) when every name reads so and the bands tile the ages in order; else boundaries midway between
        consecutive bands' ages at referral (0 below the first, 18 above the last)."""
        parsed = [re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[-\u2013]\s*(\d+(?:\.\d+)?)\s*", b.name) for b in self.age_bands]
        if all(parsed):
            ages = np.array([[float(m.group(1)), float(m.group(2)) + 1.0] for m in parsed if m])
            if (np.all(ages[1:, 0] == ages[:-1, 1]) and all(lo <= b.age_at_referral_years < hi for (lo, hi), b
                                                            in zip(ages, self.age_bands))):
                return ages
        at = np.array([b.age_at_referral_years for b in self.age_bands])
        order = np.argsort(at, kind="stable")
        cuts = (at[order][1:] + at[order][:-1]) / 2
        lo_sorted, hi_sorted = np.r_[0.0, cuts], np.r_[cuts, 18.0]
        ages = np.empty((len(at), 2))
        ages[order, 0], ages[order, 1] = lo_sorted, hi_sorted
        return ages

    def band_windows(self) -> list[list[tuple[int, int, int]]]:
        """For each age band at referral, the months (cycles) its children spend in each age band as they age:
        ``[(band j, from month, to month), …]`` with 0 ≤ from < to ≤ the band's horizon (placement mix by the
        child's current age band)."""
        ages, horizons = self.band_ages(), self.band_horizons()
        out = []
        for b, band in enumerate(self.age_bands):
            a, h = band.age_at_referral_years, int(horizons[b])
            windows = []
            for j, (lo, hi) in enumerate(ages):
                start = 0 if lo <= a else min(max(round((lo - a) * 12), 0), h)
                end = h if j == len(ages) - 1 else min(max(round((hi - a) * 12), 0), h)
                if hi <= a or end <= start:
                    continue
                windows.append((j, start, end))
            if not windows or windows[0][1] != 0 or windows[-1][2] != h:  # ages outside every band: its own mix
                windows = [(b, 0, h)]
            out.append(windows)
        return out

    def describe_conventions(self) -> str:
        return (
            f"monthly cycles; within-cycle correction: {self.counting}; discount rates "
            f"{self.discount_rate_costs:.2%} (costs), {self.discount_rate_outcomes:.2%} (outcomes) a year, "
            f"factor (1+r)^-(months/12) from referral; one-off costs at the end of the cycle in which they occur; "
            f"intervention cost at referral, undiscounted; child risk = family risk × children placed per family "
            f"placement ÷ children per family; effect model {self.effect_model}, after the effect "
            f"{self.after_effect}; {self.perspective.replace('_', ' ')} perspective; costs in {self.price_year} GBP "
            f"per child"
        )


def _yes(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "y", "true", "1")
    return bool(value)


def build_spec(inputs) -> ModelSpec:
    """A :class:`ModelSpec` from workbook :class:`~ifpp_econ.workbook.Inputs`."""
    s = inputs.settings
    params = inputs.parameters
    analysis_year = str(s["analysis_price_year"])
    price_factors = {}
    for name, row in params.iterrows():
        unit = str(row["unit"])
        py = row.get("price_year")
        if unit.startswith("GBP") and isinstance(py, str) and py.strip():
            price_factors[name] = units.uplift_factor(py.strip(), analysis_year, inputs.inflation)
    strategies = tuple(
        Strategy(
            name=str(r["strategy"]),
            receives_ifpp=_yes(r["receives_ifpp"]),
            cost_method=str(r.get("cost_method") or "none"),
            cost_multiplier=float(r.get("cost_multiplier") if pd.notna(r.get("cost_multiplier")) else 1.0),
            description=str(r.get("description") or ""),
        )
        for _, r in inputs.strategies.iterrows()
    )
    bands = tuple(AgeBand(str(r["band"]), float(r["age_at_referral_years"])) for _, r in inputs.age_bands.iterrows())
    return ModelSpec(
        strategies=strategies,
        age_bands=bands,
        comparator=str(s["comparator"]),
        units={name: str(u) for name, u in params["unit"].items()},
        price_factors=price_factors,
        discount_rate_costs=float(s["discount_rate_costs"]),
        discount_rate_outcomes=float(s["discount_rate_outcomes"]),
        counting=COUNTING_BY_SETTING[str(s["within_cycle_correction"])],
        horizon_years=float(s["horizon_years"]),
        effect_model=str(s["effect_model"]),
        after_effect=str(s["after_effect"]),
        after_effect_months={k: float(s[v]) for k, v in declarations.AFTER_EFFECT_MONTHS.items()},
        price_year=analysis_year,
        perspective=str(s.get("perspective", "local_authority")),
        payers={name: str(py) for name, py in params.get("payer", pd.Series(dtype=object)).items()
                if isinstance(py, str) and py},
        added_costs=tuple((str(name), str(a)) for name, a in params.get("applies_to", pd.Series(dtype=object)).items()
                          if isinstance(a, str) and a),
        cashable={name: float(v) for name, v in params.get("cashable_share", pd.Series(dtype=float)).items()
                  if v is not None and pd.notna(v)},
        cashable_lag={name: float(v) for name, v in params.get("cashable_lag_months", pd.Series(dtype=float)).items()
                      if v is not None and pd.notna(v) and float(v) > 0},
        all_savings_cashable=_yes(s.get("all_savings_cashable", "no")),
        risk_12m_base=float(params.loc["risk_12m", "value"]) if "risk_12m" in params.index else None,
        linked_risks=tuple(n for n in LINKED_RISKS if n in params.index and str(params.loc[n, "distribution"]) == "fixed"),
    )


# Workbook setting → engine counting method.
COUNTING_BY_SETTING = {"none-start": "start", "none-end": "end", "half-cycle": "half-cycle", "simpson": "simpson"}


def base_values(inputs) -> pd.DataFrame:
    """The base case as a one-row table of parameter values (workbook units)."""
    return pd.DataFrame([inputs.parameters["value"].astype(float).to_dict()])
