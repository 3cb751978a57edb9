"""Position messages from terminals (R-28, R-28b): parsing and validation, pure Python.

Three inputs, one value (``Fix``):

- the AML SMS (ETSI TS 103 625), e.g.
  ``A"ML=1;lt=+48.85890;lg=+2.38000;rd=25;top=20261123093000;lc=68;pm=G;…``;
- our simple SMS, for terminals that cannot produce AML:
  ``POS <lat> <lon> <accuracy m> <UTC YYYYMMDDhhmmss> [G|W|C]``,
  e.g. ``POS 48.85890 2.38000 25 20261123093000 G``;
- the signed HTTPS JSON body (``fix_from_json``).

Every error is a ``PositionError`` with a machine code, the offending field and
an English message: terminals and the carrier are machines, not people.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tgd.domain.alerts import PositionSource

MAX_ACCURACY_M = 100_000  # beyond 100 km a "position" is useless and probably garbage
AML_METHODS = {"G": PositionSource.GNSS, "W": PositionSource.WIFI, "C": PositionSource.CELL}
JSON_SOURCES = {
    "gnss": PositionSource.GNSS,
    "wifi": PositionSource.WIFI,
    "cell": PositionSource.CELL,
}
_NUMBER_RE = re.compile(r"[+-]?\d{1,3}(?:\.\d{1,10})?")
_TIME_RE = re.compile(r"\d{14}")


# HTTP status of each error code (the door answers machines with precise 4xx, R-54).
ERROR_STATUS = {
    "invalid_body": 400,
    "unknown_format": 400,
    "invalid_format": 400,
    "missing_field": 400,
    "missing_signature": 403,
    "unknown_key": 403,
    "bad_signature": 403,
    "stale_timestamp": 403,
    "unknown_line": 404,
    "replayed_nonce": 409,
}


class PositionError(ValueError):
    """A position message that cannot be used; ``code`` and ``field`` are for machines."""

    def __init__(self, code: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message

    @property
    def http_status(self) -> int:
        """The 4xx the door answers with (422 for values out of range or in the future)."""
        return ERROR_STATUS.get(self.code, 422)

    def as_json(self) -> dict[str, str | None]:
        """The JSON error body, in English, for machines."""
        return {"error": self.code, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Fix:
    """One validated location fix."""

    lat: float
    lon: float
    accuracy_m: int | None
    captured_at: datetime
    source: PositionSource
    confidence_pct: int | None = None


def parse_sms(body: str, *, now: datetime, tolerance: timedelta) -> Fix:
    """Read a position SMS in the AML or the simple format, and validate it."""
    text = body.strip()
    if text.upper().startswith(('A"ML=', "AML=")):
        return _parse_aml(text, now=now, tolerance=tolerance)
    if text.upper().startswith("POS "):
        return _parse_simple(text, now=now, tolerance=tolerance)
    raise PositionError("unknown_format", "Body", "SMS is neither AML (A\"ML=1;…) nor 'POS …'")


def _parse_aml(text: str, *, now: datetime, tolerance: timedelta) -> Fix:
    fields: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            fields[key.strip().lower().lstrip('a"')] = value.strip()
    # The first pair is 'A"ML=1': its key loses the A" prefix above and reads "ml".
    if "lt" not in fields or "lg" not in fields:
        raise PositionError(
            "missing_field", "lt" if "lt" not in fields else "lg", "AML without lt/lg"
        )
    method = fields.get("pm", "").upper()
    if method == "N":
        raise PositionError("no_position", "pm", "AML says no positioning method (pm=N)")
    if method not in AML_METHODS:
        raise PositionError("invalid_value", "pm", "pm must be G, W, C or N")
    return validated(
        lat=_number(fields["lt"], "lt"),
        lon=_number(fields["lg"], "lg"),
        accuracy_m=_integer(fields["rd"], "rd") if "rd" in fields else None,
        captured_at=_utc_compact(fields.get("top", ""), "top"),
        source=AML_METHODS[method],
        confidence_pct=_integer(fields["lc"], "lc") if "lc" in fields else None,
        now=now,
        tolerance=tolerance,
    )


def _parse_simple(text: str, *, now: datetime, tolerance: timedelta) -> Fix:
    parts = text.split()
    if len(parts) not in (5, 6):
        raise PositionError(
            "invalid_format",
            "Body",
            "expected 'POS <lat> <lon> <accuracy> <YYYYMMDDhhmmss> [G|W|C]'",
        )
    method = parts[5].upper() if len(parts) == 6 else "G"
    if method not in AML_METHODS:
        raise PositionError("invalid_value", "method", "method must be G, W or C")
    return validated(
        lat=_number(parts[1], "lat"),
        lon=_number(parts[2], "lon"),
        accuracy_m=_integer(parts[3], "accuracy"),
        captured_at=_utc_compact(parts[4], "time"),
        source=AML_METHODS[method],
        now=now,
        tolerance=tolerance,
    )


def fix_from_json(data: Any, *, now: datetime, tolerance: timedelta) -> Fix:
    """Read the JSON body of a signed HTTPS position, and validate it."""
    if not isinstance(data, dict):
        raise PositionError("invalid_body", None, "body must be a JSON object")
    for name in ("lat", "lon", "captured_at"):
        if name not in data:
            raise PositionError("missing_field", name, f"'{name}' is required")
    source = data.get("source", "gnss")
    if source not in JSON_SOURCES:
        raise PositionError("invalid_value", "source", "source must be gnss, wifi or cell")
    captured = data["captured_at"]
    if not isinstance(captured, str):
        raise PositionError("invalid_value", "captured_at", "captured_at must be an ISO 8601 text")
    try:
        at = datetime.fromisoformat(captured.replace("Z", "+00:00"))
    except ValueError:
        raise PositionError("invalid_value", "captured_at", "captured_at is not ISO 8601") from None
    if at.tzinfo is None:
        raise PositionError("invalid_value", "captured_at", "captured_at needs a time zone (Z)")
    return validated(
        lat=_json_number(data["lat"], "lat"),
        lon=_json_number(data["lon"], "lon"),
        accuracy_m=_json_int(data.get("accuracy_m"), "accuracy_m"),
        captured_at=at.astimezone(UTC),
        source=JSON_SOURCES[source],
        confidence_pct=_json_int(data.get("confidence_pct"), "confidence_pct"),
        now=now,
        tolerance=tolerance,
    )


def validated(
    *,
    lat: float,
    lon: float,
    accuracy_m: int | None,
    captured_at: datetime,
    source: PositionSource,
    confidence_pct: int | None = None,
    now: datetime,
    tolerance: timedelta,
) -> Fix:
    """Check ranges and time (R-28: absurd positions are refused, never stored)."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise PositionError("out_of_range", "lat", "latitude must be between -90 and 90")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise PositionError("out_of_range", "lon", "longitude must be between -180 and 180")
    if accuracy_m is not None and not 0 <= accuracy_m <= MAX_ACCURACY_M:
        raise PositionError(
            "out_of_range", "accuracy", f"accuracy must be between 0 and {MAX_ACCURACY_M} m"
        )
    if confidence_pct is not None and not 0 <= confidence_pct <= 100:
        raise PositionError("out_of_range", "confidence", "confidence must be between 0 and 100")
    if captured_at > now + tolerance:
        raise PositionError("in_future", "time", "position time is in the future")
    return Fix(lat, lon, accuracy_m, captured_at, source, confidence_pct)


def _number(raw: str, field: str) -> float:
    if not _NUMBER_RE.fullmatch(raw):
        raise PositionError("invalid_value", field, f"{field} is not a decimal number")
    return float(raw)


def _integer(raw: str, field: str) -> int:
    if not re.fullmatch(r"-?\d{1,7}", raw):
        raise PositionError("invalid_value", field, f"{field} is not an integer")
    return int(raw)


def _json_number(raw: Any, field: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise PositionError("invalid_value", field, f"{field} must be a number")
    return float(raw)


def _json_int(raw: Any, field: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise PositionError("invalid_value", field, f"{field} must be a number")
    return round(raw)


def _utc_compact(raw: str, field: str) -> datetime:
    if not _TIME_RE.fullmatch(raw):
        raise PositionError("invalid_value", field, f"{field} must be UTC YYYYMMDDhhmmss")
    try:
        return datetime.strptime(raw, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise PositionError("invalid_value", field, f"{field} is not a real date") from None


def format_aml(fix: Fix) -> str:
    """Render a fix as an AML SMS (for the simulator and tests)."""
    method = {v: k for k, v in AML_METHODS.items()}[fix.source]
    parts = [
        'A"ML=1',
        f"lt={fix.lat:+.5f}",
        f"lg={fix.lon:+.5f}",
        f"rd={fix.accuracy_m or 0}",
        f"top={fix.captured_at.astimezone(UTC):%Y%m%d%H%M%S}",
        f"lc={fix.confidence_pct if fix.confidence_pct is not None else 68}",
        f"pm={method}",
    ]
    body = ";".join(parts)
    return f"{body};ml={len(body) + 7}"


def sign_terminal_body(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Return the hex HMAC-SHA256 a terminal sends with an HTTPS position (R-54)."""
    message = timestamp.encode("ascii") + b"\n" + nonce.encode("ascii") + b"\n" + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
