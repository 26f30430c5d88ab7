"""Sampling: moments, Dirichlet, correlation, reproducibility, errors."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ifpp_econ.sampling import SamplingError, percentile_range, sample

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


def test_fixed_is_constant():
    x = sample(one("fixed", 7.5), 1000, seed=1)["x"]
    assert (x == 7.5).all()


def test_dirichlet_shares_sum_to_one_with_expected_means():
    counts = np.array([23.0, 26.0, 20.0, 10.0, 14.0, 7.0]) * 72.08
    params = pd.DataFrame({"value": counts / counts.sum(), "distribution": "dirichlet", "param_a": counts,
                           "param_b": np.nan, "group": "mix"}, index=[f"mix:{i}" for i in range(6)])
    d = sample(params, 50_000, seed=5)
    np.testing.assert_allclose(d.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(d.mean(), counts / counts.sum(), atol=4 * 0.005 / np.sqrt(50_000) * 10)


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


def test_same_seed_same_draws_and_chunk_size_invariance():
    params = pd.concat([one("gamma_mean_se", 5000, 1250, name="cost"), one("beta_alpha_beta", 0.3, 30, 70, name="risk"),
                        pd.DataFrame({"value": [0.5, 0.5], "distribution": "dirichlet", "param_a": [5.0, 5.0],
                                      "param_b": np.nan, "group": "g"}, index=["s1", "s2"])])
    corr = pd.DataFrame({"parameter_1": ["cost"], "parameter_2": ["risk"], "rank_correlation": [0.3]})
    full = sample(params, 5000, seed=42, correlations=corr)
    assert full.equals(sample(params, 5000, seed=42, correlations=corr))
    assert not full.equals(sample(params, 5000, seed=43, correlations=corr))
    for size in (1, 1000, 1234, 4096):
        parts = pd.concat([sample(params, min(size, 5000 - s), 42, start=s, correlations=corr) for s in range(0, 5000, size)])
        assert np.array_equal(parts.to_numpy(), full.to_numpy())


def test_percentile_range():
    params = pd.concat([one("normal_mean_se", 10, 2, name="n"), one("lognormal_ci", 0.6, 0.48, 0.76, name="rr"),
                        one("fixed", 3, name="f")])
    q = percentile_range(params)
    assert q.loc["n"].tolist() == pytest.approx([10 - 1.959964 * 2, 10 + 1.959964 * 2], rel=1e-6)
    assert q.loc["rr"].tolist() == pytest.approx([0.6 * (0.48 / 0.76) ** 0.5, 0.6 * (0.76 / 0.48) ** 0.5], rel=1e-3)
    assert q.loc["f"].isna().all()


@pytest.mark.parametrize("dist, value, a, b, message", [
    ("beta_mean_se", 1.2, 0.1, np.nan, "strictly between 0 and 1"),
    ("beta_mean_se", 0.5, 0.6, np.nan, "SE"),
    ("gamma_mean_se", -1, 1, np.nan, "positive"),
    ("lognormal_ci", 0.6, 0.8, 0.7, "lower < value < upper"),
    ("pert", 5, 1, 4, "min ≤ value ≤ max"),
    ("triangular", 2, 3, 3, "min < max"),
    ("weibull", 1, 1, 1, "unknown distribution"),
])
def test_infeasible_inputs_name_the_parameter(dist, value, a, b, message):
    with pytest.raises(SamplingError, match=message) as err:
        sample(one(dist, value, a, b, name="my_param"), 10, seed=1)
    assert "my_param" in str(err.value)


def test_dirichlet_counts_must_be_positive():
    params = pd.DataFrame({"value": [0.5, 0.5], "distribution": "dirichlet", "param_a": [5.0, 0.0], "param_b": np.nan,
                           "group": "g"}, index=["s1", "s2"])
    with pytest.raises(SamplingError, match="s2"):
        sample(params, 10, seed=1)
