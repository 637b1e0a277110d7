"""What a function's author says about the locks its callers hold (design.md §2.2, issue 11).

Two sources, both read where the function is declared or defined, so a header's word reaches
the out-of-line definition in a .cpp:

- Clang thread-safety annotations on a *declaration* in a class body
  (`void flush() REQUIRES(mu_);`); the ones on a definition's own signature are
  `Function.requires_locks` (lifelint.facts.cpp).
- Comments next to the declaration or definition, or first in its body, that name the mutex:
  "called with `mu_` held", "caller must hold m_lock", "m_lock must be held", "requires mu_ to
  be locked", "assumes the lock is held". "the lock" / "the mutex" stand for the class's mutex
  when it has exactly one (resolved in lifelint.locking, which also checks that a named lock
  is a mutex: a comment about holding a reference is not a lock).

Stored as plain data in `CppFacts.extra["caller_locks"]` (cached with the file's facts):
`{"fn": {definition start byte: [(name, how)]}, "decl": [(class, method, name, how)]}`,
`how` being "annotation" or "comment". `ONE_LOCK` stands for "the lock" / "the mutex".
"""

from __future__ import annotations

import re

ONE_LOCK = "<the lock>"

_NAME = rb"`?(?P<name>[A-Za-z_]\w*(?:(?:->|\.|::)[A-Za-z_]\w*)*)`?(?:\s+(?:lock|mutex))?"
_GENERIC = rb"(?P<generic>(?:the|this|our|its|a|class|object)(?:'s)?\s+(?:own\s+)?(?:lock|mutex))"
_WHO = rb"(?:" + _GENERIC + rb"|" + _NAME + rb")"
_HELD = rb"(?:held|locked|acquired|taken|owned)"
_HOLD_COMMENTS = tuple(re.compile(p, re.IGNORECASE) for p in (
    rb"(?:called|invoked|run|runs|executed|call\s+(?:it|this|me)|use\s+(?:it|this|me)|only)\s+(?:only\s+)?(?:with|while|under)\s+"
    + _WHO + rb"(?:\s+(?:is|being))?\s+" + _HELD,
    rb"(?:called|invoked|executed)\s+(?:only\s+)?under\s+" + _WHO,
    rb"(?:caller|callers|you)\s+(?:must|should|needs?\s+to|has\s+to|have\s+to)?\s*(?:already\s+)?"
    rb"(?:holds?|own|owns|has\s+locked|have\s+locked|locked|acquired)\s+" + _WHO,
    rb"(?:must|should|needs?\s+to)\s+(?:already\s+)?(?:be\s+)?(?:hold|holding)\s+" + _WHO,
    rb"(?:requires|assumes|expects)\s+(?:that\s+)?" + _WHO + rb"\s+(?:is\s+|to\s+be\s+|be\s+)?(?:already\s+)?" + _HELD,
    rb"" + _WHO + rb"\s+(?:must|should|is\s+expected\s+to|has\s+to)\s+(?:already\s+)?be\s+" + _HELD,
))
_HINT = re.compile(rb"(?i)\b(?:held|hold|holds|holding|locked|under)\b")
_HINT_STR = re.compile(r"(?i)\b(?:held|hold|holds|holding|locked|under)\b")
_REQUIRES_ANNOTATION = re.compile(
    rb"\b(?:[A-Z]+_)?(?:EXCLUSIVE_LOCKS_REQUIRED|SHARED_LOCKS_REQUIRED|LOCKS_REQUIRED|REQUIRES_SHARED|REQUIRES)\s*\(([^()]*)\)")
# Words a "name" capture may catch that are not lock names.
_NOT_NAMES = frozenset({"the", "a", "an", "this", "it", "its", "lock", "mutex", "locks", "any", "some", "no", "all", "both",
                        "that", "which", "one", "be", "is", "lock_guard", "unique_lock", "guard", "reference", "pointer"})

_DECLS = frozenset({"field_declaration", "declaration", "function_definition", "template_declaration"})


def _decl_after(comment):
    """The declaration or definition a comment documents: the next sibling (other comments
    between), the declaration on the same line before a trailing comment, or the function whose
    body it opens."""
    n = comment.next_named_sibling
    while n is not None and n.type == "comment":
        n = n.next_named_sibling
    if n is not None and n.type in _DECLS and n.start_point[0] - comment.end_point[0] <= 1:
        return n
    p = comment.prev_named_sibling
    if p is not None and p.type in _DECLS and p.end_point[0] == comment.start_point[0]:
        return p
    body = comment.parent
    if body is not None and body.type == "compound_statement" and body.parent is not None \
            and body.parent.type == "function_definition":
        first = next((c for c in body.named_children if c.type != "comment"), None)
        if first is None or first.start_byte > comment.start_byte:
            return body.parent
    return None


def _method_of(node):
    """(class name, method name) of a method declaration in a class body, or None."""
    from lifelint.facts.cpp import _name_parts, unwrap_declarator

    if node.type == "template_declaration":
        node = next((c for c in node.named_children if c.type in _DECLS), None)
        if node is None:
            return None
    d0 = node.child_by_field_name("declarator")
    if d0 is None:
        return None
    d = unwrap_declarator(d0)
    if d.function is None or d.name_node is None:
        return None
    lst = node.parent
    if lst is None or lst.type != "field_declaration_list" or lst.parent is None:
        return None
    cname = lst.parent.child_by_field_name("name")
    if cname is None:
        return None
    return cname.text.decode("utf-8", "replace").split("<")[0].split("::")[-1], _name_parts(d.name_node)[0]


_NAME_BEFORE = re.compile(rb"([A-Za-z_~]\w*)\s*\((?:[^()]|\([^()]*\))*\)(?:\s*(?:const|volatile|noexcept|override|final|&&|&))*\s*$")


def _record(out, node, names, how, name_before: bytes | None = None) -> None:
    if node.type == "template_declaration":
        inner = next((c for c in node.named_children if c.type in _DECLS), None)
        if inner is None:
            return
        node = inner
    if node.type == "function_definition":
        out["fn"].setdefault(node.start_byte, []).extend((n, how) for n in names)
        return
    m = _method_of(node)
    if m is not None:
        meth = m[1]
        if name_before is not None:
            # `void f() REQUIRES(mu_);` may parse as a function named REQUIRES: the name is the
            # one whose parameter list comes right before the annotation.
            g = _NAME_BEFORE.search(name_before)
            if g is not None:
                meth = g.group(1).decode("utf-8", "replace")
        out["decl"].extend((m[0], meth, n, how) for n in names)


def extract(root, data: bytes, cpp, comments=None) -> None:
    """Fill `cpp.extra["caller_locks"]` (see the module doc); nothing when the file says nothing.
    `comments`: the file's comments (FileFacts.comments), so that only those are searched."""
    has_ann = b"REQUIRE" in data
    if not has_ann and _HINT.search(data) is None:
        return
    out: dict = {"fn": {}, "decl": []}
    for c in comments or ():
        if _HINT_STR.search(c.text) is None:
            continue
        body = c.text.encode("utf-8", "replace")
        names = []
        for rx in _HOLD_COMMENTS:
            for m in rx.finditer(body):
                if m.group("generic"):
                    names.append(ONE_LOCK)
                    continue
                name = (m.group("name") or b"").decode("utf-8", "replace")
                if name.lower() not in _NOT_NAMES and name not in names:
                    names.append(name)
        if not names:
            continue
        n = root.descendant_for_byte_range(c.span.start_byte, c.span.end_byte)
        if n is None or n.type != "comment":
            continue
        target = _decl_after(n)
        if target is not None:
            _record(out, target, names, "comment")
    if has_ann:
        for m in _REQUIRES_ANNOTATION.finditer(data):
            n = root.descendant_for_byte_range(m.start(), m.start())
            while n is not None and n.type not in _DECLS and n.type not in ("compound_statement", "field_declaration_list",
                                                                             "translation_unit"):
                n = n.parent
            if n is None or n.type not in ("field_declaration", "declaration", "template_declaration"):
                continue  # a definition's own signature: Function.requires_locks
            names = [a.strip().decode("utf-8", "replace") for a in m.group(1).split(b",") if a.strip()]
            _record(out, n, [x for x in names if not x.startswith("!")], "annotation", data[n.start_byte:m.start()])
    if out["fn"] or out["decl"]:
        cpp.extra["caller_locks"] = out
