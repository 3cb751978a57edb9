"""Settings: one frozen tree of dataclasses read from TOML, overridden by ``TGD_*`` variables.

``load_settings(path, environ)`` is the only reader. The TOML file (``TGD_CONFIG``,
documented in ``config.example.toml``) may only contain known keys; a variable
``TGD_<SECTION>_<KEY>`` overrides ``key`` of ``[section]`` and ``TGD_<KEY>`` a
top-level key. A key ending in ``_file`` names a file holding the secret. In
``production`` mode a missing or example secret stops start-up with a message
naming it; in ``development`` and ``test`` modes missing secrets are generated
once into the data directory, so ``make run`` needs no set-up.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

MODES = ("development", "test", "production")
EXAMPLE_MARKER = "CHANGE-ME"  # every secret in config.example.toml contains it


class SettingsError(Exception):
    """The configuration cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class SecuritySettings:
    session_lifetime_hours: int = 12  # E-08: one shift
    idle_timeout_minutes: int = 15  # E-08: portal users
    # How often a session's last_seen_at is written (a short write, never on every request).
    session_touch_seconds: int = 30
    # login POSTs per address (an operations room shares one address at shift change);
    # each account is also locked after 5 failures, whatever the address.
    login_attempts_per_minute: int = 20
    login_attempts_per_hour: int = 200
    totp_issuer: str = "TGD"
    # argon2id cost: "standard" (RFC 9106 low-memory profile); "fast" only for the test suite.
    password_hashing: Literal["standard", "fast"] = "standard"  # noqa: S105 - not a secret
    require_totp: bool = True  # second factor for staff
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class TwilioSettings:
    backend: Literal["fake", "twilio"] = "fake"
    account_sid: str = ""
    auth_token: str = ""
    public_base_url: str = ""  # E-04: signatures are checked against this, not the Host header
    api_base_url: str = ""  # where the REST client sends requests (the fake Twilio in tests)
    counter_call_number: str = ""


@dataclass(frozen=True)
class GatewaySettings:
    # The centre's number that terminals call; also the caller id of outbound calls and SMS.
    alert_number: str = "+33199000000"  # ARCEP fiction range until configured
    # A call to this number is a test call (the terminal's test key dials it), R-30, R-11 step 3.
    test_call_number: str = "+33199000001"
    # R-24c: the dedicated line the canary calls from; its alerts never count in reports.
    canary_number: str = "+33639980000"  # ARCEP fiction range
    canary_deadline_seconds: int = 20
    # where a counter-call goes when the unit has no ongoing alert. Empty: overflow_number.
    supervisors_number: str = ""
    # E-01: how long the voice webhook waits for the database before bridging to the fallback.
    record_timeout_ms: int = 4000
    # clock tolerance for signed terminal data and position timestamps.
    clock_tolerance_seconds: int = 300
    # the SMS command that asks a terminal for its position.
    position_request_command: str = "TGD POS?"
    # R-24b: at most this many automatic call-backs per alert when its bridge ends.
    max_callbacks: int = 3


@dataclass(frozen=True)
class AlertSettings:
    escalate_after_seconds: int = 10  # R-23b
    overflow_after_seconds: int = 30  # R-23b
    overflow_number: str = ""


@dataclass(frozen=True)
class RetentionSettings:
    closed_file_months: int = 4
    positions_days: int = 3  # R-16b
    positions_max_days: int = 8  # R-16b
    reassignment_quarantine_days: int = 7
    navette_deadline_minutes: int = 15
    swap_deadline_hours: int = 24
    test_call_overdue_days: int = 15


@dataclass(frozen=True)
class GeocoderSettings:
    # "fake" (offline demo and tests: known demo addresses only) or "ban" (Base Adresse
    # Nationale through geopy; the operations room must reach it).
    backend: Literal["fake", "ban"] = "fake"
    ban_domain: str = "api-adresse.data.gouv.fr"
    timeout_seconds: int = 3


@dataclass(frozen=True)
class AuditSettings:
    # the append-only history of the chain's heads. It must live where the database's
    # writers cannot rewrite it: another disk or host (see docs/security.md). Empty: in the
    # data directory, which only protects against truncation by someone without file access.
    anchor_path: Path | None = None
    # A copy of each anchor line to syslog, for shipping off the host: "" (none), "/dev/log"
    # (the local daemon, which forwards), or "host:port" (UDP).
    anchor_syslog: str = ""


@dataclass(frozen=True)
class MapSettings:
    tile_url: str = ""  # empty: zones and points on a plain background (offline room)
    tile_attribution: str = ""


@dataclass(frozen=True)
class ServerSettings:
    """How the processes run behind a reverse proxy, report and keep deferred alerts."""

    # Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto/-Host headers are
    # believed; a request from anywhere else is taken at its socket's address, so a client
    # cannot choose the address that login throttling and the audit log see.
    trusted_proxies: tuple[str, ...] = ()
    # Proxies in front of the app that each append one X-Forwarded-For entry (nginx alone: 1).
    proxy_hops: int = 1
    # "text" (a line per record, for a terminal) or "json" (one object per line, production).
    log_format: Literal["text", "json"] = "text"
    # Prometheus multiprocess directory shared by the processes of one host; empty:
    # <data_dir>/metrics. Wiped by `tgd run` / `tgd scheduler` when no other process uses it.
    metrics_dir: Path | None = None
    # Who may read /metrics (addresses or networks, seen after the proxy headers).
    metrics_allowed: tuple[str, ...] = ("127.0.0.0/8", "::1")
    # Calls answered while the database took no writes, kept (encrypted, fsync'd) until they
    # are recorded; empty: <data_dir>/spool. Shared by the app processes of one host.
    spool_dir: Path | None = None
    # /readyz: the scheduler lease must have been renewed within this many seconds.
    scheduler_stale_seconds: int = 60
    # E-05: the URL the carrier calls when the platform does not answer (the number's
    # Fallback URL), served by `tgd fallback`; signatures are checked against it. Empty:
    # http://<host>:<port>/voice of that process.
    fallback_url: str = ""


@dataclass(frozen=True)
class Settings:
    mode: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = ""
    master_key_file: Path | None = None
    public_base_url: str = "http://127.0.0.1:5000"
    redis_url: str = ""
    default_locale: str = "fr"
    default_timezone: str = "Europe/Paris"
    log_level: str = "INFO"
    security: SecuritySettings = field(default_factory=SecuritySettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    map: MapSettings = field(default_factory=MapSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    geocoder: GeocoderSettings = field(default_factory=GeocoderSettings)
    server: ServerSettings = field(default_factory=ServerSettings)

    @property
    def is_production(self) -> bool:
        """Tell whether secrets must be given rather than generated."""
        return self.mode == "production"

    @property
    def master_key_path(self) -> Path:
        """Return where the master key ring lives."""
        return self.master_key_file or self.data_dir / "master.key"

    @property
    def metrics_path(self) -> Path:
        """Return the Prometheus multiprocess directory of this host."""
        return self.server.metrics_dir or self.data_dir / "metrics"

    @property
    def spool_path(self) -> Path:
        """Return where calls answered without the database wait to be recorded."""
        return self.server.spool_dir or self.data_dir / "spool"

    @property
    def audit_anchor_path(self) -> Path:
        """Return where the audit chain's anchors are appended (R-53)."""
        return self.audit.anchor_path or self.data_dir / "audit.anchor"


SECRET_KEYS = {("", "secret_key"), ("twilio", "auth_token")}


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    require_master_key: bool = True,
) -> Settings:
    """Read settings from a TOML file and ``TGD_*`` variables, and check them.

    ``require_master_key=False`` is for ``tgd keys init`` alone, which creates that file.
    """
    environ = os.environ if environ is None else environ
    if path is None and environ.get("TGD_CONFIG"):
        path = Path(environ["TGD_CONFIG"])
    raw = _read_toml(path) if path else {}
    _apply_environ(raw, environ)
    settings = _build(Settings, raw, "")
    settings = _with_defaults(settings)
    _check(settings, require_master_key=require_master_key)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"configuration file {path} is not valid TOML: {exc}") from None


def _sections() -> dict[str, type]:
    hints = get_type_hints(Settings)
    return {
        f.name: hints[f.name] for f in fields(Settings) if dataclasses.is_dataclass(hints[f.name])
    }


def _apply_environ(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Overlay TGD_<SECTION>_<KEY> and TGD_<KEY>; unknown TGD_ variables are not ours."""
    sections = _sections()
    top_keys = {f.name for f in fields(Settings)} - sections.keys()
    for name, value in environ.items():
        if not name.startswith("TGD_"):
            continue
        key = name[4:].lower()
        for section, cls in sections.items():
            prefix = section + "_"
            sub = key[len(prefix) :]
            if key.startswith(prefix) and _knows(cls, sub):
                raw.setdefault(section, {})[sub] = value
                break
        else:
            if key in top_keys or (key.endswith("_file") and key[:-5] in top_keys):
                raw[key] = value


def _knows(cls: type, key: str) -> bool:
    names = {f.name for f in fields(cls)}
    return key in names or (key.endswith("_file") and key[:-5] in names)


def _build(cls: type, raw: Mapping[str, Any], section: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key.endswith("_file") and key not in known and key[:-5] in known:
            values[key[:-5]] = _read_secret_file(section, key, Path(value))
            continue
        if key not in known:
            where = f"[{section}]" if section else "top level"
            raise SettingsError(f"unknown setting '{key}' at {where}")
        target = hints[key]
        if dataclasses.is_dataclass(target):
            if not isinstance(value, Mapping):
                raise SettingsError(f"setting '{key}' must be a table [{key}]")
            values[key] = _build(target, value, key)  # type: ignore[arg-type]
        else:
            values[key] = _coerce(target, value, f"{section}.{key}" if section else key)
    return cls(**values)


def _read_secret_file(section: str, key: str, path: Path) -> str:
    name = f"{section}.{key}" if section else key
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(
            f"cannot read secret file for '{name}': {path}: {exc.strerror}"
        ) from None


def _coerce(target: Any, value: Any, name: str) -> Any:
    origin = get_origin(target)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(target) if a is not type(None)]
        if value in (None, ""):
            return None
        return _coerce(options[0], value, name)
    if origin is Literal:
        if value not in get_args(target):
            allowed = ", ".join(map(str, get_args(target)))
            raise SettingsError(f"setting '{name}' must be one of {allowed}, not {value!r}")
        return value
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(str(i).strip() for i in items if str(i).strip())
    if target is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"setting '{name}' must be true or false, not {value!r}")
    if target is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"setting '{name}' must be an integer, not {value!r}") from None
    if target is Path:
        return Path(value)
    return str(value)


def _with_defaults(settings: Settings) -> Settings:
    if not settings.database_url:
        db = (settings.data_dir / "tgd.db").resolve()
        settings = dataclasses.replace(settings, database_url=f"sqlite:///{db}")
    if not settings.twilio.public_base_url:
        twilio = dataclasses.replace(settings.twilio, public_base_url=settings.public_base_url)
        settings = dataclasses.replace(settings, twilio=twilio)
    return settings


def _check(settings: Settings, *, require_master_key: bool = True) -> None:
    for section, key in sorted(SECRET_KEYS):
        value = getattr(getattr(settings, section) if section else settings, key)
        name = f"{section}.{key}" if section else key
        if EXAMPLE_MARKER in value:
            raise SettingsError(f"setting '{name}' still has the example value: set a real secret")
        if settings.is_production and not value:
            env = "TGD_" + (f"{section}_{key}" if section else key).upper()
            raise SettingsError(
                f"setting '{name}' is missing: production needs it (set {env} or {env}_FILE)"
            )
    if require_master_key and settings.is_production and not settings.master_key_path.exists():
        raise SettingsError(
            f"master key file '{settings.master_key_path}' is missing: production needs it "
            "(create it with 'tgd keys init', which writes that path, or point "
            "TGD_MASTER_KEY_FILE at the existing one)"
        )
    if settings.is_production and settings.security.password_hashing != "standard":  # noqa: S105
        raise SettingsError("setting 'security.password_hashing' must be 'standard' in production")
    for key in ("trusted_proxies", "metrics_allowed"):
        for value in getattr(settings.server, key):
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise SettingsError(
                    f"setting 'server.{key}' holds {value!r}, which is not an address or network"
                ) from None
    if settings.server.proxy_hops < 1:
        raise SettingsError("setting 'server.proxy_hops' must be 1 or more")
    if settings.is_production and settings.twilio.backend == "fake":
        raise SettingsError("setting 'twilio.backend' is 'fake': production needs 'twilio'")


def ensure_dev_secrets(settings: Settings) -> Settings:
    """Outside production, generate and persist the secrets that were not given.

    The Flask secret key and the Twilio auth token are written once into the data
    directory (mode 600), so the platform and the ``tgd simulate`` commands of the same
    embedded instance sign and check webhooks with the same token.
    """
    if settings.is_production:
        return settings
    if not settings.secret_key:
        settings = dataclasses.replace(settings, secret_key=_dev_secret(settings, "secret.key"))
    if not settings.twilio.auth_token:
        token = _dev_secret(settings, "twilio_auth_token", length=16, hex_only=True)
        settings = dataclasses.replace(
            settings, twilio=dataclasses.replace(settings.twilio, auth_token=token)
        )
    return settings


def _dev_secret(settings: Settings, name: str, *, length: int = 48, hex_only: bool = False) -> str:
    path = settings.data_dir / name
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()  # another process wrote it first
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(length) if hex_only else secrets.token_urlsafe(length))
    return path.read_text().strip()
