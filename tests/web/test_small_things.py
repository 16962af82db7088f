"""The small things users notice: each one here failed before it was fixed."""

from __future__ import annotations

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.activities.models import Activity
from crm.deals.models import Pipeline
from crm.deals.services import pipelines_ensure_default
from tenants.accounts.models import Invitation, Role
from tenants.accounts.roles import READ_ONLY, SALES_MANAGER, builtin_role
from tenants.accounts.services import invitation_create
from tests.factories import ActivityFactory, CompanyFactory, DealFactory, UserFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    assert found
    return found.group(1).strip()


def test_the_board_has_new_deal_in_its_pipeline(workspace, owner_client) -> None:
    with inside(workspace):
        pipelines_ensure_default()
        second = Pipeline.objects.create(name="Service", kind="sales", position=5)
    board = owner_client.get(reverse("deals:board"), {"pipeline": second.pk}).content.decode()
    assert f'href="{reverse("deals:create")}?pipeline={second.pk}"' in board
    form = owner_client.get(reverse("deals:create"), {"pipeline": second.pk}).content.decode()
    assert re.search(rf'<option value="{second.pk}" selected>Service</option>', form)
    # Someone who may not create deals is not offered it.
    with inside(workspace):
        reader = UserFactory(role=builtin_role(READ_ONLY))
    html = workspace.client(logged_in_as=reader).get(reverse("deals:board")).content.decode()
    assert 'data-testid="board-new-deal"' not in html


def test_my_day_does_not_praise_next_steps_when_there_are_no_deals(workspace, owner_client) -> None:
    html = owner_client.get(reverse("home")).content.decode()
    assert "Every open deal of yours has a next step planned." not in html
    assert 'data-testid="no-open-deals"' in html and "You have no open deals yet." in html
    with inside(workspace):
        pipelines_ensure_default()
        deal = DealFactory(owner=workspace.owner)
        ActivityFactory(deal=deal, assignee=workspace.owner, due_at=timezone.now() + datetime.timedelta(days=3))
    html = owner_client.get(reverse("home")).content.decode()
    assert "Every open deal of yours has a next step planned." in html and "no-open-deals" not in html


def test_the_invite_form_has_a_default_role_and_puts_errors_under_their_field(workspace, owner_client) -> None:
    html = owner_client.get(reverse("manage:invite")).content.decode()
    with inside(workspace):
        manager_role = Role.objects.get(builtin=SALES_MANAGER)
    assert re.search(rf'<option value="{manager_role.pk}" selected>', html)
    response = owner_client.post(reverse("manage:invite"), {"email": "", "full_name": "Anna", "role": ""})
    assert response.status_code == 422
    html = response.content.decode()
    for name in ("email", "role"):
        # The error follows its own input, before the next field's label.
        row = re.search(rf'<div class="form-row has-error">\s*<label for="id_{name}">.*?</div>', html, re.S)
        assert row and "This field is required." in row.group(), name
    name_row = re.search(r'<div class="form-row">\s*<label for="id_full_name">.*?</div>', html, re.S)
    assert name_row and "errorlist" not in name_row.group()
    with inside(workspace):
        assert not Invitation.objects.exists()


def test_settings_forms_label_fields_without_colons(workspace, owner_client) -> None:
    with inside(workspace):
        pipelines_ensure_default()
        pipeline = Pipeline.objects.first()
        team = workspace.owner.team
    pages = [
        reverse("manage:invite"),
        reverse("manage:teams"),
        reverse("manage:user", args=[workspace.owner.pk]),
        reverse("settings:pipelines"),
        reverse("settings:pipeline", args=[pipeline.pk]),
        reverse("settings:custom_fields"),
        reverse("manage:role_new"),
    ]
    if team is not None:
        pages.append(reverse("manage:team", args=[team.pk]))
    for page in pages:
        html = owner_client.get(page).content.decode()
        assert not re.search(r"<label[^>]*>[^<]*:</label>", html), page
        assert "<p><label" not in html, page


def test_the_role_matrix_selects_have_labels(workspace, owner_client) -> None:
    html = owner_client.get(reverse("manage:role_new")).content.decode()
    selects = re.findall(r"<select[^>]*name=\"grant_[^\"]+\"[^>]*>", html)
    assert selects and all('aria-label="' in s for s in selects)
    assert 'aria-label="Company: View"' in html


def test_password_reset_pages_have_a_title(workspace) -> None:
    client = Client(HTTP_HOST=workspace.domain)
    for url in (
        reverse("accounts:password_reset"),
        reverse("accounts:password_reset_done"),
        reverse("accounts:password_reset_confirm", args=["MQ", "set-password"]),
        reverse("accounts:password_reset_complete"),
    ):
        response = client.get(url, follow=True)
        title = _title(response.content.decode())
        assert not title.startswith("·") and title.split("·")[0].strip(), url


def test_the_audit_log_reads_like_sentences_not_dictionaries(workspace, owner_client) -> None:
    with inside(workspace):
        invitation_create(
            actor=workspace.owner,
            email="new@example.com",
            role=builtin_role(SALES_MANAGER),
            site_url="http://example.com/",
        )
    html = owner_client.get(reverse("manage:audit")).content.decode()
    assert "{'role'" not in html and "&#x27;role&#x27;" not in html
    details = re.findall(r'<ul class="audit-details" data-testid="audit-details">(.*?)</ul>', html, re.S)
    assert any("Role:</span> Sales manager" in d and "Team:</span> —" in d for d in details)


def test_done_in_next_step_shows_what_comes_next(workspace, owner_client) -> None:
    now = timezone.now()
    with inside(workspace):
        company = CompanyFactory(name="Romashka")
        first = ActivityFactory(company=company, subject="Call first", due_at=now + datetime.timedelta(hours=1))
        ActivityFactory(company=company, subject="Then meet", due_at=now + datetime.timedelta(days=2))
    card = owner_client.get(reverse("companies:detail", args=[company.pk])).content.decode()
    panel = card[card.index('id="next-action"') : card.index("</section>", card.index('id="next-action"'))]
    assert "Call first" in panel and f'name="card" value="companies:{company.pk}"' in panel
    response = owner_client.post(
        reverse("activities:done", args=[first.pk]), {"done": "on", "card": f"companies:{company.pk}"}, **HX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel next-action" id="next-action"')
    panel, rest = html.split("</section>", 1)
    assert "Then meet" in panel and "Call first" not in panel
    # The done one is updated in the timeline, out of band.
    assert f'id="activity-{first.pk}" hx-swap-oob="outerHTML"' in rest and "Call first" in rest
    with inside(workspace):
        assert Activity.objects.get(pk=first.pk).is_done


def test_done_from_a_card_the_user_may_not_see_changes_nothing(workspace) -> None:
    with inside(workspace):
        manager = UserFactory()
        theirs = CompanyFactory(name="Not yours", owner=workspace.owner)
        task = ActivityFactory(subject="My task", assignee=manager, created_by=manager)
    client = workspace.client(logged_in_as=manager)
    response = client.post(
        reverse("activities:done", args=[task.pk]), {"done": "on", "card": f"companies:{theirs.pk}"}, **HX
    )
    assert response.status_code == 404 and "Not yours" not in response.content.decode()
    with inside(workspace):
        task.refresh_from_db()
        assert not task.is_done


def test_pages_have_a_skip_link_to_the_content(workspace, owner_client) -> None:
    for url in (reverse("home"), reverse("companies:list")):
        html = owner_client.get(url).content.decode()
        assert html.index('class="skip-link" href="#main"') < html.index('<header class="top">')
        assert '<main class="content" id="main"' in html
    login = Client(HTTP_HOST=workspace.domain).get(reverse("accounts:login")).content.decode()
    assert 'href="#main"' in login and 'id="main"' in login


def test_the_bulk_bar_is_marked_for_hiding_until_something_is_selected(workspace, owner_client) -> None:
    html = owner_client.get(reverse("companies:list")).content.decode()
    assert "data-bulk-bar" in html and "data-bulk-count" in html
