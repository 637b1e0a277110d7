"""Which lock guards are held at each point of a Rust function: a control-flow graph per body
(the function's, each closure's) and forward dataflow over it, the C++ lattice and solver
(lifelint.facts.cpp_locksets: `Cfg`, `solve`, `LockFlow`) reused as is.

Built only for bodies that take a guard, so lock-free code pays nothing. A *holder*
(`RHolder`, one per acquisition) is a `.lock()` / `.read()` / `.write()` / `try_*` /
`blocking_*` / `*_owned` call (std, parking_lot, tokio; `.await`, `unwrap()`, `expect()`,
`unwrap_or_else(..)`, `?` pass the guard on), or a call to a function whose return type is a
guard (`fn state(&self) -> MutexGuard<'_, T> { self.inner.lock().unwrap() }` acquires
`self.inner` for its caller: the helper's own returned lock names the mutex), defined in the
same file or, through the files' summaries, in another (lifelint.facts.rust_flow:
`apply_project_guard_helpers`).

Where a guard dies (**edition 2021** temporary rules):
- a `let g = ..` guard (also `let g = match m.lock() { Ok(g) => g, Err(e) => e.into_inner() }`,
  `let Ok(g) = m.try_lock() else { .. }`): at the end of its block, on every way out of it
  (`break`, `continue`, `return`, `?`), at `drop(g)`, or when moved into a call (`tx.send(g)`);
  returned (`g` as the tail, `return g`) it stays held to the exit;
- a temporary (`self.m.lock().unwrap().push(x);`): at the end of its statement, or of the `if`
  / `while` condition, match arm, `&&` operand that encloses it; in the scrutinee of `if let`,
  `while let` or `match` it lives for the whole expression, `else` included (2021; edition
  2024 drops it before `else`);
- `try_lock()` / `try_read()` / `try_write()` hold only where the pattern took the guard
  (`if let Ok(g)` consequence, the `Some(..)` / `Ok(..)` match arm, after a `let .. else`).

Control flow: blocks, `if` / `if let` / else-if chains, `match` arms, `loop` / `while` /
`while let` / `for` with labelled `break` / `continue`, labelled blocks, `return`, `?`, panics
(`panic!`, `unreachable!`, `todo!`, `unimplemented!`, `process::exit`). Closures and `async`
blocks are bodies of their own (entry: nothing held; `lock_held` in lifelint.rust_checks adds
the creation point's locks for closures that run on the spot and futures awaited where they
are made).
"""

from __future__ import annotations

from dataclasses import dataclass

from lifelint.facts.cpp_cfg import Cfg
from lifelint.facts.cpp_cfg import _Builder as _CppBuilder
from lifelint.facts.cpp_locksets import LockFlow, solve
from lifelint.model import Span

PASS_METHODS = frozenset({"unwrap", "expect", "unwrap_or_else", "unwrap_unchecked", "map_err"})
TRY_METHODS = frozenset({"try_lock", "try_read", "try_write", "try_lock_owned", "try_read_owned",
                         "try_write_owned", "try_upgradable_read"})
_PANICS = frozenset({"panic", "unreachable", "todo", "unimplemented"})
_CONTROL = frozenset({"if_expression", "match_expression", "loop_expression", "while_expression", "for_expression",
                      "return_expression", "break_expression", "continue_expression", "try_expression", "block",
                      "let_declaration"})
_OPAQUE = frozenset({"closure_expression", "async_block", "function_item", "impl_item", "mod_item", "trait_item", "struct_item",
                     "enum_item", "macro_definition", "const_item", "static_item"})
_NOT_STATEMENTS = frozenset({"line_comment", "block_comment", "empty_statement", "attribute_item", "label",
                             "inner_attribute_item"})


@dataclass(slots=True)
class RHolder:
    """One guard acquisition."""
    recv: str  # the mutex expression (`self.inner`); for a helper, the mutex its body locks
    method: str  # lock / read / write / try_lock / ... or the helper's name
    span: Span  # the acquiring call
    var: str | None  # the guard's binding, None for a temporary
    closure: int  # the body it belongs to (-1: the function's own)
    via: str = ""  # the guard-returning helper it was taken through


def _t(n) -> str:
    return n.text.decode("utf-8", "replace") if n is not None else ""


def _key(n) -> tuple:
    return (n.start_byte, n.end_byte, n.type)


def _method_call(n):
    """(name, receiver) when `n` is `recv.name(..)`, else None."""
    if n is None or n.type != "call_expression":
        return None
    f = n.child_by_field_name("function")
    if f is None or f.type != "field_expression":
        return None
    return _t(f.child_by_field_name("field")), f.child_by_field_name("value")


def _guard_top(call):
    """The outermost expression that still is the guard: through `.unwrap()`, `?`, `.await`."""
    n = call
    while True:
        p = n.parent
        if p is None:
            return n
        t = p.type
        if t in ("try_expression", "parenthesized_expression", "await_expression"):
            n = p
            continue
        if t == "field_expression" and p.child_by_field_name("value") == n:
            gp = p.parent
            if gp is not None and gp.type == "call_expression" and gp.child_by_field_name("function") == p \
                    and _t(p.child_by_field_name("field")) in PASS_METHODS:
                n = gp
                continue
        return n


def _ident_pattern(pat) -> str | None:
    if pat is None:
        return None
    if pat.type == "identifier":
        return _t(pat)
    if pat.type == "mut_pattern" and pat.named_children and pat.named_children[0].type == "identifier":
        return _t(pat.named_children[0])
    return None


def _bound_name(pat) -> str | None:
    """`g` in `Ok(g)`, `Some(mut g)`, `g`."""
    name = _ident_pattern(pat)
    if name is not None:
        return name
    if pat is not None and pat.type == "tuple_struct_pattern":
        kids = [k for k in pat.named_children if k != pat.child_by_field_name("type")]
        if len(kids) == 1:
            return _ident_pattern(kids[0])
    return None


def _arms(match):
    """(pattern, value) of each arm of a `match` (the pattern without its `if` guard)."""
    body = match.child_by_field_name("body")
    for arm in (body.named_children if body is not None else ()):
        if arm.type != "match_arm":
            continue
        pat = arm.child_by_field_name("pattern")
        v = arm.child_by_field_name("value")
        if pat is not None and v is not None:
            yield (pat.named_children[0] if pat.named_children else pat), v


def _match_yields_guard(match) -> bool:
    """`match m.lock() { Ok(g) => g, .. }`: an arm hands out the guard its pattern bound."""
    for pat, v in _arms(match):
        name = _bound_name(pat)
        if name is not None and v.type == "identifier" and _t(v) == name:
            return True
    return False


def _failure_pattern(pat) -> bool:
    s = _t(pat).strip()
    return s in ("None", "_") or s.startswith(("Err", "None", "TryLockError", "Err("))


def _extended(top) -> bool:
    """`let r = &m.lock().unwrap();` / `let b = &mut *m.lock();` / `let x = &g_tmp.field;`: the
    temporary's life is extended to the let's block."""
    x = top
    borrowed = False
    while True:
        p = x.parent
        if p is None:
            return False
        t = p.type
        if t == "reference_expression":
            borrowed = True
        elif t == "field_expression":
            gp = p.parent
            if gp is not None and gp.type == "call_expression" and gp.child_by_field_name("function") == p:
                return False  # a method call on the guard: its temporaries are not extended
        elif not (t == "parenthesized_expression" or t == "index_expression" and p.named_children
                  and p.named_children[0] == x or t == "unary_expression" and p.text.startswith(b"*")):
            return borrowed and t == "let_declaration" and p.child_by_field_name("value") == x
        x = p


def _end_span(n) -> Span:
    """The last character of `n` (a block's `}`, a statement's `;`): where its guards die."""
    er, ec = n.end_point
    return Span(n.end_byte - 1, n.end_byte, er, max(ec - 1, 0), er, ec)


def _enclosing_block(n):
    p = n.parent
    while p is not None and p.type not in ("block", "source_file"):
        if p.type in ("closure_expression", "async_block", "function_item"):
            return None
        p = p.parent
    return p


def _temp_scope(n):
    """The node at whose end a temporary created in `n` is dropped (None: the body's end)."""
    while True:
        p = n.parent
        if p is None:
            return None
        t = p.type
        if t in ("expression_statement", "let_declaration"):
            return p
        if t in ("if_expression", "while_expression") and p.child_by_field_name("condition") == n \
                and n.type not in ("let_condition", "let_chain"):
            return n
        if t == "match_arm" and p.child_by_field_name("value") == n:
            return n
        if t == "binary_expression" and p.child_by_field_name("right") == n \
                and _t(p.child_by_field_name("operator")) in ("&&", "||"):
            return n
        if t in ("closure_expression", "async_block", "function_item", "return_expression", "source_file"):
            return None
        if t == "block" and p.parent is not None:
            # the body of a function, closure, `if`, `else`, loop or match arm is a temporary
            # scope; only a plain block expression hands its tail's temporaries outwards
            pt = p.parent.type
            if pt in ("closure_expression", "async_block", "function_item"):
                return None
            if pt in ("if_expression", "else_clause", "loop_expression", "while_expression", "for_expression",
                      "match_arm"):
                return p
        n = p


class _Frame:
    __slots__ = ("kind", "ops", "brk", "cont", "label", "head")

    def __init__(self, kind, ops=(), label=None, head=None):
        self.kind = kind  # "scope" | "loop" | "block" (a labelled block)
        self.ops = list(ops)
        self.brk: list[int] = []
        self.label = label
        self.head = head


class _Builder(_CppBuilder):
    """The C++ builder's graph bookkeeping (nodes, synthetic nodes, links), Rust's walk."""

    def __init__(self, begin_ops, end_ops, post_ops):
        super().__init__({}, [])
        self.begin_ops = begin_ops
        self.end_ops = end_ops
        self.post_ops = post_ops
        self.used: set = set()
        self.ctl: set[int] = set()
        self.noreturn: set[int] = set()

    def leaf_of(self, node, preds) -> int:
        return self.leaf(node.start_byte, node.end_byte, preds)

    def mark_control(self, body) -> None:
        """Node ids of everything that has control flow or a lock operation on entering or
        leaving it inside (closures not entered)."""
        stack = list(body.named_children)
        ctl = self.ctl
        keyed = self.begin_ops.keys() | self.end_ops.keys() | self.post_ops.keys()
        while stack:
            n = stack.pop()
            t = n.type
            if t in _OPAQUE:
                continue
            hit = t in _CONTROL or (n.start_byte, n.end_byte, t) in keyed
            if t == "macro_invocation" and _t(n.child_by_field_name("macro")).rsplit("::", 1)[-1] in _PANICS \
                    or t == "call_expression" and _t(n.child_by_field_name("function")).endswith(("process::exit", "process::abort")):
                self.noreturn.add(n.id)
                hit = True
            if hit:
                p = n
                while p is not None and p.id not in ctl and p != body:
                    ctl.add(p.id)
                    p = p.parent
            stack.extend(n.named_children)

    # jumps -----------------------------------------------------------------------------------
    def jump(self, at: int, kind: str, label: str | None) -> None:
        ops = []
        target = None
        for f in reversed(self.frames):
            if kind in ("break", "continue") and f.kind in ("loop", "block") and (label is None and f.kind == "loop" or f.label == label):
                target = f
                break
            ops.extend(f.ops)
        n = at
        if ops:
            n = self.synth(ops)
            self.link([at], n)
        if target is None:
            self.link([n], self.g.exit)
        elif kind == "break":
            target.brk.append(n)
        else:
            self.link([n], target.head)

    # expressions -----------------------------------------------------------------------------
    def build(self, node, preds: list[int]) -> list[int]:
        k = _key(node)
        begin = self.begin_ops.get(k)
        if begin is not None:
            self.used.add(("b", k))
            s = self.synth(begin)
            self.link(preds, s)
            preds = [s]
        end = self.end_ops.get(k)
        if end is not None:
            self.used.add(("e", k))
            self.frames.append(_Frame("scope", end))
        out = self._build(node, preds)
        if end is not None:
            self.frames.pop()
            if out:
                s = self.synth(end)
                self.link(out, s)
                out = [s]
        post = self.post_ops.get(k)
        if post is not None and out:
            self.used.add(("p", k))
            s = self.synth(post)
            self.link(out, s)
            out = [s]
        return out

    def seq(self, kids, preds):
        for c in kids:
            if c.type in _NOT_STATEMENTS:
                continue
            preds = self.build(c, preds)
        return preds

    def _build(self, node, preds: list[int]) -> list[int]:
        if node.id not in self.ctl:
            return [self.leaf_of(node, preds)]
        t = node.type
        if t in ("block", "unsafe_block", "async_block", "const_block"):
            lab = next((c for c in node.children if c.type == "label"), None)
            if lab is not None:
                fr = _Frame("block", label=_t(lab))
                self.frames.append(fr)
                out = self.seq(node.named_children, preds)
                self.frames.pop()
                return out + fr.brk
            return self.seq(node.named_children, preds)
        if t == "if_expression":
            return self.if_(node, preds)
        if t == "match_expression":
            val = node.child_by_field_name("value")
            c = self.build(val, preds) if val is not None else preds
            out: list[int] = []
            body = node.child_by_field_name("body")
            for arm in (body.named_children if body is not None else ()):
                if arm.type != "match_arm":
                    continue
                pat = arm.child_by_field_name("pattern")
                cond = pat.child_by_field_name("condition") if pat is not None else None
                p = self.build(cond, c) if cond is not None else c
                v = arm.child_by_field_name("value")
                out.extend(self.build(v, p) if v is not None else p)
            return out
        if t in ("loop_expression", "while_expression", "for_expression"):
            return self.loop(node, preds)
        if t == "return_expression":
            out = self.seq(node.named_children, preds)
            n = self.synth()
            self.link(out, n)
            self.g.exits.append((n, "return", Span.of(node)))
            self.jump(n, "return", None)
            return []
        if t in ("break_expression", "continue_expression"):
            lab = next((c for c in node.named_children if c.type == "label"), None)
            vals = [c for c in node.named_children if c.type != "label"]
            out = self.seq(vals, preds)
            n = self.synth()
            self.link(out, n)
            self.jump(n, t.split("_")[0], _t(lab) if lab is not None else None)
            return []
        if t == "try_expression":
            out = self.seq(node.named_children, preds)
            n = self.synth()
            self.link(out, n)
            err = self.synth()
            self.link([n], err)
            self.g.exits.append((err, "?", Span.of(node)))
            self.jump(err, "return", None)
            return [n]
        if node.id in self.noreturn:
            n = self.leaf_of(node, preds)
            self.g.exits.append((n, "panic", Span.of(node)))
            self.link([n], self.g.exit)
            return []
        if t == "let_declaration":
            val = node.child_by_field_name("value")
            out = self.build(val, preds) if val is not None else preds
            alt = node.child_by_field_name("alternative")
            if alt is not None:
                self.build(alt, list(out))  # the else block diverges
            return out
        # any other expression: its parts in source order (one leaf when only an operation on
        # entering or leaving it put it here)
        if not any(c.id in self.ctl for c in node.named_children):
            return [self.leaf_of(node, preds)]
        return self.seq(node.named_children, preds)

    def if_(self, node, preds):
        out: list[int] = []
        while True:
            cond = node.child_by_field_name("condition")
            c = self.build(cond, preds) if cond is not None else preds
            then = node.child_by_field_name("consequence")
            out.extend(self.build(then, c) if then is not None else c)
            alt = node.child_by_field_name("alternative")
            if alt is None:
                return out + c
            inner = next((k for k in alt.named_children if k.type not in _NOT_STATEMENTS), None)
            if inner is None:
                return out + c
            if inner.type == "if_expression" and _key(inner) not in self.end_ops and _key(inner) not in self.begin_ops:
                node, preds = inner, c
                continue
            out.extend(self.build(inner, c))
            return out

    def loop(self, node, preds):
        t = node.type
        lab = next((c for c in node.children if c.type == "label"), None)
        if t == "for_expression":
            val = node.child_by_field_name("value")
            if val is not None:
                preds = self.build(val, preds)  # the iterator is made once, before the loop
        head = self.synth()
        self.link(preds, head)
        fr = _Frame("loop", label=_t(lab) if lab is not None else None, head=head)
        exits: list[int] = []
        entry = [head]
        if t == "while_expression":
            cond = node.child_by_field_name("condition")
            entry = self.build(cond, [head]) if cond is not None else [head]
            exits = list(entry)
        elif t == "for_expression":
            exits = [head]
        self.frames.append(fr)
        body = node.child_by_field_name("body")
        out = self.build(body, entry) if body is not None else entry
        self.frames.pop()
        self.link(out, head)
        return exits + fr.brk


def build_cfg(body, begin_ops, end_ops, post_ops, points) -> Cfg:
    """The graph of one body (a block or a closure's body expression), with `points` (sorted
    (byte, delta, holder, span, kind) operations) placed in the leaves that hold their bytes."""
    b = _Builder(begin_ops, end_ops, post_ops)
    b.mark_control(body)
    if body.type == "block":
        b.ctl.add(body.id)
    out = b.build(body, [b.g.entry])
    end = b.synth()
    b.link(out, end)
    b.g.exits.append((end, "end", Span.of(body)))
    b.link([end], b.g.exit)
    g = b.g
    leaves = sorted((s, i) for i, s in enumerate(g.starts) if s >= 0)
    g.leaf_starts = [s for s, _ in leaves]
    g.leaf_ids = [i for _, i in leaves]
    # operations on nodes that the walk did not build on their own (inside a one-leaf
    # expression): an end becomes a point at the node's end, a begin / post is dropped
    extra = list(points)
    for k, ops in end_ops.items():
        if ("e", k) not in b.used:
            extra.extend((k[1] - 1, *op[1:]) for op in ops)
    for k, ops in post_ops.items():
        if ("p", k) not in b.used:
            extra.extend((k[1] - 1, *op[1:]) for op in ops)
    extra.sort(key=lambda p: p[0])
    for p in extra:
        leaf = g.leaf_at(p[0])
        if leaf is None:
            g.ops[g.entry].append((-1, *p[1:]))
        else:
            g.ops[leaf].append(p)
    for ops in g.ops:
        if len(ops) > 1:
            ops.sort(key=lambda o: o[0])
    return g


def _add(d: dict, node, op) -> None:
    d.setdefault(_key(node), []).append(op)


def build_lockflow(acquisitions, drops, body_of, lets=None) -> tuple[list[RHolder], LockFlow | None]:
    """Holders and their flow for one function.

    `acquisitions`: (closure index, the acquiring call node, mutex text, method, via) for each
    guard taken; `drops`: (closure index, call node, argument name, how) for `drop(x)` and
    calls that consume a guard (see `drop_targets`); `body_of(closure index)`: the body node
    (-1: the function's); `lets`: name -> starts of its `let`s (a shadowing `let` ends what a
    later `drop(name)` refers to)."""
    lets = lets or {}
    holders: list[RHolder] = []
    per: dict[int, tuple[dict, dict, dict, list]] = {}

    def body(ci):
        b = per.get(ci)
        if b is None:
            b = per[ci] = ({}, {}, {}, [])
        return b

    for ci, call, recv, method, via in acquisitions:
        begin_ops, end_ops, post_ops, points = body(ci)
        hi = len(holders)
        span = Span.of(call)
        top = _guard_top(call)
        p = top.parent
        is_try = method in TRY_METHODS and top == call
        var = None
        acquire_at_call = True
        release_scope = None  # node whose end releases
        if p is not None and p.type == "let_declaration" and p.child_by_field_name("value") == top:
            pat = p.child_by_field_name("pattern")
            name = _ident_pattern(pat)
            alt = p.child_by_field_name("alternative")
            if alt is not None:
                var = _bound_name(pat)
                acquire_at_call = False
                _add(post_ops, p, (-1, 1, hi, span, "lock"))
                release_scope = _enclosing_block(p)
            elif name is not None and name != "_" and not is_try:
                var = name
                release_scope = _enclosing_block(p)
            elif is_try:
                continue  # a `Result` of a try kept for later: not a guard we follow
            else:
                release_scope = p
        elif p is not None and p.type == "let_condition" and p.child_by_field_name("value") == top:
            host = p.parent
            while host is not None and host.type in ("let_chain", "binary_expression", "parenthesized_expression"):
                host = host.parent
            then = host.child_by_field_name("consequence") or host.child_by_field_name("body") if host is not None else None
            if is_try or _bound_name(p.child_by_field_name("pattern")) is not None and method in TRY_METHODS:
                if then is None:
                    continue
                var = _bound_name(p.child_by_field_name("pattern"))
                acquire_at_call = False
                _add(begin_ops, then, (-1, 1, hi, span, "test"))
                release_scope = then
            else:
                release_scope = _temp_scope(host) if host is not None else None
        elif p is not None and p.type == "match_expression" and p.child_by_field_name("value") == top:
            holder_let = p.parent if p.parent is not None and p.parent.type == "let_declaration" else None
            if holder_let is not None and _ident_pattern(holder_let.child_by_field_name("pattern")) not in (None, "_") \
                    and _match_yields_guard(p):
                # `let g = match m.lock() { Ok(g) => g, Err(e) => e.into_inner() };`
                # (a poisoned `lock()` holds the lock in its `Err` arm too; a failed try does not)
                var = _ident_pattern(holder_let.child_by_field_name("pattern"))
                if is_try:
                    acquire_at_call = False
                    _add(post_ops, holder_let, (-1, 1, hi, span, "lock"))
                release_scope = _enclosing_block(holder_let)
            elif is_try:
                acquire_at_call = False
                for pat, v in _arms(p):
                    if _failure_pattern(pat):
                        continue
                    _add(begin_ops, v, (-1, 1, hi, span, "test"))
                    _add(end_ops, v, (-1, -1, hi, _end_span(v), "scope"))
                    var = var or _bound_name(pat)
                release_scope = None
            else:
                release_scope = _temp_scope(p)
        elif is_try and not (p is not None and p.type == "field_expression"):
            continue  # a try whose result we do not follow
        elif _extended(top):
            release_scope = _enclosing_block(top)  # `let r = &mut *m.lock();`: lives as long as `r`
        else:
            release_scope = _temp_scope(top)
        holders.append(RHolder(recv, method, span, var, ci, via))
        if acquire_at_call:
            points.append((call.start_byte, 1, hi, span, "lock"))
        if release_scope is not None:
            kind = "scope" if var is not None or release_scope.type == "block" else "statement"
            _add(end_ops, release_scope, (-1, -1, hi, _end_span(release_scope), kind))
        if var is not None:
            lo, hi_b = call.end_byte, release_scope.end_byte if release_scope is not None else 1 << 62
            for dci, dcall, name, how in drops:
                if name == var and dci == ci and lo < dcall.start_byte < hi_b \
                        and not any(lo < b < dcall.start_byte for b in lets.get(name, ())):
                    points.append((dcall.start_byte, -1, hi, Span.of(dcall), how))
    if not holders:
        return holders, None
    flow = LockFlow()
    for ci, (begin_ops, end_ops, post_ops, points) in per.items():
        node = body_of(ci)
        if node is None:
            continue
        points.sort(key=lambda p: p[0])
        try:
            cfg = build_cfg(node, begin_ops, end_ops, post_ops, points)
        except RecursionError:
            continue
        flow.bodies[None if ci < 0 else ci] = solve(cfg, 0)
    return holders, flow


def drop_targets(call, sinks=frozenset()) -> list[tuple[str, str]]:
    """(name, how) for each guard binding call node `call` may end: `drop(name)`,
    `mem::drop(name)`, or `name` moved into a function of `sinks` (same-file functions that
    take a guard by value and return no guard). A guard moved anywhere else (`Arc::new(g)`,
    `tx.send(g)`, `Wrapper(g)`) may stay alive there: not a release."""
    f = call.child_by_field_name("function")
    args = call.child_by_field_name("arguments")
    if f is None or args is None:
        return []
    kids = [a for a in args.named_children if a.type == "identifier"]
    if not kids:
        return []
    ftext = _t(f)
    if ftext in ("drop", "mem::drop", "std::mem::drop", "core::mem::drop"):
        return [(_t(kids[0]), "drop")]
    last = ftext.rsplit("::", 1)[-1].rsplit(".", 1)[-1]
    if last not in sinks:
        return []
    return [(_t(a), "moved") for a in kids]
