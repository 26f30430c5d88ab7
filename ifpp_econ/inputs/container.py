"""Validated workbook inputs: the :class:`Inputs` container and typed :class:`Settings`.

The enumerations a workbook's settings may take are declared here once, as ``Literal`` types;
``schema`` lists their values from these types. This module imports only the model's declarations.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd

from .. import declarations

Correction = Literal["none-start", "none-end", "half-cycle", "simpson"]
EffectModel = Literal["single_rr", "window_rrs", "family_rr"]
Perspective = Literal["local_authority", "public_sector"]
PsaStructural = Literal["none", "model_averaged"]
YesNo = Literal["yes", "no"]

CORRECTIONS: tuple[str, ...] = get_args(Correction)
EFFECT_MODELS: tuple[str, ...] = get_args(EffectModel)
AFTER_EFFECTS: tuple[str, ...] = tuple(declarations.AFTER_EFFECT_LABELS)  # the model's after-effect assumptions
AfterEffect = str  # one of AFTER_EFFECTS (declared with their rules, so that a new one is added in one place)
PSA_STRUCTURAL: tuple[str, ...] = get_args(PsaStructural)
YES_NO: tuple[str, ...] = get_args(YesNo)
# Which payers' costs each perspective counts: LA = the local authority (children's services and legal); public sector:
# every payer (HMCTS = the courts, and any agency an added cost row names).
PERSPECTIVES: dict[str, tuple[str, ...]] = {"local_authority": ("LA",), "public_sector": declarations.PAYERS}
assert tuple(PERSPECTIVES) == get_args(Perspective)


@dataclass(frozen=True)
class Settings:
    """The Settings sheet, typed (see ``schema.SETTINGS`` for each setting's range and meaning)."""

    analysis_price_year: str
    cycle_length_months: int
    horizon_years: float
    discount_rate_costs: float
    discount_rate_outcomes: float
    within_cycle_correction: Correction
    effect_model: EffectModel
    after_effect: AfterEffect
    perspective: Perspective
    psa_structural: PsaStructural
    weight_no_effect: float
    placement_mix_effective_n: float
    age_mix_effective_n: float
    psa_iterations: int
    psa_seed: int
    wtp_min: float
    wtp_max: float
    wtp_step: float
    wtp_default: float
    la_referrals_per_year: float
    authority: str  # empty: named by the workbook's file name
    budget_years: int
    decision_years: int
    evsi_sample_sizes: list[int]  # families per arm; empty: no EVSI
    trial_fixed_cost: float  # GBP
    trial_cost_per_family: float  # GBP per family randomised
    comparator: str
    threshold_parameters: list[str]
    all_savings_cashable: YesNo
    after_effect_months: dict[str, float]  # assumption → the months its rule reads (catch_up_months, decay_months …)
    after_effect_weights: dict[str, float]  # assumption → its weight in a model-averaged PSA (weight_<assumption>)

    @staticmethod
    def grouped_names() -> list[str]:
        """The settings gathered into :attr:`after_effect_months` and :attr:`after_effect_weights`."""
        return [*declarations.AFTER_EFFECT_MONTHS.values(), *(f"weight_{name}" for name in AFTER_EFFECTS)]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from a name → value mapping (every setting needed; values as the reader returns them)."""
        grouped = ("after_effect_months", "after_effect_weights")
        names = [f.name for f in dataclasses.fields(cls) if f.name not in grouped]
        missing = [n for n in [*names, *cls.grouped_names()] if n not in values]
        if missing:
            raise KeyError(f"settings missing: {', '.join(missing)}")
        return cls(**{n: values[n] for n in names},
                   after_effect_months={k: float(values[v]) for k, v in declarations.AFTER_EFFECT_MONTHS.items()},
                   after_effect_weights={k: float(values[f"weight_{k}"]) for k in AFTER_EFFECTS})


@dataclass(frozen=True)
class Inputs:
    """A validated workbook.

    ``settings`` is the Settings sheet as a plain ``name → value`` dict (what every analysis and output
    reads, serialises and overrides with scenarios); :attr:`typed_settings` is the same as a typed
    :class:`Settings`. ``parameters``: one row per parameter (index = name; placement-mix and age-band
    shares included as ``mix:<band>:<type>`` and ``age_share:<band>`` rows).
    """

    path: Path
    sha256: str
    settings: dict
    parameters: pd.DataFrame
    strategies: pd.DataFrame
    age_bands: pd.DataFrame
    scenarios: pd.DataFrame
    correlations: pd.DataFrame
    inflation: pd.Series
    warnings: tuple[str, ...] = ()  # things a user should know that do not stop a run (file: Sheet!Cell: message)

    @property
    def typed_settings(self) -> Settings:
        return Settings.from_mapping(self.settings)
