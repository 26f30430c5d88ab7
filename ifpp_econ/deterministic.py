"""Deterministic base case: one row of parameter values through the model."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import analysis
from .model import CARE, HOME, LEFT, RETURNED, ModelResults, ModelSpec, run_model
from .spec import base_values, build_spec

STATE_GROUPS = {"at_home": HOME, "in_care": CARE, "returned_home": RETURNED, "left_care": LEFT}


@dataclass
class BaseCase:
    spec: ModelSpec
    results: ModelResults
    wtp: float

    def strategy_table(self) -> pd.DataFrame:
        """Per strategy: costs, placements, months in care, share living at home."""
        df = self.results.table(0)
        return df.reset_index()

    def incremental(self) -> dict[str, dict[str, float]]:
        inc = analysis.incremental(self.results.outcomes, self.results.strategies, self.results.comparator, self.wtp)
        out = {}
        for name, values in inc.items():
            v = {k: float(a[0]) for k, a in values.items()}
            v["dominance"] = analysis.dominance_label(v["per_child_savings"], v["placements_avoided_per_child"], strategy=name)
            v["cost_per_placement_avoided"] = analysis.cost_per_placement_avoided(
                v["per_child_savings"], v["placements_avoided_per_child"])
            out[name] = v
        return out

    def incremental_table(self) -> pd.DataFrame:
        rows = [{"strategy": name, "comparator": self.results.comparator, **v, "wtp": self.wtp}
                for name, v in self.incremental().items()]
        return pd.DataFrame(rows)

    def frontier_table(self) -> pd.DataFrame:
        o = self.results.outcomes
        return analysis.frontier(o["cost"][:, 0], o["first_placements"][:, 0], self.results.strategies)

    def trace_table(self) -> pd.DataFrame:
        """Share of the cohort in each state group by month, per strategy (long format)."""
        trace = self.results.trace  # (K, 1, T+1, S)
        frames = []
        for k, name in enumerate(self.results.strategies):
            data = {g: trace[k, 0][:, idx].sum(axis=-1) if isinstance(idx, slice) else trace[k, 0][:, idx]
                    for g, idx in STATE_GROUPS.items()}
            df = pd.DataFrame(data)
            df.insert(0, "month", np.arange(trace.shape[2]))
            df.insert(0, "strategy", name)
            frames.append(df)
        return pd.concat(frames, ignore_index=True)

    def to_json(self) -> dict:
        inc = self.incremental()
        main = inc[next(iter(inc))]
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
            "cost_per_placement_avoided": main["cost_per_placement_avoided"],
            "dominance": main["dominance"],
            "nmb_at_wtp": main["incremental_nmb"],
            "wtp": self.wtp,
            "incremental": inc,
            "conventions": self.spec.describe_conventions(),
            "price_year": self.spec.price_year,
        }


def _num(v):
    v = float(v)
    return None if not np.isfinite(v) else v


def run_base_case(inputs) -> BaseCase:
    """The deterministic base case of a workbook's inputs (trace kept)."""
    spec = build_spec(inputs)
    results = run_model(base_values(inputs), spec, keep_trace=True)
    return BaseCase(spec, results, float(inputs.settings["wtp_default"]))
