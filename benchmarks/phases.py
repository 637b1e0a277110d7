#!/usr/bin/env python3
"""Where one `lifelint check` spends its CPU, phase by phase, in one process. See benchmarks/README.md.

    python benchmarks/phases.py check --format json --no-progress -j 1 [--cache-dir DIR] PATH...

Runs the CLI with the given arguments (its report goes to stdout as usual) and prints to stderr
the CPU seconds of each phase, exclusive of the phases it calls: discovery, hashing the files
for the whole-scan cache key, loading the fact cache (reading and unpickling), cross-file lock
effects, the project index, each project-wide pass built on first use (`ProjectIndex.memo`: the
lock index, the thread model, the rules' own tables, by key), the rules' own work, and the rest
of the check (suppressions, locations, fingerprints). With `-j 1` the files that are not cache
hits are analysed in this process too (under "other").
"""

from __future__ import annotations

import collections
import sys
import time

from lifelint import cache as cache_mod
from lifelint import engine
from lifelint import index as index_mod
from lifelint.cli import main

TOTALS: collections.Counter = collections.Counter()
_STACK: list[float] = []


def timed(name: str, fn):
    def wrapper(*a, **kw):
        t0 = time.process_time()
        _STACK.append(0.0)
        try:
            return fn(*a, **kw)
        finally:
            took = time.process_time() - t0
            TOTALS[name] += took - _STACK.pop()
            if _STACK:
                _STACK[-1] += took
    return wrapper


def _memo(orig):
    def wrapper(self, key, build):
        if key in self._memo:
            return self._memo[key]
        return timed("pass " + key.split(":")[0], orig)(self, key, build)
    return wrapper


def install() -> None:
    engine.discover = timed("discovery", engine.discover)
    cache_mod.scan_key = timed("whole-scan cache key (hashing the files)", cache_mod.scan_key)
    fc = cache_mod.FactCache
    name = "lookup_with_summary" if hasattr(fc, "lookup_with_summary") else "lookup"  # (a lifelint before summaries)
    setattr(fc, name, timed("fact cache: read and unpickle", getattr(fc, name)))
    engine._check = timed("check: suppressions, locations, fingerprints", engine._check)
    engine.run_rules = timed("rules (their own work)", engine.run_rules)
    engine._apply_project_lock_effects = timed("cross-file lock effects", engine._apply_project_lock_effects)
    index_mod.ProjectIndex.__init__ = timed("project index", index_mod.ProjectIndex.__init__)
    index_mod.ProjectIndex.memo = _memo(index_mod.ProjectIndex.memo)


if __name__ == "__main__":
    install()
    t0, w0 = time.process_time(), time.perf_counter()
    try:
        main(sys.argv[1:], standalone_mode=False)
    except SystemExit:
        pass
    total = time.process_time() - t0
    print(f"main process: {total:.2f} s CPU, {time.perf_counter() - w0:.2f} s wall", file=sys.stderr)
    for name, took in TOTALS.most_common():
        if took >= 0.005:
            print(f"  {took:6.2f}  {name}", file=sys.stderr)
    print(f"  {total - sum(TOTALS.values()):6.2f}  other (start-up, imports, analysis in this process, report)", file=sys.stderr)
