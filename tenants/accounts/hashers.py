"""Argon2id with OWASP's recommended parameters instead of Django's heavier defaults.

Django's defaults (100 MiB, 2 passes, 8 lanes) cost about 180 ms of CPU and 100 MiB of memory per hash on a
2-core server: every login attempt pays that, so a burst of attempts becomes a memory and CPU exhaustion
risk. OWASP's Password Storage Cheat Sheet lists m=19 MiB, t=2, p=1 as a recommended configuration of equal
defensive strength. Stored hashes with other parameters are upgraded on the next successful login.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class KontorArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = settings.ARGON2_TIME_COST
    memory_cost = settings.ARGON2_MEMORY_KIB
    parallelism = settings.ARGON2_PARALLELISM
