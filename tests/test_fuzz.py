"""A bounded fuzz run on every CI run (issue 16): mutated C++/Rust projects built from the fixtures
and the regression inputs, every rule on, every output format rendered, each input scanned twice
(and every POOL_EVERY-th, an 8+ file project, with two workers too). Any exception, internal
diagnostic, hang or output that differs between runs fails it; the failing projects are written
under the test's tmp folder and summarised in the assertion.

Fixed seed and count by default; `LIFELINT_FUZZ_SEED=<n>|random` and `LIFELINT_FUZZ_INPUTS=<n>`
ask for another run. The long run is fuzz/run.py; each failure found becomes a case under
tests/data/fuzz_regressions/ (tests/test_fuzz_regressions.py)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

import lifelint_fuzz as lf  # noqa: E402

INPUTS = int(os.environ.get("LIFELINT_FUZZ_INPUTS", "200"))
POOL_EVERY = 40
SECONDS = 30.0  # per input: generous for a loaded CI machine; real hangs are unbounded


def _seed() -> int:
    asked = os.environ.get("LIFELINT_FUZZ_SEED", "0")
    return random.SystemRandom().randrange(2**32) if asked == "random" else int(asked)


def test_bounded_fuzz(tmp_path):
    seed = _seed()
    rng = random.Random(seed)
    seeds = lf.load_seeds()
    assert len(seeds.of_language("cpp")) > 10 and len(seeds.of_language("rust")) > 5
    found = []
    for i in range(INPUTS):
        files, failures = lf.fuzz_one(rng, seeds, seconds=SECONDS, compare_jobs=i % POOL_EVERY == POOL_EVERY - 1)
        if failures:
            case = lf.save_failure(tmp_path, f"input{i}", files, failures)
            found.append(f"{case}: " + "; ".join(f"[{f.kind}] {f.detail[-600:]}" for f in failures))
    assert not found, f"seed {seed}: {len(found)} failing inputs:\n" + "\n".join(found)


# --- the oracle itself catches what it must ------------------------------------------------------

def _project(tmp_path, text="void f() { [&]{}(); }\n"):
    lf.write_project({"a.cpp": text.encode()}, tmp_path)
    return tmp_path


def test_oracle_reports_a_crashing_reporter(tmp_path, monkeypatch):
    from lifelint.report import REPORTERS

    def broken(result, rules, stream, **kw):
        raise KeyError("boom")

    monkeypatch.setitem(REPORTERS, "github", broken)
    kinds = [f.kind for f in lf.check_project(_project(tmp_path))]
    assert kinds == ["exception"]


def test_oracle_reports_output_that_changes_between_runs(tmp_path, monkeypatch):
    from lifelint.report import REPORTERS

    calls = iter(range(100))
    monkeypatch.setitem(REPORTERS, "json", lambda result, rules, stream, **kw: stream.write(str(next(calls))))
    kinds = [f.kind for f in lf.check_project(_project(tmp_path))]
    assert kinds == ["nondeterministic"]


def test_oracle_reports_an_internal_diagnostic_and_a_hang(tmp_path, monkeypatch):
    import time

    from lifelint import engine
    from lifelint.model import FileDiagnostic

    real = engine.run_rules
    monkeypatch.setattr(engine, "run_rules", lambda rules, facts, index: ([], [FileDiagnostic(facts.path, "internal", "rule X failed")]))
    assert [f.kind for f in lf.check_project(_project(tmp_path))] == ["internal"]
    def spin(seconds):  # a hang burns CPU
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    monkeypatch.setattr(engine, "run_rules", lambda *a: (spin(5), real(*a))[1])
    assert [f.kind for f in lf.check_project(_project(tmp_path), seconds=0.5)] == ["hang"]


def test_oracle_judges_hangs_by_cpu_time_not_a_busy_machine(tmp_path, monkeypatch):
    """Waiting (as a scan does on a machine busy with other work) is not a hang until the wall
    backstop (ten times the limit); spinning is."""
    import time

    from lifelint import engine

    real = engine.run_rules
    waited = []
    monkeypatch.setattr(engine, "run_rules", lambda *a: (waited.append(time.sleep(0.3)), real(*a))[1])
    assert lf.check_project(_project(tmp_path), seconds=0.2) == []
    assert waited  # the rules did run, and waited longer than the CPU limit
    try:
        with lf.time_limit(0.05, wall_factor=2):
            time.sleep(1)
    except lf.Hang as e:
        assert "wall" in str(e)
    else:
        raise AssertionError("the wall backstop did not fire")
