"""LL107's per-function summary (rules/ll107_borrowed_buffer_as_owned.fd_wraps): which parameters a
function turns into a returned owner by `from_raw_fd`, itself or through project helpers. Small
sources written here; the fixtures fd_through_helpers.rs and projects/helper_split show the findings."""

from __future__ import annotations

from pathlib import Path

from lifelint import rust_checks as rc
from lifelint.discovery import discover
from lifelint.engine import analyse_all
from lifelint.index import ProjectIndex
from lifelint.rules.ll107_borrowed_buffer_as_owned import fd_wraps
from lifelint.settings import Settings


def _summaries(tmp_path: Path, files: dict[str, str]) -> dict:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    settings = Settings()
    disc = discover([str(tmp_path)], tmp_path, [], False)
    facts = [f for f, _ in analyse_all(disc.files, settings, 1) if f is not None]
    index = ProjectIndex(facts, settings)
    P = rc.project(index)
    files = {id(fl): f for f in facts for fl in f.rust.flows}
    memo: dict = {}
    out = {}
    for name, entries in P.flows_by_name.items():
        for _f, fn, fl in entries:
            out[name] = fd_wraps(P, memo, lambda x: files[id(x)], fn, fl)
    return out


HELPERS = """
use std::fs::File;
use std::os::fd::{FromRawFd, RawFd};
pub fn wrap(fd: RawFd) -> File { unsafe { File::from_raw_fd(fd) } }
pub fn kept(flags: u32, fd: RawFd) -> std::io::Result<File> {
    let f = wrap(fd);
    Ok(f)
}
pub fn forgets(fd: RawFd) -> bool {
    let f = unsafe { File::from_raw_fd(fd) };
    let ok = f.metadata().is_ok();
    std::mem::forget(f);
    ok
}
pub fn dropped(fd: RawFd) -> u64 { wrap(fd).metadata().map(|m| m.len()).unwrap_or(0) }
pub fn loops(fd: RawFd) -> File { again(fd) }
pub fn again(fd: RawFd) -> File { loops(fd) }
"""

USERS = """
use std::os::fd::RawFd;
pub fn deeper(fd: RawFd) -> std::io::Result<std::fs::File> { crate::helpers::kept(0, fd) }
"""


def test_a_helper_that_returns_the_owner_is_summarised_by_parameter(tmp_path):
    s = _summaries(tmp_path, {"helpers.rs": HELPERS, "users.rs": USERS})
    [(i, w)] = s["wrap"].items()
    assert (i, w.pname, w.owner) == (0, "fd", "File")
    assert [f.name for f in w.chain] == ["wrap"]
    # the second parameter of `kept`, through `wrap`, the owner returned inside `Ok(..)`
    [(i, w)] = s["kept"].items()
    assert (i, w.pname) == (1, "fd") and [f.name for f in w.chain] == ["kept", "wrap"]
    assert w.path.endswith("helpers.rs") and w.site.start_row == 3


def test_the_summary_crosses_files(tmp_path):
    s = _summaries(tmp_path, {"helpers.rs": HELPERS, "users.rs": USERS})
    [(i, w)] = s["deeper"].items()
    assert i == 0 and [f.name for f in w.chain] == ["deeper", "kept", "wrap"]
    assert w.path.endswith("helpers.rs")


def test_owners_that_are_forgotten_or_dropped_inside_are_not_returned(tmp_path):
    s = _summaries(tmp_path, {"helpers.rs": HELPERS})
    assert s["forgets"] == {} and s["dropped"] == {}
    assert s["loops"] == {} and s["again"] == {}  # a cycle ends the search


LITERALS = """
use std::fs::File;
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
pub struct Slot { file: File, n: u32 }
pub fn tail(fd: RawFd) -> Slot { Slot { file: unsafe { File::from_raw_fd(fd) }, n: 0 } }
pub fn in_ok(fd: RawFd) -> std::io::Result<Box<Slot>> {
    Ok(Box::new(Slot { n: 1, file: unsafe { File::from_raw_fd(fd) } }))
}
pub fn bound(fd: RawFd) -> Slot {
    let s = Slot { file: unsafe { File::from_raw_fd(fd) }, n: 0 };
    s
}
pub fn consumed(fd: RawFd) -> u32 { count(Slot { file: unsafe { File::from_raw_fd(fd) }, n: 0 }) }
pub fn count(s: Slot) -> u32 { let _ = s.file.into_raw_fd(); s.n }
pub fn pair(fd: RawFd) -> (u32, u32) {
    let s = Slot { file: unsafe { File::from_raw_fd(fd) }, n: 0 };
    (count(s), 0)
}
"""


def test_an_owner_in_a_field_of_a_returned_struct_literal_is_summarised(tmp_path):
    s = _summaries(tmp_path, {"slots.rs": LITERALS})
    for name in ("tail", "in_ok", "bound"):
        [(i, w)] = s[name].items()
        assert (i, w.owner, w.field) == (0, "File", "file"), name
    # the literal is handed to a function (or returned only through one): not the return value
    assert s["consumed"] == {} and s["pair"] == {}
