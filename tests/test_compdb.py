"""The compile database without libclang (`--no-deep`): each file's -D/-U/-I/-include/-std
choose the pre-pass's #if branches, as cppcheck's --project does; -D/-U on the command line;
clear diagnostics for broken databases; per-file flags in the cache key."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import findings_json
from lifelint import compdb
from lifelint.config import ConfigError

# The hazard when BUFFER_KIND is 1 (a span escapes the lock into a callback); an owning copy
# otherwise. The two branches each hold half a statement, so the pre-pass keeps only one: the
# first whose condition is not known to be false.
DISK = textwrap.dedent("""\
    #include "disk.hpp"

    void disk::async_read(int off, handler h) {
        std::unique_lock<std::mutex> lock(m_mutex);
    #if BUFFER_KIND == 2
        std::vector<char> data = std::vector<char>(m_buf.data() + off,
    #else
        std::span<const char> data = std::span<const char>(m_buf.data() + off,
    #endif
                                                           m_buf.data() + m_buf.size());
        lock.unlock();
        post([h, data] { h(data); });
    }
    """)
DISK_HPP = textwrap.dedent("""\
    #pragma once
    #include <functional>
    #include <mutex>
    #include <span>
    #include <vector>
    using handler = std::function<void(std::span<const char>)>;
    void post(std::function<void()> f);
    class disk {
    public:
        void async_read(int off, handler h);
    private:
        std::mutex m_mutex;
        std::vector<char> m_buf;
    };
    """)
CAPTURE_LINE = 12


def _project(tmp_path: Path, flags: list[str], *, use_command: bool = False, source: str = DISK) -> Path:
    (tmp_path / "include").mkdir(exist_ok=True)
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "include" / "disk.hpp").write_text(DISK_HPP)
    (tmp_path / "src" / "disk.cpp").write_text(source)
    build = tmp_path / "build"
    build.mkdir(exist_ok=True)
    args = ["c++", "-Iinclude", *flags, "-c", "src/disk.cpp", "-o", "disk.o"]
    entry = {"directory": "..", "file": "src/disk.cpp"}  # relative to the database's folder
    if use_command:
        import shlex

        entry["command"] = shlex.join(args)
    else:
        entry["arguments"] = args
    (build / "compile_commands.json").write_text(json.dumps([entry]))
    return build


def _lines(out: str) -> set[tuple[str, int]]:
    """Where the span escapes: LL101 (out of the lock; LL104, into the callback, is folded into it)."""
    got = {(f["path"], f["line"], f["code"]) for f in findings_json(out)}
    lines = {(p, ln) for p, ln, _ in got}
    assert got == {(p, ln, "LL101") for p, ln in lines}, got
    return lines


def test_defines_from_the_database_choose_the_branch(tmp_path, run_cli):
    # Without the database the first branch (an owning vector) is read: nothing to report.
    _project(tmp_path, ["-DBUFFER_KIND=1"])
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "src"], tmp_path)
    assert _lines(out) == set(), out
    code, out, err = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "-p", "build", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}, (out, err)
    assert code == 1


def test_command_string_is_split_like_a_shell(tmp_path, run_cli):
    _project(tmp_path, ["-D", "BUFFER_KIND=1", "-DNAME=\"a b\""], use_command=True)
    code, out, err = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "--compile-commands", "build/compile_commands.json", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}, (out, err)


def test_undefine_after_define_and_the_command_line_wins(tmp_path, run_cli):
    _project(tmp_path, ["-DBUFFER_KIND=2"])
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "-p", "build", "src"], tmp_path)
    assert _lines(out) == set()
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "-p", "build", "-D", "BUFFER_KIND=1", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}
    # -U: an undefined name is 0 in #if, so `BUFFER_KIND == 2` is false.
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "-U", "BUFFER_KIND", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}
    # No database at all: -D alone.
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "-D", "BUFFER_KIND=1", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}


def test_forced_include_and_std(tmp_path, run_cli):
    (tmp_path / "config.h").write_text("#define BUFFER_KIND 1 // spans\n")
    source = DISK.replace("#if BUFFER_KIND == 2", "#if BUFFER_KIND == 2 || __cplusplus < 202002L")
    _project(tmp_path, ["-include", "config.h", "-std=c++20"], source=source)
    code, out, err = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "-p", "build", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}, (out, err)
    _project(tmp_path, ["-include", "config.h", "-std=c++17"], source=source)  # C++17: the vector branch
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "-p", "build", "src"], tmp_path)
    assert _lines(out) == set()


def test_a_header_takes_the_flags_of_a_source_that_includes_it(tmp_path, run_cli):
    build = _project(tmp_path, ["-DBUFFER_KIND=1"], source='#include "disk_impl.hpp"\n')
    (tmp_path / "include" / "disk_impl.hpp").write_text("#pragma once\n" + DISK.replace('#include "disk.hpp"', '#include "disk.hpp"  '))
    code, out, err = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "-p", build, "include"], tmp_path)
    assert _lines(out) == {("include/disk_impl.hpp", CAPTURE_LINE + 1)}, (out, err)
    db = compdb.CompileDatabase.load(build)
    assert db.flags_for(str(tmp_path / "include" / "disk_impl.hpp")).source == str(tmp_path / "src" / "disk.cpp")
    assert db.flags_for(str(tmp_path / "nowhere.hpp")) is None


def test_several_entries_for_one_file_the_first_wins(tmp_path):
    build = _project(tmp_path, [])
    entries = json.loads((build / "compile_commands.json").read_text())
    second = dict(entries[0], arguments=["c++", "-DBUFFER_KIND=2", "-c", "src/disk.cpp"])
    first = dict(entries[0], arguments=["c++", "-DBUFFER_KIND=1", "-c", "src/disk.cpp"])
    (build / "compile_commands.json").write_text(json.dumps([first, second]))
    db = compdb.CompileDatabase.load(build / "compile_commands.json")
    assert db.flags_for(str(tmp_path / "src" / "disk.cpp")).defines()[0]["BUFFER_KIND"] == "1"


def test_parse_command_reads_every_form():
    flags, unknown = compdb.parse_command(
        ["g++", "-DA", "-D", "B=2", "-UC", "-Iinc", "-I", "inc2", "-isystem", "/sys", "-isystem/sys2", "-iquote", "q",
         "-include", "pre.h", "-std=gnu++17", "-O2", "-Wall", "-g", "-fno-exceptions", "-MD", "-MF", "x.d", "-o", "x.o",
         "-c", "x.cpp", "--weird-flag"], "/b")
    assert flags.macros == (("D", "A", "1"), ("D", "B", "2"), ("U", "C", ""))
    assert flags.include_dirs == ("/b/inc", "/b/inc2") and flags.system_dirs == ("/sys", "/sys2") and flags.quote_dirs == ("/b/q",)
    assert flags.forced_includes == ("/b/pre.h",) and flags.std == "gnu++17"
    assert "-fno-exceptions" in flags.clang_args and "-O2" not in flags.clang_args and "x.cpp" not in flags.clang_args
    assert unknown == ["--weird-flag"]
    defined, undefined = flags.defines()
    assert defined["__cplusplus"] == "201703L" and defined["A"] == "1" and undefined == {"C"}


def test_broken_databases_say_what_to_do(tmp_path, run_cli):
    (tmp_path / "a.cpp").write_text("int x;\n")
    code, _, err = run_cli(["check", "-p", "nowhere", "."], tmp_path)
    assert code == 2 and "nowhere" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(["check", "-p", "empty", "."], tmp_path)
    assert code == 2 and "compile_commands.json" in err and "CMAKE_EXPORT_COMPILE_COMMANDS" in err
    (tmp_path / "empty" / "compile_commands.json").write_text("[{\"file\": ")
    code, _, err = run_cli(["check", "-p", "empty", "."], tmp_path)
    assert code == 2 and "not valid JSON" in err
    (tmp_path / "empty" / "compile_commands.json").write_text(json.dumps({"file": "a.cpp"}))
    code, _, err = run_cli(["check", "-p", "empty", "."], tmp_path)
    assert code == 2 and "JSON list" in err
    (tmp_path / "empty" / "compile_commands.json").write_text(json.dumps([{"directory": str(tmp_path), "file": "gone.cpp", "arguments": ["c++", "gone.cpp"]}]))
    code, _, err = run_cli(["check", "-p", "empty", "."], tmp_path)
    assert code == 2 and "no usable entry" in err and "do not exist" in err


def test_database_problems_are_diagnostics_and_the_run_goes_on(tmp_path, run_cli):
    build = _project(tmp_path, ["-DBUFFER_KIND=1", "--frobnicate"])
    entries = json.loads((build / "compile_commands.json").read_text())
    entries.append({"directory": str(tmp_path), "file": "src/deleted.cpp", "arguments": ["c++", "-c", "src/deleted.cpp"]})
    entries.append({"directory": str(tmp_path), "file": "src/x.cpp"})  # neither arguments nor command
    (build / "compile_commands.json").write_text(json.dumps(entries))
    (tmp_path / "src" / "orphan.cpp").write_text("int y;\n")
    code, out, err = run_cli(["check", "--format", "json", "--no-cache", "--no-deep", "-p", "build", "src"], tmp_path)
    assert code == 1  # the finding, not a usage error
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}
    diags = [d for d in json.loads(out)["diagnostics"] if d["kind"] == "compdb"]
    text = " | ".join(d["message"] for d in diags)
    assert "--frobnicate" in text and "deleted.cpp" in text and "neither `arguments` nor `command`" in text
    assert "src/orphan.cpp" in text  # a file the database does not build


def test_flags_are_part_of_the_cache_key(tmp_path, run_cli):
    cache = tmp_path / "cache"
    _project(tmp_path, ["-DBUFFER_KIND=1"])
    _, out, _ = run_cli(["check", "--format", "json", "--cache-dir", cache, "--no-deep", "-p", "build", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}
    _project(tmp_path, ["-DBUFFER_KIND=2"])  # same sources, other flags
    _, out, _ = run_cli(["check", "--format", "json", "--cache-dir", cache, "--no-deep", "-p", "build", "src"], tmp_path)
    assert _lines(out) == set()
    _project(tmp_path, ["-DBUFFER_KIND=1"])
    _, out, _ = run_cli(["check", "--format", "json", "--cache-dir", cache, "--no-deep", "-p", "build", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}


def test_config_keys(tmp_path, run_cli):
    build = _project(tmp_path, ["-DBUFFER_KIND=1"])
    (tmp_path / "lifelint.toml").write_text('[cpp]\ncompile-commands = "build"\ndeep = false\n')
    _, out, err = run_cli(["check", "--format", "json", "--no-cache", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}, err
    (tmp_path / "lifelint.toml").write_text('[cpp]\ncompile-commands = "build"\ndeep = false\ndefines = {BUFFER_KIND = 2}\n')
    _, out, _ = run_cli(["check", "--format", "json", "--no-cache", "src"], tmp_path)
    assert _lines(out) == set()  # the config's define wins over the database's
    _project(tmp_path, ["-DBUFFER_KIND=2"])
    (tmp_path / "lifelint.toml").write_text('[cpp]\ncompile-commands = "build"\ndeep = false\nundefines = ["BUFFER_KIND"]\n')
    _, out, _ = run_cli(["check", "--format", "json", "--no-cache", "src"], tmp_path)
    assert _lines(out) == {("src/disk.cpp", CAPTURE_LINE)}  # and its undefine too
    (tmp_path / "lifelint.toml").write_text('[cpp]\ndeep = "yes"\n')
    code, _, err = run_cli(["check", "src"], tmp_path)
    assert code == 2 and "cpp.deep" in err
    assert build.is_dir()


def test_load_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError):
        compdb.CompileDatabase.load(tmp_path)
