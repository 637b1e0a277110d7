"""Baselines: a JSON file of accepted findings, so a legacy repository can adopt lifelint and
fail only on new ones. Entries are keyed by rule, path and the line-shift-proof fingerprint
(fingerprint.finding_fingerprint), never by line number: edits elsewhere in a file keep them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lifelint.config import ConfigError
from lifelint.model import ReportedFinding

FORMAT = "lifelint-baseline/1"


@dataclass(frozen=True, slots=True)
class Entry:
    code: str
    path: str
    fingerprint: str


def key(f: ReportedFinding) -> Entry:
    return Entry(f.code, f.location.path, f.fingerprint)


def load(path: str) -> set[Entry]:
    """The accepted findings in `path`; a missing or malformed file is a usage error."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: baseline file not found (create it with --write-baseline)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a lifelint baseline: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("findings"), list):
        raise ConfigError(f"{path}: not a lifelint baseline (expected \"format\": \"{FORMAT}\" and a \"findings\" list)")
    out = set()
    for item in doc["findings"]:
        try:
            out.add(Entry(str(item["code"]), str(item["path"]), str(item["fingerprint"])))
        except (KeyError, TypeError):
            raise ConfigError(f"{path}: baseline entry {item!r} lacks code, path or fingerprint") from None
    return out


def write(path: str, findings: list[ReportedFinding]) -> int:
    """Write every finding as accepted; sorted, one per line, so the file diffs well."""
    entries = sorted(
        ({"code": f.code, "path": f.location.path, "fingerprint": f.fingerprint, "message": f.full_message}
         for f in findings), key=lambda e: (e["path"], e["code"], e["fingerprint"]))
    body = ",\n".join("    " + json.dumps(e, ensure_ascii=False, sort_keys=True) for e in entries)
    text = '{\n  "format": "%s",\n  "findings": [\n%s\n  ]\n}\n' % (FORMAT, body) if entries else \
        '{\n  "format": "%s",\n  "findings": []\n}\n' % FORMAT
    Path(path).write_text(text, encoding="utf-8")
    return len(entries)


def apply(findings: list[ReportedFinding], accepted: set[Entry]) -> tuple[list[ReportedFinding], int, int]:
    """(new findings, how many the baseline hid, how many baseline entries matched nothing)."""
    kept = [f for f in findings if key(f) not in accepted]
    seen = {key(f) for f in findings}
    return kept, len(findings) - len(kept), len(accepted - seen)


def split(findings: list[ReportedFinding], accepted: set[Entry]) -> tuple[list[ReportedFinding], list[ReportedFinding], int]:
    """(new findings, the findings the baseline accepts, how many entries matched nothing)."""
    kept = [f for f in findings if key(f) not in accepted]
    hidden = [f for f in findings if key(f) in accepted]
    seen = {key(f) for f in findings}
    return kept, hidden, len(accepted - seen)
