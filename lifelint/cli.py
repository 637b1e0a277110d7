"""The `lifelint` command line: check, rules, rule."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import click

from lifelint import __version__, baseline
from lifelint.config import ConfigError, enabled_codes, load_settings
from lifelint.model import Level

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# File problems that mean part of the tree was not analysed: the exit code must say so.
FAILING_DIAGNOSTICS = frozenset({"unreadable", "binary", "too-large", "symlink-loop", "internal"})
FORMATS = ("text", "concise", "json", "sarif", "github", "html")
LEVELS = ("note", "warning", "error")


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lifelint")
def main() -> None:
    """Find lifetime and thread-safety hazards in C++ and Rust code."""


CONTEXT_HELP = """Scan PATHS (default: the current directory) and report hazards.

\b
Context root: the files named in PATHS are what is reported; the repository
they belong to is the context whose facts (types, fields, locks, threads) are
read through the fact cache. The context root is the nearest folder at or
above the first path that holds `.git`, else the folder of the config file in
use; `--context-root DIR` picks another, `--no-context` (or `context = false`
in the config) reads only PATHS. A finding is reported when its location or
one of its related locations is in a named file.
"""


@main.command(help=CONTEXT_HELP)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format: text (code frames), concise (one line per finding), json, sarif, github, html (one self-contained page).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write the report to FILE instead of stdout.")
@click.option("--select", multiple=True, help="Rules to enable: codes, prefixes (LL1), names, groups (default, nursery, restriction) or ALL. Comma-separated.")
@click.option("--extend-select", multiple=True, help="Rules to enable on top of the configured selection.")
@click.option("--ignore", multiple=True, help="Rules to disable: codes, prefixes, names or groups. Comma-separated.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Config file to use instead of the nearest one.")
@click.option("--root", type=click.Path(file_okay=False), help="Directory reported paths are relative to (default: the current directory).")
@click.option("--context-root", type=click.Path(file_okay=False, exists=True), help="Read facts from every file under DIR (default: the git root, else the config file's folder).")
@click.option("--no-context", is_flag=True, help="Read only PATHS: no facts from the rest of the repository.")
@click.option("--diff-base", metavar="REF", help="Report only findings that are new since the merge-base of HEAD and REF (a branch, tag or commit).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: the number of cores).")
@click.option("--report-unused-suppressions", is_flag=True, help="List `lifelint: ignore[...]` comments that matched nothing.")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False), help="Hide the findings accepted in this baseline file; fail only on new ones.")
@click.option("--write-baseline", type=click.Path(dir_okay=False, writable=True), help="Write every current finding to this baseline file and exit 0.")
@click.option("--fail-level", type=click.Choice(LEVELS), help="Lowest level that fails the run (default: warning; config `fail-level`).")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per rule instead of the findings.")
@click.option("--show-settings", is_flag=True, help="Print the settings this run would use, then exit.")
@click.option("--show-files", is_flag=True, help="Print the files this run would report on (and the context root), then exit.")
@click.option("--show-parse-gaps", is_flag=True, help="In `github` output, annotate files the parser could not fully read (off by default).")
@click.option("--color/--no-color", default=None, help="Force or disable colors (default: on a terminal, unless NO_COLOR is set).")
@click.option("--no-progress", is_flag=True, help="Never show a progress bar.")
@click.option("--force-exclude", is_flag=True, help="Apply config excludes to files named on the command line too (for pre-commit).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Where to cache per-file results (default: the user cache dir).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
# --- compile database and deep mode (options land in **compile_opts; see _compile_options) ---
@click.option("-p", "build_dir", type=click.Path(path_type=str), metavar="DIR", help="Build folder holding compile_commands.json (as clang-tidy's -p): each file's -D/-U/-I/-include/-std, and libclang facts (deep mode).")
@click.option("--compile-commands", "compile_commands", type=click.Path(dir_okay=False, path_type=str), metavar="FILE", help="The compile database file itself (config: cpp.compile-commands).")
@click.option("-D", "--define", "cli_defines", multiple=True, metavar="NAME[=VALUE]", help="Define a macro for #if branches (repeatable; wins over the database and config).")
@click.option("-U", "--undefine", "cli_undefines", multiple=True, metavar="NAME", help="Take NAME as not defined in #if branches (repeatable).")
@click.option("--deep/--no-deep", "deep", default=None, help="libclang facts from the compile database (default: on when a database is given; config: cpp.deep).")
@click.option("--clang-resource-dir", type=click.Path(file_okay=False, path_type=str), help="Clang's resource dir (holds include/stddef.h) for deep mode (config: cpp.clang-resource-dir).")
# --- editor integration (issue 15) ---
@click.option("--stdin-filename", metavar="PATH", help="Check the source read from stdin as if it were PATH (for editor plugins), with PATH's project as context.")
@click.option("--fix", "apply_fixes", is_flag=True, help="Apply the fixes that are certain (LL201: a bool flag becomes std::atomic<bool>), then report what is left.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the fixes --fix would make as a unified diff, change nothing (exit 1 when there are some).")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff, also the fixes that change behaviour (LL102: `[this]` becomes `[self = shared_from_this()]`).")
def check(paths, fmt, output, select, extend_select, ignore, config_file, root, context_root, no_context, diff_base, jobs,
          report_unused_suppressions, baseline_file, write_baseline, fail_level, exit_zero, statistics, show_settings,
          show_files, show_parse_gaps, color, no_progress, force_exclude, cache_dir, no_cache, stdin_filename, apply_fixes, show_diff, unsafe_fixes, **compile_opts):
    from lifelint.engine import ScanOptions, default_jobs, find_context_root, scan
    from lifelint.registry import all_rules, catalog
    from lifelint.report import REPORTERS

    named = bool(paths)
    if stdin_filename:
        if paths:
            click.echo("lifelint: error: --stdin-filename checks stdin; name no PATHS with it", err=True)
            sys.exit(EXIT_ERROR)
        paths = (stdin_filename,)
    paths = list(paths) or ["."]
    try:
        settings = load_settings(config_file, Path(paths[0]))
        enabled = enabled_codes(settings, _split(select) or None, _split(ignore) or None, _split(extend_select) or None)
        compile_db = _compile_options(settings, **compile_opts)
    except ConfigError as e:
        click.echo(f"lifelint: error: {e}", err=True)
        sys.exit(EXIT_ERROR)
    root_path = Path(root or os.getcwd())
    if force_exclude:
        paths = _drop_excluded(paths, settings, root_path)
        if named and not paths:  # pre-commit passed only excluded files: nothing to do
            sys.exit(EXIT_CLEAN)
    ctx = None
    if not no_context and (context_root or settings.context):
        ctx = Path(context_root) if context_root else find_context_root(paths, settings.config_path)
    fail_at = Level(fail_level or settings.fail_level or "warning")
    stream_is_tty = output is None and sys.stdout.isatty()
    use_color = color if color is not None else (stream_is_tty and "NO_COLOR" not in os.environ)
    progress_cb, progress_done = (None, lambda: None)
    if not no_progress and fmt == "text" and sys.stderr.isatty():
        progress_cb, progress_done = _progress_bar()
    opts = ScanOptions(paths=paths, root=root_path, settings=settings, enabled=enabled,
                       jobs=jobs or default_jobs(), report_unused_suppressions=report_unused_suppressions,
                       progress=progress_cb, use_cache=not no_cache, cache_dir=cache_dir, context_root=ctx,
                       compile_db=compile_db)
    if show_settings:
        _show_settings(opts, fail_at)
        sys.exit(EXIT_CLEAN)
    if show_files:
        _show_files(opts)
        sys.exit(EXIT_CLEAN)
    stdin_text = None
    try:
        if stdin_filename:
            stdin_text = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode("utf-8")
            result = _check_stdin(stdin_filename, stdin_text, opts, settings, enabled, ctx)
        else:
            import dataclasses

            result = scan(dataclasses.replace(opts, process_exits=not (diff_base or apply_fixes or show_diff)))
        if diff_base:
            from lifelint import diffbase

            diffbase.apply(result, opts, diff_base)
    except KeyboardInterrupt:
        click.echo("lifelint: interrupted", err=True)
        sys.exit(130)
    except ConfigError as e:
        click.echo(f"lifelint: error: {e}", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as e:  # fail closed: an internal error is never a clean run
        click.echo(f"lifelint: internal error: {type(e).__name__}: {e}", err=True)
        sys.exit(EXIT_ERROR)
    finally:
        progress_done()
    if apply_fixes or show_diff:
        result = _fixes(result, opts, show_diff, stdin_filename, unsafe_fixes)
    if write_baseline:
        try:
            n = baseline.write(write_baseline, result.findings)
        except OSError as e:
            click.echo(f"lifelint: error: cannot write {write_baseline}: {e.strerror or e}", err=True)
            sys.exit(EXIT_ERROR)
        click.echo(f"lifelint: wrote {n} finding(s) to {write_baseline}; pass --baseline {write_baseline} (or set `baseline`) to fail only on new ones", err=True)
        sys.exit(EXIT_CLEAN)
    baseline_file = baseline_file or settings.baseline
    if baseline_file:
        try:
            accepted = baseline.load(baseline_file)
        except ConfigError as e:
            click.echo(f"lifelint: error: {e}", err=True)
            sys.exit(EXIT_ERROR)
        result.findings, hidden, stale = baseline.split(result.findings, accepted)
        result.baselined += len(hidden)
        result.hidden += [_hidden(f, "external", f"accepted in the baseline {baseline_file}") for f in hidden]
        if stale:
            click.echo(f"lifelint: {stale} baseline entr{'y' if stale == 1 else 'ies'} in {baseline_file} no longer match a finding; "
                       "rewrite it with --write-baseline to keep it tight", err=True)

    status = _exit_status(result, fail_at, report_unused_suppressions)
    if status == EXIT_FINDINGS and not any(Level(f.level).at_least(fail_at) for f in result.findings):
        result.notes.append(_why_failed(result, report_unused_suppressions))
    elif result.findings and status == EXIT_CLEAN:
        result.notes.append(f"no finding at or above the fail level ({fail_at.value}): exit 0")
    if not result.scanned and not any(d.kind == "missing" for d in result.diagnostics):
        click.echo(f"lifelint: warning: no C++ or Rust files found in {', '.join(paths)}", err=True)

    # SARIF describes each rule in full; the other formats need at most codes and names, which
    # the catalog gives without loading the rule modules (a cached re-run loads none).
    rules = [r for r in (all_rules() if fmt == "sarif" else catalog()) if r.code in enabled]
    render = REPORTERS["statistics" if statistics and fmt in ("text", "concise") else fmt]
    extra = {"parse_gaps": show_parse_gaps} if fmt == "github" else {}
    if stdin_text is not None:  # code frames show the text that was checked, not the file on disk
        from lifelint.discovery import _display

        extra["sources"] = {_display(os.path.abspath(stdin_filename), root_path.absolute()):
                            stdin_text.decode("utf-8", "replace").split("\n")}
    if output:
        buf = io.StringIO()
        render(result, rules, buf, color=False, **extra)
        try:
            Path(output).write_text(buf.getvalue(), encoding="utf-8")
        except OSError as e:
            click.echo(f"lifelint: error: cannot write {output}: {e.strerror or e}", err=True)
            sys.exit(EXIT_ERROR)
        if fmt not in ("text", "concise"):  # a short human summary on stderr, never mixed into the file
            click.echo(f"lifelint: {len(result.findings)} finding(s) in {result.files_scanned} file(s); report written to {output}", err=True)
    else:
        render(result, rules, sys.stdout, color=use_color, **extra)
    if fmt == "github" and os.environ.get("GITHUB_STEP_SUMMARY"):
        from lifelint.report import github

        github.write_step_summary(result, os.environ["GITHUB_STEP_SUMMARY"])
    if any(d.kind == "missing" for d in result.diagnostics):
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CLEAN if exit_zero else status)


def _fixes(result, opts, show_diff: bool, stdin_filename, unsafe: bool = False):
    """--diff: print the certain fixes and exit; --fix: write them, and scan again. Unsafe fixes
    only with --unsafe-fixes; without it, a hint says how many there are (as ruff's hidden fixes)."""
    from lifelint import fix
    from lifelint.engine import scan

    if stdin_filename:
        click.echo("lifelint: error: --fix and --diff rewrite files; they do not work on stdin", err=True)
        sys.exit(EXIT_ERROR)
    plans = fix.plan(result, unsafe=unsafe)
    hidden = 0 if unsafe else fix.unsafe_available(result)
    if hidden:
        click.echo(f"lifelint: {hidden} unsafe fix(es) (LL102) available with --unsafe-fixes", err=True)
    if unsafe:
        done = sum(1 for fx in plans for f in fx.fixed if f.code in fix.UNSAFE_FIXABLE)
        left = sum(1 for f in result.findings if f.code in fix.UNSAFE_FIXABLE) - done
        if left:
            click.echo(f"lifelint: {left} LL102 finding(s) not fixable: not certain (see lifelint.fix_shared_self)", err=True)
    if show_diff:
        for fx in plans:
            click.echo(fx.diff(), nl=False)
        n = sum(len(fx.fixed) for fx in plans)
        click.echo(f"lifelint: {n} fix(es) available in {len(plans)} file(s); apply with --fix", err=True)
        sys.exit(EXIT_FINDINGS if plans else EXIT_CLEAN)
    try:
        n = fix.apply(plans)
    except OSError as e:
        click.echo(f"lifelint: error: cannot write a fixed file: {e}", err=True)
        sys.exit(EXIT_ERROR)
    if not n:
        return result
    click.echo(f"lifelint: fixed {n} finding(s) in {len(plans)} file(s)", err=True)
    return scan(opts)


def _check_stdin(filename: str, text: bytes, opts, settings, enabled, ctx):
    """The text on stdin checked as `filename`, its project (the context root) read for facts."""
    from lifelint.workspace import Workspace

    if ctx is not None:
        ws = Workspace(ctx, settings, enabled, use_cache=opts.use_cache, cache_dir=opts.cache_dir, display_root=opts.root)
    else:
        ws = Workspace(Path(filename).absolute().parent, settings, enabled, use_cache=opts.use_cache,
                       cache_dir=opts.cache_dir, context=False, display_root=opts.root)
    return ws.check(filename, text)


@main.command("server")
def server_cmd():
    """Run the Language Server (LSP over stdio) for editors: diagnostics on open, change and
    save, with the project as context; a quick fix that suppresses a finding; rule docs on hover."""
    from lifelint.server import main as serve

    serve()


def _hidden(f, kind: str, why: str):
    from dataclasses import replace

    return replace(f, suppression=(kind, why))


def _exit_status(result, fail_at: Level, unused_fail: bool) -> int:
    failed = any(Level(f.level).at_least(fail_at) for f in result.findings)
    failed = failed or (unused_fail and bool(result.unused_suppressions))
    failed = failed or any(d.kind in FAILING_DIAGNOSTICS for d in result.diagnostics)
    return EXIT_FINDINGS if failed else EXIT_CLEAN


def _why_failed(result, unused_fail: bool) -> str:
    why = []
    bad = [d for d in result.diagnostics if d.kind in FAILING_DIAGNOSTICS]
    if bad:
        why.append(f"{len(bad)} file(s) could not be analysed ({', '.join(sorted({d.kind for d in bad}))})")
    if unused_fail and result.unused_suppressions:
        why.append(f"{len(result.unused_suppressions)} unused suppression(s) with --report-unused-suppressions")
    return "exit 1: " + "; ".join(why or ["see the diagnostics above"])


def _show_settings(opts, fail_at: Level) -> None:
    s = opts.settings
    rows = [
        ("config", s.config_path or "(none: defaults)"),
        ("root", str(opts.root.absolute())),
        ("context root", str(opts.context_root.absolute()) if opts.context_root else "(off)"),
        ("rules", ", ".join(sorted(opts.enabled or ()))),
        ("levels", ", ".join(f"{k}={v.value}" for k, v in sorted(s.levels.items())) or "(rule defaults)"),
        ("fail level", fail_at.value),
        ("exclude", ", ".join([*s.exclude, *s.extend_exclude]) or "(none)"),
        ("respect gitignore", str(s.respect_gitignore).lower()),
        ("baseline", s.baseline or "(none)"),
        ("cache", "off" if not opts.use_cache else (opts.cache_dir or "user cache dir")),
        ("jobs", str(opts.jobs)),
        ("cpp.defines", ", ".join(f"{k}={v}" for k, v in sorted(s.cpp.defines.items())) or "(none)"),
    ]
    for k, v in rows:
        click.echo(f"{k:18} {v}")


def _show_files(opts) -> None:
    from lifelint.discovery import discover

    s = opts.settings
    excludes = [*s.exclude, *s.extend_exclude]
    disc = discover(opts.paths, opts.root.absolute(), excludes, s.respect_gitignore)
    for f in disc.files:
        click.echo(f.display)
    if opts.context_root is not None:
        ctx = discover([str(opts.context_root.absolute())], opts.root.absolute(), excludes, s.respect_gitignore)
        click.echo(f"lifelint: {len(disc.files)} file(s) reported; context root {opts.context_root} "
                   f"({len(ctx.files)} file(s) read for their facts)", err=True)
    else:
        click.echo(f"lifelint: {len(disc.files)} file(s); no context root", err=True)


def _compile_options(settings, build_dir, compile_commands, cli_defines, cli_undefines, deep, clang_resource_dir):
    """Apply -p/--compile-commands/-D/-U/--deep/--clang-resource-dir to `settings.cpp`; load the
    compile database when there is one (a missing or unreadable one is a ConfigError: exit 2)."""
    cpp = settings.cpp
    for item in cli_defines:
        name, eq, value = item.partition("=")
        if not name.strip():
            raise ConfigError(f"-D {item!r}: expected NAME or NAME=VALUE")
        cpp.defines[name.strip()] = value.strip() if eq else "1"
        if name.strip() in cpp.undefines:
            cpp.undefines.remove(name.strip())
    for name in cli_undefines:
        cpp.undefines.append(name.strip())
        cpp.defines.pop(name.strip(), None)
    if deep is not None:
        cpp.deep = deep
    if clang_resource_dir:
        cpp.clang_resource_dir = os.path.abspath(clang_resource_dir)
    if build_dir and compile_commands:
        raise ConfigError("give either -p DIR or --compile-commands FILE, not both")
    if not (build_dir or compile_commands or cpp.compile_commands):
        return None
    from lifelint import compdb

    if build_dir:
        cpp.compile_commands = os.path.abspath(compdb.find_database(build_dir))
    elif compile_commands:
        if not os.path.isfile(compile_commands):
            raise ConfigError(f"--compile-commands {compile_commands}: no such file")
        cpp.compile_commands = os.path.abspath(compile_commands)
    if cpp.compile_commands is None:
        return None
    db = compdb.CompileDatabase.load(cpp.compile_commands)
    cpp.compile_commands = db.path
    return db


def _drop_excluded(paths: list[str], settings, root: Path) -> list[str]:
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines([*settings.exclude, *settings.extend_exclude])
    out = []
    for p in paths:
        rel = os.path.relpath(os.path.abspath(p), root).replace(os.sep, "/")
        if not spec.match_file(rel):
            out.append(p)
    return out


def _progress_bar():
    """A rich progress bar on stderr, shown only for scans long enough to need one."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    state: dict = {}

    def update(done: int, total: int) -> None:
        if total < 200:
            return
        if "bar" not in state:
            bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                           console=Console(stderr=True), transient=True)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task("scan", total=total)
        state["bar"].update(state["task"], completed=done)

    def done() -> None:
        if "bar" in state:
            state["bar"].stop()

    return update, done


@main.command("rules")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def rules_cmd(fmt):
    """List every rule: code, name, languages, summary."""
    from lifelint.registry import all_rules

    if fmt == "json":
        import json

        click.echo(json.dumps([{"code": r.code, "name": r.name, "group": r.group, "languages": list(r.languages), "level": r.level.value,
                                "precision": r.precision.value, "summary": r.summary} for r in all_rules()], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="lifelint rules")
    for col in ("code", "name", "group"):
        table.add_column(col, no_wrap=True)  # names are what users type: never fold them
    table.add_column("languages", overflow="fold")
    table.add_column("level")
    table.add_column("summary", overflow="fold", ratio=1, min_width=24)
    for r in all_rules():
        table.add_row(r.code, r.name, r.group, ", ".join("C++" if lang == "cpp" else "Rust" for lang in r.languages), r.level.value, r.summary)
    Console().print(table)


@main.command("rule")
@click.argument("code")
def rule_cmd(code):
    """Show one rule's documentation (by code or name)."""
    from rich.console import Console
    from rich.markdown import Markdown

    from lifelint.registry import all_rules, rule_by_code

    r = rule_by_code(code)
    if r is None:
        click.echo(f"lifelint: error: unknown rule {code!r}; known: {', '.join(x.code for x in all_rules())}", err=True)
        sys.exit(EXIT_ERROR)
    header = (f"# {r.code} {r.name}\n\n*{r.summary}*  \nLanguages: {', '.join(r.languages)} · group: {r.group}"
              f"{'' if r.default_enabled else ' (opt-in)'} · default level: {r.level.value} · precision: {r.precision.value}\n\n")
    Console().print(Markdown(header + r.doc()))


@main.command("parse-stats")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=str))
@click.option("--no-prepass", is_flag=True, help="Parse the raw bytes, without the C++ pre-pass (to compare).")
@click.option("--worst", type=click.IntRange(min=0), default=20, show_default=True, help="How many of the worst files to list.")
@click.option("-D", "--define", "defines", multiple=True, metavar="NAME[=VALUE]", help="Extra #if define (on top of the config's).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Config file to use instead of the nearest one.")
def parse_stats_cmd(paths, no_prepass, worst, defines, config_file):
    """How much of PATHS the grammar cannot read: share of bytes in ERROR nodes, worst files."""
    from lifelint.parse_stats import run, settings_with_defines

    try:
        settings = load_settings(config_file, Path(paths[0]))
    except ConfigError as e:
        click.echo(f"lifelint: error: {e}", err=True)
        sys.exit(EXIT_ERROR)
    run(list(paths), settings_with_defines(defines, settings.cpp), prepass=not no_prepass, worst=worst)
