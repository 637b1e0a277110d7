"""Reporters: turn a `ScanResult` into text, JSON, SARIF, GitHub workflow commands or an HTML page.

Every reporter has the same signature:

    render(result, rules, stream, *, color=False, sources=None) -> None

`rules` are the enabled rule classes (SARIF lists them all in `rules[]`, in code order).
`sources` maps a finding's path to the file's lines (for code frames); a path missing from it is
read relative to `result.root`, and a file that cannot be read just gets no frame.
Every reporter orders its output deterministically: path, line, column, code, message.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from lifelint.model import FileDiagnostic, ReportedFinding, ScanResult

if TYPE_CHECKING:
    from lifelint.registry import Rule

Renderer = Callable[..., None]


def sorted_findings(result: ScanResult) -> list[ReportedFinding]:
    def key(f: ReportedFinding):
        loc = f.location
        return (loc.path, loc.line, loc.col, f.code, loc.end_line, loc.end_col, f.message, f.fingerprint)

    return sorted(result.findings, key=key)


def sorted_diagnostics(result: ScanResult) -> list[FileDiagnostic]:
    return sorted(result.diagnostics, key=lambda d: (d.path, d.kind, d.message))


def sorted_unused(result: ScanResult):
    return sorted(result.unused_suppressions, key=lambda u: (u[0].path, u[0].line, u[0].col, u[1]))


def counts_by_rule(findings: Sequence[ReportedFinding]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        out[f.code] = out.get(f.code, 0) + 1
    return dict(sorted(out.items()))


def rule_list(rules: Sequence[type["Rule"]], findings: Sequence[ReportedFinding] = ()) -> list[type["Rule"]]:
    """The enabled rules in code order, plus any rule a finding names that is not among them
    (so every result has a rule to point at)."""
    by_code = {r.code: r for r in rules}
    missing = sorted({f.code for f in findings} - set(by_code))
    if missing:
        from lifelint.registry import rule_by_code

        for code in missing:
            r = rule_by_code(code)
            if r is not None:
                by_code[r.code] = r
    return [by_code[c] for c in sorted(by_code)]


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


class SourceCache:
    """Lines of reported files: from `sources` when given, else read under `root` (errors: None)."""

    def __init__(self, root: str, sources: Mapping[str, list[str]] | None = None):
        self.root = root
        self.sources = sources or {}
        self._read: dict[str, list[str] | None] = {}

    def lines(self, path: str) -> list[str] | None:
        if path in self.sources:
            return [ln.rstrip("\r\n") for ln in self.sources[path]]
        if path not in self._read:
            self._read[path] = self._load(path)
        return self._read[path]

    def _load(self, path: str) -> list[str] | None:
        full = path if os.path.isabs(path) else os.path.join(self.root, path)
        try:
            with open(full, "rb") as fh:
                data = fh.read(64 * 1024 * 1024)
        except (OSError, ValueError):
            return None
        return [ln.rstrip("\r") for ln in data.decode("utf-8", "replace").split("\n")]

    def line(self, path: str, line_no: int) -> str | None:
        lines = self.lines(path)
        if lines is None or not 1 <= line_no <= len(lines):
            return None
        return lines[line_no - 1]


def _text(result, rules, stream, **kw):
    from lifelint.report import text

    text.render(result, rules, stream, **kw)


def _concise(result, rules, stream, **kw):
    from lifelint.report import concise

    concise.render(result, rules, stream, **kw)


def _statistics(result, rules, stream, **kw):
    from lifelint.report import concise

    concise.render_statistics(result, rules, stream, **kw)


def _json(result, rules, stream, **kw):
    from lifelint.report import json_report

    json_report.render(result, rules, stream, **kw)


def _sarif(result, rules, stream, **kw):
    from lifelint.report import sarif

    sarif.render(result, rules, stream, **kw)


def _github(result, rules, stream, **kw):
    from lifelint.report import github

    github.render(result, rules, stream, **kw)


def _html(result, rules, stream, **kw):
    from lifelint.report import html

    html.render(result, rules, stream, **kw)


REPORTERS: dict[str, Renderer] = {
    "text": _text,
    "concise": _concise,
    "statistics": _statistics,
    "json": _json,
    "sarif": _sarif,
    "github": _github,
    "html": _html,
}

__all__ = ["REPORTERS", "Renderer", "SourceCache", "counts_by_rule", "plural", "rule_list",
           "sorted_diagnostics", "sorted_findings", "sorted_unused"]
