"""## What it does
Flags a plain `bool` (or `volatile bool`) member or global written on one thread and read or
written on another at the same time, with no lock that every access holds, when the thread
model (`lifelint.threads`) shows both threads: an unlocked write reached from one thread root
(`main`, a `std::thread` / `pthread_create` / `std::async` entry, a pool task, a function
exported to another language: SWIG `%extend`/`%inline`, `extern "C"` in a library, Rust
`#[no_mangle]` / `extern "C"`, any host thread can call them, see LL202 for when a `main` in the
tree makes one program-internal) and another access reached from a root that can run at the same time, not ordered by
a spawn, a join, a handshake or a destroyed worker (whose destructor joins), and not written during the
program's single-threaded start (before `main` starts any thread). A signal handler alone is no
second thread. For a member, one of the two roots must be started by the class itself (threads
that each use their own object are no evidence of sharing one). The message names both roots
and both accesses. A flag set in a callback that runs on a worker (a handler posted to a thread
pool, work handed to `std::async` or a pool's `enqueue`/`submit`) and read on another thread is
one too, whatever its name; waiting for that work (`get()` on its future, `join()` on the pool)
before the read orders the two.

Flags with weaker evidence (a loop that sleeps while polling it, a stop-like name in a class
that has a mutex or starts threads, one side in code no thread root reaches) are LL209's
(`cross-thread-flag-audit`, opt-in).

The finding is on the declaration; related locations show the two accesses and the roots.
`std::atomic<bool>`, however it is declared (`auto f = std::atomic<bool>{}`, `static inline
auto`), is never reported.

Rust: a `static mut` stop flag that the thread model shows on two threads, or a plain `bool`
shared with a spawned thread through a raw pointer or `UnsafeCell`. (A `Cell<bool>` /
`UnsafeCell<bool>` field of a type declared `Sync` by hand is LL209's.)

## Why is this bad?
A plain `bool` written by one thread and read by another is a data race: undefined behaviour.
In practice the reader may never see the write (the compiler hoists the load out of the loop),
or see it before the data it is meant to publish. `volatile` does not help: it neither makes
the access atomic nor orders it. In seed 001, `memory_disk_io::abort()` set `bool m_abort = true`
with no synchronisation while io threads could be checking it.

## Example
```cpp
class disk_io {
    std::mutex m_mutex;
    bool m_abort = false;
public:
    void abort(bool) { m_abort = true; }      // read by worker threads
};
```

## Use instead
```cpp
std::atomic<bool> m_abort{false};
void abort(bool) { m_abort.store(true, std::memory_order_release); }
```
(`std::atomic_flag`, or only ever touching the flag with the same mutex held, also work.)

## Known limits
- Only what the thread model sees: calls resolved by name and declared type, threads started by
  known calls. A handler posted to an event loop (`io_context`) is taken to run on the loop's
  own thread, not on the worker thread that calls its `run()`; a callback stored in a member and
  called inside the class by its bare name (`on_done()`) is not followed to the lambda assigned
  to it from outside. A flag whose other thread is reached through a virtual call or a callback
  registered with a library is LL209's at most.
- Accesses are matched by name within the class's methods (and, for globals, any function);
  a flag written through a pointer or reference from outside the class is not seen.
- "A lock every access holds" counts the locks a function's callers hold: every call site in the
  scan holding it, `REQUIRES(mu)` on the definition or the declaration, a "called with mu held"
  comment (lifelint.locking `LockingIndex.held`, the fact LL101 and LL203 ask too). The
  object's own destructor reading a member flag needs no lock (no other thread may use an
  object while it is destroyed); a destructor that writes it (`quit_ = true;` before a join)
  still breaks the discipline.
- For stop-named flags, "shared across threads" is judged from the class's own fields and
  methods (and its bases when they are in the project), not from how objects are used; the
  poll and thread-model evidence follow code, not objects (two objects of one class count as one). A class that declares itself
  confined to one thread (a `single_threaded` / ThreadChecker-like base, or methods asserting
  `is_single_thread()`) is trusted.
- Lambdas that run synchronously under a lock (condition-variable predicates, algorithms) count
  as holding it; other lambdas hold only the locks they take themselves.
- A flag set during the program's single-threaded start (in `main` before its first thread, or
  in a helper or constructor only run there, however deep: the thread model's `prethread`) is
  initialisation, not a cross-thread flag; a flag set by a thread before it starts the threads
  that read it is ordered with them and with the threads they start. Both follow resolved calls
  only (see LL202's limits): a flag set in the `else` of the branch that starts the threads, or
  by a lazily initialised singleton first called at start-up, is still reported.
- A handshake orders the write with the other access as in LL202 (its limits apply): a release of
  one sync object after the write, an acquire of the same object that succeeded before the
  other access. A timed wait whose result is ignored (`m_wake.try_acquire_for(100ms); if
  (m_quit) ..`) orders nothing; the branch where it got the signal is ordered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.sinks import _short, call_is_async_sink, lambda_sink
from lifelint.locking import WILDCARD, locking_index
from lifelint.model import Finding
from lifelint.threads import describe, thread_model
from lifelint.rust_checks import fn_label, static_target

STOP_WORDS = frozenset({
    "stop", "stopped", "stopping", "abort", "aborted", "aborting", "cancel", "cancelled", "canceled", "cancelling",
    "canceling", "quit", "quitting", "shutdown", "exit", "exiting", "exited", "done", "running", "terminate",
    "terminated", "terminating", "halt", "halted", "halting",
})
_QUALS = re.compile(r"\b(volatile|mutable|static|inline|constinit)\b")
_THREAD_TYPE = re.compile(r"\b(std::|boost::)?(thread|jthread|thread_group)\b(?!::)|condition_variable|\bfuture\b")
# A class that checks it is only used from one thread (libtorrent's `single_threaded`, Chromium's
# ThreadChecker / SequenceChecker, ...): its members are confined to that thread.
_CONFINED_BASE = re.compile(r"single_?thread|thread_?checker|sequence_?checker|non_?thread_?safe|thread_?confined|thread_?affine", re.I)
_CONFINED_CALL = re.compile(r"^(is_single_thread|CalledOnValidThread|CalledOnValidSequence|IsCurrentThread|assert_single_thread|check_thread|DCHECK_CALLED_ON_VALID_(THREAD|SEQUENCE))$")


def name_words(name: str) -> list[str]:
    parts = re.split(r"_+|(?<=[a-z0-9])(?=[A-Z])", name)
    return [p.lower() for p in parts if p]


def is_stop_name(name: str) -> bool:
    words = name_words(name)
    if any(w in STOP_WORDS for w in words):
        return True
    return any(a == "shut" or a == "shutting" for a in words) and "down" in words


def is_plain_bool(v) -> bool:
    if v.pointer_depth or v.is_reference or v.is_atomic or v.is_const:
        return False
    t = _QUALS.sub(" ", v.type).replace(" ", "")
    return t == "bool"


def thread_confined(index, class_name: str) -> bool:
    """True when the class (or a base) declares itself confined to one thread."""
    cache = index.memo("ll201.confined", lambda _ix: {})
    if class_name in cache:
        return cache[class_name]
    found = False
    todo, seen = [class_name], set()
    while todo and not found:
        c = todo.pop()
        if c in seen or len(seen) > 16:
            continue
        seen.add(c)
        for _f, k in index.cpp_classes.get(c, []):
            bases = [_short(b) for b in k.bases]
            if any(_CONFINED_BASE.search(b) for b in bases):
                found = True
                break
            todo.extend(bases)
    if not found:
        for _f, fn in index.methods_of(class_name):
            if fn.flow is not None and any(_CONFINED_CALL.match(c.name) for c in fn.flow.calls):
                found = True
                break
    cache[class_name] = found
    return found


def _posted_write(index, class_name: str, flag: str) -> str | None:
    """A callback handed to an executor (`post`, `dispatch`, ...) that writes `flag`: the write
    happens on the executor's thread, the reads in whoever calls the class."""
    for _f, fn in index.methods_of(class_name):
        flow = fn.flow
        if flow is None or not flow.lambdas:
            continue
        for li in range(len(flow.lambdas)):
            writes = [u for u in flow.uses if u.name == flag and u.access in ("write", "update")
                      and _inside_lambda(flow, u.lambda_index, li)]
            if not writes:
                continue
            sink = lambda_sink(flow, li, fn, index, getattr(index, "settings", None))
            if sink is not None and _posts(flow.calls[sink.call], index):
                return f"`{fn.name}` posts a callback that writes it with `{flow.calls[sink.call].callee}`"
    return None


def _inside_lambda(flow, li: int | None, target: int) -> bool:
    while li is not None:
        if li == target:
            return True
        li = flow.lambdas[li].parent
    return False


def _shared_evidence(index, class_name: str) -> str | None:
    """Why a class is shared across threads, or None."""
    cache = index.memo("ll201.shared", lambda _ix: {})
    if class_name in cache:
        return cache[class_name]
    why = None
    todo, seen = [class_name], set()
    while todo and why is None:
        c = todo.pop()
        if c in seen or len(seen) > 16:
            continue
        seen.add(c)
        for _f, k in index.cpp_classes.get(c, []):
            for v in [*k.fields, *k.static_members]:
                t = v.type.replace(" ", "")
                # An atomic member alone is no evidence: counters and caches are atomics too.
                if v.is_mutex:
                    why = f"it has the mutex `{v.name}`"
                elif _THREAD_TYPE.search(t) and not v.pointer_depth:
                    why = f"it has `{v.name}` ({v.type})"
                if why:
                    break
            if why:
                break
            todo.extend(_short(b) for b in k.bases)
    if why is None:
        for _f, fn in index.methods_of(class_name):
            if fn.flow is None:
                continue
            for c in fn.flow.calls:
                if _runs_on_another_thread(c, index):
                    why = f"`{fn.name}` hands work to another thread with `{c.callee}`"
                    break
                if c.name in ("thread", "jthread") and c.kind in ("construct", "call", "new") and c.callee.split("<")[0] in ("std::thread", "std::jthread", "boost::thread", "thread", "jthread"):
                    why = f"`{fn.name}` starts a thread"
                    break
            if why:
                break
    cache[class_name] = why
    return why


def _posts(call, index) -> bool:
    """Explicitly hands work to an executor or thread (post / dispatch / defer / co_spawn /
    std::async / a configured sink). I/O completion handlers (`async_read`, `async_wait`) alone
    are not counted: they continue on the executor that started them."""
    if call_is_async_sink(call, getattr(index, "settings", None)) is None:
        return False
    return not call.name.startswith("async_") or call.name in _extra_sinks(index)


def _runs_on_another_thread(call, index) -> bool:
    """`std::async` or a configured sink. Posting to an io_context (`post`, `dispatch`, `defer`,
    `co_spawn`) is not evidence by itself: an io_context run by one thread serialises its
    handlers, the common asio design; a class whose handlers run on several threads shows it with
    a mutex, an atomic or a thread of its own."""
    if not _posts(call, index):
        return False
    return (call.name == "async" and call.callee.replace(" ", "").startswith(("std::async", "async"))) or call.name in _extra_sinks(index)


def _extra_sinks(index) -> set[str]:
    cpp = getattr(getattr(index, "settings", None), "cpp", None)
    return {s.split("::")[-1].split(".")[-1] for s in (getattr(cpp, "async_sinks", None) or [])}


def _file_evidence(index, f) -> str | None:
    cache = index.memo("ll201.file_shared", lambda _ix: {})
    if f.path in cache:
        return cache[f.path]
    why = None
    for g in f.cpp.globals:
        if g.is_mutex:
            why = f"`{f.path}` has the mutex `{g.name}`"
            break
    if why is None:
        for fn in f.cpp.functions:
            if fn.flow is None:
                continue
            for c in fn.flow.calls:
                if _posts(c, index) or (c.name in ("thread", "jthread") and c.callee.startswith(("std::", "boost::"))):
                    why = f"`{fn.name}` in `{f.path}` starts a thread or posts callbacks"
                    break
            if why:
                break
    cache[f.path] = why
    return why


# Calls that wait inside a polling loop: the loop expects another thread to change its condition.
SLEEP_CALLS = frozenset({"sleep_for", "sleep_until", "usleep", "sleep", "Sleep", "SleepEx", "nanosleep", "msleep",
                         "yield", "sched_yield", "wait", "wait_for", "wait_until", "pause", "processEvents"})


def _poll_evidence(index, accesses) -> str | None:
    """A read of the flag in a loop that sleeps or waits, where the loop itself never writes it:
    the loop waits for another thread to change it, whatever the flag is called. A write the
    thread model orders before the polling thread starts (or after it ends) does not count."""
    li, tm = locking_index(index), thread_model(index)

    def ordered(wfn, w, fn, u) -> bool:
        flw, flr = li.of(wfn), li.of(fn)
        if flw is None or flr is None:
            return False
        roots = tm.roots_at(flr, u.lambda_index)
        if not roots:
            return False
        if tm.prethread(flw, w.lambda_index, w.span.start_byte):
            return True  # set while the program starts, before any thread: see ThreadModel.prethread
        phase = tm.ordered(flw, w.lambda_index, w.span.start_byte)
        return all(r in phase for r in roots)

    writes = [(fn, u) for _f, fn, u in accesses if u.access in ("write", "update")]
    if not writes:
        return None
    for _f, fn, u in accesses:
        if u.access != "read" or fn.flow is None:
            continue
        flow = fn.flow
        for sc in flow.scopes:
            if sc.kind not in ("while", "for", "do") or sc.lambda_index != u.lambda_index:
                continue
            a, b = sc.span.start_byte, sc.span.end_byte
            if not a <= u.span.start_byte < b:
                continue
            if any(wfn is fn and a <= w.span.start_byte < b for wfn, w in writes):
                continue
            if not any((wfn is not fn or not a <= w.span.start_byte < b) and not ordered(wfn, w, fn, u)
                       for wfn, w in writes):
                continue
            sleep = next((c for c in flow.calls if c.name in SLEEP_CALLS and a <= c.span.start_byte < b
                          and c.lambda_index == u.lambda_index), None)
            if sleep is not None:
                return (f"`{fn.name}` polls it in a loop that waits (`{sleep.callee}`), so another thread is "
                        "expected to change it")
    return None


@dataclass
class FlagRace:
    """Positive evidence that two threads touch a flag: an unlocked write reached from one
    thread root and another access reached from a root that can run at the same time."""

    write: object  # locking.Access
    other: object  # locking.Access
    roots: tuple  # (root of the write, root of the other); None only outside the precise part


def _race(index, var, known_only: bool) -> FlagRace | None:
    """The thread model shows an unlocked write and another access on two threads (both
    reached from a root when `known_only`)."""
    table = index.memo("ll201.accesses", _accesses_by_var)
    items = table.get(id(var))
    if not items:
        return None
    tm = thread_model(index)
    for w in items:
        if not w.write or w.fn.held_at(w.held, w.lambda_index, w.span.start_byte):
            continue
        for o in items:
            if o is w or (o.fn is w.fn and o.lambda_index == w.lambda_index):
                continue
            if o.fn.held_at(o.held, o.lambda_index, o.span.start_byte) & w.fn.held_at(w.held, w.lambda_index, w.span.start_byte):
                continue
            ev = tm.may_race(w.fn, w.lambda_index, w.span.start_byte, o.fn, o.lambda_index, o.span.start_byte,
                             known_only=known_only)
            if ev is not None:
                ra, rb = ev
                if var.kind == "field" and not any(r is not None and r.cls == var.owner for r in (ra, rb)):
                    continue  # threads that each use their own object of the class: no evidence of sharing one
                return FlagRace(w, o, ev)
    return None


def _race_evidence(index, var) -> str | None:
    """The audit part's wording of a race the thread model shows (one side may be code no root
    reaches)."""
    r = _race(index, var, known_only=False)
    if r is None:
        return None
    (ra, rb), w, o = r.roots, r.write, r.other
    return (f"`{w.fn.label}` writes it on {describe(ra)} while `{o.fn.label}` "
            f"{'writes' if o.write else 'reads'} it on {describe(rb)}")


def _accesses_by_var(index) -> dict:
    out: dict = {}
    for fl in locking_index(index).functions:
        if fl.fn.is_ctor:
            continue
        for a in fl.accesses:
            if a.var is not None:
                out.setdefault(id(a.var), []).append(a)
    return out


def _before_threads(fn, u, index) -> bool:
    """An access during the program's single-threaded start (in `main` before it starts any
    thread or posts anything, or in a helper or constructor only run there): initialisation, not
    a flag another thread watches (the thread model's fact, ThreadModel.prethread)."""
    fl = locking_index(index).of(fn)
    return fl is not None and thread_model(index).prethread(fl, u.lambda_index, u.span.start_byte)


def _global_accesses(index):
    """global name -> [(file, function, use)] for uses that may name a global."""
    def build(ix):
        out: dict[str, list] = {}
        for f in ix.files:
            if f.cpp is None:
                continue
            for fn in f.cpp.functions:
                if fn.flow is None:
                    continue
                for u in fn.flow.uses:
                    if u.kind in ("global", "unknown"):
                        out.setdefault(u.name.split("::")[-1], []).append((f, fn, u))
        return out
    return index.memo("ll201.global_accesses", build)


@dataclass
class FlagVerdict:
    """One plain-bool flag of a file with an unlocked write and some evidence it crosses threads:
    `race` is positive evidence (LL201), `why` the weaker kinds (LL209, the audit part)."""

    var: object
    owner: str  # "member of `C`" / "global"
    stop: bool
    writes: list  # [(facts, fn, use)]
    race: FlagRace | None
    why: str | None


def flag_verdicts(facts, index) -> list[FlagVerdict]:
    """The C++ flags of `facts` either part reports (computed once, read by LL201 and LL209)."""
    return index.memo(f"ll201.verdicts:{facts.path}", lambda ix: list(_flag_verdicts(facts, ix)))


def _flag_verdicts(facts, index):
    for k in facts.cpp.classes:
        for v in k.fields + k.static_members:
            if not is_plain_bool(v):
                continue
            stop = is_stop_name(v.name)
            accesses = []
            for f, fn in index.methods_of(k.name):
                if fn.flow is None or fn.is_ctor:
                    continue
                for u in fn.flow.uses:
                    if u.name == v.name and u.kind in ("member", "unknown", "global"):
                        accesses.append((f, fn, u))

            def evidence(v=v, k=k, stop=stop, accesses=accesses):
                if thread_confined(index, k.name):
                    return None, None
                race = _race(index, v, known_only=True)
                if race is not None:
                    return race, None
                why = _poll_evidence(index, accesses) or _race_evidence(index, v)
                if why is None and stop:
                    why = _shared_evidence(index, k.name) or _posted_write(index, k.name, v.name)
                return None, why

            got = _judge(index, v, accesses, evidence, f"member of `{k.name}`", stop)
            if got is not None:
                yield got
    for v in facts.cpp.globals:
        if v.kind not in ("global",) or v.is_thread_local or not is_plain_bool(v):
            continue
        stop = is_stop_name(v.name)
        accesses = [(f, fn, u) for f, fn, u in _global_accesses(index).get(v.name, [])
                    if not fn.is_ctor and not _before_threads(fn, u, index)]

        def evidence(v=v, stop=stop, accesses=accesses):
            race = _race(index, v, known_only=True)
            if race is not None:
                return race, None
            why = _poll_evidence(index, accesses) or _race_evidence(index, v)
            if why is None and stop:
                for f, _fn, u in accesses:
                    if u.access in ("write", "update"):
                        why = _file_evidence(index, f)
                        if why:
                            return None, why
                why = _file_evidence(index, facts)
            return None, why

        got = _judge(index, v, accesses, evidence, "global", stop)
        if got is not None:
            yield got


def _judge(index, v, accesses, evidence, owner: str, stop: bool = True) -> FlagVerdict | None:
    writes = [(f, fn, u) for f, fn, u in accesses if u.access in ("write", "update")]
    if not writes:
        return None
    # The locks held at each access: its own, and those its callers hold (every call site,
    # annotations, "called with mu_ held" comments, a guard handed in): lifelint.locking.
    li = locking_index(index)
    common = None
    by_caller = 0
    for f, fn, u in accesses:
        if fn.is_dtor and u.kind == "member" and u.access not in ("write", "update"):
            continue  # the object's own destructor owns it: its reads need no lock (a write still does)
        held = li.held(fn, u)
        if held is None:
            held = {m for i in u.locks for m in fn.locks[i].mutexes}
        if WILDCARD in held and u.lambda_index is None:
            by_caller += 1  # the caller holds a lock we cannot name: compatible with any
            continue
        common = set(held) if common is None else common & held
    if common or (common is None and by_caller):
        return None
    race, why = evidence()
    if race is None and why is None:
        return None
    return FlagVerdict(v, owner, stop, writes, race, why)


FIX = ("Make it `std::atomic<bool>` (store with release, load with acquire), or access it only while holding "
       "one mutex.")


def _at(access) -> str:
    return f"{access.fn.path}:{access.span.line}"


def precise_finding(rule, fv: FlagVerdict):
    """LL201: both threads and both accesses named."""
    v, r = fv.var, fv.race
    w, o, (ra, rb) = r.write, r.other, r.roots
    kind = "volatile bool" if "volatile" in v.type else "bool"
    other = "written" if o.write else "read"
    headline = (f"Plain `{kind}` `{v.name}` is written unlocked in `{w.fn.label}` and {other} in `{o.fn.label}` on "
                "another thread.")
    why = (f"`{w.fn.label}` writes it at {_at(w)} on {describe(ra)}; `{o.fn.label}` {'writes' if o.write else 'reads'} "
           f"it at {_at(o)} on {describe(rb)}, and no common lock, spawn, join or handshake orders the two. The other "
           "thread may never see the change, or see it before the data it was meant to publish (a data race).")
    related = [Related(w.span, f"`{v.name}` written here with no lock (`{w.fn.label}`)", w.fn.path),
               Related(o.span, f"`{v.name}` {other} here (`{o.fn.label}`)", o.fn.path)]
    seen = []
    for root in (ra, rb):
        if root is not None and not any(root is x for x in seen):
            seen.append(root)
            related.append(Related(root.span, f"thread root: {root.what}", root.path))
    return rule.finding(v.name_span, headline, related, why=why, fix=FIX)


def audit_finding(rule, fv: FlagVerdict):
    """LL209: the flag with weaker evidence (a poll loop, a stop-like name in a shared class)."""
    v = fv.var
    f0, fn0, u0 = next(((f, fn, u) for f, fn, u in fv.writes if not u.locks), fv.writes[0])
    others = len(fv.writes) - 1
    more = f" (and {others} other write{'s' if others > 1 else ''})" if others else ""
    kind = "volatile bool" if "volatile" in v.type else "bool"
    role = "stop flag" if fv.stop else "flag"
    headline = f"`{v.name}` is a plain `{kind}` {fv.owner} used as a cross-thread {role}."
    why = (f"{fv.why[0].upper()}{fv.why[1:]}; `{fn0.qualname}` writes it at {f0.path}:{u0.span.line}{more} with no lock "
           "that every access holds. If another thread reads it, it may never see the change or see it out of order; "
           "no thread root shown by the analysis reaches both sides, so this is for review.")
    related = [Related(u.span, f"`{v.name}` written here by `{fn.name}`" + (" without a lock" if not u.locks else ""), f.path)
               for f, fn, u in fv.writes[:3]]
    return rule.finding(v.name_span, headline, related, why=why, fix=FIX)


class NonAtomicStopFlag(Rule):
    code = "LL201"
    name = "non-atomic-stop-flag"
    group = "nursery"  # measured: precision 0.36 over 14 triaged test-half findings (unchanged in session 7; 0.31 over 13 at the start of session 6)
    languages = ("cpp", "rust")
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A plain bool flag is written on one thread and read on another, with no atomic or common lock."
    tags = ("correctness", "concurrency", "data-race")
    seeds = ("001",)

    def check(self, facts, index):
        if facts.language == "rust":
            for precise, (msg, span, related, because, fix) in rust_flag_findings(facts, index):
                if precise:
                    yield self.finding(span, msg, related, why=because, fix=fix)
            return
        for fv in flag_verdicts(facts, index):
            if fv.race is not None:
                yield precise_finding(self, fv)


# Rust names its flags with a few more words (`alive`, `kill`, `finished`).
RUST_STOP_WORDS = STOP_WORDS | {"kill", "killed", "finish", "finished", "closing", "alive"}


def _rust_stop_name(name: str) -> bool:
    return any(w in RUST_STOP_WORDS for w in name_words(name))


# --- Rust -----------------------------------------------------------------------------------------

def rust_flag_findings(facts, index) -> Iterator[tuple[bool, tuple]]:
    """(precise, finding): precise when the thread model puts a write and another access on two
    known threads, or a spawned thread holds a raw pointer to the flag."""
    rust = facts.rust
    if rust is None:
        return
    # (a) `static mut STOP: bool` written in a function where the thread model (LL202's races)
    # shows another thread, or from an `extern` function (a signal or C callback)
    from .ll202_unsynchronized_global import rust_races
    for st in rust.statics:
        if not st.is_mut or st.is_const_item or st.type.replace(" ", "") not in ("bool", "Cell<bool>"):
            continue
        if not _rust_stop_name(st.name):
            continue
        writers = []
        for f in index.files:
            if f.rust is None:
                continue
            for flow in f.rust.flows:
                for e in flow.events:
                    if e.kind == "assign" and static_target(e.recv) == st.name and not flow.local(st.name, e.start):
                        writers.append((f, f.rust.functions[flow.fn], e))
        if not writers:
            continue
        handler = any(fn.abi is not None for _, fn, _ in writers)
        race = rust_races(index).get(id(st))
        why = ""
        precise = race is not None and race.known
        if race is not None:
            ra, rb = race.roots
            why = f"another thread can touch it: {describe(ra) if ra is not None else describe(rb)}"
        elif handler:
            why = "it is set from an `extern` function (a signal or C callback)"
        if not why:
            continue
        wf, wfn, we = writers[0]
        msg = f"Stop flag `static mut {st.name}: {st.type}` is set in {fn_label(wfn)} and read by other code."
        because = (f"A plain `bool` gives no cross-thread visibility or ordering ({why}); the loop polling it may never "
                   "see the change, and the access is a data race (UB).")
        fix = f"Use `static {st.name}: AtomicBool` with `store(true, Release)` / `load(Acquire)`."
        related = [Related(we.span, "written here", None if wf is facts else wf.path)]
        yield precise, (msg, st.name_span, tuple(related), because, fix)
    # (b) a bool field named like a stop flag in a type shared across threads by `unsafe impl Sync`
    for s in rust.structs:
        # the impl must be in the same file: type names repeat across modules
        sync = [im for im in rust.impls if im.type == s.name and im.is_unsafe and im.trait == "Sync"]
        if not sync:
            continue
        for (fname, ftype), span in zip(s.fields, s.field_spans):
            t = ftype.replace(" ", "")
            if t not in ("bool", "Cell<bool>", "UnsafeCell<bool>", "core::cell::UnsafeCell<bool>",
                         "std::cell::UnsafeCell<bool>", "std::cell::Cell<bool>") or not _rust_stop_name(fname):
                continue
            msg = f"Stop flag `{s.name}::{fname}: {ftype}` is not atomic, in a type declared `Sync` by hand."
            because = ("One thread can set it while another polls it with no synchronisation: a data race, and the "
                       "poller may never see the change.")
            fix = "Make it an `AtomicBool` (store with `Release`, load with `Acquire`)."
            yield False, (msg, span, (Related(sync[0].span, "shared across threads by this impl"),), because, fix)  # no thread seen: audit
    # (c) a local bool whose raw pointer is handed to a spawned thread
    for flow in rust.flows:
        spawn_bodies = [c for c in flow.closures if not c.is_async and c.callee.rsplit("::", 1)[-1] in ("spawn", "spawn_blocking", "scope")]
        if not spawn_bodies:
            continue
        for lc in flow.locals:
            if lc.kind != "let" or not _rust_stop_name(lc.name):
                continue
            if not (lc.type.replace(" ", "") == "bool" or lc.value_text in ("false", "true")):
                continue
            ptrs = [o for o in flow.locals if o.kind == "let" and o.value is not None and o.span.start_byte > lc.span.start_byte
                    and flow.uses_in(lc.name, o.value[0], o.value[1])
                    and ("as*mut" in o.value_text or "as*const" in o.value_text or "addr_of" in o.value_text)]
            names = {p.name for p in ptrs}
            # one level of wrapping: `let shared = SendPtr(p);`
            for o in flow.locals:
                if o.kind == "let" and o.value is not None and any(flow.uses_in(n, o.value[0], o.value[1]) for n in list(names)):
                    names.add(o.name)
            for c in spawn_bodies:
                hit = next((n for n in names if flow.uses_in(n, c.body[0], c.body[1])), None)
                if hit is None:
                    continue
                msg = f"Stop flag `{lc.name}` is a plain `bool` shared with a spawned thread through raw pointer `{hit}`."
                because = ("Writes on one side are a data race with reads on the other, and the thread may spin "
                           "forever on a cached value.")
                yield True, (msg, lc.span, (Related(c.span, "the thread that reads it"),), because,
                             "Share an `Arc<AtomicBool>` instead.")
                break
