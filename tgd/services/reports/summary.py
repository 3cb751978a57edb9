"""The words around the tables: headline figures and the narrative paragraphs, in French."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tgd.services.reports.model import Report


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %".replace(".", ",")


def summary_lines(report: Report) -> list[tuple[str, str]]:
    """Return the headline figures as (label, value) pairs."""
    f = report.figures
    zone = ZoneInfo(report.scope.timezone)
    generated = report.generated_at.astimezone(zone).strftime("%d/%m/%Y %H:%M")
    period = (
        f"du {report.period.start.strftime('%d/%m/%Y')} au {report.period.end.strftime('%d/%m/%Y')}"
    )
    lines = [
        ("Périmètre", report.scope.label),
        ("Période", f"{report.period.label} ({period})"),
        ("État", "provisoire : période en cours" if report.provisional else "définitif"),
        ("Établi le", f"{generated} ({report.scope.timezone})"),
        (
            "Confidentialité",
            "document nominatif réservé au parquet"
            if report.is_nominative
            else "document anonymisé : bénéficiaires désignés par leur seule référence",
        ),
        ("Lignes (terminaux) du périmètre", str(f["lines"])),
        ("Personnes suivies", str(f["people_followed"])),
        ("Nouvelles fiches", str(f["new_files"])),
        ("Fiches clôturées", str(f["closed_files"])),
        ("Appels reçus des terminaux", str(f["calls"])),
        ("dont alertes", str(f["alerts"])),
        ("dont essais", str(f["tests"])),
        ("Forces de l'ordre appelées", str(f["police_called"])),
        ("Appels non conformes", str(f["non_compliant"])),
        ("Essais non effectués dans les délais", str(f["late_tests"])),
        ("Incidents", str(f["incidents"])),
        ("Échanges de terminal", str(f["swaps"])),
        ("Alertes prises en charge en 10 s", _pct(f["pickup_within_10s"])),
        ("Alertes prises en charge en 30 s", _pct(f["pickup_within_30s"])),
        ("Alertes prises en charge en 60 s", _pct(f["pickup_within_60s"])),
        ("Manquements aux niveaux de service", str(f["breaches"])),
    ]
    return lines


def narrative(report: Report) -> list[str]:
    """Return the opening paragraphs of the narrative report (ODT, PDF)."""
    f = report.figures
    paragraphs = [
        f"Ce rapport présente l'activité du service de téléassistance « Téléphone Grave Danger » "
        f"pour {report.scope.label}, {report.period.label}. Il réunit les tableaux demandés par "
        "le cahier des clauses particulières (article IV.6) pour le comité de suivi.",
        f"Pendant la période, {f['people_followed']} personne(s) ont été suivies "
        f"({f['new_files']} nouvelle(s) fiche(s), {f['closed_files']} clôturée(s)). Le centre a "
        f"reçu {f['calls']} appel(s) des terminaux, dont {f['alerts']} alerte(s) et "
        f"{f['tests']} essai(s) ; les forces de l'ordre ont été appelées {f['police_called']} "
        f"fois. {f['late_tests']} retard(s) d'essai et {f['incidents']} incident(s) ont été "
        "relevés.",
        f"Prise en charge des alertes : {_pct(f['pickup_within_10s'])} en 10 secondes, "
        f"{_pct(f['pickup_within_30s'])} en 30 secondes et {_pct(f['pickup_within_60s'])} en "
        f"60 secondes ; {f['breaches']} manquement(s) aux niveaux de service.",
        "Les heures sont données à l'heure locale de chaque juridiction. Les tableaux complets "
        "figurent dans le classeur (ODS) joint ; ce document en reprend les premières lignes.",
    ]
    if report.provisional:
        paragraphs.insert(
            1,
            "Rapport préparatoire provisoire : la période n'est pas terminée ; les chiffres "
            "couvrent les jours écoulés.",
        )
    if report.is_nominative:
        paragraphs.append(
            "Ce document comporte une annexe nominative réservée au parquet : il ne doit pas "
            "être transmis au comité de suivi."
        )
    else:
        paragraphs.append(
            "Ce document est anonymisé : les bénéficiaires n'y figurent que par la référence de "
            "leur terminal ; aucun nom, adresse ni numéro de téléphone de personne."
        )
    return paragraphs
