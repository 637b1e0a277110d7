"""The project-wide index, built once from every file's facts, read by the rules.

It holds lookups that cross files (classes by name, functions by name, globals by name).
Rules that need a project-wide derived map compute it once with `memo`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Callable

from lifelint.facts import FileFacts


class ProjectIndex:
    def __init__(self, files: list[FileFacts], settings=None, summaries: list | None = None):
        """`summaries`: each file's lifelint.summary.FileSummary, in `files` order (None: made
        from the facts)."""
        from lifelint.summary import summarize

        self.files = files
        self.settings = settings
        self.summaries = summaries if summaries is not None else [summarize(f) for f in files]
        self.cpp_classes: dict[str, list[tuple[FileFacts, Any]]] = defaultdict(list)
        self.cpp_functions: dict[str, list[tuple[FileFacts, Any]]] = defaultdict(list)
        self.cpp_globals: dict[str, list[tuple[FileFacts, Any]]] = defaultdict(list)
        self.rust_functions: dict[str, list[tuple[FileFacts, Any]]] = defaultdict(list)
        self.cpp_aliases: dict[str, set[str]] = defaultdict(set)  # alias name -> aliased types
        self._memo: dict[str, Any] = {}
        for f in files:
            if f.cpp is not None:
                for c in f.cpp.classes:
                    self.cpp_classes[c.name].append((f, c))
                for fn in f.cpp.functions:
                    self.cpp_functions[fn.name].append((f, fn))
                for g in f.cpp.globals:
                    self.cpp_globals[g.name].append((f, g))
            if f.rust is not None:
                for fn in f.rust.functions:
                    self.rust_functions[fn.name].append((f, fn))
        for s in self.summaries:
            for name, target in s.aliases.items():
                self.cpp_aliases[name].add(target)

    def memo(self, key: str, build: Callable[["ProjectIndex"], Any]) -> Any:
        """A project-wide derived value, computed on first use and shared by every rule."""
        if key not in self._memo:
            self._memo[key] = build(self)
        return self._memo[key]

    def release(self) -> None:
        """Drop the memos, first letting each pass that links its objects in cycles (the lock
        index's call graph, the thread model) unlink them: a dropped index is then freed by
        reference counting, with no cyclic collection walking it (see IndexCache)."""
        for value in self._memo.values():
            release = getattr(value, "release", None)
            if callable(release):
                release()
        self._memo.clear()

    def resolve_alias(self, type_name: str, depth: int = 4) -> str | None:
        """What a `using`/`typedef` name stands for, when every definition in the project agrees
        (followed through a few levels of aliases)."""
        targets = self.cpp_aliases.get(type_name)
        if not targets or len(targets) != 1:
            return None
        target = next(iter(targets))
        base = target.split("<", 1)[0].replace(" ", "").split("::")[-1]
        if depth > 0 and base != type_name and base in self.cpp_aliases:
            return self.resolve_alias(base, depth - 1) or target
        return target

    def methods_of(self, class_name: str) -> list[tuple[FileFacts, Any]]:
        """Every definition of a method of `class_name`, inline or out of line, in any file."""
        return self.memo("methods-by-class", _methods_by_class).get(class_name, [])

    def subclasses(self, name: str) -> set[str]:
        """The short names of class `name` and of every class deriving from it, transitively (what
        a call on a `name&` may dispatch to)."""
        kids = self.memo("derived-classes", _derived_classes)
        out, todo = set(), [name]
        while todo:
            n = todo.pop()
            if n not in out:
                out.add(n)
                todo.extend(kids.get(n, ()))
        return out


def _methods_by_class(index: ProjectIndex) -> dict[str, list[tuple[FileFacts, Any]]]:
    out: dict[str, list[tuple[FileFacts, Any]]] = defaultdict(list)
    for f in index.files:
        if f.cpp is None:
            continue
        for fn in f.cpp.functions:
            if fn.class_name:
                out[fn.class_name.split("::")[-1]].append((f, fn))
    return dict(out)


def _derived_classes(index: ProjectIndex) -> dict[str, set[str]]:
    """short class name -> the short names of the classes naming it as a direct base."""
    kids: dict[str, set[str]] = {}
    for items in index.cpp_classes.values():
        for _f, k in items:
            for b in k.bases:
                words = re.findall(r"[A-Za-z_]\w*", b.split("<", 1)[0])
                if words:
                    kids.setdefault(words[-1], set()).add(k.name)
    return kids


class IndexCache:
    """The last ProjectIndex built, with its memos (lock index, thread model, the rules'
    project-wide tables), reused while exactly the same facts objects are indexed in the same
    order under the same settings. A long-lived caller (lifelint.workspace) keeps its context
    files' facts objects between checks, so a check that changes no facts (another file opened,
    a save of the text just checked) skips every project-wide pass; a changed file is a new facts
    object, and the index is built again. A dropped index is released (ProjectIndex.release): no
    cycle is left for the collector to find, so a caller may freeze the index it keeps (gc.freeze)
    and still have it freed when it is replaced."""

    __slots__ = ("_key", "_index", "builds")

    def __init__(self):
        self._key: tuple | None = None
        self._index: ProjectIndex | None = None
        self.builds = 0  # indexes built (for tests)

    def get(self, files: list[FileFacts], settings, summaries: list | None = None) -> ProjectIndex:
        # Object identities are a sound key: the cached index holds every facts object it was
        # built from, so none of those ids can be taken by a new object while it is cached.
        key = (id(settings), *map(id, files))
        if self._index is None or key != self._key or self._index.settings is not settings:
            self.clear()  # the old index (and its memos) go before the next is built
            self._index = ProjectIndex(files, settings, summaries)
            self._key = key
            self.builds += 1
        return self._index

    def clear(self) -> bool:
        """Drop the index; True when there was one."""
        had = self._index is not None
        if had:
            self._index.release()
        self._key = self._index = None
        return had
