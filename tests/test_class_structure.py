"""Parse-error containment: what a macro expansion puts at class scope, and members that error
recovery pushed out of their class."""

from __future__ import annotations

import pytest

from lifelint import facts, parsing
from lifelint.cpp_prepass import prepass
from lifelint.parse_stats import syntax_message


def parsed(src: bytes, raw: bool = False):
    """Facts of `src`; `raw` parses the bytes without the pre-pass (error recovery as is)."""
    tree = parsing.parser("cpp").parse(src) if raw else parsing.parse("cpp", src)
    return tree, facts.extract_facts("t.cpp", "cpp", src, tree)


def fields_of(f, name: str) -> list[str]:
    return [v.name for k in f.cpp.classes if k.name == name for v in k.fields]


# Each shape: a serialization-like block at class scope, then members that must stay members.
CLASS_SCOPE_SHAPES = {
    "pair on one line": b"""
struct Args {
  int version = 0;
  BEGIN_KV_MAP() KV_FIELD(version) if (version < 1) return false; END_KV_MAP()
  void set(int v) { version = v; }
  int later = 0;
};
""",
    "pair across lines, with a local and a loop": b"""
namespace net {
template <class T> struct Args final : public T {
  BEGIN_SERIALIZE_OBJECT()
    VERSION_FIELD(0)
    bool ok = read(version);
    for (auto& x : items) { push(x); }
    if (!ok) { return false; } else return true;
  END_SERIALIZE()
  void set(int v) { version = v; }
  int later = 0;
};
}
""",
    "statements without a pair": b"""
class Args {
 public:
  FIELD(name)
  if (version < 1) return false;
  while (more()) step();
  do { step(); } while (more());
  void set(int v) { version = v; }
  int later = 0;
};
""",
    "mixed-case macro call line": b"""
class Args {
  wxDeclareDynamicClass(Args)
  DECLARE_fields(a, b)
  void set(int v) { version = v; }
  int later = 0;
};
""",
}


@pytest.mark.parametrize("shape", CLASS_SCOPE_SHAPES)
def test_class_scope_macro_code_is_blanked_and_members_stay(shape):
    src = CLASS_SCOPE_SHAPES[shape]
    tree, f = parsed(src)
    assert not tree.root_node.has_error, prepass(src).decode()
    assert "later" in fields_of(f, "Args")
    assert not [g for g in f.cpp.globals if g.kind == "global"]
    assert {fn.name: fn.class_name for fn in f.cpp.functions}["set"] == "Args"


def test_what_a_class_may_hold_is_kept():
    """Constructors, multi-line declarations and code inside methods are not macro debris."""
    src = b"""
class C {
  C(int a)
    : v(a) {}
  C()
    noexcept;
  explicit C(long);
  void f() {
    if (v) return;
    for (;;) { break; }
  }
  int v = 0;
};
struct timeval tv{};
void g() { struct L { int a; } l; if (l.a) return; }
"""
    assert prepass(src) == src
    tree, f = parsed(src)
    assert not tree.root_node.has_error


# Shapes the pre-pass does not fix, read without it: error recovery closes the class early.
BROKEN = b"""
#include <mutex>
class Conn {
 public:
  int version = 0;
  KV_FIELD(version) if (version < 1) return false; KV_DONE()
  void set(int v) { std::lock_guard<std::mutex> g(mu_); version = v; }
  std::mutex mu_;
  bool running_ = false;
  static int instances;
  void stop();
};
void Conn::stop() { running_ = false; }
int after_class = 0;
"""


def test_members_after_an_error_stay_in_their_class():
    tree, f = parsed(BROKEN, raw=True)
    conn = next(k for k in f.cpp.classes if k.name == "Conn")
    assert tree.root_node.has_error
    assert "running_" in fields_of(f, "Conn")
    assert "instances" in [v.name for v in conn.static_members]
    assert "stop" in conn.method_decls
    # Only the real namespace-scope variable is a global; the recovery debris is not.
    assert [g.name for g in f.cpp.globals if g.kind == "global"] == ["after_class"]
    assert [b.name for b in f.cpp.broken_classes] == ["Conn"]


def test_a_broken_class_is_said_so():
    _, f = parsed(BROKEN, raw=True)
    message, share = syntax_message(f, BROKEN)
    assert "class structure could not be parsed" in message and "`Conn` (line 3)" in message
    assert "closing brace at line 12" in message
    assert share is None  # never folded into the "small parts" line


def test_a_tiny_error_is_not_zero_percent():
    src = b"int f() { return 1; }\n" * 400 + b"int g() { return 1 +; }\n"
    _, f = parsed(src)
    message, share = syntax_message(f, src)
    assert 0 < share < 0.001
    assert "0.0%" not in message and message.startswith("under 0.1% (")


def test_clean_file_has_no_syntax_message():
    src = b"struct S { int a; };\n"
    _, f = parsed(src)
    assert syntax_message(f, src) is None


# The same, with members inside a preprocessor conditional after the error, and a real global
# inside one after the class: a conditional block is no scope, whichever side of the error.
BROKEN_WITH_CONDITIONALS = b"""
class Conn {
 public:
  int version = 0;
  KV_FIELD(version) if (version < 1) return false; KV_DONE()
#ifdef CONN_WIDE
  long hits = 0;
  static long instances;
#else
  int hits = 0;
  static int instances;
#endif
  void stop();
};
void Conn::stop() { hits = 0; }
#ifdef CONN_STATS
int after_class = 0;
#else
long after_class = 0;
#endif
"""


def test_members_in_a_conditional_after_an_error_stay_in_their_class():
    tree, f = parsed(BROKEN_WITH_CONDITIONALS, raw=True)
    conn = next(k for k in f.cpp.classes if k.name == "Conn")
    assert tree.root_node.has_error
    assert "hits" in fields_of(f, "Conn")
    assert "instances" in [v.name for v in conn.static_members]
    assert [g.name for g in f.cpp.globals if g.kind == "global"] == ["after_class", "after_class"]


def test_conditional_blocks_are_no_scope():
    src = b"""
namespace a {
#ifdef X
int g1 = 0;
#elif defined(Y)
#if Z
static int g2 = 0;
#endif
#else
int g3 = 0;
#endif
}
#ifndef W
extern "C" {
#if V
int g4 = 0;
#else
int g4b = 0;
#endif
}
#endif
struct S {
#ifdef X
  int m1 = 0;
#else
  int m2 = 0;
#endif
};
void f() {
#ifdef X
  static int s1 = 0;
  int l1 = 0;
#else
  int l2 = 0;
#endif
}
"""
    tree, f = parsed(src, raw=True)
    assert not tree.root_node.has_error
    assert sorted(g.name for g in f.cpp.globals if g.kind == "global") == ["g1", "g2", "g3", "g4", "g4b"]
    assert [(g.name, g.kind) for g in f.cpp.globals if g.kind != "global"] == [("s1", "static-local")]
    assert sorted(fields_of(f, "S")) == ["m1", "m2"]
