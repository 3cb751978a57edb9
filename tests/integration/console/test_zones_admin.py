"""Zones administration (R-25): checked imports, overlaps confirmed, history kept."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.integration.web.conftest import csrf_of
from tgd.container import Platform
from tgd.db.models import ForceUnit, PriorityNumberChange, Zone

Login = Callable[[str], FlaskClient]


def square(unit_id: int, lon: float, lat: float, half: float) -> dict[str, Any]:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {
        "type": "Feature",
        "properties": {"unit_id": unit_id},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def upload(client: FlaskClient, features: list[dict[str, Any]], *, accept: bool = False) -> Any:
    token = csrf_of(client.get("/admin/zones/").get_data(as_text=True))
    body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    data: dict[str, Any] = {"csrf_token": token, "geojson": (io.BytesIO(body), "zones.geojson")}
    if accept:
        data["accept_overlaps"] = "y"
    return client.post("/admin/zones/import", data=data, content_type="multipart/form-data")


def unit_ids(platform: Platform) -> list[int]:
    with platform.sessions() as s:
        return list(s.scalars(select(ForceUnit.id).order_by(ForceUnit.id)))


def test_valid_import_replaces_the_zone_and_keeps_history(login: Login, platform: Platform) -> None:
    admin = login("admin")
    first = unit_ids(platform)[0]
    response = upload(admin, [square(first, 2.38, 48.86, 0.02)])
    assert response.status_code == 302
    with platform.sessions() as s:
        zones = s.scalars(select(Zone).where(Zone.unit_id == first)).all()
    assert len(zones) == 2 and sum(z.valid_until is None for z in zones) == 1


def test_invalid_polygon_is_refused_with_the_reason(login: Login, platform: Platform) -> None:
    admin = login("admin")
    bowtie = {
        "type": "Feature",
        "properties": {"unit_id": unit_ids(platform)[0]},
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
    }
    response = upload(admin, [bowtie])
    assert response.status_code == 400
    assert "polygone invalide" in response.get_data(as_text=True)
    with platform.sessions() as s:
        assert s.scalar(select(func.count(Zone.id))) == len(unit_ids(platform))  # nothing written


def test_unknown_unit_and_garbage_are_refused(login: Login) -> None:
    admin = login("admin")
    assert "aucune unité connue" in upload(admin, [square(9999, 2.0, 48.0, 0.1)]).get_data(
        as_text=True
    )


def test_overlaps_must_be_confirmed(login: Login, platform: Platform) -> None:
    admin = login("admin")
    a, b = unit_ids(platform)[:2]
    features = [square(a, 2.38, 48.86, 0.02), square(b, 2.39, 48.86, 0.02)]
    refused = upload(admin, features)
    assert refused.status_code == 400 and "Chevauchements" in refused.get_data(as_text=True)
    assert upload(admin, features, accept=True).status_code == 302


def test_priority_number_change_is_kept_in_history(login: Login, platform: Platform) -> None:
    admin = login("admin")
    uid = unit_ids(platform)[0]
    page = admin.get(f"/admin/zones/unites/{uid}").get_data(as_text=True)
    response = admin.post(
        f"/admin/zones/unites/{uid}",
        data={
            "csrf_token": csrf_of(page),
            "name": "Commissariat du 11e",
            "priority_number": "01 40 00 99 99",
            "callback_number": "",
            "is_active": "y",
        },
    )
    assert response.status_code == 302
    with platform.sessions() as s:
        change = s.scalars(select(PriorityNumberChange)).one()
        assert (change.old_number, change.new_number) == ("+33140001111", "+33140009999")


def test_operators_cannot_administer_zones(login: Login) -> None:
    assert login("operateur").get("/admin/zones/").status_code == 403
