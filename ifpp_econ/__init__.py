"""ifpp-econ: cost-effectiveness of Intensive Family Preservation Programmes.

The public API (``import ifpp_econ as ie``), loaded on first use so that the command line starts fast::

    inputs = ie.read_workbook("my.xlsx")        # or ie.default_workbook()
    base = ie.run_base_case(inputs)            # BaseCase: .summary(), .incremental(), .to_json(), .trace_table()
    psa = ie.run_psa(inputs)                   # PSAResult: n and seed from the workbook unless given; .ceac(),
                                               #   .evpi(population=True), .evppi(), .samples()
    voi = ie.run_voi(psa)                      # VOIResult: EVPI per child and population, EVPPI
    dsa = ie.run_dsa(inputs)                   # DSAResult: tornado, thresholds, two-way grid, scenarios
    budget = ie.run_budget(inputs, psa=psa)    # BudgetResult: by year, both perspectives, PSA intervals
    region = ie.run_rollup([a, b, c])          # RollupResult: authorities with a shared pooled effect, totals
    ie.calibrate_workbook(["episodes.csv"], out="local.xlsx")  # local care dynamics from SSDA903 returns

The cohort engine (``ie.simulate``, ``ie.Conventions``, ``ie.Reward``) runs any Markov cohort model.
"""

__version__ = "0.1.0"

_API = {
    "read_workbook": "inputs.reader", "write_template": "inputs.template", "Inputs": "inputs.container",
    "Settings": "inputs.container", "WorkbookError": "exceptions", "IfppError": "exceptions",
    "run_base_case": "analyses.deterministic", "run_psa": "analyses.psa", "run_dsa": "analyses.dsa",
    "run_budget": "analyses.budget", "run_voi": "analyses.voi", "budget_impact": "analyses.budget",
    "operational_validation": "analyses.validation", "run_all": "pipeline", "Results": "pipeline",
    "calibrate_workbook": "pipeline", "run_rollup": "analyses.rollup", "Authority": "analyses.rollup",
    "simulate": "engine", "Conventions": "engine", "Reward": "engine", "Edges": "engine",
}
__all__ = [*_API, "default_workbook", "__version__"]


def default_workbook():
    """Path of the bundled default parameter workbook."""
    from importlib.resources import files
    from pathlib import Path

    return Path(str(files("ifpp_econ") / "data" / "default.xlsx"))


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'ifpp_econ' has no attribute {name!r}")
