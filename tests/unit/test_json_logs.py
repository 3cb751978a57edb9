"""Structured JSON logs keep personal data out (E-11): the redacting filter stays in the chain."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tgd.logs import CHATTY_LOGGERS, RedactingFilter, configure_logging, harden_handler


def _record_through(handler: logging.Handler, message: str, *args: object) -> dict[str, object]:
    logger = logging.getLogger("tgd.test.jsonlogs")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("caller +33612345678 at 48.85890, 2.38000")
        except ValueError:
            logger.exception(message, *args)
    finally:
        logger.removeHandler(handler)
    stream = handler.stream  # type: ignore[attr-defined]
    return json.loads(stream.getvalue().splitlines()[-1])  # type: ignore[no-any-return]


def test_json_lines_are_redacted_including_the_traceback() -> None:
    handler = logging.StreamHandler(io.StringIO())
    harden_handler(handler, "json", service="app")
    entry = _record_through(handler, "call from %s, mail %s", "06 12 34 56 78", "a.b@example.fr")
    assert entry["level"] == "ERROR" and entry["service"] == "app"
    assert entry["logger"] == "tgd.test.jsonlogs" and isinstance(entry["pid"], int)
    text = json.dumps(entry)
    for personal in ("12 34 56 78", "a.b@example.fr", "+33612345678", "48.85890", "2.38000"):
        assert personal not in text, personal
    assert "[téléphone]" in str(entry["message"]) and "[coordonnées]" in str(entry["exception"])


def test_configure_logging_switches_format_and_keeps_the_filter() -> None:
    root = logging.getLogger()
    saved = list(root.handlers)
    for handler in saved:
        root.removeHandler(handler)
    try:
        configure_logging("INFO", "json", service="scheduler")
        [handler] = root.handlers
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
        configure_logging("INFO", "text")
        assert root.handlers == [handler]  # the same handler, format changed, filter kept
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
def test_the_carriers_client_logs_its_requests_only_at_debug(level: str, shown: bool) -> None:
    root, client = logging.getLogger(), logging.getLogger("twilio.http_client")
    touched = [root, *(logging.getLogger(name) for name in CHATTY_LOGGERS)]
    saved_handlers, saved_levels = list(root.handlers), [logger.level for logger in touched]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    harden_handler(handler, "text")
    root.handlers = [handler]
    try:
        configure_logging(level, "text")
        client.info("-- BEGIN Twilio API Request --")
        client.warning("carrier answered 500")
        logging.getLogger("tgd.services.alerts").info("alert=1 opened")
    finally:
        root.handlers = saved_handlers
        for logger, saved in zip(touched, saved_levels, strict=True):
            logger.setLevel(saved)
    text = stream.getvalue()
    assert ("BEGIN Twilio API Request" in text) is shown
    assert "carrier answered 500" in text and "alert=1 opened" in text
