"""Every htmx form shows its errors where the input is: the server answers 422 with the form (or row) again,
its errors next to the field, and the page's script swaps 422 answers in (platform_core/htmx-errors.js)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from crm.activities.models import Activity
from tests.factories import ActivityFactory, CompanyFactory
from tests.web.records_support import inside

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
ROOT = Path(settings.BASE_DIR)
# Each htmx form of the templates, and the test below that shows its errors in place.
# The processes' panel and My day's approvals: tests/crm/processes/test_work_pages.py (a rejection without a
# reason, a decision already taken, a process already running).
HTMX_FORMS = {
    "crm/records/_quick_add.html",
    "crm/records/_activity_row.html",
    "processes/work/_panel.html",
    "processes/work/_my_day_approvals.html",
}


def test_every_htmx_form_is_known_here() -> None:
    found = set()
    for template in ROOT.glob("**/templates/**/*.html"):
        if ".venv" in template.parts:
            continue
        if re.search(r"hx-(post|put|patch|delete)=", template.read_text()):
            found.add(template.as_posix().split("/templates/", 1)[1])
    assert found == HTMX_FORMS


def test_quick_add_without_a_subject_answers_the_form_with_the_error_beside_the_subject(
    workspace, owner_client
) -> None:
    with inside(workspace):
        company = CompanyFactory(name="Romashka")
    response = owner_client.post(
        reverse("companies:quick_add", args=[company.pk]), {"kind": "task", "subject": "", "due_at": ""}, **HX
    )
    assert response.status_code == 422
    html = response.content.decode()
    subject = re.search(r'<input type="text" name="subject"[^>]*>', html)
    assert (
        subject
        and 'aria-invalid="true"' in subject.group()
        and 'aria-describedby="quick-subject-errors"' in subject.group()
    )
    errors = re.search(r'<span id="quick-subject-errors" role="alert"[^>]*>(.*?)</span>', html, re.S)
    assert errors and "This field cannot be blank." in errors.group(1)
    # A bad date is shown beside the date.
    response = owner_client.post(
        reverse("companies:quick_add", args=[company.pk]), {"kind": "task", "subject": "Call", "due_at": "soon"}, **HX
    )
    assert response.status_code == 422
    assert re.search(
        r'<span id="quick-due_at-errors" role="alert">.*Enter a valid date/time', response.content.decode(), re.S
    )
    with inside(workspace):
        assert not Activity.objects.exists()


def test_quick_add_fields_have_labels(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory(name="Romashka")
    html = owner_client.get(reverse("companies:detail", args=[company.pk])).content.decode()
    form = html[html.index('id="quick-add"') : html.index("</form>", html.index('id="quick-add"'))]
    for name in ("kind", "subject", "due_at", "body"):
        assert f'<label for="quick-{name}"' in form and f'id="quick-{name}"' in form, name


def test_a_refused_done_shows_why_in_the_row(workspace, owner_client) -> None:
    with inside(workspace):
        company = CompanyFactory(name="Romashka")
        # Stored before subjects were required (an import): it no longer validates.
        broken = ActivityFactory(company=company, subject="", kind="task", assignee=workspace.owner)
    response = owner_client.post(reverse("activities:done", args=[broken.pk]), {"done": "on", "result": "Ok"}, **HX)
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="activity-{broken.pk}"' in html
    errors = re.search(r'data-testid="done-errors">(.*?)</ul>', html, re.S)
    assert errors and "subject: This field cannot be blank." in errors.group(1)
    with inside(workspace):
        broken.refresh_from_db()
        assert not broken.is_done and broken.result == ""


def test_pages_load_the_script_that_swaps_422_answers(workspace, owner_client) -> None:
    html = owner_client.get(reverse("home")).content.decode()
    assert "platform_core/htmx-errors.js" in html
    script = (ROOT / "platform_core/static/platform_core/htmx-errors.js").read_text()
    assert "htmx:beforeSwap" in script and "422" in script
