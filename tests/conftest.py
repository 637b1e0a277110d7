"""Shared test helpers."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from lifelint.cli import main

NOOP_DEALLOCATOR = textwrap.dedent("""\
    struct allocator_iface { virtual void free_disk_buffer(char* b) = 0; };
    struct backend : allocator_iface {
        void free_disk_buffer(char* b) override {
            // the storage owns the buffers
        }
    };
    """)

FIXED_DEALLOCATOR = NOOP_DEALLOCATOR.replace("// the storage owns the buffers", "delete[] b;")


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Tests never read or write the user's lifelint cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def run_cli(monkeypatch):
    """Run `lifelint ARGS` in-process from `cwd`; returns (exit code, stdout, stderr)."""

    def run(args, cwd: Path):
        monkeypatch.chdir(cwd)
        args = [str(a) for a in args]
        # These tests exercise features (context, suppressions, deep mode...) through rules of any
        # group; which rules a group enables is tested on its own (test_config, test_rule_groups).
        if args[:1] == ["check"] and not any(a == "--select" or a.startswith("--select=") for a in args):
            args = ["check", "--extend-select", "nursery", *args[1:]]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture
def tree(tmp_path):
    """A small project tree with one hazard (LL108) in src/backend.cpp."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "backend.cpp").write_text(NOOP_DEALLOCATOR)
    (tmp_path / "src" / "clean.cpp").write_text(FIXED_DEALLOCATOR)
    return tmp_path


def findings_json(stdout: str) -> list[dict]:
    return json.loads(stdout)["findings"]


# --- A hand-built ScanResult for reporter tests (no engine involved) ------------------------------

from lifelint.fingerprint import finding_fingerprint, line_hash  # noqa: E402
from lifelint.model import FileDiagnostic, Level, Location, Precision, ReportedFinding, ScanResult  # noqa: E402
from lifelint.registry import Rule  # noqa: E402

SAMPLE_SOURCES = {
    "src/disk.cpp": (
        "#include <vector>\n"
        "struct allocator_iface { virtual void free_disk_buffer(char* b) = 0; };  // lifelint: ignore[LL101]\n"
        "struct backend : allocator_iface {\n"
        "\tvoid free_disk_buffer(char* b) override {\n"
        "        // the storage owns the buffers\n"
        "    }\n"
        "};\n"
        "void use(std::vector<int>& v) {\n"
        "    int* p = &v[0];\n"
        "    v.push_back(1);\n"
        "    *p = 2;\n"
        "}\n"
    ),
    # A space, a '#' and non-ASCII letters in the path; non-ASCII text before the span.
    "src/my dir/\u00fcn\u00ef#1.rs": (
        "// caf\u00e9 \u2713\n"
        "pub fn poke(p: *mut u8) {\n"
        "    let s = \"\u00e9\u00e9\"; unsafe { *p = 0 };\n"
        "}\n"
    ),
}


def _fake_rule(code, name, level, summary, doc, tags=("correctness",)):
    class Fake(Rule):
        languages = ("cpp", "rust")
        precision = Precision.MEDIUM

        @classmethod
        def doc(cls):
            return doc

        @classmethod
        def help_uri(cls):
            return f"https://github.com/lifelint/lifelint/blob/main/rules/{code.lower()}.py"

    Fake.code, Fake.name, Fake.level, Fake.summary, Fake.tags = code, name, level, summary, tags
    Fake.__name__ = Fake.__qualname__ = "".join(w.title() for w in name.split("-"))
    return Fake


def sample_rules() -> list[type[Rule]]:
    """LL108 (the real rule) plus two stand-ins with the same metadata shape."""
    from lifelint.registry import rule_by_code

    ll106 = _fake_rule(
        "LL106", "container-invalidation", Level.ERROR,
        "A pointer, iterator or reference into a container is used after the container may have reallocated",
        "## What it does\nFlags a pointer or iterator into a container used after `push_back`, `insert`,\n"
        "`erase` or `clear` on it.\n\nSecond paragraph.\n\n## Why is this bad?\nUse after free.\n\n"
        "## Example\n```cpp\nint* p = &v[0]; v.push_back(1); *p = 2;\n```\n\n## Use instead\nRe-fetch.\n\n"
        "## Known limits\nOne function at a time.\n")
    ll303 = _fake_rule(
        "LL303", "unsafe-without-safety-comment", Level.NOTE,
        "An unsafe block with no SAFETY comment.",
        "## What it does\nFlags `unsafe { }` with no `// SAFETY:` comment above it.\n\n## Why is this bad?\n"
        "Nobody can review it.\n\n## Example\n```rust\nunsafe { *p = 0 };\n```\n\n## Use instead\n"
        "A comment.\n\n## Known limits\nNone.\n", tags=("unsafe", "rust"))
    real = rule_by_code("LL108")
    return [r for r in (ll106, real, ll303) if r is not None]


def _at(path: str, line: int, needle: str, length: int | None = None) -> Location:
    text = SAMPLE_SOURCES[path].split("\n")[line - 1]
    col = text.index(needle) + 1
    return Location(path, line, col, line, col + (len(needle) if length is None else length))


def make_scan_result(root: Path | str, write_sources: bool = True) -> ScanResult:
    """A ScanResult with an error, a warning and a note (related locations, odd paths, brackets,
    `%` and a newline in messages), two file diagnostics and an unused suppression. With
    `write_sources`, the sources are written under `root` so reporters can read code frames."""
    root = Path(root)
    if write_sources:
        for rel, text in SAMPLE_SOURCES.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text, encoding="utf-8")

    def finding(code, name, level, message, loc, related=()):
        lines = SAMPLE_SOURCES[loc.path].split("\n")
        text = lines[loc.line - 1]
        return ReportedFinding(code=code, name=name, level=level, message=message, location=loc,
                               related=list(related), fingerprint=finding_fingerprint(code, loc.path, text, "", 0),
                               line_hash=line_hash(lines, loc.line), source_line=text)

    cpp, rs = "src/disk.cpp", "src/my dir/\u00fcn\u00ef#1.rs"
    findings = [
        # deliberately out of order: reporters sort
        finding("LL303", "unsafe-without-safety-comment", Level.NOTE,
                "`unsafe` block has no `// SAFETY:` comment\n(100% of blocks, checked: 1)", _at(rs, 3, "unsafe {", 17)),
        finding("LL106", "container-invalidation", Level.ERROR,
                "`p` points into `v[0]` and is used after `v.push_back()` may have reallocated it",
                _at(cpp, 11, "*p"),
                [(_at(cpp, 9, "&v[0]"), "pointer taken here"), (_at(cpp, 10, "push_back"), "`v` may reallocate here")]),
        finding("LL108", "noop-deallocator", Level.WARNING,
                "free_disk_buffer() takes a pointer and frees nothing", _at(cpp, 4, "free_disk_buffer")),
    ]
    return ScanResult(
        root=str(root.absolute()),
        findings=findings,
        diagnostics=[
            FileDiagnostic("src/zz broken.cpp", "syntax", "12.5% of the file could not be parsed (first at line 3); nothing is reported from those parts"),
            FileDiagnostic("src/blob.hpp", "binary", "looks binary (NUL bytes); skipped"),
        ],
        files_scanned=4,
        lines_scanned=sum(t.count("\n") for t in SAMPLE_SOURCES.values()) + 7,
        suppressed=1,
        baselined=2,
        unused_suppressions=[(_at(cpp, 2, "lifelint: ignore[LL101]"), "LL101 matched no finding")],
    )


@pytest.fixture
def scan_result(tmp_path):
    return make_scan_result(tmp_path)
