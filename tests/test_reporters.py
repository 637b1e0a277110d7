"""The text, JSON and GitHub reporters on a hand-built ScanResult (see conftest.make_scan_result)."""

from __future__ import annotations

import io
import json
import random
import re

import pytest
from conftest import SAMPLE_SOURCES, make_scan_result, sample_rules

from lifelint.model import FileDiagnostic, Level, Location, ReportedFinding, ScanResult
from lifelint.report import REPORTERS
from lifelint.report.github import escape_data, escape_property

ANSI = re.compile(r"\x1b\[")


def render(fmt: str, result: ScanResult, **kw) -> str:
    buf = io.StringIO()
    REPORTERS[fmt](result, sample_rules(), buf, **kw)
    return buf.getvalue()


def test_every_format_is_registered():
    assert set(REPORTERS) >= {"text", "json", "sarif", "github"}


# --- text -----------------------------------------------------------------------------------------

def test_text_header_code_frame_and_carets(scan_result):
    out = render("text", scan_result)
    lines = out.splitlines()
    head = "src/disk.cpp:4:7: LL108 [noop-deallocator] free_disk_buffer() takes a pointer and frees nothing"
    i = lines.index(head)
    # the line (tab expanded) and carets under the span, no context lines
    assert lines[i + 1] == "4 |     void free_disk_buffer(char* b) override {"
    assert lines[i + 2] == "  |          " + "^" * len("free_disk_buffer")
    assert not lines[i + 3].startswith(("3 |", "5 |"))


def test_text_shows_notes_for_related_locations(scan_result):
    lines = render("text", scan_result).splitlines()
    head = lines.index("src/disk.cpp:11:5: LL106 [container-invalidation] "
                       "`p` points into `v[0]` and is used after `v.push_back()` may have reallocated it")
    # one frame in source order, gutter as wide as the widest line number: the related lines
    # with `-` under their spans and their messages after the marks, the primary with `^`
    assert lines[head + 1:head + 7] == [
        " 9 |     int* p = &v[0];",
        "   |              ----- pointer taken here",
        "10 |     v.push_back(1);",
        "   |       --------- `v` may reallocate here",
        "11 |     *p = 2;",
        "   |     ^^",
    ]


def test_text_merges_spans_on_one_line_and_prints_why_and_help_once(tmp_path):
    (tmp_path / "a.cpp").write_text("void f() { post(ex, [this] { run(); }); }\nvoid g() { post(ex, [this] { run(); }); }\n")
    findings = []
    for line in (1, 2):
        findings.append(ReportedFinding(
            "LL102", "this-captured-in-async", Level.WARNING, "the lambda captures `this`.",
            Location("a.cpp", line, 22, line, 26), [(Location("a.cpp", line, 12, line, 40), "handed to `post` here")],
            f"{line}:0", f"{line}:1", "", why="Nothing keeps the object alive.", fix="Capture shared_from_this()."))
    lines = render("text", ScanResult(root=str(tmp_path), findings=findings, files_scanned=1, lines_scanned=2)).splitlines()
    assert lines[:5] == [
        "a.cpp:1:22: LL102 [this-captured-in-async] the lambda captures `this`.",
        "1 | void f() { post(ex, [this] { run(); }); }",
        "  |            ----------^^^^-------------- handed to `post` here",
        "  = note: Nothing keeps the object alive.",
        "  = help: Capture shared_from_this().",
    ]
    # the second finding's why and fix are the same words: not repeated
    assert lines[5:8] == [
        "a.cpp:2:22: LL102 [this-captured-in-async] the lambda captures `this`.",
        "2 | void g() { post(ex, [this] { run(); }); }",
        "  |            ----------^^^^-------------- handed to `post` here",
    ]
    assert not lines[8].startswith("  =")


def test_text_aligns_carets_after_wide_characters(scan_result):
    lines = render("text", scan_result).splitlines()
    i = next(n for n, ln in enumerate(lines) if ln.startswith("src/my dir/\u00fcn\u00ef#1.rs:3:19: LL303"))
    assert "(100% of blocks, checked: 1)" in lines[i]  # the message's line break became a space
    src = next(ln for ln in lines[i:] if ln.startswith("3 | "))
    caret = lines[lines.index(src) + 1]
    assert caret.index("^") == src.index("unsafe") and caret.count("^") == len("unsafe { *p = 0 }")


def test_text_lists_diagnostics_unused_suppressions_table_and_totals(scan_result):
    out = render("text", scan_result)
    assert "src/zz broken.cpp: syntax: 12.5% of the file could not be parsed" in out
    assert "src/blob.hpp: binary: looks binary (NUL bytes); skipped" in out
    assert "src/disk.cpp:2:77: unused suppression: LL101 matched no finding" in out
    table = [ln.split() for ln in out.splitlines() if re.match(r"\s*LL\d{3}\s+\S+\s+\d+\s*$", ln)]
    assert table == [["LL106", "container-invalidation", "1"], ["LL108", "noop-deallocator", "1"],
                     ["LL303", "unsafe-without-safety-comment", "1"]]
    assert out.rstrip().splitlines()[-1] == (
        "3 findings in 2 files (4 files, 23 lines scanned; 1 suppressed, 2 baselined, 2 file diagnostics).")


def test_text_has_no_ansi_without_color_even_when_forced_by_env(scan_result, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    assert not ANSI.search(render("text", scan_result, color=False))
    assert ANSI.search(render("text", scan_result, color=True))


def test_text_color_does_not_change_the_words(scan_result):
    plain = render("text", scan_result)
    colored = re.sub(r"\x1b\[[0-9;]*m", "", render("text", scan_result, color=True))
    assert [ln.rstrip() for ln in colored.splitlines()] == [ln.rstrip() for ln in plain.splitlines()]


def test_text_clean_run_prints_one_line():
    out = render("text", ScanResult(root="/nonexistent", files_scanned=12, lines_scanned=3400))
    assert out == "No findings in 12 files (3400 lines scanned).\n"


def test_text_clean_run_still_shows_diagnostics():
    result = ScanResult(root="/nonexistent", files_scanned=1, lines_scanned=1,
                        diagnostics=[FileDiagnostic("a.cpp", "encoding", "not valid UTF-8")])
    out = render("text", result)
    assert "a.cpp: encoding: not valid UTF-8" in out
    assert out.rstrip().endswith("No findings in 1 file (1 line scanned; 1 file diagnostic).")


def test_text_without_the_source_file_falls_back_to_the_primary_line(tmp_path):
    result = make_scan_result(tmp_path, write_sources=False)
    out = render("text", result)
    assert "4 |     void free_disk_buffer(char* b) override {" in out
    assert "  note: src/disk.cpp:9:14: pointer taken here" in out


def test_text_sources_mapping_wins_over_the_disk(tmp_path):
    result = make_scan_result(tmp_path)
    sources = {p: t.replace("override", "OVERRIDE").split("\n") for p, t in SAMPLE_SOURCES.items()}
    assert "char* b) OVERRIDE {" in render("text", result, sources=sources)


def test_text_control_characters_in_source_never_reach_the_terminal(tmp_path):
    text = "int x; /* \x1b[2J\x07 */ void free_it(char* p) {}"
    (tmp_path / "evil.cpp").write_text(text + "\n")
    col = text.index("free_it") + 1
    loc = Location("evil.cpp", 1, col, 1, col + len("free_it"))
    f = ReportedFinding("LL108", "noop-deallocator", Level.WARNING, "bad \x1b[31m message", loc, [], "0:0", "0:1", "")
    out = render("text", ScanResult(root=str(tmp_path), findings=[f], files_scanned=1, lines_scanned=1))
    assert "\x1b" not in out and "\x07" not in out
    src = next(ln for ln in out.splitlines() if ln.startswith("1 | "))
    caret = out.splitlines()[out.splitlines().index(src) + 1]
    assert caret.index("^") == src.index("free_it") and caret.count("^") == len("free_it")


def test_text_survives_odd_input(tmp_path):
    # a span past the end of the file, a non-UTF-8 file name, an empty span
    f1 = ReportedFinding("LL108", "noop-deallocator", Level.ERROR, "m", Location("gone.cpp", 99, 1, 99, 1), [], "a:0", "b:1", "")
    f2 = ReportedFinding("LL108", "noop-deallocator", Level.NOTE, "m", Location("bad\udcff.cpp", 1, 5, 1, 5), [], "a:0", "b:1", "x")
    out = render("text", ScanResult(root=str(tmp_path), findings=[f1, f2]))
    assert "gone.cpp:99:1: LL108" in out and "bad\ufffd.cpp:1:5" in out
    out.encode("utf-8")  # writable to a strict UTF-8 stream


# --- json -----------------------------------------------------------------------------------------

def test_json_document_shape(scan_result):
    doc = json.loads(render("json", scan_result))
    assert set(doc) == {"version", "root", "findings", "diagnostics", "unused_suppressions", "summary"}
    assert [(f["path"], f["line"], f["code"]) for f in doc["findings"]] == [
        ("src/disk.cpp", 4, "LL108"), ("src/disk.cpp", 11, "LL106"), ("src/my dir/\u00fcn\u00ef#1.rs", 3, "LL303")]
    f = doc["findings"][1]
    assert set(f) == {"code", "name", "level", "message", "headline", "why", "fix", "path", "line", "column", "end_line",
                      "end_column", "related", "fingerprint"}
    assert (f["level"], f["column"], f["end_column"]) == ("error", 5, 7)
    assert f["related"][0] == {"path": "src/disk.cpp", "line": 9, "column": 14, "end_line": 9, "end_column": 19,
                               "message": "pointer taken here"}
    assert [d["path"] for d in doc["diagnostics"]] == ["src/blob.hpp", "src/zz broken.cpp"]
    assert doc["summary"] == {"findings": 3, "files_scanned": 4, "files_with_findings": 2, "lines_scanned": 23,
                              "suppressed": 1, "baselined": 2, "diagnostics": 2,
                              "by_rule": {"LL106": 1, "LL108": 1, "LL303": 1}}


def test_json_is_deterministic_whatever_the_input_order(tmp_path):
    a = make_scan_result(tmp_path)
    b = make_scan_result(tmp_path)
    rng = random.Random(7)
    rng.shuffle(b.findings)
    b.findings.reverse()
    b.diagnostics.reverse()
    out = render("json", a)
    assert out == render("json", a) == render("json", b)
    assert out.isascii()


# --- github ---------------------------------------------------------------------------------------

def test_github_escaping_rules():
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_github_annotations(scan_result):
    lines = render("github", scan_result).splitlines()
    assert lines[0] == ("::warning file=src/disk.cpp,line=4,col=7,endLine=4,endColumn=23,"
                        "title=LL108 noop-deallocator::free_disk_buffer() takes a pointer and frees nothing")
    assert lines[1].startswith("::error file=src/disk.cpp,line=11,col=5,endLine=11,endColumn=7,title=LL106 container-invalidation::")
    assert lines[1].endswith("%0Anote: src/disk.cpp:9:14: pointer taken here%0Anote: src/disk.cpp:10:7: `v` may reallocate here")
    assert lines[2].startswith("::notice file=src/my dir/\u00fcn\u00ef#1.rs,line=3,")
    assert "comment%0A(100%25 of blocks, checked: 1)" in lines[2]
    assert "::notice file=src/blob.hpp,title=lifelint binary::" in lines[3]
    assert lines[4] == "::warning file=src/disk.cpp,line=2,col=77,title=lifelint unused-suppression::unused suppression: LL101 matched no finding"
    assert all(ln.startswith("::") for ln in lines[:-1]) and lines[-1].startswith("lifelint: 3 findings")
    # parse gaps are left out unless asked for, and counted
    assert "zz broken.cpp" not in "\n".join(lines[:-1]) and "1 file with unparsed parts" in lines[-1]
    assert "::notice file=src/zz broken.cpp,title=lifelint syntax::12.5%25 of the file" in render("github", scan_result, parse_gaps=True)


def test_github_caps_annotations_per_kind_with_one_summary_notice(tmp_path):
    findings = [ReportedFinding("LL108", "noop-deallocator", Level.WARNING, f"finding {i}", Location("a.cpp", i, 1, i, 2),
                                [], f"{i}:0", f"{i}:1", "") for i in range(1, 14)]
    lines = render("github", ScanResult(root=str(tmp_path), findings=findings, files_scanned=1), cap=10).splitlines()
    assert sum(ln.startswith("::warning") for ln in lines) == 10
    notices = [ln for ln in lines if ln.startswith("::notice")]
    assert len(notices) == 1 and "3 more warnings not annotated" in notices[0]
    # the log still lists every finding
    assert all(any(ln.startswith(f"a.cpp:{i}:1: LL108 finding {i}") for ln in lines) for i in range(1, 14))


def test_github_step_summary_is_markdown_with_every_finding(scan_result, tmp_path):
    from lifelint.report import github

    path = tmp_path / "summary.md"
    github.write_step_summary(scan_result, str(path))
    md = path.read_text()
    assert md.startswith("## lifelint\n") and "**3 findings** in 2 files" in md
    assert "| LL106 | container-invalidation | 1 |" in md
    assert "| `src/disk.cpp:4` | LL108 | free_disk_buffer() takes a pointer and frees nothing |" in md


def test_github_escapes_properties_and_drops_columns_on_multiline_spans(tmp_path):
    f = ReportedFinding("LL108", "noop-deallocator", Level.WARNING, "a\nb", Location("odd,dir/a:b.cpp", 3, 2, 5, 1),
                        [], "x:0", "y:1", "")
    out = render("github", ScanResult(root=str(tmp_path), findings=[f]))
    assert out.splitlines()[0] == "::warning file=odd%2Cdir/a%3Ab.cpp,line=3,endLine=5,title=LL108 noop-deallocator::a%0Ab"


@pytest.mark.parametrize("fmt", ["text", "concise", "statistics", "json", "sarif", "github"])
def test_every_reporter_handles_an_empty_result(fmt):
    out = render(fmt, ScanResult(root="/nonexistent"))
    assert out.endswith("\n")


def test_text_collapses_minor_syntax_notes(tmp_path):
    import io

    from lifelint.model import FileDiagnostic, ScanResult
    from lifelint.report import REPORTERS

    result = ScanResult(root=str(tmp_path), files_scanned=3, lines_scanned=30)
    result.diagnostics = [
        FileDiagnostic("a.cpp", "syntax", "0.1% of the file could not be parsed (first at line 3)", 0.001),
        FileDiagnostic("b.cpp", "syntax", "0.2% of the file could not be parsed (first at line 9)", 0.002),
        FileDiagnostic("c.cpp", "syntax", "40.0% of the file could not be parsed (first at line 1)", 0.4),
        FileDiagnostic("d.hpp", "binary", "looks binary (NUL bytes); skipped"),
    ]
    out = io.StringIO()
    REPORTERS["text"](result, [], out, color=False)
    text = out.getvalue()
    assert "2 files: syntax: small parts" in text
    assert "c.cpp: syntax: 40.0%" in text and "d.hpp: binary" in text
    assert "a.cpp" not in text and "b.cpp" not in text
    out = io.StringIO()
    REPORTERS["json"](result, [], out)
    assert {"a.cpp", "b.cpp", "c.cpp", "d.hpp"} <= {d["path"] for d in __import__("json").loads(out.getvalue())["diagnostics"]}


def test_text_draws_a_related_span_through_the_primary_line_on_that_line(tmp_path):
    (tmp_path / "a.cpp").write_text("void f() {\n    async_write(s, buf,\n        std::bind(&c::on_sent, this, _1));\n}\n")
    f = ReportedFinding("LL102", "this-captured-in-async", Level.WARNING, "binds a raw `this`.",
                        Location("a.cpp", 3, 32, 3, 36), [(Location("a.cpp", 2, 5, 3, 42), "handed to `async_write` here")],
                        "1:0", "1:1", "")
    lines = render("text", ScanResult(root=str(tmp_path), findings=[f], files_scanned=1)).splitlines()
    assert lines[1:3] == [
        "3 |         std::bind(&c::on_sent, this, _1));",
        "  |         -----------------------^^^^------ handed to `async_write` here",
    ]
    assert not lines[3].startswith("2 |")
