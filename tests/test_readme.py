"""The README stays true: its rule table lists exactly the shipped rules, and its test command
is the one CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from lifelint.registry import all_rules

ROOT = Path(__file__).resolve().parent.parent


def test_rule_table_matches_the_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (LL\d{3}) \| ([a-z0-9-]+) \| ([^|]+) \| ([a-z]+) \|", readme, re.MULTILINE)
    assert [(c, n, g) for c, n, _, g in rows] == [(r.code, r.name, r.group) for r in all_rules()]
    for (code, _, langs, _), rule in zip(rows, all_rules()):
        shown = {x.strip() for x in langs.split(",")}
        assert shown == {"C++" if lang == "cpp" else "Rust" for lang in rule.languages}, code


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, re.DOTALL)
    test_cmd = next(b for b in blocks if "pytest" in b).strip()
    assert test_cmd in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _yaml_blocks() -> list:
    import yaml

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)\n```", readme, re.DOTALL)]


def test_the_github_workflow_is_valid_with_the_keys_github_requires():
    flows = [d for d in _yaml_blocks() if isinstance(d, dict) and "jobs" in d]
    assert len(flows) == 1
    wf = flows[0]
    assert wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as true
    for job in wf["jobs"].values():
        assert job["runs-on"] and job["steps"]
        assert job["permissions"]["security-events"] == "write"
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step
        uses = [s["uses"] for s in job["steps"] if "uses" in s]
        upload = next(u for u in uses if u.startswith("github/codeql-action/upload-sarif@"))
        assert upload.endswith("@v4")  # v3 is deprecated as of December 2026
        sarif_file = next(s for s in job["steps"] if s.get("uses") == upload)["with"]["sarif_file"]
        assert any(f"--output {sarif_file}" in s.get("run", "") and "--format sarif" in s["run"] for s in job["steps"])
        checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
        assert checkout["with"]["fetch-depth"] == 0  # --diff-base needs the base commit


def test_the_precommit_snippets_match_the_hook():
    import yaml

    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]
    configs = [d for d in _yaml_blocks() if isinstance(d, dict) and "repos" in d]
    assert len(configs) == 2
    remote, local = (c["repos"][0] for c in configs)
    assert remote["repo"] == __import__("lifelint").HOMEPAGE and remote["hooks"] == [{"id": "lifelint"}]
    h = local["hooks"][0]
    assert (h["entry"], h["files"], h["require_serial"]) == (hook["entry"], hook["files"], hook["require_serial"])
    # the hook matches exactly the extensions lifelint reads (SWIG .i included)
    from lifelint.discovery import CPP_EXTENSIONS, RUST_EXTENSIONS

    pattern = re.compile(hook["files"])
    for ext in CPP_EXTENSIONS | RUST_EXTENSIONS:
        assert pattern.search(f"dir/file{ext}"), ext
    assert not pattern.search("notes.txt") and not pattern.search("setup.py")


def test_the_gitlab_job_is_valid():
    jobs = [d for d in _yaml_blocks() if isinstance(d, dict) and "lifelint" in d and "script" in d["lifelint"]]
    assert len(jobs) == 1
    job = jobs[0]["lifelint"]
    assert all(isinstance(line, str) for line in job["script"])
    assert "lifelint.sarif" in job["artifacts"]["paths"]


def test_every_check_flag_the_readme_names_exists():
    from click.testing import CliRunner

    from lifelint.cli import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    help_text = CliRunner().invoke(main, ["check", "--help"]).output
    named = set(re.findall(r"lifelint check[^\n`]*", readme))
    flags = {f for line in named for f in re.findall(r"(--[a-z][a-z-]+)", line)}
    flags |= set(re.findall(r"`(--[a-z][a-z-]+)", readme.split("Command-line flags:")[1].split("##")[0]))
    assert flags, "the README names flags"
    for flag in sorted(flags):
        assert flag in help_text, flag
