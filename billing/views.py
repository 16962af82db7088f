"""The billing page of a workspace's administrators (MANAGE_BILLING): state, plan, seats, the next invoice, the
invoices and the seat ledger; subscribing goes through Stripe Checkout, the card and cancellation through the
Customer Portal. Each view reads only the account of the workspace the request is for."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from billing import selectors, services
from billing.forms import SubscribeForm
from billing.models import Account, State
from tenants.accounts import policy
from tenants.accounts.models import User
from tenants.accounts.selectors import active_user_count
from tenants.models import Tenant

View = Callable[..., HttpResponseBase]
# A Checkout session's id as Stripe makes them (cs_test_..., cs_live_...).
_SESSION_ID = re.compile(r"cs_[A-Za-z0-9_]{1,252}")


def _requires_billing(view: View) -> View:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not settings.BILLING_ENABLED:
            raise Http404
        policy.require_permission(cast(User, request.user), policy.WorkspacePermission.MANAGE_BILLING)
        return view(request, *args, **kwargs)

    return wrapper


def _account(request: HttpRequest) -> Account:
    return services.account_for(cast(Tenant, request.tenant))  # type: ignore[attr-defined]


# Where the page's forms lead: Stripe's Checkout and Customer Portal (and the fake Stripe of the tests).
_STRIPE_ORIGINS = ("https://checkout.stripe.com", "https://billing.stripe.com")


def _stripe_policy() -> str:
    """The site's Content-Security-Policy with Stripe's pages allowed as form targets: the subscribe and portal
    buttons post here and are redirected there, which form-action governs."""
    origins = list(_STRIPE_ORIGINS)
    if settings.STRIPE_API_BASE:
        parts = urlsplit(settings.STRIPE_API_BASE)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    policy = []
    for name, sources in settings.CONTENT_SECURITY_POLICY:
        policy.append(f"{name} {' '.join([*sources, *origins] if name == 'form-action' else sources)}")
    return "; ".join(policy)


def _page(request: HttpRequest, account: Account, form: SubscribeForm | None = None, status: int = 200) -> HttpResponse:
    tenant = cast(Tenant, request.tenant)  # type: ignore[attr-defined]
    seats = active_user_count()
    default = selectors.price_default(tenant)
    may_subscribe = account.state != State.DELETED and (not account.subscribed or account.state == State.CANCELLED)
    if form is None and may_subscribe:
        form = SubscribeForm(initial={"price": default.pk if default else None})
    elif form is not None and not may_subscribe:
        # The subscribe form is not shown (subscribed already): why the checkout was refused is said as a message.
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    context = {
        "account": account,
        "seats": seats,
        "trial_days_left": selectors.trial_days_left(account),
        "estimate": selectors.estimate(account, seats=seats, price=default),
        "invoices": selectors.invoices_of(account),
        "ledger": selectors.ledger_of(account),
        "form": form if may_subscribe else None,
        "closed": tenant.read_only,
    }
    response = render(request, "billing/page.html", context, status=status)
    response["Content-Security-Policy"] = _stripe_policy()
    return response


@_requires_billing
@require_GET
@never_cache
def page(request: HttpRequest) -> HttpResponse:
    account = _account(request)
    session_id = request.GET.get("session_id", "")
    if session_id:
        # Back from Checkout: take the subscription now rather than wait for Stripe's webhook. Only an id shaped
        # like Stripe's is asked about (a NUL, a space or markup in the address is nothing to send Stripe).
        if _SESSION_ID.fullmatch(session_id) and services.checkout_confirm(account=account, session_id=session_id):
            messages.success(request, _("Thank you: the subscription is active."))
        else:
            messages.info(request, _("The payment is being confirmed; this page updates when Stripe tells us."))
        return redirect("billing:page")
    return _page(request, account)


@_requires_billing
@require_POST
def checkout(request: HttpRequest) -> HttpResponseBase:
    account = _account(request)
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        return _page(request, account, form, status=422)
    back = request.build_absolute_uri(reverse("billing:page"))
    try:
        url = services.checkout_start(
            actor=cast(User, request.user),
            account=account,
            price=form.cleaned_data["price"],
            priority_support=form.cleaned_data["priority_support"],
            success_url=f"{back}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=back,
            language=get_language() or "en",
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]:
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return _page(request, account, form, status=422)
    except services.BillingUnavailable:
        messages.error(request, _("The payment service did not answer. Nothing was charged; try again in a minute."))
        return redirect("billing:page")
    return redirect(url, permanent=False)


@_requires_billing
@require_POST
def portal(request: HttpRequest) -> HttpResponseBase:
    account = _account(request)
    try:
        url = services.portal_open(
            actor=cast(User, request.user),
            account=account,
            return_url=request.build_absolute_uri(reverse("billing:page")),
            language=get_language() or "en",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("billing:page")
    except services.BillingUnavailable:
        messages.error(request, _("The payment service did not answer; try again in a minute."))
        return redirect("billing:page")
    return redirect(url, permanent=False)
