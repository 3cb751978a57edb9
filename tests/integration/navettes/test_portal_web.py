"""The portal and the operators' pages over HTTP: roles, court scoping, field errors (R-51)."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlalchemy import func, select

from tgd.container import Platform
from tgd.db.models import AuditEntry, Juridiction
from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.db.models.navettes import Navette
from tgd.domain.lifecycle import FileState

from .conftest import ASSIGNED_LINE, FREE_LINE, REUNION_FREE_LINE, csrf_of, post_form

Login = Callable[[str], FlaskClient]
ATTRIBUTION = {
    "reference": FREE_LINE,
    "last_name": "Martin-Canari",
    "first_name": "Léa",
    "residence_line": "5 rue des Canaris",
    "residence_postcode": "75011",
    "residence_city": "Paris",
    "other_phones": "06 98 76 00 99",
    "association_id": "0",
    "action": "envoyer",
}


def _count(platform: Platform) -> int:
    with platform.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Navette)) or 0)


def test_parquet_submits_an_attribution_and_gets_a_receipt(
    login: Login, platform: Platform
) -> None:
    client = login("parquet.paris")
    response = post_form(client, "/parquet/navettes/nouvelle/attribution", ATTRIBUTION)
    assert response.status_code == 302
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "reçue par le centre le 23 nov. 2026 10:30" in receipt
    assert "M 75 75056 05 1" in client.get("/parquet/").get_data(as_text=True)


def test_field_errors_in_french_and_nothing_written(login: Login, platform: Platform) -> None:
    client = login("parquet.paris")
    before = _count(platform)
    for reference, words in (
        ("M 75 75056 42 1", "Aucune ligne ne porte la référence"),
        (REUNION_FREE_LINE, "Aucune ligne ne porte la référence"),  # another court: same answer
        (ASSIGNED_LINE, "est déjà affectée"),
        ("M 20 75056 05 1", "département 20 n&#39;existe plus"),
    ):
        response = post_form(
            client,
            "/parquet/navettes/nouvelle/attribution",
            {**ATTRIBUTION, "reference": reference},
        )
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert 'id="reference-erreur"' in html and words in html
    response = post_form(
        client, "/parquet/navettes/nouvelle/attribution", {**ATTRIBUTION, "last_name": ""}
    )
    assert 'id="last_name-erreur"' in response.get_data(as_text=True)
    assert _count(platform) == before


def test_draft_saved_without_validation(login: Login, platform: Platform) -> None:
    client = login("parquet.paris")
    response = post_form(
        client,
        "/parquet/navettes/nouvelle/attribution",
        {**ATTRIBUTION, "reference": "", "action": "brouillon"},
    )
    assert response.status_code == 302 and "/brouillon" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Martin-Canari" in page
    # Another parquet cannot open it.
    other = login("parquet.reunion")
    assert other.get(response.headers["Location"]).status_code == 404


def test_roles_and_scopes(login: Login, platform: Platform) -> None:
    operator, committee = login("operateur"), login("comite")
    assert operator.get("/parquet/navettes/nouvelle/attribution").status_code == 403
    assert committee.get("/parquet/").status_code == 403
    assert login("parquet.paris").get("/navettes-recues/").status_code == 403
    assert login("admin").get("/admin/lignes/").status_code == 200
    assert operator.get("/admin/lignes/").status_code == 403


def test_operator_creates_the_file_then_commissions(login: Login, platform: Platform) -> None:
    post_form(login("parquet.paris"), "/parquet/navettes/nouvelle/attribution", ATTRIBUTION)
    operator = login("operateur")
    queue = operator.get("/navettes-recues/").get_data(as_text=True)
    assert "15:00 restantes" in queue and 'src="/static/js/countdown.js"' in queue
    with platform.sessions() as s:
        navette_id = s.scalar(select(Navette.id).order_by(Navette.id.desc()).limit(1))
    url = f"/navettes-recues/{navette_id}/fiche"
    form = operator.get(url).get_data(as_text=True)
    assert 'value="Martin-Canari"' in form
    data = {k: v for k, v in ATTRIBUTION.items() if k != "action"}
    response = operator.post(url, data={"csrf_token": csrf_of(form), **data})
    assert response.status_code == 302
    page = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "Essai du terminal" in page and "Attribuer définitivement" in page
    with platform.sessions() as s:
        file = s.scalar(select(BeneficiaryFile).order_by(BeneficiaryFile.id.desc()).limit(1))
        assert file is not None and file.state is FileState.EN_CREATION
        file_id = file.id
    token = csrf_of(page)
    operator.post(
        page_url := f"/navettes-recues/fiches/{file_id}/mise-en-service",
        data={"csrf_token": token, "step": "complete"},
    )
    with platform.sessions() as s:
        assert s.get(BeneficiaryFile, file_id).state is FileState.EN_CREATION  # type: ignore[union-attr]
    assert page_url


def test_parquet_reads_information_from_the_centre(login: Login, platform: Platform) -> None:
    operator = login("operateur")
    with platform.sessions() as s:
        file_id = s.scalar(select(BeneficiaryFile.id).order_by(BeneficiaryFile.id).limit(1))
    response = post_form(
        operator,
        f"/navettes-recues/fiches/{file_id}/parquet",
        {"text": "Nouvel emploi à Vincennes."},
    )
    assert response.status_code == 302
    paris = login("parquet.paris")
    home = paris.get("/parquet/").get_data(as_text=True)
    assert "non lue" in home
    link = home.split('href="/parquet/messages/')[1].split('"')[0]
    assert "Nouvel emploi à Vincennes." in paris.get(f"/parquet/messages/{link}").get_data(
        as_text=True
    )
    assert login("parquet.reunion").get(f"/parquet/messages/{link}").status_code == 404


def test_parquet_puts_its_file_under_legal_hold_and_extends_positions(
    login: Callable[[str], FlaskClient], platform: Platform
) -> None:
    client = login("parquet.paris")
    with platform.sessions() as s:
        paris = s.scalars(select(Juridiction).where(Juridiction.insee == "75056")).one()
        file_id = s.scalars(
            select(BeneficiaryFile.id).where(BeneficiaryFile.juridiction_id == paris.id)
        ).first()
    url = f"/parquet/dossiers/{file_id}/conservation"
    page = client.get(url).get_data(as_text=True)
    assert "Conservation judiciaire" in page and "8 jours" in page and "9 jours" not in page
    response = client.post(
        url, data={"csrf_token": csrf_of(page), "legal_hold": "y", "positions_days": "8"}
    )
    assert response.status_code == 302
    refused = client.post(url, data={"csrf_token": csrf_of(page), "positions_days": "30"})
    assert refused.status_code == 400  # not one of the allowed durations
    with platform.sessions() as s:
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None and file.legal_hold and file.positions_retention_days == 8
        assert "file.legal_hold" in s.scalars(select(AuditEntry.action)).all()


def test_other_courts_file_retention_is_not_found(
    login: Callable[[str], FlaskClient], platform: Platform
) -> None:
    with platform.sessions() as s:
        reunion = s.scalars(select(Juridiction).where(Juridiction.insee == "97411")).one()
        other = s.scalars(
            select(BeneficiaryFile.id).where(BeneficiaryFile.juridiction_id == reunion.id)
        ).first()
    assert login("parquet.paris").get(f"/parquet/dossiers/{other}/conservation").status_code == 404


def test_termination_date_is_shown_and_used_when_the_operator_confirms(
    login: Login, platform: Platform
) -> None:
    from tgd.db.models.operations import Task

    parquet = login("parquet.paris")
    data = {
        "reference": ASSIGNED_LINE,
        "last_name": "Lefebvre-Démo",
        "end_date": "2026-12-15",
        "action": "envoyer",
    }
    assert post_form(parquet, "/parquet/navettes/nouvelle/resiliation", data).status_code == 302
    with platform.sessions() as s:
        task = s.scalars(select(Task).where(Task.kind == "termination_check")).all()[-1]
        task_id, file_id = task.id, task.file_id
    operator = login("operateur")
    url = f"/navettes-recues/resiliations/{task_id}"
    page = operator.get(url).get_data(as_text=True)
    assert "Date de résiliation indiquée par le parquet : 15/12/2026." in page
    response = operator.post(
        url,
        data={
            "csrf_token": csrf_of(page),
            "measure_ended": "y",
            "terminal_recovered": "y",
            "password": "Demo-Operateur-2026",  # closing a file asks the password again
        },
        follow_redirects=True,
    )
    assert "clôturée au 15 déc. 2026 00:00 (CET)" in response.get_data(as_text=True)
    assert "à partir du 22 déc. 2026 00:00 (CET)" in response.get_data(as_text=True)
    file_page = operator.get(f"/dossiers/{file_id}").get_data(as_text=True)
    assert "Date de résiliation : 15/12/2026 — clôture effective le 15 déc. 2026" in file_page
