"""Which platform a source file is built for, read from its path: files under `linux/` and under
`freebsd/` (or `thread_win32.cpp` and `thread_posix.cpp`) are never compiled into one binary, so a
global defined in both is two variables, and a thread started in one cannot reach code of the other.

A file's tag is its file-name suffix (`io_linux.cpp`, `timer-win32.cc`) when that names a platform,
else the deepest directory of its path that does (`src/unix/linux/x.cpp` is `linux`). Untagged
files are built everywhere. Two tagged files are compatible when their tags are equal, or when one
tag is a family holding the other: `posix` (and `unix`) hold every platform but Windows, `bsd`
holds the BSDs, `apple` holds macOS and iOS. Users add directory names in config
(`[tool.lifelint.cpp] platform-dirs = ["qnx", "lnx=linux"]`: a name is its own tag, `name=tag`
maps it onto one); an entry with a glob (`"*/gui/winvideo.*=windows"`) tags the files whose path
(or file name) it matches, for projects that mark a platform by a name prefix.

Programs, the same way: two files that each define `main` (a test, an example, a tool) are
linked into two executables, never one, so nothing of the one runs in the other's process. A
file without `main` may be linked into any of them.

The one definition rule says more. Two source files that define the same function or variable
with external linkage (a test's stub of `open_db()` and the real one; a mock's `g_config`) are
never linked into one program (CppFacts.definitions; weak and `selectany` definitions, which the
linker lets one of several win, are not counted). And a file needs, in every program that
links it, the files that alone define what it calls: when `main.cc` calls `start_workers()` and
only `workers.cc` defines it, `workers.cc` is in main's program, and a stub file that redefines
something `workers.cc` defines is not. That is followed from each program's entry (a file that
defines `main`, or whose test cases a framework's macros declare) through calls that only one
definition in the scan can answer: the entry is then apart from every file that defines the same
thing as one of the files it needs."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

# directory name / file-name suffix (lower case) -> tag
DEFAULT_PLATFORM_DIRS = {
    "linux": "linux", "android": "android", "freebsd": "freebsd", "openbsd": "openbsd", "netbsd": "netbsd",
    "dragonfly": "dragonfly", "dragonflybsd": "dragonfly", "bsd": "bsd", "osx": "macos", "macos": "macos",
    "macosx": "macos", "darwin": "macos", "apple": "apple", "ios": "ios",
    "win": "windows", "win32": "windows", "win64": "windows", "windows": "windows", "mingw": "windows",
    "msvc": "windows", "cygwin": "cygwin", "posix": "posix", "unix": "posix", "haiku": "haiku",
    "solaris": "solaris", "sunos": "solaris", "illumos": "solaris", "aix": "aix", "hpux": "hpux",
    "fuchsia": "fuchsia", "emscripten": "emscripten",
}
# family tag -> the tags it holds (a family is compatible with each of them and with itself)
FAMILIES = {
    "posix": frozenset({"linux", "android", "freebsd", "openbsd", "netbsd", "dragonfly", "bsd", "macos", "apple",
                        "ios", "cygwin", "haiku", "solaris", "aix", "hpux", "fuchsia", "emscripten"}),
    "bsd": frozenset({"freebsd", "openbsd", "netbsd", "dragonfly", "macos"}),
    "apple": frozenset({"macos", "ios"}),
}
_PARTS = re.compile(r"[_\-.]")


class Platforms:
    def __init__(self, extra: list[str] | None = None):
        self.dirs = dict(DEFAULT_PLATFORM_DIRS)
        self.globs: list[tuple[str, str]] = []
        for item in extra or ():
            name, _, tag = item.partition("=")
            name = name.strip().lower()
            if any(ch in name for ch in "*?["):
                self.globs.append((name, tag.strip().lower() or name))
            elif name:
                self.dirs[name] = tag.strip().lower() or name
        self._tags: dict[str, str | None] = {}
        self._pairs: dict[tuple, bool] = {}  # (programs, (path, path)) -> compatible
        self.programs: frozenset[str] = frozenset()  # paths of files that define `main`
        # path -> files never linked into a program with it (the one definition rule; see above)
        self.apart: dict[str, frozenset[str]] = {}

    def tag(self, path: str | None) -> str | None:
        if not path:
            return None
        got = self._tags.get(path, ...)
        if got is ...:
            got = self._tags[path] = self._tag(path)
        return got

    def _tag(self, path: str) -> str | None:
        low = path.replace("\\", "/").lower()
        parts = low.split("/")
        for pattern, tag in self.globs:
            if fnmatchcase(low, pattern) or fnmatchcase(parts[-1], pattern):
                return tag
        stem = parts[-1].rsplit(".", 1)[0]
        pieces = _PARTS.split(stem)
        if len(pieces) > 1 and pieces[-1] in self.dirs:
            return self.dirs[pieces[-1]]
        for d in reversed(parts[:-1]):
            if d in self.dirs:
                return self.dirs[d]
        return None

    @staticmethod
    def tags_compatible(a: str | None, b: str | None) -> bool:
        if a is None or b is None or a == b:
            return True
        return b in FAMILIES.get(a, ()) or a in FAMILIES.get(b, ())

    def compatible(self, *paths: str | None) -> bool:
        """Can all these files be built into one program (pairwise compatible tags, and at most
        one of them defines `main`)?"""
        if len(paths) == 2:  # the common question (two accesses, two call ends), asked thousands of times
            key = (self.programs, paths)
            got = self._pairs.get(key)
            if got is None:
                got = self._pairs[key] = self._compatible(paths)
            return got
        return self._compatible(paths)

    def _compatible(self, paths) -> bool:
        if self.programs and len({p for p in paths if p in self.programs}) > 1:
            return False
        if self.apart:
            for i, a in enumerate(paths):
                away = self.apart.get(a) if a else None
                if away and any(b in away for b in paths[i + 1:]):
                    return False
        tags = {t for t in map(self.tag, paths) if t is not None}
        if len(tags) < 2:
            return True
        ts = sorted(tags)
        return all(self.tags_compatible(x, y) for i, x in enumerate(ts) for y in ts[i + 1:])


MAIN_NAMES = frozenset({"main", "wmain", "WinMain", "wWinMain"})


def defines_main(facts) -> bool:
    """Does the file define a program's entry point (a free `main`, or Rust's top-level `fn main`)?"""
    if facts.cpp is not None:
        return any(f.name in MAIN_NAMES and not f.class_name and f.body is not None for f in facts.cpp.functions)
    if facts.rust is not None:
        return any(f.qualname == "main" and f.impl_type is None and f.body is not None for f in facts.rust.functions)
    return False


def platforms_of(index) -> Platforms:
    """The project's platform table (config's `cpp.platform-dirs` added to the defaults) and the
    files that define `main`."""
    def build(ix):
        s = getattr(ix, "settings", None)
        plat = Platforms(list(getattr(getattr(s, "cpp", None), "platform_dirs", None) or ()))
        files = getattr(ix, "files", ())
        plat.programs = frozenset(f.path for f in files if defines_main(f))
        plat.apart = apart_files(files, plat.programs)
        return plat
    return index.memo("lifelint.platforms", build)


SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".c++", ".cp", ".m", ".mm", ".cu")
_MAX_DEFINERS = 32  # a name defined by more files than this is generated or macro noise


def apart_files(files, programs=frozenset()) -> dict[str, frozenset[str]]:
    """path -> the files that are never linked into one program with it, by the one definition
    rule (see the module's doc): files defining the same external definition, and each program
    entry against the files that redefine something it needs."""
    by_key: dict[str, list[str]] = {}
    cfiles = [f for f in files if f.cpp is not None and f.path.lower().endswith(SOURCE_SUFFIXES)]
    for f in cfiles:
        tentative_ok = not f.path.lower().endswith(".c")  # C merges tentative definitions
        for k in f.cpp.definitions:
            if k.startswith("v?:"):
                if not tentative_ok:
                    continue
                k = "v:" + k[3:]
            by_key.setdefault(k, []).append(f.path)
    clash: dict[str, set[str]] = {}
    for paths in by_key.values():
        if 2 <= len(paths) <= _MAX_DEFINERS:
            for a in paths:
                clash.setdefault(a, set()).update(p for p in paths if p != a)
    if not clash:
        return {}
    apart = {a: set(s) for a, s in clash.items()}
    # A bare call answered by one definition only: every function definition of the scan with
    # that short name (headers, methods, statics included) is a candidate; only free functions
    # with external linkage in a source file can be the one a program must link.
    defs: dict[str, list] = {}
    for f in files:
        if f.cpp is None:
            continue
        for fn in f.cpp.functions:
            if fn.body is not None:
                defs.setdefault(fn.name, []).append((f.path, fn))
    strong = {f.path: {k[2:].split("(", 1)[0].rsplit("::", 1)[-1] for k in f.cpp.definitions if k.startswith("f:")}
              for f in cfiles}
    by_path = {f.path: f for f in cfiles}
    entries = [f.path for f in cfiles if f.path in programs or f.cpp.entry_macros]
    reach: dict[str, tuple[set, set]] = {}  # entry -> (files it needs, files apart from it)
    calls_of: dict[str, set] = {}  # path -> (name, argument count) of its bare calls to scanned names
    for entry in entries:
        needed, away = {entry}, set(clash.get(entry, ()))
        for _round in range(4):  # a name two files answer may have one left once the other is away
            grown, todo, seen = False, [entry], {entry}
            while todo:
                path = todo.pop()
                if path not in calls_of:
                    calls_of[path] = {(c.name, len(c.args)) for c in _bare_calls(by_path[path]) if c.name in defs}
                for name, n_args in calls_of[path]:
                    cands = [(p, d) for p, d in defs[name] if p not in away and _takes(d, n_args)]
                    if not cands or any(q != cands[0][0] for q, _ in cands):
                        continue  # none, or several files answer it (overloads in one file are one)
                    p = cands[0][0]
                    if p not in by_path or any(d.class_name for _, d in cands) or name not in strong.get(p, ()):
                        continue
                    if p not in needed:
                        needed.add(p)
                        away.update(clash.get(p, ()))
                        grown = True
                    if p not in seen:
                        seen.add(p)
                        todo.append(p)
            if not grown:
                break
        away -= needed
        reach[entry] = (needed, away)
        if away:
            apart.setdefault(entry, set()).update(away)
            for b in away:
                apart.setdefault(b, set()).add(entry)
    # two entries whose needed files clash are two programs (a test runner and the product)
    for i, a in enumerate(entries):
        for b in entries[i + 1:]:
            if reach[a][1] & reach[b][0] or reach[b][1] & reach[a][0]:
                apart.setdefault(a, set()).add(b)
                apart.setdefault(b, set()).add(a)
    return {a: frozenset(s) for a, s in apart.items()}


def _bare_calls(f):
    """The calls by bare name in a file's functions (`start_workers(n)`, not `obj.f()`,
    `ns::f()` or a call through a local or parameter)."""
    for fn in f.cpp.functions:
        flow = fn.flow
        if flow is None:
            continue
        for c in flow.calls:
            if c.receiver is None and c.kind == "call" and c.callee_kind not in ("local", "param", "member") \
                    and "::" not in c.callee.replace(" ", "").lstrip(":"):
                yield c


def _takes(fn, n_args: int) -> bool:
    """Can `fn` take this many arguments (an out-of-line definition does not repeat defaults)?"""
    return n_args <= len(fn.params) or any(p.kind == "variadic" for p in fn.params)
