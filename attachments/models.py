from django.conf import settings
from django.db import models

from directorate.db import ObjectIdModel, now


class Attachment(ObjectIdModel):
    """A file attached to a ticket, or to one of its comments. The bytes live in the attachments storage."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        "tickets.Comment", null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField(help_text="1 for a ticket's first attachment, 2 for its second, ...")
    filename = models.CharField(max_length=120, help_text="The uploader's file name, sanitised; shown, never a path.")
    content_type = models.CharField(max_length=50, help_text="The type verified from the file's content.")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_name = models.CharField(max_length=24, unique=True, help_text="A random ObjectId, never user input.")
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            # Two uploads racing for a ticket's last free place cannot both take it.
            models.UniqueConstraint(fields=["ticket", "position"], name="one_attachment_per_position"),
        ]

    def __str__(self):
        return self.filename

    @property
    def type_label(self):
        return TYPE_LABELS.get(self.content_type, self.content_type)


TYPE_LABELS = {
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/gif": "GIF image",
    "application/pdf": "PDF",
    "text/plain": "Text",
    "text/csv": "CSV",
}
