"""One pipeline: workbook inputs → analyses → results → run folder, for every command.

:func:`run_all` computes the analyses a command asks for and returns them as plain result objects
(:class:`Results`). It is handed an ordinary :class:`concurrent.futures.Executor` for the analyses that do not
need the PSA (DSA, budget, the model-averaged PSA): :class:`~ifpp_econ.executors.Serial` by default, a forked
:class:`~ifpp_econ.executors.Worker` when the command line passes one, Dask's executor for a cluster. Every number
is the same wherever it is computed. ``on_result(name, results)`` is told as each result is ready (``results``:
the :class:`Results` so far), so that its tables and charts can be written while the next is computed.

The command functions (:func:`run`, :func:`psa`, :func:`dsa`, :func:`budget`, :func:`report`) compute, write the
tables (:mod:`ifpp_econ.outputs.writers`), have each result's charts drawn (:mod:`ifpp_econ.outputs.figures`,
:class:`ifpp_econ.outputs.render.Charts`) and commit the run folder; each returns an :class:`Outcome` — what the
command line prints.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import executors

ANALYSES = ("base", "psa", "voi", "evsi", "averaged", "dsa", "budget")
ONE_THREAD_BELOW = 100_000  # iterations: with two busy workers beside it, the report's own PSA runs on one thread


@dataclass
class Results:
    """The results of one run of the pipeline (None where not asked for): the deterministic base case, the PSA and
    its value of information (and the value of sample information of a trial, when asked), the model-averaged PSA
    (structural uncertainty, beside the default), the DSA and the budget impact."""

    inputs: Any
    base: Any = None
    psa: Any = None
    voi: Any = None
    evsi: Any = None
    averaged: Any = None
    dsa: Any = None
    budget: Any = None
    beside: Any = None  # the other PSA (model-averaged or default) and the τ table, from the PSA's draws
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Outcome:
    """What a command prints: ``data`` (its ``--json``), ``text`` (its console summary) and the run ``folder``."""

    data: dict
    text: str
    folder: Path
    price_year: str | None = None


def trial_sizes(inputs, given=None) -> list[int]:
    """The EVSI's trial sizes (families per arm): ``given``, else the workbook's ``evsi_sample_sizes`` (none: no EVSI)."""
    return list(inputs.settings.get("evsi_sample_sizes") or [] if given is None else given)


def run_all(inputs, n: int | None = None, seed: int | None = None, *, analyses=ANALYSES, executor: Executor | None = None,
            on_result: Callable[[str, Results], None] | None = None, progress=None, stage=None,
            psa_options: dict | None = None, dsa_options: dict | None = None, budget_options: dict | None = None,
            evsi_sizes=None) -> Results:
    """The analyses named in ``analyses`` (of :data:`ANALYSES`), in the order base, PSA, VOI, model-averaged PSA,
    DSA, budget; DSA, budget and the model-averaged PSA go to ``executor`` first and are collected last.

    ``n``/``seed``: PSA iterations and seed (default: the workbook's); ``psa_options``: further arguments of
    :func:`~ifpp_econ.analyses.psa.run_psa` (``keep_draws``, ``chunk_size``, ``structural``, ``workers``);
    ``dsa_options``/``budget_options``: of ``run_dsa``/``run_budget``; ``evsi_sizes``: the trial sizes (families per
    arm) of the EVSI (default: the workbook's ``evsi_sample_sizes``; none: no EVSI); ``progress(done, total)`` follows the PSA;
    ``stage(message)`` is told as each stage starts.
    """
    from .analyses.budget import run_budget
    from .analyses.deterministic import run_base_case
    from .analyses.dsa import run_dsa
    from .analyses.evsi import run_evsi
    from .analyses.psa import run_psa
    from .analyses.structural import beside_psa
    from .analyses.validation import operational_validation
    from .analyses.voi import run_voi
    from .engine import threads
    from .model.family_states import load_kernels

    executor = executor or executors.Serial()
    wanted = set(analyses)
    n = int(inputs.settings["psa_iterations"] if n is None else n)
    seed = int(inputs.settings["psa_seed"] if seed is None else seed)
    results = Results(inputs)
    tell = stage or (lambda message: None)
    def emit(name: str) -> None:
        if on_result is not None:
            on_result(name, results)

    clock: dict[str, Any] = {"name": "", "start": time.perf_counter()}

    def begin(message: str) -> None:
        now = time.perf_counter()
        if clock["name"]:
            results.seconds[clock["name"]] = round(now - clock["start"], 3)
        clock.update(name=message.split(",")[0], start=now)
        if message:
            tell(message)

    if isinstance(executor, executors.Worker) and not executor.parallel and wanted & {"averaged", "dsa", "budget"}:
        load_kernels(inputs)  # here, once: the worker, forked by the first submit below, inherits the loaded kernel
    futures: dict[str, Future] = {}
    if "dsa" in wanted:
        futures["dsa"] = executor.submit(run_dsa, inputs, **(dsa_options or {}))
    if "budget" in wanted:
        futures["budget"] = executor.submit(run_budget, inputs, **{"iterations": min(n, 1000), "seed": seed,
                                                                   **(budget_options or {})})
    if "base" in wanted:
        begin("base case")
        results.base = run_base_case(inputs)
        results.base.validation = operational_validation(inputs)
        emit("base")
    if "averaged" in wanted:
        futures["averaged"] = executor.submit(run_psa, inputs, n, seed, structural="model_averaged", base=results.base)
    if "psa" in wanted:
        begin(f"PSA sampling and model, {n:,} iterations")
        results.psa = run_psa(inputs, n, seed, progress=progress, base=results.base, **(psa_options or {}))
        emit("psa")
        if "voi" in wanted:
            begin("PSA tables, EVPI/EVPPI and charts, and structural uncertainty beside the PSA")
            with ThreadPoolExecutor(1, thread_name_prefix="beside") as side:  # beside EVPPI: ≈ 0.2 s less wall time
                beside = side.submit(threads.on_one_thread, beside_psa, results.psa, inputs)
                results.voi = run_voi(results.psa, evppi=(psa_options or {}).get("keep_draws", True) != 0)
                results.beside = beside.result()
            results.seconds["structural uncertainty beside the PSA"] = round(results.beside.seconds, 3)
            emit("voi")
        sizes = trial_sizes(inputs, evsi_sizes)
        if "evsi" in wanted and sizes:
            begin(f"EVSI of a trial of {', '.join(f'{s:,}' for s in sizes)} families per arm")
            results.evsi = run_evsi(results.psa, inputs, sizes)
            emit("evsi")
    for name, message in (("averaged", "model-averaged PSA (structural uncertainty)"),
                          ("dsa", "one-way, break-even, two-way and scenario analyses"), ("budget", "budget impact")):
        if name in futures:
            begin(message)
            setattr(results, name, executors.result(executor, futures[name]))
            emit(name)
    begin("")
    return results


# -- the commands -----------------------------------------------------------------------------------------------------------
def _charts(folder, executor: Executor | None):
    from .outputs.render import Charts

    return Charts(folder.path, executor)


def run(inputs, out=None, force: bool = False, charts_executor: Executor | None = None) -> Outcome:
    """``ifpp-econ run``: the deterministic base case, its tables, the cohort trace."""
    from .outputs import figures, writers
    from .outputs.run_folder import RunFolder

    with RunFolder("run", out, force, protect=[inputs.path]) as folder, _charts(folder, charts_executor) as charts:
        results = run_all(inputs, analyses=("base",))
        folder.time("model_seconds", results.seconds.get("base case", 0.0))
        writers.write_base_case(folder, results.base, inputs)
        charts.draw(figures.base_case(results.base))
        dest = folder.commit(inputs, settings={}, files=charts.wait)
    return Outcome(results.base.to_json(), writers.format_base_case(results.base), dest, results.base.spec.price_year)


def psa(inputs, n: int | None = None, seed: int | None = None, out=None, force: bool = False, *,
        chunk_size: int | None = None, save_iterations: bool = False, evppi: bool = True, structural: str | None = None,
        workers: int | None = None, evsi_sizes=None, progress=None, charts_executor: Executor | None = None) -> Outcome:
    """``ifpp-econ psa``: the PSA, its value of information, tables and charts; with ``evsi_sizes`` (families per
    arm; default the workbook's ``evsi_sample_sizes``) the value of sample information of a trial."""
    from .model.spec import build_spec
    from .outputs import figures, presentation, writers
    from .outputs.run_folder import RunFolder

    n = int(inputs.settings["psa_iterations"] if n is None else n)
    seed = int(inputs.settings["psa_seed"] if seed is None else seed)
    conventions = build_spec(inputs).describe_conventions()
    sizes = trial_sizes(inputs, evsi_sizes)
    keep = 20_000 if evppi or sizes else 0  # draws for EVPPI and EVSI; --save-iterations streams every one to disk
    with RunFolder("psa", out, force, protect=[inputs.path]) as folder, _charts(folder, charts_executor) as charts, \
            contextlib.ExitStack() as stack:
        extra: dict = {}
        sink = None
        if save_iterations:
            sink = writers.IterationsFile(folder, build_spec(inputs).strategy_names)
            stack.callback(sink.close)

        def write(name: str, results: Results) -> None:
            if name == "psa":  # its charts are drawn while EVPPI is computed
                charts.draw(figures.psa(results.psa))
            elif name == "voi":  # charts first: drawn while the tables are written
                charts.draw(figures.value_of_information(results.voi, inputs))
                extra.update(writers.write_psa(folder, results.psa, inputs, conventions, save_iterations, results.voi,
                                               results.beside))
            elif name == "evsi":
                charts.draw(figures.evsi(results.evsi))
                extra.update(writers.write_evsi(folder, results.evsi))

        results = run_all(inputs, n, seed, analyses=("psa", "voi", "evsi"), progress=progress, on_result=write,
                          psa_options={"keep_draws": keep, "chunk_size": chunk_size, "structural": structural,
                                       "workers": workers, "on_chunk": sink}, evsi_sizes=sizes)
        stack.close()  # iterations.csv.gz complete before the folder is committed
        result = results.psa
        folder.time("writing_seconds", results.seconds.get("PSA tables", 0.0))  # EVPPI, tables and charts
        folder.time("beside_seconds", results.seconds.get("structural uncertainty beside the PSA", 0.0))
        dest = folder.commit(inputs, settings={"iterations": n, "seed": seed, "chunk_size": result.chunk_size,
                                               "structural": structural or inputs.settings.get("psa_structural"),
                                               "evsi_sample_sizes": sizes},
                             files=charts.wait)
    warnings = [w for w in [presentation.small_sample_warning(n)] if w]
    data = {**result.to_json(), **extra, "conventions": writers.psa_conventions(conventions, result), "warnings": warnings}
    text = writers.format_psa(result, conventions, results.beside)
    if results.evsi is not None:
        text += "\n" + writers.format_evsi(results.evsi)
    return Outcome(data, text, dest, build_spec(inputs).price_year)


def dsa(inputs, outcome: str = "savings", wtp: float | None = None, top: int = 15, out=None, force: bool = False,
        charts_executor: Executor | None = None) -> Outcome:
    """``ifpp-econ dsa``: tornado, break-even thresholds, two-way grid and scenarios."""
    from .model.spec import build_spec
    from .outputs import figures, writers
    from .outputs.run_folder import RunFolder

    spec = build_spec(inputs)
    with RunFolder("dsa", out, force, protect=[inputs.path]) as folder, _charts(folder, charts_executor) as charts:
        started = time.perf_counter()
        results = run_all(inputs, analyses=("dsa",), dsa_options={"outcome": outcome, "wtp": wtp})
        summary = writers.write_dsa(folder, results.dsa, inputs, top)
        charts.draw(figures.dsa(results.dsa, inputs, top))
        folder.time("analysis_seconds", time.perf_counter() - started)
        dest = folder.commit(inputs, settings={"outcome": outcome, "wtp": summary["wtp"], "top": top},
                             files=charts.wait)
    conventions = spec.describe_conventions()
    return Outcome({**summary, "conventions": conventions}, writers.format_dsa(summary, conventions=conventions), dest,
                   spec.price_year)


def budget(inputs, years: int | None = None, referrals: float | None = None, iterations: int = 1000,
           seed: int | None = None, out=None, force: bool = False, charts_executor: Executor | None = None) -> Outcome:
    """``ifpp-econ budget``: undiscounted spend and savings by year for one local authority."""
    from .model.spec import build_spec
    from .outputs import figures, presentation, writers
    from .outputs.run_folder import RunFolder

    spec = build_spec(inputs)
    seed = int(inputs.settings["psa_seed"] if seed is None else seed)
    with RunFolder("budget", out, force, protect=[inputs.path]) as folder, _charts(folder, charts_executor) as charts:
        results = run_all(inputs, analyses=("budget",), budget_options={"years": years, "families_per_year": referrals,
                                                                          "iterations": iterations, "seed": seed})
        summary = writers.write_budget(folder, results.budget, inputs)
        charts.draw(figures.budget(results.budget))
        dest = folder.commit(inputs, settings={"years": summary["years"], "referrals": summary["families_per_year"],
                                               "iterations": iterations, "seed": seed}, files=charts.wait)
    conventions = folder.manifest["budget"]["conventions"]
    warnings = [w for w in [presentation.small_sample_warning(iterations) if iterations else ""] if w]
    data = {**summary, "conventions": conventions, "warnings": warnings,
            "price_basis": "undiscounted cash at the analysis year's prices"}
    return Outcome(data, writers.format_budget(summary, conventions, spec.price_year), dest, spec.price_year)


def report(inputs, n: int | None = None, seed: int | None = None, out=None, force: bool = False, *, progress=None,
           stage=None, charts_executor: Executor | None = None, compute_executor: Executor | None = None) -> Outcome:
    """``ifpp-econ report``: every analysis, tables, charts, ``report.html`` and ``results.xlsx``.

    With two workers busy beside it (``charts_executor``, ``compute_executor``) and fewer than
    :data:`ONE_THREAD_BELOW` iterations, this process computes its PSA on one thread: a second one would only compete
    with the workers for two cores (measured: slower). Results do not depend on it.
    """
    from .engine import threads
    from .model.spec import build_spec
    from .outputs import figures, presentation, writers
    from .outputs import report as html_report
    from .outputs.run_folder import RunFolder

    n = int(inputs.settings["psa_iterations"] if n is None else n)
    seed = int(inputs.settings["psa_seed"] if seed is None else seed)
    compute = compute_executor or executors.Serial()
    busy = isinstance(compute, executors.Worker) and isinstance(charts_executor, executors.Worker)
    previous = threads.set_workers(1) if busy and n < ONE_THREAD_BELOW else None
    try:
        with RunFolder("report", out, force, protect=[inputs.path]) as folder, _charts(folder, charts_executor) as charts:
            charts.draw(figures.model_diagram())
            conventions = build_spec(inputs).describe_conventions()
            written: dict = {}

            def write(name: str, results: Results) -> None:
                if name == "base":
                    writers.write_base_case(folder, results.base, inputs)
                    charts.draw(figures.base_case(results.base))
                elif name == "psa":
                    charts.draw(figures.psa(results.psa))  # drawn while EVPPI is computed
                elif name == "voi":  # each stage's charts first: drawn while its tables are written
                    charts.draw(figures.value_of_information(results.voi, inputs))
                    writers.write_psa(folder, results.psa, inputs, conventions, voi=results.voi, beside=results.beside)
                elif name == "evsi":
                    charts.draw(figures.evsi(results.evsi))
                    writers.write_evsi(folder, results.evsi)
                elif name == "dsa":
                    charts.draw(figures.dsa(results.dsa, inputs))
                    written["dsa"] = writers.write_dsa(folder, results.dsa, inputs)
                elif name == "budget":
                    charts.draw(figures.budget(results.budget))
                    written["budget"] = writers.write_budget(folder, results.budget, inputs)

            results = run_all(inputs, n, seed, executor=compute, on_result=write, progress=progress, stage=stage,
                              psa_options={"keep_draws": min(n, 20_000)})
            folder.timings.update({f"report: {k}": v for k, v in results.seconds.items()})
            folder.results_workbook(inputs, {"iterations": n, "seed": seed}, compute)  # beside the HTML
            if stage:
                stage("report.html")
            summary = html_report.write_report(folder, results, charts, n, seed, written["dsa"], written["budget"])
            if stage:
                stage("results.xlsx and manifest")
            dest = folder.commit(inputs, settings={"iterations": n, "seed": seed}, files=charts.wait).resolve()
    finally:
        if previous is not None or busy:
            threads.set_workers(previous)
    paths = {"report": str(dest / summary["report"]), "results": str(dest / "results.xlsx")}
    warnings = [w for w in [presentation.small_sample_warning(n)] if w]
    return Outcome({**summary, **paths, "warnings": warnings}, summary["headline"], dest, summary["price_year"])


# -- local data -------------------------------------------------------------------------------------------------------------
def calibrate_workbook(episodes, header=(), uasc=(), workbook=None, out=None, force=False,
                       options=None, include_uasc: bool = False, cin=(), families=None,
                       cohort: str = "cpp_start", baseline_bootstrap: int = 1000) -> dict:
    """Run the whole calibration; returns a JSON-ready summary (paths, estimates, counts, warnings).

    With CIN census files (``cin``, or recognised among ``episodes`` by their columns or XML) the usual-care baseline
    risk is estimated too (:func:`~ifpp_econ.local_data.baseline_risk.estimate_baseline`; ``families``: LAchildID,FamilyID
    CSV; ``cohort``: cpp_start, cpp_repeat, pre_proceedings or list:FILE) and written into the copy.
    Raises :class:`~ifpp_econ.exceptions.LocalDataError` (903 or CIN files), :class:`~ifpp_econ.exceptions.WorkbookError`
    (input workbook) or :class:`OutputError` (outputs) before anything is written.
    """
    from .exceptions import OutputError, WorkbookError
    from .inputs.reader import read_workbook
    from .local_data.care_dynamics import Options, estimate
    from .local_data.cin_census import is_cin_file
    from .local_data.ssda903 import clean, read_returns
    from .outputs import calibration_report
    from .outputs.calibration import (
        ReportData,
        _check_outputs,
        _records,
        _settings,
        baseline_summary,
        compare_savings,
        estimate_local_baseline,
        report_folder,
        summary,
        workbook_changes,
        write_baseline_rows,
        write_workbook,
    )
    from .outputs.run_folder import RunFolder

    options = options or Options()
    src = Path(workbook)
    out = Path(out)
    folder_path = report_folder(out)
    cin = [*cin, *(p for p in episodes if is_cin_file(p))]
    episodes = [p for p in episodes if not is_cin_file(p)]
    extra = [*cin, *([families] if families else []), *([cohort[5:]] if cohort.startswith("list:") else [])]
    _check_outputs(src, out, folder_path, [*episodes, *header, *uasc, *extra], force)
    inputs = read_workbook(src)
    defaults = inputs.parameters["value"].to_dict()
    bands = list(inputs.age_bands["band"])
    returns = read_returns(episodes, header, uasc)
    cleaned = clean(returns, include_uasc=include_uasc)
    cal = estimate(cleaned, options, defaults, bands)
    files = ", ".join(Path(p).name for p in [*episodes, *header, *uasc])
    base = (estimate_local_baseline(cin, cleaned, returns, families, cohort, options, baseline_bootstrap, defaults,
                                    include_uasc) if cin else None)
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}.xlsx")
    parts = {k: out.with_name(f".{out.name}.{k}-{os.getpid()}.xlsx") for k in ("baseline", "care")}
    try:
        write_workbook(src, tmp, cal, files)
        if base is not None:
            write_baseline_rows(tmp, base)
        try:
            calibrated = read_workbook(tmp)
        except WorkbookError as exc:  # the copy must stay a valid workbook
            raise OutputError("the calibrated copy did not pass validation:\n" + "\n".join(exc.problems)) from None
        variants = [("Input workbook", "the workbook's own values", inputs)]
        if base is not None:  # the baseline's own effect, and the care dynamics' own
            shutil.copyfile(src, parts["baseline"])
            write_baseline_rows(parts["baseline"], base)
            write_workbook(src, parts["care"], cal, files)
            variants += [("Baseline only", "the local usual-care baseline (CIN census); the workbook's care dynamics",
                          read_workbook(parts["baseline"])),
                         ("Care dynamics only", "the local care dynamics (903); the workbook's baseline",
                          read_workbook(parts["care"]))]
        variants.append(("Calibrated copy", "every local value" if base is not None else "the local care dynamics (903)",
                         calibrated))
        savings, notes = compare_savings(variants)
        changes = workbook_changes(inputs, calibrated, cal, base)
        warnings = list(dict.fromkeys([*cal.warnings, *(base.warnings if base is not None else []), *notes]))
        report = ReportData(files, out, labels=inputs.parameters["label"].astype(str).to_dict(),
                            units=inputs.parameters["unit"].astype(str).to_dict(), changes=changes, savings=savings,
                            base=base, defaults=defaults, shrink_months=options.shrink_months, warnings=warnings)
        with RunFolder("calibrate", folder_path, force) as folder:
            calibration_report.write_report(folder, cal, report)
            settings = _settings(cal, options, files, include_uasc)
            if base is not None:
                settings.update(cin=[Path(p).name for p in cin], cohort=cohort, families=str(families or ""),
                                baseline_bootstrap=baseline_bootstrap)
            dest = folder.commit(inputs, settings=settings)
        os.replace(tmp, out)
    finally:
        for path in (tmp, *parts.values()):
            if path.exists():
                path.unlink()
    data = summary(cal, out, dest, options)
    data.update(workbook_input=str(src), changes=_records(changes), warnings=warnings,
                savings=_records(savings) if savings is not None else [])
    if base is not None:
        data["baseline"] = baseline_summary(base)
    return data


# -- many authorities ------------------------------------------------------------------------------------------------------
def _read_one(path) -> tuple[Any, list[str], float]:
    """(Inputs, [], CPU seconds) or (None, its problems, CPU seconds): a job for any executor (a workbook's problems
    come back as text)."""
    from .exceptions import WorkbookError
    from .inputs.reader import read_workbook

    cpu = time.thread_time()
    try:
        return read_workbook(Path(path)), [], time.thread_time() - cpu
    except WorkbookError as exc:
        return None, list(exc.problems), time.thread_time() - cpu
    except OSError as exc:
        return None, [f"{path}: cannot read the file: {(exc.strerror or str(exc)).lower()}"], time.thread_time() - cpu


def read_workbooks(paths, executor: Executor | None = None, cpu: list | None = None) -> list:
    """Read and validate every workbook (side by side in ``executor`` when given); raises one
    :class:`~ifpp_econ.exceptions.WorkbookError` listing every problem of every workbook (each names its file, sheet and
    cell) before anything is computed. ``cpu``: a list to which the reading's CPU seconds are appended."""
    from .exceptions import OptionError, WorkbookError

    if not paths:
        raise OptionError("no workbooks to roll up: give WORKBOOK files or --dir FOLDER")
    executor = executor or executors.Serial()
    futures = [executor.submit(_read_one, str(p)) for p in paths]
    found, problems = [], []
    seconds = 0.0
    for future in futures:
        inputs, found_problems, used = executors.result(executor, future)
        problems += found_problems
        seconds += used
        if inputs is not None:
            found.append(inputs)
    if cpu is not None:
        cpu.append(seconds)
    if problems:
        raise WorkbookError(problems + [f"({len(problems)} problems; nothing was run and no workbook was changed)"])
    return found


def rollup(workbooks, n: int | None = None, seed: int | None = None, out=None, force: bool = False, *,
           executor: str = "serial", scheduler: str | None = None, workers: int | None = None,
           chunk_size: int | None = None, years: int | None = None, scale_to: float | None = None, progress=None,
           warn: Callable[[str], None] | None = None, charts_executor: Executor | None = None) -> Outcome:
    """``ifpp-econ rollup``: many authorities' PSAs with a shared pooled effect, and the region's totals.

    ``workbooks``: paths (read and validated first — in the process pool with ``processes`` — every problem of every
    workbook raised together before any work) or validated :class:`~ifpp_econ.inputs.container.Inputs`, one per
    authority (named by its ``authority`` setting, else its file name; names must differ); ``warn(message)`` is told
    each workbook's warnings. ``n``/``seed``: default the first workbook's. ``executor``: ``serial``, ``processes``
    (``workers`` processes, default every core) or ``dask`` (``scheduler`` address, else a local cluster of
    ``workers``); results do not depend on it, on ``workers`` nor on ``chunk_size``. ``years``: the budget window
    (default the workbooks' ``budget_years``); ``scale_to``: families referred a year nationally, for the national
    extrapolation.
    """
    from .analyses.rollup import Authority, authority_name, check_names, common_years, run_rollup
    from .outputs import figures, presentation, writers
    from .outputs import report as html_report
    from .outputs.run_folder import RunFolder

    if not workbooks:
        read_workbooks([])  # the message for no workbooks
    pool = executors.Pool(executor, workers, scheduler)  # checks the options before anything is read
    started, reading_cpu = time.perf_counter(), [0.0]
    with pool as running:
        inputs = (list(workbooks) if all(hasattr(w, "parameters") for w in workbooks)
                  else read_workbooks(workbooks, running if executor == "processes" else None, reading_cpu))
        reading = time.perf_counter() - started
        for i in inputs:
            for message in i.warnings:
                if warn is not None:
                    warn(message)
        authorities = [Authority(authority_name(i), i) for i in inputs]
        check_names(authorities)  # before any work: bad input stops the run here
        years = common_years(authorities, years)
        first = inputs[0].settings
        n = int(first["psa_iterations"] if n is None else n)
        seed = int(first["psa_seed"] if seed is None else seed)
        with RunFolder("rollup", out, force, protect=[i.path for i in inputs]) as folder, \
                _charts(folder, charts_executor) as charts:
            result = run_rollup(authorities, n, seed, executor=running, chunk_size=chunk_size, workers=pool.workers,
                                years=years, scale_to=scale_to, progress=progress, executor_name=executor)
            result.timings.update(workers=pool.workers, reading_seconds=round(reading, 4),
                                  reading_cpu_seconds=round(reading_cpu[-1], 4))
            folder.time("reading_seconds", reading)
            folder.time("units_seconds", result.timings["units_seconds"])
            written = time.perf_counter()
            writers.write_rollup(folder, result)
            charts.draw(figures.rollup(result))
            folder.manifest["workbooks"] = [{"authority": a.name, "path": str(Path(a.inputs.path).resolve()),
                                             "sha256": a.inputs.sha256} for a in authorities]
            folder.headline = [("Region", writers.format_rollup(result).splitlines()[1])]
            settings = {"iterations": n, "seed": seed, "years": years, "scale_to": scale_to, "executor": executor,
                        "workers": pool.workers, "chunk_size": result.chunk_size, "authorities": len(authorities)}
            folder.results_workbook(None, settings)
            headline = html_report.write_rollup_report(folder, result, charts)
            files = charts.wait()
            result.timings["writing_seconds"] = round(time.perf_counter() - written, 4)
            folder.time("writing_seconds", result.timings["writing_seconds"])
            dest = folder.commit(None, settings=settings, files=files)
    warnings = [w for w in [presentation.small_sample_warning(n)] if w]
    data = {**result.to_json(), "headline": headline, "report": str(Path(dest).resolve() / "report.html"),
            "results": str(Path(dest).resolve() / "results.xlsx"), "warnings": warnings}
    return Outcome(data, writers.format_rollup(result), dest, inputs[0].settings["analysis_price_year"])
