"""Command-line interface: parses arguments, calls one function, prints.

Exit codes: 0 success; 2 bad input (workbook, options, output folder) with a clear
message and no traceback; 1 an internal error, with the traceback saved to a file.
"""
from __future__ import annotations

import functools
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import click

from . import __version__
from .exceptions import InputError, OutputError

WORKBOOK_HELP = "Parameter workbook (.xlsx); the bundled default workbook when omitted."


class InputProblem(InputError):
    """Bad input that the user can fix: printed, exit code 2."""

MAX_ITERATIONS = 10_000_000  # the workbook's psa_iterations limit too
MAX_SEED = 2**32 - 1


def default_workbook() -> Path:
    from importlib.resources import files

    return Path(str(files("ifpp_econ") / "data" / "default.xlsx"))


def load_inputs(workbook: str | None):
    """Read and validate a workbook, turning every workbook problem into :class:`InputProblem`."""
    from .workbook import WorkbookError, read_workbook

    path = Path(workbook) if workbook else default_workbook()
    try:
        return read_workbook(path)
    except OSError as exc:  # e.g. no permission to read it
        raise InputProblem(f"{path}: cannot read the file: {(exc.strerror or str(exc)).lower()}") from None
    except WorkbookError as exc:
        count = len(exc.problems)
        raise InputProblem("\n".join(exc.problems) + (f"\n({count} problems; the workbook was not changed)" if count > 1
                                                         else "")) from None


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
    click.option("-n", "--iterations", type=click.IntRange(1, MAX_ITERATIONS),
                 help="PSA iterations, 1 to 10,000,000 (default: workbook setting)."),
    click.option("--seed", type=click.IntRange(0, MAX_SEED),
                 help="Random seed, 0 to 4,294,967,295 (default: workbook setting)."),
)


def emit(as_json: bool, data: dict, text: str, dest) -> None:
    """Print results as JSON (with the output folder) or as text followed by the folder."""
    if as_json:
        click.echo(json.dumps({**data, "output_folder": str(dest)}, indent=2, default=str))
    else:
        click.echo(text)
        click.echo(f"\nOutputs: {dest}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ifpp-econ")
def main() -> None:
    """ifpp-econ: cost-effectiveness of Intensive Family Preservation Programmes (IFPP).

    A Markov cohort model of children's family states (at home, in care, returned home,
    left care) comparing IFPP with usual care, driven by an Excel parameter workbook.
    Start with `ifpp-econ psa` (bundled default workbook) or `ifpp-econ template my.xlsx`
    to get a workbook to edit.
    """


@main.command()
@workbook_argument
@output_options
@json_option
@guarded
def run(workbook, out, force, as_json):
    """Deterministic base case: costs, placements, months in care, incremental results and the cohort trace."""
    from .deterministic import run_base_case
    from .outputs import format_base_case, write_base_case
    from .runs import RunFolder

    inputs = load_inputs(workbook)
    with RunFolder("run", out, force, protect=[inputs.path]) as folder:
        t = time.perf_counter()
        base = run_base_case(inputs)
        folder.time("model_seconds", time.perf_counter() - t)
        write_base_case(folder, base, inputs)
        dest = folder.commit(inputs, settings=inputs.settings)
    emit(as_json, base.to_json(), format_base_case(base), dest)


@main.command()
@workbook_argument
@psa_options
@click.option("--chunk-size", type=click.IntRange(1, 1_000_000), default=5_120, show_default=True,
              help="Iterations evaluated at once; results do not depend on it.")
@output_options
@json_option
@click.option("--save-iterations", is_flag=True, help="Also save every iteration's draws and results (large for big runs).")
@click.option("--no-evppi", is_flag=True, help="Skip EVPPI (regression on the first 20,000 iterations' draws).")
@guarded
def psa(workbook, iterations, seed, chunk_size, out, force, as_json, save_iterations, no_evppi):
    """Probabilistic sensitivity analysis: per-child savings, placements avoided, CEAC, EVPI, CE plane."""
    from .outputs import format_psa, write_psa
    from .psa import run_psa
    from .runs import RunFolder
    from .spec import build_spec

    inputs = load_inputs(workbook)
    n = iterations or int(inputs.settings["psa_iterations"])
    seed = int(inputs.settings["psa_seed"]) if seed is None else seed
    with RunFolder("psa", out, force, protect=[inputs.path]) as folder:
        conventions = build_spec(inputs).describe_conventions()
        keep = True if save_iterations else (0 if no_evppi else 20_000)
        result = run_psa(inputs, n, seed, chunk_size=chunk_size, keep_draws=keep, progress=Progress("PSA"))
        t = time.perf_counter()
        extra = write_psa(folder, result, inputs, conventions, save_iterations, not no_evppi)
        folder.time("writing_seconds", time.perf_counter() - t)
        dest = folder.commit(inputs, settings={**inputs.settings, "iterations": n, "seed": seed, "chunk_size": chunk_size})
    emit(as_json, {**result.to_json(), **extra}, format_psa(result), dest)


@main.command()
@workbook_argument
@click.option("--outcome", type=click.Choice(["savings", "nmb", "placements"]), default="savings", show_default=True,
              help="Outcome of the tornado and thresholds: per-child savings, NMB at --wtp, placements avoided.")
@click.option("--wtp", type=click.FloatRange(0, 1e9), help="Willingness to pay per placement avoided for --outcome nmb, "
              "0 to 1e9 GBP (default: workbook).")
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True, help="Bars shown in the tornado.")
@output_options
@json_option
@guarded
def dsa(workbook, outcome, wtp, top, out, force, as_json):
    """Deterministic sensitivity: tornado, break-even thresholds, two-way grid and scenarios."""
    from .outputs import format_dsa, write_dsa
    from .runs import RunFolder

    inputs = load_inputs(workbook)
    with RunFolder("dsa", out, force, protect=[inputs.path]) as folder:
        t = time.perf_counter()
        summary = write_dsa(folder, inputs, outcome, wtp, top, inputs.settings.get("threshold_parameters"))
        folder.time("analysis_seconds", time.perf_counter() - t)
        dest = folder.commit(inputs, settings={**inputs.settings, "outcome": outcome})
    emit(as_json, summary, format_dsa(summary), dest)


@main.command()
@workbook_argument
@click.option("--years", type=click.IntRange(1, 5), help="Years of referrals and of the budget (default: workbook, 1–5).")
@click.option("--referrals", type=click.FloatRange(0, 1e6),
              help="Families referred a year, 0 to 1,000,000 (default: workbook).")
@click.option("-n", "--iterations", type=click.IntRange(0, MAX_ITERATIONS), default=1000, show_default=True,
              help="PSA iterations for intervals (0 for the base case only).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED),
              help="Random seed, 0 to 4,294,967,295 (default: workbook setting).")
@output_options
@json_option
@guarded
def budget(workbook, years, referrals, iterations, seed, out, force, as_json):
    """Budget impact for one local authority: undiscounted spend and savings by year, payback, ROI."""
    from .outputs import format_budget, write_budget
    from .runs import RunFolder

    inputs = load_inputs(workbook)
    seed = int(inputs.settings["psa_seed"]) if seed is None else seed
    with RunFolder("budget", out, force, protect=[inputs.path]) as folder:
        summary = write_budget(folder, inputs, years, referrals, iterations, seed)
        dest = folder.commit(inputs, settings={**inputs.settings, "years": summary["years"],
                                               "referrals": summary["families_per_year"], "iterations": iterations,
                                               "seed": seed})
    emit(as_json, summary, format_budget(summary), dest)


@main.command()
@workbook_argument
@psa_options
@output_options
@guarded
def report(workbook, iterations, seed, out, force):
    """Everything (base case, PSA, DSA, VOI, budget) in one self-contained report.html and results.xlsx."""
    from .report import build_report
    from .runs import RunFolder

    inputs = load_inputs(workbook)
    n = iterations or int(inputs.settings["psa_iterations"])
    seed = int(inputs.settings["psa_seed"]) if seed is None else seed
    with RunFolder("report", out, force, protect=[inputs.path]) as folder:
        summary = build_report(inputs, n, seed, folder, progress=Progress("PSA"))
        dest = folder.commit(inputs, settings={**inputs.settings, "iterations": n, "seed": seed})
    click.echo(f"Report: {dest / summary['report']}")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--preset", type=click.Choice(["default", "option2", "ifss"]), default="default", show_default=True,
              help="Programme costing to start from: default, Option 2 (about 30 hours per family), IFSS (bottom-up team).")
@click.option("--force", is_flag=True, help="Replace an existing file.")
@guarded
def template(path, preset, force):
    """Write an editable parameter workbook (every value with its source) to PATH."""
    from .workbook import write_template

    try:
        written = write_template(path, preset=preset, force=force)
    except (FileExistsError, ValueError) as exc:
        raise InputProblem(str(exc)) from None
    except OSError as exc:  # read-only folder, full disk, a folder of that name…
        raise OutputError(f"cannot write to {path}: {(exc.strerror or str(exc)).lower()}; choose another path") from None
    click.echo(f"Wrote {written} ({preset} preset). Edit the yellow cells, then: ifpp-econ validate {written}")


@main.command()
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
