"""Control-flow graphs of C++ function (and lambda) bodies, built from the tree-sitter tree.

Built only for bodies that take or release a lock (lifelint.facts.cpp_locksets decides), so
lock-free code pays nothing. A graph is small and picklable: parallel lists indexed by node.

Nodes are either *leaves*, one per simple statement or statement header (an expression
statement, a declaration, an `if`/`while`/`switch` condition, a `for` header part, a `return`,
a `catch (...)` header), covering a byte range; or *synthetic* nodes (start -1) that carry
what happens on an edge: guards destroyed as a scope is left, a lock taken only on the edge
where a `try_lock()` succeeded, a loop head. Leaves never overlap, so a byte maps to one leaf.

Control flow modelled: if/else (else-if chains walked without recursion), switch with
fall-through, break and default, while/do/for/range-for with break and continue, return and
co_return, throw (to the handlers of the innermost try, unwinding the guards of every scope it
leaves), try/catch (a handler can be entered from the try's start and after any statement in
it), labels and goto (`has_goto` marks the graph: answers there are less certain), and calls
that never return (`abort()`, `exit()`, `std::terminate()`). Lambda bodies are not entered:
each lambda is a body of its own.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from lifelint.facts.common import preproc_branch, text
from lifelint.model import Span

# An operation on a lock holder, as placed in a node: (byte, delta, holder, span, kind).
# byte: the operation applies to positions >= byte inside a leaf (-1 in a synthetic node: all
# of it); delta +1 takes the lock, -1 releases it; kind says how ("lock", "unlock", "scope",
# "return", "throw", "break", "continue", "test", "unlocker").
Op = tuple


@dataclass(slots=True)
class Cfg:
    starts: list[int] = field(default_factory=list)  # per node: first byte, -1 for a synthetic node
    ends: list[int] = field(default_factory=list)
    succ: list[list[int]] = field(default_factory=list)
    ops: list[list[Op]] = field(default_factory=list)
    entry: int = 0
    exit: int = 1
    # Where the function is left: (node whose OUT state leaves, "return" / "throw" / "end", span).
    exits: list[tuple[int, str, Span]] = field(default_factory=list)
    has_goto: bool = False
    leaf_starts: list[int] = field(default_factory=list)  # sorted starts of the leaves ...
    leaf_ids: list[int] = field(default_factory=list)  # ... and their node ids

    def leaf_at(self, byte: int) -> int | None:
        """The leaf whose range holds `byte` (or the nearest one before it), None before the first."""
        i = bisect_right(self.leaf_starts, byte) - 1
        return self.leaf_ids[i] if i >= 0 else None

    def preds(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.starts]
        for a, ss in enumerate(self.succ):
            for b in ss:
                out[b].append(a)
        return out


# Scope operations: {(scope start, scope end): [(delta, holder, span)]}, applied when the
# scope is left (a guard destroyed: -1; a reverse guard's destructor re-locking: +1).
ScopeOps = dict
# Tested operations: [(expr start, expr end, holder, when_true, span)]: the holder is taken on
# the edge where the expression is `when_true` (`m.try_lock()`, `l.owns_lock()`, `if (l)`).
Tests = list

_NORETURN = frozenset({"abort", "exit", "_exit", "_Exit", "quick_exit", "terminate", "__builtin_unreachable",
                       "unreachable", "__builtin_trap"})
_LOOPS = frozenset({"while_statement", "for_statement", "for_range_loop", "do_statement"})
_SEQUENCES = frozenset({"ERROR", "translation_unit"})
_PREPROC_CONDITIONALS = frozenset({"preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef"})
_NOT_STATEMENTS = frozenset({"comment", "preproc_call", "preproc_def", "preproc_function_def", "preproc_include",
                             "preproc_directive", "preproc_arg", "identifier", "statement_identifier"})


class _Frame:
    __slots__ = ("kind", "ops", "brk", "cont", "members", "unwind", "catch_all", "cont_target")

    def __init__(self, kind: str, ops=None):
        self.kind = kind  # "scope", "loop", "switch", "try"
        self.ops = ops or []  # scope: operations when it is left
        self.brk: list[int] = []
        self.cont: list[int] = []
        self.members: list[int] = []  # try: leaves inside the try block
        self.unwind: list = []  # try: scope operations of scopes inside the try block
        self.catch_all = False


class _Builder:
    def __init__(self, scope_ops: ScopeOps, tests: Tests):
        self.g = Cfg()
        self.scope_ops = scope_ops
        self.tests = tests
        self.frames: list[_Frame] = []
        self.labels: dict[str, int] = {}
        self.gotos: list[tuple[int, str]] = []
        self.g.entry = self.synth()
        self.g.exit = self.synth()

    # nodes ------------------------------------------------------------------------------
    def _node(self, start: int, end: int) -> int:
        g = self.g
        g.starts.append(start)
        g.ends.append(end)
        g.succ.append([])
        g.ops.append([])
        return len(g.starts) - 1

    def synth(self, ops=None) -> int:
        n = self._node(-1, -1)
        if ops:
            self.g.ops[n].extend(ops)
        return n

    def leaf(self, start: int, end: int, preds: list[int]) -> int:
        n = self._node(start, end)
        self.link(preds, n)
        for f in reversed(self.frames):
            if f.kind == "try":
                f.members.append(n)
                break
        return n

    def link(self, preds, n: int) -> None:
        succ = self.g.succ
        for p in preds:
            if n not in succ[p]:
                succ[p].append(n)

    # statements -------------------------------------------------------------------------
    def seq(self, stmts, preds: list[int]) -> list[int]:
        for s in stmts:
            if s.type in _NOT_STATEMENTS:
                continue
            preds = self.stmt(s, preds)
        return preds

    def stmt(self, node, preds: list[int]) -> list[int]:
        t = node.type
        if t == "compound_statement":
            return self.block(node, node.named_children, preds)
        if t == "if_statement":
            return self.if_chain(node, preds)
        if t in _LOOPS:
            return self.loop(node, preds)
        if t == "switch_statement":
            return self.switch(node, preds)
        if t == "try_statement":
            return self.try_(node, preds)
        if t in ("return_statement", "co_return_statement"):
            n = self.leaf(node.start_byte, node.end_byte, preds)
            self.g.exits.append((n, "return", Span.of(node)))
            self.jump_out(n, "return", Span.of(node), None)
            return []
        if t == "throw_statement" or (t == "expression_statement" and node.named_child_count
                                      and node.named_children[0].type == "throw_expression"):
            n = self.leaf(node.start_byte, node.end_byte, preds)
            self.throw(n, Span.of(node))
            return []
        if t in ("break_statement", "continue_statement"):
            n = self.leaf(node.start_byte, node.end_byte, preds)
            self.jump_out(n, t.split("_")[0], Span.of(node), None)
            return []
        if t == "goto_statement":
            n = self.leaf(node.start_byte, node.end_byte, preds)
            self.g.has_goto = True
            self.gotos.append((n, text(node.child_by_field_name("label"))))
            return []
        if t == "labeled_statement":
            head = self.synth()
            self.link(preds, head)
            lab = node.child_by_field_name("label")
            if lab is not None:
                self.labels[text(lab)] = head
            return self.seq([c for c in node.named_children if c.type != "statement_identifier"], [head])
        if t in _PREPROC_CONDITIONALS or t == "preproc_else":
            return self.preproc(node, preds)
        if t in _SEQUENCES:
            return self.seq([c for c in node.named_children if c.type not in ("preproc_arg",)], preds)
        if t == "expression_statement" and node.named_child_count and _noreturn(node.named_children[0]):
            self.leaf(node.start_byte, node.end_byte, preds)
            return []
        n = self.leaf(node.start_byte, node.end_byte, preds)
        return [n]

    def preproc(self, node, preds: list[int]) -> list[int]:
        """A live `#if`/`#elif`/`#else` chain (the pre-pass kept every branch): its branches are
        read in order, as statements one after the other, not as alternatives. Conditionals in
        one function mostly test the same macro (`#ifdef THREADED lock() #endif ... #ifdef
        THREADED unlock() #endif`, `#ifdef A a.lock() #else b.lock() #endif` then the same for
        the unlocks): a graph that joins the branches as alternatives has no memory of which was
        taken and would pair a lock of one build with the release of another. Read in order,
        the statements of each build still follow each other. One exception: a branch that
        cannot fall through (it returns, throws...) does not make what follows it dead: the next
        branch, or what follows the conditional when it has no `#else`, is entered as a build
        without that branch enters it, from where that branch began. When every branch of a
        chain with an `#else` leaves, the conditional leaves."""
        cur = preds
        falls = False
        has_else = False
        for _ in range(256):
            kids = [c for c in node.named_children if c.type not in ("preproc_arg",)] if node.type == "preproc_else" \
                else preproc_branch(node)
            out = self.seq(kids, cur)
            if out:
                cur, falls = out, True
            if node.type == "preproc_else":
                has_else = True
                break
            node = node.child_by_field_name("alternative")
            if node is None:
                break
        return [] if has_else and not falls else cur

    def block(self, node, kids, preds: list[int]) -> list[int]:
        ops = self.scope_ops.get((node.start_byte, node.end_byte))
        if not ops:
            return self.seq(kids, preds)
        close = node.children[-1] if node.children else node
        span = Span.of(close)
        frame = _Frame("scope", [(-1, d, h, span, "scope") for d, h, _s in ops])
        for f in reversed(self.frames):
            if f.kind == "try":
                f.unwind.extend(frame.ops)
                break
        self.frames.append(frame)
        out = self.seq(kids, preds)
        self.frames.pop()
        if not out:
            return []
        n = self.synth(frame.ops)
        self.link(out, n)
        return [n]

    def cond_edges(self, c: int, cond) -> tuple[int, int]:
        """The nodes that stand for the true and the false edge out of condition leaf `c`."""
        if cond is None or not self.tests:
            return c, c
        on_true: list = []
        on_false: list = []
        for s, e, h, when, span in self.tests:
            if not (cond.start_byte <= s and e <= cond.end_byte):
                continue
            pol = _polarity(cond, s, e)
            if pol is None:
                continue
            (on_true if pol == when else on_false).append((-1, 1, h, span, "test"))
        t = c
        f = c
        if on_true:
            t = self.synth(on_true)
            self.link([c], t)
        if on_false:
            f = self.synth(on_false)
            self.link([c], f)
        return t, f

    def if_chain(self, node, preds: list[int]) -> list[int]:
        out: list[int] = []
        while True:
            cond = node.child_by_field_name("condition")
            c = self.leaf(cond.start_byte, cond.end_byte, preds) if cond is not None else self.leaf(node.start_byte, node.start_byte + 2, preds)
            t, f = self.cond_edges(c, cond)
            then = node.child_by_field_name("consequence")
            out.extend(self.stmt(then, [t]) if then is not None else [t])
            alt = node.child_by_field_name("alternative")
            if alt is None:
                out.append(f)
                return out
            inner = next((k for k in alt.named_children if k.type != "comment"), None) if alt.type == "else_clause" else alt
            if inner is None:
                out.append(f)
                return out
            if inner.type == "if_statement":
                node, preds = inner, [f]
                continue
            out.extend(self.stmt(inner, [f]))
            return out

    def loop(self, node, preds: list[int]) -> list[int]:
        t = node.type
        body = node.child_by_field_name("body")
        frame = _Frame("loop")
        if t == "while_statement":
            cond = node.child_by_field_name("condition")
            c = self.leaf(cond.start_byte, cond.end_byte, preds)
            tr, fa = self.cond_edges(c, cond)
            self.frames.append(frame)
            out = self.stmt(body, [tr]) if body is not None else [tr]
            self.frames.pop()
            self.link(out + frame.cont, c)
            return [fa] + frame.brk
        if t == "do_statement":
            head = self.synth()
            self.link(preds, head)
            self.frames.append(frame)
            out = self.stmt(body, [head]) if body is not None else [head]
            self.frames.pop()
            cond = node.child_by_field_name("condition")
            if cond is None:
                return out + frame.brk
            c = self.leaf(cond.start_byte, cond.end_byte, out + frame.cont)
            tr, fa = self.cond_edges(c, cond)
            self.link([tr], head)
            return [fa] + frame.brk
        if t == "for_range_loop":
            hend = body.start_byte if body is not None else node.end_byte
            h = self.leaf(node.start_byte, hend, preds)
            self.frames.append(frame)
            out = self.stmt(body, [h]) if body is not None else [h]
            self.frames.pop()
            self.link(out + frame.cont, h)
            return [h] + frame.brk
        # for (init; cond; update) body
        init = node.child_by_field_name("initializer")
        cond = node.child_by_field_name("condition")
        upd = node.child_by_field_name("update")
        if init is not None:
            preds = [self.leaf(init.start_byte, init.end_byte, preds)]
        if cond is not None:
            c = self.leaf(cond.start_byte, cond.end_byte, preds)
            tr, fa = self.cond_edges(c, cond)
        else:
            c = self.synth()
            self.link(preds, c)
            tr, fa = c, None
        self.frames.append(frame)
        out = self.stmt(body, [tr]) if body is not None else [tr]
        self.frames.pop()
        back = out + frame.cont
        if upd is not None:
            u = self.leaf(upd.start_byte, upd.end_byte, back)
            back = [u]
        self.link(back, c)
        return ([fa] if fa is not None else []) + frame.brk

    def switch(self, node, preds: list[int]) -> list[int]:
        cond = node.child_by_field_name("condition")
        c = self.leaf(cond.start_byte, cond.end_byte, preds) if cond is not None else self.leaf(node.start_byte, node.start_byte + 1, preds)
        body = node.child_by_field_name("body")
        frame = _Frame("switch")
        self.frames.append(frame)
        fall: list[int] = []
        has_default = False
        ops = self.scope_ops.get((body.start_byte, body.end_byte)) if body is not None else None
        scope = None
        if ops:
            scope = _Frame("scope", [(-1, d, h, Span.of(body.children[-1]), "scope") for d, h, _s in ops])
            self.frames.append(scope)
        for case in (body.named_children if body is not None else []):
            if case.type != "case_statement":
                fall = self.stmt(case, fall) if case.type not in _NOT_STATEMENTS else fall
                continue
            value = case.child_by_field_name("value")
            if value is None:
                has_default = True
            kids = [k for k in case.named_children if value is None or k.id != value.id]
            fall = self.seq(kids, [c] + fall)
        if scope is not None:
            self.frames.pop()
            if fall:
                n = self.synth(scope.ops)
                self.link(fall, n)
                fall = [n]
        self.frames.pop()
        return fall + frame.brk + ([] if has_default else [c])

    def try_(self, node, preds: list[int]) -> list[int]:
        body = node.child_by_field_name("body")
        frame = _Frame("try")
        handlers = [k for k in node.named_children if k.type == "catch_clause"]
        frame.catch_all = any(_catch_all(h) for h in handlers)
        start = self.synth()
        self.link(preds, start)
        frame.members.append(start)
        self.frames.append(frame)
        out = self.stmt(body, [start]) if body is not None else [start]
        self.frames.pop()
        unwind = self.synth(frame.unwind)
        self.link(frame.members + frame.brk, unwind)  # (brk here: throws routed to this try)
        for h in handlers:
            hb = h.child_by_field_name("body")
            hs = self.leaf(h.start_byte, hb.start_byte if hb is not None else h.end_byte, [unwind])
            if hb is not None:
                out = out + self.stmt(hb, [hs])
            else:
                out = out + [hs]
        return out

    # leaving ----------------------------------------------------------------------------
    def jump_out(self, n: int, kind: str, span: Span, _unused) -> None:
        """break / continue / return from node n: destroy the guards of every scope left."""
        ops: list = []
        for f in reversed(self.frames):
            if f.kind == "scope":
                ops.extend((-1, d, h, span, kind) for _b, d, h, _s, _k in f.ops)
            elif kind == "break" and f.kind in ("loop", "switch"):
                f.brk.append(self._via(n, ops))
                return
            elif kind == "continue" and f.kind == "loop":
                f.cont.append(self._via(n, ops))
                return
        if kind in ("break", "continue"):
            return  # not in a loop: broken code, leave it a dead end
        self.link([self._via(n, ops)], self.g.exit)

    def throw(self, n: int, span: Span) -> None:
        ops: list = []
        for f in reversed(self.frames):
            if f.kind == "scope":
                ops.extend((-1, d, h, span, "throw") for _b, d, h, _s, _k in f.ops)
            elif f.kind == "try":
                f.brk.append(self._via(n, ops))  # the try links its throw sources to its handlers
                if f.catch_all:
                    return
        self.g.exits.append((n, "throw", span))
        self.link([self._via(n, ops)], self.g.exit)

    def _via(self, n: int, ops: list) -> int:
        if not ops:
            return n
        s = self.synth(ops)
        self.link([n], s)
        return s

    def finish(self, out: list[int], end_span: Span) -> Cfg:
        g = self.g
        if out:
            g.exits.extend((p, "end", end_span) for p in out)
            self.link(out, g.exit)
        for n, label in self.gotos:
            self.link([n], self.labels.get(label, g.exit))
        leaves = sorted((s, i) for i, s in enumerate(g.starts) if s >= 0)
        g.leaf_starts = [s for s, _ in leaves]
        g.leaf_ids = [i for _, i in leaves]
        return g


def _catch_all(clause) -> bool:
    p = clause.child_by_field_name("parameters")
    return p is not None and "".join(text(p).split()) == "(...)"


def _noreturn(expr) -> bool:
    if expr.type != "call_expression":
        return False
    f = expr.child_by_field_name("function")
    name = text(f).split("::")[-1].strip() if f is not None else ""
    return name in _NORETURN


def _polarity(cond, s: int, e: int) -> bool | None:
    """Whether condition `cond` is true when the expression at [s, e) is true (True), when it is
    false (False), or neither follows (None: `a || m.try_lock()`)."""
    n = cond.descendant_for_byte_range(s, e)
    while n is not None and not (n.start_byte == s and n.end_byte == e) and n.parent is not None and n.id != cond.id:
        n = n.parent
    if n is None:
        return None
    pol = True
    while n.id != cond.id:
        p = n.parent
        if p is None:
            return None
        t = p.type
        if t in ("parenthesized_expression", "condition_clause"):
            pass
        elif t == "unary_expression" and text(p.child_by_field_name("operator")) in ("!", "not"):
            pol = not pol
        elif t == "binary_expression":
            op = text(p.child_by_field_name("operator"))
            if op in ("&&", "and"):
                if not pol:
                    return None  # `!(a && try_lock())` false does not mean it was taken
            elif op in ("==", "!=") and text(p.child_by_field_name("right")).strip() in ("0", "false", "nullptr"):
                pol = (not pol) if op == "==" else pol
            else:
                return None
        elif t == "init_statement" or t == "declaration":
            return None
        else:
            return None
        n = p
    return pol


def build(body, scope_ops: ScopeOps, tests: Tests) -> Cfg:
    """The graph of one body (a function's or a lambda's `compound_statement`)."""
    b = _Builder(scope_ops, tests)
    kids = body.named_children if body.type == "compound_statement" else [body]
    ops = scope_ops.get((body.start_byte, body.end_byte))
    end_span = Span.of(body.children[-1] if body.children else body)
    if ops:
        frame = _Frame("scope", [(-1, d, h, end_span, "scope") for d, h, _s in ops])
        b.frames.append(frame)
        out = b.seq(kids, [b.g.entry])
        b.frames.pop()
        if out:
            n = b.synth(frame.ops)
            b.link(out, n)
            out = [n]
    else:
        out = b.seq(kids, [b.g.entry])
    return b.finish(out, end_span)
