"""Rust lock sets by dataflow (lifelint.facts.rust_cfg): `h()` calls marked `/*H*/` must see a
guard held on every path, `/*U*/` must not (`lifelint.rust_checks.lock_held`)."""

from __future__ import annotations

import re

import pytest

from lifelint.facts import rust as rust_facts
from lifelint.parsing import parse
from lifelint.rust_checks import lock_held

CASES = {
    "temporary in a statement": """
        fn f(m: &Mutex<Vec<u8>>) { m.lock().unwrap().push(h(/*H*/)); h(/*U*/); }""",
    "if condition temporary is dropped before the body": """
        fn f(m: &Mutex<Vec<u8>>) { if m.lock().unwrap().is_empty() { h(/*U*/); } }""",
    "if let scrutinee lives through else (2021)": """
        fn f(m: &Mutex<Vec<u8>>) { if let Some(_) = m.lock().unwrap().first() { h(/*H*/); } else { h(/*H*/); } h(/*U*/); }""",
    "try_lock holds in the matching branch only": """
        fn f(m: &Mutex<u8>) { if let Ok(_g) = m.try_lock() { h(/*H*/); } else { h(/*U*/); } h(/*U*/); }""",
    "let else": """
        fn f(m: &Mutex<u8>) { let Ok(g) = m.try_lock() else { h(/*U*/); return; }; h(/*H*/); drop(g); h(/*U*/); }""",
    "drop on one branch": """
        fn f(m: &Mutex<u8>, c: bool) { let g = m.lock().unwrap(); if c { drop(g); } h(/*U*/); }""",
    "drop on a branch that returns": """
        fn f(m: &Mutex<u8>, c: bool) { let g = m.lock().unwrap(); if c { drop(g); return; } h(/*H*/); }""",
    "question mark leaves": """
        fn f(m: &Mutex<u8>) -> Result<(), E> { let g = m.lock().unwrap(); match k() { Ok(_) => {}, Err(e) => { drop(g); return Err(e); } } k()?; h(/*H*/); Ok(()) }""",
    "labelled break and continue leave the guard's scope": """
        fn f(m: &Mutex<u8>) { 'a: loop { let _g = m.lock().unwrap(); loop { if k() { continue 'a; } if j() { break 'a; } h(/*H*/); } } h(/*U*/); }""",
    "while let guard per iteration": """
        fn f(m: &Mutex<Vec<u8>>) { while let Some(_x) = m.lock().unwrap().pop() { h(/*H*/); } h(/*U*/); }""",
    "guard from a helper of the same file": """
        fn state(&self) -> MutexGuard<'_, u8> { self.inner.lock().unwrap() }
        fn f(&self) { let g = self.state(); h(/*H*/); drop(g); h(/*U*/); }""",
    "closure spawned under a lock does not hold it": """
        fn f(m: &Mutex<u8>) { let _g = m.lock().unwrap(); thread::spawn(move || { h(/*U*/); }); v.iter().for_each(|x| h(/*H*/)); }""",
    "async block spawned under a lock does not hold it": """
        fn f(m: &Mutex<u8>) { let _g = m.lock().unwrap(); rt::spawn(async move { h(/*U*/); }); h(/*H*/); }""",
    "async block stored in a let does not hold the creator's lock": """
        fn f(m: &Mutex<u8>) -> impl Future { let _g = m.lock().unwrap(); let fut = async move { h(/*U*/); }; h(/*H*/); fut }""",
    "async block awaited where it is made holds it": """
        async fn f(m: &Mutex<u8>) { let _g = m.lock().unwrap(); async { h(/*H*/); }.await; timeout(d, async { h(/*H*/); }).await; }""",
    "async block handed to block_on holds it": """
        fn f(m: &Mutex<u8>) { let _g = m.lock().unwrap(); rt.block_on(async { h(/*H*/); }); }""",
    "async closure is a body of its own": """
        fn f(m: &Mutex<u8>) { let _g = m.lock().unwrap(); let c = async move |x: u8| { h(/*U*/); }; tasks.push(c); }""",
    "guard taken inside an async block": """
        fn f(m: Arc<Mutex<u8>>) { h(/*U*/); rt::spawn(async move { { let _g = m.lock().unwrap(); h(/*H*/); } h(/*U*/); m.lock().unwrap().add(h(/*H*/)); h(/*U*/); }); h(/*U*/); }""",
    "poisoned lock recovered by match": """
        fn f(m: &Mutex<u8>) { let g = match m.lock() { Ok(g) => g, Err(e) => e.into_inner() }; h(/*H*/); }""",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_lock_held(name):
    src = CASES[name].encode()
    tree = parse("rust", src)
    facts = rust_facts.extract(tree.root_node, src, None)
    marks = [(m.start(), m.group(1)) for m in re.finditer(rb"/\*([HU])\*/", src)]
    assert marks
    for flow in facts.flows:
        lo, hi = flow.body
        for at, want in marks:
            if lo <= at < hi:
                got = lock_held(flow, at) is not None
                line = src[:at].decode()[-60:]
                assert got == (want == b"H"), f"{name}: at ...{line!r}: held={got}"


def test_rust_byte_offsets_are_machine_ints():
    # Line starts and each name's uses are arrays of offsets, not lists of int objects (one 32-byte
    # object per offset past 256 once unpickled: a tenth of a Rust file's facts, issue 16), and
    # read the same: the offsets of the name's occurrences, the lines they fall on.
    from array import array

    from lifelint.facts import extract_facts
    from lifelint.rust_checks import byte_span, line_of

    pad = "// " + "x" * 300 + "\n"
    src = (pad + "fn f(count: u32) -> u32 {\n    let twice = count + count;\n    twice\n}\n").encode()
    facts = extract_facts("t.rs", "rust", src, parse("rust", src))
    flow = facts.rust.flows[0]
    assert type(flow.uses["count"]) is array and type(facts.rust.extra["line_starts"]) is array
    assert list(flow.uses["count"]) == [m.start() for m in re.finditer(rb"\bcount\b", src)]
    assert flow.uses_in("twice", 0, len(src)) == [m.start() for m in re.finditer(rb"\btwice\b", src)]
    last = src.rindex(b"twice")
    assert line_of(facts, last) == 4 and byte_span(facts, last, 5) == (last, last + 5, 3, 4, 3, 9)
