"""Reporting on some files of a project (`check FILE` with the repository as context, the
pre-commit hook's run) gives exactly the part of a whole scan that concerns those files, while
running the rules whose findings stay in the file they check (`Rule.cross_file = False`) only on
the reported files."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifelint import engine
from lifelint.engine import ScanOptions, restrict, scan
from lifelint.report.json_report import document
from lifelint.settings import Settings

from test_cross_file_projects import FIXTURES, PROJECTS, _id, _sources


def _full(folder: Path, **kw):
    return scan(ScanOptions(paths=[str(folder)], root=folder, settings=Settings(), jobs=1, **kw))


def _report_only(folder: Path, src: Path, **kw):
    return scan(ScanOptions(paths=[str(src)], root=folder, settings=Settings(), jobs=1, context_root=folder, **kw))


def _same(got, want) -> None:
    assert document(got) == document(want)
    assert (got.suppressed, got.context_files, got.files_scanned) == (want.suppressed, want.context_files, want.files_scanned)
    assert sorted(f.fingerprint for f in got.hidden) == sorted(f.fingerprint for f in want.hidden)


@pytest.mark.parametrize("folder", PROJECTS, ids=_id)
def test_each_file_reported_alone_matches_the_whole_scan(folder: Path):
    """Every rule on (nursery included), every file of each cross-file fixture project."""
    full = _full(folder, report_unused_suppressions=True)
    for src in _sources(folder):
        display = src.relative_to(folder).as_posix()
        _same(_report_only(folder, src, report_unused_suppressions=True), restrict(full, {display}))


def test_a_cross_file_finding_is_found_from_the_file_it_points_at(tmp_path):
    """The finding lies in the header (where the flag is declared) and points at the source that
    polls it from a thread: checking only the source still runs the rule on the header."""
    from test_precommit import WORKER_CPP, WORKER_HPP

    (tmp_path / "worker.hpp").write_text(WORKER_HPP)
    (tmp_path / "worker.cpp").write_text(WORKER_CPP)
    (tmp_path / "other.cpp").write_text("void other() {}\n")
    got = _report_only(tmp_path, tmp_path / "worker.cpp")
    assert [(f.code, f.location.path) for f in got.findings] == [("LL201", "worker.hpp")]
    assert got.context_files == 2
    _same(got, restrict(_full(tmp_path), {"worker.cpp"}))


def test_rules_that_say_so_report_only_in_the_file_they_check():
    """`cross_file = False` is what lets a report-only run skip a rule on context files: over
    every fixture, read as one project (so the project index holds other files' classes and
    functions), such a rule's findings and related locations are all in the checked file."""
    from lifelint.discovery import discover
    from lifelint.index import ProjectIndex
    from lifelint.registry import all_rules

    settings = Settings()
    disc = discover([str(FIXTURES)], FIXTURES, [], False)
    analysed, summaries = engine.analyse_all_summarised(disc.files, settings, 1)
    summaries = [s for s in summaries if s is not None]
    engine._apply_project_lock_effects(disc.files, analysed, settings, None, summaries)
    facts_list = [f for f, _ in analysed if f is not None]
    index = ProjectIndex(facts_list, settings, summaries)
    local = [r(settings) for r in all_rules() if not r.cross_file]
    assert len(local) >= 10
    seen = set()
    for facts in facts_list:
        for rule in local:
            if facts.language not in rule.languages:
                continue
            for f in rule.check(facts, index):
                seen.add(rule.code)
                assert f.path in ("", facts.path), (rule.code, facts.path, f.path)
                assert all(r.path in (None, facts.path) for r in f.related), (rule.code, facts.path, f.related)
    assert len(seen) >= 8, seen  # the fixtures exercise most of them


def test_a_folded_rule_runs_wherever_its_host_does():
    """LL104 folds its finding into LL101's on the same token: a report-only run that checks a
    context file with LL101 checks it with LL104 too, or the host finding would lose its note."""
    from lifelint.registry import all_rules

    rules = [r(Settings()) for r in all_rules()]
    codes = {r.code for r in engine._cross_file_rules(rules)}
    for r in rules:
        host = getattr(r, "folds_into", None)
        if host in codes:
            assert r.code in codes
    assert "LL104" in codes and "LL108" not in codes


def test_stdin_filename_reports_what_check_file_reports(tmp_path, monkeypatch):
    """`check --stdin-filename worker.cpp` (an editor's buffer) finds the header's LL201 that
    points at worker.cpp, like `check worker.cpp` does."""
    from click.testing import CliRunner
    from test_precommit import WORKER_CPP, WORKER_HPP

    from lifelint.cli import main

    (tmp_path / "worker.hpp").write_text(WORKER_HPP)
    (tmp_path / "worker.cpp").write_text(WORKER_CPP)
    monkeypatch.chdir(tmp_path)
    base = ["check", "--no-cache", "--select", "ALL", "--format", "concise", "--config", str(tmp_path / "none.toml")]
    (tmp_path / "none.toml").write_text("")
    by_path = CliRunner().invoke(main, [*base, "worker.cpp"], catch_exceptions=False)
    by_stdin = CliRunner().invoke(main, [*base, "--stdin-filename", "worker.cpp"], input=WORKER_CPP, catch_exceptions=False)
    assert "worker.hpp" in by_path.stdout and "LL201" in by_path.stdout, by_path.output
    assert by_stdin.stdout == by_path.stdout
    assert by_stdin.exit_code == by_path.exit_code == 1
