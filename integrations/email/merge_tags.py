"""The only tag a merge template may use besides its variables and the built-in filters: {% if %}."""

from django import template
from django.template.defaulttags import do_if

register = template.Library()
register.tag("if", do_if)
