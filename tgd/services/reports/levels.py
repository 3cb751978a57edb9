"""The report's service levels (R-29, R-32): delays against their targets, breaches, figures.

Not to be confused with ``tgd.services.service_levels``, the live clocks that
record breaches as they happen: this module measures a closed period from its
rows, and counts the breaches that job recorded.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tgd.domain import labels
from tgd.services.faults import SWAP_FAULTS
from tgd.services.reports.dataset import (
    Dataset,
    _alert_tz,
    _ref,
    _reported_in_period,
    _swaps_by_incident,
    late_tests,
    seconds,
)
from tgd.services.reports.labels import NATURE_LABELS, local
from tgd.services.reports.model import Cell, Column, Table


def swap_delay_s(data: Dataset, swap: Any) -> int:
    """Return a swap's delay in opening seconds of its territory (R-18, CCP X.4)."""
    hours = data.hours(swap.juridiction_id)
    return int(hours.opening_time_between(swap.reported_at, swap.swapped_at).total_seconds())


def _swap_deadline(data: Dataset, juridiction_id: int | None, reported_at: datetime) -> datetime:
    return data.hours(juridiction_id).add_opening_hours(reported_at, data.targets.swap_hours)


def is_swap_late(data: Dataset, swap: Any) -> bool:
    """Tell whether a swap under warranty came after its 24 opening hours (R-18)."""
    if swap.under_warranty is False:
        return False  # out of warranty: the delay of the financial annex applies
    return bool(swap.swapped_at > _swap_deadline(data, swap.juridiction_id, swap.reported_at))


def _is_ticket_overdue(data: Dataset, incident: Any, swap: Any | None) -> bool:
    """Tell whether a ticket still waited for its swap past the deadline at the period's end."""
    if swap is not None or incident.kind not in SWAP_FAULTS:
        return False
    if incident.needs_swap is False or incident.under_warranty is False:
        return False
    if incident.resolved_at is not None and incident.resolved_at < data.end:
        return False
    deadline = incident.deadline_at or _swap_deadline(
        data, incident.juridiction_id, incident.reported_at
    )
    return bool(deadline < data.end)


# --- service levels (R-29, R-32) ------------------------------------------------------------


@dataclass
class _Measure:
    key: str
    label: str
    target_s: int | None
    values: list[int] = field(default_factory=list)
    breaches: list[tuple[str, datetime, str, int | None]] = field(default_factory=list)


def service_levels(data: Dataset) -> tuple[Table, Table, dict[str, Any]]:
    """Build the service-level table, the list of breaches and the headline figures."""
    targets = data.targets
    swap_target_s = targets.swap_hours * 3600  # opening seconds (CCP X.4)
    pickup = _Measure("prise_en_charge", "Sonnerie → prise en charge", targets.pickup_s)
    police = _Measure("forces", "Prise en charge → appel des forces de l'ordre", None)
    navette = _Measure("navette", "Navette reçue → fiche créée", targets.navette_s)
    swap = _Measure("echange", "Panne signalée → terminal échangé (heures ouvrées)", swap_target_s)
    for a in data.alerts:
        tz = _alert_tz(data, a)
        if not a.is_test_call:
            value = a.pickup_s
            if value is None and a.claimed_at is None and a.ended_at is not None:
                pickup.breaches.append((_ref(data, a), a.ringing_at, tz, None))  # never picked up
            if value is not None:
                pickup.values.append(value)
                if value > targets.pickup_s:
                    pickup.breaches.append((_ref(data, a), a.ringing_at, tz, value))
        if a.police_s is not None:
            police.values.append(a.police_s)
    for n in data.navettes:
        tz = data.tz(n.juridiction_id)
        delay = seconds(n.received_at, n.processed_at)
        file = data.files.get(n.file_id) if n.file_id else None
        ref = file.reference if file else "—"
        if delay is not None:
            navette.values.append(delay)
        overdue = (delay is not None and delay > targets.navette_s) or (
            delay is None and (data.end - n.received_at).total_seconds() > targets.navette_s
        )
        if n.is_breach or overdue:
            navette.breaches.append((ref, n.received_at, tz, delay))
    for s in data.swaps:
        tz = data.tz(s.juridiction_id)
        delay = swap_delay_s(data, s)  # opening seconds of the territory (CCP X.4)
        swap.values.append(delay)
        if is_swap_late(data, s):
            ref = (
                data.lines[s.line_id].reference_at(s.swapped_at) if s.line_id in data.lines else ""
            )
            swap.breaches.append((ref, s.reported_at, tz, delay))
    swapped = _swaps_by_incident(data)
    for i in _reported_in_period(data):
        if _is_ticket_overdue(data, i, swapped.get(i.id)):
            ref = (
                data.lines[i.line_id].reference_at(i.reported_at) if i.line_id in data.lines else ""
            )
            swap.breaches.append((ref, i.reported_at, data.tz(i.juridiction_id), None))
    measures = [pickup, police, navette, swap]
    rows: list[list[Cell]] = []
    for m in measures:
        ordered = sorted(m.values)
        rows.append(
            [
                m.label,
                len(ordered),
                _percentile(ordered, 50),
                _percentile(ordered, 90),
                ordered[-1] if ordered else None,
                m.target_s,
                len(m.breaches) if m.target_s is not None else None,
            ]
        )
    levels = Table(
        "niveaux_de_service",
        "Niveaux de service",
        "Délais mesurés appel par appel (R-29) : médiane, 90e centile et maximum en secondes, "
        "objectif et nombre de manquements. Objectifs : prise en charge en 10 s (R-23b), fiche "
        "créée 15 min après la navette (R-10), échange de terminal sous garantie en 24 heures "
        "ouvrées du territoire (R-18, CCP X.4 : lundi–samedi 9 h–18 h, hors jours fériés).",
        [
            Column("Mesure"),
            Column("Nombre", "int"),
            Column("Médiane (s)", "int"),
            Column("90e centile (s)", "int"),
            Column("Maximum (s)", "int"),
            Column("Objectif (s)", "int"),
            Column("Manquements", "int"),
        ],
        rows,
    )
    breach_rows: list[list[Cell]] = []
    for m in measures:
        for ref, at, tz, value in sorted(m.breaches, key=lambda b: b[1]):
            breach_rows.append([m.label, ref, local(at, tz), value, m.target_s])
    for key, count in sorted(data.recorded_breaches.items()):
        kind, _, cause = key.partition("|")
        text = f"relevé par la surveillance : {BREACH_LABELS.get(kind, kind)}"
        if cause:
            text += f" — exonéré (CCP VIII.5 : {_exemption_label(cause)})"
        breach_rows.append([text, "", "", count, None])
    breaches = Table(
        "manquements",
        "Manquements aux niveaux de service",
        "Chaque appel ou opération hors délai (délai en secondes ; vide : jamais traité), puis "
        "le nombre de dépassements relevés en temps réel par la surveillance (R-32).",
        [
            Column("Mesure"),
            Column("Référence"),
            Column("Début"),
            Column("Délai (s)", "int"),
            Column("Objectif (s)", "int"),
        ],
        breach_rows,
    )
    answered = sorted(pickup.values)
    calls = [a for a in data.alerts if not a.is_test_call]
    figures: dict[str, Any] = {
        "people_followed": sum(1 for f in data.files.values() if f.follow_start < data.end),
        "new_files": sum(1 for f in data.files.values() if data.start <= f.created_at < data.end),
        "closed_files": sum(
            1 for f in data.files.values() if f.closed_at and data.start <= f.closed_at < data.end
        ),
        "calls": len(data.alerts),
        "alerts": len(calls),
        "tests": len(data.alerts) - len(calls),
        "police_called": sum(1 for a in data.alerts if a.police_called_at),
        "non_compliant": sum(1 for a in data.alerts if a.is_non_compliant),
        "late_tests": len(late_tests(data)),
        "incidents": len(_reported_in_period(data)),
        "swaps": len(data.swaps),
        "lines": len(data.lines),
        "pickup_within_10s": _share(answered, targets.pickup_s),
        "pickup_within_30s": _share(answered, 30),
        "pickup_within_60s": _share(answered, 60),
        "breaches": sum(len(m.breaches) for m in measures),
        "natures": Counter(NATURE_LABELS[a.nature] for a in data.alerts),
        "pickup_values": answered,
        "calls_by_month": Counter(
            a.ringing_at.astimezone(ZoneInfo(data.scope.timezone)).strftime("%Y-%m")
            for a in data.alerts
        ),
    }
    return levels, breaches, figures


BREACH_LABELS = {
    "alerte_non_prise": "alerte non prise en charge à temps",
    "navette_15min": "fiche créée plus de 15 minutes après la navette",
    "swap_24h": "échange de terminal au-delà de 24 heures",
}


def _exemption_label(cause: str) -> str:
    try:
        return labels.EXEMPTIONS[labels.ExemptionCause(cause)]
    except ValueError:
        return cause


def _percentile(ordered: list[int], pct: int) -> int | None:
    if not ordered:
        return None
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _share(ordered: list[int], limit: int) -> float | None:
    if not ordered:
        return None
    return round(100 * bisect.bisect_right(ordered, limit) / len(ordered), 1)
