from html import escape

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
    return mark_safe(render_markdown(text))  # sanitised by nh3 in render_markdown


@register.filter
def time_tag(moment):
    """`moment` as a <time> element: ISO 8601 for machines, "2026-11-26 14:05" for people, in local time."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    # Both forms are digits and separators only: nothing to escape.
    return mark_safe(f'<time datetime="{local.isoformat()}">{local.strftime("%Y-%m-%d %H:%M")}</time>')


@register.simple_tag
def options(choices, selected):
    """The <option>s of a select: `choices` as (value, label) pairs, the one whose value is `selected` marked.

    A filter bar re-renders on every change, and a template loop cost a tag per option.
    """
    rendered = []
    for value, label in choices:
        mark = " selected" if value == selected else ""
        rendered.append(f'<option value="{escape(str(value))}"{mark}>{escape(str(label))}</option>')
    return mark_safe("".join(rendered))  # values and labels are escaped above
