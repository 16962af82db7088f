"""Every page of a workspace and of the public site, walked with hostile input: no server error, ever.

Routes come from the URL resolvers (a new page is walked without being declared anywhere). The parameters each
view reads are discovered while it runs: every key it asks of `request.GET` or `request.POST` (directly or
through a form) is recorded, and the list pages' filters (custom fields included) come from their specs. Each
is then sent every hostile value, GET and POST, as the workspace's administrator: out-of-range and odd-offset
dates, non-numbers, NUL bytes, invalid UTF-8, huge strings and ids, unknown choices. No answer may be a 5xx,
and a POST that is refused (4xx, or the form shown again with errors) changes nothing in the database.

Every request runs in a savepoint rolled back afterwards, so each one sees the same records.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.core.signals import got_request_exception
from django.db import connection, transaction
from django.http import QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.customfields.models import CustomField
from crm.deals.models import Pipeline
from crm.web.lists import engine
from crm.web.lists.specs import SPECS
from tenants.accounts.models import Invitation, Role, Team
from tenants.accounts.roles import READ_ONLY, SALES_MANAGER, builtin_role
from tenants.accounts.services import api_key_create, user_create
from tests.conftest import PASSWORD, Workspace
from tests.factories import CompanyFactory, ContactFactory, DealFactory, LeadFactory, ProductFactory

pytestmark = pytest.mark.django_db

# Query string and form values. Bytes are sent as they are (invalid UTF-8: what a lone surrogate becomes).
HOSTILE: tuple[str | bytes, ...] = (
    "a\x00b",
    b"\xed\xa0\x80",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "2026-03-02T10:00:00+20:00",
    "-1",
    "99999999999999999999999",
    "1e999",
    "abc",
    "x" * 5000,
)
# Form values: fewer, each one a class of its own.
HOSTILE_POST: tuple[str | bytes, ...] = (
    "a\x00b",
    b"\xed\xa0\x80",
    "9999-12-31T23:59:59-14:00",
    "-99999999999999999999",
    "1e999",
    "NaN",
    "x" * 5000,
)
# A choice among options is checked against them first: a few values suffice.
HOSTILE_CHOICE: tuple[str | bytes, ...] = ("a\x00b", "99999999999999999999999", "x" * 5000)
# Path segments: ids beyond bigint, and for string segments NUL, invalid UTF-8 and a huge value.
HOSTILE_INT_SEGMENTS = ("0", "99999999999999999999999")
HOSTILE_STR_SEGMENTS = ("%00", "%ED%A0%80", "x" * 3000)
# Tables a request may touch without changing anything the user made.
UNWATCHED = ("django_session", "accounts_auditevent", "accounts_apikey", "axes_")
# GET is harmless, POST to these would end the session the walk runs in.
NO_POST = {"accounts:logout"}


# --- which keys a view reads -----------------------------------------------------------------------------------


@contextlib.contextmanager
def recording() -> Iterator[set[str]]:
    """Record every key read from any QueryDict (request.GET, request.POST) while inside."""
    keys: set[str] = set()

    with pytest.MonkeyPatch.context() as patch:
        for name in ("__getitem__", "get", "getlist", "__contains__"):
            original = getattr(QueryDict, name)

            def reading(self: QueryDict, key: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                if isinstance(key, str):
                    keys.add(key)
                return _original(self, key, *args, **kwargs)

            patch.setattr(QueryDict, name, reading)
        yield keys


# --- the world ------------------------------------------------------------------------------------------------


def _world(workspace: Workspace) -> dict[str, int]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from crm.files.services import attachment_create

    with tenant_context(workspace.tenant):
        owner = workspace.owner
        team = Team.objects.create(name="Walkers")
        colleague = user_create(
            email="walk@example.com", password=PASSWORD, full_name="Walker", role=builtin_role(SALES_MANAGER)
        )
        company = CompanyFactory(name="Walk Company", owner=owner, tags=["walk"])
        other = CompanyFactory(name="Walk Twin", owner=owner)
        contact = ContactFactory(last_name="Walkson", company=company, owner=owner)
        other_contact = ContactFactory(last_name="Walkson Twin", company=company, owner=owner)
        pipeline = Pipeline.objects.get(name="Sales")
        stages = list(pipeline.stages.order_by("position"))
        deal = DealFactory(title="Walk deal", company=company, owner=owner, pipeline=pipeline, stage=stages[0])
        lead = LeadFactory(title="Walk lead", owner=owner)
        product = ProductFactory(name="Walk product")
        activity = Activity.objects.create(subject="Walk call", assignee=owner, created_by=owner, company=company)
        fields = {}
        for record_type in ("company", "deal"):
            for position, kind in enumerate(CustomField.Type):
                choices = ["One", "Two"] if kind in (CustomField.Type.CHOICE, CustomField.Type.MULTI_CHOICE) else []
                cf = CustomField.objects.create(
                    record_type=record_type,
                    key=f"walk_{kind}",
                    label=f"Walk {kind}",
                    field_type=kind,
                    choices=choices,
                    position=position,
                    show_in_list=True,
                )
                fields[f"cf:{record_type}"] = cf.pk
        files = {}
        for kind, parent in (("company", company), ("contact", contact), ("deal", deal), ("lead", lead)):
            upload = SimpleUploadedFile("walk.txt", b"walk", content_type="text/plain")
            files[kind] = attachment_create(actor=owner, record=parent, upload=upload).pk
        role = Role.objects.create(name="Walk role")
        invitation = Invitation.objects.create(
            email="walk-invite@example.com",
            role=builtin_role(READ_ONLY),
            expires_at=company.created_at + __import__("datetime").timedelta(days=3),
        )
        key = api_key_create(actor=owner, name="walk").key
        ids = {
            "company": company.pk,
            "contact": contact.pk,
            "deal": deal.pk,
            "lead": lead.pk,
            "product": product.pk,
            "activity": activity.pk,
            "other:company": other.pk,
            "other:contact": other_contact.pk,
            "pipeline": pipeline.pk,
            "stage": stages[0].pk,
            "stage2": stages[1].pk,
            "field": fields["cf:company"],
            "user": colleague.pk,
            "team": team.pk,
            "role": role.pk,
            "invitation": invitation.pk,
            "key": key.pk,
            **{f"file:{k}": v for k, v in files.items()},
        }
    connection.set_schema_to_public()
    return ids


NAMESPACE_KINDS = {
    "companies": "company",
    "contacts": "contact",
    "deals": "deal",
    "leads": "lead",
    "products": "product",
    "activities": "activity",
}


def _valid_segment(name: str, route: str, keyword: str, ids: dict[str, int]) -> str:
    namespace = name.split(":")[0]
    if keyword == "file_pk":
        return str(ids[f"file:{NAMESPACE_KINDS[namespace]}"])
    if keyword == "stage_id":
        return str(ids["stage"])
    if namespace in NAMESPACE_KINDS:
        return str(ids[NAMESPACE_KINDS[namespace]])
    if namespace == "settings":
        if "custom-fields" in route:
            return str(ids["field"])
        return str(ids["pipeline"] if route.startswith("settings/pipelines/") else ids["stage2"])
    if namespace == "manage":
        for part, key in (("users/", "user"), ("invitations/", "invitation"), ("roles/", "role"), ("teams/", "team")):
            if f"{part}<int:pk>" in route:
                return str(ids[key])
    if namespace == "accounts" and "api-keys" in route:
        return str(ids["key"])
    return "walk"


def _routes(urlconf: str) -> Iterator[tuple[str, str, URLPattern]]:
    def walk(patterns: list[Any], prefix: str, ns: str) -> Iterator[tuple[str, str, URLPattern]]:
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern), f"{ns}{p.namespace}:" if p.namespace else ns)
            else:
                yield f"{ns}{p.name}", prefix + str(p.pattern), p

    yield from walk(get_resolver(urlconf).url_patterns, "", "")


def _urls(name: str, route: str, pattern: URLPattern, ids: dict[str, int]) -> tuple[str, list[str]]:
    """The route with valid segments, and with each segment hostile in turn."""
    converters = pattern.pattern.converters

    def build(values: dict[str, str]) -> str:
        url = "/" + route
        for keyword, converter in converters.items():
            kind = {"IntConverter": "int", "StringConverter": "str", "SlugConverter": "slug", "PathConverter": "path"}
            tag = f"<{kind.get(type(converter).__name__, 'str')}:{keyword}>"
            url = url.replace(tag, values[keyword]).replace(f"<{keyword}>", values[keyword])
        return url

    valid = {keyword: _valid_segment(name, route, keyword, ids) for keyword in converters}
    hostile = []
    for keyword, converter in converters.items():
        segments = HOSTILE_INT_SEGMENTS if type(converter).__name__ == "IntConverter" else HOSTILE_STR_SEGMENTS
        hostile += [build({**valid, keyword: segment}) for segment in segments]
    return build(valid), hostile


# --- sending ----------------------------------------------------------------------------------------------------


def _writes() -> dict[str, int]:
    """Rows inserted, updated or deleted so far in this transaction, per table of the current schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
            "WHERE schemaname = current_schema()"
        )
        return {table: count for table, count in cursor.fetchall() if not table.startswith(UNWATCHED) and count}


def _snapshot() -> dict[str, str]:
    """A digest of every table of the current schema that a refused request must leave alone."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        tables = [t for (t,) in cursor.fetchall() if not t.startswith(UNWATCHED)]
        digests = {}
        for table in tables:
            cursor.execute(f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t")
            digests[table] = cursor.fetchone()[0]
    return digests


def _encode(pairs: list[tuple[str, str | bytes]]) -> str:
    return urlencode([(k, v) for k, v in pairs], quote_via=quote)


def _refused(response: Any) -> bool:
    if response.status_code >= 400:
        return True
    if response.status_code != 200 or response.context is None:
        return False
    contexts = response.context if isinstance(response.context, list) else [response.context]
    for context in contexts:
        for value in context.flatten().values():
            if getattr(value, "is_bound", False) and getattr(value, "errors", None):
                return True
    return False


class Walker:
    def __init__(self, client: Client, tenant: Any) -> None:
        # A server error is a failure to report, not an exception to stop at: the walk goes on.
        client.raise_request_exception = False
        self.client = client
        self.tenant = tenant
        self.errors: list[str] = []
        got_request_exception.connect(self._error, weak=False, dispatch_uid="hostile-walk")
        # Every request is rolled back, so the database is the same before each one.
        self.before: dict[str, str] = {}
        if tenant is not None:
            with tenant_context(tenant):
                self.before = _snapshot()
            connection.set_schema_to_public()
        self.failures: list[str] = []
        self.sent = 0
        self.walked: dict[str, set[str]] = {}  # route name -> the parameters and fields it was sent

    def _error(self, sender: Any, request: Any = None, **kwargs: Any) -> None:
        kind, value, tb = sys.exc_info()
        where = traceback.extract_tb(tb)[-1] if tb is not None else None
        ours = [f for f in traceback.extract_tb(tb) if "/.venv/" not in f.filename] if tb is not None else []
        frame = ours[-1] if ours else where
        at = f" at {frame.filename}:{frame.lineno}" if frame else ""
        self.errors.append(f"{getattr(kind, '__name__', kind)}: {str(value)[:120]}{at}")

    def close(self) -> None:
        got_request_exception.disconnect(dispatch_uid="hostile-walk")

    def send(self, method: str, url: str, pairs: list[tuple[str, str | bytes]] | None = None) -> tuple[Any, set[str]]:
        """One request in a rolled-back savepoint; returns the response and the keys the view read."""
        self.sent += 1
        with transaction.atomic(), recording() as keys:
            if self.tenant is not None:
                with tenant_context(self.tenant):
                    before = _writes()
                connection.set_schema_to_public()
            if method == "GET":
                query = _encode(pairs or [])
                response = self.client.get(url + ("?" + query if query else ""))
            else:
                response = self.client.generic(
                    "POST", url, _encode(pairs or []), content_type="application/x-www-form-urlencoded"
                )
            if getattr(response, "streaming", False):
                b"".join(response.streaming_content)
            where = f"{method} {url} {str(pairs)[:200]}"
            if response.status_code >= 500:
                error = self.errors[-1] if self.errors else ""
                self.failures.append(f"{where}: {response.status_code} {error}")
            elif method == "POST" and self.tenant is not None and _refused(response):
                with tenant_context(self.tenant):
                    # The write counters are cheap but count writes a savepoint undid: the digest decides.
                    if _writes() != before and _snapshot() != self.before:
                        self.failures.append(f"{where}: refused ({response.status_code}) but the database changed")
            transaction.set_rollback(True)
        connection.set_schema_to_public()
        return response, set(keys)


def _form_data(response: Any) -> tuple[list[tuple[str, str]], set[str]]:
    """The values the page's forms would send as shown (their initial values), as a valid-looking baseline, and
    the names of the fields that are a choice among options."""
    pairs: list[tuple[str, str]] = []
    choices: set[str] = set()
    if response.context is None:
        return pairs, choices
    contexts = response.context if isinstance(response.context, list) else [response.context]
    seen = set()
    for context in contexts:
        for value in context.flatten().values():
            forms = []
            if hasattr(value, "management_form"):
                forms = [value.management_form, *value.forms]
            elif hasattr(value, "fields") and hasattr(value, "add_prefix") and hasattr(value, "is_bound"):
                forms = [value]
            for form in forms:
                if id(form) in seen:
                    continue
                seen.add(id(form))
                for bound in form:
                    is_file = getattr(bound.field.widget, "input_type", "") == "file"
                    if bound.html_name in {k for k, _ in pairs} or is_file:
                        continue
                    if hasattr(bound.field, "choices"):
                        choices.add(bound.html_name)
                    initial = bound.value()
                    for item in initial if isinstance(initial, list | tuple) else [initial]:
                        if item not in (None, False):
                            pairs.append((bound.html_name, "on" if item is True else str(item)))
    return pairs, choices


def _list_keys(name: str) -> set[str]:
    """The parameters a list page reads: its filters (custom fields too), the search, the sort and the page."""
    namespace, _, view = name.partition(":")
    if view not in ("list", "export", "bulk") or namespace not in SPECS:
        return set()
    spec = SPECS[namespace]
    keys = {"q", "sort", "page"} | {f.key for f in spec.filters}
    from crm.customfields.selectors import custom_fields_for

    keys |= {engine.CUSTOM_PREFIX + cf.key for cf in custom_fields_for(spec.record_type)}
    return keys


def _walk(walker: Walker, routes: list[tuple[str, str, URLPattern]], ids: dict[str, int], tenant: Any) -> None:
    for name, route, pattern in routes:
        if name.startswith("api:") and name not in ("api:openapi-json", "api:openapi-view"):
            continue  # the API's operations are walked from its document by the API's own tests
        url, hostile_urls = _urls(name, route, pattern, ids)
        for hostile_url in hostile_urls:
            walker.send("GET", hostile_url)
            if name not in NO_POST:
                walker.send("POST", hostile_url)
        response, get_keys = walker.send("GET", url)
        if tenant is not None:
            with tenant_context(tenant):
                get_keys |= _list_keys(name)
            connection.set_schema_to_public()
        walker.walked[name] = set(get_keys)
        baseline, choice_fields = _form_data(response)
        if response.status_code != 405:  # a POST-only route reads nothing of a GET
            for key in sorted(get_keys):
                for value in HOSTILE:
                    walker.send("GET", url, [(key, value)])
        if name in NO_POST:
            continue
        response, post_keys = walker.send("POST", url, baseline)
        if response.status_code == 405:
            continue
        post_keys |= {k for k, _ in baseline}
        walker.walked[name] |= post_keys
        for key in sorted(post_keys):
            rest = [(k, v) for k, v in baseline if k != key]
            for value in HOSTILE_CHOICE if key in choice_fields else HOSTILE_POST:
                walker.send("POST", url, [*rest, (key, value)])


def test_no_workspace_page_answers_a_server_error(workspace) -> None:
    ids = _world(workspace)
    client = workspace.client(logged_in_as=workspace.owner)
    walker = Walker(client, workspace.tenant)
    routes = list(_routes("platform_core.urls_tenant"))
    try:
        _walk(walker, routes, ids, workspace.tenant)
    finally:
        walker.close()
    assert walker.sent > 3000
    # The parameters were found by watching the views read them, and from the list specs and the forms.
    for name, keys in {
        "calendar:week": {"date", "user"},
        "deals:board": {"pipeline", "owner"},
        "companies:list": {"q", "tag", "sort", "page", "cf_walk_text", "cf_walk_date"},
        "companies:merge": {"q", "other", "keep"},
        "companies:create": {"name", "notes", "tags", "cf_walk_text", "cf_walk_money_0"},
        "companies:file_upload": {"file-clear"},
        "deals:line_items": {"items-0-name", "items-TOTAL_FORMS"},
        "activities:done": {"next", "result"},
        "manage:audit": {"date_from", "date_to", "q"},
    }.items():
        assert keys <= walker.walked[name], (name, keys - walker.walked[name])
    assert not walker.failures, f"{len(walker.failures)} failures:\n" + "\n".join(walker.failures[:400])


def test_no_public_page_answers_a_server_error(public_client) -> None:
    walker = Walker(public_client, None)
    routes = list(_routes("platform_core.urls_public"))
    try:
        _walk(walker, routes, {}, None)
    finally:
        walker.close()
    assert walker.sent > 50
    assert not walker.failures, f"{len(walker.failures)} failures:\n" + "\n".join(walker.failures[:400])
