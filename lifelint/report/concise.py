"""One line per finding, for editors, greps and quick looks:

    src/disk.cpp:3:10: LL108 free_disk_buffer() takes a pointer and frees nothing

then one line per file diagnostic or unused suppression, and a totals line. `--statistics`
(`render_statistics`) prints the number of findings per rule instead.
"""

from __future__ import annotations

from typing import Mapping, Sequence, TextIO

from lifelint.model import ScanResult
from lifelint.report import counts_by_rule, plural, rule_list, sorted_diagnostics, sorted_findings, sorted_unused


def _one_line(s: str) -> str:
    return " ".join(s.split())


def totals(result: ScanResult) -> str:
    findings = result.findings
    extras = []
    if result.suppressed:
        extras.append(f"{result.suppressed} suppressed")
    if result.baselined:
        extras.append(f"{result.baselined} baselined")
    tail = f"; {', '.join(extras)}" if extras else ""
    scanned = f"{plural(result.files_scanned, 'file')} scanned{tail}"
    if not findings:
        return f"No findings ({scanned})."
    files_with = len({f.location.path for f in findings})
    return f"Found {plural(len(findings), 'finding')} in {plural(files_with, 'file')} ({scanned})."


def render(result: ScanResult, rules: Sequence[type], stream: TextIO, *, color: bool = False,
           sources: Mapping[str, list[str]] | None = None) -> None:
    for f in sorted_findings(result):
        loc = f.location
        stream.write(f"{loc.path}:{loc.line}:{loc.col}: {f.code} {_one_line(f.message)}\n")
    for d in sorted_diagnostics(result):
        if d.kind == "syntax" and d.share is not None and d.share < 0.05:
            continue  # routine unparsed islands; `--format json` lists them
        stream.write(f"{d.path}: {d.kind}: {_one_line(d.message)}\n")
    for loc, msg in sorted_unused(result):
        stream.write(f"{loc.path}:{loc.line}:{loc.col}: unused suppression: {_one_line(msg)}\n")
    for note in result.notes:
        stream.write(f"lifelint: {_one_line(note)}\n")
    stream.write(totals(result) + "\n")


def render_statistics(result: ScanResult, rules: Sequence[type], stream: TextIO, *, color: bool = False,
                      sources: Mapping[str, list[str]] | None = None) -> None:
    """Findings per rule, most first (ruff's `--statistics`)."""
    names = {r.code: r.name for r in rule_list(rules, result.findings)}
    names.update({f.code: f.name for f in result.findings})
    counts = sorted(counts_by_rule(result.findings).items(), key=lambda kv: (-kv[1], kv[0]))
    width = len(str(counts[0][1])) if counts else 1
    for code, n in counts:
        stream.write(f"{n:>{width}}\t{code}\t{names.get(code, '')}\n")
    for note in result.notes:
        stream.write(f"lifelint: {_one_line(note)}\n")
    stream.write(totals(result) + "\n")
