"""Value of information and budget impact."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from ifpp_econ.analyses import voi
from ifpp_econ.analyses.budget import budget_impact
from ifpp_econ.analyses.comparison import PSAAccumulator, frontier
from ifpp_econ.model.family_states import run_model
from ifpp_econ.model.scenarios import apply_overrides
from ifpp_econ.model.spec import base_values, build_spec


def linear_case(n=40_000, seed=1, c=0.5, a=2.0, b=1.0):
    rng = np.random.default_rng(seed)
    t1, t2, noise = rng.normal(size=(3, n))
    nb = np.vstack([np.zeros(n), c + a * t1 + b * t2])
    return pd.DataFrame({"x1": t1, "x2": t2, "ignored": noise}), nb


def test_evppi_matches_closed_form_for_a_linear_model():
    c, a, b = 0.5, 2.0, 1.0
    draws, nb = linear_case(c=c, a=a, b=b)
    exact_x1 = c * norm.cdf(c / a) + a * norm.pdf(c / a) - c
    s = np.hypot(a, b)
    exact_evpi = c * norm.cdf(c / s) + s * norm.pdf(c / s) - c
    table = voi.evppi_table(draws, nb, groups={"both": ("x1", "x2")}, max_iterations=40_000).set_index("parameter")
    assert table.loc["x1", "evppi_per_child"] == pytest.approx(exact_x1, abs=0.02)
    assert table.loc["group: both", "evppi_per_child"] == pytest.approx(exact_evpi, abs=0.02)
    assert voi.evpi(nb) == pytest.approx(exact_evpi, abs=0.02)
    assert table.loc["ignored", "evppi_per_child"] < 0.01
    assert (table["evppi_per_child"] <= table["evpi_per_child"] + 1e-12).all()


def test_evpi_zero_when_one_strategy_always_wins():
    nb = np.vstack([np.zeros(1000), np.linspace(1, 2, 1000)])
    assert voi.evpi(nb) == 0.0
    acc = PSAAccumulator(["A", "B"], "A", np.array([0.0, 1e4]))
    acc.add({"cost": np.vstack([np.full(1000, 10.0), np.full(1000, 5.0)]), "first_placements": np.vstack([np.ones(1000), np.zeros(1000)])})
    assert (acc.evpi()["evpi_per_child"] == 0).all()
    assert (acc.ceac()["B"] == 1).all()


def test_population_evpi_discounts_years():
    value = voi.population_evpi(np.array([10.0]), children_per_year=100, years=2, discount_rate=0.035)
    assert value[0] == pytest.approx(10 * 100 * (1 + 1 / 1.035))


def test_frontier_strong_and_extended_dominance():
    # costs and placements per strategy; effect = fewer placements
    f = frontier(np.array([0.0, 100.0, 150.0, 120.0]), np.array([1.0, 0.8, 0.5, 0.9]), ["A", "B", "C", "D"]).set_index("strategy")
    assert f.loc["D", "status"] == "dominated"  # costlier than B with more placements
    assert f.loc["B", "status"] == "extendedly dominated"  # ICER A→B 500 > B→C 166.7
    assert f.loc["C", "icer_per_placement_avoided"] == pytest.approx(150 / 0.5)


def test_one_year_budget_equals_per_child_undiscounted_results(default_inputs):
    inputs = apply_overrides(default_inputs, {"discount_rate_costs": 0.0, "discount_rate_outcomes": 0.0,
                                              "within_cycle_correction": "half-cycle"})
    families = 47.0
    b = budget_impact(inputs, years=19, families_per_year=families, referral_years=1)
    per_child = run_model(base_values(inputs), build_spec(inputs)).outcomes
    children = families * float(inputs.parameters.loc["children_per_family", "value"])
    for cat in ("cost_intervention", "cost_placements", "cost_proceedings", "cost_reunification", "cost_case_support"):
        np.testing.assert_allclose(b.by_year[cat][:, 0].sum(-1), per_child[cat][:, 0] * children, rtol=1e-10)


def test_budget_table_and_payback(default_inputs):
    b = budget_impact(default_inputs, years=5, families_per_year=47)
    df = b.table()
    assert list(df["year"]) == [1, 2, 3, 4, 5]
    spend = 47 * 5000  # every referred family costs one IFPP episode
    np.testing.assert_allclose(df["programme_spend"], spend)
    np.testing.assert_allclose(df["cumulative_net_saving"], np.cumsum(df["net_saving"]))
    head = b.headline()
    assert head["payback_year"] == next(y for y, v in zip(df["year"], df["cumulative_net_saving"]) if v >= 0)
    none = budget_impact(apply_overrides(default_inputs, {"rr_3m": 1, "rr_6m": 1, "rr_12m": 1, "rr_24m": 1}), years=5)
    np.testing.assert_allclose(none.table()["net_saving"], -spend, rtol=1e-12)
    assert none.headline()["payback_year"] is None


@pytest.mark.slow
def test_shared_qr_evppi_equals_a_direct_least_squares_fit():
    rng = np.random.default_rng(4)
    n = 1500
    theta = rng.gamma(2.0, 1.0, size=(n, 3))
    theta[:, 2] = np.round(theta[:, 2])  # a lumpy parameter: repeated values, tied quantile knots
    nb = np.vstack([np.zeros(n), 1 - theta[:, 0] + 0.5 * theta[:, 1] * theta[:, 2] + rng.normal(size=n),
                    0.3 * theta[:, 1] + rng.normal(size=n)])
    perm = rng.permutation(n)
    for cols in ([0], [0, 1, 2]):
        x, inb = voi.design_matrix(theta[:, cols]), (nb - nb[:1])[1:]
        direct = (x @ np.linalg.lstsq(x, inb.T, rcond=None)[0]).T
        g = np.vstack([np.zeros((1, n)), direct])
        expected = min(g.max(0).mean() - g.mean(1).max(), voi.evpi(nb))
        xp = voi.design_matrix(theta[perm][:, cols])
        gp = np.vstack([np.zeros((1, n)), (xp @ np.linalg.lstsq(xp, inb.T, rcond=None)[0]).T])
        expected_null = min(gp.max(0).mean() - gp.mean(1).max(), voi.evpi(nb))
        got = voi.evppi(theta[:, cols], nb, null_rows=perm)
        assert got["evppi"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert got["permuted_null"] == pytest.approx(expected_null, rel=1e-9, abs=1e-12)
        assert 0 < got["se"] < got["evppi"]
        fitted, r2 = voi.fitted_net_benefit(theta[:, cols], inb)
        np.testing.assert_allclose(fitted, direct, rtol=1e-9, atol=1e-9)


def test_budget_shows_children_referred_and_placements_avoided_by_year(default_inputs):
    from ifpp_econ.analyses.deterministic import run_base_case
    from ifpp_econ.model.scenarios import apply_overrides

    table = budget_impact(default_inputs, years=5).table()
    cpf = float(default_inputs.parameters.loc["children_per_family", "value"])
    assert table["children_referred"].tolist() == pytest.approx([47 * cpf] * 5)
    assert (table["placements_avoided"] > 0).all()
    # with no discounting and a long window, placements avoided per child referred approach the model's
    one_year = budget_impact(apply_overrides(default_inputs, {"discount_rate_outcomes": 0.0}), years=30,
                             referral_years=1).table()
    per_child = one_year["placements_avoided"].sum() / one_year["children_referred"].sum()
    model = run_base_case(default_inputs).to_json()["placements_avoided_per_child_undiscounted"]
    assert per_child == pytest.approx(model, rel=0.02)


@pytest.mark.parametrize("kind", ["normal", "ties", "sorted", "reversed", "constant", "infinite", "nan", "skewed",
                                  "runs"])
def test_tail_quantiles_equal_numpys_to_the_bit(kind):
    """The PSA's intervals come from the tails only (issue 31: 72 summaries of 524,288 values a large PSA): the
    same numbers as np.quantile, bit for bit, whatever the order, ties, infinities; NaN and short samples go to numpy."""
    from ifpp_econ.analyses.comparison import TAIL_MIN, tail_quantiles

    rng = np.random.default_rng(len(kind))
    for n in (TAIL_MIN - 1, TAIL_MIN, 65_537, 200_000):
        x = rng.normal(size=n)
        x = {"ties": lambda: np.round(x, 1), "sorted": lambda: np.sort(x), "reversed": lambda: np.sort(x)[::-1],
             "constant": lambda: np.full(n, 3.25), "skewed": lambda: np.exp(3 * x),
             "runs": lambda: np.repeat(x[: n // 64 + 1], 64)[:n]}.get(kind, lambda: x)()
        if kind == "infinite":
            x[::1000], x[5::997] = np.inf, -np.inf
        if kind == "nan":
            x[n // 2] = np.nan
        for qs in ([(1 - 0.95) / 2, 1 - (1 - 0.95) / 2], [0.0, 1.0], [0.02, 0.03], [0.97, 0.98], [0.001, 0.999]):
            with np.errstate(invalid="ignore"):
                assert np.array_equal(np.array(tail_quantiles(x, qs)), np.quantile(x, qs), equal_nan=True), (n, qs)
