"""Files attached to companies, contacts, deals and leads, stored under the tenant's own media folder."""

from __future__ import annotations

import mimetypes
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.utils.translation import gettext as _

from crm.core.types import RecordType
from crm.files.models import Attachment
from tenants.access import workspace_write
from tenants.accounts import policy
from tenants.accounts.audit import audit_record
from tenants.accounts.models import AuditEvent, User

_TARGETS = {"Company": "company", "Contact": "contact", "Deal": "deal", "Lead": "lead"}


# type "/" subtype, RFC 6838 restricted names (at most 127 characters each; we keep 100 in all).
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_MEDIA_TYPE_MAX = Attachment._meta.get_field("content_type").max_length or 100


def _media_type(declared: str | None) -> str:
    """The media type a browser declared, without its parameters, or "" when it is not a sane one (what the
    client sends is not to be trusted: too long, malformed, control characters)."""
    value = (declared or "").split(";", 1)[0].strip().lower()
    if len(value) > _MEDIA_TYPE_MAX or not _MEDIA_TYPE.fullmatch(value):
        return ""
    return value


@workspace_write
def attachment_create(*, actor: User, record: models.Model, upload: UploadedFile) -> Attachment:
    policy.require(actor, policy.Action.CREATE, RecordType.FILE)
    target = _TARGETS.get(type(record).__name__)
    if target is None:
        raise ValidationError({"record": [_("Files attach to companies, contacts, deals and leads.")]})
    if upload.size is None or upload.size == 0:
        raise ValidationError({"file": [_("The file is empty.")]})
    if upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(
            {"file": [_("The file is larger than %(mb)d MB.") % {"mb": settings.MAX_UPLOAD_BYTES // 2**20}]}
        )
    # Control characters (NUL above all: PostgreSQL refuses it in text) have no place in a file's name.
    name = "".join(c for c in (upload.name or "") if c.isprintable()).strip()[-255:] or "file"
    attachment = Attachment(
        name=name,
        size=upload.size,
        content_type=_media_type(upload.content_type) or mimetypes.guess_type(name)[0] or "application/octet-stream",
        uploaded_by=actor,
        **{target: record},
    )
    if target in ("contact", "deal"):
        attachment.company_id = getattr(record, "company_id", None)
    attachment.file.save(name, upload, save=False)
    # If the row cannot be written, the stored file must not outlive the failure.
    try:
        attachment.save()
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment


@workspace_write
def attachment_delete(*, actor: User, attachment: Attachment) -> None:
    policy.require_on(actor, policy.Action.DELETE, RecordType.FILE, attachment)
    storage, name = attachment.file.storage, attachment.file.name
    audit_record(actor=actor, action=AuditEvent.Action.RECORD_DELETED, target=attachment, target_type="file")
    attachment.delete()
    if name:
        transaction.on_commit(lambda: storage.delete(name))
