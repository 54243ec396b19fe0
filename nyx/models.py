from django.conf import settings
from django.db import models

from directorate.db import ObjectIdModel, now


class AuditEntry(ObjectIdModel):
    """Niki's private record of who truly did what. Only Niki can read it."""

    class Result(models.TextChoices):
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=24, blank=True)
    # The member the command was about: the person adjusted or moved, or the assignee of the ticket.
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Result.choices, default=Result.DONE)
    detail = models.JSONField(default=dict, blank=True)
    ts = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["-ts"], name="audit_time"),
            models.Index(fields=["subject", "-ts"], name="audit_subject"),
        ]


class NyxAction(ObjectIdModel):
    """One thing Nyx did or tried: what asked for it, what the model said, and what the rules made of it."""

    class Trigger(models.TextChoices):
        CONSOLE_DIRECTIVES = "console_directives", "Directives asked on the console"
        CONSOLE_REVIEW = "console_review", "Review asked on the console"
        WORKER_REVIEW = "worker_review", "Review reached Nyx"
        SCHEDULE = "schedule", "Scheduled routine directives"

    class Mode(models.TextChoices):
        GEMINI = "gemini", "Gemini 2.5 Flash"
        OFFLINE = "offline", "Offline rules"

    class Result(models.TextChoices):
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"

    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    prompt_summary = models.CharField(max_length=500, blank=True)
    raw_output = models.TextField(blank=True)  # bounded by nyx.client's output cap
    action_type = models.CharField(max_length=30, blank=True)
    parsed_action = models.JSONField(default=dict, blank=True)
    reasoning = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Result.choices)
    reason = models.CharField(max_length=500, blank=True)
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="nyx_actions"
    )
    ts = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["-ts"], name="nyx_action_time"),
            models.Index(fields=["ticket", "-ts"], name="nyx_action_ticket"),
        ]


class NyxSchedule(ObjectIdModel):
    """A recurring job's last claimed period. A worker claims a period with a conditional update,
    so two workers never both run the same one."""

    name = models.CharField(max_length=40, unique=True)
    period = models.CharField(max_length=40, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
