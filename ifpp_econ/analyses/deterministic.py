"""Deterministic base case: one row of parameter values through the model."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..declarations import AFTER_EFFECT_SHORT
from ..inputs.container import AFTER_EFFECTS
from ..model.family_states import ModelResults, run_model
from ..model.spec import ModelSpec, base_values, build_spec
from ..model.states import CARE, HOME, LEFT, RETURNED
from . import comparison, consequences, ledger

STATE_GROUPS = {"at_home": HOME, "in_care": CARE, "returned_home": RETURNED, "left_care": LEFT}


@dataclass
class BaseCase:
    spec: ModelSpec
    results: ModelResults
    wtp: float
    children_per_family: float = 1.0
    after_effect_savings: dict[str, dict[str, float]] = field(default_factory=dict)  # assumption -> strategy -> savings
    headline_cases: list[dict] = field(default_factory=list)  # the structural range: see headline_range()
    validation: pd.DataFrame | None = None  # operational validation (analyses.validation; set by the pipeline)

    def __repr__(self) -> str:
        inc = self.incremental()
        name = next(iter(inc), None)
        if name is None:
            return f"BaseCase({', '.join(self.results.strategies)})"
        v = inc[name]
        return (f"BaseCase({name} vs {self.results.comparator}: savings per child {v['per_child_savings']:,.0f}, "
                f"placements avoided per child {v['placements_avoided_per_child']:.4f}; {self.spec.price_year} prices)")

    def summary(self) -> pd.DataFrame:
        """Long tidy table: one row per strategy and outcome (``versus`` empty), then per comparison and
        incremental measure (``versus`` the comparator); columns strategy, versus, measure, value."""
        table = self.strategy_table()
        rows = [{"strategy": r["strategy"], "versus": "", "measure": c, "value": float(r[c])}
                for r in table.to_dict("records") for c in table.columns if c != "strategy"]
        for name, v in self.incremental().items():
            rows += [{"strategy": name, "versus": self.results.comparator, "measure": k, "value": x}
                     for k, x in v.items() if isinstance(x, (int, float)) and not isinstance(x, bool)]
        return pd.DataFrame(rows)

    def strategy_table(self) -> pd.DataFrame:
        """Per strategy: costs, placements, months in care, share living at home."""
        df = self.results.table(0)
        return df.reset_index()

    def incremental(self) -> dict[str, dict[str, Any]]:
        """Each strategy against the comparator: savings, placements and months avoided, NMB, dominance, cost
        per placement avoided and the decision ratios (per child unless the name says otherwise)."""
        inc = comparison.incremental(self.results.outcomes, self.results.strategies, self.results.comparator, self.wtp)
        out = {}
        for name, values in inc.items():
            # floats, with the dominance label (str) and ratios that are None where not meaningful
            v: dict[str, Any] = {k: float(a[0]) for k, a in values.items()}
            v["dominance"] = comparison.dominance_label(v["per_child_savings"], v["placements_avoided_per_child"], strategy=name)
            v["cost_per_placement_avoided"] = comparison.cost_per_placement_avoided(
                v["per_child_savings"], v["placements_avoided_per_child"])
            strategy = next(s for s in self.spec.strategies if s.name == name)
            v.update(comparison.decision_ratios(v["per_child_savings"], v["placements_avoided_per_child_undiscounted"],
                                              v["programme_cost_per_child"], self.children_per_family,
                                              strategy.cost_multiplier))
            out[name] = v
        return out

    def incremental_table(self) -> pd.DataFrame:
        rows = [{"strategy": name, "comparator": self.results.comparator, **v, "wtp": self.wtp}
                for name, v in self.incremental().items()]
        return pd.DataFrame(rows)

    def frontier_table(self) -> pd.DataFrame:
        o = self.results.outcomes
        return comparison.frontier(o["cost"][:, 0], o["first_placements"][:, 0], self.results.strategies)

    def trace_table(self) -> pd.DataFrame:
        """Share of the cohort in each state group by month, per strategy (long format)."""
        trace = self.results.trace  # (K, 1, T+1, S)
        assert trace is not None, "the base case keeps its trace"
        frames = []
        for k, name in enumerate(self.results.strategies):
            data = {g: trace[k, 0][:, idx].sum(axis=-1) if isinstance(idx, slice) else trace[k, 0][:, idx]
                    for g, idx in STATE_GROUPS.items()}
            df = pd.DataFrame(data)
            df.insert(0, "month", np.arange(trace.shape[2]))
            df.insert(0, "strategy", name)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def by_age_band(self, strategy: str) -> dict[str, dict[str, float]]:
        """Per age band (sub-cohort followed to 18): its share and per-child incremental results."""
        r = self.results
        k, c = r.strategies.index(strategy), r.strategies.index(r.comparator)
        assert r.band_shares is not None, "run_model gives the band shares"
        return {band: {"share": float(r.band_shares[b, 0]),
                       "per_child_savings": float(o["cost"][c, 0] - o["cost"][k, 0]),
                       "placements_avoided_per_child": float(o["first_placements"][c, 0] - o["first_placements"][k, 0]),
                       "placements_avoided_per_child_undiscounted": float(
                           o["first_placements_undiscounted"][c, 0] - o["first_placements_undiscounted"][k, 0]),
                       "care_months_avoided_per_child": float(o["care_months"][c, 0] - o["care_months"][k, 0])}
                for b, (band, o) in enumerate(r.by_band.items())}

    def by_perspective(self, strategy: str) -> dict[str, dict[str, float]]:
        """Per perspective: per-child and per-family savings (the chosen one is ``perspective``)."""
        o = self.results.outcomes
        k, c = self.results.strategies.index(strategy), self.results.strategies.index(self.results.comparator)
        out = {}
        for perspective in ("local_authority", "public_sector"):
            saving = float(o[f"cost_{perspective}"][c, 0] - o[f"cost_{perspective}"][k, 0])
            out[perspective] = {"per_child_savings": saving, "per_family_savings": saving * self.children_per_family}
        return out

    def main_strategy(self) -> str:
        """The first strategy other than the comparator (the one the headline reports)."""
        return next(s for s in self.results.strategies if s != self.results.comparator)

    def outcomes_table(self, strategy: str | None = None) -> pd.DataFrame:
        """Children's outcomes (:mod:`.consequences`): a row per outcome, per child and per 100 families referred."""
        r = self.results
        return consequences.outcomes_table(r.outcomes, r.strategies, r.comparator, strategy or self.main_strategy(),
                                           np.array([self.children_per_family]))

    def cost_per_year_at_home(self, strategy: str | None = None) -> dict:
        """Incremental cost (discounted, chosen perspective) per child-year at home gained (discounted)."""
        r, name = self.results, strategy or self.main_strategy()
        cost, gained = consequences.cost_per_year_at_home(r.outcomes, r.strategies, r.comparator, name)
        return consequences.ratio(float(cost[0]), float(gained[0]), name)

    def ledger(self, strategy: str | None = None) -> pd.DataFrame:
        """The payer ledger (:mod:`.ledger`): a row per payer, discounted cost per child and savings."""
        r = self.results
        return ledger.ledger_table(r.outcomes, r.strategies, r.comparator, strategy or self.main_strategy())

    def headline_range(self) -> dict:
        """The headline with its structural range: the default per-child savings, then each after-effect assumption ×
        child-level / family-level effect (``cases``, each named), their lowest and highest."""
        savings = [c["per_child_savings"] for c in self.headline_cases]
        default = next(iter(self.incremental().values()))["per_child_savings"]
        return {"default": default, "low": min(savings, default=default), "high": max(savings, default=default),
                "cases": self.headline_cases}

    def to_json(self) -> dict:
        inc = self.incremental()
        name_main = next(iter(inc))
        main = inc[name_main]
        table = self.strategy_table()
        return {
            "comparator": self.results.comparator,
            "strategies": {
                row["strategy"]: {k: _num(row[k]) for k in table.columns if k != "strategy"} for _, row in table.iterrows()
            },
            "per_child_savings": main["per_child_savings"],
            "per_family_savings": main["per_family_savings"],
            "placements_avoided_per_child": main["placements_avoided_per_child"],
            "care_months_avoided_per_child": main["care_months_avoided_per_child"],
            "placements_avoided_per_child_undiscounted": main["placements_avoided_per_child_undiscounted"],
            "cost_per_placement_avoided": main["cost_per_placement_avoided"],
            **{k: main[k] for k in ("programme_cost_per_placement_avoided", "net_saving_per_placement_avoided",
                                    "children_referred_per_placement_avoided", "families_referred_per_placement_avoided",
                                    "max_affordable_cost_per_family")},
            "dominance": main["dominance"],
            "after_effect": self.spec.after_effect,
            "scenarios_after_effect": {a: {"per_child_savings": v[name_main], "default": a == self.spec.after_effect}
                                       for a, v in self.after_effect_savings.items()},
            "headline_range": self.headline_range(),
            "by_age_band": self.by_age_band(name_main),
            "by_perspective": self.by_perspective(name_main),
            "outcomes": consequences.to_records(self.outcomes_table(name_main)),
            "outcomes_by_age_band": consequences.by_age_band(self.results.by_band, self.results.strategies,
                                                             self.results.comparator, name_main,
                                                             np.array([self.children_per_family])),
            "cost_per_child_year_at_home": self.cost_per_year_at_home(name_main),
            "outcomes_note": consequences.WHY_NO_QALY,
            "by_payer": self.ledger(name_main).to_dict("records"),
            "perspective": self.spec.perspective,
            "children_per_family": self.children_per_family,
            "nmb_at_wtp": main["incremental_nmb"],
            "wtp": self.wtp,
            "incremental": inc,
            "conventions": self.spec.describe_conventions(),
            "price_year": self.spec.price_year,
            **({"operational_validation": _validation_records(self.validation)} if self.validation is not None else {}),
        }


def _validation_records(table: pd.DataFrame) -> list[dict]:
    """The operational validation table as ``[{measure, model, observed, source, passes, …}]``."""
    return [{"measure": r["measure"], "model": float(r["model"]), "observed": float(r["observed"]),
             "source": r["source"], "passes": r["passes"] == "yes", "unit": r["unit"],
             "difference": float(r["difference"]), "tolerance": float(r["tolerance"])} for r in table.to_dict("records")]


def _num(v):
    v = float(v)
    return None if not np.isfinite(v) else v


def headline_cases(values: pd.DataFrame, spec: ModelSpec, results: ModelResults) -> tuple[dict, list[dict]]:
    """Per-child savings of the first non-comparator strategy under each after-effect assumption (``{assumption:
    {strategy: savings}}``) and the headline's structural cases: each assumption × the effect at child level (the
    workbook's child-level model: single_rr, or window_rrs) and at family level (family_rr, rr_family_12m), each
    named; one iteration each on the numpy reference (no compiler to load). ``results``: the spec's own run."""
    child_model = spec.effect_model if spec.effect_model != "family_rr" else "single_rr"
    rr = {"single_rr": ("rr_12m", "child-level RR"), "window_rrs": ("rr_12m", "child-level window RRs, 12 months"),
          "family_rr": ("rr_family_12m", "family-level RR")}
    savings, cases = {}, []
    for level, effect_model in (("child", child_model), ("family", "family_rr")):
        for assumption in AFTER_EFFECTS:
            case_spec = dataclasses.replace(spec, after_effect=assumption, effect_model=effect_model)
            default = case_spec == spec
            res = results if default else run_model(values, case_spec, kernel="numpy")
            inc = comparison.incremental(res.outcomes, res.strategies, res.comparator, 0.0)
            by_strategy = {name: float(v["per_child_savings"][0]) for name, v in inc.items()}
            if effect_model == spec.effect_model:
                savings[assumption] = by_strategy
            name, label = rr[effect_model]
            value = float(values[name].iloc[0])
            cases.append({"name": f"{AFTER_EFFECT_SHORT[assumption]}, {label} {value:.2f}",
                          "after_effect": assumption, "effect_level": level, "effect_model": effect_model,
                          "relative_risk": value, "per_child_savings": next(iter(by_strategy.values())),
                          "default": default})
    return savings, cases


def run_base_case(inputs) -> BaseCase:
    """The deterministic base case of a workbook's inputs (trace kept), with each after-effect assumption, the
    headline's structural cases (:func:`headline_cases`)."""
    spec = build_spec(inputs)
    values = base_values(inputs)
    results = run_model(values, spec, keep_trace=True)
    savings, cases = headline_cases(values, spec, results)
    return BaseCase(spec, results, float(inputs.settings["wtp_default"]),
                    float(values["children_per_family"].iloc[0]), savings, cases)
