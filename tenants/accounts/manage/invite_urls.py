"""The link an invited person follows (mounted at /invitation/): open to visitors who are not signed in."""

from django.urls import URLPattern, path

from tenants.accounts.manage import views

app_name = "invitation"
urlpatterns: list[URLPattern] = [
    path("<str:token>/", views.invitation_accept, name="accept"),
]
