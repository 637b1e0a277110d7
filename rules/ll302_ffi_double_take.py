"""## What it does
Flags a take-ownership operation that can run twice on the same object because nothing lets
only one caller through:

- `ManuallyDrop::take` / `ManuallyDrop::drop` / `ptr::drop_in_place` on the contents of a handle
  reached through a raw-pointer parameter (a C ABI handle whose box stays allocated) or through
  `&self`;
- `Box::from_raw` (and `Arc::from_raw`, `ManuallyDrop::take`, ...) on a pointer that was read
  with an atomic `load`, or read from a field of such a handle;

unless the operation is guarded by a single-winner gate: the `if` (or early return) that leads
to it tests an atomic read-modify-write that returns the previous value (`compare_exchange*`,
`swap`, `fetch_*`), a local bound to one, or a call to a project function whose body does one.
A gate function that only `store`s its flag is named in the message: every caller passes it.

## Why is this bad?
A handle whose box is deliberately leaked (so late callers still find valid memory) makes
`_free` callable twice. If two callers both get past the gate, both run `ManuallyDrop::take`
and the inner is dropped twice: a double free, then use-after-free. The seed 003 document records the exact
bug: `begin_free` did `freeing.store(true)`, so "every caller won" and `_free` double-took the
inner; the fix was `compare_exchange(false, true)` so exactly one caller proceeds. The same
race hits `let p = SLOT.load(..); drop(Box::from_raw(p))`: two threads load the same pointer.

## Example
```rust
impl HandleGuard {
    pub fn begin_free(&self) -> bool {
        self.freeing.store(true, Ordering::SeqCst); // every caller "wins"
        true
    }
}

#[no_mangle]
pub unsafe extern "C" fn conn_free(h: *mut Conn) {
    if (*h).guard.begin_free() {
        drop(ManuallyDrop::take(&mut (*h).inner));
    }
}
```

## Use instead
```rust
pub fn begin_free(&self) -> bool {
    self.freeing
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok() // exactly one caller gets `true`
}
// and for pointer slots: `let p = SLOT.swap(ptr::null_mut(), Ordering::AcqRel);`
```

## Known limits
- Methods taking `&mut self` or `self`, and `Drop::drop`, are exclusive and never flagged;
  `unsafe fn`s that are not `extern` leave "call at most once" to their documented contract.
- `Box::from_raw(h)` (or `h.cast::<T>()`) on the handle parameter itself is not flagged: freeing the box twice is
  the C caller's double free (LL301 covers the concurrent case).
- `finalize` callbacks (GObject, GSource: the runtime calls them once, on the last reference)
  are not flagged.
- Gate functions are resolved by name across the project, one level deep; a private function
  counts as gated when every call to it (by name, in the scanned files) is gated. Takes through
  a raw-pointer parameter or `&self` are only flagged in `pub` / `extern` functions.
- A check made while a lock guard of the same function is held counts as a gate (the lock
  serialises callers).
"""

from __future__ import annotations

import re

from lifelint.facts.rust_flow import RMW_METHODS
from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.rust_checks import base_ident, is_whole_pointer, param_names, project, root_of, single_winner_gate

_FINALIZER = re.compile(r"(?:\w+_)?finali[sz]e")

TAKES = ("md_take", "md_drop", "drop_in_place", "from_raw", "dealloc")


def _loaded_from(flow, e, arg: str):
    """The atomic `load` event the freed pointer comes from, if any."""
    for o in flow.events_in(e.span.start_byte, e.span.end_byte, "atomic"):
        if o.name == "load":
            return o
    name = base_ident(arg)
    seen = set()
    pos = e.start
    for _ in range(4):
        lc = flow.local(name, pos)
        if lc is None or lc.value is None or name in seen:
            return None
        seen.add(name)
        for o in flow.events_in(lc.value[0], lc.value[1], "atomic"):
            if o.name == "load":
                return o
            if o.name in RMW_METHODS:
                return None
        nxt = base_ident(lc.value_text)
        if not nxt:
            return None
        name, pos = nxt, lc.span.start_byte
    return None


class FfiDoubleTake(Rule):
    code = "LL302"
    name = "ffi-double-take"
    languages = ("rust",)
    level = Level.ERROR
    precision = Precision.MEDIUM
    summary = ("`ManuallyDrop::take` / `Box::from_raw` / `drop_in_place` that two callers can both reach: no "
               "single-winner gate (`compare_exchange`, `swap`) in front of it.")
    tags = ("ffi", "lifetime", "concurrency", "double-free")
    seeds = ("003",)

    def check(self, facts, index):
        rust = facts.rust
        if rust is None:
            return
        P = project(index)
        for flow, fn in rust.flows_with_functions():
            if fn.impl_trait == "Drop" or fn.self_kind in ("value", "mut"):
                continue
            if fn.is_unsafe and fn.abi is None:
                continue
            raw_params = {p.name for p in fn.params if p.is_raw_pointer and p.name}
            for e in flow.events:
                if e.kind not in TAKES or not e.args:
                    continue
                if e.kind == "from_raw" and e.fate in ("return", "field", "stored"):
                    continue
                arg = e.args[0]
                load = _loaded_from(flow, e, arg)
                if load is not None:
                    what = f"`{short(e.name)}({arg})` frees a pointer read with `{load.recv}.load(..)` at line {load.span.line}."
                    because = "Two callers can load the same pointer and both free it: a double drop / double free."
                    fix = (f"take the pointer with `{load.recv}.swap(ptr::null_mut(), Ordering::AcqRel)` (or "
                           f"`compare_exchange`) so only one caller gets it")
                else:
                    root, is_param = root_of(flow, fn, arg, e.start)
                    through_handle = is_param and root in raw_params and (fn.abi is not None or fn.visibility == "pub")
                    through_self = root == "self" and fn.self_kind == "ref" and fn.visibility == "pub"
                    if not (through_handle or through_self):
                        continue
                    whole = "." not in arg or is_whole_pointer(flow, arg, e.start, params=param_names(fn))
                    if e.kind == "from_raw":
                        # Box::from_raw(h) (or `h.cast::<T>()`) on the handle itself is the caller's
                        # double free; a pointer read out of a field of the handle stays there for
                        # the next caller.
                        if whole or arg.startswith(root + ".as_") or _nulled_after(flow, e, arg):
                            continue
                    if e.kind in ("drop_in_place", "dealloc") and whole:
                        continue
                    if _FINALIZER.fullmatch(fn.name):
                        continue  # an object system's last-reference callback (GObject/GSource `finalize`) runs once
                    holder = f"`*{root}`" if through_handle else "`&self`"
                    what = f"`{short(e.name)}({arg})` runs again on every call of `{fn.name}` on the same {holder}."
                    because = ("Nothing lets only one caller through, and the handle stays valid afterwards, so a second "
                               "call takes it again: a double drop / double free.")
                    fix = ("gate it on `flag.compare_exchange(false, true, ..).is_ok()` (or `swap(true, ..)` "
                           "returning `false`) so exactly one caller proceeds")
                gated, weak = self._gated(P, flow, e)
                if gated:
                    continue
                if fn.visibility != "pub" and fn.abi is None and self._callers_gated(P, fn):
                    continue
                note = ""
                related = []
                if weak is not None:
                    wfile, wfn, wev = weak
                    note = (f"`{wfn.name}` gates it but only `store`s its flag (line {wev.span.line}), so every "
                            "caller passes. ")
                    related.append(Related(wev.span, f"`{wfn.name}` sets its flag with a plain store",
                                           None if wfile is facts else wfile.path))
                yield self.finding(e.span, what, related, why=note + because, fix=f"Instead, {fix}.")

    def _callers_gated(self, P, fn) -> bool:
        """A private function whose every call site in the project sits behind a
        single-winner gate (`if tail.fetch_or(MARK, ..) & MARK == 0 { self.discard() }`)."""
        sites = []
        for flows in (P.flows_by_name.values()):
            for _, cfn, cflow in flows:
                for ev in cflow.events:
                    if ev.kind in ("call", "method") and ev.name.rsplit("::", 1)[-1] == fn.name:
                        sites.append((cflow, ev))
        if not sites or len(sites) > 20:
            return False
        return all(self._gated(P, cflow, ev)[0] for cflow, ev in sites)

    def _gated(self, P, flow, e):
        return single_winner_gate(P, flow, e)


def short(path: str) -> str:
    """`std::mem::ManuallyDrop::take` -> `ManuallyDrop::take`."""
    parts = path.split("::")
    return "::".join(parts[-2:])


def _nulled_after(flow, e, place: str) -> bool:
    for o in flow.events:
        if o.kind == "assign" and o.recv == place:
            return True
    return False
