"""Pipeline board, calendar and workspace settings pages (owner: board)."""

from django.urls import path

from crm.core.types import RecordType
from crm.web.board import board_views, calendar_views, settings_views
from tenants.accounts.guards import guard
from tenants.accounts.policy import Action

deal_patterns = [
    path("board/", guard(board_views.board, Action.VIEW, RecordType.DEAL), name="board"),
    path("board/move/", guard(board_views.deal_move, Action.EDIT, RecordType.DEAL), name="board_move"),
    path(
        "board/column/<int:stage_id>/",
        guard(board_views.column_more, Action.VIEW, RecordType.DEAL),
        name="board_column",
    ),
]
calendar_patterns = [
    path("", guard(calendar_views.week, Action.VIEW, RecordType.ACTIVITY), name="week"),
    path("day/", guard(calendar_views.day, Action.VIEW, RecordType.ACTIVITY), name="day"),
]
settings_patterns = [
    path("pipelines/", settings_views.pipelines, name="pipelines"),
    path("pipelines/<int:pk>/", settings_views.pipeline_edit, name="pipeline"),
    path("pipelines/<int:pk>/stages/", settings_views.stage_add, name="stage_add"),
    path("stages/<int:pk>/", settings_views.stage_edit, name="stage_edit"),
    path("stages/<int:pk>/move/", settings_views.stage_move, name="stage_move"),
    path("stages/<int:pk>/remove/", settings_views.stage_remove, name="stage_remove"),
    path("custom-fields/", settings_views.custom_fields, name="custom_fields"),
    path("custom-fields/<int:pk>/", settings_views.custom_field_edit, name="custom_field"),
    path("custom-fields/<int:pk>/move/", settings_views.custom_field_move, name="custom_field_move"),
    path("custom-fields/<int:pk>/remove/", settings_views.custom_field_remove, name="custom_field_remove"),
]
