"""The HTML report: self-contained, and working in a real headless Chromium (Debian `chromium`,
driven by Playwright with the system browser; .ci/run installs it)."""

from __future__ import annotations

import io
import json
import os
import re
import time
from pathlib import Path

import pytest
from conftest import make_scan_result, sample_rules

from lifelint.engine import scan_paths
from lifelint.model import Level, Location, ReportedFinding, ScanResult
from lifelint.registry import all_rules
from lifelint.report import REPORTERS
from lifelint.report.html import document, steps_of

CHROMIUM = os.environ.get("LIFELINT_CHROMIUM", "/usr/bin/chromium")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def render(result: ScanResult, rules=None) -> str:
    buf = io.StringIO()
    REPORTERS["html"](result, rules if rules is not None else sample_rules(), buf)
    return buf.getvalue()


def embedded(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_page_is_self_contained_and_script_safe(tmp_path):
    result = make_scan_result(tmp_path)
    result.findings[0].message = "</script><script>alert(1)</script> <!-- & `x`"
    page = render(result)
    # no external asset: nothing is loaded from a URL, and the CSP forbids it anyway
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "<link" not in page
    assert "default-src 'none'" in page
    # the message cannot close the data block: one </script> per script element
    assert page.count("</script>") == page.count("<script")
    doc = embedded(page)
    assert any(f[5].startswith("</script>") for f in doc["findings"])


def test_document_numbers_steps_in_order_and_embeds_code_and_docs(tmp_path):
    result = make_scan_result(tmp_path)
    doc = embedded(render(result))
    by_code = {f[0]: f for f in doc["findings"]}
    ll106 = by_code["LL106"]
    paths = doc["paths"]
    # related locations first, in the rule's order, the primary location last
    steps = [(paths[s[0]], s[1], s[5]) for s in ll106[8]]
    assert steps == [("src/disk.cpp", 9, "pointer taken here"), ("src/disk.cpp", 10, "`v` may reallocate here"),
                     ("src/disk.cpp", 11, ll106[5])]
    # the code around the steps is embedded once per file, with context lines
    code = doc["code"][str(paths.index("src/disk.cpp"))]
    assert code["9"].strip() == "int* p = &v[0];" and code["11"].strip() == "*p = 2;"
    assert doc["summary"]["by_rule"]["LL106"] == 1
    assert doc["summary"]["by_folder"]["src"] >= 2
    # each used rule's doc once, rendered from the rule's docstring
    assert set(doc["rules"]) == set(doc["summary"]["by_rule"])
    assert "<h2>What it does</h2>" in doc["rules"]["LL108"]["doc"]


def test_steps_of_drops_a_related_location_equal_to_the_primary():
    loc = Location("a.cpp", 3, 1, 3, 4)
    other = Location("a.cpp", 1, 1, 1, 2)
    f = ReportedFinding("LL101", "x", Level.WARNING, "head", loc, [(other, "one"), (loc, "same")], "fp", "lh", "src")
    assert steps_of(f) == [(other, "one"), (loc, "head")]


# --- in a real browser ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does) or set LIFELINT_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def open_page(browser, path: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:", "about:")) else None)
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready]", state="attached")
    return page, errors, requests


def expect(locator):
    # the page's CSP forbids eval, so waits go through locators, never wait_for_function
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def visible_rows(page) -> int:
    return page.locator("#findings li.finding").count()


def test_fixture_report_in_chromium_filters_expands_and_screenshots(browser, tmp_path):
    # a real scan of the C++ fixtures: findings with steps across several lines, several rules
    result = scan_paths([str(FIXTURES / "cpp")], root=FIXTURES / "cpp")
    assert len(result.findings) > 20
    report = tmp_path / "report.html"
    report.write_text(render(result, list(all_rules())), encoding="utf-8")
    page, errors, requests = open_page(browser, report)
    total = len(result.findings)
    assert page.locator("#count").inner_text() == f"{total} findings"
    assert visible_rows(page) == min(total, 100)
    # filter by text: the findings whose code, path, message or step notes mention it
    def mentions(f, text):
        hay = " ".join([f.code, f.location.path, f.message, f.why, f.fix, *(m for _, m in f.related)]).lower()
        return text in hay

    page.fill("#f-text", "STOP")
    expect(page.locator("#count")).to_contain_text(" of ")
    n_stop = sum(1 for f in result.findings if mentions(f, "stop"))
    assert 0 < n_stop < total
    assert visible_rows(page) == min(n_stop, 100)  # the page shows 100 rows at most
    # filter by rule (summary row click), and by path
    page.fill("#f-text", "")
    page.click("#by-rule tr[data-rule='LL101']")
    n101 = sum(1 for f in result.findings if f.code == "LL101")
    expect(page.locator("#findings li.finding")).to_have_count(n101)
    page.select_option("#f-rule", "")
    some_path = result.findings[0].location.path
    page.fill("#f-path", some_path)
    in_path = sum(1 for f in result.findings if some_path.lower() in f.location.path.lower())
    expect(page.locator("#findings li.finding")).to_have_count(in_path)
    page.fill("#f-path", "")
    expect(page.locator("#count")).to_have_text(f"{total} findings")  # the debounced filter has run
    # expand an LL101 finding with several steps: one numbered badge per step in the code
    page.select_option("#f-rule", "LL101")
    expect(page.locator("#findings li.finding")).to_have_count(n101)
    ll101 = sorted((f for f in result.findings if f.code == "LL101"), key=lambda f: (f.location.path, f.location.line, f.location.col))
    k = next(i for i, f in enumerate(ll101) if len(steps_of(f)) >= 2)
    item = page.locator("#findings li.finding").nth(k)
    item.locator(".head").click()
    n_steps = len(steps_of(ll101[k]))
    assert item.locator("ol.steps li").count() == n_steps
    assert item.locator("pre.src .badge").count() == n_steps
    # (in the code, in source order; each step number once)
    assert sorted(int(t) for t in item.locator("pre.src .badge").all_inner_texts()) == list(range(1, n_steps + 1))
    assert item.locator("pre.src .ln.primary").count() >= 1
    # the rule's doc one click away
    item.locator("a.doclink").click()
    assert page.locator("#doc").is_visible()
    assert "What it does" in page.locator("#doc-body").inner_text()
    page.screenshot(path=str(tmp_path / "doc.png"))
    page.keyboard.press("Escape")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert errors == [] and requests == []
    if os.environ.get("LIFELINT_KEEP_SCREENSHOT"):
        Path(os.environ["LIFELINT_KEEP_SCREENSHOT"]).write_bytes(data)


def test_ten_thousand_findings_load_lazily(browser, tmp_path):
    result = make_scan_result(tmp_path)
    base = result.findings
    many = []
    for i in range(10_000):
        f = base[i % len(base)]
        loc = f.location
        many.append(ReportedFinding(f.code, f.name, f.level, f"{f.message} #{i}",
                                    Location(f"dir{i % 37}/{loc.path}", loc.line, loc.col, loc.end_line, loc.end_col),
                                    f.related, f"{f.fingerprint}{i}", f.line_hash, f.source_line, f.why, f.fix))
    result.findings = many
    report = tmp_path / "big.html"
    report.write_text(render(result), encoding="utf-8")
    t0 = time.monotonic()
    page, errors, _ = open_page(browser, report)
    load = time.monotonic() - t0
    assert visible_rows(page) == 100  # one page rendered, not 10,000 rows
    assert page.locator("#count").inner_text() == "10000 findings"
    t0 = time.monotonic()
    page.fill("#f-text", "#9999")
    expect(page.locator("#findings li.finding")).to_have_count(1)
    assert time.monotonic() - t0 < 3
    page.fill("#f-text", "")
    page.click("#next")
    assert "page 2 of 100" in page.locator("#page").inner_text()
    assert load < 10, f"page took {load:.1f}s to load"
    assert errors == []
