"""Fingerprints: GitHub's primaryLocationLineHash (bit for bit) and lifelint's own line-shift-stable
finding fingerprint."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifelint.fingerprint import file_line_hashes, finding_fingerprint, line_hash

# Expected values from github/codeql-action's own test suite (src/fingerprints.test.ts), so our
# hashes are exactly what `upload-sarif` would compute.
GITHUB_VECTORS = [
    ("", ["c129715d7a2bc9a3:1"]),
    (" a\nb\n  \t\tc\n d", ["271789c17abda88f:1", "54703d4cd895b18:1", "180aee12dab6264:1", "a23a3dc5e078b07b:1"]),
    (" hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End",
     ["8b7cf3e952e7aeb2:1", "b1ae1287ec4718d9:1", "bff680108adb0fcc:1", "c6805c5e1288b612:1", "b86d3392aea1be30:1",
      "e6ceba753e1a442:1"]),
]
_ENDED = ["e9496ae3ebfced30:1", "fb7c023a8b9ccb3f:1", "ce8ba1a563dcdaca:1", "e20e36e16fcb0cc8:1", "b3edc88f2938467e:1",
          "c8e28b0b4002a3a0:1", "c129715d7a2bc9a3:1"]
GITHUB_VECTORS += [
    (" hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End\n", _ENDED),
    (" hello; \t\nworld!!!\r\r\r  \t\tGreetings\r End\r", _ENDED),
    (" hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n", _ENDED),
    (" hello; \t\nworld!!!\r\n\n\r  \t\tGreetings\r End\r\n", _ENDED),
    ("Lorem ipsum dolor sit amet.\n" * 10,
     ["a7f2ff13bc495cf2:1", "a7f2ff13bc495cf2:2", "a7f2ff13bc495cf2:3", "a7f2ff13bc495cf2:4", "a7f2ff13bc495cf2:5",
      "a7f2ff13bc495cf2:6", "a7f2ff1481e87703:1", "a9cf91f7bbf1862b:1", "55ec222b86bcae53:1", "cc97dc7b1d7d8f7b:1",
      "c129715d7a2bc9a3:1"]),
    ("x = 2\nx = 1\nprint(x)\nx = 3\nprint(x)\nx = 4\nprint(x)\n",
     ["e54938cc54b302f1:1", "bb609acbe9138d60:1", "1131fd5871777f34:1", "5c482a0f8b35ea28:1", "54517377da7028d2:1",
      "2c644846cb18d53e:1", "f1b89f20de0d133:1", "c129715d7a2bc9a3:1"]),
]


@pytest.mark.parametrize("text,expected", GITHUB_VECTORS, ids=range(len(GITHUB_VECTORS)))
def test_matches_codeql_action_vectors(text, expected):
    assert file_line_hashes(text) == expected


@pytest.mark.parametrize("text,expected", [v for v in GITHUB_VECTORS if "\r" not in v[0].replace("\r\n", "")])
def test_line_hash_takes_the_lines_the_engine_has(text, expected):
    # The engine splits the raw text at "\n" (CRLF lines keep their "\r").
    lines = text.split("\n")
    assert [line_hash(lines, n) for n in range(1, len(expected) + 1)] == expected
    # readlines()-style input (line ends kept) rebuilds the same text.
    kept = text.splitlines(keepends=True)
    if kept:
        assert [line_hash(kept, n) for n in range(1, len(expected) + 1)] == expected


def _reference(text: str) -> list[str]:
    """A direct, slow transcription of the published algorithm (streaming window, line numbers
    recorded per window slot), to check the fast implementation on random input."""
    block, mask = 100, (1 << 64) - 1
    first_mod = pow(37, block) & mask
    window, line_at = [0] * block, [-1] * block
    h, index, line_no, line_start, prev_cr = 0, 0, 0, True, False
    counts: dict[str, int] = {}
    out: dict[int, str] = {}

    def emit():
        nonlocal counts
        value = format(h, "x")
        counts[value] = counts.get(value, 0) + 1
        out[line_at[index]] = f"{value}:{counts[value]}"
        line_at[index] = -1

    def update(c):
        nonlocal h, index
        begin = window[index]
        window[index] = c
        h = (37 * h + c - first_mod * begin) & mask
        index = (index + 1) % block

    units = text.encode("utf-16-le", "surrogatepass")
    chars = [int.from_bytes(units[i:i + 2], "little") for i in range(0, len(units), 2)] + [0xFFFF]
    for c in chars:
        if c in (32, 9) or (prev_cr and c == 10):
            prev_cr = False
            continue
        if c == 13:
            c, prev_cr = 10, True
        else:
            prev_cr = False
        if line_at[index] != -1:
            emit()
        if line_start:
            line_start = False
            line_no += 1
            line_at[index] = line_no
        if c == 10:
            line_start = True
        update(c)
    for _ in range(block):
        if line_at[index] != -1:
            emit()
        update(0)
    return [out[n] for n in sorted(out)]


source_text = st.text(alphabet=st.sampled_from(list("ab{}();= \t\r\n\u00e9\u4e2d\U0001f600")), max_size=400)


@settings(max_examples=200, deadline=None)
@given(source_text)
def test_fast_hash_equals_reference(text):
    assert file_line_hashes(text) == _reference(text)


def test_long_lines_only_hash_their_first_100_characters():
    a = "x" * 150 + "A"
    b = "x" * 150 + "B"
    ha, hb = file_line_hashes(f"{a}\n{b}\n")[:2]
    assert ha.split(":")[0] == hb.split(":")[0]
    assert (ha, hb) == (ha.split(":")[0] + ":1", hb.split(":")[0] + ":2")


# Original lines never contain '@'; inserted ("unrelated") lines always start with it.
code_line = st.text(alphabet=st.sampled_from(list("abc(){};=*&  \t\u00e9")), max_size=30)
unrelated_line = st.text(alphabet=st.sampled_from(list("@xyz ;")), max_size=30).map(lambda s: "@" + s)


@settings(max_examples=150, deadline=None)
@given(st.lists(code_line, min_size=1, max_size=25), st.lists(unrelated_line, min_size=1, max_size=8), st.data())
def test_line_hash_survives_lines_inserted_above(lines, inserted, data):
    before = [line_hash(lines, n) for n in range(1, len(lines) + 1)]
    # Inserted at the top: every line keeps its whole value, occurrence count included.
    shifted = inserted + lines
    k = len(inserted)
    assert [line_hash(shifted, n + k) for n in range(1, len(lines) + 1)] == before
    # Inserted anywhere: lines below keep their hash (the window only looks forward); only the
    # occurrence count may move, as on GitHub.
    at = data.draw(st.integers(0, len(lines)))
    mixed = lines[:at] + inserted + lines[at:]
    for n in range(at + 1, len(lines) + 1):
        assert line_hash(mixed, n + k).split(":")[0] == before[n - 1].split(":")[0]


def fingerprints_of(path: str, lines: list[str], code: str = "LL101") -> list[str]:
    """One finding per line, occurrence counted the way the engine counts it."""
    seen: dict[str, int] = {}
    out = []
    for text in lines:
        key = text.strip()
        occ = seen.get(key, 0)
        seen[key] = occ + 1
        out.append(finding_fingerprint(code, path, text, "", occ))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(code_line, min_size=1, max_size=25), st.lists(unrelated_line, min_size=1, max_size=8), st.data())
def test_finding_fingerprint_survives_lines_inserted_above(lines, inserted, data):
    before = fingerprints_of("src/a.cpp", lines)
    at = data.draw(st.integers(0, len(lines)))
    mixed = lines[:at] + inserted + lines[at:]
    after = fingerprints_of("src/a.cpp", mixed)
    assert after[:at] + after[at + len(inserted):] == before


def test_identical_lines_get_different_occurrence_suffixes():
    fps = fingerprints_of("src/a.cpp", ["use(p);", "other();", "  use(p);", "use(p);"])
    assert fps[0].split(":")[0] == fps[2].split(":")[0] == fps[3].split(":")[0]
    assert [fps[0].split(":")[1], fps[2].split(":")[1], fps[3].split(":")[1]] == ["0", "1", "2"]
    assert len(set(fps)) == 4
    # GitHub's hash looks 100 characters ahead, so lines that long are identical windows.
    long = "use(" + "p" * 120 + ");"
    hashes = file_line_hashes(f"{long}\nother();\n{long}\n")
    assert hashes[0].split(":")[0] == hashes[2].split(":")[0]
    assert (hashes[0][-2:], hashes[2][-2:]) == (":1", ":2")


def test_finding_fingerprint_ignores_whitespace_but_not_code_path_or_text():
    base = finding_fingerprint("LL101", "src/a.cpp", "    auto s = span(v);", "", 0)
    assert finding_fingerprint("LL101", "src/a.cpp", "\tauto  s =  span(v);  ", "", 0) == base
    assert finding_fingerprint("ll101", "src\\a.cpp", "auto s = span(v);", "", 0) == base
    assert finding_fingerprint("LL102", "src/a.cpp", "auto s = span(v);", "", 0) != base
    assert finding_fingerprint("LL101", "src/b.cpp", "auto s = span(v);", "", 0) != base
    assert finding_fingerprint("LL101", "src/a.cpp", "auto t = span(v);", "", 0) != base
    assert finding_fingerprint("LL101", "src/a.cpp", "auto s = span(v);", "void f()", 0) != base
    assert base.endswith(":0") and len(base.split(":")[0]) == 16


def test_line_hash_out_of_range_is_still_a_value():
    assert line_hash([], 1) == "c129715d7a2bc9a3:1"
    assert line_hash(["a", "b"], 99) == line_hash(["a", "b"], 2)
