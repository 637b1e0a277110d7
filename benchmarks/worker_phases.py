#!/usr/bin/env python3
"""Where a pool worker spends its CPU, phase by phase: what `lifelint check` does per file before
the main process takes over, in one process. See benchmarks/README.md.

    python benchmarks/worker_phases.py TREE [--limit N]

For every file lifelint would scan in TREE (its own discovery), with the cyclic GC paused as the
engine pauses it: the C++ pre-pass, the tree-sitter parse, the fact extractors (the function
flow walk, lock holders, atomics, lock notes, comments, the rest of the declarations pass), the
summary, pickling the facts and summary (worker) and unpickling them (main process). Prints CPU
seconds per phase, exclusive of the phases it calls, and the pickles' total size.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

from lifelint import cache as cache_mod
from lifelint import cpp_prepass, parsing
from lifelint import facts as facts_mod
from lifelint.discovery import discover
from lifelint.facts import common, cpp, cpp_atomics, cpp_flow, cpp_lock_notes, cpp_locks
from lifelint.settings import Settings
from lifelint.summary import summarize

sys.path.insert(0, str(Path(__file__).resolve().parent))
from phases import TOTALS, timed  # noqa: E402  (one timer for both scripts: exclusive CPU per phase)



def install() -> None:
    cpp_prepass.prepass = timed("C++ pre-pass", cpp_prepass.prepass)
    cpp_flow.extract = timed("function flow walk (cpp_flow)", cpp_flow.extract)
    cpp_locks.extract_locks = timed("lock holders (cpp_locks.extract_locks)", cpp_locks.extract_locks)
    cpp_atomics.extract = timed("atomics", cpp_atomics.extract)
    cpp_lock_notes.extract = timed("lock notes", cpp_lock_notes.extract)
    cpp.extract = timed("declarations, classes, globals (facts/cpp.py, rest)", cpp.extract)
    common.collect_comments_and_errors = timed("comments and error ranges", common.collect_comments_and_errors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tree")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files")
    args = ap.parse_args()
    install()
    extract = timed("other extraction (Rust facts, ...)", facts_mod.extract_facts)
    summary_of = timed("summary", summarize)
    settings = Settings()
    files = discover([args.tree], Path(args.tree), [], True).files
    if args.limit:
        files = files[:args.limit]
    size = 0
    for src in files:
        gc.disable()  # as a worker and the main process do per file (cache.gc_paused)
        data = Path(src.path).read_bytes()
        prepared = parsing.prepare(src.language, data, settings.cpp)
        t0 = time.process_time()
        tree = parsing.parser(src.language).parse(prepared)
        TOTALS["tree-sitter parse"] += time.process_time() - t0
        facts = extract(src.display, src.language, data, tree, settings)
        summary = summary_of(facts)
        del tree
        t0 = time.process_time()
        payloads = (cache_mod.dumps((facts, [])), cache_mod.dumps(summary))
        TOTALS["pickling (worker)"] += time.process_time() - t0
        del facts, summary
        size += sum(map(len, payloads))
        t0 = time.process_time()
        loaded = [cache_mod.loads(p) for p in payloads]
        TOTALS["unpickling (main process)"] += time.process_time() - t0
        del loaded
        gc.enable()
    for name, took in TOTALS.most_common():
        print(f"  {took:6.2f}  {name}")
    print(f"  {sum(TOTALS.values()):6.2f}  total, {len(files)} files, pickles {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
