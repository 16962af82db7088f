"""A read-only workspace: every way of writing (a form, htmx, the API, a service called directly) is refused
with the reason and the way out and changes nothing; everything can still be read and exported, people can
still sign in and out and change their own password. Another workspace is never affected, either way round.
The billing banner says which state the workspace is in."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from billing import services
from billing.models import Account, State
from crm.activities.models import Activity
from crm.companies.models import Company
from crm.companies.services import company_create, company_delete, company_update
from infra.backups.models import Export
from tenants.access import WorkspaceReadOnly
from tenants.accounts.models import AuditEvent, Invitation, User
from tenants.accounts.roles import ADMIN, builtin_role
from tenants.accounts.services import invitation_create, invitation_token_make, user_deactivate
from tenants.models import Tenant
from tests.api.conftest import bearer_client, key_for
from tests.billing.stripe_support import account_of
from tests.conftest import PASSWORD, Workspace
from tests.factories import ActivityFactory, CompanyFactory, UserFactory
from tests.web.records_support import inside

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("billing_without_stripe")]
HX = {"HTTP_HX_REQUEST": "true"}
NEW_PASSWORD = "another-long-passphrase-42"


def close(workspace: Workspace) -> None:
    """This workspace's trial ends now, unpaid (and no other's)."""
    account = account_of(workspace)
    Account.objects.filter(pk=account.pk).update(
        trial_ends_at=timezone.now() - datetime.timedelta(seconds=1),
        trial_mail_sent_at=timezone.now() - datetime.timedelta(days=3),
    )
    assert services.states_advance()["trials_ended"] == 1
    # The fixture's tenant object is as it was loaded before; code that runs in the workspace reads it anew.
    workspace.tenant.refresh_from_db()
    assert workspace.tenant.read_only


def state_set(workspace: Workspace, state: State, *, until_days: int | None = None) -> None:
    """The account's state as Stripe or time would leave it, projected onto the workspace (no Stripe call)."""
    account = account_of(workspace)
    now = timezone.now()
    until = now + datetime.timedelta(days=until_days) if until_days is not None else None
    fields = {"state": state, "state_changed_at": now}
    if state == State.TRIAL:
        fields["trial_ends_at"] = until
    elif state == State.PAST_DUE:
        fields["grace_ends_at"] = until
    elif state == State.CANCELLED:
        fields.update(cancelled_at=now, delete_after=until)
    Account.objects.filter(pk=account.pk).update(**fields)
    account.refresh_from_db()
    services._project(account)
    workspace.tenant.refresh_from_db()


def member(workspace: Workspace, **fields) -> User:
    with inside(workspace):
        return UserFactory(**fields)


def companies(workspace: Workspace) -> list[str]:
    with inside(workspace):
        return sorted(Company.objects.values_list("name", flat=True))


def page(response) -> str:
    connection.set_schema_to_public()
    return response.content.decode()


def _company_form(name: str) -> dict[str, str]:
    return {"name": name, "tax_id": "", "phones": "", "emails": "", "tags": "", "owner": ""}


@pytest.fixture
def closed(workspace, owner_client) -> Workspace:
    with inside(workspace):
        CompanyFactory(name="Acme Existing", owner=workspace.owner)
    close(workspace)
    return workspace


# --- writes refused ----------------------------------------------------------------------------------------


def test_a_form_post_is_refused_with_the_reason_and_the_way_out_for_a_billing_admin(closed, owner_client) -> None:
    response = owner_client.post(reverse("companies:create"), _company_form("Vector Ltd"))
    text = page(response)
    assert response.status_code == 402
    assert 'data-testid="read-only"' in text
    assert "This workspace is read-only" in text
    assert f'href="{reverse("billing:page")}"' in text
    assert "Ask your administrator" not in text.split('data-testid="read-only"')[1]
    assert companies(closed) == ["Acme Existing"]


def test_the_refusal_tells_others_to_ask_their_administrator(closed) -> None:
    seller = member(closed)
    client = closed.client(logged_in_as=seller)
    response = client.post(reverse("companies:create"), _company_form("Vector Ltd"))
    text = page(response)
    assert response.status_code == 402
    refusal = text.split('data-testid="read-only"')[1]
    assert "Ask your administrator to subscribe or pay the open invoice." in refusal
    assert reverse("billing:page") not in refusal
    assert companies(closed) == ["Acme Existing"]


def test_an_htmx_post_is_refused(closed, owner_client) -> None:
    with inside(closed):
        company = Company.objects.get()
        task = ActivityFactory(company=company, subject="Call back", assignee=closed.owner)
    for url, data in (
        (reverse("companies:create"), _company_form("Vector Ltd")),
        (reverse("companies:quick_add", args=[company.pk]), {"kind": "task", "subject": "Call", "due_at": ""}),
        (reverse("activities:done", args=[task.pk]), {"done": "on", "result": "Ok"}),
    ):
        response = owner_client.post(url, data, **HX)
        assert response.status_code == 402, url
        # Plain text, which the page's htmx error note shows as it is.
        assert response["Content-Type"].startswith("text/plain")
        assert page(response).startswith("This workspace is read-only")
    assert companies(closed) == ["Acme Existing"]
    with inside(closed):
        assert list(Activity.objects.values_list("subject", "done_at")) == [("Call back", None)]


def test_api_writes_get_a_402_with_a_machine_readable_code(closed) -> None:
    api = bearer_client(closed, key_for(closed))
    with inside(closed):
        company = Company.objects.get()
    for response in (
        api.post("/companies/", {"name": "Vector Ltd"}),
        api.patch(f"/companies/{company.pk}", {"name": "Renamed"}),
        api.delete(f"/companies/{company.pk}"),
    ):
        assert response.status_code == 402
        body = response.json()
        assert body["code"] == "workspace_read_only" and body["state"] == "read_only" and body["detail"]
    assert companies(closed) == ["Acme Existing"]


def test_the_write_services_refuse_and_write_nothing(closed) -> None:
    with inside(closed):
        owner = User.objects.get(pk=closed.owner.pk)
        company = Company.objects.get()
        seller = UserFactory()
        audit_before = AuditEvent.objects.count()
        with pytest.raises(WorkspaceReadOnly):
            company_create(actor=owner, data={"name": "Vector Ltd"})
        with pytest.raises(WorkspaceReadOnly):
            company_update(actor=owner, company=company, data={"name": "Renamed"})
        with pytest.raises(WorkspaceReadOnly):
            company_delete(actor=owner, company=company)
        with pytest.raises(WorkspaceReadOnly):
            invitation_create(
                actor=owner, email="new@example.com", role=builtin_role(ADMIN), site_url="http://x.localhost"
            )
        with pytest.raises(WorkspaceReadOnly):
            user_deactivate(actor=owner, user=seller)
        assert list(Company.objects.values_list("name", flat=True)) == ["Acme Existing"]
        assert not Invitation.objects.exists()
        assert User.objects.get(pk=seller.pk).is_active
        assert AuditEvent.objects.count() == audit_before


# --- reads and the ways out stay open ----------------------------------------------------------------------


def test_everything_can_still_be_read_and_exported(closed, owner_client) -> None:
    with inside(closed):
        company = Company.objects.get()
    assert "Acme Existing" in page(owner_client.get(reverse("companies:list")))
    assert "Acme Existing" in page(owner_client.get(company.get_absolute_url()))
    assert "Acme Existing" in page(owner_client.get(reverse("search"), {"q": "acme"}))
    assert "Acme Existing" in page(owner_client.get(reverse("search"), {"q": "acme"}, **HX))
    export = owner_client.get(reverse("companies:export"))
    assert export.status_code == 200
    assert "Acme Existing" in b"".join(export.streaming_content).decode()
    connection.set_schema_to_public()

    # A key can still be made (a way to read the data out).
    api = bearer_client(closed, key_for(closed))
    listed = api.get("/companies/")
    assert listed.status_code == 200 and [c["name"] for c in listed.json()["items"]] == ["Acme Existing"]
    assert api.get(f"/companies/{company.pk}").status_code == 200


def test_the_full_export_can_be_asked_for(closed, owner_client, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        response = owner_client.post(reverse("backups:export"))
    assert response.status_code == 302
    connection.set_schema_to_public()
    assert Export.objects.filter(tenant=closed.tenant).count() == 1


def test_people_sign_in_and_out_and_change_their_own_password(closed) -> None:
    seller = member(closed)
    client = Client(HTTP_HOST=closed.domain)
    response = client.post(reverse("accounts:login"), {"username": seller.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("companies:list")).status_code == 200
    response = client.post(
        reverse("accounts:password"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, page(response)
    assert client.post(reverse("accounts:logout")).status_code == 302
    connection.set_schema_to_public()
    assert client.get(reverse("companies:list")).status_code == 302  # signed out
    with inside(closed):
        assert User.objects.get(pk=seller.pk).check_password(NEW_PASSWORD)
    again = Client(HTTP_HOST=closed.domain)
    response = again.post(reverse("accounts:login"), {"username": seller.email, "password": NEW_PASSWORD})
    assert response.status_code == 302


# --- isolation ---------------------------------------------------------------------------------------------


def test_a_read_only_workspace_does_not_affect_another_either_way(workspace, other_workspace) -> None:
    mine = workspace.client(logged_in_as=workspace.owner)
    theirs = other_workspace.client(logged_in_as=other_workspace.owner)
    close(other_workspace)

    response = mine.post(reverse("companies:create"), _company_form("Mine Ltd"))
    assert response.status_code == 302
    assert theirs.post(reverse("companies:create"), _company_form("Theirs Ltd")).status_code == 402
    connection.set_schema_to_public()
    assert bearer_client(workspace, key_for(workspace)).post("/companies/", {"name": "Mine API"}).status_code == 201
    api = bearer_client(other_workspace, key_for(other_workspace))
    assert api.post("/companies/", {"name": "Theirs API"}).status_code == 402
    assert companies(workspace) == ["Mine API", "Mine Ltd"]
    assert companies(other_workspace) == []
    with inside(workspace):
        company_create(actor=User.objects.get(pk=workspace.owner.pk), data={"name": "Mine service"})
    assert not Tenant.objects.get(pk=workspace.tenant.pk).read_only

    # And the other way round: theirs paid for (active), mine closed.
    state_set(other_workspace, State.ACTIVE)
    close(workspace)
    assert mine.post(reverse("companies:create"), _company_form("Mine 2")).status_code == 402
    connection.set_schema_to_public()
    assert theirs.post(reverse("companies:create"), _company_form("Theirs 2")).status_code == 302
    assert companies(workspace) == ["Mine API", "Mine Ltd", "Mine service"]
    assert companies(other_workspace) == ["Theirs 2"]


# --- the banner --------------------------------------------------------------------------------------------


def _banner(client: Client) -> dict[str, str] | None:
    text = page(client.get(reverse("companies:list")))
    found = re.search(r'<div [^>]*data-testid="billing-notice"[^>]*data-state="([a-z_]+)"', text)
    return {"state": found.group(1)} if found else None


@pytest.mark.parametrize(
    ("state", "until_days", "shown"),
    [
        (State.TRIAL, 10, False),
        (State.TRIAL, 8, False),
        (State.TRIAL, 7, True),
        (State.TRIAL, 1, True),
        (State.ACTIVE, None, False),
        (State.PAST_DUE, 5, True),
        (State.READ_ONLY, None, True),
        (State.CANCELLED, 20, True),
    ],
)
def test_the_banner_per_state(workspace, owner_client, state, until_days, shown) -> None:
    state_set(workspace, state, until_days=until_days)
    assert _banner(owner_client) == ({"state": str(state)} if shown else None)


def test_the_banner_is_shown_to_every_member_with_the_way_out_only_for_billing_admins(workspace, owner_client) -> None:
    state_set(workspace, State.PAST_DUE, until_days=3)
    seller = workspace.client(logged_in_as=member(workspace))
    assert _banner(seller) == {"state": "past_due"}
    seller_page = page(seller.get(reverse("companies:list")))
    owner_page = page(owner_client.get(reverse("companies:list")))
    assert "Your administrator has been told." in seller_page
    assert f'href="{reverse("billing:page")}"' not in seller_page
    assert "Update the card" in owner_page


def test_no_banner_when_billing_is_off(workspace, owner_client, settings) -> None:
    state_set(workspace, State.PAST_DUE, until_days=3)
    settings.BILLING_ENABLED = False
    assert _banner(owner_client) is None
    assert f'href="{reverse("billing:page")}"' not in page(owner_client.get(reverse("companies:list")))


# --- every route -------------------------------------------------------------------------------------------

# What stays writable in a read-only workspace (billing.middleware): signing in and out, one's own password,
# two-factor and API keys, the way out (billing), exports, and the administrator's unlocks of a person.
STAYS_OPEN = {
    "accounts:login",
    "accounts:login_two_factor",
    "accounts:logout",
    "accounts:password",
    "accounts:profile",
    "accounts:two_factor",
    "accounts:password_reset",
    "accounts:password_reset_confirm",
    "accounts:api_keys",
    "accounts:api_key_revoke",
    "backups:export",
    "manage:audit_export",
    "manage:user_two_factor_reset",
    "manage:user_unlock",
    "billing:page",
    "billing:checkout",
    "billing:portal",
}
_SAMPLES = {"int": "1", "str": "x", "slug": "x", "uuid": "00000000-0000-4000-8000-000000000001", "path": "x"}


def _routes() -> list[tuple[str, str]]:
    def walk(patterns: list, prefix: str, ns: str):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern), f"{ns}{p.namespace}:" if p.namespace else ns)
            else:
                yield f"{ns}{p.name}", prefix + str(p.pattern)

    routes = []
    for name, pattern in walk(get_resolver("platform_core.urls_tenant").url_patterns, "", ""):
        if pattern.startswith("api/"):
            continue  # the API is checked by its operations (below)
        path = "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: _SAMPLES[m.group(1) or "str"], pattern)
        routes.append((name, path))
    return routes


def _fingerprint(workspace: Workspace) -> dict[str, str]:
    """Every table of the workspace's schema, as a digest of its rows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", [workspace.schema])
        tables = [row[0] for row in cursor.fetchall()]
        digests = {}
        for table in tables:
            rows = "coalesce(string_agg(t::text, '|' ORDER BY t::text), '')"
            cursor.execute(f'SELECT md5({rows}) FROM "{workspace.schema}"."{table}" t')
            digests[table] = cursor.fetchone()[0]
    return digests


def test_every_write_route_is_refused_in_a_read_only_workspace(closed, owner_client) -> None:
    routes = _routes()
    assert len(routes) > 50 and STAYS_OPEN - {name for name, _ in routes} == set()
    before = _fingerprint(closed)
    allowed = []
    for name, path in routes:
        if name in STAYS_OPEN or name.endswith(":columns"):  # a person's own view of a list
            continue
        for method in ("post", "put", "patch", "delete"):
            response = getattr(owner_client, method)(path, {} if method == "post" else "", **HX)
            connection.set_schema_to_public()
            if response.status_code != 402:
                allowed.append((name, method, response.status_code))
    assert allowed == []
    assert _fingerprint(closed) == before


def test_every_write_operation_of_the_api_is_refused(closed) -> None:
    api = bearer_client(closed, key_for(closed))
    doc = api.get("/openapi.json").json()
    before = _fingerprint(closed)
    refused = 0
    for path, operations in doc["paths"].items():
        url = re.sub(r"\{(\w+)\}", "1", path)
        for method in operations:
            if method in ("post", "put", "patch", "delete"):
                response = api.request(method.upper(), url, {})
                assert response.status_code == 402, (method, path, response.status_code)
                assert response.json()["code"] == "workspace_read_only"
                refused += 1
    assert refused > 10
    assert _fingerprint(closed) == before


def test_an_invitation_cannot_be_accepted_and_the_visitor_is_told_why(closed) -> None:
    """A person joining is a write (and a seat): refused with the reason, even before they have an account."""
    with inside(closed):
        # Sent before the workspace closed.
        invitation = Invitation.objects.create(
            email="joiner@example.com",
            role=builtin_role(ADMIN),
            invited_by=User.objects.get(pk=closed.owner.pk),
            expires_at=timezone.now() + datetime.timedelta(days=3),
        )
        token = invitation_token_make(invitation)
    visitor = Client(HTTP_HOST=closed.domain)
    response = visitor.post(
        f"/invitation/{token}/", {"full_name": "Joiner", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    body = page(response)
    assert response.status_code == 402
    assert 'data-testid="read-only"' in body and "This workspace is read-only" in body
    with inside(closed):
        assert not User.objects.filter(email="joiner@example.com").exists()
