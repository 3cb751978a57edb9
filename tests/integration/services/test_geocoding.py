"""Competent force for real files (R-25): addresses geocoded after the write, shown, corrected.

A file created from a navette has addresses without coordinates. They are
marked in the writing transaction, geocoded later (network I/O outside any
transaction), stored encrypted with their match quality; the console proposes
the competent unit from them when there is no GPS fix, says how far the point
can be trusted, and lets the operator place it by hand.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import builders
from tests.integration.navettes.conftest import user
from tgd.adapters.geocoder import FakeGeocoder
from tgd.container import Platform, build_geocoder
from tgd.db.models import AuditEntry, BeneficiaryFile, FileGeocode, Line
from tgd.db.writes import write_transaction
from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.geocoding import GeocodeMatch, MatchKind
from tgd.domain.lifecycle import FileState, LineStatus
from tgd.domain.navettes import Attribution, Update
from tgd.domain.zones import PositionKind
from tgd.jobs.registry import JOBS
from tgd.jobs.runner import run_job
from tgd.ports import GeocoderUnavailable
from tgd.services import console, destruction, geocoding, navettes
from tgd.services.alerts import CallKind, IncomingCall, open_alert
from tgd.services.demo import DEMO_PERSONS
from tgd.settings import Settings

Login = Callable[[str], FlaskClient]
FREE_LINE = "M 75 75056 05 1"  # en attente, Paris (as in the demo)
FREE_LINE_MSISDN = "+33612340005"
ADDRESS = Address("5 rue des Canaris", "75011", "Paris")
IN_THE_11TH = (48.8589, 2.3800)  # inside the 11e commissariat's zone
PLACED = Address("3 place des Ormes", "75010", "Paris", lat=48.8720, lon=2.3560)
KNOWS_IT = FakeGeocoder({ADDRESS.one_line(): IN_THE_11TH})


@pytest.fixture
def paris(platform: Platform) -> None:
    """Paris' free line 05, the 11e commissariat and its zone, a parquet and an operator."""
    clock = platform.clock
    with write_transaction(platform.sessions) as s:
        court = builders.juridiction(s, insee="75056", clock=clock)
        builders.line(
            s,
            juridiction=court,
            order_no=5,
            msisdn=FREE_LINE_MSISDN,
            status=LineStatus.EN_ATTENTE,
            clock=clock,
        )
        builders.force_unit(s, territory=court.territory, clock=clock)
        builders.users_of(
            s,
            builders.PARQUET_AND_OPERATOR,
            cipher=platform.cipher,
            hasher=platform.hasher,
            clock=clock,
        )


def _new_file(platform: Platform) -> int:
    """A real file, from a navette: its address has no coordinates."""
    with write_transaction(platform.sessions) as s:
        person = PersonalData("Martin-Canari", "Léa", residence=ADDRESS)
        navette = navettes.submit(
            s,
            Attribution(FREE_LINE, person),
            user=user(s, "parquet.paris"),
            cipher=platform.cipher,
            clock=platform.clock,
        )
        file = navettes.create_file(
            s,
            navette,
            personal=person,
            association_id=None,
            user=user(s, "operateur"),
            cipher=platform.cipher,
            clock=platform.clock,
        )
        file.state = FileState.ATTRIBUE
        return file.id


def _rows(platform: Platform, file_id: int) -> dict[str, FileGeocode]:
    with platform.sessions() as s:
        rows = s.scalars(select(FileGeocode).where(FileGeocode.file_id == file_id))
        return {r.place: r for r in rows}


def _proposal(platform: Platform, file_id: int, login_user: str = "operateur") -> console.Proposal:
    import secrets

    with write_transaction(platform.sessions) as s:
        alert = open_alert(
            s,
            IncomingCall("CAgeo" + secrets.token_hex(8), FREE_LINE_MSISDN, None),
            kind=CallKind.ALERT,
            cipher=platform.cipher,
            clock=platform.clock,
        )
        assert alert.file_id == file_id
        detail = console.alert_detail(
            s,
            alert,
            cipher=platform.cipher,
            clock=platform.clock,
            zones=console.ZoneCache(),
            default_timezone="Europe/Paris",
            viewer=user(s, login_user),
        )
        return detail.proposal


def test_a_real_file_without_gps_gets_a_proposed_unit_once_geocoded(
    platform: Platform, paris: None
) -> None:
    file_id = _new_file(platform)
    rows = _rows(platform, file_id)
    assert rows["residence"].status == "pending" and rows["workplace"].status == "empty"
    assert _proposal(platform, file_id).unit is None  # nothing to go on yet
    run = geocoding.geocode_pending(
        platform.sessions, geocoder=KNOWS_IT, cipher=platform.cipher, clock=platform.clock
    )
    assert (run.found, run.not_found) == (1, 0)
    residence = _rows(platform, file_id)["residence"]
    assert residence.status == "found" and residence.match_type == "housenumber"
    assert residence.score is not None and residence.score > 0.9
    assert residence.point_enc is not None and b"48.85" not in residence.point_enc
    proposal = _proposal(platform, file_id)
    assert proposal.unit is not None and proposal.candidate is not None
    assert proposal.candidate.kind is PositionKind.RESIDENCE
    assert (proposal.candidate.lat, proposal.candidate.lon) == IN_THE_11TH


def test_a_changed_address_is_geocoded_again_and_a_stale_answer_is_dropped(
    platform: Platform, paris: None
) -> None:
    file_id = _new_file(platform)
    moved = Address("40 avenue des Érables", "75012", "Paris")

    class MovesWhileAsked:
        """The address changes while the geocoder is being asked (another request)."""

        def geocode(self, address: str) -> GeocodeMatch | None:
            with write_transaction(platform.sessions) as s:
                navettes.submit(
                    s,
                    Update(FREE_LINE, {"residence": moved.__dict__}),
                    user=user(s, "parquet.paris"),
                    cipher=platform.cipher,
                    clock=platform.clock,
                )
            return KNOWS_IT.geocode(address)

    with write_transaction(
        platform.sessions
    ) as s:  # the navette's update applies to an assigned file
        s.get(BeneficiaryFile, file_id).state = FileState.ATTRIBUE  # type: ignore[union-attr]
    run = geocoding.geocode_pending(
        platform.sessions, geocoder=MovesWhileAsked(), cipher=platform.cipher, clock=platform.clock
    )
    assert run.superseded == 1 and run.found == 0
    residence = _rows(platform, file_id)["residence"]
    assert residence.status == "pending" and residence.version_no == 2  # the new address waits
    elsewhere = FakeGeocoder({moved.one_line(): (48.8443, 2.3950)})
    geocoding.geocode_pending(
        platform.sessions, geocoder=elsewhere, cipher=platform.cipher, clock=platform.clock
    )
    assert _rows(platform, file_id)["residence"].status == "found"


def test_an_unreachable_geocoder_leaves_the_address_pending(
    platform: Platform, paris: None
) -> None:
    file_id = _new_file(platform)

    class Down:
        def geocode(self, address: str) -> GeocodeMatch | None:
            raise GeocoderUnavailable("timeout")

    run = geocoding.geocode_pending(
        platform.sessions, geocoder=Down(), cipher=platform.cipher, clock=platform.clock
    )
    assert run.unavailable == 1
    residence = _rows(platform, file_id)["residence"]
    assert residence.status == "pending" and residence.attempts == 1


def test_the_job_marks_old_files_and_the_fake_answers_at_the_communes_centre(
    platform: Platform, paris: None
) -> None:
    with write_transaction(platform.sessions) as s:  # a file whose address has coordinates
        builders.assigned_file(
            s,
            juridiction=builders.juridiction(s, clock=platform.clock),
            personal=PersonalData("Nguyen-Test", "Sarah", residence=PLACED),
            cipher=platform.cipher,
            clock=platform.clock,
        )
    file_id = _new_file(platform)
    with write_transaction(platform.sessions) as s:  # a file from before geocoding existed
        for row in s.scalars(select(FileGeocode).where(FileGeocode.file_id == file_id)):
            s.delete(row)
    job = run_job(
        JOBS["geocoding"],
        settings=platform.settings,
        engine=platform.engine,
        sessions=platform.sessions,
        cipher=platform.cipher,
        clock=platform.clock,
        holder="test",
        geocoder=build_geocoder(platform.settings),
    )
    assert job is not None and job.details["marked"] >= 1 and job.details["found"] == 1
    residence = _rows(platform, file_id)["residence"]
    # The demo's offline geocoder does not know this street: the commune's centre, to check.
    assert residence.match_type == "municipality" and residence.score is not None
    with platform.sessions() as s:
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None
        point = geocoding.points_of(s, file, cipher=platform.cipher)["residence"]
        assert point.quality is not None and point.quality.value == "to_check"
    # Files that carry their coordinates (as the demo's do): found at once, nothing to ask.
    with platform.sessions() as s:
        given_rows = s.scalars(select(FileGeocode).where(FileGeocode.match_type == "given")).all()
        assert given_rows and all(r.status == "found" for r in given_rows)


def test_the_configured_fake_places_every_demo_address_where_the_demo_put_it(
    settings: Settings,
) -> None:
    geocoder = build_geocoder(settings)  # [geocoder] backend = "fake", the tests' default
    for person in DEMO_PERSONS.values():
        for address in (person.residence, person.workplace):
            if address.is_empty:
                continue
            match = geocoder.geocode(address.one_line())
            assert match is not None and match.kind is MatchKind.HOUSENUMBER
            assert (match.lat, match.lon) == (address.lat, address.lon)


def _csrf(client: FlaskClient) -> str:
    page = client.get("/console").get_data(as_text=True)
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def test_the_operator_sees_the_quality_and_places_a_wrong_point_on_the_map(
    platform: Platform, login: Login
) -> None:
    file_id = _new_file(platform)
    geocoding.geocode_pending(
        platform.sessions,
        geocoder=FakeGeocoder({}),  # knows only the commune
        cipher=platform.cipher,
        clock=platform.clock,
    )
    with write_transaction(platform.sessions) as s:
        alert = open_alert(
            s,
            IncomingCall("CAgeo-console", FREE_LINE_MSISDN, None),
            kind=CallKind.ALERT,
            cipher=platform.cipher,
            clock=platform.clock,
        )
        alert_id = alert.id
    operator = login("operateur")
    body = operator.get(f"/api/console/alerts/{alert_id}").get_json()
    residence = body["file"]["places"]["residence"]
    assert residence["quality"] == "to_check" and residence["status"] == "found"
    assert "centre de la commune" in residence["text"]
    page = operator.get(f"/dossiers/{file_id}").get_data(as_text=True)
    assert "Position sur la carte : centre de la commune seulement" in page
    console_page = operator.get("/console").get_data(as_text=True)
    assert "js/geocode.js" in console_page and 'id="textes-geocode"' in console_page
    # The operator places the point where the person lives.
    token = _csrf(operator)
    url = f"/api/console/fichiers/{file_id}/position"
    bad = operator.post(
        url, json={"place": "residence", "lat": 95, "lon": 2}, headers={"X-CSRFToken": token}
    )
    assert bad.status_code == 400
    done = operator.post(
        url,
        json={"place": "residence", "lat": IN_THE_11TH[0], "lon": IN_THE_11TH[1]},
        headers={"X-CSRFToken": token},
    )
    assert done.status_code == 200, done.get_data(as_text=True)
    body = operator.get(f"/api/console/alerts/{alert_id}").get_json()
    assert body["file"]["places"]["residence"]["quality"] == "manual"
    assert body["file"]["residence_coords"] == list(IN_THE_11TH)
    assert body["proposal"]["point"] == list(IN_THE_11TH)
    with platform.sessions() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "file.geocode_correct")
        ).one()
        assert entry.object_id == str(file_id) and "48.85" not in str(entry.details)
        assert entry.details == {"place": "residence"} and entry.source == "127.0.0.1"
        row = s.scalars(
            select(FileGeocode).where(
                FileGeocode.file_id == file_id, FileGeocode.place == "residence"
            )
        ).one()
        assert row.status == "manual" and row.corrected_by_id is not None
    # Roles without the console cannot move a point.
    association = login("association")
    refused = association.post(url, json={"place": "residence", "lat": 48.0, "lon": 2.0})
    assert refused.status_code in (400, 403)  # no CSRF token for it, and no permission anyway


def test_destroying_a_file_destroys_the_points_of_its_addresses(
    platform: Platform, paris: None, session: Session
) -> None:
    file_id = _new_file(platform)
    geocoding.geocode_pending(
        platform.sessions, geocoder=KNOWS_IT, cipher=platform.cipher, clock=platform.clock
    )
    with write_transaction(platform.sessions) as s:
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None
        file.state = FileState.CLOTURE
        s.flush()
        destruction.destroy_file(
            s, file, cipher=platform.cipher, rule="R-16", actor="system:test", clock=platform.clock
        )
    assert _rows(platform, file_id) == {}
    assert session.scalar(select(Line).where(Line.msisdn == FREE_LINE_MSISDN)) is not None


@pytest.mark.parametrize("place", ["cave", ""])
def test_only_the_files_two_places_can_be_corrected(
    platform: Platform, paris: None, place: str
) -> None:
    from tgd.domain.errors import ValidationError

    file_id = _new_file(platform)
    with write_transaction(platform.sessions) as s:
        file = s.get(BeneficiaryFile, file_id)
        assert file is not None
        with pytest.raises(ValidationError):
            geocoding.correct(
                s,
                file,
                place,
                lat=48.0,
                lon=2.0,
                user=user(s, "operateur"),
                cipher=platform.cipher,
                clock=platform.clock,
            )
