from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.core.types import CORE_RECORD_TYPES, RecordType


class CustomField(models.Model):
    """A field a workspace admin added to companies, contacts, deals or leads.

    Values live in the record's `custom_fields` JSONB under `key`, which never changes: renaming a field
    changes its label and keeps every value.
    """

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        LONG_TEXT = "long_text", _("Long text")
        NUMBER = "number", _("Number")
        MONEY = "money", _("Money")
        DATE = "date", _("Date")
        BOOLEAN = "boolean", _("Yes / no")
        CHOICE = "choice", _("Single choice")
        MULTI_CHOICE = "multi_choice", _("Multiple choice")
        LINK = "link", _("Link")
        USER = "user", _("User")

    record_type = models.CharField(
        _("record type"), max_length=16, choices=[(t.value, t.label) for t in CORE_RECORD_TYPES]
    )
    # Not indexed on its own (SlugField's default): customfield_unique_key (record_type, key) serves the lookups.
    key = models.SlugField(_("key"), max_length=50, db_index=False)
    label = models.CharField(_("label"), max_length=100)
    field_type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True, encoder=DjangoJSONEncoder)
    is_required = models.BooleanField(_("required"), default=False)
    show_in_list = models.BooleanField(_("show in lists"), default=False)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["record_type", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["record_type", "key"], name="customfield_unique_key")]

    def __str__(self) -> str:
        return self.label

    @property
    def record_type_enum(self) -> RecordType:
        return RecordType(self.record_type)
