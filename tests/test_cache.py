"""The per-file cache: a warm run parses nothing, anything that changes facts invalidates,
damaged entries are ignored and rewritten, nothing is written into the scanned tree.
Also the pool (same results for any job count) and the pickling the cache and pool share."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from conftest import FIXED_DEALLOCATOR, NOOP_DEALLOCATOR, findings_json
from lifelint import cache, engine, parsing
from lifelint.engine import ScanOptions, scan
from lifelint.model import Span
from lifelint.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

RUST_SRC = """\
/// Docs.
pub struct Counter(u32);
//! inner
/* a /* nested */ block */
pub fn bump(c: &mut Counter) {
    let url = "http://example.com/*not a comment*/"; // trailing
    c.0 += url.len() as u32;
}
"""


@pytest.fixture
def parses(monkeypatch):
    """Counts the files parsed in this process (jobs=1 runs everything in-process)."""
    seen: list[str] = []
    real = parsing.parse

    def counting(lang, data, *a, **kw):
        seen.append(lang)
        return real(lang, data, *a, **kw)

    monkeypatch.setattr(parsing, "parse", counting)  # the engine looks it up at each file
    return seen


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "proj"
    (src / "src").mkdir(parents=True)
    (src / "src" / "backend.cpp").write_text(NOOP_DEALLOCATOR)
    (src / "src" / "clean.cpp").write_text(FIXED_DEALLOCATOR)
    (src / "src" / "lib.rs").write_text(RUST_SRC)
    return src


def _scan(root: Path, cache_dir: Path | None, jobs: int = 1, settings: Settings | None = None, use_cache: bool = True,
          cache_results: bool = False):
    # Per-file cache behaviour is tested with the whole-scan shortcut off; it has its own tests.
    return scan(ScanOptions(paths=[str(root)], root=root, settings=settings or Settings(), jobs=jobs,
                            use_cache=use_cache, cache_dir=str(cache_dir) if cache_dir else None,
                            cache_results=cache_results))


def _summary(result) -> list:
    return [(f.code, f.location.path, f.location.line, f.message, f.fingerprint) for f in result.findings] + \
           [(d.path, d.kind, d.message) for d in result.diagnostics] + [result.files_scanned, result.lines_scanned]


def _entries(cache_dir: Path) -> list[Path]:
    """Per-file entries (whole-scan entries live under scans/)."""
    return sorted(p for p in cache_dir.rglob("*") if p.is_file() and not p.name.startswith(".tmp-") and "scans" not in p.parts)


def test_warm_run_parses_nothing(project, tmp_path, parses):
    cdir = tmp_path / "cache"
    cold = _scan(project, cdir)
    assert len(parses) == 3
    assert cache.last_stats.misses == 3 and cache.last_stats.writes == 3
    assert len(_entries(cdir)) == 3
    parses.clear()
    warm = _scan(project, cdir)
    assert parses == []
    assert cache.last_stats.hits == 3 and cache.last_stats.misses == 0
    assert _summary(warm) == _summary(cold)
    assert [f.code for f in warm.findings] == ["LL108"]


def test_changed_file_is_parsed_again(project, tmp_path, parses):
    cdir = tmp_path / "cache"
    _scan(project, cdir)
    (project / "src" / "backend.cpp").write_text(FIXED_DEALLOCATOR)
    parses.clear()
    result = _scan(project, cdir)
    assert parses == ["cpp"]
    assert (cache.last_stats.hits, cache.last_stats.misses) == (2, 1)
    assert result.findings == []
    # same size, same mtime, different bytes: still caught (the contents are hashed)
    p = project / "src" / "backend.cpp"
    st = p.stat()
    p.write_text(FIXED_DEALLOCATOR.replace("delete[] b;", "/*delete*/ ;"))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    parses.clear()
    _scan(project, cdir)
    assert parses == ["cpp"]


def test_settings_change_invalidates(project, tmp_path, parses):
    cdir = tmp_path / "cache"
    _scan(project, cdir)
    changed = Settings()
    changed.cpp.defines["LIFELINT_TEST"] = "1"
    assert changed.fact_key() != Settings().fact_key()
    parses.clear()
    _scan(project, cdir, settings=changed)
    assert len(parses) == 3
    parses.clear()
    _scan(project, cdir, settings=changed)
    assert parses == []
    # a setting that does not change facts (rule selection) keeps the cache
    other = Settings()
    other.ignore = ["LL108"]
    parses.clear()
    _scan(project, cdir, settings=other)
    assert parses == []


def test_extractor_source_and_versions_are_in_the_key(monkeypatch):
    base = cache.environment_key(Settings())
    assert base == cache.environment_key(Settings())
    monkeypatch.setattr(cache, "extractor_digest", lambda: "something else")
    assert cache.environment_key(Settings()) != base
    monkeypatch.undo()
    import lifelint

    monkeypatch.setattr(lifelint, "__version__", "999")
    assert cache.environment_key(Settings()) != base


def test_extractor_digest_covers_the_fact_extractors():
    pkg = ROOT / "lifelint"
    covered = {f for d in cache._FACT_SOURCE_DIRS for f in (pkg / d).glob("*.py")}
    for name in ("facts/__init__.py", "facts/cpp.py", "facts/rust.py", "facts/common.py", "parsing.py", "model.py"):
        assert pkg / name in covered
    if (pkg / "cpp_prepass.py").exists():
        assert pkg / "cpp_prepass.py" in covered


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "wrong-magic", "directory"])
def test_damaged_entry_is_ignored_and_rewritten(project, tmp_path, parses, damage):
    cdir = tmp_path / "cache"
    cold = _scan(project, cdir)
    [entry] = [e for e in _entries(cdir) if e.read_bytes() and cache.decode_file(e.read_bytes(), cache.content_digest((project / "src" / "backend.cpp").read_bytes()))]
    blob = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        entry.write_bytes(blob[:-10] + bytes([blob[-10] ^ 0xFF]) + blob[-9:])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(len(blob)))
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "wrong-magic":
        entry.write_bytes(b"XXXX" + blob[4:])
    elif damage == "directory":
        entry.unlink()
        entry.mkdir()
    parses.clear()
    result = _scan(project, cdir)
    assert parses == ["cpp"]
    assert _summary(result) == _summary(cold)
    if damage != "directory":  # a directory in the way cannot be replaced; the run still works
        assert entry.read_bytes() == blob
        parses.clear()
        _scan(project, cdir)
        assert parses == []


def test_unpicklable_payload_with_a_sound_header_is_a_miss(project, tmp_path):
    cdir = tmp_path / "cache"
    _scan(project, cdir)
    data = (project / "src" / "backend.cpp").read_bytes()
    digest = cache.content_digest(data)
    fc = cache.FactCache.open(cdir, Settings())
    src = engine.discover([str(project)], project, [], True).files[0]
    assert src.display == "src/backend.cpp"
    # a pickle naming a class that does not exist (an entry from another lifelint)
    missing = b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x08lifelint\x94\x8c\x07Missing\x94\x93\x94."
    fc.store_file(fc.entry_path(src), digest, missing, cache.dumps(None))
    assert fc.lookup(src, 1 << 20) is None
    fc.store_file(fc.entry_path(src), digest, cache.dumps("not a result"), cache.dumps(None))
    assert fc.lookup(src, 1 << 20) is None
    fc.store_file(fc.entry_path(src), digest, cache.dumps((None, [])), missing)  # the summary: a miss too
    assert fc.lookup_with_summary(src, 1 << 20) == (None, None) and fc.lookup_summary(src, 1 << 20) is None


def test_unwritable_cache_dir_is_not_fatal(project, tmp_path, parses):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    cold = _scan(project, None, use_cache=False)
    result = _scan(project, blocker / "cache")
    assert _summary(result) == _summary(cold)
    assert cache.last_stats.writes == 0 and cache.last_stats.write_errors == 3


def test_no_cache_writes_nothing(project, tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cdir = tmp_path / "explicit"
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "--cache-dir", str(cdir), "."], project)
    assert code == 1 and "LL108" in [f["code"] for f in findings_json(out)]
    code, out, _ = run_cli(["check", "--format", "json", "--no-cache", "."], project)
    assert code == 1
    assert not cdir.exists()
    assert not (tmp_path / "xdg").exists()


def test_default_cache_dir_is_the_user_cache_dir_outside_the_tree(project, tmp_path, run_cli, monkeypatch, parses):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    code, out, _ = run_cli(["check", "--format", "json", "-j", "1", "."], project)
    assert code == 1
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
    assert cache.default_cache_dir() == tmp_path / "xdg" / "lifelint"
    assert len(_entries(tmp_path / "xdg" / "lifelint")) == 3
    parses.clear()
    code, out2, _ = run_cli(["check", "--format", "json", "-j", "1", "."], project)
    assert parses == [] and out2 == out


def test_cli_cache_dir_option(project, tmp_path, run_cli, parses):
    cdir = tmp_path / "c"
    code, out, _ = run_cli(["check", "--format", "json", "--cache-dir", str(cdir), "."], project)
    assert code == 1 and len(_entries(cdir)) == 3
    parses.clear()
    code, out2, _ = run_cli(["check", "--format", "json", "--cache-dir", str(cdir), "."], project)
    assert parses == [] and out2 == out


def test_same_output_for_any_job_count_cold_and_warm(tmp_path, run_cli):
    src = tmp_path / "many"
    src.mkdir()
    for i in range(30):
        (src / f"f{i:02}.cpp").write_text(NOOP_DEALLOCATOR if i % 3 == 0 else "int x = 1; // c\n" * (i + 1))
    for i in range(6):
        (src / f"r{i}.rs").write_text(RUST_SRC)
    (src / "bad.cpp").write_bytes(b"\x00\x01binary")
    outs = []
    for args in (["--no-cache", "-j", "1"], ["--no-cache", "-j", "3"], ["--cache-dir", "c", "-j", "2"],
                 ["--cache-dir", "c", "-j", "2"], ["--cache-dir", "c", "-j", "1"]):
        code, out, _ = run_cli(["check", "--format", "json", *args, "many"], tmp_path)
        assert code == 1
        outs.append(json.loads(out))
    assert all(o == outs[0] for o in outs)
    assert [f["code"] for f in outs[0]["findings"]].count("LL108") == 10


def test_pool_results_equal_in_process_results():
    files = engine.discover([str(FIXTURES)], FIXTURES, [], True).files
    assert len(files) >= 8
    settings = Settings()
    serial = engine.analyse_all(files, settings, 1)
    pooled = engine.analyse_all(files, settings, 2)
    assert serial == pooled


def test_pickling_round_trip_of_real_facts():
    files = engine.discover([str(FIXTURES)], FIXTURES, [], True).files
    for src in files:
        result = engine.analyse_file(src, Settings())
        assert cache.loads(cache.dumps(result)) == result, src.display


def test_pickling_keeps_spans_spans():
    # A Span equals the plain tuple of its values, so `==` on a round trip cannot tell them apart:
    # check the type, and that one Span object shared by two facts stays one object.
    s = Span(10, 20, 1, 2, 3, 4)
    back = cache.loads(cache.dumps({"a": [s, s], "b": (s,)}))
    assert type(back["a"][0]) is Span and back["a"][0] == s and back["a"][0].line == 2
    assert back["a"][0] is back["a"][1] is back["b"][0]
    assert not isinstance(cache.loads(cache.dumps((10, 20, 1, 2, 3, 4))), Span)
    fns = []
    for src in engine.discover([str(FIXTURES)], FIXTURES, [], True).files:
        facts = engine.analyse_file(src, Settings())[0] if src.language == "cpp" else None
        if facts is not None and facts.cpp.functions:
            fns = cache.loads(cache.dumps(facts)).cpp.functions
            break
    assert fns and all(type(f.span) is Span and type(f.name_span) is Span for f in fns)


def test_loaded_spans_share_equal_spans_and_their_offsets(monkeypatch):
    # Spans are a third of a C++ file's facts: equal spans of one pickle load as one object, and
    # the offsets and rows of spans loaded from different pickles (different files' facts) are
    # the same int objects, so a big scan holds each value once (issue 16).
    a, b = Span(100_000, 100_050, 3_000, 4, 3_001, 9), Span(100_000, 100_050, 3_000, 4, 3_001, 9)
    assert a is not b
    back = cache.loads(cache.dumps({"use": a, "call": b, "other": Span(100_000, 200_000, 3_000, 0, 9_000, 1)}))
    assert back["use"] == a and type(back["use"]) is Span and back["use"] is back["call"]
    again = cache.loads(cache.dumps([Span(99_999, 100_000, 2_999, 0, 3_000, 1)]))[0]
    assert again[1] is back["use"][0] and again[4] is back["use"][2]
    assert back["other"][1] == 200_000 and back["other"][0] is back["use"][0]
    # The table is bounded: past the limit it is emptied (values stay right, only not shared).
    monkeypatch.setattr(cache, "SPAN_INTS_MAX", 2)
    first = cache.loads(cache.dumps(Span(500_001, 500_002, 5_001, 0, 5_002, 0)))
    from lifelint import model

    assert len(model._SPAN_INTS) == 0
    second = cache.loads(cache.dumps(Span(500_001, 500_003, 5_001, 0, 5_003, 0)))
    assert first[0] == second[0] == 500_001 and first[0] is not second[0]


def test_rust_names_loaded_from_different_files_are_one_object():
    # A pickle shares a string within itself only: every Rust file's facts would bring their own
    # copy of the names they use. Those marked `_load_shared` intern them on load (issue 16).
    from lifelint.facts import extract_facts

    loaded = []
    for n in (1, 2):
        src = f"use std::sync::Mutex;\nfn f{n}(shared_total: &Mutex<u32>) {{ let g = shared_total.lock(); }}\n".encode()
        loaded.append(cache.loads(cache.dumps(extract_facts(f"f{n}.rs", "rust", src, parsing.parse("rust", src)))))
    names = [next(k for k in f.rust.flows[0].uses if k == "shared_total") for f in loaded]
    assert names[0] is names[1]
    imports = [f.rust.uses[0][1] for f in loaded]
    assert imports[0] == "std::sync::Mutex" and imports[0] is imports[1]
    locks = [next(e for e in f.rust.flows[0].events if e.kind == "lock") for f in loaded]
    assert locks[0].recv == "shared_total" and locks[0].recv is locks[1].recv


class _NotedSpan(Span):
    """A NamedTuple subclass whose objects carry more than their tuple (a __dict__)."""


def test_pickling_a_namedtuple_with_more_than_its_tuple_keeps_the_rest():
    s = _NotedSpan(1, 2, 3, 4, 5, 6)
    s.note = "kept"
    back = cache.loads(cache.dumps(s))
    assert type(back) is _NotedSpan and back == s and back.note == "kept"


def test_pickling_falls_back_on_cycles():
    from lifelint.facts import FileFacts

    facts = FileFacts("a.cpp", "cpp", 1)
    facts.cpp = [facts]  # a cycle through a slots dataclass
    back = cache.loads(cache.dumps(facts))
    assert back.cpp[0] is back


def _hammer(args):
    directory, n, which = args
    fc = cache.FactCache(directory, "env")
    entry = fc.directory / "ab" / "entry"
    payload = cache.dumps((None, [which] * 5000))
    for _ in range(n):
        fc.store(entry, b"d" * 32, payload)
    return True


def test_concurrent_writers_never_leave_a_torn_entry(tmp_path):
    fc = cache.FactCache(tmp_path, "env")
    entry = fc.directory / "ab" / "entry"
    ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
    with ctx.Pool(2) as pool:
        pending = pool.map_async(_hammer, [(tmp_path, 150, "x"), (tmp_path, 150, "y")])
        seen = 0
        while not pending.ready():
            try:
                blob = entry.read_bytes()
            except OSError:
                continue
            value = cache.decode(blob, b"d" * 32)
            assert value is not None and value[1] in (["x"] * 5000, ["y"] * 5000)
            seen += 1
        assert pending.get()
    assert cache.decode(entry.read_bytes(), b"d" * 32) is not None
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".tmp-")]


# --- facts.common: the comment finder that replaced the walk over every node -------------------

TRICKY_CPP = b"""\
// leading
#include <a/b.h> // after include
#define X(a) a // in a define
const char* url = "http://x//y/*z*/"; /* block */ int y = 1 / 2; //// banner
char c = '/'; int z = 4 //comment right after
    /2;
R"(// not a comment)";
int broken( {{{ // inside an error
/* unterminated
"""

TRICKY_RUST = RUST_SRC.encode() + b"fn x() { let s = r#\"//no\"#; /*/ odd */ } // end\n/// outer doc\n//! inner doc\n"


@pytest.mark.parametrize(("lang", "data"), [("cpp", TRICKY_CPP), ("rust", TRICKY_RUST)])
def test_comment_finder_matches_a_full_walk(lang, data):
    from lifelint import parsing
    from lifelint.facts import FileFacts
    from lifelint.facts.common import COMMENT_TYPES, collect_comments_and_errors, walk

    for cut in (len(data), len(data) // 2, len(data) // 3):
        tree = parsing.parse(lang, data[:cut])
        facts = FileFacts("x", lang, 0)
        collect_comments_and_errors(tree.root_node, facts)
        expected = [n for n in walk(tree.root_node) if n.type in COMMENT_TYPES]
        assert [(c.span.start_byte, c.span.end_byte) for c in facts.comments] == [(n.start_byte, n.end_byte) for n in expected]
        errors = sorted((n.start_byte, max(n.end_byte, n.start_byte + 1)) for n in walk(tree.root_node) if n.type == "ERROR" or n.is_missing)
        assert all(any(s <= a and b <= e for s, e in facts.error_ranges) for a, b in errors)
        assert bool(errors) == bool(facts.error_ranges)


def test_environments_unused_for_a_month_are_pruned(project, tmp_path):
    cdir = tmp_path / "cache"
    base = cdir / f"facts-v{cache.FORMAT}"
    old, recent = base / "0ld", base / "recent"
    for d in (old, recent):
        (d / "ab").mkdir(parents=True)
        (d / "ab" / "entry").write_bytes(b"x")
    month_ago = __import__("time").time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    _scan(project, cdir)
    assert not old.exists() and recent.exists()
    assert len(_entries(cdir)) == 3 + 1


def test_whole_scan_key_and_result_round_trip(project, tmp_path):
    cdir = tmp_path / "cache"

    def key(**kw):
        opts = ScanOptions(paths=[str(project)], root=project, use_cache=True, cache_dir=str(cdir), **kw)
        disc = engine.discover(opts.paths, project, [], True)
        return opts, cache.scan_key(opts, disc)

    opts, k1 = key()
    assert key()[1] == k1
    assert key(jobs=3)[1] == k1  # how the work is done is not what the result depends on
    assert key(enabled={"LL108"})[1] != k1
    assert key(report_unused_suppressions=True)[1][0] != k1[0]
    changed = Settings()
    changed.per_file_ignores = {"src/*": ["LL108"]}
    assert key(settings=changed)[1] != k1
    result = scan(dataclasses.replace(opts, cache_results=False))
    fc = cache.FactCache.open(cdir, opts.settings)
    assert fc.load_result(k1) is None
    assert fc.store_result(k1, result)
    assert _summary(fc.load_result(k1)) == _summary(result)
    (project / "src" / "backend.cpp").write_text(FIXED_DEALLOCATOR)
    _, k2 = key()
    assert k2[0] == k1[0] and k2[1] != k1[1]  # same slot, new key: the old result is not returned
    assert fc.load_result(k2) is None


def test_whole_scan_key_is_the_same_in_every_process(project):
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from lifelint import cache, engine; "
            "o = engine.ScanOptions(paths=[sys.argv[1]], root=Path(sys.argv[1]), enabled={'LL108', 'LL203', 'LL101', 'LL303'}); "
            "print(cache.scan_key(o, engine.discover(o.paths, o.root, [], True)))")
    keys = {subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(keys) == 1


def test_unchanged_rerun_is_served_whole(project, tmp_path, parses):
    cdir = tmp_path / "cache"
    cold = _scan(project, cdir, cache_results=True)
    parses.clear()
    warm = _scan(project, cdir, cache_results=True)
    assert parses == [] and _summary(warm) == _summary(cold)
    # Any change to a file's bytes, or to the options, misses the whole-scan entry.
    (project / "src" / "backend.cpp").write_text(FIXED_DEALLOCATOR)
    changed = _scan(project, cdir, cache_results=True)
    assert parses == ["cpp"] and changed.findings == []
    parses.clear()
    other = scan(ScanOptions(paths=[str(project)], root=project, settings=Settings(), jobs=1, use_cache=True,
                             cache_dir=str(cdir), enabled={"LL101"}))
    assert parses == [] and other.findings == []  # per-file facts still come from the cache


def test_a_cached_rerun_loads_no_parser_fact_or_rule_module(tmp_path):
    """The whole-scan cache hit is the pre-commit fast path: it must not pay for importing the
    grammars, the fact extractors or the rules (a fresh process, as the hook runs it)."""
    import subprocess
    import sys

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.cpp").write_text(NOOP_DEALLOCATOR)
    probe = (
        "import sys\n"
        "from lifelint.cli import main\n"
        "try:\n"
        "    main(['check', '--format', 'json', '-o', sys.argv[2], '--cache-dir', sys.argv[1], '.'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.startswith(('tree_sitter', 'lifelint.facts', 'lifelint.rules.', 'lifelint.locking')))\n"
        "print(','.join(heavy))\n"
    )
    cmd = [sys.executable, "-c", probe, str(tmp_path / "cache"), str(tmp_path / "out.json")]
    first = subprocess.run(cmd, cwd=src, capture_output=True, text=True, check=True)
    assert "tree_sitter" in first.stdout  # the cold run parsed
    second = subprocess.run(cmd, cwd=src, capture_output=True, text=True, check=True)
    assert second.stdout.strip() == "", second.stdout
    assert json.loads((tmp_path / "out.json").read_text())["findings"][0]["code"] == "LL108"
