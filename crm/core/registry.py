"""Record type -> model, for code that works on any kind of record (history, search, custom fields)."""

from __future__ import annotations

from django.apps import apps
from django.db.models import Model

from crm.core.types import RecordType

_MODELS = {
    RecordType.COMPANY: "companies.Company",
    RecordType.CONTACT: "contacts.Contact",
    RecordType.LEAD: "leads.Lead",
    RecordType.DEAL: "deals.Deal",
    RecordType.ACTIVITY: "activities.Activity",
    RecordType.PRODUCT: "products.Product",
    RecordType.FILE: "files.Attachment",
}


def model_for(record_type: RecordType) -> type[Model]:
    return apps.get_model(_MODELS[record_type])
