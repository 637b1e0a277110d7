"""The one-time-initialisation fact (lifelint.init_once, asked through LockingIndex.init_ordered)
on namespace-scope globals, which LL203 does not check: a global written once under a static
mutex and a flag is read after that write by code that called the init first, and by nothing
else."""

from __future__ import annotations

from pathlib import Path

from lifelint.testing import function_labelled, locking_index_of

SRC = """
#include <atomic>
#include <mutex>
#include <string>

std::string read_file(const char*);

static std::mutex g_mu;
static bool g_inited = false;
static std::string g_config;
static int g_port = 0;

static std::mutex g_reload_mu;
static bool g_loaded = false;
static int g_level = 0;

static std::atomic<bool> g_tables_done{false};
static int g_tables = 0;

void init_config() {
    std::lock_guard<std::mutex> l(g_mu);
    if (!g_inited) {
        g_config = read_file("app.conf");
        g_port = 8080;
        g_inited = true;
    }
}

void set_port(int p) {
    std::lock_guard<std::mutex> l(g_mu);
    g_port = p;                       // a second writer, outside the once check
}

int config_size() {
    init_config();
    return int(g_config.size());      // after the init
}

int port() {
    init_config();
    return g_port;
}

int peek_size() { return int(g_config.size()); }   // never passes the init

void load_level() {
    std::lock_guard<std::mutex> l(g_reload_mu);
    if (!g_loaded) {
        g_level = 3;
        g_loaded = true;
    }
}

void forget_level() {
    std::lock_guard<std::mutex> l(g_reload_mu);
    g_loaded = false;                 // the state is set back: the init runs again
}

int level() {
    load_level();
    return g_level;
}

static void build_tables() {
    std::lock_guard<std::mutex> l(g_mu);
    if (!g_tables_done.load(std::memory_order_acquire)) {
        g_tables = 7;
        g_tables_done.store(true, std::memory_order_release);
    }
}

int tables() {
    if (!g_tables_done.load(std::memory_order_acquire)) {
        build_tables();               // skipped only when the atomic state was found set
    }
    return g_tables;
}
"""


def _access(li, label: str, key: str, write: bool):
    fl = function_labelled(li, label)
    return next(a for a in fl.accesses if a.key.endswith(key) and a.write == write)


def _li(tmp_path: Path):
    (tmp_path / "config.cpp").write_text(SRC)
    return locking_index_of(tmp_path)


def test_a_read_after_the_init_call_is_ordered_after_the_once_write(tmp_path):
    li = _li(tmp_path)
    w = _access(li, "init_config", "g_config", True)
    assert li.init_ordered(w, _access(li, "config_size", "g_config", False))


def test_a_reader_that_skips_the_init_is_not_ordered(tmp_path):
    li = _li(tmp_path)
    w = _access(li, "init_config", "g_config", True)
    assert not li.init_ordered(w, _access(li, "peek_size", "g_config", False))


def test_a_second_writer_outside_the_once_check_is_no_once_write(tmp_path):
    li = _li(tmp_path)
    once = _access(li, "init_config", "g_port", True)
    again = _access(li, "set_port", "g_port", True)
    read = _access(li, "port", "g_port", False)
    assert li.init_ordered(once, read)  # the pair with the once write is ordered ...
    assert not li.init_ordered(again, read)  # ... the pair with the other writer is not


def test_a_state_set_back_guards_nothing(tmp_path):
    li = _li(tmp_path)
    w = _access(li, "load_level", "g_level", True)
    assert not li.init_ordered(w, _access(li, "level", "g_level", False))


def test_an_init_call_skipped_on_an_atomic_state_found_set_still_orders(tmp_path):
    li = _li(tmp_path)
    w = _access(li, "build_tables", "g_tables", True)
    assert li.init_ordered(w, _access(li, "tables", "g_tables", False))
