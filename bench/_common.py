"""What the benchmarks share: the demo operator's login and a percentile.

Imported after the bench has put the repository root on ``sys.path`` (the demo
accounts come from the browser tests' helpers).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import requests

from tests.browser.live import ACCOUNTS


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
