"""LL206's suggested one-step fix must keep the check's logic (issue 18)."""

from __future__ import annotations

import json
import textwrap


def _messages(run_cli, tmp_path, name, source):
    (tmp_path / name).write_text(textwrap.dedent(source))
    code, out, _ = run_cli(["check", "--select", "LL206", "--format", "json", "--no-cache", "--exit-zero", name], tmp_path)
    assert code == 0
    return [f["message"] for f in json.loads(out)["findings"]]


def test_clearing_a_flag_suggests_swap_false_not_its_negation(run_cli, tmp_path):
    msgs = _messages(run_cli, tmp_path, "lib.rs", """\
        use std::sync::atomic::{AtomicBool, Ordering};
        pub struct T { armed: AtomicBool }
        impl T {
            fn fire(&self) {}
            pub fn trigger(&self) {
                if self.armed.load(Ordering::Acquire) {
                    self.armed.store(false, Ordering::Release);
                    self.fire();
                }
            }
        }
        """)
    assert len(msgs) == 1
    # `!swap(false)` is true for the callers that did NOT clear it: the inverted logic.
    assert "!self.armed.swap(false" not in msgs[0]
    assert "`self.armed.swap(false, ..)`" in msgs[0]
    assert "compare_exchange(true, false" in msgs[0]


def test_setting_a_flag_suggests_negated_swap_true(run_cli, tmp_path):
    msgs = _messages(run_cli, tmp_path, "lib.rs", """\
        use std::sync::atomic::{AtomicBool, Ordering};
        pub struct T { started: AtomicBool }
        impl T {
            fn spawn(&self) {}
            pub fn start(&self) {
                if !self.started.load(Ordering::Acquire) {
                    self.started.store(true, Ordering::Release);
                    self.spawn();
                }
            }
        }
        """)
    assert len(msgs) == 1
    assert "`!self.started.swap(true, ..)`" in msgs[0]
    assert "compare_exchange(false, true" in msgs[0]
