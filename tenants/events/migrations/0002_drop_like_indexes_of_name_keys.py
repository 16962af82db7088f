"""ConsumerCursor and Counter are keyed by a name (a varchar primary key), for which Django adds a
varchar_pattern_ops twin index. Both are read by exact name only, from tables of a few rows: drop the twins.

Schema-qualified through current_schema(), the workspace being migrated (never the public schema's objects
through the search_path).
"""

from django.db import migrations

DROP = """
DO $$
BEGIN
    EXECUTE format('DROP INDEX IF EXISTS %I.events_consumercursor_consumer_43d0b1c1_like', current_schema());
    EXECUTE format('DROP INDEX IF EXISTS %I.events_counter_name_8cd07d02_like', current_schema());
END
$$;
"""
CREATE = """
CREATE INDEX IF NOT EXISTS events_consumercursor_consumer_43d0b1c1_like
    ON events_consumercursor (consumer varchar_pattern_ops);
CREATE INDEX IF NOT EXISTS events_counter_name_8cd07d02_like ON events_counter (name varchar_pattern_ops);
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunSQL(DROP, reverse_sql=CREATE)]
