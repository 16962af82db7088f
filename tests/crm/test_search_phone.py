"""Search by a phone typed as people type it: whole or partial, with the trunk prefix ('8 916 123'), with the
country code ('+7916'), without either ('916123') or by its last digits ('1234567'), in the global search, the
lists and the API; only within the workspace and only among the records the user may see."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from django_tenants.utils import tenant_context

from crm.search.models import SearchTerm
from crm.search.selectors import global_search
from crm.search.terms import REVERSED, query_readings
from tests.conftest import Workspace
from tests.factories import CompanyFactory, ContactFactory, LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

PHONE = "+79031234567"
# Every way a person types this number, whole or in part.
QUERIES = (
    "8903123",
    "8 903 123",
    "8-903-123",
    "1234567",
    "123-45-67",
    "34567",
    "+7903",
    "+7 903 123",
    "903123",
    "79031234",
    "8 (903) 123-45-67",
    "+7 903 123-45-67",
)
# Digits of the number that do not begin it, end it or follow its trunk prefix.
MISSES = ("8031234", "3123456", "8 903 124", "1234568", "+7 904")


def _records() -> set[tuple[str, str]]:
    CompanyFactory(name="Vympel", phones=[PHONE])
    ContactFactory(first_name="Olga", last_name="Orlova", company=None, phones=["+79169998877", PHONE])
    LeadFactory(title="Callback request", phone=PHONE)
    ContactFactory(first_name="Pavel", last_name="Other", company=None, phones=["+79267654321"])
    return {("company", "Vympel"), ("contact", "Olga Orlova"), ("lead", "Callback request")}


@pytest.mark.parametrize("query", QUERIES)
def test_every_form_of_the_number_finds_the_contact_company_and_lead(in_workspace, query) -> None:
    wanted = _records()
    found = {(str(h.record_type), h.title) for h in global_search(in_workspace.owner, query)}
    assert found == wanted


def test_other_digits_find_nothing(in_workspace) -> None:
    _records()
    for query in MISSES:
        assert global_search(in_workspace.owner, query) == [], query


def test_the_phone_is_indexed_by_its_last_digits(in_workspace) -> None:
    contact = ContactFactory(first_name="Olga", phones=[PHONE])
    terms = set(SearchTerm.objects.filter(record_type="contact", record_id=contact.pk).values_list("field", "term"))
    assert {("phones", "79031234567"), ("phones", "9031234567"), ("phones", REVERSED + "76543213097")} <= terms


def test_query_readings() -> None:
    assert query_readings("8 916 123") == ([], ["8916123", "916123", REVERSED + "3216198"])
    assert query_readings("+7916123") == ([], ["7916123"])
    assert query_readings("8 (916) 123-45-67") == ([], ["9161234567"])
    # Words, emails and short digits never probe the reversed phone terms.
    assert query_readings("olga 1234") == (["olga", "1234"], [])
    assert query_readings("~7654") == (["7654"], [])


def test_lists_and_api_find_the_number_by_its_parts(workspace, owner_client) -> None:
    with tenant_context(workspace.tenant):
        _records()
    connection.set_schema_to_public()
    for query in ("8 903 123", "8903123", "1234567", "+7903", "903123"):
        page = owner_client.get(reverse("contacts:list"), {"q": query}).content.decode()
        assert "Orlova" in page and "Pavel" not in page, query
        assert "Vympel" in owner_client.get(reverse("companies:list"), {"q": query}).content.decode(), query
        assert "Callback request" in owner_client.get(reverse("leads:list"), {"q": query}).content.decode(), query
        items = owner_client.get("/api/v1/contacts/", {"q": query}).json()["items"]
        assert [c["last_name"] for c in items] == ["Orlova"], query
    assert "Orlova" not in owner_client.get(reverse("contacts:list"), {"q": "3123456"}).content.decode()


def test_another_workspaces_numbers_never_match(workspace: Workspace, other_workspace: Workspace) -> None:
    with tenant_context(other_workspace.tenant):
        _records()
    connection.set_schema_to_public()
    client = workspace.client(logged_in_as=workspace.owner)
    with tenant_context(workspace.tenant):
        for query in QUERIES:
            assert global_search(workspace.owner, query) == [], query
    connection.set_schema_to_public()
    for query in ("8 903 123", "1234567", "+7903"):
        assert "Orlova" not in client.get(reverse("search"), {"q": query}, HTTP_HX_REQUEST="true").content.decode()
        assert "Orlova" not in client.get(reverse("contacts:list"), {"q": query}).content.decode()
        assert client.get("/api/v1/contacts/", {"q": query}).json()["items"] == []


def test_a_scoped_user_finds_only_their_own_numbers(in_workspace) -> None:
    manager = UserFactory()
    ContactFactory(first_name="Mine", last_name="Own", company=None, owner=manager, phones=["+79031234567"])
    ContactFactory(first_name="Theirs", last_name="Colleague", company=None, phones=["+79031234567"])
    # Many colleagues' numbers beginning or ending the same way cannot crowd out the manager's own.
    for n in range(45):
        ContactFactory(company=None, phones=[f"+7903123{n:04d}", f"+79{n + 50}1234567"])
    for query in ("8 903 123", "8903123", "1234567", "123-45-67", "+7903", "903123", "8 (903) 123-45-67"):
        assert [h.title for h in global_search(manager, query)] == ["Mine Own"], query
    owner_hits = {h.title for h in global_search(in_workspace.owner, "8 (903) 123-45-67")}
    assert owner_hits == {"Mine Own", "Theirs Colleague"}


def test_existing_phones_get_their_last_digits_terms_from_the_migration(in_workspace) -> None:
    _records()
    SearchTerm.objects.filter(term__startswith=REVERSED).delete()  # as the index stood before
    assert global_search(in_workspace.owner, "1234567") == []
    migration = importlib.import_module("crm.search.migrations.0004_phone_suffix_terms")
    migration._rederive(apps, None)
    assert len(global_search(in_workspace.owner, "1234567")) == 3
    assert {h.title for h in global_search(in_workspace.owner, "Orlova")} == {"Olga Orlova"}
