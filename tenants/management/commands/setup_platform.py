"""Idempotent platform setup after migrations: public site domain, clone template, schema pool."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tenants.routing import routing_tables_analyse
from tenants.services import public_tenant_ensure, schema_pool_refill
from tenants.tasks import refill_schema_pool


class Command(BaseCommand):
    help = "Ensure the public site's domain, the clone template and a full schema pool."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--refill-in-background",
            action="store_true",
            help="queue the template and pool refill for the Celery worker instead of waiting for it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        public_tenant_ensure()
        # The host -> tenant lookup's tables, analysed whatever autovacuum has done so far.
        routing_tables_analyse()
        if options["refill_in_background"]:
            refill_schema_pool.delay()
            self.stdout.write(f"Public site at {settings.BASE_DOMAIN}; schema pool refill queued.")
            return
        added = schema_pool_refill()
        if added:
            routing_tables_analyse()
        self.stdout.write(
            f"Public site at {settings.BASE_DOMAIN}; schema pool refilled with {added} "
            f"(target {settings.SCHEMA_POOL_SIZE})."
        )
