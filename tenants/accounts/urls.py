from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from tenants.accounts import views
from tenants.accounts.forms import LocalizedPasswordResetForm

app_name = "accounts"
urlpatterns = [
    path("welcome/", views.welcome, name="welcome"),
    path("profile/api-keys/", views.api_keys, name="api_keys"),
    path("profile/api-keys/<int:pk>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
    path("profile/", views.profile, name="profile"),
    path("profile/password/", views.password, name="password"),
    path("profile/two-factor/", views.two_factor, name="two_factor"),
    path("security/", views.security, name="security"),
    path("login/", views.WorkspaceLoginView.as_view(), name="login"),
    path("login/two-factor/", views.login_two_factor, name="login_two_factor"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset_form.html",
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
            form_class=LocalizedPasswordResetForm,
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html",
            success_url=reverse_lazy("accounts:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="accounts/password_reset_complete.html"),
        name="password_reset_complete",
    ),
]
