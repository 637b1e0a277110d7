"""## What it does
Flags a callback handed to an async sink that holds a raw `this` (or another raw pointer to an
object owned elsewhere) with nothing keeping that object alive, when there is positive evidence
that the object can die while the callback is queued:

- the class (or a base) derives from `enable_shared_from_this`, or the project makes its objects
  with `make_shared`/`allocate_shared`: the object dies with its last shared_ptr, whoever drops
  it, so a raw `this` is exactly what shared ownership was meant to replace;
- a method of the class ends the object with `delete this` (an object made per connection or
  request and destroyed by one of its handlers);
- the raw pointer was taken from a shared_ptr with `.get()` and the shared_ptr is not kept.

The same callbacks without such evidence are LL109's (this-in-async-audit, opt-in). What counts
as a callback that holds `this`:

- a lambda capturing `this` explicitly, `[self = this]`, or implicitly through `[=]` / `[&]`
  when its body uses a member or calls a member function;
- `std::bind(&C::f, this, ...)` / `boost::bind(...)` handed to a sink;
- a raw pointer taken from a `shared_ptr` with `.get()`, captured or bound likewise.

Async sinks: `post`, `dispatch`, `defer` (free functions and methods of executors, strands and
io_contexts), any `async_*` call's completion handler, timers' `async_wait`, `co_spawn`,
asio `spawn`, `std::async` (not `launch::deferred`), a `std::thread` that is detached, stored
in a member or container, or returned, plus the callees configured in `cpp.async-sinks`.
A callee that keeps its callable parameter beyond the call is one too, read from its
definition in any file of the project: it assigns the parameter to a member or a global, puts
it in a member or global container, hands it to an async sink, or hands it on to a function
that does (`obj.set_callback([this] {..})`, `register_handler(std::bind(&C::f, this))`). When
it keeps the callback in the object it is called on, that object must be another than the
caller's own: not `this`, not a member held by value or `unique_ptr`, not a local object.

## Why is this bad?
The callback runs later, on another thread or after the current call stack unwound. Nothing
ties the object's lifetime to the queued callback: if the object is destroyed first (its
owner resets the `unique_ptr`, a session is torn down, `abort()` returns without draining),
the callback dereferences a dangling `this`. In seed 000 every `async_*` of a disk I/O backend
posted `[..., this]` lambdas to the io_context while the session could destroy the backend.
One contract does vouch for `this`: an asio composed operation (a stream's `async_connect(handler)`
that chains `async_*` steps on a socket the stream owns, each step carrying the caller's handler)
requires its caller to keep the object alive until that handler has run, so those steps are not
reported; the callers are where a dangling `this` would be.

## Example
```cpp
void disk_io::async_read(int piece, std::function<void(buffer)> handler) {
    post(m_ioc, [handler, piece, this] {          // `this` may be gone when this runs
        handler(buffer(*this, read_piece(piece)));
    });
}

void peer::start(timer& t) {                      // peer is shared-owned
    t.on_timeout([this] { retry(); });            // timer::on_timeout stores the callback
}
```

## Use instead
Keep the object alive for as long as the callback is queued:
```cpp
post(m_ioc, [handler, piece, self = shared_from_this()] {
    handler(buffer(*self, self->read_piece(piece)));
});
```
(`lifelint check --fix --unsafe-fixes` makes this rewrite where it is certain: a class deriving
directly from `enable_shared_from_this<Self>`, a `[this]` capture, every member use known),
or capture a `weak_from_this()` and check `lock()` in the callback, copy the state the callback
needs (`[*this]`), or make the destructor/`abort()` wait until queued callbacks have run.

## Known limits
- Only lambdas and binders written inside a function are seen; a handler object built by a
  helper function that captures `this` is not.
- A callee that keeps its callback is known only from a definition the project shows, and only
  when every definition of that name (and shape: method or free function, enough parameters)
  keeps it; a callee declared in a library header is not followed (name it in
  `cpp.async-sinks`). A parameter is followed when its type holds a callable
  (`std::function`-like, or a bare template type parameter), through three hand-ons at most.
  The object a callback is kept in is judged by how the caller holds it (a pointer member or a
  parameter can outlive the caller's object, a member held by value cannot); that its owner
  drops the callback in time (`set_callback(nullptr)` in a destructor) is not seen.
- A sink is recognised by name; a user function named `async_*` that calls its handler
  synchronously is reported anyway (suppress it, or it is worth renaming).
- Two protections are recognised. A composed operation: the function takes a completion handler
  (a template `Handler` or `std::function` parameter), the sink is an `async_*` operation on a
  member held by value or `unique_ptr`, and the callback captures, binds or is wrapped with that
  handler; `post`/`dispatch`/`defer` and threads never qualify. An owned event loop: the sink's
  object is a by-value `io_context` member (or a member built from it), a method of the class runs
  it, and the destructor joins every thread member.
- Qt calls whose context object is `this` (`QMetaObject::invokeMethod(this, ...)`,
  `QTimer::singleShot(ms, this, ...)`, `connect(src, sig, this, ...)`) are not reported: Qt drops
  the queued call when the context object dies. `Qt::BlockingQueuedConnection` runs it at once.
- The owned-event-loop protection does not apply to shared-owned classes (their last shared_ptr
  may be dropped on the loop's own thread). A function that blocks until the callback ran
  (`future.get()`/`wait()`, an event's `wait()`, a join, running the loop itself) is not reported.
- Objects deleted or reset by their owner while work is queued (`m_backend.reset()` with no
  stop first) are not yet recognised as evidence: those stay in LL109.

## Measured precision
Before the split into LL102 (evidence) and LL109 (audit), on 17 unseen code bases: 1 true / 37
false (issue 11). The evidence-only part has not been triaged on the ledger's test half yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.sinks import (BINDERS, call_sink, capture_list_span, class_known, class_members, composed_operation, deletes_itself,
                            keep_alive_text, lambda_keeps_alive, lambda_sink, owned_loop_joined, qt_context_is_this,
                            run_scoped_class, shared_ownership, waits_for_lambda)

_GET = re.compile(r"^\s*(?P<owner>[A-Za-z_][\w.\->\[\]]*?)\s*(?:\.|->)\s*get\s*\(\s*\)\s*$")
_MEMBER_LIKE = re.compile(r"^(m_\w+|\w+_)$")


def shared_owner(expr: str, flow, scope: int, at_byte: int) -> str | None:
    """`q` when `expr` is `q.get()` and `q` looks like a shared_ptr (declared so, or made by make_shared)."""
    m = _GET.match(expr or "")
    if not m:
        return None
    owner = m.group("owner")
    di = flow.decl_named(owner, at_byte, scope)
    if di is not None:
        d = flow.decls[di]
        t = (d.type + " " + (d.init or "")).replace(" ", "")
        return owner if ("shared_ptr" in t or "make_shared" in t or "allocate_shared" in t) else None
    return None


def _this_vouched_for(flow, fn, index, sink, *, lam_idx=None, binder=None, shared: bool = False) -> bool:
    """Something outside the callback keeps `this` alive until it has run (or drops it unrun):
    the caller of a composed operation, the class's own joined event loop (not for a shared-owned
    class: its last owner may drop it from any thread), a Qt context object that is `this`, or an
    event loop every object of the class is created in front of."""
    return bool(composed_operation(flow, fn, index, sink, lam_idx=lam_idx, binder=binder)
                or (not shared and owned_loop_joined(flow, fn, index, sink))
                or qt_context_is_this(flow.calls[sink.call])
                or run_scoped_class(index, fn.class_name))


@dataclass(slots=True)
class Candidate:
    """A callback that holds a raw `this` (or a raw pointer from a shared_ptr) and goes to a sink."""

    fn: object
    span: object
    what: str  # "the lambda handed to `post` captures `this`"
    sink: object
    flow: object
    lam_idx: int | None
    binder: int | None
    from_get: bool  # the raw pointer came from a shared_ptr's `.get()`


def candidates(rule, facts, index):
    """Every raw-`this` callback handed to an async sink that no keep-alive, wait or vouching
    contract covers; LL102 keeps those with evidence the object can die first, LL109 the rest."""
    settings = rule.settings
    for fn in facts.cpp.functions:
        flow = fn.flow
        if flow is None:
            continue
        fields = methods = None
        for li, L in enumerate(flow.lambdas):
            found = []  # (span, description, from_get)
            for c in L.captures:
                if c.mode == "this":
                    found.append((c.span, "captures `this`", False))
                elif c.mode in ("init", "init-ref") and c.init is not None:
                    init = c.init.replace(" ", "")
                    if init == "this":
                        found.append((c.span, f"captures `this` as `{c.name}`", False))
                    else:
                        owner = shared_owner(c.init, flow, L.outer_scope, L.span.start_byte)
                        if owner:
                            found.append((c.span, f"captures `{c.name}` (`{owner}.get()`) without the shared_ptr `{owner}`", True))
                elif c.mode == "copy" and c.decl is not None:
                    d = flow.decls[c.decl]
                    owner = shared_owner(d.init or "", flow, d.scope, d.visible_from)
                    if owner and not any(k.name == owner for k in L.captures):
                        found.append((c.span, f"captures `{c.name}` (`{owner}.get()`, line {d.span.line}) without the shared_ptr `{owner}`", True))
            if not found and L.default is not None and not any(c.mode == "this-copy" for c in L.captures):
                what = _implicit_this(L)
                if what is None and (L.free_names or L.free_calls):
                    if fields is None:
                        fields, methods = class_members(index, fn.class_name)
                    known = class_known(index, fn.class_name)
                    used = [n for n in L.free_names if n in fields or (not known and _MEMBER_LIKE.match(n))]
                    called = [n for n in L.free_calls if n in methods]
                    if used or called:
                        what = ", ".join([*(f"`{n}`" for n in used[:2]), *(f"`{n}()`" for n in called[:2])])
                if what is not None:
                    found.append((capture_list_span(L), f"captures `this` through `[{L.default}]` (for {what})", False))
            if not found:
                continue
            if lambda_keeps_alive(flow, li, settings):
                continue
            sink = lambda_sink(flow, li, fn, index, settings, stored=True)
            if sink is None or waits_for_lambda(flow, li, sink, index):
                continue
            span, how, from_get = found[0]
            yield Candidate(fn, span, f"the lambda handed to {sink.what} {how}", sink, flow, li, None, from_get)
        # Binders: std::bind(&C::f, this, ...) handed to a sink.
        for ci, c in enumerate(flow.calls):
            if c.name not in BINDERS or not c.args:
                continue
            q = c.callee.split("<")[0]
            if not (q in ("bind", "std::bind", "boost::bind", "std::bind_front", "bind_front") or q.endswith("::bind")):
                continue
            bound = None
            for ai, a in enumerate(c.args[1:], start=1):
                a2 = a.replace(" ", "")
                if a2 == "this":
                    bound = (c.arg_spans[ai], f"`{c.callee}(..., this, ...)` binds a raw `this`", False)
                    break
                owner = shared_owner(a, flow, c.scope, c.span.start_byte)
                if owner:
                    bound = (c.arg_spans[ai], f"`{c.callee}(..., {a.strip()}, ...)` binds a raw pointer from the shared_ptr `{owner}`", True)
                    break
            if bound is None or any(keep_alive_text(a, settings) for a in c.args):
                continue
            sink = call_sink(flow, ci, fn, index, settings, stored=True)
            if sink is None:
                continue
            yield Candidate(fn, bound[0], f"{bound[1]} and is handed to {sink.what}", sink, flow, None, ci, bound[2])


def _implicit_this(L) -> str | None:
    if not L.uses_this:
        return None
    names = [f"`{n}`" for n in L.member_uses[:2]] + [f"`{n}()`" for n in L.member_calls[:2]]
    return ", ".join(names) if names else "`this`"


def early_death_evidence(cand: Candidate, index) -> str | None:
    """Why the object can die while the callback is queued, or None when nothing says so: a raw
    pointer taken from a shared_ptr, a shared-owned class, or one that deletes itself."""
    if cand.from_get:
        return "the shared_ptr that owns the object is not kept by the callback"
    cls = cand.fn.class_name
    return shared_ownership(index, cls) or deletes_itself(index, cls)


class ThisCapturedInAsync(Rule):
    code = "LL102"
    name = "this-captured-in-async"
    group = "nursery"  # measured: no test-half findings; 2 TRUE and 5 FALSE of 7 triaged tune-half findings (0 / 1 at the start of session 8)
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.MEDIUM
    summary = "A callback handed to an async sink holds a raw `this` of an object that can die before it runs."
    tags = ("correctness", "lifetime", "concurrency")
    seeds = ("000", "001")
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        for cand in candidates(self, facts, index):
            evidence = early_death_evidence(cand, index)
            if evidence is None:
                continue  # LL109's audit part
            if _this_vouched_for(cand.flow, cand.fn, index, cand.sink, lam_idx=cand.lam_idx, binder=cand.binder,
                                 shared=True):
                continue
            yield finding_for(self, cand, evidence)


def finding_for(rule, cand: Candidate, evidence: str | None):
    """One sentence of headline (the lambda, the sink, the function), then why (with the evidence
    that the object can die first, when there is some) and the fix."""
    fn, what, sink = cand.fn, cand.what, cand.sink
    obj = f"`{fn.class_name.split('::')[-1]}` object" if fn.class_name else "object `this` points to"
    why = f"Nothing keeps the object alive: if the {obj} is destroyed before the callback runs, the callback uses a dangling pointer."
    if sink.note:
        why += f" {sink.note}."
    if evidence:
        why += f" It can die first: {evidence}."
    if cand.from_get:
        fix = "Capture or bind the shared_ptr itself (or a weak_ptr checked with lock()) so the object outlives the callback."
    else:
        fix = ("Capture `self = shared_from_this()` (or a `weak_from_this()` checked with lock()), copy what the "
               "callback needs, or make the destructor stop and wait for queued callbacks.")
    msg = f"{what[:1].upper()}{what[1:]} in `{fn.name}`."
    related = [Related(sink.span, f"handed to {sink.what} here; it runs later")]
    return rule.finding(cand.span, msg, related, why=why, fix=fix)
