"""Two rules on one token make one finding: the folded rule's explanation becomes a note."""

from __future__ import annotations

from pathlib import Path

from lifelint.config import enabled_codes, validate_selectors
from lifelint.engine import ScanOptions, scan
from lifelint.settings import Settings

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures/cpp/LL104-view-captured-in-async/locked_view_one_finding.cpp"


def test_view_captured_after_its_lock_is_one_finding_with_a_note():
    settings = Settings()
    enabled = enabled_codes(settings, validate_selectors("t", "select", ["LL101", "LL104"]), None)
    result = scan(ScanOptions(paths=[str(FIXTURE)], root=FIXTURE.parent, settings=settings, enabled=enabled, jobs=1))
    on_26 = [f for f in result.findings if f.location.line == 26]
    assert [f.code for f in on_26] == ["LL101"]
    notes = [msg for _loc, msg in on_26[0].related]
    assert any(msg.startswith("also LL104:") and "copy of the view" in msg for msg in notes)


def test_ll101_says_the_element_is_returned_not_the_iterator(tmp_path):
    src = tmp_path / "registry.cpp"
    src.write_text("""
#include <map>
#include <mutex>
#include <string>
class registry {
public:
    const std::string& name_of(int id) {
        std::lock_guard<std::mutex> l(m_mutex);
        auto it = m_names.find(id);
        return it->second;
    }
private:
    std::mutex m_mutex;
    std::map<int, std::string> m_names;
};
""")
    settings = Settings()
    enabled = enabled_codes(settings, validate_selectors("t", "select", ["LL101"]), None)
    result = scan(ScanOptions(paths=[str(src)], root=tmp_path, settings=settings, enabled=enabled, jobs=1))
    [f] = result.findings
    assert "returns a reference to `it->second`, an element reached through `it`" in f.message
    assert "`it` (an iterator" not in f.message
