"""Class bodies found by brace matching, and code that cannot stand at class scope.

tree-sitter's error recovery can close a class at the first thing it cannot read inside it
(a serialization block such as `BEGIN_X() FIELD(a) if (v < 1) return false; END_X()`), and
every member after that point then parses as a namespace-scope declaration. Braces do not lie:
matched over a view of the file in which comments, literals and preprocessor lines are
blanked, they give each class body's real extent.

Two users: the pre-pass blanks what only a macro expansion can put at class scope (a
`BEGIN_*`/`*_END` macro pair and everything between them, statements such as `if`/`return`),
and the fact extractor keeps members that error recovery pushed out of their class inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A `{` opens a class body when the text since the previous `;`, `{` or `}` is a class head:
# `class`/`struct`/`union`, a name, maybe bases; no `(` (a function returning a struct, a call)
# and no `=` (an initializer).
_CLASS_HEAD = re.compile(
    rb"(?<![\w])(?:class|struct|union)\s+(?:\[\[[^\]]*\]\]\s*)*(?:[A-Za-z_][\w:]*(?:\s*<[^{};]*>)?\s*)?"
    rb"(?:final\s*)?(?::(?!:)[^{};()]*)?\Z")
_NAME_IN_HEAD = re.compile(rb"(?:class|struct|union)\s+(?:\[\[[^\]]*\]\]\s*)*(?!final\b)([A-Za-z_][\w:]*)")
_ENUM_HEAD = re.compile(rb"(?<![\w])enum\s+(?:class|struct)\b")
_BRACES = re.compile(rb"[{}]")


@dataclass(slots=True)
class ClassBody:
    open: int  # index of the `{`
    close: int | None  # index of the matching `}` (None: never closed)
    head_start: int  # where the head text (after the previous `;`/`{`/`}`) starts
    name: bytes  # the class name as written in the head (b"" when anonymous)
    children: list[tuple[int, int]]  # (open, close) of braces directly inside: not class scope


def class_bodies(view: bytes | bytearray) -> list[ClassBody]:
    """Every class body of `view` (comments, literals and directives already blanked), in
    order of their `{`."""
    if b"class" not in view and b"struct" not in view and b"union" not in view:
        return []
    out: list[ClassBody] = []
    stack: list[tuple[int, ClassBody | None]] = []
    for m in _BRACES.finditer(view):
        at = m.start()
        if view[at] == 0x7B:  # {
            lo = max(0, at - 512)
            cut = max(view.rfind(b";", lo, at), view.rfind(b"{", lo, at), view.rfind(b"}", lo, at), lo - 1) + 1
            body = None
            if (view.find(b"class", cut, at) >= 0 or view.find(b"struct", cut, at) >= 0 or view.find(b"union", cut, at) >= 0) \
                    and view.find(b"(", cut, at) < 0:
                head = bytes(view[cut:at]).rstrip()
                h = _CLASS_HEAD.search(head)
                if h and not _ENUM_HEAD.search(head):
                    name = _NAME_IN_HEAD.match(head, h.start())
                    body = ClassBody(at, None, cut, name.group(1).rsplit(b"::", 1)[-1] if name else b"", [])
                    out.append(body)
            stack.append((at, body))
        elif stack:  # }
            open_at, body = stack.pop()
            if body is not None:
                body.close = at
            if stack and stack[-1][1] is not None:
                stack[-1][1].children.append((open_at, at))
    return out


def direct_scope(body: ClassBody, pos: int) -> bool:
    """Whether `pos` (inside `body`) sits at the body's own scope, not in a nested block."""
    if not (body.open < pos and (body.close is None or pos < body.close)):
        return False
    return not any(o < pos < c for o, c in body.children)


def innermost(bodies: list[ClassBody], pos: int) -> ClassBody | None:
    """The innermost class body whose own scope holds `pos`."""
    best = None
    for b in bodies:
        if b.open > pos:
            break
        if direct_scope(b, pos):
            best = b
    return best


def innermost_many(view: bytes | bytearray, bodies: list[ClassBody], positions: list[int]) -> list[ClassBody | None]:
    """`innermost` for many sorted positions in one sweep over the braces."""
    by_open = {b.open: b for b in bodies}
    out: list[ClassBody | None] = []
    stack: list[int] = []
    braces = _BRACES.finditer(view)
    nxt = next(braces, None)
    for pos in positions:
        while nxt is not None and nxt.start() < pos:
            if view[nxt.start()] == 0x7B:
                stack.append(nxt.start())
            elif stack:
                stack.pop()
            nxt = next(braces, None)
        out.append(by_open.get(stack[-1]) if stack else None)
    return out


# --- the pre-pass step --------------------------------------------------------------------

# A statement keyword first on a line or after `;`/`)`: at class scope only a macro expansion
# puts one there.
_STATEMENT_LINE = re.compile(rb"[\n;)][ \t]*(?P<kw>if|for|while|switch|return|do|break|continue|goto)(?![\w])")
# An ALL_CAPS macro use, with its arguments: the pair markers are found among these.
_CAPS_MACRO = re.compile(rb"(?P<name>[A-Z][A-Z0-9_]*[A-Z0-9])(?![\w])(?:[ \t]*(?P<args>\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)))?")
_PAIR_WORD = re.compile(rb"BEGIN|START|END|FINISH")  # literals: `re` skips ahead in C
_AFTER_STATEMENT_OR_CALL = frozenset(b";{}:)")
_OPENS = re.compile(rb"(?:^|_)(?:BEGIN|START)(?:_|$)")
_CLOSES = re.compile(rb"(?:^|_)(?:END|FINISH)(?:_|$)")
# A line holding nothing but a call, `DECLARE_wxTHING(Foo)`, `serializable(a, b)`: at class
# scope without a `;` it is a macro (a member declaration would end with `;`, a constructor
# would go on with `:`, `{`, `noexcept`...).
_CALL_LINE = re.compile(rb"\n[ \t]*(?P<name>~?[A-Za-z_]\w*)[ \t]*(?P<args>\((?:[^()\n]|\((?:[^()]|\([^()]*\))*\))*\))[ \t]*\r?(?=\n)")
_NOT_AFTER_CALL_LINE = re.compile(rb"\s*(?:[{:=;,&>-]|(?:const|noexcept|override|final|volatile|throw|try|requires|mutable)(?![\w]))")
_MEMBER_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_~[}")
_WS = re.compile(rb"\s*")
_STARTS_STATEMENT = frozenset(b";{}:")


def _prev_byte(view: bytearray, pos: int) -> int | None:
    chunk = bytes(view[max(0, pos - 512):pos]).rstrip()
    return chunk[-1] if chunk else None


def blank_class_scope_code(view: bytearray, blank) -> None:
    """Blank (through `blank(start, end)`) what a macro expansion puts at class scope: a
    `BEGIN_X(...)` ... `END_X()` macro pair with everything between (a generated member
    function whose body is written as statements), statements (`if (...) return false;`)
    outside such a pair, and call-like macro lines without `;`."""
    bodies = [b for b in class_bodies(view) if b.close is not None]
    if not bodies:
        return
    # Candidates are looked for only in the class bodies' own scope (between nested blocks).
    cands: list[tuple[int, int, object, ClassBody]] = []  # (position, kind, match, class body)
    for body in bodies:
        for lo, hi in _own_segments(body):
            for m in _PAIR_WORD.finditer(view, lo, hi):
                start, end = _word_at(view, m.start(), m.end())
                caps = _CAPS_MACRO.match(view, start)
                if caps is not None and caps.end() >= end and (not cands or cands[-1][0] != start) \
                        and _prev_byte(view, start) in _AFTER_STATEMENT_OR_CALL:
                    cands.append((start, 0, caps, body))
            cands += [(m.start("kw"), 1, m, body) for m in _STATEMENT_LINE.finditer(view, lo, hi)]
            cands += [(m.start("name"), 2, m, body) for m in _CALL_LINE.finditer(view, lo, hi)]
    if not cands:
        return
    cands.sort(key=lambda c: (c[1], c[0]))  # pairs, then statements, then call lines
    pending: dict[int, int] = {}  # class body open -> start of an unclosed BEGIN macro
    for start, kind, m, body in cands:
        if view[start] == 0x20:  # already blanked
            continue
        if kind == 0:  # the region between a BEGIN and an END macro is a function body
            name = m.group("name")
            if _OPENS.search(name) and body.open not in pending:
                pending[body.open] = start
            elif _CLOSES.search(name) and body.open in pending:
                blank(pending.pop(body.open), m.end())
        elif kind == 1:
            end = _statement_end(view, start, body.close)
            if end is not None:
                blank(start, end)
        else:
            if m.group("name").lstrip(b"~") == body.name or _prev_byte(view, start) not in _STARTS_STATEMENT \
                    or _NOT_AFTER_CALL_LINE.match(view, m.end()):
                continue
            nxt = _WS.match(view, m.end()).end()
            if nxt < len(view) and view[nxt] in _MEMBER_START:
                blank(start, m.end())


def _own_segments(body: ClassBody) -> list[tuple[int, int]]:
    """Byte ranges of `body`'s own scope: inside its braces, outside nested blocks."""
    out, pos = [], body.open
    for o, c in body.children:
        out.append((pos, o))
        pos = c + 1
    out.append((pos, body.close))
    return out


def _word_at(view: bytearray, start: int, end: int) -> tuple[int, int]:
    while start > 0 and view[start - 1] in _WORD_BYTES:
        start -= 1
    while end < len(view) and view[end] in _WORD_BYTES:
        end += 1
    return start, end


_WORD = re.compile(rb"[A-Za-z_]\w*")


def _statement_end(view: bytearray, pos: int, limit: int) -> int | None:
    """End (exclusive) of the statement starting at `pos`, not past `limit`; None when it
    cannot be told."""
    pos = _WS.match(view, pos).end()
    if pos >= limit:
        return None
    if view[pos] == 0x7B:  # {
        close = _match(view, pos, 0x7B, 0x7D, limit)
        return None if close is None else close + 1
    w = _WORD.match(view, pos)
    kw = w.group() if w else b""
    if kw in (b"if", b"while", b"for", b"switch"):
        p = _WS.match(view, w.end()).end()
        if kw == b"if" and view.startswith(b"constexpr", p):
            p = _WS.match(view, p + 9).end()
        if p >= limit or view[p] != 0x28:  # (
            return None
        close = _match(view, p, 0x28, 0x29, limit)
        if close is None:
            return None
        end = _statement_end(view, close + 1, limit)
        if end is None or kw != b"if":
            return end
        e = _WS.match(view, end).end()
        if view.startswith(b"else", e) and (e + 4 >= len(view) or view[e + 4] not in _WORD_BYTES):
            return _statement_end(view, e + 4, limit)
        return end
    if kw == b"do":
        end = _statement_end(view, w.end(), limit)
        if end is None:
            return None
        p = _WS.match(view, end).end()
        if not view.startswith(b"while", p):
            return None
        return _simple_end(view, p, limit)
    return _simple_end(view, pos, limit)


_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_NESTING = re.compile(rb"[(){};]")


def _simple_end(view: bytearray, pos: int, limit: int) -> int | None:
    """End of an expression statement: its `;` outside brackets."""
    depth = 0
    for m in _NESTING.finditer(view, pos, limit):
        c = view[m.start()]
        if c in (0x28, 0x7B):
            depth += 1
        elif c in (0x29, 0x7D):
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0:
            return m.start() + 1
    return None


def _match(view: bytearray, open_at: int, opener: int, closer: int, limit: int) -> int | None:
    depth = 0
    pat = re.compile(re.escape(bytes([opener])) + b"|" + re.escape(bytes([closer])))
    for m in pat.finditer(view, open_at, limit):
        depth += 1 if view[m.start()] == opener else -1
        if depth == 0:
            return m.start()
    return None
