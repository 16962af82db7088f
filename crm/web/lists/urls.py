"""List pages (owner: lists). Each entity's patterns are mounted in its namespace by crm/web/urls.py."""

from django.urls import path

from crm.web.lists import views
from crm.web.placeholder import not_built

company_patterns = [path("", not_built, name="list")]
contact_patterns = [path("", not_built, name="list")]
deal_patterns = [path("", not_built, name="list")]
lead_patterns = [path("", not_built, name="list")]
product_patterns = [path("", not_built, name="list")]
activity_patterns = [path("", not_built, name="list")]
# Workspace-wide pages: my day (name "home"), global search (name "search").
home_patterns = [path("", views.my_day, name="home"), path("search/", not_built, name="search")]
