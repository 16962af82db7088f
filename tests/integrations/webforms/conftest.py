"""A website form connection in a workspace, and the inbound address with its secret."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from integrations.core.models import Connection
from integrations.core.services import connection_create
from integrations.webforms.models import WebForm
from integrations.webforms.services import webform_save
from tests.conftest import Workspace


@pytest.fixture(autouse=True)
def _fresh_rate_counts() -> Iterator[None]:
    """Schemas come back from the pool under the same names: each test starts with no calls counted."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("kontor:in:*"):
        client.delete(key)
    yield


@dataclass
class Form:
    workspace: Workspace
    connection_id: int
    token: str

    @property
    def url(self) -> str:
        return f"/integrations/in/webforms/{self.token}/"

    def client(self) -> Client:
        return Client(HTTP_HOST=self.workspace.domain)

    def post(self, data: dict[str, Any], **extra: Any) -> Any:
        response = self.client().post(self.url, data, **extra)
        connection.set_schema_to_public()
        return response

    def post_json(self, data: Any, **extra: Any) -> Any:
        body = data if isinstance(data, str | bytes) else __import__("json").dumps(data)
        response = self.client().post(self.url, body, content_type="application/json", **extra)
        connection.set_schema_to_public()
        return response

    def connection(self) -> Connection:
        return Connection.objects.get(pk=self.connection_id)

    def webform(self) -> WebForm:
        return WebForm.objects.get(connection_id=self.connection_id)

    def save(self, *, fields: list[dict[str, Any]] | None = None, **settings_: Any) -> None:
        """Change the form (inside the workspace's schema): its settings as given, its fields if given."""
        form = self.webform()
        current = {
            "team": form.team,
            "task_subject": form.task_subject,
            "task_due_minutes": form.task_due_minutes,
            "allowed_origins": form.allowed_origins,
            "success_message": form.success_message,
            "redirect_url": form.redirect_url,
            "honeypot": form.honeypot,
            "submit_label": form.submit_label,
            "lead_source": form.lead_source,
        }
        rows = fields
        if rows is None:
            rows = [
                {
                    "key": f.key,
                    "label": f.label,
                    "type": f.type,
                    "required": f.required,
                    "choices": f.choices,
                    "target": f.target,
                    "position": f.position,
                }
                for f in form.fields.all()
            ]
        webform_save(
            actor=self.workspace.owner, connection=self.connection(), settings={**current, **settings_}, fields=rows
        )


def make_form(workspace: Workspace, name: str = "Contact us") -> Form:
    with tenant_context(workspace.tenant):
        created = connection_create(actor=workspace.owner, kind="webforms", name=name)
    connection.set_schema_to_public()
    assert created.token is not None
    return Form(workspace=workspace, connection_id=created.connection.pk, token=created.token)


@pytest.fixture
def form(workspace: Workspace) -> Form:
    return make_form(workspace)
