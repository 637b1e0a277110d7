"""Rust checks shared by rule modules, and the Rust half of LL101 (LL107's, LL201's and LL202's
live in their rule modules).

LL101's rule module calls `check_ll101(facts, index)` when
`facts.language == "rust"`; each yields `lifelint.model.Finding`s with the code already set.
The helpers below (project maps, alias resolution, function summaries) are also used by the
LL3xx and LL206 rule modules.

Everything here reads `lifelint.facts.rust_flow` facts; nothing re-parses.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterator

from lifelint.facts.rust_flow import RMW_METHODS
from lifelint.model import Finding, Related, Span

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
WORD_SPLIT = re.compile(r"_+|(?<=[a-z0-9])(?=[A-Z])")
CONCURRENT_MARKERS = ("Atomic", "Mutex", "RwLock", "Arc<", "Condvar", "Sender", "Receiver", "JoinHandle",
                      "thread", "Runtime", "Notify", "Barrier", "Semaphore")
FREE_KINDS = frozenset({"from_raw", "md_drop", "md_take", "drop_in_place", "dealloc"})
ORDER_STRONG = frozenset({"Acquire", "AcqRel", "SeqCst"})
ORDER_RELEASE = frozenset({"Release", "AcqRel", "SeqCst"})


def name_words(name: str) -> list[str]:
    return [p.lower() for p in WORD_SPLIT.split(name) if p]


def base_ident(text: str) -> str:
    """The identifier an expression is rooted at: `&mut (*h).inner` -> `h`,
    `unsafe{&*handle}` -> `handle`, `self.slot.load(..)` -> `self`, `p as *mut T` -> `p`."""
    t = strip_wrappers(text)
    m = IDENT.match(t)
    return m.group(0) if m else ""


_WRAPPER = re.compile(r"^(?:unsafe\{|&raw (?:const|mut) |&mut |&mut(?=\W)|&|\*|\(|\{|mut | )")


def strip_wrappers(text: str) -> str:
    """Drop leading `unsafe{`, `&`, `&mut`, `*`, `(` from an expression text."""
    t = text
    while True:
        m = _WRAPPER.match(t)
        if not m or not m.group(0):
            return t
        t = t[m.end():]


def pointee(type_text: str) -> str:
    """`*mut ffi::Handle<T>` -> `Handle`; '' when not a raw pointer."""
    t = type_text.strip()
    if not t.startswith("*"):
        return ""
    t = re.sub(r"^\*\s*(mut|const)\s*", "", t)
    t = t.split("<", 1)[0]
    return t.rsplit("::", 1)[-1].strip()


def pointer_params(fn, P: "RustProject | None" = None) -> set[str]:
    """Raw-pointer parameters, including those typed with a pointer alias (`DataPtr`)."""
    out = {p.name for p in fn.params if p.name and p.is_raw_pointer}
    if P is not None and P.ptr_aliases:
        for p in fn.params:
            if p.name and p.type.rsplit("::", 1)[-1] in P.ptr_aliases:
                out.add(p.name)
    return out


def param_names(fn) -> set[str]:
    return {p.name for p in fn.params if p.name and p.name != "self"}


def root_of(flow, fn, text: str, at: int) -> tuple[str, bool]:
    """Follow let-aliases from the base identifier of `text` (as seen at byte `at`) to the
    binding it comes from. Returns (name, is_parameter)."""
    name = base_ident(text)
    pos = at
    for _ in range(8):
        if not name:
            return "", False
        if name == "self":
            return "self", True
        lc = flow.local(name, pos)
        if lc is None:
            return name, name in param_names(fn)
        if lc.kind != "let" or not lc.value_text:
            return name, False
        nxt = base_ident(lc.value_text)
        if not nxt or not (nxt[0].islower() or nxt[0] == "_") or nxt in ("unsafe",):
            return name, False
        name, pos = nxt, lc.span.start_byte
    return name, False


_PTR_TAIL = re.compile(r"^(?:as\s*\*(?:const|mut)\b.*|\.(?:add|offset|sub|cast|cast_mut|cast_const|wrapping_add|byte_add)\b.*)?$")


def is_whole_pointer(flow, text: str, at: int, target: str | None = None, params: set[str] | None = None) -> bool:
    """Is `text` a pointer variable itself (possibly cast, offset, or through `let` aliases),
    rather than a field reached through it? With `target`, it must lead to that name; with
    `params`, to one of those parameters."""
    t = text
    for _ in range(6):
        t = t.lstrip("(*&")
        m = IDENT.match(t)
        if not m:
            return False
        name = m.group(0)
        rest = t[m.end():].lstrip(") ")
        if not _PTR_TAIL.match(rest):
            return False
        lc = flow.local(name, at)
        if lc is None:
            if target is not None:
                return name == target
            return params is not None and name in params
        if lc.value is None:
            return False
        t, at = lc.value_text, lc.span.start_byte
    return False


def returned_as_is(flow, name: str, field: str | None = None) -> bool:
    """Does local `name` itself leave the function (returned, possibly wrapped in `Some(..)`),
    as opposed to a value computed from it (`name.len()`)? With `field` (the field that holds
    what the caller cares about), a read of another field (`name.count`) moves only that field
    out: the rest of `name`, `field` included, drops at the end of the function."""
    for a, b in flow.returns:
        for u in flow.uses_in(name, a, b):
            if field is not None and flow.projections.get(u, field) != field:
                continue
            on_it = any(e.span.start_byte <= u < e.span.end_byte and e.recv and base_ident(e.recv) == name
                        for e in flow.events if e.kind not in ("call",))
            if not on_it:
                return True
    return False


def local_value_events(flow, local, kind: str | None = None):
    if local is None or local.value is None:
        return []
    return flow.events_in(local.value[0], local.value[1], kind)


# --- project maps -----------------------------------------------------------------------------

@dataclass
class RustProject:
    structs: dict = field(default_factory=lambda: defaultdict(list))  # name -> [(facts, RStruct)]
    impls: dict = field(default_factory=lambda: defaultdict(list))  # type -> [(facts, RImpl)]
    static_muts: dict = field(default_factory=lambda: defaultdict(list))  # name -> [(facts, RStatic)]
    flows_by_name: dict = field(default_factory=lambda: defaultdict(list))  # fn name -> [(facts, fn, flow)]
    extern_fns: list = field(default_factory=list)  # [(facts, fn, flow)] with an ABI
    summaries: dict = field(default_factory=dict)  # id(flow) -> FlowSummary
    ptr_aliases: dict = field(default_factory=dict)  # `type DataPtr = *const u8` -> {"DataPtr": "*const u8"}


def project(index) -> RustProject:
    def build(ix) -> RustProject:
        P = RustProject()
        for f in ix.files:
            r = f.rust
            if r is None:
                continue
            for s in r.structs:
                P.structs[s.name].append((f, s))
            for im in r.impls:
                P.impls[im.type].append((f, im))
            for st in r.statics:
                if st.is_mut and not st.is_const_item:
                    P.static_muts[st.name].append((f, st))
            P.ptr_aliases.update(r.extra.get("ptr_aliases") or {})
            for fl in r.flows:
                fn = r.functions[fl.fn]
                P.flows_by_name[fn.name].append((f, fn, fl))
                if fn.abi is not None:
                    P.extern_fns.append((f, fn, fl))
        return P

    return index.memo("rust_project", build)


@dataclass
class FlowSummary:
    rmw: list = field(default_factory=list)  # atomic read-modify-write events (single-winner)
    stores: list = field(default_factory=list)  # atomic store events
    drain: list = field(default_factory=list)  # events that wait: loads in loops, condvar waits


def summary(P: RustProject, flow) -> FlowSummary:
    s = P.summaries.get(id(flow))
    if s is not None:
        return s
    s = FlowSummary()
    for e in flow.events:
        if e.kind == "atomic":
            if e.name in ("load",):
                for lp in flow.loops:
                    inside_cond = lp.cond is not None and lp.cond[0] <= e.start < lp.cond[1]
                    inside_body = lp.body[0] <= e.start < lp.body[1]
                    if lp.kind != "for" and (inside_cond or inside_body):
                        s.drain.append(e)
                        break
            elif e.name == "store":
                s.stores.append(e)
            else:
                s.rmw.append(e)
        elif e.kind == "condvar_wait":
            s.drain.append(e)
    P.summaries[id(flow)] = s
    return s


def callees_in(flow, start: int, end: int) -> list:
    return [e for e in flow.events if start <= e.start < end and e.kind in ("call", "method")]


def resolve(P: RustProject, ev) -> list:
    """Project functions a call event may reach (by last path segment)."""
    name = ev.name.rsplit("::", 1)[-1]
    return P.flows_by_name.get(name, [])


def struct_is_concurrent(P: RustProject, name: str, depth: int = 2, _seen=None) -> tuple[bool, str]:
    """Does type `name` carry shared-state machinery or an `unsafe impl Send/Sync`, in its own
    fields or (up to `depth` levels) in the fields of project structs it holds by value or box
    (`counters: Counters` whose `hits: AtomicU64`)?"""
    for _, im in P.impls.get(name, ()):
        if im.is_unsafe and im.trait in ("Sync", "Send"):
            return True, f"`unsafe impl {im.trait} for {name}`"
    seen = _seen if _seen is not None else {name}
    nested = []
    for _, st in P.structs.get(name, ()):
        for fname, ftype in st.fields:
            if any(m in ftype for m in CONCURRENT_MARKERS):
                return True, f"field `{fname}: {ftype}`"
            if depth > 1 and "*" not in ftype and "&" not in ftype:  # pointers and borrows do not own
                nested.extend((fname, t) for t in IDENT.findall(ftype) if t in P.structs and t not in seen)
    for fname, t in nested:
        seen.add(t)
        ok, why = struct_is_concurrent(P, t, depth - 1, seen)
        if ok:
            return True, f"field `{fname}` holds `{t}`, with {why}"
    return False, ""


# Callees that keep a closure to run later (on another thread, or on an event): it does not
# run under the locks held where it is created.
_DEFERRED_CALLEE = re.compile(r"^(?:spawn\w*|connect\w*|register\w*|add_\w*|idle_add\w*|timeout_add\w*|set_\w*|on_\w*"
                              r"|execute|submit|post|defer|schedule\w*|new|from)$")


def closure_at(flow, byte: int) -> int:
    """Index of the innermost closure whose code holds `byte` (-1: the function's own body)."""
    best = -1
    for i, c in enumerate(flow.closures):
        if c.body[0] <= byte < c.body[1] and (best < 0 or flow.closures[best].body[0] <= c.body[0]):
            best = i
    return best


# Callees that poll a future to completion before they return.
_IN_PLACE_EXECUTOR = re.compile(r"^(?:block_on|block_in_place|run_until_complete|run_until)$")


def runs_on_the_spot(c) -> bool:
    """Does closure or future `c` (rust_flow.Closure) run before its creator goes on, under the
    locks held where it is made? A closure unless handed to a callee that keeps it; a future
    (`async` block or closure) only when awaited there or handed to `block_on`: a spawned or
    stored future is polled later, maybe on another thread."""
    last = c.callee.rsplit("::", 1)[-1].rsplit(".", 1)[-1]
    if c.is_async:
        return c.awaited or bool(_IN_PLACE_EXECUTOR.match(last))
    return not _DEFERRED_CALLEE.match(last)


def lock_held(flow, byte: int):
    """A guard (rust_cfg.RHolder) held at `byte` on every path to it, from the function's lock
    flow; inside a closure or future that runs on the spot (`runs_on_the_spot`), also one held
    where it is made."""
    lf = flow.lockflow
    if lf is None:
        return None
    ci = closure_at(flow, byte)
    for _ in range(16):
        held = lf.must(byte, None if ci < 0 else ci)
        if held:
            return flow.locks[held[0]]
        if ci < 0:
            return None
        c = flow.closures[ci]
        if not runs_on_the_spot(c):
            return None
        byte = c.span.start_byte
        ci = closure_at(flow, byte)
    return None


ONCE_CALLEES = frozenset({"call_once", "call_once_force", "get_or_init", "get_or_try_init", "init_once", "get_or_insert_with"})


def in_once_closure(flow, ev) -> bool:
    """Inside (any level of) a closure handed to `Once::call_once` / `OnceLock::get_or_init`."""
    if ev.closure < 0:
        return False
    b = ev.span.start_byte
    return any(c.callee.rsplit("::", 1)[-1] in ONCE_CALLEES and c.span.start_byte <= b < c.span.end_byte
               for c in flow.closures)


def single_winner_gate(P: RustProject, flow, e):
    """Is event `e` reachable only by the single winner of a gate? Returns (gated, weak) where
    `weak` is (file, fn, store event) of a gate function that only `store`s its flag.

    Gates: an `if` / early-exit `if` / let-else around or before `e` whose condition has an atomic
    read-modify-write (`compare_exchange*`, `swap`, `fetch_*`), `Option::take`, a local bound to
    one of those, a call to a project function whose body does one, or a check made while a lock
    guard is held; or `e` runs inside a `call_once` / `get_or_init` closure."""
    if in_once_closure(flow, e):
        return True, None
    weak = None
    for c in flow.conds:
        inside = c.body[0] <= e.start < c.body[1] or (c.alt is not None and c.alt[0] <= e.start < c.alt[1])
        early = c.span.end_byte <= e.start and c.kind in ("if", "let_else") and flow.exits_in(*c.body)
        if c.kind == "while" or not (inside or early):
            continue
        a, b = c.cond
        if lock_held(flow, a) is not None:
            # checked under a lock still held where the guarded code starts: serialised (not a
            # temporary guard of an `if` condition, dropped before the body)
            lo, hi = c.body if inside else (c.span.end_byte, e.start + 1)
            probe = next((o.start for o in flow.events if lo <= o.start < hi), e.start)
            if lock_held(flow, probe) is not None:
                return True, None

        for o in flow.events_in(a, b):
            if o.kind == "atomic" and o.name in RMW_METHODS:
                return True, None
            if o.kind == "opt_take" and not _takes_static_mut(P, flow, o):
                return True, None
            if o.kind in ("call", "method"):
                for rf, rfn, rflow in resolve(P, o):
                    s = summary(P, rflow)
                    if s.rmw:
                        return True, None
                    if s.stores and weak is None:
                        weak = (rf, rfn, s.stores[0])
        # a local bound to an RMW (`let won = flag.swap(true, ..); if won { return }`)
        for lc in flow.locals:
            if lc.value is None or lc.span.start_byte >= a:
                continue
            if flow.uses_in(lc.name, a, b):
                for o in flow.events_in(lc.value[0], lc.value[1]):
                    if (o.kind == "atomic" and o.name in RMW_METHODS) or (o.kind == "opt_take" and not _takes_static_mut(P, flow, o)):
                        return True, None
                    if o.kind in ("call", "method"):
                        for rf, rfn, rflow in resolve(P, o):
                            s = summary(P, rflow)
                            if s.rmw:
                                return True, None
                            if s.stores and weak is None:
                                weak = (rf, rfn, s.stores[0])
    return False, weak


def _takes_static_mut(P: RustProject, flow, o) -> bool:
    """`STATE.take()` / `mem::replace(&mut CLAIMED, true)` on a `static mut`: a plain read and
    write, not an atomic one, so two threads can both take the value: no single winner."""
    target = o.recv or (o.args[0] if o.args else "")
    target = re.sub(r"^&\s*mut\s+|^&", "", target.strip())
    name = static_target(target)
    return bool(name) and name in P.static_muts and flow.local(name, o.start) is None


def fn_label(fn) -> str:
    return f"`{fn.qualname}`"


# --- LL101 (Rust): raw pointer from a MutexGuard used after the guard is gone -------------------

def _guard_pointer_locals(flow, hi: int, h):
    """Locals holding a raw pointer into guard `h`'s data: the let whose initialiser takes
    `as_ptr()` / `as_mut_ptr()` on the guard (or on the temporary lock chain) while it may be
    held, or casts the guarded data to a raw pointer."""
    lf = flow.lockflow
    body = None if h.closure < 0 else h.closure
    out = []
    hits = []
    for e in flow.events:
        if e.kind != "as_ptr" or e.closure != h.closure or e.start < h.span.start_byte:
            continue
        if h.var is not None and base_ident(e.recv) == h.var and hi in lf.may(e.start, body):
            hits.append(e)
        elif h.var is None and e.span.start_byte <= h.span.start_byte < e.span.end_byte:
            hits.append(e)
    for lc in flow.locals:
        if lc.kind != "let" or lc.value is None or lc.name == h.var:
            continue
        if any(lc.value[0] <= e.start < lc.value[1] and e.fate == "let" and e.fate_name.split(" ")[-1] == lc.name
               for e in hits):
            out.append(lc)
        elif h.var is not None and h.span.start_byte <= lc.value[0] and closure_at(flow, lc.value[0]) == h.closure \
                and hi in lf.may(lc.value[0], body):
            vt = lc.value_text
            if ("as*const" in vt or "as*mut" in vt or "addr_of" in vt) and flow.uses_in(h.var, lc.value[0], lc.value[1]):
                out.append(lc)
    return out


def _released_how(facts, h, span, kind: str) -> str:
    line = span.line
    if kind == "drop":
        return f"`drop({h.var})` on line {line}"
    if kind == "moved":
        return f"line {line}, where `{h.var}` is moved into a call"
    if kind == "statement":
        return f"the end of the statement that locked it (line {line})"
    return f"the end of its scope (line {line})"


def check_ll101(facts, index) -> Iterator[Finding]:
    rust = facts.rust
    if rust is None:
        return
    for flow, fn in rust.flows_with_functions():
        lf = flow.lockflow
        for hi, h in enumerate(flow.locks if lf is not None else ()):
            mutex = h.recv or "the mutex"
            taken = f"`{h.via}()`" if h.via else f"`{mutex}.{h.method}()`"
            body = None if h.closure < 0 else h.closure
            for lc in _guard_pointer_locals(flow, hi, h):
                later = [b for b in flow.uses.get(lc.name, ()) if lc.span.end_byte <= b < lc.scope_end]
                # a re-binding of the same name is a different variable
                rebinds = [o for o in flow.locals if o.name == lc.name and o is not lc and lc.span.end_byte <= o.span.start_byte]
                if rebinds:
                    cut = min(o.span.start_byte for o in rebinds)
                    later = [b for b in later if b < cut]
                for use in later:
                    if closure_at(flow, use) != h.closure:
                        continue
                    rel = lf.released_between(max(lc.value[0], h.span.start_byte), use, body, hi)
                    if rel is None:
                        continue
                    rspan, kind = rel
                    line = line_of(facts, use)
                    msg = f"Raw pointer `{lc.name}` into data guarded by `{mutex}` is used at line {line} after the guard is released."
                    why = (f"It points into data locked with {taken}, and the guard is released at "
                           f"{_released_how(facts, h, rspan, kind)}; another thread can change or free the data in between.")
                    fix = f"Keep the guard alive while `{lc.name}` is used, or copy the data out under the lock."
                    span = byte_span(facts, use, len(lc.name))
                    related = [Related(h.span, "lock taken here"), Related(rspan, "guard released here")]
                    yield Finding("LL101", msg, span, tuple(related), why=why, fix=fix)
                    break
        # a pointer into guarded data returned from the function that owns the guard
        for e in flow.events:
            if e.kind != "as_ptr" or e.fate != "return":
                continue
            root = base_ident(e.recv)
            g = next((h for h in flow.locks if h.var == root and h.span.start_byte < e.start), None)
            temp = re.search(r"\.(lock|read|write|try_lock|try_read|try_write)\(\)", e.recv)
            if g is None and not temp:
                continue
            what = f"`{g.recv}`" if g is not None else f"`{e.recv.split('.' + temp.group(1), 1)[0]}`"
            msg = f"{_cap(fn_label(fn))} returns a raw pointer from `{e.recv}.{e.name}()` into data guarded by {what}."
            why = "The guard is dropped when the function returns, so callers use the pointer unlocked."
            fix = "Return an owned copy, or return the guard (or a mapped guard) instead of a pointer."
            yield Finding("LL101", msg, e.span, why=why, fix=fix)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def line_starts(facts):
    """Byte offset of each line's start (an array("q"), see lifelint.facts.rust_flow.extract)."""
    return facts.rust.extra.get("line_starts") or [0]


def line_of(facts, byte: int) -> int:
    """1-based line of a byte offset."""
    return bisect.bisect_right(line_starts(facts), byte)


def byte_span(facts, byte: int, length: int) -> Span:
    starts = line_starts(facts)
    row = bisect.bisect_right(starts, byte) - 1
    col = byte - starts[row]
    return Span(byte, byte + length, row, col, row, col + length)


# --- shared by the LL201 / LL202 Rust halves -------------------------------------------

_STATIC_PATH = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*::)*([A-Za-z_][A-Za-z0-9_]*)")


def static_target(text: str) -> str:
    """The static an expression names: `crate::STATE.field` -> `STATE`."""
    t = strip_wrappers(text)
    m = _STATIC_PATH.match(t)
    return m.group(1) if m else ""
