"""Platform tags from paths (lifelint.platforms) and the config key that extends them."""

from __future__ import annotations

from lifelint.platforms import Platforms


def test_tags_from_directories_and_suffixes():
    p = Platforms()
    assert p.tag("src/linux/poller.cpp") == "linux"
    assert p.tag("src/unix/linux/poller.cpp") == "linux"  # the deepest directory wins
    assert p.tag("src/thread_win32.cpp") == "windows"
    assert p.tag("src/socket-posix.cc") == "posix"
    assert p.tag("src/osx/a.mm") == p.tag("src/darwin/a.cpp") == "macos"
    assert p.tag("src/posix_time.cpp") is None  # a prefix is not a platform suffix
    assert p.tag("src/net/poller.cpp") is None


def test_compatibility():
    p = Platforms()
    assert not p.compatible("src/linux/x.cpp", "src/freebsd/x.cpp")
    assert not p.compatible("win/x.cpp", "unix/y.cpp")
    assert p.compatible("src/linux/x.cpp", "src/unix/y.cpp", "src/common.cpp")  # posix holds linux
    assert p.compatible("src/linux/x.cpp", "src/linux/y.cpp")
    assert p.compatible("src/common.cpp", "src/freebsd/y.cpp")


def test_config_extends_the_table(tmp_path):
    from lifelint.config import settings_from_table

    s = settings_from_table({"cpp": {"platform-dirs": ["qnx", "lnx=linux", "*/gui/winvideo.*=windows", "macvideo.*=macos"]}}, "test")
    p = Platforms(s.cpp.platform_dirs)
    assert p.tag("a/qnx/b.cpp") == "qnx"
    assert p.tag("a/lnx/b.cpp") == "linux"
    assert not p.compatible("a/qnx/b.cpp", "a/lnx/b.cpp")

    # globs tag files by path or name (a platform marked by a name prefix)
    assert p.tag("examples/gui/winvideo.hpp") == "windows"
    assert p.tag("examples/gui/macvideo.cpp") == "macos"
    assert p.tag("examples/gui/xvideo.cpp") is None
    assert not p.compatible("examples/gui/winvideo.hpp", "examples/gui/macvideo.cpp")


def test_files_that_define_main_are_separate_programs():
    from lifelint.engine import analyse_text
    from lifelint.index import ProjectIndex
    from lifelint.platforms import defines_main, platforms_of
    from lifelint.settings import Settings
    from lifelint.discovery import SourcePath

    def facts(path, text):
        lang = "rust" if path.endswith(".rs") else "cpp"
        return analyse_text(SourcePath(path, path, lang), text.encode(), Settings())[0]

    tool_a = facts("tools/a.cpp", "int main() { return 0; }\n")
    tool_b = facts("tools/b.cpp", "int main(int argc, char** argv) { return argc; }\n")
    lib = facts("lib/x.cpp", "struct S { int main() { return 1; } };\nint helper() { return 2; }\n")
    example = facts("examples/e.rs", "fn main() {}\n")
    rlib = facts("src/lib.rs", "mod m { fn main() {} }\nimpl S { fn main() {} }\n")
    assert [defines_main(f) for f in (tool_a, tool_b, lib, example, rlib)] == [True, True, False, True, False]

    p = platforms_of(ProjectIndex([tool_a, tool_b, lib, example, rlib]))
    assert not p.compatible("tools/a.cpp", "tools/b.cpp")  # two executables
    assert p.compatible("tools/a.cpp", "lib/x.cpp") and p.compatible("tools/b.cpp", "lib/x.cpp")
    assert p.compatible("tools/a.cpp", "tools/a.cpp")
    assert not p.compatible("lib/x.cpp", "tools/a.cpp", "examples/e.rs")
