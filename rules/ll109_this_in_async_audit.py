"""## What it does
The audit half of LL102: flags a callback handed to an async sink (`post`, `dispatch`, `async_*`,
timers, threads kept past the call, `std::async`, a callee that keeps the callback beyond the
call: see LL102) that holds a raw `this`, when nothing in the project says either way whether
the object can die before the callback runs. LL102 reports the same callbacks when there is
positive evidence that it can (a shared-owned class, a class that deletes itself, a raw pointer
from a shared_ptr); this rule reports the rest, for a review of
every place an object's lifetime is tied to queued work by convention only.

## Why is this bad?
The callback runs later, on another thread or after the current call stack unwound. If whoever
owns the object destroys it first (resets a `unique_ptr`, ends a session, returns from a scope),
the callback dereferences a dangling `this`. Often the code is right by a convention the
analysis cannot see (the owner stops the executor first); an audit finds the places where that
convention is all there is. In seed 000 a disk I/O backend posted `[..., this]` lambdas to the
session's io_context, and only the session's teardown order kept the backend alive.

## Example
```cpp
void cache::refresh_later() {
    m_pool->post([this] { reload(); });   // who guarantees `*this` outlives the pool's work?
}
```

## Use instead
Tie the callback to the object's lifetime (`shared_from_this()`, a `weak_ptr` checked in the
callback), or make the object own the executor and stop and join it before it dies:
```cpp
cache::~cache() { m_pool.stop(); m_pool.join(); }  // m_pool held by value: queued work ends first
```

## Known limits
- Not reported when the class owns the executor, pool, strand, timer, socket or thread the
  callback goes to (by value or `unique_ptr`) and its teardown stops, cancels, joins or waits it
  (the destructor, a `stop()`/`shutdown()`/`close()`-like method an owner calls before deleting
  it, or what those call); when the class runs its own event loop on the caller's thread and owns
  no thread; when a `std::async` future is kept in a member; when the function waits for the
  callback itself (`future.get()`, an event's `wait()`, a join). The remaining protections of LL102
  apply too.
- Opt-in (nursery): on code nobody here had read, most raw-`this` callbacks without evidence of
  early death were safe by such conventions (issue 11's triage: LL102 1 true / 37 false before
  the split).

## Measured precision
Not measured on the precision ledger's test half yet; opt-in until it is.
"""

from __future__ import annotations

from lifelint.model import Level, Precision
from lifelint.registry import Rule
from lifelint.sinks import owned_sink_stopped

from lifelint.rules.ll102_this_captured_in_async import _this_vouched_for, candidates, early_death_evidence, finding_for


class ThisInAsyncAudit(Rule):
    code = "LL109"
    name = "this-in-async-audit"
    group = "nursery"
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.LOW
    summary = "A callback handed to an async sink holds a raw `this`, and nothing shows what keeps the object alive."
    tags = ("correctness", "lifetime", "concurrency", "audit")
    seeds = ("000", "001")
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        for cand in candidates(self, facts, index):
            if early_death_evidence(cand, index) is not None:
                continue  # LL102's
            if _this_vouched_for(cand.flow, cand.fn, index, cand.sink, lam_idx=cand.lam_idx, binder=cand.binder):
                continue
            if owned_sink_stopped(cand.flow, cand.fn, index, cand.sink):
                continue
            yield finding_for(self, cand, None)
