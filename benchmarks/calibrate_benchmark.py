"""Benchmark `ifpp-econ calibrate` on a 10-year synthetic SSDA903 file for a large LA.

Simulates (seeded) about 2,000 children in care at any time and about 60,000 episodes over
10 collection years, writes them as DfE-style annual CSVs (Episodes, Header, UASC), then
runs `ifpp-econ calibrate` on them in a fresh process and prints its wall time and peak
resident memory (targets: under 20 s and 1 GB), with the time of each stage in-process.

Usage: python benchmarks/calibrate_benchmark.py [--entrants 650] [--split-rate 0.16] [--seed 1]
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def stages(paths: dict, out: Path) -> dict[str, float]:
    """Seconds of each stage when run in this process (read, clean, estimate, write)."""
    from ifpp_econ import default_workbook
    from ifpp_econ.inputs.reader import read_workbook
    from ifpp_econ.local_data.care_dynamics import Options, estimate
    from ifpp_econ.local_data.ssda903 import clean, read_returns
    from ifpp_econ.outputs.calibration import write_report, write_workbook
    from ifpp_econ.outputs.run_folder import RunFolder

    times = {}
    t = time.perf_counter()
    returns = read_returns(paths["episodes"], paths["header"], paths["uasc"])
    times["read 903 files"] = time.perf_counter() - t
    t = time.perf_counter()
    cleaned = clean(returns)
    times["stitch, repair, periods"] = time.perf_counter() - t
    inputs = read_workbook(default_workbook())
    t = time.perf_counter()
    cal = estimate(cleaned, Options(), inputs.parameters["value"].to_dict(), list(inputs.age_bands["band"]))
    times["estimate (incl. 200 bootstrap replicates)"] = time.perf_counter() - t
    t = time.perf_counter()
    write_workbook(default_workbook(), out, cal, "benchmark")
    times["write workbook copy"] = time.perf_counter() - t
    t = time.perf_counter()
    with RunFolder("calibrate", out.with_name("stages_calibration")) as folder:
        write_report(folder, cal, "benchmark", out)
        folder.commit(inputs)
    times["write report (tables, charts)"] = time.perf_counter() - t
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entrants", type=float, default=650, help="entrants per year (default 650)")
    parser.add_argument("--split-rate", type=float, default=0.16, help="placement/legal changes per month (default 0.16)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    from ifpp_econ.testing.synthetic903 import SyntheticConfig, simulate, write_returns

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        synth = simulate(SyntheticConfig(entrants_per_year=args.entrants, years=10, split_rate=args.split_rate),
                         seed=args.seed)
        paths = write_returns(synth, tmp / "903")
        last = synth.episodes[max(synth.episodes)]
        in_care = last.loc[last["DEC"].isna() & ~last["LS"].isin(["V3", "V4"]), "CHILD"].nunique()
        size = sum(p.stat().st_size for files in paths.values() for p in files) / 1e6
        print(f"synthetic data: {synth.n_children:,} children, {synth.n_episodes:,} distinct episodes, {in_care:,} in care "
              f"on 31 March {max(synth.episodes)}; {sum(map(len, paths.values()))} CSV files, {size:.1f} MB "
              f"(generated in {time.perf_counter() - t:.1f} s)")

        files = [str(p) for group in paths.values() for p in group]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ifpp_econ", "calibrate", *files, "--out", str(tmp / "local.xlsx")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024.0
        print(f"ifpp-econ calibrate end to end: {wall:.1f} s wall, peak memory {peak:,.0f} MB "
              f"(targets: < 20 s, < 1,024 MB)")

        for stage, seconds in stages(paths, tmp / "stages.xlsx").items():
            print(f"  {stage:<45}{seconds:6.2f} s")


if __name__ == "__main__":
    main()
