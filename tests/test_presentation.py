"""The presentation vocabulary: one label, unit and format per output column, used by report, xlsx and console."""
import numpy as np
import pandas as pd
import pytest

from ifpp_econ.outputs import presentation as P


def test_money_percent_and_numbers_never_use_exponents():
    assert P.gbp(32217.72935) == "£32,218" and P.gbp(-1724.14) == "−£1,724" and P.gbp(-0.2) == "£0"
    assert P.number(9.2245505e-05) == "0.00009225" and P.number(1e-06) == "0.000001"
    assert P.number(2367286.4, 0) == "2,367,286" and P.number(-0.5, 2) == "−0.50"
    for v in (1e-9, 3.2e12, -4.5e-7, 123456789.0):
        assert "e" not in P.number(v).lower()
    col = P.column("living_at_home_1y")
    assert P.format_value(0.7600672, col) == "76.0%"


def test_estimated_probabilities_never_show_certainty():
    assert P.probability(1.0) == "> 99.9%" and P.probability(0.0) == "< 0.1%" and P.probability(0.5) == "50.0%"
    assert P.format_value(1.0, P.column("prob_cost_saving")) == "> 99.9%"


def test_missing_values_are_a_dash_with_a_footnote():
    df = pd.DataFrame({"strategy": ["IFPP"], "cost_per_placement_avoided": [np.nan], "dominance": ["IFPP dominant"]})
    headers, texts, _, notes = P.display_table(df, "incremental")
    assert texts[0][1] == "—" and "None" not in texts[0] and headers[1] == "Cost per placement avoided (£)"
    assert len(notes) == 1 and "dominates" in notes[0]


def test_unknown_columns_still_render_and_are_never_guessed_from_their_names():
    df = pd.DataFrame({"new_cost_measure": [1234.6], "new_share_of_x": [0.25], "brand_new": [0.000123],
                       "flag": ["yes"]})
    headers, texts, cols, _ = P.display_table(df, "some_new_table")
    assert headers[0] == "New cost measure" and texts[0][:3] == ["1,235", "0.25", "0.000123"]  # plain numbers
    assert cols[0][3].kind == "text"
    budget = pd.DataFrame({"Placements: IFPP": [1234.6]})  # a table that declares its undeclared columns' kind
    assert P.display_table(budget, "budget_by_year")[:2] == (["Placements: IFPP (£)"], [["£1,235"]])
    assert all(P.excel_format(c, v) != "General" for c, v in zip(cols[0], df.iloc[0]))


def test_row_keyed_and_parameter_valued_tables_take_each_rows_unit():
    psa = pd.DataFrame({"metric": ["per_child_savings", "placements_avoided_per_child", "prob_cost_saving"],
                        "mean": [28794.9, 0.1434, 1.0], "lower": [11529.8, 0.0806, np.nan], "upper": [55679.0, 0.21, np.nan]})
    _, texts, _, _ = P.display_table(psa, "psa_incremental")
    assert texts[0] == ["Savings per child", "£28,795", "£11,530", "£55,679"]
    assert texts[1][1] == "0.1434" and texts[2][1] == "> 99.9%"
    tornado = pd.DataFrame({"parameter": ["cost_residential", "rr_12m"], "low": [3830.0, 0.48], "high": [6106.0, 0.76],
                            "outcome_low": [1.0, 2.0], "outcome_high": [3.0, 4.0], "swing": [2.0, 2.0]})
    context = {"units": {"cost_residential": "GBP/week/child", "rr_12m": "relative risk"}, "dsa_outcome": "placements"}
    headers, texts, _, _ = P.display_table(tornado, "tornado", context)
    assert texts[0][1] == "£3,830" and texts[1][1] == "0.48" and texts[0][3] == "1.0000"
    assert "£" not in headers[3]


def test_data_dictionary_lists_every_column():
    tables = {"incremental": pd.DataFrame({"strategy": ["IFPP"], "per_child_savings": [1.0]}),
              "ceac": pd.DataFrame({"wtp": [0.0], "IFPP": [1.0]})}
    dd = P.data_dictionary(tables)
    assert list(dd["table"]) == ["incremental.csv", "incremental.csv", "ceac.csv", "ceac.csv"]
    assert dd.set_index("column").loc["IFPP", "format"] == "prob"


@pytest.mark.parametrize("n, warned", [(1, True), (999, True), (1000, False)])
def test_small_psa_warning(n, warned):
    assert bool(P.small_sample_warning(n)) is warned


def test_charts_never_read_workbook_text_as_mathtext_and_use_one_minus_sign():
    from ifpp_econ.outputs import charts

    table = pd.DataFrame({"parameter": ["a", "b"], "label": ["Cost $5,000 $x^2$ per family", "Plain"],
                          "low": [1.0, 2.0], "high": [3.0, 4.0], "outcome_low": [-100.0, 50.0],
                          "outcome_high": [200.0, 80.0], "swing": [300.0, 30.0]})
    fig = charts.tornado_chart(table, 20.0, "Per-child savings (GBP)")
    fig.canvas.draw()  # would raise on broken mathtext
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert any("$5,000 $x^2$" in label.replace("\n", " ") for label in labels)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert any(t.startswith("−£") for t in ticks) and not any(t.startswith("-") for t in ticks)
    charts.plt.close(fig)
