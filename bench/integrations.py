"""The integrations' figures in one run: each part's benchmark (bench/integrations_<part>.py) in turn, every one
printing its figure beside its baseline measured in the same run, then one summary table.

    make bench-integrations    # or: python -m platform_core.embedded run -- python bench/integrations.py

- website forms: submissions/s through the inbound endpoint (JSON and HTML) beside the CRM's lead_create (ceiling)
- telephony: call events/s (AMI event sequences; cloud PBX notifications) beside activity_create (ceiling)
- accounting (1C): an exchange of 10,000 counterparties out and 10,000 payments in, seconds
- webhooks: delivery p50/p95 from the commit of a change to the receiver, beside the outbox to a no-op consumer

`--only webforms,telephony` runs some of them; `--quick` passes each part its own quick size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("webforms", "telephony", "accounting", "webhooks")
# The sizes (the 1C exchange: 10,000 counterparties out and 10,000 payments in); --quick: a smoke test.
FULL = {"accounting": ["--counterparties", "10000", "--payments", "10000", "--drop"]}
QUICK = {
    "webforms": ["-n", "50"],
    "telephony": ["--calls", "30"],
    "accounting": ["--counterparties", "1000", "--payments", "200", "--drop"],
    "webhooks": ["--events", "50"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts to run")
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test of the benchmarks)")
    args = parser.parse_args()
    summary: list[tuple[str, str, float]] = []
    failed = 0
    for part in [p.strip() for p in args.only.split(",") if p.strip()]:
        script = ROOT / "bench" / f"integrations_{part}.py"
        if part not in PARTS or not script.exists():
            print(f"no benchmark for {part!r}", file=sys.stderr)
            return 2
        print(f"\n=== {part} ({script.name}) ===", flush=True)
        command = [sys.executable, str(script), *(QUICK[part] if args.quick else FULL.get(part, []))]
        started = time.monotonic()
        result = subprocess.run(command, cwd=ROOT, check=False)
        seconds = time.monotonic() - started
        summary.append((part, "ok" if result.returncode == 0 else f"exit {result.returncode}", seconds))
        failed += result.returncode != 0
    print("\n| part | result | wall seconds |\n|---|---|---|")
    for part, outcome, seconds in summary:
        print(f"| {part} | {outcome} | {seconds:.1f} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
