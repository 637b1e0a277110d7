"""## What it does
Flags raw memory operations whose length or offset comes from a function parameter (directly,
through arithmetic, through `let` bindings or a `for i in 0..n` loop) with no bounds check on
that value earlier in the function:

- `slice::from_raw_parts(ptr, len)` / `from_raw_parts_mut`,
- `ptr.add(n)` / `ptr.offset(n)` / `ptr.sub(n)` (and the `byte_*` forms),
- `ptr::copy_nonoverlapping(src, dst, count)` / `ptr::copy` / `write_bytes` and the
  `copy_to_nonoverlapping` method forms,
- `vec.set_len(n)` (which must be checked against the capacity).

A check is any comparison that mentions the value (or a variable derived from it) before the
call: `if len > self.cap { return Err(..) }`, `assert!(off + len <= buf.len())`, a `match` on it,
`n.min(cap)`, `checked_add`, or a helper given the value that checks it (`self.check_range(off,
n)?`: named for a check, or able to fail the function with `?`). A `% cap` or `& mask` bounds
the value it produces (`add(seq & mask)`), not its operand: `seq` itself stays unchecked.
`debug_assert!` does not count: it is compiled out of release builds.

Lengths and offsets decoded from the data itself are traced the same way: a local read from the
bytes (`u32::from_le_bytes(hdr[0..4]..)`, `read_u32::<LE>()`, `buf.get_u32_le()`) is a header
field of a buffer, a file or a packet, and must be compared with the buffer before it sizes a
slice, a copy or a pointer offset.

Two more ways to read memory that is not there:
- `slice::from_raw_parts(v.as_ptr(), v.capacity())`: a slice that is read, over `capacity()`
  elements, covers the uninitialised tail past `len()` (the `capacity() - len()` spare-room
  idiom and `from_raw_parts_mut` for writing are not reported);
- a byte pointer (`bytes.as_ptr()` of a `[u8]` / `Vec<u8>`, a `*const u8`) moved by an offset
  and read as a wider `T` (`*(p.add(off) as *const T)`, `.read()`, `&*`), with no alignment test
  (`align_of`, `is_aligned`, `align_offset`) in the function: `read_unaligned` is the fix.

## Why is this bad?
These operations trust their length completely. A safe `pub fn read_at(&self, off: usize,
len: usize) -> &[u8]` that hands `off` and `len` to `from_raw_parts` lets any caller read past
the buffer: unsoundness reachable from safe code, and with attacker-chosen sizes a memory
disclosure or corruption. The seed 002 report (an io_uring module with "insufficient bounds checking on
buffer operations" and unchecked buffer arithmetic) is this bug in registered buffers and ring
indices.

## Example
```rust
pub fn slot(&self, index: usize) -> &[u8] {
    // SAFETY: (wrong) the caller passes a valid index
    unsafe { slice::from_raw_parts(self.base.add(index * SLOT), SLOT) }
}
```

A header field trusted the same way:
```rust
let len = u32::from_le_bytes(self.data[0..4].try_into().unwrap()) as usize;
unsafe { slice::from_raw_parts(self.data.as_ptr().add(4), len) }   // len is whatever the file says
```

## Use instead
```rust
pub fn slot(&self, index: usize) -> &[u8] {
    assert!(index < self.slots, "slot {index} out of range");
    // SAFETY: index < slots, so the slot lies inside the mapping.
    unsafe { slice::from_raw_parts(self.base.add(index * SLOT), SLOT) }
}
```

```rust
let len = u32::from_le_bytes(self.data[0..4].try_into().ok()?) as usize;
if len > self.data.len() - 4 { return None; }
let e = unsafe { (page.as_ptr().add(slot * 16) as *const Entry).read_unaligned() };
```

## Known limits
- Only values that come from this function's parameters are tracked. Lengths read from
  fields, atomics or other calls are trusted (struct invariants), and so is arithmetic on them;
  a value produced by a call that takes the parameter (`let off = self.offset_of(i)?`) is the
  callee's result and is trusted too (conversions such as `try_into`, `wrapping_*` are not).
- `unsafe fn`s that are not `extern` are skipped: their callers own the bounds contract. A
  pointer and a length that both come from the caller (`from_raw_parts(ptr, len)` with `ptr`
  and `len` parameters) are also the caller's contract and are not flagged.
- Test-only code (`#[test]`, `#[bench]`, inside `#[cfg(test)]`, and functions nested in them)
  is skipped: it has no caller outside the test harness.
- Any comparison that mentions the value counts as a check, even one against the wrong bound;
  so does any call that takes the value and is followed by `?`, and sizing the memory from the
  same value first (`Vec::with_capacity(n)`, `reserve(n)`, `Layout::array::<T>(n)` + alloc,
  `mmap(.., n, ..)` before the call).

- Header fields are recognised only when decoded with `from_*_bytes`, `read_*` or `get_*` into a
  local; a field of a struct read from the buffer (`(*hdr).len`) is trusted like any field.
- The alignment case needs positive evidence that the pointer is a byte pointer (its declared
  type, or an `as *const u8` cast); a `#[repr(packed)]` pointee (alignment 1) is not recognised,
  and any mention of alignment in the function counts as a check.

## Measured precision
Tune half of the precision ledger: before this change 0 TRUE / 2 FALSE (rust-hyper, a nightly
`#[bench]` helper restoring a buffer's own length); after it 0 findings. Issue 11's unseen code:
0 / 5 before. The header-field, capacity and alignment sub-cases (issue 12 item 7): 0 findings on
the Rust tune half (rust-parking-lot, rust-openssl, rust-hyper, rust-gnome), so no FALSE there,
but not yet measured on findings either.
"""

from __future__ import annotations

import re

from lifelint.model import Level, Precision
from lifelint.registry import Rule
from lifelint.rust_checks import IDENT, base_ident, is_whole_pointer, pointer_params, project

_SIZING = re.compile(r"^(?:reserve|reserve_exact|try_reserve|try_reserve_exact|with_capacity|"
                     r"try_with_capacity|resize|grow|alloc\w*|allocate\w*|array|new_uninit_slice|"
                     r"from_size_align\w*|mmap\w*|realloc)$")
_CALLISH = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\(|!|::)")
_SAFE_VALUE = ("len()", "capacity()", "size_of", "align_of", ".min(", "min(", "checked_", "clamp(")
# `x % n` and `x & mask` bound the value they produce, not `x`: the term and its bound are
# replaced by a literal before the rest of the expression is traced (`base + seq % cap` still
# depends on `base`; a later use of `seq` itself is still unbounded).
_BOUNDED_TERM = re.compile(r"(?:[A-Za-z_][\w.]*(?:\(\))?|\([^()]*\)|\d\w*)\s*(?:%|(?<!&)&(?![&=]))\s*"
                           r"(?:[A-Za-z_][\w.]*(?:\(\))?|\([^()]*\)|\d\w*)")
# Calls a value passes through unchanged in magnitude: conversions and unchecked arithmetic.
_TRANSPARENT_CALLS = re.compile(r"^(?:from|into|try_from|try_into|unwrap|expect|unwrap_or|unwrap_or_default|clone|"
                                r"to_owned|wrapping_\w+|saturating_\w+|overflowing_\w+|pow|abs|max|to_be|to_le|"
                                r"from_be|from_le|swap_bytes|as_\w+|to_usize|to_u\d+|to_i\d+)$")
# A helper whose name says it checks (`self.check_range(off, n)?`, `validate_len(n)`).
_CHECK_WORDS = frozenset({"check", "checked", "validate", "verify", "ensure", "assert", "bounds", "bound", "in_bounds",
                          "range", "fits", "limit"})


def _bounded_stripped(expr: str) -> str:
    prev = None
    while prev != expr:
        prev, expr = expr, _BOUNDED_TERM.sub("0", expr)
    return expr


def _through_call(value: str) -> bool:
    """`self.offset_of(idx)?`, `lookup(n)`: a value produced by a call is the callee's result
    (bounded there or not, like a field), unless the call only converts it."""
    v = value.rstrip("?;")
    m = re.search(r"(?:\.|::|^)([A-Za-z_]\w*)\((?:[^()]|\([^()]*\))*\)$", v)
    if m is None:
        return False
    return not _TRANSPARENT_CALLS.match(m.group(1))
_INT_TYPE = re.compile(r"^(?:(?:std::|core::|libc::|std::os::raw::|core::ffi::|std::ffi::)?"
                       r"(?:usize|isize|u8|u16|u32|u64|u128|i8|i16|i32|i64|i128|c_int|c_uint|c_long|c_ulong|"
                       r"c_longlong|c_ulonglong|size_t|ssize_t|off_t|off64_t|socklen_t|c_short|c_ushort))$")


# A value decoded from bytes: a header field of the buffer, a file or a packet.
_FROM_DATA = re.compile(r"(?:\bfrom_(?:le|be|ne)_bytes|\bread_[ui](?:8|16|32|64|128|size)|"
                        r"\bget_[ui](?:8|16|32|64|128)(?:_le|_ne)?)\b")
# Pointees that need no alignment: a byte-sized read at any address is aligned.
_BYTE_POINTEE = re.compile(r"^(?:(?:std::|core::)?(?:os::raw::|ffi::)?(?:u8|i8|c_char|c_uchar|c_schar|c_void|bool)|_|"
                           r"\[(?:u8|i8);[^\]]*\]|(?:[\w:]*::)?(?:MaybeUninit|Cell|UnsafeCell)<u8>|(?:[\w:]*::)?AtomicU8|"
                           r"(?:[\w:]*::)?AtomicI8|(?:[\w:]*::)?AtomicBool)$")
_BYTE_TYPE = re.compile(r"(?:\[u8\b|Vec<u8>|\*(?:const|mut) u8\b|\bBytesMut\b|\bBytes\b)")
_PTR_OF = re.compile(r"^\(?([A-Za-z_][\w.]*?)\.as_(?:mut_)?ptr\(\)\)?$")
_CAPACITY = re.compile(r"^\(?([A-Za-z_][\w.]*?)\.capacity\(\)\)?(?:as usize)?$")
_DEREF_METHODS = frozenset({"read", "read_volatile", "write", "write_volatile", "as_ref", "as_mut", "replace", "swap"})


def _value_of(flow, text: str, at: int) -> tuple[str, int]:
    """`text`, or the initialiser of the plain local it names (through up to 4 `let`s), with
    any `unsafe{..}` wrapper removed."""
    for _ in range(4):
        if not IDENT.fullmatch(text):
            break
        lc = flow.local(text, at)
        if lc is None or lc.kind != "let" or not lc.value_text:
            break
        text, at = lc.value_text, lc.span.start_byte
    if text.startswith("unsafe{") and text.endswith("}"):
        text = text[7:-1]
    return text, at


def _idents(expr: str) -> list[str]:
    """Free variables of an expression text: no fields, method names, paths or macro names."""
    out = []
    for m in IDENT.finditer(expr):
        name = m.group(0)
        s, e = m.span()
        if s > 0 and (expr[s - 1] == "'" or (expr[s - 1] == "." and expr[s - 2:s] != "..")) or expr[s - 2:s] == "::":
            continue
        rest = expr[e:e + 2]
        if rest.startswith("(") or rest.startswith("!") or rest.startswith("::"):
            continue
        if not (name[0].islower() or name[0] == "_") or name in ("as", "mut", "const", "self", "true", "false", "unsafe"):
            continue
        # `buf.len()`: the receiver of a length query is not a source
        tail = expr[e:e + 12]
        if tail.startswith((".len()", ".capacity()")):
            continue
        out.append(name)
    return out


class UncheckedRawSlice(Rule):
    code = "LL304"
    name = "unchecked-raw-slice"
    languages = ("rust",)
    level = Level.WARNING
    precision = Precision.MEDIUM
    summary = ("`from_raw_parts` / pointer `add` / `copy_nonoverlapping` / `set_len` with a length or offset "
               "taken from a parameter that is never bounds-checked.")
    tags = ("unsafe", "memory", "bounds")
    seeds = ("002",)
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        rust = facts.rust
        if rust is None:
            return
        P = project(index)
        for flow, fn in rust.flows_with_functions():
            if fn.is_unsafe and fn.abi is None:
                continue
            if fn.is_test:
                continue  # `#[test]` / `#[bench]` / `#[cfg(test)]`: no caller outside the test harness
            for e in flow.events:
                if e.kind == "raw_slice" and len(e.args) == 2 and e.name.endswith("from_raw_parts"):
                    f = self._capacity_as_length(flow, e)
                    if f is not None:
                        yield f
                elif e.kind == "ptr_cast":
                    f = self._misaligned_cast(P, flow, fn, e)
                    if f is not None:
                        yield f
            int_params = {p.name for p in fn.params
                          if p.name and p.name != "self" and _INT_TYPE.match(p.type.replace(" ", ""))}
            # locals decoded from the bytes themselves (`u32::from_le_bytes(hdr[0..4]..)`): header fields
            from_data = {lc.name: lc for lc in flow.locals if lc.kind == "let" and _FROM_DATA.search(lc.value_text)}
            if not int_params and not from_data:
                continue
            ptr_params = pointer_params(fn, P)
            for e in flow.events:
                site = self._site(e)
                if site is None:
                    continue
                what, pointers, amount = site
                chain = self._param_chain(flow, fn, amount, e.start, int_params, from_data)
                if not chain:
                    continue
                header = chain[-1] not in int_params
                # a pointer and a length that both come from the caller are the caller's contract
                if not header and what != "set_len" and pointers and all(is_whole_pointer(flow, p, e.start, params=ptr_params) for p in pointers):
                    continue
                checked, debug_only = self._checked(flow, chain, e)
                if checked:
                    continue
                if self._sized_from(flow, e, chain):
                    continue
                param = chain[-1]
                via = f" (via `{'` -> `'.join(chain[:-1])}`)" if len(chain) > 1 else ""
                against = "the vector's capacity" if what == "set_len" else "the size of the memory it points into"
                extra = " A `debug_assert!` mentions it, but that is compiled out of release builds." if debug_only else ""
                kind = 'length' if what in ('slice', 'copy', 'set_len') else 'offset'
                if header:
                    m = re.search(r"[\w:]*?" + _FROM_DATA.pattern, from_data[param].value_text)
                    decoded = f"`{m.group(0)}(..)`" if m else "a header field"
                    msg = f"`{self._label(e)}` takes its {kind} from `{param}`{via}, read from the data, with no bounds check."
                    because = (f"`{param}` is decoded from the bytes themselves ({decoded}) and never compared with "
                               f"{against} before this point: a corrupt or hostile header reads or writes out of "
                               f"bounds.{extra}")
                    fix = "Check it against the buffer's length first, or use `get(..)` / `checked_*` arithmetic."
                    yield self.finding(e.span, msg, why=because, fix=fix)
                    continue
                msg = f"`{self._label(e)}` takes its {kind} from parameter `{param}`{via} with no bounds check."
                because = (f"`{param}` is never compared with {against} before this point: a caller passing a "
                           f"larger value reads or writes out of bounds.{extra}")
                fix = "Check it first (`assert!`, or return an error when it is too large), or use `checked_*` arithmetic."
                yield self.finding(e.span, msg, why=because, fix=fix)

    def _capacity_as_length(self, flow, e):
        """`from_raw_parts(v.as_ptr(), v.capacity())`: a slice that is read covers `len..capacity`,
        memory that was never initialised."""
        ptr, at_p = _value_of(flow, e.args[0], e.start)
        cap, _ = _value_of(flow, e.args[1], e.start)
        mp, mc = _PTR_OF.match(ptr), _CAPACITY.match(cap)
        if not mp or not mc or mp.group(1) != mc.group(1):
            return None
        v = mc.group(1)
        msg = f"`{self._label(e)}` reads `{v}.capacity()` elements, past the `{v}.len()` that are initialised."
        why = "Reading the uninitialised tail is undefined behaviour (and leaks stale heap bytes)."
        fix = f"Use `{v}.len()` (or `{v}.as_slice()`); for the spare room use `{v}.spare_capacity_mut()`."
        return self.finding(e.span, msg, why=why, fix=fix)

    def _misaligned_cast(self, P, flow, fn, e):
        """`&*(bytes.as_ptr().add(off) as *const T)`: a byte address moved by a computed offset is
        read as a `T` with no alignment check (`read_unaligned` is the fix)."""
        pointee = e.name.replace("const ", "").replace("mut ", "")
        if _BYTE_POINTEE.match(pointee):
            return None
        base, offset = e.recv, e.args[0] if e.args else ""
        if not e.args:  # `p as *const T` where `p` was computed earlier
            val, _ = _value_of(flow, e.recv, e.start)
            m = re.match(r"^(.*)\.(?:add|offset|byte_add|byte_offset|wrapping_add|wrapping_offset)\((.*)\)$", val)
            if not m:
                return None
            base, offset = m.group(1), m.group(2)
        if not offset or re.fullmatch(r"0(?:usize|isize)?", offset):
            return None
        if not self._byte_pointer(P, flow, fn, base, e.start):
            return None
        if not self._dereferenced(flow, e):
            return None
        for o in flow.events:  # any alignment test in the function: `align_of`, `is_aligned`, `align_offset`
            if o.kind in ("call", "method") and "align" in o.name.lower():
                return None
        if any("align" in c.text.lower() for c in flow.checks):
            return None
        msg = f"`{base}` moved by `{offset}` is read as `{pointee}` with no alignment check."
        why = (f"`{base}` is a byte pointer: nothing checks that the address is aligned for `{pointee}`, and a "
               "misaligned typed read or reference is undefined behaviour (a fault on some targets).")
        fix = f"Use `ptr::read_unaligned`, or check `align_of::<{pointee}>()` first."
        return self.finding(e.span, msg, why=why, fix=fix)

    @staticmethod
    def _byte_pointer(P, flow, fn, base: str, at: int) -> bool:
        """Positive evidence that `base` points at bytes: `x.as_ptr()` of a `[u8]` / `Vec<u8>`, a
        `*const u8`, or a `.. as *const u8` cast."""
        base, at = _value_of(flow, base, at)
        if re.search(r"as\*(?:const|mut) u8\)?$", base):
            return True
        m = _PTR_OF.match(base)
        holder = m.group(1) if m else base
        if not re.fullmatch(r"[A-Za-z_][\w.]*", holder):
            return False
        parts = holder.split(".")
        if parts[0] == "self" and len(parts) == 2 and fn.impl_type:
            for _f, st in P.structs.get(fn.impl_type, ()):
                for fname, ftype in st.fields:
                    if fname == parts[1]:
                        return bool(_BYTE_TYPE.search(ftype))
            return False
        if len(parts) != 1:
            return False
        lc = flow.local(holder, at)
        if lc is not None:
            return bool(lc.type and _BYTE_TYPE.search(lc.type))
        for p in fn.params:
            if p.name == holder:
                return bool(_BYTE_TYPE.search(p.type))
        return False

    @staticmethod
    def _dereferenced(flow, e) -> bool:
        if e.fate == "deref":
            return True
        if e.fate == "method":
            return e.fate_name in _DEREF_METHODS
        if e.fate == "let" and IDENT.fullmatch(e.fate_name or ""):
            name = e.fate_name
            if any(n == name and b > e.start for n, b in flow.derefs):
                return True
            return any(o.start > e.start and o.kind in ("ptr_read", "ptr_write") and o.name in _DEREF_METHODS
                       and base_ident(o.recv) == name for o in flow.events)
        return False

    @staticmethod
    def _label(e) -> str:
        name = e.name.split("::")[-1]
        if e.recv:
            return f"{e.recv}.{name}({', '.join(e.args)})"[:120]
        return f"{name}({', '.join(e.args)})"[:120]

    @staticmethod
    def _site(e):
        """(what, pointer texts, amount text) for a raw memory operation event."""
        if e.kind == "raw_slice" and len(e.args) == 2:
            return "slice", [e.args[0]], e.args[1]
        if e.kind == "ptr_arith" and len(e.args) == 1:
            return "offset", [e.recv], e.args[0]
        if e.kind == "set_len" and len(e.args) == 1:
            return "set_len", [], e.args[0]
        if e.kind == "copy":
            if e.recv and len(e.args) == 2:
                return "copy", [e.recv, e.args[0]], e.args[1]
            if len(e.args) == 3:
                return "copy", [e.args[0], e.args[1]] if not e.name.endswith("write_bytes") else [e.args[0]], e.args[2]
        return None

    @staticmethod
    def _param_chain(flow, fn, amount: str, at: int, int_params: set[str], from_data=None) -> list[str]:
        """[name, ..., param] when `amount` depends on an integer parameter through lets (or on a
        local in `from_data`, decoded from the bytes themselves)."""
        if any(s in amount for s in _SAFE_VALUE):
            return []
        todo = [(n, [n], at) for n in _idents(_bounded_stripped(amount))]
        seen = set()
        while todo:
            name, chain, pos = todo.pop(0)
            if (name, pos) in seen or len(chain) > 6:
                continue
            seen.add((name, pos))
            lc = flow.local(name, pos)
            if lc is None:
                if name in int_params:
                    return chain
                continue
            if from_data and from_data.get(name) is lc and not any(s in lc.value_text for s in _SAFE_VALUE):
                return chain
            if lc.value is None or any(s in lc.value_text for s in _SAFE_VALUE) or _through_call(lc.value_text):
                continue
            for n in _idents(_bounded_stripped(lc.value_text)):
                todo.append((n, chain + [n], lc.span.start_byte))
        return []

    @staticmethod
    def _sized_from(flow, e, chain: list[str]) -> bool:
        """The memory was allocated or reserved from the same value before the call
        (`Vec::with_capacity(n)`, `self.reserve(cnt)`, `Layout::array::<T>(len)` + alloc), so
        the value cannot exceed it."""
        for o in flow.events:
            if o.start >= e.start or o.kind not in ("call", "method"):
                continue
            if not _SIZING.search(o.name.rsplit("::", 1)[-1]):
                continue
            if any(flow.uses_in(n, o.span.start_byte, o.span.end_byte) for n in chain):
                return True
        return False

    @staticmethod
    def _checked(flow, chain: list[str], e) -> tuple[bool, bool]:
        debug_only = False
        for c in flow.checks:
            if c.start >= e.span.end_byte or c.kind == "mask":
                continue  # a mask bounds its result (see _BOUNDED_TERM), not its operand
            if any(flow.uses_in(n, c.start, c.end) for n in chain):
                if c.kind == "debug_assert":
                    debug_only = True
                    continue
                return True, False
        for c in flow.conds:
            if c.cond[0] < e.start and any(flow.uses_in(n, c.cond[0], c.cond[1]) for n in chain):
                if c.kind in ("match", "guard", "if", "while", "let_else"):
                    return True, False
        # A helper that checks: it takes the value and either says so in its name
        # (`check_range(off, n)`, `validate_len(n)`) or can fail the function (`self.slot_for(n)?`).
        tries = {b for kind, b in flow.exits if kind == "?"}
        for o in flow.events:
            if o.kind not in ("call", "method") or o.span.end_byte > e.start:
                continue
            if not any(flow.uses_in(n, o.span.start_byte, o.span.end_byte) for n in chain):
                continue
            words = set(o.name.rsplit("::", 1)[-1].lower().split("_"))
            if words & _CHECK_WORDS or any(o.span.end_byte <= b <= o.span.end_byte + 2 for b in tries):
                return True, False
        return False, debug_only
