"""Commands of the gateway (``tgd simulate …``, ``tgd canary``), registered on the ``tgd`` group.

``tgd simulate`` plays the terminals and the carrier against a running
platform (``--url``, default ``http://127.0.0.1:5000``): it sends the webhooks
Twilio would send, signed with the configured auth token over the configured
public URL, so the real code path runs end to end. It reads the same
configuration as the platform (``TGD_CONFIG`` / ``TGD_*``) to resolve a line
reference to its number and to find a terminal's HTTPS secret.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click
from sqlalchemy import select

from tgd.adapters.fake_twilio.carrier import Answer, Carrier, new_sid, post_signed_position
from tgd.cli_french import FrenchCommand, FrenchGroup
from tgd.cli_state import State
from tgd.domain.alerts import PositionSource
from tgd.domain.positions import Fix, format_aml
from tgd.domain.reference import Reference

if TYPE_CHECKING:
    from tgd.container import Platform

DEFAULT_URL = "http://127.0.0.1:5000"
url_option = click.option(
    "--url", default=DEFAULT_URL, show_default=True, help="Adresse de la plateforme."
)
line_option = click.option(
    "--line", "reference", default=None, help="Référence de la ligne (M 75 75056 01 1)."
)
from_option = click.option("--from", "number", default=None, help="Numéro appelant (E.164).")
_CONFERENCE_RE = re.compile(r"<Conference[^>]*>([^<]+)</Conference>")


def register(main: click.Group) -> None:
    """Add the gateway's commands to the ``tgd`` command."""
    main.add_command(simulate)
    main.add_command(canary)
    main.add_command(fallback)


@click.command(
    "fallback", help="Sert la réponse de secours (E-05) quand la plateforme ne répond pas."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--public-url",
    default="",
    help="URL de secours appelée par Twilio (server.fallback_url par défaut).",
)
def fallback(host: str, port: int, public_url: str) -> None:
    """Run the fallback process: no database, the call kept in the spool."""
    from handset_gateway.fallback.server import serve
    from tgd.logs import configure_logging

    settings = _state().settings
    configure_logging(settings.log_level, settings.server.log_format, service="fallback")
    click.echo(f"réponse de secours sur http://{host}:{port}")
    serve(settings, host, port, public_url)


def _state() -> State:
    return click.get_current_context().ensure_object(State)


def _platform() -> Platform:
    return _state().platform


def _carrier(url: str) -> Carrier:
    settings = _state().settings
    return Carrier(
        platform_url=url,
        public_base_url=settings.twilio.public_base_url,
        auth_token=settings.twilio.auth_token,
    )


def _number_of(reference: str | None, number: str | None) -> str:
    if number:
        return number
    if not reference:
        raise click.UsageError("donnez --line REFERENCE ou --from NUMERO")
    from tgd.db.models.lines import Line, LineAssignment

    canonical = str(Reference.parse(reference))
    with _platform().sessions() as session:
        msisdn = session.scalar(
            select(Line.msisdn).join(LineAssignment).where(LineAssignment.reference == canonical)
        )
    if msisdn is None:
        raise click.ClickException(f"aucune ligne de référence « {canonical} »")
    return str(msisdn)


def _show(answer: Answer) -> None:
    click.echo(f"réponse HTTP {answer.status}")
    if answer.status >= 400:
        click.echo(answer.body, err=True)
        sys.exit(1)


@click.group(
    cls=FrenchGroup, help="Simule des terminaux et l'opérateur téléphonique (développement, tests)."
)
def simulate() -> None:
    """Simulator commands."""


def _call(url: str, from_: str, to: str, join: bool) -> None:
    carrier = _carrier(url)
    sid, answer = carrier.incoming_call(from_=from_, to=to)
    click.echo(f"appel {sid}")
    _show(answer)
    found = _CONFERENCE_RE.search(answer.body)
    if found is None:
        click.echo("réponse sans conférence (renvoi vers un numéro)")
        return
    name = found.group(1)
    click.echo(f"pont {name} (nom opaque)")
    if join:
        # What the carrier does next: the conference starts and the caller joins it.
        conference_sid = new_sid("CF")
        carrier.conference_event(conference_sid=conference_sid, name=name, event="conference-start")
        carrier.conference_event(
            conference_sid=conference_sid, name=name, event="participant-join", call_sid=sid
        )
        carrier.call_status(sid, "in-progress")
        click.echo("appelant dans le pont")
    click.echo(f"raccrocher : tgd simulate hangup {sid} --url {url}")


@simulate.command("alert", help="Un terminal appelle la centrale (appui sur la touche d'alerte).")
@line_option
@from_option
@click.option("--withheld", is_flag=True, help="Numéro masqué (appelant non identifié).")
@click.option("--no-join", is_flag=True, help="Ne pas simuler l'entrée de l'appelant dans le pont.")
@url_option
def simulate_alert(
    reference: str | None, number: str | None, withheld: bool, no_join: bool, url: str
) -> None:
    settings = _state().settings
    from_ = "anonymous" if withheld else _number_of(reference, number)
    _call(url, from_, settings.gateway.alert_number, not no_join)


@simulate.command("test-call", help="Un terminal passe son appel d'essai (touche d'essai).")
@line_option
@from_option
@url_option
def simulate_test_call(reference: str | None, number: str | None, url: str) -> None:
    settings = _state().settings
    _call(url, _number_of(reference, number), settings.gateway.test_call_number, True)


@simulate.command("counter-call", help="Une unité de police ou de gendarmerie rappelle (R-26).")
@from_option
@url_option
def simulate_counter_call(number: str | None, url: str) -> None:
    settings = _state().settings
    if not settings.twilio.counter_call_number:
        raise click.ClickException("twilio.counter_call_number n'est pas configuré")
    if not number:
        raise click.UsageError("donnez --from NUMERO (numéro de l'unité)")
    _call(url, number, settings.twilio.counter_call_number, False)


@simulate.command("hangup", help="L'appelant raccroche : fin d'appel et fin du pont.")
@click.argument("call_sid")
@url_option
def simulate_hangup(call_sid: str, url: str) -> None:
    from tgd.services.alerts import find_by_call_sid

    carrier = _carrier(url)
    with _platform().sessions() as session:
        alert = find_by_call_sid(session, call_sid)
    _show(carrier.call_status(call_sid, "completed", duration=42))
    if alert is not None and alert.conference_sid:
        # The caller's leg ends the conference (R-24b): the carrier reports it.
        _show(
            carrier.conference_event(
                conference_sid=alert.conference_sid,
                name=alert.conference_name,
                event="conference-end",
            )
        )
        click.echo("pont terminé")


@simulate.command(
    "position", help="Un terminal envoie sa position (SMS AML, SMS simple ou HTTPS signé)."
)
@line_option
@from_option
@click.option("--lat", type=float, required=True)
@click.option("--lon", type=float, required=True)
@click.option("--accuracy", type=int, default=25, show_default=True, help="Rayon en mètres.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["aml", "simple", "https"]),
    default="aml",
    show_default=True,
)
@url_option
def simulate_position(
    reference: str | None,
    number: str | None,
    lat: float,
    lon: float,
    accuracy: int,
    fmt: str,
    url: str,
) -> None:
    settings = _state().settings
    msisdn = _number_of(reference, number)
    now = datetime.now(UTC)
    if fmt == "https":
        _show(_https_position(msisdn, lat, lon, accuracy, now, url))
        return
    fix = Fix(lat, lon, accuracy, now, PositionSource.GNSS, 68)
    body = (
        format_aml(fix)
        if fmt == "aml"
        else f"POS {lat:.5f} {lon:.5f} {accuracy} {now:%Y%m%d%H%M%S} G"
    )
    _show(_carrier(url).sms(from_=msisdn, to=settings.gateway.alert_number, body=body))


def _https_position(
    msisdn: str, lat: float, lon: float, accuracy: int, now: datetime, url: str
) -> Answer:
    from tgd.db.models.lines import Line
    from tgd.services.positions import credential_for_line

    platform = _platform()
    with platform.sessions() as session:
        line = session.scalar(select(Line).where(Line.msisdn == msisdn))
        credential = credential_for_line(session, line, cipher=platform.cipher) if line else None
    if credential is None:
        raise click.ClickException("cette ligne n'a pas de secret HTTPS (tgd demo load en crée)")
    payload = {
        "lat": lat,
        "lon": lon,
        "accuracy_m": accuracy,
        "captured_at": now.isoformat(),
        "source": "gnss",
    }
    return post_signed_position(
        url, key_id=credential[0], secret=credential[1], payload=payload, timestamp=int(time.time())
    )


@simulate.command("twilio", help="Sert la fausse API REST de Twilio sur la boucle locale.")
@click.option("--port", default=5099, show_default=True, type=int)
def simulate_twilio(port: int) -> None:
    from tgd.adapters.fake_twilio import CallProgress, FakeTwilio, FakeTwilioServer

    fake = FakeTwilio(auth_token=_state().settings.twilio.auth_token or None)
    progress = CallProgress(fake).start()  # it plays its calls: signed callbacks to the platform
    server = FakeTwilioServer(fake, port=port)
    click.echo(
        f"faux Twilio sur {server.url} (TGD_TWILIO_API_BASE_URL={server.url}) ; Ctrl-C pour arrêter"
    )
    server.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        progress.stop()
        server.close()


@click.command(
    "canary",
    cls=FrenchCommand,
    help="Alerte synthétique de bout en bout ; alarme superviseur si elle échoue (R-24c).",
)
@url_option
def canary(url: str) -> None:
    from handset_gateway.canary import run_canary

    result = run_canary(_platform(), url=url)
    if result.ok:
        click.echo(f"canari arrivé en {result.elapsed_s * 1000:.0f} ms (alerte {result.alert_id})")
        return
    click.echo(
        f"CANARI EN ÉCHEC à l'étape « {result.step} » après {result.elapsed_s:.1f} s : "
        "alarme superviseur levée",
        err=True,
    )
    sys.exit(1)
