"""The rows of the ticket list, built in Python as Django's admin builds its result lists.

At 25 rows a page, the template language's per-row tags (a URL reversed, a name, a status, a time) were
most of the list page's time, and so was `format_html`'s lazy-string machinery for 200 small values
(benchmarks/README.md). Here every text value goes through the standard library's `html.escape`, which
is what Django's `escape` calls underneath; only our own markup is left unescaped.
"""

from html import escape

from django import template
from django.utils.safestring import mark_safe

from accounts.presentation import shown_name_of_columns
from accounts.templatetags.directorate import link_to, time_tag
from tickets.models import Ticket

register = template.Library()

ROW = (
    '<tr><td><a href="{url}"><bdi>{title}</bdi></a>{private}</td>'
    '<td class="col-optional">{category} / {sub_category}</td><td class="col-optional"><bdi>{assignee}</bdi></td>'
    '<td><span class="status status-{status}">{status_label}</span></td>'
    '<td class="col-optional">{updated}</td></tr>'
)
PRIVATE = ' <span class="tag">private</span>'
STATUS_LABELS = dict(Ticket.Status.choices)


@register.simple_tag
def ticket_rows(rows):
    """One <tr> per row of `tickets.selectors.list_page`: title (linked), category, assignee, status, last change."""
    return mark_safe(  # every value read from the database is escaped
        "\n".join(
            ROW.format(
                url=escape(link_to("ticket", row["id"])),
                title=escape(row["title"]),
                private=PRIVATE if row["visibility"] == Ticket.Visibility.PRIVATE else "",
                category=escape(row["category"]),
                sub_category=escape(row["sub_category"]),
                assignee=escape(
                    shown_name_of_columns(
                        hidden=row["assignee__hidden"],
                        rank=row["assignee__rank"],
                        display_name=row["assignee__display_name"],
                    )
                ),
                status=escape(row["status"]),
                status_label=escape(STATUS_LABELS.get(row["status"], row["status"])),
                updated=time_tag(row["updated_at"]),
            )
            for row in rows
        )
    )
