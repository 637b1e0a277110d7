"""Scan varied (mutated) C++ and Rust inputs one after another in this one process and print the
resident set size as it goes: `python fuzz/memory_loop.py --inputs 20000 [--corpus DIR ...]`.
A leak shows as RSS that keeps growing after the warm-up (issue 16: ~100 KB per C++ file)."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lifelint_fuzz as lf  # noqa: E402

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE / 2**20


def scan_loop(rng: random.Random, seeds: lf.Seeds, n: int, workdir: Path, every: int, on_sample) -> None:
    """Scan n one-file projects (2 of 3 C++, 1 of 3 Rust), each a mutated seed, the way an editor
    scans the buffer it holds; call on_sample(i, rss_mb) every `every` inputs and at the end."""
    from lifelint.engine import scan_paths

    for i in range(n):
        lang = "rust" if i % 3 == 2 else "cpp"
        pool = seeds.of_language(lang) or seeds.files
        name, data = rng.choice(pool)
        p = workdir / ("input.rs" if lang == "rust" else "input.cpp")
        p.write_bytes(lf.mutate(rng, data, lang, seeds))
        scan_paths([str(p)], root=str(workdir), jobs=1)
        if i % every == 0 or i == n - 1:
            on_sample(i, rss_mb())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", action="append", default=[])
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--warm-up", type=int, default=1000)
    ap.add_argument("--freeze-min-lines", type=int, default=None,
                    help="override lifelint.engine.FREEZE_MIN_LINES (0: every scan takes a big project's path)")
    ap.add_argument("--json", action="store_true", help="print the samples as one JSON object")
    args = ap.parse_args(argv)
    if args.freeze_min_lines is not None:
        from lifelint import engine

        engine.FREEZE_MIN_LINES = args.freeze_min_lines
    seeds = lf.load_seeds(args.corpus, rng=random.Random(args.seed))
    samples: list[tuple[int, float]] = []

    def show(i, mb):
        samples.append((i, mb))
        if not args.json:
            print(f"input {i + 1}: rss {mb:.1f} MB", flush=True)

    with tempfile.TemporaryDirectory() as d:
        scan_loop(random.Random(args.seed), seeds, args.inputs, Path(d), args.every, show)
    after = [mb for i, mb in samples if i >= args.warm_up]
    if args.json:
        print(json.dumps({"samples": samples, "warm_up": args.warm_up}))
    elif after:
        print(f"start {samples[0][1]:.1f} MB; after warm-up ({args.warm_up} inputs) {after[0]:.1f} MB; "
              f"max {max(after):.1f} MB; end {samples[-1][1]:.1f} MB; growth after warm-up {max(after) - after[0]:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
