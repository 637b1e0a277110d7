"""The thread model's start-up and one-time-initialisation facts (lifelint.threads), queried
directly: which accesses run during the program's single-threaded start (`prethread`), which
roots start after a point through threads started after it (`descendants`), and the handshake a
once flag makes. The fixtures under fixtures/cpp/LL20{1,2}-*/ show the same facts as findings."""

from __future__ import annotations

from pathlib import Path

from lifelint.testing import models_of

SOURCE = r"""
#include <mutex>
#include <thread>
int g_a = 0, g_b = 0, g_c = 0, g_d = 0, g_e = 0, g_f = 0;
std::once_flag g_once;
void setup_helper() { g_b = 1; }
void shared_helper() { g_c = 1; }
struct config { explicit config(int n) { g_d = n; } };
void nested_reader() { std::thread inner([] { (void)g_e; }); inner.join(); }
void session() {
    g_e = 2;
    std::thread helper(nested_reader);
    helper.join();
}
void once_user() {
    std::call_once(g_once, [] { g_f = 1; });
    (void)g_f;
}
int main() {
    g_a = 1;
    setup_helper();
    shared_helper();
    config cfg(1);
    std::thread t([] { (void)g_a; (void)g_b; shared_helper(); once_user(); });
    std::thread s(session);
    g_a = 2;
    t.join();
    s.join();
}
"""


def _model(tmp_path: Path):
    (tmp_path / "prog.cpp").write_text(SOURCE, encoding="utf-8")
    return models_of(tmp_path)


def _writes(li, name):
    return [(a.fn, a) for fl in li.functions for a in fl.accesses if a.name == name and a.write]


def test_prethread_covers_main_helpers_and_constructors_before_the_first_spawn(tmp_path):
    li, tm = _model(tmp_path)
    pre = {(a.name, a.span.line): tm.prethread(fl, a.lambda_index, a.span.start_byte)
           for name in ("g_a", "g_b", "g_c", "g_d") for fl, a in _writes(li, name)}
    first_a, second_a = sorted(line for (n, line) in pre if n == "g_a")
    assert pre[("g_a", first_a)] is True  # main, before the first thread
    assert pre[("g_a", second_a)] is False  # main, after it
    assert all(v for (n, _), v in pre.items() if n in ("g_b", "g_d"))  # a helper, a constructor
    assert not any(v for (n, _), v in pre.items() if n == "g_c")  # also called from the thread


def test_a_thread_started_by_a_thread_started_after_a_point_starts_after_it(tmp_path):
    li, tm = _model(tmp_path)
    [(fl, w)] = _writes(li, "g_e")
    after = tm.before(fl, w.lambda_index, w.span.start_byte)
    assert {r.what for r in after} >= {"the thread started in `session`", "the thread started in `nested_reader`"}
    assert not tm.prethread(fl, w.lambda_index, w.span.start_byte)  # `session` runs on a thread


def test_call_once_orders_its_callable_with_every_caller(tmp_path):
    li, tm = _model(tmp_path)
    [(fl, w)] = _writes(li, "g_f")
    [r] = [a for a in fl.accesses if a.name == "g_f" and not a.write]
    assert "::g_once" in tm.released_after(fl, w.lambda_index, w.span.start_byte)
    assert "::g_once" in tm.acquired_before(fl, w.lambda_index, w.span.start_byte)
    assert "::g_once" in tm.acquired_before(fl, r.lambda_index, r.span.start_byte)
    assert tm.may_race(fl, w.lambda_index, w.span.start_byte, fl, r.lambda_index, r.span.start_byte) is None
