"""Fixtures of the REST API tests: a workspace's API key and clients that speak JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from tenants.accounts.services import api_key_create
from tests.conftest import Workspace


class ApiClient:
    """JSON in, JSON out, against /api/v1/ of one workspace; leaves the connection in the public schema."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        kwargs: dict[str, Any] = dict(extra)
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        response = getattr(self.client, method.lower())(url, **kwargs)
        connection.set_schema_to_public()
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, data=params) if params else self.request("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body if body is not None else {})

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


def key_for(workspace: Workspace, user: Any = None, name: str = "tests") -> str:
    with tenant_context(workspace.tenant):
        return api_key_create(actor=user or workspace.owner, name=name).secret


def bearer_client(workspace: Workspace, key: str) -> ApiClient:
    return ApiClient(Client(HTTP_HOST=workspace.domain, HTTP_AUTHORIZATION=f"Bearer {key}"))


@pytest.fixture
def api(workspace: Workspace) -> ApiClient:
    """The workspace owner, by API key."""
    return bearer_client(workspace, key_for(workspace))


@contextmanager
def inside(workspace: Workspace) -> Iterator[None]:
    with tenant_context(workspace.tenant):
        yield
