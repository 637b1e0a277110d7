"""C++ atomics facts: `std::atomic` variables and check-then-act uses of them (for LL206).

`extract(root, data, facts, out)` fills `out.extra["atomic_vars"]` (names declared with an
atomic type in this file: fields, globals, locals) and `out.extra["atomic_check_then_act"]`
(a list of `CheckThenAct`): an `if` whose condition reads atomic `x` (`x.load(..)`, or `x` /
`this->x` used as a value) and whose guarded code writes the same `x` with a plain
`x.store(v)` / `x = v`, storing a constant, while doing something else too. The early-exit form
(`if (x) return; x = true; act();`) counts: the rest of the block is guarded by the `if`.
Writes made while a `lock_guard` / `unique_lock` / `scoped_lock` declared in an enclosing block
is alive are skipped. Single-step operations (`exchange`, `compare_exchange_*`, `fetch_*`,
`test_and_set`) never count.

Wiring: `lifelint.facts.cpp.extract()` calls `cpp_atomics.extract(root, data, facts, out)`.
Walks are iterative; results are plain dataclasses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lifelint.facts.common import PREPROC_BLOCKS, captures, preproc_branch
from lifelint.model import Span

_ATOMIC_TYPE = re.compile(r"(?:^|::|\b)(?:atomic\s*<|atomic_(?:bool|int|uint|long|ulong|llong|ullong|size_t|"
                          r"intptr_t|uintptr_t|int\d+_t|uint\d+_t|char|schar|uchar|short|ushort)\b)")
_LOCK_TYPES = re.compile(r"\b(?:lock_guard|unique_lock|scoped_lock|shared_lock|MutexLock|LockGuard|mutex::scoped_lock)\b")
_CONST_VALUE = re.compile(r"^(?:true|false|nullptr|NULL|-?\d[\w.']*|[A-Z][A-Za-z0-9_]*|k[A-Z]\w*|(?:[A-Za-z_]\w*::)+[A-Za-z_]\w*|"
                          r"static_cast<[^>]+>\((?:[A-Z_][\w:]*|-?\d+)\))$")
_EXITS = frozenset({"return_statement", "break_statement", "continue_statement", "throw_statement", "goto_statement"})


@dataclass(slots=True)
class CheckThenAct:
    name: str  # the atomic as written, `this->` removed
    load: Span  # the read in the condition
    store: Span  # the write in the guarded code
    store_text: str  # `started_.store(true)` / `started_ = true`
    value: str  # the stored value
    # Does reaching the store imply the check saw a value other than the stored one? True: the
    # store changes the flag (a claim); False: it may store what was already there (idempotent);
    # None: the condition does not say (a load inside a call, a mix of conditions).
    claims: bool | None = None
    # Something is done after the store on the path it guards (a call, a write, `return true` or a
    # computed value): the exclusive work the claim is for. A store after all the work is a
    # "done" marker, not a claim.
    work_after: bool = True


def _t(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def _norm(text: str) -> str:
    t = re.sub(r"\s+", "", text)
    if t.startswith("this->"):
        t = t[6:]
    return t


def _walk(node, prune=("lambda_expression", "function_definition", "class_specifier", "struct_specifier")):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if n is not node and n.type in prune:
            continue
        stack.extend(reversed(n.children))


_DECLS = """
[(field_declaration type: (_) @type) (declaration type: (_) @type) (parameter_declaration type: (_) @type)]
"""


def _declared_atomics(root) -> set[str]:
    names: set[str] = set()
    for ty in captures(root, "cpp", _DECLS).get("type", ()):
        n = ty.parent
        if not _ATOMIC_TYPE.search(_t(ty)):
            continue
        for c in n.named_children:
            if c.type in ("field_identifier", "identifier"):
                names.add(_t(c))
            elif c.type in ("init_declarator",):
                d = c.child_by_field_name("declarator")
                if d is not None and d.type in ("identifier", "field_identifier"):
                    names.add(_t(d))
    return names


def _atomic_name(expr, atomics: set[str]) -> str | None:
    """`x`, `this->x`, `obj.x`, `obj->x` when the last component is a declared atomic."""
    while expr.type == "parenthesized_expression" and expr.named_children:  # `((x))`, however deep
        expr = expr.named_children[0]
    t = expr.type
    if t in ("identifier", "field_identifier"):
        s = _t(expr)
        return s if s in atomics else None
    if t == "field_expression":
        f = expr.child_by_field_name("field")
        if f is not None and _t(f) in atomics:
            return _norm(_t(expr))
    return None


def _reads(cond, atomics: set[str]) -> list[tuple[str, object]]:
    """Atomic reads in a condition: `x.load(..)`, or `x` used as a value."""
    out = []
    # An atomic handed to a function (`atomic_compare_exchange(flag, 1, 0)`, `std::atomic_exchange(&f, 1)`,
    # `is_set(f.load())`) is that function's business: its result is not this flag's value.
    for n in _walk(cond, prune=("lambda_expression", "argument_list")):
        if n.type == "call_expression":
            fn = n.child_by_field_name("function")
            if fn is not None and fn.type == "field_expression" and _t(fn.child_by_field_name("field")) == "load":
                name = _atomic_name(fn.child_by_field_name("argument"), atomics)
                if name:
                    out.append((name, n))
        elif n.type in ("identifier", "field_expression"):
            parent = n.parent
            if parent is not None and parent.type == "field_expression" and parent.child_by_field_name("argument") == n:
                continue  # receiver of a method call / member access
            if n.type == "identifier" and parent is not None and parent.type == "field_expression":
                continue
            name = _atomic_name(n, atomics)
            if name:
                out.append((name, n))
    return out


def _writes(block, name: str, atomics: set[str]):
    """Plain writes of atomic `name` in `block`: (node, text, value)."""
    out = []
    for n in _walk(block):
        if n.type == "call_expression":
            fn = n.child_by_field_name("function")
            if fn is not None and fn.type == "field_expression" and _t(fn.child_by_field_name("field")) == "store":
                if _atomic_name(fn.child_by_field_name("argument"), atomics) == name:
                    args = n.child_by_field_name("arguments")
                    first = args.named_children[0] if args is not None and args.named_children else None
                    out.append((n, _t(n), _t(first)))
        elif n.type == "assignment_expression":
            left = n.child_by_field_name("left")
            op = n.child_by_field_name("operator")
            if left is not None and _t(op) == "=" and _atomic_name(left, atomics) == name:
                out.append((n, _t(n), _t(n.child_by_field_name("right"))))
    return out


def _single_steps(block, name: str, atomics: set[str]) -> bool:
    for n in _walk(block):
        if n.type == "call_expression":
            fn = n.child_by_field_name("function")
            if fn is not None and fn.type == "field_expression":
                f = _t(fn.child_by_field_name("field"))
                if (f.startswith("compare_exchange") or f in ("exchange", "test_and_set")) and \
                        _atomic_name(fn.child_by_field_name("argument"), atomics) == name:
                    return True
    return False


def _has_other_effects(region_nodes, store_node, name: str) -> bool:
    for top in region_nodes:
        for n in _walk(top):
            if n.type in ("call_expression", "assignment_expression", "update_expression", "delete_expression",
                          "new_expression") and not _inside(n, store_node):
                if n.type == "call_expression":
                    fn = n.child_by_field_name("function")
                    if fn is not None and fn.type == "field_expression" and _norm(_t(fn.child_by_field_name("argument"))) == name:
                        continue
                return True
            if n.type in _EXITS and n.type != "return_statement":
                return True
            if n.type == "return_statement" and n.named_children:
                return True
    return False


def _work_after(region_nodes, store_node, name: str) -> bool:
    """Work done after the store on the guarded path: what a claim is for. A return hands the
    caller something exclusive only as `return true` (the "you won" answer of a first-caller
    check); `return 0;`, `return S_OK;` or returning a result computed before the store records
    work already done, and calls in a return are seen as calls."""
    end = store_node.end_byte
    for top in region_nodes:
        for n in _walk(top):
            if n.start_byte < end or _inside(n, store_node):
                continue
            if n.type in ("call_expression", "assignment_expression", "update_expression", "delete_expression",
                          "new_expression"):
                if n.type == "call_expression":
                    fn = n.child_by_field_name("function")
                    if fn is not None and fn.type == "field_expression" and _norm(_t(fn.child_by_field_name("argument"))) == name:
                        continue
                return True
            if n.type in ("break_statement", "continue_statement", "goto_statement"):
                return True
            if n.type == "return_statement" and n.named_children and _t(n.named_children[0]).strip() == "true":
                return True
    return False


_FALSY = frozenset({"false", "0", "nullptr", "NULL", "0L", "0l", "0u", "0U"})


def _unwrap(n):
    while n is not None and n.type in ("condition_clause", "parenthesized_expression") and n.named_child_count == 1:
        n = n.named_children[0]
    return n


def _implied(cond, name: str, atoms: set, truth: bool):
    """What `cond` being `truth` says about atomic `name` (read at the nodes in `atoms`):
    ("truthy",) / ("falsy",) / ("eq", C) / ("ne", C), or None when it says nothing sure."""
    n = _unwrap(cond)
    if n is None:
        return None
    if (n.start_byte, n.end_byte) in atoms:
        return ("truthy",) if truth else ("falsy",)
    if n.type == "unary_expression" and _t(n.child_by_field_name("operator")) == "!":
        return _implied(n.child_by_field_name("argument"), name, atoms, not truth)
    if n.type == "binary_expression":
        op = _t(n.child_by_field_name("operator"))
        left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
        if op in ("&&", "||"):
            a = _implied(left, name, atoms, truth)
            b = _implied(right, name, atoms, truth)
            # `a && b` true (or `a || b` false): both hold, either side's fact is sure
            if (op == "&&") == truth:
                return a or b
            return a if a == b else None  # one of them holds: only a fact both give is sure
        if op in ("==", "!="):
            lu, ru = _unwrap(left), _unwrap(right)
            for atom, other in ((lu, ru), (ru, lu)):
                if atom is not None and (atom.start_byte, atom.end_byte) in atoms and other is not None:
                    c = re.sub(r"\s+", "", _t(other))
                    if not _CONST_VALUE.match(c):
                        return None
                    eq = (op == "==") == truth
                    if c in _FALSY:
                        return ("falsy",) if eq else ("truthy",)
                    return ("eq", c) if eq else ("ne", c)
    return None


def _claims(fact, value: str) -> bool | None:
    """Whether storing `value` where `fact` holds changes the flag (True), may leave it as it
    was (False), or nobody can tell (None)."""
    v = re.sub(r"\s+", "", value)
    falsy = v in _FALSY
    if fact is None:
        return None
    if fact[0] == "falsy":
        return not falsy
    if fact[0] == "truthy":
        return True if falsy else (False if v == "true" else None)
    if fact[0] == "eq":
        return v != fact[1]
    if fact[0] == "ne":
        return True if v == fact[1] else None  # `if (s != CLOSED) { s = CLOSED; ..}`: a transition into it
    return None


def _rechecked_inside(if_node, wnode, name: str, atomics: set[str]) -> bool:
    """The store sits under a nearer `if` that reads the same atomic again (double-checked:
    the outer read is a fast path, the inner check is the one that guards the store)."""
    p = wnode.parent
    while p is not None and p != if_node:
        if p.type == "if_statement":
            c = p.child_by_field_name("condition")
            if c is not None and any(nm == name for nm, _ in _reads(c, atomics)):
                return True
        p = p.parent
    return False


def _inside(n, outer) -> bool:
    return outer.start_byte <= n.start_byte and n.end_byte <= outer.end_byte


def _under_lock(node) -> bool:
    """A lock guard declared earlier in an enclosing block is alive at `node`."""
    child = node
    p = node.parent
    while p is not None and p.type != "function_definition":
        # A preprocessor conditional is no block: a guard declared earlier in the same branch,
        # or in a conditional before it, lives to the end of the block around (not one in
        # another branch of the same conditional: that one is not compiled with `node`).
        if p.type == "compound_statement" or (p.type in PREPROC_BLOCKS and _in_branch(p, child)):
            for s in (p.named_children if p.type == "compound_statement" else preproc_branch(p)):
                if s.start_byte >= child.start_byte:
                    break
                if _declares_guard(s):
                    return True
        child = p
        p = p.parent
    return False


def _in_branch(block, child) -> bool:
    """`child` is in the first branch of preprocessor conditional `block` (not its #else/#elif)."""
    alt = block.child_by_field_name("alternative")
    return alt is None or alt.id != child.id


def _declares_guard(s, depth: int = 0) -> bool:
    """Statement `s` declares a lock guard, or is a preprocessor conditional with a branch that does
    (it is in the block around: the build that compiles that branch holds the lock)."""
    if s.type == "declaration":
        return bool(_LOCK_TYPES.search(_t(s.child_by_field_name("type"))))
    if s.type in PREPROC_BLOCKS and depth < 16:
        alt = s.child_by_field_name("alternative")
        return any(_declares_guard(k, depth + 1) for k in preproc_branch(s)) \
            or (alt is not None and _declares_guard(alt, depth + 1))
    return False


def _statements_after(n) -> list:
    """The statements after `n` in its block. Through preprocessor conditionals: the rest of n's own
    branch, then the rest of the block after the conditional, never another branch of it (only
    one is compiled). Empty when the block is no compound statement."""
    out = []
    cur, p = n, n.parent
    while p is not None and p.type in PREPROC_BLOCKS:
        if _in_branch(p, cur):
            out += [s for s in preproc_branch(p) if s.start_byte >= cur.end_byte]
        cur, p = p, p.parent
    if p is None or p.type != "compound_statement":
        return []
    return out + [s for s in p.named_children if s.start_byte >= cur.end_byte]


def _exits(block) -> bool:
    return any(n.type in _EXITS for n in _walk(block))


_LOCAL_NAMES = """
(declaration declarator: [(identifier) @n (init_declarator declarator: (identifier) @n)
                          (reference_declarator (identifier) @n) (pointer_declarator declarator: (identifier) @n)
                          (init_declarator declarator: (reference_declarator (identifier) @n))
                          (init_declarator declarator: (pointer_declarator declarator: (identifier) @n))]) @decl
(parameter_declaration declarator: [(identifier) @n (reference_declarator (identifier) @n)
                                    (pointer_declarator declarator: (identifier) @n)]) @decl
"""


def _shadowed_by_local(node, name: str) -> bool:
    """A non-atomic local or parameter of the enclosing function has this name (`auto sock =
    socket(...)` in a file where some struct has a `std::atomic<int> sock`)."""
    fn = node.parent
    while fn is not None and fn.type not in ("function_definition", "lambda_expression"):
        fn = fn.parent
    if fn is None:
        return False
    found = captures(fn, "cpp", _LOCAL_NAMES)
    for n in found.get("n", ()):
        if _t(n) != name:
            continue
        decl = n.parent
        while decl is not None and decl.type not in ("declaration", "parameter_declaration"):
            decl = decl.parent
        if decl is not None and "atomic" not in _t(decl):
            return True  # (an `auto&` bound to an atomic spelled without the word is missed)
    return False


def extract(root, data: bytes, facts, out) -> None:
    # Most files declare no atomic at all: skip the tree entirely for them.
    atomics = _declared_atomics(root) if b"atomic" in data else set()
    out.extra["atomic_vars"] = sorted(atomics)
    items: list[CheckThenAct] = []
    if not atomics:
        out.extra["atomic_check_then_act"] = items
        return
    for n in captures(root, "cpp", "(if_statement) @if").get("if", ()):
        cond = n.child_by_field_name("condition")
        cons = n.child_by_field_name("consequence")
        alt = n.child_by_field_name("alternative")
        if cond is None or cons is None:
            continue
        reads = _reads(cond, atomics)
        if not reads:
            continue
        regions = [cons] + ([alt] if alt is not None else [])
        after = []
        if _exits(cons):
            after = _statements_after(n)
        seen = set()
        for name, rnode in reads:
            if name in seen or _shadowed_by_local(n, name):
                continue
            found = None
            for reg, truth in zip(regions, (True, False)):
                w = _writes(reg, name, atomics)
                if w:
                    found = (w[0], [reg], truth)
                    break
            if found is None and after:
                for i, s in enumerate(after):
                    w = _writes(s, name, atomics)
                    if w:
                        found = (w[0], after[i:], False)
                        break
            if found is None:
                continue
            (wnode, wtext, value), region_nodes, truth = found
            if _rechecked_inside(n, wnode, name, atomics):
                continue
            if not _CONST_VALUE.match(re.sub(r"\s+", "", value)):
                continue
            if any(_single_steps(r, name, atomics) for r in region_nodes):
                continue
            if not _has_other_effects(region_nodes, wnode, name):
                continue
            if _under_lock(n) or _under_lock(wnode):
                continue
            seen.add(name)
            atoms = {(r.start_byte, r.end_byte) for nm, r in reads if nm == name}
            claims = _claims(_implied(cond, name, atoms, truth), value)
            items.append(CheckThenAct(name, Span.of(rnode), Span.of(wnode), re.sub(r"\s+", " ", wtext)[:80],
                                      re.sub(r"\s+", " ", value), claims,
                                      _work_after(region_nodes, wnode, name)))
    out.extra["atomic_check_then_act"] = items
