"""The business processes pages, mounted at /settings/processes/ (namespace "processes")."""

from django.urls import URLPattern, URLResolver, path

from crm.processes import views

app_name = "processes"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.definitions, name="list"),
    path("new/", views.definition_new, name="new"),
    path("<int:pk>/", views.definition_detail, name="detail"),
    path("<int:pk>/trigger/", views.trigger_edit, name="trigger"),
    path("<int:pk>/add-step/", views.step_add, name="step_add"),
    path("<int:pk>/steps/<str:step>/", views.step_edit, name="step_edit"),
    path("<int:pk>/steps/<str:step>/move/", views.step_move, name="step_move"),
    path("<int:pk>/steps/<str:step>/delete/", views.step_delete, name="step_delete"),
    path("<int:pk>/publish/", views.definition_publish, name="publish"),
    path("<int:pk>/active/", views.definition_active, name="active"),
    path("<int:pk>/delete/", views.definition_delete, name="delete"),
    path("<int:pk>/test/", views.dry_run, name="test"),
    path("<int:pk>/versions/", views.versions, name="versions"),
    path("<int:pk>/instances/", views.instances, name="instances"),
    path("<int:pk>/instances/<int:instance>/", views.instance_detail, name="instance"),
    path("<int:pk>/instances/<int:instance>/cancel/", views.instance_cancel, name="instance_cancel"),
]
