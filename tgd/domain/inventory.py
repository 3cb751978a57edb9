"""The supplier's delivery note and the identifiers on it: IMEI, ICCID, call number (DESIGN §10).

A delivery note is a CSV file with the header ``imei,iccid,msisdn,model,
warranty_end``: one handset per row, with the SIM it was delivered with and
that SIM's number, the model and the last day of its warranty (ISO date). A
row with neither ICCID nor number is a spare handset (for swaps, R-18).

``parse_delivery_note`` checks the whole file before anything is written and
gathers every problem with its line number (the header is line 1, so the
first terminal is "ligne 2"); the service adds the duplicates against the
database and imports all rows or none.

Identifiers:
- IMEI: 15 digits whose last one is the Luhn check digit of the first 14
  (3GPP TS 23.003, §6.2.1).
- ICCID (ITU-T E.118): "89" (telecommunications) then the country code, the
  issuer and the card number, at most 19 digits, followed by a Luhn check
  digit. Cards in use have 19 (18 + check digit) or 20 (19 + check digit)
  digits, and SIM factories deliver their files with or without the check
  digit, so a 20-digit ICCID is Luhn-checked and a 19-digit one, which may be a
  19-digit number whose check digit was left out, cannot be and is not.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tgd.domain.beneficiary import normalise_phone
from tgd.domain.errors import N_, DomainError, ValidationError

HEADER = ("imei", "iccid", "msisdn", "model", "warranty_end")
IMEI_LENGTH = 15
ICCID_PREFIX = "89"  # E.118: major industry identifier of telecommunications
MODEL_MAX = 80
MAX_ROWS = 10_000  # a delivery note larger than this is a mistake, not a delivery
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def luhn_check_digit(body: str) -> int:
    """Return the Luhn check digit to append to a string of digits."""
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char)
        if i % 2 == 0:  # every second digit from the right, starting with the last one
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_luhn_valid(number: str) -> bool:
    """Tell whether a string of digits ends with its correct Luhn check digit."""
    return len(number) > 1 and number.isdigit() and luhn_check_digit(number[:-1]) == int(number[-1])


def check_imei(value: str) -> str:
    """Return a valid IMEI (15 digits, Luhn check digit), or raise a French message."""
    imei = value.strip().replace(" ", "")
    if not (imei.isdigit() and len(imei) == IMEI_LENGTH):
        raise ValidationError(N_("L'IMEI « %(v)s » doit compter exactement 15 chiffres."), v=value)
    if not is_luhn_valid(imei):
        raise ValidationError(
            N_(
                "L'IMEI %(v)s est faux : son dernier chiffre devrait être %(d)s "
                "(chiffre de contrôle de Luhn)."
            ),
            v=imei,
            d=luhn_check_digit(imei[:-1]),
        )
    return imei


def check_iccid(value: str) -> str:
    """Return a valid ICCID (E.118: 19 or 20 digits starting with 89), or raise."""
    iccid = value.strip().replace(" ", "")
    if not (iccid.isdigit() and len(iccid) in (19, 20) and iccid.startswith(ICCID_PREFIX)):
        raise ValidationError(
            N_("L'ICCID « %(v)s » doit compter 19 ou 20 chiffres et commencer par 89."), v=value
        )
    if len(iccid) == 20 and not is_luhn_valid(iccid):
        raise ValidationError(
            N_(
                "L'ICCID %(v)s est faux : son dernier chiffre devrait être %(d)s "
                "(chiffre de contrôle de Luhn)."
            ),
            v=iccid,
            d=luhn_check_digit(iccid[:-1]),
        )
    return iccid


@dataclass(frozen=True)
class RowError:
    """One problem of a delivery note, on its line (the header is line 1)."""

    line: int
    template: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """Return the French message, without the line number."""
        return self.template % self.params if self.params else self.template


class DeliveryRejected(DomainError):
    """The delivery note has errors: nothing of it is imported."""

    def __init__(self, errors: Iterable[RowError]) -> None:
        self.errors = sorted(errors, key=lambda e: e.line)
        super().__init__(
            N_("Bordereau refusé, rien n'a été importé : %(n)s erreur(s)."), n=len(self.errors)
        )


@dataclass(frozen=True)
class DeliveryRow:
    """One handset of a delivery note, with the SIM it came with (None: a spare handset)."""

    line: int
    imei: str
    iccid: str | None
    msisdn: str | None
    model: str
    warranty_end: date


def decode(raw: bytes) -> str:
    """Decode a delivery note: UTF-8 (with or without BOM), else Windows-1252 (spreadsheets)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _row(line: int, cells: list[str], errors: list[RowError]) -> DeliveryRow | None:
    if len(cells) != len(HEADER):
        errors.append(
            RowError(
                line,
                N_("%(want)s colonnes attendues, %(n)s trouvées."),
                {"want": len(HEADER), "n": len(cells)},
            )
        )
        return None
    raw_imei, raw_iccid, raw_msisdn, raw_model, raw_end = (c.strip() for c in cells)
    found: list[RowError] = []

    def check(fn: Any, value: str) -> Any:
        try:
            return fn(value)
        except ValidationError as exc:
            found.append(RowError(line, exc.template, exc.params))
            return None

    imei = check(check_imei, raw_imei) if raw_imei else None
    if not raw_imei:
        found.append(RowError(line, N_("L'IMEI est obligatoire.")))
    iccid = msisdn = None
    if raw_iccid or raw_msisdn:
        if not raw_iccid:
            found.append(
                RowError(line, N_("Un numéro d'appel sans ICCID : indiquez sa carte SIM."))
            )
        else:
            iccid = check(check_iccid, raw_iccid)
        if not raw_msisdn:
            found.append(RowError(line, N_("Une carte SIM sans numéro d'appel : indiquez-le.")))
        else:
            msisdn = check(normalise_phone, raw_msisdn)
    if not raw_model:
        found.append(RowError(line, N_("Le modèle est obligatoire.")))
    elif len(raw_model) > MODEL_MAX:
        found.append(RowError(line, N_("Le modèle dépasse 80 caractères.")))
    warranty_end = None
    if not _ISO_DATE.fullmatch(raw_end):
        found.append(
            RowError(
                line,
                N_("La fin de garantie « %(v)s » doit être une date AAAA-MM-JJ."),
                {"v": raw_end[:20]},
            )
        )
    else:
        try:
            warranty_end = date.fromisoformat(raw_end)
        except ValueError:
            found.append(
                RowError(line, N_("La fin de garantie %(v)s n'existe pas."), {"v": raw_end})
            )
    errors.extend(found)
    if found or imei is None or warranty_end is None:
        return None
    return DeliveryRow(line, imei, iccid, msisdn, raw_model, warranty_end)


def _duplicates(rows: list[DeliveryRow], errors: list[RowError]) -> None:
    seen: dict[tuple[str, str], int] = {}
    labels = {
        "imei": N_("L'IMEI %(v)s figure déjà ligne %(first)s."),
        "iccid": N_("L'ICCID %(v)s figure déjà ligne %(first)s."),
        "msisdn": N_("Le numéro %(v)s figure déjà ligne %(first)s."),
    }
    for row in rows:
        for name in ("imei", "iccid", "msisdn"):
            value = getattr(row, name)
            if value is None:
                continue
            first = seen.setdefault((name, value), row.line)
            if first != row.line:
                errors.append(RowError(row.line, labels[name], {"v": value, "first": first}))


def parse_delivery_note(text: str) -> list[DeliveryRow]:
    """Read and check a whole delivery note; raise ``DeliveryRejected`` listing every error."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DeliveryRejected([RowError(1, N_("Le fichier est vide."))])
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    if tuple(header) != HEADER:
        raise DeliveryRejected(
            [RowError(1, N_("En-tête attendu : %(h)s."), {"h": ",".join(HEADER)})]
        )
    errors: list[RowError] = []
    rows: list[DeliveryRow] = []
    count = 0
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # blank lines are not terminals
        count += 1
        if count > MAX_ROWS:
            errors.append(RowError(line, N_("Plus de 10 000 terminaux : découpez le bordereau.")))
            break
        row = _row(line, cells, errors)
        if row is not None:
            rows.append(row)
    if count == 0:
        errors.append(RowError(2, N_("Le bordereau ne contient aucun terminal.")))
    _duplicates(rows, errors)
    if errors:
        raise DeliveryRejected(errors)
    return rows
