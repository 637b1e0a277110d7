"""The thread model's reach table (lifelint.threads._Reach), which keeps each context's set of
roots as a number in a tree of sets rather than a {root: label} map per context (issue 16): it
must answer exactly what the maps answered, roots in the order they were added, each with the
label of the entry that reached that context."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from lifelint.threads import Root, _Reach
from lifelint.model import Span

CTXS = [(f, lam) for f in range(6) for lam in (None, 0, 1)]

# One root's walk: the contexts it reached, each with a label; either one label for all (a
# spawned closure) or a label per entry (an exported root: each function its own).
walk = st.tuples(st.booleans(), st.dictionaries(st.sampled_from(CTXS), st.sampled_from(["a", "b", "c"]), max_size=12))


def _root(i: int) -> Root:
    return Root("thread", f"root {i}", "x.cpp", Span(0, 0, 0, 0, 0, 0))


def _naive(walks) -> dict:
    """What the old table held: context -> {root: label}, filled root by root."""
    out: dict = {}
    for r, reached in walks:
        for ctx, label in reached.items():
            out.setdefault(ctx, {})[r] = label
    return out


def _build(spec, cached=None):
    reach = (_Reach if cached is None else type("SmallCache", (_Reach,), {"_CACHED": cached}))()
    walks = []
    for i, (one_label, reached) in enumerate(spec):
        if one_label:
            reached = {ctx: "same" for ctx in reached}
        r = _root(i)
        walks.append((r, reached))
        reach.add(r, dict(reached))
    return reach, _naive(walks)


@settings(max_examples=200, deadline=None)
@given(st.lists(walk, max_size=8), st.sampled_from([None, 1, 3]))
def test_reach_answers_what_a_map_per_context_answered(spec, cached):
    reach, naive = _build(spec, cached)
    for _ in range(2):  # the second round is answered from the cache (or after evictions)
        for ctx in CTXS:
            got = reach.get(ctx)
            want = naive.get(ctx, {})
            assert got == want
            assert list(got) == list(want)  # root order: may_race reports the first pair it finds


def test_contexts_with_one_set_of_roots_share_it():
    roots = [_root(i) for i in range(3)]
    reach = _Reach()
    many = {(f, None): "a closure" for f in range(1000)}
    for r in roots:
        reach.add(r, many)
    # three roots over a thousand contexts: one set per root added, not 3,000 entries
    assert len(reach.parent) == 1 + 3
    assert reach.get((5, None)) == {r: "a closure" for r in roots}


def test_labels_kept_per_context_only_when_they_differ():
    one, per = _root(0), _root(1)
    reach = _Reach()
    reach.add(one, {(1, None): "main", (2, None): "main"})
    reach.add(per, {(1, None): "`f` is exported", (2, None): "`g` is exported"})
    assert reach.labels[0] == "main"
    assert reach.get((1, None)) == {one: "main", per: "`f` is exported"}
    assert reach.get((2, None)) == {one: "main", per: "`g` is exported"}
    assert reach.get((3, None)) == {}


@pytest.mark.parametrize("ctx", [(9, None), (1, 4)])
def test_unreached_context_is_empty(ctx):
    reach = _Reach()
    reach.add(_root(0), {(1, None): "x"})
    assert reach.get(ctx) == {}
    assert not reach.get(ctx)
