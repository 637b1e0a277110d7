"""## What it does
Flags `const_cast` of a borrowed buffer's `data()` / `c_str()` handed to something that takes
ownership of the pointer: a holder type whose destructor frees what it holds (found through
the project: its destructor calls `delete`, `free` or a deallocator such as
`free_disk_buffer`), a `*_holder`, `unique_ptr` / `shared_ptr` without a custom deleter, or a
function named like `adopt*` / `take*` / `*from_raw*` / `own*`. When the holder frees through a
deallocator that is a no-op (an empty `free_disk_buffer`, see LL108), the message says so.

Rust: an owning wrapper made from a resource the function does not own — `File::from_raw_fd` /
`OwnedFd::from_raw_fd` / `TcpStream::from_raw_fd` on a caller's fd or a field of a borrowed
struct, `Box::from_raw` on a borrowed pointer — so dropping the wrapper closes or frees what the
caller still owns (seed 002). The fd is known to be borrowed when:
- it is `x.as_raw_fd()` of something that still owns it;
- it is a field of a borrowed struct (`&self`, a `&T` / `*T` parameter), directly or copied
  through a `let` (`let fd = self.fd;`), and `&mut self` does not give the field up;
- it comes from a getter on a borrowed struct that returns one of its fields (`self.raw()`);
- it is a `RawFd` parameter and the owner dies in the function, or the owner is kept (cached,
  returned) while the function looks the same fd up in a collection first (`map.get(&fd)`,
  `map.entry(fd)`): a get-or-create cache keyed by the fd means callers keep the fd and come
  back with it, and the cached owner closes it under them when the entry drops.

The fd may also reach `from_raw_fd` through project helpers: a function that returns an owner
built from one of its parameters (`fn wrap(fd: RawFd) -> File { unsafe { File::from_raw_fd(fd) } }`,
also inside `Ok(..)` / `Arc::new(..)`, as a field of a struct literal it returns (`Slot { file:
File::from_raw_fd(fd), .. }`, `Self { .. }`, directly, inside `Ok(..)` / `Box::new(..)` or through a
returned `let`), or by calling another such function, up to 4 calls deep, across files) is
summarised per parameter. Its callers are judged at the call
like the direct case: `cache.insert(fd, wrap(fd))` after a lookup by `fd`, `self.file =
Some(wrap(self.fd))`, `wrap(cfg.fd)` on a borrowed config, `wrap(s.as_raw_fd())`. The message
names the helper and the `from_raw_fd` line inside it. Silent: the result is
`mem::forget`-ed, `into_raw_fd()`-ed or put in `ManuallyDrop`; the fd is `dup`ed / `try_clone`d
first; the helper forgets or drops its owner itself (nothing returned); the caller is an
`unsafe fn` with a `# Safety` section (its contract may hand ownership over) or got the fd from
`into_raw_fd`.

## Why is this bad?
`const_cast<char*>(view.data())` strips the only sign that the memory belongs to someone else.
An owning holder will free it (a double free or a free of memory that never came from that
allocator), or, when its deallocator was made a no-op to "make it work", it keeps a dangling
pointer once the real owner resizes or erases the buffer. In seed 000 the backend built a
`disk_buffer_holder(*this, const_cast<char*>(data.data()), size)` from a `span` into a storage
vector, with `free_disk_buffer` left empty.

## Example
```rust
fn file_for(fd: RawFd, cache: &mut HashMap<RawFd, Arc<File>>) -> Arc<File> {
    if let Some(f) = cache.get(&fd) { return f.clone(); }
    let file = Arc::new(unsafe { File::from_raw_fd(fd) });   // closes the caller's fd on eviction
    cache.insert(fd, file.clone());
    file
}
```
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
or pass a non-owning view to an API that takes one. In Rust, borrow (`BorrowedFd::borrow_raw(fd)`),
keep the owner from closing (`ManuallyDrop::new(File::from_raw_fd(fd))`, `into_raw_fd()` before it
drops), `dup` the fd first, or take ownership in the type (an `OwnedFd` parameter).

## Known limits
- Only `const_cast` is followed; a C-style cast of `.data()` is not (it does not always drop
  `const`).
- The pointer must reach the holder directly (as an argument, possibly through other casts) or
  through one local variable.
- Rust: a `RawFd` parameter whose owner is kept is reported only with the lookup evidence above;
  a registry that only inserts (`owned.push(..)`, `map.insert(fd, ..)`) is taken as a handover.
  Callers are not followed: a function that is handed `conn.as_raw_fd()` by its caller and keeps
  an owner of it is not seen unless it also looks the fd up. (Helpers it calls are followed, see
  above; callers of the function are not.)
- Rust helpers: a call resolves by name (narrowed by `Type::` / `Self::` and by `self.` for
  methods); when several project functions share the name, every one must wrap the same
  parameter. Trait methods, closures and function pointers are not followed, nor a helper that
  takes the fd inside a struct by value or builds the owner in a closure. A literal counts as
  returned only when no call other than a keeping constructor (`Ok`, `Some`, `Box::new`,
  `Arc::new`, ...) stands between it and the returned value. The `# Safety` check
  is coarse: any `# Safety` section on an `unsafe fn` caller is taken as a handover.
- Rust: a tail that reads a field of the value holding the owner leaves the owner behind only
  when the helper put the owner in a named field of a struct literal (`s.reads` vs `s.file`);
  a field read of a value that is the owner as a whole counts as the value leaving.
- Measured on the Rust tune corpora (rust-parking-lot, rust-openssl, rust-hyper, rust-gnome):
  no finding, before or after the borrowed-fd shapes and the helper summary (no function there
  returns an owner built from its fd parameter: their `from_raw_fd`s implement `FromRawFd`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from lifelint import rust_checks as rc
from lifelint.model import HEADLINE_MAX, Finding, Level, Precision, Related, Span
from lifelint.registry import Rule
from lifelint.rules.ll108_noop_deallocator import is_deallocator_name

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
            yield from check_rust(facts, index)
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


# --- Rust half: an owner built from an fd or pointer the function does not own ---------------

FD_NEUTRAL_TYPES = ("OwnedFd", "File", "UnixStream", "TcpStream", "UdpSocket", "Socket")


def _owner_released(flow, e) -> str:
    """How a freshly built owner is kept from closing/freeing: '' if it is not."""
    fname = e.fate_name.rsplit("::", 1)[-1]
    if e.fate == "arg" and "ManuallyDrop" in e.fate_name:
        return "ManuallyDrop"
    if e.fate == "arg" and fname in ("forget", "leak", "into_raw"):
        return fname
    if e.fate == "method" and e.fate_name in ("into_raw_fd", "into_raw", "leak"):
        return e.fate_name
    if e.fate == "let" and e.fate_name:
        name = e.fate_name.split(" ")[-1]
        for o in flow.events:
            if o.start <= e.start:
                continue
            if o.kind in ("forget", "md_new", "into_raw") and o.args and rc.base_ident(o.args[0]) == name:
                return o.kind
            if o.kind in ("into_raw_fd",) and rc.base_ident(o.recv) == name:
                return "into_raw_fd"
            if o.kind == "method" and o.name in ("into_raw_fd", "leak") and rc.base_ident(o.recv) == name:
                return o.name
    return ""


def _owner_escapes(flow, e, field: str | None = None) -> bool:
    """Does the owner built at `e` leave this function? `field`: the owner is that field of the
    value built (a read of another field in the tail does not take the owner along)."""
    if e.fate in ("return", "field", "stored", "assign", "closure_return"):
        return True
    if e.fate == "arg":
        return True  # handed to another function or constructor: it decides
    if e.fate == "let" and e.fate_name:
        name = e.fate_name.split(" ")[-1]
        if rc.returned_as_is(flow, name, field):
            return True
        for o in flow.events:
            if o.start > e.start and o.kind in ("call", "method", "assign") and name in rc.IDENT.findall(" ".join(o.args)):
                return True
        # moved into a struct literal, a call argument, a collection
        uses = [u for u in flow.uses.get(name, ()) if u > e.span.end_byte]
        for u in uses:
            for o in flow.events:
                if o.kind in ("call", "method") and o.span.start_byte < u < o.span.end_byte and o.recv != name and not o.recv.startswith(name + "."):
                    return True
        return False
    return False


def _field_assigned(flow, place: str, after: int = -1) -> bool:
    for o in flow.events:
        if o.kind == "assign" and o.recv == place and o.start > after:
            return True
        if o.kind in ("opt_take",) and (o.recv == place or (o.args and place in o.args[0])):
            return True
    return False


_FIELD = re.compile(r"\(?\*?([A-Za-z_][A-Za-z0-9_]*)\)?\.([A-Za-z0-9_.]+)")
_GETTER = re.compile(r"\(?\*?([A-Za-z_][A-Za-z0-9_]*)\)?((?:\.[A-Za-z0-9_]+)*)\.([A-Za-z_][A-Za-z0-9_]*)\(\)")
# Lookups keyed by a value: the function expects to see the same fd again (a cache).
_LOOKUPS = frozenset({"get", "get_mut", "entry", "contains_key"})


def _fd_origin(flow, text: str, at: int) -> str:
    """The expression an fd argument was copied from, following plain `let` aliases:
    `let fd = self.fd; File::from_raw_fd(fd)` -> `self.fd`."""
    for _ in range(6):
        if not rc.IDENT.fullmatch(text):
            return text
        lc = flow.local(text, at)
        if lc is None or lc.kind != "let" or not lc.value_text:
            return text
        text, at = lc.value_text, lc.span.start_byte
    return text


def _borrowed_holder(fn, params: dict, holder: str) -> bool:
    """Is `holder` reached through a borrow (`&self`, `&mut self`, a `&T` / `*T` parameter)?"""
    if holder == "self":
        return fn.self_kind in ("ref", "mut")
    p = params.get(holder)
    return p is not None and p.type.replace(" ", "").startswith(("&", "*"))


def _returns_own_field(fn, flow) -> bool:
    """A getter on `&self` whose every returned value is read from `self` with no call that could
    make a new fd (`dup`, `open`) or give one up (`mem::replace`)."""
    if fn.self_kind not in ("ref", "mut") or not flow.returns:
        return False
    if any(e.kind == "opt_take" for e in flow.events):
        return False
    for a, b in flow.returns:
        if not flow.uses_in("self", a, b):
            return False
        for e in flow.events_in(a, b):
            if e.kind == "call" or (e.kind == "method" and e.name not in ("as_raw_fd", "clone", "unwrap", "expect")):
                return False
    return True


def _borrowing_getter(P, fn, params: dict, src: str):
    """`holder.m()` where `m` is a project getter returning a field of the borrowed `holder`."""
    m = _GETTER.fullmatch(src)
    if not m or not _borrowed_holder(fn, params, m.group(1)) or m.group(3) in ("as_raw_fd", "into_raw_fd"):
        return None
    for _f, gfn, gflow in P.flows_by_name.get(m.group(3), ()):
        if _returns_own_field(gfn, gflow):
            return gfn
    return None


def _keyed_lookup(flow, name: str):
    """A collection lookup keyed by `name` (`map.get(&fd)`, `map.entry(fd)`)."""
    for o in flow.events:
        if o.kind == "method" and o.name in _LOOKUPS and o.args and rc.base_ident(o.args[0]) == name:
            return o
    return None


def _borrow_fix(arg: str, owner: str) -> str:
    """The remedy when the fd still belongs to a borrowed holder."""
    return f"Borrow it with `BorrowedFd::borrow_raw({arg})`, `dup` it first, or wrap the `{owner}` in `ManuallyDrop`."



# --- Helpers that wrap their fd parameter: a per-function summary -----------------------------

# Constructors that keep the owner they are given: `Ok(wrap(fd))`, `Arc::new(File::from_raw_fd(fd))`
# return the same owner (and close the same fd when it drops).
_KEEPING_WRAPPERS = frozenset({"Ok", "Some", "Arc::new", "Rc::new", "Box::new", "Mutex::new", "RwLock::new",
                               "RefCell::new", "Cell::new", "BufReader::new", "BufWriter::new"})
# A chain of helpers is followed this many calls deep (`open_logged` -> `wrap` -> from_raw_fd).
_MAX_CHAIN = 4


@dataclass(frozen=True)
class FdWrap:
    """Function `chain[0]` returns an owner built by `owner::from_raw_fd` of its parameter `param`
    (index among the non-self parameters), possibly through the helpers `chain[1:]`."""

    param: int
    pname: str
    owner: str
    site: Span  # the from_raw_fd call inside the last helper
    path: str  # file of `site`
    chain: tuple  # RFunction of each function, the summarised one first
    field: str = ""  # the owner is this field of a struct literal the last helper returns


def _value_params(fn) -> list[str]:
    return [p.name or "" for p in fn.params if p.name != "self"]


def _enclosing_call(flow, e, name: str):
    """The call event that `e` is an argument of (`Arc::new(<e>)`)."""
    best = None
    for o in flow.events:
        if o.kind in ("call", "method") and o.span.start_byte <= e.span.start_byte and e.span.end_byte <= o.span.end_byte \
                and o is not e and o.name == name:
            if best is None or o.span.start_byte >= best.span.start_byte:
                best = o
    return best


def _keeps(o) -> bool:
    return o.kind == "call" and (o.name in _KEEPING_WRAPPERS or o.name.split("::")[-1] in ("Ok", "Some"))


def _kept_within(flow, e, lo: int, hi: int) -> bool:
    """Every call between `e` and the range [lo, hi) that holds it keeps its argument
    (`Ok(Slot { file: <e> })`, `Arc::new(..)`): what the range evaluates to still holds `e`."""
    if not (lo <= e.span.start_byte and e.span.end_byte <= hi):
        return False
    return all(_keeps(o) for o in flow.events
               if o.kind in ("call", "method") and o is not e and lo <= o.span.start_byte <= e.span.start_byte
               and e.span.end_byte <= o.span.end_byte <= hi)


def _local_kept_in_return(flow, name: str) -> bool:
    """Local `name` is returned as is, or only inside constructors that keep it: a use in a
    returned value with no other call around it (`(count(s), 0)` returns a count, not `s`)."""
    if not rc.returned_as_is(flow, name):
        return False
    for a, b in flow.returns:
        for u in flow.uses_in(name, a, b):
            if all(_keeps(o) for o in flow.events
                   if o.kind in ("call", "method") and a <= o.span.start_byte <= u < o.span.end_byte <= b):
                return True
    return False


def _literal_returned(flow, e) -> bool:
    """`e` initialises a field of a struct literal (or an element of a tuple / array) that the
    function returns: the literal is a returned value itself (`Self { file: <e>, .. }`, also inside
    `Ok(..)` / `Box::new(..)`), or it is bound by a `let` that is returned."""
    if any(_kept_within(flow, e, a, b) for a, b in flow.returns):
        return True
    return any(lc.kind == "let" and lc.value and _kept_within(flow, e, lc.value[0], lc.value[1])
               and _local_kept_in_return(flow, lc.name) for lc in flow.locals)


def _returned(flow, e, depth: int = 0) -> bool:
    """The value built at `e` is what the function returns: directly, through a `let`, inside a
    constructor that keeps it (`Ok(..)`, `Arc::new(..)`), or in a field of a returned literal."""
    if e.closure >= 0:
        return False
    if e.fate == "return":
        return True
    if e.fate in ("field", "stored"):
        return _literal_returned(flow, e)
    if e.fate == "let" and e.fate_name:
        return rc.returned_as_is(flow, e.fate_name.split(" ")[-1])
    if e.fate == "arg" and depth < 3 and (e.fate_name in _KEEPING_WRAPPERS or e.fate_name.split("::")[-1] in ("Ok", "Some")):
        outer = _enclosing_call(flow, e, e.fate_name)
        return outer is not None and _returned(flow, outer, depth + 1)
    return False


def _call_targets(P, fn, e) -> list:
    """Project functions a call event may run (`wrap(fd)`, `Self::wrap(fd)`, `io::wrap(fd)`,
    `self.wrap(fd)`), narrowed by the type a path names."""
    name = e.name.rsplit("::", 1)[-1]
    cands = P.flows_by_name.get(name, ())
    if e.kind == "method":
        return [c for c in cands if c[1].self_kind is not None and (fn.impl_type is None or c[1].impl_type == fn.impl_type)]
    owner = e.owner
    if owner == "Self":
        owner = fn.impl_type or ""
    if owner and owner[:1].isupper():
        return [c for c in cands if c[1].impl_type == owner and c[1].self_kind is None]
    return [c for c in cands if c[1].self_kind is None]


def fd_wraps(P, memo: dict, facts_of, fn, flow) -> dict:
    """{param index: FdWrap} for the parameters `fn` turns into a returned owner by `from_raw_fd`,
    itself or through project helpers (memoised per function; cycles stop the search)."""
    key = id(flow)
    if key in memo:
        return memo[key]
    memo[key] = {}  # in progress: a recursive call finds nothing
    out: dict = {}
    if fn.name == "from_raw_fd" or fn.impl_trait == "Drop":
        return out
    names = _value_params(fn)
    ptypes = {p.name: p.type for p in fn.params if p.name}
    for e in flow.events:
        if e.closure >= 0 or not e.args:
            continue
        if e.kind == "from_raw_fd":
            field = e.fate_name if e.fate == "field" else ""
            hits = [(0, e.owner or "File", e.span, facts_of(flow).path, (), field)]
        elif e.kind == "call" or (e.kind == "method" and e.recv == "self"):
            hits = []
            targets = _call_targets(P, fn, e)
            if not targets:
                continue
            sums = [fd_wraps(P, memo, facts_of, t[1], t[2]) for t in targets]
            for j, w in sums[0].items():
                if all(j in s for s in sums[1:]) and len(w.chain) < _MAX_CHAIN:
                    hits.append((j, w.owner, w.site, w.path, w.chain, w.field))
        else:
            continue
        for j, owner, site, path, chain, field in hits:
            if j >= len(e.args) or _owner_released(flow, e) or not _returned(flow, e):
                continue
            src = _fd_origin(flow, e.args[j], e.start)
            if src not in names or src in out:
                continue
            ptype = ptypes.get(src, "")
            if any(t in ptype for t in FD_NEUTRAL_TYPES) or ptype.startswith("&"):
                continue
            out[names.index(src)] = FdWrap(names.index(src), src, owner, site, path, (fn,) + chain, field)
    memo[key] = out
    return out


def _facts_index(index) -> dict:
    """id(flow) -> the file facts it belongs to."""
    def build(ix):
        m = {}
        for f in ix.files:
            if f.rust is not None:
                for fl in f.rust.flows:
                    m[id(fl)] = f
        return m
    return index.memo("ll107.flow_files", build)


def _borrowed_origin(P, fn, flow, params: dict, arg: str, at: int):
    """(the fd's text, who still owns it) when `arg` is an fd the function only borrows: a
    `holder.as_raw_fd()`, a field of a borrowed struct (also through a `let`), or a getter that
    returns one. None otherwise."""
    src = _fd_origin(flow, arg, at)
    if src.endswith(".as_raw_fd()") and "(" not in src[:-len(".as_raw_fd()")]:
        return src, src[:-len(".as_raw_fd()")]
    fm = _FIELD.fullmatch(src)
    if fm:
        holder = fm.group(1)
        if _borrowed_holder(fn, params, holder) and not (fn.self_kind == "mut" and _field_assigned(flow, src)):
            return src, holder
        return None
    if P is not None and _borrowing_getter(P, fn, params, src) is not None:
        return src, _GETTER.fullmatch(src).group(1)
    return None


def _with_site(head: str, helper: str, at: str) -> str:
    """The headline with where the helper's from_raw_fd is, when that still fits in a headline
    (the why names it anyway)."""
    longer = f"{head} (from_raw_fd in `{helper}`, {at})."
    return longer if len(longer) <= HEADLINE_MAX else head + "."


def _check_helper_calls(P, memo, facts_of, here: str, fn, flow, params: dict, e) -> Iterator[Finding]:
    """A call of a project function that returns an owner built from one of its fd parameters
    (`wrap(fd)` with `fn wrap(fd: RawFd) -> File { unsafe { File::from_raw_fd(fd) } }`), given an
    fd this function does not own."""
    if _owner_released(flow, e):
        return
    targets = _call_targets(P, fn, e)
    if not targets:
        return
    sums = [fd_wraps(P, memo, facts_of, t[1], t[2]) for t in targets]
    for j, w in sorted(sums[0].items()):
        if j >= len(e.args) or not all(j in s for s in sums[1:]):
            continue
        arg = e.args[j]
        helper, last = w.chain[0], w.chain[-1]
        call = f"{e.name}({', '.join(e.args)})" if e.kind == "call" else f"self.{e.name}({', '.join(e.args)})"
        where = f"`{w.owner}::from_raw_fd` at {w.path}:{w.site.start_row + 1}"
        at = f"line {w.site.start_row + 1}" if w.path == here else f"{w.path.rsplit('/', 1)[-1]}:{w.site.start_row + 1}"
        if len(w.chain) == 1:
            how = f"`{helper.name}` builds it from its parameter `{w.pname}` with {where}"
        else:
            path = " -> ".join(f"`{f.name}`" for f in w.chain)
            how = f"`{helper.name}` passes its parameter `{w.pname}` down ({path}) and `{last.name}` builds it with {where}"
        if w.field:
            how += f", into the field `{w.field}` of the value it returns"
        related = (Related(w.site, f"`{last.name}` wraps its fd parameter in a `{w.owner}` here", w.path),)
        origin = _borrowed_origin(P, fn, flow, params, arg, e.start)
        if origin is not None:
            src, holder = origin
            via = f" (here `{arg}`, copied from `{src}`)" if src != arg else ""
            msg = f"`{call}` makes a `{w.owner}` that owns `{src}`, which `{holder}` still owns"
            msg = _with_site(msg, last.name, at)
            why = (f"{how}{via}: dropping that `{w.owner}` closes the fd under `{holder}`, which keeps "
                   "using (and later closes) it.")
            yield Finding("LL107", msg, e.span, related, why=why, fix=_borrow_fix(arg, w.owner))
            continue
        root, is_param = rc.root_of(flow, fn, arg, e.start)
        src = _fd_origin(flow, arg, e.start)
        if not (is_param and root in params and src == root):
            continue
        ptype = params[root].type
        if any(t in ptype for t in FD_NEUTRAL_TYPES) or ptype.startswith("&"):
            continue
        if fn.is_unsafe and fn.safety_doc:
            continue  # its `# Safety` contract is the caller's to keep (ownership may be handed over)
        look = _keyed_lookup(flow, root)
        if look is not None:
            msg = f"`{call}` makes a `{w.owner}` that owns the caller's fd `{arg}`, kept by {rc.fn_label(fn)}"
            msg = _with_site(msg, last.name, at)
            why = (f"{how}. {rc._cap(rc.fn_label(fn))} looks "
                   f"`{arg}` up in `{look.recv}` first, so callers keep the fd and come back with it; when the kept "
                   f"`{w.owner}` is dropped it closes the fd under them (or a reused fd number).")
            yield Finding("LL107", msg, e.span,
                          related + (Related(look.span, f"looked up by the fd `{arg}` here: the caller keeps it"),),
                          why=why, fix=f"Keep a `dup` of it, or store `ManuallyDrop<{w.owner}>` / `BorrowedFd`.")
        elif not _owner_escapes(flow, e, w.field or None):
            msg = f"`{call}` makes a `{w.owner}` that closes the caller's fd `{arg}` when {rc.fn_label(fn)} returns"
            msg = _with_site(msg, last.name, at)
            why = (f"{how}; the `{w.owner}` is dropped at "
                   f"the end of {rc.fn_label(fn)}, closing an fd this function never owned.")
            yield Finding("LL107", msg, e.span, related, why=why,
                          fix=f"Pass `BorrowedFd` to the helper, wrap its result in `ManuallyDrop`, or take an `OwnedFd` parameter.")


def check_rust(facts, index) -> Iterator[Finding]:
    rust = facts.rust
    if rust is None:
        return
    P = rc.project(index) if index is not None else None
    files = _facts_index(index) if index is not None else {}
    # Summaries are memoised by flow identity for the flows the index holds (alive for the whole
    # run); a file the index does not hold gets its own memo.
    own = bool(rust.flows) and all(id(fl) in files for fl in rust.flows)
    memo = index.memo("ll107.fd_wraps", lambda _ix: {}) if own else {}

    def facts_of(fl):
        return files.get(id(fl), facts)
    for flow, fn in rust.flows_with_functions():
        if fn.impl_trait == "Drop":
            continue
        params = {p.name: p for p in fn.params if p.name}
        for e in flow.events:
            if e.kind == "from_raw_fd" and e.args:
                if fn.name == "from_raw_fd":
                    continue  # implementing FromRawFd: taking ownership is the contract
                arg = e.args[0]
                owner = e.owner or "the new owner"
                if _owner_released(flow, e):
                    continue
                src = _fd_origin(flow, arg, e.start)
                via = f" (`{arg}` is copied from `{src}`)" if src != arg else ""
                if src.endswith(".as_raw_fd()") and "(" not in src[:-len(".as_raw_fd()")]:
                    holder = src[:-len(".as_raw_fd()")]
                    msg = f"`{owner}::from_raw_fd({arg})` makes a second owner of the fd that `{holder}` still owns."
                    why = (f"When the `{owner}` is dropped it closes the fd under `{holder}`{via} (and `{holder}` "
                           "closes it again later).")
                    fix = f"Use `{holder}.as_fd()` / `BorrowedFd`, `try_clone()`, or wrap the new owner in `ManuallyDrop`."
                    yield Finding("LL107", msg, e.span, why=why, fix=fix)
                    continue
                fm = _FIELD.fullmatch(src)
                if fm:
                    holder = fm.group(1)
                    if _borrowed_holder(fn, params, holder) and not (fn.self_kind == "mut" and _field_assigned(flow, src)):
                        msg = f"`{owner}::from_raw_fd({arg})` takes ownership of an fd that the borrowed `{holder}` still holds."
                        why = (f"The fd is `{src}`{via}; dropping the `{owner}` closes it while `{holder}` keeps using "
                               "(and later closes) it.")
                        fix = _borrow_fix(arg, owner)
                        yield Finding("LL107", msg, e.span, why=why, fix=fix)
                    continue
                getter = _borrowing_getter(P, fn, params, src) if P is not None else None
                if getter is not None:
                    holder = _GETTER.fullmatch(src).group(1)
                    msg = f"`{owner}::from_raw_fd({arg})` takes ownership of the fd `{src}` returns, which `{holder}` still owns."
                    why = (f"{rc._cap(rc.fn_label(getter))} returns a field of the borrowed `{holder}`: dropping the "
                           f"`{owner}` closes the fd under `{holder}`.")
                    fix = _borrow_fix(arg, owner)
                    yield Finding("LL107", msg, e.span,
                                  (Related(getter.name_span, f"`{getter.name}` returns a field of `{holder}`"),),
                                  why=why, fix=fix)
                    continue
                root, is_param = rc.root_of(flow, fn, arg, e.start)
                if is_param and root in params and src == root:
                    ptype = params[root].type
                    if any(t in ptype for t in FD_NEUTRAL_TYPES) or ptype.startswith("&"):
                        continue
                    if not _owner_escapes(flow, e):
                        msg = f"`{owner}::from_raw_fd({arg})` closes the caller's fd `{arg}` when {rc.fn_label(fn)} returns."
                        why = (f"The `{owner}` is dropped at the end of {rc.fn_label(fn)}, closing an fd this function "
                               "never owned; the caller's next use (or close) hits a closed or reused descriptor.")
                        fix = (f"Borrow it with `BorrowedFd::borrow_raw({arg})`, wrap the `{owner}` in `ManuallyDrop`, "
                               "or take an `OwnedFd` parameter.")
                        yield Finding("LL107", msg, e.span, why=why, fix=fix)
                        continue
                    look = _keyed_lookup(flow, root)
                    if look is not None:
                        msg = f"`{owner}::from_raw_fd({arg})` caches an owner of the caller's fd `{arg}`."
                        why = (f"{rc._cap(rc.fn_label(fn))} looks `{arg}` up in `{look.recv}` first, so callers keep "
                               f"the fd and come back with it; when the cached `{owner}` is dropped it closes the fd "
                               "under them (or a reused fd number).")
                        fix = f"Cache a `dup` of it, or store `ManuallyDrop<{owner}>` / `BorrowedFd`."
                        yield Finding("LL107", msg, e.span,
                                      (Related(look.span, f"looked up by the fd `{arg}` here: the caller keeps it"),),
                                      why=why, fix=fix)
            elif e.kind in ("call", "method") and e.args and P is not None and (e.kind == "call" or e.recv == "self"):
                yield from _check_helper_calls(P, memo, facts_of, facts.path, fn, flow, params, e)
            elif e.kind == "from_raw" and e.owner == "Box" and e.args:
                if _owner_released(flow, e):
                    continue
                arg = e.args[0]
                root, is_param = rc.root_of(flow, fn, arg, e.start)
                ptype = params[root].type.replace(" ", "") if root in params else ""
                reason = ""
                if root == "self" and fn.self_kind in ("ref", "mut"):
                    if re.search(r"\.as_(?:mut_)?ptr\(\)", arg) and not re.search(r"\b(?:ManuallyDrop|Box|into_raw)\b", arg):
                        holder = arg.split(".as_", 1)[0]
                        # `let e = Box::from_raw(self.tail.as_ptr()); self.tail = ...;`: a linked
                        # structure handing a node over, the field moved on to the next one.
                        if not _field_assigned(flow, holder, e.start):
                            reason = (f"the pointer comes from `{holder}`, a buffer `self` owns and will free again "
                                      "when it is dropped")
                elif is_param and ptype.startswith("&") and re.fullmatch(
                        rf"\(?(?:&mut |&|\*)*{re.escape(root)}\)?(?:\s*as\s*\*(?:const|mut)\s*[^()]*?)*(?:\.cast(?:_mut)?\(\))?", arg):
                    reason = f"`{root}` is a borrowed `{ptype}`: its owner frees that memory again"
                elif is_param and (".as_ptr()" in arg or ".as_mut_ptr()" in arg) and ptype.startswith(("&", "Vec", "[")):
                    reason = f"the pointer comes from `{root}`'s own buffer, which its owner frees again"
                if reason:
                    msg = f"`Box::from_raw({arg})` in {rc.fn_label(fn)} claims ownership of memory it does not own."
                    fix = "Only pass pointers that came from `Box::into_raw`, or clone the value into a new `Box` instead."
                    yield Finding("LL107", msg, e.span, why=rc._cap(reason) + ".", fix=fix)
