"""Record pages: cards, create/edit forms, merge, conversion, files (owner: records)."""

from django.urls import URLPattern, path

from crm.web.records import activities, cards, companies, contacts, deals, leads, products


def _card_patterns(ns: str) -> list[URLPattern]:
    """The parts every card has: older timeline entries, quick-add of an activity, files."""
    kw = {"ns": ns}
    return [
        path("<int:pk>/timeline/", cards.timeline_older, kw, name="timeline"),
        path("<int:pk>/quick-add/", cards.quick_add, kw, name="quick_add"),
        path("<int:pk>/files/", cards.file_upload, kw, name="file_upload"),
        path("<int:pk>/files/<int:file_pk>/", cards.file_download, kw, name="file_download"),
        path("<int:pk>/files/<int:file_pk>/delete/", cards.file_delete, kw, name="file_delete"),
    ]


company_patterns = [
    path("<int:pk>/", companies.company_detail, name="detail"),
    path("new/", companies.company_new, name="create"),
    path("<int:pk>/edit/", companies.company_edit, name="edit"),
    path("<int:pk>/delete/", companies.company_remove, name="delete"),
    path("<int:pk>/merge/", companies.company_merge_view, name="merge"),
    *_card_patterns("companies"),
]
contact_patterns = [
    path("<int:pk>/", contacts.contact_detail, name="detail"),
    path("new/", contacts.contact_new, name="create"),
    path("<int:pk>/edit/", contacts.contact_edit, name="edit"),
    path("<int:pk>/delete/", contacts.contact_remove, name="delete"),
    path("<int:pk>/merge/", contacts.contact_merge_view, name="merge"),
    *_card_patterns("contacts"),
]
deal_patterns = [
    path("<int:pk>/", deals.deal_detail, name="detail"),
    path("new/", deals.deal_new, name="create"),
    path("<int:pk>/edit/", deals.deal_edit, name="edit"),
    path("<int:pk>/line-items/", deals.deal_line_items, name="line_items"),
    path("<int:pk>/delete/", deals.deal_remove, name="delete"),
    *_card_patterns("deals"),
]
lead_patterns = [
    path("<int:pk>/", leads.lead_detail, name="detail"),
    path("new/", leads.lead_new, name="create"),
    path("<int:pk>/edit/", leads.lead_edit, name="edit"),
    path("<int:pk>/delete/", leads.lead_remove, name="delete"),
    path("<int:pk>/convert/", leads.lead_convert_view, name="convert"),
    *_card_patterns("leads"),
]
product_patterns = [
    path("<int:pk>/", products.product_detail, name="detail"),
    path("new/", products.product_new, name="create"),
    path("<int:pk>/edit/", products.product_edit, name="edit"),
    path("<int:pk>/delete/", products.product_remove, name="delete"),
]
activity_patterns = [
    path("<int:pk>/", activities.activity_detail, name="detail"),
    path("new/", activities.activity_new, name="create"),
    path("<int:pk>/edit/", activities.activity_edit, name="edit"),
    path("<int:pk>/done/", activities.activity_done, name="done"),
    path("<int:pk>/delete/", activities.activity_remove, name="delete"),
]
