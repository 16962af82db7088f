"""Migrate every workspace, pooled and template schema forwards, rendered once and replayed in parallel."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.fleet.migrate import (
    RECYCLE_EVERY,
    FleetMigrationError,
    FleetSchema,
    ProgressBar,
    failures_text,
    fleet_migrate,
)


class Command(BaseCommand):
    help = (
        "Migrate the fleet of tenant schemas forwards (public stays with `migrate_schemas --shared`). "
        "Schemas already at the target are skipped unopened; the others are grouped by state, the group's SQL is "
        "rendered once and applied schema by schema, each in one transaction with its django_migrations rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app_label", nargs="?", help="migrate this app only (to its latest migration)")
        parser.add_argument("migration_name", nargs="?", help="migrate the app up to this migration (forwards)")
        parser.add_argument("--jobs", type=int, default=2, help="schemas migrated at once, one connection each")
        parser.add_argument(
            "--keep-going",
            action="store_true",
            help="go on after a failing schema and list the failures at the end (default: stop at the first)",
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="read every schema's django_migrations even when its stored fingerprint says it is at the target",
        )
        parser.add_argument(
            "--recycle-every",
            type=int,
            default=RECYCLE_EVERY,
            help="reopen a connection after this many schemas (bounds its relation cache)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1")
        verbosity = int(options["verbosity"])
        stream: Any = self.stderr
        while hasattr(stream, "_out"):  # the raw stream under Django's OutputWrapper(s): the bar draws on one line
            stream = stream._out
        bar = ProgressBar(stream) if verbosity >= 1 and not options["no_progress"] else None

        def on_event(kind: str, schema: FleetSchema | None, detail: str) -> None:
            if kind == "start":
                if bar is not None:
                    bar.start(int(detail))
                return
            assert schema is not None
            if kind == "failed":
                text = f"FAILED {schema.schema_name}: {detail}"
                if bar is not None:
                    bar.message(text)
                else:
                    self.stderr.write(text)
            elif verbosity >= 2:
                self.stdout.write(f"migrated {schema.schema_name}")
                self.stdout.flush()
            if bar is not None:
                bar.advance(failed=kind == "failed")

        try:
            result = fleet_migrate(
                app_label=options["app_label"],
                migration_name=options["migration_name"],
                jobs=options["jobs"],
                keep_going=options["keep_going"],
                verify=options["verify"],
                recycle_every=options["recycle_every"],
                on_event=on_event,
            )
        except FleetMigrationError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            if bar is not None:
                bar.finish()
        if result.failures:
            self.stderr.write(f"{result.failed} schema(s) failed:\n{failures_text(result.failures)}")
            if result.stopped:
                self.stderr.write("Stopped at the first failure (--keep-going goes on); a rerun continues.")
        self.stdout.write(result.summary_line())
        if result.failures:
            raise CommandError(f"{result.failed} schema(s) failed to migrate")
