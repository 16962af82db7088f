"""Whether the current workspace's data may change.

A workspace is read-only when the layer above that bills it says so (`Tenant.read_only`): everything stays
visible and exportable, nothing changes. Two places enforce it: the request middleware (every form, htmx call
and API request that writes is answered before a view runs) and the write services themselves, through
`workspace_write`, for what does not come through a request (imports, integrations, processes, tasks).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

P = ParamSpec("P")
R = TypeVar("R")


class WorkspaceReadOnly(PermissionDenied):
    """A write refused because the workspace is read-only."""

    code = "workspace_read_only"

    def __init__(self) -> None:
        super().__init__(_("This workspace is read-only: its data can be viewed and exported, not changed."))


def workspace_read_only() -> bool:
    """Is the connection's workspace read-only? (The public schema never is.)"""
    tenant = getattr(connection, "tenant", None)
    return bool(getattr(tenant, "read_only", False))


def writes_check() -> None:
    if workspace_read_only():
        raise WorkspaceReadOnly


def workspace_write(func: Callable[P, R]) -> Callable[P, R]:
    """A write service: atomic, and refused (WorkspaceReadOnly, nothing written) in a read-only workspace."""
    atomic = transaction.atomic(func)

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        writes_check()
        return atomic(*args, **kwargs)

    return wrapper
