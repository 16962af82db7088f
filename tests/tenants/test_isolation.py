"""Schema isolation at the database level, and per-tenant cache keys and file storage."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django_tenants.utils import schema_context

from tenants.accounts.models import User
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_row_written_in_a_is_absent_in_b(workspace, other_workspace) -> None:
    with schema_context(workspace.schema):
        user_create(email="only-in-a@example.com", password=PASSWORD)
        assert User.objects.filter(email="only-in-a@example.com").exists()
    with schema_context(other_workspace.schema):
        assert not User.objects.filter(email="only-in-a@example.com").exists()
        assert list(User.objects.values_list("email", flat=True)) == [other_workspace.owner.email]
    # The same at the SQL level: the table is the schema's own, not a shared one filtered by a column.
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*) FROM "{other_workspace.schema}".accounts_user WHERE email = %s', ["only-in-a@example.com"]
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            f'SELECT count(*) FROM "{workspace.schema}".accounts_user WHERE email = %s', ["only-in-a@example.com"]
        )
        assert cursor.fetchone()[0] == 1


def test_the_same_email_can_exist_in_two_workspaces_as_two_accounts(workspace, other_workspace) -> None:
    with schema_context(workspace.schema):
        a = user_create(email="shared@example.com", password=PASSWORD)
    with schema_context(other_workspace.schema):
        b = user_create(email="shared@example.com", password="another-password-77")
        assert not User.objects.get(email="shared@example.com").check_password(PASSWORD)
    assert a.email == b.email


def test_vendor_staff_in_public_are_not_workspace_users(workspace) -> None:
    with schema_context("public"):
        User.objects.create_user("staff@kontor.test", PASSWORD, is_staff=True)
    with schema_context(workspace.schema):
        assert not User.objects.filter(email="staff@kontor.test").exists()


def test_cache_keys_are_prefixed_with_the_tenant_schema(workspace, other_workspace) -> None:
    with schema_context(workspace.schema):
        cache.set("dashboard", "A's numbers", 30)
        assert cache.make_key("dashboard").startswith(f"{workspace.schema}:")
    try:
        with schema_context(other_workspace.schema):
            assert cache.get("dashboard") is None
            cache.set("dashboard", "B's numbers", 30)
        with schema_context(workspace.schema):
            assert cache.get("dashboard") == "A's numbers"
    finally:
        for schema in (workspace.schema, other_workspace.schema):
            with schema_context(schema):
                cache.delete("dashboard")


def test_uploaded_files_are_stored_per_schema(workspace, other_workspace, settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path
    with schema_context(workspace.schema):
        name = default_storage.save("contracts/offer.txt", ContentFile(b"A's offer"))
        assert (tmp_path / workspace.schema / name).read_bytes() == b"A's offer"
    with schema_context(other_workspace.schema):
        assert not default_storage.exists(name)


def test_active_users_are_counted_from_one_selector(workspace, other_workspace) -> None:
    from tenants.accounts.selectors import active_user_count, active_users

    with schema_context(workspace.schema):
        user_create(email="second@example.com", password=PASSWORD)
        inactive = user_create(email="gone@example.com", password=PASSWORD)
        User.objects.filter(pk=inactive.pk).update(is_active=False)
        assert active_user_count() == 2
        assert {u.email for u in active_users()} == {workspace.owner.email, "second@example.com"}
    with schema_context(other_workspace.schema):
        assert active_user_count() == 1
