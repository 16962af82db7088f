"""{% webform_snippet connection url %}: the code of a connection's form for the website, as text (escaped where
it is shown), for the core's page that shows a new inbound address once."""

from __future__ import annotations

from django import template

from integrations.core.models import Connection
from integrations.webforms.selectors import webform_of
from integrations.webforms.snippet import snippet_html

register = template.Library()


@register.simple_tag
def webform_snippet(connection: Connection, url: str) -> str:
    form = webform_of(connection)
    return snippet_html(form, url) if form is not None and url else ""
