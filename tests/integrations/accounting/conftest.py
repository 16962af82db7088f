"""A workspace with a 1C connection and a fake 1C that exchanges with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django_tenants.utils import tenant_context

from integrations.accounting.apps import KIND
from integrations.core.models import Connection
from integrations.core.services import connection_create
from tests.conftest import Workspace
from tests.fakes.onec_client import OneCClient

LOGIN = "site-exchange"
PASSWORD = "1c-exchange-password"


@dataclass
class OneC:
    workspace: Workspace
    connection: Connection
    token: str

    @property
    def path(self) -> str:
        with tenant_context(self.workspace.tenant):
            path = reverse("accounting_in:exchange", kwargs={"token": self.token})
        connection.set_schema_to_public()
        return path

    def client(self, *, login: str = LOGIN, password: str = PASSWORD) -> OneCClient:
        return OneCClient(self.workspace.client(), self.path, login, password)


def onec_for(workspace: Workspace, **settings: Any) -> OneC:
    with tenant_context(workspace.tenant):
        created = connection_create(
            actor=workspace.owner,
            kind=KIND,
            name="1C:Trade Management",
            settings={"version": "2.05", "encoding": "utf-8", **settings},
            secrets={"login": LOGIN, "password": PASSWORD},
        )
    connection.set_schema_to_public()
    assert created.token is not None
    return OneC(workspace, created.connection, created.token)


@pytest.fixture
def onec(workspace: Workspace) -> OneC:
    return onec_for(workspace)
