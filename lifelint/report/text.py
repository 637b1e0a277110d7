"""Human output: per finding a one-sentence headline, one frame holding the primary line (`^^^`
under the span) and the lines of the related locations (`---` under theirs, their message after
the marks; spans on one line share it), the why as `= note:` and the fix as `= help:` (each
distinct text once per rule: the same advice is not repeated for every finding); then file
diagnostics, a summary table by rule and a totals line.

    src/disk.cpp:11:5: LL106 [container-invalidation] `p` points into `v[0]` and is used after `v.push_back()`.
     9 |     int* p = &v[0];
       |              ----- pointer taken here
    10 |     v.push_back(1);
       |       --------- `v` may reallocate here
    11 |     *p = 2;
       |     ^^
      = note: `v` may now point into freed memory.
      = help: Fetch it again after the change, or keep an index instead.

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


def _markers(src: str, spans: list[tuple[int, int, str]]) -> tuple[int, str]:
    """(pad, marks) under one source line: `spans` are (first col, col after, mark) 1-based
    character columns; earlier spans win where they overlap (the primary goes first)."""
    cells: dict[int, str] = {}
    for start, end, mark in spans:
        a = _cells(src[:max(0, start - 1)])
        b = max(a + 1, _cells(src[:max(0, end - 1)]))
        for c in range(a, b):
            cells.setdefault(c, mark)
    if not cells:
        return 0, ""
    lo, hi = min(cells), max(cells)
    return lo, "".join(cells.get(c, " ") for c in range(lo, hi + 1))


def _span_on_line(loc: Location, src: str, line_no: int) -> tuple[int, int]:
    """The part of `loc` on line `line_no` (1-based character columns, end exclusive)."""
    start = loc.col if loc.line == line_no else len(src) - len(src.lstrip()) + 1
    end = loc.end_col if loc.end_line == line_no else len(src) + 1
    return start, max(end, start + 1)


def _snippet(cache: SourceCache, f, style: str) -> list[Text]:
    """The finding's lines, each shown once: the primary line with `^` under its span, then the
    lines of its related locations (in their order) with `-` under theirs and their messages
    after the marks; several spans on one line share that line (frames on the same line merge)."""
    groups: dict[tuple[str, int], list[tuple[Location, str | None]]] = {}
    prim = f.location
    groups[(prim.path, prim.line)] = [(prim, None)]
    for loc, msg in f.related:
        if loc.path == prim.path and loc.line < prim.line <= loc.end_line:
            # A related span running through the primary's line (the call a lambda is handed
            # to) is drawn on that line: one frame line instead of two.
            groups[(prim.path, prim.line)].append((loc, msg))
        else:
            groups.setdefault((loc.path, loc.line), []).append((loc, msg))
    # In source order: the primary's file first, then other files as the related locations name them.
    files = list(dict.fromkeys(path for path, _ in groups))
    groups = dict(sorted(groups.items(), key=lambda kv: (files.index(kv[0][0]), kv[0][1])))
    width = len(str(max(line for _, line in groups)))
    rows: list[Text] = []
    shown_path = f.location.path
    for (path, line_no), items in groups.items():
        lines = cache.lines(path)
        if lines is not None and 1 <= line_no <= len(lines):
            src = lines[line_no - 1]
        elif (path, line_no) == (f.location.path, f.location.line) and f.source_line:
            src = f.source_line.rstrip("\r\n")
        else:
            for loc, msg in items:
                if msg is not None:
                    note = Text("  ")
                    note.append("note", style=NOTE_STYLE)
                    note.append(f": {_where(loc)}: {_one_line(msg)}")
                    rows.append(note)
            continue
        if path != shown_path:
            where = Text(f"{'':>{width}} ::: ", style=GUTTER_STYLE)
            where.append(_clean(path))
            rows.append(where)
            shown_path = path
        row = Text()
        row.append(f"{line_no:>{width}} | ", style=GUTTER_STYLE)
        row.append(_display(src))
        rows.append(row)
        spans = [(*_span_on_line(loc, src, line_no), "^" if msg is None else "-") for loc, msg in items]
        pad, marks = _markers(src, spans)
        caret = Text()
        caret.append(f"{'':>{width}} | ", style=GUTTER_STYLE)
        caret.append(" " * pad)
        for ch in marks:
            caret.append(ch, style=style if ch == "^" else (NOTE_STYLE if ch == "-" else ""))
        labels = [_one_line(msg) for _, msg in items if msg]
        if labels:
            caret.append(" " + "; ".join(labels), style=NOTE_STYLE)
        rows.append(caret)
    return rows


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

    said: set[tuple[str, str, str]] = set()  # (code, "note"/"help", text) already printed
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
        rows += _snippet(cache, f, style)
        # The why and the fix of a rule read the same for many findings: each distinct text is
        # printed once, at the first finding that has it.
        for kind, text in (("note", f.why), ("help", f.fix)):
            if text and (f.code, kind, text) not in said:
                said.add((f.code, kind, text))
                row = Text("  = ")
                row.append(kind, style=NOTE_STYLE if kind == "note" else "bold green")
                row.append(f": {_one_line(text)}")
                rows.append(row)
        console.print(Text("\n").join(rows))  # one write per finding: thousands of findings stay fast

    if findings:
        console.print()
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
    for note in result.notes:
        console.print(Text(f"lifelint: {_one_line(note)}"))
    if diags or result.unused_suppressions or result.notes:
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
    if result.context_files:
        extras.append(f"facts read from {plural(result.context_files, 'more file')} in the context root")
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
