"""Rust flow facts: what happens inside each function, as plain per-function event lists.

`extract(root, data, facts, out)` is called by `lifelint.facts.rust.extract` and fills
`out.unsafe_sites`, `out.flows` (one `Flow` per function with a body, `Flow.fn` indexes
`out.functions`), `out.structs` and `out.impls`.

A `Flow` holds, with byte positions so rules can order things:

- `events`: calls that matter for lifetime and threading (`Box::from_raw`, `ManuallyDrop::take`,
  `ptr::drop_in_place`, `drop`, atomics with their `Ordering`s, lock acquisitions, raw slices,
  pointer arithmetic, `set_len`, `copy_nonoverlapping`, `from_raw_fd`, spawns, fences, ...),
  every other call as a plain `call` / `method` event, and writes (`assign`, `ref_mut`);
- `conds` (if / while / match / guard / let-else conditions and the code they guard), `loops`;
- `locals` (let bindings, `for` and `if let` bindings, with their initialiser range and scope);
- `locks` and `lockflow`: the guards taken (lifelint.facts.rust_cfg.RHolder) and which are held
  at each point (a `LockFlow`: a control-flow graph per body and lock sets by dataflow; None
  when the function takes no guard);
- `checks` (comparisons, `assert!`s, masks, `min` / `checked_*`), `exits`, `returns`;
- `uses` (every identifier occurrence, by name) and `derefs` (`*p` on an identifier).

Events inside a closure belong to the enclosing function and carry the closure's index.
Unsafe blocks, impls and fns become `UnsafeSite`s that say whether a SAFETY comment documents
them, by the rules of clippy's `undocumented_unsafe_blocks` (see rules/ll303_*.py).

The walk is iterative (a tree cursor with an explicit ancestor list) and everything stored is
a plain dataclass, so facts pickle into the cache and across worker processes.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from typing import Any, ClassVar

from lifelint.facts.rust_cfg import build_lockflow, drop_targets
from lifelint.model import Span

ORDERINGS = frozenset({"Relaxed", "Acquire", "Release", "AcqRel", "SeqCst"})
ATOMIC_METHODS = frozenset({
    "load", "store", "swap", "compare_exchange", "compare_exchange_weak", "compare_and_swap",
    "fetch_add", "fetch_sub", "fetch_and", "fetch_or", "fetch_xor", "fetch_nand", "fetch_max",
    "fetch_min", "fetch_update",
})
# Read-modify-write operations that return the previous value: one caller wins.
RMW_METHODS = ATOMIC_METHODS - {"load", "store"}
PTR_ARITH = frozenset({"add", "offset", "sub", "byte_add", "byte_offset", "byte_sub"})
LOCK_METHODS = frozenset({"lock", "read", "write", "try_lock", "try_read", "try_write", "upgradable_read",
                          "lock_arc", "read_arc", "write_arc", "lock_owned", "read_owned", "write_owned",
                          "try_lock_owned", "try_read_owned", "try_write_owned", "blocking_lock", "blocking_read",
                          "blocking_write"})
# A function whose declared return type is one of these hands its caller a held guard.
_GUARD_RETURN = re.compile(r"\b(?:\w*Mutex\w*Guard|RwLock\w*Guard|\w*(?:Read|Write)Guard|\w*LockGuard|MutexGuard)\b")
GUARD_PASS_METHODS = frozenset({"unwrap", "expect", "unwrap_or_else", "unwrap_unchecked", "map_err"})
VALUE_PASS_METHODS = GUARD_PASS_METHODS | {"unwrap_or", "unwrap_or_default"}
BOUND_METHODS = frozenset({"min", "clamp", "checked_add", "checked_sub", "checked_mul", "checked_div",
                           "checked_rem", "checked_shl", "checked_pow", "checked_neg", "checked_add_signed",
                           "checked_next_power_of_two", "checked_offset"})
PANIC_MACROS = frozenset({"panic", "unreachable", "todo", "unimplemented"})
SPAWN_OWNERS = frozenset({"thread", "tokio", "task", "rayon", "async_std", "smol", "std::thread"})
# Calls that install a callback (signal handlers): their arguments are kept on the `call` event.
HANDLER_CALLS = frozenset({"signal", "sigaction", "register", "register_unchecked", "register_signal_unchecked",
                           "set_handler", "register_sigaction"})
PTR_OFFSETS = frozenset({"add", "offset", "byte_add", "byte_offset", "wrapping_add", "wrapping_offset", "sub",
                         "byte_sub", "wrapping_sub"})
KEYED_METHODS = frozenset({"get", "get_mut", "entry", "contains_key", "insert", "remove"})
COMPARISON_OPS = frozenset({"<", "<=", ">", ">=", "==", "!="})
BRANCHY = frozenset({"if_expression", "match_expression", "loop_expression", "while_expression", "for_expression"})


# --- data -------------------------------------------------------------------------------------

@dataclass(slots=True)
class UnsafeSite:
    kind: str  # "block", "impl", "fn", "trait"
    span: Span  # the whole node
    head: Span  # where a report points: from `unsafe` to the end of its first line
    documented: bool
    where: str  # "above" | "statement" | "doc" | "" : where the SAFETY comment was found
    function: str | None  # qualname of the enclosing function
    label: str  # "unsafe block", "unsafe impl Send for Foo", "unsafe fn read_at"


@dataclass(slots=True)
class Event:
    _load_shared: ClassVar[bool] = True  # lifelint.cache._new_shared
    kind: str
    span: Span
    name: str = ""  # callee path (`Box::from_raw`), method name (`load`), or a kind detail
    recv: str = ""  # method receiver / assignment target, whitespace removed
    owner: str = ""  # `Box` in `Box::from_raw`, `File` in `File::from_raw_fd`
    args: tuple[str, ...] = ()  # argument texts, whitespace removed (special kinds only)
    orderings: tuple[str, ...] = ()  # atomics and fences: "Relaxed", ..., "?" when not literal
    stmt: tuple[int, int] = (0, 0)  # the enclosing statement (temporaries die at its end)
    fate: str = ""  # where the value goes: let | let_ | stmt | arg | method | return | field | assign | cond | other
    fate_name: str = ""  # the let binding / callee / method / assignment target
    in_unsafe: bool = False
    closure: int = -1  # index into Flow.closures, -1 outside closures

    @property
    def start(self) -> int:
        return self.span.start_byte

    @property
    def key(self) -> str:
        """The last component of the receiver path: `freeing` in `self.guard.freeing`."""
        r = self.recv
        for sep in (".", "::"):
            if sep in r:
                r = r.rsplit(sep, 1)[-1]
        return r.rstrip("()")


@dataclass(slots=True)
class Cond:
    kind: str  # "if" | "while" | "guard" | "match" | "let_else"
    span: Span  # the whole if / while / arm / let
    cond: tuple[int, int]  # the condition (for let-else: the initialiser)
    body: tuple[int, int]  # the code it guards (consequence / loop body / arm / else block)
    alt: tuple[int, int] | None = None  # else branch of an if
    negated: bool = False  # condition is `!expr`
    scope_end: int = 0  # end of the block holding the if / while / let (code after it runs under it)


@dataclass(slots=True)
class Loop:
    kind: str  # "loop" | "while" | "for"
    span: Span
    cond: tuple[int, int] | None  # while condition / for iterator
    body: tuple[int, int]


@dataclass(slots=True)
class Local:
    _load_shared: ClassVar[bool] = True  # lifelint.cache._new_shared
    name: str
    kind: str  # "let" | "for" | "iflet"
    span: Span  # the binding statement / pattern
    value: tuple[int, int] | None  # initialiser range
    scope_end: int  # byte where the binding's scope ends
    type: str = ""
    mutable: bool = False
    value_text: str = ""  # whitespace removed, first 200 chars


@dataclass(slots=True)
class Check:
    kind: str  # "cmp" | "assert" | "debug_assert" | "mask" | "bound"
    start: int
    end: int
    text: str = ""


@dataclass(slots=True)
class Closure:
    span: Span
    body: tuple[int, int]
    callee: str  # the call it is handed to ("thread::spawn", "spawn", ...), "" if none
    is_move: bool
    # An `async` block or closure: a future, run where it is polled, not where it is made.
    is_async: bool = False
    # Awaited where it is made (`async { .. }.await`), or handed to a call awaited there
    # (`timeout(d, async { .. }).await`): it runs before the creator goes on.
    awaited: bool = False


@dataclass(slots=True)
class Flow:
    _load_shared: ClassVar[bool] = True  # lifelint.cache._new_shared
    fn: int  # index into RustFacts.functions
    body: tuple[int, int]
    events: list[Event] = field(default_factory=list)
    conds: list[Cond] = field(default_factory=list)
    loops: list[Loop] = field(default_factory=list)
    locals: list[Local] = field(default_factory=list)
    locks: list = field(default_factory=list)  # rust_cfg.RHolder, indexed by the lock flow's holder numbers
    lockflow: Any = None  # cpp_locksets.LockFlow (bodies keyed by closure index, None: the function's own)
    checks: list[Check] = field(default_factory=list)
    closures: list[Closure] = field(default_factory=list)
    exits: list[tuple[str, int]] = field(default_factory=list)  # ("return"|"break"|"continue"|"?"|"panic", byte)
    returns: list[tuple[int, int]] = field(default_factory=list)  # values leaving the function
    uses: dict[str, list[int]] = field(default_factory=dict)  # an array("q") per name once extracted
    derefs: list[tuple[str, int]] = field(default_factory=list)  # (`p`, byte) for `*p`, `p.as_ref()`
    # byte of `s` in a field read `s.f` (not a method call `s.f()`) -> `f`: only that field moves out
    projections: dict[int, str] = field(default_factory=dict)

    def events_in(self, start: int, end: int, kind: str | None = None) -> list[Event]:
        return [e for e in self.events if start <= e.span.start_byte < end and (kind is None or e.kind == kind)]

    def uses_in(self, name: str, start: int, end: int) -> list[int]:
        return [b for b in self.uses.get(name, ()) if start <= b < end]

    def exits_in(self, start: int, end: int) -> list[tuple[str, int]]:
        return [x for x in self.exits if start <= x[1] < end]

    def local(self, name: str, before: int) -> "Local | None":
        """The binding of `name` in scope at `before` (the latest one that starts earlier; a `let`
        is visible after its statement, so `let buf = f(buf);` reads the outer `buf`)."""
        best = None
        for lc in self.locals:
            visible_from = lc.span.end_byte if lc.kind == "let" else lc.span.start_byte
            if lc.name == name and visible_from <= before <= lc.scope_end:
                if best is None or lc.span.start_byte > best.span.start_byte:
                    best = lc
        return best


@dataclass(slots=True)
class RStruct:
    name: str
    span: Span
    fields: list[tuple[str, str]]  # (name, type text); tuple structs use "0", "1", ...
    field_spans: list[Span] = field(default_factory=list)  # parallel to `fields`


@dataclass(slots=True)
class RImpl:
    type: str  # `Handle` in `impl<T> Foo for Handle<T>`
    trait: str | None  # last path segment: `Send`, `Drop`
    is_unsafe: bool
    span: Span


# --- helpers ----------------------------------------------------------------------------------

_WS = re.compile(r"\s+")
_PTR_ALIAS = re.compile(rb"^[ \t]*(?:pub(?:\([^)]*\))?[ \t]+)?type[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(\*[ \t]*(?:const|mut)\b[^;]*);", re.MULTILINE)
_LONE_SPACE = re.compile(r"(?<=\W) | (?=\W)")
_TURBOFISH = re.compile(r"::<[^()]*?>")


def _t(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def compact(s: str) -> str:
    """Whitespace normalised: a space survives only between two word characters
    (`&mut x`, `as *mut T` -> `as*mut T`)."""
    return _LONE_SPACE.sub("", _WS.sub(" ", s)).strip()


def _compact(node, limit: int = 200) -> str:
    if node is None:
        return ""
    b = node.text
    if len(b) > limit * 4:
        b = b[: limit * 4]
    return compact(b.decode("utf-8", "replace"))[:limit]


def _path_text(node) -> str:
    s = _compact(node, 300)
    if "<" in s:
        s = _TURBOFISH.sub("", s)
        s = re.sub(r"<[^()]*?>(?=::)", "", s)  # Vec::<u8>::from_raw_parts, Box<T>::from_raw
    return s


def _orderings(args_node) -> tuple[str, ...]:
    out = []
    if args_node is None:
        return ()
    for a in args_node.named_children:
        t = a.type
        if t == "scoped_identifier":
            name = a.child_by_field_name("name")
            nt = _t(name)
            if nt in ORDERINGS:
                out.append(nt)
                continue
        elif t == "identifier":
            nt = _t(a)
            if nt in ORDERINGS:
                out.append(nt)
                continue
            if "order" in nt.lower():
                out.append("?")
        elif t == "field_expression":
            if "order" in _t(a.child_by_field_name("field")).lower():
                out.append("?")
    return tuple(out)


def _args(args_node) -> tuple[str, ...]:
    if args_node is None:
        return ()
    return tuple(_compact(a) for a in args_node.named_children if a.type not in ("line_comment", "block_comment"))


def _nested_comment_end(seg: bytes) -> int | None:
    """End offset of the (nested) block comment starting at seg[0:2] == b'/*'."""
    depth = 0
    i = 0
    n = len(seg)
    while i < n - 1:
        two = seg[i:i + 2]
        if two == b"/*":
            depth += 1
            i += 2
            continue
        if two == b"*/":
            depth -= 1
            i += 2
            if depth == 0:
                return i
            continue
        i += 1
    return None


def safety_comment_above(lines: list[bytes], target_row: int, floor_row: int) -> bool:
    """clippy's `text_has_safety_comment`: do the lines directly above `target_row` (and below
    `floor_row`) end in a comment containing `SAFETY:` (any case)?

    Blank lines are skipped. If the nearest non-blank line is a `//` comment, the run of `//`
    lines above it is searched; otherwise the nearest line starting with `/*` must open a block
    comment that contains `SAFETY:` and is followed only by whitespace up to `target_row`.
    """

    def nonblank():
        r = target_row - 1
        while r > floor_row and r >= 0:
            s = lines[r].strip() if r < len(lines) else b""
            if s:
                yield r, s
            r -= 1

    it = nonblank()
    first = next(it, None)
    if first is None:
        return False
    row, s = first
    if s.startswith(b"//"):
        in_code = False
        while True:
            stripped = s
            while stripped.startswith(b"///"):
                stripped = stripped[3:]
            if stripped.strip().startswith(b"```"):
                in_code = not in_code
            if b"SAFETY:" in s.upper() and not in_code:
                return True
            nxt = next(it, None)
            if nxt is None or not nxt[1].startswith(b"//"):
                return False
            row, s = nxt
    while True:
        if s.startswith(b"/*"):
            seg = b"\n".join(lines[row:target_row]).lstrip()
            end = _nested_comment_end(seg)
            if end is None:
                return False
            return b"SAFETY:" in seg[:end].upper() and not seg[end:].strip()
        nxt = next(it, None)
        if nxt is None:
            return False
        row, s = nxt


def _first_attr_row(node) -> int:
    """Row of the first attribute directly attached before `node` (its own row if none)."""
    row = node.start_point[0]
    prev = node.prev_named_sibling
    while prev is not None and prev.type in ("attribute_item", "line_comment", "block_comment"):
        if prev.type == "attribute_item":
            row = prev.start_point[0]
        prev = prev.prev_named_sibling
    return row


def _is_tail_statement(stmt) -> bool:
    """An expression_statement without `;` that ends its block (`unsafe { .. }` / `if ..` as the
    block's value)."""
    if stmt.type != "expression_statement" or stmt.child_count == 0 or stmt.children[-1].type == ";":
        return False
    nxt = stmt.next_named_sibling
    while nxt is not None and nxt.type in ("line_comment", "block_comment"):
        nxt = nxt.next_named_sibling
    return nxt is None and stmt.parent is not None and stmt.parent.type == "block"


def _head_span(node) -> Span:
    """From the node's start to the end of its first line (what clippy underlines)."""
    (sr, sc), er = node.start_point, node.end_point[0]
    if er == sr:
        return Span.of(node)
    nl = node.text.find(b"\n")
    return Span(node.start_byte, node.start_byte + nl, sr, sc, sr, sc + nl)


def _callee(call):
    """(form, path, name, owner, recv_node) of a call_expression."""
    fn = call.child_by_field_name("function")
    if fn is None:
        return "fn", "", "", "", None
    t = fn.type
    if t == "generic_function":
        fn = fn.child_by_field_name("function") or fn
        t = fn.type
    if t == "field_expression":
        name = _t(fn.child_by_field_name("field"))
        return "method", name, name, "", fn.child_by_field_name("value")
    path = _path_text(fn)
    parts = path.split("::")
    name = parts[-1]
    owner = parts[-2] if len(parts) >= 2 else ""
    return "fn", path, name, owner, None


def _pattern_names(pat) -> list[str]:
    """Binding names in a pattern (lower-case identifiers that are not paths)."""
    if pat is None:
        return []
    if pat.type == "identifier":
        return [_t(pat)]
    out = []
    stack = [pat]
    while stack:
        n = stack.pop()
        t = n.type
        if t == "identifier":
            parent = n.parent
            if parent is not None and parent.type in ("scoped_identifier", "tuple_struct_pattern") and parent.child_by_field_name("type") == n:
                continue
            s = _t(n)
            if s[:1].islower() or s[:1] == "_":
                out.append(s)
            continue
        if t in ("scoped_identifier", "scoped_type_identifier", "type_identifier"):
            continue
        stack.extend(n.named_children)
    return out


# --- the walk ---------------------------------------------------------------------------------

class _Ctx:
    __slots__ = ("flow", "unsafe", "closure", "floor_row")

    def __init__(self, flow, unsafe, closure, floor_row):
        self.flow = flow
        self.unsafe = unsafe
        self.closure = closure
        self.floor_row = floor_row


class _Extractor:
    def __init__(self, data: bytes, rust, foreign_guards=None):
        self.data = data
        self.rust = rust
        self.lines = data.split(b"\n")
        self.fn_by_start = {f.span.start_byte: i for i, f in enumerate(rust.functions)}
        self.nodes: list = []
        self.ctxs: list[_Ctx] = []
        # lock flow inputs: per flow id, the acquisitions, the calls that may drop a guard, bodies
        self.acquisitions: dict[int, list] = {}
        self.drops: dict[int, list] = {}
        self.bodies: dict[tuple[int, int], Any] = {}
        # Same-file functions declared to return a guard (not the guard types' own methods, nor
        # functions that take a guard and return a transformed one: `MutexGuard::map(s, f)`),
        # and functions that consume a guard (take one by value, return none).
        self.guard_fns = {}
        self.guard_sinks = set()
        for f in rust.functions:
            takes = any(p.type == "Self" and f.impl_type and _GUARD_RETURN.search(f.impl_type)
                        or p.type and not p.type.startswith("&") and _GUARD_RETURN.search(p.type) for p in f.params)
            if f.return_type and _GUARD_RETURN.search(f.return_type):
                if not takes and not (f.impl_type and _GUARD_RETURN.search(f.impl_type)):
                    self.guard_fns[f.name] = f
            elif takes:
                self.guard_sinks.add(f.name)
        # Guard helpers other files define (`guard_helpers`, merged by `project_guard_helpers`):
        # name -> (impl type or None, takes self, mutex). A name this file defines is its own.
        own = {f.name for f in rust.functions}
        self.foreign_guards = {k: v for k, v in (foreign_guards or {}).items() if k not in own and k not in LOCK_METHODS}

    # -- climbing helpers (self.nodes holds the ancestors of the node being entered) --

    def _stmt_range(self, node) -> tuple[int, int]:
        child = node
        for i in range(len(self.nodes) - 1, -1, -1):
            p = self.nodes[i]
            if p.type in ("block", "declaration_list", "source_file"):
                return child.start_byte, child.end_byte
            child = p
        return node.start_byte, node.end_byte

    def _fate(self, node) -> tuple[str, str]:
        child = node
        nodes = self.nodes
        i = len(nodes) - 1
        while i >= 0:
            p = nodes[i]
            t = p.type
            if t in ("unsafe_block", "parenthesized_expression", "try_expression", "type_cast_expression",
                     "reference_expression", "unary_expression", "else_clause", "match_arm", "match_block"):
                pass
            elif t == "block":
                gp = nodes[i - 1] if i > 0 else None
                if (child.type == "expression_statement" and not _is_tail_statement(child)) or \
                        child.type == "let_declaration" or child.type.endswith("_item"):
                    return "other", "block"
                if gp is not None and gp.type == "function_item":
                    return "return", ""
                if gp is not None and gp.type == "closure_expression":
                    return "closure_return", ""
            elif t == "if_expression" or t == "match_expression":
                if p.child_by_field_name("condition") == child or p.child_by_field_name("value") == child:
                    return "cond", ""
            elif t == "field_expression":
                gp = nodes[i - 1] if i > 0 else None
                name = _t(p.child_by_field_name("field"))
                if gp is not None and gp.type == "call_expression":
                    if name in VALUE_PASS_METHODS:
                        child = gp
                        i -= 2
                        continue
                    return "method", name
                return "field_access", name
            elif t == "arguments":
                gp = nodes[i - 1] if i > 0 else None
                if gp is not None and gp.type == "call_expression":
                    return "arg", _callee(gp)[1]
                return "other", t
            elif t == "let_declaration":
                pat = p.child_by_field_name("pattern")
                name = _t(pat)
                return ("let_" if name == "_" else "let"), name
            elif t == "expression_statement":
                if not _is_tail_statement(p):
                    return "stmt", ""
            elif t == "return_expression":
                return "return", ""
            elif t == "field_initializer" or t == "shorthand_field_initializer":
                return "field", _t(p.child_by_field_name("field"))
            elif t in ("assignment_expression", "compound_assignment_expr"):
                return "assign", _compact(p.child_by_field_name("left"))
            elif t in ("array_expression", "tuple_expression", "struct_expression", "field_initializer_list"):
                return "stored", t
            elif t == "closure_expression":
                return "closure_return", ""
            elif t == "call_expression":
                # node is the callee of a call: `(f)(x)`; rare
                return "other", t
            else:
                return "other", t
            child = p
            i -= 1
        return "other", ""

    def _statement_for_unsafe(self, node):
        """clippy's `find_unsafe_block_parent_in_expr`: the let / assignment / statement /
        const / static whose line may carry the SAFETY comment instead of the block's own."""
        child = node
        nodes = self.nodes
        for i in range(len(nodes) - 1, -1, -1):
            p = nodes[i]
            t = p.type
            if t in ("let_declaration", "assignment_expression", "static_item", "const_item"):
                return p
            if t in ("block", "expression_statement", "match_arm"):
                if child.type in BRANCHY:
                    return None
                return p if t == "expression_statement" else child
            if t in ("source_file", "declaration_list", "function_item", "token_tree", "attribute_item",
                     "closure_parameters", "parameters", "field_declaration_list"):
                return None
            child = p
        return None

    # -- sites --

    def _unsafe_block(self, node, ctx: _Ctx) -> None:
        floor = ctx.floor_row
        row = node.start_point[0]
        where = ""
        if safety_comment_above(self.lines, row, floor):
            where = "above"
        else:
            stmt = self._statement_for_unsafe(node)
            if stmt is not None:
                srow = _first_attr_row(stmt)
                if srow < row and safety_comment_above(self.lines, srow, floor):
                    where = "statement"
        fn = self.rust.functions[ctx.flow.fn].qualname if ctx.flow is not None else None
        self.rust.unsafe_sites.append(UnsafeSite("block", Span.of(node), _head_span(node), bool(where), where, fn, "unsafe block"))

    def _unsafe_item(self, node, kind: str, label: str, ctx: _Ctx) -> None:
        # The comment must sit between the previous item (or the container's start) and this one.
        prev = node.prev_named_sibling
        while prev is not None and prev.type in ("attribute_item", "line_comment", "block_comment"):
            prev = prev.prev_named_sibling
        if prev is not None:
            floor = prev.end_point[0]
        else:
            parent = node.parent
            floor = parent.start_point[0] if parent is not None and parent.type != "source_file" else -1
        row = node.start_point[0]
        where = ""
        if safety_comment_above(self.lines, row, floor):
            where = "above"
        else:
            arow = _first_attr_row(node)
            if arow < row and safety_comment_above(self.lines, arow, floor):
                where = "statement"
        if kind == "fn" and not where:
            fi = self.fn_by_start.get(node.start_byte)
            if fi is not None and self.rust.functions[fi].safety_doc:
                where = "doc"
        fn = self.rust.functions[ctx.flow.fn].qualname if ctx.flow is not None else None
        self.rust.unsafe_sites.append(UnsafeSite(kind, Span.of(node), _head_span(node), bool(where), where, fn, label))

    def _token_tree_unsafe(self, tt, ctx: _Ctx) -> None:
        """`unsafe { .. }` / `unsafe impl` written inside a macro: a `macro_rules!` body (the
        comment must follow clippy's rule inside the definition) or a macro call's arguments
        (`println!("{}", unsafe { *p })`)."""
        kids = tt.children
        in_def = None
        stmt = None
        for i in range(len(self.nodes) - 1, -1, -1):
            a = self.nodes[i]
            if a.type == "macro_definition":
                in_def = a
                break
            if a.type == "macro_invocation":
                m = a.child_by_field_name("macro")
                if _t(m).rsplit("::", 1)[-1] in ("quote", "quote_spanned", "parse_quote", "parse_quote_spanned"):
                    return  # code generated by a proc macro, not compiled here
                if stmt is None:
                    # the statement holding the invocation
                    child = a
                    for j in range(i - 1, -1, -1):
                        if self.nodes[j].type in ("block", "declaration_list", "source_file"):
                            stmt = child
                            break
                        child = self.nodes[j]
        for k, c in enumerate(kids):
            if c.type != "unsafe" or k + 1 >= len(kids):
                continue
            nxt = kids[k + 1]
            if nxt.type == "token_tree" and nxt.text.startswith(b"{"):
                kind, label = "block", "unsafe block"
            elif nxt.type == "impl":
                words = []
                for w in kids[k + 2:k + 12]:
                    if w.type == "token_tree":
                        break
                    words.append(_t(w))
                kind, label = "impl", "unsafe impl " + " ".join(words)
            else:
                continue
            row = c.start_point[0]
            floor = in_def.start_point[0] if in_def is not None else ctx.floor_row
            where = ""
            if safety_comment_above(self.lines, row, floor):
                where = "above"
            elif in_def is None and stmt is not None:
                srow = _first_attr_row(stmt)
                if srow < row and safety_comment_above(self.lines, srow, floor):
                    where = "statement"
            end = nxt.end_byte if kind == "block" else c.end_byte
            (sr, sc) = c.start_point
            er, ec = nxt.end_point if kind == "block" else c.end_point
            span = Span(c.start_byte, end, sr, sc, er, ec)
            head = span
            if er != sr:
                nl = self.data.find(b"\n", c.start_byte)
                head = Span(c.start_byte, nl, sr, sc, sr, sc + (nl - c.start_byte))
            fn = self.rust.functions[ctx.flow.fn].qualname if ctx.flow is not None else None
            where_label = " in a macro definition" if in_def is not None else ""
            self.rust.unsafe_sites.append(UnsafeSite(kind, span, head, bool(where), where, fn, label + where_label))

    # -- events --

    def _event(self, flow: Flow, ctx: _Ctx, kind: str, node, *, name="", recv="", owner="", args=(),
               orderings=(), with_fate=False) -> Event:
        ev = Event(kind, Span.of(node), name=name, recv=recv, owner=owner, args=args, orderings=orderings,
                   stmt=self._stmt_range(node), in_unsafe=ctx.unsafe, closure=ctx.closure)
        if with_fate:
            ev.fate, ev.fate_name = self._fate(node)
        flow.events.append(ev)
        return ev

    def _call(self, node, ctx: _Ctx) -> None:
        flow = ctx.flow
        form, path, name, owner, recv_node = _callee(node)
        if id(flow) in self.acquisitions:
            for nm, how in drop_targets(node, self.guard_sinks):
                self.drops.setdefault(id(flow), []).append((ctx.closure, node, nm, how))
        if name in self.guard_fns and name not in LOCK_METHODS:
            self.acquisitions.setdefault(id(flow), []).append((ctx.closure, node, "", name, name))
        elif name in self.foreign_guards:
            mutex = _foreign_guard_call(name, self.foreign_guards[name], form, owner, recv_node)
            if mutex is not None:
                self.acquisitions.setdefault(id(flow), []).append((ctx.closure, node, mutex, name, name))
        args_node = node.child_by_field_name("arguments")
        nargs = len([a for a in args_node.named_children if not a.type.endswith("comment")]) if args_node is not None else 0
        ev = None
        if form == "method":
            recv = _compact(recv_node)
            if name in ATOMIC_METHODS:
                ords = _orderings(args_node)
                if ords:
                    ev = self._event(flow, ctx, "atomic", node, name=name, recv=recv, args=_args(args_node),
                                     orderings=ords, with_fate=True)
            elif name in PTR_ARITH and ctx.unsafe and nargs == 1:
                ev = self._event(flow, ctx, "ptr_arith", node, name=name, recv=recv, args=_args(args_node))
            elif name == "set_len" and nargs == 1 and ctx.unsafe:
                ev = self._event(flow, ctx, "set_len", node, name=name, recv=recv, args=_args(args_node))
            elif name in ("copy_to_nonoverlapping", "copy_from_nonoverlapping", "copy_to", "copy_from") and nargs == 2:
                ev = self._event(flow, ctx, "copy", node, name=name, recv=recv, args=_args(args_node))
            elif name in ("as_ptr", "as_mut_ptr"):
                ev = self._event(flow, ctx, "as_ptr", node, name=name, recv=recv, with_fate=True)
            elif name in LOCK_METHODS and nargs == 0 and not (ctx.unsafe and name in ("read", "write")):
                ev = self._event(flow, ctx, "lock", node, name=name, recv=recv, with_fate=True)
                self.acquisitions.setdefault(id(flow), []).append((ctx.closure, node, recv, name, ""))
            elif name in ("read", "read_volatile", "read_unaligned") and ctx.unsafe and nargs == 0:
                ev = self._event(flow, ctx, "ptr_read", node, name=name, recv=recv)
            elif name in ("write", "write_volatile", "write_unaligned") and ctx.unsafe and nargs == 1:
                ev = self._event(flow, ctx, "ptr_write", node, name=name, recv=recv)
            elif name in ("wait", "wait_while", "wait_timeout", "wait_timeout_while", "wait_until") and nargs >= 1:
                ev = self._event(flow, ctx, "condvar_wait", node, name=name, recv=recv)
            elif name == "join" and nargs == 0:
                ev = self._event(flow, ctx, "join", node, name=name, recv=recv)
            elif name == "into_raw_fd":
                ev = self._event(flow, ctx, "into_raw_fd", node, name=name, recv=recv)
            elif name in ("take", "replace") and nargs <= 1:
                ev = self._event(flow, ctx, "opt_take", node, name=name, recv=recv)
            elif name in ("call_once", "call_once_force", "get_or_init", "get_or_try_init"):
                ev = self._event(flow, ctx, "once", node, name=name, recv=recv)
            elif name in BOUND_METHODS:
                ev = self._event(flow, ctx, "bound", node, name=name, recv=recv)
                flow.checks.append(Check("bound", node.start_byte, node.end_byte, _compact(node, 120)))
            elif name == "spawn" or name == "spawn_blocking":
                ev = self._event(flow, ctx, "spawn", node, name=name, recv=recv)
            elif name in ("as_ref", "as_mut") and recv_node is not None and recv_node.type == "identifier":
                flow.derefs.append((recv, node.start_byte))
            if ev is None:
                # a collection's key is kept for lookups (LL107: a cache keyed by a caller's fd);
                # a call of one of self's own methods keeps its arguments and fate (LL107 follows
                # an fd through helpers that build an owner from it)
                own = recv == "self" and nargs > 0
                self._event(flow, ctx, "method", node, name=name, recv=recv,
                            args=_args(args_node) if (name in KEYED_METHODS or own) and nargs else (),
                            with_fate=own)
            return
        # path calls
        base = path.split("::")
        if name == "from_raw" and owner in ("Box", "Arc", "Rc", "CString", "Weak", "NonNull"):
            kind = "from_raw" if owner != "NonNull" else "call"
        elif name == "from_raw_parts" and owner in ("Vec", "String"):
            kind = "from_raw"
        elif name in ("from_raw_parts", "from_raw_parts_mut") and owner in ("slice", "", "str"):
            kind = "raw_slice"
        elif name in ("into_raw", "leak") and owner in ("Box", "Arc", "Rc", "CString", "Vec", "String"):
            kind = "into_raw"
        elif name == "forget" and owner in ("mem", ""):
            kind = "forget"
        elif owner == "ManuallyDrop" and name in ("take", "drop", "new", "into_inner"):
            kind = "md_" + name
        elif name == "drop_in_place":
            kind = "drop_in_place"
        elif name == "drop" and owner in ("mem", "") and len(base) <= 3:
            kind = "drop"
        elif name in ("copy_nonoverlapping", "copy", "write_bytes") and (owner in ("ptr", "intrinsics") or (owner == "" and name == "copy_nonoverlapping")):
            kind = "copy"
        elif name == "from_raw_fd":
            kind = "from_raw_fd"
        elif name == "borrow_raw":
            kind = "borrow_raw"
        elif name in ("spawn", "spawn_blocking", "spawn_local", "scope") and (owner in SPAWN_OWNERS or owner == ""):
            kind = "spawn" if (owner or name == "spawn") else "call"
        elif name in ("dealloc", "free") and owner in ("alloc", "libc", "", "ffi"):
            kind = "dealloc"
        elif owner == "ptr" and name in ("read", "read_volatile", "read_unaligned"):
            kind = "ptr_read"
        elif owner == "ptr" and name in ("write", "write_volatile", "write_unaligned"):
            kind = "ptr_write"
        elif name in ("fence", "compiler_fence"):
            kind = "fence"
        elif owner == "mem" and name in ("take", "replace", "swap"):
            kind = "opt_take"
        elif name in ("min", "max") and owner in ("cmp", ""):
            kind = "bound"
            flow.checks.append(Check("bound", node.start_byte, node.end_byte, _compact(node, 120)))
        elif name in ("exit", "abort") and owner in ("process", "libc"):
            flow.exits.append(("panic", node.start_byte))
            kind = "call"
        else:
            kind = "call"
        if kind == "call":
            # arguments kept for the calls that install a handler (the thread model reads them) and,
            # with where the result goes, for any call with arguments: LL107 follows an fd through
            # project helpers that wrap it in an owner
            self._event(flow, ctx, "call", node, name=path, owner=owner,
                        args=_args(args_node) if nargs else (), with_fate=nargs > 0)
            return
        ords = _orderings(args_node) if kind == "fence" else ()
        self._event(flow, ctx, kind, node, name=path, owner=owner, args=_args(args_node), orderings=ords,
                    with_fate=kind in ("from_raw", "md_take", "from_raw_fd", "raw_slice", "into_raw", "md_new"))

    def _ptr_cast(self, node, ctx: _Ctx) -> None:
        """`p.add(off) as *const T`: a pointer moved by an offset, then retyped (LL304 asks whether
        `T`'s alignment holds there). name: `T`; recv: the pointer moved; args: (the offset,);
        fate "deref" when it is dereferenced on the spot (`*(..)`, `&*(..)`)."""
        ty = node.child_by_field_name("type")
        val = node.child_by_field_name("value")
        while val is not None and val.type == "parenthesized_expression" and val.named_children:
            val = val.named_children[0]
        if ty is None or ty.type != "pointer_type" or val is None:
            return
        pointee = _compact(ty.child_by_field_name("type"))
        if val.type == "identifier":  # `let p = base.add(off); .. p as *const T`: the rule follows `p`
            recv, args = _t(val), ()
        elif val.type == "call_expression":
            fn = val.child_by_field_name("function")
            if fn is None or fn.type != "field_expression" or _t(fn.child_by_field_name("field")) not in PTR_OFFSETS:
                return
            recv, args = _compact(fn.child_by_field_name("value")), _args(val.child_by_field_name("arguments"))
        else:
            return
        ev = self._event(ctx.flow, ctx, "ptr_cast", node, name=pointee, recv=recv, args=args, with_fate=True)
        p = self.nodes[-1] if self.nodes else None
        i = len(self.nodes) - 1
        while p is not None and p.type == "parenthesized_expression" and i > 0:
            i -= 1
            p = self.nodes[i]
        if p is not None and p.type == "unary_expression" and p.text.startswith(b"*"):
            ev.fate, ev.fate_name = "deref", ""

    def _macro(self, node, ctx: _Ctx) -> None:
        flow = ctx.flow
        m = node.child_by_field_name("macro")
        name = _path_text(m).rsplit("::", 1)[-1]
        tt = next((c for c in node.named_children if c.type == "token_tree"), None)
        if name in ("assert", "assert_eq", "assert_ne"):
            flow.checks.append(Check("assert", node.start_byte, node.end_byte, _compact(node, 120)))
        elif name.startswith("debug_assert"):
            flow.checks.append(Check("debug_assert", node.start_byte, node.end_byte, _compact(node, 120)))
        elif name in PANIC_MACROS:
            flow.exits.append(("panic", node.start_byte))
        elif name in ("addr_of_mut", "addr_of"):
            inner = _compact(tt)[1:-1] if tt is not None else ""
            # a raw pointer, not a `&mut` borrow: no reference to the place is created
            self._event(flow, ctx, "raw_mut" if name == "addr_of_mut" else "addr_of", node, name=inner, recv=inner)
        elif name in ("ready", "try_ready") and tt is not None:
            flow.exits.append(("?", node.start_byte))

    # -- declarations --

    def _struct(self, node) -> None:
        n = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        fields: list[tuple[str, str]] = []
        spans: list[Span] = []
        if body is not None:
            if body.type == "field_declaration_list":
                for f in body.named_children:
                    if f.type == "field_declaration":
                        fields.append((_t(f.child_by_field_name("name")), _compact(f.child_by_field_name("type"))))
                        spans.append(Span.of(f))
            elif body.type == "ordered_field_declaration_list":
                i = 0
                for f in body.named_children:
                    if f.type in ("line_comment", "block_comment", "attribute_item", "visibility_modifier"):
                        continue
                    fields.append((str(i), _compact(f)))
                    spans.append(Span.of(f))
                    i += 1
        self.rust.structs.append(RStruct(_t(n), Span.of(node), fields, spans))

    def _impl(self, node, ctx: _Ctx) -> None:
        ty = node.child_by_field_name("type")
        tr = node.child_by_field_name("trait")
        tname = _path_text(ty).split("<", 1)[0].rsplit("::", 1)[-1] if ty is not None else ""
        trname = _path_text(tr).split("<", 1)[0].rsplit("::", 1)[-1] if tr is not None else None
        is_unsafe = any(c.type == "unsafe" for c in node.children)
        self.rust.impls.append(RImpl(tname, trname, is_unsafe, Span.of(node)))
        if is_unsafe:
            label = f"unsafe impl {trname} for {tname}" if trname else f"unsafe impl {tname}"
            self._unsafe_item(node, "impl", label, ctx)

    def _let(self, node, ctx: _Ctx) -> None:
        flow = ctx.flow
        pat = node.child_by_field_name("pattern")
        val = node.child_by_field_name("value")
        alt = node.child_by_field_name("alternative")
        ty = node.child_by_field_name("type")
        scope_end = self._scope_end(node)
        mutable = any(c.type == "mutable_specifier" for c in node.children)
        names = _pattern_names(pat)
        if pat is not None and pat.type == "mut_pattern":
            mutable = True
        vr = (val.start_byte, val.end_byte) if val is not None else None
        vt = _compact(val) if val is not None else ""
        for nm in names:
            flow.locals.append(Local(nm, "let", Span.of(node), vr, scope_end, _compact(ty), mutable, vt))
        if alt is not None and val is not None:
            flow.conds.append(Cond("let_else", Span.of(node), (val.start_byte, val.end_byte), (alt.start_byte, alt.end_byte),
                                   None, False, scope_end))

    def _scope_end(self, node) -> int:
        for i in range(len(self.nodes) - 1, -1, -1):
            p = self.nodes[i]
            if p.type in ("block", "source_file"):
                return p.end_byte
        return node.end_byte

    def _cond_node(self, node, ctx: _Ctx) -> None:
        flow = ctx.flow
        t = node.type
        if t == "if_expression":
            c = node.child_by_field_name("condition")
            body = node.child_by_field_name("consequence")
            alt = node.child_by_field_name("alternative")
            if c is None or body is None:
                return
            neg = c.type == "unary_expression" and c.text.startswith(b"!")
            flow.conds.append(Cond("if", Span.of(node), (c.start_byte, c.end_byte), (body.start_byte, body.end_byte),
                                   (alt.start_byte, alt.end_byte) if alt is not None else None, neg,
                                   self._scope_end(node)))
            self._let_condition(c, body, flow)
        elif t == "while_expression":
            c = node.child_by_field_name("condition")
            body = node.child_by_field_name("body")
            if c is None or body is None:
                return
            neg = c.type == "unary_expression" and c.text.startswith(b"!")
            flow.conds.append(Cond("while", Span.of(node), (c.start_byte, c.end_byte), (body.start_byte, body.end_byte), None, neg))
            flow.loops.append(Loop("while", Span.of(node), (c.start_byte, c.end_byte), (body.start_byte, body.end_byte)))
            self._let_condition(c, body, flow)
        elif t == "loop_expression":
            body = node.child_by_field_name("body")
            if body is not None:
                flow.loops.append(Loop("loop", Span.of(node), None, (body.start_byte, body.end_byte)))
        elif t == "for_expression":
            body = node.child_by_field_name("body")
            val = node.child_by_field_name("value")
            pat = node.child_by_field_name("pattern")
            if body is None:
                return
            vr = (val.start_byte, val.end_byte) if val is not None else None
            flow.loops.append(Loop("for", Span.of(node), vr, (body.start_byte, body.end_byte)))
            for nm in _pattern_names(pat):
                flow.locals.append(Local(nm, "for", Span.of(pat), vr, body.end_byte, "", False, _compact(val)))
        elif t == "match_expression":
            val = node.child_by_field_name("value")
            body = node.child_by_field_name("body")
            if val is not None and body is not None:
                flow.conds.append(Cond("match", Span.of(node), (val.start_byte, val.end_byte), (body.start_byte, body.end_byte)))
        elif t == "match_arm":
            pat = node.child_by_field_name("pattern")
            val = node.child_by_field_name("value")
            guard = pat.child_by_field_name("condition") if pat is not None else None
            if guard is not None and val is not None:
                flow.conds.append(Cond("guard", Span.of(node), (guard.start_byte, guard.end_byte), (val.start_byte, val.end_byte)))

    def _let_condition(self, cond, body, flow: Flow) -> None:
        stack = [cond]
        while stack:
            n = stack.pop()
            if n.type == "let_condition":
                pat = n.child_by_field_name("pattern")
                val = n.child_by_field_name("value")
                vr = (val.start_byte, val.end_byte) if val is not None else None
                for nm in _pattern_names(pat):
                    flow.locals.append(Local(nm, "iflet", Span.of(n), vr, body.end_byte, "", False, _compact(val)))
            elif n.type in ("let_chain", "binary_expression", "parenthesized_expression"):
                stack.extend(n.named_children)

    # -- main loop --

    def run(self, root) -> None:
        cur = root.walk()
        nodes, ctxs = self.nodes, self.ctxs
        enter = self._enter
        base = _Ctx(None, False, -1, -1)
        while True:
            n = cur.node
            if n.is_named or n.child_count:
                ctx = enter(n, ctxs[-1] if ctxs else base)
                nodes.append(n)
                ctxs.append(ctx)
                if cur.goto_first_child():
                    continue
                nodes.pop()
                ctxs.pop()
            while not cur.goto_next_sibling():
                if not cur.goto_parent():
                    self._finish()
                    return
                nodes.pop()
                ctxs.pop()

    def _leave(self, node) -> None:
        pass

    def _enter(self, n, ctx: _Ctx) -> _Ctx:
        if not n.is_named:
            return ctx
        t = n.type
        flow = ctx.flow
        if t == "identifier" or t == "self":
            if flow is not None:
                flow.uses.setdefault(_t(n), []).append(n.start_byte)
            return ctx
        if t == "function_item":
            fi = self.fn_by_start.get(n.start_byte)
            if fi is None:
                return _Ctx(None, False, -1, n.start_point[0])
            fnf = self.rust.functions[fi]
            body = n.child_by_field_name("body")
            newflow = None
            if body is not None:
                newflow = Flow(fi, (body.start_byte, body.end_byte))
                self.rust.flows.append(newflow)
                self.bodies[(id(newflow), -1)] = body
                # the tail expression leaves the function
                last = None
                for c in body.named_children:
                    if not c.type.endswith("comment"):
                        last = c
                if last is not None and (last.type not in ("expression_statement", "let_declaration")
                                         and not last.type.endswith("_item") or _is_tail_statement(last)):
                    newflow.returns.append((last.start_byte, last.end_byte))
            nctx = _Ctx(newflow, fnf.is_unsafe, -1, n.start_point[0])
            if fnf.is_unsafe:
                self._unsafe_item(n, "fn", f"unsafe fn {fnf.name}", ctx)
            return nctx
        if t == "impl_item":
            self._impl(n, ctx)
            return ctx
        if t == "trait_item":
            if any(c.type == "unsafe" for c in n.children):
                self._unsafe_item(n, "trait", f"unsafe trait {_t(n.child_by_field_name('name'))}", ctx)
            return ctx
        if t == "struct_item":
            self._struct(n)
            return ctx
        if t == "unsafe_block":
            self._unsafe_block(n, ctx)
            return _Ctx(flow, True, ctx.closure, ctx.floor_row)
        if t == "token_tree":
            if b"unsafe" in n.text:
                self._token_tree_unsafe(n, ctx)
            return ctx
        if flow is None:
            if t in ("static_item", "const_item", "mod_item"):
                return _Ctx(None, ctx.unsafe, -1, ctx.floor_row)
            return ctx
        # inside a function body
        if t == "call_expression":
            self._call(n, ctx)
        elif t == "macro_invocation":
            self._macro(n, ctx)
        elif t == "let_declaration":
            self._let(n, ctx)
        elif t in ("if_expression", "while_expression", "loop_expression", "for_expression", "match_expression", "match_arm"):
            self._cond_node(n, ctx)
        elif t == "binary_expression":
            op = n.child_by_field_name("operator")
            ops = _t(op)
            if ops in COMPARISON_OPS:
                flow.checks.append(Check("cmp", n.start_byte, n.end_byte, _compact(n, 120)))
            elif ops in ("%", "&"):
                flow.checks.append(Check("mask", n.start_byte, n.end_byte, _compact(n, 120)))
        elif t in ("assignment_expression", "compound_assignment_expr"):
            left = n.child_by_field_name("left")
            self._event(flow, ctx, "assign", n, name=t[:6], recv=_compact(left))
            if left is not None and left.type == "unary_expression":
                flow.derefs.append((_compact(left)[1:].strip("()"), n.start_byte))
        elif t == "reference_expression":
            if any(c.type == "mutable_specifier" for c in n.children):
                val = n.child_by_field_name("value")
                raw = n.text.startswith(b"&raw")  # `&raw mut X`: a raw pointer, like addr_of_mut!
                self._event(flow, ctx, "raw_mut" if raw else "ref_mut", n, name=_compact(val), recv=_compact(val))
        elif t == "unary_expression":
            if n.text.startswith(b"*"):
                arg = n.named_children[0] if n.named_children else None
                while arg is not None and arg.type == "parenthesized_expression" and arg.named_children:
                    arg = arg.named_children[0]
                if arg is not None and arg.type in ("identifier", "self"):
                    flow.derefs.append((_t(arg), n.start_byte))
        elif t == "type_cast_expression":
            self._ptr_cast(n, ctx)
        elif t == "field_expression":
            val = n.child_by_field_name("value")
            par = n.parent
            if val is not None and val.type == "identifier" and not (
                    par is not None and par.type == "call_expression" and par.child_by_field_name("function") == n):
                flow.projections[val.start_byte] = _t(n.child_by_field_name("field"))
        elif t == "return_expression":
            flow.exits.append(("return", n.start_byte))
            if n.named_children:
                v = n.named_children[0]
                flow.returns.append((v.start_byte, v.end_byte))
        elif t == "break_expression":
            flow.exits.append(("break", n.start_byte))
        elif t == "continue_expression":
            flow.exits.append(("continue", n.start_byte))
        elif t == "try_expression":
            flow.exits.append(("?", n.end_byte - 1))
        elif t == "closure_expression" or t == "async_block":
            # Closures and `async` blocks are bodies of their own: they run when called or
            # polled, not where they are made (the lock flow gives each its own graph).
            if t == "closure_expression":
                body = n.child_by_field_name("body")
            else:
                body = next((c for c in n.named_children if c.type == "block"), None)
            head = n.text[:16].split(b"|", 1)[0]
            is_async = t == "async_block" or head.startswith(b"async")
            callee = ""
            if self.nodes and self.nodes[-1].type == "arguments" and len(self.nodes) >= 2:
                callee = _callee(self.nodes[-2])[1]
            flow.closures.append(Closure(Span.of(n), (body.start_byte, body.end_byte) if body is not None else (n.start_byte, n.end_byte),
                                         callee, b"move" in head.split(), is_async, is_async and self._awaited()))
            self.bodies[(id(flow), len(flow.closures) - 1)] = body
            return _Ctx(flow, ctx.unsafe, len(flow.closures) - 1, ctx.floor_row)
        return ctx

    def _awaited(self) -> bool:
        """Is the future being entered awaited where it is made: `async { .. }.await`, or as an
        argument of a call awaited there (`timeout(d, async { .. }).await`)?"""
        i = len(self.nodes) - 1
        while i >= 0 and self.nodes[i].type == "parenthesized_expression":
            i -= 1
        if i >= 2 and self.nodes[i].type == "arguments" and self.nodes[i - 1].type == "call_expression":
            i -= 2
            while i >= 0 and self.nodes[i].type == "parenthesized_expression":
                i -= 1
        return i >= 0 and self.nodes[i].type == "await_expression"

    def _finish(self) -> None:
        # A helper declared to return a guard acquires the mutex its body returns locked (in
        # this file's callers, and through the summary in other files').
        helper_mutex: dict[str, str] = {}
        for flow in self.rust.flows:
            fn = self.rust.functions[flow.fn]
            if fn.name in self.guard_fns:
                for e in flow.events:
                    if e.kind == "lock" and e.fate == "return" and e.closure < 0:
                        helper_mutex.setdefault(fn.name, e.recv)
        helpers = {name: (f.impl_type, f.self_kind is not None, helper_mutex.get(name, ""))
                   for name, f in self.guard_fns.items() if not f.is_test}
        if helpers:
            self.rust.extra["guard_helpers"] = helpers
        if not self.acquisitions:
            return
        for flow in self.rust.flows:
            acq = self.acquisitions.get(id(flow))
            if not acq:
                continue
            acq = [(ci, node, recv or _on_receiver(helper_mutex.get(via), node) or _compact(node, 80), m, via)
                   for ci, node, recv, m, via in acq]
            fid = id(flow)
            try:
                lets: dict[str, list[int]] = {}
                for lc in flow.locals:
                    if lc.kind == "let":
                        lets.setdefault(lc.name, []).append(lc.span.start_byte)
                flow.locks, flow.lockflow = build_lockflow(acq, self.drops.get(fid, ()),
                                                           lambda ci: self.bodies.get((fid, ci)), lets)
            except RecursionError:
                flow.locks, flow.lockflow = [], None


def _on_receiver(mutex: str | None, call) -> str | None:
    """`self.inner`, locked by a helper called as `self.shared.state()`: `self.shared.inner`."""
    if not mutex or not mutex.startswith("self."):
        return mutex
    form, _path, _name, _owner, recv_node = _callee(call)
    recv = _compact(recv_node) if form == "method" and recv_node is not None else "self"
    return mutex if recv == "self" else recv + mutex[4:]


def _foreign_guard_call(name: str, helper, form: str, owner: str, recv_node) -> str | None:
    """The mutex a call takes through another file's guard helper `helper` (impl type or None,
    takes self, the mutex its body locks), or None when the call is not one of it: a method
    helper is called as a method (`self.state()`, `self.shared.state()`) or as
    `Type::state(x)`; an associated function as `Type::f()` / `Self::f()`; a free function
    unqualified or through a module path. `self.inner` locked by a helper called on
    `self.shared` is `self.shared.inner`."""
    impl_type, method, mutex = helper
    if form == "method":
        if not method:
            return None
        recv = _compact(recv_node) if recv_node is not None else "self"
        if mutex.startswith("self.") and recv != "self":
            return recv + mutex[4:]
        return mutex or f"{name}()"
    if impl_type is not None:
        if owner not in (impl_type, "Self"):
            return None
    elif method:
        return None
    return mutex or f"{name}()"


def project_guard_helpers(summaries) -> dict:
    """The guard helpers of the project's Rust files (their lifelint.summary.FileSummary):
    name -> (impl type or None, takes self, mutex), for names every definition in the project
    agrees on: a name some file defines without returning a guard, or defines for another type,
    is left out (a call by that name could be either)."""
    helpers: dict = {}
    clash: set = set()
    defined: dict[str, int] = {}
    for s in summaries:
        for name in s.defined:
            defined[name] = defined.get(name, 0) + 1
        for name, h in ((s.lock_effects or {}).get("guard_helpers") or {}).items():
            h = tuple(h)
            if name in helpers and helpers[name][:2] != h[:2]:
                clash.add(name)
            helpers.setdefault(name, h)
    counts: dict[str, int] = {}
    for s in summaries:
        for name in ((s.lock_effects or {}).get("guard_helpers") or {}):
            counts[name] = counts.get(name, 0) + 1
    return {k: v for k, v in helpers.items() if k not in clash and defined.get(k, 0) == counts.get(k, 0)}


def apply_project_guard_helpers(items, read) -> int:
    """Re-read the Rust files that call a guard helper another file defines (`fn state(&self) ->
    MutexGuard<'_, State>` in one module, `let s = self.state();` in another), so the call
    acquires in their lock flow as a same-file helper's does. `items`: (SourcePath, FileFacts,
    FileSummary) of the Rust files; `read(src)`: the file's bytes (None when unreadable).
    Returns how many files were re-read. Only files whose summary calls such a name are parsed
    again."""
    from lifelint.facts import rust as rust_facts
    from lifelint.parsing import parse

    project = project_guard_helpers([s for _src, _f, s in items])
    if not project:
        return 0
    changed = 0
    for src, f, summary in items:
        if f is None or f.rust is None:
            continue
        foreign = {k: v for k, v in project.items() if k in summary.called and k not in summary.defined}
        if not foreign:
            continue
        key = tuple(sorted((k, tuple(v)) for k, v in foreign.items()))
        if f.rust.extra.get("guard_helpers_applied") == key:
            continue
        try:
            data = read(src)
            if data is None:
                continue
            tree = parse("rust", data)
            new = rust_facts.extract(tree.root_node, data, f, foreign)
        except (RecursionError, ValueError, OSError):
            continue  # a file that cannot be read again keeps its own facts
        new.extra["guard_helpers_applied"] = key
        f.rust = new
        changed += 1
    return changed


def extract(root, data: bytes, facts, out, foreign_guards=None) -> None:
    """Fill `out` (a lifelint.facts.rust.RustFacts) with flow facts for the file; calls to
    `foreign_guards` (guard helpers defined in other files, see `project_guard_helpers`) acquire
    like calls to the file's own."""
    # Byte offsets as machine ints (array), here and in Flow.uses: as a list each offset past
    # 256 is an int object of its own (32 bytes, not shared once unpickled in the main process),
    # which made these two a tenth of a Rust file's facts there (issue 16).
    starts = array("q", (0,))
    pos = data.find(b"\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = data.find(b"\n", pos + 1)
    out.extra["line_starts"] = starts
    # `type DataPtr = *const c_uchar;`, also inside `cfg_if! { .. }` (token trees): text scan
    aliases = {}
    for m in _PTR_ALIAS.finditer(data):
        aliases.setdefault(m.group(1).decode("utf-8", "replace"), compact(m.group(2).decode("utf-8", "replace")))
    if aliases:
        out.extra["ptr_aliases"] = aliases
    ex = _Extractor(data, out, foreign_guards)
    ex.run(root)
    for flow in out.flows:
        flow.uses = {name: array("q", at) for name, at in flow.uses.items()}
