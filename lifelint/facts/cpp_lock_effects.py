"""Lock effects learned from the definitions in a file, not from names (design.md §2.2):

- **acquire / release helpers**: a function that returns holding a lock it did not hold on entry
  (on every way out) acquires it; one that was entered holding it and leaves without it (on
  every way out) releases it. `enter()` / `leave()`, `lock_table()` / `unlock_table()`. Calls
  to them take / release the lock in the caller's lock flow, one level or more (a few rounds);
  a mutex the helper takes as a parameter is the caller's argument.
- **guard classes**: a class whose constructor locks a member (a reference or pointer to the
  mutex it was given) and whose destructor unlocks it is a guard type, like `std::lock_guard`;
  one whose constructor unlocks it and whose destructor locks it again is an unlocker (boost
  `reverse_lock`, a hand-written `ScopeUnlock`): inside its scope the lock is not held.
- **lock wrappers**: a class that keeps a reference or pointer to a mutex it is given
  (`Locking(std::mutex* mu) : mu_(mu) {}`) and locks or unlocks it in its methods: `l.lock()`
  on a local `Locking l(&mu_);` takes `mu_`, the caller's mutex.
- **guard macros**: a function-like macro whose expansion declares a known guard over one of its
  parameters (`#define MUTEX_LOCK(m) std::lock_guard<std::mutex> _g(m)`) is a guard; one that
  calls `lock()` / `unlock()` (or a C lock function) on a parameter takes / releases it.

Each file's facts keep what it defines (`CppFacts.extra["lock_effects"]`: guard class names,
lock macros, helper summaries; plain data, cached with the file). Before the rules run,
`apply_project_effects` merges them across the project and re-reads, in the files that use a
guard, macro or helper defined in another file (a header declares, a .cpp defines), the
functions that use it. Configuration (`cpp.lock-types`) names guards defined outside the scan.
"""

from __future__ import annotations

import re

from lifelint.facts.common import text

_LOCK_NAMES = frozenset({"lock", "Lock", "lock_shared", "WriterLock", "ReaderLock", "pthread_mutex_lock", "pthread_spin_lock",
                         "EnterCriticalSection", "AcquireSRWLockExclusive", "mtx_lock", "uv_mutex_lock", "g_mutex_lock"})
_UNLOCK_NAMES = frozenset({"unlock", "Unlock", "unlock_shared", "WriterUnlock", "ReaderUnlock", "pthread_mutex_unlock",
                           "pthread_spin_unlock", "LeaveCriticalSection", "ReleaseSRWLockExclusive", "mtx_unlock",
                           "uv_mutex_unlock", "g_mutex_unlock"})


_C_LOCK_PREFIXES = ("pthread", "Enter", "Leave", "Acquire", "Release", "mtx", "uv_", "g_mutex")


def _norm(expr: str) -> str:
    from lifelint.facts.cpp_locks import normalise_mutex

    return normalise_mutex(expr)


def _lock_target(c) -> tuple[str, int] | None:
    """(mutex, +1 / -1) for a lock / unlock call event, else None."""
    if c.kind != "call":
        return None
    if c.name in _LOCK_NAMES or c.name in _UNLOCK_NAMES:
        delta = 1 if c.name in _LOCK_NAMES else -1
        if c.receiver is not None and not c.args:
            return _norm(c.receiver), delta
        if c.receiver is None and len(c.args) == 1 and c.name.startswith(_C_LOCK_PREFIXES):
            return _norm(c.args[0]), delta
    return None


def _ctor_dtor_effects(functions) -> tuple[dict, dict]:
    """({class: {member: deltas}} of its constructors, the same of its destructor): what they
    do to members by lock / unlock calls (+1 / -1)."""
    ctor: dict[str, dict[str, set[int]]] = {}
    dtor: dict[str, dict[str, set[int]]] = {}
    for fn in functions:
        if fn.flow is None or not fn.class_name or not (fn.is_ctor or fn.is_dtor):
            continue
        cls = fn.class_name.split("::")[-1].split("<")[0]
        for c in fn.flow.calls:
            if c.lambda_index is not None:
                continue
            t = _lock_target(c)
            if t is None:
                continue
            (ctor if fn.is_ctor else dtor).setdefault(cls, {}).setdefault(t[0], set()).add(t[1])
    return ctor, dtor


def guard_classes(functions) -> set[str]:
    """Classes whose constructor locks a member and whose destructor unlocks the same member."""
    ctor, dtor = _ctor_dtor_effects(functions)
    return {k for k, v in ctor.items() if any(1 in d and -1 in dtor.get(k, {}).get(m, ()) for m, d in v.items())}


def unlocker_classes(functions) -> set[str]:
    """The converse: classes whose constructor unlocks a member (the mutex or lock it was given)
    and whose destructor locks it again (boost `reverse_lock`, a hand-written `ScopeUnlock`):
    inside the scope of one, the lock is not held."""
    ctor, dtor = _ctor_dtor_effects(functions)
    return {k for k, v in ctor.items() if any(-1 in d and 1 in dtor.get(k, {}).get(m, ()) for m, d in v.items())}


def _mutex_member(var) -> bool:
    """A reference or pointer member to a mutex-like object (`std::mutex& mu_;`, `Mutex* m_;`)."""
    from lifelint.facts.cpp_locks import _mutex_like

    return (var.is_reference or var.pointer_depth > 0) and (_mutex_like(var.type.split("<", 1)[0]) or _mutex_like(var.name))


def lock_wrappers(root, functions, classes, function_node) -> dict[str, dict[str, int]]:
    """{class: {member: index of the constructor parameter it is set from}} for classes that
    keep a reference or pointer to a mutex they are given (`explicit Locking(std::mutex* mu) :
    mu_(mu) {}`). A method of such a class that locks or unlocks the member (its helper
    summary) locks or unlocks, in a caller, the mutex the caller constructed it with."""
    members: dict[str, set[str]] = {}
    for k in classes:
        ms = {f.name for f in k.fields if _mutex_member(f)}
        if ms:
            members.setdefault(k.name.split("::")[-1].split("<")[0], set()).update(ms)
    if not members:
        return {}
    out: dict[str, dict[str, int]] = {}
    for fn in functions:
        if not fn.is_ctor or not fn.class_name:
            continue
        cls = fn.class_name.split("::")[-1].split("<")[0]
        if cls not in members:
            continue
        node = function_node(root, fn)
        if node is None:
            continue
        pnames = [p.name for p in fn.params]
        for lst in node.named_children:
            if lst.type != "field_initializer_list":
                continue
            for fi in lst.named_children:
                fld = next((k for k in fi.named_children if k.type in ("field_identifier", "identifier")), None)
                args = next((k for k in fi.named_children if k.type in ("argument_list", "initializer_list")), None)
                if fld is None or args is None or len(args.named_children) != 1 or text(fld) not in members[cls]:
                    continue
                a = _norm(text(args.named_children[0]))
                if a in pnames:
                    out.setdefault(cls, {})[text(fld)] = pnames.index(a)
    return out


def guard_aliases(aliases: dict, guard_types) -> set[str]:
    """`typedef scoped_lock<critical_section_t> scoped_critical_section_t;`,
    `using Guard = std::lock_guard<std::mutex>;`: names that stand for a guard type."""
    out: set[str] = set()
    for name, target in aliases.items():
        base = target.split("<", 1)[0].replace("typename", "").replace(" ", "").split("::")[-1]
        if base in guard_types and name != base:
            out.add(name)
    return out


_GUARD_DECL = re.compile(r"\b(?:[A-Za-z_][\w:]*::)?([A-Za-z_]\w*)\s*(?:<[^;{}]*>)?\s+[A-Za-z_][\w#]*\s*[({]\s*([^;{}()]*?)\s*[)}]")
_MEMBER_CALL = re.compile(r"\(?\s*([A-Za-z_]\w*)\s*\)?\s*(?:\.|->)\s*(lock|unlock|Lock|Unlock|lock_shared|unlock_shared)\s*\(\s*\)")
_C_CALL = re.compile(r"\b(pthread_mutex_lock|pthread_mutex_unlock|EnterCriticalSection|LeaveCriticalSection|mtx_lock|mtx_unlock)"
                     r"\s*\(\s*&?\s*\(?\s*([A-Za-z_]\w*)\s*\)?\s*\)")


_SCOPES = frozenset({"namespace_definition", "declaration_list", "linkage_specification", "preproc_if", "preproc_ifdef",
                     "preproc_else", "preproc_elif", "preproc_elifdef"})


def _macro_defs(root):
    """Function-like `#define`s at namespace scope (inside namespaces, `extern "C"` and `#if`
    blocks too; not inside classes or functions)."""
    stack = list(reversed(root.children))
    while stack:
        n = stack.pop()
        if n.type == "preproc_function_def":
            yield n
        elif n.type in _SCOPES:
            stack.extend(reversed(n.children))


def effect_macros(root, guard_types: frozenset[str]) -> dict[str, tuple[str, int]]:
    """{macro name: ("guard" | "acq" | "rel", index of the mutex parameter)} for the file's
    function-like macros that declare a guard over a parameter or lock / unlock one."""
    from lifelint.facts.cpp_locks import GUARD_NAMED

    out: dict[str, tuple[str, int]] = {}
    for n in _macro_defs(root):
        name = text(n.child_by_field_name("name"))
        params = n.child_by_field_name("parameters")
        value = n.child_by_field_name("value")
        if not name or params is None or value is None:
            continue
        pnames = [text(p) for p in params.named_children]
        body = text(value).replace("\\\n", " ")
        for m in _GUARD_DECL.finditer(body):
            ty, arg = m.group(1), m.group(2).split(",")[0].strip().lstrip("&*( ").rstrip(") ")
            if (ty in guard_types or GUARD_NAMED.fullmatch(ty)) and arg in pnames:
                out[name] = ("guard", pnames.index(arg))
                break
        if name in out:
            continue
        for m in _MEMBER_CALL.finditer(body):
            if m.group(1) in pnames:
                out[name] = ("acq" if "unlock" not in m.group(2).lower() else "rel", pnames.index(m.group(1)))
                break
        if name in out:
            continue
        for m in _C_CALL.finditer(body):
            if m.group(2) in pnames:
                out[name] = ("acq" if "unlock" not in m.group(1).lower() and "Leave" not in m.group(1) else "rel",
                             pnames.index(m.group(2)))
                break
    return out


def summaries(functions) -> dict[tuple[str | None, str], list[tuple[str, int, int | None]]]:
    """{(class or None, name): [(mutex, +1 acquires / -1 releases, index of the parameter that is
    the mutex or None)]} from each function's lock flow. Plain data: stored in the file's facts
    and merged across files (apply_project_effects)."""
    out: dict = {}
    for fn in functions:
        flow = fn.flow
        if flow is None or flow.lockflow is None or fn.is_ctor or fn.is_dtor or not fn.locks:
            continue
        lf = flow.lockflow
        if lf.uncertain(None):
            continue
        exits = lf.exits(None)
        if not exits:
            continue
        effects = []
        for hi, h in enumerate(fn.locks):
            if h.kind not in ("manual", "helper") or not h.mutexes or (flow.lock_lambda[hi] if hi < len(flow.lock_lambda) else None) is not None:
                continue
            bit = 1 << hi
            entry = any(op[0] == "entry" for op in h.ops)
            pnames = [p.name for p in fn.params]
            pi = pnames.index(h.mutexes[0]) if h.mutexes[0] in pnames else None
            if not entry and all(m & bit for _k, _s, m, _y in exits):
                effects.append((h.mutexes[0], 1, pi))
            elif entry and not any(y & bit for _k, _s, _m, y in exits):
                effects.append((h.mutexes[0], -1, pi))
        if effects:
            cls = fn.class_name.split("::")[-1].split("<")[0] if fn.class_name else None
            out.setdefault((cls, fn.name), effects)
    return out


def _wrapper_objects(flow, wrappers) -> dict[str, tuple[str, list[str]]]:
    """{local: (wrapper class, constructor argument texts)} for `Locking l(&mu_);`."""
    out = {}
    for c in flow.calls:
        if c.kind == "construct" and c.declared and c.name in wrappers:
            out[c.declared] = (c.name, c.args)
    return out


def helper_ops(fn, sums, wrappers=None) -> list[tuple[str, int, object]]:
    """(mutex, delta, param index or None, call) for each call of `fn` to a helper with a lock
    effect; a method of a lock wrapper (`lock_wrappers`) called on a local one (`l.lock()` after
    `Locking l(&mu_);`) acts on the mutex the local was constructed with."""
    flow = fn.flow
    if flow is None:
        return []
    cls = fn.class_name.split("::")[-1].split("<")[0] if fn.class_name else None
    objs = _wrapper_objects(flow, wrappers) if wrappers else {}
    named = None
    out = []
    for c in flow.calls:
        if c.kind != "call":
            continue
        if c.receiver in objs and not c.arrow:
            wcls, wargs = objs[c.receiver]
            for mutex, delta, _pi in sums.get((wcls, c.name), ()):
                ai = wrappers[wcls].get(mutex)
                if ai is not None and ai < len(wargs):
                    out.append((_norm(wargs[ai]), delta, None, c))
            continue
        if c.receiver not in (None, "this"):
            # `g_spin.acquire()`: a helper method of another object's class takes that object's
            # member (its class by the receiver's declared type, or the one class with the helper)
            if named is None:  # helper classes by method name, built once per function
                named = {}
                for k in sums:
                    if k[0] is not None:
                        named.setdefault(k[1], []).append(k)
            hit = _receiver_helper(flow, named.get(c.name, ()), c) if c.name in named else None
            if hit is not None:
                sep = "->" if c.arrow else "."
                for mutex, delta, pi in sums[hit]:
                    if pi is None:
                        out.append((_norm(f"{c.receiver}{sep}{mutex}"), delta, None, c))
            continue
        callee = c.callee.replace(" ", "")
        key = None
        qual = callee.rsplit("::", 2)[-2] if "::" in callee else None
        if cls and (cls, c.name) in sums and (callee in (c.name, f"this->{c.name}", f"{cls}::{c.name}")):
            key = (cls, c.name)
        elif (None, c.name) in sums and callee in (c.name, f"::{c.name}"):
            key = (None, c.name)
        elif qual and (qual, c.name) in sums:
            key = (qual, c.name)  # `InitOnce::lock()`: a static helper of another class
        if key is None or (key == (cls, fn.name) and not fn.class_name == cls):
            continue
        if key[1] == fn.name and key[0] == cls:
            continue  # recursion
        for mutex, delta, pi in sums[key]:
            out.append((mutex, delta, pi, c))
    return out


def _receiver_helper(flow, cands, c):
    """The (class, method) helper `recv.method()` calls (`cands`: the helper keys with that
    method name), or None."""
    if c.name in _LOCK_NAMES or c.name in _UNLOCK_NAMES:
        return None  # `mu_.Lock()` locks `mu_` itself, whatever its class does inside
    if not cands or not c.receiver or not re.fullmatch(r"[A-Za-z_]\w*", c.receiver):
        return None
    d = next((d for d in reversed(flow.decls) if d.name == c.receiver and d.visible_from <= c.span.start_byte), None)
    if d is not None:
        ty = re.sub(r"<.*|[*&]|\b(const|volatile|static|struct|class)\b", " ", d.type).split()
        last = ty[-1].split("::")[-1] if ty else ""
        return next((k for k in cands if k[0] == last), None)
    return cands[0] if len(cands) == 1 else None


def add_helper_holders(fn, effects) -> bool:
    """Add the helpers' lock effects to `fn.locks`; True when something was added."""
    from lifelint.facts.cpp_locks import LockHolder, normalise_mutex

    added = False
    # `l.lock()` on a lock wrapper read as a bare lock of `l`: it is the wrapped mutex's
    wrapped = {c.receiver for _m, _d, pi, c in effects if c.receiver not in (None, "this")}
    if wrapped:
        kept = [h for h in fn.locks if not (h.kind == "manual" and h.mutexes and h.mutexes[0] in wrapped)]
        added = len(kept) != len(fn.locks)
        fn.locks[:] = kept
    for mutex, delta, pi, c in effects:
        if pi is not None:
            if pi >= len(c.args):
                continue
            mutex = normalise_mutex(c.args[pi])
        op = ("acq", c.span.end_byte, c.span) if delta > 0 else ("rel", c.span.start_byte, c.span)
        if any(op[:2] == o[:2] for h in fn.locks for o in h.ops):
            continue
        h = next((h for h in fn.locks if h.kind in ("manual", "helper") and h.mutexes == [mutex]), None)
        if h is None:
            h = LockHolder(None, "", [mutex], False, c.span, "helper", c.lambda_index is not None, [c.span])
            fn.locks.append(h)
        h.ops.append(op)
        added = True
    if added:
        for h in fn.locks:
            if h.kind != "helper":
                continue
            first = min(h.ops, key=lambda o: o[1] if len(o) > 1 and isinstance(o[1], int) else 0)
            if first[0] == "rel" and not any(o[0] == "entry" for o in h.ops):
                h.ops.append(("entry", h.span))
        fn.locks.sort(key=lambda h: h.span.start_byte)
    return added


def project_effects(summaries) -> dict:
    """The lock effects every file defines (`summaries`: the C++ files' lifelint.summary.FileSummary),
    merged: {"guards": set, "macros": {name: (kind, i)}, "helpers": {(class or None, name):
    [(mutex, delta, param index)]}}. A helper defined with different effects in two files
    (per-platform copies) is dropped."""
    from lifelint.facts.cpp_locks import GUARD_TYPES

    guards: set[str] = set()
    unlockers: set[str] = set()
    wrappers: dict = {}
    macros: dict = {}
    helpers: dict = {}
    clash: set = set()
    aliases: dict = {}
    for s in summaries:
        aliases.update(s.aliases)
        eff = s.lock_effects
        if not eff or "guards" not in eff:
            continue
        guards.update(eff["guards"])
        unlockers.update(eff.get("unlockers", ()))
        for k, v in eff.get("wrappers", {}).items():
            wrappers.setdefault(k, v)
        for k, v in eff["macros"].items():
            macros.setdefault(k, v)
        for k, v in eff["helpers"].items():
            if k in helpers and helpers[k] != v:
                clash.add(k)
            helpers.setdefault(k, v)
    for k in clash:
        helpers.pop(k, None)
    for k in [k for k in helpers if k[0] is None and k[1] in _LOCK_NAMES | _UNLOCK_NAMES and k[1].startswith(_C_LOCK_PREFIXES)]:
        del helpers[k]  # a project's own `pthread_mutex_lock` shim: a lock call everywhere already
    # Aliases of guard types, the project's own guards included (a typedef of a class another file
    # defines), as far as two levels of aliases. Names every file knows already are left out.
    for _ in range(2):
        guards |= guard_aliases(aliases, GUARD_TYPES | guards)
    guards -= GUARD_TYPES
    return {"guards": guards, "unlockers": unlockers, "wrappers": wrappers, "macros": macros, "helpers": helpers}


def uses_foreign(summary, project) -> bool:
    """Does a function of this file (its lifelint.summary.FileSummary) use a guard type, lock
    macro or helper some other file defines?"""
    eff = summary.lock_effects or {}
    guards = (project["guards"] - set(eff.get("guards", ()))) | (project["unlockers"] - set(eff.get("unlockers", ())))
    wrappers = {k for k in project["wrappers"] if k not in eff.get("wrappers", {})}
    macros = {k for k in project["macros"] if k not in eff.get("macros", {})}
    own = eff.get("helpers", {})
    helpers = {k for k in project["helpers"] if k not in own}
    if not (guards or macros or helpers or wrappers):
        return False
    if not macros.isdisjoint(summary.called):
        return True
    # the calls helper_ops links: unqualified or on `this`, to the caller's class or a free function;
    # qualified (`X::lock()`) to X's; on an object (`obj.acquire()`) to its class's
    if any((cls, name) in helpers or (None, name) in helpers for cls, name in summary.own_calls):
        return True
    # `obj.acquire()` on an object of a helper's class (a plain `obj.lock()` locks `obj` itself)
    if any(k[0] is not None and k[1] in summary.called and k[1] not in _LOCK_NAMES and k[1] not in _UNLOCK_NAMES
           for k in helpers):
        return True
    return not guards.isdisjoint(summary.declared_types) or not wrappers.isdisjoint(summary.declared_types)


def apply_project_effects(items, settings, read, file_settings) -> int:
    """Re-read the lock facts of functions that use another file's guard, lock macro or
    acquire/release helper. `items`: (SourcePath, FileFacts, FileSummary) of the C++ files: what
    every file defines and uses is read from its summary, the facts of the files that use such an
    effect are re-read; `read(src)`: the file's bytes (None when unreadable); `file_settings(src)`:
    the settings it is analysed with. Returns how many files changed. A file is re-parsed only
    when it uses such an effect; deep-mode (libclang) files are left as they are."""
    from lifelint.facts.cpp_flow import relearn_lock_effects
    from lifelint.parsing import parse

    project = project_effects([s for _src, _f, s in items])
    if not (project["guards"] or project["unlockers"] or project["macros"] or project["helpers"]):
        return 0
    key = (tuple(sorted(project["guards"])), tuple(sorted(project["unlockers"])), tuple(sorted(map(str, project["wrappers"].items()))),
           tuple(sorted(project["macros"])), tuple(sorted(map(str, project["helpers"]))))
    changed = 0
    for src, f, summary in items:
        if f is None or f.cpp is None or f.cpp.extra.get("lock_effects_applied") == key:
            continue
        if settings.cpp.deep_on() and src.flags is not None:
            continue
        if not uses_foreign(summary, project):
            continue
        f.cpp.extra["lock_effects_applied"] = key
        try:
            data = read(src)
            if data is None:
                continue
            fs = file_settings(src)
            tree = parse(src.language, data, fs.cpp)
            if relearn_lock_effects(tree.root_node, data, f.cpp, fs.cpp, project):
                changed += 1
        except (RecursionError, ValueError, OSError):
            continue  # a file that cannot be read again keeps its own facts
    return changed
