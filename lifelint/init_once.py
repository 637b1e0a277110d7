"""One-time initialisation under a lock: a happens-before fact between its writes and later reads.

A write is *initialised once under lock L* when L is held at it and it runs only where a once
check under L found the state unset, on a path that sets that state:

    std::lock_guard<std::mutex> l(mu_);          // L
    if (opened_) return 0;                       // the once check, under L ...
    session_ = connect();                        // ... the write runs only while it is unset
    opened_ = true;                              // ... and the path sets it

(`if (!inited_) { ...; inited_ = true; }`, `if (h_ == nullptr) h_ = make();` where the written
handle is its own flag). The write may sit in a function called only from such a guarded region
(one or two calls down: `DoOneTimeInitialization` locking, testing its flag and calling
`initialize_factory()`). The state must never be set back (every write of it, outside
constructors and destructors, stores a set value), or the writes could run again.

The function holding the guarded region is the *init function*. A call of it orders its caller
after every such write: on each path through it the caller either takes L (after the writer's
unlock: the unlock synchronises-with that lock, and the state is then found set) or leaves
early on an unlocked test of an *atomic* state that found it set (the fast path of a
double-checked lock: the acquire load saw the release store). A plain flag tested without L
orders nothing (the broken double-checked lock).

An access is *ordered after the init* when, on every path to it, its function first called the
init function (directly, or through a function that does so on every path, one level down),
or skipped that call on an atomic test that found the state set, or every caller of its
function did so before calling it (one or two levels up). Such an access does not race with
the once-written value: the write happened before, and no write of it can follow (RacerD and
Eraser call this state read-shared after initialisation). A second write site outside the once
check, a write without L, and a reader that never passes the init are not covered.

"Every path" is judged structurally: a call at the top level of the body (not in a branch, a
loop or a lambda; in the condition of a top-level `if`), before the access, or in the branch of
a top-level `if` taken when an atomic state was found unset. Failure paths of the init (an
early `return error;` after a partial write) are not told apart from success: the reader is
taken to check the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lifelint.locking import WILDCARD, scope_at

_UNSET_VALUES = frozenset({"false", "nullptr", "NULL", "0", "0L", "0u", "{}", "FALSE"})
_SET_METHODS = frozenset({"store", "exchange"})


@dataclass(slots=True)
class OnceWrite:
    inits: frozenset  # ids of FnLocks whose guarded region runs the write (the init functions)
    lock: frozenset  # the lock keys held at the once check
    states: frozenset  # the keys of the states the once checks test


class InitOnce:
    """The fact, computed lazily per write (memoised)."""

    def __init__(self, li):
        self.li = li
        self._writes: dict[int, OnceWrite | None] = {}
        self._flag_ok: dict[str, bool] = {}
        self._orders: dict[tuple, bool] = {}
        self._flag_writes: dict[str, list] | None = None
        self._decided: dict[int, list] = {}
        self._accessor: dict[int, str | None] = {}

    # --- the write side ---------------------------------------------------------------------
    def once_write(self, w) -> OnceWrite | None:
        """`w` (a locking.Access, a write) runs only in a once-guarded region under a lock."""
        got = self._writes.get(id(w), False)
        if got is not False:
            return got
        held = w.fn.held_at(w.held, w.lambda_index, w.span.start_byte) - {WILDCARD}
        got = None
        if held and w.lambda_index is None:
            got = self._guarded(w.fn, w.span.start_byte, held, w.key if w.write else None, 2)
        elif held and w.lambda_index is not None:
            got = self._run_by_once_helper(w.fn, w.lambda_index, held)
        self._writes[id(w)] = got
        return got

    def _run_by_once_helper(self, fl, lam: int, held: frozenset) -> OnceWrite | None:
        """The lambda `lam` of `fl` is handed straight to a project function that calls it only in
        a once-guarded region under a lock (a `call_once`-like helper: `once([&] { x = f(); })`
        with `once` locking, testing its state and setting it around `f()`)."""
        flow = fl.fn.flow
        L = flow.lambdas[lam]
        h = L.handed_to
        if L.parent is not None or lam in fl.runs_later or h is None or h.via is not None or L.passed_to:
            return None
        cs = next((c for c in fl.calls if c.call == h.call), None)
        if cs is None or not cs.targets or not cs.runs_now:
            return None
        def each_run():
            for t in cs.targets:
                tflow = t.fn.flow
                params = [j for j, d in enumerate(tflow.decls) if d.kind == "param" and d.lambda_index is None]
                runs = [u for u in tflow.uses if u.decl == params[h.arg_index] and u.access == "call"] \
                    if h.arg_index < len(params) else []
                if not runs:
                    yield None
                for u in runs:
                    yield None if u.lambda_index is not None else self._guarded(
                        t, u.span.start_byte, t.held_at(frozenset(), None, u.span.start_byte) | self._local(t, u) | held, None, 0)
        return _all_of(each_run())

    @staticmethod
    def _local(t, u) -> frozenset:
        return frozenset(k for i in u.locks if i < len(t.region_keys) for k in t.region_keys[i])

    def _guarded(self, fl, byte: int, held: frozenset, own_key: str | None, depth: int) -> OnceWrite | None:
        """The code at `byte` of `fl` (body, not a lambda) runs only in a once-guarded region
        under a lock in `held`, in `fl` itself or (depth) at every call site of `fl`."""
        for d, key, _atomic in self._tests(fl):
            region = next((r for r in d.when if r[2] == "false" and r[0] <= byte < r[1]), None)
            if region is None:
                continue
            test_held = self._held_at_key(fl, d.start, key)
            lock = test_held & held
            if not lock or not self._never_reset(key):
                continue
            # the path sets the state, under the lock: the write itself (a handle that is its own
            # flag), or a set of the flag in the region
            if key == own_key or self._sets_in(fl, key, region, lock):
                return OnceWrite(frozenset({id(fl)}), frozenset(lock), frozenset({key}))
        if depth == 0:
            return None
        sites = [cs for cs in fl.callers if cs.runs_now]
        if not sites or any(cs.lambda_index is not None for cs in sites):
            return None
        def each_site():
            for cs in sites:
                h = cs.fn.held_at(cs.held, None, cs.span.start_byte) & held
                yield self._guarded(cs.fn, cs.span.start_byte, h, None, depth - 1) if h else None
        return _all_of(each_site())

    def _held_at_key(self, fl, byte: int, key: str) -> frozenset:
        for a in fl.accesses:
            if a.key == key and a.span.start_byte >= byte and a.lambda_index is None:
                return fl.held_at(a.held, None, a.span.start_byte)
        for cs in fl.calls:  # an accessor: the locks held at its call
            if cs.span.start_byte == byte:
                return cs.fn.held_at(cs.held, None, byte)
        return frozenset()

    def _tests(self, fl) -> list:
        """(Decided, state key, atomic) for each condition of `fl`'s body that tests one state:
        a field or global (`opened_`, `!h_`, `h_ == nullptr`, `done.load()`) or a one-line
        accessor returning one (`initialization_done()`)."""
        got = self._decided.get(id(fl))
        if got is not None:
            return got
        out = []
        flow = fl.fn.flow
        for d in flow.decided:
            keys = {a.key: a for a in fl.accesses if d.start <= a.span.start_byte < d.end and a.lambda_index is None}
            if len(keys) == 1:
                (key, a), = keys.items()
                if a.span.start_byte == d.start and not a.write:
                    out.append((d, key, bool(a.var is not None and a.var.is_atomic)))
                continue
            if keys:
                continue
            cs = next((c for c in fl.calls if c.span.start_byte == d.start and c.runs_now), None)
            if cs is None or not cs.targets:
                continue
            ks = {self._accessor_of(t) for t in cs.targets}
            if len(ks) == 1 and None not in ks:
                key = ks.pop()
                out.append((d, key, self._atomic_key(key)))
        self._decided[id(fl)] = out
        return out

    def _accessor_of(self, t) -> str | None:
        """The state a one-line accessor returns (`return done.load(acquire);`), or None."""
        if id(t) in self._accessor:
            return self._accessor[id(t)]
        flow = t.fn.flow
        got = None
        keys = {a.key for a in t.accesses}
        if len(flow.returns) == 1 and len(keys) == 1 and not any(a.write for a in t.accesses) \
                and all(c.name == "load" for c in flow.calls):
            got = keys.pop()
        self._accessor[id(t)] = got
        return got

    def _atomic_key(self, key: str) -> bool:
        for a in self._all_flag_accesses().get(key, ()):
            return bool(a.var is not None and a.var.is_atomic)
        return False

    def _all_flag_accesses(self) -> dict:
        if self._flag_writes is None:
            by = {}
            for fl in self.li.functions:
                for a in fl.accesses:
                    by.setdefault(a.key, []).append(a)
            self._flag_writes = by
        return self._flag_writes

    def _never_reset(self, key: str) -> bool:
        """Every write of the state outside construction and destruction stores a set value."""
        got = self._flag_ok.get(key)
        if got is not None:
            return got
        ok = True
        for a in self._all_flag_accesses().get(key, ()):
            if not a.write or a.fn.lifecycle:
                continue
            v = self._value_set(a)
            if v is None or v in _UNSET_VALUES:
                ok = False
                break
        self._flag_ok[key] = ok
        return ok

    @staticmethod
    def _value_set(a) -> str | None:
        """The value a write of a state stores (`x = v`, `x.store(v)`), whitespace removed; None when
        it is no plain store (an update, a reset(), a clear())."""
        flow = a.fn.fn.flow
        for s in flow.assigns:
            if s.span.start_byte <= a.span.start_byte < s.span.end_byte and s.op == "=":
                return re.sub(r"\s+", "", s.value)
        for c in flow.calls:
            if c.name in _SET_METHODS and c.receiver and c.span.start_byte == a.span.start_byte and c.args:
                return re.sub(r"\s+", "", c.args[0])
        return None

    def _sets_in(self, fl, key: str, region, lock) -> bool:
        for a in fl.accesses:
            if a.key == key and a.write and a.lambda_index is None and region[0] <= a.span.start_byte < region[1]:
                v = self._value_set(a)
                if v is not None and v not in _UNSET_VALUES and fl.held_at(a.held, None, a.span.start_byte) & lock:
                    return True
        return False

    # --- the read side ----------------------------------------------------------------------
    def ordered(self, w, a) -> bool:
        """The access `a` runs after the once-guarded write `w` (or `w` is no such write)."""
        ow = self.once_write(w)
        if ow is None or a.fn is w.fn and a.lambda_index == w.lambda_index:
            return False
        byte = a.span.start_byte
        lam = a.lambda_index
        flow = a.fn.fn.flow
        while lam is not None:  # a lambda runs after it is made
            byte, lam = flow.lambdas[lam].span.start_byte, flow.lambdas[lam].parent
        return self._after(a.fn, byte, ow, 2, 2)

    def _after(self, fl, byte: int, ow: OnceWrite, down: int, up: int) -> bool:
        key = (id(fl), byte, ow.inits, up)
        got = self._orders.get(key)
        if got is not None:
            return got
        self._orders[key] = False  # recursion
        got = self._after_here(fl, byte, ow, down)
        if not got and up and id(fl) not in ow.inits:
            sites = [cs for cs in fl.callers if cs.runs_now]
            got = bool(sites) and all(self._after(cs.fn, self._outer(cs), ow, down, up - 1) for cs in sites)
        self._orders[key] = got
        return got

    @staticmethod
    def _outer(cs) -> int:
        flow = cs.fn.fn.flow
        byte, lam = cs.span.start_byte, cs.lambda_index
        while lam is not None:
            byte, lam = flow.lambdas[lam].span.start_byte, flow.lambdas[lam].parent
        return byte

    def _after_here(self, fl, byte: int, ow: OnceWrite, down: int) -> bool:
        flow = fl.fn.flow
        if any(j.kind == "goto" for j in flow.jumps):
            return False
        for cs in fl.calls:
            if cs.lambda_index is not None or not cs.runs_now or cs.span.end_byte > byte:
                continue
            if not self._dominates(fl, cs.span.start_byte, byte, ow.states):
                continue
            for t in cs.targets:
                if id(t) in ow.inits and self._init_orders(t, ow):
                    return True
                if down and id(t) not in ow.inits and self._calls_init(t, ow, down - 1):
                    return True
        return False

    def _calls_init(self, fl, ow: OnceWrite, down: int) -> bool:
        """Every path through `fl` calls an init function (or skips it on an atomic test that found
        the state set): its end is after the init."""
        return self._after_here(fl, fl.fn.flow.scopes[0].span.end_byte if fl.fn.flow.scopes else 0, ow, down)

    def _dominates(self, fl, at: int, byte: int, states=frozenset()) -> bool:
        """Code at `at` runs on every path to `byte` (after it): it is at the top level of the
        body, or in the condition of a top-level `if`, or in a branch taken when an atomic state
        tested there was unset (the rest of that path found it set)."""
        flow = fl.fn.flow
        if not flow.scopes:
            return False
        si = scope_at(flow, at)
        for s in flow.scope_ancestors(si):
            sc = flow.scopes[s]
            if sc.kind in ("function", "if") or sc.kind == "block" and sc.branch is None:
                continue  # (an `if` scope itself: its condition, always evaluated)
            if sc.kind == "block" and sc.branch == "then" and self._atomic_unset_branch(fl, sc, states):
                continue
            return False
        return True

    def _atomic_unset_branch(self, fl, sc, states) -> bool:
        """`sc` is the `then` branch of an `if` whose own condition found an atomic once state
        unset (`if (!initialized()) init();`): the path around it found the state set."""
        if sc.parent is None:
            return False
        cond = fl.fn.flow.scopes[sc.parent]
        for d, key, atomic in self._tests(fl):
            if atomic and key in states and cond.span.start_byte <= d.start < sc.span.start_byte \
                    and any(r[2] == "false" and r[0] <= sc.span.start_byte < r[1] for r in d.when):
                return True
        return False

    def _init_orders(self, t, ow: OnceWrite) -> bool:
        """A call of the init function `t` returns only after taking one of the once locks on its
        path, or from a fast path that found an atomic state set: its caller is ordered after the
        guarded writes."""
        acq = [q for q in t.acquires if q.lambda_index is None and q.lock in ow.lock
               and self._dominates(t, q.span.start_byte, 1 << 62, ow.states)]
        if not acq:
            # the init region may be reached with the lock its callers hold (entry)
            return bool(t.entry & ow.lock)
        first = min(q.span.start_byte for q in acq)
        flow = t.fn.flow
        for r in flow.returns:
            if r.lambda_index is not None or r.span.start_byte >= first:
                continue
            if not any(atomic and k in ow.states and any(x[2] == "true" and x[0] <= r.span.start_byte < x[1] for x in d.when)
                       for d, k, atomic in self._tests(t)):
                return False
        return True


def _all_of(ways) -> OnceWrite | None:
    """One OnceWrite for code every one of `ways` (each a way it runs: a call site, a run of a
    helper's callable) guards, or None as soon as one does not: their inits and states, and the
    locks all of them hold."""
    inits, locks, states = set(), None, set()
    for g in ways:
        if g is None:
            return None
        inits |= g.inits
        states |= g.states
        locks = g.lock if locks is None else locks & g.lock
    if not locks:
        return None
    return OnceWrite(frozenset(inits), locks, frozenset(states))
