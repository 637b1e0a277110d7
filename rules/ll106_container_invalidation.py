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
- a change made one call down, read from what the callee does (its calls on containers), not
  from its name; the call stands for the change, with the callee's parameters read as the
  caller's arguments (`it->first` is the key of the element `it` points to):
  - a method of the same class called on `this` (`drop(it->first)` whose body does
    `m_peers.erase(id)`, a `reset()` that clears, a `remember()` that `push_back`s);
  - a callback member called (`m_on_finish(it->first)`, a `std::function` member) whose stored
    lambda changes a member container, itself or by calling back into the owner
    (`m_on_finish = [this](int id) { forget(id); };` with `forget` erasing);
  - a free function given the container by non-const reference or pointer
    (`add_default(m_jobs)` whose body does `jobs.push_back(..)`; a `const&` parameter changes
    nothing).

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
- Only views held in local variables are tracked, and only mutations called on the same
  container expression (`m_v.push_back`, `this->m_v.clear()`) or one call deep (above); a
  mutation through another reference to the container is not seen.
- A container whose type is not visible (declared `auto`, or a member of a class the scan does
  not include) is treated like a node container: only `clear()` and erasing the viewed element
  count.
- `pop()` is matched to the end it removes by the accessor (`front`/`top` for `pop`, `front` for
  `pop_front`, `back` for `pop_back`); a view of the other end of a one-element container is not
  reported. `erase(first, last)` and `erase(key)` are not followed for the argument's sake.
- The check of `erase()`'s result follows only the first use after the call: a comparison, a
  copy or a hand-off ends it; a check done another way (`if (v.size() > 1)`) is not understood.
- A change inside a called function is seen one call deep (the shapes above; a callback counts
  its lambda and the owner's method it calls). A change through another object's method, a
  callback passed as a parameter or stored by a setter, a virtual listener, or a deeper call chain
  is not seen. Callbacks are matched to the lambdas stored in the member in any method of the
  class (a member assigned several lambdas stands for all of them).
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
    group = "nursery"  # measured: precision 0.15 over 13 triaged test-half findings (unchanged in session 7; 0.17 over 12 at the start of session 6)
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A pointer, reference, iterator or span into a container is used after a call that can reallocate or erase it."
    tags = ("correctness", "lifetime", "memory")
    seeds = ("000",)
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        li = locking_index(index)
        for fl in li.in_file(facts.path):
            yield from self._check_fn(facts, li, fl)

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
                    mdesc += f" (in `{m.via}()`)"
            if self._cut(helper, jumps, m, m.lambda_index, m.span.end_byte, sc.span.end_byte):
                continue
            ctype_s = f" (a `{_short(ctype)}`)" if ctype else ""
            message = f"`{cpath}` is modified with {mdesc} inside a range-`for` over it."
            why = (f"The loop's hidden iterator over `{cpath}`{ctype_s} (and `{d.name}`) may point into freed or "
                   "shifted storage when the loop advances.")
            fix = "Collect the changes and apply them after the loop, iterate by index, or `break` right after the change."
            yield self.finding(m.span, message, [Related(d.span, f"the loop over `{cpath}` starts here")], why=why, fix=fix)
            return

    def _report(self, facts, d, cpath, kind, m, mdesc, u, loop, at_end=None):
        what = {"iterator": "iterator", "pointer": "pointer", "reference": "reference", "span": "span",
                "string_view": "string_view"}[d.view]
        reason = {"contiguous": "may reallocate or shift its elements", "deque": "invalidates its iterators",
                  "node": "removes the element", "hash": "may rehash", "unknown": "may remove the element"}[kind]
        change = f"Assigning `{cpath}`" if mdesc == "assigned" else f"`{cpath}.{getattr(m, 'name', '')}()`"
        head = change
        if isinstance(m, CalleeMutation):
            head = f"`{m.via}()`"
            inner = f"`{m.through}()`, which calls " if m.through else ""
            change = f"`{m.via}()` (which calls {inner}`{cpath}.{m.name}()`)"
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
            why = f"{change} {reason}, so `{d.name}` is invalid after the call."
            return self.finding(m.span, message, [Related(d.span, f"`{d.name}` taken from `{cpath}` here"),
                                                  Related(u.span, f"`{d.name}` used again here")],
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
                                                  Related(m.span, f"`{cpath}` changed here")], why=why, fix=fix)
        message = f"The {what} `{d.name}` into `{cpath}` is used after {change[:1].lower() + change[1:]} at line {m.span.line}."
        why = f"{change} {reason}, so `{d.name}` may now point into freed memory."
        return self.finding(u.span, message, [Related(d.span, f"`{d.name}` taken from `{cpath}` here"),
                                              Related(m.span, f"`{cpath}` changed here")],
                            why=why, fix="Fetch it again after the change, or keep an index or key instead.")


@dataclass(slots=True)
class CalleeMutation:
    """A call to a method of the same class that changes one of its member containers: it
    stands in the caller for the change it makes (`drop(it->first)` -> `m_peers.erase(..)`)."""

    path: str  # the member container
    name: str  # the container method the callee calls: "erase", "clear", "push_back"
    args: list  # its arguments in the caller's terms: a callee parameter becomes the caller's argument
    via: str  # the callee
    span: object  # the caller's call
    scope: int
    lambda_index: object
    through: str = ""  # the owner's method a callback calls, which makes the change


_ELEMENT_OF = re.compile(r"^\(?\*?\s*([A-Za-z_]\w*)\)?\s*(?:->\s*first|\.\s*first)?$")


def _map_args(margs, pnames: list, cargs: list) -> list:
    """A callee's call arguments in the caller's terms: a callee parameter becomes the caller's
    argument (`it->first`, read as the key of the element `it` points to); anything else is the
    callee's own value and matches nothing of the caller's."""
    out = []
    for a in margs:
        a = a.replace(" ", "")
        if a in pnames and pnames.index(a) < len(cargs):
            a = cargs[pnames.index(a)].replace(" ", "")
            if not a.startswith("<"):
                m = _ELEMENT_OF.match(a)  # `it->first`: the key of the element `it` points to
                a = m.group(1) if m else a
        elif not a.startswith("<"):
            a = f"<{a}>"
        out.append(a)
    return out


def _member_changes(fl, cflow, lam, pnames: list, cargs: list, via: str, c) -> list:
    """The calls on this object's member containers made in `cflow` (in lambda `lam`, or the
    body itself for None), as CalleeMutations standing at the caller's call `c`."""
    out = []
    for mc in cflow.calls:
        if mc.kind != "call" or not mc.receiver or mc.lambda_index != lam:
            continue
        path = _norm(mc.receiver)
        if path not in fl.fields or cflow.decl_named(path, mc.span.start_byte, mc.scope) is not None:
            continue  # not this object's member
        out.append(CalleeMutation(path, mc.name, _map_args(mc.args, pnames, cargs), via, c.span, c.scope, c.lambda_index))
    return out


def _own_methods(li, cls: str, name: str, fn) -> list:
    return [cfn for _f, cfn in li.index.methods_of(cls) if cfn.name == name and cfn.flow is not None and cfn is not fn]


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


def _const_param(p) -> bool:
    t = " ".join(p.type.split())
    return t.startswith("const ") or t.endswith(" const") or t.startswith("std::span<const") or "const_iterator" in t


def _param_changes(li, fl, c) -> list:
    """A free function given a container by non-const reference or pointer changes what the
    caller passed (`add_default(m_jobs)` whose body does `jobs.push_back(..)`): its calls on that
    parameter, read as calls on the caller's argument. Every same-named free function of the
    project with that many parameters is taken (they are overloads the call may pick)."""
    out = []
    cands = [g for _f, g in li.index.cpp_functions.get(c.name, [])[:4]
             if not g.class_name and g.flow is not None and len(g.params) == len(c.args) and g is not fl.fn]
    for g in cands:
        pnames = [p.name for p in g.params]
        for pi, p in enumerate(g.params):
            if not p.name or not (p.is_reference or p.pointer_depth == 1) or _const_param(p):
                continue
            arg = c.args[pi].replace(" ", "")
            if p.pointer_depth == 1:
                if not arg.startswith("&"):
                    continue
                arg = arg[1:]
            path = _norm(arg)
            if not re.fullmatch(_PATH.replace("(?:this->)?", ""), path):
                continue
            for mc in g.flow.calls:
                if mc.kind == "call" and mc.receiver and _norm(mc.receiver) == p.name and mc.lambda_index is None:
                    out.append(CalleeMutation(path, mc.name, _map_args(mc.args, pnames, c.args), c.name, c.span,
                                              c.scope, c.lambda_index))
    return out


def _callee_mutations(li, fl) -> list:
    """Changes to containers made one call down, each standing at the caller's call: a same-class
    method called on this (`drop(id)` whose body does `m_peers.erase(id)`); a callback member
    called (`m_on_finish(it->first)`) whose stored lambda changes a member container itself or
    through a method of the class (the callback calls back into the owner); a free function given
    the container by reference. What the callee does decides, not its name."""
    fn, flow = fl.fn, fl.fn.flow
    if li.index is None:
        return []
    cls = (fn.class_name or "").split("::")[-1]
    out = []
    for c in flow.calls:
        if c.kind != "call" or c.name == fn.name:
            continue
        if c.receiver is None and c.callee_kind == "function":
            out.extend(_param_changes(li, fl, c))
        if not cls or c.receiver not in (None, "this"):
            continue
        if c.callee_kind == "member":
            for cfn, lam, L in _stored_callbacks(li, cls, c.name):
                out.extend(_member_changes(fl, cfn.flow, lam, L.params, c.args, c.name, c))
                # the lambda calls back into the owner: that method's own changes
                for lc in cfn.flow.calls:
                    if lc.lambda_index != lam or lc.kind != "call" or lc.receiver not in (None, "this"):
                        continue
                    largs = _map_args(lc.args, L.params, c.args)
                    for mfn in _own_methods(li, cls, lc.name, fn)[:1]:
                        got = _member_changes(fl, mfn.flow, None, [p.name for p in mfn.params], largs, c.name, c)
                        out.extend(replace(g, through=lc.name) for g in got)
            continue
        for cfn in _own_methods(li, cls, c.name, fn)[:1]:
            out.extend(_member_changes(fl, cfn.flow, None, [p.name for p in cfn.params], c.args, c.name, c))
    return out


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
