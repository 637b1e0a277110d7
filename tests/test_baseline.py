"""Baselines: accept today's findings, fail only on new ones, survive unrelated edits."""

from __future__ import annotations

import json

from conftest import NOOP_DEALLOCATOR, findings_json

SECOND_HAZARD = "\nstruct other : allocator_iface {\n    void free_disk_buffer(char* p) override {}\n};\n"


def test_write_then_apply(tree, run_cli):
    code, _, err = run_cli(["check", "--write-baseline", "base.json", "."], tree)
    assert code == 0 and "wrote 1 finding" in err
    doc = json.loads((tree / "base.json").read_text())
    assert doc["format"] == "lifelint-baseline/1"
    assert [(e["code"], e["path"]) for e in doc["findings"]] == [("LL108", "src/backend.cpp")]
    code, out, _ = run_cli(["check", "--format", "json", "--baseline", "base.json", "."], tree)
    assert code == 0
    body = json.loads(out)
    assert body["findings"] == [] and body["summary"]["baselined"] == 1


def test_unrelated_edits_keep_the_baseline_and_new_findings_fail(tree, run_cli):
    run_cli(["check", "--write-baseline", "base.json", "."], tree)
    src = tree / "src" / "backend.cpp"
    src.write_text("// a new header comment\n#include <cstddef>\n\n" + src.read_text() + SECOND_HAZARD)
    code, out, _ = run_cli(["check", "--format", "json", "--baseline", "base.json", "."], tree)
    assert code == 1
    [new] = findings_json(out)
    assert new["message"].startswith("`other::free_disk_buffer`")


def test_fixed_findings_leave_stale_entries_reported(tree, run_cli):
    run_cli(["check", "--write-baseline", "base.json", "."], tree)
    (tree / "src" / "backend.cpp").unlink()
    code, _, err = run_cli(["check", "--baseline", "base.json", "."], tree)
    assert code == 0 and "1 baseline entry" in err and "no longer match" in err


def test_baseline_from_config(tree, run_cli):
    run_cli(["check", "--write-baseline", "base.json", "."], tree)
    (tree / "lifelint.toml").write_text('baseline = "base.json"\n')
    code, _, _ = run_cli(["check", "src"], tree)
    assert code == 0


def test_bad_baseline_is_a_usage_error(tree, run_cli):
    (tree / "base.json").write_text('{"findings": 3}')
    code, _, err = run_cli(["check", "--baseline", "base.json", "."], tree)
    assert code == 2 and "not a lifelint baseline" in err
    code, _, err = run_cli(["check", "--baseline", "missing.json", "."], tree)
    assert code == 2 and "not found" in err
