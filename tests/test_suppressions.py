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


# A callback posted over several lines: LL102 fires on the `this` capture, two lines below the
# statement's first line.
MULTILINE = """\
#include <functional>
void post(std::function<void()> f);
struct session {
    void tick();
    void start() {
        // lifelint: ignore[LL102] -- joined in ~server()
        post(
            [this] {
                tick();
            });
    }
};
std::shared_ptr<session> make_session() { return std::make_shared<session>(); }
"""


def _one(tree, run_cli, text, *extra):
    _write(tree, text)
    code, out, err = run_cli(["check", "--format", "json", *extra, "."], tree)
    return code, findings_json(out), __import__("json").loads(out)


def test_a_comment_above_covers_the_whole_statement(tree, run_cli):
    code, found, _ = _one(tree, run_cli, MULTILINE.replace("        // lifelint: ignore[LL102] -- joined in ~server()\n", ""))
    assert [(f["code"], f["line"]) for f in found] == [("LL102", 7)]  # the premise: it fires below the comment's next line
    code, found, doc = _one(tree, run_cli, MULTILINE)
    assert found == [] and doc["summary"]["suppressed"] == 1


def test_a_code_prefix_suppresses(tree, run_cli):
    code, found, _ = _one(tree, run_cli, MULTILINE.replace("ignore[LL102]", "ignore[LL1]"))
    assert found == []


def test_begin_end_and_file_level_forms(tree, run_cli):
    body = MULTILINE.replace("        // lifelint: ignore[LL102] -- joined in ~server()\n", "")
    ranged = body.replace("struct session {", "// lifelint: ignore-begin[this-captured-in-async] -- legacy\nstruct session {") \
                 .replace("};\n", "};\n// lifelint: ignore-end\n")
    assert _one(tree, run_cli, ranged)[1] == []
    assert _one(tree, run_cli, "// lifelint: ignore-file[LL102] -- generated\n" + body)[1] == []
    # the file-level form is per rule
    assert [f["code"] for f in _one(tree, run_cli, "// lifelint: ignore-file[LL108]\n" + body)[1]] == ["LL102"]


def test_nolint_with_a_lifelint_check_suppresses_and_a_bare_nolint_does_not(tree, run_cli):
    line = "    void free_disk_buffer(char* b) override {"
    for comment in ("// NOLINT(lifelint-LL108)", "// NOLINT(bugprone-x, lifelint-noop-deallocator)", "// NOLINT(lifelint-*)"):
        assert _one(tree, run_cli, NOOP_DEALLOCATOR.replace(line, f"{line}  {comment}"))[1] == [], comment
    assert _one(tree, run_cli, NOOP_DEALLOCATOR.replace(line, f"    // NOLINTNEXTLINE(lifelint-LL108)\n{line}"))[1] == []
    for comment in ("// NOLINT", "// NOLINT(bugprone-x)"):
        assert len(_one(tree, run_cli, NOOP_DEALLOCATOR.replace(line, f"{line}  {comment}"))[1]) == 1, comment


def test_malformed_directives_are_reported(tree, run_cli):
    text = NOOP_DEALLOCATOR.replace("override {", "override {  // lifelint: ignore LL108") + "// lifelint: ignore-end\n"
    code, found, doc = _one(tree, run_cli, text)
    assert len(found) == 1  # not silently taken as a suppression
    diags = [d for d in doc["diagnostics"] if d["kind"] == "directive"]
    assert [d["message"].split(":")[0] for d in diags] == ["line 3", "line 7"]
    assert "names no rule" in diags[0]["message"] and "without an `ignore-begin" in diags[1]["message"]
    code, out, _ = run_cli(["check", "--no-color", "."], tree)
    assert "backend.cpp: directive: line 3" in out
