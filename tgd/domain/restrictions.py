"""Call restrictions of a line (Annexe 2 I.1): the allow-list and what the gateway decides.

At the parquet's request a line's voice calls and SMS can be limited to a list
of numbers. Pure rules here: numbers are normalised to E.164 with
``phonenumbers``; a line with no restriction in force may call anyone; emergency
numbers (15, 17, 18, 112…) and the centre's own numbers are never refused,
whatever the list says; any other number must be on the list for that channel.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

from tgd.domain.errors import N_, ValidationError

# Short numbers a terminal may always reach: SAMU, police, pompiers, 112, deaf and
# hard-of-hearing (114), SAMU social, children in danger, violences femmes info, victims.
EMERGENCY_NUMBERS = frozenset({"15", "17", "18", "112", "114", "115", "119", "3919", "116006"})
MAX_NUMBERS = 50  # per channel: a restriction is a short list, not a phone book


class Channel(enum.StrEnum):
    """How the terminal tries to reach a number."""

    VOICE = "voix"
    SMS = "sms"

    @property
    def label(self) -> str:
        """Return the French label shown to users."""
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {Channel.VOICE: N_("appel"), Channel.SMS: N_("SMS")}


class Decision(enum.StrEnum):
    """What the gateway does with a terminal's call or SMS to another number."""

    UNRESTRICTED = "sans_restriction"  # no list in force: put through
    LISTED = "autorise"  # on the list for this channel: put through
    EMERGENCY = "urgence"  # emergency or centre number: always put through
    REFUSED = "refuse"  # outside the list: not put through, non-compliant use

    @property
    def is_allowed(self) -> bool:
        """Tell whether the call or SMS is put through."""
        return self is not Decision.REFUSED


@dataclass(frozen=True)
class AllowList:
    """The numbers a restricted line may reach, per channel (E.164)."""

    voice: frozenset[str] = frozenset()
    sms: frozenset[str] = frozenset()

    def numbers(self, channel: Channel) -> frozenset[str]:
        """Return the numbers allowed on a channel."""
        return self.voice if channel is Channel.VOICE else self.sms

    def as_json(self) -> dict[str, list[str]]:
        """Return the list as a JSON document (what is encrypted at rest)."""
        return {"voix": sorted(self.voice), "sms": sorted(self.sms)}

    @classmethod
    def from_json(cls, data: dict[str, list[str]]) -> AllowList:
        """Read a list written by ``as_json``."""
        return cls(voice=frozenset(data.get("voix", ())), sms=frozenset(data.get("sms", ())))


def is_emergency(number: str | None) -> bool:
    """Tell whether a number is a short emergency number (never refused)."""
    return bool(number) and str(number).lstrip("+") in EMERGENCY_NUMBERS


def normalise_allowed(raw: str, region: str = "FR") -> str:
    """Return an allow-list number in E.164, or raise a French ``ValidationError``."""
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(N_("Le numéro « %(raw)s » n'est pas lisible."), raw=text) from None
    if not phonenumbers.is_possible_number(number):  # as every number of the platform
        raise ValidationError(N_("Le numéro « %(raw)s » n'est pas un numéro valide."), raw=text)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_numbers(lines: Iterable[str], channel: Channel) -> frozenset[str]:
    """Normalise the numbers typed for a channel (one per line, blanks ignored)."""
    numbers = frozenset(normalise_allowed(line) for line in lines if line.strip())
    if len(numbers) > MAX_NUMBERS:
        raise ValidationError(
            N_("Pas plus de %(n)s numéros autorisés par canal (%(channel)s)."),
            n=MAX_NUMBERS,
            channel=channel.value,
        )
    return numbers


def decide(
    allow_list: AllowList | None,
    number: str | None,
    channel: Channel,
    *,
    centre_numbers: Iterable[str] = (),
) -> Decision:
    """Decide whether a terminal may reach ``number`` on ``channel`` (Annexe 2 I.1)."""
    if is_emergency(number) or (number is not None and number in set(centre_numbers)):
        return Decision.EMERGENCY
    if allow_list is None:
        return Decision.UNRESTRICTED
    if number is not None and number in allow_list.numbers(channel):
        return Decision.LISTED
    return Decision.REFUSED
