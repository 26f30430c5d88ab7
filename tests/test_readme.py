"""The README stays true: two Quick start commands; its Python examples run."""
import re
from pathlib import Path

import pytest

from ifpp_econ.analyses import validation

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_quick_start_has_exactly_two_commands():
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands == ["python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/ifpp-econ psa",
                        "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/pytest -q -rs -n auto"]


def test_readme_refers_only_to_files_in_the_repository():
    root = Path(__file__).resolve().parents[1]
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (root / target).exists(), target
    assert "shared/docs" not in README


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "Quick start" in ci and "README.md" in ci


def test_engine_example_runs():
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    namespace = {}
    exec(code, namespace)
    result = namespace["result"]
    assert abs(result.trace.sum(-1) - 1).max() < 1e-12
    assert result.total("cost", horizon=60) < result.total("cost")


def gbp(v):
    return f"−£{abs(v):,.0f}" if v < 0 else f"£{v:,.0f}"


@pytest.mark.slow
def test_default_result_figures_are_the_tools_own(default_inputs):
    """Every figure of "Default result and external figures" and "Operational validation" is reproduced."""
    from ifpp_econ.analyses.deterministic import run_base_case
    from ifpp_econ.analyses.psa import run_psa
    from ifpp_econ.model.scenarios import apply_overrides

    section = README.split("### Default result and external figures", 1)[1].split("\n## ", 1)[0]
    b = run_base_case(default_inputs).to_json()
    expected = [gbp(b["strategies"]["Usual care"]["cost"]), gbp(b["strategies"]["IFPP"]["cost"]),
                gbp(b["per_child_savings"]), gbp(b["per_family_savings"]),
                f"{b['placements_avoided_per_child']:.4f} placements", f"{b['care_months_avoided_per_child']:.2f} care months",
                gbp(b["programme_cost_per_placement_avoided"]), gbp(b["net_saving_per_placement_avoided"]),
                f"{b['children_referred_per_placement_avoided']:.1f} children",
                f"({b['families_referred_per_placement_avoided']:.1f} families)", gbp(b["max_affordable_cost_per_family"])]
    expected += [f"{k.replace('_', ' ')} {gbp(v['per_child_savings'])}" for k, v in b["scenarios_after_effect"].items()]
    expected += [f"{band} {gbp(v['per_child_savings'])}" for band, v in b["by_age_band"].items()]
    for label, inputs in (("PSA", default_inputs),
                          ("Model-averaged", apply_overrides(default_inputs, {"psa_structural": "model_averaged"}))):
        p = run_psa(inputs).to_json()
        s = p["per_child_savings"]
        expected += [gbp(s["mean"]), f"{gbp(s['lower'])}\nto {gbp(s['upper'])}" if label == "PSA" else
                     f"{gbp(s['lower'])} to {gbp(s['upper'])}", f"{p['prob_cost_saving']:.1%}"]
    for _, r in validation.external_comparison(default_inputs).iterrows():
        expected.append(f"{r['our like-for-like measure']} " + (f"{r['ours']:.2f}" if r["unit"] == "ratio" else gbp(r["ours"])))
    for _, r in validation.drivers(default_inputs).iterrows():
        expected.append(f"| {r['change']} | {gbp(r['per_child_savings'])} |")
    flat = " ".join(section.split())
    for figure in expected:
        assert " ".join(figure.split()) in flat, figure
    rows = validation.drivers(default_inputs)["change"].tolist()
    assert [line.split("|")[1].strip() for line in section.splitlines() if line.split("|")[1:2] and
            line.split("|")[1].strip() in rows] == rows  # ranked as the tool ranks them
    table = validation.operational_validation(default_inputs)
    ov = README.split("### Operational validation", 1)[1].split("\n## ", 1)[0]
    for _, r in table.iterrows():
        model = f"{r['model']:.1f}" if r["unit"] == "months" else f"{r['model']:.1%}"
        row = next(line for line in ov.splitlines() if line.startswith(f"| {r['measure']} |"))
        assert f"| {model} | {r['passes']} |" in row, (r["measure"], model, r["passes"])


@pytest.mark.slow
def test_headline_range_and_review_figures_are_the_tools_own(default_inputs):
    """The headline with its range (every case), both PSAs' probability cost-saving, the τ table and the
    reconciled external comparisons in "Default result and external figures" are the tool's."""
    from ifpp_econ.analyses.deterministic import run_base_case
    from ifpp_econ.analyses.psa import run_psa
    from ifpp_econ.analyses.structural import beside_psa
    from ifpp_econ.outputs import presentation

    section = " ".join(README.split("### Default result and external figures", 1)[1].split("\n## ", 1)[0].split())
    b = run_base_case(default_inputs).to_json()
    r = b["headline_range"]
    assert r["low"] < r["default"] < r["high"] and len(r["cases"]) >= 6
    expected = [f"**£{r['default']:,.0f} per child, structural range {gbp(r['low'])} to {gbp(r['high'])}** over "
                f"{len(r['cases'])} cases"]
    expected += [f"| {c['name']}{' (base case)' if c['default'] else ''} | {gbp(c['per_child_savings'])} |"
                 for c in r["cases"]]
    psa = run_psa(default_inputs, keep_draws=20_000)
    p, beside = psa.to_json(), beside_psa(psa, default_inputs)
    other = beside.averaged
    expected += [f"probability cost-saving {p['prob_cost_saving']:.1%}. Model-averaged PSA",
                 f"mean {gbp(other['per_child_savings']['mean'])}", f"probability cost-saving {other['prob_cost_saving']:.1%}",
                 f"the first {other['iterations']:,}"]
    tau = beside.tau.set_index("tau")["prob_cost_saving"]
    expected += [f"P(cost-saving) {presentation.probability(tau[0.0])} at τ = 0",
                 f"{presentation.probability(tau[0.15])} at 0.15", f"{presentation.probability(tau[0.3])} at 0.3",
                 f"{presentation.probability(tau[0.5])} at 0.5"]
    ifpp, usual = b["strategies"]["IFPP"], b["strategies"]["Usual care"]
    placements_alone = (usual["cost_placements"] - ifpp["cost_placements"]) / ifpp["cost_intervention"]
    k = float(default_inputs.parameters.loc["children_placed_per_family_placement", "value"])
    external = validation.external_comparison(default_inputs).set_index("source")["ours"]
    five_years = validation.drivers(default_inputs).set_index("change").loc["5-year horizon (not to age 18)",
                                                                           "per_child_savings"]
    expected += [f"return {external['WSIPP Homebuilders']:.2f} per £1 of programme cost, and placement costs alone "
                 f"{placements_alone:.2f}",
                 f"ours, {gbp(external['Action for Children'])}, is {external['Action for Children'] / 130_471:.2f} "
                 "times the top of it",
                 f"{b['families_referred_per_placement_avoided'] * k:.1f} families per *family* placement avoided",
                 f"the 5-year horizon alone takes the saving to {gbp(five_years)}"]
    for figure in expected:
        assert " ".join(figure.split()) in section, figure


@pytest.mark.slow
def test_python_api_example_runs():
    code = README.split("## Python API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(code, namespace)
    assert namespace["headline"]["after_effect"] == "effect_stops"
    assert len(namespace["dsa"].tornado) > 10 and len(namespace["budget"].table()) == 5
    assert namespace["psa"].iterations == 500
    assert len(namespace["psa"].samples()) == 500 and "evpi_population" in namespace["evpi"]
    assert namespace["voi"].evppi is not None and len(namespace["evppi"]) > 10
    assert "cumulative_lower" in namespace["budget"].table() and namespace["budget"].psa["iterations"] == 500


def test_outcome_and_cash_figures_are_the_tools_own(default_inputs):
    """The figures of "Children's outcomes" and "Cashable and notional savings" are reproduced."""
    from ifpp_econ.analyses.budget import run_budget
    from ifpp_econ.analyses.deterministic import run_base_case

    rows = {r["key"]: r for r in run_base_case(default_inputs).to_json()["outcomes"]
            if r["basis"] == "per 100 families referred"}
    outcomes = README.split("### Children's outcomes", 1)[1].split("\n### ", 1)[0]
    figures = [f"{-rows['first_placements_undiscounted']['difference']:.1f} fewer first entries",
               f"{-rows['care_entries_undiscounted']['difference']:.1f} fewer entries in all",
               f"{-rows['proceedings_issued']['difference']:.1f} fewer care proceedings",
               f"{rows['child_years_at_home_undiscounted']['difference']:.1f} more child-years at home"]
    for figure in figures:
        assert figure in " ".join(outcomes.split()), figure
    b = run_budget(default_inputs, iterations=0).to_json()
    cash = README.split("### Cashable and notional savings", 1)[1].split("\n## ", 1)[0]
    figures = [f"of {gbp(b['costs_avoided'])} of costs avoided over {b['years']} years {gbp(b['cashable_savings'])} is "
               f"cashable and {gbp(b['notional_savings'])} notional", f"year {b['payback_year']} counting every saving",
               f"year {b['payback_year_cash']} on cash alone"]
    for figure in figures:
        assert figure in " ".join(cash.split()), figure


def evsi_figures(default_inputs) -> dict[str, str]:
    """The figures of the README's "Value of a trial" paragraph, as the tool computes them."""
    from ifpp_econ.analyses.evsi import run_evsi
    from ifpp_econ.analyses.psa import run_psa

    psa = run_psa(default_inputs, keep_draws=20_000)
    local = run_evsi(psa, default_inputs, [25, 100, 400, 1600])
    england = dict(psa.population, children_per_year=psa.population["children_per_year"] * 152)
    national = run_evsi(psa, default_inputs, [25, 100, 400, 1600], population=england).table().set_index("sample_size")
    best, enbs = local.optimal()
    assert national["enbs"].idxmax() == 1600
    return {**{f"EVSI_{n}": gbp(v) for n, v in zip(local.sample_sizes, local.evsi_per_child)},
            "EVPPI_INFORMED": gbp(local.evppi_informed_per_child),
            "POP_LA": f"{psa.population['children_per_year']:,.1f}", "OPT_LA": f"{best:,}", "ENBS_LA": gbp(enbs),
            "NAT_EVSI_1600": gbp(national.loc[1600, "population_evsi"]), "NAT_ENBS_1600": gbp(national.loc[1600, "enbs"])}


@pytest.mark.slow
def test_value_of_a_trial_figures_are_the_tools_own(default_inputs):
    section = " ".join(README.split("### Value of a trial (EVSI)", 1)[1].split("\n## ", 1)[0].split())
    figures = evsi_figures(default_inputs)
    template = ("EVSI per child is {EVSI_25} at 25 families per arm, {EVSI_100} at 100, {EVSI_400} at 400 and {EVSI_1600} "
                "at 1,600, against an EVPPI of {EVPPI_INFORMED} for what the trial informs. **For one authority** "
                "({POP_LA} children a year for 10 years) no size is worth it: the best is {OPT_LA} families per arm, with "
                "ENBS {ENBS_LA}.")
    assert template.format(**figures) in section
    assert (f"EVSI at 1,600 families per arm is {figures['NAT_EVSI_1600']} against a trial cost of £2,200,000: ENBS "
            f"{figures['NAT_ENBS_1600']}") in section
