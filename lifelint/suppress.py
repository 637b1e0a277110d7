"""Inline suppressions.

    // lifelint: ignore[LL108] -- reason            the statement or declaration it is on or above
    // lifelint: ignore[LL1, noop-deallocator]      codes, code prefixes and rule names
    // lifelint: ignore-begin[LL102] -- reason      ... every line up to the matching
    // lifelint: ignore-end                         (ends the innermost open begin)
    // lifelint: ignore-file[LL303] -- reason       the whole file
    // NOLINT(lifelint-LL102)                       clang-tidy habits: NOLINT / NOLINTNEXTLINE /
    // NOLINTBEGIN(lifelint-LL102) ... NOLINTEND    NOLINTBEGIN / NOLINTEND with `lifelint-`
                                                    checks; a bare NOLINT suppresses nothing

A comment on a line of its own covers the statement or declaration that starts on the next code
line, all of its lines (a multi-line call, a whole function); a trailing comment covers the
statement from its own line to that statement's end. A `lifelint:` comment that is none of the
above is reported as a malformed directive (kind "directive"), never silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from lifelint.facts import FileFacts
from lifelint.model import FileDiagnostic, Span

DIRECTIVE = re.compile(r"lifelint:\s*(?P<kind>ignore-begin|ignore-end|ignore-file|ignore)\b\s*(?:\[(?P<sel>[^\]]*)\])?"
                       r"(?:\s*--\s*(?P<reason>.*))?", re.IGNORECASE)
MENTION = re.compile(r"(?<![\w-])lifelint:", re.IGNORECASE)
NOLINT = re.compile(r"\bNOLINT(?P<kind>NEXTLINE|BEGIN|END)?\b(?:\((?P<checks>[^)]*)\))?")
MAX_STATEMENT_ROWS = 400  # a statement longer than this is covered only this far


@dataclass(slots=True)
class Suppression:
    span: Span  # the comment
    target_row: int  # 0-based first row it covers
    selectors: list[str]
    reason: str | None
    used: set[str] = field(default_factory=set)
    last_row: int | None = None  # last row covered (None: until resolved by the index)
    kind: str = "ignore"  # ignore | begin | file | nolint


def _matches(selector: str, code: str, name: str) -> bool:
    sel = selector.strip()
    if re.fullmatch(r"LL\d{0,3}", sel, re.IGNORECASE):  # a code or a code prefix
        return code.startswith(sel.upper())
    return sel.lower() == name


def _selectors(raw: str | None) -> list[str]:
    return [s.strip() for s in (raw or "").split(",") if s.strip()]


def _reason(raw: str | None) -> str | None:
    return (raw or "").strip().rstrip("*/").strip() or None


def statement_end(lines: list[str], start_row: int) -> int:
    """The last row of the statement or declaration starting at `start_row`: the first `;` at
    bracket depth 0, or the `}` closing a block opened at depth 0; strings and comments skipped."""
    depth = 0
    opened_block = False
    in_block_comment = False
    last = min(len(lines), start_row + MAX_STATEMENT_ROWS)
    for row in range(start_row, last):
        line = lines[row]
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if in_block_comment:
                j = line.find("*/", i)
                if j < 0:
                    break
                in_block_comment, i = False, j + 2
                continue
            if ch == "/" and line.startswith("//", i):
                break
            if ch == "/" and line.startswith("/*", i):
                in_block_comment, i = True, i + 2
                continue
            if ch == '"':
                j = i + 1
                while j < n and line[j] != '"':
                    j += 2 if line[j] == "\\" else 1
                i = j + 1
                continue
            if ch == "'" and (line[i + 2:i + 3] == "'" or line[i + 1:i + 2] == "\\"):
                j = line.find("'", i + 2 if line[i + 1:i + 2] != "\\" else i + 3)
                i = (j + 1) if j > 0 else n
                continue
            if ch in "([{":
                if ch == "{" and depth == 0:
                    opened_block = True
                depth += 1
            elif ch in ")]}":
                depth = max(0, depth - 1)
                if ch == "}" and depth == 0 and opened_block:
                    return row
            elif ch == ";" and depth == 0:
                return row
            i += 1
    return max(start_row, min(last, len(lines)) - 1) if depth else start_row


def suppressions_of(facts: FileFacts) -> list[Suppression]:
    """The `ignore[...]` directives of a file (the simple form, without statement extents)."""
    return SuppressionIndex(facts).items


class SuppressionIndex:
    """The suppressions of one file. `lines` gives the file's text lines when a directive needs
    them (statement extents); without it a directive covers its target row only."""

    def __init__(self, facts: FileFacts, lines: Callable[[], list[str]] | None = None):
        self.path = facts.path
        self.items: list[Suppression] = []
        self.problems: list[tuple[Span, str]] = []  # malformed directives
        self._lines_fn = lines
        self._lines: list[str] | None = None
        self._parse(facts)
        self.by_row: dict[int, list[Suppression]] = {}
        self.whole_file: list[Suppression] = [s for s in self.items if s.kind == "file"]
        for s in self.items:
            if s.kind == "file":
                continue
            end = s.last_row if s.last_row is not None else s.target_row
            for row in range(s.target_row, end + 1):
                self.by_row.setdefault(row, []).append(s)

    def _text(self) -> list[str]:
        if self._lines is None:
            self._lines = self._lines_fn() if self._lines_fn is not None else []
        return self._lines

    def _extent(self, row: int) -> int:
        lines = self._text()
        return statement_end(lines, row) if 0 <= row < len(lines) else row

    def _parse(self, facts: FileFacts) -> None:
        own_rows = {c.span.start_row for c in facts.comments if c.own_line}
        open_begins: list[Suppression] = []

        def next_code_row(c) -> int:
            row = c.span.end_row + 1
            while row in own_rows:  # a stack of comments: skip to the code they sit on
                row += 1
            return row

        for c in facts.comments:
            text = c.text
            if "NOLINT" in text:
                self._nolint(c, next_code_row, open_begins)
            if not MENTION.search(text):
                continue
            m = DIRECTIVE.search(text)
            if m is None:
                self.problems.append((c.span, "malformed `lifelint:` directive (expected `lifelint: ignore[LL108]`, "
                                      "`ignore-begin[...]` / `ignore-end`, or `ignore-file[...]`)"))
                continue
            kind = m.group("kind").lower()
            sel, reason = _selectors(m.group("sel")), _reason(m.group("reason"))
            if kind == "ignore-end":
                if open_begins:
                    s = open_begins.pop()
                    s.last_row = c.span.start_row
                else:
                    self.problems.append((c.span, "`lifelint: ignore-end` without an `ignore-begin[...]` before it"))
                continue
            if not sel:
                self.problems.append((c.span, f"`lifelint: {kind}` names no rule: write the codes or names in brackets, "
                                      f"e.g. `lifelint: {kind}[LL108]`"))
                continue
            if kind == "ignore-file":
                self.items.append(Suppression(c.span, 0, sel, reason, kind="file"))
            elif kind == "ignore-begin":
                s = Suppression(c.span, c.span.start_row, sel, reason, kind="begin")
                self.items.append(s)
                open_begins.append(s)
            else:
                row = next_code_row(c) if c.own_line else c.span.start_row
                self.items.append(Suppression(c.span, row, sel, reason, last_row=self._extent(row)))
        for s in open_begins:
            self.problems.append((s.span, "`lifelint: ignore-begin[...]` without a matching `ignore-end`: it covers the rest of the file"))
            s.last_row = max(len(self._text()), facts.line_count, s.target_row + 1) - 1

    def _nolint(self, c, next_code_row, open_begins) -> None:
        for m in NOLINT.finditer(c.text):
            checks = [x.strip() for x in (m.group("checks") or "").split(",")]
            mine = [x[len("lifelint-"):] for x in checks if x.lower().startswith("lifelint-")]
            if any(x == "*" for x in mine):
                mine = ["LL"]
            kind = (m.group("kind") or "").upper()
            if kind == "END":
                if m.group("checks") is None or mine:
                    for s in reversed(open_begins):
                        if s.kind == "nolint-begin":
                            open_begins.remove(s)
                            s.last_row = c.span.start_row
                            break
                continue
            if not mine:  # a bare NOLINT, or one for other tools' checks: not ours
                continue
            if kind == "BEGIN":
                s = Suppression(c.span, c.span.start_row, mine, None, kind="nolint-begin")
                self.items.append(s)
                open_begins.append(s)
            elif kind == "NEXTLINE":
                row = c.span.end_row + 1
                self.items.append(Suppression(c.span, row, mine, None, last_row=row, kind="nolint"))
            else:
                row = c.span.start_row
                self.items.append(Suppression(c.span, row, mine, None, last_row=row, kind="nolint"))

    def match(self, code: str, name: str, span: Span) -> Suppression | None:
        """The suppression that covers a finding of this rule at `span` (all that match are
        marked used), or None."""
        hit = None
        for s in (*self.by_row.get(span.start_row, ()), *self.whole_file):
            for sel in s.selectors:
                if _matches(sel, code, name):
                    s.used.add(sel)
                    hit = hit or s
        return hit

    def suppresses(self, code: str, name: str, span: Span) -> bool:
        return self.match(code, name, span) is not None

    def diagnostics(self) -> list[FileDiagnostic]:
        return [FileDiagnostic(self.path, "directive", f"line {span.start_row + 1}: {why}") for span, why in self.problems]

    def unused(self, enabled: dict[str, str], known: dict[str, str]) -> list[tuple[Suppression, str]]:
        """(directive, why) for selectors that name no rule at all, or an enabled rule that
        matched no finding (code -> name maps). A selector for a disabled rule is not unused."""
        out = []
        for s in self.items:
            for sel in s.selectors:
                if sel in s.used:
                    continue
                if not any(_matches(sel, code, name) for code, name in known.items()):
                    out.append((s, f"unknown rule {sel!r}"))
                elif any(_matches(sel, code, name) for code, name in enabled.items()):
                    out.append((s, f"{sel} matched no finding"))
        return out
