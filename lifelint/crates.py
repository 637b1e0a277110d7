"""Which Rust crate a file belongs to: the folder of the nearest `Cargo.toml` above it that
declares a package (a workspace's virtual manifest, `[workspace]` without `[package]`, is no
crate: the search goes on above it). Files with no such manifest above them have no crate
(None); the thread model counts all of them as one crate, the scan's (lifelint.rust_calls).

Rust resolves a bare call `foo()` to an item in scope in its own crate (defined there or `use`d
into the module); another crate's function is reached only through a path or import naming that
crate, and only when it is `pub`. A Cargo package (its library, binaries, examples and tests,
which all name the library by the package's name) is one crate here.

Computed in discovery (one `Cargo.toml` read per folder that has one, each folder looked up
once), carried by the SourcePath into the worker, recorded in the file's facts and summary, and
part of the file's cache key (lifelint.cache.file_digest): adding or moving a manifest changes it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Crate:
    root: str  # the folder holding its Cargo.toml, as a display path (relative to the scan root)
    name: str  # how code names it: `[lib] name`, else the package name with `-` as `_`
    # the names its code may use for other crates: (name in code, that crate's name), from every
    # `[*dependencies]` table (a renamed dependency, `foo = { package = "bar" }`, is ("foo", "bar"))
    deps: tuple[tuple[str, str], ...] = ()

    def key(self) -> str:
        """What a cache entry depends on."""
        return f"{self.root}\0{self.name}\0" + "\0".join(f"{a}={b}" for a, b in self.deps)


_VERSION_SUFFIX = re.compile(r"-\d+(?:\.\d+)*(?:[-+.].*)?$")


def _code_name(name: str) -> str:
    return name.replace("-", "_")


def read_manifest(path: str) -> tuple[bool, str, tuple[tuple[str, str], ...]]:
    """(declares a package, crate name or "", dependencies) of one Cargo.toml. A manifest that
    cannot be read or parsed still makes a crate, named after its folder (a registry folder's
    `-1.2.3` version dropped): a broken manifest must not merge two crates."""
    import tomllib

    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return True, _code_name(_VERSION_SUFFIX.sub("", folder)), ()
    pkg = doc.get("package")
    if not isinstance(pkg, dict):
        if "workspace" in doc:
            return False, "", ()
        pkg = {}
    lib = doc.get("lib") if isinstance(doc.get("lib"), dict) else {}
    name = lib.get("name") or pkg.get("name") or _VERSION_SUFFIX.sub("", folder)
    name = _code_name(name) if isinstance(name, str) else _code_name(_VERSION_SUFFIX.sub("", folder))
    deps: dict[str, str] = {}

    def table(t) -> None:
        if not isinstance(t, dict):
            return
        for alias, spec in t.items():
            if not isinstance(alias, str):
                continue
            real = spec.get("package") if isinstance(spec, dict) else None
            deps.setdefault(_code_name(alias), _code_name(real) if isinstance(real, str) else _code_name(alias))

    for key in ("dependencies", "dev-dependencies", "build-dependencies", "dev_dependencies", "build_dependencies"):
        table(doc.get(key))
    targets = doc.get("target")
    if isinstance(targets, dict):
        for spec in targets.values():
            if isinstance(spec, dict):
                for key in ("dependencies", "dev-dependencies", "build-dependencies"):
                    table(spec.get(key))
    return True, name, tuple(sorted(deps.items()))


class CrateFinder:
    """Nearest-manifest lookups, each folder's answer remembered (a scan asks once per folder,
    not once per file, and walks up past a folder at most once)."""

    def __init__(self, display_root):
        self.display_root = os.path.abspath(str(display_root))
        self._by_dir: dict[str, Crate | None] = {}

    def crate_of(self, path) -> Crate | None:
        """The crate of the file at `path` (None: no package manifest above it)."""
        return self.crate_of_dir(os.path.dirname(os.path.abspath(str(path))))

    def crate_of_dir(self, directory: str) -> Crate | None:
        todo = []
        d = directory
        found: Crate | None = None
        while True:
            if d in self._by_dir:
                found = self._by_dir[d]
                break
            todo.append(d)
            manifest = os.path.join(d, "Cargo.toml")
            if os.path.isfile(manifest):
                is_pkg, name, deps = read_manifest(manifest)
                if is_pkg:
                    from lifelint.discovery import _display

                    found = Crate(_display(d, self.display_root), name, deps)
                    break
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        for t in todo:
            self._by_dir[t] = found
        return found
