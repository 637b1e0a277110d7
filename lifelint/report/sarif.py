"""SARIF 2.1.0 as GitHub code scanning consumes it.

- `tool.driver.rules[]`: every enabled rule, in code order, with descriptions and help from the
  rule's documentation; `ruleIndex` points into it.
- Locations are relative URIs (forward slashes, percent-encoded) against `%SRCROOT%`, which
  `originalUriBaseIds` maps to the scan root; a file outside the root gets an absolute `file:`
  URI with no base id. Columns are Unicode code points (`columnKind`), 1-based, `endColumn`
  after the last character.
- `partialFingerprints`: GitHub's `primaryLocationLineHash` (computed the codeql-action way) and
  lifelint's own line-shift-stable `lifelint/v1`.
- `codeFlows[0].threadFlows[0].locations`: a finding with related locations is also a path
  through its steps in order (lock taken, view made, lock released, use), which GitHub shows.
- `fullDescription`: the rule's "What it does", whole sentences only (a list is folded in).
- Results an inline suppression, the baseline or `--diff-base` hid are emitted too, with
  `suppressions` (`inSource` / `external`, `status: accepted`, the justification).
- File diagnostics are `invocations[0].toolExecutionNotifications`.

The output passes the OASIS schema and the SARIF Multitool's `validate --rule-kind "Gh;Sarif"`
with no errors or warnings (tests/test_sarif.py).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence, TextIO
from urllib.parse import quote

import lifelint
from lifelint.model import FileDiagnostic, Level, Location, ReportedFinding, ScanResult
from lifelint.report import SourceCache, rule_list, sorted_diagnostics, sorted_findings, sorted_unused

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
MAX_DESCRIPTION = 1024

PROBLEM_SEVERITY = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "recommendation"}
DIAGNOSTIC_LEVEL = {"internal": "error", "missing": "error", "unreadable": "error"}  # others: warning


def sentence(text: str) -> str:
    """Messages and descriptions end with a period (SARIF2001), whatever the rule wrote."""
    text = " ".join(text.split()) if "\n" in text else text.strip()
    if not text:
        return text
    return text if text[-1] in ".!?" else text + "."


def truncate(text: str, limit: int = MAX_DESCRIPTION) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def first_paragraph(markdown: str) -> str:
    for para in re.split(r"\n\s*\n", markdown.strip()):
        if para.strip() and not para.lstrip().startswith("```"):
            return " ".join(para.split())
    return ""


_BULLET = re.compile(r"^\s*(?:[-*]|\d+[.)])\s+", re.M)


def full_description(section: str, limit: int = MAX_DESCRIPTION) -> str:
    """A rule's "What it does" as plain text, whole sentences only: paragraphs are taken until
    the text ends a sentence (a paragraph ending in `:` or `when` is followed by its list, whose
    items join with `; `), then cut at the last sentence end that fits `limit`."""
    text = ""
    for para in re.split(r"\n\s*\n", section.strip()):
        if para.lstrip().startswith("```"):
            break
        if _BULLET.match(para):
            items = [" ".join(i.split()).rstrip(" ,;.") for i in _BULLET.split(para) if i.strip()]
            chunk = "; ".join(items) + "."
        else:
            chunk = " ".join(para.split())
        text = f"{text} {chunk}".strip()
        if text[-1:] in ".!?" and len(text) >= 80:
            break
    text = text.replace(":.", ".")
    if len(text) <= limit:
        return sentence(text)
    cut = text[:limit]
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    if end > 0:
        return cut[:end + 1]
    end = cut.rfind("; ")
    return sentence(cut[:end] if end > 0 else truncate(text, limit - 1))


def artifact_location(path: str, root: str) -> dict:
    """Relative paths stay relative (against %SRCROOT%); paths outside the root become
    absolute `file:` URIs, never paired with a base id."""
    posix = path.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if os.path.isabs(path) or (parts and parts[0] == ".."):
        absolute = Path(root, path).resolve()
        return {"uri": "file://" + quote(os.fsencode(absolute.as_posix()), safe="/")}
    rel = posix[2:] if posix.startswith("./") else posix
    return {"uri": quote(os.fsencode(rel), safe="/"), "uriBaseId": SRCROOT}


def root_uri(root: str) -> str:
    posix = Path(root).absolute().as_posix()
    if not posix.endswith("/"):
        posix += "/"
    return "file://" + quote(os.fsencode(posix), safe="/")


def region(loc: Location) -> dict:
    start_line = max(1, loc.line)
    start_col = max(1, loc.col)
    end_line = max(start_line, loc.end_line)
    end_col = max(1, loc.end_col)
    if end_line == start_line and end_col <= start_col:
        end_col = start_col + 1
    return {"startLine": start_line, "startColumn": start_col, "endLine": end_line, "endColumn": end_col}


def physical_location(loc: Location, root: str, cache: SourceCache | None = None) -> dict:
    """With the source at hand, the region carries its text (`snippet`) and a `contextRegion`
    of whole lines around it, so viewers can show code without a checkout."""
    reg = region(loc)
    phys: dict = {"artifactLocation": artifact_location(loc.path, root), "region": reg}
    lines = cache.lines(loc.path) if cache is not None else None
    if lines and reg["endLine"] <= len(lines):
        first, last = reg["startLine"], reg["endLine"]
        picked = lines[first - 1:last]
        picked[-1] = picked[-1][: reg["endColumn"] - 1]
        picked[0] = picked[0][reg["startColumn"] - 1:]
        if len(lines[last - 1]) >= reg["endColumn"] - 1 and "".join(picked):
            reg["snippet"] = {"text": "\n".join(picked)}
            c_first, c_last = max(1, first - 1), min(len(lines), last + 1)
            context = "\n".join(lines[c_first - 1:c_last])
            if context != reg["snippet"]["text"]:
                phys["contextRegion"] = {"startLine": c_first, "endLine": c_last, "snippet": {"text": context}}
    return phys


def rule_descriptor(rule) -> dict:
    sections = rule.doc_sections()
    summary = sentence(rule.summary)
    full = full_description(sections.get("What it does", "")) or summary
    doc = rule.doc().strip() or summary
    title = f"{rule.code} {rule.name}"
    tags = list(dict.fromkeys(rule.tags))
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": truncate(summary)},
        "fullDescription": {"text": full},
        "help": {
            "text": f"{title}: {summary}\n\n{doc}\n",
            "markdown": f"# {title}\n\n{summary}\n\n{doc}\n",
        },
        "helpUri": rule.help_uri(),
        "defaultConfiguration": {"level": Level(rule.level).value},
        "properties": {
            "tags": tags,
            "precision": getattr(rule.precision, "value", str(rule.precision)),
            "problem.severity": PROBLEM_SEVERITY[Level(rule.level)],
        },
    }


def placeholder_descriptor(code: str, name: str) -> dict:
    """A finding whose rule class is unknown (a plugin gone missing) still gets a rules[] entry."""
    text = sentence(f"{code} {name}" if name else code)
    return {
        "id": code,
        **({"name": name} if name else {}),
        "shortDescription": {"text": text},
        "fullDescription": {"text": text},
        "help": {"text": text, "markdown": text},
        "helpUri": lifelint.HOMEPAGE,
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": [], "precision": "medium", "problem.severity": "warning"},
    }


def result_object(f: ReportedFinding, index: dict[str, int], root: str, cache: SourceCache | None = None) -> dict:
    res: dict = {"ruleId": f.code}
    if f.code in index:
        res["ruleIndex"] = index[f.code]
    res["level"] = Level(f.level).value
    text = sentence(f.full_message) or sentence(f"{f.code} {f.name}")  # GitHub rejects an empty message
    if f.related:
        # GitHub links related locations only when the message points at them.
        links = ", ".join(f"[{_link_text(msg)}]({i})" for i, (_, msg) in enumerate(f.related, start=1))
        text = f"{_escape_brackets(text)} See {links}."
        res["message"] = {"text": text}
    else:
        res["message"] = {"text": _escape_brackets(text)}
    res["locations"] = [{"physicalLocation": physical_location(f.location, root, cache)}]
    if f.related:
        res["relatedLocations"] = [
            {"id": i, "physicalLocation": physical_location(loc, root, cache), "message": {"text": sentence(msg) or "Related location."}}
            for i, (loc, msg) in enumerate(f.related, start=1)
        ]
        res["codeFlows"] = [code_flow(f, root, cache)]
    res["partialFingerprints"] = {"primaryLocationLineHash": f.line_hash, "lifelint/v1": f.fingerprint}
    if f.suppression is not None:
        kind, justification = f.suppression
        sup: dict = {"kind": kind, "status": "accepted"}
        if justification:
            sup["justification"] = justification
        res["suppressions"] = [sup]
    return res


def flow_steps(f: ReportedFinding) -> list[tuple[Location, str]]:
    """The finding's steps in order: in the primary's file by position (the lock taken, the view
    made, the lock released, the use), the primary among them; steps in other files after, in
    the order the rule gave them."""
    here = [(f.location, f.message)] + [(loc, msg) for loc, msg in f.related if loc.path == f.location.path]
    elsewhere = [(loc, msg) for loc, msg in f.related if loc.path != f.location.path]
    here.sort(key=lambda lm: (lm[0].line, lm[0].col))
    return here + elsewhere


def code_flow(f: ReportedFinding, root: str, cache: SourceCache | None = None) -> dict:
    """SARIF 3.36: one thread flow through the finding's steps (GitHub shows it as a path)."""
    locations = []
    for order, (loc, msg) in enumerate(flow_steps(f), start=1):
        locations.append({
            "location": {"physicalLocation": physical_location(loc, root, cache),
                         "message": {"text": _escape_brackets(sentence(msg) or "Step.")}},
            "nestingLevel": 0,
            "executionOrder": order,
        })
    return {"threadFlows": [{"locations": locations}]}


def _escape_brackets(text: str) -> str:
    """Literal brackets in a SARIF message are escaped (`\\[`), so `[&](x)` in a message about a
    lambda capture never reads as an embedded link (SARIF 3.11.6); viewers unescape them."""
    return text.replace("[", "\\[").replace("]", "\\]")


def _link_text(msg: str) -> str:
    return _escape_brackets(msg.strip().rstrip(".")) or "related location"


def notification(level: str, message: str, path: str, root: str, loc: Location | None = None, kind: str = "") -> dict:
    phys: dict = {"artifactLocation": artifact_location(path, root)}
    if loc is not None:
        phys["region"] = region(loc)
    note: dict = {"level": level, "message": {"text": sentence(message) or "File skipped."}, "locations": [{"physicalLocation": phys}]}
    if kind:
        note["properties"] = {"kind": kind}
    return note


def diagnostic_notification(d: FileDiagnostic, root: str) -> dict:
    return notification(DIAGNOSTIC_LEVEL.get(d.kind, "warning"), f"{d.path}: {d.message}", d.path, root, kind=d.kind)


def document(result: ScanResult, rules: Sequence[type], sources: Mapping[str, list[str]] | None = None,
             suppressed: bool = True) -> dict:
    """`suppressed`: also emit the results an inline suppression, the baseline or --diff-base
    hid, each with `suppressions` saying which and why (SARIF 3.27.23)."""
    findings = sorted_findings(result)
    if suppressed and result.hidden:
        findings = sorted_findings(ScanResult(root=result.root, findings=[*findings, *result.hidden]))
    cache = SourceCache(result.root, sources)
    descriptors = {r.code: rule_descriptor(r) for r in rule_list(rules, findings)}
    for f in findings:
        if f.code not in descriptors:
            descriptors[f.code] = placeholder_descriptor(f.code, f.name)
    codes = sorted(descriptors)
    index = {c: i for i, c in enumerate(codes)}
    root = result.root
    notes = [diagnostic_notification(d, root) for d in sorted_diagnostics(result)]
    notes += [notification("warning", f"Unused suppression: {msg}", loc.path, root, loc, kind="unused-suppression")
              for loc, msg in sorted_unused(result)]
    invocation: dict = {"executionSuccessful": True}
    if notes:
        invocation["toolExecutionNotifications"] = notes
    run = {
        "tool": {
            "driver": {
                "name": "lifelint",
                "version": lifelint.__version__,
                "semanticVersion": lifelint.__version__,
                "informationUri": lifelint.HOMEPAGE,
                "rules": [descriptors[c] for c in codes],
            }
        },
        "invocations": [invocation],
        "originalUriBaseIds": {SRCROOT: {"uri": root_uri(root)}},
        "columnKind": "unicodeCodePoints",
        "results": [result_object(f, index, root, cache) for f in findings],
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(result: ScanResult, rules: Sequence[type], stream: TextIO, *, color: bool = False,
           sources: Mapping[str, list[str]] | None = None, suppressed: bool = True) -> None:
    json.dump(document(result, rules, sources, suppressed), stream, indent=2, ensure_ascii=True)
    stream.write("\n")
