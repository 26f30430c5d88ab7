"""The PSA reflects the evidence: predictive effect, structural choices, spreads that follow edits."""
import dataclasses

import numpy as np
import pandas as pd
import pytest

from ifpp_econ.analyses.deterministic import run_base_case
from ifpp_econ.analyses.psa import draw, predictive_parameters, run_psa, structural_draws
from ifpp_econ.analyses.sampling import sample
from ifpp_econ.model.scenarios import apply_overrides


@pytest.fixture(scope="module")
def default_psa(default_inputs):
    return run_psa(default_inputs, 20_000, seed=20231)


def test_default_psa_is_uncertain_where_the_evidence_is(default_psa):
    data = default_psa.to_json()
    assert 0.80 < data["prob_cost_saving"] < 0.999
    evpi = [e["evpi"] for e in data["evpi_per_child"]]
    assert min(evpi) > 0
    ceac = [c["probability"] for c in data["ceac"]["IFPP"]]
    assert max(ceac) - min(ceac) > 0.005  # not flat
    assert "new setting" in data["effect_distribution"] and data["structural"] == {"sampled": False}


def test_tau_zero_reproduces_the_pooled_mean_psa(default_inputs):
    inputs = apply_overrides(default_inputs, {"rr_between_study_sd": 0.0})
    assert predictive_parameters(inputs) is inputs.parameters
    ours = draw(inputs, 3000, seed=4)
    old = sample(inputs.parameters, 3000, seed=4, correlations=inputs.correlations)
    windows = ["rr_3m", "rr_6m", "rr_24m"]  # tied to the 12-month draw (one meta-analysis), unused by single_rr
    pd.testing.assert_frame_equal(ours.drop(columns=windows), old.drop(columns=windows))
    for name in windows:  # same marginal (median and log-SD), now moving with the 12-month RR
        assert np.log(ours[name]).std() == pytest.approx(np.log(old[name]).std(), rel=0.06)


def test_predictive_rr_has_the_stated_spread(default_inputs):
    d = draw(default_inputs, 40_000, seed=8)
    log_rr = np.log(d["rr_12m"])
    assert log_rr.median() == pytest.approx(np.log(0.60), abs=0.01)
    assert log_rr.std() == pytest.approx(np.hypot((np.log(0.76) - np.log(0.48)) / 3.92, 0.3), rel=0.02)
    # window RRs: one meta-analysis, correlated (rank correlation ≥ 0.8 given in the Correlations sheet)
    assert d[["rr_3m", "rr_6m", "rr_12m", "rr_24m"]].corr(method="spearman").min().min() > 0.75


def test_model_averaged_draws_follow_their_weights_and_do_not_depend_on_chunks(default_inputs):
    weights = {"effect_stops": 0.5, "gap_persists": 0.25, "catch_up": 0.25, "no_effect": 0.25}
    whole = structural_draws(weights, 5000, seed=3)
    parts = pd.concat([structural_draws(weights, 1234, 3, 0), structural_draws(weights, 3766, 3, 1234)])
    pd.testing.assert_frame_equal(whole, parts)
    share = whole["structure:after_effect"].value_counts(normalize=True).sort_index()
    assert share.tolist() == pytest.approx([0.5, 0.25, 0.25], abs=0.03)
    assert whole["structure:no_effect"].mean() == pytest.approx(0.25, abs=0.03)
    inputs = apply_overrides(default_inputs, {"psa_structural": "model_averaged"})
    averaged = run_psa(inputs, 2000, seed=3)
    assert averaged.structural["iterations_drawn"]["no_effect"] > 0
    plain = run_psa(default_inputs, 2000, seed=3)
    assert averaged.to_json()["prob_cost_saving"] < plain.to_json()["prob_cost_saving"]


def test_base_values_sit_at_the_centre_of_their_distributions(default_inputs):
    """Every sampled parameter's PSA mean is within 5% of its base value, unless its row says the base is the mode
    or the median (and then that is checked)."""
    params = predictive_parameters(default_inputs)
    d = draw(default_inputs, 40_000, seed=11)
    for name, row in params.iterrows():
        if row["distribution"] == "fixed" or name.startswith(("mix:", "age_share:")):
            continue
        base, notes = float(row["value"]), str(row["notes"])
        if "base = median" in notes:
            assert d[name].median() == pytest.approx(base, rel=0.02), name
        elif "base = mode" in notes:
            hist, edges = np.histogram(d[name], bins=40)
            mode = 0.5 * (edges[hist.argmax()] + edges[hist.argmax() + 1])
            assert mode == pytest.approx(base, abs=2 * (edges[1] - edges[0])), name
        else:
            assert d[name].mean() == pytest.approx(base, rel=0.05), name
    mix = [c for c in d.columns if c.startswith("mix:")]
    np.testing.assert_allclose(d[mix].mean(), params.loc[mix, "value"], atol=0.005)


def test_editing_the_placement_shares_moves_the_psa_with_the_base_case(default_inputs):
    edit = {"mix:11-17:residential": 0.30, "mix:11-17:kinship": 0.10, "mix:11-17:la_foster": 0.15,
            "mix:11-17:ifa": 0.20, "mix:11-17:with_parents": 0.05, "mix:11-17:other": 0.09}
    edited = apply_overrides(default_inputs, edit)
    base_change = (run_base_case(edited).to_json()["per_child_savings"]
                   - run_base_case(default_inputs).to_json()["per_child_savings"])
    psa_change = (run_psa(edited, 3000, seed=2).to_json()["per_child_savings"]["mean"]
                  - run_psa(default_inputs, 3000, seed=2).to_json()["per_child_savings"]["mean"])
    assert base_change > 1000 and psa_change == pytest.approx(base_change, rel=0.35)


def test_an_edited_cost_keeps_its_relative_se(default_inputs):
    params = default_inputs.parameters.copy()
    params.loc["ifpp_cost_per_family", "value"] = 80_000.0
    d = draw(dataclasses.replace(default_inputs, parameters=params), 20_000, seed=1)
    cost = d["ifpp_cost_per_family"]
    assert cost.std() / cost.mean() == pytest.approx(0.25, rel=0.05)
