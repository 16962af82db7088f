"""Writes on workspace users and their API keys. Every path that creates or changes a user goes through here."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from tenants.accounts.models import ApiKey, Role, Team, User, normalize_email
from tenants.accounts.roles import SALES_MANAGER, builtin_role

API_KEY_SCHEME = "kontor"
# A key used again within this window keeps its recorded time: no write on every request.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)


@transaction.atomic
def user_create(
    *, email: str, password: str, full_name: str = "", role: Role | None = None, team: Team | None = None
) -> User:
    """Create a user in the current schema; raises ValidationError on a bad email, name or password.
    Without a role the person is a sales manager: they see only what they own until an admin says otherwise."""
    user = User(
        email=normalize_email(email),
        full_name=full_name.strip(),
        role=role or builtin_role(SALES_MANAGER),
        team=team,
    )
    validate_password(password, user=user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    # The full key, shown to its owner once and never stored.
    secret: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, actor: User, name: str) -> IssuedApiKey:
    """A new key of `actor`'s own; raises ValidationError on a bad name."""
    if not (actor.is_authenticated and actor.is_active):
        raise PermissionDenied
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    secret = f"{API_KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(user=actor, name=name.strip(), prefix=prefix, key_hash=_hash(secret))
    key.full_clean()
    key.save()
    return IssuedApiKey(key=key, secret=secret)


@transaction.atomic
def api_key_revoke(*, actor: User, key: ApiKey) -> ApiKey:
    """Revoke one of `actor`'s keys; requests with it answer 401 from now on. Revoking twice is harmless."""
    if key.user_id != actor.pk:
        raise PermissionDenied
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def api_key_authenticate(secret: str) -> User | None:
    """The active user a key belongs to, or None for a malformed, unknown or revoked key or an inactive user."""
    scheme, _, rest = secret.strip().partition("_")
    prefix, _, _ = rest.partition("_")
    if scheme != API_KEY_SCHEME or not prefix:
        return None
    key = ApiKey.objects.select_related("user").filter(prefix=prefix, revoked_at=None).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(secret.strip())) or not key.user.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.user
