"""CommerceML 2 (2.05 to 2.10), the XML of 1C's "exchange with a website": reading the documents 1C sends and
writing the one Kontor answers to `type=sale&mode=query`.

Reading goes through defusedxml only, with DTDs refused: no entity expansion (XML bombs), no external entity or
DTD is ever fetched. The encoding is the one the XML declaration names (1C sends windows-1251 or UTF-8).
Element names are compared without their namespace (1C writes some files with urn:1C.ru:commerceml_2, some
without). Values are kept as text here: a record's values are checked one record at a time where it is
applied, so that one bad record is reported and skipped without failing the file."""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

# ХозОперация values that are invoices and incoming payments (CommerceML 2's enumeration, plus the names of
# the 1C documents that some configurations write there).
INVOICE_OPERATIONS = frozenset({"счет на оплату", "счет", "счет покупателю"})
PAYMENT_OPERATIONS = frozenset(
    {
        "выплата безналичных денег",
        "выплата наличных денег",
        "оплата",
        "платежное поручение",
        "платежное поручение входящее",
        "поступление безналичных денежных средств",
        "эквайринговая операция",
    }
)
ORDER_OPERATION = "заказ товара"
# Where 1C names the order (Kontor's deal) a document was made from.
ORDER_REFERENCES = ("номер заказа на сайте", "номер заказа", "номер по данным сайта", "заказ", "основание")
# The payment an order came back with (1C's standard answer to a site's order).
PAYMENT_NUMBER = "номер оплаты по 1с"
PAYMENT_DATE = "дата оплаты по 1с"
BUYER_ROLES = ("покупатель", "плательщик")


class MalformedFile(ValueError):
    """The file is not a CommerceML document Kontor can read (str(): why)."""


@dataclass
class InRecord:
    """One invoice or payment as 1C wrote it (text, checked when applied)."""

    kind: str  # "invoice" or "payment"
    onec_id: str
    number: str
    date: str
    amount: str
    currency: str
    tax_id: str
    kpp: str
    counterparty: str
    order_ref: str
    index: int = 0

    @property
    def label(self) -> str:
        return f"{self.kind} {self.number or self.onec_id or '#' + str(self.index + 1)}"


def _local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[-1] if text.startswith("{") else text


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (child for child in element if _local(child.tag) == name)


def _text(element: ET.Element | None, name: str) -> str:
    found = _child(element, name) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _requisites(document: ET.Element) -> dict[str, str]:
    values = {}
    holder = _child(document, "ЗначенияРеквизитов")
    if holder is not None:
        for item in _children(holder, "ЗначениеРеквизита"):
            values[_text(item, "Наименование").lower()] = _text(item, "Значение")
    return values


def _buyer(document: ET.Element) -> ET.Element | None:
    holder = _child(document, "Контрагенты")
    parties = list(_children(holder, "Контрагент")) if holder is not None else []
    for party in parties:
        if _text(party, "Роль").lower() in BUYER_ROLES:
            return party
    return parties[0] if parties else None


def parse(data: bytes) -> ET.Element:
    """The root of a CommerceML document; MalformedFile for anything else (a DTD or entity included)."""
    if not data.strip():
        raise MalformedFile("the file is empty")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise MalformedFile(f"refused: {type(exc).__name__} (DTDs and entities are not accepted)") from exc
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise MalformedFile(f"not well-formed XML: {exc}") from exc
    if _local(root.tag) != "КоммерческаяИнформация":
        raise MalformedFile(f"the root element is {_local(root.tag)!r}, not КоммерческаяИнформация")
    return root


def documents(root: ET.Element) -> Iterator[ET.Element]:
    """The documents at the root (2.05-2.08) and in containers (2.10's Контейнер)."""
    for child in root:
        name = _local(child.tag)
        if name == "Документ":
            yield child
        elif name == "Контейнер":
            yield from _children(child, "Документ")


def records(root: ET.Element) -> list[InRecord]:
    """The invoices and payments of the document, in file order (other documents are not Kontor's to take)."""
    found: list[InRecord] = []
    for document in documents(root):
        operation = _text(document, "ХозОперация").lower().replace("ё", "е")
        requisites = _requisites(document)
        buyer = _buyer(document)
        base = {
            "onec_id": _text(document, "Ид"),
            "number": _text(document, "Номер"),
            "date": _text(document, "Дата"),
            "amount": _text(document, "Сумма"),
            "currency": _text(document, "Валюта"),
            "tax_id": _text(buyer, "ИНН"),
            "kpp": _text(buyer, "КПП"),
            "counterparty": _text(buyer, "ОфициальноеНаименование") or _text(buyer, "Наименование"),
            "order_ref": _text(document, "Основание")
            or next((requisites[k] for k in ORDER_REFERENCES if requisites.get(k)), ""),
        }
        if operation in INVOICE_OPERATIONS:
            found.append(InRecord(kind="invoice", index=len(found), **base))
        elif operation in PAYMENT_OPERATIONS:
            found.append(InRecord(kind="payment", index=len(found), **base))
        elif operation == ORDER_OPERATION and requisites.get(PAYMENT_NUMBER):
            # An order coming back paid: the payment is 1C's, the order is the deal.
            number = requisites[PAYMENT_NUMBER]
            paid = {
                **base,
                "onec_id": f"{base['onec_id'] or base['number']}/payment/{number}",
                "number": number,
                "date": requisites.get(PAYMENT_DATE, "") or base["date"],
                "order_ref": base["number"] or base["onec_id"],
            }
            found.append(InRecord(kind="payment", index=len(found), **paid))
    return found


# --- values --------------------------------------------------------------------------------------------------

# 1C writes a currency as ISO 4217 letters, its numeric code, or (older configurations) the ruble's short name.
_CURRENCY_ALIASES = {
    "руб": "RUB",
    "руб.": "RUB",
    "rur": "RUB",
    "643": "RUB",
    "840": "USD",
    "978": "EUR",
    "826": "GBP",
    "156": "CNY",
    "398": "KZT",
    "933": "BYN",
    "980": "UAH",
}


def currency_of(value: str, *, default: str, known: Iterable[str]) -> str | None:
    """The ISO 4217 code, `default` when blank, None when not one Kontor knows."""
    value = value.strip()
    if not value:
        return default
    code = _CURRENCY_ALIASES.get(value.lower(), value.upper())
    return code if code in set(known) else None


def amount_of(value: str) -> Decimal | None:
    """A non-negative amount with at most 2 decimals that fits 14 digits before them; None otherwise."""
    cleaned = re.sub(r"[\s\u00a0]", "", value).replace(",", ".")
    if not cleaned or len(cleaned) > 24 or not re.fullmatch(r"\d+(\.\d+)?", cleaned):
        return None
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return None
    if amount != amount.quantize(Decimal("0.01")) or amount >= Decimal("1e14"):
        return None
    return amount.quantize(Decimal("0.01"))


def date_of(value: str) -> datetime.date | None:
    value = value.strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.datetime.strptime(value[:10], pattern).date()
        except ValueError:
            continue
    return None


# --- writing ---------------------------------------------------------------------------------------------------


@dataclass
class OutParty:
    id: str
    name: str
    legal_name: str
    tax_id: str
    kpp: str
    address: str
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


@dataclass
class OutLine:
    id: str
    sku: str
    name: str
    unit: str
    price: Decimal
    quantity: Decimal
    discount: Decimal
    vat_rate: Decimal
    vat: Decimal
    total: Decimal


@dataclass
class OutProduct:
    id: str
    sku: str
    name: str
    unit: str
    vat_rate: Decimal
    description: str


@dataclass
class OutOrder:
    id: str
    number: str
    date: datetime.datetime
    currency: str
    amount: Decimal
    party: OutParty
    lines: list[OutLine]
    comment: str


# Kontor's units and their codes in the Russian classifier of units (ОКЕИ) that 1C matches by.
_UNITS = {"pcs": ("796", "шт", "Штука", "PCE"), "шт": ("796", "шт", "Штука", "PCE")}


def _add(parent: ET.Element, name: str, text: object = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, name, attributes)
    if text is not None:
        element.text = str(text)
    return element


def _unit(parent: ET.Element, unit: str) -> None:
    code = _UNITS.get(unit.lower())
    if code is None:
        _add(parent, "БазоваяЕдиница", unit or "шт")
    else:
        _add(
            parent, "БазоваяЕдиница", code[1], Код=code[0], НаименованиеПолное=code[2], МеждународноеСокращение=code[3]
        )


def _party(parent: ET.Element, party: OutParty) -> None:
    element = _add(parent, "Контрагент")
    _add(element, "Ид", party.id)
    _add(element, "Наименование", party.name)
    _add(element, "Роль", "Покупатель")
    _add(element, "ПолноеНаименование", party.legal_name or party.name)
    _add(element, "ОфициальноеНаименование", party.legal_name or party.name)
    if party.tax_id:
        _add(element, "ИНН", party.tax_id)
    if party.kpp:
        _add(element, "КПП", party.kpp)
    if party.address:
        address = _add(element, "ЮридическийАдрес")
        _add(address, "Представление", party.address)
    contacts = [("Телефон рабочий", p) for p in party.phones] + [("Почта", e) for e in party.emails]
    if contacts:
        holder = _add(element, "Контакты")
        for kind, value in contacts:
            contact = _add(holder, "Контакт")
            _add(contact, "Тип", kind)
            _add(contact, "Значение", value)


def _vat(parent: ET.Element, rate: Decimal) -> None:
    rates = _add(parent, "СтавкиНалогов")
    item = _add(rates, "СтавкаНалога")
    _add(item, "Наименование", "НДС")
    _add(item, "Ставка", f"{rate.normalize():f}" if rate else "Без НДС")


def _kind_requisites(parent: ET.Element) -> None:
    holder = _add(parent, "ЗначенияРеквизитов")
    for name in ("ВидНоменклатуры", "ТипНоменклатуры"):
        item = _add(holder, "ЗначениеРеквизита")
        _add(item, "Наименование", name)
        _add(item, "Значение", "Товар")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def sale_query(
    *,
    parties: Iterable[OutParty],
    products: Iterable[OutProduct],
    orders: Iterable[OutOrder],
    version: str,
    encoding: str,
    generated: datetime.datetime,
    catalog_id: str,
) -> bytes:
    """The answer to `type=sale&mode=query`: the counterparties and products that changed (a Контрагенты list
    and a Каталог holding only changes), then each deal marked for invoicing as an order with its counterparty
    and lines in full, which is what 1C's standard exchange loads."""
    root = ET.Element(
        "КоммерческаяИнформация",
        {"ВерсияСхемы": version, "ДатаФормирования": generated.strftime("%Y-%m-%dT%H:%M:%S")},
    )
    party_list = list(parties)
    if party_list:
        holder = _add(root, "Контрагенты")
        for party in party_list:
            _party(holder, party)
    product_list = list(products)
    if product_list:
        catalog = _add(root, "Каталог", СодержитТолькоИзменения="true")
        _add(catalog, "Ид", catalog_id)
        _add(catalog, "ИдКлассификатора", catalog_id)
        _add(catalog, "Наименование", "Kontor")
        goods = _add(catalog, "Товары")
        for product in product_list:
            item = _add(goods, "Товар")
            _add(item, "Ид", product.id)
            _add(item, "Артикул", product.sku)
            _add(item, "Наименование", product.name)
            _unit(item, product.unit)
            if product.description:
                _add(item, "Описание", product.description)
            _vat(item, product.vat_rate)
            _kind_requisites(item)
    for order in orders:
        parent = _add(root, "Контейнер") if version >= "2.10" else root
        document = _add(parent, "Документ")
        _add(document, "Ид", order.id)
        _add(document, "Номер", order.number)
        _add(document, "Дата", order.date.strftime("%Y-%m-%d"))
        _add(document, "ХозОперация", "Заказ товара")
        _add(document, "Роль", "Продавец")
        _add(document, "Валюта", order.currency)
        _add(document, "Курс", "1")
        _add(document, "Сумма", _money(order.amount))
        parties_of = _add(document, "Контрагенты")
        _party(parties_of, order.party)
        _add(document, "Время", order.date.strftime("%H:%M:%S"))
        if order.comment:
            _add(document, "Комментарий", order.comment)
        goods = _add(document, "Товары")
        for line in order.lines:
            item = _add(goods, "Товар")
            _add(item, "Ид", line.id)
            if line.sku:
                _add(item, "Артикул", line.sku)
            _add(item, "Наименование", line.name)
            _unit(item, line.unit)
            _add(item, "ЦенаЗаЕдиницу", _money(line.price))
            _add(item, "Количество", f"{line.quantity.normalize():f}")
            _add(item, "Сумма", _money(line.total))
            if line.discount:
                discounts = _add(item, "Скидки")
                discount = _add(discounts, "Скидка")
                _add(discount, "Сумма", _money(line.discount))
                _add(discount, "УчтеноВСумме", "true")
            _vat(item, line.vat_rate)
            if line.vat:
                taxes = _add(item, "Налоги")
                tax = _add(taxes, "Налог")
                _add(tax, "Наименование", "НДС")
                _add(tax, "УчтеноВСумме", "true")
                _add(tax, "Сумма", _money(line.vat))
            _kind_requisites(item)
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>\n'
    return (declaration + body).encode(encoding, errors="xmlcharrefreplace")
