"""Messages people read (issue 14 item 3): every finding on every fixture has a headline of one
sentence of at most HEADLINE_MAX characters (what and where), a why (shown as a note) and one
remedy (shown as `help:`). Computed from the findings the fixtures really produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifelint.config import enabled_codes, validate_selectors
from lifelint.engine import ScanOptions, scan
from lifelint.model import HEADLINE_MAX, _sentences, fit_headline, short_name
from lifelint.settings import Settings
from lifelint.testing import parse_expectations

from tests.test_fixtures import FIXTURES, SOURCES


def _findings(path: Path):
    exp = parse_expectations(path.read_text(encoding="utf-8"))
    settings = Settings()
    enabled = enabled_codes(settings, validate_selectors("fixture", "select", exp.select or ["ALL"]), None)
    return scan(ScanOptions(paths=[str(path)], root=path.parent, settings=settings, enabled=enabled, jobs=1)).findings


@pytest.fixture(scope="module")
def all_findings():
    out = [(p, f) for p in SOURCES for f in _findings(p)]
    assert len({f.code for _, f in out}) >= 20, "the fixtures should exercise nearly every rule"
    return out


def _where(p, f) -> str:
    return f"{p.relative_to(FIXTURES)}:{f.location.line} {f.code}: {f.message}"


def test_headline_is_one_short_sentence(all_findings):
    bad = [f"{_where(p, f)} ({len(f.message)} chars)" for p, f in all_findings
           if len(f.message) > HEADLINE_MAX or len(_sentences(f.message)) != 1 or f.message[-1:] not in ".!?"
           or not f.message[:1].isupper() and f.message[:1] != "`"]
    assert not bad, "\n".join(bad)


def test_every_finding_has_a_why_and_one_help_line(all_findings):
    bad = [_where(p, f) for p, f in all_findings if not f.why.strip() or not f.fix.strip() or "\n" in f.fix]
    assert not bad, "\n".join(bad)


def test_long_names_are_cut_not_the_sentence():
    name = "m_" + "very_long_member_name_" * 6
    head = fit_headline(f"`{name}` is used after `mu_` is released at line 42.")
    assert len(head) <= HEADLINE_MAX
    assert head.endswith("is used after `mu_` is released at line 42.")
    assert head.startswith("`m_very_long") and "\u2026`" in head
    assert short_name("a  b\n c") == "a b c"
    assert len(short_name("x" * 100, 40)) == 40


def test_ll106_names_the_end_iterator_not_a_rehash():
    """Issue 11 item 5: `if (it == m.end()) { m.emplace(..); it->second; }` dereferences the end
    iterator; blaming a rehash hides the real fault. `!=` with the use in the else branch too; a
    found element used after a change keeps the rehash message."""
    path = FIXTURES / "cpp/LL106-container-invalidation/end_branch.cpp"
    by_line = {f.location.line: f for f in _findings(path) if f.code == "LL106"}
    src = path.read_text(encoding="utf-8").splitlines()
    end_lines = [i + 1 for i, line in enumerate(src) if "expect: LL106" in line][:2]
    for line in end_lines:
        f = by_line[line]
        assert "dereferenced on the branch where it equals `names.end()`" in f.message, f.message
        assert "rehash" not in f.message
    [after] = [f for line, f in by_line.items() if line not in end_lines]
    assert "is used after `names.emplace()`" in after.message and "may rehash" in after.why


def test_ll106_names_the_callee_and_the_change_in_another_file():
    """Issue 12 item 3: a change made down a call chain, in a method defined in another file. The
    finding is at the use (or the loop's call), names the container, the callee and the line of
    the change in the callee's file; the change itself is a related location in that file."""
    folder = FIXTURES / "cpp/LL106-container-invalidation/projects/event_bus"
    result = scan(ScanOptions(paths=[str(folder)], root=folder, settings=Settings(), jobs=1))
    by_line = {f.location.line: f for f in result.findings if f.code == "LL106"}
    src = (folder / "bus.cpp").read_text(encoding="utf-8").splitlines()
    erase_line = next(i + 1 for i, line in enumerate((folder / "bus_store.cpp").read_text(encoding="utf-8").splitlines())
                      if "m_counts.erase" in line)
    use = next(i + 1 for i, line in enumerate(src) if "return n;  // expect: LL106" in line)
    f = by_line[use]
    assert "`n` into `m_counts`" in f.message and "`retire()`" in f.message, f.message
    assert f"line {erase_line} of bus_store.cpp" in f.message, f.message
    assert "`bus::drop_topic()`" in f.why, f.why
    inner = [loc for loc, _msg in f.related if loc.path.endswith("bus_store.cpp")]
    assert [loc.line for loc in inner] == [erase_line], f.related
    loop = next(i + 1 for i, line in enumerate(src) if "h->handle(*this, topic);  // expect: LL106" in line)
    g = by_line[loop]
    assert "`m_handlers`" in g.message and "`h->handle()`" in g.message, g.message
    assert "`once::handle()`, which calls `bus::remove()`" in g.why, g.why
    assert any(loc.path.endswith("bus_store.cpp") for loc, _msg in g.related), g.related


def test_ll106_stored_iterator_names_the_reader_in_another_file():
    """Issue 12 item 3: an iterator member invalidated in one method and dereferenced in another.
    Reported at the change (where the re-seat belongs), naming the member, the container and the
    method that dereferences it with its line in the other file; that read is a related location."""
    folder = FIXTURES / "cpp/LL106-container-invalidation/projects/cursor_store"
    result = scan(ScanOptions(paths=[str(folder)], root=folder, settings=Settings(), jobs=1))
    found = [f for f in result.findings if f.code == "LL106"]
    edit = (folder / "edit.cpp").read_text(encoding="utf-8").splitlines()
    seek = (folder / "seek.cpp").read_text(encoding="utf-8").splitlines()
    change = next(i + 1 for i, t in enumerate(edit) if "records_.push_back" in t)
    read = next(i + 1 for i, t in enumerate(seek) if "return *cursor_;" in t)
    assert [(f.location.path.rsplit("/", 1)[-1], f.location.line) for f in found] == [("edit.cpp", change)], found
    f = found[0]
    assert "`records_.push_back()` invalidates the iterator member `cursor_`" in f.message, f.message
    assert f"which `read()` dereferences at line {read} of seek.cpp" in f.message, f.message
    assert "`record_store::append()`" in f.why, f.why
    assert [loc.line for loc, _m in f.related if loc.path.endswith("seek.cpp")] == [read], f.related


def test_ll101_getter_names_the_callers_that_use_the_view():
    """Issue 12 item 2: a locked getter returning a view into guarded data is reported at its
    return, with the callers' uses of the view (bound to a reference, iterated, a method called on
    it) as related locations, found through the call graph, in other files too. A caller that
    copies the result is not one of them."""
    folder = FIXTURES / "cpp/LL101-view-escapes-lock/name_registry"
    result = scan(ScanOptions(paths=[str(folder)], root=folder, settings=Settings(), jobs=1))
    getters = {f.location.line: f for f in result.findings if f.code == "LL101" and f.location.path.endswith("registry.cpp")}
    reg = (folder / "registry.cpp").read_text(encoding="utf-8").splitlines()
    users = (folder / "users.cpp").read_text(encoding="utf-8").splitlines()

    def line(src, text):
        return next(i + 1 for i, t in enumerate(src) if text in t)

    def callers(f):
        return sorted((loc.path.rsplit("/", 1)[-1], loc.line, msg) for loc, msg in f.related if "used here after" in msg)

    name_of = getters[line(reg, "return names_.at(id);  // expect: LL101")]
    got = callers(name_of)
    assert [(p, ln) for p, ln, _m in got] == [("registry.cpp", line(reg, "return name_of(id).size();")),
                                              ("users.cpp", line(users, 'std::printf("%s\\n", n.c_str());'))], got
    assert "`n` used here after `name_of()` released `mu_` (in `print_name`)" in got[1][2], got
    ids = getters[line(reg, "return ids_;  // expect: LL101")]
    got = callers(ids)
    assert [(p, ln) for p, ln, _m in got] == [("users.cpp", line(users, "for (int id : r.ids())")),
                                              ("users.cpp", line(users, "return r.ids().size();"))], got
    assert "`r.ids()` used here after `ids()` released `mu_`" in got[0][2], got
    assert not any(loc.line == line(users, "std::string copy = r.name_of(id);") for f in getters.values()
                   for loc, _m in f.related if loc.path.endswith("users.cpp")), "a copy is no use of the view"


def test_ll105_names_the_clear_that_destruction_never_reaches():
    """Issue 12 item 0: a clear function that exists is not a clear that happens. When one exists,
    the finding names it, who calls it instead, and the destructor that does not; the fix is to
    call it from there."""
    path = FIXTURES / "cpp/LL105-owner-pointer-in-global/setter_spellings.cpp"
    by_line = {f.location.line: f for f in _findings(path) if f.code == "LL105"}
    src = path.read_text(encoding="utf-8").splitlines()
    line = next(i + 1 for i, text in enumerate(src) if "set_current_mixer(m.get());" in text)
    f = by_line[line]
    assert "`~mixer` never reaches `clear_current_mixer`" in f.message, f.message
    assert "only `player::~player` calls it" in f.why, f.why
    assert "call `clear_current_mixer` from `~mixer`" in f.fix
    assert any("clear_current_mixer" in msg for _loc, msg in f.related)
    # a global with no clear function at all keeps the plain message
    plain = [g for g in _findings(FIXTURES / "cpp/LL105-owner-pointer-in-global/registry_globals.cpp")
             if g.code == "LL105" and "t.get()" in g.message]
    assert plain and "never cleared" in plain[0].message


def test_ll105_names_the_reset_that_misses_a_way_out():
    """A function that resets the global on some ways out only: the finding points at the reset
    it has, says some way out skips it, and the fix is to reset on every way out."""
    path = FIXTURES / "cpp/LL105-owner-pointer-in-global/publication_paths.cpp"
    src = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, text in enumerate(src) if text.startswith("bool event_pump::run_leaky_exit"))
    store = next(i + 1 for i in range(start, len(src)) if "running = this;" in src[i])
    reset = next(i + 1 for i in range(store, len(src)) if "running = nullptr;" in src[i])
    [f] = [g for g in _findings(path) if g.code == "LL105" and g.location.line == store]
    assert f"`run_leaky_exit` resets it at line {reset}, but some way out" in f.why, f.why
    assert f.fix.startswith("Reset `running` on every way out of `run_leaky_exit`"), f.fix
    assert any(loc.line == reset and "not on every way out" in msg for loc, msg in f.related), f.related


def test_ll105_names_the_static_member_of_the_storing_class(tmp_path):
    """Two classes with a static member of the same name, in two files of one scan: `s_current =
    this` in one's constructor stores into that class's member, and the message names that one
    (not the first found)."""
    import shutil

    d = FIXTURES / "cpp/LL105-owner-pointer-in-global"
    for name in ("registry_globals.cpp", "clear_paths.cpp"):  # session_impl::s_current, font_cache::s_current
        shutil.copy(d / name, tmp_path / name)
    res = scan(ScanOptions(paths=[str(tmp_path)], root=tmp_path, settings=Settings(), enabled={"LL105"}, jobs=1))
    src = (tmp_path / "registry_globals.cpp").read_text(encoding="utf-8").splitlines()
    [f] = [g for g in res.findings if Path(g.location.path).name == "registry_globals.cpp"
           and "session_impl() {" in src[g.location.line - 1]]
    assert "the static member `session_impl::s_" in f.message, f.message  # (the headline may shorten the name)
