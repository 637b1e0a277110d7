"""## What it does
The audit part of LL202: flags a mutable global (namespace-scope variable, file-`static`, static
data member, function-local `static`; Rust `static mut`) written with no lock held where the
other side of the race is code no thread root reaches: a function whose callers are not seen
(a library's API, code reached through a function pointer or virtual call), which may run on a
thread the analysis cannot see while a known thread (`std::thread`, `pthread_create`, a pool
task, an exported entry point) touches the same global.

LL202 reports the globals where the thread model shows both sides (a write reached from one
thread root and another access from a root that can run at the same time, not ordered by a
spawn, a join or a handshake); this rule reports the rest, for review.

## Why is this bad?
If the unseen callers do run on another thread, the accesses race: a torn or stale read, and
undefined behaviour. In seed 001 a binding layer set `memory_disk_memory_size` from whatever host
thread called it while disk threads read it when constructing storages. Often they do not (the code runs on the thread that also runs the known
root's caller, or in a phase before it starts): that is why it is opt-in.

## Example
```cpp
int g_limit = 10;                         // <- reported here
void set_limit(int n) { g_limit = n; }    // a library API: who calls it, on which thread?
void start() { std::thread([] { use(g_limit); }).detach(); }
```

## Use instead
```cpp
std::atomic<int> g_limit{10};
```
or guard every access with one mutex, or pass the value to the thread when it starts.

## Known limits
- The same as LL202's; plus every finding depends on callers the analysis does not see.
"""

from __future__ import annotations

from lifelint.model import Level, Precision
from lifelint.registry import Rule

from lifelint.rules.ll202_unsynchronized_global import global_findings


class GlobalAudit(Rule):
    code = "LL210"
    name = "unsynchronized-global-audit"
    group = "nursery"  # measured: precision 0.12 over 24 triaged test-half findings (0.15 over 20 at the start of session 8)
    languages = ("cpp", "rust")
    level = Level.WARNING
    precision = Precision.LOW
    summary = "A mutable global is written with no lock where a thread touches it and unseen callers may run concurrently."
    tags = ("concurrency", "data-race", "audit")
    seeds = ("001",)

    def check(self, facts, index):
        yield from global_findings(self, facts, index, precise=False)
