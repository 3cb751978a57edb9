"""The operator's seat in headless Chromium (issue 13): hear, act in one key, see everything.

A real platform on loopback whose fake carrier plays every call it places (ringing,
answered, hung up) with signed callbacks, a local tile server for the street map (no
Internet), and two operators' screens. Each test leaves no alert open behind it.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pyotp
import pytest

from tests.browser.axe import AXE, violations
from tests.browser.live import Live, free_port, login, platform_env, prepare, running

pytest.importorskip("playwright")
from playwright.sync_api import Browser, BrowserContext, Page, expect

UNREACHABLE = "+33199009999"  # the fake carrier rings this line and nobody answers
WIDE = {"width": 1920, "height": 1080}


def _png() -> bytes:
    """A 256 x 256 light grey PNG tile."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xdd\xdd\xdd" * 256 for _ in range(256))
    header = struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class _Tiles(http.server.BaseHTTPRequestHandler):
    served: ClassVar[list[str]] = []
    tile = _png()

    def do_GET(self) -> None:
        _Tiles.served.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.tile)))
        self.end_headers()
        self.wfile.write(self.tile)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def tiles() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, tiles: str) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("seat-live")
    port = free_port()
    env = platform_env(
        data,
        port,
        map_tile_url=tiles + "/{z}/{x}/{y}.png",
        map_tile_attribution="Tuiles de test",
        twilio_fake_unreachable=UNREACHABLE,
        alerts_escalate_after_seconds="4",
        alerts_overflow_after_seconds="3600",
    )
    prepare(env)
    with running(env, port, data / "server.log") as server:
        yield server


_opened: list[BrowserContext] = []


@pytest.fixture(autouse=True)
def artifacts(request: pytest.FixtureRequest, browser: Browser, live: Live) -> Iterator[None]:
    """Close the test's pages after it (an open console would lock its session after the idle
    time); on failure first keep a screenshot of each and the server's log (test-artifacts/)."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        _keep(request.node.name, browser, live)
    _opened.clear()
    for context in list(browser.contexts):
        with contextlib.suppress(Exception):  # some tests close theirs themselves
            context.close()


def _keep(name: str, browser: Browser, live: Live) -> None:
    out = Path("test-artifacts")
    out.mkdir(exist_ok=True)
    for i, context in enumerate(browser.contexts):
        for j, page in enumerate(context.pages):
            page.screenshot(path=str(out / f"{name}-{i}-{j}.png"))
    log = Path(live.env["TGD_DATA_DIR"]) / "server.log"
    if log.exists():
        (out / f"{name}-server.log").write_text(log.read_text()[-200_000:])


PASSWORD = "Mot-De-Passe-Essai-2026"
_logins: dict[str, Any] = {}


def _login_once(browser: Browser, live: Live, username: str) -> Any:
    """Log a demo account in once per module (a TOTP code is accepted once) and keep its state."""
    if username not in _logins:
        context = browser.new_context(viewport=WIDE)
        login(context.new_page(), live.url, username)
        _logins[username] = context.storage_state()
        context.close()
    return _logins[username]


def console_of(browser: Browser, live: Live, username: str, **context: Any) -> Page:
    """A console of a logged-in account (its login session shared by the module's tests)."""
    options = {"viewport": WIDE, **context}
    page = browser.new_context(
        storage_state=_login_once(browser, live, username), **options
    ).new_page()
    page.goto(live.url + "/console")
    expect(page.locator("#console")).to_have_attribute("data-connection", "ok")
    return page


def own_operator(browser: Browser, live: Live, name: str, **context: Any) -> Page:
    """A new operator account with its own login session (tests that lock their screen)."""
    out = live.tgd(
        "user",
        "create",
        "--username",
        name,
        "--name",
        name,
        "--role",
        "operator",
        "--audio-line",
        "+33199001001",
        "--password",
        PASSWORD,
    )
    secret = re.search(r"Secret TOTP : (\S+)", out)
    assert secret, out
    opened = browser.new_context(viewport=WIDE, **context)
    _opened.append(opened)
    page = opened.new_page()
    page.goto(live.url + "/connexion")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.fill("#code", pyotp.TOTP(secret.group(1)).now())
    page.click("main button[type=submit]")
    page.wait_for_url(live.url + "/")
    page.goto(live.url + "/console")
    expect(page.locator("#console")).to_have_attribute("data-connection", "ok")
    return page


@pytest.fixture
def clean(request: pytest.FixtureRequest, browser: Browser, live: Live) -> Iterator[None]:
    """Close every open alert after the test (as a supervisor would)."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        _keep(request.node.name, browser, live)  # before the alerts are closed
    page = console_of(browser, live, "superviseur")
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    headers = {"X-CSRFToken": csrf, "Content-Type": "application/json"}
    for alert in page.request.get(live.url + "/api/console/board").json()["alerts"]:
        base = f"{live.url}/api/console/alerts/{alert['id']}"
        if alert["state"] == "ringing":
            page.request.post(base + "/claim", data="{}", headers=headers)
        page.request.post(
            base + "/close",
            data=json.dumps({"nature": "accidentel", "orientation": "aucune"}),
            headers=headers,
        )
    page.context.close()


def legs(live: Live, reference: str) -> list[dict[str, Any]]:
    alert = next(
        a
        for a in json.loads(live.tgd("alerts", "list", "--json"))
        if a["line_reference"] == reference
    )
    return list(json.loads(live.tgd("alerts", "show", str(alert["id"]), "--json"))["legs"])


def in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= WIDE["height"]


def test_keyboard_only_from_ring_to_close_and_the_next_alert_opens(
    browser: Browser, live: Live, clean: None
) -> None:
    page = console_of(browser, live, "operateur")
    live.simulate_alert("M 75 75056 01 1")
    live.simulate_alert("M 75 75056 02 1")
    row = page.locator("#file-alertes button", has_text="M 75 75056 01 1")
    expect(row).to_be_visible()
    # Never miss: the ring repeats while an alert waits, the title counts them.
    expect(page.locator("#console")).to_have_attribute("data-ringing", "true")
    # A function, not an expression: Playwright polls an expression with eval(), which the
    # console's CSP refuses (no 'unsafe-eval'); a function is sent as source and called.
    page.wait_for_function("() => Number(document.getElementById('console').dataset.rings) >= 2")
    # Between two rings the sound sleeps (a running AudioContext costs a console CPU even in
    # silence), and it wakes for the next ring.
    for state in ("suspended", "running", "suspended"):
        expect(page.locator("#console")).to_have_attribute("data-sound", state)
    expect(page).to_have_title("(2) Console — Téléphone Grave Danger")
    # The cockpit: queue, file, map and the action bar in view together on a wide screen.
    expect(page.locator("#force h3")).to_be_visible()
    for selector in ("#file-alertes", "#titre-fiche", "#carte", "#btn-prendre", "#btn-cloture"):
        assert in_view(page, selector), selector
    expect(page.locator("#btn-forces")).to_be_disabled()  # not held yet
    # P: the oldest waiting alert is taken and the operator's line dialled into its bridge.
    page.keyboard.press("p")
    expect(page.locator("#etat-actions")).to_contain_text("Vous tenez cette alerte")
    expect(page.locator("#titre-fiche")).to_have_text("Camille Lefebvre-Démo")
    operator_leg = page.locator("#jambes li[data-role=operator]")
    expect(operator_leg).to_contain_text("en ligne", timeout=15000)
    assert ("operator", "in-progress") in [
        (leg["role"], leg["status"]) for leg in legs(live, "M 75 75056 01 1")
    ]
    expect(page).to_have_title("(1) Console — Téléphone Grave Danger")
    # F: the proposed police unit joins the bridge; Q: the operator hands over.
    page.keyboard.press("f")
    expect(page.locator("#jambes li[data-role=police]")).to_contain_text("en ligne", timeout=15000)
    page.keyboard.press("q")
    expect(page.locator("#message-action")).to_contain_text("Vous avez quitté le pont")
    expect(operator_leg).not_to_contain_text("en ligne", timeout=15000)
    statuses = {leg["role"]: leg["status"] for leg in legs(live, "M 75 75056 01 1")}
    assert statuses["police"] == "in-progress" and statuses["operator"] in ("left", "completed")
    # C: the closing form opens; the keyboard fills and submits it.
    page.keyboard.press("c")
    expect(page.locator("#dialogue-cloture")).to_be_visible()
    expect(page.locator("#nature")).to_be_focused()
    page.keyboard.press("d")  # danger réel
    page.keyboard.press("Tab")
    page.keyboard.press("f")  # forces de l'ordre alertées
    assert page.locator("#nature").input_value() == "danger_reel"
    assert page.locator("#orientation").input_value() == "forces_alertees"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("Forces sur place.")
    page.keyboard.press("Tab")
    expect(page.locator("#btn-cloturer")).to_be_focused()
    page.keyboard.press("Enter")
    # After a close, the oldest waiting alert opens.
    expect(page.locator("#file-alertes button", has_text="M 75 75056 01 1")).to_have_count(0)
    expect(page.locator("#titre-fiche")).to_have_text("Inès Moreau-Démo")
    expect(page.locator("#file-alertes button[aria-current=true]")).to_contain_text(
        "M 75 75056 02 1"
    )
    expect(page.locator("#btn-prendre")).to_be_enabled()


def test_two_operators_one_wins_the_claim_and_both_see_it(
    browser: Browser, live: Live, clean: None
) -> None:
    first = console_of(browser, live, "operateur")
    second = console_of(browser, live, "superviseur")
    live.simulate_alert("M 974 97411 01 1")
    for page in (first, second):
        page.locator("#file-alertes button", has_text="M 974 97411 01 1").click()
        expect(page.locator("#btn-prendre")).to_be_enabled()
    first.click("#btn-prendre")
    # force: the first claim's event may already have turned the button off (a disabled
    # button ignores the click), and waiting for it to be enabled would wait forever.
    second.click("#btn-prendre", force=True)
    # Whichever reaches the second screen first, the first claim's event (its button turns
    # off) or its own click (refused by the server with the race message), it ends held
    # by the other operator.
    expect(second.locator("#etat-actions")).to_contain_text("tenue par un autre téléassisteur")
    if "déjà été prise en charge" in (second.locator("#message-action").text_content() or ""):
        assert in_view(second, "#message-action")  # the race message is on screen, not below
    expect(second.locator("#btn-forces")).to_be_disabled()
    expect(second.locator("#file-alertes li", has_text="M 974 97411 01 1")).to_contain_text(
        "prise en charge"
    )
    expect(first.locator("#etat-actions")).to_contain_text("Vous tenez cette alerte")
    expect(second.locator("#console")).to_have_attribute("data-ringing", "false")


def test_a_reopened_console_rings_only_for_alerts_still_waiting(
    browser: Browser, live: Live, clean: None
) -> None:
    page = console_of(browser, live, "operateur")
    live.simulate_alert("M 975 97502 01 1")
    page.locator("#file-alertes button", has_text="M 975 97502 01 1").click()
    page.keyboard.press("p")
    expect(page.locator("#etat-actions")).to_contain_text("Vous tenez cette alerte")
    page.keyboard.press("c")
    page.select_option("#nature", "accidentel")
    page.select_option("#orientation", "aucune")
    page.click("#btn-cloturer")
    expect(page.locator("#file-alertes li")).to_have_count(0)
    page.context.close()
    again = console_of(browser, live, "operateur")
    again.wait_for_timeout(1500)
    expect(again.locator("#console")).to_have_attribute("data-ringing", "false")
    assert again.locator("#console").get_attribute("data-rings") is None  # it never rang
    assert "Nouvelle alerte" not in (again.locator("#annonce").text_content() or "")
    expect(again).to_have_title("Console — Téléphone Grave Danger")
    live.simulate_alert("M 75 75056 02 1")  # still waiting when another console opens
    third = console_of(browser, live, "superviseur")
    expect(third.locator("#console")).to_have_attribute("data-ringing", "true")
    expect(third).to_have_title("(1) Console — Téléphone Grave Danger")


def test_the_lock_screen_keeps_ringing_and_unlocks_with_the_password(
    browser: Browser, live: Live, clean: None
) -> None:
    page = own_operator(browser, live, "op.verrou")
    page.keyboard.press("v")
    expect(page.locator("#verrou")).to_be_visible()
    expect(page.locator("#console")).to_have_attribute("data-locked", "true")
    live.simulate_alert("M 75 75056 01 1")  # an alert arrives on the locked screen
    expect(page.locator("#verrou-attente")).to_have_text("Alertes en attente : 1")
    expect(page.locator("#console")).to_have_attribute("data-ringing", "true")
    assert page.locator("#console").get_attribute("data-connection") == "ok"
    assert "Lefebvre" not in page.locator("body").inner_text()
    alert_id = page.request.get(live.url + "/api/console/board").json()["alerts"][0]["id"]
    assert page.request.get(f"{live.url}/api/console/alerts/{alert_id}").status == 423
    page.goto(live.url + "/dossiers")  # other pages lead back to the lock
    expect(page.locator("#verrou")).to_be_visible()
    page.fill("#mot-de-passe-verrou", "pas le bon")
    page.click("#btn-deverrouiller")
    expect(page.locator("#erreur-verrou")).to_have_text("Mot de passe incorrect.")
    page.fill("#mot-de-passe-verrou", PASSWORD)
    page.click("#btn-deverrouiller")
    expect(page.locator("#verrou")).to_be_hidden()
    page.locator("#file-alertes button", has_text="M 75 75056 01 1").click()
    expect(page.locator("#titre-fiche")).to_have_text("Camille Lefebvre-Démo")


def test_the_console_locks_itself_after_the_idle_time(browser: Browser, live: Live) -> None:
    page = own_operator(browser, live, "op.veille")
    page.clock.install()
    page.reload()
    expect(page.locator("#console")).to_have_attribute("data-connection", "ok")
    page.clock.fast_forward("04:00")
    expect(page.locator("#verrou")).to_be_hidden()
    page.clock.fast_forward("01:05")  # [security] lock_idle_minutes = 5 by default
    expect(page.locator("#verrou")).to_be_visible()
    page.fill("#mot-de-passe-verrou", PASSWORD)
    page.click("#btn-deverrouiller")
    expect(page.locator("#verrou")).to_be_hidden()
    page.context.close()


def test_a_failed_operator_line_says_why_and_is_retried(
    browser: Browser, live: Live, clean: None
) -> None:
    page = console_of(browser, live, "operateur")
    page.click("#btn-ma-ligne")
    page.fill("#champ-ma-ligne", UNREACHABLE)
    page.click("#form-ma-ligne button[type=submit]")
    expect(page.locator("#ma-ligne")).to_have_text("01 99 00 99 99")
    live.simulate_alert("M 75 75056 02 1")
    page.locator("#file-alertes button", has_text="M 75 75056 02 1").click()
    page.keyboard.press("p")
    leg = page.locator("#jambes li[data-role=operator]")
    expect(leg).to_contain_text("pas de réponse — personne n'a décroché", timeout=15000)
    expect(page.locator("#btn-ma-ligne-rappel")).to_be_enabled()
    page.click("#btn-ma-ligne")
    page.fill("#champ-ma-ligne", "01 99 00 10 01")
    page.click("#form-ma-ligne button[type=submit]")
    expect(page.locator("#ma-ligne")).to_have_text("01 99 00 10 01")
    page.keyboard.press("a")
    expect(page.locator("#jambes li[data-role=operator]").last).to_contain_text(
        "en ligne", timeout=15000
    )
    page.click("#btn-ma-ligne")
    page.fill("#champ-ma-ligne", "")
    page.click("#form-ma-ligne button[type=submit]")


def test_the_map_has_streets_a_legend_the_competent_zone_and_named_places(
    browser: Browser, live: Live, clean: None
) -> None:
    page = console_of(browser, live, "operateur")
    live.simulate_alert("M 75 75056 01 1")
    page.locator("#file-alertes button", has_text="M 75 75056 01 1").click()
    expect(page.locator("#carte")).to_have_attribute("data-tiles", "on")
    expect(page.locator("#carte img.leaflet-tile-loaded").first).to_be_visible()
    assert _Tiles.served, "no tile was asked of the tile server"
    expect(page.locator(".leaflet-control-attribution")).to_contain_text("Tuiles de test")
    expect(page.locator("#legende")).to_contain_text("Zone de la force compétente")
    # One label each once the file has settled (a re-render replaces the markers).
    for label in ("Domicile", "Travail"):
        marker = page.locator("#carte .tgd-marker-label", has_text=label)
        expect(marker).to_have_count(1)  # a lingering duplicate fails here
        expect(marker.first).to_be_visible()  # (a re-render may add one for a moment)
    unit = page.request.get(
        live.url
        + "/api/console/alerts/"
        + page.locator("#file-alertes button").first.get_attribute("data-alert-id")  # type: ignore[operator]
    ).json()["proposal"]["unit_id"]
    expect(page.locator("#carte")).to_have_attribute("data-competent-unit", str(unit))
    expect(page.locator("#carte path[stroke='#ce0500'][stroke-width='3']")).to_have_count(1)


def test_words_not_codes_and_numbers_for_reading(browser: Browser, live: Live, clean: None) -> None:
    page = console_of(browser, live, "operateur")
    live.simulate_alert("M 75 75056 01 1")
    page.locator("#file-alertes button", has_text="M 75 75056 01 1").click()
    detail = page.locator("#fiche")
    expect(detail).to_contain_text("06 12 34 00 01")
    text = detail.inner_text()
    for code in ("danger_reel", "demande_soutien", "non_qualifiee", "+3361234", "(essai)"):
        assert code not in text, code
    history = page.locator("#historique li").all_inner_texts()
    assert history, "the file shows its recent history"
    dates = page.request.get(
        live.url
        + "/api/console/alerts/"
        + (page.locator("#file-alertes button").first.get_attribute("data-alert-id") or "")
    ).json()["file"]["recent"]
    stamps = [r["at_iso"] for r in dates]
    assert stamps == sorted(stamps, reverse=True)  # newest first, by date


def test_the_connection_banner_stays_in_view(browser: Browser, live: Live) -> None:
    page = console_of(browser, live, "operateur", viewport={"width": 900, "height": 600})
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.context.set_offline(True)
    expect(page.locator("#console")).to_have_attribute("data-connection", "lost", timeout=15000)
    box = page.locator("#etat-connexion").bounding_box()
    assert box is not None and 0 <= box["y"] < 600
    page.context.set_offline(False)
    expect(page.locator("#console")).to_have_attribute("data-connection", "ok", timeout=15000)
    page.context.close()


def test_a_desktop_notification_names_the_reference_only(
    browser: Browser, live: Live, clean: None
) -> None:
    page = own_operator(browser, live, "op.notif", permissions=["notifications"])
    page.evaluate(
        """() => { window.__notes = [];
        window.Notification = function (title, options) {
          window.__notes.push([title, options.body]); return { close() {} }; };
        window.Notification.permission = 'granted';
        window.Notification.requestPermission = () => Promise.resolve('granted'); }"""
    )
    page.click("#btn-notifications")
    expect(page.locator("#btn-notifications")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("v")  # locked: the operator is away from the screen
    live.simulate_alert("M 75 75056 01 1")
    page.wait_for_function("() => window.__notes.length > 0")
    assert page.evaluate("window.__notes") == [["Nouvelle alerte", "M 75 75056 01 1"]]
    page.context.close()


def test_logged_out_pages_have_no_script_error(browser: Browser, live: Live) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(live.url + "/connexion")
    page.wait_for_load_state("networkidle")
    page.goto(live.url + "/")
    page.wait_for_load_state("networkidle")
    assert errors == []
    page.close()


def test_every_state_of_the_seat_passes_axe(browser: Browser, live: Live, clean: None) -> None:
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make assets` (npm ci)")
    page = console_of(browser, live, "operateur", bypass_csp=True)
    found: dict[str, list[str]] = {"empty": violations(page)}
    live.simulate_alert("M 75 75056 01 1")
    live.simulate_alert("M 75 75056 02 1")
    late = page.locator("#file-alertes button.tgd-escalated").first
    expect(late).to_be_visible(timeout=15000)  # escalated after 4 s on this server
    late.hover()
    found["escalated, hovered"] = violations(page)
    late.focus()
    found["escalated, focused"] = violations(page)
    late.click()
    expect(page.locator("#force h3")).to_be_visible()
    page.locator("#file-alertes button[aria-current=true]").hover()
    found["selected, hovered"] = violations(page)
    page.keyboard.press("p")
    expect(page.locator("#jambes li[data-role=operator]")).to_contain_text(
        "en ligne", timeout=15000
    )
    found["claimed"] = violations(page)
    page.locator("#btn-forces").focus()
    found["action focused"] = violations(page)
    page.keyboard.press("c")
    found["closing form"] = violations(page)
    page.keyboard.press("Escape")
    page.click("#btn-aide")
    found["help"] = violations(page)
    page.click("#btn-fermer-aide")
    locked = own_operator(browser, live, "op.axe", bypass_csp=True)
    locked.keyboard.press("v")
    expect(locked.locator("#verrou")).to_be_visible()
    found["locked"] = violations(locked)
    supervisor = console_of(browser, live, "superviseur", bypass_csp=True)
    supervisor.goto(live.url + "/console/supervision")
    found["supervision"] = violations(supervisor)
    anonymous = browser.new_page(bypass_csp=True)
    anonymous.goto(live.url + "/connexion")
    found["login"] = violations(anonymous)
    anonymous.close()
    assert {state: v for state, v in found.items() if v} == {}
