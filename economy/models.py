from decimal import Decimal

from django.conf import settings
from django.db import models

from directorate.db import ObjectIdModel, now


class LedgerQuerySet(models.QuerySet):
    """The ledger is append-only: rows are never changed or removed in bulk."""

    def update(self, **kwargs):
        raise TypeError("Ledger transactions are append-only.")

    def delete(self):
        raise TypeError("Ledger transactions are append-only.")


class Transaction(ObjectIdModel):
    """One ledger entry (spec 2.3). Credits and balance of a user are the sums of theirs."""

    class Type(models.TextChoices):
        CREDIT_AWARD = "credit_award", "Credit award"
        PAYMENT = "payment", "Payment"
        MANUAL_ADJ = "manual_adj", "Manual adjustment"
        SALARY = "salary", "Weekly salary"
        DECAY = "decay", "Credit decay"
        REVERSAL = "reversal", "Reversal"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transactions")
    type = models.CharField(max_length=20, choices=Type.choices)
    amount_cr = models.IntegerField(default=0)
    amount_pay = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    related_ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.PROTECT, related_name="transactions"
    )
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    period = models.CharField(max_length=8, blank=True, default="")  # a payroll week such as 2026-W48
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For a reversal: the entry it undoes (an award, a payment or a manual adjustment).",
    )
    ts = models.DateTimeField(default=now)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["user", "-ts"], name="ledger_user_time"),
            models.Index(fields=["-ts"], name="ledger_time"),  # analytics read a period of everyone's entries
        ]
        constraints = [
            # A ticket pays out at most once: one credit award and one payment, ever.
            models.UniqueConstraint(
                fields=["related_ticket"], condition=models.Q(type="credit_award"), name="one_credit_award_per_ticket"
            ),
            models.UniqueConstraint(
                fields=["related_ticket"], condition=models.Q(type="payment"), name="one_payment_per_ticket"
            ),
            # An entry is reversed at most once, however many reviewers try at the same moment.
            models.UniqueConstraint(
                fields=["reverses"], condition=models.Q(type="reversal"), name="one_reversal_per_entry"
            ),
            # A payroll week pays each member one salary and decays their credits once, however often it runs.
            models.UniqueConstraint(
                fields=["user", "period"], condition=models.Q(type="salary"), name="one_salary_per_member_and_week"
            ),
            models.UniqueConstraint(
                fields=["user", "period"], condition=models.Q(type="decay"), name="one_decay_per_member_and_week"
            ),
        ]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Ledger transactions are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Ledger transactions are append-only.")


class PayrollRun(ObjectIdModel):
    """A payroll week that has been paid in full. Written once, after every member of the week is settled."""

    period = models.CharField(max_length=8, unique=True)
    completed_at = models.DateTimeField(default=now)


class LedgerDay(ObjectIdModel):
    """The ledger summed per UTC day, member rank and entry type: what the economy analytics read over a period.

    Kept by `economy.ledger` in the same atomic unit as every ledger entry it sums (and moved between ranks when
    a member's rank changes), so it always equals the ledger; tests/invariants.py checks that after every test.
    `rank` is the member's current rank, as the analytics' rank filter means it.
    """

    day = models.DateField()
    rank = models.CharField(max_length=16)
    type = models.CharField(max_length=20, choices=Transaction.Type.choices)
    credits = models.BigIntegerField(default=0)
    pay = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0.00"))
    entries = models.IntegerField(default=0)

    class Meta:
        constraints = [
            # One row per key, so that two writers on the same day add to one row (the second one's insert fails).
            models.UniqueConstraint(fields=["day", "rank", "type"], name="one_ledger_day_per_rank_and_type"),
        ]


class LedgerMemberDay(ObjectIdModel):
    """The ledger summed per member and UTC day, all entry types together: the analytics' top earners over a period.

    Kept like `LedgerDay`, in the same atomic unit as every entry; `rank` is the member's current rank (it
    changes with theirs), so that a rank filter needs no join.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    day = models.DateField()
    rank = models.CharField(max_length=16)
    credits = models.BigIntegerField(default=0)
    pay = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0.00"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="one_ledger_member_day"),
        ]
        indexes = [
            # Everything the top earners read, in member order: one pass sums each member's days, no sort.
            models.Index(fields=["user", "day", "rank", "credits"], name="ledger_member_day_credits"),
            # The top earners over a period, when they are summed over it (analytics.selectors): only the period's
            # rows, whatever the history before it, credits and pay together.
            models.Index(fields=["day", "user", "rank", "credits", "pay"], name="ledger_member_day_by_day"),
        ]
