"""The command line end to end: formats, exit codes, selection, explain commands."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import NOOP_DEALLOCATOR, findings_json


def test_text_report_shows_code_frame_and_exits_1(tree, run_cli):
    code, out, _ = run_cli(["check", "--no-color", "."], tree)
    assert code == 1
    assert "src/backend.cpp:3:" in out
    assert "LL108" in out
    assert "void free_disk_buffer(char* b) override {" in out  # the code frame
    assert "\x1b[" not in out


def test_clean_tree_exits_0(tree, run_cli):
    (tree / "src" / "backend.cpp").unlink()
    code, out, _ = run_cli(["check", "--no-color", "."], tree)
    assert code == 0, out


def test_json_lists_the_finding(tree, run_cli):
    code, out, _ = run_cli(["check", "--format", "json", "src"], tree)
    assert code == 1
    [f] = findings_json(out)
    assert (f["code"], f["path"], f["line"]) == ("LL108", "src/backend.cpp", 3)
    assert "free_disk_buffer" in f["message"]


def test_output_file_and_exit_zero(tree, run_cli):
    code, out, err = run_cli(["check", "--format", "sarif", "--output", "out.sarif", "--exit-zero", "."], tree)
    assert code == 0
    doc = json.loads((tree / "out.sarif").read_text())
    assert doc["runs"][0]["results"][0]["ruleId"] == "LL108"
    assert out == ""  # nothing but the report file; the summary goes to stderr


def test_select_and_ignore(tree, run_cli):
    code, out, _ = run_cli(["check", "--format", "json", "--ignore", "LL108", "."], tree)
    assert code == 0 and findings_json(out) == []
    code, out, _ = run_cli(["check", "--format", "json", "--select", "LL1", "."], tree)
    assert code == 1 and len(findings_json(out)) == 1
    code, out, _ = run_cli(["check", "--format", "json", "--select", "noop-deallocator", "."], tree)
    assert code == 1


def test_unknown_selector_is_a_usage_error(tree, run_cli):
    code, _, err = run_cli(["check", "--select", "LL999", "."], tree)
    assert code == 2
    assert "LL999" in err


def test_missing_path_is_a_usage_error(tree, run_cli):
    code, out, _ = run_cli(["check", "--format", "json", "nope.cpp"], tree)
    assert code == 2


def test_github_annotations(tree, run_cli):
    code, out, _ = run_cli(["check", "--format", "github", "."], tree)
    assert code == 1
    assert out.startswith("::warning file=src/backend.cpp,line=3")


def test_rules_and_rule_commands(tree, run_cli):
    code, out, _ = run_cli(["rules"], tree)
    assert code == 0 and "LL108" in out and "noop-deallocator" in out
    code, out, _ = run_cli(["rule", "LL108"], tree)
    assert code == 0 and "What it does" in out and "Use instead" in out
    code, out, _ = run_cli(["rule", "noop-deallocator"], tree)
    assert code == 0 and "LL108" in out
    code, _, err = run_cli(["rule", "LL000"], tree)
    assert code == 2


def test_python_dash_m_and_console_script(tree):
    proc = subprocess.run([sys.executable, "-m", "lifelint", "check", "--format", "json", "."], cwd=tree,
                          capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert findings_json(proc.stdout)[0]["code"] == "LL108"


def test_output_is_identical_for_any_job_count(tmp_path, run_cli):
    src = (tmp_path / "many")
    src.mkdir()
    from conftest import NOOP_DEALLOCATOR
    for i in range(40):
        (src / f"f{i:02}.cpp").write_text(NOOP_DEALLOCATOR if i % 3 == 0 else "int x = 1;\n")
    outs = []
    for jobs in ("1", "2", "3"):
        code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "-j", jobs, "."], tmp_path)
        assert code == 1
        outs.append(out)
    assert outs[0] == outs[1] == outs[2]
    assert len(findings_json(outs[0])) == 14


def test_concise_prints_one_line_per_finding(tree, run_cli):
    code, out, _ = run_cli(["check", "--format", "concise", "."], tree)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("src/backend.cpp:3:10: LL108 ") and len(lines) == 2
    assert lines[-1].startswith("Found 1 finding in 1 file")


def test_statistics(tree, run_cli):
    code, out, _ = run_cli(["check", "--statistics", "."], tree)
    assert code == 1 and out.splitlines()[0] == "1\tLL108\tnoop-deallocator"


def test_levels_and_fail_level_decide_the_exit_code(tree, run_cli):
    (tree / "lifelint.toml").write_text('[levels]\nLL108 = "note"\n')
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0 and findings_json(out)[0]["level"] == "note"
    code, out, _ = run_cli(["check", "--fail-level", "note", "."], tree)
    assert code == 1
    code, out, _ = run_cli(["check", "."], tree)
    assert "no finding at or above the fail level (warning)" in out
    (tree / "lifelint.toml").write_text('fail-level = "error"\n[levels]\nnoop-deallocator = "error"\n')
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 1 and findings_json(out)[0]["level"] == "error"


def test_bad_level_is_a_config_error(tree, run_cli):
    (tree / "lifelint.toml").write_text('[levels]\nLL108 = "fatal"\n')
    code, _, err = run_cli(["check", "."], tree)
    assert code == 2 and "levels.LL108" in err


def test_a_folder_without_sources_warns(tmp_path, run_cli):
    (tmp_path / "notes.txt").write_text("x\n")
    code, _, err = run_cli(["check", "."], tmp_path)
    assert code == 0 and "no C++ or Rust files found" in err


def test_exit_1_without_findings_says_why(tmp_path, run_cli):
    (tmp_path / "a.cpp").write_bytes(b"int x;\x00\x01\x02")
    code, out, _ = run_cli(["check", "."], tmp_path)
    assert code == 1 and "exit 1: 1 file(s) could not be analysed (binary)" in out


def test_paths_far_outside_the_root_print_absolute(tmp_path, run_cli):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "disk.cpp").write_text(NOOP_DEALLOCATOR)
    code, out, _ = run_cli(["check", "--format", "concise", str(other)], deep)
    assert out.startswith(f"{other}/disk.cpp:3:10: LL108"), out
