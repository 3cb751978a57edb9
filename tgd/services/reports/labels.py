"""The French words of the committee reports, and how their times and numbers are written.

Natures and orientations come from the one catalogue (``tgd.domain.labels``);
the rest is vocabulary only the reports use. Reports are always in French.
"""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

from tgd.db.models.incidents import IncidentKind, TicketChannel, TicketResolution
from tgd.domain import labels
from tgd.domain.alerts import Orientation
from tgd.domain.lifecycle import LineStatus
from tgd.domain.restrictions import Channel

# One catalogue of labels (tgd.domain.labels): reports are always in French.
NATURE_LABELS = dict(labels.NATURES)
ORIENTATION_LABELS: dict[Orientation | None, str] = {None: labels.NO_ORIENTATION}
for _orientation, _label in labels.ORIENTATIONS.items():
    ORIENTATION_LABELS[_orientation] = _label
INCIDENT_LABELS = {
    IncidentKind.PANNE_TERMINAL: "panne du terminal",
    IncidentKind.BATTERIE: "batterie",
    IncidentKind.ZONE_BLANCHE: "zone blanche",
    IncidentKind.PERTE_VOL: "perte ou vol",
    IncidentKind.RESEAU: "réseau de l'opérateur",
    IncidentKind.PLATEFORME: "plateforme de téléassistance",
    IncidentKind.AUTRE: "autre",
}
RESOLUTION_LABELS = {
    None: "",
    TicketResolution.CONSEIL: "résolu par les conseils donnés",
    TicketResolution.ECHANGE: "terminal échangé sous garantie",
    TicketResolution.ECHANGE_HORS_GARANTIE: "terminal échangé hors garantie",
    TicketResolution.SANS_SUITE: "sans suite",
}
CHANNEL_LABELS = {
    TicketChannel.PORTAIL: "portail",
    TicketChannel.TELEPHONE: "téléphone",
    TicketChannel.AUTRE: "",
}
LINE_STATUS_TEXT = {status: str(status.label) for status in LineStatus}
COUNTERPART_LABELS = {
    "centre": "centre de téléassistance",
    "urgence": "numéro d'urgence",
    "forces": "police ou gendarmerie",
    "association": "association ou parquet",
    "prive": "numéro privé (masqué)",
}
UNIDENTIFIED = "appelant non identifié"
REFUSED_LABELS = {
    Channel.VOICE: "numéro hors liste autorisée (appel refusé)",
    Channel.SMS: "numéro hors liste autorisée (SMS refusé)",
}


@functools.lru_cache(maxsize=64)
def _zone(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone)


def local(at: datetime | None, timezone: str) -> str:
    """Format an aware instant as ``JJ/MM/AAAA HH:MM`` in the given zone."""
    if at is None:
        return ""
    t = at.astimezone(_zone(timezone))  # f-string: strftime is the hot spot of a national run
    return f"{t.day:02d}/{t.month:02d}/{t.year} {t.hour:02d}:{t.minute:02d}"


def local_day(at: datetime | None, timezone: str) -> str:
    """Format an aware instant as ``JJ/MM/AAAA`` in the given zone."""
    if at is None:
        return ""
    t = at.astimezone(_zone(timezone))
    return f"{t.day:02d}/{t.month:02d}/{t.year}"


def mask_number(number: str | None) -> str:
    """Hide a terminal's call number in committee documents, keeping its two last digits."""
    if not number:
        return ""
    return "•" * max(0, len(number) - 2) + number[-2:]


def _hours(value: int | None) -> float | None:
    return None if value is None else round(value / 3600, 1)
