"""Reading one source file safely: size, binary and encoding guards.

Returns the bytes to parse, or a one-line diagnostic. Never raises for bad input.
"""

from __future__ import annotations

import errno
import os

from lifelint.model import FileDiagnostic


def read_source(path: str, display: str, max_size: int) -> tuple[bytes | None, list[FileDiagnostic]]:
    diags: list[FileDiagnostic] = []
    try:
        size = os.stat(path).st_size
        if size > max_size:
            return None, [FileDiagnostic(display, "too-large", f"{size} bytes is over the {max_size}-byte limit (max-file-size); skipped")]
        with open(path, "rb") as fh:
            data = fh.read(max_size + 1)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return None, [FileDiagnostic(display, "symlink-loop", "symbolic link loop; skipped")]
        if e.errno == errno.EISDIR:
            return None, [FileDiagnostic(display, "unreadable", "is a directory; skipped")]
        return None, [FileDiagnostic(display, "unreadable", f"{e.strerror or e}; skipped")]
    if b"\x00" in data[:8192]:
        return None, [FileDiagnostic(display, "binary", "looks binary (NUL bytes); skipped")]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        diags.append(FileDiagnostic(display, "encoding", f"not valid UTF-8 (byte 0x{data[e.start]:02x} on line {line}); analysed with the bad bytes replaced"))
    return data, diags
