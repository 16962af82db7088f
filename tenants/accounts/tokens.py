"""The one-time link that carries a new owner from the signup page into their workspace, logged in.

Sessions are per workspace host, so the public site cannot log anyone into `acme.<domain>` directly. The link
is signed, names the schema and user, expires in two minutes and dies once used: it embeds the user's
last_login, which logging in changes.
"""

from __future__ import annotations

from django.core import signing

from tenants.accounts.models import User

_SALT = "kontor.accounts.signup-handoff"
MAX_AGE_SECONDS = 120


def _login_marker(user: User) -> str:
    return user.last_login.isoformat() if user.last_login else ""


def handoff_token_make(*, user: User, schema_name: str) -> str:
    return signing.dumps({"u": user.pk, "s": schema_name, "l": _login_marker(user)}, salt=_SALT, compress=True)


def handoff_user(*, token: str, schema_name: str) -> User | None:
    """The active user of the current schema this token was made for, or None if it is not valid here."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != schema_name:
        return None
    user_id = data.get("u")
    if not isinstance(user_id, int):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or _login_marker(user) != data.get("l"):
        return None
    return user
