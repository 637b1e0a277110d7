"""`--diff-base REF`: only findings new since the merge-base, on real git history."""

from __future__ import annotations

import subprocess

from conftest import NOOP_DEALLOCATOR, findings_json

from test_precommit import WORKER_CPP, WORKER_HPP


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _repo(tmp_path):
    work = tmp_path / "repo"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    _git(work, "config", "user.email", "t@example.com")
    _git(work, "config", "user.name", "t")
    (work / "disk.cpp").write_text(NOOP_DEALLOCATOR)
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "first: a no-op deallocator")
    return work


def test_only_the_second_commits_finding_is_reported(tmp_path, run_cli):
    work = _repo(tmp_path)
    _git(work, "checkout", "-q", "-b", "feature")
    # the second commit shifts the old finding down two lines and adds a new hazard
    (work / "disk.cpp").write_text("// moved\n// down\n" + NOOP_DEALLOCATOR)
    (work / "worker.hpp").write_text(WORKER_HPP)
    (work / "worker.cpp").write_text(WORKER_CPP)
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "second: a thread and a plain stop flag")
    code, out, _ = run_cli(["check", "--format", "json", "."], work)
    assert sorted(f["code"] for f in findings_json(out)) == ["LL108", "LL201"]
    code, out, err = run_cli(["check", "--format", "json", "--diff-base", "main", "."], work)
    assert code == 1, err
    assert [(f["code"], f["path"]) for f in findings_json(out)] == [("LL201", "worker.hpp")]
    doc = __import__("json").loads(out)
    assert doc["summary"]["baselined"] == 1
    # nothing in the user's tree changed: no worktree, no stray files
    assert _git(work, "status", "--porcelain") == ""
    assert "worktree" not in _git(work, "worktree", "list") or len(_git(work, "worktree", "list").splitlines()) == 1


def test_works_in_a_detached_checkout(tmp_path, run_cli):
    work = _repo(tmp_path)
    (work / "worker.hpp").write_text(WORKER_HPP)
    (work / "worker.cpp").write_text(WORKER_CPP)
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "second")
    _git(work, "checkout", "-q", "--detach", "HEAD")
    code, out, err = run_cli(["check", "--format", "concise", "--diff-base", "HEAD~1", "."], work)
    assert code == 1, err
    assert [ln.split(": ")[1].split()[0] for ln in out.splitlines() if ": LL" in ln] == ["LL201"]
    # the same commit as base: nothing is new
    code, out, _ = run_cli(["check", "--format", "concise", "--diff-base", "HEAD", "."], work)
    assert code == 0 and "No findings" in out


def test_a_ref_that_does_not_exist_is_a_usage_error(tmp_path, run_cli):
    work = _repo(tmp_path)
    code, _, err = run_cli(["check", "--diff-base", "no-such-branch", "."], work)
    assert code == 2 and "no-such-branch" in err


def test_findings_inside_a_submodule_are_not_new(tmp_path, run_cli):
    work = _repo(tmp_path)
    sub = work / "third_party" / "lib"
    sub.mkdir(parents=True)
    _git(sub, "init", "-q")
    _git(sub, "config", "user.email", "t@example.com")
    _git(sub, "config", "user.name", "t")
    (sub / "pool.cpp").write_text(NOOP_DEALLOCATOR)
    _git(sub, "add", ".")
    _git(sub, "commit", "-q", "-m", "vendored")
    _git(work, "add", "third_party/lib")  # a gitlink: `git archive` leaves its content out
    _git(work, "commit", "-q", "-m", "add a submodule")
    code, out, err = run_cli(["check", "--format", "json", "--diff-base", "HEAD~1", "."], work)
    assert findings_json(out) == [] and code == 0, err
    code, out, _ = run_cli(["check", "--format", "concise", "--diff-base", "HEAD~1", "."], work)
    assert "inside submodules not compared" in out
