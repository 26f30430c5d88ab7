"""Units and prices."""
import numpy as np
import pandas as pd
import pytest

from ifpp_econ import exceptions
from ifpp_econ.inputs import units

INFLATION = pd.Series({"2015/16": 0.0040, "2016/17": 0.0209, "2017/18": 0.0124, "2018/19": 0.0160, "2019/20": 0.0214,
                       "2020/21": 0.0249, "2021/22": 0.0258, "2022/23": 0.0732, "2023/24": 0.0431})


def test_weekly_to_monthly():
    assert units.to_model_units(100.0, "GBP/week/child") == pytest.approx(100 * 365.25 / 7 / 12)
    assert units.to_model_units(1200.0, "GBP/year/family") == pytest.approx(100.0)
    assert units.to_model_units(5000.0, "GBP/episode/family") == 5000.0


def test_probability_and_rate_conversions():
    monthly = units.to_model_units(0.04, "probability/year")
    assert 1 - (1 - monthly) ** 12 == pytest.approx(0.04, rel=1e-12)
    assert units.to_model_units(0.3, "rate/year") == pytest.approx(1 - np.exp(-0.3 / 12))
    np.testing.assert_allclose(units.to_model_units(np.array([0.01, 0.02]), "probability/month"), [0.01, 0.02])
    with pytest.raises(exceptions.UnitsError):
        units.to_model_units(1.0, "furlongs")


def test_uplift_is_the_product_of_index_changes():
    expected = 1.016 * 1.0214 * 1.0249 * 1.0258 * 1.0732 * 1.0431
    assert units.uplift_factor("2017/18", "2023/24", INFLATION) == pytest.approx(expected, rel=1e-12)
    assert units.uplift_factor("2023/24", "2017/18", INFLATION) == pytest.approx(1 / expected, rel=1e-12)
    assert units.uplift_factor("2023/24", "2023/24", INFLATION) == 1.0


def test_missing_year_and_bad_year():
    with pytest.raises(exceptions.UnitsError, match="2014/15"):
        units.uplift_factor("2013/14", "2023/24", INFLATION)
    with pytest.raises(exceptions.UnitsError, match="financial year"):
        units.year_start("2023-24")
    with pytest.raises(exceptions.UnitsError):
        units.year_start("2023/25")


def test_cost_period_and_per_family():
    assert units.cost_period("GBP/week/child") == "week"
    assert units.cost_period("GBP/episode/family") == "episode"
    assert units.cost_period("GBP/year") is None and units.cost_period("probability") is None
    assert units.is_per_family("GBP/month/family") and units.is_per_family("GBP/episode/family")
    assert not units.is_per_family("GBP/week/child") and not units.is_per_family("families/year")


def test_conversions_are_vectorised_and_round_trip():
    weekly = np.array([[400.0, 800.0], [900.0, 6106.0]])
    monthly = units.to_model_units(weekly, "GBP/week/child")
    assert monthly.shape == (2, 2)
    np.testing.assert_allclose(monthly / weekly, 4.348214285714286)
    yearly = np.array([0.0, 0.04, 0.5, 0.99])
    per_month = units.to_model_units(yearly, "probability/year")
    np.testing.assert_allclose(1 - (1 - per_month) ** 12, yearly, atol=1e-14)
    # a monthly probability compounded to a year and converted back is unchanged
    p_month = np.array([0.003, 0.042])
    np.testing.assert_allclose(units.to_model_units(1 - (1 - p_month) ** 12, "probability/year"), p_month, rtol=1e-12)


def test_uplift_from_2013_14_needs_the_2014_15_index():
    with_2014 = pd.concat([pd.Series({"2014/15": 0.01}), INFLATION])
    expected = np.prod(1 + with_2014.to_numpy())
    assert units.uplift_factor("2013/14", "2023/24", with_2014) == pytest.approx(expected, rel=1e-12)
    assert units.uplift_factor("2015/16", "2016/17", INFLATION) == pytest.approx(1.0209)
