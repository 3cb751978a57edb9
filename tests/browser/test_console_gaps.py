"""A console never misses a published event, even one whose push was lost (E-02).

The sequence of console events is gapless. When a push is lost on its way (the hub's
pass failed after numbering, as when PostgreSQL restarts in the middle of it), the
console notices: at the next event (a gap in the sequence), or, when nothing else comes,
at the hub's periodic head. Here the page's WebSocket drops the pushes (Playwright's
``route_web_socket``), as the network or a failed pass would.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest

from tests.browser.live import Live, demo_platform, login

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, WebSocketRoute, expect


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with demo_platform(tmp_path_factory.mktemp("console-gaps")) as server:
        yield server


_LIVE = re.compile(r'"console_(events|head)"')


class LossyConsole:
    """An operator's console whose live pushes are dropped while ``losing`` is set."""

    def __init__(self, browser: Browser, live: Live, username: str, offset: int) -> None:
        self.losing = threading.Event()
        self.dropped = 0
        self.page: Page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        self.page.route_web_socket("**/socket.io/**", self._route)
        login(self.page, live.url, username, step_offset=offset)
        self.page.goto(live.url + "/console")
        expect(self.page.locator("#console")).to_have_attribute("data-connection", "ok")
        self.page.wait_for_load_state("networkidle")

    def _route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(message: str | bytes) -> None:
            # The head too: it reveals the loss within a second, and the window must stay
            # lost (the head lands in it one time in three or so).
            if self.losing.is_set() and isinstance(message, str) and _LIVE.search(message):
                self.dropped += 1
                return  # lost on its way
            ws.send(message)

        server.on_message(from_server)
        ws.on_message(server.send)

    def row(self, reference: str) -> object:
        return self.page.locator("#file-alertes li", has_text=reference)

    def lose_the_pushes_of(self, live: Live, reference: str) -> None:
        self.losing.set()
        live.simulate_alert(reference)
        self.page.wait_for_timeout(1500)  # its events, and those of the caller joining
        self.losing.clear()
        assert self.dropped
        expect(self.row(reference)).to_have_count(0)


def test_an_alert_whose_push_was_lost_shows_at_the_next_event(browser: Browser, live: Live) -> None:
    console = LossyConsole(browser, live, "operateur", offset=0)
    console.lose_the_pushes_of(live, "M 974 97411 01 1")
    live.simulate_alert("M 975 97502 01 1")
    expect(console.row("M 975 97502 01 1")).to_have_count(1)
    # Read again at once: not at the next full board read, half a minute later.
    expect(console.row("M 974 97411 01 1")).to_have_count(1, timeout=4000)


def test_an_alert_whose_push_was_lost_shows_when_nothing_else_comes(
    browser: Browser, live: Live
) -> None:
    console = LossyConsole(browser, live, "superviseur", offset=0)
    console.lose_the_pushes_of(live, "M 75 75056 02 1")
    # No other event: the hub's head (every 3 s) says the console is behind. Before the
    # alert's escalation at 10 s, whose event would reveal the gap too.
    expect(console.row("M 75 75056 02 1")).to_have_count(1, timeout=6000)
