"""The integrations core: connections and their identity, sealed credentials, the pages (who may open them,
what they never show), the inbound checks, the exchange log and its retry."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import RequestFactory

from integrations.core import inbound, registry, secrets, selectors, services
from integrations.core.models import Connection, Exchange
from tenants.accounts.models import AuditEvent, User
from tenants.accounts.selectors import active_users, seats, users_for_admin
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD, Workspace
from tests.integrations.core_support import KIND, registered_kind
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db
PAGES = "/settings/integrations/"


@pytest.fixture(autouse=True)
def kind() -> Iterator[registry.ConnectionKind]:
    with registered_kind() as registered:
        yield registered


def _connect(workspace: Workspace, **overrides: Any) -> services.CreatedConnection:
    with inside(workspace):
        data = {
            "kind": KIND,
            "name": "Site",
            "settings": {"host": "pbx.example.com"},
            "secrets": {"password": "s3cr3t-pw"},
        }
        return services.connection_create(actor=workspace.owner, **{**data, **overrides})


def _manager(workspace: Workspace) -> User:
    with inside(workspace):
        return user_create(email="manager@example.com", password=PASSWORD, full_name="Sales Manager")


def _counts(workspace: Workspace) -> tuple[int, int, int]:
    with inside(workspace):
        return Connection.objects.count(), Exchange.objects.count(), User.objects.count()


# --- connections and their identity ------------------------------------------------------------------------


def test_a_connection_acts_as_an_identity_that_is_no_person(workspace) -> None:
    created = _connect(workspace)
    with inside(workspace):
        identity = created.connection.identity
        assert identity.kind == User.Kind.INTEGRATION
        assert identity.role.builtin == "integration"
        assert not identity.has_usable_password()
        assert identity not in seats() and identity not in active_users() and identity not in users_for_admin()
        assert AuditEvent.objects.filter(action=AuditEvent.Action.INTEGRATION_CREATED).count() == 1
    # It cannot sign in, whatever is tried.
    response = workspace.client().post("/login/", {"username": identity.email, "password": ""})
    assert response.status_code != 302


def test_credentials_are_sealed_and_the_inbound_secret_kept_as_a_hash(workspace) -> None:
    created = _connect(workspace)
    assert created.token
    with inside(workspace):
        conn = Connection.objects.get()
        with connection.cursor() as cursor:
            cursor.execute("SELECT secrets_sealed, token_hash, settings::text FROM integrations_connection")
            sealed, token_hash, settings_text = cursor.fetchone()
        assert "s3cr3t-pw" not in sealed and "s3cr3t-pw" not in settings_text
        assert created.token not in token_hash and token_hash == inbound.token_hash(created.token)
        assert conn.secret_names == ["password"]
        assert services.connection_secrets(conn) == {"password": "s3cr3t-pw"}
        assert inbound.connection_for_token(created.token, kind=KIND) == conn


def test_a_sealed_value_opens_only_for_its_workspace_and_connection(workspace, settings) -> None:
    box = secrets.seal({"a": "1"}, workspace_uid="w1", connection_uid="c1")
    assert secrets.unseal(box, workspace_uid="w1", connection_uid="c1") == {"a": "1"}
    for where in ({"workspace_uid": "w2", "connection_uid": "c1"}, {"workspace_uid": "w1", "connection_uid": "c2"}):
        with pytest.raises(secrets.SecretsUnreadable):
            secrets.unseal(box, **where)
    with pytest.raises(secrets.SecretsUnreadable):
        secrets.unseal(box.replace('"data": "', '"data": "AAAA'), workspace_uid="w1", connection_uid="c1")
    # A rotated ring still opens what the old key sealed, and new seals use the new key.
    old = base64.b64encode(os.urandom(32)).decode()
    settings.SECRETS_MASTER_KEYS = f"k1:{old}"
    sealed_k1 = secrets.seal({"a": "2"}, workspace_uid="w1", connection_uid="c1")
    settings.SECRETS_MASTER_KEYS = f"k2:{base64.b64encode(os.urandom(32)).decode()},k1:{old}"
    assert secrets.unseal(sealed_k1, workspace_uid="w1", connection_uid="c1") == {"a": "2"}
    assert secrets.key_id_of(secrets.seal({"a": "3"}, workspace_uid="w1", connection_uid="c1")) == "k2"
    settings.SECRETS_MASTER_KEYS = f"k2:{base64.b64encode(os.urandom(32)).decode()}"
    with pytest.raises(secrets.SecretsUnreadable, match="no master key 'k1'"):
        secrets.unseal(sealed_k1, workspace_uid="w1", connection_uid="c1")


def test_an_edit_keeps_a_credential_left_blank_and_replaces_one_given(workspace) -> None:
    conn = _connect(workspace).connection
    with inside(workspace):
        services.connection_update(
            actor=workspace.owner, connection=conn, name="Site 2", settings={"host": "h"}, secrets={"password": ""}
        )
        conn.refresh_from_db()
        assert services.connection_secrets(conn) == {"password": "s3cr3t-pw"} and conn.identity.full_name == "Site 2"
        services.connection_update(
            actor=workspace.owner, connection=conn, name="Site 2", settings={"host": "h"}, secrets={"password": "new"}
        )
        conn.refresh_from_db()
        assert services.connection_secrets(conn) == {"password": "new"}


def test_without_the_permission_nothing_is_connected_or_changed(workspace) -> None:
    manager = _manager(workspace)
    conn = _connect(workspace).connection
    before = _counts(workspace)
    with inside(workspace):
        with pytest.raises(PermissionDenied):
            services.connection_create(actor=manager, kind=KIND, name="Mine")
        with pytest.raises(PermissionDenied):
            services.connection_update(actor=manager, connection=conn, name="x", settings={})
        with pytest.raises(PermissionDenied):
            services.connection_token_rotate(actor=manager, connection=conn)
        with pytest.raises(PermissionDenied):
            services.connection_delete(actor=manager, connection=conn)
    assert _counts(workspace) == before


def test_removing_keeps_the_identity_deactivated_as_the_actor_of_what_it_did(workspace) -> None:
    conn = _connect(workspace).connection
    with inside(workspace):
        services.connection_delete(actor=workspace.owner, connection=conn)
        assert not Connection.objects.exists()
        identity = User.objects.get(kind=User.Kind.INTEGRATION)
        assert not identity.is_active


# --- the pages ---------------------------------------------------------------------------------------------


def test_the_administrator_connects_and_sees_the_secret_once(workspace, owner_client) -> None:
    response = owner_client.post(
        f"{PAGES}new/{KIND}/", {"name": "Website", "host": "example.com", "password": "pw-123456"}
    )
    assert response.status_code == 200
    token = response.context["token"]
    assert token in response.content.decode()
    with inside(workspace):
        conn = Connection.objects.get()
    detail = owner_client.get(f"{PAGES}{conn.pk}/").content.decode()
    assert token not in detail and "pw-123456" not in detail and conn.token_hint in detail
    listing = owner_client.get(PAGES).content.decode()
    assert "Website" in listing and token not in listing
    # A new address: the old secret stops working at once.
    again = owner_client.post(f"{PAGES}{conn.pk}/url/")
    assert again.status_code == 200 and again.context["token"] != token
    with inside(workspace), pytest.raises(inbound.InboundRefused):
        inbound.connection_for_token(token, kind=KIND)


def test_the_form_shows_field_errors_and_connects_nothing(workspace, owner_client) -> None:
    before = _counts(workspace)
    response = owner_client.post(f"{PAGES}new/{KIND}/", {"name": "", "host": "", "password": ""})
    assert response.status_code == 422
    assert response.context["form"].errors and response.context["form"].settings_form.errors
    assert _counts(workspace) == before


def test_people_without_the_permission_get_403_and_change_nothing(workspace) -> None:
    manager = _manager(workspace)
    conn = _connect(workspace).connection
    client = workspace.client(logged_in_as=manager)
    before = _counts(workspace)
    for method, url in (
        ("get", PAGES),
        ("get", f"{PAGES}new/{KIND}/"),
        ("post", f"{PAGES}new/{KIND}/"),
        ("get", f"{PAGES}{conn.pk}/"),
        ("post", f"{PAGES}{conn.pk}/"),
        ("post", f"{PAGES}{conn.pk}/url/"),
        ("post", f"{PAGES}{conn.pk}/toggle/"),
        ("post", f"{PAGES}{conn.pk}/delete/"),
    ):
        assert getattr(client, method)(url).status_code == 403, url
    assert _counts(workspace) == before
    with inside(workspace):
        assert Connection.objects.get().is_active


def test_another_workspace_sees_nothing_of_a_connection(workspace, other_workspace) -> None:
    conn = _connect(workspace).connection
    with inside(workspace):
        entry = Exchange.objects.create(connection=conn, direction="out", operation="x", status="failed")
    client = other_workspace.client(logged_in_as=other_workspace.owner)
    for url in (f"{PAGES}{conn.pk}/", f"{PAGES}{conn.pk}/log/{entry.pk}/"):
        assert client.get(url).status_code == 404
    assert client.post(f"{PAGES}{conn.pk}/delete/").status_code == 404
    assert "Site" not in client.get(PAGES).content.decode()
    assert _counts(workspace)[0] == 1


@pytest.mark.parametrize("url", ["new/no-such-kind/", "999999/", "999999/log/1/", "1/log/999999/"])
def test_odd_addresses_are_404(workspace, owner_client, url) -> None:
    assert owner_client.get(PAGES + url).status_code == 404


def test_odd_log_filters_show_the_page(workspace, owner_client) -> None:
    conn = _connect(workspace).connection
    for query in ("?status=bogus", "?page=abc", "?page=99999", "?status=%00"):
        assert owner_client.get(f"{PAGES}{conn.pk}/{query}").status_code == 200


def test_turning_off_refuses_inbound_calls(workspace, owner_client) -> None:
    created = _connect(workspace)
    owner_client.post(f"{PAGES}{created.connection.pk}/toggle/")
    with inside(workspace), pytest.raises(inbound.InboundRefused) as refused:
        inbound.connection_for_token(created.token or "", kind=KIND)
    assert refused.value.status == 404


# --- inbound checks ----------------------------------------------------------------------------------------


def test_bodies_beyond_the_limit_and_odd_lengths_are_refused() -> None:
    factory = RequestFactory()
    big = factory.post("/x", data=b"a" * 20, content_type="application/octet-stream")
    with pytest.raises(inbound.InboundRefused) as refused:
        inbound.body_read(big, limit=10)
    assert refused.value.status == 413
    odd = factory.post("/x", data=b"a", content_type="text/plain", CONTENT_LENGTH="abc")
    with pytest.raises(inbound.InboundRefused) as refused:
        inbound.body_read(odd)
    assert refused.value.status == 400
    assert inbound.body_read(factory.post("/x", data=b"abc", content_type="text/plain"), limit=10) == b"abc"


@pytest.mark.parametrize("token", ["", "x" * 200, "nul\x00", "unknown-token"])
def test_unknown_secrets_are_one_404(workspace, token) -> None:
    _connect(workspace)
    with inside(workspace), pytest.raises(inbound.InboundRefused) as refused:
        inbound.connection_for_token(token, kind=KIND)
    assert (refused.value.status, refused.value.code) == (404, "unknown_connection")


def test_a_token_of_another_kind_does_not_open(workspace) -> None:
    created = _connect(workspace)
    with inside(workspace), pytest.raises(inbound.InboundRefused):
        inbound.connection_for_token(created.token or "", kind="webforms")


def test_rate_limits_per_connection_and_address(workspace) -> None:
    conn = _connect(workspace).connection
    request = RequestFactory().post("/x", REMOTE_ADDR="203.0.113.7")
    with inside(workspace):
        inbound._redis().delete(*inbound._redis().keys(f"kontor:in:{workspace.schema}:*") or ["none"])
        for _ in range(3):
            inbound.rate_check(request, conn, per_connection=100, per_address=3)
        with pytest.raises(inbound.InboundRefused) as refused:
            inbound.rate_check(request, conn, per_connection=100, per_address=3)
        assert (refused.value.status, refused.value.retry_after) == (429, 60)
        other = RequestFactory().post("/x", REMOTE_ADDR="203.0.113.8")
        inbound.rate_check(other, conn, per_connection=100, per_address=3)
    response = inbound.refusal_response(refused.value)
    assert response.status_code == 429 and response["Retry-After"] == "60"


def test_signatures_must_match_be_fresh_and_new(workspace) -> None:
    conn = _connect(workspace).connection
    body = b'{"a": 1}'
    now = str(int(time.time()))
    good = inbound.signature_expected("secret", timestamp=now, body=body)
    with inside(workspace):
        inbound.signature_check(conn, secret="secret", timestamp=now, signature=good, body=body)
        cases = [
            (now, good, 409, "replayed"),
            (now, inbound.signature_expected("other", timestamp=now, body=body), 401, "bad_signature"),
            (now, "", 401, "bad_signature"),
            ("abc", good, 401, "bad_signature"),
            (str(int(time.time()) - 3600), good, 401, "stale_signature"),
        ]
        for timestamp, signature, status, code in cases:
            with pytest.raises(inbound.InboundRefused) as refused:
                inbound.signature_check(conn, secret="secret", timestamp=timestamp, signature=signature, body=body)
            assert (refused.value.status, refused.value.code) == (status, code)
        with pytest.raises(inbound.InboundRefused):
            inbound.signature_check(conn, secret="secret", timestamp=now, signature=good, body=body + b" ")


# --- the exchange log and its retry ------------------------------------------------------------------------


def test_a_failed_exchange_is_retried_from_the_log(workspace, owner_client) -> None:
    conn = _connect(workspace).connection
    runs: list[int] = []

    def again(entry: Exchange, actor: User) -> Exchange:
        runs.append(entry.pk)
        new = services.exchange_open(entry.connection, direction="run", operation=entry.operation, retry_of=entry)
        return services.exchange_close(new, status=Exchange.Status.OK, counts={"created": 2})

    registry.retry_register("coretest.run", again)
    with inside(workspace):
        failed = services.exchange_open(conn, direction="run", operation="coretest.run", replay={"n": 1})
        services.exchange_close(
            failed, status=Exchange.Status.FAILED, error="peer down", problems=[{"record": "r1", "error": "bad"}]
        )
        plain = services.exchange_open(conn, direction="run", operation="coretest.other")
        services.exchange_close(plain, status=Exchange.Status.FAILED)
    page = owner_client.get(f"{PAGES}{conn.pk}/log/{failed.pk}/").content.decode()
    assert "peer down" in page and "r1" in page and 'data-testid="exchange-retry"' in page
    response = owner_client.post(f"{PAGES}{conn.pk}/log/{failed.pk}/retry/")
    assert response.status_code == 302 and runs == [failed.pk]
    with inside(workspace):
        failed.refresh_from_db()
        assert failed.status == Exchange.Status.RETRIED
        assert Exchange.objects.get(retry_of=failed).counts == {"created": 2}
    # Retried already, and an entry without a replay: refused with a message, nothing run.
    owner_client.post(f"{PAGES}{conn.pk}/log/{failed.pk}/retry/")
    owner_client.post(f"{PAGES}{conn.pk}/log/{plain.pk}/retry/")
    assert runs == [failed.pk]


def test_a_retry_needs_the_permission_and_an_active_connection(workspace) -> None:
    manager = _manager(workspace)
    conn = _connect(workspace).connection
    registry.retry_register("coretest.run", lambda entry, actor: entry)
    with inside(workspace):
        failed = services.exchange_open(conn, direction="run", operation="coretest.run", replay={})
        services.exchange_close(failed, status=Exchange.Status.FAILED)
        with pytest.raises(PermissionDenied):
            services.exchange_retry(actor=manager, exchange=failed)
        services.connection_set_active(actor=workspace.owner, connection=conn, active=False)
        failed.connection.refresh_from_db()
        with pytest.raises(ValidationError):
            services.exchange_retry(actor=workspace.owner, exchange=failed)
        failed.refresh_from_db()
        assert failed.status == Exchange.Status.FAILED


def test_the_log_is_pruned_by_the_connection_that_writes(workspace) -> None:
    import datetime

    from django.utils import timezone

    conn = _connect(workspace).connection
    with inside(workspace):
        old = services.exchange_open(conn, direction="in", operation="x")
        Exchange.objects.filter(pk=old.pk).update(started_at=timezone.now() - datetime.timedelta(days=400))
        services.exchange_open(conn, direction="in", operation="x")
        assert services.exchanges_prune(conn, before=timezone.now() - datetime.timedelta(days=90)) == 1
        assert list(selectors.exchanges_of(conn).values_list("operation", flat=True)) == ["x"]


# --- the directory of active connections -------------------------------------------------------------------


def test_the_directory_lists_active_connections_without_walking_the_fleet(
    workspace, other_workspace, django_capture_on_commit_callbacks
) -> None:
    from integrations.core import directory

    directory._redis().delete(directory._KEY.format(kind=KIND))
    directory._redis().set(directory._BUILT, 1)
    with django_capture_on_commit_callbacks(execute=True):
        conn = _connect(workspace).connection
        other = _connect(other_workspace).connection
    assert {(workspace.schema, conn.pk), (other_workspace.schema, other.pk)} <= set(directory.members(KIND))
    with django_capture_on_commit_callbacks(execute=True), inside(workspace):
        services.connection_set_active(actor=workspace.owner, connection=conn, active=False)
    assert (workspace.schema, conn.pk) not in directory.members(KIND)
    with django_capture_on_commit_callbacks(execute=True), inside(other_workspace):
        services.connection_delete(actor=other_workspace.owner, connection=other)
    assert (other_workspace.schema, other.pk) not in directory.members(KIND)
    # Redis lost: the sets are read again from the workspaces, once.
    with inside(workspace):
        services.connection_set_active(actor=workspace.owner, connection=conn, active=True)
    directory._redis().delete(directory._BUILT, directory._KEY.format(kind=KIND))
    assert (workspace.schema, conn.pk) in directory.members(KIND)
    assert directory._redis().exists(directory._BUILT)
