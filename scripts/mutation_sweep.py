"""Run many random mutations of the template through every command and report each breach.

    python scripts/mutation_sweep.py [N=2000] [SEED=0] [--log FILE] [--start I] [--only I,J,…]

Mutation i is drawn from ``random.Random(f"{SEED}-{i}")``, so ``--only`` replays any of them.
After ``validate`` rejects a workbook (exit 2) the other commands are skipped: each reads the
workbook with the same ``load_inputs`` first (the property test runs them all).

Uses the mutations and the contract of ``tests/mutations.py`` (exit 0 or 2, never 1; on 2
a message naming the file and a sheet, nothing written, the input unchanged; and nothing
but exit 0 after ``validate`` said OK). Unlike the hypothesis test it does not stop at
the first breach: it prints a summary of every kind found and the mutations behind them.
"""
from __future__ import annotations

import collections
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mutations import check_commands, mutated_workbook  # noqa: E402

from ifpp_econ.inputs.template import write_template


def main(n: int, seed: int, log: Path | None, only: list[int] | None = None, start: int = 0) -> int:
    kinds = collections.Counter()
    counts = collections.Counter()
    examples = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        template = write_template(tmp / "template.xlsx")
        for i in only or range(start, n):
            rng = random.Random(f"{seed}-{i}")
            work = tmp / f"w{i}"
            work.mkdir()
            book = work / "mutated.xlsx"
            done = mutated_workbook(template, book, lambda options: rng.choice(list(options)))
            breaches = check_commands(book, work, all_after_rejection=False)
            valid = (work / "outputs").exists()  # validate said OK and the commands wrote their folders
            counts["valid" if valid else "rejected"] += 1
            for b in breaches:
                key = b.split(":", 1)[0] + ": " + b.split(":", 2)[-1][:90]
                kinds[key] += 1
                examples.setdefault(key, (i, done, b))
            if log:
                with open(log, "a") as fh:
                    fh.write(f"{i}\t{'valid' if valid else 'rejected'}\t{'; '.join(done)}\t{len(breaches)}\t"
                             f"{' | '.join(breaches)[:2000]}\n")
            shutil.rmtree(work, ignore_errors=True)
            if (i + 1) % 50 == 0:
                print(f"{i + 1:,}/{n:,} mutations, {sum(kinds.values())} breaches, "
                      f"{time.perf_counter() - started:,.0f} s", file=sys.stderr, flush=True)
    print(f"{len(only) if only else n - start:,} mutations (seed {seed}) in {time.perf_counter() - started:,.0f} s: "
          f"{sum(kinds.values())} breaches of {len(kinds)} kinds; {counts['valid']:,} mutated workbooks passed "
          f"validate and ran every command, {counts['rejected']:,} were rejected with exit 2")
    for key, count in kinds.most_common():
        i, done, b = examples[key]
        print(f"\n{count} × {key}\n  e.g. mutation {i}: {'; '.join(done)}\n  {b[:600]}")
    return 1 if kinds else 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    options = {argv[k]: argv[k + 1] for k in range(len(argv) - 1) if argv[k].startswith("--")}
    args = [a for k, a in enumerate(argv) if not a.startswith("--") and (k == 0 or not argv[k - 1].startswith("--"))]
    only = [int(x) for x in options["--only"].split(",")] if "--only" in options else None
    sys.exit(main(int(args[0]) if args else 2000, int(args[1]) if len(args) > 1 else 0,
                  Path(options["--log"]) if "--log" in options else None, only, int(options.get("--start", 0))))
