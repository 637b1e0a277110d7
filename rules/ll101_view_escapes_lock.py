"""## What it does
Flags a non-owning view of lock-protected data that outlives the lock: a `span`,
`string_view`, raw pointer (`.data()`, `.c_str()`, `&x[i]`, `.get()`), iterator or reference
obtained while a lock guard is held and then

- used where some path from it went through a release of that lock (the guard's scope end, an
  explicit `unlock()`, the unlock at the end of a previous loop iteration, a condition-variable
  wait: `cv.wait(lock, ...)`, `wait_for`, `wait_until`, absl `cv.Wait(&mu)` / `mu.Await(..)`,
  `pthread_cond_wait(&c, &m)`, which give the lock up while they wait), even when the lock was
  taken again since (a fresh lookup under the new hold clears it),
- captured into a lambda that runs later,
- returned (the lock is released as the function returns), including a getter that locks and
  returns a reference, pointer or view to the member it guards
  (`const T& load() const { std::lock_guard g(m); return m_load; }`); the callers in the
  project that use what it returns (bind it to a reference, pointer or view and use that,
  iterate it, call a method on it), found through the call graph in any file of the scan, are
  related locations (up to three: "`n` used here after `name_of()` released `mu_`"),
- stored into a member that is also read without that lock (a read in a helper whose callers
  all hold it, or whose comment or annotation says they do, is locked: lifelint.locking),
- or put into a container of views (`std::vector<std::string_view>`, `std::vector<const char*>`,
  `std::map<int, const T*>`) that is used after the lock is released, returned while it is
  held, or is the caller's (a reference parameter): `out.push_back(s)` for `auto& s : names_`,
  `out.emplace_back(name_.c_str())`. Reading only its `size()` / `empty()` afterwards is fine.

Locked pointers (`folly::Synchronized` style) count as guards that also point to the data:
`auto v = sync.wlock();` (or `rlock()`, `ulock()`, a `LockedPtr` / `strict_lock_ptr` type)
holds the lock until `v`'s scope ends or `v.unlock()`, and `v->x`, `*v` are the guarded data.
A locked pointer that is a temporary holds the lock only to the end of its full expression: a
reference, pointer, view or iterator bound through it (`const auto& x = sync.rlock()->items;`,
`std::string_view sv = *sync.rlock();`, `for (auto& e : sync.rlock()->items)`, a getter's
`return sync.rlock()->name;`) is reported at its first use after that. A `withWLock` /
`withRLock` callback that returns a pointer, reference or view into the data it was given is
reported at its `return` when the call's result is used (the lock ends with the callback). The
accessor and callback method names are tables in lifelint.facts.cpp_locks, extended by
`cpp.lock-accessors` and `cpp.lock-callback-methods`; locked-pointer types by `cpp.lock-types`.

All guards lifelint knows count: `std::lock_guard`, `std::unique_lock` (with `unlock()`),
`std::scoped_lock`, `std::shared_lock`, boost and absl guards, a project's own guard classes
named like guards (`scoped_lock_t`, `InstrumentedMutexLock`), bare `m.lock()/m.unlock()` (also
`mu.Lock()/mu.Unlock()`), guards, helpers and macros the file itself defines (see
lifelint.facts.cpp_lock_effects), and `cpp.lock-types`. Where a lock is held comes from the
lock-set dataflow over each function's control-flow graph (lifelint.facts.cpp_locksets): held
means held on every path.

Rust: a raw pointer taken from a `MutexGuard` / `RwLock` guard (`guard.as_ptr()`, `&*guard as *const _`,
`guard.as_mut_ptr()`) used where some path from it went through the guard's release (`drop(guard)`,
the guard moved into a call, its scope's end on any way out, a temporary's statement end under
Rust 2021's rules), or returned. The guard's life follows each function's control-flow graph
(lifelint.facts.rust_cfg): a drop on a branch that returns, panics, breaks out or leaves by `?`
does not make a later use stale; a `try_lock()` guard lives only where its pattern matched; a
guard returned by a helper (`fn state(&self) -> MutexGuard<..>`, in this file or another file of
the scan) counts.

## Why is this bad?
The lock protects the data, not the view. Once it is released another thread may write,
resize, erase or free what the view points to, and the view silently reads torn data or freed
memory. In seed 000, `async_read` filled a `span` from the storage under `m_mutex`, released the
lock, and posted the span to a callback while `async_write` could reallocate the vector behind
it.

## Example
```cpp
const std::string& first = jobs_.front();          // under mu_
cv_.wait(lk, [this] { return ready_; });            // mu_ released while waiting
consume(first);                                     // another consumer may have popped it

const auto& ids = reg_.rlock()->ids;                // the temporary unlocks at the `;`
show(ids[0]);
```
```cpp
span<char const> data;
{
    std::lock_guard<std::mutex> lock(m_mutex);
    data = m_torrents[storage]->readv(r, error);
}                                   // m_mutex released here
post(m_ioc, [data, handler] { handler(data); });   // data may already dangle
```

## Use instead
Copy what you need into an owning container while the lock is held, or finish the work inside
the locked scope:
```cpp
std::vector<char> data;
{
    std::lock_guard<std::mutex> lock(m_mutex);
    auto s = m_torrents[storage]->readv(r, error);
    data.assign(s.begin(), s.end());
}
```
For getters, return by value (`T load() const`).

After a condition-variable wait, look the view up again:
```cpp
std::unique_lock<std::mutex> lk(mu_);
cv_.wait(lk, [this] { return !jobs_.empty(); });
const std::string& first = jobs_.front();   // not taken before the wait
```
With locked pointers, keep the locked pointer alive as long as the view (`auto locked =
sync.rlock(); const auto& ids = locked->ids;`), or copy (`auto ids = sync.rlock()->ids;`); a
`withRLock` callback returns a copy (`[](const Registry& r) { return r.name; }`). Collect
`std::string`, not `std::string_view`, when the container outlives the lock.

## Known limits
- The flow is path-insensitive: two branches on the same condition are not correlated, so an
  `unlock()` under `if (c)` followed by a use under `if (!c)` is still reported.
- A reference initialised from an arbitrary function call is not treated as a view (the call
  may return by value); only subscripts, `at()`, `front()`, `back()`, `*it`, and member chains are.
- Views derived only from parameters or function calls of other objects are not considered
  lock-protected, unless the lock held is that object's own mutex (`c.items` under `c.mutex`,
  `ctx->buf` under `ctx->mu`).
- The callers named for a locked getter are the ones the call graph resolves (by name, class
  and arity) that use the result directly: bound to a reference / pointer / view declaration and
  used, a range-`for` over it, a method called on it. A view passed straight to another call
  (`show(reg.name())`), dereferenced without a call (`*reg.first()`, `reg.item()->x`) or stored
  in a member is not listed; a caller that holds the getter's own lock around the call is left
  out.
- Comparing a pointer or iterator after the lock (`if (!p)`, `it == m.end()`) is not reported.
- A reference or pointer to a whole object named by a member chain (`auto& q = queue_;`) is not
  stale after a wait (the lock is held again and the object is where it was); after any other
  release it is reported like an element view.
- Locked pointers: only accessors named in the table (`wlock`, `rlock`, `ulock`,
  `contextualLock`, `contextualRLock`, plus `cpp.lock-accessors`) or declared with a
  locked-pointer type are known; `lock()` is not (it is also `weak_ptr::lock()`), so a
  project whose accessor is `lock()` (pdns `LockGuarded`) names it in config. A project's own
  method that returns a guard is not learned from its definition. A temporary's view is followed
  in source order within its body (a use before it in a loop is not). The range-for case is C++20
  semantics: C++23 (P2718) extends the temporary's life to the end of the loop.
- A `withWLock` callback is checked only when it is written at the call (not passed through a
  variable), and only its first parameter counts as the locked data.
- Containers: a pointer value copied out of a guarded list (`out.push_back(s)` for a `Session*`)
  is not a view (the pointee is usually owned elsewhere); only `&x`, `.c_str()`, `.data()`,
  `.get()` and views already taken under the lock are. A container that is moved or swapped
  elsewhere is not followed.
- Rust: temporaries follow edition 2021 (an `if let` scrutinee's guard lives through `else`;
  2024 drops it before). A guard helper defined in another file is matched by name (a method
  called as a method or as `Type::name(..)`, a free function unqualified or through a module
  path); a name that another function of the scan also defines (one returning no guard, or
  for another type) takes no lock. A guard moved into a call is released only when the
  callee is a same-file function taking a guard by value (moved into `Arc::new`, a channel or
  a struct it may live on); a pointer used inside a closure or an `async` block (bodies of
  their own) is not followed.
"""

from __future__ import annotations

import re

from lifelint.facts.cpp_flow import OWNING_TYPES, type_base_name, view_kind
from lifelint.facts.cpp_locks import LOCK_CALLBACK_METHODS, accessor_table
from lifelint.model import Level, Precision, Related, short_name
from lifelint.registry import Rule
from lifelint.sinks import class_members, lambda_sink, member_type
from lifelint import rust_checks

VIEW_WORDS = {"span": "a span", "string_view": "a string_view", "iterator": "an iterator", "pointer": "a raw pointer",
              "reference": "a reference"}
_REF_INIT = re.compile(r"(\]|\.at\s*\(.*\)|\.front\s*\(\s*\)|\.back\s*\(\s*\)|->\s*(first|second)|\.(first|second)|^\*)\s*$")
_PTR_EXPR = re.compile(r"(?:\.|->)\s*(data|c_str|get)\s*\(\s*\)\s*$|^&(?!&)")
_ITER_EXPR = re.compile(r"(?:\.|->)\s*(begin|end|cbegin|cend|rbegin|rend|find|lower_bound|upper_bound)\s*\(.*\)\s*$")
_TRIVIAL = re.compile(r"^\s*(nullptr|NULL|0|\{\s*\}|\"[^\"]*\")\s*$")
_OWNER = re.compile(r"([A-Za-z_]\w*)\s*(?:\.|->)\s*[A-Za-z_]\w*$")
PROTECTED_KINDS = frozenset({"member", "unknown", "global", "this"})
# Containers whose elements can be views (`std::vector<std::string_view>`), and how views go in.
_CONTAINERS = OWNING_TYPES - {"string", "basic_string", "wstring", "shared_ptr", "unique_ptr", "optional", "variant",
                              "function", "bitset", "buffer", "QString", "QByteArray", "weak_ptr", "intrusive_ptr", "any"}
_PUSH = frozenset({"push_back", "emplace_back", "push_front", "emplace_front", "push", "emplace", "insert", "append"})
# Reading a container's size is not following the views in it.
_SIZE_ONLY = frozenset({"size", "empty", "clear", "reserve", "capacity", "length"})
# An object itself (`auto& q = queue_;`, `auto* q = &state_`, `auto& s = *stats_`,
# `auto& c = state_->conns`), not an element or buffer inside a container: a wait gives the lock
# back before it returns, and a named object is still where it was (elements move, members don't).
_WHOLE_OBJECT = re.compile(r"[&*]?\s*(?:this\s*->\s*)?[A-Za-z_]\w*(?:\s*(?:\.|->)\s*[A-Za-z_]\w*)*")


# How many callers' uses of a view a locked getter returns are named as related locations.
MAX_CALLER_USES = 3


def _caller_uses(index, fn, mutex: str, settings=None) -> list:
    """Where callers in the project use the view a locked getter returned (the lock is gone by
    then): a reference, pointer, view or iterator bound to the result and then used, a
    range-`for` over it, or a method called on it (`reg.name().size()`). Read from the lock
    index's call graph (callers in any file of the scan); at most MAX_CALLER_USES, in file and
    line order. A caller that copies the result into a value (`std::string s = get();`) or
    holds the getter's own lock around the call is not listed."""
    if index is None:
        return []
    from lifelint.locking import locking_index
    try:
        li = locking_index(index)
    except Exception:  # bad input never crashes the run: the finding stands without callers
        return []
    fl = li.of(fn)
    if fl is None:
        return []
    keys = {k for ks in fl.region_keys for k in ks}
    found = []
    for cs in fl.callers:
        caller = cs.fn
        flow = caller.fn.flow
        if flow is None or cs.call >= len(flow.calls):
            continue
        if keys and keys <= caller.held_at(cs.held, cs.lambda_index):
            continue  # the caller holds the getter's lock around the call and the use
        c = flow.calls[cs.call]
        got = _use_of_result(flow, c)
        if got is None:
            continue
        span, name = got
        found.append((caller.path, span.start_byte, span, name, caller))
    out = []
    for path, _b, span, name, caller in sorted(found, key=lambda x: (x[0], x[1]))[:MAX_CALLER_USES]:
        out.append(Related(span, f"`{name}` used here after `{fn.name}()` released {mutex}"
                                 f" (in `{caller.label}`)", path))
    return out


def _use_of_result(flow, c):
    """(span, name) of the first use of call `c`'s result as a view in its function, or None."""
    if c.result == "init" and c.result_target:
        for di, d in enumerate(flow.decls):
            if d.name != c.result_target or d.init_span is None or not d.init_span.contains(c.span):
                continue
            if d.view is None:
                return None  # a copy by value
            uses = sorted((u for u in flow.uses_of_decl(di) if u.span.start_byte >= d.visible_from),
                          key=lambda u: u.span.start_byte)
            return (uses[0].span if uses else d.span), d.name
        return None
    for d in flow.decls:  # `for (const auto& e : reg.items())`
        if d.kind == "range" and d.init_span is not None and d.init_span.start_byte == c.span.start_byte \
                and d.init_span.end_byte == c.span.end_byte:
            return d.span, " ".join(d.init.split()) if d.init else d.name
    if c.result == "receiver" and c.receiver_of is not None and c.receiver_of < len(flow.calls):
        outer = flow.calls[c.receiver_of]
        return outer.span, short_name(outer.callee, 40) + "()"
    return None


def _lines(n: int) -> str:
    return f"line {n}"


class ViewEscapesLock(Rule):
    code = "LL101"
    name = "view-escapes-lock"
    group = "nursery"  # measured: 2 TRUE and 4 FALSE of 6 triaged test-half findings (fewer than 10; unchanged in sessions 7 and 8)
    languages = ("cpp", "rust")
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A span / string_view / pointer / iterator / reference obtained under a lock is used after the lock is released."
    tags = ("correctness", "lifetime", "concurrency")
    seeds = ("000", "001")

    def check(self, facts, index):
        if facts.language == "rust":
            yield from rust_checks.check_ll101(facts, index)
            return
        for fn in facts.cpp.functions:
            flow = fn.flow
            if flow is None:
                continue
            yield from self._temporary_locked_ptrs(fn, flow)
            yield from self._lock_callbacks(fn, flow)
            if not fn.locks:
                continue
            methods = None
            for ri, region in enumerate(fn.locks):
                if region.kind == "param":
                    continue  # the caller's guard: its views are the caller's business
                lam = flow.lock_lambda[ri] if ri < len(flow.lock_lambda) else None
                if methods is None:
                    methods = class_members(index, fn.class_name)[1] if fn.class_name else frozenset()
                yield from self._region(fn, flow, ri, region, lam, methods, index)

    # -----------------------------------------------------------------------------------
    def _protected(self, flow, span, tainted: set[int], methods, owners=frozenset(), locked_ptr: str | None = None) -> bool:
        """Does the expression at `span` read lock-protected state (a member, a global, something
        not declared in the function, a view already obtained under this lock, or a member of
        the object whose mutex is held: `c.items` under `c.mutex`, `ctx->buf` under `ctx->mu`)?"""
        for u in flow.uses:
            if span.start_byte <= u.span.start_byte and u.span.end_byte <= span.end_byte:
                if u.kind in PROTECTED_KINDS and u.kind != "this":
                    return True
                if owners and u.name in owners and re.match(rf"{re.escape(u.name)}\s*(?:\.|->)", u.path or ""):
                    return True
                if locked_ptr and u.name == locked_ptr:
                    return True  # `v->x`, `*v`: the data the locked pointer guards
                if u.kind == "this" and u.access == "method":
                    return True
                if u.decl is not None and u.decl in tainted:
                    return True
        for c in flow.calls:
            if span.start_byte <= c.span.start_byte and c.span.end_byte <= span.end_byte:
                if c.callee_kind == "function" and c.name in methods:
                    return True
        return False

    def _region(self, fn, flow, ri, region, lam, methods, index):
        mutex = ", ".join(f"`{m}`" for m in region.mutexes) or "the mutex"
        if region.points_to:
            mutex = f"the lock `{region.guard}` holds on {mutex}"
        if flow.lockflow is None:
            return
        end_span, end_kind = _next_release(region, region.span.start_byte)
        related_end = Related(end_span, f"{mutex} is released here")
        related_lock = Related(region.span, f"{mutex} is locked here")  # the first step of the path (SARIF codeFlows)
        # The objects whose mutex this is (`c` for `c.mutex`, `ctx` for `ctx->mu`): their members
        # are what the lock protects.
        owners = frozenset(m.group(1) for m in (_OWNER.match(x) for x in region.mutexes) if m)
        lp = region.guard if region.points_to else None
        # 1. Views that get their value from protected state while the lock is held.
        tainted: dict[int, tuple[str, object]] = {}  # decl -> (value text, span)
        events = []
        for d_i, d in enumerate(flow.decls):
            if ri in d.locks and d.lambda_index == lam:
                events.append((d.decl_span.start_byte, "decl", d_i, d))
        for a in flow.assigns:
            if ri in a.locks and a.lambda_index == lam and a.plain and a.target_decl is not None and a.target == flow.decls[a.target_decl].name:
                events.append((a.span.start_byte, "assign", a.target_decl, a))
        events.sort(key=lambda e: e[0])
        for _b, kind, di, ev in events:
            d = flow.decls[di]
            if kind == "decl":
                if d.init_span is None or d.init is None or _TRIVIAL.match(d.init) or d.kind in ("static", "capture"):
                    continue
                vk = d.view
                if vk == "reference" and not (_REF_INIT.search(d.init.strip()) or re.fullmatch(r"[\w.\->]+", d.init.strip())):
                    continue
                if vk is None or d.init.strip().startswith("("):
                    continue
                if vk == "pointer" and not self._pointer_view(flow, d.init, d.scope, d.visible_from, tainted):
                    continue
                if self._protected(flow, d.init_span, set(tainted), methods, owners, lp):
                    tainted[di] = (d.init, d.init_span, d.visible_from)
            else:
                vk = d.view
                if vk is None or vk == "reference" or _TRIVIAL.match(ev.value):
                    continue
                if vk == "pointer" and not self._pointer_view(flow, ev.value, ev.scope, ev.span.start_byte, tainted):
                    continue
                if self._protected(flow, ev.value_span, set(tainted), methods, owners, lp):
                    tainted[di] = (ev.value, ev.span, ev.span.end_byte)
        reported: set[int] = set()
        for di, (value, vspan, obtained) in tainted.items():
            d = flow.decls[di]
            what = f"`{d.name}` ({VIEW_WORDS[d.view]} from `{short_name(value, 30)}`)"
            origin = f"It gets its value while {mutex} is locked ({_lines(vspan.line)})"
            if d.kind == "range":
                what = f"`{d.name}` ({VIEW_WORDS[d.view]} to an element of `{short_name(value, 30)}`)"
                origin = f"It is bound while {mutex} is locked ({_lines(vspan.line)})"
            # a. used after the lock is released
            # a wait gives the lock back before it returns: a reference to a whole object stays good
            whole = d.kind != "range" and d.view in ("reference", "pointer") and _WHOLE_OBJECT.fullmatch(value.strip())
            found = self._use_after(flow, di, ri, lam, obtained, ignore=("wait",) if whole else ())
            if found is not None:
                esc, (rspan, rkind) = found
                where = "captured by a lambda" if esc.lambda_index != lam else "used"
                if rkind == "wait":
                    msg = f"{what} is {where} after `{_call_at(flow, rspan)}` at {_lines(rspan.start_row + 1)} released {mutex} to wait."
                    why = (f"{origin}; the wait gives the lock up until it is woken and takes it again, so another thread can "
                           "change or free what the view points to in between, and holding the lock again does not make it valid.")
                    fix = "Take the view (look it up again) after the wait, or copy what you need before it."
                    released = f"the wait releases {mutex} here"
                else:
                    again = (" (taking the lock again does not make it valid: re-fetch it under the new hold)"
                             if ri in _locks_at(flow, esc, lam) else "")
                    msg = f"{what} is {where} after {mutex} is released at {_lines(rspan.start_row + 1)}."
                    why = (f"{origin}, and {_release_words(rspan, rkind)} releases it{again}; another thread can change or "
                           "free what it points to in between.")
                    fix = "Copy the data into an owning container while the lock is held, or finish using it inside the locked scope."
                    released = f"{mutex} is released here"
                reported.add(di)
                yield self.finding(esc.span, msg, why=why, fix=fix, related=[related_lock, Related(vspan, f"`{d.name}` is obtained here, under {mutex}"),
                                                   Related(rspan, released)])
                continue
            # b. captured inside the lock by a lambda that runs later
            for li, L in enumerate(flow.lambdas):
                if L.parent != lam or ri not in L.locks:
                    continue
                cap = next((c for c in L.captures if c.decl == di), None)
                if cap is None and not (L.default and di in L.outer_uses):
                    continue
                sink = lambda_sink(flow, li, fn, index, self.settings)
                if sink is None:
                    continue
                span = cap.span if cap is not None else L.span
                b_span, b_kind = _next_release(region, L.span.start_byte)
                msg = f"{what} is captured by the lambda handed to {sink.what}, which runs after {mutex} is released."
                why = (f"{origin}, and the callback runs after {_release_words(b_span, b_kind)} releases the lock, so it "
                       "reads the view unprotected.")
                fix = "Capture an owning copy instead, or take the lock again inside the callback and re-fetch."
                reported.add(di)
                yield self.finding(span, msg, why=why, fix=fix, related=[related_lock, Related(vspan, f"`{d.name}` is obtained here, under {mutex}"),
                                               Related(b_span, f"{mutex} is released here")])
                break
            if di in reported:
                continue
            # c. returned while the lock is held (the lock ends with the return)
            if lam is None and flow.return_view is not None:
                for r in flow.returns:
                    if r.lambda_index is None and ri in r.locks and r.value_span is not None:
                        if any(u.decl == di and r.value_span.contains(u.span) and not u.test for u in flow.uses):
                            rv = " ".join((r.value or "").split())
                            if rv in (d.name, f"std::move({d.name})"):
                                msg = f"{what} is returned by `{fn.name}` while {mutex} is locked."
                            else:
                                # `return it->second;`: what goes back is the element, not the view itself
                                msg = (f"`{fn.name}` returns {VIEW_WORDS[flow.return_view]} to `{short_name(rv, 30)}`, "
                                       f"an element reached through `{d.name}`, while {mutex} is locked.")
                            why = (f"{origin}; the lock is released as `{fn.name}` returns, so the caller uses "
                                   "what it gets unprotected.")
                            reported.add(di)
                            callers = _caller_uses(index, fn, mutex, self.settings)
                            yield self.finding(r.span, msg, why=why, fix="Return a copy instead.", related=[related_lock, Related(vspan, f"`{d.name}` is obtained here, under {mutex}"), related_end, *callers])
                            break
        # 1d. Views of guarded data put into a container (`out.push_back(s)` into a
        # `std::vector<std::string_view>`) that is used after the lock, or handed back.
        yield from self._view_containers(fn, flow, ri, lam, mutex, tainted, methods, owners, lp, related_lock, related_end)
        # 2. A getter that returns a view of guarded state directly.
        if lam is None and flow.return_view is not None:
            for r in flow.returns:
                if r.lambda_index is not None or ri not in r.locks or r.value is None or r.value_span is None:
                    continue
                v = " ".join(r.value.split())
                if not self._direct_view(flow, r, v, flow.return_view, methods):
                    continue
                msg = f"`{fn.name}` returns {VIEW_WORDS[flow.return_view]} to `{short_name(v, 40)}` while {mutex} is locked."
                why = "The lock is released as it returns, so the caller reads the guarded data unprotected."
                fix = "Return a copy (by value), or let the caller hold the lock while it uses the result."
                yield self.finding(r.span, msg, [related_lock, related_end, *_caller_uses(index, fn, mutex, self.settings)],
                                   why=why, fix=fix)
        # 3. A view of guarded state stored into a member that is read without the lock.
        if lam is None and fn.class_name and index is not None:
            for a in flow.assigns:
                if ri not in a.locks or a.lambda_index is not None or not a.plain or a.target_kind not in ("member", "unknown"):
                    continue
                mtype = member_type(index, fn.class_name, a.target_name)
                if mtype is None:
                    continue
                mview = view_kind(mtype, mtype.count("*"), False)
                if mview not in ("pointer", "span", "string_view", "iterator"):
                    continue
                v = " ".join(a.value.split())
                src_decl = flow.decl_named(v, a.span.start_byte, a.scope) if re.fullmatch(r"\w+", v) else None
                direct = bool(_PTR_EXPR.search(v) or _ITER_EXPR.search(v)) and self._protected(flow, a.value_span, set(tainted), methods)
                if not direct and src_decl not in tainted:
                    continue
                unlocked = self._unlocked_access(index, fn, a.target_name, ri)
                if unlocked is None:
                    continue
                ufile, ufn, uuse = unlocked
                msg = (f"`{a.target}` is set to a view of data guarded by {mutex}, and `{ufn.qualname}` reads it "
                       f"unlocked at line {uuse.span.line}.")
                why = (f"`{a.target}` ({VIEW_WORDS[mview]} member) gets `{_short(v)}` under the lock; the reader can "
                       "follow the view after the data changed.")
                fix = f"Store an owning copy, or read the member only under {mutex}."
                rel = [related_lock, related_end, Related(uuse.span, f"`{a.target_name}` is read here without {mutex}", None if ufile is None else ufile.path)]
                yield self.finding(a.span, msg, rel, why=why, fix=fix)

    def _view_containers(self, fn, flow, ri, lam, mutex, tainted, methods, owners, lp, related_lock, related_end):
        done: set[int] = set()
        for c in flow.calls:
            if c.kind != "call" or c.name not in _PUSH or c.lambda_index != lam or ri not in c.locks or not c.args or not c.receiver:
                continue
            if not re.fullmatch(r"\w+", c.receiver):
                continue
            cdi = flow.decl_named(c.receiver, c.span.start_byte, c.scope)
            if cdi is None or cdi in done:
                continue
            cd = flow.decls[cdi]
            elem = _element_view(cd.type)
            if elem is None or cd.kind not in ("local", "param") or cd.lambda_index != lam:
                continue
            if cd.kind == "param" and not (cd.is_reference or cd.pointer_depth) or cd.kind == "param" and cd.is_const:
                continue
            pushed = None
            for a, aspan in zip(c.args, c.arg_spans):
                if self._element_is_view(flow, a, aspan, elem, tainted, methods, owners, lp, c):
                    pushed = (a, aspan)
                    break
            if pushed is None:
                continue
            a, aspan = pushed
            what = f"`{cd.name}` ({_CONTAINER_WORDS[elem]})"
            origin = f"`{_short(a)}` is put into it while {mutex} is locked (line {c.span.line})"
            rel = [related_lock, Related(c.span, f"a view of guarded data goes into `{cd.name}` here, under {mutex}")]
            if cd.kind == "param":
                done.add(cdi)
                msg = f"`{cd.name}` (the caller's {_CONTAINER_WORDS[elem][2:]}) gets views of data guarded by {mutex}, released as `{fn.name}` returns."
                why = f"{origin}; the lock ends with `{fn.name}`, so the caller follows views into data another thread can change or free."
                yield self.finding(c.span, msg, rel + [related_end], why=why,
                                   fix="Put owning copies into the container (`std::string` instead of `std::string_view`), or fill it under the caller's own hold.")
                continue
            found = self._use_after(flow, cdi, ri, lam, c.span.end_byte,
                                    skip=lambda u: u.access == "method" and u.method in _SIZE_ONLY)
            if found is not None:
                esc, (rspan, rkind) = found
                done.add(cdi)
                where = "captured by a lambda" if esc.lambda_index != lam else "used"
                if rkind == "wait":
                    msg = f"{what} is {where} after `{_call_at(flow, rspan)}` at {_lines(rspan.start_row + 1)} released {mutex} to wait."
                else:
                    msg = f"{what} is {where} after {mutex} is released at {_lines(rspan.start_row + 1)}."
                why = f"{origin}, and {_release_words(rspan, rkind)} releases it; the views in it can point to data another thread changed or freed."
                yield self.finding(esc.span, msg, rel + [Related(rspan, f"{mutex} is released here")], why=why,
                                   fix="Collect owning copies (`std::vector<std::string>`), or finish using the views inside the locked scope.")
                continue
            for r in flow.returns:
                if r.lambda_index != lam or ri not in r.locks or r.value is None:
                    continue
                if " ".join(r.value.split()) in (cd.name, f"std::move({cd.name})"):
                    done.add(cdi)
                    msg = f"{what} is returned by `{fn.name}` while {mutex} is locked."
                    why = f"{origin}; the lock is released as `{fn.name}` returns, so the caller follows views into unguarded data."
                    yield self.finding(r.span, msg, rel + [related_end], why=why,
                                       fix="Return owning copies (`std::vector<std::string>`).")
                    break

    def _element_is_view(self, flow, a: str, aspan, elem: str, tainted, methods, owners, lp, call) -> bool:
        """Is argument `a` of a push into a container of `elem` views a view of guarded data?"""
        v = " ".join(a.split())
        if re.fullmatch(r"\w+", v):
            src = flow.decl_named(v, call.span.start_byte, call.scope)
            if src is None or src not in tainted:
                return False
            sv = flow.decls[src].view
            # a pointer or iterator copied out of the data is a value, unless it was made from it
            return sv == elem or (elem in ("string_view", "span", "reference") and sv in ("reference", "string_view", "span"))
        if not self._protected(flow, aspan, set(tainted), methods, owners, lp):
            return False
        if elem == "pointer":
            return bool(_PTR_EXPR.search(v))
        if elem == "iterator":
            return bool(_ITER_EXPR.search(v))
        # `std::string_view(name_)`, `std::cref(x)`: the view (or reference) made of the argument
        inner = re.sub(r"^(?:std\s*::\s*)?(?:c?ref|string_view|span)\s*[({](.*)[)}]$", r"\1", v)
        return bool(re.fullmatch(r"\*?\s*(?:this\s*->\s*)?\w+(?:\s*(?:\.|->)\s*\w+|\[[^\]]*\])*", inner)
                    or _REF_INIT.search(inner) or (elem != "reference" and _PTR_EXPR.search(v) and not v.startswith("&")))

    # --- locked pointers held by a temporary, and callbacks run under a lock ---------------
    def _cpp_setting(self, attr: str) -> list[str]:
        return list(getattr(getattr(self.settings, "cpp", None), attr, None) or ())

    def _temporary_locked_ptrs(self, fn, flow):
        """`const auto& x = sync.rlock()->member;`, `std::string_view sv = *sync.rlock();`,
        `for (auto& e : sync.rlock()->items)`: the locked pointer is a temporary, destroyed (and the
        lock released) at the end of the full expression; the view bound through it outlives it."""
        accessors = self._accessors()
        if not any(c.name in accessors and not c.args for c in flow.calls):
            return
        temp = self._temp_re()
        events = []  # (view decl, value text, value span, end of the statement, "decl" / "range" / "assign")
        for di, d in enumerate(flow.decls):
            if d.view is not None and d.init and d.init_span is not None and d.kind in ("local", "range", "condition"):
                events.append((di, d.init, d.init_span, d.visible_from if d.kind != "range" else d.init_span.end_byte, d.kind))
        for a in flow.assigns:
            if a.plain and a.target_decl is not None and a.target == flow.decls[a.target_decl].name and flow.decls[a.target_decl].view not in (None, "reference"):
                events.append((a.target_decl, a.value, a.value_span, a.span.end_byte, "assign"))
        for di, value, vspan, after, kind in events:
            d = flow.decls[di]
            hit = self._through_temp(temp, value, d.view)
            if hit is None:
                continue
            acc, obj = hit
            later = [a.span.start_byte for a in flow.assigns if a.target_decl == di and a.plain and a.span.start_byte >= after]
            stop = min(later, default=None)
            use = next((u for u in sorted(flow.uses, key=lambda u: u.span.start_byte)
                        if u.decl == di and u.access != "write" and not u.test and u.span.start_byte >= after
                        and (stop is None or u.span.start_byte < stop)), None)
            if use is None:
                continue
            what = f"{VIEW_WORDS[d.view]} {'to an element of' if kind == 'range' else 'from'} `{short_name(' '.join(value.split()), 50)}`"
            if kind == "range":
                msg = f"`{d.name}` is used in the loop body, but the temporary `{acc}` unlocked `{obj}` before the loop began (line {vspan.line})."
            else:
                msg = f"`{d.name}` is used after the temporary `{acc}` it came from unlocked `{obj}` (end of line {vspan.line})."
            why = (f"`{d.name}` is {what}. A locked pointer returned by `{acc}` holds the lock only until the end of the "
                   "full expression that creates it; the view outlives it, so another thread can change or free what it points to.")
            fix = (f"Keep the locked pointer in a local (`auto locked = {acc};`) for as long as the view is used, or copy "
                   "the value out.")
            yield self.finding(use.span, msg, [Related(vspan, f"`{acc}` locks `{obj}` and unlocks it at the end of this statement")],
                               why=why, fix=fix)
        # `return sync.rlock()->name;` from a function that returns a view
        if flow.return_view is not None:
            for r in flow.returns:
                if r.lambda_index is not None or r.value is None or r.value_span is None:
                    continue
                hit = self._through_temp(temp, r.value, flow.return_view)
                if hit is None:
                    continue
                acc, obj = hit
                msg = (f"`{fn.name}` returns {VIEW_WORDS[flow.return_view]} into `{obj}`'s data through the temporary `{acc}`, "
                       "unlocked as it returns.")
                why = (f"It returns `{short_name(' '.join(r.value.split()), 60)}`: the caller gets a view of the guarded data "
                       "with no lock held; another thread can change or free it.")
                yield self.finding(r.span, msg, why=why, fix="Return a copy (by value), or return the locked pointer itself.")

    def _accessors(self) -> dict[str, bool]:
        if getattr(self, "_accessor_cache", None) is None:
            self._accessor_cache = accessor_table(self._cpp_setting("lock_accessors"))
        return self._accessor_cache

    def _temp_re(self):
        if getattr(self, "_temp_cache", None) is not None:
            return self._temp_cache
        names = "|".join(sorted(map(re.escape, self._accessors()), key=len, reverse=True))
        self._temp_cache = re.compile(rf"((?:this\s*->\s*)?[A-Za-z_]\w*(?:\s*(?:\.|->|::)\s*[A-Za-z_]\w*)*)\s*(?:\.|->)\s*({names})\s*\(\s*\)")
        return self._temp_cache

    @staticmethod
    def _through_temp(temp, value: str, view: str | None):
        """(accessor call text, object) when `value` is a view of type `view` into the data of a
        temporary locked pointer (`sync.rlock()->x`, `*sync.rlock()`, `&sync.wlock()->v[0]`), else None.
        The locked pointer itself (`const auto& p = sync.rlock();`) lives as long as the reference."""
        v = " ".join(value.split()).lstrip("=").strip()
        m = temp.search(v)
        if m is None:
            return None
        v2 = v[:m.start()] + "__locked" + v[m.end():]
        if not re.match(r"[&*(\s]*__locked\s*(?:->|\)|\.|\[|$)", v2) or v2.strip() == "__locked":
            return None
        if not (v2.lstrip("&(").startswith("*") or re.match(r"[&(\s]*__locked\s*(?:->|\.|\[)", v2)):
            return None  # `&sync.rlock()`: the locked pointer object, not the data
        chain = re.fullmatch(r"\*?\s*\(?\s*\*?\s*__locked\s*\)?(?:\s*(?:\.|->)\s*\w+|\[[^\]]*\])*", v2)
        if view == "reference":
            ok = bool(chain or _REF_INIT.search(v2))
        elif view == "pointer":
            ok = bool(_PTR_EXPR.search(v2))
        elif view == "iterator":
            ok = bool(_ITER_EXPR.search(v2))
        elif view in ("span", "string_view"):
            ok = bool(chain or _PTR_EXPR.search(v2))
        else:
            ok = False
        return (f"{' '.join(m.group(0).split())}", m.group(1).replace(" ", "")) if ok else None

    def _lock_callbacks(self, fn, flow):
        """`auto* p = sync.withWLock([&](auto& d) { return &d.x; });`: the callback's value is a view
        of the locked data, and the lock is released as the callback returns."""
        if not flow.lambdas:
            return
        names = LOCK_CALLBACK_METHODS | frozenset(self._cpp_setting("lock_callback_methods"))
        for li, L in enumerate(flow.lambdas):
            if L.handed_to is None or L.handed_to.via is not None or not L.params:
                continue
            c = flow.calls[L.handed_to.call]
            if c.name not in names or c.result == "discarded":
                continue
            p = L.params[0]  # the locked data (or, for `withWLockPtr`, its locked pointer)
            if not p:
                continue
            ret_view = None
            if L.ret_type:
                rt = L.ret_type
                ret_view = view_kind(rt.replace("&", " ").replace("*", " "), rt.count("*"), "&" in rt)
            for r in flow.returns:
                if r.lambda_index != li or r.value is None:
                    continue
                v = " ".join(r.value.split())
                if not re.match(rf"[&*(\s]*{re.escape(p)}\b", v) and not re.match(rf"(?:std\s*::\s*)?(?:string_view|span)\s*[({{]\s*[&*]?{re.escape(p)}\b", v):
                    continue
                kind = self._callback_view(v, p, ret_view)
                if kind is None:
                    continue
                where = c.callee
                msg = (f"The callback of `{where}` returns {VIEW_WORDS[kind]} into `{c.receiver or where}`'s data, which is "
                       "locked only while the callback runs.")
                why = (f"It returns `{short_name(v, 60)}`; `{c.name}` releases the lock as the callback returns, so the "
                       f"{VIEW_WORDS[kind].split(' ', 1)[1]} is used with no lock held, and another thread can change or free "
                       "what it points to.")
                fix = "Return a copy from the callback, or finish the work inside it."
                yield self.finding(r.span, msg, [Related(c.span, f"`{c.name}` locks `{c.receiver}` only for the callback")],
                                   why=why, fix=fix)
                break

    @staticmethod
    def _callback_view(v: str, p: str, ret_view: str | None) -> str | None:
        """What kind of view of parameter `p` (the locked data) the returned expression `v` is."""
        v2 = re.sub(rf"\b{re.escape(p)}\b", "__data", v, count=1)
        if ret_view in ("reference", "string_view", "span"):
            if re.fullmatch(r"\*?\s*\(?\*?__data\)?((\.|->)\w+|\[[^\]]*\])*", v2) or _REF_INIT.search(v2):
                return ret_view
        if ret_view in (None, "pointer") and _PTR_EXPR.search(v2):
            return "pointer"
        if ret_view in (None, "iterator") and _ITER_EXPR.search(v2):
            return "iterator"
        m = re.match(r"(?:std\s*::\s*)?(string_view|span)\s*[({]", v2)
        if ret_view is None and m:
            return "string_view" if m.group(1) == "string_view" else "span"
        return None

    @staticmethod
    def _pointer_view(flow, value: str, scope: int, at: int, tainted) -> bool:
        """A raw pointer is a view of guarded data when it is made by `&x`, `.data()`, `.c_str()`,
        `.get()`, or copied from a view already obtained under the lock; a pointer returned by
        some other call may be a fresh allocation or a detached list the caller now owns."""
        v = " ".join(value.split()).lstrip("=").strip()
        if _PTR_EXPR.search(v):
            return True
        m = re.fullmatch(r"(\w+)\s*(?:[+-].*)?", v)
        if m:
            src = flow.decl_named(m.group(1), at, scope)
            return src is not None and src in tainted
        return False

    def _use_after(self, flow, di, ri, lam, obtained: int, ignore=(), skip=None):
        """The first use of decl `di` (in the same body, or a capture by a lambda created there)
        reached on some path from where it was obtained through a release of holder `ri`, with
        that release; a path through a new assignment of `di` does not count."""
        lf = flow.lockflow
        kills = [flow.decls[di].decl_span.start_byte]
        kills += [a.span.start_byte for a in flow.assigns if a.target_decl == di and a.plain and a.lambda_index == lam]
        cands = []
        for u in flow.uses:
            if u.decl != di or u.access == "write" or u.test or (skip is not None and skip(u)):
                continue
            if u.lambda_index == lam:
                cands.append((u.span.start_byte, u, u.span.start_byte))
                continue
            outer = _child_lambda(flow, u.lambda_index, lam)
            if outer is not None:
                cands.append((u.span.start_byte, u, flow.lambdas[outer].span.start_byte))
        for L in flow.lambdas:
            if L.parent != lam:
                continue
            cap = next((c for c in L.captures if c.decl == di), None)
            if cap is not None:
                cands.append((cap.span.start_byte, _Esc(cap.span, -1), L.span.start_byte))
        cands.sort(key=lambda c: c[0])
        for _b, u, at in cands:
            rel = lf.released_between(obtained, at, lam, ri, kills, ignore)
            if rel is not None:
                return u, rel
        return None

    def _direct_view(self, flow, r, v: str, rv: str, methods) -> bool:
        if v in ("this", "*this") or v.startswith(("*this", "this->get")):
            return False
        uses = [u for u in flow.uses if r.value_span.contains(u.span)]
        roots = [u for u in uses if u.kind in ("member", "global") or (u.kind == "unknown" and "::" not in u.name and _member_like(u.name))]
        if not roots:
            return False
        if any(u.decl is not None and flow.decls[u.decl].view is not None and flow.decls[u.decl].kind != "param" for u in uses):
            return False  # a local view: handled above with its own origin
        # the value is a view of the member only when it is the member itself or a view-producing expression on it
        if rv == "reference":
            if v.startswith("*") or re.fullmatch(r"(this->)?\w+((\.|->)\w+)*", v):
                return True
            return bool(_REF_INIT.search(v))
        if rv == "pointer":
            return bool(_PTR_EXPR.search(v))
        if rv == "iterator":
            return bool(_ITER_EXPR.search(v))
        if rv in ("span", "string_view"):
            return bool(re.fullmatch(r"(this->)?[\w]+((\.|->)[\w]+)*", v) or "data()" in v)
        return False

    def _unlocked_access(self, index, fn, member: str, ri: int):
        """A read of `member` in another method of the class without the lock of holder `ri`
        held (its own lock, or one its callers hold: lifelint.locking's answer)."""
        from lifelint.locking import WILDCARD, locking_index

        li = locking_index(index)
        me = li.of(fn)
        keys = set(me.region_keys[ri]) if me is not None and ri < len(me.region_keys) else set()
        short = fn.class_name.split("::")[-1]
        for f, other in index.methods_of(short):
            if other is fn or other.flow is None or other.is_ctor or other.is_dtor:
                continue
            for u in other.flow.uses:
                if u.name != member or u.kind not in ("member", "unknown") or u.lambda_index is not None:
                    continue
                held = li.held(other, u)
                if held is None:
                    held = {m for i in u.locks for m in other.locks[i].mutexes}
                    if held & set(fn.locks[ri].mutexes):
                        continue
                    return (f, other, u)
                if not (held & keys or WILDCARD in held):
                    return (f, other, u)
        return None


def _child_lambda(flow, inner: int | None, lam: int | None) -> int | None:
    """The lambda directly in body `lam` that holds body `inner` (None when `inner` is not in `lam`)."""
    cur = inner
    while cur is not None:
        parent = flow.lambdas[cur].parent
        if parent == lam:
            return cur
        cur = parent
    return None


def _call_at(flow, span) -> str:
    """The callee text of the call at `span` (`cv_.wait`), for messages."""
    c = next((c for c in flow.calls if c.span.start_byte == span.start_byte and c.span.end_byte == span.end_byte), None)
    return c.callee if c is not None else "wait"


def _locks_at(flow, esc, lam) -> tuple[int, ...]:
    return getattr(esc, "locks", ()) if getattr(esc, "lambda_index", None) == lam else ()


def _next_release(holder, byte: int):
    """(span, kind) of the holder's next release after `byte` in the source, for messages."""
    rel = [(op[2], op[3] if len(op) > 3 else "unlock") for op in holder.ops if op[0] == "rel" and op[1] > byte]
    if rel:
        return min(rel, key=lambda r: r[0].start_byte)
    scope = next((op[4] for op in holder.ops if op[0] == "scope" and op[3] < 0), None)
    if scope is not None:
        return scope, "scope"
    return holder.span, "function"


def _release_words(span, kind: str) -> str:
    line = _lines(span.start_row + 1)
    if kind == "unlock":
        return f"the `unlock()` at {line}"
    if kind == "unlocker":
        return f"the unlocking guard declared at {line}"
    if kind == "scope":
        return f"the end of the guard's scope at {line}"
    if kind in ("return", "break", "continue", "throw"):
        return f"the `{kind}` at {line} (leaving the guard's scope)"
    return f"the function's end at {line}"


class _Esc:
    """A capture standing in for a use (span + a lambda marker)."""

    __slots__ = ("span", "lambda_index")

    def __init__(self, span, lambda_index):
        self.span = span
        self.lambda_index = lambda_index


_CONTAINER_WORDS = {"span": "a container of spans", "string_view": "a container of string_views",
                    "iterator": "a container of iterators", "pointer": "a container of raw pointers",
                    "reference": "a container of references"}


def _element_view(type_text: str) -> str | None:
    """The view kind of a container's elements (`std::vector<std::string_view>` -> "string_view",
    `std::map<int, const Peer*>` -> "pointer"), None when it holds no views."""
    if "<" not in type_text or type_base_name(type_text) not in _CONTAINERS:
        return None
    inner = type_text[type_text.index("<") + 1:type_text.rindex(">")] if ">" in type_text else ""
    args, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        if ch == "," and depth == 0:
            args.append(cur)
            cur = ""
        else:
            cur += ch
    args.append(cur)
    for a in args[:2]:
        a = a.strip()
        if type_base_name(a) == "reference_wrapper":
            return "reference"
        k = view_kind(a, a.count("*"), False)
        if k is not None:
            return k
    return None


def _member_like(name: str) -> bool:
    return bool(re.match(r"^(m_\w+|\w+_|s_\w+|g_\w+)$", name))


def _short(s: str) -> str:
    s = " ".join(s.split())
    return s if len(s) <= 60 else s[:57] + "..."
