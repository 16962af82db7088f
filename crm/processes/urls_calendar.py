"""The working calendar's settings page, mounted at /settings/processes/calendar/."""

from django.urls import path

from crm.processes import calendar_views

app_name = "processes_calendar"
urlpatterns = [
    path("", calendar_views.calendar_page, name="page"),
]
