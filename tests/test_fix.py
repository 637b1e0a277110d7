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


# --- LL102's unsafe fix: `[this]` -> `[self = shared_from_this()]` (only with --unsafe-fixes) ---

LL102_DIR = FIXTURES / "LL102-this-captured-in-async"
SHARED_SELF = "shared_self_fix.cpp"
# the lines of shared_self_fix.cpp whose finding the fix must leave: a member that is also a
# local, a nested lambda capturing `this` (both lambdas), `this` handed on, a macro, and a class
# without enable_shared_from_this
SHARED_SELF_REFUSED = [32, 39, 39, 43, 47, 69]


def ll102(cwd: Path, monkeypatch) -> list[tuple[str, int]]:
    monkeypatch.chdir(cwd)
    r = CliRunner().invoke(main, ["check", "--no-cache", "--select", "LL102", "--format", "json", "--exit-zero", "."],
                           catch_exceptions=False)
    return sorted((f["path"], f["line"]) for f in json.loads(r.stdout)["findings"])


def run102(args, cwd: Path, monkeypatch):
    monkeypatch.chdir(cwd)
    r = CliRunner().invoke(main, ["check", "--no-cache", "--select", "LL102", *args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def test_unsafe_fix_rewrites_this_through_self_where_certain(tmp_path, monkeypatch):
    shutil.copy(LL102_DIR / SHARED_SELF, tmp_path / SHARED_SELF)
    before = (tmp_path / SHARED_SELF).read_text()
    found = ll102(tmp_path, monkeypatch)
    assert [ln for _, ln in found] == sorted([21, 61, *SHARED_SELF_REFUSED])
    # --fix alone leaves LL102 alone, and says an unsafe fix is available
    code, out, err = run102(["--fix", "--format", "concise", "."], tmp_path, monkeypatch)
    assert "2 unsafe fix(es) (LL102) available with --unsafe-fixes" in err and "fixed" not in err
    assert (tmp_path / SHARED_SELF).read_text() == before
    # --diff --unsafe-fixes previews and writes nothing
    code, out, err = run102(["--diff", "--unsafe-fixes", "."], tmp_path, monkeypatch)
    assert code == 1
    assert "+        post(m_ex, [self = shared_from_this(), n] {  // expect: LL102" in out
    assert "+            int got = n + self->m_pending;" in out and "+            self->m_total += got;" in out
    assert "+            self->flush(got);" in out and "self->s_count" not in out  # a static field stays
    assert "+    post(m_ex, [self = shared_from_this()]() mutable { self->flush(self->m_total); });  // expect: LL102" in out
    body = [ln for ln in out.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    assert len(body) == 10 and sum(ln[0] == "-" for ln in body) == 5  # lines changed in place, none added
    assert "6 LL102 finding(s) not fixable" in err
    assert (tmp_path / SHARED_SELF).read_text() == before
    # --fix --unsafe-fixes: compiles, the fixed findings are gone, the uncertain ones stay untouched
    code, out, err = run102(["--fix", "--unsafe-fixes", "--format", "concise", "."], tmp_path, monkeypatch)
    assert "fixed 2 finding(s) in 1 file(s)" in err
    res = compiles(tmp_path / SHARED_SELF)
    assert res.returncode == 0, res.stderr
    assert [ln for _, ln in ll102(tmp_path, monkeypatch)] == sorted(SHARED_SELF_REFUSED)
    after = (tmp_path / SHARED_SELF).read_text().splitlines()
    for ln in SHARED_SELF_REFUSED:
        assert after[ln - 1] == before.splitlines()[ln - 1]
    assert "[this] { ++m_responses; }" in after[69 - 1]  # no enable_shared_from_this: not touched


def test_unsafe_fix_on_the_ll102_fixtures_compiles_and_removes_what_it_fixed(tmp_path, monkeypatch):
    work = tmp_path / LL102_DIR.name
    shutil.copytree(LL102_DIR, work)
    before = ll102(work, monkeypatch)
    code, out, err = run102(["--fix", "--unsafe-fixes", "--format", "concise", "."], work, monkeypatch)
    fixed = int(err.split("fixed ")[1].split(" ")[0])
    assert fixed >= 5  # asio_session.cpp 2, early_death_evidence.cpp 1, shared_self_fix.cpp 2
    after = ll102(work, monkeypatch)
    assert set(after) < set(before) and len(before) - len(after) == fixed
    for src in work.rglob("*.cpp"):
        res = compiles(src)
        assert res.returncode == 0, (src.name, res.stderr)
        text = src.read_text()
        if "enable_shared_from_this" not in text:
            assert text == (LL102_DIR / src.relative_to(work)).read_text()
