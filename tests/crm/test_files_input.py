"""The file service keeps what it can store of an upload's claims, and refuses a name it cannot store."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.files.services import attachment_create
from tests.factories import CompanyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    # Setting this one too makes the tenant storage forget the root it computed for earlier tests.
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
    return tmp_path


def test_an_overlong_content_type_is_replaced_by_the_names(in_workspace) -> None:
    company = CompanyFactory()
    upload = SimpleUploadedFile("offer.pdf", b"%PDF-1.4", content_type="application/" + "x" * 200)
    attachment = attachment_create(actor=in_workspace.owner, record=company, upload=upload)
    assert attachment.content_type == "application/pdf"
    upload = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain\x00")
    assert attachment_create(actor=in_workspace.owner, record=company, upload=upload).content_type == "text/plain"


def test_control_characters_are_taken_out_of_a_files_name(in_workspace, media) -> None:
    upload = SimpleUploadedFile("bad\x00.txt", b"hello", content_type="text/plain")
    attachment = attachment_create(actor=in_workspace.owner, record=CompanyFactory(), upload=upload)
    assert attachment.name == "bad.txt"
