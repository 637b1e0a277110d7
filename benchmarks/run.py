#!/usr/bin/env python3
"""Benchmark lifelint on pinned real corpora. See benchmarks/README.md.

    python benchmarks/run.py [--jobs N] [--corpus-dir DIR] [--local DIR] [--only libtorrent|tokio]

Per corpus it prints: files, lines, the bare tree-sitter parse time of the same files with the
same number of processes, lifelint cold (empty cache dir) and warm times, lines per second,
peak RSS, the ratio cold / bare parse; for the C++ corpus it also times cppcheck on the same
tree as a peer. Every timing is a fresh process, wall clock, start to exit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

# --- the pinned corpora ------------------------------------------------------------------------

LIBTORRENT = {
    "name": "libtorrent",
    "package": "libtorrent-rasterbar",
    "version": "2.0.8-1",
    "dsc": "libtorrent-rasterbar_2.0.8-1.dsc",
    "orig": "libtorrent-rasterbar_2.0.8.orig.tar.xz",
    # From the .dsc's Checksums-Sha256 (Debian bookworm); checked before extracting.
    "orig_sha256": "96ac37959494602b11d7026f95c69fa007ee890fec4e3c5f50dbf4af5b1a3e36",
    "topdir": "libtorrent-2.0.8",
}
TOKIO = {
    "name": "tokio",
    "package": "librust-tokio-dev",
    "registry": "/usr/share/cargo/registry",
    "version": "1.24.2",  # Debian bookworm's; another version is used (and said) if that is what is installed
}
DEFAULT_LOCAL = ("/work/corpus",)  # where a previous `apt-get source --download-only` may have left the files


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def default_corpus_dir() -> Path:
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("lifelint-bench", appauthor=False))
    except ImportError:
        return Path.home() / ".cache" / "lifelint-bench"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_libtorrent(corpus_dir: Path, local: list[Path]) -> Path:
    """The libtorrent 2.0.8 tree (Debian's orig tarball, unpatched), extracted under corpus_dir."""
    spec = LIBTORRENT
    dest = corpus_dir / spec["topdir"]
    if (dest / ".complete").exists():
        return dest
    downloads = corpus_dir / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    orig = None
    for d in [downloads, *local]:
        if (d / spec["orig"]).is_file():
            orig = d / spec["orig"]
            log(f"reusing {orig}")
            break
    if orig is None:
        log(f"fetching {spec['package']} {spec['version']} with apt-get source (needs deb-src lines)")
        subprocess.run(["apt-get", "source", "--download-only", f"{spec['package']}={spec['version']}"],
                       cwd=downloads, check=True)
        orig = downloads / spec["orig"]
    digest = _sha256(orig)
    if digest != spec["orig_sha256"]:
        sys.exit(f"{orig}: sha256 {digest} is not the pinned {spec['orig_sha256']}")
    tmp = Path(tempfile.mkdtemp(dir=corpus_dir, prefix=".extract-"))
    with tarfile.open(orig) as tar:
        try:
            tar.extractall(tmp, filter="data")
        except TypeError:  # Python without extraction filters
            tar.extractall(tmp)
    if dest.exists():
        shutil.rmtree(dest)
    (tmp / spec["topdir"]).rename(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    (dest / ".complete").write_text(spec["orig_sha256"] + "\n")
    return dest


def fetch_tokio() -> Path:
    """tokio's source as Debian packages it (librust-tokio-dev), installed if missing."""
    spec = TOKIO
    registry = Path(spec["registry"])

    def found() -> list[Path]:
        return sorted(p for p in registry.glob("tokio-[0-9]*") if p.is_dir())

    if not found():
        log(f"installing {spec['package']} with apt-get")
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", spec["package"]], check=True)
    trees = found()
    if not trees:
        sys.exit(f"no tokio-* under {registry} after installing {spec['package']}")
    pinned = registry / f"tokio-{spec['version']}"
    if pinned in trees:
        return pinned
    log(f"tokio {spec['version']} is not installed; using {trees[-1].name}")
    return trees[-1]


# --- measuring ---------------------------------------------------------------------------------

def _tree_rss_kb(pid: int) -> int:
    """Sum of VmRSS over `pid` and its descendants (Linux /proc), 0 when unknown."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def timed(cmd: list[str], cwd: Path | None = None, timeout: float | None = None, stdout=subprocess.DEVNULL) -> dict:
    """Run `cmd`; wall seconds, CPU seconds (self + children), peak RSS of the largest process
    (wait4) and sampled peak RSS summed over the process tree."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, start_new_session=True)
    peak_sum = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_sum
        while not stop.is_set():
            peak_sum = max(peak_sum, _tree_rss_kb(proc.pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timed_out = False
    err = b""

    def drain() -> None:
        nonlocal err
        err = proc.stderr.read()

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    deadline = None if timeout is None else start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    sampler.join()
    drainer.join(5)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "tree_rss_mb": peak_sum / 1024,
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "stderr": err.decode("utf-8", "replace"),
    }


# --- the bare parse baseline (runs as its own process) ----------------------------------------------

_PARSERS: dict = {}


def _bare_parse_chunk(chunk: list[tuple[str, str]]) -> int:
    import tree_sitter

    n = 0
    for path, lang in chunk:
        parser = _PARSERS.get(lang)
        if parser is None:
            if lang == "cpp":
                import tree_sitter_cpp as grammar
            else:
                import tree_sitter_rust as grammar
            parser = _PARSERS[lang] = tree_sitter.Parser(tree_sitter.Language(grammar.language()))
        with open(path, "rb") as fh:
            parser.parse(fh.read())
        n += 1
    return n


def bare_parse_main(list_file: str, jobs: int) -> None:
    """Parse every file in `list_file` (path<TAB>language lines) with tree-sitter alone: no
    pre-pass, no facts. Same pool shape as lifelint: size-balanced chunks, biggest first."""
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    items = [tuple(line.rstrip("\n").split("\t")) for line in open(list_file, encoding="utf-8") if line.strip()]
    sizes = {p: os.path.getsize(p) for p, _ in items}
    items.sort(key=lambda it: -sizes[it[0]])
    target = max(1, sum(sizes.values()) // (jobs * 8))
    chunks, cur, acc = [], [], 0
    for it in items:
        cur.append(it)
        acc += sizes[it[0]]
        if acc >= target or len(cur) >= 64:
            chunks.append(cur)
            cur, acc = [], 0
    if cur:
        chunks.append(cur)
    if jobs <= 1:
        n = sum(_bare_parse_chunk(c) for c in chunks)
    else:
        with ProcessPoolExecutor(jobs) as pool:
            n = sum(pool.map(_bare_parse_chunk, chunks))
    print(json.dumps({"files": n, "seconds": time.perf_counter() - t0}))


# --- one corpus --------------------------------------------------------------------------------------

def source_files(tree: Path) -> list[tuple[str, str, int]]:
    """The files `lifelint check` scans in `tree` (its own discovery): (path, language, lines)."""
    from lifelint.discovery import discover

    disc = discover([str(tree)], tree, [], True)
    out = []
    for f in disc.files:
        with open(f.path, "rb") as fh:
            data = fh.read()
        out.append((f.path, f.language, data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)))
    return out


def bench_corpus(name: str, tree: Path, jobs: int, work: Path, cppcheck_timeout: float | None, run_cppcheck: bool) -> dict:
    log(f"{name}: {tree}")
    files = source_files(tree)
    row: dict = {"corpus": name, "tree": str(tree), "jobs": jobs, "files": len(files), "lines": sum(n for _, _, n in files)}

    list_file = work / f"{name}.files"
    list_file.write_text("".join(f"{p}\t{lang}\n" for p, lang, _ in files), encoding="utf-8")
    bare_out = work / f"{name}.bare.json"
    with open(bare_out, "wb") as out:
        r = timed([sys.executable, __file__, "--_bare-parse", str(list_file), "--jobs", str(jobs)], stdout=out)
    if r["returncode"] != 0:
        sys.exit(f"bare parse failed on {name}: {r['stderr']}")
    row["bare_parse_wall"] = r["wall"]
    row["bare_parse_cpu"] = r["cpu"]
    row["bare_parse_inner"] = json.loads(bare_out.read_text())["seconds"]

    cache_dir = work / f"{name}.cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    report = work / f"{name}.json"
    cmd = [sys.executable, "-m", "lifelint", "check", "--format", "json", "--output", str(report), "--no-progress",
           "--exit-zero", "-j", str(jobs), "--cache-dir", str(cache_dir), "."]
    for label in ("cold", "warm"):
        r = timed(cmd, cwd=tree)
        if r["returncode"] != 0:
            sys.exit(f"lifelint failed on {name} ({label}): {r['stderr']}")
        row[label] = r
    doc = json.loads(report.read_text(encoding="utf-8"))
    row["lifelint_files"] = doc["summary"]["files_scanned"]
    row["lifelint_lines"] = doc["summary"]["lines_scanned"]
    row["findings"] = doc["summary"]["findings"]
    row["by_rule"] = doc["summary"].get("by_rule", {})
    row["diagnostics"] = doc["summary"].get("diagnostics")
    r = timed(cmd[:-3] + ["--no-cache", "."], cwd=tree)
    row["nocache"] = r

    if run_cppcheck and any(lang == "cpp" for _, lang, _ in files):
        exe = shutil.which("cppcheck")
        if exe is None:
            row["cppcheck"] = {"error": "cppcheck not installed (apt-get install cppcheck)"}
        else:
            version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
            log_file = work / f"{name}.cppcheck.log"
            with open(log_file, "wb") as out:
                r = timed([exe, f"-j{jobs}", str(tree)], timeout=cppcheck_timeout, stdout=out)
            progress = re.findall(r"(\d+)/(\d+) files checked (\d+)% done", log_file.read_text("utf-8", "replace"))
            r["version"] = version
            r["command"] = f"cppcheck -j{jobs} {tree}"
            r["progress"] = f"{progress[-1][0]}/{progress[-1][1]} files ({progress[-1][2]}% of the bytes)" if progress else "?"
            r.pop("stderr", None)
            row["cppcheck"] = r
    for k in ("cold", "warm", "nocache"):
        row[k].pop("stderr", None)
    return row


def _fmt_rss(r: dict) -> str:
    return f"{r['max_rss_mb']:.0f} MB largest process, {r['tree_rss_mb']:.0f} MB all processes"


def print_row(row: dict) -> None:
    cold, warm, bare = row["cold"]["wall"], row["warm"]["wall"], row["bare_parse_wall"]
    print(f"== {row['corpus']}: {row['tree']}")
    print(f"files                     {row['files']} ({row['lifelint_files']} analysed)")
    print(f"lines                     {row['lines']} ({row['lifelint_lines']} analysed)")
    print(f"processes (-j)            {row['jobs']}")
    print(f"bare tree-sitter parse    {bare:.2f} s wall, {row['bare_parse_cpu']:.2f} s CPU (process start to exit; {row['bare_parse_inner']:.2f} s in pool + parse)")
    print(f"lifelint cold             {cold:.2f} s wall, {row['cold']['cpu']:.2f} s CPU  (empty cache dir)")
    print(f"lifelint warm             {warm:.2f} s wall, {row['warm']['cpu']:.2f} s CPU  ({100 * warm / cold:.0f}% of cold)")
    print(f"lifelint --no-cache       {row['nocache']['wall']:.2f} s wall, {row['nocache']['cpu']:.2f} s CPU")
    print(f"lines per second          {row['lifelint_lines'] / cold:,.0f} cold, {row['lifelint_lines'] / warm:,.0f} warm")
    print(f"peak RSS cold             {_fmt_rss(row['cold'])}")
    print(f"peak RSS warm             {_fmt_rss(row['warm'])}")
    print(f"cold / bare parse         {cold / bare:.1f}x  (target <= 2x)")
    print(f"warm / cold               {100 * warm / cold:.0f}%  (target < 10%)")
    print(f"findings                  {row['findings']} {row['by_rule']}; {row['diagnostics']} file diagnostics")
    c = row.get("cppcheck")
    if c:
        if "error" in c:
            print(f"cppcheck                  {c['error']}")
        else:
            state = f"TIMED OUT after {c['wall']:.0f} s at {c['progress']}" if c["timed_out"] else f"{c['wall']:.2f} s wall"
            print(f"cppcheck (peer)           {state}, {c['cpu']:.1f} s CPU, {c['max_rss_mb']:.0f} MB largest process; "
                  f"`{c['command']}` ({c['version']}; it checks the .cpp files only, each #if configuration, no include paths)")
    print()


def ensure_bytecode() -> str:
    """A regular `pip install` compiles lifelint's modules to bytecode; an editable install, or
    PYTHONDONTWRITEBYTECODE=1, leaves every run compiling them from source again (about 80 ms of
    each warm run). Compile them once up front so the timings are those of an installed tool."""
    import compileall
    import importlib.util

    dirs = []
    for pkg in ("lifelint", "lifelint.rules"):
        spec = importlib.util.find_spec(pkg)
        dirs.extend(spec.submodule_search_locations or [] if spec else [])
    ok = all(compileall.compile_dir(d, quiet=1, maxlevels=2) for d in dict.fromkeys(dirs))
    return f"compiled {', '.join(dict.fromkeys(dirs))}" + ("" if ok else " (with errors)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", "-j", type=int, default=None, help="processes for lifelint, the bare parse and cppcheck (default: cores)")
    ap.add_argument("--corpus-dir", type=Path, default=None, help="where the corpora are fetched and unpacked (default: user cache dir/lifelint-bench)")
    ap.add_argument("--local", type=Path, action="append", default=None,
                    help="a folder that may already hold the Debian source files (repeatable; default: /work/corpus)")
    ap.add_argument("--only", choices=("libtorrent", "tokio"), action="append", help="benchmark only this corpus")
    ap.add_argument("--cppcheck-timeout", type=float, default=900, help="seconds before cppcheck is stopped (0: no limit)")
    ap.add_argument("--no-cppcheck", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--_bare-parse", dest="bare_parse", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    jobs = args.jobs or len(os.sched_getaffinity(0))
    if args.bare_parse:
        bare_parse_main(args.bare_parse, jobs)
        return 0

    corpus_dir = (args.corpus_dir or default_corpus_dir()).absolute()
    corpus_dir.mkdir(parents=True, exist_ok=True)
    local = [p for p in (args.local or [Path(d) for d in DEFAULT_LOCAL]) if p.is_dir()]
    wanted = args.only or ["libtorrent", "tokio"]
    trees = []
    if "libtorrent" in wanted:
        trees.append(("libtorrent", fetch_libtorrent(corpus_dir, local)))
    if "tokio" in wanted:
        trees.append(("tokio", fetch_tokio()))

    import platform

    import lifelint

    compiled = ensure_bytecode()
    print(f"lifelint {lifelint.__version__} ({Path(lifelint.__file__).parent}), Python {platform.python_version()}, "
          f"{len(os.sched_getaffinity(0))} cores, -j {jobs}")
    print(f"bytecode: {compiled}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lifelint-bench-") as tmp:
        for name, tree in trees:
            row = bench_corpus(name, tree, jobs, Path(tmp), args.cppcheck_timeout or None, not args.no_cppcheck)
            print_row(row)
            rows.append(row)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
