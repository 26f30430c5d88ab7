"""Command-line interface: parses arguments, calls one function, prints.

Exit codes: 0 success; 2 bad input (workbook, options, output folder) with a clear
message and no traceback; 1 an internal error, with the traceback saved to a file.
"""
from __future__ import annotations

import contextlib
import functools
import json
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from . import __version__, default_workbook
from .exceptions import InputError, LocalDataError, OptionError, OutputError, WorkbookError

WORKBOOK_HELP = "Parameter workbook (.xlsx); the bundled default workbook when omitted."
EXIT_CODES = ("Exit codes: 0 success; 2 a problem with the input (workbook, options, output folder), explained "
          "with its sheet and cell; 1 an internal error (a bug; the traceback is saved to a file); 130 interrupted.")
EPILOG = ("WORKBOOK is the parameter workbook (.xlsx) to read; omit it to use the bundled default workbook "
          "(`ifpp-econ template my.xlsx` writes an editable copy). The workbook is never modified.\n\n" + EXIT_CODES)
UNITS = {"money": "GBP (£) at the analysis price year; per-child results discounted, budget impact undiscounted",
         "per": "per child unless the name says per family", "probability": "0 to 1",
         "placements": "placements (first entries to care) per child"}


MAX_ITERATIONS = 10_000_000  # the workbook's psa_iterations limit too
MAX_SEED = 2**32 - 1


def load_inputs(workbook: str | None):
    """Read and validate a workbook (the bundled default when None); its warnings are printed on stderr.

    Raises :class:`WorkbookError` listing every problem, or :class:`OptionError` when the file cannot be read."""
    from .inputs.reader import read_workbook

    path = Path(workbook) if workbook else default_workbook()
    try:
        inputs = read_workbook(path)
    except OSError as exc:  # e.g. no permission to read it
        raise OptionError(f"{path}: cannot read the file: {(exc.strerror or str(exc)).lower()}") from None
    except WorkbookError as exc:
        count = len(exc.problems)
        raise WorkbookError(exc.problems + ([f"({count} problems; the workbook was not changed)"] if count > 1 else [])
                            ) from None
    for warning in inputs.warnings:
        click.echo(f"warning: {warning}", err=True)
    return inputs


def _terminate(signum, frame):
    raise KeyboardInterrupt


def guarded(func):
    """Map input and output problems (:mod:`ifpp_econ.exceptions`) to exit 2 and bugs to exit 1
    with a saved traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import signal

        signal.signal(signal.SIGTERM, _terminate)  # `kill` cleans up like Ctrl-C
        try:
            return func(*args, **kwargs)
        except (InputError, OutputError) as exc:
            for line in str(exc).splitlines():
                click.echo(line if line.startswith("(") else f"error: {line}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: no output folder was written", err=True)
            sys.exit(130)
        except BrokenPipeError:  # the reader of stdout went away (`… | head -1`): not an error of ours
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's exit flush writes nowhere
            sys.exit(0)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: keep the details, show a short message
            with tempfile.NamedTemporaryFile("w", prefix="ifpp-econ-traceback-", suffix=".txt", delete=False) as fh:
                traceback.print_exc(file=fh)
            click.echo(f"internal error ({type(exc).__name__}: {exc}). This is a bug in ifpp-econ; "
                       f"the traceback is saved in {fh.name}", err=True)
            sys.exit(1)

    return wrapper


class Progress:
    """A one-line progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, label: str, enabled: bool | None = None):
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        frac = done / total
        bar = "#" * int(frac * 30)
        elapsed = time.perf_counter() - self.start
        eta = elapsed / frac - elapsed if frac > 0 else 0
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {frac:6.1%} {done:,}/{total:,}  {elapsed:5.1f}s, ~{eta:4.0f}s left")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


class Number(click.ParamType):
    """A number option typed as in the workbook: ``50000``, ``£50,000``, ``35%``, ``1 200``; a comma only separates
    thousands (``50,5`` is refused with both readings). Whole numbers when ``integer``; the range is inclusive."""

    def __init__(self, lo: float | None = None, hi: float | None = None, integer: bool = False):
        self.lo, self.hi, self.integer = lo, hi, integer
        self.name = "integer" if integer else "number"

    def allowed(self) -> str:
        def text(x: float) -> str:
            return f"{x:,.0f}" if x == int(x) else f"{x:g}"
        kind = "a whole number" if self.integer else "a number"
        if self.lo is not None and self.hi is not None:
            return f"{kind} from {text(self.lo)} to {text(self.hi)}"
        return f"{kind} ≥ {text(self.lo)}" if self.lo is not None else kind

    def convert(self, value, param, ctx):
        from .inputs.loader import parse_number

        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = parse_number(str(value))
            except ValueError as exc:
                self.fail(f"{exc}; allowed: {self.allowed()}", param, ctx)
        if (self.integer and number != int(number)) or (self.lo is not None and number < self.lo) or \
                (self.hi is not None and number > self.hi):
            self.fail(f"found {value}; allowed: {self.allowed()}", param, ctx)
        return int(number) if self.integer else number


class SampleSizes(click.ParamType):
    """Trial sizes for ``--evsi``: whole numbers of families per arm separated by commas (``25,100,400,1600``; no
    thousands separators), each 2 to 1,000,000; ``none`` for no EVSI (overriding the workbook's)."""

    name = "sizes"
    ALLOWED = "families per arm separated by commas, e.g. 25,100,400,1600 (each a whole number from 2 to 1,000,000), or none"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        if text.lower() == "none":
            return ()
        sizes = []
        for token in text.replace(";", ",").split(","):
            token = token.strip()
            if not token.isdigit() or not 2 <= int(token) <= 1_000_000:
                self.fail(f"found {token!r} in {text!r}; allowed: {self.ALLOWED}", param, ctx)
            sizes.append(int(token))
        return tuple(sorted(set(sizes)))


def _options(*decorators):
    """Combine click decorators so commands share one definition of each option."""
    def apply(func):
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


workbook_argument = click.argument("workbook", required=False, type=click.Path(dir_okay=False))
output_options = _options(
    click.option("--out", type=click.Path(file_okay=False), help="Output folder (default: a new folder under outputs/)."),
    click.option("--force", is_flag=True, help="Replace the contents of an existing --out folder."),
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
psa_options = _options(
    click.option("-n", "--iterations", type=Number(1, MAX_ITERATIONS, integer=True),
                 help="PSA iterations, 1 to 10,000,000 (default: workbook setting)."),
    click.option("--seed", type=Number(0, MAX_SEED, integer=True),
                 help="Random seed, 0 to 4,294,967,295 (default: workbook setting)."),
)


def emit(as_json: bool, data: dict, text: str, dest, price_year: str | None = None) -> None:
    """Print results as JSON (with absolute output paths, price year and units) or as text followed by the folder."""
    dest = Path(dest).resolve()
    if as_json:
        files = {p.name: str(p) for p in sorted(dest.iterdir()) if p.is_file()}
        extra = {"output_folder": str(dest), "files": files, "units": UNITS}
        if price_year is not None:
            extra["price_year"] = price_year
        click.echo(json.dumps({**data, **extra}, indent=2, default=str))
    else:
        click.echo(text)
        click.echo(f"\nOutputs: {dest}")


@contextlib.contextmanager
def workers(executor):
    """``with workers(executor):`` the executor for the block; on leaving, it is shut down: after its work, or at once
    when the block failed or was interrupted (nothing it writes is wanted then)."""
    try:
        yield executor
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def chart_worker():
    """The run's chart worker, forked now, so that it imports matplotlib and draws a warm-up chart while this process
    goes on (:class:`~ifpp_econ.executors.Worker`; charts are drawn here when it cannot run). ``run`` and ``report``
    fork it before reading the workbook (the reading overlaps the warm-up); ``psa``, ``dsa`` and ``budget`` after
    (it then inherits the imports, so its warm-up costs less CPU beside the computation: measured, a million-iteration
    PSA is ≈ 0.4 s faster so)."""
    from . import executors
    from .outputs.render import warm_up

    return workers(executors.Worker(warm_up=warm_up, start=True))


def warn_small(iterations: int, echo: bool = False) -> list[str]:
    """The warning for a PSA too small for its intervals to be trusted (for the JSON), on stderr if ``echo``."""
    from .outputs.presentation import small_sample_warning

    message = small_sample_warning(iterations)
    if message and echo:
        click.echo(message, err=True)
    return [message] if message else []


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ifpp-econ")
def main() -> None:
    """ifpp-econ: cost-effectiveness of Intensive Family Preservation Programmes (IFPP).

    A Markov cohort model of children's family states (at home, in care, returned home,
    left care) comparing IFPP with usual care, driven by an Excel parameter workbook.
    Start with `ifpp-econ psa` (bundled default workbook) or `ifpp-econ template my.xlsx`
    to get a workbook to edit.
    """
    import atexit
    import gc
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")  # charts are files: no window (set before matplotlib is imported)
    # At exit, skip the final garbage collection of everything loaded (numba, matplotlib, pandas: about 0.5 s):
    # every output file is written and closed by then, and the operating system frees the memory.
    atexit.register(gc.freeze)
    from .engine import threads

    threads.ANNOUNCE[:] = [lambda message: click.echo(message[0].upper() + message[1:] + " …", err=True)]


@main.command(epilog=EPILOG)
@workbook_argument
@output_options
@json_option
@guarded
def run(workbook, out, force, as_json):
    """Deterministic base case: costs, placements, months in care, incremental results, children's outcomes, who pays
    and who saves, and the cohort trace."""
    from . import pipeline

    with chart_worker() as charts:  # the chart worker loads matplotlib while the workbook is read
        outcome = pipeline.run(load_inputs(workbook), out, force, charts_executor=charts)
    emit(as_json, outcome.data, outcome.text, outcome.folder, outcome.price_year)


@main.command(epilog=EPILOG)
@workbook_argument
@psa_options
@click.option("--chunk-size", type=Number(1, 1_000_000, integer=True), default=None,
              help="Iterations evaluated at once (default: automatic, 1,024-8,192); results do not depend on it.")
@output_options
@json_option
@click.option("--save-iterations", is_flag=True, help="Also save every iteration's draws and results (large for big runs).")
@click.option("--no-evppi", is_flag=True, help="Skip EVPPI (regression on the first 20,000 iterations' draws).")
@click.option("--structural", type=click.Choice(["none", "model_averaged"]), default=None,
              help="Structural uncertainty: model_averaged draws the after-effect assumption and 'no effect' per "
                   "iteration with the workbook's weights (default: the workbook's psa_structural).")
@click.option("--workers", type=Number(1, integer=True), default=None,
              help="Threads for the model and sampling (default, and at most: every available core); results do not "
                   "depend on it.")
@click.option("--evsi", "evsi_sizes", type=SampleSizes(), default=None, metavar="N1,N2,...",
              help="Value of sample information of a two-arm trial with these numbers of families per arm (e.g. "
                   "25,100,400,1600): EVSI, trial cost, ENBS and the optimal size (default: the workbook's "
                   "evsi_sample_sizes; none: no EVSI).")
@guarded
def psa(workbook, iterations, seed, chunk_size, out, force, as_json, save_iterations, no_evppi, structural, workers,
        evsi_sizes):
    """Probabilistic sensitivity analysis: per-child savings, placements avoided, CEAC, EVPI, CE plane, children's
    outcomes and who pays and who saves with 95% intervals."""
    from . import pipeline

    inputs = load_inputs(workbook)
    with chart_worker() as charts:  # forked after the workbook is read: it inherits what is loaded, and its warm-up
        outcome = pipeline.psa(inputs, iterations, seed, out, force, chunk_size=chunk_size,  # overlaps the PSA
                               save_iterations=save_iterations, evppi=not no_evppi, structural=structural,
                               workers=workers, evsi_sizes=evsi_sizes, progress=Progress("PSA"),
                               charts_executor=charts)
    emit(as_json, outcome.data, outcome.text, outcome.folder, outcome.price_year)


@main.command(epilog=EPILOG)
@workbook_argument
@click.option("--outcome", type=click.Choice(["savings", "nmb", "placements"]), default="savings", show_default=True,
              help="Outcome of the tornado and thresholds: per-child savings, NMB at --wtp, placements avoided.")
@click.option("--wtp", type=Number(0, 1e9), help="Willingness to pay per placement avoided for --outcome nmb, "
              "0 to 1e9 GBP (default: workbook).")
@click.option("--top", type=Number(1, integer=True), default=15, show_default=True, help="Bars shown in the tornado.")
@output_options
@json_option
@guarded
def dsa(workbook, outcome, wtp, top, out, force, as_json):
    """Deterministic sensitivity: tornado, break-even thresholds, two-way grid and scenarios."""
    from . import pipeline

    inputs = load_inputs(workbook)
    with chart_worker() as charts:
        result = pipeline.dsa(inputs, outcome, wtp, top, out, force, charts_executor=charts)
    emit(as_json, result.data, result.text, result.folder, result.price_year)


@main.command(epilog=EPILOG)
@workbook_argument
@click.option("--years", type=Number(1, 5, integer=True), help="Years of referrals and of the budget (default: workbook, 1–5).")
@click.option("--referrals", type=Number(0, 1e6),
              help="Families referred a year, 0 to 1,000,000 (default: workbook).")
@click.option("-n", "--iterations", type=Number(0, MAX_ITERATIONS, integer=True), default=1000, show_default=True,
              help="PSA iterations for intervals (0 for the base case only).")
@click.option("--seed", type=Number(0, MAX_SEED, integer=True),
              help="Random seed, 0 to 4,294,967,295 (default: workbook setting).")
@output_options
@json_option
@guarded
def budget(workbook, years, referrals, iterations, seed, out, force, as_json):
    """Budget impact for one local authority: undiscounted spend and savings by year (cashable and notional), payback
    (on all savings and on cash alone), ROI and who pays and who saves."""
    from . import pipeline

    inputs = load_inputs(workbook)
    with chart_worker() as charts:
        outcome = pipeline.budget(inputs, years, referrals, iterations, seed, out, force,
                                  charts_executor=charts)
    emit(as_json, outcome.data, outcome.text, outcome.folder, outcome.price_year)


@main.command(epilog=EPILOG)
@workbook_argument
@psa_options
@output_options
@json_option
@guarded
def report(workbook, iterations, seed, out, force, as_json):
    """Everything (base case, PSA, DSA, VOI, budget) in one self-contained report.html and results.xlsx."""
    from . import executors, pipeline

    with chart_worker() as charts, workers(executors.Worker()) as compute:  # compute forks when first used
        inputs = load_inputs(workbook)
        # base case, PSA, its tables with EVPI/EVPPI and the structural PSA beside it, [EVSI], model-averaged PSA,
        # one-way and scenario analyses, budget, report.html, results.xlsx
        stages = Stages(8 + bool(pipeline.trial_sizes(inputs)))
        n = iterations or int(inputs.settings["psa_iterations"])
        if not as_json:
            warn_small(n, echo=True)
        outcome = pipeline.report(inputs, n, seed, out, force, progress=Progress("  PSA"), stage=stages,
                                  charts_executor=charts, compute_executor=compute)
    stages.done()
    if as_json:
        emit(True, outcome.data, "", outcome.folder, outcome.price_year)
        return
    click.echo(outcome.text)
    click.echo(f"Report:  {outcome.data['report']}\nResults: {outcome.data['results']}\nFolder:  {outcome.folder}")


ROLLUP_EPILOG = ("Each WORKBOOK is one local authority (typically its calibrated workbook), named by its `authority` "
                 "setting or else its file name; names must differ. Every workbook is read and checked before "
                 "anything runs. The workbooks are never modified.\n\n" + EXIT_CODES)


def rollup_paths(workbooks: tuple[str, ...], folder: str | None) -> list[Path]:
    """The workbooks named, then every .xlsx in ``folder`` (sorted; Excel's ``~$`` lock files and hidden files
    left out)."""
    paths = [Path(w) for w in workbooks]
    if folder:
        here = Path(folder)
        if not here.is_dir():
            raise OptionError(f"--dir {folder}: not a folder")
        found = sorted(p for p in here.iterdir() if p.suffix.lower() == ".xlsx" and p.is_file()
                       and not p.name.startswith(("~$", ".")))
        if not found:
            raise OptionError(f"--dir {folder}: no .xlsx workbooks there")
        paths += found
    if not paths:
        raise OptionError("no workbooks: give WORKBOOK files or --dir FOLDER")
    return paths


@main.command(epilog=ROLLUP_EPILOG)
@click.argument("workbooks", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--dir", "folder", type=click.Path(file_okay=False), help="Also every .xlsx workbook in this folder.")
@psa_options
@click.option("--executor", type=click.Choice(["serial", "processes", "dask"]), default="processes", show_default=True,
              help="Where the work units (authority × chunk of iterations) run: this process, a pool of processes on "
                   "this machine, or a Dask cluster. Results do not depend on it.")
@click.option("--scheduler", help="Address of a Dask scheduler (e.g. tcp://10.0.0.5:8786) for --executor dask; "
                                  "without it, a local Dask cluster is started.")
@click.option("--workers", type=Number(1, 4096, integer=True), default=None,
              help="Processes (processes, local Dask cluster); default: every available core. Results do not depend "
                   "on it.")
@click.option("--chunk-size", type=Number(1, 1_000_000, integer=True), default=None,
              help="Iterations per work unit (default: automatic, 1,024-10,240); results do not depend on it.")
@click.option("--years", type=Number(1, 5, integer=True), default=None,
              help="Years of referrals and of the budget totals (default: the workbooks' budget_years, which must "
                   "then agree).")
@click.option("--scale-to", type=Number(0, 1e7), default=None,
              help="Families referred a year nationally: adds a national extrapolation of the region's totals.")
@output_options
@json_option
@guarded
def rollup(workbooks, folder, iterations, seed, executor, scheduler, workers, chunk_size, years, scale_to, out, force,
           as_json):
    """Many local authorities at once: each authority's savings and budget with a shared pooled effect, the region's
    totals with intervals, P(the region saves), regional EVPI/EVPPI, a ranked chart, report.html and results.xlsx."""
    from . import pipeline

    paths = rollup_paths(workbooks, folder)
    with chart_worker() as charts:  # the workbooks are read in the process pool (validated before any work)
        outcome = pipeline.rollup(paths, iterations, seed, out, force, executor=executor, scheduler=scheduler,
                                  workers=workers, chunk_size=chunk_size, years=years, scale_to=scale_to,
                                  progress=Progress("Rollup"), warn=lambda m: click.echo(f"warning: {m}", err=True),
                                  charts_executor=charts)
    emit(as_json, outcome.data, outcome.text, outcome.folder, outcome.price_year)


class Stages:
    """Stage messages on stderr ("[2/7] PSA …"), each with the time the previous stage took."""

    def __init__(self, total: int):
        self.total, self.count = total, 0
        self.start = self.last = time.perf_counter()

    def __call__(self, message: str) -> None:
        self.count += 1
        click.echo(f"[{self.count}/{self.total}] {message} …", err=True)
        self.last = time.perf_counter()

    def done(self) -> None:
        click.echo(f"done in {time.perf_counter() - self.start:.1f}s", err=True)


@main.command(epilog=EXIT_CODES)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--preset", type=click.Choice(["default", "option2", "ifss"]), default="default", show_default=True,
              help="Programme costing to start from: default, Option 2 (about 30 hours per family), IFSS (bottom-up team).")
@click.option("--force", is_flag=True, help="Replace an existing file.")
@guarded
def template(path, preset, force):
    """Write an editable parameter workbook (every value with its source) to PATH."""
    from .inputs.template import write_template

    try:
        written = write_template(path, preset=preset, force=force)
    except (FileExistsError, ValueError) as exc:
        raise OptionError(str(exc)) from None
    except OSError as exc:  # read-only folder, full disk, a folder of that name…
        raise OutputError(f"cannot write to {path}: {(exc.strerror or str(exc)).lower()}; choose another path") from None
    click.echo(f"Wrote {written} ({preset} preset). Edit the yellow cells, then: ifpp-econ validate {written}")


@main.command(epilog=EPILOG)
@workbook_argument
@guarded
def validate(workbook):
    """Check a workbook: every problem with its sheet and cell, or OK with a short summary."""
    inputs = load_inputs(workbook)
    s = inputs.settings
    n_params = int((~inputs.parameters["group"].astype(bool)).sum())
    click.echo(f"OK: {inputs.path}: {n_params} parameters, analysis price year {s['analysis_price_year']}, "
               f"{len(inputs.strategies)} strategies ({', '.join(inputs.strategies['strategy'])}; comparator "
               f"{s['comparator']}), {len(inputs.age_bands)} age bands, {inputs.scenarios['scenario'].nunique()} "
               f"scenarios, correction {s['within_cycle_correction']}, discount {s['discount_rate_costs']:.1%} costs / "
               f"{s['discount_rate_outcomes']:.1%} outcomes")
    p = inputs.parameters
    estimates = int((p["status"].astype(str) == "E").sum())
    ifpp = inputs.strategies[inputs.strategies["receives_ifpp"] == "yes"]
    costing = ", ".join(f"{r['strategy']}: {r['cost_method']}" for _, r in ifpp.iterrows())
    click.echo(f"Key inputs: IFPP cost £{p.loc['ifpp_cost_per_family', 'value']:,.0f} per family "
               f"({p.loc['ifpp_cost_per_family', 'price_year']} prices; costing {costing}); "
               f"{s['la_referrals_per_year']:g} families referred a year; after the effect {s['after_effect']}; "
               f"perspective {s['perspective']}; {estimates} rows still estimates (status E)")


MAX_BOOTSTRAP = 10_000  # calibrate's bootstrap replicates (memory grows with replicates × children or families)
NEED_CODES = re.compile(r"N\d(,N\d)*", re.IGNORECASE)


def need_codes(need: str | None, cin_files: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """Split ``--cin`` values into CIN files and the deprecated need-code filter (``--cin N1,N4`` when no such file
    exists), with a warning; returns (need codes text, CIN files)."""
    files, codes = [], [need] if need else []
    for value in cin_files:
        if NEED_CODES.fullmatch(value.strip()) and not Path(value).exists():
            click.echo(f"warning: --cin {value} is deprecated as a category-of-need filter: use --need {value} "
                       "(--cin now takes CIN census files)", err=True)
            codes.append(value)
        else:
            files.append(value)
    return (",".join(codes) or None), files


@main.command()
@click.argument("episodes", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--header", "headers", multiple=True, type=click.Path(dir_okay=False),
              help="903 Header file(s) with CHILD and DOB (repeat for each year).")
@click.option("--uasc", "uascs", multiple=True, type=click.Path(dir_okay=False),
              help="903 UASC file(s); those children are excluded unless --include-uasc.")
@click.option("--window", nargs=2, metavar="START END", help="Reference window, e.g. 2019-04-01 2024-03-31 "
              "(default: the last five collection years in the files, or all if fewer).")
@click.option("--workbook", type=click.Path(dir_okay=False), help="Workbook to copy (default: the bundled one).")
@click.option("--out", required=True, type=click.Path(), help="Calibrated workbook to write (.xlsx); the report "
              "goes in OUT_calibration/ beside it.")
@click.option("--force", is_flag=True, help="Replace an existing --out workbook and report folder.")
@click.option("--include-uasc", is_flag=True, help="Keep unaccompanied asylum-seeking children.")
@click.option("--exclude-youth-justice", is_flag=True, help="Drop periods wholly on legal statuses J1–J3.")
@click.option("--need", help="Keep periods whose first category of need is one of these codes, e.g. N1,N4,N5,N6.")
@click.option("--cin", "cin_files", multiple=True, metavar="FILE",
              help="CIN census return (XML, or CSV with the census item names as columns), one per year; repeat for "
                   "each year (CIN files among EPISODES are recognised too). Estimates the usual-care baseline risk "
                   "risk_3m/6m/12m/24m, annual_risk_after_24m, children_placed_per_family_placement and "
                   "children_per_family. (--cin N1,N4,… as a need filter is deprecated: use --need.)")
@click.option("--families", type=click.Path(dir_okay=False), help="CSV LAchildID,FamilyID from the case management "
              "system; without it families are approximated from the census (shared plan and conference dates).")
@click.option("--cohort", default="cpp_start", show_default=True, metavar="COHORT",
              help="Baseline cohort: cpp_start (start of a child protection plan), cpp_repeat (a repeat plan), "
                   "pre_proceedings (PPStartDate, 2026-27 census on) or list:FILE (CSV: child id, referral date "
                   "[, family id]).")
@click.option("--baseline-bootstrap", type=click.IntRange(0, MAX_BOOTSTRAP), default=1000, show_default=True,
              help="Family-level bootstrap replicates for the baseline's intervals and PSA distributions, 0 to 10,000.")
@click.option("--e13", type=click.Choice(["reunification", "permanence"]), default="reunification", show_default=True,
              help="Count E13 (left to live with relatives without PR) as a return home or as other permanence.")
@click.option("--other-exits", type=click.Choice(["permanence", "censored"]), default="permanence", show_default=True,
              help="E5–E9, E14, E16 exits: folded into other permanence, or censored.")
@click.option("--shrink", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Shrink towards the workbook's values with this many person-months at the default rate (0 = off).")
@click.option("--bootstrap", type=click.IntRange(0, MAX_BOOTSTRAP), default=200, show_default=True,
              help="Child-level bootstrap replicates for the intervals, 0 to 10,000 (0 = exact Poisson intervals only).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=903, show_default=True,
              help="Seed of the bootstraps, 0 to 4,294,967,295.")
@json_option
@guarded
def calibrate(episodes, headers, uascs, window, workbook, out, force, include_uasc, exclude_youth_justice, need, cin_files,
              families, cohort, baseline_bootstrap, e13, other_exits, shrink, bootstrap, seed, as_json):
    """Local care dynamics from SSDA903 episodes: writes a calibrated copy of the workbook and a report.

    EPISODES are one or more years of 903 files (CSV or xlsx): Episodes, and Header and UASC files too (each is
    recognised by its columns: DECOM, DOB, DUC), e.g. `ifpp-econ calibrate 903/*.csv --out local.xlsx`.
    Reunification and other-permanence
    probabilities by months in care, re-entry by months since return, the entrant placement mix by age band
    and the age-at-entry shares are replaced by local estimates (status L). With CIN census files (--cin) the
    usual-care risk of a family's first entry to care by 3/6/12/24 months is estimated from the cohort
    (--cohort) linked to the 903 returns, and written too. The inputs are never modified.
    """
    import pandas as pd

    from .local_data.care_dynamics import Options
    from .local_data.ssda903 import parse_dates
    from .outputs.calibration import format_summary
    from .pipeline import calibrate_workbook

    need, cin_files = need_codes(need, cin_files)

    dates = None
    if window:
        dates = parse_dates(pd.Series(list(window), dtype=str))
        if dates.isna().any():
            raise OptionError(f"--window {' '.join(window)}: expected two dates (YYYY-MM-DD or DD/MM/YYYY)")
    options = Options(window=None if dates is None else (dates[0], dates[1]), exclude_youth_justice=exclude_youth_justice,
                      cin=tuple(c.strip().upper() for c in (need or "").split(",") if c.strip()), e13=e13,
                      other_exits=other_exits, shrink_months=shrink, bootstrap=bootstrap, seed=seed)
    try:
        data = calibrate_workbook(episodes, headers, uascs, workbook or default_workbook(), out, force, options,
                                  include_uasc, cin=cin_files, families=families, cohort=cohort,
                                  baseline_bootstrap=baseline_bootstrap)
    except LocalDataError as exc:
        raise LocalDataError(exc.problems + ["(nothing was written)"]) from None
    for line in data["warnings"]:
        click.echo(f"warning: {line}", err=True)
    emit(as_json, data, format_summary(data), Path(data["report"]).parent)
