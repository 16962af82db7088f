"""Seed data behaves like data the services write: valid values, indexed for search, consistent links."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.core.normalize import clean_emails
from crm.core.phones import normalize_phone
from crm.deals.models import Deal
from crm.search.selectors import global_search
from crm.seed import SeedSize, seed_workspace

pytestmark = pytest.mark.django_db


def test_seeded_records_are_valid_and_searchable(in_workspace) -> None:
    report = seed_workspace(size=SeedSize.for_companies(40), owner_ids=[in_workspace.owner.pk], seed=7)
    assert report.rows["companies"] == 40 and report.rows["contacts"] == 120
    for contact in Contact.objects.all()[:50]:
        assert all(normalize_phone(p) == p for p in contact.phones)
        assert clean_emails(contact.emails) == contact.emails
    for company in Company.objects.all()[:20]:
        company.full_clean()
    deal = Deal.objects.select_related("stage").first()
    assert deal.pipeline_id == deal.stage.pipeline_id
    assert (deal.closed_at is None) == (deal.stage.outcome == "open")
    contact = Contact.objects.exclude(last_name="").first()
    by_name = [h.record_id for h in global_search(in_workspace.owner, contact.last_name, per_type=50)]
    assert contact.pk in by_name
    assert contact.pk in [h.record_id for h in global_search(in_workspace.owner, contact.phones[0])]
    # New ids continue after the seeded ones.
    assert Company.objects.create(name="After the seed").pk == Company.objects.order_by("-pk").first().pk
    # Only the last fortnight holds forgotten tasks; older work is done.
    assert not Activity.objects.filter(is_done=False, due_at__lt=timezone.now() - datetime.timedelta(days=15)).exists()


def test_seed_demo_command(workspace) -> None:
    subdomain = workspace.domain.split(".")[0]
    call_command("seed_demo", "--workspace", subdomain, "--companies", "5")
    call_command("seed_demo", "--workspace", subdomain, "--companies", "5", "--if-empty")
    connection.set_schema_to_public()
    from django_tenants.utils import tenant_context

    with tenant_context(workspace.tenant):
        assert Company.objects.count() == 5
        # The shipped business processes, published and on (once, though seeded twice).
        from crm.processes.models import ProcessDefinition

        installed = ProcessDefinition.objects.filter(is_active=True, current__isnull=False)
        assert sorted(installed.values_list("template", flat=True)) == [
            "call_back_in_a_year", "deal_won_shipment", "discount_approval", "new_web_lead",
        ]  # fmt: skip
    with pytest.raises(CommandError):
        call_command("seed_demo", "--workspace", "nosuch", "--companies", "5")
