"""## What it does
Flags a deallocation function that takes a pointer and frees nothing: an override such as
`free_disk_buffer(char*) override`, a method, or a free function whose name says it frees,
releases or deallocates (`free_*`, `*_free`, `release_buffer`, `deallocate`, ...), and whose
body is empty, holds only comments, or only silences its parameter (`(void)p;`).

## Why is this bad?
Callers hand memory to a deallocator because an owning holder believes it owns that memory:
libtorrent's `disk_buffer_holder` calls `free_disk_buffer()` from its destructor. A no-op
deallocator means one of two things, both bugs: the buffer really was allocated and now leaks,
or the "owned" pointer was borrowed all along (seed 000: a `span` into a `std::vector` was
`const_cast` into a holder, and `free_disk_buffer` was left empty with a comment saying the
storage owns it). The second case hides a dangling pointer behind an interface that promises
ownership: when the storage erases or reallocates, the holder still points at freed memory.

## Example
```cpp
struct memory_disk_io final : buffer_allocator_interface {
    void free_disk_buffer(char*) override {
        // buffers are owned by the storage, nothing to free
    }
};
```

## Use instead
Give the holder memory it really owns and free it here:
```cpp
void free_disk_buffer(char* buf) override { delete[] buf; }
```
or, if buffers are borrowed, do not route them through an owning holder at all: copy the data
into a buffer allocated for the holder, or pass a non-owning view.

## Known limits
- An empty body alone is not reported: the rule needs positive evidence that something owned
  reaches the deallocator. Evidence is (1) a counterpart (same class in any file, or same file
  for a free function; an allocating verb such as `alloc/new/create/make/get/acquire/parse` and
  the same nouns: `get_context` / `free_context`, `dh_new` / `dh_free`) that allocates (`new`,
  `malloc`/`*alloc*`, `strdup`, `make_unique`/`make_shared`, `allocate`) and hands the result out
  (returns it, or stores it through a pointer parameter); (2) without any counterpart, an
  override of a deallocation interface (seed 000); (3) without any counterpart, a parameter
  pointing to a project class that holds pointers, strings or containers. A counterpart that
  exists but hands out nothing (returns null, throws in a build without the feature, fills a
  plain value, keeps its allocation in a global) silences the deallocator: config hooks for
  plain-value options, tracing no-ops and `dummy_` fallbacks are not reported.
- Counterparts are matched by name words; an allocator with an unrelated name (`open()` paired
  with `free_handle()`) is not seen, and a free function with no counterpart whose argument is
  `char*`/`void*` is not reported.
- Only names that say "free / release / deallocate / reclaim / recycle" (or "destroy / dispose
  / delete / return" together with "buffer / block / chunk / page / memory / handle") count;
  an override with another name and an empty body is an ordinary no-op hook and stays silent.
- Classes whose name marks an intentional no-op (arena, monotonic, bump, null, noop, dummy,
  fake, mock, stub, disabled) are skipped: an arena frees everything at once by design.
- A `virtual` function that overrides nothing is a base class's default hook (a processor's
  `freeContext(void*)` next to a `getContext()` that returns nullptr): it is skipped, and the
  overrides that should free are checked instead.
- Only definitions are checked; a deallocator implemented through a macro is not seen.

## Measured precision
Tune half of the precision ledger: before this change 0 TRUE / 9 FALSE (squid 6 config hooks,
onetbb 2, libtorrent-rakshasa 1); after it 0 findings. Issue 11's unseen code: 0 / 1 before.
"""

from __future__ import annotations

import re

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule

FREE_WORDS = frozenset({"free", "dealloc", "deallocate", "release", "reclaim", "recycle"})
WEAK_VERBS = frozenset({"destroy", "dispose", "delete", "return", "put", "give"})
MEMORY_NOUNS = frozenset({"buffer", "buf", "buffers", "block", "chunk", "page", "mem", "memory", "handle", "storage"})
INTENTIONAL_NOOP_CLASS = re.compile(r"arena|monotonic|bump|null|noop|no_op|dummy|fake|mock|stub|disabled", re.IGNORECASE)
# The verbs of a deallocator's counterpart: what hands out the thing it takes back.
ALLOC_VERBS = frozenset({"alloc", "allocate", "new", "create", "make", "get", "acquire", "open", "parse", "init",
                         "construct", "build", "reserve", "obtain", "dup", "clone", "take", "borrow", "grab", "lease"})
# Calls that allocate: the C and C++ allocators and their common wrappers (names with `alloc`/`strdup`
# in them count too: `xmalloc`, `g_malloc0`, `do_alloc`).
ALLOC_CALLS = frozenset({"make_unique", "make_shared", "allocate", "strdup", "strndup", "new_object", "allocate_shared"})
_ALLOC_WORD = re.compile(r"alloc|strdup", re.IGNORECASE)
# Field types that own heap memory: freeing an object that holds one frees something.
_OWNING_FIELD = re.compile(r"\b(?:unique_ptr|shared_ptr|string|vector|deque|list|map|set|unordered_\w+|basic_string|"
                           r"QString|QByteArray|QList|QVector|QMap|QHash|buffer)\b")
_NULLISH = frozenset({"nullptr", "NULL", "0", "{}", "None"})


def name_words(name: str) -> list[str]:
    """`free_disk_buffer` / `FreeDiskBuffer` / `do_deallocate` -> lower-case words."""
    parts = re.split(r"_+|(?<=[a-z0-9])(?=[A-Z])", name.lstrip("~"))
    return [p.lower() for p in parts if p]


def is_deallocator_name(name: str) -> bool:
    words = name_words(name)
    if any(w in FREE_WORDS for w in words):
        return True
    return any(w in WEAK_VERBS for w in words) and any(w in MEMORY_NOUNS for w in words)


def _nouns(name: str) -> frozenset[str]:
    """What a deallocator or its counterpart is about: `dh_free` / `dh_new` -> {"dh"}."""
    return frozenset(w for w in name_words(name) if w not in FREE_WORDS | WEAK_VERBS | ALLOC_VERBS)


def _allocates(fn) -> int | None:
    """The line where `fn` hands out memory it allocated: it allocates (`new`, `malloc`, `make_unique`,
    ...) and returns something other than null, or stores the allocation through a pointer
    parameter (`*out = new T`, `out->data = malloc(n)`). None for a stub that returns null or
    throws (a build without the feature), and for an allocation kept in a global."""
    flow = fn.flow
    if flow is None:
        return None
    allocs = [c for c in flow.calls
              if c.kind == "new" or c.name in ALLOC_CALLS or _ALLOC_WORD.search(c.name or "")]
    if not allocs:
        return None
    if any(r.value and r.value.strip() not in _NULLISH for r in flow.returns):
        return allocs[0].span.line
    params = {p.name for p in fn.params if p.name and p.pointer_depth > 0}
    for a in flow.assigns:
        t = a.target.lstrip("*( ")
        root = re.match(r"[A-Za-z_]\w*", t)
        if root and root.group(0) in params and (a.target.startswith("*") or "->" in a.target or "[" in a.target):
            return a.span.line
    return None


def _counterparts(fn, facts, index):
    """Functions that hand out what `fn` takes back: same class (any file) or, for a free function,
    the same file; an allocating verb and the same nouns (`get_context` / `free_context`)."""
    nouns = _nouns(fn.name)
    if not nouns:
        return []
    if fn.class_name:
        cname = fn.class_name.split("::")[-1]
        pool = [f for _ff, f in index.methods_of(cname)]
    else:
        pool = [f for f in facts.cpp.functions if not f.class_name]
    out = []
    for f in pool:
        if f is fn or f.body is None:
            continue
        words = name_words(f.name)
        if any(w in ALLOC_VERBS for w in words) and not any(w in FREE_WORDS for w in words) and _nouns(f.name) == nouns:
            out.append(f)
    return out


def _owns_memory(type_text: str, index) -> bool:
    """A pointer to a project class holding a pointer, a smart pointer, a string or a container:
    freeing it frees something. `int*`, `void*`, a class of plain values: nothing known to own."""
    base = re.sub(r"\b(?:const|volatile|struct|class)\b", "", type_text).strip().split("<", 1)[0].split("::")[-1].strip()
    for _ff, cls in index.cpp_classes.get(base, []):
        for fld in cls.fields:
            if fld.pointer_depth > 0 or _OWNING_FIELD.search(fld.type):
                return True
    return False


def _evidence(fn, param, facts, index) -> tuple[str, object] | None:
    """Positive evidence that something owned reaches this deallocator, as (why, span or None)."""
    parts = _counterparts(fn, facts, index)
    for f in parts:
        line = _allocates(f)
        if line is not None:
            return f"`{f.name}` allocates what it hands out (line {line})", f.name_span
    if parts:
        return None  # the counterpart hands out nothing to free (returns null, throws, fills a value)
    if fn.is_override:
        return "it implements a deallocation interface, so owning holders hand it their memory", None
    if _owns_memory(param.type, index):
        return f"`{param.type.strip()}` owns memory (it holds pointers or containers)", None
    return None


class NoopDeallocator(Rule):
    code = "LL108"
    name = "noop-deallocator"
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A deallocator that takes a pointer and frees nothing: the memory leaks or was never owned."
    tags = ("correctness", "lifetime", "memory")
    seeds = ("000",)
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        for fn in facts.cpp.functions:
            if fn.body_kind not in ("empty", "comments", "noop") or fn.is_ctor or fn.is_dtor:
                continue
            pointer_params = [p for p in fn.params if p.pointer_depth > 0]
            if not pointer_params or not is_deallocator_name(fn.name):
                continue
            if fn.class_name and INTENTIONAL_NOOP_CLASS.search(fn.class_name):
                continue
            if fn.is_virtual and not fn.is_override:
                continue  # a base class's default hook, there for subclasses to override (checked there)
            p = pointer_params[0]
            # An empty "free" matters only when something owned reaches it: a counterpart that
            # allocates, a deallocation interface, or a parameter type that owns memory. A
            # config hook for a plain value, a tracing no-op or a stub for a build without the
            # feature (its allocator returns null or throws) frees nothing because nothing was given.
            ev = _evidence(fn, p, facts, index)
            if ev is None:
                continue
            why, ev_span = ev
            what = f"`{p.name}`" if p.name else f"its `{p.type}*` argument"
            kind = {"empty": "an empty body", "comments": "a body that is only a comment", "noop": "a body that only silences its parameter"}[fn.body_kind]
            role = "overrides a deallocator but has" if fn.is_override else "looks like a deallocator but has"
            comment = facts.comments_between(fn.body.start_byte, fn.body.end_byte) if fn.body else []
            note = ""
            if comment:
                first = next(iter(comment[0].text.strip("/* \t\n").splitlines()), "").strip()  # `/**/` says nothing
                if first:
                    note = f' (the comment says: "{first[:80]}")'
            message = f"`{fn.qualname}` {role} {kind}."
            because = (f"{what[:1].upper()}{what[1:]} is never freed{note}, though {why}; so whatever owning holder "
                       "hands memory back here either leaks it or never owned it.")
            related = [Related(fn.body, "the body frees nothing")] if fn.body else []
            if ev_span is not None:
                related.append(Related(ev_span, "allocated here"))
            yield self.finding(fn.name_span, message, related, why=because,
                               fix="Free the memory here, or stop passing borrowed memory to an owning holder.")
