"""The compiled family-states kernel agrees with the numpy reference and is bit-reproducible
whatever the number of threads and the chunk size."""
import dataclasses

import numpy as np
import pytest

from ifpp_econ.analyses.psa import draw, run_psa
from ifpp_econ.engine import threads
from ifpp_econ.model import entry, family_states, kernels
from ifpp_econ.model.family_states import monthly_cash, run_model
from ifpp_econ.model.scenarios import apply_overrides
from ifpp_econ.model.spec import build_spec

# compiled kernels: slow (the fast path compiles nothing)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(threads.choose_kernel("auto") != "numba", reason="numba not importable")]


@pytest.fixture(scope="module")
def draws(default_inputs):
    # model-averaged draws: every after-effect assumption and 'no effect' in one batch (links applied by the model)
    return draw(apply_overrides(default_inputs, {"psa_structural": "model_averaged", "weight_linear_decay": 0.25}),
                1500, seed=11)


def test_the_draws_cover_every_after_effect_assumption(draws):
    from ifpp_econ.model.after_effects import ASSUMPTIONS

    assert set(draws["structure:after_effect"]) == set(range(len(ASSUMPTIONS)))


def run_with(kernel, monkeypatch, draws, spec):
    monkeypatch.setenv("IFPP_ECON_KERNEL", kernel)
    return run_model(draws, spec)


def assert_close(a: dict, b: dict, rtol=1e-12):
    assert a.keys() == b.keys()
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        np.testing.assert_allclose(x, y, rtol=rtol, atol=0, equal_nan=True, err_msg=key)


@pytest.mark.parametrize("counting", ["half-cycle", "start", "end", "simpson"])
def test_numba_equals_numpy_reference_on_psa_draws(default_inputs, draws, monkeypatch, counting):
    spec = dataclasses.replace(build_spec(default_inputs), counting=counting)
    compiled = run_with("numba", monkeypatch, draws, spec)
    reference = run_with("numpy", monkeypatch, draws, spec)
    assert_close(compiled.outcomes, reference.outcomes)
    assert np.array_equal(compiled.curve_rule_bound, reference.curve_rule_bound)


@pytest.mark.parametrize("effect_model", ["single_rr", "window_rrs", "family_rr"])
def test_compiled_entry_probabilities_equal_numpy_reference(default_inputs, draws, effect_model):
    """The compiled first-entry probabilities (every after-effect assumption and 'no effect' drawn) agree with
    cumulative_entry_curves → hazards_from_curve to rounding; the running-maximum flags are identical."""
    spec = dataclasses.replace(build_spec(default_inputs), effect_model=effect_model)
    values, _ = entry.link_cumulative_risks(draws, spec)
    p = family_states.to_model_units(values, spec)
    args = (p, spec, 216, draws["structure:after_effect"].to_numpy(), draws["structure:no_effect"].to_numpy())
    compiled, bound_c = entry.first_entry_probabilities(*args, kernel="numba")
    reference, bound_r = entry.first_entry_probabilities(*args, kernel="numpy")
    assert compiled.shape == reference.shape == (len(spec.strategies), len(draws), 216)
    np.testing.assert_allclose(compiled, reference, rtol=1e-12, atol=1e-14)  # 1 − s₁/s₀ cancels: absolute rounding
    assert np.array_equal(bound_c, bound_r)


def test_model_asks_only_for_totals_computed_in_the_loop(default_inputs, draws, monkeypatch):
    monkeypatch.setenv("IFPP_ECON_KERNEL", "numba")
    spec = build_spec(default_inputs)
    cohort = family_states._simulate(draws, spec, keep_trace=False)
    assert isinstance(cohort.result, kernels.FamilyStatesResult)
    run_model(draws, spec)  # the same announcements as run_model's costing
    original = kernels._Values.full

    def fail(self):
        raise AssertionError("run_model needed a second (full-row) pass")
    monkeypatch.setattr(kernels._Values, "full", property(fail))
    try:
        run_model(draws, spec)
    finally:
        monkeypatch.setattr(kernels._Values, "full", original)


def test_a_dropped_result_frees_its_arrays_at_once(default_inputs, draws, monkeypatch):
    """No reference cycle keeps a kernel pass's totals alive until the garbage collector runs: a PSA drops each
    chunk's results and must get the memory back then (else ≈ 70 chunks' totals piled up in a 1M-iteration run)."""
    import gc
    import weakref

    monkeypatch.setenv("IFPP_ECON_KERNEL", "numba")
    result = family_states._simulate(draws, build_spec(default_inputs), keep_trace=False).result
    assert isinstance(result, kernels.FamilyStatesResult)
    result.row_values["living_at_home"][..., 12]  # the accessors are made and used
    out = weakref.ref(result._values.out)
    gc.disable()
    try:
        del result
        assert out() is None
    finally:
        gc.enable()


def test_one_plan_serves_every_chunk_and_a_different_ask_gets_its_own(default_inputs, draws, monkeypatch):
    """The plan of reward series and discount streams depends on the rewards, conventions and totals asked for, not on
    the iterations: chunks share it (numbers unchanged); other discount rates get another plan."""
    monkeypatch.setenv("IFPP_ECON_KERNEL", "numba")
    monkeypatch.setattr(kernels, "_PLANS", {})
    spec = build_spec(default_inputs)
    first = family_states._simulate(draws.iloc[:700], spec, keep_trace=False).result
    second = family_states._simulate(draws.iloc[700:], spec, keep_trace=False).result
    assert second._values.plan is first._values.plan and len(kernels._PLANS) == 1
    whole = family_states._simulate(draws, spec, keep_trace=False).result
    for name in ("in_care", "first_entries", "living_at_home"):
        total = np.concatenate([first.total(name), second.total(name)], axis=-1)
        assert np.array_equal(total, whole.total(name))
    other = family_states._simulate(draws.iloc[:50], dataclasses.replace(spec, discount_rate_costs=0.0),
                                    keep_trace=False).result
    assert other._values.plan is not first._values.plan and len(kernels._PLANS) == 2
    monkeypatch.setattr(kernels, "PLANS_KEPT", 2)  # a full cache starts again rather than grow
    family_states._simulate(draws.iloc[:50], dataclasses.replace(spec, discount_rate_costs=0.01), keep_trace=False)
    assert len(kernels._PLANS) == 1


def test_unannounced_totals_and_rows_fall_back_to_a_full_pass(default_inputs, draws, monkeypatch):
    spec = build_spec(default_inputs)
    monkeypatch.setenv("IFPP_ECON_KERNEL", "numba")
    compiled = family_states._simulate(draws.iloc[:200], spec, keep_trace=False).result
    monkeypatch.setenv("IFPP_ECON_KERNEL", "numpy")
    reference = family_states._simulate(draws.iloc[:200], spec, keep_trace=False).result
    for name, horizon, rate in (("in_care", 37, 0.0), ("care_entries", 5, 0.06), ("left_care", None, None)):
        np.testing.assert_allclose(compiled.total(name, horizon, rate), reference.total(name, horizon, rate), rtol=1e-12)
    assert compiled.full_passes == 1
    np.testing.assert_allclose(compiled.row_values["at_home"][..., 7], reference.row_values["at_home"][..., 7], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(compiled.flow_values["reunifications"]), reference.flow_values["reunifications"],
                               rtol=1e-12, atol=1e-300)
    assert compiled.full_passes == 1  # the full rows are computed once
    announced = compiled.row_values["living_at_home"][..., 24]
    np.testing.assert_allclose(announced, reference.row_values["living_at_home"][..., 24], rtol=1e-12)


def test_monthly_cash_agrees(default_inputs, draws, monkeypatch):
    spec = build_spec(default_inputs)
    monkeypatch.setenv("IFPP_ECON_KERNEL", "numba")
    compiled = monthly_cash(draws.iloc[:100], spec)
    monkeypatch.setenv("IFPP_ECON_KERNEL", "numpy")
    assert_close(compiled, monthly_cash(draws.iloc[:100], spec), rtol=1e-11)


def test_bit_identical_for_any_workers_and_chunk_size(default_inputs, monkeypatch):
    monkeypatch.setenv("IFPP_ECON_KERNEL", "numba")
    runs = [run_psa(default_inputs, 2500, seed=3, chunk_size=chunk, workers=workers)
            for workers, chunk in ((1, 2500), (2, 2500), (2, 333), (1, 1024))]
    for other in runs[1:]:
        for key, values in runs[0].outcomes.items():
            assert np.array_equal(values, other.outcomes[key], equal_nan=True), key


@pytest.mark.parametrize("strategies", [1, 2, 3, 5])
def test_compiled_net_benefit_sums_equal_the_numpy_reference_to_the_bit(strategies, monkeypatch):
    """The CEAC and EVPI sums of a block: compiled (numpy's pairwise summation order) = numpy, bit for bit, for
    block lengths around numpy's 8- and 128-value boundaries, ties (the first strategy wins) and NaN (numpy's argmax
    takes the first NaN, max propagates it), on a strided slice as the kept arrays give."""
    from ifpp_econ.analyses.comparison import PSAAccumulator

    rng = np.random.default_rng(strategies)
    acc = PSAAccumulator([f"s{k}" for k in range(strategies)], "s0", np.union1d(np.arange(0, 2e5 + 1, 5e3), [37e3]))
    for n in (1, 7, 8, 9, 127, 128, 129, 1000, 4097, 65536):
        cost = rng.normal(1e5, 3e4, (strategies, n + 3))[:, 3:]  # not C-contiguous
        placements = rng.uniform(0, 1, (strategies, n))
        if n > 20:
            cost[:, 5], placements[:, 5] = cost[0, 5], placements[0, 5]  # every strategy tied
            cost[-1, 7] = np.nan
            cost[0, 11] = np.nan
        sums = {}
        for kernel in ("numpy", "numba"):
            monkeypatch.setenv("IFPP_ECON_KERNEL", kernel)
            sums[kernel] = acc.block_sums({"cost": cost, "first_placements": placements})
        assert sums["numba"][3] == sums["numpy"][3] == n
        for compiled, reference in zip(sums["numba"][:3], sums["numpy"][:3]):
            assert np.array_equal(compiled, reference, equal_nan=True), n


def test_kernel_choice(monkeypatch):
    monkeypatch.setenv("IFPP_ECON_KERNEL", "numpy")
    assert threads.choose_kernel() == "numpy"
    assert threads.choose_kernel("numba") == "numba"
    monkeypatch.setenv("IFPP_ECON_KERNEL", "fortran")
    with pytest.raises(ValueError, match="IFPP_ECON_KERNEL"):
        threads.choose_kernel()
    with pytest.raises(ValueError, match="at least 1"):
        threads.set_workers(0)


def test_a_fresh_cache_compiles_once_and_report_after_psa_compiles_nothing(tmp_path):
    """No surprise compiles (issue 31): the first command compiles every variant of the kernel a command can use
    (parallel and serial, one signature), with one line saying so; `report` after `psa` compiles nothing."""
    import os
    import subprocess
    import sys

    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "IFPP_ECON_KERNEL": "numba"}

    def command(*args):
        done = subprocess.run([sys.executable, "-m", "ifpp_econ", *args], capture_output=True, text=True, env=env,
                              timeout=900, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stderr, sorted(p.name for p in cache.rglob("*.nbc"))

    err, after_psa = command("psa", "-n", "5000", "--chunk-size", "1024", "--out", "p")  # chunks in threads side by side
    assert err.count("Preparing the compiled model, once per install") == 1
    assert any("_serial" in name for name in after_psa) and any("_serial" not in name for name in after_psa)
    assert any("hermite" in name for name in after_psa)  # the sampler's compiled tables, prepared with the model
    assert any("net_benefit" in name for name in after_psa)  # the CEAC and EVPI sums, likewise
    err, after_report = command("report", "-n", "200", "--out", "r")
    assert "Preparing the compiled model" not in err and after_report == after_psa
    err, after_large = command("psa", "-n", "9000", "--chunk-size", "4096", "--out", "q")  # tables compiled here
    assert "Preparing the compiled model" not in err and after_large == after_psa
