"""Put each rule in the group its measured precision earns (issue 11: default-on is earned).

Reads the figures `run.py --measured-out` wrote to `lifelint.rules._measured` and, for every rule
now in the default or nursery group, decides: default when the test half shows precision >= 0.8
over >= 10 triaged findings, or no FALSE over fewer; nursery otherwise. A rule the ledger has never
seen fire (no figures at all) keeps its group: a new rule waits in the nursery until measured, an
old one is not demoted on no evidence; a nursery rule is promoted only once triaged test-half
findings back it. Restriction rules are left alone.

    python benchmarks/precision/regroup.py           # print what would change
    python benchmarks/precision/regroup.py --apply   # rewrite the catalog, the rule classes, the README table

Run it with the lifelint checkout's interpreter, from the checkout.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def decide() -> list[tuple[str, str, str, str]]:
    """(code, current group, earned group, why) for every rule."""
    sys.path.insert(0, str(ROOT))
    from lifelint.registry import all_rules, earns_default, measured

    out = []
    for r in all_rules():
        if r.group == "restriction" or not measured(r.code):
            out.append((r.code, r.group, r.group, "no figures" if r.group != "restriction" else "restriction"))
            continue
        ok, why = earns_default(r.code)
        test = measured(r.code).get("test", {})
        if ok and r.group == "nursery" and test.get("TRUE", 0) + test.get("FALSE", 0) == 0:
            # Promotion needs triaged test-half findings: silence on the test half is not a measurement.
            out.append((r.code, r.group, r.group, f"{why}; not measured on the test half yet"))
            continue
        out.append((r.code, r.group, "default" if ok else "nursery", why))
    return out


def apply(changes: list[tuple[str, str, str, str]]) -> None:
    catalog = ROOT / "rules" / "__init__.py"
    readme = ROOT / "README.md"
    cat, doc = catalog.read_text(), readme.read_text()
    for code, old, new, why in changes:
        cat = re.sub(rf'(\("{code}", "[a-z0-9-]+", )"{old}"\)', rf'\1"{new}")', cat)
        doc = re.sub(rf"^(\| {code} \| [a-z0-9-]+ \| [^|]+ \| ){old} \|", rf"\1{new} |", doc, flags=re.M)
        module = next((ROOT / "rules").glob(f"{code.lower()}_*.py"))
        src = module.read_text()
        if re.search(r"^    group = ", src, re.M):
            src = re.sub(r'^    group = "\w+".*$', f'    group = "{new}"  # measured: {why}', src, count=1, flags=re.M)
        else:
            src = re.sub(r'^(    name = "[a-z0-9-]+"\n)', rf'\1    group = "{new}"  # measured: {why}\n', src, count=1, flags=re.M)
        module.write_text(src)
    catalog.write_text(cat)
    readme.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--apply", action="store_true", help="rewrite the catalog, the rule classes and the README table")
    args = ap.parse_args(argv)
    rows = decide()
    changes = [r for r in rows if r[1] != r[2]]
    for code, old, new, why in rows:
        print(f"{code}  {old:11} -> {new:11} {why}")
    if args.apply and changes:
        apply(changes)
        print(f"\n{len(changes)} rule(s) moved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
