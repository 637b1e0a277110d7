"""## What it does
Flags an `extern "C"` function that tears down a handle it received as a raw pointer
(`Box::from_raw(h)` and dropping the box, `ptr::drop_in_place(h)`, or, in a function named
like a free / destroy / release / close, `ManuallyDrop::take` / `ManuallyDrop::drop` /
`drop_in_place` / `Box::from_raw` on the handle's contents) when

- other `extern "C"` functions take the same handle type (`*mut Handle` / `*const Handle`) and
  use it; a handle passed as `*mut c_void` or as an opaque type (a struct with no fields, or only
  zero-sized ones such as `_private: [u8; 0]`) counts as the type each function casts it back
  to (`h as *mut Node`, `h.cast::<Node>()`), and
- the handle type is meant to be used from several threads (it has atomics, a `Mutex`, an
  `Arc`, channels, a runtime ... in its fields, or in the fields of a project struct it holds
  one or two levels down, or an `unsafe impl Send/Sync`), and
- nothing in the free function, or in a function it calls, waits for calls already in flight
  (no loop polling an atomic such as an in-flight counter, no `Condvar` wait), or the function
  frees the handle box itself: even after a drain, an op that has done `&*h` but not yet
  registered as in flight would run on freed memory, so the box must be leaked (seed 003,
  "the box must outlive `try_enter`'s `fetch_add`").

Accessors that take their own count first (`Arc::increment_strong_count(h); let a =
Arc::from_raw(h);`) are in-flight protection from that line on: their `from_raw` only gives
back their own count. A free that drops the C side's `Arc` count is still reported, for the
window that remains: a call that has entered but not yet reached `increment_strong_count` can
see the last count dropped (the message names that line).

## Why is this bad?
A C, Go (cgo), Python or Node caller can call `handle_free` on one thread while another thread
is still inside `handle_send(h, ...)`. The op has already done `&*h`; `Box::from_raw` frees the
memory under it and the op reads freed memory. Keeping the inner alive with an `Arc` does not
help: the op still dereferences the handle box itself. The seed 003 document (net-mesh's per-FFI-handle
quiescing protocol) describes exactly this use-after-free and the protocol that fixes it.

## Example
```rust
pub struct Node { peers: Mutex<Vec<Peer>>, sent: AtomicU64 }

#[no_mangle]
pub unsafe extern "C" fn node_send(h: *mut Node, msg: u32) -> i32 {
    let node = &*h;
    node.sent.fetch_add(1, Ordering::Relaxed);
    0
}

#[no_mangle]
pub unsafe extern "C" fn node_free(h: *mut Node) {
    drop(Box::from_raw(h)); // frees `Node` under a concurrent `node_send`
}
```

## Use instead
Gate every op on an in-flight guard, make `_free` flip a `freeing` flag with
`compare_exchange`, wait (with a deadline) for the in-flight count to reach zero, then take the
inner out of a `ManuallyDrop` and leak the small handle box so late callers still find valid
atomics (seed 003):
```rust
pub struct Node { guard: HandleGuard, inner: ManuallyDrop<Inner> }

#[no_mangle]
pub unsafe extern "C" fn node_free(h: *mut Node) {
    let node = &mut *h;
    if node.guard.begin_free(FREE_DEADLINE) {      // compare_exchange + drain loop
        drop(ManuallyDrop::take(&mut node.inner)); // the box itself is never freed
    }
}
```

## Known limits
- The cast back from `*mut c_void` is read from the function's `let`s and call arguments
  (`as *mut T`, `.cast::<T>()`); a cast through a helper function is not followed, and such a
  handle is skipped.
- Drain evidence is looked for in the free function and one level of calls (resolved by name
  across the project); a wait hidden deeper, or behind a trait object, is not seen and the
  rule reports.
- Handle types defined outside the scanned files are skipped (their fields are unknown).
- A C API whose documentation forbids calling `_free` concurrently with anything else is
  flagged anyway when the handle type is thread-safe; suppress with a reason.
- The `c_void` / opaque-handle, nested-field and `Arc`-per-call shapes (issue 12 item 8) gave no
  finding on the Rust tune half (rust-parking-lot, rust-openssl, rust-hyper, rust-gnome): no
  FALSE there, and no measured TRUE yet either.
"""

from __future__ import annotations

import re

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.rust_checks import (
    IDENT, base_ident, callees_in, is_whole_pointer, name_words, pointee, project, resolve, returned_as_is, root_of,
    struct_is_concurrent, summary,
)

TEARDOWN = ("from_raw", "md_take", "md_drop", "drop_in_place")
FREE_NAME_WORDS = frozenset({"free", "destroy", "release", "close", "dispose", "delete", "drop", "destruct",
                             "finalize", "finalise", "shutdown", "teardown", "dealloc", "deinit", "fini", "unref"})


_OPAQUE_FIELD = re.compile(r"^(?:\[u8;0\]|\[u8; 0\]|\(\)|(?:[\w:]*::)?PhantomData<.*>|(?:[\w:]*::)?PhantomPinned)$")


def _is_opaque(P, ty: str) -> bool:
    """`c_void`, or a project struct C sees only by address (no fields, or only zero-sized ones:
    `_private: [u8; 0]`, `PhantomData`)."""
    if ty == "c_void":
        return True
    got = P.structs.get(ty)
    return bool(got) and all(_OPAQUE_FIELD.match(ft.strip()) for _, st in got for _, ft in st.fields)


def _cast_target(flow, pname: str, texts=None) -> str:
    """The type an opaque handle parameter is cast back to: `h as *mut Node`, `h.cast::<Node>()`."""
    pat = re.compile(rf"(?<![\w.]){re.escape(pname)}(?: as\*(?:const|mut) |\.cast(?:_mut|_const)?::<)([A-Za-z_][\w:]*)")
    if texts is None:
        texts = [lc.value_text for lc in flow.locals if lc.value_text]
        texts += [e.recv for e in flow.events if e.recv] + [a for e in flow.events for a in e.args]
    for t in texts:
        m = pat.search(t)
        if m:
            return m.group(1).rsplit("::", 1)[-1]
    return ""


def _handle_params(P, flow, fn) -> dict:
    """Raw-pointer parameters and the handle type each stands for: the pointee, or, for a
    `*mut c_void` / opaque pointee, the type the function casts it back to."""
    out = {}
    for p in fn.params:
        if not (p.is_raw_pointer and p.name):
            continue
        ty = pointee(p.type)
        if ty and _is_opaque(P, ty):
            ty = _cast_target(flow, p.name)
        if ty:
            out[p.name] = ty
    return out


def _count_taken_at(flow, pname: str):
    """`Arc::increment_strong_count(h)` on the handle parameter: the accessor's own count."""
    for e in flow.events:
        if e.kind == "call" and e.name.rsplit("::", 1)[-1] == "increment_strong_count" and \
                flow.uses_in(pname, e.span.start_byte, e.span.end_byte):
            return e
    return None


def _own_teardowns(flow, fn, pname: str, ty: str):
    """Teardowns of the handle in an accessor, less the `Arc::from_raw(h)` that only gives back
    the count the accessor took itself with `Arc::increment_strong_count(h)` just before."""
    counted = _count_taken_at(flow, pname)
    return [(e, r) for e, r in _teardowns(flow, fn, {pname: ty})
            if not (counted is not None and e.kind == "from_raw" and e.owner == "Arc" and counted.start < e.start)]


def _is_free_name(name: str) -> bool:
    return any(w in FREE_NAME_WORDS for w in name_words(name))


def _teardowns(flow, fn, handle_params):
    """Events in `flow` that free or destroy what a handle parameter points to: the handle
    itself (`Box::from_raw(h)`, `drop_in_place(h)`), or, in a function named like a free /
    destroy / release / close, its contents (`ManuallyDrop::take(&mut (*h).inner)`)."""
    out = []
    free_name = _is_free_name(fn.name)
    for e in flow.events:
        if e.kind not in TEARDOWN or not e.args:
            continue
        root, is_param = root_of(flow, fn, e.args[0], e.start)
        if not is_param or root not in handle_params:
            continue
        whole = is_whole_pointer(flow, e.args[0], e.start, root)
        if e.kind in ("from_raw", "drop_in_place") and not whole and not free_name:
            continue
        if e.kind in ("md_take", "md_drop") and not free_name:
            continue
        if e.kind == "from_raw":
            if e.owner not in ("Box", "Arc", "Rc"):
                continue
            if e.fate in ("return", "field", "stored", "assign", "closure_return"):
                continue
            if e.fate == "arg" and e.fate_name.rsplit("::", 1)[-1] in ("forget", "leak", "into_raw", "new"):
                continue
            if e.fate == "method" and e.fate_name in ("into_raw", "leak"):
                continue
            if e.fate == "let":
                name = e.fate_name.split(" ")[-1]
                if any(o.kind in ("forget", "into_raw", "md_new") and o.args and base_ident(o.args[0]) == name and o.start > e.start
                       for o in flow.events):
                    continue
                if returned_as_is(flow, name):
                    continue
        out.append((e, root))
    return out


class FfiFreeWithoutQuiesce(Rule):
    code = "LL301"
    name = "ffi-free-without-quiesce"
    languages = ("rust",)
    level = Level.ERROR
    precision = Precision.MEDIUM
    summary = ("An `extern \"C\"` free function destroys a thread-safe handle while other FFI calls may still be "
               "running on it: nothing drains in-flight calls first.")
    tags = ("ffi", "lifetime", "concurrency", "use-after-free")
    seeds = ("003",)

    def check(self, facts, index):
        rust = facts.rust
        if rust is None:
            return
        P = project(index)
        for flow, fn in rust.flows_with_functions():
            if fn.abi is None:
                continue
            handle_params = _handle_params(P, flow, fn)
            if not handle_params:
                continue
            tears = [t for pn, ty in handle_params.items() for t in _own_teardowns(flow, fn, pn, ty)]
            if not tears:
                continue
            drained_by = "this function" if summary(P, flow).drain else None
            if drained_by is None:
                # one level of calls: `h.guard.begin_free(deadline)` drains in its own body
                for c in callees_in(flow, flow.body[0], flow.body[1]):
                    for _, cfn, cflow in resolve(P, c):
                        if cflow is not flow and summary(P, cflow).drain:
                            drained_by = f"`{cfn.name}`"
                            break
                    if drained_by:
                        break
            reported = set()
            for e, root in tears:
                ty = handle_params[root]
                if ty in reported:
                    continue
                frees_box = e.kind == "from_raw" and is_whole_pointer(flow, e.args[0], e.start, root)
                if drained_by and not frees_box:
                    continue
                concurrent, why = struct_is_concurrent(P, ty)
                if not concurrent:
                    continue
                ops = []
                for of, ofn, oflow in P.extern_fns:
                    if oflow is flow:
                        continue
                    for pn, pty in _handle_params(P, oflow, ofn).items():
                        if pty == ty and oflow.uses.get(pn):
                            if not _own_teardowns(oflow, ofn, pn, ty):
                                ops.append((of, ofn, oflow, pn))
                            break
                if not ops:
                    continue
                reported.add(ty)
                # `Arc::increment_strong_count(h)` first in every accessor: each call holds its own
                # count once it gets there; what is left is the prologue before that line.
                counted = [(of, ofn, _count_taken_at(oflow, pn)) for of, ofn, oflow, pn in ops]
                per_call = e.kind == "from_raw" and e.owner == "Arc" and all(c is not None for _, _, c in counted)
                ops = [(of, ofn) for of, ofn, _, _ in ops]
                names = ", ".join(f"`{o.name}`" for _, o in ops[:3]) + (" ..." if len(ops) > 3 else "")
                short = "::".join(e.name.split("::")[-2:])
                how = {"from_raw": f"frees handle `{root}` with `{short}({e.args[0]})`",
                       "md_take": f"takes the contents of handle `{root}` with `ManuallyDrop::take({e.args[0]})`",
                       "md_drop": f"drops the contents of handle `{root}` with `ManuallyDrop::drop({e.args[0]})`",
                       "drop_in_place": f"drops handle `{root}` in place with `{short}({e.args[0]})`"}[e.kind]
                verb = "takes" if len(ops) == 1 else "take"
                act = {"from_raw": "frees", "md_take": "takes the contents of", "md_drop": "drops the contents of",
                       "drop_in_place": "drops"}[e.kind]
                msg = f"`{fn.name}` {act} handle `{root}` while {names} can still be running on a `{ty}` handle."
                if drained_by:
                    msg = f"`{fn.name}` {act} handle `{root}`, but a late call from {names} can still reach it."
                    because = (f"`{fn.name}` {how} after waiting for in-flight calls ({drained_by} drains them), but {names} also {verb} "
                               f"a `{ty}` handle and `{ty}` is shared across threads ({why}): a call that has already "
                               f"done `&*{root}` but not yet registered itself can still run on the freed box.")
                    fix = ("Never free the handle box once C has it: take the inner out of a `ManuallyDrop` and leak "
                           "the box, so late callers find valid atomics and bail.")
                else:
                    because = (f"`{fn.name}` {how}, but {names} also {verb} a `{ty}` handle and `{ty}` is shared across threads ({why}); "
                               "nothing here waits for calls already inside those functions, so a concurrent call "
                               "uses freed memory.")
                    fix = (f"Count in-flight calls with a guard, have `{fn.name}` flip a `freeing` flag with "
                           "`compare_exchange` and wait for the count to drain, then take the inner out of a "
                           "`ManuallyDrop` and leak the handle box.")
                if per_call and not drained_by:
                    first = counted[0]
                    line = first[2].span.start_row + 1
                    msg = f"`{fn.name}` drops handle `{root}`'s `Arc` while a call to {names} may not yet hold its own count."
                    because = (f"{names} take their own count with `Arc::increment_strong_count` (`{first[1].name}` at line "
                               f"{line}), which protects them from then on; but a call that has entered and not yet "
                               f"reached that line can see `{fn.name}` drop the last count and then increment a freed "
                               f"`{ty}` ({why}).")
                    fix = ("Gate calls on an in-flight guard that `_free` drains first, or keep one count owned by the "
                           "C side that only a drained `_free` gives up.")
                    related = [Related(c.span, f"`{o.name}` takes its count here", None if of is facts else of.path)
                               for of, o, c in counted[:3]]
                    yield self.finding(e.span, msg, related, why=because, fix=fix)
                    continue
                related = [Related(ofn.name_span, f"`{ofn.name}` uses the same handle type", None if of is facts else of.path)
                           for of, ofn in ops[:3]]
                yield self.finding(e.span, msg, related, why=because, fix=fix)
