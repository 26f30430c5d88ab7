"""Validated workbook inputs: the :class:`Inputs` container and typed :class:`Settings`.

The enumerations a workbook's settings may take are declared here once, as ``Literal`` types;
``schema`` lists their values from these types. This module imports nothing from the package.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd

Correction = Literal["none-start", "none-end", "half-cycle", "simpson"]
EffectModel = Literal["single_rr", "window_rrs", "family_rr"]
AfterEffect = Literal["effect_stops", "gap_persists", "catch_up"]
Perspective = Literal["local_authority", "public_sector"]
PsaStructural = Literal["none", "model_averaged"]

CORRECTIONS: tuple[str, ...] = get_args(Correction)
EFFECT_MODELS: tuple[str, ...] = get_args(EffectModel)
AFTER_EFFECTS: tuple[str, ...] = get_args(AfterEffect)
PSA_STRUCTURAL: tuple[str, ...] = get_args(PsaStructural)
# Which payers' costs each perspective counts: LA = local authority children's services; HMCTS = the courts.
PERSPECTIVES: dict[str, tuple[str, ...]] = {"local_authority": ("LA",), "public_sector": ("LA", "HMCTS")}
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
    catch_up_months: float
    perspective: Perspective
    psa_structural: PsaStructural
    weight_effect_stops: float
    weight_gap_persists: float
    weight_catch_up: float
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
    budget_years: int
    decision_years: int
    comparator: str
    threshold_parameters: list[str]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        """Settings from a name → value mapping (every setting needed; values as the reader returns them)."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in values]
        if missing:
            raise KeyError(f"settings missing: {', '.join(missing)}")
        return cls(**{n: values[n] for n in names})


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
