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


def _index_of(folder):
    from lifelint.discovery import discover
    from lifelint.engine import analyse_all
    from lifelint.index import ProjectIndex
    from lifelint.settings import Settings

    settings = Settings()
    disc = discover([str(folder)], folder, [], False)
    facts = [f for f, _ in analyse_all(disc.files, settings, 1) if f is not None]
    return ProjectIndex(facts, settings)


def locking_index_of(folder):
    """The lock index (lifelint.locking) of every source under `folder`, analysed in-process with
    default settings: for tests of its project-wide facts."""
    from lifelint.locking import locking_index

    return locking_index(_index_of(folder))


def models_of(folder):
    """The lock index and the thread model (lifelint.threads) of every source under `folder`, as
    `locking_index_of` builds them."""
    from lifelint.locking import locking_index
    from lifelint.threads import thread_model

    index = _index_of(folder)
    return locking_index(index), thread_model(index)


def function_labelled(li, label: str):
    """The one function of a lock index with this label (`Class::method`, `free_fn`)."""
    found = [f for f in li.functions if f.label == label]
    assert found, f"{label} not in {[f.label for f in li.functions]}"
    return found[0]
