"""The C++ pre-pass: same length, same line breaks, and real-world macro/#if shapes parse."""

from __future__ import annotations

import io
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from lifelint import facts, parsing
from lifelint.cpp_prepass import prepass
from lifelint.parse_stats import error_ranges, run
from lifelint.settings import CppSettings


def parse(src: bytes, options: CppSettings | None = None):
    return parsing.parse("cpp", src, options)


def assert_clean(src: bytes, options: CppSettings | None = None) -> None:
    tree = parse(src, options)
    assert not tree.root_node.has_error, (prepass(src, options).decode("utf-8", "replace"), str(tree.root_node))


def cpp_facts(src: bytes, path: str = "t.cpp", options: CppSettings | None = None):
    return facts.extract_facts(path, "cpp", src, parse(src, options))


def line_breaks(data: bytes) -> list[int]:
    return [i for i, b in enumerate(data) if b in (10, 13)]


# --- invariants ---------------------------------------------------------------------------

# Fragments that exercise every rule, mixed at random: unbalanced #if, SWIG, macros, comments,
# strings, CRLF and bytes that are not UTF-8.
FRAGMENTS = [
    "#if A\n", "#ifdef B\n", "#ifndef C_HPP\n", "#elif defined(D) && E > 2\n", "#else\n", "#endif\n",
    "#if 0\n", "#if (1 +\\\n 2)\n", "#define X(a) a\n", "%module m\n", "%{\n", "%}\n", "%extend S {\n",
    "%typemap(in) int {\n", "%define M\n", "%enddef\n", "struct FOO_EXPORT s final : b {", "class X {",
    "};\n", "}", "{", "(", ")", "void f(int a,\n", "FOO_BEGIN\n", "FOO_TRY {", "BAR(x) y", "T n FOO(E)>",
    "explicit FOO s(", "__declspec(dllexport) ", "extern template class v<int>;", "/* c { */", "// c (\n",
    '"s { \\" "', "'{'", "R\"d(raw { )d\"", "1'000'", "\r\n", "\n", " ", "\t", "\x00", "é",
    "x = a | FOO_HIDDEN;", "enum { A,\n", "B_DEPRECATED = 1,\n", "FOO_THREAD_LOCAL int t;",
]
FRAGMENTS = [f.encode("utf-8") for f in FRAGMENTS] + [b"\xff\xfe", b"\x80{", b"\xc3("]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_fragments_keep_length_and_line_breaks(parts):
    data = b"".join(parts)
    out = prepass(data, None)
    assert len(out) == len(data)
    assert line_breaks(out) == line_breaks(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_keep_length_and_line_breaks(data):
    out = prepass(data, CppSettings(defines={"A": "1"}))
    assert len(out) == len(data)
    assert line_breaks(out) == line_breaks(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=30))
def test_only_blanks_or_same_length_rewrites(parts):
    """Every changed byte becomes a space, or belongs to one of the in-place rewrites."""
    data = b"".join(parts)
    out = prepass(data, None)
    rewrites = re.compile(rb"struct |if  |thread_local *|try *|catch *|throw; *|for *|;|:")
    allowed = {i for m in rewrites.finditer(out) for i in range(m.start(), m.end())}
    for i, (a, b) in enumerate(zip(data, out)):
        if a != b:
            assert b == 32 or i in allowed, (i, data, out)


def test_empty_and_untouched_input():
    assert prepass(b"", None) == b""
    src = b"int main() { return 0; }\n"
    assert prepass(src, None) == src


# --- macros ---------------------------------------------------------------------------------

def test_export_macro_class_parses():
    src = b"""
namespace lt {
struct TORRENT_EXPORT peer_info final : base
{
    int x;
};
class BOOST_SYMBOL_VISIBLE bad_thing : public std::exception {};
class FOO_API(2) with_args {};
struct TORRENT_EXPORT hash<lt::info> { };
}
"""
    assert_clean(src)
    names = {c.name for c in cpp_facts(src).cpp.classes}
    assert {"peer_info", "bad_thing", "with_args"} <= names


def test_class_named_in_caps_is_kept():
    src = b"struct SHA_CTX { int x; };\nclass FOO final {};\n"
    assert prepass(src, None) == src


def test_function_like_macros_without_semicolon():
    src = b"""
namespace lt {
TORRENT_VERSION_NAMESPACE_2
struct s {
    TORRENT_DEFINE_ALERT(s, 27)
    static constexpr int x = 1;
    TORRENT_UNEXPORT s(int a);
};
TORRENT_VERSION_NAMESPACE_2_END
void g() {
    TORRENT_TRY {
        f();
    }
    catch (...) {}
}
}
"""
    assert_clean(src)


def test_test_case_macro_keeps_its_body():
    src = b"TORRENT_TEST(name)\n{\n    int x = 1;\n}\n"
    assert prepass(src, None) == src


def test_declaration_macros():
    src = b"""
BOOST_ASIO_DECL void run();
BOOST_ASIO_DECL std::size_t poll();
struct s {
    BOOST_ASIO_CONSTEXPR s(int a) : a_(a) {}
    s(const s&) BOOST_ASIO_DELETED;
    void f(BOOST_ASIO_MOVE_ARG(Handler) handler) BOOST_ASIO_NOEXCEPT;
    int a_;
};
template <typename T, typename Token BOOST_ASIO_DEFAULT_COMPLETION_TOKEN_TYPE(T)>
void g(Token t);
__declspec(deprecated("use h")) void old();
extern template class std::vector<int>;
template struct std::hash<int>;
inline long bts(long* x) { long r; __asm { mov eax, 1 } return r; }
"""
    assert_clean(src)


def test_glob_macros_are_configurable():
    src = b"struct s { int x my_attr; };\nmy_attr void f();\nvoid g() const my_attr(1);\n"
    assert parse(src).root_node.has_error
    assert_clean(src, CppSettings(ignore_macros=["my_*"]))
    src = b"int x FOO_DEPRECATED;"
    assert prepass(src, CppSettings(ignore_macros=[])) == src
    assert prepass(src, CppSettings()) == b"int x               ;"


def test_glob_matches_used_as_values_are_kept():
    for src in (b"int m = a | FILE_ATTRIBUTE_HIDDEN;\n", b"switch (x) { case IFA_LOCAL: break; }\n",
                b"enum { IFA_F_DEPRECATED = 0x20, B };\n", b"f(x, SOME_INLINE);\n"):
        assert prepass(src, None) == src


def test_thread_local_macro_becomes_thread_local():
    out = prepass(b"static FOO_THREAD_LOCAL int depth;", None)
    assert out == b"static thread_local     int depth;"


# --- conditionals -----------------------------------------------------------------------------

SPLIT_DECLARATION = b"""
#if defined(USE_LONG)
void f(long a,
#else
void f(int a,
#endif
       int b)
{
    g(a, b);
}
"""


def test_if_else_splitting_a_declaration_parses():
    assert parsing.parser("cpp").parse(SPLIT_DECLARATION).root_node.has_error
    assert_clean(SPLIT_DECLARATION)
    assert b"long a" in prepass(SPLIT_DECLARATION, None)  # unknown condition: first branch


def test_defines_choose_the_branch():
    out = prepass(SPLIT_DECLARATION, CppSettings(defines={"OTHER": "1"}))
    assert b"long a" in out and b"int a" not in out  # USE_LONG not in defines: still unknown
    out = prepass(b"#if USE_LONG\nlong x;\n#else\nint x;\n#endif\n", CppSettings(defines={"USE_LONG": "0"}))
    assert b"long" not in out and b"int x;" in out and b"#" not in out
    out = prepass(b"#ifdef A\nint a;\n#elif B >= 2\nint b;\n#else\nint c;\n#endif\n",
                  CppSettings(defines={"B": "3"}))
    assert b"int a;" in out and b"int b;" in out and b"int c;" not in out  # A unknown, B decides the rest


def test_self_contained_branches_are_all_kept():
    src = b"class X {\npublic:\n#ifdef _WIN32\n    void win();\n#else\n    void posix();\n#endif\n};\n"
    assert prepass(src, None) == src  # the grammar reads such groups itself
    assert_clean(src)


def test_enumerator_branches_are_kept():
    src = b"enum e {\n    a,\n#if X\n    b = 1,\n#else\n    b = 2,\n#endif\n    c\n};\n"
    assert prepass(src, None) == src
    assert_clean(src)


def test_if_zero_and_elif_rewrite():
    out = prepass(b"#if 0\nbroken ( code\n#elif defined(A)\nint a;\n#else\nint b;\n#endif\n", None)
    assert b"broken" not in out
    assert b"#if   defined(A)" in out and b"int a;" in out and b"int b;" in out


def test_include_guard_and_unbalanced_directives():
    src = b"#ifndef X_HPP\n#define X_HPP\nstruct TORRENT_EXPORT a {};\n#endif // X_HPP\n"
    assert_clean(src)
    for odd in (b"#endif\n#else\nint a;\n", b"#if A\nint a;\n", b"#if A\n#if B\n#else\n", b"#if (((\nint a;\n#endif\n"):
        out = prepass(odd, None)
        assert len(out) == len(odd)


def test_cplusplus_and_objc():
    out = prepass(b"#ifdef __OBJC__\n@interface X\n#else\nint x;\n#endif\n", None)
    assert b"@interface" not in out and b"int x;" in out
    out = prepass(b"#if __cplusplus >= 201103L\nint x;\n#else\nchar x;\n#endif\n", None)
    assert b"char" not in out


def test_directive_in_comment_or_string_is_ignored():
    src = b'/*\n#if 0\n*/\nint a;\nconst char* s = "#endif";\n'
    assert prepass(src, None) == src


def test_crlf_source():
    src = SPLIT_DECLARATION.replace(b"\n", b"\r\n")
    out = prepass(src, None)
    assert line_breaks(out) == line_breaks(src)
    assert_clean(src)


# --- positions ----------------------------------------------------------------------------------

def test_nodes_keep_their_original_line_and_column():
    src = (b"// \xc3\xa9t\xc3\xa9\n"  # UTF-8 before: columns are bytes
           b"#if defined(A)\nstruct TORRENT_EXPORT holder : base {\n#else\nstruct TORRENT_EXPORT holder {\n#endif\n"
           b"    TORRENT_DEFINE_THING(holder)\n"
           b"    void target(int value) { use(value); }\n};\n")
    tree = parse(src)
    assert not tree.root_node.has_error
    fn = next(f for f in cpp_facts(src).cpp.functions if f.name == "target")
    span = fn.span
    assert src[span.start_byte:span.end_byte] == b"void target(int value) { use(value); }"
    line = src.split(b"\n")[span.start_row]
    assert line[span.start_col:].startswith(b"void target")
    assert span.start_row == 7 and span.start_col == 4


# --- SWIG ---------------------------------------------------------------------------------------

SWIG = b"""%module(directors="1") example
%include "std_string.i"
%{
#include "example.h"
%}
%feature("director") Callback;
%rename(add_item) Container::push;
%template(IntVector) std::vector<int>;
%typemap(in) Handle {
    $1 = (Handle) PyLong_AsVoidPtr($input);
}
%pythoncode %{
def helper():
    return 1
%}

class Container {
public:
    void push(int x);
};

%extend Container {
    int first() const {
        return self->size() > 0 ? self->at(0) : -1;
    }
    void clear_all() {
        self->clear();
    }
}

%inline %{
int helper_count(Container* c) { return c->size(); }
%}
"""


def test_swig_extend_is_a_struct_with_methods():
    out = prepass(SWIG, None)
    assert b"struct  Container {" in out
    assert b"%" not in out.replace(b"%d", b"")
    tree = parse(SWIG)
    assert not tree.root_node.has_error, str(tree.root_node)
    f = facts.extract_facts("example.i", "cpp", SWIG, tree)
    extended = [c for c in f.cpp.classes if c.name == "Container" and c.kind == "struct"]
    assert extended and {m.name for m in extended[0].methods} == {"first", "clear_all"}
    assert "helper_count" in {fn.name for fn in f.cpp.functions}  # %inline code is kept


# --- parse statistics --------------------------------------------------------------------------

def test_error_ranges_match_facts():
    src = b"struct A { int x; \n void f( { }\n struct B int; }}\n"
    tree = parsing.parser("cpp").parse(src)
    f = facts.extract_facts("t.cpp", "cpp", src, tree)
    assert error_ranges(tree.root_node) == f.error_ranges
    assert f.error_ranges


def test_parse_stats_report(tmp_path):
    (tmp_path / "a.hpp").write_bytes(b"struct TORRENT_EXPORT a final : b { int x; };\n")
    (tmp_path / "b.rs").write_bytes(b"fn main() {}\n")
    (tmp_path / "notes.txt").write_bytes(b"struct ( {\n")
    out = io.StringIO()
    stats = run([str(tmp_path)], CppSettings(), prepass=False, out=out)
    first = out.getvalue().splitlines()[0]
    assert first.startswith("error bytes: ") and first.split()[2].endswith("%")
    assert len(stats.files) == 2 and stats.files_with_errors == 1
    after = run([str(tmp_path)], CppSettings(), prepass=True, out=io.StringIO())
    assert after.error_bytes == 0


def test_parse_stats_command(tmp_path):
    from click.testing import CliRunner

    from lifelint.cli import main

    (tmp_path / "a.cpp").write_bytes(SPLIT_DECLARATION)
    raw = CliRunner().invoke(main, ["parse-stats", str(tmp_path), "--no-prepass"])
    assert raw.exit_code == 0, raw.output
    assert not raw.output.startswith("error bytes: 0.0%")
    after = CliRunner().invoke(main, ["parse-stats", str(tmp_path), "-D", "USE_LONG=0"])
    assert after.output.startswith("error bytes: 0.0%"), after.output


def test_reserved_name_macro_line_is_blanked():
    """`_GLIBCXX_BEGIN_NAMESPACE_VERSION` alone on a line glues onto the next declaration
    unless blanked, like an ALL_CAPS macro line."""
    from lifelint.cpp_prepass import prepass
    from lifelint.parsing import parser

    src = (b"namespace std {\n_LIB_BEGIN_NAMESPACE_VERSION\n\n  template<typename M>\n    class guard\n    {\n"
           b"      bool _M_owns;\n    };\n_LIB_END_NAMESPACE_VERSION\n}\n")
    out = prepass(src, None)
    assert len(out) == len(src)
    assert b"_LIB_BEGIN_NAMESPACE_VERSION" not in out
    assert not parser("cpp").parse(out).root_node.has_error
    assert parser("cpp").parse(src).root_node.has_error  # the grammar alone cannot read it


def test_try_catch_macros_read_as_try_and_catch():
    # boost/interprocess's scoped_lock: BOOST_TRY/BOOST_CATCH in the destructor used to end the
    # class there, and every member after it became a "global".
    src = (b"template <class M> class guard {\n"
           b"  public:\n"
           b"   ~guard() {\n"
           b"      BOOST_TRY{  if (m_locked) m->unlock();  }\n"
           b"      BOOST_CATCH(...){} BOOST_CATCH_END\n"
           b"   }\n"
           b"   void f() { JSON_TRY { g(); } JSON_CATCH (int& e) { BOOST_RETHROW } }\n"
           b"   void g();\n"
           b"  private:\n"
           b"   M* m;\n"
           b"   bool m_locked;\n"
           b"};\n")
    out = prepass(src)
    assert len(out) == len(src)
    assert b"try      {" in out and b"catch      (...)" in out and b"throw;" in out and b"CATCH_END" not in out
    assert_clean(src)
    f = cpp_facts(src)
    assert [v.name for v in f.cpp.classes[0].fields] == ["m", "m_locked"]
    assert not f.cpp.globals
    # A constant that merely ends in _TRY stays as written.
    assert prepass(b"int x = MAX_TRY;\n") == b"int x = MAX_TRY;\n"


def test_foreach_macros_read_as_range_for():
    src = b"void f() {\n    BOOST_FOREACH (std::shared_ptr<T> p, threads) { p->join(); }\n    Q_FOREACH(const QString& s, list) use(s);\n}\n"
    out = prepass(src)
    assert len(out) == len(src)
    assert b"for           (std::shared_ptr<T> p: threads)" in out and b"for      (const QString& s: list)" in out
    assert_clean(src)
    f = cpp_facts(src)
    assert [(d.name, d.kind, d.init) for d in f.cpp.functions[0].flow.decls] == [("p", "range", "threads"), ("s", "range", "list")]
    # An existing variable as the loop variable has no range-for spelling: left alone.
    assert b"for" not in prepass(b"BOOST_FOREACH(x, v) g(x);")
