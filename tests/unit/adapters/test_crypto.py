"""Envelope encryption adapter: field binding, tampering, rotation, key file (R-52, E-07)."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tgd.adapters.crypto import (
    CryptoError,
    EnvelopeCipher,
    KeyDestroyed,
    KeyRingError,
    MasterKeyRing,
    WrappedKey,
    field_aad,
)

SECRET = "Mme Dupont, 12 rue des Lilas, 06 12 34 56 78"
AAD = field_aad("beneficiaries", "full_name", 42)


@pytest.fixture
def ring() -> MasterKeyRing:
    return MasterKeyRing.generate()


@pytest.fixture
def cipher(ring: MasterKeyRing) -> EnvelopeCipher:
    return EnvelopeCipher(ring)


@pytest.fixture
def key(cipher: EnvelopeCipher) -> WrappedKey:
    return cipher.new_data_key()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --- round trips ---------------------------------------------------------------------------


def test_bytes_round_trip(cipher: EnvelopeCipher, key: WrappedKey) -> None:
    blob = cipher.encrypt(key, b"\x00\xffdata", aad=AAD)
    assert cipher.decrypt(key, blob, aad=AAD) == b"\x00\xffdata"


def test_text_round_trip_keeps_accents(cipher: EnvelopeCipher, key: WrappedKey) -> None:
    text = "Hélène Lefèvre — 3 allée des Châtaigniers"
    blob = cipher.encrypt_text(key, text, aad=AAD)
    assert blob is not None
    assert text.encode() not in blob
    assert cipher.decrypt_text(key, blob, aad=AAD) == text


def test_empty_text_round_trips_and_is_not_none(cipher: EnvelopeCipher, key: WrappedKey) -> None:
    blob = cipher.encrypt_text(key, "", aad=AAD)
    assert blob is not None
    assert cipher.decrypt_text(key, blob, aad=AAD) == ""


def test_none_stays_none(cipher: EnvelopeCipher, key: WrappedKey) -> None:
    assert cipher.encrypt_text(key, None, aad=AAD) is None
    assert cipher.decrypt_text(key, None, aad=AAD) is None


def test_json_round_trip(cipher: EnvelopeCipher, key: WrappedKey) -> None:
    value = {"nom": "Éloïse", "enfants": [3, 7], "lat": 48.85, "ok": True, "rien": None}
    blob = cipher.encrypt_json(key, value, aad=AAD)
    assert cipher.decrypt_json(key, blob, aad=AAD) == value


def test_json_is_canonical_compact_utf8(cipher: EnvelopeCipher, key: WrappedKey) -> None:
    blob = cipher.encrypt_json(key, {"b": "é", "a": 1}, aad=AAD)
    assert cipher.decrypt(key, blob, aad=AAD) == '{"a":1,"b":"é"}'.encode()


def test_blob_layout_is_version_nonce_ciphertext_tag(
    cipher: EnvelopeCipher, key: WrappedKey
) -> None:
    blob = cipher.encrypt(key, b"abc", aad=AAD)
    assert blob[:1] == b"\x01"
    assert len(blob) == 1 + 12 + 3 + 16


def test_nonce_differs_each_time(cipher: EnvelopeCipher, key: WrappedKey) -> None:
    blobs = [cipher.encrypt(key, b"same", aad=AAD) for _ in range(50)]
    nonces = {blob[1:13] for blob in blobs}
    assert len(nonces) == len(blobs)
    assert len(set(blobs)) == len(blobs)


def test_each_file_gets_its_own_data_key(cipher: EnvelopeCipher) -> None:
    first, second = cipher.new_data_key(), cipher.new_data_key()
    assert first.wrapped != second.wrapped
    blob = cipher.encrypt(first, b"x", aad=AAD)
    with pytest.raises(CryptoError):
        cipher.decrypt(second, blob, aad=AAD)


def test_new_data_key_is_wrapped_under_current_master(ring: MasterKeyRing, key: WrappedKey) -> None:
    assert key.master_key_id == ring.current_id
    assert len(key.wrapped) == 12 + 32 + 16


# --- E-07: a ciphertext is bound to its table, column and row -------------------------------


def test_ciphertext_moved_to_another_row_fails_to_decrypt(
    cipher: EnvelopeCipher, key: WrappedKey
) -> None:
    blob = cipher.encrypt_text(key, SECRET, aad=field_aad("beneficiaries", "full_name", 42))
    with pytest.raises(CryptoError):
        cipher.decrypt_text(key, blob, aad=field_aad("beneficiaries", "full_name", 43))


def test_ciphertext_moved_to_another_column_fails_to_decrypt(
    cipher: EnvelopeCipher, key: WrappedKey
) -> None:
    blob = cipher.encrypt_text(key, SECRET, aad=field_aad("beneficiaries", "full_name", 42))
    with pytest.raises(CryptoError):
        cipher.decrypt_text(key, blob, aad=field_aad("beneficiaries", "address", 42))


def test_ciphertext_moved_to_another_table_fails_to_decrypt(
    cipher: EnvelopeCipher, key: WrappedKey
) -> None:
    blob = cipher.encrypt_text(key, SECRET, aad=field_aad("beneficiaries", "full_name", 42))
    with pytest.raises(CryptoError):
        cipher.decrypt_text(key, blob, aad=field_aad("aggressors", "full_name", 42))


def test_field_aad_names_table_column_and_row() -> None:
    assert field_aad("beneficiaries", "phone", 7) == b"tgd|beneficiaries|phone|7"
    assert field_aad("beneficiaries", "phone", "a1b2") == b"tgd|beneficiaries|phone|a1b2"


@pytest.mark.parametrize(
    ("table", "column"),
    [("bene|ficiaries", "phone"), ("beneficiaries", "ph|one"), ("", "phone"), ("t", "")],
)
def test_field_aad_refuses_names_that_could_collide(table: str, column: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        field_aad(table, column, 1)


@pytest.mark.parametrize("row_id", [None, "", True])
def test_field_aad_refuses_a_row_without_id(row_id: object) -> None:
    with pytest.raises(ValueError, match="row id"):
        field_aad("beneficiaries", "phone", row_id)


# --- tampering and malformed input ---------------------------------------------------------


@pytest.mark.parametrize("position", [1, 12, 13, -1])
def test_tampered_blob_fails_to_decrypt(
    cipher: EnvelopeCipher, key: WrappedKey, position: int
) -> None:
    blob = bytearray(cipher.encrypt(key, SECRET.encode(), aad=AAD))
    blob[position] ^= 0x01
    with pytest.raises(CryptoError, match="authentication"):
        cipher.decrypt(key, bytes(blob), aad=AAD)


def test_truncated_blob_fails_to_decrypt(cipher: EnvelopeCipher, key: WrappedKey) -> None:
    blob = cipher.encrypt(key, SECRET.encode(), aad=AAD)
    with pytest.raises(CryptoError):
        cipher.decrypt(key, blob[:-1], aad=AAD)
    with pytest.raises(CryptoError, match="too short"):
        cipher.decrypt(key, blob[:20], aad=AAD)


@pytest.mark.parametrize("version", [b"\x00", b"\x02", b"\xff"])
def test_wrong_version_byte_fails_to_decrypt(
    cipher: EnvelopeCipher, key: WrappedKey, version: bytes
) -> None:
    blob = cipher.encrypt(key, SECRET.encode(), aad=AAD)
    with pytest.raises(CryptoError, match="version"):
        cipher.decrypt(key, version + blob[1:], aad=AAD)


def test_tampered_wrapped_key_fails_to_unwrap(ring: MasterKeyRing, key: WrappedKey) -> None:
    blob = EnvelopeCipher(ring).encrypt(key, b"x", aad=AAD)
    damaged = bytearray(key.wrapped)
    damaged[-1] ^= 0x01
    # A fresh cipher, so the unwrapped key is not served from the cache.
    with pytest.raises(CryptoError, match="unwrap"):
        EnvelopeCipher(ring).decrypt(replace(key, wrapped=bytes(damaged)), blob, aad=AAD)


def test_wrapped_key_relabelled_to_another_master_fails_to_unwrap() -> None:
    ring = MasterKeyRing.generate().with_new_current()
    old_id = next(i for i in ring.ids if i != ring.current_id)
    cipher = EnvelopeCipher(ring)
    key = cipher.new_data_key()
    blob = cipher.encrypt(key, b"x", aad=AAD)
    with pytest.raises(CryptoError):
        EnvelopeCipher(ring).decrypt(replace(key, master_key_id=old_id), blob, aad=AAD)


def test_data_key_from_a_different_ring_fails(key: WrappedKey, cipher: EnvelopeCipher) -> None:
    blob = cipher.encrypt(key, SECRET.encode(), aad=AAD)
    other = EnvelopeCipher(MasterKeyRing.generate())
    with pytest.raises(CryptoError, match="not in the key ring"):
        other.decrypt(key, blob, aad=AAD)


def test_data_key_from_a_ring_with_same_id_but_other_secret_fails(
    ring: MasterKeyRing, key: WrappedKey, cipher: EnvelopeCipher
) -> None:
    blob = cipher.encrypt(key, SECRET.encode(), aad=AAD)
    impostor = MasterKeyRing({ring.current_id: os.urandom(32)}, ring.current_id)
    with pytest.raises(CryptoError, match="unwrap"):
        EnvelopeCipher(impostor).decrypt(key, blob, aad=AAD)


def test_key_destroyed_is_a_crypto_error() -> None:
    assert issubclass(KeyDestroyed, CryptoError)
    assert issubclass(KeyRingError, CryptoError)


# --- no secrets in error messages ----------------------------------------------------------


def test_crypto_error_messages_contain_no_plaintext_nor_key(
    ring: MasterKeyRing, cipher: EnvelopeCipher, key: WrappedKey
) -> None:
    blob = cipher.encrypt_text(key, SECRET, aad=AAD)
    assert blob is not None
    failures: list[CryptoError] = []
    attempts: list[Callable[[], object]] = [
        lambda: cipher.decrypt_text(key, blob, aad=field_aad("beneficiaries", "full_name", 1)),
        lambda: cipher.decrypt_text(key, blob[:-1] + bytes([blob[-1] ^ 1]), aad=AAD),
        lambda: cipher.decrypt_text(key, b"\x09" + blob[1:], aad=AAD),
        lambda: EnvelopeCipher(MasterKeyRing.generate()).decrypt_text(key, blob, aad=AAD),
    ]
    for attempt in attempts:
        with pytest.raises(CryptoError) as caught:
            attempt()
        failures.append(caught.value)
    master = ring.key_bytes(ring.current_id)
    for error in failures:
        text = str(error) + repr(error)
        assert SECRET not in text
        assert "Dupont" not in text
        assert _b64(master) not in text
        assert master.hex() not in text
        assert error.__cause__ is None


def test_non_json_plaintext_error_does_not_chain_the_plaintext(
    cipher: EnvelopeCipher, key: WrappedKey
) -> None:
    blob = cipher.encrypt(key, SECRET.encode(), aad=AAD)
    with pytest.raises(CryptoError, match="JSON") as caught:
        cipher.decrypt_json(key, blob, aad=AAD)
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_ring_repr_shows_ids_not_keys(ring: MasterKeyRing) -> None:
    text = repr(ring)
    assert ring.current_id in text
    assert _b64(ring.key_bytes(ring.current_id)) not in text


# --- rotation ------------------------------------------------------------------------------


def test_rotation_with_rewrap_keeps_old_data_readable(ring: MasterKeyRing) -> None:
    old_id = ring.current_id
    before = EnvelopeCipher(ring)
    key = before.new_data_key()
    blob = before.encrypt_text(key, SECRET, aad=AAD)

    rotating = ring.with_new_current()
    assert rotating.current_id != old_id
    assert set(rotating.ids) == {old_id, rotating.current_id}
    rewrapped = EnvelopeCipher(rotating).rewrap(key)
    assert rewrapped.master_key_id == rotating.current_id
    assert rewrapped.wrapped != key.wrapped

    after = EnvelopeCipher(rotating.without(old_id))
    # The data blob is untouched: only the wrapped key changed.
    assert after.decrypt_text(rewrapped, blob, aad=AAD) == SECRET


def test_rotation_without_rewrap_makes_old_data_unreadable(ring: MasterKeyRing) -> None:
    old_id = ring.current_id
    before = EnvelopeCipher(ring)
    key = before.new_data_key()
    blob = before.encrypt_text(key, SECRET, aad=AAD)

    after = EnvelopeCipher(ring.with_new_current().without(old_id))
    with pytest.raises(CryptoError, match="not in the key ring"):
        after.decrypt_text(key, blob, aad=AAD)
    with pytest.raises(CryptoError, match="not in the key ring"):
        after.rewrap(key)


def test_during_rotation_both_masters_decrypt(ring: MasterKeyRing) -> None:
    old_key = EnvelopeCipher(ring).new_data_key()
    rotating = EnvelopeCipher(ring.with_new_current())
    new_key = rotating.new_data_key()
    assert new_key.master_key_id == rotating.ring.current_id
    for key in (old_key, new_key):
        blob = rotating.encrypt(key, b"x", aad=AAD)
        assert rotating.decrypt(key, blob, aad=AAD) == b"x"


def test_rewrap_of_a_key_already_under_current_master_is_a_no_op(
    cipher: EnvelopeCipher, key: WrappedKey
) -> None:
    assert cipher.rewrap(key) == key


def test_cannot_drop_the_current_master_key(ring: MasterKeyRing) -> None:
    with pytest.raises(KeyRingError, match="current"):
        ring.without(ring.current_id)


def test_cannot_drop_an_unknown_master_key(ring: MasterKeyRing) -> None:
    with pytest.raises(KeyRingError, match="not in the key ring"):
        ring.without("mk-19990101-00000000")


def test_generated_key_id_has_date_and_random_suffix(ring: MasterKeyRing) -> None:
    prefix, day, suffix = ring.current_id.split("-")
    assert prefix == "mk"
    assert len(day) == 8
    assert day.isdigit()
    assert len(suffix) == 8
    int(suffix, 16)


# --- ring validation -----------------------------------------------------------------------


def test_ring_refuses_a_key_of_wrong_length() -> None:
    with pytest.raises(KeyRingError, match="16 bytes, expected 32"):
        MasterKeyRing({"mk-a": os.urandom(16)}, "mk-a")


def test_ring_refuses_a_current_id_not_in_keys() -> None:
    with pytest.raises(KeyRingError, match="not in the key ring"):
        MasterKeyRing({"mk-a": os.urandom(32)}, "mk-b")


def test_ring_refuses_no_keys() -> None:
    with pytest.raises(KeyRingError, match="empty"):
        MasterKeyRing({}, "mk-a")


def test_ring_refuses_a_key_id_with_whitespace() -> None:
    with pytest.raises(KeyRingError, match="invalid master key id"):
        MasterKeyRing({"mk a": os.urandom(32)}, "mk a")


# --- key file ------------------------------------------------------------------------------


def test_key_file_save_load_round_trip(tmp_path: Path, ring: MasterKeyRing) -> None:
    rotated = ring.with_new_current()
    path = tmp_path / "master.keys"
    rotated.save(path)
    loaded = MasterKeyRing.load(path)
    assert loaded.current_id == rotated.current_id
    assert set(loaded.ids) == set(rotated.ids)
    for key_id in rotated.ids:
        assert loaded.key_bytes(key_id) == rotated.key_bytes(key_id)
    # And a data key wrapped before saving still unwraps after loading.
    key = EnvelopeCipher(rotated).new_data_key()
    blob = EnvelopeCipher(rotated).encrypt(key, b"x", aad=AAD)
    assert EnvelopeCipher(loaded).decrypt(key, blob, aad=AAD) == b"x"


def test_key_file_is_written_with_mode_0600(tmp_path: Path, ring: MasterKeyRing) -> None:
    path = tmp_path / "master.keys"
    old_umask = os.umask(0o022)
    try:
        ring.save(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_file_save_replaces_atomically_and_leaves_no_temp_file(
    tmp_path: Path, ring: MasterKeyRing
) -> None:
    path = tmp_path / "master.keys"
    path.write_text("old content\n")
    path.chmod(0o644)
    rotated = ring.with_new_current()
    rotated.save(path)
    assert MasterKeyRing.load(path).current_id == rotated.current_id
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["master.keys"]


def test_key_file_text_marks_current_and_ignores_comments(ring: MasterKeyRing) -> None:
    old_id = ring.current_id
    rotated = ring.with_new_current()
    text = rotated.to_text()
    assert f"* {rotated.current_id} " in text
    assert f"  {old_id} " in text
    assert text.startswith("#")
    reparsed = MasterKeyRing.from_text("\n# a comment\n\n" + text + "\n   \n")
    assert reparsed.current_id == rotated.current_id


def test_key_file_example_format_parses() -> None:
    current, old = os.urandom(32), os.urandom(32)
    text = (
        "# TGD master keys: keep this file secret, out of git, mode 600\n"
        f"* mk-20261123-1a2b3c4d {_b64(current)}\n"
        f"  mk-20250101-99aa88bb {_b64(old)}\n"
    )
    ring = MasterKeyRing.from_text(text)
    assert ring.current_id == "mk-20261123-1a2b3c4d"
    assert ring.ids == ("mk-20261123-1a2b3c4d", "mk-20250101-99aa88bb")
    assert ring.key_bytes("mk-20250101-99aa88bb") == old


def test_missing_key_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.keys"
    with pytest.raises(KeyRingError, match="not found") as caught:
        MasterKeyRing.load(path)
    assert str(path) in str(caught.value)


def test_key_file_that_is_a_directory_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="directory"):
        MasterKeyRing.load(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_key_file_gives_a_clear_error(tmp_path: Path, ring: MasterKeyRing) -> None:
    path = tmp_path / "master.keys"
    ring.save(path)
    path.chmod(0o000)
    with pytest.raises(KeyRingError, match="permission denied"):
        MasterKeyRing.load(path)


def test_key_file_refused_by_the_os_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Same rule as above, for runs as root (which reads any file).
    def refuse(self: Path, encoding: str | None = None) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", refuse)
    with pytest.raises(KeyRingError, match="permission denied"):
        MasterKeyRing.load(tmp_path / "master.keys")


def test_key_file_with_bad_base64_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    path.write_text("* mk-20261123-1a2b3c4d not*base64!!\n")
    with pytest.raises(KeyRingError, match=r"line 1: .*not valid base64") as caught:
        MasterKeyRing.load(path)
    assert str(path) in str(caught.value)
    assert "not*base64" not in str(caught.value)


def test_key_file_with_wrong_key_length_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    short = _b64(os.urandom(16))
    path.write_text(f"* mk-20261123-1a2b3c4d {short}\n")
    with pytest.raises(KeyRingError, match=r"line 1: .*16 bytes, expected 32") as caught:
        MasterKeyRing.load(path)
    assert short not in str(caught.value)


def test_key_file_without_current_key_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    path.write_text(f"mk-20261123-1a2b3c4d {_b64(os.urandom(32))}\n")
    with pytest.raises(KeyRingError, match="no current master key"):
        MasterKeyRing.load(path)


def test_key_file_with_two_current_keys_gives_a_clear_error() -> None:
    text = f"* mk-a {_b64(os.urandom(32))}\n* mk-b {_b64(os.urandom(32))}\n"
    with pytest.raises(KeyRingError, match="more than one current key"):
        MasterKeyRing.from_text(text)


def test_key_file_with_duplicate_ids_gives_a_clear_error() -> None:
    text = f"* mk-a {_b64(os.urandom(32))}\n  mk-a {_b64(os.urandom(32))}\n"
    with pytest.raises(KeyRingError, match="line 2: duplicate"):
        MasterKeyRing.from_text(text)


def test_empty_key_file_gives_a_clear_error() -> None:
    with pytest.raises(KeyRingError, match="no master key"):
        MasterKeyRing.from_text("# only a comment\n\n")


def test_key_file_line_with_missing_field_does_not_echo_the_line() -> None:
    lone = _b64(os.urandom(32))
    with pytest.raises(KeyRingError, match="line 1: expected") as caught:
        MasterKeyRing.from_text(f"* {lone}\n")
    assert lone not in str(caught.value)


# --- cache ---------------------------------------------------------------------------------


def test_cache_stays_bounded(cipher: EnvelopeCipher) -> None:
    keys = [cipher.new_data_key() for _ in range(1100)]
    first_blob = cipher.encrypt(keys[0], b"x", aad=AAD)
    assert len(cipher._cache) <= 1024
    # An evicted key is unwrapped again from its wrapped form.
    assert cipher.decrypt(keys[0], first_blob, aad=AAD) == b"x"


def test_forget_drops_a_destroyed_file_key_from_memory(
    cipher: EnvelopeCipher, key: WrappedKey
) -> None:
    cipher.encrypt(key, b"x", aad=AAD)
    assert (key.master_key_id, key.wrapped) in cipher._cache
    cipher.forget(key)
    assert (key.master_key_id, key.wrapped) not in cipher._cache
