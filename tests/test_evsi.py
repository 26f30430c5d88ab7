"""EVSI, ENBS and the optimal trial size (ifpp_econ.analyses.evsi)."""
from __future__ import annotations

import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, norm

from ifpp_econ.analyses import evsi as E
from ifpp_econ.analyses import voi
from ifpp_econ.analyses.psa import run_psa
from ifpp_econ.model.scenarios import apply_overrides
from ifpp_econ.outputs.charts import evsi_chart

SIZES = [25, 100, 400, 1600]

# --- a normal–normal study with a linear net benefit, where EVSI is known exactly -------------------------------------
# θ ~ N(μ0, σ0²); the study's mean x̄ ~ N(θ, σ²/n); INB = c + bθ + ψ with ψ ~ N(0, τ²) a parameter the study does not
# inform. The posterior mean of θ is μ0 + w(x̄ − μ0), w = n/(n + n0), n0 = σ²/σ0², so before the study E[INB | x̄] ~
# N(μ, s²) with μ = c + bμ0 and s = |b| σ0 √(n/(n + n0)). EVSI = E[max(0, E[INB | x̄])] − max(0, μ)
# = μΦ(μ/s) + sφ(μ/s) − max(μ, 0) = sφ(μ/s) − |μ|Φ(−|μ|/s); as n → ∞, s → |b|σ0 and EVSI → the EVPPI of θ.
MU0, SIGMA0, SIGMA, C, B, TAU = 0.0, 1.0, 5.0, 0.3, 1.0, 1.5
N0 = SIGMA**2 / SIGMA0**2


def closed_form_evsi(n: float) -> float:
    mu = C + B * MU0
    s = abs(B) * SIGMA0 * (np.sqrt(n / (n + N0)) if np.isfinite(n) else 1.0)
    return float(s * norm.pdf(mu / s) - abs(mu) * norm.cdf(-abs(mu) / s))


def normal_study(draws: pd.DataFrame, sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The generic hook: one study mean per draw and size, ``(J, N, 1)``."""
    theta = draws["theta"].to_numpy()
    return (theta[None, :] + SIGMA / np.sqrt(np.asarray(sizes, float))[:, None] * rng.standard_normal((len(sizes), len(theta))))[..., None]


def normal_case(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    theta, psi = MU0 + SIGMA0 * rng.standard_normal(n), TAU * rng.standard_normal(n)
    return pd.DataFrame({"theta": theta, "psi": psi}), np.vstack([np.zeros(n), C + B * theta + psi])


def test_regression_evsi_matches_the_normal_normal_closed_form():
    """The regression path (through the simulate hook) recovers the exact EVSI at every n within 3 bootstrap SEs, the
    Gaussian approximation (exact in this linear normal case) does too, and the informed EVPPI is the n → ∞ limit."""
    draws, nb = normal_case(20_000, seed=11)
    sizes = [2, 10, 25, 100, 400]
    exact = np.array([closed_form_evsi(n) for n in sizes])
    assert np.diff(exact).min() > 0.02  # the test can tell the sample sizes apart
    r = E.evsi(draws, nb, sizes, simulate=normal_study, informed=draws[["theta"]], n0=N0, seed=3, bootstrap=100,
               max_iterations=20_000)
    assert np.all(r.evsi_se > 0) and np.all(r.evsi_se < 0.01)
    np.testing.assert_array_less(np.abs(r.evsi_raw_per_child - exact), 3 * r.evsi_se + 0.002)
    assert r.evppi_informed_per_child == pytest.approx(closed_form_evsi(np.inf), abs=3 * 0.006)
    gaussian = E.evsi(draws, nb, sizes, simulate=normal_study, informed=draws[["theta"]], n0=N0, method="gaussian", seed=3,
                      bootstrap=100, max_iterations=20_000)
    np.testing.assert_allclose(gaussian.evsi_per_child, r.cross_check)
    np.testing.assert_array_less(np.abs(gaussian.evsi_raw_per_child - exact), 3 * gaussian.evsi_se + 0.002)  # exact here
    np.testing.assert_allclose(gaussian.cross_check, r.evsi_raw_per_child)  # same seed: the same simulated studies


def test_reported_standard_error_matches_the_spread_over_independent_replications():
    """The bootstrap SE is neither optimistic nor inflated: over 16 independent PSA samples and studies, the SD of
    the estimates is within a factor 0.6–1.6 of the mean reported SE, and their mean is the exact EVSI."""
    estimates, ses = [], []
    for rep in range(16):
        draws, nb = normal_case(4_000, seed=100 + rep)
        r = E.evsi(draws, nb, [25], simulate=normal_study, informed=draws[["theta"]], n0=N0, seed=rep, bootstrap=100,
                   cross_check=False)
        estimates.append(r.evsi_raw_per_child[0])
        ses.append(r.evsi_se[0])
    ratio = np.std(estimates, ddof=1) / np.mean(ses)
    assert 0.6 < ratio < 1.6, ratio
    assert abs(np.mean(estimates) - closed_form_evsi(25)) < 3 * np.mean(ses) / np.sqrt(16) + 0.003


def test_binomial_trial_simulates_nested_vectorised_trials():
    rr = np.array([0.5, 1.0, 0.8, 3.0, 0.6])
    draws = pd.DataFrame({"rr_12m": rr, "risk_12m": [0.3, 0.3, 0.1, 0.5, 0.4], "structure:no_effect": [0, 0, 0, 0, 1]})
    draws = pd.concat([draws] * 2000, ignore_index=True)
    sim = E.binomial_trial()
    out = sim(draws, np.array([400, 20, 100_000]), np.random.default_rng(5))
    assert out.shape == (3, len(draws), 2)
    p_c = draws["risk_12m"].to_numpy()
    p_t = np.minimum(np.where(draws["structure:no_effect"] == 1, 1.0, draws["rr_12m"]) * p_c, 1.0)
    big = out[2]  # 100,000 families per arm: the summary is the parameters
    np.testing.assert_allclose(big[:, 1], p_c, atol=0.01)
    np.testing.assert_allclose(big[:, 0], p_c - p_t, atol=0.015)
    assert np.abs(big[4::5, 0]).max() < 0.015  # no-effect iterations: RR = 1, not 0.6
    assert np.allclose(big[3::5, 0], -0.5, atol=0.015)  # RR 3 × 0.5 capped at a risk of 1
    doubling = sim(draws, np.array([256, 512]), np.random.default_rng(6))  # nested over powers of two: 512 ⊇ 256
    control = np.round(doubling[:, :, 1] * [[256], [512]])
    treated = np.round((doubling[:, :, 1] - doubling[:, :, 0]) * [[256], [512]])
    assert (control[1] >= control[0]).all() and (treated[1] >= treated[0]).all()
    assert (control[1] - control[0] <= 256).all() and (control[1] - control[0] > 0).any()
    again = sim(draws, np.array([20, 400, 100_000]), np.random.default_rng(5))
    np.testing.assert_array_equal(again[[1, 0, 2]], out)  # seeded, and the same whatever the order of the sizes
    alone = sim(draws, np.array([400]), np.random.default_rng(5))
    np.testing.assert_array_equal(alone[0], out[0])  # and whatever other sizes are asked for
    informed = E.informed_parameters(draws)
    assert np.allclose(informed.iloc[4::5, 0], 0.0) and np.allclose(informed.iloc[0::5, 0], np.log(0.5))


@pytest.fixture(scope="module")
def psa(default_inputs):
    return run_psa(default_inputs, n=5000, seed=1, keep_draws=True)


@pytest.fixture(scope="module")
def default_result(psa, default_inputs):
    return E.run_evsi(psa, default_inputs, SIZES, seed=1)


def enumerated_evsi(draws: pd.DataFrame, inb: np.ndarray, n: int) -> float:
    """Exact EVSI of the binomial trial by enumerating its (n + 1)² outcomes, the prior being the PSA draws, cross-
    fitted: posterior means E[INB | x_c, x_t] from one half of the draws (likelihood weights), outcome probabilities
    from the other, averaged over both ways round (no regression, no simulated trials)."""
    p_c = draws["risk_12m"].to_numpy()
    p_t = np.minimum(E.effective_rr(draws) * p_c, 1.0)
    x = np.arange(n + 1)[:, None]
    halves = np.array_split(np.arange(len(p_c)), 2)
    values = []
    for prior, data in (halves, halves[::-1]):
        lc, lt = binom.pmf(x, n, p_c[prior]), binom.pmf(x, n, p_t[prior])
        posterior = (lc @ (lt * inb[prior]).T) / (lc @ lt.T)
        probability = binom.pmf(x, n, p_c[data]) @ binom.pmf(x, n, p_t[data]).T / len(data)
        values.append((probability * np.maximum(posterior, 0)).sum() - max((probability * posterior).sum(), 0))
    return float(np.mean(values))


@pytest.mark.slow
def test_regression_evsi_matches_exact_enumeration_of_the_binomial_trial(psa, default_inputs):
    """On the default workbook, the regression EVSI of the small trials (where the decision changes only in the
    tail) agrees with exact enumeration within 3 SEs (the log RR summary this replaced was ~5 vs ~70 at n = 25)."""
    nb = psa.net_benefit()
    r = E.evsi(psa.draws, nb, [25, 50], seed=1, cross_check=False)
    for j, n in enumerate([25, 50]):
        exact = enumerated_evsi(psa.draws, nb[1] - nb[0], n)
        assert exact > 40
        assert abs(r.evsi_raw_per_child[j] - exact) < 3 * r.evsi_se[j], (n, r.evsi_raw_per_child[j], exact)


@pytest.mark.slow
def test_default_workbook_evsi_rises_with_n_and_approaches_the_informed_evppi(default_result, psa):
    r = default_result
    assert r.informed == ["log rr_12m (effective)", "risk_12m"]
    raw, se, ceiling = r.evsi_raw_per_child, r.evsi_se, r.evppi_informed_per_child
    assert np.all(r.evsi_per_child >= 0) and np.all(se > 0)
    assert np.all(np.diff(raw) > -2 * np.hypot(se[1:], se[:-1]))  # rises (allowing Monte Carlo noise)
    assert raw[-1] - raw[0] > 5 * se[-1]  # and clearly so over the grid
    assert np.all(raw <= ceiling + 2 * se)  # never above the EVPPI of what the trial informs
    assert raw[0] < 0.4 * ceiling and raw[-1] > 0.85 * ceiling
    assert ceiling <= r.evpi_per_child + 1e-9
    limit = E.evsi(psa.draws, psa.net_benefit(), [100_000], seed=2, bootstrap=50, cross_check=False)
    assert limit.evsi_raw_per_child[0] == pytest.approx(ceiling, abs=max(0.05 * ceiling, 2 * limit.evsi_se[0]))


@pytest.mark.slow
def test_gaussian_cross_check_is_close_to_the_regression_where_it_should_be(default_result, psa):
    """Tolerance: within 15% of the informed EVPPI at every n, and within 5% + 2 SE from n = 400 (the Gaussian
    approximation understates EVSI for small trials here: skewed effect prior, decision changing in its tail)."""
    r = default_result
    gap = np.abs(r.cross_check - r.evsi_raw_per_child)
    assert np.all(gap <= 0.15 * r.evppi_informed_per_child)
    big = r.sample_sizes >= 400
    assert np.all(gap[big] <= 0.05 * r.evppi_informed_per_child + 2 * r.evsi_se[big])
    assert r.n0 == pytest.approx(E.binomial_n0(psa.draws)) and 30 < r.n0 < 120
    gaussian = E.evsi(psa.draws, psa.net_benefit(), SIZES, method="gaussian", seed=1, bootstrap=20)
    np.testing.assert_allclose(gaussian.evsi_raw_per_child, r.cross_check)
    assert np.all(np.diff(gaussian.evsi_per_child) > 0)


@pytest.mark.slow
def test_evsi_is_stable_across_trial_seeds_and_psa_samples(default_result, psa, default_inputs):
    """Re-running with other seeds (new simulated trials; then a new PSA sample) moves each estimate by less than
    3 combined reported SEs."""
    r = default_result
    others = [E.run_evsi(psa, default_inputs, SIZES, seed=s, cross_check=False) for s in (2, 3)]
    others.append(E.run_evsi(run_psa(default_inputs, n=5000, seed=2, keep_draws=True), default_inputs, SIZES, seed=4,
                             cross_check=False))
    for other in others:
        diff = np.abs(other.evsi_raw_per_child - r.evsi_raw_per_child)
        np.testing.assert_array_less(diff, 3 * np.hypot(other.evsi_se, r.evsi_se))
    assert E.run_evsi(psa, default_inputs, SIZES, seed=1).to_json() == r.to_json()  # seeded: reproducible


def test_enbs_population_scaling_trial_costs_and_optimum():
    population = {"children_per_year": 100.0, "years": 2, "discount_rate": 0.035}
    table = E.enbs([1.0, 30.0, 60.0, 70.0], [10, 100, 400, 1600], population, trial_fixed_cost=1_000.0,
                   trial_cost_per_family=2.0, evsi_se=[0.1, 1.0, 1.0, 1.0])
    factor = 100 * (1 + 1 / 1.035)
    np.testing.assert_allclose(table["population_evsi"], np.array([1.0, 30.0, 60.0, 70.0]) * factor)
    np.testing.assert_allclose(table["trial_cost"], [1_040.0, 1_400.0, 2_600.0, 7_400.0])
    np.testing.assert_allclose(table["enbs"], table["population_evsi"] - table["trial_cost"])
    np.testing.assert_allclose(table["enbs_se"], np.array([0.1, 1.0, 1.0, 1.0]) * factor)
    assert E.optimal_sample_size(table) == (400, pytest.approx(60 * factor - 2_600))
    tie = E.enbs([1.0, 2.0], [10, 20], {"children_per_year": 1.0, "years": 1, "discount_rate": 0.0}, 0.0, 0.05)
    assert E.optimal_sample_size(tie)[0] == 10  # equal ENBS: the smaller trial
    costly = E.enbs([1.0, 2.0], [10, 20], population, 1e9, 0.0)
    n, value = E.optimal_sample_size(costly)
    assert value < 0 and n == 20  # reported: the best trial on the grid, and that none is worth its cost


@pytest.mark.slow
def test_refined_optimum_lies_between_the_grid_neighbours(psa, default_inputs):
    england = {"children_per_year": 20_000.0, "years": 10, "discount_rate": 0.035}  # illustrative
    grid = [25, 100, 400, 1600]
    kw = dict(population=england, trial_cost_per_family=3_000.0, seed=1, bootstrap=20)
    coarse = E.run_evsi(psa, default_inputs, grid, **kw)
    fine = E.run_evsi(psa, default_inputs, grid, refine=4, **kw)
    best = coarse.optimal()[0]
    j = grid.index(best)
    extra = sorted(set(fine.sample_sizes) - set(grid))
    assert len(extra) == 4 and grid[max(j - 1, 0)] < min(extra) and max(extra) < grid[min(j + 1, 3)]
    np.testing.assert_array_equal(fine.evsi_raw_per_child[np.isin(fine.sample_sizes, grid)], coarse.evsi_raw_per_child)
    assert fine.optimal()[1] >= coarse.optimal()[1]
    assert len(fine.cross_check) == len(fine.sample_sizes)


@pytest.mark.slow
def test_to_json_and_table(default_result, psa):
    r = default_result
    data = json.loads(json.dumps(r.to_json()))
    assert set(data) == {"by_sample_size", "evppi_informed_per_child", "optimal_sample_size", "optimal_enbs", "method",
                         "cross_check"}
    assert [set(row) for row in data["by_sample_size"]] == [{"sample_size", "evsi_per_child", "evsi_se", "population_evsi",
                                                             "enbs"}] * len(SIZES)
    assert data["method"] == "regression" and data["cross_check"]["method"] == "gaussian"
    assert [row["sample_size"] for row in data["cross_check"]["by_sample_size"]] == SIZES
    table = r.table()
    assert list(table["sample_size"]) == SIZES and table["optimal"].sum() == 1
    best = table.loc[table["enbs"].idxmax()]
    assert data["optimal_sample_size"] == int(best["sample_size"]) and data["optimal_enbs"] == pytest.approx(best["enbs"])
    expected = voi.population_evpi(table["evsi_per_child"].to_numpy(), **psa.population)
    np.testing.assert_allclose([row["population_evsi"] for row in data["by_sample_size"]], expected)
    np.testing.assert_allclose(table["trial_cost"], E.DEFAULT_TRIAL_FIXED_COST + E.DEFAULT_TRIAL_COST_PER_FAMILY * 2 * table["sample_size"])
    per_child = E.run_evsi(psa, None, SIZES, population=False, bootstrap=0).to_json()
    assert per_child["optimal_sample_size"] is None and per_child["by_sample_size"][0]["enbs"] is None
    assert per_child["by_sample_size"][0]["evsi_se"] is None  # no bootstrap: null, not NaN
    json.dumps(per_child, allow_nan=False)


def test_effect_model_and_model_averaged_psa_choose_the_informed_rr(default_inputs):
    family = apply_overrides(default_inputs, {"effect_model": "family_rr"})
    r = E.run_evsi(run_psa(family, n=2000, seed=3, keep_draws=True), family, [50, 800], bootstrap=20)
    assert r.informed[0] == "log rr_family_12m (effective)"
    averaged = run_psa(default_inputs, n=2000, seed=3, keep_draws=True, structural="model_averaged")
    no_effect = averaged.draws["structure:no_effect"].to_numpy() == 1
    assert 0.15 < no_effect.mean() < 0.35
    log_rr = E.informed_parameters(averaged.draws).iloc[:, 0].to_numpy()
    assert np.all(log_rr[no_effect] == 0) and np.all(log_rr[~no_effect] == np.log(averaged.draws["rr_12m"])[~no_effect])
    m = E.run_evsi(averaged, default_inputs, [50, 800], bootstrap=20)
    assert 0 <= m.evsi_per_child[0] < m.evsi_per_child[1] <= m.evppi_informed_per_child


@pytest.mark.slow
def test_bad_arguments_are_refused(psa):
    with pytest.raises(ValueError, match="informed"):
        E.evsi(psa.draws, psa.net_benefit(), [10], simulate=normal_study)
    draws, nb = normal_case(500, seed=1)
    with pytest.raises(ValueError, match="n0"):
        E.evsi(draws, nb, [10], simulate=normal_study, informed=draws[["theta"]], method="gaussian")
    with pytest.raises(ValueError, match="at least 1"):
        E.evsi(psa.draws, psa.net_benefit(), [0, 10])
    with pytest.raises(ValueError, match="method"):
        E.evsi(psa.draws, psa.net_benefit(), [10], method="moment")  # type: ignore[arg-type]


@pytest.mark.slow
def test_evsi_chart(default_result):
    fig = evsi_chart(default_result)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.yaxis.get_major_formatter()(2_500_000, 0) == "£2.5m"
    best = default_result.optimal()[0]
    assert any(np.allclose(c.get_offsets()[:, 0], [best]) for c in ax.collections if hasattr(c, "get_offsets")
               and len(c.get_offsets()) == 1)
    assert any(f"Optimal n = {best:,}" in t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)
    per_child = E.EVSIResult(**{**default_result.__dict__, "population": None})
    fig = evsi_chart(per_child)
    assert fig.axes[0].get_ylabel() == "GBP per child"
    plt.close(fig)


# -- the command line and the workbook (issue 30's done-when) ---------------------------------------------------------
def _cli(*args):
    from click.testing import CliRunner

    from ifpp_econ.cli import main

    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _with_settings(path, **values):
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["Settings"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    for name, value in values.items():
        ws.cell(rows[name], 2).value = value
    wb.save(path)
    return path


@pytest.mark.slow
def test_psa_evsi_json_rises_bounded_with_enbs_and_an_optimal_size(tmp_path):
    import json

    code, out, err = _cli("psa", "-n", 5000, "--evsi", "25,100,400,1600", "--json", "--out", tmp_path / "a")
    assert code == 0, err
    e = json.loads(out)["evsi"]
    rows = e["by_sample_size"]
    assert [r["sample_size"] for r in rows] == [25, 100, 400, 1600]
    values = [r["evsi_per_child"] for r in rows]
    assert all(b > a for a, b in zip(values, values[1:])) and values[0] > 0
    assert values[-1] <= e["evppi_informed_per_child"]
    assert all(r["enbs"] is not None and r["population_evsi"] > 0 for r in rows)
    assert e["optimal_sample_size"] in (25, 100, 400, 1600) and e["method"] == "regression"
    best = max(rows, key=lambda r: r["enbs"])
    assert e["optimal_sample_size"] == best["sample_size"] and e["optimal_enbs"] == pytest.approx(best["enbs"])
    trial_cost = 600_000 + 500 * 2 * np.array([25, 100, 400, 1600])  # the default workbook's trial costs (status E)
    np.testing.assert_allclose([r["population_evsi"] - r["enbs"] for r in rows], trial_cost)
    folder = tmp_path / "a"
    table = pd.read_csv(folder / "evsi.csv")
    assert list(table["sample_size"]) == [25, 100, 400, 1600] and (folder / "evsi.png").exists()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["settings"]["evsi_sample_sizes"] == [25, 100, 400, 1600]
    assert manifest["evsi"]["trial_fixed_cost"] == 600_000


def test_evsi_at_a_size_does_not_depend_on_the_other_sizes_asked_for(default_inputs):
    from ifpp_econ.analyses.evsi import run_evsi
    from ifpp_econ.analyses.psa import run_psa

    psa = run_psa(default_inputs, 2000, 11, keep_draws=True)
    alone = run_evsi(psa, default_inputs, [100], bootstrap=20)
    grid = run_evsi(psa, default_inputs, [25, 100, 400], bootstrap=20)
    assert alone.evsi_raw_per_child[0] == grid.evsi_raw_per_child[1]


@pytest.mark.slow
def test_the_workbook_asks_for_evsi_and_psa_evsi_none_overrides_it(tmp_path):
    import json

    from ifpp_econ.inputs.template import write_template

    path = _with_settings(write_template(tmp_path / "trial.xlsx"), evsi_sample_sizes="50, 200",
                          trial_fixed_cost=250_000, trial_cost_per_family=1000)
    code, out, err = _cli("psa", path, "-n", 2000, "--json", "--out", tmp_path / "a")
    assert code == 0, err
    rows = json.loads(out)["evsi"]["by_sample_size"]
    assert [r["sample_size"] for r in rows] == [50, 200]
    np.testing.assert_allclose([r["population_evsi"] - r["enbs"] for r in rows], [350_000, 650_000])
    code, out, err = _cli("psa", path, "-n", 500, "--evsi", "none", "--json", "--out", tmp_path / "b")
    assert code == 0 and "evsi" not in json.loads(out)


@pytest.mark.slow
@pytest.mark.parametrize("value, found", [("25, x", "'x'"), ("1", "1"), ("25.5", "25.5"), (-4, "-4")])
def test_bad_trial_sizes_in_the_workbook_are_named_at_their_cell(tmp_path, value, found):
    from ifpp_econ.inputs.template import write_template

    path = _with_settings(write_template(tmp_path / "bad.xlsx"), evsi_sample_sizes=value)
    code, out, err = _cli("validate", path)
    assert code == 2 and "Traceback" not in err
    assert re.search(rf"Settings!B\d+: found {re.escape(found)}; allowed: empty \(no EVSI\) or families per arm", err)


@pytest.mark.parametrize("option", ["0", "25,abc", "1,600", "2000000"])
def test_bad_evsi_options_exit_2(option):
    code, out, err = _cli("psa", "-n", 10, "--evsi", option)
    assert code == 2 and "Invalid value for '--evsi'" in err and "Traceback" not in err


def test_a_workbook_without_the_trial_settings_takes_their_defaults_with_a_warning(tmp_path):
    from openpyxl import load_workbook

    from ifpp_econ.inputs.reader import read_workbook
    from ifpp_econ.inputs.template import write_template

    path = write_template(tmp_path / "old.xlsx")
    wb = load_workbook(path)
    ws = wb["Settings"]
    for r in range(ws.max_row, 1, -1):
        if ws.cell(r, 1).value in ("evsi_sample_sizes", "trial_fixed_cost", "trial_cost_per_family"):
            ws.delete_rows(r)
    wb.save(path)
    inputs = read_workbook(path)
    assert inputs.settings["evsi_sample_sizes"] == [] and inputs.settings["trial_fixed_cost"] == 600_000
    assert sum("a newer setting" in w for w in inputs.warnings) == 3


@pytest.mark.slow
def test_report_shows_the_value_of_a_trial_when_the_workbook_asks(tmp_path):
    from openpyxl import load_workbook

    from ifpp_econ.inputs.template import write_template

    path = _with_settings(write_template(tmp_path / "trial.xlsx"), evsi_sample_sizes="25, 100, 400")
    code, out, err = _cli("report", path, "-n", 2000, "--out", tmp_path / "r")
    assert code == 0, err
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Value of a trial (EVSI)" in html and "Expected net benefit of sampling (ENBS)" in html
    assert "CHEERS-VOI" in html and "not run: set evsi_sample_sizes" not in html
    assert "EVPPI and EVSI" in load_workbook(tmp_path / "r" / "results.xlsx").sheetnames  # one sheet, one page
