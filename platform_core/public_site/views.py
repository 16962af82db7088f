"""The public site: landing page and self-service signup."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from platform_core.hosts import host_url
from platform_core.public_site.forms import FindWorkspaceForm, SignupForm
from tenants.accounts.tokens import handoff_token_make
from tenants.locale import defaults_for_language
from tenants.selectors import workspace_domain_find
from tenants.services import subdomain_errors, workspace_create
from tenants.validators import normalize_subdomain

logger = logging.getLogger(__name__)


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(request, "public_site/landing.html")


@require_GET
def pricing(request: HttpRequest) -> HttpResponse:
    """Per user per month (or year), in each currency sold; the trial needs no card."""
    from billing.selectors import price_table

    return render(
        request, "public_site/pricing.html", {"table": price_table(), "trial_days": settings.BILLING_TRIAL_DAYS}
    )


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    language = translation.get_language() or settings.LANGUAGE_CODE
    form = SignupForm(
        request.POST if request.method == "POST" else None,
        initial={"language": language, "currency": defaults_for_language(language)[0]},
    )
    if request.method == "POST" and form.is_valid():
        try:
            created = workspace_create(**{**form.cleaned_data, "language": form.cleaned_data["language"] or language})
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        except Exception:
            # Provisioning rolled back whole; the visitor gets a plain page and we get the traceback.
            logger.exception("signup failed for subdomain %r", form.cleaned_data.get("subdomain"))
            return render(request, "public_site/signup_failed.html", status=500)
        else:
            token = handoff_token_make(user=created.owner, schema_name=created.tenant.schema_name)
            welcome = f"{reverse('accounts:welcome', urlconf=settings.ROOT_URLCONF)}?{urlencode({'token': token})}"
            return HttpResponseRedirect(host_url(request, created.domain.domain, welcome))
    return render(request, "public_site/signup.html", {"form": form, "base_domain": settings.BASE_DOMAIN})


@require_http_methods(["GET", "POST"])
def find_workspace(request: HttpRequest) -> HttpResponse:
    """Public "log in": the visitor names their workspace and is sent to its login page."""
    form = FindWorkspaceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        domain = workspace_domain_find(form.cleaned_data["subdomain"])
        if domain is None:
            form.add_error("subdomain", _("There is no workspace at this address."))
        else:
            return HttpResponseRedirect(
                host_url(request, domain, reverse("accounts:login", urlconf=settings.ROOT_URLCONF))
            )
    return render(request, "public_site/find_workspace.html", {"form": form, "base_domain": settings.BASE_DOMAIN})


@require_GET
def subdomain_check(request: HttpRequest) -> HttpResponse:
    """htmx: tells as the visitor types whether the address can be used."""
    subdomain = normalize_subdomain(request.GET.get("subdomain", ""))
    errors = subdomain_errors(subdomain) if subdomain else []
    return render(request, "public_site/_subdomain_check.html", {"subdomain": subdomain, "errors": errors})
