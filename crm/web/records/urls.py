"""Record pages: cards, create/edit forms, merge, conversion, files (owner: records)."""

from django.urls import URLPattern, path

from crm.core.types import RecordType as T
from crm.web.records import activities, cards, companies, contacts, deals, leads, products
from tenants.accounts.guards import guard
from tenants.accounts.policy import Action as A


def _card_patterns(ns: str, record_type: T) -> list[URLPattern]:
    """The parts every card has: older timeline entries, quick-add of an activity, files."""
    kw = {"ns": ns}
    return [
        path("<int:pk>/timeline/", guard(cards.timeline_older, A.VIEW, record_type), kw, name="timeline"),
        path("<int:pk>/quick-add/", guard(cards.quick_add, A.CREATE, T.ACTIVITY), kw, name="quick_add"),
        path("<int:pk>/files/", guard(cards.file_upload, A.CREATE, T.FILE), kw, name="file_upload"),
        path("<int:pk>/files/<int:file_pk>/", guard(cards.file_download, A.VIEW, T.FILE), kw, name="file_download"),
        path(
            "<int:pk>/files/<int:file_pk>/delete/",
            guard(cards.file_delete, A.DELETE, T.FILE, pk_kwarg="file_pk"),
            kw,
            name="file_delete",
        ),
    ]


company_patterns = [
    path("<int:pk>/", guard(companies.company_detail, A.VIEW, T.COMPANY), name="detail"),
    path("new/", guard(companies.company_new, A.CREATE, T.COMPANY), name="create"),
    path("<int:pk>/edit/", guard(companies.company_edit, A.EDIT, T.COMPANY, pk_kwarg="pk"), name="edit"),
    path("<int:pk>/delete/", guard(companies.company_remove, A.DELETE, T.COMPANY, pk_kwarg="pk"), name="delete"),
    path("<int:pk>/merge/", guard(companies.company_merge_view, A.EDIT, T.COMPANY, pk_kwarg="pk"), name="merge"),
    *_card_patterns("companies", T.COMPANY),
]
contact_patterns = [
    path("<int:pk>/", guard(contacts.contact_detail, A.VIEW, T.CONTACT), name="detail"),
    path("new/", guard(contacts.contact_new, A.CREATE, T.CONTACT), name="create"),
    path("<int:pk>/edit/", guard(contacts.contact_edit, A.EDIT, T.CONTACT, pk_kwarg="pk"), name="edit"),
    path("<int:pk>/delete/", guard(contacts.contact_remove, A.DELETE, T.CONTACT, pk_kwarg="pk"), name="delete"),
    path("<int:pk>/merge/", guard(contacts.contact_merge_view, A.EDIT, T.CONTACT, pk_kwarg="pk"), name="merge"),
    *_card_patterns("contacts", T.CONTACT),
]
deal_patterns = [
    path("<int:pk>/", guard(deals.deal_detail, A.VIEW, T.DEAL), name="detail"),
    path("new/", guard(deals.deal_new, A.CREATE, T.DEAL), name="create"),
    path("<int:pk>/edit/", guard(deals.deal_edit, A.EDIT, T.DEAL, pk_kwarg="pk"), name="edit"),
    path("<int:pk>/line-items/", guard(deals.deal_line_items, A.EDIT, T.DEAL, pk_kwarg="pk"), name="line_items"),
    path("<int:pk>/delete/", guard(deals.deal_remove, A.DELETE, T.DEAL, pk_kwarg="pk"), name="delete"),
    *_card_patterns("deals", T.DEAL),
]
lead_patterns = [
    path("<int:pk>/", guard(leads.lead_detail, A.VIEW, T.LEAD), name="detail"),
    path("new/", guard(leads.lead_new, A.CREATE, T.LEAD), name="create"),
    path("<int:pk>/edit/", guard(leads.lead_edit, A.EDIT, T.LEAD, pk_kwarg="pk"), name="edit"),
    path("<int:pk>/delete/", guard(leads.lead_remove, A.DELETE, T.LEAD, pk_kwarg="pk"), name="delete"),
    path("<int:pk>/convert/", guard(leads.lead_convert_view, A.EDIT, T.LEAD, pk_kwarg="pk"), name="convert"),
    *_card_patterns("leads", T.LEAD),
]
product_patterns = [
    path("<int:pk>/", guard(products.product_detail, A.VIEW, T.PRODUCT), name="detail"),
    path("new/", guard(products.product_new, A.CREATE, T.PRODUCT), name="create"),
    path("<int:pk>/edit/", guard(products.product_edit, A.EDIT, T.PRODUCT, pk_kwarg="pk"), name="edit"),
    path("<int:pk>/delete/", guard(products.product_remove, A.DELETE, T.PRODUCT, pk_kwarg="pk"), name="delete"),
]
activity_patterns = [
    path("<int:pk>/", guard(activities.activity_detail, A.VIEW, T.ACTIVITY), name="detail"),
    path("new/", guard(activities.activity_new, A.CREATE, T.ACTIVITY), name="create"),
    path("<int:pk>/edit/", guard(activities.activity_edit, A.EDIT, T.ACTIVITY, pk_kwarg="pk"), name="edit"),
    path("<int:pk>/done/", guard(activities.activity_done, A.EDIT, T.ACTIVITY, pk_kwarg="pk"), name="done"),
    path("<int:pk>/delete/", guard(activities.activity_remove, A.DELETE, T.ACTIVITY, pk_kwarg="pk"), name="delete"),
]
