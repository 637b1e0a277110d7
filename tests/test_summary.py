"""Per-file summaries (lifelint.summary): made in the worker with the facts, cached in the same
entry ahead of them, loadable without the facts. What the passes read from them is held to the
whole scan by the cross-file fixture projects (tests/test_cross_file_projects.py: guards, lock
macros and helpers one file defines and another uses; caller-held locks a header states)."""

from __future__ import annotations

from pathlib import Path

from lifelint import cache as cache_mod
from lifelint import engine
from lifelint.discovery import discover
from lifelint.settings import Settings
from lifelint.summary import summarize

ROOT = Path(__file__).resolve().parent.parent
SPLIT = ROOT / "fixtures" / "cpp" / "LL203-inconsistent-locking" / "projects" / "lock_effects_split"


def _copy(tmp_path: Path, n: int = 1) -> Path:
    """The lock-effects project, `n` times in subfolders (enough files for the process pool)."""
    for k in range(n):
        for src in SPLIT.iterdir():
            dst = tmp_path / f"p{k}" / src.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    return tmp_path


def test_the_summary_says_what_the_file_defines_and_uses():
    disc = discover([str(SPLIT)], SPLIT, [], False)
    analysed, sums = engine.analyse_all_summarised(disc.files, Settings(), 1)
    by_name = {s.path: s for s in sums}
    # ledger_lock.cpp defines the acquire/release helpers; ledger_ops.cpp calls them
    defines = {p for p, s in by_name.items() if s.lock_effects and s.lock_effects.get("helpers")}
    assert defines == {"ledger_lock.cpp"}, by_name
    helpers = {name for _cls, name in by_name["ledger_lock.cpp"].lock_effects["helpers"]}
    assert helpers & {name for _cls, name in by_name["ledger_ops.cpp"].own_calls}
    for (facts, _), s in zip(analysed, sums):
        assert s == summarize(facts)


def test_summaries_are_cached_apart_from_the_facts(tmp_path):
    tree = _copy(tmp_path / "tree")
    cache_dir = tmp_path / "cache"
    settings = Settings()
    disc = discover([str(tree)], tree, [], False)
    first, sums = engine.analyse_all_summarised(disc.files, settings, 1, use_cache=True, cache_dir=cache_dir)
    assert cache_mod.last_stats.writes == len(disc.files)
    again, sums2 = engine.analyse_all_summarised(disc.files, settings, 1, use_cache=True, cache_dir=cache_dir)
    assert cache_mod.last_stats.hits == len(disc.files) and sums2 == sums
    fc = cache_mod.FactCache.open(cache_dir, settings)
    for src, s in zip(disc.files, sums):
        entry = fc.entry_path(src)
        blob = entry.read_bytes()
        head = cache_mod._FILE_HEADER.size + cache_mod._FILE_HEADER.unpack_from(blob)[-1]
        assert len(blob) > head
        entry.write_bytes(blob[:head])  # the facts gone, the summary still loads on its own
        assert fc.lookup(src, settings.max_file_size) is None
        assert fc.lookup_summary(src, settings.max_file_size) == s
    # an edited file's summary is not served for its new contents
    src = disc.files[0]
    Path(src.path).write_text(Path(src.path).read_text() + "\n// edited\n")
    assert fc.lookup_summary(src, settings.max_file_size) is None


def test_workers_send_the_same_summaries(tmp_path):
    tree = _copy(tmp_path / "tree", n=4)
    disc = discover([str(tree)], tree, [], False)
    assert len(disc.files) >= 8
    serial = engine.analyse_all_summarised(disc.files, Settings(), 1)[1]
    pooled = engine.analyse_all_summarised(disc.files, Settings(), 2)[1]
    assert serial == pooled and all(s is not None for s in serial)


RUST_SPLIT = ROOT / "fixtures" / "rust" / "LL202-lock-held-on-some-path" / "projects" / "guard_helper_split"
UNLOCK_SPLIT = ROOT / "fixtures" / "cpp" / "LL203-inconsistent-locking" / "projects" / "unlocker_split"


def test_rust_summaries_carry_guard_helpers_and_agreeing_names_only():
    """shared.rs defines the guard helpers; `entry` is also pool.rs's `Cache::entry` (no guard),
    so a call named `entry()` could be either and is not a helper of the project."""
    from lifelint.facts.rust_flow import project_guard_helpers

    disc = discover([str(RUST_SPLIT)], RUST_SPLIT, [], False)
    _analysed, sums = engine.analyse_all_summarised(disc.files, Settings(), 1)
    by_name = {s.path: s for s in sums}
    helpers = by_name["src/shared.rs"].lock_effects["guard_helpers"]
    assert tuple(helpers["state"]) == ("Shared", True, "self.inner")
    assert tuple(helpers["totals"]) == (None, False, "TOTALS")
    assert "state" in by_name["src/worker.rs"].called and "state" not in by_name["src/worker.rs"].defined
    project = project_guard_helpers(sums)
    assert set(project) == {"state", "totals", "jobs"}


def test_cpp_summaries_carry_unlockers_and_lock_wrappers():
    disc = discover([str(UNLOCK_SPLIT)], UNLOCK_SPLIT, [], False)
    _analysed, sums = engine.analyse_all_summarised(disc.files, Settings(), 1)
    eff = {s.path: s for s in sums}["sync.hpp"].lock_effects
    assert eff["unlockers"] == ["Unlocked"] and eff["guards"] == []
    assert eff["wrappers"]["Section"] == {"m_": 0}  # (Unlocked keeps its mutex so too)
    assert {name for _cls, name in eff["helpers"]} == {"enter", "leave"}
