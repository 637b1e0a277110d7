"""## What it does
Flags the teardown of an object that queues work holding its raw `this` (posts callbacks to an
executor, arms timers, starts async operations, hands lambdas to threads) when that teardown
neither drains, cancels, joins nor stops any of it: the destructor, or the `abort()`/`stop()`/
`shutdown()`/`close()`-like method an owner calls before destroying the object, and what those
call on `this`. Also flags such a teardown that takes a `wait`-like flag (`abort(bool wait)`)
and never reads it: the caller asked it to wait for pending work and it returns at once.

## Why is this bad?
Queued callbacks run after the teardown returns, and the owner destroys the object right
after: each callback then runs on a dead `this`. In seed 001 a storage backend's `abort(bool
wait)` only set a flag (and ignored `wait`) while reads it had posted with `this` were still
queued on the session's io_context; the session destroyed the backend next.

## Example
```cpp
void disk_io::async_read(int piece, handler h) {
    post(m_ioc, [this, piece, h] { h(read_piece(piece)); });
}
void disk_io::abort(bool wait) { m_abort = true; }   // returns with reads still queued
```

## Use instead
Make the teardown wait for (or cancel) what was queued: count pending operations and wait for
the count to reach zero, stop and join the executor the object owns, cancel its timers, or keep
the object alive from the callbacks (`shared_from_this()`):
```cpp
void disk_io::abort(bool wait) {
    m_abort = true;
    if (wait) { std::unique_lock l(m_mutex); m_idle.wait(l, [&] { return m_pending == 0; }); }
}
```

## Known limits
- A teardown counts as draining when it, or a method of `this` it calls, makes any
  stop/join/cancel/wait-like call (`join`, `stop`, `cancel`, `wait`, `get`, `shutdown`, `close`,
  `reset`, `request_stop`, ...), on anything: whether it waits for the right thing is not checked.
- Callbacks that keep the object alive themselves (`shared_from_this()`, a `weak_ptr`), that
  the posting function waits for, or that LL102's protections cover (a Qt context object that is
  `this`, a composed operation, the class's own joined event loop) do not count as queued work.
- The owner's side is not followed: a teardown method is one the class defines.
- Opt-in (nursery) until measured.

## Measured precision
Not measured on the precision ledger yet.
"""

from __future__ import annotations

import re

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.sinks import STOP_CALLS, teardown_methods

from lifelint.rules.ll102_this_captured_in_async import _this_vouched_for, candidates

# Parameters by which a caller asks the teardown to wait for pending work.
_WAIT_PARAM = re.compile(r"(?i)^(?:wait|block|blocking|sync|synchronous|drain|join|graceful|wait_for_\w+|should_wait)$")
# Calls whose name says they wait for or stop pending work, besides STOP_CALLS.
_DRAIN_NAME = re.compile(r"(?i)wait|drain|join|stop|cancel|flush|quiesce|barrier|sync|shutdown")


class ShutdownWithoutDrain(Rule):
    code = "LL207"
    name = "shutdown-without-drain"
    group = "nursery"  # measured: no test-half findings; 3 TRUE and 1 FALSE of 4 triaged tune-half findings
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.LOW
    summary = "A teardown returns while callbacks the object queued with its raw `this` can still run."
    tags = ("correctness", "lifetime", "concurrency")
    seeds = ("001",)
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        posted: dict[str, list] = {}  # class -> callbacks queued with a raw `this`
        for cand in candidates(self, facts, index):
            # Work something else vouches for (a Qt context object that drops it, a composed
            # operation's caller, the class's own joined loop) is not left behind by a teardown.
            if cand.fn.class_name and not cand.from_get and not _this_vouched_for(
                    cand.flow, cand.fn, index, cand.sink, lam_idx=cand.lam_idx, binder=cand.binder):
                posted.setdefault(cand.fn.class_name.split("::")[-1], []).append(cand)
        for cls, cands in posted.items():
            teardown = [f for f in teardown_methods(index, cls) if f.body is not None]
            own = [f for f in teardown if (f.class_name or "").split("::")[-1] == cls]
            if not own or any(_drains(f) for f in teardown):
                continue
            where = "; ".join(f"`{c.fn.name}` at line {c.span.line}" for c in cands[:3]) + (" and more" if len(cands) > 3 else "")
            # One finding per class, at the teardown an owner calls (else the destructor).
            for f in sorted(own, key=lambda f: (f.is_dtor, f.span.start_byte)):
                if not any(f is g for g in facts.cpp.functions):
                    continue  # reported in the file that defines it
                ignored = _ignored_wait_param(f)
                kind = "destructor" if f.is_dtor else f"`{f.name}()`"
                msg = f"`{f.qualname}` tears the object down without draining the callbacks it queued with a raw `this`."
                because = f"Callbacks queued with `this`: {where}"
                if ignored:
                    because += f"; it ignores its `{ignored}` parameter"
                because += (f". Once the {kind} returns, the owner may destroy the object while those callbacks are still "
                            "queued, and they run on a dangling `this`.")
                fix = ("Wait for pending work (a counter and a condition variable), stop and join the executor the "
                       "object owns, cancel its timers, or let the callbacks hold `shared_from_this()`.")
                related = [Related(c.span, f"queued here with `this` ({c.sink.what})") for c in cands[:3]]
                yield self.finding(f.name_span, msg, related, why=because, fix=fix)
                break


def _drains(f) -> bool:
    flow = f.flow
    if flow is None:
        return False
    return any(c.name in STOP_CALLS or _DRAIN_NAME.search(c.name) for c in flow.calls)


def _ignored_wait_param(f) -> str | None:
    """The name of a `bool wait`-like parameter the body never reads."""
    for p in f.params:
        if p.name and _WAIT_PARAM.match(p.name) and "bool" in p.type:
            if f.flow is not None and not any(u.name == p.name for u in f.flow.uses):
                return p.name
    return None
