"""List pages (owner: lists). Each entity's patterns are mounted in its namespace by crm/web/urls.py."""

from django.urls import URLPattern, path

from crm.web.lists import views


def _list_patterns(namespace: str) -> list[URLPattern]:
    kwargs = {"namespace": namespace}
    return [
        path("", views.record_list, kwargs, name="list"),
        path("bulk/", views.list_bulk, kwargs, name="bulk"),
        path("columns/", views.list_columns, kwargs, name="columns"),
    ]


company_patterns = _list_patterns("companies")
contact_patterns = _list_patterns("contacts")
deal_patterns = _list_patterns("deals")
lead_patterns = _list_patterns("leads")
product_patterns = _list_patterns("products")
activity_patterns = _list_patterns("activities")
# Workspace-wide pages: my day (name "home"), global search (name "search").
home_patterns = [path("", views.my_day, name="home"), path("search/", views.search, name="search")]
