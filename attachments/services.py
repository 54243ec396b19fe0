"""Writes of attachments: files added to a ticket, or to a comment of its thread.

Who may attach is who may comment (tickets.services.commentable_ticket): anyone who sees the ticket,
until it closes. A file is judged by its content before anything is written (attachments/content.py);
its row, the ticket's change and the notifications are one atomic unit, and the bytes are stored
last in that unit and removed again if the unit fails (at its commit too), so a refused or failed
attachment leaves neither a row nor a file.
"""

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError

from accounts.models import User
from accounts.presentation import shown_name
from attachments.content import Inspected, inspect_upload
from attachments.models import Attachment
from attachments.storage import attachment_storage
from directorate.db import atomic, first_of, new_object_id, on_rollback, retry_on_write_conflict
from directorate.errors import Conflict, Forbidden, Invalid, NotFound
from tickets.models import Comment, Ticket
from tickets.services import add_comment, commentable_ticket, record_addition

MAX_PER_TICKET = 20


@retry_on_write_conflict
def attach_to_ticket(*, actor: User, ticket_id: object, upload: File) -> Attachment:
    """Attach `upload` (a Django File) to a ticket `actor` sees and may comment on."""
    inspected = _inspect(upload)
    ticket = commentable_ticket(actor, ticket_id)
    with atomic():
        attachment = _new_attachment(ticket, actor=actor, inspected=inspected)
        record_addition(
            ticket, actor=actor, message=f"{shown_name(actor)} attached {inspected.filename} to: {ticket.title}"
        )
        _store(attachment, upload)
    return attachment


@retry_on_write_conflict
def attach_to_comment(*, actor: User, comment_id: object, upload: File) -> Attachment:
    """Attach `upload` to a comment of `actor`'s own, on a ticket still open to comments."""
    inspected = _inspect(upload)
    comment = first_of(Comment.objects.filter(id=str(comment_id)))
    if comment is None:
        raise NotFound("No such comment.")
    try:
        ticket = commentable_ticket(actor, comment.ticket_id)
    except NotFound:
        raise NotFound("No such comment.") from None
    if comment.author_id != actor.id:
        raise Forbidden("Only a comment's author attaches files to it.")
    with atomic():
        attachment = _new_attachment(ticket, actor=actor, inspected=inspected, comment=comment)
        record_addition(ticket, actor=actor)
        _store(attachment, upload)
    return attachment


@retry_on_write_conflict
def comment_with_attachment(
    *, actor: User, ticket_id: object, body_md: str, upload: File | None = None
) -> tuple[Comment, Attachment | None]:
    """A comment with an optional file, as one unit: a refused file adds no comment. Returns both."""
    if upload is None:
        return add_comment(actor=actor, ticket_id=ticket_id, body_md=body_md), None
    _inspect(upload)  # refuse a bad file before the comment is written
    with atomic():
        comment = add_comment(actor=actor, ticket_id=ticket_id, body_md=body_md)
        attachment = attach_to_comment(actor=actor, comment_id=comment.id, upload=upload)
    return comment, attachment


def _inspect(upload: File | None) -> Inspected:
    if upload is None:
        raise Invalid("Choose a file to attach.", field_errors={"file": ["Required."]})
    return inspect_upload(upload, max_bytes=settings.ATTACHMENT_MAX_BYTES)


def _new_attachment(ticket: Ticket, *, actor: User, inspected: Inspected, comment: Comment | None = None) -> Attachment:
    last = (
        Attachment.objects.filter(ticket_id=ticket.id).order_by("-position").values_list("position", flat=True).first()
    )
    position = (last or 0) + 1
    if position > MAX_PER_TICKET:
        message = f"A ticket holds at most {MAX_PER_TICKET} attachments."
        raise Invalid(message, field_errors={"file": [message]})
    try:
        return Attachment.objects.create(
            ticket=ticket,
            comment=comment,
            uploader=actor,
            position=position,
            filename=inspected.filename,
            content_type=inspected.content_type,
            size=inspected.size,
            sha256=inspected.sha256,
            storage_name=new_object_id(),
        )
    except IntegrityError:
        # Another file took this place meanwhile (unique ticket and position).
        raise Conflict("Another file was attached meanwhile; try again.") from None


def _store(attachment: Attachment, upload: File) -> None:
    upload.seek(0)
    stored = attachment_storage().save(attachment.storage_name, upload)
    # The bytes are not in the database's unit: should the unit fail, at its commit too, they go with it.
    on_rollback(lambda: attachment_storage().delete(stored))
    if stored != attachment.storage_name:
        attachment_storage().delete(stored)
        raise Conflict("The file could not be stored; try again.")
