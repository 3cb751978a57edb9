"""What the benchmarks share: the escalation switch, the demo operator's login, a percentile.

Imported after the bench has put the repository root on ``sys.path`` (the demo
accounts come from the browser tests' helpers).
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

import pyotp
import requests

from tests.browser.live import ACCOUNTS

# Real conditions by default: the benches leave their alerts unclaimed, so escalation (10 s)
# and overflow (30 s) run in the middle of the measurement, as they would in the centre.
# ``--no-escalation`` switches them off, to tell their cost apart; never to meet a target.
TIMERS: dict[str, str] = {}  # the platform settings of the timers for this run
NO_ESCALATION = {"alerts_escalate_after_seconds": "3600", "alerts_overflow_after_seconds": "7200"}


def add_escalation_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-escalation`` to the bench's options."""
    parser.add_argument(
        "--no-escalation", action="store_true", help="diagnosis only: no escalation or overflow"
    )


def apply_escalation_option(args: argparse.Namespace) -> None:
    """Switch escalation and overflow off (``TIMERS``) when asked, and say so."""
    if args.no_escalation:
        TIMERS.update(NO_ESCALATION)
        print("escalation and overflow OFF: these figures are not real conditions")


def login(url: str, *, timeout: float = 10) -> str:
    """Log the demo operator in (password, then TOTP code); return the cookie header.

    nginx's routing cookie (``tgd_route``), if any, is left out: a bench that spreads its
    consoles over the app processes gives each one its own.
    """
    http = requests.Session()
    account = ACCOUNTS["operateur"]

    def post(path: str, data: dict[str, str]) -> None:
        page = http.get(url + path, timeout=timeout).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token
        http.post(url + path, data={"csrf_token": token.group(1), **data}, timeout=timeout)

    post("/connexion", {"username": "operateur", "password": account.password})
    totp = pyotp.TOTP(account.totp_secret)
    post("/connexion/code", {"code": totp.generate_otp(totp.timecode(datetime.now(UTC)))})
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies if c.name != "tgd_route")


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0 to 1) of ``values``, nearest rank; 0.0 for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0
