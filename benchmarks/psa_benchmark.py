"""Benchmark the PSA: vectorised model vs one-model-call-per-iteration, and end-to-end runs.

Prints:
  (a) model time for 10,000 iterations of the default workbook (vectorised, chunked);
  (b) the same done the way most tools do it — the model called once per iteration —
      timed on a sample of iterations and extrapolated, and the speed-up ratio;
  (c) `ifpp-econ psa -n N` end to end (a subprocess: sampling, model, summaries, charts,
      files) with wall time and peak resident memory, for N = 10,000 and 1,000,000.

Usage: python benchmarks/psa_benchmark.py [--skip-million] [--loop-sample 300]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path



def vectorised_model_time(inputs, n: int, seed: int = 1, repeats: int = 3) -> tuple[float, float, float]:
    """Best and median model seconds over ``repeats`` runs (after one warm-up run), and the best wall time."""
    from ifpp_econ.psa import run_psa

    run_psa(inputs, n, seed)  # warm up: imports, first touch of memory
    model, wall = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        result = run_psa(inputs, n, seed)
        wall.append(time.perf_counter() - t)
        model.append(result.timings["model_seconds"])
    return min(model), sorted(model)[len(model) // 2], min(wall)


def loop_model_time(inputs, n_sample: int, seed: int = 1) -> float:
    """Seconds per iteration when the model is called once per iteration."""
    from ifpp_econ.model import run_model
    from ifpp_econ.sampling import sample
    from ifpp_econ.spec import build_spec, link_cumulative_risks

    spec = build_spec(inputs)
    draws = sample(inputs.parameters, n_sample, seed, correlations=inputs.correlations)
    draws, _ = link_cumulative_risks(draws, inputs)
    run_model(draws.iloc[[0]], spec)
    t = time.perf_counter()
    for i in range(n_sample):
        run_model(draws.iloc[[i]], spec)
    return (time.perf_counter() - t) / n_sample


def end_to_end(n: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `ifpp-econ psa -n n` in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ifpp_econ", "psa", "-n", str(n), "--seed", "7", "--out", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-million", action="store_true", help="skip the 1,000,000-iteration end-to-end run")
    parser.add_argument("--loop-sample", type=int, default=300, help="iterations timed in the per-iteration loop")
    args = parser.parse_args()

    from ifpp_econ.workbook import read_workbook
    from importlib.resources import files

    inputs = read_workbook(files("ifpp_econ") / "data" / "default.xlsx")
    model_s, median_s, wall_s = vectorised_model_time(inputs, 10_000)
    print(f"(a) vectorised PSA, 10,000 iterations: model {model_s:.3f} s (best of 3; median {median_s:.3f} s), "
          f"sampling + model + summaries {wall_s:.3f} s ({10_000 / model_s:,.0f} iterations/s of model time)")
    per_iter = loop_model_time(inputs, args.loop_sample)
    print(f"(b) per-iteration loop: {per_iter * 1000:.2f} ms per iteration "
          f"(timed on {args.loop_sample}), i.e. {per_iter * 10_000:.1f} s for 10,000; "
          f"speed-up of the vectorised model: {per_iter * 10_000 / model_s:,.0f}x")
    for n in ([10_000] if args.skip_million else [10_000, 1_000_000]):
        wall, peak = end_to_end(n)
        print(f"(c) ifpp-econ psa -n {n:,}: {wall:.1f} s end to end, peak memory {peak:,.0f} MB, "
              f"{n / wall:,.0f} iterations/s")


if __name__ == "__main__":
    main()
