"""Pipeline board, calendar and workspace settings pages (owner: board)."""

from django.urls import path

from crm.web.board import board_views, calendar_views, settings_views

deal_patterns = [
    path("board/", board_views.board, name="board"),
    path("board/move/", board_views.deal_move, name="board_move"),
    path("board/column/<int:stage_id>/", board_views.column_more, name="board_column"),
]
calendar_patterns = [
    path("", calendar_views.week, name="week"),
    path("day/", calendar_views.day, name="day"),
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
