"""Record type -> model, for code that works on any kind of record (history, search, custom fields).

Each app registers its kind with the access layer (tenants/accounts/kinds.py, from its AppConfig.ready()); this
reads that registry, so a kind's model is declared once."""

from __future__ import annotations

from django.db.models import Model

from crm.core.types import RecordType
from tenants.accounts import kinds


def model_for(record_type: RecordType) -> type[Model]:
    return kinds.get(record_type).model
