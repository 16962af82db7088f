"""Back up workspaces now: `manage.py backup_workspace acme globex` or `--all`; `--prune` applies the retention."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from infra.backups.management.workspaces import workspace_named
from infra.backups.models import Backup
from infra.backups.services import BackupError, backup_create
from infra.backups.tasks import prune
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Back up workspaces (schema and files, encrypted) to the backup storage."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("subdomains", nargs="*", help="the workspaces to back up")
        parser.add_argument("--all", action="store_true", help="every workspace")
        parser.add_argument("--prune", action="store_true", help="then remove what the retention does not keep")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"]:
            tenants = list(Tenant.objects.filter(kind=Tenant.Kind.WORKSPACE).order_by("schema_name"))
        elif options["subdomains"]:
            tenants = [workspace_named(name) for name in options["subdomains"]]
        elif not options["prune"]:
            raise CommandError("name the workspaces to back up, or --all")
        else:
            tenants = []
        failed = 0
        for tenant in tenants:
            try:
                backup = backup_create(tenant=tenant, trigger=Backup.Trigger.MANUAL)
            except BackupError as exc:
                failed += 1
                self.stderr.write(f"{tenant.schema_name}: failed: {exc}")
                continue
            self.stdout.write(
                f"{tenant.schema_name}: backup {backup.id} {filesizeformat(backup.size)}, {backup.rows} rows, "
                f"{backup.files} files, key {backup.key_id}"
            )
        if options["prune"]:
            self.stdout.write(f"retention: {prune()} backups removed")
        if failed:
            raise CommandError(f"{failed} of {len(tenants)} backups failed")
