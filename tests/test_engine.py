"""Engine invariants and conventions."""
import numpy as np
import pytest

from ifpp_econ.engine import Conventions, Edges, Reward, TransitionError, check_transitions, cycle_weights, discount_factors, simulate


def random_transitions(rng, shape, n_states):
    p = rng.random(shape + (n_states, n_states))
    return p / p.sum(-1, keepdims=True)


def test_every_trace_row_sums_to_one():
    rng = np.random.default_rng(0)
    p = random_transitions(rng, (50, 12), 5)
    result = simulate(np.eye(5)[0], p, 12, time_varying=True)
    assert result.trace.shape == (50, 13, 5)
    np.testing.assert_allclose(result.trace.sum(-1), 1.0, atol=1e-12)
    assert (result.trace >= 0).all()


@pytest.mark.parametrize("counting", ["start", "end", "half-cycle", "simpson"])
def test_zero_discount_gives_undiscounted_sums(counting):
    rng = np.random.default_rng(1)
    p = random_transitions(rng, (4,), 3)
    values = np.array([10.0, 20.0, 0.0])
    conv = Conventions(counting=counting, cycle_years=1 / 12)
    result = simulate(np.eye(3)[0], p, 24, {"v": Reward(state_values=values)}, conv)
    expected = (result.trace @ values) @ cycle_weights(24, counting)
    np.testing.assert_allclose(result.total("v"), expected, rtol=1e-13)


def test_counting_weights_on_a_constant():
    # A constant value of 1 over T cycles is worth T under every method
    for n in (1, 2, 3, 5, 12, 13, 216):
        for counting in ("start", "end", "half-cycle", "simpson"):
            assert cycle_weights(n, counting).sum() == pytest.approx(n, rel=1e-13)
    np.testing.assert_allclose(cycle_weights(4, "half-cycle"), [0.5, 1, 1, 1, 0.5])
    np.testing.assert_allclose(cycle_weights(4, "simpson"), np.array([1, 4, 2, 4, 1]) / 3)
    np.testing.assert_allclose(cycle_weights(3, "simpson"), np.array([1, 3, 3, 1]) * 3 / 8)
    np.testing.assert_allclose(cycle_weights(3, "start"), [1, 1, 1, 0])
    np.testing.assert_allclose(cycle_weights(3, "end"), [0, 1, 1, 1])


def test_simpson_and_trapezoid_integrate_polynomials_exactly():
    t = np.arange(7.0)
    # Simpson is exact for cubics, the trapezoid for straight lines
    assert cycle_weights(6, "simpson") @ t**3 == pytest.approx(6**4 / 4)
    assert cycle_weights(5, "simpson") @ t[:6] ** 3 == pytest.approx(5**4 / 4)
    assert cycle_weights(6, "half-cycle") @ (2 * t + 1) == pytest.approx(6**2 + 6)


def test_discount_factors_monthly_and_annual_step():
    conv = Conventions(cycle_years=1 / 12)
    d = discount_factors(24, 0.035, conv)
    assert d[0] == 1.0 and d[12] == pytest.approx(1 / 1.035) and d[24] == pytest.approx(1 / 1.035**2)
    assert d[6] == pytest.approx(1.035 ** -0.5)
    step = discount_factors(24, 0.035, Conventions(cycle_years=1 / 12, discount_step="year"))
    np.testing.assert_allclose(step[:12], 1.0)
    np.testing.assert_allclose(step[12:24], 1 / 1.035)
    shifted = discount_factors(3, 0.06, Conventions(cycle_years=1.0, discount_origin=1))
    np.testing.assert_allclose(shifted, [1, 1, 1 / 1.06, 1 / 1.06**2])


def test_transition_values_count_each_move_once():
    # Two states, everyone moves 0 -> 1 with probability 0.1 a cycle; a one-off cost of 100 per move
    p = np.array([[0.9, 0.1], [0.0, 1.0]])
    cost = np.array([[0.0, 100.0], [0.0, 0.0]])
    result = simulate(np.array([1.0, 0.0]), p, 10, {"c": Reward(transition_values=cost)})
    assert result.total("c") == pytest.approx(100 * (1 - 0.9**10))
    # discounted at the end of the cycle in which the move happens
    conv = Conventions(cycle_years=1.0)
    result = simulate(np.array([1.0, 0.0]), p, 10, {"c": Reward(transition_values=cost, discount_rate=0.05)}, conv)
    expected = sum(100 * 0.9 ** (t - 1) * 0.1 / 1.05**t for t in range(1, 11))
    assert result.total("c") == pytest.approx(expected)
    conv_start = Conventions(cycle_years=1.0, transition_timing="start")
    result = simulate(np.array([1.0, 0.0]), p, 10, {"c": Reward(transition_values=cost, discount_rate=0.05)}, conv_start)
    assert result.total("c") == pytest.approx(expected * 1.05)


def test_sparse_transition_values_and_horizon():
    edges = Edges([0, 0, 1], [0, 1, 1], 2)
    p = np.array([0.9, 0.1, 1.0])
    result = simulate(np.array([1.0, 0.0]), p, 10, {"c": Reward(transition_values=np.array([0, 100.0, 0]))}, edges=edges)
    assert result.total("c", horizon=5) == pytest.approx(100 * (1 - 0.9**5))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[1.1, -0.1], [0.0, 1.0]]), "negative"),
        (np.array([[0.5, 0.6], [0.0, 1.0]]), "not summing to 1"),
        (np.array([[np.nan, 1.0], [0.0, 1.0]]), "NaN"),
        (np.array([[1.2, 0.0], [0.0, 1.0]]), "above 1"),
    ],
)
def test_invalid_rows_raise(bad, message):
    with pytest.raises(TransitionError, match=message):
        simulate(np.array([1.0, 0.0]), bad, 3)


def test_sparse_rows_checked():
    edges = Edges([0, 0, 1], [0, 1, 1], 2)
    with pytest.raises(TransitionError, match="not summing to 1"):
        check_transitions(np.array([0.9, 0.2, 1.0]), edges)


def test_bad_conventions_rejected():
    with pytest.raises(ValueError, match="counting"):
        Conventions(counting="midpoint")
    np.testing.assert_allclose(cycle_weights(1, "simpson"), [0.5, 0.5])
