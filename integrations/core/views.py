"""The integrations pages (/settings/integrations/), for people with the "manage integrations" permission:
the connections, adding one of a registered kind, its settings (credentials write-only), its inbound URL's
secret (shown once), turning it off, and its exchange log with a retry for what failed."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations.core import registry, selectors, services
from integrations.core.forms import ConnectionForm, LogFilterForm
from integrations.core.models import Connection
from integrations.core.registry import ConnectionKind
from tenants.accounts import policy
from tenants.accounts.models import User

View = Callable[..., HttpResponseBase]
LOG_PAGE_SIZE = 50


def manager_required(view: View) -> View:
    """Signed in, with the right to manage integrations (403 before anything is read)."""

    @login_required
    @never_cache
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        policy.require_permission(_actor(request), policy.WorkspacePermission.MANAGE_INTEGRATIONS)
        return view(request, *args, **kwargs)

    return wrapper


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _kind_or_404(key: str) -> ConnectionKind:
    kind = registry.kind_get(key)
    if kind is None:
        raise Http404
    return kind


def inbound_url(request: HttpRequest, kind: ConnectionKind, token: str) -> str:
    """The full address a system calls, with the secret in its path."""
    try:
        return request.build_absolute_uri(reverse(kind.inbound_url_name, kwargs={"token": token}))
    except NoReverseMatch:
        return ""


def _secret_page(request: HttpRequest, conn: Connection, token: str) -> HttpResponse:
    kind = _kind_or_404(conn.kind)
    context = {"connection": conn, "kind": kind, "token": token, "url": inbound_url(request, kind, token)}
    return render(request, "integrations/secret.html", context)


@manager_required
@require_GET
def connections(request: HttpRequest) -> HttpResponse:
    found = list(selectors.connections())
    latest = selectors.last_exchanges(found)
    rows = [(conn, registry.kind_get(conn.kind), latest.get(conn.pk)) for conn in found]
    return render(request, "integrations/list.html", {"rows": rows, "kinds": registry.kinds()})


@manager_required
@require_http_methods(["GET", "POST"])
def connection_new(request: HttpRequest, kind: str) -> HttpResponse:
    spec = _kind_or_404(kind)
    form = ConnectionForm(request.POST if request.method == "POST" else None, kind=spec)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.connection_create(
                actor=_actor(request),
                kind=spec.key,
                name=form.cleaned_data["name"],
                settings=form.settings_values(),
                secrets=form.secret_values(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages})
        else:
            messages.success(request, _("“%(name)s” connected.") % {"name": created.connection.name})
            if created.token is not None:
                return _secret_page(request, created.connection, created.token)
            return redirect("integrations:detail", pk=created.connection.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "integrations/new.html", {"form": form, "kind": spec}, status=status)


@manager_required
@require_http_methods(["GET", "POST"])
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conn = selectors.connection_get(pk)
    spec = _kind_or_404(conn.kind)
    form = ConnectionForm(request.POST if request.method == "POST" else None, kind=spec, connection=conn)
    if request.method == "POST" and form.is_valid():
        try:
            services.connection_update(
                actor=_actor(request),
                connection=conn,
                name=form.cleaned_data["name"],
                settings=form.settings_values(),
                secrets=form.secret_values(),
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages})
        else:
            messages.success(request, _("Settings saved."))
            return redirect("integrations:detail", pk=conn.pk)
    filters = LogFilterForm(request.GET or None)
    status_filter = filters.cleaned_data["status"] if filters.is_valid() else ""
    page = Paginator(selectors.exchanges_of(conn, status=status_filter), LOG_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"connection": conn, "kind": spec, "form": form, "filters": filters, "page": page}
    return render(request, "integrations/detail.html", context, status=422 if request.method == "POST" else 200)


@manager_required
@require_POST
def connection_token(request: HttpRequest, pk: int) -> HttpResponse:
    conn = selectors.connection_get(pk)
    try:
        token = services.connection_token_rotate(actor=_actor(request), connection=conn)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("integrations:detail", pk=conn.pk)
    return _secret_page(request, conn, token)


@manager_required
@require_POST
def connection_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    conn = selectors.connection_get(pk)
    conn = services.connection_set_active(actor=_actor(request), connection=conn, active=not conn.is_active)
    messages.success(request, _("Connection turned on.") if conn.is_active else _("Connection turned off."))
    return redirect("integrations:detail", pk=conn.pk)


@manager_required
@require_http_methods(["GET", "POST"])
def connection_delete(request: HttpRequest, pk: int) -> HttpResponse:
    conn = selectors.connection_get(pk)
    if request.method == "POST":
        services.connection_delete(actor=_actor(request), connection=conn)
        messages.success(request, _("“%(name)s” removed.") % {"name": conn.name})
        return redirect("integrations:list")
    return render(request, "integrations/delete.html", {"connection": conn})


@manager_required
@require_GET
def exchange_detail(request: HttpRequest, pk: int, entry: int) -> HttpResponse:
    conn = selectors.connection_get(pk)
    found = selectors.exchange_get(conn, entry)
    return render(request, "integrations/exchange.html", {"connection": conn, "entry": found})


@manager_required
@require_POST
def exchange_retry(request: HttpRequest, pk: int, entry: int) -> HttpResponse:
    conn = selectors.connection_get(pk)
    found = selectors.exchange_get(conn, entry)
    try:
        again = services.exchange_retry(actor=_actor(request), exchange=found)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("integrations:exchange", pk=conn.pk, entry=found.pk)
    messages.success(request, _("Retried: %(status)s.") % {"status": again.get_status_display()})
    return redirect("integrations:exchange", pk=conn.pk, entry=again.pk)
