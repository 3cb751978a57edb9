"""What a report is, whatever its format: a scope, a period, titled tables and figures.

The builder fills these plain values from the database; the ODS, ODT and PDF
writers only lay them out. Cells are already anonymous in a committee report:
no writer ever sees a name, an address or a private phone number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tgd.services.reports.period import Period

Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    """A column: its French title and the kind of its values (text, int, float, percent)."""

    title: str
    kind: str = "text"


@dataclass
class Table:
    """One table of the report (DESIGN §7 numbers 1-10, or a service-level table)."""

    key: str
    title: str
    description: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    number: int | None = None

    @property
    def heading(self) -> str:
        """Return the title with its number, e.g. ``Tableau 3 — Numéros appelés``."""
        return f"Tableau {self.number} — {self.title}" if self.number else self.title


@dataclass(frozen=True)
class Scope:
    """Which juridictions a report covers, how it is named and which clock it reads."""

    kind: str  # juridiction, departement, national
    code: str  # INSEE code, département code or "national"
    label: str
    juridiction_ids: frozenset[int]
    timezone: str

    @property
    def is_national(self) -> bool:
        """Tell whether the report covers every juridiction."""
        return self.kind == "national"


@dataclass(frozen=True)
class Chart:
    """A chart as PNG bytes, with its title and a text alternative."""

    title: str
    png: bytes
    alt: str


@dataclass
class Report:
    """A committee report: the ten tables, service levels, figures, charts; maybe the annex."""

    scope: Scope
    period: Period
    provisional: bool
    generated_at: datetime
    tables: list[Table]
    service_levels: Table
    breaches: Table
    figures: dict[str, Any]
    charts: list[Chart] = field(default_factory=list)
    annex: list[Table] = field(default_factory=list)  # nominative, for the parquet alone
    coverage: Table | None = None  # the carrier's coverage figures (Annexe 2 I.3)

    @property
    def is_nominative(self) -> bool:
        """Tell whether the report carries the parquet's nominative annex."""
        return bool(self.annex)

    @property
    def title(self) -> str:
        """Return the document title."""
        kind = "Rapport nominatif (parquet)" if self.is_nominative else "Rapport au comité de suivi"
        return f"{kind} — {self.scope.label} — {self.period.label}"

    def all_tables(self) -> list[Table]:
        """Return every table in document order."""
        extra = [self.coverage] if self.coverage is not None else []
        return [*self.tables, self.service_levels, self.breaches, *extra, *self.annex]
