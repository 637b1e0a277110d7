"""Coverage-guided fuzzing with atheris (libFuzzer for Python; `pip install atheris`):

    python fuzz/atheris_target.py --seed S --inputs N [--corpus DIR ...] [--out fuzz/failures]

lifelint's modules are instrumented, so libFuzzer keeps each input that reaches new branches of
the facts, rules or reporters and mutates those further. An input is a serialized project (files
separated by a `//@@FILE name` line); the custom mutator applies the same structural mutations as
the random run (lifelint_fuzz.mutate) to one file, or adds a seed file, so inputs stay plausible
C++/Rust instead of random bytes. Failures are judged by the same oracle and written to --out;
the run goes on after one (totals every 100 inputs; libFuzzer's closing `Done N runs` line is the total).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["lifelint"]):
    import lifelint.engine  # noqa: F401
    import lifelint.registry
    import lifelint.report

    lifelint.registry.all_rules()  # the rule modules load (and are instrumented) now
    for _fmt in ("text", "json_report", "sarif", "github"):
        __import__(f"lifelint.report.{_fmt}")

import lifelint_fuzz as lf  # noqa: E402

SEP = b"\n//@@FILE "


def encode(files: dict[str, bytes]) -> bytes:
    return b"".join(SEP + name.encode() + b"\n" + data for name, data in files.items())


def decode(blob: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for part in blob.split(SEP)[1:]:
        head, _, data = part.partition(b"\n")
        name = head.decode("ascii", "replace").strip().replace("..", "_").lstrip("/") or "x.cpp"
        if lf.language_of(name) and len(files) < 12:
            files[name] = data
    return files


STATE = {"inputs": 0, "failed": 0, "t0": time.monotonic()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--corpus", action="append", default=[])
    ap.add_argument("--out", default="fuzz/failures")
    ap.add_argument("--time-limit", type=float, default=20.0)
    args, rest = ap.parse_known_args(argv)
    seeds = lf.load_seeds(args.corpus, rng=random.Random(args.seed))
    out = Path(args.out)
    work = tempfile.mkdtemp(prefix="lifelint-atheris-")

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        files = decode(data)
        if not files or rng.random() < 0.05:
            return encode(lf.make_project(rng, seeds))[:max_size]
        name = rng.choice(sorted(files))
        if rng.random() < 0.1 and len(files) < 12:
            extra, blob = rng.choice(seeds.files)
            files[f"s{rng.randrange(99)}_{extra}"] = blob
        else:
            files[name] = lf.mutate(rng, files[name], lf.language_of(name) or "cpp", seeds)
        return encode(files)[:max_size]

    def one_input(data: bytes) -> None:
        files = decode(data)
        if not files:
            return
        STATE["inputs"] += 1
        with tempfile.TemporaryDirectory(dir=work) as d:
            lf.write_project(files, Path(d))
            failures = lf.check_project(Path(d), seconds=args.time_limit, compare_jobs=len(files) >= 8)
        if failures:
            STATE["failed"] += 1
            lf.save_failure(out, f"atheris-seed{args.seed}-input{STATE['inputs']}", files, failures)
        if STATE["inputs"] % 100 == 0 or STATE["inputs"] >= args.inputs:
            totals()  # libFuzzer leaves with _exit: no atexit

    def totals() -> None:
        dt = time.monotonic() - STATE["t0"]
        print(f"inputs: {STATE['inputs']}  seed: {args.seed}  failures: {STATE['failed']}  time: {dt:.0f}s", flush=True)

    atheris.Setup([sys.argv[0], f"-runs={args.inputs}", f"-seed={args.seed}", "-max_len=200000",
                   f"-timeout={int(args.time_limit * 3)}", *rest], one_input, custom_mutator=mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
