"""The personal content of a beneficiary file (R-20), validated and normalised.

This is the document that is encrypted as a whole into each ``FileVersion``.
Phone numbers are normalised to E.164 with ``phonenumbers`` (French numbers
by default, overseas ones recognised by their own prefixes).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from typing import Any

import phonenumbers

from tgd.domain.errors import N_, ValidationError


@dataclass(frozen=True)
class Address:
    """A postal address, with coordinates when geocoded."""

    line: str = ""
    postcode: str = ""
    city: str = ""
    lat: float | None = None
    lon: float | None = None

    @property
    def is_empty(self) -> bool:
        """Tell whether nothing was given."""
        return not (self.line or self.postcode or self.city)

    def one_line(self) -> str:
        """Return the address on one line, for display and geocoding."""
        return ", ".join(p for p in (self.line, f"{self.postcode} {self.city}".strip()) if p)


@dataclass(frozen=True)
class PersonalData:
    """Everything nominative about a beneficiary; only ever stored encrypted."""

    last_name: str
    first_name: str
    birth_date: date | None = None
    residence: Address = field(default_factory=Address)
    workplace: Address = field(default_factory=Address)
    workplace_hours: str = ""  # e.g. "lun–ven 9h–17h", helps R-25 by time of day
    other_phones: tuple[str, ...] = ()
    magistrate: str = ""  # the référent magistrate at the parquet
    association_contact: str = ""
    remarks: str = ""  # remarks for the operators, from the navette
    notes: str = ""  # free notes of the centre

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        data = asdict(self)
        data["birth_date"] = self.birth_date.isoformat() if self.birth_date else None
        data["other_phones"] = list(self.other_phones)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersonalData:
        """Rebuild from ``to_dict`` output."""
        values = dict(data)
        values["birth_date"] = (
            date.fromisoformat(data["birth_date"]) if data.get("birth_date") else None
        )
        values["residence"] = Address(**data.get("residence") or {})
        values["workplace"] = Address(**data.get("workplace") or {})
        values["other_phones"] = tuple(data.get("other_phones") or ())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def changed_fields(self, other: PersonalData) -> list[str]:
        """Name the fields that differ from ``other`` (names only, for the history)."""
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def normalise_phone(raw: str, region: str = "FR") -> str:
    """Return a phone number in E.164, or raise a French ``ValidationError``."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            N_("Le numéro de téléphone « %(raw)s » n'est pas lisible."), raw=raw
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(N_("Le numéro de téléphone « %(raw)s » n'est pas valide."), raw=raw)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validated(data: PersonalData) -> PersonalData:
    """Check the required fields and normalise the phone numbers."""
    if not data.last_name.strip() or not data.first_name.strip():
        raise ValidationError(N_("Le nom et le prénom de la personne sont obligatoires."))
    if data.birth_date and data.birth_date > date.today():
        raise ValidationError(N_("La date de naissance ne peut pas être dans le futur."))
    phones = tuple(normalise_phone(p) for p in data.other_phones if p.strip())
    return replace(
        data,
        last_name=data.last_name.strip(),
        first_name=data.first_name.strip(),
        other_phones=phones,
    )
