"""Per-function flow facts for C++: what happens inside a body, in source order.

`extract()` attaches a `FunctionFlow` to every `Function` (as `Function.flow`). Lambdas are not
separate functions: their bodies are nested scopes of the enclosing function's flow, and every
event says which lambda (if any) it sits in, so a rule can tell "runs now" from "runs later".

A flow holds typed lists, each in source order (by start byte):

- `scopes`   compound statements and statements that scope declarations (for, if, catch, ...)
- `decls`    parameters, locals, range-for variables, structured bindings, init-captures, with
             declared type text and a view classification (span / string_view / pointer /
             iterator / reference)
- `uses`     reads and writes of locals, parameters, members (`m_x`, `this->m_x`), globals
- `assigns`  `a = b`, `a += b` (declaration initialisers live on the `Decl`, not here)
- `calls`    calls, constructions (`std::thread t(f)`, `T x{a}`, the most vexing parse), `new`
- `returns`  return / co_return statements
- `lambdas`  capture list parsed, body span, which members / `this` / outer locals the body uses,
             and the call it is handed to (directly or through a local variable)

Every event carries `locks`: indexes into `Function.locks` (lock holders) held on every path to
the event's start, by dataflow over the body's control-flow graph (`FunctionFlow.lockflow`, see
lifelint.facts.cpp_locksets), counting only holders of the same body (a guard in the enclosing
function does not protect code in a lambda that runs later, and vice versa; a lambda that runs
on the spot also holds what was held where it was created). `partial` lists the holders held
on some paths to the event but not all (an `unlock()` on one branch): they are not held.

Everything is a plain slotted dataclass (picklable, cacheable). The walk is iterative.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from lifelint.facts import clang_types
from lifelint.facts.common import PREPROC_BLOCKS, following, preproc_branch, text
from lifelint.facts.cpp_locksets import LockFlow, _bits, build_lockflow
from lifelint.model import Span

# --- views ---------------------------------------------------------------------------------

SPAN_TYPES = frozenset({
    "span", "mdspan", "array_view", "ArrayRef", "MutableArrayRef", "Span", "const_buffer", "mutable_buffer",
    "const_buffers_1", "mutable_buffers_1", "buffer_view", "byte_span",
})
STRING_VIEW_TYPES = frozenset({
    "string_view", "basic_string_view", "wstring_view", "u8string_view", "u16string_view", "u32string_view",
    "StringPiece", "string_ref", "StringRef", "cstring_view", "zstring_view", "QStringView", "QByteArrayView",
})
ITERATOR_TYPES = frozenset({"iterator", "const_iterator", "reverse_iterator", "const_reverse_iterator", "local_iterator", "const_local_iterator"})
# Owning types: copying one of these into a capture or out of a lock is the safe idiom.
OWNING_TYPES = frozenset({
    "vector", "string", "basic_string", "wstring", "array", "deque", "list", "map", "unordered_map", "set",
    "unordered_set", "shared_ptr", "unique_ptr", "optional", "variant", "function", "bitset", "buffer",
    "QString", "QByteArray", "QVector", "QList", "small_vector", "SmallVector", "InlinedVector", "flat_map",
    "flat_set", "weak_ptr", "intrusive_ptr", "any",
})

_TEMPLATE_ARGS = re.compile(r"<[^<>]*>")
_QUALIFIERS = re.compile(r"\b(const|volatile|constexpr|static|inline|mutable|thread_local|extern|typename|struct|class|register)\b")
_VIEW_CALL = re.compile(r"(?:\.|->)\s*(data|c_str|get)\s*\(\s*\)\s*$")
_ITER_CALL = re.compile(r"(?:(?:\.|->)\s*(?:begin|end|cbegin|cend|rbegin|rend|crbegin|crend|find|lower_bound|upper_bound)"
                        r"|\bstd\s*::\s*(?:begin|end|cbegin|cend|find|find_if|lower_bound|upper_bound|prev|next))\s*\(")
_VIEW_CTOR = re.compile(r"^(?:[\w:]*::)?(span|string_view|basic_string_view|make_span|as_bytes|as_writable_bytes)\b")


# Pure functions of a type's text, asked about the same few thousand types hundreds of thousands
# of times (each use's declaration, each sink check of the project passes): memoised.
@functools.lru_cache(maxsize=16384)
def strip_template_args(type_text: str) -> str:
    """`std::map<int, std::vector<int>>::iterator` -> `std::map::iterator`."""
    t = type_text
    while "<" in t:
        t2 = _TEMPLATE_ARGS.sub("", t)
        if t2 == t:
            t = t.split("<", 1)[0]
            break
        t = t2
    return t


@functools.lru_cache(maxsize=16384)
def type_base_name(type_text: str) -> str:
    """The last name of a type, qualifiers and template arguments removed:
    `lt::span<char const> const` -> `span`, `std::vector<int>::iterator` -> `iterator`."""
    t = _QUALIFIERS.sub(" ", strip_template_args(type_text)).replace("&", " ").replace("*", " ")
    t = t.replace(" ", "")
    return t.split("::")[-1] if t else ""


def view_kind(type_text: str, pointer_depth: int = 0, is_reference: bool = False, init: str | None = None) -> str | None:
    """What kind of non-owning view a declaration of this type is, or None.

    "pointer", "reference", "span", "string_view", "iterator". `auto` is resolved from the
    initialiser where it is evident (`.data()`, `.c_str()`, `.get()`, `&x[i]`, `.begin()`,
    `find(...)`, `std::span(...)`).
    """
    if is_reference:
        return "reference"
    if pointer_depth > 0:
        return "pointer"
    base = type_base_name(type_text)
    if base in SPAN_TYPES:
        return "span"
    if base in STRING_VIEW_TYPES:
        return "string_view"
    if base in ITERATOR_TYPES or base.endswith("_iterator") and not base.startswith(("directory", "recursive_directory")):
        return "iterator"
    if base in ("auto", "decltype(auto)") and init:
        i = init.strip()
        if i.startswith("&") and not i.startswith("&&"):
            return "pointer"
        if _VIEW_CALL.search(i):
            return "pointer"
        if _ITER_CALL.search(i) and i.rstrip().endswith(")"):
            return "iterator"
        m = _VIEW_CTOR.match(i)
        if m:
            return "string_view" if "string" in m.group(1) else "span"
    return None


def is_owning_type(type_text: str) -> bool:
    return type_base_name(type_text) in OWNING_TYPES


# --- the facts -----------------------------------------------------------------------------

class _AtSpan:
    """Events that sort and compare by where they start."""

    __slots__ = ()

    @property
    def start_byte(self) -> int:
        return self.span.start_byte


@dataclass(slots=True)
class Scope:
    span: Span
    kind: str  # "function", "block", "lambda", "for", "if", "while", "switch", "catch", "do"
    parent: int | None  # index in FunctionFlow.scopes
    lambda_index: int | None  # the lambda whose body this scope is in (None: the function body)
    # For the statement under an if / loop (a Scope exists even when it is a single statement):
    # "then" / "else" (parent is the "if" scope), "body" (parent is a "for"/"while"/"do" scope).
    branch: str | None = None
    cond: str | None = None  # an "if": its condition, whitespace removed ("(m_owner==id)")


@dataclass(slots=True)
class Decl:
    name: str
    type: str  # as written, qualifiers included ("auto" stays "auto")
    span: Span  # the name
    decl_span: Span  # the whole declaration statement / parameter
    kind: str  # "param", "local", "static", "range" (range-for variable), "binding", "catch", "condition", "capture" (init-capture), "lambda-param"
    scope: int
    lambda_index: int | None
    visible_from: int  # byte after the declarator: uses before it do not see this declaration
    pointer_depth: int = 0
    is_reference: bool = False
    is_const: bool = False
    view: str | None = None  # see view_kind()
    init: str | None = None  # initialiser text (`= x`, `(a, b)`, `{a}`; for range-for the range)
    init_span: Span | None = None
    locks: tuple[int, ...] = ()
    partial: tuple[int, ...] = ()  # holders held on some paths here but not on all

    @property
    def start_byte(self) -> int:
        return self.decl_span.start_byte

    @property
    def owning(self) -> bool:
        return self.view is None and is_owning_type(self.type)


@dataclass(slots=True)
class Use(_AtSpan):
    """One access to a named thing. A chain `this->m_a.b[i].c` is one use of `m_a`."""

    name: str  # the local / member / global accessed: "m_x" for `this->m_x`, "this" for bare this
    path: str  # the whole access chain as written, up to the accessed object ("m_v[i]", "obj.f")
    span: Span  # the chain
    kind: str  # "local", "param", "member", "global", "this", "unknown" (not declared in this file: a member of a class defined elsewhere, a global, an enumerator)
    access: str  # "read", "write" (plain `=`), "update" (`+=`, `++`), "address" (`&x`), "method" (receiver of a method call), "call" (a functor called: `handler(...)`)
    method: str | None = None  # for access "method": the method name
    decl: int | None = None  # index in decls for locals and parameters
    explicit_this: bool = False  # written `this->x`
    scope: int = 0
    lambda_index: int | None = None
    captured: bool = False  # a local of an enclosing body used inside a lambda
    # Only tested, never dereferenced: `if (p)`, `!p`, `p == nullptr`, `it != m.end()`, `bool(p)`.
    test: bool = False
    locks: tuple[int, ...] = ()
    partial: tuple[int, ...] = ()
    deref: bool = False  # the value is dereferenced here: `*it`, `it->x`, `it[0]`
    arrow: bool = False  # access "method" through `->`: the method runs on the pointee, the pointer is only read
    # "==" / "!=" for a test against an end iterator (`it == m.end()`), for messages.
    end_test: str = ""


@dataclass(slots=True)
class Assign(_AtSpan):
    target: str  # as written: "data", "m_x", "this->m_y", "*p", "v[i]"
    target_name: str  # the accessed object: "data", "m_x", "m_y" ("" when there is none, e.g. `*f() = 1`)
    target_kind: str  # like Use.kind
    target_decl: int | None
    op: str  # "=", "+=", ...
    value: str
    value_span: Span
    span: Span
    scope: int = 0
    lambda_index: int | None = None
    locks: tuple[int, ...] = ()
    partial: tuple[int, ...] = ()

    @property
    def plain(self) -> bool:
        return self.op == "="


@dataclass(slots=True)
class Call(_AtSpan):
    callee: str  # the function expression, whitespace removed: "post", "m_ioc.post", "boost::asio::post", "std::thread"
    name: str  # last identifier: "post", "thread", "detach"
    span: Span
    kind: str  # "call", "construct" (declaration with arguments / braces, or `T{...}`), "new", "delete" (`delete p` / `delete[] p`: args = [p])
    args: list[str] = field(default_factory=list)  # argument texts
    arg_spans: list[Span] = field(default_factory=list)
    receiver: str | None = None  # "m_ioc" for `m_ioc.post(...)`, "p" for `p->f()`, "this" for `this->f()`
    arrow: bool = False  # receiver accessed with ->
    callee_kind: str = "function"  # "function" (free or unresolved), "method" (has a receiver), "local", "param", "member" (a functor/std::function variable called)
    callee_decl: int | None = None
    result: str = "other"  # "discarded", "init", "assign", "return", "argument", "receiver", "condition", "other"
    result_target: str | None = None  # declared name (init) or assignment target text (assign)
    parent_call: int | None = None  # this call is argument `arg_index` of calls[parent_call]
    arg_index: int | None = None
    receiver_of: int | None = None  # this call's result is the receiver of calls[i]: `std::thread(f).detach()`
    declared: str | None = None  # for kind "construct" from a declaration: the variable (`std::thread t(f)` -> "t")
    scope: int = 0
    lambda_index: int | None = None
    locks: tuple[int, ...] = ()
    partial: tuple[int, ...] = ()

    @property
    def discarded(self) -> bool:
        return self.result == "discarded"


@dataclass(slots=True)
class Return(_AtSpan):
    value: str | None
    value_span: Span | None
    span: Span
    coroutine: bool = False  # co_return
    scope: int = 0
    lambda_index: int | None = None  # a return inside a lambda returns from the lambda
    locks: tuple[int, ...] = ()
    partial: tuple[int, ...] = ()


@dataclass(slots=True)
class Jump(_AtSpan):
    """A statement that leaves the normal flow: `break`, `continue`, `throw`, `goto`."""

    kind: str  # "break", "continue", "throw", "goto"
    span: Span
    target: str | None = None  # goto label; the thrown expression text
    scope: int = 0
    lambda_index: int | None = None
    locks: tuple[int, ...] = ()
    partial: tuple[int, ...] = ()


@dataclass(slots=True)
class Capture:
    name: str  # variable name, "this" (for both `this` and `*this`), or the init-capture's name
    mode: str  # "copy", "ref", "this", "this-copy" (`*this`), "init" (`x = e`), "init-ref" (`&x = e`), "pack" (`args...`)
    span: Span
    init: str | None = None  # init-capture initialiser text
    decl: int | None = None  # copy/ref captures: the captured outer declaration; init captures: the capture's own Decl


@dataclass(slots=True)
class Handoff:
    """A call that receives a lambda (or a call result) as argument `arg_index`."""

    call: int  # index in FunctionFlow.calls
    arg_index: int
    via: str | None = None  # the local variable the lambda went through, None when passed directly


@dataclass(slots=True)
class Lambda(_AtSpan):
    span: Span
    body: Span
    captures: list[Capture] = field(default_factory=list)
    default: str | None = None  # "=", "&" or None
    params: list[str] = field(default_factory=list)
    parent: int | None = None  # enclosing lambda
    scope: int = 0  # the lambda body's scope index
    outer_scope: int = 0  # the scope the lambda expression appears in
    # What the body (nested lambdas included) touches:
    uses_this: bool = False  # `this` written in the body, or a member of this class used / method called
    member_uses: list[str] = field(default_factory=list)  # members of this class used (known in this file, or written this->x)
    member_calls: list[str] = field(default_factory=list)  # methods of this class called without receiver (known in this file) or via this->
    free_names: list[str] = field(default_factory=list)  # identifiers not declared in this function nor known in this file (members of an out-of-file class, globals, enumerators)
    free_calls: list[str] = field(default_factory=list)  # unqualified calls without receiver that resolve to nothing here (out-of-file methods or free functions)
    outer_uses: list[int] = field(default_factory=list)  # decl indices of enclosing locals/params used in the body (captured)
    # Where the lambda goes:
    handed_to: Handoff | None = None  # the call it is directly an argument of (or passed to through `stored_in`)
    call_chain: list[Handoff] = field(default_factory=list)  # handed_to, then each call that receives that call's result as an argument, outwards
    stored_in: str | None = None  # `auto cb = [..]{}` -> "cb"; `m_cb = [..]{}` -> "m_cb"
    passed_to: list[Handoff] = field(default_factory=list)  # calls that later take `stored_in` as an argument (`post(ioc, cb)`, `std::move(cb)`)
    invoked: bool = False  # immediately invoked: `[&]{ ... }()`
    returned: bool = False
    # Runs before the call it is handed to returns, on this thread: immediately invoked, a
    # condition-variable wait predicate, a std algorithm's functor, call_once, visit, invoke.
    # Events in such a lambda also hold the locks held where it is created (`locks` below).
    sync: bool = False
    locks: tuple[int, ...] = ()  # regions holding where the lambda is created
    # The declared return type (`-> const std::string&`), None when it is deduced (by value).
    ret_type: str | None = None

    def captures_this(self) -> bool:
        """`this` captured as a pointer: explicitly, or implicitly by a default capture whose body uses a member."""
        if any(c.mode == "this" for c in self.captures):
            return True
        return self.default is not None and self.uses_this and not any(c.mode == "this-copy" for c in self.captures)


@dataclass(slots=True)
class Decided:
    """An expression a condition tests (a call, a name or member chain: `ready.load()`, `!ok`,
    `f.wait_for(d) == std::future_status::ready`) and the code that runs only when the test went
    one way. `when` holds (start, end, how): bytes [start, end) run only when the expression was
    "true" / "false" (its truth value), equal to X ("eq:X", whitespace removed), different from X
    ("ne:X"), or compared relationally ("cmp", either way). The regions are the branch of an `if`
    (and the rest of the block after an `if` whose other branch always leaves it), the body of a
    `while`/`for`, and the rest of the block after a loop that ends only when its condition fails
    (no `break`). What an acquire orders depends on it (lifelint.threads: a load that saw the flag,
    a timed wait that did not time out)."""

    start: int
    end: int
    when: tuple


@dataclass(slots=True)
class FunctionFlow:
    class_name: str | None
    scopes: list[Scope] = field(default_factory=list)
    decls: list[Decl] = field(default_factory=list)
    uses: list[Use] = field(default_factory=list)
    assigns: list[Assign] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    returns: list[Return] = field(default_factory=list)
    lambdas: list[Lambda] = field(default_factory=list)
    jumps: list[Jump] = field(default_factory=list)
    decided: list[Decided] = field(default_factory=list)  # expressions tested by conditions (see Decided)
    # What the function returns, when it is a view: "reference", "pointer", "span", "string_view", "iterator".
    return_view: str | None = None
    # Guards the caller holds: parameters of a lock-guard type taken by reference
    # (`void do_run_one(mutex::scoped_lock& lock)`, `void f(std::unique_lock<std::mutex>& l)`),
    # as (parameter name, type). By convention the body runs with that lock held.
    held_by_caller: list[tuple[str, str]] = field(default_factory=list)
    lock_lambda: list[int | None] = field(default_factory=list)  # per Function.locks holder: the lambda it is in
    # Lock sets by dataflow (see lifelint.facts.cpp_locksets): None when the function takes no lock.
    lockflow: LockFlow | None = None

    def held_at(self, byte: int, lam: int | None) -> tuple[int, ...]:
        """Holders (indexes in Function.locks) held on every path to `byte` in body `lam`."""
        return self.lockflow.must(byte, lam) if self.lockflow is not None else ()

    def events(self) -> list:
        """Every event of every kind, in source order."""
        out: list = [*self.decls, *self.uses, *self.assigns, *self.calls, *self.returns, *self.lambdas, *self.jumps]
        out.sort(key=lambda e: e.start_byte)
        return out

    def lambda_ancestors(self, lam: int | None) -> list[int]:
        """`lam` and every lambda enclosing it, innermost first."""
        out = []
        while lam is not None:
            out.append(lam)
            lam = self.lambdas[lam].parent
        return out

    def inside_lambda(self, event_lambda: int | None, lam: int) -> bool:
        """True when an event whose `lambda_index` is `event_lambda` sits in lambda `lam` (or one nested in it)."""
        return lam in self.lambda_ancestors(event_lambda)

    def scope_ancestors(self, scope: int | None) -> list[int]:
        out = []
        while scope is not None:
            out.append(scope)
            scope = self.scopes[scope].parent
        return out

    def decl_named(self, name: str, at_byte: int, scope: int) -> int | None:
        """The declaration `name` refers to at `at_byte` in `scope`, or None."""
        chain = set(self.scope_ancestors(scope))
        best = None
        for i, d in enumerate(self.decls):
            if d.name == name and d.scope in chain and d.visible_from <= at_byte:
                if best is None or self.decls[best].visible_from <= d.visible_from:
                    best = i
        return best

    def uses_of_decl(self, decl: int) -> list[Use]:
        return [u for u in self.uses if u.decl == decl]

    def calls_in(self, span: Span) -> Iterator[Call]:
        return (c for c in self.calls if span.start_byte <= c.span.start_byte and c.span.end_byte <= span.end_byte)

    def uses_in(self, span: Span) -> Iterator[Use]:
        return (u for u in self.uses if span.start_byte <= u.span.start_byte and u.span.end_byte <= span.end_byte)


# --- extraction ----------------------------------------------------------------------------

# Callees that run a functor argument before they return, on the calling thread.
SYNC_CALLEES = frozenset({
    "for_each", "for_each_n", "find_if", "find_if_not", "sort", "stable_sort", "partial_sort", "nth_element",
    "any_of", "all_of", "none_of", "count_if", "remove_if", "remove_copy_if", "replace_if", "copy_if",
    "transform", "accumulate", "reduce", "transform_reduce", "inner_product", "partition", "stable_partition",
    "max_element", "min_element", "minmax_element", "lower_bound", "upper_bound", "equal_range", "binary_search",
    "adjacent_find", "mismatch", "equal", "search", "unique", "generate", "generate_n", "erase_if",
    "visit", "call_once", "invoke", "apply", "is_sorted", "is_partitioned", "includes", "merge",
    # absl::Mutex evaluates a Condition on the spot, with the mutex held.
    "Condition", "Await", "AwaitWithTimeout", "AwaitWithDeadline", "LockWhen", "ReaderLockWhen", "WriterLockWhen",
})

_SCOPE_STMTS = {
    "for_statement": "for", "for_range_loop": "for", "if_statement": "if", "while_statement": "while",
    "switch_statement": "switch", "catch_clause": "catch", "do_statement": "do",
}
_PRUNE = frozenset({"function_definition", "field_declaration_list", "template_argument_list", "type_descriptor",
                    "comment", "string_literal", "raw_string_literal", "char_literal", "number_literal",
                    "preproc_include", "preproc_def", "preproc_function_def", "preproc_call", "using_declaration",
                    "alias_declaration", "type_definition", "namespace_alias_definition", "static_assert_declaration",
                    "enum_specifier", "sizeof_expression", "alignof_expression", "requires_expression",
                    "concept_definition", "template_declaration", "friend_declaration"})
_CHAIN_PARENTS = frozenset({"field_expression", "subscript_expression", "parenthesized_expression"})
_DECLARATOR_TYPES = frozenset({"pointer_declarator", "reference_declarator", "array_declarator", "function_declarator",
                               "init_declarator", "attributed_declarator", "parenthesized_declarator"})


def _ws(s: str) -> str:
    """`s` without whitespace (str.split is the fast way; it splits at what \\s matches)."""
    return "".join(s.split())


def _unwrap(d):
    """(name node, pointer depth, is_reference, value node, function_declarator node) of a declarator."""
    pd, ref, value, fdecl = 0, False, None, None
    node = d
    while node is not None:
        t = node.type
        if t == "pointer_declarator":
            pd += 1
            node = node.child_by_field_name("declarator")
        elif t == "reference_declarator":
            ref = True
            node = next((c for c in node.named_children if c.type != "comment"), None)
        elif t == "init_declarator":
            value = node.child_by_field_name("value")
            node = node.child_by_field_name("declarator")
        elif t == "function_declarator":
            fdecl = fdecl or node
            node = node.child_by_field_name("declarator")
        elif t in ("array_declarator", "attributed_declarator", "parenthesized_declarator"):
            node = node.child_by_field_name("declarator") or (node.named_children[0] if node.named_children else None)
        else:
            return node, pd, ref, value, fdecl
    return None, pd, ref, value, fdecl


def _type_with_quals(decl) -> tuple[str, bool, bool]:
    """(type text with qualifiers, is const, is static) of a declaration / parameter node."""
    parts = []
    const = static = False
    for c in decl.children:
        ct = c.type
        if ct == "type_qualifier":
            q = text(c)
            parts.append(q)
            if q in ("const", "constexpr"):
                const = True
        elif ct == "storage_class_specifier":
            s = text(c)
            parts.append(s)
            if s in ("static", "thread_local"):
                static = True
    ty = decl.child_by_field_name("type")
    parts.append(text(ty))
    return " ".join(p for p in parts if p), const, static


def _strip_parens(node):
    while node is not None and node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def _arg_nodes(arglist) -> list:
    return [c for c in arglist.named_children if c.type != "comment"]


_UNKNOWN = object()  # an optional node argument not given (None is a node's absent parent)
_CHILDREN = object()  # a handler's answer "walk every named child of the node" (their parent is known)
_WORD_RUN = re.compile(r"\w*")
_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def _last_ident(expr: str) -> str:
    """The identifier (or `~destructor`) the expression ends with, template arguments removed;
    the whole text when there is none. A backward scan: a `...$` regex search would try every
    start position of the string."""
    e = strip_template_args(expr) if "<" in expr else expr
    t = e.rstrip()
    end = len(t)
    # the trailing run of word characters (\w: str.isalnum() or "_"), matched on the reversed text
    i = end - _WORD_RUN.match(t[::-1]).end()
    if i > 0 and t[i - 1] == "~":
        return t[i - 1:end]
    while i < end and t[i] not in _IDENT_START:
        i += 1
    return t[i:end] if i < end else e


class _Builder:
    def __init__(self, fn, fn_node, fields: set[str], methods: set[str], globals_: set[str]):
        self.fn = fn
        self.node = fn_node
        self.fields = fields
        self.methods = methods
        self.globals = globals_
        self.flow = FunctionFlow(class_name=fn.class_name)
        self.scope_names: list[dict[str, list[int]]] = []
        self.call_of_node: dict[int, int] = {}  # node id -> call index
        self.lambda_of_node: dict[int, int] = {}
        self._pending: list = []  # nodes a handler queues to walk in another context (init-captures)
        self.lock_types: frozenset[str] = frozenset()
        # The parent of the node the walk hands to a handler, when the walk knows it (it pushed
        # the node as a child of that parent); else _UNKNOWN. tree-sitter's `parent` searches
        # down from the root, and nearly every identifier, call and declaration asks for it.
        self.parent_hint = _UNKNOWN

    # scopes and declarations ------------------------------------------------------------
    def new_scope(self, node, kind: str, parent: int | None, lam: int | None, branch: str | None = None) -> int:
        self.flow.scopes.append(Scope(Span.of(node), kind, parent, lam, branch))
        self.scope_names.append({})
        return len(self.flow.scopes) - 1

    def add_decl(self, name_node, decl_node, type_text: str, kind: str, scope: int, lam: int | None, pd=0, ref=False,
                 const=False, init_node=None, init_text=None, visible_from=None) -> int:
        name = text(name_node)
        init = init_text if init_text is not None else (text(init_node) if init_node is not None else None)
        deep = clang_types.reconcile(type_text, pd, ref, init, name_node.start_point)  # libclang's type, where it knows better
        if deep is not None:
            type_text, pd, ref = deep
        d = Decl(name=name, type=type_text, span=Span.of(name_node), decl_span=Span.of(decl_node), kind=kind, scope=scope,
                 lambda_index=lam, visible_from=visible_from if visible_from is not None else name_node.end_byte,
                 pointer_depth=pd, is_reference=ref, is_const=const,
                 view=view_kind(type_text, pd, ref, init), init=init,
                 init_span=Span.of(init_node) if init_node is not None else None)
        self.flow.decls.append(d)
        idx = len(self.flow.decls) - 1
        self.scope_names[scope].setdefault(name, []).append(idx)
        return idx

    def resolve(self, name: str, byte: int, scope: int) -> tuple[str, int | None]:
        s: int | None = scope
        while s is not None:
            ids = self.scope_names[s].get(name)
            if ids:
                for i in reversed(ids):
                    if self.flow.decls[i].visible_from <= byte:
                        d = self.flow.decls[i]
                        return ("param" if d.kind in ("param", "lambda-param") else "local"), i
            s = self.flow.scopes[s].parent
        if name in self.fields:
            return "member", None
        if name in self.globals:
            return "global", None
        return "unknown", None

    def params(self, plist, scope: int, lam: int | None, kind: str) -> list[str]:
        names = []
        if plist is None:
            return names
        for p in plist.named_children:
            if p.type not in ("parameter_declaration", "optional_parameter_declaration", "variadic_parameter_declaration"):
                continue
            ty, const, _ = _type_with_quals(p)
            d = p.child_by_field_name("declarator")
            name, pd, ref, _, _ = _unwrap(d) if d is not None else (None, 0, False, None, None)
            if name is None or name.type != "identifier":
                continue
            dv = p.child_by_field_name("default_value")
            self.add_decl(name, p, ty, kind, scope, lam, pd, ref, const, dv, visible_from=plist.start_byte)
            names.append(text(name))
        return names

    # the walk: see _run below ------------------------------------------------------------
    def h_compound(self, node, scope, lam):
        s = self.new_scope(node, "block", scope, lam)
        return s, lam, _CHILDREN

    def h_scope_stmt(self, node, scope, lam):
        s = self.new_scope(node, _SCOPE_STMTS[node.type], scope, lam)
        t = node.type
        if t == "if_statement":
            c = node.child_by_field_name("condition")
            if c is not None:
                self.flow.scopes[s].cond = "".join(text(c).split())
        if t in _DECIDING:
            _decide(node, self.flow.decided)
        if t == "for_range_loop":
            ty, const, _ = _type_with_quals(node)
            d = node.child_by_field_name("declarator")
            right = node.child_by_field_name("right")
            if d is not None:
                name, pd, ref, _, _ = _unwrap(d)
                if name is not None and name.type == "structured_binding_declarator":
                    for n in name.named_children:
                        if n.type == "identifier":
                            self.add_decl(n, node, ty, "range", s, lam, pd, ref, const, right)
                elif name is not None and name.type == "identifier":
                    self.add_decl(name, node, ty, "range", s, lam, pd, ref, const, right)
            body = node.child_by_field_name("body")
            kids = [c for c in (node.child_by_field_name("initializer"), right) if c is not None]
            if body is not None:
                kids.append(_BranchMark(body, "body"))
            return s, lam, kids
        if t == "catch_clause":
            self.params(node.child_by_field_name("parameters"), s, lam, "catch")
            b = node.child_by_field_name("body")
            return s, lam, [b] if b is not None else []
        if t == "if_statement":
            kids = []
            for c in node.named_children:
                if c.type == "else_clause":
                    st = next((k for k in c.named_children if k.type != "comment"), None)
                    if st is not None:
                        kids.append(_BranchMark(st, "else"))
                elif _same(node.child_by_field_name("consequence"), c):
                    kids.append(_BranchMark(c, "then"))
                else:
                    kids.append(c)
            return s, lam, kids
        if t in ("for_statement", "while_statement", "do_statement"):
            body = node.child_by_field_name("body")
            return s, lam, [(_BranchMark(c, "body") if _same(body, c) else c) for c in node.named_children]
        return s, lam, _CHILDREN

    def h_declaration(self, node, scope, lam):
        ty, const, static = _type_with_quals(node)
        parent = self.parent_hint if self.parent_hint is not _UNKNOWN else node.parent
        kind = "static" if static else ("condition" if parent is not None and parent.type == "condition_clause" else "local")
        kids = []
        decls = node.children_by_field_name("declarator")
        direct_value = node.child_by_field_name("value")  # `if (auto p = w.lock())`
        for d in decls:
            name, pd, ref, value, fdecl = _unwrap(d)
            if value is None and direct_value is not None and len(decls) == 1:
                value = direct_value
            if name is None:
                continue
            if name.type == "structured_binding_declarator":
                for n in name.named_children:
                    if n.type == "identifier":
                        self.add_decl(n, node, ty, "binding", scope, lam, pd, ref, const, value, visible_from=node.end_byte)
                if value is not None:
                    kids.append(value)
                continue
            if name.type not in ("identifier", "field_identifier"):
                continue
            if fdecl is not None and pd == 0 and not ref:
                # Most vexing parse: `std::lock_guard<std::mutex> g(m);` is an object with constructor arguments.
                plist = fdecl.child_by_field_name("parameters")
                args = [p for p in plist.named_children if p.type != "comment"] if plist is not None else []
                init_text = text(plist) if plist is not None else None
                di = self.add_decl(name, node, ty, kind, scope, lam, 0, False, const, None, init_text=init_text, visible_from=node.end_byte)
                self.flow.decls[di].init_span = Span.of(plist) if plist is not None else None
                self.construct_call(node, ty, text(name), args, scope, lam, vexing=True)
                for a in args:
                    self.vexing_arg_use(a, scope, lam)
                continue
            di = self.add_decl(name, node, ty, kind, scope, lam, pd, ref, const, value,
                               visible_from=(value.start_byte if value is not None else d.end_byte))
            if value is not None:
                if value.type in ("argument_list", "initializer_list"):
                    self.construct_call(value, ty, text(name), _arg_nodes(value), scope, lam, owner=value)
                    self.flow.decls[di].visible_from = node.end_byte
                kids.append(value)
            # array sizes and the like are not interesting
        return scope, lam, kids

    def construct_call(self, node, type_text: str, declared: str | None, args: list, scope, lam, vexing=False, owner=None):
        c = Call(callee=_ws(type_text), name=_last_ident(type_text), span=Span.of(node), kind="construct",
                 args=[text(a) for a in args], arg_spans=[Span.of(a) for a in args], result="init",
                 result_target=declared, declared=declared, scope=scope, lambda_index=lam)
        self.flow.calls.append(c)
        if owner is not None:
            self.call_of_node[owner.id] = len(self.flow.calls) - 1

    def vexing_arg_use(self, p, scope, lam):
        """A 'parameter' of a most-vexing-parse declaration is really an argument: `g(m_mutex)`."""
        ty = p.child_by_field_name("type")
        if ty is None or p.child_by_field_name("declarator") is not None:
            return
        if ty.type in ("type_identifier", "identifier"):
            name = text(ty)
            kind, di = self.resolve(name, p.start_byte, scope)
            if kind == "unknown" and name[:1].isupper():
                return
            self.add_use(name, name, p, kind, "read", None, di, False, scope, lam)

    def add_use(self, name, path, node, kind, access, method, decl, explicit_this, scope, lam, parent=_UNKNOWN):
        """`parent`: node.parent when the caller has it (chain_context's), a tree lookup saved."""
        captured = False
        if decl is not None and lam is not None:
            dl = self.flow.decls[decl].lambda_index
            captured = dl != lam and (dl is None or dl not in self.flow.lambda_ancestors(lam))
        if parent is _UNKNOWN:
            parent = node.parent
        tested = access == "read" and _only_tested(node, parent)
        arrow = False
        if access == "method" and parent is not None and parent.type == "field_expression":
            op = parent.child_by_field_name("operator")
            arrow = op is not None and text(op) == "->"
        self.flow.uses.append(Use(name=name, path=path, span=Span.of(node), kind=kind, access=access, method=method,
                                  decl=decl, explicit_this=explicit_this, scope=scope, lambda_index=lam, captured=captured,
                                  test=tested, deref=_dereferenced(node, name, path, parent),
                                  end_test=_end_test(node, parent) if tested else "", arrow=arrow))

    def chain_context(self, node, parent=_UNKNOWN):
        """Climb an access chain (`a.b[i].c`) to its top; return (top, access, method, top's parent).
        `parent`: node.parent when the caller has it."""
        top = node
        p = top.parent if parent is _UNKNOWN else parent
        while p is not None:
            pt = p.type
            if pt not in _CHAIN_PARENTS:
                break
            gp = _UNKNOWN
            if pt == "parenthesized_expression":
                top = p
            elif _same(p.child_by_field_name("argument"), top):
                # For a call `a.b.f()`, stop below the method name.
                if pt == "field_expression":
                    gp = p.parent
                    if gp is not None and gp.type == "call_expression" and _same(gp.child_by_field_name("function"), p):
                        fld = p.child_by_field_name("field")
                        return top, "method", text(fld) if fld is not None else None, p
                top = p
            else:
                break
            p = top.parent if gp is _UNKNOWN else gp
        if p is None:
            return top, "read", None, p
        pt = p.type
        if pt == "assignment_expression" and _same(p.child_by_field_name("left"), top):
            op = p.child_by_field_name("operator")
            return top, ("write" if op is not None and text(op) == "=" else "update"), None, p
        if pt == "update_expression":
            return top, "update", None, p
        if pt == "pointer_expression":
            op = p.child_by_field_name("operator")
            if op is not None and text(op) == "&":
                return top, "address", None, p
        if pt == "call_expression" and _same(p.child_by_field_name("function"), top):
            return top, "call", None, p
        return top, "read", None, p

    def h_identifier(self, node, scope, lam):
        name = text(node)
        kind, di = self.resolve(name, node.start_byte, scope)
        top, access, method, parent = self.chain_context(node, self.parent_hint)
        if access == "call" and top.id == node.id and kind not in ("local", "param", "member"):
            return None  # a function name, recorded on the Call
        if kind == "unknown" and access == "call":
            return None
        self.add_use(name, name if top is node else text(top), top, kind, access, method, di, False, scope, lam, parent)
        return None

    def h_this(self, node, scope, lam):
        p = self.parent_hint if self.parent_hint is not _UNKNOWN else node.parent
        if p is not None and p.type == "field_expression" and _same(p.child_by_field_name("argument"), node):
            fld = p.child_by_field_name("field")
            fname = text(fld) if fld is not None else ""
            gp = p.parent
            if gp is not None and gp.type == "call_expression" and _same(gp.child_by_field_name("function"), p):
                self.add_use("this", "this", node, "this", "method", fname, None, True, scope, lam, p)
                return None
            top, access, method, parent = self.chain_context(p, gp)
            self.add_use(fname, text(top), top, "member", access, method, None, True, scope, lam, parent)
            return None
        top, access, method, parent = self.chain_context(node, p)
        self.add_use("this", text(top), top, "this", access, method, None, False, scope, lam, parent)
        return None

    def h_qualified(self, node, scope, lam):
        p = self.parent_hint if self.parent_hint is not _UNKNOWN else node.parent
        if p is not None and p.type == "call_expression" and _same(p.child_by_field_name("function"), node):
            return None
        name = _ws(text(node))
        top, access, method, parent = self.chain_context(node, p)
        self.add_use(name, text(top), top, "global" if name.split("::")[-1] in self.globals else "unknown",
                     access, method, None, False, scope, lam, parent)
        return None

    def h_field_initializer(self, node, scope, lam):
        fld = next((c for c in node.named_children if c.type in ("field_identifier", "identifier")), None)
        if fld is not None:
            self.add_use(text(fld), text(fld), fld, "member", "write", None, None, False, scope, lam, node)
        return scope, lam, [c for c in node.named_children if c.type in ("argument_list", "initializer_list")]

    def h_call(self, node, scope, lam):
        fn = node.child_by_field_name("function")
        args_node = node.child_by_field_name("arguments")
        args = _arg_nodes(args_node) if args_node is not None else []
        fn_text = text(fn) if fn is not None else ""
        callee = _ws(fn_text)
        receiver = None
        arrow = False
        callee_kind = "function"
        callee_decl = None
        f = _strip_parens(fn)
        ft = f.type if f is not None else None
        if ft == "field_expression":
            arg = f.child_by_field_name("argument")
            fld = f.child_by_field_name("field")
            receiver = _ws(text(arg)) if arg is not None else None
            op = f.child_by_field_name("operator")
            arrow = op is not None and text(op) == "->"
            name = _last_ident(text(fld)) if fld is not None else _last_ident(callee)
            callee_kind = "method"
        else:
            name = _last_ident(callee)
            if ft == "identifier":
                k, di = self.resolve(fn_text if f is fn else text(f), f.start_byte, scope)
                if k in ("local", "param", "member"):
                    callee_kind, callee_decl = k, di
        c = Call(callee=callee, name=name, span=Span.of(node), kind="call", args=[text(a) for a in args],
                 arg_spans=[Span.of(a) for a in args], receiver=receiver, arrow=arrow, callee_kind=callee_kind,
                 callee_decl=callee_decl, scope=scope, lambda_index=lam)
        self.place(c, node, self.parent_hint)
        self.flow.calls.append(c)
        self.call_of_node[node.id] = len(self.flow.calls) - 1
        if args_node is not None:
            self.call_of_node[args_node.id] = len(self.flow.calls) - 1
        return scope, lam, _CHILDREN

    def h_new(self, node, scope, lam):
        ty = node.child_by_field_name("type")
        args_node = node.child_by_field_name("arguments")
        args = _arg_nodes(args_node) if args_node is not None else []
        c = Call(callee=_ws(text(ty)), name=_last_ident(text(ty)), span=Span.of(node), kind="new",
                 args=[text(a) for a in args], arg_spans=[Span.of(a) for a in args], scope=scope, lambda_index=lam)
        self.place(c, node, self.parent_hint)
        self.flow.calls.append(c)
        if args_node is not None:
            self.call_of_node[args_node.id] = len(self.flow.calls) - 1
        return scope, lam, [args_node] if args_node is not None else []

    def h_delete(self, node, scope, lam):
        operand = next((c for c in reversed(node.named_children) if c.type != "comment"), None)
        array = any(c.type == "[" for c in node.children)
        c = Call(callee="delete[]" if array else "delete", name="delete", span=Span.of(node), kind="delete",
                 args=[text(operand)] if operand is not None else [], arg_spans=[Span.of(operand)] if operand is not None else [],
                 scope=scope, lambda_index=lam)
        self.place(c, node, self.parent_hint)
        self.flow.calls.append(c)
        return scope, lam, _CHILDREN

    def place(self, obj, node, parent=_UNKNOWN):
        """Fill in where a call's result goes (or a lambda): result, parent_call, receiver_of.
        `parent`: node.parent when the caller has it."""
        cur = node
        p = cur.parent if parent is _UNKNOWN else parent
        while p is not None and p.type == "parenthesized_expression":
            cur, p = p, p.parent
        if p is None:
            return
        pt = p.type
        result, target = "other", None
        if pt == "expression_statement":
            result = "discarded"
        elif pt == "init_declarator" or (pt == "declaration" and _same(p.child_by_field_name("value"), cur)):
            result = "init"
            name, *_ = _unwrap(p.child_by_field_name("declarator"))
            target = text(name) if name is not None else None
        elif pt == "assignment_expression" and _same(p.child_by_field_name("right"), cur):
            result, target = "assign", text(p.child_by_field_name("left"))
        elif pt in ("return_statement", "co_return_statement"):
            result = "return"
        elif pt in ("argument_list", "initializer_list"):
            result = "argument"
            ci = self.call_of_node.get(p.id)
            if ci is not None:
                obj_args = _arg_nodes(p)
                idx = next((i for i, a in enumerate(obj_args) if a.id == cur.id), None)
                if isinstance(obj, Call):
                    obj.parent_call, obj.arg_index = ci, idx
                else:
                    obj.handed_to = Handoff(ci, idx if idx is not None else -1)
        elif pt == "field_expression" and _same(p.child_by_field_name("argument"), cur):
            result = "receiver"
            gp = p.parent
            # Only a call's result has a fate worth recording (`std::thread(f).detach()`); a lambda
            # used as a receiver (`[]{}.operator()()`) is simply not stored nor handed anywhere.
            if isinstance(obj, Call) and gp is not None and gp.type == "call_expression" and _same(gp.child_by_field_name("function"), p):
                obj.receiver_of = self.call_of_node.get(gp.id)
        elif pt == "condition_clause":
            result = "condition"
        elif pt == "call_expression" and _same(p.child_by_field_name("function"), cur):
            result = "invoked"
        if isinstance(obj, Call):
            obj.result, obj.result_target = result, target
        else:
            obj.invoked = result == "invoked"
            obj.returned = result == "return"
            if result in ("init", "assign"):
                obj.stored_in = target

    def h_assign(self, node, scope, lam):
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        op = node.child_by_field_name("operator")
        tname, tkind, tdecl = "", "unknown", None
        base = _strip_parens(left)
        while base is not None and base.type in ("field_expression", "subscript_expression"):
            a = base.child_by_field_name("argument")
            if base.type == "field_expression" and a is not None and a.type == "this":
                fld = base.child_by_field_name("field")
                tname, tkind = (text(fld) if fld is not None else ""), "member"
                base = None
                break
            base = _strip_parens(a)
        if base is not None:
            if base.type == "identifier":
                tname = text(base)
                tkind, tdecl = self.resolve(tname, base.start_byte, scope)
            elif base.type == "qualified_identifier":
                tname = _ws(text(base))
                tkind = "global" if tname.split("::")[-1] in self.globals else "unknown"
            elif base.type == "this":
                tname, tkind = "this", "this"
        self.flow.assigns.append(Assign(target=text(left), target_name=tname, target_kind=tkind, target_decl=tdecl,
                                        op=text(op) if op is not None else "=", value=text(right) if right is not None else "",
                                        value_span=Span.of(right if right is not None else node), span=Span.of(node),
                                        scope=scope, lambda_index=lam))
        return scope, lam, _CHILDREN

    def h_jump(self, node, scope, lam):
        kind = node.type.split("_", 1)[0]
        target = None
        if kind == "goto":
            lbl = node.child_by_field_name("label")
            target = text(lbl) if lbl is not None else None
        elif kind == "throw":
            v = next((c for c in node.named_children if c.type != "comment"), None)
            target = text(v) if v is not None else None
        self.flow.jumps.append(Jump(kind, Span.of(node), target, scope, lam))
        return (scope, lam, _CHILDREN) if kind == "throw" else None

    def h_return(self, node, scope, lam):
        v = next((c for c in node.named_children if c.type != "comment"), None)
        self.flow.returns.append(Return(value=text(v) if v is not None else None, value_span=Span.of(v) if v is not None else None,
                                        span=Span.of(node), coroutine=node.type == "co_return_statement",
                                        scope=scope, lambda_index=lam))
        return scope, lam, _CHILDREN

    def h_lambda(self, node, scope, lam):
        body = node.child_by_field_name("body")
        L = Lambda(span=Span.of(node), body=Span.of(body if body is not None else node), parent=lam, outer_scope=scope)
        self.flow.lambdas.append(L)
        li = len(self.flow.lambdas) - 1
        self.lambda_of_node[node.id] = li
        s = self.new_scope(body if body is not None else node, "lambda", scope, li)
        L.scope = s
        kids_outer = []  # init-capture initialisers run in the enclosing body
        caps = node.child_by_field_name("captures")
        if caps is not None:
            pending = None
            for c in caps.children:
                ct = c.type
                if ct == "lambda_default_capture":
                    L.default = text(c).strip()
                elif ct in ("&", "*"):
                    pending = ct
                elif ct == ",":
                    pending = None
                elif ct == "this":
                    L.captures.append(Capture("this", "this-copy" if pending == "*" else "this", Span.of(c)))
                    pending = None
                elif ct == "identifier":
                    nm = text(c)
                    _, di = self.resolve(nm, node.start_byte, scope)
                    L.captures.append(Capture(nm, "ref" if pending == "&" else "copy", Span.of(c), None, di))
                    pending = None
                elif ct == "parameter_pack_expansion":
                    nm = text(c).rstrip(". ")
                    L.captures.append(Capture(nm.lstrip("&"), "pack", Span.of(c)))
                elif ct == "lambda_capture_initializer":
                    left = c.child_by_field_name("left")
                    right = c.child_by_field_name("right")
                    byref = any(k.type == "&" for k in c.children)
                    if left is not None:
                        ty = "auto&" if byref else "auto"
                        di = self.add_decl(left, c, ty, "capture", s, li, 0, byref, False, right, visible_from=body.start_byte if body is not None else c.end_byte)
                        L.captures.append(Capture(text(left), "init-ref" if byref else "init", Span.of(c),
                                                  text(right) if right is not None else None, di))
                    if right is not None:
                        kids_outer.append(right)
                    pending = None
        decl = node.child_by_field_name("declarator")
        if decl is not None:
            L.params = self.params(decl.child_by_field_name("parameters"), s, li, "lambda-param")
            rt = next((c for c in decl.children if c.type == "trailing_return_type"), None)
            if rt is not None:
                L.ret_type = " ".join(text(rt).split()).removeprefix("->").strip()
        self.place(L, node, self.parent_hint)
        # Walk the init-captures in the outer context, then the body in the lambda's scope.
        for k in kids_outer:
            self._pending.append((k, scope, lam, _UNKNOWN))
        return s, li, body.named_children if body is not None else []

    def finish(self):
        flow = self.flow
        fn = self.fn
        for L in flow.lambdas:
            if L.invoked:
                L.sync = True
            elif L.handed_to is not None and L.handed_to.via is None:
                c = flow.calls[L.handed_to.call]
                L.sync = c.name in SYNC_CALLEES or (c.name in ("wait", "wait_for", "wait_until") and c.callee_kind == "method")
        assign_locks(fn, self.node, flow)
        # Lambda summaries: what each body (nested lambdas included) touches.
        for L in flow.lambdas:
            L.call_chain = []
        for i, L in enumerate(flow.lambdas):
            if L.handed_to is not None:
                L.call_chain = self.chain_from(L.handed_to)
        for u in flow.uses:
            if u.lambda_index is None:
                continue
            for li in flow.lambda_ancestors(u.lambda_index):
                L = flow.lambdas[li]
                if u.kind == "this":
                    L.uses_this = True
                    if u.access == "method" and u.method and u.method not in L.member_calls:
                        L.member_calls.append(u.method)
                elif u.kind == "member":
                    L.uses_this = True
                    if u.name not in L.member_uses:
                        L.member_uses.append(u.name)
                elif u.kind == "unknown" and "::" not in u.name:
                    if u.name not in L.free_names:
                        L.free_names.append(u.name)
                elif u.decl is not None:
                    dl = flow.decls[u.decl].lambda_index
                    if (dl is None or li not in flow.lambda_ancestors(dl)) and u.decl not in L.outer_uses:
                        L.outer_uses.append(u.decl)
        for c in flow.calls:
            if c.lambda_index is None or c.kind != "call" or c.callee_kind != "function" or "::" in c.callee:
                continue
            if not re.fullmatch(r"[A-Za-z_]\w*", c.callee):
                continue
            for li in flow.lambda_ancestors(c.lambda_index):
                L = flow.lambdas[li]
                if c.callee in self.methods:
                    L.uses_this = True
                    if c.callee not in L.member_calls:
                        L.member_calls.append(c.callee)
                elif c.callee not in L.free_calls:
                    L.free_calls.append(c.callee)
        # A lambda stored in a local and passed on later: `auto h = [..]{}; post(ioc, std::move(h));`
        for L in flow.lambdas:
            if not L.stored_in or not re.fullmatch(r"[A-Za-z_]\w*", L.stored_in):
                continue
            for ci, c in enumerate(flow.calls):
                if c.span.start_byte < L.span.end_byte or c.lambda_index != L.parent:
                    continue
                for ai, a in enumerate(c.args):
                    if _passes_name(a, L.stored_in):
                        L.passed_to.append(Handoff(ci, ai, L.stored_in))
                if c.kind == "construct" and c.declared == L.stored_in:
                    break
            if L.handed_to is None and L.passed_to:
                L.handed_to = L.passed_to[0]
                L.call_chain = self.chain_from(L.handed_to)

    def chain_from(self, h: Handoff) -> list[Handoff]:
        out = [h]
        seen = {h.call}
        c = self.flow.calls[h.call]
        while c.parent_call is not None and c.parent_call not in seen:
            seen.add(c.parent_call)
            out.append(Handoff(c.parent_call, c.arg_index if c.arg_index is not None else -1))
            c = self.flow.calls[c.parent_call]
        return out

    def innermost_lambda(self, byte: int) -> int | None:
        best = None
        for i, L in enumerate(self.flow.lambdas):
            if L.body.start_byte <= byte < L.body.end_byte:
                if best is None or self.flow.lambdas[best].body.start_byte <= L.body.start_byte:
                    best = i
        return best


def _innermost_lambda(flow, byte: int) -> int | None:
    best = None
    for i, L in enumerate(flow.lambdas):
        if L.body.start_byte <= byte < L.body.end_byte:
            if best is None or flow.lambdas[best].body.start_byte <= L.body.start_byte:
                best = i
    return best


def assign_locks(fn, fn_node, flow) -> None:
    """Solve the lock flow of `fn` (from `fn.locks`) and set every event's `locks` / `partial`."""
    regions = fn.locks or []
    inner = lambda byte: _innermost_lambda(flow, byte)  # noqa: E731
    flow.lock_lambda = [inner(r.span.start_byte) for r in regions]
    lf = build_lockflow(fn_node, regions, flow.lambdas, inner) if regions else None
    flow.lockflow = lf
    if lf is None or not lf.bodies:
        return
    # Locks held where each lambda is created (lambdas are in source order: parents first).
    inherited: list[tuple[int, ...]] = []
    for L in flow.lambdas:
        L.locks = lf.must(L.span.start_byte, L.parent)
        if L.parent is not None and flow.lambdas[L.parent].sync and inherited[L.parent]:
            L.locks = tuple(sorted(set(L.locks) | set(inherited[L.parent])))
        inherited.append(L.locks if L.sync else ())
    bodies = lf.bodies
    masks = lf.masks
    for lst in (flow.decls, flow.uses, flow.assigns, flow.calls, flow.returns, flow.jumps):
        for e in lst:
            lam = e.lambda_index
            inh = inherited[lam] if lam is not None else ()
            if lam not in bodies:
                e.locks = inh
                e.partial = ()
                continue
            must, may = masks(e.start_byte, lam)
            e.locks = _bits(must)
            e.partial = _bits(may & ~must)
            if inh:
                e.locks = tuple(sorted(set(e.locks) | set(inh)))


_NULLISH = re.compile(r"^(nullptr|NULL|0|false|\w[\w.\->\[\]]*(?:\.|->)c?end\(\)|std::c?end\(.*\))$")


def _dereferenced(node, name: str, path: str, parent=_UNKNOWN) -> bool:
    """`*x`, `x->m`, `x[i]`: the value of `x` is followed, not just copied or compared."""
    if path is not name:  # (the bare name is no `name->` nor `name[`)
        p = _ws(path)
        if p.startswith((name + "->", name + "[")):
            return True
    q = node.parent if parent is _UNKNOWN else parent
    while q is not None and q.type == "parenthesized_expression":
        q = q.parent
    if q is not None and q.type == "pointer_expression":
        op = q.child_by_field_name("operator")
        return op is not None and text(op) == "*"
    return False


_END_CALL = re.compile(r"^(?:\w[\w.\->\[\]]*(?:\.|->)c?end\(\)|std::c?end\(.*\))$")


def _end_test(node, parent=_UNKNOWN) -> str:
    """"==" or "!=" when `node` is compared with an end iterator (`it == m.end()`), else ""."""
    p = node.parent if parent is _UNKNOWN else parent
    while p is not None and p.type == "parenthesized_expression":
        node, p = p, p.parent
    if p is None or p.type != "binary_expression":
        return ""
    op = p.child_by_field_name("operator")
    op_text = text(op) if op is not None else None
    if op_text not in ("==", "!="):
        return ""
    left, right = p.child_by_field_name("left"), p.child_by_field_name("right")
    other = right if _same(left, node) else left
    if other is None or not _END_CALL.match(_ws(text(other))):
        return ""
    # The branch it decides: the comparison is the whole condition, or one side of `&&` in it.
    q = p.parent
    while q is not None and (q.type == "parenthesized_expression" or (
            q.type == "binary_expression" and q.child_by_field_name("operator") is not None
            and text(q.child_by_field_name("operator")) == "&&")):
        q = q.parent
    return op_text if q is not None and q.type == "condition_clause" else ""


def _only_tested(node, parent=_UNKNOWN) -> bool:
    """The value at `node` is only compared or tested for truth, never dereferenced."""
    p = node.parent if parent is _UNKNOWN else parent
    while p is not None and p.type == "parenthesized_expression":
        node, p = p, p.parent
    if p is None:
        return False
    t = p.type
    if t == "condition_clause":
        return True
    if t == "unary_expression":
        op = p.child_by_field_name("operator")
        return op is not None and text(op) == "!"
    if t == "binary_expression":
        op = p.child_by_field_name("operator")
        op_text = text(op) if op is not None else None
        if op_text not in ("==", "!=", "&&", "||"):
            return False
        if op_text in ("&&", "||"):
            return True
        left, right = p.child_by_field_name("left"), p.child_by_field_name("right")
        other = right if _same(left, node) else left
        return other is not None and bool(_NULLISH.match(_ws(text(other))))
    if t == "conditional_expression":
        return _same(p.child_by_field_name("condition"), node)
    if t in ("if_statement", "while_statement", "for_statement", "do_statement"):
        return _same(p.child_by_field_name("condition"), node)
    return False


class _BranchMark:
    """A walk-stack marker: open a branch scope for `node` (then / else / loop body)."""

    __slots__ = ("node", "branch")

    def __init__(self, node, branch: str):
        self.node = node
        self.branch = branch


# --- what a condition decides (Decided) ------------------------------------------------------

_DECIDING = frozenset({"if_statement", "while_statement", "for_statement", "do_statement"})
_LEAVES = frozenset({"return_statement", "break_statement", "continue_statement", "goto_statement", "co_return_statement"})
_LOOPS = frozenset({"while_statement", "for_statement", "do_statement", "for_range_loop", "switch_statement"})
_TESTED = frozenset({"call_expression", "identifier", "field_expression", "qualified_identifier"})
_RELATIONAL = frozenset({"<", ">", "<=", ">="})


def _always_leaves(st, depth: int = 0) -> bool:
    """The statement always leaves the enclosing block: a return / break / continue / goto /
    throw, a block whose last statement does, or a preprocessor conditional with an `#else` whose
    every branch does (whichever is compiled leaves; without `#else`, the build that compiles
    none of it goes on)."""
    for _ in range(64):
        if st is None:
            return False
        t = st.type
        if t in _LEAVES:
            return True
        if t == "expression_statement":
            e = st.named_children[0] if st.named_children else None
            return e is not None and e.type == "throw_expression"
        if t == "throw_statement":
            return True
        if t in PREPROC_BLOCKS and t != "preproc_else":
            alt = st.child_by_field_name("alternative")
            kids = preproc_branch(st)
            return depth < 16 and alt is not None and bool(kids) and _always_leaves(kids[-1], depth + 1) \
                and _always_leaves(alt, depth + 1)
        if t == "preproc_else":
            kids = preproc_branch(st)
        elif t != "compound_statement":
            return False
        else:
            kids = [k for k in st.named_children if k.type != "comment"]
        st = kids[-1] if kids else None
    return False


def _breaks(body) -> bool:
    """A `break` (or `goto`) that leaves this loop's body: the loop can end with its condition true."""
    if body is None:
        return False
    todo = [body]
    while todo:
        n = todo.pop()
        t = n.type
        if t == "break_statement" or t == "goto_statement":
            return True
        if t in _LOOPS or t == "lambda_expression":
            continue  # a break in a nested loop or switch leaves that one
        todo.extend(n.named_children)
    return False


def _decide(node, out: list) -> None:
    """The Decided entries of one if / while / for / do condition."""
    cond = node.child_by_field_name("condition")
    if cond is None:
        return
    if cond.type == "condition_clause":
        kids = cond.named_children
        if len(kids) != 1 or kids[0].type in ("declaration", "init_statement"):
            return  # `if (auto v = ...)`, `if (init; cond)`: left alone
        cond = kids[0]
    t = node.type
    body = node.child_by_field_name("body")
    # What follows the statement in its block, through preprocessor conditionals (see following).
    block, rest = following(node) if t != "conditional_expression" else (None, [])
    rest = tuple(rest) if block is not None and block.type == "compound_statement" else None
    tr: list = []
    fr: list = []
    if t == "conditional_expression":  # `ready() ? x : y`
        then, alt = node.child_by_field_name("consequence"), node.child_by_field_name("alternative")
        if then is not None:
            tr.append((then.start_byte, then.end_byte))
        if alt is not None:
            fr.append((alt.start_byte, alt.end_byte))
    elif t == "if_statement":
        then, alt = node.child_by_field_name("consequence"), node.child_by_field_name("alternative")
        if then is not None:
            tr.append((then.start_byte, then.end_byte))
        if alt is not None:
            fr.append((alt.start_byte, alt.end_byte))
        if rest is not None:
            if then is not None and _always_leaves(then):
                fr.extend(rest)
            if alt is not None and _always_leaves(alt.named_children[-1] if alt.named_children else None):
                tr.extend(rest)
    else:
        if body is not None and t != "do_statement":
            tr.append((body.start_byte, body.end_byte))
        if rest is not None and not _breaks(body):
            fr.extend(rest)
    if tr or fr:
        _decide_expr(cond, tuple(tr), tuple(fr), out, 0)


def _decide_expr(n, tr: tuple, fr: tuple, out: list, depth: int) -> None:
    """Record what `n` is known to be in the regions where it tested true (`tr`) / false (`fr`)."""
    if depth > 32 or not (tr or fr):
        return
    while n.type == "parenthesized_expression" and n.named_children:
        n = n.named_children[0]
    t = n.type
    if t in _TESTED:
        out.append(Decided(n.start_byte, n.end_byte, tuple((a, b, "true") for a, b in tr) + tuple((a, b, "false") for a, b in fr)))
        return
    if t == "unary_expression":
        op = n.child_by_field_name("operator")
        arg = n.child_by_field_name("argument")
        if op is not None and text(op) in ("!", "not") and arg is not None:
            _decide_expr(arg, fr, tr, out, depth + 1)
        return
    if t != "binary_expression":
        return
    op_node = n.child_by_field_name("operator")
    op = text(op_node) if op_node is not None else ""
    left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
    if left is None or right is None:
        return
    if op in ("&&", "and"):  # the right operand runs only when the left one was true
        _decide_expr(left, tr + ((right.start_byte, right.end_byte),), (), out, depth + 1)
        _decide_expr(right, tr, (), out, depth + 1)
        return
    if op in ("||", "or"):
        _decide_expr(left, (), fr + ((right.start_byte, right.end_byte),), out, depth + 1)
        _decide_expr(right, (), fr, out, depth + 1)
        return
    if op not in ("==", "!=") and op not in _RELATIONAL:
        return
    for side, other in ((left, right), (right, left)):
        while side.type == "parenthesized_expression" and side.named_children:
            side = side.named_children[0]
        if side.type not in _TESTED:
            continue
        o = _ws(text(other))
        if op in _RELATIONAL:
            out.append(Decided(side.start_byte, side.end_byte, tuple((a, b, "cmp") for a, b in tr + fr)))
        elif _NULLISH.match(o):
            # `x == nullptr` / `x != 0`: the truth value of x
            pos, neg = (fr, tr) if op == "==" else (tr, fr)
            _decide_expr(side, pos, neg, out, depth + 1)
        else:
            eq, ne = (tr, fr) if op == "==" else (fr, tr)
            out.append(Decided(side.start_byte, side.end_byte,
                               tuple((a, b, "eq:" + o) for a, b in eq) + tuple((a, b, "ne:" + o) for a, b in ne)))


def _passes_name(arg: str, name: str) -> bool:
    a = _ws(arg)
    return a == name or a in (f"std::move({name})", f"move({name})", f"std::ref({name})", f"std::cref({name})",
                              f"std::forward<decltype({name})>({name})", f"&{name}")


def _same(a, b) -> bool:
    return a is not None and b is not None and a.id == b.id


# Names that are not uses, and parts with nothing in them to record: skipped like _PRUNE (no
# handler call for the commonest leaves of a body).
_NOT_USES = frozenset({
    "field_identifier", "type_identifier", "namespace_identifier", "template_function", "template_method",
    "statement_identifier", "destructor_name", "operator_name", "lambda_capture_specifier", "parameter_list",
    "abstract_function_declarator", "primitive_type", "sized_type_specifier", "placeholder_type_specifier",
})
_SKIP = _PRUNE | _NOT_USES

_HANDLERS = {
    "compound_statement": _Builder.h_compound,
    **{k: _Builder.h_scope_stmt for k in _SCOPE_STMTS},
    "declaration": _Builder.h_declaration,
    "identifier": _Builder.h_identifier,
    "this": _Builder.h_this,
    "qualified_identifier": _Builder.h_qualified,
    "call_expression": _Builder.h_call,
    "new_expression": _Builder.h_new,
    "delete_expression": _Builder.h_delete,
    "assignment_expression": _Builder.h_assign,
    "return_statement": _Builder.h_return,
    "co_return_statement": _Builder.h_return,
    "lambda_expression": _Builder.h_lambda,
    "field_initializer": _Builder.h_field_initializer,
    "goto_statement": _Builder.h_jump,
    "break_statement": _Builder.h_jump,
    "continue_statement": _Builder.h_jump,
    "throw_statement": _Builder.h_jump,
    "labeled_statement": lambda self, n, s, l: (s, l, [c for c in n.named_children if c.type != "statement_identifier"]),
    "cast_expression": lambda self, n, s, l: (s, l, [c for c in (n.child_by_field_name("value"),) if c is not None]),
    "compound_literal_expression": lambda self, n, s, l: self.h_compound_literal(n, s, l),
    "conditional_expression": lambda self, n, s, l: (_decide(n, self.flow.decided), (s, l, n.named_children))[1],
}


def _h_compound_literal(self: _Builder, node, scope, lam):
    """`T{a, b}` / `std::thread{f}` as an expression: a construction."""
    ty = node.child_by_field_name("type")
    val = node.child_by_field_name("value")
    args = _arg_nodes(val) if val is not None else []
    c = Call(callee=_ws(text(ty)), name=_last_ident(text(ty)), span=Span.of(node), kind="construct",
             args=[text(a) for a in args], arg_spans=[Span.of(a) for a in args], scope=scope, lambda_index=lam)
    self.place(c, node, self.parent_hint)
    self.flow.calls.append(c)
    if val is not None:
        self.call_of_node[val.id] = len(self.flow.calls) - 1
    return scope, lam, [val] if val is not None else []


_Builder.h_compound_literal = _h_compound_literal


def _run(self: _Builder) -> FunctionFlow:
    self._pending = []
    fn_node = self.node
    body = fn_node.child_by_field_name("body")
    root_scope = self.new_scope(body if body is not None else fn_node, "function", None, None)
    d = fn_node.child_by_field_name("declarator")
    unwrapped = _unwrap(d) if d is not None else (None, 0, False, None, None)
    fdecl = unwrapped[4]
    if fdecl is not None and self.fn.return_type and not self.fn.is_ctor and not self.fn.is_dtor:
        self.flow.return_view = view_kind(self.fn.return_type, unwrapped[1], unwrapped[2])
    if fdecl is not None:
        self.params(fdecl.child_by_field_name("parameters"), root_scope, None, "param")
        from lifelint.facts.cpp_locks import GUARD_TYPES

        guards = GUARD_TYPES | self.lock_types
        for d in self.flow.decls:
            if d.kind == "param" and d.is_reference and type_base_name(d.type) in guards:
                self.flow.held_by_caller.append((d.name, d.type))
        for p in self.fn.params:  # unnamed: `bool empty(unique_lock<mutex>&) const`
            if not p.name and p.is_reference and type_base_name(p.type) in guards:
                self.flow.held_by_caller.append(("", p.type))
    # (node, scope, lambda, the node's parent or _UNKNOWN)
    stack: list[tuple[Any, int, int | None, Any]] = []
    for c in fn_node.named_children:
        if c.type == "field_initializer_list":
            stack.append((c, root_scope, None, fn_node))
    if body is not None:
        if body.type == "compound_statement":
            stack.extend((c, root_scope, None, body) for c in reversed(body.named_children))
        else:
            stack.append((body, root_scope, None, fn_node))
    handlers = _HANDLERS
    while stack:
        node, scope, lam, parent = stack.pop()
        if type(node) is _BranchMark:
            # The statement under an if / loop: its own scope, even when it is a single statement.
            st = node.node
            bs = self.new_scope(st, "block", scope, lam, node.branch)
            if st.type == "compound_statement":
                stack.extend([(c, bs, lam, st) for c in reversed(st.named_children)])
            else:
                stack.append((st, bs, lam, _UNKNOWN))
            continue
        t = node.type
        if t in _SKIP:
            continue
        handler = handlers.get(t)
        if handler is not None:
            self.parent_hint = parent
            res = handler(self, node, scope, lam)
            self.parent_hint = _UNKNOWN
            if self._pending:
                # queued nodes (init-captures) are walked after the body, in their own context
                stack[0:0] = reversed(self._pending)
                self._pending = []
            if res is None:
                continue
            scope2, lam2, kids = res
            if kids is _CHILDREN:
                stack.extend([(c, scope2, lam2, node) for c in reversed(node.named_children)])
            else:
                stack.extend([(c, scope2, lam2, _UNKNOWN) for c in reversed(kids)])
            continue
        stack.extend([(c, scope, lam, node) for c in reversed(node.named_children)])
    self.finish()
    return self.flow


_Builder.run = _run


# --- entry point ---------------------------------------------------------------------------

def _function_node(root, fn):
    n = root.descendant_for_byte_range(fn.span.start_byte, fn.span.end_byte)
    while n is not None and n.type != "function_definition":
        n = n.parent
    return n


def _file_context(out):
    fields_by_class: dict[str, set[str]] = {}
    methods_by_class: dict[str, set[str]] = {}
    for k in out.classes:
        fields_by_class.setdefault(k.name, set()).update(f.name for f in k.fields)
        fields_by_class[k.name].update(f.name for f in k.static_members)
        methods_by_class.setdefault(k.name, set()).update(m for m in k.method_decls if m != k.name and not m.startswith("~"))
    globals_ = {g.name for g in out.globals if g.kind in ("global", "static-member")}
    return fields_by_class, methods_by_class, globals_


def extract(root, data: bytes, facts, out, settings=None) -> None:
    """Attach a FunctionFlow to every Function in `out` (a CppFacts)."""
    fields_by_class, methods_by_class, globals_ = _file_context(out)
    lock_types = frozenset(t.split("::")[-1] for t in (getattr(settings, "lock_types", None) or []))
    for fn in out.functions:
        if fn.body is None:
            continue
        node = _function_node(root, fn)
        if node is None:
            continue
        _build_flow(fn, node, fields_by_class, methods_by_class, globals_, lock_types)
    _learn_lock_effects(root, data, out, lock_types, fields_by_class, methods_by_class, globals_,
                        accessors=_accessors(settings))


def relearn_lock_effects(root, data: bytes, out, settings, project) -> bool:
    """Apply lock effects defined in other files (`project`: see
    lifelint.facts.cpp_lock_effects.apply_project_effects) to the functions of `out` that use
    them; True when a function's locks changed."""
    fields_by_class, methods_by_class, globals_ = _file_context(out)
    lock_types = frozenset(t.split("::")[-1] for t in (getattr(settings, "lock_types", None) or []))
    return _learn_lock_effects(root, data, out, lock_types, fields_by_class, methods_by_class, globals_, project,
                               accessors=_accessors(settings))


def _accessors(settings) -> dict[str, bool]:
    from lifelint.facts.cpp_locks import accessor_table

    return accessor_table(getattr(settings, "lock_accessors", None) or ())


def _build_flow(fn, node, fields_by_class, methods_by_class, globals_, lock_types) -> None:
    """Walk `fn`'s body into `fn.flow` (None when the body nests too deep to walk)."""
    cname = fn.class_name.split("::")[-1].split("<")[0] if fn.class_name else None
    b = _Builder(fn, node, fields_by_class.get(cname, set()) if cname else set(),
                 methods_by_class.get(cname, set()) if cname else set(), globals_)
    b.lock_types = lock_types
    try:
        fn.flow = b.run()
    except RecursionError:
        fn.flow = None


def _learn_lock_effects(root, data: bytes, out, lock_types, fields_by_class, methods_by_class, globals_,
                        project=None, accessors=None) -> bool:
    """Guards and lock helpers defined in this file (lifelint.facts.cpp_lock_effects), and with
    `project` those other files define: re-read the locks of the functions that use them. Stores
    the file's own effects in `out.extra["lock_effects"]` (on the first pass); True when some
    function's locks changed."""
    from lifelint.facts import cpp_lock_effects as fx
    from lifelint.facts.cpp_locks import GUARD_TYPES, extract_locks

    spin = out.extra.get("spin", frozenset())
    own_guards = fx.guard_classes(out.functions)
    own_guards |= fx.guard_aliases(out.aliases, GUARD_TYPES | lock_types | own_guards)
    own_unlockers = fx.unlocker_classes(out.functions)
    own_wrappers = fx.lock_wrappers(root, out.functions, out.classes, _function_node)
    own_macros = fx.effect_macros(root, GUARD_TYPES | lock_types | frozenset(own_guards)) if b"#define" in data else {}
    learned, macros, unlockers = set(own_guards), dict(own_macros), set(own_unlockers)
    wrappers = dict(own_wrappers)

    def wrapped(fn) -> frozenset[str]:
        """A lock wrapper's members are mutexes whatever their names: `void acquire() { m_.lock(); }`."""
        cls = fn.class_name.split("::")[-1].split("<")[0] if fn.class_name else None
        return frozenset(own_wrappers.get(cls, ())) if not fn.is_ctor else frozenset()

    if own_wrappers and project is None:
        for fn in out.functions:
            members = wrapped(fn)
            if not members or fn.flow is None or fn.body is None:
                continue
            node = _function_node(root, fn)
            if node is None:
                continue
            fn.locks = extract_locks(node, sorted(lock_types), None, accessors, frozenset(), members, spin)
            _build_flow(fn, node, fields_by_class, methods_by_class, globals_, lock_types)
    if project is not None:
        fresh = [n.encode() for n in (*(project["guards"] - learned), *(project["unlockers"] - unlockers),
                                      *(k for k in project["macros"] if k not in macros))]
        learned |= project["guards"]
        unlockers |= project["unlockers"]
        for k, v in project["macros"].items():
            macros.setdefault(k, v)
        for k, v in project["wrappers"].items():
            wrappers.setdefault(k, v)
    changed = False
    if learned or macros or unlockers:
        # On the first pass every user of the file's own guards; on the project pass, only the
        # functions that use a guard from another file.
        names = fresh if project is not None else [n.encode() for n in (*learned, *macros, *unlockers)]
        extra = sorted(lock_types | frozenset(learned))
        for fn in out.functions:
            if not names or fn.body is None or fn.flow is None or not any(n in data[fn.body.start_byte:fn.body.end_byte] for n in names):
                continue
            node = _function_node(root, fn)
            if node is None:
                continue
            fn.locks = extract_locks(node, extra, macros, accessors, frozenset(unlockers), wrapped(fn), spin)
            _build_flow(fn, node, fields_by_class, methods_by_class, globals_, lock_types)
            changed = True
    # Acquire / release helpers, one level per round.
    sums: dict = {}
    for _round in range(3):
        sums = fx.summaries(out.functions)
        if project is not None:
            for k, v in project["helpers"].items():
                sums.setdefault(k, v)
        if not sums:
            break
        round_changed = False
        for fn in out.functions:
            if fn.flow is None:
                continue
            eff = fx.helper_ops(fn, sums, wrappers)
            if eff and fx.add_helper_holders(fn, eff):
                node = _function_node(root, fn)
                if node is not None:
                    assign_locks(fn, node, fn.flow)
                    round_changed = changed = True
        if not round_changed:
            break
    if project is None:
        # A `static` free function is this file's own: other files' calls of that name are not it.
        private = {fn.name for fn in out.functions if fn.is_static and not fn.class_name}
        helpers = {k: v for k, v in fx.summaries(out.functions).items() if not (k[0] is None and k[1] in private)}
        mine = {"guards": sorted(own_guards), "unlockers": sorted(own_unlockers), "wrappers": own_wrappers,
                "macros": own_macros, "helpers": helpers}
        if mine["guards"] or mine["unlockers"] or mine["wrappers"] or mine["macros"] or mine["helpers"]:
            out.extra["lock_effects"] = mine
    return changed
