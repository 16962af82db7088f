"""Shared set-up of the record page tests: a logged-in owner, records made in the workspace's schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django_tenants.utils import tenant_context

from tests.conftest import Workspace


@contextmanager
def inside(workspace: Workspace) -> Iterator[None]:
    """Run database code in the workspace's schema (a request may have left the connection elsewhere)."""
    with tenant_context(workspace.tenant):
        yield
    connection.set_schema_to_public()


def errors_of(response: Any) -> dict[str, list[str]]:
    """Field errors of the page's form, as the template received them."""
    form = response.context["form"]
    return {name: [str(e) for e in errors] for name, errors in form.errors.items()}
