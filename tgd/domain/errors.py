"""Domain errors: one base class that the doors map to HTTP codes and French messages.

A ``DomainError`` carries a message *template* in French (the users' language)
and its parameters, so the web layer can translate it with Flask-Babel
(``gettext(err.template, **err.params)``) while the domain stays Flask-free.
Templates use ``%(name)s`` placeholders.
"""

from __future__ import annotations

from typing import Any


def N_(template: str) -> str:
    """Mark a string for extraction by Babel without translating it here."""
    return template


class DomainError(Exception):
    """A rule of the domain refused an operation; the message is for users."""

    http_status = 400

    def __init__(self, template: str, /, **params: Any) -> None:
        # Positional-only: any parameter name (even "template") may be used in a message.
        self.template = template
        self.params = params
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The French message with its parameters filled in."""
        return self.template % self.params if self.params else self.template


class ValidationError(DomainError):
    """Input does not have the form the domain expects."""


# One answer for a missing object and for one the user may not see: the 404 page
# and ``policy.get_scoped`` both say this, so no answer tells the two apart.
NOT_FOUND_OR_HIDDEN = N_("Cette page n'existe pas ou vous n'y avez pas accès.")


class NotFound(DomainError):
    """The object does not exist, or the user may not know that it does."""

    http_status = 404


class Forbidden(DomainError):
    """The user is known but may not do this."""

    http_status = 403


class Conflict(DomainError):
    """The operation clashes with the current state (lifecycle, uniqueness)."""

    http_status = 409
