"""## What it does
Flags a raw pointer to an object owned by someone else stored in a global, a static member or
a static local, with nothing tying the global to the object's destruction:

- `g_io = dio.get();` / `g_io = &*dio;` where `dio` is a `unique_ptr` / `shared_ptr`;
- the same through a setter that stores its parameter in a global
  (`set_global_io(dio.get())`), found through the project index even when the setter is
  defined in another file;
- `this` stored in a global by a constructor (or any method) when the class's destructor does
  not clear it.

The finding points at the store; a related location shows where ownership leaves (the owner is
returned, moved or reset) or where the owner dies. When a function that clears the global exists
but destroying the object does not reach it (only a test reset, an exit hook or another class's
destructor calls it), the finding names that function and its callers, and the fix is to call it
from the pointee's destructor. The setter and the clear may be a free function or a static member
function, in any file of the project; the owner a `unique_ptr` or `shared_ptr` (`.get()`, `&*p`).

What counts as taking the pointer back, so that nothing is reported:

- the pointee's destructor (or the owning class's, for a member owner), or a base class's
  destructor, clears the global or restores another value, directly or a few calls deep;
- **a closing method the destruction protocol requires**: a destructor asserts a state
  (`assert(*slot == nullptr)`: deleted only once closed) that a method of the class sets
  (`*slot = nullptr;`) before it clears the global (`if (g_focused == this) g_focused = nullptr;`);
- **scoped publication**: the function that stores the pointer clears it (null, or the value it
  saved before) on every way out: the end of the body, each `return` and `throw` after the
  store, and each `return` reached again on the next turn of a loop around it. A clear inside
  `if (g == this)` counts (when the test fails, `g` no longer holds this object);
- **a scope guard**: the pointer goes through a constructor that stores it, the guard class's
  destructor restores or clears the global (`last = active; active = i;` /
  `active = last;`), and the guard is an automatic object of the storing function (a local or a
  temporary, not `new`, not `static`, not returned or moved away): it dies before the function
  returns;
- **an object in main's frame**: every object of the class (and of classes derived from it) a
  program makes is an automatic local of its `main`'s outermost block, or the owner whose
  `.get()` `main` stores is such a local and is not reset, released, moved or returned: the
  object lives until `main` returns, after every other use in that program. A file that
  defines its own `main` (an app, a tool, an example), or whose test cases a test framework's
  macros turn into functions (`TEST(Suite, Name) { .. }`, `BOOST_AUTO_TEST_CASE(x) { .. }`, a
  `*_MAIN` macro such as `QTEST_MAIN(T)` that writes `main`), is a separate program, with the
  headers whose classes only it implements (a test fixture's header); the objects it makes are
  that program's. Every other file is library code, part of every program: an object it makes
  in a function, on the heap or in a field can die under any program's `main`, whatever the
  folder is called.

## Why is this bad?
The global outlives every owner. When the `unique_ptr` is returned and later destroyed, or the
object is deleted, the global still holds its address; the next thread to use it reads freed
memory. Both seed 000 and seed 001 describe it: a SWIG `%extend` factory lambda called
`set_global_memory_disk_io(dio.get())` and returned `dio` to the session; nothing cleared the
global when the session destroyed the backend.

## Example
```cpp
auto dio = std::make_unique<memory_disk_io>(ioc);
set_global_memory_disk_io(dio.get());   // the global now points into dio's object
return dio;                             // ... which the session destroys whenever it likes
```

## Use instead
Store a `std::weak_ptr` (or a `shared_ptr`) so users can tell when the object is gone:
```cpp
auto dio = std::make_shared<memory_disk_io>(ioc);
set_global_memory_disk_io(dio);         // std::weak_ptr<memory_disk_io> inside
```
or clear the global from the object's destructor.

## Known limits
- Only setters that assign a parameter straight to a global (one level) are followed.
- "Cleared by the destructor" means the pointee class's destructor (or, when the owner is a
  member, the owning class's destructor) assigns the global a null value, or reaches a function
  that does through a few calls (methods of `this`, free functions, a setter given `nullptr`). A
  clear function that exists but is called only from an unrelated path (a test reset, a
  shutdown nothing calls on destruction) is not credited.
- Scoped publication is judged from the body's structure (blocks, branches, loops, returns,
  throws, break/continue), not a full control-flow graph: a clear in each branch of an
  `if`/`else` that both return is not combined, and is reported; a `goto` in the body voids the
  credit; a `throw` caught inside the same function counts as a way out. An exception thrown by a
  *called* function between the store and the clear is not considered: the global then stays
  set (a scope guard is the shape that survives it). A coroutine suspended between the two is not
  considered either.
- A destruction protocol is read from an `assert(state == value)` in a destructor (`assert`,
  `Q_ASSERT`, `DCHECK` and the like): the assert is trusted as the rule of the code, release builds
  included. The closing method's clear must come after it sets the asserted state; whether the
  object can be focused again between closing and deletion is not checked.
- A scope guard is trusted to live no longer than what it publishes: a local owner reset while
  the guard is still alive is not seen.
- Objects in main's frame: static destructors and atexit handlers run after `main` returns, and
  threads still running then (detached, or never joined) may read the global after the object
  is gone; neither is checked. Programs are told apart by their entry files, not by a build
  system: another program (a test, a tool) that makes the object and lets it die while it still
  uses the global is not reported once one program holds the object in its `main`'s frame; a
  file that is library code in one program and an entry in another is taken for an entry; a
  macro-made function body at the start of a line (`NAME(args) {`) is taken for a test case.
  A name written with a qualifier
  names the class only when the class's qualified name is it or ends with it (a namespace alias
  is not resolved). An object held through a template argument (`std::optional<T>`, a container)
  counts as one that can die early.
- The pointee class is read from `unique_ptr<T>` / `make_unique<T>` / `make_shared<T>`; an
  `auto` owner from another factory is still reported, without the destructor check.
- An unqualified name written in a method names that class's own member when the class declares
  one: a `static QPointer<T> m_instance` (which clears itself) is not another class's raw
  `m_instance`.
"""

from __future__ import annotations

import re

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule

_GET = re.compile(r"^(?P<owner>[A-Za-z_][\w.\->\[\]]*?)\s*(?:\.|->)\s*get\s*\(\s*\)$")
_DEREF_ADDR = re.compile(r"^&\s*\*\s*(?P<owner>[A-Za-z_][\w.\->\[\]]*)$")
_POINTEE = re.compile(r"(?:unique_ptr|shared_ptr|make_unique|make_shared|allocate_shared)\s*<\s*([\w:]+)")


def _global_pointer(v) -> bool:
    t = v.type.replace(" ", "")
    return v.pointer_depth > 0 or bool(re.search(r"atomic<[^<>]*\*>", t))


def _globals_index(index):
    """name -> [(file, Variable)] of raw-pointer globals, static members and static locals."""
    def build(ix):
        out = {}
        for name, items in ix.cpp_globals.items():
            keep = [(f, v) for f, v in items if _global_pointer(v) and not v.is_const and not v.is_thread_local]
            if keep:
                out[name] = keep
        return out
    return index.memo("ll105.pointer_globals", build)


def _may_name(fn, name: str, candidates, index) -> bool:
    """Whether an unqualified `name` written in `fn` can be one of these raw-pointer globals. When
    fn's own class declares a member of that name, that member is what it names: a raw pointer,
    or not (`static QPointer<T> m_instance`, which clears itself), whatever other classes hold."""
    cls = fn.class_name.split("::")[-1].split("<")[0] if fn.class_name else None
    if cls and index is not None:
        for _f, k in index.cpp_classes.get(cls, []):
            own = next((v for v in (*k.static_members, *k.fields) if v.name == name), None)
            if own is not None:
                return _global_pointer(own) and not own.is_const
    return any(v.kind != "static-member" or cls is None for _f, v in candidates) or cls is None


def _stores(fn, pglobals, index=None):
    """(global name, value text, span, kind) for every store of a value into a raw-pointer global in `fn`."""
    flow = fn.flow
    out = []
    for a in flow.assigns:
        if not a.plain:
            continue
        name = a.target_name.split("::")[-1]
        if a.target != a.target_name and a.target.replace("this->", "") != a.target_name and "::" not in a.target:
            continue  # a field of the global, not the global itself
        if a.target_kind in ("global", "unknown", "member") and name in pglobals:
            if a.target_kind == "member" and not any(v.kind == "static-member" for _f, v in pglobals[name]):
                continue
            if "::" not in a.target and not _may_name(fn, name, pglobals[name], index):
                continue  # another class's static of the same name; this class's own is not a raw pointer
            out.append((name, a.value, a.span, a.lambda_index))
        elif a.target_kind == "local" and a.target_decl is not None:
            d = flow.decls[a.target_decl]
            if d.kind == "static" and d.pointer_depth > 0:
                out.append((d.name, a.value, a.span, a.lambda_index))
    for d in flow.decls:
        if d.kind == "static" and d.pointer_depth > 0 and d.init:
            out.append((d.name, d.init.lstrip("=").strip(), d.decl_span, d.lambda_index))
    for c in flow.calls:
        if c.callee_kind == "method" and c.name == "store" and c.args and c.receiver:
            name = c.receiver.split("::")[-1]
            if name in pglobals:
                out.append((name, c.args[0], c.span, c.lambda_index))
    return out


def _setters(index):
    """function name -> [(param index, global name, file, function)] for functions that store a
    parameter in a raw-pointer global."""
    def build(ix):
        pglobals = _globals_index(ix)
        out: dict[str, list] = {}
        if not pglobals:
            return out
        for f in ix.files:
            if f.cpp is None:
                continue
            for fn in f.cpp.functions:
                if fn.flow is None or not fn.params:
                    continue
                names = [p.name for p in fn.params]
                for g, value, _span, lam in _stores(fn, pglobals):
                    v = value.strip()
                    if lam is None and v in names:
                        out.setdefault(fn.name, []).append((names.index(v), g, f, fn))
        return out
    return index.memo("ll105.setters", build)


def _clearers(index, gname: str) -> set[str]:
    """Functions that assign global `gname` a constant (nullptr, 0, {}) or reset it."""
    return index.memo("ll105.clearers", _clearers_by_global).get(gname, set())


def _clearers_by_global(index) -> dict[str, set[str]]:
    """global name (last segment) -> functions assigning it a constant; one pass over the project
    (a pass per global asked about was quadratic: 4 s of a 13 s re-run on a 300k-line tree)."""
    out: dict[str, set[str]] = {}
    for f in index.files:
        if f.cpp is None:
            continue
        for fn in f.cpp.functions:
            if fn.flow is None:
                continue
            for a in fn.flow.assigns:
                if a.value.strip() in ("nullptr", "NULL", "0", "{}"):
                    out.setdefault(a.target_name.split("::")[-1], set()).add(fn.name)
    return out


_NULLS = ("nullptr", "NULL", "0", "{}")


def _clears_here(flow, gname: str, clearers: set[str], setters, after: int = -1, lam=False,
                 stored: str | None = None) -> object | None:
    """The span of a clear of `gname` in this body (after byte `after`; in lambda level `lam` unless
    False): an assignment of another value than `stored`, a call of a function that assigns it
    a null value, or a setter of `gname` called with a null value."""
    for a in flow.assigns:
        # Any new value unpublishes the object: null, or the previous one restored
        # (`caches[fs] = this->parent;` in a destructor, `g_current = saved;`).
        if a.span.start_byte > after and (lam is False or a.lambda_index == lam) \
                and a.target_name.split("::")[-1] == gname and a.value.strip() != stored:
            return a.span
    for c in flow.calls:
        if c.span.start_byte <= after or (lam is not False and c.lambda_index != lam):
            continue
        if c.name in clearers or c.name == f"clear_{gname}":
            return c.span
        for pi, g, _sf, _sfn in setters.get(c.name, []):
            if g == gname and pi < len(c.args) and c.args[pi].strip() in _NULLS:
                return c.span
    return None


def _clear_spans(flow, gname: str, clearers: set[str], setters, after: int, lam, stored: str | None) -> list:
    """Every clear of `gname` in this body after byte `after`, in lambda level `lam`: (span, scope)."""
    out = []
    for a in flow.assigns:
        if a.span.start_byte > after and a.lambda_index == lam and a.target_name.split("::")[-1] == gname \
                and a.value.strip() != stored:
            out.append((a.span, a.scope))
    for c in flow.calls:
        if c.span.start_byte <= after or c.lambda_index != lam:
            continue
        if c.name in clearers or c.name == f"clear_{gname}" or any(
                g == gname and pi < len(c.args) and c.args[pi].strip() in _NULLS for pi, g, _sf, _sfn in setters.get(c.name, [])):
            out.append((c.span, c.scope))
    return out


def _contains(scope, byte: int) -> bool:
    return scope.span.start_byte <= byte < scope.span.end_byte


def _runs_before(flow, si: int, ref: int, gname: str) -> bool:
    """Whether a statement directly in scope `si` runs on every path that goes on to byte `ref`
    (which comes after it): walking out from `si` to the first scope holding `ref`, every scope
    left is a plain `{ }` block or a do-while body (run at least once), or the branch of an `if`
    that tests the global itself (`if (g == this) g = nullptr;`: when the test fails, the global
    no longer holds this object anyway)."""
    scopes = flow.scopes
    while si is not None and not _contains(scopes[si], ref):
        sc = scopes[si]
        if sc.kind == "block" and sc.branch is None or sc.kind == "do":
            pass
        elif sc.kind == "block" and sc.branch == "body" and sc.parent is not None and scopes[sc.parent].kind == "do":
            pass
        elif sc.kind == "block" and sc.branch == "then" and sc.parent is not None and re.search(
                rf"(?:^|[^\w])(?:\w+::)*{re.escape(gname)}(?:==|!=nullptr\b|!=NULL\b|\))|=={re.escape(gname)}\b",
                scopes[sc.parent].cond or ""):
            si = scopes[sc.parent].parent  # past the `if` statement too
            continue
        else:
            return False
        si = sc.parent
    return True


def _undone_on_every_path(flow, gname: str, span, lam, stored: str, clearers: set[str], setters) -> bool:
    """Scoped publication: every way out of the function after the store passes a clear of
    `gname` first. The exits are the returns and throws after the store, those in a loop around
    it (reached again on the next iteration), and the end of the body. A clear counts for an exit
    when it lies between the store and the exit and runs on every path to it (_runs_before), and
    no break/continue between the store and the clear can jump over it. A goto anywhere in the
    body, or no clear at all, and the publication is not credited."""
    clears = _clear_spans(flow, gname, clearers, setters, span.end_byte, lam, stored)
    if not clears:
        return False
    if any(j.kind == "goto" and j.lambda_index == lam for j in flow.jumps):
        return False
    here = span.start_byte
    scopes = flow.scopes
    body = next((i for i, sc in enumerate(scopes) if sc.lambda_index == lam and sc.kind in ("function", "lambda")
                 and _contains(sc, here)), None)
    if body is None:
        return False
    loops = [sc for sc in scopes if sc.lambda_index == lam and sc.kind in ("for", "while", "do") and _contains(sc, here)]

    def target(j):
        """The scope a break/continue leaves: the innermost loop (or switch, for break) holding it."""
        best = None
        for sc in scopes:
            if sc.lambda_index == lam and _contains(sc, j.span.start_byte) and (
                    sc.kind in ("for", "while", "do") or sc.kind == "switch" and j.kind == "break"):
                if best is None or sc.span.start_byte >= best.span.start_byte:
                    best = sc
        return best

    jumps = [(j, target(j)) for j in flow.jumps
             if j.lambda_index == lam and j.kind in ("break", "continue") and j.span.start_byte > span.end_byte]
    usable = [(cs, si) for cs, si in clears
              if not any(t is not None and _contains(t, cs.start_byte) and j.span.start_byte < cs.start_byte for j, t in jumps)]
    exits = [r.span for r in flow.returns if r.lambda_index == lam] + \
            [j.span for j in flow.jumps if j.lambda_index == lam and j.kind == "throw"]
    # A clear that runs on every path on from the store (in its block, or in a plain block of an
    # enclosing one, after it) is passed before any exit that comes after the clear.
    after_store = [(cs, si) for cs, si in usable if _runs_before(flow, si, here, gname)]
    for e in exits:
        if e.start_byte > span.end_byte:
            if not any(cs.start_byte < e.start_byte and (_runs_before(flow, si, e.start_byte, gname) or (cs, si) in after_store)
                       for cs, si in usable):
                return False
        elif e.start_byte < here:
            around = [lp for lp in loops if _contains(lp, e.start_byte)]
            if around and not any(any(_contains(lp, cs.start_byte) for lp in around) for cs, _si in after_store):
                return False
    # the end of the body, when control falls off it
    end = scopes[body].span.end_byte - 1
    return bool(after_store) or any(_runs_before(flow, si, end, gname) for _cs, si in usable) \
        or _ends_in_return(flow, body, lam)


def _ends_in_return(flow, body: int, lam) -> bool:
    """Whether the body's last statement is a return (control never falls off its end)."""
    rs = [r for r in flow.returns if r.lambda_index == lam and r.scope == body]
    if not rs:
        return False
    last = max(rs, key=lambda r: r.span.end_byte)
    later = [x for x in (*flow.assigns, *flow.calls) if x.lambda_index == lam and x.span.start_byte > last.span.end_byte]
    return not later


def _scope_guard(flow, call) -> bool:
    """Whether the object this constructor call makes is an automatic object of the calling
    body that dies there: a local (not static, not returned or moved away) or a temporary. Its
    destructor then runs before the function returns (exceptions included); `new Guard(...)`,
    a static, or a guard handed out lives on."""
    if call.kind != "construct" or call.result not in ("init", "discarded"):
        return False
    if call.declared is None:
        return call.result == "discarded"  # `Guard(this);`: dies at the end of the statement
    d = next((d for d in flow.decls if d.name == call.declared
              and d.decl_span.start_byte <= call.span.start_byte <= d.decl_span.end_byte), None)
    if d is None or d.kind != "local" or d.pointer_depth or d.is_reference:
        return False
    gone = {call.declared, f"std::move({call.declared})", f"move({call.declared})"}
    if any(r.value and r.value.replace(" ", "") in gone for r in flow.returns):
        return False
    return not any(c.name == "move" and c.args and c.args[0].strip() == call.declared for c in flow.calls)


_MAIN_NAMES = ("main", "wmain", "WinMain", "wWinMain")


def _programs(index) -> dict[str, str]:
    """display path -> the program entry it belongs to, for the files that are not shared code:
    a file that defines its own `main`, or whose test cases a test framework's macros turn into
    functions (`TEST(..) { }`, `QTEST_MAIN(T)`: the framework supplies main), is a separate
    program (a tool, a test, an example); so is a header whose class's methods such a file
    defines (a test fixture's header). Every other file is library code, part of every program."""
    def build(ix):
        out: dict[str, str] = {}
        for f in ix.files:
            if f.cpp is None:
                continue
            if f.cpp.entry_macros or any(fn.name in _MAIN_NAMES and not fn.class_name and fn.body is not None
                                         for fn in f.cpp.functions):
                out[f.path] = f.path
        if not out:
            return out
        # the files that define methods of each class (short name -> {file: its program or ""})
        defined: dict[str, dict[str, str]] = {}
        for f in ix.files:
            if f.cpp is not None:
                for fn in f.cpp.functions:
                    if fn.class_name:
                        defined.setdefault(fn.class_name.split("::")[-1].split("<")[0], {})[f.path] = out.get(f.path, "")
        for f in ix.files:
            if f.cpp is None or f.path in out or not f.cpp.classes:
                continue
            homes = set()
            for k in f.cpp.classes:
                # methods defined inline in the header itself say nothing about the program
                homes |= {prog for path, prog in defined.get(k.name, {}).items() if path != f.path} or {""}
            if len(homes) == 1 and "" not in homes:
                out[f.path] = homes.pop()  # every class it declares is implemented by one program's entry file
        return out
    return index.memo("ll105.programs", build)


def _type_names(t: str) -> list[str]:
    """The (possibly qualified) type names a type text mentions: `std::vector<ns::T>` ->
    [`std::vector`, `ns::T`]."""
    t = re.sub(r"\b(?:const|volatile|struct|class|typename|unsigned|signed)\b", " ", t)
    return re.findall(r"[A-Za-z_]\w*(?:\s*::\s*[A-Za-z_]\w*)*", t)


def _instances(index) -> dict[str, list[tuple[str, bool, str | None]]]:
    """short class name -> (name as written, held in main, program) for each place the project
    makes or holds an object of a class of that name, `held in main` being True for an automatic
    local of `main`'s outermost block, `program` the entry file of the program the place belongs
    to (None: library code, part of every program; see _programs): one pass over the project. An object
    held any other way (a `new`, a `make_unique` / `make_shared`, a field, a global, a local of
    another function or of an inner block of main, a container or holder whose type names the
    class) counts as one that can die while the program runs."""
    def build(ix):
        out: dict[str, list[tuple[str, bool, str | None]]] = {}
        programs = _programs(ix)

        for f in ix.files:
            if f.cpp is None:
                continue
            prog = programs.get(f.path)

            def add(written: str, top: bool, prog=prog) -> None:
                w = written.replace(" ", "")
                out.setdefault(w.split("::")[-1], []).append((w, top, prog))

            for v in (*[v for c in f.cpp.classes for v in c.fields], *f.cpp.globals):
                if not v.pointer_depth and not v.is_reference:
                    for n in _type_names(v.type):
                        add(n, False)
            for fn in f.cpp.functions:
                flow = fn.flow
                if flow is None:
                    continue
                in_main = fn.name in _MAIN_NAMES and not fn.class_name
                for d in flow.decls:
                    if d.kind not in ("local", "static") or d.pointer_depth or d.is_reference:
                        continue
                    names = _type_names(d.type)
                    top = in_main and d.kind == "local" and d.lambda_index is None \
                        and flow.scopes[d.scope].kind == "function"
                    for i, n in enumerate(names):
                        add(n, top and i == 0)  # the held type; a template argument (std::optional<T>) is not main's local
                for c in flow.calls:
                    if c.kind == "new" or c.kind == "construct" and c.declared is None:
                        add(c.callee.split("<", 1)[0], False)  # a heap object, a temporary, a field's initialiser
                    if "<" in c.callee and c.kind in ("call", "new"):
                        for n in _type_names(c.callee.split("<", 1)[1]):
                            add(n, False)  # make_unique<T>, make_shared<T>, new holder<T>
        return out
    return index.memo("ll105.instances", build)


def _lives_in_main(index, class_name: str | None) -> bool:
    """Whether a program holds the class in main's frame and every object of the class (or of a
    class deriving from it) that program makes is an automatic local of `main`'s outermost
    block: it lives until `main` returns, so a global pointing at it outlives it only while
    static destructors and atexit handlers run. Library code is part of every program; another
    program (a file with its own `main`, a test framework's test cases) makes and ends its own
    objects, and they do not die under this program's `main`. A name
    written with a qualifier names the class only when the class's qualified name ends with it
    (`Ui::MainWindow` is not `MainWindow`)."""
    if not class_name:
        return False
    inst = _instances(index)
    seen: list[tuple[bool, str | None]] = []
    cls = re.sub(r"<[^<>]*>", "", class_name).replace(" ", "")
    root = cls.split("::")[-1]
    for short in index.subclasses(root):
        quals = {k.qualname.replace(" ", "") for _f, k in index.cpp_classes.get(short, [])}
        if short == root:
            # the class `this` is: the one so named, else one in a namespace around the definition
            quals = {q for q in quals if q == cls} or {q for q in quals if q.endswith("::" + cls)}
        quals = quals or {short}
        for written, top, prog in inst.get(short, []):
            if "::" not in written or any(q == written or q.endswith("::" + written) for q in quals):
                seen.append((top, prog))
    shared = [top for top, prog in seen if prog is None]
    if not all(shared):
        return False  # library code makes one that can die in any program
    for main in {prog for top, prog in seen if top and prog is not None}:
        if all(top for top, prog in seen if prog == main):
            return True
    return False


def _dtor_clears(index, class_name: str | None, gname: str) -> bool:
    """Whether destroying an object of the class reaches a clear of `gname`: its destructor clears
    it, or calls (on `this`, or as a free function) something that does, a few calls deep. A
    clear function that exists is not a clear that happens: only what the destructor reaches
    counts."""
    if not class_name:
        return False
    clearers = _clearers(index, gname)
    setters = _setters(index)
    # Destroying an object runs its base classes' destructors too, and calls in any of them
    # reach inherited methods.
    methods = [m for c in _class_chain(index, class_name) for m in index.methods_of(c)]
    by_name: dict[str, list] = {}
    for _f, fn in methods:
        by_name.setdefault(fn.name, []).append(fn)
    todo = [(fn, 0) for _f, fn in methods if fn.is_dtor]
    seen: set[int] = set()
    while todo:
        fn, depth = todo.pop()
        if id(fn) in seen or fn.flow is None:
            continue
        seen.add(id(fn))
        if _clears_here(fn.flow, gname, clearers, setters) is not None:
            return True
        if depth >= 3:
            continue
        for c in fn.flow.calls:
            if c.callee_kind == "method" and c.receiver not in ("this", None):
                continue
            targets = by_name.get(c.name, []) if c.callee_kind == "method" or c.name in by_name else \
                [g for _f, g in index.cpp_functions.get(c.name, [])[:4] if not g.class_name]
            todo.extend((g, depth + 1) for g in targets)
    return _closed_first(methods, gname, clearers, setters)


def _class_chain(index, class_name: str) -> list[str]:
    """The class's short name and those of its base classes, transitively (nearest first)."""
    out: list[str] = []
    todo = [re.sub(r"<.*", "", class_name).split("::")[-1].strip()]
    while todo and len(out) < 12:
        c = todo.pop(0)
        if c in out:
            continue
        out.append(c)
        for _f, k in index.cpp_classes.get(c, []):
            for b in k.bases:
                names = _type_names(re.sub(r"<.*", "", b))
                if names:
                    todo.append(names[-1].split("::")[-1])
    return out


_ASSERTS = frozenset({"assert", "Q_ASSERT", "BOOST_ASSERT", "DCHECK", "CHECK", "ASSERT", "always_assert"})


def _state(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("this->", "").replace("(*this).", "")


def _closed_first(methods, gname: str, clearers, setters) -> bool:
    """A destruction protocol: a destructor asserts `state == value` (deletion is allowed only
    once the object is closed) and a method of the class sets `state = value` and then clears
    `gname`. Every object that is destroyed went through that method first, so the clear is on
    its destruction path even though no destructor reaches it."""
    required = set()
    for _f, fn in methods:
        if fn.is_dtor and fn.flow is not None:
            for c in fn.flow.calls:
                if c.name in _ASSERTS and c.args:
                    m = re.fullmatch(r"(.+?)==(.+)", _state(c.args[0]))
                    if m and "==" not in m.group(2) and "&&" not in c.args[0] and "||" not in c.args[0]:
                        required.add((m.group(1), m.group(2)))
    if not required:
        return False
    for _f, fn in methods:
        if fn.is_dtor or fn.flow is None:
            continue
        for a in fn.flow.assigns:
            if a.op == "=" and a.lambda_index is None and (_state(a.target), _state(a.value)) in required \
                    and _clears_here(fn.flow, gname, clearers, setters, after=a.span.end_byte, lam=None) is not None:
                return True
    return False


def _clear_callers(index) -> dict[str, list]:
    """clear function name -> [(file, caller, call span)]: who calls each function that nulls a
    pointer global (one pass over the project, built only when a finding asks)."""
    def build(ix):
        names = set().union(*_clearers_by_global(ix).values()) if _clearers_by_global(ix) else set()
        out: dict[str, list] = {}
        for f in ix.files:
            if f.cpp is None:
                continue
            for fn in f.cpp.functions:
                if fn.flow is None:
                    continue
                for c in fn.flow.calls:
                    if c.name in names and c.name != fn.name:
                        out.setdefault(c.name, []).append((f, fn, c.span))
        return out
    return index.memo("ll105.clear_callers", build)


def _unreached_clear(index, gname: str):
    """(clear function, its file, [(file, caller)]) for a function that clears `gname` while the
    object's destruction does not reach it: the clear that exists but does not happen."""
    for name in sorted(_clearers(index, gname)):
        for f, fn in index.cpp_functions.get(name, [])[:4]:
            if fn.flow is not None and _clears_here(fn.flow, gname, set(), {}) is not None:
                callers = [(cf, cfn) for cf, cfn, _s in _clear_callers(index).get(name, [])]
                return fn, f, callers
    return None


class OwnerPointerInGlobal(Rule):
    code = "LL105"
    name = "owner-pointer-in-global"
    group = "nursery"  # measured: precision 0.00 over 10 triaged test-half findings (0 TRUE, 10 FALSE; 0 / 9 at the start of session 7)
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A raw pointer to an object owned elsewhere (`.get()`, `&*p`, `this`) is stored in a global that nothing clears."
    tags = ("correctness", "lifetime")
    seeds = ("000", "001")

    def check(self, facts, index):
        pglobals = _globals_index(index)
        setters = _setters(index)
        for fn in facts.cpp.functions:
            flow = fn.flow
            if flow is None:
                continue
            # Direct stores.
            for gname, value, span, lam in _stores(fn, pglobals, index):
                yield from self._judge(fn, flow, gname, value, span, lam, index, via=None)
            # Stores through a setter.
            for c in flow.calls:
                if c.callee_kind == "method" and c.receiver != "this":
                    continue
                for pi, gname, sf, sfn in setters.get(c.name, []):
                    if pi < len(c.args) and sfn is not fn:
                        yield from self._judge(fn, flow, gname, c.args[pi], c.span, c.lambda_index, index, via=(sfn, sf, c))
                        break

    def _judge(self, fn, flow, gname, value, span, lam, index, via):
        v = " ".join(value.split())
        # Scoped publication: the same call clears the global again on every way out.
        if _undone_on_every_path(flow, gname, span, lam, v, _clearers(index, gname), _setters(index)):
            return
        if via is not None and via[0].is_ctor and _scope_guard(flow, via[2]) \
                and _dtor_clears(index, via[0].class_name, gname):
            # A scope guard: its constructor publishes, its destructor restores or clears, and
            # the guard is an automatic object here, so the publication ends with this scope.
            return
        owner = pointee = None
        kind = None
        m = _GET.match(v) or _DEREF_ADDR.match(v)
        if m:
            owner = m.group("owner")
            kind = "get" if v.endswith(")") else "deref"
            di = flow.decl_named(owner, span.start_byte, 0) if re.fullmatch(r"\w+", owner) else None
            d = None
            if di is None:
                # find the declaration visible at the store, whatever its scope
                cands = [i for i, x in enumerate(flow.decls) if x.name == owner and x.visible_from <= span.start_byte]
                di = cands[-1] if cands else None
            if di is not None:
                d = flow.decls[di]
                pm = _POINTEE.search(d.type + " " + (d.init or ""))
                pointee = pm.group(1) if pm else None
                if not pm and "ptr" not in d.type and d.type.strip() not in ("auto", "auto&", "const auto&"):
                    return  # `.get()` on something that is not a smart pointer (an optional, a handle)
            if pointee and _dtor_clears(index, pointee, gname):
                return
            if d is not None and fn.name in _MAIN_NAMES and not fn.class_name and lam is None and d.kind == "local" \
                    and d.lambda_index is None and flow.scopes[d.scope].kind == "function":
                leave = self._ownership_leaves(flow, owner, span, lam)
                if leave is None or leave[1].endswith("are destroyed here"):
                    return  # an owner in main's outermost block, kept to the end: it outlives the program's run
            if d is None and fn.class_name and re.fullmatch(r"(?:this->)?\w+", owner) \
                    and _dtor_clears(index, fn.class_name, gname):
                return  # the owner is a member: its class's destructor clears the global
        elif v == "this":
            kind = "this"
            if _dtor_clears(index, fn.class_name, gname):
                return
            if _lives_in_main(index, fn.class_name):
                return  # every object of the class is a local of main: it outlives the program's run
        else:
            return
        gdesc = self._describe_global(index, gname, fn.class_name)
        setter = where = ""
        if via is not None:
            sfn, sf, _c = via
            setter = f" through `{sfn.name}`"
            where = f" (stored through `{sfn.qualname}`, {sf.path}:{sfn.name_span.line})"
        related = []
        if kind == "this":
            cls = fn.class_name.split("::")[-1] if fn.class_name else "this class"
            when = "in its constructor" if fn.is_ctor else f"in `{fn.name}`"
            msg = f"`this` is stored in {gdesc}{setter} {when}, and `~{cls}` does not clear it."
            why = f"Once the object is destroyed, `{gname}` dangles{where}."
            fix = f"Clear `{gname}` in the destructor, or publish a std::weak_ptr (from weak_from_this()) instead."
            for _f, d in index.methods_of(cls):
                if d.is_dtor:
                    related.append(Related(d.name_span, f"`~{cls}` does not clear `{gname}`", _f.path))
                    break
        else:
            what = f"`{owner}.get()`" if kind == "get" else f"`&*{owner}`"
            leave = self._ownership_leaves(flow, owner, span, lam)
            owned = f"a raw pointer to a `{pointee.split('::')[-1]}`" if pointee else f"a raw pointer to what `{owner}` owns"
            tail = ""
            if leave is not None:
                lspan, ltext, mtext = leave
                related.append(Related(lspan, ltext))
                tail = f" {mtext}; from then on nothing here controls when the object is destroyed."
            clear = f"clear `{gname}` in `~{pointee}`" if pointee else f"clear `{gname}` when the object is destroyed"
            msg = f"{what} ({owned}) is stored in {gdesc} and never cleared."
            why = f"`{gname}` keeps pointing at the object after it is destroyed{where}.{tail}"
            fix = f"Store a std::weak_ptr (or shared_ptr) instead, or {clear}."
            unreached = _unreached_clear(index, gname)
            if unreached is not None:
                # A clear that exists is not a clear that happens: say which one, and who runs it.
                cfn, cf, callers = unreached
                dtor = f"`~{pointee.split('::')[-1]}`" if pointee else "the owner's destruction"
                msg = f"{what} is stored in {gdesc}; {dtor} never reaches `{cfn.name}`, which clears it."
                names = sorted({f"`{c.qualname}`" for _f, c in callers})
                by = f"only {', '.join(names[:3])} call{'s' if len(names) == 1 else ''} it" if names else "nothing calls it"
                why += f" `{cfn.name}` would clear it, but {by}; {dtor} does not."
                fix = f"Store a std::weak_ptr (or shared_ptr) instead, or call `{cfn.name}` from {dtor}."
                related.append(Related(cfn.name_span, f"`{cfn.name}` clears `{gname}`, but destroying the object does not call it", cf.path))
        if via is not None:
            sfn, sf, _c = via
            related.append(Related(sfn.name_span, f"`{sfn.name}` stores its argument in `{gname}`", sf.path))
        if via is not None and via[0].is_ctor and _dtor_clears(index, via[0].class_name, gname):
            # A guard that takes the pointer back, but does not die with this call.
            c = via[2]
            gcls = via[0].class_name.split("::")[-1]
            d = next((d for d in flow.decls if c.declared and d.name == c.declared
                      and d.decl_span.start_byte <= c.span.start_byte <= d.decl_span.end_byte), None)
            how = "made with `new`" if c.kind == "new" else "static" if d is not None and d.kind == "static" \
                else f"handed out of `{fn.name}`" if d is not None else f"not a local of `{fn.name}`"
            head = "`this`" if kind == "this" else f"`{owner}.get()`" if kind == "get" else f"`&*{owner}`"
            msg = f"{head} is stored in {gdesc} by a guard (`{gcls}`) that outlives `{fn.name}`."
            why = (f"`~{gcls}` takes `{gname}` back, but this `{gcls}` is {how}: it is not destroyed when `{fn.name}`"
                   f" returns, so `{gname}` can keep pointing at the object after it is destroyed{where}.")
            fix = f"Make the `{gcls}` a local of `{fn.name}`: its scope then bounds the publication."
        partial = _clear_spans(flow, gname, _clearers(index, gname), _setters(index), span.end_byte, lam, v)
        if partial:
            # It is taken back, but not on every way out: say where, and what would hold.
            cs = partial[0][0]
            related.append(Related(cs, f"`{gname}` is reset here, but not on every way out of `{fn.name}`"))
            why += (f" `{fn.name}` resets it at line {cs.line}, but some way out of `{fn.name}` (an early return, a throw,"
                    f" a branch or a jump that skips the reset) leaves it set.")
            fix = (f"Reset `{gname}` on every way out of `{fn.name}` (a local guard object whose destructor restores it"
                   f" survives early returns and exceptions), or {fix[0].lower()}{fix[1:]}")
        yield self.finding(span, msg, related, why=why, fix=fix)

    @staticmethod
    def _describe_global(index, gname: str, cls: str | None = None) -> str:
        """How the message names the global: a static member of the storing method's own class
        (an unqualified name there means that class's member), else the one of that name."""
        items = index.cpp_globals.get(gname, [])
        kinds = {v.kind for _f, v in items}
        if "static-member" in kinds:
            owners = [v.owner for _f, v in items if v.kind == "static-member" and v.owner]
            mine = cls.split("::")[-1] if cls else None
            owner = next((o for o in owners if o.split("::")[-1] == mine), owners[0] if owners else None)
            return f"the static member `{owner}::{gname}`" if owner else f"the static member `{gname}`"
        if "static-local" in kinds or not items:
            return f"the static `{gname}`"
        return f"the global `{gname}`"

    @staticmethod
    def _ownership_leaves(flow, owner: str, span, lam):
        """(span, related text, message text) of where the owner gives the object away or dies, after the store."""
        for r in flow.returns:
            if r.span.start_byte > span.end_byte and r.lambda_index == lam and r.value:
                val = r.value.replace(" ", "")
                if val in (owner, f"std::move({owner})"):
                    return (r.span, f"`{owner}` is returned here; the caller takes ownership",
                            f"`{owner}` is returned at line {r.span.line} and the caller takes ownership")
        for c in flow.calls:
            if c.span.start_byte <= span.end_byte or c.lambda_index != lam:
                continue
            if c.name == "move" and c.args and c.args[0].strip() == owner:
                return (c.span, f"`{owner}` is moved away here", f"`{owner}` is moved away at line {c.span.line}")
            if c.receiver == owner and c.name in ("reset", "release"):
                return (c.span, f"`{owner}.{c.name}()` gives the object up here",
                        f"`{owner}.{c.name}()` gives the object up at line {c.span.line}")
        # the owner dies at the end of its scope
        cands = [d for d in flow.decls if d.name == owner and d.visible_from <= span.start_byte]
        if cands:
            d = cands[-1]
            if d.kind in ("local", "condition") and ("unique_ptr" in d.type or "make_unique" in (d.init or "")):
                from lifelint.model import Span

                sc = flow.scopes[d.scope]
                end = Span(sc.span.end_byte - 1, sc.span.end_byte, sc.span.end_row, max(0, sc.span.end_col - 1), sc.span.end_row, sc.span.end_col)
                return (end, f"`{owner}` and the object it owns are destroyed here",
                        f"`{owner}` destroys the object at the end of its scope (line {end.line})")
        return None
