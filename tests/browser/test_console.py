"""The operators' console in headless Chromium (R-20, R-23..R-27, E-02).

A real platform process on loopback; the simulator plays the terminal; two
operators' screens follow the same alert from ring to closure; a console
that loses its connection catches up with what it missed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.live import (
    Live,
    demo_platform,
    login,
)

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, expect


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with demo_platform(tmp_path_factory.mktemp("console-live")) as server:
        yield server


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Iterator[list[Page]]:
    """Pages to screenshot when the test fails (saved under test-artifacts/)."""
    pages: list[Page] = []
    yield pages
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        out = Path("test-artifacts")
        out.mkdir(exist_ok=True)
        for i, page in enumerate(pages):
            page.screenshot(path=str(out / f"{request.node.name}-{i}.png"), full_page=True)


# Keeps every WebSocket the page opens (engine.io takes the constructor as it loads).
RECORD_SOCKETS = """
window.__sockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) { super(...args); window.__sockets.push(this); }
};
"""


def console_of(
    browser: Browser, live: Live, username: str, offset: int = 0, *, script: str = ""
) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    if script:
        context.add_init_script(script)
    page = context.new_page()
    login(page, live.url, username, step_offset=offset)
    page.goto(live.url + "/console")
    expect(page.locator("#console")).to_have_attribute("data-connection", "ok")
    return page


def test_alert_from_ring_to_hand_over_on_two_screens(
    browser: Browser, live: Live, artifacts: list[Page]
) -> None:
    first = console_of(browser, live, "operateur")
    second = console_of(browser, live, "superviseur")
    artifacts.extend([first, second])
    live.simulate_alert("M 75 75056 02 1")
    for page in (first, second):
        expect(page.locator("#file-alertes li")).to_contain_text("M 75 75056 02 1")
    first.locator("#file-alertes button", has_text="M 75 75056 02 1").click()
    expect(first.locator("#titre-fiche")).to_have_text("Inès Moreau-Démo")
    expect(first.locator("#fiche")).to_contain_text("7 impasse du Verger-Démo")
    expect(first.locator("#force")).to_contain_text("Préfecture de police")
    first.click("#btn-prendre")
    expect(second.locator("#file-alertes li", has_text="M 75 75056 02 1")).to_contain_text(
        "prise en charge"
    )
    first.click("#btn-forces")
    expect(first.locator("#message-action")).to_have_text(
        "Les forces de l'ordre sont appelées dans le pont."
    )
    expect(second.locator("#file-alertes li", has_text="M 75 75056 02 1")).to_contain_text(
        "forces de l'ordre"
    )
    expect(first.locator("#jambes li[data-role=operator]")).to_contain_text("en ligne")
    first.click("#btn-quitter")
    expect(first.locator("#message-action")).to_contain_text("Vous avez quitté le pont")
    first.click("#btn-cloture")
    first.select_option("#nature", "danger_reel")
    first.select_option("#orientation", "forces_alertees")
    first.fill("#note-cloture", "Forces sur place.")
    first.click("#btn-cloturer")
    for page in (first, second):
        expect(page.locator("#file-alertes li", has_text="M 75 75056 02 1")).to_have_count(0)


def test_console_catches_up_after_losing_its_connection(
    browser: Browser, live: Live, artifacts: list[Page]
) -> None:
    page = console_of(browser, live, "operateur", offset=1)
    artifacts.append(page)
    page.context.set_offline(True)
    expect(page.locator("#console")).to_have_attribute("data-connection", "lost", timeout=15000)
    expect(page.locator("#etat-connexion")).to_contain_text("Connexion perdue")
    live.simulate_alert("M 974 97411 01 1")
    live.simulate_alert("M 975 97502 01 1")
    page.context.set_offline(False)
    expect(page.locator("#console")).to_have_attribute("data-connection", "ok", timeout=15000)
    expect(page.locator("#etat-connexion")).to_contain_text("Connexion rétablie")
    expect(page.locator("#file-alertes li", has_text="M 974 97411 01 1")).to_have_count(1)
    expect(page.locator("#file-alertes li", has_text="M 975 97502 01 1")).to_have_count(1)


def test_a_new_alert_shows_from_its_event_without_a_board_read(
    browser: Browser, live: Live, artifacts: list[Page]
) -> None:
    # With fifty consoles, fifty board reads per event delayed the next alert on every screen:
    # a new alert's row comes from its event alone (the board is read again every half minute).
    page = console_of(browser, live, "superviseur", offset=1, script=RECORD_SOCKETS)
    artifacts.append(page)
    # Chromium offers permessage-deflate and the server declines it (UncompressedSockets):
    # a compressed socket costs the server one compression of each message per console.
    opened = "window.__sockets.filter((s) => s.readyState === 1).map((s) => s.extensions)"
    assert page.evaluate(opened) == [""]
    page.wait_for_load_state("networkidle")
    reads: list[str] = []
    page.on("request", lambda r: reads.append(r.url) if "/api/console/board" in r.url else None)
    live.simulate_alert("M 75 75056 02 1")
    row = page.locator("#file-alertes li", has_text="M 75 75056 02 1")
    expect(row).to_have_count(1)
    expect(page.locator("#titre-fiche")).to_have_text("Inès Moreau-Démo")  # it opened, alone
    page.wait_for_timeout(1000)
    assert reads == []
