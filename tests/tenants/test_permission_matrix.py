"""The permission matrix: every route of a workspace and every operation of its API, for every built-in role.

Routes come from the URL resolver and operations from the OpenAPI document. Each page must be declared in the
table below, and each operation declares its requirement where it is defined (`@requires`, published as the
operation's `x-requires`): a new page or an undeclared endpoint fails `test_every_route_and_operation_is_declared`
until someone says what it requires. Each is then requested by a user of each role on records owned by a
colleague of another team (and, for the scope-own role, on records of their own): the status must follow from
the role's grants as written in `tenants.accounts.roles` (not from the policy code under test), a refusal
changes nothing in the database, and no response shows a record the role may not see or a field it hides.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.core.api_access import EXTENSION
from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.deals.models import Pipeline
from crm.files.services import attachment_create
from integrations.core import registry
from integrations.core.models import Connection, Exchange
from tenants.accounts.models import Invitation, Role, Team, User
from tenants.accounts.roles import ADMIN, READ_ONLY, SALES_HEAD, SALES_MANAGER, builtin_definitions, builtin_role
from tenants.accounts.services import api_key_create, integration_identity_create, user_create
from tests.conftest import PASSWORD, Workspace
from tests.factories import CompanyFactory, ContactFactory, DealFactory, LeadFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _billing_on(settings: Any) -> None:
    """The billing page exists only with billing on; nothing here may reach Stripe (an address nobody answers)."""
    settings.BILLING_ENABLED = True
    settings.STRIPE_SECRET_KEY = "sk_test_matrix"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_matrix"
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"


T = RecordType
NAMESPACE_TYPES = {
    "companies": T.COMPANY,
    "contacts": T.CONTACT,
    "deals": T.DEAL,
    "leads": T.LEAD,
    "products": T.PRODUCT,
    "activities": T.ACTIVITY,
}
# A custom role: sees everything like a sales head, but deal amounts and contact phones/emails are hidden.
NO_AMOUNTS = "no_amounts"
# Another: works deals and their tasks, sees no company, contact, lead, product or file at all.
DEALS_ONLY = "deals_only"
DEALS_ONLY_GRANTS = {
    "deal": {"view": "all", "create": "own", "edit": "own", "delete": "own"},
    "activity": {"view": "own", "create": "own", "edit": "own"},
}
ROLES = (ADMIN, SALES_HEAD, SALES_MANAGER, READ_ONLY, NO_AMOUNTS, DEALS_ONLY)
HIDDEN = {T.DEAL: ["amount"], T.CONTACT: ["phones", "emails"]}
# Values of hidden fields: no response to the no-amounts role may contain them.
HIDDEN_VALUES = (
    *(f"987{sep}654" for sep in ("", " ", ",", "\xa0", "&nbsp;")),
    *(f"456{sep}789" for sep in ("", " ", ",", "\xa0", "&nbsp;")),
    "9167654321",
    "765-43-21",
    "765 43 21",
    "hidden-mail@example.com",
)
# Tables a denied request may touch: sessions, the audit log, login throttling, API key last use.
UNWATCHED = ("django_session", "accounts_auditevent", "accounts_apikey", "axes_")


# --- what each route requires ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """What a route requires. `action`/`record_type`: the role must grant the action on that kind of record.
    `on`: URL keywords naming records; each must be visible (else 404) and the action is checked on the last
    one. `permission`: a workspace permission. Neither: any signed-in member (or anyone, `anonymous`)."""

    action: str | None = None
    record_type: RecordType | None = None
    on: tuple[str, ...] = ()
    permission: str | None = None
    anonymous: bool = False
    post: dict[str, Any] | None = None
    methods: tuple[str, ...] = ("GET",)
    # For API operations: a JSON body.
    body: Any = None
    # Bulk actions take ids in the body: ids the user cannot see are skipped, not refused.
    invisible_is_noop: bool = False
    # The URL carries a signed link the probe cannot make: a role allowed the route gets 404 for it.
    signed_link: bool = False
    # Who may use it depends on the one record or step it names (an approval's approvers, a person's own
    # notification), which the probe's roles cannot express: the named tests check every role and workspace.
    covered_by: str = ""


MEMBER = Need()
ANONYMOUS = Need(anonymous=True)


def _create_payload(record_type: RecordType) -> dict[str, Any]:
    return {
        T.COMPANY: {"name": "Matrix Company"},
        T.CONTACT: {"first_name": "Matrix", "last_name": "Person"},
        T.DEAL: {"title": "Matrix deal", "currency": "RUB"},
        T.LEAD: {"title": "Matrix lead"},
        T.PRODUCT: {"sku": "MX-1", "name": "Matrix product", "price": "10", "currency": "RUB", "vat_rate": "0"},
        T.ACTIVITY: {"subject": "Matrix task", "kind": "task"},
    }[record_type]


def _page_needs() -> dict[str, Need]:
    needs: dict[str, Need] = {
        "home": MEMBER,
        "search": MEMBER,
        "accounts:welcome": MEMBER,
        "accounts:api_keys": Need(methods=("GET", "POST"), post={"name": "Matrix key"}),
        "accounts:api_key_revoke": Need(on=("pk",), methods=("POST",)),
        "accounts:login": ANONYMOUS,
        "accounts:login_two_factor": ANONYMOUS,
        "accounts:profile": Need(methods=("GET", "POST"), post={"full_name": "Matrix Name"}),
        "accounts:password": MEMBER,
        "accounts:two_factor": MEMBER,
        "accounts:security": Need(
            permission="manage_users", methods=("GET", "POST"), post={"require_two_factor": "on"}
        ),
        "invitation:accept": ANONYMOUS,
        # GET only: a POST would end the probe's session (the route is Django's LogoutView, POST only).
        "accounts:logout": MEMBER,
        "accounts:password_reset": ANONYMOUS,
        "accounts:password_reset_done": ANONYMOUS,
        "accounts:password_reset_confirm": ANONYMOUS,
        "accounts:password_reset_complete": ANONYMOUS,
        "api:openapi-json": MEMBER,
        "api:openapi-view": MEMBER,
        "deals:board": Need("view", T.DEAL),
        "deals:board_column": Need("view", T.DEAL, on=("stage_id",)),
        "deals:board_move": Need(
            "edit", T.DEAL, on=("deal",), methods=("POST",), post={"deal": "@deal", "stage": "@stage2"}
        ),
        "calendar:week": Need("view", T.ACTIVITY),
        "calendar:day": Need("view", T.ACTIVITY),
        "pick:companies": Need("view", T.COMPANY),
        "pick:contacts": Need("view", T.CONTACT),
        "pick:deals": Need("view", T.DEAL),
        "pick:leads": Need("view", T.LEAD),
        "pick:products": Need("view", T.PRODUCT),
        "pick:users": MEMBER,
        "start:sample_add": Need(permission="manage_users", methods=("POST",), post={}),
        "start:sample_remove": Need(permission="manage_users", methods=("POST",), post={}),
    }
    pipelines = "manage_pipelines"
    for name, post in {
        "pipelines": {"name": "Matrix pipeline", "kind": "sales"},
        "pipeline": {"name": "Renamed pipeline", "kind": "sales", "is_active": "on"},
        "stage_add": {"name": "Matrix stage", "probability": "10", "outcome": "open"},
        "stage_edit": {"name": "Renamed stage", "probability": "20", "outcome": "open"},
        "stage_move": {"direction": "down"},
        "stage_remove": {"move_deals_to": "@stage2"},
        "custom_fields": {"record_type": "deal", "label": "Matrix field", "field_type": "text"},
        "custom_field": {"label": "Renamed field"},
        "custom_field_move": {"direction": "down"},
        "custom_field_remove": {"confirm": "yes"},
    }.items():
        needs[f"settings:{name}"] = Need(permission=pipelines, on=("pk",), methods=("GET", "POST"), post=post)
    users, roles = "manage_users", "manage_roles"
    for name, permission, post in (
        ("users", users, None),
        ("invite", users, {"email": "matrix-invite@example.com", "role": "@role"}),
        ("user", users, {"role": "@role", "team": ""}),
        ("user_deactivate", users, {}),
        ("user_reactivate", users, {}),
        ("user_transfer", users, {"to": "@admin"}),
        ("user_two_factor_reset", users, {}),
        ("user_unlock", users, {}),
        ("invitation_revoke", users, {}),
        ("teams", users, {"name": "Matrix team"}),
        ("team", users, {"name": "Renamed team"}),
        ("team_delete", users, {}),
        ("roles", roles, None),
        ("role_new", roles, {"name": "Matrix role"}),
        ("role", roles, {"name": "Renamed role"}),
        ("role_copy", roles, {}),
        ("role_delete", roles, {}),
        ("workspace", users, {"language": "fr", "currency": "EUR", "time_zone": "Europe/Paris"}),
        ("audit", "view_audit_log", None),
        ("audit_export", "view_audit_log", None),
    ):
        methods = ("GET", "POST") if post is not None else ("GET",)
        needs[f"manage:{name}"] = Need(permission=permission, methods=methods, post=post)
    needs["backups:page"] = Need(permission="manage_backups")
    needs["backups:export"] = Need(permission="manage_backups", methods=("POST",), post={})
    needs["backups:export_status"] = Need(permission="manage_backups")
    needs["backups:export_download"] = Need(permission="manage_backups", signed_link=True)
    # An empty subscribe form is refused (422) and a portal without a customer goes back to the page: no Stripe.
    # crm.processes: the administrators' pages and the working calendar; the people's side (approvals, starting a
    # process from a card, notifications)
    processes = "manage_processes"
    needs["processes:list"] = Need(permission=processes)
    for name in ("versions", "instances", "instance", "test"):
        needs[f"processes:{name}"] = Need(permission=processes)
    needs["processes:new"] = Need(permission=processes, methods=("POST",), post={"name": "Matrix process"})
    for name, post in (
        ("publish", {}),
        ("active", {"active": "0"}),
        ("step_move", {"direction": "down"}),
        ("step_delete", {}),
        ("instance_cancel", {"reason": "Matrix"}),
    ):
        needs[f"processes:{name}"] = Need(permission=processes, methods=("POST",), post=post)
    for name in ("detail", "trigger", "step_add", "step_edit", "delete"):
        needs[f"processes:{name}"] = Need(permission=processes, methods=("GET", "POST"), post={})
    needs["processes_calendar:page"] = Need(
        permission=processes,
        methods=("GET", "POST"),
        post={"work_days": ["0", "1", "2", "3", "4"], "day_start": "09:00", "day_end": "18:00", "time_zone": "",
              "holidays": "", "extra_work_days": ""},
    )  # fmt: skip
    needs["process_work:notifications"] = MEMBER
    needs["process_work:unread"] = MEMBER
    needs["process_work:read_all"] = Need(methods=("POST",), post={})
    for name in ("decide", "start", "cancel", "open"):
        needs[f"process_work:{name}"] = Need(methods=("POST",), covered_by="tests/crm/processes/test_work_pages.py")
    needs["billing:page"] = Need(permission="manage_billing")
    needs["billing:checkout"] = Need(permission="manage_billing", methods=("POST",), post={})
    needs["billing:portal"] = Need(permission="manage_billing", methods=("POST",), post={})
    # Integrations: the core's pages, then each kind's (a connection of every registered kind is in the world).
    manage_integrations = "manage_integrations"
    needs["integrations:list"] = Need(permission=manage_integrations)
    needs["integrations:new"] = Need(permission=manage_integrations)
    for name, methods, post in (
        ("detail", ("GET", "POST"), {"name": "Renamed connection"}),
        ("token", ("POST",), {}),
        ("toggle", ("POST",), {}),
        ("delete", ("GET", "POST"), {}),
        ("exchange", ("GET",), None),
        ("retry", ("POST",), {}),
    ):
        needs[f"integrations:{name}"] = Need(permission=manage_integrations, methods=methods, post=post)
    for ns, record_type in NAMESPACE_TYPES.items():
        needs[f"{ns}:list"] = Need("view", record_type)
        needs[f"{ns}:export"] = Need("export", record_type)
        needs[f"{ns}:columns"] = Need("view", record_type, methods=("POST",), post={"columns": ["name"]})
        needs[f"{ns}:bulk"] = Need(
            "delete",
            record_type,
            on=("pk",),
            methods=("POST",),
            post={"action": "delete", "ids": "@self", "confirmed": "yes"},
            invisible_is_noop=True,
        )
        needs[f"{ns}:detail"] = Need("view", record_type, on=("pk",))
        needs[f"{ns}:create"] = Need("create", record_type, methods=("GET", "POST"), post=_create_payload(record_type))
        needs[f"{ns}:edit"] = Need(
            "edit", record_type, on=("pk",), methods=("GET", "POST"), post=_create_payload(record_type)
        )
        needs[f"{ns}:delete"] = Need("delete", record_type, on=("pk",), methods=("GET", "POST"), post={})
        if record_type in (T.COMPANY, T.CONTACT, T.DEAL, T.LEAD):
            needs[f"{ns}:timeline"] = Need("view", record_type, on=("pk",))
            needs[f"{ns}:quick_add"] = Need(
                "create", T.ACTIVITY, on=("pk",), methods=("POST",), post={"kind": "task", "subject": "Quick"}
            )
            needs[f"{ns}:file_upload"] = Need("create", T.FILE, on=("pk",), methods=("POST",), post={"file": "@upload"})
            needs[f"{ns}:file_download"] = Need("view", T.FILE, on=("pk", "file_pk"))
            needs[f"{ns}:file_delete"] = Need("delete", T.FILE, on=("pk", "file_pk"), methods=("POST",), post={})
    for ns in ("companies", "contacts"):
        needs[f"{ns}:merge"] = Need(
            "edit", NAMESPACE_TYPES[ns], on=("pk",), methods=("GET", "POST"), post={"other": "@other", "keep": "this"}
        )
    needs["deals:line_items"] = Need("edit", T.DEAL, on=("pk",), methods=("GET", "POST"), post={
        "items-TOTAL_FORMS": "1", "items-INITIAL_FORMS": "0", "items-0-name": "Matrix line",
        "items-0-quantity": "1", "items-0-price": "5", "items-0-unit": "pcs",
    })  # fmt: skip
    needs["leads:convert"] = Need(
        "edit", T.LEAD, on=("pk",), methods=("GET", "POST"), post={"company_mode": "create", "contact_mode": "create"}
    )
    needs["activities:done"] = Need("edit", T.ACTIVITY, on=("pk",), methods=("POST",), post={"done": "on"})
    # integrations.webhooks
    needs["webhooks:secret"] = Need(permission=manage_integrations, methods=("GET", "POST"), post={"action": "new"})
    needs["webhooks:deliveries"] = Need(permission=manage_integrations)
    needs["webhooks:ping"] = Need(permission=manage_integrations, methods=("POST",), post={})
    # integrations.webforms
    needs["webforms:builder"] = Need(permission=manage_integrations, methods=("GET", "POST"), post={})
    needs["webforms:snippet"] = Need(permission=manage_integrations)
    needs["webforms_inbound:submit"] = ANONYMOUS
    # integrations.telephony: a connection's calls; Zadarma's notifications (the secret in the path); click-to-call
    # from a card, for any member (the probe names no record: refused as bad input, 422, before anything is read).
    needs["telephony:calls"] = Need(permission=manage_integrations)
    needs["telephony_calls:zadarma"] = ANONYMOUS
    needs["telephony_calls:call"] = Need(methods=("POST",), post={})
    # integrations.accounting
    needs["accounting:setup"] = Need(permission="manage_integrations")
    needs["accounting:resend"] = Need(permission="manage_integrations", methods=("POST",), post={})
    needs["accounting_in:exchange"] = ANONYMOUS
    needs["accounting_card:invoice"] = Need("edit", T.DEAL, on=("deal",), methods=("POST",), post={})
    # integrations.email: its settings pages; writing from a contact's card logs an activity on a visible contact
    # (an empty form is refused with 422, so nothing is sent).
    for name, methods, post in (
        ("messages", ("GET",), None),
        ("sync", ("POST",), {}),
        ("templates", ("GET",), None),
        ("template_new", ("GET", "POST"), {"name": "Matrix", "subject": "S", "body": "B"}),
        ("template_edit", ("GET", "POST"), {"name": "Matrix edited", "subject": "S", "body": "B"}),
        ("template_delete", ("POST",), {}),
    ):
        needs[f"email:{name}"] = Need(permission=manage_integrations, methods=methods, post=post)
    needs["email:compose"] = Need("create", T.ACTIVITY, on=("contact_id",), methods=("GET", "POST"), post={})
    return needs


# The bodies the probes send to API operations that take one. What each operation requires is not written
# here: it is declared at the operation (crm.core.api_access.requires) and read from the OpenAPI document
# (`x-requires`), so that the expected statuses follow from the declarations and the role definitions.
API_BODIES: dict[str, Any] = {
    **{f"create_{t}": _create_payload(t) for t in (T.COMPANY, T.CONTACT, T.LEAD, T.DEAL, T.PRODUCT, T.ACTIVITY)},
    **{f"update_{t}": {"tags": ["matrix"]} for t in (T.COMPANY, T.CONTACT, T.LEAD, T.DEAL)},
    "update_product": {"name": "Renamed"},
    "update_activity": {"subject": "Renamed"},
    "convert_lead": {},
    "move_deal": {"stage": "@stage2"},
    "set_deal_line_items": {"items": [{"name": "Line", "quantity": "1", "price": "3"}]},
    "create_pipeline": {"name": "API pipeline"},
    "update_pipeline": {"name": "API renamed"},
    "create_stage": {"name": "API stage"},
    "reorder_stages": {"stage_ids": []},
    "update_stage": {"name": "API stage renamed"},
    "create_custom_field": {"record_type": "deal", "label": "API field", "field_type": "text"},
    "update_custom_field": {"label": "API renamed"},
}


def _api_need(op: str, operation: dict[str, Any]) -> Need | None:
    """What the operation declares it requires (None: nothing declared), with the body the probe sends."""
    declared = operation.get(EXTENSION)
    if declared is None:
        return None
    return Need(
        action=declared.get("action"),
        record_type=RecordType(declared["record_type"]) if "record_type" in declared else None,
        on=(declared["record"],) if "record" in declared else (),
        permission=declared.get("permission"),
        body=API_BODIES.get(op),
    )


# --- the world each role works in ----------------------------------------------------------------------------


@dataclass
class Records:
    """One record of each kind, all owned by one person; ids by URL keyword."""

    ids: dict[str, int] = field(default_factory=dict)
    owner_id: int = 0


def _records(owner: User, mark: str, pipeline: Pipeline) -> Records:
    company = CompanyFactory(name=f"{mark} Company", owner=owner)
    other = CompanyFactory(name=f"{mark} Twin", owner=owner)
    contact = ContactFactory(
        last_name=f"{mark}-Contact",
        company=company,
        owner=owner,
        phones=["+79167654321"],
        emails=["hidden-mail@example.com"],
    )
    other_contact = ContactFactory(last_name=f"{mark}-Twin", company=company, owner=owner)
    stages = list(pipeline.stages.order_by("position"))
    amount = Decimal("987654.00") if mark.startswith("Foreign") else Decimal("456789.00")
    deal = DealFactory(
        title=f"{mark} deal", company=company, owner=owner, pipeline=pipeline, stage=stages[0], amount=amount
    )
    lead = LeadFactory(title=f"{mark} lead", owner=owner)
    activity = Activity.objects.create(subject=f"{mark} call", assignee=owner, created_by=owner, company=company)
    files = {}
    for kind, parent in ((T.COMPANY, company), (T.CONTACT, contact), (T.DEAL, deal), (T.LEAD, lead)):
        upload = SimpleUploadedFile(f"{mark.lower()}-{kind}.txt", b"secret", content_type="text/plain")
        files[f"file:{kind}"] = attachment_create(actor=owner, record=parent, upload=upload).pk
    return Records(
        ids={
            T.COMPANY: company.pk,
            T.CONTACT: contact.pk,
            T.DEAL: deal.pk,
            T.LEAD: lead.pk,
            T.ACTIVITY: activity.pk,
            T.FILE: files[f"file:{T.COMPANY}"],
            **files,
            "other:company": other.pk,
            "other:contact": other_contact.pk,
            "stage2": stages[1].pk,
        },
        owner_id=owner.pk,
    )


@dataclass
class World:
    workspace: Workspace
    actors: dict[str, User]
    foreign: Records
    own: dict[str, Records]
    shared: dict[str, int]


def _world(workspace: Workspace) -> World:
    with tenant_context(workspace.tenant):
        sales = Team.objects.create(name="Sales")
        field_sales = Team.objects.create(name="Field sales", parent=sales)
        service = Team.objects.create(name="Service")
        no_amounts = Role.objects.create(
            name="No amounts",
            grants=builtin_definitions()[SALES_HEAD]["grants"],
            hidden_fields={str(k): v for k, v in HIDDEN.items()},
        )
        deals_only = Role.objects.create(name="Deals only", grants=DEALS_ONLY_GRANTS)

        def person(email: str, role: Role, team: Team) -> User:
            return user_create(email=email, password=PASSWORD, full_name=email.split("@")[0], role=role, team=team)

        actors = {
            ADMIN: workspace.owner,
            SALES_HEAD: person("head@example.com", builtin_role(SALES_HEAD), sales),
            SALES_MANAGER: person("manager@example.com", builtin_role(SALES_MANAGER), field_sales),
            READ_ONLY: person("auditor@example.com", builtin_role(READ_ONLY), sales),
            NO_AMOUNTS: person("analyst@example.com", no_amounts, sales),
            DEALS_ONLY: person("dealer@example.com", deals_only, field_sales),
        }
        stranger = person("stranger@example.com", builtin_role(SALES_MANAGER), service)
        pipeline = Pipeline.objects.get(name="Sales")
        foreign = _records(stranger, "Foreignmark", pipeline)
        own = {SALES_MANAGER: _records(actors[SALES_MANAGER], "Ownmark", pipeline)}
        product = ProductFactory(name="Catalog item")
        stages = list(pipeline.stages.order_by("position"))
        custom = CustomField.objects.create(
            record_type="deal", key="matrix", label="Matrix", field_type=CustomField.Type.TEXT
        )
        keys = {name: api_key_create(actor=user, name="matrix").key.pk for name, user in actors.items()}
        invitation = Invitation.objects.create(
            email="matrix-pending@example.com",
            role=builtin_role(READ_ONLY),
            expires_at=timezone.now() + datetime.timedelta(days=3),
        )
        shared = {
            "stranger": stranger.pk,
            "admin": workspace.owner.pk,
            "invitation": invitation.pk,
            "custom_role": no_amounts.pk,
            "read_only_role": builtin_role(READ_ONLY).pk,
            "team": service.pk,
            "pipeline": pipeline.pk,
            "stage": stages[0].pk,
            "stage2": stages[1].pk,
            "field": custom.pk,
            "product": product.pk,
            **{f"key:{name}": pk for name, pk in keys.items()},
            **_connections(),
            **_processes(workspace.owner),
        }
    connection.set_schema_to_public()
    return World(workspace, actors, foreign, own, shared)


def _processes(admin: User) -> dict[str, int]:
    """A published, active process started on a deal, its first step waiting (the processes' pages name them)."""
    from crm.processes import engine, services

    definition = services.definition_create(
        actor=admin,
        name="Matrix process",
        draft={
            "trigger": {"type": "manual", "record_type": "deal"},
            "steps": [
                {"id": "call", "type": "task", "title": "Matrix call", "assign": {"to": "owner"}, "wait": True},
                {"id": "tell", "type": "notify", "to": {"to": "owner"}, "text": "Matrix done"},
            ],
        },
    )
    services.definition_publish(actor=admin, definition=definition)
    services.definition_set_active(actor=admin, definition=definition, active=True)
    definition.refresh_from_db()
    deal = DealFactory(owner=admin, title="Matrix process deal")
    instance = engine.manual_start(actor=admin, definition=definition, record=deal, record_type="deal")
    return {"process": definition.pk, "process_instance": instance.pk}


def _connections() -> dict[str, int]:
    """One connection of each registered kind, with a failed exchange in its log (settings left empty: a kind's
    pages must cope with a connection not set up yet)."""
    shared = {}
    for kind in registry.kinds():
        conn = Connection.objects.create(
            kind=kind.key, name=f"Matrix {kind.key}", identity=integration_identity_create(name=kind.key)
        )
        entry = Exchange.objects.create(
            connection=conn, direction=Exchange.Direction.OUTBOUND, operation="matrix.probe", status="failed"
        )
        shared[f"connection:{kind.key}"], shared[f"exchange:{kind.key}"] = conn.pk, entry.pk
    if registry.kind_get("email") is not None:  # integrations.email: a template for its template pages
        from integrations.email.models import EmailTemplate

        shared["email_template"] = EmailTemplate.objects.create(name="Matrix template", subject="S", body="B").pk
    return shared


# --- expected outcomes, from the role definitions ---------------------------------------------------------------


def _grants(role_key: str) -> tuple[dict[str, dict[str, str]], list[str]]:
    if role_key == NO_AMOUNTS:
        return builtin_definitions()[SALES_HEAD]["grants"], []
    if role_key == DEALS_ONLY:
        return DEALS_ONLY_GRANTS, []
    definition = builtin_definitions()[role_key]
    return definition["grants"], definition["permissions"]


_RANK = {"none": 0, "own": 1, "team": 2, "all": 3}


def _scope(grants: dict[str, dict[str, str]], action: str, record_type: RecordType) -> str:
    scope = grants.get(str(record_type), {}).get(action, "none")
    if action != "view":
        scope = min(scope, grants.get(str(record_type), {}).get("view", "none"), key=_RANK.__getitem__)
    if record_type == T.PRODUCT and scope != "none":
        return "all"
    return scope


def _reaches(scope: str, owned: bool) -> bool:
    # The records' owner is either the actor (owned) or a colleague outside every team of the actor.
    return scope == "all" or (scope in ("own", "team") and owned)


# Which kind of record a URL keyword names, given the route's namespace.
def _kind_of(keyword: str, namespace: str, need: Need) -> RecordType | None:
    if keyword == "file_pk":
        return T.FILE
    if keyword in ("pk",) and namespace in NAMESPACE_TYPES:
        return NAMESPACE_TYPES[namespace]
    if keyword == "deal":
        return T.DEAL
    if keyword.endswith("_id") and keyword[:-3] in {str(t) for t in T}:
        return RecordType(keyword[:-3])
    return None


def expected(need: Need, role_key: str, namespace: str, owned: bool, *, api: bool = False) -> int | None:
    """403 or 404 for a refusal, None when the request is allowed.

    Pages check the role's grant for the kind of record before anything else (403); the API looks the record
    up first, so a record of a kind the role cannot see at all is a 404 there, like any record it cannot see.
    The action is checked on the record itself only when the record is of the kind acted on (adding a task to
    a deal the user sees needs the right to create tasks, not to edit the deal)."""
    grants, permissions = _grants(role_key)
    if need.permission is not None and need.permission not in permissions:
        return 403
    if need.action is None or need.record_type is None:
        return None
    kinds = [k for k in (_kind_of(kw, namespace, need) for kw in need.on) if k is not None]
    unseen = any(not _reaches(_scope(grants, "view", kind), owned) for kind in kinds)
    if api and unseen:
        return 404
    if _scope(grants, need.action, need.record_type) == "none":
        return 403
    if unseen:
        return 404
    acted_on = kinds[-1] if kinds and kinds[-1] == need.record_type else None
    if acted_on and need.action != "view" and not _reaches(_scope(grants, need.action, acted_on), owned):
        return 403
    return None


def visible_marks(role_key: str, owned: bool) -> dict[RecordType, bool]:
    grants, _ = _grants(role_key)
    return {t: _reaches(_scope(grants, "view", t), owned) for t in T}


MARKS = {
    T.COMPANY: "Foreignmark Company",
    T.CONTACT: "Foreignmark-Contact",
    T.DEAL: "Foreignmark deal",
    T.LEAD: "Foreignmark lead",
    T.ACTIVITY: "Foreignmark call",
    T.FILE: "foreignmark",
    T.PRODUCT: "Catalog item",  # the shared catalog: no one owns it
}


# --- the walk -------------------------------------------------------------------------------------------------


def _routes() -> Iterator[tuple[str, str, URLPattern]]:
    def walk(patterns: list[Any], prefix: str, ns: str) -> Iterator[tuple[str, str, URLPattern]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern), f"{ns}{p.namespace}:" if p.namespace else ns)
            else:
                yield f"{ns}{p.name}", prefix + str(p.pattern), p

    yield from walk(get_resolver("platform_core.urls_tenant").url_patterns, "", "")


def _operations(workspace: Workspace) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    from platform_core.api import api

    # Each workspace's document lists its custom fields: it is read inside one.
    with tenant_context(workspace.tenant):
        schema = api.get_openapi_schema(path_prefix="/api/v1")
    connection.set_schema_to_public()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            # Operation ids are "<module>_<function>": the function's name is the operation's.
            yield operation["operationId"].rpartition("_api_")[2], method.upper(), path, operation


def _is_api_operation(name: str) -> bool:
    # The API's operations are walked from its OpenAPI document, its two documentation routes as pages.
    return name.startswith("api:") and name not in ("api:openapi-json", "api:openapi-view")


def test_every_route_and_operation_is_declared(workspace) -> None:
    pages = _page_needs()
    undeclared = [name for name, _, _ in _routes() if name not in pages and not _is_api_operation(name)]
    operations = list(_operations(workspace))
    undeclared += [op for op, _, _, operation in operations if _api_need(op, operation) is None]
    assert not undeclared, f"declare what these require (pages in {__name__}, operations with @requires): {undeclared}"
    stale = set(pages) - {name for name, _, _ in _routes()}
    names = [op for op, _, _, _ in operations]
    assert len(names) == len(set(names)), "operation names must be unique"
    assert {name for name, _, _ in _routes() if _is_api_operation(name)} - {f"api:{op}" for op in names} == {
        "api:api-root"
    }
    # Every operation that takes a body is probed with one that it accepts from a role allowed to call it.
    with_body = {op for op, _, _, operation in operations if "requestBody" in operation}
    assert with_body - set(API_BODIES) == set(), f"give the probe a body for these in {__name__}"
    stale |= set(API_BODIES) - with_body
    assert not stale, f"declared but gone: {stale}"


def _snapshot() -> dict[str, str]:
    """A digest of every table of the current schema that a refused request must leave alone."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        tables = [t for (t,) in cursor.fetchall() if not t.startswith(UNWATCHED)]
        digests = {}
        for table in tables:
            cursor.execute(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t")
            digests[table] = cursor.fetchone()[0]
    return digests


class Probe:
    """Requests of one actor, each inside a savepoint rolled back afterwards, so every route sees the same data."""

    def __init__(self, world: World, role_key: str) -> None:
        self.world = world
        self.role_key = role_key
        self.client = world.workspace.client(logged_in_as=world.actors[role_key])
        with tenant_context(world.workspace.tenant):
            key = api_key_create(actor=world.actors[role_key], name="probe").secret
            self.before = _snapshot()
        connection.set_schema_to_public()
        self.api = Client(HTTP_HOST=world.workspace.domain, HTTP_AUTHORIZATION=f"Bearer {key}")

    def send(self, client: Client, method: str, url: str, **kwargs: Any) -> tuple[Any, bool]:
        with transaction.atomic():
            response = getattr(client, method.lower())(url, **kwargs)
            with tenant_context(self.world.workspace.tenant):
                changed = _snapshot() != self.before
            transaction.set_rollback(True)
        connection.set_schema_to_public()
        return response, changed


def _fill(value: Any, records: Records, world: World, self_kind: RecordType | None) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, records, world, self_kind) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, records, world, self_kind) for v in value]
    if value == "@upload":
        return SimpleUploadedFile("matrix.txt", b"matrix", content_type="text/plain")
    if value == "@self":
        return [records.ids[self_kind]] if self_kind in records.ids else [world.shared["product"]]
    if value == "@other":
        return records.ids.get(f"other:{self_kind}", 0)
    if value == "@deal":
        return records.ids[T.DEAL]
    if value == "@stage2":
        return world.shared["stage2"]
    if value == "@role":
        return world.shared["read_only_role"]
    if value == "@admin":
        return world.shared["admin"]
    return value


def _integration_kwargs(route: str, namespace: str, world: World) -> dict[str, Any]:
    """A connection of the route's kind (the kind whose key starts with the namespace; the core's pages: the
    first kind) and an entry of its exchange log."""
    values: dict[str, Any] = {}
    keys = sorted(k for k in world.shared if k.startswith("connection:"))
    own = [k for k in keys if k.removeprefix("connection:").startswith(namespace)]
    if not keys:
        return values
    chosen = (own or keys)[0]
    if "<slug:kind>" in route:
        values["kind"] = chosen.removeprefix("connection:")
    for keyword in ("pk", "connection"):
        if f"<int:{keyword}>" in route:
            values[keyword] = world.shared[chosen]
    if "<int:template>" in route:  # integrations.email
        values["template"] = world.shared["email_template"]
    if "<int:entry>" in route:
        values["entry"] = world.shared[f"exchange:{chosen.removeprefix('connection:')}"]
    return values


def _url_kwargs(route: str, namespace: str, records: Records, world: World, role_key: str) -> dict[str, Any]:
    if route.startswith("settings/integrations/"):
        return _integration_kwargs(route, namespace, world)
    if route.startswith("settings/processes/") and "<int:pk>" in route:
        return {"pk": world.shared["process"], "instance": world.shared["process_instance"], "step": "call"}
    values = {}
    for keyword in [k for k in ("pk", "file_pk", "stage_id", "deal", "contact_id") if f"<int:{k}>" in route]:
        kind = _kind_of(keyword, namespace, Need())
        if keyword == "stage_id":
            values[keyword] = world.shared["stage"]
        elif namespace == "settings":
            values[keyword] = world.shared["field"] if "custom-fields" in route else (
                world.shared["pipeline"] if "pipelines/<int:pk>/" in route or route.endswith("pipelines/<int:pk>/")
                else world.shared["stage2"]
            )  # fmt: skip
        elif namespace == "accounts":
            values[keyword] = world.shared[f"key:{role_key}"]
        elif namespace == "manage":
            kinds = {"users/": "stranger", "invitations/": "invitation", "roles/": "custom_role", "teams/": "team"}
            values[keyword] = world.shared[next(v for k, v in kinds.items() if f"{k}<int:pk>" in route)]
        elif kind == T.PRODUCT:
            values[keyword] = world.shared["product"]
        elif kind == T.FILE:
            values[keyword] = records.ids[f"file:{NAMESPACE_TYPES[namespace]}"]
        elif kind is not None:
            values[keyword] = records.ids[kind]
    return values


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
        return content.decode(errors="replace") if response.get("Content-Type", "").startswith("text/") else ""
    return response.content.decode(errors="replace")


def _check_body(body: str, role_key: str, owned: bool, where: str) -> None:
    if owned:
        return
    for kind, seen in visible_marks(role_key, owned=False).items():
        if not seen:
            assert MARKS[kind] not in body, f"{where}: shows a {kind} that {role_key} may not see"
    if role_key == NO_AMOUNTS:
        for value in HIDDEN_VALUES:
            assert value not in body, f"{where}: shows the hidden value {value!r}"


def _cases(role_key: str) -> list[tuple[bool, str]]:
    cases = [(False, "foreign")]
    if role_key == SALES_MANAGER:
        cases.append((True, "own"))
    return cases


@pytest.mark.parametrize("role_key", ROLES)
def test_pages_follow_the_role(workspace, role_key: str) -> None:
    world = _world(workspace)
    probe = Probe(world, role_key)
    needs = _page_needs()
    failures: list[str] = []
    for name, route, _pattern in _routes():
        if _is_api_operation(name):
            continue
        need = needs[name]
        namespace = name.split(":")[0] if ":" in name else ""
        if need.anonymous or need.covered_by:
            continue
        for owned, label in _cases(role_key):
            records = world.own[role_key] if owned else world.foreign
            kwargs = _url_kwargs(route, namespace, records, world, role_key)
            url = "/" + route
            for keyword, value in kwargs.items():
                for converter in ("int", "slug", "str"):
                    url = url.replace(f"<{converter}:{keyword}>", str(value))
            want = expected(need, role_key, namespace, owned)
            self_kind = NAMESPACE_TYPES.get(namespace)
            for method in need.methods:
                data = _fill(need.post, records, world, self_kind) if method == "POST" else None
                if method == "GET" and name == "search":
                    url_get = url + "?q=Foreignmark"
                elif method == "GET" and name in ("deals:board",):
                    url_get = url + "?owner=any"
                else:
                    url_get = url
                response, changed = probe.send(
                    probe.client, method, url_get if method == "GET" else url, **({"data": data} if data else {})
                )
                where = f"{role_key}/{label} {method} {url} ({name})"
                status = response.status_code
                if want is None and need.signed_link:
                    if status != 404 or changed:
                        failures.append(f"{where}: {status}, changed={changed}; expected 404 for a link never signed")
                elif want == 404 and need.invisible_is_noop:
                    if status in (403, 404) or status >= 500 or changed:
                        failures.append(f"{where}: {status}, changed={changed}; expected a harmless no-op")
                elif want is not None:
                    if status != want:
                        failures.append(f"{where}: {status}, expected {want}")
                    if changed:
                        failures.append(f"{where}: refused but the database changed")
                else:
                    if status in (403, 404) or status >= 500:
                        failures.append(f"{where}: {status}, expected it allowed")
                if status == 200:
                    body = _body(response)
                    try:
                        _check_body(body, role_key, owned, where)
                        if name.endswith(":export") and self_kind is not None and not owned:
                            grants, _ = _grants(role_key)
                            if not _reaches(_scope(grants, "export", self_kind), owned=False):
                                assert MARKS[self_kind] not in body, f"{where}: exports a record beyond its scope"
                    except AssertionError as exc:
                        failures.append(str(exc))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role_key", ROLES)
def test_api_follows_the_role(workspace, role_key: str) -> None:
    world = _world(workspace)
    probe = Probe(world, role_key)
    failures: list[str] = []
    for op, method, path, operation in _operations(workspace):
        need = _api_need(op, operation)
        assert need is not None, f"{op} declares no requirement"
        for owned, label in _cases(role_key):
            records = world.own[role_key] if owned else world.foreign
            url = path
            for keyword in ("company_id", "contact_id", "lead_id", "deal_id", "product_id", "activity_id"):
                kind = RecordType(keyword[:-3])
                value = world.shared["product"] if kind == T.PRODUCT else records.ids[kind]
                url = url.replace("{" + keyword + "}", str(value))
            url = url.replace("{pipeline_id}", str(world.shared["pipeline"]))
            url = url.replace("{stage_id}", str(world.shared["stage2"]))
            url = url.replace("{field_id}", str(world.shared["field"]))
            if op == "delete_stage":
                url += f"?move_deals_to={world.shared['stage']}"
            body = _fill(need.body, records, world, need.record_type)
            kwargs: dict[str, Any] = {}
            if body is not None and method in ("POST", "PUT", "PATCH"):
                kwargs = {"data": json.dumps(body), "content_type": "application/json"}
            if method == "GET" and op.startswith("list_"):
                url += "?limit=100"
            response, changed = probe.send(probe.api, method, url, **kwargs)
            where = f"{role_key}/{label} {method} {url} ({op})"
            want = expected(need, role_key, "", owned, api=True)
            status = response.status_code
            if want is not None:
                if status != want:
                    failures.append(f"{where}: {status}, expected {want}")
                if changed:
                    failures.append(f"{where}: refused but the database changed")
                if status in (403, 404) and "detail" not in response.json():
                    failures.append(f"{where}: the refusal has no machine-readable body")
            elif status in (401, 403, 404) or status >= 500:
                failures.append(f"{where}: {status}, expected it allowed")
            if status == 200:
                try:
                    _check_body(response.content.decode(), role_key, owned, where)
                except AssertionError as exc:
                    failures.append(str(exc))
    assert not failures, "\n".join(failures)


def test_digest_sees_a_change(workspace) -> None:
    """The matrix's "nothing changed" rests on the digest; prove it notices a one-field change."""
    with tenant_context(workspace.tenant):
        company = CompanyFactory(name="Before")
        before = _snapshot()
        company.name = "After"
        company.save(update_fields=["name"])
        assert _snapshot() != before


# --- another workspace's ids -----------------------------------------------------------------------------------

FOREIGN_PK = 900_001
LEAK = "Crossmark"


def _another_workspaces_records(workspace: Workspace) -> None:
    """One row of every kind a route can name, all with the same id, which the caller's workspace lacks."""
    from crm.deals.models import Stage
    from tenants.accounts.models import ApiKey

    with tenant_context(workspace.tenant):
        person = user_create(
            email="cross@example.com", password=PASSWORD, full_name=LEAK, role=builtin_role(SALES_MANAGER)
        )
        User.objects.filter(pk=person.pk).update(id=FOREIGN_PK)
        person = User.objects.get(pk=FOREIGN_PK)
        role = Role.objects.create(pk=FOREIGN_PK, name=f"{LEAK} role")
        team = Team.objects.create(pk=FOREIGN_PK, name=f"{LEAK} team")
        company = CompanyFactory(pk=FOREIGN_PK, name=f"{LEAK} Company", owner=person)
        contact = ContactFactory(pk=FOREIGN_PK, last_name=LEAK, company=company)
        pipeline = Pipeline.objects.create(pk=FOREIGN_PK, name=f"{LEAK} pipeline")
        stage = Stage.objects.create(pk=FOREIGN_PK, pipeline=pipeline, name=f"{LEAK} stage", position=1)
        deal = DealFactory(pk=FOREIGN_PK, title=f"{LEAK} deal", company=company, pipeline=pipeline, stage=stage)
        lead = LeadFactory(pk=FOREIGN_PK, title=f"{LEAK} lead")
        ProductFactory(pk=FOREIGN_PK, name=f"{LEAK} product")
        Activity.objects.create(pk=FOREIGN_PK, subject=f"{LEAK} call", company=company)
        CustomField.objects.create(
            pk=FOREIGN_PK, record_type="company", key="cross", label=LEAK, field_type=CustomField.Type.TEXT
        )
        for parent in (company, contact, deal, lead):
            upload = SimpleUploadedFile("crossmark.txt", b"secret", content_type="text/plain")
            attachment = attachment_create(actor=person, record=parent, upload=upload)
            if parent is company:
                type(attachment).objects.filter(pk=attachment.pk).update(id=FOREIGN_PK)
        key = api_key_create(actor=person, name=LEAK).key
        ApiKey.objects.filter(pk=key.pk).update(id=FOREIGN_PK)
        Invitation.objects.create(
            pk=FOREIGN_PK,
            email="cross-invite@example.com",
            role=role,
            team=team,
            expires_at=company.created_at + datetime.timedelta(days=3),
        )
    connection.set_schema_to_public()


def test_no_page_reaches_another_workspaces_records(workspace, other_workspace) -> None:
    """Every route that names a record by id, requested by the administrator of one workspace with the ids of
    another's: 404 (or 405 for the wrong method), no data of the other workspace, nothing changed in either."""
    _another_workspaces_records(other_workspace)
    client = workspace.client(logged_in_as=workspace.owner)
    snapshots = {}
    for ws in (workspace, other_workspace):
        with tenant_context(ws.tenant):
            snapshots[ws.schema] = _snapshot()
    connection.set_schema_to_public()
    failures, walked = [], 0
    for name, route, pattern in _routes():
        converters = pattern.pattern.converters
        if not converters or any(type(c).__name__ != "IntConverter" for c in converters.values()):
            continue  # no id in the route (tokens are tested where they are issued)
        url = "/" + route
        for keyword in converters:
            url = url.replace(f"<int:{keyword}>", str(FOREIGN_PK))
        for method in ("GET", "POST"):
            response = getattr(client, method.lower())(url)
            connection.set_schema_to_public()
            walked += 1
            if response.status_code not in (404, 405):
                failures.append(f"{method} {url} ({name}): {response.status_code}")
            if not getattr(response, "streaming", False) and LEAK.encode() in response.content:
                failures.append(f"{method} {url} ({name}): shows the other workspace's data")
    for ws in (workspace, other_workspace):
        with tenant_context(ws.tenant):
            if _snapshot() != snapshots[ws.schema]:
                failures.append(f"{ws.schema} changed")
    connection.set_schema_to_public()
    assert walked > 100
    assert not failures, "\n".join(failures)
