"""The CRM's pages, mounted at the root of every workspace. Each namespace gathers its entity's routes from
the list pages, the record pages and the board/calendar/settings pages."""

from django.urls import include, path

from crm.web.board import urls as board
from crm.web.lists import urls as lists
from crm.web.onboarding import views as onboarding
from crm.web.records import pickers
from crm.web.records import urls as records

urlpatterns = [
    path("", include(lists.home_patterns)),
    path("companies/", include((records.company_patterns + lists.company_patterns, "companies"))),
    path("contacts/", include((records.contact_patterns + lists.contact_patterns, "contacts"))),
    path("deals/", include((board.deal_patterns + records.deal_patterns + lists.deal_patterns, "deals"))),
    path("leads/", include((records.lead_patterns + lists.lead_patterns, "leads"))),
    path("products/", include((records.product_patterns + lists.product_patterns, "products"))),
    path("activities/", include((records.activity_patterns + lists.activity_patterns, "activities"))),
    path("calendar/", include((board.calendar_patterns, "calendar"))),
    path("settings/", include((board.settings_patterns, "settings"))),
    path("pick/", include((pickers.urlpatterns, "pick"))),
    path("start/", include((onboarding.urlpatterns, "start"))),
]
