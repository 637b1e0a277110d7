"""Lock regions inside a C++ function: where each lock is taken, which mutex, and where it
is released (the end of the guard's scope, an explicit `unlock()`, or the function's end).

RAII guards are recognised by type (std/boost/absl/Qt guards plus `cpp.lock-types`), in every
shape tree-sitter gives them: `std::lock_guard<std::mutex> g(m);` parses as a function
declaration (the most vexing parse), `std::scoped_lock g{a, b};` as an initializer list,
`auto g = std::unique_lock(m);` as a call. A project's own guard classes count when named like
one (`scoped_lock_t l(m_sync);`, `MutexLock l(&mu_);`). Bare `m.lock(); ... m.unlock();` pairs
count too, in Google spelling (`mu_.Lock()`), as do `if (m.try_lock()) {...}` and "the caller
holds it" assertions (`mu_.AssertHeld();`, `AssertLockHeld(cs);`), held to the function's end.
C lock APIs count by their functions (pthread, C11, Win32 critical sections and SRW locks; a
Win32 mutex handle by `WaitForSingleObject` when the same body gives it to `ReleaseMutex`, held
where the wait's compared result says it succeeded). Hand-written spin locks count by what
they do: a loop that spins until its own `test_and_set` / `exchange(true)` /
`compare_exchange(.., true)` on a flag succeeds takes the flag, `clear()` / `store(false)` on
a flag some loop of the file spins on gives it back (`spin_flags`); wrapped in `lock()` /
`unlock()` methods, they become helpers (lifelint.facts.cpp_lock_effects), also when called as
`Class::lock()` or on an object of the class (`g_spin.acquire()`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lifelint.facts.common import captures, text
from lifelint.model import Span

# Locked pointers: a guard that also points to the data it guards (`folly::Synchronized`'s
# `LockedPtr`, boost `synchronized_value`'s `strict_lock_ptr`): `v->x`, `*v` reach guarded data.
# Extended by `cpp.lock-types` like the guard types below.
LOCKED_PTR_TYPES = frozenset({
    "LockedPtr", "ConstLockedPtr", "WLockedPtr", "RLockedPtr", "ULockedPtr", "ConstWLockedPtr", "ConstRLockedPtr",
    "strict_lock_ptr", "unique_lock_ptr", "const_strict_lock_ptr", "const_unique_lock_ptr",
})
GUARD_TYPES = LOCKED_PTR_TYPES | frozenset({
    "lock_guard", "unique_lock", "scoped_lock", "shared_lock", "upgrade_lock", "upgrade_to_unique_lock",
    "MutexLock", "ReaderMutexLock", "WriterMutexLock", "ReleasableMutexLock", "MutexLockMaybe",
    "QMutexLocker", "QReadLocker", "QWriteLocker", "AutoLock", "ScopedLock", "SpinLockGuard",
    "scoped_try_lock", "lock_type", "scoped_lock_type", "mutex_lock", "lock_t", "guard_t",
    "strict_lock", "nested_strict_lock", "shared_lock_guard", "unique_lock_guard", "MutexGuard",
    "ReadLock", "WriteLock", "ReadLocker", "WriteLocker", "SpinLockHolder", "lock_holder",
})
SHARED_GUARDS = frozenset({"shared_lock", "ReaderMutexLock", "QReadLocker", "upgrade_lock", "ConstLockedPtr", "RLockedPtr",
                           "ConstRLockedPtr"})
# Methods that lock the object they are called on and return a locked pointer to its data
# (`auto v = sync.wlock();`, `sync.rlock()->x`); the value is the accessor's shared-ness.
# `lock()` is left out (`weak_ptr::lock()` returns an owner, not a guard), and so is boost's
# `synchronize()` (a common name for other things; its `strict_lock_ptr` type is known above).
# `cpp.lock-accessors` adds more (a project's `lockedState()`).
LOCK_ACCESSORS = {"wlock": False, "rlock": True, "ulock": False, "contextualLock": False, "contextualRLock": True}
# Methods that run a callback with the object locked and return what it returns
# (`sync.withWLock([&](auto& d) { ... })`); `cpp.lock-callback-methods` adds more.
LOCK_CALLBACK_METHODS = frozenset({"withWLock", "withRLock", "withULock", "withLock", "withWLockPtr", "withRLockPtr",
                                   "withULockPtr"})
# Condition-variable waits: they release the lock they are given (a guard, or the mutex itself)
# while they wait and take it again before they return.
CV_WAIT_METHODS = frozenset({"wait", "wait_for", "wait_until", "Wait", "WaitWithTimeout", "WaitWithDeadline", "TimedWait",
                             "timed_wait", "wait_while"})
# The mutex's own waits (absl `mu.Await(cond)`): the receiver is the lock released.
MUTEX_WAIT_METHODS = frozenset({"Await", "AwaitWithTimeout", "AwaitWithDeadline"})
CV_WAIT_FUNCTIONS = frozenset({"pthread_cond_wait", "pthread_cond_timedwait", "SleepConditionVariableCS",
                               "SleepConditionVariableSRW", "cnd_wait", "cnd_timedwait", "uv_cond_wait", "uv_cond_timedwait",
                               "g_cond_wait", "g_cond_wait_until", "SDL_CondWait", "SDL_CondWaitTimeout"})


def accessor_table(extra=()) -> dict[str, bool]:
    """LOCK_ACCESSORS plus the configured ones (`cpp.lock-accessors`, taken as exclusive)."""
    out = dict(LOCK_ACCESSORS)
    for a in extra or ():
        name = a.split("::")[-1].strip().rstrip("()")
        if name:
            out.setdefault(name, False)
    return out


NOT_HELD_TAGS = ("defer_lock", "try_to_lock")
TAG_ARGS = ("defer_lock", "adopt_lock", "try_to_lock")
# Nested functions: a guard in a lambda is still a region, but marked so flow rules can tell.
LAMBDA = "lambda_expression"


@dataclass(slots=True)
class LockHolder:
    """One thing that holds a lock: a guard variable, or a mutex locked and unlocked by hand.
    Where it is held is a dataflow fact (lifelint.facts.cpp_locksets), computed from `ops`."""

    guard: str | None  # guard variable, None for a bare `m.lock()`
    guard_type: str  # as written, "" for a bare lock() call
    mutexes: list[str]  # normalised: "m_mutex", "ptr->mtx", "g_lock" (no `this->`, `&`, `*`)
    shared: bool  # a reader lock
    span: Span  # the guard declaration or the first lock() call
    # "guard", "manual" (lock()/unlock() by hand), "assert" (the caller holds it), "helper" (taken
    # or released by a call to a helper: cpp_lock_effects), "param" (a guard the caller lends)
    kind: str = "guard"
    in_lambda: bool = False
    mutex_spans: list[Span] = field(default_factory=list)
    # What happens to it, in source terms (placed on the control-flow graph by cpp_locksets):
    # ("acq", byte, span) taken from byte on; ("rel", byte, span) released from byte on (a fourth
    # element "unlocker": released by a reverse guard's declaration, taken again at its scope's end);
    # ("test", start, end, when_true, span) taken on the edge where that expression is `when_true`;
    # ("scope", start, end, delta, span) released (-1) / taken again (+1) as that scope is left;
    # ("entry", span) held when the body starts (the caller took it);
    # ("wait", byte, span) released and taken again by a condition-variable wait ending at byte.
    ops: list[tuple] = field(default_factory=list)
    # A locked pointer (`auto v = sync.wlock();`): `v->x`, `*v` are the data it guards.
    points_to: bool = False

    def acquisitions(self) -> list[Span]:
        """Where it is taken (declaration, lock(), a successful try_lock())."""
        out = [op[2] for op in self.ops if op[0] == "acq"] + [op[4] for op in self.ops if op[0] == "test"]
        return out or [self.span]

    def releases(self) -> list[Span]:
        return [op[2] for op in self.ops if op[0] == "rel"]


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


def _accessor_call(v, accessors, any_name: bool = False) -> tuple[object, bool] | None:
    """(object, shared) for `obj.wlock()` / `obj->rlock()` (no arguments) with a known accessor
    (`any_name`: any method, when the declared type says it returns a locked pointer)."""
    if v is None or v.type != "call_expression":
        return None
    f, a = v.child_by_field_name("function"), v.child_by_field_name("arguments")
    if f is None or f.type != "field_expression" or (a is not None and a.named_child_count):
        return None
    name = text(f.child_by_field_name("field"))
    obj = f.child_by_field_name("argument")
    if (name not in accessors and not any_name) or obj is None:
        return None
    return obj, accessors.get(name, False)


def _empty_guard_acquired(decl, guard_types: frozenset[str], guard_acquires):
    """A guard declared empty (`spin_mutex::scoped_lock lock;`) that later acquires one mutex
    (`lock.acquire(m)` / `lock.try_acquire(m)`, TBB's shape): (name, type text, [that mutex's
    argument node], "empty"), else None. Holding nothing after its declaration, it holds the
    mutex from where an acquire takes it."""
    ty, d = decl.child_by_field_name("type"), decl.child_by_field_name("declarator")
    if ty is None or d is None or d.type != "identifier" or _last_name(ty) not in guard_types:
        return None
    name = text(d)
    mine = [(arg, call) for recv, _m, arg, call in guard_acquires if recv == name and call.start_byte > decl.end_byte]
    if not mine or len({arg for arg, _ in mine}) != 1:
        return None
    argv = [a for a in mine[0][1].child_by_field_name("arguments").named_children if a.type != "comment"]
    return name, text(ty), argv, "empty"


def _guard_decl(decl, guard_types: frozenset[str], accessors=None):
    """(guard name, guard type text, [mutex arg nodes], locked pointer: None or its shared-ness)
    for a guard declaration, else None."""
    ty = decl.child_by_field_name("type")
    d = decl.child_by_field_name("declarator")
    if ty is None or d is None:
        return None
    tname = _last_name(ty)
    args: list = []
    name = None
    accessors = LOCK_ACCESSORS if accessors is None else accessors
    by_name = tname not in guard_types and GUARD_NAMED.fullmatch(tname) is not None
    if tname in guard_types or by_name:
        ptr = None
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
            # `folly::Synchronized<T>::LockedPtr v = sync.wlock();`: the mutex is the object locked
            if len(args) == 1:
                acc = _accessor_call(args[0], accessors, tname in LOCKED_PTR_TYPES)
                if acc is not None:
                    args, ptr = [acc[0]], acc[1] or tname in SHARED_GUARDS
            if ptr is None and tname in LOCKED_PTR_TYPES:
                return None  # a locked pointer moved from another, or empty: not taken here
        elif d.type == "identifier":
            return None  # default-constructed guard holds nothing
        if by_name and not (args and all(_lockable(a) for a in args)):
            return None  # a project's own guard names the mutex it takes: `scoped_lock_t l(m_sync);`
        return (name, text(ty), args, ptr) if name else None
    # auto g = std::unique_lock(m);  /  auto g = std::lock_guard<std::mutex>{m};  /  auto v = sync.wlock();
    if d.type == "init_declarator":
        v = d.child_by_field_name("value")
        if v is not None and v.type in ("call_expression", "compound_literal_expression"):
            fn = v.child_by_field_name("function") or v.child_by_field_name("type")
            if fn is not None and _last_name(fn) in guard_types:
                a = v.child_by_field_name("arguments") or v.child_by_field_name("value")
                return text(d.child_by_field_name("declarator")), text(fn), list(a.named_children) if a is not None else [], None
            # only into `auto`: `int rc = rw.rlock();` is a status, not a locked pointer
            acc = _accessor_call(v, accessors) if tname in ("auto", "decltype(auto)") else None
            target = d.child_by_field_name("declarator")
            if acc is not None and target is not None and target.type == "identifier":
                return text(target), text(fn), [acc[0]], acc[1]
    return None


# A project's own RAII guard, recognised by how such classes are named (zmq `scoped_lock_t`,
# leveldb `MutexLock`, Chromium `AutoLock`, `SpinLockGuard`...) when it is constructed from a
# variable, a member or its address. A mutex class itself is default-constructed, and a scope
# guard (`ScopeGuard g([&]{...})`) takes a lambda, so neither is taken for a guard.
GUARD_NAMED = re.compile(
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
    # (`m_cs`, `_M_cs`: the usual name of a CRITICAL_SECTION or a mutex standing in for one)
    return any(k in n for k in ("mutex", "mtx", "lock", "mu_", "_mu", "cs_", "critical")) or n in ("mu", "m", "cs") \
        or n.endswith("_cs")


# Declarations (guards) and lock/unlock member calls anywhere in a body, found in C.
_LOCK_EVENTS = """
(declaration) @decl
(call_expression
  function: (field_expression field: (field_identifier) @method
    (#any-of? @method "lock" "unlock" "release" "lock_shared" "unlock_shared" "try_lock"
                      "Lock" "Unlock" "TryLock" "ReaderLock" "ReaderUnlock" "WriterLock" "WriterUnlock"
                      "LockWhen" "ReaderLockWhen" "WriterLockWhen" "acquire" "try_acquire"
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
      "os_unfair_lock_lock" "os_unfair_lock_unlock" "ReleaseMutex" "WaitForSingleObject" "WaitForSingleObjectEx")
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
    # Win32 mutex objects: `ReleaseMutex(h)` releases one; `WaitForSingleObject(h, ..)` waits on
    # any handle (event, thread, mutex) and takes `h` only when it is a mutex: counted only for a
    # handle the same body also gives to `ReleaseMutex`.
    "ReleaseMutex": "unlock",
    **dict.fromkeys(("WaitForSingleObject", "WaitForSingleObjectEx"), "wait_handle"),
}

# Hand-written spin locks: a loop that spins until its own atomic read-modify-write succeeds
# (`while (f.test_and_set(acquire)) pause();`, `while (f.exchange(true)) ..`, test-and-test-and-set
# `while (f.load() || f.exchange(true))`, `while (!f.compare_exchange_weak(e, true)) ..`) leaves
# holding `f`; `f.clear(release)` / `f.store(false)` gives it back. Found per file first (a
# `unlock()` that only clears the flag is known by the loop in its sibling `lock()`).
_SPIN_LOOP = re.compile(
    rb"while\s*\(\s*(?:(?P<ttas>[\w.>\-]+?)\s*(?:\.|->)\s*load\s*\([^()]*\)\s*\|\|\s*)?(?P<neg>!)?\s*"
    rb"(?P<flag>[\w.>\-]+?)\s*(?:\.|->)\s*(?P<op>test_and_set|exchange|compare_exchange_weak|compare_exchange_strong)\s*\((?P<args>[^;{}]{0,80})")


def spin_flags(data: bytes) -> frozenset[str]:
    """The atomic flags some loop of the file spins on to acquire (see `_SPIN_LOOP`)."""
    if b"test_and_set" not in data and b"exchange" not in data:
        return frozenset()
    out = set()
    for m in _SPIN_LOOP.finditer(data):
        op, neg, args = m.group("op"), bool(m.group("neg")), m.group("args").lstrip()
        if op == b"test_and_set" and not neg:
            pass
        elif op == b"exchange" and not neg and (args.startswith((b"true", b"1")) and not args[1:2].isalnum() or args.startswith(b"true")):
            pass
        elif op.startswith(b"compare_exchange") and neg and re.match(rb"[^,]+,\s*(?:true|1)\b", args):
            pass
        else:
            continue
        if m.group("ttas") and normalise_mutex(m.group("ttas").decode()) != normalise_mutex(m.group("flag").decode()):
            continue
        out.add(normalise_mutex(m.group("flag").decode("utf-8", "replace")))
    return frozenset(out)


_SPIN_EVENTS = """
(while_statement condition: (_) @cond) @loop
(do_statement condition: (_) @cond) @loop
(expression_statement
  (call_expression
    function: (field_expression argument: (_) @recv field: (field_identifier) @method
      (#any-of? @method "clear" "store"))
    arguments: (argument_list) @args) @call)
"""


def _spin_ops(body, spin: frozenset[str]) -> list[tuple]:
    """(flag, "lock" | "unlock", node) for the spin-lock loops and releases of `spin` flags."""
    found = captures(body, "cpp", _SPIN_EVENTS)
    out = []
    for loop, cond in zip(found.get("loop", []), found.get("cond", [])):
        fl = spin_flags(b"while" + (cond.text or b""))
        hit = next((f for f in fl if f in spin), None)
        if hit is not None:
            # held where the loop's test fails, the way out of the loop
            inner = cond.child_by_field_name("value") if cond.type == "condition_clause" else None
            out.append((hit, "try0", inner or cond))
    for call, recv, method, args in zip(found.get("call", []), found.get("recv", []), found.get("method", []), found.get("args", [])):
        flag = normalise_mutex(text(recv))
        if flag not in spin:
            continue
        first = args.named_children[0] if args.named_children else None
        if text(method) == "clear" or (first is not None and text(first) in ("false", "0")):
            out.append((flag, "unlock", call))
    return out
# Google-style spellings (absl::Mutex, leveldb port::Mutex) of the same operations.
_CAPITALISED = {"Lock": "lock", "Unlock": "unlock", "TryLock": "try_lock", "ReaderLock": "lock_shared",
                "ReaderUnlock": "unlock_shared", "WriterLock": "lock", "WriterUnlock": "unlock",
                # absl: lock once the condition holds (the argument)
                "LockWhen": "lock", "WriterLockWhen": "lock", "ReaderLockWhen": "lock_shared"}
_LOCKS_WITH_ARGUMENT = frozenset({"LockWhen", "WriterLockWhen", "ReaderLockWhen"})
ASSERT_HELD_METHODS = frozenset({"AssertHeld", "AssertReaderHeld", "AssertAcquired", "assert_held", "assertHeld"})


_RELEASES = frozenset({"unlock", "release", "unlock_shared"})
# Guard methods that take the mutex they are given (TBB's `scoped_lock::acquire(m)`): a take
# when it is the guard's own mutex.
_GUARD_ACQUIRES = frozenset({"acquire", "try_acquire"})
_TAKES = frozenset({"lock", "lock_shared"})
# More of the same body, found with the lock events: ownership tests of try_to_lock guards and
# std::lock(a, b) over deferred guards.
_MORE_EVENTS = """
(call_expression
  function: (field_expression argument: (_) @owns_recv field: (field_identifier) @owns_method
    (#any-of? @owns_method "owns_lock" "owns" "try_lock"))) @owns_call
(condition_clause value: (identifier) @cond_ident)
(condition_clause value: (unary_expression argument: (identifier) @cond_ident))
(condition_clause value: (parenthesized_expression (unary_expression argument: (identifier) @cond_ident)))
(call_expression
  function: [(qualified_identifier) (identifier)] @std_lock_fn
    (#any-of? @std_lock_fn "std::lock" "lock" "boost::lock")
  arguments: (argument_list) @std_lock_args) @std_lock_call
"""


_MACRO_CALLS = """
(expression_statement (call_expression function: (identifier) @m_fn arguments: (argument_list) @m_args)) @m_stmt
"""


def extract_locks(fn_node, guard_extra: list[str] | None = None, macros: dict | None = None,
                  accessors: dict[str, bool] | None = None, unlockers: frozenset[str] = frozenset(),
                  mutexes: frozenset[str] = frozenset(), spin: frozenset[str] = frozenset()) -> list[LockHolder]:
    """The lock holders of a function (lambdas inside it included), each with what happens to it.
    `macros`: the file's lock macros (lifelint.facts.cpp_lock_effects.effect_macros);
    `accessors`: methods returning a locked pointer (accessor_table()); `unlockers`: classes
    learned to unlock in their constructor and lock again in their destructor; `mutexes`: names
    known to be mutexes whatever they are called (a lock wrapper's `m_`), so a bare `m_.lock()`
    on one counts without an `unlock()` in the same body; `spin`: the file's spin-lock flags
    (`spin_flags`)."""
    guard_types = (GUARD_TYPES | frozenset(guard_extra or ())) - unlockers
    body = fn_node.child_by_field_name("body")
    if body is None:
        return []
    holders: list[LockHolder] = []
    found = captures(body, "cpp", _LOCK_EVENTS)
    decls = found.get("decl", [])
    member_calls = []  # (receiver text, method, call node)
    guard_acquires = []  # (receiver text, method, mutex argument, call node): `lock.acquire(m)`
    for n in found.get("call", []):
        args = n.child_by_field_name("arguments")
        f = n.child_by_field_name("function")
        method = text(f.child_by_field_name("field"))
        if method in _GUARD_ACQUIRES:
            argv = [a for a in args.named_children if a.type != "comment"] if args is not None else []
            if len(argv) == 1:
                guard_acquires.append((normalise_mutex(text(f.child_by_field_name("argument"))), method,
                                       normalise_mutex(text(argv[0])), n))
            continue
        if args is not None and args.named_children and method not in _LOCKS_WITH_ARGUMENT:
            continue  # `m.lock()` takes no argument; `blocker.lock(this)` is some other protocol
        member_calls.append((normalise_mutex(text(f.child_by_field_name("argument"))), _CAPITALISED.get(method, method), n))
    more = None
    owns_tested = b"owns" in (body.text or b"")
    for decl in decls:
        g = _guard_decl(decl, guard_types, accessors)
        if g is None and guard_acquires:
            g = _empty_guard_acquired(decl, guard_types, guard_acquires)
        if g is None or unlockers and _last_name_text(g[1]) in unlockers:
            continue  # (an unlocker named like a guard: `UnlockGuard`)
        name, type_text, args, ptr = g
        tags = [text(a) for a in args if any(t in text(a) for t in TAG_ARGS)]
        mutex_nodes = [a for a in args if not any(t in text(a) for t in TAG_ARGS)]
        mutexes = [normalise_mutex(text(a)) for a in mutex_nodes]
        if ptr == "empty":  # declared empty: it holds nothing until it acquires
            ptr, tags = None, ["std::defer_lock"]
        scope = _enclosing_scope(decl)
        held = not any(any(t in tag for t in NOT_HELD_TAGS) for tag in tags)
        h = LockHolder(name, type_text, mutexes, _last_name_text(type_text) in SHARED_GUARDS or bool(ptr), Span.of(decl), "guard",
                       _inside_lambda(decl, fn_node), [Span.of(m) for m in mutex_nodes], points_to=ptr is not None)
        if held:
            h.ops.append(("acq", decl.end_byte, Span.of(decl)))
        if (not held and any(tag.strip().endswith("try_to_lock") for tag in tags)) or owns_tested:
            # `if (!l.owns_lock()) l.lock();`: where the test says it owns the lock, it holds it.
            if more is None:
                more = captures(body, "cpp", _MORE_EVENTS)
            _ownership_tests(h, name, decl.end_byte, more)
        if scope is not None:
            h.ops.append(("scope", scope.start_byte, scope.end_byte, -1, _scope_end(scope)[1]))
        # Explicit unlock()/lock() on the guard, after its declaration.
        for recv, method, call in member_calls:
            if recv != name or call.start_byte < decl.end_byte or (scope is not None and call.start_byte >= scope.end_byte):
                continue
            if method in _RELEASES:
                h.ops.append(("rel", call.start_byte, Span.of(call)))
            elif method in _TAKES:
                h.ops.append(("acq", call.end_byte, Span.of(call)))
            elif method == "try_lock":
                h.ops.append(("test", call.start_byte, call.end_byte, True, Span.of(call)))
        # A scoped lock (TBB's, or any with this shape) re-taken on its own mutex after a
        # release(): `lock.acquire(m)` takes `m` again, `lock.try_acquire(m)` where it succeeds.
        for recv, method, arg, call in guard_acquires:
            if recv != name or arg not in mutexes or call.start_byte < decl.end_byte or \
                    (scope is not None and call.start_byte >= scope.end_byte):
                continue
            if method == "acquire" and call.parent is not None and call.parent.type == "expression_statement":
                h.ops.append(("acq", call.end_byte, Span.of(call)))
            elif method == "try_acquire":
                h.ops.append(("test", call.start_byte, call.end_byte, True, Span.of(call)))
        holders.append(h)
    macro_bare = []
    if macros:
        for stmt, fn_name, args in zip(*(captures(body, "cpp", _MACRO_CALLS).get(k, []) for k in ("m_stmt", "m_fn", "m_args"))):
            eff = macros.get(text(fn_name))
            if eff is None:
                continue
            kind, pi = eff
            arg_nodes = [a for a in args.named_children if a.type != "comment"]
            if pi >= len(arg_nodes):
                continue
            mutex = normalise_mutex(text(arg_nodes[pi]))
            if kind == "guard":
                scope = _enclosing_scope(stmt)
                h = LockHolder(f"<{text(fn_name)}>", text(fn_name), [mutex], False, Span.of(stmt), "guard",
                               _inside_lambda(stmt, fn_node), [Span.of(arg_nodes[pi])])
                h.ops.append(("acq", stmt.end_byte, Span.of(stmt)))
                if scope is not None:
                    h.ops.append(("scope", scope.start_byte, scope.end_byte, -1, _scope_end(scope)[1]))
                holders.append(h)
            else:
                macro_bare.append((mutex, "lock" if kind == "acq" else "unlock", stmt.named_children[0]))
    # Bare m.lock(); ... m.unlock(); with the result discarded (weak_ptr::lock() keeps its result).
    guard_names = {h.guard for h in holders}
    bare = [c for c in member_calls if c[0] not in guard_names and c[2].parent is not None and c[2].parent.type == "expression_statement"]
    # `if (m.try_lock()) { ...; m.unlock(); }`: held on the edge where the test succeeded.
    tested = [(recv, call) for recv, method, call in member_calls if method == "try_lock" and recv not in guard_names]
    asserted = {recv for recv, method, _ in member_calls if method in ASSERT_HELD_METHODS}
    bare = [(recv, "assert" if method in ASSERT_HELD_METHODS else method, call) for recv, method, call in bare]
    bare += macro_bare
    for call, arg in zip(found.get("assert_call", []), found.get("asserted", [])):
        if call.parent is not None and call.parent.type == "expression_statement":
            recv = normalise_mutex(text(arg))
            bare.append((recv, "assert", call))
            asserted.add(recv)
    # C-style pairs: `pthread_mutex_lock(&m); ... pthread_mutex_unlock(&m);`
    failed_tests = []
    for call, fn_name, arg in zip(found.get("c_lock_call", []), found.get("c_lock_fn", []), found.get("c_lock_arg", [])):
        method = _C_LOCK_FUNCTIONS[text(fn_name)]
        if method == "wait_handle":
            by_result = _wait_result_test(call, body)
            bare.append((normalise_mutex(text(arg)), *(by_result or ("wait_handle", call))))
        elif (call.parent is not None and call.parent.type == "expression_statement") or method in ("unlock", "unlock_shared"):
            # (a release is a release wherever its result goes: `if (!ReleaseMutex(m)) return 1;`)
            bare.append((normalise_mutex(text(arg)), method, call))
        elif method in _TAKES and _in_condition(call):
            # `if (pthread_mutex_lock(&m)) throw ...;`: it returns 0 when it took the lock.
            failed_tests.append((normalise_mutex(text(arg)), call))
    if spin and any(f.encode() in (body.text or b"") for f in spin):
        bare += _spin_ops(body, spin)
    by_mutex: dict[str, list] = {}
    for c in bare:
        by_mutex.setdefault(c[0], []).append(c)
    for mutex, calls in by_mutex.items():
        if any(m in ("wait_handle", "wait_ok", "wait_failed") for _, m, _ in calls):
            released = any(m == "unlock" for _, m, _ in calls)
            as_lock = {"wait_handle": "lock", "wait_ok": "try", "wait_failed": "try0"}
            calls[:] = [(r, as_lock.get(m, m), c) for r, m, c in calls if m not in as_lock or released]
    for recv, call in tested:
        by_mutex.setdefault(recv, []).append((recv, "try", call))
    for recv, call in failed_tests:
        by_mutex.setdefault(recv, []).append((recv, "try0", call))
    for mutex, calls in by_mutex.items():
        has_unlock = any(m in ("unlock", "unlock_shared") for _, m, _ in calls)
        if not calls or not (has_unlock or mutex in asserted or _mutex_like(mutex) or mutex in mutexes or mutex in spin):
            continue
        calls.sort(key=lambda c: c[2].start_byte)
        first = calls[0]
        start = next((c for c in calls if c[1] != "unlock" and c[1] != "unlock_shared"), first)
        h = LockHolder(None, "", [mutex], first[1] in ("unlock_shared", "lock_shared"), Span.of(start[2]),
                       "assert" if start[1] == "assert" else "manual", _inside_lambda(start[2], fn_node), [Span.of(start[2])])
        if first[1] in ("unlock", "unlock_shared") and not _inside_lambda(first[2], fn_node):
            # Released before it was taken here: the caller held it (`start_thread_and_unlock()`).
            h.ops.append(("entry", Span.of(body)))
        for _m, method, call in calls:
            if method in ("unlock", "unlock_shared"):
                h.ops.append(("rel", call.start_byte, Span.of(call)))
            elif method in ("lock", "lock_shared", "assert"):
                h.ops.append(("acq", call.end_byte, Span.of(call)))
            elif method == "try":
                h.ops.append(("test", call.start_byte, call.end_byte, True, Span.of(call)))
            elif method == "try0":
                h.ops.append(("test", call.start_byte, call.end_byte, False, Span.of(call)))
        holders.append(h)
    holders.extend(_lent_guards(fn_node, body, guard_types, member_calls, decls))
    if holders and any(w in (body.text or b"") for w in (b"wait", b"Wait", b"_cond_", b"CondWait", b"ConditionVariable")):
        _add_waits(holders, body)
    if holders and any(w in (body.text or b"") for w in (b"nlock", b"everse", *(u.encode() for u in unlockers))):
        _add_unlockers(holders, decls, unlockers)  # (cheap: most bodies have no reverse guard)
    if holders and b"lock" in (body.text or b""):
        if more is None:
            more = captures(body, "cpp", _MORE_EVENTS)
        _std_lock(holders, more)
    holders.sort(key=lambda h: h.span.start_byte)
    return holders


def _lent_guards(fn_node, body, guard_types, member_calls, decls) -> list[LockHolder]:
    """Guards the caller lends by reference (`void run_one(std::unique_lock<std::mutex>& lock)`):
    held on entry, released by `lock.unlock()`, taken again by `lock.lock()` or as a local object
    that was handed `&lock` is destroyed (asio's `task_cleanup` re-locks in its destructor). Their
    mutex is the caller's: `kind` "param", no mutex names."""
    d = fn_node.child_by_field_name("declarator")
    while d is not None and d.type != "function_declarator":
        d = d.child_by_field_name("declarator")
    params = d.child_by_field_name("parameters") if d is not None else None
    out: list[LockHolder] = []
    for p in params.named_children if params is not None else []:
        if p.type != "parameter_declaration":
            continue
        ty, pd = p.child_by_field_name("type"), p.child_by_field_name("declarator")
        if ty is None or pd is None or pd.type != "reference_declarator" or _last_name(ty) not in guard_types:
            continue
        name_node = next((c for c in pd.named_children if c.type == "identifier"), None)
        if name_node is None:
            continue
        name = text(name_node)
        h = LockHolder(name, text(ty), [], _last_name(ty) in SHARED_GUARDS, Span.of(p), "param")
        h.ops.append(("entry", Span.of(p)))
        for recv, method, call in member_calls:
            if recv != name:
                continue
            if method in _RELEASES:
                h.ops.append(("rel", call.start_byte, Span.of(call)))
            elif method in _TAKES:
                h.ops.append(("acq", call.end_byte, Span.of(call)))
        amp = re.compile(r"&\s*" + re.escape(name) + r"\b")
        for decl in decls:
            v = decl.child_by_field_name("declarator")
            if v is not None and amp.search(text(v)):
                scope = _enclosing_scope(decl)
                if scope is not None:
                    h.ops.append(("scope", scope.start_byte, scope.end_byte, 1, _scope_end(scope)[1]))
        out.append(h)
    return out


_WAIT_EVENTS = """
(call_expression
  function: (field_expression argument: (_) @w_recv field: (field_identifier) @w_method)
  arguments: (argument_list) @w_args) @w_call
(call_expression function: (identifier) @w_fn arguments: (argument_list) @w_fn_args) @w_fn_call
"""


def _add_waits(holders: list[LockHolder], body) -> None:
    """`cv.wait(lock, ...)`, `cv.Wait(&mu)`, `pthread_cond_wait(&c, &m)`, `mu.Await(cond)`:
    the holder of the lock handed to the wait (its guard or its mutex) is released while it
    waits and held again when it returns."""
    found = captures(body, "cpp", _WAIT_EVENTS)
    waits = []  # (call node, [names of what it releases])
    for call, recv, method, args in zip(*(found.get(k, []) for k in ("w_call", "w_recv", "w_method", "w_args"))):
        m = text(method)
        if m in CV_WAIT_METHODS and args.named_child_count:
            waits.append((call, [normalise_mutex(text(args.named_children[0]))]))
        elif m in MUTEX_WAIT_METHODS:
            waits.append((call, [normalise_mutex(text(recv))]))
    for call, fn, args in zip(*(found.get(k, []) for k in ("w_fn_call", "w_fn", "w_fn_args"))):
        if text(fn) in CV_WAIT_FUNCTIONS and args.named_child_count >= 2:
            waits.append((call, [normalise_mutex(text(args.named_children[1]))]))
    for call, names in waits:
        lam = _lambda_node(call)
        for h in holders:
            if not (h.guard in names or h.kind != "param" and set(h.mutexes) & set(names)):
                continue
            if h.span.start_byte >= call.start_byte:
                continue
            # the same body (a wait in a lambda is that lambda's), and inside the guard's scope (a
            # later guard of the same name in another block is another holder)
            if h.kind != "param" and _lambda_node_at(body, h.span) != lam:
                continue
            if any(op[0] == "scope" and op[3] < 0 and not op[1] <= call.start_byte < op[2] for op in h.ops):
                continue
            h.ops.append(("wait", call.end_byte, Span.of(call)))


def _lambda_node(node):
    """The id of the innermost lambda around `node` (None: the function's own body)."""
    p = node.parent
    while p is not None and p.type != "function_definition":
        if p.type == LAMBDA:
            return p.id
        p = p.parent
    return None


def _lambda_node_at(body, span):
    n = body.descendant_for_byte_range(span.start_byte, span.end_byte)
    return _lambda_node(n) if n is not None else None


def _ownership_tests(h: LockHolder, name: str, after: int, more) -> None:
    """`unique_lock l(m, std::try_to_lock); if (!l.owns_lock()) return;`: held where the test says so."""
    for call, recv, method in zip(more.get("owns_call", []), more.get("owns_recv", []), more.get("owns_method", [])):
        if text(recv) == name and call.start_byte >= after:
            h.ops.append(("test", call.start_byte, call.end_byte, True, Span.of(call)))
    for ident in more.get("cond_ident", []):
        if text(ident) == name and ident.start_byte >= after:
            h.ops.append(("test", ident.start_byte, ident.end_byte, True, Span.of(ident)))


def _std_lock(holders: list[LockHolder], more) -> None:
    """`std::lock(a, b)` takes every deferred guard (or mutex locked by hand) it is given."""
    for call, args in zip(more.get("std_lock_call", []), more.get("std_lock_args", [])):
        names = [normalise_mutex(text(a)) for a in args.named_children]
        if len(names) < 2:
            continue
        for h in holders:
            if (h.guard is not None and h.guard in names) or (h.kind == "manual" and h.mutexes and h.mutexes[0] in names):
                if h.span.start_byte <= call.start_byte or h.guard is None:
                    h.ops.append(("acq", call.end_byte, Span.of(call), "together"))


_WAIT_RESULTS = {"WAIT_OBJECT_0": True, "WAIT_FAILED": False, "WAIT_TIMEOUT": False, "WAIT_ABANDONED": False}


def _wait_result_test(call, body):
    """A `WaitForSingleObject` whose result is compared in a condition (`if (Wait(m, 0) ==
    WAIT_OBJECT_0)`, or `rv = Wait(m, ..); if (rv == WAIT_FAILED) return;`): ("wait_ok" |
    "wait_failed", the comparison): held where the comparison says it succeeded."""
    p = call.parent
    while p is not None and p.type == "parenthesized_expression":
        p = p.parent
    var = None
    if p is not None and p.type == "assignment_expression" and text(p.child_by_field_name("operator")) == "=":
        var = text(p.child_by_field_name("left")).strip()
    elif p is not None and p.type == "init_declarator":  # `DWORD rv = WaitForSingleObject(..);`
        var = text(p.child_by_field_name("declarator")).strip()
    cands = []
    if var is None:
        cands = [p] if p is not None and p.type == "binary_expression" else []
    else:
        cands = [b for b in captures(body, "cpp", "(binary_expression) @b").get("b", ())
                 if b.start_byte > call.end_byte and var in (text(b.child_by_field_name("left")).strip(),
                                                            text(b.child_by_field_name("right")).strip())][:1]
    for b in cands:
        op = text(b.child_by_field_name("operator"))
        sides = {text(b.child_by_field_name("left")).strip(), text(b.child_by_field_name("right")).strip()}
        const = next((k for k in sides if k in _WAIT_RESULTS), None)
        if op not in ("==", "!=") or const is None or not _in_condition(b):
            continue
        ok_when_true = _WAIT_RESULTS[const] == (op == "==")
        return ("wait_ok" if ok_when_true else "wait_failed", b)
    return None


def _in_condition(call) -> bool:
    p = call.parent
    while p is not None and p.type in ("parenthesized_expression", "binary_expression", "unary_expression"):
        p = p.parent
    return p is not None and p.type == "condition_clause"


# Reverse guards: unlock in the constructor, lock again in the destructor (boost
# `pthread_mutex_scoped_unlock`, `reverse_lock`, Chromium `AutoUnlock`).
_UNLOCKER_NAMED = re.compile(r"(?i)\w*(?:scoped_?unlock|unlock_?guard|reverse_?lock|auto_?unlock|unlocker|mutex_?unlock)(?:_t|_type)?")


def _add_unlockers(holders: list[LockHolder], decls, unlockers: frozenset[str] = frozenset()) -> None:
    """A reverse guard (named like one, or a class of the scan that unlocks in its constructor
    and locks in its destructor: `unlockers`) releases the holders of its mutex where it is
    declared and takes them again as its scope is left."""
    for decl in decls:
        ty, d = decl.child_by_field_name("type"), decl.child_by_field_name("declarator")
        if ty is None or d is None or not (_last_name(ty) in unlockers or _UNLOCKER_NAMED.fullmatch(_last_name(ty))):
            continue
        if d.type == "function_declarator":
            params = d.child_by_field_name("parameters")
            args = list(params.named_children) if params is not None else []
        elif d.type == "init_declarator" and d.child_by_field_name("value") is not None:
            v = d.child_by_field_name("value")
            args = list(v.named_children) if v.type in ("argument_list", "initializer_list") else [v]
        else:
            continue
        names = {normalise_mutex(text(a)) for a in args}
        scope = _enclosing_scope(decl)
        for h in holders:
            if not (set(h.mutexes) & names or (h.guard is not None and h.guard in names)):
                continue
            if h.span.start_byte > decl.start_byte:
                continue
            h.ops.append(("rel", decl.start_byte, Span.of(decl), "unlocker"))
            if scope is not None:
                h.ops.append(("scope", scope.start_byte, scope.end_byte, 1, _scope_end(scope)[1]))


def _last_name_text(type_text: str) -> str:
    return type_text.split("<", 1)[0].replace(" ", "").split("::")[-1]
