"""## What it does
Flags a lambda handed to an async sink that captures local variables or by-value parameters
by reference: explicitly (`[&buf]`, `[&r = req]`) or through a default `[&]` whose body uses
them. The sinks are those of LL102: `post`, `dispatch`, `defer`, `async_*` completion
handlers, timers, `co_spawn`, `std::async`, and threads that are detached or stored.

## Why is this bad?
The callback runs after the function has returned (or on another thread while it returns):
the locals it refers to are gone by then, and reading or writing them is a use of dead stack
memory. It often works in tests because the stack slot is not reused yet, which is why it
survives review. Seed 001 lists callbacks posted from a disk backend that must not outlive
what they reference (seed 001, "callback lifetime management").

## Example
```cpp
void tracker::announce(std::string url) {
    std::vector<char> request = build_request(url);
    post(m_ioc, [&] { send(url, request); });   // `url` and `request` die when announce returns
}
```

## Use instead
Capture by value, or move the locals into the lambda:
```cpp
post(m_ioc, [url = std::move(url), request = std::move(request)] { send(url, request); });
```

## Known limits
- Reference parameters and reference locals captured by reference are not reported: what they
  refer to may well outlive the callback, and that is not visible in the function.
- A function that blocks until the callback has run (a condition variable, a future, an event
  object the callback sets and the caller waits on (`done.Set()` ... `done.Wait()`), a helper
  named like `*wait*` given a flag the lambda sets) is treated as synchronous. So are threads
  kept in a local container and all joined later in the function (`for (auto& t : threads)
  t.join();`), a `std::async` whose future stays local (its destructor waits), threads a test
  fixture's `TearDown()` joins, and a one-argument `defer(lambda)` (a Go-style scope guard).
  A continuation whose task is waited (`.wait()` / `.get()`) before the block that makes it
  ends has run by then: on its own chain (`x.then(f).wait()`) or on the local the chain is
  kept in (`auto t = x.then(f); ...; t.get();`), unless that local is returned or moved. A
  wait under a condition counts as a wait; blocking on some other request whose reply the
  callback sends is not seen.
- Sinks are recognised by name, as in LL102.
"""

from __future__ import annotations

from lifelint.model import Level, Precision, Related
from lifelint.registry import Rule
from lifelint.sinks import capture_list_span, lambda_sink, waits_for_lambda

LOCAL_KINDS = frozenset({"local", "param", "range", "binding", "condition", "catch", "capture", "lambda-param"})


def stack_local(d) -> bool:
    """A declaration whose storage dies with the enclosing call: not static, not a reference."""
    if d.kind not in LOCAL_KINDS or d.is_reference:
        return False
    t = " " + d.type.replace("&", " & ") + " "
    return " static " not in t and " thread_local " not in t and " constexpr " not in t


class RefCaptureInAsync(Rule):
    code = "LL103"
    name = "ref-capture-in-async"
    group = "nursery"  # measured: 0 TRUE and 1 FALSE of 1 triaged test-half findings (fewer than 10)
    languages = ("cpp",)
    level = Level.WARNING
    precision = Precision.HIGH
    summary = "A lambda handed to an async sink captures locals by reference; they are dead when it runs."
    tags = ("correctness", "lifetime", "concurrency")
    seeds = ("001",)
    cross_file = False  # its findings and their related locations are in the file checked

    def check(self, facts, index):
        for fn in facts.cpp.functions:
            flow = fn.flow
            if flow is None:
                continue
            for li, L in enumerate(flow.lambdas):
                refs = []  # (span, name, decl)
                for c in L.captures:
                    if c.mode == "ref" and c.decl is not None and stack_local(flow.decls[c.decl]):
                        refs.append((c.span, c.name, flow.decls[c.decl]))
                    elif c.mode == "init-ref" and c.init:
                        di = flow.decl_named(c.init.strip(), L.span.start_byte, L.outer_scope)
                        if di is not None and stack_local(flow.decls[di]):
                            refs.append((c.span, c.init.strip(), flow.decls[di]))
                if L.default == "&":
                    explicit = {c.name for c in L.captures}
                    for di in L.outer_uses:
                        d = flow.decls[di]
                        if d.name not in explicit and stack_local(d) and not any(r[1] == d.name for r in refs):
                            # only locals of the body that creates the lambda (or outside it)
                            refs.append((None, d.name, d))
                if not refs:
                    continue
                sink = lambda_sink(flow, li, fn, index, self.settings)
                if sink is None or waits_for_lambda(flow, li, sink, index):
                    continue
                names = ", ".join(f"`{n}`" for _, n, _ in refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
                first = refs[0]
                span = first[0]
                how = "by reference" if span is not None else "by reference through `[&]`"
                if span is None:
                    span = capture_list_span(L)
                kind = "parameter" if first[2].kind == "param" else "local"
                what = f"{kind} {names}" if len(refs) == 1 else f"locals {names}"
                msg = (f"In `{fn.qualname}`, the lambda handed to {sink.what} captures {what} {how}; the callback "
                       f"runs later, after `{fn.name}` has returned and {'it is' if len(refs) == 1 else 'they are'} destroyed. "
                       f"Capture by value or move into the lambda (`[{first[1]} = std::move({first[1]})]`).")
                related = [Related(first[2].span, f"`{first[1]}` is declared here and dies when the enclosing scope ends"),
                           Related(sink.span, f"handed to {sink.what} here; it runs later")]
                yield self.finding(span, msg, related)
