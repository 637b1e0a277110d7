"""Inline `// lifelint: ignore[...]` comments."""

from __future__ import annotations

from conftest import NOOP_DEALLOCATOR, findings_json


def _write(tree, text):
    (tree / "src" / "backend.cpp").write_text(text)


def test_trailing_comment_suppresses_its_line(tree, run_cli):
    _write(tree, NOOP_DEALLOCATOR.replace("override {", "override {  // lifelint: ignore[LL108] -- borrowed by design"))
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0 and findings_json(out) == []


def test_comment_on_the_line_above_suppresses_by_name(tree, run_cli):
    _write(tree, NOOP_DEALLOCATOR.replace("    void free_disk_buffer(char* b) override {",
                                          "    // lifelint: ignore[noop-deallocator]\n    void free_disk_buffer(char* b) override {"))
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0 and findings_json(out) == []


def test_other_code_does_not_suppress(tree, run_cli):
    _write(tree, NOOP_DEALLOCATOR.replace("override {", "override {  // lifelint: ignore[LL101]"))
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 1 and len(findings_json(out)) == 1


def test_several_codes_and_unused_report(tree, run_cli):
    _write(tree, NOOP_DEALLOCATOR.replace("override {", "override {  // lifelint: ignore[LL101, LL108]")
           + "int unrelated = 0;  // lifelint: ignore[LL108]\nint typo = 0;  // lifelint: ignore[LL1O8]\n")
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0 and findings_json(out) == []
    code, out, _ = run_cli(["check", "--no-color", "--report-unused-suppressions", "."], tree)
    assert code == 1
    assert "backend.cpp:7" in out and "LL108 matched no finding" in out
    assert "backend.cpp:8" in out and "unknown rule 'LL1O8'" in out


def test_a_comment_between_the_directive_and_the_code_is_skipped(tree, run_cli):
    _write(tree, NOOP_DEALLOCATOR.replace("    void free_disk_buffer(char* b) override {",
                                          "    // lifelint: ignore[LL108] -- reviewed\n    // buffers come from the storage\n    void free_disk_buffer(char* b) override {"))
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0
