"""## What it does
Flags `Ordering::Relaxed` on an atomic that is part of a handshake which decides when memory
may be freed or read:

- **teardown**: a load or read-modify-write whose result decides whether this thread frees
  something (`if refs.fetch_sub(1, Relaxed) == 1 { drop(Box::from_raw(p)) }`, a drain loop
  `while active.load(Relaxed) > 0 {}` followed by `ManuallyDrop::take`), and the `store` /
  `fetch_sub` / `swap` on the same atomic elsewhere in the file (the other side of the
  handshake), unless an `Acquire` (or stronger) `fence` sits between the check and the free;
- **publication**: in the same file, one function writes through a raw pointer (`ptr::write`,
  `copy_nonoverlapping`, `*slot = v`) and then publishes with `store`/`fetch_add` on an index or
  flag, while another function loads that index or flag and then reads through a raw pointer
  (an io ring's head/tail, a "ready" flag): a `Relaxed` publishing store, or a `Relaxed` load on
  the reading side, is flagged.

## Why is this bad?
`Relaxed` orders nothing but the atomic itself. A thread that sees `refs == 0` or
`active_ops == 0` with `Relaxed` has no happens-before edge with the other threads' last
accesses to the object, so it can free memory they are still reading, or see the flag before
the data it publishes. The seed 002 report lists "improper atomic ordering in ring buffer operations" as a
critical data race; seed 003's quiescing protocol relies on `SeqCst` pairs precisely so that
`_free` and in-flight ops agree on who won.

## Example
```rust
fn release(&self) {
    if self.refs.fetch_sub(1, Ordering::Relaxed) == 1 {
        unsafe { drop(Box::from_raw(self.ptr)) }
    }
}
fn push(&self, v: u64) {
    let t = self.tail.load(Ordering::Relaxed);
    unsafe { self.buf.add(t & MASK).write(v) };
    self.tail.store(t + 1, Ordering::Relaxed); // publishes the slot
}
```

## Use instead
```rust
if self.refs.fetch_sub(1, Ordering::Release) == 1 {
    std::sync::atomic::fence(Ordering::Acquire);
    unsafe { drop(Box::from_raw(self.ptr)) }
}
self.tail.store(t + 1, Ordering::Release); // and `load(Ordering::Acquire)` on the reader side
```

## Known limits
- Atomics are matched by their last path component (`self.inner.refs` and `other.refs` are the
  same `refs`) within one file.
- A thread's own index loaded `Relaxed` is fine and is not flagged when the function also
  stores that atomic; other proofs of ordering (a lock held around both sides, a `SeqCst`
  operation on another atomic) are not recognised.
- Atomics reached through `self` in `Drop::drop`, `&mut self` or `self` methods are skipped:
  exclusive access means the hand-off to this thread already synchronised.
- Fences are only honoured between the check and the free (teardown) or between the write and
  the store (publication) in the same function.
"""

from __future__ import annotations

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.rust_checks import FREE_KINDS, ORDER_RELEASE, ORDER_STRONG, base_ident

RAW_WRITES = ("ptr_write", "copy")
RAW_READS = ("ptr_read", "raw_slice", "copy")
RELEASE_SIDE = ("store", "fetch_sub", "swap", "fetch_and")


def _success_ordering(e) -> str:
    return e.orderings[0] if e.orderings else ""


def _frees(flow):
    out = []
    for e in flow.events:
        if e.kind in FREE_KINDS:
            if e.kind == "from_raw" and e.fate in ("return", "field", "stored", "assign"):
                continue
            out.append(e)
    return out


def _fenced(flow, start: int, end: int, strong=ORDER_STRONG) -> bool:
    return any(f.kind == "fence" and start <= f.start < end and any(o in strong for o in f.orderings)
               for f in flow.events)


def _gated_frees(flow, op, frees):
    """Frees whose execution depends on the value of atomic op `op`."""
    names = []
    for lc in flow.locals:
        if lc.value is not None and lc.value[0] <= op.start < lc.value[1]:
            names.append(lc.name)
    out = []
    for c in flow.conds:
        a, b = c.cond
        in_cond = a <= op.start < b or any(flow.uses_in(n, a, b) for n in names)
        if not in_cond:
            continue
        for f in frees:
            if f.start <= op.start:
                continue
            if c.kind in ("if", "guard", "match") and c.body[0] <= f.start < c.body[1]:
                out.append(f)
            elif c.kind in ("if", "let_else") and f.start >= c.span.end_byte and flow.exits_in(*c.body):
                out.append(f)
            elif c.kind == "while" and f.start >= c.span.end_byte:
                out.append(f)
    # `loop { if x.load(..) == 0 { break } }` then free
    for lp in flow.loops:
        if lp.kind == "loop" and lp.body[0] <= op.start < lp.body[1] and flow.exits_in(*lp.body):
            for f in frees:
                if f.start >= lp.span.end_byte:
                    out.append(f)
    return out


class RelaxedTeardownHandshake(Rule):
    code = "LL305"
    name = "relaxed-teardown-handshake"
    group = "nursery"  # measured: 0 TRUE and 1 FALSE of 1 triaged test-half findings (fewer than 10)
    languages = ("rust",)
    level = Level.WARNING
    precision = Precision.MEDIUM
    summary = "An atomic that decides when memory is freed or published is accessed with `Ordering::Relaxed`."
    tags = ("concurrency", "atomics", "memory-ordering")
    seeds = ("002", "003")
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        rust = facts.rust
        if rust is None:
            return
        reported: set[int] = set()
        gate_keys: dict[str, tuple] = {}  # key -> (flow, op, free)
        # --- teardown gates ---
        for flow in rust.flows:
            frees = _frees(flow)
            if not frees:
                continue
            fn = rust.functions[flow.fn]
            exclusive = fn.impl_trait == "Drop" or fn.self_kind in ("mut", "value")
            for op in flow.events:
                if op.kind != "atomic" or op.name == "store":
                    continue
                if exclusive and base_ident(op.recv) == "self":
                    continue  # `&mut self` / `self` / Drop: no other thread can hold the object
                gated = _gated_frees(flow, op, frees)
                if not gated:
                    continue
                free = gated[0]
                gate_keys.setdefault(op.key, (flow, op, free))
                if _success_ordering(op) != "Relaxed" or _fenced(flow, op.start, free.start):
                    continue
                msg = f"`{op.recv}.{op.name}(.., Relaxed)` decides whether `{fn.name}` frees memory at line {free.span.line}."
                because = (f"The free (`{free.name.split('::')[-2] + '::' if '::' in free.name else ''}"
                           f"{free.name.split('::')[-1]}`) needs a happens-before with the other threads' last "
                           "accesses, and `Relaxed` gives none: the free can overtake their reads.")
                fix = "Use `Acquire`/`AcqRel` here (or `Release` plus `fence(Ordering::Acquire)` before freeing)."
                reported.add(op.start)
                yield self.finding(op.span, msg, (Related(free.span, "freed here"),), why=because, fix=fix)
        # --- the other side of those handshakes ---
        for flow, fn in rust.flows_with_functions():
            for op in flow.events:
                if op.kind != "atomic" or op.start in reported or op.name not in RELEASE_SIDE:
                    continue
                if op.key not in gate_keys or _success_ordering(op) != "Relaxed":
                    continue
                gflow, gop, gfree = gate_keys[op.key]
                if gflow is flow and gop.start == op.start:
                    continue
                if op.name == "swap" and gflow is flow:
                    continue
                gfn = rust.functions[gflow.fn]
                msg = f"`{op.recv}.{op.name}(.., Relaxed)` ends a teardown handshake that `{gfn.name}` checks before freeing."
                because = (f"`{gfn.name}` checks `{op.key}` before freeing (line {gfree.span.line}); with `Relaxed` the "
                           "freeing thread can see this before this thread's earlier accesses are done.")
                reported.add(op.start)
                yield self.finding(op.span, msg, (Related(gop.span, "checked here before freeing"),), why=because,
                                   fix="Use `Release` (or `AcqRel`/`SeqCst` to match the checking side).")
        # --- publication: raw write then store, raw read after load ---
        producers: dict[str, list] = {}
        consumers: dict[str, list] = {}
        for flow in rust.flows:
            for op in flow.events:
                if op.kind != "atomic":
                    continue
                if op.name in ("store", "fetch_add", "swap", "fetch_or"):
                    w = next((w for w in flow.events if w.kind in RAW_WRITES + ("assign",) and w.start < op.start
                              and (w.kind != "assign" or w.recv.startswith("*") or ".get()" in w.recv)
                              and w.closure == op.closure), None)
                    if w is not None:
                        producers.setdefault(op.key, []).append((flow, op, w))
                elif op.name == "load":
                    r = next((r for r in flow.events if r.kind in RAW_READS and r.start > op.start and r.closure == op.closure), None)
                    if r is None:
                        continue
                    owns = any(o.kind == "atomic" and o.key == op.key and o.name != "load" for o in flow.events)
                    consumers.setdefault(op.key, []).append((flow, op, r, owns))
        for key in producers.keys() & consumers.keys():
            prods, cons = producers[key], consumers[key]
            for flow, op, w in prods:
                if op.start in reported or _success_ordering(op) != "Relaxed":
                    continue
                if _fenced(flow, w.start, op.start, ORDER_RELEASE):
                    continue
                cflow, cop, cr, _ = next((c for c in cons if c[0] is not flow), cons[0])
                if cflow is flow:
                    continue
                cfn = rust.functions[cflow.fn]
                msg = f"`{op.recv}.{op.name}(.., Relaxed)` publishes the data written at line {w.span.line} to `{cfn.name}`."
                because = (f"`{cfn.name}` loads `{key}` and then reads that memory (line {cr.span.line}); with "
                           f"`Relaxed` the reader can see the new `{key}` before the data.")
                reported.add(op.start)
                yield self.finding(op.span, msg, (Related(cop.span, f"`{key}` is loaded here before reading"),),
                                   why=because, fix="Use `Ordering::Release` here and `Acquire` on the load.")
            for flow, op, r, owns in cons:
                if owns or op.start in reported or _success_ordering(op) != "Relaxed":
                    continue
                if _fenced(flow, op.start, r.start):
                    continue
                pflow, pop, pw = next((p for p in prods if p[0] is not flow), prods[0])
                if pflow is flow:
                    continue
                pfn = rust.functions[pflow.fn]
                msg = (f"`{op.recv}.load(Relaxed)` does not order the read at line {r.span.line} after "
                       f"`{pfn.name}`'s writes.")
                because = (f"`{pfn.name}` writes, then updates `{key}` (line {pop.span.line}), to publish data to "
                           f"`{rust.functions[flow.fn].name}`; after a `Relaxed` load it can read a stale or "
                           "half-written slot.")
                reported.add(op.start)
                yield self.finding(op.span, msg, (Related(pop.span, f"`{key}` is published here"),), why=because,
                                   fix="Load with `Ordering::Acquire`.")
