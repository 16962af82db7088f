"""The webhook pages beside the core's connection page: the signing secret (shown once; a new one on demand),
the deliveries with a test event, each linked to its attempts in the exchange log."""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations.core import selectors as core_selectors
from integrations.core.views import manager_required
from integrations.webhooks import selectors, services
from integrations.webhooks.models import Delivery
from tenants.accounts.models import User

PAGE_SIZE = 50


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), required=False, choices=[("", gettext_lazy("All")), *Delivery.Status.choices]
    )


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


@manager_required
@require_http_methods(["GET", "POST"])
def secret(request: HttpRequest, connection: int) -> HttpResponse:
    conn = core_selectors.connection_get(connection, kind=services.KIND)
    if request.method == "POST":
        action = request.POST.get("action")
        if action not in ("show", "new"):
            return HttpResponseBadRequest(_("Unknown action."))
        try:
            if action == "show":
                shown = services.signing_secret_reveal(actor=_actor(request), connection=conn)
            else:
                shown = services.signing_secret_rotate(actor=_actor(request), connection=conn)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("webhooks:secret", connection=conn.pk)
        return render(request, "webhooks/secret.html", {"connection": conn, "secret": shown})
    return render(request, "webhooks/secret.html", {"connection": conn, "receiver": services.receiver_state(conn)})


@manager_required
@require_GET
def deliveries(request: HttpRequest, connection: int) -> HttpResponse:
    conn = core_selectors.connection_get(connection, kind=services.KIND)
    filters = DeliveryFilterForm(request.GET or None)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    page = Paginator(selectors.deliveries_of(conn, status=status), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"connection": conn, "receiver": services.receiver_state(conn), "filters": filters, "page": page}
    return render(request, "webhooks/deliveries.html", context)


@manager_required
@require_POST
def ping(request: HttpRequest, connection: int) -> HttpResponse:
    conn = core_selectors.connection_get(connection, kind=services.KIND)
    try:
        entry = services.ping_send(actor=_actor(request), connection=conn)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("webhooks:deliveries", connection=conn.pk)
    if entry is not None and entry.status == entry.Status.OK:
        messages.success(request, _("Test event delivered."))
    elif entry is not None:
        messages.error(request, _("Test event not delivered: %(error)s") % {"error": entry.error})
    return redirect("webhooks:deliveries", connection=conn.pk)
