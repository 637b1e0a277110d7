"""Which thread runs what: the thread model of design.md §2.2, for C++ and Rust.

Built once per project from the facts (`thread_model(index)` / `rust_thread_model(index)`), read
by the concurrency rules (LL201, LL202), which cite its roots as evidence.

**Roots** are the places code starts running on a thread of its own:

- `main` (one root: the program's first thread);
- thread entry points: a lambda or a function handed to `std::thread` / `std::jthread` /
  `boost::thread`, `pthread_create`, `_beginthreadex` / `CreateThread`, `std::async`,
  `QtConcurrent::run`; the `run()` of a `QThread` / `QRunnable`-like subclass; Rust
  `std::thread::spawn`, `thread::scope`'s `s.spawn`, `tokio::spawn` / `spawn_blocking`, rayon;
- work handed to a pool or executor (`submit` / `execute` / `enqueue`, a pool's `post`), which
  may run on several pool threads at once;
- handlers posted to an event loop or strand (`post` / `dispatch` / `defer` / `co_spawn`, Qt's
  queued `invokeMethod`, a functor or slot Qt `connect`s with a context object (it runs on that
  object's thread, whoever emits), the sinks of `lifelint.sinks` and `cpp.async-sinks`): they all run on
  that loop's thread, so writes confined to it do not race with each other (*thread
  confinement*);
- signal handlers (`signal`, `sigaction`'s `sa_handler`/`sa_sigaction`, `signal_hook`);
- functions exported to another language (`extern "C"`, also through an export macro whose
  `#define` says it, SWIG `%extend` / `%inline`, Rust `extern "C"` / `#[no_mangle]`): any host
  thread can call them, several at once. When the tree has a `main`, a C++ `extern "C"`
  definition is one only while a header publishes it (an `extern "C"` or export-macro
  prototype, `CppFacts.c_api` / `macro_prototypes`), its own file defines no `main` and the project
  neither calls it nor passes it as a callback (a test or tool elsewhere does not make a
  library's published C API the program's own code).

Roots are propagated through the call graph (the lock index's resolved call sites for C++, calls
by name for Rust) to every function and lambda they reach; a callback stored in a member and
invoked by name (`p.on_done()`) is reached from where it is invoked. A function handed by name
to an object only one thread can reach (a local object that does not leave its function, or a
`thread_local` one: `t_loop.add_reader(fd, on_data)`) runs on that thread, inside the later
calls on that object: it is reached from the last such call (`t_loop.run()`), which also orders
it after what the thread did before (a once flag it passed, a value it set).

**Phases** (Eraser's *exclusive* state, statically): code that runs before a root is started in
the same function (or in a function only called from such a point: `main`'s setup before its
first spawn; constructions count as calls) happens before that root, and before every root that
only threads started after it start in turn (thread creation orders transitively); code after
the root's thread is joined (in the same function, or in a method of the class that keeps the
thread in a member) happens after it; so does code after a wait for submitted work in the body
that submitted it (`get()`/`wait()` on the future it returned, `join()`/`wait()` on the pool it
went to, the end of the statement for a discarded `std::async` future). Neither races with that
root. Code in the other branch of the `if` (or `else if`) that holds a spawn or a join, with no
loop around that `if`, is neither after the spawn nor after the join: no run of the body passes
both.

**The single-threaded start** (`prethread`; Eraser's *virgin/exclusive* initialisation, RacerD's
ownership before publication): in a program, code on `main`'s thread before it starts, posts or
installs anything, in `main` or in helpers and constructors run only from such points (reached
from no other root), races with nothing: no other thread exists yet, and every thread starts
after it. A call the model cannot follow that may start a thread (an unresolved call of a name
some project definition of which starts one; a callable handed in as a member, or as a
parameter unless every caller hands in a function or lambda that starts none) ends that phase.
A signal handler installed in it ends it for the handler only (`prethread_threads`: the handler
interrupts `main`'s own thread; the code after it still runs before any other thread). Calls
from test cases a framework's macro makes (`TEST(..) { .. }`, no root of ours reaches them) are
the test program's, not this one's start. A call made only while a global still holds its
initial value (`if (mode == MODE_UNSET) setup();`) does not take its callee out of the start
when the callee sets that global and runs in the start too: after the start-up call the test
fails, so the lazy call never runs on a thread (a global set back to its initial value
anywhere is no such guard). A helper that returns (or throws) on some path before its `exit`
does not end the process, so a caller that calls it goes on (`require_dir()` returning when the
directory is fine).

**Handshakes**: a release of a sync object (an atomic store, a notify, `set_value`, a semaphore's
`release`) after one access and an acquire of the same object before the other order the two.
Objects are told apart by owner (`_CppBuilder.sync_key`), not by name. An acquire that can fail
(an atomic load, a timed wait, a `try_acquire`) orders only the code that runs where it
succeeded (`_Sync.regions`, from the conditions that test it: lifelint.facts.cpp_flow.Decided);
one that cannot fail (a wait without timeout, `get()`) orders everything after it. An accessor
acquires at its call sites: on every path (a helper that waits), or where the call's result says
so (`bool ready() { return done.load(); }`).

**One-time initialisation**: `std::call_once` / `pthread_once` on a flag take the flag before the
callable runs and release it to every caller after; an atomic "done" flag stored after the
initialisation is a handshake like any other, for readers that saw it. Two threads that both
found it unset are not ordered (a check-then-set with no lock is no once). A single-winner gate
(`if (!claimed.exchange(true))`, a successful `compare_exchange_*(.., true)`) on a flag nothing
clears or re-arms runs its branch once: two accesses in that branch never run at the same time.

`may_race(a, b)` answers for two accesses: can they run at the same time on different threads?
Only with positive evidence: two different roots that are not ordered by a phase, at least one of
them a real thread (not `main`, not an event loop), or one root that can run concurrently with
itself (a thread started in a loop, a pool task, an exported function). Code no root reaches runs
on a caller's thread we cannot see: it races with a real thread root, never with `main`, an event
loop or other such code.
"""

from __future__ import annotations

import re
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lifelint.locking import class_of_type, scope_at
from lifelint.model import Span
from lifelint.platforms import MAIN_NAMES, platforms_of
from lifelint.sinks import BINDERS, TRANSPARENT, call_is_async_sink

# Kinds of root; "strong" ones are threads of their own for sure.
STRONG = frozenset({"thread", "task", "signal", "exported"})
# Kinds that are threads of their own (a signal handler runs on whichever thread it interrupts).
THREADS = frozenset({"thread", "task", "exported"})

# Free functions that start a thread running their function argument at this index.
THREAD_START_ARG = {"pthread_create": 2, "_beginthreadex": 2, "_beginthread": 0, "CreateThread": 2,
                    "g_thread_new": 1, "g_thread_try_new": 1, "SDL_CreateThread": 0, "thrd_create": 1}
THREAD_TYPES = frozenset({"thread", "jthread"})
# Methods that queue work on a pool or executor that may run it on any of its threads.
TASK_METHODS = frozenset({"submit", "execute", "enqueue", "run_async", "spawn_task"})
# Receivers whose `execute` is synchronous (runs the work inside the arena, then returns).
_SYNC_EXECUTE = re.compile(r"(?i)arena")
# Receivers whose `post`/`dispatch` reach a pool (several threads), not one event loop.
_POOL_TYPE = re.compile(r"(?i)thread_?pool|threadpool|static_thread_pool|task_group|task_arena|executor_pool")
# Bases whose `run()` (or wxThread's `Entry()`) runs on a thread the object starts.
THREAD_BASES = {"QThread": "run", "QRunnable": "run", "Runnable": "run", "Thread": "run", "wxThread": "Entry",
                "PThread": "run", "thread_base": "run"}
SIGNAL_FUNCTIONS = frozenset({"signal", "sigset", "bsd_signal", "sysv_signal"})
SIGNAL_FIELDS = frozenset({"sa_handler", "sa_sigaction"})
JOIN_METHODS = frozenset({"join", "join_all", "wait", "get"})
# Waits on a future that return only once the task has finished (no timeout).
_FUTURE_WAITS = frozenset({"get", "wait"})
# Calls on a pool that return once all the work handed to it has run.
_POOL_JOINS = frozenset({"join", "wait", "wait_for_all", "wait_for_tasks"})
_IDENT_RE = re.compile(r"[A-Za-z_]\w*")
# C library functions that projects re-implement in platform shims (a win32 `close`, a compat
# `strdup`): an unqualified call to one is taken to reach the C library, not the shim.
LIBC_NAMES = frozenset({
    "close", "read", "write", "open", "socket", "connect", "accept", "bind", "listen", "send", "recv", "sendto",
    "recvfrom", "select", "poll", "stat", "fstat", "lstat", "unlink", "rename", "opendir", "readdir", "closedir",
    "dup", "dup2", "pipe", "fcntl", "ioctl", "kill", "getpid", "sleep", "usleep", "strerror", "getaddrinfo",
    "gettimeofday", "localtime", "gmtime", "strdup", "free", "malloc", "realloc", "calloc", "printf", "fprintf",
    "snprintf", "vsnprintf", "syslog", "openlog", "getenv", "setenv", "mkdir", "rmdir", "chdir", "getcwd", "fork",
    "waitpid", "signal", "sigaction", "inet_ntop", "inet_pton", "gethostname", "shutdown", "truncate", "ftruncate",
    "fsync", "mmap", "munmap", "access", "chmod", "time", "clock_gettime", "exit", "abort"})

# _SIGNAL_DEPTH: a signal handler is a root for its own body only. What it calls (a handler that
# saves the whole game on SIGTERM) is async-signal-unsafe as a whole, which is not this model's
# finding to make variable by variable; the flags a handler sets itself are.

# Synchronous fault signals: their handler runs on the faulting thread while the process dies.
_FAULT_SIGNAL = re.compile(r"\bSIG(?:SEGV|BUS|FPE|ILL|ABRT|SYS|TRAP)\b")
_ENDS_PROCESS = frozenset({"abort", "_exit", "_Exit", "exit", "quick_exit", "terminate", "raise", "ExitProcess",
                           "TerminateProcess"})


def _terminates(fl) -> bool:
    """A handler that ends the process (a crash handler: logs, then aborts or re-raises): what it
    reads or writes on the way out is no race worth a finding."""
    return any(c.name in _ENDS_PROCESS and c.receiver is None and c.lambda_index is None for c in fl.fn.flow.calls)


# Calls that end the process for sure (`raise` may return; a bare `terminate()` may be a method).
_EXITS = frozenset({"abort", "_exit", "_Exit", "exit", "quick_exit", "ExitProcess", "TerminateProcess"})

_MAKERS = frozenset({"make_unique", "make_shared", "allocate_shared", "make_intrusive"})
_NOT_A_HANDLER = frozenset({"SIG_IGN", "SIG_DFL", "SIG_ERR", "nullptr", "NULL", "0"})
_QUALIFIED_NAME = re.compile(r"[\w:]+")
_ROOT_NAME = re.compile(r"[&*(]*(?:this->)?([A-Za-z_]\w*)")  # the variable an expression starts from
_FN_REF = re.compile(r"^&?\s*((?:[A-Za-z_]\w*\s*::\s*)*)([A-Za-z_~]\w*)$")


@dataclass(eq=False)
class Root:
    """A place code starts running on a thread of its own."""

    kind: str  # "main", "thread", "task", "posted", "signal", "exported"
    what: str  # "the thread started in `server::start`", ...
    path: str  # where it is created (the spawn call, or the function for main / exported / run)
    span: Span
    multi: bool = False  # may run concurrently with itself
    group: str | None = None  # posted roots with one group run on one thread (one strand / loop)
    cls: str | None = None  # the class whose method creates it (a class that starts its own threads)
    # (class, member) the thread object is stored in: a `std::thread` member must be joined or
    # detached before it is assigned again, so two roots stored in one member run one after the
    # other (a worker restarted by `stop(); m_thread = std::thread(..)`), not at the same time.
    slot: tuple | None = None
    waited: bool = False  # a task each run of its submitting code waits for (ThreadModel: future_join)

    @property
    def strong(self) -> bool:
        return self.kind in STRONG

    def same_thread(self, other: "Root") -> bool:
        return self is other or (self.group is not None and self.group == other.group)


@dataclass
class _Point:
    """A spawn or join point in a body: at `byte`, in lambda context `ctx`, roots started/joined."""

    byte: int
    ctx: Any
    roots: frozenset
    loops: tuple = ()  # enclosing loop scopes (a spawn in a loop repeats)
    raw: Any = None  # the lambda the point is written in (its context is settled once roots are known)


@dataclass
class _Site:
    """A place that runs project functions now on the caller's thread: a call, or a construction
    (which runs the class's constructor)."""

    fn: Any  # the caller (FnLocks)
    lam: Any  # the lambda it is written in, or None
    start: int
    end: int
    targets: tuple


# Library calls that may start a thread-base subclass's `run()` (QThread::start, wxThread::Run, ...).
_START_WORDS = frozenset({"start", "Start", "run", "Run", "exec", "launch", "startThread", "StartThread"})

# Rounds of the fixpoints over the call graph (callees' starts climbing to callers, entry phases):
# bounded, so that cycles stay empty and a deep chain of helpers is still followed.
_DEPTH = 16


@dataclass
class _Sync:
    """A release or an acquire of a sync object (by its name) at `byte` of a body, context `ctx`."""

    byte: int
    ctx: Any
    obj: str
    kind: str  # "release" / "acquire"
    loops: tuple = ()
    raw: Any = None
    sure: bool = False  # on every path through the function body (no branch, loop or early exit before it)
    # An acquire that can fail (a load that may not see the flag, a timed wait that may time out,
    # a try_acquire): the byte ranges that run only when it succeeded (see _CppBuilder.success);
    # None for one that cannot fail (a wait without timeout, `get()`, call_once).
    regions: tuple | None = None
    returned: bool = False  # a failing acquire whose result the function returns (an accessor)


# Handshake calls on a synchronising object (its declared type must say it is one, see _SYNC_TYPE).
RELEASE_METHODS = frozenset({"store", "exchange", "fetch_add", "fetch_sub", "fetch_or", "fetch_and", "fetch_xor",
                             "test_and_set", "notify_one", "notify_all", "set_value", "set_exception",
                             "set_value_at_thread_exit", "count_down", "arrive", "arrive_and_wait", "release"})
ACQUIRE_METHODS = frozenset({"load", "exchange", "compare_exchange_weak", "compare_exchange_strong", "test_and_set",
                             "test", "wait", "wait_for", "wait_until", "get", "arrive_and_wait", "acquire",
                             "try_acquire", "try_acquire_for"})
# Acquires that can fail: they order only the code that runs when they succeeded (a load that
# saw the flag, a timed wait that did not time out, a try_acquire that got it). Atomic
# read-modify-writes succeed whatever the value they saw, once it is looked at.
FALLIBLE_ACQUIRES = frozenset({"load", "test", "wait_for", "wait_until", "try_acquire", "try_acquire_for",
                               "try_acquire_until", "try_wait", "tryAcquire"})
RMW_ACQUIRES = frozenset({"exchange", "compare_exchange_weak", "compare_exchange_strong", "test_and_set"})
# Qt's `QWaitCondition::wait(&mutex, timeout)` / `QSemaphore`: a second argument is a timeout.
_QT_TIMED = re.compile(r"\bQWaitCondition\b|\bQSemaphore\b")
_SET_VALUES = frozenset({"true", "1", "TRUE"})
_TIMED_OUT = re.compile(r"(?:^|::)(?:timeout|deferred)$")
_SYNC_TYPE = re.compile(r"\batomic\b|atomic_flag|condition_variable|\bfuture\b|shared_future|\bpromise\b|\blatch\b|"
                        r"\bbarrier\b|semaphore|\bQWaitCondition\b|\bQSemaphore\b|\bonce_flag\b|\bpthread_once_t\b")
# One-time initialisation: `std::call_once(flag, f)` / `pthread_once(&once, f)` run `f` once; its
# end happens before every return from a call on the same flag (a release and an acquire of it).
ONCE_CALLS = frozenset({"call_once", "pthread_once"})


class _Reach:
    """Which roots reach each context, and how it got there (ThreadModel.roots_at's table).

    Most contexts are reached by the same few sets of roots (a library's helpers, reached from
    every thread that calls into it), so a context holds the number of its set, and the sets form
    a tree: set `n` is set `parent[n]` plus root `last[n]`, the roots in the order they were
    added (ThreadModel.roots). A root's walk moves each context it reached from its set `s` to
    `s` plus that root: one new set per distinct `s`, not one entry per context (issue 16: a
    `{root: label}` map per context grows with roots x contexts). A root's label (the entry
    that reached the context) is kept once when every context it reaches got the same one (a
    spawned closure, `main`), else per context (an exported root: each function its own)."""

    __slots__ = ("at", "parent", "last", "roots", "labels", "_cache")

    _CACHED = 4096  # materialised {root: label} maps kept (roots_at is asked per access pair)

    def __init__(self):
        self.at: dict = {}  # context -> set number (0: the empty set)
        self.parent = array("i", [0])
        self.last = array("i", [-1])
        self.roots: list = []  # root number -> Root
        self.labels: list = []  # root number -> its label, or {context: label}
        self._cache: dict = {}

    def add(self, root, reached: dict) -> None:
        """Root `root` (the next one in order) reaches each context of `reached` {context: label}."""
        i = len(self.roots)
        self.roots.append(root)
        first = next(iter(reached.values()), "")
        self.labels.append(first if all(v == first for v in reached.values()) else reached)
        at, parent, last = self.at, self.parent, self.last
        moved: dict = {}  # old set -> old set plus this root
        for ctx in reached:
            old = at.get(ctx, 0)
            new = moved.get(old)
            if new is None:
                new = moved[old] = len(parent)
                parent.append(old)
                last.append(i)
            at[ctx] = new
        self._cache.clear()

    def get(self, ctx) -> dict:
        """{root: label} of the roots that reach `ctx`, in root order. Shared: do not modify."""
        n = self.at.get(ctx, 0)
        if not n:
            return {}
        got = self._cache.get(n)
        if got is None:
            got = self._cache.get(ctx)
        if got is not None:
            return got
        idx = []
        parent, last = self.parent, self.last
        while n:
            idx.append(last[n])
            n = parent[n]
        roots, labels = self.roots, self.labels
        got = {}
        pure = True
        for i in reversed(idx):
            label = labels[i]
            if label.__class__ is dict:
                label = label[ctx]
                pure = False
            got[roots[i]] = label
        cache = self._cache
        if len(cache) >= self._CACHED:
            del cache[next(iter(cache))]
        cache[self.at[ctx] if pure else ctx] = got
        return got

    def __len__(self) -> int:
        return len(self.at)


@dataclass
class ThreadModel:
    roots: list[Root] = field(default_factory=list)
    # context -> {root: label of the entry that reached it} (see _Reach); a context is
    # (id(FnLocks), lambda or None)
    reach: _Reach = field(default_factory=_Reach)
    spawns: dict = field(default_factory=lambda: defaultdict(list))  # id(FnLocks) -> [_Point]
    joins: dict = field(default_factory=lambda: defaultdict(list))  # id(FnLocks) -> [_Point]
    entry_before: dict = field(default_factory=dict)  # id(FnLocks) -> roots started after every call of it
    entry_after: dict = field(default_factory=dict)  # id(FnLocks) -> roots joined before every call of it
    # id(FnLocks) -> roots every call of it is ordered with, each call its own way (one before the
    # thread starts, another after it is joined): wider than entry_before | entry_after
    entry_ordered: dict = field(default_factory=dict)
    ctx_map: dict = field(default_factory=dict)  # (id(FnLocks), lambda) -> context lambda
    resolve_ctx: Any = None  # (FnLocks, lambda) -> the lambda whose body is its context, or None
    handles: dict = field(default_factory=dict)  # Rust: id(Flow) -> the function handle queries take
    # Handshakes (a release store / notify / set_value on a sync object, an acquire load / wait /
    # get on the same object): id(FnLocks) -> [_Sync]; entry sets over the callers.
    syncs: dict = field(default_factory=lambda: defaultdict(list))
    entry_released: dict = field(default_factory=dict)  # id(FnLocks) -> objects released after every call
    entry_acquired: dict = field(default_factory=dict)  # id(FnLocks) -> objects acquired before every call
    # lifelint.platforms.Platforms: code of files built for different platforms (linux/ and
    # freebsd/, *_win32.cpp and *_posix.cpp) and the roots started there never run in one program.
    platforms: Any = None
    # The single-threaded start of a program (see `prethread`): functions whose every run is on
    # `main`'s thread before it starts anything, and calls that may start threads the model cannot
    # name (an unresolved call of a name whose project definitions start some): id(FnLocks) -> [_Point].
    pre_entry: set = field(default_factory=set)
    # The same before any *thread* starts: a signal handler installed earlier interrupts `main`'s
    # thread, it is no second thread (see `prethread_threads`).
    pre_entry_threads: set = field(default_factory=set)
    # Root -> the roots whose code starts it (only when every place that starts it is reached
    # from a known root): a thread started by threads that start after a point starts after it.
    parents: dict = field(default_factory=dict)
    _desc: dict = field(default_factory=dict)
    opaque: dict = field(default_factory=lambda: defaultdict(list))
    # Single-winner gates: id(FnLocks) -> [(context lambda, sync key, regions)]: code that runs
    # only for the one caller that flipped a flag never reset (`if (!claimed.exchange(true))`,
    # `if (!f.test_and_set())`, a successful `compare_exchange_strong`): it runs once.
    once_gates: dict = field(default_factory=lambda: defaultdict(list))
    # id(FnLocks) of a constructor -> [(FnLocks, lambda, byte)]: where objects are built that run
    # it (`T x;`, `T x(a)`, `new T`, a derived class's or an owner's construction). The lock
    # index's callers list calls only; start-up questions ask about these too.
    built_at: dict = field(default_factory=lambda: defaultdict(list))
    _chains: dict = field(default_factory=dict)  # (id(flow), byte) -> scope chain (see _exclusive)

    def release(self) -> None:
        """Drop the link back to the builder (and through it the project index): see
        lifelint.index.ProjectIndex.release. The model is unusable afterwards."""
        self.resolve_ctx = None
        for rf in self.handles.values():  # Rust: callers link functions that call each other
            rf.groups = []
        self.handles = {}
        self.reach, self.spawns, self.joins, self.syncs, self.opaque = _Reach(), {}, {}, {}, {}
        self.parents, self._desc, self.built_at, self._chains = {}, {}, {}, {}

    # -- queries ---------------------------------------------------------------------------
    def context(self, fl, lam: int | None):
        if lam is None:
            return (id(fl), None)
        got = self.ctx_map.get((id(fl), lam), ...)
        if got is ...:
            got = self.resolve_ctx(fl, lam) if self.resolve_ctx is not None else lam
        return (id(fl), got)

    def roots_at(self, fl, lam: int | None) -> dict:
        """{root: how it gets here} for code of `fl` in lambda `lam` (empty: no root reaches it)."""
        return self.reach.get(self.context(fl, lam))

    def before(self, fl, lam: int | None, byte: int) -> frozenset:
        """Roots started after this point, by this body or its callers: it happens before them."""
        ctx = self.context(fl, lam)
        out = set()
        for p in self.spawns.get(id(fl), ()):
            if p.ctx == ctx[1] and (p.byte > byte and not any(a <= byte < b for a, b in p.loops)
                                    or p.byte < byte and self._exclusive(fl, p.byte, byte)):
                out |= p.roots
        if ctx[1] is None:
            out |= self.entry_before.get(id(fl), frozenset())
        return self.descendants(frozenset(out))

    def _exclusive(self, fl, x: int, y: int) -> bool:
        """Bytes `x` and `y` of `fl`'s body lie in the two branches of one `if` (the `then` and
        the `else`, also down an `else if` chain) with no loop around that `if`: no run of the
        body reaches both (`if (gui) { start_threads(); } else { console_setup(); }`)."""
        flow = getattr(getattr(fl, "fn", None), "flow", None)
        scopes = getattr(flow, "scopes", None)
        if not scopes:
            return False
        cx, cy = self._chain(flow, x), self._chain(flow, y)
        common = set(cx) & set(cy)
        if not common:
            return False
        # the lowest common scope, and the child of it on each side
        i = next(k for k, sc in enumerate(cx) if sc in common)
        j = cy.index(cx[i])
        if i == 0 or j == 0:
            return False
        top = scopes[cx[i]]
        if top.kind != "if" or {scopes[cx[i - 1]].branch, scopes[cy[j - 1]].branch} != {"then", "else"}:
            return False
        return not any(scopes[k].kind in ("for", "while", "do") for k in cx[i:])

    def _chain(self, flow, byte: int) -> list:
        """Indices of the scopes of `flow` holding `byte`, innermost first."""
        key = (id(flow), byte)
        got = self._chains.get(key)
        if got is None:
            best = scope_at(flow, byte)
            sc = flow.scopes[best]
            if not sc.span.start_byte <= byte < sc.span.end_byte:
                best = None  # outside the body
            got = []
            while best is not None and 0 <= best < len(flow.scopes) and len(got) < 256:
                got.append(best)
                best = flow.scopes[best].parent
            self._chains[key] = got
        return got

    def descendants(self, started: frozenset) -> frozenset:
        """`started` and the roots only threads of it start, transitively: thread creation
        orders what its creator did before with everything the new thread does, and with every
        thread that one creates in turn."""
        if not started or not self.parents:
            return started
        got = self._desc.get(started)
        if got is None:
            out = set(started)
            for _ in range(16):
                more = {r for r, ps in self.parents.items() if r not in out and ps <= out}
                if not more:
                    break
                out |= more
            got = self._desc[started] = frozenset(out)
        return got

    def after(self, fl, lam: int | None, byte: int) -> frozenset:
        """Roots whose threads were joined before this point: it happens after them."""
        ctx = self.context(fl, lam)
        out = set()
        for p in self.joins.get(id(fl), ()):
            if p.ctx == ctx[1] and p.byte < byte and not self._exclusive(fl, p.byte, byte):
                out |= p.roots
        if ctx[1] is None:
            out |= self.entry_after.get(id(fl), frozenset())
        return frozenset(out)

    def ordered(self, fl, lam: int | None, byte: int) -> frozenset:
        """Roots this point cannot run at the same time as: started after it or joined before it,
        here or at every call of its function, each call either way (`w.setup(); w.start();` on
        one path, `w.join(); w.result()` on another: `result()` always runs after the thread
        ended or before it began)."""
        out = self.before(fl, lam, byte) | self.after(fl, lam, byte)
        if self.context(fl, lam)[1] is None:
            out |= self.entry_ordered.get(id(fl), frozenset())
        return out

    def set_entry_phases(self, fid: int, sites) -> bool:
        """A function's entry phases from every (caller, lambda, byte) that runs it: the roots
        started after / joined before / ordered with all of them. True when they changed (the
        builders repeat this over the call graph to a bounded fixpoint)."""
        b = a = o = None
        for fn, lam, byte in sites:
            vb, va = self.before(fn, lam, byte), self.after(fn, lam, byte)
            vo = vb | va  # ordered(), without computing before/after twice
            if self.context(fn, lam)[1] is None:
                vo |= self.entry_ordered.get(id(fn), frozenset())
            b = vb if b is None else b & vb
            a = va if a is None else a & va
            o = vo if o is None else o & vo
            if not (b or a or o):
                break  # an intersection that is empty stays empty: a function with thousands of call sites
        old = (self.entry_before.get(fid, frozenset()), self.entry_after.get(fid, frozenset()), self.entry_ordered.get(fid, frozenset()))
        if (b, a, o) == old:
            return False
        self.entry_before[fid], self.entry_after[fid], self.entry_ordered[fid] = b, a, o
        return True

    def released_after(self, fl, lam, byte) -> frozenset:
        """Sync objects this point is followed by a release of (in its body, outside any loop that
        also holds the point, or after every call of its function)."""
        ctx = self.context(fl, lam)
        out = set()
        for p in self.syncs.get(id(fl), ()):
            if p.kind == "release" and p.ctx == ctx[1] and p.byte > byte and not any(a <= byte < b for a, b in p.loops):
                out.add(p.obj)
        if ctx[1] is None:
            out |= self.entry_released.get(id(fl), frozenset())
        return frozenset(out)

    def acquired_before(self, fl, lam, byte) -> frozenset:
        """Sync objects acquired (waited for, loaded) before this point, in its body or before
        every call of its function. An acquire that can fail counts only where it succeeded."""
        ctx = self.context(fl, lam)
        out = set()
        for p in self.syncs.get(id(fl), ()):
            if p.kind == "acquire" and p.ctx == ctx[1] and p.byte < byte and (
                    p.regions is None or any(a <= byte < b for a, b in p.regions)):
                out.add(p.obj)
        if ctx[1] is None:
            out |= self.entry_acquired.get(id(fl), frozenset())
        return frozenset(out)

    def prethread(self, fl, lam, byte) -> bool:
        """Code that runs on `main`'s thread before the program starts any other thread (or posts
        work, or installs a signal handler): in `main` before its first spawn (a spawn in a loop
        around the point counts as before it), or in a function every call of which is such a
        point (transitively; constructions count as calls), reached from no other root. Nothing
        else runs yet, and every thread is started after it (directly, or by a thread started
        after it): it happens before every access of every other thread, so it races with none
        (Eraser's initialisation state; RacerD's ownership before publication)."""
        return self._pre(self.pre_entry, fl, lam, byte, False)

    def prethread_threads(self, fl, lam, byte) -> bool:
        """Like `prethread`, but a signal handler installed before the point does not end it: the
        code still runs before any other thread exists, so it races with no thread (only, maybe,
        with that handler, which interrupts `main`'s own thread)."""
        return self._pre(self.pre_entry_threads, fl, lam, byte, True)

    def _pre(self, entries: set, fl, lam, byte, signals_ok: bool) -> bool:
        if id(fl) not in entries or self.context(fl, lam)[1] is not None:
            return False
        for table in (self.spawns, self.opaque):
            for p in table.get(id(fl), ()):
                if p.ctx is None and (p.byte < byte or any(a <= byte < b for a, b in p.loops)):
                    if signals_ok and p.roots and all(r.kind == "signal" for r in p.roots):
                        continue
                    if p.byte < byte and not p.loops and self._exclusive(fl, p.byte, byte):
                        continue  # in the other branch of an `if`: not before this point on its path
                    return False
        return True

    def handshake(self, fa, la, ba, fb, lb, bb) -> bool:
        """One access is followed by a release of a sync object that the other waits for (an
        acquire before it): the handshake orders them (a ready flag stored with release and loaded
        with acquire, a condition variable notified and waited on, a promise set and its future
        read)."""
        if not self.syncs:
            return False
        return bool(self.released_after(fa, la, ba) & self.acquired_before(fb, lb, bb)) or \
            bool(self.released_after(fb, lb, bb) & self.acquired_before(fa, la, ba))

    def gated_once(self, fl, lam, byte) -> frozenset:
        """Keys of the single-winner gates whose winning branch holds this point."""
        gates = self.once_gates.get(id(fl))
        if not gates:
            return frozenset()
        ctx = self.context(fl, lam)[1]
        return frozenset(k for c, k, regions in gates if c == ctx and any(a <= byte < b for a, b in regions))

    def may_race(self, fa, la, ba, fb, lb, bb, skip_kinds=(), known_only=False):
        """Can code at (function, lambda, byte) a and b run at the same time on two threads?
        Returns (root of a, root of b) as evidence (None stands for code no root reaches), or
        None when they cannot (same thread, ordered by a phase, or no evidence). Roots of
        `skip_kinds` are left out (a `volatile` flag is what a signal handler may write).
        `known_only`: both sides must be reached from a root (positive evidence of two threads,
        the precise parts of LL201/LL202); code no root reaches is then no evidence."""
        plat = self.platforms
        pa, pb = getattr(fa, "path", None), getattr(fb, "path", None)
        if plat is not None and not plat.compatible(pa, pb):
            return None
        if self.pre_entry and (self.prethread(fa, la, ba) or self.prethread(fb, lb, bb)):
            return None  # the program's single-threaded start: see prethread
        # before any thread, after a signal handler was installed: only that handler can interleave
        early_a = bool(self.pre_entry_threads) and self.prethread_threads(fa, la, ba)
        early_b = bool(self.pre_entry_threads) and self.prethread_threads(fb, lb, bb)
        if self.once_gates and self.gated_once(fa, la, ba) & self.gated_once(fb, lb, bb):
            return None  # both behind one single-winner gate: they run once, in one thread
        ra = {r: h for r, h in self.roots_at(fa, la).items() if r.kind not in skip_kinds} or {None: ""}
        rb = {r: h for r, h in self.roots_at(fb, lb).items() if r.kind not in skip_kinds} or {None: ""}
        same_code = self.context(fa, la) == self.context(fb, lb)
        order_a = order_b = shaken = None
        for x in ra:
            for y in rb:
                if (x is None and y is None) or (known_only and (x is None or y is None)):
                    continue
                if (early_a and (y is None or y.kind != "signal")) or (early_b and (x is None or x.kind != "signal")):
                    continue  # a side runs before any thread exists (prethread_threads)
                if known_only and not (x.kind in THREADS or y.kind in THREADS):
                    continue  # a signal handler interrupts a thread: no second thread shown
                if plat is not None and not plat.compatible(pa, pb, x and x.path, y and y.path):
                    continue  # a root of another platform's files: not this program's thread
                if x is not None and y is not None and x.same_thread(y):
                    if x is y and x.multi and (x.strong or same_code):
                        if shaken is None:
                            shaken = self.handshake(fa, la, ba, fb, lb, bb)
                        if shaken:
                            return None  # two runs of one root, ordered by a handshake (a once flag)
                        return x, y
                    continue
                if x is not None and y is not None and x.slot is not None and x.slot == y.slot:
                    continue  # one member thread replaced by the next: see Root.slot
                if not ((x is not None and x.strong) or (y is not None and y.strong)):
                    continue  # main, event loops and unseen callers: no evidence of two threads
                if order_a is None:
                    order_a = self.ordered(fa, la, ba)
                    order_b = self.ordered(fb, lb, bb)
                if (y is not None and y in order_a) or (x is not None and x in order_b):
                    continue
                if shaken is None:
                    shaken = self.handshake(fa, la, ba, fb, lb, bb)
                if shaken:
                    return None
                return x, y
        return None


def _qt_context_connect(c) -> bool:
    """`connect(sender, signal, context, functor)` (Qt 5's form with a context or receiver
    object): Qt runs the functor or slot on the thread the context object lives in, queued there
    when another thread emits, like a queued `invokeMethod`. Not a `Qt::DirectConnection` (it runs
    on the emitting thread), nor the three-argument form (no context: the emitter's thread)."""
    if c.name != "connect" or c.kind != "call" or len(c.args) < 4 or c.receiver not in (None, "this", "QObject"):
        return False
    ctx = c.args[2].replace(" ", "")
    if not ctx or ctx.startswith(("[", "&", "SLOT(", "SIGNAL(")) or any("DirectConnection" in a for a in c.args[4:]):
        return False
    return c.args[1].replace(" ", "").startswith(("&", "SIGNAL("))


def _succeeded(method: str | None, how: str) -> bool:
    """Does a test that went `how` (a Decided tag) mean the acquire `method` succeeded? A load
    saw the flag when it tested true, equal to a value, or compared either way; a timed wait did
    not time out (`true`, `== ready` / `== no_timeout`, `!= timeout`); a read-modify-write
    succeeds whatever it saw."""
    if method == "rmw":
        return True
    if how in ("true", "cmp"):
        return True
    if how.startswith("eq:"):
        return not _TIMED_OUT.search(how[3:])
    if how.startswith("ne:"):
        return bool(_TIMED_OUT.search(how[3:]))
    return False


def describe(root: Root | None, how: str = "") -> str:
    if root is None:
        return "code no thread root reaches (called by users of this code)"
    return root.what + (f" ({how})" if how else "")


# --- C++ ---------------------------------------------------------------------------------------

def thread_model(index) -> ThreadModel:
    return index.memo("lifelint.threads", _build_cpp)


_CAST_OF_NAME = re.compile(r"[*&(]*(?:\((?:const)?[\w:<>,&*]+\))?(\w+)\)*")


def _bare_name(expr: str) -> str | None:
    """The variable an expression names through parentheses and a C-style cast:
    `((std::atomic<int>&)state)` -> `state`."""
    m = _CAST_OF_NAME.fullmatch(expr.replace(" ", ""))
    return m.group(1) if m else None


def _loops_of(flow, byte: int, lam) -> tuple:
    out = []
    for s in flow.scopes:
        if s.kind in ("for", "while", "do") and s.lambda_index == lam and s.span.start_byte <= byte < s.span.end_byte:
            out.append((s.span.start_byte, s.span.end_byte))
    return tuple(out)


_HEADER_SUFFIXES = (".h", ".hh", ".hpp", ".hxx", ".h++", ".inl", ".ipp", ".tpp")


def _unset_test(cond: str, init: dict) -> str | None:
    """The global a condition (whitespace removed) tests to still hold its initial value:
    `(!g)`, `(g==nullptr)`, `(MODE_UNSET==mode)` with `init` name -> its initial values."""
    m = re.fullmatch(r"\(!(?:::)?(\w+)\)", cond)
    if m and m.group(1) in init and init[m.group(1)] & {"0", "nullptr", "NULL", "false"}:
        return m.group(1)
    m = re.fullmatch(r"\((?:::)?(\w+)==([\w:]+)\)|\(([\w:]+)==(?:::)?(\w+)\)", cond)
    if m:
        name, val = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        if name in init and val in init[name]:
            return name
    return None


def _add_main_roots(builder, mains) -> None:
    """One `main` root per file that defines `main`: each such file is its own program
    (lifelint.platforms), so the mains of two tests are not one thread of one process."""
    by_path: dict[str, list] = defaultdict(list)
    for f in mains:
        by_path[f.path].append(f)
    for fs in by_path.values():
        builder.add_root("main", "`main`", fs[0].path, fs[0].fn.name_span, [((id(f), None), "main") for f in fs])


class _CppBuilder:
    def __init__(self, index):
        from lifelint.locking import locking_index

        self.index = index
        self.li = locking_index(index)
        self.settings = getattr(index, "settings", None)
        self.m = ThreadModel()
        self.m.platforms = self.platforms = platforms_of(index)
        self.free: dict[str, list] = defaultdict(list)
        self.methods: dict[tuple[str, str], list] = defaultdict(list)
        for fl in self.li.functions:
            if fl.cls:
                self.methods[(fl.cls, fl.fn.name)].append(fl)
            else:
                self.free[fl.fn.name].append(fl)
        # lambda index -> the lambda that roots it (None: the function body)
        self.root_lambdas: dict[tuple[int, int], Root] = {}
        self.entries: dict[int, list] = defaultdict(list)  # id(Root) -> [(context, label)]
        self.by_id = {id(fl): fl for fl in self.li.functions}
        self.stored: dict[str, list] = defaultdict(list)  # callback name -> [(fl, lambda)]
        self._ctors: dict[str, tuple] = {}  # class name -> constructors building one runs
        self._constructions: dict[int, list] = {}  # id(FnLocks) -> constructions(fl)
        self._confined: dict[int, list] = {}  # id(FnLocks) -> confined_callbacks(fl)

    # resolution ------------------------------------------------------------------------------
    def resolve_fn(self, fl, expr: str) -> list:
        """Functions an argument like `worker`, `&worker`, `&C::run` names."""
        e = expr.replace(" ", "")
        m = _FN_REF.match(e)
        if not m:
            return []
        qual, name = m.group(1).rstrip(":"), m.group(2)
        if not qual and not e.startswith("&") and any(d.name == name for d in fl.fn.flow.decls):
            return []  # a local or parameter of that name (a functor, a lambda) hides the function
        if qual:
            owner = qual.split("::")[-1] if "::" in qual else qual
            got = self.methods.get((owner, name), [])
            return got or [t for t in self.free.get(name, ()) if t.fn.qualname.endswith(f"{qual}::{name}")]
        if fl.cls and (fl.cls, name) in self.methods:
            return self.methods[(fl.cls, name)]
        same = [t for t in self.free.get(name, ()) if t.path == fl.path]
        return same or [t for t in self.free.get(name, ()) if not t.fn.is_static and self.platforms.compatible(fl.path, t.path)]

    # roots -----------------------------------------------------------------------------------
    def add_root(self, kind, what, path, span, entries, multi=False, group=None) -> Root:
        r = Root(kind, what, path, span, multi, group)
        self.m.roots.append(r)
        self.entries[id(r)] = list(entries)
        return r

    def classify(self, fl, c, ci: int):
        """(kind, group, multi) when call `c` starts a root for its callable arguments, else None."""
        name = c.name
        q = c.callee.replace(" ", "")
        if name in THREAD_TYPES and (c.kind in ("construct", "new") or q.startswith(("std::", "boost::"))) and \
                (q in THREAD_TYPES or q.endswith(("std::" + name, "boost::" + name))):
            return "thread", None, False
        if name == "thread" and c.kind in ("construct", "new") and q.endswith("::thread"):
            return "thread", None, False
        if name in THREAD_START_ARG and c.receiver is None:
            return "thread", None, False
        if name == "async" and (q in ("std::async", "async") or q.endswith("::std::async")):
            if c.args and "deferred" in c.args[0]:
                return None
            return "task", None, True
        if name == "run" and "QtConcurrent" in q:
            return "task", None, True
        if c.callee_kind == "method" and name in TASK_METHODS:
            if name == "execute" and _SYNC_EXECUTE.search(f"{c.receiver} {self.type_of(fl, c.receiver) or ''}"):
                return None  # oneTBB's task_arena::execute runs the functor before it returns
            return "task", None, True
        if _qt_context_connect(c):
            return "posted", "the Qt event loop", False
        if call_is_async_sink(c, self.settings) is None:
            return None
        if name.startswith("async_"):
            return None  # completion handlers continue on the executor that started the operation
        target = c.receiver if c.receiver else (c.args[0] if c.args else "")
        ty = self.type_of(fl, target)
        if ty and _POOL_TYPE.search(ty) or _POOL_TYPE.search(target or ""):
            return "task", None, True
        if name in ("invokeMethod", "singleShot"):
            return "posted", "the Qt event loop", False
        owner = fl.cls or fl.path
        grp = (target or "").replace("this->", "").replace(" ", "")
        return "posted", f"{owner}:{grp}", False

    def constructed_class(self, c) -> str | None:
        if c.kind in ("construct", "new"):
            head = c.callee
        elif c.name in _MAKERS and "<" in c.callee:
            head = c.callee[c.callee.index("<") + 1:].rsplit(">", 1)[0]
        else:
            return None
        name = re.sub(r"<.*", "", head.replace(" ", "")).split("::")[-1]
        return name if self.ctors_of(name) else None

    def ctors_of(self, cls: str | None) -> tuple:
        """The constructors that building an object of `cls` runs: its own, its bases' (a
        `fractal_video` runs `video::video()` first) and those of its data members of class type
        (built before its body runs), one level down. Cached per class name."""
        if not cls:
            return ()
        got = self._ctors.get(cls)
        if got is None:
            self._ctors[cls] = ()  # a class that has itself as a member through a chain: no cycle
            out: list = []
            chain = self.li.class_chain(cls)
            for k in chain:
                for t in self.methods.get((k.name, k.name), ()):
                    if t not in out:
                        out.append(t)
            for k in chain:
                for f in k.fields:
                    if f.is_reference or f.is_static or f.pointer_depth or "*" in f.type or "&" in f.type:
                        continue
                    # the member's own class (`log_settings m_log;`), not what a smart pointer or
                    # a container of it holds (they build no element with their owner)
                    fc = re.sub(r"<.*", "", re.sub(r"\b(const|volatile|mutable)\b", "", f.type).replace(" ", ""))
                    fc = fc.split("::")[-1]
                    if not fc or fc == cls or not fc.isidentifier():
                        continue
                    for fk in self.li.class_chain(fc):
                        for t in self.methods.get((fk.name, fk.name), ()):
                            if t not in out:
                                out.append(t)
            got = self._ctors[cls] = tuple(out)
        return got

    def constructions(self, fl, resolved=()) -> list:
        """[(lambda, start, end, constructors)]: where `fl` builds an object of a project class
        and so runs its constructors on the spot. A construction with arguments or braces
        (`T x(a)`, `T x{a}`, `T{a}`, `new T(a)`, `make_unique<T>(a)`) and a declaration with none
        (`T x;`, `static T s;`: the default constructor runs there too; a function-local static
        runs it at the first call). Calls the lock index resolved (`resolved`) are left out."""
        got = self._constructions.get(id(fl))
        if got is None:
            got = self._constructions[id(fl)] = self._find_constructions(fl)
        return [x[1:] for x in got if x[0] not in resolved] if resolved else [x[1:] for x in got]

    def _find_constructions(self, fl) -> list:
        out = []
        flow = fl.fn.flow
        for ci, c in enumerate(flow.calls):
            cls = self.constructed_class(c)
            if cls:
                out.append((ci, c.lambda_index, c.span.start_byte, c.span.end_byte, self.ctors_of(cls)))
        for d in flow.decls:
            if d.kind not in ("local", "static") or d.init is not None or d.pointer_depth or d.is_reference:
                continue
            ty = re.sub(r"\b(const|volatile|static|thread_local|inline|mutable)\b", "", d.type).strip()
            if not re.fullmatch(r"(?:::)?[A-Za-z_][\w:]*(?:<.*>)?", ty.replace(" ", "")):
                continue  # a pointer, an array, a builtin through a typedef we cannot see
            cls = re.sub(r"<.*", "", ty.replace(" ", "")).split("::")[-1]
            ctors = self.ctors_of(cls)
            if ctors:
                out.append((None, d.lambda_index, d.decl_span.start_byte, d.decl_span.end_byte, ctors))
        return out

    def confined_callbacks(self, fl) -> list:
        """[(lambda, start, end, functions)]: project functions handed by name (`handle_read`,
        `&handle_read`) to a method of an object only this thread can reach (a local object of
        `fl` that does not leave it, or a `thread_local` one) run on this thread, inside a later
        call on that object (the event loop's `run()`): placed at the last such call in `fl`. A
        callback whose object nothing calls again here is not placed."""
        got = self._confined.get(id(fl))
        if got is not None:
            return got
        out: list = []
        flow = fl.fn.flow
        calls = flow.calls
        confined: dict[str, bool] = {}
        handed: set | None = None  # every argument of every call, as written without spaces
        for c in calls:
            if c.receiver is None or not c.args:
                continue
            root = _ROOT_NAME.match(c.receiver.replace(" ", ""))
            if root is None:
                continue
            name = root.group(1)
            if name not in confined:
                if handed is None:
                    handed = {a.replace(" ", "") for c2 in calls for a in c2.args}
                confined[name] = self._confined_object(fl, name, handed)
            if not confined[name]:
                continue
            targets = [t for a in c.args for t in self.resolve_fn(fl, a) if t is not fl]
            if not targets:
                continue
            later = [c2 for c2 in calls if c2.lambda_index == c.lambda_index and c2.span.start_byte > c.span.end_byte
                     and c2.receiver is not None and (m := _ROOT_NAME.match(c2.receiver.replace(" ", ""))) is not None
                     and m.group(1) == root.group(1)]
            if later:
                at = later[-1]
                out.append((c.lambda_index, at.span.start_byte, at.span.end_byte, tuple(dict.fromkeys(targets))))
        self._confined[id(fl)] = out
        return out

    def _confined_object(self, fl, name: str, handed: set) -> bool:
        """`name` is an object only the running thread reaches: a `thread_local` global, or a
        local object (not a pointer or reference) that no lambda captures and no call is handed
        (`register(&loop)`, `std::move(loop)`)."""
        flow = fl.fn.flow
        d = next((d for d in flow.decls if d.name == name), None)
        if d is None:
            gs = self.index.cpp_globals.get(name)
            return bool(gs) and all(g.is_thread_local for _f, g in gs)
        if d.kind != "local" or d.pointer_depth or d.is_reference:
            return False
        if any(u.lambda_index is not None and u.name == name for u in flow.uses):
            return False
        return not handed.intersection((name, f"&{name}", f"std::move({name})", f"move({name})"))

    def type_of(self, fl, expr: str | None) -> str | None:
        if not expr:
            return None
        root = _ROOT_NAME.match(expr.replace(" ", ""))
        if not root:
            return None
        name = root.group(1)
        flow = fl.fn.flow
        for d in flow.decls:
            if d.name == name:
                return d.type
        got = fl.fields.get(name)
        return got[1].type if got else None

    def collect_roots(self):
        macros = self._export_macros()
        blocks = self._export_blocks()
        for fl in self.li.functions:
            fn, flow = fl.fn, fl.fn.flow
            if fn.name in MAIN_NAMES and not fl.cls:
                self.main_fns.append(fl)
            if fn.exported:
                self.exported.append(fl)
                self.export_kind[id(fl)] = fn.exported
            elif macros and fn.lead_macros and not fl.cls and any(w in macros for w in fn.lead_macros):
                m = next(w for w in fn.lead_macros if w in macros)
                self.exported.append(fl)
                self.export_kind[id(fl)] = f'extern "C" through `{m}`'
            elif blocks and not fl.cls and fl.path in blocks:
                m = next((w for a, b, w in blocks[fl.path] if a <= fn.span.start_byte < b), None)
                if m is not None:
                    self.exported.append(fl)
                    self.export_kind[id(fl)] = f'extern "C" through the block `{m}` opens'
            if fl.cls and fl.klass is not None:
                for b in fl.klass.bases:
                    base = re.sub(r"\b(public|private|protected|virtual)\b|<.*", "", b).strip().split("::")[-1]
                    if THREAD_BASES.get(base) == fn.name:
                        self.add_root("thread", f"`{fl.label}` (the thread body of a `{base}` subclass)", fl.path,
                                      fn.name_span, [((id(fl), None), fl.label)]).cls = fl.cls
            for li_, L in enumerate(flow.lambdas):
                if L.stored_in:
                    self.stored[L.stored_in.replace("this->", "").split(".")[-1].split("->")[-1]].append((fl, li_))
            for ci, c in enumerate(flow.calls):
                self.call_roots(fl, c, ci)
            for a in flow.assigns:
                tail = a.target.replace(" ", "").split(".")[-1].split("->")[-1]
                if tail in SIGNAL_FIELDS:
                    targets = [t for t in self.resolve_fn(fl, a.value) if not _terminates(t)]
                    if targets:
                        self.add_root("signal", f"the signal handler `{targets[0].label}` (installed with `sigaction` in `{fl.label}`)",
                                      fl.path, a.span, [((id(t), None), t.label) for t in targets])
                        self.spawn_point(fl, a.span.start_byte, a.lambda_index, self.m.roots[-1])
        _add_main_roots(self, self.main_fns)
        # In a program, `extern "C"` functions are its own C-compatible entry points (a service
        # main, callbacks that its platform or a C library calls by symbol: an Emscripten
        # export, a GUI toolkit's callback): their threads are judged like any other code. In a
        # library, and always for SWIG bindings, a host calls them. A `main` elsewhere in the
        # tree (a test, an example, a tool) does not make a library's published C API the
        # program's own: a function declared in another file's `extern "C"` block (its header)
        # is still a host entry point, unless its own file defines `main` or the project itself
        # calls it or hands it over as a callback (then its calls are judged where they are).
        kind = self.export_kind
        if self.main_fns and any(not kind[id(f)].startswith("SWIG") for f in self.exported):
            mains = {f.path for f in self.main_fns}
            used = self._names_used_by_project({f.fn.name for f in self.exported})
            published = self._c_api_elsewhere(macros, blocks)
            self.exported = [f for f in self.exported if kind[id(f)].startswith("SWIG")
                             or (f.path not in mains and f.fn.name not in used
                                 and any(p != f.path for p in published.get(f.fn.name, ())))]
        if self.exported:
            f0 = self.exported[0]
            self.add_root("exported", "functions exported to another language, which any host thread can call",
                          f0.path, f0.fn.name_span, [((id(f), None), f"`{f.label}` is exported ({kind[id(f)]})") for f in self.exported],
                          multi=True)

    def _c_api_elsewhere(self, macros: frozenset, blocks: dict | None = None) -> dict[str, set[str]]:
        """name -> headers that declare it (a prototype) inside `extern "C"` (also a block an
        export macro opens), or led by an export macro: the published C API. A prototype in a
        source file is a consumer's import (`extern "C" int lib_make(..);` in the code that
        links or dlsym's it): the project's own call, not a publication."""
        out: dict[str, set[str]] = defaultdict(set)
        for f in getattr(self.index, "files", ()):
            if not f.path.lower().endswith(_HEADER_SUFFIXES) or f.cpp is None:
                continue
            for name in f.cpp.c_api:
                out[name].add(f.path)
            for name, words in f.cpp.macro_prototypes:
                if any(w in macros for w in words):
                    out[name].add(f.path)
            for name, at in (f.cpp.prototypes if blocks and f.path in blocks else ()):
                if any(a <= at < b for a, b, _w in blocks[f.path]):
                    out[name].add(f.path)
        return out

    def _export_blocks(self) -> dict[str, list[tuple[int, int, str]]]:
        """path -> (start, end, macro) of the stretches between a line holding a macro whose
        `#define` opens `extern "C" {` (`#define BEGIN_DECLS extern "C" {`, or through another
        such macro) and the next line holding one that closes it (`#define END_DECLS }`), or the
        end of the file: block export macros, as good as writing `extern "C" { .. }`."""
        defs: dict[str, set] = defaultdict(set)
        files = [f for f in getattr(self.index, "files", ()) if f.cpp is not None]
        for f in files:
            for name, words in f.cpp.export_macros.items():
                defs[name].update(words)
        if not any("{" in w for w in defs.values()):
            return {}

        def closure(seed: set) -> set:
            grew = bool(seed)
            while grew:
                new = {n for n, w in defs.items() if n not in seed and w & seed}
                seed |= new
                grew = bool(new)
            return seed

        opens = closure({n for n, w in defs.items() if "{" in w and 'extern "C"' in w})
        closes = closure({n for n, w in defs.items() if w == {"}"}} - opens)
        out: dict[str, list[tuple[int, int, str]]] = {}
        for f in files:
            start = word = None
            for w, at in f.cpp.macro_lines:
                if w in opens and start is None:
                    start, word = at, w
                elif w in closes and start is not None:
                    out.setdefault(f.path, []).append((start, at, word))
                    start = None
            if start is not None:
                out.setdefault(f.path, []).append((start, 1 << 62, word))
        return out

    def _export_macros(self) -> frozenset:
        """Macros that make what they lead `extern "C"`: their `#define` says it, or names such
        a macro (`#define API LIB_EXTERN VISIBLE` with `#define LIB_EXTERN extern "C"`), in any
        file of the scan (a config header defines them, every source uses them)."""
        defs: dict[str, set] = defaultdict(set)
        for f in getattr(self.index, "files", ()):
            if f.cpp is not None:
                for name, words in f.cpp.export_macros.items():
                    defs[name].update(words)
        found = {n for n, w in defs.items() if 'extern "C"' in w}
        grew = bool(found)
        while grew:
            new = {n for n, w in defs.items() if n not in found and w & found}
            found |= new
            grew = bool(new)
        return frozenset(found)

    def _names_used_by_project(self, names: set[str]) -> set[str]:
        """Those of `names` (exported functions) the project's own code calls or passes as a
        value (a callback given to a C library: `atexit(on_exit)`, `qsort(.., cmp)`, `&handler`)."""
        out: set[str] = set()

        def named(text: str) -> None:
            t = text.strip().lstrip("&").strip()
            last = t.rsplit("::", 1)[-1]
            if last in names and _QUALIFIED_NAME.fullmatch(t):
                out.add(last)

        for fl in self.li.functions:
            flow = fl.fn.flow
            for c in flow.calls:
                if c.name != fl.fn.name and c.name in names:
                    out.add(c.name)
                for a in c.args:
                    named(a)
            for a in flow.assigns:
                named(a.value)
        return out

    def call_roots(self, fl, c, ci):
        flow = fl.fn.flow
        if c.name in SIGNAL_FUNCTIONS and c.receiver is None and len(c.args) >= 2:
            h = c.args[1].strip()
            if h not in _NOT_A_HANDLER and not _FAULT_SIGNAL.search(c.args[0]):
                targets = [t for t in self.resolve_fn(fl, h) if not _terminates(t)]
                lams = [i for i, L in enumerate(flow.lambdas) if L.handed_to and L.handed_to.call == ci]
                if targets or lams:
                    label = targets[0].label if targets else "a lambda"
                    r = self.add_root("signal", f"the signal handler `{label}` (installed in `{fl.label}`)", fl.path, c.span,
                                      [((id(t), None), t.label) for t in targets] + [((id(fl), i), "handler") for i in lams])
                    for i in lams:
                        self.root_lambdas[(id(fl), i)] = r
                    self.spawn_point(fl, c.span.start_byte, c.lambda_index, r)
            return
        cls = self.classify(fl, c, ci)
        if cls is None:
            return
        kind, group, multi = cls
        loops = _loops_of(flow, c.span.start_byte, c.lambda_index)
        multi = multi or bool(loops)
        entries = []
        fn_args = c.args
        if c.name in THREAD_START_ARG and c.receiver is None:
            k = THREAD_START_ARG[c.name]
            fn_args = c.args[k:k + 1]
        qt = c.name == "connect"
        if qt:
            fn_args = c.args[3:4]  # the slot, not the signal
            multi = False  # made in a loop or not, its functors run one at a time on one thread
        for a in fn_args:
            for t in self.resolve_fn(fl, a):
                entries.append(((id(t), None), t.label))
        # std::bind(&C::f, this) / std::thread(std::bind(...)) as an argument
        for cj, c2 in enumerate(flow.calls):
            if c2.parent_call == ci and c2.name in BINDERS and c2.args:
                for t in self.resolve_fn(fl, c2.args[0]):
                    entries.append(((id(t), None), t.label))
        lams = []
        for i, L in enumerate(flow.lambdas):
            if L.invoked:
                continue
            chains = []
            if L.handed_to is not None:
                chains.append(L.call_chain or [L.handed_to])
            chains.extend([h] for h in L.passed_to)
            for ch in chains:
                hit = False
                for h in ch:
                    if h.call == ci:
                        hit = True
                        break
                    hc = flow.calls[h.call]
                    if not (hc.name in TRANSPARENT or hc.name in BINDERS):
                        break
                if hit:
                    lams.append(i)
                    break
        for i in lams:
            entries.append(((id(fl), i), "a lambda"))
        if not entries:
            return
        where = f"`{fl.label}`"
        if kind == "thread":
            what = f"the thread started in {where}"
        elif kind == "task":
            what = f"work handed to `{c.callee}` in {where} (runs on another thread, maybe several at once)"
        else:
            what = f"handlers posted with `{c.callee}` in {where}"
        r = self.add_root(kind, what, fl.path, c.span, entries, multi=multi, group=group)
        r.cls = fl.cls
        for i in lams:
            self.root_lambdas[(id(fl), i)] = r
        if qt:
            return  # a connection starts no thread: its functor runs on a thread already running
        self.spawn_point(fl, c.span.start_byte, c.lambda_index, r, loops)
        self.join_points(fl, c, ci, r)

    def spawn_point(self, fl, byte, lam, r, loops=()):
        self.m.spawns[id(fl)].append(_Point(byte, None, frozenset([r]), loops, lam))
        self.origins[id(r)].append((fl, lam))

    def join_points(self, fl, c, ci, r):
        """Where the thread object of spawn `c` is joined: later in the same body (`t.join()`, a
        loop over the container it went into), or in any method of the class that keeps it in a
        member (`m_thread.join()` in the destructor or `stop()`)."""
        if r.kind == "task":
            self.future_join(fl, c, r)
            return
        if r.kind != "thread":
            return
        flow = fl.fn.flow
        from lifelint.sinks import thread_disposition

        fate = None
        try:
            fate = thread_disposition(flow, ci, fl.fn, self.index)
        except Exception:
            fate = None
        var = c.declared or (c.result_target if c.result in ("init", "assign") else None)
        if fate is not None and fate.kind == "joined" and fate.span is not None and fate.span.start_byte > c.span.start_byte:
            self.m.joins[id(fl)].append(_Point(fate.span.end_byte, None, frozenset([r]), (), c.lambda_index))
        member = None
        if var and fl.cls:
            member = var.replace("this->", "").strip()
        elif c.parent_call is not None and fl.cls:
            p = flow.calls[c.parent_call]
            if p.name in ("emplace_back", "push_back", "emplace", "push") and p.receiver:
                member = p.receiver.replace("this->", "").strip()
        if member and fl.cls and member in fl.fields:
            self.member_threads[(fl.cls, member)].append(r)
            if var and not _loops_of(flow, c.span.start_byte, c.lambda_index):
                r.slot = (fl.cls, member)  # assigned (not pushed into a container of threads)

    def future_join(self, fl, c, r):
        """Submitted work whose future is waited on in the same body: what follows the wait runs
        after the task (`auto f = std::async(..); f.get();`, `pool.enqueue(..).wait()`). A
        `std::async` future left as a temporary blocks in its destructor at the end of the
        statement. Only a wait that no branch or loop skips (its scope encloses the submit's)
        orders the code after it; `wait_for`/`wait_until` can time out and order nothing."""
        flow = fl.fn.flow

        def joined_at(end: int) -> None:
            self.m.joins[id(fl)].append(_Point(end, None, frozenset([r]), (), c.lambda_index))
            if _loops_of(flow, end - 1, c.lambda_index) == _loops_of(flow, c.span.start_byte, c.lambda_index):
                r.multi, r.waited = False, True  # each run of the submitting code waits for its own task

        if c.receiver_of is not None:
            w = flow.calls[c.receiver_of]
            if w.name in _FUTURE_WAITS:
                joined_at(w.span.end_byte)
            return
        if c.name == "async" and c.discarded:
            joined_at(c.span.end_byte)
            return
        # the future it returns, waited on (`f.get()`), or the pool it went to, joined or drained
        # (`pool.join()`, `pool.wait()`: a pool's join waits for all the work handed to it)
        var = c.declared or (c.result_target if c.result in ("init", "assign") else None)
        pool = c.receiver.replace("this->", "").strip() if c.receiver else None
        waits = [(v, names) for v, names in ((var, _FUTURE_WAITS), (pool, _POOL_JOINS))
                 if v and _IDENT_RE.fullmatch(v)]
        if not waits:
            return
        enclosing = set(flow.scope_ancestors(c.scope))
        for c2 in flow.calls:
            if c2.span.start_byte < c.span.end_byte or c2.lambda_index != c.lambda_index:
                continue
            if var and any(a.replace(" ", "") in (f"std::move({var})", f"move({var})") for a in c2.args):
                return  # handed on: whoever waits on it is not followed
            recv = (c2.receiver or "").replace("this->", "").strip()
            if any(recv == v and c2.name in names for v, names in waits):
                if c2.scope in enclosing:
                    joined_at(c2.span.end_byte)
                return

    def member_joins(self):
        if not self.member_threads:
            return
        for fl in self.li.functions:
            if not fl.cls:
                continue
            flow = fl.fn.flow
            for c in flow.calls:
                if c.name not in ("join", "join_all") or not c.receiver:
                    continue
                recv = c.receiver.replace("this->", "").strip()
                rs = self.member_threads.get((fl.cls, recv))
                if rs is None:
                    for d in flow.decls:  # for (auto& t : m_threads) t.join();
                        if d.kind == "range" and d.name == recv and d.init:
                            rs = self.member_threads.get((fl.cls, d.init.replace("this->", "").strip()))
                            break
                if rs:
                    self.m.joins[id(fl)].append(_Point(c.span.end_byte, None, frozenset(rs), (), c.lambda_index))

    # contexts --------------------------------------------------------------------------------
    def ctx_lambda(self, fl, lam):
        """The lambda whose body is a context of its own (a root, or a callback that runs later
        and is not an I/O completion handler), enclosing `lam`; None for the function body."""
        key = (id(fl), lam)
        if key in self.m.ctx_map:
            return self.m.ctx_map[key]
        flow = fl.fn.flow
        cur = lam
        while cur is not None:
            if (id(fl), cur) in self.root_lambdas:
                break
            if cur in fl.runs_later and not self._continues(fl, cur):
                break
            cur = flow.lambdas[cur].parent
        self.m.ctx_map[key] = cur
        return cur

    def _continues(self, fl, lam) -> bool:
        """A completion handler (`async_read(..., [..]{..})`, a timer's `async_wait`): it runs on
        the executor that started the operation, taken as the starting code's thread."""
        L = fl.fn.flow.lambdas[lam]
        h = L.handed_to
        if h is None:
            return False
        c = fl.fn.flow.calls[h.call]
        return c.name.startswith("async_") or c.name in ("then",)

    def ending_functions(self) -> set:
        """Functions that always end the process (`fatal(msg)`: clean up, log, `exit(1)`): their
        body calls `exit` / `abort` / ... (or another such function) outside any branch, loop or
        lambda. What a thread does on its way out of the process is teardown, not a thread's
        ordinary work: the model does not follow calls into them (see _ENDS_PROCESS)."""
        ends: set = set()

        def unconditional(flow, scope: int) -> bool:
            seen = 0
            while scope is not None and 0 <= scope < len(flow.scopes) and seen < 64:
                sc = flow.scopes[scope]
                if sc.kind not in ("function", "block"):
                    return False
                scope, seen = sc.parent, seen + 1
            return True

        # the calls of exit() and the like, looked for once (they do not change between rounds)
        direct = {id(fl) for fl in self.li.functions
                  if any(c.receiver is None and c.lambda_index is None
                         and (c.name in _EXITS and "::" not in c.callee.replace("std::", "")
                              or c.callee.replace(" ", "") == "std::terminate")
                         and unconditional(fl.fn.flow, c.scope)
                         for c in fl.fn.flow.calls)}
        for _ in range(6):
            changed = False
            for fl in self.li.functions:
                if id(fl) in ends:
                    continue
                flow = fl.fn.flow
                hit = id(fl) in direct
                if not hit:
                    for cs in fl.calls:
                        if cs.lambda_index is None and cs.targets and all(id(t) in ends for t in cs.targets) \
                                and 0 <= cs.call < len(flow.calls) and unconditional(flow, flow.calls[cs.call].scope):
                            hit = True
                            break
                if hit:
                    ends.add(id(fl))
                    changed = True
            if not changed:
                break
        return ends

    def propagate(self):
        # edges: context -> {context it runs now: None}, each callee once, in the order of first
        # calls (the walk below skips a callee it has seen: the same visits as a list of every call)
        edges: dict = defaultdict(dict)
        ends = self.ending_functions()
        self.ends = ends
        for fl in self.li.functions:
            calls = fl.fn.flow.calls
            for cs in fl.calls:
                c = calls[cs.call] if 0 <= cs.call < len(calls) else None
                if c is not None and c.name in LIBC_NAMES and c.receiver is None and "::" not in c.callee:
                    continue  # `close(fd)` means the C library's, not a project's platform shim of that name
                src = (id(fl), self.ctx_lambda(fl, cs.lambda_index))
                for t in cs.targets:
                    if id(t) not in ends:
                        edges[src][(id(t), None)] = None
            flow = fl.fn.flow
            for lam, _s, _e, ctors in self.constructions(fl):  # constructions run the constructors now
                src = (id(fl), self.ctx_lambda(fl, lam))
                for t in ctors:
                    edges[src][(id(t), None)] = None
            for lam, _s, _e, cbs in self.confined_callbacks(fl):  # this thread's own event loop runs them
                src = (id(fl), self.ctx_lambda(fl, lam))
                for t in cbs:
                    if id(t) not in ends:
                        edges[src][(id(t), None)] = None
            if self.stored:
                for c in flow.calls:
                    if c.kind == "call" and c.name in self.stored and (c.callee_kind in ("method", "member", "function")):
                        src = (id(fl), self.ctx_lambda(fl, c.lambda_index))
                        for sfl, i in self.stored[c.name]:
                            edges[src][(id(sfl), self.ctx_lambda(sfl, i))] = None
        for r in self.m.roots:
            todo = []
            seen: dict = {}  # context -> label of the entry that reached it
            for ctx, label in self.entries[id(r)]:
                fid, lam = ctx
                fl = self.by_id[fid]
                ctx = (fid, self.ctx_lambda(fl, lam) if lam is not None else None)
                if ctx not in seen:
                    seen[ctx] = label
                    todo.append(ctx)
            while todo and r.kind != "signal":  # see _SIGNAL_DEPTH
                ctx = todo.pop()
                how = seen[ctx]
                for nxt in edges.get(ctx, ()):
                    if nxt in self.root_ctx and self.root_ctx[nxt] is not r:
                        continue  # a lambda that is itself a root's entry is reached through its root only
                    if nxt not in seen:
                        seen[nxt] = how
                        todo.append(nxt)
            self.m.reach.add(r, seen)

    def parent_roots(self):
        """The roots whose code starts each root, when every place that starts it is reached
        from known roots only (see ThreadModel.descendants)."""
        for r in self.m.roots:
            places = self.origins.get(id(r))
            if not places:
                continue
            parents = set()
            for fl, lam in places:
                got = self.m.reach.get((id(fl), self.ctx_lambda(fl, lam)))
                if not got:
                    parents = None
                    break
                parents |= set(got)
            if parents and r not in parents:
                self.m.parents[r] = frozenset(parents)

    def waited_tasks(self):
        """A task waited for where it is submitted runs once per run of the submitting code: it
        runs concurrently with itself only when that code does (submitted from a pool task, a
        thread started in a loop, an exported function, or from code no root reaches)."""
        for _ in range(4):
            changed = False
            for r in self.m.roots:
                if not r.waited or r.multi:
                    continue
                for fl, lam in self.origins.get(id(r), ()):
                    got = self.m.reach.get((id(fl), self.ctx_lambda(fl, lam)))
                    if not got or any(p.multi for p in got if p is not r):
                        r.multi = changed = True
                        break
            if not changed:
                break

    def call_sites(self) -> list:
        """Places that run project functions on the thread of the code around them: calls (in
        the function body, or in a lambda, whose context is then the lambda's) and constructions
        of a project class (`T x(..)`, `new T`, `make_unique<T>(..)` run its constructor). [_Site]"""
        out = []
        for fl in self.li.functions:
            resolved = set()
            for cs in fl.calls:
                if cs.targets:
                    out.append(_Site(fl, cs.lambda_index, cs.span.start_byte, cs.span.end_byte, tuple(cs.targets)))
                    resolved.add(cs.call)
            for lam, start, end, ctors in self.constructions(fl, resolved):
                out.append(_Site(fl, lam, start, end, ctors))
                for t in ctors:
                    self.m.built_at[id(t)].append((fl, lam, start))
            for lam, start, end, cbs in self.confined_callbacks(fl):
                out.append(_Site(fl, lam, start, end, cbs))
        return out

    def phases(self):
        """Roots each function starts (itself or through callees), as spawn points at the calls
        that lead to them; then, over callers, the roots started after / joined before every call."""
        started: dict[int, set] = defaultdict(set)
        joined: dict[int, set] = defaultdict(set)
        for fid, pts in self.m.spawns.items():
            for p in pts:
                if p.ctx is None:
                    started[fid] |= p.roots
        for fid, pts in self.m.joins.items():
            for p in pts:
                if p.ctx is None:
                    joined[fid] |= p.roots
        fns = self.li.functions
        destroys = self.destroy_calls()
        sites = self.call_sites()
        self.sites_of: dict[int, list] = defaultdict(list)  # id(callee) -> [_Site]
        self.sites_of_caller: dict[int, list] = defaultdict(list)  # id(caller) -> [_Site]
        for st_ in sites:
            self.sites_of_caller[id(st_.fn)].append(st_)
            for t in st_.targets:
                self.sites_of[id(t)].append(st_)
        # a lambda that runs later starts them when it runs, not its function
        body_sites = [site for site in sites if self.ctx_lambda(site.fn, site.lam) is None]
        for _ in range(_DEPTH):  # callees' starts/joins climb to their callers
            changed = False
            for fl, c, dtors in destroys:  # `m_worker.reset()` / `delete w`: the destructor joins
                jn = set().union(*(joined.get(id(d), set()) for d in dtors))
                if jn and not jn <= joined[id(fl)] and self.ctx_lambda(fl, c.lambda_index) is None:
                    joined[id(fl)] |= jn
                    changed = True
            for site in body_sites:
                fid = id(site.fn)
                for t in site.targets:
                    st, jn = started.get(id(t)), joined.get(id(t))
                    if st and not st <= started[fid]:
                        started[fid] |= st
                        changed = True
                    if jn and not jn <= joined[fid]:
                        joined[fid] |= jn
                        changed = True
            if not changed:
                break
        for site in sites:
            fl = site.fn
            lam = self.ctx_lambda(fl, site.lam)
            st = set()
            jn = set()
            for t in site.targets:
                st |= started.get(id(t), set())
                jn |= joined.get(id(t), set())
            if st:
                self.m.spawns[id(fl)].append(_Point(site.start, lam, frozenset(st), _loops_of(fl.fn.flow, site.start, site.lam)))
            if jn:
                self.m.joins[id(fl)].append(_Point(site.end, lam, frozenset(jn)))
        for fl, c, dtors in destroys:
            jn = set().union(*(joined.get(id(d), set()) for d in dtors))
            if jn:
                self.m.joins[id(fl)].append(_Point(c.span.end_byte, self.ctx_lambda(fl, c.lambda_index), frozenset(jn)))
        # A thread started by a function called in a loop (`for (..) infos[i].start();`) runs
        # several times at once, unless the loop also joins it before the next round.
        for fid, pts in self.m.spawns.items():
            for p in pts:
                if not p.loops:
                    continue
                joined_here = set()
                for j in self.m.joins.get(fid, ()):
                    if j.ctx == p.ctx and any(a <= j.byte < b for a, b in p.loops):
                        joined_here |= j.roots
                for r in p.roots:
                    if r not in joined_here and r.kind == "thread":
                        r.multi = True
        # entry phases: intersection over every site that runs it, in a lambda that runs later too
        # (bounded rounds: cycles stay empty). A function's entry phases read only its callers'
        # (and the spawn and join points, fixed by now): it is evaluated again only when a
        # caller's changed since its last evaluation, which gives the very values of evaluating
        # every function in every round, in the same order.
        # (the sites are read from sites_of at each evaluation, and callees hold each function
        # once: a (caller, lambda, byte) tuple and an int per site and target added up on big trees)
        entry_sites: dict[int, list] = {}
        callees: dict[int, dict] = defaultdict(dict)  # id(caller) -> {id of a function it runs: None}
        for fl in fns:
            fid = id(fl)
            here = self.sites_of.get(fid, ())
            if not here or (not fl.cls and fl.fn.name in ("main", "wmain")):
                continue
            entry_sites[fid] = here
            for site in here:
                callees[id(site.fn)][fid] = None
        dirty = set(entry_sites)
        for _ in range(_DEPTH):
            changed = False
            for fl in fns:
                fid = id(fl)
                if fid not in dirty:
                    continue
                dirty.discard(fid)
                if self.m.set_entry_phases(fid, ((site.fn, site.lam, site.start) for site in entry_sites[fid])):
                    changed = True
                    dirty.update(callees.get(fid, ()))
            if not changed:
                break
        self.started = started
        if self.main_fns:
            self.prethread_phase()

    def prethread_phase(self):
        """The program's single-threaded start (ThreadModel.prethread): calls that may start a
        thread the model cannot name end it (`opaque` points); then, from `main` down, the
        functions every site of which is such a point, reached from no root but `main`."""
        by_name: dict[str, list] = defaultdict(list)
        for fl in self.li.functions:
            by_name[fl.fn.name].append(fl)
        starts = {n for n, fls in by_name.items() if any(self.started.get(id(f)) for f in fls)}
        # Threads whose start the model does not place (the `run()` of a thread-base subclass,
        # started by the library's `start()`): a call that may be that start ends the phase too.
        unplaced = [r for r in self.m.roots if r.kind == "thread" and not self.origins.get(id(r))]
        unplaced_cls = {r.cls for r in unplaced if r.cls}
        param_calls = []  # (fl, call, parameter index): decided once the direct opaque points are known
        for fl in self.li.functions:
            flow = fl.fn.flow
            resolved = {cs.call for cs in fl.calls if cs.targets}
            for ci, c in enumerate(flow.calls):
                if ci in resolved or c.kind not in ("call",):
                    continue
                # a name some project definition of which starts threads (a virtual call, an
                # overload not resolved), a callable handed in (a parameter or member functor),
                # a library call that may start a thread-base subclass
                if c.callee_kind == "param" and c.name not in starts and not (unplaced and c.name in _START_WORDS):
                    k = next((i for i, p in enumerate(fl.fn.params) if p.name == c.name), None)
                    if k is not None:
                        param_calls.append((fl, c, k))
                        continue
                if c.name in starts or c.callee_kind in ("param", "member") or unplaced and (
                        c.name in _START_WORDS or self._receiver_class(fl, c) in unplaced_cls):
                    self._opaque_at(fl, c)
        direct = {fid for fid, pts in self.m.opaque.items() if any(p.ctx is None for p in pts)}
        for fl, c, k in param_calls:
            if not self._handed_callables_start_nothing(fl, k, starts, direct):
                self._opaque_at(fl, c)
        # ... and so does a call of a function that makes such a call (on every path or not)
        may = {fid for fid, pts in self.m.opaque.items() if any(p.ctx is None for p in pts)}
        for _ in range(_DEPTH):
            grew = False
            for fl in self.li.functions:
                if id(fl) not in may:
                    continue
                for site in self.sites_of.get(id(fl), ()):
                    if site.fn is fl:
                        continue
                    ctx = self.ctx_lambda(site.fn, site.lam)
                    if not any(p.byte == site.start and p.ctx == ctx for p in self.m.opaque.get(id(site.fn), ())):
                        pt = _Point(site.start, ctx, frozenset(), _loops_of(site.fn.fn.flow, site.start, site.lam))
                        self.m.opaque[id(site.fn)].append(pt)
                        if ctx is None and id(site.fn) not in may:
                            may.add(id(site.fn))
                            grew = True
            if not grew:
                break
        lazy = self._lazy_sites()
        for pre, threads in ((self.m.pre_entry, False), (self.m.pre_entry_threads, True)):
            self._start_fixpoint(pre, threads, lazy)

    def _opaque_at(self, fl, c) -> None:
        self.m.opaque[id(fl)].append(_Point(c.span.start_byte, self.ctx_lambda(fl, c.lambda_index), frozenset(),
                                            _loops_of(fl.fn.flow, c.span.start_byte, c.lambda_index)))

    def _handed_callables_start_nothing(self, fl, k: int, starts: set, direct: set) -> bool:
        """Every call of `fl` (calls and constructions) hands as its parameter `k` a function, or
        an expression (a lambda) whose calls, that starts no thread and calls nothing that may:
        calling that parameter (`auto_count_()`) is then no thread start the model cannot name."""
        args = []
        for cs in fl.callers:
            calls = cs.fn.fn.flow.calls
            if not 0 <= cs.call < len(calls):
                return False
            args.append((cs.fn, calls[cs.call]))
        for f, _lam, byte in self.m.built_at.get(id(fl), ()):
            c = next((c for c in f.fn.flow.calls if c.span.start_byte == byte and c.kind in ("construct", "new")), None)
            if c is None:
                return False  # `T x;`: no argument, a default we do not read
            args.append((f, c))
        if not args:
            return False  # run through a pointer, or by nobody we see

        def may_start(t) -> bool:
            return bool(self.started.get(id(t))) or id(t) in direct or t.fn.name in starts

        for f, c in args:
            if k >= len(c.args):
                return False
            arg = c.args[k].strip()
            if arg.startswith("["):  # a lambda: what it calls, through the calls written inside the argument
                a0, a1 = c.span.start_byte, c.span.end_byte
                for cs in f.calls:
                    if a0 < cs.span.start_byte < a1 and (not cs.targets and cs.name in starts or any(may_start(t) for t in cs.targets)):
                        return False
                for c2 in f.fn.flow.calls:
                    if a0 < c2.span.start_byte < a1 and c2.callee_kind in ("param", "member"):
                        return False
                continue
            targets = self.resolve_fn(f, arg)
            if not targets or any(may_start(t) for t in targets):
                return False
        return True

    def _lazy_sites(self) -> dict:
        """(id(caller), byte) -> names of the globals a call there is guarded by, in the `then` of
        a test that the global still holds its initial value: `if (!g_table) build();`,
        `if (mode == MODE_UNSET) setup();` (the variable's initialiser; none: zero / null). A
        global something sets back to that value again is no such guard."""
        init: dict[str, set] = {}
        for f in getattr(self.index, "files", ()):
            if f.cpp is None:
                continue
            for v in f.cpp.globals:
                if v.kind == "global" and not v.is_const:
                    vals = {"0", "nullptr", "NULL", "false"} if v.initializer in (None, "", "0", "nullptr", "NULL", "false", "{}") \
                        else {v.initializer.replace(" ", "")}
                    init.setdefault(v.name, set()).update(vals)
        if not init:
            return {}
        reset: set = set()
        for fl in self.li.functions:
            for a in fl.fn.flow.assigns:
                name = a.target.replace(" ", "").removeprefix("::")
                if name in init and a.op == "=" and a.value.replace(" ", "") in init[name]:
                    reset.add(name)
        out: dict = {}
        for fl in self.li.functions:
            flow = fl.fn.flow
            for cs in fl.calls:
                if not cs.targets or not 0 <= cs.call < len(flow.calls):
                    continue
                names = set()
                for si in flow.scope_ancestors(flow.calls[cs.call].scope):
                    sc = flow.scopes[si]
                    if sc.branch != "then" or sc.parent is None:
                        continue
                    got = _unset_test(flow.scopes[sc.parent].cond or "", init)
                    if got and got not in reset:
                        names.add(got)
                if names:
                    out[(id(fl), cs.span.start_byte)] = names
        return out

    def _start_fixpoint(self, pre: set, threads: bool, lazy: dict) -> None:
        """`pre`: the functions whose every run is in the start (ThreadModel.prethread, or
        prethread_threads when `threads`), from `main` down. A site that runs its callee only
        while a global is still unset (`_lazy_sites`) does not count against it when the callee
        sets that global and also runs in the start: from then on the test fails, so the call
        runs only in the start (or never); its callee's writes are the start's."""
        test = self.m.prethread_threads if threads else self.m.prethread
        pre.update(id(f) for f in self.main_fns)
        # test cases a framework's macro makes (`TEST(..) { .. }`): its runner calls them in a
        # program of their own; no root of this one reaches them, their calls are not its start's
        tests = {f.path for f in getattr(self.index, "files", ()) if f.cpp is not None and f.cpp.entry_macros}
        sets = {}  # id(fl) -> names of the globals its body assigns
        entries = {ctx[0] for r in self.m.roots if r.kind != "main" for ctx, _ in self.entries[id(r)]}
        for _ in range(_DEPTH):
            changed = False
            for fl in self.li.functions:
                if id(fl) in pre:
                    continue
                here = self.sites_of.get(id(fl), ())
                if tests:
                    here = [s for s in here if s.fn.path not in tests or self.m.reach.get((id(s.fn), None))]
                roots = self.m.reach.get((id(fl), None))
                if not here or not roots:
                    continue  # reached from nothing we see
                if all(r.kind == "main" for r in roots):
                    if all(test(s.fn, s.lam, s.start) for s in here):
                        pre.add(id(fl))
                        changed = True
                    continue
                if not lazy or id(fl) in entries:
                    continue  # reached from a thread, a handler
                if id(fl) not in sets:
                    sets[id(fl)] = {a.target_name for a in fl.fn.flow.assigns if a.lambda_index is None}
                early = [s for s in here if test(s.fn, s.lam, s.start)]
                if early and all(s in early or (lazy.get((id(s.fn), s.start), set()) & sets[id(fl)]) for s in here):
                    pre.add(id(fl))
                    changed = True
            if not changed:
                break

    def base_starts(self):
        """A thread-base subclass's body (`run()`) starts where the base's start method is called
        on an object of that subclass (`w.start()`), and ends where `join()` / `wait()` is called
        on it: a spawn and a join point there. A receiver that is one element (`workers[i]`, a
        range-`for` variable) is that iteration's own object, so a loop around the start does
        not put the setup of the next element after it (`w.setparams(); w.start();` per worker)."""
        by_cls: dict[str, list] = defaultdict(list)
        for r in self.m.roots:
            if r.kind == "thread" and r.cls and not self.origins.get(id(r)):
                by_cls[r.cls].append(r)
        if not by_cls:
            return
        for fl in self.li.functions:
            flow = fl.fn.flow
            for c in flow.calls:
                if c.kind != "call" or not c.receiver or c.callee_kind != "method":
                    continue
                starts, joins = c.name in _START_WORDS, c.name in JOIN_METHODS
                if not (starts or joins):
                    continue
                roots = by_cls.get(self._receiver_class(fl, c) or "")
                if not roots:
                    continue
                if joins:
                    self.m.joins[id(fl)].append(_Point(c.span.end_byte, None, frozenset(roots), (), c.lambda_index))
                    continue
                name = re.match(r"[&*(]*(?:this->)?([A-Za-z_]\w*)", c.receiver.replace(" ", ""))
                element = "[" in c.receiver or (name is not None and any(
                    d.name == name.group(1) and d.kind == "range" for d in flow.decls))
                loops = () if element else _loops_of(flow, c.span.start_byte, c.lambda_index)
                for r in roots:
                    self.spawn_point(fl, c.span.start_byte, c.lambda_index, r, loops)

    def _receiver_class(self, fl, c) -> str | None:
        ty = self.type_of(fl, c.receiver) if c.receiver else None
        return class_of_type(re.sub(r"\bconst\b|[*&]", "", ty)) if ty else None

    def destroy_calls(self) -> list:
        """[(fl, call, destructors)]: calls that destroy an object of a project class whose
        destructor exists: `delete p`, `p.reset()` / `p.reset(new T)` / `p = nullptr` on an owning
        pointer. The destructor's joins happen there (a worker re-created by `m_worker.reset();
        m_worker = std::make_unique<Worker>()` is joined before its successor starts)."""
        out = []
        for fl in self.li.functions:
            flow = fl.fn.flow
            for c in flow.calls:
                if c.kind == "delete" and c.args:
                    expr = c.args[0]
                elif c.name == "reset" and c.receiver and c.callee_kind == "method":
                    expr = c.receiver
                else:
                    continue
                ty = self.type_of(fl, expr)
                if ty is None:
                    m = re.match(r"(?:::)?([A-Za-z_]\w*)$", expr.replace("this->", "").strip())
                    items = self.index.cpp_globals.get(m.group(1), ()) if m else ()
                    ty = items[0][1].type if items else None
                cls = class_of_type(re.sub(r"\bconst\b|[*&]", "", ty)) if ty else None
                dtors = self.methods.get((cls, f"~{cls}"), []) if cls else []
                if dtors:
                    out.append((fl, c, dtors))
        return out

    def sync_type(self, fl, name: str) -> bool:
        ty = self.type_of(fl, name)
        if ty is None:
            items = self.index.cpp_globals.get(name, ())
            ty = items[0][1].type if items else None
        return bool(ty) and bool(_SYNC_TYPE.search(ty)) and "relaxed" not in ty

    def sync_key(self, fl, expr: str, atomic_only: bool = False) -> str | None:
        """Which sync object an expression names, as a key two accesses of the same object share:
        `Class::member` for a member (the class that declares it, reached through `this`, a
        local, a parameter, a global or a chain of fields of known types), `::name` for a global,
        `Class::name` for a static member named with its class, and a key of its own for a local
        of this function (lambdas in it share it). Two objects of one name in different classes
        are different objects; so are two differently named objects of one class. None when the
        expression is not a sync object of a known type (`atomic_only`: an atomic)."""
        e = re.sub(r"^[*&(]+|\)+$", "", expr.replace(" ", "").replace("this->", ""))
        parts = re.split(r"\.|->", e)
        if not parts or not all(re.fullmatch(r"[A-Za-z_]\w*(?:::[A-Za-z_]\w*)*", x) for x in parts):
            return None
        key = ty = d = None
        head = parts[0]
        if "::" in head:  # `Init::done`: a static member named with its class (or a qualified global)
            q = head.split("::")
            owner, name = q[-2], q[-1]
            k = next((k for k in self.li.classes.get(owner, ()) if k.field_named(name) is not None), None)
            if k is not None:
                key, ty = f"{owner}::{name}", k.field_named(name).type
            else:
                items = self.index.cpp_globals.get(name, ())
                if items:
                    key, ty = f"::{name}", items[0][1].type
        else:
            flow = fl.fn.flow
            d = next((d for d in flow.decls if d.name == head), None)
            got = fl.fields.get(head) if d is None else None
            if d is not None:
                key, ty = f"local:{id(fl)}:{head}", d.type
            elif got is not None:
                key, ty = f"{got[0]}::{head}", got[1].type
            else:
                items = self.index.cpp_globals.get(head, ())
                if items:
                    key, ty = f"::{head}", items[0][1].type
        if key is None or ty is None:
            return None
        # A chain of fields (`g_chan.ready`, `m_state.cv`, `ctx->done`): from a global, a member or
        # a local object, the path names one object (`a.ready` and `b.ready` are two); through a
        # parameter or a pointer, some object of the field's class (like `this`).
        by_class = d is not None and (d.kind == "param" or d.pointer_depth > 0 or d.is_reference) if "::" not in head else False
        for name in parts[1:]:
            cls = class_of_type(re.sub(r"\bconst\b|[*&]", "", ty))
            k = next((k for k in self.li.classes.get(cls or "", ()) if k.field_named(name) is not None), None)
            if k is None:
                return None
            f = k.field_named(name)
            key, ty = (f"{k.name}::{name}" if by_class else f"{key}.{name}"), f.type
        if not _SYNC_TYPE.search(ty) or "relaxed" in ty or (atomic_only and "atomic" not in ty):
            return None
        return key

    def success(self, fl, start: int, end: int, method: str | None, result: str | None = None,
                target: str | None = None) -> tuple:
        """Where an acquire that can fail, at [start, end) of `fl`, is known to have succeeded: the
        regions of the conditions that test it (directly or through the local it was stored in)
        and went its way (Decided: `if (ready)`, `while (!ready) ..;` and what follows, `if
        (!sem.try_acquire_for(d)) return;`, `== std::future_status::ready`)."""
        flow = fl.fn.flow
        spans = {(start, end)}
        if target and result == "init" and target.isidentifier():
            di = next((i for i, d in enumerate(flow.decls) if d.name == target
                       and d.decl_span.start_byte <= start < d.decl_span.end_byte), None)
            if di is not None:
                spans |= {(u.span.start_byte, u.span.end_byte) for u in flow.uses if u.decl == di and u.span.start_byte >= end}
        out = []
        for d in flow.decided:
            if (d.start, d.end) not in spans:
                continue
            for a, b, how in d.when:
                if _succeeded(method, how):
                    out.append((a, b))
        return tuple(out)

    def collect_syncs(self):
        """Releases and acquires of sync objects: method calls (`ready.store(true,
        std::memory_order_release)`, `cv.notify_one()`, `f.get()`) and plain stores to and loads of
        atomics (`ready = true`, `while (!ready)`: sequentially consistent). Relaxed ones order
        nothing. Objects are told apart by owner (sync_key), not by name alone. An acquire that
        can fail orders only where it succeeded (_Sync.regions)."""
        # a member future assigned from a member promise (`m_done = m_stop.get_future();` in
        # `start()` or the constructor) is that promise's channel in every method of the class
        claims: list = []  # (fl, call, key) of read-modify-writes that may claim a flag
        resets: set = set()  # keys stored with anything but "set" (cleared, re-armed)
        member_futures: dict = {}
        for fl in self.li.functions:
            if fl.cls:
                for a in fl.fn.flow.assigns:
                    m = re.match(r"(?:this->)?(\w+)\s*(?:\.|->)\s*get_future\s*\(", a.value.strip())
                    if m and a.target_name in fl.fields and m.group(1) in fl.fields:
                        member_futures[(fl.cls, a.target_name)] = m.group(1)
        for fl in self.li.functions:
            flow = fl.fn.flow
            rets = {(r.value_span.start_byte, r.value_span.end_byte) for r in flow.returns if r.value_span is not None}
            for c in flow.calls:
                if c.callee_kind != "method" or not c.receiver or any("relaxed" in a for a in c.args):
                    continue
                kinds = [k for k, names in (("release", RELEASE_METHODS), ("acquire", ACQUIRE_METHODS)) if c.name in names]
                if not kinds:
                    continue
                recv = c.receiver
                base = re.sub(r"^[*&(]+|\)+$", "", recv.replace(" ", "").replace("this->", ""))
                for d in flow.decls:  # a future from `p.get_future()` is p's channel
                    m = re.search(r"([\w.>-]+?)\s*(?:\.|->)\s*get_future\s*\(", d.init or "") if d.name == base else None
                    if m:
                        recv = m.group(1)
                        break
                else:
                    recv = member_futures.get((fl.cls, base), recv) if fl.cls else recv
                obj = self.sync_key(fl, recv)
                if obj is None:
                    continue
                loops = _loops_of(flow, c.span.start_byte, c.lambda_index)
                sure = self._sure(flow, c.scope, c.lambda_index, c.span.start_byte, loops)
                fallible = c.name in FALLIBLE_ACQUIRES or c.name in RMW_ACQUIRES or (
                    c.name == "wait" and len(c.args) >= 2 and _QT_TIMED.search(self.type_of(fl, c.receiver) or ""))
                if c.name in ("exchange", "test_and_set", "compare_exchange_strong", "compare_exchange_weak"):
                    claims.append((fl, c, obj))
                if c.name == "clear" or (c.name in ("store", "exchange") and not (c.args and c.args[0].strip() in _SET_VALUES)):
                    resets.add(obj)
                for k in kinds:
                    b = c.span.end_byte if k == "acquire" else c.span.start_byte
                    regions = returned = None
                    if k == "acquire" and fallible:
                        method = "rmw" if c.name in RMW_ACQUIRES else c.name
                        regions = self.success(fl, c.span.start_byte, c.span.end_byte, method, c.result, c.result_target)
                        returned = c.result == "return" and c.lambda_index is None and method in ("load", "test")
                    self.m.syncs[id(fl)].append(_Sync(b, None, obj, k, loops, c.lambda_index, sure, regions, bool(returned)))
            helper_of = {cs.call: self.once_helpers.get(id(cs.targets[0])) for cs in fl.calls
                         if cs.targets and self.once_helpers.get(id(cs.targets[0])) is not None
                         and all(self.once_helpers.get(id(t)) == self.once_helpers.get(id(cs.targets[0])) for t in cs.targets)}
            for ci, c in enumerate(flow.calls):
                flag_i, fn_i = 0, 1
                if ci in helper_of:
                    fn_i, flag_i = helper_of[ci]
                    if len(c.args) <= max(fn_i, flag_i):
                        continue
                elif c.name not in ONCE_CALLS or c.receiver is not None or len(c.args) < 2:
                    continue
                obj = self.sync_key(fl, c.args[flag_i])
                if obj is None:
                    continue
                loops = _loops_of(flow, c.span.start_byte, c.lambda_index)
                sure = self._sure(flow, c.scope, c.lambda_index, c.span.start_byte, loops)
                # the callable runs once, after the flag is taken (before its body) and before
                # the flag is released to every caller (after it)
                for k, b in (("acquire", c.span.start_byte), ("release", c.span.end_byte), ("acquire", c.span.end_byte)):
                    self.m.syncs[id(fl)].append(_Sync(b, None, obj, k, loops, c.lambda_index, sure))
                for t in self.resolve_fn(fl, c.args[fn_i]):
                    self.once_fns[id(t)].add(obj)
            for u in flow.uses:
                path = u.path.replace(" ", "")
                name = u.name.replace(" ", "").split("::")[-1]  # `Init::done`: a static member named with its class
                if u.access not in ("read", "write") or not name.isidentifier() or path not in (
                        u.name.replace(" ", ""), name, f"this->{name}"):
                    continue  # the atomic itself, not a field of it
                obj = self.sync_key(fl, u.name, atomic_only=True)
                if obj is None:
                    continue
                k = "release" if u.access == "write" else "acquire"
                if k == "release":
                    value = next((a.value.strip() for a in flow.assigns if a.span.start_byte == u.span.start_byte), "")
                    if value not in _SET_VALUES:
                        resets.add(obj)
                b = u.span.end_byte if k == "acquire" else u.span.start_byte
                loops = _loops_of(flow, u.span.start_byte, u.lambda_index)
                regions = returned = None
                if k == "acquire":  # a plain read is a load: it orders only where it saw the flag
                    regions = self.success(fl, u.span.start_byte, u.span.end_byte, "load")
                    returned = u.lambda_index is None and (u.span.start_byte, u.span.end_byte) in rets
                self.m.syncs[id(fl)].append(_Sync(b, None, obj, k, loops, u.lambda_index,
                                                  self._sure(flow, u.scope, u.lambda_index, u.span.start_byte, loops),
                                                  regions, bool(returned)))
        self.find_once_gates(claims, resets)

    def static_inits(self) -> None:
        """A function-local static with an initialiser (`static T inst;` of a class with a
        constructor, `static T* p = new T(..)`, `static auto t = load()`) is initialised once:
        the first caller runs the initialiser, any other waits for it, and every caller past the
        declaration sees it done ([stmt.dcl]/4; a once flag the compiler keeps). The declaration
        acquires that flag; a function run only inside such initialisers (the constructor a
        singleton's `instance()` builds) releases it after its body and runs once."""
        inside: dict[int, set] = defaultdict(set)  # id(FnLocks) -> keys of the initialisers running it
        site_key: dict = {}  # (id(caller), lambda, byte) of a site inside an initialiser -> its key
        for fl in self.li.functions:
            flow = fl.fn.flow
            ctor_spans = {(start, end) for _l, start, end, _t in self.constructions(fl)}
            for d in flow.decls:
                if d.kind != "static":
                    continue
                a, b = d.decl_span.start_byte, d.decl_span.end_byte
                if d.init is None and (a, b) not in ctor_spans:
                    continue  # zero-initialised: no initialiser runs
                key = f"static-init:{fl.path}:{a}"
                lam = d.lambda_index
                loops = _loops_of(flow, b, lam)
                self.m.syncs[id(fl)].append(_Sync(b, self.ctx_lambda(fl, lam), key, "acquire", loops, lam,
                                                  self._sure(flow, d.scope, lam, b, loops)))
                for site in self.sites_of_caller.get(id(fl), ()):
                    if site.lam == lam and a <= site.start < b:
                        site_key[(id(fl), lam, site.start)] = key
                        for t in site.targets:
                            inside[id(t)].add(key)
        for fid, keys in inside.items():
            sites = self.sites_of.get(fid, ())
            for key in keys:
                if all(site_key.get((id(st.fn), st.lam, st.start)) == key for st in sites):
                    self.m.syncs[fid].append(_Sync(-1, None, key, "acquire", (), None, True))
                    self.m.syncs[fid].append(_Sync(1 << 62, None, key, "release", (), None, True))
                # else: also run elsewhere, outside the once-only initialiser: no order from it

    def find_once_helpers(self) -> dict:
        """Project functions that work like `std::call_once`: `do_once(F init, std::atomic<S>&
        state)` that loops on its state parameter (`while (state.load() != done)`), claims it
        inside that loop with a `compare_exchange_*` on it and runs the callable parameter only
        where that claim succeeded (itself, or by handing it on: `run_init(init, state)`). One
        caller runs the callable; every call returns once the loop saw it done.
        id(FnLocks) -> (index of the callable parameter, index of the state parameter)."""
        out: dict = {}
        for fl in self.li.functions:
            params = fl.fn.params
            if len(params) < 2 or fl.fn.flow is None:
                continue
            flow = fl.fn.flow
            for si, sp in enumerate(params):
                if not sp.name or "atomic" not in sp.type:
                    continue
                on_state = [c for c in flow.calls if c.callee_kind == "method" and c.receiver
                            and _bare_name(c.receiver) == sp.name]
                claims = [c for c in on_state if c.name.startswith("compare_exchange")]
                loads = [c for c in on_state if c.name == "load"]
                regions = []
                for c in claims:
                    # the claim sits in a loop whose condition (before it) loads the state
                    loops = _loops_of(flow, c.span.start_byte, c.lambda_index)
                    if not any(a <= ld.span.start_byte < c.span.start_byte for a, b in loops for ld in loads):
                        continue
                    regions += [(a, b) for d in flow.decided if (d.start, d.end) == (c.span.start_byte, c.span.end_byte)
                                for a, b, how in d.when if how == "true"]
                if not regions:
                    continue
                for pi, pp in enumerate(params):
                    if pi == si or not pp.name:
                        continue
                    runs = [c for c in flow.calls if (c.name == pp.name and c.receiver is None and c.callee_kind == "param")
                            or (c.kind == "call" and any(a.strip() == pp.name for a in c.args))]
                    if runs and all(any(a <= c.span.start_byte < b for a, b in regions) for c in runs):
                        out[id(fl)] = (pi, si)
                        break
                if id(fl) in out:
                    break
        return out

    def find_once_gates(self, claims, resets) -> None:
        """Single-winner gates (ThreadModel.once_gates): the branch where an `exchange(true)` /
        `test_and_set()` returned false, or a `compare_exchange_*(expected, true)` succeeded, on
        a flag nothing clears or stores anything but `true` to: only the first caller gets there."""
        for fl, c, obj in claims:
            if obj in resets:
                continue
            if c.name in ("exchange",) and not (c.args and c.args[0].strip() in _SET_VALUES):
                continue
            if c.name.startswith("compare_exchange") and not (len(c.args) >= 2 and c.args[1].strip() in _SET_VALUES):
                continue
            want = "true" if c.name.startswith("compare_exchange") else "false"
            regions = tuple((a, b) for d in fl.fn.flow.decided if (d.start, d.end) == (c.span.start_byte, c.span.end_byte)
                            for a, b, how in d.when if how == want)
            if regions:
                self.m.once_gates[id(fl)].append((c.lambda_index, obj, regions))

    @staticmethod
    def _sure(flow, scope, lam, byte, loops) -> bool:
        """An event of the function body that runs on every path through it: in no branch, loop
        or lambda, and no `return` / `throw` / `goto` before it."""
        if lam is not None or loops:
            return False
        seen = 0
        while scope is not None and 0 <= scope < len(flow.scopes) and seen < 64:
            if flow.scopes[scope].kind not in ("function", "block"):
                return False
            scope, seen = flow.scopes[scope].parent, seen + 1
        return not any(r.lambda_index is None and r.span.end_byte <= byte for r in flow.returns) and \
            not any(j.kind in ("throw", "goto") and j.lambda_index is None and j.span.start_byte < byte for j in flow.jumps)

    def lift_syncs(self):
        """A call of a function that acquires a sync object acquires it at the call: on every
        path (a wait without timeout, `void wait_ready() { while (!ready) yield(); }`: the whole
        rest of the body is where the load succeeded), or where the call's result says it
        succeeded (an accessor returning the load: `bool initialised() { return
        done.load(std::memory_order_acquire); }` orders `if (initialised()) ..` only), a few
        levels up. Releases are not lifted: a destructor's `m_stop = true` would then order any
        read before the object dies with every loop that polls that flag."""
        summary: dict = {}
        for _ in range(4):
            changed = False
            for fid, pts in list(self.m.syncs.items()):
                fl = self.by_id[fid]
                got = frozenset(("acquire", p.obj, mode) for p in pts if p.kind == "acquire" and p.ctx is None
                                and (mode := self._lift_mode(fl, p)) is not None)
                if got and summary.get(fid) != got:
                    summary[fid] = got
                    changed = True
            if not changed:
                break
            for fl in self.li.functions:
                effects = summary.get(id(fl))
                if not effects:
                    continue
                for site in self.sites_of.get(id(fl), ()):
                    eff = effects
                    for t in site.targets:  # every function the call may reach does it
                        eff = eff & summary.get(id(t), frozenset())
                    if not eff:
                        continue
                    have = {(p.kind, p.obj, p.byte) for p in self.m.syncs.get(id(site.fn), ())}
                    flow = site.fn.fn.flow
                    loops = _loops_of(flow, site.start, site.lam)
                    call = next((c for c in flow.calls if c.span.start_byte == site.start), None)
                    sure = call is not None and self._sure(flow, call.scope, site.lam, site.start, loops)
                    for kind, obj, mode in eff:
                        b = site.end
                        if (kind, obj, b) in have:
                            continue
                        regions, returned = None, False
                        if mode == "result":
                            regions = self.success(site.fn, site.start, site.end, "load",
                                                   call.result if call else None, call.result_target if call else None)
                            returned = call is not None and call.result == "return" and site.lam is None
                        self.m.syncs[id(site.fn)].append(_Sync(b, self.ctx_lambda(site.fn, site.lam), obj, kind, loops,
                                                               site.lam, sure, regions, returned))

    def _lift_mode(self, fl, p) -> str | None:
        """How a function's acquire shows at its call sites: "sure" (it happened when the call
        returns, on every path), "result" (it happened when the call returned true: the function
        returns the acquire's result, and every other return is a plain false), or None."""
        if p.regions is None:
            return "sure" if p.sure else None
        flow = fl.fn.flow
        if p.returned and p.raw is None:
            rets = [r for r in flow.returns if r.lambda_index is None]
            if all(r.value_span is not None and (r.value_span.start_byte < p.byte <= r.value_span.end_byte
                   or (r.value or "").strip() in ("false", "0", "nullptr", "NULL")) for r in rets):
                return "result"
            return None
        # a loop that ends only when the load succeeded, with no return in the function: the end
        # of the body is reached only after it succeeded (`while (!ready.load()) yield();`)
        body_end = fl.fn.flow.scopes[0].span.end_byte if flow.scopes else None
        if body_end is not None and p.raw is None and not any(r.lambda_index is None for r in flow.returns) \
                and any(b >= body_end for _a, b in p.regions) and self._top_level(flow, p):
            return "sure"
        return None

    @staticmethod
    def _top_level(flow, p) -> bool:
        """The acquire sits in a statement of the function body itself (a loop's condition at the
        top level counts), not in a branch."""
        for s in flow.scopes:
            if s.lambda_index is None and s.kind in ("if", "switch", "catch") and s.span.start_byte <= p.byte < s.span.end_byte:
                return False
        return True

    def _global_type(self, name):
        items = self.index.cpp_globals.get(name, ())
        return items[0][1].type if items else None

    def sync_entries(self):
        """Objects released after / acquired before every call of a function (its callers' view,
        over every site that runs it, in lambdas that run later too). A function only ever run
        by `call_once` on a flag releases that flag after every run."""
        fns = self.li.functions
        # As the entry phases (see phases()): a function is evaluated again only when one of its
        # callers' entry sets changed since its last evaluation; the same values, in the same order.
        callees: dict[int, dict] = defaultdict(dict)  # id(caller) -> {id of a function it runs: None}
        for fl in fns:
            fid = id(fl)
            for site in self.sites_of.get(fid, ()):
                callees[id(site.fn)][fid] = None
        dirty = {id(fl) for fl in fns if self.sites_of.get(id(fl))}
        for _ in range(_DEPTH):
            changed = False
            for fl in fns:
                if id(fl) not in dirty:
                    continue
                dirty.discard(id(fl))
                sites = self.sites_of[id(fl)]
                rel = acq = None
                for site in sites:
                    r = self.m.released_after(site.fn, site.lam, site.start)
                    a = self.m.acquired_before(site.fn, site.lam, site.start)
                    rel = r if rel is None else rel & r
                    acq = a if acq is None else acq & a
                if rel != self.m.entry_released.get(id(fl), frozenset()) or acq != self.m.entry_acquired.get(id(fl), frozenset()):
                    self.m.entry_released[id(fl)], self.m.entry_acquired[id(fl)] = rel, acq
                    changed = True
                    dirty.update(callees.get(id(fl), ()))
            if not changed:
                break
        for fid, flags in self.once_fns.items():
            if not self.sites_of.get(fid):
                self.m.entry_released[fid] = self.m.entry_released.get(fid, frozenset()) | frozenset(flags)
                self.m.entry_acquired[fid] = self.m.entry_acquired.get(fid, frozenset()) | frozenset(flags)

    def build(self) -> ThreadModel:
        self.main_fns, self.exported = [], []
        self.export_kind: dict = {}  # id(FnLocks) -> how it is exported ('extern "C"', 'SWIG %extend', ..)
        self.origins: dict = defaultdict(list)  # id(Root) -> [(fl, lambda)] where it is started
        self.once_fns: dict = defaultdict(set)  # id(FnLocks) -> flags of the `call_once` calls that run it
        self.member_threads: dict = defaultdict(list)
        self.collect_roots()
        self.base_starts()
        self.member_joins()
        self.once_helpers = self.find_once_helpers()
        self.collect_syncs()
        self.m.ctx_map.clear()
        for table in (self.m.spawns, self.m.joins):
            for fid, pts in table.items():
                for p in pts:
                    p.ctx = self.ctx_lambda(self.by_id[fid], p.raw)
        for fid, pts in self.m.syncs.items():
            for p in pts:
                p.ctx = self.ctx_lambda(self.by_id[fid], p.raw)
        for fid, gates in self.m.once_gates.items():
            gates[:] = [(self.ctx_lambda(self.by_id[fid], lam), k, regions) for lam, k, regions in gates]
        self.root_ctx = {}
        for (fid, i), r in self.root_lambdas.items():
            self.root_ctx[(fid, self.ctx_lambda(self.by_id[fid], i))] = r
        self.propagate()
        self.parent_roots()
        self.waited_tasks()
        self.phases()
        self.m.resolve_ctx = self.ctx_lambda
        self.static_inits()
        if self.m.syncs:
            self.lift_syncs()
            self.sync_entries()
        return self.m


def _build_cpp(index) -> ThreadModel:
    return _CppBuilder(index).build()


# --- Rust --------------------------------------------------------------------------------------

# Closure-taking calls that run the closure on a thread of its own: (last path segment) -> kind.
RUST_SPAWNS = {"spawn": "thread", "spawn_blocking": "thread", "spawn_scoped": "thread"}
# Calls that install a signal handler (the closure or function argument runs in signal context).
RUST_SIGNAL_CALLS = frozenset({"register", "register_unchecked", "register_signal_unchecked", "set_handler",
                               "register_sigaction"})
_RUST_FN_ARG = re.compile(r"^&?([A-Za-z_][\w:]*)$")
_RUST_CAST = re.compile(r"\s+as\s+[^,]*$")  # `handler as fn()`: the function itself


def rust_thread_model(index) -> ThreadModel:
    return index.memo("lifelint.threads.rust", _build_rust)


class _RustFn:
    """What the model needs of one Rust function with a body."""

    __slots__ = ("facts", "fn", "flow", "groups", "label", "path")

    def __init__(self, facts, fn, flow):
        self.facts, self.fn, self.flow = facts, fn, flow
        # The call sites that may run it, by group: every call that resolves to the same
        # functions is in one shared list [(_RustFn, closure or None, byte)] (see _RustBuilder.build)
        self.groups: list = []
        self.label = fn.qualname
        self.path = facts.path

    def callers(self):
        """(caller, closure or None, byte) of every call in another function that may run this one."""
        for g in self.groups:
            for site in g:
                if site[0] is not self:
                    yield site

    def called(self) -> bool:
        return next(self.callers(), None) is not None


class _RustBuilder:
    def __init__(self, index):
        self.index = index
        self.m = ThreadModel()
        self.fns: list[_RustFn] = []
        self.by_flow: dict[int, _RustFn] = {}
        self.by_name: dict[str, list] = defaultdict(list)
        for f in index.files:
            if f.rust is None:
                continue
            for flow, fn in f.rust.flows_with_functions():
                rf = _RustFn(f, fn, flow)
                self.fns.append(rf)
                self.by_flow[id(flow)] = rf
                self.by_name[fn.name].append(rf)
        self.root_closures: dict[tuple[int, int], Root] = {}
        self.entries: dict[int, list] = defaultdict(list)
        from lifelint.rust_calls import rust_calls

        self.calls = rust_calls(index)

    def add_root(self, kind, what, path, span, entries, multi=False) -> Root:
        r = Root(kind, what, path, span, multi)
        self.m.roots.append(r)
        self.entries[id(r)] = list(entries)
        return r

    def resolve(self, rf, text: str, method: bool = False) -> list:
        """Project functions a call or a function argument names: a path by Rust's scoping, in
        the caller's crate or a crate the path names (lifelint.rust_calls); a method by its name
        (with a receiver of unknown type), only when the name is defined at most a few times."""
        t = _RUST_CAST.sub("", text.strip()).replace(" ", "")  # the cast first: `task_one` holds "as" too
        m = _RUST_FN_ARG.match(t)
        if not m:
            return []
        path = m.group(1)
        if not method:
            by_flow = self.by_flow
            return [by_flow[id(flow)] for _f, _fn, flow in self.calls.targets(rf.facts, path)
                    if flow is not None and id(flow) in by_flow]
        parts = path.split("::")
        cands = [c for c in self.by_name.get(parts[-1], ()) if not c.fn.is_test and c.fn.self_kind is not None]
        if len(parts) >= 2 and parts[-2][:1].isupper():
            cands = [c for c in cands if c.fn.impl_type == parts[-2]]
        return cands if len(cands) <= 3 else []

    def _spawner_ctx(self, rf, p):
        """The context that runs spawn point `p` (a spawned closure's point stands for the closure
        itself: the code that spawns it is the body around it)."""
        if self.root_closures.get((id(rf), p.raw)) not in p.roots:
            return p.ctx
        c = rf.flow.closures[p.raw]
        around = [j for j, o in enumerate(rf.flow.closures)
                  if j != p.raw and o.body[0] <= c.span.start_byte and c.span.end_byte <= o.body[1]]
        if not around:
            return None
        return self.closure_ctx(rf, max(around, key=lambda j: rf.flow.closures[j].body[0]))

    def closure_ctx(self, rf, ci: int):
        """The closure whose body is a context of its own (a root) enclosing closure `ci`."""
        if ci is None or ci < 0:
            return None
        key = (id(rf), ci)
        if key in self.m.ctx_map:
            return self.m.ctx_map[key]
        flow = rf.flow
        cur = ci
        out = None
        for _ in range(16):
            if (id(rf), cur) in self.root_closures:
                out = cur
                break
            c = flow.closures[cur]
            parent = None
            for j, o in enumerate(flow.closures):
                if j != cur and o.body[0] <= c.span.start_byte and c.span.end_byte <= o.body[1]:
                    if parent is None or flow.closures[parent].body[0] < o.body[0]:
                        parent = j
            if parent is None:
                break
            cur = parent
        self.m.ctx_map[key] = out
        return out

    def loops_at(self, rf, byte):
        return tuple((lp.body[0], lp.body[1]) for lp in rf.flow.loops if lp.body[0] <= byte < lp.body[1])

    def collect(self):
        mains = []
        exported = []
        for rf in self.fns:
            fn, flow = rf.fn, rf.flow
            if fn.is_test:
                continue
            if fn.name == "main" and fn.impl_type is None:
                mains.append(rf)
            if fn.abi is not None or fn.no_mangle:
                exported.append(rf)
            for ci, c in enumerate(flow.closures):
                last = re.split(r"::|\.", c.callee)[-1] if c.callee else ""
                if c.is_async and (c.awaited or last not in RUST_SPAWNS):
                    continue  # a future awaited where it is made, or stored: its code counts as its creator's
                if last in RUST_SPAWNS and not c.callee.startswith(("tokio::task::spawn_local",)):
                    # a closure handed to a thread, or a future to a runtime's spawn (`tokio::spawn(async move
                    # {..})` requires Send: a multi-threaded runtime polls it on any of its workers)
                    loops = self.loops_at(rf, c.span.start_byte)
                    what = f"the thread or task started with `{c.callee}` in `{rf.label}`"
                    r = self.add_root("thread", what, rf.path, c.span, [((id(rf), ci), "a closure")], multi=bool(loops))
                    self.root_closures[(id(rf), ci)] = r
                    self.m.spawns[id(rf)].append(_Point(c.span.start_byte, None, frozenset([r]), loops, ci))
                elif last in RUST_SIGNAL_CALLS:
                    r = self.add_root("signal", f"the signal handler installed with `{c.callee}` in `{rf.label}`", rf.path,
                                      c.span, [((id(rf), ci), "a closure")])
                    self.root_closures[(id(rf), ci)] = r
                    self.m.spawns[id(rf)].append(_Point(c.span.start_byte, None, frozenset([r]), (), ci))
            for e in flow.events:
                if e.kind == "spawn" and e.args:
                    targets = self.resolve(rf, e.args[0])
                    if targets:
                        loops = self.loops_at(rf, e.start)
                        r = self.add_root("thread", f"the thread started with `{e.name}` in `{rf.label}`", rf.path, e.span,
                                          [((id(t), None), t.label) for t in targets], multi=bool(loops))
                        self.m.spawns[id(rf)].append(_Point(e.start, None, frozenset([r]), loops, e.closure))
                elif e.kind == "call" and e.args and e.name.rsplit("::", 1)[-1] in ("signal", "register", "register_unchecked"):
                    targets = [t for a in e.args[1:] for t in self.resolve(rf, a)]
                    if targets:
                        r = self.add_root("signal", f"the signal handler `{targets[0].label}` (installed in `{rf.label}`)",
                                          rf.path, e.span, [((id(t), None), t.label) for t in targets])
                        self.m.spawns[id(rf)].append(_Point(e.start, None, frozenset([r]), (), e.closure))
                elif e.kind == "assign" and e.recv.rsplit(".", 1)[-1] in SIGNAL_FIELDS:
                    names = [n for n, bytes_ in flow.uses.items() for b in bytes_
                             if e.span.start_byte <= b < e.span.end_byte and n != e.recv.split(".")[0]]
                    targets = [t for n in names for t in self.resolve(rf, n)]
                    if targets:
                        r = self.add_root("signal", f"the signal handler `{targets[0].label}` (installed with `sigaction` in "
                                                    f"`{rf.label}`)", rf.path, e.span, [((id(t), None), t.label) for t in targets])
                        self.m.spawns[id(rf)].append(_Point(e.start, None, frozenset([r]), (), e.closure))
        _add_main_roots(self, mains)
        if exported:
            self.add_root("exported", "functions exported to another language (`extern \"C\"` / `#[no_mangle]`), "
                          "which any host thread can call", exported[0].path, exported[0].fn.name_span,
                          [((id(f), None), f"`{f.label}` is exported") for f in exported], multi=True)

    def joins(self):
        """`handle.join()` on the handle a spawn was bound to, a loop joining handles after the
        spawns, and the end of `thread::scope` (which joins every thread spawned in it)."""
        for rf in self.fns:
            flow = rf.flow
            pts = self.m.spawns.get(id(rf), ())
            if not pts:
                continue
            for e in flow.events:
                if e.kind != "join":
                    continue
                lc = flow.local(e.recv, e.start) if e.recv.isidentifier() else None
                roots = set()
                for p in pts:
                    if p.byte >= e.start:
                        continue
                    if lc is not None and lc.kind == "let" and lc.value and lc.value[0] <= p.byte < lc.value[1]:
                        roots |= p.roots
                    elif lc is not None and lc.kind == "for":
                        roots |= p.roots
                if roots:
                    self.m.joins[id(rf)].append(_Point(e.span.end_byte, None, frozenset(roots), (), e.closure))
            for ci, c in enumerate(flow.closures):
                if c.callee.rsplit("::", 1)[-1] == "scope":
                    inner = set()
                    for p in pts:
                        if c.body[0] <= p.byte < c.body[1]:
                            inner |= p.roots
                    if inner:
                        self.m.joins[id(rf)].append(_Point(c.span.end_byte, None, frozenset(inner), (), None))

    def build(self) -> ThreadModel:
        self.collect()
        self.joins()
        for table in (self.m.spawns, self.m.joins):
            for fid, pts in table.items():
                rf = self._by_id[fid]
                for p in pts:
                    if p.ctx is None and p.raw is not None and p.raw >= 0:
                        p.ctx = self.closure_ctx(rf, p.raw)
        # context -> {callee context: None}: one edge per callee (a body calling `f` twenty times
        # is one step), in the order of first calls. Kept deduplicated as it is built: a list of
        # every call's targets held 6.5M tuples on rust-system before it was deduplicated.
        edges: dict = defaultdict(dict)
        entry = {id(rf): (id(rf), None) for rf in self.fns}  # one context tuple per function
        groups: dict = {}  # ids of a call's targets -> [(caller, closure, byte)] of the calls with them
        for rf in self.fns:
            for e in rf.flow.events:
                if e.kind == "call":
                    targets = self.resolve(rf, e.name)
                elif e.kind == "method":
                    targets = self.resolve(rf, e.name, method=True)
                else:
                    continue
                if not targets:
                    continue
                out = edges[(id(rf), self.closure_ctx(rf, e.closure))]
                for t in targets:
                    if t is not rf:
                        out[entry[id(t)]] = None
                # Callers by group: a call of a name that resolves to hundreds of functions was
                # an entry in each one's list of callers (6.5M on rust-system before calls were
                # scoped to their crate); calls with the same targets share one list of sites.
                key = tuple(map(id, targets))
                sites = groups.get(key)
                if sites is None:
                    sites = groups[key] = []
                    for t in dict.fromkeys(targets):
                        t.groups.append(sites)
                sites.append((rf, e.closure, e.start))
        for src, nxt in edges.items():
            edges[src] = list(nxt)
        root_ctx = {(fid, ci): r for (fid, ci), r in self.root_closures.items()}
        for r in self.m.roots:
            todo = []
            seen: dict = {}  # context -> label of the entry that reached it
            for (fid, ci), label in self.entries[id(r)]:
                ctx = (fid, self.closure_ctx(self._by_id[fid], ci) if ci is not None else None)
                if ctx not in seen:
                    seen[ctx] = label
                    todo.append(ctx)
            while todo and r.kind != "signal":  # see _SIGNAL_DEPTH
                ctx = todo.pop()
                how = seen[ctx]
                for nxt in edges.get(ctx, ()):
                    if nxt in root_ctx and root_ctx[nxt] is not r:
                        continue
                    if nxt not in seen:
                        seen[nxt] = how
                        todo.append(nxt)
            self.m.reach.add(r, seen)
        # A thread or task started by code that itself runs several times at once (a worker that
        # spawns a future per request) runs several times at once too.
        for _ in range(_DEPTH):
            changed = False
            for fid, pts in self.m.spawns.items():
                rf = self._by_id[fid]
                for p in pts:
                    runners = self.m.reach.get((fid, self._spawner_ctx(rf, p)))
                    if any(x is not None and x.multi for x in runners):
                        for r in p.roots:
                            if not r.multi and r.kind == "thread":
                                r.multi = changed = True
            if not changed:
                break
        self.m.resolve_ctx = lambda rf, ci: self.closure_ctx(rf, ci)
        self.m.handles = {id(rf.flow): rf for rf in self.fns}
        self._entry_phases()
        return self.m

    def _entry_phases(self):
        started: dict[int, set] = defaultdict(set)
        for fid, pts in self.m.spawns.items():
            for p in pts:
                if p.ctx is None:
                    started[fid] |= p.roots
        for _ in range(3):
            changed = False
            for rf in self.fns:
                for caller, ci, byte in rf.callers():
                    st = started.get(id(rf))
                    if st and self.closure_ctx(caller, ci) is None and not st <= started[id(caller)]:
                        started[id(caller)] |= st
                        changed = True
            if not changed:
                break
        # One spawn point per call site, with what all its targets start, and one frozenset per
        # distinct set of roots: a point with its own copy of the roots per site and target took
        # 2.8 GB on the Rust registry while a bare name resolved to every function of that name
        # in the scan. The queries take unions of the points (before(), prethread): the same.
        at_site: dict = {}  # (id(caller), closure, byte) -> [caller, roots]
        for rf in self.fns:
            st = started.get(id(rf))
            if not st:
                continue
            for caller, ci, byte in rf.callers():
                got = at_site.get((id(caller), ci, byte))
                if got is None:
                    at_site[(id(caller), ci, byte)] = [caller, st]
                elif not st <= got[1]:
                    got[1] = got[1] | st
        shared: dict = {}  # one frozenset per distinct set of roots
        for (_fid, ci, byte), (caller, roots) in at_site.items():
            roots = frozenset(roots)
            roots = shared.setdefault(roots, roots)
            self.m.spawns[id(caller)].append(_Point(byte, self.closure_ctx(caller, ci), roots, self.loops_at(caller, byte)))
        for _ in range(3):
            changed = False
            for rf in self.fns:
                if not rf.called() or (rf.fn.name == "main" and rf.fn.impl_type is None):
                    continue
                changed |= self.m.set_entry_phases(id(rf), ((caller, ci if ci >= 0 else None, byte) for caller, ci, byte in rf.callers()))
            if not changed:
                break


def _build_rust(index) -> ThreadModel:
    b = _RustBuilder(index)
    b._by_id = {id(rf): rf for rf in b.fns}
    return b.build()
