"""A fake 1C:Trade Management that exchanges with Kontor as with a website, the way 1C's "Обмен с сайтом" does:
HTTP Basic on checkauth, the session cookie it answered on every later call, init to learn the chunk size,
query and success for what the site sends, the file uploaded in chunks of that size (POST, appended), then
import called again and again while the answer is "progress".

It talks HTTP through a transport: Django's test client in-process by default (the same requests a real 1C
sends over the network), or any callable. The sample CommerceML documents below are written the way 1C writes
them: 2.05 with documents at the root, 2.10 with documents in Контейнер, in UTF-8 or windows-1251.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from django.test import Client


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


@dataclass
class OneCClient:
    client: Client
    path: str  # /integrations/in/accounting/<token>/exchange
    login: str
    password: str
    cookie: tuple[str, str] | None = None
    file_limit: int = 0
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def _call(self, method: str, params: dict[str, str], body: bytes = b"", *, auth: bool = False) -> Answer:
        url = self.path + "?" + "&".join(f"{k}={v}" for k, v in params.items())
        headers: dict[str, Any] = {}
        if auth:
            token = base64.b64encode(f"{self.login}:{self.password}".encode()).decode()
            headers["HTTP_AUTHORIZATION"] = f"Basic {token}"
        self.client.cookies.clear()
        if self.cookie is not None:
            self.client.cookies[self.cookie[0]] = self.cookie[1]
        if method == "POST":
            response = self.client.post(url, data=body, content_type="application/octet-stream", **headers)
        else:
            response = self.client.get(url, **headers)
        self.calls.append((method, params.get("mode", ""), response.status_code))
        return Answer(response.status_code, response.content, response.get("Content-Type", ""))

    def checkauth(self, kind: str = "sale") -> Answer:
        answer = self._call("GET", {"type": kind, "mode": "checkauth"}, auth=True)
        lines = answer.lines
        if answer.status == 200 and lines and lines[0] == "success":
            self.cookie = (lines[1], lines[2])
        return answer

    def init(self, kind: str = "sale") -> Answer:
        answer = self._call("GET", {"type": kind, "mode": "init"})
        for line in answer.lines:
            if line.startswith("file_limit="):
                self.file_limit = int(line.split("=", 1)[1])
        return answer

    def query(self) -> Answer:
        return self._call("GET", {"type": "sale", "mode": "query"})

    def success(self) -> Answer:
        return self._call("GET", {"type": "sale", "mode": "success"})

    def upload(self, name: str, data: bytes, *, kind: str = "sale", chunk: int | None = None) -> list[Answer]:
        size = chunk or self.file_limit or len(data) or 1
        answers = []
        for start in range(0, max(len(data), 1), size):
            answers.append(
                self._call("POST", {"type": kind, "mode": "file", "filename": name}, data[start : start + size])
            )
            if answers[-1].status != 200 or not answers[-1].text.startswith("success"):
                break
        return answers

    def import_until_done(self, name: str, *, kind: str = "sale", limit: int = 10_000) -> list[Answer]:
        answers = []
        for _ in range(limit):
            answer = self._call("GET", {"type": kind, "mode": "import", "filename": name})
            answers.append(answer)
            if answer.status != 200 or not answer.text.startswith("progress"):
                break
        return answers

    def exchange(self, files: dict[str, bytes] | None = None, *, confirm: bool = True) -> Exchange:
        """One full exchange of orders, as 1C runs it on schedule."""
        run = Exchange(auth=self.checkauth())
        if run.auth.status != 200:
            return run
        run.init = self.init()
        run.query = self.query()
        if confirm and run.query.status == 200:
            run.success = self.success()
        for name, data in (files or {}).items():
            run.uploads[name] = self.upload(name, data)
            run.imports[name] = self.import_until_done(name)
        return run


@dataclass
class Exchange:
    auth: Answer
    init: Answer | None = None
    query: Answer | None = None
    success: Answer | None = None
    uploads: dict[str, list[Answer]] = field(default_factory=dict)
    imports: dict[str, list[Answer]] = field(default_factory=dict)


# --- documents as 1C writes them --------------------------------------------------------------------------------


@dataclass
class Doc:
    operation: str  # "Счет на оплату", "Выплата безналичных денег", ...
    id: str
    number: str
    date: str
    amount: str
    tax_id: str
    order: str = ""  # the site's order number (the deal)
    currency: str = "руб"
    kpp: str = ""
    name: str = "ООО «Ромашка»"
    requisites: dict[str, str] = field(default_factory=dict)


def _document(doc: Doc) -> str:
    requisites = dict(doc.requisites)
    if doc.order:
        requisites.setdefault("Номер заказа на сайте", doc.order)
    values = "".join(
        f"<ЗначениеРеквизита><Наименование>{escape(k)}</Наименование><Значение>{escape(v)}</Значение></ЗначениеРеквизита>"
        for k, v in requisites.items()
    )
    party = (
        "<Контрагенты><Контрагент>"
        f"<Ид>1c-party-{escape(doc.tax_id)}</Ид><Наименование>{escape(doc.name)}</Наименование>"
        f"<ОфициальноеНаименование>{escape(doc.name)}</ОфициальноеНаименование>"
        + (f"<ИНН>{escape(doc.tax_id)}</ИНН>" if doc.tax_id else "")
        + (f"<КПП>{escape(doc.kpp)}</КПП>" if doc.kpp else "")
        + "<Роль>Покупатель</Роль></Контрагент></Контрагенты>"
    )
    return (
        "<Документ>"
        f"<Ид>{escape(doc.id)}</Ид>"
        + (f"<Номер>{escape(doc.number)}</Номер>" if doc.number else "")
        + f"<Дата>{escape(doc.date)}</Дата><ХозОперация>{escape(doc.operation)}</ХозОперация><Роль>Продавец</Роль>"
        f"<Валюта>{escape(doc.currency)}</Валюта><Курс>1</Курс><Сумма>{escape(doc.amount)}</Сумма>{party}"
        f"<Время>10:00:00</Время><ЗначенияРеквизитов>{values}</ЗначенияРеквизитов>"
        "</Документ>"
    )


def commerceml(
    docs: Iterable[Doc], *, version: str = "2.05", encoding: str = "utf-8", namespace: bool = False
) -> bytes:
    """A КоммерческаяИнформация with the documents: at the root (2.05, 2.08) or each in a Контейнер (2.10)."""
    parts = [_document(d) for d in docs]
    if version >= "2.10":
        parts = [f"<Контейнер>{p}</Контейнер>" for p in parts]
    xmlns = ' xmlns="urn:1C.ru:commerceml_2" xmlns:xs="http://www.w3.org/2001/XMLSchema"' if namespace else ""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<КоммерческаяИнформация{xmlns} ВерсияСхемы="{version}" ДатаФормирования="2026-12-01T10:00:00">'
        + "".join(parts)
        + "</КоммерческаяИнформация>"
    )
    return text.encode(encoding)


def payments(tax_ids: Iterable[str], *, start: int = 1, order: str = "", version: str = "2.05") -> bytes:
    """Bank payments, one per tax id (the bench's and the tests' many-records file)."""
    docs = [
        Doc(
            operation="Выплата безналичных денег",
            id=f"pay-{start + i}",
            number=f"П-{start + i:06d}",
            date="2026-11-30",
            amount=f"{1000 + i}.50",
            tax_id=tax_id,
            order=order,
            currency="RUB",
        )
        for i, tax_id in enumerate(tax_ids)
    ]
    return commerceml(docs, version=version)
