"""distributions.py: scipy.stats' answers without importing scipy.stats, and feasibility checks."""
import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from ifpp_econ.exceptions import SamplingError
from ifpp_econ.inputs import distributions
from ifpp_econ.inputs.distributions import MARGINALS, Marginal, share_outside
from ifpp_econ.inputs.inversion import sampleable

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # Boost warns about the extreme arguments tried

VALUES = [0.001, 0.3, 0.999, 5, 5000, 1e9]
ARGS = [-1, 0, 1e-320, 1e-300, 1e-12, 0.1, 0.5, 2, 30, 1e6, 1e300, math.inf, math.nan]
POINTS = [-1, 0, 1e-300, 0.001, 0.3, 1, 1.5, 5000, 1e6, math.inf, -math.inf]
QUANTILES = [0, 1e-12, 0.025, 0.5, 0.975, 1 - 1e-12, 1]


def cases(values=VALUES, args=ARGS, dists=tuple(MARGINALS)):
    """(dist, value, a, b, spec) for every feasible combination, one per distinct spec."""
    seen = set()
    for dist, value, a, b in itertools.product(dists, values, args, args):
        try:
            spec = MARGINALS[dist]("x", value, a, b)
        except SamplingError:
            continue
        if repr(spec) not in seen:
            seen.add(repr(spec))
            yield dist, value, a, b, spec


def agree(got: float, want: float) -> bool:
    return (math.isnan(got) and math.isnan(want)) or got == want or abs(got - want) <= 1e-12 * max(1.0, abs(want))


@pytest.mark.slow
@pytest.mark.parametrize("dist", list(MARGINALS))
def test_marginal_matches_scipy_stats(dist):
    """cdf, sf, ppf and isf agree with the frozen scipy.stats distribution to 1e-12, including outside the
    support, at the ends (q = 0, 1) and for extreme arguments."""
    for _, value, a, b, spec in cases(dists=(dist,)):
        mine, ref = Marginal.from_spec(spec), getattr(stats, spec[0])(*spec[1], **spec[2])
        with np.errstate(all="ignore"):
            for fn, xs in (("cdf", POINTS), ("sf", POINTS), ("ppf", QUANTILES), ("isf", QUANTILES)):
                for x in xs:
                    try:
                        want = float(getattr(ref, fn)(x))
                    except ArithmeticError:  # scipy.stats' beta raises on overflow; so does the Marginal
                        with pytest.raises(ArithmeticError):
                            getattr(mine, fn)(x)
                        continue
                    got = getattr(mine, fn)(x)
                    assert agree(got, want), (dist, value, a, b, fn, x, got, want)


def reference_share_outside(dist, value, a, b, lo, hi):
    """The reader's check as it was with scipy.stats (the sampler's own sampleable)."""
    name, args, kwargs = MARGINALS[dist]("", value, a, b)
    with np.errstate(all="ignore"):
        frozen = getattr(stats, name)(*args, **kwargs)
        if not sampleable(frozen):
            return None
        outside = (float(frozen.cdf(lo)) if lo > -math.inf else 0.0) + (float(frozen.sf(hi)) if hi < math.inf else 0.0)
        spread = float(frozen.ppf(0.975) - frozen.ppf(0.025))
    return min(outside, 1.0) if math.isfinite(outside) and math.isfinite(spread) else 1.0


@pytest.mark.slow
def test_share_outside_and_computable_match_the_sampler():
    def check(spec):
        with np.errstate(all="ignore"):
            return sampleable(getattr(stats, spec[0])(*spec[1], **spec[2]))

    args = [1e-300, 1e-12, 0.5, 1, 2, 30, 1e6, 1e300]
    for (dist, value, a, b, _), (lo, hi) in itertools.product(cases([0.3, 5000, 1e9], args),
                                                             [(0, 1), (1e-9, math.inf)]):
        got = share_outside(dist, value, a, b, lo, hi, sampler_check=check)
        want = reference_share_outside(dist, value, a, b, lo, hi)
        assert (got is None) == (want is None), (dist, value, a, b)
        if got is not None:
            assert agree(got, want), (dist, value, a, b, lo, hi, got, want)


def test_extreme_arguments_are_sampling_errors_not_crashes():
    with pytest.raises(SamplingError, match="beta SE"):
        MARGINALS["beta_mean_se"]("x", 0.3, 1e-320, math.nan)  # SE² underflows to 0
    with pytest.raises(SamplingError, match="too large"):
        MARGINALS["gamma_mean_se"]("x", 1e300, 1e-300, math.nan)  # (mean/SE)² overflows


def test_arity():
    assert distributions.arity("fixed") == 0 and distributions.arity("beta_mean_se") == 1
    assert distributions.arity("pert") == 2 and set(distributions.ARGUMENTS) == set(distributions.DISTRIBUTIONS)


@pytest.mark.slow
def test_reading_a_workbook_does_not_import_scipy_stats():
    code = ("import sys, ifpp_econ as ie; ie.read_workbook(ie.default_workbook()); "
            "print('scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_distributions_is_a_leaf():
    code = ("import sys; import ifpp_econ.inputs.distributions; "
            "print(sorted(m for m in sys.modules if m.startswith('ifpp_econ.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['ifpp_econ.exceptions', 'ifpp_econ.inputs', 'ifpp_econ.inputs.distributions']"


@pytest.mark.parametrize("name, args, kwds", [
    ("beta", (7.5, 17.5), {}), ("beta", (0.3, 4.0), {}), ("beta", (2.0, 3.0), {"loc": 1.0, "scale": 2.0}),
    ("gamma", (16.0,), {"scale": 100.0}), ("gamma", (0.4,), {"scale": 3.0}), ("triang", (0.6,), {"loc": 1.0, "scale": 1.9}),
    ("uniform", (0.2, 0.5), {}), ("lognorm", (0.3,), {"scale": 0.7}), ("norm", (3.0, 2.0), {})])
def test_frozen_is_scipy_stats_without_importing_it(name, args, kwds):
    """The sampler's Frozen gives scipy.stats' own values (the same scipy.special calls), bit for bit."""
    from ifpp_econ.inputs.distributions import Frozen

    q = np.r_[1e-12, np.random.default_rng(0).random(500), 1 - 1e-12]
    reference, ours = getattr(stats, name)(*args, **kwds), Frozen(name, args, kwds)
    for method in ("ppf", "isf"):
        assert np.array_equal(getattr(reference, method)(q), getattr(ours, method)(q)), method
    if name in ("beta", "gamma"):
        x = reference.ppf(q[1:-1])
        assert np.array_equal(reference.pdf(x), ours.pdf(x))
    assert tuple(map(float, reference.support())) == ours.support()
