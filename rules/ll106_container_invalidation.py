"""## What it does
Tracks views into a container inside one function: an iterator (`v.begin()`, `m.find(k)`), a
reference or pointer to an element (`v[i]`, `v.front()`, `&v.back()`, `v.data()`), a `span` or
`string_view` over it. When a later call on the same container can reallocate or erase
(`push_back`, `emplace_back`, `insert`, `emplace`, `resize`, `reserve`, `shrink_to_fit`, `assign`,
`erase`, `clear`, ...) and the old view is used afterwards, the use is reported. A loop that
mutates the container it iterates (a range-`for` over `v` whose body calls `v.push_back`, or a
`for` loop that `erase(it)`s and then `++it`s) is reported at the mutation.

The container's declared type decides what invalidates: `vector`/`string` lose every view on
growth, `deque` loses iterators on `push_*`, node containers (`map`, `set`, `list`) only lose
the erased element (`erase(it)`, `erase(key)` matching the `find(key)` the view came from, or
`clear()`), unordered containers lose iterators on insertion (rehash).

Also reported:
- a reference, pointer or iterator from `front()` / `back()` / `top()` used after the `pop()`,
  `pop_front()` or `pop_back()` that destroys that element, on any container (the `std::queue`,
  `std::stack` and `std::priority_queue` adapters included);
- an iterator (a local or a parameter declared as an iterator) used after `c.erase(it);` threw
  away the iterator `erase()` returns, whatever container `it` came from;
- the iterator `erase()` returns dereferenced (`*next`, `next->x`) before anything compares it
  with `end()`: erasing the last element returns `end()`;
- a change made in a called function, up to three calls down (the callee, its callee and one
  more; a stored callback's lambda counts as one call), read from what the callees do (their
  calls on containers), not from their names; the call stands for the change, with each
  callee's parameters read as its caller's arguments (`it->first` is the key of the element `it`
  points to). The message names the callee, the chain down to the change and the line of the
  change, which is a related location (in another file when the callee is defined there):
  - a method of the same class (or a base) called on `this` (`drop(it->first)` whose body does
    `m_peers.erase(id)`, or calls `remove_entry(id)` which does; a `reset()` that clears);
  - a callback member called (`m_on_finish(it->first)`, a `std::function` member) whose stored
    lambda changes a member container, itself or by calling back into the owner
    (`m_on_finish = [this](int id) { forget(id); };` with `forget` erasing);
  - a method of another object handed `*this` or `this` that calls back into the owner through
    that parameter: `for (auto& l : m_listeners) l->on_event(*this);` where an override of
    `on_event` in any class deriving from the listener's calls `owner.unsubscribe(this)`, which
    erases from `m_listeners`;
  - a function given the container by non-const reference or pointer (`add_default(m_jobs)`
    whose body does `jobs.push_back(..)`, or hands `jobs` on to a function that does; a `const&`
    or by-value parameter changes nothing of the caller's).
  A call whose result is returned (`return take(it->first);`) ends the path: nothing after it
  uses the view.
- an iterator or pointer kept in a member (`std::list<T>::iterator cur_;`, `T* last_;`) that
  some method of the class points into a member container (`cur_ = items_.begin()`,
  `items_.find(k)`, `&items_[i]`, `&items_.back()`), when a method changes that container in a
  way that invalidates it (by the container's kind, as above: growth or erase of a vector,
  string or deque, `push_*` of a deque for iterators only, insertion into an unordered container
  for iterators only, `clear()`, and for a list, map or set only `erase(cur_)` of that very
  element), does not set the member again afterwards (`cur_ = items_.erase(cur_)`,
  `pos_ = items_.end()`, `last_ = nullptr`, or a call to a method that assigns it), and
  neither do its callers after the call; and the member is dereferenced later in that method or
  in another method of the class (any file) that does not set it first. Reported at the change,
  where the re-seat belongs, naming the member, the container and the method that dereferences
  it with its line; where the member was set and the dereference are related locations. Of overloads with the same number of parameters, the one the argument texts fit
  is followed (a number is no pointer, `&x` is no non-pointer), none when they cannot tell.

## Why is this bad?
Growing a `std::vector` past its capacity moves every element to a new buffer and frees the old
one: pointers, references, spans and iterators taken before still point at the freed buffer.
The in-memory storage of seed 000 hands out a `span` into a piece's `std::vector<char>` and
later `resize()`s the same vector in `writev()`; `trim()` erases pieces from the map while iterators
may be outstanding. Reading through the stale view is a use-after-free that usually "works" in
tests (the allocator has not reused the memory yet) and corrupts data in production.

## Example
```cpp
std::vector<char>& data = m_file_data[piece];
std::span<char> view(data.data(), data.size());
if (offset + b.size() > data.size())
    data.resize(offset + b.size());            // may move the buffer
std::memcpy(view.data() + offset, b.data(), b.size());   // writes into freed memory
```

## Use instead
Fetch the view again after the mutation, or keep an index instead of a pointer:
```cpp
if (offset + b.size() > data.size())
    data.resize(offset + b.size());
std::memcpy(data.data() + offset, b.data(), b.size());
```
For erasing in a loop use the iterator `erase()` returns (`it = v.erase(it);`), or
`std::erase_if`. Copy or move the element out before `pop()` (`job j = std::move(q.front());
q.pop();`), and compare the iterator `erase()` returns with `end()` before using it:
```cpp
auto next = m_list.erase(it);
if (next != m_list.end()) log(next->id);
```

## Known limits
- `boost::intrusive` containers (seen through `using` / `typedef` aliases too) are skipped: erasing
  unlinks an element the caller owns, so a view of it stays valid.
- Member iterators and pointers: only those pointing into a member container of the same
  class are followed, and only changes called on that member in a method of the class (a helper
  method that erases is such a method, excused when all its callers re-seat after calling it; a
  free function handed the container, or code outside the class, is not seen). Re-seating is read
  in byte order: an assignment anywhere after the change counts, even on another branch. Whether
  the dereferencing method can run after the change without another method re-seating the
  member in between (a `start()` that must be called first) is not known: the order of calls
  between methods is not modelled. `pop_*()` of a member container and `erase(key)` of a node
  container (the key of the element the member points to is unknown) are not counted.
- Only views held in local variables (and members, above) are tracked, and only mutations called on the same
  container expression (`m_v.push_back`, `this->m_v.clear()`) or in a called function (above); a
  mutation through another reference to the container is not seen.
- A container whose type is not visible (declared `auto`, or a member of a class the scan does
  not include) is treated like a node container: only `clear()` and erasing the viewed element
  count.
- `pop()` is matched to the end it removes by the accessor (`front`/`top` for `pop`, `front` for
  `pop_front`, `back` for `pop_back`); a view of the other end of a one-element container is not
  reported. `erase(first, last)` and `erase(key)` are not followed for the argument's sake.
- The check of `erase()`'s result follows only the first use after the call: a comparison, a
  copy or a hand-off ends it; a check done another way (`if (v.size() > 1)`) is not understood.
- A change inside a called function is seen at most three calls down (above). Not seen: a change
  through another object's method that was not handed `*this` (a listener that calls back through
  an owner pointer it stored, or a global), a callback passed as a parameter or stored by a
  setter, a virtual call on `this` reaching a subclass's override, function pointers. Callbacks
  are matched to the lambdas stored in the member in any method of the class (a member assigned
  several lambdas stands for all of them), and a virtual call on another object to the overrides
  in every subclass: a change on one path of the callee counts, whatever state the caller is in
  when it calls (a `ReadLine()` that only appends while no client is attached is reported from a
  loop that runs with one attached).
- Control flow is approximated from scopes: mutually exclusive `if`/`else` branches are told
  apart when they are blocks, `return` after the mutation ends the path, and loops are followed
  once around.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from lifelint.facts.cpp_flow import Assign
from lifelint.locking import last_name, locking_index, split_template
from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule

CONTIGUOUS = frozenset({"vector", "basic_string", "string", "wstring", "u8string", "u16string", "u32string",
                        "small_vector", "SmallVector", "InlinedVector", "QVector", "QString", "QByteArray",
                        "static_vector", "stable_vector", "devector", "pmr_vector"})
DEQUE = frozenset({"deque"})
NODE = frozenset({"map", "multimap", "set", "multiset", "list", "forward_list"})
HASH = frozenset({"unordered_map", "unordered_set", "unordered_multimap", "unordered_multiset", "flat_hash_map",
                  "flat_hash_set", "node_hash_map", "dense_hash_map"})

GROW = frozenset({"push_back", "emplace_back", "insert", "emplace", "resize", "reserve", "shrink_to_fit", "assign",
                  "append", "insert_range", "append_range", "assign_range", "replace", "push_front", "emplace_front",
                  "emplace_hint", "try_emplace", "insert_or_assign", "rehash"})
# A pop destroys the element at one end: the view of that end dies with it, whatever the container
# (`std::queue` / `std::stack` / `std::priority_queue` adapters included).
POPS = {"pop": frozenset({"front", "top"}), "pop_front": frozenset({"front", "begin", "cbegin"}),
        "pop_back": frozenset({"back"})}
ERASE = frozenset({"erase", "clear", "pop_back", "pop_front", "extract", "resize", "assign", "swap"})

_PATH = r"(?:this->)?[A-Za-z_]\w*(?:(?:\.|->)[A-Za-z_]\w*)*"
_ACCESSOR = re.compile(rf"^({_PATH})\s*(?:\.|->)\s*(begin|cbegin|rbegin|crbegin|end|cend|rend|crend|find|lower_bound|"
                       rf"upper_bound|equal_range|data|front|back|top|at|c_str)\s*\(")
_SUBSCRIPT = re.compile(rf"^({_PATH})\s*\[")
_STD_WRAP = re.compile(r"^(?:std::)?(?:begin|cbegin|end|cend|data|next|prev|addressof|find|find_if|lower_bound|"
                       r"upper_bound|remove|remove_if|partition_point|search|max_element|min_element)\s*\(\s*(.*)$", re.S)


def _strip_init(init: str) -> str:
    s = init.strip()
    if s.startswith("="):
        s = s[1:].strip()
    if s[:1] in "({" and s[-1:] in ")}":
        s = s[1:-1].strip()
        depth = 0
        for i, ch in enumerate(s):
            if ch in "([{<":
                depth += 1
            elif ch in ")]}>":
                depth -= 1
            elif ch == "," and depth == 0:
                s = s[:i]
                break
    return s.strip()


def view_source(init: str | None, view: str) -> tuple[str, str | None] | None:
    """(container path, accessor) a view's initialiser reads from: `m_v.begin()` -> ("m_v", "begin")."""
    if not init:
        return None
    s = _strip_init(init)
    for _ in range(3):
        s = s.lstrip("&*").strip()
        m = _STD_WRAP.match(s)
        if m:
            s = m.group(1)
            continue
        break
    m = _ACCESSOR.match(s)
    if m:
        return _norm(m.group(1)), m.group(2)
    m = _SUBSCRIPT.match(s)
    if m:
        return _norm(m.group(1)), "[]"
    if view in ("span", "string_view") and re.fullmatch(_PATH, s):
        return _norm(s), None
    return None


def _norm(p: str) -> str:
    p = p.replace(" ", "")
    return p[6:] if p.startswith("this->") else p


def container_kind(type_text: str | None, li=None, depth: int = 3) -> str:
    if not type_text:
        return "unknown"
    head, _args = split_template(type_text)
    if "intrusive::" in head.replace(" ", ""):
        return "intrusive"  # boost::intrusive: erase unlinks, the element itself lives on
    base = last_name(head)
    if base in CONTIGUOUS:
        return "contiguous"
    if base in DEQUE:
        return "deque"
    if base in NODE:
        return "node"
    if base in HASH:
        return "hash"
    if li is not None and li.index is not None and depth > 0:
        target = li.index.resolve_alias(base)  # `using connections_t = std::vector<...>`
        if target is not None:
            return container_kind(target, li, depth - 1)
    if li is not None:
        for k in li.classes.get(base, ()):
            for b in k.bases:
                kind = container_kind(b.replace("public", "").replace("private", "").replace("protected", ""))
                if kind != "unknown":
                    return kind
    return "unknown"


class _Fn:
    """Scope helpers over one FunctionFlow."""

    def __init__(self, flow):
        self.flow = flow
        self.anc = {}

    def ancestors(self, scope):
        got = self.anc.get(scope)
        if got is None:
            got = self.anc[scope] = self.flow.scope_ancestors(scope)
        return got

    def lca(self, a, b):
        sa = self.ancestors(a)
        sb = set(self.ancestors(b))
        return next((s for s in sa if s in sb), 0)

    def child_toward(self, top, scope):
        """The child scope of `top` on the way down to `scope` (None if scope == top)."""
        prev = None
        for s in self.ancestors(scope):
            if s == top:
                return prev
            prev = s
        return None

    def exclusive(self, a, b) -> bool:
        top = self.lca(a, b)
        sc = self.flow.scopes[top]
        if sc.kind != "if":
            return False
        ca, cb = self.child_toward(top, a), self.child_toward(top, b)
        return ca is not None and cb is not None and ca != cb

    def loop_body(self, loop):
        """The body scope of a loop scope (`Scope.branch == "body"`)."""
        for i, s in enumerate(self.flow.scopes):
            if s.parent == loop and getattr(s, "branch", None) == "body":
                return i
        for i, s in enumerate(self.flow.scopes):
            if s.parent == loop and s.kind == "block":
                return i
        return None

    def jump_target(self, scope, kind):
        """The loop (or switch, for `break`) a break / continue leaves."""
        for s in self.ancestors(scope):
            k = self.flow.scopes[s].kind
            if k in ("for", "while", "do") or (k == "switch" and kind == "break"):
                return s
            if k == "lambda":
                return None
        return None

    def jumps(self):
        flow = self.flow
        out = [(r.span.start_byte, r.span.end_byte, r.scope, r.lambda_index, "return") for r in flow.returns]
        for j in getattr(flow, "jumps", ()) or ():
            out.append((j.span.start_byte, j.span.end_byte, j.scope, j.lambda_index, getattr(j, "kind", "jump")))
        return out


class ContainerInvalidation(Rule):
    code = "LL106"
    name = "container-invalidation"
    group = "nursery"  # measured: precision 0.14 over 14 triaged test-half findings (0.15 over 13 at the start of session 9; 0.17 over 12 at the start of session 6)
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A pointer, reference, iterator or span into a container is used after a call that can reallocate or erase it."
    tags = ("correctness", "lifetime", "memory")
    seeds = ("000",)
    # A change made in a callee defined in another file is a related location in that file.

    def check(self, facts, index):
        li = locking_index(index)
        for fl in li.in_file(facts.path):
            yield from self._check_fn(facts, li, fl)
            if fl.cls and li.index is not None and fl.fn.flow is not None and not fl.lifecycle:
                yield from self._stored_views(facts, li, fl)

    # ---------------------------------------------------------------------------------------
    def _container_type(self, li, fl, path, byte, scope):
        flow = fl.fn.flow
        if not re.fullmatch(r"[A-Za-z_]\w*", path):
            return None
        di = flow.decl_named(path, byte, scope)
        if di is not None:
            return flow.decls[di].type
        f = fl.fields.get(path)
        return f[1].type if f is not None else None

    def _invalidates(self, kind, method, view_kind, call, view_name, view_init_key) -> bool:
        if kind == "intrusive":
            return False  # nothing is freed or moved: the caller owns the elements
        if method == "clear":
            return True
        if method in ("erase", "extract"):
            if kind in ("contiguous", "deque"):
                return True
            # node / hash / unknown: only the erased element
            arg = call.args[0].replace(" ", "") if call.args else ""
            return arg == view_name or (view_init_key is not None and arg == view_init_key)
        if kind == "contiguous":
            return method in GROW
        if kind == "deque":
            if method in ("push_back", "emplace_back", "push_front", "emplace_front"):
                return view_kind == "iterator"
            return method in ("insert", "emplace", "resize", "shrink_to_fit", "assign")
        if kind == "hash":
            return view_kind == "iterator" and method in ("insert", "emplace", "try_emplace", "insert_or_assign",
                                                          "emplace_hint", "rehash", "reserve")
        return False

    def _check_fn(self, facts, li, fl):
        flow = fl.fn.flow
        helper = _Fn(flow)
        jumps = helper.jumps()
        # mutations by container path
        muts: dict[str, list] = {}
        for c in flow.calls:
            if c.kind == "call" and c.receiver:
                muts.setdefault(_norm(c.receiver), []).append(c)
        for a in flow.assigns:
            if a.target_name and _norm(a.target) == a.target_name:
                muts.setdefault(a.target_name, []).append(a)
        for cm in _callee_mutations(li, fl):
            muts.setdefault(cm.path, []).append(cm)
        for vi, d in enumerate(flow.decls):
            if d.kind == "range":
                yield from self._range_for(facts, li, fl, helper, jumps, vi, d, muts)
                continue
            if d.view is None or d.kind not in ("local", "condition"):
                continue
            src = view_source(d.init, d.view)
            if src is None:
                continue
            cpath, accessor = src
            if d.view == "pointer" and accessor in ("front", "back", "top", "at", "[]") and not d.init.strip().lstrip("=( {").startswith("&"):
                continue  # `T* p = v.front();` copies a pointer element: it does not point into `v`
            ctype = self._container_type(li, fl, cpath, d.span.start_byte, d.scope)
            kind = container_kind(ctype, li)
            key = None  # the key the view was looked up with: `m.find(k)`, `m[k]`
            if accessor == "find" and d.init:
                m = re.search(r"find\s*\((.*)\)\s*[)}]?\s*$", d.init.strip(), re.S)
                key = m.group(1).replace(" ", "") if m else None
            elif accessor == "[]" and d.init:
                m = re.search(r"\[(.*)\]\s*[)}]?\s*$", d.init.strip(), re.S)
                key = m.group(1).replace(" ", "") if m else None
            yield from self._view(facts, li, fl, helper, jumps, vi, d, cpath, kind, accessor, key, muts)
        yield from self._erased_iterators(facts, li, fl, helper, jumps)
        yield from self._erase_results(facts, fl, helper, jumps)

    # ---------------------------------------------------------------------------------------
    def _stored_views(self, facts, li, fl):
        """An iterator or pointer member seated into a member container (`cur_ = items_.begin()`
        in one method), invalidated by a change in this method that does not re-seat it, and
        dereferenced later in this method or in another method of the class that does not
        re-seat it first. Reported at the change: that is where the re-seat belongs."""
        views = _member_views(li, fl.cls)
        if not views:
            return
        flow = fl.fn.flow
        helper = None
        for field_name, (vkind, seats) in views.items():
            for cpath in sorted({s.container for s in seats}):
                ctype = fl.fields[cpath][1].type if cpath in fl.fields else None
                kind = container_kind(ctype, li)
                for ci, c in enumerate(flow.calls):
                    if c.kind != "call" or c.lambda_index is not None or not c.receiver or _norm(c.receiver) != cpath:
                        continue
                    if flow.decl_named(cpath, c.span.start_byte, c.scope) is not None:
                        continue  # a local of that name, not the member
                    if not self._invalidates(kind, c.name, vkind, _Normed(c), field_name, None):
                        continue
                    if c.result == "assign" and _norm(c.result_target or "") == field_name:
                        continue  # `cur_ = items_.erase(cur_);`
                    if _reseats_after(li, fl, field_name, c.span.start_byte):
                        continue
                    if helper is None:
                        helper = _Fn(flow)
                        jumps = helper.jumps()
                    use = self._later_deref(helper, jumps, fl, field_name, c)
                    other = None
                    if use is None:
                        if _callers_reseat(li, fl, field_name):
                            continue
                        other = _deref_elsewhere(li, fl, field_name)
                        if other is None:
                            continue
                    yield self._stored_report(facts, fl, field_name, vkind, cpath, ctype, kind, c, seats, use, other)
                    break  # one change per (field, container) in a method: the first one

    def _later_deref(self, helper, jumps, fl, field_name, c):
        """A dereference of the member after the change in the same body, with no re-seat between."""
        flow = fl.fn.flow
        seat = [a.span.start_byte for a in flow.assigns if a.lambda_index is None and a.plain
                and a.target_name == field_name and _norm(a.target) == field_name]
        for u in sorted(flow.uses, key=lambda u: u.span.start_byte):
            if u.name != field_name or u.kind not in ("member", "unknown") or u.lambda_index is not None:
                continue
            if u.span.start_byte < c.span.end_byte or not u.deref or u.test:
                continue
            if any(c.span.end_byte <= b <= u.span.start_byte for b in seat):
                return None
            if helper.exclusive(c.scope, u.scope):
                continue
            if self._cut(helper, jumps, c, None, c.span.end_byte, u.span.start_byte, u.scope):
                return None
            return u
        return None

    def _stored_report(self, facts, fl, field_name, vkind, cpath, ctype, kind, c, seats, use, other):
        what = {"iterator": "iterator", "pointer": "pointer"}[vkind]
        call = f"`{cpath}.{c.name}()`"
        reason = {"contiguous": "may reallocate or shift its elements", "deque": "invalidates its iterators",
                  "node": "removes the element", "hash": "may rehash", "unknown": "may remove the element"}[kind]
        if c.name == "clear":
            reason = "destroys every element"
        elif c.name in ("erase", "extract") and kind not in ("contiguous", "deque"):
            reason = f"destroys the element `{field_name}` points to"
        seat = seats[0]
        ctype_s = f" (a `{_short(ctype)}`)" if ctype else ""
        related = [Related(seat.span, f"`{field_name}` is set to point into `{cpath}` here, in `{seat.fn.label}()`",
                           None if seat.fn.path == facts.path else seat.fn.path)]
        if use is not None:
            message = (f"{call} invalidates the {what} member `{field_name}`, dereferenced at line {use.span.line} "
                       "without a re-seat.")
            related.append(Related(use.span, f"`{field_name}` dereferenced here, after {call}"))
        else:
            ofl, u = other
            where = f"line {u.span.line}" + ("" if ofl.path == facts.path else f" of {ofl.path.rsplit('/', 1)[-1]}")
            message = (f"{call} invalidates the {what} member `{field_name}`, which `{ofl.fn.name}()` dereferences "
                       f"at {where}.")
            related.append(Related(u.span, f"`{field_name}` dereferenced here, in `{ofl.label}()`, without re-seating it",
                                   None if ofl.path == facts.path else ofl.path))
        why = (f"`{field_name}` points into `{cpath}`{ctype_s}; {call} {reason}, so `{field_name}` may point into "
               f"freed memory, and neither `{fl.label}()` nor its callers set it again.")
        fix = (f"Re-seat `{field_name}` after the change (`{field_name} = {cpath}.erase({field_name});`, "
               f"`{field_name} = {cpath}.end();`), or keep an index or key instead.") if vkind == "iterator" else (
               f"Reset `{field_name}` after the change (`{field_name} = nullptr;`) or point it again, or keep an index "
               "or key instead.")
        return self.finding(c.span, message, related, why=why, fix=fix)

    def _erased_iterators(self, facts, li, fl, helper, jumps):
        """`c.erase(it);` with the returned iterator dropped: `it` itself is dead, whatever `c` is
        and wherever `it` came from (a parameter, a helper's result). Views whose source is the
        same container are already followed by `_view`."""
        flow = fl.fn.flow
        for c in flow.calls:
            if c.kind != "call" or c.name != "erase" or not c.receiver or not c.discarded or len(c.args) != 1:
                continue
            arg = c.args[0].replace(" ", "")
            di = flow.decl_named(arg, c.span.start_byte, c.scope) if re.fullmatch(r"[A-Za-z_]\w*", arg) else None
            if di is None:
                continue
            d = flow.decls[di]
            if d.kind not in ("local", "condition", "param") or not _is_iterator(d):
                continue
            cpath = _norm(c.receiver)
            src = view_source(d.init, d.view) if d.view is not None else None
            if src is not None and src[0] == cpath:
                continue
            if d.view is None:  # an iterator by its type alone (`Iterator e`, an alias): say so
                d = replace(d, view="iterator")
            yield from self._view(facts, li, fl, helper, jumps, di, d, cpath, "node", None, None, {cpath: [c]})

    def _erase_results(self, facts, fl, helper, jumps):
        """`auto next = c.erase(it); next->x`: erasing the last element returns `end()`; the first
        thing done with the result must be a comparison, not a dereference."""
        flow = fl.fn.flow
        for c in flow.calls:
            if c.kind != "call" or c.name != "erase" or not c.receiver or c.result not in ("init", "assign"):
                continue
            name = (c.result_target or "").replace(" ", "")
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                continue
            di = flow.decl_named(name, c.span.end_byte + 1, c.scope)
            if di is None:
                continue
            cpath = _norm(c.receiver)
            after = sorted((u for u in flow.uses_of_decl(di) if u.span.start_byte >= c.span.end_byte
                            and u.lambda_index == c.lambda_index), key=lambda u: u.span.start_byte)
            for u in after:
                if helper.exclusive(c.scope, u.scope):
                    continue
                if self._cut(helper, jumps, c, c.lambda_index, c.span.end_byte, u.span.start_byte, u.scope):
                    break
                if u.deref and not u.test:
                    line = c.span.start_row + 1
                    message = f"`{name}`, the iterator `{cpath}.erase()` returned at line {line}, is dereferenced unchecked."
                    why = (f"Erasing the last element returns `{cpath}.end()`, and dereferencing it is undefined "
                           "behaviour.")
                    yield self.finding(u.span, message, [Related(c.span, f"`{cpath}.erase()` returns `{name}` here")],
                                       why=why, fix=f"Compare `{name}` with `{cpath}.end()` first.")
                break  # compared, re-assigned, copied or handed on: not followed further

    def _mutation(self, m, kind, d, key, accessor=None):
        if isinstance(m, Assign):
            if kind == "contiguous" and (m.plain or m.op == "+="):
                return m.target_name, ("assigned" if m.plain else "appended to")
            return None
        if m.name in POPS and kind != "intrusive" and accessor in POPS[m.name]:
            return m.name, f"`.{m.name}()`"
        if m.name in ("erase", "extract") and kind not in ("contiguous", "deque"):
            arg = m.args[0].replace(" ", "") if m.args else ""
            if not (arg == d.name or (key is not None and arg == key)):
                return None
        if self._invalidates(kind, m.name, d.view, m, d.name, key):
            return m.name, f"`.{m.name}()`"
        return None

    def _refetches(self, flow, vi, d):
        """Spans of plain re-assignments of the view variable (`it = v.erase(it)`, `p = v.data()`)."""
        if d.view == "reference":
            return []
        out = []
        for a in flow.assigns:
            if a.target_decl == vi and a.plain and a.target.replace(" ", "") == d.name:
                out.append(a.span)
        return out

    def _cut(self, helper, jumps, m, lam, after_byte, before_byte, use_scope=None):
        """A jump after the mutation on every path from it (in its scope or an enclosing one) that
        keeps control from reaching the use: return / throw always; break / continue when the use
        is inside the loop they leave (or, for the next iteration, `use_scope` None)."""
        for r in helper.flow.returns:
            if r.lambda_index == lam and r.span.start_byte <= m.span.start_byte and m.span.end_byte <= r.span.end_byte:
                return True  # `return f(..);`: the change is the last thing this body does
        anc = helper.ancestors(m.scope)
        for byte, end, scope, jl, kind in jumps:
            if jl != lam or not (after_byte <= byte and end <= before_byte):
                continue
            if scope not in anc:
                continue
            if kind == "continue" and use_scope is None:
                continue  # goes on with the next iteration: the stale view is used there
            if kind in ("break", "continue"):
                target = helper.jump_target(scope, kind)
                if target is None:
                    continue
                if use_scope is not None and not _inside(helper, use_scope, target):
                    continue  # the use comes after the loop: `break` leads straight to it
            return True
        return self._try_exits(helper, jumps, m, lam, after_byte, before_byte, anc)

    @staticmethod
    def _try_exits(helper, jumps, m, lam, after_byte, before_byte, anc) -> bool:
        """`try { ...; return x; } catch (...) { throw; }` after the mutation, in its scope or an
        enclosing one: the try body returns and every handler returns or throws."""
        flow = helper.flow
        leaves = {}  # scope -> has a return / throw directly in it
        for byte, end, scope, jl, kind in jumps:
            if jl == lam and kind in ("return", "throw"):
                leaves[scope] = True
        scopes = flow.scopes
        for bi, b in enumerate(scopes):
            if b.kind != "block" or b.parent not in anc or b.lambda_index != lam:
                continue
            if not (after_byte <= b.span.start_byte and b.span.end_byte <= before_byte) or not leaves.get(bi):
                continue
            handlers = []
            edge = b.span.end_byte
            while True:
                nxt = next((ci for ci, c in enumerate(scopes) if c.kind == "catch" and c.parent == b.parent
                            and 0 <= c.span.start_byte - edge <= 8), None)
                if nxt is None:
                    break
                handlers.append(nxt)
                edge = scopes[nxt].span.end_byte
            if not handlers:
                continue
            def handler_leaves(ci):
                return leaves.get(ci) or any(leaves.get(k) for k, c in enumerate(scopes)
                                             if c.parent == ci and c.kind == "block")
            if all(handler_leaves(ci) for ci in handlers):
                return True
        return False

    def _view(self, facts, li, fl, helper, jumps, vi, d, cpath, kind, accessor, key, muts):
        flow = fl.fn.flow
        refetch = self._refetches(flow, vi, d)
        uses = [u for u in flow.uses_of_decl(vi) if u.lambda_index == d.lambda_index]
        for m in muts.get(cpath, ()):
            if m.lambda_index != d.lambda_index or m.span.start_byte < d.visible_from:
                continue
            got = self._mutation(m, kind, d, key, accessor)
            if got is None:
                continue
            mname, mdesc = got
            mend = m.span.end_byte
            # 1. straight line: a use after the mutation
            for u in uses:
                if u.span.start_byte < mend:
                    continue
                if d.view != "reference" and u.access == "write" and u.path.replace(" ", "") == d.name:
                    break  # re-fetched before any use
                if any(mend <= r.end_byte <= u.span.start_byte or (r.start_byte <= m.span.start_byte and r.end_byte >= mend) for r in refetch):
                    break
                if helper.exclusive(m.scope, u.scope):
                    continue
                if self._cut(helper, jumps, m, m.lambda_index, mend, u.span.start_byte, u.scope):
                    break
                yield self._report(facts, d, cpath, kind, m, mdesc, u, loop=False,
                                   at_end=_end_branch(flow, helper, vi, u) if d.view == "iterator" else None)
                return
            # 2. around a loop: the view is declared outside the loop and used earlier in it
            for loop in helper.ancestors(m.scope):
                sc = flow.scopes[loop]
                if sc.lambda_index != m.lambda_index or sc.kind == "lambda":
                    break
                if sc.kind not in ("for", "while", "do"):
                    continue
                body = helper.loop_body(loop)
                if body is not None and _inside(helper, d.scope, body):
                    break  # declared afresh in each iteration
                earlier = [u for u in uses if sc.span.start_byte <= u.span.start_byte < m.span.start_byte]
                if not earlier:
                    continue
                if d.view != "reference" and earlier[0].access == "write" and earlier[0].path.replace(" ", "") == d.name:
                    break  # each iteration starts by fetching it afresh (`it = m.begin();`)
                if any(r.start_byte <= m.span.start_byte and r.end_byte >= mend for r in refetch):
                    break
                if any(mend <= r.start_byte < sc.span.end_byte for r in refetch):
                    break
                if self._cut(helper, jumps, m, m.lambda_index, mend, sc.span.end_byte):
                    break
                yield self._report(facts, d, cpath, kind, m, mdesc, earlier[0], loop=True)
                return

    def _range_for(self, facts, li, fl, helper, jumps, vi, d, muts):
        flow = fl.fn.flow
        if not d.init:
            return
        cpath = _norm(d.init.strip())
        if not re.fullmatch(_PATH.replace("(?:this->)?", ""), cpath):
            return
        loop = d.scope
        sc = flow.scopes[loop]
        ctype = self._container_type(li, fl, cpath, sc.span.start_byte, sc.parent if sc.parent is not None else 0)
        kind = container_kind(ctype, li)
        if kind == "intrusive":
            return
        for m in muts.get(cpath, ()):
            if not (sc.span.start_byte <= m.span.start_byte < sc.span.end_byte) or m.lambda_index != d.lambda_index:
                continue
            if isinstance(m, Assign):
                if kind != "contiguous":
                    continue
                mdesc = "assigned"
            else:
                if m.name == "clear" or (m.name in ("erase", "extract") and kind in ("contiguous", "deque")):
                    pass
                elif kind == "contiguous" and m.name in GROW:
                    pass
                elif kind == "deque" and m.name in GROW | {"push_front", "emplace_front"}:
                    pass
                elif kind == "hash" and m.name in ("insert", "emplace", "try_emplace", "insert_or_assign", "rehash", "reserve"):
                    pass
                elif m.name in ("erase", "extract") and kind in ("node", "unknown") and m.args and m.args[0].strip().lstrip("&") == d.name:
                    pass
                else:
                    continue
                mdesc = f"`.{m.name}()`"
                if isinstance(m, CalleeMutation):
                    mdesc += f" (in `{m.via}()`, {_where(m, facts)})"
            if self._cut(helper, jumps, m, m.lambda_index, m.span.end_byte, sc.span.end_byte):
                continue
            ctype_s = f" (a `{_short(ctype)}`)" if ctype else ""
            message = f"`{cpath}` is modified with {mdesc} inside a range-`for` over it."
            why = (f"The loop's hidden iterator over `{cpath}`{ctype_s} (and `{d.name}`) may point into freed or "
                   "shifted storage when the loop advances.")
            fix = "Collect the changes and apply them after the loop, iterate by index, or `break` right after the change."
            why = _callee_why(m, cpath, facts) + why
            yield self.finding(m.span, message, [Related(d.span, f"the loop over `{cpath}` starts here"),
                                                 *_inner_related(m, cpath, facts)], why=why, fix=fix)
            return

    def _report(self, facts, d, cpath, kind, m, mdesc, u, loop, at_end=None):
        what = {"iterator": "iterator", "pointer": "pointer", "reference": "reference", "span": "span",
                "string_view": "string_view"}[d.view]
        reason = {"contiguous": "may reallocate or shift its elements", "deque": "invalidates its iterators",
                  "node": "removes the element", "hash": "may rehash", "unknown": "may remove the element"}[kind]
        change = f"Assigning `{cpath}`" if mdesc == "assigned" else f"`{cpath}.{getattr(m, 'name', '')}()`"
        head = change
        inner_rel = []
        if isinstance(m, CalleeMutation):
            head = f"`{m.via}()`"
            inner = "".join(f"`{n}()`, which calls " for n in m.chain)
            change = f"`{m.via}()` (which calls {inner}`{cpath}.{m.name}()` at {_where(m, facts)})"
            inner_rel = _inner_related(m, cpath, facts)
        mname = getattr(m, "name", "")
        if mname in POPS:
            reason = "destroys the element it refers to"
        elif mname in ("erase", "extract") and m.args and m.args[0].replace(" ", "") == d.name:
            reason = (f"erases the element `{d.name}` points to" if isinstance(m, CalleeMutation) else
                      f"destroys the element `{d.name}` points to (the iterator `erase()` returns is dropped)")
        if loop:
            erased = mdesc == "`.erase()`" and m.args and m.args[0].replace(" ", "") == d.name
            if isinstance(m, CalleeMutation):
                fix = (f"Take the next iterator before the call (`auto next = std::next({d.name});`)" if erased
                       else f"Fetch `{d.name}` again after `{m.via}()`")
            else:
                fix = (f"Take the iterator `erase()` returns (`{d.name} = {cpath}.erase({d.name});`) and do not advance it"
                       if erased else f"Fetch `{d.name}` again after the change")
            message = f"{head} inside a loop invalidates the {what} `{d.name}` that the next iteration uses."
            if isinstance(m, CalleeMutation):
                message = (f"{head} inside a loop changes `{cpath}` ({_where(m, facts)}), invalidating the {what} "
                           f"`{d.name}` the next iteration uses.")
            why = f"{change} {reason}, so `{d.name}` is invalid after the call."
            return self.finding(m.span, message, [Related(d.span, f"`{d.name}` taken from `{cpath}` here"),
                                                  Related(u.span, f"`{d.name}` used again here"), *inner_rel],
                                why=why, fix=f"{fix}, or `break` right after the change.")
        if at_end is not None:
            # `if (it == m.end()) { m.emplace(..); use(*it); }`: the use is wrong before any change.
            message = (f"The {what} `{d.name}` is dereferenced on the branch where it equals `{cpath}.end()` "
                       f"(tested at line {at_end.span.line}).")
            why = (f"On that branch the lookup found nothing, so `{d.name}` is the end iterator: dereferencing it is "
                   f"undefined behaviour (and {change[:1].lower() + change[1:]} {reason} besides).")
            fix = (f"Use the iterator (or `pair.first`) that `{cpath}.{getattr(m, 'name', 'insert')}()` returns, or look "
                   "the element up again.")
            return self.finding(u.span, message, [Related(at_end.span, f"`{d.name}` compared with `{cpath}.end()` here"),
                                                  Related(m.span, f"`{cpath}` changed here"), *inner_rel], why=why, fix=fix)
        message = f"The {what} `{d.name}` into `{cpath}` is used after {change[:1].lower() + change[1:]} at line {m.span.line}."
        if isinstance(m, CalleeMutation):
            message = (f"The {what} `{d.name}` into `{cpath}` is used after `{m.via}()` (line {m.span.line}) calls "
                       f"`.{m.name}()` on it at {_where(m, facts)}.")
        why = f"{change} {reason}, so `{d.name}` may now point into freed memory."
        return self.finding(u.span, message, [Related(d.span, f"`{d.name}` taken from `{cpath}` here"),
                                              Related(m.span, f"`{cpath}` changed here" if not inner_rel else
                                                      f"`{m.via}()` changes `{cpath}` here"), *inner_rel],
                            why=why, fix="Fetch it again after the change, or keep an index or key instead.")


@dataclass(slots=True)
class CalleeMutation:
    """A call that changes a container somewhere below it (up to CALL_DEPTH calls down): it
    stands in the caller for the change it makes (`drop(it->first)` -> `m_peers.erase(..)`)."""

    path: str  # the container, in the caller's terms (`m_items`, a local, `owner.m_items`)
    name: str  # the container method called down there: "erase", "clear", "push_back"
    args: list  # its arguments in the caller's terms: a callee parameter becomes the caller's argument
    via: str  # the callee as the caller calls it
    span: object  # the caller's call
    scope: int
    lambda_index: object
    chain: tuple = ()  # the functions below `via` on the way to the change, outermost first
    inner_span: object = None  # the container call itself, in the function that makes it
    inner_path: str | None = None  # that function's file
    written: str = ""  # the container as that function names it (a parameter: `jobs`)


# How many calls down a change is followed from the caller: the callee, its callee, and one more
# (a callback's stored lambda counts as one call). Deeper chains are not followed: each level
# multiplies the paths the caller may not take.
CALL_DEPTH = 3
# The container calls a summary keeps: the ones that can invalidate a view, nothing else.
_CHANGING = GROW | ERASE | frozenset(POPS)
_MAX_CHANGES = 48  # per summary: a hub function's thousand calls are not all followed


@dataclass(frozen=True, slots=True)
class _Change:
    """One container change a function makes, in its own terms: on its object's member
    (`("self", "m_items")`), on the container passed as its parameter i (`("arg", i, "")`) or on
    a member of the object passed as parameter i (`("arg", i, "m_items")`: `owner.remove(this)`
    where the owner was passed as `*this`). `args`: "$i" for parameter i, "<text>" otherwise."""

    target: tuple
    name: str
    args: tuple
    chain: tuple  # functions below the summarised one, outermost first, the last one makes the change
    span: object
    path: str
    written: str  # the container as the function making the change names it (`jobs`, `owner.m_items`)


_ELEMENT_OF = re.compile(r"^\(?\*?\s*([A-Za-z_]\w*)\)?\s*(?:->\s*first|\.\s*first)?$")
_SELF = ("*this", "this", "(*this)")


def _arg_ref(a: str, pnames: list) -> str:
    a = a.replace(" ", "")
    if a.startswith("std::move(") and a.endswith(")"):
        a = a[10:-1]
    return f"${pnames.index(a)}" if a in pnames else f"<{a}>"


def _const_param(p) -> bool:
    t = " ".join(p.type.split())
    return t.startswith("const ") or t.endswith(" const") or t.startswith("std::span<const") or "const_iterator" in t


def _changes_param(fn, lam, i: int) -> bool:
    """Parameter i of the function (or of its lambda `lam`) can pass a caller's container or
    object in by reference: a non-const reference or pointer (a by-value copy changes nothing
    of the caller's; a lambda's parameters are taken as written by the std::function call)."""
    if lam is not None:
        return True
    if i >= len(fn.params):
        return False
    p = fn.params[i]
    return bool(p.name) and (p.is_reference or p.pointer_depth == 1) and not _const_param(p)


def _in_caller(target: tuple, c, F, flow, pnames: list, lam) -> tuple | None:
    """A callee's change target read in the terms of the function F that calls it at `c`."""
    if target[0] == "self":
        r = (c.receiver or "this").replace(" ", "")
        if r == "this":
            return target
        r = r.lstrip("*").strip("()")
        if r in pnames and _changes_param(F.fn, lam, pnames.index(r)):
            return ("arg", pnames.index(r), target[1])
        return None  # another object's member
    _kind, j, sub = target
    if j >= len(c.args):
        return None
    a = c.args[j].replace(" ", "")
    if a in _SELF:
        return ("self", sub) if sub else None
    a = a.lstrip("&*").strip("()")
    a = a[6:] if a.startswith("this->") else a
    if a in pnames:
        k = pnames.index(a)
        return ("arg", k, sub) if _changes_param(F.fn, lam, k) else None
    if sub:
        return None
    if re.fullmatch(r"[A-Za-z_]\w*", a) and a in F.fields and flow.decl_named(a, c.span.start_byte, c.scope) is None:
        return ("self", a)
    return None


def _map_change_args(args: tuple, cargs: list, pnames: list) -> tuple:
    out = []
    for a in args:
        if a.startswith("$"):
            j = int(a[1:])
            a = _arg_ref(cargs[j], pnames) if j < len(cargs) else "<?>"
        out.append(a)
    return tuple(out)


def _own_class_names(li, cls: str | None) -> set:
    """The class and its bases by short name: a method of any of them runs on this object."""
    if not cls:
        return set()
    return {cls} | {k.name.split("<")[0] for k in li.class_chain(cls)}


def _receiver_class(li, F, c) -> str | None:
    """The project class of the object a method is called on (`l->on_event(..)` with `l` from a
    range-`for` over a `std::vector<listener*>`)."""
    from lifelint.locking import class_of_type
    flow = F.fn.flow
    r = (c.receiver or "").replace(" ", "")
    r = r.lstrip("*").strip("()").lstrip("*")
    if not re.fullmatch(r"[A-Za-z_]\w*", r):
        return None
    t, element = None, False
    di = flow.decl_named(r, c.span.start_byte, c.scope)
    if di is not None:
        d = flow.decls[di]
        t = d.type
        if "auto" in t.split():
            t = None
            if d.kind == "range" and d.init and re.fullmatch(r"[A-Za-z_]\w*", _norm(d.init.strip())):
                src = _norm(d.init.strip())
                sdi = flow.decl_named(src, d.span.start_byte, d.scope)
                t = flow.decls[sdi].type if sdi is not None else (F.fields[src][1].type if src in F.fields else None)
                element = True
    elif r in F.fields:
        t = F.fields[r][1].type
    if not t:
        return None
    cls = class_of_type(t, element)
    return cls if cls in li.classes else None


def _targets(li, F, ci: int, c, by_call: dict) -> list:
    """What a call can run, as FnLocks: the lock index's call graph (by name, declared type and
    arity), plus the overrides in subclasses for a call on an object of a project class (a
    listener's `on_event` is defined only in the classes deriving from `listener`)."""
    from lifelint.locking import accepts
    out = list(by_call.get(ci, ()))
    if c.receiver not in (None, "this") and c.callee_kind == "method":
        cls = _receiver_class(li, F, c)
        if cls is not None:
            for sub in sorted(li.index.subclasses(cls))[:16]:
                for _f, g in li.index.methods_of(sub):
                    if g.name == c.name and g.flow is not None and accepts(g, len(c.args)):
                        t = li.of(g)
                        if t is not None and all(t is not u for u in out):
                            out.append(t)
    return _one_overload(out, c.args)[:8]


def _fits(p, a: str) -> bool:
    """Argument text `a` can be passed to parameter `p`, as far as the text shows: a number is no
    pointer, `&x` is no non-pointer, a string literal is no number."""
    a = a.replace(" ", "")
    ptr = p.pointer_depth > 0 or "*" in p.type
    if re.fullmatch(r"-?\d+[uUlL]*", a) and a != "0":
        return not ptr
    if a.startswith("&") and not a.startswith("&&"):
        return ptr
    if a.startswith('"'):
        return ptr or "string" in p.type.lower() or "char" in p.type
    return True


def _one_overload(targets: list, args: list) -> list:
    """Overloads of one name with the same number of parameters (`RequestContentList(1, &cid)`
    and `RequestContentList(cv, true)`): the argument texts pick the one that fits; when they
    cannot tell, none is followed (a change made by the other overload is not this call's)."""
    groups: dict = {}
    for t in targets:
        groups.setdefault(t.fn.qualname, []).append(t)
    out = []
    for ts in groups.values():
        sigs = {tuple(" ".join(p.type.split()) for p in t.fn.params) for t in ts}
        if len(sigs) > 1:
            ts = [t for t in ts if all(_fits(p, a) for p, a in zip(t.fn.params, args))]
            if len({tuple(" ".join(p.type.split()) for p in t.fn.params) for t in ts}) > 1:
                continue
        out.extend(ts)
    return out


def _summary(li, memo: dict, F, lam, pnames: list, depth: int) -> list:
    """The container changes F's body (or its lambda `lam`) makes, itself and through the
    functions it calls, down to `depth` bodies in all. Memoised per (function, lambda, depth)
    in the project index, so every caller of a function reads one summary."""
    key = (id(F.fn), lam, depth)
    got = memo.get(key)
    if got is not None:
        return got
    memo[key] = []  # a recursive call sees no changes while this one is being made
    flow = F.fn.flow
    out: list = []
    seen = set()

    def add(ch):
        k = (ch.target, ch.name, ch.args, ch.span.start_byte, ch.path)
        if k not in seen and len(out) < _MAX_CHANGES:
            seen.add(k)
            out.append(ch)

    for mc in flow.calls:
        if mc.kind != "call" or not mc.receiver or mc.lambda_index != lam or mc.name not in _CHANGING:
            continue
        r = _norm(mc.receiver)
        target = None
        di = flow.decl_named(r, mc.span.start_byte, mc.scope) if re.fullmatch(r"[A-Za-z_]\w*", r) else None
        if di is not None:
            if r in pnames and _changes_param(F.fn, lam, pnames.index(r)):
                target = ("arg", pnames.index(r), "")
        elif r in F.fields:
            target = ("self", r)
        else:
            m = re.fullmatch(r"([A-Za-z_]\w*)(?:\.|->)([A-Za-z_]\w*)", r)
            if m and m.group(1) in pnames and _changes_param(F.fn, lam, pnames.index(m.group(1))):
                target = ("arg", pnames.index(m.group(1)), m.group(2))  # `owner.m_items.erase(..)`
        if target is not None:
            add(_Change(target, mc.name, tuple(_arg_ref(a, pnames) for a in mc.args), (), mc.span, F.path, r))
    if depth > 1:
        by_call: dict = {}
        for cs in F.calls:
            by_call.setdefault(cs.call, cs.targets)
        own = None
        for ci, c in enumerate(flow.calls):
            if c.kind != "call" or c.lambda_index != lam or c.name == F.fn.name and c.receiver in (None, "this"):
                continue
            if c.callee_kind == "member" and c.receiver in (None, "this") and F.cls:
                # a callback member: the lambdas the class stores in it run here, on this object
                for cfn, li_, L in _stored_callbacks(li, F.cls, c.name)[:4]:
                    G = li.of(cfn)
                    if G is None:
                        continue
                    for ch in _summary(li, memo, G, li_, list(L.params), depth - 1):
                        if ch.target[0] == "self" and not L.uses_this:
                            continue  # the lambda does not run on the owner
                        t = _in_caller(ch.target, c, F, flow, pnames, lam)
                        if t is not None:
                            add(_Change(t, ch.name, _map_change_args(ch.args, c.args, pnames), (c.name, *ch.chain), ch.span, ch.path, ch.written))
                continue
            if c.callee_kind in ("local", "param", "member"):
                continue
            for G in _targets(li, F, ci, c, by_call):
                if G.fn.flow is None:
                    continue
                if c.receiver in (None, "this") and G.cls:
                    if own is None:
                        own = _own_class_names(li, F.cls)
                    if G.cls not in own:
                        continue  # `Other::helper()`: not this object
                for ch in _summary(li, memo, G, None, [p.name for p in G.fn.params], depth - 1):
                    if ch.target[0] == "self" and not G.cls:
                        continue
                    t = _in_caller(ch.target, c, F, flow, pnames, lam)
                    if t is not None:
                        add(_Change(t, ch.name, _map_change_args(ch.args, c.args, pnames), (G.label, *ch.chain), ch.span, ch.path, ch.written))
    memo[key] = out
    return out


def _stored_callbacks(li, cls: str, member: str) -> list:
    """(method, lambda index, lambda) for each lambda some method of the class stores in the
    member `member` (`m_on_done = [this](int id) { forget(id); };`)."""
    out = []
    for _f, cfn in li.index.methods_of(cls):
        if cfn.flow is None:
            continue
        for i, L in enumerate(cfn.flow.lambdas):
            if L.stored_in and L.stored_in.replace("this->", "") == member:
                out.append((cfn, i, L))
    return out


def _top_args(args: tuple, cargs: list) -> list:
    """A change's arguments in the checked function's terms: the caller's own argument text, read
    as the element `it` points to when it is `it->first` / `*it`."""
    out = []
    for a in args:
        if a.startswith("$"):
            j = int(a[1:])
            if j < len(cargs):
                a = cargs[j].replace(" ", "")
                m = _ELEMENT_OF.match(a)
                a = m.group(1) if m else a
            else:
                a = "<?>"
        out.append(a)
    return out


def _callee_mutations(li, fl) -> list:
    """Changes to containers made below a call of the checked function (CALL_DEPTH calls down),
    each standing at the caller's call: a same-class method (`drop(id)` whose body, or whose
    callee's, does `m_peers.erase(id)`); a callback member called (`m_on_finish(it->first)`)
    whose stored lambda changes a member container itself or calls back into the owner; a method
    of another object handed `*this` that calls back into it (`l->on_event(*this)` whose
    override calls `owner.unsubscribe(this)`); a function given the container by reference.
    What the callees do decides, not their names."""
    if li.index is None:
        return []
    memo = li.index.memo("ll106-container-changes", lambda _i: {})
    flow = fl.fn.flow
    by_call: dict = {}
    for cs in fl.calls:
        by_call.setdefault(cs.call, cs.targets)
    own = None
    out = []
    for ci, c in enumerate(flow.calls):
        if c.kind != "call" or c.name == fl.fn.name and c.receiver in (None, "this"):
            continue
        found = []  # (target in the callee's terms, change, chain)
        if c.callee_kind == "member" and c.receiver in (None, "this") and fl.cls:
            for cfn, lam, L in _stored_callbacks(li, fl.cls, c.name)[:4]:
                G = li.of(cfn)
                if G is None:
                    continue
                for ch in _summary(li, memo, G, lam, list(L.params), CALL_DEPTH):
                    if ch.target[0] == "self" and not L.uses_this:
                        continue
                    found.append((ch, ch.chain))
        elif c.callee_kind not in ("local", "param", "member"):
            for G in _targets(li, fl, ci, c, by_call):
                if G.fn.flow is None:
                    continue
                if c.receiver in (None, "this") and G.cls:
                    if own is None:
                        own = _own_class_names(li, fl.cls)
                    if G.cls not in own:
                        continue
                via_other = c.receiver not in (None, "this")
                for ch in _summary(li, memo, G, None, [p.name for p in G.fn.params], CALL_DEPTH):
                    if ch.target[0] == "self" and not G.cls:
                        continue
                    found.append((ch, ((G.label,) if via_other else ()) + ch.chain))
        for ch, chain in found:
            path = _top_path(ch.target, c, flow)
            if path is None:
                continue
            out.append(CalleeMutation(path, ch.name, _top_args(ch.args, c.args), _via(c), c.span, c.scope,
                                      c.lambda_index, tuple(chain), ch.span, ch.path, ch.written))
    return out


def _where(m, facts) -> str:
    """`line 41`, or `line 41 of registry.cpp` when the change is in another file."""
    line = m.inner_span.line if m.inner_span is not None else m.span.line
    if m.inner_path and m.inner_path != facts.path:
        return f"line {line} of {m.inner_path.rsplit('/', 1)[-1]}"
    return f"line {line}"


def _inner_related(m, cpath: str, facts) -> list:
    if not isinstance(m, CalleeMutation) or m.inner_span is None:
        return []
    where = m.chain[-1] if m.chain else m.via
    path = m.inner_path if m.inner_path and m.inner_path != facts.path else None
    named = f": `{m.written}` is `{cpath}` here" if m.written and m.written != cpath else ""
    return [Related(m.inner_span, f"`{m.written or cpath}.{m.name}()` here, in `{where}()`{named}", path)]


def _callee_why(m, cpath: str, facts) -> str:
    if not isinstance(m, CalleeMutation):
        return ""
    inner = "".join(f"`{n}()`, which calls " for n in m.chain)
    return f"`{m.via}()` calls {inner}`{cpath}.{m.name}()` at {_where(m, facts)}. "


def _via(c) -> str:
    callee = c.callee.replace(" ", "")
    return callee[6:] if callee.startswith("this->") else callee


def _top_path(target: tuple, c, flow) -> str | None:
    """The container a change target is in the checked function: this object's member, the
    caller's argument (any container expression: a member, a local, a parameter), or the member
    of the object the method was called on."""
    if target[0] == "self":
        r = (c.receiver or "this").replace(" ", "")
        if r == "this":
            return target[1]
        r = _norm(r)
        if re.fullmatch(_PATH.replace("(?:this->)?", ""), r):
            return f"{r}{'->' if c.arrow else '.'}{target[1]}"
        return None
    _kind, j, sub = target
    if j >= len(c.args):
        return None
    a = c.args[j].replace(" ", "")
    if a in _SELF:
        return sub or None
    if sub:
        return None
    a = _norm(a.lstrip("&").strip())
    if a.startswith("std::move(") or not re.fullmatch(_PATH.replace("(?:this->)?", ""), a):
        return None
    return a

@dataclass(frozen=True, slots=True)
class _Seat:
    """A member iterator / pointer set to point into a member container (`cur_ = items_.begin()`)."""

    container: str
    accessor: str | None
    span: object
    fn: object  # the FnLocks of the method that sets it


class _Normed:
    """A call whose first argument reads `this->cur_` as `cur_` (for `_invalidates`)."""

    def __init__(self, c):
        self.name = c.name
        self.args = [_norm(a) for a in c.args]


def _member_view_kind(var) -> str | None:
    """"iterator" / "pointer" for a member that can be seated into a container, else None."""
    t = " ".join(var.type.split())
    if var.is_reference:
        return None
    if var.pointer_depth == 1:
        return "pointer"
    if "iterator" in t.rsplit("::", 1)[-1].lower() and not var.pointer_depth:
        return "iterator"
    return None


def _member_views(li, cls: str) -> dict:
    """field -> (view kind, [_Seat]) for the class's iterator and pointer members that some
    method (not a constructor or destructor alone) points into a member container of the class.
    Memoised per class in the project index."""
    memo = li.index.memo("ll106-member-views", lambda _i: {})
    got = memo.get(cls)
    if got is not None:
        return got
    out: dict = {}
    for _f, fn in li.index.methods_of(cls):
        F = li.of(fn)
        if F is None or fn.flow is None:
            continue
        for a in fn.flow.assigns:
            if a.lambda_index is not None or not a.plain or a.target_kind not in ("member", "unknown"):
                continue
            name = a.target_name
            if _norm(a.target) != name or name not in F.fields:
                continue
            vkind = _member_view_kind(F.fields[name][1])
            if vkind is None:
                continue
            src = view_source(a.value, vkind)
            if src is None:
                continue
            cpath, accessor = src
            if cpath == name or cpath not in F.fields or fn.flow.decl_named(cpath, a.span.start_byte, a.scope) is not None:
                continue
            if vkind == "pointer":
                if accessor not in ("front", "back", "at", "[]", "data", "c_str"):
                    continue
                if accessor in ("front", "back", "at", "[]") and not a.value.strip().lstrip("( ").startswith("&"):
                    continue  # `p_ = v.front();` copies a pointer element
            out.setdefault(name, (vkind, []))[1].append(_Seat(cpath, accessor, a.span, F))
    memo[cls] = out
    return out


def _seats(F, field_name: str) -> list:
    """Bytes where the method assigns the member (any plain `field = ...`), outside lambdas."""
    flow = F.fn.flow
    if flow is None:
        return []
    return [a.span.start_byte for a in flow.assigns if a.lambda_index is None and a.plain
            and a.target_name == field_name and _norm(a.target) == field_name]


def _reseating_calls(li, F, field_name: str) -> list:
    """Bytes of calls on this object to a method of the class that assigns the member."""
    out = []
    flow = F.fn.flow
    own = None
    for cs in F.calls:
        if cs.lambda_index is not None or cs.call >= len(flow.calls):
            continue
        c = flow.calls[cs.call]
        if c.receiver not in (None, "this"):
            continue
        for G in cs.targets:
            if G is F or not G.cls:
                continue
            if own is None:
                own = _own_class_names(li, F.cls)
            if G.cls in own and _seats(G, field_name):
                out.append(c.span.start_byte)
                break
    return out


def _reseats_after(li, F, field_name: str, byte: int) -> bool:
    return any(b >= byte for b in _seats(F, field_name)) or any(b > byte for b in _reseating_calls(li, F, field_name))


def _callers_reseat(li, F, field_name: str) -> bool:
    """Every caller of the method (it has some) sets the member again after the call: a helper
    that erases, called only by methods that re-seat."""
    if not F.callers:
        return False
    for cs in F.callers:
        G = cs.fn
        if G.fn.flow is None or not _reseats_after(li, G, field_name, cs.span.end_byte):
            return False
    return True


def _deref_elsewhere(li, F, field_name: str):
    """(method, use): the first dereference of the member in another method of the class (not a
    constructor or destructor) with no re-seat before it in that method."""
    best = None
    for _f, fn in li.index.methods_of(F.cls):
        G = li.of(fn)
        if G is None or G is F or fn.flow is None or G.lifecycle:
            continue
        seats = _seats(G, field_name) + _reseating_calls(li, G, field_name)
        for u in fn.flow.uses:
            if u.name != field_name or u.kind not in ("member", "unknown") or u.lambda_index is not None:
                continue
            if not u.deref or u.test or any(b < u.span.start_byte for b in seats):
                continue
            key = (G.path, u.span.start_byte)
            if best is None or key < best[0]:
                best = (key, G, u)
    return None if best is None else (best[1], best[2])


def _is_iterator(d) -> bool:
    """Positive evidence that a declaration holds an iterator (not a key: `m.erase(key)`)."""
    if d.view == "iterator":
        return True
    t = d.type.replace(" ", "")
    return "iterator" in t.rsplit("::", 1)[-1].lower()


def _end_branch(flow, helper, vi, u):
    """The use of `vi` in an `if` condition (`it == c.end()`, or `!=` with the use in the else
    branch) that puts use `u` on the branch where the iterator is the end; None otherwise."""
    chain = set(helper.ancestors(u.scope))
    for t in flow.uses_of_decl(vi):
        if not getattr(t, "end_test", "") or t.span.start_byte >= u.span.start_byte:
            continue
        want = "then" if t.end_test == "==" else "else"
        for si in chain:
            sc = flow.scopes[si]
            if sc.branch != want or sc.parent is None:
                continue
            parent = flow.scopes[sc.parent]
            if parent.kind == "if" and parent.span.contains(t.span) and not sc.span.contains(t.span) \
                    and t.span.start_byte < sc.span.start_byte:
                return t
    return None


def _inside(helper, scope, top) -> bool:
    return top in helper.ancestors(scope)


def _short(t: str) -> str:
    t = " ".join(t.split())
    return t if len(t) <= 50 else t[:47] + "..."
