"""What an API operation requires is declared where it is defined (`@requires`) and checked in one place, before
the operation's body runs; the declaration is published in the OpenAPI document. The full walk of every
operation for every role is the permission matrix (tests/tenants/test_permission_matrix.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import Http404
from django.test import RequestFactory
from ninja import Router

from crm.companies.models import Company
from crm.core.api_access import enforce, requirement_of, requires
from crm.core.types import RecordType
from tenants.accounts.models import Role
from tenants.accounts.policy import Action, WorkspacePermission
from tenants.accounts.roles import READ_ONLY, builtin_role
from tests.api.conftest import bearer_client, inside, key_for
from tests.factories import CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db


def _called(user: Any, view: Any, **arguments: Any) -> Any:
    request = RequestFactory().get("/")
    request.auth = user  # type: ignore[attr-defined]
    return enforce(view)(request, **arguments)


def test_the_check_runs_before_the_body(workspace) -> None:
    ran: list[int] = []

    @requires(Action.EDIT, RecordType.COMPANY, record="company_id")
    def rename(request: Any, company_id: int) -> str:
        ran.append(company_id)
        return "renamed"

    with inside(workspace):
        theirs = CompanyFactory(owner=workspace.owner)
        reader = UserFactory(role=builtin_role(READ_ONLY))
        manager = UserFactory()  # a sales manager: sees and edits only their own
        mine = CompanyFactory(owner=manager)
        # Sees it, may not edit it: 403. Cannot see it (or it does not exist): 404.
        with pytest.raises(PermissionDenied):
            _called(reader, rename, company_id=theirs.pk)
        for pk in (theirs.pk, 0):
            with pytest.raises(Http404):
                _called(manager, rename, company_id=pk)
        assert ran == []
        assert _called(manager, rename, company_id=mine.pk) == "renamed"
        assert _called(workspace.owner, rename, company_id=theirs.pk) == "renamed"
        assert ran == [mine.pk, theirs.pk]


def test_permissions_and_kinds_without_a_record(workspace) -> None:
    @requires(permission=WorkspacePermission.MANAGE_PIPELINES)
    def configure(request: Any) -> str:
        return "configured"

    @requires(Action.CREATE, RecordType.COMPANY)
    def create(request: Any) -> str:
        return "created"

    @requires()
    def look(request: Any) -> str:
        return "looked"

    with inside(workspace):
        reader = UserFactory(role=builtin_role(READ_ONLY))
        for view in (configure, create):
            with pytest.raises(PermissionDenied):
                _called(reader, view)
            assert _called(workspace.owner, view) in ("configured", "created")
        assert _called(reader, look) == "looked"


def test_an_operation_that_declares_nothing_is_refused_to_everyone(workspace) -> None:
    ran: list[int] = []

    def undeclared(request: Any) -> str:
        ran.append(1)
        return "done"

    with inside(workspace), pytest.raises(PermissionDenied):
        _called(workspace.owner, undeclared)
    assert ran == []


def test_a_declaration_is_misplaced_or_incomplete() -> None:
    router = Router()
    with pytest.raises(ImproperlyConfigured):

        @requires()
        @router.get("/late")
        def late(request: Any) -> None: ...

    with pytest.raises(ImproperlyConfigured):
        requires(Action.VIEW)
    with pytest.raises(ImproperlyConfigured):
        requires(permission=WorkspacePermission.MANAGE_USERS, record="company_id")


def test_the_document_states_each_operations_requirement(api) -> None:
    doc = api.get("/openapi.json").json()
    operations = {op["operationId"].rpartition("_api_")[2]: op for ops in doc["paths"].values() for op in ops.values()}
    assert operations["update_company"]["x-requires"] == {
        "action": "edit",
        "record_type": "company",
        "record": "company_id",
    }
    assert operations["list_deals"]["x-requires"] == {"action": "view", "record_type": "deal"}
    assert operations["create_stage"]["x-requires"] == {"permission": "manage_pipelines"}
    assert operations["list_pipelines"]["x-requires"] == {}
    assert all("x-requires" in op for op in operations.values())
    from crm.companies.api import update_company

    requirement = requirement_of(update_company)
    assert requirement is not None
    assert requirement.document() == operations["update_company"]["x-requires"]


def test_a_list_of_a_kind_the_role_never_sees_is_refused_with_a_body(workspace) -> None:
    """Listing has no record to look up: only the declaration refuses it (the selector would answer an empty
    page)."""
    with inside(workspace):
        CompanyFactory(owner=workspace.owner)
        person = UserFactory(role=Role.objects.create(name="Deals only", grants={"deal": {"view": "all"}}))
        count = Company.objects.count()
    response = bearer_client(workspace, key_for(workspace, person)).get("/companies/")
    assert response.status_code == 403
    assert response.json() == {"detail": "You are not allowed to do this."}
    assert bearer_client(workspace, key_for(workspace, person)).get("/deals/").status_code == 200
    with inside(workspace):
        assert Company.objects.count() == count
