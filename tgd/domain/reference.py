"""The terminal reference ``M <département> <INSEE> <XX> <Y>`` (DESIGN.md §3).

This module owns the ``Reference`` value type: its canonical text form
(``M 975 97502 01 1``), the tolerant parser of R-03, the validation of every
part against the département list and the official commune list
(``tgd.domain.geography``), and the reassignment step of R-02.

Accepted input forms (R-03), case-insensitive, surrounding spaces ignored:

* five parts separated by runs of spaces (``M 975 97502 01 1``,
  ``m  2a 2a004  01 1``) or by single hyphens (``M-975-97502-01-1``), not a mix;
* no separator at all: ``M97597502011``. The split is never ambiguous: after
  ``M`` the département is ``2A``/``2B``, or three digits when it starts with
  ``97`` or ``98`` (no two-digit département starts so), otherwise two digits;
  then come the 5-character INSEE code, the two-digit order ``XX``, and the
  rest is ``Y``.

Anything else (partly separated text such as ``M9759750201 1``, mixed or
doubled separators, one-digit ``XX``, zero-padded ``Y``) is refused with a
``ReferenceError`` whose ``part`` names the wrong part.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal

from tgd.domain.errors import N_, ValidationError
from tgd.domain.geography import DEPARTEMENTS, find_commune

Part = Literal["prefixe", "departement", "commune", "ordre", "affectation", "format"]

PREFIX = "M"
MAX_ORDER = 99
MAX_ASSIGNMENT = 999
# Longest valid text is about 20 characters; anything much longer is not a reference.
MAX_TEXT_LENGTH = 64

# parts are separated either by runs of spaces or by single hyphens, not a mix.
_SPACES = re.compile(r"\s+")
_HYPHENATED = re.compile(r"[^\s-]+(?:-[^\s-]+)*")
_COMPACT = re.compile(r"[A-Z][0-9AB]+")
_INSEE = re.compile(r"[0-9]{5}|2[AB][0-9]{3}")
_ORDER = re.compile(r"[0-9]{2}")
_ASSIGNMENT = re.compile(r"[1-9][0-9]{0,2}")
_DIGITS = re.compile(r"[0-9]+")


# The name shadows the builtin ReferenceError (weakref); import it explicitly.
class ReferenceError(ValidationError):
    """A terminal reference is malformed; ``part`` says which part is wrong."""

    def __init__(self, part: Part, template: str, /, **params: Any) -> None:
        self.part: Part = part
        super().__init__(template, **params)


_MISSING: dict[Part, str] = {
    "departement": N_("Référence incomplète : le code département manque."),
    "commune": N_("Référence incomplète : le code commune INSEE manque."),
    "ordre": N_("Référence incomplète : le numéro d'ordre (XX) manque."),
    "affectation": N_("Référence incomplète : l'indice d'affectation (Y) manque."),
}


def _check_prefix(value: str) -> None:
    """Refuse any prefix other than M (mobile terminal)."""
    if value != PREFIX:
        raise ReferenceError(
            "prefixe",
            N_("Référence invalide : le préfixe doit être M (terminal mobile), pas « %(value)s »."),
            value=value,
        )


def _check_departement(value: str) -> None:
    """Refuse a département code that is not in DEPARTEMENTS."""
    if not value:
        raise ReferenceError("departement", _MISSING["departement"])
    if value == "20":
        raise ReferenceError(
            "departement",
            N_(
                "Référence invalide : le département 20 n'existe plus, "
                "utilisez 2A (Corse-du-Sud) ou 2B (Haute-Corse)."
            ),
        )
    if value not in DEPARTEMENTS:
        raise ReferenceError(
            "departement",
            N_(
                "Référence invalide : le département « %(value)s » est inconnu "
                "(attendu : 01 à 95, 2A, 2B, 971 à 978, 986, 987 ou 988)."
            ),
            value=value,
        )


def _check_commune(value: str, departement: str) -> None:
    """Refuse an INSEE code that is malformed, unknown, or of another département."""
    if not value:
        raise ReferenceError("commune", _MISSING["commune"])
    if not _INSEE.fullmatch(value):
        raise ReferenceError(
            "commune",
            N_(
                "Référence invalide : le code commune INSEE « %(value)s » doit comporter "
                "5 caractères (par exemple 75056 ou 2A004)."
            ),
            value=value,
        )
    commune = find_commune(value)
    if commune is None:
        raise ReferenceError(
            "commune",
            N_("Référence invalide : la commune %(code)s n'existe pas dans la liste officielle."),
            code=value,
        )
    if commune.departement != departement:
        raise ReferenceError(
            "commune",
            N_(
                "Référence invalide : la commune %(code)s (%(name)s) "
                "n'appartient pas au département %(departement)s."
            ),
            code=value,
            name=commune.name,
            departement=departement,
        )


def _check_order(order: int) -> None:
    """Refuse an order number outside 01..99."""
    if not 1 <= order <= MAX_ORDER:
        raise ReferenceError(
            "ordre",
            N_("Référence invalide : le numéro d'ordre doit aller de 01 à 99, pas %(value)02d."),
            value=order,
        )


def _check_assignment(assignment: int) -> None:
    """Refuse an assignment index outside 1..999."""
    if assignment < 1:
        raise ReferenceError(
            "affectation",
            N_("Référence invalide : l'indice d'affectation commence à 1, pas %(value)s."),
            value=assignment,
        )
    if assignment > MAX_ASSIGNMENT:
        raise ReferenceError(
            "affectation",
            N_("Référence invalide : l'indice d'affectation ne peut pas dépasser 999 (%(value)s)."),
            value=assignment,
        )


def _parse_order(value: str) -> int:
    """Read XX: exactly two digits."""
    if not value:
        raise ReferenceError("ordre", _MISSING["ordre"])
    if not _ORDER.fullmatch(value):
        raise ReferenceError(
            "ordre",
            N_(
                "Référence invalide : le numéro d'ordre « %(value)s » doit comporter "
                "deux chiffres (01 à 99)."
            ),
            value=value,
        )
    order = int(value)
    _check_order(order)
    return order


def _parse_assignment(value: str) -> int:
    """Read Y: 1 to 3 digits, no leading zero."""
    if not value:
        raise ReferenceError("affectation", _MISSING["affectation"])
    if _DIGITS.fullmatch(value) and int(value) == 0:
        _check_assignment(0)
    if not _ASSIGNMENT.fullmatch(value):
        raise ReferenceError(
            "affectation",
            N_(
                "Référence invalide : l'indice d'affectation « %(value)s » doit être "
                "un nombre de 1 à 999, sans zéro initial."
            ),
            value=value,
        )
    return int(value)


def _split_compact(token: str) -> list[str]:
    """Cut a separator-free reference into its five parts (R-03)."""
    prefix, body = token[:1], token[1:]
    if body.startswith(("2A", "2B")):
        width = 2
    elif body.startswith(("97", "98")):
        # Only overseas codes are 3 digits, and they all start with 97 or 98.
        width = 3
    else:
        width = 2
    departement, rest = body[:width], body[width:]
    return [prefix, departement, rest[:5], rest[5:7], rest[7:]]


def _split(original: str) -> list[str]:
    """Cut reference text into its five upper-case parts, or refuse its overall shape."""
    text = original.strip()
    if not text:
        raise ReferenceError("format", N_("Référence invalide : la référence est vide."))
    if len(text) > MAX_TEXT_LENGTH:
        raise ReferenceError(
            "format", N_("Référence invalide : le texte est trop long pour une référence.")
        )
    text = text.upper()  # "m", "2a" are accepted
    parts = text.split("-") if _HYPHENATED.fullmatch(text) else _SPACES.split(text)
    if len(parts) == 5:
        return parts
    if len(parts) == 1 and _COMPACT.fullmatch(text):
        return _split_compact(text)
    raise ReferenceError(
        "format",
        N_(
            "Référence invalide : « %(value)s » n'a pas la forme M <département> "
            "<commune INSEE> <XX> <Y> (exemple : M 975 97502 01 1)."
        ),
        value=original.strip(),
    )


@dataclass(frozen=True, slots=True)
class Reference:
    """A terminal reference; it names the line, not the hardware (R-01)."""

    departement: str
    insee: str
    order: int
    assignment: int

    def __post_init__(self) -> None:
        _check_departement(self.departement)
        _check_commune(self.insee, self.departement)
        _check_order(self.order)
        _check_assignment(self.assignment)

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Read a reference in any form R-03 accepts, or raise ReferenceError."""
        prefix, departement, insee, order, assignment = _split(text)
        # Check the parts in reading order so the message names the first wrong one.
        _check_prefix(prefix)
        _check_departement(departement)
        _check_commune(insee, departement)
        return cls(departement, insee, _parse_order(order), _parse_assignment(assignment))

    @classmethod
    def try_parse(cls, text: str) -> Reference | None:
        """Read a reference like parse(), returning None instead of raising."""
        try:
            return cls.parse(text)
        except ReferenceError:
            return None

    def next_assignment(self) -> Reference:
        """Return the reference of the line's next beneficiary: Y + 1 (R-02)."""
        return dataclasses.replace(self, assignment=self.assignment + 1)

    def __str__(self) -> str:
        # canonical form, single spaces, XX zero-padded, Y unpadded.
        return f"{PREFIX} {self.departement} {self.insee} {self.order:02d} {self.assignment}"
