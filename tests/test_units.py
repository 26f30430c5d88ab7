"""Units and prices."""
import numpy as np
import pandas as pd
import pytest

from ifpp_econ import units

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
    with pytest.raises(units.UnitsError):
        units.to_model_units(1.0, "furlongs")


def test_uplift_is_the_product_of_index_changes():
    expected = 1.016 * 1.0214 * 1.0249 * 1.0258 * 1.0732 * 1.0431
    assert units.uplift_factor("2017/18", "2023/24", INFLATION) == pytest.approx(expected, rel=1e-12)
    assert units.uplift_factor("2023/24", "2017/18", INFLATION) == pytest.approx(1 / expected, rel=1e-12)
    assert units.uplift_factor("2023/24", "2023/24", INFLATION) == 1.0


def test_missing_year_and_bad_year():
    with pytest.raises(units.UnitsError, match="2014/15"):
        units.uplift_factor("2013/14", "2023/24", INFLATION)
    with pytest.raises(units.UnitsError, match="financial year"):
        units.year_start("2023-24")
    with pytest.raises(units.UnitsError):
        units.year_start("2023/25")
