"""The pre-commit hook, run by the real `pre-commit try-repo` on a scratch git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXED_DEALLOCATOR, NOOP_DEALLOCATOR

REPO = Path(__file__).resolve().parent.parent


def _pre_commit() -> list[str]:
    exe = shutil.which("pre-commit", path=os.path.dirname(sys.executable)) or shutil.which("pre-commit")
    if exe is None:
        pytest.fail("pre-commit is part of the test extra: pip install -e '.[test]'")
    return [exe]


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _try_repo(cmd, work, env):
    """Run pre-commit; its exit code 3 means it could not set the hook up (installing the
    hook's environment from PyPI hit a network hiccup): try once more before judging."""
    for _ in range(2):
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env, timeout=600)
        if proc.returncode != 3:
            break
    return proc


def test_hook_fails_on_hazard_and_passes_after_fix(tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    _git(work, "init", "-q")
    _git(work, "config", "user.email", "t@example.com")
    _git(work, "config", "user.name", "t")
    (work / "disk.cpp").write_text(NOOP_DEALLOCATOR)
    (work / "notes.txt").write_text("not C++\n")
    _git(work, "add", "disk.cpp", "notes.txt")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1"}
    cmd = [*_pre_commit(), "try-repo", str(REPO), "lifelint", "--verbose", "--color", "never"]
    first = _try_repo(cmd, work, env)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "LL108" in first.stdout and "disk.cpp:3" in first.stdout, first.stdout

    (work / "disk.cpp").write_text(FIXED_DEALLOCATOR)
    _git(work, "add", "disk.cpp")
    second = _try_repo(cmd, work, env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Passed" in second.stdout


WORKER_HPP = """\
#pragma once
#include <thread>

class worker {
public:
    void start();
    void stop();
    ~worker() { stop(); }
private:
    void run();
    bool stop_ = false;
    std::thread thread_;
};
"""

WORKER_CPP = """\
#include "worker.hpp"

void worker::start() {
    thread_ = std::thread(&worker::run, this);
}

void worker::run() {
    while (!stop_) {
        std::this_thread::yield();
    }
}

void worker::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

int main() {
    worker w;
    w.start();
    w.stop();
}
"""

SWIG_API = """\
%module api
%{
struct allocator_iface { virtual void free_disk_buffer(char* b) = 0; };
struct backend : allocator_iface {
    void free_disk_buffer(char* b) override {
        // the storage owns the buffers
    }
};
%}
"""


def test_hook_sees_the_repository_and_reports_on_staged_files(tmp_path):
    """Only worker.cpp and a SWIG .i file are staged: the flag declared in the committed header
    and polled by the staged source's thread still fails the hook, and so does the .i file."""
    work = tmp_path / "project"
    work.mkdir()
    _git(work, "init", "-q")
    _git(work, "config", "user.email", "t@example.com")
    _git(work, "config", "user.name", "t")
    (work / "worker.hpp").write_text(WORKER_HPP)
    # LL201 is in the nursery group: this project opts in, as a team adopting it would.
    (work / "lifelint.toml").write_text('extend-select = ["nursery"]\n')
    _git(work, "add", "worker.hpp", "lifelint.toml")
    _git(work, "commit", "-q", "-m", "header")
    (work / "worker.cpp").write_text(WORKER_CPP)
    (work / "api.i").write_text(SWIG_API)
    _git(work, "add", "worker.cpp", "api.i")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1"}
    proc = _try_repo([*_pre_commit(), "try-repo", str(REPO), "lifelint", "--verbose", "--color", "never"], work, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "worker.hpp:11:10: LL201" in proc.stdout, proc.stdout  # reported through its write in worker.cpp
    assert "worker.cpp:14" in proc.stdout
    assert "api.i:5:10: LL108" in proc.stdout, proc.stdout
    assert "(no files to check)" not in proc.stdout
