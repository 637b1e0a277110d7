"""A file's summary: what the project-wide passes read of a file, without its full facts.

Built in the worker right after the facts (`summarize`), cached in the facts' entry ahead of them
(lifelint.cache: `FactCache.lookup_summary`), so it can be loaded without unpickling the facts.
Plain data with names, no reference into the facts.

Read from summaries so far: a Rust file's crate, imports and modules (lifelint.rust_calls), the
type aliases (lifelint.index.ProjectIndex.resolve_alias), the lock effects a file defines and
whether it uses another file's (guards, lock macros,
acquire/release helpers: lifelint.facts.cpp_lock_effects; Rust guard helpers:
lifelint.facts.rust_flow.apply_project_guard_helpers), and the caller-held locks its
comments and annotations state (lifelint.locking). The lock index, the thread model and the
rules' project tables still read every file's function flows (benchmarks/README.md says what a
summary must add for them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class FileSummary:
    path: str  # display path, as FileFacts.path
    language: str
    # `using name = T;` / `typedef T name;`: name -> T as written (CppFacts.aliases)
    aliases: dict[str, str] = field(default_factory=dict)
    # The guard classes, lock macros and acquire/release helpers the file defines
    # (CppFacts.extra["lock_effects"]), and the caller-held locks it states
    # (CppFacts.extra["caller_locks"]); None when there are none.
    lock_effects: dict | None = None
    caller_locks: dict | None = None
    # What its function bodies use, as far as another file's lock effects go: every called name
    # (a lock macro is called like a function), the (caller's class or None, name) of calls
    # written unqualified or on `this` (how a helper is called; also (qualifier, name) for
    # `X::name()`), and the base type names of
    # declarations (a guard is declared).
    called: frozenset[str] = frozenset()
    own_calls: frozenset[tuple[str | None, str]] = frozenset()
    declared_types: frozenset[str] = frozenset()
    # Rust: the names of the functions it defines (a call by a name two files define is
    # ambiguous); its guard helpers are in `lock_effects` ({"guard_helpers": {name: (impl type
    # or None, takes self, mutex)}}), the names its bodies call in `called`.
    defined: frozenset[str] = frozenset()
    # Rust: the Cargo package it belongs to (lifelint.crates.Crate, None: none), what its `use`s
    # bring in and the modules it declares (RustFacts.uses / .modules): which crate a call's
    # path names (lifelint.rust_calls).
    crate: Any = None
    uses: tuple[tuple[str, str], ...] = ()
    modules: frozenset[str] = frozenset()


def type_base(type_text: str) -> str:
    """`const lt::Guard<M> &` -> `Guard`: the name a declaration's type is known by."""
    return type_text.split("<", 1)[0].replace("const ", "").replace("volatile ", "").strip(" &*").split("::")[-1]


def short_class(class_name: str | None) -> str | None:
    """`ns::A<T>` -> `A`: a function's class as lock-effect helpers are keyed."""
    return class_name.split("::")[-1].split("<")[0] if class_name else None


def summarize(facts) -> FileSummary:
    """The summary of a lifelint.facts.FileFacts (as extracted, before other files' lock
    effects are applied to it)."""
    out = FileSummary(facts.path, facts.language)
    if facts.rust is not None:
        return _summarize_rust(facts.rust, out, facts.crate)
    cpp = facts.cpp
    if cpp is None:
        return out
    out.aliases = dict(cpp.aliases)
    out.lock_effects = cpp.extra.get("lock_effects") or None
    out.caller_locks = cpp.extra.get("caller_locks") or None
    called: set[str] = set()
    own: set[tuple[str | None, str]] = set()
    types: set[str] = set()
    for fn in cpp.functions:
        flow = fn.flow
        if flow is None:
            continue
        cls = short_class(fn.class_name)
        for c in flow.calls:
            called.add(c.name)
            if c.receiver in (None, "this"):
                own.add((cls, c.name))
                callee = c.callee.replace(" ", "")
                if "::" in callee:  # `Spin::lock()`: a static helper of that class
                    own.add((callee.rsplit("::", 2)[-2], c.name))
        for d in flow.decls:
            types.add(type_base(d.type))
    out.called, out.own_calls, out.declared_types = frozenset(called), frozenset(own), frozenset(types)
    return out


def _summarize_rust(rust, out: FileSummary, crate=None) -> FileSummary:
    helpers = rust.extra.get("guard_helpers")
    out.lock_effects = {"guard_helpers": helpers} if helpers else None
    out.defined = frozenset(f.name for f in rust.functions)
    out.crate = crate
    out.uses = tuple(dict.fromkeys(rust.uses))
    out.modules = frozenset(rust.modules)
    called: set[str] = set()
    for flow in rust.flows:
        for e in flow.events:
            if e.kind in ("call", "method"):
                called.add(e.name.rsplit("::", 1)[-1])
    out.called = frozenset(called)
    return out
