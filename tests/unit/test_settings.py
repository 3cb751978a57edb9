"""Settings: TOML, TGD_* overrides, secret files, refusal of nonsense and of missing secrets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tgd.settings import SettingsError, ensure_dev_secrets, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_defaults_give_an_embedded_sqlite_database(tmp_path: Path) -> None:
    settings = load_settings(environ={"TGD_DATA_DIR": str(tmp_path)})
    assert settings.mode == "development"
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'tgd.db'}"
    assert settings.retention.closed_file_months == 4
    assert settings.alerts.escalate_after_seconds == 10  # R-23b


def test_environment_overrides_sections_and_top_level_keys(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "TGD_DATABASE_URL": "sqlite:///x.db",
            "TGD_TWILIO_AUTH_TOKEN": "abc",
            "TGD_RETENTION_POSITIONS_DAYS": "5",
            "TGD_SECURITY_REQUIRE_TOTP": "false",
            "TGD_BARS_PORT": "1234",  # not ours: ignored
        }
    )
    assert settings.database_url == "sqlite:///x.db"
    assert settings.twilio.auth_token == "abc"
    assert settings.retention.positions_days == 5
    assert settings.security.require_totp is False


def test_toml_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'public_base_url = "https://tgd.example"\n[alerts]\nescalate_after_seconds = 20\n'
    )
    settings = load_settings(path, environ={"TGD_ALERTS_ESCALATE_AFTER_SECONDS": "12"})
    assert settings.public_base_url == "https://tgd.example"
    assert settings.twilio.public_base_url == "https://tgd.example"
    assert settings.alerts.escalate_after_seconds == 12


def test_secret_is_read_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-token\n")
    settings = load_settings(environ={"TGD_TWILIO_AUTH_TOKEN_FILE": str(secret)})
    assert settings.twilio.auth_token == "s3cr3t-token"


def test_missing_secret_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"twilio\.auth_token"):
        load_settings(environ={"TGD_TWILIO_AUTH_TOKEN_FILE": str(tmp_path / "nope")})


def test_unknown_key_in_toml_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[alerts]\nescalate_after = 3\n")
    with pytest.raises(SettingsError, match="unknown setting 'escalate_after'"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("TGD_ALERTS_ESCALATE_AFTER_SECONDS", "soon", "must be an integer"),
        ("TGD_MODE", "prod", "must be one of"),
        ("TGD_SECURITY_REQUIRE_TOTP", "maybe", "true or false"),
    ],
)
def test_values_of_the_wrong_type_are_refused(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ={key: value})


def test_production_refuses_a_missing_secret_and_names_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"'secret_key' is missing.*TGD_SECRET_KEY"):
        load_settings(environ={"TGD_MODE": "production", "TGD_DATA_DIR": str(tmp_path)})


def test_production_refuses_the_missing_twilio_token(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"twilio\.auth_token"):
        load_settings(
            environ={
                "TGD_MODE": "production",
                "TGD_SECRET_KEY": "x" * 40,
                "TGD_DATA_DIR": str(tmp_path),
            }
        )


def test_production_refuses_a_missing_master_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="master key file"):
        load_settings(
            environ={
                "TGD_MODE": "production",
                "TGD_SECRET_KEY": "x" * 40,
                "TGD_TWILIO_AUTH_TOKEN": "y" * 32,
                "TGD_TWILIO_BACKEND": "twilio",
                "TGD_DATA_DIR": str(tmp_path),
            }
        )


def test_example_secret_is_refused_in_every_mode() -> None:
    with pytest.raises(SettingsError, match="example value"):
        load_settings(environ={"TGD_SECRET_KEY": "CHANGE-ME-please"})


def test_example_configuration_documents_every_setting_and_loads(tmp_path: Path) -> None:
    # The example file must stay loadable (it lists every key) once its secrets are replaced.
    text = EXAMPLE.read_text().replace("CHANGE-ME", "real")
    path = tmp_path / "c.toml"
    path.write_text(text)
    settings = load_settings(path, environ={})
    assert settings.mode == "development"


def test_development_secret_key_is_generated_once(tmp_path: Path) -> None:
    settings = load_settings(environ={"TGD_DATA_DIR": str(tmp_path)})
    first = ensure_dev_secrets(settings).secret_key
    again = ensure_dev_secrets(settings).secret_key
    assert first == again and len(first) > 40
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_development_twilio_token_is_shared_by_the_platform_and_the_simulator(
    tmp_path: Path,
) -> None:
    # Both read the same data directory, so the simulator signs what the platform checks.
    server = ensure_dev_secrets(load_settings(environ={"TGD_DATA_DIR": str(tmp_path)}))
    simulator = ensure_dev_secrets(load_settings(environ={"TGD_DATA_DIR": str(tmp_path)}))
    assert server.twilio.auth_token == simulator.twilio.auth_token
    assert len(server.twilio.auth_token) == 32


def test_production_never_generates_secrets(tmp_path: Path) -> None:
    settings = load_settings(environ={"TGD_DATA_DIR": str(tmp_path)})
    production = dataclasses.replace(settings, mode="production")
    assert ensure_dev_secrets(production).twilio.auth_token == ""
    assert not (tmp_path / "twilio_auth_token").exists()
