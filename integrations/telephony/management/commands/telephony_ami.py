"""`manage.py telephony_ami [--shard I/N]`: keep the AMI sessions of the Asterisk connections and log their calls.

One process serves every workspace; run N of them with --shard 0/N ... N-1/N to split the connections between
them (each connection falls in exactly one shard)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from integrations.telephony.runner import Supervisor


def _shard(value: str) -> tuple[int, int]:
    index, _, count = value.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        raise CommandError("--shard is I/N, e.g. 0/2") from None
    if shard[1] < 1 or not 0 <= shard[0] < shard[1]:
        raise CommandError("--shard is I/N with 0 <= I < N")
    return shard


class Command(BaseCommand):
    help = "Keep the AMI sessions of the workspaces' Asterisk connections and log their calls in the CRM."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--shard", default="0/1", help="this process's share of the connections, I/N")

    def handle(self, *args: Any, **options: Any) -> None:
        shard = _shard(options["shard"])

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await Supervisor(shard=shard).run(stop)

        asyncio.run(main())
