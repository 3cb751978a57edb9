"""An idle console costs the workstation nothing, and DSFR's components still work.

DSFR's renderer asks for an animation frame on every frame while the page is open: about
40 ms of main-thread time per second for a console doing nothing. `js/dsfr-idle.js` runs
that loop only while a component has something to render.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.browser.live import (
    CHROMIUM_ARGS,
    Live,
    demo_platform,
    login,
)

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, expect, sync_playwright

# Counts the animation frames the page's scripts ask for and get.
COUNT_FRAMES = """
window.__frames = 0;
const askFrame = window.requestAnimationFrame.bind(window);
window.requestAnimationFrame = (callback) => askFrame((time) => {
  window.__frames += 1;
  callback(time);
});
"""
OPENED = re.compile(r"\bfr-modal--opened\b")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with demo_platform(tmp_path_factory.mktemp("idle-live")) as server:
        yield server


@pytest.fixture(scope="module")
def console(live: Live) -> Iterator[Page]:
    with sync_playwright() as p:
        browser: Browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        # Narrow enough for DSFR's header to fold its menu behind the "Menu" button.
        context = browser.new_context(viewport={"width": 900, "height": 900})
        context.add_init_script(COUNT_FRAMES)
        page = context.new_page()
        login(page, live.url, "operateur")
        page.goto(live.url + "/console")
        expect(page.locator("#console")).to_have_attribute("data-connection", "ok")
        yield page
        browser.close()


def frames_during(page: Page, milliseconds: int) -> int:
    before = page.evaluate("window.__frames")
    page.wait_for_timeout(milliseconds)
    return int(page.evaluate("window.__frames")) - before


def test_an_idle_console_asks_for_no_animation_frames(console: Page) -> None:
    expect(console.locator("html")).to_have_attribute("data-dsfr-idle", "on")
    console.wait_for_timeout(500)  # DSFR's start-up frames
    # DSFR as shipped: about 120 frames in two seconds.
    assert frames_during(console, 2000) <= 2


def test_dsfr_menu_still_opens_and_closes_after_the_page_went_idle(console: Page) -> None:
    assert frames_during(console, 500) <= 1  # DSFR's loop is asleep
    menu = console.locator("#menu-principal")
    console.click("#bouton-menu")
    expect(menu).to_have_class(OPENED)
    expect(console.locator("#bouton-menu")).to_have_attribute("data-fr-opened", "true")
    console.locator("#menu-principal button.fr-btn--close").click()
    expect(menu).not_to_have_class(OPENED)
    console.wait_for_timeout(500)  # the closing transition's frames
    assert frames_during(console, 1000) <= 1  # and asleep again


def test_a_new_row_blinks_for_three_seconds_without_a_css_animation(
    console: Page, live: Live
) -> None:
    live.simulate_alert("M 75 75056 02 1")
    row = console.locator("#file-alertes button", has_text="M 75 75056 02 1")
    expect(row).to_have_class(re.compile(r"\btgd-new\b"))
    queue = console.locator("#file-alertes")
    expect(queue).to_have_attribute("data-blink", "off", timeout=2000)
    expect(queue).to_have_attribute("data-blink", "on", timeout=2000)
    # A CSS animation would restyle and repaint the page on every frame.
    assert console.evaluate("document.getAnimations().length") == 0
    expect(row).not_to_have_class(re.compile(r"\btgd-new\b"), timeout=5000)
    expect(queue).not_to_have_attribute("data-blink", re.compile(".*"))
