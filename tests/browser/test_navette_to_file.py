"""Browser: a prosecutor submits an attribution, an operator creates the file from it (R-10).

The real server (`tgd run`) runs in a subprocess on a free loopback port with a
temporary SQLite database and the demo data (`tgd demo load`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from tgd.services.demo import DEMO_ACCOUNTS

ACCOUNTS = {a.username: a for a in DEMO_ACCOUNTS}
TGD = str(Path(sys.executable).parent / "tgd")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """Run `tgd run` on a fresh demo database; give its base URL."""
    env = {
        **os.environ,
        "TGD_MODE": "development",
        "TGD_DATA_DIR": str(tmp_path / "var"),
        "TGD_DATABASE_URL": f"sqlite:///{tmp_path / 'tgd.db'}",
    }
    env.pop("TGD_CONFIG", None)
    for command in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([TGD, *command], env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    process = subprocess.Popen(
        [TGD, "run", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("tgd run did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _login(page: object, base: str, username: str) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    page.goto(base + "/connexion")
    page.fill("#username", username)
    page.fill("#password", ACCOUNTS[username].password)
    page.click("main button[type=submit]")
    page.fill("#code", pyotp.TOTP(ACCOUNTS[username].totp_secret).now())
    page.click("main button[type=submit]")
    page.wait_for_selector("#utilisateur")


def test_prosecutor_attribution_becomes_a_file(server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            prosecutor = browser.new_context().new_page()
            _login(prosecutor, server, "parquet.paris")
            prosecutor.click("text=Navettes")
            prosecutor.click("text=Attribution")
            prosecutor.fill("#reference", "M 75 75056 05 1")
            prosecutor.fill("#last_name", "Martin-Canari")
            prosecutor.fill("#first_name", "Léa")
            prosecutor.fill("#residence_line", "5 rue des Canaris")
            prosecutor.fill("#residence_postcode", "75011")
            prosecutor.fill("#residence_city", "Paris")
            prosecutor.fill("#other_phones", "06 98 76 00 99")
            prosecutor.click("button[value=envoyer]")
            receipt = prosecutor.locator("#accuse").inner_text()
            assert "reçue par le centre le" in receipt

            operator = browser.new_context().new_page()
            _login(operator, server, "operateur")
            operator.goto(server + "/navettes-recues/")
            countdown = operator.locator(".tgd-countdown").first
            assert "restantes" in (countdown.text_content() or "")
            first = countdown.get_attribute("data-seconds-left")
            operator.wait_for_timeout(1500)  # the countdown ticks (static/js/countdown.js)
            assert int(countdown.get_attribute("data-seconds-left") or 0) < int(first or 0)
            assert int(first or 0) > 14 * 60
            operator.click("text=Créer la fiche")
            assert operator.input_value("#last_name") == "Martin-Canari"
            operator.click("text=Créer et numéroter la fiche")
            operator.wait_for_selector("#etat-fiche")
            assert "Mise en service de la fiche" in operator.inner_text("h1")
            assert "en cours de mise en service" in (operator.text_content("#etat-fiche") or "")
        finally:
            browser.close()
