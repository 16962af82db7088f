"""Indexes that django-axes, django-otp and django.contrib.sessions create and no query of theirs or ours uses,
dropped in every schema that has those tables (each workspace, and public):

- axes_accessattempt: username (the unique (username, ip_address, user_agent) index serves lookups by
  username), user_agent (never looked up alone: AXES_LOCKOUT_PARAMETERS are username and ip_address) and their
  varchar_pattern_ops twins. The ip_address index stays: lockouts by client address.
- axes_accesslog, axes_accessfailurelog: every secondary index; both logs are switched off
  (AXES_DISABLE_ACCESS_LOG, AXES_ENABLE_ACCESS_FAILURE_LOG unset), so the tables stay empty.
- otp_static_statictoken: token and its twin; a recovery code is always looked up within its device
  (device.token_set.filter(token=...)), which the device_id index serves.
- django_session: the varchar_pattern_ops twin of the primary key; sessions are read by exact key.

Schema-qualified through current_schema(): an unqualified DROP INDEX IF EXISTS in a schema without the index
would find the public schema's one through the search_path. Should a later migration of those libraries drop
one of these, Django's DROP INDEX IF EXISTS tolerates its absence.
"""

from django.db import migrations

INDEXES = {
    "axes_accessattempt": [
        ("axes_accessattempt_username_3f2d4ca0", "username"),
        ("axes_accessattempt_username_3f2d4ca0_like", "username varchar_pattern_ops"),
        ("axes_accessattempt_user_agent_ad89678b", "user_agent"),
        ("axes_accessattempt_user_agent_ad89678b_like", "user_agent varchar_pattern_ops"),
    ],
    "axes_accesslog": [
        ("axes_accesslog_ip_address_86b417e5", "ip_address"),
        ("axes_accesslog_user_agent_0e659004", "user_agent"),
        ("axes_accesslog_user_agent_0e659004_like", "user_agent varchar_pattern_ops"),
        ("axes_accesslog_username_df93064b", "username"),
        ("axes_accesslog_username_df93064b_like", "username varchar_pattern_ops"),
    ],
    "axes_accessfailurelog": [
        ("axes_accessfailurelog_ip_address_2e9f5a7f", "ip_address"),
        ("axes_accessfailurelog_user_agent_ea145dda", "user_agent"),
        ("axes_accessfailurelog_user_agent_ea145dda_like", "user_agent varchar_pattern_ops"),
        ("axes_accessfailurelog_username_a8b7e8a4", "username"),
        ("axes_accessfailurelog_username_a8b7e8a4_like", "username varchar_pattern_ops"),
    ],
    "otp_static_statictoken": [
        ("otp_static_statictoken_token_d0a51866", "token"),
        ("otp_static_statictoken_token_d0a51866_like", "token varchar_pattern_ops"),
    ],
    "django_session": [("django_session_session_key_c0390e0f_like", "session_key varchar_pattern_ops")],
}
_NAMES = ", ".join(f"'{name}'" for indexes in INDEXES.values() for name, _column in indexes)

DROP = f"""
DO $$
DECLARE
    index_name text;
BEGIN
    FOREACH index_name IN ARRAY ARRAY[{_NAMES}] LOOP
        EXECUTE format('DROP INDEX IF EXISTS %I.%I', current_schema(), index_name);
    END LOOP;
END
$$;
"""
CREATE = "".join(
    f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column});\n"
    for table, indexes in INDEXES.items()
    for name, column in indexes
)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_workspaces_without_django_permissions"),
        ("axes", "0010_accessattemptexpiration"),
        ("otp_static", "0003_add_timestamps"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunSQL(DROP, reverse_sql=CREATE)]
