"""Machine-readable JSON: one document, deterministically ordered, stable keys.

    {
      "version": "0.1.0",
      "root": "/abs/scan/root",
      "findings": [{"code", "name", "level", "message" (headline, why and fix), "headline", "why", "fix", "path", "line", "column",
                    "end_line", "end_column", "related": [{"path", "line", "column",
                    "end_line", "end_column", "message"}], "fingerprint"}],
      "diagnostics": [{"path", "kind", "message"}],
      "unused_suppressions": [{"path", "line", "column", "message"}],
      "summary": {"findings", "files_scanned", "files_with_findings", "lines_scanned",
                  "suppressed", "baselined", "diagnostics", "by_rule": {"LL108": 1}}
    }

Lines and columns are 1-based; columns count Unicode code points; `end_column` is the column
after the last character.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence, TextIO

import lifelint
from lifelint.model import Location, ScanResult
from lifelint.report import counts_by_rule, sorted_diagnostics, sorted_findings, sorted_unused


def _loc(loc: Location) -> dict:
    return {"path": loc.path, "line": loc.line, "column": loc.col, "end_line": loc.end_line, "end_column": loc.end_col}


def document(result: ScanResult) -> dict:
    findings = sorted_findings(result)
    return {
        "version": lifelint.__version__,
        "root": result.root,
        "findings": [
            {
                "code": f.code,
                "name": f.name,
                "level": f.level.value,
                "message": f.full_message,
                "headline": f.message,
                "why": f.why,
                "fix": f.fix,
                **_loc(f.location),
                "related": [{**_loc(loc), "message": msg} for loc, msg in f.related],
                "fingerprint": f.fingerprint,
            }
            for f in findings
        ],
        "diagnostics": [{"path": d.path, "kind": d.kind, "message": d.message} for d in sorted_diagnostics(result)],
        "unused_suppressions": [
            {"path": loc.path, "line": loc.line, "column": loc.col, "message": msg} for loc, msg in sorted_unused(result)
        ],
        "summary": {
            "findings": len(findings),
            "files_scanned": result.files_scanned,
            "files_with_findings": len({f.location.path for f in findings}),
            "lines_scanned": result.lines_scanned,
            "suppressed": result.suppressed,
            "baselined": result.baselined,
            "diagnostics": len(result.diagnostics),
            "by_rule": counts_by_rule(findings),
        },
    }


def render(result: ScanResult, rules: Sequence[type], stream: TextIO, *, color: bool = False,
           sources: Mapping[str, list[str]] | None = None) -> None:
    # ASCII-only: a file name that is not valid UTF-8 (a lone surrogate) cannot break the stream.
    json.dump(document(result), stream, indent=2, ensure_ascii=True)
    stream.write("\n")
