"""On-disk cache of per-file results: (FileFacts, [FileDiagnostic]) for one file's bytes.

An entry is valid for exactly one (file, contents, environment):

- the file: its language, display path and absolute path name the entry (two checkouts of
  one project do not evict each other);
- its contents: a blake2b digest of the bytes, stored in the entry and compared on load;
- the environment: lifelint's version, the grammar versions, `Settings.fact_key()`, the
  Python version, and a digest of the source of everything that produces facts (the fact
  extractors, the C++ pre-pass, the parser front end...), so editing an extractor
  invalidates every entry. It names the directory entries live in.

Entries live in the user cache dir (platformdirs) or `--cache-dir`, never in the scanned tree.
Layout: ``<dir>/facts-v<FORMAT>/<environment>/<k[:2]>/<k>``.

A file's entry is a header (magic, format, contents digest, the digests of its two payloads and
the first one's length), the file's summary (lifelint.summary) pickled, then its facts and
diagnostics pickled: the summary loads alone, reading only the start of the entry. A
missing, truncated, corrupt or unreadable entry is a miss: the file is analysed again and the
entry rewritten. Writes go to a temporary file in the same folder and are moved into place
with `os.replace`, so concurrent runs never see half an entry. Nothing here raises: a cache
that cannot be read or written only makes the run slower.

Whole-scan results (`scan_key`, `FactCache.load_result` / `store_result`) are a header (magic,
format, key digest, payload digest) and one pickle, under ``<environment>/scans/``: when nothing a scan depends on changed, its ScanResult
can be returned without loading any facts or running any rule.

Entries are pickles: only point `--cache-dir` at a folder no one else can write to.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import io
import operator
import os
import pickle
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lifelint.model import _SPAN_INTS, SPAN_INTS_MAX, Span, _span_from_pickle

# 2: dataclasses pickled as calls of their class; 3: a file's summary ahead of its facts; 4: spans
# loaded through lifelint.model._span_from_pickle, equal spans of one pickle saved once
FORMAT = 4
MAGIC = b"LLFC"
_HEADER = struct.Struct("<4sH32s16s")  # magic, format, contents digest, payload digest
FILE_MAGIC = b"LLFF"
# magic, format, contents digest, summary digest, facts digest, summary length
_FILE_HEADER = struct.Struct("<4sH32s16s16sI")

# The source that decides a file's facts and per-file diagnostics: the fact extractors, the C++
# pre-pass, the parser front end, the model, settings... Rather than a list that goes stale when
# an extractor imports a new helper, every module of the core package and of lifelint.facts
# (rules and reporters run after the cache and are left out).
_FACT_SOURCE_DIRS = (".", "facts")


def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("lifelint", appauthor=False))


def content_digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def file_digest(data: bytes, src) -> bytes:
    """What a file's entry is valid for: its bytes, its compile flags when a compile database
    gives it some (lifelint.compdb.FileFlags.key), and a Rust file's crate (lifelint.crates:
    a manifest added above it changes which calls it can make)."""
    flags = getattr(src, "flags", None)
    crate = getattr(src, "crate", None)
    if flags is None and crate is None:
        return content_digest(data)
    extra = (b"\0flags\0" + flags.key().encode() if flags is not None else b"") \
        + (b"\0crate\0" + crate.key().encode("utf-8", "surrogatepass") if crate is not None else b"")
    return hashlib.blake2b(data + extra, digest_size=32).digest()


@functools.cache
def extractor_digest() -> str:
    """Digest of the source of lifelint's fact extractors (computed once per process)."""
    pkg = Path(__file__).resolve().parent
    files = sorted(f for d in _FACT_SOURCE_DIRS for f in (pkg / d).glob("*.py"))
    h = hashlib.blake2b(digest_size=16)
    for f in files:
        h.update(f.relative_to(pkg).as_posix().encode() + b"\0")
        try:
            h.update(f.read_bytes())
        except OSError:
            h.update(b"<missing>")
        h.update(b"\0")
    return h.hexdigest()


@functools.cache
def grammar_versions() -> str:
    """Identifies the installed tree-sitter runtime and grammars, for cache keys: each package's
    compiled binaries by name, size and mtime. Found without importing them (nor
    importlib.metadata), so a warm run that parses nothing loads no grammar."""
    import importlib.util

    parts = []
    for mod in ("tree_sitter", "tree_sitter_cpp", "tree_sitter_rust"):
        try:
            spec = importlib.util.find_spec(mod)
        except (ImportError, ValueError):
            spec = None
        found = []
        for d in (spec.submodule_search_locations or []) if spec is not None else []:
            try:
                with os.scandir(d) as it:
                    for e in it:
                        if e.name.endswith((".so", ".pyd", ".dylib")) and e.is_file():
                            st = e.stat()
                            found.append(f"{e.name}:{st.st_size}:{st.st_mtime_ns}")
            except OSError:
                continue
        parts.append(f"{mod}=" + (",".join(sorted(found)) or "?"))
    return ";".join(parts)


def environment_key(settings) -> str:
    from lifelint import __version__

    parts = (
        f"format={FORMAT}",
        f"lifelint={__version__}",
        f"python={sys.version_info[0]}.{sys.version_info[1]}",
        f"pickle={pickle.HIGHEST_PROTOCOL}",
        grammar_versions(),
        f"facts={extractor_digest()}",
        settings.fact_key(),
    )
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=12).hexdigest()


def encode(digest: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(MAGIC, FORMAT, digest, hashlib.blake2b(payload, digest_size=16).digest()) + payload


def decode(blob: bytes, digest: bytes):
    """The payload's object when `blob` is a sound entry for contents `digest`, else None."""
    if len(blob) <= _HEADER.size:
        return None
    magic, fmt, stored, check = _HEADER.unpack_from(blob)
    if magic != MAGIC or fmt != FORMAT or stored != digest:
        return None
    payload = memoryview(blob)[_HEADER.size:]
    if hashlib.blake2b(payload, digest_size=16).digest() != check:
        return None
    try:
        value = loads(payload)
    except Exception:  # an entry from an older lifelint, or damaged on disk
        return None
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], list)):
        return None
    return value


def encode_file(digest: bytes, facts_payload: bytes, summary_payload: bytes) -> bytes:
    """A file's entry: its summary's pickle first (it loads without the facts), then its facts'."""
    return _FILE_HEADER.pack(FILE_MAGIC, FORMAT, digest, hashlib.blake2b(summary_payload, digest_size=16).digest(),
                             hashlib.blake2b(facts_payload, digest_size=16).digest(), len(summary_payload)) + summary_payload + facts_payload


def decode_file(blob: bytes, digest: bytes, *, facts: bool = True, summary: bool = True):
    """(facts and diagnostics, summary) of a sound file entry for contents `digest` (each None
    when not asked for), or None. `blob` may stop after the summary when the facts are not asked for."""
    if len(blob) < _FILE_HEADER.size:
        return None
    magic, fmt, stored, scheck, fcheck, slen = _FILE_HEADER.unpack_from(blob)
    if magic != FILE_MAGIC or fmt != FORMAT or stored != digest or len(blob) < _FILE_HEADER.size + slen:
        return None
    view = memoryview(blob)
    value = summ = None
    try:
        if summary:
            payload = view[_FILE_HEADER.size:_FILE_HEADER.size + slen]
            if hashlib.blake2b(payload, digest_size=16).digest() != scheck:
                return None
            summ = loads(payload)
        if facts:
            payload = view[_FILE_HEADER.size + slen:]
            if hashlib.blake2b(payload, digest_size=16).digest() != fcheck:
                return None
            value = loads(payload)
            if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], list)):
                return None
    except Exception:  # damaged on disk
        return None
    return value, summ


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0  # files handed to analysis (parsed) this run
    writes: int = 0
    write_errors: int = 0


# Stats of the latest `engine.analyse_all` in this process (for tests and benchmarks).
last_stats = CacheStats()


class FactCache:
    """One environment's entries. Cheap to pickle: workers get a copy to write entries."""

    __slots__ = ("directory", "env")

    def __init__(self, directory: str | os.PathLike, env: str):
        self.directory = Path(directory) / f"facts-v{FORMAT}" / env
        self.env = env

    @classmethod
    def open(cls, directory: str | os.PathLike | None, settings) -> "FactCache":
        return cls(directory if directory is not None else default_cache_dir(), environment_key(settings))

    def exists(self) -> bool:
        return self.directory.is_dir()

    def entry_path(self, src, digest: bytes | None = None) -> Path:
        """`src`: a lifelint.discovery.SourcePath; `digest`: its bytes' content_digest (read when
        not given). Entries are keyed by what decides the facts (language, display path, bytes),
        not by where the file sits: the same file in another checkout of the repository (the
        `--diff-base` scan of a base revision) is a hit."""
        if digest is None:
            try:
                with open(src.path, "rb") as fh:
                    digest = file_digest(fh.read(), src)
            except OSError:
                digest = b""
        ident = f"{src.language}\0{src.display}\0".encode("utf-8", "surrogatepass") + digest
        k = hashlib.blake2b(ident, digest_size=16).hexdigest()
        return self.directory / k[:2] / k

    def lookup(self, src, max_size: int):
        """The cached (facts, diagnostics) for `src` as it is on disk now, or None."""
        return self.lookup_with_summary(src, max_size, summary=False)[0]

    def lookup_with_summary(self, src, max_size: int, *, summary: bool = True):
        """(the cached (facts, diagnostics) or None, the cached lifelint.summary.FileSummary or
        None) for `src` as it is on disk now."""
        got = self._load(src, max_size, facts=True, summary=summary)
        return got if got is not None and got[0] is not None else (None, None)

    def lookup_summary(self, src, max_size: int):
        """The cached summary of `src` as it is on disk now, or None: only the start of the entry
        is read, the facts are not unpickled."""
        got = self._load(src, max_size, facts=False, summary=True)
        return got[1] if got is not None else None

    def _load(self, src, max_size: int, *, facts: bool, summary: bool):
        try:
            with open(src.path, "rb") as fh:
                data = fh.read(max_size + 1)
        except OSError:
            return None
        if len(data) > max_size:
            return None
        digest = file_digest(data, src)
        entry = self.entry_path(src, digest)
        try:
            with open(entry, "rb") as fh:
                if facts:
                    blob = fh.read()
                else:
                    head = fh.read(_FILE_HEADER.size)
                    slen = _FILE_HEADER.unpack_from(head)[-1] if len(head) == _FILE_HEADER.size else 0
                    blob = head + fh.read(slen)
                mtime = os.fstat(fh.fileno()).st_mtime
        except OSError:
            return None
        value = decode_file(blob, digest, facts=facts, summary=summary)
        if value is not None and time.time() - mtime > 86400:
            try:  # entries still in use are kept by touch_and_prune's age limit
                os.utime(entry)
            except OSError:
                pass
        return value

    def touch_and_prune(self, max_age_days: float = 30.0) -> None:
        """Mark this environment as used, and delete environments (older lifelint versions,
        settings no longer used) that no run has used for `max_age_days`; at most once a day,
        also the entries of this one that no run has used for that long (old versions of files)."""
        try:
            now = time.time()
            if self.directory.is_dir():
                age = now - self.directory.stat().st_mtime
                os.utime(self.directory)
                if age > 86400:
                    self._prune_entries(now - max_age_days * 86400)
            for other in self.directory.parent.iterdir():
                if other != self.directory and other.is_dir() and now - other.stat().st_mtime > max_age_days * 86400:
                    shutil.rmtree(other, ignore_errors=True)
        except OSError:
            pass

    def _prune_entries(self, cutoff: float) -> None:
        for sub in self.directory.iterdir():
            if len(sub.name) != 2 or not sub.is_dir():
                continue
            for entry in sub.iterdir():
                try:
                    if entry.stat().st_mtime < cutoff:
                        entry.unlink()
                except OSError:
                    pass

    def _result_entry(self, slot: str) -> Path:
        return self.directory / "scans" / slot

    def load_result(self, slot_key: tuple[str, str] | None):
        """The ScanResult stored for `slot_key` (from scan_key), or None."""
        if slot_key is None:
            return None
        slot, key = slot_key
        try:
            with open(self._result_entry(slot), "rb") as fh:
                blob = fh.read()
        except OSError:
            return None
        value = decode(blob, bytes.fromhex(key))
        return value[0] if value is not None else None

    def store_result(self, slot_key: tuple[str, str] | None, result) -> bool:
        if slot_key is None:
            return False
        slot, key = slot_key
        try:
            payload = dumps((result, []))
        except Exception:
            return False
        return self.store(self._result_entry(slot), bytes.fromhex(key), payload)

    def store(self, entry: Path, digest: bytes, payload: bytes) -> bool:
        """Write a whole-scan entry atomically. False (never an exception) when it cannot be written."""
        return self._write(entry, encode(digest, payload))

    def store_file(self, entry: Path, digest: bytes, facts_payload: bytes, summary_payload: bytes) -> bool:
        """Write a file's entry (see encode_file) atomically; False when it cannot be written."""
        return self._write(entry, encode_file(digest, facts_payload, summary_payload))

    def _write(self, entry: Path, blob: bytes) -> bool:
        tmp = None
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=f"-{os.getpid()}")
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, entry)
            return True
        except OSError:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            return False


# --- whole-scan results ----------------------------------------------------------------------------
# Even with every file's facts cached, a warm run still loads all facts and runs every rule; on a
# 300k-line tree that is most of a warm run. When nothing at all changed, the previous run's
# ScanResult can be returned instead. `scan_key` is everything a ScanResult depends on; a
# result is stored per "slot" (root, paths, options) so a tree that keeps changing keeps one
# entry, not one per state.


@functools.cache
def rules_digest() -> str:
    """Digest of the rules' source (lifelint.rules), computed once per process."""
    import lifelint.rules as pkg

    h = hashlib.blake2b(digest_size=16)
    for d in pkg.__path__:
        for f in sorted(Path(d).rglob("*.py")):
            h.update(f.name.encode() + b"\0")
            try:
                h.update(f.read_bytes())
            except OSError:
                h.update(b"<missing>")
    return h.hexdigest()


def scan_key(opts, discovery, extra: bytes = b"", variant: str = "") -> tuple[str, str] | None:
    """(slot, key) for a whole scan: `opts` a lifelint.engine.ScanOptions, `discovery` what
    discover() found for it. Reads and hashes every file (no parsing). None when a file cannot
    be read (the scan then reports it; such a run is not cached). `extra`: the contents of any
    file an option names (a baseline...), which repr(opts) does not cover. `variant`: a kind of
    result other than the whole scan's (the part of it some files' report needs), in its own slot."""
    import dataclasses

    def canon(v):  # a repr that is the same in every process (sets have no stable order)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return (type(v).__name__, [(f.name, canon(getattr(v, f.name))) for f in dataclasses.fields(v)])
        if isinstance(v, (set, frozenset)):
            return sorted(canon(x) for x in v)
        if isinstance(v, dict):
            return [(canon(k), canon(x)) for k, x in v.items()]
        if isinstance(v, (list, tuple)):
            return [canon(x) for x in v]
        return repr(v)

    skip = {"progress", "jobs", "use_cache", "cache_dir", "cache_results", "compile_db"}  # a database's flags: per file, below
    options = repr([(f.name, canon(getattr(opts, f.name))) for f in dataclasses.fields(opts) if f.name not in skip])
    settings = opts.settings
    slot = hashlib.blake2b((f"{os.path.abspath(opts.root)}\0{options}" + (f"\0{variant}" if variant else "")).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    h = hashlib.blake2b(digest_size=32)
    for part in (environment_key(settings), rules_digest(), options, repr(discovery.problems), *((variant,) if variant else ())):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    h.update(extra)
    for src in discovery.files:
        try:
            with open(src.path, "rb") as fh:
                data = fh.read()
        except OSError:
            return None
        h.update(f"{src.display}\0{src.language}\0{os.path.abspath(src.path)}\0".encode("utf-8", "surrogatepass"))
        h.update(file_digest(data, src))
    return slot, h.hexdigest()


# --- pickling ----------------------------------------------------------------------------------
# Facts are about a million small slots dataclasses for a 300k-line tree. The stock pickling of
# a slots dataclass calls dataclasses.fields() and setattr for every object on load (its
# __setstate__ is Python), which made loading the facts slower than parsing them. Here each
# slots dataclass whose fields are all __init__ parameters is saved as a call of the class
# itself with its field values in order: one generated __init__ frame per object on load, about
# 3x faster than the stock way and a third smaller. Graphs with cycles through such objects
# cannot be saved that way; they fall back to the stock pickle (still a plain pickle, so
# loading needs no flag).

_INIT_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _init_fields(cls: type) -> tuple[str, ...] | None:
    """The field names of a slots dataclass that `cls(*values)` rebuilds exactly, else None."""
    try:
        return _INIT_FIELDS[cls]
    except KeyError:
        pass
    import dataclasses

    names = None
    d = cls.__dict__
    if "__slots__" in d and d.get("__dataclass_params__") is not None and not hasattr(cls, "__post_init__"):
        fields = dataclasses.fields(cls)
        if all(f.init for f in fields):
            names = tuple(f.name for f in fields)
    _INIT_FIELDS[cls] = names
    return names


# class -> a function giving the __init__ field values of an object in order (None: stock pickle;
# _AS_TUPLE: a plain NamedTuple, see _Pickler)
_GETTERS: dict[type, object] = {}


def _plain_namedtuple(cls: type) -> bool:
    """A NamedTuple class whose instances are their tuple and nothing else (no __dict__, no
    extra slots, no base between it and tuple): `tuple.__new__(cls, values)` rebuilds one exactly."""
    d = cls.__dict__
    return cls.__base__ is tuple and "_fields" in d and d.get("__slots__") == ()


def _getter(cls: type):
    if _plain_namedtuple(cls):
        return _AS_TUPLE
    names = _init_fields(cls)
    if names is None:
        return None
    if len(names) > 1:
        return operator.attrgetter(*names)  # one C call per object for the whole tuple
    if names:
        one = operator.attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


# A NamedTuple (Span: about a third of the objects in a C++ file's facts) is saved as
# `tuple.__new__(cls, values)`: the stock way calls its Python `__getnewargs__` on save and its
# generated Python `__new__` on load, once per object; this is all C on load and one call fewer
# on save (pickles about 7 % larger, saved and loaded about 13 % faster on libtorrent's facts).
_AS_TUPLE = object()
_tuple_new = tuple.__new__


# Spans, the most numerous objects of the facts (532k on squid), are pickled apart: the equal
# spans of one pickle (a call's span is often its use's, a statement's its scope's: 18 % of them
# on squid) are saved once and loaded as that one object (`operator.getitem((span,), 0)`, all C);
# the others load through lifelint.model._span_from_pickle, which shares their ints (see there).
# A Span is a tuple: nothing tells two equal ones apart, so sharing one changes no result.
_getitem = operator.getitem


# A class that sets `_load_shared = True` (a ClassVar) is loaded through _new_shared: its short
# strings (names, receivers, callee paths: the same few thousand in every file of a crate, but one
# object per file once unpickled, as a pickle shares objects within itself only), those in its
# tuples, lists and dict keys, are interned, and its ints share the span table's objects. About a
# Python call per object: for the numerous small objects whose strings repeat across files.
_SHARED = object()
_intern = sys.intern


def _shared(v):
    t = type(v)
    if t is str:
        return _intern(v) if len(v) <= 48 else v
    if t is int:
        return _SPAN_INTS.setdefault(v, v)
    if t is tuple:
        return tuple([_shared(x) for x in v]) if v else v
    if t is list:  # of names or of tuples (a list of objects keeps its identity)
        return [_shared(x) for x in v] if v and type(v[0]) in (str, tuple) else v
    if t is dict:
        return {_shared(k): x for k, x in v.items()}
    return v


def _new_shared(cls, *values):
    # Strings, the most common case, inline; containers and ints through _shared. None, bools and
    # the objects already loaded (spans, other facts) stay as they are.
    return cls(*[(_intern(v) if len(v) <= 48 else v) if type(v) is str else _shared(v) if type(v) in _SHARED_TYPES else v
                 for v in values])


_SHARED_TYPES = frozenset({int, tuple, list, dict})


class _Pickler(pickle.Pickler):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._spans: dict = {}

    def reducer_override(self, obj):
        cls = type(obj)
        if cls is Span:
            first = self._spans.setdefault(obj, obj)
            if first is not obj:
                return _getitem, ((first,), 0)
            return _span_from_pickle, tuple(obj)
        get = _GETTERS.get(cls, False)
        if get is False:
            get = _GETTERS[cls] = _getter(cls)
        if get is None:
            return NotImplemented
        if get is _AS_TUPLE:
            return _tuple_new, (cls, tuple(obj))
        if getattr(cls, "_load_shared", False):
            return _new_shared, (cls, *get(obj))
        return cls, get(obj)


def dumps(value) -> bytes:
    buf = io.BytesIO()
    try:
        _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    except RecursionError:  # a cycle through a slots dataclass (or very deep nesting)
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return buf.getvalue()


def loads(payload):
    try:
        return pickle.loads(payload)
    finally:
        if len(_SPAN_INTS) > SPAN_INTS_MAX:
            _SPAN_INTS.clear()


@contextlib.contextmanager
def gc_paused():
    """No cyclic GC while a burst of long-lived objects is created (unpickling a tree's facts):
    each collection would walk everything loaded so far, which made loading quadratic-ish."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
