"""The shape of a workspace schema: every index is there for a query, and the schema stays small.

Every relation of a workspace is repeated in every schema (10,000 workspaces: 10,000 copies in one catalog), so
a new index or table must say what it is for. A new index fails `test_every_index_serves_a_named_query` until
it is added to INDEXES below with the query it serves (and a comment next to it in the model).
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection

from tenants.fleet.catalog import schema_footprint

pytestmark = pytest.mark.django_db

# index name -> (table, the query it serves). Primary keys and the unique constraints that enforce a rule serve
# that rule (and the lookups by those columns).
INDEXES: dict[str, tuple[str, str]] = {
    # tenants.accounts
    "accounts_apikey_pkey": ("accounts_apikey", "primary key"),
    "accounts_apikey_unique_prefix": ("accounts_apikey", "unique prefix; every API request finds its key by it"),
    "accounts_audit_action_at": ("accounts_auditevent", "audit log filtered by action, newest first"),
    "accounts_audit_actor_at": ("accounts_auditevent", "audit log filtered by actor, newest first"),
    "accounts_auditevent_at_9771b2fb": ("accounts_auditevent", "audit log newest first, its date range"),
    "accounts_auditevent_pkey": ("accounts_auditevent", "primary key; the log's `before` paging"),
    "accounts_invitation_pkey": ("accounts_invitation", "primary key"),
    "accounts_role_one_per_builtin": ("accounts_role", "one copy of each built-in role"),
    "accounts_role_pkey": ("accounts_role", "primary key; the user's role, loaded with the user"),
    "accounts_role_unique_name": ("accounts_role", "unique role name"),
    "accounts_team_pkey": ("accounts_team", "primary key"),
    "accounts_team_unique_name": ("accounts_team", "unique team name"),
    "accounts_user_pkey": ("accounts_user", "primary key; the session's user"),
    "accounts_user_unique_email": ("accounts_user", "unique email; login by email"),
    "accounts_workspacesecurity_pkey": ("accounts_workspacesecurity", "primary key"),
    # crm.activities
    "activities_activity_pkey": ("activities_activity", "primary key"),
    "activities_activity_assignee_id_c9fe1b58": (
        "activities_activity",
        "activity list's assignee filter (open or done); assignee arm of the scoped visibility",
    ),
    "activities_activity_created_by_id_b5334206": (
        "activities_activity",
        "created_by arm of the scoped visibility (policy.scope_filter)",
    ),
    "activity_company": ("activities_activity", "company card timeline newest first; cascade/merge by company"),
    "activity_contact": ("activities_activity", "contact card timeline newest first; cascade/merge by contact"),
    "activity_deal": ("activities_activity", "deal card timeline newest first; cascade by deal"),
    "activity_lead": ("activities_activity", "lead card timeline newest first; cascade by lead"),
    "activity_company_next": ("activities_activity", "next step of a company card (soonest open activity)"),
    "activity_contact_next": ("activities_activity", "next step of a contact card"),
    "activity_deal_next": ("activities_activity", "next step of a deal card; deals_needing_next_step"),
    "activity_lead_next": ("activities_activity", "next step of a lead card"),
    "activity_due": ("activities_activity", "activity list sorted by due (default); calendar date range"),
    "activity_open_due": ("activities_activity", "my_open_tasks_until (My day); owner transfer of open tasks"),
    # crm.processes
    "processes_workcalendar_pkey": ("processes_workcalendar", "primary key (one row: the working calendar)"),
    "processes_processdefinition_pkey": ("processes_processdefinition", "primary key"),
    "processes_processversion_pkey": ("processes_processversion", "primary key; an instance's version"),
    "processes_version_number": ("processes_processversion", "a definition's versions by number; cascade"),
    "processes_instance_pkey": ("processes_instance", "primary key"),
    "processes_instance_once": ("processes_instance", "a trigger delivered twice starts one instance"),
    "processes_instance_record": ("processes_instance", "a card's running and finished processes; the deal stage hold"),
    "processes_instance_def": ("processes_instance", "a definition's instances newest first; cascade"),
    "processes_steprun_pkey": ("processes_steprun", "primary key; a timer's step"),
    "processes_step_instance": ("processes_steprun", "an instance's steps in order; cascade"),
    "processes_step_task": ("processes_steprun", "a task done finds the active step waiting on it"),
    "processes_step_approvers": ("processes_steprun", "My day: the active approvals waiting for me"),
    "processes_timer_pkey": ("processes_timer", "primary key"),
    "processes_timer_key": ("processes_timer", "a timer written once per cause"),
    "processes_timer_due": ("processes_timer", "the runner: timers due, soonest first (fired ones are deleted)"),
    "processes_logentry_pkey": ("processes_logentry", "primary key"),
    "processes_log_instance": ("processes_logentry", "an instance's history in order; cascade"),
    "processes_notification_pkey": ("processes_notification", "primary key"),
    "processes_notice_key": ("processes_notification", "a notification written once per cause"),
    "processes_notice_user": ("processes_notification", "a person's notifications newest first; unread count"),
    # integrations.core
    "integrations_connection_pkey": ("integrations_connection", "primary key"),
    "integrations_conn_token": ("integrations_connection", "every inbound call finds its connection by this hash"),
    "integrations_connection_identity_id_key": ("integrations_connection", "one connection per identity"),
    "integrations_exchange_pkey": ("integrations_exchange", "primary key; an entry of the log"),
    "integrations_exch_conn_idx": ("integrations_exchange", "a connection's log newest first; prune; cascade"),
    "integrations_exch_key": ("integrations_exchange", "an operation done once per natural key"),
    # integrations.telephony
    "telephony_call_pkey": ("telephony_call", "primary key"),
    "telephony_call_pbx_id": ("telephony_call", "a PBX's call logged once; every event finds its call"),
    "telephony_call_conn_started": ("telephony_call", "a connection's calls page, newest first"),
    # integrations.webforms
    "webforms_webform_pkey": ("webforms_webform", "primary key"),
    "webforms_webform_connection_id_key": ("webforms_webform", "the form of a connection (every submission)"),
    "webforms_formfield_pkey": ("webforms_formfield", "primary key"),
    "webforms_field_unique_key": ("webforms_formfield", "unique key within a form; a form's fields"),
    # integrations.webhooks
    "webhooks_receiver_pkey": ("webhooks_receiver", "primary key: the receiver of a connection"),
    "webhooks_delivery_pkey": ("webhooks_delivery", "primary key; an attempt claims its delivery"),
    "webhooks_delivery_once": ("webhooks_delivery", "one delivery per event and receiver"),
    "webhooks_delivery_conn_idx": ("webhooks_delivery", "a receiver's deliveries page, newest first; prune"),
    "webhooks_delivery_wait_idx": ("webhooks_delivery", "a record's earlier events still waiting go first"),
    # integrations.accounting
    "integrations_accounting_document_pkey": ("integrations_accounting_document", "primary key"),
    "acc_document_unique_id": (
        "integrations_accounting_document",
        "one row per 1C document and connection: re-import updates it; lookups by connection",
    ),
    "integrations_accounting_document_deal_id_43816f26": (
        "integrations_accounting_document",
        "deal card's invoices and payments; deal delete (SET NULL)",
    ),
    "integrations_accounting_document_company_id_e51ff379": (
        "integrations_accounting_document",
        "company card's invoices and payments; company delete (SET NULL)",
    ),
    "integrations_accounting_exchangefile_pkey": ("integrations_accounting_exchangefile", "primary key"),
    "acc_file_unique_name": ("integrations_accounting_exchangefile", "an uploaded file by connection and name"),
    "integrations_accounting_importrun_pkey": ("integrations_accounting_importrun", "primary key"),
    "acc_run_file_idx": ("integrations_accounting_importrun", "a file's latest import run; file delete"),
    "integrations_accounting_invoicerequest_pkey": (
        "integrations_accounting_invoicerequest",
        "a deal's mark for invoicing (the deal is the key)",
    ),
    "integrations_accounting_outstate_pkey": ("integrations_accounting_outstate", "a connection's watermark"),
    # axes (lockouts per workspace)
    "axes_accessattempt_pkey": ("axes_accessattempt", "primary key"),
    "axes_accessattempt_ip_address_10922d9c": ("axes_accessattempt", "failures and lockout by client address"),
    "axes_accessattempt_username_ip_address_user_agent_8ea22282_uniq": (
        "axes_accessattempt",
        "axes' get_or_create of an attempt; failures and lockout by username (leading column)",
    ),
    "axes_accessattemptexpiration_pkey": ("axes_accessattemptexpiration", "primary key (the attempt)"),
    "axes_accessfailurelog_pkey": ("axes_accessfailurelog", "primary key (table unused: failure log off)"),
    "axes_accesslog_pkey": ("axes_accesslog", "primary key (table unused: AXES_DISABLE_ACCESS_LOG)"),
    # crm.companies
    "companies_company_pkey": ("companies_company", "primary key"),
    "company_created": ("companies_company", "company list sorted by creation, newest first"),
    "company_custom_fields": ("companies_company", "custom field filters (custom_fields @> ...)"),
    "company_lower_name": ("companies_company", "company list sorted by name (default)"),
    "company_owner_id": ("companies_company", "policy._owned_by subquery (index only); own records newest first"),
    "company_owner_name": ("companies_company", "company list by name for scoped people"),
    "company_tags": ("companies_company", "tag filter (tags @> ...)"),
    "company_tax_id": ("companies_company", "company_duplicates by tax id"),
    # crm.contacts
    "contacts_contact_pkey": ("contacts_contact", "primary key"),
    "contact_company": ("contacts_contact", "client card's contacts by name; merge_counts; company delete/merge"),
    "contact_created": ("contacts_contact", "contact list sorted by creation, newest first"),
    "contact_custom_fields": ("contacts_contact", "custom field filters (custom_fields @> ...)"),
    "contact_emails": ("contacts_contact", "contact_duplicates: emails && ..."),
    "contact_lower_name": ("contacts_contact", "contact list sorted by name (default)"),
    "contact_owner": ("contacts_contact", "contact list by name for scoped people"),
    "contact_owner_id": ("contacts_contact", "policy._owned_by subquery (index only); own records newest first"),
    "contact_phones": ("contacts_contact", "contact_duplicates: phones && ..."),
    "contact_tags": ("contacts_contact", "tag filter (tags @> ...)"),
    # crm.web
    "crm_web_listpreference_pkey": ("crm_web_listpreference", "primary key"),
    "listpreference_unique": ("crm_web_listpreference", "one preference per user and list; read by user"),
    "crm_web_samplerecord_pkey": ("crm_web_samplerecord", "primary key"),
    "samplerecord_unique": ("crm_web_samplerecord", "one sample mark per record"),
    # crm.customfields
    "customfield_unique_key": ("customfields_customfield", "unique key per record type; lookups by key"),
    "customfields_customfield_pkey": ("customfields_customfield", "primary key"),
    # crm.deals
    "deals_deal_pkey": ("deals_deal", "primary key"),
    "deal_board": ("deals_deal", "pipeline board: open deals per stage, newest first"),
    "deal_board_totals": ("deals_deal", "board column totals (index-only scan)"),
    "deal_company": ("deals_deal", "client card's deals newest first; company delete/merge"),
    "deal_company_closed": ("deals_deal", "client card's closed deals newest first"),
    "deal_company_totals": ("deals_deal", "client card's totals per outcome (index-only scan)"),
    "deal_created": ("deals_deal", "deal list sorted by creation (default)"),
    "deal_custom_fields": ("deals_deal", "custom field filters (custom_fields @> ...)"),
    "deal_owner_id": ("deals_deal", "policy._owned_by subquery (index only); own records newest first"),
    "deal_owner_stage": ("deals_deal", "My day: open_deals_of, deals_needing_next_step; board owner filter"),
    "deal_tags": ("deals_deal", "tag filter (tags @> ...)"),
    "deals_deal_pipeline_id_0cf5d68d": ("deals_deal", "deal list's pipeline filter (closed too); pipeline_delete"),
    "deals_deal_stage_id_0342b533": ("deals_deal", "deal list's stage filter (closed too); stage_delete"),
    "deals_deal_contacts_pkey": ("deals_deal_contacts", "primary key"),
    "deals_deal_contacts_contact_id_77e6b565": ("deals_deal_contacts", "a contact card's deals"),
    "deals_deal_contacts_deal_id_contact_id_0884a74c_uniq": (
        "deals_deal_contacts",
        "one link per deal and contact; a deal's contacts",
    ),
    "deals_deallineitem_pkey": ("deals_deallineitem", "primary key"),
    "deals_deallineitem_deal_id_38f59798": ("deals_deallineitem", "a deal's lines"),
    "deals_deallineitem_product_id_0125883b": ("deals_deallineitem", "product card's deals; product delete"),
    "deals_pipeline_pkey": ("deals_pipeline", "primary key"),
    "pipeline_unique_name": ("deals_pipeline", "unique pipeline name"),
    "deals_stage_pkey": ("deals_stage", "primary key"),
    "stage_unique_name": ("deals_stage", "unique stage name per pipeline; a pipeline's stages"),
    # Django's own tables
    "django_migrations_pkey": ("django_migrations", "primary key"),
    "django_session_pkey": ("django_session", "the session of a request, by key"),
    "django_session_expire_date_a5c62663": ("django_session", "clearsessions: expired sessions"),
    # tenants.events
    "events_consumercursor_pkey": ("events_consumercursor", "a consumer's cursor by name"),
    "events_counter_pkey": ("events_counter", "a counter by name"),
    "events_event_pkey": ("events_event", "delivery: events after a cursor position, by id"),
    "events_event_created_idx": ("events_event", "prune: delivered events older than the retention"),
    "events_event_uuid_key": ("events_event", "unique event uuid, the consumers' idempotency key"),
    # crm.files
    "files_attachment_pkey": ("files_attachment", "primary key"),
    "attachment_company": ("files_attachment", "company card's files newest first; cascade/merge by company"),
    "attachment_contact": ("files_attachment", "contact card's files newest first; cascade/merge by contact"),
    "attachment_deal": ("files_attachment", "deal card's files newest first; cascade by deal"),
    "attachment_lead": ("files_attachment", "lead card's files newest first; cascade by lead"),
    "files_attachment_uploaded_by_id_344c22ba": ("files_attachment", "uploaded_by arm of the scoped visibility"),
    # crm.history
    "history_changerecord_pkey": ("history_changerecord", "primary key"),
    "change_record": ("history_changerecord", "a card's history newest first (history_of); merge moves it"),
    # crm.leads
    "leads_lead_pkey": ("leads_lead", "primary key"),
    "lead_created": ("leads_lead", "lead list, newest first (default)"),
    "lead_custom_fields": ("leads_lead", "custom field filters (custom_fields @> ...)"),
    "lead_owner": ("leads_lead", "lead list newest first for scoped people"),
    "lead_owner_id": ("leads_lead", "policy._owned_by subquery (index only)"),
    "lead_status_created": ("leads_lead", "lead list's status filter, newest first"),
    "lead_tags": ("leads_lead", "tag filter (tags @> ...)"),
    "leads_lead_company_id_a66f0010": ("leads_lead", "company delete (SET NULL), merge, merge_counts"),
    "leads_lead_contact_id_5e1ac117": ("leads_lead", "contact delete (SET NULL), merge, merge_counts"),
    "leads_lead_deal_id_c747a0d1": ("leads_lead", "deal delete (SET NULL)"),
    # django-otp (a person's two-factor devices)
    "otp_static_staticdevice_pkey": ("otp_static_staticdevice", "primary key (the device of a session)"),
    "otp_static_staticdevice_user_id_7f9cff2b": ("otp_static_staticdevice", "devices_for_user at login"),
    "otp_static_statictoken_pkey": ("otp_static_statictoken", "primary key"),
    "otp_static_statictoken_device_id_74b7c7d1": ("otp_static_statictoken", "a device's recovery codes"),
    "otp_totp_totpdevice_pkey": ("otp_totp_totpdevice", "primary key (the device of a session)"),
    "otp_totp_totpdevice_user_id_0fb18292": ("otp_totp_totpdevice", "devices_for_user at login"),
    # crm.products
    "products_product_pkey": ("products_product", "primary key"),
    "product_lower_name": ("products_product", "product list sorted by name (default)"),
    "product_unique_sku": ("products_product", "unique SKU"),
    # crm.search
    "search_searchterm_pkey": ("search_searchterm", "primary key"),
    "search_term_record": ("search_searchterm", "a record's terms, replaced on every change"),
    "search_type_term_prefix": ("search_searchterm", "global search and pickers: term prefix per record type"),
    # integrations.email
    "integrations_email_emailtemplate_pkey": ("integrations_email_emailtemplate", "primary key"),
    "email_template_name": ("integrations_email_emailtemplate", "unique template name"),
    "integrations_email_foldercursor_pkey": ("integrations_email_foldercursor", "primary key"),
    "email_cursor_folder": ("integrations_email_foldercursor", "one cursor per mailbox folder; read by each run"),
    "integrations_email_message_pkey": ("integrations_email_message", "primary key; the messages page by -id"),
    "email_message_id_per_connection": (
        "integrations_email_message",
        "one row per Message-ID of a mailbox: known messages, thread parents, bounced originals; cascade",
    ),
    "integrations_email_message_activity_id_01708dd4": (
        "integrations_email_message",
        "an activity's delete sets its messages' link to null",
    ),
}

# Relations (tables, indexes, sequences) of one empty workspace schema: 272 before the review, 185 after; the
# integrations (connections and their log, forms, calls, the 1C exchange, mail, webhooks) add about 60, the
# business processes (definitions, versions, instances, steps, timers, their log, notifications, the working
# calendar) 36. The design's budget is about 300 a workspace. Raise it only with the reason in the commit.
MAX_RELATIONS = 290

# Apps kept out of workspace schemas (see TENANT_APPS in platform_core/settings.py).
NOT_IN_A_WORKSPACE = (
    "auth_group",
    "auth_group_permissions",
    "auth_permission",
    "django_content_type",
    "accounts_user_groups",
    "accounts_user_user_permissions",
)


def _workspace_schema() -> str:
    # The clone template is migrated by Django itself (pooled schemas are copies of it).
    schema = settings.SCHEMA_TEMPLATE_NAME
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regnamespace(%s) IS NOT NULL", [schema])
        assert cursor.fetchone() == (True,), f"the test database has no migrated template schema {schema}"
    return schema


def _indexes(schema: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname, t.relname FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
            WHERE i.relnamespace = to_regnamespace(%s)""",
            [schema],
        )
        return dict(cursor.fetchall())


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace(%s) AND relkind IN ('r', 'p')",
            [schema],
        )
        return {name for (name,) in cursor.fetchall()}


def test_every_index_serves_a_named_query() -> None:
    found = _indexes(_workspace_schema())
    unexplained = sorted(name for name in found if name not in INDEXES)
    assert not unexplained, f"indexes nobody said a query for (add them to INDEXES with the query): {unexplained}"
    gone = sorted(name for name in INDEXES if name not in found)
    assert not gone, f"INDEXES lists indexes the schema no longer has (remove them): {gone}"
    assert found == {name: table for name, (table, _query) in INDEXES.items()}


def test_no_index_is_a_pattern_twin_nobody_queries() -> None:
    # Django's automatic varchar_pattern_ops indexes (`*_like`) serve only LIKE 'prefix%', which no query of a
    # workspace runs on those columns (the search's prefix index is declared, with its opclass).
    assert [name for name in _indexes(_workspace_schema()) if name.endswith("_like")] == []


def test_the_workspace_schema_stays_small() -> None:
    footprint = schema_footprint(_workspace_schema())
    assert footprint["relations"] <= MAX_RELATIONS, footprint
    assert footprint["relations"] == footprint["tables"] + footprint["indexes"] + footprint["sequences"]


def test_django_permissions_and_content_types_live_in_public_only() -> None:
    assert _tables(_workspace_schema()).isdisjoint(NOT_IN_A_WORKSPACE)
    assert {"auth_permission", "django_content_type"} <= _tables("public")


def test_a_workspace_request_can_still_resolve_content_types(in_workspace: object) -> None:
    # Anything asking for a content type from inside a workspace reads the public table through the search_path.
    from django.contrib.contenttypes.models import ContentType

    from crm.companies.models import Company

    ContentType.objects.clear_cache()
    assert ContentType.objects.get_for_model(Company).model == "company"
