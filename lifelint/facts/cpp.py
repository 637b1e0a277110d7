"""C++ declaration facts: classes with their fields and methods, function definitions with
their parameters and bodies, globals and statics.

Flow facts inside function bodies (locks, lambdas, calls, local views) hang off
`Function.flow`, filled by `lifelint.facts.cpp_flow`.
"""

from __future__ import annotations

import functools
import re

from dataclasses import dataclass, field
from typing import Any

from lifelint.facts import clang_types
from lifelint.facts.common import PREPROC_BLOCKS, captures, scope_parent, text
from lifelint.model import Span

CLASS_TYPES = frozenset({"class_specifier", "struct_specifier", "union_specifier"})
# Scopes whose direct declarations are namespace-scope (global) declarations.
NAMESPACE_SCOPES = frozenset({"translation_unit", "namespace_definition", "declaration_list", "linkage_specification"})


# GoogleTest macros whose body is a method of (a subclass of) the fixture named first.
FIXTURE_TEST_MACROS = frozenset({"TEST_F", "TEST_P", "TYPED_TEST", "TYPED_TEST_P"})

# C runtime state that the standards make per-thread whatever a compatibility header declares
# (`extern int errno;` in an old Windows CE shim): C11 7.5 gives errno thread storage duration.
PER_THREAD_BY_STANDARD = frozenset({"errno", "_doserrno", "h_errno"})

@dataclass(slots=True)
class Param:
    name: str | None
    type: str  # the declared type as written, qualifiers included, without the declarator
    pointer_depth: int
    is_reference: bool
    span: Span
    kind: str = "plain"  # "plain", "default" (has a default argument), "variadic" (`...`, a pack)


_ATOMIC_INIT = re.compile(r"(?:::)?(?:std::)?atomic(?:_\w+)?(?:<|\(|\{)")


@functools.lru_cache(maxsize=8192)
def _mutex_type(type_text: str) -> bool:
    """A mutex by its declared type's text (memoised: the lock passes ask it of every field)."""
    t = type_text.replace(" ", "").lower()
    return "mutex" in t or "spinlock" in t or t.endswith("::lock") or "critical_section" in t


@dataclass(slots=True)
class Variable:
    """A field, a global, a static member or a static local."""

    name: str
    type: str  # type as written, with `const`/`volatile`/storage specifiers
    span: Span  # the whole declaration
    name_span: Span
    kind: str  # "field", "global", "static-member", "static-local"
    pointer_depth: int = 0
    is_reference: bool = False
    is_const: bool = False  # const or constexpr object (not pointer-to-const)
    is_static: bool = False
    is_thread_local: bool = False
    is_extern: bool = False
    initializer: str | None = None
    owner: str | None = None  # class name for fields/static members, function qualname for static locals

    @property
    def is_atomic(self) -> bool:
        t = self.type.replace(" ", "")
        if self.pointer_depth:
            return False
        if "atomic" in t:
            return True
        # `auto x = std::atomic<T>{}`, `static inline auto flag = std::atomic_bool(false)`
        if t.endswith("auto") and self.initializer:
            return bool(_ATOMIC_INIT.match(self.initializer.lstrip("=({ ").replace(" ", "")))
        return False

    @property
    def is_mutex(self) -> bool:
        return self.pointer_depth == 0 and _mutex_type(self.type)


@dataclass(slots=True)
class Function:
    name: str  # unqualified: "free_disk_buffer", "~A", "operator="
    qualname: str  # namespace and class qualified as far as known: "lt::A::f"
    class_name: str | None  # enclosing class, or the qualifier of an out-of-line definition
    span: Span  # the whole definition, template header excluded
    name_span: Span
    params: list[Param]
    return_type: str
    is_override: bool = False
    is_final: bool = False
    is_virtual: bool = False
    is_static: bool = False
    is_ctor: bool = False
    is_dtor: bool = False
    is_template: bool = False  # defined under `template <...>`: the definition is its own declaration
    special: str | None = None  # "default" / "delete" / "pure" when there is no body
    body: Span | None = None
    body_kind: str | None = None  # "empty", "comments" (only comments), "noop" (only `(void)p;`-like statements), "code"
    locks: list = field(default_factory=list)  # lifelint.facts.cpp_locks.LockRegion, by start
    flow: Any = None  # lifelint.facts.cpp_flow.FunctionFlow
    # Clang thread-safety annotations on the definition: the locks `*_LOCKS_REQUIRED(...)` /
    # `REQUIRES(...)` say the caller holds, and `NO_THREAD_SAFETY_ANALYSIS` (the author opted out).
    requires_locks: list[str] = field(default_factory=list)
    no_thread_safety_analysis: bool = False
    # Exported to another language, so any host thread may call it: "extern \"C\"",
    # "SWIG %extend", "SWIG %inline" (lifelint.threads takes these as thread roots).
    exported: str | None = None
    # ALL_CAPS macro words written right before the definition (`MYLIB_API int f()`, blanked by
    # the pre-pass): an export macro among them (one whose `#define` says `extern "C"`, maybe
    # through another macro, `CppFacts.export_macros`) exports it (lifelint.threads decides).
    lead_macros: tuple[str, ...] = ()


@dataclass(slots=True)
class Class:
    name: str
    qualname: str
    kind: str  # "class", "struct", "union"
    span: Span
    name_span: Span
    bases: list[str]
    fields: list[Variable] = field(default_factory=list)
    static_members: list[Variable] = field(default_factory=list)
    methods: list[Function] = field(default_factory=list)  # defined inline in the class body
    method_decls: list[str] = field(default_factory=list)  # names declared in the body (any definition)
    # Under `template <...>`: what each template argument binds, in order. The parameter names
    # for a primary template (`template <class T, size_t S> struct padded`: ["T", "S"]), the
    # pattern of a partial specialisation (`struct padded_base<T, S, 0>`: ["T", "S", "0"]). A
    # class template deriving from its parameter (`padded<arena_base>` : arena_base) has the
    # argument's members (lifelint.locking).
    template_params: list[str] = field(default_factory=list)

    def field_named(self, name: str) -> Variable | None:
        for f in self.fields:
            if f.name == name:
                return f
        for f in self.static_members:
            if f.name == name:
                return f
        return None


@dataclass(slots=True)
class BrokenClass:
    name: str
    span: Span  # the class as the grammar read it
    end_byte: int  # where its body really ends (the matching `}`)
    rescued: int = 0  # members found after the point where the grammar closed it


@dataclass(slots=True)
class CppFacts:
    classes: list[Class] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)  # every definition, methods included
    globals: list[Variable] = field(default_factory=list)  # namespace-scope variables and static locals
    # `using name = T;` / `typedef T name;` at namespace or class scope: name -> T as written.
    aliases: dict[str, str] = field(default_factory=dict)
    # Classes the grammar closed early (error recovery at something it could not read inside
    # them); their later members were kept in them by brace matching.
    broken_classes: list[BrokenClass] = field(default_factory=list)
    # Functions declared without a body inside `extern "C"` (`extern "C" { int feed_set(int); }`):
    # a published C interface, the header a host or another library compiles against.
    c_api: list[str] = field(default_factory=list)
    # `#define NAME body` whose body could make a declaration `extern "C"`: NAME -> the body's
    # macro words, with 'extern "C"' when the body says it (`#define API EXTERN_C VISIBLE`).
    export_macros: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Prototypes led by ALL_CAPS macro words (`MYLIB_API int mylib_set(int);`): (name, words),
    # a C API when one of the words is an export macro.
    macro_prototypes: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    # Lines holding nothing but one ALL_CAPS macro word outside any function body
    # (`BEGIN_DECLS` ... `END_DECLS`): (word, byte offset). A word whose `#define` opens
    # `extern "C" {` makes the definitions up to the word that closes it exported
    # (lifelint.threads); the prototypes there are a published C API: (name, byte offset) of
    # every prototype of a file holding such lines.
    macro_lines: tuple[tuple[str, int], ...] = ()
    prototypes: tuple[tuple[str, int], ...] = ()
    # Macros that make this file a program's entry: test cases a test framework's macro turns
    # into functions (`TEST(Suite, Name) { .. }`, `BOOST_AUTO_TEST_CASE(x) { .. }`: the framework
    # supplies `main` and calls them) and main-generating macros (`QTEST_MAIN(T)`,
    # `#define CATCH_CONFIG_MAIN`). A file defining `main` itself needs none of them.
    entry_macros: tuple[str, ...] = ()
    # The definitions with external linkage this file makes (one definition rule: two files that
    # define the same one are never linked into one program; lifelint.platforms): functions as
    # `f:qualified::name(param types)` (not static, inline, constexpr, templates or in-class
    # bodies; `m:` for a method defined out of its class), variables as `v:qualified::name`, `v?:` for one without an initialiser (a C
    # tentative definition, which the linker may merge). Anonymous namespaces are internal.
    definitions: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # room for extractor add-ons


# --- declarator helpers -------------------------------------------------------------------

@dataclass(slots=True)
class _Declarator:
    name_node: Any = None
    pointer_depth: int = 0
    is_reference: bool = False
    function: Any = None  # function_declarator node
    value: Any = None  # initializer node


def unwrap_declarator(node) -> _Declarator:
    """Follow a declarator chain (pointer, reference, array, init, function) to its name."""
    d = _Declarator()
    while node is not None:
        t = node.type
        if t in ("pointer_declarator", "abstract_pointer_declarator"):
            d.pointer_depth += 1
            node = node.child_by_field_name("declarator")
        elif t in ("reference_declarator", "abstract_reference_declarator"):
            d.is_reference = True
            node = next((c for c in node.named_children if c.type.endswith("declarator") or c.type in ("identifier", "field_identifier", "qualified_identifier")), None)
        elif t == "init_declarator":
            d.value = node.child_by_field_name("value")
            node = node.child_by_field_name("declarator")
        elif t == "function_declarator":
            if d.function is None:
                d.function = node
            node = node.child_by_field_name("declarator")
        elif t in ("array_declarator", "attributed_declarator", "parenthesized_declarator", "abstract_array_declarator"):
            node = node.child_by_field_name("declarator") or (node.named_children[0] if node.named_children else None)
        else:
            d.name_node = node
            break
    return d


def _specifiers(decl) -> tuple[list[str], list[str]]:
    """(storage specifiers, type qualifiers) written on a declaration."""
    storage, quals = [], []
    for c in decl.children:
        if c.type == "storage_class_specifier":
            storage.append(text(c))
        elif c.type == "type_qualifier":
            quals.append(text(c))
        elif c.type == "virtual":
            storage.append("virtual")
    return storage, quals


def _type_text(decl) -> str:
    storage, quals = _specifiers(decl)
    t = text(decl.child_by_field_name("type"))
    return " ".join([*storage, *quals, t]).strip()


def _params(fdecl) -> list[Param]:
    out: list[Param] = []
    plist = fdecl.child_by_field_name("parameters") if fdecl is not None else None
    if plist is None:
        return out
    named = plist.named_children
    if len(named) == 1 and named[0].type == "parameter_declaration" and text(named[0]).strip() == "void":
        return out  # `f(void)`: no parameters
    for p in plist.children:
        if p.type == "...":  # C-style varargs
            out.append(Param(None, "...", 0, False, Span.of(p), "variadic"))
            continue
        if p.type not in ("parameter_declaration", "optional_parameter_declaration", "variadic_parameter_declaration"):
            continue
        d = unwrap_declarator(p.child_by_field_name("declarator"))
        name = text(d.name_node) if d.name_node is not None and d.name_node.type == "identifier" else None
        kind = {"optional_parameter_declaration": "default", "variadic_parameter_declaration": "variadic"}.get(p.type, "plain")
        out.append(Param(name, _type_text(p), d.pointer_depth, d.is_reference, Span.of(p), kind))
    return out


def _name_parts(name_node) -> tuple[str, str | None]:
    """(unqualified name, qualifier) of a declarator name: `A::f` -> ("f", "A")."""
    if name_node is None:
        return "", None
    if name_node.type == "qualified_identifier":
        scope = name_node.child_by_field_name("scope")
        inner = name_node.child_by_field_name("name")
        name, q2 = _name_parts(inner)
        qual = text(scope) if scope is not None else ""
        if q2:
            qual = f"{qual}::{q2}" if qual else q2
        # template arguments on the scope do not belong in a class name
        return name, qual.split("<", 1)[0] if qual else None
    return text(name_node), None


_UNUSED_MACROS = frozenset({"UNUSED", "Q_UNUSED", "ignore_unused", "boost::ignore_unused", "std::ignore", "TORRENT_UNUSED", "UNREFERENCED_PARAMETER", "static_cast<void>"})


def _is_noop_statement(stmt) -> bool:
    """`;`, `return;`, `(void)x;`, `UNUSED(x);`: statements that do nothing at run time."""
    if stmt.type == "comment":
        return True
    if stmt.type == "return_statement":
        return not stmt.named_children
    if stmt.type != "expression_statement":
        return False
    if not stmt.named_children:
        return True
    e = stmt.named_children[0]
    if e.type == "cast_expression":
        ty = e.child_by_field_name("type")
        return ty is not None and text(ty).replace(" ", "") == "void"
    if e.type == "call_expression":
        fn = e.child_by_field_name("function")
        name = text(fn).replace(" ", "")
        return name in _UNUSED_MACROS or name.split("::")[-1] in _UNUSED_MACROS
    return False


def _body_kind(body) -> str:
    named = body.named_children
    if not named:
        return "empty"
    if all(c.type == "comment" for c in named):
        return "comments"
    if all(_is_noop_statement(c) for c in named):
        return "noop"
    return "code"


def _function(node, class_stack: list, ns: list[str]) -> Function | None:
    d = unwrap_declarator(node.child_by_field_name("declarator"))
    if d.function is None:
        return None
    name, qual = _name_parts(d.name_node)
    enclosing = class_stack[-1] if class_stack else None
    class_name = enclosing or (qual.split("::")[-1] if qual else None)
    if class_name is None and name in FIXTURE_TEST_MACROS:
        # `TEST_F(ServerTest, Stop) {...}` is a method of a subclass of the fixture `ServerTest`:
        # its members and teardown are the fixture's.
        words = [text(p).strip() for p in d.function.child_by_field_name("parameters").named_children] \
            if d.function.child_by_field_name("parameters") is not None else []
        if len(words) >= 2 and all(re.fullmatch(r"[A-Za-z_]\w*", w) for w in words[:2]):
            class_name, name = words[0], f"{name}({words[0]}, {words[1]})"
    special = None
    for c in node.children:
        if c.type == "default_method_clause":
            special = "default"
        elif c.type == "delete_method_clause":
            special = "delete"
        elif c.type == "pure_virtual_clause":
            special = "pure"
    vs = [text(c) for c in d.function.children if c.type == "virtual_specifier"]
    storage, _ = _specifiers(node)
    body = node.child_by_field_name("body")
    short_class = class_name.split("<")[0] if class_name else None
    is_dtor = name.startswith("~")
    is_ctor = bool(short_class) and name == short_class.split("::")[-1]
    qual_parts = [*ns, *([enclosing] if enclosing else []), *([qual] if qual else []), name]
    return Function(
        name=name,
        qualname="::".join(p for p in qual_parts if p),
        class_name=class_name,
        span=Span.of(node),
        name_span=Span.of(d.name_node) if d.name_node is not None else Span.of(node),
        params=_params(d.function),
        return_type=_type_text(node),
        is_override="override" in vs,
        is_final="final" in vs,
        is_virtual="virtual" in storage,
        is_static="static" in storage,
        is_ctor=is_ctor,
        is_dtor=is_dtor,
        is_template=node.parent is not None and node.parent.type == "template_declaration",
        special=special,
        body=Span.of(body) if body is not None else None,
        body_kind=_body_kind(body) if body is not None and body.type == "compound_statement" else None,
    )


def _add_fields(owner, decl, out) -> None:
    """The variables a member declaration declares: fields of `owner`, or static members (which
    are also globals)."""
    for v in _variables(decl, "field", owner.name):
        if v.is_static:
            v.kind = "static-member"
            owner.static_members.append(v)
            out.globals.append(v)
        else:
            owner.fields.append(v)


def _variables(decl, kind: str, owner: str | None) -> list[Variable]:
    storage, quals = _specifiers(decl)
    type_text = _type_text(decl)
    out: list[Variable] = []
    for c in decl.children_by_field_name("declarator"):
        d = unwrap_declarator(c)
        if d.function is not None or d.name_node is None:
            continue
        name, _ = _name_parts(d.name_node)
        if not name:
            continue
        # `T* const p` puts const on the pointer; `const T* p` does not make p const.
        is_const = ("const" in quals or "constexpr" in quals or "constexpr" in storage) and d.pointer_depth == 0
        if d.pointer_depth and "const" in text(c).split("*")[-1].split():
            is_const = True
        value = d.value if d.value is not None else decl.child_by_field_name("default_value")
        # libclang's type, where it knows better (an alias, a macro, `auto`): lifelint.facts.clang_types
        deep = clang_types.reconcile(type_text, d.pointer_depth, d.is_reference, None, d.name_node.start_point)
        out.append(Variable(
            name=name,
            type=deep[0] if deep else type_text,
            span=Span.of(decl),
            name_span=Span.of(d.name_node),
            kind=kind,
            pointer_depth=deep[1] if deep else d.pointer_depth,
            is_reference=deep[2] if deep else d.is_reference,
            is_const=is_const,
            is_static="static" in storage,
            is_thread_local="thread_local" in storage or "__thread" in storage or (kind == "global" and name in PER_THREAD_BY_STANDARD),
            is_extern="extern" in storage,
            initializer=text(value) if value is not None else None,
            owner=owner,
        ))
    return out


def _record_alias(node, aliases: dict[str, str]) -> None:
    if node.type == "alias_declaration":
        name, ty = node.child_by_field_name("name"), node.child_by_field_name("type")
        if name is not None and ty is not None:
            aliases[text(name)] = text(ty)
        return
    ty = node.child_by_field_name("type")
    for d in node.children_by_field_name("declarator"):
        if d.type == "type_identifier" and ty is not None:  # not `typedef void (*fn)(int)`
            aliases[text(d)] = text(ty)


def _template_params(node) -> list[str]:
    """See Class.template_params."""
    parent = node.parent
    if parent is None or parent.type != "template_declaration":
        return []
    n = node.child_by_field_name("name")
    if n is not None and n.type == "template_type":
        args = n.child_by_field_name("arguments")
        return [text(a).replace(" ", "") for a in args.named_children] if args is not None else []
    plist = parent.child_by_field_name("parameters")
    out = []
    for p in plist.named_children if plist is not None else ():
        if p.type in ("parameter_declaration", "optional_parameter_declaration"):  # `size_t S`, `int N = 3`
            d = p.child_by_field_name("declarator")
            out.append(text(d) if d is not None and d.type == "identifier" else "")
        else:  # `class T`, `typename U = int`, `typename... Ts`
            out.append(next((text(c) for c in p.named_children if c.type == "type_identifier"), ""))
    return out


def _class_name(node) -> str | None:
    n = node.child_by_field_name("name")
    if n is None:
        return None
    name, qual = _name_parts(n)
    return name.split("<", 1)[0]


# Inside a function body only static locals and local classes are declarations of interest;
# a query finds them without visiting every node of the body in Python.
_BODY_DECLS = """
[(declaration (storage_class_specifier)) @d
 (class_specifier body: (_)) @d (struct_specifier body: (_)) @d (union_specifier body: (_)) @d]
"""


# Every word a storage_class_specifier can be in tree-sitter-cpp (extern, static, register,
# inline / __inline / __forceinline, thread_local, __thread), and the keywords of a class.
_BODY_DECL_WORDS = (b"static", b"thread_local", b"__thread", b"extern", b"register", b"inline",
                    b"class", b"struct", b"union")


def _body_declarations(fn_node) -> list:
    """Static/thread_local declarations and local classes in a function body, outermost only
    (what sits inside a local class is found when that class is visited)."""
    body = fn_node.child_by_field_name("body")
    if body is None:
        return []
    bt = body.text or b""  # the pre-passed text, which the tree is made of
    if not any(w in bt for w in _BODY_DECL_WORDS):
        return []  # no storage class and no class keyword: the query would find nothing
    out = []
    for n in captures(body, "cpp", _BODY_DECLS).get("d", ()):
        p = n.parent
        while p is not None and p != body and p.type not in CLASS_TYPES:
            p = p.parent
        if p == body:
            out.append(n)
    return out


# Read from the original bytes (the pre-pass blanks these macros so the grammar copes).
_REQUIRES_ANNOTATION = re.compile(
    rb"\b(?:[A-Z]+_)?(?:EXCLUSIVE_LOCKS_REQUIRED|SHARED_LOCKS_REQUIRED|LOCKS_REQUIRED|REQUIRES_SHARED|REQUIRES)\s*\(([^()]*)\)")
_NO_ANALYSIS_ANNOTATION = re.compile(rb"\b(?:[A-Z]+_)?NO_THREAD_SAFETY_ANALYSIS\b")


def _thread_safety_annotations(functions, data: bytes) -> None:
    """Fill `requires_locks` / `no_thread_safety_analysis` from each definition's signature."""
    if b"REQUIRE" not in data and b"THREAD_SAFETY" not in data:
        return
    for f in functions:
        if f.body is None:
            continue
        sig = data[f.span.start_byte:f.body.start_byte]
        for m in _REQUIRES_ANNOTATION.finditer(sig):
            f.requires_locks.extend(a.strip().decode("utf-8", "replace") for a in m.group(1).split(b",") if a.strip())
        f.no_thread_safety_analysis = _NO_ANALYSIS_ANNOTATION.search(sig) is not None


_SWIG_EXPORT = re.compile(rb"^[ \t]*%(extend|inline)\b", re.MULTILINE)


_C_PROTOTYPE = ("(declaration declarator: [(function_declarator declarator: (identifier) @n)"
                " (pointer_declarator declarator: (function_declarator declarator: (identifier) @n))])")


# An ALL_CAPS macro called at the start of a line and followed by a body: a function the macro
# declares (`TEST_F(Fixture, Name) {`, `BOOST_AUTO_TEST_CASE(name) {`, `TEST_CASE("x", "[y]") {`).
_MACRO_BODY = re.compile(rb"^[ \t]*([A-Z][A-Z0-9_]*)[ \t]*\((?:[^()\n]|\([^()\n]*\))*\)[ \t]*(?://[^\n]*)?\r?\n?[ \t]*\{", re.MULTILINE)
# A macro that writes `main` for the file (`QTEST_MAIN(TestGui)`, `#define CATCH_CONFIG_MAIN`,
# `#define BOOST_TEST_MAIN`): by convention its name ends in MAIN.
_MAIN_MACRO = re.compile(rb"^[ \t]*(?:#[ \t]*define[ \t]+)?([A-Z][A-Z0-9_]*MAIN)\b[ \t]*(?:\(|$)", re.MULTILINE)
# A line holding one ALL_CAPS word (maybe with `()`), nothing else but a comment.
_LONE_MACRO = re.compile(rb"^[ \t]*([A-Z_][A-Z0-9_]*)[ \t]*(?:\(\s*\))?[ \t]*;?[ \t]*(?:(?://|/\*)[^\n]*)?$", re.MULTILINE)


def _entry_macros(data: bytes, functions) -> tuple[str, ...]:
    """The macros that make this file a program's entry (CppFacts.entry_macros): macro-declared
    function bodies at namespace scope, and main-generating macros."""
    bodies = [f.body for f in functions if f.body is not None]
    found: list[str] = []
    for m in _MACRO_BODY.finditer(data):
        at = m.start(1)
        if not any(b.start_byte < at < b.end_byte for b in bodies) and m.group(1).decode() not in found:
            found.append(m.group(1).decode())
    for m in _MAIN_MACRO.finditer(data):
        if m.group(1).decode() not in found:
            found.append(m.group(1).decode())
    return tuple(found[:8])


def _macro_lines(data: bytes, functions) -> tuple[tuple[str, int], ...]:
    """Lines of one ALL_CAPS word outside function bodies (CppFacts.macro_lines)."""
    bodies = [f.body for f in functions if f.body is not None]
    out = []
    for m in _LONE_MACRO.finditer(data):
        at = m.start(1)
        if not any(b.start_byte < at < b.end_byte for b in bodies):
            out.append((m.group(1).decode(), at))
    return tuple(out[:64])


# A `#define` with a body, on one line (continuations are rare for export macros).
_DEFINE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+([^\n]*)", re.MULTILINE)
# What a body that only decorates a declaration holds: macro words, `extern "C"`, attributes.
_DECORATION = re.compile(rb'\s*(?:extern\s*"C"|[A-Z_][A-Z0-9_]*\b|__attribute__\s*\(\(.*\)\)|__declspec\s*\(\w+\))')
_CAPS_WORD = re.compile(rb"[A-Z_][A-Z0-9_]*\b")
# A prototype led by macro words at the start of a line: `API RET name(`, `API RET *name (`.
_MACRO_PROTOTYPE = re.compile(
    rb"^[ \t]*((?:[A-Z_][A-Z0-9_]*[ \t]+)+)(?:const[ \t]+|unsigned[ \t]+|struct[ \t]+)*[A-Za-z_][\w:<>]*[\s*&]+([A-Za-z_]\w*)[ \t]*\(",
    re.MULTILINE)


def _export_macros(data: bytes) -> dict[str, tuple[str, ...]]:
    """`#define NAME body` where the body only decorates a declaration and could say
    `extern "C"` itself or through another macro: NAME -> its macro words (+ 'extern "C"').
    A body that opens a block (`extern "C" {`) gets a '{' word, one that is only `}` is ('}',):
    block export macros (`BEGIN_DECLS` / `END_DECLS`)."""
    out: dict[str, tuple[str, ...]] = {}
    for m in _DEFINE.finditer(data):
        body = m.group(2).split(b"//", 1)[0].split(b"/*", 1)[0].rstrip()
        if body == b"}":
            out[m.group(1).decode()] = ("}",)
            continue
        opens = body.endswith(b"{")
        if opens:
            body = body[:-1].rstrip()
        pos, words = 0, []
        while pos < len(body):
            d = _DECORATION.match(body, pos)
            if d is None or d.end() == pos:
                break
            tok = d.group(0).strip()
            if tok.startswith(b"extern"):
                words.append('extern "C"')
            elif _CAPS_WORD.fullmatch(tok):
                words.append(tok.decode())
            pos = d.end()
        if words and pos >= len(body) and len(words) <= 4:
            out[m.group(1).decode()] = (*words, "{") if opens else tuple(words)
    return out


def _lead_words(data: bytes, start: int) -> tuple[str, ...]:
    """The ALL_CAPS words right before byte `start` (`MYLIB_API static int f`: the pre-pass
    blanked them, so the definition's node starts after them)."""
    words: list[str] = []
    i = start
    while len(words) < 4:
        j = i
        while j > 0 and data[j - 1] in b" \t\r\n":
            j -= 1
        k = j
        while k > 0 and (65 <= data[k - 1] <= 90 or 48 <= data[k - 1] <= 57 or data[k - 1] == 95):
            k -= 1
        if k == j or not (k == 0 or data[k - 1] in b" \t\r\n;}") or not (65 <= data[k] <= 90 or data[k] == 95):
            break
        words.append(data[k:j].decode())
        i = k
    return tuple(reversed(words))


def _mark_exported(functions, root, data: bytes, path: str, c_api: list | None = None, out=None) -> None:
    """Set `Function.exported` for definitions inside `extern "C" { }` / after `extern "C"`,
    and, in SWIG interfaces (.i), inside `%extend X { }` and `%inline %{ %}` blocks (the
    pre-pass keeps byte offsets, so the original directives locate them). Prototypes inside
    `extern "C"` go to `c_api`."""
    ranges: list[tuple[int, int, str]] = []
    rt = root.text or b""
    # the query only when some string literal could read "C" (its text stripped of quotes)
    if b"extern" in data and (b'"C' in rt or b'C"' in rt):
        for n in captures(root, "cpp", "(linkage_specification) @l").get("l", ()):
            v = n.child_by_field_name("value")
            if v is not None and text(v).strip('"') == "C":
                ranges.append((n.start_byte, n.end_byte, 'extern "C"'))
                if c_api is not None:
                    c_api.extend(text(m) for m in captures(n, "cpp", _C_PROTOTYPE).get("n", ()))
    if path.endswith(".i"):
        for m in _SWIG_EXPORT.finditer(data):
            kind = m.group(1).decode()
            if kind == "inline":
                start = data.find(b"%{", m.end())
                end = data.find(b"%}", start) if start >= 0 else -1
            else:
                start = data.find(b"{", m.end())
                end = _block_end(data, start) if start >= 0 else -1
            if start >= 0 and end > start:
                ranges.append((start, end, f"SWIG %{kind}"))
    if out is not None:
        if b"#define" in data:
            out.export_macros = _export_macros(data)
        if path.lower().endswith((".h", ".hh", ".hpp", ".hxx", ".h++")):
            out.macro_prototypes = [(m.group(2).decode(), tuple(m.group(1).decode().split()))
                                    for m in _MACRO_PROTOTYPE.finditer(data)]
        if b"(" in data:
            out.entry_macros = _entry_macros(data, functions)
        out.macro_lines = _macro_lines(data, functions)
        if out.macro_lines and path.lower().endswith((".h", ".hh", ".hpp", ".hxx", ".h++")):
            out.prototypes = tuple((text(n), n.start_byte) for n in captures(root, "cpp", _C_PROTOTYPE).get("n", ()))
    for f in functions:
        if f.body is not None and f.span.start_byte > 0 and data[f.span.start_byte - 1] in b" \t\r\n":
            f.lead_macros = _lead_words(data, f.span.start_byte)
    if not ranges:
        return
    for f in functions:
        for a, b, kind in ranges:
            if a <= f.span.start_byte < b:
                f.exported = kind
                break


def _block_end(data: bytes, open_at: int) -> int:
    """The byte after the `}` matching the `{` at `open_at` (braces in strings and comments are
    rare enough in SWIG blocks to ignore); -1 when unbalanced."""
    depth = 0
    for i in range(open_at, len(data)):
        ch = data[i]
        if ch == 0x7B:
            depth += 1
        elif ch == 0x7D:
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


class _Containment:
    """Class bodies that error recovery closed early, with their real extent from brace
    matching: what lies between the grammar's end of the body and the matching `}` still
    belongs to the class."""

    def __init__(self, root):
        self.root = root
        self._bodies: dict[int, Any] | None = None
        self._base = 0
        self.extents: list[tuple[int, int, tuple, BrokenClass]] = []  # (from, to, class stack, record)

    def real_close(self, body_node) -> int | None:
        """The brace-matched `}` of a class body the grammar closed before it, else None."""
        if not body_node.has_error:
            return None
        if self._bodies is None:
            from lifelint.cpp_class_scope import class_bodies
            from lifelint.cpp_prepass import code_view

            # The root's text starts at its first token, not at byte 0.
            self._base = self.root.start_byte
            self._bodies = {b.open + self._base: b for b in class_bodies(code_view(self.root.text or b""))}
        b = self._bodies.get(body_node.start_byte)
        if b is None or b.close is None or b.close + self._base < body_node.end_byte:
            return None
        return b.close + self._base

    def check(self, body_node, cls: tuple, k: Class) -> BrokenClass | None:
        close = self.real_close(body_node)
        if close is None:
            return None
        rec = BrokenClass(k.name, k.span, close + 1)
        self.extents.append((body_node.end_byte, close, cls, rec))
        return rec

    def glued(self, decl) -> tuple[int, int] | None:
        """For `class X {...broken...} junk;` read as one declaration: the byte range after
        the class where its declarators are recovery debris, not variables."""
        for c in decl.children:
            if c.type in CLASS_TYPES:
                body = c.child_by_field_name("body")
                close = self.real_close(body) if body is not None else None
                if close is not None:
                    return body.end_byte, close
        return None

    def owner_of(self, node) -> tuple | None:
        at = node.start_byte
        for lo, hi, cls, rec in reversed(self.extents):
            if lo <= at < hi:
                rec.rescued += 1
                return cls
        return None


_MAX_DEFINITIONS = 4096
_NOT_EXTERNAL = frozenset({"static", "inline", "constexpr", "consteval", "__inline", "__forceinline"})
_CAPS = re.compile(r"[A-Z][A-Z0-9_]*")


_WEAK = re.compile(rb"\bweak\b|__weak\b|selectany")


def _linkage_ok(node, ns, name_node=None) -> bool:
    """External linkage by how it is written: no anonymous namespace, no template, and not a weak
    or `selectany` definition (the linker keeps one of several: a default another file overrides)."""
    if "" in ns or node.parent is not None and node.parent.type == "template_declaration":
        return False
    head = node.text[:(name_node.start_byte if name_node is not None else node.end_byte) - node.start_byte]
    return not _WEAK.search(head)


def _function_definition(node, f: Function, ns, out: list) -> None:
    """CppFacts.definitions for a namespace-scope function definition."""
    storage, _ = _specifiers(node)
    if f.body is None or not _linkage_ok(node, ns, node.child_by_field_name("body")) or _NOT_EXTERNAL.intersection(storage) \
            or "constexpr" in f.return_type.split() or not f.name or _CAPS.fullmatch(f.name):
        return
    params = ",".join(p.type.replace(" ", "") + "*" * p.pointer_depth + "&" * p.is_reference for p in f.params)
    out.append(f"{'m' if f.class_name else 'f'}:{f.qualname}({params})")


def _variable_definitions(node, found: list[Variable], ns, out: list) -> None:
    """CppFacts.definitions for the variables a namespace-scope declaration defines."""
    storage, _ = _specifiers(node)
    if not _linkage_ok(node, ns) or _NOT_EXTERNAL.intersection(storage) or "extern" in storage:
        return
    kept = {v.name_span.start_byte: v for v in found}
    for c in node.children_by_field_name("declarator"):
        d = unwrap_declarator(c)
        if d.function is not None or d.name_node is None:
            continue
        v = kept.get(d.name_node.start_byte)
        if v is None or v.is_const or v.is_thread_local and v.name in PER_THREAD_BY_STANDARD:
            continue  # a const object has internal linkage in C++
        name, qual = _name_parts(d.name_node)
        q = "::".join(p for p in (*ns, qual, name) if p)
        out.append(f"v:{q}" if v.initializer is not None else f"v?:{q}")


def extract(root, data: bytes, facts, settings=None) -> CppFacts:
    """`settings` is a lifelint.settings.CppSettings (or None for defaults)."""
    from lifelint.facts.cpp_locks import accessor_table, extract_locks, spin_flags

    lock_types = list(settings.lock_types) if settings is not None else []
    accessors = accessor_table(settings.lock_accessors if settings is not None else ())
    spin = spin_flags(data)
    out = CppFacts()
    if spin:
        out.extra["spin"] = spin  # for the re-reads of lifelint.facts.cpp_flow
    # Explicit stack of (node, class_stack, namespace_stack, inside_function).
    stack: list[tuple[Any, tuple, tuple, str | None]] = [(root, (), (), None)]
    classes_by_node: dict[int, Class] = {}
    definitions: list[str] = []
    contain = _Containment(root) if root.has_error else None
    while stack:
        node, cls, ns, fn = stack.pop()
        t = node.type
        rescued = False
        if contain is not None and contain.extents and not cls and fn is None and t not in PREPROC_BLOCKS \
                and t not in ("comment", "ERROR") and (sp := scope_parent(node)) is not None and sp.type in NAMESPACE_SCOPES:
            # (a preprocessor block is no scope: the declarations inside it are rescued one by one)
            inside = contain.owner_of(node)
            if inside is not None:
                cls, rescued = inside, True
        if t in CLASS_TYPES and node.child_by_field_name("body") is not None:
            name = _class_name(node) or "<anonymous>"
            bases = []
            for c in node.children:
                if c.type == "base_class_clause":
                    bases = [text(b) for b in c.named_children if b.type not in ("access_specifier", "virtual")]
            k = Class(name, "::".join([*ns, *cls, name]), t.split("_")[0], Span.of(node),
                      Span.of(node.child_by_field_name("name") or node), bases, template_params=_template_params(node))
            out.classes.append(k)
            classes_by_node[node.id] = k
            body = node.child_by_field_name("body")
            if contain is not None:
                broken = contain.check(body, (*cls, name), k)
                if broken is not None:
                    out.broken_classes.append(broken)
            for c in reversed(body.named_children):
                stack.append((c, (*cls, name), ns, None))
            # Members are read when their declarations are visited below.
            continue
        if t == "namespace_definition":
            n = node.child_by_field_name("name")
            # "" marks an anonymous namespace: internal linkage; qualified names skip it
            inner = (*ns, text(n)) if n is not None else (*ns, "")
            for c in reversed(node.named_children):
                stack.append((c, cls, inner, fn))
            continue
        if t == "function_definition":
            f = _function(node, list(cls), list(ns))
            if f is not None:
                f.locks = extract_locks(node, lock_types, accessors=accessors, spin=spin)
                out.functions.append(f)
                if not cls and fn is None and not rescued:
                    _function_definition(node, f, ns, definitions)
                if cls:
                    owner = next((k for k in reversed(out.classes) if k.name == cls[-1]), None)
                    if owner is not None:
                        owner.methods.append(f)
                        owner.method_decls.append(f.name)
                for c in reversed(_body_declarations(node)):
                    stack.append((c, (), ns, f.qualname))
                continue
        if fn is None and t in ("alias_declaration", "type_definition"):
            _record_alias(node, out.aliases)
            continue
        if t == "field_declaration" and cls and fn is None:
            owner = next((k for k in reversed(out.classes) if k.name == cls[-1]), None)
            d0 = node.child_by_field_name("declarator")
            if d0 is not None and unwrap_declarator(d0).function is not None:
                if owner is not None:
                    owner.method_decls.append(_name_parts(unwrap_declarator(d0).name_node)[0])
            elif owner is not None:
                _add_fields(owner, node, out)
        elif t == "declaration":
            parent = scope_parent(node)
            if fn is None and not cls and parent is not None and parent.type in NAMESPACE_SCOPES | {"template_declaration"}:
                found = _variables(node, "global", None)
                debris = contain.glued(node) if contain is not None and found else None
                if debris is not None:
                    # A declarator that error recovery glued to a broken class is not a global.
                    found = [v for v in found if not debris[0] <= v.name_span.start_byte < debris[1]]
                out.globals.extend(found)
                if found:
                    _variable_definitions(node, found, ns, definitions)
            elif fn is not None:
                storage, _ = _specifiers(node)
                if "static" in storage or "thread_local" in storage:
                    for v in _variables(node, "static-local", fn):
                        out.globals.append(v)
            elif cls and fn is None:
                owner = next((k for k in reversed(out.classes) if k.name == cls[-1]), None)
                d0 = node.child_by_field_name("declarator")
                if owner is not None and d0 is not None and unwrap_declarator(d0).function is not None:
                    owner.method_decls.append(_name_parts(unwrap_declarator(d0).name_node)[0])
                elif owner is not None and rescued:
                    # A member that error recovery pushed out of its class: still a field.
                    _add_fields(owner, node, out)
        for c in reversed(node.named_children):
            stack.append((c, cls, ns, fn))
    from lifelint.facts import cpp_atomics, cpp_flow, cpp_lock_notes

    out.definitions = tuple(dict.fromkeys(definitions))[:_MAX_DEFINITIONS]
    _thread_safety_annotations(out.functions, data)
    cpp_lock_notes.extract(root, data, out, facts.comments)
    _mark_exported(out.functions, root, data, facts.path, out.c_api, out)
    cpp_flow.extract(root, data, facts, out, settings)
    cpp_atomics.extract(root, data, facts, out)
    return out
