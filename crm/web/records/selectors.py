"""Reads behind the record pages. Every query starts from a `*_visible_to(user)` selector and is capped, so a
card costs the same number of queries for a client with ten deals as for one with ten thousand."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.db.models import Count, F, Model, QuerySet, Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext as _

from crm.activities.models import Activity
from crm.activities.selectors import activities_visible_to
from crm.companies.models import Company
from crm.contacts.models import Contact
from crm.contacts.selectors import contacts_visible_to
from crm.core import formats
from crm.core.types import RecordType
from crm.customfields.models import CustomField
from crm.deals.models import Deal, Stage
from crm.deals.selectors import deals_visible_to
from crm.files.models import Attachment
from crm.files.selectors import attachments_visible_to
from crm.history.models import ChangeRecord
from crm.history.selectors import history_of
from crm.web import fragments
from crm.web.access import ACTIVITY_LINKS, change_hidden, conceal_related, hidden_fields
from tenants.accounts import policy
from tenants.accounts.models import User

TIMELINE_PAGE = 20
CARD_LIST_CAP = 10
FILES_CAP = 20


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime.datetime
    kind: str  # "activity" | "file" | "change"
    item: Activity | Attachment | ChangeRecord
    record_type: RecordType = RecordType.COMPANY
    # Fields the reader's role hides: their changes are shown as made, without the values.
    hidden: frozenset[str] = frozenset()

    @cached_property
    def change_lines(self) -> list[tuple[str, str, str, bool]]:
        """(label, old, new, concealed) of each field a change touched, as text a person reads."""
        if not isinstance(self.item, ChangeRecord):
            return []
        lines = []
        for c in self.item.changes:
            if not isinstance(c, dict):
                continue
            field = str(c.get("field", ""))
            # Labels were stored in the writer's language; an English one is shown in the reader's.
            label = gettext(str(c.get("label") or field))
            if change_hidden(self.record_type, self.hidden, field):
                lines.append((label, "", "", True))
            else:
                lines.append((label, _change_text(field, c.get("old")), _change_text(field, c.get("new")), False))
        return lines


_MONEY_FIELDS = {"amount", "price", "discount", "vat", "total", "subtotal"}
_PHONE_FIELDS = {"phones", "phone", "call_phone"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _change_text(field: str, value: Any) -> str:
    """A value of the history as the reader reads it: amounts, phones, dates and times in their locale."""
    if (
        field in _MONEY_FIELDS
        and isinstance(value, str | int | Decimal)
        and (shown := formats.number(value, decimals=2))
    ):
        return shown
    if field in _PHONE_FIELDS and isinstance(value, str | list):
        value = [formats.phone(v) for v in value] if isinstance(value, list) else formats.phone(value)
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return date_format(moment, "SHORT_DATETIME_FORMAT")
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date_format(datetime.date.fromisoformat(value), "SHORT_DATE_FORMAT")
        except ValueError:
            return value
    return _text(value)


def _text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    # Cursor for the next (older) page, None when this is the last one.
    older_than: datetime.datetime | None
    # The record's newest files when this is the first page and it read at least as many as the card's file
    # panel shows: the panel needs no query of its own.
    newest_files: list[Attachment] | None = None


def timeline_of(
    user: User,
    *,
    record_type: RecordType,
    record: Model,
    before: datetime.datetime | None = None,
    limit: int = TIMELINE_PAGE,
) -> TimelinePage:
    """Activities, files and changes of one record, newest first, one page at a time.

    Each source is read at most `limit + 1` rows deep, so a page is three indexed queries whatever the
    record's size; the merge keeps the newest `limit` of them. The cursor is the last entry's time
    (microseconds), so the next page starts strictly before it.
    """
    link = {record_type.value: record}
    activities = (
        activities_visible_to(user).filter(**link).select_related("assignee", "contact", "deal").order_by("-created_at")
    )
    files = attachments_visible_to(user).filter(**link).select_related("uploaded_by").order_by("-created_at")
    changes = history_of(record_type=record_type, record_id=record.pk).order_by("-at", "-id")
    if before is not None:
        activities = activities.filter(created_at__lt=before)
        files = files.filter(created_at__lt=before)
        changes = changes.filter(at__lt=before)
    shown_activities = list(activities[: limit + 1])
    conceal_related(user, shown_activities, {"contact": RecordType.CONTACT, "deal": RecordType.DEAL})
    hidden = hidden_fields(user, record_type)
    entries = [TimelineEntry(a.created_at, "activity", a) for a in shown_activities]
    shown_files = list(files[: limit + 1])
    entries += [TimelineEntry(f.created_at, "file", f) for f in shown_files]
    entries += [TimelineEntry(c.at, "change", c, record_type, hidden) for c in changes[: limit + 1]]
    entries.sort(key=lambda e: e.at, reverse=True)
    page = entries[:limit]
    return TimelinePage(
        entries=page,
        older_than=page[-1].at if len(entries) > limit else None,
        # As many as the file panel shows, or all there are.
        newest_files=shown_files if before is None and limit + 1 >= FILES_CAP else None,
    )


def next_action_of(user: User, *, record_type: RecordType, record: Model) -> Activity | None:
    """The soonest open task, call or meeting of the record: what happens next with this client."""
    activity = (
        activities_visible_to(user)
        .filter(**{record_type.value: record}, is_done=False)
        .exclude(kind=Activity.Kind.NOTE)
        .select_related("assignee", *ACTIVITY_LINKS)
        .order_by(F("due_at").asc(nulls_last=True), "id")
        .first()
    )
    conceal_related(user, [activity] if activity else [], ACTIVITY_LINKS)
    return activity


def files_of(
    user: User, *, record_type: RecordType, record: Model, timeline: TimelinePage | None = None
) -> list[Attachment]:
    """The record's newest files; taken from the record's first timeline page when given (the same query)."""
    if timeline is not None and timeline.newest_files is not None:
        return timeline.newest_files[:FILES_CAP]
    return list(
        attachments_visible_to(user)
        .filter(**{record_type.value: record})
        .select_related("uploaded_by")
        .order_by("-created_at")[:FILES_CAP]
    )


@dataclass(frozen=True)
class DealTotal:
    outcome: str
    currency: str
    count: int
    amount: Decimal


@dataclass
class CompanyCard:
    contacts: list[Contact]
    contacts_more: bool
    open_deals: list[Deal]
    open_more: bool
    closed_deals: list[Deal]
    closed_more: bool
    totals: list[DealTotal] = field(default_factory=list)

    def totals_for(self, outcome: str) -> list[DealTotal]:
        return [t for t in self.totals if t.outcome == outcome]

    @property
    def open_totals(self) -> list[DealTotal]:
        return self.totals_for(Stage.Outcome.OPEN)

    @property
    def won_totals(self) -> list[DealTotal]:
        return self.totals_for(Stage.Outcome.WON)

    @property
    def lost_totals(self) -> list[DealTotal]:
        return self.totals_for(Stage.Outcome.LOST)


def _capped(qs: QuerySet[Any], cap: int = CARD_LIST_CAP) -> tuple[list[Any], bool]:
    rows = list(qs[: cap + 1])
    return rows[:cap], len(rows) > cap


def company_card(user: User, company: Company) -> CompanyCard:
    """Contacts, open and closed deals (capped lists) and the deal totals per outcome and currency (one
    aggregate over all of the company's deals)."""
    contacts, contacts_more = _capped(
        contacts_visible_to(user).filter(company=company).order_by("last_name", "first_name", "id")
    )
    deals = deals_visible_to(user).filter(company=company)
    open_deals, open_more = _capped(
        deals.filter(closed_at=None).select_related("stage", "owner").order_by("-created_at", "-id")
    )
    closed_deals, closed_more = _capped(
        deals.exclude(closed_at=None).select_related("stage").order_by("-closed_at", "-id")
    )
    # Sums of amounts the user may not see would give them away: without amounts, no totals.
    totals = (
        []
        if policy.hides(user, RecordType.DEAL, "amount")
        else [
            DealTotal(outcome=row["stage__outcome"], currency=row["currency"], count=row["n"], amount=row["total"])
            for row in deals.values("stage__outcome", "currency")
            .annotate(n=Count("*"), total=Sum("amount"))
            .order_by("stage__outcome", "currency")
        ]
    )
    return CompanyCard(
        contacts=contacts,
        contacts_more=contacts_more,
        open_deals=open_deals,
        open_more=open_more,
        closed_deals=closed_deals,
        closed_more=closed_more,
        totals=totals,
    )


def deals_of_contact(user: User, contact: Contact) -> tuple[list[Deal], bool]:
    return _capped(deals_visible_to(user).filter(contacts=contact).select_related("stage").order_by("-created_at"))


@dataclass(frozen=True)
class CustomValue:
    field: CustomField
    value: Any
    display: str


def custom_values_of(
    record_type: RecordType, values: dict[str, Any], *, hidden: frozenset[str] = frozenset()
) -> list[CustomValue]:
    """The record's custom field values in display order, formatted by type (one query, two with user fields);
    fields in `hidden` ("cf:<key>") are left out."""
    definitions = [f for f in fragments.custom_fields(record_type) if f"cf:{f.key}" not in hidden]
    user_ids = {
        values[f.key]
        for f in definitions
        if f.field_type == CustomField.Type.USER and isinstance(values.get(f.key), int)
    }
    names = {u.pk: u.get_full_name() for u in User.objects.filter(pk__in=user_ids)} if user_ids else {}
    result = []
    for definition in definitions:
        value = values.get(definition.key)
        result.append(CustomValue(definition, value, _display(definition, value, names)))
    return result


def _display(definition: CustomField, value: Any, user_names: dict[int, str]) -> str:
    kind = CustomField.Type
    if value is None or value == "" or value == []:
        return ""
    if definition.field_type == kind.MONEY and isinstance(value, dict):
        return formats.money(value.get("amount"), str(value.get("currency") or ""))
    if definition.field_type == kind.NUMBER:
        return formats.number(value)
    if definition.field_type == kind.MULTI_CHOICE and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if definition.field_type == kind.BOOLEAN:
        return _("yes") if value else _("no")
    if definition.field_type == kind.USER:
        return user_names.get(value, f"#{value}")
    return str(value)


def merge_counts(user: User, *, record: Company | Contact) -> dict[str, int]:
    """What a merge would move to the survivor, as far as the user may see it: records they may not see move
    too, uncounted (how many there are is as private as they are)."""
    from crm.leads.selectors import leads_visible_to

    link = "company" if isinstance(record, Company) else "contact"
    counts = (
        {} if link == "contact" else {_("Contacts"): contacts_visible_to(user).filter(company_id=record.pk).count()}
    )
    counts[_("Deals")] = deals_visible_to(user).filter(**{link if link == "company" else "contacts": record}).count()
    counts[_("Leads")] = leads_visible_to(user).filter(**{link: record}).count()
    counts[_("Activities")] = activities_visible_to(user).filter(**{link: record}).count()
    counts[_("Files")] = attachments_visible_to(user).filter(**{link: record}).count()
    return counts
