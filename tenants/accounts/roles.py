"""The roles every workspace starts with (the fields a role may hide are registered with each kind: kinds.py).

Built-in roles are kept exactly as defined here (`roles_ensure_builtin` writes them into each workspace);
admins adapt a copy. Every grant names a record type, an action and a scope; what is not granted is none.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

from tenants.accounts import kinds
from tenants.accounts.models import Role, Scope

ACTIONS = ("view", "create", "edit", "delete", "export", "import")
PERMISSIONS = (
    "manage_users",
    "manage_roles",
    "manage_pipelines",
    "manage_integrations",
    "manage_billing",
    "view_audit_log",
    "manage_backups",
    "manage_processes",
)
ADMIN = "admin"
SALES_HEAD = "sales_head"
SALES_MANAGER = "sales_manager"
READ_ONLY = "read_only"
# The role a connection (website forms, telephony, accounting, mail) acts with unless given another.
INTEGRATION = "integration"


def _grants(scopes: dict[str, dict[str, Scope]]) -> dict[str, dict[str, str]]:
    return {str(t): {a: str(s) for a, s in actions.items()} for t, actions in scopes.items()}


def _every(scope: Scope, actions: tuple[str, ...] = ACTIONS) -> dict[str, Scope]:
    return dict.fromkeys(actions, scope)


def builtin_definitions() -> dict[str, dict[str, Any]]:
    # Names and descriptions are stored in English and shown translated (Role.label, Role.description_label).
    work = ("view", "create", "edit", "delete")
    # Records that belong to people, and shared catalogs (products), for which own and team mean all.
    owned = [k.key for k in kinds.all_kinds() if k.owned]
    shared = [k.key for k in kinds.all_kinds() if not k.owned]
    return {
        ADMIN: {
            "name": gettext_noop("Administrator"),
            "description": gettext_noop("Everything, including users, roles, billing and the audit log."),
            "grants": _grants({t: _every(Scope.ALL) for t in kinds.all_keys()}),
            "permissions": list(PERMISSIONS),
        },
        SALES_HEAD: {
            "name": gettext_noop("Sales head"),
            "description": gettext_noop(
                "Sees every client; edits, deletes and exports what their team owns; sets up pipelines."
            ),
            "grants": _grants(
                {
                    **{
                        t: {
                            "view": Scope.ALL,
                            "create": Scope.ALL,
                            "edit": Scope.TEAM,
                            "delete": Scope.TEAM,
                            "export": Scope.TEAM,
                            "import": Scope.ALL,
                        }
                        for t in owned
                    },
                    **{t: _every(Scope.ALL) for t in shared},
                }
            ),
            "permissions": ["manage_pipelines", "manage_processes", "view_audit_log"],
        },
        SALES_MANAGER: {
            "name": gettext_noop("Sales manager"),
            "description": gettext_noop("Works their own clients, deals and tasks; cannot export."),
            "grants": _grants(
                {
                    **{t: _every(Scope.OWN, work) for t in owned},
                    **{t: {"view": Scope.ALL} for t in shared},
                }
            ),
            "permissions": [],
        },
        READ_ONLY: {
            "name": gettext_noop("Read-only"),
            "description": gettext_noop("Sees every record, changes nothing."),
            "grants": _grants({t: {"view": Scope.ALL} for t in kinds.all_keys()}),
            "permissions": [],
        },
        INTEGRATION: {
            "name": gettext_noop("Integration"),
            "description": gettext_noop(
                "For connected systems (website forms, telephony, accounting, mail): sees, creates and updates "
                "records; never deletes, exports or changes settings."
            ),
            "grants": _grants({t: _every(Scope.ALL, ("view", "create", "edit")) for t in kinds.all_keys()}),
            "permissions": [],
        },
    }


def roles_ensure_builtin() -> dict[str, Role]:
    """Create or restore the built-in roles in the current schema; returns them by key."""
    roles = {}
    for key, definition in builtin_definitions().items():
        role = Role.objects.filter(builtin=key).first()
        if role is None:
            name = definition["name"]
            # A custom role may already carry the name: the built-in one gets a distinct one.
            if Role.objects.filter(name=name).exists():
                name = f"{name} (built-in)"
            role = Role(builtin=key, name=name)
        changed = False
        for field in ("description", "grants", "permissions"):
            if getattr(role, field) != definition[field]:
                setattr(role, field, definition[field])
                changed = True
        if role.hidden_fields:
            role.hidden_fields = {}
            changed = True
        if role.pk is None or changed:
            role.save()
        roles[key] = role
    return roles


def builtin_role(key: str) -> Role:
    role = Role.objects.filter(builtin=key).first()
    return role if role is not None else roles_ensure_builtin()[key]
