"""Named scenarios: overrides of parameters, settings, shares or a strategy's costing, applied by returning modified
inputs, so that a scenario is exactly "the workbook, edited"."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .entry import link_cumulative_risks
from .spec import LINKED_RISKS, build_spec


def scenario_names(inputs) -> list[str]:
    return list(dict.fromkeys(inputs.scenarios["scenario"])) if len(inputs.scenarios) else []

def apply_overrides(inputs, overrides: Mapping[str, Any]):
    """Inputs with ``target → value`` overrides applied (parameters, settings, ``mix:``/``age_share:`` rows,
    ``strategy_cost_method:<strategy>``)."""
    params = inputs.parameters.copy()
    settings = dict(inputs.settings)
    strategies = inputs.strategies.copy()
    for target, value in overrides.items():
        if target.startswith("strategy_cost_method:"):
            name = target.split(":", 1)[1]
            strategies.loc[strategies["strategy"] == name, "cost_method"] = str(value)
        elif target in params.index:
            if target == "risk_12m":  # the whole usual-care curve moves, as in the PSA and DSA (link_cumulative_risks)
                linked, _ = link_cumulative_risks(pd.DataFrame([{**params["value"].to_dict(), target: float(value)}]),
                                                  build_spec(dataclasses.replace(inputs, parameters=params)))
                for name in LINKED_RISKS:
                    if name in params.index:
                        params.loc[name, "value"] = float(linked[name].iloc[0])
            params.loc[target, "value"] = float(value)
            for bound in ("low", "high"):  # keep low ≤ value ≤ high meaningful
                if pd.notna(params.loc[target, bound]):
                    params.loc[target, bound] = (min if bound == "low" else max)(params.loc[target, bound], float(value))
        elif target in settings:
            current = settings[target]
            settings[target] = type(current)(value) if isinstance(current, (int, float)) and not isinstance(current, bool) else value
        else:
            raise KeyError(f"unknown scenario target {target!r}")
    return dataclasses.replace(inputs, parameters=params, settings=settings, strategies=strategies)

def apply_scenario(inputs, name: str):
    """Inputs with the named scenario's overrides applied."""
    rows = inputs.scenarios[inputs.scenarios["scenario"] == name]
    if rows.empty:
        raise KeyError(f"no scenario named {name!r}; scenarios: {scenario_names(inputs)}")
    return apply_overrides(inputs, dict(zip(rows["target"], rows["value"])))
