"""A preprocessor conditional inside a function body (both branches live, kept by the pre-pass)
is no block: facts about "the statements after this one in its block" and "a guard declared
earlier in this block" look through it, never into another branch of the same conditional."""

from __future__ import annotations

from lifelint import facts, parsing


def parsed(src: bytes):
    tree = parsing.parse("cpp", src)
    return facts.extract_facts("t.cpp", "cpp", src, tree)


HEAD = b"#include <atomic>\n#include <mutex>\nstd::mutex m;\nstd::atomic<bool> started{false};\nvoid work();\n"


def check_then_act(body: bytes):
    return parsed(HEAD + b"void f() {\n" + body + b"\n}\n").cpp.extra["atomic_check_then_act"]


def test_guard_declared_under_ifdef_covers_the_check_after_it():
    body = b"""#ifdef THREADED
    std::lock_guard<std::mutex> g(m);
#else
    work();
#endif
    if (!started) { started = true; work(); }"""
    assert check_then_act(body) == []
    # the same without the guard is a check-then-act: the test above is not vacuous
    assert [c.name for c in check_then_act(body.replace(b"std::lock_guard<std::mutex> g(m);", b""))] == ["started"]


def test_guard_in_the_other_branch_does_not_cover():
    body = b"""#ifdef THREADED
    std::lock_guard<std::mutex> g(m);
#else
    if (!started) { started = true; work(); }
#endif"""
    assert [c.name for c in check_then_act(body)] == ["started"]


def _decided_regions(src_body: bytes, tested: bytes):
    src = HEAD + b"void f() {\n" + src_body + b"\n}\n"
    f = parsed(src)
    at = src.index(tested)
    fn = next(fn for fn in f.cpp.functions if fn.name == "f")
    return [(src[a:b], how) for d in fn.flow.decided if d.start == at for a, b, how in d.when]


def test_rest_of_block_after_an_early_exit_stops_at_the_other_branch():
    body = b"""#ifdef FAST
    if (!started.load()) return;
    work();
#else
    m.lock();
#endif
    m.unlock();"""
    regions = _decided_regions(body, b"started.load()")
    texts = b"".join(t for t, how in regions if how == "true")
    assert b"work();" in texts and b"m.unlock();" in texts
    assert b"m.lock();" not in texts  # (the #else branch never runs after the check)


def test_return_under_if_else_in_every_branch_always_leaves():
    body = b"""if (started.load()) {
#if A
        return;
#else
        throw 1;
#endif
    }
    work();"""
    regions = _decided_regions(body, b"started.load()")
    assert any(b"work();" in t and how == "false" for t, how in regions)
