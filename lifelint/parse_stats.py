"""How much of a code base the grammar can read: share of bytes inside ERROR/MISSING nodes.

Used to measure the C++ pre-pass (`lifelint parse-stats`, or `python -m lifelint.parse_stats`),
with `--no-prepass` for the raw grammar figure.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Iterable, TextIO

from lifelint.discovery import language_of
from lifelint.facts.common import error_ranges
from lifelint.settings import CppSettings



@dataclass(slots=True)
class FileStat:
    path: str
    language: str
    size: int
    error_bytes: int
    code_bytes: int = 0  # non-whitespace bytes of the file
    blanked_bytes: int = 0  # of those, how many the C++ pre-pass blanked

    @property
    def share(self) -> float:
        return self.error_bytes / self.size if self.size else 0.0


@dataclass(slots=True)
class ParseStats:
    files: list[FileStat] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def error_bytes(self) -> int:
        return sum(f.error_bytes for f in self.files)

    @property
    def blanked_bytes(self) -> int:
        return sum(f.blanked_bytes for f in self.files)

    @property
    def code_bytes(self) -> int:
        return sum(f.code_bytes for f in self.files)

    @property
    def files_with_errors(self) -> int:
        return sum(1 for f in self.files if f.error_bytes)

    def worst(self, n: int) -> list[FileStat]:
        bad = [f for f in self.files if f.error_bytes]
        return sorted(bad, key=lambda f: (-f.share, -f.error_bytes, f.path))[:n]


def syntax_message(facts, data: bytes) -> tuple[str, float | None] | None:
    """The "syntax" diagnostic of one analysed file: (message, share of the file unparsed), or
    None when it parsed cleanly. A class the grammar closed early is said first: it is what
    decides which members a rule sees (share None: never folded into the "small parts" line)."""
    if not facts.error_ranges:
        return None
    first_err = data.count(b"\n", 0, facts.error_ranges[0][0]) + 1
    share = facts.error_bytes / max(1, len(data))
    broken = getattr(facts.cpp, "broken_classes", None) or []
    if broken:
        b = broken[0]
        close_line = data.count(b"\n", 0, b.end_byte) + 1
        more = f" (and {len(broken) - 1} more class{'es' if len(broken) > 2 else ''})" if len(broken) > 1 else ""
        return (f"the class structure could not be parsed: `{b.name}` (line {b.span.start_row + 1}) was cut off at line "
                f"{b.span.end_row + 1}, before its closing brace at line {close_line}{more}; the members after the cut "
                f"were kept in the class by brace matching, and nothing is reported from the unparsed parts", None)
    return (f"{_share_text(share, facts.error_bytes)} of the file could not be parsed (first at line {first_err}); "
            "nothing is reported from those parts", share)


def _share_text(share: float, nbytes: int) -> str:
    """`12.5%`, `0.25%`, or `under 0.1% (7 bytes)`: never a `0.0%` next to a failing line."""
    pct = 100.0 * share
    if pct < 0.1:
        return f"under 0.1% ({nbytes} byte{'s' if nbytes != 1 else ''})"
    return f"{pct:.2f}%" if pct < 1 else f"{pct:.1f}%"


def iter_sources(paths: Iterable[str]) -> Iterable[str]:
    """The files `lifelint check` would scan for these paths (same discovery and ignores)."""
    from pathlib import Path

    from lifelint.discovery import discover

    return [src.path for src in discover(list(paths), Path.cwd(), []).files]


_WHITESPACE = b" \t\r\n\f\v"


def stat_file(path: str, cpp_options: CppSettings | None, prepass: bool = True) -> FileStat | None:
    from lifelint import parsing

    lang = language_of(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    seen = parsing.prepare(lang, data, cpp_options) if prepass else data
    tree = parsing.parser(lang).parse(seen)
    bad = sum(e - s for s, e in error_ranges(tree.root_node))
    code = len(data.translate(None, _WHITESPACE))
    blanked = code - len(seen.translate(None, _WHITESPACE)) if seen is not data else 0
    return FileStat(path, lang, len(data), min(bad, len(data)), code, max(blanked, 0))


def collect(paths: Iterable[str], cpp_options: CppSettings | None = None, prepass: bool = True) -> ParseStats:
    stats = ParseStats()
    for path in iter_sources(paths):
        st = stat_file(path, cpp_options, prepass)
        if st is not None:
            stats.files.append(st)
    return stats


def _pct(part: int, whole: int) -> str:
    if not whole:
        return "0.0%"
    share = 100.0 * part / whole
    return f"{share:.2f}%" if 0 < share < 1 else f"{share:.1f}%"


def report(stats: ParseStats, out: TextIO, worst: int = 20) -> None:
    # "error bytes" comes first: scripts read the first percentage printed.
    out.write(f"error bytes: {_pct(stats.error_bytes, stats.total_bytes)} "
              f"({stats.error_bytes} of {stats.total_bytes})\n")
    langs = {lang: sum(1 for f in stats.files if f.language == lang) for lang in ("cpp", "rust")}
    out.write(f"files: {len(stats.files)} (C++ {langs['cpp']}, Rust {langs['rust']})\n")
    out.write(f"files with errors: {stats.files_with_errors} ({_pct(stats.files_with_errors, len(stats.files))})\n")
    if stats.blanked_bytes:
        out.write(f"blanked by the pre-pass: {_pct(stats.blanked_bytes, stats.code_bytes)} of non-blank bytes\n")
    rows = stats.worst(worst)
    if rows:
        out.write(f"worst {len(rows)} files:\n")
        for f in rows:
            out.write(f"  {100.0 * f.share:5.1f}%  {f.error_bytes:7d} B  {f.path}\n")


def run(paths: list[str], cpp_options: CppSettings | None = None, prepass: bool = True, worst: int = 20,
        out: TextIO | None = None) -> ParseStats:
    stats = collect(paths, cpp_options, prepass)
    report(stats, out or sys.stdout, worst)
    return stats


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m lifelint.parse_stats", description=__doc__)
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--no-prepass", action="store_true", help="Parse the raw bytes (no C++ pre-pass).")
    ap.add_argument("--worst", type=int, default=20, help="How many of the worst files to list.")
    ap.add_argument("-D", "--define", action="append", default=[], metavar="NAME[=VALUE]")
    args = ap.parse_args(argv)
    run(args.paths, settings_with_defines(args.define), not args.no_prepass, args.worst)
    return 0


def settings_with_defines(defines: Iterable[str], base: CppSettings | None = None) -> CppSettings:
    """CppSettings plus `-D NAME[=VALUE]` definitions (bare NAME means 1)."""
    settings = dataclasses.replace(base, defines=dict(base.defines)) if base else CppSettings()
    for d in defines:
        name, _, value = d.partition("=")
        settings.defines[name.strip()] = value.strip() if value else "1"
    return settings


if __name__ == "__main__":
    sys.exit(main())
