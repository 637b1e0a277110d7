"""`check --fix` / `--diff`: LL201 flags become std::atomic<bool>; the fixed code compiles and the
finding is gone; uncertain cases are left alone."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from lifelint.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cpp"

POLLER = """\
#include <thread>

class poller {
public:
    void start() { m_thread = std::thread([this] { run(); }); }
    void stop() {
        m_quit = true;
        m_thread.join();
    }

private:
    void run() {
        while (!m_quit && !m_paused) std::this_thread::yield();
    }
    bool m_quit = false;
    bool m_paused{};
    std::thread m_thread;
};

int main() {
    poller p;
    p.start();
    p.stop();
}
"""

# The flag's address is taken: a bool* cannot point at an atomic, so no fix.
PINNED = """\
#include <thread>

void watch(bool* flag);

class pinned {
public:
    void start() { m_thread = std::thread([this] { while (!m_quit) std::this_thread::yield(); }); }
    void stop() {
        m_quit = true;
        watch(&m_quit);
        m_thread.join();
    }

private:
    bool m_quit = false;
    std::thread m_thread;
};

int main() {
    pinned p;
    p.start();
    p.stop();
}
"""


def run(args, cwd: Path, monkeypatch):
    monkeypatch.chdir(cwd)
    r = CliRunner().invoke(main, ["check", "--no-cache", "--select", "LL201", *args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def ll201(cwd: Path, monkeypatch) -> list[tuple[str, int]]:
    _, out, _ = run(["--format", "json", "--exit-zero", "."], cwd, monkeypatch)
    return [(f["path"], f["line"]) for f in json.loads(out)["findings"]]


def compiles(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["g++", "-std=c++20", "-fsyntax-only", str(path)], capture_output=True, text=True)


def ll201_fixture_dirs() -> list[Path]:
    return sorted(d for d in FIXTURES.iterdir() if d.name.startswith("LL201"))


@pytest.mark.parametrize("fixture", ll201_fixture_dirs(), ids=lambda d: d.name)
def test_fix_turns_every_ll201_fixture_into_compiling_code_without_ll201(fixture, tmp_path, monkeypatch):
    work = tmp_path / fixture.name
    shutil.copytree(fixture, work)
    before = ll201(work, monkeypatch)
    assert before, "the fixture has LL201 findings to fix"
    code, out, err = run(["--fix", "--format", "concise", "."], work, monkeypatch)
    assert f"fixed {len(before)} finding(s)" in err
    assert ll201(work, monkeypatch) == []
    for src in work.rglob("*.cpp"):
        res = compiles(src)
        assert res.returncode == 0, res.stderr


def test_fix_adds_the_include_and_diff_previews_without_writing(tmp_path, monkeypatch):
    (tmp_path / "poller.cpp").write_text(POLLER)
    (tmp_path / "pinned.cpp").write_text(PINNED)
    assert compiles(tmp_path / "poller.cpp").returncode == 0
    assert sorted(ll201(tmp_path, monkeypatch)) == [("pinned.cpp", 15), ("poller.cpp", 15)]
    code, out, err = run(["--diff", "."], tmp_path, monkeypatch)
    assert code == 1
    assert "+#include <atomic>" in out and "-    bool m_quit = false;" in out and "+    std::atomic<bool> m_quit{false};" in out
    assert "pinned.cpp" not in out  # its flag's address is taken: not certain, no fix
    assert (tmp_path / "poller.cpp").read_text() == POLLER  # --diff writes nothing
    code, out, err = run(["--fix", "--format", "concise", "."], tmp_path, monkeypatch)
    fixed = (tmp_path / "poller.cpp").read_text()
    assert "#include <atomic>" in fixed and "std::atomic<bool> m_quit{false};" in fixed
    assert compiles(tmp_path / "poller.cpp").returncode == 0
    # what is left is reported: the uncertain one
    assert code == 1 and "pinned.cpp:15:10: LL201" in out and "poller.cpp" not in out
    assert (tmp_path / "pinned.cpp").read_text() == PINNED
    # nothing more to fix: --diff exits 0
    code, out, _ = run(["--diff", "."], tmp_path, monkeypatch)
    assert code == 0 and out == ""
