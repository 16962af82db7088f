"""The condition evaluator, its validation and sentence; the field catalog, record values and set_field coercion."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from crm.customfields.services import custom_field_create
from crm.deals.models import DealLineItem, Stage
from crm.deals.services import deal_update
from crm.leads.services import lead_update
from crm.processes.conditions import condition_errors, describe, evaluate
from crm.processes.fields import (
    changed_names,
    coerce_value,
    date_fields,
    field_catalog,
    record_values,
    set_field_data,
    settable_fields,
)
from tenants.accounts.models import User
from tests.factories import DealFactory, LeadFactory, UserFactory


def leaf(field: str, op: str, value: object = None) -> dict:
    return {"field": field, "op": op, "value": value}


# --- evaluate: pure, no database -----------------------------------------------------------------------------


def test_empty_condition_is_true() -> None:
    assert evaluate(None, {}) is True
    assert evaluate({}, {"amount": Decimal("1")}) is True


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", "1500", True),
        ("eq", 1500, True),
        ("eq", "1500.00", True),
        ("eq", "1 500,00", True),
        ("eq", "1501", False),
        ("ne", "1501", True),
        ("ne", "1500", False),
        ("gt", "1499,5", True),
        ("gt", 1500, False),
        ("gte", "1500", True),
        ("lt", "1500.01", True),
        ("lt", "1500", False),
        ("lte", 1500, True),
        ("lte", "1499", False),
        ("in", ["10", "1500"], True),
        ("in", ["10", "20"], False),
        ("empty", None, False),
        ("not_empty", None, True),
        ("gt", "abc", False),
        ("gt", None, False),
        ("gt", ["1"], False),
        ("eq", "abc", False),
    ],
)
def test_numbers_compare_as_decimals(op: str, value: object, expected: bool) -> None:
    assert evaluate(leaf("amount", op, value), {"amount": Decimal("1500.00")}) is expected


def test_none_value_comparisons_are_false_never_errors() -> None:
    values = {"amount": None}
    for op in ("gt", "gte", "lt", "lte", "contains", "in"):
        assert evaluate(leaf("amount", op, "5"), values) is False
    assert evaluate(leaf("amount", "eq", "5"), values) is False
    assert evaluate(leaf("amount", "ne", "5"), values) is True
    assert evaluate(leaf("amount", "not_contains", "5"), values) is True
    assert evaluate(leaf("amount", "empty"), values) is True
    assert evaluate(leaf("amount", "not_empty"), values) is False
    assert evaluate(leaf("amount", "eq", ""), values) is True
    # A field the values do not hold at all is empty, too.
    assert evaluate(leaf("missing", "empty"), {}) is True


def test_text_is_compared_without_case() -> None:
    values = {"source": "  Website ", "title": "Big order for ACME"}
    assert evaluate(leaf("source", "eq", "website"), values)
    assert not evaluate(leaf("source", "eq", "web"), values)
    assert evaluate(leaf("source", "ne", "phone"), values)
    assert evaluate(leaf("title", "contains", "acme"), values)
    assert not evaluate(leaf("title", "contains", "globex"), values)
    assert evaluate(leaf("title", "not_contains", "globex"), values)
    assert evaluate(leaf("source", "in", ["Phone", "WEBSITE"]), values)
    assert not evaluate(leaf("source", "in", ["phone"]), values)
    assert evaluate(leaf("source", "in", "website"), values)  # a single value is a list of one
    assert evaluate(leaf("source", "not_empty"), values)
    assert evaluate(leaf("blank", "empty"), {"blank": "   "})
    # Text comparisons: numbers held as text compare as numbers, other text alphabetically.
    assert evaluate(leaf("code", "gt", "9"), {"code": "10"})
    assert evaluate(leaf("name", "lt", "b"), {"name": "Alpha"})


def test_booleans() -> None:
    values = {"consent": True, "other": False}
    for spelling in (True, "true", "yes", "1", "Yes", "on"):
        assert evaluate(leaf("consent", "eq", spelling), values)
    for spelling in (False, "false", "no", "0"):
        assert evaluate(leaf("other", "eq", spelling), values)
        assert not evaluate(leaf("consent", "eq", spelling), values)
    assert not evaluate(leaf("consent", "eq", "maybe"), values)
    assert evaluate(leaf("consent", "ne", "no"), values)
    assert not evaluate(leaf("consent", "gt", "no"), values)
    assert evaluate(leaf("other", "not_empty"), values)  # False is a value


def test_dates_and_datetimes() -> None:
    day = datetime.date(2026, 3, 15)
    values = {"expected_close_date": day}
    assert evaluate(leaf("expected_close_date", "eq", "2026-03-15"), values)
    assert evaluate(leaf("expected_close_date", "gt", "2026-03-14"), values)
    assert not evaluate(leaf("expected_close_date", "gt", "2026-03-15"), values)
    assert evaluate(leaf("expected_close_date", "gte", "2026-03-15"), values)
    assert evaluate(leaf("expected_close_date", "lt", "2027-01-01"), values)
    assert evaluate(leaf("expected_close_date", "lte", "2026-03-15T10:00:00+00:00"), values)
    assert not evaluate(leaf("expected_close_date", "gt", "15.03.2026"), values)
    assert not evaluate(leaf("expected_close_date", "eq", "not a date"), values)

    moment = datetime.datetime(2026, 3, 15, 12, 30, tzinfo=datetime.UTC)
    values = {"closed_at": moment}
    assert evaluate(leaf("closed_at", "gt", "2026-03-15T12:00:00Z"), values)
    assert evaluate(leaf("closed_at", "lt", "2026-03-15T14:00:00+01:00"), values)
    assert evaluate(leaf("closed_at", "eq", "2026-03-15T12:30:00+00:00"), values)
    with timezone.override("UTC"):
        # A date against a moment: the moment's day.
        assert evaluate(leaf("closed_at", "eq", "2026-03-15"), values)
        assert evaluate(leaf("closed_at", "gt", "2026-03-14"), values)
        assert not evaluate(leaf("closed_at", "gt", "2026-03-15"), values)
    with timezone.override("Asia/Vladivostok"):  # UTC+10: already the 15th at 22:30
        assert evaluate(leaf("closed_at", "eq", "2026-03-15"), values)
    with timezone.override("Pacific/Kiritimati"):  # UTC+14: already the 16th
        assert evaluate(leaf("closed_at", "eq", "2026-03-16"), values)
    assert evaluate(leaf("closed_at", "gt", "2026-03-15T11:00"), values) in (True, False)  # naive: no error
    assert not evaluate(leaf("closed_at", "gt", 12), values)


def test_lists_tags_and_multi_choice() -> None:
    values = {"tags": ["vip", "export"], "cf:regions": ["North", "South"]}
    assert evaluate(leaf("tags", "contains", "VIP"), values)
    assert not evaluate(leaf("tags", "contains", "vi"), values)  # an element, not a substring
    assert evaluate(leaf("tags", "contains", ["vip", "export"]), values)
    assert not evaluate(leaf("tags", "contains", ["vip", "retail"]), values)
    assert evaluate(leaf("tags", "not_contains", "retail"), values)
    assert evaluate(leaf("tags", "in", ["retail", "export"]), values)
    assert not evaluate(leaf("tags", "in", ["retail"]), values)
    assert evaluate(leaf("tags", "eq", ["export", "VIP"]), values)
    assert not evaluate(leaf("tags", "eq", ["export"]), values)
    assert evaluate(leaf("cf:regions", "contains", "south"), values)
    assert evaluate(leaf("tags", "not_empty"), values)
    assert evaluate(leaf("tags", "empty"), {"tags": []})
    assert not evaluate(leaf("tags", "gt", "a"), values)


def test_ids_compare_as_numbers() -> None:
    values = {"owner": 7, "stage": 12}
    assert evaluate(leaf("owner", "eq", "7"), values)
    assert evaluate(leaf("owner", "in", ["3", 7]), values)
    assert not evaluate(leaf("stage", "in", [1, 2]), values)


def test_groups_not_and_nesting() -> None:
    values = {"amount": Decimal("100"), "source": "website", "tags": ["vip"]}
    yes, no = leaf("amount", "gt", 50), leaf("source", "eq", "phone")
    assert evaluate({"all": [yes, leaf("tags", "contains", "vip")]}, values)
    assert not evaluate({"all": [yes, no]}, values)
    assert evaluate({"any": [no, yes]}, values)
    assert not evaluate({"any": [no, no]}, values)
    assert evaluate({"not": no}, values)
    assert not evaluate({"not": yes}, values)
    assert evaluate({"all": [{"any": [no, {"not": no}]}, {"not": {"all": [yes, no]}}]}, values)
    assert evaluate({"all": []}, values)  # nothing to fail
    assert not evaluate({"any": []}, values)


def test_odd_conditions_are_false_not_errors() -> None:
    values = {"amount": Decimal("5")}
    assert not evaluate({"field": "amount", "op": "nope", "value": 1}, values)
    assert not evaluate({"field": 5, "op": "eq", "value": 1}, values)
    assert not evaluate({"all": "x"}, values)
    assert not evaluate({"all": [None]}, values)
    assert evaluate(leaf("amount", "lt", "1e999999"), values)
    assert not evaluate(leaf("amount", "gt", "NaN"), values)
    assert not evaluate(leaf("amount", "gt", {"a": 1}), values)
    deep: dict = leaf("amount", "eq", 5)
    for _ in range(200):
        deep = {"not": {"not": deep}}
    assert evaluate(deep, values) is False  # absurdly deep: false, no RecursionError


def test_changed() -> None:
    values = {"amount": Decimal("5"), "__changed__": {"amount", "cf:tier"}}
    assert evaluate(leaf("amount", "changed"), values)
    assert not evaluate(leaf("stage", "changed"), values)
    assert evaluate(leaf("cf:tier", "changed"), values)
    assert not evaluate(leaf("cf:other", "changed"), values)
    assert not evaluate(leaf("amount", "changed"), {"amount": 1})
    assert evaluate(leaf("stage", "changed"), {"__changed__": ["stage"]})
    # Events that name only "custom_fields": any custom field may have changed.
    assert evaluate(leaf("cf:x", "changed"), {"__changed__": ["custom_fields"]})
    assert not evaluate(leaf("amount", "changed"), {"__changed__": ["custom_fields"]})


def test_changed_names_from_event_fields() -> None:
    assert changed_names(["owner_id", "stage", "custom_fields.tier", "tags"]) == {"owner", "stage", "cf:tier", "tags"}


# --- catalog, values, coercion (a workspace) ------------------------------------------------------------------


def test_catalog_has_columns_computed_and_this_workspaces_custom_fields(other_workspace, in_workspace) -> None:
    owner = in_workspace.owner
    custom_field_create(actor=owner, record_type="deal", label="Warranty ends", field_type="date")
    custom_field_create(actor=owner, record_type="deal", label="Tier", field_type="choice", choices=["Gold", "Silver"])
    custom_field_create(actor=owner, record_type="lead", label="Campaign", field_type="text")
    with tenant_context(other_workspace.tenant):
        custom_field_create(actor=other_workspace.owner, record_type="deal", label="Secret rate", field_type="number")

    catalog = {f.name: f for f in field_catalog("deal")}
    for name in ("title", "amount", "currency", "stage", "pipeline", "owner", "expected_close_date", "closed_at"):
        assert name in catalog
    for name in ("tags", "lost_reason", "created_at", "discount_percent", "line_max_discount_percent", "outcome"):
        assert name in catalog
    for hidden in ("version", "custom_fields", "search_vector", "created_by", "stage_changed_at"):
        assert hidden not in catalog
    assert catalog["cf:warranty_ends"].type == "date" and catalog["cf:warranty_ends"].is_date
    assert catalog["cf:warranty_ends"].label == "Warranty ends" and catalog["cf:warranty_ends"].settable
    assert catalog["cf:tier"].choices == [("Gold", "Gold"), ("Silver", "Silver")]
    assert "cf:campaign" not in catalog  # a lead's field
    assert "cf:secret_rate" not in catalog  # another workspace's field
    assert catalog["amount"].type == "money" and catalog["amount"].settable
    assert not catalog["discount_percent"].settable and not catalog["stage"].settable
    stage_ids = {value for value, _label in catalog["stage"].choices}
    assert stage_ids == set(Stage.objects.values_list("pk", flat=True))
    assert (owner.pk, owner.full_name or owner.email) in catalog["owner"].choices

    assert "cf:campaign" in {f.name for f in field_catalog("lead")}
    assert {f.name for f in date_fields("deal")} >= {"expected_close_date", "closed_at", "cf:warranty_ends"}
    assert "title" in {f.name for f in settable_fields("deal")}
    assert "closed_at" not in {f.name for f in settable_fields("deal")}
    for kind in ("company", "contact", "lead"):
        assert "owner" in {f.name for f in field_catalog(kind)}
    with pytest.raises(ValueError):
        field_catalog("activity")

    with tenant_context(other_workspace.tenant):
        other = {f.name for f in field_catalog("deal")}
    assert "cf:secret_rate" in other and "cf:warranty_ends" not in other


def test_record_values_custom_fields_and_discounts(in_workspace) -> None:
    owner = in_workspace.owner
    custom_field_create(actor=owner, record_type="deal", label="Warranty ends", field_type="date")
    custom_field_create(actor=owner, record_type="deal", label="Rate", field_type="number")
    custom_field_create(actor=owner, record_type="deal", label="Budget", field_type="money")
    custom_field_create(actor=owner, record_type="deal", label="Tier", field_type="choice", choices=["Gold", "Silver"])
    deal = DealFactory(owner=owner, tags=["vip"])
    deal = deal_update(
        actor=owner,
        deal=deal,
        data={
            "custom_fields": {
                "warranty_ends": "2027-05-01",
                "rate": "12.5",
                "budget": {"amount": "900", "currency": "EUR"},
                "tier": "Gold",
            }
        },
    )
    values = record_values("deal", deal)
    assert values["cf:warranty_ends"] == datetime.date(2027, 5, 1)
    assert values["cf:rate"] == Decimal("12.5")
    assert values["cf:budget"] == Decimal("900.00")
    assert values["cf:tier"] == "Gold"
    assert values["owner"] == owner.pk and values["stage"] == deal.stage_id and values["pipeline"] == deal.pipeline_id
    assert values["amount"] == Decimal("1000.00") and values["tags"] == ["vip"]
    assert values["discount_percent"] == Decimal("0") and values["line_max_discount_percent"] == Decimal("0")
    assert values["outcome"] == "open"

    # 2 x 1000 at 10% (discount 200) and 1 x 500 at 20% (discount 100): 300 / 2500 = 12%.
    DealLineItem.objects.create(deal=deal, name="A", quantity=2, price=Decimal("1000"), discount_percent=10)
    DealLineItem.objects.create(deal=deal, name="B", quantity=1, price=Decimal("500"), discount_percent=20)
    DealLineItem.objects.create(deal=deal, name="Free", quantity=1, price=Decimal("0"), discount_percent=0)
    values = record_values("deal", deal)
    assert values["discount_percent"] == Decimal("12.00")
    assert values["line_max_discount_percent"] == Decimal("20")
    assert evaluate(leaf("discount_percent", "gt", "11,5"), values)
    assert not evaluate(leaf("discount_percent", "gt", "15"), values)
    assert evaluate({"all": [leaf("cf:tier", "eq", "gold"), leaf("cf:warranty_ends", "gt", "2027-01-01")]}, values)

    lead = LeadFactory(owner=owner, source="Website")
    lead_values = record_values("lead", lead)
    assert lead_values["source"] == "Website" and lead_values["status"] == "new" and lead_values["owner"] == owner.pk


def test_record_values_reads_only_what_is_asked(in_workspace, django_assert_num_queries) -> None:
    deal = DealFactory(owner=in_workspace.owner)
    DealLineItem.objects.create(deal=deal, name="A", quantity=1, price=Decimal("100"), discount_percent=5)
    with django_assert_num_queries(3):  # the custom fields, the stage's outcome, the lines
        everything = record_values("deal", deal)
    with django_assert_num_queries(1):  # the lines
        asked = record_values("deal", deal, only={"discount_percent", "amount"})
    assert asked["discount_percent"] == everything["discount_percent"] == Decimal("5.00")
    assert "outcome" not in asked and not any(name.startswith("cf:") for name in asked)
    with django_assert_num_queries(0):  # columns are on the record already
        assert record_values("deal", deal, only={"amount", "title"})["title"] == deal.title


def test_coerce_value(in_workspace) -> None:
    owner = in_workspace.owner
    custom_field_create(actor=owner, record_type="deal", label="Rate", field_type="number")
    custom_field_create(actor=owner, record_type="deal", label="Tier", field_type="choice", choices=["Gold", "Silver"])
    custom_field_create(actor=owner, record_type="deal", label="Regions", field_type="multi_choice", choices=["N", "S"])
    custom_field_create(actor=owner, record_type="deal", label="Budget", field_type="money")
    custom_field_create(actor=owner, record_type="deal", label="Flag", field_type="boolean")
    custom_field_create(actor=owner, record_type="deal", label="Starts", field_type="date")
    assert coerce_value("deal", "amount", " 1 500,5 ") == Decimal("1500.50")
    assert coerce_value("deal", "title", "  New title ") == "New title"
    assert coerce_value("deal", "currency", "eur") == "EUR"
    assert coerce_value("deal", "expected_close_date", "2026-12-31") == datetime.date(2026, 12, 31)
    assert coerce_value("deal", "expected_close_date", "") is None
    assert coerce_value("deal", "owner", str(owner.pk)) == owner.pk
    assert coerce_value("deal", "tags", "VIP, export") == ["vip", "export"]
    assert coerce_value("deal", "cf:rate", "15,5") == Decimal("15.5")
    assert coerce_value("deal", "cf:tier", "Gold") == "Gold"
    assert coerce_value("deal", "cf:regions", "S, N") == ["N", "S"]
    assert coerce_value("deal", "cf:budget", "100 usd") == {"amount": Decimal("100.00"), "currency": "USD"}
    assert coerce_value("deal", "cf:flag", "yes") is True
    assert coerce_value("deal", "cf:starts", "2026-01-02") == datetime.date(2026, 1, 2)
    assert coerce_value("lead", "status", "in_progress") == "in_progress"
    assert coerce_value("contact", "consent_to_contact", "no") is False

    inactive = UserFactory(is_active=False)
    bad = [
        ("deal", "amount", "abc"),
        ("deal", "amount", "-5"),
        ("deal", "amount", "1e20"),
        ("deal", "amount", "NaN"),
        ("deal", "title", ""),
        ("deal", "title", "x\x00y"),
        ("deal", "title", "x" * 1001),
        ("deal", "currency", "XXX"),
        ("deal", "expected_close_date", "31.12.2026"),
        ("deal", "owner", "abc"),
        ("deal", "owner", "999999"),
        ("deal", "owner", str(inactive.pk)),
        ("deal", "stage", "1"),  # moved by move_stage, never set
        ("deal", "discount_percent", "5"),
        ("deal", "closed_at", "2026-01-01"),
        ("deal", "nope", "1"),
        ("deal", "cf:nope", "1"),
        ("deal", "cf:rate", "ten"),
        ("deal", "cf:tier", "Bronze"),
        ("deal", "cf:regions", "N, W"),
        ("deal", "cf:budget", "100 ABC"),
        ("deal", "cf:flag", "maybe"),
        ("deal", "cf:starts", "tomorrow"),
        ("lead", "status", "converted"),
        ("lead", "status", "whatever"),
    ]
    for record_type, name, raw in bad:
        with pytest.raises(ValidationError) as exc:
            coerce_value(record_type, name, raw)
        assert exc.value.messages, (name, raw)
    with pytest.raises(ValidationError):
        coerce_value("deal", "amount", 5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as exc:
        coerce_value("deal", "discount_percent", "5")
    assert "Discount, %" in exc.value.messages[0]


def test_set_field_data_goes_through_the_services_and_keeps_other_custom_values(in_workspace) -> None:
    owner = in_workspace.owner
    custom_field_create(actor=owner, record_type="deal", label="Rate", field_type="number")
    custom_field_create(actor=owner, record_type="deal", label="Tier", field_type="choice", choices=["Gold", "Silver"])
    deal = DealFactory(owner=owner, custom_fields={"rate": "1", "tier": "Silver"})
    data = set_field_data("deal", "cf:tier", coerce_value("deal", "cf:tier", "Gold"))
    assert data == {"custom_fields": {"tier": "Gold"}}
    deal = deal_update(actor=owner, deal=deal, data=data)
    deal.refresh_from_db()
    assert deal.custom_fields == {"rate": "1", "tier": "Gold"}
    deal = deal_update(
        actor=owner, deal=deal, data=set_field_data("deal", "amount", coerce_value("deal", "amount", "2500"))
    )
    deal = deal_update(
        actor=owner,
        deal=deal,
        data=set_field_data("deal", "expected_close_date", coerce_value("deal", "expected_close_date", "2026-06-01")),
    )
    deal.refresh_from_db()
    assert deal.amount == Decimal("2500.00") and deal.expected_close_date == datetime.date(2026, 6, 1)

    other = UserFactory()
    lead = LeadFactory(owner=owner)
    lead = lead_update(
        actor=owner, lead=lead, data=set_field_data("lead", "owner", coerce_value("lead", "owner", str(other.pk)))
    )
    lead.refresh_from_db()
    assert lead.owner_id == other.pk
    assert User.objects.filter(pk=other.pk).exists()


# --- condition_errors and describe ----------------------------------------------------------------------------


def test_condition_errors(in_workspace) -> None:
    owner = in_workspace.owner
    custom_field_create(actor=owner, record_type="deal", label="Rate", field_type="number")
    ok = {
        "all": [
            leaf("discount_percent", "gt", "15"),
            {"any": [leaf("cf:rate", "gte", 2), leaf("tags", "contains", "vip"), leaf("owner", "in", [owner.pk])]},
            {"not": leaf("expected_close_date", "empty")},
            leaf("amount", "changed"),
            leaf("title", "eq", ""),
        ]
    }
    assert condition_errors(ok, "deal") == []
    assert condition_errors(None, "deal") == [] and condition_errors({}, "deal") == []

    def errors(condition: object, record_type: str = "deal") -> str:
        found = condition_errors(condition, record_type)
        assert found, condition
        return " ".join(found)

    assert "unknown comparison" in errors(leaf("amount", "like", 1))
    assert "nope" in errors(leaf("nope", "eq", 1))
    assert "cf:rate" in errors(leaf("cf:rate", "eq", 1), "lead")  # a deal's field on a lead
    assert "Amount" in errors(leaf("amount", "gt", "abc"))
    assert "Rate" in errors(leaf("cf:rate", "lt", "ten"))
    assert "Expected close date" in errors(leaf("expected_close_date", "gt", "tomorrow"))
    assert errors(leaf("amount", "in", "5"))  # "in" takes a list
    assert errors(leaf("amount", "in", []))
    assert errors(leaf("amount", "gt", None))
    assert errors({"field": "amount", "op": "gt"})  # no value
    assert errors({"field": "amount", "op": "gt", "value": 1, "extra": 1})
    assert errors(leaf("title", "eq", {"a": 1}))
    assert errors(leaf("title", "eq", "a\x00b"))
    assert errors(leaf("title", "eq", "x" * 1001))
    assert errors(leaf("title", "eq", float("nan")))
    assert errors({"all": [leaf("title", "eq", "a")], "any": []})
    assert errors({"all": []})
    assert errors({"all": "x"})
    assert errors({"not": []})
    assert errors([leaf("title", "eq", "a")])
    assert errors("title = 'a'")
    assert errors({"all": [5]})
    assert "levels" in errors({"not": {"not": {"not": {"not": {"not": leaf("title", "eq", "a")}}}}})
    assert condition_errors({"not": {"not": {"not": {"not": leaf("title", "eq", "a")}}}}, "deal") == []
    assert "50" in errors({"any": [leaf("title", "eq", str(i)) for i in range(51)]})
    assert "50" in errors({"all": [{"any": [leaf("title", "eq", str(i)) for i in range(30)]}] * 2})
    custom_field_create(actor=owner, record_type="contact", label="Newsletter", field_type="boolean")
    assert condition_errors(leaf("cf:newsletter", "eq", "yes"), "contact") == []
    assert errors(leaf("cf:newsletter", "eq", "perhaps"), "contact")
    assert errors(leaf("consent_to_contact", "gt", "yes"), "contact")
    assert errors(leaf("owner", "eq", "bob"))
    assert condition_errors(leaf("title", "eq", "a"), None)


def test_describe(in_workspace) -> None:
    condition = {"all": [leaf("discount_percent", "gt", "15"), leaf("status", "eq", "in_progress")]}
    with translation.override("en"):
        assert describe(condition, "lead") == "discount_percent greater than 15 and Status is In progress"
        assert describe(condition, "deal").startswith("Discount, % greater than 15 and ")
        assert describe(None, "deal") == "always"
        assert describe({"any": [leaf("amount", "lt", 10), {"not": leaf("tags", "empty")}]}, "deal") == (
            "Amount less than 10 or not Tags is empty"
        )
        nested = {
            "all": [leaf("amount", "gte", 1), {"any": [leaf("title", "contains", "x"), leaf("amount", "changed")]}]
        }
        assert describe(nested, "deal") == "Amount at least 1 and (Title contains x or Amount changed)"
        assert describe(leaf("source", "in", ["web", "phone"]), "lead") == "Source is one of web, phone"
        assert describe(leaf("consent_to_contact", "eq", "true"), "contact") == "Consents to be contacted is yes"
        stage = Stage.objects.order_by("pk").first()
        assert stage is not None
        assert stage.name in describe(leaf("stage", "eq", stage.pk), "deal")
        assert describe(leaf("expected_close_date", "lt", "2026-01-31"), "deal").startswith(
            "Expected close date less than "
        )
