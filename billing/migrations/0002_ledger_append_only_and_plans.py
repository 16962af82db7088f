from decimal import Decimal

from django.db import migrations

# (code, name, description, kind, position, {(currency, interval): amount})
PLANS = [
    (
        "standard",
        "Kontor",
        "Everything in Kontor, per active user",
        "seats",
        0,
        {
            ("EUR", "month"): "12.00",
            ("EUR", "year"): "120.00",
            ("RUB", "month"): "990.00",
            ("RUB", "year"): "9900.00",
            ("USD", "month"): "13.00",
            ("USD", "year"): "130.00",
        },
    ),
    (
        "priority-support",
        "Priority support",
        "Answers within four working hours, per workspace",
        "addon",
        1,
        {
            ("EUR", "month"): "49.00",
            ("EUR", "year"): "490.00",
            ("RUB", "month"): "3900.00",
            ("RUB", "year"): "39000.00",
            ("USD", "month"): "55.00",
            ("USD", "year"): "550.00",
        },
    ),
]


def plans_seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Price = apps.get_model("billing", "Price")
    for code, name, description, kind, position, prices in PLANS:
        plan, _ = Plan.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "kind": kind, "position": position}
        )
        for (currency, interval), amount in prices.items():
            Price.objects.get_or_create(
                lookup_key=f"kontor_{code.replace('-', '_')}_{currency.lower()}_{interval}",
                defaults={"plan": plan, "currency": currency, "interval": interval, "unit_amount": Decimal(amount)},
            )


def accounts_open(apps, schema_editor):
    """Workspaces that existed before billing start their trial now."""
    import datetime

    from django.conf import settings
    from django.utils import timezone

    Tenant = apps.get_model("tenants", "Tenant")
    Account = apps.get_model("billing", "Account")
    now = timezone.now()
    ends = now + datetime.timedelta(days=settings.BILLING_TRIAL_DAYS)
    Account.objects.bulk_create(
        [
            Account(
                tenant_id=t.pk,
                workspace_uid=t.uid,
                workspace_name=t.name,
                state="trial",
                state_changed_at=now,
                trial_ends_at=ends,
            )
            for t in Tenant.objects.filter(kind="workspace").only("pk", "uid", "name")
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial"), ("tenants", "0006_tenant_access")]

    operations = [
        # The ledger is append-only: what explains an invoice cannot be rewritten afterwards.
        migrations.RunSQL(
            """
            CREATE FUNCTION billing_seatentry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the seat ledger is append-only (% refused)', TG_OP;
            END $$
            """,
            "DROP FUNCTION billing_seatentry_append_only()",
        ),
        migrations.RunSQL(
            "CREATE TRIGGER billing_seatentry_append_only BEFORE UPDATE OR DELETE ON billing_seatentry "
            "FOR EACH ROW EXECUTE FUNCTION billing_seatentry_append_only()",
            "DROP TRIGGER billing_seatentry_append_only ON billing_seatentry",
        ),
        migrations.RunPython(plans_seed, migrations.RunPython.noop),
        migrations.RunPython(accounts_open, migrations.RunPython.noop),
    ]
