"""Decisions an LA can act on (issue 28): children's outcomes beside the money, the payer ledger and cost rows a
user adds for any payer, and cashable against notional savings in the budget.

The checks are identities and equalities between runs (not today's default figures, which the evidence may move).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ifpp_econ import declarations
from ifpp_econ.analyses.budget import run_budget
from ifpp_econ.analyses.deterministic import run_base_case
from ifpp_econ.analyses.psa import run_psa
from ifpp_econ.cli import main
from ifpp_econ.inputs import schema
from ifpp_econ.inputs.reader import read_workbook
from ifpp_econ.inputs.template import write_template
from ifpp_econ.model.scenarios import apply_overrides
from ifpp_econ.outputs import writers
from ifpp_econ.outputs.report import payers_html

CAMHS = {"name": "camhs_in_care", "label": "CAMHS while in care", "value": 300, "unit": "GBP/month/child",
         "price_year": "2023/24", "distribution": "fixed", "source": "test: a finance lead's own figure", "status": "L",
         "payer": "NHS", "applies_to": "month_in_care"}


@pytest.fixture
def template(tmp_path):
    return write_template(tmp_path / "my.xlsx")


def add_row(path, row: dict) -> int:
    """Append a Parameters row (by header) to a workbook; returns its row number."""
    wb = load_workbook(path)
    ws = wb["Parameters"]
    headers = [c.value for c in ws[1]]
    r = ws.max_row + 1
    while all(ws.cell(r - 1, j).value is None for j in range(1, len(headers) + 1)):
        r -= 1
    for key, value in row.items():
        ws.cell(r, headers.index(key) + 1, value)
    wb.save(path)
    return r


def set_cell(path, name: str, column: str, value) -> str:
    """Set one Parameters cell of the row ``name``; returns its reference (e.g. Q12)."""
    wb = load_workbook(path)
    ws = wb["Parameters"]
    headers = [c.value for c in ws[1]]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == name)
    cell = ws.cell(row, headers.index(column) + 1)
    cell.value = value
    wb.save(path)
    return cell.coordinate


def validate(path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, result.output


# -- children's outcomes ------------------------------------------------------------------------------
def test_run_json_outcomes_cover_entries_proceedings_care_and_home_with_their_identities(default_inputs):
    data = run_base_case(default_inputs).to_json()
    rows = {(r["key"], r["basis"]): r for r in data["outcomes"]}
    keys = {k for k, _ in rows}
    assert keys == set(declarations.CHILD_OUTCOMES) and len(keys) >= 5
    assert {"proceedings_issued", "care_months_undiscounted", "living_at_home_5y", "reentries"} <= keys
    cpf = data["children_per_family"]
    for key in keys:
        child, families = rows[key, "per child"], rows[key, "per 100 families referred"]
        for r in (child, families):
            assert r["difference"] == pytest.approx(r["ifpp"] - r["usual_care"], rel=1e-12, abs=1e-15)
            assert r["framework_outcome"] in declarations.FRAMEWORK.values()
        assert families["ifpp"] == pytest.approx(100 * cpf * child["ifpp"], rel=1e-12)
    for arm in ("ifpp", "usual_care"):  # re-entries = all entries − first entries; shares within 0–1
        assert rows["reentries", "per child"][arm] == pytest.approx(
            rows["care_entries_undiscounted", "per child"][arm] - rows["first_placements_undiscounted", "per child"][arm])
        assert 0 <= rows["living_at_home_1y", "per child"][arm] <= 1
    # proceedings issued are what the courts' costs count: undiscounted, HMCTS's cost per child = proceedings × fee
    undiscounted = apply_overrides(default_inputs, {"discount_rate_costs": 0.0, "discount_rate_outcomes": 0.0})
    base = run_base_case(undiscounted)
    fee = undiscounted.parameters.loc["court_cost_proceedings", "value"] * base.spec.price_factors["court_cost_proceedings"]
    court = base.ledger().set_index("payer").loc["HMCTS"]
    counted = {r["key"]: r for r in base.to_json()["outcomes"] if r["basis"] == "per child"}["proceedings_issued"]
    assert court["usual_care"] == pytest.approx(counted["usual_care"] * fee, rel=1e-12)
    assert court["ifpp"] == pytest.approx(counted["ifpp"] * fee, rel=1e-12)
    ratio = data["cost_per_child_year_at_home"]
    assert ratio["incremental_cost_per_child"] == pytest.approx(-data["per_child_savings"], rel=1e-12)
    if ratio["incremental_cost_per_child"] > 0 and ratio["child_years_at_home_gained_per_child"] > 0:
        assert ratio["cost_per_child_year_at_home_gained"] == pytest.approx(
            ratio["incremental_cost_per_child"] / ratio["child_years_at_home_gained_per_child"])
    else:
        assert ratio["cost_per_child_year_at_home_gained"] is None and ratio["reading"]
    assert set(data["outcomes_by_age_band"]) == set(default_inputs.age_bands["band"])
    assert "QALY" in data["outcomes_note"]


def test_ratio_per_child_year_at_home_when_it_is_meaningful():
    from ifpp_econ.analyses.consequences import ratio

    assert ratio(1000.0, 0.5)["cost_per_child_year_at_home_gained"] == pytest.approx(2000.0)
    assert ratio(-1000.0, 0.5)["cost_per_child_year_at_home_gained"] is None  # cheaper and better: no ratio
    assert "dominated" in ratio(1000.0, -0.1)["reading"]


def test_psa_outcomes_have_intervals_reproducible_and_chunk_size_invariant(default_inputs):
    a = run_psa(default_inputs, n=96, seed=11, chunk_size=96).to_json()
    b = run_psa(default_inputs, n=96, seed=11, chunk_size=32).to_json()
    assert a["outcomes"] == b["outcomes"] and a["by_payer"] == b["by_payer"]
    assert len(a["outcomes"]) == 2 * len(declarations.CHILD_OUTCOMES)
    for r in a["outcomes"]:
        assert r["difference_lower"] <= r["difference"] <= r["difference_upper"]
        assert r["difference"] == pytest.approx(r["ifpp"] - r["usual_care"], rel=1e-9, abs=1e-12)
    savings = a["per_child_savings"]["mean"]
    la = sum(r["savings"] for r in a["by_payer"] if r["payer"] == "LA")
    assert la == pytest.approx(savings, rel=1e-9)  # the LA's rows are the local-authority perspective


# -- the payer ledger ----------------------------------------------------------------------------------
def test_ledger_rows_split_the_la_and_sum_to_each_perspective(default_inputs):
    base = run_base_case(default_inputs)
    ledger = base.ledger()
    assert [(r.payer, r.part) for r in ledger.itertuples()] == [("LA", "children's services"), ("LA", "legal"),
                                                                 ("HMCTS", "")]
    data = base.to_json()
    assert ledger["savings"][ledger["payer"] == "LA"].sum() == pytest.approx(
        data["by_perspective"]["local_authority"]["per_child_savings"], rel=1e-12)
    assert ledger["savings"].sum() == pytest.approx(data["by_perspective"]["public_sector"]["per_child_savings"],
                                                    rel=1e-12)
    assert (ledger.loc[ledger["part"] == "legal", "ifpp"] > 0).all()  # LA legal costs of proceedings
    assert ledger["savings"].tolist() == pytest.approx((ledger["usual_care"] - ledger["ifpp"]).tolist())


def test_a_cost_row_added_for_a_new_payer_changes_that_payer_and_nothing_else(template):
    before = run_base_case(read_workbook(template))
    add_row(template, CAMHS)
    inputs = read_workbook(template)
    assert inputs.parameters.loc["camhs_in_care", "applies_to"] == "month_in_care"
    after = run_base_case(inputs)
    old, new = before.ledger().set_index(["payer", "part"]), after.ledger().set_index(["payer", "part"])
    assert list(new.index) == [*old.index, ("NHS", "")]
    pd.testing.assert_frame_equal(new.loc[old.index], old)  # every other payer's row unchanged, exactly
    nhs = new.loc[("NHS", "")]
    months = {k: after.results.outcomes["care_months"][k, 0] for k in range(2)}  # discounted at the outcome rate
    assert default_inputs_rates_equal(inputs)
    k, c = after.results.strategies.index("IFPP"), after.results.strategies.index("Usual care")
    per_month = 300  # GBP/month/child, already in the analysis price year
    assert nhs["usual_care"] == pytest.approx(per_month * months[c], rel=1e-12)
    assert nhs["savings"] == pytest.approx(per_month * (months[c] - months[k]), rel=1e-12) and nhs["savings"] > 0
    # the LA's headline is unchanged; the public sector's gains the NHS row
    b, a = before.to_json(), after.to_json()
    assert a["per_child_savings"] == b["per_child_savings"]
    assert a["by_perspective"]["public_sector"]["per_child_savings"] == pytest.approx(
        b["by_perspective"]["public_sector"]["per_child_savings"] + nhs["savings"], rel=1e-12)
    # and it appears in the report's ledger
    html = payers_html(writers.base_case_tables(after), {}, after.spec.perspective)
    row = "<td class=t>NHS</td>"
    assert row in html and row not in payers_html(writers.base_case_tables(before), {}, before.spec.perspective)


def default_inputs_rates_equal(inputs) -> bool:
    """The test above reads the cost's months from the outcome totals: both discounted at the same rate."""
    return inputs.settings["discount_rate_costs"] == inputs.settings["discount_rate_outcomes"]


@pytest.mark.parametrize("applies_to, unit, value, per", [
    ("care_entry", "GBP/episode/child", 1000, "care_entries"),
    ("referral", "GBP/episode/family", 600, None),
    ("proceedings", "GBP/episode/family", 2000, "proceedings_issued"),
    ("month_at_home_after_return", "GBP/week/child", 50, None),
])
def test_each_kind_of_added_row_is_costed_per_what_it_applies_to(template, applies_to, unit, value, per):
    add_row(template, {**CAMHS, "name": f"added_{applies_to}", "applies_to": applies_to, "unit": unit, "value": value,
                       "payer": "education"})
    base = run_base_case(read_workbook(template))
    row = base.ledger().set_index("payer").loc["education"]
    o, cpf = base.results.outcomes, base.children_per_family
    k, c = base.results.strategies.index("IFPP"), base.results.strategies.index("Usual care")
    if applies_to == "referral":  # once at referral, both strategies: no saving
        assert row["ifpp"] == row["usual_care"] == pytest.approx(value / cpf) and row["savings"] == 0
    elif applies_to == "care_entry":  # discounted entries
        assert row["usual_care"] == pytest.approx(value * o["care_entries"][c, 0], rel=1e-12)
    elif applies_to == "proceedings":  # per proceedings issued: undiscounted, the count × the value
        undiscounted = run_base_case(apply_overrides(read_workbook(template), {"discount_rate_costs": 0.0,
                                                                               "discount_rate_outcomes": 0.0}))
        row0 = undiscounted.ledger().set_index("payer").loc["education"]
        o0 = undiscounted.results.outcomes
        assert row0["usual_care"] == pytest.approx(value * o0["proceedings_issued"][c, 0], rel=1e-12)
        assert row0["ifpp"] == pytest.approx(value * o0["proceedings_issued"][k, 0], rel=1e-12)
    else:  # months at home after a return: cheaper with fewer returns, but positive under both
        assert row["ifpp"] > 0 and row["usual_care"] > 0
    assert o["cost_public_sector"][c, 0] - o["cost_public_sector"][k, 0] == pytest.approx(
        base.ledger()["savings"].sum(), rel=1e-12)


@pytest.mark.parametrize("edit, where, message", [
    ({"payer": "DWP"}, "payer", "found 'DWP'; allowed: LA, HMCTS, NHS, education, police/youth justice, other"),
    ({"applies_to": "per_hour"}, "applies_to", "found 'per_hour'; allowed: month_in_care, care_entry"),
    ({"unit": "GBP/episode/child"}, "unit", "allowed for camhs_in_care: GBP/week/child"),
    ({"cashable_share": 1.5}, "cashable_share", "found 1.5; allowed: a share from 0 to 1"),
    ({"cashable_lag_months": -3}, "cashable_lag_months", "found -3; allowed: months from 0 to 216"),
    ({"price_year": None}, "price_year", "empty; a cost needs its price year"),
    ({"name": "camhs:care"}, "name", "without ':'"),
])
def test_a_bad_added_row_is_named_at_its_cell_and_exits_2(template, edit, where, message):
    row = add_row(template, {**CAMHS, **edit})
    headers = [c.value for c in load_workbook(template)["Parameters"][1]]
    cell = f"Parameters!{chr(ord('A') + headers.index(where))}{row}"
    code, output = validate(template)
    assert code == 2 and "Traceback" not in output
    assert f"{template.name}: {cell}: " in output and message in output, output


def test_applies_to_on_a_built_in_row_and_a_share_on_a_non_cost_are_refused(template):
    at = set_cell(template, "cost_ifa", "applies_to", "month_in_care")
    share = set_cell(template, "rr_12m", "cashable_share", 0.5)
    code, output = validate(template)
    assert code == 2
    assert f"Parameters!{at}: found 'month_in_care' on the built-in row cost_ifa" in output
    assert f"Parameters!{share}: found 0.5 on rr_12m, which is not a cost" in output


def test_default_workbook_adds_no_cost_rows_and_every_cost_has_a_reasoned_cashable_share(default_inputs):
    p = default_inputs.parameters
    assert set(p.index) == {r["name"] for r in schema.PARAMETERS} | set(p.index[p.index.str.contains(":")])
    assert p["applies_to"].isna().all()
    for name, (share, reason) in schema.CASHABLE.items():
        assert p.loc[name, "cashable_share"] == share and p.loc[name, "cashable_lag_months"] == 0
        assert reason in p.loc[name, "notes"] and p.loc[name, "unit"].startswith("GBP")
    spot = {f"cost_{t}" for t in ("ifa", "residential", "secure", "semi_independent")}
    assert all(schema.CASHABLE[n][0] == 1 for n in spot)  # spot purchases cashable
    assert schema.CASHABLE["cost_la_foster"][0] == 0 and schema.CASHABLE["case_support_cost"][0] == 0  # capacity
    assert schema.CASHABLE["court_cost_proceedings"][0] == 0  # court costs are not LA cash


# -- cashable and notional savings ----------------------------------------------------------------------
def test_cashable_and_notional_savings_sum_to_costs_avoided_with_some_notional(default_inputs):
    result = run_budget(default_inputs, iterations=0)
    table = result.table()
    assert np.allclose(table["cashable_savings"] + table["notional_savings"], table["costs_avoided"], rtol=1e-12,
                       atol=1e-6)
    assert (table["notional_savings"] > 0).any() and (table["cashable_savings"] > 0).any()
    data = result.to_json()
    for r in data["by_year"]:
        assert r["cashable_savings"] + r["notional_savings"] == pytest.approx(r["costs_avoided"], rel=1e-12)
    cash = np.cumsum(table["cashable_savings"] - table["programme_spend"])
    assert data["payback_year_cash"] == next((int(y) for y, v in zip(table["year"], cash) if v >= 0), None)
    assert data["payback_year_cash"] is None or data["payback_year_cash"] >= data["payback_year"]
    assert [r["payer"] for r in data["by_payer"]] == ["LA", "LA", "HMCTS"]
    la = sum(r["savings"] for r in data["by_payer"] if r["payer"] == "LA")
    assert la == pytest.approx(data["net_saving"], rel=1e-12)  # LA perspective: the LA's rows are the budget


def test_all_savings_cashable_reproduces_the_budget_with_every_saving_cash(default_inputs):
    default = run_budget(default_inputs, iterations=0).table()
    everything = run_budget(apply_overrides(default_inputs, {"all_savings_cashable": "yes"}), iterations=0).table()
    split = ["cashable_savings", "notional_savings", "cumulative_cash_net_saving"]
    pd.testing.assert_frame_equal(everything.drop(columns=split), default.drop(columns=split))  # exactly
    assert (everything["notional_savings"] == 0).all()
    assert np.allclose(everything["cashable_savings"], everything["costs_avoided"], rtol=1e-12, atol=1e-6)
    assert np.allclose(everything["cumulative_cash_net_saving"], everything["cumulative_net_saving"], rtol=1e-12,
                       atol=1e-6)


def test_a_lag_moves_cash_later_and_keeps_the_sum(default_inputs):
    params = default_inputs.parameters.copy()
    params.loc["cost_residential", "cashable_lag_months"] = 24.0
    lagged = run_budget(dataclasses.replace(default_inputs, parameters=params), iterations=0).table()
    default = run_budget(default_inputs, iterations=0).table()
    assert np.allclose(lagged["cashable_savings"] + lagged["notional_savings"], lagged["costs_avoided"], rtol=1e-12,
                       atol=1e-6)
    assert (lagged["cashable_savings"][:2] < default["cashable_savings"][:2]).all()  # years 1–2: not yet cash
    assert np.allclose(lagged["cashable_savings"][2:], default["cashable_savings"][2:], rtol=1e-12)
    pd.testing.assert_series_equal(lagged["costs_avoided"], default["costs_avoided"])


def test_an_added_rows_cashable_share_splits_its_budget_savings(template):
    add_row(template, {**CAMHS, "payer": "LA", "cashable_share": 1.0})
    inputs = read_workbook(template)
    with_row = run_budget(inputs, iterations=0).table()
    params = inputs.parameters.copy()
    params.loc["camhs_in_care", "cashable_share"] = 0.0
    notional = run_budget(dataclasses.replace(inputs, parameters=params), iterations=0).table()
    moved = with_row["cashable_savings"] - notional["cashable_savings"]
    assert (moved > 0).all()
    assert np.allclose(moved, notional["notional_savings"] - with_row["notional_savings"], rtol=1e-9)
    assert "Added cost rows: IFPP" in with_row.columns and (with_row["Added cost rows: IFPP"] > 0).all()


def test_budget_console_states_cash_savings_and_its_basis_once(default_inputs):
    from ifpp_econ.model.spec import build_spec
    from ifpp_econ.outputs import presentation

    summary = run_budget(default_inputs, iterations=0).to_json()
    spec = build_spec(default_inputs)
    conventions = presentation.budget_basis(spec.price_year, spec.describe_conventions())  # what the command passes
    text = writers.format_budget(summary, conventions, spec.price_year)
    assert text.count("undiscounted cash, 2023/24 prices") == 2  # the heading and the footer, once each
    assert text.count("families referred evenly") == 1
    assert "cashable" in text and "on cash alone" in text and "LA: legal" in text


@pytest.mark.slow
def test_an_added_payer_reaches_run_json_the_report_and_results_xlsx(template, tmp_path):
    import json

    add_row(template, CAMHS)
    run = CliRunner().invoke(main, ["run", str(template), "--json", "--out", str(tmp_path / "run")])
    assert run.exit_code == 0, run.output
    data = json.loads(run.output)
    assert [r["payer"] for r in data["by_payer"]] == ["LA", "LA", "HMCTS", "NHS"]
    report = CliRunner().invoke(main, ["report", str(template), "-n", "50", "--out", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    assert "<td class=t>NHS</td>" in (tmp_path / "report" / "report.html").read_text()
    sheet = load_workbook(tmp_path / "report" / "results.xlsx")["Outcomes and who pays"]
    assert "NHS" in [c.value for row in sheet.iter_rows() for c in row]


def test_psa_keeps_one_copy_of_what_it_can_derive(default_inputs):
    """Memory (a million iterations: 16 MB an outcome): the perspective's cost is "cost" itself, re-entries and two
    ledger rows are derived, and each derived figure equals the model's own."""
    from ifpp_econ.model.family_states import PAYER_PREFIX, run_model
    from ifpp_econ.model.spec import build_spec

    psa = run_psa(default_inputs, n=64, seed=3, keep_draws=True)
    assert psa.outcomes["cost"] is psa.outcomes["cost_local_authority"]
    assert "reentries" not in psa.outcomes and PAYER_PREFIX + "HMCTS" not in psa.outcomes
    model = run_model(psa.draws, build_spec(default_inputs))
    assert np.array_equal(model.outcomes["cost"], model.outcomes["cost_local_authority"])
    from ifpp_econ.analyses import ledger
    for row in ledger.rows(model.outcomes):
        assert np.allclose(ledger.values(psa.outcomes, row), model.outcomes[PAYER_PREFIX + row], rtol=1e-12, atol=1e-9)
    rows = {(r["key"], r["basis"]): r for r in psa.to_json()["outcomes"]}
    derived = model.outcomes["reentries"]
    assert rows["reentries", "per child"]["usual_care"] == pytest.approx(
        derived[psa.strategies.index("Usual care")].mean(), rel=1e-12)
