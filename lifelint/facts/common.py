"""Tree helpers shared by the extractors. Iterative walks: real code nests deeper than
Python's recursion limit."""

from __future__ import annotations

import sys

import functools
import re
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
    yield node
    cursor = node.walk()  # the cursor cannot leave `node`: goto_parent fails at it
    if not cursor.goto_first_child():
        return
    while True:
        n = cursor.node
        yield n
        if (not prune or n.type not in prune) and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent() or cursor.depth == 0:
                return


_intern = sys.intern


def text(node) -> str:
    """The node's source text. Short texts (names, types) are interned: a file repeats the same
    few hundred identifiers thousands of times, and one object each keeps the facts (and their
    pickles, which share repeated objects) a good deal smaller."""
    if node is None:
        return ""
    s = node.text.decode("utf-8", "replace")
    return _intern(s) if len(s) <= 48 else s


def error_ranges(root) -> list[tuple[int, int]]:
    """Merged byte ranges of ERROR / MISSING nodes under `root`, entering only subtrees whose
    `has_error` is set (cheap on mostly clean files)."""
    errors: list[tuple[int, int]] = []
    if root.has_error:
        stack = [root]
        while stack:
            n = stack.pop()
            if n.is_error or n.is_missing:
                errors.append((n.start_byte, max(n.end_byte, n.start_byte + 1)))
            stack.extend([c for c in n.children if c.has_error])
    # Merge nested/overlapping ranges so counts and lookups stay cheap.
    errors.sort()
    merged: list[tuple[int, int]] = []
    for s, e in errors:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def collect_comments_and_errors(root, facts) -> None:
    """Comments (in document order) and merged ERROR/MISSING byte ranges of the tree under
    `root`, into `facts.comments`, `facts.error_ranges` and `facts.error_bytes`.

    Not a walk over every node in Python (that cost as much as parsing): comments are found from
    their `//` and `/*` in the source, errors by entering only subtrees whose `has_error` is set."""
    from lifelint.facts import Comment

    comments = _comment_nodes(root)
    for n in comments:
        prev = n.prev_sibling
        own_line = prev is None or prev.end_point[0] < n.start_point[0]
        facts.comments.append(Comment(Span.of(n), text(n), own_line))
    merged = error_ranges(root)
    facts.error_ranges = merged
    facts.error_bytes = sum(e - s for s, e in merged)


# Every comment node of both grammars starts with one of these.
_COMMENT_START = re.compile(rb"/(?=[/*])")


def _comment_nodes(root) -> list:
    """Comment nodes under `root`, in document order. Candidates are the `//` and `/*` in the
    text the tree was parsed from; the tree says which of them start a comment (not a string,
    a preprocessor argument...). A found comment's body is skipped."""
    src = root.text
    if src is None:  # a tree parsed without its source bytes: the plain walk
        return [n for n in walk(root) if n.type in COMMENT_TYPES]
    base = root.start_byte
    search = _COMMENT_START.search
    lookup = root.descendant_for_byte_range
    found = []
    pos = 0
    while True:
        m = search(src, pos)
        if m is None:
            return found
        at = m.start()
        n = lookup(base + at, base + at + 2)
        # Rust comments hold their `//` / `/*` token as a child: climb to the comment.
        while n is not None and n.start_byte == base + at and n.type not in COMMENT_TYPES and not n.is_named:
            n = n.parent
        if n is not None and n.start_byte == base + at and n.type in COMMENT_TYPES:
            found.append(n)
            pos = max(n.end_byte - base, at + 1)
        else:
            pos = at + 1


@functools.cache
def _query(lang: str, pattern: str):
    from tree_sitter import Query

    from lifelint.parsing import language

    return Query(language(lang), pattern)


def captures(node, lang: str, pattern: str) -> dict[str, list]:
    """Run a tree-sitter query under `node` (in C: far cheaper than walking every node in
    Python). Returns capture name -> nodes, each list in document order."""
    from tree_sitter import QueryCursor

    found = QueryCursor(_query(lang, pattern)).captures(node)
    return {k: sorted(v, key=lambda n: n.start_byte) for k, v in found.items()}


# --- C++ preprocessor conditional blocks ------------------------------------------------------
# tree-sitter-cpp nests what an `#if`/`#ifdef`/`#else`/`#elif` (that the pre-pass kept: both
# branches live) holds under a node of its own, but a preprocessor conditional is no scope and
# no block: what it holds is in the scope (the class, the function body's block) around it.
PREPROC_BLOCKS = frozenset({"preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef"})


def scope_parent(node):
    """The nearest ancestor of `node` that is not a preprocessor conditional block (or None)."""
    p = node.parent
    while p is not None and p.type in PREPROC_BLOCKS:
        p = p.parent
    return p


def preproc_branch(block) -> list:
    """The statements of one branch of a preprocessor conditional (without its condition and the
    branches after it)."""
    skip = {c.id for c in (block.child_by_field_name("name"), block.child_by_field_name("condition"),
                           block.child_by_field_name("alternative")) if c is not None}
    return [c for c in block.named_children if c.id not in skip and c.type not in ("preproc_arg", "comment")]


def following(node):
    """The block `node` is a statement of (through preprocessor conditionals, see scope_parent)
    and the byte ranges that follow it there: the rest of `node`'s own branch, then the rest of the
    block after the conditional. Never another branch of the same conditional: only one of them
    is compiled, and code in it never runs after `node`. (block, ranges), or (None, []) when
    `node` has no parent."""
    ranges: list[tuple[int, int]] = []
    cur, p = node, node.parent
    while p is not None and p.type in PREPROC_BLOCKS:
        alt = p.child_by_field_name("alternative")
        if alt is None or alt.id != cur.id:  # (an #else/#elif: nothing of its #if runs after it)
            ranges.append((cur.end_byte, alt.start_byte if alt is not None else p.end_byte))
        cur, p = p, p.parent
    if p is None:
        return None, []
    ranges.append((cur.end_byte, p.end_byte))
    return p, ranges
