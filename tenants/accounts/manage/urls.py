"""The workspace administrators' pages (mounted at /settings/): users and invitations, roles, teams, audit log."""

from django.urls import URLPattern, URLResolver, path

from tenants.accounts.manage import views

app_name = "manage"
urlpatterns: list[URLPattern | URLResolver] = [
    path("users/", views.users, name="users"),
    path("users/invite/", views.invite, name="invite"),
    path("users/<int:pk>/", views.user, name="user"),
    path("users/<int:pk>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("users/<int:pk>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("users/<int:pk>/transfer/", views.user_transfer, name="user_transfer"),
    path("users/<int:pk>/two-factor-reset/", views.user_two_factor_reset, name="user_two_factor_reset"),
    path("users/<int:pk>/unlock/", views.user_unlock, name="user_unlock"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("roles/", views.roles, name="roles"),
    path("roles/new/", views.role_new, name="role_new"),
    path("roles/<int:pk>/", views.role, name="role"),
    path("roles/<int:pk>/copy/", views.role_copy, name="role_copy"),
    path("roles/<int:pk>/delete/", views.role_delete, name="role_delete"),
    path("teams/", views.teams, name="teams"),
    path("teams/<int:pk>/", views.team, name="team"),
    path("teams/<int:pk>/delete/", views.team_delete, name="team_delete"),
    path("workspace/", views.workspace, name="workspace"),
    path("audit/", views.audit, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
