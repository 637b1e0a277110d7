"""What a declaration or definition says about the locks its caller holds
(lifelint.facts.cpp_lock_notes): the phrasings that count, and the ones that must not."""

from __future__ import annotations

import pytest

from lifelint.discovery import SourcePath
from lifelint.engine import analyse_text
from lifelint.facts.cpp_lock_notes import ONE_LOCK
from lifelint.settings import Settings


def _notes(code: str) -> dict:
    facts, _ = analyse_text(SourcePath("t.cpp", "t.cpp", "cpp"), code.encode(), Settings())
    return facts.cpp.extra.get("caller_locks") or {"fn": {}, "decl": []}


def _said_on_decl(comment: str) -> list[str]:
    notes = _notes(f"class C {{\n  {comment}\n  void f();\n  int mu_;\n}};\n")
    return [name for cls, meth, name, how in notes["decl"] if (cls, meth) == ("C", "f")]


@pytest.mark.parametrize("comment,name", [
    ("// Called with mu_ held.", "mu_"),
    ("// caller must hold `mu_`", "mu_"),
    ("// Requires mu_ to be locked.", "mu_"),
    ("// mu_ must be held by the caller.", "mu_"),
    ("/** This method must be invoked under mu_. **/", "mu_"),
    ("// Assumes the lock is held.", ONE_LOCK),
    ("// The caller holds the mutex.", ONE_LOCK),
])
def test_phrasings_that_name_the_callers_lock(comment, name):
    assert name in _said_on_decl(comment)


@pytest.mark.parametrize("comment", [
    "// Takes mu_ itself.",
    "// Holds a reference to the buffer.",
    "// Locks mu_ and returns.",
    "// Thread-safe.",
])
def test_phrasings_that_do_not(comment):
    assert _said_on_decl(comment) == []


def test_annotation_on_a_declaration_and_a_comment_on_a_definition():
    code = ("#define REQUIRES(x)\n"
            "class C {\n  void f() REQUIRES(mu_);\n  void g();\n  int mu_;\n};\n"
            "// called with mu_ held\n"
            "void C::g() {}\n")
    notes = _notes(code)
    assert ("C", "f", "mu_", "annotation") in notes["decl"]
    assert [items for items in notes["fn"].values()] == [[("mu_", "comment")]]


def test_a_comment_far_from_any_declaration_says_nothing():
    code = "// called with mu_ held\n\n\n\nint x = 0;\nvoid f() {}\n"
    assert _notes(code) == {"fn": {}, "decl": []}
