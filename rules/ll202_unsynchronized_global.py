"""## What it does
Flags a mutable global (namespace-scope variable, file-`static`, static data member, or a
function-local `static`) that is written with no lock held where another access to it (or another
run of the same code) can run at the same time on a different thread, with positive evidence of
both threads: the write is reached from one thread root and the other access from another root
(or the same root, started more than once), at least one of them a thread of its own
(`std::thread`, `pthread_create`, a pool task, an exported entry point; a signal handler alone is
not a second thread). One finding per variable, on its declaration; the message names both roots
and both access lines, the related locations show them.

When one side is code no thread root reaches (its callers are not seen), or the only other root
is a signal handler, the finding is LL210's (`unsynchronized-global-audit`, opt-in) instead.

Which thread runs what comes from the thread model (`lifelint.threads`): roots are `main`,
threads (`std::thread`, `pthread_create`, `std::async`, a `QThread::run`...), work handed to a
pool (`submit`, `execute`, `enqueue`), handlers posted to an event loop or strand, signal
handlers, and functions exported to another language (SWIG `%extend`/`%inline`; `extern "C"`,
as a block, on one declaration or through an export macro, in a library). In a tree that has a `main` (a program, or a
library with tests, examples or tools), an `extern "C"` definition is a host entry point when
a header publishes it (a prototype inside `extern "C"` or led by an export macro; a prototype in a source file is a
consumer's import, the project's own call), its own file does not
define `main`, and the project neither calls it nor hands it over as a callback; otherwise it is
taken as the program's own code (a platform callback found by symbol, a service main). Two accesses race only when they can run on two threads: two roots, at least one a
real thread, not ordered by a phase (a write before the thread that reads it is started, or
after it was joined, is a phase, not a race; so is a write before a thread that starts the
reader's thread), or one root that runs concurrently with itself (a thread started in a loop or
twice, a pool task, an exported function), and not ordered by a handshake (the write followed by
a release of a sync object, the other access preceded by an acquire of the same object that
succeeded). What a program does on `main`'s thread before it
starts any thread (in `main`, or in the helpers and constructors only called there, however
deep; a signal handler installed before it is no thread) is its single-threaded start and races
with nothing; so is what a set-up function writes when it runs there and is otherwise only
called while a global it sets still holds its initial value (`if (mode == MODE_UNSET) setup();`:
after the start-up call that test fails on every thread). A write inside `std::call_once` /
`pthread_once` is ordered with every access after a call on the same flag. Handlers posted to one
strand or event loop are one thread (confinement). Lifecycle facts: a worker object destroyed
(`delete`, `reset()`) joins the threads its destructor joins; two threads assigned to one
`std::thread` member run one after the other; what a thread reaches only through a function
that always ends the process (`fatal()` calling `exit`) is teardown and not followed; an `auto&`
local takes the type its initialiser returns (`auto& t = Registry::at(i); t.start();`).

Skipped: `const`/`constexpr`, `std::atomic`, `thread_local`, mutexes and other synchronisation
objects, writes with a lock held (in the function, or by every caller), static initialisers.

Work submitted with `std::async` (unless `std::launch::deferred`: it runs on the thread that
waits for it), a pool's `enqueue`/`submit`/`execute`, a thread pool's `post`/`dispatch` runs on
another thread. Waiting for it where it was submitted orders what follows: `get()`/`wait()` on
the future it returned (with no branch or loop skipping the wait), `join()`/`wait()` on the pool
it went to, and the end of the statement for a `std::async` future left as a temporary (its
destructor waits). A task each run of its submitting code waits for runs concurrently with
itself only when that code does.

Members of a singleton count as globals (calls through the accessor, `Stats::instance().hit()`,
reach the class's methods: a qualified call used as a receiver has the type it returns): a class whose one object is reached through a static
accessor (a method returning its class that returns a function-local static of it, `static T
t; return t;`, or a static member pointing to it, `return s_instance;`) and built nowhere else
(no local, global, member, `new` or `make_unique` of the class outside the accessor). A data
member written in one of its methods with no lock on one thread root and used on another is
reported on the member's declaration, the message naming the accessor. Members that some access
locks (LL203's), atomics, `const` members and members written only by the constructor or
destructor are not, nor are the accesses of a function that resets the instance pointer
(`s_instance = nullptr` when the last reference goes: it tears the object down).

Rust: a `static mut` written (assigned, borrowed `&mut`, mutated through a `&mut self` method)
where another access can run on another thread: a spawned thread or task (a future handed to a
runtime's `spawn` is polled on any of its workers; one awaited where it is made, or given to
`spawn_local`, stays on its creator's thread), a signal handler
(`signal`, `sigaction`, `signal_hook`), an `extern "C"` / `#[no_mangle]` function. Writes inside
`Once::call_once` / `get_or_init`, under a lock guard held on every path to them (the guard's
life follows the control flow, lifelint.facts.rust_cfg: not the `else` of a `try_lock`, not a
thread spawned under it, not an `async` block spawned or handed out under it: a future runs
where it is polled, under the creator's guard only when awaited right there or run by
`block_on`), or behind a `compare_exchange`/`swap` gate are synchronised; `unsafe fn`s whose `# Safety` section can require callers to serialise are
trusted. `addr_of_mut!` / `&raw mut` only make a pointer. `#[thread_local]`, `thread_local!`,
`#[cfg(test)]` items and `#[test]` functions are not reported. A gate made of a `static mut`
itself (`if !INITED { .. }`, `STATE.take()`, `mem::replace(&mut CLAIMED, true)`) has no single
winner and orders nothing.

## Why is this bad?
A global has no owner: any thread may read it while another writes it. The classic shape
(seed 001): a SWIG binding sets `memory_disk_memory_size` from whatever Python thread calls it,
while the session's disk thread reads it in a storage constructor. The read can see a torn or
stale value, and the compiler may cache or reorder the access; it is undefined behaviour even
when "it is only an integer".

## Example
```cpp
std::int64_t g_memory_size = 0;               // <- reported here

%extend session_params {                       // exported: any host thread
    void set_memory_disk_io(std::int64_t size) { g_memory_size = size; }
}
memory_storage::memory_storage() : capacity(g_memory_size) {}  // disk thread
```

## Use instead
```cpp
std::atomic<std::int64_t> g_memory_size{0};
```
or guard every access with one mutex, or better, pass the value to the object that needs it
instead of going through a global.

## Known limits
- A call through a pointer to a class of the project (`g_pool->clear()`) reads the pointer and
  runs that class's own method on the object; it is not a write of the pointer (standard
  containers and smart pointers reached through `->` still count as changed). A project method
  that changes shared state without locking is judged where it writes, not at the call.
- Calls are resolved by name and declared type; virtual dispatch and function pointers beyond
  thread starts are not followed, so code reached only through them counts as "no root".
  Rust: a call path resolves within the caller's crate (the nearest Cargo package), or in the
  crate its path or a `use` names (`pub` functions only); modules inside a crate are not
  resolved, so two private helpers of one name in one crate are both candidates. Method calls
  resolve by name, when it names at most three methods of the scan.
- A callback handed to an unknown library runs on an unknown thread: it is not a root unless
  invoked from a known one by name (`p.on_done()` for a stored `p.on_done = [..]`).
- Phases are judged in one body (and through its callers): a thread joined in another function
  counts only when the thread object is a class member joined in one of its methods.
- A `post`ed handler is taken to run on one event-loop thread; an `io_context` run by several
  threads is not known.
- A signal handler counts for its own body only: globals its callees touch are not reported.
- Globals reached through a pointer are not checked. Members of singletons are judged on the
  accesses inside the class's own methods: a member written from outside
  (`Config::get()->level = 3`) is not seen, nor is a singleton that is a global object of its
  class (`Logger g_log;`: any other object of the class may exist) or whose accessor is a free
  function. A class whose accessor returns a copy of its static (`static Color red()`) is told
  apart from a singleton only by the copies its callers keep.
- A future waited on in another function (returned, stored in a member, moved into a
  container) orders nothing; neither does `wait_for`/`wait_until` (it can time out).
- An `extern "C"` hidden in an export macro (`#define FEED_API FEED_EXTERN VISIBLE` with
  `#define FEED_EXTERN extern "C"`, then `FEED_API void feed_set(int)`) is seen when the macros
  are one-line `#define`s of macro words and attributes, in any scanned file; so is a block
  opened and closed by macros (`#define BEGIN_DECLS extern "C" {` / `#define END_DECLS }`,
  directly or through another macro), when each stands alone on its line: the definitions
  between them (or up to the end of the file, when nothing closes it) are exported and the
  prototypes between them in a header are published. A visibility or `dllexport` macro alone
  (C++ linkage) is not an entry point.
- Not yet seen as thread starts: a `std::thread` member constructed in a constructor's
  initialiser list, `threads.emplace_back(fn)` into a container of threads; a receiver declared
  by a range-`for` (`for (auto& w : workers) w.start()`) is not resolved.
- Programs of one source tree are told apart by what the linker allows (lifelint.platforms):
  two files that define `main` are two programs; two source files that define the same function
  or variable with external linkage (a test double of a module, a tool's own `g_config`) are
  never linked together; and a program's entry is apart from the doubles of any file it needs
  (a file that alone defines something it calls, followed call by call). Accesses and thread
  roots in files that are apart do not race. Library code that several programs link is not
  split per program: a call there that both the real module and its double answer reaches both.
- Handshakes pair a release and an acquire of one sync object (an atomic, condition variable,
  future/promise, latch, barrier, semaphore or once-flag), told apart by owner, not by name: a
  member of the class that declares it (through a parameter or a pointer: any object of that
  class), a global, a path of fields from a global, member or local object (`a.ready` is not
  `b.ready`), a local of one function. A member named inside its class (`ready`) and through an
  object outside it (`g_chan.ready`) are not matched.
- An acquire that can fail (an atomic load or read, `wait_for` / `wait_until`, `try_acquire*`)
  orders only the code that runs where it succeeded: the branch of an `if`, `?:` or `&&` that
  tested it (also through a local it was stored in), what follows a `while (!ready)` loop or an
  early `if (!ready) return;`, and the same tests of an accessor that returns it. A load in a
  `for (;;) { if (ready) break; }` loop is not followed, so what comes after it is reported.
- A double-checked guard orders its writes only with a lock (or the atomic flag's published
  value, for readers that saw it). A single-winner gate (`if (!claimed.exchange(true))`,
  `!f.test_and_set()`, a successful `compare_exchange_*(.., true)`) on a flag nothing clears or
  re-arms runs its branch once: two runs of that branch do not race, but a reader outside it
  still needs a handshake. A try-lock made of such a flag and a `clear()` is not seen as a lock,
  and a hand-written spin lock is not a handshake. A condition variable's notify counts as a
  release whether or not the writer took the waiter's mutex.
- The single-threaded start is judged on resolved calls: a thread started from a static
  initialiser, or through a function pointer stored earlier and called before the write, is not
  seen; a helper run only through a function pointer has no call site and is not part of it.
  Constructions are calls of the constructors they run: `T x;`, `T x(a)`, `T x{a}`, `new T(a)`,
  `make_unique<T>(a)` run `T`'s, its bases' and its data members' constructors (one level of
  members; a member built in an initialiser list by a call is that call). Branches count
  only as far as one `if` goes: a write in the `else` of the `if` (or `else if`) whose other
  branch starts the threads is not after them, nor is one after a join made in the other branch
  (unless a loop holds that `if`); a write after an `if` whose thread-starting branch returns
  early is still taken as after the start, and `switch` cases are not told apart.
- A call through a function parameter ends the start unless every call of that function hands
  in a function that starts no thread, or a lambda none of whose calls (those written inside the
  argument) may start one. Calls from test cases that a framework's macro makes
  (`TEST(..) { .. }`) belong to the test program and do not count, so a test that starts threads
  before calling start-up code is not seen. A lazy call (`if (!g_table) build_table();`,
  `if (g == INIT) setup();` with `INIT` the global's initialiser) is out of the start's way when
  its callee assigns that global anywhere in its body and has a call in the start (a start-up
  call under a condition is taken as made); a global assigned its initial value anywhere again
  (`g_table = nullptr;`) is no such guard.
- A helper that calls `exit`, `abort` or `_exit` outside any branch (or another such helper) is
  taken as ending the process, and the model does not follow calls into it, even when a `return`
  before that call (`if (ok) return; _exit(1);`) comes back on the good path: following those
  (c8a1cf6, reverted) brought a service's whole start-up into view, with 6 TRUE and 16 FALSE on
  the tune half, until "one thread's role" and "a once flag passed through a wrapper" are facts.
- A project's own do-once helper (`do_once(&init, state)` that loops on its atomic state
  parameter, claims it with a `compare_exchange_*` in that loop and runs its callable parameter
  only where the claim succeeded, itself or through a helper it hands it to) is taken as
  `std::call_once` on that state. A lambda handed to it is taken to run later (the audit rule's
  case), and a function pointer run through a helper that makes no claim is not followed as a
  call; the state must be a global, member or local the facts know (a global declared inside an
  `#if` block at namespace scope is not one yet).
- A write made once under a lock (lifelint.init_once: in a once-guarded region, its state never
  set back) is ordered before an access that runs after a call of its init function: that pair
  does not race. Only the locked write is covered; LL202 reports unlocked writes, so this matters
  where an unlocked write comes after the init. A write the lock index sees unlocked because
  one caller holds no lock (a refcount `if (++count == 1) init();` reached from a static
  object's constructor, a constructor built under its creator's lock) is still reported.
- A function-local static's initialiser (`static T t;`, `static T* p = new T;`) runs once and
  every caller past the declaration sees it done: what a function run only there writes (the
  constructor a singleton's `instance()` builds) is ordered with every access that follows a
  call of it. A constructor also run elsewhere, outside such an initialiser, is not.
- A lazily initialised global (`if (!g) g = new T;` / `if (g == nullptr) {..}` at the top level
  of the function, every write of it so guarded) whose initialising function is also called
  during the single-threaded start (from `main` before its first thread, or through callers that
  run then, before they start one) is initialised then: not reported. A start-up call under a
  condition is taken as made (the start is not path-sensitive); a constructor reaching it
  counts where its object is built (`new App` calling `Registry::instance()`); a lazy write under
  another condition too, or a global something sets back to null, is still reported. A thread
  started by a method of a class whose constructor calls the initialising function at the top
  level of its body only ever finds it set (the object is built before its method runs): its
  runs race with no first call. A constructor that calls it only in a branch does not count.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lifelint.locking import access_verb, class_of_type, is_sync_type, locking_index
from collections import defaultdict

from lifelint.rust_checks import (closure_at, fn_label, in_once_closure, lock_held, param_names, project, single_winner_gate,
                                  static_target)
from lifelint.threads import describe, rust_thread_model, thread_model
from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule


def _candidate(var) -> bool:
    if var is None or var.kind not in ("global", "static-member"):
        return False
    if var.is_const or var.is_thread_local or var.is_reference or var.is_atomic or is_sync_type(var.type):
        return False
    return True


@dataclass
class _Race:
    var: object
    writes: list  # unlocked writes (locking.Access), first the one that races
    other: object  # the access it races with (may be the write itself: two runs of one function)
    roots: tuple  # (root of the write, root of the other), either may be None (unseen caller)
    how: tuple  # how each root reaches its access
    known: bool = False  # both reached from a thread root: LL202's precise part (else LL210's audit)


def _build(index):
    """id(Variable) -> _Race for every candidate global with an unlocked write that can run at the
    same time as another access (or another run of itself) on another thread."""
    li = locking_index(index)
    tm = thread_model(index)
    accesses: dict[str, list] = {}
    for fl in li.functions:
        for a in fl.accesses:
            if _candidate(a.var):
                accesses.setdefault(a.key, []).append(a)
    out = {}
    for key, items in accesses.items():
        if _self_synced_type(index, li, items[0].var.type):
            continue
        writes = [a for a in items if a.write and not a.fn.held_at(a.held, a.lambda_index, a.span.start_byte)
                  and not _through_synced_field(index, li, a)]
        if writes and _initialised_at_start(tm, items):
            continue
        if not writes:
            continue
        skip = _initialised_roots(tm, items)
        known = True
        race = _first_race(li, tm, writes, items, known_only=True, skip_roots=skip)
        if race is None:
            known = False
            race = _first_race(li, tm, writes, items, skip_roots=skip)
        if race is not None:
            w, o, (ra, rb) = race
            out[id(w.var)] = _Race(w.var, [w, *[x for x in writes if x is not w]], o, (ra, rb),
                                   (tm.roots_at(w.fn, w.lambda_index).get(ra, ""), tm.roots_at(o.fn, o.lambda_index).get(rb, "")),
                                   known)
    return out


@functools.lru_cache(maxsize=4096)
def _null_test(name: str):
    """A condition (whitespace removed) that is true while `name` is unset: `(!g)`, `(g==nullptr)`."""
    n = re.escape(name)
    return re.compile(rf"\(!(?:this->|::)?{n}\)|\((?:this->|::)?{n}==(?:nullptr|NULL|0)\)|"
                      rf"\((?:nullptr|NULL|0)==(?:this->|::)?{n}\)")


def _lazy_guard(a) -> bool:
    """`a` is an assignment that runs only when the variable is still unset, and on every run that
    finds it unset: `if (!g) g = new T;` / `if (g == nullptr) { g = make(); }` at the top level of
    the function body (no other branch, loop or lambda around it)."""
    if a.verb != "assigned" or a.lambda_index is not None:
        return False
    flow = a.fn.fn.flow
    use = next((u for u in flow.uses if u.span == a.span), None)
    if use is None:
        return False
    null_test = _null_test(a.name)
    guarded, test_if = False, None
    for si in flow.scope_ancestors(use.scope):
        sc = flow.scopes[si]
        if si == test_if:
            continue  # the null test's own `if`
        if not guarded and sc.branch == "then" and sc.parent is not None \
                and null_test.fullmatch(flow.scopes[sc.parent].cond or ""):
            guarded, test_if = True, sc.parent
            continue
        if sc.kind == "function" or (sc.kind == "block" and sc.branch is None):
            continue
        return False  # another branch, a loop, a lambda: not on every run that finds it unset
    return guarded


def _runs_at_start(tm, fl, depth: int = 4) -> bool:
    """Some call of `fl` happens during the program's single-threaded start (ThreadModel.prethread),
    directly or through callers that run then, before they start any thread."""
    # calls, and constructions of an object whose constructor it is (`new T` in `instance()`)
    sites = [(cs.fn, cs.span.start_byte) for cs in fl.callers if cs.runs_now and cs.lambda_index is None]
    sites += [(f, b) for f, lam, b in tm.built_at.get(id(fl), ()) if lam is None]
    for caller, byte in sites:
        if tm.prethread(caller, None, byte):
            return True
        if depth and not any(p.ctx is None and p.byte < byte for t in (tm.spawns, tm.opaque)
                             for p in t.get(id(caller), ())) and _runs_at_start(tm, caller, depth - 1):
            return True
    return False


def _initialised_at_start(tm, items) -> bool:
    """A lazily initialised global (`if (!g) g = new T;`, every write of it so guarded) whose
    initialising function also runs during the single-threaded start: the write happens then,
    before any thread exists, and every later run finds it set and only reads (RacerD's
    ownership before publication; the first call of a singleton's `instance()` from `main`)."""
    writes = [a for a in items if a.write]
    return bool(writes) and all(_lazy_guard(a) for a in writes) and \
        any(_runs_at_start(tm, a.fn) for a in writes)


def _initialised_roots(tm, items) -> frozenset:
    """Threads that only ever find a lazily initialised global set: those started by a method of
    a class whose constructor calls the initialising function on every run (its body's top
    level). An object is built before any of its methods runs, so the thread its method starts
    comes after some constructor of the class did the initialisation (`YubiKey::YubiKey()` calls
    `Interface::instance()`; `findValidKeysAsync()` starts the worker that calls it again)."""
    writes = [a for a in items if a.write]
    if not writes or not all(_lazy_guard(a) for a in writes):
        return frozenset()
    classes = set()
    for fl in {id(a.fn): a.fn for a in writes}.values():
        for cs in fl.callers:
            flow = cs.fn.fn.flow
            if cs.fn.fn.is_ctor and cs.fn.cls and cs.runs_now and cs.lambda_index is None and flow is not None \
                    and _every_run(flow, flow.calls[cs.call].scope):
                classes.add(cs.fn.cls)
    if not classes:
        return frozenset()
    return frozenset(r for r in tm.roots if r.cls in classes and r.kind in ("thread", "task"))


def _every_run(flow, scope: int) -> bool:
    """Code in `scope` runs on every run of the body: the body itself, plain blocks, and the
    condition of an `if`/`switch` (its branches are scopes of their own, not followed)."""
    for si in flow.scope_ancestors(scope):
        sc = flow.scopes[si]
        if sc.kind == "function" or (sc.kind == "block" and sc.branch is None) or \
                (sc.kind in ("if", "switch") and si == scope):
            continue
        return False
    return True


def _self_synced_type(index, li, type_text: str) -> bool:
    """A project class (reached through `using`/`typedef` aliases: `typedef stat_t_trait<uint64_t>
    stat_t`) whose data members are all atomics or synchronising objects: its own operations are
    the synchronisation, like `std::atomic`'s."""
    t = re.sub(r"\b(static|volatile|inline|mutable)\b", "", type_text).strip()
    for _ in range(4):
        base = re.sub(r"<.*", "", t).strip().split("::")[-1]
        ks = li.classes.get(base, ())
        if ks:
            fields = [f for k in ks for f in k.fields]
            return bool(fields) and all(f.is_atomic or is_sync_type(f.type) for f in fields)
        nxt = index.resolve_alias(base)
        if not nxt or nxt == t:
            return False
        t = nxt
        if is_sync_type(t) or re.search(r"\batomic\b", t):
            return True
    return False


@functools.lru_cache(maxsize=4096)
def _field_of(name: str) -> re.Pattern:
    """`g_stats.hits`, `ns::g_stats[i]->hits`: a field of the global `name` (its pattern, compiled
    once per name: one per access was most of LL202's own time on a big project)."""
    return re.compile(r"(?:::)?(?:\w+::)*" + re.escape(name) + r"(?:\[[^\]]*\])?(?:\.|->)(\w+)")


def _through_synced_field(index, li, a) -> bool:
    """A write to a field of the global (`g_stats.hits++`) whose declared type synchronises itself
    (an atomic, through aliases: `using stat_t = std::atomic<uint64_t>`; a mutex-guarded wrapper):
    the field's own operations are the synchronisation."""
    flow = a.fn.fn.flow
    use = next((u for u in flow.uses if u.span == a.span), None)
    if use is None:
        return False
    m = _field_of(a.name).match(use.path.replace(" ", ""))
    if not m:
        return False
    cls = class_of_type(a.var.type, element=True)
    for k in li.classes.get(cls or "", ()):
        f = k.field_named(m.group(1))
        if f is None:
            continue
        t = f.type
        for _ in range(3):
            if f.is_atomic or is_sync_type(t):
                return True
            base = re.sub(r"<.*", "", t.replace("const", "").strip()).split("::")[-1]
            nxt = index.resolve_alias(base)
            if not nxt or nxt == t:
                break
            t = nxt
            if "atomic" in t or is_sync_type(t):
                return True
    return False


def _first_race(li, tm, writes, items, known_only=False, skip_roots=frozenset()):
    seen = set()
    orders: dict = {}

    def order(a):
        """What orders an access besides its context: the spawns, joins and handshakes around it
        (two accesses of one context with the same order answer alike)."""
        got = orders.get(id(a))
        if got is None:
            args = (a.fn, a.lambda_index, a.span.start_byte)
            got = orders[id(a)] = (tm.before(*args), tm.after(*args), tm.released_after(*args), tm.acquired_before(*args))
        return got

    for w in writes[:64]:
        cw = tm.context(w.fn, w.lambda_index)
        # other functions first: a race between two functions reads better than one with itself
        others = sorted(items, key=lambda o: (o is w, o.write))
        for o in others[:256]:
            if o is not w and o.fn is w.fn and o.lambda_index == w.lambda_index:
                continue
            co = tm.context(o.fn, o.lambda_index)
            sig = (cw, co, w.span.start_byte if o is w else None, order(w), order(o))
            if sig in seen and o is not w:
                continue
            seen.add(sig)
            if o is not w:
                ho = o.fn.held_at(o.held, o.lambda_index, o.span.start_byte)
                hw = w.fn.held_at(w.held, w.lambda_index, w.span.start_byte)
                if ho & hw:
                    continue
                if li.init_ordered(o, w):
                    continue  # `o` initialised once under a lock, `w` runs after that init
            ev = tm.may_race(w.fn, w.lambda_index, w.span.start_byte, o.fn, o.lambda_index, o.span.start_byte,
                             _signal_safe(w.var), known_only=known_only)
            if ev is not None and not (skip_roots and (ev[0] in skip_roots or ev[1] in skip_roots)):
                return w, o, ev
    return None


def _static_local_races(index, facts):
    """Function-local statics written with no lock in a function that can run on two threads at
    once: (Variable, [writes as (fl, use)], (root, root))."""
    li = locking_index(index)
    tm = thread_model(index)
    by_decl = {}
    for v in facts.cpp.globals:
        if v.kind == "static-local" and _candidate_local(v):
            by_decl[v.name_span.start_byte] = v
    if not by_decl:
        return
    for fl in li.in_file(facts.path):
        flow = fl.fn.flow
        for di, d in enumerate(flow.decls):
            if d.kind != "static" or d.span.start_byte not in by_decl:
                continue
            v = by_decl[d.span.start_byte]
            writes = []
            for u in flow.uses:
                if u.decl != di:
                    continue
                write, _verb = access_verb(u)
                if not write:
                    continue
                held = fl.held_at(frozenset(k for i in u.locks if i < len(fl.region_keys) for k in fl.region_keys[i]),
                                  u.lambda_index, u.span.start_byte)
                if not held:
                    writes.append(u)
            for u in writes:
                ev = tm.may_race(fl, u.lambda_index, u.span.start_byte, fl, u.lambda_index, u.span.start_byte,
                                 _signal_safe(v))
                if ev is not None:
                    yield v, fl, writes, u, ev, tm.roots_at(fl, u.lambda_index), None not in ev
                    break


def _signal_safe(v) -> tuple:
    """A `volatile` scalar or a `sig_atomic_t` is what C and C++ let a signal handler write: the
    handler runs on the thread it interrupts. Only threads are evidence against it."""
    t = v.type.replace(" ", "")
    if "sig_atomic_t" in t or ("volatile" in v.type.split() and _scalar(v)):
        return ("signal",)
    return ()


def _candidate_local(v) -> bool:
    return not (v.is_const or v.is_thread_local or v.is_reference or v.is_atomic or is_sync_type(v.type))


# --- members of singletons -------------------------------------------------------------------

_MAKERS = re.compile(r"(?:std::)?(?:make_unique|make_shared)\s*<\s*(?:\w+::)*(\w+)\s*>")


def _base_class(type_text: str) -> str:
    """`const Stats&` / `ns::Stats*` / `std::unique_ptr<Stats>` -> `Stats` (smart pointers
    unwrapped, qualifiers, `*` and `&` dropped)."""
    t = re.sub(r"\b(const|volatile|static|inline|mutable|constexpr)\b", "", type_text).replace(" ", "")
    m = re.fullmatch(r"(?:std::)?(?:unique_ptr|shared_ptr)<(.+)>", t.rstrip("*&"))
    if m:
        t = m.group(1)
    return t.rstrip("*&").split("::")[-1]


def _singletons(index) -> dict:
    """class name -> how its one object is reached (`Stats::instance()`), for the classes of the
    project with a static accessor (a method returning a reference or pointer to its class that
    returns a function-local static of the class, `static T t; return t;`, or a static member
    pointing to one, `return s_instance;`) and no object built anywhere else: no local, global,
    member or `new`/`make_unique` of the class outside the accessor. Then every non-static
    method runs on that one object, and its members are shared like globals."""
    li = locking_index(index)
    accessors: dict[str, tuple] = {}
    for fl in li.functions:
        fn, flow = fl.fn, fl.fn.flow
        # (the return type as kept has no declarator: a copy returned by value, `static T red()
        # { static T c; return c; }`, is told apart by the copies its callers keep: built below)
        if not fl.cls or flow is None or fn.is_ctor or fn.is_dtor or not fn.return_type:
            continue
        if _base_class(fn.return_type) != fl.cls:
            continue
        statics = {d.name for d in flow.decls if d.kind == "static" and _base_class(d.type) == fl.cls}
        statics |= {n for n, (_o, v) in fl.fields.items() if v.kind == "static-member" and _base_class(v.type) == fl.cls}
        rets = [re.sub(r"\.get\(\)$|^[*&(]+|\)$", "", (r.value or "").replace(" ", "")) for r in flow.returns
                if r.lambda_index is None]
        hit = [v for v in rets if v in statics]
        if hit:
            member = hit[0] if hit[0] in fl.fields else None  # the static member pointing to it
            accessors.setdefault(fl.cls, (fl, f"{fl.cls}::{fn.name}()", member))
    if not accessors:
        return {}
    built: set = set()  # classes with an object built outside their accessor
    for fl in li.functions:
        flow = fl.fn.flow
        if flow is None:
            continue
        acc = accessors.get(fl.cls or "")
        own = acc is not None and acc[0] is fl
        for d in flow.decls:
            if d.kind in ("local", "static") and not own and not d.pointer_depth and not d.is_reference \
                    and "*" not in d.type and "&" not in d.type and _base_class(d.type) in accessors:
                built.add(_base_class(d.type))
        for c in flow.calls:
            if own:
                continue
            if c.kind in ("new", "construct"):
                built.add(re.sub(r"<.*", "", c.callee).split("::")[-1])
            m = _MAKERS.match(c.callee.replace(" ", ""))
            if m:
                built.add(m.group(1))
    for k_list in li.classes.values():
        for k in k_list:
            for f in k.fields:
                if not f.pointer_depth and not f.is_reference and "*" not in f.type and "&" not in f.type:
                    built.add(_base_class(f.type))
    for items in index.cpp_globals.values():
        for _f, v in items:
            if v.kind == "global" and not v.pointer_depth and "*" not in v.type and "&" not in v.type:
                built.add(_base_class(v.type))
    return {cls: (label, fl, member) for cls, (fl, label, member) in accessors.items() if cls not in built}


def _member_candidate(index, li, f) -> bool:
    return _candidate_local(f) and f.kind == "field" and not _self_synced_type(index, li, f.type)


def _singleton_races(index) -> dict:
    """id(field Variable) -> (_Race, accessor label) for members of singletons written unlocked
    on one thread root and used on another (both reached from thread roots). A member any
    access of which holds a lock is left to LL203 (inconsistent locking); writes by the
    constructor or destructor (and code only they run) are the object's own set-up."""
    singles = _singletons(index)
    if not singles:
        return {}
    li = locking_index(index)
    tm = thread_model(index)
    fields = {}
    teardown = set()
    for cls, (label, acc, member) in singles.items():
        for k in li.classes.get(cls, ()):
            for f in k.fields:
                if _member_candidate(index, li, f):
                    fields[id(f)] = (f, label)
        if member is not None:
            # a function other than the accessor that changes the instance pointer
            # (`s_instance = nullptr` when the last reference goes) unpublishes the object: it
            # tears it down, like its destructor, and is no evidence of sharing
            key = f"{acc.fields[member][0]}::{member}"
            teardown |= {id(a.fn) for fl in li.functions if fl is not acc for a in fl.accesses
                         if a.key == key and a.write}
    by_var: dict = defaultdict(list)
    for fl in li.functions:
        if fl.lifecycle or fl.context == "ctor" or id(fl) in teardown:
            continue
        for a in fl.accesses:
            if a.var is not None and id(a.var) in fields and "->" not in a.key:
                by_var[id(a.var)].append(a)
    out = {}
    for vid, items in by_var.items():
        if any(a.fn.held_at(a.held, a.lambda_index, a.span.start_byte) for a in items):
            continue  # some access locks it: LL203's question
        writes = [a for a in items if a.write]
        if not writes:
            continue
        race = _first_race(li, tm, writes, items, known_only=True)
        if race is None:
            continue
        w, o, (ra, rb) = race
        out[vid] = (_Race(w.var, [w, *[x for x in writes if x is not w]], o, (ra, rb), ("", ""), True), fields[vid][1])
    return out


def global_findings(rule, facts, index, precise: bool):
    """Findings of LL202 (`precise`: both sides reached from thread roots) or of LL210 (the
    rest: one side is code no thread root reaches)."""
    if facts.language == "rust":
        yield from _rust_findings(rule, facts, index, precise)
        return
    table = index.memo("LL202.races", _build)
    for v in facts.cpp.globals:
        race = table.get(id(v))
        if race is None or v.is_extern or race.known != precise:
            continue
        yield _report(rule, v, race, facts, precise)
    if precise:
        members = index.memo("LL202.singletons", _singleton_races)
        for k in facts.cpp.classes if members else ():
            for v in k.fields:
                got = members.get(id(v))
                if got is not None:
                    yield _report(rule, v, got[0], facts, precise, singleton=(k.name, got[1]))
    for v, fl, writes, u, (ra, rb), how, known in _static_local_races(index, facts):
        if known != precise:
            continue
        where = "" if u.lambda_index is None else "a lambda in "
        evidence = _evidence_text(ra, rb, how.get(ra, ""), how.get(rb, ""), same=True)
        fix = "Make it `std::atomic`, or guard it with a mutex" if _scalar(v) else "Guard it with a mutex"
        headline = (f"Function-local static `{v.name}` is written unlocked in {where}`{fl.label}`, which can run on two "
                    "threads at once.")
        why = (f"`{fl.label}` writes it at {fl.path}:{u.span.line} on {evidence}, so two calls race on it.")
        related = [Related(w.span, f"`{v.name}` written here with no lock") for w in writes[:3]]
        related += _root_related(ra, rb, facts)
        yield rule.finding(v.name_span, headline, related, why=why, fix=f"{fix}, or keep the state per thread or per object.")


def _at(facts, x) -> str:
    return f"{x.fn.path}:{x.span.line}"


def _report(rule, v, race, facts, precise: bool, singleton=None):
    w, o = race.writes[0], race.other
    ra, rb = race.roots
    kind = "Static member" if v.kind == "static-member" else ("File-static variable" if v.is_static else "Global")
    subject = f"{kind} `{v.name}`"
    if singleton is not None:
        subject = f"Member `{v.name}` of singleton `{singleton[0]}`"
    how = "written" if w.verb == "assigned" else w.verb
    wwhere = "a lambda in " if w.lambda_index is not None else ""
    fix = ("Make it `std::atomic`, or guard every access with one mutex" if _scalar(v)
           else "Guard every access with one mutex")
    if singleton is not None:
        fix += " (a mutex member of the singleton), or keep the state per thread."
    else:
        fix += ", or pass the value to whoever needs it instead of going through a global."
    n = len(race.writes)
    more = f" ({n - 1} other unlocked write{'s' if n > 2 else ''} too)" if n > 1 else ""
    if o is w:
        headline = f"{subject} is {how} unlocked in {wwhere}`{w.fn.label}`, which can run on two threads at once."
        why = (f"{wwhere.capitalize()}`{w.fn.label}` writes it at {_at(facts, w)}{more} and runs on "
               f"{_evidence_text(ra, rb, '', '', same=True)}, so two runs race on it.")
    else:
        other_how = "written" if o.write else "read"
        owhere = "a lambda in " if o.lambda_index is not None else ""
        headline = (f"{subject} is {how} unlocked in {wwhere}`{w.fn.label}` and {other_how} in {owhere}"
                    f"`{o.fn.label}` on another thread.")
        why = (f"{wwhere.capitalize()}`{w.fn.label}` writes it at {_at(facts, w)}{more} on {describe(ra)}; "
               f"{owhere}`{o.fn.label}` {'writes' if o.write else 'reads'} it at {_at(facts, o)} on {describe(rb)}. "
               "No common lock, spawn, join or handshake orders the two, so they race.")
    if not precise:
        why += " One side is code no thread root reaches (its callers are not seen): review who calls it."
    if singleton is not None:
        why = (f"`{singleton[0]}` has one object, reached via `{singleton[1]}`, so its members are shared like "
               f"globals. {why}")
    related = []
    for x in race.writes[:3]:
        related.append(Related(x.span, f"`{v.name}` {'written' if x.verb == 'assigned' else x.verb} here with no lock "
                                        f"(`{x.fn.label}`)", None if x.fn.path == facts.path else x.fn.path))
    if o is not w:
        related.append(Related(o.span, f"`{v.name}` {'written' if o.write else 'read'} here (`{o.fn.label}`)",
                               None if o.fn.path == facts.path else o.fn.path))
    related += _root_related(ra, rb, facts)
    return rule.finding(v.name_span, headline, related, why=why, fix=fix)


class UnsynchronizedGlobal(Rule):
    code = "LL202"
    name = "unsynchronized-global"
    group = "nursery"  # measured: precision 0.40 over 121 triaged test-half findings (0.41 over 118 at the start of session 8)
    languages = ("cpp", "rust")
    level = Level.WARNING
    precision = Precision.MEDIUM
    summary = "A mutable global is written with no lock on one thread root and used on another that can run at the same time."
    tags = ("concurrency", "data-race")
    seeds = ("001", "002")

    def check(self, facts, index):
        yield from global_findings(self, facts, index, precise=True)


def _rust_findings(rule, facts, index, precise: bool):
    table = rust_races(index)
    for st in facts.rust.statics:
        race = table.get(id(st))
        if race is None or race.known != precise:
            continue
        (wf, wfn, w), (of, ofn, o), (ra, rb) = race.write, race.other, race.roots
        ww, ow_ = race.where
        what = _RUST_WRITE_WORDS.get(w.kind) or f"mutated through `.{w.name}()`"
        wline = f"{wf.path}:{w.span.line}"
        if o is w:
            headline = f"`static mut {st.name}` is {what} unsynchronised in {ww}{fn_label(wfn)}, which can run on two threads at once."
            other_text = f"{ww}{fn_label(wfn)} writes it at {wline} and can run on {_evidence_text(ra, rb, '', '')}"
        else:
            oline = f"{of.path}:{(ofn.name_span.line if isinstance(o, int) else o.span.line)}"
            ow = "written" if race.other_write else "read"
            headline = f"`static mut {st.name}` is {what} unsynchronised in {ww}{fn_label(wfn)} and {ow} in {ow_}{fn_label(ofn)}."
            other_text = (f"{ww}{fn_label(wfn)} writes it at {wline} and {ow_}{fn_label(ofn)} {'writes' if race.other_write else 'reads'} "
                          f"it at {oline}: one in {describe(ra)}, the other in {describe(rb)}")
        refs = (" Taking a reference to it (`&mut`, a `&mut self` method) is also rejected by Rust 2024's "
                "`static_mut_refs`." if race.reference else "")
        why = f"{other_text[0].upper()}{other_text[1:]}; they can run at the same time, so they race (undefined behaviour).{refs}"
        if not precise:
            why += " One side is code no thread root reaches (its callers are not seen): review who calls it."
        fix = (f"Use an atomic (`static {st.name}: Atomic*`), a `Mutex`, or `OnceLock` for one-time initialisation.")
        related = [Related(w.span, "written here with no synchronisation", None if wf is facts else wf.path)]
        if o is not w:
            if isinstance(o, int):  # a read: rows of identifier uses are not kept, point at the function
                related.append(Related(ofn.name_span, f"`{ofn.qualname}` reads it", None if of is facts else of.path))
            else:
                related.append(Related(o.span, "written here", None if of is facts else of.path))
        related += _root_related(ra, rb, facts)
        yield rule.finding(st.name_span, headline, related, why=why, fix=fix)


# --- Rust ---------------------------------------------------------------------------------------

RUST_MUTATING_METHODS = frozenset({
    "push", "push_str", "push_back", "push_front", "insert", "remove", "clear", "extend", "truncate", "pop",
    "pop_back", "pop_front", "take", "replace", "set", "drain", "retain", "sort", "sort_by", "sort_unstable", "swap",
    "append", "resize", "get_mut", "iter_mut", "as_mut", "entry", "fill", "reverse", "dedup", "get_or_insert",
    "get_or_insert_with"})
_RUST_WRITE_WORDS = {"assign": "written", "ref_mut": "borrowed mutably (`&mut`)"}


@dataclass
class _RustRace:
    write: tuple  # (facts, fn, event)
    other: tuple  # (facts, fn, event or Span of a read)
    other_write: bool
    roots: tuple
    reference: bool  # some write takes a `&mut` (Rust 2024's static_mut_refs rejects it)
    known: bool = False  # both sides reached from a thread root (the precise part)
    where: tuple = ("", "")  # "a closure in " / "an `async` block in " before each side's function


def _rust_static(P, facts, name):
    """The `static mut` a name in `facts` refers to: the one declared in the same file, else the
    only one of that name in the project (several: ambiguous, left alone)."""
    items = [(f, st) for f, st in P.static_muts.get(name, ()) if not st.is_thread_local and not st.is_test]
    same = [st for f, st in items if f is facts]
    if same:
        return same[0]
    if len(items) == 1 and not any(st.name == name for st in facts.rust.statics):
        return items[0][1]
    return None


def rust_races(index) -> dict:
    """id(RStatic) -> _RustRace, computed once per project (LL201 reads it too)."""
    return index.memo("LL202.rust", _rust_races)


def _rust_races(index):
    """id(RStatic) -> _RustRace for `static mut`s with an unsynchronised write that can run at
    the same time as another access (or another run of itself) on another thread."""
    P = project(index)
    if not P.static_muts:
        return {}
    tm = rust_thread_model(index)
    acc: dict[int, list] = defaultdict(list)  # id(static) -> [(facts, fn, flow, event/Span, write, closure)]
    statics = {}
    for f in index.files:
        if f.rust is None:
            continue
        for flow, fn in f.rust.flows_with_functions():
            if fn.is_test:
                continue
            contract = fn.is_unsafe and fn.abi is None and fn.safety_doc  # documented: callers serialise
            params = param_names(fn)
            covered = []
            for e in flow.events:
                if e.kind in ("assign", "ref_mut"):
                    pass
                elif e.kind in ("method", "opt_take") and e.name in RUST_MUTATING_METHODS:
                    pass
                elif e.kind in ("raw_mut", "addr_of"):
                    covered.append((e.span.start_byte, e.span.end_byte))  # a raw pointer: not an access here
                    continue
                else:
                    continue
                if e.recv.startswith(("*", "(*")):
                    continue  # a write through a pointer stored in the static, not to the static
                name = static_target(e.recv)
                if not name or name not in P.static_muts or flow.local(name, e.start) is not None or name in params:
                    continue
                st = _rust_static(P, f, name)
                if st is None:
                    continue
                covered.append((e.span.start_byte, e.span.end_byte))
                if contract or in_once_closure(flow, e) or lock_held(flow, e.start) is not None \
                        or single_winner_gate(P, flow, e)[0]:
                    continue  # one-time initialisation, or serialised by a lock / a gate / the caller
                statics[id(st)] = st
                acc[id(st)].append((f, fn, flow, e, True, e.closure))
            for name in P.static_muts:
                for b in flow.uses.get(name, ()):
                    if any(a <= b < z for a, z in covered) or flow.local(name, b) is not None or name in params:
                        continue
                    st = _rust_static(P, f, name)
                    if st is None:
                        continue
                    statics[id(st)] = st
                    acc[id(st)].append((f, fn, flow, b, False, closure_at(flow, b)))
    out = {}
    for sid, items in acc.items():
        writes = [x for x in items if x[4]]
        if not writes:
            continue
        reference = any(x[3].kind == "ref_mut" or x[3].kind in ("method", "opt_take") for x in writes)
        found = None
        for known in (True, False):  # positive evidence of two threads first
            for w in writes[:32]:
                wf, wfn, wflow, we, _, wc = w
                hw = tm.handles[id(wflow)]
                for o in sorted(items, key=lambda o: (o is w, o[4]))[:256]:
                    of, ofn, oflow, oe, owrite, oc = o
                    if o is not w and oflow is wflow and oc == wc:
                        continue
                    ho = tm.handles[id(oflow)]
                    ev = tm.may_race(hw, wc if wc >= 0 else None, we.start, ho, oc if oc >= 0 else None,
                                     oe if isinstance(oe, int) else oe.start, known_only=known)
                    if ev is not None:
                        found = _RustRace((wf, wfn, we), (of, ofn, oe), owrite, ev, reference, known,
                                          (_body_word(wflow, wc), _body_word(oflow, oc)))
                        break
                if found:
                    break
            if found:
                break
        if found:
            out[sid] = found
    return out


def _body_word(flow, ci) -> str:
    """How a message names the body an access sits in, when it is not the function's own."""
    if ci is None or ci < 0 or ci >= len(flow.closures):
        return ""
    return "an `async` block in " if flow.closures[ci].is_async else "a closure in "


def _evidence_text(ra, rb, how_a, how_b, same=False) -> str:
    if ra is rb:
        return describe(ra)
    return f"one in {describe(ra)}, the other in {describe(rb)}"


def _root_related(ra, rb, facts) -> list:
    out = []
    for r in (ra, rb):
        if r is None or any(x is r for x in out):
            continue
        out.append(r)
    return [Related(r.span, f"thread root: {r.what}", None if r.path == facts.path else r.path) for r in out]


def _scalar(var) -> bool:
    if var.pointer_depth:
        return True
    t = var.type.replace("static", "").replace("volatile", "").strip()
    return bool(re.fullmatch(r"(?:(?:unsigned|signed|long|short|int|char|bool|float|double|std::size_t|size_t|"
                             r"(?:std::)?u?int\d+_t|std::ptrdiff_t)\s*)+", t))


def _decl_path(index, var):
    for f, v in index.cpp_globals.get(var.name, ()):
        if v is var:
            return f.path
    return None
