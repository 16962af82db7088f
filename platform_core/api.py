"""The workspace REST API (django-ninja) at /api/v1/: OpenAPI 3 at /api/v1/openapi.json, docs at /api/v1/docs.

Routers live in each app's api.py and are added here, with the authentication (session + CSRF, or a personal
API key as a Bearer token), the error bodies every endpoint shares, and the OpenAPI document of the workspace
(which describes its own custom fields).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as InputError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser
from ninja.renderers import BaseRenderer
from ninja.security import HttpBearer, django_auth

from crm.core.api import (
    CUSTOM_FIELD_SCHEMAS,
    CUSTOM_FILTER_PATHS,
    CUSTOM_FILTER_PREFIX,
    HIDDEN_NOTE,
    HIDING_SCHEMAS,
    ConflictOut,
    ErrorOut,
    custom_fields_json_schema,
    custom_filter_json_schema,
    hidden_keys,
)
from crm.core.api_access import enforce
from crm.core.rows import json_bytes
from crm.core.services import StaleVersion
from crm.core.types import CORE_RECORD_TYPES, RecordType
from crm.customfields.models import CustomField
from crm.customfields.selectors import custom_fields_all
from tenants.access import WorkspaceReadOnly
from tenants.accounts.models import User
from tenants.accounts.services import api_key_authenticate


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`; no CSRF token needed, since the browser never sends it by itself."""

    def authenticate(self, request: HttpRequest, token: str) -> User:
        user = api_key_authenticate(token)
        if user is None:
            # A bad key is refused outright, even if the request also carries a session cookie.
            raise AuthenticationError
        request.user = user
        return user


def _signed_in(request: HttpRequest) -> bool:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return api_key_authenticate(header[7:]) is not None
    return bool(request.user.is_authenticated and request.user.is_active)


def _members_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The document names the workspace's custom fields, so only its members may read it."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if _signed_in(request):
            return view(request, *args, **kwargs)
        if request.path.endswith(".json"):
            return JsonResponse({"detail": "Unauthorized"}, status=401)
        return redirect_to_login(request.get_full_path())

    return wrapper


_ERROR = {"$ref": "#/components/schemas/ErrorOut"}
_COMMON_ERRORS = {
    "401": "Not signed in, or the API key is unknown or revoked.",
    "403": "Not allowed (or the CSRF token is missing from a session request).",
    "404": "No such record in this workspace.",
    "422": "Invalid input (or a body that is not JSON); `errors` names each bad field.",
}


class JsonParser(Parser):
    """Marks a request whose body is not JSON, so that it is answered 422 like any other bad input, not 400."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return super().parse_body(request)
        except Exception:
            request.unparsable_body = True  # type: ignore[attr-defined]
            raise


class FastJSONRenderer(BaseRenderer):
    """django-ninja's JSON, written by orjson (crm.core.rows.json_bytes): same values, a fraction of the time."""

    media_type = "application/json"

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> bytes:
        return json_bytes(data)


class KontorAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        _describe_errors(schema)
        _describe_custom_fields(schema, path_prefix if path_prefix is not None else self.get_root_path({}))
        _describe_hidden_fields(schema)
        return schema


def _takes_version(schema: OpenAPISchema, operation: dict[str, Any]) -> bool:
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    name = str(body.get("$ref", "")).rsplit("/", 1)[-1]
    return "version" in schema["components"]["schemas"].get(name, {}).get("properties", {})


def _describe_errors(schema: OpenAPISchema) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    components["ConflictOut"] = ConflictOut.model_json_schema(ref_template="#/components/schemas/{model}")
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            responses = operation.setdefault("responses", {})
            for code, description in _COMMON_ERRORS.items():
                responses.setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": _ERROR}}}
                )
            if _takes_version(schema, operation):
                responses.setdefault(
                    "409",
                    {
                        "description": "The record changed since `version` was read.",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConflictOut"}}},
                    },
                )


def _describe_hidden_fields(schema: OpenAPISchema) -> None:
    """Keys a role can hide are left out of the bodies of its holders: they are documented as optional."""
    from tenants.accounts import kinds

    components = schema.get("components", {}).get("schemas", {})
    for name, record_type in HIDING_SCHEMAS.items():
        component = components.get(name)
        if component is None:
            continue
        keys = hidden_keys(record_type, kinds.hideable_names(record_type))
        properties = component.get("properties", {})
        for key in keys & set(properties):
            description = properties[key].get("description", "")
            properties[key]["description"] = f"{description} {HIDDEN_NOTE}".strip()
        if "required" in component:
            component["required"] = [k for k in component["required"] if k not in keys]
        if "custom_fields" in properties:
            note = "Values of fields the caller's role hides are left out."
            properties["custom_fields"]["description"] = (
                f"{properties['custom_fields'].get('description', '')} {note}".strip()
            )


def _describe_custom_fields(schema: OpenAPISchema, prefix: str) -> None:
    """Each schema's `custom_fields` lists this workspace's fields with their JSON types; each list of records
    takes a `cf_<key>` filter per field."""
    by_type: dict[str, list[CustomField]] = {t.value: [] for t in CORE_RECORD_TYPES}
    for field in custom_fields_all().order_by("record_type", "position", "id"):
        by_type[field.record_type].append(field)
    components = schema.get("components", {}).get("schemas", {})
    for name, (record_type, role) in CUSTOM_FIELD_SCHEMAS.items():
        component = components.get(name)
        if component is not None and "custom_fields" in component.get("properties", {}):
            component["properties"]["custom_fields"] = custom_fields_json_schema(by_type[record_type], role)
    for path, record_type in CUSTOM_FILTER_PATHS.items():
        operation = schema.get("paths", {}).get(prefix.rstrip("/") + path, {}).get("get")
        if operation is None:
            continue
        parameters = operation.setdefault("parameters", [])
        for field in by_type[RecordType(record_type)]:
            if field.field_type == CustomField.Type.MONEY:
                continue
            parameters.append(
                {
                    "in": "query",
                    "name": f"{CUSTOM_FILTER_PREFIX}{field.key}",
                    "required": False,
                    "description": _("Records whose “%(label)s” equals this value.") % {"label": field.label},
                    "schema": custom_filter_json_schema(field),
                }
            )


api = KontorAPI(
    title="Kontor API",
    version="1.0.0",
    description="Companies, contacts, leads, deals, pipelines, products, activities and custom fields of one "
    "workspace. Authenticate with the browser session (and CSRF token) or `Authorization: Bearer <API key>` "
    "(create keys on your profile's API keys page). Lists are newest first; pass `next_cursor` back as `cursor` "
    "for the next page. Amounts are decimal strings with an ISO 4217 currency.",
    urls_namespace="api",
    auth=[ApiKeyAuth(), django_auth],
    docs_decorator=_members_only,
    parser=JsonParser(),
    renderer=FastJSONRenderer(),
)
# What each operation requires is declared where it is defined (crm.core.api_access.requires) and checked here,
# for every operation, before its body runs.
api.add_decorator(enforce)


def _field_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}


@api.exception_handler(DjangoValidationError)
def _invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    detail = _("Some fields are not valid.")
    return api.create_response(request, {"detail": detail, "errors": _field_errors(exc)}, status=422)


# Where a value sits in the request does not matter to the client: `name`, not `body.payload.name`.
_LOCATIONS = {"body", "query", "path", "header", "cookie", "form", "file"}


@api.exception_handler(InputError)
def _unparsable(request: HttpRequest, exc: InputError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in _LOCATIONS:
            loc = loc[2:] if loc[0] == "body" else loc[1:]
        errors.setdefault(".".join(loc) or "__all__", []).append(str(error.get("msg", "")))
    detail = _("Some fields are not valid.")
    return api.create_response(request, {"detail": detail, "errors": errors}, status=422)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if getattr(request, "unparsable_body", False):
        detail = _("Some fields are not valid.")
        errors = {"__all__": [_("The body is not valid JSON.")]}
        return api.create_response(request, {"detail": detail, "errors": errors}, status=422)
    return api.create_response(request, {"detail": str(exc)}, status=exc.status_code)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(request, {"detail": _("Sign in, or send a valid API key.")}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(StaleVersion)
def _stale(request: HttpRequest, exc: StaleVersion) -> HttpResponse:
    detail = _("The record changed since you read it; reload it and try again.")
    return api.create_response(request, {"detail": detail, "current_version": exc.current}, status=409)


@api.exception_handler(PermissionDenied)
def _denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    if isinstance(exc, WorkspaceReadOnly):
        body = {
            "detail": str(exc.args[0]),
            "code": exc.code,
            "state": getattr(getattr(request, "tenant", None), "billing_state", ""),
        }
        return api.create_response(request, body, status=402)
    return api.create_response(request, {"detail": _("You are not allowed to do this.")}, status=403)


def _add_routers() -> None:
    from crm.activities.api import router as activities
    from crm.companies.api import router as companies
    from crm.contacts.api import router as contacts
    from crm.customfields.api import router as customfields
    from crm.deals.api import router as deals
    from crm.leads.api import router as leads
    from crm.products.api import router as products

    for router in (companies, contacts, leads, deals, products, activities, customfields):
        api.add_router("", router)


_add_routers()
