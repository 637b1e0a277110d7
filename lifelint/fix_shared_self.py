"""The unsafe fix of LL102 (`--fix --unsafe-fixes`): `[this]` -> `[self = shared_from_this()]`.

Unsafe as ruff means it: the code still compiles and the callback now keeps the object alive, but
behaviour changes (the object lives until the callback has run; a callback queued from the
constructor would throw `bad_weak_ptr`, so constructors and destructors are refused).

Applied only when every step is certain:
- the lambda captures `this` explicitly (no `[=]`/`[&]` default: which names go through `this`
  is then a guess), no capture or body name is already `self`;
- the enclosing member function's class is defined in the same file and derives directly from
  `enable_shared_from_this<Self>` and from nothing else (an inherited member used without
  `this->` would otherwise be missed and no longer compile);
- in the body, each use of `this` is `this->x` (becomes `self->x`) and each unqualified use of a
  field or method of the class becomes `self->name`; a name that is both a member and a local
  (of the lambda or its function), a qualified member (`C::f()`), a nested lambda that captures
  `this` or has a default capture, a lambda inside another lambda, a macro (a `#define` of the file, or text the pre-pass
  rewrote) or a parse error in the lambda make the finding not fixable.
"""

from __future__ import annotations

import re

from lifelint import parsing
from lifelint.facts import extract_facts

_ESFT = re.compile(r"^(?:public\s+)?(?:::)?(?:std::)?enable_shared_from_this\s*<\s*(?P<self>[\w:]+)\s*>$")
_DEFINE = re.compile(rb"^\s*#\s*define\s+(\w+)", re.MULTILINE)
_DECLARATOR_PARENTS = ("declaration", "init_declarator", "parameter_declaration", "optional_parameter_declaration",
                       "pointer_declarator", "reference_declarator", "array_declarator", "structured_binding_declarator",
                       "for_range_loop", "lambda_capture_specifier", "lambda_capture_initializer", "catch_clause")
_LAMBDA_SELF = "self = shared_from_this()"


def _byte_at(data: bytes, line: int, col: int) -> int:
    """Byte offset of a 1-based line and character column."""
    start = 0
    for _ in range(line - 1):
        start = data.index(b"\n", start) + 1
    end = data.find(b"\n", start)
    text = data[start:end if end >= 0 else len(data)].decode("utf-8", "replace")
    return start + len(text[:col - 1].encode("utf-8"))


def _walk(node):
    yield node
    for c in node.children:
        yield from _walk(c)


def _declared_names(node) -> set[str]:
    """Names declared anywhere under `node` (locals, parameters, captures, bindings)."""
    out = set()
    for n in _walk(node):
        if n.type == "identifier" and n.parent is not None and n.parent.type in _DECLARATOR_PARENTS:
            if n.parent.type == "init_declarator" and n.parent.child_by_field_name("declarator") != n:
                continue
            if n.parent.type == "lambda_capture_initializer" and n.parent.children[0] != n:
                continue
            if n.parent.type == "for_range_loop" and n.parent.child_by_field_name("declarator") != n:
                continue
            if n.parent.type == "declaration" and n.parent.child_by_field_name("declarator") != n:
                continue
            out.add(n.text.decode())
    return out


def _class_of(facts, class_name: str | None):
    if not class_name:
        return None
    for k in facts.cpp.classes:
        if k.qualname == class_name or k.qualname.endswith("::" + class_name) or k.name == class_name:
            return k
    return None


def plan_edits(data: bytes, path: str, findings, settings=None) -> tuple[list[tuple[int, int, str]], list, list]:
    """Edits (start byte, end byte, new text) for the fixable LL102 findings of one file, the
    findings fixed, and the findings refused."""
    tree = parsing.parse("cpp", data)
    seen = parsing.prepare("cpp", data)
    facts = extract_facts(path, "cpp", data, tree, settings)
    macros = {m.decode() for m in _DEFINE.findall(data)}
    edits, fixed, refused = [], [], []
    for f in findings:
        e = _edits_for(f, data, seen, tree, facts, macros)
        if e is None:
            refused.append(f)
        else:
            edits += e
            fixed.append(f)
    # two findings on one lambda, or overlapping lambdas: keep it simple and refuse both
    spans = sorted(edits)
    for a, b in zip(spans, spans[1:]):
        if b[0] < a[1]:
            return [], [], list(findings)
    return edits, fixed, refused


def _edits_for(f, data: bytes, seen: bytes, tree, facts, macros: set[str]):
    at = _byte_at(data, f.location.line, f.location.col)
    node = tree.root_node.descendant_for_byte_range(at, at)
    while node is not None and node.type != "lambda_capture_specifier":
        node = node.parent
    if node is None or node.parent is None or node.parent.type != "lambda_expression":
        return None
    lam, caps = node.parent, node
    body = lam.child_by_field_name("body")
    if body is None or lam.has_error or seen[lam.start_byte:lam.end_byte] != data[lam.start_byte:lam.end_byte]:
        return None
    this_caps = [c for c in caps.named_children if c.type == "this"]
    if len(this_caps) != 1 or any(c.type == "lambda_default_capture" for c in caps.named_children):
        return None
    if re.search(rb"\bself\b", data[lam.start_byte:lam.end_byte]):
        return None
    fn = _enclosing_function(facts, lam.start_byte)
    if fn is None or fn.is_ctor or fn.is_dtor or fn.is_static or fn.name.startswith("~"):
        return None
    cls = _class_of(facts, fn.class_name)
    if cls is None or len(cls.bases) != 1:
        return None
    m = _ESFT.match(cls.bases[0].strip())
    if not m or m.group("self").split("::")[-1] != cls.name:
        return None
    up = lam.parent
    while up is not None and up.type != "function_definition":
        if up.type == "lambda_expression":
            return None  # inside another lambda, `shared_from_this()` would read that lambda's `this`
        up = up.parent
    # static fields need no `this` and stay as written
    members = {v.name for v in cls.fields} | set(cls.method_decls) | {x.name for x in cls.methods} \
        | {"shared_from_this", "weak_from_this"}
    statics = {v.name for v in cls.static_members}
    # a member name the function or the lambda also declares: which one a use means is a guess
    fn_node = tree.root_node.descendant_for_byte_range(fn.span.start_byte, fn.span.end_byte - 1)
    while fn_node is not None and fn_node.type != "function_definition":
        fn_node = fn_node.parent
    fn_body = fn_node.child_by_field_name("body") if fn_node is not None else None
    if fn_body is None or (_declared_names(fn_body) | _declared_names(lam)) & (members | statics):
        return None
    edits = [(this_caps[0].start_byte, this_caps[0].end_byte, _LAMBDA_SELF)]
    ok = _rewrite_body(body, members, macros, edits)
    return edits if ok else None


def _enclosing_function(facts, at: int):
    best = None
    for fn in facts.cpp.functions:
        if fn.body is not None and fn.body.start_byte <= at < fn.body.end_byte:
            if best is None or fn.body.start_byte > best.body.start_byte:
                best = fn
    return best


def _rewrite_body(body, members: set[str], macros: set[str], edits: list) -> bool:
    """Append the body's edits; False when a use is not certain."""
    stack = [body]
    while stack:
        n = stack.pop()
        t = n.type
        if t == "lambda_expression":
            caps = n.child_by_field_name("captures")
            if caps is None or any(c.type in ("this", "lambda_default_capture") for c in caps.named_children):
                return False
            continue  # it cannot name a non-static member without `this`
        if t == "this":
            p = n.parent
            if p is None or p.type != "field_expression" or p.child_by_field_name("argument") != n \
                    or p.child_by_field_name("operator") is None or p.child_by_field_name("operator").type != "->":
                return False  # `*this`, `f(this)`: a shared_ptr is not a raw pointer
            edits.append((n.start_byte, n.end_byte, "self"))
            continue
        if t in ("qualified_identifier", "template_function", "template_method"):
            names = {c.text.decode() for c in _walk(n) if c.type in ("identifier", "field_identifier")}
            if names & members:
                return False
        if t == "identifier":
            name = n.text.decode()
            if name in macros or (n.parent is not None and n.parent.type == "call_expression" and name.isupper()):
                return False
            if name in members:
                edits.append((n.start_byte, n.start_byte, "self->"))
            continue
        stack.extend(n.children)
    return True
