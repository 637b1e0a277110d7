"""A plain `pip install .` ships every rule: the wheel holds lifelint/rules/, and the installed
package, run from another directory, finds every rule."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from lifelint.registry import all_rules

REPO = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_rules(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    [wheel] = tmp_path.glob("lifelint-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    rule_modules = {n.rsplit("/", 1)[-1] for n in names if n.startswith("lifelint/rules/")}
    for rule in all_rules():
        assert rule.__module__.rsplit(".", 1)[-1] + ".py" in rule_modules
    assert not any(n.startswith("rules/") for n in names), "rules must live inside the lifelint package"

    # Unpacked on its own (no source checkout on sys.path), run from an unrelated directory.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = "import lifelint.registry as r, lifelint; print(lifelint.__file__); print(' '.join(x.code for x in r.all_rules()))"
    run = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); " + code],
                         cwd=elsewhere, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    where, codes = run.stdout.splitlines()
    assert where.startswith(str(site))
    assert codes.split() == [r.code for r in all_rules()]
