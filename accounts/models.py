from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import models

from accounts.presentation import titled_name
from accounts.ranks import Rank, level
from directorate.db import ObjectIdModel, TimestampedModel, now

CHAIN_SEPARATOR = "/"


class UserManager(BaseUserManager):
    """Lookups for authentication. Creating people goes through `accounts.services`."""


class User(AbstractBaseUser, TimestampedModel):
    """A member of the Directorate (spec 2.1).

    `chain` is the materialised path of ids from the top of the hierarchy down to
    this user ("/<top>/.../<own id>/"), so a whole subtree is one prefix query.
    It is internal: never rendered, never sent to a client.
    """

    username = models.CharField(max_length=40, unique=True, validators=[UnicodeUsernameValidator()])
    display_name = models.CharField(max_length=80)
    email = models.EmailField(blank=True)
    service_number = models.PositiveIntegerField(unique=True)
    rank = models.CharField(max_length=10, choices=Rank.choices)
    reports_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="direct_reports"
    )
    chain = models.CharField(max_length=250, editable=False)
    hidden = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    credits = models.IntegerField(default=0)
    balance = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    # Every credit this member ever gained: the sum of their ledger entries' positive credits, never lowered. Kept
    # with the wallet (economy.ledger.post); it bounds what they can have gained in any period, so the analytics'
    # top earners read only the members who can lead (docs/rules.md section 26).
    credits_gained = models.BigIntegerField(default=0)
    # How many of this member's notifications are unread: kept here, in the same atomic unit as the notifications
    # (accounts.services), because every page's masthead shows it and this row is loaded for every page anyway.
    unread_notifications = models.IntegerField(default=0)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name", "rank"]

    class Meta:
        indexes = [
            models.Index(fields=["reports_to"], name="user_reports_to"),
            models.Index(fields=["chain"], name="user_chain"),
            models.Index(fields=["rank"], name="user_rank"),
            # The analytics' credits by rank: members, sum, lowest, highest and the median read from it alone.
            models.Index(fields=["rank", "credits"], name="user_rank_credits"),
            # The analytics' top earners: the members who gained most, over all ranks or in one.
            models.Index(fields=["credits_gained"], name="user_credits_gained"),
            models.Index(fields=["rank", "credits_gained"], name="user_rank_credits_gained"),
        ]

    def __str__(self):
        return titled_name(self.rank, self.display_name)

    def clean(self):
        superior = self.reports_to
        if self.rank == Rank.NIKI:
            if superior is not None:
                raise ValidationError({"reports_to": "Niki reports to no one."})
        elif superior is None:
            raise ValidationError({"reports_to": "Everyone but Niki reports to a superior."})
        elif level(superior.rank) <= level(self.rank):
            raise ValidationError({"reports_to": "A superior must hold a higher rank."})

    def save(self, *args, **kwargs):
        if self._state.adding and not self.chain:
            self.chain = self.chain_below(self.reports_to)
        elif self.superior_ids[-1:] != ([self.reports_to_id] if self.reports_to_id else []):
            raise ValueError("A superior changes only through accounts.services.move_member, which keeps the chain.")
        super().save(*args, **kwargs)

    def chain_below(self, superior):
        """The chain this user has when reporting to `superior`."""
        prefix = superior.chain if superior else CHAIN_SEPARATOR
        return f"{prefix}{self.id}{CHAIN_SEPARATOR}"

    @property
    def superior(self) -> "User":
        """Whom this member reports to. Everyone but the top of the hierarchy has one (`clean`): asking the top
        is a mistake in the code, never in someone's input."""
        if self.reports_to is None:
            raise LookupError("The top of the hierarchy reports to no one.")
        return self.reports_to

    @property
    def superior_ids(self):
        """Ids of everyone above this user, top first."""
        return self.chain.strip(CHAIN_SEPARATOR).split(CHAIN_SEPARATOR)[:-1]

    @property
    def level(self):
        return level(self.rank)

    def is_above(self, other):
        """True when `other` is somewhere in this user's reporting subtree."""
        return other.id != self.id and other.chain.startswith(self.chain)


class Notification(ObjectIdModel):
    """Something worth a person's attention (spec 2.4)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=500)
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.CASCADE)
    read = models.BooleanField(default=False)
    ts = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["user", "read", "-ts"], name="notification_inbox")]


class LoginFailure(ObjectIdModel):
    """One failed sign-in, counted per account name and per client address."""

    class Scope(models.TextChoices):
        ACCOUNT = "account"
        ADDRESS = "address"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    key = models.CharField(max_length=150)
    ts = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["scope", "key", "ts"], name="login_failure_lookup")]


class RankChange(ObjectIdModel):
    """The record of every change of rank or superior, written in the same atomic unit as the change."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="rank_changes")
    from_rank = models.CharField(max_length=10, choices=Rank.choices)
    to_rank = models.CharField(max_length=10, choices=Rank.choices)
    from_superior = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_superior = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ts = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["user", "-ts"], name="rank_change_user")]


class RefreshToken(ObjectIdModel):
    """One refresh token of the JSON API (accounts/tokens.py), kept to detect reuse and to revoke.

    Only a hash of the token's `jti` is stored. Tokens issued by one sign-in share a `family`; using a
    spent token again revokes the whole family (the sign-out of a stolen token's every copy).
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_tokens")
    family = models.CharField(max_length=24)
    jti_hash = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["family"], name="refresh_token_family"),
            models.Index(fields=["user", "expires_at"], name="refresh_token_user"),
        ]


class LiveEvent(ObjectIdModel):
    """The live event log: every event sent to a member's open pages and API sockets, in commit order.

    Rows are written once the writing unit has committed (`directorate.events.publish`, then `accounts.live`),
    numbered by `seq`, which grows in commit order: a new row takes the largest number plus one inside its own
    atomic unit, and the unique constraint refuses a second row with the same number (the loser retries).
    Server processes relay new rows to their sockets (`accounts.relay`), and API clients ask for what they
    missed since a number (docs/api.md). The worker deletes rows older than 7 days.

    A row names one recipient, or, for a publish to many members (today, a broadcast), `recipient_id` is
    "*" and `data` is {"shared": ..., "each": {member id: ...}}: one row for all of them (`accounts.live`). Rows
    named "sockets_closed" ask a member's sockets to close (a sign-out from another process) and are never sent
    to clients.
    """

    seq = models.BigIntegerField(unique=True)
    recipient_id = models.CharField(max_length=24)
    event = models.CharField(max_length=40)
    data = models.JSONField()
    at = models.DateTimeField(default=now)

    class Meta:
        indexes = [
            models.Index(fields=["recipient_id", "seq"], name="live_event_recipient_seq"),
            models.Index(fields=["at"], name="live_event_at"),
        ]

    def __str__(self):
        return f"{self.seq} {self.event} -> {self.recipient_id}"
