"""The pipeline: files -> parse -> facts -> index -> rules -> findings -> suppressions ->
report-ready results. Per-file work is pure and runs in a process pool."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lifelint import cache as cache_mod
from lifelint.discovery import SourcePath, discover
from lifelint.model import Related, FileDiagnostic, Finding, Location, ReportedFinding, ScanResult, Span, message_parts
from lifelint.settings import Settings

# Parsing, facts, rules and the process pool load only when something must be analysed: a
# re-run served whole from the cache needs none of them (lifelint.cache.scan_key).
if TYPE_CHECKING:
    from lifelint.facts import FileFacts
    from lifelint.index import ProjectIndex
    from lifelint.registry import Rule
    from lifelint.summary import FileSummary


@dataclass(slots=True)
class ScanOptions:
    paths: list[str]
    root: Path
    settings: Settings = field(default_factory=Settings)
    enabled: set[str] | None = None  # rule codes; None: every rule
    jobs: int = 1
    report_unused_suppressions: bool = False
    progress: Callable[[int, int], None] | None = None  # (done, total)
    use_cache: bool = False  # per-file results cached across runs (lifelint.cache); the CLI turns it on
    cache_dir: str | None = None  # None: the user cache dir (platformdirs)
    cache_results: bool = True  # with use_cache: serve a re-run over unchanged input whole
    # The context root (design §2.1): the files under it are read for their facts (through the
    # cache), findings are reported only for `paths`. None: `paths` are the whole project.
    context_root: Path | None = None
    compile_db: Any = None  # lifelint.compdb.CompileDatabase: per-file flags (and, with settings.cpp.deep_on(), libclang facts)
    # The process ends after this scan (the CLI's last one): a big scan's facts stay frozen, out
    # of the collector's sight, and the OS frees them; collecting them first cost ~1 s on 300k lines.
    process_exits: bool = False


# A scan of at least this many lines freezes its facts out of the cyclic collector's sight while
# the rules run; a smaller one (an editor buffer, a few files) is left to the collector as usual.
FREEZE_MIN_LINES = 20_000


# --- per file (runs in workers) --------------------------------------------------------------

def analyse_file(src: SourcePath, settings: Settings) -> tuple[FileFacts | None, list[FileDiagnostic]]:
    """Read, parse and extract facts for one file. Never raises."""
    return _analyse(src, settings, False)[0]


def analyse_text(src: SourcePath, data: bytes, settings: Settings) -> tuple[FileFacts | None, list[FileDiagnostic]]:
    """`analyse_file` of bytes held in memory (an editor's unsaved buffer, stdin). Never raises."""
    return _analyse(src, settings, False, data)[0]


def _file_settings(src: SourcePath, settings: Settings) -> Settings:
    """The settings one file is analysed with: its compile flags' macros (lifelint.compdb), under
    the config's `cpp.defines`/`cpp.undefines` and the command line's -D/-U, which win."""
    if src.flags is None:
        return settings
    import dataclasses

    defined, undefined = src.flags.defines()
    cpp = settings.cpp
    undefined = (undefined - set(cpp.defines)) | set(cpp.undefines)
    defined = {k: v for k, v in {**defined, **cpp.defines}.items() if k not in undefined}
    return dataclasses.replace(settings, cpp=dataclasses.replace(cpp, defines=defined, undefines=sorted(undefined)))


def _is_tu(src: SourcePath) -> bool:
    """A file its compile database entry builds (a header borrowing an includer's flags is not)."""
    return src.flags is not None and src.flags.source == os.path.normpath(os.path.abspath(src.path))


def _deep_file(src: SourcePath) -> bool:
    """A TU, or a scanned header whose types its includer's libclang parse reads."""
    return _is_tu(src) or (src.flags is not None and os.path.normpath(os.path.abspath(src.path)) in src.flags.headers)


def _deep_types(src: SourcePath, settings: Settings, deep_cache: str | None, diags: list[FileDiagnostic]):
    """libclang's types for a translation unit in deep mode (lifelint.facts.clang_types), else None."""
    if not (settings.cpp.deep_on() and _deep_file(src)):
        return None
    from lifelint.facts import clang_types

    res = clang_types.tu_types(src.flags.source, src.flags, settings.cpp, deep_cache)
    if res.problem and _is_tu(src):  # said once, on the TU
        diags.append(FileDiagnostic(src.display, "deep", res.problem))
    return res.types_of(src.path)


def _analyse(src: SourcePath, settings: Settings, want_digest: bool, text: bytes | None = None, deep_cache: str | None = None) -> tuple[tuple[FileFacts | None, list[FileDiagnostic]], bytes | None]:
    """`analyse_file`, plus the digest of the bytes analysed (when asked, and the file was read)."""
    from lifelint import parse_stats
    from lifelint.facts import clang_types, extract_facts
    from lifelint.parsing import parse
    from lifelint.source import read_source

    digest = None
    try:
        if text is not None:
            data, diags = text, []
        else:
            data, diags = read_source(src.path, src.display, settings.max_file_size)
        if data is None:
            return (None, diags), None
        if want_digest:
            digest = cache_mod.file_digest(data, src)
        settings = _file_settings(src, settings)
        tree = parse(src.language, data, settings.cpp)
        with clang_types.active(_deep_types(src, settings, deep_cache, diags)):
            facts = extract_facts(src.display, src.language, data, tree, settings)
        facts.crate = src.crate
        del tree
        syntax = parse_stats.syntax_message(facts, data)
        if syntax is not None:
            diags.append(FileDiagnostic(src.display, "syntax", syntax[0], syntax[1]))
        return (facts, diags), digest
    except RecursionError:
        return (None, [FileDiagnostic(src.display, "internal", "nesting too deep to analyse; skipped")]), None
    except Exception as e:  # a bug in lifelint must not end the scan
        return (None, [FileDiagnostic(src.display, "internal", f"internal error while analysing: {type(e).__name__}: {e}")]), None


def _summary_of(result) -> FileSummary | None:
    """The summary of an analysed file's facts (lifelint.summary), None when it has none."""
    from lifelint.summary import summarize

    return summarize(result[0]) if result[0] is not None else None


def _analyse_cached(src: SourcePath, settings: Settings, cache) -> tuple[tuple[FileFacts | None, list[FileDiagnostic]], FileSummary | None, bytes | None, bool]:
    """Analyse one file and summarise it; with a cache, store both (the summary in its own entry,
    under the same key). Returns (result, summary, the result's pickle or None, stored)."""
    deep_cache = str(cache.directory.parent.parent) if cache is not None else None
    result, digest = _analyse(src, settings, cache is not None, deep_cache=deep_cache)
    try:
        summary = _summary_of(result)
    except Exception as e:  # a bug in lifelint must not end the scan
        return (None, [*result[1], FileDiagnostic(src.display, "internal", f"internal error while summarising: {type(e).__name__}: {e}")]), None, None, False
    if cache is None or digest is None or result[0] is None:
        return result, summary, None, False
    try:
        payload = cache_mod.dumps(result)
        summary_payload = cache_mod.dumps(summary)
    except Exception as e:  # unpicklable facts are a bug; report it like any other
        return (None, [FileDiagnostic(src.display, "internal", f"internal error while caching: {type(e).__name__}: {e}")]), None, None, False
    return result, summary, payload, cache.store_file(cache.entry_path(src, digest), digest, payload, summary_payload)


# Set once per worker process by _init_worker: no per-chunk pickling of settings or cache.
_WORKER: dict = {}


def _init_worker(settings: Settings, cache) -> None:
    import gc

    from lifelint import parsing

    gc.enable()  # forked from a parent that paused it; _analyse_chunk pauses it per file
    _WORKER["settings"], _WORKER["cache"] = settings, cache
    for lang in parsing.LANGUAGES:  # grammars and extractor modules load once per worker
        parsing.parser(lang)
    for mod in ("lifelint.facts.common", "lifelint.facts.cpp", "lifelint.facts.rust", "lifelint.cpp_prepass",
                "lifelint.facts.cpp_flow", "lifelint.facts.cpp_locks"):
        try:
            __import__(mod)
        except ImportError:
            pass


def _analyse_chunk(chunk: list[tuple[int, SourcePath]]) -> list[tuple[int, bytes, bytes, bool]]:
    """Worker side: (index, pickled result, pickled summary, stored in the cache) per file. The
    result is pickled here once, and that same pickle is the cache entry's payload."""
    settings, cache = _WORKER["settings"], _WORKER["cache"]
    out = []
    for i, src in chunk:
        with cache_mod.gc_paused():  # a file's facts are freed by refcount once pickled
            result, summary, payload, stored = _analyse_cached(src, settings, cache)
            if payload is None:
                try:
                    payload = cache_mod.dumps(result)
                except Exception as e:
                    summary = None
                    payload = cache_mod.dumps((None, [FileDiagnostic(src.display, "internal", f"internal error while analysing: {type(e).__name__}: {e}")]))
        out.append((i, payload, cache_mod.dumps(summary), stored))
        del result
    return out


def _plan_chunks(files: list[SourcePath], todo: list[int], jobs: int) -> list[list[tuple[int, SourcePath]]]:
    """Chunks of about equal bytes, biggest files first, so no worker is left with the one huge
    file at the end, and few enough chunks that per-task overhead stays small."""
    sizes = {}
    for i in todo:
        try:
            sizes[i] = os.stat(files[i].path).st_size
        except OSError:
            sizes[i] = 0
    order = sorted(todo, key=lambda i: (-sizes[i], i))
    # Deep mode: a header borrowing a TU's flags goes right after that TU, in its chunk, so it
    # reads the types the TU's libclang parse just produced (lifelint.facts.clang_types).
    group_of = {i: files[i].flags.source for i in todo if files[i].flags is not None and files[i].flags.headers}
    if group_of:
        members: dict[str, list[int]] = {}
        for i in order:
            if i in group_of:
                members.setdefault(group_of[i], []).append(i)
        tu_first = {g: sorted(ms, key=lambda i: os.path.normpath(os.path.abspath(files[i].path)) != g) for g, ms in members.items()}
        regrouped: list[int] = []
        for i in order:
            g = group_of.get(i)
            if g is None:
                regrouped.append(i)
            elif g in tu_first:
                regrouped.extend(tu_first.pop(g))
        order = regrouped
    target = max(1, sum(sizes.values()) // (jobs * 8))
    chunks: list[list[tuple[int, SourcePath]]] = []
    current: list[tuple[int, SourcePath]] = []
    acc = 0
    for k, i in enumerate(order):
        current.append((i, files[i]))
        acc += sizes[i]
        same_group = group_of and k + 1 < len(order) and group_of.get(i) is not None and group_of.get(order[k + 1]) == group_of.get(i)
        if (acc >= target or len(current) >= 64) and not same_group:
            chunks.append(current)
            current, acc = [], 0
    if current:
        chunks.append(current)
    return chunks


def analyse_all(files: list[SourcePath], settings: Settings, jobs: int, progress=None, *,
                use_cache: bool = False, cache_dir: str | os.PathLike | None = None) -> list[tuple[FileFacts | None, list[FileDiagnostic]]]:
    """Per-file analysis, in `files` order whatever `jobs` is. With `use_cache`, files whose
    bytes (and everything else that decides their facts) are unchanged since a cached run are
    not parsed; their results come from the cache (lifelint.cache). Stats: cache.last_stats.

    The cyclic GC is paused throughout: the facts (about a million objects on a 300k-line tree)
    are long-lived, and each collection while they pile up would walk all of them again. A
    caller that keeps them for a while can `gc.freeze()` right after this returns."""
    with cache_mod.gc_paused():
        return _analyse_all(files, settings, jobs, progress, use_cache, cache_dir)[0]


def analyse_all_summarised(files: list[SourcePath], settings: Settings, jobs: int, progress=None, *,
                           use_cache: bool = False, cache_dir: str | os.PathLike | None = None):
    """`analyse_all`, and each file's summary (lifelint.summary; None where there are no facts),
    made in the worker with the facts or read from the cache with them."""
    with cache_mod.gc_paused():
        return _analyse_all(files, settings, jobs, progress, use_cache, cache_dir)


def _analyse_all(files, settings, jobs, progress, use_cache, cache_dir):
    if settings.cpp.deep_on():
        from lifelint.facts import clang_types

        clang_types.new_scan()
    total = len(files)
    stats = cache_mod.CacheStats()
    cache_mod.last_stats = stats
    cache = cache_mod.FactCache.open(cache_dir, settings) if use_cache else None
    out: list = [None] * total
    sums: list = [None] * total
    todo: list[int] = []
    if cache is not None and cache.exists():
        deep = settings.cpp.deep_on()
        for i, s in enumerate(files):
            # A TU's deep facts hang on every header it includes: its own per-TU cache
            # (lifelint.facts.clang_types) checks those; the syntax part is re-read.
            hit, summary = (None, None) if deep and _deep_file(s) else cache.lookup_with_summary(s, settings.max_file_size)
            if hit is None:
                todo.append(i)
            else:
                out[i], sums[i] = hit, summary
        stats.hits = total - len(todo)
    else:
        todo = list(range(total))
    stats.misses = len(todo)
    done = stats.hits

    if jobs <= 1 or len(todo) < 8:
        if done and progress:
            progress(done, total)
        for i in todo:
            result, summary, _, stored = _analyse_cached(files[i], settings, cache)
            out[i], sums[i] = result, summary
            stats.writes += stored
            done += 1
            if progress:
                progress(done, total)
    else:
        from concurrent.futures import ProcessPoolExecutor, as_completed

        chunks = _plan_chunks(files, todo, jobs)
        with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), initializer=_init_worker, initargs=(settings, cache)) as pool:
            futures = [pool.submit(_analyse_chunk, c) for c in chunks]
            if done and progress:
                progress(done, total)
            for fut in as_completed(futures):
                part = fut.result()
                for i, payload, summary_payload, stored in part:
                    out[i] = cache_mod.loads(payload)
                    sums[i] = cache_mod.loads(summary_payload)
                    stats.writes += stored
                done += len(part)
                if progress:
                    progress(done, total)
    if cache is not None:
        stats.write_errors = sum(1 for i in todo if out[i][0] is not None) - stats.writes
        cache.touch_and_prune()
    return out, sums


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
    return fold_findings(findings, rules), diags


def fold_findings(findings: list[Finding], rules: list[Rule]) -> list[Finding]:
    """One finding per token: a rule that declares `folds_into = "LL101"` gives its finding, when
    that rule reported the same token (same file, same start), to that finding as a note."""
    folds = {r.code: r.folds_into for r in rules if getattr(r, "folds_into", None)}
    if not folds:
        return findings
    by_token = {(f.path, f.span.start_byte, f.code): f for f in findings}
    out = []
    for f in findings:
        host = by_token.get((f.path, f.span.start_byte, folds.get(f.code, "")))
        if host is None:
            out.append(f)
        else:
            host.related = (*host.related, Related(f.span, f"also {f.code}: {' '.join(p for p in (f.message, f.why) if p)}"))
    return out


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


def find_context_root(paths: list[str], config_path: str | None = None) -> Path | None:
    """The repository the named paths belong to: the nearest folder at or above the first path
    holding `.git` (a folder, or a worktree's file), else the folder of the config file in use,
    else None."""
    start = Path(paths[0] if paths else ".").absolute()
    d = start if start.is_dir() else start.parent
    for directory in (d, *d.parents):
        if (directory / ".git").exists():
            return directory
    if config_path:
        return Path(config_path).absolute().parent
    return None


def _covers(paths: list[str], context: Path) -> bool:
    """True when some named path is the context root or above it: the scan is the whole project."""
    ctx = os.path.abspath(context)
    for p in paths:
        a = os.path.abspath(p)
        if ctx == a or ctx.startswith(a.rstrip(os.sep) + os.sep):
            return True
    return False


def scan(opts: ScanOptions) -> ScanResult:
    root = opts.root.absolute()
    settings = opts.settings
    excludes = [*settings.exclude, *settings.extend_exclude]
    disc = discover(opts.paths, root, excludes, settings.respect_gitignore)
    if opts.context_root is not None and not _covers(opts.paths, opts.context_root):
        return _scan_in_context(opts, disc)
    return _scan_cached(opts, disc)


def _scan_cached(opts: ScanOptions, disc, only: set[str] | None = None) -> ScanResult:
    """A whole scan of `disc`, served from the cache when nothing it depends on changed.

    `only` (display paths): only these files are reported, the caller `restrict`s the result to
    them. A stored whole scan of the same files serves it; otherwise the rules run on these files
    only, and the rules whose findings can concern another file (`Rule.cross_file`) on every
    file, and that result is stored under its own slot."""
    if opts.compile_db is not None or opts.settings.cpp.deep_on():
        opts, disc = _apply_compile_db(opts, disc, opts.root.absolute())
    settings = opts.settings
    # A re-run over unchanged files and options is served whole from the cache (not in deep mode:
    # a header outside the scanned paths can change a TU's facts; the per-TU cache covers that).
    fc = (cache_mod.FactCache.open(opts.cache_dir, settings)
          if opts.use_cache and opts.cache_results and not settings.cpp.deep_on() else None)
    scan_key = cache_mod.scan_key(_key_options(opts), disc) if fc is not None else None
    if fc is not None and (hit := fc.load_result(scan_key)) is not None:
        return hit
    if only is not None:
        only_key = cache_mod.scan_key(_key_options(opts), disc, variant="report:" + "\0".join(sorted(only))) if fc is not None else None
        if fc is not None and (hit := fc.load_result(only_key)) is not None:
            return hit
        result = _scan(opts, disc, ScanResult(root=str(opts.root.absolute())), only=only)
        if fc is not None:
            fc.store_result(only_key, result)
        return result
    result = _scan(opts, disc, ScanResult(root=str(opts.root.absolute())))
    if fc is not None:
        fc.store_result(scan_key, result)
    return result


def _key_options(opts: ScanOptions) -> ScanOptions:
    """The options a whole scan's result depends on, spelled one way: the scanned paths as
    absolute paths, and no context root (a whole scan reads exactly the files it names, whatever
    the context root). `check .` at the repository's root and the pre-commit hook's `check FILE`
    (which scans that same repository as context) then share one cached result."""
    import dataclasses

    return dataclasses.replace(opts, paths=sorted(os.path.abspath(p) for p in opts.paths), context_root=None)


def _apply_compile_db(opts: ScanOptions, disc, root: Path):
    """Give each C++ file its compile flags; the database's problems and deep mode's setup
    problem become diagnostics (the run goes on)."""
    import dataclasses

    from lifelint.discovery import _display

    db = opts.compile_db
    problems = list(disc.problems)
    settings = opts.settings
    if db is None:
        from lifelint import compdb

        db = compdb.CompileDatabase.load(settings.cpp.compile_commands)
    shown = _display(db.path, root)
    problems.extend((shown, "compdb", p.message) for p in db.problems)
    files = []
    without = []
    borrowers: dict[str, list[str]] = {}  # a TU -> the scanned headers that borrow its flags
    for src in disc.files:
        if src.language == "cpp":
            flags = db.flags_for(src.path)
            if flags is None:
                without.append(src.display)
            else:
                full = os.path.normpath(os.path.abspath(src.path))
                if flags.source != full:
                    borrowers.setdefault(flags.source, []).append(full)
                src = dataclasses.replace(src, flags=flags)
        files.append(src)
    if borrowers and settings.cpp.deep is not False:
        # The TU and its borrowers share one FileFlags naming the headers, so the TU's parse
        # (and its cache key) covers them.
        shared = {tu: dataclasses.replace(db.entries[tu], headers=tuple(sorted(hs))) for tu, hs in borrowers.items()}
        files = [dataclasses.replace(s, flags=shared[s.flags.source]) if s.flags is not None and s.flags.source in shared else s
                 for s in files]
    if without:
        problems.append((shown, "compdb", f"{len(without)} C++ file(s) have no entry and no including source in the database "
                                          f"(first: {without[0]}); analysed without compile flags"))
    if settings.cpp.compile_commands is None:
        settings = dataclasses.replace(settings, cpp=dataclasses.replace(settings.cpp, compile_commands=db.path))
    if settings.cpp.deep_on():
        from lifelint.facts import clang_types

        why = clang_types.setup_problem(settings.cpp.clang_resource_dir)
        if why is not None:
            problems.append((shown, "deep", why))
            settings = dataclasses.replace(settings, cpp=dataclasses.replace(settings.cpp, deep=False))
    opts = dataclasses.replace(opts, settings=settings, compile_db=db)
    return opts, dataclasses.replace(disc, files=files, problems=problems)


def _scan_in_context(opts: ScanOptions, disc) -> ScanResult:
    """Analyse every file under the context root (and the named ones), report on the named ones.

    A finding belongs to a named file when its location or one of its related locations is in
    it: a flag declared in an unchanged header and polled by a thread in the named source is
    reported. The whole-context result is cached like any scan, so a re-run over an unchanged
    repository (the usual pre-commit case) costs a hash of its files."""
    from dataclasses import replace

    from lifelint.discovery import Discovery

    root = opts.root.absolute()
    settings = opts.settings
    ctx = opts.context_root.absolute()
    ctx_disc = discover([str(ctx)], root, [*settings.exclude, *settings.extend_exclude], settings.respect_gitignore)
    have = {os.path.abspath(s.path) for s in ctx_disc.files}
    extra = [s for s in disc.files if os.path.abspath(s.path) not in have]  # named, but excluded or outside
    full_disc = Discovery(ctx_disc.files + extra, ctx_disc.problems)
    reported = {s.display for s in disc.files}
    full = _scan_cached(replace(opts, paths=[str(ctx)] + [s.path for s in extra], context_root=None), full_disc, only=reported)
    return restrict(full, reported, disc.problems)


def restrict(full: ScanResult, reported: set[str], problems=()) -> ScanResult:
    """The part of a whole-context result that concerns the `reported` files (display paths)."""
    def mine(f: ReportedFinding) -> bool:
        return f.location.path in reported or any(loc.path in reported for loc, _ in f.related)

    out = ScanResult(root=full.root)
    out.findings = [f for f in full.findings if mine(f)]
    out.hidden = [f for f in full.hidden if mine(f)]
    out.suppressed = sum(1 for f in out.hidden if f.suppression and f.suppression[0] == "inSource")
    out.diagnostics = [d for d in full.diagnostics if d.path in reported]
    have = {(d.path, d.kind) for d in out.diagnostics}
    out.diagnostics += [FileDiagnostic(p, k, m) for p, k, m in problems if (p, k) not in have]
    out.unused_suppressions = [u for u in full.unused_suppressions if u[0].path in reported]
    out.scanned = {p: n for p, n in full.scanned.items() if p in reported}
    out.files_scanned = len(out.scanned)
    out.lines_scanned = sum(out.scanned.values())
    out.context_files = full.files_scanned + full.context_files - out.files_scanned
    out.notes = list(full.notes)
    return out


def _scan(opts: ScanOptions, disc, result: ScanResult, only: set[str] | None = None) -> ScanResult:
    settings = opts.settings
    for display, kind, message in disc.problems:
        result.diagnostics.append(FileDiagnostic(display, kind, message))
    with cache_mod.gc_paused():
        analysed, summaries = analyse_all_summarised(disc.files, settings, opts.jobs, opts.progress, use_cache=opts.use_cache, cache_dir=opts.cache_dir)
        # The facts live until the end: keep the collector from re-walking a million objects
        # (frozen before it is back on, or its first pass would walk them all once).
        frozen = sum(facts.line_count for facts, _ in analysed if facts is not None) >= FREEZE_MIN_LINES
        if frozen:
            gc.freeze()
    # A process that exits after this scan checks with the collector off: the project index and
    # its passes (a million objects on a 300k-line tree) live until the exit, and each collection
    # while they are built would walk them all again (about 0.6 s of a report-only run on squid);
    # frozen before it is back on, as the facts are.
    paused, was_enabled = frozen and opts.process_exits, gc.isenabled()
    try:
        if paused:
            gc.disable()
        if only is None:
            return _check(opts, disc, analysed, result, summaries=summaries)
        # the files read only as context, as a whole scan counts them (lifelint.engine.restrict)
        result.context_files = sum(1 for facts, _ in analysed if facts is not None and facts.path not in only)
        return _check(opts, disc, analysed, result, only=only, cross_file_context=True, summaries=summaries)
    finally:
        if paused:
            gc.freeze()
            if was_enabled:
                gc.enable()
        if frozen and not opts.process_exits:
            gc.unfreeze()
            # Unfrozen objects do not count toward the collector's next full pass, and the facts
            # are cyclic (the lock index's call graph links them): in a long-lived process they
            # would never be freed (issue 16). Collect once, now that they are dropped.
            del analysed
            gc.collect()


def _check(opts: ScanOptions, disc, analysed, result: ScanResult, *, only: set[str] | None = None,
           texts: dict[str, bytes] | None = None, index_cache=None, cross_file_context: bool = False,
           summaries: list | None = None) -> ScanResult:
    """Index, rules, filters, then report-ready findings. `only`: display paths whose rules run
    (the others are context: indexed, not checked; with `cross_file_context`, checked by the rules
    whose findings can lie in or point at another file, so every finding that concerns an `only`
    file is found, as a whole scan would find it); `texts`: the bytes of files read from memory
    rather than disk (display path -> bytes), for locations and code frames; `index_cache`: a
    lifelint.index.IndexCache whose index (and the project-wide passes built on it) is reused
    while the same facts are indexed; `summaries`: each file's summary, in `analysed` order (None:
    made here from the facts, before other files' lock effects are applied to them)."""
    from lifelint import fingerprint
    from lifelint.config import ignored_for_file
    from lifelint.index import ProjectIndex
    from lifelint.registry import all_rules
    from lifelint.suppress import SuppressionIndex

    root = opts.root.absolute()
    settings = opts.settings
    from lifelint.summary import summarize

    facts_list: list[FileFacts] = []
    summary_list: list[FileSummary] = []
    open_path: dict[str, str] = {}
    for i, (src, (facts, diags)) in enumerate(zip(disc.files, analysed)):
        result.diagnostics.extend(diags)
        if facts is not None:
            facts_list.append(facts)
            summary = summaries[i] if summaries is not None else None
            summary_list.append(summary if summary is not None else summarize(facts))
            open_path[facts.path] = src.path
            if only is not None and facts.path not in only:
                continue
            result.files_scanned += 1
            result.lines_scanned += facts.line_count
            result.scanned[facts.path] = facts.line_count

    _apply_project_lock_effects(disc.files, analysed, settings, texts, summary_list)
    rule_classes = [r for r in all_rules() if opts.enabled is None or r.code in opts.enabled]
    rules = [r(settings) for r in rule_classes]
    context_rules = _cross_file_rules(rules) if cross_file_context else []
    by_code = {r.code: r for r in rule_classes}
    index = ProjectIndex(facts_list, settings, summary_list) if index_cache is None else index_cache.get(facts_list, settings, summary_list)
    facts_by_path = {f.path: f for f in facts_list}
    lines_cache: dict[str, tuple[list[bytes], list[str]]] = {}

    def lines_of(path: str) -> list[bytes]:
        return text_of(path)[0]

    def text_of(path: str) -> tuple[list[bytes], list[str]]:
        """(raw lines, decoded lines) of a file, read and decoded once."""
        if path not in lines_cache:
            raw = texts[path].split(b"\n") if texts and path in texts else _read_lines(open_path.get(path, str(root / path)))
            lines_cache[path] = (raw, [ln.decode("utf-8", "replace") for ln in raw])
        return lines_cache[path]

    # Every checked file's directives are read, so a malformed one is reported even where nothing
    # fires; a context file's only when a finding lands in it (an editor's check of one file in a
    # big project would otherwise read every file's comments again).
    suppressions: dict[str, SuppressionIndex] = {}

    def suppressions_of(facts: FileFacts) -> SuppressionIndex:
        sup = suppressions.get(facts.path)
        if sup is None:
            sup = suppressions[facts.path] = SuppressionIndex(facts, lambda p=facts.path: text_of(p)[1])
        return sup

    for facts in facts_list:
        if only is None or facts.path in only:
            result.diagnostics.extend(suppressions_of(facts).diagnostics())
    kept: list[tuple[Finding, tuple[str, str] | None]] = []
    for facts in facts_list:
        checked = rules
        if only is not None and facts.path not in only:
            if not context_rules:
                continue
            checked = context_rules
        findings, diags = run_rules(checked, facts, index)
        result.diagnostics.extend(diags)
        for f in findings:
            rc = by_code[f.code]
            if ignored_for_file(settings, f.path, rc.code, rc.name):
                continue
            sup = suppressions_of(facts_by_path.get(f.path, facts))
            hit = sup.match(rc.code, rc.name, f.span)
            kept.append((f, None if hit is None else ("inSource", hit.reason or "")))

    # Stable fingerprints count earlier identical (code, line text) pairs in a file.
    occurrences: dict[tuple[str, str, str], int] = {}
    kept.sort(key=lambda fs: (fs[0].path, fs[0].span.start_byte, fs[0].code, fs[0].message))
    seen: set[tuple[str, int, str, str]] = set()
    for f, suppression in kept:
        key = (f.path, f.span.start_byte, f.code, f.message)
        if key in seen:  # two paths to the same finding report once
            continue
        seen.add(key)
        rc = by_code[f.code]
        lines, text_lines = text_of(f.path)
        loc = to_location(f.path, f.span, lines)
        line_text = text_lines[f.span.start_row] if f.span.start_row < len(text_lines) else ""
        okey = (f.path, f.code, line_text.strip())
        occ = occurrences.get(okey, 0)
        occurrences[okey] = occ + 1
        related = []
        for r in f.related:
            rpath = r.path or f.path
            related.append((to_location(rpath, r.span, lines_of(rpath)), r.message))
        headline, why, fix = message_parts(f)
        reported = ReportedFinding(
            code=rc.code,
            name=rc.name,
            level=settings.levels.get(rc.code) or f.level or rc.level,
            message=headline,
            location=loc,
            related=related,
            fingerprint=fingerprint.finding_fingerprint(rc.code, f.path, line_text, "", occ),
            line_hash=fingerprint.line_hash(text_lines, loc.line),
            source_line=line_text,
            why=why,
            fix=fix,
            suppression=suppression,
        )
        if suppression is None:
            result.findings.append(reported)
        else:
            result.suppressed += 1
            result.hidden.append(reported)

    if opts.report_unused_suppressions:
        enabled = {r.code: r.name for r in rule_classes}
        known = {r.code: r.name for r in all_rules()}
        for facts in facts_list:
            if only is not None and facts.path not in only:
                continue
            sup = suppressions_of(facts)
            for s, why in sup.unused(enabled, known):
                result.unused_suppressions.append((to_location(facts.path, s.span, lines_of(facts.path)), why))
    result.diagnostics.sort(key=lambda d: (d.path, d.kind))
    return result


def _cross_file_rules(rules: list[Rule]) -> list[Rule]:
    """The rules whose findings from one file can lie in or point at another (`Rule.cross_file`),
    with the rules that fold their findings into theirs (`folds_into`): a folded note belongs to
    the host finding wherever that is reported."""
    codes = {r.code for r in rules if r.cross_file}
    return [r for r in rules if r.code in codes or getattr(r, "folds_into", None) in codes]


def _apply_project_lock_effects(files, analysed, settings, texts, summaries) -> None:
    """Guards, lock macros and acquire/release helpers one file defines and another uses
    (lifelint.facts.cpp_lock_effects.apply_project_effects), Rust guard helpers likewise
    (lifelint.facts.rust_flow.apply_project_guard_helpers): re-read the users' lock facts.
    `summaries`: those of the files with facts, in order."""
    from lifelint.facts.cpp_lock_effects import apply_project_effects
    from lifelint.source import read_source

    def read(src: SourcePath) -> bytes | None:
        if texts and src.display in texts:
            return texts[src.display]
        return read_source(src.path, src.display, settings.max_file_size)[0]

    with_facts = [(src, facts) for src, (facts, _d) in zip(files, analysed) if facts is not None]
    items = [(src, facts, summary) for (src, facts), summary in zip(with_facts, summaries) if facts.cpp is not None]
    if items:
        apply_project_effects(items, settings, read, lambda src: _file_settings(src, settings))
    rust_items = [(src, facts, summary) for (src, facts), summary in zip(with_facts, summaries) if facts.rust is not None]
    if len(rust_items) > 1:
        from lifelint.facts.rust_flow import apply_project_guard_helpers

        apply_project_guard_helpers(rust_items, read)


def check_in_memory(opts: ScanOptions, files: list[SourcePath], analysed: list, only: set[str],
                    texts: dict[str, bytes], index_cache=None, summaries: list | None = None) -> ScanResult:
    """The rules on the `only` files (display paths) of already analysed `files`, every file's
    facts indexed as context; `texts` holds files read from memory, `index_cache` keeps the
    project index between calls, `summaries` the files' summaries (see `_check`). For the editor
    server and `check --stdin-filename`: the context files are checked by the cross-file rules, as
    `check FILE` does, so a finding in a header that points at this file is found from it too."""
    from lifelint.discovery import Discovery

    result = ScanResult(root=str(opts.root.absolute()))
    full = _check(opts, Discovery(files, []), analysed, result, only=only, texts=texts, index_cache=index_cache,
                  cross_file_context=True, summaries=summaries)
    return restrict(full, only)


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
