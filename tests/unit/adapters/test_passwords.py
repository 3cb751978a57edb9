"""The argon2id password hasher (R-50): its two profiles, checks, rehash, timing equaliser."""

from __future__ import annotations

import argon2
import pytest
from argon2.profiles import RFC_9106_LOW_MEMORY

from tgd.adapters.passwords import build_password_hasher

PASSWORD = "correct horse battery staple"


def test_the_standard_profile_is_rfc_9106_low_memory() -> None:
    hasher = build_password_hasher("standard")
    assert hasher.profile == "standard"
    assert argon2.extract_parameters(hasher.hash(PASSWORD)) == RFC_9106_LOW_MEMORY


def test_the_fast_profile_is_cheap_and_for_tests_only() -> None:
    hasher = build_password_hasher("fast")
    params = argon2.extract_parameters(hasher.hash(PASSWORD))
    assert hasher.profile == "fast"
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 1024, 1)
    assert params.type is argon2.Type.ID


def test_verify_accepts_the_password_only_and_never_raises() -> None:
    hasher = build_password_hasher("fast")
    stored = hasher.hash(PASSWORD)
    assert hasher.verify(stored, PASSWORD)
    assert not hasher.verify(stored, PASSWORD + "!")
    assert not hasher.verify("not an argon2 hash", PASSWORD)


def test_a_hash_of_another_cost_needs_rehash() -> None:
    fast, standard = build_password_hasher("fast"), build_password_hasher("standard")
    cheap = fast.hash(PASSWORD)
    assert not fast.needs_rehash(cheap)
    assert standard.needs_rehash(cheap)
    assert standard.verify(cheap, PASSWORD)  # still accepted: the login re-hashes it


def test_dummy_verify_checks_against_one_hash_of_its_own_cost() -> None:
    hasher = build_password_hasher("fast")
    hasher.dummy_verify(PASSWORD)
    first = hasher._dummy_hash
    hasher.dummy_verify("anything else")
    assert first is not None and hasher._dummy_hash is first
    assert argon2.extract_parameters(first) == argon2.extract_parameters(hasher.hash(PASSWORD))


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="profile"):
        build_password_hasher("quick")
