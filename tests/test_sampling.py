"""Sampling: moments, Dirichlet, correlation, reproducibility, errors."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ifpp_econ.analyses import sampling
from ifpp_econ.analyses.sampling import sample
from ifpp_econ.engine import threads
from ifpp_econ.exceptions import SamplingError
from ifpp_econ.inputs import distributions, inversion
from ifpp_econ.inputs.distributions import percentile_range

N = 200_000


def one(dist, value, a=np.nan, b=np.nan, name="x"):
    return pd.DataFrame({"value": [value], "distribution": [dist], "param_a": [a], "param_b": [b], "group": [""]},
                        index=[name])


def close(sample_values, mean, sd, k=4.0):
    n = len(sample_values)
    assert abs(sample_values.mean() - mean) < k * sd / np.sqrt(n)
    assert abs(sample_values.std() - sd) < k * sd * np.sqrt(2 / n) + 1e-12


@pytest.mark.parametrize("dist, value, a, b, mean, sd", [
    ("beta_mean_se", 0.3, 0.05, np.nan, 0.3, 0.05),
    ("beta_alpha_beta", 0.3, 30, 70, 0.3, np.sqrt(30 * 70 / (100**2 * 101))),
    ("beta_events_n", 0.3, 30, 100, 0.3, np.sqrt(30 * 70 / (100**2 * 101))),
    ("gamma_mean_se", 5000, 1250, np.nan, 5000, 1250),
    ("normal_mean_se", 10, 2, np.nan, 10, 2),
    ("uniform", 2.9, 2.3, 3.1, 2.7, 0.8 / np.sqrt(12)),
    ("triangular", 2, 1, 4, 7 / 3, np.sqrt((1 + 4 + 16 - 2 - 4 - 8) / 18)),
    ("pert", 2, 1, 4, (1 + 8 + 4) / 6, None),
    ("lognormal_log", 0.6, np.log(0.6), 0.117, 0.6 * np.exp(0.117**2 / 2), 0.6 * np.sqrt((np.exp(0.117**2) - 1) * np.exp(0.117**2))),
])
def test_moments_match_parameters(dist, value, a, b, mean, sd):
    x = sample(one(dist, value, a, b), N, seed=11)["x"].to_numpy()
    if sd is None:  # PERT: α = 1 + 4(m−a)/(b−a) = 7/3, β = 11/3 on [1, 4]
        al, be = 1 + 4 / 3, 1 + 8 / 3
        sd = 3 * np.sqrt(al * be / ((al + be) ** 2 * (al + be + 1)))
    close(x, mean, sd)


def test_lognormal_ci_median_and_interval():
    x = sample(one("lognormal_ci", 0.6, 0.48, 0.76), N, seed=3)["x"].to_numpy()
    assert np.median(x) == pytest.approx(0.6, rel=0.005)
    sigma = (np.log(0.76) - np.log(0.48)) / 3.92
    assert np.log(x).std() == pytest.approx(sigma, rel=0.01)


def test_lognormal_ci_mean():
    x = sample(one("lognormal_ci", 0.6, 0.48, 0.76), N, seed=4)["x"].to_numpy()
    sigma = (np.log(0.76) - np.log(0.48)) / 3.919927969080108
    close(x, 0.6 * np.exp(sigma**2 / 2), 0.6 * np.sqrt((np.exp(sigma**2) - 1) * np.exp(sigma**2)))


def test_fixed_is_constant_including_all_fixed_share_groups():
    params = pd.concat([one("fixed", 7.5), one("normal_mean_se", 1, 1, name="y"),
                        pd.DataFrame({"value": [0.3, 0.7], "distribution": "fixed", "param_a": np.nan, "param_b": np.nan,
                                      "group": "ages"}, index=["a1", "a2"])])
    d = sample(params, 3000, seed=1)
    assert (d["x"] == 7.5).all() and (d["a1"] == 0.3).all() and (d["a2"] == 0.7).all()
    assert d["y"].std() > 0.5
    assert list(d.columns) == ["x", "y", "a1", "a2"] and list(d.index) == list(range(3000))


def test_tabulated_inverse_matches_scipy_ppf():
    z = np.concatenate([np.linspace(-8, 8, 4001), np.random.default_rng(0).standard_normal(20_000)])
    u = np.clip(stats.norm.cdf(z), 1e-12, 1 - 1e-12)
    for dist in (stats.beta(30, 70), stats.beta(3, 400), stats.beta(0.5, 0.5), stats.gamma(16, scale=300),
                 stats.gamma(0.8, scale=2), stats.beta(7 / 3, 11 / 3, loc=1, scale=3), stats.lognorm(0.1, scale=0.6)):
        iqr = dist.ppf(0.75) - dist.ppf(0.25)
        got = inversion.inverse_cdf(dist)(z)
        body = np.abs(z) < 5  # beyond that scipy's own ppf of a rounded U near 1 is the less accurate one
        assert np.abs(got - dist.ppf(u))[body].max() < 1e-9 * iqr, dist.args
        if dist.dist.name in ("beta", "gamma"):  # tabulated: also accurate in the far upper tail
            exact = inversion._exact_inverse(dist, np.clip(z, -distributions.Z_CLIP, distributions.Z_CLIP))
            assert np.abs(got - exact).max() < 1e-9 * iqr, dist.args
        assert np.all(np.diff(got[:4001]) >= 0)
    assert inversion._inverse_table("beta", (0.1, 5.0), ()) is None  # too curved in the tail: scipy ppf is used


@pytest.mark.slow
@pytest.mark.skipif(threads.choose_kernel("auto") != "numba", reason="numba not importable")
def test_compiled_table_gives_the_numpy_numbers_bit_for_bit(monkeypatch):
    """From COMPILED_MIN values a table is evaluated compiled: the same operations in the same order as numpy's."""
    z = np.concatenate([np.linspace(-8, 8, 40_001), np.random.default_rng(1).standard_normal(50_000) * 3,
                        [0.0, -distributions.Z_CLIP, distributions.Z_CLIP, -1e300, 1e300]])
    for dist in (stats.beta(30, 70), stats.beta(0.5, 0.5), stats.gamma(16, scale=300), stats.gamma(0.8, scale=2)):
        inverse = inversion.inverse_cdf(dist)
        compiled = inverse(z)
        x, slope, (lo, hi) = inversion._inverse_table(dist.dist.name, tuple(map(float, dist.args)),
                                                      tuple(sorted(dist.kwds.items())))
        assert np.array_equal(compiled, np.clip(inversion._hermite(x, slope, z), lo, hi)), dist.args
        assert np.array_equal(compiled, np.concatenate([inverse(part) for part in np.array_split(z, 100)]))
    monkeypatch.setenv("IFPP_ECON_KERNEL", "numpy")  # the numpy reference for the same values
    assert np.array_equal(inverse(z), compiled)


def test_threads_only_for_columns_scipy_inverts(monkeypatch):
    """Closed forms and tables are cheap (no thread started for them); scipy's ppf columns may use threads, and the
    draws are the same either way."""
    cheap = [inversion.inverse_cdf(d) for d in (stats.norm(1, 2), stats.lognorm(0.3, scale=2), stats.gamma(4, scale=3))]
    ppf = inversion.inverse_cdf(stats.beta(0.1, 5.0))  # no table for it (see above)
    assert all(inversion.is_cheap(f) for f in cheap) and not inversion.is_cheap(ppf)
    z = np.random.default_rng(3).standard_normal((30_000, 4))
    serial = [f(z[:, j]) for j, f in enumerate(cheap + [ppf])]
    monkeypatch.setattr(sampling, "PARALLEL_MIN", 0)
    monkeypatch.setattr(sampling, "workers", lambda: 2)
    for got, want in zip(sampling._invert_columns(cheap + [ppf], z), serial):
        assert np.array_equal(got, want)


def test_correlating_two_parameters_leaves_the_others_unchanged():
    params = pd.concat([one("gamma_mean_se", 5000, 1250, name="cost"), one("beta_alpha_beta", 0.3, 30, 70, name="risk"),
                        one("normal_mean_se", 10, 2, name="other")])
    corr = pd.DataFrame({"parameter_1": ["cost"], "parameter_2": ["risk"], "rank_correlation": [0.6]})
    plain, correlated = sample(params, 2000, seed=9), sample(params, 2000, seed=9, correlations=corr)
    assert plain["other"].equals(correlated["other"]) and plain["cost"].equals(correlated["cost"])
    assert not plain["risk"].equals(correlated["risk"])


def test_dirichlet_shares_sum_to_one_with_expected_means():
    counts = np.array([23.0, 26.0, 20.0, 10.0, 14.0, 7.0]) * 72.08
    # the shares are the mean, param_a the group's effective sample size: concentrations = n × share
    params = pd.DataFrame({"value": counts / counts.sum(), "distribution": "dirichlet", "param_a": counts.sum(),
                           "param_b": np.nan, "group": "mix"}, index=[f"mix:{i}" for i in range(6)])
    d = sample(params, 50_000, seed=5)
    np.testing.assert_allclose(d.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    share = counts / counts.sum()
    se = np.sqrt(share * (1 - share) / (counts.sum() + 1) / 50_000)  # marginal Beta(c, C − c)
    assert np.all(np.abs(d.mean().to_numpy() - share) < 4 * se)
    assert d.std().to_numpy() == pytest.approx(np.sqrt(share * (1 - share) / (counts.sum() + 1)), rel=0.03)


@pytest.mark.parametrize("m", range(1, 13))
def test_dirichlet_shares_are_numpys_row_normalisation_to_the_bit(m):
    # _shares normalises column by column (short rows added one after another, as numpy does below 8 values): the
    # draws of every seed must stay what gammas / gammas.sum(axis=1, keepdims=True) gave
    gammas = np.random.default_rng(m).standard_gamma(np.geomspace(0.05, 2000, m), size=(100_000, m))
    gammas[0, ::2] *= 1e-200  # rows of very different magnitudes: any other order of additions would round apart
    gammas[1, 1::2] *= 1e200
    expected = gammas / gammas.sum(axis=1, keepdims=True)
    assert np.array_equal(np.column_stack(sampling._shares(gammas)), expected)
    assert np.array_equal(np.column_stack(sampling._shares(gammas[5:70_005])), expected[5:70_005])


def test_rank_correlation_achieved():
    params = pd.concat([one("gamma_mean_se", 5000, 1250, name="cost"), one("beta_alpha_beta", 0.3, 30, 70, name="risk")])
    corr = pd.DataFrame({"parameter_1": ["cost"], "parameter_2": ["risk"], "rank_correlation": [0.6]})
    d = sample(params, 50_000, seed=9, correlations=corr)
    rho = stats.spearmanr(d["cost"], d["risk"])[0]
    assert rho == pytest.approx(0.6, abs=0.01)
    close(d["cost"].to_numpy(), 5000, 1250, k=5)


def test_non_positive_definite_correlations_rejected():
    params = pd.concat([one("normal_mean_se", 0, 1, name=n) for n in "abc"])
    corr = pd.DataFrame({"parameter_1": ["a", "a", "b"], "parameter_2": ["b", "c", "c"],
                         "rank_correlation": [0.9, 0.9, -0.9]})
    with pytest.raises(SamplingError, match="a, b, c is not positive definite"):
        sample(params, 10, seed=1, correlations=corr)


@pytest.mark.parametrize("p1, p2, rho, message", [
    ("a", "nope", 0.5, "'nope' is not a sampled scalar parameter"),
    ("a", "f", 0.5, "'f' is not a sampled scalar parameter"),
    ("a", "a", 0.5, "two different parameters"),
    ("a", "b", 1.0, "−1 < ρ < 1"),
])
def test_bad_correlations_rejected(p1, p2, rho, message):
    params = pd.concat([one("normal_mean_se", 0, 1, name="a"), one("normal_mean_se", 0, 1, name="b"), one("fixed", 1, name="f")])
    corr = pd.DataFrame({"parameter_1": [p1], "parameter_2": [p2], "rank_correlation": [rho]})
    with pytest.raises(SamplingError, match=message):
        sample(params, 10, seed=1, correlations=corr)


@pytest.mark.slow
def test_same_seed_same_draws_and_chunk_size_invariance():
    params = pd.concat([one("gamma_mean_se", 5000, 1250, name="cost"), one("beta_alpha_beta", 0.3, 30, 70, name="risk"),
                        pd.DataFrame({"value": [0.5, 0.5], "distribution": "dirichlet", "param_a": [5.0, 5.0],
                                      "param_b": np.nan, "group": "g"}, index=["s1", "s2"])])
    corr = pd.DataFrame({"parameter_1": ["cost"], "parameter_2": ["risk"], "rank_correlation": [0.3]})
    full = sample(params, 5000, seed=42, correlations=corr)
    assert full.equals(sample(params, 5000, seed=42, correlations=corr))
    assert not full.equals(sample(params, 5000, seed=43, correlations=corr))
    split = pd.concat([sample(params, 1234, 42, start=0, correlations=corr),
                       sample(params, 3766, 42, start=1234, correlations=corr)])
    assert split.equals(full)
    for size in (1, 1000, 4096):
        parts = pd.concat([sample(params, min(size, 5000 - s), 42, start=s, correlations=corr) for s in range(0, 5000, size)])
        assert parts.equals(full)
    assert sample(params, 500, 42, start=3000, correlations=corr).equals(full.iloc[3000:3500])
    assert sample(params, 0, 42, start=7).shape == (0, 4)


def test_percentile_range():
    params = pd.concat([one("normal_mean_se", 10, 2, name="n"), one("lognormal_ci", 0.6, 0.48, 0.76, name="rr"),
                        one("fixed", 3, name="f")])
    q = percentile_range(params)
    assert q.loc["n"].tolist() == pytest.approx([10 - 1.959964 * 2, 10 + 1.959964 * 2], rel=1e-6)
    assert q.loc["rr"].tolist() == pytest.approx([0.6 * (0.48 / 0.76) ** 0.5, 0.6 * (0.76 / 0.48) ** 0.5], rel=1e-3)
    assert q.loc["f"].isna().all()
    ci = percentile_range(one("lognormal_ci", np.sqrt(0.48 * 0.76), 0.48, 0.76, name="rr"))
    assert ci.loc["rr"].tolist() == pytest.approx([0.48, 0.76], rel=1e-9)


def test_percentile_range_of_dirichlet_share_is_its_beta_marginal():
    params = pd.DataFrame({"value": [0.2, 0.8], "distribution": "dirichlet", "param_a": [100.0, 100.0], "param_b": np.nan,
                           "group": "g"}, index=["s1", "s2"])
    q = percentile_range(params, q=(0.1, 0.5, 0.9))
    assert q.loc["s1"].tolist() == pytest.approx(stats.beta(20, 80).ppf([0.1, 0.5, 0.9]).tolist(), rel=1e-12)


@pytest.mark.parametrize("dist, value, a, b, message", [
    ("beta_mean_se", 1.2, 0.1, np.nan, "strictly between 0 and 1"),
    ("beta_mean_se", 0.5, 0.6, np.nan, "SE"),
    ("beta_mean_se", 0.5, 0.5, np.nan, "SE²"),  # SE² = m(1 − m): infeasible
    ("beta_events_n", 0.3, 12, 10, "0 < events < n"),
    ("beta_alpha_beta", 0.3, 0, 10, "alpha > 0"),
    ("gamma_mean_se", -1, 1, np.nan, "positive"),
    ("gamma_mean_se", 100, 0, np.nan, "positive"),
    ("lognormal_ci", 0.6, 0.8, 0.7, "lower < value < upper"),
    ("lognormal_log", 0.6, -0.5, -0.1, "positive log-SE"),
    ("normal_mean_se", 1, -2, np.nan, "positive SE"),
    ("uniform", 1, 3, 2, "min < max"),
    ("pert", 5, 1, 4, "min ≤ value ≤ max"),
    ("pert", 3, 3, 3, "min < max"),
    ("triangular", 2, 3, 3, "min < max"),
    ("triangular", 0.5, 1, 3, "min ≤ value ≤ max"),
    ("weibull", 1, 1, 1, "unknown distribution"),
])
def test_infeasible_inputs_name_the_parameter(dist, value, a, b, message):
    with pytest.raises(SamplingError, match=message) as err:
        sample(one(dist, value, a, b, name="my_param"), 10, seed=1)
    assert "my_param" in str(err.value)


def test_dirichlet_counts_must_be_positive():
    params = pd.DataFrame({"value": [0.5, 0.5], "distribution": "dirichlet", "param_a": [5.0, 0.0], "param_b": np.nan,
                           "group": "g"}, index=["s1", "s2"])
    with pytest.raises(SamplingError, match="s2: Dirichlet effective sample size must be positive"):
        sample(params, 10, seed=1)


def test_dirichlet_group_problems_rejected():
    mixed = pd.DataFrame({"value": [0.5, 0.5], "distribution": ["dirichlet", "fixed"], "param_a": [5.0, np.nan],
                          "param_b": np.nan, "group": "g"}, index=["s1", "s2"])
    with pytest.raises(SamplingError, match="s2: group 'g' mixes dirichlet"):
        sample(mixed, 10, seed=1)
    no_group = mixed.assign(distribution="dirichlet", param_a=5.0, group="")
    with pytest.raises(SamplingError, match="s1: a dirichlet parameter needs a group"):
        sample(no_group, 10, seed=1)


def test_dirichlet_mean_follows_edited_shares_and_zero_shares_stay_zero():
    params = pd.DataFrame({"value": [0.5, 0.5, 0.0], "distribution": "dirichlet", "param_a": 60.0, "param_b": np.nan,
                           "group": "g"}, index=["a", "b", "c"])
    d = sample(params, 20_000, seed=3)
    assert (d["c"] == 0).all()
    assert d["a"].mean() == pytest.approx(0.5, abs=0.005)
    params["value"] = [0.8, 0.2, 0.0]  # a finance lead edits the shares: the draws follow
    d = sample(params, 20_000, seed=3)
    assert d["a"].mean() == pytest.approx(0.8, abs=0.005)


def test_gamma_with_relative_se_keeps_its_share_when_the_value_is_edited():
    for value in (2_500.0, 80_000.0):
        d = sample(one("gamma_mean_sepct", value, 0.25), 40_000, seed=4)
        assert d.iloc[:, 0].std() / value == pytest.approx(0.25, rel=0.03)
        assert d.iloc[:, 0].mean() == pytest.approx(value, rel=0.01)
