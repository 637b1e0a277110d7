"""Plain data that flows between the stages: spans from the parser, findings from rules.

Everything here is picklable (facts cross process boundaries and live in the cache).
Spans are tree-sitter coordinates: 0-based rows, byte columns, byte offsets. Reporters
convert to 1-based lines and character columns once, at the end (see `Location`).
"""

from __future__ import annotations

import enum
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


class Level(str, enum.Enum):
    NOTE = "note"
    WARNING = "warning"
    ERROR = "error"


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
