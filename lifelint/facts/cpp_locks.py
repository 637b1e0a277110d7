"""Lock regions inside a C++ function: where each lock is taken, which mutex, and where it
is released (the end of the guard's scope, an explicit `unlock()`, or the function's end).

RAII guards are recognised by type (std/boost/absl/Qt guards plus `cpp.lock-types`), in every
shape tree-sitter gives them: `std::lock_guard<std::mutex> g(m);` parses as a function
declaration (the most vexing parse), `std::scoped_lock g{a, b};` as an initializer list,
`auto g = std::unique_lock(m);` as a call. A project's own guard classes count when named like
one (`scoped_lock_t l(m_sync);`, `MutexLock l(&mu_);`). Bare `m.lock(); ... m.unlock();` pairs
count too, in Google spelling (`mu_.Lock()`), as do `if (m.try_lock()) {...}` and "the caller
holds it" assertions (`mu_.AssertHeld();`, `AssertLockHeld(cs);`), held to the function's end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lifelint.facts.common import captures, text
from lifelint.model import Span

GUARD_TYPES = frozenset({
    "lock_guard", "unique_lock", "scoped_lock", "shared_lock", "upgrade_lock", "upgrade_to_unique_lock",
    "MutexLock", "ReaderMutexLock", "WriterMutexLock", "ReleasableMutexLock", "MutexLockMaybe",
    "QMutexLocker", "QReadLocker", "QWriteLocker", "AutoLock", "ScopedLock", "SpinLockGuard",
    "scoped_try_lock", "lock_type", "scoped_lock_type", "mutex_lock", "lock_t", "guard_t",
    "strict_lock", "nested_strict_lock", "shared_lock_guard", "unique_lock_guard", "MutexGuard",
    "ReadLock", "WriteLock", "ReadLocker", "WriteLocker", "SpinLockHolder", "lock_holder",
})
SHARED_GUARDS = frozenset({"shared_lock", "ReaderMutexLock", "QReadLocker", "upgrade_lock"})
NOT_HELD_TAGS = ("defer_lock", "try_to_lock")
TAG_ARGS = ("defer_lock", "adopt_lock", "try_to_lock")
# Nested functions: a guard in a lambda is still a region, but marked so flow rules can tell.
LAMBDA = "lambda_expression"


@dataclass(slots=True)
class LockRegion:
    guard: str | None  # guard variable, None for a bare `m.lock()`
    guard_type: str  # as written, "" for a bare lock() call
    mutexes: list[str]  # normalised: "m_mutex", "ptr->mtx", "g_lock" (no `this->`, `&`, `*`)
    shared: bool  # a reader lock
    span: Span  # the guard declaration or the lock() call
    start_byte: int  # held from here ...
    end_byte: int  # ... to here (exclusive)
    end_span: Span  # the `}` closing the scope, the unlock() call, or the function's last `}`
    end_kind: str  # "scope", "unlock", "function"
    in_lambda: bool = False
    mutex_spans: list[Span] = field(default_factory=list)

    def holds(self, byte: int) -> bool:
        return self.start_byte <= byte < self.end_byte


def strip_wrapping(e: str) -> str:
    """`*(&m)` -> `m`: leading `*`, `&`, `(` and the `)` closing them; a call's `()` stays
    (`DataGuard()`, `head->mu()`)."""
    e = e.lstrip("*&( ")
    while e.endswith(")") and e.count(")") > e.count("("):
        e = e[:-1].rstrip()
    return e


def normalise_mutex(expr: str) -> str:
    """`&this->m_mutex`, `(*this).m`, `*(p->mtx)` -> `m_mutex`, `m`, `p->mtx`."""
    e = expr.replace(" ", "")
    while True:
        if e.startswith("(*this)."):
            e = e[8:]
        elif e.startswith("this->"):
            e = e[6:]
        elif e[:1] in ("*", "&", "("):
            e = e[1:]
        else:
            break
    return strip_wrapping(e)


def _last_name(type_node) -> str:
    """`std::lock_guard<std::mutex>` -> "lock_guard"; `boost::mutex::scoped_lock` -> "scoped_lock"."""
    t = text(type_node).split("<", 1)[0]
    return t.replace(" ", "").split("::")[-1]


def _enclosing_scope(node):
    p = node.parent
    while p is not None and p.type not in ("compound_statement", "function_definition", LAMBDA):
        p = p.parent
    return p


def _scope_end(scope) -> tuple[int, Span]:
    last = scope.children[-1] if scope is not None and scope.children else scope
    return last.start_byte, Span.of(last)


def _inside_lambda(node, fn_node) -> bool:
    p = node.parent
    while p is not None and p != fn_node:
        if p.type == LAMBDA:
            return True
        p = p.parent
    return False


def _guard_decl(decl, guard_types: frozenset[str]):
    """(guard name, guard type text, [mutex arg nodes], tags) for a guard declaration, else None."""
    ty = decl.child_by_field_name("type")
    d = decl.child_by_field_name("declarator")
    if ty is None or d is None:
        return None
    tname = _last_name(ty)
    args: list = []
    name = None
    by_name = tname not in guard_types and _GUARD_NAMED.fullmatch(tname) is not None
    if tname in guard_types or by_name:
        if d.type == "function_declarator":  # most vexing parse: arguments look like parameters
            name = text(d.child_by_field_name("declarator"))
            params = d.child_by_field_name("parameters")
            for p in params.named_children if params is not None else []:
                args.append(p)
        elif d.type == "init_declarator":
            name = text(d.child_by_field_name("declarator"))
            v = d.child_by_field_name("value")
            if v is not None:
                args.extend(v.named_children if v.type in ("argument_list", "initializer_list") else [v])
        elif d.type == "identifier":
            return None  # default-constructed guard holds nothing
        if by_name and not (args and all(_lockable(a) for a in args)):
            return None  # a project's own guard names the mutex it takes: `scoped_lock_t l(m_sync);`
        return (name, text(ty), args) if name else None
    # auto g = std::unique_lock(m);  /  auto g = std::lock_guard<std::mutex>{m};
    if d.type == "init_declarator":
        v = d.child_by_field_name("value")
        if v is not None and v.type in ("call_expression", "compound_literal_expression"):
            fn = v.child_by_field_name("function") or v.child_by_field_name("type")
            if fn is not None and _last_name(fn) in guard_types:
                a = v.child_by_field_name("arguments") or v.child_by_field_name("value")
                return text(d.child_by_field_name("declarator")), text(fn), list(a.named_children) if a is not None else []
    return None


# A project's own RAII guard, recognised by how such classes are named (zmq `scoped_lock_t`,
# leveldb `MutexLock`, Chromium `AutoLock`, `SpinLockGuard`...) when it is constructed from a
# variable, a member or its address. A mutex class itself is default-constructed, and a scope
# guard (`ScopeGuard g([&]{...})`) takes a lambda, so neither is taken for a guard.
_GUARD_NAMED = re.compile(
    r"(?:(?:scoped|auto|unique|shared|exclusive|spin|rw|read|write|reader|writer|mutex|critical_section)_)?"
    r"(?:lock|locker|guard|lock_guard|lock_holder)(?:_t|_type)?"
    r"|(?:Scoped|Auto|Unique|Shared|Exclusive|Spin|RW|Read|Write|Reader|Writer|Mutex|CriticalSection)?"
    r"(?:Lock|Locker|Guard|LockGuard|LockHolder)"
    # ... with any prefix when the name says mutex + lock (rocksdb `InstrumentedMutexLock`)
    r"|[A-Z]\w*(?:MutexLock|MutexGuard|LockGuard|Locker|LockHolder|ReadLock|WriteLock|ReaderLock|WriterLock)"
    r"|[a-z]\w*_(?:mutex_lock|lock_guard|scoped_lock|lock_holder)(?:_t|_type)?")
_LOCKABLE_ARGS = frozenset({"identifier", "field_expression", "pointer_expression", "qualified_identifier",
                            "this", "subscript_expression", "parenthesized_expression"})


def _lockable(arg) -> bool:
    """An argument that can name a mutex; in the most vexing parse it is a "parameter" whose
    type is the mutex's name (`scoped_lock_t l(m_sync);`)."""
    if arg.type == "parameter_declaration":
        return arg.named_child_count == 1 and arg.named_children[0].type in ("type_identifier", "qualified_identifier")
    return arg.type in _LOCKABLE_ARGS


def _mutex_like(name: str) -> bool:
    n = name.lower()
    return any(k in n for k in ("mutex", "mtx", "lock", "mu_", "_mu", "cs_", "critical")) or n in ("mu", "m")


# Declarations (guards) and lock/unlock member calls anywhere in a body, found in C.
_LOCK_EVENTS = """
(declaration) @decl
(call_expression
  function: (field_expression field: (field_identifier) @method
    (#any-of? @method "lock" "unlock" "release" "lock_shared" "unlock_shared" "try_lock"
                      "Lock" "Unlock" "TryLock" "ReaderLock" "ReaderUnlock" "WriterLock" "WriterUnlock"
                      "LockWhen" "ReaderLockWhen" "WriterLockWhen"
                      "AssertHeld" "AssertReaderHeld" "AssertAcquired" "assert_held" "assertHeld"))) @call
(call_expression
  function: (identifier) @c_lock_fn
    (#any-of? @c_lock_fn
      "pthread_mutex_lock" "pthread_mutex_unlock" "pthread_spin_lock" "pthread_spin_unlock" "pthread_rwlock_wrlock"
      "pthread_rwlock_rdlock" "pthread_rwlock_unlock" "mtx_lock" "mtx_unlock" "gpr_mu_lock" "gpr_mu_unlock"
      "EnterCriticalSection" "LeaveCriticalSection" "AcquireSRWLockExclusive" "ReleaseSRWLockExclusive"
      "AcquireSRWLockShared" "ReleaseSRWLockShared" "uv_mutex_lock" "uv_mutex_unlock" "uv_rwlock_wrlock"
      "uv_rwlock_rdlock" "uv_rwlock_wrunlock" "uv_rwlock_rdunlock" "g_mutex_lock" "g_mutex_unlock" "g_rec_mutex_lock"
      "g_rec_mutex_unlock" "SDL_LockMutex" "SDL_UnlockMutex" "apr_thread_mutex_lock" "apr_thread_mutex_unlock"
      "os_unfair_lock_lock" "os_unfair_lock_unlock")
  arguments: (argument_list . (_) @c_lock_arg)) @c_lock_call
(call_expression
  function: (identifier) @assert_fn
    (#any-of? @assert_fn "AssertLockHeld" "lockdep_assert_held" "LOCK_ASSERT_HELD")
  arguments: (argument_list . (_) @asserted .)) @assert_call
"""
# "The caller holds this lock" assertions (absl/leveldb `mu.AssertHeld()`, Chromium
# `lock.AssertAcquired()`, Bitcoin `AssertLockHeld(cs)`, Linux `lockdep_assert_held(&m)`): the
# lock is held from there to the end of the function, as if taken there.
# C and platform lock functions, by what they do to the mutex they are given.
_C_LOCK_FUNCTIONS = {
    **dict.fromkeys(("pthread_mutex_lock", "pthread_spin_lock", "pthread_rwlock_wrlock", "mtx_lock", "gpr_mu_lock",
                     "EnterCriticalSection", "AcquireSRWLockExclusive", "uv_mutex_lock", "uv_rwlock_wrlock", "g_mutex_lock",
                     "g_rec_mutex_lock", "SDL_LockMutex", "apr_thread_mutex_lock", "os_unfair_lock_lock"), "lock"),
    **dict.fromkeys(("pthread_rwlock_rdlock", "AcquireSRWLockShared", "uv_rwlock_rdlock"), "lock_shared"),
    **dict.fromkeys(("pthread_mutex_unlock", "pthread_spin_unlock", "pthread_rwlock_unlock", "mtx_unlock", "gpr_mu_unlock",
                     "LeaveCriticalSection", "ReleaseSRWLockExclusive", "uv_mutex_unlock", "uv_rwlock_wrunlock",
                     "g_mutex_unlock", "g_rec_mutex_unlock", "SDL_UnlockMutex", "apr_thread_mutex_unlock",
                     "os_unfair_lock_unlock"), "unlock"),
    **dict.fromkeys(("ReleaseSRWLockShared", "uv_rwlock_rdunlock"), "unlock_shared"),
}
# Google-style spellings (absl::Mutex, leveldb port::Mutex) of the same operations.
_CAPITALISED = {"Lock": "lock", "Unlock": "unlock", "TryLock": "try_lock", "ReaderLock": "lock_shared",
                "ReaderUnlock": "unlock_shared", "WriterLock": "lock", "WriterUnlock": "unlock",
                # absl: lock once the condition holds (the argument)
                "LockWhen": "lock", "WriterLockWhen": "lock", "ReaderLockWhen": "lock_shared"}
_LOCKS_WITH_ARGUMENT = frozenset({"LockWhen", "WriterLockWhen", "ReaderLockWhen"})
ASSERT_HELD_METHODS = frozenset({"AssertHeld", "AssertReaderHeld", "AssertAcquired", "assert_held", "assertHeld"})


def extract_locks(fn_node, guard_extra: list[str] | None = None) -> list[LockRegion]:
    guard_types = GUARD_TYPES | frozenset(guard_extra or ())
    body = fn_node.child_by_field_name("body")
    if body is None:
        return []
    fn_end = Span.of(body.children[-1]) if body.children else Span.of(body)
    regions: list[LockRegion] = []
    found = captures(body, "cpp", _LOCK_EVENTS)
    decls = found.get("decl", [])
    member_calls = []  # (receiver text, method, call node)
    for n in found.get("call", []):
        args = n.child_by_field_name("arguments")
        f = n.child_by_field_name("function")
        method = text(f.child_by_field_name("field"))
        if args is not None and args.named_children and method not in _LOCKS_WITH_ARGUMENT:
            continue  # `m.lock()` takes no argument; `blocker.lock(this)` is some other protocol
        member_calls.append((normalise_mutex(text(f.child_by_field_name("argument"))), _CAPITALISED.get(method, method), n))
    for decl in decls:
        g = _guard_decl(decl, guard_types)
        if g is None:
            continue
        name, type_text, args = g
        tags = [text(a) for a in args if any(t in text(a) for t in TAG_ARGS)]
        mutex_nodes = [a for a in args if not any(t in text(a) for t in TAG_ARGS)]
        mutexes = [normalise_mutex(text(a)) for a in mutex_nodes]
        scope = _enclosing_scope(decl)
        scope_end, scope_span = _scope_end(scope)
        held = not any(any(t in tag for t in NOT_HELD_TAGS) for tag in tags)
        in_lambda = _inside_lambda(decl, fn_node)
        # Explicit unlock()/lock() on the guard split its life into regions.
        events = [(c[2].start_byte, c[1], c[2]) for c in member_calls if c[0] == name and decl.end_byte <= c[2].start_byte < scope_end]
        if not held and any(tag.strip().endswith("try_to_lock") for tag in tags) and _checks_ownership(body, name):
            held = True  # `unique_lock l(m, try_to_lock); if (!l.owns_lock()) return;`: what follows holds it
        # An unlock in a branch that then leaves (`if (..) { l.unlock(); notify(); return; }`)
        # does not release the lock for the code after that branch.
        for _at, method, call in list(events):
            if method in ("unlock", "release", "unlock_shared"):
                exit_block = _exiting_block(call, scope)
                if exit_block is not None:
                    events.append((exit_block.end_byte, "relock", exit_block))
        events.sort(key=lambda e: e[0])
        start = decl.end_byte if held else None
        start_span = Span.of(decl)
        for _at, method, call in events:
            if method in ("unlock", "release", "unlock_shared") and start is not None:
                regions.append(LockRegion(name, type_text, mutexes, _last_name_text(type_text) in SHARED_GUARDS, start_span,
                                          start, call.start_byte, Span.of(call), "unlock", in_lambda, [Span.of(m) for m in mutex_nodes]))
                start = None
            elif method == "relock" and start is None:
                start, start_span = call.end_byte, Span.of(decl)
            elif method in ("lock", "lock_shared") and start is None:
                start, start_span = call.end_byte, Span.of(call)
        if start is not None:
            kind = "function" if scope is not None and scope == body else "scope"
            regions.append(LockRegion(name, type_text, mutexes, _last_name_text(type_text) in SHARED_GUARDS, start_span,
                                      start, scope_end, scope_span if kind == "scope" else fn_end, kind, in_lambda,
                                      [Span.of(m) for m in mutex_nodes]))
    # Bare m.lock(); ... m.unlock(); with the result discarded (weak_ptr::lock() keeps its result).
    guard_names = {r.guard for r in regions}
    bare = [c for c in member_calls if c[0] not in guard_names and c[2].parent is not None and c[2].parent.type == "expression_statement"]
    # `if (m.try_lock()) { ...; m.unlock(); }`: held from the test on, like a lock() there.
    bare += [(recv, "lock", call) for recv, method, call in member_calls
             if method == "try_lock" and recv not in guard_names and _tested_by_if(call)]
    asserted = {recv for recv, method, _ in member_calls if method in ASSERT_HELD_METHODS}
    bare = [(recv, "lock" if method in ASSERT_HELD_METHODS else method, call) for recv, method, call in bare]
    for call, arg in zip(found.get("assert_call", []), found.get("asserted", [])):
        if call.parent is not None and call.parent.type == "expression_statement":
            recv = normalise_mutex(text(arg))
            bare.append((recv, "lock", call))
            asserted.add(recv)
    # C-style pairs: `pthread_mutex_lock(&m); ... pthread_mutex_unlock(&m);`
    for call, fn_name, arg in zip(found.get("c_lock_call", []), found.get("c_lock_fn", []), found.get("c_lock_arg", [])):
        method = _C_LOCK_FUNCTIONS[text(fn_name)]
        if call.parent is not None and call.parent.type == "expression_statement":
            bare.append((normalise_mutex(text(arg)), method, call))
        elif method in ("lock", "lock_shared") and _if_failed_leaves(call):
            # `if (pthread_mutex_lock(&m)) throw ...;`: past the `if`, it is held.
            bare.append((normalise_mutex(text(arg)), method, call))
    by_mutex: dict[str, list] = {}
    for c in bare:
        by_mutex.setdefault(c[0], []).append(c)
    for mutex, calls in by_mutex.items():
        has_unlock = any(m in ("unlock", "unlock_shared") for _, m, _ in calls)
        if not (has_unlock or mutex in asserted or _mutex_like(mutex)):
            continue
        calls.sort(key=lambda c: c[2].start_byte)
        start = None
        start_call = None
        first = calls[0]
        if first[1] in ("unlock", "unlock_shared") and not _inside_lambda(first[2], fn_node):
            # Released before it was taken here: the caller held it (`start_thread_and_unlock()`).
            regions.append(LockRegion(None, "", [mutex], first[1] == "unlock_shared", Span.of(body), body.start_byte + 1,
                                      first[2].start_byte, Span.of(first[2]), "unlock", False, [Span.of(first[2])]))
        # As for guards: an unlock in a branch that leaves does not release it for what follows.
        events = [(c[2].start_byte, c[1], c[2]) for c in calls]
        for _at, method, call in list(events):
            if method in ("unlock", "unlock_shared"):
                exit_block = _exiting_block(call, body)
                if exit_block is not None:
                    events.append((exit_block.end_byte, "relock", exit_block))
        events.sort(key=lambda e: e[0])
        last_lock = None
        for _at, method, call in events:
            if method in ("lock", "lock_shared") and start is None:
                start, start_call = call.end_byte, call
                last_lock = call
            elif method == "relock" and start is None and last_lock is not None:
                start, start_call = call.end_byte, last_lock
            elif method in ("unlock", "unlock_shared") and start is not None:
                regions.append(LockRegion(None, "", [mutex], method == "unlock_shared", Span.of(start_call), start, call.start_byte,
                                          Span.of(call), "unlock", _inside_lambda(start_call, fn_node), [Span.of(start_call)]))
                start = None
        if start is not None:
            regions.append(LockRegion(None, "", [mutex], False, Span.of(start_call), start, fn_end.start_byte, fn_end, "function",
                                      _inside_lambda(start_call, fn_node), [Span.of(start_call)]))
    if regions and any(w in (body.text or b"") for w in (b"nlock", b"everse")):  # cheap: most bodies have no reverse guard
        regions = _cut_unlockers(regions, decls, body)
    regions.sort(key=lambda r: r.start_byte)
    return regions


_EXITS = frozenset({"return_statement", "throw_statement", "break_statement", "continue_statement", "goto_statement",
                    "co_return_statement"})


def _leaves(stmt) -> bool:
    """The statement leaves the enclosing code (return, throw, break, continue, goto), or is a
    `{...}` block whose last statement does."""
    if stmt is None:
        return False
    if stmt.type == "compound_statement":
        kids = [c for c in stmt.named_children if c.type != "comment"]
        return bool(kids) and _leaves(kids[-1])
    return stmt.type in _EXITS or (stmt.type == "expression_statement" and stmt.named_child_count > 0
                                   and stmt.named_children[0].type == "throw_expression")


def _exiting_block(call, guard_scope):
    """The `{...}` block around `call`, below the guard's own scope, when that block ends by
    leaving: code after the block never ran the call."""
    p = call.parent
    while p is not None and p != guard_scope and p.type != "compound_statement":
        if p.type == LAMBDA:
            return None
        p = p.parent
    if p is None or p == guard_scope:
        return None
    return p if _leaves(p) else None


def _if_failed_leaves(call) -> bool:
    """`if (lock(&m)) throw/return ...;` (or `!= 0`): the lock call is the `if`'s test and its
    branch leaves, so the code after the `if` runs with the lock taken."""
    p = call.parent
    while p is not None and p.type in ("parenthesized_expression", "binary_expression"):
        p = p.parent
    if p is None or p.type != "condition_clause" or p.parent is None or p.parent.type != "if_statement":
        return False
    return _leaves(p.parent.child_by_field_name("consequence"))


def _checks_ownership(body, guard: str) -> bool:
    """Whether the function tests if `guard` got its lock (`owns_lock()`, `owns()`, `if (guard)`)."""
    t = body.text or b""
    g = re.escape(guard.encode())
    return re.search(rb"\b" + g + rb"\s*\.\s*owns(?:_lock)?\s*\(|\(\s*!?\s*" + g + rb"\s*[)&|]", t) is not None


# Reverse guards: unlock in the constructor, lock again in the destructor (boost
# `pthread_mutex_scoped_unlock`, `reverse_lock`, Chromium `AutoUnlock`).
_UNLOCKER_NAMED = re.compile(r"(?i)\w*(?:scoped_?unlock|unlock_?guard|reverse_?lock|auto_?unlock|unlocker|mutex_?unlock)(?:_t|_type)?")


def _cut_unlockers(regions: list[LockRegion], decls, body) -> list[LockRegion]:
    """Take the scope of each reverse guard out of the regions holding its mutex."""
    for decl in decls:
        ty, d = decl.child_by_field_name("type"), decl.child_by_field_name("declarator")
        if ty is None or d is None or not _UNLOCKER_NAMED.fullmatch(_last_name(ty)):
            continue
        if d.type == "function_declarator":
            params = d.child_by_field_name("parameters")
            args = list(params.named_children) if params is not None else []
        elif d.type == "init_declarator" and d.child_by_field_name("value") is not None:
            v = d.child_by_field_name("value")
            args = list(v.named_children) if v.type in ("argument_list", "initializer_list") else [v]
        else:
            continue
        mutexes = {normalise_mutex(text(a)) for a in args}
        scope = _enclosing_scope(decl)
        scope_end, _ = _scope_end(scope)
        cut: list[LockRegion] = []
        for r in regions:
            if not (set(r.mutexes) & mutexes) or not (r.start_byte <= decl.start_byte < r.end_byte):
                cut.append(r)
                continue
            cut.append(LockRegion(r.guard, r.guard_type, r.mutexes, r.shared, r.span, r.start_byte, decl.start_byte,
                                  Span.of(decl), "unlock", r.in_lambda, r.mutex_spans))
            if scope_end < r.end_byte:
                cut.append(LockRegion(r.guard, r.guard_type, r.mutexes, r.shared, r.span, scope_end, r.end_byte,
                                      r.end_span, r.end_kind, r.in_lambda, r.mutex_spans))
        regions = cut
    return regions


def _tested_by_if(call) -> bool:
    """The call is the whole condition of an `if` (so its then-branch runs with the lock)."""
    p = call.parent
    while p is not None and p.type == "parenthesized_expression":
        p = p.parent
    return p is not None and p.type == "condition_clause" and p.parent is not None and p.parent.type == "if_statement"


def _last_name_text(type_text: str) -> str:
    return type_text.split("<", 1)[0].replace(" ", "").split("::")[-1]
