from functools import cache
from html import escape

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from accounts.presentation import shown_name, shown_person
from accounts.ranks import Rank, level
from directorate.markdown import render_markdown

register = template.Library()

register.filter("shown_name", shown_name)
register.filter("shown_person", shown_person)


ANY_ID = "0" * 24  # object ids are 24 hex digits: one reversed URL serves every object of a kind


@cache
def _link_pattern(name, urlconf, script_prefix):  # the prefix is part of the key: reverse() prepends it
    return reverse(name, args=[ANY_ID], urlconf=urlconf)


def link_to(name, object_id):
    """`reverse(name, args=[object_id])` for an object id, reversed once per URLconf and script prefix: a page
    lists dozens of tickets or people, and each `{% url %}` costs tens of microseconds."""
    return _link_pattern(name, get_urlconf(), get_script_prefix()).replace(ANY_ID, escape(str(object_id)))


@register.filter
def ticket_url(ticket_id):
    return link_to("ticket", ticket_id)


@register.filter
def person_url(person_id):
    return link_to("person", person_id)


@register.filter
def markdown(text):
    """Render user markdown; the output is sanitised, so it is marked safe."""
    return mark_safe(render_markdown(text))  # sanitised by nh3 in render_markdown


@register.filter
def time_tag(moment, shown="%Y-%m-%d %H:%M"):
    """`moment` as a <time> element: ISO 8601 for machines, "2026-11-26 14:05" (or as `shown` says) for people,
    in local time."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    # Both forms are digits and separators only: nothing to escape.
    return mark_safe(f'<time datetime="{local.isoformat()}">{local.strftime(shown)}</time>')


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


# Each rank its own mark. Asset to executor: a triangle of four bands, filled from the base up to the rank (the
# executor's all four). Nyx: one solid crimson triangle with an open eye. Niki: a diamond, drawn only for Niki.
RANK_ICON = (
    '<svg class="rank-icon rank-{rank}" viewBox="0 0 40 36" width="28" height="25" role="img" '
    'aria-label="Rank: {label}">{shapes}</svg>'
)
BANDS = (
    "0,36 40,36 36.3,29.3 3.7,29.3",
    "5.4,26.3 34.6,26.3 30.8,19.5 9.2,19.5",
    "10.8,16.5 29.2,16.5 25.4,9.8 14.6,9.8",
    "16.2,6.8 23.8,6.8 20,0",
)
SHAPES = {
    Rank.NIKI: '<polygon class="band filled" points="20,0 40,18 20,36 0,18"/>'
    '<polygon class="mark-cut" points="20,9 29,24 11,24"/>',
    Rank.NYX: '<polygon class="band filled" points="0,36 40,36 20,0"/>'
    '<ellipse class="mark-cut" cx="20" cy="25" rx="8.5" ry="4.6"/>'
    '<circle class="band filled" cx="20" cy="25" r="2.6"/>',
}


@cache
def _rank_icon(rank):
    shapes = SHAPES.get(rank) or "".join(
        f'<polygon class="band{" filled" if level(rank) >= step else ""}" points="{points}"/>'
        for step, points in enumerate(BANDS)
    )
    return mark_safe(RANK_ICON.format(rank=rank, label=escape(Rank(rank).label), shapes=shapes))


def rank_mark(rank, member_id, viewer_id):
    """The mark of a member's rank (an <svg>) shown to `viewer_id`; Niki's only on Niki's own pages, nothing
    for anyone else's eyes. A page lists many people, so each rank's mark is built once."""
    if rank == Rank.NIKI and member_id != viewer_id:
        return ""
    return _rank_icon(rank)


@register.simple_tag(takes_context=True)
def rank_icon(context, member):
    """The mark of `member`'s rank (`rank_mark`) shown to the page's reader."""
    return rank_mark(member.rank, member.id, getattr(context.get("user"), "id", None))
