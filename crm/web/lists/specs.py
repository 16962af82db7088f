"""What each list shows: columns, filters, sorts and bulk actions per record type.

Sorts are the ones an index serves (see each model's Meta.indexes); custom field sorts are offered too, as
the issue asks, and are cheap once a filter has narrowed the list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.activities import services as activity_services
from crm.activities.models import Activity
from crm.activities.selectors import activities_visible_to
from crm.companies import services as company_services
from crm.companies.selectors import companies_visible_to
from crm.contacts import services as contact_services
from crm.contacts.selectors import contacts_visible_to
from crm.core.normalize import clean_tags
from crm.core.types import RecordType
from crm.deals import services as deal_services
from crm.deals.models import Pipeline, Stage
from crm.deals.selectors import deals_visible_to
from crm.leads import services as lead_services
from crm.leads.models import Lead
from crm.leads.selectors import leads_visible_to
from crm.products import services as product_services
from crm.products.selectors import products_visible_to
from crm.web.links import detail_url, record_url
from crm.web.lists.engine import BulkAction, Cell, Choice, Column, Context, Filter, ListSpec, Sort
from tenants.accounts.models import User

# --- cells -----------------------------------------------------------------------------------------------


def _link(title: Callable[[Any], str]) -> Callable[[Any], Cell]:
    return lambda r: Cell("link", title(r), url=detail_url(r))


def _detail_link(namespace: str, title: Callable[[Any], str]) -> Callable[[Any], Cell]:
    return lambda r: Cell("link", title(r), url=record_url(f"{namespace}:detail", r.pk))


def _text(attr: str) -> Callable[[Any], Cell]:
    return lambda r: Cell("text", getattr(r, attr))


def _first(attr: str) -> Callable[[Any], Cell]:
    return lambda r: Cell("text", (getattr(r, attr) or [""])[0])


def _first_phone(attr: str) -> Callable[[Any], Cell]:
    # Shown formatted ("+7 916 123-45-67"); exported as stored (E.164).
    return lambda r: Cell("phone", (getattr(r, attr) or [""])[0])


def _all(attr: str) -> Callable[[Any], Cell]:
    # Exports carry every phone or email; the page shows the first.
    return lambda r: Cell("text", ", ".join(getattr(r, attr) or []))


def _user(attr: str) -> Callable[[Any], Cell]:
    def cell(record: Any) -> Cell:
        user = getattr(record, attr)
        return Cell("text", str(user) if user is not None else "")

    return cell


def _related(attr: str) -> Callable[[Any], Cell]:
    def cell(record: Any) -> Cell:
        obj = getattr(record, attr)
        return Cell("link", str(obj), url=detail_url(obj)) if obj is not None else Cell("text", "")

    return cell


def _tags(record: Any) -> Cell:
    return Cell("tags", record.tags)


def _created(record: Any) -> Cell:
    return Cell("datetime", record.created_at)


def _owner_column() -> Column:
    return Column("owner", _("Owner"), _user("owner"), default=True)


def _tags_column() -> Column:
    return Column("tags", _("Tags"), _tags, default=True)


def _created_column(default: bool = False) -> Column:
    return Column("created", _("Created"), _created, default=default, sort="created")


# --- filters ---------------------------------------------------------------------------------------------


def _member_choices(ctx: Context) -> list[Choice]:
    return [Choice("me", _("Me")), Choice("none", _("Nobody")), *(Choice(str(m.pk), str(m)) for m in ctx.members)]


def _by_user(field: str) -> Callable[[QuerySet[Any], str, User], QuerySet[Any]]:
    def apply(queryset: QuerySet[Any], value: str, user: User) -> QuerySet[Any]:
        if value == "none":
            return queryset.filter(**{f"{field}__isnull": True})
        return queryset.filter(**{f"{field}_id": user.pk if value == "me" else int(value)})

    return apply


def _by_tag(queryset: QuerySet[Any], value: str, user: User) -> QuerySet[Any]:
    tags = clean_tags([value])
    # Array containment: served by the GIN index on tags.
    return queryset.filter(tags__contains=tags[:1]) if tags else queryset


def _owner_filter(label: Any = None) -> Filter:
    return Filter("owner", label or _("Owner"), _by_user("owner"), _member_choices, picker="pick:users")


def _tag_filter() -> Filter:
    return Filter("tag", _("Tag"), _by_tag)


# --- bulk actions ----------------------------------------------------------------------------------------


def _record_bulk(
    assign: Callable[..., int], tag: Callable[..., int], delete: Callable[..., int]
) -> tuple[BulkAction, ...]:
    return (
        BulkAction("assign", _("Assign owner"), lambda a, ids, v: assign(actor=a, ids=ids, owner=v), needs="user"),
        BulkAction("tag", _("Add tag"), lambda a, ids, v: tag(actor=a, ids=ids, tag=v), needs="tag"),
        BulkAction("delete", _("Delete"), lambda a, ids, v: delete(actor=a, ids=ids), confirm=True),
    )


# --- the lists -------------------------------------------------------------------------------------------

COMPANIES = ListSpec(
    record_type=RecordType.COMPANY,
    namespace="companies",
    title=_("Companies"),
    queryset=companies_visible_to,
    select_related=("owner",),
    columns=(
        Column("name", _("Name"), _link(lambda c: c.name), default=True, sort="name"),
        Column("tax_id", _("Tax id"), _text("tax_id"), default=True, field="tax_id"),
        Column("industry", _("Industry"), _text("industry"), default=True),
        Column("phone", _("Phone"), _first_phone("phones"), default=True, field="phones", export=_all("phones")),
        Column("email", _("Email"), _first("emails"), field="emails", export=_all("emails")),
        Column("website", _("Website"), lambda c: Cell("external", c.website, url=c.website)),
        Column("source", _("Source"), _text("source")),
        _owner_column(),
        _tags_column(),
        _created_column(),
    ),
    sorts=(
        Sort("name", _("Name"), (Lower("name"), "id")),
        Sort("created", _("Created"), ("created_at", "id")),
    ),
    default_sort="name",
    filters=(_owner_filter(), _tag_filter()),
    bulk_actions=_record_bulk(
        company_services.company_bulk_assign_owner,
        company_services.company_bulk_add_tag,
        company_services.company_bulk_delete,
    ),
)

CONTACTS = ListSpec(
    record_type=RecordType.CONTACT,
    namespace="contacts",
    title=_("Contacts"),
    queryset=contacts_visible_to,
    select_related=("owner", "company"),
    related=(("company", RecordType.COMPANY),),
    columns=(
        Column("name", _("Name"), _link(lambda c: c.full_name), default=True, sort="name"),
        Column("position", _("Position"), _text("position"), default=True),
        Column("company", _("Company"), _related("company"), default=True),
        Column("phone", _("Phone"), _first_phone("phones"), default=True, field="phones", export=_all("phones")),
        Column("email", _("Email"), _first("emails"), default=True, field="emails", export=_all("emails")),
        Column("consent", _("Consents to be contacted"), lambda c: Cell("bool", c.consent_to_contact)),
        _owner_column(),
        _tags_column(),
        _created_column(),
    ),
    sorts=(
        Sort("name", _("Name"), (Lower("last_name"), Lower("first_name"), "id")),
        Sort("created", _("Created"), ("created_at", "id")),
    ),
    default_sort="name",
    filters=(_owner_filter(), _tag_filter()),
    bulk_actions=_record_bulk(
        contact_services.contact_bulk_assign_owner,
        contact_services.contact_bulk_add_tag,
        contact_services.contact_bulk_delete,
    ),
)

LEADS = ListSpec(
    record_type=RecordType.LEAD,
    namespace="leads",
    title=_("Leads"),
    queryset=leads_visible_to,
    select_related=("owner",),
    columns=(
        Column("title", _("Title"), _link(lambda lead: lead.title), default=True),
        Column("status", _("Status"), lambda lead: Cell("text", lead.get_status_display()), default=True),
        Column("contact_name", _("Contact name"), _text("contact_name"), default=True),
        Column("company_name", _("Company name"), _text("company_name"), default=True),
        Column("email", _("Email"), _text("email"), field="email"),
        Column("phone", _("Phone"), lambda r: Cell("phone", r.phone), field="phone"),
        Column("source", _("Source"), _text("source"), default=True),
        _owner_column(),
        _tags_column(),
        _created_column(default=True),
    ),
    sorts=(Sort("created", _("Created"), ("created_at", "id")),),
    default_sort="-created",
    filters=(
        Filter(
            "status",
            _("Status"),
            lambda qs, v, u: qs.filter(status=v),
            lambda ctx: [Choice(value, label) for value, label in Lead.Status.choices],
        ),
        _owner_filter(),
        _tag_filter(),
    ),
    bulk_actions=_record_bulk(
        lead_services.lead_bulk_assign_owner, lead_services.lead_bulk_add_tag, lead_services.lead_bulk_delete
    ),
)


def _load_stages(ctx: Context) -> None:
    ctx.extra["stages"] = list(Stage.objects.select_related("pipeline").order_by("pipeline__position", "position"))


def _stage_choices(ctx: Context) -> list[Choice]:
    stages: Sequence[Stage] = ctx.extra.get("stages", [])
    several = len({s.pipeline_id for s in stages}) > 1
    return [Choice(str(s.pk), f"{s.pipeline.name}: {s.name}" if several else s.name) for s in stages]


def _pipeline_choices(ctx: Context) -> list[Choice]:
    pipelines: dict[int, Pipeline] = {s.pipeline_id: s.pipeline for s in ctx.extra.get("stages", [])}
    return [Choice(str(p.pk), p.name) for p in pipelines.values()]


_DEAL_STATES = {
    "open": Q(closed_at__isnull=True),
    "won": Q(stage__outcome=Stage.Outcome.WON),
    "lost": Q(stage__outcome=Stage.Outcome.LOST),
}

DEALS = ListSpec(
    record_type=RecordType.DEAL,
    namespace="deals",
    title=_("Deals"),
    queryset=deals_visible_to,
    select_related=("owner", "company", "stage", "pipeline"),
    related=(("company", RecordType.COMPANY),),
    load_extra=_load_stages,
    columns=(
        Column("title", _("Title"), _link(lambda d: d.title), default=True),
        Column("company", _("Company"), _related("company"), default=True),
        Column("pipeline", _("Pipeline"), lambda d: Cell("text", d.pipeline.name)),
        Column("stage", _("Stage"), lambda d: Cell("text", d.stage.name), default=True),
        Column(
            "amount",
            _("Amount"),
            lambda d: Cell("money", d.amount, extra=d.currency),
            default=True,
            field="amount",
            kind="money",
        ),
        Column("expected_close", _("Expected close"), lambda d: Cell("date", d.expected_close_date), default=True),
        _owner_column(),
        _tags_column(),
        _created_column(),
    ),
    sorts=(Sort("created", _("Created"), ("created_at", "id")),),
    default_sort="-created",
    filters=(
        Filter(
            "state",
            _("State"),
            lambda qs, v, u: qs.filter(_DEAL_STATES[v]),
            lambda ctx: [Choice("open", _("Open")), Choice("won", _("Won")), Choice("lost", _("Lost"))],
        ),
        Filter("pipeline", _("Pipeline"), lambda qs, v, u: qs.filter(pipeline_id=int(v)), _pipeline_choices),
        Filter("stage", _("Stage"), lambda qs, v, u: qs.filter(stage_id=int(v)), _stage_choices),
        _owner_filter(),
        _tag_filter(),
    ),
    bulk_actions=_record_bulk(
        deal_services.deal_bulk_assign_owner, deal_services.deal_bulk_add_tag, deal_services.deal_bulk_delete
    ),
)

PRODUCTS = ListSpec(
    record_type=RecordType.PRODUCT,
    namespace="products",
    title=_("Products"),
    queryset=products_visible_to,
    custom_fields=False,
    search_indexed=False,
    search_fields=("name", "sku"),
    columns=(
        Column("name", _("Name"), _detail_link("products", lambda p: p.name), default=True, sort="name"),
        Column("sku", _("SKU"), _text("sku"), default=True),
        Column("unit", _("Unit"), _text("unit"), default=True),
        Column(
            "price",
            _("Price"),
            lambda p: Cell("money", p.price, extra=p.currency),
            default=True,
            field="price",
            kind="money",
        ),
        Column("vat_rate", _("VAT, %"), lambda p: Cell("number", p.vat_rate), default=True),
        Column("active", _("Active"), lambda p: Cell("bool", p.is_active), default=True),
    ),
    sorts=(Sort("name", _("Name"), (Lower("name"), "id")),),
    default_sort="name",
    filters=(
        Filter(
            "active",
            _("Active"),
            lambda qs, v, u: qs.filter(is_active=v == "yes"),
            lambda ctx: [Choice("yes", _("Active")), Choice("no", _("Inactive"))],
        ),
    ),
    bulk_actions=(
        BulkAction(
            "delete",
            _("Delete"),
            lambda a, ids, v: product_services.product_bulk_delete(actor=a, ids=ids),
            confirm=True,
        ),
    ),
)


def _activity_state(queryset: QuerySet[Any], value: str, user: User) -> QuerySet[Any]:
    if value == "done":
        return queryset.filter(is_done=True)
    if value == "overdue":
        return queryset.filter(is_done=False, due_at__lt=timezone.now())
    return queryset.filter(is_done=False)


def _activity_status(activity: Activity) -> Cell:
    if activity.is_overdue:
        return Cell("status", _("Overdue"), extra="overdue")
    if activity.is_done:
        return Cell("status", _("Done"), extra="done")
    return Cell("status", _("Open"), extra="open")


def _regarding(activity: Activity) -> Cell:
    for name in ("deal", "lead", "contact", "company"):
        obj = getattr(activity, name)
        if obj is not None:
            return Cell("link", str(obj), url=detail_url(obj))
    return Cell("text", "")


ACTIVITIES = ListSpec(
    record_type=RecordType.ACTIVITY,
    namespace="activities",
    title=_("Tasks and calls"),
    queryset=activities_visible_to,
    custom_fields=False,
    search_indexed=False,
    search_fields=("subject",),
    select_related=("assignee", "company", "contact", "deal", "lead"),
    related=(
        ("company", RecordType.COMPANY),
        ("contact", RecordType.CONTACT),
        ("deal", RecordType.DEAL),
        ("lead", RecordType.LEAD),
    ),
    row_class=lambda a: "overdue" if a.is_overdue else ("done" if a.is_done else ""),
    default_filters=(("state", "open"),),
    columns=(
        Column("subject", _("Subject"), _detail_link("activities", lambda a: a.subject), default=True),
        Column("kind", _("Kind"), lambda a: Cell("text", a.get_kind_display()), default=True),
        Column("due", _("Due"), lambda a: Cell("datetime", a.due_at), default=True, sort="due"),
        Column("status", _("Status"), _activity_status, default=True),
        Column("regarding", _("Regarding"), _regarding, default=True),
        Column("assignee", _("Assignee"), _user("assignee"), default=True),
        Column("company", _("Company"), _related("company")),
        Column("result", _("Result"), _text("result")),
    ),
    sorts=(Sort("due", _("Due"), ("due_at", "id")),),
    default_sort="due",
    filters=(
        Filter(
            "state",
            _("State"),
            _activity_state,
            lambda ctx: [Choice("open", _("Open")), Choice("overdue", _("Overdue")), Choice("done", _("Done"))],
        ),
        Filter(
            "kind",
            _("Kind"),
            lambda qs, v, u: qs.filter(kind=v),
            lambda ctx: [Choice(value, label) for value, label in Activity.Kind.choices],
        ),
        Filter("assignee", _("Assignee"), _by_user("assignee"), _member_choices, picker="pick:users"),
    ),
    bulk_actions=(
        BulkAction(
            "assign",
            _("Assign to"),
            lambda a, ids, v: activity_services.activity_bulk_assign(actor=a, ids=ids, assignee=v),
            needs="user",
        ),
        BulkAction(
            "delete",
            _("Delete"),
            lambda a, ids, v: activity_services.activity_bulk_delete(actor=a, ids=ids),
            confirm=True,
        ),
    ),
)

SPECS: dict[str, ListSpec] = {s.namespace: s for s in (COMPANIES, CONTACTS, LEADS, DEALS, PRODUCTS, ACTIVITIES)}
