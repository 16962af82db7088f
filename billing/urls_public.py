"""Billing on the public site: Stripe's webhook endpoint."""

from django.urls import URLPattern, path

from billing import webhooks

app_name = "billing_public"
urlpatterns: list[URLPattern] = [path("stripe/webhook/", webhooks.stripe_webhook, name="stripe_webhook")]
