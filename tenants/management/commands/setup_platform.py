"""Idempotent platform setup: migrations (public, then the fleet), public site domain, template schema and its
script, schema pool."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.fleet.script import SchemaScriptError, SchemaScriptMissing, schema_script_refresh
from tenants.routing import routing_tables_analyse
from tenants.services import public_tenant_ensure, schema_pool_refill, schema_template_ensure
from tenants.tasks import refill_schema_pool


class Command(BaseCommand):
    help = "Migrate public and the fleet; ensure the public site's domain, the template, its script and a full pool."

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
        # The host -> tenant lookup's tables, analysed whatever autovacuum has done so far.
        routing_tables_analyse()
        if options["refill_in_background"]:
            # The script follows the template's migration state before new schemas are made from it; on a first
            # boot there is no template yet and the worker makes both.
            try:
                schema_script_refresh()
            except SchemaScriptMissing:
                pass
            except SchemaScriptError as exc:
                self.stderr.write(f"Schema script not made, new schemas will be migrated instead: {exc}")
            refill_schema_pool.delay()
            self.stdout.write(f"Public site at {settings.BASE_DOMAIN}; schema pool refill queued.")
            return
        schema_template_ensure()
        try:
            script = schema_script_refresh()
        except SchemaScriptError as exc:
            raise CommandError(f"cannot make the schema script: {exc}") from exc
        added = schema_pool_refill()
        if added:
            routing_tables_analyse()
        self.stdout.write(
            f"Public site at {settings.BASE_DOMAIN}; schema script {script}; schema pool refilled with {added} "
            f"(target {settings.SCHEMA_POOL_SIZE})."
        )
