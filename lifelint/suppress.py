"""Inline suppressions: `// lifelint: ignore[LL108]` (or `ignore[noop-deallocator]`), several
selectors comma-separated, optional reason after `--`. A trailing comment covers its own
line; a comment on a line of its own covers the next code line."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lifelint.facts import FileFacts
from lifelint.model import Span

DIRECTIVE = re.compile(r"lifelint:\s*ignore\[([^\]]*)\](?:\s*--\s*(?P<reason>.*))?", re.IGNORECASE)


@dataclass(slots=True)
class Suppression:
    span: Span  # the comment
    target_row: int  # 0-based row it covers
    selectors: list[str]
    reason: str | None
    used: set[str] = field(default_factory=set)


def _matches(selector: str, code: str, name: str) -> bool:
    return selector.upper() == code or selector.lower() == name


def suppressions_of(facts: FileFacts) -> list[Suppression]:
    own_rows = {c.span.start_row for c in facts.comments if c.own_line}
    out = []
    for c in facts.comments:
        m = DIRECTIVE.search(c.text)
        if not m:
            continue
        selectors = [s.strip() for s in m.group(1).split(",") if s.strip()]
        if not selectors:
            continue
        row = c.span.start_row
        if c.own_line:
            row = c.span.end_row + 1
            while row in own_rows:  # a stack of comments: skip to the code they sit on
                row += 1
        reason = (m.group("reason") or "").strip().rstrip("*/").strip() or None
        out.append(Suppression(c.span, row, selectors, reason))
    return out


class SuppressionIndex:
    def __init__(self, facts: FileFacts):
        self.items = suppressions_of(facts)
        self.by_row: dict[int, list[Suppression]] = {}
        for s in self.items:
            self.by_row.setdefault(s.target_row, []).append(s)

    def match(self, code: str, name: str, span: Span) -> Suppression | None:
        """The suppression that covers a finding of this rule at `span` (all that match are
        marked used), or None."""
        hit = None
        for s in self.by_row.get(span.start_row, ()):
            for sel in s.selectors:
                if _matches(sel, code, name):
                    s.used.add(sel)
                    hit = hit or s
        return hit

    def suppresses(self, code: str, name: str, span: Span) -> bool:
        return self.match(code, name, span) is not None

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
