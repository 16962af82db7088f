"""Forms of the administration pages. They parse input only; the services decide and validate the rest."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from tenants.accounts import kinds
from tenants.accounts.models import AuditEvent, Role, Scope, Team, User
from tenants.accounts.roles import ACTIONS, PERMISSIONS, SALES_MANAGER
from tenants.accounts.selectors import AuditFilters, active_users, audit_actors
from tenants.accounts.services import hideable_fields, scopes_for

ACTION_LABELS = {
    "view": _("View"),
    "create": _("Create"),
    "edit": _("Edit"),
    "delete": _("Delete"),
    "export": _("Export"),
    "import": _("Import"),
}
PERMISSION_LABELS = {
    "manage_users": _("Manage users and teams"),
    "manage_roles": _("Manage roles"),
    "manage_pipelines": _("Manage pipelines and custom fields"),
    "manage_integrations": _("Manage integrations"),
    "manage_billing": _("Manage billing"),
    "view_audit_log": _("View the audit log"),
    "manage_processes": _("Manage business processes"),
    "manage_backups": _("See the workspace's backups and export all its data"),
}


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's field-keyed errors on the form; keys the form lacks become form-wide errors."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, errors in exc.message_dict.items():
        form.add_error(key if key in form.fields else None, errors)


class _PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.full_name} <{obj.email}>" if obj.full_name else obj.email


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    full_name = forms.CharField(label=_("Name"), max_length=150, required=False)
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.all())
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Most people invited are sales people: the role a new member gets unless someone chooses another.
        self.fields["role"].initial = Role.objects.filter(builtin=SALES_MANAGER).values_list("pk", flat=True).first()


class UserChangeForm(forms.Form):
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.all())
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)


class TransferForm(forms.Form):
    target = _PersonChoice(label=_("Give everything to"), queryset=User.objects.none())

    def __init__(self, *args: Any, source: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = active_users().exclude(pk=source.pk)  # type: ignore[attr-defined]


class AcceptInvitationForm(forms.Form):
    full_name = forms.CharField(label=_("Your name"), max_length=150)
    password1 = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label=_("Password again"), strip=False, widget=forms.PasswordInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("The two passwords differ."))
        return data


class RoleForm(forms.Form):
    """Name, the record type × action matrix of scopes, workspace permissions and hidden fields."""

    name = forms.CharField(label=_("Name"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=255, required=False)
    permissions = forms.MultipleChoiceField(
        label=_("Workspace permissions"),
        choices=[(p, PERMISSION_LABELS[p]) for p in PERMISSIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    def __init__(self, *args: Any, role: Role | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if role is not None and not self.is_bound:
            self.initial.update(name=role.name, description=role.description, permissions=list(role.permissions))
        for record_type in kinds.all_kinds():
            choices = [(str(s), Scope(s).label) for s in scopes_for(record_type)]
            for action in ACTIONS:
                name = f"grant_{record_type}_{action}"
                label = f"{record_type.label}: {ACTION_LABELS[action]}"
                self.fields[name] = forms.ChoiceField(
                    label=label,
                    choices=choices,
                    initial=Scope.NONE,
                    # The matrix shows no label per select: its row and column headers name it.
                    widget=forms.Select(attrs={"aria-label": label}),
                )
                if role is not None and not self.is_bound:
                    self.initial[name] = role.grants.get(str(record_type), {}).get(action, Scope.NONE)
            hideable = hideable_fields(record_type)
            if hideable:
                name = f"hidden_{record_type}"
                self.fields[name] = forms.MultipleChoiceField(
                    label=record_type.label,
                    choices=list(hideable.items()),
                    widget=forms.CheckboxSelectMultiple,
                    required=False,
                )
                if role is not None and not self.is_bound:
                    self.initial[name] = list(role.hidden_fields.get(str(record_type), ()))

    def matrix(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(str(t.label), [self[f"grant_{t}_{a}"] for a in ACTIONS]) for t in kinds.all_kinds()]

    def hidden_groups(self) -> list[forms.BoundField]:
        return [self[f"hidden_{t}"] for t in kinds.all_kinds() if f"hidden_{t}" in self.fields]

    def grants(self) -> dict[str, dict[str, str]]:
        data = self.cleaned_data
        return {str(t): {a: data[f"grant_{t}_{a}"] for a in ACTIONS} for t in kinds.all_kinds()}

    def hidden(self) -> dict[str, list[str]]:
        return {
            str(t): self.cleaned_data.get(f"hidden_{t}", []) for t in kinds.all_kinds() if f"hidden_{t}" in self.fields
        }

    def add_service_errors(self, exc: ValidationError) -> None:
        # The rights' errors belong to the whole matrix or to a group of checkboxes, not to one select.
        if hasattr(exc, "error_dict"):
            for key, errors in exc.message_dict.items():
                self.add_error(key if key in ("name", "description", "permissions") else None, errors)
        else:
            self.add_error(None, exc)


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    parent = forms.ModelChoiceField(label=_("Parent team"), queryset=Team.objects.all(), required=False)
    head = _PersonChoice(label=_("Head"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["head"].queryset = active_users()  # type: ignore[attr-defined]
        if team is not None:
            self.fields["parent"].queryset = Team.objects.exclude(pk=team.pk)  # type: ignore[attr-defined]
            if not self.is_bound:
                self.initial.update(name=team.name, parent=team.parent_id, head=team.head_id)


_DATE_RANGE = [
    MinValueValidator(datetime.date.min + datetime.timedelta(days=1)),
    MaxValueValidator(datetime.date.max - datetime.timedelta(days=1)),
]


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"), choices=[("", _("Any action")), *AuditEvent.Action.choices], required=False
    )
    actor = _PersonChoice(label=_("Who"), queryset=User.objects.none(), required=False, empty_label=_("Anyone"))
    # Within the calendar with a day to spare either side: a day's bounds in any time zone must exist.
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}), validators=_DATE_RANGE
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}), validators=_DATE_RANGE
    )
    q = forms.CharField(label=_("Target"), max_length=100, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["actor"].queryset = audit_actors()  # type: ignore[attr-defined]

    def filters(self) -> AuditFilters:
        """What the valid parts of the query ask for (an invalid part is shown as an error and ignored)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        actor = data.get("actor")
        return AuditFilters(
            action=data.get("action") or "",
            actor=actor.pk if actor else None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            text=(data.get("q") or "").strip(),
        )
