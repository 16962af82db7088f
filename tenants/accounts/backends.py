"""Authentication backends: passwords as Django's ModelBackend checks them, the signed-in user from the cache."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from tenants.accounts import identity
from tenants.accounts.models import User


class CachedModelBackend(ModelBackend):
    """Every signed-in request loads its user (and role): from the identity cache, which any change of the user
    or role invalidates at once (identity.py). Logging in checks the password against the database, as before."""

    def get_user(self, user_id: Any) -> User | None:
        user = identity.user_by_id(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
