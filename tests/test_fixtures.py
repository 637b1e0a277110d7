"""Every fixture under fixtures/ is a test: the (line, code) pairs lifelint reports must equal
the `// expect:` annotations exactly, so a new false alarm fails as loudly as a miss.
`todo-expect` / `todo-ok` markers are strict expected failures: they flip when fixed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lifelint.config import enabled_codes, validate_selectors
from lifelint.engine import ScanOptions, scan
from lifelint.registry import all_rules
from lifelint.settings import Settings
from lifelint.testing import parse_expectations

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CPP_SUFFIXES = {".cpp", ".cc", ".cxx", ".hpp", ".h", ".i"}
SOURCES = sorted(p for p in FIXTURES.rglob("*") if p.suffix in CPP_SUFFIXES | {".rs"} and "projects" not in p.parts)


def _id(p: Path) -> str:
    return p.relative_to(FIXTURES).as_posix()


def findings_of(path: Path, select: list[str] | None) -> set[tuple[int, str]]:
    settings = Settings()
    # Every rule, opt-in ones included, so any false alarm on a fixture shows.
    enabled = enabled_codes(settings, validate_selectors("fixture", "select", select or ["ALL"]), None)
    result = scan(ScanOptions(paths=[str(path)], root=path.parent, settings=settings, enabled=enabled, jobs=1))
    internal = [d for d in result.diagnostics if d.kind in ("internal", "unreadable", "binary", "encoding")]
    assert not internal, internal
    return {(f.location.line, f.code) for f in result.findings}


def _describe(path: Path, pairs: set[tuple[int, str]]) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(f"  line {ln} {code}: {lines[ln - 1].strip()[:100]}" for ln, code in sorted(pairs))


@pytest.mark.parametrize("path", SOURCES, ids=_id)
def test_fixture_findings_match_annotations(path: Path):
    exp = parse_expectations(path.read_text(encoding="utf-8"))
    actual = findings_of(path, exp.select)
    # Pairs under a todo marker are judged by their own xfail tests below.
    actual -= exp.todo_ok
    missing = exp.expect - actual
    unexpected = actual - exp.expect - exp.todo_expect
    msg = ""
    if missing:
        msg += f"missing findings:\n{_describe(path, missing)}\n"
    if unexpected:
        msg += f"unexpected findings:\n{_describe(path, unexpected)}\n"
    assert not msg, msg
    clash = exp.ok & exp.expect
    assert not clash, f"lines marked both ok and expect: {sorted(clash)}"


def _todo_cases():
    for path in SOURCES:
        exp = parse_expectations(path.read_text(encoding="utf-8"))
        for line, code in sorted(exp.todo_expect):
            yield pytest.param(path, line, code, True, id=f"{_id(path)}:{line}:{code}:todo-expect",
                               marks=pytest.mark.xfail(strict=True, reason="known miss"))
        for line, code in sorted(exp.todo_ok):
            yield pytest.param(path, line, code, False, id=f"{_id(path)}:{line}:{code}:todo-ok",
                               marks=pytest.mark.xfail(strict=True, reason="known false alarm"))


@pytest.mark.parametrize("path,line,code,should_fire", list(_todo_cases()))
def test_known_gaps(path: Path, line: int, code: str, should_fire: bool):
    exp = parse_expectations(path.read_text(encoding="utf-8"))
    fired = (line, code) in findings_of(path, exp.select)
    assert fired == should_fire


def test_every_rule_has_bad_and_good_fixtures():
    """Each rule has a fixture folder with at least one expected finding and silent lines."""
    for rule in all_rules():
        folders = [d for d in FIXTURES.glob(f"*/{rule.code}-*") if d.is_dir()]
        assert folders, f"{rule.code} has no fixtures/<lang>/{rule.code}-{rule.name}/ folder"
        expected = 0
        for d in folders:
            for src in d.iterdir():
                if src.suffix in CPP_SUFFIXES | {".rs"}:
                    expected += sum(1 for _, c in parse_expectations(src.read_text(encoding="utf-8")).expect if c == rule.code)
        assert expected >= 3, f"{rule.code}: only {expected} BAD cases in its fixtures"


def _compiler(name: str) -> str | None:
    found = shutil.which(name) or (str(Path.home() / ".cargo/bin" / name) if (Path.home() / ".cargo/bin" / name).exists() else None)
    if found is None and os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI to check that fixtures compile")
    return found


@pytest.mark.parametrize("path", [p for p in SOURCES if p.suffix in CPP_SUFFIXES and p.suffix != ".i"], ids=_id)
def test_cpp_fixture_compiles(path: Path):
    gxx = _compiler("g++")
    if gxx is None:
        pytest.skip("g++ not installed")
    proc = subprocess.run([gxx, "-std=c++20", "-fsyntax-only", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("path", [p for p in SOURCES if p.suffix == ".rs"], ids=_id)
def test_rust_fixture_compiles(path: Path, tmp_path: Path):
    rustc = _compiler("rustc")
    if rustc is None:
        pytest.skip("rustc not installed")
    # --out-dir into a temp dir: never -o /dev/null (as root rustc replaces it with a file).
    proc = subprocess.run([rustc, "--edition", "2021", "--crate-type", "lib", "--emit=metadata",
                           "--out-dir", str(tmp_path), str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
