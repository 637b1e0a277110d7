"""Fingerprints that let a finding be recognised again after the file around it changes.

Two kinds:

- `line_hash`: GitHub code scanning's `primaryLocationLineHash`, computed the way
  github/codeql-action (`src/fingerprints.ts`) computes it when `upload-sarif` fills it in.
  Emitting the same value ourselves keeps alerts stable for uploads that do not compute it (the
  REST API) and never makes `upload-sarif` warn about an inconsistent fingerprint.

  For every line: a polynomial hash (base 37, 64-bit wraparound) over the next 100 characters
  starting at the line start, where spaces and tabs are skipped, CR and CRLF count as one LF,
  characters are UTF-16 code units (JavaScript strings), and the file is followed by one
  end-of-file mark (0xFFFF) and zeros. The value is `"<hex>:<n>"`, n being 1 for the first line
  with that hash in the file, 2 for the second, and so on.

- `finding_fingerprint`: lifelint's own, for baselines and `partialFingerprints["lifelint/v1"]`.
  It hashes the rule code, the path and the whitespace-normalised text of the primary line (plus
  optional context such as the enclosing function), never a line number, so inserting or deleting
  unrelated lines leaves it unchanged; `occurrence` tells identical lines apart.
"""

from __future__ import annotations

import array
import functools
import itertools
import hashlib
import sys
from typing import Sequence

_BLOCK = 100
_BASE = 37
_MASK = (1 << 64) - 1
_FIRST_MOD = pow(_BASE, _BLOCK, 1 << 64)  # weight of the character leaving the window
_EOF = 0xFFFF
_TAB, _SPACE, _LF, _CR = 9, 32, 10, 13
_DROP_BLANKS = str.maketrans("", "", " \t")


def file_line_hashes(text: str) -> list[str]:
    """`primaryLocationLineHash` of every line of `text`; index 0 is line 1.

    Lines are counted the GitHub way (LF, CR and CRLF all end a line); after a final line break
    there is one more (empty) line, as in codeql-action.
    """
    # The input as codeql-action sees it: UTF-16 code units, blanks dropped, line ends as LF,
    # one end-of-file mark. Done with str methods (C speed): CRLF and lone CR become LF first,
    # then spaces and tabs go ("\r \n" is two line ends either way, as in codeql-action).
    norm = text.replace("\r\n", "\n").replace("\r", "\n").translate(_DROP_BLANKS)
    units = array.array("H", norm.encode("utf-16-le", "surrogatepass"))
    if sys.byteorder == "big":
        units.byteswap()
    units.append(_EOF)
    stream = units.tolist()
    # A line starts at 0 and after every LF (the EOF mark guarantees something follows).
    starts = [0]
    i = norm.find("\n")
    while i != -1:
        starts.append(i + 1)
        i = norm.find("\n", i + 1)
    if not norm.isascii():  # non-BMP characters are two UTF-16 units: recount in units
        starts = [0] + [k + 1 for k, c in enumerate(stream) if c == _LF]
    # Window hashes from prefix hashes: with P[i] the hash of stream[:i], the window at s is
    # P[s + 100] - P[s] * 37**100 (mod 2**64). accumulate() runs the recurrence at C-loop speed.
    stream.extend([0] * _BLOCK)
    mask = _MASK
    prefix = [0, *itertools.accumulate(stream, lambda h, c, b=_BASE: (h * b + c) & mask)]
    first = _FIRST_MOD
    window_hash = {s: (prefix[s + _BLOCK] - prefix[s] * first) & mask for s in starts}

    out: list[str] = []
    counts: dict[str, int] = {}
    for s in starts:
        value = format(window_hash[s], "x")
        counts[value] = counts.get(value, 0) + 1
        out.append(f"{value}:{counts[value]}")
    return out


@functools.lru_cache(maxsize=16)
def _hashes_of(text: str) -> tuple[str, ...]:
    return tuple(file_line_hashes(text))


def line_hash(lines: Sequence[str], line_no: int) -> str:
    """GitHub's `primaryLocationLineHash` for 1-based `line_no` of a file given as its lines.

    `lines` is the file split at "\\n" (`text.split("\\n")`, so a trailing "\\r" may remain and a
    final empty string marks a final newline) or split keeping line ends (`readlines()`); either
    way the original text is rebuilt exactly. Results are cached per file text, so asking for
    many lines of one file costs one pass. A line number past the end gets the hash of the last
    line (codeql-action would leave it unset; ours must be a non-empty string).
    """
    if lines and all(ln.endswith("\n") for ln in lines[:-1]):
        text = "".join(lines)
    else:
        text = "\n".join(lines)
    hashes = _hashes_of(text)
    idx = min(max(line_no, 1), len(hashes)) - 1
    return hashes[idx]


def normalise_line(text: str) -> str:
    """A line's text with all whitespace runs collapsed: indentation and spacing changes do not
    change a fingerprint."""
    return " ".join(text.split())


def finding_fingerprint(code: str, path: str, line_text: str, context: str = "", occurrence: int = 0) -> str:
    """Stable identity of a finding: `"<16 hex digits>:<occurrence>"`.

    Depends on the rule code, the path (forward slashes), the normalised primary line text and an
    optional `context` string (e.g. the enclosing function's signature), not on line numbers.
    `occurrence` counts earlier findings of the same code on identical lines in the same file.
    """
    key = "\x1f".join(("lifelint/v1", code.upper(), path.replace("\\", "/"), normalise_line(line_text), normalise_line(context)))
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{digest}:{occurrence}"
