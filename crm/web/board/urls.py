"""Pipeline board, calendar and workspace settings pages (owner: board)."""

from django.urls import path

from crm.web.placeholder import not_built

deal_patterns = [path("board/", not_built, name="board")]
calendar_patterns = [path("", not_built, name="week")]
settings_patterns = [
    path("pipelines/", not_built, name="pipelines"),
    path("custom-fields/", not_built, name="custom_fields"),
]
