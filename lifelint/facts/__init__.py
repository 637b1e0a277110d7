"""Per-file facts: what rules read instead of raw syntax trees.

`extract_facts` is the one entry point. It is pure (bytes in, facts out) so it can run in a
worker process and be cached by content hash. Each language section is produced by its own
extractor module; a rule that needs something new extends the extractor, and the next rule
gets it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lifelint.model import Span


@dataclass(slots=True)
class Comment:
    span: Span
    text: str
    own_line: bool = False  # nothing but whitespace before it on its line


@dataclass(slots=True)
class FileFacts:
    path: str  # display path, relative to the scan root
    language: str  # "cpp" or "rust"
    line_count: int
    comments: list[Comment] = field(default_factory=list)
    # Byte ranges of ERROR / MISSING nodes: rules must not report from inside them.
    error_ranges: list[tuple[int, int]] = field(default_factory=list)
    error_bytes: int = 0
    cpp: Any = None  # lifelint.facts.cpp.CppFacts
    rust: Any = None  # lifelint.facts.rust.RustFacts
    # lifelint.crates.Crate: the Cargo package a Rust file belongs to (None: none above it). Where
    # the file is, not what it says: set from the discovered path (lifelint.engine), and part of the
    # file's cache key.
    crate: Any = None

    def in_error(self, span: Span) -> bool:
        """True when `span` overlaps a region the parser could not make sense of."""
        for start, end in self.error_ranges:
            if span.start_byte < end and start < span.end_byte:
                return True
        return False

    def comments_between(self, start_byte: int, end_byte: int) -> list[Comment]:
        return [c for c in self.comments if start_byte <= c.span.start_byte and c.span.end_byte <= end_byte]


def extract_facts(path: str, language: str, data: bytes, tree, settings=None) -> FileFacts:
    """`settings`: lifelint.settings.Settings (None: defaults)."""
    from lifelint.facts import common

    facts = FileFacts(path=path, language=language, line_count=data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1))
    common.collect_comments_and_errors(tree.root_node, facts)
    if language == "cpp":
        from lifelint.facts import cpp

        facts.cpp = cpp.extract(tree.root_node, data, facts, settings.cpp if settings is not None else None)
    elif language == "rust":
        from lifelint.facts import rust

        facts.rust = rust.extract(tree.root_node, data, facts)
    return facts
