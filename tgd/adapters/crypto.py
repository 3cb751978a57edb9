"""Envelope encryption of personal data at rest (R-52, E-07).

Every beneficiary file has its own random 256-bit data key; personal fields
of that file are encrypted with AES-GCM-256 under it, with a fresh random
96-bit nonce per value and associated data that binds the ciphertext to its
table, column and row (``field_aad``), so a ciphertext copied to another row
or column fails to decrypt. The data key itself is stored only *wrapped*:
AES-GCM-encrypted under a master key that lives outside the database (a key
file, mode 600, out of git). The point of the envelope is crypto-shredding:
destroying a file deletes its one wrapped data key row, after which every
copy of that file's ciphertexts -- replicas, dumps, backups we can no longer
reach -- is unreadable, without having to find and scrub each copy. The
master keys are held in a ``MasterKeyRing``; several can be active during a
rotation, one is current: new data keys are wrapped under it, and
``EnvelopeCipher.rewrap`` moves an existing data key to it without touching
the data it protects, after which the old master key can be dropped.

Blob formats (all binary, stored as-is):

- wrapped data key: ``nonce(12) || AES-GCM(master, data_key, aad)``, with
  ``aad = b"tgd-data-key|" + master_key_id``;
- field ciphertext: ``b"\\x01" || nonce(12) || AES-GCM(data_key, plaintext, aad)``,
  the leading byte being the format version.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "CryptoError",
    "EnvelopeCipher",
    "KeyDestroyed",
    "KeyFileCipher",
    "KeyRingError",
    "MasterKeyRing",
    "WrappedKey",
    "field_aad",
]

KEY_BYTES = 32  # AES-256 (E-07)
NONCE_BYTES = 12  # 96-bit GCM nonce (E-07)
TAG_BYTES = 16
FORMAT_VERSION = b"\x01"
WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_MIN_BLOB_BYTES = len(FORMAT_VERSION) + NONCE_BYTES + TAG_BYTES
_WRAP_AAD_PREFIX = b"tgd-data-key|"
_CACHE_MAX = 1024
# Key ids appear in the key file and in database rows: keep them to a plain
# token (no whitespace, so the file format stays unambiguous).
_KEY_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# Table and column names must not contain the AAD separator, or two
# different (table, column, row) triples could produce the same AAD.
_AAD_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FILE_HEADER = "# TGD master keys: keep this file secret, out of git, mode 600\n"


class CryptoError(Exception):
    """A value could not be wrapped, unwrapped, encrypted or decrypted.

    Messages never contain key material or plaintext.
    """


class KeyDestroyed(CryptoError):
    """The data key of a file is gone (crypto-shredded): its data is unreadable."""


class KeyRingError(CryptoError):
    """The master key ring or its key file is invalid or unreadable."""


@dataclass(frozen=True)
class WrappedKey:
    """A data key as stored: wrapped under the master key named by its id."""

    master_key_id: str
    wrapped: bytes

    def __repr__(self) -> str:
        # The wrapped bytes are not secret, but keep logs short and dull.
        size = len(self.wrapped)
        return f"WrappedKey(master_key_id={self.master_key_id!r}, wrapped=<{size} bytes>)"


def _check_key_id(key_id: object) -> str:
    if not isinstance(key_id, str) or not _KEY_ID_RE.fullmatch(key_id):
        # Do not echo the value: a misplaced base64 key could end up here.
        raise KeyRingError("invalid master key id (expected letters, digits and . _ : -)")
    return key_id


def _new_key_id(taken: Iterable[str] = ()) -> str:
    existing = set(taken)
    day = datetime.now(UTC).strftime("%Y%m%d")
    while True:
        key_id = f"mk-{day}-{secrets.token_hex(4)}"
        if key_id not in existing:
            return key_id


class MasterKeyRing:
    """Several master keys can be active during rotation; one is current (used to wrap new keys)."""

    __slots__ = ("_current_id", "_keys")

    def __init__(self, keys: Mapping[str, bytes], current_id: str) -> None:
        checked: dict[str, bytes] = {}
        for key_id, key in keys.items():
            _check_key_id(key_id)
            if not isinstance(key, bytes):
                raise KeyRingError(f"master key {key_id!r} is not bytes")
            if len(key) != KEY_BYTES:
                raise KeyRingError(
                    f"master key {key_id!r} is {len(key)} bytes, expected {KEY_BYTES} (AES-256)"
                )
            checked[key_id] = key
        if not checked:
            raise KeyRingError("master key ring is empty")
        if current_id not in checked:
            raise KeyRingError(f"current master key {current_id!r} is not in the key ring")
        self._keys: Mapping[str, bytes] = MappingProxyType(checked)
        self._current_id = current_id

    @classmethod
    def generate(cls) -> MasterKeyRing:
        """Create a ring holding one fresh random master key, current."""
        key_id = _new_key_id()
        return cls({key_id: os.urandom(KEY_BYTES)}, key_id)

    @classmethod
    def from_text(cls, text: str) -> MasterKeyRing:
        """Parse the key-file format: ``[* ]<key_id> <base64 key>`` per line."""
        keys: dict[str, bytes] = {}
        current_id: str | None = None
        current_line = 0
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            is_current = line.startswith("*")
            if is_current:
                line = line[1:].strip()
            fields = line.split()
            if len(fields) != 2:
                # Never echo the line: it may hold a key.
                raise KeyRingError(f"line {number}: expected '[* ]<key_id> <base64 key>'")
            key_id, encoded = fields
            try:
                _check_key_id(key_id)
            except KeyRingError as exc:
                raise KeyRingError(f"line {number}: {exc}") from None
            if key_id in keys:
                raise KeyRingError(f"line {number}: duplicate master key id {key_id!r}")
            try:
                key = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise KeyRingError(f"line {number}: key {key_id!r} is not valid base64") from None
            if len(key) != KEY_BYTES:
                raise KeyRingError(
                    f"line {number}: key {key_id!r} is {len(key)} bytes, "
                    f"expected {KEY_BYTES} (AES-256)"
                )
            if is_current:
                if current_id is not None:
                    raise KeyRingError(
                        f"line {number}: more than one current key (also line {current_line})"
                    )
                current_id, current_line = key_id, number
            keys[key_id] = key
        if not keys:
            raise KeyRingError("no master key found")
        if current_id is None:
            raise KeyRingError("no current master key (prefix its line with '* ')")
        return cls(keys, current_id)

    @classmethod
    def load(cls, path: Path) -> MasterKeyRing:
        """Read a key file, saying clearly what is wrong when it cannot be used."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise KeyRingError(f"master key file not found: {path}") from None
        except PermissionError:
            msg = f"master key file not readable (permission denied): {path}"
            raise KeyRingError(msg) from None
        except IsADirectoryError:
            raise KeyRingError(f"master key file is a directory: {path}") from None
        except UnicodeDecodeError:
            raise KeyRingError(f"master key file is not UTF-8 text: {path}") from None
        except OSError as exc:
            raise KeyRingError(f"cannot read master key file {path}: {exc.strerror}") from None
        try:
            return cls.from_text(text)
        except KeyRingError as exc:
            raise KeyRingError(f"bad master key file {path}: {exc}") from None

    def to_text(self) -> str:
        """Render the ring in the key-file format, current key first."""
        lines = [_FILE_HEADER]
        for key_id in (self._current_id, *(k for k in self._keys if k != self._current_id)):
            marker = "* " if key_id == self._current_id else "  "
            encoded = base64.b64encode(self._keys[key_id]).decode("ascii")
            lines.append(f"{marker}{key_id} {encoded}\n")
        return "".join(lines)

    def save(self, path: Path) -> None:
        """Write the key file atomically (temporary file then rename), mode 600."""
        directory = path.parent
        try:
            # mkstemp creates the file with mode 0600 whatever the umask, so
            # the keys are never readable by others, even for an instant.
            fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as exc:
            raise KeyRingError(f"cannot write master key file {path}: {exc.strerror}") from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.to_text())
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise KeyRingError(f"cannot write master key file {path}: {exc.strerror}") from None
        _fsync_directory(directory)

    def with_new_current(self) -> MasterKeyRing:
        """Return a ring with a fresh master key added and made current (rotation, first step)."""
        key_id = _new_key_id(self.ids)
        return MasterKeyRing({**self._keys, key_id: os.urandom(KEY_BYTES)}, key_id)

    def without(self, key_id: str) -> MasterKeyRing:
        """Return a ring without an old master key (rotation, last step)."""
        if key_id == self._current_id:
            raise KeyRingError(f"refusing to drop the current master key {key_id!r}")
        if key_id not in self._keys:
            raise KeyRingError(f"master key {key_id!r} is not in the key ring")
        return MasterKeyRing({k: v for k, v in self._keys.items() if k != key_id}, self._current_id)

    def key_bytes(self, key_id: str) -> bytes:
        """Return the secret bytes of one master key."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise CryptoError(f"master key {key_id!r} is not in the key ring") from None

    @property
    def current_id(self) -> str:
        """Id of the master key that wraps new data keys."""
        return self._current_id

    @property
    def ids(self) -> tuple[str, ...]:
        """Ids of every master key in the ring."""
        return tuple(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __repr__(self) -> str:
        return f"MasterKeyRing(ids={self.ids!r}, current_id={self._current_id!r})"


def _fsync_directory(directory: Path) -> None:
    # Make the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _wrap_aad(master_key_id: str) -> bytes:
    return _WRAP_AAD_PREFIX + master_key_id.encode("utf-8")


class EnvelopeCipher:
    """Encrypt and decrypt field values under per-file data keys wrapped by a master key ring."""

    def __init__(self, ring: MasterKeyRing) -> None:
        self._ring = ring
        # Unwrapped data keys, most recently used last. Bounded so that a
        # long-running process does not keep every file's key in memory.
        self._cache: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def ring(self) -> MasterKeyRing:
        """The master key ring this cipher uses."""
        return self._ring

    def new_data_key(self) -> WrappedKey:
        """Create a random 256-bit data key wrapped under the current master key."""
        return self._wrap(AESGCM.generate_key(bit_length=KEY_BYTES * 8))

    def rewrap(self, key: WrappedKey) -> WrappedKey:
        """Wrap a data key under the current master key; the data it protects is untouched."""
        data_key = self._unwrap(key)  # also proves the stored key is intact
        if key.master_key_id == self._ring.current_id:
            return key
        return self._wrap(data_key)

    def forget(self, key: WrappedKey) -> None:
        """Drop a data key from the in-memory cache (call when its file is destroyed, R-52)."""
        with self._lock:
            self._cache.pop((key.master_key_id, bytes(key.wrapped)), None)

    def encrypt(self, key: WrappedKey, plaintext: bytes, *, aad: bytes) -> bytes:
        """Encrypt bytes under a data key: version byte, random nonce, ciphertext and tag."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._unwrap(key)).encrypt(nonce, bytes(plaintext), bytes(aad))
        return FORMAT_VERSION + nonce + sealed

    def decrypt(self, key: WrappedKey, blob: bytes, *, aad: bytes) -> bytes:
        """Decrypt a blob made by ``encrypt``; fail on any mismatch or tampering."""
        blob = bytes(blob)
        if len(blob) < _MIN_BLOB_BYTES:
            raise CryptoError("ciphertext is too short")
        if blob[:1] != FORMAT_VERSION:
            raise CryptoError(f"unknown ciphertext format version {blob[0]}")
        nonce = blob[1 : 1 + NONCE_BYTES]
        data_key = self._unwrap(key)
        try:
            return AESGCM(data_key).decrypt(nonce, blob[1 + NONCE_BYTES :], bytes(aad))
        except InvalidTag:
            raise CryptoError(
                "ciphertext failed authentication "
                "(wrong data key, wrong table/column/row, or tampered)"
            ) from None

    def encrypt_text(self, key: WrappedKey, text: str | None, *, aad: bytes) -> bytes | None:
        """Encrypt a UTF-8 string; None stays None."""
        if text is None:
            return None
        return self.encrypt(key, text.encode("utf-8"), aad=aad)

    def decrypt_text(self, key: WrappedKey, blob: bytes | None, *, aad: bytes) -> str | None:
        """Decrypt a string made by ``encrypt_text``; None stays None."""
        if blob is None:
            return None
        plaintext = self.decrypt(key, blob, aad=aad)
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            # "from None": the original exception carries the plaintext bytes.
            raise CryptoError("decrypted value is not UTF-8 text") from None

    def encrypt_json(self, key: WrappedKey, value: Any, *, aad: bytes) -> bytes:
        """Encrypt a JSON-serialisable value (canonical, compact UTF-8 JSON)."""
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return self.encrypt(key, text.encode("utf-8"), aad=aad)

    def decrypt_json(self, key: WrappedKey, blob: bytes, *, aad: bytes) -> Any:
        """Decrypt a value made by ``encrypt_json``."""
        plaintext = self.decrypt(key, blob, aad=aad)
        try:
            return json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            # "from None": the original exception carries the plaintext.
            raise CryptoError("decrypted value is not valid JSON") from None

    def _wrap(self, data_key: bytes) -> WrappedKey:
        master_key_id = self._ring.current_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self._ring.key_bytes(master_key_id)).encrypt(
            nonce, data_key, _wrap_aad(master_key_id)
        )
        wrapped = WrappedKey(master_key_id=master_key_id, wrapped=nonce + sealed)
        self._remember((master_key_id, wrapped.wrapped), data_key)
        return wrapped

    def _unwrap(self, key: WrappedKey) -> bytes:
        cache_key = (key.master_key_id, bytes(key.wrapped))
        with self._lock:
            data_key = self._cache.get(cache_key)
            if data_key is not None:
                self._cache.move_to_end(cache_key)
                return data_key
        # The ring is immutable and owned by this cipher, so a cached entry
        # always belongs to a master key still in the ring; a cipher built on
        # a ring without an old key starts with an empty cache.
        master = self._ring.key_bytes(key.master_key_id)
        wrapped = cache_key[1]
        if len(wrapped) != WRAPPED_KEY_BYTES:
            raise CryptoError(
                f"wrapped data key is {len(wrapped)} bytes, expected {WRAPPED_KEY_BYTES}"
            )
        try:
            data_key = AESGCM(master).decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(key.master_key_id)
            )
        except InvalidTag:
            raise CryptoError(
                f"cannot unwrap data key under master key {key.master_key_id!r} "
                "(wrong master key or tampered)"
            ) from None
        self._remember(cache_key, data_key)
        return data_key

    def _remember(self, cache_key: tuple[str, bytes], data_key: bytes) -> None:
        with self._lock:
            self._cache[cache_key] = data_key
            self._cache.move_to_end(cache_key)
            while len(self._cache) > _CACHE_MAX:
                self._cache.popitem(last=False)


class KeyFileCipher(EnvelopeCipher):
    """An ``EnvelopeCipher`` that follows its key file, so every process sees a rotation.

    A rotation (``tgd keys rotate``, or the one after each destruction run) is
    written to the key file by one process; the others notice the file changed
    before wrapping a new key (so new keys go under the new current master key)
    and when they meet a master key id they do not know.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp = self._file_stamp()
        super().__init__(MasterKeyRing.load(path))

    @property
    def path(self) -> Path:
        """The key file this cipher follows."""
        return self._path

    def _file_stamp(self) -> tuple[int, int]:
        stat = self._path.stat()
        return (stat.st_mtime_ns, stat.st_size)

    def reload(self) -> None:
        """Re-read the key file now and forget every unwrapped key."""
        ring = MasterKeyRing.load(self._path)
        with self._lock:
            self._ring = ring
            self._stamp = self._file_stamp()
            self._cache.clear()

    def save(self, ring: MasterKeyRing) -> None:
        """Write a new ring to the key file and use it at once."""
        ring.save(self._path)
        self.reload()

    def _reload_if_changed(self) -> None:
        try:
            changed = self._file_stamp() != self._stamp
        except OSError:
            return  # keep working with the ring in memory; the next look will tell
        if changed:
            self.reload()

    def _wrap(self, data_key: bytes) -> WrappedKey:
        self._reload_if_changed()
        return super()._wrap(data_key)

    def _unwrap(self, key: WrappedKey) -> bytes:
        if key.master_key_id not in self._ring:
            self._reload_if_changed()
        return super()._unwrap(key)


def field_aad(table: str, column: str, row_id: object) -> bytes:
    """Build the associated data binding a ciphertext to its table, column and row (E-07)."""
    if not _AAD_NAME_RE.fullmatch(table):
        raise ValueError(f"invalid table name for AAD: {table!r}")
    if not _AAD_NAME_RE.fullmatch(column):
        raise ValueError(f"invalid column name for AAD: {column!r}")
    # A row without an id yet (not flushed) must not get a shared "None" binding.
    if row_id is None or isinstance(row_id, bool) or str(row_id) == "":
        raise ValueError("row id for AAD must be set (flush the row before encrypting)")
    return f"tgd|{table}|{column}|{row_id}".encode()
