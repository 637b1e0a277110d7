"""The long fuzz run: `python fuzz/run.py --inputs N --seed S --jobs J [--corpus DIR ...]`.

Each of J processes fuzzes its share of N inputs with its own seed (S + its number); every
`--pool-every`-th input is a project of at least 8 files also scanned with two workers and compared.
Failing projects are written under --out (one folder each, FAILURE.txt says what failed); totals
are printed at the end. Exit status 1 when anything failed. See fuzz/README.md.

`--atheris`: coverage-guided instead (one process): libFuzzer keeps the inputs that reach new
code in lifelint and mutates them with the same structural mutations (fuzz/atheris_target.py).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lifelint_fuzz as lf  # noqa: E402


def worker(k: int, n: int, args) -> tuple[int, Counter, list[str]]:
    rng = random.Random(args.seed + k)
    seeds = lf.load_seeds(args.corpus, args.corpus_limit, rng=random.Random(args.seed + 1000 + k))
    out = Path(args.out)
    kinds: Counter = Counter()
    saved: list[str] = []
    t0 = time.monotonic()
    for i in range(n):
        files, failures = lf.fuzz_one(rng, seeds, seconds=args.time_limit,
                                      compare_jobs=args.pool_every > 0 and i % args.pool_every == args.pool_every - 1)
        if failures:
            kinds.update(f.kind for f in failures)
            saved.append(str(lf.save_failure(out, f"seed{args.seed + k}-input{i}", files, failures)))
        if args.progress and (i + 1) % args.progress == 0:
            print(f"[worker {k}] {i + 1}/{n} inputs, {sum(kinds.values())} failures, {time.monotonic() - t0:.0f}s", flush=True)
    return n, kinds, saved


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="fuzzing processes")
    ap.add_argument("--corpus", action="append", default=[], help="also seed from C++/Rust files under DIR (repeatable)")
    ap.add_argument("--corpus-limit", type=int, default=2000, help="corpus files sampled per DIR")
    ap.add_argument("--out", default="fuzz/failures", help="folder for failing inputs")
    ap.add_argument("--time-limit", type=float, default=20.0, help="CPU seconds per input before it counts as a hang (ten times that on the wall clock)")
    ap.add_argument("--pool-every", type=int, default=25, help="every Nth input also scanned with two workers (0: never)")
    ap.add_argument("--progress", type=int, default=500, help="print a line every N inputs per worker (0: never)")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    shares = [args.inputs // args.jobs + (k < args.inputs % args.jobs) for k in range(args.jobs)]
    if args.jobs == 1:
        results = [worker(0, shares[0], args)]
    else:
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.starmap(worker, [(k, shares[k], args) for k in range(args.jobs)])
    total = sum(r[0] for r in results)
    kinds = sum((r[1] for r in results), Counter())
    saved = [s for r in results for s in r[2]]
    dt = time.monotonic() - t0
    print(f"inputs: {total}  seeds: {args.seed}..{args.seed + args.jobs - 1}  failures: {sum(kinds.values())} {dict(kinds)}  "
          f"time: {dt:.0f}s ({total / dt:.1f} inputs/s)")
    for s in saved:
        print(f"  failing input: {s}")
    return 1 if saved else 0


if __name__ == "__main__":
    sys.exit(main())
