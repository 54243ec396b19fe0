from django import template
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
