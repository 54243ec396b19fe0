"""The cells of a ledger row, built in Python as the ticket list's rows are (tickets/templatetags/ticket_list.py).

A ledger page shows 25 entries of seven cells; through the template language, their lookups and filters were
most of the page's time. Every value read from the database goes through the standard library's
`html.escape`; only our own markup is left unescaped.
"""

from html import escape

from django import template
from django.utils.safestring import mark_safe

from accounts.presentation import shown_name
from accounts.templatetags.directorate import link_to, time_tag
from economy.models import Transaction

register = template.Library()

TYPE_LABELS = dict(Transaction.Type.choices)
CELL_BREAK = "\n        "  # each cell on its own line, as in economy/ledger.html


@register.simple_tag
def ledger_cells(entry, visible_tickets):
    """When, type, credits, pay, the ticket (named only when in `visible_tickets`), who approved it, why."""
    if entry.related_ticket_id in visible_tickets:
        url = escape(link_to("ticket", entry.related_ticket_id))
        ticket = f'<a href="{url}"><bdi>{escape(entry.related_ticket.title)}</bdi></a>'
    elif entry.related_ticket_id:
        ticket = '<span class="hint">not yours to see</span>'
    else:
        ticket = ""
    cells = (
        f"<td>{time_tag(entry.ts)}</td>",
        f'<td class="col-optional" data-label="Type">{escape(TYPE_LABELS.get(entry.type, entry.type))}</td>',
        f'<td class="num">{f"{entry.amount_cr:+d}" if entry.amount_cr else ""}</td>',
        f'<td class="num">{f"&curren;{entry.amount_pay:f}" if entry.amount_pay else ""}</td>',
        f'<td class="col-optional" data-label="Ticket">{ticket}</td>',
        f'<td class="col-optional" data-label="Approved by"><bdi>{escape(shown_name(entry.approved_by))}</bdi></td>',
        f'<td class="col-optional" data-label="Reason"><bdi>{escape(entry.reason)}</bdi></td>',
    )
    return mark_safe(CELL_BREAK.join(cells))  # every value read from the database is escaped above
