"""What every CRM record shares: an owner, tags, custom field values, timestamps and a version."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CrmRecord(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # Indexed by each model as (owner, id): "what someone owns, newest first" is what scoped users read.
        db_index=False,
    )
    tags = ArrayField(models.CharField(max_length=50), verbose_name=_("tags"), default=list, blank=True)
    # Values of the workspace's custom fields, keyed by the field's immutable key; validated by crm.customfields.
    custom_fields = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        # Nothing reads records by creator, and people are deactivated, never deleted (no SET NULL to find).
        db_index=False,
    )
    # Bumped by every update; the API refuses an update made against an older version (409).
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        abstract = True
