"""One file checked with its project as context, for the editor server and `check --stdin-filename`.

A `Workspace` is a context root (the repository around the file) whose files' facts are kept in
memory between checks: a file's facts are re-read only when its size or mtime changed (through
the on-disk fact cache, so a first check of a warm project parses nothing). The checked file may
come from memory (an unsaved buffer, stdin): its facts are extracted from that text, and it
replaces the file on disk. Only the checked file's rules run; every other file is indexed as
context (types, fields, locks, threads), so a lock declared in a header is known in a source.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from pathlib import Path

from lifelint.config import enabled_codes, load_settings
from lifelint.discovery import SourcePath, _display, discover, language_of
from lifelint.cache import content_digest, gc_paused
from lifelint.crates import CrateFinder
from lifelint.engine import FREEZE_MIN_LINES, ScanOptions, analyse_all_summarised, analyse_text, check_in_memory, default_jobs, find_context_root
from lifelint.model import ScanResult
from lifelint.summary import summarize


@dataclass(slots=True)
class _Entry:
    stamp: tuple[int, int]  # (size, mtime_ns) the facts were read at
    result: tuple  # (FileFacts | None, diagnostics)
    digest: bytes | None = None  # content digest of the bytes read (None: unreadable)
    summary: object = None  # lifelint.summary.FileSummary of the facts (None: no facts)


# Buffers whose last analysed text is kept (the files open in an editor, roughly).
MAX_BUFFERS = 32
# Indexes frozen (see Workspace.check) between two full collections.
SWEEP_EVERY = 32


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
        # absolute path -> (content digest, result, summary) of the text last checked from memory: the same
        # text again (a save after the edit was checked, the file reopened) is not analysed again,
        # and the file on disk holding that text takes these very facts as its context entry.
        self._buffers: dict[str, tuple[bytes, tuple, object]] = {}
        # The project index and its passes, kept while no file's facts change (lifelint.index).
        from lifelint.index import IndexCache

        self._index = IndexCache()
        self._frozen = False  # the context's facts were frozen out of the collector's sight
        self._since_sweep = 0  # indexes frozen since the last full collection
        self.analysed = 0  # files analysed (parsed or read from the fact cache) so far, for tests

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

    def forget_buffer(self, path: str | Path) -> None:
        """The editor closed the file: its in-memory text is no longer wanted."""
        self._buffers.pop(str(Path(path).absolute()), None)

    def _discover(self) -> list[SourcePath]:
        if self._files is None:
            if self.context:
                s = self.settings
                self._files = discover([str(self.root)], self.display_root, [*s.exclude, *s.extend_exclude], s.respect_gitignore).files
            else:
                self._files = []
        return self._files

    def _context_facts(self, files: list[SourcePath]) -> list[tuple]:
        stale: list[tuple[int, bytes | None]] = []
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
            todo: list[tuple[int, bytes | None]] = []
            for i in stale:
                path = os.path.abspath(files[i].path)
                digest = _digest_on_disk(files[i].path, self.settings.max_file_size)
                buf = self._buffers.get(path)
                if digest is not None and buf is not None and buf[0] == digest:
                    # saved as last checked: the same facts object, so the index stays valid
                    self._facts[files[i].path] = _Entry(stamps[i] or (0, 0), buf[1], digest, buf[2])
                else:
                    todo.append((i, digest))
            if todo:
                fresh, sums = analyse_all_summarised([files[i] for i, _ in todo], self.settings, default_jobs(),
                                                     use_cache=self.use_cache, cache_dir=self.cache_dir)
                self.analysed += len(todo)
                if sum(facts.line_count for facts, _ in fresh if facts is not None) >= FREEZE_MIN_LINES:
                    # A project's facts live as long as the workspace: out of the cyclic collector's
                    # sight, or every full collection (one per check or so) walks them all again.
                    # Facts hold no cycles: a file's replaced facts are still freed by refcount.
                    # The index built on the old facts is released (no cycles left), and what
                    # garbage cycles there are collected first, or freezing would keep them for good.
                    if self._index.clear():
                        gc.collect()
                    gc.freeze()
                    self._frozen = True
                for (i, digest), res, summary in zip(todo, fresh, sums):
                    self._facts[files[i].path] = _Entry(stamps[i] or (0, 0), res, digest, summary)
        live = {s.path for s in files}
        for gone in [p for p in self._facts if p not in live]:
            del self._facts[gone]
        return [(self._facts[s.path].result, self._facts[s.path].summary) for s in files]

    def _buffer_result(self, me: SourcePath, text: bytes, on_disk: _Entry | None) -> tuple:
        """(the facts of `text` as `me`, their summary): the file's own context entry when it holds
        these bytes, the buffer's last result when the text is unchanged, else analysed now."""
        digest = content_digest(text)
        if on_disk is not None and on_disk.digest == digest:
            return on_disk.result, on_disk.summary
        buf = self._buffers.pop(me.path, None)
        if buf is None or buf[0] != digest:
            result = analyse_text(me, text, self.settings)
            buf = (digest, result, summarize(result[0]) if result[0] is not None else None)
            self.analysed += 1
        self._buffers[me.path] = buf  # most recent last
        while len(self._buffers) > MAX_BUFFERS:
            del self._buffers[next(iter(self._buffers))]
        return buf[1], buf[2]

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
        me = SourcePath(full, display, lang, crate=CrateFinder(self.display_root).crate_of(full) if lang == "rust" else None)
        # Every file in discovery order (the order a whole scan indexes them in), this one in its
        # place; a file discovery leaves out (excluded, outside the root) goes first.
        files = list(self._discover())
        mine_at = next((i for i, s in enumerate(files) if os.path.abspath(s.path) == full), None)
        context = self._context_facts(files)
        analysed, summaries = [r for r, _ in context], [s for _, s in context]
        on_disk = self._facts.get(files[mine_at].path) if mine_at is not None else None
        mine, my_summary = self._buffer_result(me, text, on_disk)
        if mine_at is None:
            files, analysed, summaries = [me, *files], [mine, *analysed], [my_summary, *summaries]
        else:
            files[mine_at], analysed[mine_at], summaries[mine_at] = me, mine, my_summary
        builds = self._index.builds
        # A new index and its passes are hundreds of thousands of objects that live until the
        # next edit: made with the collector off (each collection would walk them all again, six
        # or so per check on a 300k-line project), then frozen with the facts when those are.
        # The index they replace was released (lifelint.index.IndexCache): reference counting
        # frees it, frozen or not.
        with gc_paused():
            result = check_in_memory(opts, files, analysed, {display}, {display: text}, index_cache=self._index,
                                     summaries=summaries)
            if self._frozen and self._index.builds != builds:
                self._since_sweep += 1
                if self._since_sweep >= SWEEP_EVERY:
                    # Freezing also freezes what garbage cycles a check left (a recursive closure
                    # here and there): a full collection now and then frees them.
                    self._since_sweep = 0
                    gc.unfreeze()
                    gc.collect()
                gc.freeze()  # before the collector is back on: its next pass would walk them all
        return result


def _digest_on_disk(path: str, max_size: int) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_size + 1)
    except OSError:
        return None
    return content_digest(data) if len(data) <= max_size else None
