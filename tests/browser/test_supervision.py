"""The supervisors' board in headless Chromium (issue 13, CCP VIII.3 to VIII.5).

A late call is priced on the board from the configured order value, and a supervisor
marks a documented exemption with the keyboard and the board's own form.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.axe import AXE, violations
from tests.browser.live import Live, demo_platform, login

pytest.importorskip("playwright")
from playwright.sync_api import Browser, expect

REFERENCE = "M 75 75056 01 1"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("supervision")
    with demo_platform(data, penalties_call_order_value="200") as server:
        yield server


def test_a_late_call_is_priced_then_exempted_with_its_proof(browser: Browser, live: Live) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make assets` (npm ci)")
    live.simulate_alert(REFERENCE)
    rang = time.monotonic()
    # The service-level job records the breach (run as if its deadline had passed).
    later = datetime.now(ZoneInfo("Europe/Paris")).replace(tzinfo=None) + timedelta(seconds=30)
    live.tgd("jobs", "run", "service_levels", "--at", later.isoformat(timespec="seconds"))
    time.sleep(max(0.0, rang + 13 - time.monotonic()))  # unclaimed 3 s past its 10 s deadline
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, bypass_csp=True)
    page = context.new_page()
    login(page, live.url, "superviseur")
    page.goto(live.url + "/console/supervision")

    board = page.locator("#penalites")
    row = board.locator("tbody tr", has_text=REFERENCE).first
    expect(row).to_contain_text("appel pris en charge en retard")
    expect(row).to_contain_text("en cours", ignore_case=True)
    cells = row.locator("td").all_inner_texts()
    priced = re.fullmatch(r"VIII\.3, ([\d.]+) %", cells[5])  # the article and R
    assert priced is not None, cells
    rate = priced.group(1)
    assert float(rate) >= 30.0  # at least 3 s over 10 s
    assert cells[6] == "200.00"  # V, the configured order value
    assert float(cells[7]) == pytest.approx(200 * float(rate) / 100, abs=0.01)  # P = V x R / 100
    assert violations(page) == []

    row.get_by_label("Cause").focus()
    page.keyboard.press("ArrowDown")  # a native select: arrows choose, as a keyboard user does
    cause = row.get_by_label("Cause").input_value()
    assert cause
    row.get_by_label("Justification (document, ticket…)").fill("Incident opérateur n° 4521")
    page.keyboard.press("Enter")  # submits the row's own form

    expect(
        page.get_by_text("Retard exonéré : il ne compte plus dans les pénalités.")
    ).to_be_visible()
    row = page.locator("#penalites tbody tr", has_text=REFERENCE).first
    expect(row).to_contain_text("Incident opérateur n° 4521")
    expect(row.locator("td").nth(7)).to_contain_text("exonéré")
    expect(page.locator("#penalites")).to_contain_text("dont 1 exonéré(s)")
    assert violations(page) == []
    context.close()
