"""The receiver example of docs/integrations/webhooks.md is the code of tests/fakes/webhook_receiver.py, and
that code, taken from the document itself, verifies a real delivery and refuses a forged one."""

from __future__ import annotations

import json
import re
import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from crm.leads.services import lead_create
from tests.fakes.webhook_server import FakeReceiver
from tests.integrations.webhooks.test_webhooks import commit, hook

DOC = Path(settings.BASE_DIR) / "docs" / "integrations" / "webhooks.md"
EXAMPLE = Path(settings.BASE_DIR) / "tests" / "fakes" / "webhook_receiver.py"


def documented_example() -> str:
    text = DOC.read_text()
    found = re.search(r"<!-- receiver example -->\n```python\n(.*?)```", text, re.S)
    assert found, "the receiver example is missing from the document"
    return found.group(1)


def test_the_document_shows_the_tested_receiver() -> None:
    assert documented_example() == EXAMPLE.read_text()


@pytest.mark.django_db
def test_the_documented_receiver_verifies_a_real_delivery(workspace, receiver, django_capture_on_commit_callbacks):
    module = types.ModuleType("documented_receiver")
    exec(compile(documented_example(), str(DOC), "exec"), module.__dict__)
    fake = FakeReceiver(handler_base=module.WebhookHandler).start()
    try:
        hook(workspace, fake, kinds=["lead"])
        with tenant_context(workspace.tenant):
            lead = commit(django_capture_on_commit_callbacks, lead_create, actor=workspace.owner, data={"title": "Doc"})
        [arrival] = fake.arrivals
        assert arrival.status == 204
        assert [(e["type"], e["record_id"]) for e in fake.handled] == [("record.created", lead.pk)]
        # The same request with the body altered, or replayed with another timestamp, is refused by the example.
        for headers, body in (
            (arrival.headers, arrival.body.replace(b"Doc", b"Dog")),
            ({**arrival.headers, "Kontor-Webhook-Timestamp": "1"}, arrival.body),
            ({k: v for k, v in arrival.headers.items() if k != "Kontor-Signature"}, arrival.body),
        ):
            request = urllib.request.Request(fake.url, data=body, headers=headers, method="POST")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=5)
            assert refused.value.code == 401
        # Delivered twice, handled once.
        request = urllib.request.Request(fake.url, data=arrival.body, headers=arrival.headers, method="POST")
        with urllib.request.urlopen(request, timeout=5) as again:
            assert again.status == 204
        assert len(fake.handled) == 1
        assert json.loads(arrival.body)["data"]["title"] == "Doc"
    finally:
        fake.stop()
