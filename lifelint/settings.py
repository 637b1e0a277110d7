"""Resolved settings, after config files and CLI flags (config.py builds these)."""

from __future__ import annotations

from dataclasses import dataclass, field

# Defaults for the C++ pre-pass: export/attribute macros that sit where the grammar wants a
# name. Glob patterns (fnmatch), matched against whole identifiers; the pre-pass leaves a
# match alone where it is used as a value (`x | FILE_ATTRIBUTE_HIDDEN`, `case IFA_LOCAL:`).
# `*_THREAD_LOCAL` matches (via `*_LOCAL`) are rewritten to `thread_local`, not dropped.
DEFAULT_IGNORE_MACROS = (
    "*_EXPORT", "*_EXPORT_*", "*_API", "*_API_*", "*_DEPRECATED*", "*_EXTRA_EXPORT", "*_NODISCARD",
    "*_FINAL", "*_OVERRIDE", "*_NOEXCEPT", "*_NOEXCEPT_*", "*_INLINE", "*_FORCEINLINE", "*_ALIGN*", "*_UNUSED",
    "*_MAYBE_UNUSED", "*_NORETURN", "*_VISIBILITY*", "*_HIDDEN", "*_LOCAL", "*_DECL", "*_CONSTEXPR",
)


@dataclass(slots=True)
class CppSettings:
    # `#if` resolution: NAME -> value ("1", "0", ...); a name listed with None is defined as 1.
    defines: dict[str, str] = field(default_factory=dict)
    ignore_macros: list[str] = field(default_factory=lambda: list(DEFAULT_IGNORE_MACROS))
    # Extra callees that run a callback later on another thread (beyond post/dispatch/...).
    async_sinks: list[str] = field(default_factory=list)
    # Extra expressions that keep an object alive in a callback (beyond shared_from_this).
    keep_alive: list[str] = field(default_factory=list)
    # Extra RAII lock types (beyond std/boost/absl guards).
    lock_types: list[str] = field(default_factory=list)
    # Extra methods that lock their object and return a locked pointer (beyond folly's `wlock`...),
    # and methods that run a callback under the object's lock (beyond `withWLock`...).
    lock_accessors: list[str] = field(default_factory=list)
    lock_callback_methods: list[str] = field(default_factory=list)
    # Extra directory names / file-name suffixes that mark platform-exclusive sources
    # ("qnx", or "name=tag" onto a known tag), beyond lifelint.platforms' defaults.
    platform_dirs: list[str] = field(default_factory=list)
    # --- compile database and deep mode (lifelint.compdb, lifelint.facts.clang_types) ---
    # Names known NOT to be defined (`-U`): `#ifdef NAME` is false, `#if NAME` is 0.
    undefines: list[str] = field(default_factory=list)
    compile_commands: str | None = None  # compile_commands.json (absolute), from -p / --compile-commands / config
    deep: bool | None = None  # libclang facts; None: on when there is a compile database
    clang_resource_dir: str | None = None  # clang's resource dir (its include/ has stddef.h...); None: searched
    deep_timeout: float = 60.0  # seconds per translation unit

    def deep_on(self) -> bool:
        return self.compile_commands is not None and self.deep is not False

    def fact_key(self) -> str:
        """Everything here that changes the facts of a file (for the cache key). A file's own
        compile flags are part of its entry's key instead (lifelint.cache)."""
        return repr((sorted(self.defines.items()), self.ignore_macros, self.async_sinks, self.keep_alive, self.lock_types, self.lock_accessors,
                     sorted(self.undefines), self.deep_on(), self.clang_resource_dir))


@dataclass(slots=True)
class RustSettings:
    def fact_key(self) -> str:
        return ""


@dataclass(slots=True)
class Settings:
    select: list[str] | None = None  # None: every rule that is on by default (Rule.default_enabled)
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    extend_exclude: list[str] = field(default_factory=list)
    respect_gitignore: bool = True
    max_file_size: int = 4 * 1024 * 1024  # bytes; larger files get a one-line diagnostic
    baseline: str | None = None  # accepted findings (lifelint.baseline), resolved against the config's folder
    cpp: CppSettings = field(default_factory=CppSettings)
    rust: RustSettings = field(default_factory=RustSettings)
    config_path: str | None = None  # where these came from, for messages
    levels: dict = field(default_factory=dict)  # rule code -> Level, overriding the rule's default
    # Read the rest of the repository (git root, or this config file's folder) for its facts when
    # only some paths are checked (engine.context_root); `context = false` turns it off.
    context: bool = True
    fail_level: str | None = None  # "note" | "warning" | "error": the lowest level that fails the run

    def fact_key(self) -> str:
        return self.cpp.fact_key() + "|" + self.rust.fact_key()
