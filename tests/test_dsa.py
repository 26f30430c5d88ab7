"""Deterministic sensitivity analysis."""

import numpy as np
import pytest

from ifpp_econ.analyses import dsa
from ifpp_econ.analyses.deterministic import run_base_case
from ifpp_econ.model.scenarios import apply_overrides, apply_scenario


def test_parameter_outside_the_model_has_zero_swing(default_inputs):
    # the social worker hourly cost only feeds the option2 preset's costing, not the model
    tornado = dsa.one_way(dsa.Evaluator(default_inputs)).table.set_index("parameter")
    assert tornado.loc["social_worker_hourly_cost", "swing"] == 0.0
    assert tornado.loc["rr_12m", "swing"] > 0


def test_tornado_sorted_by_swing_and_base_matches_run(default_inputs):
    t = dsa.one_way(dsa.Evaluator(default_inputs))
    assert list(t.table["swing"]) == sorted(t.table["swing"], reverse=True)
    base = run_base_case(default_inputs).incremental()["IFPP"]["per_child_savings"]
    assert t.base_outcome == pytest.approx(base, rel=1e-12)


def test_ranges_from_workbook_or_percentiles(default_inputs):
    ranges = dsa.one_way_ranges(default_inputs).set_index("parameter")
    assert ranges.loc["rr_12m (pooled 95% CI)", ["low", "high"]].tolist() == [0.48, 0.76]
    assert ranges.loc["rr_12m (pooled 95% CI)", "range_source"] == "workbook low/high: the pooled mean's 95% CI"
    assert ranges.loc["rr_12m", "high"] > 1 and "predictive" in ranges.loc["rr_12m", "range_source"]
    assert "percentile" in ranges.loc["cost_ifa", "range_source"] or ranges.loc["cost_ifa", "range_source"] == \
        "workbook low/high"
    assert "percentile" in ranges.loc["care_multiplier_reunify", "range_source"]
    assert "percentile" in ranges.loc["mix:11-17:residential", "range_source"]
    assert "reunify_0_6m" not in ranges.index  # fixed: varied through its multiplier


def test_every_tornado_bar_changes_only_the_parameters_it_names(default_inputs):
    ev = dsa.Evaluator(default_inputs)
    ranges = dsa.one_way_ranges(default_inputs)
    base = ev.base.iloc[0]
    from ifpp_econ.model.entry import link_cumulative_risks
    for _, r in ranges.iterrows():
        for value in (r["low"], r["high"]):
            row, _ = link_cumulative_risks(ev.rows([{r["varies"]: value}]), ev.spec)  # what the model evaluates
            changed = {c for c in row.columns if not np.isclose(row[c].iloc[0], base[c], rtol=1e-12, atol=0)}
            named = {n.strip() for n in r["moves"].split(",")}
            group = dsa.share_group(r["varies"])
            if group:  # a share moves the other shares of its group (named by the group)
                named |= {c for c in row.columns if c.startswith(group)}
            assert changed <= named, (r["parameter"], value, changed - named)
    labelled = ranges.set_index("parameter")
    assert "whole usual-care curve" in labelled.loc["risk_12m", "range_source"]
    assert labelled.loc["risk_6m", "high"] <= default_inputs.parameters.loc["risk_12m", "value"]


def test_ifpp_cost_break_even_is_a_number(default_inputs):
    found = dsa.threshold(dsa.Evaluator(default_inputs), "ifpp_cost_per_family")
    assert found["threshold"] is not None and found["threshold"] > 9000  # beyond the one-way high
    base = run_base_case(default_inputs).to_json()
    assert found["threshold"] == pytest.approx(base["max_affordable_cost_per_family"], rel=1e-8)


def test_share_moves_with_others_rescaled(default_inputs):
    ev = dsa.Evaluator(default_inputs)
    rows = ev.rows([{"mix:11-17:residential": 0.3}])
    mix = rows[[c for c in rows.columns if c.startswith("mix:11-17:")]].iloc[0]
    assert mix.sum() == pytest.approx(1.0) and mix["mix:11-17:residential"] == 0.3
    assert mix["mix:11-17:kinship"] / mix["mix:11-17:la_foster"] == pytest.approx(0.15 / 0.20)
    other = rows[[c for c in rows.columns if c.startswith("mix:0-4:")]].iloc[0]
    assert other["mix:0-4:kinship"] == 0.30  # other bands untouched


@pytest.mark.parametrize("name", ["ifpp_cost_per_family", "rr_12m", "risk_12m"])
def test_threshold_gives_zero_savings(default_inputs, name):
    ev = dsa.Evaluator(default_inputs)
    found = dsa.threshold(ev, name)
    if found["threshold"] is None:
        assert "no break-even" in found["note"]
        lo, hi = dsa.search_range(default_inputs, name)
        assert np.all(ev(ev.rows([{name: lo}, {name: hi}])) > 0)
    else:
        assert ev(ev.rows([{name: found["threshold"]}]))[0] == pytest.approx(0.0, abs=1e-6)


def test_ifpp_cost_threshold_when_savings_are_small(default_inputs):
    inputs = apply_overrides(default_inputs, {"rr_12m": 0.97})
    found = dsa.threshold(dsa.Evaluator(inputs), "ifpp_cost_per_family")
    assert found["threshold"] is not None
    check = run_base_case(apply_overrides(inputs, {"ifpp_cost_per_family": found["threshold"]}))
    assert check.incremental()["IFPP"]["per_child_savings"] == pytest.approx(0.0, abs=1e-6)


def test_scenario_equals_editing_the_workbook(default_inputs):
    table = dsa.scenarios(default_inputs).set_index("scenario")
    by_hand = run_base_case(apply_overrides(default_inputs, {"rr_3m": 1, "rr_6m": 1, "rr_12m": 1, "rr_24m": 1}))
    assert table.loc["No effect", "per_child_savings"] == pytest.approx(
        by_hand.incremental()["IFPP"]["per_child_savings"], rel=1e-12)
    assert table.loc["No effect", "placements_avoided_per_child"] == pytest.approx(0.0, abs=1e-12)
    horizon = run_base_case(apply_scenario(default_inputs, "5-year horizon")).incremental()["IFPP"]
    assert table.loc["5-year horizon", "per_child_savings"] == pytest.approx(horizon["per_child_savings"], rel=1e-12)
    assert set(table.index) >= {"Base case", "Time-varying RRs", "Residential-heavy mix (11-17)",
                                "Catch-up after the effect", "Gap persists after the effect", "Family-level RR"}


def test_two_way_grid(default_inputs):
    grid = dsa.two_way(dsa.Evaluator(default_inputs), "risk_12m", "rr_12m", points=5)
    assert len(grid) == 25
    # savings fall as the RR rises and rise with baseline risk
    sub = grid[grid["risk_12m"] == grid["risk_12m"].min()].sort_values("rr_12m")
    assert np.all(np.diff(sub["savings"]) < 0)


def test_outcome_choice(default_inputs):
    placements = dsa.one_way(dsa.Evaluator(default_inputs, "placements")).table.set_index("parameter")
    assert placements.loc["cost_residential", "swing"] == 0.0  # costs do not change placements
    nmb = dsa.Evaluator(default_inputs, "nmb", wtp=0.0)
    savings = dsa.Evaluator(default_inputs, "savings")
    np.testing.assert_allclose(nmb(nmb.base), savings(savings.base))


def test_run_dsa_reads_the_workbooks_threshold_parameters(default_inputs):
    result = dsa.run_dsa(apply_overrides(default_inputs, {"threshold_parameters": ["rr_12m", "cost_ifa"]}))
    assert result.thresholds["parameter"].tolist() == ["rr_12m", "cost_ifa"]
    assert "DSAResult(savings" in repr(result)
    tidy = result.summary()
    assert set(tidy["end"]) == {"low", "high"} and len(tidy) == 2 * len(result.tornado)
