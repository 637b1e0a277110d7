"""One file checked with its project as context, for the editor server and `check --stdin-filename`.

A `Workspace` is a context root (the repository around the file) whose files' facts are kept in
memory between checks: a file's facts are re-read only when its size or mtime changed (through
the on-disk fact cache, so a first check of a warm project parses nothing). The checked file may
come from memory (an unsaved buffer, stdin): its facts are extracted from that text, and it
replaces the file on disk. Only the checked file's rules run; every other file is indexed as
context (types, fields, locks, threads), so a lock declared in a header is known in a source.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lifelint.config import enabled_codes, load_settings
from lifelint.discovery import SourcePath, _display, discover, language_of
from lifelint.engine import ScanOptions, analyse_all, analyse_text, check_in_memory, default_jobs, find_context_root
from lifelint.model import ScanResult


@dataclass(slots=True)
class _Entry:
    stamp: tuple[int, int]  # (size, mtime_ns) the facts were read at
    result: tuple  # (FileFacts | None, diagnostics)


class Workspace:
    def __init__(self, root: Path, settings=None, enabled: set[str] | None = None, *,
                 use_cache: bool = True, cache_dir: str | None = None, context: bool = True,
                 display_root: Path | None = None):
        self.root = Path(root).absolute()  # the context root
        # reported paths are relative to this (the CLI's --root; the context root in the editor)
        self.display_root = Path(display_root).absolute() if display_root else self.root
        self.settings = settings if settings is not None else load_settings(None, self.root)
        self.enabled = enabled if enabled is not None else enabled_codes(self.settings, None, None)
        self.use_cache = use_cache
        self.cache_dir = cache_dir
        self.context = context
        self._files: list[SourcePath] | None = None
        self._facts: dict[str, _Entry] = {}  # absolute path -> facts as of its stamp

    @classmethod
    def for_file(cls, path: str | Path, config: str | None = None, settings=None, **kw) -> "Workspace":
        """The workspace of a file: its context root (the repository around it, else its config
        file's folder), else the file's own folder with no context."""
        path = Path(path).absolute()
        settings = settings if settings is not None else load_settings(config, path.parent)
        root = find_context_root([str(path)], settings.config_path) if settings.context else None
        if root is None:
            return cls(path.parent, settings, context=False, **kw)
        return cls(root, settings, **kw)

    def forget_files(self) -> None:
        """Discover the project's files again at the next check (a file was created or deleted)."""
        self._files = None

    def _discover(self) -> list[SourcePath]:
        if self._files is None:
            if self.context:
                s = self.settings
                self._files = discover([str(self.root)], self.display_root, [*s.exclude, *s.extend_exclude], s.respect_gitignore).files
            else:
                self._files = []
        return self._files

    def _context_facts(self, files: list[SourcePath]) -> list[tuple]:
        stale: list[int] = []
        stamps: list[tuple[int, int] | None] = []
        for i, src in enumerate(files):
            try:
                st = os.stat(src.path)
                stamp = (st.st_size, st.st_mtime_ns)
            except OSError:
                stamp = None
            stamps.append(stamp)
            entry = self._facts.get(src.path)
            if entry is None or entry.stamp != stamp:
                stale.append(i)
        if stale:
            fresh = analyse_all([files[i] for i in stale], self.settings, default_jobs(), use_cache=self.use_cache, cache_dir=self.cache_dir)
            for i, res in zip(stale, fresh):
                self._facts[files[i].path] = _Entry(stamps[i] or (0, 0), res)
        live = {s.path for s in files}
        for gone in [p for p in self._facts if p not in live]:
            del self._facts[gone]
        return [self._facts[s.path].result for s in files]

    def check(self, path: str | Path, text: bytes | str | None = None) -> ScanResult:
        """Findings of one file (paths relative to the display root), `text` in place of the file on disk
        when given. A file that is neither C++ nor Rust gets an empty result."""
        full = str(Path(path).absolute())
        if isinstance(text, str):
            text = text.encode("utf-8")
        lang = language_of(full)
        display = _display(full, self.display_root)
        opts = ScanOptions(paths=[full], root=self.display_root, settings=self.settings, enabled=self.enabled)
        if lang is None:
            return ScanResult(root=str(self.display_root))
        if text is None:
            try:
                with open(full, "rb") as fh:
                    text = fh.read()
            except OSError:
                return ScanResult(root=str(self.display_root))
        me = SourcePath(full, display, lang)
        others = [s for s in self._discover() if os.path.abspath(s.path) != full]
        analysed = self._context_facts(others)
        mine = analyse_text(me, text, self.settings)
        return check_in_memory(opts, [me, *others], [mine, *analysed], {display}, {display: text})
