"""Tasks, calls, meetings and notes: the card, the form, marking done or undone with a result, deletion."""

from __future__ import annotations

import copy
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.activities.models import Activity
from crm.activities.selectors import activity_get
from crm.activities.services import activity_create, activity_delete, activity_set_done, activity_update
from crm.companies.models import Company
from crm.companies.selectors import companies_visible_to
from crm.contacts.models import Contact
from crm.contacts.selectors import contacts_visible_to
from crm.deals.models import Deal
from crm.deals.selectors import deals_visible_to
from crm.leads.models import Lead
from crm.leads.selectors import leads_visible_to
from crm.web.access import ACTIVITY_LINKS, conceal_related
from crm.web.records.cards import CARDS, CardKind, confirm_delete, run_service
from crm.web.records.common import actor_of, is_htmx
from crm.web.records.forms import ActivityForm, DoneForm, activity_initial, user_choices
from crm.web.records.selectors import next_action_of
from tenants.accounts.models import User

_LINKS = ("company", "contact", "deal", "lead")


def _links(user: User) -> dict[str, QuerySet[Any]]:
    return {
        "company": companies_visible_to(user),
        "contact": contacts_visible_to(user),
        "deal": deals_visible_to(user),
        "lead": leads_visible_to(user),
    }


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    # A path on this site only ("/..."): anything else would be read by redirect() as a view name.
    if (
        target.startswith("/")
        and "\x00" not in target
        and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    ):
        return target
    return default


def _linked_record(activity: Activity) -> Company | Contact | Deal | Lead | None:
    return activity.deal or activity.contact or activity.company or activity.lead


@login_required
@require_GET
def activity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    activity = activity_get(actor_of(request), pk)
    conceal_related(actor_of(request), [activity], ACTIVITY_LINKS)
    return render(
        request,
        "crm/records/activity_detail.html",
        {"record": activity, "done_form": DoneForm(initial={"result": activity.result})},
    )


@login_required
@require_http_methods(["GET", "POST"])
def activity_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    links = _links(user)
    # Opened from a card: the record it is about comes preset (and must be visible).
    preset: dict[str, Model | None] = {}
    for name in _LINKS:
        value = request.GET.get(name, "")
        preset[name] = links[name].filter(pk=value).first() if value.isdigit() else None
    form = ActivityForm(
        request.POST or None,
        initial={"kind": request.GET.get("kind", Activity.Kind.TASK), "assignee": user.pk}
        | {n: r.pk for n, r in preset.items() if r is not None},
        users=user_choices(),
        links=links,
        current=preset,
    )
    if request.method == "POST" and form.is_valid():
        activity = run_service(form, lambda: activity_create(actor=user, data=form.activity_data()))
        if activity is not None:
            messages.success(request, _("“%(subject)s” was added.") % {"subject": activity.subject})
            linked = _linked_record(activity)
            return redirect(
                _back(
                    request, linked.get_absolute_url() if linked else reverse("activities:detail", args=[activity.pk])
                )
            )
    return render(
        request,
        "crm/records/form.html",
        {"form": form, "title": _("New task, call or note"), "cancel_url": _back(request, reverse("activities:list"))},
    )


@login_required
@require_http_methods(["GET", "POST"])
def activity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    activity = activity_get(user, pk)
    form = ActivityForm(
        request.POST or None,
        initial=activity_initial(activity),
        users=user_choices(),
        links=_links(user),
        current={n: getattr(activity, n) for n in _LINKS},
    )
    detail = reverse("activities:detail", args=[activity.pk])
    if request.method == "POST" and form.is_valid():
        updated = run_service(
            form, lambda: activity_update(actor=user, activity=copy.copy(activity), data=form.activity_data())
        )
        if updated is not None:
            messages.success(request, _("Saved."))
            return redirect(detail)
    return render(
        request,
        "crm/records/form.html",
        {"form": form, "record": activity, "title": _("Edit %(name)s") % {"name": activity}, "cancel_url": detail},
    )


def _card_of(request: HttpRequest, user: User) -> tuple[str, CardKind, Model] | None:
    """The card ("companies:12") whose "Next step" panel sent the request, if it is one the user may see."""
    ns, _sep, pk = request.POST.get("card", "").partition(":")
    if ns not in CARDS or not pk.isdigit() or len(pk) > 12:
        return None
    return ns, CARDS[ns], CARDS[ns].get(user, int(pk))


@login_required
@require_POST
def activity_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark done (with a result) or undone. htmx gets the updated row back."""
    user = actor_of(request)
    activity = activity_get(user, pk)
    # Asked from a card's "Next step" panel: the card must be one the user may see (else 404, nothing done).
    card = _card_of(request, user) if is_htmx(request) else None
    form = DoneForm(request.POST)
    if form.is_valid():
        result = run_service(
            form,
            lambda: activity_set_done(
                actor=user, activity=activity, done=form.cleaned_data["done"], result=form.cleaned_data["result"]
            ),
        )
        if result is None and not is_htmx(request):
            messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
    if is_htmx(request):
        # Re-read: a refused change must not show as made; its errors show in the row, where it was asked.
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        status = 422 if errors else 200
        if card is not None:
            # That panel again, now with what comes next.
            ns, kind, record = card
            next_action = next_action_of(user, record_type=kind.record_type, record=record)
            context = {"ns": ns, "record": record, "next_action": next_action, "done_errors": errors}
            context["done_activity"] = None if errors else activity_get(user, pk)
            return render(request, "crm/records/_next_action.html", context, status=status)
        context = {"activity": activity_get(user, pk), "done_errors": errors}
        return render(request, "crm/records/_activity_row.html", context, status=status)
    return redirect(_back(request, reverse("activities:detail", args=[pk])))


@login_required
@require_http_methods(["GET", "POST"])
def activity_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    activity = activity_get(user, pk)
    conceal_related(user, [activity], ACTIVITY_LINKS)
    linked = _linked_record(activity)
    detail = reverse("activities:detail", args=[activity.pk])
    return confirm_delete(
        request,
        record=activity,
        what=_("Activity"),
        delete=lambda: activity_delete(actor=user, activity=activity),
        done_url=linked.get_absolute_url() if linked else reverse("activities:list"),
        cancel_url=detail,
    )
