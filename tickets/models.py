from decimal import Decimal

from django.conf import settings
from django.db import models

from accounts.ranks import Rank
from directorate.db import ObjectIdModel, TimestampedModel, now
from tickets.categories import CATEGORY_CHOICES, SUB_CATEGORY_CHOICES
from tickets.search import FtsColumn

PROMOTION = ("Personnel", "Promotion Request")
DEMOTION = ("Personnel", "Demotion Request")
RANK_CHANGES = (PROMOTION, DEMOTION)


class Ticket(TimestampedModel):
    """A unit of work (spec 2.2). Watchers and the approval log are related rows."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        AWAITING_REVIEW = "awaiting_review", "Awaiting review"
        CLOSED = "closed", "Closed"

    class Visibility(models.TextChoices):
        PRIVATE = "private", "Private"
        HIERARCHICAL = "hierarchical", "Hierarchical"

    title = models.CharField(max_length=200)
    body_md = models.TextField(blank=True)
    category = models.CharField(max_length=20, choices=CATEGORY_CHOICES)
    sub_category = models.CharField(max_length=30, choices=SUB_CATEGORY_CHOICES)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    visibility = models.CharField(max_length=20, choices=Visibility.choices, default=Visibility.HIERARCHICAL)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authored_tickets")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assigned_tickets")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="review_queue"
    )
    watchers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TicketWatcher", related_name="watched_tickets", blank=True
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For personnel tickets: the person the request is about.",
    )
    target_rank = models.CharField(max_length=10, choices=Rank.choices)
    reward_credits = models.IntegerField(default=0)
    reward_pay = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who proposed the current reward amounts: the submitter, or a reviewer who changed them.",
    )
    hours_worked = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    submitted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the work was last submitted for review (review latency starts here)."
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["assignee", "status", "-updated_at"], name="ticket_assignee_status"),
            models.Index(fields=["author", "-updated_at"], name="ticket_author"),
            models.Index(fields=["reviewer", "status", "-updated_at"], name="ticket_review_queue"),
            models.Index(fields=["status", "-updated_at"], name="ticket_status"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_recent"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_rank_change(self):
        """A Personnel / Promotion or Demotion Request: decided by approval or denial, with no work to start."""
        return (self.category, self.sub_category) in RANK_CHANGES

    @property
    def is_promotion_request(self):
        """A Personnel / Promotion Request about someone: approving it raises its subject one rank."""
        return (self.category, self.sub_category) == PROMOTION and self.subject_id is not None


class TicketWatcher(ObjectIdModel):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="watcher_links")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watched_links")
    added_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "user"], name="one_watch_per_person")]
        indexes = [models.Index(fields=["user"], name="watcher_user")]


class ApprovalStep(ObjectIdModel):
    """One entry of a ticket's approval log: who reviewed, with which amounts, and what followed."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        ESCALATED = "escalated", "Escalated"
        RECOMMENDED = "recommended", "Recommended and escalated"
        SENT_BACK = "sent_back", "Sent back for rework"
        DENIED = "denied", "Denied"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="approval_log")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    credits = models.IntegerField()
    pay = models.DecimalField(max_digits=12, decimal_places=2)
    note = models.CharField(max_length=500, blank=True)
    ts = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["ticket", "ts"], name="approval_step_ticket")]


class Comment(ObjectIdModel):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body_md = models.TextField()
    created_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["ticket", "created_at"], name="comment_thread")]


class SearchTerm(ObjectIdModel):
    """One word of a ticket's title, body or comments, for the word index (tickets/search.py) that serves
    full-text search on databases without SQLite's FTS5, such as MongoDB. `weight` counts the word's
    occurrences, a title's ten times and a comment's once;"""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    term = models.CharField(max_length=40)
    weight = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["term", "ticket"], name="search_term"),
            models.Index(fields=["ticket"], name="search_term_ticket"),
        ]


class TicketSearchRow(models.Model):
    """A row of SQLite's FTS5 table `ticket_search` (created by migration 0006 on SQLite only; tickets/search.py).

    Not managed by Django: a virtual table that Django cannot create. Read only through tickets/search.py.
    """

    rowid = models.IntegerField(primary_key=True, db_column="rowid")
    ticket = models.OneToOneField(
        Ticket, db_column="ticket_id", db_constraint=False, on_delete=models.DO_NOTHING, related_name="search_row"
    )
    title = FtsColumn()
    body = FtsColumn()
    comments = FtsColumn()
    seen_by = FtsColumn()

    class Meta:
        managed = False
        db_table = "ticket_search"


class ReviewDay(ObjectIdModel):
    """Closed tickets counted per UTC day of their close, assignee's current rank and review-time bucket: what
    the analytics' escalation rate and review times read over a period (docs/rules.md section 26).

    Kept by `tickets.review_totals` in the same atomic unit as every close (and moved between ranks when a
    member's rank changes), so it always equals the closed tickets; tests/invariants.py checks that after every
    test. `bucket` is `review_totals.bucket_of` the ticket's review time, or `NOT_REVIEWED` for a ticket closed
    without a recorded submission.
    """

    day = models.DateField()
    rank = models.CharField(max_length=16)
    bucket = models.IntegerField()
    closed = models.IntegerField(default=0)
    escalated = models.IntegerField(default=0)  # of `closed`, those with an escalation in their approval log

    class Meta:
        constraints = [
            # One row per key, so that two closes on the same day add to one row (the second one's insert fails).
            models.UniqueConstraint(fields=["day", "rank", "bucket"], name="one_review_day_per_rank_and_bucket"),
        ]
        indexes = [
            # Everything the analytics read, in the order they read it: no table lookup.
            models.Index(fields=["day", "rank", "bucket", "closed", "escalated"], name="review_day_figures"),
        ]
