"""Envelope encryption of backup streams and the seal of their manifests (`cryptography` only).

Keys
    BACKUP_MASTER_KEYS is "id:base64(32 bytes),id2:...": the first is the current key, the others only open older
    backups. Development and tests without the setting get one key, "dev", derived from SECRET_KEY (production
    refuses to start without the setting). Each workspace has its own key-encryption key,
    HKDF-SHA256(master key, salt = a fixed label, info = b"kontor backup kek\\0" + workspace_uid), so a workspace's
    key opens no other workspace's backups; the manifest seal uses another HKDF output of the same master key
    (info b"kontor backup manifest\\0" + workspace_uid).

Stream
    A fresh random 256-bit data key per stream, wrapped with AES-256-GCM under the workspace's key-encryption key.
    The wrap's associated data is the canonical header (version, workspace_uid, backup_id, created_at, format,
    key_id, chunk_size, nonce prefix): a header edit, or another workspace's key, fails to unwrap. The key id is in
    the header, so master keys rotate without re-encrypting old backups: a backup opens as long as its key id is
    still listed in BACKUP_MASTER_KEYS.

    On the wire: b"KONTORB1", u32 (big-endian) length, the header as canonical JSON; then the chunks. The chunks
    follow the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online authenticated-encryption and its
    nonce-reuse misuse-resistance", CRYPTO 2015): chunk i is AES-256-GCM with nonce = 7-byte random prefix || u32 i
    || 1-byte last flag and associated data = sha256 of the header bytes, framed as u32 ciphertext length +
    ciphertext (tag included). Only the final chunk has the last flag; an empty source still gives one (empty) final
    chunk. Decryption accepts exactly one final chunk, at the end, with nothing after it: a cut stream (at a chunk
    boundary or inside one), reordered, repeated or dropped chunks, and trailing bytes are all refused.

Decryption checks the header (signature, version, workspace, format, backup id, known key, unwrap) before it
yields anything, and yields each chunk's plaintext only once that chunk authenticated. Memory stays O(chunk_size)
in both directions whatever the stream's size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
import typing
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.utils.translation import gettext as _

from tenants.keyring import key_ring

__all__ = [
    "FORMAT_DUMP",
    "FORMAT_FILES",
    "BackupCryptoError",
    "StreamHeader",
    "check_manifest",
    "current_key_id",
    "decrypt_stream",
    "encrypt_stream",
    "master_keys",
    "read_header",
    "seal_manifest",
]

FORMAT_DUMP = "pg_dump-custom"
FORMAT_FILES = "tar"

MAGIC = b"KONTORB1"
VERSION = 1
KEY_BYTES = 32
NONCE_PREFIX_BYTES = 7
TAG_BYTES = 16
MAX_CHUNK_SIZE = 64 << 20
MAX_HEADER_BYTES = 64 << 10
_MAX_CHUNKS = 1 << 32  # the u32 counter of the nonce

_KDF_SALT = b"kontor backup key derivation v1"
_KEK_INFO = b"kontor backup kek\0"
_MANIFEST_INFO = b"kontor backup manifest\0"
_DEV_INFO = b"kontor backup development master key"
_WRAP_AAD_LABEL = b"kontor backup header v1\0"
_U32 = struct.Struct(">I")
# The fields bound into the data key's wrap; the wrap itself (nonce, wrapped key) completes the header.
_BOUND_FIELDS = (
    "version",
    "workspace_uid",
    "backup_id",
    "created_at",
    "format",
    "key_id",
    "chunk_size",
    "nonce_prefix",
)
_HEADER_FIELDS = frozenset((*_BOUND_FIELDS, "wrap_nonce", "wrapped_key"))


class BackupCryptoError(Exception):
    """A backup or manifest that cannot be trusted; str() is a message for an operator."""


# --- keys -------------------------------------------------------------------------------------------------------


def _hkdf(key: bytes, *, info: bytes, salt: bytes = _KDF_SALT) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(key)


def master_keys() -> dict[str, bytes]:
    """The master keys by id, the current one first (dicts keep their order)."""
    dev = _hkdf(settings.SECRET_KEY.encode(), info=_DEV_INFO)
    return key_ring(settings.BACKUP_MASTER_KEYS, setting="BACKUP_MASTER_KEYS", dev_key=dev)


def current_key_id() -> str:
    return next(iter(master_keys()))


def _master_key(key_id: str, *, purpose: str) -> bytes:
    key = master_keys().get(key_id)
    if key is None:
        if purpose == "manifest":
            raise BackupCryptoError(
                _("no master key '%(key_id)s' to check this manifest (BACKUP_MASTER_KEYS)") % {"key_id": key_id}
            )
        raise BackupCryptoError(
            _("no master key '%(key_id)s' to open this backup (BACKUP_MASTER_KEYS)") % {"key_id": key_id}
        )
    return key


def _workspace_key(master: bytes, workspace_uid: str, *, info: bytes) -> bytes:
    return _hkdf(master, info=info + workspace_uid.encode())


# --- header -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamHeader:
    workspace_uid: str
    backup_id: str
    created_at: str
    format: str
    key_id: str
    chunk_size: int


def _canonical(value: dict[str, typing.Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _wrap_aad(fields: dict[str, typing.Any]) -> bytes:
    return _WRAP_AAD_LABEL + _canonical({name: fields[name] for name in _BOUND_FIELDS})


def _read_exactly(source: typing.BinaryIO, size: int) -> bytes:
    """`size` bytes, fewer only at the end of the stream (a pipe may return short reads)."""
    first = source.read(size)
    if not first or len(first) == size:
        return first or b""
    parts = [first]
    missing = size - len(first)
    while missing:
        part = source.read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _damaged() -> BackupCryptoError:
    return BackupCryptoError(_("the backup header is damaged"))


def _unhex(value: object, size: int) -> bytes:
    # Only the canonical spelling is accepted, so no two header texts carry the same values.
    if not isinstance(value, str) or len(value) != 2 * size or value != value.lower():
        raise _damaged()
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise _damaged() from None


def _unb64(value: object, size: int) -> bytes:
    if not isinstance(value, str):
        raise _damaged()
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _damaged() from None
    if len(decoded) != size or base64.b64encode(decoded).decode() != value:
        raise _damaged()
    return decoded


@dataclass(frozen=True)
class _Header:
    raw: bytes  # as on the wire, magic and length included
    fields: dict[str, typing.Any]
    public: StreamHeader
    nonce_prefix: bytes
    wrap_nonce: bytes
    wrapped_key: bytes


def _parse_header(source: typing.BinaryIO) -> _Header:
    start = _read_exactly(source, len(MAGIC) + _U32.size)
    if start[: len(MAGIC)] != MAGIC[: len(start)]:
        raise BackupCryptoError(_("not a Kontor backup: the file does not start with the backup signature"))
    if len(start) < len(MAGIC) + _U32.size:
        raise BackupCryptoError(_("the backup is truncated: its header is incomplete"))
    (length,) = _U32.unpack_from(start, len(MAGIC))
    if not 2 <= length <= MAX_HEADER_BYTES:
        raise _damaged()
    text = _read_exactly(source, length)
    if len(text) < length:
        raise BackupCryptoError(_("the backup is truncated: its header is incomplete"))
    try:
        fields = json.loads(text.decode("utf-8"))
    except ValueError:
        raise _damaged() from None
    if not isinstance(fields, dict) or _canonical(fields) != text:
        raise _damaged()
    version = fields.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise BackupCryptoError(
            _("the backup was made by a newer version of Kontor (backup format %(version)s)") % {"version": version}
        )
    if version != VERSION or set(fields) != _HEADER_FIELDS:
        raise _damaged()
    for name in ("workspace_uid", "backup_id", "created_at", "format", "key_id"):
        if not isinstance(fields[name], str) or not fields[name]:
            raise _damaged()
    chunk_size = fields["chunk_size"]
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise _damaged()
    return _Header(
        raw=start + text,
        fields=fields,
        public=StreamHeader(
            workspace_uid=fields["workspace_uid"],
            backup_id=fields["backup_id"],
            created_at=fields["created_at"],
            format=fields["format"],
            key_id=fields["key_id"],
            chunk_size=chunk_size,
        ),
        nonce_prefix=_unhex(fields["nonce_prefix"], NONCE_PREFIX_BYTES),
        wrap_nonce=_unb64(fields["wrap_nonce"], 12),
        wrapped_key=_unb64(fields["wrapped_key"], KEY_BYTES + TAG_BYTES),
    )


def read_header(source: typing.BinaryIO) -> StreamHeader:
    """The header's values, parsed but not authenticated (for messages and listings); `source` is left after it."""
    return _parse_header(source).public


# --- stream -----------------------------------------------------------------------------------------------------


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + _U32.pack(counter) + (b"\x01" if last else b"\x00")


def encrypt_stream(
    source: typing.BinaryIO,
    *,
    workspace_uid: str,
    backup_id: str,
    created_at: str,
    format: str,
    chunk_size: int = 1 << 20,
) -> Iterator[bytes]:
    """The encrypted stream of `source`, piece by piece: the header, then one framed chunk per `chunk_size` bytes.

    The key is looked up at once (a misconfiguration raises here); `source` is read lazily as the result is
    iterated, at most two chunks being held at a time.
    """
    for name, value in (
        ("workspace_uid", workspace_uid),
        ("backup_id", backup_id),
        ("created_at", created_at),
        ("format", format),
    ):
        if not isinstance(value, str) or not value:
            raise ValueError(f"encrypt_stream: {name} must be a non-empty string")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"encrypt_stream: chunk_size must be between 1 and {MAX_CHUNK_SIZE}")
    key_id = current_key_id()
    kek = _workspace_key(_master_key(key_id, purpose="stream"), workspace_uid, info=_KEK_INFO)
    data_key = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
    nonce_prefix = os.urandom(NONCE_PREFIX_BYTES)
    wrap_nonce = os.urandom(12)
    fields: dict[str, typing.Any] = {
        "version": VERSION,
        "workspace_uid": workspace_uid,
        "backup_id": backup_id,
        "created_at": created_at,
        "format": format,
        "key_id": key_id,
        "chunk_size": chunk_size,
        "nonce_prefix": nonce_prefix.hex(),
        "wrap_nonce": base64.b64encode(wrap_nonce).decode(),
    }
    fields["wrapped_key"] = base64.b64encode(AESGCM(kek).encrypt(wrap_nonce, data_key, _wrap_aad(fields))).decode()
    text = _canonical(fields)
    header = MAGIC + _U32.pack(len(text)) + text
    return _encrypted_chunks(source, header, AESGCM(data_key), nonce_prefix, chunk_size)


def _encrypted_chunks(
    source: typing.BinaryIO, header: bytes, aead: AESGCM, nonce_prefix: bytes, chunk_size: int
) -> Iterator[bytes]:
    yield header
    aad = hashlib.sha256(header).digest()
    counter = 0
    pending = _read_exactly(source, chunk_size)
    while True:
        # A short read means the end of the source; a full one needs a look ahead to know whether it was the last.
        following = _read_exactly(source, chunk_size) if len(pending) == chunk_size else b""
        last = not following
        if counter >= _MAX_CHUNKS:
            raise BackupCryptoError(_("the backup is too large for its chunk size"))
        sealed = aead.encrypt(_nonce(nonce_prefix, counter, last), pending, aad)
        yield _U32.pack(len(sealed))  # apart, not concatenated: no copy of the chunk
        yield sealed
        if last:
            return
        counter += 1
        pending = following


def decrypt_stream(
    source: typing.BinaryIO,
    *,
    workspace_uid: str,
    format: str,
    backup_id: str | None = None,
) -> Iterator[bytes]:
    """The plaintext of an encrypted stream, chunk by chunk, each yielded only once it authenticated.

    The header is read and checked at once, before this returns: a stream of another workspace, format or backup,
    an unknown key or an altered header raises BackupCryptoError here. The chunks are read as the result is
    iterated; a tampered, cut, reordered or extended stream raises BackupCryptoError when reached, so a consumer
    must treat everything it received as void unless the iteration completed.
    """
    header = _parse_header(source)
    info = header.public
    if info.workspace_uid != workspace_uid:
        raise BackupCryptoError(_("the backup belongs to another workspace"))
    if info.format != format:
        raise BackupCryptoError(
            _("the backup holds %(found)s, not %(expected)s") % {"found": info.format, "expected": format}
        )
    if backup_id is not None and info.backup_id != backup_id:
        raise BackupCryptoError(
            _("this is backup %(found)s, not backup %(expected)s") % {"found": info.backup_id, "expected": backup_id}
        )
    kek = _workspace_key(_master_key(info.key_id, purpose="stream"), workspace_uid, info=_KEK_INFO)
    try:
        data_key = AESGCM(kek).decrypt(header.wrap_nonce, header.wrapped_key, _wrap_aad(header.fields))
    except InvalidTag:
        raise BackupCryptoError(
            _(
                "the backup header fails authentication: it was modified, or the master key '%(key_id)s' "
                "is not the one the backup was made with"
            )
            % {"key_id": info.key_id}
        ) from None
    return _decrypted_chunks(source, header, AESGCM(data_key))


def _decrypted_chunks(source: typing.BinaryIO, header: _Header, aead: AESGCM) -> Iterator[bytes]:
    aad = hashlib.sha256(header.raw).digest()
    limit = header.public.chunk_size + TAG_BYTES
    counter = 0
    while True:
        number = counter + 1  # operators count from 1
        frame = _read_exactly(source, _U32.size)
        if not frame:
            raise BackupCryptoError(_("the backup is truncated: its last chunk is missing"))
        if len(frame) < _U32.size:
            raise BackupCryptoError(_("the backup is truncated: chunk %(number)s is cut short") % {"number": number})
        (length,) = _U32.unpack(frame)
        if not TAG_BYTES <= length <= limit:
            raise BackupCryptoError(
                _("the backup was modified: chunk %(number)s has an impossible length") % {"number": number}
            )
        sealed = _read_exactly(source, length)
        if len(sealed) < length:
            raise BackupCryptoError(_("the backup is truncated: chunk %(number)s is cut short") % {"number": number})
        if counter >= _MAX_CHUNKS:
            raise BackupCryptoError(_("the backup is too large for its chunk size"))
        # The last flag is not on the wire: a chunk opens as a middle chunk or as the final one, never both.
        plain = None
        last = False
        for last in (False, True):
            try:
                plain = aead.decrypt(_nonce(header.nonce_prefix, counter, last), sealed, aad)
                break
            except InvalidTag:
                continue
        if plain is None:
            raise BackupCryptoError(
                _("the backup was modified: chunk %(number)s fails authentication") % {"number": number}
            )
        if last:
            if source.read(1):
                raise BackupCryptoError(_("the backup has extra bytes after its last chunk"))
            if plain:
                yield plain
            return
        yield plain
        counter += 1


# --- manifest ---------------------------------------------------------------------------------------------------


def _manifest_mac(manifest: dict[str, typing.Any], *, key_id: str, workspace_uid: str) -> crypto_hmac.HMAC:
    key = _workspace_key(_master_key(key_id, purpose="manifest"), workspace_uid, info=_MANIFEST_INFO)
    mac = crypto_hmac.HMAC(key, hashes.SHA256())
    mac.update(_canonical({name: value for name, value in manifest.items() if name != "seal"}))
    return mac


def seal_manifest(manifest: dict[str, typing.Any], *, workspace_uid: str) -> dict[str, typing.Any]:
    """A copy of `manifest` with "seal": {"key_id", "hmac"} over its canonical JSON, with the workspace's key."""
    key_id = current_key_id()
    unsealed = {name: value for name, value in manifest.items() if name != "seal"}
    digest = _manifest_mac(unsealed, key_id=key_id, workspace_uid=workspace_uid).finalize()
    return {**unsealed, "seal": {"key_id": key_id, "hmac": digest.hex()}}


def check_manifest(manifest: dict[str, typing.Any], *, workspace_uid: str) -> None:
    """Raises BackupCryptoError unless `manifest` carries this workspace's valid seal."""
    seal = manifest.get("seal")
    if not isinstance(seal, dict) or not isinstance(seal.get("key_id"), str) or not isinstance(seal.get("hmac"), str):
        raise BackupCryptoError(_("the manifest does not match its seal: it has no seal"))
    try:
        digest = bytes.fromhex(seal["hmac"])
    except ValueError:
        digest = b""
    mac = _manifest_mac(manifest, key_id=seal["key_id"], workspace_uid=workspace_uid)
    try:
        mac.verify(digest)
    except InvalidSignature:
        raise BackupCryptoError(
            _("the manifest does not match its seal: it was altered, or it belongs to another workspace")
        ) from None
