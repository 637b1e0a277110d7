"""Which files to scan: C++ and Rust by extension, .gitignore and config excludes respected,
build output and VCS folders skipped. Explicitly named files are always scanned."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from pathlib import Path

import pathspec

CPP_EXTENSIONS = frozenset({".cc", ".cpp", ".cxx", ".c++", ".h", ".hh", ".hpp", ".hxx", ".ipp", ".inl", ".tpp", ".i"})
RUST_EXTENSIONS = frozenset({".rs"})
# Folders that hold build output, dependencies or VCS data, never sources to lint.
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".jj", "target", "build", "_build", "out", "cmake-build-debug",
    "cmake-build-release", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".cache",
    ".lifelint_cache", "CMakeFiles", "bazel-out", "bazel-bin", "bazel-testlogs",
    ".pc",  # quilt's state: pristine copies of the files its patches changed (Debian source trees)
})


def language_of(path: str | Path) -> str | None:
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix in CPP_EXTENSIONS:
        return "cpp"
    if suffix in RUST_EXTENSIONS:
        return "rust"
    return None


@dataclass(frozen=True, slots=True)
class SourcePath:
    path: str  # as opened
    display: str  # relative to the scan root, forward slashes
    language: str
    flags: Any = None  # lifelint.compdb.FileFlags: how the compile database builds it (None: no database entry)
    crate: Any = None  # lifelint.crates.Crate of a Rust file (None: no Cargo package above it)


@dataclass(slots=True)
class Discovery:
    files: list[SourcePath]
    problems: list[tuple[str, str, str]]  # (display path, kind, message)


def _display(path: Path | str, root: Path | str) -> str:
    root_s = str(root)
    full = os.path.abspath(path)
    prefix = root_s if root_s.endswith(os.sep) else root_s + os.sep
    if full.startswith(prefix):  # the common case, without pathlib
        rel = full[len(prefix):]
    elif full == root_s:
        rel = "."
    else:
        rel = os.path.relpath(full, root_s)
        if rel.startswith(".." + os.sep + ".."):  # far outside the root: `../../..` reads worse than the path
            rel = full
    return rel.replace(os.sep, "/") if os.sep != "/" else rel


class _Ignores:
    """gitignore files found on the way down, plus config exclude patterns."""

    def __init__(self, root: Path, exclude: list[str], respect_gitignore: bool):
        self.root = root
        self.exclude = pathspec.GitIgnoreSpec.from_lines(exclude)
        self.respect_gitignore = respect_gitignore
        self.git: list[tuple[Path, pathspec.PathSpec]] = []

    def load_gitignore(self, directory: Path) -> None:
        if not self.respect_gitignore:
            return
        files = [directory / ".gitignore"]
        if (directory / ".git").exists():  # a repository's root: its private excludes too
            files.insert(0, git_dir(directory) / "info" / "exclude")
        for gi in files:
            try:
                lines = gi.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            self.git.append((directory, pathspec.GitIgnoreSpec.from_lines(lines)))

    def ignored(self, path: Path | str, is_dir: bool) -> bool:
        rel = _display(path, self.root)
        probe = rel + "/" if is_dir else rel
        if self.exclude.match_file(probe) or (is_dir and self.exclude.match_file(rel)):
            return True
        if self.git:
            full = os.path.abspath(path)
            for base, spec in self.git:
                b = str(base)
                if full == b or not full.startswith(b if b.endswith(os.sep) else b + os.sep):
                    continue
                r = _display(full, b)
                if spec.match_file(r + "/" if is_dir else r):
                    return True
        return False


def git_dir(worktree: Path) -> Path:
    """The folder holding `info/exclude` for a work tree: `.git` itself, or for a linked
    worktree (`.git` is a file `gitdir: ...`) the common dir its `commondir` names."""
    dot = worktree / ".git"
    if dot.is_dir():
        return dot
    try:
        text = dot.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return dot
    if not text.startswith("gitdir:"):
        return dot
    gd = Path(text[len("gitdir:"):].strip())
    gd = gd if gd.is_absolute() else (worktree / gd)
    try:
        common = (gd / "commondir").read_text(encoding="utf-8").strip()
        return (gd / common).resolve() if not Path(common).is_absolute() else Path(common)
    except OSError:
        return gd


def _gitignores_above(start: Path, ignores: _Ignores) -> None:
    """Load .gitignore files from the repository root (the nearest .git) down to `start`."""
    chain = []
    d = start
    while True:
        chain.append(d)
        if (d / ".git").exists() or d.parent == d:
            break
        d = d.parent
    if not (chain[-1] / ".git").exists():
        chain = [start]
    for d in reversed(chain):
        if d != start:
            ignores.load_gitignore(d)


def discover(paths: list[str], root: Path, exclude: list[str], respect_gitignore: bool = True) -> Discovery:
    files: list[SourcePath] = []
    problems: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    root = root.absolute()
    from lifelint.crates import CrateFinder

    crates = CrateFinder(root)
    for raw in paths:
        p = Path(raw)
        try:
            st_is_dir = p.is_dir()
            exists = p.exists() or p.is_symlink()
        except OSError as e:  # ELOOP on a symlink loop, EACCES, ...
            problems.append((_display(p, root), "unreadable", os.strerror(e.errno) if e.errno else str(e)))
            continue
        if not exists:
            problems.append((_display(p, root), "missing", "no such file or directory"))
            continue
        if not st_is_dir:
            if p.is_symlink() and not p.exists():
                problems.append((_display(p, root), "unreadable", "broken symbolic link or symlink loop"))
                continue
            lang = language_of(p)
            if lang is None:
                problems.append((_display(p, root), "skipped", "not a C++ or Rust source (by extension)"))
                continue
            key = os.path.abspath(p)
            if key not in seen:  # named files are always scanned, excludes notwithstanding
                seen.add(key)
                files.append(SourcePath(str(p), _display(p, root), lang, crate=crates.crate_of(p) if lang == "rust" else None))
            continue
        ignores = _Ignores(root, exclude, respect_gitignore)
        _gitignores_above(p.absolute(), ignores)
        found = []
        # followlinks=False: directory symlinks are not followed, so symlink loops cannot trap us.
        for dirpath, dirnames, filenames in os.walk(p, followlinks=False, onerror=lambda e: problems.append((_display(Path(e.filename or raw), root), "unreadable", e.strerror or str(e)))):
            d_abs = os.path.abspath(dirpath)
            d_str = str(Path(dirpath))  # as pathlib spells it: no "./" prefix, no doubled "/"
            ignores.load_gitignore(Path(d_abs))
            keep = []
            for name in sorted(dirnames):
                sub = os.path.join(d_abs, name)
                if name in SKIP_DIRS or os.path.islink(sub) or ignores.ignored(sub, True):
                    continue
                keep.append(name)
            dirnames[:] = keep
            for name in filenames:
                lang = language_of(name)
                if lang is None:
                    continue
                key = os.path.join(d_abs, name)
                if ignores.ignored(key, False) or key in seen:
                    continue
                seen.add(key)
                found.append(SourcePath(name if d_str == "." else os.path.join(d_str, name), _display(key, root), lang,
                                        crate=crates.crate_of_dir(d_abs) if lang == "rust" else None))
            # gitignore specs of subtrees we left are harmless: they only match below their base.
        files.extend(sorted(found, key=lambda s: s.display))
    return Discovery(files, problems)
