"""Which locks are held at each point of a C++ body, by forward dataflow over its control-flow
graph (lifelint.facts.cpp_cfg), the way Clang's `-Wthread-safety` does it, without annotations.

A *holder* is one entry of `Function.locks` (lifelint.facts.cpp_locks.LockHolder): a guard
variable, or a mutex locked and unlocked by hand. Lock sets are bit masks of holder indexes:

- **must**: held on every path to the point (intersection where paths join);
- **may**: held on some path (union).

`LockFlow` (one per function, `FunctionFlow.lockflow`; None when the function takes no lock)
answers, for a position in a body (`lam` = the lambda index, None for the function's own body):

- `must(byte, lam)` / `may(byte, lam)`: holder indexes held at that byte on every / some path.
  Every flow event's `locks` is `must` at its start (plus, in a lambda that runs on the spot, the
  locks held where it is created: see cpp_flow); `partial` lists those held on some path only.
- `releases_reaching(byte, lam, holder)`: the release points (span, kind) of `holder` from which
  the point is reached without taking it again: "the lock was released here" for messages.
- `released_between(start, end, lam, holder, kills)`: the first release of `holder` on some path
  from `start` to `end` (None when there is none); a path through a byte in `kills` (the view
  assigned again) does not count. A condition-variable wait is a release (kind "wait") followed
  at once by an acquisition. A view obtained under a lock is stale at `end` when this is
  not None, even if the lock was taken again since.
- `exits(lam)`: (kind, span, must, may) for each way out of the body (return / throw / end), for
  "still held when the function returns" (LL208).
- `uncertain(lam)`: the body has a goto: prefer not reporting from its flow answers.

Bodies without lock operations have no graph: nothing is held there (the inherited locks of a
synchronous lambda come from its creation point).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lifelint.facts.cpp_cfg import Cfg


@dataclass(slots=True)
class BodyFlow:
    cfg: Cfg
    must_in: list[int] = field(default_factory=list)  # per node, bit mask; -1: never reached
    may_in: list[int] = field(default_factory=list)


def _apply(ops, must: int, may: int, upto: int | None = None) -> tuple[int, int]:
    for op in ops:
        if upto is not None and op[0] > upto:
            break
        bit = 1 << op[2]
        if op[1] > 0:
            must |= bit
            may |= bit
        else:
            must &= ~bit
            may &= ~bit
    return must, may


def solve(cfg: Cfg, entry: int) -> BodyFlow:
    n = len(cfg.starts)
    must_in = [-1] * n  # -1: not reached yet (top)
    may_in = [0] * n
    must_in[cfg.entry] = entry
    may_in[cfg.entry] = entry
    work = [cfg.entry]
    queued = [False] * n
    queued[cfg.entry] = True
    ops = cfg.ops
    succ = cfg.succ
    steps = 0
    while work and steps < 200000:
        steps += 1
        a = work.pop()
        queued[a] = False
        mo, yo = _apply(ops[a], must_in[a], may_in[a])
        for b in succ[a]:
            old_m, old_y = must_in[b], may_in[b]
            nm = mo if old_m == -1 else (old_m & mo)
            ny = old_y | yo
            if nm != old_m or ny != old_y:
                must_in[b], may_in[b] = nm, ny
                if not queued[b]:
                    queued[b] = True
                    work.append(b)
    return BodyFlow(cfg, must_in, may_in)


def _bits(mask: int) -> tuple[int, ...]:
    out = []
    i = 0
    while mask:
        if mask & 1:
            out.append(i)
        mask >>= 1
        i += 1
    return tuple(out)


@dataclass(slots=True)
class LockFlow:
    bodies: dict = field(default_factory=dict)  # lambda index (None: the function body) -> BodyFlow

    def _state(self, byte: int, lam: int | None) -> tuple[int, int] | None:
        bf = self.bodies.get(lam)
        if bf is None:
            return None
        g = bf.cfg
        leaf = g.leaf_at(byte)
        if leaf is None:
            return bf.must_in[g.entry], bf.may_in[g.entry]
        m, y = bf.must_in[leaf], bf.may_in[leaf]
        if m == -1:
            return 0, 0  # unreachable code: claim nothing
        return _apply(g.ops[leaf], m, y, byte)

    def masks(self, byte: int, lam: int | None) -> tuple[int, int]:
        s = self._state(byte, lam)
        return s if s is not None else (0, 0)

    def before(self, byte: int, lam: int | None) -> tuple[int, int]:
        """(must, may) masks just before the operations at `byte` (an unlock() call's own effect excluded)."""
        bf = self.bodies.get(lam)
        if bf is None:
            return 0, 0
        g = bf.cfg
        leaf = g.leaf_at(byte)
        if leaf is None or bf.must_in[leaf] == -1:
            return 0, 0
        return _apply(g.ops[leaf], bf.must_in[leaf], bf.may_in[leaf], byte - 1)

    def must(self, byte: int, lam: int | None) -> tuple[int, ...]:
        return _bits(self.masks(byte, lam)[0])

    def may(self, byte: int, lam: int | None) -> tuple[int, ...]:
        return _bits(self.masks(byte, lam)[1])

    def uncertain(self, lam: int | None) -> bool:
        bf = self.bodies.get(lam)
        return bf is not None and bf.cfg.has_goto

    def exits(self, lam: int | None = None) -> list[tuple[str, object, int, int]]:
        bf = self.bodies.get(lam)
        if bf is None:
            return []
        out = []
        for node, kind, span in bf.cfg.exits:
            m = bf.must_in[node]
            if m == -1:
                continue
            m, y = _apply(bf.cfg.ops[node], m, bf.may_in[node])
            out.append((kind, span, m, y))
        return out

    def releases_reaching(self, byte: int, lam: int | None, holder: int) -> list[tuple[object, str]]:
        """Release points of `holder` that reach `byte` with no acquisition in between."""
        bf = self.bodies.get(lam)
        if bf is None:
            return []
        g = bf.cfg
        preds = g.preds()
        found: list = []
        seen: set[int] = set()
        leaf = g.leaf_at(byte)
        if leaf is None:
            return []

        def scan(node: int, upto: int | None) -> bool:
            """Walk node's ops backwards; True when the path stops here (release or acquire)."""
            for op in reversed(g.ops[node]):
                if op[2] != holder or (upto is not None and op[0] > upto):
                    continue
                if op[1] < 0 and (op[3], op[4]) not in found:
                    found.append((op[3], op[4]))
                return True
            return False

        stack = []
        if not scan(leaf, byte):
            stack.extend(preds[leaf])
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            if bf.must_in[n] == -1:
                continue
            if not scan(n, None):
                stack.extend(preds[n])
        return found

    def release_window(self, byte: int, lam: int | None, holder: int, kinds=("unlock", "unlocker")) -> list | None:
        """The releases (span, kind) that open a deliberate release window around `byte`, or None.

        A window: every path to `byte` last touched `holder` by a release of a kind in `kinds`
        (an `unlock()`, an unlocking guard's declaration: not the end of a guard's scope) made
        while it was held on every path, and every path on from `byte` takes it again before the
        body is left (`lk.lock()`, the unlocking guard's destructor). The body holds the lock
        around the window and lets it go on purpose (`ScopeUnlock u(mu_); io();`,
        `lk.unlock(); cb(); lk.lock();`)."""
        bf = self.bodies.get(lam)
        if bf is None or bf.cfg.has_goto:
            return None
        g = bf.cfg
        leaf = g.leaf_at(byte)
        if leaf is None or bf.must_in[leaf] == -1:
            return None
        preds = g.preds()
        found: list = []
        bit = 1 << holder

        def back(node: int, upto: int | None) -> bool | None:
            """The last operation on holder in node (up to byte `upto`): True for a deliberate
            release made with the lock held, False for anything else, None when there is none."""
            ops = g.ops[node]
            for j in range(len(ops) - 1, -1, -1):
                op = ops[j]
                if op[2] != holder or (upto is not None and op[0] > upto):
                    continue
                if op[1] > 0 or op[4] not in kinds:
                    return False
                m = bf.must_in[node]
                for prev in ops[:j]:
                    if prev[2] == holder:
                        m = m | bit if prev[1] > 0 else m & ~bit
                if not m & bit:
                    return False
                if (op[3], op[4]) not in found:
                    found.append((op[3], op[4]))
                return True
            return None

        r = back(leaf, byte)
        if r is False:
            return None
        if r is None:
            stack, seen = list(preds[leaf]), set()
            while stack:
                n = stack.pop()
                if n in seen or bf.must_in[n] == -1:
                    continue
                seen.add(n)
                r = back(n, None)
                if r is False or r is None and (n == g.entry or not preds[n]):
                    return None  # held on some path, released by a guard's end, or never taken
                if r is None:
                    stack.extend(preds[n])
        if not found:
            return None

        def fwd(node: int, after: int | None) -> bool:
            """True when node (from byte `after` on) takes holder again."""
            return any(op[2] == holder and op[1] > 0 and (after is None or op[0] > after) for op in g.ops[node])

        if fwd(leaf, byte):
            return found
        stack, seen = list(g.succ[leaf]), {leaf}
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            if fwd(n, None):
                continue
            if n == g.exit:
                return None  # the body is left with the lock still released
            stack.extend(g.succ[n])
        return found

    def released_between(self, start: int, end: int, lam: int | None, holder: int, kills=(), ignore=()) -> tuple | None:
        """The first release (span, kind) of `holder` on a path from byte `start` to byte `end`
        that passes through no byte in `kills`; None when every path keeps it (or there is none).
        Releases of a kind in `ignore` ("wait") do not count."""
        bf = self.bodies.get(lam)
        if bf is None:
            return None
        g = bf.cfg
        s_leaf = g.leaf_at(start)
        e_leaf = g.leaf_at(end)
        if s_leaf is None or e_leaf is None:
            return None
        kills_by_leaf: dict[int, list[int]] = {}
        for k in kills:
            kl = g.leaf_at(k)
            if kl is not None:
                kills_by_leaf.setdefault(kl, []).append(k)

        def walk(node: int, frm: int, rel):
            """Events in node from byte `frm` on: ('end', rel) when `end` is reached, ('kill', _)
            when the view is assigned again first, else ('through', rel)."""
            evs = []
            for op in g.ops[node]:
                if op[2] == holder and op[1] < 0 and (op[0] < 0 or op[0] >= frm) and op[4] not in ignore:
                    evs.append((op[0], 1, op))
            for k in kills_by_leaf.get(node, ()):
                if k >= frm:
                    evs.append((k, 0, None))
            if node == e_leaf and end >= frm:
                evs.append((end, 2, None))
            evs.sort(key=lambda e: (e[0], -e[1]))
            for _b, what, op in evs:
                if what == 2:
                    if rel is not None:
                        return "end", rel
                    continue  # reached with the lock never released: later iterations may still be
                if what == 0:
                    return "kill", None
                if rel is None:
                    rel = (op[3], op[4])
            return "through", rel

        seen: set[tuple[int, bool]] = set()
        stack = []
        res, rel = walk(s_leaf, start, None)
        if res == "end":
            return rel
        if res == "through":
            stack.extend((b, rel) for b in g.succ[s_leaf])
        while stack:
            n, rel = stack.pop()
            key = (n, rel is not None)
            if key in seen:
                continue
            seen.add(key)
            res, rel2 = walk(n, -1, rel)
            if res == "end":
                return rel2
            if res == "through":
                stack.extend((b, rel2) for b in g.succ[n])
        return None


def _body_node(fn_node, span):
    n = fn_node.descendant_for_byte_range(span.start_byte, span.end_byte)
    while n is not None and not (n.start_byte == span.start_byte and n.end_byte == span.end_byte):
        n = n.parent
    return n


def build_lockflow(fn_node, holders, lambdas, innermost_lambda) -> LockFlow | None:
    """The lock flow of a function whose `Function.locks` are `holders`: one graph per body
    (the function's, each lambda's) that has a lock operation."""
    from lifelint.facts.cpp_cfg import build

    if not holders:
        return None
    per: dict = {}

    def body(lam):
        b = per.get(lam)
        if b is None:
            b = per[lam] = ({}, [], [], 0)
        return b

    entries: dict = {}
    for hi, h in enumerate(holders):
        for op in h.ops:
            k = op[0]
            if k == "acq":
                body(innermost_lambda(op[1]))[2].append((op[1], 1, hi, op[2], "lock"))
            elif k == "rel":
                body(innermost_lambda(op[1]))[2].append((op[1], -1, hi, op[2], op[3] if len(op) > 3 else "unlock"))
            elif k == "wait":
                # released while the wait blocks, held again when it returns: the same lock sets
                # before and after, but a path through it is a release (released_between)
                pts = body(innermost_lambda(op[1]))[2]
                pts.append((op[1], -1, hi, op[2], "wait"))
                pts.append((op[1], 1, hi, op[2], "wait"))
            elif k == "test":
                body(innermost_lambda(op[1]))[1].append((op[1], op[2], hi, op[3], op[4]))
            elif k == "scope":
                body(innermost_lambda(op[1]))[0].setdefault((op[1], op[2]), []).append((op[3], hi, op[4]))
            elif k == "entry":
                lam = innermost_lambda(h.span.start_byte)
                body(lam)
                entries[lam] = entries.get(lam, 0) | (1 << hi)
    out = LockFlow()
    fn_body = fn_node.child_by_field_name("body")
    for lam, (scope_ops, tests, points, _e) in per.items():
        node = fn_body if lam is None else _body_node(fn_node, lambdas[lam].body)
        if node is None:
            continue
        try:
            cfg = build(node, scope_ops, tests)
        except RecursionError:
            continue
        points.sort(key=lambda p: p[0])
        for p in points:
            leaf = cfg.leaf_at(p[0])
            cfg.ops[cfg.entry if leaf is None else leaf].append(p if leaf is not None else (-1, *p[1:]))
        out.bodies[lam] = solve(cfg, entries.get(lam, 0))
    return out
