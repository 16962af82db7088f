"""Password hashing: Argon2id at the configured cost; older hashes still verify and are upgraded."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django_tenants.utils import schema_context

from tenants.accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_new_passwords_use_argon2id_at_the_configured_cost(workspace) -> None:
    with schema_context(workspace.schema):
        encoded = User.objects.get(pk=workspace.owner.pk).password
    assert encoded.startswith("argon2$argon2id$")
    assert f"m={settings.ARGON2_MEMORY_KIB},t={settings.ARGON2_TIME_COST},p={settings.ARGON2_PARALLELISM}" in encoded
    assert PASSWORD not in encoded


def test_a_hash_made_with_djangos_defaults_still_logs_in_and_is_upgraded(workspace) -> None:
    django_default = Argon2PasswordHasher()
    legacy = django_default.encode(PASSWORD, django_default.salt())
    assert "m=102400,t=2,p=8" in legacy
    with schema_context(workspace.schema):
        User.objects.filter(pk=workspace.owner.pk).update(password=legacy)
    client = workspace.client(logged_in_as=workspace.owner)
    assert client.get("/").status_code == 200
    with schema_context(workspace.schema):
        upgraded = User.objects.get(pk=workspace.owner.pk).password
    assert upgraded != legacy
    assert f"m={settings.ARGON2_MEMORY_KIB}," in upgraded
