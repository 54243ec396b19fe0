"""Checks shared by the ticket, reward and ledger suites.

`assert_ledger_invariant` is docs/rules.md section 3 ("Payment"): for every member, credits equal the sum of
their ledger entries' credits and balance equals the sum of their entries' pay (and the credits gained the sum of
their positive credits, section 26). `assert_unread_counts`: every member's unread count equals their unread
notifications. `assert_ledger_days_match`: the daily ledger totals the
analytics read (economy.models.LedgerDay, LedgerMemberDay) equal the ledger summed per day, rank and type, and
per member and day. `assert_review_days_match`: the daily review totals (tickets.models.ReviewDay) equal the closed
tickets counted per day of the close, assignee's rank and review-time bucket.
`database_state` captures everything a refused request must leave untouched.
"""

import re
from collections import defaultdict
from decimal import Decimal

from accounts.models import Notification, RankChange, User
from economy.ledger import ledger_day_mismatches
from economy.models import LedgerDay, LedgerMemberDay, Transaction
from tickets.models import ApprovalStep, Comment, ReviewDay, Ticket, TicketWatcher
from tickets.review_totals import review_day_mismatches


def assert_ledger_invariant():
    """Fail, naming each member whose wallet and ledger disagree. Returns the number of members checked."""
    credits, gained = defaultdict(int), defaultdict(int)
    pay = defaultdict(lambda: Decimal("0.00"))
    for user_id, amount_cr, amount_pay in Transaction.objects.values_list("user_id", "amount_cr", "amount_pay"):
        credits[user_id] += amount_cr
        gained[user_id] += max(amount_cr, 0)
        pay[user_id] += amount_pay
    members = list(User.objects.values_list("id", "username", "credits", "balance", "credits_gained"))
    broken = [
        f"{username}: wallet {wallet_credits} cr / {balance} pay / {kept_gained} cr gained, "
        f"ledger {credits[user_id]} cr / {pay[user_id]} pay / {gained[user_id]} cr gained"
        for user_id, username, wallet_credits, balance, kept_gained in members
        if wallet_credits != credits[user_id] or balance != pay[user_id] or kept_gained != gained[user_id]
    ]
    assert not broken, "ledger invariant broken: " + "; ".join(broken)
    return len(members)


def assert_ledger_days_match():
    """Fail, naming each (day, rank, type) whose daily total disagrees with the ledger."""
    broken = ledger_day_mismatches()
    assert not broken, "daily ledger totals broken: " + "; ".join(broken)


def assert_review_days_match():
    """Fail, naming each (day, rank, bucket) whose daily review total disagrees with the closed tickets."""
    broken = review_day_mismatches()
    assert not broken, "daily review totals broken: " + "; ".join(broken)


def assert_unread_counts():
    """Fail, naming each member whose unread count (kept on their row) disagrees with their notifications."""
    unread = defaultdict(int)
    for user_id in Notification.objects.filter(read=False).values_list("user_id", flat=True):
        unread[user_id] += 1
    broken = [
        f"{username}: {kept} kept, {unread[user_id]} unread"
        for user_id, username, kept in User.objects.values_list("id", "username", "unread_notifications")
        if kept != unread[user_id]
    ]
    assert not broken, "unread counts broken: " + "; ".join(broken)


def database_state():
    """Every row count and every ticket and wallet field a refused request must not change."""
    return {
        "tickets": sorted(
            Ticket.objects.values_list(
                "id",
                "status",
                "reviewer_id",
                "assignee_id",
                "reward_credits",
                "reward_pay",
                "proposed_by_id",
                "hours_worked",
                "updated_at",
                "closed_at",
            )
        ),
        "transactions": Transaction.objects.count(),
        "ledger_days": sorted(LedgerDay.objects.values_list("day", "rank", "type", "credits", "pay", "entries")),
        "ledger_member_days": sorted(LedgerMemberDay.objects.values_list("user_id", "day", "rank", "credits", "pay")),
        "review_days": sorted(ReviewDay.objects.values_list("day", "rank", "bucket", "closed", "escalated")),
        "approval_steps": ApprovalStep.objects.count(),
        "notifications": Notification.objects.count(),
        "comments": Comment.objects.count(),
        "watchers": TicketWatcher.objects.count(),
        "rank_changes": RankChange.objects.count(),
        "members": sorted(
            User.objects.values_list(
                "id", "rank", "reports_to_id", "chain", "credits", "balance", "unread_notifications"
            )
        ),
    }


def traces_of_niki(text, niki):
    """What in `text` (a page, an API answer, an event) would give Niki away."""
    found = []
    if re.search(r"\bniki\b", text, re.IGNORECASE):
        found.append("the name Niki")
    if re.search(rf"\b{re.escape(niki.username)}\b", text):
        found.append("Niki's service name")
    if re.search(r"\b7360\b", text):
        found.append("service number 7360")
    if niki.id in text:
        found.append("Niki's id")
    return found
