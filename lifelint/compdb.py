"""The compile database (`compile_commands.json`): which flags each file is built with.

What lifelint takes from a file's command: `-D`/`-U` (which `#if` branches the pre-pass keeps),
`-I`/`-isystem`/`-iquote`/`-idirafter` (where its headers are), `-include`/`-imacros` (macros
defined before its first line), `-std` (`__cplusplus`); and, for the deep mode, the subset of
the command a libclang parse needs (`FileFlags.clang_args`). cppcheck's `--project` and
clang-tidy's `-p` read the same file.

- An entry has `directory`, `file` and `arguments` (a list) or `command` (a shell string,
  split the POSIX way); relative paths are relative to `directory`, itself relative to the
  database's folder when relative.
- Several entries for one file (built twice, with different flags): the first is used, as
  clang-tidy does.
- A header has no entry: it takes the flags of a source file that includes it (directly or
  through other headers), found by reading the `#include` lines of the database's sources and
  resolving them the way the compiler would (the including file's folder, then `-iquote`, `-I`,
  `-isystem`, `-idirafter`).

Problems the user must fix (no database, bad JSON, no usable entry) raise ConfigError; the
rest (entries naming missing files, flags we do not know) are one diagnostic each, and the run
goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from lifelint.config import ConfigError

DATABASE_NAME = "compile_commands.json"

# -std=... -> __cplusplus, as GCC and Clang define it.
_CPLUSPLUS = {
    "98": "199711L", "03": "199711L", "0x": "201103L", "11": "201103L", "1y": "201402L", "14": "201402L",
    "1z": "201703L", "17": "201703L", "2a": "202002L", "20": "202002L", "2b": "202302L", "23": "202302L",
    "2c": "202400L", "26": "202400L",
}
# Flags with a separate value that we read.
_PATH_FLAGS = ("-I", "-isystem", "-iquote", "-idirafter", "-include", "-imacros")
# Flags we understand but that do not change what lifelint sees; `True`: takes the next argument.
_IGNORED_WITH_VALUE = frozenset({"-o", "-MF", "-MT", "-MQ", "-Xclang", "-arch", "-main-file-name", "-dependency-file",
                                 "-Xlinker", "-L", "-l", "-T", "-u", "-z", "-e"})
_IGNORED = re.compile(
    r"-(?:c|S|E|w|v|g\S*|O\S*|W\S*|M|MM|MD|MMD|MG|MP|pipe|pedantic\S*|pie|no-pie|shared|static|s|rdynamic|"
    r"f\S+|m\S+|L\S+|l\S+|Wl,\S*|Wa,\S*|Wp,\S*|o\S+|save-temps\S*|H|P|C|CC|gsplit-dwarf)"
)
# Flags passed on to libclang as they are (they change the language or the target).
# -f options: only those that change how code parses (GCC's others make clang stop with
# "unknown argument"); -m options: the target features whose macros headers test (__RTM__...).
_CLANG_KEEP = re.compile(
    r"-(?:f(?:no-)?(?:exceptions|cxx-exceptions|rtti|ms-extensions|ms-compatibility|delayed-template-parsing|char8_t|"
    r"coroutines|coroutines-ts|concepts|modules|openmp|signed-char|unsigned-char|short-wchar|gnu-keywords|"
    r"operator-names|asm|builtin|threadsafe-statics|sized-deallocation|aligned-new|gnu89-inline)|"
    r"m(?:32|64|x32|sse\S*|avx\S*|rtm|waitpkg|bmi\S*|popcnt|lzcnt|fma|f16c|aes|pclmul|arch=\S+|cpu=\S+|fpu=\S+|float-abi=\S+|thumb|arm)|"
    r"pthread|nostdinc\S*|nostdlib\+\+|stdlib=\S+|x\S*|target|-target=\S+|--?sysroot\S*|isysroot\S*|"
    r"std=\S+|ansi|trigraphs|undef)"
)
_CLANG_KEEP_WITH_VALUE = frozenset({"-x", "-target", "--sysroot", "-isysroot", "-arch"})
_SOURCE_SUFFIXES = frozenset({".c", ".cc", ".cpp", ".cxx", ".c++", ".cp", ".m", ".mm", ".cu"})
_INCLUDE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"\n]+)[>"]', re.M)
_OBJECT_DEFINE = re.compile(rb"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(?![\w(])[ \t]*([^\n]*)$", re.M)


@dataclass(frozen=True, slots=True)
class FileFlags:
    """What one file's compile command says, in the order it says it."""

    directory: str
    # ("D", "NAME", "VALUE") / ("U", "NAME", "") in command-line order (-U after -D undoes it).
    macros: tuple[tuple[str, str, str], ...] = ()
    quote_dirs: tuple[str, ...] = ()  # -iquote
    include_dirs: tuple[str, ...] = ()  # -I
    system_dirs: tuple[str, ...] = ()  # -isystem, -idirafter
    forced_includes: tuple[str, ...] = ()  # -include, -imacros (absolute)
    std: str | None = None  # the value of -std= ("c++20", "gnu++17")
    clang_args: tuple[str, ...] = ()  # the flags a libclang parse of this file needs
    source: str = ""  # the source file whose entry these are (a header borrows an includer's)
    # Deep mode: the scanned headers that borrow these flags; the libclang parse of `source`
    # reads their types too (each header is read once, in its includer's parse).
    headers: tuple[str, ...] = ()

    def key(self) -> str:
        """Identifies everything here that can change a file's facts (for cache keys)."""
        return hashlib.blake2b(repr((self.macros, self.include_dirs, self.system_dirs, self.quote_dirs, self.forced_includes,
                                     self.std, self.clang_args, self.source, self.headers)).encode("utf-8", "surrogatepass"),
                               digest_size=16).hexdigest()

    def defines(self) -> tuple[dict[str, str], set[str]]:
        """(defined NAME -> value, names known to be undefined) for the pre-pass: `-std`'s
        `__cplusplus`, then -D/-U in order, then the object-like macros of -include files."""
        defined: dict[str, str] = {}
        undefined: set[str] = set()
        if self.std:
            m = re.fullmatch(r"(?:gnu|c)\+\+(\w+)", self.std)
            if m and m.group(1) in _CPLUSPLUS:
                defined["__cplusplus"] = _CPLUSPLUS[m.group(1)]
        for kind, name, value in self.macros:
            if kind == "D":
                defined[name] = value
                undefined.discard(name)
            else:
                defined.pop(name, None)
                undefined.add(name)
        for inc in self.forced_includes:
            for name, value in _forced_defines(inc):
                defined[name] = value
                undefined.discard(name)
        return defined, undefined


def _forced_defines(path: str) -> list[tuple[str, str]]:
    try:
        data = Path(path).read_bytes()[:1 << 20]
    except OSError:
        return []
    return [(m.group(1).decode("latin-1"), m.group(2).split(b"//")[0].strip().decode("latin-1") or "1") for m in _OBJECT_DEFINE.finditer(data)]


@dataclass(slots=True)
class Problem:
    """A database problem worth one diagnostic line (the run goes on)."""

    kind: str  # "missing-file", "bad-entry", "unknown-flags"
    message: str


def _abs(directory: str, p: str) -> str:
    return os.path.normpath(os.path.join(directory, p))


def parse_command(arguments: list[str], directory: str) -> tuple[FileFlags, list[str]]:
    """(flags, unknown flags) of one command (compiler first)."""
    macros: list[tuple[str, str, str]] = []
    dirs: dict[str, list[str]] = {f: [] for f in _PATH_FLAGS}
    std = None
    clang: list[str] = []
    unknown: list[str] = []
    args = list(arguments[1:])
    i = 0
    while i < len(args):
        a = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        i += 1
        if a in ("-D", "-U") and nxt is not None:
            a, i = a + nxt, i + 1
        if a.startswith("-D") and len(a) > 2:
            name, eq, value = a[2:].partition("=")
            macros.append(("D", name, value if eq else "1"))
            clang.append(a)
            continue
        if a.startswith("-U") and len(a) > 2:
            macros.append(("U", a[2:], ""))
            clang.append(a)
            continue
        flag = next((f for f in _PATH_FLAGS if a.startswith(f)), None)
        if flag is not None:
            if a == flag:
                if nxt is None:
                    unknown.append(a)
                    continue
                value, i = nxt, i + 1
            else:
                value = a[len(flag):]
            path = _abs(directory, value)
            dirs[flag].append(path)
            clang.extend((flag, path))
            continue
        if a.startswith("-std="):
            std = a[5:]
            clang.append(a)
            continue
        if a in _IGNORED_WITH_VALUE:
            i += 1
            continue
        if a in _CLANG_KEEP_WITH_VALUE and nxt is not None:
            clang.extend((a, nxt))
            i += 1
            continue
        if _CLANG_KEEP.fullmatch(a):
            clang.append(a)
            continue
        if _IGNORED.fullmatch(a) or not a.startswith("-"):
            continue  # the source file itself, objects, libraries
        unknown.append(a)
    flags = FileFlags(
        directory=directory, macros=tuple(macros), quote_dirs=tuple(dirs["-iquote"]), include_dirs=tuple(dirs["-I"]),
        system_dirs=tuple(dirs["-isystem"] + dirs["-idirafter"]), forced_includes=tuple(dirs["-include"] + dirs["-imacros"]),
        std=std, clang_args=tuple(clang),
    )
    return flags, unknown


@dataclass(slots=True)
class CompileDatabase:
    path: str
    entries: dict[str, FileFlags] = field(default_factory=dict)  # absolute normalised file -> its first entry
    problems: list[Problem] = field(default_factory=list)
    _headers: dict[str, FileFlags] | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CompileDatabase":
        """Read a database: `path` is the JSON file or a folder holding compile_commands.json."""
        p = Path(path)
        if p.is_dir():
            p = p / DATABASE_NAME
            if not p.is_file():
                raise ConfigError(f"{path}: no {DATABASE_NAME} in this folder (CMake writes one with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON; "
                                  f"Meson and Bazel/bear can generate one too)")
        try:
            raw = p.read_bytes()
        except OSError as e:
            raise ConfigError(f"{p}: cannot read the compile database: {e.strerror or e}") from None
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p}: not valid JSON ({e}); regenerate the compile database") from None
        if not isinstance(doc, list):
            raise ConfigError(f"{p}: a compile database is a JSON list of entries, got {type(doc).__name__}")
        db = cls(str(p))
        base = str(p.parent.absolute())
        missing: list[str] = []
        bad = 0
        unknown: dict[str, int] = {}
        for entry in doc:
            if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or not isinstance(entry.get("directory", ""), str):
                bad += 1
                continue
            directory = _abs(base, entry.get("directory") or ".")
            if isinstance(entry.get("arguments"), list) and all(isinstance(a, str) for a in entry["arguments"]):
                argv = entry["arguments"]
            elif isinstance(entry.get("command"), str):
                try:
                    argv = shlex.split(entry["command"])
                except ValueError:
                    bad += 1
                    continue
            else:
                bad += 1
                continue
            file = _abs(directory, entry["file"])
            if not os.path.isfile(file):
                missing.append(file)
                continue
            if file in db.entries:
                continue  # several entries for one file: the first wins (clang-tidy's choice)
            flags, unk = parse_command(argv, directory)
            for u in unk:
                unknown[u] = unknown.get(u, 0) + 1
            db.entries[file] = FileFlags(**{**{f: getattr(flags, f) for f in FileFlags.__slots__}, "source": file})
        if not db.entries:
            what = f"{len(missing)} entr{'y names a file' if len(missing) == 1 else 'ies name files'} that do not exist" if missing else ""
            what = what or (f"{bad} malformed entr{'y' if bad == 1 else 'ies'}" if bad else "no entries")
            raise ConfigError(f"{p}: the compile database has no usable entry ({what}); rebuild it from a configured build tree")
        if missing:
            db.problems.append(Problem("missing-file", f"{len(missing)} entr{'y names a file' if len(missing) == 1 else 'ies name files'} that no longer exist "
                                                       f"(first: {missing[0]}); those are skipped; regenerate the database if the tree moved"))
        if bad:
            db.problems.append(Problem("bad-entry", f"{bad} entr{'y has' if bad == 1 else 'ies have'} no `file`, or neither `arguments` nor `command`; skipped"))
        if unknown:
            names = ", ".join(sorted(unknown)[:8]) + (", ..." if len(unknown) > 8 else "")
            db.problems.append(Problem("unknown-flags", f"flags lifelint does not read were ignored: {names}"))
        return db

    def flags_for(self, path: str) -> FileFlags | None:
        """The flags `path` is built with, or those of a source that includes it (a header)."""
        full = os.path.normpath(os.path.abspath(path))
        hit = self.entries.get(full)
        if hit is not None:
            return hit
        if self._headers is None:
            self._headers = self._map_headers()
        return self._headers.get(full)

    def _map_headers(self) -> dict[str, FileFlags]:
        """Each header reachable from the database's sources -> the flags of the first source
        (in database order) that reaches it, breadth first so the nearest includer wins."""
        out: dict[str, FileFlags] = {}
        for src, flags in self.entries.items():
            if os.path.splitext(src)[1].lower() not in _SOURCE_SUFFIXES:
                continue
            seen = {src}
            queue = [src]
            while queue:
                cur = queue.pop(0)
                for inc in _includes(cur, flags):
                    if inc in seen:
                        continue
                    seen.add(inc)
                    if inc not in self.entries:
                        out.setdefault(inc, flags)
                    queue.append(inc)
        return out


def _includes(path: str, flags: FileFlags) -> list[str]:
    """The files `path` includes, resolved with `flags` (system headers outside every -I/-isystem folder are not found, and not wanted)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return []
    out = []
    here = os.path.dirname(path)
    for m in _INCLUDE.finditer(data):
        name = m.group(2).decode("utf-8", "replace").strip()
        search = ((here, *flags.quote_dirs) if m.group(1) == b'"' else ()) + flags.include_dirs + flags.system_dirs
        for d in search:
            cand = os.path.normpath(os.path.join(d, name))
            if os.path.isfile(cand):
                out.append(cand)
                break
    return out


def find_database(directory: str | os.PathLike) -> str:
    """`-p DIR`: the database file in DIR (ConfigError when there is none)."""
    p = Path(directory)
    if p.is_file() and p.name.endswith(".json"):
        return str(p)
    if not p.is_dir():
        raise ConfigError(f"-p {directory}: no such folder (give the build folder holding {DATABASE_NAME})")
    if not (p / DATABASE_NAME).is_file():
        raise ConfigError(f"-p {directory}: no {DATABASE_NAME} in this folder (CMake writes one with -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)")
    return str(p / DATABASE_NAME)
