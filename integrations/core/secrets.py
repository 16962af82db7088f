"""Credentials at rest: AES-256-GCM under a key derived per workspace from the master key ring
(SECRETS_MASTER_KEYS), bound to the workspace and the connection, so that a sealed value copied into another
connection or another workspace does not open."""

from __future__ import annotations

import base64
import binascii
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from tenants.keyring import hkdf, key_ring

_SALT = b"kontor integration secrets v1"
_DEV_INFO = b"kontor integration secrets development master key"
_NONCE_BYTES = 12


class SecretsUnreadable(Exception):
    """Sealed credentials that cannot be opened (a missing master key, or altered data)."""


def _ring() -> dict[str, bytes]:
    dev = hkdf(settings.SECRET_KEY.encode(), info=_DEV_INFO, salt=_SALT)
    return key_ring(settings.SECRETS_MASTER_KEYS, setting="SECRETS_MASTER_KEYS", dev_key=dev)


def _key(master: bytes, workspace_uid: str) -> bytes:
    return hkdf(master, info=b"workspace:" + workspace_uid.encode(), salt=_SALT)


def _aad(workspace_uid: str, connection_uid: str) -> bytes:
    return f"{workspace_uid}/{connection_uid}".encode()


def seal(values: dict[str, str], *, workspace_uid: str, connection_uid: str) -> str:
    """The text stored for `values` (empty for none)."""
    if not values:
        return ""
    key_id, master = next(iter(_ring().items()))
    nonce = os.urandom(_NONCE_BYTES)
    data = AESGCM(_key(master, workspace_uid)).encrypt(
        nonce, json.dumps(values, sort_keys=True).encode(), _aad(workspace_uid, connection_uid)
    )
    return json.dumps(
        {"v": 1, "key": key_id, "nonce": base64.b64encode(nonce).decode(), "data": base64.b64encode(data).decode()}
    )


def unseal(sealed: str, *, workspace_uid: str, connection_uid: str) -> dict[str, str]:
    if not sealed:
        return {}
    try:
        box = json.loads(sealed)
        master = _ring().get(box["key"])
        if master is None:
            raise SecretsUnreadable(f"no master key {box['key']!r} in SECRETS_MASTER_KEYS")
        plain = AESGCM(_key(master, workspace_uid)).decrypt(
            base64.b64decode(box["nonce"]), base64.b64decode(box["data"]), _aad(workspace_uid, connection_uid)
        )
        values = json.loads(plain)
    except SecretsUnreadable:
        raise
    except (InvalidTag, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise SecretsUnreadable("the sealed credentials are damaged or belong elsewhere") from exc
    if not isinstance(values, dict):
        raise SecretsUnreadable("the sealed credentials are damaged")
    return {str(k): str(v) for k, v in values.items()}


def key_id_of(sealed: str) -> str | None:
    """Which master key sealed this (to find what a rotation must re-seal)."""
    try:
        return str(json.loads(sealed)["key"]) if sealed else None
    except (KeyError, TypeError, ValueError):
        return None
