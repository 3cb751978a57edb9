"""Flash messages the views share: a service's refusal shown, in French, on the next page."""

from __future__ import annotations

from flask import flash
from flask_babel import gettext

from tgd.domain.errors import DomainError
from tgd.services.line_admin import SwapResult


def flash_refusal(err: DomainError) -> None:
    """Show a service's refusal (its message template and parameters) as an error."""
    flash(gettext(err.template, **err.params), "error")


def flash_swap_delay(result: SwapResult, *, late: str, in_time: str) -> None:
    """R-18: say how many opening hours a handset swap took, as a warning past the deadline.

    ``late`` and ``in_time`` are the page's messages (``N_``), with the hours as ``%(h)s``.
    """
    hours = round(result.delay.total_seconds() / 3600, 1)
    if result.is_late:
        flash(gettext(late, h=hours), "warning")
    else:
        flash(gettext(in_time, h=hours), "success")
