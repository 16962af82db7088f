"""Master key rings from settings: `id:base64 of 32 bytes`, comma separated, the current key first.

Backups and stored integration secrets each have their own ring (BACKUP_MASTER_KEYS, SECRETS_MASTER_KEYS); a
ring lists old keys after the current one so that what they sealed can still be opened after a rotation.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core.exceptions import ImproperlyConfigured

KEY_BYTES = 32
_KEY_ID_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def hkdf(key: bytes, *, info: bytes, salt: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(key)


def key_ring(raw: str, *, setting: str, dev_key: bytes) -> dict[str, bytes]:
    """The keys of `raw` (the value of the setting named `setting`) by id, the current one first; without
    any, the single development key `dev` (production refuses to start without a ring: settings.py)."""
    raw = (raw or "").strip()
    if not raw:
        return {"dev": dev_key}
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(raw.split(","), start=1):
        key_id, sep, encoded = entry.strip().partition(":")
        key_id, encoded = key_id.strip(), encoded.strip()
        if not sep or not _KEY_ID_RE.fullmatch(key_id):
            raise ImproperlyConfigured(
                f"{setting}: entry {position} must be 'id:base64 of 32 random bytes', the id made of "
                "1-64 letters, digits, '.', '_' or '-'."
            )
        if key_id in keys:
            raise ImproperlyConfigured(f"{setting}: the key id {key_id!r} is listed twice.")
        try:
            # Standard or URL-safe alphabet, padding required.
            key = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"{setting}: the key {key_id!r} is not the base64 of 32 bytes "
                '(make one with: python -c "import base64,os; print(base64.b64encode(os.urandom(32)).decode())").'
            )
        keys[key_id] = key
    return keys
