"""Where a C++ callback goes: async sinks (run it later, maybe on another thread), synchronous
callees, thread objects and what happens to them, and keep-alive idioms.

Shared by LL101-LL104 (and anyone else who needs "does this lambda run after the function
returns?"). Everything reads flow facts (`lifelint.facts.cpp_flow`), never syntax trees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Callees that run a callback later (on an executor, a thread, a timer).
ASYNC_FUNCTIONS = frozenset({"post", "dispatch", "defer", "co_spawn", "spawn", "async", "invokeMethod", "singleShot"})
# Methods on an executor / io_context / strand / timer / socket that take a completion handler.
ASYNC_METHODS = frozenset({"post", "dispatch", "defer", "async_wait", "then", "singleShot", "invokeMethod"})
THREAD_TYPES = frozenset({"thread", "jthread"})
THREAD_QUALIFIERS = ("std::", "boost::", "")
# Calls that pass a handler through unchanged (or wrap it to be called later by the same sink).
TRANSPARENT = frozenset({"move", "forward", "bind_executor", "wrap", "make_handler", "function", "make_allocating_handler",
                         "wrap_allocator", "make_handler_storage", "consign", "append", "prepend", "redirect_error",
                         "as_tuple", "bind_allocator", "bind_cancellation_slot", "packaged_task", "make_shared",
                         "make_unique", "unique_function", "move_only_function", "Callback", "BindOnce", "BindRepeating"})
BINDERS = frozenset({"bind", "bind_front", "bind_back"})
# Synchronous algorithms and helpers: a lambda handed to these runs before they return.
SYNC_HINT = frozenset({"for_each", "find_if", "sort", "stable_sort", "any_of", "all_of", "none_of", "count_if",
                       "remove_if", "transform", "accumulate", "partition", "visit", "call_once", "apply", "invoke",
                       "erase_if", "max_element", "min_element", "lower_bound", "upper_bound", "equal_range"})
KEEP_ALIVE = ("shared_from_this", "weak_from_this", "shared_from", "keep_alive", "self()", "lock()")


def _qualifier(callee: str, name: str) -> str:
    c = re.sub(r"<.*", "", callee)
    return c[: -len(name)] if c.endswith(name) else c


def _extra(settings) -> list[str]:
    cpp = getattr(settings, "cpp", None)
    return list(getattr(cpp, "async_sinks", None) or [])


def _keep_alive_extra(settings) -> list[str]:
    cpp = getattr(settings, "cpp", None)
    return list(getattr(cpp, "keep_alive", None) or [])


def call_is_async_sink(call, settings=None) -> str | None:
    """A description of `call` when it runs its callback arguments later ("`post`", "`m_timer.async_wait`"),
    else None. Threads are judged separately (see `thread_disposition`)."""
    if call.kind != "call":
        return None
    name = call.name
    callee = call.callee
    for extra in _extra(settings):
        e = extra.replace(" ", "")
        if callee == e or name == e or callee.endswith("::" + e) or callee.endswith("." + e) or callee.endswith("->" + e):
            return f"`{callee}`"
    if call.callee_kind == "method":
        if name in ASYNC_METHODS or name.startswith("async_"):
            return f"`{callee}`"
        return None
    if name.startswith("async_") and name != "async_result":
        return f"`{callee}`"
    if name in ASYNC_FUNCTIONS:
        q = _qualifier(callee, name)
        if name == "async" and (not q.endswith("std::") or (call.args and "deferred" in call.args[0])):
            return None  # a user function named async, or std::async(std::launch::deferred, ...)
        if name == "spawn" and "asio::" not in q:
            return None
        return f"`{callee}`"
    return None


@dataclass(slots=True)
class ThreadFate:
    kind: str  # "detached", "stored", "joined", "local", "returned"
    where: str  # human text
    span: object | None = None  # where it happens


def thread_disposition(flow, call_idx: int, fn=None, index=None) -> ThreadFate | None:
    """When calls[call_idx] constructs a std::thread/jthread: what happens to the thread object."""
    c = flow.calls[call_idx]
    if c.name not in THREAD_TYPES:
        return None
    q = _qualifier(c.callee, c.name)
    if q not in ("std::", "boost::", "") and not q.endswith(("std::", "boost::")):
        return None
    jthread = c.name == "jthread"
    if c.receiver_of is not None:
        r = flow.calls[c.receiver_of]
        if r.name == "detach":
            return ThreadFate("detached", "a detached thread", r.span)
        if r.name == "join":
            return ThreadFate("joined", "a joined thread", r.span)
    if c.kind == "new":
        return ThreadFate("stored", "a heap-allocated thread", c.span)
    var = c.declared or (c.result_target if c.result == "init" else None)
    if var is not None:
        fate = None
        for c2 in flow.calls:
            if c2.span.start_byte < c.span.end_byte or c2.lambda_index != c.lambda_index:
                continue
            if c2.receiver == var and c2.name == "detach":
                return ThreadFate("detached", f"a detached thread (`{var}.detach()`)", c2.span)
            if c2.receiver == var and c2.name == "join":
                fate = fate or ThreadFate("joined", f"a thread joined in the same function (`{var}.join()`)", c2.span)
            for a in c2.args:
                if a.replace(" ", "") in (f"std::move({var})", f"move({var})"):
                    fate = fate or ThreadFate("stored", f"a thread moved out of `{var}` into `{c2.callee}`", c2.span)
        for a in flow.assigns:
            if a.span.start_byte > c.span.end_byte and a.value.replace(" ", "") in (f"std::move({var})", var):
                if a.target_kind in ("member", "unknown", "global"):
                    fate = fate or ThreadFate("stored", f"a thread stored in `{a.target}`", a.span)
        if fate is not None:
            return fate
        if jthread:
            return ThreadFate("joined", "a std::jthread (joins when it goes out of scope)", c.span)
        return ThreadFate("local", "a local thread", c.span)
    if c.result == "assign":
        target = c.result_target or ""
        return _stored_fate(target, flow, fn, index, jthread)
    if c.result == "argument" and c.parent_call is not None:
        p = flow.calls[c.parent_call]
        if p.name in ("emplace_back", "push_back", "emplace", "insert", "push") and p.receiver:
            return _stored_fate(p.receiver, flow, fn, index, jthread)
        if p.name in TRANSPARENT:
            return None
    if c.result == "return":
        return ThreadFate("returned", "a thread returned to the caller", c.span)
    if c.kind == "call" and c.callee_kind == "method" and c.name in ("emplace_back", "emplace", "push_back"):
        return None
    return None


def _stored_fate(target: str, flow, fn, index, jthread: bool) -> ThreadFate:
    t = target.replace("this->", "").strip()
    if jthread:
        return ThreadFate("joined", f"a std::jthread stored in `{t}` (joins when its owner is destroyed)")
    if fn is not None and index is not None and fn.class_name and joined_in_destructor(index, fn.class_name, t):
        return ThreadFate("joined", f"a thread stored in `{t}` and joined by the destructor")
    return ThreadFate("stored", f"a thread stored in `{t}`")


def joined_in_destructor(index, class_name: str, member: str) -> bool:
    """True when the class's destructor (or a function it calls on `this`) joins `member`."""
    short = class_name.split("::")[-1].split("<")[0]
    root = re.split(r"[.\[\-]", member, 1)[0]
    methods = index.methods_of(short)
    by_name = {f.name: f for _, f in methods}
    todo = [f for _, f in methods if f.is_dtor]
    seen = set()
    while todo:
        f = todo.pop()
        if id(f) in seen or f.flow is None:
            continue
        seen.add(id(f))
        for c in f.flow.calls:
            if c.name in ("join", "request_stop", "join_all") and c.receiver and (c.receiver.replace("this->", "").startswith(root) or c.lambda_index is not None):
                return True
            if c.callee_kind == "function" and c.callee in by_name:
                todo.append(by_name[c.callee])
            if c.callee_kind == "method" and c.receiver == "this" and c.name in by_name:
                todo.append(by_name[c.name])
        # for (auto& t : m_threads) t.join();
        for d in f.flow.decls:
            if d.kind == "range" and d.init and d.init.replace("this->", "").strip() == root:
                if any(c.receiver == d.name and c.name == "join" for c in f.flow.calls):
                    return True
    return False


@dataclass(slots=True)
class Sink:
    call: int  # index in flow.calls of the sink (for threads: the construction)
    what: str  # "`post`", "a detached thread", ...
    span: object  # where to point


def sink_of_chain(flow, chain, fn=None, index=None, settings=None) -> Sink | None:
    """Follow a Handoff chain outwards (through transparent wrappers and binders) to an async sink."""
    for k, h in enumerate(chain):
        c = flow.calls[h.call]
        what = call_is_async_sink(c, settings)
        if what is not None:
            return Sink(h.call, what, c.span)
        fate = thread_disposition(flow, h.call, fn, index)
        if fate is not None:
            if fate.kind in ("detached", "stored", "returned"):
                return Sink(h.call, fate.where, c.span)
            return None
        if c.kind == "construct" and c.declared is not None:
            return None
        if (c.callee_kind == "method" and c.name in ("emplace_back", "emplace", "push_back", "emplace_front", "push_front")
                and c.receiver and fn is not None and index is not None):
            root = c.receiver.replace("this->", "")
            ty = member_type(index, fn.class_name, root)
            if ty is not None and re.search(r"\b(std::|boost::)?thread\b", ty):
                fate = _stored_fate(root, flow, fn, index, False)
                return Sink(h.call, fate.where, c.span) if fate.kind == "stored" else None
            return None
        if c.name in TRANSPARENT or c.name in BINDERS:
            continue
        return None
    return None


def lambda_sink(flow, lam_idx: int, fn=None, index=None, settings=None) -> Sink | None:
    """The async sink lambda `lam_idx` is handed to (directly, through wrappers, or through a local
    variable), or None when it runs synchronously / stays local."""
    L = flow.lambdas[lam_idx]
    if L.invoked:
        return None
    chains = []
    if L.handed_to is not None:
        chains.append(L.call_chain or [L.handed_to])
    for h in L.passed_to:
        if L.handed_to is None or h.call != L.handed_to.call:
            chains.append(_chain(flow, h))
    for ch in chains:
        s = sink_of_chain(flow, ch, fn, index, settings)
        if s is not None:
            return s
    return None


def call_sink(flow, call_idx: int, fn=None, index=None, settings=None) -> Sink | None:
    """For a binder call (`std::bind(&C::f, this)`): the async sink its result is handed to."""
    c = flow.calls[call_idx]
    if c.parent_call is None:
        # auto h = std::bind(...); post(ioc, h);
        var = c.result_target if c.result == "init" else None
        if var:
            for i, c2 in enumerate(flow.calls):
                if c2.span.start_byte > c.span.end_byte and c2.lambda_index == c.lambda_index:
                    for ai, a in enumerate(c2.args):
                        if a.replace(" ", "") in (var, f"std::move({var})"):
                            from lifelint.facts.cpp_flow import Handoff
                            s = sink_of_chain(flow, _chain(flow, Handoff(i, ai, var)), fn, index, settings)
                            if s is not None:
                                return s
        return None
    from lifelint.facts.cpp_flow import Handoff

    return sink_of_chain(flow, _chain(flow, Handoff(c.parent_call, c.arg_index if c.arg_index is not None else -1)), fn, index, settings)


def _chain(flow, h):
    from lifelint.facts.cpp_flow import Handoff

    out = [h]
    seen = {h.call}
    c = flow.calls[h.call]
    while c.parent_call is not None and c.parent_call not in seen:
        seen.add(c.parent_call)
        out.append(Handoff(c.parent_call, c.arg_index if c.arg_index is not None else -1))
        c = flow.calls[c.parent_call]
    return out


def capture_list_span(L):
    """A lambda's capture list and parameters: from its `[` to where its body starts."""
    from lifelint.model import Span

    s, b = L.span, L.body
    if b.start_byte <= s.start_byte:
        return s
    return Span(s.start_byte, b.start_byte, s.start_row, s.start_col, b.start_row, b.start_col)


def keep_alive_text(expr: str, settings=None) -> bool:
    """True when `expr` keeps the object alive: `shared_from_this()`, `weak_from_this()`, a configured idiom."""
    e = expr.replace(" ", "")
    if any(k in e for k in ("shared_from_this(", "weak_from_this(", "shared_from(this")):
        return True
    for k in _keep_alive_extra(settings):
        if k.replace(" ", "") in e:
            return True
    return False


def lambda_keeps_alive(flow, lam_idx: int, settings=None) -> str | None:
    """The capture that keeps `this` alive in a lambda (`self = shared_from_this()`, a copied
    shared_ptr local initialised from shared_from_this()), or None."""
    L = flow.lambdas[lam_idx]
    for c in L.captures:
        if c.mode in ("init", "init-ref") and c.init and keep_alive_text(c.init, settings):
            return c.name
        if c.mode == "copy" and c.decl is not None:
            d = flow.decls[c.decl]
            if d.init and keep_alive_text(d.init, settings):
                return c.name
    # [=] that uses a local keep-alive copy
    if L.default == "=":
        for di in L.outer_uses:
            d = flow.decls[di]
            if d.init and keep_alive_text(d.init, settings):
                return d.name
    return None


# --- class members across files ------------------------------------------------------------

def _short(name: str) -> str:
    n = re.sub(r"<.*", "", name or "").replace("public", "").replace("private", "").replace("protected", "")
    return n.replace("virtual", "").strip().split("::")[-1].strip()


def class_members(index, class_name: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """(fields, methods) of `class_name` and its bases as far as the project shows them."""
    if not class_name or index is None:
        return frozenset(), frozenset()
    cache = index.memo("sinks.class_members", lambda _ix: {})
    short = _short(class_name)
    if short in cache:
        return cache[short]
    fields: set[str] = set()
    methods: set[str] = set()
    todo, seen = [short], set()
    while todo:
        c = todo.pop()
        if c in seen or len(seen) > 16:
            continue
        seen.add(c)
        for _f, k in index.cpp_classes.get(c, []):
            fields.update(v.name for v in k.fields)
            fields.update(v.name for v in k.static_members)
            methods.update(k.method_decls)
            todo.extend(_short(b) for b in k.bases)
    for _f, fn in index.methods_of(short):
        methods.add(fn.name)
    methods.discard(short)
    methods = {m for m in methods if not m.startswith("~") and m not in seen}
    cache[short] = (frozenset(fields), frozenset(methods))
    return cache[short]


def class_known(index, class_name: str | None) -> bool:
    return bool(class_name) and index is not None and bool(index.cpp_classes.get(_short(class_name)))


def member_type(index, class_name: str | None, name: str) -> str | None:
    """Declared type of field `name` of `class_name` (or a base), if the project shows it."""
    if not class_name or index is None:
        return None
    todo, seen = [_short(class_name)], set()
    while todo:
        c = todo.pop()
        if c in seen or len(seen) > 16:
            continue
        seen.add(c)
        for _f, k in index.cpp_classes.get(c, []):
            v = k.field_named(name)
            if v is not None:
                return v.type + ("*" * v.pointer_depth)
            todo.extend(_short(b) for b in k.bases)
    return None


# --- posting and then waiting for the callback ----------------------------------------------

SIGNAL_CALLS = frozenset({"notify_one", "notify_all", "set_value", "set_exception", "set_value_at_thread_exit",
                          "count_down", "release", "arrive", "arrive_and_drop", "signal", "post_semaphore"})
WAIT_CALLS = frozenset({"wait", "wait_for", "wait_until", "get", "join", "acquire", "arrive_and_wait", "try_acquire_for"})
# Running the event loop in the same function: queued callbacks run before it returns.
RUN_LOOP_CALLS = frozenset({"run", "run_one", "run_for", "run_until", "run_one_for", "run_one_until", "poll", "poll_one"})


def _runs_loop_or_waits(index, name: str) -> bool:
    """True when some definition of function `name` in the project runs an event loop or waits."""
    if index is None or not name:
        return False
    cache = index.memo("sinks.runs_loop_or_waits", lambda _ix: {})
    if name not in cache:
        found = False
        for _f, fn in index.cpp_functions.get(name, [])[:8]:
            if fn.flow is None:
                continue
            if any((c.callee_kind == "method" and c.name in RUN_LOOP_CALLS) or c.name in ("wait", "wait_for", "wait_until")
                   for c in fn.flow.calls):
                found = True
                break
        cache[name] = found
    return cache[name]


def waits_for_lambda(flow, lam_idx: int, sink: Sink, index=None) -> bool:
    """True when the function blocks, after handing the lambda to `sink`, until the lambda has
    run: it runs the event loop itself (`ioc.run()`, `run_one()`, `run_for(...)`, `poll()`, or a
    helper that does, found through the index), or waits for a signal:
    `post(ioc, [&]{ ...; done = true; cv.notify_all(); }); cv.wait(l, [&]{ return done; });`,
    a promise set in the lambda and its future waited on, or a helper named like `*wait*` given a
    flag the lambda writes (libtorrent's `sync_call` + `torrent_wait(done, ses)`).
    For a lambda posted from inside another lambda, the enclosing bodies count too: a test that
    ends with `sim.run()` runs every callback any of its lambdas queue."""
    L = flow.lambdas[lam_idx]
    body_calls = [c for c in flow.calls if flow.inside_lambda(c.lambda_index, lam_idx)]
    signals = any(c.name in SIGNAL_CALLS for c in body_calls)
    written = {u.name for u in flow.uses if flow.inside_lambda(u.lambda_index, lam_idx) and u.captured
               and u.access in ("write", "update")}
    levels = [L.parent] + [flow.lambdas[a].parent for a in flow.lambda_ancestors(L.parent)]
    for c in flow.calls:
        if c.span.start_byte < L.span.end_byte or c.lambda_index not in levels:
            continue
        if c.callee_kind == "method" and c.name in RUN_LOOP_CALLS and not c.args[1:]:
            return True  # `ios.run();` after posting: the callback runs before we return
        mentioned = " ".join([*(c.args or []), c.receiver or ""])
        mentions_written = any(re.search(rf"\b{re.escape(w)}\b", mentioned) for w in written)
        if c.callee_kind == "function" and "::" not in c.callee and c.args and _runs_loop_or_waits(index, c.name):
            return True
        waiting = c.name in WAIT_CALLS or "wait" in c.name.lower()
        if not waiting or c.lambda_index != L.parent:
            continue
        if signals or mentions_written:
            return True
    return False
