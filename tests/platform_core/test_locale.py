"""Languages, time zones and formats: the person's language and time zone for every request, the workspace's
defaults (signup, settings), money and numbers read and shown in the reader's locale, phones formatted, mails in
the recipient's language."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils.translation import trans_real
from django_tenants.utils import schema_context, tenant_context

from crm.activities.models import Activity
from crm.core.formats import money, parse_decimal, phone
from crm.deals.models import Deal
from tenants.accounts.models import AuditEvent, User
from tenants.accounts.roles import SALES_MANAGER, builtin_role
from tenants.models import Tenant
from tests.conftest import PASSWORD, Workspace
from tests.factories import CompanyFactory, DealFactory, UserFactory
from tests.web.records_support import errors_of, inside

NBSP, NNBSP = "\u00a0", "\u202f"


# --- reading and writing numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ru", "fr", "en"])
@pytest.mark.parametrize(
    "typed",
    [
        "1 500 000,50",
        f"1{NBSP}500{NBSP}000,50",
        f"1{NNBSP}500{NNBSP}000,50",
        "1500000,50",
        "1,500,000.50",
        "1500000.50",
        "1.500.000,50",
        " 1500000,5 ",
    ],
)
def test_every_way_of_writing_an_amount_reads_the_same(language: str, typed: str) -> None:
    assert parse_decimal(typed, language) == Decimal("1500000.50")


@pytest.mark.parametrize(
    ("typed", "language", "expected"),
    [
        ("1,500", "en", Decimal("1500")),  # English groups with commas
        ("1,5", "ru", Decimal("1.5")),
        ("0,500", "ru", Decimal("0.5")),  # a group never starts with 0
        ("1500,000", "fr", Decimal("1500")),  # the first group of thousands has at most three digits
        ("-1 500,25", "ru", Decimal("-1500.25")),
        ("−7,5", "fr", Decimal("-7.5")),
        ("42", "ru", Decimal("42")),
    ],
)
def test_unambiguous_numbers(typed: str, language: str, expected: Decimal) -> None:
    assert parse_decimal(typed, language) == expected


@pytest.mark.parametrize(
    ("typed", "language"),
    [("1,500", "ru"), ("1,500", "fr"), ("1.500", "ru"), ("1.500", "en"), ("12.345", "fr")],
)
def test_a_separator_that_could_be_either_is_refused_not_guessed(typed: str, language: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_decimal(typed, language)
    assert refused.value.code == "ambiguous"


@pytest.mark.parametrize("typed", ["abc", "1,50,0", "1 50", "1,500.000.5", "1..5", "1,5,00", ",5", "5,", "1e5", ""])
def test_malformed_numbers_are_refused(typed: str) -> None:
    with pytest.raises(ValidationError):
        parse_decimal(typed, "ru")


def test_money_is_written_the_way_each_language_writes_it() -> None:
    amount = Decimal("1500000.50")
    assert money(amount, "RUB", "ru") == f"1{NBSP}500{NBSP}000,50{NBSP}₽"
    assert money(amount, "EUR", "fr") == f"1{NNBSP}500{NNBSP}000,50{NBSP}€"
    assert money(amount, "RUB", "en") == f"RUB{NBSP}1,500,000.50"
    assert money(Decimal("3"), "USD", "en") == "$3.00"
    assert money(None, "RUB", "en") == ""


def test_phones_are_shown_in_international_format() -> None:
    assert phone("+79161234567") == "+7 916 123-45-67"
    assert phone("+33142685300") == "+33 1 42 68 53 00"
    assert phone("not a phone") == "not a phone"


# --- the deal form in the reader's language ----------------------------------------------------------------


def _person_set(workspace: Workspace, pk: int, **fields: str) -> None:
    """As the profile page saves them (through the model: signed-in requests see the change at once)."""
    with inside(workspace):
        person = User.objects.get(pk=pk)
        for name, value in fields.items():
            setattr(person, name, value)
        person.save(update_fields=list(fields))


def _set_language(workspace: Workspace, user: User, language: str) -> None:
    _person_set(workspace, user.pk, language=language)


def _deal_form(amount: str) -> dict[str, str]:
    return {
        "title": "Supply",
        "currency": "RUB",
        "amount": amount,
        "items-TOTAL_FORMS": "0",
        "items-INITIAL_FORMS": "0",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "typed"),
    [("ru", "1500000,50"), ("ru", f"1{NBSP}500{NBSP}000,50"), ("ru", "1,500,000.50"), ("en", "1,500,000.50")],
)
def test_a_deal_amount_is_saved_as_typed(workspace, owner_client, language: str, typed: str) -> None:
    _set_language(workspace, workspace.owner, language)
    response = owner_client.post(reverse("deals:create"), _deal_form(typed))
    assert response.status_code == 302, errors_of(response)
    with inside(workspace):
        assert Deal.objects.get().amount == Decimal("1500000.50")


@pytest.mark.django_db
def test_an_ambiguous_amount_is_refused_with_a_message_and_nothing_is_saved(workspace, owner_client) -> None:
    _set_language(workspace, workspace.owner, "ru")
    response = owner_client.post(reverse("deals:create"), _deal_form("1,500"))
    assert response.status_code == 200
    [message] = errors_of(response)["amount"]
    assert "1500" in message and "1,5" in message
    assert 'value="1,500"' in response.content.decode()  # what was typed stays, not a reinterpretation
    with inside(workspace):
        assert not Deal.objects.exists()


@pytest.mark.django_db
def test_the_deal_form_shows_the_amount_in_the_reader_locale(workspace, owner_client) -> None:
    with inside(workspace):
        deal = DealFactory(amount=Decimal("1500000.50"))
    _set_language(workspace, workspace.owner, "ru")
    page = owner_client.get(reverse("deals:edit", args=[deal.pk])).content.decode()
    assert f'value="1{NBSP}500{NBSP}000,50"' in page
    _set_language(workspace, workspace.owner, "en")
    page = owner_client.get(reverse("deals:edit", args=[deal.pk])).content.decode()
    assert 'value="1,500,000.50"' in page
    # Saving the form unchanged keeps the amount.
    with inside(workspace):
        assert Deal.objects.get(pk=deal.pk).amount == Decimal("1500000.50")


@pytest.mark.django_db
def test_a_number_custom_field_reads_the_locale(workspace, owner_client) -> None:
    from crm.companies.models import Company
    from crm.customfields.models import CustomField

    with inside(workspace):
        CustomField.objects.create(record_type="company", key="staff", label="Staff", field_type="number")
        CustomField.objects.create(record_type="company", key="budget", label="Budget", field_type="money")
    _set_language(workspace, workspace.owner, "fr")
    form = {"name": "Vector", "cf_staff": "1 250,5", "cf_budget_0": "2 000 000,10", "cf_budget_1": "EUR"}
    response = owner_client.post(reverse("companies:create"), form)
    assert response.status_code == 302, errors_of(response)
    with inside(workspace):
        company = Company.objects.get()
        assert company.custom_fields == {"staff": "1250.5", "budget": {"amount": "2000000.10", "currency": "EUR"}}
    card = owner_client.get(company.get_absolute_url()).content.decode()
    assert f"2{NNBSP}000{NNBSP}000,10{NBSP}€" in card and f"1{NNBSP}250,5" in card


# --- one money format, phones formatted ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "ru"])
def test_one_money_format_on_every_page(workspace, owner_client, language: str) -> None:
    with inside(workspace):
        deal = DealFactory(amount=Decimal("4044000.00"), currency="RUB", owner=workspace.owner)
    _set_language(workspace, workspace.owner, language)
    expected = money(Decimal("4044000.00"), "RUB", language)
    pages = {
        "my day": reverse("home"),
        "card": deal.company.get_absolute_url(),
        "deal": deal.get_absolute_url(),
        "list": reverse("deals:list"),
        "board": reverse("deals:board"),
    }
    for name, url in pages.items():
        html = owner_client.get(url).content.decode()
        assert expected in html, name
        assert "4044000.00" not in html and "4,044,000.00 RUB" not in html, name


@pytest.mark.django_db
def test_phones_are_formatted_wherever_they_are_shown(workspace, owner_client) -> None:
    from tests.factories import ContactFactory

    with inside(workspace):
        company = CompanyFactory(phones=["+79161234567"])
        contact = ContactFactory(company=company, phones=["+79167654321"])
    for url, shown in (
        (company.get_absolute_url(), ["+7 916 123-45-67", "+7 916 765-43-21"]),
        (contact.get_absolute_url(), ["+7 916 765-43-21"]),
        (reverse("companies:list"), ["+7 916 123-45-67"]),
        (reverse("contacts:list"), ["+7 916 765-43-21"]),
    ):
        html = owner_client.get(url).content.decode()
        for text in shown:
            assert text in html, (url, text)
        assert ">+79161234567<" not in html and ">+79167654321<" not in html, url


# --- the person's language and time zone --------------------------------------------------------------------


def _workspace_defaults(workspace: Workspace, **fields: str) -> None:
    # Through save(), as the settings page does: the host -> tenant cache follows model writes.
    tenant = Tenant.objects.get(pk=workspace.tenant.pk)
    for name, value in fields.items():
        setattr(tenant, name, value)
    tenant.save(update_fields=list(fields))


def _html_lang(response) -> str:
    return response.content.decode().split('<html lang="', 1)[1].split('"', 1)[0]


@pytest.mark.django_db
def test_the_language_is_the_person_s_else_the_workspace_s(workspace, owner_client) -> None:
    _set_language(workspace, workspace.owner, "ru")
    response = owner_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="fr")
    assert _html_lang(response) == "ru" and response["Content-Language"] == "ru"
    _set_language(workspace, workspace.owner, "")
    _workspace_defaults(workspace, language="fr")
    response = owner_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="ru")
    assert _html_lang(response) == "fr" and response["Content-Language"] == "fr"


@pytest.mark.django_db
def test_visitors_get_their_browser_s_language_else_the_workspace_s(workspace, public_client) -> None:
    _workspace_defaults(workspace, language="fr")
    assert _html_lang(Client(HTTP_HOST=workspace.domain, HTTP_ACCEPT_LANGUAGE="ru").get("/login/")) == "ru"
    assert _html_lang(Client(HTTP_HOST=workspace.domain).get("/login/")) == "fr"
    assert _html_lang(Client(HTTP_HOST=settings.BASE_DOMAIN, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").get("/")) == "fr"
    landing = public_client.get("/")
    assert _html_lang(landing) == "en" and 'data-testid="language-switch"' in landing.content.decode()
    # The switch remembers the choice.
    switched = public_client.post("/i18n/setlang/", {"language": "ru", "next": "/signup/"})
    assert switched.status_code == 302 and switched["Location"] == "/signup/"
    assert _html_lang(public_client.get("/signup/")) == "ru"


@pytest.mark.django_db
def test_times_are_shown_and_read_in_the_person_s_time_zone(workspace, owner_client) -> None:
    _person_set(workspace, workspace.owner.pk, time_zone="Asia/Tokyo")
    form = {"kind": "task", "subject": "Call Osaka", "due_at": "2026-03-02T10:00"}
    response = owner_client.post(reverse("activities:create"), form)
    assert response.status_code == 302, errors_of(response)
    with inside(workspace):
        activity = Activity.objects.get()
    assert activity.due_at == datetime.datetime(2026, 3, 2, 1, 0, tzinfo=datetime.UTC)
    page = owner_client.get(reverse("activities:detail", args=[activity.pk])).content.decode()
    assert "10 a.m." in page and "1 a.m." not in page
    edit = owner_client.get(reverse("activities:edit", args=[activity.pk])).content.decode()
    assert 'value="2026-03-02T10:00"' in edit
    # Without a time zone of their own, the workspace's.
    _person_set(workspace, workspace.owner.pk, time_zone="")
    _workspace_defaults(workspace, time_zone="Europe/Moscow")
    assert "4 a.m." in owner_client.get(reverse("activities:detail", args=[activity.pk])).content.decode()


@pytest.mark.django_db
def test_a_person_chooses_their_language_and_time_zone(workspace, owner_client) -> None:
    page = owner_client.get(reverse("accounts:profile")).content.decode()
    assert 'name="language"' in page and 'name="time_zone"' in page and "Europe/Paris" in page
    response = owner_client.post(
        reverse("accounts:profile"), {"full_name": "Anna", "language": "fr", "time_zone": "Europe/Paris"}
    )
    assert response.status_code == 302
    with inside(workspace):
        owner = User.objects.get(pk=workspace.owner.pk)
        assert (owner.language, owner.time_zone) == ("fr", "Europe/Paris")
        assert AuditEvent.objects.filter(action=AuditEvent.Action.PROFILE_CHANGED).exists()
    assert _html_lang(owner_client.get(reverse("home"))) == "fr"
    refused = owner_client.post(reverse("accounts:profile"), {"full_name": "Anna", "language": "xx", "time_zone": ""})
    assert refused.status_code == 422
    with inside(workspace):
        assert User.objects.get(pk=workspace.owner.pk).language == "fr"


# --- the workspace's defaults -------------------------------------------------------------------------------


def _tenant(workspace: Workspace) -> tuple[str, str, str]:
    tenant = Tenant.objects.get(pk=workspace.tenant.pk)
    return tenant.language, tenant.currency, tenant.time_zone


@pytest.mark.django_db
def test_an_administrator_sets_the_workspace_defaults(workspace, owner_client) -> None:
    url = reverse("manage:workspace")
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(url, {"language": "ru", "currency": "RUB", "time_zone": "Asia/Yekaterinburg"})
    assert response.status_code == 302
    assert _tenant(workspace) == ("ru", "RUB", "Asia/Yekaterinburg")
    with inside(workspace):
        [entry] = AuditEvent.objects.filter(action=AuditEvent.Action.WORKSPACE_SETTINGS)
        assert entry.details["currency"] == {"from": "USD", "to": "RUB"}
    # New deals start in the workspace's currency.
    assert 'value="RUB" selected' in owner_client.get(reverse("deals:create")).content.decode()
    bad = owner_client.post(url, {"language": "ru", "currency": "XYZ", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 422 and set(bad.context["form"].errors) == {"currency", "time_zone"}
    assert _tenant(workspace) == ("ru", "RUB", "Asia/Yekaterinburg")


@pytest.mark.django_db
def test_only_administrators_of_this_workspace_change_its_defaults(workspace, other_workspace) -> None:
    with inside(workspace):
        manager = UserFactory(role=builtin_role(SALES_MANAGER))
    before = _tenant(workspace), _tenant(other_workspace)
    change = {"language": "fr", "currency": "EUR", "time_zone": "Europe/Paris"}
    member = workspace.client(logged_in_as=manager)
    assert member.get(reverse("manage:workspace")).status_code == 403
    assert member.post(reverse("manage:workspace"), change).status_code == 403
    anonymous = Client(HTTP_HOST=workspace.domain).post(reverse("manage:workspace"), change)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    # The other workspace's administrator changes their own workspace only.
    other_admin = other_workspace.client(logged_in_as=other_workspace.owner)
    assert other_admin.post(reverse("manage:workspace"), change).status_code == 302
    assert _tenant(workspace) == before[0] and _tenant(other_workspace) == ("fr", "EUR", "Europe/Paris")


@pytest.mark.django_db
def test_signup_takes_the_defaults_from_the_browser(public_client) -> None:
    visitor = Client(HTTP_HOST=settings.BASE_DOMAIN, HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9")
    page = visitor.get("/signup/").content.decode()
    assert 'value="ru" selected' in page and 'value="RUB" selected' in page and "time-zone.js" in page
    base = {"company_name": "Romashka", "owner_name": "Anna", "owner_password": PASSWORD, "time_zone": ""}
    for subdomain, extra, expected in (
        ("romashka-a", {}, ("ru", "RUB", "Europe/Moscow")),
        ("romashka-b", {"time_zone": "Asia/Novosibirsk"}, ("ru", "RUB", "Asia/Novosibirsk")),
        (
            "romashka-c",
            {"time_zone": "Mars/Olympus", "language": "fr", "currency": "CHF"},
            ("fr", "CHF", "Europe/Paris"),
        ),
    ):
        data = {**base, "subdomain": subdomain, "owner_email": f"anna@{subdomain}.test", **extra}
        response = visitor.post("/signup/", data)
        assert response.status_code == 302, response.content
        tenant = Tenant.objects.get(domains__domain__startswith=f"{subdomain}.")
        assert (tenant.language, tenant.currency, tenant.time_zone) == expected


# --- mails in the recipient's language ----------------------------------------------------------------------


@pytest.fixture
def looked_up() -> Iterator[list[tuple[str, str]]]:
    """(language, message) of every translation looked up (Django's gettext, watched, not replaced)."""
    seen: list[tuple[str, str]] = []
    original = trans_real.DjangoTranslation.gettext
    depth = [0]

    def watched(self: trans_real.DjangoTranslation, message: str) -> str:
        if not depth[0]:  # the language asked for, not the fallback a missing translation falls to
            seen.append((self.language(), message))
        depth[0] += 1
        try:
            return original(self, message)
        finally:
            depth[0] -= 1

    trans_real.DjangoTranslation.gettext = watched  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        trans_real.DjangoTranslation.gettext = original  # type: ignore[method-assign]


def _languages_of(seen: list[tuple[str, str]], needle: str) -> set[str]:
    return {language for language, message in seen if needle in message}


@pytest.mark.django_db
def test_the_invitation_is_written_in_the_workspace_s_language(
    workspace, owner_client, looked_up, django_capture_on_commit_callbacks
) -> None:
    _workspace_defaults(workspace, language="fr")
    _set_language(workspace, workspace.owner, "ru")
    with tenant_context(workspace.tenant):
        role = builtin_role(SALES_MANAGER)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("manage:invite"), {"email": "new@example.com", "role": role.pk})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert _languages_of(looked_up, "You are invited to") == {"fr"}


@pytest.mark.django_db
def test_the_password_reset_is_written_in_the_account_s_language(
    workspace, looked_up, django_capture_on_commit_callbacks
) -> None:
    with schema_context(workspace.schema):
        User.objects.filter(pk=workspace.owner.pk).update(language="fr")
    visitor = Client(HTTP_HOST=workspace.domain, HTTP_ACCEPT_LANGUAGE="ru")
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor.post(reverse("accounts:password_reset"), {"email": workspace.owner.email})
    assert response.status_code == 302 and len(mail.outbox) == 1
    assert _languages_of(looked_up, "Set a new password here:") == {"fr"}


@pytest.mark.django_db
def test_whole_numbers_read_the_locale_too(workspace, owner_client) -> None:
    from crm.deals.models import Stage

    with inside(workspace):
        stage = Stage.objects.filter(outcome="open").first()
    _set_language(workspace, workspace.owner, "fr")
    url = reverse("settings:stage_edit", args=[stage.pk])
    prefix = f"s{stage.pk}-"
    form = {f"{prefix}name": stage.name, f"{prefix}probability": "12,5", f"{prefix}outcome": "open"}
    owner_client.post(url, form)
    with inside(workspace):
        assert Stage.objects.get(pk=stage.pk).probability == stage.probability
    owner_client.post(url, {**form, f"{prefix}probability": "35"})
    with inside(workspace):
        assert Stage.objects.get(pk=stage.pk).probability == 35
    form = {"kind": "call", "subject": "Long call", "duration_minutes": "1 200"}
    assert owner_client.post(reverse("activities:create"), form).status_code == 302
    with inside(workspace):
        assert Activity.objects.get().duration_minutes == 1200


@pytest.mark.django_db
def test_the_history_shows_amounts_and_phones_in_the_reader_s_format(workspace, owner_client) -> None:
    from crm.deals.services import deal_update

    with inside(workspace):
        deal = DealFactory(amount=Decimal("1000.00"))
        deal_update(actor=workspace.owner, deal=deal, data={"amount": Decimal("2500000.50")})
    _set_language(workspace, workspace.owner, "ru")
    timeline = owner_client.get(reverse("deals:timeline", args=[deal.pk])).content.decode()
    assert f"1{NBSP}000,00" in timeline and f"2{NBSP}500{NBSP}000,50" in timeline
    assert "2500000.50" not in timeline
