"""A new workspace's guided start on My day: its steps, and sample data added and removed in one click, exactly
the records it made, by administrators only, in their own workspace only."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from crm.activities.models import Activity
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.deals.models import Deal, Stage
from crm.history.models import ChangeRecord
from crm.leads.models import Lead
from crm.search.models import SearchTerm
from crm.web.models import SampleRecord
from crm.web.onboarding.services import sample_data_add, sample_data_remove
from tests.factories import ActivityFactory, CompanyFactory, DealFactory, UserFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db
MODELS = (Company, Contact, Deal, Lead, Activity)


def _counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def test_sample_data_is_added_through_the_services_and_removed_exactly(workspace, in_workspace) -> None:
    owner = workspace.owner
    mine = CompanyFactory(name="Our real client", owner=owner)
    my_deal = DealFactory(title="Our real deal", company=mine, owner=owner)
    before = _counts()
    made = sample_data_add(actor=owner)
    after = _counts()
    assert made == sum(after.values()) - sum(before.values()) and made >= 10
    assert SampleRecord.objects.count() == made
    romashka = Company.objects.get(name="Ромашка ООО")
    assert romashka.tags == ["sample"] and romashka.owner == owner
    # Made like any record: history and search.
    assert ChangeRecord.objects.filter(record_type="company", record_id=romashka.pk).exists()
    assert SearchTerm.objects.filter(record_type="company", record_id=romashka.pk, term__startswith="ромаш").exists()
    with pytest.raises(ValidationError):
        sample_data_add(actor=owner)
    assert _counts() == after
    # Something of the team's own hangs on nothing sample; a sample record tagged like it stays sample only.
    own_task = ActivityFactory(subject="Our real task", company=mine, deal=my_deal)
    CompanyFactory(name="Also tagged sample", tags=["sample"], owner=owner)
    removed = sample_data_remove(actor=owner)
    assert removed == made
    assert not SampleRecord.objects.exists()
    assert not Company.objects.filter(name="Ромашка ООО").exists()
    assert set(Company.objects.values_list("name", flat=True)) == {"Our real client", "Also tagged sample"}
    assert list(Deal.objects.values_list("title", flat=True)) == ["Our real deal"]
    assert list(Activity.objects.values_list("pk", flat=True)) == [own_task.pk]
    assert not Contact.objects.exists() and not Lead.objects.exists()
    assert sample_data_remove(actor=owner) == 0


def test_a_sample_record_deleted_by_hand_is_skipped(workspace, in_workspace) -> None:
    sample_data_add(actor=workspace.owner)
    Company.objects.filter(name="Vector Logistics Ltd").delete()
    assert sample_data_remove(actor=workspace.owner) >= 10
    assert not Company.objects.exists() and not SampleRecord.objects.exists()


def test_only_administrators_add_or_remove_sample_data(workspace) -> None:
    with inside(workspace):
        manager = UserFactory()
        with pytest.raises(PermissionDenied):
            sample_data_add(actor=manager)
        assert _counts() == {m.__name__: 0 for m in MODELS}
        sample_data_add(actor=workspace.owner)
        before = _counts()
        with pytest.raises(PermissionDenied):
            sample_data_remove(actor=manager)
        assert _counts() == before
    client = workspace.client(logged_in_as=manager)
    assert client.post(reverse("start:sample_remove")).status_code == 403
    assert client.post(reverse("start:sample_add")).status_code == 403
    with inside(workspace):
        assert _counts() == before
        assert SampleRecord.objects.count() == sum(before.values())
    home = client.get(reverse("home")).content.decode()
    assert 'data-testid="sample-remove"' not in home and 'data-testid="sample-add"' not in home


def test_sample_data_stays_in_its_workspace(workspace, other_workspace) -> None:
    with inside(other_workspace):
        CompanyFactory(name="Their client")
        other_before = _counts()
    client = workspace.client(logged_in_as=workspace.owner)
    assert client.post(reverse("start:sample_add")).status_code == 302
    with inside(other_workspace):
        assert _counts() == other_before and not SampleRecord.objects.exists()
        sample_data_add(actor=other_workspace.owner)
        theirs = SampleRecord.objects.count()
    assert client.post(reverse("start:sample_remove")).status_code == 302
    with inside(workspace):
        assert _counts() == {m.__name__: 0 for m in MODELS}
    with inside(other_workspace):
        assert SampleRecord.objects.count() == theirs and Company.objects.filter(name="Ромашка ООО").exists()


def test_my_day_guides_a_new_workspace_until_it_has_its_own_client(workspace, owner_client) -> None:
    html = owner_client.get(reverse("home")).content.decode()
    assert 'data-testid="guided-start"' in html
    for step in ("invite", "pipeline", "company", "deal"):
        assert f'data-testid="start-{step}"' in html, step
    assert "✓" not in html and 'data-testid="sample-add"' in html
    # No import page exists, so no import step.
    assert "import" not in html.split('data-testid="guided-start"')[1].split("</section>")[0].lower()
    owner_client.post(reverse("start:sample_add"))
    html = owner_client.get(reverse("home")).content.decode()
    assert 'data-testid="sample-remove"' in html
    start = html.split('data-testid="guided-start"')[1].split("</section>")[0]
    # Sample records do not count as the team's first client or deal.
    assert 'data-testid="start-company"' in start and "✓" not in start
    with inside(workspace):
        Stage.objects.filter(name="Negotiation").update(name="Contract")
        UserFactory(full_name="A colleague")
        CompanyFactory(name="Our first client")
    start = owner_client.get(reverse("home")).content.decode().split('data-testid="guided-start"')[1]
    start = start.split("</section>")[0]
    assert start.count("✓") == 3  # invite, pipeline, company; no deal yet
    owner_client.post(reverse("start:sample_remove"))
    assert 'data-testid="guided-start"' not in owner_client.get(reverse("home")).content.decode()
