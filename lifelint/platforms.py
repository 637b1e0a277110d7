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
file without `main` may be linked into any of them."""

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
        plat.programs = frozenset(f.path for f in getattr(ix, "files", ()) if defines_main(f))
        return plat
    return index.memo("lifelint.platforms", build)
