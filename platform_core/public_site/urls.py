from django.urls import path

from platform_core.public_site import views

app_name = "public_site"
urlpatterns = [
    path("", views.landing, name="landing"),
    path("pricing/", views.pricing, name="pricing"),
    path("signup/", views.signup, name="signup"),
    path("signup/check-subdomain/", views.subdomain_check, name="subdomain_check"),
    path("login/", views.find_workspace, name="find_workspace"),
]
