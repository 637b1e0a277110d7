"""Plain data that flows between the stages: spans from the parser, findings from rules.

Everything here is picklable (facts cross process boundaries and live in the cache).
Spans are tree-sitter coordinates: 0-based rows, byte columns, byte offsets. Reporters
convert to 1-based lines and character columns once, at the end (see `Location`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import NamedTuple


_tuple_new = tuple.__new__


class Span(NamedTuple):
    """A tuple, not a frozen dataclass: facts make hundreds of thousands of these, and a frozen
    dataclass's __init__ costs several times a tuple's (and pickles larger)."""

    start_byte: int
    end_byte: int
    start_row: int
    start_col: int  # byte column, 0-based
    end_row: int
    end_col: int

    @classmethod
    def of(cls, node) -> "Span":
        """Span of a tree-sitter node."""
        (sr, sc), (er, ec) = node.start_point, node.end_point
        # tuple.__new__ directly: the generated NamedTuple __new__ is one more Python call, and
        # this runs for about every other node of a function body.
        return _tuple_new(cls, (node.start_byte, node.end_byte, sr, sc, er, ec))

    @property
    def line(self) -> int:
        """1-based first line, for messages."""
        return self.start_row + 1

    def contains(self, other: "Span") -> bool:
        return self.start_byte <= other.start_byte and other.end_byte <= self.end_byte

    def contains_byte(self, byte: int) -> bool:
        return self.start_byte <= byte < self.end_byte


# Spans loaded from a pickle (lifelint.cache.loads: the facts a worker sends, a cache entry) share
# their int objects: a pickle writes each int out in full and loading makes a new object per int,
# so the positions of every span of every file (about 1.6M ints beyond the small-int cache on
# squid, 32 bytes each) were separate objects, though the distinct values are few (86k on squid:
# byte offsets and rows up to the largest file's). One table for the process, values only: it
# keeps no fact alive, and `lifelint.cache.loads` empties it once it holds more than
# SPAN_INTS_MAX values (a long-lived process scanning ever larger files).
_SPAN_INTS: dict[int, int] = {}
SPAN_INTS_MAX = 1 << 20


def _span_from_pickle(start_byte, end_byte, start_row, start_col, end_row, end_col, _share=_SPAN_INTS.setdefault):
    """A Span rebuilt by lifelint.cache.loads, its offsets and rows shared through _SPAN_INTS
    (columns are mostly under 257: Python's own small ints)."""
    return _tuple_new(Span, (_share(start_byte, start_byte), _share(end_byte, end_byte), _share(start_row, start_row),
                             start_col, _share(end_row, end_row), end_col))


class Level(str, enum.Enum):
    NOTE = "note"
    WARNING = "warning"
    ERROR = "error"

    def at_least(self, other: "Level") -> bool:
        """Severity order (note < warning < error), not the strings' order."""
        return _LEVEL_RANK[self] >= _LEVEL_RANK[Level(other)]


_LEVEL_RANK = {Level.NOTE: 0, Level.WARNING: 1, Level.ERROR: 2}


class Precision(str, enum.Enum):
    VERY_HIGH = "very-high"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Related:
    """A second place that explains a finding: where the lock ends, where the owner dies."""

    span: Span
    message: str
    path: str | None = None  # None: same file as the finding


@dataclass(slots=True)
class Finding:
    """What a rule yields. `path` is filled in by the engine."""

    code: str
    message: str
    span: Span
    related: tuple[Related, ...] = ()
    path: str = ""
    level: Level | None = None  # None: the rule's default level
    # The message in three parts (see `MessageParts`): `message` is the headline; `why` and
    # `fix` may be left empty, and are then split off a long `message` by `split_message`.
    why: str = ""
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based, character-column location, ready for humans and SARIF."""

    path: str  # relative to the scan root, forward slashes
    line: int
    col: int
    end_line: int
    end_col: int  # column after the last character


@dataclass(slots=True)
class ReportedFinding:
    """A finding after filtering, with everything reporters need."""

    code: str
    name: str
    level: Level
    message: str
    location: Location
    related: list[tuple[Location, str]]
    fingerprint: str  # stable across unrelated line shifts (see fingerprint.py)
    line_hash: str  # GitHub primaryLocationLineHash
    source_line: str  # the primary line's text, for code frames
    why: str = ""  # why it is a hazard (one or two sentences), shown as a note
    fix: str = ""  # the remedy, shown as `help:`
    # Why it is not reported, when it is kept only for SARIF: ("inSource" | "external", justification).
    suppression: tuple[str, str] | None = None

    @property
    def full_message(self) -> str:
        """Headline, why and fix as one text (for formats that have one message field)."""
        return " ".join(p for p in (self.message, self.why, self.fix) if p)


@dataclass(slots=True)
class FileDiagnostic:
    """A file lifelint could not (fully) analyse: one line, the scan goes on."""

    path: str
    kind: str  # "unreadable", "binary", "encoding", "too-large", "syntax", "symlink-loop", "internal"
    message: str
    share: float | None = None  # for "syntax": the fraction of the file the parser could not read


@dataclass(slots=True)
class ScanResult:
    root: str
    findings: list[ReportedFinding] = field(default_factory=list)
    diagnostics: list[FileDiagnostic] = field(default_factory=list)
    files_scanned: int = 0
    lines_scanned: int = 0
    suppressed: int = 0
    baselined: int = 0
    unused_suppressions: list[tuple[Location, str]] = field(default_factory=list)
    # Findings an inline suppression or the baseline hid (`ReportedFinding.suppression` says which).
    hidden: list[ReportedFinding] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)  # reported file -> its line count
    context_files: int = 0  # files read only for their facts (the context root), not reported on
    notes: list[str] = field(default_factory=list)  # run-level remarks for the summary (why exit 1, ...)


# --- message parts -------------------------------------------------------------------------------
# A finding's message reads as three parts: a one-sentence headline (what and where), why it is a
# hazard, and the fix. A rule may fill `Finding.why` / `Finding.fix` itself; a rule that writes one
# long message gets it split here, by its sentences: the last sentence is the fix, the first the
# headline, the ones between the why; a first sentence too long for a headline is cut at its first
# `: ` or `; ` outside backquotes, the rest joining the why.

HEADLINE_MAX = 120
_SENTENCE_END = frozenset(".!?")


def _top_level(text: str):
    """(index, char) of the characters of `text` outside backquotes and brackets: where a
    sentence or a clause can end."""
    depth, quoted = 0, False
    for i, ch in enumerate(text):
        if ch == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0:
            yield i, ch


def _sentences(text: str) -> list[str]:
    """Sentences of `text`: a `.`/`!`/`?` outside backquotes and parentheses, followed by a space
    and a capital letter, a backquote or an opening parenthesis, ends one."""
    out, start = [], 0
    n = len(text)
    for i, ch in _top_level(text):
        if ch in _SENTENCE_END and i + 2 < n and text[i + 1] == " " and (text[i + 2].isupper() or text[i + 2] in "`("):
            out.append(text[start:i + 1].strip())
            start = i + 2
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _cut_clause(sentence: str) -> tuple[str, str]:
    """(head, rest) at the first `: ` or `; ` outside backquotes and parentheses; rest is '' when
    there is none."""
    for i, ch in _top_level(sentence):
        if ch in ":;" and sentence[i + 1:i + 2] == " " and i > 20:
            return sentence[:i], sentence[i + 2:].strip()
    return sentence, ""


def _capital(s: str) -> str:
    return s[:1].upper() + s[1:] if s and s[0].islower() else s


def _period(s: str) -> str:
    s = s.strip()
    return s if not s or s[-1] in ".!?" else s + "."


def split_message(text: str) -> tuple[str, str, str]:
    """(headline, why, fix) of a one-string message (see the comment above)."""
    text = " ".join(text.split())
    sentences = _sentences(text)
    if not sentences:
        return "", "", ""
    fix = sentences.pop() if len(sentences) >= 2 else ""
    head, why_parts = sentences[0], sentences[1:]
    if len(head) > HEADLINE_MAX:
        first, rest = _cut_clause(head)
        if rest:
            head = first.rstrip(",") + "."
            why_parts.insert(0, _capital(_period(rest)))
    return _period(head), " ".join(why_parts), fix


def message_parts(f: Finding) -> tuple[str, str, str]:
    """(headline, why, fix) of a rule's finding; the headline fitted to HEADLINE_MAX."""
    if f.why or f.fix:
        head, why, fix = f.message, f.why, f.fix
    else:
        head, why, fix = split_message(f.message)
    return fit_headline(" ".join(head.split())), why, fix


NAME_MIN = 12  # a name is never cut shorter than this (plus the ellipsis)


def short_name(name: str, limit: int = 40) -> str:
    """`name` on one line, cut to `limit` characters with an ellipsis (for names and expressions
    quoted in a message: a long expression must not push the sentence past its length)."""
    name = " ".join(name.split())
    return name if len(name) <= limit else name[:max(1, limit - 1)].rstrip() + "…"


def fit_headline(text: str, limit: int = HEADLINE_MAX) -> str:
    """`text` with its longest backquoted names shortened until it fits `limit` characters: the
    sentence stays whole, only names lose their tails (`very_long_name…`)."""
    while len(text) > limit:
        spans = [(m.end() - m.start(), m.start(), m.end()) for m in re.finditer(r"`[^`]+`", text)]
        if not spans:
            break
        n, a, b = max(spans)
        inner = n - 2
        if inner <= NAME_MIN:
            break
        keep = max(NAME_MIN, inner - (len(text) - limit))
        text = text[:a] + "`" + short_name(text[a + 1:b - 1], keep) + "`" + text[b:]
    return text
