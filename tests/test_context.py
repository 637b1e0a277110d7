"""The context root: named paths are reported, the repository around them is read for facts."""

from __future__ import annotations

import subprocess

import pytest
from conftest import NOOP_DEALLOCATOR, findings_json

from test_precommit import WORKER_CPP, WORKER_HPP


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    work = tmp_path / "repo"
    (work / "src").mkdir(parents=True)
    _git(work, "init", "-q")
    (work / "src" / "worker.hpp").write_text(WORKER_HPP)
    (work / "src" / "worker.cpp").write_text(WORKER_CPP)
    (work / "other.cpp").write_text(NOOP_DEALLOCATOR)
    return work


def test_a_named_source_is_checked_with_its_header_from_the_repository(repo, run_cli):
    code, out, _ = run_cli(["check", "--format", "json", "src/worker.cpp"], repo)
    assert code == 1
    found = findings_json(out)
    # LL201 sits on the header's declaration; its related write is in the named source
    assert [(f["code"], f["path"]) for f in found] == [("LL201", "src/worker.hpp")]
    assert any(r["path"] == "src/worker.cpp" for r in found[0]["related"])
    # other.cpp was read for facts but is not reported on
    summary = __import__("json").loads(out)["summary"]
    assert summary["files_scanned"] == 1


def test_without_context_the_header_is_not_read(repo, run_cli):
    code, out, _ = run_cli(["check", "--format", "json", "--no-context", "src/worker.cpp"], repo)
    assert [f["code"] for f in findings_json(out)] == []
    assert code == 0


def test_context_can_be_turned_off_in_the_config(repo, run_cli):
    (repo / "lifelint.toml").write_text("context = false\n")
    code, out, _ = run_cli(["check", "--format", "json", "src/worker.cpp"], repo)
    assert findings_json(out) == [] and code == 0


def test_context_root_flag_outside_git(tmp_path, run_cli):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "worker.hpp").write_text(WORKER_HPP)
    (tmp_path / "src" / "worker.cpp").write_text(WORKER_CPP)
    code, out, _ = run_cli(["check", "--format", "json", "src/worker.cpp"], tmp_path)
    assert findings_json(out) == []  # no git, no config: no context
    code, out, _ = run_cli(["check", "--format", "json", "--context-root", ".", "src/worker.cpp"], tmp_path)
    assert [f["code"] for f in findings_json(out)] == ["LL201"]


def test_the_config_files_folder_is_the_context_root_without_git(tmp_path, run_cli):
    (tmp_path / "lifelint.toml").write_text("")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "worker.hpp").write_text(WORKER_HPP)
    (tmp_path / "src" / "worker.cpp").write_text(WORKER_CPP)
    code, out, _ = run_cli(["check", "--format", "json", "src/worker.cpp"], tmp_path)
    assert [f["code"] for f in findings_json(out)] == ["LL201"]


def test_a_finding_elsewhere_is_not_reported(repo, run_cli):
    code, out, _ = run_cli(["check", "--format", "json", "other.cpp"], repo)
    assert [(f["code"], f["path"]) for f in findings_json(out)] == [("LL108", "other.cpp")]


def test_show_files_and_settings_name_the_context_root(repo, run_cli):
    code, out, err = run_cli(["check", "--show-files", "src/worker.cpp"], repo)
    assert code == 0 and out.splitlines() == ["src/worker.cpp"]
    assert "context root" in err and "3 file(s) read" in err
    code, out, _ = run_cli(["check", "--show-settings", "src/worker.cpp"], repo)
    assert code == 0 and f"context root       {repo}" in out and "fail level         warning" in out


def test_git_info_exclude_is_honoured(repo, run_cli):
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("other.cpp\n")
    code, out, _ = run_cli(["check", "--show-files", "."], repo)
    assert "other.cpp" not in out.split() and "src/worker.cpp" in out.split()


def test_a_context_check_after_a_whole_scan_of_the_unchanged_repository_is_served_from_the_cache(repo, run_cli, monkeypatch):
    """`check .` at the repository's root and the hook's `check FILE` (the repository as context)
    are one scan: the second is the first's cached result, restricted to FILE."""
    from lifelint import engine

    code, out, _ = run_cli(["check", "--format", "json", "src/worker.cpp", "--no-cache"], repo)
    expected = findings_json(out)
    assert [f["code"] for f in expected] == ["LL201"]
    run_cli(["check", "--format", "json", "."], repo)
    scans = []
    real = engine._scan
    monkeypatch.setattr(engine, "_scan", lambda *a, **kw: scans.append(1) or real(*a, **kw))
    code, out, _ = run_cli(["check", "--format", "json", "src/worker.cpp"], repo)
    assert findings_json(out) == expected and code == 1
    assert scans == []  # nothing analysed, no rule run
    # A changed file is a new scan.
    (repo / "other.cpp").write_text("int x;\n")
    code, out, _ = run_cli(["check", "--format", "json", "src/worker.cpp"], repo)
    assert findings_json(out) == expected and scans == [1]
