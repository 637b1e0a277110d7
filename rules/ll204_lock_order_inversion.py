"""## What it does
Builds the project's lock-order graph (an edge A -> B whenever B is taken while A is held, in
the same function or in a function called while A is held, up to three calls deep and across
files) and reports every cycle once: two paths that take the same mutexes in opposite orders.
The message names both acquisition paths; related locations point at the other path.

## Why is this bad?
Thread 1 holds A and waits for B; thread 2 holds B and waits for A. Neither ever continues: a
deadlock that only shows under load, typically in the shutdown or error path nobody tests
concurrently. The shape from seed 001: a front end takes a global registry mutex and calls
into a backend that takes its own mutex. That order alone is fine; it becomes a deadlock the day
a backend path holding its mutex calls back into something that takes the registry mutex.

## Example
```cpp
void front_set_priority(int idx) {
    std::lock_guard<std::mutex> l(g_registry_mutex);
    g_backend->set_priority(idx);            // takes backend::m_mutex
}
void backend::remove_storage(int idx) {
    std::lock_guard<std::mutex> l(m_mutex);
    unregister_storage(idx);                 // takes g_registry_mutex: opposite order
}
```

## Use instead
Pick one global order and keep it (here: registry first), or release the first lock before the
call that takes the second:
```cpp
void backend::remove_storage(int idx) {
    {
        std::lock_guard<std::mutex> l(m_mutex);
        m_priorities.erase(idx);
    }
    unregister_storage(idx);
}
```
When two mutexes are needed together, take them at once with `std::scoped_lock(a, b)`.

## Known limits
- Mutexes are identified by field (`Class::m_mutex`) or global, not by object: two instances of
  one class locked in turn (`a.m_mutex`, then `b.m_mutex`) are not reported, and neither is
  re-locking a `recursive_mutex`.
- Calls are followed only when the callee can be resolved by name and declared type (methods of
  the class and its bases, typed receivers, free functions); virtual dispatch, function pointers
  and callbacks are not followed.
- `try_lock` / `std::try_to_lock` never blocks and adds no edge; `std::scoped_lock(a, b)` and
  `std::lock(a, b)` add no edge between `a` and `b`.
- Code in posted or stored lambdas is taken to run without the locks around its creation.
"""

from __future__ import annotations

from collections import defaultdict

from lifelint.locking import WILDCARD, display_lock, is_global_key, locking_index, transitive_acquires
from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule

MAX_CYCLE = 4


class Edge:
    """One witness of `held` -> `taken`: where `taken` is acquired (or the call that leads there)."""

    __slots__ = ("held", "taken", "fn", "span", "chain", "hold_span")

    def __init__(self, held, taken, fn, span, chain, hold_span):
        self.held, self.taken, self.fn, self.span, self.chain, self.hold_span = held, taken, fn, span, chain, hold_span

    @property
    def key(self):
        return (self.fn.path, self.span.start_byte)

    def describe(self) -> str:
        h, t = f"`{display_lock(self.held)}`", f"`{display_lock(self.taken)}`"
        if not self.chain:
            return f"`{self.fn.label}` holds {h} and takes {t}"
        via = " -> ".join(f"`{f.label}()`" for f in self.chain)
        return f"`{self.fn.label}` holds {h} and calls {via}, which takes {t}"


def _hold_span(fl, held_key, lam, byte):
    """Where the held lock was taken, for the related location."""
    held = fl.fn.flow.held_at(byte, lam)
    best = None
    for a in fl.acquires:
        if a.lock != held_key or a.lambda_index != lam or a.region not in held:
            continue
        if best is None or best.start_byte < a.span.start_byte <= byte:
            best = a.span
    return best


def _build(index):
    li = locking_index(index)
    edges: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    acq_cache: dict[int, dict] = {}

    def acq(fl):
        got = acq_cache.get(id(fl))
        if got is None:
            got = acq_cache[id(fl)] = transitive_acquires(fl, 3)
        return got

    for fl in li.functions:
        for a in fl.acquires:
            for h in a.held:
                if h != a.lock and h != WILDCARD:
                    edges[(h, a.lock)].append(Edge(h, a.lock, fl, a.span, [], _hold_span(fl, h, a.lambda_index, a.span.start_byte)))
        for cs in fl.calls:
            if not cs.held:
                continue
            for t in cs.targets:
                for lock, (chain, _a) in acq(t).items():
                    for h in cs.held:
                        if h == lock or h == WILDCARD:
                            continue
                        edges[(h, lock)].append(Edge(h, lock, fl, cs.span, chain, _hold_span(fl, h, cs.lambda_index, cs.span.start_byte)))
    for k in edges:
        edges[k].sort(key=lambda e: e.key)
    return edges, _cycles(edges)


def _cycles(edges):
    graph: dict[str, set[str]] = defaultdict(set)
    for (a, b) in edges:
        graph[a].add(b)
    found = []
    seen = set()
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start and len(path) >= 2:
                    canon = _canon(path)
                    if canon not in seen:
                        seen.add(canon)
                        found.append(list(canon))
                elif nxt not in path and len(path) < MAX_CYCLE and nxt > start:
                    stack.append((nxt, [*path, nxt]))
    return found


def _canon(path):
    i = path.index(min(path))
    return tuple(path[i:] + path[:i])


class LockOrderInversion(Rule):
    code = "LL204"
    name = "lock-order-inversion"
    group = "nursery"  # measured: 0 TRUE and 0 FALSE of 0 triaged test-half findings (fewer than 10), but 1 TRUE and 1 FALSE of 2 triaged tune-half findings (fewer than 10)
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.MEDIUM
    summary = "Two mutexes are taken in opposite orders on two paths: a deadlock waiting for load."
    tags = ("concurrency", "deadlock")
    seeds = ("001",)

    def check(self, facts, index):
        edges, cycles = index.memo("LL204.graph", _build)
        for cycle in cycles:
            pairs = [(cycle[i], cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))]
            # Report at the minority order: the edge with the fewest witnesses. On a tie, prefer the
            # edge that takes a global lock while holding an object's lock (coarse-to-fine is the
            # usual order), then the last one in the source.
            pick = max(pairs, key=lambda p: (-len(edges[p]), is_global_key(p[1]) and not is_global_key(p[0]),
                                             edges[p][0].fn.path, edges[p][0].span.start_byte))
            report = edges[pick][0]
            if report.fn.path != facts.path:
                continue
            i = pairs.index(pick)
            others = [edges[p][0] for p in pairs[i + 1:] + pairs[:i]]
            names = " -> ".join(f"`{display_lock(k)}`" for k in [*cycle, cycle[0]])
            paths = "; ".join(e.describe() for e in others)
            held, taken = (f"`{display_lock(k).split('::')[-1]}`" for k in pick)
            message = f"{taken} is taken while {held} is held in `{report.fn.fn.name}`, the reverse of another path's order."
            if len(cycle) == 2:
                a, b = pick
                because = (f"Lock-order inversion between `{display_lock(a)}` and `{display_lock(b)}`: here "
                           f"{report.describe()}, while {paths}. Two threads on these paths deadlock.")
                fix = (f"Keep one order (take `{display_lock(b)}` first everywhere), release `{display_lock(a)}` before "
                       "this point, or take both together with `std::scoped_lock`.")
            else:
                message = f"{taken} is taken while {held} is held in `{report.fn.fn.name}`, closing a lock-order cycle."
                because = (f"Lock-order cycle {names}: here {report.describe()}, while {paths}. Threads on these "
                           "paths can deadlock.")
                fix = f"Keep one global order for these mutexes or release `{display_lock(pick[0])}` before this point."
            related = []
            if report.hold_span is not None:
                related.append(Related(report.hold_span, f"`{display_lock(pick[0])}` taken here"))
            for e in others:
                what = "the opposite order" if len(cycle) == 2 else "the rest of the cycle"
                related.append(Related(e.span, f"{what}: {e.describe()}", None if e.fn.path == facts.path else e.fn.path))
            yield self.finding(report.span, message, related, why=because, fix=fix)
