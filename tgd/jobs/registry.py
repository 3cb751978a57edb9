"""The jobs, by name (``tgd jobs list``): module, French label, rule and schedule of each."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tgd.domain.errors import N_
from tgd.jobs import (
    audit_seal,
    chase,
    destruction,
    escalation,
    geocoding,
    line_health,
    positions_retention,
    service_levels,
)
from tgd.jobs.runner import JobSpec

JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "escalation",
            N_("Escalade et débordement des alertes non prises"),
            escalation.run,
            lambda s: IntervalTrigger(seconds=1),
            "R-23, R-23b",
            quiet=True,
            max_duration=timedelta(minutes=1),
            leased=False,
            retry_delays=(0.05, 0.1, 0.2, 0.5),  # the next run is a second away anyway
        ),
        JobSpec(
            "audit_seal",
            N_("Scellement du journal d'audit"),
            audit_seal.run,
            lambda s: IntervalTrigger(seconds=5),
            "R-53",
            quiet=True,
            max_duration=timedelta(minutes=5),
            phase=timedelta(seconds=0.5),  # halfway between two escalation passes
        ),
        JobSpec(
            "service_levels",
            N_("Contrôle des délais de service"),
            service_levels.run,
            lambda s: IntervalTrigger(seconds=60),
            "R-32",
            phase=timedelta(seconds=0.75),
        ),
        JobSpec(
            "test_chase",
            N_("Relance des essais bimensuels"),
            chase.run,
            # Every 15 minutes: each territory's local midnight is caught within 15 minutes.
            lambda s: CronTrigger(minute="*/15", timezone="UTC"),
            "R-30",
        ),
        JobSpec(
            "line_health",
            N_("Santé des lignes (silences, usages suspects)"),
            line_health.run,
            # Every 15 minutes, before the hourly purge of positions (it keeps their last time).
            lambda s: CronTrigger(minute="*/15", timezone="UTC"),
            "R-18, R-30",
        ),
        JobSpec(
            "geocoding",
            N_("Géolocalisation des adresses des fiches"),
            geocoding.run,
            # Catch-up: a file created or changed is placed within a minute.
            lambda s: IntervalTrigger(seconds=30),
            "R-25",
            quiet=True,
            phase=timedelta(seconds=0.25),
        ),
        JobSpec(
            "positions_retention",
            N_("Purge des positions (durée de conservation)"),
            positions_retention.run,
            lambda s: CronTrigger(minute=5, timezone="UTC"),
            "R-16b",
        ),
        JobSpec(
            "destruction",
            N_("Destruction des dossiers clôturés depuis quatre mois"),
            destruction.run,
            # nightly, in the centre's time zone; the query takes everything due up to now.
            lambda s: CronTrigger(hour=2, minute=30, timezone=s.default_timezone),
            "R-16, R-31",
        ),
    )
}
