"""Mutation fuzzing of lifelint: damaged but plausible C++ and Rust projects, every rule on, every
output format rendered. Shared by the CI test (tests/test_fuzz.py) and the long run (fuzz/run.py).

An input is a small project (one to a dozen files) built from seed files (the fixtures, the
regression inputs, optionally real corpus files) and mutated the way editor buffers and
half-written commits are damaged: byte flips, spliced pieces of other files, brace storms,
swapped / duplicated / deleted lines, truncation, macro-ish lines, hazard-shaped tokens.

A failure is any of: an exception out of the scan or a reporter, an `internal` diagnostic, a scan
over the per-input time limit, or output that differs between two runs of the same input (in the
same process, and with one worker against two).
"""

from __future__ import annotations

import io
import os
import random
import signal
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CPP_EXT = (".cpp", ".cc", ".cxx", ".hpp", ".h", ".hh", ".i")
RUST_EXT = (".rs",)

# Lines a preprocessor, a macro or an attribute puts in real code.
CPP_MACRO_LINES = [
    b"#define LOCK(m) std::lock_guard<std::mutex> _g(m)", b"#if 0", b"#endif", b"#else", b"#ifdef X",
    b"#define BEGIN namespace x {", b"#define END }", b"BEGIN", b"END", b"Q_OBJECT", b"DECLARE(x, y)",
    b"__attribute__((unused))", b"[[nodiscard]]", b"#include \"a.h\"", b"#pragma once", b"TEST(a, b) {",
    b"#define F(x) [&]{ x; }", b"extern \"C\" {", b"template <typename T>", b"MACRO(", b"public:", b"private:",
]
RUST_MACRO_LINES = [
    b"macro_rules! m { ($x:expr) => { $x }; }", b"#[cfg(test)]", b"#[derive(Debug)]", b"m!{", b"unsafe {",
    b"impl Drop for S { fn drop(&mut self) {", b"#![allow(dead_code)]", b"extern \"C\" {", b"mod inner {",
    b"/// SAFETY: caller owns it", b"#[no_mangle]", b"async fn f() {", b"where T: Send,",
]
# Tokens the rules look at: inserting them steers damaged code into the rules' paths.
CPP_TOKENS = [
    b"std::lock_guard<std::mutex> g(m);", b"std::unique_lock<std::mutex> lk(mu);", b"lk.unlock();",
    b"std::thread(f).detach();", b"std::thread t([this]{ run(); });", b"t.join();", b"[this]", b"[&]",
    b"[=, this]", b"post([this]{ x(); });", b"std::string_view v = s;", b"return v;", b"delete p;",
    b"delete[] b;", b"static T* g_p = new T;", b"std::atomic<bool> stop;", b"bool stop_ = false;",
    b"while (!stop_) {}", b"v.push_back(x);", b"auto& r = v[0];", b"for (auto& e : v)", b"m.lock();",
    b"m.unlock();", b"free(p);", b"this->", b"->", b"::", b"&&", b"co_await", b"co_return x;",
    b"virtual void free_buffer(char* b) override {}", b"std::shared_ptr<T> sp;", b"shared_from_this()",
    b"operator()", b"std::move(cb)", b"std::function<void()> cb;", b"cv.wait(lk, [&]{ return ready; });",
]
RUST_TOKENS = [
    b"let g = m.lock().unwrap();", b"drop(g);", b"std::thread::spawn(move || {", b"Arc::new(Mutex::new(0))",
    b"unsafe { Box::from_raw(p) }", b"Box::into_raw(b)", b"std::slice::from_raw_parts(p, n)",
    b"AtomicBool::new(false)", b"Ordering::Relaxed", b"static mut X: i32 = 0;", b"&mut self",
    b"tokio::spawn(async move {", b".await", b"'a", b"impl<T> Foo<T>", b"-> &'static str", b"?",
    b"ffi::free(h);", b"std::mem::forget(x);", b"RefCell::new(0)", b"|x| x + 1", b"#[repr(C)]",
]
BRACKETS = b"{}()[]<>;"


def language_of(name: str) -> str | None:
    return "rust" if name.endswith(RUST_EXT) else "cpp" if name.endswith(CPP_EXT) else None


# --- seeds ------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Seeds:
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, bytes)
    groups: list[list[tuple[str, bytes]]] = field(default_factory=list)  # fixture folders: real multi-file projects

    def of_language(self, lang: str) -> list[tuple[str, bytes]]:
        return [f for f in self.files if language_of(f[0]) == lang]


def load_seeds(corpus_dirs: list[str] = (), corpus_limit: int = 2000, max_size: int = 48_000, rng: random.Random | None = None) -> Seeds:
    """The fixtures and regression inputs, plus (when given) a sample of real corpus files."""
    seeds = Seeds()
    for base in (REPO / "fixtures", REPO / "tests" / "data"):
        if not base.is_dir():
            continue
        for d in sorted({p.parent for p in base.rglob("*") if p.is_file() and language_of(p.name)}):
            group = [(p.name, p.read_bytes()) for p in sorted(d.iterdir()) if p.is_file() and language_of(p.name)]
            seeds.files.extend(group)
            seeds.groups.append(group)
    rng = rng or random.Random(0)
    for cdir in corpus_dirs:
        found = []
        for dirpath, _dirs, names in os.walk(cdir):
            for n in names:
                if language_of(n):
                    p = os.path.join(dirpath, n)
                    try:
                        if 0 < os.path.getsize(p) <= max_size:
                            found.append(p)
                    except OSError:
                        pass
        found.sort()
        for p in rng.sample(found, min(corpus_limit, len(found))):
            try:
                seeds.files.append((os.path.basename(p), Path(p).read_bytes()))
            except OSError:
                pass
    return seeds


# --- mutations --------------------------------------------------------------------------------------

def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def m_byte_flip(rng, data, lang, seeds):
    b = bytearray(data or b" ")
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(b))
        b[i] = rng.choice((rng.randrange(256), b[i] ^ (1 << rng.randrange(8)), rng.choice(BRACKETS)))
    return bytes(b)


def m_splice(rng, data, lang, seeds):
    pool = seeds.of_language(lang) or seeds.files
    other = _lines(rng.choice(pool)[1])
    a = rng.randrange(len(other))
    piece = other[a:a + rng.randint(1, 30)]
    lines = _lines(data)
    at = rng.randrange(len(lines) + 1)
    if rng.random() < 0.3:  # replace instead of insert
        return b"\n".join(lines[:at] + piece + lines[at + rng.randint(1, 10):])
    return b"\n".join(lines[:at] + piece + lines[at:])


def m_brace_storm(rng, data, lang, seeds):
    i = rng.randrange(len(data) + 1)
    storm = bytes(rng.choice(b"{}" if rng.random() < 0.5 else BRACKETS) for _ in range(rng.randint(1, 200)))
    return data[:i] + storm + data[i:]


def m_swap_lines(rng, data, lang, seeds):
    lines = _lines(data)
    if len(lines) < 2:
        return data
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def m_dup_lines(rng, data, lang, seeds):
    lines = _lines(data)
    i = rng.randrange(len(lines))
    n = rng.randint(1, 8)
    return b"\n".join(lines[:i + n] + lines[i:i + n] * rng.randint(1, 3) + lines[i + n:])


def m_delete_lines(rng, data, lang, seeds):
    lines = _lines(data)
    i = rng.randrange(len(lines))
    return b"\n".join(lines[:i] + lines[i + rng.randint(1, 6):])


def m_truncate(rng, data, lang, seeds):
    return data[:rng.randrange(len(data) + 1)]


def m_macro_line(rng, data, lang, seeds):
    lines = _lines(data)
    pick = CPP_MACRO_LINES if lang == "cpp" else RUST_MACRO_LINES
    lines.insert(rng.randrange(len(lines) + 1), rng.choice(pick))
    return b"\n".join(lines)


def m_token(rng, data, lang, seeds):
    i = rng.randrange(len(data) + 1)
    tok = rng.choice(CPP_TOKENS if lang == "cpp" else RUST_TOKENS)
    return data[:i] + tok + data[i:]


def m_delete_span(rng, data, lang, seeds):
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.randint(1, 64):]


def m_deep_nest(rng, data, lang, seeds):
    n = rng.randint(50, 3000)
    body = (b"{" * n + b"x;" + b"}" * n) if rng.random() < 0.5 else (b"(" * n + b"x" + b")" * n)
    lines = _lines(data)
    lines.insert(rng.randrange(len(lines) + 1), body)
    return b"\n".join(lines)


MUTATORS = [m_byte_flip, m_splice, m_brace_storm, m_swap_lines, m_dup_lines, m_delete_lines, m_truncate,
            m_macro_line, m_token, m_delete_span, m_deep_nest]
WEIGHTS = [3, 4, 2, 3, 2, 3, 1, 3, 4, 2, 1]


def mutate(rng: random.Random, data: bytes, lang: str, seeds: Seeds, max_size: int = 64_000) -> bytes:
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 6))):
        m = rng.choices(MUTATORS, WEIGHTS)[0]
        data = m(rng, data, lang, seeds)
    return data[:max_size]


# --- projects ---------------------------------------------------------------------------------------

def make_project(rng: random.Random, seeds: Seeds, pool_sized: bool = False) -> dict[str, bytes]:
    """A project {relative path: bytes}: a fixture folder or a handful of seed files, some mutated.
    `pool_sized`: at least 8 files, so a two-worker scan really runs the process pool."""
    if seeds.groups and rng.random() < 0.35:
        base = list(rng.choice(seeds.groups))
    else:
        lang = rng.choice(("cpp", "cpp", "rust"))
        pool = seeds.of_language(lang) or seeds.files
        base = [rng.choice(pool) for _ in range(rng.randint(1, 4))]
    if pool_sized:
        while len(base) < 8:
            base.append(rng.choice(seeds.files))
    files: dict[str, bytes] = {}
    for k, (name, data) in enumerate(base):
        lang = language_of(name) or "cpp"
        if rng.random() < 0.8 or k == 0:
            data = mutate(rng, data, lang, seeds)
        # Same stems across folders and a header beside its source feed the cross-file index.
        sub = rng.choice(("", "", "src/", "include/", "a/b/"))
        path = f"{sub}{name}"
        while path in files:
            path = f"{sub}{k}_{name}"
        files[path] = data
    return files


def write_project(files: dict[str, bytes], into: Path) -> None:
    for rel, data in files.items():
        p = into / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


# --- the oracle -------------------------------------------------------------------------------------

@dataclass(slots=True)
class Failure:
    kind: str  # "exception", "internal", "hang", "nondeterministic"
    detail: str


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float, wall_factor: float = 10.0):
    """Raise Hang in this (main) thread after `seconds` of this process's CPU time, or after
    `wall_factor` times that on the wall clock. A hang spins, so CPU time finds it; a machine
    busy with other work only stretches the wall clock (a long run at `nice -n 19` next to a
    loaded build saw 20 s of wall time pass for a scan of 1 s of CPU). The wall limit is the
    backstop for time spent waiting on worker processes, whose CPU is not this process's."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def on_cpu(signum, frame):
        raise Hang(f"over {seconds:g}s of CPU")

    def on_wall(signum, frame):
        raise Hang(f"over {seconds * wall_factor:g}s of wall time")

    old_prof = signal.signal(signal.SIGPROF, on_cpu)
    old_alarm = signal.signal(signal.SIGALRM, on_wall)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, seconds * wall_factor)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGPROF, old_prof)
        signal.signal(signal.SIGALRM, old_alarm)


def _scan(root: Path, jobs: int):
    from lifelint.engine import ScanOptions, scan

    return scan(ScanOptions(paths=["."], root=root, enabled=None, jobs=jobs, report_unused_suppressions=True))


def render_all(result) -> dict[str, str]:
    """Every output format the CLI has, text both plain and colored."""
    from lifelint.registry import all_rules
    from lifelint.report import REPORTERS

    rules = list(all_rules())
    out = {}
    for fmt, render in REPORTERS.items():
        for color in ((False, True) if fmt == "text" else (False,)):
            buf = io.StringIO()
            render(result, rules, buf, color=color)
            out[f"{fmt}{'+color' if color else ''}"] = buf.getvalue()
    return out


def check_project(root: Path, *, seconds: float = 20.0, compare_jobs: bool = False) -> list[Failure]:
    """Scan the project at `root` and judge it. `compare_jobs`: also scan with two workers."""
    import traceback

    failures: list[Failure] = []
    cwd = os.getcwd()
    try:
        os.chdir(root)  # reporters resolve paths against the root, as under the CLI
        with time_limit(seconds):
            first = _scan(root, 1)
            out1 = render_all(first)
        failures += [Failure("internal", f"{d.path}: {d.message}") for d in first.diagnostics if d.kind == "internal"]
        runs = [("same input again", 1)] + ([("two workers", 2)] if compare_jobs else [])
        for label, jobs in runs:
            with time_limit(seconds * (2 if jobs > 1 else 1)):
                again = render_all(_scan(root, jobs))
            for fmt in out1:
                if again[fmt] != out1[fmt]:
                    failures.append(Failure("nondeterministic", f"{fmt} output differs ({label}):\n{_first_diff(out1[fmt], again[fmt])}"))
                    break
    except Hang as e:
        failures.append(Failure("hang", str(e)))
    except Exception as e:
        failures.append(Failure("exception", "".join(traceback.format_exception(e))[-4000:]))
    finally:
        os.chdir(cwd)
    return failures


def _first_diff(a: str, b: str) -> str:
    la, lb = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return f"line {i + 1}:\n- {x[:300]}\n+ {y[:300]}"
    return f"lengths {len(la)} vs {len(lb)} lines"


def fuzz_one(rng: random.Random, seeds: Seeds, *, seconds: float = 20.0, compare_jobs: bool = False,
             workdir: str | None = None) -> tuple[dict[str, bytes], list[Failure]]:
    files = make_project(rng, seeds, pool_sized=compare_jobs)
    with tempfile.TemporaryDirectory(prefix="lifelint-fuzz-", dir=workdir) as d:
        write_project(files, Path(d))
        return files, check_project(Path(d), seconds=seconds, compare_jobs=compare_jobs)


def save_failure(out_dir: Path, tag: str, files: dict[str, bytes], failures: list[Failure]) -> Path:
    """The failing project, as files, with what failed beside it (FAILURE.txt)."""
    case = out_dir / tag
    write_project(files, case / "project")
    (case / "FAILURE.txt").write_text("\n\n".join(f"[{f.kind}] {f.detail}" for f in failures))
    return case
