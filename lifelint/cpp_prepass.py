"""Position-preserving C++ pre-pass: make real code parse the way it is written.

tree-sitter-cpp has no preprocessor. `#if`/`#else` branches that each hold half a
declaration, export/attribute macros (`struct FOO_EXPORT name`), macro lines without `;` and
SWIG `%` directives all end up inside ERROR nodes, where rules cannot see anything. This pass
blanks (overwrites with spaces) just enough text for the grammar to cope, and rewrites a few
words in place (`%extend` -> `struct `, `#elif` -> `#if  `, `FOO_THREAD_LOCAL` ->
`thread_local`, a blank after an `%extend` block -> `;`). It never inserts, removes or moves
a byte and keeps every CR/LF, so offsets, lines and columns from the tree still point into the
original file.

What goes, in order: SWIG directives (.i files are scanned as C++); per `#if` group, dead
branches (by `defines`, `#if 0`) and, when the live branches do not each hold whole
declarations, every live branch but the first, with the group's directive lines; then macros
in places only a macro can stand (see `_macros`).

Decisions are made on a "view" of the file in which comments, string literals and
preprocessor lines are blanked as well, so a brace in a comment or a macro name in a
`#define` never fools the heuristics. Edits go to the output and to the view together.

Speed matters (this runs on every C++ file): every regex below starts with a literal or a
character class, never with an assertion, so that `re` can skip ahead in C; context that
would need a leading look-behind is checked in Python on the (few) matches instead.
"""

from __future__ import annotations

import functools
import re

from lifelint.cpp_class_scope import blank_class_scope_code

# Every byte except CR and LF becomes a space.
_BLANK = bytes(b if b in (10, 13) else 32 for b in range(256))
_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

# Comments and literals, for the view. Raw strings are recognised at their quote (the `R`
# prefix stays in the view) so that the scan starts only at `/`, `"` and `'`. A char literal
# starts after a non-word byte or an encoding prefix (L'x', u8'x'), never at a digit separator
# (1'000'000).
_LEXEMES = re.compile(
    rb"""/(?:/[^\n]*(?:\\\n[^\n]*)*|\*.*?(?:\*/|\Z))
    | "(?:(?<=R")(?P<delim>[^()\\\s"]{0,16})\(.*?\)(?P=delim)"|[^"\\\n]*(?:\\.[^"\\\n]*)*"?)
    | '(?:(?<![0-9A-Za-z_]')|(?<=\b[LuU]')|(?<=\bu8'))[^'\\\n]*(?:\\.[^'\\\n]*)*'?
    """,
    re.S | re.X,
)

# A preprocessor line with its backslash continuations: at the start of the file, or after
# a newline (the literal `\n` first keeps the scan fast).
_DIRECTIVE_BODY = rb"[ \t]*\#[ \t]*(?P<kw>[A-Za-z_]\w*)?(?P<rest>[^\n]*(?:(?:(?<=\\)|(?<=\\\r))\n[^\n]*)*)"
_DIRECTIVE_AT = re.compile(rb"(?P<line>" + _DIRECTIVE_BODY + rb")")
_DIRECTIVE_NL = re.compile(rb"\n(?P<line>" + _DIRECTIVE_BODY + rb")")

# Up to three levels of nested parentheses, across lines: macro argument lists.
_ARGS = rb"\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)"
_CAPS = rb"[A-Z_][A-Z0-9_]*[A-Z0-9_]"  # ALL_CAPS identifier, two characters or more

# What holds for any file parsed as C++ (`defines` from the settings win): `__cplusplus` is
# defined (C++17 unless told otherwise) and Objective-C++ branches are not ours to read.
_BUILTIN_DEFINES = {"__cplusplus": "201703L"}
_BUILTIN_UNDEFINED = frozenset({"__OBJC__"})


class _Text:
    """The output bytes and the analysis view, edited together."""

    __slots__ = ("out", "view")

    def __init__(self, data: bytes):
        self.out = bytearray(data)
        self.view = bytearray(_LEXEMES.sub(_blank_match, data))

    def blank(self, start: int, end: int) -> None:
        if end > start:
            self.out[start:end] = self.out[start:end].translate(_BLANK)
            self.view[start:end] = self.view[start:end].translate(_BLANK)

    def replace(self, start: int, new: bytes) -> None:
        """Overwrite in place with `new` (same length as what it covers, by construction)."""
        self.out[start:start + len(new)] = new
        self.view[start:start + len(new)] = new


def _blank_match(m: re.Match) -> bytes:
    return m.group().translate(_BLANK)


def prepass(data: bytes, options=None) -> bytes:
    """The bytes the grammar should see: `data` with dead or conflicting `#if` branches,
    attribute/export macros and SWIG directives blanked. Same length, same line breaks.
    `options` is a lifelint.settings.CppSettings (or None for the defaults)."""
    if not data:
        return data
    text = _Text(data)
    if _has_swig(text.view):
        _swig(text)
    _conditionals(text, _defines_of(options))
    _macros(text, _globs_of(options))
    return bytes(text.out)


def code_view(data: bytes) -> bytearray:
    """`data` with comments, literals and preprocessor lines blanked (same length): what brace
    matching may read."""
    view = bytearray(_LEXEMES.sub(_blank_match, data))
    for _, start, end, _ in _directives(view):
        view[start:end] = view[start:end].translate(_BLANK)
    return view


class _Defines(dict):
    """NAME -> value of the names known to be defined; `.undefined`: the names known not to be
    (`-U`, a compile database's flags, Objective-C), which `#ifdef`/`defined()` read as false."""

    __slots__ = ("undefined",)


def _defines_of(options) -> _Defines:
    raw = getattr(options, "defines", None) or {}
    undefined = frozenset(getattr(options, "undefines", None) or ())
    out = _Defines({k: v for k, v in _BUILTIN_DEFINES.items() if k not in undefined})
    out.update((str(k), "1" if v is None else str(v)) for k, v in raw.items() if k not in undefined)
    out.undefined = _BUILTIN_UNDEFINED | undefined
    return out


def _undefined(defines) -> frozenset[str]:
    return getattr(defines, "undefined", _BUILTIN_UNDEFINED)


def _globs_of(options) -> tuple[str, ...]:
    globs = getattr(options, "ignore_macros", None)
    if globs is None:
        from lifelint.settings import DEFAULT_IGNORE_MACROS

        globs = DEFAULT_IGNORE_MACROS
    return tuple(globs)


def _prev_significant(view: bytearray, pos: int) -> int | None:
    """The last non-space byte at or before `pos`, or None at the start of the file."""
    window = 256
    while pos >= 0:
        lo = max(0, pos + 1 - window)
        chunk = view[lo:pos + 1].rstrip()
        if chunk:
            return chunk[-1]
        pos, window = lo - 1, window * 4
    return None


_NEXT_SIGNIFICANT = re.compile(rb"\s*(\S)")


def _next_significant(view: bytearray, pos: int) -> int | None:
    m = _NEXT_SIGNIFICANT.match(view, pos)
    return view[m.start(1)] if m else None


_BRACKET = re.compile(rb"[][(){}]")
_OPEN = {ord("("): ord(")"), ord("["): ord("]"), ord("{"): ord("}")}


def _balanced(code: bytes) -> bool:
    stack: list[int] = []
    for m in _BRACKET.finditer(code):
        c = code[m.start()]
        if c in _OPEN:
            stack.append(_OPEN[c])
        elif not stack or stack.pop() != c:
            return False
    return not stack


_PAIRS = {ord("("): re.compile(rb"[()]"), ord("["): re.compile(rb"[][]"), ord("{"): re.compile(rb"[{}]")}


def _matching_close(view: bytearray, open_at: int) -> int | None:
    """Index of the bracket closing the one at `open_at` (same kind), or None."""
    opener = view[open_at]
    depth = 0
    for m in _PAIRS[opener].finditer(view, open_at):
        depth += 1 if view[m.start()] == opener else -1
        if depth == 0:
            return m.start()
    return None


def _enclosing_brace(view: bytearray, pos: int) -> int | None:
    """Index of the `{` whose block contains `pos`, or None at file scope."""
    depth = 0
    while True:
        o, c = view.rfind(b"{", 0, pos), view.rfind(b"}", 0, pos)
        if o < 0:
            return None
        if c > o:
            depth, pos = depth + 1, c
        elif depth == 0:
            return o
        else:
            depth, pos = depth - 1, o


# --------------------------------------------------------------------------------------
# SWIG interface files (.i): scanned as C++ once the `%` directives are out of the way
# --------------------------------------------------------------------------------------

_SWIG_DIRECTIVE = re.compile(rb"%(?:(?P<name>[A-Za-z_]\w*)|(?P<open>\{)|(?P<close>\}))")
# Code blocks whose content is C++ declarations, kept: `%{ ... %}` alone or after these.
_SWIG_KEEP_CODE = frozenset({b"inline", b"header", b"wrapper", b"runtime", b"begin"})
_SWIG_EXTEND = re.compile(rb"%extend(?=\s*(?:[A-Za-z_][\w:<>, *]*)?\s*\{)")
_SWIG_ARGS = re.compile(rb"[ \t]*" + _ARGS)
_SWIG_BLOCK_OPEN = re.compile(rb"[ \t]*(?:\"[^\"\n]*\"[ \t]*)?(?:%\{|\{)")


def _has_swig(view: bytearray) -> bool:
    return _swig_lines(view, limit=1) != []


def _swig_lines(view: bytearray, limit: int | None = None) -> list[re.Match]:
    """SWIG directives that start a line (C++ never starts a line with `%`)."""
    out = []
    for m in _SWIG_DIRECTIVE.finditer(view):
        line_start = view.rfind(b"\n", 0, m.start()) + 1
        if view[line_start:m.start()].strip():
            continue
        out.append(m)
        if limit and len(out) >= limit:
            break
    return out


def _swig(text: _Text) -> None:
    view = text.view
    extends = []
    done = 0  # directives inside a block already blanked are skipped
    for m in _swig_lines(view):
        if m.start() < done:
            continue
        if m.group("open") or m.group("close"):
            text.blank(m.start(), m.end())  # `%{ ... %}` holds C++: keep it, drop the markers
        elif _SWIG_EXTEND.match(view, m.start()):
            text.replace(m.start(), b"struct ")  # same 7 bytes: the block parses as a class body
            extends.append(m.start())
        else:
            done = _blank_swig_directive(text, m)
    for start in extends:
        _close_extend(text, start)


def _blank_swig_directive(text: _Text, m: re.Match) -> int:
    """Blank one `%name ...` directive: to the end of its line, through its argument list and
    through a `{ ... }` or `%{ ... %}` block that follows (code kept for the directives that
    insert C++ declarations). Returns where it ended."""
    view = text.view
    name = m.group("name")
    end = m.end()
    args = _SWIG_ARGS.match(view, end)
    if args:
        end = args.end()
    if name == b"define":
        close = view.find(b"%enddef", end)
        stop = close + len(b"%enddef") if close >= 0 else len(view)
        text.blank(m.start(), stop)
        return stop
    opener = _swig_block_open(view, end)
    if opener is None:
        stop = _line_end(view, end)
        text.blank(m.start(), stop)
        return stop
    if view[opener - 1:opener + 1] == b"%{":
        close = view.find(b"%}", opener)
        stop = close + 2 if close >= 0 else len(view)
        if name in _SWIG_KEEP_CODE or name == b"insert":
            text.blank(m.start(), opener + 1)
            text.blank(stop - 2, stop)
        else:
            text.blank(m.start(), stop)
        return stop
    close = _matching_close(view, opener)
    stop = close + 1 if close is not None else len(view)
    text.blank(m.start(), stop)
    return stop


def _swig_block_open(view: bytearray, pos: int) -> int | None:
    """The `{` of a `{ ... }` or `%{ ... %}` block that belongs to the directive ending at
    `pos`: on the same line (maybe after a "string"), or first thing on the next one."""
    block = _SWIG_BLOCK_OPEN.search(view, pos, _line_end(view, pos))
    if block:
        return block.end() - 1
    nxt = _NEXT_SIGNIFICANT.match(view, pos)
    if nxt and (view[nxt.start(1)] == ord("{") or view[nxt.start(1):nxt.start(1) + 2] == b"%{"):
        return nxt.start(1) + (view[nxt.start(1)] == ord("%"))
    return None


def _line_end(view: bytearray, pos: int) -> int:
    nl = view.find(b"\n", pos)
    return len(view) if nl < 0 else nl


def _close_extend(text: _Text, start: int) -> None:
    """A struct needs `;` after its `}`: put one in the first blank byte after it, if any."""
    view = text.view
    close = _matching_close(view, view.find(b"{", start))
    if close is None:
        return
    nxt = _NEXT_SIGNIFICANT.match(view, close + 1)
    gap_end = nxt.start(1) if nxt else len(view)
    if nxt and view[gap_end] == ord(";"):
        return
    for i in range(close + 1, gap_end):
        if view[i] in (32, 9):
            text.replace(i, b";")
            return


# --------------------------------------------------------------------------------------
# Conditional groups
# --------------------------------------------------------------------------------------

_CONDITIONAL = frozenset({b"if", b"ifdef", b"ifndef", b"elif", b"elifdef", b"elifndef", b"else", b"endif"})
_GROUP_START = frozenset({b"if", b"ifdef", b"ifndef"})


class _Branch:
    __slots__ = ("kw", "dstart", "dend", "cond", "value")

    def __init__(self, kw: bytes, dstart: int, dend: int, cond: bytes):
        self.kw, self.dstart, self.dend, self.cond = kw, dstart, dend, cond
        self.value: int | None = None


def _directives(view: bytearray) -> list[tuple[bytes, int, int, bytes]]:
    """(keyword, start, end, rest of line) of every preprocessor line."""
    first = _DIRECTIVE_AT.match(view)
    matches = ([first] if first else []) + list(_DIRECTIVE_NL.finditer(view))
    return [(m.group("kw") or b"", m.start("line"), m.end(), m.group("rest")) for m in matches]


def _conditionals(text: _Text, defines: dict[str, str]) -> None:
    """Blank dead and conflicting branches of every `#if` group, innermost first."""
    view = text.view
    directives = _directives(view)
    # The view never shows directive lines: the heuristics look at code only.
    for _, start, end, _ in directives:
        view[start:end] = view[start:end].translate(_BLANK)
    stack: list[list[_Branch]] = []
    for kw, start, end, rest in directives:
        if kw not in _CONDITIONAL:
            continue
        if kw in _GROUP_START:
            stack.append([_Branch(kw, start, end, rest)])
        elif stack and kw != b"endif":
            stack[-1].append(_Branch(kw, start, end, rest))
        elif stack:
            _resolve(text, stack.pop(), start, end, defines)
    while stack:  # unterminated groups run to the end of the file
        _resolve(text, stack.pop(), len(view), len(view), defines)


def _resolve(text: _Text, branches: list[_Branch], end_start: int, end_end: int, defines) -> None:
    """Keep every live branch when the grammar can read the group as written (its own
    preproc_if nodes), else keep only the first live branch and blank the directives."""
    for b in branches:
        b.value = _branch_value(b, defines)
    live = _live_branches(branches)
    bodies = [(b.dend, branches[i + 1].dstart if i + 1 < len(branches) else end_start) for i, b in enumerate(branches)]
    if len(live) > 1 and _self_contained(text.view, branches[0].dstart, [bodies[i] for i in live]):
        for i, b in enumerate(branches):
            if i not in live:
                text.blank(b.dstart, bodies[i][1])
        first = branches[live[0]]
        if first.kw.startswith(b"elif"):
            _elif_to_if(text, first)
        return
    keep = live[0] if live else None
    for i, b in enumerate(branches):
        text.blank(b.dstart, b.dend)
        if i != keep:
            text.blank(*bodies[i])
    text.blank(end_start, end_end)


def _live_branches(branches: list[_Branch]) -> list[int]:
    """Branches that may be the one compiled: not known false, not after a known-true one."""
    live = []
    for i, b in enumerate(branches):
        if b.value == 0:
            continue
        live.append(i)
        if b.value is not None:
            break
    return live


def _elif_to_if(text: _Text, branch: _Branch) -> None:
    """`#elif X` -> `#if   X` (elifdef/elifndef alike): the first live branch opens the group."""
    at = text.out.find(b"elif", branch.dstart, branch.dend)
    if at >= 0:
        text.replace(at, b"if  ")


_STATEMENT_END = frozenset(b";}")
# A branch may end with a statement-like macro line, `GENERATE_OVERLOADS(DEF)`, which the
# macro pass blanks later.
_ENDS_WITH_MACRO_LINE = re.compile(rb"(?:\A|\n)[ \t]*[A-Z][A-Z0-9_]*(?:[ \t]*" + _ARGS + rb")?[ \t]*\Z")
_GROUP_MAY_FOLLOW = frozenset([*b";{}:", None])
_ENUM_HEAD = re.compile(rb"\benum\b[^;{}()]*\Z")


def _self_contained(view: bytearray, group_start: int, bodies: list[tuple[int, int]]) -> bool:
    """Whether every branch is a run of whole declarations/statements (or of enumerators
    ending with `,` inside an enum): the group starts where a statement may start, and each
    branch has balanced brackets and ends where a statement (enumerator) ends."""
    prev = _prev_significant(view, group_start - 1)
    if prev not in _GROUP_MAY_FOLLOW and prev != ord(","):
        return False
    ends = _STATEMENT_END
    if prev in (ord(","), ord("{")) and _in_enum(view, group_start):
        ends = frozenset(b",")
    elif prev == ord(","):
        return False
    return all(_whole_statements(view[start:end].strip(), ends) for start, end in bodies)


def _whole_statements(body: bytearray, ends: frozenset[int]) -> bool:
    if not body:
        return True
    ends_well = body[-1] in ends or _ENDS_WITH_MACRO_LINE.search(body, max(0, len(body) - 2000))
    return bool(ends_well) and _balanced(body)


def _in_enum(view: bytearray, pos: int) -> bool:
    brace = _enclosing_brace(view, pos)
    return brace is not None and bool(_ENUM_HEAD.search(view, max(0, brace - 200), brace))


# --- `#if` expressions, evaluated three-valued: an int, or None when the settings do not say.

_TOKEN = re.compile(
    rb"\s*(?:(?P<num>0[xX][0-9a-fA-F]+|\d+)[uUlL]*|(?P<id>[A-Za-z_]\w*)"
    rb"|(?P<op>&&|\|\||==|!=|<=|>=|<<|>>|[-+*/%<>!~&|^()?:,])|(?P<other>\S))"
)


def _branch_value(b: _Branch, defines: dict[str, str]) -> int | None:
    kw = b.kw
    if kw == b"else":
        return 1
    if kw in (b"ifdef", b"ifndef", b"elifdef", b"elifndef"):
        words = b.cond.split()
        name = words[0].decode("latin-1") if words else ""
        if name in defines or name in _undefined(defines):
            return int((name in defines) == (kw in (b"ifdef", b"elifdef")))
        return None  # not defined by the settings: unknown, not false
    return _evaluate(b.cond.replace(b"\\\r\n", b"   ").replace(b"\\\n", b"  "), defines)


def _evaluate(expr: bytes, defines: dict[str, str]) -> int | None:
    try:
        parser = _ExprParser(_tokens(expr), defines)
        value = parser.ternary()
        return value if parser.pos == len(parser.tokens) else None
    except (IndexError, ValueError, RecursionError):
        return None  # not an expression we understand: unknown


def _tokens(expr: bytes) -> list[tuple[str, object]]:
    tokens: list[tuple[str, object]] = []
    for m in _TOKEN.finditer(expr):
        if m.group("num") is not None:
            tokens.append(("num", _int(m.group("num"))))
        elif m.group("id") is not None:
            tokens.append(("id", m.group("id").decode("latin-1")))
        elif m.group("op") is not None:
            tokens.append(("op", m.group("op").decode()))
        elif m.group("other") is not None:
            tokens.append(("other", m.group("other")))
    return tokens


def _int(literal: bytes) -> int:
    if literal[:2] in (b"0x", b"0X"):
        return int(literal, 16)
    if len(literal) > 1 and literal.startswith(b"0"):
        return int(literal, 8)
    return int(literal)


# Binary operators by precedence (higher binds tighter).
_BINARY = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6,
    "<": 7, ">": 7, "<=": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}


class _ExprParser:
    """Precedence climbing over preprocessor tokens; None propagates as "unknown"."""

    def __init__(self, tokens, defines):
        self.tokens, self.defines, self.pos = tokens, defines, 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self):
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, op: str) -> None:
        if self.take() != ("op", op):
            raise ValueError(op)

    def ternary(self):
        cond = self.binary(1)
        if self.peek() != ("op", "?"):
            return cond
        self.take()
        a = self.ternary()
        self.expect(":")
        b = self.ternary()
        if cond is None:
            return a if a == b else None
        return a if cond else b

    def binary(self, min_prec: int):
        lhs = self.unary()
        while True:
            kind, op = self.peek()
            prec = _BINARY.get(op) if kind == "op" else None
            if prec is None or prec < min_prec:
                return lhs
            self.take()
            rhs = self.binary(prec + 1)
            lhs = _apply(op, lhs, rhs)

    def unary(self):
        kind, val = self.take()
        if kind == "num":
            return val
        if kind == "op":
            if val == "(":
                v = self.ternary()
                self.expect(")")
                return v
            if val in ("!", "-", "+", "~"):
                v = self.unary()
                if v is None:
                    return None
                return {"!": lambda x: int(not x), "-": lambda x: -x, "+": lambda x: x, "~": lambda x: ~x}[val](v)
        if kind == "id":
            if val == "defined":
                return self.defined()
            if self.peek() == ("op", "("):  # function-like macro or __has_include(...)
                self.skip_parens()
                return None
            return self.identifier(val)
        raise ValueError(val)

    def defined(self):
        paren = self.peek() == ("op", "(")
        if paren:
            self.take()
        kind, name = self.take()
        if kind != "id":
            raise ValueError(name)
        if paren:
            self.expect(")")
        if name in self.defines:
            return 1
        return 0 if name in _undefined(self.defines) else None

    def identifier(self, name: str):
        if name in ("true", "false"):
            return int(name == "true")
        value = self.defines.get(name)
        if value is None:
            return 0 if name in _undefined(self.defines) else None  # an undefined name is 0 in #if
        m = re.fullmatch(r"\s*(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\s*", value)
        return _int(m.group(1).encode()) if m else (1 if value == "" else None)

    def skip_parens(self) -> None:
        depth = 0
        while True:
            tok = self.take()
            if tok == ("op", "("):
                depth += 1
            elif tok == ("op", ")"):
                depth -= 1
                if depth == 0:
                    return


def _div(a: int, b: int) -> int:
    """C division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _apply(op: str, a, b):
    if op == "&&":
        if a == 0 or b == 0:
            return 0
        return None if a is None or b is None else 1
    if op == "||":
        if (a is not None and a != 0) or (b is not None and b != 0):
            return 1
        return None if a is None or b is None else 0
    if a is None or b is None:
        return None
    if op in ("/", "%") and b == 0:
        return None
    return {
        "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
        "==": lambda: int(a == b), "!=": lambda: int(a != b),
        "<": lambda: int(a < b), ">": lambda: int(a > b), "<=": lambda: int(a <= b), ">=": lambda: int(a >= b),
        "<<": lambda: a << min(b, 64) if b >= 0 else None, ">>": lambda: a >> min(b, 64) if b >= 0 else None,
        "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
        "/": lambda: _div(a, b), "%": lambda: a - b * _div(a, b),
    }[op]()


# --------------------------------------------------------------------------------------
# Macros
# --------------------------------------------------------------------------------------

_TYPE_KEYWORDS = (
    rb"void|bool|char|short|int|long|float|double|signed|unsigned|auto|static|inline|virtual|explicit"
    rb"|constexpr|consteval|extern|friend|template|typename|class|struct|union|enum|typedef|using|namespace"
)  # not `operator`: `BOOL operator==(...)` has an ALL_CAPS return type
# One scan finds every ALL_CAPS word in a position where only a macro can stand; the named
# group says which shape it is (checked further in `_CAPS_RULES`). The look-behind after the
# first byte keeps the scan fast and makes sure the word starts where a word may start.
_CAPS_USE = re.compile(
    rb"[A-Z][A-Z0-9_](?<![\w.>:][A-Z][A-Z0-9_])[A-Z0-9_]*(?![\w])(?P<args>[ \t]*" + _ARGS + rb")?+(?:"
    # `FOO_DECL void f();`: a keyword that cannot follow a type name.
    rb"(?P<keyword>[ \t]+(?=(?:" + _TYPE_KEYWORDS + rb")\b|std\s*::))"
    # `FOO_MOVE_ARG(Handler) handler`: a call followed by a name makes a type or a specifier.
    rb"|(?P<type>(?<=\))(?=[ \t]*(?:\.\.\.[ \t]*)?(?!(?:and|or|xor|bitand|bitor|not_eq)\b)[A-Za-z_]))"
    # `typename Token FOO_DEFAULT_TYPE(Executor)>`: after a declared name, a default argument.
    rb"|(?P<default>(?<=\))(?=\s*[>,)]))"
    # `FOO_TRY {`
    rb"|(?P<block>(?<![)])(?=\s+\{))"
    # `FOO_CONSTEXPR name(` (a constructor when `name` is a class here), `FOO ~name(`
    rb"|(?P<ctor>(?<![)])(?=[ \t]+(?:~|(?P<ctor_name>[A-Za-z_]\w*)\s*\()))"
    # A line holding nothing but `FOO_BEGIN` or `DEFINE_THING(x, 1)`: no `;`, so the grammar
    # glues it to the next declaration.
    rb"|(?P<line>(?=[ \t]*\r?(?:\n|\Z)))"
    rb")"
)
_MACRO_AFTER_PARAMS = re.compile(
    # `void f() FOO_NOEXCEPT_IF(x) {`, `X(const X&) FOO_DELETED;`. With arguments and `;` it
    # could be a call in an `if (...)` body, so that one shape is left alone.
    rb"\)\s*(" + _CAPS + rb"(?![\w])(?:\s*" + _ARGS + rb"(?=\s*(?:\{|->|(?:const|override|final|noexcept)\b))"
    rb"|(?=\s*(?:[{;]|->|(?:const|override|final|noexcept)\b))))"
)
# The same after the method's qualifiers: `int size() const ABSL_LOCKS_REQUIRED(mu_) {`,
# `void f() override FOO_NOEXCEPT;`. A qualifier first rules out the call-in-an-if shape.
_MACRO_AFTER_QUALIFIERS = re.compile(
    rb"\)\s*(?:(?:const|volatile|override|final|noexcept)\b\s*|&&?\s*)+(" + _CAPS + rb"(?![\w])(?:\s*" + _ARGS + rb")?)"
    rb"(?=\s*(?:[{;=]|->|(?:const|override|final|noexcept)\b|" + _CAPS + rb"))"
)
# Attribute-like things that may sit between `class`/`struct`/`union` and the name.
_HEAD_ATTR = (rb"(?:" + _CAPS + rb"(?:[ \t]*" + _ARGS + rb")?|__attribute__\s*" + _ARGS + rb"|__declspec\s*" + _ARGS
              + rb"|alignas\s*" + _ARGS + rb"|\[\[.*?\]\])")
# `class`/`struct`/`union` heads, with whatever sits between the keyword and the name.
_CLASS_HEADS = tuple(
    re.compile(kw + rb"\s+(?P<attrs>(?:" + _HEAD_ATTR + rb"\s+)*)(?!final\b)(?P<name>[A-Za-z_][\w:]*)"
               rb"(?=\s*(?:<|final\b|:(?!:)|\{))")
    for kw in (rb"class", rb"struct", rb"union")  # one literal each: fast scans
)
_CAPS_IN_HEAD = re.compile(_CAPS + rb"(?:[ \t]*" + _ARGS + rb")?")
# Explicit instantiations (`extern template class X<int>;`, `template struct X<int>;`) hold
# no code, and tree-sitter-cpp rejects them.
_TEMPLATE_NO_PARAMS = re.compile(rb"template(?=[ \t])(?![ \t]*<)[^;{}]*;")
_INSTANTIATED_CLASS = re.compile(rb"template[ \t]+(?:class|struct)[ \t]+[\w:]+\s*<[^;{}]*>\s*;")
_EXTERN_BEFORE = re.compile(rb"(?<![\w])extern[ \t]+\Z")
_EXPLICIT_MACRO = re.compile(rb"explicit[ \t]+(" + _CAPS + rb")[ \t]+(?=[A-Za-z_]\w*\s*\()")
_DECLSPEC = re.compile(rb"__declspec\s*" + _ARGS)  # the grammar takes only the simplest forms
_MSVC_ASM = re.compile(rb"_asm\s*\{")  # MSVC `_asm {`/`__asm {`: not C++, and it has braces
_ARGS_AFTER = re.compile(rb"[ \t]*" + _ARGS)
_SIMPLE_TYPE = re.compile(
    rb"\(\s*(?:(?:const|volatile)\s+)*[A-Za-z_][\w:]*(?:\s*<[^()]*>)?(?:\s+(?:const|volatile))*\s*[*&]*\s*\)\Z"
)
_KEYWORDS_BEFORE_VALUE = frozenset(
    b"return case throw new delete sizeof alignof decltype co_return co_await co_yield else do and or not xor "
    b"typename template const volatile".split()
)
_PARAMETER_START = frozenset(b"(,<")
_LAST_WORD = re.compile(rb"([A-Za-z_]\w*)\s*\Z")
_BLOCK_START = frozenset([*b";{}", None])  # not `:`, which may start a base class list
_MACRO_LINE_AFTER = frozenset([*b";{}:>", None])  # `>`: after `template <...>`, a return type
_DECLARATION_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_~[}")


# Exception-handling macros that stand for the keywords (`BOOST_TRY {..} BOOST_CATCH(...) {..}
# BOOST_CATCH_END`, `JSON_TRY`, `QT_TRY`, `BOOST_RETHROW`): read as the try/catch they are, or a
# class whose destructor uses them loses every member declared after it.
# Found by their suffix (a literal, so `re` skips ahead in C); the prefix is one ALL_CAPS word.
_TRY_CATCH_SUFFIX = re.compile(rb"_(?P<kw>TRY|CATCH_END|CATCH|RETHROW)(?![A-Za-z0-9_])")
_CAPS_WORD_END = re.compile(rb"[A-Z][A-Z0-9]*\Z")


def _try_catch_macros(text: _Text) -> None:
    view = text.view
    for m in _TRY_CATCH_SUFFIX.finditer(view):
        prefix = _CAPS_WORD_END.search(view, max(0, m.start() - 32), m.start())
        if prefix is None or not _starts_word(view, prefix.start()):
            continue
        kw, start, end = m.group("kw"), prefix.start(), m.end()
        nxt = _next_significant(view, end)
        if kw == b"TRY" and nxt == ord("{"):
            text.replace(start, b"try".ljust(end - start))
        elif kw == b"CATCH" and nxt == ord("(") and _prev_significant(view, start - 1) == ord("}"):
            text.replace(start, b"catch".ljust(end - start))
        elif kw == b"CATCH_END":
            text.blank(start, end)
        elif kw == b"RETHROW" and end - start >= 6 and nxt != ord("("):
            text.replace(start, b"throw;".ljust(end - start))


# Loop macros over a range (`BOOST_FOREACH(T& x, items) {...}`, Qt's `Q_FOREACH`): read as the
# range-for they are (`for          (T& x: items)`), so the loop variable is a declaration and
# the loop a scope.
_FOREACH_SUFFIX = re.compile(rb"FOREACH[ \t]*\(")  # a literal first: `re` skips ahead in C
_FOREACH_NAMES = (b"BOOST_REVERSE_", b"BOOST_", b"Q_")


def _foreach_hits(view: bytearray):
    """(start of the macro name, end of it, its `(`) for each loop macro."""
    for m in _FOREACH_SUFFIX.finditer(view):
        for prefix in _FOREACH_NAMES:
            start = m.start() - len(prefix)
            if start >= 0 and view[start:m.start()] == prefix and _starts_word(view, start):
                yield start, m.start() + len(b"FOREACH"), m.end() - 1
                break


def _foreach_macros(text: _Text) -> None:
    view = text.view
    for start, word_end, open_at in _foreach_hits(view):
        close = _matching_close(view, open_at)
        if close is None:
            continue
        depth, comma = 0, None
        for i in range(open_at + 1, close):
            b = view[i]
            if b in b"([{<":
                depth += 1
            elif b in b")]}>":
                depth -= 1
            elif b == ord(",") and depth == 0:
                comma = i
        # Only when the loop variable is declared there (`T x`, `auto& x`): `BOOST_FOREACH(x, v)`
        # over an existing variable has no range-for spelling.
        if comma is None or len(bytes(view[open_at + 1:comma]).replace(b"&", b" & ").replace(b"*", b" * ").split()) < 2:
            continue
        text.replace(start, b"for".ljust(word_end - start))
        text.replace(comma, b":")


def _macros(text: _Text, globs: tuple[str, ...]) -> None:
    view = text.view
    _try_catch_macros(text)
    _foreach_macros(text)
    classes = _class_heads(text)
    # Before the macro lines go: a `BEGIN_X()`/`END_X()` pair at class scope is found by them.
    blank_class_scope_code(view, text.blank)
    _blank_glob_macros(text, globs)
    for m in _word_starts(_TEMPLATE_NO_PARAMS, view):
        extern = _EXTERN_BEFORE.search(view, max(0, m.start() - 16), m.start())
        if extern or _INSTANTIATED_CLASS.match(view, m.start()):
            text.blank(extern.start() if extern else m.start(), m.end())
    for m in _word_starts(_DECLSPEC, view):
        text.blank(m.start(), m.end())
    for m in _MSVC_ASM.finditer(view):
        start = m.start() - (m.start() > 0 and view[m.start() - 1] == ord("_"))
        close = _matching_close(view, m.end() - 1)
        if close is not None and _starts_word(view, start):
            text.blank(start, close + 1)
    for m in _word_starts(_EXPLICIT_MACRO, view):
        text.blank(m.start(1), m.end(1))
    for m in _MACRO_AFTER_PARAMS.finditer(view):
        text.blank(m.start(1), m.end(1))
    for pattern in (_MACRO_AFTER_QUALIFIERS, _MACRO_AFTER_QUALIFIERS):  # twice: `const A(x) B(y) {`
        for m in pattern.finditer(view):
            text.blank(m.start(1), m.end(1))
    for m in _CAPS_USE.finditer(view):
        rule = next(name for name in _CAPS_RULES if m.start(name) >= 0)
        if rule != "ctor" or m.group("ctor_name") is None or m.group("ctor_name") in classes:
            _CAPS_RULES[rule](text, m)
    # Reserved-name macros alone on a line (`_GLIBCXX_BEGIN_NAMESPACE_VERSION`): same rule as
    # an ALL_CAPS macro line; _CAPS_USE needs a letter first to stay fast.
    for m in _RESERVED_MACRO_LINE.finditer(view):
        _line_macro(text, _Word(m.start("w"), m.end("w")))


def _class_heads(text: _Text) -> set[bytes]:
    """Blank ALL_CAPS macros between `class`/`struct`/`union` and the name
    (`struct FOO_EXPORT name final : base`); return the class names seen."""
    view = text.view
    names = set()
    for pattern in _CLASS_HEADS:
        for m in _word_starts(pattern, view):
            names.add(m.group("name").rsplit(b"::", 1)[-1])
            for c in _CAPS_IN_HEAD.finditer(view, m.start("attrs"), m.end("attrs")):
                if _starts_word(view, c.start()):
                    text.blank(c.start(), c.end())
    return names


def _starts_word(view: bytearray, pos: int) -> bool:
    return pos == 0 or view[pos - 1] not in _WORD_BYTES


def _word_starts(pattern: re.Pattern, view: bytearray):
    """Matches of `pattern` that start at the beginning of a word."""
    return (m for m in pattern.finditer(view) if _starts_word(view, m.start()))


def _blank_whole(text: _Text, m: re.Match) -> None:
    text.blank(m.start(), m.end())


def _type_macro(text: _Text, m: re.Match) -> None:
    """`f(FOO(Type) name` -> `f(    Type  name`: in a parameter list, a macro around a plain
    type decorates it (adds `&&`, say). Anywhere else the whole call goes (a specifier)."""
    args = m.group("args").lstrip()
    if _SIMPLE_TYPE.match(args) and _prev_significant(text.view, m.start() - 1) in _PARAMETER_START:
        open_at = m.end("args") - len(args)
        text.blank(m.start(), open_at + 1)
        text.blank(m.end("args") - 1, m.end("args"))
    else:
        text.blank(m.start(), m.end())


_RESERVED_MACRO_LINE = re.compile(rb"(?m)^[ \t]*(?P<w>_+[A-Z][A-Z0-9_]*)[ \t]*\r?$")


class _Word:
    """The part of a match-like object `_line_macro` reads."""

    def __init__(self, start: int, end: int):
        self._start, self._end = start, end

    def start(self) -> int:
        return self._start

    def end(self) -> int:
        return self._end


def _default_macro(text: _Text, m: re.Match) -> None:
    prev = _LAST_WORD.search(text.view, max(0, m.start() - 64), m.start())
    if prev and prev.group(1) not in _KEYWORDS_BEFORE_VALUE and m.start() > prev.end():
        text.blank(m.start(), m.end())


def _block_macro(text: _Text, m: re.Match) -> None:
    if _prev_significant(text.view, m.start() - 1) in _BLOCK_START:
        text.blank(m.start(), m.end())


def _line_macro(text: _Text, m: re.Match) -> None:
    """Blank a macro line that stands for a whole declaration or statement: it starts its
    line, where a declaration may start, and the next one starts after it."""
    view = text.view
    line_start = view.rfind(b"\n", 0, m.start()) + 1
    if view[line_start:m.start()].strip():
        return
    prev = _prev_significant(view, m.start() - 1)
    nxt = _next_significant(view, m.end())
    if prev not in _MACRO_LINE_AFTER or (nxt is not None and nxt not in _DECLARATION_START):
        return
    if prev == ord("{") and nxt == ord("}"):
        return  # `{ FOO }` is more likely a lone enumerator or initializer
    text.blank(m.start(), m.end())


_CAPS_RULES = {
    "keyword": _blank_whole,
    "type": _type_macro,
    "default": _default_macro,
    "block": _block_macro,
    "ctor": _blank_whole,
    "line": _line_macro,
}


def _blank_glob_macros(text: _Text, globs: tuple[str, ...]) -> None:
    """Blank identifiers named by the `ignore_macros` globs (with their arguments), except
    where they are clearly values (`a | FILE_ATTRIBUTE_HIDDEN`)."""
    if not globs:
        return
    candidates, full = _glob_regexes(globs)
    view = text.view
    last_end = -1
    for m in candidates.finditer(view):
        start, end = _word_around(view, m.start(), m.end())
        if start < last_end or not full.fullmatch(view, start, end):
            continue
        last_end = end
        if _in_expression(view, start, end):
            continue
        if view.endswith(b"THREAD_LOCAL", 0, end) and end - start >= len(b"thread_local"):
            # `FOO_THREAD_LOCAL int x;`: keep the storage class, it matters for lifetimes.
            text.replace(start, b"thread_local".ljust(end - start))
            continue
        args = _ARGS_AFTER.match(view, end)
        text.blank(start, args.end() if args else end)


# What comes before a value, never before an attribute or export macro.
_EXPRESSION_BEFORE = frozenset(b"=&|(,!?+-*/%<^~[.")
_VALUE_AFTER_START = frozenset(b"=,}")
_RETURN_OR_CASE = re.compile(rb"(?<![\w])(?:return|case)\s*\Z")


def _in_expression(view: bytearray, start: int, end: int) -> bool:
    """Whether the identifier at [start, end) is used as a value: an operand, an argument,
    an enumerator (`enum { FOO_DEPRECATED = 1 }`), a `case` label or a member."""
    prev = _prev_significant(view, start - 1)
    if prev in _BLOCK_START:  # first in a statement or an enumerator list: `FOO_X = 1`, `{ FOO_X }`
        return _next_significant(view, end) in _VALUE_AFTER_START
    if prev in _EXPRESSION_BEFORE or (prev == ord(":") and view[start - 2:start] == b"::"):
        return True
    return _RETURN_OR_CASE.search(view, max(0, start - 16), start) is not None


_WORD = re.compile(rb"\w*")


def _word_around(view: bytearray, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to the whole identifier it lies in."""
    while start > 0 and view[start - 1] in _WORD_BYTES:
        start -= 1
    return start, _WORD.match(view, end).end()


@functools.lru_cache(maxsize=32)
def _glob_regexes(globs: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern]:
    """(candidate finder, whole-identifier matcher) for fnmatch-style globs. The finder looks
    for each glob's longest literal piece, so the scan costs about a literal search; a glob
    without one falls back to trying every identifier."""
    literals: list[bytes] | None = []
    wholes = []
    for g in globs:
        wholes.append(_glob_to_regex(g))
        pieces = [p for p in re.split(r"[*?]|\[[^\]]*\]", g) if p]
        if not pieces:
            literals = None
        elif literals is not None:
            literals.append(re.escape(max(pieces, key=len)).encode())
    finder = rb"[A-Za-z_]\w*" if literals is None else b"|".join(sorted(set(literals), key=len, reverse=True))
    return re.compile(finder), re.compile(b"|".join(b"(?:" + w + b")" for w in wholes))


def _glob_to_regex(glob: str) -> bytes:
    out = []
    i = 0
    while i < len(glob):
        c = glob[i]
        if c == "*":
            out.append(r"\w*")
        elif c == "?":
            out.append(r"\w")
        elif c == "[" and "]" in glob[i + 1:]:
            j = glob.index("]", i + 1)
            body = glob[i + 1:j]
            body = body.replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out).encode()


