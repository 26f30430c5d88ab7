"""Property-based tests over random valid parameter sets (hypothesis)."""
import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ifpp_econ.inputs.schema import PLACEMENT_TYPES, mix_name
from ifpp_econ.model.entry import cumulative_entry_curves, hazards_from_curve
from ifpp_econ.model.family_states import run_model, to_model_units
from ifpp_econ.model.spec import Strategy, base_values, build_spec

prob = st.floats(0.0, 0.3, allow_nan=False)
risk = st.floats(0.001, 0.95, allow_nan=False)


@st.composite
def parameter_sets(draw):
    risks = sorted(draw(st.lists(risk, min_size=4, max_size=4)))
    values = {
        "risk_3m": risks[0], "risk_6m": risks[1], "risk_12m": risks[2], "risk_24m": risks[3],
        "annual_risk_after_24m": draw(st.floats(0.0, 0.5)),
        "rr_3m": draw(st.floats(0.05, 3.0)), "rr_6m": draw(st.floats(0.05, 3.0)), "rr_12m": draw(st.floats(0.05, 3.0)),
        "rr_24m": draw(st.floats(0.05, 3.0)), "effect_duration_months": draw(st.integers(0, 120)),
        "children_per_family": draw(st.floats(1.0, 6.0)),
        "ifpp_cost_per_family": draw(st.floats(0, 50_000)), "cost_residential": draw(st.floats(0, 20_000)),
    }
    for band in ("0_6m", "6_12m", "12_24m", "24m_plus"):
        values[f"reunify_{band}"] = draw(prob)
        values[f"permanence_{band}"] = draw(prob)
    for band in ("0_3m", "3_12m", "12m_plus"):
        values[f"reentry_{band}"] = draw(prob)
    values["children_placed_per_family_placement"] = draw(st.floats(1.0, 6.0))
    for band in ("0-4", "5-10", "11-17"):
        mix = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=len(PLACEMENT_TYPES), max_size=len(PLACEMENT_TYPES))))
        for t, s in zip(PLACEMENT_TYPES, mix / mix.sum()):
            values[mix_name(band, t)] = s
    return (values, draw(st.sampled_from(["single_rr", "window_rrs", "family_rr"])),
            draw(st.sampled_from(["effect_stops", "gap_persists", "catch_up"])))


def values_for(default_inputs, changes):
    values = base_values(default_inputs)
    for k, v in changes.items():
        values[k] = v
    return values


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=parameter_sets())
def test_random_valid_parameters_give_valid_traces_and_finite_results(default_inputs, case):
    changes, effect_model, after = case
    spec = dataclasses.replace(build_spec(default_inputs), effect_model=effect_model, after_effect=after,
                               horizon_years=4.0)
    values = values_for(default_inputs, changes)
    p = to_model_units(values, spec)
    usual, ifpp, _ = cumulative_entry_curves(p, spec, 48)
    entry = hazards_from_curve(np.stack([usual, ifpp]))
    assert np.all((entry >= 0) & (entry <= 1))
    assert np.all(np.diff(ifpp) >= 0) and np.all(np.diff(usual) >= -1e-15)
    res = run_model(values, spec, keep_trace=True)
    assert np.abs(res.trace.sum(-1) - 1).max() < 1e-9
    assert res.trace.min() >= -1e-12 and res.trace.max() <= 1 + 1e-12
    for key, v in res.outcomes.items():
        assert np.all(np.isfinite(v[~np.isnan(v)])), key


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=parameter_sets())
def test_identical_strategies_have_zero_incremental_results(default_inputs, case):
    changes, effect_model, after = case
    spec = build_spec(default_inputs)
    twin = dataclasses.replace(spec, strategies=(Strategy("Usual care", True, "per_family"), Strategy("IFPP", True, "per_family")),
                               effect_model=effect_model, after_effect=after, horizon_years=3.0)
    res = run_model(values_for(default_inputs, changes), twin)
    for key in ("cost", "first_placements", "care_months", "care_entries"):
        np.testing.assert_array_equal(res.outcomes[key][0], res.outcomes[key][1])


def test_flat_curve_without_exits_gives_valid_probabilities(default_inputs):
    """Equal cumulative risks, no later risk and no exits: interpolation must not make a hazard negative."""
    changes = {"risk_3m": 0.5, "risk_6m": 0.5, "risk_12m": 0.5, "risk_24m": 0.5, "annual_risk_after_24m": 0.0,
               **{f"{k}_{b}": 0.0 for k in ("reunify", "permanence") for b in ("0_6m", "6_12m", "12_24m", "24m_plus")},
               **{f"reentry_{b}": 0.0 for b in ("0_3m", "3_12m", "12m_plus")}}
    spec = build_spec(default_inputs)
    usual, ifpp, _ = cumulative_entry_curves(to_model_units(values_for(default_inputs, changes), spec), spec, 120)
    entry = hazards_from_curve(np.stack([usual, ifpp]))
    assert np.all((entry >= 0) & (entry <= 1))
