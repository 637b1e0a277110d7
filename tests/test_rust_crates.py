"""The crate a Rust file belongs to (lifelint.crates), the names its `use`s bring in, and how a
call path is resolved with them (lifelint.rust_calls): within the caller's crate, or through a
path or import naming another crate, to that crate's `pub` functions only. The two-crate fixture
project (fixtures/rust/LL202-unsynchronized-global/projects/two_crates) checks the findings."""

from __future__ import annotations

from pathlib import Path

from lifelint import cache
from lifelint.crates import CrateFinder, read_manifest
from lifelint.discovery import discover
from lifelint.engine import analyse_all
from lifelint.index import ProjectIndex
from lifelint.rust_calls import rust_calls
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


TWO_CRATES = {
    "app/Cargo.toml": "[package]\nname = 'app'\n[dependencies]\nlib2 = { package = 'util', path = '../util' }\nlibc = '0.2'\n",
    "app/src/main.rs": (
        "mod jobs;\nuse lib2::shared as alias;\nuse lib2::prelude::*;\n"
        "fn main() {\n"
        "    helper();\n"          # 5: own crate only
        "    alias();\n"           # 6: util's pub `shared`
        "    lib2::private();\n"   # 7: not pub: nothing
        "    libc::close();\n"     # 8: a crate outside the scan: nothing
        "    jobs::helper();\n"    # 9: own module
        "    globbed();\n"         # 10: util's pub `globbed`, through the glob
        "    Pool::new();\n"       # 11: own impl only
        "    lib2::Pool::new();\n"  # 12: util's pub impl fn
        "}\n"
        "fn helper() {}\nstruct Pool;\nimpl Pool { fn new() -> Pool { Pool } fn helper(&self) {} }\n"),
    "app/src/jobs.rs": "pub fn helper() {}\n",
    "util/Cargo.toml": "[package]\nname = 'util'\n",
    "util/src/lib.rs": (
        "pub fn helper() {}\npub fn shared() {}\nfn private() {}\npub fn close() {}\npub fn globbed() {}\n"
        "pub struct Pool;\nimpl Pool { pub fn new() -> Pool { Pool } }\n"),
}


def _labels(calls, facts, path):
    return sorted(f"{f.path}:{fn.qualname}" for f, fn, _ in calls.targets(facts, path))


def test_calls_resolve_in_the_callers_crate_or_the_crate_a_path_names(tmp_path):
    by_path, index = _project(tmp_path, TWO_CRATES)
    calls = rust_calls(index)
    main = by_path["app/src/main.rs"]
    # a bare name: this crate's free functions of the name (both modules: modules are not
    # resolved inside a crate), never util's `pub fn helper`, never the method `Pool::helper`
    assert _labels(calls, main, "helper") == ["app/src/jobs.rs:helper", "app/src/main.rs:helper"]
    assert _labels(calls, main, "alias") == ["util/src/lib.rs:shared"]
    assert _labels(calls, main, "lib2::private") == []
    assert _labels(calls, main, "libc::close") == []
    assert _labels(calls, main, "jobs::helper") == ["app/src/jobs.rs:helper", "app/src/main.rs:helper"]
    assert _labels(calls, main, "globbed") == ["util/src/lib.rs:globbed"]
    assert _labels(calls, main, "Pool::new") == ["app/src/main.rs:Pool::new"]
    assert _labels(calls, main, "lib2::Pool::new") == ["util/src/lib.rs:Pool::new"]
    assert _labels(calls, main, "util::shared") == ["util/src/lib.rs:shared"]  # a crate of the scan


def test_files_without_a_package_are_one_crate(tmp_path):
    by_path, index = _project(tmp_path, {"a.rs": "fn main() { worker(); }\n", "b.rs": "fn worker() {}\n"})
    assert _labels(rust_calls(index), by_path["a.rs"], "worker") == ["b.rs:worker"]
