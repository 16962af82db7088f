"""The Backups page: a workspace's administrators see its own backups (never another workspace's), newest first,
in their language and time zone; a member without the permission sees nothing."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from infra.backups.models import Backup
from tenants.accounts.models import User
from tenants.accounts.roles import ADMIN, READ_ONLY, SALES_HEAD, builtin_definitions, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db


def _backup(workspace, *, days_ago: int, **fields) -> Backup:
    values = {
        "tenant": workspace.tenant,
        "schema_name": workspace.schema,
        "workspace_uid": workspace.tenant.uid,
        "created_at": timezone.now() - datetime.timedelta(days=days_ago),
        "status": Backup.Status.DONE,
        "size": 1_234_567,
        "rows": 12345,
        "files": 7,
        **fields,
    }
    return Backup.objects.create(**values)


def test_only_this_workspaces_backups_newest_first(workspace, other_workspace, owner_client) -> None:
    old = _backup(workspace, days_ago=3, verification=Backup.Verification.PASSED, verified_at=timezone.now())
    new = _backup(
        workspace,
        days_ago=1,
        trigger=Backup.Trigger.MANUAL,
        verification=Backup.Verification.FAILED,
        verified_at=timezone.now(),
        verification_message="row count of crm_deal differs",
    )
    foreign = _backup(other_workspace, days_ago=2, rows=999_999)
    response = owner_client.get(reverse("backups:page"))
    assert response.status_code == 200
    page = response.content.decode()
    shown = re.findall(r'data-backup="([^"]+)"', page)
    assert shown == [str(new.pk), str(old.pk)]
    assert str(foreign.pk) not in page and "999,999" not in page
    assert "row count of crm_deal differs" in page and "Verification failed" in page
    assert "Restored and verified" in page and "Manual" in page
    assert "1.2\xa0MB" in page and "12,345" in page  # locale-formatted size and count
    assert 'data-testid="backups-empty"' not in page
    # The other workspace's administrator sees its own, not this one's.
    other = other_workspace.client(logged_in_as=other_workspace.owner).get(reverse("backups:page")).content.decode()
    assert re.findall(r'data-backup="([^"]+)"', other) == [str(foreign.pk)]


def test_the_page_speaks_the_readers_language_and_time_zone(workspace) -> None:
    with inside(workspace):
        reader = user_create(email="lecteur@example.com", password=PASSWORD, role=builtin_role(ADMIN))
        User.objects.filter(pk=reader.pk).update(language="fr", time_zone="Asia/Tokyo")
    moment = datetime.datetime(2026, 11, 30, 22, 30, tzinfo=datetime.UTC)
    _backup(workspace, days_ago=0, created_at=moment, rows=12345)
    page = workspace.client(logged_in_as=reader).get(reverse("backups:page")).content.decode()
    assert "01/12/2026 07:30" in page  # Tokyo is 9 hours ahead: the next day
    assert "12\u202f345" in page or "12\xa0345" in page


def test_an_honest_empty_state(workspace, owner_client) -> None:
    page = owner_client.get(reverse("backups:page")).content.decode()
    assert 'data-testid="backups-empty"' in page and "No backup yet" in page
    assert 'data-testid="export-start"' in page


@pytest.mark.parametrize("role_key", [SALES_HEAD, READ_ONLY])
def test_members_without_the_permission_see_nothing(workspace, role_key) -> None:
    _backup(workspace, days_ago=1)
    with inside(workspace):
        member = user_create(email="member@example.com", password=PASSWORD, role=builtin_role(role_key))
    client = workspace.client(logged_in_as=member)
    response = client.get(reverse("backups:page"))
    assert response.status_code == 403
    assert "data-backup" not in response.content.decode()
    assert reverse("backups:page") not in client.get("/").content.decode()


def test_anonymous_visitors_are_sent_to_log_in(workspace) -> None:
    response = workspace.client().get(reverse("backups:page"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_only_the_administrator_role_has_the_permission() -> None:
    holders = [key for key, d in builtin_definitions().items() if "manage_backups" in d["permissions"]]
    assert holders == [ADMIN]
