"""## What it does
Flags a write to a mutable namespace-scope or static variable (a global, a file-`static`, a
static data member) made inside a function with no lock held, when another function reads or
writes the same variable and there is evidence that the variable is shared between threads:

- some other access to it holds a lock (the code already treats it as shared), or
- an access sits in a lambda handed to `std::thread` / `std::async`, or in a function started
  as a thread or called from such a lambda, or
- the file that declares it (or the writing function's file) guards other globals with a
  namespace-scope mutex, or it is a static member of a class that owns a mutex.

The finding sits on the unlocked write; related locations are an access in another function and
the declaration. Variables that are `const`/`constexpr`, `std::atomic`, `thread_local`, mutexes
and other synchronisation objects are skipped, as are writes with a lock held (in the function,
or by every caller), writes in `main()` and in functions only `main()` calls, and initialisers
(static initialisation runs before any thread).

Rust: a `static mut` written inside a function (outside `unsafe fn`s whose contract serialises callers).

## Why is this bad?
A global has no owner: any thread may read it while another writes it. The classic shape
(seed 001): a binding sets `memory_disk_memory_size` from whatever thread calls it, while the
session's disk thread reads it in a storage constructor. The read can see a torn or stale value,
and the compiler may cache or reorder the access; it is undefined behaviour even when "it is only
an integer".

## Example
```cpp
std::int64_t memory_disk_memory_size = 0;

void set_memory_disk_io(std::int64_t size) {
    memory_disk_memory_size = size;                  // no lock
}
memory_storage::memory_storage() : capacity(memory_disk_memory_size) {}  // disk thread
```

## Use instead
```cpp
std::atomic<std::int64_t> memory_disk_memory_size{0};
```
or guard every access with one mutex, or better, pass the value to the object that needs it
instead of going through a global.

## Known limits
- Whether two functions really run on different threads is not known; the evidence above is a
  proxy. A global shared between threads with none of that evidence nearby (an asio handler on
  a multi-threaded `io_context`, a callback from a library thread) is missed, and a global in a
  file that locks other globals but is itself only touched by one thread is reported.
- Executors (`post`, `dispatch`, `async_*`) are not taken as evidence: a single-threaded
  `io_context` runs handlers on the thread that calls `run()`.
- Writes in constructors count: a self-registering static object that writes a global during
  static initialisation is reported when the evidence holds.
- Function-local `static` variables are not checked (they are reached only through their
  function); neither are globals reached through a pointer or reference.
- Writes through unknown member functions (`g_table.update(x)`) count as reads.
- Writes in free functions named as module setup (`*_init`, `*_global_init`, `Initialize*`)
  are taken as happening before the threads start, and are not reported.
- The lock must be held in the writing function or by all its callers; a write protected by a
  lock taken further up a chain lifelint cannot resolve is reported.
"""

from __future__ import annotations

import re

from lifelint.locking import is_sync_type, locking_index
from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint import rust_checks


def _candidate(var) -> bool:
    if var is None or var.kind not in ("global", "static-member"):
        return False
    if var.is_const or var.is_thread_local or var.is_reference or var.is_atomic or is_sync_type(var.type):
        return False
    return True


def _build(index):
    """key -> (every access to a candidate global, the evidence that it is shared between threads)."""
    li = locking_index(index)
    accesses: dict[str, list] = {}
    for fl in li.functions:
        for a in fl.accesses:
            if _candidate(a.var):
                accesses.setdefault(a.key, []).append(a)
    # Functions handed to a thread or an executor by name: `std::thread t(worker)`, `post(ioc, &on_tick)`.
    entry_names = set()
    for fl in li.functions:
        for c in fl.fn.flow.calls:
            if c.name in THREAD_ENTRY_SINKS:
                for arg in c.args:
                    name = arg.strip().lstrip("&").split("::")[-1]
                    if name.isidentifier():
                        entry_names.add(name)
    global_mutex_files = set()
    for f in index.files:
        if f.cpp is not None and any(v.kind in ("global", "static-member") and v.is_mutex for v in f.cpp.globals):
            global_mutex_files.add(f.path)
    out = {}
    for key, items in accesses.items():
        out[key] = (items, _evidence(li, index, items, entry_names, global_mutex_files))
    return out


# Calls that run their function argument on another thread. (Executors such as asio's `post` do
# not count: a single-threaded io_context runs handlers on the thread that calls `run()`.)
THREAD_ENTRY_SINKS = frozenset({"thread", "jthread", "async", "pthread_create", "_beginthreadex", "CreateThread",
                                "beginthread"})


def _evidence(li, index, items, entry_names, global_mutex_files) -> str | None:
    """Why this global is taken to be shared between threads, or None."""
    for a in items:
        held = a.fn.held_at(a.held, a.lambda_index, a.span.start_byte)
        if held:
            return "it is accessed under a lock elsewhere, so it is meant to be shared"
    for a in items:
        if a.lambda_index is not None and _on_thread(a.fn, a.lambda_index):
            return f"`{a.fn.label}` accesses it in a lambda that runs on a thread of its own"
        if a.fn.fn.name in entry_names:
            return f"`{a.fn.label}` is started as a thread"
        for cs in a.fn.callers:
            if cs.lambda_index is not None and _on_thread(cs.fn, cs.lambda_index):
                return f"`{a.fn.label}` is called from a lambda that runs on a thread of its own"
    var = items[0].var
    decl_path = _decl_path(index, var)
    if var.kind == "static-member":
        owner = var.owner
        for k in li.classes.get(owner, ()):
            if any(f.is_mutex for f in [*k.fields, *k.static_members]):
                return f"its class `{owner}` has a mutex, so its objects are shared between threads"
    if decl_path in global_mutex_files:
        return "the file that declares it guards other globals with a mutex"
    for a in items:
        if a.fn.path in global_mutex_files:
            return f"`{a.fn.label}` lives in a file that guards other globals with a mutex"
    return None


class UnsynchronizedGlobal(Rule):
    code = "LL202"
    name = "unsynchronized-global"
    languages = ("cpp", "rust")
    level = Level.WARNING
    precision = Precision.MEDIUM
    summary = "A mutable global is written outside any lock and used by another function in a threaded program."
    tags = ("concurrency", "data-race")
    seeds = ("001", "002")

    def check(self, facts, index):
        if facts.language == "rust":
            yield from rust_checks.check_ll202(facts, index)
            return
        li = locking_index(index)
        table = index.memo("LL202.globals", _build)
        for fl in li.in_file(facts.path):
            is_main = fl.context == "main" or (fl.cls is None and fl.fn.name in ("main", "wmain"))
            if fl.cls is None and _LIFECYCLE_FN.search(fl.fn.name):
                continue  # a module's init / shutdown runs before its threads start or after they end
            reported = set()
            for a in fl.accesses:
                if not a.write or not _candidate(a.var):
                    continue
                ctx = (a.key, a.lambda_index)
                if ctx in reported:
                    continue
                if is_main and not fl.lambda_runs_later(a.lambda_index):
                    continue  # main() itself runs before and after the threads it starts
                held = fl.held_at(a.held, a.lambda_index, a.span.start_byte)
                if held:
                    continue
                items, why = table.get(a.key, ((), None))
                others = [o for o in items if o.fn is not fl or o.lambda_index != a.lambda_index]
                if not others or why is None:
                    continue
                decl_path = _decl_path(index, a.var)
                other = min(others, key=lambda o: (o.write, o.fn.path != facts.path, o.fn.path, o.span.start_byte))
                reported.add(ctx)
                v = a.var
                kind = "static member" if v.kind == "static-member" else ("file-static variable" if v.is_static else "global")
                how = "written" if a.verb == "assigned" else a.verb
                other_how = "written" if other.write else "read"
                where = "a lambda in " if a.lambda_index is not None else ""
                fix = ("Make it `std::atomic`, or guard every access with one mutex" if _scalar(v)
                       else "Guard every access with one mutex")
                message = (f"The mutable {kind} `{a.name}` is {how} here in {where}`{fl.label}` with no lock held, and "
                           f"{other_how} in `{other.fn.label}`; {why}, so these accesses race. {fix}, or pass the "
                           f"value to whoever needs it instead of going through a global.")
                related = [Related(other.span, f"`{a.name}` {other_how} in `{other.fn.label}`",
                                   None if other.fn.path == facts.path else other.fn.path),
                           Related(v.name_span, f"`{a.name}` declared here",
                                   None if decl_path in (None, facts.path) else decl_path)]
                yield self.finding(a.span, message, related)


# Module-level setup functions by name (`grpc_timer_manager_init`, `pollset_global_init`,
# `InitializeLogging`). Shutdown names are not taken: `request_shutdown()` is what a worker's
# stop request looks like.
_LIFECYCLE_FN = re.compile(r"(?:^|_)(?:global_)?(?:init|initiali[sz]e|setup|startup)(?:_|$)"
                           r"|^(?:Init|Initiali[sz]e|Setup)(?=[A-Z_]|$)")


def _on_thread(fl, lam) -> bool:
    """The lambda (or one enclosing it) is handed to a thread start (`std::thread`, `std::async`)."""
    flow = fl.fn.flow
    while lam is not None:
        L = flow.lambdas[lam]
        for h in L.call_chain or ([L.handed_to] if L.handed_to else []):
            if flow.calls[h.call].name in THREAD_ENTRY_SINKS:
                return True
        lam = L.parent
    return False


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
