"""Writes on workspace users. Every path that creates or changes a user goes through here."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from tenants.accounts.models import User, normalize_email


@transaction.atomic
def user_create(*, email: str, password: str, full_name: str = "", is_workspace_admin: bool = False) -> User:
    """Create a user in the current schema; raises ValidationError on a bad email, name or password."""
    user = User(email=normalize_email(email), full_name=full_name.strip(), is_workspace_admin=is_workspace_admin)
    validate_password(password, user=user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user
