"""Settings of bench/fleet.py's own subprocesses: the project's, plus the bench-only tenant app `fleetapp` whose
migrations the fleet migration is timed with. The project's settings stay untouched."""

from platform_core.settings import *  # noqa: F403
from platform_core.settings import INSTALLED_APPS as _INSTALLED_APPS
from platform_core.settings import TENANT_APPS as _TENANT_APPS

TENANT_APPS = [*_TENANT_APPS, "bench.fleetapp"]
INSTALLED_APPS = [*_INSTALLED_APPS, "bench.fleetapp"]
