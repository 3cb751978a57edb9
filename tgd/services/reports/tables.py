"""The ten committee tables of DESIGN §7, and the one place that lists them in order.

The report is built from anonymous rows (R-16), in modules by purpose:

- ``loading``: ``load(session, scope, period)`` runs the queries and returns a ``Dataset``;
- ``dataset``: the rows, the report's targets and the late-test stretches (R-30);
- ``activity`` and ``equipment``: the table builders (files and calls; handsets);
- ``levels``: the service levels, breaches and headline figures (R-29, R-32);
- ``labels``: the French words and the formatting of times and numbers.

This module builds the ten tables in their order and re-exports what callers
used to import from here.
"""

from __future__ import annotations

from tgd.services.reports.activity import (
    table_calls_received,
    table_followed,
    table_history,
    table_natures,
    table_non_compliant,
    table_numbers_called,
    table_usage,
)
from tgd.services.reports.dataset import Dataset, LateTest, late_tests
from tgd.services.reports.equipment import table_incidents, table_malfunctions, table_terminals
from tgd.services.reports.labels import NATURE_LABELS, ORIENTATION_LABELS, local, mask_number
from tgd.services.reports.levels import service_levels
from tgd.services.reports.loading import load
from tgd.services.reports.model import Table

__all__ = [
    "NATURE_LABELS",
    "ORIENTATION_LABELS",
    "Dataset",
    "LateTest",
    "build_tables",
    "late_tests",
    "load",
    "local",
    "mask_number",
    "service_levels",
]


def build_tables(data: Dataset, *, mask: bool = True) -> list[Table]:
    """Build the ten tables of DESIGN §7, anonymized (references only)."""
    late = late_tests(data)
    return [
        table_history(data, late),
        table_terminals(data, mask=mask),
        table_numbers_called(data),
        table_incidents(data),
        table_usage(data, late),
        table_followed(data),
        table_calls_received(data),
        table_natures(data),
        table_non_compliant(data),
        table_malfunctions(data),
    ]
