"""The lock index's lifecycle and lock-free facts (lifelint.locking) that LL203 reads: what runs
only while its object is built or torn down, and which methods touch nothing but atomics.
Small sources written here; the fixtures lifecycle_phases.cpp / lock_free_fast_path.cpp show the
findings."""

from __future__ import annotations

from pathlib import Path

from lifelint.locking import atomic_only, same_object_call
from lifelint.testing import function_labelled as _fn
from lifelint.testing import locking_index_of


def _index(tmp_path: Path, files: dict[str, str]):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return locking_index_of(tmp_path)


OWNER = """
#include <mutex>
struct cache { std::mutex mu; int* slots = nullptr; int n = 0;
    void init(int k) { slots = new int[k]; n = k; }
    void cleanup() { delete[] slots; }
    void push(int v) { std::lock_guard<std::mutex> l(mu); slots[n++] = v; } };
template <class T, int Pad = 64> struct padded : T { char pad[Pad]; };
struct fields { cache c; cache* shared = nullptr; };
struct owner : padded<fields> {
    owner() { c.init(4); shared->init(8); }
    void teardown() { c.cleanup(); this->~owner(); }
    void maybe_free(bool last) { c.cleanup(); if (last) delete this; }
};
"""


def test_a_template_deriving_from_its_argument_passes_on_its_members(tmp_path):
    li = _index(tmp_path, {"owner.hpp": OWNER})
    ctor = _fn(li, "owner::owner")
    assert "c" in ctor.fields and "shared" in ctor.fields  # padded<fields> : fields
    assert [t.label for cs in ctor.calls for t in cs.targets] == ["cache::init", "cache::init"]


def test_calls_on_a_by_value_member_are_on_the_same_object(tmp_path):
    li = _index(tmp_path, {"owner.hpp": OWNER})
    ctor = _fn(li, "owner::owner")
    by_value, through_pointer = ctor.calls
    assert same_object_call(by_value) and not same_object_call(through_pointer)
    # init() is called from a constructor, but once on a pointer to another object: not ctor-only.
    assert _fn(li, "cache::init").context == "any"


def test_self_destroying_methods_are_teardown(tmp_path):
    li = _index(tmp_path, {"owner.hpp": OWNER})
    assert _fn(li, "owner::teardown").destroys_self and _fn(li, "owner::teardown").lifecycle
    assert not _fn(li, "owner::maybe_free").destroys_self  # `if (last) delete this;`
    # cleanup() is called from teardown() and from maybe_free(), which need not end the object.
    assert _fn(li, "cache::cleanup").context == "any"


def test_ctor_only_reaches_through_helpers(tmp_path):
    src = """
#include <mutex>
struct ring { std::mutex mu; int head = 0;
    void init() { head = 0; }
    void push() { std::lock_guard<std::mutex> l(mu); ++head; } };
struct table { ring r; int gen = 0;
    table() { setup(); }
    ~table() { drop(); }
    void setup() { r.init(); gen = 1; }
    void drop() { gen = 0; } };
"""
    li = _index(tmp_path, {"t.hpp": src})
    assert _fn(li, "table::setup").context == "ctor"
    assert _fn(li, "ring::init").context == "ctor"  # table() -> setup() -> r.init()
    assert _fn(li, "table::drop").context == "ctor"


def test_atomic_only_methods(tmp_path):
    src = """
#include <atomic>
#include <cstddef>
struct lst { std::atomic<std::size_t> count{0}; lst* head = nullptr; std::size_t cap = 4;
    std::size_t size() const { return count.load(); }
    bool empty() const { return size() == 0; }
    lst* front() const { return head; }
    bool has_room() const { return size() < cap; }
    const lst* self() const { return this; }
    bool unseen() const;
    bool ask() const { return unseen() && empty(); } };
"""
    li = _index(tmp_path, {"l.hpp": src})
    assert atomic_only(_fn(li, "lst::size")) and atomic_only(_fn(li, "lst::empty"))
    assert not atomic_only(_fn(li, "lst::front"))  # a plain member
    assert not atomic_only(_fn(li, "lst::has_room"))  # an atomic and a plain member
    assert not atomic_only(_fn(li, "lst::self"))  # touches nothing but hands `this` on
    assert not atomic_only(_fn(li, "lst::ask"))  # calls a method the scan cannot see
