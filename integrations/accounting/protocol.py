"""1C's "exchange with a website" protocol, as 1C:Trade Management and 1C:Accounting speak it:

    GET  exchange?type=sale&mode=checkauth        (HTTP Basic)  -> success\\n<cookie name>\\n<cookie value>
    GET  exchange?type=sale&mode=init             (the cookie)  -> zip=no\\nfile_limit=<bytes>
    GET  exchange?type=sale&mode=query                          -> CommerceML: what goes to 1C
    GET  exchange?type=sale&mode=success                        -> success (1C took it: the watermark moves)
    POST exchange?type=sale&mode=file&filename=N  (body: a chunk, appended) -> success
    GET  exchange?type=sale&mode=import&filename=N              -> progress | success | failure\\n<reason>

type=catalog is answered for checkauth and init (1C's catalog exchange may be switched on) but takes no file:
products go from Kontor to 1C, never back. Calls after checkauth carry its cookie (or Basic credentials again).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from integrations.accounting import services
from integrations.core.inbound import body_read, request_summary
from integrations.core.models import Connection, Exchange
from integrations.core.services import exchange_close, exchange_open

COOKIE = "kontor_1c"
TYPES = ("catalog", "sale")
MODES = ("checkauth", "init", "file", "import", "query", "success")


@dataclass(frozen=True)
class Answer:
    body: bytes
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


def _text(*lines: str, status: int = 200) -> Answer:
    return Answer(("\n".join(lines) + "\n").encode(), status=status)


def _failure(reason: str, *, status: int = 200) -> Answer:
    # 1C shows what follows "failure" to its administrator; one line.
    return _text("failure", " ".join(reason.split()), status=status)


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "basic" or not value or len(value) > 1024:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    # 1C encodes the credentials in UTF-8 (older platforms in windows-1251).
    try:
        text = decoded.decode()
    except UnicodeDecodeError:
        text = decoded.decode("cp1251", errors="replace")
    login, sep, password = text.partition(":")
    return (login, password) if sep and "\x00" not in text else None


def _signed_in(conn: Connection, request: HttpRequest) -> tuple[bool, services.ExchangeSession | None]:
    session = services.session_find(conn, request.COOKIES.get(COOKIE, ""))
    if session is not None:
        return True, session
    credentials = basic_credentials(request)
    signed = credentials is not None and services.credentials_match(conn, login=credentials[0], password=credentials[1])
    return signed, None


def handle(conn: Connection, request: HttpRequest) -> Answer:
    """Answer one call of 1C's protocol; every call but the import's batches is an entry of the connection's
    log (an import run is one entry, kept up to date by each batch)."""
    kind, mode = request.GET.get("type", ""), request.GET.get("mode", "")
    if kind not in TYPES or mode not in MODES:
        return _logged(conn, request, "accounting.call", _failure(_("Unknown type or mode."), status=400))
    operation = f"accounting.{kind}.{mode}"
    if mode == "checkauth":
        credentials = basic_credentials(request)
        if credentials is None or not services.credentials_match(conn, login=credentials[0], password=credentials[1]):
            return _logged(conn, request, operation, _failure(_("Wrong login or password."), status=401))
        services.files_prune(conn)
        return _logged(conn, request, operation, _text("success", COOKIE, services.session_open(conn)))
    signed, session = _signed_in(conn, request)
    if not signed:
        return _logged(conn, request, operation, _failure(_("Sign in first (checkauth)."), status=401))
    if mode == "init":
        return _logged(
            conn, request, operation, _text("zip=no", f"file_limit={settings.INTEGRATIONS_ACCOUNTING_FILE_LIMIT}")
        )
    if kind == "catalog":
        return _logged(
            conn, request, operation, _failure(_("Kontor takes no catalog from 1C: products go from Kontor to 1C."))
        )
    if mode == "file":
        if request.method != "POST":
            return _logged(conn, request, operation, _failure(_("Upload a file with POST."), status=405))
        body = body_read(request, limit=settings.INTEGRATIONS_ACCOUNTING_FILE_LIMIT)
        try:
            stored = services.file_store(conn, name=request.GET.get("filename", ""), chunk=body, session=session)
        except services.Refused as exc:
            return _logged(conn, request, operation, _failure(str(exc), status=400))
        return _logged(
            conn, request, operation, _text("success"), counts={"bytes": len(body), "file_bytes": stored.size}
        )
    if mode == "import":
        try:
            step = services.import_step(conn, name=request.GET.get("filename", ""))
        except services.Refused as exc:
            return _logged(conn, request, operation, _failure(str(exc), status=400))
        if step.status == "failure":
            answer = _failure(step.message)
            return answer if step.run is not None else _logged(conn, request, operation, answer)
        return _text(step.status, step.message) if step.message else _text(step.status)
    if mode == "query":
        outgoing = services.out_query(conn)
        answer = Answer(outgoing.body, content_type=f"application/xml; charset={outgoing.encoding}")
        return _logged(conn, request, operation, answer, counts=outgoing.counts)
    confirmed = services.out_confirm(conn)
    return _logged(conn, request, operation, _text("success"), counts={"confirmed": int(confirmed)})


def _logged(
    conn: Connection, request: HttpRequest, operation: str, answer: Answer, *, counts: dict[str, int] | None = None
) -> Answer:
    entry = exchange_open(
        conn, direction=Exchange.Direction.INBOUND, operation=operation, request=request_summary(request)
    )
    failed = answer.status >= 400 or answer.body.startswith(b"failure")
    is_text = answer.content_type.startswith("text/")
    exchange_close(
        entry,
        status=Exchange.Status.REFUSED if failed else Exchange.Status.OK,
        counts=counts,
        error=answer.body.decode(errors="replace").partition("\n")[2].strip() if failed else "",
        response={
            "status": answer.status,
            "bytes": len(answer.body),
            **(
                {"text": answer.body[:200].decode(errors="replace")} if is_text and "checkauth" not in operation else {}
            ),
        },
    )
    return answer
