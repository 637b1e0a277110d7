"""Human output: one header per finding, a code frame with `^^^` under the span, `note:` lines
for related locations, file diagnostics, a summary table by rule and a totals line.

    src/disk.cpp:3:10: LL108 [noop-deallocator] free_disk_buffer() takes a pointer and frees nothing
      1 | struct allocator_iface { ... };
      2 | struct backend : allocator_iface {
      3 |     void free_disk_buffer(char* b) override {
        |          ^^^^^^^^^^^^^^^^
      4 |         // the storage owns the buffers
    note: src/disk.cpp:9:5: the holder frees it here
      9 |     holder.reset();
        |     ^^^^^^

With color=False the output holds no ANSI escape codes at all.
"""

from __future__ import annotations

import unicodedata
from typing import Mapping, Sequence, TextIO

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lifelint.model import Level, Location, ScanResult
from lifelint.report import SourceCache, counts_by_rule, plural, rule_list, sorted_diagnostics, sorted_findings, sorted_unused

CONTEXT_BEFORE = 2
CONTEXT_AFTER = 1
MAX_SPAN_LINES = 4  # lines of a multi-line span shown before eliding
TAB = 4

LEVEL_STYLE = {Level.ERROR: "bold red", Level.WARNING: "bold yellow", Level.NOTE: "bold cyan"}
GUTTER_STYLE = "bold blue"
NOTE_STYLE = "bold cyan"


def _clean(s: str) -> str:
    """Control characters (an ESC in a source line, say) and lone surrogates (a file name that is
    not UTF-8) shown as U+FFFD, one for one, so they cannot reach the terminal or break its
    encoding, and carets stay aligned; tabs are kept for `_display`."""
    return "".join("\ufffd" if (ch != "\t" and unicodedata.category(ch) in ("Cc", "Cs")) else ch for ch in s)


def _one_line(s: str) -> str:
    """Messages are one line in the header: line breaks become spaces."""
    return _clean(" ".join(s.splitlines()) if ("\n" in s or "\r" in s) else s)


def _display(line: str) -> str:
    return _clean(line).expandtabs(TAB)


def _cells(s: str) -> int:
    return cell_len(_display(s))


def _frame(lines: list[str] | None, loc: Location, fallback: str | None, *, before: int, after: int, level_style: str,
           span_lines: int = MAX_SPAN_LINES) -> list[Text]:
    """Numbered source lines around `loc` with carets under the span's first line."""
    if lines is None or not 1 <= loc.line <= len(lines):
        if fallback is None:
            return []
        lines_map = {loc.line: fallback.rstrip("\r\n")}
        first = last = loc.line
    else:
        span_last = min(max(loc.end_line, loc.line), loc.line + span_lines - 1)
        first = max(1, loc.line - before)
        last = min(len(lines), span_last + after)
        lines_map = {n: lines[n - 1] for n in range(first, last + 1)}
    width = len(str(last))
    out: list[Text] = []
    for n in range(first, last + 1):
        src = lines_map[n]
        row = Text()
        row.append(f"{n:>{width}} | ", style=GUTTER_STYLE)
        row.append(_display(src))
        out.append(row)
        if n == loc.line:
            start = max(0, loc.col - 1)
            end = loc.end_col - 1 if loc.end_line == loc.line else len(src)
            end = max(end, start)
            pad = _cells(src[:start])
            marks = max(1, _cells(src[:end]) - pad)
            caret = Text()
            caret.append(f"{'':>{width}} | ", style=GUTTER_STYLE)
            caret.append(" " * pad + "^" * marks, style=level_style)
            out.append(caret)
    if lines is not None and span_lines > 1 and loc.end_line > loc.line + span_lines - 1 and last < len(lines):
        row = Text()
        row.append(f"{'':>{width}} | ", style=GUTTER_STYLE)
        row.append("...")
        out.append(row)
    return out


def _where(loc: Location) -> str:
    return f"{_clean(loc.path)}:{loc.line}:{loc.col}"


MINOR_SYNTAX_SHARE = 0.05


def render(result: ScanResult, rules: Sequence[type], stream: TextIO, *, color: bool = False,
           sources: Mapping[str, list[str]] | None = None, width: int | None = None) -> None:
    is_tty = color and getattr(stream, "isatty", lambda: False)()
    console = Console(file=stream, force_terminal=color, no_color=not color, color_system="auto" if color else None,
                      width=width or (None if is_tty else 100), highlight=False, markup=False, emoji=False,
                      soft_wrap=True, legacy_windows=False)
    cache = SourceCache(result.root, sources)
    findings = sorted_findings(result)

    for f in findings:
        style = LEVEL_STYLE.get(f.level, "bold")
        head = Text()
        head.append(_where(f.location), style="bold")
        head.append(": ")
        head.append(f.code, style=style)
        head.append(" ")
        head.append(f"[{f.name}]", style="dim" if color else "")
        head.append(" ")
        head.append(_one_line(f.message), style="bold")
        rows = [head]
        rows += _frame(cache.lines(f.location.path), f.location, f.source_line,
                       before=CONTEXT_BEFORE, after=CONTEXT_AFTER, level_style=style)
        for loc, msg in f.related:
            note = Text()
            note.append("note", style=NOTE_STYLE)
            note.append(f": {_where(loc)}: {_one_line(msg)}")
            rows.append(note)
            rows += _frame(cache.lines(loc.path), loc, None, before=0, after=0, level_style=NOTE_STYLE, span_lines=1)
        rows.append(Text())
        console.print(Text("\n").join(rows))  # one write per finding: thousands of findings stay fast

    diags = sorted_diagnostics(result)
    # Small unparsed islands (a macro the pre-pass could not blank) are routine in real C++: list
    # files that lost a real share, count the rest. JSON and SARIF carry every one.
    minor = [d for d in diags if d.kind == "syntax" and d.share is not None and d.share < MINOR_SYNTAX_SHARE]
    diags = [d for d in diags if d not in minor]
    if minor:
        row = Text()
        row.append(f"{plural(len(minor), 'file')}: ", style="bold")
        row.append("syntax", style="bold magenta")
        row.append(f": small parts (under {MINOR_SYNTAX_SHARE:.0%} of each file) could not be parsed; nothing is reported "
                   "from those parts (`--format json` lists them, `lifelint parse-stats` ranks them)")
        console.print(row)
    for d in diags:
        row = Text()
        row.append(f"{_clean(d.path)}: ", style="bold")
        row.append(d.kind, style="bold magenta")
        row.append(f": {_one_line(d.message)}")
        console.print(row)
    for loc, msg in sorted_unused(result):
        row = Text()
        row.append(f"{_where(loc)}: ", style="bold")
        row.append("unused suppression", style="bold yellow")
        row.append(f": {_one_line(msg)}")
        console.print(row)
    if diags or result.unused_suppressions:
        console.print()

    if findings:
        names = {r.code: r.name for r in rule_list(rules, findings)}
        names.update({f.code: f.name for f in findings})
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold" if color else "")
        table.add_column("Code")
        table.add_column("Name")
        table.add_column("Count", justify="right")
        for code, n in counts_by_rule(findings).items():
            table.add_row(code, names.get(code, ""), str(n))
        console.print(table)
        console.print()

    files_with = len({f.location.path for f in findings})
    extras = []
    if result.suppressed:
        extras.append(f"{result.suppressed} suppressed")
    if result.baselined:
        extras.append(f"{result.baselined} baselined")
    if result.diagnostics:
        extras.append(plural(len(result.diagnostics), "file diagnostic"))
    tail = f"; {', '.join(extras)}" if extras else ""
    total = Text()
    if findings:
        total.append(plural(len(findings), "finding"), style="bold red" if any(f.level == Level.ERROR for f in findings) else "bold yellow")
        total.append(f" in {plural(files_with, 'file')} ({plural(result.files_scanned, 'file')}, "
                     f"{plural(result.lines_scanned, 'line')} scanned{tail}).")
    else:
        total.append("No findings", style="bold green")
        total.append(f" in {plural(result.files_scanned, 'file')} ({plural(result.lines_scanned, 'line')} scanned{tail}).")
    console.print(total)
