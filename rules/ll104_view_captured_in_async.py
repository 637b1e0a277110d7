"""## What it does
Flags a non-owning view captured *by value* into a callback handed to an async sink: a `span`,
`string_view`, iterator, or a raw pointer taken from a buffer (`.data()`, `.c_str()`, `&v[i]`,
`&local`). Explicit captures, init-captures (`[p = buf.data()]`) and views a default `[=]`
picks up all count. The sinks are those of LL102.

## Why is this bad?
Copying a view copies the pointer, not the bytes. The callback runs later; by then the
container the view points into may have been resized, erased or destroyed by another thread or
by the caller. In seed 000, `async_read` captured a `span` returned by the storage's `readv()` into
a posted lambda, while `async_write` and `trim()` could reallocate or erase the vector behind it.

## Example
```cpp
void disk_io::async_read(int piece, std::function<void(span<char const>)> handler) {
    span<char const> b = m_storage.readv(piece);
    post(m_ioc, [handler, b] { handler(b); });     // b points into m_storage
}
```

## Use instead
Capture an owning copy, or something that keeps the owner alive:
```cpp
std::vector<char> copy(b.begin(), b.end());
post(m_ioc, [handler, copy = std::move(copy)] { handler(copy); });
```
(`std::string(sv)` for a `string_view`, a `shared_ptr` to the buffer for large data.)

## Known limits
- Plain pointer parameters and pointers of unknown origin are not reported (too often they
  point at long-lived objects); only pointers evidently taken from a buffer (`.data()`,
  `.c_str()`, `&v[i]`) or a local are. `&m_member` points into the object itself: whether the
  object outlives the callback is LL102's question.
- Views of string literals and `constexpr` data are not reported.
- Whether the pointee really changes before the callback runs is not analysed.
"""

from __future__ import annotations

import re

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.sinks import capture_list_span, lambda_sink, waits_for_lambda

_LITERAL = re.compile(r'^\s*(?:[=({]\s*)?(?:u8|u|U|L)?R?"')
VIEW_WORDS = {"span": "a span", "string_view": "a string_view", "iterator": "an iterator", "pointer": "a raw pointer"}


def last_value(flow, di: int, before: int) -> tuple[str | None, object]:
    """The last value given to decl `di` before byte `before`: (text, span) of its assignment or initialiser."""
    d = flow.decls[di]
    val, span = d.init, d.init_span or d.span
    for a in flow.assigns:
        if a.target_decl == di and a.plain and a.span.start_byte < before and a.target == d.name:
            val, span = a.value, a.span
    return val, span


def captured_view(flow, di: int, before: int) -> tuple[str, str | None, object] | None:
    """(view kind, origin text, origin span) when decl `di` is a view worth reporting, else None."""
    d = flow.decls[di]
    if d.kind in ("static",) or "constexpr" in d.type:
        return None
    val, span = last_value(flow, di, before)
    if val is not None and _LITERAL.match(val):
        return None
    kind = d.view
    if kind is None and d.type.replace(" ", "") in ("auto", "constauto") and val:
        # `auto b = other_view;` / `[x = view]`: inherit the view-ness of a plain copy of a view
        src = flow.decl_named(val.strip().lstrip("=").strip(), before, d.scope)
        if src is not None and src != di:
            inner = captured_view(flow, src, before)
            if inner is not None:
                return inner
        return None
    if kind in ("span", "string_view", "iterator"):
        return kind, val, span
    if kind == "pointer":
        if d.kind in ("param", "lambda-param"):
            return None
        if val is not None and _borrowed_pointer(flow, val, d.scope, before):
            return kind, val, span
    return None


def _borrowed_pointer(flow, val: str, scope: int, at: int) -> bool:
    """A pointer into storage that can change or die on its own: `.data()` / `.c_str()` of
    something, `&container[i]`, or `&local`. `&m_member` points into the object itself: its
    lifetime is the object's (LL102's concern), not a buffer's."""
    v = " ".join(val.split()).lstrip("=").strip()
    if re.search(r"(?:\.|->)\s*(data|c_str)\s*\(\s*\)\s*$", v):
        return True
    if v.startswith("&") and not v.startswith("&&"):
        inner = v[1:].strip()
        if inner.endswith("]") or inner.startswith("*"):
            return True
        root = re.match(r"(\w+)", inner)
        if root:
            return flow.decl_named(root.group(1), at, scope) is not None
    return False


class ViewCapturedInAsync(Rule):
    code = "LL104"
    name = "view-captured-in-async"
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A span / string_view / pointer is copied into a callback that runs later; the bytes it points to are not."
    tags = ("correctness", "lifetime", "concurrency")
    seeds = ("000",)
    cross_file = False  # its findings and their related locations are in the file checked
    # A view taken under a lock and captured after its release is LL101's finding on the same
    # token: this one becomes a note on it.
    folds_into = "LL101"

    def check(self, facts, index):
        for fn in facts.cpp.functions:
            flow = fn.flow
            if flow is None:
                continue
            for li, L in enumerate(flow.lambdas):
                views = []  # (span, shown name, kind, origin, origin span)
                at = L.span.start_byte
                for c in L.captures:
                    if c.mode == "copy" and c.decl is not None:
                        v = captured_view(flow, c.decl, at)
                        if v:
                            views.append((c.span, c.name, *v))
                    elif c.mode == "init" and c.init is not None and c.decl is not None:
                        init = c.init.strip()
                        src = flow.decl_named(init, at, L.outer_scope)
                        if src is not None:
                            v = captured_view(flow, src, at)
                            if v:
                                views.append((c.span, f"{c.name}` (a copy of `{init}`", *v))
                        elif _borrowed_pointer(flow, init, L.outer_scope, at) and not _LITERAL.match(init):
                            views.append((c.span, c.name, "pointer", init, c.span))
                if L.default == "=":
                    explicit = {c.name for c in L.captures}
                    for di in L.outer_uses:
                        d = flow.decls[di]
                        if d.name in explicit:
                            continue
                        v = captured_view(flow, di, at)
                        if v:
                            views.append((None, d.name, *v))
                if not views:
                    continue
                sink = lambda_sink(flow, li, fn, index, self.settings)
                if sink is None or waits_for_lambda(flow, li, sink, index):
                    continue
                span, name, kind, origin, origin_span = views[0]
                if span is None:
                    span = capture_list_span(L)
                how = "by value" if views[0][0] is not None else "by value through `[=]`"
                src = f" (made from `{_short(origin)}`)" if origin else ""
                fix = {"string_view": f"`std::string({name})`", "iterator": "the element's value"}.get(
                    kind, f"`std::vector<char>({name}.begin(), {name}.end())` or a shared_ptr to the buffer")
                msg = f"`{name}` ({VIEW_WORDS[kind]}) is captured {how} by the lambda handed to {sink.what} in `{fn.name}`."
                why = (f"The callback gets a copy of the view{src}, not of the data, and what it points into can be "
                       "changed or freed before the callback runs.")
                related = [Related(sink.span, f"handed to {sink.what} here; it runs later")]
                if origin_span is not None and origin:
                    related.insert(0, Related(origin_span, f"`{name.split('`')[0]}` gets its value here"))
                yield self.finding(span, msg, related, why=why, fix=f"Capture an owning copy instead ({fix}).")


def _short(s: str) -> str:
    s = " ".join(s.split())
    return s if len(s) <= 60 else s[:57] + "..."
