"""Password hashing with argon2id (R-50): the production cost, and the test suite's.

``standard`` is RFC 9106's low-memory profile (argon2-cffi's default: 64 MiB,
3 passes, 4 lanes); ``fast`` (1 MiB, 1 pass) only spares the test suite minutes of
hashing, and the settings refuse it in production. The composition root
(``tgd/container.py``) builds one hasher per process from
``settings.security.password_hashing``; services see it as ``tgd.ports.PasswordHasher``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

PROFILES: Mapping[str, argon2.Parameters] = {
    "standard": RFC_9106_LOW_MEMORY,
    "fast": dataclasses.replace(RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=1024, parallelism=1),
}
# Hashed once per hasher, at its cost: checking a password against it costs a real check.
_EQUALISER = "tgd-timing-equaliser-not-a-password"


class Argon2PasswordHasher:
    """argon2id at the cost of one profile (``PROFILES``)."""

    def __init__(self, profile: str = "standard") -> None:
        if profile not in PROFILES:
            raise ValueError(f"unknown password hashing profile {profile!r}")
        self.profile = profile
        self._argon2 = argon2.PasswordHasher.from_parameters(PROFILES[profile])
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        """Hash a password at this profile's cost."""
        return self._argon2.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        """Check a password against a hash, in constant time; a malformed hash never matches."""
        try:
            return self._argon2.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Tell whether a hash was made with other parameters than this profile's."""
        return self._argon2.check_needs_rehash(password_hash)

    def dummy_verify(self, password: str) -> None:
        """Spend what checking a password costs, with no account to check it against."""
        if self._dummy_hash is None:  # made on first need: most processes never need it
            self._dummy_hash = self.hash(_EQUALISER)
        self.verify(self._dummy_hash, password)


def build_password_hasher(profile: str) -> Argon2PasswordHasher:
    """The configured password hasher (``settings.security.password_hashing``)."""
    return Argon2PasswordHasher(profile)
