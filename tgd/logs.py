"""Logging that keeps personal data out (R-56, E-11): a ``redact()`` helper and a filter.

Services log pseudonymous ids only (``alert=12 file=34``). As a second line of
defence every record passes through ``RedactingFilter``, which masks what
looks like a phone number, an e-mail address or a pair of coordinates before
any handler sees it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[courriel]"),
    # coordinates: two decimals with 4+ fraction digits, separated by a comma/semicolon/space
    (re.compile(r"[-+]?\d{1,3}\.\d{4,}\s*[,; ]\s*[-+]?\d{1,3}\.\d{4,}"), "[coordonnées]"),
    (re.compile(r"\b(?:lt|lg|lat|lon|lng)=\s*[-+]?\d{1,3}\.\d+"), "[coordonnée]"),
    # phone numbers: E.164 or French national forms, with optional separators
    (re.compile(r"(?<![\w])\+\d[\d .-]{7,16}\d"), "[téléphone]"),
    (re.compile(r"(?<![\w])0\d(?:[ .-]?\d{2}){4}(?![\w])"), "[téléphone]"),
)


def redact(text: str) -> str:
    """Mask phone numbers, e-mail addresses and coordinates in a text."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrite each record's message with ``redact()`` applied."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (production): time, level, logger, message, process.

    It formats records that ``RedactingFilter`` has already rewritten; the traceback
    of an exception is redacted here too, since it is rendered only at formatting.
    """

    def __init__(self, service: str = "tgd") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "pid": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


_service = "tgd"  # the process's role in the JSON logs: app, scheduler, fallback, cli
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingTextFormatter(logging.Formatter):
    """The text format, with the rendered traceback redacted as well."""

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


def make_formatter(log_format: str, *, service: str = "tgd") -> logging.Formatter:
    """Return the formatter of a log format name ("text" or "json")."""
    if log_format == "json":
        return JsonFormatter(service)
    return RedactingTextFormatter(TEXT_FORMAT)


def harden_handler(handler: logging.Handler, log_format: str, *, service: str = "tgd") -> None:
    """Put the redacting filter and the chosen format on a handler (gunicorn's, ours)."""
    handler.setFormatter(make_formatter(log_format, service=service))
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


def configure_logging(level: str = "INFO", log_format: str = "text", *, service: str = "") -> None:
    """Send logs to stderr, redacted, once per process (the format may change later)."""
    global _service
    root = logging.getLogger()
    _service = service or _service
    service = _service
    root.setLevel(level)
    _quiet_chatty_libraries(root.level)
    for handler in root.handlers:
        if any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.setFormatter(make_formatter(log_format, service=service))
            return
    handler = logging.StreamHandler(sys.stderr)
    harden_handler(handler, log_format, service=service)
    root.addHandler(handler)


# Libraries that log at INFO on every call: one line per job run (APScheduler), eleven per
# REST request to the carrier (twilio's URL, headers and status, about 550 lines a second
# in an overflow burst, each redacted and written under the process's one GIL). Their
# warnings and errors still show; at DEBUG, everything does.
CHATTY_LOGGERS = ("apscheduler", "twilio.http_client")


def _quiet_chatty_libraries(level: int) -> None:
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(
            logging.NOTSET if level <= logging.DEBUG else logging.WARNING
        )
