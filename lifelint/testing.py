"""Inline fixture expectations, the vocabulary every fixture uses (also usable by rule packs):

    code();  // expect: LL101            this line must get exactly these findings
    code();  // expect: LL101, LL102     several codes
    code();  // ok: LL101                documents an intentional negative (silence is checked anyway)
    code();  // todo-expect: LL101       a known miss: tested as a strict expected failure
    code();  // todo-ok: LL101           a known false alarm: tested as a strict expected failure
    // lifelint-test: select=LL101,LL2   (anywhere) run only these rules on this fixture

Every line without `expect` must get no finding at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MARK = re.compile(r"//\s*(expect|ok|todo-expect|todo-ok)\s*:\s*((?:LL\d{3}\s*,?\s*)+)")
_HEADER = re.compile(r"//\s*lifelint-test:\s*(.*)$")


@dataclass(slots=True)
class Expectations:
    expect: set[tuple[int, str]] = field(default_factory=set)  # (1-based line, code)
    ok: set[tuple[int, str]] = field(default_factory=set)
    todo_expect: set[tuple[int, str]] = field(default_factory=set)
    todo_ok: set[tuple[int, str]] = field(default_factory=set)
    select: list[str] | None = None


def parse_expectations(source: str) -> Expectations:
    exp = Expectations()
    for lineno, line in enumerate(source.splitlines(), start=1):
        h = _HEADER.search(line)
        if h:
            for item in h.group(1).split():
                key, _, value = item.partition("=")
                if key == "select":
                    exp.select = [v for v in value.split(",") if v]
        for m in _MARK.finditer(line):
            kind = m.group(1)
            codes = re.findall(r"LL\d{3}", m.group(2))
            target = {"expect": exp.expect, "ok": exp.ok, "todo-expect": exp.todo_expect, "todo-ok": exp.todo_ok}[kind]
            target.update((lineno, c) for c in codes)
    return exp
