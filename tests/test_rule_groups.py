"""Default-on is earned: a rule is in the default group only while the precision ledger's test
half (benchmarks/precision/, public code nobody here tuned on) says it is right often enough."""

from __future__ import annotations

import pytest

from lifelint.registry import all_rules, earns_default


@pytest.mark.parametrize("rule", [r for r in all_rules() if r.group == "default"], ids=lambda r: r.code)
def test_a_default_rule_has_earned_it(rule):
    ok, why = earns_default(rule.code)
    assert ok, f"{rule.code} is on by default but {why}: move it to the nursery until it earns the default group"

