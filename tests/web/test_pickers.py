"""Pickers of records and people search as you type: a server endpoint per kind answers the options matching
what is typed, through the access policy; every form that links records names it; the value sent is still
validated against what the user may see."""

from __future__ import annotations

import re

import factory
import pytest
from django.urls import reverse

from crm.activities.models import Activity
from crm.contacts.models import Contact
from crm.deals.services import pipelines_ensure_default
from crm.web.records.forms import PICKER_CAP
from tenants.accounts.services import user_deactivate
from tests.factories import CompanyFactory, ContactFactory, DealFactory, LeadFactory, ProductFactory, UserFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _offered(response) -> dict[str, str]:
    """value -> label of the options an answer offers."""
    assert response.status_code == 200, response.content
    html = response.content.decode()
    return dict(re.findall(r'<li role="option" data-value="(\d+)">([^<]*)</li>', html))


def _many_companies(workspace, count: int = PICKER_CAP + 5):
    """More companies than a select lists, all sorted before the Cyrillic one, which the select leaves out."""
    with inside(workspace):
        CompanyFactory.create_batch(count, name=factory_name())
        return CompanyFactory(name="Страсть ООО", owner=workspace.owner)


def factory_name() -> factory.Sequence:
    return factory.Sequence(lambda n: f"Alpha {n:04d}")


def test_a_cyrillic_company_beyond_the_first_options_is_found_by_part_of_its_name(workspace, owner_client) -> None:
    target = _many_companies(workspace)
    form_page = owner_client.get(reverse("contacts:create")).content.decode()
    assert f'value="{target.pk}"' not in form_page  # the select alone could never reach it
    assert f'data-picker="{reverse("pick:companies")}"' in form_page
    for typed in ("Страс", "страсть", "СТРАСТЬ ооо", "ооо"):
        offered = _offered(owner_client.get(reverse("pick:companies"), {"q": typed}, **HX))
        assert offered == {str(target.pk): "Страсть ООО"}, typed
    assert _offered(owner_client.get(reverse("pick:companies"), {"q": "Страсть Alpha"}, **HX)) == {}
    # The form accepts it, and re-renders it chosen when another field is wrong.
    response = owner_client.post(
        reverse("contacts:create"), {"first_name": "Ivan", "last_name": "Petrov", "company": target.pk}
    )
    assert response.status_code == 302, response.content
    with inside(workspace):
        assert Contact.objects.get(last_name="Petrov").company_id == target.pk


def test_a_form_sent_back_with_errors_keeps_a_record_found_by_search(workspace, owner_client) -> None:
    target = _many_companies(workspace)
    response = owner_client.post(reverse("deals:create"), {"title": "", "company": target.pk, "currency": "RUB"})
    assert response.status_code == 200
    assert re.search(rf'<option value="{target.pk}" selected>Страсть ООО</option>', response.content.decode())


def test_an_empty_query_offers_the_first_records_and_the_answer_is_bounded(workspace, owner_client) -> None:
    _many_companies(workspace, 30)
    offered = _offered(owner_client.get(reverse("pick:companies"), {"q": ""}, **HX))
    assert len(offered) == 20 and all(label.startswith("Alpha") for label in offered.values())
    assert "Type more letters" in owner_client.get(reverse("pick:companies"), **HX).content.decode()
    nothing = owner_client.get(reverse("pick:companies"), {"q": "Zzyzx\x00" + "a" * 5000}, **HX)
    assert nothing.status_code == 200 and "Nothing found" in nothing.content.decode()


def test_each_kind_searches_its_own_records(workspace, owner_client) -> None:
    with inside(workspace):
        pipelines_ensure_default()
        company = CompanyFactory(name="Ромашка")
        contact = ContactFactory(first_name="Анна", last_name="Кузнецова", company=company)
        deal = DealFactory(title="Поставка стульев", company=company)
        lead = LeadFactory(title="Заявка с сайта")
        product = ProductFactory(name="Стул офисный", sku="CH-01")
        ProductFactory(name="Стул старый", sku="CH-02", is_active=False)
        person = UserFactory(full_name="Мария Соколова")
    cases = {
        "companies": ("ром", company.pk),
        "contacts": ("кузн ан", contact.pk),
        "deals": ("стул", deal.pk),
        "leads": ("заяв", lead.pk),
        "products": ("стул", product.pk),
        "users": ("сокол", person.pk),
    }
    for kind, (typed, pk) in cases.items():
        assert list(_offered(owner_client.get(reverse(f"pick:{kind}"), {"q": typed}, **HX))) == [str(pk)], kind
    assert list(_offered(owner_client.get(reverse("pick:products"), {"q": "CH-0"}, **HX))) == [str(product.pk)]


def test_people_who_left_are_not_offered(workspace, owner_client) -> None:
    with inside(workspace):
        gone = UserFactory(full_name="Gone Person")
        user_deactivate(actor=workspace.owner, user=gone)
        UserFactory(full_name="Present Person")
    assert list(_offered(owner_client.get(reverse("pick:users"), {"q": "person"}, **HX)).values()) == ["Present Person"]


def test_another_workspace_records_are_never_offered(workspace, other_workspace, owner_client) -> None:
    with inside(other_workspace):
        theirs = CompanyFactory(name="Страсть ООО")
        UserFactory(full_name="Their Person")
    with inside(workspace):
        mine = CompanyFactory(name="Страсть и Ко")
    assert _offered(owner_client.get(reverse("pick:companies"), {"q": "страсть"}, **HX)) == {
        str(mine.pk): "Страсть и Ко"
    }
    assert _offered(owner_client.get(reverse("pick:users"), {"q": "Their"}, **HX)) == {}
    other_client = other_workspace.client(logged_in_as=other_workspace.owner)
    assert list(_offered(other_client.get(reverse("pick:companies"), {"q": "страсть"}, **HX))) == [str(theirs.pk)]


def test_records_the_user_may_not_see_are_neither_offered_nor_accepted(workspace) -> None:
    with inside(workspace):
        pipelines_ensure_default()
        manager = UserFactory(full_name="Own Scope")
        mine = CompanyFactory(name="Страсть моя", owner=manager)
        theirs = CompanyFactory(name="Страсть чужая", owner=workspace.owner)
        their_deal = DealFactory(title="Чужая сделка", owner=workspace.owner, company=theirs)
        ContactFactory(first_name="Чужой", last_name="Контакт", owner=workspace.owner, company=theirs)
    client = workspace.client(logged_in_as=manager)
    assert _offered(client.get(reverse("pick:companies"), {"q": "страсть"}, **HX)) == {str(mine.pk): "Страсть моя"}
    assert _offered(client.get(reverse("pick:deals"), {"q": "чужая"}, **HX)) == {}
    assert _offered(client.get(reverse("pick:contacts"), {"q": "чужой"}, **HX)) == {}
    # Sending the id anyway is refused, and nothing is created.
    response = client.post(reverse("contacts:create"), {"first_name": "A", "last_name": "B", "company": theirs.pk})
    assert response.status_code == 200 and "company" in response.context["form"].errors
    response = client.post(
        reverse("activities:create"), {"kind": "task", "subject": "Sneaky", "deal": their_deal.pk, "assignee": ""}
    )
    assert response.status_code == 200 and "deal" in response.context["form"].errors
    with inside(workspace):
        assert not Contact.objects.filter(last_name="B").exists()
        assert not Activity.objects.filter(subject="Sneaky").exists()


def test_every_form_that_links_records_searches(workspace, owner_client) -> None:
    with inside(workspace):
        pipelines_ensure_default()
        lead = LeadFactory(title="To convert")
        deal = DealFactory(title="With items")
        ProductFactory(name="Chair", sku="C-1")
    url = {kind: reverse(f"pick:{kind}") for kind in ("companies", "contacts", "deals", "leads", "users", "products")}
    pages = {
        reverse("companies:create"): ["users"],
        reverse("contacts:create"): ["companies", "users"],
        reverse("deals:create"): ["companies", "contacts", "users", "products"],
        reverse("leads:create"): ["users"],
        reverse("activities:create"): ["companies", "contacts", "deals", "leads", "users"],
        reverse("leads:convert", args=[lead.pk]): ["companies", "contacts"],
        reverse("deals:line_items", args=[deal.pk]): ["products"],
        reverse("companies:list"): ["users"],
        reverse("deals:list"): ["users"],
        reverse("activities:list"): ["users"],
        reverse("deals:board"): ["users"],
        reverse("calendar:week"): ["users"],
    }
    for page, kinds in pages.items():
        html = owner_client.get(page).content.decode()
        for kind in kinds:
            assert f'data-picker="{url[kind]}"' in html, (page, kind)
        assert "onchange=" not in html and "onclick=" not in html, page


def test_a_line_item_product_found_by_search_is_accepted(workspace, owner_client) -> None:
    with inside(workspace):
        pipelines_ensure_default()
        deal = DealFactory(title="Chairs")
        ProductFactory.create_batch(PICKER_CAP + 2, name=factory_name())
        late = ProductFactory(name="Zebra chair", sku="ZC-1", price=100)
    page = owner_client.get(reverse("deals:line_items", args=[deal.pk])).content.decode()
    assert f'value="{late.pk}"' not in page
    assert list(_offered(owner_client.get(reverse("pick:products"), {"q": "zebra"}, **HX))) == [str(late.pk)]
    data = {"items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0", "items-0-product": str(late.pk)}
    data |= {"items-0-quantity": "2"}
    response = owner_client.post(reverse("deals:line_items", args=[deal.pk]), data)
    assert response.status_code == 302, response.content
    with inside(workspace):
        assert [i.product_id for i in deal.line_items.all()] == [late.pk]


def test_the_merge_target_is_searched_as_you_type(workspace, owner_client) -> None:
    with inside(workspace):
        record = CompanyFactory(name="Страсть ООО")
        other = CompanyFactory(name="Страсть OOO (дубль)")
    page = owner_client.get(reverse("companies:merge", args=[record.pk])).content.decode()
    search = re.search(r'<input type="search" name="q"[^>]*data-testid="merge-search"[^>]*>', page, re.S)
    assert search and 'hx-get="' in search.group() and 'hx-target="#merge-found"' in search.group()
    found = owner_client.get(reverse("companies:merge", args=[record.pk]), {"q": "дубль"}, **HX).content.decode()
    block = found[found.index('<div id="merge-found"') :]
    assert f"?other={other.pk}" in block and f"?other={record.pk}" not in block
