"""## What it does
Flags a callback invoked while a lock is held: a `std::function` (or handler-typed) member or
parameter, a callable template parameter, a function pointer parameter, or a local copy of one,
called inside a guard's scope, before the guard's `unlock()`. It also follows one call level:
a helper that invokes a callback member is reported when a caller calls it with a lock held
(libtorrent's `alert_manager` calls its notify function from `maybe_notify()`, reached from
`emplace_alert()` under the queue mutex).

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
- The with-lock visitor idiom is accepted: a callback handed the protected state itself (a
  member, or a pointer / reference / iterator taken from one: `f(m_store)`, `f(it->second)`)
  must run under the lock by contract, and is not reported.
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
                if d.pointer_depth and base not in FUNCTION_TYPES:
                    what = f"function pointer parameter `{d.name}`"
                elif _is_function_type(d.type):
                    what = f"callback parameter `{d.name}` (`{_short(d.type)}`)"
                else:
                    what = f"callable parameter `{d.name}` (`{_short(d.type)}`)"
            elif d.kind in ("local", "condition"):
                if d.init and d.init.lstrip().startswith("["):
                    continue  # a local lambda: known code
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
                if t and _element_is_function(t):
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
                    and (fbase in FUNCTION_TYPES or fbase not in li.classes):
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
        a = arg.strip().lstrip("*&(").strip()
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
                    held = frozenset()  # held only because every caller holds it: reported below, naming the caller
                if held and not local and held <= {WILDCARD}:
                    # The caller handed in both the lock and the callable (`wait(lock, pred)`): running
                    # it under that lock is the contract, as with a condition variable's predicate.
                    continue
                if held and c.callee_kind == "param" and all(k == WILDCARD or k.startswith(fl.fn.qualname + "(") for k in held):
                    # `with_lock(m, f)`: the caller passed the mutex and the callable together.
                    continue
                if held:
                    names = [display_lock(k) for k in sorted(held) if k != WILDCARD] or ["the caller's lock"]
                    where = ", ".join(f"`{n}`" for n in names)
                    related = []
                    taken_here = [i for i in c.locks if i < len(regions) and regions[i].kind != "param"]
                    if taken_here:
                        r = regions[taken_here[-1]]
                        related.append(Related(r.span, f"{where} taken here"))
                        end = _release_after(r, c.span.start_byte)
                        if end is not None:
                            related.append(Related(end, "released here"))
                    else:
                        for cs in fl.callers:
                            if cs.held or cs.fn.entry:
                                related.append(Related(cs.span, f"`{fl.label}` called here with {where} held",
                                                       None if cs.fn.path == facts.path else cs.fn.path))
                                break
                    message = (f"The {what} is invoked while {where} is held: the callback runs code this class "
                               f"does not control, which deadlocks if it calls back in and stalls every thread "
                               f"waiting for the lock. Copy what it needs under the lock and call it after the "
                               f"guard's scope (or `unlock()` first, or post it).")
                    yield self.finding(c.span, message, related)
                    continue
                if fl.lambda_runs_later(c.lambda_index):
                    continue
                # One level up: a caller holds a lock when it calls this helper.
                for cs in fl.callers:
                    if not cs.runs_now:
                        continue
                    ch = cs.fn.held_at(cs.held, cs.lambda_index, cs.span.start_byte)
                    if not ch:
                        continue
                    names = [display_lock(k) for k in sorted(ch) if k != WILDCARD] or ["the caller's lock"]
                    where = ", ".join(f"`{n}`" for n in names)
                    every = " (as every caller does)" if fl.entry & ch else ""
                    message = (f"The {what} is invoked in `{fl.label}`, which `{cs.fn.label}` calls while holding "
                               f"{where}{every}: the callback runs inside that critical section, deadlocks if it calls "
                               f"back in, and stalls every thread waiting for the lock. Invoke it after the "
                               f"caller releases the lock (return a flag, or copy the callback out).")
                    related = [Related(cs.span, f"`{fl.label}` called here with {where} held",
                                       None if cs.fn.path == facts.path else cs.fn.path)]
                    yield self.finding(c.span, message, related)
                    break


def _release_after(holder, byte: int):
    """Where the holder is next released after `byte` in the source: an `unlock()`, else the end
    of the guard's scope (for the related location only)."""
    rel = [op[2] for op in holder.ops if op[0] == "rel" and op[1] > byte]
    if rel:
        return min(rel, key=lambda s: s.start_byte)
    return next((op[4] for op in holder.ops if op[0] == "scope" and op[3] < 0), None)
