from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe

from accounts.presentation import shown_name, shown_person
from directorate.markdown import render_markdown

register = template.Library()

register.filter("shown_name", shown_name)
register.filter("shown_person", shown_person)


@register.filter
def markdown(text):
    """Render user markdown; the output is sanitised, so it is marked safe."""
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3 in render_markdown


@register.filter
def time_tag(moment):
    """`moment` as a <time> element: ISO 8601 for machines, "2026-11-26 14:05" for people, in local time."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    # Both forms are digits and separators only: nothing to escape.
    return mark_safe(f'<time datetime="{local.isoformat()}">{local.strftime("%Y-%m-%d %H:%M")}</time>')  # noqa: S308
