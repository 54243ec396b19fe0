"""The dashboard's tables and lists, built in Python as the ticket list's rows are
(tickets/templatetags/ticket_list.py).

The dashboard shows up to 45 rows in five lists; through the template language, their per-row tags and
lookups were a third of the page's time. Each row is read as a dict of the columns it shows (desk/views.py),
every value read from the database goes through the standard library's `html.escape`, and only our own
markup is left unescaped.
"""

from html import escape

from django import template
from django.template.defaultfilters import timesince_filter
from django.utils.safestring import mark_safe

from accounts.presentation import shown_name_of_columns, titled_name
from accounts.templatetags.directorate import link_to, rank_mark, time_tag
from tickets.models import Ticket

register = template.Library()

STATUS_LABELS = dict(Ticket.Status.choices)
RANK_CHANGES = ("Promotion Request", "Demotion Request")


def _title_cell(row):
    return f'<td><a href="{escape(link_to("ticket", row["id"]))}"><bdi>{escape(row["title"])}</bdi></a></td>'


def _status_cell(row):
    status = row["status"]
    return f'<td><span class="status status-{escape(status)}">{escape(STATUS_LABELS.get(status, status))}</span></td>'


def _assignee_cell(row):
    name = shown_name_of_columns(
        hidden=row["assignee__hidden"], rank=row["assignee__rank"], display_name=row["assignee__display_name"]
    )
    return f'<td class="col-optional"><bdi>{escape(name)}</bdi></td>'


def _rows(cells):
    return mark_safe("".join(f"<tr>{''.join(row)}</tr>" for row in cells))  # each cell escapes what it reads


@register.simple_tag
def work_rows(rows):
    """My work: title (linked), category, status."""
    return _rows(
        (
            _title_cell(row),
            f'<td class="col-optional">{escape(row["category"])} / {escape(row["sub_category"])}</td>',
            _status_cell(row),
        )
        for row in rows
    )


@register.simple_tag
def written_rows(rows):
    """Written by me: title (linked), whom it is with, status."""
    return _rows((_title_cell(row), _assignee_cell(row), _status_cell(row)) for row in rows)


@register.simple_tag
def queue_rows(rows):
    """My review queue: title (linked), assignee, what is proposed, how long it has waited."""

    def proposed(row):
        if row["sub_category"] in RANK_CHANGES:
            return escape(row["sub_category"])
        return f"{row['reward_credits']} cr &middot; &curren;{row['reward_pay']:f}"

    return _rows(
        (
            _title_cell(row),
            _assignee_cell(row),
            f"<td>{proposed(row)}</td>",
            f'<td class="col-optional">{escape(timesince_filter(row["submitted_at"]))}</td>',
        )
        for row in rows
    )


@register.simple_tag
def reward_rows(rows):
    """Recent rewards: the day, the ticket (linked), the amount."""

    def ticket(row):
        if not row["related_ticket_id"]:
            return "<td></td>"
        url = escape(link_to("ticket", row["related_ticket_id"]))
        return f'<td><a href="{url}"><bdi>{escape(row["related_ticket__title"])}</bdi></a></td>'

    def amount(row):
        return f"{row['amount_cr']:+d} cr" if row["amount_cr"] else f"&curren;{row['amount_pay']:f}"

    return _rows(
        (f"<td>{time_tag(row['ts'], '%Y-%m-%d')}</td>", ticket(row), f"<td>{amount(row)}</td>") for row in rows
    )


@register.simple_tag(takes_context=True)
def people_items(context, people):
    """Direct reports: each one's rank mark and linked name, as list items."""
    viewer_id = getattr(context.get("user"), "id", None)
    return mark_safe(  # names and ids are escaped; the marks are our own markup
        "".join(
            f"<li>{rank_mark(person['rank'], person['id'], viewer_id)} "
            f'<a href="{escape(link_to("person", person["id"]))}">'
            f"{escape(titled_name(person['rank'], person['display_name']))}</a></li>"
            for person in people
        )
    )
