"""Production mode refuses to start without real secrets and passes Django's deployment checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
REAL_KEY = "k7#Qm2!vR9zL@x4Wp8&nT1^sY6*eU3%hJ5(oB0)cF-gD_aI+lKr"
BACKUP_KEYS = "k1:QmFja3VwIG1hc3RlciBrZXkgb2YgdGhlIHRlc3RzISE="  # 32 bytes
SECRETS_KEYS = "s1:U2VjcmV0cyBtYXN0ZXIga2V5IG9mIHRoZSB0ZXN0cyE="  # 32 bytes


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    unset = {"SECRET_KEY", "DEBUG", "DJANGO_ENV", "BACKUP_MASTER_KEYS", "SECRETS_MASTER_KEYS"}
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("key", ["", "dev-insecure-secret-key-for-local-development-only-never-in-production", "short"])
def test_production_refuses_to_start_without_a_real_secret_key(key: str) -> None:
    result = _run("check", DJANGO_ENV="production", SECRET_KEY=key)
    assert result.returncode != 0
    assert "needs a real SECRET_KEY" in result.stderr


def test_production_refuses_debug() -> None:
    result = _run("check", DJANGO_ENV="production", SECRET_KEY=REAL_KEY, DEBUG="true")
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_passes_check_deploy_without_warnings() -> None:
    result = _run(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY=REAL_KEY,
        BACKUP_MASTER_KEYS=BACKUP_KEYS,
        SECRETS_MASTER_KEYS=SECRETS_KEYS,
        BASE_DOMAIN="kontor.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_backup_keys() -> None:
    result = _run("check", DJANGO_ENV="production", SECRET_KEY=REAL_KEY)
    assert result.returncode != 0
    assert "needs BACKUP_MASTER_KEYS" in result.stderr


def test_production_refuses_to_start_without_secrets_keys() -> None:
    result = _run("check", DJANGO_ENV="production", SECRET_KEY=REAL_KEY, BACKUP_MASTER_KEYS=BACKUP_KEYS)
    assert result.returncode != 0
    assert "needs SECRETS_MASTER_KEYS" in result.stderr


@pytest.mark.parametrize("keys", ["k1", "k1:not-base64!", "k1:c2hvcnQ=", "k1:" + "A" * 44 + ",k1:" + "B" * 44])
def test_bad_backup_keys_fail_the_checks(keys: str) -> None:
    result = _run("check", BACKUP_MASTER_KEYS=keys)
    assert result.returncode != 0
    assert "BACKUP_MASTER_KEYS" in result.stderr


def test_cache_keys_and_files_are_per_tenant_by_configuration() -> None:
    assert settings.CACHES["default"]["KEY_FUNCTION"] == "django_tenants.cache.make_key"
    assert settings.STORAGES["default"]["BACKEND"] == "django_tenants.files.storage.TenantFileSystemStorage"
    assert "django.contrib.sessions" in settings.TENANT_APPS


def test_sentry_is_off_without_a_dsn() -> None:
    import sentry_sdk

    assert not settings.SENTRY_DSN
    assert not sentry_sdk.get_client().is_active()


def test_env_example_documents_every_variable_settings_read() -> None:
    import re

    used = set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', (ROOT / "platform_core" / "settings.py").read_text()))
    used |= set(re.findall(r'os\.environ\.get\("([A-Z0-9_]+)"', (ROOT / "platform_core" / "embedded.py").read_text()))
    documented = set(re.findall(r"^# ([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert used and used <= documented, sorted(used - documented)
