"""Tree helpers shared by the extractors. Iterative walks: real code nests deeper than
Python's recursion limit."""

from __future__ import annotations

from typing import Iterator

from lifelint.model import Span

COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment"})


def walk(node) -> Iterator:
    """Pre-order walk over every node under `node` (inclusive)."""
    cursor = node.walk()  # the cursor cannot leave `node`: goto_parent fails at it
    while True:
        yield cursor.node
        if cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return


def walk_pruned(node, prune: frozenset[str]) -> Iterator:
    """Pre-order walk that does not descend into nodes whose type is in `prune`
    (the pruned node itself is yielded)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if n.type in prune and n is not node:
            continue
        stack.extend(reversed(n.children))


def text(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None else ""


def collect_comments_and_errors(root, facts) -> None:
    from lifelint.facts import Comment

    errors: list[tuple[int, int]] = []
    for n in walk(root):
        t = n.type
        if t in COMMENT_TYPES:
            prev = n.prev_sibling
            own_line = prev is None or prev.end_point[0] < n.start_point[0]
            facts.comments.append(Comment(Span.of(n), text(n), own_line))
        elif t == "ERROR" or n.is_missing:
            errors.append((n.start_byte, max(n.end_byte, n.start_byte + 1)))
    # Merge nested/overlapping error ranges so counts and lookups stay cheap.
    errors.sort()
    merged: list[tuple[int, int]] = []
    for s, e in errors:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    facts.error_ranges = merged
    facts.error_bytes = sum(e - s for s, e in merged)
