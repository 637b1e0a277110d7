"""## What it does
Flags an atomic that is loaded in an `if` condition (directly, or through a `let` bound to the
load) and then stored in the branch that condition guards, when that branch does more than
set the flag: a one-shot gate (`if !started.load() { started.store(true); start_worker() }`, or the early-exit form
`if started.load() { return } started.store(true); start_worker()`) that two threads can both
pass.

Rust: `AtomicBool` / `AtomicUsize` / ... `load(..)` then `store(..)`. C++: `std::atomic<T>`
members, globals and locals, `x.load()` / `x` read in the condition, then `x.store(..)` or
`x = ..` in the branch (facts from `lifelint.facts.cpp_atomics`, which `lifelint.facts.cpp`
calls).

## Why is this bad?
Between the load and the store another thread can do the same load, see the same old value and
enter the branch too: two initialisations, two frees, two "first" callers. The seed 003 document's
`begin_free` did exactly this with a plain store after a check, so every concurrent `_free`
"won" and the inner was taken twice; the fix made the flip a single atomic
`compare_exchange(false, true)`.

## Example
```rust
if !self.closed.load(Ordering::Acquire) {
    self.closed.store(true, Ordering::Release);
    self.release_buffers(); // runs twice under a race
}
```

## Use instead
```rust
if self.closed
    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
    .is_ok()
{
    self.release_buffers(); // exactly one caller
}
// or: if !self.closed.swap(true, Ordering::AcqRel) { ... }
```

## Known limits
- Only claims are reported. A claim (C++) needs the check to prove the flag held another value
  on the path to the store (`if (!f)` then `f = true`; `if (s != CLOSED)` then `s = CLOSED`;
  the else branch of `if (f)`), and work after the store that only the winner should do (a call,
  a write, `return true`). Silent: a store that may rewrite the value already there
  (`if (f && x) f = true;`, `if (a || !f) ...`: the condition does not say), a store made after
  the work (a "done" marker: `if (!loaded) { load(); loaded = true; }`, also Rust: `if st == PENDING
  { send()?; st.store(SENT) }`), a check that is itself a compare-exchange done by a function
  the atomic is handed to (`atomic_compare_exchange(flag, 1, 0)`), and a clearing store
  (`if (f) { f = false; ...}`, a single consumer taking a request). Rust reports clearing too,
  and suggests `swap(false)` (not its negation) for it.
- Double-checked locking: an outer check whose store sits under an inner `if` re-reading the
  same atomic is a fast path and is not reported; the inner check is judged on its own, and is
  silent when a lock guard of the same function is held. Guards are known by type name
  (`lock_guard`, `unique_lock`, `scoped_lock`, `MutexLock`, ...); a project's typedef of one
  (`scoped_critical_section_t`) is not recognised yet. Rust: a guard held on every path to the
  check and to the start of the branch (lifelint.facts.rust_cfg), helpers returning a guard
  included; a temporary guard of the `if` condition itself is dropped before the branch.
- A branch that only stores the flag (an idempotent "set if not yet set") is not flagged; nor a
  store of a value computed from variables (`head.wrapping_add(1)`: a single owner advancing its
  index), nor anything in an `unsafe fn` (whose safety contract may require the caller to hold a
  lock).
- The stored atomic must be spelled like the loaded one (`self.closed` and `self.closed`);
  aliases through other references are not followed. C++ atomics are known by name in the file:
  a local or parameter of the same name that is not declared atomic shadows them.
- `while` loops and `match` arms are not examined.

## Measured precision
Tune half of the precision ledger: before this change 0 TRUE / 11 FALSE (cpprest 6, onetbb 4,
rust-hyper 1); after it 1 finding left (cpprest `pplxtasks.h:2878`, check and set under a
typedef'd guard), no TRUE lost. Issue 11's unseen code: 0 / 2 before.
"""

from __future__ import annotations

import re

from lifelint.facts.rust_flow import RMW_METHODS
from lifelint.model import short_name, Level, Precision, Related
from lifelint.registry import Rule
from lifelint.rust_checks import lock_held

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _constant(value: str) -> bool:
    """`true`, `0`, `RUNNING`, `State::Closed as u8`: no local variable in the stored value."""
    for m in _IDENT.finditer(value):
        w = m.group(0)
        if w in ("true", "false", "as", "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize"):
            continue
        if w[0].isupper() or (m.start() > 0 and value[m.start() - 1] in "0123456789"):
            continue
        if w.startswith(("0x", "0b")):
            continue
        return False
    return True


class CheckThenActAtomic(Rule):
    code = "LL206"
    name = "check-then-act-atomic"
    group = "nursery"  # measured: 0 TRUE and 0 FALSE of 0 triaged test-half findings (fewer than 10), but 0 TRUE and 1 FALSE of 1 triaged tune-half findings (fewer than 10)
    languages = ("rust", "cpp")
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "An atomic flag checked with `load` and set with `store` in the branch it guards: two threads can both win."
    tags = ("concurrency", "atomics", "race")
    seeds = ("003",)
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        if facts.language == "rust":
            yield from self._rust(facts)
        elif facts.language == "cpp":
            yield from self._cpp(facts)

    def _rust(self, facts):
        rust = facts.rust
        if rust is None:
            return
        for flow, fn in rust.flows_with_functions():
            if fn.is_unsafe:
                continue  # its safety contract may require the caller to hold a lock
            for c in flow.conds:
                if c.kind != "if":
                    continue
                a, b = c.cond
                loads = [o for o in flow.events_in(a, b, "atomic") if o.name == "load"]
                # `let done = self.done.load(..); if !done { ... }`
                for lc in flow.locals:
                    if lc.kind == "let" and lc.value is not None and lc.span.start_byte < a and flow.uses_in(lc.name, a, b):
                        vals = flow.events_in(lc.value[0], lc.value[1], "atomic")
                        if vals and all(v.name == "load" for v in vals):
                            loads.extend(vals)
                seen = set()
                for ld in loads:
                    if ld.recv in seen:
                        continue
                    branches = [c.body] + ([c.alt] if c.alt is not None else [])
                    # `if flag.load(..) { return; } flag.store(true, ..); act();` guards the rest of the block
                    if flow.exits_in(*c.body) and c.scope_end > c.span.end_byte:
                        branches.append((c.span.end_byte, c.scope_end))
                    stores = [s for lo, hi in branches for s in flow.events_in(lo, hi, "atomic")
                              if s.name == "store" and s.recv == ld.recv and s.closure == ld.closure]
                    if not stores:
                        continue
                    # a one-shot gate stores a constant (`true`, `RUNNING`); storing a value computed
                    # from what was loaded (`head.wrapping_add(1)`) is an owner advancing its index
                    stores = [s for s in stores if _constant(s.args[0] if s.args else "")]
                    if not stores:
                        continue
                    st = stores[0]
                    lo, hi = next(br for br in branches if br[0] <= st.start < br[1])
                    # a compare_exchange / swap on the same atomic before the store is the real
                    # gate; the load was only a fast path (`if state == INCOMPLETE { cas(..) }`)
                    if any(o.kind == "atomic" and o.recv == ld.recv and o.name in RMW_METHODS
                           and lo <= o.start < st.start for o in flow.events):
                        continue
                    # The claim is for the work that follows the store; a store made after the work
                    # (awaited, sent, computed) is a "done" marker: every thread that passed the
                    # check did the work already, and the flag only records it.
                    effects = [e for e in flow.events_in(st.span.end_byte, hi)
                               if not (e.kind == "atomic" and e.recv == ld.recv) and e.closure == ld.closure]
                    if not effects:
                        continue
                    if lock_held(flow, c.span.start_byte) is not None or lock_held(flow, st.start) is not None:
                        continue
                    seen.add(ld.recv)
                    val = st.args[0] if st.args else "..."
                    msg = (f"`{ld.recv}` is checked with `load` here and set with `store({short_name(val, 24)}, ..)` at line "
                           f"{st.span.line} in the branch it guards.")
                    yield self.finding(ld.span, msg, (Related(st.span, "stored here"),),
                                       why="Two threads can both read the old value and both run the branch.",
                                       fix=f"Make the check and the set one step: {_rust_fix(ld.recv, val)}.")

    def _cpp(self, facts):
        cpp = facts.cpp
        items = cpp.extra.get("atomic_check_then_act") if cpp is not None else None
        if not items:
            return
        for it in items:
            # `if (flag) { flag = false; ... }` consumes a request (a signal handler's flag read by
            # one loop); the two-winner hazard is claiming: setting what the check saw unset.
            if it.value.strip() in ("false", "0", "nullptr", "NULL"):
                continue
            # A claim needs both: the check proves the flag held another value (so the store
            # changes it), and exclusive work follows the store. A store that may rewrite the value
            # already there, or that comes after all the work (a "done" marker), claims nothing.
            if it.claims is not True or not it.work_after:
                continue
            msg = f"Atomic `{it.name}` is checked here and set at line {it.store.line} in the code the check guards."
            yield self.finding(it.load, msg, (Related(it.store, "stored here"),),
                               why=f"Two threads can both read the old value before `{it.store_text}`, and both go on.",
                               fix=f"Make the check and the set one step: {_cpp_fix(it.name, it.value)}.")


_FALSE_VALUES = ("false", "0", "nullptr", "NULL", "None")


def _cpp_fix(name: str, value: str) -> str:
    if value == "true":
        return f"`if (!{name}.exchange(true)) {{ ... }}` or `{name}.compare_exchange_strong(expected = false, true)`"
    return (f"`{name}.compare_exchange_strong(expected, {value})` with `expected` the value the check "
            f"wants, and act only if it succeeded")


def _rust_fix(recv: str, val: str) -> str:
    """The one-step form of the check and set. Clearing (`store(false)`) is the mirror of setting:
    `swap(false)` returns `true` to the one caller that cleared it, so it must not be negated."""
    if val == "true":
        return f"`!{recv}.swap(true, ..)` or `{recv}.compare_exchange(false, true, ..).is_ok()`"
    if val == "false":
        return f"`{recv}.swap(false, ..)` (true only for the caller that cleared it) or `{recv}.compare_exchange(true, false, ..).is_ok()`"
    return f"`{recv}.compare_exchange(<old>, {val}, ..).is_ok()`"
