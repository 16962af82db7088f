"""One measured operation of bench/processes.py in a fresh process, for its memory figures:

    python bench/processes_probe.py runner <schema> <now timestamp>   # timers.fire_due(now) + timers.due_refresh
    python bench/processes_probe.py triggers <schema>                 # the processes.triggers consumer's backlog

Prints one JSON line: the peak RSS before and after the operation (getrusage, MB), the operation's own peak of
Python allocations (tracemalloc, MB), what it did and how long it took.
"""

from __future__ import annotations

import datetime
import json
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_core.settings")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main() -> int:
    import django

    django.setup()
    from django.db import connection
    from django_tenants.utils import schema_context

    from crm.processes import timers, triggers
    from tenants.events.outbox import consumer_unregister, consumers, deliver_pending

    what, schema = sys.argv[1], sys.argv[2]
    extra: dict[str, object] = {}
    with schema_context(schema):
        # Warm up what every run pays once (the connection, the first queries' caches), outside the figures.
        timers.next_due()
        done = 0
        rss_before = _rss_mb()
        tracemalloc.start()
        started = time.perf_counter()
        if what == "runner":
            now = datetime.datetime.fromtimestamp(float(sys.argv[3]), tz=datetime.UTC)
            fired = timers.fire_due(now=now, budget_seconds=600)
            timers.due_refresh(schema)
            done = fired.fired
        else:
            # The processes consumer alone: the others' cost does not depend on processes.
            for consumer in consumers():
                if consumer.name != triggers.CONSUMER:
                    consumer_unregister(consumer.name)
            while True:
                progress = deliver_pending()
                done += progress.delivered
                if not progress.more:
                    break
        seconds = time.perf_counter() - started
        _current, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_after = _rss_mb()
        if what != "runner":
            from tenants.events.models import ConsumerCursor, Event

            cursor = ConsumerCursor.objects.get(consumer=triggers.CONSUMER)
            top = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
            extra = {"behind": top - cursor.position, "error": cursor.last_error[:300]}
    connection.close()
    print(
        json.dumps(
            {
                "rss_before_mb": rss_before,
                "rss_peak_mb": rss_after,
                "traced_peak_mb": traced_peak / 2**20,
                "done": done,
                "seconds": seconds,
                **extra,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
