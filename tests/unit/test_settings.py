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
            "TGD_BARS_PORT": "1234",  # the shared checks' own: ignored
            "TGD_TEST_DATABASE_URL": "postgresql+psycopg://x@h/t",  # the test suite's own
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
    with pytest.raises(SettingsError, match=r"« twilio\.auth_token » .*fichier introuvable"):
        load_settings(environ={"TGD_TWILIO_AUTH_TOKEN_FILE": str(tmp_path / "nope")})


def test_unknown_key_in_toml_stops_start_up_naming_the_closest(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[alerts]\nescalate_after = 3\n")
    with pytest.raises(
        SettingsError,
        match=r"réglage inconnu « escalate_after » dans la section \[alerts\] "
        r"\(vouliez-vous dire escalate_after_seconds \?\)",
    ):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("TGD_ALERTS_ESCALATE_AFTER_SECOND", "TGD_ALERTS_ESCALATE_AFTER_SECONDS"),
        ("TGD_DATABASE_URI", "TGD_DATABASE_URL"),
        ("TGD_TWILIO_AUTH_TOKEN_FLIE", "TGD_TWILIO_AUTH_TOKEN_FILE"),
        ("TGD_RETENTION_POSITION_DAYS", "TGD_RETENTION_POSITIONS_DAYS"),
    ],
)
def test_unknown_environment_variable_stops_start_up_naming_the_closest(
    name: str, closest: str
) -> None:
    # A typo must not silently do nothing (the setting would keep its default).
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={name: "5"})
    assert str(caught.value) == (
        f"variable d'environnement inconnue : {name} (vouliez-vous dire {closest} ?)"
    )


def test_unknown_environment_variable_far_from_any_key_is_refused_too() -> None:
    with pytest.raises(SettingsError, match=r"^variable d'environnement inconnue : TGD_XYZ$"):
        load_settings(environ={"TGD_XYZ": "1"})


def test_variables_of_the_tools_are_not_settings(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("")
    settings = load_settings(
        environ={
            "TGD_CONFIG": str(config),
            "TGD_BARS_VENV": "bars-venv",
            "TGD_TEST_DATABASE_URL": "x",
        }
    )
    assert settings.mode == "development"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgres://u:secret@127.0.0.1:1/x", "schéma « postgres »"),
        ("mysql://u:secret@h/x", "schéma « mysql »"),
        ("postgresql+psycopg2://u:secret@h/x", r"schéma « postgresql\+psycopg2 »"),
        ("nonsense", "n'est pas une adresse de base de données"),
    ],
)
def test_database_url_with_a_scheme_we_cannot_use_is_refused(url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(environ={"TGD_DATABASE_URL": url})
    assert "secret" not in str(caught.value)  # never the password


@pytest.mark.parametrize(
    "url", ["sqlite:///x.db", "postgresql+psycopg://u@h/tgd", "postgresql://u@h/tgd"]
)
def test_database_urls_we_run_on_are_accepted(url: str) -> None:
    assert load_settings(environ={"TGD_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("TGD_ALERTS_ESCALATE_AFTER_SECONDS", "soon", "doit être un nombre entier"),
        ("TGD_MODE", "prod", "doit valoir l'une de ces valeurs"),
        ("TGD_SECURITY_REQUIRE_TOTP", "maybe", "doit valoir true ou false"),
        ("TGD_TWILIO_API_TIMEOUT_SECONDS", "soon", "doit être un nombre"),
        ("TGD_TWILIO_API_TIMEOUT_SECONDS", "0", "api_timeout_seconds » doit être positif"),
        ("TGD_TWILIO_API_TIMEOUT_SECONDS", "nan", "api_timeout_seconds » doit être positif"),
    ],
)
def test_values_of_the_wrong_type_are_refused(key: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ={key: value})


def test_production_refuses_a_missing_secret_and_names_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"« secret_key » manque.*TGD_SECRET_KEY"):
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
    with pytest.raises(SettingsError, match=r"fichier de clés maîtresses .* tgd keys init"):
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
    with pytest.raises(SettingsError, match="valeur d'exemple"):
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


def test_key_initialisation_loads_production_settings_without_their_runtime_needs(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        environ={"TGD_MODE": "production", "TGD_DATA_DIR": str(tmp_path)},
        production_needs=False,
    )
    assert settings.is_production and settings.master_key_path == tmp_path / "master.key"


@pytest.mark.parametrize(
    "environ",
    [
        {"TGD_MODE": "production"},
        {"TGD_MODE": "prod"},
        {"TGD_ALERTS_ESCALATE_AFTER_SECONDS": "x"},
        {"TGD_SECRET_KEY": "CHANGE-ME"},
        {"TGD_DATABASE_URL": "postgres://h/x"},
        {"TGD_ALERT_ESCALATE_AFTER_SECONDS": "1"},
    ],
)
def test_configuration_messages_are_in_french(environ: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"TGD_DATA_DIR": str(tmp_path), **environ})
    english = {"setting", "missing", "must", "unknown", "needs", "value", "not", "file"}
    words = set(str(caught.value).lower().replace("_", " ").split())
    assert not words & english, str(caught.value)
