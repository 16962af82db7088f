"""Simultaneous submissions take turns: the round-robin's cursor moves under a lock of the form's row."""

from __future__ import annotations

import json
import threading

from django.db import connection, connections
from django.test import Client
from django_tenants.utils import tenant_context

from crm.leads.models import Lead
from tenants.accounts.models import Team
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.integrations.webforms.conftest import make_form

THREADS = 4
EACH = 5


def test_simultaneous_submissions_alternate(committed_db) -> None:
    workspace = committed_db()
    form = make_form(workspace)
    with tenant_context(workspace.tenant):
        team = Team.objects.create(name="Inbound")
        people = [user_create(email=f"rr{n}@example.com", password=PASSWORD, team=team) for n in range(2)]
        form.save(team=team)
    connection.set_schema_to_public()
    statuses: list[int] = []
    start = threading.Barrier(THREADS)

    def send(n: int) -> None:
        try:
            client = Client(HTTP_HOST=workspace.domain)
            start.wait()
            for i in range(EACH):
                body = {"name": f"Visitor {n}-{i}", "email": f"v{n}-{i}@example.com", "phone": ""}
                response = client.post(form.url, json.dumps(body), content_type="application/json",
                                       REMOTE_ADDR=f"10.0.0.{n + 1}")  # fmt: skip
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * THREADS * EACH
    with tenant_context(workspace.tenant):
        owners = list(Lead.objects.order_by("id").values_list("owner_id", flat=True))
    connection.set_schema_to_public()
    expected = [people[n % 2].pk for n in range(THREADS * EACH)]
    assert owners == expected
