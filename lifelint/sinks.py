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


# Qt calls that take a context object: the queued call, timer or connection is dropped when that
# object is destroyed, so a callback whose context is `this` never runs on a dead `this`.
QT_CONTEXT_CALLS = frozenset({"invokeMethod", "singleShot", "connect", "callOnTimeout"})


def qt_context_is_this(call) -> bool:
    return call.name in QT_CONTEXT_CALLS and any(a.replace(" ", "") == "this" for a in call.args)


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
    if name == "invokeMethod" and any("BlockingQueuedConnection" in a or "DirectConnection" in a for a in call.args):
        return None  # Qt runs it before invokeMethod returns
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
        if name == "defer" and len(call.args) < 2 and "asio::" not in q:
            return None  # a Go-style scope guard (`auto closer = defer([&] { close(fd); });`), not asio::defer
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
        # `threads.push_back(std::shared_ptr<std::thread>(new std::thread(f)))`, joined later by a
        # loop over `threads`: as joined as a thread pushed by value.
        p = c
        for _ in range(3):
            if p.parent_call is None:
                break
            p = flow.calls[p.parent_call]
            if p.name in ("emplace_back", "push_back", "emplace", "insert", "push") and p.receiver:
                joined = _joined_later(flow, p.receiver.replace("this->", "").strip(), p.span.end_byte)
                if joined is not None:
                    return ThreadFate("joined", f"a heap-allocated thread kept in `{p.receiver}` and joined in the same function", joined)
                break
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
        return _stored_fate(target, flow, fn, index, jthread, c.span.end_byte)
    if c.result == "argument" and c.parent_call is not None:
        p = flow.calls[c.parent_call]
        if p.name in ("emplace_back", "push_back", "emplace", "insert", "push") and p.receiver:
            return _stored_fate(p.receiver, flow, fn, index, jthread, p.span.end_byte)
        if p.name in TRANSPARENT:
            return None
    if c.result == "return":
        return ThreadFate("returned", "a thread returned to the caller", c.span)
    if c.kind == "call" and c.callee_kind == "method" and c.name in ("emplace_back", "emplace", "push_back"):
        return None
    return None


def _stored_fate(target: str, flow, fn, index, jthread: bool, after: int = 0) -> ThreadFate:
    t = target.replace("this->", "").strip()
    if jthread:
        return ThreadFate("joined", f"a std::jthread stored in `{t}` (joins when its owner is destroyed)")
    joined = _joined_later(flow, t, after)
    if joined is not None:
        return ThreadFate("joined", f"a thread stored in `{t}` and joined in the same function", joined)
    if fn is not None and index is not None and fn.class_name and joined_in_destructor(index, fn.class_name, t):
        return ThreadFate("joined", f"a thread stored in `{t}` and joined by the destructor")
    return ThreadFate("stored", f"a thread stored in `{t}`")


def _joined_later(flow, container: str, after: int):
    """Where the threads put in `container` (a local array or vector, or the element a range-for
    variable stands for) are all joined later in the same body: `for (auto& t : threads) t.join();`
    or `threads[i].join()`. None when they are not."""
    for d in flow.decls:  # `for (std::thread& t : pool) t = std::thread(...)`: the container is `pool`
        if d.kind == "range" and d.name == container and d.init and d.span.start_byte <= after:
            container = d.init.strip()
            break
    for d in flow.decls:
        if d.kind == "range" and d.init and d.init.strip() == container and d.span.start_byte > after:
            for c in flow.calls:
                if c.name == "join" and c.receiver == d.name and c.span.start_byte > d.span.start_byte:
                    return c.span
    for c in flow.calls:
        if c.name == "join" and c.receiver and c.receiver.startswith(container + "[") and c.span.start_byte > after:
            return c.span
    return None


# Test fixtures' teardown, which the framework runs on every fixture before destroying it
# (GoogleTest `TearDown`, CppUnit `tearDown`): as good as the destructor for joining.
TEARDOWN_METHODS = frozenset({"TearDown", "tearDown"})


def joined_in_destructor(index, class_name: str, member: str) -> bool:
    """True when the class's destructor or test teardown (or a function it calls on `this`)
    joins `member`."""
    short = class_name.split("::")[-1].split("<")[0]
    root = re.split(r"[.\[\-]", member, 1)[0]
    methods = index.methods_of(short)
    by_name = {f.name: f for _, f in methods}
    todo = [f for _, f in methods if f.is_dtor or f.name in TEARDOWN_METHODS]
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
    note: str | None = None  # how a callee that is no sink by name keeps the callback (its definition)


def sink_of_chain(flow, chain, fn=None, index=None, settings=None, stored: bool = False) -> Sink | None:
    """Follow a Handoff chain outwards (through transparent wrappers and binders) to an async sink.
    With `stored`, a callee whose definition keeps that callable parameter beyond the call
    (`keeps_callable`) is one too, when what keeps it can outlive the caller's object."""
    for k, h in enumerate(chain):
        c = flow.calls[h.call]
        what = call_is_async_sink(c, settings)
        if what is not None:
            return Sink(h.call, what, c.span)
        if stored and index is not None and c.kind == "call" and c.name not in TRANSPARENT and c.name not in BINDERS:
            kept = _stored_by_callee(flow, c, h.arg_index, fn, index)
            if kept is not None:
                return Sink(h.call, f"`{c.callee}`", c.span, kept)
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


def lambda_sink(flow, lam_idx: int, fn=None, index=None, settings=None, stored: bool = False) -> Sink | None:
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
        s = sink_of_chain(flow, ch, fn, index, settings, stored)
        if s is not None:
            return s
    return None


def call_sink(flow, call_idx: int, fn=None, index=None, settings=None, stored: bool = False) -> Sink | None:
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
                            s = sink_of_chain(flow, _chain(flow, Handoff(i, ai, var)), fn, index, settings, stored)
                            if s is not None:
                                return s
        return None
    from lifelint.facts.cpp_flow import Handoff

    return sink_of_chain(flow, _chain(flow, Handoff(c.parent_call, c.arg_index if c.arg_index is not None else -1)), fn, index, settings, stored)


# --- callees that keep a callable parameter beyond the call ----------------------------------

# Container operations that keep their argument (standard containers, queues).
KEEPING_METHODS = frozenset({"push_back", "emplace_back", "push_front", "emplace_front", "emplace", "insert", "push",
                             "insert_or_assign", "try_emplace", "emplace_hint", "append"})


@dataclass(slots=True)
class Kept:
    """How a function keeps its callable parameter: in the object it is called on ("own": a
    member, or a container member), or beyond any object ("kept": a global, a posted task)."""

    kind: str
    where: str  # "stores it in `m_on_done`"
    path: str
    line: int


def _callable_params(fn, index) -> dict[str, int]:
    """name -> position of the parameters that hold a callable: a `std::function`-like type, or a
    bare template type parameter (`F&& f` in a template, `auto f`)."""
    from lifelint.facts.cpp_flow import type_base_name

    out = {}
    for i, p in enumerate(fn.params):
        if not p.name or p.pointer_depth:
            continue
        if type_base_name(p.type) in FUNCTION_TYPES:
            out[p.name] = i
            continue
        bare = re.sub(r"\b(?:const|volatile|typename)\b|&", " ", p.type).strip()
        if re.fullmatch(r"[A-Za-z_]\w*", bare) and (bare == "auto" or fn.is_template and bare not in index.cpp_classes
                                                     and bare not in index.cpp_aliases):
            out[p.name] = i
    return out


def _is_param(arg: str, names) -> str | None:
    """The parameter `arg` hands on whole: `cb`, `std::move(cb)`, `std::forward<F>(cb)`."""
    a = "".join(arg.split())
    m = _MOVED.match(a)
    a = m.group(1) if m else a
    return a if a in names else None


def keeps_callable(index) -> dict[str, list]:
    """function name -> [(definition, {param position: Kept})] for every definition that keeps a
    callable parameter beyond the call, read from its body: the parameter is assigned to a member
    or a global, put into a member or global container, handed to an async sink, or handed to a
    function that keeps it (three rounds). Definitions in any file of the project."""
    def build(ix):
        defs = [(f, fn) for f in ix.files if f.cpp is not None for fn in f.cpp.functions
                if fn.flow is not None and fn.params]
        cands = []
        for f, fn in defs:
            ps = _callable_params(fn, ix)
            if ps:
                cands.append((f, fn, ps))
        out: dict[str, list] = {}
        found: dict[int, dict[int, Kept]] = {}
        for rnd in range(3):
            grew = False
            for f, fn, ps in cands:
                got = found.setdefault(id(fn), {})
                for name, pos in ps.items():
                    if pos in got:
                        continue
                    k = _keeps(fn, f, name, ix, out if rnd else None)
                    if k is not None:
                        got[pos] = k
                        grew = True
                if got and not any(d is fn for d, _ in out.get(fn.name, ())):
                    out.setdefault(fn.name, []).append((fn, got))
            if not grew:
                break
        return out
    return index.memo("sinks.keeps_callable", build)


def _holder(flow, fn, index, root: str | None, at: int, scope: int):
    """What `root` (the root of a store's target or a container's name) is in `fn`: "member",
    "global", or None (a local, a parameter, nothing known)."""
    if root is None or root == "this":
        return None
    if flow.decl_named(root, at, scope) is not None:
        return None
    if fn.class_name and member_variable(index, fn.class_name, root) is not None:
        return "member"
    if root in index.cpp_globals:
        return "global"
    return None


def _keeps(fn, f, name: str, index, known) -> Kept | None:
    flow = fn.flow
    for a in flow.assigns:
        if a.lambda_index is None and a.op == "=" and _is_param(a.value, (name,)):
            root = _root_name(a.target)
            held = _holder(flow, fn, index, root, a.span.start_byte, a.scope)
            if held is not None:
                return Kept("own" if held == "member" else "kept", f"stores it in `{a.target.replace('this->', '')}`",
                            f.path, a.span.line)
    for c in flow.calls:
        if c.lambda_index is not None:
            continue
        pos = next((i for i, x in enumerate(c.args) if _is_param(x, (name,))), None)
        if pos is None:
            continue
        if c.callee_kind == "method" and c.name in KEEPING_METHODS:
            held = _holder(flow, fn, index, _root_name(c.receiver), c.span.start_byte, c.scope)
            if held is not None:
                return Kept("own" if held == "member" else "kept", f"puts it in `{c.receiver.replace('this->', '')}`",
                            f.path, c.span.line)
            continue
        what = call_is_async_sink(c)
        if what is not None:
            return Kept("kept", f"hands it to {what}", f.path, c.span.line)
        if known and c.name in known and c.name != fn.name:
            classes = _receiver_classes(flow, c, fn, index) if c.callee_kind == "method" else None
            if classes is not None and not classes:
                continue
            inner = _callee_keeps(c, pos, known, classes)
            if inner is not None:
                # kept by the object `fn` is called on when the callee keeps it in its own
                # object and that object is `fn`'s (itself, or a member it owns)
                own = inner.kind == "own" and (c.callee_kind != "method" or c.receiver in (None, "this")
                                               or _holder(flow, fn, index, _root_name(c.receiver), c.span.start_byte,
                                                          c.scope) == "member")
                return Kept("own" if own else "kept", f"hands it to `{c.callee}`, which {inner.where}", f.path, c.span.line)
    return None


def _callee_keeps(c, pos: int, known, classes: set[str] | None = None) -> Kept | None:
    """How the definitions a call may reach keep argument `pos`: all of those with the call's
    shape (a method or a free function, enough parameters; for a method, one of `classes` when
    given) agree that they keep it, else None."""
    ks = []
    for d, got in known.get(c.name, ()):
        if c.callee_kind == "method" and not d.class_name:
            continue
        if classes is not None and _short(d.class_name) not in classes:
            continue
        if pos >= len(d.params):
            continue
        ks.append(got.get(pos))
    if not ks or any(k is None for k in ks):
        return None
    return next((k for k in ks if k.kind == "kept"), ks[0])


def _receiver_classes(flow, c, fn, index) -> set[str]:
    """The short names of the classes a method call's receiver can be: its declared type (a
    local, a parameter or a member of `fn`'s class; through a smart pointer's argument) and the
    classes deriving from it. Empty when the type is not known."""
    from lifelint.facts.cpp_flow import type_base_name

    if c.receiver in (None, "this"):
        # a method of the caller's own class or of one of its bases
        return {k.name for k in _class_and_bases(index, fn.class_name)} if fn is not None and fn.class_name else set()
    root = _root_name(c.receiver)
    if root is None or root == "this":
        return set()
    ty = None
    di = flow.decl_named(root, c.span.start_byte, c.scope)
    if di is not None:
        ty = flow.decls[di].type
    elif fn is not None and fn.class_name:
        ty = member_type(index, fn.class_name, root)
    if c.receiver.replace(" ", "") not in (root, f"this->{root}", f"*{root}"):
        return set()  # `a.b.f()`, `a->g().f()`: the type of a sub-object is not followed
    if not ty or re.search(r"\bauto\b|\bdecltype\b", ty):
        return set()
    m = re.search(r"(?:unique_ptr|shared_ptr|weak_ptr|optional|reference_wrapper)\s*<\s*([\w:]+)", ty)
    base = _short(m.group(1)) if m else type_base_name(ty)
    if not base:
        return set()
    return index.subclasses(base)


def _stored_by_callee(flow, c, pos: int, fn, index) -> str | None:
    """When `c` (a call handed a callback as argument `pos`) keeps it beyond the call in a place
    that can outlive the caller's object: a description for the Sink, else None. Kept in the
    object it is called on, that object must be another than the caller's own (not `this`, not
    a member the caller owns by value or unique_ptr, not a local object that dies here)."""
    if pos is None or pos < 0:
        return None
    known = keeps_callable(index)
    if c.name not in known:
        return None
    classes = None
    if c.callee_kind == "method":
        # A method is looked up in the receiver's class (and the classes deriving from it, for a
        # virtual call): a receiver whose type is not known (`auto&`) resolves to nothing, not
        # to every class with a method of that name.
        classes = _receiver_classes(flow, c, fn, index)
        if not classes:
            return None
    k = _callee_keeps(c, pos, known, classes)
    if k is None:
        return None
    if k.kind == "own":
        if c.callee_kind != "method" or c.receiver in (None, "this"):
            return None  # kept in this object: it dies with the object
        root = _root_name(c.receiver)
        if root is not None and root != "this":
            di = flow.decl_named(root, c.span.start_byte, c.scope)
            if di is not None:
                d = flow.decls[di]
                if d.kind in ("local", "condition") and not d.pointer_depth and not d.is_reference \
                        and not re.search(r"ptr\b|\*", d.type):
                    return None  # a local object: it and the callback die in this call
                if d.kind in ("local", "condition") and fn is not None and fn.class_name:
                    v = member_variable(index, fn.class_name, _root_name((d.init or "").lstrip("=({ ")) or "")
                    if v is not None and _owned(v):
                        return None  # `auto& c = m_client->endpoint();`: part of a member this object owns
            elif fn is not None and fn.class_name:
                v = member_variable(index, fn.class_name, root)
                if v is not None and _owned(v):
                    return None  # a member this object owns: it dies with the object
    return f"`{c.name}` keeps the callback beyond the call: it {k.where} ({k.path}:{k.line})"


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


def _class_and_bases(index, class_name: str | None):
    """Every definition of `class_name` and of its bases the project shows, nearest first."""
    if not class_name or index is None:
        return
    todo, seen = [_short(class_name)], set()
    while todo:
        c = todo.pop()
        if c in seen or len(seen) > 16:
            continue
        seen.add(c)
        for _f, k in index.cpp_classes.get(c, []):
            yield k
            todo.extend(_short(b) for b in k.bases)


def member_variable(index, class_name: str | None, name: str):
    """The field `name` of `class_name` (or a base) as declared, if the project shows it."""
    for k in _class_and_bases(index, class_name):
        v = k.field_named(name)
        if v is not None:
            return v
    return None


def member_type(index, class_name: str | None, name: str) -> str | None:
    """Declared type of field `name` of `class_name` (or a base), if the project shows it."""
    v = member_variable(index, class_name, name)
    return None if v is None else v.type + ("*" * v.pointer_depth)


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


def _task_waited(flow, sink: Sink, levels) -> bool:
    """The task the sink returns (`fetch().then(f)`) is waited for in this body: a no-argument
    `.wait()` / `.get()` further down its own chain (`x.then(f).then(g).wait()`), or on the local
    the chain initialises or is assigned to (`auto t = x.then(f); ... t.get();`), before the
    block that does so ends, while that local is neither returned nor moved away. A waited task has completed, and with it every continuation before
    it in the chain."""
    c, i, seen = flow.calls[sink.call], sink.call, 0
    while c.receiver_of is not None and seen < 16:
        i, c, seen = c.receiver_of, flow.calls[c.receiver_of], seen + 1
        if c.callee_kind == "method" and c.name in ("wait", "get") and not c.args:
            return True
    if c.result not in ("init", "assign") or not c.result_target or not re.fullmatch(r"[A-Za-z_]\w*", c.result_target):
        return False
    t = c.result_target
    if any(r.value and re.search(rf"\b{re.escape(t)}\b", r.value) for r in flow.returns):
        return False
    moved = re.compile(rf"(?:std::)?move\(\s*{re.escape(t)}\s*\)")
    if any(c2.span.start_byte > c.span.end_byte and any(moved.search(a) for a in c2.args) for c2 in flow.calls):
        return False
    # before the block that makes the chain ends: the captured locals live at least that long
    end = flow.scopes[c.scope].span.end_byte if c.scope < len(flow.scopes) else c.span.end_byte
    return any(c.span.end_byte < w.span.start_byte < end and w.callee_kind == "method" and w.receiver == t
               and w.name in ("wait", "get") and not w.args and w.lambda_index in levels for w in flow.calls)


def _async_future_kept_local(flow, sink: Sink) -> bool:
    """`std::async(...)` whose future stays in this function: a temporary, or a local that is
    neither returned nor moved nor stored elsewhere. The future std::async returns blocks in its
    destructor until the task has finished, so the task ends before the function's earlier
    locals die (`auto f = std::async(launch::async, [&svr] {...});`)."""
    c = flow.calls[sink.call]
    if c.name != "async" or _qualifier(c.callee, c.name) not in ("std::", ""):
        return False
    if c.result == "discarded":
        return True
    if c.result != "init" or not c.result_target or not re.fullmatch(r"[A-Za-z_]\w*", c.result_target):
        return False
    fut = c.result_target
    escapes = re.compile(rf"(?:^|[^\w.>])(?:std::)?move\(\s*{re.escape(fut)}\s*\)|^\s*{re.escape(fut)}\s*$")
    for r in flow.returns:
        if r.value and re.search(rf"\b{re.escape(fut)}\b", r.value):
            return False
    for c2 in flow.calls:
        if c2.span.start_byte > c.span.end_byte and any(escapes.search(a) for a in c2.args) and c2.name not in ("wait", "get"):
            return False
    for a in flow.assigns:
        if a.span.start_byte > c.span.end_byte and re.search(rf"\b{re.escape(fut)}\b", a.value or ""):
            return False
    return True


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
    if _async_future_kept_local(flow, sink):
        return True
    levels = [L.parent] + [flow.lambdas[a].parent for a in flow.lambda_ancestors(L.parent)]
    if _task_waited(flow, sink, levels):
        return True
    body_calls = [c for c in flow.calls if flow.inside_lambda(c.lambda_index, lam_idx)]
    signals = any(c.name in SIGNAL_CALLS for c in body_calls)
    # An event object the callback sets and the caller then waits on (`done.Set()` ...
    # `done.Wait()`, `ev.signal()` ... `ev.wait_for(...)`): the same receiver on both sides.
    set_on = {_root_name(c.receiver) for c in body_calls if c.callee_kind == "method" and c.receiver
              and c.name.lower() in _EVENT_SET}
    set_on.discard(None)
    written = {u.name for u in flow.uses if flow.inside_lambda(u.lambda_index, lam_idx) and u.captured
               and u.access in ("write", "update")}
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
        if "wait" in c.name.lower() and c.receiver and _root_name(c.receiver) in set_on:
            return True
    return False


_EVENT_SET = frozenset({"set", "signal", "notify", "fire", "trigger", "setevent", "set_event"})


# --- objects the class owns: composed operations and event loops it joins ------------------

IO_CONTEXT_TYPES = frozenset({"io_context", "io_service"})
# Parameter types that hold a callable (besides a template type parameter).
FUNCTION_TYPES = frozenset({"function", "move_only_function", "unique_function", "any_invocable", "copyable_function",
                            "function_ref", "function_view"})
_HANDLER_NAME = re.compile(r"(?i)handler|callback|token|completion|continuation|func|^(f|fn|h|cb|k)$")
_ROOT = re.compile(r"^[(*&]*(?:this->|\(\*this\)\.)?([A-Za-z_]\w*)(?!\w|\s*\(|\s*::)")
_MOVED = re.compile(r"^(?:std::)?(?:move|forward(?:<[^()]*>)?)\((\w+)\)$")
# Owning wrappers around an I/O object (`std::unique_ptr<socket>`), unlike data containers.
_HOLDERS = frozenset({"unique_ptr", "optional"})
_THREAD_TYPE = re.compile(r"\b(?:thread|jthread)\b(?!\s*::)")


def _root_name(expr: str | None) -> str | None:
    """`m_sock` for `m_sock`, `this->m_sock`, `*m_sock`, `m_sock->next_layer()`, `m_ioc.get_executor()`;
    None for a call (`sock()`) or a qualified name."""
    m = _ROOT.match("".join((expr or "").split()))
    return m.group(1) if m else None


def _owned(v) -> bool:
    """A member the object owns outright: held by value or by unique_ptr, not a reference, a raw
    pointer or a shared_ptr someone else may also hold."""
    t = v.type.replace(" ", "")
    return (v.pointer_depth == 0 and not v.is_reference
            and not any(k in t for k in ("shared_ptr", "weak_ptr", "reference_wrapper", "observer_ptr", "*")))


def sink_object(flow, sink: Sink, fn, index):
    """(name, field) of the member of `fn`'s class the sink works on: the receiver of
    `m_sock.async_read_some(...)` / `m_sock->next_layer().async_connect(...)`, the first argument of
    `async_write(m_sock, ...)` / `post(m_ioc, ...)`. None when it is a local, a parameter, a call
    result, or nothing the project declares."""
    c = flow.calls[sink.call]
    if c.kind != "call" or fn is None or not fn.class_name:
        return None
    expr = c.receiver if c.callee_kind == "method" else (c.args[0] if c.args else None)
    root = _root_name(expr)
    if root is None or root == "this" or flow.decl_named(root, c.span.start_byte, c.scope) is not None:
        return None
    v = member_variable(index, fn.class_name, root)
    return (root, v) if v is not None else None


def handler_params(fn, index) -> set[str]:
    """Parameters of `fn` that hold a completion handler: a `std::function`-like type, or a template
    type parameter (a bare type name the project does not define, in a template) named like a
    handler or called in the body."""
    from lifelint.facts.cpp_flow import type_base_name

    out = set()
    called = {c.callee for c in fn.flow.calls if c.callee_kind == "param"} if fn.flow is not None else set()
    for p in fn.params:
        if not p.name or p.pointer_depth:
            continue
        if type_base_name(p.type) in FUNCTION_TYPES:
            out.add(p.name)
            continue
        bare = re.sub(r"\b(?:const|volatile|typename)\b|&", " ", p.type).strip()
        if not re.fullmatch(r"[A-Za-z_]\w*", bare):
            continue
        generic = bare == "auto" or (fn.is_template and bare not in index.cpp_classes and bare not in index.cpp_aliases)
        if generic and (_HANDLER_NAME.search(bare) or _HANDLER_NAME.search(p.name) or p.name in called):
            out.add(p.name)
    return out


def _forwards(arg: str, names: set[str]) -> bool:
    a = "".join(arg.split())
    m = _MOVED.match(a)
    return (m.group(1) if m else a) in names


def composed_operation(flow, fn, index, sink: Sink, *, lam_idx: int | None = None, binder: int | None = None) -> str | None:
    """The handler parameter, when the callback (lambda `lam_idx` or binder call `binder`) is the
    intermediate handler of a composed operation: `fn` takes a completion handler, starts an
    `async_*` operation on an I/O object its class owns (by value or unique_ptr), and the callback
    carries that handler along (captures it, binds it, or is wrapped together with it:
    `wrap_allocator([this](..., Handler h) {...}, std::move(handler))`). asio's contract for
    composed operations makes the caller keep the object alive until its handler has run, so the
    `this` the intermediate handler holds is the caller's responsibility. post/dispatch/defer and
    threads are not operations on an object and never qualify."""
    from lifelint.facts.cpp_flow import OWNING_TYPES, Handoff, type_base_name

    c = flow.calls[sink.call]
    if c.kind != "call" or not c.name.startswith("async_"):
        return None
    obj = sink_object(flow, sink, fn, index)
    # A string, container or std::function member is data handed along, not the I/O object.
    if obj is None or not _owned(obj[1]) or type_base_name(obj[1].type) in OWNING_TYPES - _HOLDERS:
        return None
    names = handler_params(fn, index)
    if not names:
        return None
    if lam_idx is not None:
        L = flow.lambdas[lam_idx]
        for cap in L.captures:
            if cap.mode in ("copy", "ref", "pack") and cap.name in names:
                return cap.name
            if cap.mode in ("init", "init-ref") and cap.init and _forwards(cap.init, names):
                return cap.name
        for di in L.outer_uses:
            d = flow.decls[di]
            if d.kind == "param" and d.name in names:
                return d.name
        chains = ([L.call_chain or [L.handed_to]] if L.handed_to is not None else []) + [_chain(flow, h) for h in L.passed_to]
    else:
        b = flow.calls[binder]
        for a in b.args[1:]:
            if _forwards(a, names):
                return a
        chains = [_chain(flow, Handoff(b.parent_call, b.arg_index if b.arg_index is not None else -1))] if b.parent_call is not None else []
    # Wrapped together with the handler on the way to the sink.
    for chain in chains:
        for h in chain:
            if h.call == sink.call:
                break
            w = flow.calls[h.call]
            for ai, a in enumerate(w.args):
                if ai != h.arg_index and _forwards(a, names):
                    return a
    return None


def _runs_loop(index, class_name: str, loop: str) -> bool:
    """True when a method of the class runs the event loop `loop`: `loop.run()`, `loop.poll()`, or
    hands `&loop` to a thread with `&io_context::run`."""
    for _f, f in index.methods_of(_short(class_name)):
        for c in (f.flow.calls if f.flow is not None else ()):
            if c.name in RUN_LOOP_CALLS and c.callee_kind == "method" and _root_name(c.receiver) == loop:
                return True
            if any("::run" in a for a in c.args) and any(_root_name(a) == loop for a in c.args):
                return True
    return False


def _built_from(index, class_name: str, member, loop: str) -> bool:
    """True when `member` is constructed from the member `loop`: `udp::socket m_sock{m_ios};`, or a
    constructor's `: m_sock(m_ios)`."""
    if member.initializer and re.search(rf"\b{re.escape(loop)}\b", member.initializer):
        return True
    for _f, f in index.methods_of(_short(class_name)):
        if not f.is_ctor or f.flow is None or f.body is None:
            continue
        # Member initialisers come before the body: a write of the member, then its arguments.
        inits = [u for u in f.flow.uses if u.start_byte < f.body.start_byte]
        for i, u in enumerate(inits):
            if u.name == member.name and u.access == "write":
                for u2 in inits[i + 1:]:
                    if u2.access == "write" and u2.kind == "member" and u2.path == u2.name:
                        break
                    if u2.name == loop:
                        return True
    return False


def owned_loop_joined(flow, fn, index, sink: Sink) -> str | None:
    """The io_context member, when the sink queues onto an io_context the class holds by value (the
    sink's object is that member, or an owned member constructed from it), some method of the class
    runs it, and the destructor joins every thread member. Callbacks queued there then run
    on the class's own threads before the destructor returns, or are destroyed unrun with the
    io_context: none runs after `this` is gone."""
    from lifelint.facts.cpp_flow import type_base_name

    obj = sink_object(flow, sink, fn, index)
    if obj is None or not _owned(obj[1]):
        return None
    name, v = obj
    fields = [f for k in _class_and_bases(index, fn.class_name) for f in k.fields]
    if type_base_name(v.type) in IO_CONTEXT_TYPES:
        loop = name
    else:
        loop = next((f.name for f in fields if type_base_name(f.type) in IO_CONTEXT_TYPES and _owned(f)
                     and _built_from(index, fn.class_name, v, f.name)), None)
    if loop is None or not _runs_loop(index, fn.class_name, loop):
        return None
    threads = [f for f in fields if _THREAD_TYPE.search(f.type)]
    if threads and all(joined_in_destructor(index, fn.class_name, t.name) for t in threads):
        return loop
    if not threads and loop_run_inline(index, fn.class_name, loop):
        return loop
    return None


# --- objects that live only while an event loop runs in front of them -------------------------

def run_scoped_class(index, class_name: str | None) -> bool:
    """True when every object of the class that the project creates is a local that the
    creating function outlives only after running its event loop or joining its threads:
    `http_server srv(ioc); ... ioc.run();` (tests, examples, simulations). The loop drains or
    drops every queued callback before the object's scope ends. False when the project
    creates none (a library class: its users decide), or creates one any other way (`new`,
    `make_shared`, a member of another class)."""
    if not class_name or index is None:
        return False
    short = _short(class_name)
    cache = index.memo("sinks.run_scoped_class", lambda _ix: {})
    if short not in cache:
        cache[short] = _run_scoped(index, short)
    return cache[short]


def _run_scoped(index, short: str) -> bool:
    from lifelint.facts.cpp_flow import type_base_name

    sites = 0
    for f in index.files:
        cpp = f.cpp
        if cpp is None:
            continue
        for k in cpp.classes:  # a member of another class lives as long as that object
            if any(type_base_name(v.type) == short for v in k.fields):
                return False
        for fn in cpp.functions:
            flow = fn.flow
            if flow is None:
                continue
            for c in flow.calls:
                if c.kind == "new" and type_base_name(c.callee) == short:
                    return False
                if c.name in ("make_shared", "make_unique", "allocate_shared") and short in c.callee:
                    return False
            for d in flow.decls:
                if d.kind != "local" or d.pointer_depth or d.is_reference or type_base_name(d.type) != short:
                    continue
                end = flow.scopes[d.scope].span.end_byte
                if not any(d.decl_span.end_byte <= c.span.start_byte < end and c.lambda_index == d.lambda_index
                           and ((c.callee_kind == "method" and c.name in RUN_LOOP_CALLS) or c.name == "join")
                           for c in flow.calls):
                    return False
                sites += 1
    return sites > 0


# --- object lifecycle: what the class owns and stops before it dies -------------------------

# Calls that stop, drain or wait out the work an owned executor, thread, timer or future holds.
STOP_CALLS = frozenset({"join", "join_all", "stop", "cancel", "cancel_all", "shutdown", "close", "wait", "get",
                        "request_stop", "abort", "interrupt", "quit", "terminate", "drain", "wait_all", "reset"})
# Methods an owner calls before it destroys the object (`svc->Stop(); delete svc;`): their name
# says they end the object's work.
_TEARDOWN_NAME = re.compile(r"(?i)^(?:stop|shutdown|shut_down|close|abort|cancel|terminate|quit|finish|join|halt|"
                            r"teardown|tear_down|destroy|dispose|deinit|uninit|cleanup|clean_up|release|exit)")


def teardown_methods(index, class_name: str):
    """Definitions that run before an object of the class dies: its destructors and test
    teardowns, the methods named like stop/shutdown/close (what owners call before `delete`),
    and the methods of `this` any of those call."""
    by_name: dict[str, list] = {}
    for k in _class_and_bases(index, class_name):
        for _f, f in index.methods_of(_short(k.name)):
            by_name.setdefault(f.name, []).append(f)
    todo = [f for fs in by_name.values() for f in fs
            if f.is_dtor or f.name in TEARDOWN_METHODS or _TEARDOWN_NAME.match(f.name)]
    seen: set[int] = set()
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        yield f
        for c in (f.flow.calls if f.flow is not None else ()):
            if (c.callee_kind == "function" and c.callee in by_name) or (c.callee_kind == "method" and c.receiver == "this"
                                                                        and c.name in by_name):
                todo.extend(by_name[c.name])


def stopped_in_teardown(index, class_name: str, member: str) -> bool:
    """True when the class's teardown stops, joins, cancels or waits out the member `member`
    (`m_pool.join()`, `m_timer.cancel()`, `m_ioc.stop()` then the thread joined, `m_future.wait()`),
    or loops over it doing so."""
    for f in teardown_methods(index, class_name):
        if f.flow is None:
            continue
        for c in f.flow.calls:
            if c.name in STOP_CALLS and c.callee_kind == "method" and _root_name(c.receiver) == member:
                return True
        for d in f.flow.decls:
            if d.kind == "range" and d.init and _root_name(d.init) == member:
                if any(c.receiver == d.name and c.name in STOP_CALLS for c in f.flow.calls):
                    return True
    return False


def owned_sink_stopped(flow, fn, index, sink: Sink) -> str | None:
    """The member, when the sink queues onto an executor, pool, strand, timer or socket the class
    owns outright and the class's teardown stops, joins or cancels it (queued callbacks run
    before that returns, or are dropped unrun); or a `std::async` whose future is kept in a member
    (the future's destructor waits for the task)."""
    c = flow.calls[sink.call]
    if c.name == "async" and c.result == "assign" and c.result_target and fn is not None:
        v = member_variable(index, fn.class_name, _root_name(c.result_target) or "")
        if v is not None and "future" in v.type:
            return v.name
    obj = sink_object(flow, sink, fn, index)
    if obj is None or not _owned(obj[1]):
        return None
    name, _v = obj
    return name if stopped_in_teardown(index, fn.class_name, name) else None


def loop_run_inline(index, class_name: str, loop: str) -> bool:
    """True when the class runs its own event loop `loop` on the caller's thread (`m_ioc.run()`
    inside a method) and owns no thread that could run it instead: queued callbacks run inside
    that call or die unrun with the loop."""
    fields = [f for k in _class_and_bases(index, class_name) for f in k.fields]
    if any(_THREAD_TYPE.search(f.type) for f in fields):
        return False
    for _f, f in index.methods_of(_short(class_name)):
        for c in (f.flow.calls if f.flow is not None else ()):
            if c.name in RUN_LOOP_CALLS and c.callee_kind == "method" and _root_name(c.receiver) == loop \
                    and c.parent_call is None:
                return True
    return False


# --- evidence that the object can die while its callbacks are queued -------------------------

def shared_ownership(index, class_name: str | None) -> str | None:
    """Why objects of the class are shared-owned, or None: it (or a base) derives from
    `enable_shared_from_this`, or the project makes it with `make_shared`/`allocate_shared`.
    Such an object dies when its last shared_ptr goes, whoever drops it: a raw `this` in a queued
    callback does not count."""
    if not class_name or index is None:
        return None
    cache = index.memo("sinks.shared_ownership", _made_shared)
    for k in _class_and_bases(index, class_name):
        if any("enable_shared_from_this" in b for b in k.bases):
            return f"`{_short(class_name)}` derives from `enable_shared_from_this`" if _short(k.name) == _short(class_name) \
                else f"`{_short(class_name)}` derives (through `{_short(k.name)}`) from `enable_shared_from_this`"
    where = cache.get(_short(class_name))
    return f"the project makes `{_short(class_name)}` objects with {where}" if where else None


def _made_shared(index) -> dict[str, str]:
    from lifelint.facts.cpp_flow import type_base_name

    out: dict[str, str] = {}
    for f in index.files:
        if f.cpp is None:
            continue
        for fn in f.cpp.functions:
            for c in (fn.flow.calls if fn.flow is not None else ()):
                if c.name in ("make_shared", "allocate_shared") and "<" in c.callee:
                    arg = c.callee.split("<", 1)[1].rsplit(">", 1)[0]
                    out.setdefault(type_base_name(arg), f"`{c.name}` ({f.path}:{c.span.line})")
    return out


def deletes_itself(index, class_name: str | None) -> str | None:
    """`Cls::method` (file:line) when a method of the class ends the object with `delete this`:
    an object made per connection or request and destroyed by one of its own handlers. Not when
    the same method counts references down first (`if (--m_refs == 0) delete this;`, COM's
    `Release()`): an intrusive count is a keep-alive each handler may hold."""
    if not class_name or index is None:
        return None
    for f, m in index.methods_of(_short(class_name)):
        flow = m.flow
        for c in (flow.calls if flow is not None else ()):
            if c.kind == "delete" and c.args and c.args[0].replace(" ", "") == "this":
                counted = any(u.kind == "member" and u.access == "update" for u in flow.uses) \
                    or any(c2.name in _COUNT_DOWN for c2 in flow.calls)
                if not counted:
                    return f"`{m.qualname}` ends the object with `delete this` ({f.path}:{c.span.line})"
    return None


_COUNT_DOWN = frozenset({"fetch_sub", "fetch_add", "sub_fetch", "InterlockedDecrement", "decrement", "__sync_sub_and_fetch",
                         "__atomic_sub_fetch"})
