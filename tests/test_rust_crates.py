"""The crate a Rust file belongs to (lifelint.crates) and the names its `use`s bring in."""

from __future__ import annotations

from pathlib import Path

from lifelint import cache
from lifelint.crates import CrateFinder, read_manifest
from lifelint.discovery import discover
from lifelint.engine import analyse_all
from lifelint.index import ProjectIndex
from lifelint.settings import Settings
from lifelint.summary import summarize


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def test_nearest_package_manifest_is_the_crate(tmp_path):
    _write(tmp_path, {
        "Cargo.toml": "[workspace]\nmembers = ['a', 'b']\n",  # a virtual manifest: no crate
        "a/Cargo.toml": "[package]\nname = 'my-app'\n[dependencies]\nstats = { path = '../b' }\n"
                        "log2 = { package = 'fancy-log', version = '1' }\n"
                        "[target.'cfg(unix)'.dependencies]\nlibc = '0.2'\n",
        "a/src/main.rs": "fn main() {}\n",
        "a/src/deep/more.rs": "fn f() {}\n",
        "b/Cargo.toml": "[package]\nname = 'stats'\n[lib]\nname = 'statlib'\n",
        "b/src/lib.rs": "pub fn g() {}\n",
        "tools/x.rs": "fn h() {}\n",
    })
    files = {s.display: s for s in discover([str(tmp_path)], tmp_path, []).files}
    a = files["a/src/main.rs"].crate
    assert a is not None and (a.root, a.name) == ("a", "my_app")
    assert dict(a.deps) == {"stats": "stats", "log2": "fancy_log", "libc": "libc"}
    assert files["a/src/deep/more.rs"].crate == a
    b = files["b/src/lib.rs"].crate
    assert (b.root, b.name) == ("b", "statlib")  # `[lib] name` is how code names it
    assert files["tools/x.rs"].crate is None  # only the workspace manifest above it


def test_crate_lookup_walks_each_folder_once(tmp_path, monkeypatch):
    _write(tmp_path, {"c/Cargo.toml": "[package]\nname = 'c'\n", "c/src/a.rs": "", "c/src/b.rs": ""})
    seen = []
    real = read_manifest

    def counting(path):
        seen.append(path)
        return real(path)

    monkeypatch.setattr("lifelint.crates.read_manifest", counting)
    finder = CrateFinder(tmp_path)
    assert finder.crate_of(tmp_path / "c/src/a.rs") == finder.crate_of(tmp_path / "c/src/b.rs")
    assert len(seen) == 1


def test_broken_manifest_still_makes_a_crate(tmp_path):
    _write(tmp_path, {"foo-bar-1.2.3/Cargo.toml": "[package\nname = ", "foo-bar-1.2.3/src/lib.rs": ""})
    crate = CrateFinder(tmp_path).crate_of(tmp_path / "foo-bar-1.2.3/src/lib.rs")
    assert crate is not None and crate.name == "foo_bar"


def test_a_new_manifest_changes_the_cache_key(tmp_path):
    _write(tmp_path, {"src/lib.rs": "fn f() {}\n"})
    before = discover([str(tmp_path)], tmp_path, []).files[0]
    _write(tmp_path, {"Cargo.toml": "[package]\nname = 'x'\n"})
    after = discover([str(tmp_path)], tmp_path, []).files[0]
    data = b"fn f() {}\n"
    assert before.crate is None and after.crate is not None
    assert cache.file_digest(data, before) != cache.file_digest(data, after)


def _project(tmp_path, files):
    _write(tmp_path, files)
    disc = discover([str(tmp_path)], tmp_path, [])
    analysed = analyse_all(disc.files, Settings(), 1, use_cache=False)
    facts = [f for f, _ in analysed if f is not None]
    return {f.path: f for f in facts}, ProjectIndex(facts, Settings())


def test_use_declarations_and_modules_are_facts(tmp_path):
    by_path, _ = _project(tmp_path, {"lib.rs": (
        "use a::b::{c, d as e, self, f::*};\nuse ::x::y;\nuse crate::m::n as _;\nmod inner { pub fn k() { use s::t; } }\nmod other;\n")})
    facts = by_path["lib.rs"]
    assert facts.rust.uses == [("c", "a::b::c"), ("e", "a::b::d"), ("b", "a::b"), ("*", "a::b::f"), ("y", "x::y"),
                               ("t", "s::t")]
    assert facts.rust.modules == ["inner", "other"]
    s = summarize(facts)
    assert s.uses == tuple(facts.rust.uses) and s.modules == {"inner", "other"}
