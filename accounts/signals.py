"""Signals of the accounts app, for the apps above it (accounts imports no other app)."""

from django.dispatch import Signal

# Sent by `accounts.services.move_member` inside the atomic unit that changes a member's rank, with
# `member_id`, `old_rank` and `new_rank`: whatever is kept per rank (economy's daily ledger totals) moves with
# the member in the same unit.
rank_changed = Signal()
