"""Configuration: `lifelint.toml`, `.lifelint.toml` or `[tool.lifelint]` in pyproject.toml,
the nearest one up from the scanned path. Every key is validated; a bad one is a usage
error (exit 2) that names the file, the key and what is allowed."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any

from lifelint.settings import DEFAULT_IGNORE_MACROS, CppSettings, RustSettings, Settings

CONFIG_NAMES = ("lifelint.toml", ".lifelint.toml", "pyproject.toml")


class ConfigError(Exception):
    """A problem the user must fix in a config file or on the command line."""


def _str_list(where: str, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: key '{key}' must be a list of strings, got {value!r}")
    return list(value)


def find_config(start: Path) -> Path | None:
    """The nearest config file at or above `start` (a pyproject.toml counts only with [tool.lifelint])."""
    d = start.absolute()
    if not d.is_dir():
        d = d.parent
    for directory in (d, *d.parents):
        for name in CONFIG_NAMES:
            candidate = directory / name
            if not candidate.is_file():
                continue
            if name == "pyproject.toml":
                try:
                    doc = tomllib.loads(candidate.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                    continue
                if "lifelint" not in doc.get("tool", {}):
                    continue
            return candidate
    return None


def load_table(path: Path) -> dict[str, Any]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    # pyproject.toml keeps the settings under [tool.lifelint]; lifelint.toml at its top level.
    table = doc.get("tool", {}).get("lifelint", {}) if path.name == "pyproject.toml" else doc
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.lifelint] must be a table")
    return table


TOP_KEYS = {
    "select", "extend-select", "ignore", "per-file-ignores", "exclude", "extend-exclude",
    "respect-gitignore", "max-file-size", "baseline", "cpp", "rust", "levels", "fail-level", "context",
}
LEVEL_NAMES = ("note", "warning", "error")
CPP_KEYS = {"defines", "ignore-macros", "extend-ignore-macros", "async-sinks", "keep-alive", "lock-types",
            "lock-accessors", "lock-callback-methods",
            "platform-dirs",
            # compile database and deep mode (lifelint.compdb)
            "undefines", "compile-commands", "deep", "clang-resource-dir", "deep-timeout"}
RUST_KEYS: set[str] = set()


def validate_selectors(where: str, key: str, selectors: list[str]) -> list[str]:
    """Selectors are codes, code prefixes (`LL1`), rule names, group names (`nursery`), or `ALL`."""
    from lifelint.registry import GROUPS, catalog

    rules = catalog()
    out = []
    for s in selectors:
        s2 = s.strip()
        if s2.upper() == "ALL":
            out.append("LL")
            continue
        if any(r.code.startswith(s2.upper()) for r in rules) or any(r.name == s2.lower() for r in rules) or s2.lower() in GROUPS:
            out.append(s2)
            continue
        known = ", ".join(r.code for r in rules)
        raise ConfigError(f"{where}: key '{key}': unknown rule selector {s!r} (use a code such as {rules[0].code if rules else 'LL101'}, "
                          f"a prefix such as LL1, a rule name, a group ({', '.join(GROUPS)}), or ALL; known codes: {known})")
    return out


def _defines(where: str, value: Any) -> dict[str, str]:
    if isinstance(value, list):
        out = {}
        for item in value:
            if not isinstance(item, str) or not item:
                raise ConfigError(f"{where}: key 'cpp.defines' entries must be strings like 'NAME' or 'NAME=VALUE', got {item!r}")
            name, _, val = item.partition("=")
            out[name.strip()] = val.strip() or "1"
        return out
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, bool):
                out[k] = "1" if v else "0"
            elif isinstance(v, (int, str)):
                out[k] = str(v)
            else:
                raise ConfigError(f"{where}: key 'cpp.defines.{k}' must be a string, integer or boolean, got {v!r}")
        return out
    raise ConfigError(f"{where}: key 'cpp.defines' must be a table (NAME = value) or a list of 'NAME=VALUE' strings")


def _levels(where: str, value: Any) -> dict:
    """`[levels]`: selector (code, prefix, name, group, ALL) -> note | warning | error, as rule code ->
    Level; a later, more specific selector wins over a broader one (longer prefix, then names)."""
    from lifelint.model import Level
    from lifelint.registry import catalog

    if not isinstance(value, dict):
        raise ConfigError(f"{where}: key 'levels' must be a table of selector = \"note\" | \"warning\" | \"error\"")
    out: dict = {}
    ranked = []
    for sel, lvl in value.items():
        if lvl not in LEVEL_NAMES:
            raise ConfigError(f"{where}: key 'levels.{sel}' must be one of {', '.join(LEVEL_NAMES)}, got {lvl!r}")
        norm = validate_selectors(where, f"levels.{sel}", [sel])[0]
        is_group = not any(r.name == norm.lower() for r in catalog()) and norm[:2].upper() != "LL"
        ranked.append((1 if is_group else len(norm) if norm[:2].upper() == "LL" else 99, norm, Level(lvl)))
    for _, sel, lvl in sorted(ranked, key=lambda t: t[0]):
        for r in catalog():
            if _matches(sel, r.code, r.name, r.group):
                out[r.code] = lvl
    return out


def settings_from_table(table: dict[str, Any], where: str) -> Settings:
    s = Settings(config_path=where)
    unknown = sorted(set(table) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: {', '.join(sorted(TOP_KEYS))})")
    if "select" in table:
        s.select = validate_selectors(where, "select", _str_list(where, "select", table["select"]))
    if "extend-select" in table:
        s.extend_select = validate_selectors(where, "extend-select", _str_list(where, "extend-select", table["extend-select"]))
    if "ignore" in table:
        s.ignore = validate_selectors(where, "ignore", _str_list(where, "ignore", table["ignore"]))
    if "per-file-ignores" in table:
        pfi = table["per-file-ignores"]
        if not isinstance(pfi, dict):
            raise ConfigError(f"{where}: key 'per-file-ignores' must be a table of glob = [codes]")
        s.per_file_ignores = {g: validate_selectors(where, f"per-file-ignores.{g}", _str_list(where, f"per-file-ignores.{g}", v)) for g, v in pfi.items()}
    for key, attr in (("exclude", "exclude"), ("extend-exclude", "extend_exclude")):
        if key in table:
            setattr(s, attr, _str_list(where, key, table[key]))
    if "respect-gitignore" in table:
        if not isinstance(table["respect-gitignore"], bool):
            raise ConfigError(f"{where}: key 'respect-gitignore' must be true or false")
        s.respect_gitignore = table["respect-gitignore"]
    if "max-file-size" in table:
        v = table["max-file-size"]
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ConfigError(f"{where}: key 'max-file-size' must be a positive integer (bytes), got {v!r}")
        s.max_file_size = v
    if "baseline" in table:
        if not isinstance(table["baseline"], str) or not table["baseline"]:
            raise ConfigError(f"{where}: key 'baseline' must be a file path (string)")
        s.baseline = str(Path(where).parent / table["baseline"])
    if "levels" in table:
        s.levels = _levels(where, table["levels"])
    if "fail-level" in table:
        if table["fail-level"] not in LEVEL_NAMES:
            raise ConfigError(f"{where}: key 'fail-level' must be one of {', '.join(LEVEL_NAMES)}, got {table['fail-level']!r}")
        s.fail_level = table["fail-level"]
    if "context" in table:
        if not isinstance(table["context"], bool):
            raise ConfigError(f"{where}: key 'context' must be true or false")
        s.context = table["context"]
    cpp = table.get("cpp", {})
    if not isinstance(cpp, dict):
        raise ConfigError(f"{where}: key 'cpp' must be a table")
    unknown = sorted(set(cpp) - CPP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key 'cpp.{unknown[0]}' (allowed: {', '.join('cpp.' + k for k in sorted(CPP_KEYS))})")
    c = CppSettings()
    if "defines" in cpp:
        c.defines = _defines(where, cpp["defines"])
    if "ignore-macros" in cpp:
        c.ignore_macros = _str_list(where, "cpp.ignore-macros", cpp["ignore-macros"])
    if "extend-ignore-macros" in cpp:
        c.ignore_macros = [*c.ignore_macros, *_str_list(where, "cpp.extend-ignore-macros", cpp["extend-ignore-macros"])]
    for key, attr in (("async-sinks", "async_sinks"), ("keep-alive", "keep_alive"), ("lock-types", "lock_types"),
                      ("lock-accessors", "lock_accessors"), ("lock-callback-methods", "lock_callback_methods"),
                      ("platform-dirs", "platform_dirs")):
        if key in cpp:
            setattr(c, attr, _str_list(where, f"cpp.{key}", cpp[key]))
    _compile_database_keys(where, cpp, c)
    s.cpp = c
    rust = table.get("rust", {})
    if not isinstance(rust, dict):
        raise ConfigError(f"{where}: key 'rust' must be a table")
    if rust:
        raise ConfigError(f"{where}: unknown key 'rust.{sorted(rust)[0]}' (the rust table has no keys yet)")
    s.rust = RustSettings()
    return s


def _compile_database_keys(where: str, cpp: dict[str, Any], c: CppSettings) -> None:
    """`cpp.undefines`, `cpp.compile-commands` (a database file or its folder, relative to the
    config file), `cpp.deep`, `cpp.clang-resource-dir`, `cpp.deep-timeout`."""
    if "undefines" in cpp:
        c.undefines = _str_list(where, "cpp.undefines", cpp["undefines"])
    for key, attr in (("compile-commands", "compile_commands"), ("clang-resource-dir", "clang_resource_dir")):
        if key in cpp:
            if not isinstance(cpp[key], str) or not cpp[key]:
                raise ConfigError(f"{where}: key 'cpp.{key}' must be a path (string)")
            setattr(c, attr, str((Path(where).parent / cpp[key]).absolute()))
    if "deep" in cpp:
        if not isinstance(cpp["deep"], bool):
            raise ConfigError(f"{where}: key 'cpp.deep' must be true or false")
        c.deep = cpp["deep"]
    if "deep-timeout" in cpp:
        v = cpp["deep-timeout"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ConfigError(f"{where}: key 'cpp.deep-timeout' must be a positive number of seconds, got {v!r}")
        c.deep_timeout = float(v)


def load_settings(config: str | None, start: Path) -> Settings:
    """Settings from `--config FILE`, else the nearest config file, else defaults."""
    if config:
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"{config}: config file not found")
    else:
        path = find_config(start)
    if path is None:
        return Settings()
    return settings_from_table(load_table(path), str(path))


def _matches(selector: str, code: str, name: str, group: str | None = None) -> bool:
    """A selector names this rule: a code prefix, its name, or its group."""
    s = selector.lower()
    return code.startswith(selector.upper()) or name == s or (group is not None and group == s)


def _group_of(code: str) -> str | None:
    from lifelint.registry import catalog

    return next((r.group for r in catalog() if r.code == code), None)


def enabled_codes(settings: Settings, cli_select: list[str] | None, cli_ignore: list[str] | None, cli_extend_select: list[str] | None = None) -> set[str]:
    from lifelint.registry import catalog

    select = validate_selectors("--select", "select", cli_select) if cli_select else settings.select
    extend = validate_selectors("--extend-select", "extend-select", cli_extend_select or []) + settings.extend_select
    ignore = settings.ignore + (validate_selectors("--ignore", "ignore", cli_ignore) if cli_ignore else [])
    out = set()
    for r in catalog():
        chosen = r.default_enabled if select is None else any(_matches(s, r.code, r.name, r.group) for s in select)
        chosen = chosen or any(_matches(s, r.code, r.name, r.group) for s in extend)
        if chosen and not any(_matches(s, r.code, r.name, r.group) for s in ignore):
            out.add(r.code)
    return out


def ignored_for_file(settings: Settings, display_path: str, code: str, name: str) -> bool:
    for pattern, selectors in settings.per_file_ignores.items():
        if fnmatch.fnmatch(display_path, pattern) or fnmatch.fnmatch(display_path, pattern.rstrip("/") + "/*") or Path(display_path).match(pattern):
            if any(_matches(s, code, name, _group_of(code)) for s in selectors):
                return True
    return False


__all__ = ["ConfigError", "DEFAULT_IGNORE_MACROS", "enabled_codes", "find_config", "ignored_for_file", "load_settings", "settings_from_table"]
