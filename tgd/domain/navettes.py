"""The four fiches navettes (R-10..R-15): their content, its validation, and their clocks.

Pure rules, no database: a navette's content is a small value (``Attribution``,
``Update``, ``TemporaryInformation``, ``Termination``) that validates itself
field by field, so the portal can show each French message next to its field
(``FieldErrors``). What needs the database (does the reference exist, is the
line free, is the file assigned) is checked by ``tgd.services.navettes`` and
reported the same way. Also here: the navette's processing states, the
15-minute deadline of an attribution (R-10) and the commissioning rule (R-11).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tgd.domain.beneficiary import Address, PersonalData, normalise_phone
from tgd.domain.errors import N_, Conflict, ValidationError
from tgd.domain.lifecycle import CommissioningStep, FileState, NavetteKind, NavetteState
from tgd.domain.reference import Reference, ReferenceError

# Fields an update navette may change; the identity is changed the same way.
UPDATABLE_FIELDS = (
    "last_name",
    "first_name",
    "residence",
    "workplace",
    "workplace_hours",
    "other_phones",
    "magistrate",
    "association_contact",
    "remarks",
)
MAX_TEMPORARY_DAYS = 366
MAX_TEXT = 2000


class FieldErrors(ValidationError):
    """Several fields are wrong; ``errors`` maps each field name to its message templates."""

    def __init__(self, errors: Mapping[str, list[tuple[str, dict[str, Any]]]]) -> None:
        self.errors = {k: list(v) for k, v in errors.items() if v}
        first_field = next(iter(self.errors))
        template, params = self.errors[first_field][0]
        super().__init__(template, **params)


class _Collector:
    """Gather field errors, then raise them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def add(self, field_name: str, template: str, /, **params: Any) -> None:
        # Positional-only: a message parameter may itself be called "name" (a commune's
        # name in a reference error) or "template" without clashing with ours.
        self.errors.setdefault(field_name, []).append((template, params))

    def raise_if_any(self) -> None:
        if self.errors:
            raise FieldErrors(self.errors)


def _check_reference(errors: _Collector, text: str) -> str:
    if not text.strip():
        errors.add("reference", N_("La référence du terminal est obligatoire."))
        return ""
    try:
        return str(Reference.parse(text))
    except ReferenceError as exc:
        errors.add("reference", exc.template, **exc.params)
        return ""


def _check_text(errors: _Collector, name: str, value: str) -> None:
    if len(value) > MAX_TEXT:
        errors.add(name, N_("Ce texte est trop long (%(max)s caractères au plus)."), max=MAX_TEXT)


def _check_phones(errors: _Collector, phones: Iterable[str]) -> tuple[str, ...]:
    normalised = []
    for raw in phones:
        if not raw.strip():
            continue
        try:
            normalised.append(normalise_phone(raw))
        except ValidationError as exc:
            errors.add("other_phones", exc.template, **exc.params)
    return tuple(normalised)


@dataclass(frozen=True)
class Attribution:
    """R-10: a terminal is given to a person; the file must exist within 15 minutes."""

    reference: str
    personal: PersonalData
    association_id: int | None = None

    def validated(self, *, today: date) -> Attribution:
        """Return the normalised navette, or raise ``FieldErrors``."""
        errors = _Collector()
        reference = _check_reference(errors, self.reference)
        p = self.personal
        if not p.last_name.strip():
            errors.add("last_name", N_("Le nom de la personne est obligatoire."))
        if not p.first_name.strip():
            errors.add("first_name", N_("Le prénom de la personne est obligatoire."))
        if p.birth_date and p.birth_date > today:
            errors.add("birth_date", N_("La date de naissance ne peut pas être dans le futur."))
        if p.residence.is_empty:
            errors.add("residence_line", N_("L'adresse du domicile est obligatoire."))
        phones = _check_phones(errors, p.other_phones)
        for name in ("remarks", "workplace_hours", "magistrate", "association_contact"):
            _check_text(errors, name, getattr(p, name))
        errors.raise_if_any()
        personal = replace(
            p, last_name=p.last_name.strip(), first_name=p.first_name.strip(), other_phones=phones
        )
        return replace(self, reference=reference, personal=personal)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document that is encrypted into the navette."""
        return {
            "reference": self.reference,
            "personal": self.personal.to_dict(),
            "association_id": self.association_id,
        }


@dataclass(frozen=True)
class Update:
    """R-12: fields of the file to change; only the given ones change."""

    reference: str
    changes: Mapping[str, Any] = field(default_factory=dict)

    def validated(self, *, today: date) -> Update:
        """Return the normalised navette, or raise ``FieldErrors``."""
        del today
        errors = _Collector()
        reference = _check_reference(errors, self.reference)
        changes = {k: v for k, v in self.changes.items() if k in UPDATABLE_FIELDS and v}
        for name in ("last_name", "first_name"):
            if name in changes and not str(changes[name]).strip():
                errors.add(name, N_("Ce champ ne peut pas être vide."))
        if "other_phones" in changes:
            changes["other_phones"] = list(_check_phones(errors, changes["other_phones"]))
        for name in ("remarks", "workplace_hours", "magistrate", "association_contact"):
            if name in changes:
                _check_text(errors, name, str(changes[name]))
        if not changes and "reference" not in errors.errors:
            errors.add("remarks", N_("La mise à jour ne contient aucun changement."))
        errors.raise_if_any()
        return replace(self, reference=reference, changes=changes)

    def apply_to(self, current: PersonalData) -> PersonalData:
        """Return the personal data with the navette's changes applied."""
        values: dict[str, Any] = {}
        for name, value in self.changes.items():
            if name in ("residence", "workplace"):
                values[name] = Address(**value) if isinstance(value, dict) else value
            elif name == "other_phones":
                values[name] = tuple(value)
            else:
                values[name] = value
        return replace(current, **values)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document that is encrypted into the navette."""
        changes = {
            k: (v.__dict__ if isinstance(v, Address) else list(v) if isinstance(v, tuple) else v)
            for k, v in self.changes.items()
        }
        return {"reference": self.reference, "changes": changes}


@dataclass(frozen=True)
class TemporaryInformation:
    """R-13: a stay, a week-end away, a trip (even abroad), valid for a period."""

    reference: str
    start: date | None
    end: date | None
    content: str

    def validated(self, *, today: date) -> TemporaryInformation:
        """Return the normalised navette, or raise ``FieldErrors`` (``today`` is local)."""
        errors = _Collector()
        reference = _check_reference(errors, self.reference)
        if self.start is None:
            errors.add("start", N_("La date de début est obligatoire."))
        elif self.start < today:
            errors.add("start", N_("La date de début ne peut pas être dans le passé."))
        if self.end is None:
            errors.add("end", N_("La date de fin est obligatoire."))
        elif self.start is not None and self.end < self.start:
            errors.add("end", N_("La date de fin doit suivre la date de début."))
        elif self.start is not None and (self.end - self.start).days > MAX_TEMPORARY_DAYS:
            errors.add(
                "end",
                N_("La période ne peut pas dépasser %(days)s jours."),
                days=MAX_TEMPORARY_DAYS,
            )
        if not self.content.strip():
            errors.add("content", N_("L'information est obligatoire."))
        _check_text(errors, "content", self.content)
        errors.raise_if_any()
        return replace(self, reference=reference, content=self.content.strip())

    def period(self, timezone: str) -> tuple[datetime, datetime]:
        """Return the validity period in UTC: first day 00:00 to last day 23:59:59 local."""
        assert self.start is not None and self.end is not None
        zone = ZoneInfo(timezone)
        start = datetime.combine(self.start, time.min, tzinfo=zone)
        end = datetime.combine(self.end, time.max.replace(microsecond=0), tzinfo=zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document that is encrypted into the navette."""
        return {
            "reference": self.reference,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "content": self.content,
        }


@dataclass(frozen=True)
class Termination:
    """R-15: the parquet ends the measure (reference, name, date)."""

    reference: str
    last_name: str
    end_date: date | None

    def validated(self, *, today: date) -> Termination:
        """Return the normalised navette, or raise ``FieldErrors``."""
        errors = _Collector()
        reference = _check_reference(errors, self.reference)
        if not self.last_name.strip():
            errors.add("last_name", N_("Le nom de la personne est obligatoire."))
        if self.end_date is None:
            errors.add("end_date", N_("La date de fin de la mesure est obligatoire."))
        elif self.end_date > today + timedelta(days=MAX_TEMPORARY_DAYS):
            errors.add("end_date", N_("La date de fin de la mesure est trop lointaine."))
        errors.raise_if_any()
        return replace(self, reference=reference, last_name=self.last_name.strip())

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document that is encrypted into the navette."""
        return {
            "reference": self.reference,
            "last_name": self.last_name,
            "end_date": self.end_date.isoformat() if self.end_date else None,
        }


NavetteContent = Attribution | Update | TemporaryInformation | Termination

CONTENT_KINDS: dict[type[Any], NavetteKind] = {
    Attribution: NavetteKind.ATTRIBUTION,
    Update: NavetteKind.MISE_A_JOUR,
    TemporaryInformation: NavetteKind.INFORMATION_PONCTUELLE,
    Termination: NavetteKind.RESILIATION,
}

KIND_LABELS = {
    NavetteKind.ATTRIBUTION: N_("attribution"),
    NavetteKind.MISE_A_JOUR: N_("mise à jour"),
    NavetteKind.INFORMATION_PONCTUELLE: N_("information ponctuelle"),
    NavetteKind.RESILIATION: N_("résiliation"),
}

STATE_LABELS = {
    NavetteState.BROUILLON: N_("brouillon"),
    NavetteState.RECUE: N_("reçue"),
    NavetteState.TRAITEE: N_("traitée"),
    NavetteState.REJETEE: N_("rejetée"),
}


def kind_of(content: NavetteContent) -> NavetteKind:
    """Return the kind of a navette's content."""
    return CONTENT_KINDS[type(content)]


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def content_from_dict(kind: NavetteKind, data: Mapping[str, Any]) -> NavetteContent:
    """Rebuild a navette's content from its decrypted JSON document."""
    reference = str(data.get("reference") or "")
    if kind is NavetteKind.ATTRIBUTION:
        return Attribution(
            reference,
            PersonalData.from_dict(data.get("personal") or {"last_name": "", "first_name": ""}),
            data.get("association_id"),
        )
    if kind is NavetteKind.MISE_A_JOUR:
        return Update(reference, dict(data.get("changes") or {}))
    if kind is NavetteKind.INFORMATION_PONCTUELLE:
        return TemporaryInformation(
            reference, _date(data.get("start")), _date(data.get("end")), data.get("content") or ""
        )
    return Termination(reference, data.get("last_name") or "", _date(data.get("end_date")))


NAVETTE_TRANSITIONS: dict[NavetteState, frozenset[NavetteState]] = {
    NavetteState.BROUILLON: frozenset({NavetteState.RECUE}),
    NavetteState.RECUE: frozenset({NavetteState.TRAITEE, NavetteState.REJETEE}),
    NavetteState.TRAITEE: frozenset(),
    NavetteState.REJETEE: frozenset(),
}


def check_navette_transition(current: NavetteState, target: NavetteState) -> None:
    """Refuse a navette state change that its processing does not allow."""
    if target not in NAVETTE_TRANSITIONS[current]:
        raise Conflict(
            N_(
                "Cette navette est déjà « %(current)s » : elle ne peut pas passer à « %(target)s »."
            ),
            current=STATE_LABELS[current],
            target=STATE_LABELS[target],
        )


def deadline_for(kind: NavetteKind, received_at: datetime, minutes: int = 15) -> datetime | None:
    """R-10: an attribution's file is due ``minutes`` after reception; other kinds have none."""
    if kind is not NavetteKind.ATTRIBUTION:
        return None
    return received_at + timedelta(minutes=minutes)


def is_breach(deadline_at: datetime | None, processed_at: datetime) -> bool:
    """R-10/R-32: the navette was processed after its deadline."""
    return deadline_at is not None and processed_at > deadline_at


def seconds_left(deadline_at: datetime | None, now: datetime) -> int | None:
    """Return the whole seconds before the deadline (negative once passed)."""
    if deadline_at is None:
        return None
    return int((deadline_at - now).total_seconds())


def missing_steps(done: Iterable[CommissioningStep]) -> list[CommissioningStep]:
    """R-11: the commissioning steps still to succeed, in order."""
    have = set(done)
    return [s for s in CommissioningStep if s not in have]


def check_commissioning_complete(done: Iterable[CommissioningStep]) -> None:
    """R-11: refuse "attribué définitivement" until the three steps succeeded."""
    if missing_steps(done):
        raise Conflict(
            N_(
                "La mise en service n'est pas terminée : les trois étapes (essai du terminal, "
                "vérification de l'affectation, appel d'essai de la personne) doivent réussir."
            )
        )


TERMINABLE_STATES = frozenset({FileState.EN_CREATION, FileState.ATTRIBUE})
