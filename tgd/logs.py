"""Logging that keeps personal data out (R-56, E-11): a ``redact()`` helper and a filter.

Services log pseudonymous ids only (``alert=12 file=34``). As a second line of
defence every record passes through ``RedactingFilter``, which masks what
looks like a phone number, an e-mail address or a pair of coordinates before
any handler sees it.
"""

from __future__ import annotations

import logging
import re
import sys

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


def configure_logging(level: str = "INFO") -> None:
    """Send logs to stderr, redacted, once per process."""
    root = logging.getLogger()
    if any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run is noise
