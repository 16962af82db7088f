"""List pages, bulk actions, "my day" and the global search."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from crm.activities.selectors import my_open_tasks_until
from crm.core.bulk import BULK_LIMIT
from crm.core.types import RecordType
from crm.deals.selectors import deals_needing_next_step, open_deals_of
from crm.processes import selectors as process_selectors
from crm.search.selectors import global_search
from crm.web.access import conceal_related
from crm.web.lists import engine
from crm.web.lists.selectors import list_preference_of, workspace_members
from crm.web.lists.services import list_preference_reset, list_preference_save
from crm.web.lists.specs import SPECS
from crm.web.onboarding.selectors import guided_start
from tenants.accounts import policy
from tenants.accounts.models import User

MY_DAY_LIMIT = 30
SEARCH_DROPDOWN_PER_TYPE = 5
SEARCH_PAGE_PER_TYPE = 20
CONFIRM_PREVIEW = 10


@login_required
@require_GET
def my_day(request: HttpRequest) -> HttpResponse:
    """Today's and overdue tasks, and the user's deals that have no next step planned."""
    now = timezone.localtime()
    end_of_today = (now + datetime.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    tasks = list(my_open_tasks_until(request.user, end_of_today)[:MY_DAY_LIMIT])  # type: ignore[arg-type]
    deals = list(deals_needing_next_step(request.user)[:MY_DAY_LIMIT])  # type: ignore[arg-type]
    # Linked companies the user may not see are shown as none.
    for records in (tasks, deals):
        conceal_related(request.user, records, {"company": RecordType.COMPANY})  # type: ignore[arg-type]
    overdue = sum(1 for t in tasks if t.is_overdue)
    # With no deal of theirs open, "every deal has a next step" would be true but says nothing.
    has_open_deals = bool(deals) or open_deals_of(request.user).exists()  # type: ignore[arg-type]
    context = {"tasks": tasks, "deals": deals, "now": now, "overdue_count": overdue, "has_open_deals": has_open_deals}
    context["guided_start"] = guided_start(request.user)  # type: ignore[arg-type]
    # Business processes: the approvals waiting for this person, and which of the tasks a process waits on.
    context["approvals"] = process_selectors.approvals_waiting_for(request.user, limit=MY_DAY_LIMIT)  # type: ignore[arg-type]
    process_names = process_selectors.task_process_names(t.pk for t in tasks)
    for task in tasks:
        task.process_name = process_names.get(task.pk, "")  # type: ignore[attr-defined]
    return render(request, "crm/lists/my_day.html", context)


def _spec(namespace: str) -> engine.ListSpec:
    return SPECS[namespace]


def _list_url(spec: engine.ListSpec, back: str = "") -> str:
    # `back` is the list's own query string; re-encoding it keeps anything but parameters out of the URL.
    query = urlencode(list(QueryDict(back).lists()), doseq=True) if back else ""
    return reverse(f"{spec.namespace}:list") + (f"?{query}" if query else "")


@login_required
@require_GET
def record_list(request: HttpRequest, namespace: str) -> HttpResponse:
    spec = _spec(namespace)
    user: User = request.user  # type: ignore[assignment]
    ctx = engine.context_for(spec, user)
    preference = list_preference_of(user, spec.record_type)
    page = engine.run(spec, ctx=ctx, params=request.GET.dict(), preference=preference)
    chosen = {c.key for c in page.columns}
    column_choices = page.columns + [c for c in page.available_columns if c.key not in chosen]
    return render(
        request,
        "crm/lists/list.html",
        {
            "page": page,
            "spec": spec,
            "column_choices": column_choices,
            "chosen_keys": chosen,
            "saved_sort": preference.sort if preference is not None else "",
            "members": ctx.members,
            "bulk_limit": BULK_LIMIT,
            "back": page.querystring().lstrip("?"),
        },
    )


@login_required
@require_POST
def list_columns(request: HttpRequest, namespace: str) -> HttpResponse:
    """Save the columns (ticked, in the order given) and the default sort of this list for this user."""
    spec = _spec(namespace)
    user: User = request.user  # type: ignore[assignment]
    back = request.POST.get("back", "")
    if "reset" in request.POST:
        list_preference_reset(user=user, record_type=spec.record_type)
        return HttpResponseRedirect(_list_url(spec, back))
    ctx = engine.context_for(spec, user)
    available = [c.key for c in engine.available_columns(spec, ctx)]
    ticked = set(request.POST.getlist("columns")) & set(available)

    def position(key: str) -> tuple[int, int]:
        try:
            return (int(request.POST.get(f"pos_{key}", "")), available.index(key))
        except ValueError:
            return (len(available) + 1, available.index(key))

    columns = sorted(ticked, key=position)
    sort = engine.valid_sort(engine.available_sorts(spec, ctx), request.POST.get("sort", ""))
    list_preference_save(user=user, record_type=spec.record_type, columns=columns, sort=sort)
    messages.success(request, _("The list settings are saved."))
    return HttpResponseRedirect(_list_url(spec, back))


def _selected_ids(request: HttpRequest) -> list[int]:
    ids: list[int] = []
    for raw in request.POST.getlist("ids"):
        try:
            ids.append(int(raw))
        except ValueError:
            continue
    return list(dict.fromkeys(ids))


@login_required
@require_POST
def list_bulk(request: HttpRequest, namespace: str) -> HttpResponse:
    """Assign, tag or delete the ticked records through the services; deleting asks for confirmation first."""
    spec = _spec(namespace)
    user: User = request.user  # type: ignore[assignment]
    action = spec.bulk_action(request.POST.get("action", ""))
    if action is None:
        return HttpResponseBadRequest(_("Unknown action."))
    # A role that never allows the action is refused before anything is asked or selected.
    policy.require(user, action.policy_action, spec.record_type)
    back = request.POST.get("back", "")
    ids = _selected_ids(request)
    if not ids:
        messages.error(request, _("Select at least one record."))
        return HttpResponseRedirect(_list_url(spec, back))
    if len(ids) > BULK_LIMIT:
        messages.error(
            request,
            _("Select at most %(limit)d records at a time (%(count)d selected).")
            % {"limit": BULK_LIMIT, "count": len(ids)},
        )
        return HttpResponseRedirect(_list_url(spec, back))
    value: object = None
    if action.needs == "user":
        value = next((m for m in workspace_members() if str(m.pk) == request.POST.get("user", "")), None)
        if value is None:
            messages.error(request, _("Choose a person."))
            return HttpResponseRedirect(_list_url(spec, back))
    elif action.needs == "tag":
        value = request.POST.get("tag", "").strip()
    if action.confirm and request.POST.get("confirmed") != "yes":
        visible = spec.queryset(user).filter(pk__in=ids)
        preview = list(visible.order_by("pk")[:CONFIRM_PREVIEW])
        return render(
            request,
            "crm/lists/bulk_confirm.html",
            {
                "spec": spec,
                "action": action,
                "ids": ids,
                "count": visible.count(),
                "preview": preview,
                "more": max(0, len(ids) - len(preview)),
                "back": back,
                "list_url": _list_url(spec, back),
            },
        )
    try:
        done = action.run(user, ids, value)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return HttpResponseRedirect(_list_url(spec, back))
    # A record of the batch the user may not change refuses the whole batch: PermissionDenied is a 403.
    messages.success(
        request,
        ngettext("%(action)s: %(count)d record.", "%(action)s: %(count)d records.", done)
        % {"action": action.label, "count": done},
    )
    return HttpResponseRedirect(_list_url(spec, back))


_TYPE_LABELS = {
    RecordType.COMPANY: _("Companies"),
    RecordType.CONTACT: _("Contacts"),
    RecordType.DEAL: _("Deals"),
    RecordType.LEAD: _("Leads"),
}


@login_required
@require_GET
@vary_on_headers("HX-Request")
def search(request: HttpRequest) -> HttpResponse:
    """The global search: a dropdown fragment for htmx as you type, a full results page otherwise."""
    query = request.GET.get("q", "").strip()[:100]
    is_fragment = request.headers.get("HX-Request") == "true"
    user: User = request.user  # type: ignore[assignment]
    per_type = SEARCH_DROPDOWN_PER_TYPE if is_fragment else SEARCH_PAGE_PER_TYPE
    hits = global_search(user, query, per_type=per_type) if len(query) >= 2 else []
    groups: dict[RecordType, list[object]] = {}
    for hit in hits:
        groups.setdefault(hit.record_type, []).append(hit)
    context = {
        "query": query,
        "search_query": query,
        "groups": [(str(_TYPE_LABELS.get(t, t.label)), items) for t, items in groups.items()],
        "has_hits": bool(hits),
    }
    if is_fragment:
        if len(query) < 2:
            # An empty body lets the dropdown collapse (it is hidden while :empty).
            return HttpResponse("")
        return render(request, "crm/lists/_search_results.html", context)
    return render(request, "crm/lists/search.html", context)
