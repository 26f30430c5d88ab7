"""`validate` OK implies no command exits 1: every command, run in-process over the hostile corpus and over
valid-but-unusual workbooks, exits 0 or 2 (never 1), and exits 2 only where validate also fails."""
import pytest
from hostile_corpus import CASE_NAMES, _edited, _row, build_corpus
from mutations import check_commands

from ifpp_econ.inputs import schema

SETTING_ROW = {name: i for i, (name, *_rest) in enumerate(schema.SETTINGS, start=2)}
PARAM_COL = {c: chr(ord("A") + i) for i, c in enumerate(schema.COLUMNS["Parameters"])}


def settings(**values):
    def edit(wb):
        for name, value in values.items():
            wb["Settings"][f"B{SETTING_ROW[name]}"] = value
    return edit


def all_fixed(wb):
    ws = wb["Parameters"]
    for p in schema.PARAMETERS:
        ws[f"{PARAM_COL['distribution']}{_row(p['name'])}"] = "fixed"
    settings(placement_mix_effective_n=0, age_mix_effective_n=0)(wb)


def three_strategies(wb):
    wb["Strategies"].append(["IFPP bottom-up", "costed from team FTE", "yes", "bottom_up", 1.25, ""])


def zero_share_band(wb):
    ws = wb["Age bands"]
    ws["C2"], ws["C3"], ws["C4"] = 0, 0.6, 0.4


def extremes(wb):
    settings(horizon_years=0.0833, within_cycle_correction="simpson", after_effect="catch_up", catch_up_months=1,
             budget_years=1, decision_years=1, wtp_min=0, wtp_max=1e9, wtp_step=5e6, la_referrals_per_year=0,
             psa_structural="model_averaged", weight_no_effect=1)(wb)


UNUSUAL = {
    "three_strategies.xlsx": three_strategies,
    "zero_share_band.xlsx": zero_share_band,
    "all_fixed.xlsx": all_fixed,
    "window_rrs.xlsx": settings(effect_model="window_rrs", after_effect="gap_persists"),
    "family_rr_public_sector.xlsx": settings(effect_model="family_rr", perspective="public_sector"),
    "zero_discount.xlsx": settings(discount_rate_costs=0, discount_rate_outcomes=0, within_cycle_correction="none-end"),
    "extremes.xlsx": extremes,
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(UNUSUAL))
def test_unusual_valid_workbook_passes_every_command(name, tmp_path):
    workbook = _edited(tmp_path, name, UNUSUAL[name])
    breaches = check_commands(workbook, tmp_path)
    assert breaches == [], breaches
    from click.testing import CliRunner

    from ifpp_econ.cli import main

    assert CliRunner().invoke(main, ["validate", str(workbook)]).exit_code == 0  # these are valid workbooks


@pytest.mark.slow
@pytest.mark.parametrize("name", CASE_NAMES)
def test_hostile_workbook_gives_exit_2_from_every_command(corpus, name, tmp_path):
    path, _ = corpus[name]
    breaches = [b for b in check_commands(path, tmp_path)  # a whole-file problem names the file, not a sheet
                if "message names no file and sheet" not in b or name not in b]
    assert breaches == [], breaches
