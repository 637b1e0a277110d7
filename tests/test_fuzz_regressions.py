"""Every input the fuzzer (fuzz/) ever broke the analyser with, kept as a small project under
tests/data/fuzz_regressions/<case>/: scanned with every rule on, it must give no internal error."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifelint.engine import scan_paths

CASES = sorted(p for p in (Path(__file__).parent / "data" / "fuzz_regressions").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fuzz_regression(case):
    result = scan_paths([str(case)], root=str(case), jobs=1)
    internal = [d for d in result.diagnostics if d.kind == "internal"]
    assert not internal, internal
