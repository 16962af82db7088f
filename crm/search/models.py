from __future__ import annotations

from django.db import models

from crm.core.types import RecordType


class SearchTerm(models.Model):
    """One searchable word of a record (a name part, an email, phone digits, a tax id), lower-cased.

    Global search is a prefix range scan on `term`, so it costs the same with a thousand records or a
    million. The services keep it in step with the records, in the same transaction.
    """

    record_type = models.CharField(max_length=16, choices=RecordType.choices)
    record_id = models.BigIntegerField()
    # The field the term comes from when a role can hide it ("phones", "email", "tax_id"), else "": the
    # search leaves out the terms of the fields the searching user's role hides.
    field = models.CharField(max_length=32, blank=True, default="")
    term = models.CharField(max_length=100)

    class Meta:
        indexes = [
            # Per-type prefix range scans: each kind of record gets its own best matches.
            models.Index(
                fields=["record_type", "term"],
                name="search_type_term_prefix",
                opclasses=["varchar_ops", "varchar_pattern_ops"],
            ),
            models.Index(fields=["record_type", "record_id"], name="search_term_record"),
        ]

    def __str__(self) -> str:
        return self.term
