"""The calendar: a week or a day of tasks, calls and meetings, mine or a colleague's."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from tenants.accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import ActivityFactory

pytestmark = pytest.mark.django_db

# Host, session, user, members, activities: five, each after a search_path SET (django-tenants).
CALENDAR_QUERY_CEILING = 2 * 5


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


@pytest.fixture
def monday() -> datetime.date:
    return datetime.date(2026, 3, 2)


def test_the_week_shows_my_tasks_calls_and_meetings_by_day(workspace, owner_client, monday) -> None:
    with tenant_context(workspace.tenant):
        owner = workspace.owner
        ActivityFactory(subject="Plan the quarter", assignee=owner, due_at=_at(monday, 9))
        ActivityFactory(subject="Call Romashka", kind=Activity.Kind.CALL, assignee=owner, due_at=_at(monday, 15))
        ActivityFactory(
            subject="Visit plant",
            kind=Activity.Kind.MEETING,
            assignee=owner,
            due_at=_at(monday + datetime.timedelta(days=4), 11),
        )
        ActivityFactory(subject="A note", kind=Activity.Kind.NOTE, assignee=owner, due_at=_at(monday, 10))
        ActivityFactory(
            subject="The following Monday", assignee=owner, due_at=_at(monday + datetime.timedelta(days=7), 9)
        )
        ActivityFactory(subject="Somebody else's", assignee=None, due_at=_at(monday, 9))
    response = owner_client.get("/calendar/", {"date": (monday + datetime.timedelta(days=2)).isoformat()})
    assert response.status_code == 200
    days = response.context["days"]
    assert [d.date for d in days] == [monday + datetime.timedelta(days=i) for i in range(7)]
    assert [a.subject for a in days[0].activities] == ["Plan the quarter", "Call Romashka"]
    assert [a.subject for a in days[4].activities] == ["Visit plant"]
    html = response.content.decode()
    assert "A note" not in html and "The following Monday" not in html and "Somebody else" not in html
    with tenant_context(workspace.tenant):
        plan = Activity.objects.get(subject="Plan the quarter")
    assert f'href="/activities/{plan.pk}/"' in html
    # In the past and not done: marked overdue.
    assert "overdue" in html


def test_the_day_view_and_a_colleagues_calendar(workspace, owner_client, monday) -> None:
    with tenant_context(workspace.tenant):
        kate = user_create(email="kate@example.com", password=PASSWORD, full_name="Kate Colleague")
        ActivityFactory(subject="Kate's demo", kind=Activity.Kind.MEETING, assignee=kate, due_at=_at(monday, 12))
        ActivityFactory(subject="Kate's Tuesday", assignee=kate, due_at=_at(monday + datetime.timedelta(days=1), 12))
        ActivityFactory(subject="My own", assignee=workspace.owner, due_at=_at(monday, 12))
    response = owner_client.get("/calendar/day/", {"date": monday.isoformat(), "user": kate.pk})
    assert response.status_code == 200
    [day] = response.context["days"]
    assert [a.subject for a in day.activities] == ["Kate's demo"]
    assert response.context["assignee"] == kate
    mine = owner_client.get("/calendar/day/", {"date": monday.isoformat(), "user": "me"})
    assert [a.subject for a in mine.context["days"][0].activities] == ["My own"]
    assert owner_client.get("/calendar/", {"user": "999999"}).status_code == 404
    assert owner_client.get("/calendar/", {"date": "not-a-date"}).status_code == 404


def test_done_activities_are_not_overdue(workspace, owner_client) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    with tenant_context(workspace.tenant):
        ActivityFactory(subject="Finished", assignee=workspace.owner, due_at=_at(yesterday, 9), is_done=True)
    response = owner_client.get("/calendar/day/", {"date": yesterday.isoformat()})
    [item] = response.context["days"][0].activities
    assert not item.is_overdue
    assert "calendar-item kind-task done" in response.content.decode()


def test_the_calendar_issues_a_fixed_number_of_queries(
    workspace, owner_client, monday, django_assert_max_num_queries
) -> None:
    with tenant_context(workspace.tenant):
        for i in range(200):
            ActivityFactory(assignee=workspace.owner, due_at=_at(monday, 8) + datetime.timedelta(minutes=i * 20))
    owner_client.get("/calendar/", {"date": monday.isoformat()})
    with django_assert_max_num_queries(CALENDAR_QUERY_CEILING):
        response = owner_client.get("/calendar/", {"date": monday.isoformat()})
    assert sum(len(d.activities) for d in response.context["days"]) == 200


def test_the_calendar_needs_a_login(workspace) -> None:
    response = workspace.client().get("/calendar/")
    assert response.status_code == 302 and "/login/" in response["Location"]
