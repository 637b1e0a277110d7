#!/usr/bin/env python3
"""Deep mode against a bare libclang parse of the same translation units. See benchmarks/README.md.

    python benchmarks/deep.py -p BUILD_DIR [-j N] [--limit N] [PATH...]

PATH (default: every source file of the database) chooses the TUs. Every timing is a fresh
process, wall clock, start to exit, with N processes:

- bare libclang parse: each TU parsed by `clang.cindex` with the flags lifelint gives it
  (lifelint.facts.clang_types.clang_args), nothing read from the result; a process pool of N;
- lifelint --no-deep: the same files with the database's flags, no libclang;
- lifelint deep, cold: `lifelint check -p BUILD_DIR -j N --cache-dir EMPTY FILES`;
- lifelint deep, warm: the same command again (every TU a per-TU cache hit).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = r"""
import json, sys
from concurrent.futures import ProcessPoolExecutor

def parse(item):
    import clang.cindex as ci
    path, args = item
    tu = ci.Index.create().parse(path, args=args)
    return len(list(tu.diagnostics))

items = json.load(open(sys.argv[1]))
with ProcessPoolExecutor(max_workers=int(sys.argv[2])) as pool:
    list(pool.map(parse, items))
"""


def timed(cmd: list[str], cwd: str | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and everything it waited for). On a shared
    machine the CPU figure is the one to compare; the wall clock is what a user waits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode not in (0, 1):
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-p", dest="build", required=True, help="folder holding compile_commands.json")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="at most this many TUs (in database order)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement (the best is kept)")
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("paths", nargs="*")
    a = ap.parse_args()

    from lifelint import compdb
    from lifelint.facts import clang_types

    db = compdb.CompileDatabase.load(a.build)
    resource_dir = clang_types.find_resource_dir(None)
    if resource_dir is None:
        sys.exit(clang_types.setup_problem(None))
    wanted = [os.path.abspath(p) for p in a.paths]
    tus = [f for f in db.entries if not wanted or any(f == w or f.startswith(w.rstrip("/") + "/") for w in wanted)]
    tus = [f for f in tus if os.path.splitext(f)[1] in (".cpp", ".cc", ".cxx", ".c++")]
    if a.limit:
        tus = tus[:a.limit]
    if not tus:
        sys.exit("no translation unit selected")
    lines = sum(Path(f).read_bytes().count(b"\n") for f in tus)
    with tempfile.TemporaryDirectory() as tmp:
        items = Path(tmp, "items.json")
        items.write_text(json.dumps([(f, clang_types.clang_args(db.entries[f], resource_dir)) for f in tus]))
        bare_py = Path(tmp, "bare.py")
        bare_py.write_text(BARE)
        py = sys.executable
        lint = [py, "-m", "lifelint", "check", "--format", "json", "--no-progress", "-j", str(a.jobs), "-p", a.build]
        res: dict[str, tuple[float, float]] = {}

        def best(name, make_cmd, before=None):
            times = []
            for _ in range(a.repeat):
                if before:
                    before()
                times.append(timed(make_cmd()))
            res[name] = min(times, key=lambda x: x[1])

        best("bare libclang parse", lambda: [py, str(bare_py), str(items), str(a.jobs)])
        best("lifelint --no-deep", lambda: [*lint, "--no-cache", "--no-deep", *tus])
        cache = Path(tmp, "cache")

        def empty_cache():
            import shutil

            shutil.rmtree(cache, ignore_errors=True)

        best("lifelint deep cold", lambda: [*lint, "--cache-dir", str(cache), *tus], before=empty_cache)
        best("lifelint deep warm", lambda: [*lint, "--cache-dir", str(cache), *tus])
    print(f"{len(tus)} translation units, {lines} lines in their main files, -j {a.jobs}, resource dir {resource_dir}")
    print(f"  {'':24} {'wall':>8} {'CPU':>8}")
    for k, (wall, cpu) in res.items():
        print(f"  {k:24} {wall:7.2f}s {cpu:7.2f}s")
    cold, bare, warm = res["lifelint deep cold"], res["bare libclang parse"], res["lifelint deep warm"]
    print(f"  deep cold / bare parse   {cold[0] / bare[0]:7.2f}x {cold[1] / bare[1]:7.2f}x  (target <= 1.3x)")
    print(f"  deep warm / deep cold    {warm[0] / cold[0]:7.2f}x {warm[1] / cold[1]:7.2f}x  (target <= 0.10x)")
    if a.json:
        Path(a.json).write_text(json.dumps({"tus": len(tus), "lines": lines, "jobs": a.jobs,
                                            "wall_cpu_seconds": res}, indent=2))

if __name__ == "__main__":
    main()
