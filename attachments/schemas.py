"""Schemas of the JSON API for attachments. The uploader is shown through `accounts.schemas.person_out`."""

from datetime import datetime

from django.urls import reverse
from ninja import Schema

from accounts.schemas import PersonOut, person_out


class AttachmentOut(Schema):
    id: str
    ticket_id: str
    comment_id: str | None
    filename: str
    content_type: str
    size: int
    sha256: str
    uploader: PersonOut
    created_at: datetime
    download: str


def attachment_out(attachment):
    return AttachmentOut(
        id=attachment.id,
        ticket_id=attachment.ticket_id,
        comment_id=attachment.comment_id,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        sha256=attachment.sha256,
        uploader=person_out(attachment.uploader),
        created_at=attachment.created_at,
        download=reverse("api:download_attachment", kwargs={"attachment_id": attachment.id}),
    )
