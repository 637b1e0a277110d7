"""## What it does
Finds a field that is written under a mutex in one method of its class and read or written with
no lock at all in another. This is the lockset discipline Eraser and RacerD check: once code
writes a field under `m_mutex`, every other access needs `m_mutex` too.

Accesses count wherever the class's methods are defined (inline in the class, or out of line in
another file). A method counts as holding the lock when it takes it itself, when every call site
in the project holds it (a private `*_locked()` helper), or when it receives the caller's guard
(`std::unique_lock<std::mutex>&`) and has not unlocked it yet.

## Why is this bad?
The lock only protects a field if every access takes it. A getter that reads a `std::vector`
while another thread `push_back`s into it under the lock reads a size and a buffer pointer that
are being torn apart; a write without the lock races with the locked readers. Both are undefined
behaviour, and they hide well: the locked paths look correct in review.

Code in a lambda that is posted or stored runs later on another thread, after the guard around
it is gone: accesses there need their own lock. A lambda handed to a project function that calls
it before returning (and does nothing else with it) runs now, holding the locks that function
holds around the call: `check([this] { return owner_ == this; })` with `check` locking `mu_`
around `pred()` reads `owner_` under `mu_`. In seed 001 the disk backend's `m_mutex`
protects the storage table on the job paths while the look-behind bitset is reset and read on
paths that never take it.

## Example
```cpp
class disk_io {
    storage_index_t new_torrent() {
        std::lock_guard<std::mutex> l(m_mutex);
        m_torrents.emplace_back(std::make_unique<storage>());
        return int(m_torrents.size()) - 1;
    }
    std::size_t num_torrents() const {
        return m_torrents.size();          // no lock: races with new_torrent()
    }
    std::vector<std::unique_ptr<storage>> m_torrents;
    mutable std::mutex m_mutex;
};
```

## Use instead
Take the same mutex for every access, or keep a copy taken under the lock:
```cpp
std::size_t num_torrents() const {
    std::lock_guard<std::mutex> l(m_mutex);
    return m_torrents.size();
}
```
A lone counter read for statistics can become a `std::atomic`.

## Known limits
- A call through a pointer to a class of the project (`g_pool->clear()`) reads the pointer and
  runs that class's own method on the object; it is not a write of the pointer (standard
  containers and smart pointers reached through `->` still count as changed). A project method
  that changes shared state without locking is judged where it writes, not at the call.
- Constructors, destructors, copy/move assignment and methods that end their own object on
  every path (`this->~T()` or `delete this` under no branch, after no return) are exempt, and so
  is code only they reach through calls on the same object or on a member it holds by value
  (a private `init()` helper; `my_cache.init()` in the owner's constructor; a `cleanup()` only
  the teardown calls), through chains of such calls; also teardown-named helpers such as
  `CloseHelper()` that the destructor calls. The object is not shared yet, or no longer, or is
  being replaced whole by code that must own it exclusively (as for any non-thread-safe
  assignment). A call from a constructor into another object (a shared registry, a member
  reached through a raw or shared pointer) or a helper also reached from a public method is not
  exempt, nor is code before a conditional `delete this` (a reference count's last release).
- A call on a guarded member whose targets touch nothing but `std::atomic` members of it (an
  intrusive list's `empty()` loading an atomic count: a lock-free fast-path check) is not an
  access to what the lock guards; a call the scan cannot resolve, or one reading a plain member,
  still is.
- A recursive lock's re-entry path counts as locked: in the `then` branch of
  `if (owner_ == <this thread's id>)` (`pthread_self()`, `std::this_thread::get_id()`,
  `GetCurrentThreadId()`, or a local set from one; `&&` with other tests too, `||` not), when
  every assignment of `owner_` stores the current thread's id with the lock held, or a constant
  (the release's `owner_ = -1`): the thread that finds its own id there took the lock.
- One-time initialisation under the lock is ordered before its readers (lifelint.init_once): a
  field written only where a once check under the lock found its state unset, on a path that
  sets the state (`if (opened_) return; ... session_ = open(); opened_ = true;`,
  `if (!inited_) { ...; inited_ = true; }`, `if (h_ == nullptr) h_ = make();`), in the init
  function itself, in a helper only such a region calls (one or two calls down), or in a lambda
  a `call_once`-like helper of the project runs there, is not reported where it is read after
  a call of that init function: at the top level of the reader (or of a helper it calls first,
  or of every caller, one or two levels up), or in the branch of an `if` that found an atomic
  state unset. The init must take the lock on every path or leave on an atomic state found set
  (a plain-bool fast path orders nothing), and the state must never be set back. A second write
  outside the once check, a reader that skips the init or calls it on one branch only, and the
  init's failure paths (a reader that reads after a failed init) are not told apart: the first
  two are reported, the last is not.
- Phases a contract or the program's flow orders and the call graph does not show are still
  reported: a `reset()` / `clear()` the documentation says must not run concurrently with other
  use (a graph or pool reset), a handle set once under the lock by a thread-local fast path
  (`if (tls.get()) return;` before the init).
- Fields never written under a lock are silent: a field owned by one thread needs no lock.
- The lock is the evidence of threads only where the thread model (lifelint.threads) cannot
  place the code: a locked write no thread root reaches runs on callers' threads lifelint does
  not see, which the lock says are several (RacerD reads a lock the same way). Once the model
  places the locked write, the unlocked access is reported only if the two can run at the same
  time on two threads (`ThreadModel.may_race`: two roots not ordered by a start, join or
  handshake, one of them a real thread, or one root that runs concurrently with itself). Code
  confined to one event loop (handlers posted to it; functors and slots Qt `connect`s with a
  context object, which run on that object's thread) does not race with itself: a `try_lock()`ed
  mutex there is a re-entrancy guard. A program whose only thread is `main` has no race either.
  Code the model reaches from `main` but that an unseen thread also calls is judged as `main`'s.
- Only methods of the class itself are checked; code reaching into another object's fields
  (`other.m_x`, `p->m_x`) is not.
- Writes through unknown methods (`m_x.update()`) count as reads, so a field only ever mutated
  that way is not seen as protected.
- Methods named `...Locked` / `..._locked` (the Google convention for "the caller holds the
  lock") are taken as locked, and `NO_THREAD_SAFETY_ANALYSIS` functions are not reported;
  `EXCLUSIVE_LOCKS_REQUIRED(mu)` / `REQUIRES(mu)` annotations (on the definition or on the
  declaration in the class, in another file too) and comments next to either that name the mutex
  ("called with `mu_` held", "caller must hold mu_", "the lock must be held" when the class has
  one mutex) say what the caller holds (lifelint.facts.cpp_lock_notes). LL101 and LL201 ask the
  same fact (`LockingIndex.held`).
- Taking a field's address (`&m_x`) is not reported: it reads nothing, and what the callee
  does with the pointer is not followed.
- Accesses inside the arguments of ALL_CAPS macro calls (`TORRENT_ASSERT(...)`, `DLOG(...)`)
  are ignored: assertions and debug logging usually compile out in release builds.
- A field counts as guarded only by a mutex of its own object (an instance field) or a static /
  global mutex (a static member), and only when the methods touching it with that lock held
  are at least as many as those touching it with no lock: a class-wide lock that happens to
  cover an instance field, or a lock taken in one method out of many, is not a discipline.
  An access in a deliberate release window (the body holds the lock, lets it go on purpose in
  an unlocking guard's scope or with `lk.unlock(); ...; lk.lock();`, and takes it again on every
  path on) does not vote either way: it is reported when the field is guarded, but a few such
  windows no longer outvote the locked writers and hide the field's real unlocked accesses.
  A release that is not taken again (`lk.unlock(); notify(); m_x = 1;`) still votes unlocked.
- A lock passed by pointer, or a mutex reached through a chain lifelint cannot type, gets a key
  of its own and does not match the field's mutex. A local reference or pointer to a mutex
  (`auto& m = mu_;`, `std::mutex* p = &ctx->mutex;`) is the mutex it refers to.
- A method that is public but only called under the lock inside the project is treated as
  always locked; callers outside the project are not seen.
- Held means held on every path to the access (the lock-set dataflow,
  lifelint.facts.cpp_locksets): an access after an `unlock()` on one branch, a `break` that left
  a loop unlocked or a `continue` that skipped the relock counts as unlocked, and the message
  names the release that reaches it. The flow is path-insensitive (branches on the same
  condition are not correlated). Lock helpers (`enter()` / `leave()`), RAII classes and lock
  macros are learned from their definitions, in any file of the scan (a header declares, a .cpp
  defines: lifelint.facts.cpp_lock_effects), and so are unlockers (a class that unlocks in its
  constructor and locks again in its destructor: inside its scope the lock is not held) and
  lock wrappers (a class that keeps a reference or pointer to the mutex it is given and locks
  it in its methods: `s.enter()` on a local `Section s(&mu_);` takes `mu_`); a scoped lock
  re-taken with `lock.acquire(m)` on its own mutex after `lock.release()` (TBB's shape) holds it
  again, and `lock.try_acquire(m)` where it succeeded; a helper called on
  another object (`db.enter()`, a wrapper reached through a member) is not followed.
- An unlocked access and a locked write of the same field in one method (a method racing with
  another run of itself: a fast path that skips the lock, a double-checked flag) is reported with
  both lines; the field must be guarded by the class's discipline as above.
"""

from __future__ import annotations

import re

from lifelint.locking import WILDCARD, atomic_only, display_lock, is_global_key, is_sync_type, locking_index, method_call_at
from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.threads import thread_model


def _own_locks(fl) -> tuple[set[str], set[str]]:
    """Keys of the class's own mutexes: (instance mutexes, static mutex members), bases included."""
    inst, static = set(), set()
    for name, (owner, v) in fl.fields.items():
        if v.is_mutex:
            (static if v.kind == "static-member" else inst).add(f"{owner}::{name}")
    return inst, static


def _build(index):
    """field key -> (guards, locked write witnesses, locked contexts, unlocked contexts).

    A field is guarded by M when it is written with M held somewhere, M being a mutex of the
    field's own class or a global one, and the methods that touch it with a guard held are at
    least as many as those that touch it with none (a lock region that merely happens to cover
    a write does not make a discipline).
    """
    li = locking_index(index)
    by_key: dict[str, list] = {}
    for fl in li.functions:
        if fl.cls is None or fl.lifecycle or fl.context == "ctor" or _teardown(fl):
            continue  # (an assignment operator that locks is evidence of the discipline: kept)
        own = None
        for a in fl.accesses:
            if a.var is None or a.var.kind != "field" and a.var.kind != "static-member" or is_global_key(a.key):
                continue
            if a.in_macro:
                continue  # assertions and debug logging: compiled out in release builds
            if _lock_free_call(fl, a):
                continue  # touches only the member's atomics: no access to what the lock guards
            if own is None:
                own = _own_locks(fl)
            held = fl.held_at(a.held, a.lambda_index, a.span.start_byte)
            if _caller_holds(fl) and a.runs_now:
                held = held | {WILDCARD}
            by_key.setdefault(a.key, []).append((a, held, own))
    out = {}
    for key, items in by_key.items():
        guards: set[str] = set()
        writes = []
        for a, held, own in items:
            if a.write:
                # An object's field is guarded by the object's mutex; a static member by a static
                # or global one. A class-wide lock that happens to cover an instance field is not
                # a discipline for that field.
                inst, static = own
                if a.var.kind == "static-member":
                    g = {k for k in held if k in static or is_global_key(k)}
                else:
                    g = {k for k in held if k in inst}
                if g:
                    guards |= g
                    writes.append((a, g))
        if not guards:
            continue
        locked_ctx, unlocked_ctx = set(), set()
        for a, held, _own in items:
            ctx = (id(a.fn), a.lambda_index)
            if held & guards or WILDCARD in held:
                locked_ctx.add(ctx)
            elif _in_release_window(a.fn, a, guards):
                continue  # let go on purpose and taken again: no vote (reported if guarded)
            else:
                unlocked_ctx.add(ctx)
        if len(locked_ctx) < len(unlocked_ctx):
            continue
        out[key] = (guards, writes)
    return out


def _guard_points(fl, a, guards):
    """(byte, lambda, holder index, may-set) for each holder of a lock in `guards` at the access
    `a`, then, for a lambda run on the spot (an algorithm's functor), at the point where it is
    created, outwards. A guard the caller lends (`unique_lock<mutex>&`) stands for any lock."""
    flow = fl.fn.flow
    lf = flow.lockflow
    if lf is None:
        return
    regions = fl.fn.locks or []
    byte, lam = a.span.start_byte, a.lambda_index
    while True:
        may = None
        for i, r in enumerate(regions):
            if i >= len(fl.region_keys) or not (set(fl.region_keys[i]) & guards or r.kind == "param"):
                continue
            if (flow.lock_lambda[i] if i < len(flow.lock_lambda) else None) != lam:
                continue
            if may is None:
                may = lf.may(byte, lam)
            yield byte, lam, i, may
        if lam is None or lam in fl.runs_later:
            return
        byte, lam = flow.lambdas[lam].span.start_byte, flow.lambdas[lam].parent


def _in_release_window(fl, a, guards) -> bool:
    """`a` runs while its body has let one of `guards` go on purpose and takes it again after
    (an unlocking guard's scope, `lk.unlock(); ...; lk.lock();`: LockFlow.release_window). Such
    an access says nothing against the lock's discipline: the author knows the lock is held
    around it."""
    lf = fl.fn.flow.lockflow
    return any(lf.release_window(byte, lam, i) for byte, lam, i, _may in _guard_points(fl, a, guards))


def _lifecycle(fl) -> bool:
    """Methods that run while no other thread may use the object: construction, destruction,
    assignment of the whole object."""
    return fl.lifecycle or fl.context == "ctor" or fl.fn.name.replace(" ", "") == "operator="


def _lock_free_call(fl, a) -> bool:
    """`a` is the receiver of a call whose every target touches only atomics of that object
    (`my_waitset.empty()` reading an atomic count: a lock-free fast-path check)."""
    if not a.verb.startswith(("read (`.", "modified with `.")):
        return False
    cs = method_call_at(fl, a)
    return cs is not None and all(atomic_only(t) for t in cs.targets)


# Teardown helpers by name (`CloseHelper`, `shutdown_impl`, `Destroy`): when the destructor
# calls one, it is the destructor's work, done while the object is going away.
_TEARDOWN_NAME = re.compile(r"(?i)(?:close|shutdown|shut_down|destroy|tear_?down|terminate|finali[sz]e|dispose|deinit\w*|"
                            r"fini|clean_?up)_?(?:helper|impl|internal|locked|all)?")


def _release_reaching(fl, a, g):
    """(holder, (span, kind), held on some path) for a release of a lock in `g` that reaches the
    access `a` (the lock flow's answer), or None."""
    lf = fl.fn.flow.lockflow
    for byte, lam, i, may in _guard_points(fl, a, g):
        pts = lf.releases_reaching(byte, lam, i)
        if pts:
            return fl.fn.locks[i], pts[0], i in may
    return None


def _may_race(tm, fl, a, w) -> bool:
    """Can the unlocked access `a` (in `fl`) run at the same time as the locked write `w` on
    another thread? The lock is the evidence for code the thread model does not place: a write
    under a mutex no root reaches runs on callers' threads we cannot see, which its lock says are
    several (RacerD reads a lock the same way). Once the model places the locked write on roots
    (design.md §2.2), the pair needs its positive evidence (ThreadModel.may_race): two threads
    not ordered by a phase, one of them a real thread, or one root that runs concurrently with
    itself. Two accesses confined to one event loop's thread (handlers posted to it, Qt functors
    run on their context object's thread) never race, whatever lock one of them takes: the lock
    is then a re-entrancy guard, not cross-thread protection."""
    if not tm.roots_at(w.fn, w.lambda_index):
        return True
    return tm.may_race(fl, a.lambda_index, a.span.start_byte, w.fn, w.lambda_index, w.span.start_byte) is not None


def _caller_holds(fl) -> bool:
    """Named `...Locked` / `..._locked` (the Google convention for "call me with the lock held"):
    lifelint.locking counts that as some lock the caller holds."""
    return WILDCARD in fl.annotated


def _teardown(fl, depth: int = 3) -> bool:
    """A teardown-named method the class's destructor calls (directly, or through other
    teardown-named methods: `~DBImpl` -> `CloseImpl` -> `CloseHelper`)."""
    if depth == 0 or not _TEARDOWN_NAME.fullmatch(fl.fn.name):
        return False
    return any(cs.fn.fn.is_dtor or (cs.fn is not fl and _teardown(cs.fn, depth - 1)) for cs in fl.callers)


class InconsistentLocking(Rule):
    code = "LL203"
    name = "inconsistent-locking"
    group = "nursery"  # measured: precision 0.09 over 93 triaged test-half findings (0.08 over 95 at the start of session 9, 0.05 over 83 at the start of session 7)
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.MEDIUM
    summary = "A field written under a mutex in one method is accessed without it in another."
    tags = ("concurrency", "data-race")
    seeds = ("001",)

    def check(self, facts, index):
        li = locking_index(index)
        table = index.memo("LL203.fields", _build)
        tm = None
        for fl in li.in_file(facts.path):
            if fl.cls is None or _lifecycle(fl) or _teardown(fl) or _caller_holds(fl) or fl.fn.no_thread_safety_analysis:
                continue
            reported: set[tuple[str, int | None]] = set()
            for a in fl.accesses:
                entry = table.get(a.key)
                if entry is None or (a.key, a.lambda_index) in reported or a.in_macro or a.verb == "address taken":
                    continue  # (taking the address reads nothing; what the callee does with it is not seen)
                if _lock_free_call(fl, a):
                    continue
                var = a.var
                if var is None or var.is_const or var.is_reference or is_sync_type(var.type):
                    continue
                held = fl.held_at(a.held, a.lambda_index, a.span.start_byte)
                if WILDCARD in held:
                    continue
                guards, writes = entry
                if held & guards:
                    continue
                if tm is None:
                    tm = thread_model(index)
                # Only locked writes that can run at the same time as this access, on another
                # thread, are evidence of a race (see _may_race).
                # A write initialised once under its lock, and read only after the init ran
                # (lifelint.init_once), is ordered before this access: no race.
                writes = [(w, g) for w, g in writes if _may_race(tm, fl, a, w) and not li.init_ordered(w, a)]
                if not writes:
                    continue
                # The locked write must be in another method (or another body: a posted lambda).
                others = [(w, g) for w, g in writes if w.fn is not fl or w.lambda_index != a.lambda_index]
                if not others:
                    # A method racing with another run of itself: the same body writes the field
                    # under the lock on one path and touches it unlocked on another.
                    same = [(w, g) for w, g in writes if w.fn is fl and w.lambda_index == a.lambda_index and w.span != a.span]
                    if not same:
                        continue
                    w, g = min(same, key=lambda x: abs(x[0].span.start_byte - a.span.start_byte))
                    reported.add((a.key, a.lambda_index))
                    yield self._self_race(fl, a, w, g, held)
                    continue
                w, g = min(others, key=lambda x: (x[0].fn.path != facts.path, x[0].fn.path, x[0].span.start_byte))
                reported.add((a.key, a.lambda_index))
                m = display_lock(sorted(g)[0])
                where = f"`{w.fn.label}`" + (" (in a lambda)" if w.lambda_index is not None else "")
                how = "written" if a.write else "read"
                if a.verb not in ("read", "assigned"):
                    how = a.verb
                later = a.lambda_index is not None and fl.lambda_runs_later(a.lambda_index)
                ctx = "in a lambda that runs later, after the guard around it is gone" if later else "with no lock held"
                short = "in a later-run lambda" if later else "unlocked"
                release = None if held else _release_reaching(fl, a, g)
                if release is not None:
                    r, (rspan, rkind), some = release
                    if rkind == "unlocker":
                        ctx = f"in the scope of the unlocking guard declared at line {rspan.start_row + 1}, which released it"
                        short = "where an unlocking guard released it"
                    elif rkind == "unlock":
                        ctx = f"after `{r.guard}.unlock()` released it" if r.guard else "after the mutex was unlocked"
                        short = f"after `{r.guard}.unlock()`" if r.guard else "after an `unlock()`"
                    elif rkind == "scope":
                        ctx = "after the guard's scope ended"
                        short = "after the guard's scope"
                    else:
                        ctx = "after the lock was released"
                        short = "after the lock is released"
                    if some:
                        ctx += f" on one path (line {rspan.start_row + 1}), so it is held on some paths only"
                        short += " (on one path)"
                held_note = ""
                if held:
                    held_note = f" (only {', '.join(f'`{display_lock(k)}`' for k in sorted(held))} is held here)"
                    ctx = "without that mutex"
                    short = "without it"
                via = ""
                unlocked_callers = [cs for cs in fl.callers if cs.runs_now and not (cs.fn.held_at(cs.held, cs.lambda_index, cs.span.start_byte) & g)
                                    and not cs.fn.lifecycle]
                locked_callers = [cs for cs in fl.callers if cs.fn.held_at(cs.held, cs.lambda_index, cs.span.start_byte) & g]
                if locked_callers and unlocked_callers and a.lambda_index is None:
                    cs = unlocked_callers[0]
                    via = f"; most callers hold `{m}`, but `{cs.fn.label}` calls `{fl.fn.name}()` without it"
                how_h = "changed" if how.startswith("modified") else how.split(" (")[0]
                message = (f"`{a.name}` is {how_h} {short} in `{fl.fn.name}`, but written under `{m.split('::')[-1]}` "
                           f"in `{w.fn.fn.name}`.")
                because = (f"It is written with `{m}` held in {where}, but {how} here in `{fl.label}` "
                           f"{ctx}{held_note}{via}: a data race with the locked path.")
                fix = f"Take `{m}` around this access too, or work on a copy made under the lock."
                related = [Related(w.span, f"`{a.name}` written with `{m}` held in `{w.fn.label}`",
                                   None if w.fn.path == facts.path else w.fn.path)]
                if release is not None:
                    related.append(Related(release[1][0], f"`{m}` released here"))
                if via:
                    related.append(Related(unlocked_callers[0].span, f"`{fl.fn.name}()` called here without `{m}`",
                                           None if unlocked_callers[0].fn.path == facts.path else unlocked_callers[0].fn.path))
                yield self.finding(a.span, message, related, why=because, fix=fix)

    def _self_race(self, fl, a, w, g, held):
        m = display_lock(sorted(g)[0])
        how = "written" if a.write else "read"
        if a.verb not in ("read", "assigned"):
            how = a.verb
        release = None if held else _release_reaching(fl, a, g)
        ctx = "with no lock held"
        if held:
            ctx = f"with only {', '.join(f'`{display_lock(k)}`' for k in sorted(held))} held"
        elif release is not None:
            ctx = f"after `{m}` is released (line {release[1][0].start_row + 1})"
        message = (f"`{a.name}` is {how.split(' (')[0]} at line {a.span.line} {ctx}, but written under "
                   f"`{m.split('::')[-1]}` at line {w.span.line} of the same method.")
        because = (f"Two calls of `{fl.label}` on different threads race on `{a.name}` (one on the locked path, one on "
                   "the other).")
        fix = f"Take `{m}` around this access too, or make the field atomic."
        related = [Related(w.span, f"`{a.name}` written with `{m}` held")]
        if release is not None:
            related.append(Related(release[1][0], f"`{m}` released here"))
        return self.finding(a.span, message, related, why=because, fix=fix)
