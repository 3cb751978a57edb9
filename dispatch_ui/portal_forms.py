"""The forms of navettes, parquet messages and retention, and their mapping to domain values.

The four navette forms are shared by the prosecutors' portal (``dispatch_ui.portal``)
and the operators' keying page (``dispatch_ui.intake``): ``content_of`` turns a form
into the domain value, ``fill_form`` does the reverse, and ``show_errors`` puts a
service's field-level French messages back on any form.
"""

from __future__ import annotations

from typing import Any

from flask import flash
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from tgd.db.models.beneficiaries import BeneficiaryFile
from tgd.domain.beneficiary import Address, PersonalData
from tgd.domain.lifecycle import NavetteKind
from tgd.domain.navettes import (
    Attribution,
    FieldErrors,
    NavetteContent,
    TemporaryInformation,
    Termination,
    Update,
)
from tgd.http import db_session
from tgd.services import users
from tgd.settings import RetentionSettings

SLUGS = {
    "attribution": NavetteKind.ATTRIBUTION,
    "mise-a-jour": NavetteKind.MISE_A_JOUR,
    "information-ponctuelle": NavetteKind.INFORMATION_PONCTUELLE,
    "resiliation": NavetteKind.RESILIATION,
}
SLUG_OF = {kind: slug for slug, kind in SLUGS.items()}
TEXT = [Optional(), Length(max=2000)]
SHORT = [Optional(), Length(max=200)]


class _NavetteForm(FlaskForm):
    reference = StringField(
        _l("Référence du terminal"),
        validators=[Optional(), Length(max=64)],
        description=_l("Par exemple M 75 75056 05 1"),
    )


class AttributionForm(_NavetteForm):
    """Attribution (R-10): who, where, other numbers, association, remarks."""

    last_name = StringField(_l("Nom"), validators=SHORT)
    first_name = StringField(_l("Prénom"), validators=SHORT)
    birth_date = DateField(_l("Date de naissance"), validators=[Optional()])
    residence_line = StringField(_l("Adresse du domicile"), validators=SHORT)
    residence_postcode = StringField(_l("Code postal du domicile"), validators=SHORT)
    residence_city = StringField(_l("Commune du domicile"), validators=SHORT)
    workplace_line = StringField(_l("Adresse du lieu de travail"), validators=SHORT)
    workplace_postcode = StringField(_l("Code postal du lieu de travail"), validators=SHORT)
    workplace_city = StringField(_l("Commune du lieu de travail"), validators=SHORT)
    workplace_hours = StringField(_l("Horaires de travail"), validators=SHORT)
    other_phones = StringField(
        _l("Autres numéros de téléphone"),
        validators=SHORT,
        description=_l("Séparés par des virgules"),
    )
    magistrate = StringField(_l("Magistrat référent"), validators=SHORT)
    association_id = SelectField(_l("Association référente"), coerce=int)
    association_contact = StringField(_l("Contact à l'association"), validators=SHORT)
    remarks = TextAreaField(_l("Remarques pour les téléassisteurs"), validators=TEXT)


class UpdateForm(_NavetteForm):
    """Mise à jour (R-12): only the fields filled in change."""

    last_name = StringField(_l("Nouveau nom"), validators=SHORT)
    first_name = StringField(_l("Nouveau prénom"), validators=SHORT)
    residence_line = StringField(_l("Nouvelle adresse du domicile"), validators=SHORT)
    residence_postcode = StringField(_l("Code postal du domicile"), validators=SHORT)
    residence_city = StringField(_l("Commune du domicile"), validators=SHORT)
    workplace_line = StringField(_l("Nouvelle adresse du lieu de travail"), validators=SHORT)
    workplace_postcode = StringField(_l("Code postal du lieu de travail"), validators=SHORT)
    workplace_city = StringField(_l("Commune du lieu de travail"), validators=SHORT)
    workplace_hours = StringField(_l("Horaires de travail"), validators=SHORT)
    other_phones = StringField(
        _l("Autres numéros de téléphone (remplacent les précédents)"), validators=SHORT
    )
    magistrate = StringField(_l("Magistrat référent"), validators=SHORT)
    association_contact = StringField(_l("Contact à l'association"), validators=SHORT)
    remarks = TextAreaField(_l("Remarques pour les téléassisteurs"), validators=TEXT)


class TemporaryForm(_NavetteForm):
    """Information ponctuelle (R-13) with its validity period."""

    start = DateField(_l("Du"), validators=[Optional()])
    end = DateField(_l("Au"), validators=[Optional()])
    content = TextAreaField(
        _l("Information (séjour, déplacement, adresse temporaire…)"), validators=TEXT
    )


class TerminationForm(_NavetteForm):
    """Résiliation (R-15): reference, name, date."""

    last_name = StringField(_l("Nom de la personne"), validators=SHORT)
    end_date = DateField(_l("Date de fin de la mesure"), validators=[Optional()])


class MessageForm(FlaskForm):
    """R-14: new information for the parquet référent."""

    text = TextAreaField(
        _l("Information à transmettre"), validators=[DataRequired(), Length(max=4000)]
    )


FORMS: dict[NavetteKind, type[_NavetteForm]] = {
    NavetteKind.ATTRIBUTION: AttributionForm,
    NavetteKind.MISE_A_JOUR: UpdateForm,
    NavetteKind.INFORMATION_PONCTUELLE: TemporaryForm,
    NavetteKind.RESILIATION: TerminationForm,
}


def _s(form: Any, name: str) -> str:
    return str(getattr(form, name).data or "").strip()


def _address(form: Any, prefix: str) -> Address:
    return Address(
        _s(form, f"{prefix}_line"), _s(form, f"{prefix}_postcode"), _s(form, f"{prefix}_city")
    )


def _phones(form: Any) -> tuple[str, ...]:
    return tuple(p.strip() for p in _s(form, "other_phones").split(",") if p.strip())


def content_of(kind: NavetteKind, form: Any) -> NavetteContent:
    """Turn a submitted form into the navette's content."""
    reference = _s(form, "reference")
    if kind is NavetteKind.ATTRIBUTION:
        personal = PersonalData(
            last_name=_s(form, "last_name"),
            first_name=_s(form, "first_name"),
            birth_date=form.birth_date.data,
            residence=_address(form, "residence"),
            workplace=_address(form, "workplace"),
            workplace_hours=_s(form, "workplace_hours"),
            other_phones=_phones(form),
            magistrate=_s(form, "magistrate"),
            association_contact=_s(form, "association_contact"),
            remarks=_s(form, "remarks"),
        )
        return Attribution(reference, personal, form.association_id.data or None)
    if kind is NavetteKind.MISE_A_JOUR:
        changes: dict[str, Any] = {
            name: _s(form, name)
            for name in (
                "last_name",
                "first_name",
                "workplace_hours",
                "magistrate",
                "association_contact",
                "remarks",
            )
        }
        for prefix in ("residence", "workplace"):
            address = _address(form, prefix)
            if not address.is_empty:
                changes[prefix] = {
                    "line": address.line,
                    "postcode": address.postcode,
                    "city": address.city,
                }
        changes["other_phones"] = list(_phones(form))
        return Update(reference, {k: v for k, v in changes.items() if v})
    if kind is NavetteKind.INFORMATION_PONCTUELLE:
        return TemporaryInformation(reference, form.start.data, form.end.data, _s(form, "content"))
    return Termination(reference, _s(form, "last_name"), form.end_date.data)


def fill_form(form: Any, content: NavetteContent) -> None:
    """Put a navette's content into its form (drafts, keying, file creation)."""
    form.reference.data = content.reference
    if isinstance(content, Attribution):
        p = content.personal
        for name in (
            "last_name",
            "first_name",
            "workplace_hours",
            "magistrate",
            "association_contact",
            "remarks",
        ):
            getattr(form, name).data = getattr(p, name)
        form.birth_date.data = p.birth_date
        for prefix in ("residence", "workplace"):
            address = getattr(p, prefix)
            getattr(form, f"{prefix}_line").data = address.line
            getattr(form, f"{prefix}_postcode").data = address.postcode
            getattr(form, f"{prefix}_city").data = address.city
        form.other_phones.data = ", ".join(p.other_phones)
        form.association_id.data = content.association_id or 0
    elif isinstance(content, Update):
        for name, value in content.changes.items():
            if name in ("residence", "workplace") and isinstance(value, dict):
                for part in ("line", "postcode", "city"):
                    getattr(form, f"{name}_{part}").data = value.get(part, "")
            elif name == "other_phones":
                form.other_phones.data = ", ".join(value)
            elif hasattr(form, name):
                getattr(form, name).data = value
    elif isinstance(content, TemporaryInformation):
        form.start.data, form.end.data, form.content.data = (
            content.start,
            content.end,
            content.content,
        )
    else:
        form.last_name.data, form.end_date.data = content.last_name, content.end_date


def show_errors(form: Any, err: FieldErrors) -> None:
    """Put the service's field errors on the form (others go to a flash message)."""
    for name, messages in err.errors.items():
        target = getattr(form, name, None)
        texts = [gettext(t, **p) for t, p in messages]
        if target is None:
            for text in texts:
                flash(text, "error")
        else:
            target.errors = [*list(target.errors or []), *texts]


def association_choices(juridiction_ids: frozenset[int] | None) -> list[tuple[int, str]]:
    """List the associations a file may refer to (of the user's courts)."""
    orgs = users.associations(db_session(), juridiction_ids)
    return [(0, gettext("— aucune —")), *((o.id, o.name) for o in orgs)]


def navette_form(kind: NavetteKind, juridiction_ids: frozenset[int] | None) -> Any:
    """Build the form of a navette kind (an attribution lists these courts' associations)."""
    form = FORMS[kind]()
    if isinstance(form, AttributionForm):
        form.association_id.choices = association_choices(juridiction_ids)
    return form


class ExportDownloadForm(FlaskForm):
    """E-08: the password again before a nominative export leaves the platform."""

    password = PasswordField(
        _l("Votre mot de passe (requis pour télécharger l'export)"),
        validators=[DataRequired(), Length(max=256)],
    )


class RetentionForm(FlaskForm):
    """R-16b: legal hold and the positions' retention of one file."""

    legal_hold = BooleanField(
        _l("Conservation judiciaire (procédure pénale) : suspendre la destruction")
    )
    positions_days = SelectField(_l("Durée de conservation des positions"), choices=[], default="")


def retention_form(file: BeneficiaryFile, periods: RetentionSettings) -> RetentionForm:
    """Build a file's retention form: its current choices, the periods the settings allow."""
    form = RetentionForm(
        legal_hold=file.legal_hold, positions_days=str(file.positions_retention_days or "")
    )
    form.positions_days.choices = [
        ("", gettext("%(n)s jours (durée normale)", n=periods.positions_days))
    ] + [
        (str(d), gettext("%(n)s jours", n=d))
        for d in range(periods.positions_days + 1, periods.positions_max_days + 1)
    ]
    return form
