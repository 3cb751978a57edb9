"""Delivery notes and their identifiers: IMEI (Luhn), ICCID (E.118), line-numbered errors."""

from __future__ import annotations

from datetime import date

import pytest

from tgd.domain.errors import ValidationError
from tgd.domain.inventory import (
    DeliveryRejected,
    check_iccid,
    check_imei,
    is_luhn_valid,
    luhn_check_digit,
    parse_delivery_note,
)

HEADER = "imei,iccid,msisdn,model,warranty_end"


def imei(n: int) -> str:
    body = f"35693803{n:06d}"
    return body + str(luhn_check_digit(body))


def wrong(number: str) -> str:
    """Return the number with a wrong check digit."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def test_luhn_check_digit_of_a_known_imei() -> None:
    assert luhn_check_digit("49015420323751") == 8  # the IMEI example of 3GPP TS 23.003
    assert is_luhn_valid("490154203237518") and not is_luhn_valid("490154203237517")


def test_an_imei_has_fifteen_digits_and_its_check_digit() -> None:
    assert check_imei(" 490154203237518 ") == "490154203237518"
    with pytest.raises(ValidationError, match="devrait être 8"):
        check_imei("490154203237519")
    with pytest.raises(ValidationError, match="15 chiffres"):
        check_imei("4901542032375")


def test_an_iccid_starts_with_89_and_a_twenty_digit_one_is_luhn_checked() -> None:
    body = "8933150319001234567"
    full = body + str(luhn_check_digit(body))
    assert check_iccid(full) == full
    assert check_iccid(body) == body  # 19 digits: may be delivered without its check digit
    with pytest.raises(ValidationError, match="chiffre de contrôle"):
        check_iccid(wrong(full))
    with pytest.raises(ValidationError, match="commencer par 89"):
        check_iccid("1233150319001234567")
    with pytest.raises(ValidationError, match="19 ou 20 chiffres"):
        check_iccid("89331503190012")


def test_a_valid_note_gives_its_rows_with_their_line_numbers() -> None:
    text = (
        f"{HEADER}\n"
        f"{imei(1)},8933150319001234567,06 12 99 90 01,Modèle A,2028-06-30\n"
        "\n"
        f"{imei(2)},,,Modèle A,2028-06-30\n"
    )
    rows = parse_delivery_note(text)
    assert [(r.line, r.msisdn, r.iccid) for r in rows] == [
        (2, "+33612999001", "8933150319001234567"),
        (4, None, None),  # a spare handset; the blank line 3 still counts
    ]
    assert rows[0].warranty_end == date(2028, 6, 30)


def test_a_spreadsheet_export_with_semicolons_is_read() -> None:
    text = f"{HEADER.replace(',', ';')}\n{imei(1)};8933150319001234567;+33612999001;A;2028-06-30\n"
    assert parse_delivery_note(text)[0].imei == imei(1)


def test_every_bad_row_is_named_by_its_line_number() -> None:
    text = (
        f"{HEADER}\n"
        f"{imei(1)},8933150319001234567,+33612999001,A,2028-06-30\n"
        f"{wrong(imei(2))},8933150319001234568,+33612999002,A,2028-06-30\n"
        f"{imei(3)},8933150319001234569,+33612999003,A,30/06/2028\n"
        f"{imei(1)},8933150319001234570,+33612999001,A,2028-06-30\n"
        f"{imei(5)},,+33612999005,A,2028-06-30\n"
        f"{imei(6)},8933150319001234571\n"
    )
    with pytest.raises(DeliveryRejected) as rejected:
        parse_delivery_note(text)
    found = [(e.line, e.message) for e in rejected.value.errors]
    assert (
        3,
        f"L'IMEI {wrong(imei(2))} est faux : son dernier chiffre devrait être "
        f"{imei(2)[-1]} (chiffre de contrôle de Luhn).",
    ) in found
    assert (4, "La fin de garantie « 30/06/2028 » doit être une date AAAA-MM-JJ.") in found
    assert (5, f"L'IMEI {imei(1)} figure déjà ligne 2.") in found
    assert (5, "Le numéro +33612999001 figure déjà ligne 2.") in found
    assert (6, "Un numéro d'appel sans ICCID : indiquez sa carte SIM.") in found
    assert (7, "5 colonnes attendues, 2 trouvées.") in found
    assert {line for line, _ in found} == {3, 4, 5, 6, 7}


def test_a_wrong_header_or_an_empty_note_is_refused() -> None:
    with pytest.raises(DeliveryRejected) as rejected:
        parse_delivery_note("imei,iccid,numero\n")
    assert rejected.value.errors[0].line == 1
    with pytest.raises(DeliveryRejected, match="1 erreur"):
        parse_delivery_note(f"{HEADER}\n")
