"""`lifelint server` driven by a scripted LSP client over stdio (JSON-RPC with Content-Length
framing, subprocess pipes), and `check --stdin-filename`."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# The mutex and the map are declared in the header; the source takes a view under the lock
# and uses it after the guard's scope ends.
TABLE_HPP = """\
#pragma once
#include <map>
#include <mutex>
#include <string>

class peer_table {
public:
    void log_peer(int id);

private:
    std::mutex m_state;
    std::map<int, std::string> m_peers;
};
"""

TABLE_CPP = """\
#include "table.hpp"

void log_line(const char* s);

void peer_table::log_peer(int id)
{
    const char* name = nullptr;
    {
        std::lock_guard<std::mutex> g(m_state);
        name = m_peers.at(id).c_str();
    }
    log_line(name);
}
"""

GOOD_CPP = TABLE_CPP.replace("const char* name = nullptr;", "std::string name;").replace(
    "m_peers.at(id).c_str();", "m_peers.at(id);").replace("log_line(name);", "log_line(name.c_str());")


class Client:
    """A minimal LSP client: requests get their responses, notifications queue up."""

    def __init__(self, cwd: Path, cache_dir: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "lifelint", "server"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.next_id = 0
        self.responses: dict[int, dict] = {}
        self.notes: queue.Queue = queue.Queue()
        self.lock = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                k, v = line.decode().split(":", 1)
                headers[k.strip().lower()] = v.strip()
            msg = json.loads(out.read(int(headers["content-length"])))
            if "id" in msg and "method" not in msg:
                with self.lock:
                    self.responses[msg["id"]] = msg
                    self.lock.notify_all()
            elif "method" in msg:
                self.notes.put(msg)

    def send(self, msg: dict) -> None:
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: str, params, timeout: float = 60) -> dict:
        self.next_id += 1
        rid = self.next_id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        with self.lock:
            ok = self.lock.wait_for(lambda: rid in self.responses, timeout)
        assert ok, f"no response to {method}: {self.proc.stderr.read1(4000) if self.proc.poll() is not None else ''}"
        resp = self.responses.pop(rid)
        assert "error" not in resp, resp
        return resp["result"]

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def diagnostics(self, uri: str, timeout: float = 60) -> list[dict]:
        end = time.monotonic() + timeout
        while True:
            msg = self.notes.get(timeout=max(0.1, end - time.monotonic()))
            if msg["method"] == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
                return msg["params"]["diagnostics"]


def apply(text: str, edits: list[dict]) -> str:
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]), reverse=True):
        s, t = e["range"]["start"], e["range"]["end"]
        assert (s["line"], s["character"]) == (t["line"], t["character"]) == (s["line"], 0), "only line inserts expected"
        lines[s["line"]] = e["newText"] + lines[s["line"]]
    return "\n".join(lines)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "lifelint.toml").write_text('extend-select = ["nursery"]\n')  # the rules these files trip are opt-in
    (root / "src" / "table.hpp").write_text(TABLE_HPP)
    (root / "src" / "table.cpp").write_text(TABLE_CPP)
    return root


def test_lsp_session_diagnoses_with_project_context_and_suppresses(project, tmp_path):
    client = Client(project, tmp_path / "cache")
    try:
        init = client.request("initialize", {"processId": os.getpid(), "rootUri": project.as_uri(), "capabilities": {}})
        caps = init["capabilities"]
        assert caps.get("codeActionProvider") and caps.get("hoverProvider")
        client.notify("initialized", {})
        path = project / "src" / "table.cpp"
        uri = path.as_uri()
        text = path.read_text()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "cpp", "version": 1, "text": text}})
        diags = client.diagnostics(uri)
        assert [d["code"] for d in diags] == ["LL101"]
        d = diags[0]
        assert d["source"] == "lifelint" and d["range"]["start"]["line"] == 11  # log_line(name)
        assert "`m_state`" in d["message"]
        # the steps as related information: where the view is made, where the lock is released
        rel_lines = sorted(r["location"]["range"]["start"]["line"] for r in d["relatedInformation"])
        assert 9 in rel_lines and 10 in rel_lines
        assert all(r["location"]["uri"] == uri for r in d["relatedInformation"])
        # hover on the finding shows the rule's doc
        hov = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 11, "character": 14}})
        assert "What it does" in hov["contents"]["value"]
        # the quick fix inserts a suppression comment above the line
        actions = client.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": d["range"],
                                                              "context": {"diagnostics": diags}})
        assert len(actions) == 1 and actions[0]["kind"] == "quickfix"
        edits = actions[0]["edit"]["changes"][uri]
        fixed = apply(text, edits)
        assert "    // lifelint: ignore[LL101] -- why\n    log_line(name);" in fixed
        # the edited buffer (not yet on disk): the diagnostic is gone
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                                 "contentChanges": [{"text": fixed}]})
        assert client.diagnostics(uri) == []
        # saved: still gone; a good rewrite also has none, the bad one again has one
        path.write_text(fixed)
        client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        assert client.diagnostics(uri) == []
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": GOOD_CPP}]})
        assert client.diagnostics(uri) == []
        client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 4}, "contentChanges": [{"text": text}]})
        assert [x["code"] for x in client.diagnostics(uri)] == ["LL101"]
        assert client.request("shutdown", None) is None
        client.notify("exit", None)
        assert client.proc.wait(timeout=20) == 0
    finally:
        if client.proc.poll() is None:
            client.proc.kill()


def test_lsp_uses_the_header_of_the_project(project, tmp_path):
    """LL201 on a flag declared in a header of the project and written by a thread in the open
    source: the finding sits on the header, the source holds its steps; with the header's facts
    the workspace reports it, and its related locations point into the open buffer."""
    from test_precommit import WORKER_CPP, WORKER_HPP

    from lifelint.workspace import Workspace

    (project / "src" / "worker.hpp").write_text(WORKER_HPP)
    (project / "src" / "worker.cpp").write_text(WORKER_CPP)
    ws = Workspace.for_file(project / "src" / "worker.hpp", use_cache=False)
    assert ws.root == project
    res = ws.check(project / "src" / "worker.hpp")
    assert [(f.code, f.location.path) for f in res.findings] == [("LL201", "src/worker.hpp")]
    assert any(loc.path == "src/worker.cpp" for loc, _ in res.findings[0].related)
    # without the project as context the header alone has no thread: nothing
    alone = Workspace(project / "src", context=False, use_cache=False)
    assert alone.check(project / "src" / "worker.hpp").findings == []


def test_check_stdin_filename(project, monkeypatch):
    from click.testing import CliRunner

    from lifelint.cli import main

    monkeypatch.chdir(project)
    # the file on disk is clean; the text on stdin is what is checked
    (project / "src" / "table.cpp").write_text(GOOD_CPP)
    args = ["check", "--no-cache", "--extend-select", "nursery", "--format", "concise", "--stdin-filename", "src/table.cpp"]
    r = CliRunner().invoke(main, args, input=TABLE_CPP, catch_exceptions=False)
    assert r.exit_code == 1 and r.stdout.startswith("src/table.cpp:12:14: LL101"), r.output
    r = CliRunner().invoke(main, args, input=GOOD_CPP, catch_exceptions=False)
    assert r.exit_code == 0 and "LL101" not in r.stdout, r.output
    # text output shows the stdin's code in its frame
    r = CliRunner().invoke(main, ["check", "--no-cache", "--extend-select", "nursery", "--stdin-filename", "src/table.cpp"], input=TABLE_CPP, catch_exceptions=False)
    assert "log_line(name);" in r.stdout


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


EDITS, WARM_UP = 300, 100


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS is read from /proc")
def test_server_memory_stays_flat_over_many_edits_of_one_buffer(project, tmp_path):
    """Each edit is checked (a fresh index over the project's facts): nothing may pile up."""
    client = Client(project, tmp_path / "cache")
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": project.as_uri(), "capabilities": {}})
        client.notify("initialized", {})
        uri = (project / "src" / "table.cpp").as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "cpp", "version": 1, "text": TABLE_CPP}})
        client.diagnostics(uri)
        samples = []
        for i in range(1, EDITS + 1):
            # varied text: a new comment line each time, the hazard kept or fixed in turn
            text = (TABLE_CPP if i % 2 else GOOD_CPP) + f"// edit {i} {'x' * (i % 50)}\n"
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": i + 1}, "contentChanges": [{"text": text}]})
            diags = client.diagnostics(uri)
            assert [d["code"] for d in diags] == (["LL101"] if i % 2 else [])
            if i >= WARM_UP and i % 25 == 0:
                samples.append(_rss_mb(client.proc.pid))
        grown = max(samples) - samples[0]
        print("server RSS (MB) every 25 edits after warm-up:", samples)
        assert grown <= 5.0, f"server RSS grew {grown:.1f} MB over {EDITS - WARM_UP} edits: {samples}"
        client.request("shutdown", None)
        client.notify("exit", None)
        client.proc.wait(timeout=20)
    finally:
        if client.proc.poll() is None:
            client.proc.kill()


def test_a_burst_of_edits_is_checked_at_its_last_version(project, tmp_path):
    """Edits that arrive while earlier ones wait are checked once, at the latest text: versions
    already superseded are not checked one after another (each can take seconds on a big project)."""
    client = Client(project, tmp_path / "cache")
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": project.as_uri(), "capabilities": {}})
        client.notify("initialized", {})
        uri = (project / "src" / "table.cpp").as_uri()
        client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "cpp", "version": 1, "text": GOOD_CPP}})
        assert client.diagnostics(uri) == []
        last = 21
        for v in range(2, last + 1):  # sent back to back; only the last one has the hazard
            text = (TABLE_CPP if v == last else GOOD_CPP) + f"// edit {v}\n"
            client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v}, "contentChanges": [{"text": text}]})
        published = []
        while True:
            msg = client.notes.get(timeout=60)
            if msg["method"] == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
                published.append(msg["params"])
                if msg["params"]["version"] == last:
                    break
        assert [d["code"] for d in published[-1]["diagnostics"]] == ["LL101"]
        assert len(published) < (last - 1) // 2, [p["version"] for p in published]
        client.request("shutdown", None)
        client.notify("exit", None)
        client.proc.wait(timeout=20)
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
