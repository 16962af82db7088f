"""Restore a workspace from one of its backups.

    manage.py restore_workspace acme --list                       its backups, newest first
    manage.py restore_workspace acme --verify [--backup ID]       restore into scratch, check, roll back
    manage.py restore_workspace acme --into acme-copy [--backup ID]   as a new workspace, for inspection
    manage.py restore_workspace acme --yes [--backup ID]          replace the workspace (the replaced schema is kept)
    manage.py restore_workspace --confirm RESTORE_ID              drop what a restore replaced
    manage.py restore_workspace --catalog                         every backup manifest in the storage
    manage.py restore_workspace acme --recover MANIFEST           from the storage alone, into a database that
                                                                  does not have the workspace (after a disaster)

Without --backup, the latest completed backup. Everything is checked before the live workspace is touched.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from infra.backups.management.workspaces import workspace_named
from infra.backups.models import Backup, Restore
from infra.backups.services import (
    BackupError,
    backup_recover,
    backup_verify,
    manifests_stored,
    restore_confirm,
    restore_copy,
    restore_in_place,
)
from tenants.models import Tenant


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise CommandError(f"{what} {value!r} is not a backup or restore id") from exc


class Command(BaseCommand):
    help = "Restore a workspace from a backup: in place, as a copy, or only to verify it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("subdomain", nargs="?", help="the workspace whose backup is restored")
        parser.add_argument("--backup", help="the backup's id (default: the latest completed one)")
        parser.add_argument("--list", action="store_true", help="list the workspace's backups")
        parser.add_argument("--verify", action="store_true", help="restore into scratch, check and roll back")
        parser.add_argument("--into", metavar="SUBDOMAIN", help="restore as a new workspace at this address")
        parser.add_argument("--yes", action="store_true", help="replace the live workspace")
        parser.add_argument("--confirm", metavar="RESTORE_ID", help="drop the schema and files a restore replaced")
        parser.add_argument("--catalog", action="store_true", help="list the manifests in the backup storage")
        parser.add_argument("--recover", metavar="MANIFEST", help="bring the workspace back from the storage alone")
        parser.add_argument("--operator", default="", help="who is restoring (recorded)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["confirm"]:
            restore = Restore.objects.filter(pk=_uuid(options["confirm"], "restore")).first()
            if restore is None:
                raise CommandError(f"no restore {options['confirm']}")
            try:
                restore_confirm(restore=restore)
            except BackupError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"restore {restore.id} confirmed: {restore.replaced_schema or '-'} dropped")
            return
        if options["catalog"]:
            for name in manifests_stored():
                self.stdout.write(name)
            return
        if not options["subdomain"]:
            raise CommandError("name the workspace")
        if options["recover"]:
            try:
                restore, tenant = backup_recover(
                    manifest_name=options["recover"], subdomain=options["subdomain"], operator=options["operator"]
                )
            except BackupError as exc:
                raise CommandError(f"refused, nothing was changed: {exc}") from exc
            self.stdout.write(f"workspace {tenant.schema_name} recovered from {options['recover']} ({restore.id})")
            return
        tenant = workspace_named(options["subdomain"])
        if options["list"]:
            self._list(tenant)
            return
        backup = self._backup(tenant, options["backup"])
        try:
            if options["verify"]:
                passed = backup_verify(backup=backup)
                backup.refresh_from_db()
                self.stdout.write(f"backup {backup.id}: {backup.verification}: {backup.verification_message}")
                if not passed:
                    raise CommandError("verification failed")
            elif options["into"]:
                restore, copy = restore_copy(
                    tenant=tenant, backup=backup, subdomain=options["into"], operator=options["operator"]
                )
                self.stdout.write(f"backup {backup.id} restored as workspace {copy.schema_name} ({restore.id})")
            elif options["yes"]:
                restore = restore_in_place(tenant=tenant, backup=backup, operator=options["operator"])
                self.stdout.write(
                    f"workspace {tenant.schema_name} restored from backup {backup.id}; the replaced schema is kept as "
                    f"{restore.replaced_schema}: when satisfied, run restore_workspace --confirm {restore.id}"
                )
            else:
                raise CommandError("say what to do: --verify, --into SUBDOMAIN, or --yes to replace the workspace")
        except BackupError as exc:
            raise CommandError(f"refused, nothing was changed: {exc}") from exc

    def _backup(self, tenant: Tenant, backup_id: str | None) -> Backup:
        backups = Backup.objects.filter(tenant=tenant, status=Backup.Status.DONE, pruned=False)
        if backup_id:
            backup = Backup.objects.filter(tenant=tenant, pk=_uuid(backup_id, "backup")).first()
        else:
            backup = backups.order_by("-created_at").first()
        if backup is None:
            raise CommandError(f"no such backup of {tenant.schema_name}")
        return backup

    def _list(self, tenant: Tenant) -> None:
        for backup in Backup.objects.filter(tenant=tenant).order_by("-created_at")[:100]:
            size = filesizeformat(backup.size)
            self.stdout.write(
                f"{backup.id}  {backup.created_at:%Y-%m-%d %H:%M}  {backup.status:8}  {size:>10}  "
                f"{backup.rows:>9} rows  {backup.verification}{'  pruned' if backup.pruned else ''}"
            )
