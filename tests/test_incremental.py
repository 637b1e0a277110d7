"""The editor's workspace keeps facts, the project index and its passes (lock index, thread
model, the rules' project-wide tables) between checks. Whatever it reuses, a file's findings
after an edit are those a full scan of the edited tree gives for that file: the edit removes a
lock, adds it back, adds a thread that polls a plain flag declared in the header."""

from __future__ import annotations

import shutil
from dataclasses import astuple
from pathlib import Path

import pytest

from lifelint.engine import ScanOptions, scan
from lifelint.registry import all_rules
from lifelint.workspace import Workspace

ALL = {r.code for r in all_rules()}

REGISTRY_HPP = """\
#pragma once
#include <map>
#include <mutex>
#include <string>

class registry {
public:
    void report(int id);
    void rename(int id, const std::string& n);
private:
    std::mutex m_lock;
    std::map<int, std::string> m_names;
};
"""

REGISTRY_CPP = """\
#include "registry.hpp"

void emit(const char* s);

void registry::report(int id)
{
    const char* label = nullptr;
    {
        std::lock_guard<std::mutex> hold(m_lock);
        label = m_names.at(id).c_str();
    }
    emit(label);
}

void registry::rename(int id, const std::string& n)
{
    std::lock_guard<std::mutex> hold(m_lock);
    m_names[id] = n;
}
"""

# The view is taken with no lock at all: LL101 has nothing to report.
UNLOCKED_CPP = REGISTRY_CPP.replace("        std::lock_guard<std::mutex> hold(m_lock);\n        label", "        label")

# A worker thread polls a plain bool the header declares; stop() writes it from another thread.
THREADED_CPP = REGISTRY_CPP.replace('#include "registry.hpp"\n', '#include "registry.hpp"\n#include <thread>\n') + """
void registry::start()
{
    std::thread([this] {
        while (!m_stop) {
            report(0);
        }
    }).detach();
}

void registry::stop()
{
    m_stop = true;
}
"""
THREADED_HPP = REGISTRY_HPP.replace("    void rename(int id, const std::string& n);\n",
                                    "    void rename(int id, const std::string& n);\n    void start();\n    void stop();\n").replace(
    "    std::mutex m_lock;\n", "    std::mutex m_lock;\n    bool m_stop = false;\n")

POOL_CPP = """\
#include <mutex>

static std::mutex pool_lock;
static int pool_size = 0;

void grow()
{
    std::lock_guard<std::mutex> g(pool_lock);
    ++pool_size;
}
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _key(f):
    return (f.code, astuple(f.location), f.message, f.why, f.fix, f.fingerprint,
            tuple((astuple(loc), msg) for loc, msg in f.related))


def _full_scan(tmp: Path, files: dict[str, str], path: str) -> list:
    """A whole scan, no cache, of a tree holding `files`: its findings located in `path`."""
    mirror = tmp / "mirror"
    shutil.rmtree(mirror, ignore_errors=True)
    mirror.mkdir()
    _write(mirror, files)
    result = scan(ScanOptions(paths=[str(mirror)], root=mirror, enabled=ALL))
    return sorted(_key(f) for f in result.findings if f.location.path == path)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "repo"
    files = {"src/registry.hpp": REGISTRY_HPP, "src/registry.cpp": REGISTRY_CPP, "src/pool.cpp": POOL_CPP}
    _write(root, files)
    ws = Workspace(root, enabled=ALL, cache_dir=str(tmp_path / "cache"))
    return tmp_path, root, files, ws


def _check(ws, root: Path, path: str, text: str | None = None) -> list:
    """The findings located in `path` (what the server publishes for it; `check` also returns
    those of other files that point into it, as `check FILE` reports them)."""
    return sorted(_key(f) for f in ws.check(root / path, text).findings if f.location.path == path)


def test_findings_after_edits_match_a_full_scan(project):
    tmp, root, files, ws = project
    cpp, hpp = "src/registry.cpp", "src/registry.hpp"

    base = _check(ws, root, cpp)
    assert base == _full_scan(tmp, files, cpp)
    assert "LL101" in {k[0] for k in base}  # the premise: the view outlives the guard

    # An unsaved edit removes the lock: the buffer's facts replace the file's.
    got = _check(ws, root, cpp, UNLOCKED_CPP)
    assert got == _full_scan(tmp, {**files, cpp: UNLOCKED_CPP}, cpp)
    assert "LL101" not in {k[0] for k in got}

    # Saved as checked: nothing is analysed again and the index (with its passes) is reused.
    (root / cpp).write_text(UNLOCKED_CPP)
    analysed, builds = ws.analysed, ws._index.builds
    assert _check(ws, root, cpp, UNLOCKED_CPP) == got
    assert (ws.analysed, ws._index.builds) == (analysed, builds)
    # Another unchanged file opened: the same index serves its rules.
    assert _check(ws, root, "src/pool.cpp") == _full_scan(tmp, {**files, cpp: UNLOCKED_CPP}, "src/pool.cpp")
    assert (ws.analysed, ws._index.builds) == (analysed, builds)

    # The lock comes back in the buffer (the file on disk still has none).
    assert _check(ws, root, cpp, REGISTRY_CPP) == base

    # A thread is added (saved) and the header gains the flag it polls (unsaved): LL209 (LL201's
    # audit part: stop() has no caller in the project) on the header's declaration, its related
    # write in the source.
    (root / cpp).write_text(THREADED_CPP)
    threaded = {**files, cpp: THREADED_CPP, hpp: THREADED_HPP}
    got = _check(ws, root, hpp, THREADED_HPP)
    assert got == _full_scan(tmp, threaded, hpp)
    assert "LL209" in {k[0] for k in got}
    # ...and the source, checked with the header's saved text, as a full scan sees it.
    (root / hpp).write_text(THREADED_HPP)
    assert _check(ws, root, cpp) == _full_scan(tmp, threaded, cpp)

    # The thread is removed again: the header's LL209 goes.
    (root / cpp).write_text(REGISTRY_CPP)
    got = _check(ws, root, hpp)
    assert got == _full_scan(tmp, {**files, hpp: THREADED_HPP}, hpp)
    assert "LL209" not in {k[0] for k in got}


def test_a_file_changed_on_disk_is_read_again(project):
    tmp, root, files, ws = project
    assert _check(ws, root, "src/pool.cpp") == _full_scan(tmp, files, "src/pool.cpp")
    builds = ws._index.builds
    (root / "src/registry.cpp").write_text(UNLOCKED_CPP)  # changed by another program
    assert _check(ws, root, "src/registry.cpp") == _full_scan(tmp, {**files, "src/registry.cpp": UNLOCKED_CPP}, "src/registry.cpp")
    assert ws._index.builds == builds + 1


def test_a_big_reload_collects_the_old_index_before_freezing_the_new_facts(project, monkeypatch):
    """A project's facts are frozen out of the cyclic collector's sight once loaded; the index
    built on the previous facts is cyclic (the lock index's call graph, the thread model), so it
    must be collected before a reload freezes again, or each big reload (a branch switch) would
    keep one index for good."""
    import gc
    import weakref

    from lifelint import workspace

    monkeypatch.setattr(workspace, "FREEZE_MIN_LINES", 0)  # these few files take the big-project path
    tmp, root, files, ws = project
    try:
        ws.check(root / "src/registry.cpp")
        old = weakref.ref(ws._index._index)
        for name, text in files.items():  # every file changed on disk
            (root / name).write_text(text + "// changed\n")
        ws.check(root / "src/registry.cpp")
        assert ws._index._index is not None and old() is None
    finally:
        gc.unfreeze()


def _lifelint_garbage() -> list[str]:
    """Type names of lifelint objects that only the cyclic collector can free (collected now)."""
    import gc

    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sorted({type(o).__qualname__ for o in gc.garbage
                       if type(o).__module__.startswith(("lifelint", "rules"))})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def test_a_replaced_index_is_freed_without_the_cyclic_collector(project):
    """The lock index links functions and call sites both ways, the thread model points back at
    its builder: a replaced index is released (lifelint.index.ProjectIndex.release), so reference
    counting frees it, and the editor can keep its index frozen out of the collector's sight."""
    import gc

    tmp, root, files, ws = project
    _write(root, {"src/registry.hpp": THREADED_HPP})
    ws.forget_files()
    ws.check(root / "src/registry.cpp", THREADED_CPP)
    gc.collect()  # what earlier code left
    index = ws._index._index
    assert index._memo, "the passes ran (the lock index, the thread model, the rules' tables)"
    del index
    ws.check(root / "src/registry.cpp", THREADED_CPP + "// edited\n")  # new facts: a new index
    assert _lifelint_garbage() == []


def test_the_index_frozen_after_each_edit_does_not_pile_up(project, monkeypatch):
    """A big project's index is frozen after each edit's check (as its facts are): the index it
    replaces must still be freed (by reference counting, see the test above), or every edit
    would keep one more for good. The frozen objects stay as many from one edit to the next of
    the same text (a full collection every SWEEP_EVERY indexes is a safety net for stray cycles)."""
    import gc

    from lifelint import workspace

    monkeypatch.setattr(workspace, "FREEZE_MIN_LINES", 0)  # these few files take the big-project path
    monkeypatch.setattr(workspace, "SWEEP_EVERY", 1000)
    tmp, root, files, ws = project
    try:
        ws.check(root / "src/registry.cpp")
        counts: dict[int, list[int]] = {0: [], 1: []}
        for i in range(1, 21):
            ws.check(root / "src/registry.cpp", (REGISTRY_CPP if i % 2 else UNLOCKED_CPP) + f"// edit {i}\n")
            if i > 4:
                counts[i % 2].append(gc.get_freeze_count())
        assert ws._index.builds >= 20
        for same_text in counts.values():
            assert max(same_text) - min(same_text) <= 50, counts
    finally:
        gc.unfreeze()
