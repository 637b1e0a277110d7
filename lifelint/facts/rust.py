"""Rust facts: functions (with `extern "C"` / `#[no_mangle]`), their parameters, and
`static` items. Extended by the Rust rules' work (unsafe blocks, atomics, guards, ...)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lifelint.facts.common import text
from lifelint.model import Span


@dataclass(slots=True)
class RParam:
    name: str | None
    type: str
    is_raw_pointer: bool
    span: Span


@dataclass(slots=True)
class RFunction:
    name: str
    qualname: str  # `Type::method` inside impls, `module::f` for nested modules
    impl_type: str | None
    span: Span
    name_span: Span
    params: list[RParam]
    return_type: str
    is_unsafe: bool = False
    abi: str | None = None  # "C" for extern "C"
    no_mangle: bool = False
    body: Span | None = None
    impl_trait: str | None = None  # `Drop` inside `impl Drop for X`
    visibility: str = ""  # "pub", "pub(crate)", ... ("" = private)
    self_kind: str | None = None  # "value" (self / mut self), "ref" (&self), "mut" (&mut self)
    safety_doc: bool = False  # its doc comment has a `# Safety` section
    is_test: bool = False  # `#[test]` (or a test attribute), or inside a `#[cfg(test)]` item


@dataclass(slots=True)
class RStatic:
    name: str
    type: str
    span: Span
    name_span: Span
    is_mut: bool
    is_const_item: bool  # `const X` rather than `static X`
    value: str | None
    is_thread_local: bool = False  # `#[thread_local]`, or declared inside `thread_local! { }`
    is_test: bool = False  # inside a `#[cfg(test)]` item (or itself `#[cfg(test)]`)


@dataclass(slots=True)
class RustFacts:
    _load_shared: ClassVar[bool] = True  # lifelint.cache._new_shared: `uses` repeats across files
    functions: list[RFunction] = field(default_factory=list)
    statics: list[RStatic] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # Filled by lifelint.facts.rust_flow (see there for the shapes).
    unsafe_sites: list[Any] = field(default_factory=list)  # rust_flow.UnsafeSite
    flows: list[Any] = field(default_factory=list)  # rust_flow.Flow, one per function with a body
    structs: list[Any] = field(default_factory=list)  # rust_flow.RStruct
    impls: list[Any] = field(default_factory=list)  # rust_flow.RImpl
    # `use` declarations anywhere in the file, one (name brought in, path it stands for) per
    # imported name: `use a::b::{c, d as e};` -> ("c", "a::b::c"), ("e", "a::b::d"); a glob
    # `use a::b::*;` -> ("*", "a::b"). Which crate a call names (lifelint.rust_calls).
    uses: list[tuple[str, str]] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)  # names of the `mod` items it declares

    def flows_with_functions(self):
        """(flow, the RFunction it describes) for every function with a body."""
        for flow in self.flows:
            yield flow, self.functions[flow.fn]


def _attributes_before(node) -> list[str]:
    out = []
    prev = node.prev_named_sibling
    while prev is not None and prev.type in ("attribute_item", "line_comment", "block_comment"):
        if prev.type == "attribute_item":
            out.append(text(prev))
        prev = prev.prev_named_sibling
    return out


def _doc_before(node) -> str:
    """The outer doc comment (`///`, `/** */`) directly before an item (across attributes)."""
    parts = []
    prev = node.prev_named_sibling
    while prev is not None and prev.type in ("attribute_item", "line_comment", "block_comment"):
        if prev.type != "attribute_item":
            t = text(prev)
            if t.startswith("///") or t.startswith("/**"):
                parts.append(t)
        prev = prev.prev_named_sibling
    return "\n".join(reversed(parts))


# `#[test]`, `#[tokio::test]`, `#[bench]`, `#[cfg(test)]`: code that only a test build compiles.
_TEST_ATTR = re.compile(r"^#\[\s*(?:[\w:]*::)?(?:test|bench)\s*(?:\(|\])|^#\[\s*cfg\s*\(\s*test\s*\)\s*\]")


def _is_test_item(node) -> bool:
    return any(_TEST_ATTR.match(a.replace(" ", "")) for a in _attributes_before(node))


def _function(node, impl_type: str | None, mods: tuple[str, ...], impl_trait: str | None = None) -> RFunction:
    name_node = node.child_by_field_name("name")
    name = text(name_node)
    params = []
    self_kind = None
    plist = node.child_by_field_name("parameters")
    if plist is not None:
        for p in plist.named_children:
            if p.type == "parameter":
                ty = p.child_by_field_name("type")
                pat = p.child_by_field_name("pattern")
                params.append(RParam(text(pat) if pat is not None else None, text(ty),
                                     ty is not None and ty.type == "pointer_type", Span.of(p)))
            elif p.type == "self_parameter":
                params.append(RParam("self", text(p), False, Span.of(p)))
                st = text(p).replace(" ", "")
                self_kind = "mut" if st.startswith("&") and "mut" in st else "ref" if st.startswith("&") else "value"
    abi = None
    unsafe = False
    visibility = ""
    for c in node.children:
        if c.type == "visibility_modifier":
            visibility = text(c).replace(" ", "")
        if c.type == "function_modifiers":
            for m in c.children:
                if m.type == "extern_modifier":
                    lit = next((x for x in m.named_children if x.type == "string_literal"), None)
                    abi = text(lit).strip('"') if lit is not None else "C"
                elif m.type == "unsafe":
                    unsafe = True
    attrs = _attributes_before(node)
    body = node.child_by_field_name("body")
    qual = [*mods, *([impl_type] if impl_type else []), name]
    return RFunction(
        name=name,
        qualname="::".join(qual),
        impl_type=impl_type,
        span=Span.of(node),
        name_span=Span.of(name_node) if name_node is not None else Span.of(node),
        params=params,
        return_type=text(node.child_by_field_name("return_type")),
        is_unsafe=unsafe,
        abi=abi,
        no_mangle=any("no_mangle" in a for a in attrs),
        body=Span.of(body) if body is not None else None,
        impl_trait=impl_trait,
        visibility=visibility,
        self_kind=self_kind,
        safety_doc=bool(_SAFETY_SECTION.search(_doc_before(node))),
        is_test=_is_test_item(node),
    )


def _macro_name(node) -> str:
    m = node.child_by_field_name("macro")
    return text(m).rsplit("::", 1)[-1] if m is not None else ""


def _in_thread_local_macro(node) -> bool:
    p = node.parent
    while p is not None:
        if p.type == "macro_invocation":
            return _macro_name(p) == "thread_local"
        p = p.parent
    return False


_TL_DECL = re.compile(rb"static\s+(?:mut\s+)?([A-Za-z_]\w*)\s*:")


def _thread_local_statics(node, out: "RustFacts") -> None:
    """`thread_local! { static X: T = ...; }` declares per-thread statics; the macro body is a
    token tree, so they are read from its text (recorded only so that no rule takes a name of
    them for a shared static)."""
    body = node.text or b""
    for m in _TL_DECL.finditer(body):
        sp = Span.of(node)
        out.statics.append(RStatic(m.group(1).decode("utf-8", "replace"), "", sp, sp, False, False, None,
                                   is_thread_local=True))


_SAFETY_SECTION = re.compile(r"^\s*(?:///|\*|/\*\*)?\s*#+\s*Safety\b", re.MULTILINE)


def _segments(node) -> tuple[str, ...]:
    return tuple(p for p in text(node).replace(" ", "").split("::") if p)


def _use_paths(node, prefix: tuple[str, ...], out: list, depth: int = 0) -> None:
    """The (name, path) pairs one `use` tree brings in (see RustFacts.uses)."""
    if node is None or depth > 32:
        return
    t = node.type
    if t in ("identifier", "scoped_identifier", "crate", "super", "metavariable"):
        segs = (*prefix, *_segments(node))
        if segs:
            out.append((segs[-1], "::".join(segs)))
    elif t == "self":  # `use a::b::{self}` brings in `b`
        if prefix:
            out.append((prefix[-1], "::".join(prefix)))
    elif t == "use_as_clause":
        path, alias = node.child_by_field_name("path"), node.child_by_field_name("alias")
        segs = (*prefix, *_segments(path)) if path is not None else prefix
        if segs and segs[-1] == "self":
            segs = segs[:-1]
        name = text(alias) if alias is not None else ""
        if segs and name and name != "_":
            out.append((name, "::".join(segs)))
    elif t == "use_wildcard":
        segs = (*prefix, *(s for s in _segments(node) if s != "*"))
        if segs:
            out.append(("*", "::".join(segs)))
    elif t == "scoped_use_list":
        path = node.child_by_field_name("path")
        sub = (*prefix, *_segments(path)) if path is not None else prefix
        lst = node.child_by_field_name("list")
        if lst is not None:
            _use_paths(lst, sub, out, depth + 1)
    elif t == "use_list":
        for c in node.named_children:
            _use_paths(c, prefix, out, depth + 1)


def extract(root, data: bytes, facts, foreign_guards=None) -> RustFacts:
    """`foreign_guards`: guard helpers other files define (lifelint.facts.rust_flow)."""
    out = RustFacts()
    stack: list[tuple[Any, str | None, tuple[str, ...], str | None, bool]] = [(root, None, (), None, False)]
    while stack:
        node, impl_type, mods, impl_trait, in_test = stack.pop()
        t = node.type
        if t in ("function_item", "mod_item", "impl_item", "static_item", "const_item") and not in_test:
            in_test = _is_test_item(node)
        if t == "function_item":
            f = _function(node, impl_type, mods, impl_trait)
            f.is_test = f.is_test or in_test
            out.functions.append(f)
            impl_trait = None  # nested items do not inherit the trait
        elif t == "impl_item":
            ty = node.child_by_field_name("type")
            impl_type = text(ty).split("<", 1)[0] if ty is not None else None
            tr = node.child_by_field_name("trait")
            impl_trait = text(tr).split("<", 1)[0].rsplit("::", 1)[-1] if tr is not None else None
        elif t == "mod_item":
            n = node.child_by_field_name("name")
            mods = (*mods, text(n))
            out.modules.append(text(n))
        elif t == "use_declaration":
            arg = node.child_by_field_name("argument")
            if arg is not None:
                _use_paths(arg, (), out.uses)
            continue  # nothing below a `use` is a function, static or module
        elif t in ("static_item", "const_item"):
            n = node.child_by_field_name("name")
            ty = node.child_by_field_name("type")
            val = node.child_by_field_name("value")
            out.statics.append(RStatic(
                name=text(n), type=text(ty), span=Span.of(node),
                name_span=Span.of(n) if n is not None else Span.of(node),
                is_mut=any(c.type == "mutable_specifier" for c in node.children),
                is_const_item=t == "const_item", value=text(val) if val is not None else None,
                is_thread_local=any("thread_local" in a for a in _attributes_before(node)) or _in_thread_local_macro(node),
                is_test=in_test))
        elif t == "macro_invocation" and _macro_name(node) == "thread_local":
            _thread_local_statics(node, out)
        for c in reversed(node.named_children):
            stack.append((c, impl_type, mods, impl_trait, in_test))
    from lifelint.facts import rust_flow

    rust_flow.extract(root, data, facts, out, foreign_guards)
    return out
