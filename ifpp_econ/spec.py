"""From validated workbook inputs to what the model needs: a spec and base-case values.

Also applies named scenarios (overrides of parameters, settings, shares or a strategy's
costing) by returning modified inputs, so a scenario is exactly "the workbook, edited".
"""
from __future__ import annotations

import dataclasses

import pandas as pd

from . import units
from .model import LINKED_RISKS, AgeBand, ModelSpec, Strategy, link_cumulative_risks


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
        catch_up_months=float(s["catch_up_months"]),
        price_year=analysis_year,
        perspective=str(s.get("perspective", "local_authority")),
        payers={name: str(py) for name, py in params.get("payer", pd.Series(dtype=object)).items()
                if isinstance(py, str) and py},
        risk_12m_base=float(params.loc["risk_12m", "value"]) if "risk_12m" in params.index else None,
        linked_risks=tuple(n for n in LINKED_RISKS if n in params.index and str(params.loc[n, "distribution"]) == "fixed"),
    )


# Workbook setting → engine counting method.
COUNTING_BY_SETTING = {"none-start": "start", "none-end": "end", "half-cycle": "half-cycle", "simpson": "simpson"}


def base_values(inputs) -> pd.DataFrame:
    """The base case as a one-row table of parameter values (workbook units)."""
    return pd.DataFrame([inputs.parameters["value"].astype(float).to_dict()])


def scenario_names(inputs) -> list[str]:
    return list(dict.fromkeys(inputs.scenarios["scenario"])) if len(inputs.scenarios) else []


def apply_overrides(inputs, overrides: dict[str, object]):
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
            if target == "risk_12m":  # the whole usual-care curve moves, as in the PSA and DSA (model.link_cumulative_risks)
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


