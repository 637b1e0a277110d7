"""Bad input never crashes the run: one line per bad file, the scan goes on, the exit code says so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import NOOP_DEALLOCATOR, findings_json
from lifelint.engine import analyse_file
from lifelint.discovery import SourcePath
from lifelint.settings import Settings


def _json(run_cli, tree, *extra):
    import json

    code, out, err = run_cli(["check", "--format", "json", *extra, "."], tree)
    return code, json.loads(out), err


def test_binary_file_is_reported_and_scan_goes_on(tree, run_cli):
    (tree / "src" / "blob.hpp").write_bytes(b"\x7fELF\x00\x01\x02" * 100)
    code, doc, _ = _json(run_cli, tree)
    assert code == 1
    assert any(d["path"] == "src/blob.hpp" and d["kind"] == "binary" for d in doc["diagnostics"])
    assert [f["code"] for f in doc["findings"]] == ["LL108"]


def test_non_utf8_file_is_still_analysed(tree, run_cli):
    (tree / "src" / "latin1.cpp").write_bytes(NOOP_DEALLOCATOR.replace("the storage", "caf\xe9").encode("latin-1"))
    code, doc, _ = _json(run_cli, tree)
    assert any(d["path"] == "src/latin1.cpp" and d["kind"] == "encoding" for d in doc["diagnostics"])
    assert sorted(f["path"] for f in doc["findings"]) == ["src/backend.cpp", "src/latin1.cpp"]


def test_empty_file(tree, run_cli):
    (tree / "src" / "empty.cpp").write_bytes(b"")
    (tree / "src" / "empty.rs").write_bytes(b"")
    code, doc, _ = _json(run_cli, tree)
    assert code == 1 and not [d for d in doc["diagnostics"] if "empty" in d["path"]]


def test_huge_file_is_skipped_with_a_diagnostic(tree, run_cli):
    (tree / "lifelint.toml").write_text("max-file-size = 1000\n")
    (tree / "src" / "huge.cpp").write_text("int x;\n" * 1000)
    code, doc, _ = _json(run_cli, tree)
    assert any(d["path"] == "src/huge.cpp" and d["kind"] == "too-large" for d in doc["diagnostics"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tree, run_cli):
    p = tree / "src" / "secret.cpp"
    p.write_text("int x;\n")
    p.chmod(0)
    code, doc, _ = _json(run_cli, tree)
    assert code == 1 and any(d["kind"] == "unreadable" for d in doc["diagnostics"])


def test_unreadable_file_as_root_via_directory_named_like_a_source(tree, run_cli):
    # Works for root too: a directory named like a source file, named explicitly.
    (tree / "src" / "dir.cpp").mkdir()
    code, out, err = run_cli(["check", "--format", "json", "src/dir.cpp", "src/backend.cpp"], tree)
    import json
    doc = json.loads(out)
    assert [f["code"] for f in doc["findings"]] == ["LL108"]


def test_symlink_loops(tree, run_cli):
    (tree / "src" / "loop").symlink_to(tree / "src")  # a directory loop: never followed
    (tree / "src" / "a.cpp").symlink_to(tree / "src" / "b.cpp")
    (tree / "src" / "b.cpp").symlink_to(tree / "src" / "a.cpp")  # a file loop
    code, doc, _ = _json(run_cli, tree)
    assert code == 1
    assert any(d["path"] in ("src/a.cpp", "src/b.cpp") and d["kind"] == "symlink-loop" for d in doc["diagnostics"])
    assert [f["path"] for f in doc["findings"]] == ["src/backend.cpp"]


def test_symlink_loop_named_explicitly(tree, run_cli):
    (tree / "x.cpp").symlink_to(tree / "x.cpp")
    code, doc, _ = _json(run_cli, tree, "x.cpp")
    assert code in (1, 2)


def test_syntax_errors_keep_the_findings_of_the_parts_that_parsed(tree, run_cli):
    (tree / "src" / "backend.cpp").write_text("void broken() { int = = 3; call(; }\n" + NOOP_DEALLOCATOR + "\nint trailing garbage <<< ;\n")
    code, doc, _ = _json(run_cli, tree)
    assert any(d["kind"] == "syntax" for d in doc["diagnostics"])
    assert [(f["code"], f["line"]) for f in doc["findings"]] == [("LL108", 4)]


def test_deep_nesting_does_not_crash(tree, run_cli):
    (tree / "src" / "deep.cpp").write_text("void f() " + "{" * 20000 + "}" * 20000 + "\n")
    code, doc, _ = _json(run_cli, tree)
    assert [f["code"] for f in doc["findings"]] == ["LL108"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), lang=st.sampled_from(["cpp", "rust"]))
def test_any_bytes_give_facts_or_a_diagnostic(tmp_path, data, lang):
    p = tmp_path / ("f.cpp" if lang == "cpp" else "f.rs")
    p.write_bytes(data)
    facts, diags = analyse_file(SourcePath(str(p), p.name, lang), Settings())
    assert facts is not None or diags
    assert not [d for d in diags if d.kind == "internal"], diags


@settings(max_examples=40, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("{}()[];<>:&*=,. \n/\"'#abcxyzstdmutexlockfreeoverride0123")), max_size=300))
def test_cpp_like_noise_never_crashes_rules(text):
    import tempfile
    from pathlib import Path

    from lifelint.engine import scan_paths

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "noise.cpp"
        p.write_text(text)
        result = scan_paths([str(p)], root=d, jobs=1)
        assert not [x for x in result.diagnostics if x.kind == "internal"], result.diagnostics


def test_tool_state_folders_are_not_sources(tmp_path):
    """quilt's .pc/ holds pre-patch copies of patched files (every Debian source tree that was
    unpacked has one): scanning it would report each hazard twice, once in a stale copy."""
    from lifelint.discovery import discover

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.cpp").write_text("int a;\n")
    (tmp_path / ".pc" / "fix.patch" / "src").mkdir(parents=True)
    (tmp_path / ".pc" / "fix.patch" / "src" / "a.cpp").write_text("int a;\n")
    found = {Path(f.path).relative_to(tmp_path).as_posix() for f in discover([str(tmp_path)], tmp_path, [], False).files}
    assert found == {"src/a.cpp"}
