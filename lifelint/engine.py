"""The pipeline: files -> parse -> facts -> index -> rules -> findings -> suppressions ->
report-ready results. Per-file work is pure and runs in a process pool."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from lifelint import fingerprint
from lifelint.config import ignored_for_file
from lifelint.discovery import SourcePath, discover
from lifelint.facts import FileFacts, extract_facts
from lifelint.index import ProjectIndex
from lifelint.model import FileDiagnostic, Finding, Location, ReportedFinding, ScanResult, Span
from lifelint.parsing import parse
from lifelint.registry import Rule, all_rules
from lifelint.settings import Settings
from lifelint.source import read_source
from lifelint.suppress import SuppressionIndex


@dataclass(slots=True)
class ScanOptions:
    paths: list[str]
    root: Path
    settings: Settings = field(default_factory=Settings)
    enabled: set[str] | None = None  # rule codes; None: every rule
    jobs: int = 1
    report_unused_suppressions: bool = False
    progress: Callable[[int, int], None] | None = None  # (done, total)


# --- per file (runs in workers) --------------------------------------------------------------

def analyse_file(src: SourcePath, settings: Settings) -> tuple[FileFacts | None, list[FileDiagnostic]]:
    """Read, parse and extract facts for one file. Never raises."""
    try:
        data, diags = read_source(src.path, src.display, settings.max_file_size)
        if data is None:
            return None, diags
        tree = parse(src.language, data, settings.cpp)
        facts = extract_facts(src.display, src.language, data, tree)
        if facts.error_ranges:
            first = data.count(b"\n", 0, facts.error_ranges[0][0]) + 1
            share = 100.0 * facts.error_bytes / max(1, len(data))
            diags.append(FileDiagnostic(src.display, "syntax", f"{share:.1f}% of the file could not be parsed (first at line {first}); nothing is reported from those parts"))
        return facts, diags
    except RecursionError:
        return None, [FileDiagnostic(src.display, "internal", "nesting too deep to analyse; skipped")]
    except Exception as e:  # a bug in lifelint must not end the scan
        return None, [FileDiagnostic(src.display, "internal", f"internal error while analysing: {type(e).__name__}: {e}")]


def _analyse_chunk(args: tuple[list[SourcePath], Settings]) -> list[tuple[FileFacts | None, list[FileDiagnostic]]]:
    chunk, settings = args
    return [analyse_file(s, settings) for s in chunk]


def analyse_all(files: list[SourcePath], settings: Settings, jobs: int, progress=None) -> list[tuple[FileFacts | None, list[FileDiagnostic]]]:
    """Per-file analysis, in `files` order whatever `jobs` is."""
    total = len(files)
    if jobs <= 1 or total < 8:
        out = []
        for i, s in enumerate(files):
            out.append(analyse_file(s, settings))
            if progress:
                progress(i + 1, total)
        return out
    size = max(1, min(32, total // (jobs * 4) or 1))
    chunks = [files[i:i + size] for i in range(0, total, size)]
    out = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for part in pool.map(_analyse_chunk, [(c, settings) for c in chunks]):
            out.extend(part)
            if progress:
                progress(len(out), total)
    return out


# --- after every file is analysed ---------------------------------------------------------------

def run_rules(rules: list[Rule], facts: FileFacts, index: ProjectIndex) -> tuple[list[Finding], list[FileDiagnostic]]:
    findings: list[Finding] = []
    diags: list[FileDiagnostic] = []
    for rule in rules:
        if facts.language not in rule.languages:
            continue
        try:
            for f in rule.check(facts, index):
                if not f.path:
                    f.path = facts.path
                # Nothing is reported from inside a region the parser could not read.
                if f.path == facts.path and facts.in_error(f.span):
                    continue
                findings.append(f)
        except Exception as e:
            diags.append(FileDiagnostic(facts.path, "internal", f"rule {rule.code} failed: {type(e).__name__}: {e}"))
    return findings, diags


def _char_col(line: bytes, byte_col: int) -> int:
    """1-based code-point column of a 0-based byte column."""
    return len(line[:byte_col].decode("utf-8", "replace")) + 1


def to_location(path: str, span: Span, lines: list[bytes]) -> Location:
    def line(row: int) -> bytes:
        return lines[row] if 0 <= row < len(lines) else b""

    sl, el = span.start_row, span.end_row
    sc = _char_col(line(sl), span.start_col)
    ec = _char_col(line(el), span.end_col)
    if (el, ec) <= (sl, sc):  # an empty span still marks one character
        el, ec = sl, sc + 1
    return Location(path, sl + 1, sc, el + 1, ec)


def _read_lines(path: str) -> list[bytes]:
    try:
        with open(path, "rb") as fh:
            return fh.read().split(b"\n")
    except OSError:
        return []


def scan(opts: ScanOptions) -> ScanResult:
    root = opts.root.absolute()
    settings = opts.settings
    result = ScanResult(root=str(root))
    disc = discover(opts.paths, root, [*settings.exclude, *settings.extend_exclude], settings.respect_gitignore)
    for display, kind, message in disc.problems:
        result.diagnostics.append(FileDiagnostic(display, kind, message))
    analysed = analyse_all(disc.files, settings, opts.jobs, opts.progress)
    facts_list: list[FileFacts] = []
    open_path: dict[str, str] = {}
    for src, (facts, diags) in zip(disc.files, analysed):
        result.diagnostics.extend(diags)
        if facts is not None:
            facts_list.append(facts)
            open_path[facts.path] = src.path
            result.files_scanned += 1
            result.lines_scanned += facts.line_count

    rule_classes = [r for r in all_rules() if opts.enabled is None or r.code in opts.enabled]
    rules = [r(settings) for r in rule_classes]
    by_code = {r.code: r for r in rule_classes}
    index = ProjectIndex(facts_list, settings)
    facts_by_path = {f.path: f for f in facts_list}
    suppressions: dict[str, SuppressionIndex] = {}
    kept: list[Finding] = []
    for facts in facts_list:
        findings, diags = run_rules(rules, facts, index)
        result.diagnostics.extend(diags)
        for f in findings:
            rc = by_code[f.code]
            if ignored_for_file(settings, f.path, rc.code, rc.name):
                continue
            target = facts_by_path.get(f.path, facts)
            sup = suppressions.get(target.path)
            if sup is None:
                sup = suppressions[target.path] = SuppressionIndex(target)
            if sup.suppresses(rc.code, rc.name, f.span):
                result.suppressed += 1
                continue
            kept.append(f)

    lines_cache: dict[str, list[bytes]] = {}

    def lines_of(path: str) -> list[bytes]:
        if path not in lines_cache:
            lines_cache[path] = _read_lines(open_path.get(path, str(root / path)))
        return lines_cache[path]

    # Stable fingerprints count earlier identical (code, line text) pairs in a file.
    occurrences: dict[tuple[str, str, str], int] = {}
    kept.sort(key=lambda f: (f.path, f.span.start_byte, f.code, f.message))
    seen: set[tuple[str, int, str, str]] = set()
    for f in kept:
        key = (f.path, f.span.start_byte, f.code, f.message)
        if key in seen:  # two paths to the same finding report once
            continue
        seen.add(key)
        rc = by_code[f.code]
        lines = lines_of(f.path)
        text_lines = [ln.decode("utf-8", "replace") for ln in lines]
        loc = to_location(f.path, f.span, lines)
        line_text = text_lines[f.span.start_row] if f.span.start_row < len(text_lines) else ""
        okey = (f.path, f.code, line_text.strip())
        occ = occurrences.get(okey, 0)
        occurrences[okey] = occ + 1
        related = []
        for r in f.related:
            rpath = r.path or f.path
            related.append((to_location(rpath, r.span, lines_of(rpath)), r.message))
        result.findings.append(ReportedFinding(
            code=rc.code,
            name=rc.name,
            level=f.level or rc.level,
            message=f.message,
            location=loc,
            related=related,
            fingerprint=fingerprint.finding_fingerprint(rc.code, f.path, line_text, "", occ),
            line_hash=fingerprint.line_hash(text_lines, loc.line),
            source_line=line_text,
        ))

    if opts.report_unused_suppressions:
        enabled = {r.code: r.name for r in rule_classes}
        known = {r.code: r.name for r in all_rules()}
        for facts in facts_list:
            sup = suppressions.get(facts.path) or SuppressionIndex(facts)
            lines = lines_of(facts.path) if sup.items else []
            for s in sup.items:
                for sel in s.selectors:
                    if sel in s.used:
                        continue
                    if not any(sel.upper() == c or sel.lower() == n for c, n in known.items()):
                        result.unused_suppressions.append((to_location(facts.path, s.span, lines), f"unknown rule {sel!r}"))
                    elif any(sel.upper() == c or sel.lower() == n for c, n in enabled.items()):
                        result.unused_suppressions.append((to_location(facts.path, s.span, lines), f"{sel} matched no finding"))
    result.diagnostics.sort(key=lambda d: (d.path, d.kind))
    return result


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def scan_paths(paths: Iterable[str], **kw) -> ScanResult:
    """Convenience for tests and scripts: scan with defaults."""
    paths = list(paths)
    root = Path(kw.pop("root", os.getcwd()))
    return scan(ScanOptions(paths=paths, root=root, **kw))
