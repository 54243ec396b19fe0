from django.conf import settings
from django.db import models

from directorate.db import ObjectIdModel, now


class AuditEntry(ObjectIdModel):
    """Niki's private record of who truly did what. Only Niki can read it."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=24, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ts = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["-ts"], name="audit_time")]
