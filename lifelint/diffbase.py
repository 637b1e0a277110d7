"""`--diff-base REF`: report only the findings a change adds.

The base is the merge-base of HEAD and REF (what a pull request is compared with; it works the
same in a detached CI checkout). Its tree is exported with `git archive` into a temporary folder
outside the user's tree and scanned with the same options; a current finding is new when no base
finding has its rule, path and line-shift-proof fingerprint (fingerprint.finding_fingerprint),
so findings that only moved are not new. Files the change did not touch are served from the fact
cache (its entries are keyed by path and content, not by folder), so the base scan costs little
more than running the rules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

from lifelint.config import ConfigError
from lifelint.model import ScanResult


def _git(cwd: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise ConfigError("--diff-base needs git on PATH") from None
    if proc.returncode != 0:
        raise ConfigError(f"git {' '.join(args)}: {proc.stderr.strip() or 'failed'}")
    return proc.stdout.strip()


def repo_root(start: Path) -> Path:
    d = start if start.is_dir() else start.parent
    return Path(_git(d, "rev-parse", "--show-toplevel"))


def merge_base(repo: Path, ref: str) -> str:
    try:
        _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ConfigError:
        raise ConfigError(f"--diff-base {ref}: not a commit in {repo} (in CI, fetch it first: "
                          "`git fetch origin main`, or check out with fetch-depth: 0)") from None
    try:
        return _git(repo, "merge-base", "HEAD", ref)
    except ConfigError:
        raise ConfigError(f"--diff-base {ref}: HEAD and {ref} have no common ancestor here (a shallow clone? "
                          "fetch more history, e.g. fetch-depth: 0)") from None


def export_tree(repo: Path, commit: str, dest: Path) -> None:
    """The tree of `commit` under `dest`, through `git archive` (nothing in the repository or
    its .git changes)."""
    proc = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        tar.extractall(dest, filter="data")
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise ConfigError(f"git archive {commit}: {err.strip() or 'failed'}")


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def base_scan(opts, ref: str) -> tuple[ScanResult, str]:
    """Scan the merge-base of HEAD and `ref` with `opts` (paths, root and context root mapped
    into the exported tree). Returns (result, base commit)."""
    from lifelint.engine import scan

    root = opts.root.absolute()
    repo = repo_root(Path(opts.paths[0]).absolute() if opts.paths else root).resolve()
    base = merge_base(repo, ref)
    real_root = root.resolve()
    if not _inside(real_root, repo):
        raise ConfigError(f"--diff-base: the report root {root} is outside the repository {repo}")
    tmp = Path(tempfile.mkdtemp(prefix="lifelint-base-"))
    try:
        tree = tmp / "tree"
        tree.mkdir()
        export_tree(repo, base, tree)

        def mapped(p: str | Path) -> Path:
            real = Path(p).absolute().resolve()
            return tree / real.relative_to(repo) if _inside(real, repo) else real

        base_root = mapped(real_root)
        base_root.mkdir(parents=True, exist_ok=True)
        paths = [str(mapped(p)) for p in opts.paths]
        paths = [p for p in paths if os.path.exists(p)]  # a path the change added has no base
        ctx = mapped(opts.context_root) if opts.context_root is not None else None
        if not paths:
            return ScanResult(root=str(root)), base
        base_opts = replace(opts, paths=paths, root=base_root, context_root=ctx, progress=None,
                            cache_results=False, report_unused_suppressions=False)
        return scan(base_opts), base
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def apply(result: ScanResult, opts, ref: str) -> None:
    """Keep in `result` only the findings new since the merge-base with `ref`; the others move
    to `result.hidden` (as external suppressions) and are counted as baselined."""
    from lifelint import baseline

    base_result, base = base_scan(opts, ref)
    known = {baseline.key(f) for f in (*base_result.findings, *base_result.hidden)}
    # `git archive` leaves submodules out of the base: what is inside one cannot be compared,
    # and a change to this repository does not add it, so it is never reported as new.
    inside = _submodule_test(opts)
    kept, old, sub = [], [], []
    for f in result.findings:
        if baseline.key(f) in known:
            old.append(f)
        elif inside(f.location.path):
            sub.append(f)
        else:
            kept.append(f)
    result.findings = kept
    result.baselined += len(old) + len(sub)
    result.hidden += [replace(f, suppression=("external", f"present at the merge-base {base[:12]} with {ref}")) for f in old]
    result.hidden += [replace(f, suppression=("external", "inside a submodule, which --diff-base does not compare")) for f in sub]
    if sub:
        result.notes.append(f"--diff-base {ref}: {len(sub)} finding(s) inside submodules not compared, not reported")
    result.notes.append(f"--diff-base {ref}: {len(old)} finding(s) already present at the merge-base {base[:12]} not reported")


def _submodule_test(opts):
    """A predicate: is this display path inside a submodule (a gitlink) of the repository?"""
    root = opts.root.absolute().resolve()
    try:
        repo = repo_root(Path(opts.paths[0]).absolute() if opts.paths else root).resolve()
        listing = _git(repo, "ls-files", "--stage")
    except ConfigError:
        return lambda path: False
    links = [line.split("\t", 1)[1] for line in listing.splitlines() if line.startswith("160000 ") and "\t" in line]
    if not links:
        return lambda path: False
    prefixes = tuple(str(repo / link) + os.sep for link in links)

    def inside(path: str) -> bool:
        full = os.path.normpath(path if os.path.isabs(path) else os.path.join(root, path))
        return full.startswith(prefixes)
    return inside
