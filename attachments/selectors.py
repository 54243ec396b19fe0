"""Reads of attachments. An attachment is seen by exactly those who see its ticket (tickets.selectors)."""

from collections import defaultdict
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from accounts.models import User
from accounts.selectors import with_people
from attachments.models import Attachment
from directorate.db import first_of
from directorate.errors import NotFound
from tickets.models import Ticket
from tickets.selectors import ticket_for

NO_SUCH_ATTACHMENT = "No such attachment."


def attachments_of(ticket: Ticket, comments: Iterable[Any] = ()) -> list[Attachment]:
    """The attachments of a ticket its reader already sees, in the order they were added.

    Returns those on the ticket itself; each of `comments` gets its own as `comment.files`.
    """
    attachments = _of_ticket(ticket)
    by_comment = defaultdict(list)
    for attachment in attachments:
        if attachment.comment_id:
            by_comment[attachment.comment_id].append(attachment)
    for comment in comments:
        comment.files = by_comment.get(comment.id, [])
    return [attachment for attachment in attachments if attachment.comment_id is None]


def attachments_for(viewer: User, ticket_id: object) -> list[Attachment]:
    """Every attachment of a ticket `viewer` sees (NotFound otherwise), those of its comments included."""
    return _of_ticket(ticket_for(viewer, ticket_id))


def attachment_for(viewer: User, attachment_id: object) -> Attachment:
    """One attachment `viewer` may download, or NotFound: the same for one that exists out of sight."""
    attachment = first_of(Attachment.objects.filter(id=str(attachment_id)))
    if attachment is None:
        raise NotFound(NO_SUCH_ATTACHMENT)
    try:
        ticket_for(viewer, attachment.ticket_id)
    except NotFound:
        raise NotFound(NO_SUCH_ATTACHMENT) from None
    return attachment


def _of_ticket(ticket: Ticket) -> list[Attachment]:
    # A ticket's files are few: sorted here rather than by the query (tickets.selectors.comments_of).
    return sorted(with_people(Attachment.objects.filter(ticket_id=ticket.id), "uploader"), key=attrgetter("position"))
