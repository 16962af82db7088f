"""The access policy itself: scopes over the team tree, record-level checks, hidden fields in writes."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from crm.activities.models import Activity
from crm.activities.services import activity_delete
from crm.companies.models import Company
from crm.companies.selectors import companies_visible_to
from crm.companies.services import company_create, company_update
from crm.core.types import RecordType
from crm.deals.services import deal_create, deal_update
from crm.products.models import Product
from crm.products.services import product_update
from crm.search.selectors import CANDIDATES, global_search
from tenants.accounts import policy
from tenants.accounts.models import AuditEvent, Role, Team, User
from tenants.accounts.roles import ADMIN, READ_ONLY, SALES_HEAD, SALES_MANAGER, builtin_definitions, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import ActivityFactory, CompanyFactory, ContactFactory, ProductFactory

pytestmark = pytest.mark.django_db


def _person(email: str, role_key: str, team: Team | None = None) -> User:
    return user_create(email=email, password=PASSWORD, role=builtin_role(role_key), team=team)


@pytest.fixture
def org(in_workspace) -> dict[str, object]:
    """Head office > Sales > Field sales; Service beside Sales."""
    office = Team.objects.create(name="Head office")
    sales = Team.objects.create(name="Sales", parent=office)
    field = Team.objects.create(name="Field sales", parent=sales)
    service = Team.objects.create(name="Service", parent=office)
    return {
        "office": office,
        "sales": sales,
        "field": field,
        "service": service,
        "head": _person("head@example.com", SALES_HEAD, sales),
        "rep": _person("rep@example.com", SALES_MANAGER, field),
        "peer": _person("peer@example.com", SALES_MANAGER, field),
        "servant": _person("servant@example.com", SALES_MANAGER, service),
        "auditor": _person("auditor@example.com", READ_ONLY),
    }


def test_scopes_follow_ownership_and_the_team_tree(org) -> None:
    rep, peer, servant, head = org["rep"], org["peer"], org["servant"], org["head"]
    mine = CompanyFactory(name="Mine", owner=rep)
    peers = CompanyFactory(name="Peer's", owner=peer)
    services = CompanyFactory(name="Service's", owner=servant)
    nobody = CompanyFactory(name="Nobody's", owner=None)

    def names(user: User) -> set[str]:
        return set(companies_visible_to(user).values_list("name", flat=True))

    assert names(rep) == {"Mine"}  # own
    assert names(head) == {"Mine", "Peer's", "Service's", "Nobody's"}  # view all
    assert names(org["auditor"]) == names(head)
    # Edit "team" reaches the head's team and the teams below it, not the sibling team.
    assert policy.team_member_ids(head) == sorted([head.pk, rep.pk, peer.pk])
    for record, allowed in ((mine, True), (peers, True), (services, False), (nobody, False)):
        assert policy.can_on(head, policy.Action.EDIT, RecordType.COMPANY, record) is allowed, record.name
    assert policy.can_on(org["auditor"], policy.Action.VIEW, RecordType.COMPANY, mine)
    assert not policy.can_on(org["auditor"], policy.Action.EDIT, RecordType.COMPANY, mine)


def test_a_user_without_a_role_or_deactivated_may_do_nothing(org) -> None:
    company = CompanyFactory(owner=org["rep"])
    rep = org["rep"]
    rep.is_active = False
    assert not companies_visible_to(rep).exists()
    rep.is_active, rep.role = True, None
    assert not companies_visible_to(rep).exists()
    assert not policy.can_on(rep, policy.Action.VIEW, RecordType.COMPANY, company)


def test_an_action_never_reaches_beyond_what_the_user_sees(in_workspace) -> None:
    grants = {"company": {"view": "own", "edit": "all", "delete": "all"}}
    user = user_create(email="odd@example.com", password=PASSWORD, role=Role.objects.create(name="Odd", grants=grants))
    other = CompanyFactory(owner=in_workspace.owner)
    assert policy.scope_of(user, policy.Action.EDIT, RecordType.COMPANY) == "own"
    with pytest.raises(PermissionDenied):
        company_update(actor=user, company=other, data={"name": "Taken"})
    other.refresh_from_db()
    assert other.name != "Taken"


def test_a_scope_own_user_creates_only_what_they_own(org) -> None:
    rep, peer = org["rep"], org["peer"]
    with pytest.raises(ValidationError) as exc:
        company_create(actor=rep, data={"name": "For a colleague", "owner": peer.pk})
    assert "owner" in exc.value.message_dict
    assert not Company.objects.filter(name="For a colleague").exists()
    assert company_create(actor=rep, data={"name": "Mine"}).owner_id == rep.pk
    # The head (create all) gives a new client to anyone.
    assert company_create(actor=org["head"], data={"name": "Theirs", "owner": peer.pk}).owner_id == peer.pk


def test_an_activity_is_its_assignees_and_its_clients_owners(org) -> None:
    rep, servant = org["rep"], org["servant"]
    client = CompanyFactory(owner=rep)
    on_my_client = ActivityFactory(subject="On my client", company=client, assignee=servant)
    assigned = ActivityFactory(subject="Assigned to me", assignee=rep)
    elsewhere = ActivityFactory(subject="Elsewhere", assignee=servant)
    seen = set(policy.visible(rep, Activity.objects.all(), RecordType.ACTIVITY).values_list("subject", flat=True))
    assert seen == {"On my client", "Assigned to me"}
    assert policy.can_on(rep, policy.Action.DELETE, RecordType.ACTIVITY, on_my_client)
    assert policy.can_on(rep, policy.Action.DELETE, RecordType.ACTIVITY, assigned)
    with pytest.raises(PermissionDenied):
        activity_delete(actor=rep, activity=elsewhere)
    assert Activity.objects.filter(pk=elsewhere.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.RECORD_DELETED).exists()
    deleted = assigned.pk
    activity_delete(actor=rep, activity=assigned)
    event = AuditEvent.objects.get(action=AuditEvent.Action.RECORD_DELETED)
    assert (event.actor_id, event.target_type, event.target_id) == (rep.pk, "activity", str(deleted))


def test_hidden_fields_cannot_be_written(in_workspace) -> None:
    role = Role.objects.create(
        name="No money",
        grants=builtin_definitions()[ADMIN]["grants"],
        hidden_fields={"deal": ["amount"], "product": ["price"], "company": ["cf:vip"]},
    )
    user = user_create(email="nomoney@example.com", password=PASSWORD, role=role)
    deal = deal_create(actor=in_workspace.owner, data={"title": "Big one", "amount": "1000.00", "currency": "RUB"})
    with pytest.raises(ValidationError) as exc:
        deal_update(actor=user, deal=deal, data={"amount": "1.00", "title": "Renamed"})
    assert exc.value.message_dict == {"amount": ["This field cannot be set."]}
    deal.refresh_from_db()
    assert (deal.title, str(deal.amount)) == ("Big one", "1000.00")
    product = ProductFactory(price="10.00")
    with pytest.raises(ValidationError):
        product_update(actor=user, product=product, data={"price": "0.01"})
    assert str(Product.objects.get(pk=product.pk).price) == "10.00"
    with pytest.raises(ValidationError) as exc:
        company_create(actor=user, data={"name": "VIP", "custom_fields": {"vip": "yes"}})
    assert "cf_vip" in exc.value.message_dict
    assert not Company.objects.filter(name="VIP").exists()


def test_editing_a_deal_keeps_the_contacts_the_editor_cannot_see(org) -> None:
    rep, peer = org["rep"], org["peer"]
    mine, theirs = ContactFactory(owner=rep), ContactFactory(owner=peer)
    another = ContactFactory(owner=rep)
    deal = deal_create(actor=org["head"], data={"title": "Shared", "owner": rep.pk}, contacts=[mine.pk, theirs.pk])
    deal_update(actor=rep, deal=deal, data={"title": "Shared"}, contacts=[another.pk])
    assert set(deal.contacts.values_list("pk", flat=True)) == {another.pk, theirs.pk}
    stranger = ContactFactory(owner=org["servant"])
    with pytest.raises(ValidationError):
        deal_update(actor=rep, deal=deal, data={}, contacts=[stranger.pk])
    assert set(deal.contacts.values_list("pk", flat=True)) == {another.pk, theirs.pk}


@pytest.mark.parametrize("query", ["alpha", "alphabeta"])  # a short prefix, and one long enough to look first
def test_search_finds_a_scoped_users_records_among_many_colleagues_matches(org, query: str) -> None:
    # Colleagues' matches sort first and outnumber the candidates a search considers.
    for i in range(CANDIDATES + 10):
        CompanyFactory(name=f"Alphabetaa{i:03d}", owner=org["peer"])
    CompanyFactory(name="Alphabetazulu", owner=org["rep"])
    assert [hit.title for hit in global_search(org["rep"], query)] == ["Alphabetazulu"]
    assert len(global_search(org["head"], query, per_type=100)) == CANDIDATES
    connection.set_schema_to_public()


def test_search_names_a_contacts_company_only_to_those_who_may_see_it(org) -> None:
    company = CompanyFactory(name="Hidden Holdings", owner=org["servant"])
    ContactFactory(first_name="Zinaida", last_name="Kulikova", company=company, owner=org["rep"])
    (mine,) = global_search(org["rep"], "kulikova")
    assert mine.title == "Zinaida Kulikova" and "Hidden Holdings" not in mine.subtitle
    (theirs,) = global_search(org["head"], "kulikova")
    assert "Hidden Holdings" in theirs.subtitle


def test_a_merge_preview_counts_only_what_the_user_may_see(org) -> None:
    from crm.web.records.selectors import merge_counts

    rep, servant = org["rep"], org["servant"]
    company = CompanyFactory(owner=rep)
    ContactFactory(company=company, owner=rep)
    ContactFactory(company=company, owner=servant)
    ContactFactory(company=company, owner=servant)
    ActivityFactory(company=company, assignee=servant)  # on the rep's client: theirs to see
    assert merge_counts(rep, record=company)["Contacts"] == 1
    assert merge_counts(rep, record=company)["Activities"] == 1
    assert merge_counts(org["head"], record=company)["Contacts"] == 3
