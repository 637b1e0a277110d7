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


def _facts(path, text):
    from lifelint.discovery import SourcePath
    from lifelint.engine import analyse_text
    from lifelint.settings import Settings
    return analyse_text(SourcePath(path, path, "cpp"), text.encode(), Settings())[0]


def test_external_definitions_of_a_file():
    f = _facts("a.cc", """
namespace net {
int connect(int port, const char* host) { return port; }
static int helper() { return 0; }
inline int fast() { return 1; }
constexpr int k() { return 2; }
template <class T> int each(T) { return 0; }
namespace { int hidden() { return 3; } int hidden_count = 0; }
struct Conn { void in_class() {} };
void Conn::close(int) {}
int opened = 0;
int tentative;
extern int declared_only;
const int limit = 4;
static int file_local = 5;
int Conn::instances = 0;
}
""")
    assert set(f.cpp.definitions) == {
        "f:net::connect(int,constchar*)", "m:net::Conn::close(int)",
        "v:net::opened", "v?:net::tentative", "v:net::Conn::instances",
    }


def test_files_defining_the_same_thing_are_apart():
    from lifelint.platforms import apart_files
    real = _facts("src/db.cc", "int g_open = 0;\nint open_db(int mode) { return g_open = mode; }\n")
    fake = _facts("tests/fake_db.cc", "int g_open = 0;\nint open_db(int mode) { return mode; }\n")
    other = _facts("src/net.cc", "int open_net() { return 1; }\n")
    statics = _facts("src/util.cc", "static int g_open = 0;\nnamespace { int open_db(int m) { return m; } }\n")
    ap = apart_files([real, fake, other, statics])
    assert ap["src/db.cc"] == {"tests/fake_db.cc"} and ap["tests/fake_db.cc"] == {"src/db.cc"}
    assert "src/net.cc" not in ap and "src/util.cc" not in ap  # internal linkage clashes with nothing
    # C merges tentative definitions (`int g;` in two files): no clash; with initialisers, one
    c1 = _facts("a.c", "int g_count;\n")
    c2 = _facts("b.c", "int g_count;\n")
    assert apart_files([c1, c2]) == {}
    cpp1, cpp2 = _facts("a.cc", "int g_count;\n"), _facts("b.cc", "int g_count;\n")
    assert apart_files([cpp1, cpp2]) == {"a.cc": {"b.cc"}, "b.cc": {"a.cc"}}
    # a header's definitions are not counted (inline or included once: not the linker's business)
    h1, h2 = _facts("a.h", "int twice() { return 2; }\n"), _facts("b.h", "int twice() { return 2; }\n")
    assert apart_files([h1, h2]) == {}


def test_a_program_entry_is_apart_from_the_doubles_of_what_it_needs():
    from lifelint.platforms import apart_files
    main = _facts("src/main.cc", "void serve();\nvoid summary();\nint main() { serve(); summary(); return 0; }\n")
    stats = _facts("src/stats.cc", "long g_n = 0;\nvoid hit() { ++g_n; }\nvoid summary() {}\n")
    server = _facts("src/server.cc", "void hit();\nvoid serve() { hit(); }\n")
    fake = _facts("tests/fake_stats.cc", "long g_n = 0;\nvoid hit() { ++g_n; }\n")
    tests = _facts("tests/t.cc", "void serve();\n#define TEST(a, b) void a##b()\nTEST(S, T) {\n  serve();\n}\n")
    ap = apart_files([main, stats, server, fake, tests], frozenset({"src/main.cc"}))
    # main needs stats.cc (the only `summary`), which the double redefines
    assert ap["src/main.cc"] == {"tests/fake_stats.cc"}
    assert ap["tests/fake_stats.cc"] == {"src/stats.cc", "src/main.cc"}
    # library code both programs link is apart from nothing: server.cc calls `hit`, which two
    # files answer, so neither is needed by it
    assert "src/server.cc" not in ap
    # the test file needs nothing that clashes: it may be linked with either
    assert "tests/t.cc" not in ap


def test_a_program_needs_what_only_one_file_answers_after_the_others_are_apart():
    from lifelint.platforms import apart_files
    main = _facts("m.cc", "void a();\nvoid b();\nint main() { a(); b(); return 0; }\n")
    real_a = _facts("a.cc", "int g = 1;\nvoid a() {}\n")
    fake = _facts("fake.cc", "int g = 2;\nvoid b() {}\nvoid c() {}\n")  # redefines g: apart from a.cc
    real_b = _facts("b.cc", "void b() {}\nvoid d() {}\n")
    ap = apart_files([main, real_a, fake, real_b], frozenset({"m.cc"}))
    # `a` is only in a.cc -> needed; fake.cc clashes with a.cc -> away; then `b` has one answer
    # left (b.cc), and b.cc clashes with fake.cc too
    assert ap["m.cc"] == {"fake.cc"}
    assert ap["fake.cc"] == {"a.cc", "b.cc", "m.cc"}


def test_weak_definitions_clash_with_nothing():
    from lifelint.platforms import apart_files
    default = _facts("lib/hooks.cc", "__attribute__((weak)) void on_start() {}\n__attribute__((weak)) int g_mode = 1;\n")
    override = _facts("app/hooks.cc", "void on_start() { }\nint g_mode = 2;\n")
    assert default.cpp.definitions == ()
    assert apart_files([default, override]) == {}
