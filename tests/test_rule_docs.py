"""Every rule is documented the same way and declares the metadata reporters need."""

from __future__ import annotations

import re

import pytest

from lifelint.model import Level, Precision
from lifelint.registry import DOC_SECTIONS, all_rules, rule_by_code


def test_rules_are_found():
    codes = [r.code for r in all_rules()]
    assert "LL108" in codes
    assert codes == sorted(codes)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_metadata(rule):
    assert re.fullmatch(r"LL\d{3}", rule.code)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rule.name)
    assert rule.languages and set(rule.languages) <= {"cpp", "rust"}
    assert isinstance(rule.level, Level) and isinstance(rule.precision, Precision)
    assert rule.summary.endswith(".") and len(rule.summary) < 200
    assert rule_by_code(rule.code) is rule and rule_by_code(rule.name) is rule
    module = rule.__module__.rsplit(".", 1)[-1]
    assert module.startswith(rule.code.lower() + "_"), f"module {module} should be named {rule.code.lower()}_<name>"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_doc_sections(rule):
    sections = rule.doc_sections()
    for name in DOC_SECTIONS:
        assert sections.get(name), f"{rule.code} doc lacks a non-empty '## {name}' section"
    why = sections["Why is this bad?"]
    assert re.search(r"seed \d{3}", why), f"{rule.code}: 'Why is this bad?' should cite its seed document"


def test_catalog_matches_the_rule_classes():
    from lifelint.registry import catalog

    assert [(c.code, c.name, c.default_enabled) for c in catalog()] == [(r.code, r.name, r.default_enabled) for r in all_rules()]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_rule_doc_says_its_measured_precision(rule):
    """`lifelint rule CODE` ends with the figures of the precision ledger and the group they earn."""
    section = rule.doc_sections().get("Measured precision", "")
    assert "test half" in section and f"Group: **{rule.group}**" in section


def test_the_default_bar(monkeypatch):
    import lifelint.rules._measured as m
    from lifelint.registry import earns_default

    def fig(t, f):
        return {"test": {"reported": t + f, "TRUE": t, "FALSE": f, "UNCLEAR": 0, "untriaged": 0}}

    few_but_tune_says_no = {**fig(2, 0), "tune": fig(0, 9)["test"]}
    monkeypatch.setattr(m, "MEASURED", {"LL901": fig(8, 2), "LL902": fig(7, 3), "LL903": fig(3, 0), "LL904": fig(3, 1),
                                        "LL905": fig(0, 0), "LL906": few_but_tune_says_no})
    assert earns_default("LL901")[0] and not earns_default("LL902")[0]  # 0.8 over 10 earns it, 0.7 does not
    assert earns_default("LL903")[0] and not earns_default("LL904")[0]  # fewer than 10: no FALSE at all
    assert earns_default("LL905")[0] and earns_default("LL999")[0]  # nothing reported: nothing false
    assert not earns_default("LL906")[0]  # too few on the test half, and the tune half contradicts it
