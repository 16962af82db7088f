"""The client card stays fast for a client with thousands of rows: a fixed number of queries whatever the
data size, a capped timeline with older entries on demand, deal totals by aggregate."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.activities.models import Activity
from crm.contacts.models import Contact
from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.deals.models import Deal, Pipeline, Stage
from crm.files.models import Attachment
from crm.history.models import ChangeRecord
from crm.web.records.selectors import CARD_LIST_CAP, FILES_CAP, TIMELINE_PAGE
from tests.factories import CompanyFactory, ContactFactory, DealFactory, LeadFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db

# About half of these are the `SET search_path` django-tenants issues before each query.
CARD_QUERY_CEILING = 34


def _grow(company, *, n: int, owner) -> None:
    """Add n activities, deals (open, won, lost), contacts, files and history entries to the company."""
    now = timezone.now()
    pipeline = Pipeline.objects.order_by("position").first()
    stages = {s.outcome: s for s in Stage.objects.filter(pipeline=pipeline).order_by("-position")}
    Contact.objects.bulk_create(Contact(first_name=f"P{i}", last_name="Person", company=company) for i in range(n))
    Deal.objects.bulk_create(
        Deal(
            title=f"Deal {i}",
            company=company,
            pipeline=pipeline,
            stage=stages[("open", "won", "lost")[i % 3]],
            amount=Decimal("100.00"),
            currency="RUB" if i % 2 else "EUR",
            closed_at=None if i % 3 == 0 else now,
            owner=owner,
        )
        for i in range(n)
    )
    Activity.objects.bulk_create(
        Activity(
            kind=("task", "call", "note", "meeting")[i % 4],
            subject=f"Activity {i}",
            company=company,
            assignee=owner,
            due_at=now - datetime.timedelta(days=1) if i % 5 == 0 else now + datetime.timedelta(days=1),
            is_done=i % 2 == 0,
            created_at=now - datetime.timedelta(seconds=i + 1),
        )
        for i in range(n)
    )
    Attachment.objects.bulk_create(
        Attachment(file=f"attachments/x{i}.pdf", name=f"file{i}.pdf", size=10, company=company)
        for i in range(min(n, 100))
    )
    ChangeRecord.objects.bulk_create(
        ChangeRecord(
            record_type=RecordType.COMPANY,
            record_id=company.pk,
            action="updated",
            actor=owner,
            changes=[{"field": "name", "label": "name", "old": f"v{i}", "new": f"v{i + 1}"}],
            at=now - datetime.timedelta(seconds=i + 1, microseconds=500),
        )
        for i in range(n)
    )


def _queries(client, url: str) -> int:
    # Once first: the workspace's configuration (custom field definitions) is then read from the cache.
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("namespace", ["companies", "deals", "contacts", "leads"])
def test_card_query_count_does_not_grow_with_data(workspace, owner_client, namespace) -> None:
    with inside(workspace):
        CustomField.objects.create(record_type="company", key="manager", label="Manager", field_type="user")
        company = CompanyFactory(owner=workspace.owner, custom_fields={"manager": workspace.owner.pk})
        deal = DealFactory(company=company)
        contact = ContactFactory(company=company)
        lead = LeadFactory()
        pk = {"companies": company.pk, "deals": deal.pk, "contacts": contact.pk, "leads": lead.pk}[namespace]
        _grow(company, n=3, owner=workspace.owner)
    url = reverse(f"{namespace}:detail", args=[pk])
    _queries(owner_client, url)  # who is asking, now cached
    small = _queries(owner_client, url)
    with inside(workspace):
        _grow(company, n=400, owner=workspace.owner)
        Activity.objects.filter(company=company).update(deal=deal, contact=contact, lead=lead)
        Attachment.objects.filter(company=company).update(deal=deal, contact=contact, lead=lead)
    large = _queries(owner_client, url)
    assert large == small, (small, large)
    assert large <= CARD_QUERY_CEILING


def test_company_card_within_a_fixed_number_of_queries(workspace, owner_client, django_assert_max_num_queries) -> None:
    with inside(workspace):
        company = CompanyFactory(owner=workspace.owner)
        _grow(company, n=1000, owner=workspace.owner)
    with django_assert_max_num_queries(CARD_QUERY_CEILING):
        response = owner_client.get(company.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    # Timeline is capped, lists are capped, totals cover every deal.
    assert html.count('class="timeline-entry') == TIMELINE_PAGE
    assert 'data-testid="timeline-older"' in html
    assert html.count('data-testid="overdue"') >= 1
    card = response.context["card"]
    open_count = sum(t.count for t in card.open_totals)
    won_count = sum(t.count for t in card.won_totals)
    lost_count = sum(t.count for t in card.lost_totals)
    assert (open_count, won_count, lost_count) == (334, 333, 333)
    assert sum(t.amount for t in card.won_totals) == Decimal("33300.00")
    assert card.open_more and card.contacts_more and len(card.contacts) == CARD_LIST_CAP


def test_timeline_pages_through_everything_once(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory(owner=workspace.owner)
        _grow(company, n=60, owner=workspace.owner)
        expected = Activity.objects.count() + Attachment.objects.count() + ChangeRecord.objects.count()
    html = owner_client.get(company.get_absolute_url()).content.decode()
    seen = html.count('class="timeline-entry')
    pages = 1
    while match := re.search(r'href="([^"]*/timeline/\?before=[^"]+)"', html):
        html = owner_client.get(match.group(1).replace("&amp;", "&")).content.decode()
        seen += html.count('class="timeline-entry')
        pages += 1
        assert pages < 10
    assert seen == expected and pages == -(-expected // TIMELINE_PAGE)


def test_older_timeline_entries_come_as_a_fragment_for_htmx(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory(owner=workspace.owner)
        _grow(company, n=60, owner=workspace.owner)
    first = owner_client.get(company.get_absolute_url()).context["timeline"]
    url = reverse("companies:timeline", args=[company.pk])
    response = owner_client.get(url, {"before": first.older_than.isoformat()}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.count('class="timeline-entry') == TIMELINE_PAGE
    second = response.context["timeline"]
    assert not {(e.kind, e.item.pk) for e in first.entries} & {(e.kind, e.item.pk) for e in second.entries}
    assert max(e.at for e in second.entries) < min(e.at for e in first.entries)


@pytest.mark.parametrize("n", [3, FILES_CAP + 5])
def test_file_panel_shows_the_newest_files_read_with_the_timeline(workspace, owner_client, n) -> None:
    with inside(workspace):
        company = CompanyFactory(owner=workspace.owner)
        now = timezone.now()
        Attachment.objects.bulk_create(
            Attachment(
                file=f"attachments/f{i}.pdf",
                name=f"panel-file-{i:02d}.pdf",
                size=10,
                company=company,
                created_at=now - datetime.timedelta(minutes=i),
            )
            for i in range(n)
        )
    html = owner_client.get(reverse("companies:detail", args=[company.pk])).content.decode()
    panel = html[html.index('data-testid="files"') :]
    panel = panel[: panel.index("</section>")]
    assert re.findall(r"panel-file-(\d+)\.pdf", panel) == [f"{i:02d}" for i in range(min(n, FILES_CAP))]
