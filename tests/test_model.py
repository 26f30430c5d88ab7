"""Tests that would catch a wrong IFPP model."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from ifpp_econ.analyses.deterministic import run_base_case
from ifpp_econ.engine import Reward, simulate
from ifpp_econ.inputs import units
from ifpp_econ.model.entry import cumulative_entry_curves, hazards_from_curve
from ifpp_econ.model.family_states import PLACEMENT_TYPES, run_model, to_model_units
from ifpp_econ.model.scenarios import apply_overrides
from ifpp_econ.model.spec import base_values, build_spec
from ifpp_econ.model.states import CARE, HOME, N_STATES, FamilyStatesTransitions


def run(inputs, **overrides):
    inputs = apply_overrides(inputs, overrides) if overrides else inputs
    spec = build_spec(inputs)
    return run_model(base_values(inputs), spec, keep_trace=True), spec


def incremental(res, key):
    return res.outcomes[key][0, 0] - res.outcomes[key][1, 0]


def test_trace_rows_sum_to_one_and_stay_in_range(default_inputs):
    res, _ = run(default_inputs)
    assert np.abs(res.trace.sum(-1) - 1).max() < 1e-12
    assert res.trace.min() >= -1e-15


def test_rr_of_one_gives_zero_incremental_effect(default_inputs):
    res, _ = run(default_inputs, rr_3m=1.0, rr_6m=1.0, rr_12m=1.0, rr_24m=1.0, ifpp_cost_per_family=0.0)
    for key in ("cost", "first_placements", "care_entries", "care_months", "cost_placements"):
        assert incremental(res, key) == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(res.trace[0], res.trace[1], atol=1e-15)


@pytest.mark.parametrize("k", [None, 2.9])
def test_usual_care_curve_hits_workbook_risks_and_ifpp_hits_rr_times_them(default_inputs, k):
    # a child's risk = family risk × k ÷ children per family; k = children per family gives the family risk itself
    res, spec = run(default_inputs, **({} if k is None else {"children_placed_per_family_placement": k}))
    p = to_model_units(base_values(default_inputs), spec)
    factor = (1.5 if k is None else k) / 2.9
    for months, name in ((3, "risk_3m"), (6, "risk_6m"), (12, "risk_12m"), (24, "risk_24m")):
        never_placed_uc = res.trace[0, 0, months, HOME]
        never_placed_ifpp = res.trace[1, 0, months, HOME]
        assert 1 - never_placed_uc == pytest.approx(factor * p[name][0], rel=1e-12)
        assert 1 - never_placed_ifpp == pytest.approx(0.60 * factor * p[name][0], rel=1e-12)


def test_effect_stops_gives_usual_cares_conditional_hazard_after_the_duration(default_inputs):
    spec = build_spec(default_inputs)
    assert spec.after_effect == "effect_stops"
    p = to_model_units(base_values(default_inputs), spec)
    usual, ifpp, bound = cumulative_entry_curves(p, spec, 60)
    h_usual, h_ifpp = hazards_from_curve(usual)[0], hazards_from_curve(ifpp)[0]
    np.testing.assert_allclose(h_ifpp[24:], h_usual[24:], rtol=1e-10)  # months 25, 26, …: usual care's hazard
    assert np.all(h_ifpp[:24] < h_usual[:24])  # during the effect: lower
    # by hand at 36 months: S_ifpp(36) = S_ifpp(24) × S_uc(36) / S_uc(24)
    assert 1 - ifpp[0, 36] == pytest.approx((1 - 0.6 * usual[0, 24]) * (1 - usual[0, 36]) / (1 - usual[0, 24]), rel=1e-12)
    assert not bound.any()


def test_after_effect_assumptions_are_ordered_and_a_one_month_effect_saves_almost_nothing(default_inputs):
    base = run_base_case(default_inputs).to_json()
    s = {k: v["per_child_savings"] for k, v in base["scenarios_after_effect"].items()}
    assert s["catch_up"] < s["linear_decay"] < s["effect_stops"] < s["gap_persists"]
    assert base["scenarios_after_effect"]["effect_stops"]["default"]
    short = run_base_case(apply_overrides(default_inputs, {"effect_duration_months": 1})).to_json()
    assert abs(short["per_child_savings"]) < 1000


def test_perspectives_sum_by_payer(default_inputs):
    res, spec = run(default_inputs)
    o = res.outcomes
    np.testing.assert_allclose(o["cost"], o["cost_local_authority"], rtol=1e-14)
    # the only HMCTS cost by default is the court cost of proceedings
    court = run(default_inputs, court_cost_proceedings=0.0)[0].outcomes
    np.testing.assert_allclose(court["cost_public_sector"], court["cost_local_authority"], rtol=1e-14)
    np.testing.assert_allclose(o["cost_local_authority"], court["cost_local_authority"], rtol=1e-14)
    public, _ = run(default_inputs, perspective="public_sector")
    np.testing.assert_allclose(public.outcomes["cost"], o["cost_public_sector"], rtol=1e-14)
    assert np.all(o["cost_public_sector"] > o["cost_local_authority"])


def test_age_band_results_weight_back_to_the_total(default_inputs):
    res, _ = run(default_inputs)
    for key in ("cost", "cost_placements", "first_placements", "first_placements_undiscounted", "care_months"):
        total = sum(res.band_shares[b] * band[key] for b, band in enumerate(res.by_band.values()))
        np.testing.assert_allclose(total, res.outcomes[key], rtol=1e-13)
    # older entrants' mix includes residential care: a placement month costs more
    bands = run_base_case(default_inputs).to_json()["by_age_band"]
    assert set(bands) == {"0-4", "5-10", "11-17"}


def test_risk_12m_gives_one_answer_by_every_path(default_inputs):
    """A scenario, the DSA evaluator (a PSA-style row) and an edited workbook agree at the same values."""
    from ifpp_econ.analyses.dsa import Evaluator
    scenario = run_base_case(apply_overrides(default_inputs, {"risk_12m": 0.36})).to_json()["per_child_savings"]
    evaluator = Evaluator(default_inputs)
    dsa = float(evaluator(evaluator.rows([{"risk_12m": 0.36}]))[0])
    params = default_inputs.parameters.copy()
    for name in ("risk_3m", "risk_6m", "risk_12m", "risk_24m"):  # the workbook edited: the whole curve × 1.2
        params.loc[name, "value"] = float(params.loc[name, "value"]) * 1.2
    edited = run_base_case(dataclasses.replace(default_inputs, parameters=params)).to_json()["per_child_savings"]
    assert scenario == pytest.approx(dsa, rel=1e-12)
    assert edited == pytest.approx(dsa, rel=1e-12)


def test_window_rrs_apply_at_their_time_points(default_inputs):
    inputs = apply_overrides(default_inputs, {"effect_model": "window_rrs"})
    spec = build_spec(inputs)
    p = to_model_units(base_values(inputs), spec)
    usual, ifpp, bound = cumulative_entry_curves(p, spec, 60)
    for months, rr in ((3, 0.57), (6, 0.51), (12, 0.60), (24, 0.51)):
        assert ifpp[0, months] == pytest.approx(rr * usual[0, months], rel=1e-12)
    # 0.60 at 12 months after 0.51 at 6 months: the curve still never decreases
    assert np.all(np.diff(ifpp[0]) >= 0)


def test_gap_persists_and_catch_up_after_effect_duration(default_inputs):
    spec = build_spec(default_inputs)
    p = to_model_units(base_values(default_inputs), spec)
    spec = dataclasses.replace(spec, after_effect="gap_persists")
    usual, ifpp, _ = cumulative_entry_curves(p, spec, 120)
    gap = usual[0, 24] - ifpp[0, 24]
    np.testing.assert_allclose(usual[0, 24:] - ifpp[0, 24:], gap, rtol=1e-12)
    spec_c = dataclasses.replace(spec, after_effect="catch_up", after_effect_months={"catch_up": 12})
    usual, ifpp, _ = cumulative_entry_curves(p, spec_c, 120)
    assert usual[0, 30] - ifpp[0, 30] == pytest.approx(gap / 2, rel=1e-12)
    np.testing.assert_allclose(ifpp[0, 36:], usual[0, 36:], rtol=1e-12)


def test_linear_decay_fades_the_relative_effect_to_none_over_decay_months(default_inputs):
    spec = dataclasses.replace(build_spec(default_inputs), after_effect="linear_decay",
                               after_effect_months={"linear_decay": 36})
    p = to_model_units(base_values(default_inputs), spec)
    usual, ifpp, _ = cumulative_entry_curves(p, spec, 120)
    reduction = 1 - ifpp[0, 24] / usual[0, 24]  # 1 − RR at the end of the 24-month effect
    assert reduction == pytest.approx(1 - p["rr_12m"][0], rel=1e-12)
    for a in (6, 18, 30):  # a months later, the relative reduction is (1 − a/36) of it
        assert 1 - ifpp[0, 24 + a] / usual[0, 24 + a] == pytest.approx(reduction * (1 - a / 36), rel=1e-9)
    np.testing.assert_allclose(ifpp[0, 60:], usual[0, 60:], rtol=1e-12)  # none left after 36 months
    assert np.all(np.diff(ifpp[0]) >= 0)


def test_the_after_effect_dispatch_is_each_assumption_s_rule():
    """The compiled kernel dispatches by code (after_effects.after_effect); the numpy reference takes RULES by code:
    the two agree for every assumption declared."""
    from ifpp_econ import declarations
    from ifpp_econ.model import after_effects

    assert after_effects.ASSUMPTIONS == tuple(declarations.AFTER_EFFECT_LABELS)
    assert len(after_effects.RULES) == len(after_effects.ASSUMPTIONS)
    rng = np.random.default_rng(3)
    u, u_d, t_d = rng.uniform(0.2, 0.5, 50), rng.uniform(0.1, 0.2, 50), rng.uniform(0.05, 0.1, 50)
    for code, rule in enumerate(after_effects.RULES):
        for i in range(50):
            assert after_effects.after_effect(code, u[i], u_d[i], t_d[i], 7.0, 20.0) == rule(u[i], u_d[i], t_d[i], 7.0, 20.0)


def test_running_maximum_rule_counts_when_it_binds(default_inputs):
    spec = dataclasses.replace(build_spec(default_inputs), effect_model="window_rrs")
    values = pd.concat([base_values(default_inputs)] * 2, ignore_index=True)
    values.loc[1, "rr_6m"] = 0.2  # far below rr_3m = 0.57: RR × risk would fall between 3 and 6 months
    p = to_model_units(values, spec)
    _, ifpp, bound = cumulative_entry_curves(p, spec, 60)
    assert list(bound) == [False, True]
    assert np.all(np.diff(ifpp, axis=1) >= 0)


def test_months_in_care_by_hand_without_exits(default_inputs):
    # No exits from care: months in care = sum over rows of the cumulative first-entry risk.
    zero = {f"{k}_{b}": 0.0 for k in ("reunify", "permanence") for b in ("0_6m", "6_12m", "12_24m", "24m_plus")}
    inputs = apply_overrides(default_inputs, {**zero, "discount_rate_outcomes": 0.0, "discount_rate_costs": 0.0,
                                              "within_cycle_correction": "none-end"})
    res, spec = run(inputs)
    p = to_model_units(base_values(inputs), spec)
    usual, _, _ = cumulative_entry_curves(p, spec, res.horizon_cycles)
    shares = [p[f"age_share:{b.name}"][0] for b in spec.age_bands]
    by_hand = sum(s * usual[0, 1 : h + 1].sum() for s, h in zip(shares, spec.band_horizons()))
    assert res.outcomes["care_months"][0, 0] == pytest.approx(by_hand, rel=1e-12)
    assert res.outcomes["care_entries"][0, 0] == pytest.approx(res.outcomes["first_placements"][0, 0], rel=1e-12)


def test_costs_scale_linearly_with_unit_costs(default_inputs):
    base, _ = run(default_inputs)
    doubled, _ = run(default_inputs, **{f"cost_{t}": 2 * float(default_inputs.parameters.loc[f"cost_{t}", "value"])
                                        for t in PLACEMENT_TYPES})
    np.testing.assert_allclose(doubled.outcomes["cost_placements"], 2 * base.outcomes["cost_placements"], rtol=1e-12)
    np.testing.assert_allclose(doubled.outcomes["cost_proceedings"], base.outcomes["cost_proceedings"], rtol=1e-12)


def test_price_year_change_uplifts_by_index_ratio(default_inputs):
    public = apply_overrides(default_inputs, {"perspective": "public_sector"})  # the court cost is paid by HMCTS
    base, _ = run(public)
    params = public.parameters.copy()
    params.loc["court_cost_proceedings", "price_year"] = "2020/21"
    moved, _ = run(dataclasses.replace(public, parameters=params))
    ratio = units.uplift_factor("2020/21", "2023/24", default_inputs.inflation) / units.uplift_factor(
        "2017/18", "2023/24", default_inputs.inflation)
    court = default_inputs.parameters.loc["court_cost_proceedings", "value"]
    legal = default_inputs.parameters.loc["la_legal_cost_proceedings", "value"]
    f17 = units.uplift_factor("2017/18", "2023/24", default_inputs.inflation)
    expected = base.outcomes["cost_proceedings"] * (court * f17 * ratio + legal) / (court * f17 + legal)
    np.testing.assert_allclose(moved.outcomes["cost_proceedings"], expected, rtol=1e-12)


def test_per_family_is_per_child_times_children_per_family(default_inputs):
    res, _ = run(default_inputs)
    cpf = float(default_inputs.parameters.loc["children_per_family", "value"])
    np.testing.assert_allclose(res.outcomes["cost_per_family"], res.outcomes["cost"] * cpf, rtol=1e-14)
    base = run_base_case(default_inputs).incremental()
    v = base[next(iter(base))]
    assert v["per_family_savings"] == pytest.approx(v["per_child_savings"] * cpf, rel=1e-12)


def test_structured_step_equals_dense_engine(default_inputs):
    spec = build_spec(default_inputs)
    values = pd.concat([base_values(default_inputs)] * 3, ignore_index=True)
    values.loc[1, "rr_12m"] = 0.8
    values.loc[2, "reunify_0_6m"] = 0.1
    p = to_model_units(values, spec)
    usual, ifpp, _ = cumulative_entry_curves(p, spec, 30)
    entry = hazards_from_curve(np.stack([usual, ifpp]))
    rng = np.random.default_rng(0)
    reunify, permanence, reentry = rng.uniform(0, 0.05, (3, 25)), rng.uniform(0, 0.02, (3, 25)), rng.uniform(0, 0.05, (3, 13))
    structured = FamilyStatesTransitions(entry, reunify, permanence, reentry)
    values_per_state = rng.uniform(0, 10, N_STATES)
    rewards = {"v": Reward(state_values=values_per_state, transition_values=np.array([1.0, 2.0, 3.0, 4.0]), discount_rate=0.035)}
    fast = simulate(np.eye(N_STATES)[HOME], structured, 30, rewards)
    dense_p = structured.dense()
    # dense moves are (S, S); the same one-off values placed on the matching moves
    move_values = np.zeros((N_STATES, N_STATES))
    move_values[HOME, CARE.start] = 1.0
    move_values[CARE.stop:N_STATES - 1, CARE.start] = 2.0
    move_values[CARE, CARE.stop] = 3.0
    move_values[CARE, N_STATES - 1] = 4.0
    dense_rewards = {"v": Reward(state_values=values_per_state, transition_values=move_values, discount_rate=0.035)}
    dense = simulate(np.eye(N_STATES)[HOME], dense_p, 30, dense_rewards, time_varying=True)
    np.testing.assert_allclose(fast.trace, dense.trace, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fast.total("v"), dense.total("v"), rtol=1e-12)


def test_zero_discount_gives_undiscounted_totals(default_inputs):
    inputs = apply_overrides(default_inputs, {"discount_rate_costs": 0.0, "discount_rate_outcomes": 0.0})
    res, spec = run(inputs)
    # months in care equals the counted (half-cycle) sum of the in-care share of the trace, band by band
    trace_care = res.trace[:, 0, :, CARE].sum(-1)
    from ifpp_econ.engine import cycle_weights
    p = to_model_units(base_values(inputs), spec)
    expected = sum(p[f"age_share:{b.name}"][0] * trace_care[:, : h + 1] @ cycle_weights(h, "half-cycle")
                   for b, h in zip(spec.age_bands, spec.band_horizons()))
    np.testing.assert_allclose(res.outcomes["care_months"][:, 0], expected, rtol=1e-12)


def test_bottom_up_costing(default_inputs):
    inputs = apply_overrides(default_inputs, {"strategy_cost_method:IFPP": "bottom_up"})
    res, spec = run(inputs)
    par = default_inputs.parameters["value"]
    expected = par["team_fte"] * par["cost_per_fte"] / par["families_per_team_year"] / par["children_per_family"]
    assert res.outcomes["cost_intervention"][1, 0] == pytest.approx(expected * spec.price_factors.get("cost_per_fte", 1.0))
