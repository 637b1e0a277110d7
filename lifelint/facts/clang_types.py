"""Deep facts: the types libclang resolves, for the declarations tree-sitter can only guess at.

With a compile database, each translation unit (a source file with an entry) is parsed by
libclang with its real flags, and the canonical type of every variable, parameter and field
declared in that file is recorded by where its name is (line and byte column). The fact
extractors ask `reconcile` while they build `Decl` and `Variable` facts: where libclang and the
syntax disagree on what kind of type a declaration has (a view, an owner, an atomic, a mutex, a
guard), libclang's type is what the fact says, so `auto data = m_storage.read(off);` whose
`read` returns `VIEW_OF(char)` (a macro for `std::span<const char>`) is a span. Rules never ask
which parser produced a fact.

The parse runs in a forked child with a time limit (a TU that takes too long, or crashes
libclang, costs one diagnostic, never the run), and its result is cached per TU, keyed by the
flags, libclang's version and the contents of every file the TU included: a warm re-run parses
nothing. Where libclang cannot parse a TU (a missing header, a fatal error), the tree-sitter
facts stand and a diagnostic says why.

Setup: the PyPI `libclang` wheel has no clang builtin headers (`stddef.h`...); they come from
Debian's `libclang-common-N-dev` (or `clang`), found through `clang -print-resource-dir`, the
`/usr/lib/llvm-N/lib/clang/*` folders, or `cpp.clang-resource-dir`.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import os
import pickle
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DEBIAN_PACKAGE = "libclang-common-14-dev"  # matches the `libclang` wheel pyproject.toml pins (14.x); `.ci/run` installs it
DEEP_CACHE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ClangType:
    spelling: str  # canonical, top-level references and pointers peeled off: "std::span<const char>"
    pointer_depth: int = 0
    is_reference: bool = False


# --- the oracle the extractors read ---------------------------------------------------------------

_ACTIVE: dict[tuple[int, int], ClangType] | None = None


@contextlib.contextmanager
def active(types: dict[tuple[int, int], ClangType] | None):
    """Make `types` ((0-based row, 0-based byte column) of a declared name -> its type) what
    `reconcile` reads while one file's facts are extracted."""
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, types
    try:
        yield
    finally:
        _ACTIVE = previous


_SYNC_TYPES = frozenset({
    "atomic", "atomic_flag", "atomic_ref", "mutex", "recursive_mutex", "timed_mutex", "recursive_timed_mutex",
    "shared_mutex", "shared_timed_mutex", "lock_guard", "unique_lock", "scoped_lock", "shared_lock",
    "condition_variable", "condition_variable_any",
})


def _kind(type_text: str, pd: int, ref: bool, init: str | None) -> str | None:
    """What the rules can tell about a declaration of this type: its view kind, "owner",
    "sync:<name>" (an atomic, a mutex, a guard), or None (nothing they read)."""
    from lifelint.facts.cpp_flow import is_owning_type, type_base_name, view_kind

    v = view_kind(type_text, pd, ref, init)
    if v is not None:
        return v
    base = type_base_name(type_text)
    if base in _SYNC_TYPES:
        return "sync:" + base
    if is_owning_type(type_text):
        return "owner"
    return None


_DEDUCED = re.compile(r"\b(?:auto|decltype)\b")


def reconcile(type_text: str, pd: int, ref: bool, init: str | None, at: tuple[int, int]) -> tuple[str, int, bool] | None:
    """libclang's (type, pointer depth, is reference) for the declaration whose name starts at
    `at`, where it and the syntax disagree; None where they agree or libclang knows nothing."""
    if _ACTIVE is None:
        return None
    t = _ACTIVE.get((at[0], at[1]))
    if t is None:
        return None
    written = _kind(type_text, pd, ref, init)
    deep = _kind(t.spelling, t.pointer_depth, t.is_reference, None)
    if _DEDUCED.search(type_text):
        return (t.spelling, t.pointer_depth, t.is_reference) if deep != written or deep is not None else None
    # Spelled out: the written type stands unless it says nothing the rules read (an alias, a
    # typedef, a macro) and the real one does.
    if written is None and deep is not None:
        return t.spelling, t.pointer_depth, t.is_reference
    return None


# --- finding clang's builtin headers ---------------------------------------------------------------

def _has_builtins(include: str) -> bool:
    return os.path.isfile(os.path.join(include, "stddef.h"))


def _version_key(path: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", path))


@functools.cache
def libclang_major() -> int | None:
    """The major version of the `libclang` wheel (its builtin headers must match: the intrinsics
    headers of one clang call builtins another does not have)."""
    try:
        from importlib.metadata import version

        return int(version("libclang").split(".")[0])
    except Exception:
        return None


def _major_of(resource_dir: str) -> int | None:
    m = re.search(r"/clang/(\d+)", resource_dir)
    return int(m.group(1)) if m else None


@functools.cache
def find_resource_dir(configured: str | None = None) -> str | None:
    """Clang's resource dir (the folder whose include/ holds stddef.h), or None. Searched:
    `configured`, then `clang -print-resource-dir` and the /usr/lib/llvm-*/lib/clang/* folders,
    the one matching libclang's major version first, else the newest."""
    if configured:
        for cand in (configured, os.path.dirname(configured.rstrip("/"))):
            if _has_builtins(os.path.join(cand, "include")):
                return cand
        return None
    found = [os.path.dirname(p) for p in glob.glob("/usr/lib/llvm-*/lib/clang/*/include") + glob.glob("/usr/lib/clang/*/include") if _has_builtins(p)]
    clang = shutil.which("clang")
    if clang:
        try:
            out = subprocess.run([clang, "-print-resource-dir"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and _has_builtins(os.path.join(out, "include")):
            found.insert(0, out)
    major = libclang_major()
    matching = [d for d in found if _major_of(os.path.realpath(d)) == major or _major_of(d) == major]
    if matching:
        return matching[0]
    return max(found, key=_version_key) if found else None


def setup_problem(configured: str | None) -> str | None:
    """Why deep mode cannot run here (one actionable sentence), or None when it can."""
    try:
        import clang.cindex  # noqa: F401
    except ImportError:
        return "deep mode needs the `libclang` Python package (`pip install libclang`; lifelint depends on it); going on without deep facts"
    if find_resource_dir(configured) is None:
        where = f"cpp.clang-resource-dir = {configured!r} holds no include/stddef.h" if configured else "no clang builtin headers (stddef.h...) were found"
        return (f"deep mode is off: {where}; install them with `apt-get install {DEBIAN_PACKAGE}` (or the `clang` package), "
                "or point `cpp.clang-resource-dir` at a clang resource dir; going on without deep facts")
    return None


# --- one translation unit -----------------------------------------------------------------------------

@dataclass(slots=True)
class TUResult:
    types: dict[tuple[int, int], ClangType] | None  # the main file's; None: nothing usable
    includes: list[str]  # every file the TU read (for the cache key)
    problem: str | None = None  # one line for a diagnostic
    seconds: float = 0.0
    headers: dict[str, dict[tuple[int, int], ClangType]] | None = None  # FileFlags.headers' types, by real path

    def types_of(self, path: str) -> dict[tuple[int, int], ClangType] | None:
        """The types declared in `path` (the main file or one of the headers asked for)."""
        if self.types is None:
            return None
        real = os.path.realpath(path)
        if self.headers and real in self.headers:
            return self.headers[real]
        return self.types


_SKIP_KINDS: frozenset[str] = frozenset({"INVALID", "UNEXPOSED", "DEPENDENT", "AUTO", "DEPENDENTSIZEDARRAY", "TEMPLATETYPEPARM"})


def clang_args(flags, resource_dir: str) -> list[str]:
    args = list(flags.clang_args)
    if "-x" not in args:
        args = ["-x", "c++", *args]
    return [*args, "-resource-dir", resource_dir, "-Wno-everything"]


def parse_tu(path: str, flags, resource_dir: str) -> TUResult:
    """Parse one TU with libclang (in this process) and read the types declared in `path`."""
    import clang.cindex as ci

    start = time.perf_counter()
    index = ci.Index.create()
    try:
        tu = index.parse(path, args=clang_args(flags, resource_dir))
    except ci.TranslationUnitLoadError as e:
        return TUResult(None, [], f"libclang could not parse this translation unit ({e}); the syntax-tree facts stand")
    includes = sorted({str(inc.include.name) for inc in tu.get_includes()})
    # A driver flag clang does not know (a GCC-only -f option) has no location: not the code's fault.
    errors = [d for d in tu.diagnostics if d.severity >= ci.Diagnostic.Error and d.location.file is not None]
    fatal = [d for d in errors if d.severity >= ci.Diagnostic.Fatal]
    if fatal:
        d = fatal[0]
        where = f"{d.location.file.name}:{d.location.line}: " if d.location.file else ""
        return TUResult(None, includes, f"libclang stopped on this translation unit ({where}{d.spelling}); the syntax-tree facts stand",
                        time.perf_counter() - start)
    problem = None
    if errors:
        d = errors[0]
        where = f"{os.path.basename(d.location.file.name)}:{d.location.line}: " if d.location.file else ""
        problem = (f"libclang found {len(errors)} error(s) in this translation unit (first: {where}{d.spelling}); "
                   "declarations it could not type keep their syntax-tree facts")
    real = os.path.realpath(path)
    wanted = {ci.CursorKind.VAR_DECL, ci.CursorKind.PARM_DECL, ci.CursorKind.FIELD_DECL}
    extra = {os.path.realpath(h) for h in getattr(flags, "headers", ())}
    by_file: dict[str, dict[tuple[int, int], ClangType]] = {real: {}}
    real_of: dict[str, str | None] = {}  # clang's file name -> the real path we want, or None
    for top in tu.cursor.get_children():
        f = top.location.file
        if f is None:
            continue
        name = f.name
        if name not in real_of:
            r = os.path.realpath(name)
            real_of[name] = r if r == real or r in extra else None
        target = real_of[name]
        if target is None:
            continue
        types = by_file.setdefault(target, {})
        for c in top.walk_preorder():
            if c.kind not in wanted:
                continue
            loc = c.location
            if loc.file is None or loc.file.name != name:
                continue
            t = _describe(c.type, ci)
            if t is not None:
                types[(loc.line - 1, loc.column - 1)] = t
    main = by_file.pop(real)
    return TUResult(main, includes, problem, time.perf_counter() - start, by_file or None)


def _describe(t, ci) -> ClangType | None:
    t = t.get_canonical()
    if t.kind.name in _SKIP_KINDS:
        return None
    ref = t.kind in (ci.TypeKind.LVALUEREFERENCE, ci.TypeKind.RVALUEREFERENCE)
    if ref:
        t = t.get_pointee()
    pd = 0
    while t.kind == ci.TypeKind.POINTER:
        pd += 1
        t = t.get_pointee()
    spelling = t.spelling
    if t.kind.name in _SKIP_KINDS or "type-parameter-" in spelling or not spelling:
        return None
    return ClangType(spelling, pd, ref)


def parse_tu_limited(path: str, flags, resource_dir: str, timeout: float) -> TUResult:
    """`parse_tu` in a forked child: a time limit, and a libclang crash costs this TU only."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(r)
            try:
                res = parse_tu(path, flags, resource_dir)
            except Exception as e:
                res = TUResult(None, [], f"libclang failed on this translation unit ({type(e).__name__}: {e}); the syntax-tree facts stand")
            data = pickle.dumps(res, protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    deadline = time.monotonic() + timeout
    timed_out = False
    with os.fdopen(r, "rb") as fh:
        fd = fh.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return TUResult(None, [], f"libclang took longer than {timeout:g} s on this translation unit (cpp.deep-timeout); the syntax-tree facts stand")
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:
        return TUResult(None, [], f"libclang crashed on this translation unit (exit status {status}); the syntax-tree facts stand")


# --- the per-TU cache ---------------------------------------------------------------------------------

@functools.cache
def _libclang_identity() -> str:
    """The libclang the wheel ships, by file name, size and mtime (no library load needed)."""
    try:
        import clang

        parts = []
        for d in clang.__path__:
            for f in sorted(glob.glob(os.path.join(d, "native", "*"))):
                st = os.stat(f)
                parts.append(f"{os.path.basename(f)}:{st.st_size}:{st.st_mtime_ns}")
        return ",".join(parts) or "?"
    except Exception:
        return "?"


def _digest_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=16).digest()
    except OSError:
        return None


def tu_key(path: str, flags, resource_dir: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in (f"deep-v{DEEP_CACHE_FORMAT}", os.path.abspath(path), flags.key(), resource_dir, _libclang_identity(), _module_digest()):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


@functools.cache
def _module_digest() -> str:
    try:
        return hashlib.blake2b(Path(__file__).read_bytes(), digest_size=8).hexdigest()
    except OSError:
        return "?"


def _load_cached(entry: Path) -> TUResult | None:
    try:
        with open(entry, "rb") as fh:
            stored = pickle.load(fh)
    except Exception:
        return None
    if not (isinstance(stored, tuple) and len(stored) == 2 and isinstance(stored[1], TUResult)):
        return None
    digests, result = stored
    for f, d in digests:
        if _digest_file(f) != d:
            return None
    return result


def _store(entry: Path, path: str, result: TUResult) -> None:
    digests = [(f, _digest_file(f)) for f in [path, *result.includes]]
    tmp = None
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((digests, result), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


# The latest TUs this process parsed or loaded: a header borrowing a TU's flags is analysed
# right after that TU (lifelint.engine groups them) and reads its types from here.
_RECENT: dict[str, TUResult] = {}


def new_scan() -> None:
    """Forget the TUs of an earlier scan in this process (their headers may have changed since)."""
    _RECENT.clear()


def tu_types(path: str, flags, cpp_settings, cache_dir: str | os.PathLike | None) -> TUResult:
    """The libclang types of the TU `path` (built with `flags`), from the cache when the TU and
    everything it includes are unchanged. `cache_dir`: None for no cache."""
    resource_dir = find_resource_dir(cpp_settings.clang_resource_dir)
    if resource_dir is None:
        return TUResult(None, [], None)  # said once for the whole run (setup_problem)
    k = tu_key(path, flags, resource_dir)
    hit = _RECENT.get(k)
    if hit is not None:
        return hit
    entry = None
    if cache_dir is not None:
        entry = Path(cache_dir) / f"deep-v{DEEP_CACHE_FORMAT}" / k[:2] / k
        hit = _load_cached(entry)
    if hit is None:
        hit = parse_tu_limited(path, flags, resource_dir, cpp_settings.deep_timeout)
        if entry is not None and hit.types is not None:
            _store(entry, path, hit)
    if len(_RECENT) >= 4:
        _RECENT.pop(next(iter(_RECENT)))
    _RECENT[k] = hit
    return hit
