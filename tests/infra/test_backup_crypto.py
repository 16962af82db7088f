"""Envelope encryption of backup streams: round trips, every kind of tampering, keys, rotation, flat memory."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import tracemalloc
from collections.abc import Iterable, Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from infra.backups.crypto import (
    FORMAT_DUMP,
    FORMAT_FILES,
    MAGIC,
    BackupCryptoError,
    StreamHeader,
    check_manifest,
    current_key_id,
    decrypt_stream,
    encrypt_stream,
    master_keys,
    read_header,
    seal_manifest,
)

UID = "5f0c6a1e-8c1d-4d57-9a55-0b4f3c2e9d11"
OTHER_UID = "0d3e0c4a-2b7f-4bb5-a3c5-7d0f6f5e8a22"
BACKUP_ID = "2b8f6d0e-1c1a-4f59-b4b7-9e6a3d1c0f33"
CREATED = "2026-12-01T02:15:00+00:00"


def key(seed: str) -> str:
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


K1 = f"k1:{key('one')}"
K2 = f"k2:{key('two')}"


def encrypt(data: bytes, *, chunk_size: int = 64, uid: str = UID, fmt: str = FORMAT_DUMP) -> bytes:
    return b"".join(
        encrypt_stream(
            io.BytesIO(data),
            workspace_uid=uid,
            backup_id=BACKUP_ID,
            created_at=CREATED,
            format=fmt,
            chunk_size=chunk_size,
        )
    )


def decrypt(blob: bytes, *, uid: str = UID, fmt: str = FORMAT_DUMP, backup_id: str | None = BACKUP_ID) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(blob), workspace_uid=uid, format=fmt, backup_id=backup_id))


def decrypt_collecting(blob: bytes, received: list[bytes]) -> None:
    """Decrypts into `received`, so a test sees what was yielded before an error."""
    for piece in decrypt_stream(io.BytesIO(blob), workspace_uid=UID, format=FORMAT_DUMP, backup_id=BACKUP_ID):
        received.append(piece)


def header_length(blob: bytes) -> int:
    return len(MAGIC) + 4 + struct.unpack_from(">I", blob, len(MAGIC))[0]


def chunk_bounds(blob: bytes) -> list[tuple[int, int]]:
    """(start, end) of each framed chunk (its length prefix included)."""
    bounds = []
    position = header_length(blob)
    while position < len(blob):
        (length,) = struct.unpack_from(">I", blob, position)
        bounds.append((position, position + 4 + length))
        position += 4 + length
    return bounds


class GeneratedSource:
    """A readable source of `size` random bytes made on demand (never held whole), hashed as it is read."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = os.urandom(size)
        self.remaining -= size
        self.digest.update(data)
        return data


class IteratorSource:
    """A readable source over an iterator of bytes (read(n) may return fewer, like a pipe)."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self.pieces = iter(pieces)
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        if not self.buffer:
            self.buffer = next(self.pieces, b"")
        if size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


# --- round trips ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 128, 129, 3 * 1024 * 1024 + 17])
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    blob = encrypt(data, chunk_size=64 if size < 1024 else 4096)
    assert decrypt(blob) == data
    assert decrypt(blob, backup_id=None) == data
    if size >= 16:  # the plaintext does not show through
        assert data[:16] not in blob


def test_chunks_are_sized_and_only_the_last_is_short() -> None:
    blob = encrypt(b"x" * 130, chunk_size=64)
    lengths = [end - start - 4 for start, end in chunk_bounds(blob)]
    assert lengths == [64 + 16, 64 + 16, 2 + 16]
    # An exact multiple: the last full chunk is the final one.
    lengths = [end - start - 4 for start, end in chunk_bounds(encrypt(b"x" * 128, chunk_size=64))]
    assert lengths == [64 + 16, 64 + 16]
    assert [end - start - 4 for start, end in chunk_bounds(encrypt(b"", chunk_size=64))] == [16]


def test_short_reads_from_a_pipe_still_make_full_chunks() -> None:
    data = os.urandom(1000)
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    blob = b"".join(
        encrypt_stream(
            IteratorSource(pieces),  # type: ignore[arg-type]
            workspace_uid=UID,
            backup_id=BACKUP_ID,
            created_at=CREATED,
            format=FORMAT_DUMP,
            chunk_size=100,
        )
    )
    assert [end - start - 4 for start, end in chunk_bounds(blob)] == [116] * 10
    assert decrypt(blob) == data


def test_each_stream_has_its_own_data_key_and_nonces() -> None:
    data = b"same content" * 100
    assert encrypt(data) != encrypt(data)


def test_read_header_reports_the_values_and_leaves_the_stream_after_it() -> None:
    blob = encrypt(b"hello", chunk_size=64, fmt=FORMAT_FILES)
    source = io.BytesIO(blob)
    header = read_header(source)
    assert header == StreamHeader(
        workspace_uid=UID,
        backup_id=BACKUP_ID,
        created_at=CREATED,
        format=FORMAT_FILES,
        key_id=current_key_id(),
        chunk_size=64,
    )
    assert source.tell() == header_length(blob)


def test_encryption_is_lazy() -> None:
    source = GeneratedSource(10 * 64)
    stream = encrypt_stream(
        source,  # type: ignore[arg-type]
        workspace_uid=UID,
        backup_id=BACKUP_ID,
        created_at=CREATED,
        format=FORMAT_DUMP,
        chunk_size=64,
    )
    assert source.remaining == 10 * 64
    next(stream)  # the header
    next(stream)  # the first chunk: it and the one after it are read
    assert source.remaining == 8 * 64


# --- tampering --------------------------------------------------------------------------------------------------


def test_any_byte_changed_in_the_header_is_refused_before_any_plaintext() -> None:
    blob = encrypt(b"secret rows " * 20, chunk_size=64)
    for position in range(header_length(blob)):
        for flip in (0x01, 0x20, 0xFF):
            tampered = bytearray(blob)
            tampered[position] ^= flip
            received: list[bytes] = []
            with pytest.raises(BackupCryptoError):
                decrypt_collecting(bytes(tampered), received)
            assert received == [], (position, flip)


def test_any_byte_changed_in_a_chunk_is_refused() -> None:
    data = b"secret rows " * 20
    blob = encrypt(data, chunk_size=64)
    bounds = chunk_bounds(blob)
    for index, (start, end) in enumerate(bounds):
        # The length prefix, the ciphertext and the tag (its last 16 bytes).
        for position in range(start, end):
            tampered = bytearray(blob)
            tampered[position] ^= 0x01
            received: list[bytes] = []
            with pytest.raises(BackupCryptoError):
                decrypt_collecting(bytes(tampered), received)
            # Only the chunks before the tampered one were released.
            assert b"".join(received) == data[: 64 * index], position


def test_a_tampered_chunk_names_its_number() -> None:
    blob = bytearray(encrypt(os.urandom(64 * 5), chunk_size=64))
    _start, end = chunk_bounds(bytes(blob))[2]
    blob[end - 1] ^= 0x80  # the tag of the third chunk
    with pytest.raises(BackupCryptoError, match="the backup was modified: chunk 3 fails authentication"):
        decrypt(bytes(blob))


def test_truncation_anywhere_is_refused() -> None:
    blob = encrypt(os.urandom(64 * 3 + 10), chunk_size=64)
    for cut in range(len(blob)):
        with pytest.raises(BackupCryptoError):
            decrypt(blob[:cut])


def test_truncation_at_a_chunk_boundary_says_the_last_chunk_is_missing() -> None:
    data = os.urandom(64 * 3 + 10)
    blob = encrypt(data, chunk_size=64)
    bounds = chunk_bounds(blob)
    for start, _end in bounds:  # cut just before each chunk: every one is a boundary before the final chunk
        received: list[bytes] = []
        with pytest.raises(BackupCryptoError, match="the backup is truncated: its last chunk is missing"):
            for piece in decrypt_stream(io.BytesIO(blob[:start]), workspace_uid=UID, format=FORMAT_DUMP):
                received.append(piece)
    # Without its final chunk, even a stream of whole chunks is refused.
    with pytest.raises(BackupCryptoError, match="last chunk is missing"):
        decrypt(blob[: bounds[-1][0]])
    with pytest.raises(BackupCryptoError, match="chunk 2 is cut short"):
        decrypt(blob[: bounds[1][0] + 30])
    with pytest.raises(BackupCryptoError, match="header is incomplete"):
        decrypt(blob[:20])


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(BackupCryptoError, match="truncated"):
        decrypt(b"")


def test_not_a_backup_is_refused() -> None:
    with pytest.raises(BackupCryptoError, match="not a Kontor backup"):
        decrypt(b"PGDMP\x01\x0e\x00" + b"\x00" * 100)


@pytest.mark.parametrize("extra", [b"\x00", b"more data", b"\x00\x00\x00\x10" + b"\x00" * 16])
def test_bytes_after_the_final_chunk_are_refused(extra: bytes) -> None:
    blob = encrypt(b"complete", chunk_size=64)
    with pytest.raises(BackupCryptoError, match="extra bytes after its last chunk"):
        decrypt(blob + extra)


def test_reordered_duplicated_or_dropped_chunks_are_refused() -> None:
    blob = encrypt(os.urandom(64 * 4 + 10), chunk_size=64)
    head = blob[: header_length(blob)]
    chunks = [blob[start:end] for start, end in chunk_bounds(blob)]
    assert len(chunks) == 5
    for order in ([1, 0, 2, 3, 4], [0, 1, 3, 2, 4], [0, 0, 1, 2, 3, 4], [0, 1, 2, 3, 3, 4], [0, 2, 3, 4], [0, 1, 4]):
        with pytest.raises(BackupCryptoError):
            decrypt(head + b"".join(chunks[i] for i in order))
    # The final chunk moved earlier, or repeated.
    for order in ([0, 1, 2, 4, 3], [0, 1, 2, 3, 4, 4], [4]):
        with pytest.raises(BackupCryptoError):
            decrypt(head + b"".join(chunks[i] for i in order))


def test_chunks_of_another_stream_are_refused() -> None:
    data = os.urandom(64 * 2)
    first, second = encrypt(data, chunk_size=64), encrypt(data, chunk_size=64)
    spliced = first[: header_length(first)] + second[header_length(second) :]
    with pytest.raises(BackupCryptoError, match="chunk 1 fails authentication"):
        decrypt(spliced)


# --- the header binds workspace, format and backup --------------------------------------------------------------


def test_another_workspace_is_refused() -> None:
    blob = encrypt(b"acme's data", uid=UID)
    with pytest.raises(BackupCryptoError, match="the backup belongs to another workspace"):
        decrypt(blob, uid=OTHER_UID)


def test_a_header_rewritten_to_another_workspace_does_not_open() -> None:
    """Someone edits the header's workspace (and keeps it well-formed): the other workspace's key cannot unwrap."""
    blob = encrypt(b"acme's data", uid=UID)
    end = header_length(blob)
    text = blob[len(MAGIC) + 4 : end].replace(UID.encode(), OTHER_UID.encode())
    forged = MAGIC + struct.pack(">I", len(text)) + text + blob[end:]
    assert read_header(io.BytesIO(forged)).workspace_uid == OTHER_UID
    received: list[bytes] = []
    with pytest.raises(BackupCryptoError, match="fails authentication"):
        for piece in decrypt_stream(io.BytesIO(forged), workspace_uid=OTHER_UID, format=FORMAT_DUMP):
            received.append(piece)
    assert received == []


def test_another_format_is_refused() -> None:
    blob = encrypt(b"a tar of files", fmt=FORMAT_FILES)
    with pytest.raises(BackupCryptoError, match="the backup holds tar, not pg_dump-custom"):
        decrypt(blob, fmt=FORMAT_DUMP)


def test_another_backup_is_refused() -> None:
    blob = encrypt(b"data")
    with pytest.raises(BackupCryptoError, match="this is backup"):
        decrypt(blob, backup_id="another-backup")


def test_the_header_is_checked_before_the_call_returns() -> None:
    """A restore can check a backup before it starts a consumer: the call itself raises."""
    blob = encrypt(b"data")
    with pytest.raises(BackupCryptoError):
        decrypt_stream(io.BytesIO(blob), workspace_uid=OTHER_UID, format=FORMAT_DUMP)


# --- keys -------------------------------------------------------------------------------------------------------


def test_rotation_keeps_old_backups_readable() -> None:
    with override_settings(BACKUP_MASTER_KEYS=K1):
        old = encrypt(b"made with k1")
        assert read_header(io.BytesIO(old)).key_id == "k1"
    with override_settings(BACKUP_MASTER_KEYS=f"{K2},{K1}"):
        assert current_key_id() == "k2"
        assert decrypt(old) == b"made with k1"
        new = encrypt(b"made with k2")
        assert read_header(io.BytesIO(new)).key_id == "k2"
    with override_settings(BACKUP_MASTER_KEYS=K2):
        assert decrypt(new) == b"made with k2"
        with pytest.raises(BackupCryptoError, match=r"no master key 'k1' to open this backup \(BACKUP_MASTER_KEYS\)"):
            decrypt(old)


def test_the_wrong_key_under_the_same_id_is_refused() -> None:
    with override_settings(BACKUP_MASTER_KEYS=K1):
        blob = encrypt(b"data")
    with (
        override_settings(BACKUP_MASTER_KEYS=f"k1:{key('not one')}"),
        pytest.raises(BackupCryptoError, match="master key 'k1' is not the one"),
    ):
        decrypt(blob)


def test_without_the_setting_a_development_key_comes_from_secret_key() -> None:
    with override_settings(BACKUP_MASTER_KEYS="", SECRET_KEY="a" * 50):
        assert list(master_keys()) == ["dev"]
        blob = encrypt(b"dev data")
        assert decrypt(blob) == b"dev data"
    with override_settings(BACKUP_MASTER_KEYS="", SECRET_KEY="b" * 50), pytest.raises(BackupCryptoError):
        decrypt(blob)


def test_master_keys_are_parsed_in_order() -> None:
    raw = os.urandom(32)
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    with override_settings(BACKUP_MASTER_KEYS=f" k2:{key('two')} , old.key-1:{urlsafe}"):
        keys = master_keys()
        assert list(keys) == ["k2", "old.key-1"]
        assert keys["old.key-1"] == raw
        assert current_key_id() == "k2"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("k1", "entry 1 must be 'id:base64"),
        (f"{K1},nocolon", "entry 2 must be"),
        (f"bad id:{key('x')}", "entry 1 must be"),
        ("k1:not-base64!", "not the base64 of 32 bytes"),
        (f"k1:{base64.b64encode(b'short').decode()}", "not the base64 of 32 bytes"),
        (f"k1:{base64.b64encode(os.urandom(33)).decode()}", "not the base64 of 32 bytes"),
        (f"{K1},{K1}", "listed twice"),
    ],
)
def test_bad_master_keys_are_a_configuration_error(value: str, message: str) -> None:
    with override_settings(BACKUP_MASTER_KEYS=value), pytest.raises(ImproperlyConfigured, match=message):
        master_keys()


# --- memory -----------------------------------------------------------------------------------------------------


class ChunksReader:
    """A readable view of an iterator of bytes (the encrypted stream fed straight into decryption)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces = pieces
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        while len(self.buffer) < size:
            piece = next(self.pieces, None)
            if piece is None:
                break
            self.buffer += piece
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def test_memory_stays_flat_through_64_mb() -> None:
    size = 64 << 20
    source = GeneratedSource(size)
    tracemalloc.start()
    try:
        encrypted = encrypt_stream(
            source,  # type: ignore[arg-type]
            workspace_uid=UID,
            backup_id=BACKUP_ID,
            created_at=CREATED,
            format=FORMAT_DUMP,
        )
        plain_digest = hashlib.sha256()
        received = 0
        for piece in decrypt_stream(ChunksReader(encrypted), workspace_uid=UID, format=FORMAT_DUMP):  # type: ignore[arg-type]
            plain_digest.update(piece)
            received += len(piece)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size
    assert plain_digest.digest() == source.digest.digest()
    assert peak < 12 << 20, f"peak {peak / (1 << 20):.1f} MB for a 64 MB stream of 1 MB chunks"


# --- manifests --------------------------------------------------------------------------------------------------


MANIFEST = {
    "backup_id": BACKUP_ID,
    "workspace_uid": UID,
    "rows": {"crm_deal": 1200, "crm_company": 310},
    "dump": {"sha256": "ab" * 32, "size": 123456},
    "kontor_version": "1.4.0",
    "name": "Société Générale — Москва",
}


def test_a_sealed_manifest_checks() -> None:
    sealed = seal_manifest(MANIFEST, workspace_uid=UID)
    assert sealed["seal"]["key_id"] == current_key_id()
    assert len(bytes.fromhex(sealed["seal"]["hmac"])) == 32
    assert "seal" not in MANIFEST
    check_manifest(sealed, workspace_uid=UID)
    # Key order does not matter (a JSON column gives the keys back in its own order).
    check_manifest(dict(reversed(list(sealed.items()))), workspace_uid=UID)
    # Sealing again replaces the seal.
    assert seal_manifest(sealed, workspace_uid=UID) == sealed


def test_an_edited_manifest_is_refused() -> None:
    sealed = seal_manifest(MANIFEST, workspace_uid=UID)
    edited = {**sealed, "rows": {**sealed["rows"], "crm_deal": 1199}}
    with pytest.raises(BackupCryptoError, match="the manifest does not match its seal"):
        check_manifest(edited, workspace_uid=UID)
    added = {**sealed, "extra": 1}
    with pytest.raises(BackupCryptoError, match="the manifest does not match its seal"):
        check_manifest(added, workspace_uid=UID)
    forged = {**sealed, "seal": {**sealed["seal"], "hmac": "00" * 32}}
    with pytest.raises(BackupCryptoError, match="the manifest does not match its seal"):
        check_manifest(forged, workspace_uid=UID)
    garbage = {**sealed, "seal": {**sealed["seal"], "hmac": "not hex"}}
    with pytest.raises(BackupCryptoError, match="the manifest does not match its seal"):
        check_manifest(garbage, workspace_uid=UID)


def test_a_manifest_of_another_workspace_is_refused() -> None:
    sealed = seal_manifest(MANIFEST, workspace_uid=UID)
    with pytest.raises(BackupCryptoError, match="the manifest does not match its seal"):
        check_manifest(sealed, workspace_uid=OTHER_UID)


def test_an_unsealed_manifest_is_refused() -> None:
    with pytest.raises(BackupCryptoError, match="the manifest does not match its seal: it has no seal"):
        check_manifest(MANIFEST, workspace_uid=UID)
    with pytest.raises(BackupCryptoError, match="it has no seal"):
        check_manifest({**MANIFEST, "seal": "yes"}, workspace_uid=UID)


def test_manifest_seals_survive_rotation() -> None:
    with override_settings(BACKUP_MASTER_KEYS=K1):
        sealed = seal_manifest(MANIFEST, workspace_uid=UID)
    with override_settings(BACKUP_MASTER_KEYS=f"{K2},{K1}"):
        check_manifest(sealed, workspace_uid=UID)
        assert seal_manifest(MANIFEST, workspace_uid=UID)["seal"]["key_id"] == "k2"
    with (
        override_settings(BACKUP_MASTER_KEYS=K2),
        pytest.raises(BackupCryptoError, match="no master key 'k1' to check this manifest"),
    ):
        check_manifest(sealed, workspace_uid=UID)


def rewrite_header(blob: bytes, old: bytes, new: bytes) -> bytes:
    end = header_length(blob)
    text = blob[len(MAGIC) + 4 : end].replace(old, new)
    return MAGIC + struct.pack(">I", len(text)) + text + blob[end:]


def test_a_backup_of_a_newer_format_says_so() -> None:
    newer = rewrite_header(encrypt(b"data"), b'"version":1', b'"version":2')
    with pytest.raises(BackupCryptoError, match=r"made by a newer version of Kontor \(backup format 2\)"):
        decrypt(newer)


def test_a_header_that_is_not_canonical_is_damaged() -> None:
    blob = encrypt(b"data")
    for old, new in [(b'"version":1', b'"version": 1'), (b'{"backup_id"', b'{"extra":1,"backup_id"'), (b"}", b"")]:
        with pytest.raises(BackupCryptoError, match="the backup header is damaged"):
            read_header(io.BytesIO(rewrite_header(blob, old, new)))
