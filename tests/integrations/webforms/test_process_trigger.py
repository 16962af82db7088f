"""A website form starts the processes that listen to it (the form trigger), and only those."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.leads.services import lead_create
from crm.processes.models import Instance
from tests.crm.processes.support import deliver, process
from tests.integrations.webforms.conftest import Form, make_form
from tests.integrations.webforms.test_inbound import GOOD

pytestmark = pytest.mark.django_db


def _form_process(form: Form, connection_uid: str | None) -> int:
    with tenant_context(form.workspace.tenant):
        definition = process(
            form.workspace.owner,
            {
                "trigger": {"type": "form", "record_type": "lead", "connection": connection_uid},
                "steps": [{"id": "call", "type": "task", "title": "Call {record.title}", "assign": {"to": "owner"}}],
            },
        )
        return definition.pk


def test_a_submission_starts_the_form_process(form: Form) -> None:
    other = make_form(form.workspace, name="Price request")
    with tenant_context(form.workspace.tenant):
        uid = str(form.connection().uid)
    this_form, any_form = _form_process(form, uid), _form_process(form, None)
    assert form.post(GOOD).status_code in (200, 201, 302)
    assert other.post(GOOD).status_code in (200, 201, 302)
    with tenant_context(form.workspace.tenant):
        lead_create(actor=form.workspace.owner, data={"title": "Typed by hand"})  # not from a form
        deliver()
        assert Instance.objects.filter(definition_id=this_form).count() == 1
        assert Instance.objects.filter(definition_id=any_form).count() == 2
