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
- Only names that say "free / release / deallocate / reclaim / recycle" (or "destroy / dispose
  / delete / return" together with "buffer / block / chunk / page / memory / handle") count;
  an override with another name and an empty body is an ordinary no-op hook and stays silent.
- Classes whose name marks an intentional no-op (arena, monotonic, bump, null, noop, dummy,
  fake, mock, stub, disabled) are skipped: an arena frees everything at once by design.
- A `virtual` function that overrides nothing is a base class's default hook (a processor's
  `freeContext(void*)` next to a `getContext()` that returns nullptr): it is skipped, and the
  overrides that should free are checked instead.
- Only definitions are checked; a deallocator implemented through a macro is not seen.
"""

from __future__ import annotations

import re

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule

FREE_WORDS = frozenset({"free", "dealloc", "deallocate", "release", "reclaim", "recycle"})
WEAK_VERBS = frozenset({"destroy", "dispose", "delete", "return", "put", "give"})
MEMORY_NOUNS = frozenset({"buffer", "buf", "buffers", "block", "chunk", "page", "mem", "memory", "handle", "storage"})
INTENTIONAL_NOOP_CLASS = re.compile(r"arena|monotonic|bump|null|noop|no_op|dummy|fake|mock|stub|disabled", re.IGNORECASE)


def name_words(name: str) -> list[str]:
    """`free_disk_buffer` / `FreeDiskBuffer` / `do_deallocate` -> lower-case words."""
    parts = re.split(r"_+|(?<=[a-z0-9])(?=[A-Z])", name.lstrip("~"))
    return [p.lower() for p in parts if p]


def is_deallocator_name(name: str) -> bool:
    words = name_words(name)
    if any(w in FREE_WORDS for w in words):
        return True
    return any(w in WEAK_VERBS for w in words) and any(w in MEMORY_NOUNS for w in words)


class NoopDeallocator(Rule):
    code = "LL108"
    name = "noop-deallocator"
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A deallocator that takes a pointer and frees nothing: the memory leaks or was never owned."
    tags = ("correctness", "lifetime", "memory")
    seeds = ("000",)

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
            what = f"`{p.name}`" if p.name else f"its `{p.type}*` argument"
            kind = {"empty": "an empty body", "comments": "a body that is only a comment", "noop": "a body that only silences its parameter"}[fn.body_kind]
            role = "overrides a deallocator but has" if fn.is_override else "looks like a deallocator but has"
            comment = facts.comments_between(fn.body.start_byte, fn.body.end_byte) if fn.body else []
            note = ""
            if comment:
                first = comment[0].text.strip("/* \t\n").splitlines()[0].strip()
                if first:
                    note = f' (the comment says: "{first[:80]}")'
            message = (f"`{fn.qualname}` {role} {kind}{note}: {what} is never freed, so whatever "
                       "owning holder hands memory back here either leaks it or never owned it. Free "
                       "the memory here, or stop passing borrowed memory to an owning holder.")
            related = [Related(fn.body, "the body frees nothing")] if fn.body else []
            yield self.finding(fn.name_span, message, related)
