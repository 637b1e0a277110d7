"""Lock facts across functions, computed once per project (`locking_index(index)`).

Built on the per-file facts: `Function.locks` (lock regions) and `Function.flow` (uses, calls,
lambdas, each with the regions holding at that point). This module adds what no single function
knows:

- which lock a region takes, resolved to a *lock key*: a field of the function's class
  (`"ram_disk_io::m_mutex"`, base classes included), a static member, a global
  (`"::g_registry_mutex"`; file-static globals are keyed by file), a field of another object
  whose declared type is known (`rhs.m_mutex` in `session_settings` -> `session_settings::m_mutex`),
  or a function-local key when it is none of these;
- which functions a call can reach: unqualified calls inside a method go to the class (and its
  bases), `this->f()`, `obj.f()` / `p->f()` / `m_items[i]->f()` go to the declared type of the
  receiver (smart pointers and containers unwrapped), other unqualified calls to free functions of
  that name. Methods declared in a header and defined in a .cpp are found in every file;
- the locks a function's callers always hold when they call it (`entry` locks: intersection over
  call sites, iterated to a fixpoint), so a private `*_locked()` helper or a function that takes
  the caller's `std::unique_lock<std::mutex>&` counts as running under the lock;
- every access to a field of the function's own class and to a global, with the set of lock keys
  held at that point (`held`), and every call with the locks held there.

Code inside a lambda runs later (posted, stored) unless the lambda is invoked on the spot, handed
to a synchronous algorithm, or handed to a project function that calls it before returning
(with the locks that function holds around the call): it sees only the locks taken in its own
body.
"""

from __future__ import annotations

import re
import weakref
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from lifelint.facts.cpp_flow import SYNC_CALLEES as _FLOW_SYNC_CALLEES
from lifelint.facts.cpp_lock_notes import ONE_LOCK
from lifelint.facts.cpp_locks import strip_wrapping
from lifelint.model import Span
from lifelint.platforms import platforms_of

if TYPE_CHECKING:
    from lifelint.facts import FileFacts
    from lifelint.index import ProjectIndex

# Methods that change the object they are called on (containers, smart pointers, strings,
# optionals). Unknown methods count as reads: that only ever makes the rules quieter.
MUTATING_METHODS = frozenset({
    "push_back", "emplace_back", "pop_back", "push_front", "emplace_front", "pop_front", "insert", "emplace",
    "emplace_hint", "try_emplace", "insert_or_assign", "erase", "clear", "resize", "reserve", "shrink_to_fit",
    "assign", "swap", "reset", "release", "append", "replace", "splice", "merge", "remove", "remove_if", "unique",
    "sort", "reverse", "push", "pop", "set", "fill", "extract", "rehash", "emplace_value", "store",
})
# Types whose objects are safe to share or are the synchronisation itself.
SYNC_TYPE_WORDS = ("atomic", "mutex", "condition_variable", "once_flag", "spinlock", "semaphore", "latch", "barrier",
                   "critical_section", "thread")
GUARD_PARAM_TYPES = frozenset({"unique_lock", "lock_guard", "scoped_lock", "shared_lock", "upgrade_lock", "scoped_lock_type",
                               "lock_type", "MutexLock", "QMutexLocker"})
# Algorithms and helpers that call a lambda argument before they return (the fact extractor's
# list), and condition-variable waits, which call their predicate with the lock held.
SYNC_CALLEES = _FLOW_SYNC_CALLEES | {"wait", "wait_for", "wait_until"}
SMART_POINTERS = frozenset({"shared_ptr", "unique_ptr", "weak_ptr", "intrusive_ptr", "optional", "reference_wrapper",
                            "copy_ptr", "scoped_ptr", "observer_ptr", "not_null", "atomic"})
CONTAINERS = frozenset({"vector", "deque", "list", "array", "set", "multiset", "unordered_set", "span", "small_vector",
                        "forward_list", "flat_set", "container_wrapper"})
MAPS = frozenset({"map", "multimap", "unordered_map", "flat_map", "unordered_multimap"})
THREAD_CALLS = frozenset({"thread", "jthread", "async", "pthread_create", "post", "dispatch", "defer", "_beginthreadex",
                          "CreateThread", "detach"})

WILDCARD = "*"
_MACRO = re.compile(r"_*[A-Z][A-Z0-9_]{2,}")  # TORRENT_ASSERT, DLOG, CHECK, __TBB_ASSERT: usually compiled out  # "some lock the caller passed in, not nameable here"

_IDENT = re.compile(r"[A-Za-z_]\w*$")
# The Google convention for "call me with the lock held": `PublishTransportLocked()`, `flush_locked()`.
_LOCKED_SUFFIX = re.compile(r"(?:[a-z0-9]Locked|_locked|_Locked)\Z")
_QUALS = re.compile(r"\b(const|volatile|constexpr|static|inline|mutable|thread_local|extern|typename|struct|class|register)\b")


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def split_template(type_text: str) -> tuple[str, list[str]]:
    """`std::map<int, std::vector<T>> const&` -> ("std::map", ["int", "std::vector<T>"])."""
    t = _QUALS.sub(" ", type_text).strip()
    i = t.find("<")
    if i < 0:
        return t.replace("&", "").replace("*", "").replace(" ", ""), []
    head = t[:i].replace(" ", "")
    depth = 0
    args, cur = [], []
    for ch in t[i + 1:]:
        if ch == "<":
            depth += 1
        elif ch == ">":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if cur:
        args.append("".join(cur).strip())
    return head, args


def last_name(qualified: str) -> str:
    return qualified.split("::")[-1] if qualified else ""


def class_of_type(type_text: str, element: bool = False) -> str | None:
    """The class a value of this type gives access to with `.`/`->`: smart pointers unwrapped;
    with `element`, the element type of a container (the value type of a map)."""
    head, args = split_template(type_text)
    base = last_name(head)
    for _ in range(4):
        if element and (base in CONTAINERS or base in MAPS) and args:
            head, args = split_template(args[-1] if base in MAPS else args[0])
            base = last_name(head)
            element = False
            continue
        if base in SMART_POINTERS and args:
            head, args = split_template(args[0])
            base = last_name(head)
            continue
        break
    return base or None


def is_sync_type(type_text: str) -> bool:
    t = type_text.lower()
    if any(w in t for w in SYNC_TYPE_WORDS):
        return True
    base = type_text.split("<", 1)[0].replace(" ", "").split("::")[-1].rstrip("&*")
    return base in SELF_SYNCED_TYPES


# Classes that synchronise their own operations (events, blocking queues), by the names the
# common libraries give them: using one without the owner's lock is how they are meant to be used.
SELF_SYNCED_TYPES = frozenset({
    "Event", "ManualResetEvent", "AutoResetEvent", "WaitableEvent", "Notification", "BlockingCounter",
    "NotificationQueue", "PriorityNotificationQueue", "TimedNotificationQueue", "BlockingQueue",
    "blocking_queue", "ConcurrentQueue", "concurrent_queue", "concurrent_bounded_queue", "MPMCQueue",
    "Condition", "RWLock", "future", "shared_future", "promise",
})


def _norm_path(expr: str) -> str:
    e = expr.replace(" ", "")
    while e.startswith(("(*this).", "this->")):
        e = e[8:] if e.startswith("(*this).") else e[6:]
    return e


# --- results -----------------------------------------------------------------------------------

@dataclass(slots=True)
class Acquire:
    """One lock region, resolved."""

    lock: str
    written: str  # the mutex as written ("m_mutex")
    region: int  # index in Function.locks
    span: Span
    lambda_index: int | None
    held: frozenset[str]  # keys held (same body) when this one is taken, other mutexes of the same guard excluded
    multi: bool  # taken together with others (scoped_lock(a, b), std::lock(a, b) + adopt_lock)
    shared: bool


@dataclass(slots=True)
class CallSite:
    fn: "FnLocks"
    call: int  # index in flow.calls
    name: str
    span: Span
    targets: list["FnLocks"]
    held: frozenset[str]  # same-body locks at the call (entry locks of the caller not included)
    lambda_index: int | None
    runs_now: bool  # not inside a lambda that runs later


@dataclass(slots=True)
class Access:
    fn: "FnLocks"
    key: str  # "Class::field" or "::global"
    name: str  # as written (last segment)
    span: Span
    write: bool
    verb: str  # "read", "written", "updated", "cleared", "called .push_back() on", ...
    held: frozenset[str]  # same-body locks
    lambda_index: int | None
    runs_now: bool
    var: object = None  # the Variable: a field, static member or global
    in_macro: bool = False  # inside the arguments of an ALL_CAPS macro call or assert() (assertions, debug logging)


@dataclass(slots=True, eq=False)
class FnLocks:
    facts: "FileFacts"
    fn: object  # lifelint.facts.cpp.Function
    cls: str | None  # short class name
    klass: object = None  # the Class definition (None: not found in the scan)
    fields: dict = field(default_factory=dict)  # name -> (owner key, Variable): the class's fields and static members, bases included
    acquires: list[Acquire] = field(default_factory=list)
    calls: list[CallSite] = field(default_factory=list)
    accesses: list[Access] = field(default_factory=list)
    region_keys: list[tuple[str, ...]] = field(default_factory=list)  # per Function.locks region
    region_adopted: list[bool] = field(default_factory=list)
    guard_params: dict[str, int] = field(default_factory=dict)  # guard reference parameter -> index
    # param -> its lock holder (Function.locks index): held where the lock flow says so.
    guard_param_holders: dict[str, int] = field(default_factory=dict)
    # Calls that take a guard as an argument (`cond.wait(lock)`, `ev.clear(lock)`): the guard's
    # lock is held for them whatever happened before (the callee expects it so).
    guard_arg_calls: list[tuple[int, int]] = field(default_factory=list)
    callers: list[CallSite] = field(default_factory=list)
    entry: frozenset[str] = frozenset()  # locks every caller holds
    entry_guarded: frozenset[str] = frozenset()  # ... through the guard it passes in (ends at `l.unlock()`)
    # "ctor": runs only while the object it runs on is being built or torn down: called only from
    # constructors, destructors and self-destroying methods (`lifecycle`) on that same object or on
    # a member it holds by value (`my_cache.init()` in the owner's constructor), or from other such
    # code; "main" (only from main), "any".
    context: str = "any"
    destroys_self: bool = False  # ends its own object's life on every path (`this->~T()`, `delete this`)
    _atomic_only: bool | None = None  # memo of atomic_only()
    runs_later: set = field(default_factory=set)  # lambda indexes whose bodies run after the function returns
    # lambda index -> locks the project function it is handed to holds on every call of it there
    # (`enforce(pred)` locking `mu` around `pred()`): the lambda runs now, with those locks.
    lambda_held: dict = field(default_factory=dict)
    annotated: frozenset[str] = frozenset()  # locks a thread-safety annotation says the caller holds (`REQUIRES(mu_)`)

    @property
    def path(self) -> str:
        return self.facts.path

    @property
    def lifecycle(self) -> bool:
        """A constructor, a destructor, or a method that destroys its own object on every path:
        no other thread may use the object while it runs (RacerD: constructors own `this`)."""
        return self.fn.is_ctor or self.fn.is_dtor or self.destroys_self

    @property
    def label(self) -> str:
        """`ram_disk_io::compact`, or a free function's bare name."""
        return f"{self.cls}::{self.fn.name}" if self.cls else self.fn.name

    def lambda_runs_later(self, lam: int | None) -> bool:
        flow = self.fn.flow
        while lam is not None:
            if lam in self.runs_later:
                return True
            lam = flow.lambdas[lam].parent
        return False

    def held_at(self, local: frozenset[str], lam: int | None, byte: int | None = None) -> frozenset[str]:
        """Locks held at an event: the same-body regions, plus (for code that runs now) the locks
        held where enclosing synchronous lambdas were created, the caller's guard passed by
        reference, and the entry locks every caller holds."""
        flow = self.fn.flow
        out = set(local)
        cur = lam
        while cur is not None and cur not in self.runs_later:
            L = flow.lambdas[cur]
            out.update(k for i in L.locks for k in self.region_keys[i])
            if self.lambda_held:
                out.update(self.lambda_held.get(cur, ()))
            cur = L.parent
        if cur is None:  # this code runs while the function runs
            out.update(self.entry)
            out.update(self.annotated)
            if byte is not None:
                for p in self.guard_params:
                    hi = self.guard_param_holders.get(p)
                    held = hi is None or hi in flow.held_at(byte, None)
                    if held or any(a <= byte < b for a, b in self.guard_arg_calls):
                        out.add(WILDCARD)
                        out.update(self.entry_guarded)
        return frozenset(out)


@dataclass(slots=True)
class LockingIndex:
    functions: list[FnLocks]
    by_fn: dict[int, FnLocks]  # id(Function) -> FnLocks
    classes: dict[str, list]  # short name -> [Class]
    thread_evidence: bool
    threaded_files: frozenset[str] = frozenset()  # files that take locks, start threads or declare atomics/mutexes
    _by_path: dict | None = None
    index: Any = None  # the ProjectIndex it was built from
    _init_once: Any = None  # lifelint.init_once.InitOnce, made on first use
    _chains: dict = field(default_factory=dict)

    def of(self, fn) -> FnLocks | None:
        return self.by_fn.get(id(fn))

    def release(self) -> None:
        """Unlink the call graph (a call site and an access point back at their function, a
        function at its call sites and callers): once dropped, the index is freed by reference
        counting. The index is unusable afterwards."""
        for fl in self.functions:
            fl.calls, fl.callers, fl.accesses, fl.acquires = [], [], [], []
        self.functions, self.by_fn, self._by_path, self._init_once, self._chains = [], {}, None, None, {}

    def held(self, fn, event) -> frozenset[str] | None:
        """Lock keys held at a flow event (`event.locks`, `.lambda_index`, `.span`) of `fn`: its own
        holders there, plus what every caller holds, what its annotations and comments say the
        caller holds, and the caller's guard it was handed (WILDCARD: some lock the caller took).
        The one answer to "is a lock held here" for rules that compare locks across functions.
        None when `fn` is not in the index."""
        fl = self.by_fn.get(id(fn))
        if fl is None:
            return None
        local = set()
        for i in getattr(event, "locks", ()) or ():
            if i < len(fl.region_keys):
                local.update(fl.region_keys[i])
        return fl.held_at(frozenset(local), event.lambda_index, event.span.start_byte)

    def init_ordered(self, w: Access, a: Access) -> bool:
        """`w` is a write initialised once under a lock (in a once-guarded region, the state never
        set back) and `a` runs after that initialisation on every path (its function called the
        init function first, or skipped it on an atomic test that found the state set): the two
        do not race (lifelint.init_once)."""
        if self._init_once is None:
            from lifelint.init_once import InitOnce

            self._init_once = InitOnce(self)
        return self._init_once.ordered(w, a)

    def class_chain(self, cls: str | None, args: tuple[str, ...] = ()) -> list:
        """The project classes named `cls` and their bases, nearest first."""
        return class_chain(self.classes, self._chains, cls, args)

    def in_file(self, path: str) -> list[FnLocks]:
        by_path = self._by_path
        if by_path is None:
            by_path = self._by_path = defaultdict(list)
            for f in self.functions:
                by_path[f.path].append(f)
        return by_path.get(path, [])


def scope_at(flow, byte: int) -> int:
    """The innermost scope of `flow` that holds `byte` (0: the body)."""
    best = 0
    for i, sc in enumerate(flow.scopes):
        if sc.span.start_byte <= byte < sc.span.end_byte and flow.scopes[best].span.start_byte <= sc.span.start_byte:
            best = i
    return best


def class_chain(classes: dict, cache: dict, cls: str | None, args: tuple[str, ...] = ()) -> list:
    """The project classes named `cls` and their bases, nearest first (by name, as far as the
    project defines them; `classes`: short name -> [Class]). `args`: the template arguments it is
    named with (`padded<arena_base>`), which a class template deriving from its own parameter
    passes on as a base. Memoised in `cache`."""
    got = cache.get((cls, args))
    if got is None:
        got = cache[(cls, args)] = _class_chain(classes, cls, args)
    return got


def _class_chain(classes: dict, cls: str | None, args: tuple[str, ...] = ()) -> list:
    out, seen, todo = [], set(), [(cls, args)] if cls else []
    while todo and len(out) < 12:
        c, cargs = todo.pop(0)
        if c in seen:
            continue
        seen.add(c)
        for k in classes.get(c, ()):
            out.append(k)
            bound = {p: a for p, a in zip(k.template_params, cargs) if p and _IDENT.match(p)}
            for b in k.bases:
                head, bargs = split_template(re.sub(r"\b(public|private|protected|virtual)\b", "", b))
                if head in bound:  # `template <class T> struct padded : T`
                    head, bargs = split_template(bound[head])
                else:
                    bargs = [bound.get(x.replace(" ", ""), x) for x in bargs]
                todo.append((last_name(head), tuple(bargs)))
    return out


# --- building ------------------------------------------------------------------------------------

class _Builder:
    def __init__(self, index: "ProjectIndex"):
        self.index = index
        self.classes: dict[str, list] = defaultdict(list)
        self.class_path: dict[int, str] = {}
        # The file each prepared function is defined in (by id: Function objects are not hashable).
        # Per index, not per module: a long-lived process (the editor server) builds many indexes,
        # and a module-level map by id() would grow forever and outlive the objects it names.
        self.fn_path: dict[int, str] = {}
        self.class_of_method: dict[int, object] = {}  # id(Function) -> Class, for methods defined in the class body
        for name, items in index.cpp_classes.items():
            short = name.split("<")[0]
            if not short:
                continue  # anonymous
            for f, k in items:
                self.classes[short].append(k)
                self.class_path[id(k)] = f.path
                for m in k.methods:
                    self.class_of_method[id(m)] = k
        # Several definitions of one qualified name in one file (`#if` branches per platform) are
        # different classes; the same name in two files is one class (a header and its copy).
        seen: dict[tuple[str, str], set] = defaultdict(set)
        for ks in self.classes.values():
            for k in ks:
                seen[(k.qualname, self.class_path[id(k)])].add(k.span.start_byte)
        self._dup = {key for key, starts in seen.items() if len(starts) > 1}
        # The same name in two files with different fields is two classes too (per-platform
        # implementations: win32/shared_mutex.hpp and pthread/shared_mutex.hpp).
        shapes: dict[str, set] = defaultdict(set)
        for ks in self.classes.values():
            for k in ks:
                shapes[k.qualname].add(tuple(sorted(v.name for v in k.fields)))
        self._per_file = {q for q, forms in shapes.items() if len(forms) > 1}
        self.globals: dict[str, list] = defaultdict(list)  # name -> [(facts, Variable)]
        for name, items in index.cpp_globals.items():
            for f, v in items:
                if v.kind in ("global", "static-member"):
                    self.globals[name].append((f, v))
        # Caller-held locks said in comments and annotations (lifelint.facts.cpp_lock_notes).
        self.fn_notes: dict[tuple[str, int], list] = {}
        self.decl_notes: dict[tuple[str, str], list] = defaultdict(list)
        for s in index.summaries:
            notes = s.caller_locks
            if not notes:
                continue
            for start, items in notes["fn"].items():
                self.fn_notes[(s.path, start)] = items
            for cls, meth, name, how in notes["decl"]:
                self.decl_notes[(cls, meth)].append((name, how))
        self.fns: list[FnLocks] = []
        self.methods: dict[tuple[str, str], list[FnLocks]] = defaultdict(list)
        self.free: dict[str, list[FnLocks]] = defaultdict(list)
        # Every function / method name defined in the scan (set before calls are resolved).
        self.defined_names: set[str] = set()
        self.method_names_defined: set[str] = set()
        self._fields_cache: dict[str, dict[str, tuple[str, object]]] = {}
        self._methods_cache: dict[str, set[str]] = {}
        self._chain_cache: dict[tuple[str | None, tuple[str, ...]], list] = {}
        self.by_class: dict[str, list[FnLocks]] = defaultdict(list)
        self._owners: dict[str, dict[str, frozenset[str]]] = {}
        self._owner_branches: dict[int, list] = {}

    # classes ---------------------------------------------------------------------------------
    def class_chain(self, cls: str | None, args: tuple[str, ...] = ()) -> list:
        """The class and its bases (see the module-level class_chain)."""
        return class_chain(self.classes, self._chain_cache, cls, args)

    def class_key(self, k) -> str:
        path = self.class_path.get(id(k), "")
        if (k.qualname, path) in self._dup:
            return f"{k.qualname}@{path}:{k.span.line}"
        if k.qualname in self._per_file:
            return f"{k.qualname}@{path}"
        return k.qualname

    def fields_of(self, cls: str | None, klass=None) -> dict[str, tuple[str, object]]:
        """field name -> (declaring class key, Variable), bases included (nearest wins). With
        `klass`, that definition and its bases; else every class of that name."""
        if not cls and klass is None:
            return {}
        ck = (cls, id(klass) if klass is not None else None)
        got = self._fields_cache.get(ck)
        if got is None:
            got = {}
            chain = [klass] if klass is not None else []
            bases = []
            for b in (klass.bases if klass is not None else []):
                head, bargs = split_template(re.sub(r"\b(public|private|protected|virtual)\b", "", b))
                bases.append((last_name(head), tuple(bargs)))
            if klass is not None:
                for b, bargs in bases:
                    chain.extend(self.class_chain(b, bargs))
            else:
                chain = self.class_chain(cls)
            for k in chain:
                for v in [*k.fields, *k.static_members]:
                    got.setdefault(v.name, (self.class_key(k), v))
            self._fields_cache[ck] = got
        return got

    def find_class(self, fn, cls: str | None):
        """The class definition a method belongs to: the body it is defined in, else the definition
        of that name that declares it (the same file first)."""
        k = self.class_of_method.get(id(fn))
        if k is not None or not cls:
            return k
        cands = self.classes.get(cls, [])
        if not cands:
            return None
        qual = fn.class_name or ""
        def score(c):
            return (fn.name in c.method_decls or fn.is_ctor or fn.is_dtor,
                    c.qualname.endswith(qual),
                    self.class_path.get(id(c)) is not None and _stem(self.class_path[id(c)]) == _stem(self.fn_path.get(id(fn), "")))
        return max(cands, key=score)

    def method_names(self, cls: str | None) -> set[str]:
        if not cls:
            return set()
        got = self._methods_cache.get(cls)
        if got is None:
            got = set()
            for k in self.class_chain(cls):
                got.update(k.method_decls)
            self._methods_cache[cls] = got
        return got

    def methods_named(self, cls: str | None, name: str) -> list[FnLocks]:
        out = []
        for k in self.class_chain(cls):
            out.extend(self.methods.get((k.name, name), ()))
        if not out and cls:
            out.extend(self.methods.get((cls, name), ()))
        return out

    # types of names ---------------------------------------------------------------------------
    def type_of(self, fl: FnLocks, name: str, byte: int, scope: int) -> str | None:
        flow = fl.fn.flow
        di = flow.decl_named(name, byte, scope) if flow is not None else None
        if di is not None:
            d = flow.decls[di]
            if d.type.strip() in ("auto", "auto&", "const auto&", "auto const&", "auto&&", "auto*", "const auto*") and d.init:
                return self.type_of_init(d.init)
            return d.type
        f = fl.fields.get(name)
        if f is not None:
            return f[1].type
        g = self.globals.get(name)
        if g:
            return g[0][1].type
        return None

    def type_of_init(self, init: str) -> str | None:
        """The type an `auto` local gets from its initialiser, when it says so without overload
        resolution: `new T(..)`, `std::make_unique<T>(..)` / `make_shared<T>`, `T(..)` / `T{..}` of
        a project class, or a call of `T::f(..)` whose only definitions return one type
        (`auto& info = ThreadInfo::info(id)`)."""
        e = init.strip().lstrip("=").strip()
        m = re.match(r"new\s+((?:\w+::)*\w+)", e)
        if m:
            return m.group(1) + "*"
        m = re.match(r"(?:std::)?(?:make_unique|make_shared)\s*<\s*((?:\w+::)*\w+)", e)
        if m:
            return m.group(1)
        m = re.match(r"((?:\w+::)*\w+)\s*[({]", e)
        if not m:
            return None
        callee = m.group(1)
        if last_name(callee) in self.classes:
            return callee
        if "::" in callee:
            owner, name = last_name(callee.rsplit("::", 1)[0]), callee.rsplit("::", 1)[1]
            if owner in self.classes:
                rets = {t.fn.return_type.replace("static", "").strip() for t in self.methods_named(owner, name)}
                if len(rets) == 1:
                    return next(iter(rets)) or None
        return None

    def receiver_class(self, fl: FnLocks, receiver: str, byte: int, scope: int) -> str | None:
        r = _norm_path(receiver)
        if r in ("this", "*this", "(*this)"):
            return fl.cls
        r = strip_wrapping(r)
        # m_items[i] / m_items.at(i) / m_items.front() -> element type of m_items
        m = _ELEMENT_OF.fullmatch(r)
        if m:
            t = self.type_of(fl, m.group(1), byte, scope)
            return self.class_of(t, element=True) if t else None
        m = _NAME_OR_GET.fullmatch(r)
        if m:
            t = self.type_of(fl, m.group(1), byte, scope)
            return self.class_of(t) if t else None
        # `Registry::instance().add(..)`: the type a qualified call returns (a static accessor)
        if _QUALIFIED_CALL.fullmatch(r):
            t = self.type_of_init(r)
            return self.class_of(t) if t else None
        # a.b / a->b: the type of field b in a's class
        m = _MEMBER_PATH.fullmatch(r)
        if m and "(" not in m.group(1):
            owner = self.receiver_class(fl, m.group(1), byte, scope)
            if owner:
                f = self.fields_of(owner).get(m.group(2))
                if f is not None:
                    return self.class_of(f[1].type)
        return None

    def class_of(self, type_text: str, element: bool = False) -> str | None:
        """class_of_type, through a project `using` / `typedef` that names a class
        (`using base_list = intrusive_list;` ... `base_list my_waitset;`)."""
        cls = class_of_type(type_text, element)
        if cls is None or cls in self.classes:
            return cls
        target = self.index.resolve_alias(cls)
        if not target or re.search(r">\s*::", target):
            return cls  # (`typename cache<T>::list_type`: a member type of a template, not a class)
        got = class_of_type(target, element)
        return got if got in self.classes else cls

    # locks -----------------------------------------------------------------------------------
    def lock_key(self, fl: FnLocks, written: str, byte: int, scope: int, depth: int = 0) -> str:
        e = strip_wrapping(_norm_path(written))
        fn = fl.fn
        if _IDENT.match(e):
            flow = fn.flow
            di = flow.decl_named(e, byte, scope) if flow is not None else None
            if di is not None:
                d = flow.decls[di]
                if d.kind in ("param", "lambda-param") and (d.is_reference or d.pointer_depth):
                    return f"{fn.qualname}({e})"
                # `auto& m = obj.mu;` / `std::mutex* m = &ctx->mutex;`: the lock is the one it refers
                # to, named by its declaration path.
                alias = _alias_of(d) if depth < 3 else None
                if alias is not None:
                    return self.lock_key(fl, alias, d.decl_span.start_byte, d.scope, depth + 1)
                if d.kind not in ("static",):
                    return f"{fn.qualname}:{e}"
            f = fl.fields.get(e)
            if f is not None:
                return f"{f[0]}::{e}"
            return self.global_key(fl, e) or (f"{fl.cls}::{e}" if fl.cls else f"::{e}")
        if "::" in e and _IDENT.match(e.split("::")[-1]) and not any(c in e for c in ".->()"):
            owner, name = e.rsplit("::", 1)
            owner_short = last_name(owner)
            f = (fl.fields if owner_short == fl.cls else self.fields_of(owner_short)).get(name)
            if f is not None:
                return f"{f[0]}::{name}"
            if owner_short in self.classes or (fl.cls and owner_short == fl.cls):
                return f"{owner_short}::{name}"
            return self.global_key(fl, name) or f"::{name}"
        m = _MEMBER_PATH.fullmatch(e)
        if m:
            owner = self.receiver_class(fl, m.group(1), byte, scope)
            if owner:
                f = self.fields_of(owner).get(m.group(2))
                return f"{f[0] if f else owner}::{m.group(2)}"
        return f"{fn.qualname}:{e}"

    def global_key(self, fl: FnLocks, name: str) -> str | None:
        items = self.globals.get(name)
        if not items:
            return None
        same_file = [v for f, v in items if f.path == fl.path]
        v = same_file[0] if same_file else items[0][1]
        if v.kind == "static-member":
            f = self.fields_of(v.owner).get(name) if v.owner else None
            return f"{f[0] if f else v.owner}::{name}"
        if v.is_static and same_file:
            return f"{fl.path}:{name}"
        return f"::{name}"

    # building one function ------------------------------------------------------------------
    def prepare(self, facts, fn) -> FnLocks:
        cls = fn.class_name.split("::")[-1].split("<")[0] if fn.class_name else None
        self.fn_path[id(fn)] = facts.path
        klass = self.find_class(fn, cls)
        fl = FnLocks(facts, fn, cls, klass, self.fields_of(cls, klass) if cls else {})
        fl.destroys_self = bool(cls) and _destroys_self(fn.flow)
        self.fns.append(fl)
        if cls:
            self.methods[(cls, fn.name)].append(fl)
            self.by_class[cls].append(fl)
        else:
            self.free[fn.name].append(fl)
        return fl

    def resolve_locks(self, fl: FnLocks) -> None:
        fn, flow = fl.fn, fl.fn.flow
        regions = fn.locks or []
        # Lambdas whose bodies run after this function returns (not invoked on the spot, not
        # handed to a synchronous algorithm).
        for i, L in enumerate(flow.lambdas):
            later = True
            if L.invoked or getattr(L, "sync", False):
                later = False
            elif L.handed_to is not None:
                c = flow.calls[L.handed_to.call]
                if c.name in SYNC_CALLEES:
                    later = False
            elif L.stored_in and _IDENT.match(L.stored_in) and not L.passed_to:
                # `auto pred = [&]{...}; ... pred(x)`: called locally
                later = not any(c.callee == L.stored_in for c in flow.calls)
            if later:
                fl.runs_later.add(i)
        lock_calls = [c for c in flow.calls if c.kind == "call" and c.name in ("lock", "try_lock") and c.receiver is None
                      and c.callee.replace(" ", "") in ("std::lock", "lock", "boost::lock", "std::try_lock")]
        for ri, r in enumerate(regions):
            scope = self.scope_at(flow, r.span.start_byte)
            keys = tuple(self.lock_key(fl, m, r.span.start_byte, scope) for m in r.mutexes) or (f"{fn.qualname}:{r.guard}",)
            if r.kind == "param":
                keys = ()  # the caller's lock: WILDCARD / entry locks stand for it (held_at)
            fl.region_keys.append(keys)
            # `std::lock(a, b); std::lock_guard<std::mutex> g(a, std::adopt_lock);`
            adopted = False
            for c in lock_calls:
                if c.span.start_byte < r.span.start_byte and set(r.mutexes) <= {_norm_path(a).lstrip("&*") for a in c.args}:
                    adopted = True
            fl.region_adopted.append(adopted)
        for ri, r in enumerate(regions):
            keys = fl.region_keys[ri]
            lam = flow.lock_lambda[ri] if ri < len(flow.lock_lambda) else None
            for op in r.ops:
                if op[0] == "acq":
                    span, together = op[2], len(op) > 3
                elif op[0] == "test":
                    span, together = op[4], False
                else:
                    continue
                # The locks held (on every path) where this one is taken.
                held = set()
                for rj in flow.held_at(span.start_byte, lam):
                    if rj != ri and regions[rj].span.start_byte != r.span.start_byte:
                        held.update(fl.region_keys[rj])
                held -= set(keys)
                adopted = fl.region_adopted[ri]
                multi = len(keys) > 1 or adopted or together
                if together:
                    held = {k for k in held if not any(k in fl.region_keys[rj] for rj in _together(regions, span))}
                for k, w in zip(keys, r.mutexes or [r.guard or "?"]):
                    fl.acquires.append(Acquire(k, w, ri, span, lam, frozenset(held) if not adopted else frozenset(), multi, r.shared))
        # What the author says the caller holds: `void f() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_)` on the
        # definition or on the declaration in the class, "called with mu_ held" next to either.
        if fn.body is not None:
            fl.annotated = self.caller_locks_said(fl)
        # Guard references handed in by the caller (the flow facts list them, unnamed ones too:
        # `bool empty(unique_lock<mutex>&) const` only says "call me with it held").
        for i, (name, ty) in enumerate(flow.held_by_caller):
            if last_name(split_template(ty)[0]) in GUARD_PARAM_TYPES:
                fl.guard_params[name or f"<unnamed {i}>"] = len(fl.guard_params)
        for hi, r in enumerate(regions):
            if r.kind == "param" and r.guard in fl.guard_params:
                fl.guard_param_holders[r.guard] = hi
        for p in fl.guard_params:
            fl.guard_arg_calls.extend((c.span.start_byte, c.span.end_byte) for c in flow.calls
                                      if c.lambda_index is None and any(a.strip().lstrip("&*") == p for a in c.args))

    def caller_locks_said(self, fl: FnLocks) -> frozenset[str]:
        """Lock keys the function's annotations and comments say its callers hold (see
        lifelint.facts.cpp_lock_notes); WILDCARD for the `...Locked` naming convention. A lock a
        comment names must be a mutex (a field, static member or global of a mutex type); "the
        lock" is the class's mutex when it has exactly one."""
        fn = fl.fn
        at = fn.body.start_byte
        out = {self.lock_key(fl, m, at, 0) for m in fn.requires_locks if m and not m.startswith("!")}
        said = [(n, how) for n, how in self.fn_notes.get((fl.path, fn.span.start_byte), ())]
        if fl.cls:
            said += [(n, how) for n, how in self.decl_notes.get((fl.cls, fn.name), ())]
        for name, how in said:
            if how == "annotation":
                out.add(self.lock_key(fl, name, at, 0))
                continue
            if name == ONE_LOCK:
                mus = {f"{owner}::{n}" for n, (owner, v) in fl.fields.items() if v.is_mutex}
                if len(mus) == 1:
                    out |= mus
                continue
            e = strip_wrapping(_norm_path(name))
            var = fl.fields.get(e, (None, None))[1] if _IDENT.match(e) else None
            if var is None and _IDENT.match(e):
                var = self.global_var(fl, e)
            if var is not None and var.is_mutex:
                out.add(self.lock_key(fl, e, at, 0))
        if _LOCKED_SUFFIX.search(fn.name):
            out.add(WILDCARD)
        return frozenset(out)

    scope_at = staticmethod(scope_at)

    def local_held(self, fl: FnLocks, locks: Iterable[int], byte: int | None = None, lam: int | None = None) -> frozenset[str]:
        out = set()
        for i in locks:
            if i < len(fl.region_keys):
                out.update(fl.region_keys[i])
        if byte is not None and lam is None and fl.cls:
            for start, end, keys in self.owner_branches(fl):
                if start <= byte < end:
                    out.update(keys)
        return frozenset(out)

    # recursive-lock owners ----------------------------------------------------------------------
    def owner_fields(self, cls: str) -> dict[str, frozenset[str]]:
        """Fields of `cls` that record which thread holds a lock: assigned only the current
        thread's id with that lock held, or a constant (`_M_owner = -1` on release). field -> the
        locks held at every thread-id assignment."""
        got = self._owners.get(cls)
        if got is not None:
            return got
        sets: dict[str, list[frozenset[str]]] = defaultdict(list)
        bad: set[str] = set()
        for fl in self.by_class.get(cls, ()):
            flow = fl.fn.flow
            for u in flow.uses:
                if u.decl is None and u.name in fl.fields and (
                        u.access in ("update", "address") or u.access == "method" and u.method in MUTATING_METHODS):
                    bad.add(u.name)
            for a in flow.assigns:
                if a.target_decl is not None or a.target_name not in fl.fields or _CONSTANT.fullmatch(a.value.replace(" ", "")):
                    continue
                if a.plain and a.lambda_index is None and self.is_thread_id(fl, a.value, a.span.start_byte, a.scope):
                    keys = set()
                    for i in a.locks:
                        if i < len(fl.region_keys):
                            keys.update(fl.region_keys[i])
                    sets[a.target_name].append(frozenset(keys))
                else:
                    bad.add(a.target_name)
        got = {}
        for name, ks in sets.items():
            common = frozenset.intersection(*ks)
            if name not in bad and common:
                got[name] = common
        self._owners[cls] = got
        return got

    @staticmethod
    def is_thread_id(fl: FnLocks, expr: str, byte: int, scope: int) -> bool:
        """`expr` is the calling thread's id: a call that returns it, or a local initialised
        with one and never assigned again."""
        e = expr.strip().lstrip("=").strip()
        if _THREAD_ID.search(e):
            return True
        if not _IDENT.match(e):
            return False
        flow = fl.fn.flow
        di = flow.decl_named(e, byte, scope)
        if di is None or not flow.decls[di].init or not _THREAD_ID.search(flow.decls[di].init):
            return False
        return not any(a.target_decl == di for a in flow.assigns)

    def owner_branches(self, fl: FnLocks) -> list[tuple[int, int, frozenset[str]]]:
        """(start, end, locks) of the `then` branches of `if (m_owner == this_thread_id)` in `fl`:
        the thread that finds its own id in the owner field set it while holding the lock and
        has not released it yet (a recursive lock's re-entry path)."""
        got = self._owner_branches.get(id(fl))
        if got is not None:
            return got
        got = []
        flow = fl.fn.flow
        owners = self.owner_fields(fl.cls) if any(sc.cond for sc in flow.scopes) else {}
        for si, sc in enumerate(flow.scopes):
            if not owners or sc.kind != "if" or not sc.cond or sc.lambda_index is not None or "||" in sc.cond:
                continue
            keys = set()
            for part in _unparen(sc.cond).split("&&"):
                m = re.fullmatch(r"(.+?)==(.+)", _unparen(part))
                if m is None:
                    continue
                a, b = _unparen(m.group(1)), _unparen(m.group(2))
                for mine, other in ((a, b), (b, a)):
                    f = _norm_path(mine)
                    if f in owners and self.is_thread_id(fl, other, sc.span.start_byte, si):
                        keys |= owners[f]
            if keys:
                for b in flow.scopes:
                    if b.parent == si and b.branch == "then":
                        got.append((b.span.start_byte, b.span.end_byte, frozenset(keys)))
        self._owner_branches[id(fl)] = got
        return got

    def callee_run_lambdas(self, fl: FnLocks) -> None:
        """Lambdas handed straight to a project function that calls them before it returns (every
        use of that parameter a call in its body, or an argument to a function with an empty
        body: `suppress_unused_warning(pred)`): they run now, on this thread, with the locks the
        callee holds at every such call (an `enforce(pred)` that takes the lock around `pred()`,
        a `for_each_locked(f)`). A callee that stores, forwards or captures the callable, or one
        the scan cannot see, leaves the lambda running later."""
        flow = fl.fn.flow
        for i in sorted(fl.runs_later):
            L = flow.lambdas[i]
            h = L.handed_to
            if h is None or h.via is not None or L.passed_to or L.invoked or h.call >= len(flow.calls):
                continue
            c = flow.calls[h.call]
            if c.kind != "call" or c.callee_kind in ("local", "param", "member"):
                continue
            targets = self.call_targets(fl, c)
            held = None
            for t in targets:
                got = self._calls_argument_now(t, h.arg_index)
                if got is None:
                    held = None
                    break
                held = got if held is None else held & got
            if held is None:
                continue
            fl.runs_later.discard(i)
            if held:
                fl.lambda_held[i] = held

    def _calls_argument_now(self, t: FnLocks, k: int) -> frozenset[str] | None:
        """The locks `t` holds at every call of its parameter `k` (a callable), when its body does
        nothing else with it; else None."""
        flow = t.fn.flow
        params = [j for j, d in enumerate(flow.decls) if d.kind == "param" and d.lambda_index is None]
        if k >= len(params) or len(params) != len(t.fn.params or params):
            return None
        di = params[k]
        held = None
        for u in flow.uses:
            if u.decl != di:
                continue
            if u.access == "call" and u.lambda_index is None:
                got = self.local_held(t, u.locks, u.span.start_byte)
                held = got if held is None else held & got
            elif not (u.access == "read" and u.lambda_index is None and self._ignored_argument(t, u)):
                return None  # stored, forwarded, captured by a lambda: it may run later
        return held

    def _ignored_argument(self, t: FnLocks, u) -> bool:
        """`u` is an argument of a call whose every target has an empty body."""
        flow = t.fn.flow
        for c in flow.calls:
            if c.lambda_index is None and any(sp == u.span for sp in c.arg_spans):
                targets = self.call_targets(t, c)
                return bool(targets) and all(not x.fn.flow.uses and not x.fn.flow.calls for x in targets)
        return False

    def resolve_calls(self, fl: FnLocks) -> None:
        flow = fl.fn.flow
        for ci, c in enumerate(flow.calls):
            if c.kind != "call" or c.callee_kind in ("local", "param", "member"):
                continue
            targets = []
            for t in self.call_targets(fl, c):
                if all(t is not u for u in targets):
                    targets.append(t)
            if not targets:
                continue
            fl.calls.append(CallSite(fl, ci, c.name, c.span, targets, self.local_held(fl, c.locks, c.span.start_byte, c.lambda_index), c.lambda_index,
                                     not fl.lambda_runs_later(c.lambda_index)))

    def call_targets(self, fl: FnLocks, c) -> list[FnLocks]:
        """Definitions a call can reach, by name and declared type, and by argument count: a
        name shared by unrelated functions (`write(fd, buf, n)` and `asio::write(s, b)`) must
        not link them."""
        targets = [t for t in self._call_targets(fl, c) if accepts(t.fn, len(c.args))]
        if c.callee.replace(" ", "").startswith("::") and "::" not in c.callee.replace(" ", "")[2:]:
            # `::write(fd, ...)` names the global namespace: not `asio::write`.
            targets = [t for t in targets if "::" not in t.fn.qualname]
        return targets

    def _call_targets(self, fl: FnLocks, c) -> list[FnLocks]:
        name = c.name
        if name not in self.defined_names or not _IDENT.match(name or ""):
            return []  # most calls reach the standard library or other code outside the scan
        if c.receiver is not None:
            if name not in self.method_names_defined:
                return []
            cls = self.receiver_class(fl, c.receiver, c.span.start_byte, c.scope)
            return [t for t in self.methods_named(cls, name) if t is not fl] if cls else []
        callee = c.callee.replace(" ", "")
        callee = _TEMPLATE_ARGS.sub("", callee)
        if "::" in callee:
            owner = last_name(callee.rsplit("::", 1)[0])
            if owner and owner in self.classes:
                return [t for t in self.methods_named(owner, name) if t is not fl]
            return self.free_targets(fl, name)
        if fl.cls and name in self.method_names(fl.cls):
            return [t for t in self.methods_named(fl.cls, name) if t is not fl]
        return self.free_targets(fl, name)

    def free_targets(self, fl: FnLocks, name: str) -> list[FnLocks]:
        """Free functions a call by name can reach: the definitions in the caller's own file when
        there are any, else the non-`static` ones elsewhere."""
        cands = [t for t in self.free.get(name, ()) if t is not fl]
        same = [t for t in cands if t.path == fl.path]
        if same:
            return same
        plat = platforms_of(self.index)
        return [t for t in cands if not t.fn.is_static and plat.compatible(fl.path, t.path)]

    def collect_accesses(self, fl: FnLocks) -> None:
        flow = fl.fn.flow
        fields = fl.fields
        macro_spans = [(c.span.start_byte, c.span.end_byte) for c in flow.calls
                       if c.kind == "call" and c.receiver is None and (_MACRO.fullmatch(c.callee) or c.callee == "assert")]
        for u in flow.uses:
            key = name = var = None
            if u.kind in ("member", "unknown") and u.decl is None and _IDENT.match(u.name) and u.name in fields:
                owner, var = fields[u.name]
                key, name = f"{owner}::{u.name}", u.name
                # `m_impl->count = 1` reaches a field of the pointee, not the member itself:
                # it is its own access (`m_impl->count`), apart from `m_impl->flush()` or `m_impl`.
                through = _THROUGH_POINTER.match(u.path.replace(" ", ""))
                if through is not None and through.group(1) == u.name:
                    key, name = f"{key}->{through.group(2)}", f"{u.name}->{through.group(2)}"
            elif u.kind in ("global", "unknown") and u.decl is None:
                last = last_name(u.name)
                if "::" in u.name:
                    owner = last_name(u.name.rsplit("::", 1)[0])
                    f2 = (fields if owner == fl.cls else self.fields_of(owner)).get(last) if owner in self.classes else None
                    if f2 is not None:
                        key, name, var = f"{f2[0]}::{last}", last, f2[1]
                    elif last in self.globals:
                        key, name, var = self.global_key(fl, last), last, self.global_var(fl, last)
                elif last in self.globals:
                    key, name, var = self.global_key(fl, last), last, self.global_var(fl, last)
            if key is None:
                continue
            write, verb = access_verb(u)
            if write and u.arrow and var is not None and self.project_pointee(var):
                # `theMarket->release()` runs the pointee's own method and only reads the pointer;
                # the mutating names above are the standard containers' (`m_list->push_back(x)`
                # on a `unique_ptr<vector>` member still changes what the member owns).
                write, verb = False, f"read (`->{u.method}()`)"
            in_macro = any(s0 <= u.span.start_byte < e0 for s0, e0 in macro_spans)
            fl.accesses.append(Access(fl, key, name, u.span, write, verb, self.local_held(fl, u.locks, u.span.start_byte, u.lambda_index), u.lambda_index,
                                      not fl.lambda_runs_later(u.lambda_index), var, in_macro))

    def project_pointee(self, var) -> bool:
        """`var` points to (raw or smart pointer) a class defined in the project."""
        cls = class_of_type(var.type)
        return cls is not None and cls not in CONTAINERS and cls not in MAPS and cls in self.classes

    def global_var(self, fl: FnLocks, name: str):
        items = self.globals.get(name)
        if not items:
            return None
        same_file = [v for f, v in items if f.path == fl.path]
        # a global defined in linux/ and in freebsd/ files is two variables: the accessor's
        # platform picks its own (lifelint.platforms)
        plat = platforms_of(self.index)
        same_platform = [v for f, v in items if plat.compatible(f.path, fl.path)]
        # prefer the definition over an `extern` declaration
        cands = same_file or same_platform or [v for _f, v in items]
        return next((v for v in cands if not v.is_extern), cands[0])


def _alias_of(d) -> str | None:
    """What a local reference or pointer to a mutex is initialised with (`auto& m = obj.mu;` ->
    `obj.mu`), when it is a plain path; None for anything else (a call, a copy)."""
    if d.kind not in ("local", "condition") or not (d.is_reference or d.pointer_depth) or not d.init:
        return None
    v = d.init.strip()
    if v.startswith("="):
        v = v[1:].strip()
    elif v[:1] in "({" and v[-1:] in ")}":
        v = v[1:-1].strip()
    v = v.replace(" ", "")
    if d.pointer_depth and not d.is_reference:
        if not v.startswith("&"):
            return None
        v = v[1:]
    elif v.startswith(("&", "*")):
        v = v.lstrip("*")
    v = strip_wrapping(_norm_path(v))
    return v if _LOCK_PATH.fullmatch(v) else None


def _unparen(e: str) -> str:
    """`((a==b))` -> `a==b`: the parentheses around the whole expression only."""
    while e.startswith("(") and e.endswith(")"):
        depth = 0
        for i, ch in enumerate(e):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(e) - 1:
                return e  # `(a)==(b)`
        e = e[1:-1]
    return e


# Calls that return the calling thread's id (the standard and OS APIs).
_THREAD_ID = re.compile(r"(?:\b(?:GetCurrentThreadId|pthread_self|gettid|thrd_current|currentThreadId)\s*\(\s*\)"
                        r"|\bthis_thread::get_id\s*\(\s*\)|\bSYS_gettid\b|\bQThread::currentThread\s*\(\s*\))")
# A constant stored in an owner field on release (`-1`, `0`, `nullptr`, `{}`, `std::thread::id()`).
_CONSTANT = re.compile(r"-?\d+[uUlL]*|nullptr|NULL|\{\}|(?:std::)?thread::id(?:\(\)|\{\})|\(\w+\)-?\d+")
# Hot paths' patterns, compiled once (the re module's cache lookup per call added up).
_ELEMENT_OF = re.compile(r"([A-Za-z_]\w*)(?:\[[^\]]*\]|\.(?:at|front|back)\([^)]*\))")  # m_items[i], m_items.at(i)
_NAME_OR_GET = re.compile(r"([A-Za-z_]\w*)(?:\.get\(\)|\.lock\(\))?")  # p, p.get(), w.lock()
_MEMBER_PATH = re.compile(r"(.+?)(?:\.|->)([A-Za-z_]\w*)")  # a.b, a->b
_QUALIFIED_CALL = re.compile(r"(?:\w+::)+\w+\s*\([^()]*\)")  # Cls::instance(), ns::Cls::get(id)
_TEMPLATE_ARGS = re.compile(r"<.*>$")
_FILE_KEY = re.compile(r"[^:()]+:[A-Za-z_]\w*")  # "path:name": a file-static global
_LOCK_PATH = re.compile(r"[A-Za-z_]\w*(?:(?:\.|->|::)[A-Za-z_]\w*)*")
_THROUGH_POINTER = re.compile(r"(?:this->)?([A-Za-z_]\w*)->([A-Za-z_]\w*)(?![\w(])")


def accepts(fn, n_args: int) -> bool:
    """Whether `fn` can be called with `n_args` arguments. Too few only rules a target out when
    its definition is its own declaration (a template): an out-of-line definition does not
    repeat the default arguments its declaration gives."""
    params = fn.params
    if any(p.kind == "variadic" for p in params):
        return True
    if n_args > len(params):
        return False
    return not fn.is_template or n_args >= sum(1 for p in params if p.kind == "plain")


def access_verb(u) -> tuple[bool, str]:
    if u.access == "write":
        return True, "assigned"
    if u.access == "update":
        return True, "updated"
    if u.access == "method":
        m = u.method or ""
        if m in MUTATING_METHODS:
            return True, f"modified with `.{m}()`"
        return False, f"read (`.{m}()`)" if m else "read"
    if u.access == "address":
        return False, "address taken"
    if u.access == "call":
        return False, "called"
    return False, "read"


def _destroys_self(flow) -> bool:
    """`this->~T()` or `delete this` in the function's own body, under no branch, loop or switch,
    with no return or throw before it: every run ends the object's life, so whoever calls it
    must be the object's only user (`free_arena()`: `...; this->~arena(); deallocate(storage);`).
    A conditional one (`if (--refs == 0) delete this;`) proves nothing about what runs before."""
    for c in flow.calls:
        if c.lambda_index is not None:
            continue
        if not (c.kind == "delete" and [a.replace(" ", "") for a in c.args] == ["this"]
                or c.kind == "call" and c.receiver in ("this", "*this", "(*this)") and c.name.startswith("~")):
            continue
        sc = c.scope
        while sc is not None and flow.scopes[sc].kind in ("function", "block"):
            sc = flow.scopes[sc].parent
        if sc is not None:
            continue  # under an if / loop / switch / catch: not every run
        at = c.span.start_byte
        if any(r.lambda_index is None and r.span.start_byte < at for r in flow.returns) \
                or any(j.lambda_index is None and j.kind in ("throw", "goto") and j.span.start_byte < at for j in flow.jumps):
            continue
        return True
    return False


# A member reached through these is not held by the object alone: what it points to may be shared
# (a `unique_ptr` member's pointee is the owner's alone).
_NOT_OWNED = re.compile(r"[*&]|\b(?:shared_ptr|weak_ptr|intrusive_ptr|reference_wrapper|observer_ptr|not_null|span|string_view)\b")
_MEMBER_RECEIVER = re.compile(r"([A-Za-z_]\w*)(?:\[[^\]]*\])?")


def same_object_call(cs: CallSite) -> bool:
    """The call runs on the caller's own object, or on a member the caller's object holds by
    value (`init()`, `this->init()`, `my_cache.init()`, `m_slots[i].reset()`): whatever protects
    the caller's object from other threads protects the callee's too."""
    c = flow_call(cs.fn, cs)
    if c is None:
        return False
    if c.receiver is None:
        return "::" not in c.callee or all(t.cls is not None for t in cs.targets)  # `Base::init()`
    r = strip_wrapping(_norm_path(c.receiver))
    if r in ("this", "*this", "(*this)", ""):
        return True
    m = _MEMBER_RECEIVER.fullmatch(r)
    if m is None or c.receiver.replace(" ", "").startswith("(*"):
        return False
    f = cs.fn.fields.get(m.group(1))
    if f is None or f[1].kind != "field" or f[1].pointer_depth or f[1].is_reference:
        return False
    flow = cs.fn.fn.flow
    if flow.decl_named(m.group(1), c.span.start_byte, c.scope) is not None:
        return False  # a local of that name hides the member
    return not _NOT_OWNED.search(f[1].type)


def _lifecycle_call(cs: CallSite) -> bool:
    """A call made while the caller's object is being built or torn down, on that object or a
    member it holds by value."""
    caller = cs.fn
    return cs.runs_now and (caller.lifecycle or caller.context == "ctor") and same_object_call(cs)


def atomic_only(fl: FnLocks, depth: int = 3) -> bool:
    """The method touches no state but `std::atomic` members (directly, or through methods it
    calls that do the same, `depth` calls deep) and does not hand `this` on: `bool empty() const
    { return size() == 0; }` with `size()` a load of an atomic count. Calling it on a shared
    object races with nothing, whatever lock guards the object's other members."""
    if fl._atomic_only is not None:
        return fl._atomic_only
    if depth <= 0 or fl.cls is None:
        return False
    fl._atomic_only = False  # (a recursive call proves nothing)
    flow = fl.fn.flow
    ok = ((bool(fl.accesses) or bool(fl.calls)) and all(a.var is not None and a.var.is_atomic for a in fl.accesses)
          and not any(u.kind == "this" for u in flow.uses)
          and not _unseen_own_calls(fl)
          and all(t is not fl and atomic_only(t, depth - 1) for cs in fl.calls for t in cs.targets))
    fl._atomic_only = ok
    return ok


def _unseen_own_calls(fl: FnLocks) -> bool:
    """A call of one of the class's own methods whose definition the scan does not have."""
    own = set(fl.klass.method_decls) if fl.klass is not None else set()
    resolved = {cs.call for cs in fl.calls}
    return any(i not in resolved and c.kind == "call" and c.name in own and c.receiver in (None, "this")
               for i, c in enumerate(fl.fn.flow.calls))


def method_call_at(fl: FnLocks, a: Access) -> CallSite | None:
    """The resolved call `a` is the receiver of (`my_list.empty()` for the access to `my_list`)."""
    for cs in fl.calls:
        if cs.span.start_byte == a.span.start_byte and f"`.{cs.name}()`" in a.verb:
            c = flow_call(fl, cs)
            if c is not None and c.receiver is not None:
                return cs
    return None


def _is_main(fl: FnLocks) -> bool:
    return fl.fn.name in ("main", "wmain", "WinMain") and fl.cls is None


def _entry_fixpoint(fns: list[FnLocks]) -> None:
    """entry(F) = intersection over F's call sites S of (held(S) + entry(caller) when S runs now);
    context(F) = "ctor" / "main" when every call site sits in a constructor/destructor / main().

    A worklist: a function is evaluated again only when a caller's entry or context changed,
    and at most _FIXPOINT_ROUNDS times (long recursive cycles would otherwise take long)."""
    for fl in fns:
        for cs in fl.calls:
            for t in cs.targets:
                t.callers.append(cs)
    work = deque(fl for fl in fns if fl.callers)
    queued = {id(fl) for fl in work}
    rounds: dict[int, int] = defaultdict(int)
    while work:
        fl = work.popleft()
        queued.discard(id(fl))
        rounds[id(fl)] += 1
        if rounds[id(fl)] > _FIXPOINT_ROUNDS or not _entry_step(fl):
            continue
        for cs in fl.calls:
            for t in cs.targets:
                if t.callers and id(t) not in queued:
                    work.append(t)
                    queued.add(id(t))


_FIXPOINT_ROUNDS = 6


def _entry_step(fl: FnLocks) -> bool:
    """Re-evaluate fl's entry locks and context from its callers; True when they changed."""
    sets, gsets = [], []
    ctx = set()
    live = {id(cs) for cs in fl.callers if not _lifecycle_call(cs)}
    for cs in fl.callers:
        caller = cs.fn
        if live and id(cs) not in live:
            continue  # a constructor / destructor calls it before / after the object is shared
        held = set(cs.held)
        if cs.runs_now:
            # what the caller's callers hold, and what its annotations / comments say they hold
            held |= caller.entry | caller.annotated
            flow = caller.fn.flow
            lam = cs.lambda_index
            while lam is not None and lam not in caller.runs_later:
                held.update(k for i in flow.lambdas[lam].locks for k in caller.region_keys[i])
                lam = flow.lambdas[lam].parent
        # the guard passed as an argument names its mutex
        c = flow_call(caller, cs) if fl.guard_params else None
        via = set()
        if c is not None:
            for a in c.args:
                a = a.strip()
                for ri, r in enumerate(caller.fn.locks or []):
                    if r.guard == a:
                        via.update(caller.region_keys[ri])
            if any(a.strip() in caller.guard_params for a in c.args):
                via |= caller.entry_guarded
        sets.append(frozenset(held - via))
        gsets.append(frozenset(held | via))
        if not cs.runs_now:
            ctx.add("any")
        elif _lifecycle_call(cs):
            ctx.add("ctor")
        elif _is_main(caller) or caller.context == "main":
            ctx.add("main")
        else:
            ctx.add("any")
    entry = frozenset.intersection(*sets) if sets else frozenset()
    guarded = (frozenset.intersection(*gsets) - entry) if gsets and fl.guard_params else frozenset()
    context = ctx.pop() if len(ctx) == 1 else "any"
    if entry != fl.entry or context != fl.context or guarded != fl.entry_guarded:
        fl.entry, fl.context, fl.entry_guarded = entry, context, guarded
        return True
    return False


def _together(regions, span) -> list[int]:
    """Holders taken together by the `std::lock(a, b)` call at `span`."""
    return [i for i, r in enumerate(regions) if any(op[0] == "acq" and len(op) > 3 and op[2] == span for op in r.ops)]


def flow_call(fl: FnLocks, cs: CallSite):
    calls = fl.fn.flow.calls
    return calls[cs.call] if 0 <= cs.call < len(calls) else None


THREAD_STARTERS = frozenset({"thread", "jthread", "async", "pthread_create", "_beginthreadex", "CreateThread"})


def _threaded_files(fns: list[FnLocks], index: "ProjectIndex") -> frozenset[str]:
    """Files with evidence that their code runs on several threads: lock regions, thread starts,
    atomics or mutexes declared (fields, globals, locals)."""
    out = set()
    for fl in fns:
        if fl.path in out:
            continue
        if any(h.kind != "param" for h in fl.fn.locks or ()):
            out.add(fl.path)
            continue
        flow = fl.fn.flow
        if any(c.name in THREAD_STARTERS and (c.kind == "construct" or "::" in c.callee or c.callee in THREAD_STARTERS)
               for c in flow.calls):
            out.add(fl.path)
            continue
        if any(_sync_decl(d.type) for d in flow.decls):
            out.add(fl.path)
    for f in index.files:
        if f.cpp is None or f.path in out:
            continue
        if any(_sync_decl(v.type) for v in f.cpp.globals) or any(_sync_decl(v.type) for k in f.cpp.classes for v in k.fields):
            out.add(f.path)
    return frozenset(out)


def _sync_decl(type_text: str) -> bool:
    t = type_text.replace(" ", "")
    return "atomic" in t or "mutex" in t.lower() or t.endswith("thread") and "std::" in t


def _build(index: "ProjectIndex") -> LockingIndex:
    b = _Builder(index)
    for facts in index.files:
        if facts.cpp is None:
            continue
        for fn in facts.cpp.functions:
            if fn.flow is None or fn.body is None:
                continue
            b.prepare(facts, fn)
    for fl in b.fns:
        b.resolve_locks(fl)
    b.method_names_defined = {name for _cls, name in b.methods}
    b.defined_names = b.method_names_defined | set(b.free)
    for fl in b.fns:
        if fl.runs_later:
            b.callee_run_lambdas(fl)
    for fl in b.fns:
        b.resolve_calls(fl)
        b.collect_accesses(fl)
    _entry_fixpoint(b.fns)
    threaded = _threaded_files(b.fns, index)
    return LockingIndex(b.fns, {id(fl.fn): fl for fl in b.fns}, dict(b.classes), bool(threaded), threaded,
                        # The index memoizes this object: a strong reference back would make a cycle holding
                        # every file's facts, left to the cyclic collector (a leak in a long-lived process).
                        index=weakref.proxy(index))


def locking_index(index: "ProjectIndex") -> LockingIndex:
    return index.memo("lifelint.locking", _build)


# --- helpers the rules share -------------------------------------------------------------------

def is_global_key(key: str) -> bool:
    """A namespace-scope or file-static lock / variable key (not a class member, not a local)."""
    return key.startswith("::") or bool(_FILE_KEY.fullmatch(key))


def display_lock(key: str) -> str:
    """A lock or field key as people write it: `ns::ram_disk_io::m_mutex` -> `ram_disk_io::m_mutex`,
    `::g_mutex` -> `g_mutex`, `path:g` -> `g`, a function-local key -> its name."""
    if key.startswith("::"):
        return key[2:]
    if key.endswith(")") and "(" in key:
        return key[key.rindex("(") + 1:-1]
    parts = key.split("::")
    if len(parts) >= 2 and ":" not in parts[-1]:
        cls = re.sub(r"@.*$", "", parts[-2])
        if ":" in cls:  # "path:fn" keys of function locals
            return parts[-1]
        return f"{cls}::{parts[-1]}" if cls else parts[-1]
    return key.rsplit(":", 1)[-1]


def transitive_acquires(fl: FnLocks, depth: int = 3) -> dict[str, tuple[list[FnLocks], Acquire]]:
    """lock key -> (functions on the way, the acquisition) for every lock `fl` takes directly or in
    a callee up to `depth` calls away, counting only code that runs now. The function list starts
    with `fl` and ends with the function that takes the lock; the shortest chain wins."""
    out: dict[str, tuple[list[FnLocks], Acquire]] = {}
    frontier: list[list[FnLocks]] = [[fl]]
    seen = {id(fl)}
    for level in range(depth + 1):
        nxt = []
        for chain in frontier:
            f = chain[-1]
            for a in f.acquires:
                if f.lambda_runs_later(a.lambda_index):
                    continue
                if a.lock not in out:
                    out[a.lock] = (chain, a)
            if level == depth:
                continue
            for cs in f.calls:
                if not cs.runs_now:
                    continue
                for t in cs.targets:
                    if id(t) not in seen:
                        seen.add(id(t))
                        nxt.append([*chain, t])
        frontier = nxt
    return out
