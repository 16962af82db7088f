"""Idempotent platform setup: migrations (public, then the fleet), public site domain, clone template, schema pool."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from tenants.services import public_tenant_ensure, schema_pool_refill
from tenants.tasks import refill_schema_pool


class Command(BaseCommand):
    help = "Migrate public and the fleet, then ensure the public site's domain, the clone template and a full pool."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip-migrate", action="store_true", help="the caller has just migrated (public and the fleet)"
        )
        parser.add_argument("--jobs", type=int, default=2, help="connections the fleet migration uses")
        parser.add_argument(
            "--refill-in-background",
            action="store_true",
            help="queue the template and pool refill for the Celery worker instead of waiting for it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["skip_migrate"]:
            # Public first (django-tenants), then every workspace, pooled and template schema: the template and
            # the pool must be at the latest state before they are used or copied.
            verbosity = max(0, int(options["verbosity"]) - 1)
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
            call_command(
                "migrate_fleet", jobs=options["jobs"], verbosity=verbosity, stdout=self.stdout, stderr=self.stderr
            )
        public_tenant_ensure()
        if options["refill_in_background"]:
            refill_schema_pool.delay()
            self.stdout.write(f"Public site at {settings.BASE_DOMAIN}; schema pool refill queued.")
            return
        added = schema_pool_refill()
        self.stdout.write(
            f"Public site at {settings.BASE_DOMAIN}; schema pool refilled with {added} "
            f"(target {settings.SCHEMA_POOL_SIZE})."
        )
