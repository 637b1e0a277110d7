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


# GitHub shows at most 10 annotations of each kind (error, warning, notice) per step; the rest
# are dropped silently. Past the cap, one notice says how many were left out and where to look.
ANNOTATION_CAP = 10


def render(result: ScanResult, rules: Sequence[type], stream: TextIO, *, color: bool = False,
           sources: Mapping[str, list[str]] | None = None, parse_gaps: bool = False,
           cap: int = ANNOTATION_CAP) -> None:
    findings = sorted_findings(result)
    lines: list[tuple[str, str]] = []  # (kind, command line)
    for f in findings:
        message = f.full_message
        for loc, msg in f.related:
            message += f"\nnote: {loc.path}:{loc.line}:{loc.col}: {msg}"
        kind = COMMAND.get(f.level, "warning")
        lines.append((kind, command(kind, message, **_position(f.location), title=f"{f.code} {f.name}")))
    gaps = 0
    for d in sorted_diagnostics(result):
        if d.kind == "syntax" and not parse_gaps:
            gaps += 1
            continue
        lines.append(("notice", command("notice", d.message, file=d.path, title=f"lifelint {d.kind}")))
    for loc, msg in sorted_unused(result):
        lines.append(("warning", command("warning", f"unused suppression: {msg}", file=loc.path, line=loc.line, col=loc.col,
                                         title="lifelint unused-suppression")))
    shown: dict[str, int] = {}
    left: dict[str, int] = {}
    for kind, line in lines:
        if shown.get(kind, 0) < cap:
            shown[kind] = shown.get(kind, 0) + 1
            stream.write(line + "\n")
        else:
            left[kind] = left.get(kind, 0) + 1
    if left:
        more = ", ".join(f"{n} more {k}{'' if n == 1 else 's'}" for k, n in sorted(left.items()))
        stream.write(command("notice", f"{more} not annotated (GitHub shows {cap} of each kind per step); "
                             "the job log and its summary list every finding, and `--format sarif` uploads them all",
                             title="lifelint: more findings") + "\n")
        for f in findings:  # every finding in the log, one line each, since some have no annotation
            loc = f.location
            stream.write(f"{loc.path}:{loc.line}:{loc.col}: {f.code} {f.message}\n")
    files_with = len({f.location.path for f in findings})
    tail = f"; {plural(gaps, 'file')} with unparsed parts, not annotated (--show-parse-gaps)" if gaps else ""
    stream.write(f"lifelint: {plural(len(findings), 'finding')} in {plural(files_with, 'file')} "
                 f"({plural(result.files_scanned, 'file')} scanned{tail}).\n")


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def step_summary(result: ScanResult, limit: int = 200) -> str:
    """The job summary (Markdown): totals, findings per rule, then the findings themselves."""
    from lifelint.report import counts_by_rule

    findings = sorted_findings(result)
    out = ["## lifelint", ""]
    files_with = len({f.location.path for f in findings})
    out.append(f"**{plural(len(findings), 'finding')}** in {plural(files_with, 'file')} "
               f"({plural(result.files_scanned, 'file')} scanned"
               + (f", {result.suppressed} suppressed" if result.suppressed else "")
               + (f", {result.baselined} baselined" if result.baselined else "") + ").")
    out.append("")
    for note in result.notes:
        out += [f"> {_md(note)}", ""]
    if findings:
        names = {f.code: f.name for f in findings}
        out += ["| rule | name | findings |", "|---|---|---:|"]
        out += [f"| {code} | {names[code]} | {n} |" for code, n in counts_by_rule(findings).items()]
        out += ["", "| where | rule | finding |", "|---|---|---|"]
        for f in findings[:limit]:
            loc = f.location
            out.append(f"| `{_md(loc.path)}:{loc.line}` | {f.code} | {_md(f.message)} |")
        if len(findings) > limit:
            out.append(f"| … | | {len(findings) - limit} more in the job log |")
    return "\n".join(out) + "\n"


def write_step_summary(result: ScanResult, path: str) -> None:
    """Append the summary to $GITHUB_STEP_SUMMARY's file; a failure to write it is not fatal."""
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(step_summary(result))
    except OSError:
        pass
