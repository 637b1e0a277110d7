"""Config files: discovery, keys, validation errors (exit 2 naming file, key and what is allowed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import findings_json
from lifelint.config import ConfigError, find_config, load_settings, settings_from_table


def test_lifelint_toml_ignore(tree, run_cli):
    (tree / "lifelint.toml").write_text('ignore = ["LL108"]\n')
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0 and findings_json(out) == []


def test_pyproject_tool_table(tree, run_cli):
    (tree / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.lifelint]\nselect = ["LL2"]\n')
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0


def test_pyproject_without_tool_table_is_not_a_config(tree):
    (tree / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(tree / "src") is None


def test_nearest_config_wins(tree, run_cli):
    (tree / "lifelint.toml").write_text('ignore = ["LL108"]\n')
    (tree / "src" / ".lifelint.toml").write_text('select = ["ALL"]\n')
    code, out, _ = run_cli(["check", "--format", "json", "src"], tree)
    assert code == 1


def test_per_file_ignores(tree, run_cli):
    (tree / "lifelint.toml").write_text('[per-file-ignores]\n"src/backend.cpp" = ["LL108"]\n')
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0


def test_exclude_and_extend_exclude(tree, run_cli):
    (tree / "lifelint.toml").write_text('extend-exclude = ["src/backend.cpp"]\n')
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0
    # Named files are scanned all the same ...
    code, out, _ = run_cli(["check", "--format", "json", "src/backend.cpp"], tree)
    assert code == 1
    # ... unless --force-exclude (what the pre-commit hook passes).
    code, out, _ = run_cli(["check", "--format", "json", "--force-exclude", "src/backend.cpp"], tree)
    assert code == 0


def test_gitignore_is_respected(tree, run_cli):
    (tree / ".gitignore").write_text("src/backend.cpp\n")
    code, out, _ = run_cli(["check", "--format", "json", "."], tree)
    assert code == 0


def test_explicit_config_flag(tree, run_cli, tmp_path_factory):
    other = tmp_path_factory.mktemp("cfg") / "custom.toml"
    other.write_text('ignore = ["LL1"]\n')
    code, _, _ = run_cli(["check", "--config", other, "."], tree)
    assert code == 0


@pytest.mark.parametrize("body,needle", [
    ('selekt = ["LL1"]\n', "unknown key 'selekt'"),
    ('select = "LL1x"\n', "unknown rule selector 'LL1x'"),
    ('select = [1]\n', "key 'select' must be a list of strings"),
    ('max-file-size = -3\n', "key 'max-file-size' must be a positive integer"),
    ('[cpp]\nasync-sink = ["x"]\n', "unknown key 'cpp.async-sink'"),
    ('[cpp]\ndefines = 3\n', "key 'cpp.defines'"),
    ('select = [\n', "invalid TOML"),
])
def test_bad_config_exits_2_naming_file_and_key(tree, run_cli, body, needle):
    (tree / "lifelint.toml").write_text(body)
    code, out, err = run_cli(["check", "."], tree)
    assert code == 2
    assert "lifelint.toml" in err and needle in err


def test_cpp_knobs_are_read(tmp_path):
    s = settings_from_table({"cpp": {"defines": ["FOO=2", "BAR"], "async-sinks": ["enqueue"], "lock-types": ["my_guard"],
                                     "lock-accessors": ["lockedState"], "lock-callback-methods": ["withState"],
                                     "extend-ignore-macros": ["MY_MACRO"]}}, "t.toml")
    assert s.cpp.lock_accessors == ["lockedState"] and s.cpp.lock_callback_methods == ["withState"]
    assert s.cpp.defines == {"FOO": "2", "BAR": "1"}
    assert s.cpp.async_sinks == ["enqueue"] and s.cpp.lock_types == ["my_guard"]
    assert "MY_MACRO" in s.cpp.ignore_macros and "*_EXPORT" in s.cpp.ignore_macros


def test_missing_explicit_config(tmp_path):
    with pytest.raises(ConfigError):
        load_settings(str(tmp_path / "nope.toml"), tmp_path)


def test_defaults_without_config(tmp_path):
    s = load_settings(None, Path(tmp_path))
    assert s.select is None and s.config_path is None


def test_opt_in_rules_need_selecting():
    from lifelint.config import enabled_codes
    from lifelint.registry import all_rules
    from lifelint.settings import Settings

    opt_in = {r.code for r in all_rules() if not r.default_enabled}
    assert "LL303" in opt_in
    default = enabled_codes(Settings(), None, None)
    assert not default & opt_in and "LL108" in default
    assert "LL303" in enabled_codes(Settings(), ["ALL"], None)
    assert "LL303" in enabled_codes(Settings(), ["LL3"], None)
    assert "LL303" in enabled_codes(Settings(), None, None, ["LL303"])
    assert enabled_codes(Settings(), None, None, ["LL303"]) == default | {"LL303"}


def test_groups_select_their_rules(tmp_path):
    """A group name selects exactly the rules in that group; nursery and restriction rules are
    opt-in, and a group can be ignored like a code."""
    from lifelint.config import enabled_codes
    from lifelint.registry import GROUPS, all_rules
    from lifelint.settings import Settings

    by_group = {g: {r.code for r in all_rules() if r.group == g} for g in GROUPS}
    assert by_group["restriction"] == {"LL303"}
    default = enabled_codes(Settings(), None, None)
    assert default == by_group["default"]
    assert enabled_codes(Settings(), ["restriction"], None) == {"LL303"}
    assert enabled_codes(Settings(), None, None, ["nursery"]) == default | by_group["nursery"]
    assert enabled_codes(Settings(), ["ALL"], ["restriction"]) == by_group["default"] | by_group["nursery"]
    cfg = tmp_path / "lifelint.toml"
    cfg.write_text('extend-select = ["restriction"]\n')
    assert "LL303" in enabled_codes(load_settings(str(cfg), tmp_path), None, None)
    cfg.write_text('extend-select = ["nurseryy"]\n')
    with pytest.raises(ConfigError, match="group"):
        load_settings(str(cfg), tmp_path)


def test_a_rule_off_by_default_without_a_group_is_in_the_nursery():
    from lifelint.model import Level
    from lifelint.registry import Rule

    class Probe(Rule):
        code, name, languages, level, summary = "LL999", "probe", ("cpp",), Level.WARNING, "x"
        default_enabled = False

    assert Probe.group == "nursery" and Probe.default_enabled is False

    class Restricted(Rule):
        code, name, languages, level, summary = "LL998", "probe2", ("cpp",), Level.WARNING, "x"
        group = "restriction"

    assert Restricted.default_enabled is False
    with pytest.raises(RuntimeError, match="unknown group"):
        class Bad(Rule):  # noqa: F841
            group = "pedantic"
