"""Call events per second through telephony's event handling, beside the CRM's own activity_create.

    python -m platform_core.embedded run -- python bench/integrations_telephony.py [--calls 100]

In a scratch database (`<name>_telephony_crmbench`, recreated), one workspace with `--contacts` contacts (each
with a phone) and an Asterisk and a Zadarma connection. Then, for `--calls` calls each (7 in 10 from a known
contact and answered, 2 in 10 from a known contact and missed, 1 in 10 from an unknown number):

- AMI: the realistic event sequence of a call as Asterisk sends it (Newchannel x2, DialBegin, DialEnd, Hangup
  x2), parsed from the wire format, fed to the CallTracker, the finished call logged (call_handle: the call,
  its activity, a task or a lead, the exchange log);
- Zadarma: its three notifications per call (NOTIFY_START, NOTIFY_INTERNAL, NOTIFY_END), form-encoded and
  signed, POSTed to the inbound endpoint in-process through the whole Django stack;
- the ceiling: activity_create of a call activity on the contact, called directly as the connection's identity.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

from bench.crm import open_database

PASSWORD = "bench-password-not-secret"
AMI_SECRET, ZD_KEY, ZD_SECRET = "bench-ami", "bench-key", "bench-secret"


def _plan(count: int, phones: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """(caller, outcome) per call."""
    plan = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.1:
            plan.append((f"+7903{i:07d}", "ANSWER"))
        else:
            plan.append((rng.choice(phones), "ANSWER" if roll < 0.8 else "NOANSWER"))
    return plan


def _poster(client: Any, url: str, body: str, signature: str) -> Callable[[], Any]:
    def post() -> Any:
        return client.post(url, body, content_type="application/x-www-form-urlencoded", HTTP_SIGNATURE=signature)

    return post


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds else "-"


def measure(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    from django.conf import settings
    from django.test import Client
    from django_tenants.utils import tenant_context

    from crm.activities.models import Activity
    from crm.activities.services import activity_create
    from crm.contacts.models import Contact
    from crm.core.types import RecordType
    from crm.search.services import search_index_update
    from integrations.core.services import connection_create
    from integrations.telephony import services
    from integrations.telephony.ami import CallTracker, MessageReader
    from integrations.telephony.kinds import ASTERISK, ZADARMA
    from tenants.context import use_public_schema
    from tenants.models import Domain
    from tenants.services import schema_script_ensure, workspace_create
    from tests.fakes.ami_server import block, inbound_call
    from tests.fakes.zadarma import inbound_sequence, notification

    settings.INTEGRATIONS_INBOUND_RATE_PER_CONNECTION = 10**9
    settings.INTEGRATIONS_INBOUND_RATE_PER_ADDRESS = 10**9
    rng = random.Random(14)
    schema_script_ensure()
    created = workspace_create(
        company_name="Telephony bench",
        subdomain="telbench",
        owner_email="owner@telbench.test",
        owner_password=PASSWORD,
        owner_name="Bench Owner",
    )
    tenant, owner = created.tenant, created.owner
    host = Domain.objects.get(tenant=tenant).domain
    with tenant_context(tenant):
        contacts = Contact.objects.bulk_create(
            Contact(first_name="Caller", last_name=f"N{i}", phones=[f"+7916{i:07d}"], owner=owner)
            for i in range(args.contacts)
        )
        for contact in contacts:
            search_index_update(RecordType.CONTACT, contact)
        phones = [c.phones[0] for c in contacts]
        common = {"extensions": {"101": owner.pk}, "region": "RU"}
        asterisk = connection_create(
            actor=owner,
            kind=ASTERISK,
            name="Bench PBX",
            settings={**common, "host": "127.0.0.1", "port": 5038, "username": "kontor"},
            secrets={"secret": AMI_SECRET},
        ).connection
        made = connection_create(
            actor=owner,
            kind=ZADARMA,
            name="Bench Zadarma",
            settings={**common, "time_zone": "UTC"},
            secrets={"api_key": ZD_KEY, "api_secret": ZD_SECRET},
        )
        zadarma, token = made.connection, made.token
        assert token is not None

        # AMI: wire bytes -> messages -> tracker -> call_handle.
        wire = b"".join(
            block(event)
            for n, (caller, status) in enumerate(_plan(args.calls, phones, rng))
            for event in inbound_call(linkedid=f"1800000000.{n}", caller=caller, status=status)
        )
        events = wire.count(b"Event: ")
        tracker, reader = CallTracker(extensions=["101"]), MessageReader()
        started = time.perf_counter()
        from django.utils import timezone

        handled = 0
        for message in reader.feed(wire):
            for call in tracker.feed(message, timezone.now()):
                services.call_handle(asterisk, call)
                handled += 1
        ami_seconds = time.perf_counter() - started
        assert handled == args.calls, handled

        # The ceiling: the CRM's own create service, one call activity per call.
        sample = rng.sample(contacts, min(args.calls, len(contacts)))
        identity = asterisk.identity
        started = time.perf_counter()
        for i in range(args.calls):
            contact = sample[i % len(sample)]
            activity_create(
                actor=identity,
                data={"kind": Activity.Kind.CALL, "subject": "Call", "contact": contact.pk, "is_done": True,
                      "call_direction": "inbound", "call_phone": contact.phones[0], "call_duration_seconds": 60},
            )  # fmt: skip
        ceiling_seconds = time.perf_counter() - started

    use_public_schema()
    # Zadarma: 3 signed notifications per call through the endpoint (whole Django stack, in-process).
    client = Client(HTTP_HOST=host)
    url = f"/integrations/in/telephony/zadarma/{token}/"
    posts: list[Callable[[], Any]] = []
    for n, (caller, status) in enumerate(_plan(args.calls, phones, rng)):
        for event, fields in inbound_sequence(
            pbx_call_id=f"zd{n}",
            caller=caller.lstrip("+"),
            disposition="answered" if status == "ANSWER" else "no answer",
        ):
            body, signature = notification(ZD_SECRET, event, **fields)
            posts.append(_poster(client, url, body, signature))
    started = time.perf_counter()
    for post in posts:
        response = post()
        assert response.status_code == 200, response.content
    zd_seconds = time.perf_counter() - started
    use_public_schema()
    with tenant_context(tenant):
        from integrations.telephony.models import Call

        logged = Call.objects.filter(connection=zadarma, logged_at__isnull=False).count()
        assert logged == args.calls, logged
    calls = args.calls
    ceiling = f"activity_create: {_rate(calls, ceiling_seconds)} activities"
    return [
        ("AMI call events through the tracker and call_log", f"{_rate(events, ami_seconds)} events "
         f"({_rate(calls, ami_seconds)} calls, {events / calls:.0f} events/call)", ceiling),
        ("Zadarma notifications through the endpoint", f"{_rate(len(posts), zd_seconds)} notifications "
         f"({_rate(calls, zd_seconds)} calls, 3 per call)", ceiling),
        ("ms per call: AMI / Zadarma / ceiling", f"{ami_seconds / calls * 1000:.1f} / {zd_seconds / calls * 1000:.1f}",
         f"{ceiling_seconds / calls * 1000:.1f}"),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100, help="calls per path")
    parser.add_argument("--contacts", type=int, default=1000, help="contacts with a phone in the workspace")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontor"))
    os.environ["DATABASE_URL"] = urlunsplit(url._replace(path=f"{url.path.rstrip('/') or '/kontor'}_telephony"))
    os.environ["EMAIL_URL"] = "memorymail://"
    open_database(reuse=False)
    rows = measure(args)
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'value':<52}  baseline / ceiling")
    for name, value, ceiling in rows:
        print(f"{name:<{width}}  {value:<52}  {ceiling}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
