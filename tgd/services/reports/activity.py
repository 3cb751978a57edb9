"""The committee tables about files and calls (DESIGN §7, tables 1, 3 and 5 to 9).

History per terminal, numbers called, usage, files followed, calls received,
natures and orientations, non-compliant use. Times are written in each
juridiction's own time zone (R-34).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from tgd.domain.alerts import AlertNature, Orientation
from tgd.domain.restrictions import Channel
from tgd.services.reports.dataset import (
    TESTS_PER_DAY,
    Dataset,
    LateTest,
    _Alert,
    _alert_time,
    _alert_tz,
    _File,
    _ref,
    _reported_in_period,
)
from tgd.services.reports.labels import (
    COUNTERPART_LABELS,
    INCIDENT_LABELS,
    NATURE_LABELS,
    ORIENTATION_LABELS,
    REFUSED_LABELS,
    local,
    local_day,
)
from tgd.services.reports.levels import is_swap_late, swap_delay_s
from tgd.services.reports.model import Cell, Column, Table


def table_history(data: Dataset, late: list[LateTest]) -> Table:
    """Table 1: per terminal, the events of the period, flagging late tests and alerts."""
    events: list[tuple[str, datetime, str, str, str, str]] = []
    for a in data.alerts:
        tz = _alert_tz(data, a)
        if a.is_test_call:
            events.append((_ref(data, a), a.ringing_at, tz, "essai", "essai reçu", ""))
        else:
            detail = f"{NATURE_LABELS[a.nature]} ; {ORIENTATION_LABELS[a.orientation]}"
            events.append((_ref(data, a), a.ringing_at, tz, "alerte", detail, "ALERTE"))
    for lt in late:
        file = data.files[lt.file_id]
        tz = data.tz(file.juridiction_id)
        detail = (
            f"essai reçu le {local(lt.tested_at, tz)}" if lt.tested_at else "aucun essai depuis"
        )
        events.append(
            (
                file.reference,
                max(lt.due_at, data.start),
                tz,
                f"essai attendu le {local_day(lt.due_at, tz)}",
                detail,
                "ESSAI EN RETARD",
            )
        )
    for i in _reported_in_period(data):
        tz = data.tz(i.juridiction_id)
        ref = data.lines[i.line_id].reference_at(i.reported_at) if i.line_id in data.lines else ""
        events.append((ref or "—", i.reported_at, tz, "incident", INCIDENT_LABELS[i.kind], ""))
    for s in data.swaps:
        tz = data.tz(s.juridiction_id)
        ref = data.lines[s.line_id].reference_at(s.swapped_at) if s.line_id in data.lines else ""
        delay = swap_delay_s(data, s)
        events.append(
            (
                ref,
                s.swapped_at,
                tz,
                "échange de terminal",
                f"délai {delay / 3600:.1f} h ouvrées",
                "HORS DÉLAI" if is_swap_late(data, s) else "",
            )
        )
    for f in data.files.values():
        tz = data.tz(f.juridiction_id)
        if data.start <= f.follow_start < data.end:
            events.append(
                (f.reference, f.follow_start, tz, "début du suivi", f"fiche {f.number}", "")
            )
        if f.closed_at is not None and data.start <= f.closed_at < data.end:
            events.append((f.reference, f.closed_at, tz, "fin du suivi", f"fiche {f.number}", ""))
    events.sort(key=lambda e: (e[0], e[1]))
    return Table(
        "historique",
        "Historique des événements par terminal",
        "Chaque événement de la période, par référence ; les alertes et les essais non "
        "effectués dans les délais (plus de 15 jours sans essai) sont signalés.",
        [
            Column("Référence"),
            Column("Date et heure locales"),
            Column("Événement"),
            Column("Détail"),
            Column("Signalement"),
        ],
        [[ref, local(at, tz), kind, detail, flag] for ref, at, tz, kind, detail, flag in events],
        number=1,
    )


def table_numbers_called(data: Dataset) -> Table:
    """Table 3: numbers called from each terminal, with durations."""
    rows: list[tuple[str, datetime, list[Cell]]] = []
    for a in data.alerts:
        if a.line_id is None:
            continue
        kind = "centre (essai)" if a.is_test_call else "centre (alerte)"
        called = COUNTERPART_LABELS["centre"]
        if a.restricted_channel is not None:  # Annexe 2 I.1: the number tried is never shown
            called = REFUSED_LABELS[a.restricted_channel]
            kind = "refusé (hors liste), mis en relation avec le centre"
            if a.restricted_channel is Channel.SMS:
                kind = "refusé (hors liste), non transmis"
        rows.append(
            (
                _ref(data, a),
                a.ringing_at,
                [
                    _alert_time(data, a),
                    called,
                    kind,
                    a.duration_s,
                    "passerelle TGD",
                ],
            )
        )
    for c in data.cdrs:
        if c.direction != "sortant" or c.line_id not in data.lines:
            continue
        line = data.lines[c.line_id]
        number = c.counterpart_number if c.counterpart_kind != "prive" else ""
        rows.append(
            (
                line.reference_at(c.started_at),
                c.started_at,
                [
                    local(c.started_at, data.tz(line.juridiction_id)),
                    number or COUNTERPART_LABELS.get(c.counterpart_kind, c.counterpart_kind),
                    COUNTERPART_LABELS.get(c.counterpart_kind, c.counterpart_kind),
                    c.duration_s,
                    "relevé de l'opérateur",
                ],
            )
        )
    rows.sort(key=lambda r: (r[0], r[1]))
    return Table(
        "numeros_appeles",
        "Numéros appelés depuis chaque terminal",
        "Appels passés par chaque terminal et leur durée : appels au centre (passerelle) et "
        "relevés de l'opérateur ; un numéro de particulier n'est jamais montré.",
        [
            Column("Référence"),
            Column("Date et heure locales"),
            Column("Numéro appelé"),
            Column("Correspondant"),
            Column("Durée (s)", "int"),
            Column("Source"),
        ],
        [[ref, *cells] for ref, _at, cells in rows],
        number=3,
    )


def _overlap_days(data: Dataset, file: _File) -> float:
    start = max(file.follow_start, data.start)
    stop = min(file.closed_at or data.end, data.end)
    return max(0.0, (stop - start).total_seconds() / 86400)


def table_usage(data: Dataset, late: list[LateTest]) -> Table:
    """Table 5: usage rate per user: calls, tests done against tests due, per month followed."""
    late_count = Counter(lt.file_id for lt in late)
    rows: list[list[Cell]] = []
    for f in sorted(data.files.values(), key=lambda x: x.reference):
        days = _overlap_days(data, f)
        tests = sum(1 for t in f.tests if data.start <= t < data.end)
        due_days = (
            max(
                0.0,
                (
                    min(f.closed_at or data.end, data.end) - max(f.commissioned_at, data.start)
                ).total_seconds()
                / 86400,
            )
            if f.commissioned_at
            else 0.0
        )
        expected = round(due_days * TESTS_PER_DAY, 1)
        rows.append(
            [
                f.reference,
                f.number,
                round(days, 1),
                f.calls,
                f.alerts,
                tests,
                expected,
                round(100 * min(tests, expected) / expected, 1) if expected else None,
                round(f.calls / days * 30.4375, 2) if days >= 1 else None,
                late_count[f.id],
                data.chases[f.id],
            ]
        )
    return Table(
        "utilisation",
        "Taux d'utilisation des terminaux par utilisateur",
        "Pour chaque bénéficiaire (par référence) : jours suivis dans la période, appels, "
        "alertes, essais effectués contre essais attendus (deux par mois), appels par mois.",
        [
            Column("Référence"),
            Column("Fiche"),
            Column("Jours suivis", "float"),
            Column("Appels", "int"),
            Column("dont alertes", "int"),
            Column("Essais", "int"),
            Column("Essais attendus", "float"),
            Column("Taux d'essais (%)", "percent"),
            Column("Appels par mois", "float"),
            Column("Essais en retard", "int"),
            Column("Relances", "int"),
        ],
        rows,
        number=5,
    )


def table_followed(data: Dataset) -> Table:
    """Table 6: people followed in the period and the length of each follow-up."""
    rows: list[list[Cell]] = []
    for f in sorted(data.files.values(), key=lambda x: x.reference):
        if f.follow_start >= data.end:
            continue
        tz = data.tz(f.juridiction_id)
        stop = f.closed_at if f.closed_at and f.closed_at < data.end else None
        total = ((stop or data.end) - f.follow_start).total_seconds() / 86400
        rows.append(
            [
                f.reference,
                f.number,
                local_day(f.follow_start, tz),
                local_day(stop, tz),
                f.state_at(data.end),
                round(total, 1),
                round(_overlap_days(data, f), 1),
            ]
        )
    return Table(
        "suivis",
        "Personnes suivies et durée de chaque suivi",
        "Bénéficiaires suivis pendant la période (par référence) ; le suivi commence à "
        "l'attribution définitive et finit à la clôture ; un suivi en cours est compté jusqu'à "
        "la fin de la période.",
        [
            Column("Référence"),
            Column("Fiche"),
            Column("Début du suivi"),
            Column("Fin du suivi"),
            Column("État en fin de période"),
            Column("Durée du suivi (jours)", "float"),
            Column("Jours dans la période", "float"),
        ],
        rows,
        number=6,
    )


def table_calls_received(data: Dataset) -> Table:
    """Table 7: calls received from each terminal, with durations and handling."""
    rows: list[list[Cell]] = sorted(
        (
            [
                _ref(data, a),
                _alert_time(data, a),
                _call_type(a),
                NATURE_LABELS[a.nature],
                ORIENTATION_LABELS[a.orientation],
                a.duration_s,
                a.pickup_s,
                "oui" if a.police_called_at else "non",
            ]
            for a in data.alerts
        ),
        key=lambda r: str(r[0]),
    )
    return Table(
        "appels_recus",
        "Appels reçus de chaque terminal",
        "Chaque appel reçu par le centre depuis un terminal (ou un appelant non identifié), "
        "sa durée, le délai de prise en charge et la suite donnée.",
        [
            Column("Référence"),
            Column("Reçu le"),
            Column("Type"),
            Column("Nature"),
            Column("Orientation"),
            Column("Durée (s)", "int"),
            Column("Prise en charge (s)", "int"),
            Column("Forces appelées"),
        ],
        rows,
        number=7,
    )


def _call_type(a: _Alert) -> str:
    if a.restricted_channel is Channel.SMS:
        return "SMS hors liste (refusé)"
    if a.restricted_channel is Channel.VOICE:
        return "appel hors liste (refusé)"
    return "essai" if a.is_test_call else "alerte"


def table_natures(data: Dataset) -> Table:
    """Table 8: nature of calls and orientation given (counts)."""
    counts: Counter[tuple[AlertNature, Orientation | None]] = Counter(
        (a.nature, a.orientation) for a in data.alerts
    )
    orientations: list[Orientation | None] = [*Orientation, None]
    rows: list[list[Cell]] = []
    for nature in AlertNature:
        if nature is AlertNature.CANARI:
            continue
        values = [counts[(nature, o)] for o in orientations]
        rows.append([NATURE_LABELS[nature], *values, sum(values)])
    totals = [sum(int(r[i + 1] or 0) for r in rows) for i in range(len(orientations) + 1)]
    rows.append(["Total", *totals])
    return Table(
        "natures",
        "Nature des appels et orientation donnée",
        "Nombre d'appels de la période par nature et par orientation (soutien apporté, forces "
        "de l'ordre alertées, association contactée…).",
        [
            Column("Nature"),
            *(Column(ORIENTATION_LABELS[o], "int") for o in orientations),
            Column("Total", "int"),
        ],
        rows,
        number=8,
    )


def table_non_compliant(data: Dataset) -> Table:
    """Table 9: calls not compliant with the scheme, their cause and treatment."""
    rows: list[list[Cell]] = [
        [
            _ref(data, a),
            _alert_time(data, a),
            a.non_compliance_cause or "non précisée",
            "SMS non transmis"
            if a.restricted_channel is Channel.SMS
            else ORIENTATION_LABELS[a.orientation],
            a.duration_s,
        ]
        for a in data.alerts
        if a.is_non_compliant
    ]
    return Table(
        "non_conformes",
        "Appels non conformes au dispositif",
        "Appels qualifiés de non conformes, et appels ou SMS vers un numéro hors de la liste "
        "autorisée de la ligne refusés par la passerelle (CCP, annexe 2, I.1), leur cause et "
        "leur traitement.",
        [
            Column("Référence"),
            Column("Reçu le"),
            Column("Cause"),
            Column("Traitement"),
            Column("Durée (s)", "int"),
        ],
        rows,
        number=9,
    )
