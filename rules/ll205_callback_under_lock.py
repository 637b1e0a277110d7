"""## What it does
Flags a callback invoked while a lock is held: a `std::function` (or handler-typed) member or
parameter, a callable template parameter, a function pointer parameter, or a local copy of one,
called inside a guard's scope, before the guard's `unlock()` (and outside the scope of an
unlocker: a class of the scan that unlocks in its constructor and locks again in its
destructor, like boost's `reverse_lock`). It also follows one call level:
a call, made with a lock held, to a helper that invokes a callback is reported at that call
(libtorrent's `alert_manager` calls its notify function from `maybe_notify()`, reached from
`emplace_alert()` under the queue mutex: the finding is on the `maybe_notify()` call, with the
callback's line as a note).

## Why is this bad?
A callback runs code the lock's owner does not control. If it calls back into the object (to
read the alerts it was just told about, to post another job), it takes the same mutex and
deadlocks on a non-recursive mutex, or sees half-updated state through a recursive one. Even a
harmless callback holds every other thread waiting on the lock for as long as it runs, and a
callback that takes its own lock creates a lock-order cycle nobody can see in one file. The
backend in seed 001 completes jobs through handlers and serialises every front-end call through
one mutex: a handler run inside that mutex stalls the whole session.

## Example
```cpp
void alert_queue::set_notify_function(std::function<void()> const& fun) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_notify = fun;
    if (!m_alerts.empty()) m_notify();   // user code runs with m_mutex held
}
```

## Use instead
Copy what the callback needs under the lock and call it after the guard's scope:
```cpp
void alert_queue::set_notify_function(std::function<void()> const& fun) {
    bool pending;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_notify = fun;
        pending = !m_alerts.empty();
    }
    if (pending && fun) fun();
}
```
or `unlock()` the `unique_lock` first, or `post()` the callback to an executor.

## Known limits
- Known code is not foreign code. Silent: a callable parameter that every call in the project
  fills with the caller's own lambda, a bound member or a project function (followed through
  one more caller's parameter: `enforce([this]{...}, msg)`); a callback member only ever set to
  such code (in a body or a constructor's member initialiser: `: on_tick_(std::bind(&C::advance,
  this))`); a callback member cleared under the same lock around its call (`cb_(); cb_ =
  nullptr;`, or taken out with `std::exchange(cb_, nullptr)` under the lock): the lock is held so
  it runs at most once; a range-for over a member queue of callables (or a local that took its
  contents: `cmds.swap(queue_)`) whose every insertion is such code, following an inserted
  parameter to its callers (`queue_on_main([this] {...})`). A member set anywhere from a
  caller's callable (`set_handler(h)`, a public `post(job)` with no caller in the scan) is
  foreign. A callable whose function has no caller in the scan stays foreign; a project
  function counts only when its definition is in the scan.
- A callable invoked while holding only a lock the caller passed in by reference (`wait(lock, pred)`),
  or a callable parameter run under a mutex that is itself a parameter (`with_lock(m, f)`), is
  taken as the contract of that function, as with a condition variable's predicate, and stays
  silent.
- Virtual calls on observer or plugin interfaces (`ext->on_alert(a)`) are not seen as
  callbacks, even though they run foreign code too.
- A parameter counts as a callback when it is called like a function and its type is not a
  class defined in the project; a functor class defined in the project is treated as known code.
- `std::invoke(f, ...)` and callbacks reached through containers other than a range-for over a
  container of `std::function` are not recognised.
- Only one call level is followed from a locked call site to a helper that invokes a callback.
  A lock held on purpose across user handlers (a reader lock that makes `close()` wait for
  handlers in flight) is still reported.
- The with-lock visitor idiom is accepted: a callback handed the protected state itself (a
  member, or a pointer / reference / iterator taken from one: `f(m_store)`, `f(it->second)`,
  `f(std::move(items_[i]))`) must run under the lock by contract, and is not reported.
- A mutex reached through a call (`lock_guard g(registry_mutex())`) is named by that call.

## Measured precision
Tune half of the precision ledger: before this change 0 TRUE / 4 FALSE (cpprest 2, onetbb 1,
openttd 1). Issue 11's unseen code: 11 TRUE / 15 FALSE before.
"""

from __future__ import annotations

import re

from lifelint.locking import WILDCARD, display_lock, last_name, locking_index, split_template
from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule

FUNCTION_TYPES = frozenset({"function", "move_only_function", "function_ref", "copyable_function", "Function",
                            "FunctionRef", "Callback", "OnceCallback", "RepeatingCallback", "unique_function",
                            "packaged_task", "function_view", "inplace_function", "small_function"})
CALLBACK_WORDS = re.compile(r"handler|callback|function|func|fun$|_fn$|_cb$|notify|hook|listener|delegate", re.IGNORECASE)


def _is_function_type(type_text: str) -> bool:
    head, _ = split_template(type_text)
    base = last_name(head)
    return base in FUNCTION_TYPES or bool(CALLBACK_WORDS.search(base))


def _element_is_function(type_text: str) -> bool:
    head, args = split_template(type_text)
    if not args:
        return False
    base = last_name(head)
    arg = args[-1] if base in ("map", "unordered_map", "multimap") else args[0]
    return _is_function_type(arg)


_WRAPPERS = re.compile(r"^(?:std::)?(?:move|forward(?:<.*>)?|ref|cref|as_const)\((.*)\)$", re.DOTALL)


def _unwrap_arg(a: str) -> str:
    a = a.strip()
    m = _WRAPPERS.match(a)
    while m:
        a = m.group(1).strip()
        m = _WRAPPERS.match(a)
    return a


def _project_code(li, text: str, caller=None, depth: int = 0) -> bool:
    """The callable is code of this project, not a caller's: a lambda written here, a bound
    member or function of the project (`std::bind(&C::m, this)`, `&C::m`), a project function
    by name, or a parameter of the caller that its own callers fill with such code."""
    a = _unwrap_arg(text)
    if a.startswith("["):
        return True
    m = re.match(r"^(?:std::|boost::)?bind(?:_front)?\(\s*&?\s*([\w:]+)", a) or re.match(r"^&\s*([\w:]+)$", a)
    name = m.group(1) if m else (a if re.fullmatch(r"[A-Za-z_][\w:]*", a) else None)
    if name is None:
        return False
    short = name.split("::")[-1]
    if caller is not None:
        ps = [p.name for p in caller.fn.params]
        if short in ps:  # the caller's own parameter: what its callers pass
            return depth < 2 and _param_is_project_code(li, caller, ps.index(short), depth + 1)
    return li.index is not None and short in li.index.cpp_functions


def _param_is_project_code(li, fl, pos: int, depth: int = 0) -> bool:
    """Every call of `fl` in the project passes project code as argument `pos` (and there is one)."""
    seen = False
    for cs in fl.callers:
        call = cs.fn.fn.flow.calls[cs.call] if cs.fn.fn.flow is not None else None
        if call is None or pos >= len(call.args):
            return False
        if not _project_code(li, call.args[pos], cs.fn, depth):
            return False
        seen = True
    return seen


def _member_is_project_code(li, fl, name: str) -> bool:
    """A callback member only ever assigned project code (a lambda, a bound member), in the
    constructor or elsewhere, and never from outside (`set_handler(f)` with a caller's `f`)."""
    if not fl.cls or li.index is None:
        return False
    seen = False
    for _ff, m in li.index.methods_of(fl.cls):
        flow = m.flow
        if flow is None:
            continue
        for a in flow.assigns:
            if a.target_name != name or a.op != "=":
                continue
            v = a.value.strip()
            if v in ("nullptr", "NULL", "{}", "0"):
                continue
            owner = li.of(m)
            if not _project_code(li, v, owner):
                return False
            seen = True
        if m.is_ctor:  # member initialisers `: cb_([this] {...})`, `: cb_(std::bind(&C::m, this))`
            for u in flow.uses:
                if u.name != name or u.access != "write" or u.kind != "member":
                    continue
                if any(a.span.start_byte <= u.span.start_byte < a.span.end_byte for a in flow.assigns):
                    continue  # an assignment in the body: judged above
                end = u.span.end_byte
                if any(end <= L.span.start_byte <= end + 2 for L in flow.lambdas):
                    seen = True
                    continue
                init = next((c for c in flow.calls if end <= c.span.start_byte <= end + 2 and c.parent_call is None), None)
                if init is None or not _project_code(li, f"{init.callee}({', '.join(init.args)})", li.of(m)):
                    return False
                seen = True
    return seen


_INSERTS = frozenset({"push_back", "emplace_back", "push", "emplace", "insert", "push_front", "emplace_front",
                      "enqueue", "append"})


def _container_is_project_code(li, fl, name: str) -> bool:
    """A member container of callables whose every insertion (`q.emplace_back(f)`, in any method
    of the class) is project code, following an inserted parameter to the callers that fill it
    (`QueueOnMainThread([=] {...})`): the queue only ever runs the project's own commands."""
    if not fl.cls or li.index is None:
        return False
    seen = False
    for _ff, m in li.index.methods_of(fl.cls):
        flow = m.flow
        if flow is None:
            continue
        for c in flow.calls:
            if c.receiver not in (name, "this->" + name) or c.name not in _INSERTS:
                continue
            if not c.args or not _project_code(li, c.args[-1], li.of(m)):
                return False
            seen = True
        for a in flow.assigns:
            if a.target_name == name and a.op == "=" and a.value.strip() not in ("{}",):
                return False  # replaced wholesale from elsewhere
    return seen


def _range_source_member(flow, fields, rng: str, at: int, scope) -> str | None:
    """The member a range-for's container comes from: the member itself, or a local that took its
    contents (`cmds.swap(this->cmd_queue)`, `auto cmds = std::move(cmd_queue)`, `std::exchange`)."""
    if rng in fields:
        return rng
    di = flow.decl_named(rng, at, scope)
    if di is None:
        return None
    d = flow.decls[di]
    m = re.search(r"(?:move|exchange)\(\s*(?:this->)?(\w+)", d.init or "")
    if m and m.group(1) in fields:
        return m.group(1)
    for c in flow.calls:
        if c.name == "swap" and c.args:
            a, b = (c.receiver or "").replace("this->", ""), c.args[0].replace("this->", "").strip()
            if a == rng and b in fields:
                return b
            if b == rng and a in fields:
                return a
    return None


def _cleared_with_call(flow, name: str, c) -> bool:
    """`if (cb_) { cb_(); cb_ = nullptr; }` / `auto cb = std::exchange(cb_, nullptr)`: the lock is
    held on purpose so the callback runs at most once and never after it was cleared."""
    for a in flow.assigns:
        if a.target_name == name and a.op == "=" and a.value.strip() in ("nullptr", "NULL", "{}", "0") \
                and a.locks and set(a.locks) & set(c.locks):
            return True
    for o in flow.calls:
        if o.receiver in (name, "this->" + name) and o.name in ("reset", "clear", "swap") and set(o.locks) & set(c.locks):
            return True
    return False


def callback_invocations(li, fl):
    """(Call, description) for each call of a callback in `fl`."""
    flow = fl.fn.flow
    fields = {name: v for name, (_owner, v) in fl.fields.items()}
    for c in flow.calls:
        if c.kind != "call":
            continue
        what = None
        if c.callee_kind in ("param", "local") and c.callee_decl is not None:
            d = flow.decls[c.callee_decl]
            if d.kind == "lambda-param":
                continue
            if d.kind == "param":
                base = last_name(split_template(d.type)[0])
                if base in li.classes and not _is_function_type(d.type):
                    continue  # a functor class of this project: known code
                pos = next((i for i, p in enumerate(fl.fn.params) if p.name == d.name), None)
                if pos is not None and _param_is_project_code(li, fl, pos):
                    continue  # every caller hands in its own lambda or a project function
                if d.pointer_depth and base not in FUNCTION_TYPES:
                    what = f"function pointer parameter `{d.name}`"
                elif _is_function_type(d.type):
                    what = f"callback parameter `{d.name}` (`{_short(d.type)}`)"
                else:
                    what = f"callable parameter `{d.name}` (`{_short(d.type)}`)"
            elif d.kind in ("local", "condition"):
                if d.init and d.init.lstrip().startswith("["):
                    continue  # a local lambda: known code
                if d.init and re.search(r"\b(?:std::)?(?:exchange|move)\(\s*(?:this->)?\w+\s*(?:,|\))", d.init) \
                        and c.locks and set(c.locks) & set(d.locks):
                    continue  # taken out of the member and run under the same lock: at most once, on purpose
                if _is_function_type(d.type) and last_name(split_template(d.type)[0]) in FUNCTION_TYPES:
                    what = f"callback `{d.name}` (`{_short(d.type)}`)"
            elif d.kind == "range" and d.init:
                rng = d.init.strip().replace("this->", "")
                t = None
                if rng in fields:
                    t = fields[rng].type
                else:
                    di = flow.decl_named(rng, d.span.start_byte, d.scope)
                    if di is not None:
                        t = flow.decls[di].type
                src = _range_source_member(flow, fields, rng, d.span.start_byte, d.scope)
                if t and _element_is_function(t) and not (src and _container_is_project_code(li, fl, src)):
                    what = f"callback `{d.name}` from `{rng}`"
        else:
            name = None
            if c.callee_kind == "member":
                name = c.callee
            elif c.callee_kind == "function" and c.receiver is None and re.fullmatch(r"[A-Za-z_]\w*", c.callee):
                name = c.callee
            elif c.callee_kind == "method" and c.receiver == "this":
                name = c.name
            ftype = fields[name].type if name and name in fields else ""
            fbase = last_name(split_template(ftype)[0]) if ftype else ""
            if ftype and not fields[name].pointer_depth and _is_function_type(ftype) \
                    and (fbase in FUNCTION_TYPES or fbase not in li.classes) \
                    and not _cleared_with_call(flow, name, c) and not _member_is_project_code(li, fl, name):
                what = f"callback member `{name}` (`{_short(fields[name].type)}`)"
        if what and not _hands_over_guarded_state(fl, c):
            yield c, what


def _hands_over_guarded_state(fl, c) -> bool:
    """The with-lock visitor idiom: the callback is given the protected state itself (a member, or
    a pointer / reference / iterator taken from one), so it must run under the lock by contract:
    `f(m_store)`, `f(it->second)` with `it = m_map.find(k)`."""
    flow = fl.fn.flow
    fields = fl.fields
    derived: dict[int, bool] = {}

    def view_from_member(di: int, depth: int = 0) -> bool:
        if di in derived:
            return derived[di]
        derived[di] = False
        d = flow.decls[di]
        if not (d.view or d.is_reference or d.pointer_depth) or not d.init or depth > 3:
            return False
        for name in re.findall(r"[A-Za-z_]\w*", d.init):
            if name in fields and not fields[name][1].is_mutex:
                derived[di] = True
                break
            dj = flow.decl_named(name, d.span.start_byte, d.scope)
            if dj is not None and dj != di and view_from_member(dj, depth + 1):
                derived[di] = True
                break
        return derived[di]

    for arg in c.args:
        a = _unwrap_arg(arg).lstrip("*&(").strip()
        root = re.match(r"(?:this->)?([A-Za-z_]\w*)", a)
        if root is None:
            continue
        name = root.group(1)
        if a.startswith("this") and not a.startswith("this->"):
            return True  # `f(*this)`
        di = flow.decl_named(name, c.span.start_byte, c.scope)
        if di is None:
            if name in fields and not fields[name][1].is_mutex:
                return True
            continue
        if view_from_member(di):
            return True
    return False


def _short(t: str) -> str:
    t = " ".join(t.split())
    return t if len(t) <= 60 else t[:57] + "..."


class CallbackUnderLock(Rule):
    code = "LL205"
    name = "callback-under-lock"
    group = "nursery"  # measured: 0 TRUE and 7 FALSE of 7 triaged test-half findings (fewer than 10; 0 / 5 at the start of session 8)
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A callback is invoked while a lock is held: foreign code runs inside the critical section."
    tags = ("concurrency", "deadlock")
    seeds = ("001",)

    def check(self, facts, index):
        li = locking_index(index)
        for fl in li.in_file(facts.path):
            regions = fl.fn.locks or []
            for c, what in callback_invocations(li, fl):
                local = set()
                for i in c.locks:
                    if i < len(fl.region_keys):
                        local.update(fl.region_keys[i])
                held = fl.held_at(frozenset(local), c.lambda_index, c.span.start_byte)
                if held and not local and not fl.guard_params and fl.callers:
                    continue  # held only because the callers hold it: reported at their call (below)
                if held and not local and held <= {WILDCARD}:
                    # The caller handed in both the lock and the callable (`wait(lock, pred)`): running
                    # it under that lock is the contract, as with a condition variable's predicate.
                    continue
                if held and c.callee_kind == "param" and all(k == WILDCARD or k.startswith(fl.fn.qualname + "(") for k in held):
                    # `with_lock(m, f)`: the caller passed the mutex and the callable together.
                    continue
                if not held:
                    continue
                where = _lock_names(held)
                related = []
                taken_here = [i for i in c.locks if i < len(regions) and regions[i].kind != "param"]
                if taken_here:
                    r = regions[taken_here[-1]]
                    related.append(Related(r.span, f"{where} taken here"))
                    end = _release_after(r, c.span.start_byte)
                    if end is not None:
                        related.append(Related(end, "released here"))
                message = f"The {what} is invoked while {where} is held."
                because = ("The callback runs code this class does not control, which deadlocks if it calls back in "
                           "and stalls every thread waiting for the lock.")
                fix = ("Copy what it needs under the lock and call it after the guard's scope (or `unlock()` first, "
                       "or post it).")
                yield self.finding(c.span, message, related, why=because, fix=fix)
            # One level down: this function calls, with a lock held, a helper that invokes a
            # callback. Reported here, at the call that holds the lock, naming the callback's line.
            reported = set()
            for cs in fl.calls:
                if not cs.runs_now or fl.lambda_runs_later(cs.lambda_index):
                    continue
                ch = fl.held_at(cs.held, cs.lambda_index, cs.span.start_byte)
                if not ch or ch <= {WILDCARD}:
                    continue
                hit = None
                for t in cs.targets:
                    if t is fl:
                        continue
                    for c, what in callback_invocations(li, t):
                        own = {k for i in c.locks if i < len(t.region_keys) for k in t.region_keys[i]}
                        if own or t.lambda_runs_later(c.lambda_index) or t.guard_params:
                            continue  # it takes its own lock there: reported in that function
                        hit = (t, c, what)
                        break
                    if hit:
                        break
                if hit is None:
                    continue
                t, c, what = hit
                if id(t) in reported:
                    continue  # one finding per helper and caller
                reported.add(id(t))
                where = _lock_names(ch)
                message = f"`{t.fn.name}` is called while {where} is held, and it invokes a callback at line {c.span.line}."
                because = (f"`{fl.label}` calls `{t.label}` while holding {where}, and `{t.label}` invokes the {what}: "
                           "the callback runs inside this critical section, deadlocks if it calls back in, and stalls "
                           "every thread waiting for the lock.")
                fix = f"Call `{t.label}` after releasing the lock (or have it return the callback to invoke)."
                related = [Related(c.span, f"the {what} is invoked here", None if t.path == facts.path else t.path)]
                yield self.finding(cs.span, message, related, why=because, fix=fix)


def _lock_names(held) -> str:
    """`a::m`, `b::n` for the held lock keys; a key with no printable name (a lock handed in by
    the caller) reads as "the caller's lock", never as an empty name."""
    # a mutex returned by a call (`lock_guard g(registry_mutex())`) has no name of its own: show the call
    names = [display_lock(k) or k.split("::")[-1].rsplit(":", 1)[-1] for k in sorted(held) if k != WILDCARD]
    names = [n for n in names if n]
    return ", ".join(f"`{n}`" for n in names) if names else "the caller's lock"


def _release_after(holder, byte: int):
    """Where the holder is next released after `byte` in the source: an `unlock()`, else the end
    of the guard's scope (for the related location only)."""
    rel = [op[2] for op in holder.ops if op[0] == "rel" and op[1] > byte]
    if rel:
        return min(rel, key=lambda s: s.start_byte)
    return next((op[4] for op in holder.ops if op[0] == "scope" and op[3] < 0), None)
