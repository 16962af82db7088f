"""Every address other systems call, and click-to-call, answer odd input with a 4xx and write nothing: NUL
bytes, nulls, huge lists and values, bad encodings, odd query strings, on a real connection of each kind."""

from __future__ import annotations

import json

import pytest

from integrations.core.models import Exchange
from integrations.core.services import connection_create
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db

BODIES = [
    ("application/json", b"null"),
    ("application/json", b'{"name": null, "email": null}'),
    ("application/json", json.dumps({"name": "x" * 100_000}).encode()),
    ("application/json", json.dumps({"name": list(range(10_000))}).encode()),
    ("application/json", b'{"name": "nul\\u0000"}'),
    ("application/json", b"\xff\xfe\x00"),
    ("application/x-www-form-urlencoded", b"name=%00&email=%00"),
    ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(3000))),
    ("text/xml", b"<?xml version='1.0'?><a>\x00</a>"),
    ("application/octet-stream", b"\x00" * 1000),
]
QUERIES = ["", "?type=%00&mode=%00", "?type=sale&mode=file&filename=%00", "?type=sale&mode=import&filename=../../x",
           "?zd_echo=%00", "?type=sale&mode=checkauth"]  # fmt: skip


def _tokens(workspace) -> dict[str, str]:
    with inside(workspace):
        made = {kind: connection_create(actor=workspace.owner, kind=kind, name=kind) for kind in
                ("webforms", "accounting-1c", "telephony-zadarma")}  # fmt: skip
    return {kind: created.token or "" for kind, created in made.items()}


def test_odd_calls_in_are_4xx_and_create_nothing(workspace) -> None:
    tokens = _tokens(workspace)
    client = workspace.client()
    addresses = [
        f"/integrations/in/webforms/{tokens['webforms']}/",
        f"/integrations/in/accounting/{tokens['accounting-1c']}/exchange",
        f"/integrations/in/telephony/zadarma/{tokens['telephony-zadarma']}/",
        "/integrations/in/webforms/%00/",
        "/integrations/in/accounting/unknown/exchange",
    ]
    with inside(workspace):
        from crm.leads.models import Lead

        leads = Lead.objects.count()
    for address in addresses:
        for query in QUERIES:
            for content_type, body in BODIES:
                response = client.post(address + query, data=body, content_type=content_type)
                assert 400 <= response.status_code < 500 or (
                    response.status_code == 200 and b"failure" in (response.content)
                ), (address, query, content_type, body[:40], response.status_code)
            response = client.get(address + query)
            assert response.status_code < 500, (address, query, response.status_code)
    with inside(workspace):
        assert Lead.objects.count() == leads
        assert (
            not Exchange.objects.filter(status__in=[Exchange.Status.OK])
            .exclude(operation__startswith="accounting")
            .exists()
        )


@pytest.mark.parametrize(
    "data",
    [{}, {"record_type": "contact", "record_id": "\x00", "phone": "\x00"},
     {"record_type": "contact", "record_id": "99999999999999999999", "phone": "+79161234567"},
     {"record_type": "contact", "record_id": "999999", "phone": "+7" + "9" * 5000},
     {"record_type": "null", "record_id": "-1", "phone": "null"},
     {"record_type": "deal", "record_id": "1", "phone": "+79161234567"}],
)  # fmt: skip
def test_click_to_call_answers_odd_input_with_4xx(workspace, owner_client, data) -> None:
    response = owner_client.post("/integrations/telephony/call/", data)
    assert 400 <= response.status_code < 500, response.status_code
