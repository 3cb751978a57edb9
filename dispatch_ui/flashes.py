"""Flash messages the views share: a service's refusal shown, in French, on the next page."""

from __future__ import annotations

from flask import flash
from flask_babel import gettext

from tgd.domain.errors import DomainError


def flash_refusal(err: DomainError) -> None:
    """Show a service's refusal (its message template and parameters) as an error."""
    flash(gettext(err.template, **err.params), "error")
