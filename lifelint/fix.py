"""`check --fix`: mechanical fixes, applied only when the result is certain (`--diff` previews).

LL201 (C++): a plain `bool` (or `volatile bool`) stop flag becomes `std::atomic<bool>`, and
`#include <atomic>` is added when the file lacks it. Reads (`if (flag)`, `!flag`) and plain
stores (`flag = true`) stay valid on an atomic, so only the declaration changes. The fix is
certain only when the declaration line is one declarator of a non-static, non-extern `bool`
(`bool name;`, `bool name = false;`, `bool name{true};`), and the file uses the flag in no way an
atomic does not allow: its address taken (`&name`), a compound assignment (`name |= x`), a
`bool&` bound to it (`std::swap`, `std::exchange`). Anything else is left for a person.

LL102 (C++, unsafe: only with `--unsafe-fixes`): `[this]` becomes `[self = shared_from_this()]`
and the body's member uses go through `self`, in classes deriving from `enable_shared_from_this`
(lifelint.fix_shared_self says when it is certain).

Known limits: a class whose flag becomes atomic is no longer copyable; a copy elsewhere in the
project will not compile (the compiler says so at once, naming the flag).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass

from lifelint.model import ReportedFinding, ScanResult

FIXABLE = ("LL201",)
UNSAFE_FIXABLE = ("LL102",)
CPP_SUFFIXES = (".cc", ".cpp", ".cxx", ".c++", ".h", ".hh", ".hpp", ".hxx", ".ipp", ".inl", ".tpp")
_DECL = re.compile(r"^(?P<indent>\s*)(?P<mut>mutable\s+)?(?:volatile\s+)?bool(?:\s+volatile)?\s+(?P<name>[A-Za-z_]\w*)\s*"
                   r"(?P<init>=\s*(?:true|false)|\{\s*(?:true|false)?\s*\})?\s*;(?P<rest>.*)$")
_INCLUDE = re.compile(r"^\s*#\s*include\s*[<\"]")
_HAS_ATOMIC = re.compile(r"^\s*#\s*include\s*<atomic>", re.MULTILINE)


def _unsafe_use(name: str) -> re.Pattern:
    n = re.escape(name)
    # a unary `&` (not `a && name`, not `a & name`): after an operator or an opening bracket
    return re.compile(rf"(?:^|[^&\w)\]\s])\s*&\s*(?:this\s*->\s*)?{n}\b|\b{n}\s*(?:\|=|&=|\^=)|\b(?:swap|exchange|tie)\s*\([^;]*\b{n}\b|\bbool\s*&\s*\w+\s*=\s*{n}\b")


@dataclass(slots=True)
class FileFix:
    path: str  # display path
    full: str  # as opened
    before: str
    after: str
    fixed: list[ReportedFinding]

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True),
                                            f"a/{self.path}", f"b/{self.path}"))


def _fix_line(line: str) -> str | None:
    """The declaration as a `std::atomic<bool>`, or None when it is not one certain shape."""
    m = _DECL.match(line)
    if not m:
        return None
    init = m.group("init") or ""
    value = re.search(r"true|false", init)
    brace = "{" + (value.group(0) if value else "") + "}" if init or value else ""
    mut = m.group("mut") or ""
    return f"{m.group('indent')}{mut}std::atomic<bool> {m.group('name')}{brace};{m.group('rest')}"


def _declared_extern(name: str, result: ScanResult) -> bool:
    pat = re.compile(rf"\bextern\b[^;]*\bbool\s+{re.escape(name)}\b")
    for p in result.scanned:
        full = p if os.path.isabs(p) else os.path.join(result.root, p)
        try:
            with open(full, encoding="utf-8", errors="replace") as fh:
                if pat.search(fh.read()):
                    return True
        except OSError:
            continue
    return False


def _add_include(lines: list[str]) -> list[str]:
    """`#include <atomic>` after the last top-of-file include (else after `#pragma once`, else first)."""
    last = None
    for i, ln in enumerate(lines[:400]):
        if _INCLUDE.match(ln):
            last = i
    if last is None:
        last = next((i for i, ln in enumerate(lines[:50]) if re.match(r"^\s*#\s*pragma\s+once", ln)), -1)
    return lines[:last + 1] + ["#include <atomic>"] + lines[last + 1:]


def _apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    data = text.encode("utf-8")
    for start, end, new in sorted(edits, reverse=True):
        data = data[:start] + new.encode("utf-8") + data[end:]
    return data.decode("utf-8")


def unsafe_available(result: ScanResult, open_path=None) -> int:
    """How many findings an unsafe fix would fix (the hint `--fix` gives without `--unsafe-fixes`)."""
    return sum(len(fx.fixed) for fx in plan(result, open_path, unsafe=True, only=UNSAFE_FIXABLE))


def plan(result: ScanResult, open_path=None, *, unsafe: bool = False, only: tuple[str, ...] | None = None) -> list[FileFix]:
    """The certain fixes for the result's findings, one FileFix per file; `unsafe`: the unsafe
    fixes too (LL102)."""
    codes = only or (FIXABLE + (UNSAFE_FIXABLE if unsafe else ()))
    by_file: dict[str, list[ReportedFinding]] = {}
    for f in result.findings:
        if f.code in codes and f.location.path.lower().endswith(CPP_SUFFIXES):
            by_file.setdefault(f.location.path, []).append(f)
    out = []
    for path, findings in sorted(by_file.items()):
        full = open_path(path) if open_path else (path if os.path.isabs(path) else os.path.join(result.root, path))
        try:
            with open(full, encoding="utf-8", newline="") as fh:
                before = fh.read()
        except (OSError, UnicodeDecodeError):
            continue
        newline = "\r\n" if "\r\n" in before else "\n"
        text, fixed = before, []
        unsafe_findings = [f for f in findings if f.code in UNSAFE_FIXABLE]
        if unsafe_findings:
            from lifelint import fix_shared_self

            try:
                edits, done, _ = fix_shared_self.plan_edits(before.encode("utf-8"), path, unsafe_findings)
            except Exception:  # a fix never crashes the run: not fixable
                edits, done = [], []
            text = _apply_edits(before, edits)
            fixed += done
        lines = text.split(newline)
        for f in findings:
            if f.code not in FIXABLE:
                continue
            row = f.location.line - 1
            if not 0 <= row < len(lines):
                continue
            m = _DECL.match(lines[row])
            name = lines[row][f.location.col - 1:f.location.end_col - 1]
            if not m or m.group("name") != name:
                continue
            if _unsafe_use(name).search(before):
                continue
            if not m.group("indent") and _declared_extern(name, result):
                continue  # a global another file declares `extern bool`: it would no longer link
            new = _fix_line(lines[row])
            if new is None:
                continue
            lines[row] = new
            fixed.append(f)
        if not fixed:
            continue
        if any(f.code == "LL201" for f in fixed) and not _HAS_ATOMIC.search(before):
            lines = _add_include(lines)
        out.append(FileFix(path, full, before, newline.join(lines), fixed))
    return out


def apply(fixes: list[FileFix]) -> int:
    """Write the fixed files; returns the number of findings fixed."""
    n = 0
    for fx in fixes:
        with open(fx.full, "w", encoding="utf-8", newline="") as fh:
            fh.write(fx.after)
        n += len(fx.fixed)
    return n
