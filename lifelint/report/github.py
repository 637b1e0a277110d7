"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request.

    ::warning file=src/a.cpp,line=3,col=10,endLine=3,endColumn=26,title=LL108 noop-deallocator::message

Levels map to `::error` / `::warning` / `::notice`; related locations are appended to the
message as `note:` lines; file diagnostics and unused suppressions become notices / warnings.
Data is escaped as the runner expects (`%`, CR, LF), property values also `:` and `,`.
"""

from __future__ import annotations

from typing import Mapping, Sequence, TextIO

from lifelint.model import Level, Location, ScanResult
from lifelint.report import plural, sorted_diagnostics, sorted_findings, sorted_unused

COMMAND = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "notice"}


def escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _safe(s: str) -> str:
    # A file name that is not UTF-8 holds lone surrogates; they cannot be written to the log.
    return s.encode("utf-8", "replace").decode("utf-8")


def command(kind: str, message: str, **props: object) -> str:
    """One workflow command line; properties in the order given, `None` values left out."""
    parts = [f"{k}={escape_property(_safe(str(v)))}" for k, v in props.items() if v is not None]
    head = f"::{kind} {','.join(parts)}" if parts else f"::{kind}"
    return f"{head}::{escape_data(_safe(message))}"


def _position(loc: Location) -> dict[str, object]:
    """GitHub uses columns only for single-line annotations."""
    props: dict[str, object] = {"file": loc.path, "line": loc.line}
    if loc.end_line > loc.line:
        props["endLine"] = loc.end_line
    else:
        props.update(col=loc.col, endLine=loc.line, endColumn=max(loc.end_col, loc.col + 1))
    return props


def render(result: ScanResult, rules: Sequence[type], stream: TextIO, *, color: bool = False,
           sources: Mapping[str, list[str]] | None = None) -> None:
    findings = sorted_findings(result)
    for f in findings:
        message = f.message
        for loc, msg in f.related:
            message += f"\nnote: {loc.path}:{loc.line}:{loc.col}: {msg}"
        stream.write(command(COMMAND.get(f.level, "warning"), message, **_position(f.location),
                             title=f"{f.code} {f.name}") + "\n")
    for d in sorted_diagnostics(result):
        stream.write(command("notice", d.message, file=d.path, title=f"lifelint {d.kind}") + "\n")
    for loc, msg in sorted_unused(result):
        stream.write(command("warning", f"unused suppression: {msg}", file=loc.path, line=loc.line, col=loc.col,
                             title="lifelint unused-suppression") + "\n")
    files_with = len({f.location.path for f in findings})
    stream.write(f"lifelint: {plural(len(findings), 'finding')} in {plural(files_with, 'file')} "
                 f"({plural(result.files_scanned, 'file')} scanned).\n")
