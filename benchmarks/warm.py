#!/usr/bin/env python3
"""The warm path on a real tree: what a developer waits for after an edit. See benchmarks/README.md.

    python benchmarks/warm.py TREE --edit REL.cpp --other REL.cpp [-j 2] [--select ALL] [--json OUT]

TREE is copied into a temporary folder (git-initialised: it is the context root; TREE itself is
never written). Timed, each a fresh process, wall clock and CPU (workers included):

- cold: `lifelint check --no-cache .`
- warm: `check .` again over an unchanged tree (the cache filled by a first cached run)
- context check, tree unchanged: `check EDIT` right after (the repository is the context: the
  pre-commit hook's run; the whole-scan cache entry of `check .` serves it)
- warm after an edit: a comment appended to the --edit file, `check .`
- context check after an edit: another comment appended, `check EDIT` (what the pre-commit hook
  runs: the repository is the context)

and `lifelint server` driven over stdio by a scripted LSP client, time from the notification to
the file's publishDiagnostics (CPU: the server process's, from /proc):

- didOpen EDIT (the first check: loads every context file's facts from the fact cache)
- didChange EDIT (an unsaved edit; checked against the project)
- didSave EDIT (the edited text written to disk: the same text as last checked)
- didOpen OTHER (another file, unchanged)
- didChange EDIT again (a second edit, the server warm)
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def log(msg: str) -> None:
    print(f"[warm] {msg}", file=sys.stderr, flush=True)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of a fresh process, its pool workers included."""
    c, t = _children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return took, _children_cpu() - c


def _proc_cpu(pid: int) -> float:
    """CPU seconds of a running process and its waited-for children (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


class Client:
    """A minimal LSP client over the server's stdio."""

    def __init__(self, cwd: Path, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "lifelint", "server"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.notes: queue.Queue = queue.Queue()
        self.next_id = 0
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
            self.notes.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, msg: dict) -> None:
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def request(self, method: str, params) -> dict:
        self.next_id += 1
        rid = self.next_id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        while True:
            msg = self.notes.get(timeout=600)
            if msg.get("id") == rid and "method" not in msg:
                return msg.get("result")

    def notify(self, method: str, params) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def diagnostics(self, uri: str, version: int | None = None) -> list:
        while True:
            msg = self.notes.get(timeout=600)
            p = msg.get("params") or {}
            if msg.get("method") == "textDocument/publishDiagnostics" and p.get("uri") == uri \
                    and (version is None or p.get("version") == version):
                return p["diagnostics"]

    def timed(self, method: str, params, uri: str, version: int | None = None) -> tuple[float, float]:
        c, t = _proc_cpu(self.proc.pid), time.perf_counter()
        self.notify(method, params)
        self.diagnostics(uri, version)
        return time.perf_counter() - t, _proc_cpu(self.proc.pid) - c


def server_latencies(tree: Path, edit: Path, other: Path, env: dict) -> dict[str, tuple[float, float]]:
    client = Client(tree, env)
    out = {}
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": tree.as_uri(), "capabilities": {}})
        client.notify("initialized", {})
        uri, text = edit.as_uri(), edit.read_text(errors="replace")
        out["server didOpen (first: loads the context)"] = client.timed(
            "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "cpp", "version": 1, "text": text}}, uri, 1)
        text += "\n// edited in the editor\n"
        out["server didChange (unsaved edit)"] = client.timed(
            "textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text}]}, uri, 2)
        edit.write_text(text)
        out["server didSave (the text just checked)"] = client.timed(
            "textDocument/didSave", {"textDocument": {"uri": uri}}, uri)
        ouri = other.as_uri()
        out["server didOpen another unchanged file"] = client.timed(
            "textDocument/didOpen", {"textDocument": {"uri": ouri, "languageId": "cpp", "version": 1,
                                                      "text": other.read_text(errors="replace")}}, ouri, 1)
        text += "// a second edit\n"
        out["server didChange again (warm)"] = client.timed(
            "textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": text}]}, uri, 3)
        client.request("shutdown", None)
        client.notify("exit", None)
        client.proc.wait(timeout=60)
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tree", type=Path)
    ap.add_argument("--edit", required=True, help="a source file of TREE (relative) to edit")
    ap.add_argument("--other", required=True, help="another source file of TREE (relative) to open")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--select", default="ALL", help="rule selection, written to the copy's lifelint.toml (default: ALL)")
    ap.add_argument("--skip-cold", action="store_true", help="leave out the --no-cache run")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lifelint-warm-"))
    try:
        tree = work / "tree"
        log(f"copying {args.tree} to {tree}")
        shutil.copytree(args.tree, tree, symlinks=True)
        subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
        sel = ", ".join(json.dumps(s) for s in args.select.split(","))
        (tree / "lifelint.toml").write_text(f"select = [{sel}]\n")
        env = {**os.environ, "XDG_CACHE_HOME": str(work / "xdg")}  # the server's cache: fresh, ours
        cache = work / "xdg" / "lifelint"
        base = [sys.executable, "-m", "lifelint", "check", "--format", "json", "--exit-zero", "--no-progress",
                "-j", str(args.jobs)]
        cached = [*base, "--cache-dir", str(cache)]
        edit, other = tree / args.edit, tree / args.other
        res: dict[str, tuple[float, float]] = {}
        if not args.skip_cold:
            log("cold, --no-cache")
            res["cold (--no-cache)"] = timed([*base, "--no-cache", "."], tree)
        log("first cached run (fills the cache)")
        res["cold, filling the cache"] = timed([*cached, "."], tree)
        res["warm, nothing changed"] = timed([*cached, "."], tree)
        res["context check, tree unchanged (check EDIT)"] = timed([*cached, args.edit], tree)
        with edit.open("a") as fh:
            fh.write("\n// touched\n")
        res["warm after editing one file (check .)"] = timed([*cached, "."], tree)
        with edit.open("a") as fh:
            fh.write("// touched again\n")
        res["context check of the edited file (check EDIT)"] = timed([*cached, args.edit], tree)
        log("server")
        res.update(server_latencies(tree, edit, other, env))
        lines = sum(p.read_bytes().count(b"\n") for p in tree.rglob("*")
                    if p.suffix in (".cpp", ".cc", ".cxx", ".h", ".hpp", ".hh", ".rs") and p.is_file())
        print(f"tree: {args.tree} ({lines} lines of C++/Rust), -j {args.jobs}, select {args.select}, "
              f"load {os.getloadavg()[0]:.1f}")
        print(f"  {'':<50} {'wall':>8}   {'CPU':>8}")
        for k, (wall, cpu) in res.items():
            print(f"  {k:<50} {wall:8.2f} s {cpu:8.2f} s")
        if args.json:
            args.json.write_text(json.dumps({"tree": str(args.tree), "jobs": args.jobs, "select": args.select, "times": res}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
