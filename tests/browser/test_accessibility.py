"""Accessibility (RGAA / WCAG 2.1 AA) of the main screens, checked with axe-core in Chromium.

axe-core comes from the npm registry with the front-end packages (package-lock.json); it
is injected into each page and run against the WCAG 2.1 A and AA rules. Serious and
critical violations fail the test, with the rule, the help text and the elements.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.axe import AXE, violations
from tests.browser.live import (
    Live,
    demo_platform,
    login,
)

pytest.importorskip("playwright")
from playwright.sync_api import Browser, BrowserContext, Page


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with demo_platform(tmp_path_factory.mktemp("a11y-live")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(browser: Browser) -> Browser:
    """The folder's Chromium, once axe-core is there to check its pages."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make assets` (npm ci)")
    return browser


@pytest.fixture(scope="module")
def contexts(browser: Browser, live: Live) -> dict[str | None, BrowserContext]:
    """One logged-in browser context per account (a TOTP code is accepted once)."""
    return {}


def page_for(
    browser: Browser, live: Live, contexts: dict[str | None, BrowserContext], username: str | None
) -> Page:
    if username not in contexts:
        # bypass_csp: axe is injected as an inline script, which our CSP rightly refuses.
        context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        if username:
            login(context.new_page(), live.url, username)
        contexts[username] = context
    return contexts[username].new_page()


@pytest.mark.parametrize(
    ("username", "path"),
    [
        (None, "/connexion"),
        ("operateur", "/console"),
        ("operateur", "/dossiers"),
        ("superviseur", "/console/supervision"),
        ("parquet.paris", "/parquet/"),
        ("admin", "/admin/zones/"),
        ("parquet.paris", "/pannes/signaler"),
        ("operateur", "/pannes/"),
        ("operateur", "/pannes/appel?reference=M+974+97411+01+1"),
        ("admin", "/admin/lignes/terminaux"),
    ],
)
def test_screen_has_no_serious_accessibility_violation(
    browser: Browser,
    live: Live,
    contexts: dict[str | None, BrowserContext],
    username: str | None,
    path: str,
) -> None:
    page = page_for(browser, live, contexts, username)
    page.goto(live.url + path)
    page.wait_for_load_state("networkidle")
    assert violations(page) == []


def test_open_fault_ticket_with_its_forms(
    browser: Browser, live: Live, contexts: dict[str | None, BrowserContext]
) -> None:
    operator = page_for(browser, live, contexts, "operateur")
    operator.goto(live.url + "/pannes/")
    operator.locator("main table a").first.click()  # open tickets first: the demo's open one
    operator.wait_for_selector("#form-diagnostic")
    assert violations(operator) == []


def test_console_with_an_alert_on_screen(
    browser: Browser, live: Live, contexts: dict[str | None, BrowserContext]
) -> None:
    operator = page_for(browser, live, contexts, "operateur")
    operator.goto(live.url + "/console")
    live.simulate_alert("M 75 75056 01 1")
    operator.locator("#file-alertes button").first.click()
    operator.wait_for_selector("#force h3")
    assert violations(operator) == []
