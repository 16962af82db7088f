"""Where people meet running processes (/processes/...): the card's actions and the notifications."""

from django.urls import URLPattern, URLResolver, path

from crm.processes import views_work

app_name = "process_work"
urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "records/<str:record_type>/<int:record_id>/steps/<str:step>/decide/",
        views_work.step_decide,
        name="decide",
    ),
    path("records/<str:record_type>/<int:record_id>/start/", views_work.process_start, name="start"),
    path(
        "records/<str:record_type>/<int:record_id>/instances/<str:instance>/cancel/",
        views_work.instance_cancel,
        name="cancel",
    ),
    path("notifications/", views_work.notifications, name="notifications"),
    path("notifications/read-all/", views_work.notifications_read_all, name="read_all"),
    path("notifications/unread/", views_work.notifications_unread, name="unread"),
    path("notifications/<str:pk>/", views_work.notification_open, name="open"),
]
