"""Idempotent platform setup after migrations: public site domain, clone template, schema pool."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.services import public_tenant_ensure, schema_pool_refill


class Command(BaseCommand):
    help = "Ensure the public site's domain, the clone template and a full schema pool."

    def handle(self, *args: Any, **options: Any) -> None:
        public_tenant_ensure()
        added = schema_pool_refill()
        self.stdout.write(
            f"Public site at {settings.BASE_DOMAIN}; schema pool refilled with {added} "
            f"(target {settings.SCHEMA_POOL_SIZE})."
        )
