"""Files on cards: stored per tenant, downloaded only through a view that checks the record is visible."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.files.models import Attachment
from tests.factories import CompanyFactory, ContactFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    # Setting this one too makes the tenant storage forget the root it computed for earlier tests.
    settings.MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
    return tmp_path


def _upload(client, url: str, content: bytes = b"%PDF-1.4 contract", name: str = "contract.pdf"):
    return client.post(url, {"file": SimpleUploadedFile(name, content, content_type="application/pdf")})


def test_upload_download_delete(workspace, owner_client, media, django_capture_on_commit_callbacks) -> None:
    with inside(workspace):
        company = CompanyFactory()
    response = _upload(owner_client, reverse("companies:file_upload", args=[company.pk]))
    assert response.status_code == 302 and response["Location"] == company.get_absolute_url()
    with inside(workspace):
        attachment = Attachment.objects.get()
        assert attachment.company_id == company.pk and attachment.name == "contract.pdf"
        stored = media / workspace.schema / attachment.file.name
    assert stored.read_bytes() == b"%PDF-1.4 contract"
    download = reverse("companies:file_download", args=[company.pk, attachment.pk])
    assert download in owner_client.get(company.get_absolute_url()).content.decode()
    response = owner_client.get(download)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 contract"
    assert "attachment" in response["Content-Disposition"] and "contract.pdf" in response["Content-Disposition"]
    # Never a public media URL.
    assert owner_client.get(f"/media/{workspace.schema}/{attachment.file.name}").status_code == 404
    delete = reverse("companies:file_delete", args=[company.pk, attachment.pk])
    assert owner_client.get(delete).status_code == 200
    with inside(workspace):
        assert Attachment.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(delete).status_code == 302
    with inside(workspace):
        assert not Attachment.objects.exists()
    assert not stored.exists()


def test_a_contacts_file_is_on_its_company_card_too(workspace, owner_client) -> None:
    with inside(workspace):
        contact = ContactFactory()
    _upload(owner_client, reverse("contacts:file_upload", args=[contact.pk]))
    with inside(workspace):
        attachment = Attachment.objects.get()
    assert attachment.contact_id == contact.pk and attachment.company_id == contact.company_id
    company_url = reverse("companies:file_download", args=[contact.company_id, attachment.pk])
    assert owner_client.get(company_url).status_code == 200
    assert company_url in owner_client.get(reverse("companies:detail", args=[contact.company_id])).content.decode()


def test_file_of_another_record_is_not_served_under_this_one(workspace, owner_client) -> None:
    with inside(workspace):
        mine, other = CompanyFactory(), CompanyFactory()
    _upload(owner_client, reverse("companies:file_upload", args=[other.pk]))
    with inside(workspace):
        attachment = Attachment.objects.get()
    assert owner_client.get(reverse("companies:file_download", args=[mine.pk, attachment.pk])).status_code == 404
    assert owner_client.post(reverse("companies:file_delete", args=[mine.pk, attachment.pk])).status_code == 404
    with inside(workspace):
        assert Attachment.objects.exists()


def test_too_large_or_empty_file_is_refused(workspace, owner_client, settings) -> None:
    settings.MAX_UPLOAD_BYTES = 10
    with inside(workspace):
        company = CompanyFactory()
    response = _upload(owner_client, reverse("companies:file_upload", args=[company.pk]), b"x" * 11)
    assert response.status_code == 302
    assert "larger than" in owner_client.get(company.get_absolute_url()).content.decode()
    _upload(owner_client, reverse("companies:file_upload", args=[company.pk]), b"")
    with inside(workspace):
        assert not Attachment.objects.exists()


def test_another_workspace_cannot_download_upload_or_delete(workspace, other_workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory()
    _upload(owner_client, reverse("companies:file_upload", args=[company.pk]))
    with inside(workspace):
        attachment = Attachment.objects.get()
    stranger = other_workspace.client(logged_in_as=other_workspace.owner)
    assert stranger.get(reverse("companies:file_download", args=[company.pk, attachment.pk])).status_code == 404
    assert stranger.post(reverse("companies:file_delete", args=[company.pk, attachment.pk])).status_code == 404
    assert _upload(stranger, reverse("companies:file_upload", args=[company.pk])).status_code == 404
    with inside(other_workspace):
        assert not Attachment.objects.exists()
    with inside(workspace):
        assert Attachment.objects.count() == 1
    anonymous = workspace.client()
    response = anonymous.get(reverse("companies:file_download", args=[company.pk, attachment.pk]))
    assert response.status_code == 302 and "login" in response["Location"]
