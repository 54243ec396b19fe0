"""The inbox's rows, built in Python as the ticket list's and the dashboard's are
(tickets/templatetags/ticket_list.py).

An inbox page shows up to 25 grouped notifications, each with a link, a time and a form; through the template
language, their tags were most of the page's drawing. Every value read from the database goes through the
standard library's `html.escape`; only our own markup is left unescaped.
"""

from html import escape

from django import template
from django.template.backends.utils import csrf_input
from django.utils.safestring import mark_safe

from accounts.templatetags.directorate import link_to, time_tag

register = template.Library()


@register.simple_tag(takes_context=True)
def inbox_rows(context, groups):
    """One <li> per group of `accounts.selectors.inbox_groups`: how many are new, how many notices, the words
    (linked when about a ticket), the time of the newest, and "Mark read" while any is unread."""
    token = csrf_input(context.request)
    return mark_safe("".join(_row(group, token) for group in groups))  # _row escapes what it reads


def _row(group, token):
    newest, unread, count = group["newest_id"], group["unread"], group["count"]
    text = []
    if unread:
        text.append(f'<span class="tag">{f"{unread} new" if count > 1 else "new"}</span>')
    if count > 1:
        text.append(f'<strong class="inbox-count">{count} notices:</strong>')
    words = f"<bdi>{escape(group['message'])}</bdi>"
    if group["ticket_id"]:
        words = f'<a href="{escape(link_to("inbox_open", newest))}">{words}</a>'
    text += [words, time_tag(group["latest"])]
    read = ""
    if unread:
        action = escape(link_to("inbox_read", newest))
        read = f'\n    <form method="post" action="{action}">{token}<button type="submit">Mark read</button></form>'
    return (
        f'\n  <li class="inbox-item{" unread" if unread else ""}">\n    <div class="inbox-text">\n      '
        + "\n      ".join(text)
        + f"\n    </div>{read}\n  </li>"
    )
