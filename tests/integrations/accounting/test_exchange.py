"""The 1C exchange end to end with a fake 1C that speaks 1C's "exchange with a website" protocol: what goes to
1C, invoices and payments coming back matched to deals, idempotent re-import, resumable batches, malformed and
hostile files refused with nothing applied, per-record errors, and the refusals (wrong password, unknown
address, another workspace, no permission)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.deals.models import DealLineItem
from integrations.accounting.models import Document, ImportRun, InvoiceRequest, OutState
from integrations.core.models import Exchange
from tenants.accounts.roles import READ_ONLY, SALES_MANAGER, builtin_role
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD as USER_PASSWORD
from tests.factories import CompanyFactory, DealFactory, ProductFactory
from tests.fakes.onec_client import Doc, commerceml
from tests.integrations.accounting.conftest import OneC, onec_for

pytestmark = pytest.mark.django_db

NS = "{urn:1C.ru:commerceml_2}"


@pytest.fixture(autouse=True)
def _small_batches(settings: Any) -> None:
    # Small chunks and batches: every exchange below uploads in several chunks and imports over several calls.
    settings.INTEGRATIONS_ACCOUNTING_FILE_LIMIT = 700
    settings.INTEGRATIONS_ACCOUNTING_IMPORT_BATCH = 2


def _in(onec: OneC):
    return tenant_context(onec.workspace.tenant)


def _xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)


def _all(root: ET.Element, name: str) -> list[ET.Element]:
    return list(root.iter(name))


def _text(element: ET.Element, name: str) -> str:
    found = element.find(name)
    return (found.text or "") if found is not None else ""


def _world(onec: OneC) -> dict[str, Any]:
    """Two counterparties with deals, one without, a product; the first deal has two lines."""
    with _in(onec):
        acme = CompanyFactory(name="Acme", legal_name="ООО «Акме»", tax_id="7701234567", registration_id="770101001")
        beta = CompanyFactory(name="Beta", tax_id="5009876543")
        lonely = CompanyFactory(name="Lonely", tax_id="1111111111")
        product = ProductFactory(sku="BOLT-1", name="Bolt", price=Decimal("10.00"), vat_rate=Decimal("20"))
        deal = DealFactory(title="Bolts for Acme", company=acme, amount=Decimal("0"))
        DealLineItem.objects.create(
            deal=deal,
            product=product,
            name="Bolt",
            quantity=Decimal("3"),
            price=Decimal("10.00"),
            vat_rate=Decimal("20"),
        )
        DealLineItem.objects.create(deal=deal, name="Delivery", quantity=Decimal("1"), price=Decimal("5.00"))
        other = DealFactory(title="Beta deal", company=beta)
        ids = {
            "acme": acme.pk,
            "beta": beta.pk,
            "lonely": lonely.pk,
            "deal": deal.pk,
            "other": other.pk,
            "product": product.pk,
        }
    connection.set_schema_to_public()
    return ids


# --- the protocol ---------------------------------------------------------------------------------------------


def test_checkauth_answers_a_cookie_and_init_the_chunk_size(onec: OneC) -> None:
    client = onec.client()
    answer = client.checkauth()
    assert answer.status == 200
    assert answer.lines[0] == "success" and answer.lines[1] == "kontor_1c" and len(answer.lines[2]) > 20
    init = client.init()
    assert init.lines == ["zip=no", "file_limit=700"]
    with _in(onec):
        ops = list(Exchange.objects.filter(connection=onec.connection).values_list("operation", "status"))
        # The cookie is not in the log.
        assert all(answer.lines[2] not in json.dumps(e.response) for e in Exchange.objects.all())
    assert ("accounting.sale.checkauth", "ok") in ops and ("accounting.sale.init", "ok") in ops


def test_a_wrong_password_is_a_failure_and_opens_no_session(onec: OneC) -> None:
    client = onec.client(password="wrong-password")
    answer = client.checkauth()
    assert answer.status == 401
    assert answer.lines[0] == "failure"
    assert client.cookie is None
    # Without a session (and without Basic credentials) nothing else is answered.
    assert client.init().lines[0] == "failure"
    assert client.query().status == 401
    with _in(onec):
        assert not OutState.objects.exists()
        assert set(Exchange.objects.values_list("status", flat=True)) == {"refused"}


def test_an_unknown_address_is_a_404_and_writes_nothing(onec: OneC) -> None:
    client = onec.client()
    client.path = client.path.replace(onec.token, onec.token[:-4] + "abcd")
    answer = client.checkauth()
    assert answer.status == 404
    assert json.loads(answer.body)["error"]["code"] == "unknown_connection"
    with _in(onec):
        assert not Exchange.objects.exists()


def test_odd_calls_are_refused_not_errors(onec: OneC) -> None:
    client = onec.client()
    client.checkauth()
    for params in ({"type": "sale", "mode": "nope"}, {"type": "x\x00", "mode": "init"}, {"mode": "query"}):
        assert client._call("GET", params).status == 400
    for name in ("../etc/passwd", "a\x00b", "", "x" * 300):
        assert client._call("POST", {"type": "sale", "mode": "file", "filename": name}, b"<x/>").status == 400
        assert client._call("GET", {"type": "sale", "mode": "import", "filename": name}).status == 400
    assert client._call("GET", {"type": "sale", "mode": "import", "filename": "missing.xml"}).lines[0] == "failure"
    # A chunk larger than the limit 1C was told.
    assert client._call("POST", {"type": "sale", "mode": "file", "filename": "big.xml"}, b"x" * 701).status == 413
    # Catalogs are not taken: products go from Kontor to 1C.
    answer = client._call("POST", {"type": "catalog", "mode": "file", "filename": "import.xml"}, b"<x/>")
    assert answer.lines[0] == "failure"
    with _in(onec):
        assert not Document.objects.exists()
        assert not ImportRun.objects.exists()


# --- out: Kontor -> 1C -------------------------------------------------------------------------------------------


def test_the_query_sends_counterparties_products_and_deals_marked_for_invoicing(onec: OneC) -> None:
    ids = _world(onec)
    owner = onec.workspace.client(logged_in_as=onec.workspace.owner)
    response = owner.post(f"/deals/{ids['deal']}/accounting/invoice/")
    assert response.status_code == 302
    run = onec.client().exchange()
    assert run.query is not None and run.query.status == 200
    assert run.query.content_type.startswith("application/xml")
    root = _xml(run.query.body)
    assert root.tag == "КоммерческаяИнформация" and root.get("ВерсияСхемы") == "2.05"
    # Counterparties with deals, with their tax ids; not the one without deals.
    parties = {_text(p, "ИНН"): p for p in root.find("Контрагенты")}
    assert set(parties) == {"7701234567", "5009876543"}
    assert _text(parties["7701234567"], "КПП") == "770101001"
    assert _text(parties["7701234567"], "ОфициальноеНаименование") == "ООО «Акме»"
    # Products.
    goods = root.find("Каталог/Товары")
    assert [_text(g, "Артикул") for g in goods] == ["BOLT-1"]
    # The marked deal as an order, with its counterparty and lines.
    (document,) = _all(root, "Документ")
    assert _text(document, "ХозОперация") == "Заказ товара"
    assert _text(document, "Номер") == str(ids["deal"])
    assert _text(document, "Валюта") == "RUB"
    assert _text(document, "Сумма") == "41.00"  # 3 x 10 + 20% VAT, and 5
    assert _text(document.find("Контрагенты/Контрагент"), "ИНН") == "7701234567"
    lines = document.findall("Товары/Товар")
    assert [(_text(t, "Наименование"), _text(t, "Количество"), _text(t, "Сумма")) for t in lines] == [
        ("Bolt", "3", "36.00"),
        ("Delivery", "1", "5.00"),
    ]
    assert run.success is not None and run.success.lines == ["success"]
    with _in(onec):
        entry = Exchange.objects.get(operation="accounting.sale.query")
        assert entry.counts == {"counterparties": 2, "products": 1, "documents": 1}


def test_only_what_changed_since_the_confirmed_exchange_goes_out(onec: OneC) -> None:
    ids = _world(onec)
    with _in(onec):
        InvoiceRequest.objects.create(deal_id=ids["deal"])
    onec.client().exchange()
    again = onec.client().exchange()
    root = _xml(again.query.body)
    assert root.find("Контрагенты") is None and root.find("Каталог") is None and not _all(root, "Документ")
    # A change goes out with the next exchange, and only it.
    with _in(onec):
        from django.utils import timezone

        from crm.companies.models import Company

        Company.objects.filter(pk=ids["beta"]).update(name="Beta Group", updated_at=timezone.now())
    root = _xml(onec.client().exchange().query.body)
    assert [_text(p, "Наименование") for p in root.find("Контрагенты")] == ["Beta Group"]


def test_a_query_not_confirmed_is_sent_again(onec: OneC) -> None:
    ids = _world(onec)
    with _in(onec):
        InvoiceRequest.objects.create(deal_id=ids["deal"])
    first = onec.client().exchange(confirm=False)
    second = onec.client().exchange(confirm=False)
    assert len(_all(_xml(first.query.body), "Документ")) == len(_all(_xml(second.query.body), "Документ")) == 1
    third = onec.client().exchange(confirm=True)
    assert len(_all(_xml(third.query.body), "Документ")) == 1
    assert not _all(_xml(onec.client().exchange().query.body), "Документ")


def test_version_2_10_in_windows_1251(workspace) -> None:
    onec = onec_for(workspace, version="2.10", encoding="windows-1251")
    ids = _world(onec)
    with _in(onec):
        InvoiceRequest.objects.create(deal_id=ids["deal"])
    run = onec.client().exchange()
    assert run.query.body.startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
    root = _xml(run.query.body)
    assert root.get("ВерсияСхемы") == "2.10"
    assert len(root.findall("Контейнер/Документ")) == 1


# --- in: 1C -> Kontor -----------------------------------------------------------------------------------------


def _documents(ids: dict[str, Any]) -> list[Doc]:
    return [
        Doc("Счет на оплату", "inv-1", "СЧ-101", "2026-11-28", "41.00", "7701234567", order=str(ids["deal"])),
        Doc(
            "Выплата безналичных денег", "pay-1", "ПП-555", "2026-11-30", "41,00", "7701234567", order=str(ids["deal"])
        ),
        Doc("Выплата безналичных денег", "pay-2", "ПП-556", "2026-11-30", "1 000.00", "5009876543"),
        Doc("Заказ товара", "order-x", "77", "2026-11-30", "5.00", "5009876543"),  # an order not paid: not taken
    ]


def test_invoices_and_payments_come_in_matched_to_deals(onec: OneC) -> None:
    ids = _world(onec)
    data = commerceml(_documents(ids))
    run = onec.client().exchange({"orders-1.xml": data})
    uploads, imports = run.uploads["orders-1.xml"], run.imports["orders-1.xml"]
    assert len(uploads) > 1 and all(a.lines == ["success"] for a in uploads)
    assert [a.lines[0] for a in imports] == ["progress", "success"]
    with _in(onec):
        invoice = Document.objects.get(kind="invoice")
        assert (invoice.number, invoice.amount, invoice.currency, invoice.deal_id) == (
            "СЧ-101",
            Decimal("41.00"),
            "RUB",
            ids["deal"],
        )
        paid = Document.objects.get(onec_id="pay-1")
        assert (paid.kind, paid.amount, paid.deal_id, paid.company_id) == (
            "payment",
            Decimal("41.00"),
            ids["deal"],
            ids["acme"],
        )
        # A payment without an order number stays on its counterparty.
        loose = Document.objects.get(onec_id="pay-2")
        assert (loose.deal_id, loose.company_id, loose.amount) == (None, ids["beta"], Decimal("1000.00"))
        # Recorded on the deal's history by the connection's identity.
        notes = Activity.objects.filter(kind="note", deal_id=ids["deal"]).order_by("id")
        assert [n.created_by_id for n in notes] == [onec.connection.identity_id] * 2
        assert "ПП-555" in notes[1].subject
        entry = Exchange.objects.get(operation="accounting.import")
        assert entry.status == "ok"
        assert entry.counts == {"created": 3, "updated": 0, "skipped": 0, "failed": 0, "total": 3}
    # Shown on the deal card and the company card.
    owner = onec.workspace.client(logged_in_as=onec.workspace.owner)
    card = owner.get(f"/deals/{ids['deal']}/").content.decode()
    assert "СЧ-101" in card and "ПП-555" in card and 'data-testid="accounting-panel"' in card
    company_card = owner.get(f"/companies/{ids['beta']}/").content.decode()
    assert "ПП-556" in company_card


def test_a_paid_order_coming_back_is_a_payment(onec: OneC) -> None:
    ids = _world(onec)
    order = Doc(
        "Заказ товара", f"deal-{ids['deal']}", str(ids["deal"]), "2026-11-30", "41.00", "7701234567",
        requisites={"Номер оплаты по 1С": "00012", "Дата оплаты по 1С": "2026-12-01T09:00:00"},
    )  # fmt: skip
    onec.client().exchange({"orders.xml": commerceml([order])})
    with _in(onec):
        paid = Document.objects.get()
        assert (paid.kind, paid.number, str(paid.date), paid.deal_id) == ("payment", "00012", "2026-12-01", ids["deal"])


def test_importing_the_same_documents_again_changes_nothing(onec: OneC) -> None:
    ids = _world(onec)
    data = commerceml(_documents(ids))
    onec.client().exchange({"orders.xml": data})
    with _in(onec):
        before = (Document.objects.count(), Activity.objects.count())
    onec.client().exchange({"orders.xml": data})
    with _in(onec):
        assert (Document.objects.count(), Activity.objects.count()) == before
        latest = Exchange.objects.filter(operation="accounting.import").order_by("-id").first()
        assert latest.counts["skipped"] == 3 and latest.counts["created"] == 0
    # A document 1C changed is updated in place.
    docs = _documents(ids)
    docs[1].amount = "45.00"
    onec.client().exchange({"orders.xml": commerceml(docs)})
    with _in(onec):
        assert Document.objects.get(onec_id="pay-1").amount == Decimal("45.00")
        assert Document.objects.count() == before[0]
        latest = Exchange.objects.filter(operation="accounting.import").order_by("-id").first()
        assert (latest.counts["updated"], latest.counts["skipped"]) == (1, 2)


def test_an_interrupted_import_resumes_where_it_stopped(onec: OneC) -> None:
    ids = _world(onec)
    client = onec.client()
    client.checkauth()
    client.init()
    client.upload("orders.xml", commerceml(_documents(ids)))
    first = client._call("GET", {"type": "sale", "mode": "import", "filename": "orders.xml"})
    assert first.lines[0] == "progress"
    with _in(onec):
        assert ImportRun.objects.get().cursor == 2
    # 1C lost the answer and comes back (same session): the import goes on from the cursor.
    rest = client.import_until_done("orders.xml")
    assert rest[-1].lines == ["success"]
    # A repeated import after success answers success again and applies nothing.
    assert client._call("GET", {"type": "sale", "mode": "import", "filename": "orders.xml"}).lines == ["success"]
    with _in(onec):
        assert Document.objects.count() == 3
        assert ImportRun.objects.get().status == "done"


def test_windows_1251_with_a_namespace_in_2_10_containers(onec: OneC) -> None:
    ids = _world(onec)
    data = commerceml(_documents(ids)[:2], version="2.10", encoding="windows-1251", namespace=True)
    assert "СЧ-101".encode("cp1251") in data
    onec.client().exchange({"orders.xml": data})
    with _in(onec):
        assert set(Document.objects.values_list("number", flat=True)) == {"СЧ-101", "ПП-555"}


def test_bad_records_are_reported_one_by_one_and_skipped(onec: OneC) -> None:
    ids = _world(onec)
    docs = [
        Doc("Выплата безналичных денег", "p-ok", "ПП-1", "2026-11-30", "10.00", "7701234567", order=str(ids["deal"])),
        Doc("Выплата безналичных денег", "p-nonumber", "", "2026-11-30", "10.00", "7701234567"),
        Doc("Выплата безналичных денег", "p-amount", "ПП-3", "2026-11-30", "ten", "7701234567"),
        Doc("Выплата безналичных денег", "p-negative", "ПП-4", "2026-11-30", "-5", "7701234567"),
        Doc("Выплата безналичных денег", "p-unknown", "ПП-5", "2026-11-30", "10.00", "9999999999"),
        Doc("Выплата безналичных денег", "p-date", "ПП-6", "30/11/2026 x", "10.00", "7701234567"),
        Doc("Выплата безналичных денег", "p-currency", "ПП-7", "2026-11-30", "10.00", "7701234567", currency="XYZ"),
        Doc("Счет на оплату", "i-ok", "СЧ-2", "2026-11-30", "99999999999999.99", "5009876543", order=str(ids["other"])),
    ]
    run = onec.client().exchange({"orders.xml": commerceml(docs)})
    assert run.imports["orders.xml"][-1].lines == ["success"]
    with _in(onec):
        assert set(Document.objects.values_list("number", flat=True)) == {"ПП-1", "СЧ-2"}
        entry = Exchange.objects.get(operation="accounting.import")
        assert entry.status == "partial"
        assert (entry.counts["created"], entry.counts["failed"]) == (2, 6)
        problems = {p["record"]: p["error"] for p in entry.problems}
        assert "payment p-nonumber" in problems
        assert "9999999999" in problems["payment ПП-5"]
        assert set(problems) >= {"payment ПП-3", "payment ПП-4", "payment ПП-6", "payment ПП-7"}


def test_a_run_with_failed_records_is_retried_from_the_log(onec: OneC) -> None:
    ids = _world(onec)
    docs = [
        Doc("Выплата безналичных денег", "p-ok", "ПП-1", "2026-11-30", "10.00", "7701234567", order=str(ids["deal"])),
        Doc("Выплата безналичных денег", "p-new", "ПП-2", "2026-11-30", "20.00", "3333333333"),
    ]
    onec.client().exchange({"orders.xml": commerceml(docs)})
    owner = onec.workspace.client(logged_in_as=onec.workspace.owner)
    with _in(onec):
        entry = Exchange.objects.get(operation="accounting.import")
        assert entry.status == "partial" and entry.retryable
        CompanyFactory(name="Gamma", tax_id="3333333333")
        url = reverse("integrations:retry", kwargs={"pk": onec.connection.pk, "entry": entry.pk})
    connection.set_schema_to_public()
    assert owner.post(url).status_code == 302
    with _in(onec):
        again = Exchange.objects.filter(operation="accounting.import").order_by("-id").first()
        assert again.retry_of_id == entry.pk and again.status == "ok"
        assert (again.counts["created"], again.counts["skipped"], again.counts["failed"]) == (1, 1, 0)
        assert Exchange.objects.get(pk=entry.pk).status == "retried"
        assert set(Document.objects.values_list("number", flat=True)) == {"ПП-1", "ПП-2"}


@pytest.mark.parametrize(
    "data",
    [
        "<?xml version='1.0'?><КоммерческаяИнформация><Документ>".encode(),
        "<?xml version='1.0'?><Каталог/>".encode(),
        b"",
        b"\x00\x01garbage",
        # An XML bomb: entities expanding to gigabytes.
        (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
            "<КоммерческаяИнформация>&lol3;</КоммерческаяИнформация>"
        ).encode(),
        # An external entity reading a local file.
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>',
    ],
    ids=["truncated", "wrong-root", "empty", "binary", "xml-bomb", "external-entity"],
)
def test_a_malformed_or_hostile_file_is_a_failure_with_nothing_applied(onec: OneC, data: bytes) -> None:
    _world(onec)
    run = onec.client().exchange({"bad.xml": data})
    answers = run.imports["bad.xml"]
    assert answers[-1].lines[0] == "failure" and len(answers[-1].lines) == 2
    with _in(onec):
        assert not Document.objects.exists()
        assert not Activity.objects.filter(kind="note").exists()
        entry = Exchange.objects.get(operation="accounting.import")
        assert entry.status == "failed" and entry.error


# --- isolation and permissions --------------------------------------------------------------------------------


def test_another_workspace_sees_and_changes_nothing(onec: OneC, other_workspace) -> None:
    ids = _world(onec)
    theirs = onec_for(other_workspace)
    # This workspace's address on the other's host: unknown there.
    stranger = theirs.client()
    stranger.path = onec.path
    assert stranger.checkauth().status == 404
    # Their own exchange sends none of this workspace's records and takes in nothing here.
    run = theirs.client().exchange({"orders.xml": commerceml(_documents(ids))})
    root = _xml(run.query.body)
    assert root.find("Контрагенты") is None
    assert run.imports["orders.xml"][-1].lines == ["success"]
    with _in(onec):
        assert not Document.objects.exists() and not Exchange.objects.filter(operation="accounting.import").exists()
    with tenant_context(other_workspace.tenant):
        entry = Exchange.objects.get(operation="accounting.import")
        assert entry.counts["failed"] == 3 and not Document.objects.exists()


def _person(onec: OneC, role: str, email: str):
    with _in(onec):
        user = user_create(email=email, password=USER_PASSWORD, full_name=email, role=builtin_role(role))
    connection.set_schema_to_public()
    return user


def test_the_setup_pages_need_the_manage_integrations_permission(onec: OneC) -> None:
    seller = onec.workspace.client(logged_in_as=_person(onec, SALES_MANAGER, "seller@example.com"))
    setup = f"/settings/integrations/accounting/{onec.connection.pk}/"
    assert seller.get(setup).status_code == 403
    with _in(onec):
        OutState.objects.create(connection=onec.connection, confirmed_until="2026-11-01T00:00:00Z")
    assert seller.post(setup + "resend/").status_code == 403
    with _in(onec):
        assert OutState.objects.get().confirmed_until is not None
    owner = onec.workspace.client(logged_in_as=onec.workspace.owner)
    page = owner.get(setup)
    assert page.status_code == 200 and onec.connection.token_hint in page.content.decode()
    assert owner.post(setup + "resend/").status_code == 302
    with _in(onec):
        assert OutState.objects.get().confirmed_until is None
    # Another kind's connection, or none, is a 404.
    assert owner.get("/settings/integrations/accounting/999999/").status_code == 404


def test_marking_for_invoicing_needs_the_right_to_edit_the_deal(onec: OneC) -> None:
    ids = _world(onec)
    url = f"/deals/{ids['deal']}/accounting/invoice/"
    reader = onec.workspace.client(logged_in_as=_person(onec, READ_ONLY, "reader@example.com"))
    assert reader.post(url).status_code == 403
    seller = onec.workspace.client(logged_in_as=_person(onec, SALES_MANAGER, "seller@example.com"))
    assert seller.post(url).status_code == 404  # a deal of someone else's: not visible
    assert seller.get(url).status_code == 405
    with _in(onec):
        assert not InvoiceRequest.objects.exists()
    owner = onec.workspace.client(logged_in_as=onec.workspace.owner)
    assert owner.post(url).status_code == 302
    card = owner.get(f"/deals/{ids['deal']}/").content.decode()
    assert 'data-testid="invoice-requested"' in card
    assert owner.post(url, {"off": "1"}).status_code == 302
    with _in(onec):
        assert not InvoiceRequest.objects.exists()
    assert owner.post("/deals/999999/accounting/invoice/").status_code == 404


def test_the_setup_url_reverses(onec: OneC) -> None:
    with _in(onec):
        assert reverse("accounting:setup", kwargs={"connection": onec.connection.pk}).endswith(
            f"/{onec.connection.pk}/"
        )


def test_the_card_panel_hides_amounts_from_a_role_that_may_not_see_them(onec: OneC) -> None:
    from tenants.accounts.models import Role
    from tenants.accounts.roles import SALES_HEAD, builtin_definitions

    ids = _world(onec)
    docs = [
        Doc("Выплата безналичных денег", "p-1", "ПП-9", "2026-11-30", "987654.00", "7701234567", order=str(ids["deal"]))
    ]
    onec.client().exchange({"orders.xml": commerceml(docs)})
    with _in(onec):
        role = Role.objects.create(
            name="No amounts", grants=builtin_definitions()[SALES_HEAD]["grants"], hidden_fields={"deal": ["amount"]}
        )
        person = user_create(email="head@example.com", password=USER_PASSWORD, full_name="Head", role=role)
    connection.set_schema_to_public()
    card = onec.workspace.client(logged_in_as=person).get(f"/deals/{ids['deal']}/").content.decode()
    assert "ПП-9" in card
    assert "987" not in card.replace(str(ids["deal"]), "")
