"""Login with password and TOTP, throttling, lockout, sessions and their expiry (R-50, E-08)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import builders
from tests.integration.web.conftest import ACCOUNTS, csrf_of, post_form, totp_code, totp_now
from tgd.adapters.clock import FrozenClock
from tgd.app import limiter
from tgd.container import Platform
from tgd.db.models import AuditEntry, User, UserSession
from tgd.services import auth

Login = Callable[[str], FlaskClient]


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_login_page_is_french_with_dsfr_and_headers(client: FlaskClient) -> None:
    response = client.get("/connexion")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<html lang="fr"' in html and "Se connecter" in html and 'class="fr-' in html
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_anonymous_home_goes_to_login(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/connexion")


def test_wrong_password_is_refused_in_french_and_audited(
    client: FlaskClient, enrolled: None, session: Session
) -> None:
    response: Any = post_form(
        client, "/connexion", {"username": "operateur", "password": "faux-mot-de-passe"}
    )
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in response.get_data(as_text=True)
    assert "login.failed" in actions(session)
    assert session.scalars(select(UserSession)).all() == []


def test_unknown_user_gets_the_same_answer(client: FlaskClient, enrolled: None) -> None:
    response: Any = post_form(client, "/connexion", {"username": "personne", "password": "x" * 14})
    assert response.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in response.get_data(as_text=True)


def test_password_then_totp_logs_in(login: Login, session: Session) -> None:
    client = login("operateur")
    html = client.get("/").get_data(as_text=True)
    assert "Bienvenue, Opérateur démo." in html
    assert actions(session)[-2:] == ["login.password_ok", "login.success"]


def test_password_alone_does_not_open_the_pages(client: FlaskClient, enrolled: None) -> None:
    post_form(
        client, "/connexion", {"username": "operateur", "password": ACCOUNTS["operateur"].password}
    )
    assert client.get("/dossiers").status_code == 302


def test_wrong_code_is_refused(client: FlaskClient, enrolled: None, session: Session) -> None:
    post_form(
        client, "/connexion", {"username": "operateur", "password": ACCOUNTS["operateur"].password}
    )
    response: Any = post_form(client, "/connexion/code", {"code": "000000"})
    assert response.status_code == 401
    assert "Code de vérification incorrect." in response.get_data(as_text=True)
    assert "login.code_failed" in actions(session)


def test_a_code_cannot_be_replayed(login: Login, platform: Platform) -> None:
    client = login("operateur")
    used = totp_now(platform, "operateur")
    client.post(
        "/connexion/deconnexion",
        data={"csrf_token": csrf_of(client.get("/").get_data(as_text=True))},
    )
    post_form(
        client, "/connexion", {"username": "operateur", "password": ACCOUNTS["operateur"].password}
    )
    response: Any = post_form(client, "/connexion/code", {"code": used})
    assert response.status_code == 401
    assert "déjà été utilisé" in response.get_data(as_text=True)


def test_five_failures_lock_the_account_for_a_while(
    client: FlaskClient, enrolled: None, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limiter, "enabled", False)  # the per-account lock is tested here
    for _ in range(auth.MAX_FAILURES):
        post_form(
            client, "/connexion", {"username": "superviseur", "password": "mauvais-mot-de-passe"}
        )
    good = {"username": "superviseur", "password": ACCOUNTS["superviseur"].password}
    response: Any = post_form(client, "/connexion", good)
    assert response.status_code == 401 and "bloqué" in response.get_data(as_text=True)
    clock.advance(minutes=auth.LOCK_MINUTES + 1)
    assert post_form(client, "/connexion", good).status_code == 302  # type: ignore[attr-defined]


def test_repeated_posts_from_one_address_are_throttled(
    client: FlaskClient, enrolled: None, platform: Platform
) -> None:
    form = {"username": "quelquun", "password": "y" * 12}
    allowed = platform.settings.security.login_attempts_per_minute
    statuses = [post_form(client, "/connexion", form).status_code for _ in range(allowed + 1)]  # type: ignore[attr-defined]
    assert statuses == [401] * allowed + [429]
    page = post_form(client, "/connexion", form).get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Trop de tentatives" in page


def test_form_without_csrf_token_is_refused(client: FlaskClient, enrolled: None) -> None:
    response = client.post("/connexion", data={"username": "operateur", "password": "x" * 14})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)


def test_forged_csrf_token_is_refused_and_audited(
    client: FlaskClient, enrolled: None, session: Session
) -> None:
    client.get("/connexion")
    response = client.post(
        "/connexion", data={"csrf_token": "forged", "username": "a", "password": "b"}
    )
    assert response.status_code == 400
    assert "csrf.refused" in actions(session)


def test_idle_session_expires(login: Login, clock: FrozenClock, platform: Platform) -> None:
    client = login("parquet.paris")
    clock.advance(minutes=platform.settings.security.idle_timeout_minutes + 1)
    response = client.get("/dossiers")
    assert response.status_code == 302
    assert "expiré" in client.get("/connexion").get_data(as_text=True)
    with platform.sessions() as s:
        assert "session.ended" in s.scalars(select(AuditEntry.action)).all()


def test_quiet_console_is_not_logged_out_before_the_end_of_the_shift(
    login: Login, clock: FrozenClock
) -> None:
    # E-08: no alert for hours must not log the operator out before the next one.
    client = login("operateur")
    clock.advance(hours=11, minutes=50)
    assert client.get("/dossiers").status_code == 200
    clock.advance(minutes=11)
    assert client.get("/dossiers").status_code == 302


def test_active_session_stays_until_the_end_of_the_shift(login: Login, clock: FrozenClock) -> None:
    client = login("operateur")
    for _ in range(12 * 6 - 1):  # every 10 minutes for 12 hours
        clock.advance(minutes=10)
        assert client.get("/dossiers").status_code == 200
    clock.advance(minutes=11)
    assert client.get("/dossiers").status_code == 302


def test_logout_ends_the_session_for_good(login: Login, session: Session) -> None:
    client = login("operateur")
    cookie = client.get_cookie("tgd_session")
    assert cookie is not None
    client.post(
        "/connexion/deconnexion",
        data={"csrf_token": csrf_of(client.get("/").get_data(as_text=True))},
    )
    client.set_cookie("tgd_session", cookie.value)  # replay the old cookie
    assert client.get("/dossiers").status_code == 302
    assert session.scalars(select(UserSession.end_reason)).all() == ["logout"]
    user_id = session.scalar(select(User.id).where(User.username == "operateur"))
    trail = session.execute(select(AuditEntry.action, AuditEntry.actor).order_by(AuditEntry.id))
    assert [tuple(row) for row in trail if row.action.startswith("login.")] == [
        ("login.password_ok", "anonymous"),
        ("login.success", "anonymous"),
        ("login.logout", f"user:{user_id}"),
    ]


def test_disabling_an_account_ends_its_sessions(login: Login, platform: Platform, app: Any) -> None:
    victim = login("operateur")
    assert victim.get("/dossiers").status_code == 200
    admin = app.test_client()
    post_form(admin, "/connexion", {"username": "admin", "password": ACCOUNTS["admin"].password})
    post_form(admin, "/connexion/code", {"code": totp_now(platform, "admin", step_offset=1)})
    with platform.sessions() as s:
        target = s.scalar(select(User.id).where(User.username == "operateur"))
    page = admin.get("/admin/").get_data(as_text=True)
    response = admin.post(
        f"/admin/utilisateurs/{target}/desactiver", data={"csrf_token": csrf_of(page)}
    )
    assert response.status_code == 302
    assert victim.get("/dossiers").status_code == 302
    with platform.sessions() as s:  # audited once, by the service, with the request's address
        admin_id = s.scalar(select(User.id).where(User.username == "admin"))
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.disable")).all()
        assert [(e.actor, e.object_id, e.source) for e in entries] == [
            (f"user:{admin_id}", str(target), "127.0.0.1")
        ]
        assert entries[0].details == {"sessions_ended": 1}


def test_first_login_enrols_totp_with_a_qr_code(
    client: FlaskClient, platform: Platform, session: Session
) -> None:
    builders.user(  # an account that never logged in
        session,
        username="operateur",
        cipher=platform.cipher,
        hasher=platform.hasher,
        clock=platform.clock,
    )
    session.commit()
    post_form(client, "/connexion", {"username": "operateur", "password": builders.PASSWORD})
    page = client.get("/connexion/enrolement").get_data(as_text=True)
    assert "<svg" in page and builders.TOTP_SECRET in page
    response: Any = post_form(
        client, "/connexion/enrolement", {"code": totp_code(platform, builders.TOTP_SECRET)}
    )
    assert response.status_code == 302
    with platform.sessions() as s:
        user = s.scalars(select(User).where(User.username == "operateur")).one()
        assert user.totp_enrolled_at is not None


def test_committee_needs_no_second_factor(client: FlaskClient, enrolled: None) -> None:
    response: Any = post_form(
        client, "/connexion", {"username": "comite", "password": ACCOUNTS["comite"].password}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
