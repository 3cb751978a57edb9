"""Translations: French source, a complete English catalogue in step with the code.

French is the source language of every user-facing string and the default locale,
whatever the browser asks for; English is chosen with the language button (a cookie).
The catalogue tests fail with the strings to extract or translate named, so a developer
who adds a French string knows to run ``scripts/i18n.sh update`` and translate it.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.integration.web.conftest import csrf_of

Login = Callable[[str], FlaskClient]

ROOT = Path(__file__).resolve().parents[3]
TRANSLATIONS = ROOT / "dispatch_ui" / "translations"
POT = TRANSLATIONS / "messages.pot"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# The same options as `scripts/i18n.sh update`.
EXTRACT_OPTIONS = [
    "-F",
    "babel.cfg",
    "-k",
    "_l",
    "-k",
    "N_",
    "-k",
    "lazy_gettext",
    "--no-location",
    "--sort-output",
    "--project",
    "TGD",
]
FIX = "run `scripts/i18n.sh update`, translate the new entries in {po}, then `make translations`"

# A named printf placeholder: %(name)s, %(value)02d, ...
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def msgids(catalog: Catalog) -> set[str]:
    return {str(m.id) for m in catalog if m.id}


def texts(value: object) -> list[str]:
    """Return the strings of a msgid or msgstr (a tuple for plural entries)."""
    return list(value) if isinstance(value, tuple | list) else [str(value or "")]


def placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text)}


def listing(strings: set[str]) -> str:
    return "\n".join(f"  {s!r}" for s in sorted(strings))


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogue() -> None:
    """Compile the English catalogue if its .mo is missing or older than the .po.

    `make test` runs `make translations` first; this keeps a bare `pytest` honest too.
    """
    if MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime:
        return
    catalog = read_catalog(PO)
    fd, tmp = tempfile.mkstemp(dir=MO.parent, prefix=".messages.", suffix=".mo")
    try:
        with os.fdopen(fd, "wb") as f:
            write_mo(f, catalog)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the .mo is not a secret
        os.replace(tmp, MO)  # atomic: a concurrent test run never reads half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- the catalogue ------------------------------------------------------------------------


def test_english_catalogue_is_complete_and_not_fuzzy() -> None:
    catalog = read_catalog(PO)
    untranslated = {str(m.id) for m in catalog if m.id and not all(texts(m.string))}
    fuzzy = {str(m.id) for m in catalog if m.id and m.fuzzy}
    assert not untranslated, f"untranslated in {PO.name}:\n{listing(untranslated)}\n" + FIX.format(
        po=PO
    )
    assert not fuzzy, f"fuzzy (to review, then drop the flag) in {PO.name}:\n{listing(fuzzy)}"


def test_translations_keep_every_placeholder() -> None:
    catalog = read_catalog(PO)
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        expected = set().union(*(placeholders(t) for t in texts(message.id)))
        for translation in texts(message.string):
            if placeholders(translation) != expected:
                wrong.append(
                    f"  {message.id!r}: {sorted(expected)} -> {translation!r}: "
                    f"{sorted(placeholders(translation))}"
                )
    assert not wrong, "placeholders differ between French and English:\n" + "\n".join(wrong)


def test_english_catalogue_holds_every_template_string() -> None:
    template, catalog = msgids(read_catalog(POT)), msgids(read_catalog(PO))
    assert template <= catalog, (
        f"in {POT.name} but not in {PO.name}:\n{listing(template - catalog)}\n" + FIX.format(po=PO)
    )


def test_template_is_up_to_date_with_the_code(tmp_path: Path) -> None:
    pybabel = Path(sys.executable).with_name("pybabel")
    command = (
        [str(pybabel)] if pybabel.exists() else [sys.executable, "-m", "babel.messages.frontend"]
    )
    fresh_pot = tmp_path / "messages.pot"
    result = subprocess.run(
        [*command, "extract", *EXTRACT_OPTIONS, "-o", str(fresh_pot), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"pybabel extract failed:\n{result.stderr}"
    in_code, in_pot = msgids(read_catalog(fresh_pot)), msgids(read_catalog(POT))
    missing, stale = in_code - in_pot, in_pot - in_code
    report = [f"{POT.name} is out of date with the code."]
    if missing:
        report.append(f"New strings in the code, missing from the catalogue:\n{listing(missing)}")
    if stale:
        report.append(f"Strings no longer in the code:\n{listing(stale)}")
    assert not missing and not stale, "\n".join([*report, FIX.format(po=PO)])


# --- the locale in the pages ----------------------------------------------------------------


def text_of(response: TestResponse) -> str:
    """Return a page's text with HTML entities decoded (``n&#39;existe`` -> ``n'existe``)."""
    return html.unescape(response.get_data(as_text=True))


def switch_language(client: FlaskClient, lang: str) -> None:
    """Press the language button of the page, as a user does."""
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    response = client.post("/langue", data={"csrf_token": csrf_of(home), "lang": lang})
    assert response.status_code == 302


def test_french_is_the_default_even_for_an_english_browser(client: FlaskClient) -> None:
    response = client.get("/connexion", headers={"Accept-Language": "en-GB,en;q=0.9"})
    page = text_of(response)
    assert response.status_code == 200
    assert '<html lang="fr"' in page
    assert "Se connecter" in page and "Log in" not in page


def test_language_button_switches_the_login_page_to_english(client: FlaskClient) -> None:
    switch_language(client, "en")
    page = text_of(client.get("/connexion"))
    assert '<html lang="en"' in page
    assert "Log in" in page and "Se connecter" not in page
    assert "Username" in page and "Password" in page

    switch_language(client, "fr")
    page = text_of(client.get("/connexion"))
    assert '<html lang="fr"' in page and "Se connecter" in page


def test_an_unknown_language_falls_back_to_french(client: FlaskClient) -> None:
    switch_language(client, "de")
    page = text_of(client.get("/connexion"))
    assert '<html lang="fr"' in page and "Se connecter" in page


def test_domain_error_is_translated_in_english(login: Login) -> None:
    client = login("operateur")
    french = client.get("/dossiers/999999")
    assert french.status_code == 404
    # One answer for a missing id and another court's: the 404 page's own words.
    assert "Cette page n'existe pas ou vous n'y avez pas accès." in text_of(french)

    switch_language(client, "en")
    english = client.get("/dossiers/999999")
    page = text_of(english)
    assert english.status_code == 404
    assert '<html lang="en"' in page
    assert "This page does not exist or you do not have access to it." in page
    assert "Cette page" not in page


def test_domain_error_is_translated_for_scripts_too(login: Login) -> None:
    client = login("operateur")
    switch_language(client, "en")
    response = client.get("/dossiers/999999", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json() == {
        "error": "This page does not exist or you do not have access to it.",
        "status": 404,
    }


def test_http_error_page_is_translated_in_english(login: Login) -> None:
    client = login("operateur")
    switch_language(client, "en")
    response = client.get("/cette-page-n-existe-pas")
    page = text_of(response)
    assert response.status_code == 404
    assert '<html lang="en"' in page
    assert "This page does not exist or you do not have access to it." in page
