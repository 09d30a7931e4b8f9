"""Settings come from the environment and refuse configurations that must not run."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from app.setting_fields import documented_default, env_setting
from app.settings import Settings, SettingsError


def test_defaults_match_librechat_names_and_values() -> None:
    settings = Settings.from_env({})
    assert settings.port == 3080
    assert settings.mongo_uri is None and settings.embedded_db
    assert settings.max_json_body_bytes == 3 * 1024 * 1024
    assert settings.import_max_file_bytes == 262_144_000
    assert (settings.fork_user_max, settings.fork_user_window_min) == (7, 1)
    assert settings.graphiql and settings.introspection


def test_mongodb_uri_is_accepted_when_mongo_uri_is_unset() -> None:
    settings = Settings.from_env({"MONGODB_URI": "mongodb://db:27017/x"})
    assert settings.mongo_uri == "mongodb://db:27017/x"
    both = Settings.from_env({"MONGO_URI": "mongodb://a/x", "MONGODB_URI": "mongodb://b/y"})
    assert both.mongo_uri == "mongodb://a/x"


def test_production_refuses_to_start_without_a_secret() -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        Settings.from_env({"CONVOS_ENV": "production"})


def test_production_accepts_librechats_secret_whatever_its_length() -> None:
    # The gateway must verify the tokens LibreChat already issues.
    settings = Settings.from_env({"CONVOS_ENV": "production", "JWT_SECRET": "short"})
    assert settings.jwt_secret == "short"


def test_production_turns_graphiql_and_introspection_off_unless_asked() -> None:
    secret = "x" * 40
    settings = Settings.from_env({"CONVOS_ENV": "production", "JWT_SECRET": secret})
    assert not settings.graphiql and not settings.introspection
    opened = Settings.from_env(
        {"CONVOS_ENV": "production", "JWT_SECRET": secret, "GRAPHQL_INTROSPECTION": "true"}
    )
    assert opened.introspection


def test_malformed_numbers_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="PORT"):
        Settings.from_env({"PORT": "eighty"})


def test_zero_limiter_values_fall_back_to_defaults_as_in_librechat() -> None:
    assert Settings.from_env({"FORK_USER_MAX": "0"}).fork_user_max == 7


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings.from_env({"CONVOS_DATA_DIR": str(tmp_path)})
    first = settings.with_secret()
    second = Settings.from_env({"CONVOS_DATA_DIR": str(tmp_path)}).with_secret()
    assert first.jwt_secret and first.jwt_secret == second.jwt_secret
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o777 == 0o600


def test_an_explicit_secret_wins_over_the_stored_one(tmp_path: Path) -> None:
    Settings.from_env({"CONVOS_DATA_DIR": str(tmp_path)}).with_secret()
    explicit = Settings.from_env({"CONVOS_DATA_DIR": str(tmp_path), "JWT_SECRET": "mine"})
    assert explicit.with_secret().jwt_secret == "mine"


def test_title_generation_can_be_switched_off() -> None:
    assert Settings.from_env({}).title_generation
    assert not Settings.from_env({"TITLE_GENERATION": "false"}).title_generation


def test_messages_per_conversation_is_read_and_must_be_positive() -> None:
    env = {"GRAPHQL_MAX_MESSAGES_PER_CONVERSATION": "500"}
    assert Settings.from_env(env).max_messages_per_conversation == 500
    assert Settings.from_env({}).max_messages_per_conversation == 2000
    with pytest.raises(SettingsError, match="GRAPHQL_MAX_MESSAGES_PER_CONVERSATION"):
        Settings.from_env({"GRAPHQL_MAX_MESSAGES_PER_CONVERSATION": "0"})


README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_table() -> dict[tuple[str, ...], str]:
    """README's configuration table: variable names (aliases included) -> default."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[tuple[str, ...], str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        name_cell, default_cell, _ = (cell.strip() for cell in line.strip("|").split("|", 2))
        rows[tuple(re.findall(r"`([A-Z][A-Z0-9_]*)`", name_cell))] = default_cell.replace("`", "")
    return rows


def _declared() -> dict[tuple[str, ...], tuple[str, str]]:
    """Each setting's variable names -> (default as documented, reason)."""
    return {
        env_setting(f).names: (documented_default(f), env_setting(f).reason)
        for f in fields(Settings)
    }


def test_every_settings_field_is_declared_with_its_variable_and_reason() -> None:
    for f in fields(Settings):
        spec = env_setting(f)
        assert spec.names and spec.reason.strip(), f.name


def test_readme_table_documents_every_setting_with_its_default() -> None:
    table = _readme_table()
    missing = [
        f"| {' / '.join(f'`{n}`' for n in names)} | `{default}` | {reason} |"
        for names, (default, reason) in _declared().items()
        if table.get(names) != default
    ]
    assert not missing, "README.md configuration table needs these rows:\n" + "\n".join(missing)


def test_readme_table_lists_no_variable_the_code_does_not_read() -> None:
    declared = _declared()
    assert [names for names in _readme_table() if names not in declared] == []


def test_production_defaults_apply_unless_the_variable_is_set() -> None:
    production = {"CONVOS_ENV": "production", "JWT_SECRET": "x" * 40}
    assert not Settings.from_env(production).field_suggestions
    assert Settings.from_env({**production, "GRAPHQL_FIELD_SUGGESTIONS": "1"}).field_suggestions
    assert Settings.from_env({}).field_suggestions
