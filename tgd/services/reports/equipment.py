"""The committee tables about handsets (DESIGN §7, tables 2, 4 and 10).

Terminals and their lines, incidents with the answers given and swap delays,
malfunctions. Call numbers are masked unless asked otherwise.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from tgd.db.models.incidents import IncidentKind
from tgd.services.reports.dataset import Dataset, _Line, _reported_in_period, _swaps_by_incident
from tgd.services.reports.labels import (
    CHANNEL_LABELS,
    INCIDENT_LABELS,
    LINE_STATUS_TEXT,
    RESOLUTION_LABELS,
    _hours,
    local,
    local_day,
    mask_number,
)
from tgd.services.reports.levels import _is_ticket_overdue, is_swap_late, swap_delay_s
from tgd.services.reports.model import Cell, Column, Table


def _handsets(line: _Line, swaps: list[Any]) -> list[tuple[int | None, datetime, datetime | None]]:
    """Return the line's handsets with the span each served it (R-01: swaps keep the line)."""
    current = swaps[0].old_terminal_id if swaps else line.terminal_id
    since = line.created_at
    spans: list[tuple[int | None, datetime, datetime | None]] = []
    for swap in swaps:
        spans.append((current, since, swap.swapped_at))
        current, since = swap.new_terminal_id, swap.swapped_at
    spans.append((current, since, None))
    return spans


def table_terminals(data: Dataset, *, mask: bool) -> Table:
    """Table 2: terminals and SIMs delivered: IMEI, ICCID and call number, as they stood.

    Exact at any date: each handset that served a line during the period has its row,
    with the days it went on and came off the line (swaps, R-18), the SIM and number of
    the line (they never change, R-01) and the line's status at the end of the period.
    """
    rows: list[tuple[str, datetime, list[Cell]]] = []
    for line in data.lines.values():
        tz = data.tz(line.juridiction_id)
        status = line.status_at_end or line.current[1]
        for terminal_id, since, until in _handsets(line, data.swap_history.get(line.id, [])):
            if since >= data.end or (until is not None and until < data.start):
                continue
            terminal = data.terminals.get(terminal_id) if terminal_id is not None else None
            last = min(until, data.end) if until is not None else data.end
            reference = line.reference_at(last - timedelta(microseconds=1)) or line.current[0]
            rows.append(
                (
                    reference,
                    since,
                    [
                        reference,
                        terminal.imei if terminal else "",
                        line.iccid or "",
                        mask_number(line.msisdn) if mask else line.msisdn,
                        terminal.model if terminal else "",
                        terminal.warranty_end.strftime("%d/%m/%Y")
                        if terminal and terminal.warranty_end
                        else "",
                        local_day(terminal.delivered_at, tz) if terminal else "",
                        local_day(since, tz),
                        local_day(until, tz) if until is not None and until < data.end else "",
                        LINE_STATUS_TEXT.get(status, str(status)),
                    ],
                )
            )
    rows.sort(key=lambda r: (r[0], r[1]))
    return Table(
        "terminaux",
        "Terminaux et cartes SIM fournis",
        "Chaque terminal ayant équipé une ligne pendant la période, avec son IMEI, l'ICCID "
        "(USIM) et le numéro d'appel de la ligne, sa fin de garantie, sa livraison et les "
        "jours où il a été posé et retiré (échanges) ; statut de la ligne à la fin de la "
        "période. Dans les documents des comités, le numéro d'appel est masqué sauf ses deux "
        "derniers chiffres.",
        [
            Column("Référence"),
            Column("IMEI"),
            Column("ICCID"),
            Column("Numéro d'appel"),
            Column("Modèle"),
            Column("Fin de garantie"),
            Column("Livré le"),
            Column("Sur la ligne depuis le"),
            Column("Retiré le"),
            Column("Statut de la ligne en fin de période"),
        ],
        [cells for _ref, _at, cells in rows],
        number=2,
    )


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("oui" if value else "non")


def table_incidents(data: Dataset) -> Table:
    """Table 4: incidents and the answers given, with swap delays and causes.

    Delays are counted in the assistance centre's opening hours of the line's territory
    (Monday–Saturday 9:00–18:00, local public holidays excepted: CCP X.4), from the
    report; a report received outside them starts its clock at the next opening.
    """
    swaps_by_incident = _swaps_by_incident(data)
    rows: list[list[Cell]] = []
    for i in data.incidents:
        tz = data.tz(i.juridiction_id)
        hours = data.hours(i.juridiction_id)
        swap = swaps_by_incident.get(i.id)
        ref = data.lines[i.line_id].reference_at(i.reported_at) if i.line_id in data.lines else ""
        resolved = i.resolved_at if i.resolved_at is not None and i.resolved_at < data.end else None
        started = i.clock_started_at or hours.clock_start(i.reported_at)
        late = (swap is not None and is_swap_late(data, swap)) or _is_ticket_overdue(data, i, swap)
        # Exact at the end of the period: a diagnosis made later is not shown yet.
        diagnosed = i.diagnosed_at is None or i.diagnosed_at < data.end
        rows.append(
            [
                ref or "—",
                local(i.reported_at, tz),
                CHANNEL_LABELS.get(i.channel, ""),
                i.reporter_kind or "",
                local(started, tz),
                INCIDENT_LABELS[i.kind],
                (i.diagnosis or "") if diagnosed else "",
                (i.answer or "") if diagnosed else "",
                RESOLUTION_LABELS.get(i.resolution, "")
                if resolved
                else "en cours en fin de période",
                local(resolved, tz),
                _hours(int(hours.opening_time_between(i.reported_at, resolved).total_seconds()))
                if resolved
                else None,
                _yes_no(swap.under_warranty if swap is not None else i.under_warranty),
                _hours(swap_delay_s(data, swap)) if swap is not None else None,
                "oui" if late else ("non" if swap is not None else ""),
                swap.cause if swap is not None else "",
            ]
        )
    reported = {i.id for i in data.incidents}
    for s in data.swaps:
        if s.incident_id is not None and s.incident_id in reported:
            continue
        tz = data.tz(s.juridiction_id)
        hours = data.hours(s.juridiction_id)
        ref = data.lines[s.line_id].reference_at(s.swapped_at) if s.line_id in data.lines else ""
        delay = _hours(swap_delay_s(data, s))
        rows.append(
            [
                ref,
                local(s.reported_at, tz),
                "",
                "",
                local(hours.clock_start(s.reported_at), tz),
                "échange de terminal",
                "",
                "terminal remplacé",
                "terminal échangé",
                local(s.swapped_at, tz),
                delay,
                _yes_no(s.under_warranty),
                delay,
                "oui" if is_swap_late(data, s) else "non",
                s.cause or "",
            ]
        )
    return Table(
        "incidents",
        "Incidents et réponses apportées",
        "Pannes signalées au centre d'assistance (et celles encore ouvertes au début de la "
        "période) : canal, auteur du signalement, début du délai (l'ouverture suivante quand "
        "le signalement arrive hors des heures d'ouverture), diagnostic, conseils donnés, "
        "issue et, le cas échéant, délai de remplacement du terminal et sa cause. Les délais "
        "sont en heures ouvrées du territoire (lundi–samedi 9 h–18 h, hors jours fériés "
        "locaux, CCP X.4) ; objectif : échange sous garantie en 24 heures ouvrées.",
        [
            Column("Référence"),
            Column("Signalé le"),
            Column("Canal"),
            Column("Signalé par"),
            Column("Délai compté à partir du"),
            Column("Type"),
            Column("Diagnostic"),
            Column("Conseils donnés"),
            Column("Issue"),
            Column("Résolu le"),
            Column("Délai de résolution (h ouvrées)", "float"),
            Column("Sous garantie"),
            Column("Délai d'échange (h ouvrées)", "float"),
            Column("Hors délai"),
            Column("Cause"),
        ],
        rows,
        number=4,
    )


def table_malfunctions(data: Dataset) -> Table:
    """Table 10: malfunctions and their causes (incidents by kind, platform faults)."""
    by_kind: dict[IncidentKind, list[Any]] = defaultdict(list)
    for i in _reported_in_period(data):
        by_kind[i.kind].append(i)
    swaps = _swaps_by_incident(data)
    rows: list[list[Cell]] = []
    for kind in IncidentKind:
        items = by_kind.get(kind, [])
        done = [i for i in items if i.resolved_at is not None and i.resolved_at < data.end]
        delays = [
            data.hours(i.juridiction_id).opening_time_between(i.reported_at, i.resolved_at)
            for i in done
        ]
        swapped = [swaps[i.id] for i in items if i.id in swaps]
        late = sum(1 for s in swapped if is_swap_late(data, s)) + sum(
            1 for i in items if _is_ticket_overdue(data, i, swaps.get(i.id))
        )
        rows.append(
            [
                INCIDENT_LABELS[kind],
                len(items),
                len(done),
                len(swapped),
                late,
                _hours(round(statistics.fmean(d.total_seconds() for d in delays)))
                if delays
                else None,
            ]
        )
    lost = sum(1 for a in data.alerts if a.bridge_lost)
    overflow = sum(1 for a in data.alerts if a.overflowed)
    rows.append(["pont de conférence interrompu, terminal rappelé (R-24b)", lost, lost, 0, 0, None])
    rows.append(["appel débordé vers le secours (R-23b)", overflow, overflow, 0, 0, None])
    return Table(
        "dysfonctionnements",
        "Dysfonctionnements et causes",
        "Pannes signalées dans la période, par cause : résolues avant la fin de la période, "
        "ayant donné lieu à un échange de terminal, échanges hors délai (plus de 24 heures "
        "ouvrées sous garantie) et délai moyen de résolution en heures ouvrées ; puis les "
        "incidents de la plateforme relevés sur les appels.",
        [
            Column("Cause"),
            Column("Nombre", "int"),
            Column("Résolus", "int"),
            Column("Échanges de terminal", "int"),
            Column("Échanges hors délai", "int"),
            Column("Délai moyen de résolution (h ouvrées)", "float"),
        ],
        rows,
        number=10,
    )
