"""Benchmark the CIN-linked baseline risk (issue 27) on a large synthetic authority.

Simulates (seeded) 10 census years of a large LA — about 15,000 children on child protection plans and
about 60,000 distinct SSDA903 episodes — writes the CIN returns (XML or CSV, one file per year) and the 903
Episodes/Header/UASC CSVs, then in a fresh process times reading the CIN files, reading and cleaning the
903 files, linking and estimating (family-level Aalen–Johansen with 1,000 bootstrap replicates), and prints
each stage's time and the process's peak resident memory (targets: read + link + estimate ≤ 30 s, ≤ 1 GB).

Usage: python benchmarks/cin_benchmark.py [--format xml|csv] [--families-per-year 750] [--seed 1]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(folder: Path, fmt: str, bootstrap: int) -> dict:
    """Stage times (s) and peak RSS (MB) of read + link + estimate, run in this (fresh) process."""
    from ifpp_econ.local_data.baseline_risk import estimate_baseline
    from ifpp_econ.local_data.cin_census import read_cin
    from ifpp_econ.local_data.ssda903 import clean, read_returns

    times = {}
    t = time.perf_counter()
    cin = read_cin(sorted(folder.glob(f"cin_*.{fmt}")))
    times[f"read CIN ({fmt}, 10 years, dedup)"] = time.perf_counter() - t
    t = time.perf_counter()
    returns = read_returns(sorted(folder.glob("episodes_*.csv")), sorted(folder.glob("header_*.csv")),
                           sorted(folder.glob("uasc_*.csv")))
    cleaned = clean(returns)
    times["read + clean 903"] = time.perf_counter() - t
    t = time.perf_counter()
    est = estimate_baseline(cin, cleaned, families=folder / "families.csv", uasc=returns.uasc["CHILD"],
                            bootstrap=bootstrap)
    times[f"link + cohort + estimate ({bootstrap} bootstrap replicates)"] = time.perf_counter() - t
    t = time.perf_counter()
    proxy = estimate_baseline(cin, cleaned, uasc=returns.uasc["CHILD"], bootstrap=bootstrap)
    times["the same with the census family proxy"] = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    rows = est.estimates.set_index("parameter")["value"].round(4).to_dict()
    return {"times": times, "peak_mb": peak, "families": est.counts["families in the cohort"],
            "children": est.counts["children in the cohort"], "link_rate": est.link_rate,
            "proxy_clusters": proxy.counts["proxy clusters (families)"], "estimates": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", choices=["xml", "csv"], default="xml")
    parser.add_argument("--families-per-year", type=float, default=750.0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: the fresh process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.format, args.bootstrap)))
        return

    from ifpp_econ.testing.synthetic_cin import LinkedConfig, simulate_linked

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        cfg = LinkedConfig(families_per_year=args.families_per_year, years=10, no_plan_children_per_year=3000,
                           other_entrants_per_year=800, placement_changes_per_year=2.0, unlinked_entrants_per_year=40)
        synth = simulate_linked(cfg, seed=args.seed)
        synth.write(folder, args.format)
        gen = time.perf_counter() - t
        plans = synth.cpp.merge(synth.referrals[["rid", "LAchildID"]], on="rid")
        on_plans = plans.loc[plans["start"] >= synth.data_start, "LAchildID"].nunique()
        n_eps = len(synth.episodes[synth.episodes["decom"] < synth.data_end])
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"synthetic authority: {on_plans:,} children starting plans in 10 census years, {n_eps:,} distinct 903 "
              f"episodes, {synth.referrals.shape[0]:,} CIN referrals; {len(list(folder.iterdir()))} files, {size:.0f} MB "
              f"(generated and written in {gen:.1f} s)")
        t = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--measure", str(folder), "--format", args.format,
                              "--bootstrap", str(args.bootstrap)], check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t
        res = json.loads(out.stdout.strip().splitlines()[-1])
    core = sum(v for k, v in res["times"].items() if not k.startswith("the same"))
    print(f"read + link + estimate: {core:.1f} s (target ≤ 30 s); peak memory {res['peak_mb']:,.0f} MB (target ≤ 1,024 MB); "
          f"fresh process incl. imports and the proxy run {wall:.1f} s")
    for stage, seconds in res["times"].items():
        print(f"  {stage:<58}{seconds:6.2f} s")
    print(f"cohort: {res['families']:,} families, {res['children']:,} children; link rate {res['link_rate']:.1%}; "
          f"proxy clusters {res['proxy_clusters']:,}")
    print("estimates: " + ", ".join(f"{k} {v:g}" for k, v in res["estimates"].items()))


if __name__ == "__main__":
    main()
