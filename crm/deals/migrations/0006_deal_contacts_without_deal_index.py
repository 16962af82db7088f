"""The deal-contact link table (Django's automatic through table of Deal.contacts) has a one-column deal_id index
next to the unique (deal_id, contact_id) index that already serves every lookup by deal: drop it. contact_id
keeps its index (a contact card's deals).

Schema-qualified through current_schema(), the workspace being migrated.
"""

from django.db import migrations

DROP = """
DO $$
BEGIN
    EXECUTE format('DROP INDEX IF EXISTS %I.deals_deal_contacts_deal_id_b6e1e180', current_schema());
END
$$;
"""
CREATE = "CREATE INDEX IF NOT EXISTS deals_deal_contacts_deal_id_b6e1e180 ON deals_deal_contacts (deal_id);"


class Migration(migrations.Migration):
    dependencies = [("deals", "0005_drop_covered_fk_and_like_indexes")]

    operations = [migrations.RunSQL(DROP, reverse_sql=CREATE)]
