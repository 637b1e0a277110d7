"""Qt connections in the thread model (lifelint.threads): `connect(sender, signal, context,
functor)` runs the functor or slot on the context object's thread (queued there when another
thread emits), so it is a handler posted to that thread's event loop. A direct connection runs on
the emitting thread and a connection without a context has none: neither is placed."""

from __future__ import annotations

from pathlib import Path

from lifelint.testing import models_of

SOURCE = r"""
namespace Qt { enum ConnectionType { AutoConnection, DirectConnection }; }
class QObject {
  public:
    template <class S, class F>
    static bool connect(const QObject*, S, const QObject*, F, Qt::ConnectionType = Qt::AutoConnection) { return true; }
    template <class S, class F>
    static bool connect(const QObject*, S, F) { return true; }
};
class Button : public QObject { public: void clicked() {} };
int g_queued = 0, g_slot = 0, g_direct = 0, g_bare = 0, g_setup = 0;
class Panel : public QObject {
  public:
    void wire(Button* b) {
        connect(b, &Button::clicked, this, [] { g_queued = 1; });
        connect(b, &Button::clicked, this, &Panel::on_click);
        connect(b, &Button::clicked, this, [] { g_direct = 1; }, Qt::DirectConnection);
        connect(b, &Button::clicked, [] { g_bare = 1; });
    }
    void wire_all(Button** bs, int n) {
        for (int i = 0; i < n; ++i) connect(bs[i], &Button::clicked, this, [] { g_queued = 2; });
    }
    void on_click() { g_slot = 1; }
};
int main() {
    Panel p;
    Button b;
    p.wire(&b);
    g_setup = 1;
}
"""


def _model(tmp_path: Path):
    (tmp_path / "panel.cpp").write_text(SOURCE, encoding="utf-8")
    return models_of(tmp_path)


def _roots(li, tm, name):
    """{root kind and group} of each write of `name`."""
    out = []
    for fl in li.functions:
        for a in fl.accesses:
            if a.name == name and a.write:
                out.append({(r.kind, r.group, r.multi) for r in tm.roots_at(fl, a.lambda_index)})
    assert out, name
    return out


def test_a_functor_or_slot_with_a_context_runs_on_the_qt_event_loop(tmp_path):
    li, tm = _model(tmp_path)
    for name in ("g_queued", "g_slot"):
        for got in _roots(li, tm, name):
            assert got == {("posted", "the Qt event loop", False)}, name  # one thread, in a loop too


def test_direct_and_context_free_connections_are_not_placed(tmp_path):
    li, tm = _model(tmp_path)
    assert _roots(li, tm, "g_direct") == [set()]
    assert _roots(li, tm, "g_bare") == [set()]


def test_two_functors_of_the_qt_event_loop_do_not_race(tmp_path):
    li, tm = _model(tmp_path)
    writes = [(fl, a) for fl in li.functions for a in fl.accesses if a.write and a.name in ("g_queued", "g_slot")]
    assert len(writes) == 3
    for fa, a in writes:
        for fb, b in writes:
            assert tm.may_race(fa, a.lambda_index, a.span.start_byte, fb, b.lambda_index, b.span.start_byte) is None


def test_a_connection_starts_no_thread(tmp_path):
    li, tm = _model(tmp_path)
    [(fl, a)] = [(fl, a) for fl in li.functions for a in fl.accesses if a.name == "g_setup"]
    assert tm.prethread(fl, a.lambda_index, a.span.start_byte)  # main's start goes on after `wire`
