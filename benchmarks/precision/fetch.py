#!/usr/bin/env python3
"""Fetch the precision ledger's corpora (benchmarks/precision/corpora.toml). See README.md.

    python benchmarks/precision/fetch.py [--corpora-dir DIR] [--corpus NAME ...] [--count-only]

C++ corpora: `apt-get source --download-only NAME=VERSION` into DIR/_downloads/NAME, then
`dpkg-source -x` into DIR/NAME (needs deb-src lines for bookworm and `apt-get update`).
Rust corpora: `apt-get install -y librust-CRATE-dev=VERSION` (needs root); the corpus is the
crate folders under /usr/share/cargo/registry those packages own, written (resolved, one a line)
to DIR/NAME.paths. lifelint does not follow directory symlinks, so the scan names each folder.

Idempotent: a corpus already unpacked / installed at the pinned version is left alone.
Prints the lines of code of every corpus (C++ and Rust files, as lifelint's discovery sees them).
Standard library only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPORA_TOML = HERE / "corpora.toml"
DEFAULT_CORPORA_DIR = Path("/work/corpora")
CARGO_REGISTRY = Path("/usr/share/cargo/registry")
# Same extensions as lifelint/discovery.py (kept here so the script needs no lifelint install).
CPP_EXTENSIONS = frozenset({".cc", ".cpp", ".cxx", ".c++", ".h", ".hh", ".hpp", ".hxx", ".ipp", ".inl", ".tpp", ".i"})
RUST_EXTENSIONS = frozenset({".rs"})


class FetchError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[fetch] {msg}", file=sys.stderr, flush=True)


def load_corpora(path: Path = CORPORA_TOML) -> list[dict]:
    with open(path, "rb") as f:
        corpora = tomllib.load(f)["corpus"]
    for c in corpora:
        if c.get("half") not in ("tune", "test") or c.get("lang") not in ("cpp", "rust"):
            raise FetchError(f"{path}: corpus {c.get('name')!r} needs half = tune|test and lang = cpp|rust")
    return corpora


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, cwd=cwd, text=True, capture_output=True)
    if p.returncode != 0:
        tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-15:])
        raise FetchError(f"`{' '.join(cmd)}` failed (exit {p.returncode}):\n{tail}")
    return p.stdout


# --- C++: Debian source packages ------------------------------------------------------------

def fetch_cpp(corpus: dict, corpora_dir: Path) -> Path:
    name = corpus["name"]
    dest = corpora_dir / name
    pkg, _, version = corpus["source"].partition("=")
    stamp = dest / ".lifelint-corpus"
    if stamp.is_file() and stamp.read_text().strip() == corpus["source"]:
        return dest
    if dest.exists():
        raise FetchError(f"{dest} exists but was not unpacked from {corpus['source']}; remove it and re-run")
    dl = corpora_dir / "_downloads" / name
    dl.mkdir(parents=True, exist_ok=True)
    upstream = version.split(":")[-1].rsplit("-", 1)[0] if "-" in version else version.split(":")[-1]
    dsc = dl / f"{pkg}_{version.split(':')[-1]}.dsc"
    if not dsc.is_file():
        _run(["apt-get", "source", "--download-only", corpus["source"]], cwd=dl)
    if not dsc.is_file():
        raise FetchError(f"apt-get source left no {dsc.name} in {dl}")
    tmp = corpora_dir / f".{name}.unpacking"
    shutil.rmtree(tmp, ignore_errors=True)
    # --skip-patches would give upstream; Debian's patches are part of the pinned source.
    _run(["dpkg-source", "--no-check", "-x", str(dsc), str(tmp)])
    # quilt keeps pre-patch copies of the patched files in .pc/: not part of the source.
    shutil.rmtree(tmp / ".pc", ignore_errors=True)
    tmp.rename(dest)
    stamp.write_text(corpus["source"] + "\n")
    log(f"{name}: unpacked {pkg} {upstream} into {dest}")
    return dest


# --- Rust: librust-*-dev packages -------------------------------------------------------------

def _crate_packages(corpus: dict) -> list[tuple[str, str]]:
    out = []
    for spec in corpus["crates"]:
        crate, _, version = spec.partition("=")
        out.append((f"librust-{crate}-dev", version))
    return out


def _installed_version(pkg: str) -> str | None:
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Version}", pkg], text=True, capture_output=True)
    if p.returncode != 0:
        return None
    status, _, version = p.stdout.partition("\t")
    return version if status.endswith(" installed") else None


def _registry_folders(pkg: str) -> list[Path]:
    """The crate folders directly under the cargo registry that `pkg` ships, resolved."""
    out = []
    for line in _run(["dpkg-query", "-L", pkg]).splitlines():
        p = Path(line.strip())
        if p.parent == CARGO_REGISTRY:
            real = Path(os.path.realpath(p))
            if real.is_dir() and real not in out:
                out.append(real)
    return out


def install_rust(corpora: list[dict]) -> None:
    """One apt-get install for every pinned crate not installed at its version."""
    missing = [f"{pkg}={v}" for c in corpora for pkg, v in _crate_packages(c) if _installed_version(pkg) != v]
    if missing:
        if os.geteuid() != 0:
            raise FetchError("installing librust-*-dev packages needs root: " + " ".join(missing))
        _run(["apt-get", "install", "-y", "--no-install-recommends", *missing])


def fetch_rust(corpus: dict, corpora_dir: Path) -> list[Path]:
    folders: list[Path] = []
    for pkg, version in _crate_packages(corpus):
        got = _installed_version(pkg)
        if got != version:
            raise FetchError(f"{corpus['name']}: {pkg} is {got or 'not installed'}, pinned {version}")
        found = _registry_folders(pkg)
        if not found:
            raise FetchError(f"{corpus['name']}: {pkg} ships no folder under {CARGO_REGISTRY}")
        folders += [f for f in found if f not in folders]
    corpora_dir.mkdir(parents=True, exist_ok=True)
    (corpora_dir / f"{corpus['name']}.paths").write_text("".join(f"{f}\n" for f in folders))
    return folders


# --- shared ----------------------------------------------------------------------------------

def corpus_paths(corpus: dict, corpora_dir: Path) -> tuple[Path, list[Path]]:
    """(root reported paths are relative to, paths to scan) of a fetched corpus."""
    if corpus["lang"] == "cpp":
        root = corpora_dir / corpus["name"]
        if not (root / ".lifelint-corpus").is_file():
            raise FetchError(f"{corpus['name']} is not fetched into {corpora_dir} (run fetch.py)")
        return root, [root]
    listing = corpora_dir / f"{corpus['name']}.paths"
    if not listing.is_file():
        raise FetchError(f"{corpus['name']} is not fetched ({listing} missing; run fetch.py)")
    folders = [Path(line) for line in listing.read_text().splitlines() if line.strip()]
    if not folders:
        raise FetchError(f"{listing} lists no folder")
    # The folder holding the crates (the cargo registry), so paths read `crate-1.0/src/lib.rs`.
    return Path(os.path.commonpath([f.parent for f in folders])), folders


def count_lines(paths: list[Path], extensions: frozenset[str]) -> tuple[int, int]:
    """(files, lines) under `paths` with those extensions; directory symlinks are not followed."""
    files = lines = 0
    for top in paths:
        for dirpath, _dirs, names in os.walk(top):
            for n in names:
                if os.path.splitext(n)[1].lower() in extensions:
                    p = os.path.join(dirpath, n)
                    if os.path.islink(p) and not os.path.exists(p):
                        continue
                    with open(p, "rb") as f:
                        files += 1
                        lines += sum(1 for _ in f)
    return files, lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpora-dir", type=Path, default=DEFAULT_CORPORA_DIR, help=f"where C++ sources are unpacked (default {DEFAULT_CORPORA_DIR})")
    ap.add_argument("--corpus", action="append", default=[], help="only this corpus (repeatable)")
    ap.add_argument("--count-only", action="store_true", help="fetch nothing, only count the lines of what is there")
    args = ap.parse_args(argv)
    try:
        corpora = load_corpora()
        unknown = set(args.corpus) - {c["name"] for c in corpora}
        if unknown:
            raise FetchError(f"unknown corpus: {', '.join(sorted(unknown))}")
        if args.corpus:
            corpora = [c for c in corpora if c["name"] in args.corpus]
        failed = []
        if not args.count_only:
            for c in corpora:
                if c["lang"] == "cpp":
                    try:
                        fetch_cpp(c, args.corpora_dir)
                    except FetchError as e:
                        failed.append(c["name"])
                        log(f"ERROR {c['name']}: {e}")
            rust = [c for c in corpora if c["lang"] == "rust"]
            if rust:
                install_rust(rust)
                for c in rust:
                    fetch_rust(c, args.corpora_dir)
        totals = {"cpp": [0, 0], "rust": [0, 0]}
        print(f"{'corpus':24} {'half':5} {'lang':5} {'files':>7} {'lines':>10}")
        for c in corpora:
            if c["name"] in failed:
                print(f"{c['name']:24} {c['half']:5} {c['lang']:5} {'FAILED':>7}")
                continue
            _root, paths = corpus_paths(c, args.corpora_dir)
            exts = CPP_EXTENSIONS if c["lang"] == "cpp" else RUST_EXTENSIONS
            files, lines = count_lines(paths, exts)
            totals[c["lang"]][0] += files
            totals[c["lang"]][1] += lines
            print(f"{c['name']:24} {c['half']:5} {c['lang']:5} {files:>7} {lines:>10}")
        for lang, (files, lines) in totals.items():
            print(f"{'TOTAL ' + lang:24} {'':5} {lang:5} {files:>7} {lines:>10}")
        return 1 if failed else 0
    except FetchError as e:
        print(f"fetch.py: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
