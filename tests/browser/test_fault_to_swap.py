"""Browser: a prosecutor reports a faulty terminal, an operator swaps it, reports show it (R-18).

A real platform process on loopback with the demo data: the parquet fills the
fault form on the portal, the operator diagnoses the ticket and swaps the
handset for a spare from stock; the line keeps its reference, the parquet sees
the outcome, and the next committee report lists the ticket and the swap.
"""

from __future__ import annotations

import json
import zipfile
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

REFERENCE = "M 75 75056 01 1"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with demo_platform(tmp_path_factory.mktemp("faults-live")) as server:
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


def page_of(browser: Browser, live: Live, username: str, pages: list[Page]) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    login(page, live.url, username)
    pages.append(page)
    return page


def test_parquet_reports_a_fault_the_operator_swaps_it_with_the_same_reference(
    browser: Browser, live: Live, artifacts: list[Page], tmp_path: Path
) -> None:
    spare = next(
        t["imei"]
        for t in json.loads(live.tgd("terminals", "list", "--json"))
        if t["status"] == "en_stock"
    )

    prosecutor = page_of(browser, live, "parquet.paris", artifacts)
    prosecutor.goto(live.url + "/parquet/")
    prosecutor.click("main >> text=Signaler une panne")
    prosecutor.select_option("#reference", REFERENCE)
    prosecutor.select_option("#kind", "panne_terminal")
    prosecutor.fill("#symptoms", "L'écran reste noir depuis ce matin.")
    prosecutor.fill("#contact_name", "Greffe du parquet")
    prosecutor.fill("#contact_phone", "01 40 00 00 00")
    prosecutor.click("text=Envoyer le signalement")
    expect(prosecutor.locator("#etat-signalement")).to_have_text("reçu, en attente de diagnostic")
    ticket_url = prosecutor.url

    operator = page_of(browser, live, "operateur", artifacts)
    operator.click("nav >> text=Pannes")
    operator.click(f"a[href='{ticket_url.removeprefix(live.url)}']")
    expect(operator.locator("main")).to_contain_text("L'écran reste noir depuis ce matin.")
    operator.fill("#diagnostic-diagnosis", "écran défaillant")
    operator.fill("#diagnostic-advice", "redémarrage complet essayé, sans effet")
    operator.check("text=Échange du terminal nécessaire")
    operator.click("text=Enregistrer le diagnostic")
    expect(operator.locator("#etat-signalement")).to_have_text(
        "diagnostiqué, en cours de traitement"
    )
    operator.fill("#echange-imei", spare)
    operator.click("text=Enregistrer l'échange")
    expect(operator.locator("#etat-signalement")).to_have_text("terminal échangé sous garantie")
    expect(operator.locator("#echange")).to_contain_text(
        f"la ligne garde son numéro et sa référence {REFERENCE}"
    )

    prosecutor.goto(ticket_url)
    expect(prosecutor.locator("#etat-signalement")).to_have_text("terminal échangé sous garantie")
    listed = {t["imei"]: t for t in json.loads(live.tgd("terminals", "list", "--json"))}
    assert listed[spare]["reference"] == REFERENCE and listed[spare]["status"] == "en_service"

    # The next report (this quarter, provisional), downloaded by the parquet, shows them.
    prosecutor.goto(live.url + "/rapports")
    prosecutor.select_option("#period", index=1)  # the current quarter, "en cours"
    prosecutor.select_option("#fmt", "ods")
    with prosecutor.expect_download() as download:
        prosecutor.click("text=Télécharger le rapport")
    out = tmp_path / "rapport.ods"
    download.value.save_as(out)
    with zipfile.ZipFile(out) as package:
        content = package.read("content.xml").decode()
    assert spare in content  # table 2: the new handset on the line
    assert "écran défaillant" in content and "terminal échangé sous garantie" in content
