"""Settings: one frozen tree of dataclasses read from TOML, overridden by ``TGD_*`` variables.

``load_settings(path, environ)`` is the only reader. The TOML file (``TGD_CONFIG``,
documented in ``config.example.toml``) may only contain known keys; a variable
``TGD_<SECTION>_<KEY>`` overrides ``key`` of ``[section]`` and ``TGD_<KEY>`` a
top-level key. A key ending in ``_file`` names a file holding the secret. In
``production`` mode a missing or example secret stops start-up with a message
naming it; in ``development`` and ``test`` modes missing secrets are generated
once into the data directory, so ``make run`` needs no set-up.

Nonsense stops start-up with a French message naming the key: an unknown key in
the file or an unknown ``TGD_*`` variable (with the closest valid name, so a typo
never silently does nothing), a value of the wrong type, a database URL whose
scheme the platform cannot use. Variables that belong to tools, not to the
platform, are left alone: ``TGD_CONFIG`` and the ``TGD_TEST_*`` and
``TGD_BARS_*`` families (test suite and shared checks).
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
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
# TGD_* variables that are not settings: the file to read, and the tools' own families.
# The capital's calendar: the default time zone of the platform, and the one read by whatever
# belongs to no territory (the national report roll-up, a platform incident, a line without a
# juridiction). The one place the name is spelled outside the demo data.
NATIONAL_TIMEZONE = "Europe/Paris"
TOOL_VARIABLES = frozenset({"TGD_CONFIG"})
TOOL_PREFIXES = ("TGD_TEST_", "TGD_BARS_")
# Database URLs the platform runs on (E-01): SQLite, PostgreSQL through psycopg 3.
DATABASE_DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg")}


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
    lock_idle_minutes: int = 5  # E-08: the operators' console locks after this idle time


@dataclass(frozen=True)
class TwilioSettings:
    backend: Literal["fake", "twilio"] = "fake"
    account_sid: str = ""
    auth_token: str = ""
    public_base_url: str = ""  # E-04: signatures are checked against this, not the Host header
    api_base_url: str = ""  # where the REST client sends requests (the fake Twilio in tests)
    # How long a REST request (a dial, a hang-up, an SMS) may wait to connect, then for each
    # read of the answer, before it fails as "unreachable" and the caller handles it.
    api_timeout_seconds: float = 10.0
    counter_call_number: str = ""
    # The fake carrier (development, tests) plays the calls it is asked to place: ringing,
    # answered, hung up, with signed status callbacks to public_base_url. Off: it only records.
    fake_call_progress: bool = True
    # backend = "fake" only: numbers (E.164 or sip:) the fake carrier rings but nobody answers.
    fake_unreachable: tuple[str, ...] = ()


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
    # a chase step left untreated this long goes to the supervisors.
    test_call_chase_escalation_hours: int = 4


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
class RestrictionSettings:
    # Annexe 2 I.1: the carrier routes the terminals' calls and SMS to numbers other than the
    # centre's through the gateway's webhooks, which then enforce each line's allow-list. Off:
    # every call from a terminal is an alert, whatever number it dialled.
    gateway_outbound: bool = False
    # The centre's numbers besides gateway.alert_number, gateway.test_call_number and
    # twilio.counter_call_number: a call or SMS to one of them is never a third-party call.
    centre_numbers: tuple[str, ...] = ()
    # Caller id of a call or SMS put through: the line's own number ("terminal": the person
    # can be called back, nothing shows the centre) or the centre's alert number ("centre").
    caller_id: Literal["terminal", "centre"] = "terminal"


@dataclass(frozen=True)
class LineHealthSettings:
    # A line in service with no call, no position and no test for this long is flagged.
    silence_days: int = 21
    # At least short_calls calls shorter than short_call_seconds within the window.
    short_call_seconds: int = 10
    short_calls: int = 5
    short_calls_window_hours: int = 24
    # At least accidental_alerts alerts closed as accidental within the window.
    accidental_alerts: int = 3
    accidental_window_days: int = 7


@dataclass(frozen=True)
class PenaltySettings:
    # CCP VIII.3 / VIII.4: V, the value of the order of reference (euros HT) for each kind of
    # late service; 0: not configured (the board says so and prices nothing).
    call_order_value: float = 0.0
    file_order_value: float = 0.0
    swap_order_value: float = 0.0
    # Which article prices a late file creation: VIII.3 (teleassistance, % of overrun) or
    # VIII.4 (other services, hours of delay).
    file_creation_article: Literal["VIII.3", "VIII.4"] = "VIII.3"
    # CCP VIII.1: the amount (euros HT) the administration has effectively ordered under the
    # contract so far; the penalties of the whole contract are capped at it. 0: not configured
    # (no cap applied; the board says so).
    ordered_amount: float = 0.0


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
    default_timezone: str = NATIONAL_TIMEZONE
    log_level: str = "INFO"
    security: SecuritySettings = field(default_factory=SecuritySettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    map: MapSettings = field(default_factory=MapSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    geocoder: GeocoderSettings = field(default_factory=GeocoderSettings)
    restrictions: RestrictionSettings = field(default_factory=RestrictionSettings)
    line_health: LineHealthSettings = field(default_factory=LineHealthSettings)
    penalties: PenaltySettings = field(default_factory=PenaltySettings)
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
    production_needs: bool = True,
) -> Settings:
    """Read settings from a TOML file and ``TGD_*`` variables, and check them.

    ``production_needs=False`` leaves out what production needs to *run* (secrets, key
    file, real carrier): ``tgd keys init`` must work before them, its very job being to
    create the master key file.
    """
    environ = os.environ if environ is None else environ
    if path is None and environ.get("TGD_CONFIG"):
        path = Path(environ["TGD_CONFIG"])
    raw = _read_toml(path) if path else {}
    _apply_environ(raw, environ)
    settings = _build(Settings, raw, "")
    settings = _with_defaults(settings)
    _check(settings, production_needs=production_needs and settings.is_production)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"fichier de configuration introuvable : {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(
            f"le fichier de configuration {path} n'est pas du TOML valide ({exc})"
        ) from None


def _sections() -> dict[str, type]:
    hints = get_type_hints(Settings)
    return {
        f.name: hints[f.name] for f in fields(Settings) if dataclasses.is_dataclass(hints[f.name])
    }


def _apply_environ(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Overlay TGD_<SECTION>_<KEY> and TGD_<KEY>; refuse any other TGD_ variable."""
    sections = _sections()
    top_keys = {f.name for f in fields(Settings)} - sections.keys()
    for name, value in sorted(environ.items()):
        if not name.startswith("TGD_") or _is_tool_variable(name):
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
            else:
                raise SettingsError(
                    f"variable d'environnement inconnue : {name}" + _suggest(name, _env_names())
                )


def _is_tool_variable(name: str) -> bool:
    return name in TOOL_VARIABLES or name.startswith(TOOL_PREFIXES)


def _env_names() -> list[str]:
    """Every TGD_* variable that names a setting (and its ``_FILE`` form)."""
    names = []
    for f in fields(Settings):
        section = _sections().get(f.name)
        keys = [f.name] if section is None else [f"{f.name}_{g.name}" for g in fields(section)]
        for key in keys:
            names += [f"TGD_{key.upper()}", f"TGD_{key.upper()}_FILE"]
    return names


def _suggest(wrong: str, candidates: list[str]) -> str:
    """Name the closest valid key, as a French hint (empty when nothing is close)."""
    close = difflib.get_close_matches(wrong, candidates, n=1, cutoff=0.6)
    return f" (vouliez-vous dire {close[0]} ?)" if close else ""


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
            where = f"dans la section [{section}]" if section else "au premier niveau"
            raise SettingsError(f"réglage inconnu « {key} » {where}" + _suggest(key, sorted(known)))
        target = hints[key]
        if dataclasses.is_dataclass(target):
            if not isinstance(value, Mapping):
                raise SettingsError(f"le réglage « {key} » doit être une table [{key}]")
            values[key] = _build(target, value, key)  # type: ignore[arg-type]
        else:
            values[key] = _coerce(target, value, f"{section}.{key}" if section else key)
    return cls(**values)


def _read_secret_file(section: str, key: str, path: Path) -> str:
    name = f"{section}.{key[:-5]}" if section else key[:-5]
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        why = OS_ERRORS.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        raise SettingsError(
            f"impossible de lire le fichier secret du réglage « {name} » : {path} ({why})"
        ) from None


OS_ERRORS = {
    errno.ENOENT: "fichier introuvable",
    errno.EACCES: "accès refusé",
    errno.EISDIR: "c'est un dossier",
}


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
            raise SettingsError(
                f"le réglage « {name} » doit valoir l'une de ces valeurs : {allowed} "
                f"(et non {value!r})"
            )
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
        raise SettingsError(f"le réglage « {name} » doit valoir true ou false (et non {value!r})")
    if target is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(
                f"le réglage « {name} » doit être un nombre entier (et non {value!r})"
            ) from None
    if target is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(
                f"le réglage « {name} » doit être un nombre (et non {value!r})"
            ) from None
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


def _check(settings: Settings, *, production_needs: bool) -> None:
    _check_database_url(settings.database_url)
    for section, key in sorted(SECRET_KEYS):
        value = getattr(getattr(settings, section) if section else settings, key)
        name = f"{section}.{key}" if section else key
        if EXAMPLE_MARKER in value:
            raise SettingsError(
                f"le réglage « {name} » a encore la valeur d'exemple : donnez un vrai secret"
            )
        if production_needs and not value:
            env = "TGD_" + (f"{section}_{key}" if section else key).upper()
            raise SettingsError(
                f"le réglage « {name} » manque : la production l'exige "
                f"(définissez {env} ou {env}_FILE)"
            )
    if production_needs and not settings.master_key_path.exists():
        raise SettingsError(
            f"le fichier de clés maîtresses « {settings.master_key_path} » manque : la "
            "production l'exige (créez-le avec « tgd keys init », et indiquez-le par "
            "TGD_MASTER_KEY_FILE s'il est ailleurs)"
        )
    if production_needs and settings.security.password_hashing != "standard":  # noqa: S105
        raise SettingsError(
            "le réglage « security.password_hashing » doit valoir « standard » en production"
        )
    if production_needs and settings.twilio.backend == "fake":
        raise SettingsError(
            "le réglage « twilio.backend » vaut « fake » : la production exige « twilio »"
        )
    for key in ("trusted_proxies", "metrics_allowed"):
        for value in getattr(settings.server, key):
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise SettingsError(
                    f"le réglage « server.{key} » contient {value!r}, qui n'est ni une adresse "
                    "ni un réseau"
                ) from None
    if not settings.twilio.api_timeout_seconds > 0:
        raise SettingsError("le réglage « twilio.api_timeout_seconds » doit être positif")
    if settings.server.proxy_hops < 1:
        raise SettingsError("le réglage « server.proxy_hops » doit valoir au moins 1")
    health = settings.line_health
    for name in dataclasses.asdict(health):
        if getattr(health, name) < 1:
            raise SettingsError(f"le réglage « line_health.{name} » doit valoir au moins 1")


def _check_database_url(url: str) -> None:
    """Refuse a database URL the platform cannot use, naming what is wrong (never the password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    hint = "utilisez sqlite:///CHEMIN ou postgresql+psycopg://UTILISATEUR@HÔTE/BASE"
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise SettingsError(
            f"le réglage « database_url » n'est pas une adresse de base de données : {hint}"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if driver not in DATABASE_DRIVERS.get(backend, ()):
        raise SettingsError(
            f"le réglage « database_url » a le schéma « {parsed.drivername} », que la "
            f"plateforme ne sait pas utiliser : {hint}"
        )


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
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()  # another process wrote it first
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(length) if hex_only else secrets.token_urlsafe(length))
    return path.read_text().strip()
