"""A phone is also found by its last digits: its digits reversed become a term of their own (terms.REVERSED).
The terms of every record with a phone are re-derived from the record (companies, contacts and leads)."""

from django.db import migrations

BATCH = 2000


def _rederive(apps, schema_editor):
    from crm.search.terms import company_terms, contact_terms, lead_terms

    SearchTerm = apps.get_model("search", "SearchTerm")
    sources = {
        "company": (
            apps.get_model("companies", "Company").objects.exclude(phones=[]),
            lambda r: company_terms(
                name=r.name,
                legal_name=r.legal_name,
                emails=r.emails,
                phones=r.phones,
                tax_id=r.tax_id,
                registration_id=r.registration_id,
            ),
        ),
        "contact": (
            apps.get_model("contacts", "Contact").objects.exclude(phones=[]),
            lambda r: contact_terms(names=[r.first_name, r.middle_name, r.last_name], emails=r.emails, phones=r.phones),
        ),
        "lead": (
            apps.get_model("leads", "Lead").objects.exclude(phone=""),
            lambda r: lead_terms(texts=[r.title, r.contact_name, r.company_name], email=r.email, phone=r.phone),
        ),
    }
    for record_type, (records_with_phones, terms_of) in sources.items():
        last = 0
        while True:
            records = list(records_with_phones.filter(pk__gt=last).order_by("pk")[:BATCH])
            if not records:
                break
            last = records[-1].pk
            SearchTerm.objects.filter(record_type=record_type, record_id__in=[r.pk for r in records]).delete()
            SearchTerm.objects.bulk_create(
                SearchTerm(record_type=record_type, record_id=r.pk, field=field, term=term)
                for r in records
                for field, term in terms_of(r)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0003_searchterm_field"),
        ("companies", "0001_initial"),
        ("contacts", "0001_initial"),
        ("leads", "0001_initial"),
    ]

    operations = [migrations.RunPython(_rederive, migrations.RunPython.noop)]
