"""List pages (owner: lists). Each entity's patterns are mounted in its namespace by crm/web/urls.py."""

from django.urls import URLPattern, path

from crm.core.types import RecordType
from crm.web.lists import export, views
from tenants.accounts.guards import guard
from tenants.accounts.policy import Action


def _list_patterns(namespace: str, record_type: RecordType) -> list[URLPattern]:
    kwargs = {"namespace": namespace}
    # Bulk actions are checked record by record by the services they call.
    return [
        path("", guard(views.record_list, Action.VIEW, record_type), kwargs, name="list"),
        path("bulk/", guard(views.list_bulk, Action.VIEW, record_type), kwargs, name="bulk"),
        path("columns/", guard(views.list_columns, Action.VIEW, record_type), kwargs, name="columns"),
        path("export/", guard(export.list_export, Action.EXPORT, record_type), kwargs, name="export"),
    ]


company_patterns = _list_patterns("companies", RecordType.COMPANY)
contact_patterns = _list_patterns("contacts", RecordType.CONTACT)
deal_patterns = _list_patterns("deals", RecordType.DEAL)
lead_patterns = _list_patterns("leads", RecordType.LEAD)
product_patterns = _list_patterns("products", RecordType.PRODUCT)
activity_patterns = _list_patterns("activities", RecordType.ACTIVITY)
# Workspace-wide pages: my day (name "home"), global search (name "search").
home_patterns = [path("", views.my_day, name="home"), path("search/", views.search, name="search")]
