"""The rule base class and the registry that finds every rule module.

A rule is one module in `lifelint.rules` (the top-level `rules/` folder, shipped inside the
wheel) holding one `Rule` subclass. The module docstring is the rule's documentation, in the
sections What it does / Why is this bad? / Example / Use instead / Known limits.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
import re
from typing import TYPE_CHECKING, ClassVar, Iterator, NamedTuple

from lifelint.model import Finding, Level, Precision, Related, Span

if TYPE_CHECKING:
    from lifelint.facts import FileFacts
    from lifelint.index import ProjectIndex

GROUPS = ("default", "nursery", "restriction")
DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Known limits")


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]  # kebab-case, reads well as "allow <name>"
    languages: ClassVar[tuple[str, ...]]  # subset of ("cpp", "rust")
    level: ClassVar[Level] = Level.WARNING
    precision: ClassVar[Precision] = Precision.HIGH
    summary: ClassVar[str]  # one sentence: README table, SARIF shortDescription
    tags: ClassVar[tuple[str, ...]] = ()
    seeds: ClassVar[tuple[str, ...]] = ()  # shared/seeds documents that motivate the rule
    # "default": on unless deselected; "nursery": a hazard rule still earning default-on (its
    # precision on the ledger's test half is below 0.8 or not yet measured); "restriction": flags
    # a style of code rather than a hazard, like clippy's restriction lints. The last two run
    # only when selected (by code, prefix, name, group name or ALL).
    group: ClassVar[str] = "default"
    default_enabled: ClassVar[bool] = True  # derived from `group`
    # May a finding from checking one file lie in, or point at (related locations), another file?
    # When only some files are reported (`check FILE` with the repository as context), a rule
    # that says no runs only on the reported files: its findings in a context file could not
    # concern them. True unless a rule says otherwise (tests/test_report_only.py holds them to it).
    cross_file: ClassVar[bool] = True

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "group" not in cls.__dict__ and cls.__dict__.get("default_enabled") is False:
            cls.group = "nursery"  # a rule that only says it is off by default is still earning its place
        if cls.group not in GROUPS:
            raise RuntimeError(f"{cls.__name__}: unknown group {cls.group!r} (one of {', '.join(GROUPS)})")
        cls.default_enabled = cls.group == "default"

    def __init__(self, settings=None):
        # lifelint.config.Settings: per-language knobs (extra sinks, lock types, ...)
        self.settings = settings

    def check(self, facts: "FileFacts", index: "ProjectIndex") -> Iterator[Finding]:
        raise NotImplementedError

    # Helpers so rules read as one line per finding.
    def finding(self, span: Span, message: str, related: tuple[Related, ...] | list[Related] = (), *,
                why: str = "", fix: str = "") -> Finding:
        """`message`: the headline (one sentence: what and where), with `why` and `fix` given; or
        one text that model.split_message splits (last sentence the fix, first the headline)."""
        return Finding(self.code, message, span, tuple(related), why=why, fix=fix)

    @classmethod
    def doc(cls) -> str:
        """The module docstring, with the measured precision appended (from the ledger's data)."""
        return inspect.cleandoc(inspect.getmodule(cls).__doc__ or "") + "\n\n## Measured precision\n" + measured_text(cls.code, cls.group)

    @classmethod
    def doc_sections(cls) -> dict[str, str]:
        """The doc split at its `## ` headings."""
        out: dict[str, str] = {}
        current = None
        for line in cls.doc().splitlines():
            m = re.match(r"^##\s+(.*?)\s*$", line)
            if m:
                current = m.group(1)
                out[current] = ""
            elif current:
                out[current] += line + "\n"
        return {k: v.strip() for k, v in out.items()}

    @classmethod
    def help_uri(cls) -> str:
        from lifelint import HOMEPAGE

        return f"{HOMEPAGE}/blob/main/rules/{cls.__module__.rsplit('.', 1)[-1]}.py"


# --- measured precision (benchmarks/precision/, written into lifelint.rules._measured) -------------

DEFAULT_BAR = 0.8  # test-half precision a rule needs to be on by default ...
DEFAULT_MIN_TRIAGED = 10  # ... over at least this many triaged findings (or no FALSE over fewer)


def measured(code: str) -> dict[str, dict[str, int]]:
    """{"test": {"reported", "TRUE", "FALSE", "UNCLEAR", "untriaged"}, "tune": {...}} for a rule."""
    from lifelint.rules._measured import MEASURED

    return MEASURED.get(code, {})


def earns_default(code: str) -> tuple[bool, str]:
    """Whether the rule's figures earn the default group, and why (issue 11's bar): precision >=
    0.8 over >= 10 triaged test-half findings, or no FALSE over fewer. With fewer than 10 on the
    test half, the tune half (the same rule on other code, still reported after the fixes made
    there) must not contradict it: it needs the same bar there."""
    def bar(half: str) -> tuple[bool, str]:
        h = measured(code).get(half, {})
        true, false = h.get("TRUE", 0), h.get("FALSE", 0)
        if true + false >= DEFAULT_MIN_TRIAGED:
            p = true / (true + false)
            return p >= DEFAULT_BAR, f"precision {p:.2f} over {true + false} triaged {half}-half findings"
        return false == 0, f"{true} TRUE and {false} FALSE of {true + false} triaged {half}-half findings (fewer than {DEFAULT_MIN_TRIAGED})"
    ok, why = bar("test")
    h = measured(code).get("test", {})
    if ok and h.get("TRUE", 0) + h.get("FALSE", 0) < DEFAULT_MIN_TRIAGED:
        ok_tune, why_tune = bar("tune")
        if not ok_tune:
            return False, f"{why}, but {why_tune}"
    return ok, why


def measured_text(code: str, group: str) -> str:
    from lifelint.rules._measured import MEASURED_WITH

    m = measured(code)

    def half(name: str) -> str:
        h = m.get(name)
        if not h or not h["reported"]:
            return f"no finding on the {name} half"
        tf = h["TRUE"] + h["FALSE"]
        p = f"precision {h['TRUE'] / tf:.2f}" if tf else "precision not measured"
        return (f"{h['reported']} findings on the {name} half; of those triaged, {h['TRUE']} TRUE, {h['FALSE']} FALSE, "
                f"{h['UNCLEAR']} UNCLEAR ({p}); {h['untriaged']} not triaged")
    ok, why = earns_default(code)
    verdict = (f"Group: **{group}**. " + ("It earns the default group: " if ok else "It does not earn the default group yet: ")
               + why + f" (the bar: {DEFAULT_BAR} over at least {DEFAULT_MIN_TRIAGED}, or no FALSE over fewer).")
    return (f"On the precision ledger's corpora (`benchmarks/precision/`: public code nobody here tuned on; "
            f"measured with {MEASURED_WITH}): {half('test')}; {half('tune')}. {verdict}\n")


@functools.cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule class shipped in lifelint.rules, sorted by code."""
    import lifelint.rules as pkg

    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
        for obj in vars(mod).values():
            if inspect.isclass(obj) and issubclass(obj, Rule) and obj is not Rule and obj.__module__ == mod.__name__:
                if obj.code in found:
                    raise RuntimeError(f"rule code {obj.code} is declared twice ({found[obj.code].__module__}, {mod.__name__})")
                found[obj.code] = obj
    rules = tuple(found[c] for c in sorted(found))
    table = [(r.code, r.name, r.group) for r in rules]
    if table != list(pkg.CATALOG):
        raise RuntimeError("lifelint.rules.CATALOG (rows of code, name, group: 'default', 'nursery' or 'restriction') "
                           f"does not match the rule classes: it says {list(pkg.CATALOG)}, the classes say {table}")
    return rules


class RuleInfo(NamedTuple):
    code: str
    name: str
    group: str

    @property
    def default_enabled(self) -> bool:
        return self.group == "default"


def catalog() -> tuple[RuleInfo, ...]:
    """Code, name and default of every rule, without importing the rule modules."""
    import lifelint.rules as pkg

    return tuple(RuleInfo(*row) for row in pkg.CATALOG)


def rule_by_code(code: str) -> type[Rule] | None:
    code = code.upper()
    for r in all_rules():
        if r.code == code:
            return r
    for r in all_rules():
        if r.name == code.lower():
            return r
    return None
