"""Benchmark `ifpp-econ rollup`: a region of many authorities on a process pool.

Writes a synthetic region (`ifpp_econ.testing.region.write_region`: the default workbook once per authority, each with
its own name and families referred a year, 10-120, seeded), then runs, in a fresh process,
`ifpp-econ rollup --dir REGION -n N --executor processes --json` and prints: wall time, CPU % (user + system of the
process and its workers over wall), peak memory — the largest single process (ru_maxrss) and the whole tree's peak
proportional set size (PSS, /proc/<pid>/smaps_rollup sampled every 0.1 s: forked workers share pages, so PSS is
what the tree really holds) — and time per authority-iteration, with the run's unit timings from its manifest.

Usage: python benchmarks/rollup_benchmark.py [--authorities 152] [--iterations 10000] [--workers N] [--repeats R]
       [--executor processes|serial|dask]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _pss_mb(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def run(region: Path, n: int, executor: str, workers: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        args = [sys.executable, "-m", "ifpp_econ", "rollup", "--dir", str(region), "-n", str(n), "--executor", executor,
                "--json", "--out", str(out)] + (["--workers", str(workers)] if workers else [])
        env = {**os.environ, "MPLBACKEND": "Agg"}
        peak = [0.0]
        t = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _pss_mb(_tree(proc.pid)))
                time.sleep(0.1)

        watcher = threading.Thread(target=sample, daemon=True)
        watcher.start()
        stdout = proc.stdout.read() if proc.stdout else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        done.set()
        watcher.join()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"rollup failed with exit code {os.waitstatus_to_exitcode(status)}")
        data = json.loads(stdout)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "max_rss_mb": usage.ru_maxrss / 1024,
            "pss_mb": peak[0], "execution": data["execution"], "authorities": len(data["authorities"]),
            "net_saving": data["total"]["net_saving"]}


def summary(values: list[float], fmt: str) -> str:
    return fmt.format(min(values)) if len(values) == 1 else \
        f"{fmt.format(min(values))} (median {fmt.format(statistics.median(values))})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--authorities", type=int, default=152)
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--executor", default="processes")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    from ifpp_econ.executors import available_cores
    from ifpp_econ.testing.region import write_region

    with tempfile.TemporaryDirectory() as tmp:
        region = Path(tmp) / "region"
        t = time.perf_counter()
        write_region(region, args.authorities, seed=29)
        print(f"{args.authorities} workbooks written in {time.perf_counter() - t:.1f} s (not timed below)")
        print(f"{os.cpu_count()} CPUs ({available_cores()} available), Python {sys.version.split()[0]}, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f}")
        runs = [run(region, args.iterations, args.executor, args.workers) for _ in range(args.repeats)]
    walls = [r["wall"] for r in runs]
    units = args.authorities * args.iterations
    r = runs[0]
    print(f"ifpp-econ rollup, {r['authorities']} authorities × {args.iterations:,} iterations, --executor "
          f"{args.executor} ({r['execution']['workers']} workers, chunks of {r['execution']['chunk_size']:,}):")
    print(f"  wall {summary(walls, '{:.1f} s')}, CPU {summary([x['cpu'] / x['wall'] for x in runs], '{:.0%}')}, "
          f"peak memory: largest process {summary([x['max_rss_mb'] for x in runs], '{:.0f} MB')}, whole tree (PSS) "
          f"{summary([x['pss_mb'] for x in runs], '{:.0f} MB')}")
    print(f"  {summary([w / units * 1e6 for w in walls], '{:.2f} µs')} wall per authority-iteration; CPU "
          f"{summary([x['cpu'] / units * 1e6 for x in runs], '{:.1f} µs')} per authority-iteration in all")
    print(f"  split: reading and validating the workbooks "
          f"{summary([x['execution']['reading_seconds'] for x in runs], '{:.1f} s')} wall, "
          f"{summary([x['execution']['reading_cpu_seconds'] for x in runs], '{:.1f} s')} CPU; "
          f"units ({r['execution']['units']}) {summary([x['execution']['units_seconds'] for x in runs], '{:.1f} s')} "
          f"wall, {summary([x['execution']['units_cpu_seconds'] for x in runs], '{:.1f} s')} CPU "
          f"({summary([x['execution']['units_cpu_seconds'] / units * 1e6 for x in runs], '{:.1f} µs')} per "
          f"authority-iteration); tables, chart, report and results.xlsx "
          f"{summary([x['execution']['writing_seconds'] for x in runs], '{:.1f} s')}")
    print(f"  the whole run's CPU over this machine's {available_cores()} cores (the wall time on an idle machine, "
          f"less start-up): {summary([x['cpu'] / available_cores() for x in runs], '{:.1f} s')}")
    t = r["net_saving"]
    print(f"  regional net saving £{t['mean']:,.0f} (95% interval £{t['lower']:,.0f} to £{t['upper']:,.0f})")


if __name__ == "__main__":
    main()
