"""Backups of the full-size workspace beside the plain PostgreSQL tools, in the same run.

    make bench-backups        # or: python -m platform_core.embedded run -- python bench/backups.py [--reuse]

Uses bench/crm.py's scratch database and its seeded "big" workspace (200,000 companies, 1,000,000 contacts,
300,000 deals, 1,000,000 activities; seeded when missing, `--reuse` keeps it between runs) and its "small" one.
Each round, interleaved so the machine's drift hits both alike:
- plain dump:      pg_dump --format=custom -n <schema> to a file (the ceiling)
- Kontor backup:   backup_create (snapshot, row counts, pg_dump, encryption, files, manifest) to BACKUP_DIR
- plain restore:   pg_restore of that file into an empty database (which has the audit trigger's function)
- Kontor restore:  restore_in_place (decrypt, pg_restore, psql in one transaction, row-count check, swap)
Prints the median seconds of each and the ratio (target: at most 1.1), the sizes, and the Python heap's peak
during the backup and the restore of the small and the big workspace (flat: the same whatever the size).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")

from bench.crm import FULL, SMALL, bench_workspace, open_database


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def _peak(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """Seconds and the Python heap's peak (MiB) of `work`."""
    tracemalloc.start()
    try:
        seconds, result = _timed(work)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return seconds, peak / 2**20, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="reuse bench/crm.py's seeded database")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each measurement")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (quick trials)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kontor-backup-bench-"))
    os.environ["BACKUP_DIR"] = str(work / "backups")
    os.environ["MEDIA_ROOT"] = str(work / "media")
    os.environ["BACKUP_S3_BUCKET"] = ""
    db = open_database(reuse=args.reuse)

    from django.db import connection
    from django.test.utils import override_settings

    from infra.backups import pg
    from infra.backups.services import backup_create, restore_confirm, restore_in_place
    from tenants.fleet.script import pg_dump_checked, pg_environment

    big = bench_workspace("big", {k: max(1, int(v * args.scale)) for k, v in FULL.items()})
    small = bench_workspace("small", SMALL)
    target_db = f"{db['NAME']}_restore"
    env = pg_environment("kontor backup bench")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('public.kontor_append_only()'::regprocedure)")
        function = cursor.fetchone()[0]

    def psql_admin(statement: str, database: str = "postgres") -> None:
        subprocess.run([pg.psql_program(), "-X", "-q", "-d", database, "-c", statement], env=env, check=True)

    def plain_dump(schema: str) -> int:
        path = work / "plain.dump"
        command = [pg_dump_checked(), "--format=custom", f"--schema={schema}", "--no-owner", "--no-privileges"]
        with path.open("wb") as out:
            subprocess.run(command, stdout=out, env=env, check=True)
        return path.stat().st_size

    def plain_restore() -> None:
        psql_admin(f'DROP DATABASE IF EXISTS "{target_db}"')
        psql_admin(f'CREATE DATABASE "{target_db}"')
        psql_admin(function, target_db)
        subprocess.run(
            [
                pg.pg_restore_program(),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "-d",
                target_db,
                str(work / "plain.dump"),
            ],
            env=env,
            check=True,
        )

    results: dict[str, list[float]] = {k: [] for k in ("plain dump", "backup", "plain restore", "restore")}
    sizes: dict[str, int] = {}
    memory: dict[str, float] = {}
    with override_settings(BACKUP_DIR=work / "backups", MEDIA_ROOT=work / "media"):
        for label, tenant in (("small", small), ("big", big)):
            seconds, peak, backup = _peak(partial(backup_create, tenant=tenant))
            memory[f"backup {label}"] = peak
            seconds, peak, restore = _peak(partial(restore_in_place, tenant=tenant, backup=backup))
            memory[f"restore {label}"] = peak
            restore_confirm(restore=restore)
            sizes[f"{label} rows"] = backup.rows
        print(f"Rounds on the big workspace ({sizes['big rows']:,} rows), {args.rounds} of each:", flush=True)
        for round_no in range(1, args.rounds + 1):
            seconds, size = _timed(lambda: plain_dump(big.schema_name))
            results["plain dump"].append(seconds)
            sizes["plain dump"] = size
            seconds, backup = _timed(lambda: backup_create(tenant=big))
            results["backup"].append(seconds)
            sizes["backup"] = backup.manifest["artifacts"]["dump"]["size"]
            seconds, _ = _timed(plain_restore)
            results["plain restore"].append(seconds)
            seconds, restore = _timed(partial(restore_in_place, tenant=big, backup=backup))
            results["restore"].append(seconds)
            restore_confirm(restore=restore)
            print(
                f"  round {round_no}: dump {results['plain dump'][-1]:.1f} s / backup {results['backup'][-1]:.1f} s, "
                f"restore {results['plain restore'][-1]:.1f} s / {results['restore'][-1]:.1f} s",
                flush=True,
            )
    psql_admin(f'DROP DATABASE IF EXISTS "{target_db}"')

    median = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n{'':<28} {'plain tools':>12} {'Kontor':>10} {'ratio':>7} {'target':>7}")
    for name, plain, ours in (("backup (dump)", "plain dump", "backup"), ("restore", "plain restore", "restore")):
        ratio = median[ours] / median[plain]
        print(f"{name:<28} {median[plain]:>10.2f} s {median[ours]:>8.2f} s {ratio:>7.2f} {'<= 1.1':>7}")
    print(f"\nsize: plain custom-format dump {sizes['plain dump']:,} bytes, encrypted backup {sizes['backup']:,} bytes")
    print("Python heap peak (MiB):")
    for label in ("small", "big"):
        print(
            f"  {label:<6} {sizes[f'{label} rows']:>10,} rows: backup {memory[f'backup {label}']:6.1f}, "
            f"restore {memory[f'restore {label}']:6.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
