"""Workspaces with every kind of record, and a fingerprint of everything a schema and its files hold."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context
from psycopg import sql

from crm.companies.services import company_create
from crm.customfields.services import custom_field_create
from crm.files.services import attachment_create
from crm.seed import SeedSize, seed_workspace
from tenants.accounts.services import api_key_create
from tests.conftest import Workspace

FILE_BYTES = b"%PDF-1.4 contract\x00\xff signed " * 100


def seeded(ws: Workspace) -> None:
    """Every record kind (the seed), a custom field with values, history, the audit log and an uploaded file."""
    with tenant_context(ws.tenant):
        seed_workspace(size=SeedSize.for_companies(12), owner_ids=[ws.owner.pk])
        custom_field_create(actor=ws.owner, record_type="company", label="Tax number", field_type="text")
        company = company_create(
            actor=ws.owner, data={"name": "Backed Up Ltd", "custom_fields": {"tax_number": "7701234567"}}
        )
        api_key_create(actor=ws.owner, name="Website form")  # audited
        attachment_create(
            actor=ws.owner,
            record=company,
            upload=SimpleUploadedFile("contract.pdf", FILE_BYTES, content_type="application/pdf"),
        )
    connection.set_schema_to_public()


def schema_fingerprint(schema: str) -> dict[str, str]:
    """Per table: rows and the md5 of all rows in primary-key order (every column, as text)."""
    result: dict[str, str] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 1",
            [schema],
        )
        for (table,) in cursor.fetchall():
            query = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t")
            cursor.execute(query.format(sql.Identifier(schema, table)))
            rows, digest = cursor.fetchone()
            result[table] = f"{rows}:{digest}"
    return result


def files_fingerprint(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
