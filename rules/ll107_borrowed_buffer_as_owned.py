"""## What it does
Flags `const_cast` of a borrowed buffer's `data()` / `c_str()` handed to something that takes
ownership of the pointer: a holder type whose destructor frees what it holds (found through
the project: its destructor calls `delete`, `free` or a deallocator such as
`free_disk_buffer`), a `*_holder`, `unique_ptr` / `shared_ptr` without a custom deleter, or a
function named like `adopt*` / `take*` / `*from_raw*` / `own*`. When the holder frees through a
deallocator that is a no-op (an empty `free_disk_buffer`, see LL108), the message says so.

Rust: an owning wrapper made from a resource the function does not own — `File::from_raw_fd` /
`OwnedFd::from_raw_fd` on a caller's fd or a field of a borrowed struct, `Box::from_raw` on a
borrowed pointer — so dropping the wrapper closes or frees what the caller still owns (seed 002).

## Why is this bad?
`const_cast<char*>(view.data())` strips the only sign that the memory belongs to someone else.
An owning holder will free it (a double free or a free of memory that never came from that
allocator), or, when its deallocator was made a no-op to "make it work", it keeps a dangling
pointer once the real owner resizes or erases the buffer. In seed 000 the backend built a
`disk_buffer_holder(*this, const_cast<char*>(data.data()), size)` from a `span` into a storage
vector, with `free_disk_buffer` left empty.

## Example
```cpp
span<char const> data = m_store.readv(r);
handler(disk_buffer_holder(*this, const_cast<char*>(data.data()), int(data.size())));
```

## Use instead
Give the holder memory it owns:
```cpp
char* buf = allocate_disk_buffer(data.size());
std::memcpy(buf, data.data(), data.size());
handler(disk_buffer_holder(*this, buf, int(data.size())));   // free_disk_buffer frees it
```
or pass a non-owning view to an API that takes one.

## Known limits
- Only `const_cast` is followed; a C-style cast of `.data()` is not (it does not always drop
  `const`).
- The pointer must reach the holder directly (as an argument, possibly through other casts) or
  through one local variable.
"""

from __future__ import annotations

import re

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.rules.ll108_noop_deallocator import is_deallocator_name
from lifelint import rust_checks

_DATA = re.compile(r"^\s*(?P<owner>.+?)\s*(?:\.|->)\s*(?P<m>data|c_str)\s*\(\s*\)\s*$")
_OWNING_NAME = re.compile(r"(holder$|Holder$|^unique_ptr$|^shared_ptr$|^adopt|^Adopt|^take_?own|^TakeOwn|from_raw|FromRaw|^own(ed)?_|^Owned|^assume_own)")
_CASTS = frozenset({"const_cast", "static_cast", "reinterpret_cast"})
FREE_CALLS = frozenset({"free", "std::free", "::free", "munmap", "VirtualFree", "HeapFree", "g_free", "av_free"})


def _template_arity(callee: str) -> int:
    """Number of top-level template arguments of the last template in `callee`."""
    i = callee.find("<")
    if i < 0:
        return 0
    depth, n = 0, 1
    for ch in callee[i:]:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 1:
            n += 1
    return n


def _holder_frees(index, name: str) -> tuple[bool, list[str]]:
    """(the class's destructor frees, deallocator method names it calls) for a holder class in the project."""
    if index is None:
        return False, []
    cache = index.memo("ll107.holder_frees", lambda _ix: {})
    if name in cache:
        return cache[name]
    frees, dealloc = False, []
    for _f, fn in index.methods_of(name):
        if not (fn.is_dtor or fn.name in ("reset", "release_buffer")) or fn.flow is None:
            continue
        for c in fn.flow.calls:
            if c.kind == "delete" or c.callee in FREE_CALLS:
                frees = True
            elif is_deallocator_name(c.name) and c.name not in ("release",):
                frees = True
                dealloc.append(c.name)
    cache[name] = (frees, dealloc)
    return cache[name]


def _noop_deallocators(index, class_name: str | None, names: list[str]):
    """Methods of `class_name` (or, failing that, anywhere) named like a deallocator, taking a
    pointer, with a body that frees nothing."""
    if index is None:
        return []
    out = []
    cands = index.methods_of(class_name.split("::")[-1]) if class_name else []
    if not cands and names:
        for n in names:
            cands.extend(index.cpp_functions.get(n, []))
    for f, fn in cands:
        if fn.body_kind in ("empty", "comments", "noop") and any(p.pointer_depth for p in fn.params) and is_deallocator_name(fn.name):
            if not names or fn.name in names:
                out.append((f, fn))
    return out


class BorrowedBufferAsOwned(Rule):
    code = "LL107"
    name = "borrowed-buffer-as-owned"
    group = "nursery"  # measured: 0 TRUE and 1 FALSE of 1 triaged test-half findings (fewer than 10)
    languages = ("cpp", "rust")
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "`const_cast` of a borrowed buffer's data() is handed to a holder that takes ownership of it."
    tags = ("correctness", "lifetime", "memory")
    seeds = ("000", "002")

    def check(self, facts, index):
        if facts.language == "rust":
            yield from rust_checks.check_ll107(facts, index)
            return
        for fn in facts.cpp.functions:
            flow = fn.flow
            if flow is None:
                continue
            for ci, c in enumerate(flow.calls):
                if not c.callee.startswith("const_cast") or len(c.args) != 1:
                    continue
                m = _DATA.match(" ".join(c.args[0].split()))
                if not m:
                    continue
                owner = m.group("owner")
                # Find the call that receives the pointer: directly, through other casts, or via one local.
                holder, arg_index, via = self._receiver(flow, ci)
                if holder is None:
                    continue
                h = flow.calls[holder]
                hname = h.name
                frees, deallocs = _holder_frees(index, hname)
                owning = frees or bool(_OWNING_NAME.search(hname))
                if hname in ("unique_ptr", "shared_ptr") and (len(h.args) > 1 or _template_arity(h.callee) > 1):
                    owning = False  # a custom deleter decides
                if h.callee_kind == "method" and hname == "reset" and not ("ptr" in (h.receiver or "") or "holder" in (h.receiver or "")):
                    owning = False
                if not owning:
                    continue
                di = flow.decl_named(re.split(r"[.\->\[]", owner, 1)[0], c.span.start_byte, c.scope)
                if di is not None and flow.decls[di].view in ("span", "string_view", "pointer", "reference"):
                    d = flow.decls[di]
                    borrowed = f"`{owner}` is a {d.view.replace('_', ' ')} borrowed from someone else's buffer"
                else:
                    borrowed = f"the buffer belongs to `{owner}`"
                # Whose deallocator will run? `*this` / `this` as the allocator argument: this class.
                alloc_class = None
                for a in h.args:
                    if a.replace(" ", "") in ("*this", "this"):
                        alloc_class = fn.class_name
                noop = _noop_deallocators(index, alloc_class, deallocs) if (alloc_class or deallocs) else []
                related = [Related(h.span, f"`{hname}` takes ownership of the pointer here")]
                if noop:
                    nf, nfn = noop[0]
                    note = (f" `{hname}` hands it back to `{nfn.qualname}`, which frees nothing (see LL108): today that only "
                            f"hides the problem, and the holder is left pointing into `{owner}` after its owner resizes or "
                            "frees it.")
                    related.append(Related(nfn.name_span, f"`{nfn.qualname}` frees nothing", nf.path))
                else:
                    note = f" When `{hname}` is destroyed it frees memory it never allocated."
                how = f" (through `{via}`)" if via else ""
                msg = f"`{h.callee}` takes ownership of `{owner}.{m.group('m')}()`, a const pointer into borrowed memory."
                why = (f"`const_cast` strips const from it and passes it{how} as argument {arg_index + 1} to "
                       f"`{h.callee}`, but {borrowed}.{note}")
                fix = "Copy the bytes into a buffer allocated for the holder, or pass a non-owning view instead."
                yield self.finding(c.span, msg, related, why=why, fix=fix)

    @staticmethod
    def _receiver(flow, ci: int):
        c = flow.calls[ci]
        via = None
        hops = 0
        while hops < 4:
            hops += 1
            if c.parent_call is not None:
                p = flow.calls[c.parent_call]
                if p.name in _CASTS or p.callee.split("<")[0] in _CASTS:
                    ci, c = c.parent_call, p
                    continue
                return c.parent_call, c.arg_index if c.arg_index is not None else 0, via
            if c.result == "init" and c.result_target and via is None:
                var = c.result_target
                for j, c2 in enumerate(flow.calls):
                    if c2.span.start_byte > c.span.end_byte and c2.lambda_index == c.lambda_index:
                        for ai, a in enumerate(c2.args):
                            if a.strip() == var:
                                return j, ai, var
                return None, 0, None
            return None, 0, None
        return None, 0, None
