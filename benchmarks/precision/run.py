#!/usr/bin/env python3
"""Run lifelint on the precision ledger's corpora and compare with the triage ledger. See README.md.

    python benchmarks/precision/run.py [--corpus NAME ...] [--half tune|test] [--out DIR] [-j N]
    python benchmarks/precision/run.py --from-json DIR [--half test]
    python benchmarks/precision/run.py --from-json DIR --half tune --sample 12 --seed 1 --sample-out FILE

lifelint is the one installed for the interpreter running this script (`python -m lifelint`),
run as `lifelint check --select ALL --format json --no-cache --exit-zero --root ROOT PATHS` on
each corpus. Each corpus's JSON is saved as OUT/NAME.json, with OUT/rules.json (the rule codes
that are on by default in that lifelint), so `--from-json` can re-read a run without re-running.

A finding matches a ledger entry of the same corpus and rule by lifelint's fingerprint (which
hashes the rule, the path and the text of the line, never the line number), or by path and line
when the entry has no fingerprint. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fetch import CORPORA_TOML, DEFAULT_CORPORA_DIR, FetchError, corpus_paths, load_corpora  # noqa: E402

HERE = Path(__file__).resolve().parent
LEDGER = HERE / "ledger.tsv"
COLUMNS = ["corpus", "half", "rule", "path", "line", "verdict", "reason", "fingerprint", "message"]
VERDICTS = ("TRUE", "FALSE", "UNCLEAR")
RULES_FILE = "rules.json"


def log(msg: str) -> None:
    print(f"[precision] {msg}", file=sys.stderr, flush=True)


# --- the ledger -------------------------------------------------------------------------------

def read_ledger(path: Path) -> list[dict]:
    """The ledger's rows; a later row for the same finding replaces an earlier one."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        return []
    head = lines[0].split("\t")
    missing = {"corpus", "half", "rule", "path", "line", "verdict"} - set(head)
    if missing:
        raise SystemExit(f"run.py: error: {path}: header lacks {', '.join(sorted(missing))}")
    rows = []
    for i, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        row = dict(zip(head, text.split("\t")))
        verdict = (row.get("verdict") or "").strip().upper()
        if verdict not in VERDICTS:
            raise SystemExit(f"run.py: error: {path}:{i}: verdict must be one of {'/'.join(VERDICTS)}, got {row.get('verdict')!r}")
        row["verdict"] = verdict
        try:
            row["line"] = int(row["line"])
        except ValueError:
            raise SystemExit(f"run.py: error: {path}:{i}: line must be a number, got {row['line']!r}")
        rows.append(row)
    return rows


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def write_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Plain tab-separated lines, no quoting: every value is made one line without tabs.
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join(_one_line(r.get(c, "")) for c in COLUMNS) + "\n")


class Ledger:
    def __init__(self, rows: list[dict]):
        self.by_fp: dict[tuple, dict] = {}
        self.by_line: dict[tuple, dict] = {}
        for r in rows:
            if r.get("fingerprint"):
                self.by_fp[(r["corpus"], r["rule"], r["fingerprint"])] = r
            else:
                self.by_line[(r["corpus"], r["rule"], r["path"], r["line"])] = r
        # The entries a lookup can return (a later row for the same finding replaces an earlier one).
        self.entries = [*self.by_fp.values(), *self.by_line.values()]

    def lookup(self, corpus: str, f: dict) -> dict | None:
        hit = self.by_fp.get((corpus, f["code"], f.get("fingerprint") or ""))
        return hit or self.by_line.get((corpus, f["code"], f["path"], f["line"]))


# --- running lifelint -------------------------------------------------------------------------

def default_on_codes(python: str) -> list[str]:
    """The rule codes that lifelint (as installed for `python`) enables without --select."""
    probe = ("import json; from lifelint.registry import catalog; "
             "print(json.dumps(sorted(r.code for r in catalog() if r.default_enabled)))")
    # Not from this checkout's folder: `-c` puts the cwd first on sys.path, which would import the
    # lifelint beside this script instead of the one installed for `python`.
    p = subprocess.run([python, "-c", probe], text=True, capture_output=True, cwd=tempfile.gettempdir())
    if p.returncode != 0:
        raise SystemExit(f"run.py: error: cannot list lifelint's rules with {python}:\n{p.stderr.strip()}")
    return json.loads(p.stdout)


def run_lifelint(python: str, corpus: dict, corpora_dir: Path, out: Path, jobs: int) -> dict:
    root, paths = corpus_paths(corpus, corpora_dir)
    dest = out / f"{corpus['name']}.json"
    cmd = [python, "-m", "lifelint", "check", "--select", "ALL", "--format", "json", "--no-cache", "--exit-zero",
           "--no-progress", "-j", str(jobs), "--root", str(root), "-o", str(dest), *map(str, paths)]
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=root, text=True, capture_output=True)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"run.py: error: lifelint failed on {corpus['name']} (exit {p.returncode}):\n{p.stderr.strip()[-2000:]}")
    doc = json.loads(dest.read_text(encoding="utf-8"))
    s = doc["summary"]
    log(f"{corpus['name']}: {s['findings']} finding(s), {s['files_scanned']} files, {s['lines_scanned']} lines, {took:.0f}s")
    return doc


# --- the comparison ---------------------------------------------------------------------------

def compare(corpora: list[dict], docs: dict[str, dict], ledger: Ledger, default_on: set[str]) -> dict:
    """Per (half, rule) counters and the per-corpus finding counts."""
    stats: dict[tuple[str, str], Counter] = defaultdict(Counter)
    per_corpus = {}
    seen: set[int] = set()
    for c in corpora:
        doc = docs[c["name"]]
        half = c["half"]
        per_corpus[c["name"]] = (half, len(doc["findings"]), sum(f["code"] in default_on for f in doc["findings"]))
        for f in doc["findings"]:
            st = stats[(half, f["code"])]
            st["reported"] += 1
            entry = ledger.lookup(c["name"], f)
            if entry is None:
                st["new"] += 1
            else:
                seen.add(id(entry))
                st[entry["verdict"]] += 1
    scanned = {c["name"] for c in corpora}
    for r in ledger.entries:
        if r["corpus"] in scanned and id(r) not in seen:
            stats[(r["half"], r["rule"])][f"{r['verdict']}_gone"] += 1
    return {"stats": stats, "per_corpus": per_corpus}


def precision(t: int, f: int) -> str:
    return f"{t / (t + f):.2f}" if t + f else "-"


HEAD = ["half", "rule", "default", "reported", "TRUE", "FALSE", "UNCLEAR", "TRUE gone", "FALSE gone", "new", "precision"]


def table_rows(result: dict, default_on: set[str], halves: list[str]) -> list[list[str]]:
    stats = result["stats"]
    rows = []
    for half in halves:
        codes = sorted({code for h, code in stats if h == half})
        totals = {"default-on": Counter(), "all": Counter()}
        for code in codes:
            st = stats[(half, code)]
            rows.append(_row(half, code, "yes" if code in default_on else "no", st))
            totals["all"].update(st)
            if code in default_on:
                totals["default-on"].update(st)
        for name, st in totals.items():
            rows.append(_row(half, f"[{name}]", "", st))
    return rows


def _row(half: str, rule: str, default: str, st: Counter) -> list[str]:
    return [half, rule, default, str(st["reported"]), str(st["TRUE"]), str(st["FALSE"]), str(st["UNCLEAR"]),
            str(st["TRUE_gone"]), str(st["FALSE_gone"]), str(st["new"]), precision(st["TRUE"], st["FALSE"])]


def print_report(result: dict, default_on: set[str], halves: list[str]) -> None:
    rows = [HEAD, *table_rows(result, default_on, halves)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEAD))]
    print("Per rule and half (TRUE/FALSE/UNCLEAR: triaged and still reported; gone: triaged, no longer reported;")
    print("new: never triaged; precision = TRUE / (TRUE + FALSE) of what is still reported and triaged)\n")
    for r in rows:
        print("  ".join(v.rjust(w) if i >= 3 else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths))).rstrip())
    print()
    for half in halves:
        st = Counter()
        for (h, code), c in result["stats"].items():
            if h == half and code in default_on:
                st.update(c)
        print(f"default-on precision, {half} half: {precision(st['TRUE'], st['FALSE'])} "
              f"({st['TRUE']} TRUE, {st['FALSE']} FALSE, {st['UNCLEAR']} UNCLEAR, {st['new']} untriaged of {st['reported']})")
    print("\nFindings per corpus (all rules / default-on rules):")
    for name, (half, n, n_default) in result["per_corpus"].items():
        print(f"  {name:24} {half:5} {n:7} {n_default:7}")


def write_measured(dest: Path, result: dict, label: str) -> None:
    """Per rule and half: reported, TRUE, FALSE, UNCLEAR, untriaged, as a Python literal the rule
    docs render ("Measured precision") and tests/test_rule_groups.py holds the groups to."""
    figures: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for (half, code), st in sorted(result["stats"].items()):
        figures[code][half] = {"reported": st["reported"], "TRUE": st["TRUE"], "FALSE": st["FALSE"],
                               "UNCLEAR": st["UNCLEAR"], "untriaged": st["new"]}
    body = json.dumps(figures, indent=4, sort_keys=True)
    dest.write_text(
        '"""Measured precision of each rule on the precision ledger (benchmarks/precision/): written by\n'
        '`benchmarks/precision/run.py --measured-out`, never by hand."""\n\n'
        f"MEASURED_WITH = {label!r}\n\n"
        f"MEASURED: dict[str, dict[str, dict[str, int]]] = {body}\n", encoding="utf-8")


# --- the triage sample ------------------------------------------------------------------------

def sample_rows(corpora: list[dict], docs: dict[str, dict], ledger: Ledger, n: int, seed: int) -> list[dict]:
    """At most `n` never-triaged findings per (rule, corpus), drawn deterministically from `seed`."""
    rows = []
    for c in corpora:
        groups: dict[str, list[dict]] = defaultdict(list)
        for f in docs[c["name"]]["findings"]:
            if ledger.lookup(c["name"], f) is None:
                groups[f["code"]].append(f)
        for code in sorted(groups):
            found = sorted(groups[code], key=lambda f: (f["path"], f["line"], f.get("column", 0), f.get("fingerprint", "")))
            if len(found) > n:
                found = sorted(random.Random(f"{seed}:{c['name']}:{code}").sample(found, n),
                               key=lambda f: (f["path"], f["line"], f.get("column", 0)))
            for f in found:
                rows.append({"corpus": c["name"], "half": c["half"], "rule": code, "path": f["path"], "line": f["line"],
                             "verdict": "", "reason": "", "fingerprint": f.get("fingerprint", ""), "message": f["message"]})
    return rows


# --- main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", default=[], help="only this corpus (repeatable)")
    ap.add_argument("--half", choices=("tune", "test"), help="only the corpora of this half")
    ap.add_argument("--corpora-toml", type=Path, default=CORPORA_TOML, help=argparse.SUPPRESS)
    ap.add_argument("--corpora-dir", type=Path, default=DEFAULT_CORPORA_DIR, help=f"where fetch.py put the corpora (default {DEFAULT_CORPORA_DIR})")
    ap.add_argument("--ledger", type=Path, default=LEDGER, help="the triage ledger (default: ledger.tsv next to this script)")
    ap.add_argument("--out", type=Path, help="write each corpus's JSON here (default: a new folder under /tmp)")
    ap.add_argument("--from-json", type=Path, metavar="DIR", help="re-read the JSON saved by an earlier run instead of running lifelint")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="lifelint worker processes (default 2)")
    ap.add_argument("--python", default=sys.executable, help="interpreter whose lifelint is run (default: this one)")
    ap.add_argument("--sample", type=int, metavar="N", help="write at most N untriaged findings per (rule, corpus) to --sample-out")
    ap.add_argument("--seed", type=int, default=1, help="seed of --sample (default 1)")
    ap.add_argument("--sample-out", type=Path, help="the sample TSV (default: OUT/sample.tsv)")
    ap.add_argument("--measured-out", type=Path, metavar="FILE",
                    help="write the per-rule figures as the Python module the rule docs and the group test read (rules/_measured.py)")
    ap.add_argument("--measured-label", default="", help="what was measured, for --measured-out (e.g. 'lifelint 1a2b3c4, 2026-12-07')")
    args = ap.parse_args(argv)

    try:
        corpora = load_corpora(args.corpora_toml)
    except FetchError as e:
        raise SystemExit(f"run.py: error: {e}")
    unknown = set(args.corpus) - {c["name"] for c in corpora}
    if unknown:
        raise SystemExit(f"run.py: error: unknown corpus: {', '.join(sorted(unknown))}")
    corpora = [c for c in corpora if (not args.corpus or c["name"] in args.corpus) and (not args.half or c["half"] == args.half)]
    ledger = Ledger(read_ledger(args.ledger))

    docs: dict[str, dict] = {}
    if args.from_json:
        out = args.from_json
        try:
            default_on = set(json.loads((out / RULES_FILE).read_text())["default_on"])
        except FileNotFoundError as e:
            raise SystemExit(f"run.py: error: {e.filename} is missing (run without --from-json first)")
        for c in corpora:
            saved = out / f"{c['name']}.json"
            if saved.is_file():
                docs[c["name"]] = json.loads(saved.read_text(encoding="utf-8"))
            else:
                log(f"SKIPPED {c['name']}: no {saved}")
    else:
        if args.out:
            out = args.out
        else:
            out = Path(tempfile.mkdtemp(prefix="lifelint-precision-"))
        out.mkdir(parents=True, exist_ok=True)
        default_on = set(default_on_codes(args.python))
        (out / RULES_FILE).write_text(json.dumps({"default_on": sorted(default_on)}, indent=2) + "\n")
        t0 = time.monotonic()
        for c in corpora:
            try:
                docs[c["name"]] = run_lifelint(args.python, c, args.corpora_dir, out, args.jobs)
            except FetchError as e:
                log(f"SKIPPED {e}")
        log(f"{len(docs)} corpora in {time.monotonic() - t0:.0f}s; JSON in {out}")
    # A corpus that is not there is said, never silently left out of the figures.
    missing = [c["name"] for c in corpora if c["name"] not in docs]
    corpora = [c for c in corpora if c["name"] in docs]

    halves = [h for h in ("tune", "test") if any(c["half"] == h for c in corpora)]
    result = compare(corpora, docs, ledger, default_on)
    print_report(result, default_on, halves)
    if args.measured_out:
        write_measured(args.measured_out, result, args.measured_label)
        print(f"\nmeasured figures written to {args.measured_out}")
    if args.sample is not None:
        rows = sample_rows(corpora, docs, ledger, args.sample, args.seed)
        dest = args.sample_out or out / "sample.tsv"
        write_rows(dest, rows)
        print(f"\nsample: {len(rows)} untriaged finding(s) written to {dest}")
    if missing:
        print(f"\nNOT INCLUDED (not fetched or no saved JSON): {', '.join(missing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
