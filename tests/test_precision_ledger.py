"""benchmarks/precision/run.py on a tiny made-up corpus (CI has no real corpora)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "benchmarks" / "precision" / "run.py"
HEADER = "corpus\thalf\trule\tpath\tline\tverdict\treason\tfingerprint\tmessage\n"

# A stop flag written with no lock (LL201/LL202) and a view used after its lock is released (LL101).
WORKER_CPP = """\
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

bool g_stop = false;

void loop() {
    while (!g_stop) {
    }
}

void start() {
    std::thread t(loop);
    t.detach();
}

void stop() { g_stop = true; }

class Registry {
    std::mutex mu_;
    std::vector<std::string> names_;

  public:
    std::string_view first() {
        std::string_view v;
        {
            std::lock_guard<std::mutex> lock(mu_);
            v = names_.front();
        }
        return v;
    }
};
"""

WORKER_RS = """\
use std::sync::Mutex;

pub struct Table {
    names: Mutex<Vec<String>>,
}

impl Table {
    pub fn first_len(&self) -> usize {
        self.names.lock().unwrap().len()
    }
}
"""


def _corpora(tmp: Path) -> tuple[Path, Path]:
    """A corpora.toml with a C++ tune corpus, a C++ test corpus and a Rust test corpus, fetched."""
    corpora_dir = tmp / "corpora"
    for name in ("alpha", "beta"):
        root = corpora_dir / name
        (root / "src").mkdir(parents=True)
        (root / "src" / "worker.cpp").write_text(WORKER_CPP)
        (root / ".lifelint-corpus").write_text(f"{name}=1.0-1\n")
    crate = tmp / "registry" / "table-0.1.0"
    (crate / "src").mkdir(parents=True)
    (crate / "src" / "lib.rs").write_text(WORKER_RS)
    (corpora_dir / "gamma.paths").write_text(f"{crate}\n")
    toml = tmp / "corpora.toml"
    toml.write_text(
        '[[corpus]]\nname = "alpha"\nhalf = "tune"\nlang = "cpp"\nsource = "alpha=1.0-1"\n\n'
        '[[corpus]]\nname = "beta"\nhalf = "test"\nlang = "cpp"\nsource = "beta=1.0-1"\n\n'
        '[[corpus]]\nname = "gamma"\nhalf = "test"\nlang = "rust"\ncrates = ["table=0.1.0-1"]\n'
    )
    return toml, corpora_dir


def _run(*args: str) -> str:
    p = subprocess.run([sys.executable, str(RUN), *args], text=True, capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def _table(out: str) -> dict[tuple[str, str], list[str]]:
    """(half, rule) -> the row's cells after `default`, from the printed table."""
    rows = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) >= 10 and cells[0] in ("tune", "test"):
            rule = cells[1]
            rest = cells[2:] if rule.startswith("[") else cells[3:]
            rows[(cells[0], rule)] = rest
    return rows


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("precision")
    toml, corpora_dir = _corpora(tmp)
    (tmp / "ledger.tsv").write_text(HEADER)
    out = tmp / "out"
    stdout = _run("--corpora-toml", str(toml), "--corpora-dir", str(corpora_dir), "--ledger", str(tmp / "ledger.tsv"),
                  "--out", str(out), "-j", "1")
    return tmp, toml, corpora_dir, out, stdout


def test_run_saves_json_and_counts_every_finding_as_new(first_run):
    tmp, _toml, _dir, out, stdout = first_run
    alpha = json.loads((out / "alpha.json").read_text())
    assert {f["path"] for f in alpha["findings"]} == {"src/worker.cpp"}  # relative to the corpus root
    codes = [f["code"] for f in alpha["findings"]]
    assert len(codes) >= 2
    table = _table(stdout)
    for code in set(codes):
        reported, true, false, unclear, true_gone, false_gone, new, prec = table[("tune", code)]
        assert (reported, new, true, false, prec) == (str(codes.count(code)), str(codes.count(code)), "0", "0", "-")
    assert table[("tune", "[all]")][0] == str(len(codes))
    from lifelint.registry import catalog

    assert json.loads((out / "rules.json").read_text())["default_on"] == sorted(r.code for r in catalog() if r.default_enabled)
    assert (out / "gamma.json").is_file()


def test_ledger_verdicts_are_matched_and_survive_a_line_shift(first_run):
    tmp, toml, corpora_dir, out, _stdout = first_run
    findings = json.loads((out / "alpha.json").read_text())["findings"]
    f_true, f_false = findings[0], findings[1]
    ledger = tmp / "ledger2.tsv"
    ledger.write_text(
        HEADER
        + f"alpha\ttune\t{f_true['code']}\t{f_true['path']}\t{f_true['line']}\tTRUE\treal\t{f_true['fingerprint']}\tm\n"
        + f"alpha\ttune\t{f_false['code']}\t{f_false['path']}\t{f_false['line']}\tfalse\tnot real\t{f_false['fingerprint']}\tm\n"
        + f"alpha\ttune\t{f_true['code']}\tsrc/gone.cpp\t3\tTRUE\tfixed since\tdeadbeef\tm\n"
    )
    base = ["--corpora-toml", str(toml), "--corpora-dir", str(corpora_dir), "--ledger", str(ledger), "--half", "tune"]
    # Lines inserted above every finding: the fingerprints still match.
    src = corpora_dir / "alpha" / "src" / "worker.cpp"
    src.write_text("// a new header comment\n\n\n" + WORKER_CPP)
    shifted = tmp / "shifted"
    stdout = _run(*base, "--out", str(shifted), "-j", "1")
    assert [f["line"] for f in json.loads((shifted / "alpha.json").read_text())["findings"]][:2] == [f_true["line"] + 3, f_false["line"] + 3]
    totals = _table(stdout)[("tune", "[all]")]
    reported, true, false, unclear, true_gone, false_gone, new, prec = totals
    assert (true, false, unclear, true_gone, false_gone, prec) == ("1", "1", "0", "1", "0", "0.50")
    assert int(new) == int(reported) - 2 == len(findings) - 2
    # The default-on line counts only the rules on by default in the measured lifelint.
    default_on = set(json.loads((shifted / "rules.json").read_text())["default_on"])
    t, f = int(f_true["code"] in default_on), int(f_false["code"] in default_on)
    want = f"{t / (t + f):.2f}" if t + f else "-"
    assert f"default-on precision, tune half: {want} ({t} TRUE, {f} FALSE" in stdout
    # --from-json gives the same figures without running lifelint.
    assert _run(*base, "--from-json", str(shifted)) == stdout
    # --measured-out writes those figures as the module the rule docs read.
    dest = tmp / "measured.py"
    _run(*base, "--from-json", str(shifted), "--measured-out", str(dest), "--measured-label", "probe")
    ns: dict = {}
    exec(dest.read_text(), ns)
    assert ns["MEASURED_WITH"] == "probe"
    fig = ns["MEASURED"][f_true["code"]]["tune"]
    if f_false["code"] == f_true["code"]:
        assert (fig["TRUE"], fig["FALSE"]) == (1, 1)
    else:
        assert (fig["TRUE"], ns["MEASURED"][f_false["code"]]["tune"]["FALSE"]) == (1, 1)
    assert sum(h["reported"] for r in ns["MEASURED"].values() for h in r.values()) == int(reported)


def test_sample_is_deterministic_and_capped_per_rule_and_corpus(first_run):
    tmp, toml, corpora_dir, out, _stdout = first_run
    base = ["--corpora-toml", str(toml), "--corpora-dir", str(corpora_dir), "--ledger", str(tmp / "ledger.tsv"), "--from-json", str(out)]
    _run(*base, "--sample", "1", "--seed", "3", "--sample-out", str(tmp / "s1.tsv"))
    _run(*base, "--sample", "1", "--seed", "3", "--sample-out", str(tmp / "s2.tsv"))
    _run(*base, "--half", "test", "--sample", "12", "--seed", "3", "--sample-out", str(tmp / "s3.tsv"))
    s1 = (tmp / "s1.tsv").read_text()
    assert s1 == (tmp / "s2.tsv").read_text()
    rows = [line.split("\t") for line in s1.splitlines()[1:]]
    groups = {(json_f["code"], name) for name in ("alpha", "beta", "gamma")
              for json_f in json.loads((out / f"{name}.json").read_text())["findings"]}
    assert sorted((r[2], r[0]) for r in rows) == sorted(groups)  # one row per (rule, corpus)
    assert all(r[5] == "" and r[8] for r in rows)  # verdict empty, message kept
    test_rows = (tmp / "s3.tsv").read_text().splitlines()[1:]
    n_test = sum(len(json.loads((out / f"{n}.json").read_text())["findings"]) for n in ("beta", "gamma"))
    assert len(test_rows) == n_test and all(r.split("\t")[1] == "test" for r in test_rows)


def test_a_corpus_not_fetched_is_named_and_fails_the_run(first_run):
    tmp, toml, corpora_dir, out, _stdout = first_run
    toml2 = tmp / "corpora2.toml"
    toml2.write_text(toml.read_text() + '\n[[corpus]]\nname = "delta"\nhalf = "test"\nlang = "cpp"\nsource = "delta=1.0-1"\n')
    p = subprocess.run([sys.executable, str(RUN), "--corpora-toml", str(toml2), "--corpora-dir", str(corpora_dir),
                        "--ledger", str(tmp / "ledger.tsv"), "--from-json", str(out)], text=True, capture_output=True, timeout=300)
    assert p.returncode == 1
    assert "NOT INCLUDED (not fetched or no saved JSON): delta" in p.stdout
    assert "beta" in p.stdout  # the others are still counted
