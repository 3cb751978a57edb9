"""`tgd` commands of the navettes capability: e-mail intake, parquet notices, line administration.

- ``tgd intake smtp [--host 127.0.0.1] [--port 2525]``: the SMTP receiver for navettes sent
  by e-mail (loopback only; the organisation's relay forwards to it).
- ``tgd navettes notify --smtp-host H --smtp-port P --sender S``: e-mail each parquet that
  new information awaits in its portal (R-14; no personal data in the mail).
- ``tgd lines add|activate|swap``: stock, activation and terminal swap (R-01, R-18).
"""

from __future__ import annotations

import signal
import threading
from datetime import datetime

import click

from tgd.cli import friendly_errors
from tgd.cli_output import echo_json
from tgd.cli_state import State, pass_state


def _intake(main: click.Group) -> None:
    @main.group(help="Réception des navettes par courriel ou télécopie.")
    def intake() -> None:
        """Intake commands."""

    @intake.command("smtp", help="Reçoit les navettes par courriel (SMTP, boucle locale).")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=2525, show_default=True, type=click.IntRange(1, 65535))
    @pass_state
    @friendly_errors
    def intake_smtp(state: State, host: str, port: int) -> None:
        from tgd.adapters.mail import SmtpIntake
        from tgd.db.writes import write_transaction
        from tgd.services import intake as intake_service

        platform = state.platform

        def store(raw: bytes) -> int:
            with write_transaction(platform.sessions, label="e-mail intake") as session:
                docs = intake_service.receive_email(
                    session,
                    raw,
                    actor="system:intake",
                    cipher=platform.cipher,
                    clock=platform.clock,
                )
            return len(docs)

        try:
            server = SmtpIntake(store, host=host, port=port)
        except ValueError:
            raise click.UsageError("le récepteur n'écoute que sur la boucle locale") from None
        server.start()
        click.echo(f"Réception SMTP des navettes sur {host}:{server.port}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()


def _notify(main: click.Group) -> None:
    @main.group(help="Navettes et informations aux parquets.")
    def navettes() -> None:
        """Navette commands."""

    @navettes.command(
        "notify", help="Avertit par courriel les parquets des informations en attente."
    )
    @click.option("--smtp-host", default="127.0.0.1", show_default=True)
    @click.option("--smtp-port", default=25, show_default=True, type=int)
    @click.option("--sender", default="tgd@localhost", show_default=True)
    @pass_state
    @friendly_errors
    def navettes_notify(state: State, smtp_host: str, smtp_port: int, sender: str) -> None:
        from tgd.adapters.mail import SmtpMailer
        from tgd.services.navettes import notify_parquets

        mailer = SmtpMailer(smtp_host, smtp_port, sender)
        portal = state.settings.public_base_url.rstrip("/") + "/parquet/"
        sent = notify_parquets(
            state.platform.sessions, mailer=mailer, portal_url=portal, clock=state.platform.clock
        )
        click.echo(f"{sent} avis envoyé(s)")


def _iso_datetime(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a time that is not ISO 8601 as a usage error (exit 2), before any database work."""
    if value is not None:
        try:
            datetime.fromisoformat(value.strip())
        except ValueError:
            raise click.BadParameter(
                "date et heure ISO 8601 attendues (par exemple 2026-11-23T14:30)", param=param
            ) from None
    return value


def _lines(main: click.Group) -> None:
    group = main.commands.get("lines")
    assert isinstance(group, click.Group)

    @group.command("add", help="Met une ligne en stock (statut en_stock, Y = 1).")
    @click.option("--juridiction", required=True, help="Code INSEE de la juridiction.")
    @click.option("--order", "order_no", required=True, type=click.IntRange(1, 99))
    @click.option("--msisdn", required=True)
    @click.option("--iccid", default=None)
    @click.option("--imei", default=None)
    @pass_state
    @friendly_errors
    def lines_add(
        state: State,
        juridiction: str,
        order_no: int,
        msisdn: str,
        iccid: str | None,
        imei: str | None,
    ) -> None:
        from tgd.services import line_admin

        with state.transaction() as session:
            record = line_admin.add_to_stock(
                session,
                juridiction_insee=juridiction,
                order_no=order_no,
                msisdn=msisdn,
                iccid=iccid,
                imei=imei,
                actor="system:cli",
                clock=state.platform.clock,
            )
            reference = record.reference
        echo_json({"reference": reference, "status": "en_stock"})

    @group.command("activate", help="Active une ligne en stock (en_attente).")
    @click.argument("reference")
    @pass_state
    @friendly_errors
    def lines_activate(state: State, reference: str) -> None:
        from tgd.services import line_admin

        with state.transaction() as session:
            record = line_admin.current_record(session, reference)
            line_admin.activate(
                session, record, user_id=None, actor="system:cli", clock=state.platform.clock
            )
            reference = record.reference
        echo_json({"reference": reference, "status": "en_attente"})

    @group.command("swap", help="Échange le terminal d'une ligne (même numéro, même référence).")
    @click.argument("reference")
    @click.option("--imei", required=True, help="IMEI du nouveau terminal (du stock, ou nouveau).")
    @click.option(
        "--reported-at",
        required=True,
        callback=_iso_datetime,
        help="Signalement de la panne (ISO 8601) ; sans fuseau : heure locale du territoire.",
    )
    @click.option(
        "--swapped-at",
        default=None,
        callback=_iso_datetime,
        help="Échange effectué (ISO 8601, maintenant par défaut) ; sans fuseau : heure locale.",
    )
    @click.option("--model", default="", help="Modèle d'un terminal absent du stock.")
    @click.option("--cause", default="")
    @pass_state
    @friendly_errors
    def lines_swap(
        state: State,
        reference: str,
        imei: str,
        reported_at: str,
        swapped_at: str | None,
        model: str,
        cause: str,
    ) -> None:
        from tgd.domain.localtime import parse_local
        from tgd.services import line_admin

        with state.transaction() as session:
            record = line_admin.current_record(session, reference)
            zone = record.line.juridiction.territory.timezone
            # Item 6: a time typed without its offset is the territory's wall clock.
            reported = parse_local(reported_at, zone, field="--reported-at")
            swapped = parse_local(swapped_at, zone, field="--swapped-at") if swapped_at else None
            result = line_admin.swap_terminal(
                session,
                record.line,
                new_imei=imei,
                model=model,
                reported_at=reported,
                swapped_at=swapped,
                cause=cause,
                deadline_hours=state.settings.retention.swap_deadline_hours,
                actor="system:cli",
                clock=state.platform.clock,
            )
            out = {
                "reference": record.reference,
                "delay_opening_hours": round(result.delay.total_seconds() / 3600, 2),
                "deadline": result.deadline.isoformat(),
                "late": result.is_late,
            }
        echo_json(out)


def register(main: click.Group) -> None:
    """Add this capability's commands to the ``tgd`` command."""
    _intake(main)
    _notify(main)
    _lines(main)
