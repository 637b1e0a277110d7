"""Every input the fuzzer (fuzz/) ever broke lifelint with, kept as a small project under
tests/data/fuzz_regressions/<case>/ (a comment in it says what failed). Each is judged the way the
fuzzer judges: every rule on, every output format rendered, scanned twice (and with two workers
when it has 8+ files); no exception, no internal diagnostic, no hang, the same output each time."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import lifelint_fuzz as lf  # noqa: E402

CASES = sorted(p for p in (Path(__file__).parent / "data" / "fuzz_regressions").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fuzz_regression(case):
    many = sum(1 for p in case.rglob("*") if p.is_file()) >= 8
    failures = lf.check_project(case, seconds=60.0, compare_jobs=many)
    assert not failures, "\n".join(f"[{f.kind}] {f.detail}" for f in failures)
