"""Reads on workspace users and their API keys."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from tenants.accounts.models import ApiKey, User


def active_users() -> QuerySet[User]:
    """The workspace's active people, by name: owners, assignees, filters. Billing counts these seats."""
    return User.objects.filter(is_active=True).order_by("full_name", "email", "id")


def active_user_count() -> int:
    return User.objects.filter(is_active=True).count()


def api_keys_of(user: User) -> QuerySet[ApiKey]:
    """The user's own keys, revoked ones included (the profile shows when they were revoked)."""
    return ApiKey.objects.filter(user=user)


def api_key_get(user: User, pk: object) -> ApiKey:
    """One of the user's own keys; anyone else's is a 404, exactly like a missing one."""
    return get_object_or_404(api_keys_of(user), pk=pk)
