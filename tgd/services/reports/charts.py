"""Charts of the narrative report, drawn with matplotlib's Agg backend as PNG (R-40).

No display is needed (Agg), and each figure is closed once saved, so a long
running process does not accumulate them.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from tgd.services.reports.model import Chart, Report

BLUE = "#000091"  # the State's blue (DSFR)
RED = "#e1000f"


def _png(figure: Any) -> bytes:
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def make_charts(report: Report) -> list[Chart]:
    """Draw the calls by nature, calls by month and pick-up delays."""
    figures = report.figures
    charts: list[Chart] = []
    natures: dict[str, int] = dict(figures["natures"])
    if natures:
        fig, ax = plt.subplots(figsize=(7, 3.2))
        labels = sorted(natures, key=lambda k: -natures[k])
        ax.barh(labels[::-1], [natures[k] for k in labels][::-1], color=BLUE)
        ax.set_xlabel("nombre d'appels")
        ax.set_title("Appels reçus par nature")
        charts.append(
            Chart(
                "Appels reçus par nature",
                _png(fig),
                "Appels par nature : " + ", ".join(f"{k} {natures[k]}" for k in labels),
            )
        )
    months: dict[str, int] = dict(figures["calls_by_month"])
    if months:
        fig, ax = plt.subplots(figsize=(7, 3))
        keys = sorted(months)
        ax.bar(keys, [months[k] for k in keys], color=BLUE)
        ax.set_ylabel("appels")
        ax.set_title("Appels reçus par mois")
        ax.tick_params(axis="x", rotation=45)
        charts.append(
            Chart(
                "Appels reçus par mois",
                _png(fig),
                "Appels par mois : " + ", ".join(f"{k} {months[k]}" for k in keys),
            )
        )
    values: list[int] = figures["pickup_values"]
    if values:
        fig, ax = plt.subplots(figsize=(7, 3))
        capped = [min(v, 120) for v in values]
        ax.hist(capped, bins=24, range=(0, 120), color=BLUE)
        ax.axvline(10, color=RED, linestyle="--", label="objectif 10 s")
        ax.set_xlabel("délai de prise en charge (s, plafonné à 120)")
        ax.set_ylabel("alertes")
        ax.set_title("Délais de prise en charge des alertes")
        ax.legend()
        charts.append(
            Chart(
                "Délais de prise en charge des alertes",
                _png(fig),
                f"Répartition des délais de prise en charge de {len(values)} alerte(s)",
            )
        )
    return charts
