"""Kontor settings: one module, everything from the environment (see .env.example)."""

from __future__ import annotations

import datetime
import warnings
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DJANGO_ENV: str = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
DEBUG: bool = env.bool("DEBUG", default=not PRODUCTION)

_DEV_SECRET_KEY = "dev-insecure-secret-key-for-local-development-only-never-in-production"
SECRET_KEY: str = env.str("SECRET_KEY", default="")
if PRODUCTION:
    if not SECRET_KEY or SECRET_KEY.startswith("dev-") or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs a real SECRET_KEY (50+ random characters) in the environment."
        )
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production.")
SECRET_KEY = SECRET_KEY or _DEV_SECRET_KEY

# Workspaces live at <subdomain>.<BASE_DOMAIN>; the public site at BASE_DOMAIN itself.
BASE_DOMAIN: str = env.str("BASE_DOMAIN", default="localhost").lower()
ALLOWED_HOSTS: list[str] = [BASE_DOMAIN, f".{BASE_DOMAIN}", *env.list("EXTRA_ALLOWED_HOSTS", default=[])]

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "tenants.accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    # Two-factor devices and login attempts live in every schema: a workspace's in its own, the vendor staff's
    # in public (the lockout and OTP middleware run on every host).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "js_lib_htmx",
    "ninja",
    "platform_core",
    "platform_core.public_site",
    "infra.backups",
    "billing",
]
# What every workspace schema holds. Each table here is repeated in every schema (10,000 workspaces: 10,000
# copies in one catalog), so an app is a tenant app only when its rows belong to one workspace:
# - Not django.contrib.contenttypes nor django.contrib.auth: access is our own Role (tenants.accounts.policy) and
#   the User has no PermissionsMixin, so groups, permissions and content types are never read in a workspace
#   (no GenericForeignKey, no admin; django-otp names devices by app label, not content type). They stay in the
#   public schema only, which the workspace's search_path reaches should anything look one up.
# - django.contrib.sessions: per schema, so a session (holding a user id of that schema) cannot cross workspaces.
# - django_otp (+ totp, static): a person's two-factor devices, keyed to the workspace's own users.
# - axes: login failures and lockouts count per workspace (the same email may be a person in two workspaces,
#   and a lockout in one must not touch the other); its access and failure logs are switched off
#   (AXES_DISABLE_ACCESS_LOG; the audit log has logins), so those two tables stay empty but are axes' own to
#   migrate.
# - django.contrib.postgres, django.contrib.humanize: no tables.
TENANT_APPS = [
    "django.contrib.sessions",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "tenants.accounts",
    "tenants.events",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "crm.companies",
    "crm.contacts",
    "crm.leads",
    "crm.deals",
    "crm.products",
    "crm.activities",
    "crm.files",
    "crm.history",
    "crm.customfields",
    "crm.search",
    "crm.processes",
    "crm.web",
    "integrations.core",
    "integrations.webhooks",
    "integrations.webforms",
    "integrations.telephony",
    "integrations.accounting",
    "integrations.email",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
# Issue `SET search_path` once per connection and tenant switch instead of before every query (it is re-issued
# after a rollback, which reverts it); halves the round trips of a request.
TENANT_LIMIT_SET_CALLS = True
TENANT_DOMAIN_MODEL = "tenants.Domain"
# Called by django-tenants on every schema switch: counts the schemas each connection has served (below).
EXTRA_SET_TENANT_METHOD_PATH = "tenants.connections.schema_recorded"
PUBLIC_SCHEMA_NAME = "public"
AUTH_USER_MODEL = "accounts.User"

# Provisioning: pre-migrated empty schemas kept ready, refilled by a Celery task in the background only. A signup
# that finds the pool empty replays the schema script (tenants/fleet/script.py) made from the migrated template.
SCHEMA_POOL_SIZE: int = env.int("SCHEMA_POOL_SIZE", default=3)
SCHEMA_TEMPLATE_NAME: str = env.str("SCHEMA_TEMPLATE_NAME", default="kontor_template")
# The pg_dump that makes the schema script: PG_DUMP, else PG_BIN_DIR/pg_dump (the embedded launcher sets PG_BIN_DIR
# to pgserver's own binaries), else `pg_dump` on PATH. It must not be older than the server.
PG_BIN_DIR: str = env.str("PG_BIN_DIR", default="")
PG_DUMP: str = env.str("PG_DUMP", default=str(Path(PG_BIN_DIR) / "pg_dump") if PG_BIN_DIR else "pg_dump")
# Backups restore through pg_restore (to SQL) and psql, from the same place as pg_dump.
PG_RESTORE: str = env.str("PG_RESTORE", default=str(Path(PG_BIN_DIR) / "pg_restore") if PG_BIN_DIR else "pg_restore")
PSQL: str = env.str("PSQL", default=str(Path(PG_BIN_DIR) / "psql") if PG_BIN_DIR else "psql")

MIDDLEWARE = [
    # Static files first: served by the WSGI server's process without a tenant lookup or a database query.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "platform_core.middleware.KontorTenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "platform_core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "platform_core.middleware.UserLocaleMiddleware",
    "billing.middleware.WorkspaceReadOnlyMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tenants.accounts.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tenants.accounts.middleware.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "platform_core.middleware.SentryTenantTagMiddleware",
    # Last, as django-axes asks: turns a locked-out login attempt into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy of every page: everything from our own origin; no inline script, no inline style (the
# templates have none: behaviour is in static/*.js behind data attributes, looks in static/*.css), no eval
# (htmx's allowEval is off), no framing by other sites; forms post to our own origin. `img-src data:` for
# small icons.
CONTENT_SECURITY_POLICY: list[tuple[str, list[str]]] = [
    ("default-src", ["'self'"]),
    ("script-src", ["'self'"]),
    ("style-src", ["'self'"]),
    ("img-src", ["'self'", "data:"]),
    ("font-src", ["'self'"]),
    ("connect-src", ["'self'"]),
    ("object-src", ["'none'"]),
    ("frame-ancestors", ["'none'"]),
    # A signup posted on the public site is redirected into the new workspace, <subdomain>.BASE_DOMAIN.
    ("form-action", ["'self'", f"*.{BASE_DOMAIN}:*"]),
    ("base-uri", ["'self'"]),
]

ROOT_URLCONF = "platform_core.urls_tenant"
PUBLIC_SCHEMA_URLCONF = "platform_core.urls_public"
DEFAULT_NOT_FOUND_TENANT_VIEW = "platform_core.views.workspace_not_found"
WSGI_APPLICATION = "platform_core.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "platform_core" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "platform_core.context_processors.platform",
                "tenants.accounts.context_processors.access",
                "billing.context_processors.notice",
            ],
        },
    },
]

_database: dict[str, Any] = env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/kontor")
# django-tenants' backend, setting the search path once per connection and workspace, with a health check that
# needs no round trip (tenants/backend).
_database["ENGINE"] = "tenants.backend"
_database["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
_database["CONN_HEALTH_CHECKS"] = True
# A connection is closed at the end of the request or task in which it has served more than this many schemas:
# a PostgreSQL backend keeps the catalog entries of every table it opened, so it would otherwise grow with the
# number of workspaces it has served (tenants/connections.py). 0 = never.
DATABASE_CONN_MAX_SCHEMAS: int = env.int("DATABASE_CONN_MAX_SCHEMAS", default=100)
DATABASES = {"default": _database}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL: str = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "platform_core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="kontor"),
        # Every key carries the schema of the tenant it belongs to.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        # Sessions and page data are read from it on every request: a Redis that stops answering must not hold
        # a request longer than this (the readers fall back to the database).
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    },
    # Keys that are the same whatever schema the connection is on, for data of the public schema and entries
    # that name their workspace themselves: the host -> tenant routing (tenants/routing.py) and who is asking
    # (tenants/accounts/identity.py). Same Redis, so every worker sees a change at once.
    "shared": {
        "BACKEND": "platform_core.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="kontor"),
        # Every request asks it first: an unreachable Redis costs one request a second at most, then the database
        # answers instead for a few seconds (tenants/routing.py).
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    },
}

# Sessions live in the tenant's own schema (django.contrib.sessions is a tenant app too).
# Read from the cache (keys prefixed by the workspace's schema), kept in the workspace's database.
SESSION_ENGINE = "tenants.accounts.sessions"
SESSION_COOKIE_AGE: int = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 24 * 14)
SESSION_EXPIRE_AT_BROWSER_CLOSE: bool = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)

PASSWORD_HASHERS = [
    "tenants.accounts.hashers.KontorArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Argon2id cost (see tenants/accounts/hashers.py): OWASP's m=19 MiB, t=2, p=1 by default.
ARGON2_MEMORY_KIB: int = env.int("ARGON2_MEMORY_KIB", default=19456)
ARGON2_TIME_COST: int = env.int("ARGON2_TIME_COST", default=2)
ARGON2_PARALLELISM: int = env.int("ARGON2_PARALLELISM", default=1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes refuses logins of a locked-out account or address before the password is even checked.
# The backend of password logins (and of the sessions they open).
PASSWORD_BACKEND = "tenants.accounts.backends.CachedModelBackend"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend's password check; the signed-in user of each request from the identity cache.
    "tenants.accounts.backends.CachedModelBackend",
]
# Lockout after repeated failed logins (a wrong password or a wrong two-factor code), counted per account and,
# separately, per client address; it lifts after the cool-off or when an administrator unlocks the account.
LOGIN_FAILURE_LIMIT: int = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_COOLOFF_MINUTES: int = env.int("LOGIN_COOLOFF_MINUTES", default=15)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=LOGIN_COOLOFF_MINUTES) if LOGIN_COOLOFF_MINUTES > 0 else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Tries made while locked out neither count nor push the end of the lockout further.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "tenants.accounts.lockout.attempted_username"
AXES_CLIENT_IP_CALLABLE = "tenants.accounts.lockout.client_ip"
AXES_HANDLER = "tenants.accounts.lockout.AccountLockoutHandler"
AXES_LOCKOUT_CALLABLE = "tenants.accounts.lockout.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "token", "csrfmiddlewaretoken"]
# Logins are in the workspace's audit log already.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
OTP_TOTP_ISSUER = "Kontor"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3

# Region assumed for phone numbers typed without a country code (ISO 3166 alpha-2).
DEFAULT_PHONE_REGION: str = env.str("DEFAULT_PHONE_REGION", default="RU")
# Largest file a user may attach to a record.
MAX_UPLOAD_BYTES: int = env.int("MAX_UPLOAD_BYTES", default=25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский"), ("fr", "Français")]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# Each person's language and time zone (else the workspace's) are activated per request by
# platform_core.middleware.UserLocaleMiddleware. Thousands separators are not switched on globally
# (USE_THOUSAND_SEPARATOR): they would turn ids in attributes and URLs into "1,234". Amounts and numbers
# go through the `money` and `number` template filters (crm.core.formats), which group by locale.
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# WhiteNoise serves /static/ from the app's process (make demo runs gunicorn, not the development server).
# Outside production it reads the apps' static directories directly; production serves STATIC_ROOT, filled by
# `manage.py collectstatic`.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:  # STATIC_ROOT is only filled (and needed) in production
    warnings.filterwarnings("ignore", message="No directory at: ")
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media")))
MEDIA_URL = "/media/"
# Uploaded files land in MEDIA_ROOT/<schema>/, so one tenant's files never sit among another's.
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL: str = env.str("DEFAULT_FROM_EMAIL", default="Kontor <no-reply@kontor.localhost>")

# Celery: Redis broker; tasks carry the tenant schema in a header (tenant-schemas-celery).
_redis_for_celery = REDIS_URL.replace("unix://", "redis+socket://", 1) if REDIS_URL.startswith("unix://") else REDIS_URL
CELERY_BROKER_URL: str = env.str("CELERY_BROKER_URL", default=_redis_for_celery)
CELERY_RESULT_BACKEND: str = env.str("CELERY_RESULT_BACKEND", default=_redis_for_celery)
# One queue for everything; a second Kontor (a benchmark) on the same Redis uses one of its own.
CELERY_TASK_DEFAULT_QUEUE: str = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TENANT_CACHE_SECONDS = 0
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The worker keeps LOGGING below (every line names its tenant) instead of installing its own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Events: the sweep re-queues delivery for workspaces with pending events (a commit queues it at once), the
# prune drops delivered events older than the retention and finds any workspace the sweep lost track of.
EVENTS_ENABLED: bool = env.bool("EVENTS_ENABLED", default=True)
EVENTS_RETENTION_DAYS: int = env.int("EVENTS_RETENTION_DAYS", default=30)
EVENTS_SWEEP_SECONDS: float = env.float("EVENTS_SWEEP_SECONDS", default=30.0)
EVENTS_RETRY_BASE_SECONDS: float = env.float("EVENTS_RETRY_BASE_SECONDS", default=5.0)
EVENTS_RETRY_MAX_SECONDS: float = env.float("EVENTS_RETRY_MAX_SECONDS", default=3600.0)
# Deliver in the committing process instead of through Celery (the test suite's captured on-commit callbacks).
EVENTS_DISPATCH_EAGER: bool = env.bool("EVENTS_DISPATCH_EAGER", default=False)
CELERY_BEAT_SCHEDULE = {
    "refill-schema-pool": {"task": "tenants.tasks.refill_schema_pool", "schedule": 60.0},
    "events-sweep": {"task": "tenants.events.tasks.sweep", "schedule": EVENTS_SWEEP_SECONDS},
    "events-prune": {"task": "tenants.events.tasks.prune", "schedule": 3600.0},
}

# Backups (infra.backups): every workspace's schema and files, encrypted, stored, restored and verified.
# Master keys wrap each backup's own data key: "id:base64 of 32 bytes", comma-separated, the first one for new
# backups; the others still open the backups they wrapped, so a key rotates without re-encrypting anything.
# Development derives one from SECRET_KEY; production refuses to start without real ones.
BACKUP_MASTER_KEYS: str = env.str("BACKUP_MASTER_KEYS", default="")
if PRODUCTION and not BACKUP_MASTER_KEYS:
    raise ImproperlyConfigured(
        "DJANGO_ENV=production needs BACKUP_MASTER_KEYS (id:base64 of 32 random bytes) in the environment."
    )
# Where backups go: this directory, or an S3-compatible bucket when BACKUP_S3_BUCKET is set.
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(BASE_DIR / ".data" / "backups")))
BACKUP_S3_BUCKET: str = env.str("BACKUP_S3_BUCKET", default="")
BACKUP_S3_PREFIX: str = env.str("BACKUP_S3_PREFIX", default="kontor-backups")
BACKUP_S3_ENDPOINT_URL: str = env.str("BACKUP_S3_ENDPOINT_URL", default="")
BACKUP_S3_REGION: str = env.str("BACKUP_S3_REGION", default="us-east-1")
BACKUP_S3_ACCESS_KEY_ID: str = env.str("BACKUP_S3_ACCESS_KEY_ID", default="")
BACKUP_S3_SECRET_ACCESS_KEY: str = env.str("BACKUP_S3_SECRET_ACCESS_KEY", default="")
# Retention: the newest backup of each of the last N days, ISO weeks and months is kept.
BACKUP_KEEP_DAILY: int = env.int("BACKUP_KEEP_DAILY", default=7)
BACKUP_KEEP_WEEKLY: int = env.int("BACKUP_KEEP_WEEKLY", default=4)
BACKUP_KEEP_MONTHLY: int = env.int("BACKUP_KEEP_MONTHLY", default=12)
# Scheduling: beat looks every BACKUP_SCHEDULE_SECONDS for workspaces whose slot of the day has come (each has its
# own, so a fleet's backups spread over the day), and restores each latest backup once in BACKUP_VERIFY_DAYS.
BACKUP_SCHEDULE_SECONDS: float = env.float("BACKUP_SCHEDULE_SECONDS", default=900.0)
BACKUP_VERIFY_DAYS: int = env.int("BACKUP_VERIFY_DAYS", default=7)
# Full exports of a workspace (ZIP), kept outside MEDIA_ROOT, downloadable for EXPORT_LINK_HOURS.
EXPORT_DIR = Path(env.str("EXPORT_DIR", default=str(BASE_DIR / ".data" / "exports")))
EXPORT_LINK_HOURS: int = env.int("EXPORT_LINK_HOURS", default=24)
CELERY_BEAT_SCHEDULE.update(
    {
        "backups-schedule": {"task": "infra.backups.tasks.schedule", "schedule": BACKUP_SCHEDULE_SECONDS},
        "backups-prune": {"task": "infra.backups.tasks.prune", "schedule": 3600.0},
        "exports-expire": {"task": "infra.backups.export_tasks.exports_expire", "schedule": 3600.0},
    }
)

# Billing (billing/): per-user monthly subscriptions through Stripe. Off without a secret key: a self-hosted
# Kontor bills nobody and closes no workspace.
STRIPE_SECRET_KEY: str = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET: str = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Another address for Stripe's API (a local fake in the tests and the benchmark).
STRIPE_API_BASE: str = env.str("STRIPE_API_BASE", default="")
STRIPE_TIMEOUT_SECONDS: float = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
# A webhook signed longer ago than this is refused (a replay).
STRIPE_WEBHOOK_TOLERANCE_SECONDS: int = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
BILLING_ENABLED: bool = env.bool("BILLING_ENABLED", default=bool(STRIPE_SECRET_KEY))
if BILLING_ENABLED and not (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET) and PRODUCTION:
    raise ImproperlyConfigured("BILLING_ENABLED needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.")
BILLING_TRIAL_DAYS: int = env.int("BILLING_TRIAL_DAYS", default=14)
# After a failed payment the workspace works on for this long, then becomes read-only until paid.
BILLING_GRACE_DAYS: int = env.int("BILLING_GRACE_DAYS", default=7)
# Business processes (crm.processes): the beat tick that queues the timer runner of each workspace with a timer
# due; a timer due within one tick of being set gets its runner queued for that moment directly.
PROCESSES_TICK_SECONDS: float = env.float("PROCESSES_TICK_SECONDS", default=2.0)
# Runners of one workspace side by side when many of its timers are due at once.
PROCESSES_RUNNERS_PER_WORKSPACE: int = env.int("PROCESSES_RUNNERS_PER_WORKSPACE", default=2)
# A person's read notifications are kept this many days.
PROCESSES_NOTIFICATIONS_DAYS: int = env.int("PROCESSES_NOTIFICATIONS_DAYS", default=90)
CELERY_BEAT_SCHEDULE["processes-tick"] = {"task": "crm.processes.tasks.tick", "schedule": PROCESSES_TICK_SECONDS}
# A cancelled workspace's data is kept this long (read-only, its export offered), then deleted.
BILLING_RETENTION_DAYS: int = env.int("BILLING_RETENTION_DAYS", default=30)
# Seat changes that Stripe refused or did not answer are retried with backoff up to this long apart.
BILLING_RETRY_MAX_SECONDS: int = env.int("BILLING_RETRY_MAX_SECONDS", default=600)
CELERY_BEAT_SCHEDULE.update(
    {
        "billing-states": {"task": "billing.tasks.states_advance", "schedule": 900.0},
        "billing-seats": {"task": "billing.tasks.seats_reconcile", "schedule": 300.0},
    }
)

# Integrations (integrations/): connections of a workspace to its website, telephony, accounting and mail.
# Their credentials are sealed with a key derived per workspace from this ring ("id:base64 of 32 bytes", the
# current key first, as BACKUP_MASTER_KEYS); development derives one from SECRET_KEY.
SECRETS_MASTER_KEYS: str = env.str("SECRETS_MASTER_KEYS", default="")
if PRODUCTION and not SECRETS_MASTER_KEYS:
    raise ImproperlyConfigured(
        "DJANGO_ENV=production needs SECRETS_MASTER_KEYS (id:base64 of 32 random bytes) in the environment."
    )
# Outbound calls never go to loopback, private, link-local or reserved addresses unless this allows it (the
# tests' local fakes; an on-premises PBX or 1C server on the same network).
INTEGRATIONS_ALLOW_PRIVATE_NETWORKS: bool = env.bool("INTEGRATIONS_ALLOW_PRIVATE_NETWORKS", default=False)
# Outbound HTTP: seconds to connect and to read, attempts within one call (each later one after a backoff).
INTEGRATIONS_HTTP_CONNECT_TIMEOUT: float = env.float("INTEGRATIONS_HTTP_CONNECT_TIMEOUT", default=3.05)
INTEGRATIONS_HTTP_READ_TIMEOUT: float = env.float("INTEGRATIONS_HTTP_READ_TIMEOUT", default=10.0)
INTEGRATIONS_HTTP_ATTEMPTS: int = env.int("INTEGRATIONS_HTTP_ATTEMPTS", default=3)
INTEGRATIONS_HTTP_BACKOFF: float = env.float("INTEGRATIONS_HTTP_BACKOFF", default=0.5)
# Inbound calls: the largest body taken, and calls per minute per connection and per sending address.
INTEGRATIONS_INBOUND_MAX_BYTES: int = env.int("INTEGRATIONS_INBOUND_MAX_BYTES", default=256 * 1024)
INTEGRATIONS_INBOUND_RATE_PER_CONNECTION: int = env.int("INTEGRATIONS_INBOUND_RATE_PER_CONNECTION", default=600)
INTEGRATIONS_INBOUND_RATE_PER_ADDRESS: int = env.int("INTEGRATIONS_INBOUND_RATE_PER_ADDRESS", default=60)
# The exchange log keeps this many days (pruned by the connections that write to it).
INTEGRATIONS_LOG_DAYS: int = env.int("INTEGRATIONS_LOG_DAYS", default=90)
# Outgoing webhooks (integrations.webhooks): attempts per event (the first, then retries after about 30 s,
# 2 min, 8 min, 32 min, 2 h, then every RETRY_MAX: about a day in all, each within +-20%); how many events in a
# row that failed every attempt turn a receiver off (its administrators are mailed); how often the beat queues
# the retries that are due.
WEBHOOKS_MAX_ATTEMPTS: int = env.int("WEBHOOKS_MAX_ATTEMPTS", default=10)
WEBHOOKS_RETRY_BASE_SECONDS: float = env.float("WEBHOOKS_RETRY_BASE_SECONDS", default=30.0)
WEBHOOKS_RETRY_MAX_SECONDS: float = env.float("WEBHOOKS_RETRY_MAX_SECONDS", default=6 * 3600.0)
WEBHOOKS_DISABLE_AFTER: int = env.int("WEBHOOKS_DISABLE_AFTER", default=3)
WEBHOOKS_SWEEP_SECONDS: float = env.float("WEBHOOKS_SWEEP_SECONDS", default=15.0)
CELERY_BEAT_SCHEDULE["webhooks-sweep"] = {
    "task": "integrations.webhooks.tasks.sweep",
    "schedule": WEBHOOKS_SWEEP_SECONDS,
}
# Website forms: submissions a minute from one visitor's address to one form (people send a form or two; more
# is a script), beside the per-connection limit above.
WEBFORMS_RATE_PER_ADDRESS: int = env.int("WEBFORMS_RATE_PER_ADDRESS", default=10)
# Telephony (integrations/telephony): Zadarma's API (tests point it at a local fake); the AMI sessions of
# `manage.py telephony_ami`: seconds to connect, between Pings, at most between reconnections, and between two
# looks for connections added, changed or removed.
TELEPHONY_ZADARMA_API_BASE: str = env.str("TELEPHONY_ZADARMA_API_BASE", default="https://api.zadarma.com")
TELEPHONY_AMI_CONNECT_TIMEOUT: float = env.float("TELEPHONY_AMI_CONNECT_TIMEOUT", default=5.0)
TELEPHONY_AMI_PING_SECONDS: float = env.float("TELEPHONY_AMI_PING_SECONDS", default=20.0)
TELEPHONY_AMI_RECONNECT_MAX_SECONDS: float = env.float("TELEPHONY_AMI_RECONNECT_MAX_SECONDS", default=60.0)
TELEPHONY_AMI_RESCAN_SECONDS: float = env.float("TELEPHONY_AMI_RESCAN_SECONDS", default=60.0)
# The 1C exchange (integrations.accounting): the chunk 1C is told to upload at most (init's file_limit), the
# largest file kept, the records applied per `mode=import` call (1C calls again while "progress" is answered)
# and how long the session cookie of one exchange run lasts.
INTEGRATIONS_ACCOUNTING_FILE_LIMIT: int = env.int("INTEGRATIONS_ACCOUNTING_FILE_LIMIT", default=1024 * 1024)
INTEGRATIONS_ACCOUNTING_MAX_FILE_BYTES: int = env.int(
    "INTEGRATIONS_ACCOUNTING_MAX_FILE_BYTES", default=64 * 1024 * 1024
)
INTEGRATIONS_ACCOUNTING_IMPORT_BATCH: int = env.int("INTEGRATIONS_ACCOUNTING_IMPORT_BATCH", default=1000)
INTEGRATIONS_ACCOUNTING_SESSION_MINUTES: int = env.int("INTEGRATIONS_ACCOUNTING_SESSION_MINUTES", default=60)
# Mailboxes (integrations.email): read every EMAIL_SYNC_SECONDS, at most EMAIL_SYNC_BATCH new messages per folder
# a run; a new mailbox is read back EMAIL_SYNC_FIRST_DAYS days (0: all of it). A message larger than
# EMAIL_MAX_MESSAGE_BYTES is logged from its header alone; attachments above EMAIL_ATTACHMENT_MAX_BYTES are not
# filed; a timeline keeps EMAIL_BODY_MAX_CHARS of the text. IMAP/SMTP time out after EMAIL_TIMEOUT_SECONDS; a
# send is tried EMAIL_SEND_ATTEMPTS times, EMAIL_SEND_BACKOFF seconds apart at first, doubling.
EMAIL_SYNC_SECONDS: float = env.float("EMAIL_SYNC_SECONDS", default=120.0)
EMAIL_SYNC_BATCH: int = env.int("EMAIL_SYNC_BATCH", default=200)
EMAIL_SYNC_FIRST_DAYS: int = env.int("EMAIL_SYNC_FIRST_DAYS", default=30)
EMAIL_MAX_MESSAGE_BYTES: int = env.int("EMAIL_MAX_MESSAGE_BYTES", default=25 * 1024 * 1024)
EMAIL_ATTACHMENT_MAX_BYTES: int = env.int("EMAIL_ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
EMAIL_BODY_MAX_CHARS: int = env.int("EMAIL_BODY_MAX_CHARS", default=5000)
EMAIL_TIMEOUT_SECONDS: float = env.float("EMAIL_TIMEOUT_SECONDS", default=30.0)
EMAIL_SEND_ATTEMPTS: int = env.int("EMAIL_SEND_ATTEMPTS", default=5)
EMAIL_SEND_BACKOFF: float = env.float("EMAIL_SEND_BACKOFF", default=30.0)
CELERY_BEAT_SCHEDULE.update(
    {"email-sync-due": {"task": "integrations.email.tasks.sync_due", "schedule": min(EMAIL_SYNC_SECONDS, 60.0)}}
)

SENTRY_DSN: str = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=DJANGO_ENV,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,  # no personal data unless an operator opts in explicitly
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# Every line names the workspace schema of the thread's connection and, for a request's errors, its host; a 500
# is logged by django.request with its traceback (platform_core/errors.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"tenant": {"()": "platform_core.errors.TenantLogFilter"}},
    "formatters": {
        "tenant": {"format": "%(asctime)s %(levelname)s %(name)s [tenant=%(tenant)s host=%(host)s] %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["tenant"], "formatter": "tenant"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes logs every successful login at INFO; the audit log has them already.
    # stripe logs every request and answer at INFO; billing logs what matters of them.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT: bool = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Pages carry the CSRF token themselves (htmx sends it from the page), so scripts never need the cookie.
    CSRF_COOKIE_HTTPONLY = True
    SECURE_HSTS_SECONDS: int = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD: bool = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
    CSRF_TRUSTED_ORIGINS = [f"https://{BASE_DOMAIN}", f"https://*.{BASE_DOMAIN}"]
SESSION_COOKIE_HTTPONLY = True
# Behind a reverse proxy that sets X-Forwarded-For, the audit log records the client's address from it.
TRUST_X_FORWARDED_FOR: bool = env.bool("TRUST_X_FORWARDED_FOR", default=False)
