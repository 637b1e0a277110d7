"""A self-contained HTML report: one file, no network, no external asset (inline CSS and JS).

The page holds a summary (findings per rule, per folder), a filterable list of findings (by rule,
path, text) and, for each finding, the code around it with its steps numbered and highlighted in
order, the message (headline, why, fix) and the rule's documentation one click away (each used
rule's doc is embedded once, rendered from its module docstring).

Everything the page shows is one JSON document in a `<script type="application/json">` block;
the script renders only the visible page of the list (a finding's code is built when it is
opened), so 10,000 findings load as fast as ten. Source lines are stored once per file and only
those near a step (a few lines of context), whatever the number of findings that show them.
"""

from __future__ import annotations

import html
import json
import posixpath
from typing import Mapping, Sequence, TextIO

import lifelint
from lifelint.model import Location, ReportedFinding, ScanResult
from lifelint.report import SourceCache, counts_by_rule, plural, sorted_diagnostics, sorted_findings

CONTEXT_LINES = 3  # lines shown above the first and below the last step of a file
JOIN_GAP = 12  # steps this close in one file are shown as one stretch of code


def steps_of(f: ReportedFinding) -> list[tuple[Location, str]]:
    """The finding's story in order, the same as SARIF's codeFlows (`sarif.flow_steps`: where the
    lock is taken, the view made, the lock released, the use). A related location that repeats
    the primary one is dropped."""
    from lifelint.report.sarif import flow_steps

    seen_primary = False
    out = []
    for loc, msg in flow_steps(f):
        if loc == f.location:
            if seen_primary:
                continue
            seen_primary, msg = True, f.message
        out.append((loc, msg))
    return out


def _windows(lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merged [first, last] line ranges (1-based, inclusive) around (start, end) step lines."""
    out: list[list[int]] = []
    for start, end in sorted(lines):
        lo, hi = max(1, start - CONTEXT_LINES), end + CONTEXT_LINES
        if out and lo <= out[-1][1] + JOIN_GAP:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


def _rule_docs(codes: Sequence[str], rules: Sequence[type]) -> dict[str, dict]:
    from markdown_it import MarkdownIt

    from lifelint.registry import rule_by_code

    md = MarkdownIt("commonmark", {"html": False})  # a docstring's raw HTML is shown as text
    given = {r.code: r for r in rules}
    out = {}
    for code in codes:
        r = given.get(code)
        if r is None or not hasattr(r, "doc"):  # catalog rows carry no doc: load the rule
            r = rule_by_code(code) or r
        if r is None:
            continue
        doc = r.doc() if hasattr(r, "doc") else ""
        out[code] = {
            "name": r.name,
            "summary": getattr(r, "summary", ""),
            "group": getattr(r, "group", ""),
            "doc": md.render(doc) if doc else "",
        }
    return out


def document(result: ScanResult, rules: Sequence[type], sources: Mapping[str, list[str]] | None = None) -> dict:
    findings = sorted_findings(result)
    cache = SourceCache(result.root, sources)
    paths: list[str] = []
    path_ix: dict[str, int] = {}

    def pix(p: str) -> int:
        if p not in path_ix:
            path_ix[p] = len(paths)
            paths.append(p)
        return path_ix[p]

    wanted: dict[str, set[int]] = {}
    rows = []
    for f in findings:
        steps = steps_of(f)
        by_file: dict[str, list[tuple[int, int]]] = {}
        for loc, _ in steps:
            by_file.setdefault(loc.path, []).append((loc.line, loc.end_line))
        views = []
        for p, spans in by_file.items():
            for lo, hi in _windows(spans):
                text = cache.lines(p)
                if text is None:
                    continue
                hi = min(hi, len(text))
                if lo > hi:
                    continue
                wanted.setdefault(p, set()).update(range(lo, hi + 1))
                views.append([pix(p), lo, hi])
        # primary file's code first, then the others in the order their steps come
        views.sort(key=lambda v: (paths[v[0]] != f.location.path,))
        rows.append([
            f.code, f.level.value, pix(f.location.path), f.location.line, f.location.col,
            f.message, f.why, f.fix,
            [[pix(loc.path), loc.line, loc.col, loc.end_line, loc.end_col, msg] for loc, msg in steps],
            views,
            next(i for i, (loc, _) in enumerate(steps) if loc == f.location),  # the primary step
        ])
    code: dict[str, dict[str, str]] = {}
    for p in paths:
        text = cache.lines(p) or []
        code[str(path_ix[p])] = {str(n): text[n - 1] for n in sorted(wanted.get(p, ())) if n <= len(text)}
    by_folder: dict[str, int] = {}
    for f in findings:
        d = posixpath.dirname(f.location.path) or "."
        by_folder[d] = by_folder.get(d, 0) + 1
    by_rule = counts_by_rule(findings)
    return {
        "version": lifelint.__version__,
        "root": result.root,
        "summary": {
            "findings": len(findings),
            "files_scanned": result.files_scanned,
            "lines_scanned": result.lines_scanned,
            "suppressed": result.suppressed,
            "baselined": result.baselined,
            "by_rule": by_rule,
            "by_folder": dict(sorted(by_folder.items(), key=lambda kv: (-kv[1], kv[0]))),
        },
        "rules": _rule_docs(sorted(by_rule), rules),
        "paths": paths,
        "code": code,
        "findings": rows,
        "diagnostics": [[d.path, d.kind, d.message] for d in sorted_diagnostics(result)],
        "notes": list(result.notes),
    }


def _script_json(doc: dict) -> str:
    """JSON safe inside a <script> element: no `<` at all, so no `</script>` or `<!--`."""
    text = json.dumps(doc, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(result: ScanResult, rules: Sequence[type], stream: TextIO, *, color: bool = False,
           sources: Mapping[str, list[str]] | None = None) -> None:
    doc = document(result, rules, sources)
    n = doc["summary"]["findings"]
    title = f"lifelint: {plural(n, 'finding')} in {html.escape(posixpath.basename(result.root.rstrip('/')) or result.root)}"
    stream.write(PAGE.replace("@@TITLE@@", title)
                 .replace("@@CSS@@", CSS)
                 .replace("@@DATA@@", _script_json(doc))
                 .replace("@@JS@@", JS))


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>@@TITLE@@</title>
<style>@@CSS@@</style>
</head>
<body>
<header><h1>@@TITLE@@</h1><p id="meta"></p></header>
<main>
<section id="summary">
  <div class="card"><h2>By rule</h2><table id="by-rule"><thead><tr><th>Rule</th><th>Name</th><th class="n">Findings</th></tr></thead><tbody></tbody></table></div>
  <div class="card"><h2>By folder</h2><table id="by-folder"><thead><tr><th>Folder</th><th class="n">Findings</th></tr></thead><tbody></tbody></table></div>
</section>
<section id="list">
  <form id="filters" onsubmit="return false">
    <label>Rule <select id="f-rule"><option value="">all rules</option></select></label>
    <label>Path <input id="f-path" type="search" placeholder="folder or file" autocomplete="off"></label>
    <label>Text <input id="f-text" type="search" placeholder="message or code" autocomplete="off"></label>
    <span id="count" aria-live="polite"></span>
  </form>
  <ol id="findings"></ol>
  <nav id="pager"><button id="prev" type="button">&larr; previous</button><span id="page"></span><button id="next" type="button">next &rarr;</button></nav>
  <div id="diagnostics"></div>
</section>
</main>
<dialog id="doc"><form method="dialog"><button class="close" aria-label="close">&times;</button></form><div id="doc-body"></div></dialog>
<script type="application/json" id="data">@@DATA@@</script>
<script>@@JS@@</script>
</body>
</html>
"""

CSS = r"""
:root{--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--card:#f6f8fa;--mark:#fff3b0;--step:#0969da;--err:#cf222e;--warn:#9a6700;--note:#0969da}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{padding:14px 24px;border-bottom:1px solid var(--line)}
h1{font-size:20px;margin:0}
h2{font-size:15px;margin:0 0 6px}
#meta{margin:4px 0 0;color:var(--muted)}
main{padding:12px 24px}
#summary{display:flex;gap:16px;flex-wrap:wrap}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 12px;min-width:280px;max-height:260px;overflow:auto;flex:1}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:2px 8px 2px 0;vertical-align:top}
th{color:var(--muted);font-weight:600}
.n{text-align:right}
tbody tr{cursor:pointer}
tbody tr:hover{background:#eaeef2}
#filters{display:flex;gap:12px;align-items:center;flex-wrap:wrap;margin:16px 0 8px;position:sticky;top:0;background:var(--bg);padding:8px 0;border-bottom:1px solid var(--line);z-index:1}
input,select{font:inherit;padding:3px 6px;border:1px solid var(--line);border-radius:4px}
#count{color:var(--muted)}
#findings{list-style:none;margin:0;padding:0}
.finding{border:1px solid var(--line);border-radius:6px;margin:6px 0}
.head{display:flex;gap:10px;align-items:baseline;padding:6px 10px;cursor:pointer}
.head:hover{background:var(--card)}
.lvl{font-size:12px;font-weight:600;text-transform:uppercase;min-width:56px}
.lvl.error{color:var(--err)}.lvl.warning{color:var(--warn)}.lvl.note{color:var(--note)}
.code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-weight:600}
.loc{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;color:var(--muted);white-space:nowrap}
.msg{flex:1}
#by-folder td.loc{white-space:normal;word-break:break-all}
.body{padding:4px 12px 12px;border-top:1px solid var(--line)}
.why,.fix{margin:6px 0}
.fix::before{content:"Fix: ";font-weight:600}
.why::before{content:"Why: ";font-weight:600}
a.doclink{color:var(--step);cursor:pointer;text-decoration:underline}
ol.steps{margin:6px 0;padding-left:0;list-style:none}
ol.steps li{margin:2px 0}
.badge{display:inline-block;min-width:18px;height:18px;line-height:18px;border-radius:9px;background:var(--step);color:#fff;font-size:11px;font-weight:700;text-align:center;padding:0 4px;margin-right:4px;font-family:system-ui,sans-serif}
.badge.last{background:var(--err)}
.file{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;color:var(--muted);margin:8px 0 2px}
pre.src{margin:0;background:var(--card);border:1px solid var(--line);border-radius:4px;overflow:auto;font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace}
pre.src .ln{display:block;padding:0 8px;white-space:pre}
pre.src .ln.hit{background:#ddf4ff}
pre.src .ln.primary{background:#ffebe9}
pre.src .no{display:inline-block;width:5ch;color:var(--muted);text-align:right;margin-right:12px;user-select:none}
pre.src mark{background:var(--mark);border-bottom:2px solid var(--step)}
pre.src .primary mark{border-bottom-color:var(--err)}
pre.src .gap{display:block;color:var(--muted);padding:0 8px}
pre.src .note{color:var(--step);font-family:system-ui,sans-serif;font-size:12px;margin-left:10px}
pre.src .primary .note{color:var(--err)}
#pager{display:flex;gap:12px;align-items:center;margin:10px 0}
#pager button{font:inherit;padding:3px 10px}
dialog{max-width:820px;width:90vw;max-height:85vh;border:1px solid var(--line);border-radius:8px;padding:16px 24px}
dialog .close{float:right;font-size:20px;border:0;background:none;cursor:pointer}
dialog pre{background:var(--card);padding:8px;overflow:auto}
.empty{color:var(--muted);padding:12px 0}
"""

JS = r"""
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const PAGE = 100;
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
  const P = D.paths;
  const F = D.findings;
  // lower-cased haystacks, built once, for the text and path filters
  const hay = F.map((f) => (f[0] + " " + P[f[2]] + " " + f[5] + " " + f[6] + " " + f[7] + " " + f[8].map((s) => s[5]).join(" ")).toLowerCase());
  let shown = F.map((_, i) => i);
  let page = 0;

  const s = D.summary;
  $("meta").textContent = s.findings + " finding" + (s.findings === 1 ? "" : "s") + " in " + s.files_scanned + " file" +
    (s.files_scanned === 1 ? "" : "s") + " (" + s.lines_scanned + " lines)" + (s.suppressed ? ", " + s.suppressed + " suppressed" : "") +
    (s.baselined ? ", " + s.baselined + " in the baseline" : "") + " \u00b7 lifelint " + D.version + " \u00b7 " + D.root;

  const ruleBody = document.querySelector("#by-rule tbody");
  for (const [code, n] of Object.entries(s.by_rule)) {
    const r = D.rules[code] || {name: ""};
    const tr = el("tr"); tr.dataset.rule = code;
    tr.append(el("td", "code", code), el("td", "", r.name), el("td", "n", String(n)));
    tr.title = r.summary || "";
    tr.onclick = () => { $("f-rule").value = code; apply(); };
    ruleBody.append(tr);
    const opt = el("option", "", code + " " + r.name + " (" + n + ")"); opt.value = code; $("f-rule").append(opt);
  }
  const folderBody = document.querySelector("#by-folder tbody");
  for (const [dir, n] of Object.entries(s.by_folder)) {
    const tr = el("tr"); tr.dataset.folder = dir;
    tr.append(el("td", "loc", dir), el("td", "n", String(n)));
    tr.onclick = () => { $("f-path").value = dir === "." ? "" : dir + "/"; apply(); };
    folderBody.append(tr);
  }
  if (!F.length) { ruleBody.append(el("tr", "empty", "no findings")); }

  function apply() {
    const rule = $("f-rule").value, path = $("f-path").value.trim().toLowerCase(), text = $("f-text").value.trim().toLowerCase();
    shown = [];
    for (let i = 0; i < F.length; i++) {
      const f = F[i];
      if (rule && f[0] !== rule) continue;
      if (path && !P[f[2]].toLowerCase().includes(path)) continue;
      if (text && !hay[i].includes(text)) continue;
      shown.push(i);
    }
    page = 0;
    draw();
  }

  function draw() {
    const list = $("findings");
    list.replaceChildren();
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    for (const i of shown.slice(page * PAGE, page * PAGE + PAGE)) list.append(row(i));
    if (!shown.length) list.append(el("li", "empty", F.length ? "No finding matches the filters." : "No findings."));
    $("count").textContent = shown.length === F.length ? F.length + " findings" : shown.length + " of " + F.length + " findings";
    $("page").textContent = "page " + (page + 1) + " of " + pages;
    $("prev").disabled = page === 0;
    $("next").disabled = page >= pages - 1;
    $("pager").style.display = pages > 1 ? "" : "none";
  }

  function row(i) {
    const f = F[i];
    const li = el("li", "finding"); li.dataset.index = i;
    const head = el("div", "head");
    head.append(el("span", "lvl " + f[1], f[1]), el("span", "code", f[0]), el("span", "loc", P[f[2]] + ":" + f[3] + ":" + f[4]), el("span", "msg", f[5]));
    head.onclick = () => toggle(li, f);
    li.append(head);
    return li;
  }

  function toggle(li, f) {
    const open = li.querySelector(".body");
    if (open) { open.remove(); return; }
    li.append(details(f));
  }

  function details(f) {
    const body = el("div", "body");
    const r = D.rules[f[0]];
    const rl = el("p");
    rl.append(el("span", "code", f[0] + " "), document.createTextNode((r ? r.name : "") + " \u00b7 "));
    const a = el("a", "doclink", "rule documentation"); a.onclick = () => showDoc(f[0]); rl.append(a);
    body.append(rl);
    if (f[6]) body.append(el("p", "why", f[6]));
    if (f[7]) body.append(el("p", "fix", f[7]));
    const steps = f[8];
    const last = f[10];  // the primary step: the hazard, in red
    if (steps.length > 1) {
      const ol = el("ol", "steps");
      steps.forEach((st, k) => {
        const li = el("li");
        li.append(el("span", "badge" + (k === last ? " last" : ""), String(k + 1)), document.createTextNode(st[5] + " "), el("span", "loc", "(" + P[st[0]] + ":" + st[1] + ")"));
        ol.append(li);
      });
      body.append(ol);
    }
    for (const [pi, lo, hi] of f[9]) body.append(el("div", "file", P[pi]), code(pi, lo, hi, steps, last));
    return body;
  }

  function code(pi, lo, hi, steps, last) {
    const text = D.code[String(pi)] || {};
    const pre = el("pre", "src");
    for (let n = lo; n <= hi; n++) {
      const here = [];  // [step number, from col, to col, message]
      steps.forEach((st, k) => {
        if (st[0] !== pi || n < st[1] || n > st[3]) return;
        const t = text[String(n)] || "";
        const from = n === st[1] ? st[2] - 1 : 0, to = n === st[3] ? st[4] - 1 : t.length;
        here.push([k, from, Math.max(to, from + 1), st[5]]);
      });
      const line = el("span", "ln" + (here.length ? (here.some((h) => h[0] === last) ? " hit primary" : " hit") : ""));
      line.append(el("span", "no", String(n)));
      line.append(...marked(text[String(n)] || "", here, last));
      pre.append(line);
    }
    return pre;
  }

  function marked(t, here, last) {
    // spans of one line in column order; overlapping ones are merged under the first's number
    here.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    const out = [];
    let at = 0;
    const notes = [];
    for (const [k, from, to, msg] of here) {
      const a = Math.max(from, at), b = Math.min(Math.max(to, a), t.length);
      out.push(document.createTextNode(t.slice(at, a)));
      out.push(el("span", "badge" + (k === last ? " last" : ""), String(k + 1)));
      if (b > a) out.push(el("mark", "", t.slice(a, b)));
      at = Math.max(at, b);
      notes.push((k + 1) + ". " + (k === last ? "the hazard (see the message above)" : msg));
    }
    out.push(document.createTextNode(t.slice(at)));
    if (notes.length) out.push(el("span", "note", "\u2190 " + notes.join("  ")));
    return out;
  }

  function showDoc(codeName) {
    const r = D.rules[codeName];
    const body = $("doc-body");
    body.replaceChildren();
    body.append(el("h2", "", codeName + " " + (r ? r.name : "")));
    if (r && r.summary) body.append(el("p", "", r.summary));
    const doc = el("div");
    doc.innerHTML = r ? r.doc : "";  // rendered server-side from the rule's docstring, raw HTML disabled
    body.append(doc);
    $("doc").showModal();
  }

  if (D.diagnostics.length) {
    const d = $("diagnostics");
    d.append(el("h2", "", D.diagnostics.length + " file(s) not fully analysed"));
    const ul = el("ul");
    for (const [p, kind, msg] of D.diagnostics) ul.append(el("li", "", p + ": " + kind + ": " + msg));
    d.append(ul);
  }
  let timer = 0;
  const later = () => { clearTimeout(timer); timer = setTimeout(apply, 120); };
  $("f-rule").onchange = apply;
  $("f-path").oninput = later;
  $("f-text").oninput = later;
  $("prev").onclick = () => { page--; draw(); window.scrollTo(0, $("list").offsetTop); };
  $("next").onclick = () => { page++; draw(); window.scrollTo(0, $("list").offsetTop); };
  draw();
  document.body.dataset.ready = "1";  // for scripts that drive the page
})();
"""
