"""## What it does
Flags a write to a mutable namespace-scope or static variable (a global, a file-`static`, a
static data member) made inside a function with no lock held, when another function reads or
writes the same variable and there is evidence that the variable is shared between threads:

- some other access to it holds a lock (the code already treats it as shared), or
- an access sits in a lambda handed to `std::thread` / `std::async`, or in a function started
  as a thread or called from such a lambda, or
- the file that declares it (or the writing function's file) guards other globals with a
  namespace-scope mutex, or it is a static member of a class that owns a mutex.

The finding sits on the unlocked write; related locations are an access in another function and
the declaration. Variables that are `const`/`constexpr`, `std::atomic`, `thread_local`, mutexes
and other synchronisation objects are skipped, as are writes with a lock held (in the function,
or by every caller), writes in `main()` and in functions only `main()` calls, and initialisers
(static initialisation runs before any thread).

Rust: a `static mut` written inside a function (outside `unsafe fn`s whose contract serialises callers).

## Why is this bad?
A global has no owner: any thread may read it while another writes it. The classic shape
(seed 001): a binding sets `memory_disk_memory_size` from whatever thread calls it, while the
session's disk thread reads it in a storage constructor. The read can see a torn or stale value,
and the compiler may cache or reorder the access; it is undefined behaviour even when "it is only
an integer".

## Example
```cpp
std::int64_t memory_disk_memory_size = 0;

void set_memory_disk_io(std::int64_t size) {
    memory_disk_memory_size = size;                  // no lock
}
memory_storage::memory_storage() : capacity(memory_disk_memory_size) {}  // disk thread
```

## Use instead
```cpp
std::atomic<std::int64_t> memory_disk_memory_size{0};
```
or guard every access with one mutex, or better, pass the value to the object that needs it
instead of going through a global.

## Known limits
- Whether two functions really run on different threads is not known; the evidence above is a
  proxy. A global shared between threads with none of that evidence nearby (an asio handler on
  a multi-threaded `io_context`, a callback from a library thread) is missed, and a global in a
  file that locks other globals but is itself only touched by one thread is reported.
- Executors (`post`, `dispatch`, `async_*`) are not taken as evidence: a single-threaded
  `io_context` runs handlers on the thread that calls `run()`.
- Writes in constructors count: a self-registering static object that writes a global during
  static initialisation is reported when the evidence holds.
- Function-local `static` variables are not checked (they are reached only through their
  function); neither are globals reached through a pointer or reference.
- Writes through unknown member functions (`g_table.update(x)`) count as reads.
- Writes in free functions named as module setup (`*_init`, `*_global_init`, `Initialize*`)
  are taken as happening before the threads start, and are not reported.
- The lock must be held in the writing function or by all its callers; a write protected by a
  lock taken further up a chain lifelint cannot resolve is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lifelint.locking import access_verb, is_sync_type, locking_index
from lifelint.threads import describe, thread_model
from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint import rust_checks


def _candidate(var) -> bool:
    if var is None or var.kind not in ("global", "static-member"):
        return False
    if var.is_const or var.is_thread_local or var.is_reference or var.is_atomic or is_sync_type(var.type):
        return False
    return True


@dataclass
class _Race:
    var: object
    writes: list  # unlocked writes (locking.Access), first the one that races
    other: object  # the access it races with (may be the write itself: two runs of one function)
    roots: tuple  # (root of the write, root of the other), either may be None (unseen caller)
    how: tuple  # how each root reaches its access


def _build(index):
    """id(Variable) -> _Race for every candidate global with an unlocked write that can run at the
    same time as another access (or another run of itself) on another thread."""
    li = locking_index(index)
    tm = thread_model(index)
    accesses: dict[str, list] = {}
    for fl in li.functions:
        for a in fl.accesses:
            if _candidate(a.var):
                accesses.setdefault(a.key, []).append(a)
    out = {}
    for key, items in accesses.items():
        writes = [a for a in items if a.write and not a.fn.held_at(a.held, a.lambda_index, a.span.start_byte)]
        if not writes:
            continue
        race = _first_race(tm, writes, items)
        if race is not None:
            w, o, (ra, rb) = race
            out[id(w.var)] = _Race(w.var, [w, *[x for x in writes if x is not w]], o, (ra, rb),
                                   (tm.roots_at(w.fn, w.lambda_index).get(ra, ""), tm.roots_at(o.fn, o.lambda_index).get(rb, "")))
    return out


def _first_race(tm, writes, items):
    seen = set()
    for w in writes[:64]:
        cw = tm.context(w.fn, w.lambda_index)
        # other functions first: a race between two functions reads better than one with itself
        others = sorted(items, key=lambda o: (o is w, o.write))
        for o in others[:256]:
            if o is not w and o.fn is w.fn and o.lambda_index == w.lambda_index:
                continue
            co = tm.context(o.fn, o.lambda_index)
            sig = (cw, co, w.span.start_byte if o is w else None)
            if sig in seen and o is not w:
                continue
            seen.add(sig)
            if o is not w:
                ho = o.fn.held_at(o.held, o.lambda_index, o.span.start_byte)
                hw = w.fn.held_at(w.held, w.lambda_index, w.span.start_byte)
                if ho & hw:
                    continue
            ev = tm.may_race(w.fn, w.lambda_index, w.span.start_byte, o.fn, o.lambda_index, o.span.start_byte)
            if ev is not None:
                return w, o, ev
    return None


def _static_local_races(index, facts):
    """Function-local statics written with no lock in a function that can run on two threads at
    once: (Variable, [writes as (fl, use)], (root, root))."""
    li = locking_index(index)
    tm = thread_model(index)
    by_decl = {}
    for v in facts.cpp.globals:
        if v.kind == "static-local" and _candidate_local(v):
            by_decl[v.name_span.start_byte] = v
    if not by_decl:
        return
    for fl in li.in_file(facts.path):
        flow = fl.fn.flow
        for di, d in enumerate(flow.decls):
            if d.kind != "static" or d.span.start_byte not in by_decl:
                continue
            v = by_decl[d.span.start_byte]
            writes = []
            for u in flow.uses:
                if u.decl != di:
                    continue
                write, _verb = access_verb(u)
                if not write:
                    continue
                held = fl.held_at(frozenset(k for i in u.locks if i < len(fl.region_keys) for k in fl.region_keys[i]),
                                  u.lambda_index, u.span.start_byte)
                if not held:
                    writes.append(u)
            for u in writes:
                ev = tm.may_race(fl, u.lambda_index, u.span.start_byte, fl, u.lambda_index, u.span.start_byte)
                if ev is not None:
                    yield v, fl, writes, u, ev, tm.roots_at(fl, u.lambda_index)
                    break


def _candidate_local(v) -> bool:
    return not (v.is_const or v.is_thread_local or v.is_reference or v.is_atomic or is_sync_type(v.type))


class UnsynchronizedGlobal(Rule):
    code = "LL202"
    name = "unsynchronized-global"
    languages = ("cpp", "rust")
    level = Level.WARNING
    precision = Precision.MEDIUM
    summary = "A mutable global is written outside any lock and used by another function in a threaded program."
    tags = ("concurrency", "data-race")
    seeds = ("001", "002")

    def check(self, facts, index):
        if facts.language == "rust":
            yield from rust_checks.check_ll202(facts, index)
            return
        table = index.memo("LL202.races", _build)
        for v in facts.cpp.globals:
            race = table.get(id(v))
            if race is None or v.is_extern:
                continue
            yield self._report(v, race, facts, index)
        for v, fl, writes, u, (ra, rb), how in _static_local_races(index, facts):
            where = "" if u.lambda_index is None else "a lambda in "
            evidence = _evidence_text(ra, rb, how.get(ra, ""), how.get(rb, ""), same=True)
            fix = "Make it `std::atomic`, or guard it with a mutex" if _scalar(v) else "Guard it with a mutex"
            message = (f"The function-local static `{v.name}` is written with no lock held in {where}`{fl.label}`, "
                       f"which can run on two threads at once ({evidence}), so two calls race on it. {fix}, or keep "
                       "the state per thread or per object.")
            related = [Related(w.span, f"`{v.name}` written here with no lock") for w in writes[:3]]
            related += _root_related(ra, rb, facts)
            yield self.finding(v.name_span, message, related)

    def _report(self, v, race, facts, index):
        w, o = race.writes[0], race.other
        kind = "static member" if v.kind == "static-member" else ("file-static variable" if v.is_static else "global")
        how = "written" if w.verb == "assigned" else w.verb
        wwhere = "a lambda in " if w.lambda_index is not None else ""
        if o is w:
            other_text = f"and `{w.fn.label}` can run on two threads at once"
        else:
            other_how = "written" if o.write else "read"
            owhere = "a lambda in " if o.lambda_index is not None else ""
            other_text = f"and {other_how} in {owhere}`{o.fn.label}`"
        evidence = _evidence_text(*race.roots, *race.how, same=o is w)
        fix = ("Make it `std::atomic`, or guard every access with one mutex" if _scalar(v)
               else "Guard every access with one mutex")
        n = len(race.writes)
        more = f" ({n - 1} other unlocked write{'s' if n > 2 else ''} too)" if n > 1 else ""
        message = (f"The mutable {kind} `{v.name}` is {how} with no lock held in {wwhere}`{w.fn.label}`{more} "
                   f"{other_text}; these can run at the same time on different threads ({evidence}), so they race. "
                   f"{fix}, or pass the value to whoever needs it instead of going through a global.")
        related = []
        for x in race.writes[:3]:
            related.append(Related(x.span, f"`{v.name}` {'written' if x.verb == 'assigned' else x.verb} here with no lock "
                                            f"(`{x.fn.label}`)", None if x.fn.path == facts.path else x.fn.path))
        if o is not w:
            related.append(Related(o.span, f"`{v.name}` {'written' if o.write else 'read'} here (`{o.fn.label}`)",
                                   None if o.fn.path == facts.path else o.fn.path))
        related += _root_related(*race.roots, facts)
        return self.finding(v.name_span, message, related)


def _evidence_text(ra, rb, how_a, how_b, same=False) -> str:
    if ra is rb:
        return describe(ra)
    return f"one in {describe(ra)}, the other in {describe(rb)}"


def _root_related(ra, rb, facts) -> list:
    out = []
    for r in (ra, rb):
        if r is None or any(x is r for x in out):
            continue
        out.append(r)
    return [Related(r.span, f"thread root: {r.what}", None if r.path == facts.path else r.path) for r in out]


def _scalar(var) -> bool:
    if var.pointer_depth:
        return True
    t = var.type.replace("static", "").replace("volatile", "").strip()
    return bool(re.fullmatch(r"(?:(?:unsigned|signed|long|short|int|char|bool|float|double|std::size_t|size_t|"
                             r"(?:std::)?u?int\d+_t|std::ptrdiff_t)\s*)+", t))


def _decl_path(index, var):
    for f, v in index.cpp_globals.get(var.name, ()):
        if v is var:
            return f.path
    return None
