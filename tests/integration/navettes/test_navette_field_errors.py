"""Every field error of every navette form, through HTTP, in the portal and the keying form.

Each case posts one of the four navette forms with one wrong field and expects a 400 page
that puts the French message next to that field (``id="<field>-erreur"``), never a 500.
The same cases run on the parquet's portal and on the operators' keying form (a navette
received by fax or e-mail), which share the forms.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tgd.container import Platform
from tgd.db.models.navettes import Navette
from tgd.db.writes import write_transaction
from tgd.domain.lifecycle import NavetteSource
from tgd.services import intake

from .conftest import ASSIGNED_LINE, FREE_LINE, csrf_of

Login = Callable[[str], FlaskClient]
TODAY = date(2026, 11, 23)  # the test clock's day (Paris)
IN_STOCK_LINE = "M 75 75056 06 1"  # demo: en stock
TERMINATING_LINE = "M 75 75056 04 1"  # demo: résiliation demandée

BASE: dict[str, dict[str, str]] = {
    "attribution": {
        "reference": FREE_LINE,
        "last_name": "Martin-Canari",
        "first_name": "Léa",
        "residence_line": "5 rue des Canaris",
        "residence_postcode": "75011",
        "residence_city": "Paris",
        "association_id": "0",
    },
    "mise-a-jour": {"reference": ASSIGNED_LINE, "remarks": "Nouvelle remarque"},
    "information-ponctuelle": {
        "reference": ASSIGNED_LINE,
        "start": (TODAY + timedelta(days=1)).isoformat(),
        "end": (TODAY + timedelta(days=3)).isoformat(),
        "content": "Séjour chez sa sœur",
    },
    "resiliation": {
        "reference": ASSIGNED_LINE,
        "last_name": "Lefebvre-Démo",
        "end_date": TODAY.isoformat(),
    },
}

REFERENCE_CASES = [
    ("", "La référence du terminal est obligatoire."),
    ("X 75 75056 01 1", "le préfixe doit être M"),
    ("M 20 75056 05 1", "département 20 n'existe plus"),
    ("M 99 99999 99 9", "le département « 99 » est inconnu"),
    # The commune exists but not in the stated department: its message names the commune
    # (a parameter called ``name``), which used to crash the error collector (500).
    ("M 971 97502 01 1", "97502"),
    ("M 75 75056 00 1", "le numéro d'ordre doit aller de 01 à 99"),
    ("M 75 75056 01 0", "l'indice d'affectation commence à 1"),
    ("M 75 75056 42 1", "Aucune ligne ne porte la référence"),
]

# (form, overrides, field, expected French words)
CASES: list[tuple[str, dict[str, str], str, str]] = [
    *(
        (kind, {"reference": ref}, "reference", words)
        for kind in BASE
        for ref, words in REFERENCE_CASES
    ),
    # attribution
    ("attribution", {"reference": ASSIGNED_LINE}, "reference", "est déjà affectée"),
    ("attribution", {"reference": IN_STOCK_LINE}, "reference", "n'est pas encore activée"),
    ("attribution", {"last_name": ""}, "last_name", "Le nom de la personne est obligatoire."),
    ("attribution", {"first_name": ""}, "first_name", "Le prénom de la personne est obligatoire."),
    (
        "attribution",
        {"birth_date": (TODAY + timedelta(days=2)).isoformat()},
        "birth_date",
        "ne peut pas être dans le futur",
    ),
    ("attribution", {"birth_date": "pas une date"}, "birth_date", "N'est pas une date valide."),
    (
        "attribution",
        {"residence_line": "", "residence_postcode": "", "residence_city": ""},
        "residence_line",
        "L'adresse du domicile est obligatoire.",
    ),
    ("attribution", {"other_phones": "abc"}, "other_phones", "n'est pas lisible"),
    ("attribution", {"other_phones": "06 12"}, "other_phones", "n'est pas valide"),
    ("attribution", {"magistrate": "x" * 201}, "magistrate", "200"),
    ("attribution", {"remarks": "x" * 2001}, "remarks", "2000"),
    # mise à jour
    ("mise-a-jour", {"reference": FREE_LINE}, "reference", "Aucune fiche attribuée"),
    ("mise-a-jour", {"remarks": ""}, "remarks", "La mise à jour ne contient aucun changement."),
    ("mise-a-jour", {"other_phones": "abc"}, "other_phones", "n'est pas lisible"),
    ("mise-a-jour", {"workplace_hours": "x" * 201}, "workplace_hours", "200"),
    # information ponctuelle
    ("information-ponctuelle", {"reference": FREE_LINE}, "reference", "Aucune fiche attribuée"),
    ("information-ponctuelle", {"start": ""}, "start", "La date de début est obligatoire."),
    (
        "information-ponctuelle",
        {"start": (TODAY - timedelta(days=1)).isoformat()},
        "start",
        "ne peut pas être dans le passé",
    ),
    ("information-ponctuelle", {"end": ""}, "end", "La date de fin est obligatoire."),
    (
        "information-ponctuelle",
        {"end": TODAY.isoformat()},
        "end",
        "La date de fin doit suivre la date de début.",
    ),
    (
        "information-ponctuelle",
        {"end": (TODAY + timedelta(days=400)).isoformat()},
        "end",
        "ne peut pas dépasser 366 jours",
    ),
    ("information-ponctuelle", {"content": ""}, "content", "L'information est obligatoire."),
    ("information-ponctuelle", {"content": "x" * 2001}, "content", "2000"),
    # résiliation
    ("resiliation", {"reference": FREE_LINE}, "reference", "Aucune fiche attribuée"),
    ("resiliation", {"reference": TERMINATING_LINE}, "reference", "Aucune fiche attribuée"),
    ("resiliation", {"last_name": ""}, "last_name", "Le nom de la personne est obligatoire."),
    ("resiliation", {"last_name": "Autre-Nom"}, "last_name", "Ce nom ne correspond pas"),
    ("resiliation", {"end_date": ""}, "end_date", "La date de fin de la mesure est obligatoire."),
    (
        "resiliation",
        {"end_date": (TODAY + timedelta(days=400)).isoformat()},
        "end_date",
        "trop lointaine",
    ),
]
IDS = [f"{kind}-{name}-{next(iter(over.values()))[:20]}" for kind, over, name, _ in CASES]


def _count(platform: Platform) -> int:
    with platform.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Navette)) or 0)


def _check(client: FlaskClient, url: str, data: dict[str, str], name: str, words: str) -> None:
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, data={"csrf_token": csrf_of(page.get_data(as_text=True)), **data})
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400, body[-500:]
    assert f'id="{name}-erreur"' in body
    error = body.split(f'id="{name}-erreur"', 1)[1].split("</p>", 1)[0]
    assert words in error


@pytest.mark.parametrize(("kind", "overrides", "name", "words"), CASES, ids=IDS)
def test_every_field_error_of_the_portal_forms(
    login: Login, platform: Platform, kind: str, overrides: dict[str, str], name: str, words: str
) -> None:
    client = login("parquet.paris")
    before = _count(platform)
    data = {**BASE[kind], **overrides, "action": "envoyer"}
    _check(client, f"/parquet/navettes/nouvelle/{kind}", data, name, words)
    assert _count(platform) == before  # nothing written


@pytest.mark.parametrize(("kind", "overrides", "name", "words"), CASES, ids=IDS)
def test_every_field_error_of_the_operators_keying_form(
    login: Login, platform: Platform, kind: str, overrides: dict[str, str], name: str, words: str
) -> None:
    with write_transaction(platform.sessions) as session:
        document = intake.receive_document(
            session,
            source=NavetteSource.FAX,
            content_type="application/pdf",
            content=b"%PDF-1.4\n% navette\n%%EOF\n",
            message_id=None,
            received_at=platform.clock.now(),
            cipher=platform.cipher,
            clock=platform.clock,
        )
        assert document is not None
        document_id = document.id
    client = login("operateur")
    before = _count(platform)
    _check(
        client,
        f"/navettes-recues/documents/{document_id}/{kind}",
        {**BASE[kind], **overrides},
        name,
        words,
    )
    assert _count(platform) == before
