"""Benchmark the PSA end to end and the engine on the published HIV PSA.

Prints:
  (a) `ifpp-econ psa -n N` on the default workbook, each in a fresh process, for
      N = 10,000 / 100,000 / 1,000,000: wall time, CPU % (user + system over wall), peak
      resident memory, time per iteration, and the split start-up / sampling + model (chunks
      run side by side, so their wall time is one phase, with its CPU %; the model's CPU per
      iteration) / EVPPI / writing incl. charts (from the run's manifest);
  (b) `ifpp-econ run` end to end (the deterministic base case);
  (d) `ifpp-econ report -n 10000` end to end;
  (e) the 1,000,000-iteration PSA against the machine's floor: the sampling and the model's kernel each measured
      alone on one thread (CPU per iteration) × N ÷ cores, the run's wall time as a multiple of it, and its split;
  (c) the Briggs Exercise 4.7 HIV PSA (Chancellor 1997) through the documented engine API
      (`simulate` with `cycle_index`, `check=False`, `keep_trace=False`) at 1,000,000
      samples in chunks of 8,192 on one thread: CPU per sample, and the ratio to heemod 1.0.2's measured 21 ms
      of CPU per sample (the reference figure from issue 18, same machine).

With --repeats R every measurement is repeated R times, interleaved (sizes in turn), and
min / median are printed: the machine is shared, so single timings are noisy.

Usage: python benchmarks/psa_benchmark.py [--sizes 10000,100000,1000000] [--repeats 3] [--workers N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEEMOD_CPU_PER_SAMPLE = 21e-3  # s, heemod 1.0.2 run_psa on the same HIV model (issue 18)
HEEMOD_REFERENCE = ("heemod 1.0.2 run_psa, sampling + model, 21 ms CPU per sample on a quiet machine (issue 18; "
                    "36.9–40.8 ms in issue 31's runs on a shared machine, load ≈ 2)")


def run_cli(args: list[str]) -> dict:
    """Run `python -m ifpp_econ *args` in a fresh process → wall, cpu, peak MB, manifest timings."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # bytecode cached, as
        env["MPLBACKEND"] = "Agg"                                                         # after a pip install
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "ifpp_econ", *args, "--out", str(out)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"ifpp-econ {' '.join(args)} failed with exit code {proc.returncode}")
        timings = json.loads((out / "manifest.json").read_text()).get("timings", {})
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024, "timings": timings}


HIV_CHUNK = 8_192  # HIV samples per chunk: draws, matrices and row values of a chunk (≈ 7 MB) stay in the L3; on
# the 2-core EPYC of December 2026 (1 MB L2) chunks of 4,096–16,384 measured within noise of each other, 1,024–2,048
# slower (each chunk's fixed costs: the sampler's blocks, pandas, numpy calls), 50,000 ≈ 25% slower on an earlier machine


def hiv_psa_per_sample(n: int, chunk: int = HIV_CHUNK, seed: int = 1) -> tuple[float, float, float]:
    """(model wall, model CPU, sampling CPU) seconds per sample of the HIV PSA via the engine API, on one thread (as
    heemod runs; CPU per sample is then the work done, without a thread pool's waiting): the draws (sampling) and the
    model are timed apart, so both "model only" and "sampling + model" (what heemod's run_psa time includes) can be
    printed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hiv_psa import hiv_psa_inputs, hiv_psa_run

    from ifpp_econ.engine import keep_freed_memory, threads

    keep_freed_memory()  # chunks reuse their freed arrays, as a chunked PSA of the package does (plan_chunks)
    wall = cpu = sampling = 0.0
    with threads.single_thread():
        hiv_psa_run(*hiv_psa_inputs(chunk, seed, n))  # warm: the compiled loop's one-thread twin loaded, not timed
        for start in range(0, n, chunk):
            c = time.process_time()
            inputs = hiv_psa_inputs(min(chunk, n - start), seed, start)
            sampling += time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            hiv_psa_run(*inputs)
            wall += time.perf_counter() - t
            cpu += time.process_time() - c
    return wall / n, cpu / n, sampling / n


def floor_per_iteration(n: int = 65_536, chunk: int = 8_192, seed: int = 7) -> tuple[float, float, float]:
    """(sampling, compiled kernel, whole model) CPU seconds per iteration of the default workbook's PSA, measured alone
    on one thread in this process (chunks of ``chunk`` iterations, as a million-iteration PSA cuts them, after one
    warm-up chunk). The kernel is the compiled family-states loop alone; the whole model adds the numpy work around it
    (entry curves, costing). The machine's floor for a PSA is (sampling + kernel) × iterations ÷ cores."""
    from ifpp_econ import default_workbook
    from ifpp_econ.analyses.psa import draw, plan_chunks
    from ifpp_econ.engine import threads
    from ifpp_econ.inputs.reader import read_workbook
    from ifpp_econ.model import kernels
    from ifpp_econ.model.family_states import run_model

    plan = plan_chunks(read_workbook(default_workbook()))
    seconds = {"sampling": 0.0, "kernel": 0.0, "model": 0.0}
    compiled = kernels.compiled

    def timed(name, size):  # the compiled loop, its CPU time counted apart
        function = compiled(name, size)

        def call(*args):
            c = time.process_time()
            try:
                return function(*args)
            finally:
                seconds["kernel"] += time.process_time() - c
        return call

    kernels.compiled = timed
    try:
        with threads.single_thread():
            run_model(draw(plan.inputs, chunk, seed, 0, None, plan.sampler), plan.spec)
            seconds["kernel"] = 0.0
            for start in range(0, n, chunk):
                c = time.process_time()
                draws = draw(plan.inputs, chunk, seed, start, None, plan.sampler)
                seconds["sampling"] += time.process_time() - c
                c = time.process_time()
                run_model(draws, plan.spec)
                seconds["model"] += time.process_time() - c
    finally:
        kernels.compiled = compiled
    return seconds["sampling"] / n, seconds["kernel"] / n, seconds["model"] / n


def summary(values: list[float], fmt: str) -> str:
    return fmt.format(min(values)) if len(values) == 1 else \
        f"{fmt.format(min(values))} (median {fmt.format(statistics.median(values))})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="PSA iterations, comma-separated")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repetitions of every measurement")
    parser.add_argument("--workers", type=int, help="--workers passed to ifpp-econ psa (default: all cores)")
    parser.add_argument("--hiv-samples", type=int, default=1_000_000, help="HIV PSA samples (0 to skip)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    extra = ["--workers", str(args.workers)] if args.workers else []

    from ifpp_econ.engine.threads import available_cores
    print(f"{os.cpu_count()} CPUs ({available_cores()} available), Python {sys.version.split()[0]}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.2f} "
          "(1 minute; ratios mean most on a quiet machine)")
    run_cli(["psa", "-n", "2000", "--no-evppi"])  # warm the numba cache, the bytecode and the file cache
    run_cli(["report", "-n", "2000"])
    psa: dict[int, list[dict]] = {n: [] for n in sizes}
    base, hiv, report, floor = [], [], [], []
    for _ in range(args.repeats):
        floor.append(floor_per_iteration())
        for n in sizes:
            psa[n].append(run_cli(["psa", "-n", str(n), "--seed", "7", *extra]))
        base.append(run_cli(["run"]))
        report.append(run_cli(["report", "-n", "10000", *extra]))
        if args.hiv_samples:
            hiv.append(hiv_psa_per_sample(args.hiv_samples))

    for n, runs in psa.items():
        t = [r["timings"] for r in runs]
        phase_cpu = [100 * x["chunks_cpu_seconds"] / max(x["chunks_seconds"], 1e-9) for x in t]
        writing = [x["writing_seconds"] - x.get("evppi_seconds", 0.0) for x in t]
        print(f"(a) ifpp-econ psa -n {n:,}: wall {summary([r['wall'] for r in runs], '{:.1f} s')}, "
              f"CPU {summary([100 * r['cpu'] / r['wall'] for r in runs], '{:.0f}%')}, "
              f"peak {summary([r['peak_mb'] for r in runs], '{:,.0f} MB')}, "
              f"{summary([1e6 * r['wall'] / n for r in runs], '{:.1f} µs')}/iteration")
        print(f"    split: start-up {summary([r['wall'] - x['total_seconds'] for r, x in zip(runs, t)], '{:.2f} s')}; "
              f"sampling + model {summary([x['chunks_seconds'] for x in t], '{:.2f} s')} wall "
              f"(CPU {summary(phase_cpu, '{:.0f}%')}; model CPU "
              f"{summary([1e6 * x['model_cpu_seconds'] / n for x in t], '{:.1f} µs')}/iteration, sampling "
              f"{summary([x['sampling_seconds'] for x in t], '{:.2f}')} thread-seconds); "
              f"EVPPI {summary([x.get('evppi_seconds', 0.0) for x in t], '{:.2f} s')}; "
              f"writing {summary(writing, '{:.2f} s')}; "
              f"total in-process {summary([x['total_seconds'] for x in t], '{:.2f} s')}")
    cores = available_cores()
    sampling_alone, kernel_alone, model_alone = (min(f[i] for f in floor) for i in range(3))
    for n, runs in psa.items():
        if n < 1_000_000:
            continue
        t = [r["timings"] for r in runs]
        limit = (sampling_alone + kernel_alone) * n / cores
        walls = [r["wall"] for r in runs]
        print(f"(e) psa -n {n:,} against the machine's floor: kernel alone {1e6 * kernel_alone:.2f} µs + sampling alone "
              f"{1e6 * sampling_alone:.2f} µs CPU per iteration (one thread, min of {len(floor)}; the whole model with "
              f"the numpy around the kernel {1e6 * model_alone:.2f} µs) × {n:,} ÷ {cores} cores = {limit:.2f} s; "
              f"the run {summary(walls, '{:.2f} s')} = {summary([w / limit for w in walls], '{:.2f}×')} the floor "
              "(target ≤ 1.5×)")
        print(f"    split: start-up {summary([r['wall'] - x['total_seconds'] for r, x in zip(runs, t)], '{:.2f} s')}, "
              f"chunks {summary([x['chunks_seconds'] for x in t], '{:.2f} s')} "
              f"({summary([x['chunks_seconds'] / limit for x in t], '{:.2f}×')} the floor; in them model CPU "
              f"{summary([1e6 * x['model_cpu_seconds'] / n for x in t], '{:.2f} µs')} and sampling "
              f"{summary([1e6 * x['sampling_seconds'] / n for x in t], '{:.2f} µs')} wall per iteration), in-process "
              f"around the chunks {summary([x['total_seconds'] - x['chunks_seconds'] for x in t], '{:.2f} s')} "
              "(workbook, base case; then the structural PSA beside it, EVPPI, tables, charts not yet drawn, "
              "results.xlsx)")
    print(f"(b) ifpp-econ run: wall {summary([r['wall'] for r in base], '{:.2f} s')}")
    print(f"(d) ifpp-econ report -n 10000: wall {summary([r['wall'] for r in report], '{:.2f} s')}, "
          f"CPU {summary([100 * r['cpu'] / r['wall'] for r in report], '{:.0f}%')} (CPU of the report process and its "
          f"workers), peak {summary([r['peak_mb'] for r in report], '{:,.0f} MB')}")
    if hiv:
        wall = [w for w, _, _ in hiv]
        cpu = [c for _, c, _ in hiv]
        both = [c + s for _, c, s in hiv]
        print(f"(c) HIV PSA (Briggs Ex. 4.7) via engine.simulate, {args.hiv_samples:,} samples in chunks of "
              f"{HIV_CHUNK:,} on one thread; reference: {HEEMOD_REFERENCE}")
        print(f"    HIV model only: {summary([1e6 * c for c in cpu], '{:.2f} µs')} CPU per sample "
              f"({summary([1e6 * w for w in wall], '{:.2f} µs')} wall), {HEEMOD_CPU_PER_SAMPLE / min(cpu):,.0f}× heemod "
              "(not like for like: heemod's time includes its sampling)")
        print(f"    HIV like for like (sampling + model): {summary([1e6 * b for b in both], '{:.2f} µs')} CPU per sample, "
              f"{HEEMOD_CPU_PER_SAMPLE / min(both):,.0f}× heemod")


if __name__ == "__main__":
    main()
