"""The kinds of CRM record, as named in URLs, the API, history, search, custom fields and the access policy."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RecordType(models.TextChoices):
    COMPANY = "company", _("Company")
    CONTACT = "contact", _("Contact")
    LEAD = "lead", _("Lead")
    DEAL = "deal", _("Deal")
    ACTIVITY = "activity", _("Activity")
    PRODUCT = "product", _("Product")
    FILE = "file", _("File")


# Record types that carry custom fields, history and appear in the global search.
CORE_RECORD_TYPES = (RecordType.COMPANY, RecordType.CONTACT, RecordType.LEAD, RecordType.DEAL)
