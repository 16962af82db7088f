"""People of one workspace (in a tenant schema) or the vendor's staff (in the public schema), their roles,
teams, invitations, API keys and the workspace's audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.locale import validate_language, validate_time_zone


def normalize_email(email: str) -> str:
    # Login matches emails exactly, so they are stored in one canonical form.
    return (email or "").strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email(username or ""))

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_queryset(self) -> models.QuerySet[User]:
        # The access policy reads the role on every request: load it with the user (one small join).
        return super().get_queryset().select_related("role")

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser):
    """A person of one workspace (or, in the public schema, of the vendor's staff).

    No PermissionsMixin: access is the Role (tenants.accounts.policy), so Django's groups, permissions and
    superuser flag, and the tables behind them, have no use.
    """

    class Kind(models.TextChoices):
        # Only people are seats (what the workspace pays for).
        PERSON = "person", _("person")
        # The vendor's support staff, in a workspace with its administrator's consent.
        SUPPORT = "support", _("support")
        # The identity an integration acts as (website forms, telephony, accounting).
        INTEGRATION = "integration", _("integration")

    email = models.EmailField(_("email address"))
    full_name = models.CharField(_("name"), max_length=150, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.PERSON, db_default=Kind.PERSON)
    # Vendor staff flag; meaningful in the public schema only.
    is_staff = models.BooleanField(_("staff status"), default=False)
    # What the person may see and do (tenant schemas; vendor staff in public have none).
    # role and team are not indexed: a workspace's people are few (hundreds), so the lookups by them (the team
    # members of policy.team_member_ids, a role's PROTECT check) scan accounts_user as fast.
    role = models.ForeignKey(
        "accounts.Role",
        verbose_name=_("role"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        db_index=False,
    )
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        db_index=False,
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    # Blank: the workspace's default language / time zone.
    language = models.CharField(_("language"), max_length=8, blank=True, validators=[validate_language])
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[validate_time_zone])

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        # Logins find the person by email (exact, normalized); a constraint rather than unique=True keeps the
        # same index without its varchar_pattern_ops twin, which no query needs.
        constraints = [models.UniqueConstraint(fields=["email"], name="accounts_user_unique_email")]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name.split(" ")[0] if self.full_name else "") or self.email


class ApiKey(models.Model):
    """A personal key for the REST API (`Authorization: Bearer <key>`). Only a hash of the secret is stored:
    the full key is shown once, at creation; `prefix` is the visible part that finds the row."""

    # Not indexed by user: a person has a few keys and a workspace a few dozen; the profile's list scans them.
    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_keys", db_index=False
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]
        # Every API request finds its key by prefix (exact): a constraint keeps that index without the
        # varchar_pattern_ops twin unique=True adds.
        constraints = [models.UniqueConstraint(fields=["prefix"], name="accounts_apikey_unique_prefix")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Scope(models.TextChoices):
    """How far a role's grant of an action reaches, narrowest first."""

    NONE = "none", _("None")
    OWN = "own", _("Own")
    TEAM = "team", _("Team")
    ALL = "all", _("All")


class Role(models.Model):
    """What its holders may do: per record type and action a scope, workspace permissions, hidden fields.

    `grants` is {record_type: {action: scope}}; a missing entry is scope none. `hidden_fields` is
    {record_type: [field name or "cf:<custom field key>"]}. Built-in roles (`builtin` set) are kept as shipped:
    admins change their copies.
    """

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=255, blank=True)
    builtin = models.CharField(max_length=32, blank=True, editable=False)
    grants = models.JSONField(_("grants"), default=dict, blank=True)
    permissions = ArrayField(models.CharField(max_length=32), verbose_name=_("permissions"), default=list, blank=True)
    hidden_fields = models.JSONField(_("hidden fields"), default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        ordering = ["name"]
        constraints = [
            # Constraints rather than unique=True: the rule without a varchar_pattern_ops twin index.
            models.UniqueConstraint(fields=["name"], name="accounts_role_unique_name"),
            models.UniqueConstraint(
                fields=["builtin"], condition=~models.Q(builtin=""), name="accounts_role_one_per_builtin"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name as the reader reads it: a built-in role's shipped English name in their language."""
        return gettext(self.name) if self.builtin else self.name

    @property
    def description_label(self) -> str:
        return gettext(self.description) if self.builtin and self.description else self.description

    @property
    def is_builtin(self) -> bool:
        return bool(self.builtin)


class Team(models.Model):
    """A department. Teams form a tree; "team" scope reaches the user's team and every team below it."""

    name = models.CharField(_("name"), max_length=100)
    # parent and head are not indexed: a workspace has tens of teams, read whole (policy.team_subtree_ids).
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        db_index=False,
    )
    head = models.ForeignKey(
        User,
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]
        # A constraint rather than unique=True: the rule without a varchar_pattern_ops twin index.
        constraints = [models.UniqueConstraint(fields=["name"], name="accounts_team_unique_name")]

    def __str__(self) -> str:
        return self.name


class Invitation(models.Model):
    """An emailed, signed link to join the workspace with a given role and team; single use, 72 hours."""

    email = models.EmailField(_("email address"))
    full_name = models.CharField(_("name"), max_length=150, blank=True)
    # No link of an invitation is indexed: a workspace sends tens or hundreds, and every read (the pending list,
    # a role's or team's delete) scans them as fast.
    # A finished invitation outlives the role it named (a pending one keeps the role from being deleted).
    role = models.ForeignKey(
        Role, verbose_name=_("role"), null=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    invited_by = models.ForeignKey(
        User, null=True, on_delete=models.SET_NULL, related_name="+", editable=False, db_index=False
    )
    created_at = models.DateTimeField(_("sent"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires"), editable=False)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False, db_index=False
    )

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.email

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class WorkspaceSecurity(models.Model):
    """The workspace's security settings: one row per schema (see security.workspace_security)."""

    require_two_factor = models.BooleanField(_("require two-factor authentication for everyone"), default=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("security settings")

    def __str__(self) -> str:
        return str(_("security settings"))


class AuditEvent(models.Model):
    """One entry of the workspace's audit log. Append-only: a database trigger refuses UPDATE and DELETE."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Logged in")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGOUT = "logout", _("Logged out")
        LOCKOUT = "lockout", _("Locked out")
        UNLOCK = "unlock", _("Unlocked")
        PASSWORD_CHANGED = "password_changed", _("Password changed")
        PROFILE_CHANGED = "profile_changed", _("Profile changed")
        TWO_FACTOR_ENABLED = "2fa_enabled", _("Two-factor authentication on")
        TWO_FACTOR_DISABLED = "2fa_disabled", _("Two-factor authentication off")
        RECOVERY_CODES_ISSUED = "2fa_codes_issued", _("Recovery codes issued")
        RECOVERY_CODE_USED = "2fa_code_used", _("Recovery code used")
        TWO_FACTOR_REQUIREMENT = "2fa_requirement", _("Two-factor requirement changed")
        WORKSPACE_SETTINGS = "workspace_settings", _("Workspace settings changed")
        INVITATION_SENT = "invitation_sent", _("Invitation sent")
        INVITATION_REVOKED = "invitation_revoked", _("Invitation revoked")
        INVITATION_ACCEPTED = "invitation_accepted", _("Invitation accepted")
        USER_CHANGED = "user_changed", _("User's role or team changed")
        USER_DEACTIVATED = "user_deactivated", _("User deactivated")
        USER_REACTIVATED = "user_reactivated", _("User reactivated")
        ROLE_CREATED = "role_created", _("Role created")
        ROLE_CHANGED = "role_changed", _("Role changed")
        ROLE_DELETED = "role_deleted", _("Role deleted")
        TEAM_CREATED = "team_created", _("Team created")
        TEAM_CHANGED = "team_changed", _("Team changed")
        TEAM_DELETED = "team_deleted", _("Team deleted")
        RECORDS_TRANSFERRED = "records_transferred", _("Records transferred")
        EXPORT = "export", _("Export")
        API_KEY_CREATED = "api_key_created", _("API key created")
        API_KEY_REVOKED = "api_key_revoked", _("API key revoked")
        RECORD_DELETED = "record_deleted", _("Record deleted")
        RECORDS_MERGED = "records_merged", _("Records merged")
        INTEGRATION_CREATED = "integration_created", _("Integration connected")
        INTEGRATION_CHANGED = "integration_changed", _("Integration changed")
        INTEGRATION_DELETED = "integration_deleted", _("Integration removed")
        PROCESS_CREATED = "process_created", _("Process created")
        PROCESS_CHANGED = "process_changed", _("Process changed")
        PROCESS_DELETED = "process_deleted", _("Process deleted")

    # Indexed: the audit log page, newest first, and its date range.
    at = models.DateTimeField(_("time"), default=timezone.now, editable=False, db_index=True)
    # No database constraint: the log outlives whatever it mentions and is never rewritten.
    actor = models.ForeignKey(
        User,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,  # accounts_audit_actor_at (actor, -at) serves the log's actor filter
    )
    actor_label = models.CharField(_("actor"), max_length=254, blank=True)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    target_type = models.CharField(_("target type"), max_length=32, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=255, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=512, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [
            # The audit log's action filter, and its actor filter, newest first.
            models.Index(fields=["action", "-at"], name="accounts_audit_action_at"),
            models.Index(fields=["actor", "-at"], name="accounts_audit_actor_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    @property
    def detail_lines(self) -> list[tuple[str, str]]:
        """The details as lines a person reads (see `audit.audit_detail_lines`)."""
        from tenants.accounts.audit import audit_detail_lines

        return audit_detail_lines(self.details)
