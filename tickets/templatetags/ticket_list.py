"""The rows of the ticket list, built in Python as Django's admin builds its result lists.

At 25 rows a page, the template language's per-row tags (a URL reversed, a name, a status, a time) were
most of the list page's time (benchmarks/README.md); here a page of rows costs a fraction of that.
"""

from django import template
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from accounts.presentation import shown_name
from accounts.templatetags.directorate import time_tag
from tickets.models import Ticket

register = template.Library()

ROW = (
    '<tr><td><a href="{}">{}</a>{}</td><td class="col-optional">{} / {}</td><td class="col-optional">{}</td>'
    '<td><span class="status status-{}">{}</span></td><td class="col-optional">{}</td></tr>'
)
PRIVATE = mark_safe(' <span class="tag">private</span>')
STATUS_LABELS = dict(Ticket.Status.choices)
ANY_ID = "0" * 24  # ticket ids are 24 hex digits: one reversed URL serves every row


@register.simple_tag
def ticket_rows(tickets):
    """One <tr> per ticket: title (linked), category, assignee, status and last change."""
    url = reverse("ticket", args=[ANY_ID])
    return format_html_join(
        "\n",
        ROW,
        (
            (
                url.replace(ANY_ID, ticket.id),
                ticket.title,
                PRIVATE if ticket.visibility == Ticket.Visibility.PRIVATE else "",
                ticket.category,
                ticket.sub_category,
                shown_name(ticket.assignee),
                ticket.status,
                STATUS_LABELS[ticket.status],
                time_tag(ticket.updated_at),
            )
            for ticket in tickets
        ),
    )
