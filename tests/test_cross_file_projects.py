"""Cross-file fixtures (lock facts and SWIG setters alike): every folder `fixtures/<lang>/<RULE>/projects/<name>/` is scanned as one
project (a header and the .cpp files that define its methods, a registry in one file and a backend
in another), and the (file, line, code) triples lifelint reports must equal the `// expect:`
annotations of all its files. The per-file fixture test skips these folders: scanned alone, each
file lacks the other half of the story.

Also checks the project-wide lock facts (`lifelint.locking`) directly on those projects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lifelint.engine import ScanOptions, scan
from lifelint.settings import Settings
from lifelint.testing import function_labelled, locking_index_of, parse_expectations

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SUFFIXES = {".cpp", ".cc", ".cxx", ".hpp", ".h", ".i", ".rs"}  # .i: SWIG interfaces, scanned as C++
# Every folder right under a `projects/` folder is one project, its sources in it or in subfolders
# (`tools/`, `lib/`, `linux/`, `src/`, `examples/`).
PROJECTS = sorted({d for p in FIXTURES.rglob("projects") if p.is_dir() for d in p.iterdir()
                   if d.is_dir() and any(f.suffix in SUFFIXES for f in d.rglob("*"))})


def _id(p: Path) -> str:
    return p.relative_to(FIXTURES).as_posix()


def _scan(folder: Path):
    return scan(ScanOptions(paths=[str(folder)], root=folder, settings=Settings(), jobs=1))


def _sources(folder: Path) -> list[Path]:
    """The project's files, subfolders included (`linux/`, `freebsd/`: platform-exclusive sources)."""
    return sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES)


def _rel(folder: Path, path) -> str:
    p = Path(path)
    return (p.relative_to(folder) if p.is_absolute() else p).as_posix()


def _expected(folder: Path) -> tuple[set, set, set]:
    expect, todo_expect, todo_ok = set(), set(), set()
    for src in _sources(folder):
        exp = parse_expectations(src.read_text(encoding="utf-8"))
        name = _rel(folder, src)
        expect |= {(name, ln, code) for ln, code in exp.expect}
        todo_expect |= {(name, ln, code) for ln, code in exp.todo_expect}
        todo_ok |= {(name, ln, code) for ln, code in exp.todo_ok}
    return expect, todo_expect, todo_ok


def test_projects_exist():
    assert len(PROJECTS) >= 4, PROJECTS


@pytest.mark.parametrize("folder", PROJECTS, ids=_id)
def test_project_findings_match_annotations(folder: Path):
    result = _scan(folder)
    internal = [d for d in result.diagnostics if d.kind in ("internal", "unreadable", "binary", "encoding")]
    assert not internal, internal
    actual = {(_rel(folder, f.location.path), f.location.line, f.code) for f in result.findings}
    expect, todo_expect, todo_ok = _expected(folder)
    actual -= todo_ok
    missing = expect - actual
    unexpected = actual - expect - todo_expect
    assert not missing and not unexpected, f"missing: {sorted(missing)}\nunexpected: {sorted(unexpected)}"


def _with_findings() -> list[Path]:
    return [p for p in PROJECTS if _expected(p)[0]]


@pytest.mark.parametrize("folder", _with_findings(), ids=_id)
def test_project_files_alone_miss_the_cross_file_findings(folder: Path):
    """The point of these projects: at least one expected finding needs another file, or another
    file removes a finding the file alone would get (a `main` in tools/ that calls a library's
    C function itself). (Projects without findings check that joining files adds no false alarm.)"""
    expect, _, _ = _expected(folder)
    alone = set()
    for src in _sources(folder):
        result = scan(ScanOptions(paths=[str(src)], root=folder, settings=Settings(), jobs=1))
        alone |= {(_rel(folder, f.location.path), f.location.line, f.code) for f in result.findings}
    assert expect ^ alone, "every finding is visible file by file: not a cross-file fixture"


@pytest.mark.parametrize("folder", [p for p in PROJECTS if any(p.rglob("*.cpp"))], ids=_id)
def test_project_compiles(folder: Path):
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not installed")
    for src in sorted(folder.rglob("*.cpp")):
        proc = subprocess.run([gxx, "-std=c++20", "-fsyntax-only", str(src)], capture_output=True, text=True, cwd=folder)
        assert proc.returncode == 0, f"{src.name}: {proc.stderr[-3000:]}"


# --- the lock facts themselves ----------------------------------------------------------------

_index = locking_index_of
_fn = function_labelled


def test_out_of_line_helper_inherits_the_callers_lock():
    li = _index(FIXTURES / "cpp/LL203-inconsistent-locking/projects/split_backend")
    helper = _fn(li, "disk_backend::requeue_locked")
    assert helper.klass is not None and helper.klass.name == "disk_backend"  # declared in the .hpp
    assert helper.entry == {"split::disk_backend::m_job_mutex"}
    assert [cs.fn.label for cs in helper.callers] == ["disk_backend::drain"]


def test_calls_resolve_across_files_through_a_typed_global():
    li = _index(FIXTURES / "cpp/LL204-lock-order-inversion/projects/registry_split")
    front = _fn(li, "set_lookbehind")
    [cs] = [c for c in front.calls if c.name == "set_lookbehind_pieces"]
    assert [t.label for t in cs.targets] == ["memory_backend::set_lookbehind_pieces"]
    assert cs.held == {"::g_backend_mutex"}
    remove = _fn(li, "memory_backend::remove_torrent")
    [cs] = [c for c in remove.calls if c.name == "unregister_storage"]
    assert cs.targets[0].path.endswith("registry.cpp")
    assert cs.held == {"lt_split::memory_backend::m_mutex"}


def test_accesses_carry_their_lockset():
    li = _index(FIXTURES / "cpp/LL203-inconsistent-locking/projects/split_backend")
    add = _fn(li, "disk_backend::add_job")
    held = {a.name: add.held_at(a.held, a.lambda_index, a.span.start_byte) for a in add.accesses}
    assert held["m_queued_jobs"] == {"split::disk_backend::m_job_mutex"}
    abort = _fn(li, "disk_backend::abort")
    first = next(a for a in abort.accesses if a.name == "m_num_jobs")
    assert first.write and not abort.held_at(first.held, first.lambda_index, first.span.start_byte)
