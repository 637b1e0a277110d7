"""Which project functions a Rust call path names, by Rust's scoping rather than by its last name.

- A bare name `foo` (and a local path: `module::foo`, `Type::foo`, `self::` / `super::` /
  `crate::`) names an item of the caller's own crate (lifelint.crates): `foo()` in crate A never
  calls a `fn foo` of crate B.
- A name the file imports stands for what it imports: `use b::foo; foo()` and
  `use b::foo as bar; bar()` name crate `b`'s `foo`; `use b::util; util::foo()` likewise.
- A path whose first segment names another crate (a dependency in the caller's Cargo.toml,
  renames included; `std`, `core`, `alloc`; or a crate of the scan) names that crate's items, and
  only its `pub` ones. A crate outside the scan (`libc::close`, `std::mem::swap`) names nothing.
- A bare name or a module path names a free function, never an associated one (that takes
  `Type::` or `Self::`); `Type::f` names `f` in an `impl Type`.
- A name not found in the caller's crate may come from a glob import of another crate
  (`use b::prelude::*`): that crate's `pub` functions of the name.

Modules are not resolved inside a crate: any free function of the name in the caller's crate
is a candidate (several files' private helpers of one name stay ambiguous, as before). Files with
no Cargo package above them are one crate, the scan's. Crate, imports and declared modules come
from the files' summaries (lifelint.summary), the functions from their facts.
"""

from __future__ import annotations

from collections import defaultdict

# Crates every crate can name without a manifest entry.
_ALWAYS_EXTERN = frozenset({"std", "core", "alloc", "proc_macro", "test"})
_LOCAL_HEADS = frozenset({"crate", "self", "super", "Self"})


def rust_calls(index) -> "RustCalls":
    return index.memo("lifelint.rust_calls", RustCalls)


def crate_key(crate) -> str:
    """A crate's identity in one scan: its folder ("" for the files with no package)."""
    return crate.root if crate is not None else ""


class RustCalls:
    def __init__(self, index):
        self.fns: dict[tuple[str, str], list] = defaultdict(list)  # (crate key, fn name) -> [(facts, fn, flow or None)]
        self.crates_named: dict[str, list[str]] = defaultdict(list)  # crate name -> crate keys
        self.modules: dict[str, set[str]] = defaultdict(set)  # crate key -> module names declared in it
        self.deps: dict[str, dict[str, str]] = {}  # crate key -> {name in code: crate name}
        self.own_name: dict[str, str] = {}
        self._file: dict[int, tuple] = {}  # id(facts) -> (crate key, {name: [paths]}, glob paths)
        summaries = index.summaries
        for i, f in enumerate(index.files):
            if f.rust is None:
                continue
            s = summaries[i] if i < len(summaries) else None
            crate = s.crate if s is not None else f.crate
            key = crate_key(crate)
            if key not in self.own_name:
                self.own_name[key] = crate.name if crate is not None else ""
                self.deps[key] = dict(crate.deps) if crate is not None else {}
                if crate is not None and crate.name:
                    self.crates_named[crate.name].append(key)
            imports: dict[str, list[str]] = defaultdict(list)
            globs: list[str] = []
            for name, path in (s.uses if s is not None else f.rust.uses):
                if name == "*":
                    globs.append(path)
                elif path not in imports[name]:
                    imports[name].append(path)
            self.modules[key].update(s.modules if s is not None else f.rust.modules)
            self._file[id(f)] = (key, dict(imports), tuple(dict.fromkeys(globs)))
            flows = {fl.fn: fl for fl in f.rust.flows}
            for j, fn in enumerate(f.rust.functions):
                self.fns[(key, fn.name)].append((f, fn, flows.get(j)))

    def targets(self, facts, path: str) -> list:
        """(facts, RFunction, Flow or None) of each project function the call path `path`
        (as written, `a::b::f`, no generics) in a file of `facts` can name."""
        parts = path.split("::")
        if parts and parts[0] == "":  # `::b::f`: a crate path
            parts = parts[1:]
        if not parts or not all(parts):
            return []
        entry = self._file.get(id(facts))
        if entry is None:
            return []
        own, imports, globs = entry
        head = parts[0]
        if head in imports and head not in _LOCAL_HEADS:
            expansions = [[*full.split("::"), *parts[1:]] for full in imports[head]]
        else:
            expansions = [parts]
        out: list = []
        seen: set[int] = set()
        for ps in expansions:
            for item in self._lookup(own, ps, globs):
                if id(item[1]) not in seen:
                    seen.add(id(item[1]))
                    out.append(item)
        return out

    def _crates(self, own: str, ps: list[str]) -> list[str] | None:
        """The crates path `ps` names (None: the caller's own, a local path; []: a crate outside
        the scan)."""
        if len(ps) == 1:
            return None
        head = ps[0]
        if head in _LOCAL_HEADS or head in self.modules.get(own, ()):
            return None
        if head == self.own_name.get(own):
            return [own]
        real = self.deps.get(own, {}).get(head)
        if real is None and head in _ALWAYS_EXTERN:
            real = head
        if real is None and head in self.crates_named:
            real = head  # a crate of the scan, even where the manifest did not say so
        if real is None:
            return None  # a type or module of its own that no `mod` item showed
        return self.crates_named.get(real, [])

    def _pick(self, key: str, name: str, qual: str | None, pub_only: bool) -> list:
        typed = qual is not None and qual[:1].isupper()
        out = []
        for item in self.fns.get((key, name), ()):
            fn = item[1]
            if fn.is_test or (pub_only and fn.visibility != "pub"):
                continue
            if (fn.impl_type != qual) if typed else (fn.impl_type is not None):
                continue
            out.append(item)
        return out

    def _lookup(self, own: str, ps: list[str], globs: tuple[str, ...]) -> list:
        name = ps[-1]
        qual = ps[-2] if len(ps) >= 2 else None
        crates = self._crates(own, ps)
        if crates is not None:
            return [x for k in crates for x in self._pick(k, name, qual, k != own)]
        found = self._pick(own, name, qual, False)
        if found or not globs:
            return found
        for g in globs:  # not defined in its crate: maybe brought in by another crate's glob
            for k in self._crates(own, [*g.split("::"), name]) or ():
                if k != own:
                    found.extend(self._pick(k, name, qual, True))
        return found
