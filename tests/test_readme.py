"""The README stays true: its rule table lists exactly the shipped rules, and its test command
is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from lifelint.registry import all_rules

ROOT = Path(__file__).resolve().parent.parent


def test_rule_table_matches_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (LL\d{3}) \| ([a-z0-9-]+) \| ([^|]+) \| ([a-z]+) \|", readme, re.MULTILINE)
    assert [(c, n, g) for c, n, _, g in rows] == [(r.code, r.name, r.group) for r in all_rules()]
    for (code, _, langs, _), rule in zip(rows, all_rules()):
        shown = {x.strip() for x in langs.split(",")}
        assert shown == {"C++" if lang == "cpp" else "Rust" for lang in rule.languages}, code


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.DOTALL)
    test_cmd = next(b for b in blocks if "pytest" in b).strip()
    assert test_cmd in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
