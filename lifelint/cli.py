"""The `lifelint` command line: check, rules, rule."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import click

from lifelint import __version__, baseline
from lifelint.config import ConfigError, enabled_codes, load_settings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# File problems that mean part of the tree was not analysed: the exit code must say so.
FAILING_DIAGNOSTICS = frozenset({"unreadable", "binary", "too-large", "symlink-loop", "internal"})
FORMATS = ("text", "json", "sarif", "github")


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lifelint")
def main() -> None:
    """Find lifetime and thread-safety hazards in C++ and Rust code."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write the report to FILE instead of stdout.")
@click.option("--select", multiple=True, help="Rules to enable: codes, prefixes (LL1), names, groups (default, nursery, restriction) or ALL. Comma-separated.")
@click.option("--extend-select", multiple=True, help="Rules to enable on top of the configured selection.")
@click.option("--ignore", multiple=True, help="Rules to disable: codes, prefixes, names or groups. Comma-separated.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Config file to use instead of the nearest one.")
@click.option("--root", type=click.Path(file_okay=False), help="Directory reported paths are relative to (default: the current directory).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: the number of cores).")
@click.option("--report-unused-suppressions", is_flag=True, help="List `lifelint: ignore[...]` comments that matched nothing.")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False), help="Hide the findings accepted in this baseline file; fail only on new ones.")
@click.option("--write-baseline", type=click.Path(dir_okay=False, writable=True), help="Write every current finding to this baseline file and exit 0.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("--color/--no-color", default=None, help="Force or disable colors (default: on a terminal, unless NO_COLOR is set).")
@click.option("--no-progress", is_flag=True, help="Never show a progress bar.")
@click.option("--force-exclude", is_flag=True, help="Apply config excludes to files named on the command line too (for pre-commit).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Where to cache per-file results (default: the user cache dir).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache.")
def check(paths, fmt, output, select, extend_select, ignore, config_file, root, jobs, report_unused_suppressions, baseline_file, write_baseline, exit_zero, color, no_progress, force_exclude, cache_dir, no_cache):
    """Scan PATHS (default: the current directory) and report hazards."""
    from lifelint.engine import ScanOptions, default_jobs, scan
    from lifelint.registry import all_rules, catalog
    from lifelint.report import REPORTERS

    paths = list(paths) or ["."]
    try:
        settings = load_settings(config_file, Path(paths[0]))
        enabled = enabled_codes(settings, _split(select) or None, _split(ignore) or None, _split(extend_select) or None)
    except ConfigError as e:
        click.echo(f"lifelint: error: {e}", err=True)
        sys.exit(EXIT_ERROR)
    if force_exclude:
        paths = _drop_excluded(paths, settings, Path(root or os.getcwd()))
    stream_is_tty = output is None and sys.stdout.isatty()
    use_color = color if color is not None else (stream_is_tty and "NO_COLOR" not in os.environ)
    progress_cb, progress_done = (None, lambda: None)
    if not no_progress and fmt == "text" and sys.stderr.isatty():
        progress_cb, progress_done = _progress_bar()
    opts = ScanOptions(paths=paths, root=Path(root or os.getcwd()), settings=settings, enabled=enabled,
                       jobs=jobs or default_jobs(), report_unused_suppressions=report_unused_suppressions,
                       progress=progress_cb, use_cache=not no_cache, cache_dir=cache_dir)
    try:
        result = scan(opts)
    except KeyboardInterrupt:
        click.echo("lifelint: interrupted", err=True)
        sys.exit(130)
    except Exception as e:  # fail closed: an internal error is never a clean run
        click.echo(f"lifelint: internal error: {type(e).__name__}: {e}", err=True)
        sys.exit(EXIT_ERROR)
    finally:
        progress_done()
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
        result.findings, result.baselined, stale = baseline.apply(result.findings, accepted)
        if stale:
            click.echo(f"lifelint: {stale} baseline entr{'y' if stale == 1 else 'ies'} in {baseline_file} no longer match a finding; "
                       "rewrite it with --write-baseline to keep it tight", err=True)
    # SARIF describes each rule in full; the other formats need at most codes and names, which
    # the catalog gives without loading the rule modules (a cached re-run loads none).
    rules = [r for r in (all_rules() if fmt == "sarif" else catalog()) if r.code in enabled]
    render = REPORTERS[fmt]
    if output:
        buf = io.StringIO()
        render(result, rules, buf, color=False)
        try:
            Path(output).write_text(buf.getvalue(), encoding="utf-8")
        except OSError as e:
            click.echo(f"lifelint: error: cannot write {output}: {e.strerror or e}", err=True)
            sys.exit(EXIT_ERROR)
        if fmt != "text":  # a short human summary on stderr, never mixed into the file
            click.echo(f"lifelint: {len(result.findings)} finding(s) in {result.files_scanned} file(s); report written to {output}", err=True)
    else:
        render(result, rules, sys.stdout, color=use_color)
    if any(d.kind == "missing" for d in result.diagnostics):
        sys.exit(EXIT_ERROR)
    if exit_zero:
        sys.exit(EXIT_CLEAN)
    failed = bool(result.findings) or (report_unused_suppressions and bool(result.unused_suppressions))
    failed = failed or any(d.kind in FAILING_DIAGNOSTICS for d in result.diagnostics)
    sys.exit(EXIT_FINDINGS if failed else EXIT_CLEAN)


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
