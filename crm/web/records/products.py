"""Product pages: the card, the form and deletion (a product used in deals is deactivated instead)."""

from __future__ import annotations

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from crm.core.types import RecordType
from crm.deals.selectors import deals_visible_to
from crm.products.selectors import product_get
from crm.products.services import product_create, product_delete, product_update
from crm.web.access import hidden_fields
from crm.web.records.cards import confirm_delete, run_service
from crm.web.records.common import actor_of
from crm.web.records.forms import ProductForm
from tenants.accounts import policy

RECENT_LINES = 20


@login_required
@require_GET
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    product = product_get(user, pk)
    # Only lines of deals the user may see, and none when their role hides deal amounts (and so lines).
    lines = (
        []
        if policy.hides(user, RecordType.DEAL, "line_items")
        else list(
            product.line_items.filter(deal__in=deals_visible_to(user))
            .select_related("deal")
            .order_by("-id")[:RECENT_LINES]
        )
    )
    return render(request, "crm/records/product_detail.html", {"record": product, "lines": lines})


@login_required
@require_http_methods(["GET", "POST"])
def product_new(request: HttpRequest) -> HttpResponse:
    user = actor_of(request)
    form = ProductForm(request.POST or None, hidden=hidden_fields(user, RecordType.PRODUCT))
    if request.method == "POST" and form.is_valid():
        product = run_service(form, lambda: product_create(actor=user, data=form.product_data()))
        if product is not None:
            messages.success(request, _("Product “%(name)s” was created.") % {"name": product.name})
            return redirect("products:detail", product.pk)
    return render(
        request,
        "crm/records/form.html",
        {"form": form, "title": _("New product"), "cancel_url": reverse("products:list")},
    )


@login_required
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    product = product_get(user, pk)
    names = ("sku", "name", "unit", "price", "currency", "vat_rate", "is_active", "description")
    form = ProductForm(
        request.POST or None,
        initial={n: getattr(product, n) for n in names},
        hidden=hidden_fields(user, RecordType.PRODUCT),
    )
    if request.method == "POST" and form.is_valid():
        updated = run_service(
            form, lambda: product_update(actor=user, product=copy.copy(product), data=form.product_data())
        )
        if updated is not None:
            messages.success(request, _("Saved."))
            return redirect("products:detail", updated.pk)
    detail = reverse("products:detail", args=[product.pk])
    return render(
        request,
        "crm/records/form.html",
        {"form": form, "record": product, "title": _("Edit %(name)s") % {"name": product}, "cancel_url": detail},
    )


@login_required
@require_http_methods(["GET", "POST"])
def product_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor_of(request)
    product = product_get(user, pk)
    return confirm_delete(
        request,
        record=product,
        what=_("Product"),
        delete=lambda: product_delete(actor=user, product=product),
        done_url=reverse("products:list"),
        cancel_url=reverse("products:detail", args=[product.pk]),
    )
