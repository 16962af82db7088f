"""Pickers in a real browser: a Cyrillic company among more than a select lists is found by typing part of its
name, chosen with the keyboard, and the contact is saved linked to it; a deal's contacts are chosen as chips."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.contacts.models import Contact
from crm.web.records.forms import PICKER_CAP
from tests.conftest import PASSWORD
from tests.factories import CompanyFactory, UserFactory

pytestmark = pytest.mark.browser


def _log_in(page, base: str, ws) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(ws.owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def test_find_a_cyrillic_company_by_typing_and_save_a_contact_linked_to_it(page, ws, base) -> None:
    with tenant_context(ws.tenant):
        for i in range(PICKER_CAP + 10):
            CompanyFactory(name=f"Alpha {i:04d}", owner=ws.owner)
        target = CompanyFactory(name="Страсть ООО", owner=ws.owner)
        CompanyFactory(name="Страховой дом", owner=ws.owner)
    _log_in(page, base, ws)
    page.goto(f"{base}/contacts/new/")
    page.get_by_label("First name").fill("Иван")
    page.get_by_label("Last name").fill("Петров")
    company = page.get_by_role("combobox", name="Company")
    company.click()
    company.press_sequentially("стра")
    listbox = page.get_by_role("listbox")
    listbox.get_by_role("option", name="Страховой дом").wait_for()
    assert listbox.get_by_role("option", name="Страсть ООО").is_visible()
    company.press_sequentially("сть")
    page.get_by_role("option", name="Страховой дом").wait_for(state="detached")
    assert company.get_attribute("aria-expanded") == "true"
    company.press("ArrowDown")
    assert company.get_attribute("aria-activedescendant")
    company.press("Enter")  # chooses; does not send the form
    assert company.input_value() == "Страсть ООО"
    assert company.get_attribute("aria-expanded") == "false"
    assert page.url.endswith("/contacts/new/")
    # Escape closes the list and keeps the choice.
    company.press("ArrowDown")
    listbox.get_by_role("option").first.wait_for()
    company.press("Escape")
    assert company.get_attribute("aria-expanded") == "false" and company.input_value() == "Страсть ООО"
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(f"{base}/contacts/*/")
    with tenant_context(ws.tenant):
        contact = Contact.objects.get(last_name="Петров")
        assert contact.company_id == target.pk


def test_the_board_owner_filter_finds_a_colleague_among_many(page, ws, base) -> None:
    with tenant_context(ws.tenant):
        for i in range(30):
            UserFactory(full_name=f"Colleague {i:02d}")
        wanted = UserFactory(full_name="Жанна Петровна")
    _log_in(page, base, ws)
    page.goto(f"{base}/deals/board/")
    owner = page.get_by_role("combobox", name="Owner")
    assert owner.input_value() == "Anyone"
    owner.fill("жан")
    page.get_by_role("option", name="Жанна Петровна").click()
    page.wait_for_url(f"**owner={wanted.pk}*")
    assert page.get_by_role("combobox", name="Owner").input_value() == "Жанна Петровна"
