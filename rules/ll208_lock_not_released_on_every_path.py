"""## What it does
Flags a mutex locked by hand (`m.lock()`, `pthread_mutex_lock(&m)`, `EnterCriticalSection`, a
successful `try_lock()`, a call to a helper of the project, in any file, that returns holding it) where some way out of the function (a `return`, a `throw`, falling off
the end) still holds the lock while another way out has released it: the early exit that forgot
its `unlock()`.

The answer comes from the lock-set dataflow (lifelint.facts.cpp_locksets): the lock must be held
on *every* path to the reported exit, and released on every path to some other exit.

## Why is this bad?
The function's contract is evidently "unlock before leaving" (most paths do), so the caller does
not know it must unlock on this one. The next `lock()` from any thread blocks forever (or, on the
same thread, is undefined behaviour for a `std::mutex`). Clang's `-Wthread-safety` reports the
same shape as "mutex is still held at the end of function". The seed 001 review counts
`std::lock_guard` in the async operations as the correct pattern for exactly this reason: a
scoped guard cannot be forgotten on one path; this rule finds the hand-locked code that lacks it.

## Example
```cpp
bool Journal::append(const Entry& e) {
    mu_.lock();
    if (!e.valid())
        return false;  // still holding mu_
    entries_.push_back(e);
    mu_.unlock();
    return true;
}
```

## Use instead
```cpp
bool Journal::append(const Entry& e) {
    std::lock_guard<std::mutex> g(mu_);  // released on every path
    if (!e.valid())
        return false;
    entries_.push_back(e);
    return true;
}
```

## Known limits
- In the nursery group (opt-in: `--extend-select nursery` or `LL208`) until the precision ledger
  has measured it.
- RAII guards are never reported (their destructor releases them), nor `unique_lock::release()`
  hand-offs, nor functions that hold the lock on every exit (acquire wrappers), nor functions
  whose held exits all `return true` (or a non-zero constant) and whose released exits return
  `false` / `0` / `nullptr` (a "try to take it" protocol: the result says whether the caller now
  holds it).
- The lock must be released somewhere on a path that took it (an `unlock()` reached with it held
  on every path): a callback that locks or unlocks depending on its argument (OpenSSL's
  `locking_callback(mode, ...)`) is not reported.
- A callee that unlocks the mutex for the caller is seen when its definition is in the scan (any
  file: lifelint.facts.cpp_lock_effects) and it is called unqualified, on `this`, or on a local
  lock wrapper (a class keeping a reference or pointer to the mutex it was constructed with:
  `Hold h(mu_); h.acquire();` takes `mu_`); a function with a `goto` is not examined.

## Measured precision
Not measured yet (new in this round; opt-in).
"""

from __future__ import annotations

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule


class LockNotReleasedOnEveryPath(Rule):
    code = "LL208"
    name = "lock-not-released-on-every-path"
    languages = ("cpp",)
    level = Level.WARNING
    group = "nursery"  # measured: no test-half findings; 1 TRUE and 2 FALSE of 3 triaged tune-half findings
    precision = Precision.MEDIUM
    summary = "A mutex locked by hand is released on some ways out of the function but still held on another."
    tags = ("concurrency", "deadlock")
    seeds = ()
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        cpp = facts.cpp
        if cpp is None:
            return
        for fn in cpp.functions:
            flow = fn.flow
            if flow is None or flow.lockflow is None or fn.no_thread_safety_analysis:
                continue
            lf = flow.lockflow
            for hi, h in enumerate(fn.locks):
                if h.kind not in ("manual", "helper") or any(op[0] == "entry" for op in h.ops):
                    continue
                lam = flow.lock_lambda[hi] if hi < len(flow.lock_lambda) else None
                if lf.uncertain(lam):
                    continue
                # Unlocks that release what this function took: held on every path to them. A
                # callback that locks or unlocks by its argument (OpenSSL's locking callback)
                # never unlocks what it locked itself.
                unlocks = [op[2] for op in h.ops if op[0] == "rel" and lf.before(op[1], lam)[0] & (1 << hi)]
                takes = h.acquisitions()
                if not unlocks or not takes:
                    continue
                bit = 1 << hi
                exits = lf.exits(lam)
                held = [(k, s) for k, s, must, _may in exits if must & bit]
                free = [(k, s) for k, s, _must, may in exits if not may & bit]
                if not held or not free:
                    continue
                if _try_protocol(flow, held, free):
                    continue  # `bool try_enter()`: `true` tells the caller it now holds the lock
                mutex = h.mutexes[0] if h.mutexes else "the mutex"
                who = "the lambda" if lam is not None else f"`{fn.name}`"
                for kind, span in held[:1]:
                    what = {"return": "the `return`", "throw": "the `throw`"}.get(kind, "the end of the function")
                    name = f"`{mutex}`" if h.mutexes else mutex
                    message = f"{what[:1].upper()}{what[1:]} at line {span.line} leaves {who} holding {name}, locked at line {takes[0].line}."
                    because = (f"Other paths unlock it (line {unlocks[0].line}); after this one the next `lock()` of "
                               f"{name} blocks forever.")
                    fix = "Unlock before leaving here, or hold it with a `std::lock_guard` / `std::unique_lock` so every path releases it."
                    yield self.finding(span, message, why=because, fix=fix, related=[Related(takes[0], f"`{mutex}` locked here"),
                                                       Related(unlocks[0], f"`{mutex}` unlocked here on another path")])


_FALSY = frozenset({"false", "0", "nullptr", "NULL"})


def _try_protocol(flow, held, free) -> bool:
    """Held exits all return a truthy constant and released exits a falsy one (or fall off)."""
    values = {r.span: " ".join((r.value or "").split()) for r in flow.returns}
    if not all(k == "return" and values.get(s, "") not in ("", *_FALSY) for k, s in held):
        return False
    return all(k != "return" or values.get(s, "") in _FALSY for k, s in free)
