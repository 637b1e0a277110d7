"""## What it does
The audit part of LL201: flags a plain `bool` (or `volatile bool`) member or global that looks
like a flag between threads, written somewhere other than the constructor and not always under
one common mutex, when the evidence that another thread reads it is indirect:

- it is polled in a loop that sleeps or waits (`sleep_for`, `usleep`, `yield`, a condition
  wait...) and written elsewhere;
- the thread model puts an unlocked write on a thread and another access in code no thread root
  reaches (its callers are not seen, so they may run on that thread or another);
- or its name says it stops or reports the end of work (stop, abort, cancel, quit, shutdown,
  done, running...) and its class is shared across threads (a mutex, a thread or a condition
  variable member, a method that starts a thread or hands work to one, a posted callback that
  writes it; for a global: a file that does one of these).

LL201 reports the flags where the thread model shows both threads (a write reached from one
thread root and another access from a root that can run at the same time); this rule reports
the rest, for a review of every flag whose cross-thread use is a convention the analysis cannot
see. Rust: a `bool` / `Cell<bool>` stop flag field of a type declared `Sync` by hand, and a
`static mut` stop flag set only from an `extern` function or from code no thread root reaches.

## Why is this bad?
If the flag does cross threads, a plain `bool` is a data race: the reader may never see the write
(the compiler hoists the load out of the loop), or see it before the data it is meant to publish.
`volatile` neither makes the access atomic nor orders it. In seed 001, `memory_disk_io::abort()`
set `bool m_abort = true` with no synchronisation while io threads could be checking it.

## Example
```cpp
class disk_io {
    std::mutex m_mutex;
    bool m_abort = false;
public:
    void abort(bool) { m_abort = true; }      // who reads it, on which thread?
};
```

## Use instead
```cpp
std::atomic<bool> m_abort{false};
void abort(bool) { m_abort.store(true, std::memory_order_release); }
```

## Known limits
- Many such flags are confined to one thread (an event loop, a GUI thread, a phase before the
  threads start) by a convention this audit cannot check: that is why it is opt-in.
- The protections of LL201 apply: atomics, a common lock on every access, writes only in the
  constructor, classes that declare themselves confined to one thread.
"""

from __future__ import annotations

from lifelint.model import Level, Precision
from lifelint.registry import Rule

from lifelint.rules.ll201_non_atomic_stop_flag import audit_finding, flag_verdicts, rust_flag_findings


class FlagAudit(Rule):
    code = "LL209"
    name = "cross-thread-flag-audit"
    group = "nursery"  # measured: precision 0.25 over 32 triaged test-half findings
    languages = ("cpp", "rust")
    level = Level.WARNING
    precision = Precision.LOW
    summary = "A plain bool looks like a cross-thread flag (polled, stop-named in a shared class), with no atomic or common lock."
    tags = ("correctness", "concurrency", "data-race", "audit")
    seeds = ("001",)

    def check(self, facts, index):
        if facts.language == "rust":
            for precise, (msg, span, related, because, fix) in rust_flag_findings(facts, index):
                if not precise:
                    yield self.finding(span, msg, related, why=because, fix=fix)
            return
        for fv in flag_verdicts(facts, index):
            if fv.race is None:
                yield audit_finding(self, fv)
