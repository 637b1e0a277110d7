"""The lock-set dataflow on small bodies: must/may sets per point, release points, stale views,
exits, and that lock-free functions get no graph."""

from __future__ import annotations

from lifelint.facts import extract_facts
from lifelint.parsing import parse


def _functions(src: str):
    data = src.encode()
    facts = extract_facts("t.cpp", "cpp", data, parse("cpp", data))
    return {f.name: f for f in facts.cpp.functions}, data


def _at(data: bytes, marker: str) -> int:
    return data.index(marker.encode())


SRC = """
#include <mutex>
struct A {
  std::mutex m; int x;
  void f(bool c) {
    m.lock();
    if (c) m.unlock();
    x = 1; /*A*/
    if (!c) m.unlock();
    x = 2; /*B*/
  }
  void g(int n) {
    std::unique_lock<std::mutex> l(m);
    int* p = &x;
    for (int i = 0; i < n; ++i) {
      *p = i; /*C*/
      l.unlock();
      l.lock();
    }
  }
  int h() { return x; }
  void k() {
    m.lock();
    try { x = 3; } catch (...) { m.unlock(); throw; }
    x = 4; /*D*/
    m.unlock();
  }
};
"""


def test_must_and_may_follow_the_branches():
    fns, data = _functions(SRC)
    f = fns["f"]
    lf = f.flow.lockflow
    a, b = _at(data, "x = 1; /*A*/"), _at(data, "x = 2; /*B*/")
    assert lf.must(a, None) == () and lf.may(a, None) == (0,)
    assert lf.must(b, None) == () and lf.may(b, None) == (0,)  # path-insensitive: c and !c not correlated
    use_a = next(u for u in f.flow.uses if u.span.start_byte == a)
    assert use_a.locks == () and use_a.partial == (0,)
    rel = lf.releases_reaching(a, None, 0)
    assert [s.start_row + 1 for s, _k in rel] == [data[: _at(data, "m.unlock();")].count(b"\n") + 1]


def test_a_release_on_the_back_edge_makes_the_view_stale():
    fns, data = _functions(SRC)
    g = fns["g"]
    lf = g.flow.lockflow
    decl = _at(data, "int* p = &x;")
    use = _at(data, "*p = i; /*C*/")
    assert 0 in lf.must(use, None)  # held on every path (relocked)
    assert lf.released_between(decl + len("int* p = &x;"), use, None, 0) is not None
    # a new assignment of the view on the way kills it
    assert lf.released_between(decl + len("int* p = &x;"), use, None, 0, kills=[_at(data, "l.lock();")]) is None


def test_catch_and_rethrow_keeps_the_lock_after_the_try():
    fns, data = _functions(SRC)
    k = fns["k"]
    d = _at(data, "x = 4; /*D*/")
    assert k.flow.lockflow.must(d, None) == (0,)
    kinds = sorted(kind for kind, _s, _m, _y in k.flow.lockflow.exits(None))
    assert kinds == ["end", "throw"]


def test_lock_free_functions_get_no_graph():
    fns, _ = _functions(SRC)
    assert fns["h"].flow.lockflow is None



WAIT_SRC = """
#include <condition_variable>
#include <mutex>
struct Q {
  std::mutex m; std::condition_variable cv; int x; bool ready;
  void f() {
    std::unique_lock<std::mutex> lk(m);
    int* p = &x; /*A*/
    cv.wait(lk, [this] { return ready; });
    *p = 1; /*B*/
  }
};
"""


def test_a_wait_releases_and_retakes_the_lock_it_is_given():
    fns, data = _functions(WAIT_SRC)
    f = fns["f"]
    lf = f.flow.lockflow
    assert [op[0] for op in f.locks[0].ops if op[0] == "wait"] == ["wait"]
    # held before and after the wait (the lock sets do not change) ...
    assert 0 in lf.must(_at(data, "/*B*/"), None)
    # ... but a path through it is a release, for a view taken before it
    rel = lf.released_between(_at(data, "/*A*/"), _at(data, "/*B*/"), None, 0)
    assert rel is not None and rel[1] == "wait"
    assert lf.released_between(_at(data, "/*A*/"), _at(data, "/*B*/"), None, 0, ignore=("wait",)) is None
    assert lf.releases_reaching(_at(data, "/*B*/"), None, 0) == []


WINDOW_SRC = """
#include <mutex>
struct Undo { explicit Undo(std::mutex& m) : m_(m) { m_.unlock(); } ~Undo() { m_.lock(); } std::mutex& m_; };
void io();
struct W {
  std::mutex m; int x;
  void a(int n) {
    std::unique_lock<std::mutex> l(m);
    for (int i = 0; i < n; ++i) {
      l.unlock();
      x = 1; /*A*/
      l.lock();
    }
    x = 2; /*A2*/
  }
  void b() {
    std::unique_lock<std::mutex> l(m);
    l.unlock();
    x = 3; /*B*/
  }
  void c(bool k) {
    std::unique_lock<std::mutex> l(m, std::defer_lock);
    if (k) l.lock();
    l.unlock();
    x = 4; /*C*/
    l.lock();
  }
  void d(bool k) {
    std::lock_guard<std::mutex> g(m);
    {
      Undo u(m);
      if (k) return;
      x = 5; /*D*/
    }
  }
  void e(bool k) {
    std::unique_lock<std::mutex> l(m);
    l.unlock();
    x = 6; /*E*/
    if (k) return;
    l.lock();
  }
  void f() {
    { std::lock_guard<std::mutex> g(m); }
    x = 7; /*F*/
  }
};
"""


def test_a_release_window_is_held_before_and_taken_again_after():
    fns, data = _functions(WINDOW_SRC)

    def window(fn, marker):
        return fns[fn].flow.lockflow.release_window(_at(data, marker), None, 0)

    w = window("a", "/*A*/")
    assert w is not None and [k for _s, k in w] == ["unlock"]
    assert window("a", "/*A2*/") is None  # held there: no release reaches it
    assert window("b", "/*B*/") is None  # never taken again
    assert window("c", "/*C*/") is None  # not held on every path before the unlock
    w = window("d", "/*D*/")  # the unlocking guard retakes it as the scope is left, by the return too
    assert w is not None and [k for _s, k in w] == ["unlocker"]
    assert window("e", "/*E*/") is None  # one path leaves with the lock released
    assert window("f", "/*F*/") is None  # a guard's scope ended: no deliberate release


def _ll101(tmp_path, src: str, cpp: dict | None = None) -> list[int]:
    from lifelint.config import settings_from_table
    from lifelint.engine import ScanOptions, scan

    p = tmp_path / "t.cpp"
    p.write_text(src)
    settings = settings_from_table({"cpp": cpp or {}}, str(tmp_path / "lifelint.toml"))
    result = scan(ScanOptions(paths=[str(p)], root=tmp_path, settings=settings, enabled={"LL101"}, jobs=1, use_cache=False))
    return sorted(f.location.line for f in result.findings if f.code == "LL101")


PROJECT_ACCESSORS = """
#include <string>
struct State { std::string name; };
struct Holder {
  State* lockedState();
  template <class F> auto underLock(F f);
};
void show(const std::string&);
void a(Holder& h) {
  const std::string& n = h.lockedState()->name;
  show(n);
}
void b(Holder& h) {
  auto locked = h.lockedState();
  const std::string* p = nullptr;
  { auto inner = h.lockedState(); p = &inner->name; }
  show(*p);
}
void c(Holder& h) {
  const std::string* p = h.underLock([](State& s) { return &s.name; });
  show(*p);
}
"""


def test_project_lock_accessors_come_from_config(tmp_path):
    assert _ll101(tmp_path, PROJECT_ACCESSORS) == []
    lines = _ll101(tmp_path, PROJECT_ACCESSORS, {"lock-accessors": ["lockedState"], "lock-callback-methods": ["underLock"]})
    assert lines == [11, 17, 20]
