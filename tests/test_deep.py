"""Deep mode for real: a CMake project configured with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON,
libclang from PyPI and clang's builtin headers from Debian (`.ci/run` installs them). A span
that only the compiler can see (through a macro, `auto`, `decltype`, an alias) is reported
with `-p`, not without; a TU libclang cannot read keeps its syntax-tree facts; every fixture
gives the same findings in deep mode."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from conftest import findings_json
from lifelint.facts import clang_types


def _deep_ready() -> str | None:
    return clang_types.setup_problem(None)


# CI installs what deep mode needs (.ci/run); elsewhere a machine without it skips, and says why.
if _deep_ready() is not None and not os.environ.get("CI"):
    pytest.skip(f"deep mode unavailable here: {_deep_ready()}", allow_module_level=True)

STORAGE_HPP = textwrap.dedent("""\
    #pragma once
    #include <span>
    #include <vector>
    #define VIEW_OF(T) std::span<const T>
    struct storage {
        std::vector<char> buf;
        VIEW_OF(char) read(int off) const { return VIEW_OF(char)(buf.data() + off, buf.size() - off); }
        std::vector<char> copy(int off) const { return std::vector<char>(buf.begin() + off, buf.end()); }
    };
    using bytes_view = VIEW_OF(char);
    """)
DISK_HPP = textwrap.dedent("""\
    #pragma once
    #include <functional>
    #include <mutex>
    #include "storage.hpp"
    using handler = std::function<void(std::span<const char>)>;
    void post(std::function<void()> f);
    class disk {
    public:
        void async_read(int off, handler h);
        void async_read_decltype(int off, handler h);
        void async_read_alias(int off, handler h);
        void async_read_copy(int off, std::function<void(std::vector<char> const&)> h);
    private:
        std::mutex m_mutex;
        storage m_storage;
    };
    """)
# A header with no entry of its own: it borrows disk.cpp's flags, and disk.cpp's libclang parse
# reads its types too.
INLINE_HPP = textwrap.dedent("""\
    #pragma once
    #include "disk.hpp"
    struct cache {
        std::mutex m_mutex;
        storage m_storage;
        void read_inline(int off, handler h) {
            std::unique_lock<std::mutex> lock(m_mutex);
            auto data = m_storage.read(off);
            lock.unlock();
            post([h, data] { h(data); });
        }
    };
    """)
INLINE_CAPTURE = 10
# Line numbers of the captures are what the tests check.
DISK_CPP = textwrap.dedent("""\
    #include "inline.hpp"

    void disk::async_read(int off, handler h) {
        std::unique_lock<std::mutex> lock(m_mutex);
        auto data = m_storage.read(off);
        lock.unlock();
        post([h, data] { h(data); });
    }

    void disk::async_read_decltype(int off, handler h) {
        std::unique_lock<std::mutex> lock(m_mutex);
        decltype(m_storage.read(off)) data = m_storage.read(off);
        lock.unlock();
        post([h, data] { h(data); });
    }

    void disk::async_read_alias(int off, handler h) {
        std::unique_lock<std::mutex> lock(m_mutex);
        bytes_view data = m_storage.read(off);
        lock.unlock();
        post([h, data] { h(data); });
    }

    void disk::async_read_copy(int off, std::function<void(std::vector<char> const&)> h) {
        std::unique_lock<std::mutex> lock(m_mutex);
        auto data = m_storage.copy(off);  // an owning copy: nothing to report
        lock.unlock();
        post([h, data] { h(data); });
    }
    """)
CAPTURES = {7, 14, 21}
CMAKE = textwrap.dedent("""\
    cmake_minimum_required(VERSION 3.13)
    project(deepdemo CXX)
    set(CMAKE_CXX_STANDARD 20)
    add_library(deepdemo STATIC src/disk.cpp)
    target_include_directories(deepdemo PUBLIC include)
    """)


@pytest.fixture(scope="module")
def cmake_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cmake-project")
    (root / "include").mkdir()
    (root / "src").mkdir()
    (root / "include" / "storage.hpp").write_text(STORAGE_HPP)
    (root / "include" / "disk.hpp").write_text(DISK_HPP)
    (root / "include" / "inline.hpp").write_text(INLINE_HPP)
    (root / "src" / "disk.cpp").write_text(DISK_CPP)
    (root / "CMakeLists.txt").write_text(CMAKE)
    assert shutil.which("cmake"), "cmake is needed for this test"
    subprocess.run(["cmake", "-S", str(root), "-B", str(root / "build"), "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"],
                   check=True, capture_output=True, text=True)
    assert (root / "build" / "compile_commands.json").is_file()
    return root


def _found(out: str) -> set[tuple[str, int, str]]:
    return {(f["path"], f["line"], f["code"]) for f in findings_json(out)}


def test_the_hazard_only_the_compiler_sees_is_reported_with_p(cmake_project, run_cli):
    code, out, err = run_cli(["check", "--format", "json", "--no-cache", "-p", "build", "src"], cmake_project)
    expected = {("src/disk.cpp", line, "LL101") for line in CAPTURES}  # LL104 at the same capture is folded into LL101
    assert _found(out) == expected, (out, err)
    assert code == 1
    _, out, _ = run_cli(["check", "--format", "json", "--no-cache", "--select", "LL104", "-p", "build", "src"], cmake_project)
    assert _found(out) == {("src/disk.cpp", line, "LL104") for line in CAPTURES}
    assert not [d for d in json.loads(out)["diagnostics"] if d["kind"] in ("deep", "internal")]
    # Without the database (or with deep mode off) nothing tells `auto`/`decltype`/the alias apart from an owner.
    _, out, _ = run_cli(["check", "--format", "json", "--no-cache", "src"], cmake_project)
    assert _found(out) == set()
    _, out, _ = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "-p", "build", "src"], cmake_project)
    assert _found(out) == set()


def test_a_header_gets_the_types_of_its_includers_parse(cmake_project, run_cli):
    code, out, err = run_cli(["check", "--format", "json", "--no-cache", "-p", "build", "include", "src"], cmake_project)
    expected = {(p, line, c) for p, lines in (("src/disk.cpp", CAPTURES), ("include/inline.hpp", {INLINE_CAPTURE}))
                for line in lines for c in ("LL101",)}
    assert _found(out) == expected, (out, err)
    assert not [d for d in json.loads(out)["diagnostics"] if d["kind"] in ("deep", "internal")]
    _, out, _ = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "-p", "build", "include"], cmake_project)
    assert _found(out) == set()


def test_warm_rerun_parses_no_translation_unit(cmake_project, run_cli, monkeypatch, tmp_path):
    cache = tmp_path / "cache"
    _, cold, _ = run_cli(["check", "--format", "json", "--cache-dir", cache, "-p", "build", "src"], cmake_project)

    def no_parse(*a, **k):
        raise AssertionError("a warm re-run parsed a translation unit")

    monkeypatch.setattr(clang_types, "parse_tu_limited", no_parse)
    _, warm, _ = run_cli(["check", "--format", "json", "--cache-dir", cache, "-p", "build", "src"], cmake_project)
    assert _found(warm) == _found(cold) and len(_found(cold)) == 3
    # A header the TU includes changes: the TU is parsed again.
    hpp = cmake_project / "include" / "storage.hpp"
    hpp.write_text(STORAGE_HPP.replace("std::span<const T>", "std::vector<T>"))
    monkeypatch.undo()
    monkeypatch.chdir(cmake_project)
    try:
        _, out, _ = run_cli(["check", "--format", "json", "--cache-dir", cache, "-p", "build", "src"], cmake_project)
        assert _found(out) == set()  # the view is an owner now
    finally:
        hpp.write_text(STORAGE_HPP)


def test_a_tu_libclang_cannot_read_keeps_its_syntax_facts(tmp_path, run_cli):
    (tmp_path / "a.cpp").write_text(textwrap.dedent("""\
        #include "missing_header.hpp"
        #include <functional>
        #include <mutex>
        #include <span>
        #include <vector>
        void post(std::function<void()> f);
        struct disk {
            std::mutex m;
            std::vector<char> buf;
            void f(std::function<void(std::span<const char>)> h) {
                std::unique_lock<std::mutex> lock(m);
                std::span<const char> data = std::span<const char>(buf);
                lock.unlock();
                post([h, data] { h(data); });
            }
        };
        """))
    (tmp_path / "compile_commands.json").write_text(json.dumps([{"directory": str(tmp_path), "file": "a.cpp", "arguments": ["c++", "-std=c++20", "-c", "a.cpp"]}]))
    code, out, err = run_cli(["check", "--format", "json", "--no-cache", "-p", ".", "a.cpp"], tmp_path)
    assert _found(out) == {("a.cpp", 14, "LL101")}
    [diag] = [d for d in json.loads(out)["diagnostics"] if d["kind"] == "deep"]
    assert "missing_header.hpp" in diag["message"] and "syntax-tree facts stand" in diag["message"]
    assert code == 1


def test_time_limit_per_translation_unit(cmake_project, run_cli, tmp_path):
    (tmp_path / "lifelint.toml").write_text(f'[cpp]\ncompile-commands = "{cmake_project / "build"}"\ndeep-timeout = 0.001\n')
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "--config", tmp_path / "lifelint.toml", "src"], cmake_project)
    [diag] = [d for d in json.loads(out)["diagnostics"] if d["kind"] == "deep"]
    assert "longer than 0.001 s" in diag["message"]
    assert _found(out) == set() and code != 2  # the syntax facts stand; the run goes on


def test_no_builtin_headers_one_message_naming_the_package(cmake_project, run_cli, tmp_path):
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "-p", "build", "--clang-resource-dir", tmp_path, "src"], cmake_project)
    diags = [d for d in json.loads(out)["diagnostics"] if d["kind"] == "deep"]
    assert len(diags) == 1 and clang_types.DEBIAN_PACKAGE in diags[0]["message"]
    assert code == 0  # no deep facts, no finding, no usage error


def _fixture_both_ways(args):
    """(fixture, findings without deep mode, findings with it, deep diagnostics)."""
    path, db = args
    from lifelint import compdb
    from lifelint.config import enabled_codes, validate_selectors
    from lifelint.engine import ScanOptions, scan
    from lifelint.settings import Settings
    from lifelint.testing import parse_expectations

    exp = parse_expectations(Path(path).read_text(encoding="utf-8"))
    cdb = compdb.CompileDatabase.load(db)
    out = []
    for deep in (False, True):
        s = Settings()
        s.cpp.deep = deep
        enabled = enabled_codes(s, validate_selectors("fixture", "select", exp.select or ["ALL"]), None)
        r = scan(ScanOptions(paths=[path], root=Path(path).parent, settings=s, enabled=enabled, jobs=1, compile_db=cdb))
        out.append({(f.location.line, f.code) for f in r.findings})
        diags = [(d.kind, d.message) for d in r.diagnostics if d.kind in ("deep", "internal")]
    return path, out[0], out[1], diags


def test_no_fixture_changes_in_deep_mode(tmp_path):
    """Every C++ fixture, in a generated database (`c++ -std=c++20`, as the fixtures compile),
    gives exactly the same findings with and without libclang facts."""
    from test_fixtures import SOURCES

    cpp = [p for p in SOURCES if p.suffix in (".cpp", ".cc", ".cxx")]
    db = tmp_path / "compile_commands.json"
    db.write_text(json.dumps([{"directory": str(p.parent), "file": str(p), "arguments": ["c++", "-std=c++20", "-c", str(p)]} for p in cpp]))
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_fixture_both_ways, [(str(p), str(db)) for p in cpp]))
    changed = {p: (sorted(a - b), sorted(b - a)) for p, a, b, _ in results if a != b}
    assert not changed, f"fixtures whose findings change in deep mode (lost, gained): {changed}"
    unread = {p: d for p, _, _, d in results if d}
    assert not unread, f"fixtures libclang could not read: {unread}"
