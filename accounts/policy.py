"""The permission matrix of spec section 3, as one table, and the one vocabulary for asking it.

Each cell says which targets a rank may act on. The rest of the code asks permission questions only
through the functions of this module: `can(actor, action, target)`, `may_at_all(actor, action)`,
`sees_everyone(actor, action)`, `is_niki(user)` and the ticket-role predicates below (`may_decide`,
`may_promote`, ...). Nothing outside this module reads a grant or a reach. Services call these before
every write; selectors mirror them in their queries (tests/test_policy.py checks each pair agrees).

Targets are users: for ticket actions, the person whose work it is (the ticket's
assignee or author); for broadcasts, a member of the audience.
"""

from dataclasses import dataclass
from enum import StrEnum

from accounts.ranks import HUMAN_RANKS, Rank, level, rank_above


class Action(StrEnum):
    VIEW_OWN_TICKETS = "view_own_tickets"
    VIEW_SUBORDINATE_TICKETS = "view_subordinate_tickets"
    CREATE_TICKET_UPWARD = "create_ticket_upward"
    CREATE_DIRECTIVE = "create_directive"
    SUBMIT_REWARD = "submit_reward"
    APPROVE_NORMAL_REWARD = "approve_normal_reward"
    APPROVE_ESCALATION = "approve_escalation"
    APPROVE_PROMOTION = "approve_promotion"
    ADJUST_CREDITS = "adjust_credits"
    BROADCAST = "broadcast"
    HIDDEN_OVERRIDE = "hidden_override"
    VIEW_PERSON = "view_person"
    VIEW_ANALYTICS = "view_analytics"
    VIEW_LEDGER = "view_ledger"
    USE_NYX_CONSOLE = "use_nyx_console"


class Reach(StrEnum):
    NOBODY = "nobody"
    SELF = "self"
    DIRECT_SUPERIOR = "direct_superior"
    SELF_OR_SUBORDINATES = "self_or_subordinates"
    SUBORDINATES = "subordinates"
    CHAIN_OF_COMMAND = "chain_of_command"  # self, superiors, peers and subordinates
    ANYONE = "anyone"


@dataclass(frozen=True)
class Grant:
    reach: Reach
    up_to: Rank | None = None  # highest target rank allowed, for subordinate reaches

    def __str__(self):
        return f"{self.reach}" + (f" (up to {self.up_to})" if self.up_to else "")


NO = Grant(Reach.NOBODY)
SELF = Grant(Reach.SELF)
SUPERIOR = Grant(Reach.DIRECT_SUPERIOR)
CHAIN = Grant(Reach.CHAIN_OF_COMMAND)
ANYONE = Grant(Reach.ANYONE)


def subordinates(up_to=None):
    return Grant(Reach.SUBORDINATES, up_to)


def self_or_subordinates(up_to=None):
    return Grant(Reach.SELF_OR_SUBORDINATES, up_to)


def row(asset, shadow, marshal, executor, nyx, niki):
    return dict(zip(Rank, (asset, shadow, marshal, executor, nyx, niki), strict=True))


A, S, M, E = Rank.ASSET, Rank.SHADOW, Rank.MARSHAL, Rank.EXECUTOR

# Spec section 3, with the decisions of docs/architecture.md and docs/rules.md:
# - "Escalation approval, executor (<= executor)" applies to subordinates, who
#   always rank below an executor, hence up to marshal.
# - Creating a ticket is upward (to your direct superior) or a directive (to
#   yourself or a subordinate); Nyx and Niki issue directives only.
# - Manual adjustments: marshal and up, over subordinates.
# - Economy analytics (spec 11): marshal and up, over their subtree including themselves.
# - Reading a ledger: everyone their own; those who adjust credits (marshal and up) their subordinates' too.
# - Tasking Nyx in its console: those who command their subtree (the broadcast row), for themselves.
MATRIX = {
    Action.VIEW_OWN_TICKETS: row(SELF, SELF, SELF, SELF, SELF, SELF),
    Action.VIEW_SUBORDINATE_TICKETS: row(
        NO, subordinates(up_to=A), subordinates(up_to=S), subordinates(up_to=M), subordinates(), ANYONE
    ),
    Action.CREATE_TICKET_UPWARD: row(SUPERIOR, SUPERIOR, SUPERIOR, SUPERIOR, NO, NO),
    Action.CREATE_DIRECTIVE: row(
        SELF, self_or_subordinates(), self_or_subordinates(), self_or_subordinates(), self_or_subordinates(), ANYONE
    ),
    Action.SUBMIT_REWARD: row(SELF, SELF, SELF, SELF, NO, NO),
    Action.APPROVE_NORMAL_REWARD: row(NO, NO, subordinates(up_to=S), subordinates(up_to=M), subordinates(), ANYONE),
    Action.APPROVE_ESCALATION: row(NO, NO, NO, subordinates(up_to=M), subordinates(), ANYONE),
    Action.APPROVE_PROMOTION: row(NO, NO, subordinates(up_to=S), subordinates(up_to=M), subordinates(), ANYONE),
    Action.ADJUST_CREDITS: row(NO, NO, subordinates(), subordinates(), subordinates(), ANYONE),
    Action.BROADCAST: row(NO, NO, NO, subordinates(), subordinates(), ANYONE),
    Action.HIDDEN_OVERRIDE: row(NO, NO, NO, NO, NO, ANYONE),
    Action.VIEW_PERSON: row(CHAIN, CHAIN, CHAIN, CHAIN, CHAIN, ANYONE),
    Action.VIEW_ANALYTICS: row(NO, NO, self_or_subordinates(), self_or_subordinates(), self_or_subordinates(), ANYONE),
    Action.VIEW_LEDGER: row(SELF, SELF, self_or_subordinates(), self_or_subordinates(), self_or_subordinates(), ANYONE),
    Action.USE_NYX_CONSOLE: row(NO, NO, NO, SELF, SELF, SELF),
}


def grant_for(rank, action):
    return MATRIX[Action(action)][Rank(rank)]


def can(actor, action, target):
    """May `actor` perform `action` on `target` (a user)? For "at all", ask `may_at_all`."""
    if actor is None or not actor.is_active or target is None:
        return False
    grant = grant_for(actor.rank, action)
    if grant.reach == Reach.NOBODY:
        return False
    if grant.reach == Reach.ANYONE:
        return True
    if target.hidden and target.id != actor.id:
        return False  # only Niki is hidden, and only Niki may act on Niki
    return _reaches(actor, grant, target)


def _reaches(actor, grant, target):
    is_self = target.id == actor.id
    if grant.reach == Reach.SELF:
        return is_self
    if grant.reach == Reach.DIRECT_SUPERIOR:
        return target.id == actor.reports_to_id
    if grant.reach == Reach.CHAIN_OF_COMMAND:
        return (
            is_self
            or actor.is_above(target)
            or target.is_above(actor)
            or (actor.reports_to_id is not None and target.reports_to_id == actor.reports_to_id)
        )
    below = actor.is_above(target) and (grant.up_to is None or level(target.rank) <= level(grant.up_to))
    if grant.reach == Reach.SELF_OR_SUBORDINATES:
        return is_self or below
    return below  # Reach.SUBORDINATES


def rank_may_ever(rank, action):
    """Whether a rank holds `action` on anyone at all (for showing or hiding a control)."""
    return grant_for(rank, action).reach != Reach.NOBODY


def may_at_all(actor, action):
    """Whether `actor` may perform `action` on anyone, e.g. broadcast to their subtree."""
    return actor is not None and actor.is_active and rank_may_ever(actor.rank, action)


def sees_everyone(actor, action=Action.VIEW_PERSON):
    """Whether `actor`'s `action` reaches anyone at all (Niki's): a read for them needs no filter."""
    return actor is not None and actor.is_active and grant_for(actor.rank, action).reach == Reach.ANYONE


def directs_subordinates(actor):
    """Whether `actor` may address directives to subordinates, not only to themselves."""
    return may_at_all(actor, Action.CREATE_DIRECTIVE) and grant_for(actor.rank, Action.CREATE_DIRECTIVE).reach in (
        Reach.SELF_OR_SUBORDINATES,
        Reach.ANYONE,
    )


def may_request_about(actor, person):
    """Whether a personnel request by `actor` may concern `person`: themselves or a subordinate.

    The query form is `accounts.selectors.request_subjects`.
    """
    return actor is not None and person is not None and (person.id == actor.id or actor.is_above(person))


def is_niki(user):
    """Whether `user` is the hidden Controller: the one who holds the hidden override."""
    return bool(user is not None and user.is_authenticated and can(user, Action.HIDDEN_OVERRIDE, user))


def may_use_console(user):
    """Whether `user` may task Nyx in its console."""
    return bool(user is not None and user.is_authenticated and can(user, Action.USE_NYX_CONSOLE, user))


def may_view_analytics(user):
    """Whether `user` may open the economy analytics (over whom: `can(user, Action.VIEW_ANALYTICS, person)`)."""
    return bool(user is not None and user.is_authenticated and may_at_all(user, Action.VIEW_ANALYTICS))


# Ticket roles. A ticket is read by its attributes (status, author_id, assignee_id, reviewer_id,
# is_rank_change, is_promotion_request, subject); the two statuses these rules depend on are named here by value
# (tickets.models.Ticket.Status; tests/test_policy.py checks they agree).
AWAITING_REVIEW = "awaiting_review"
CLOSED = "closed"
HIERARCHICAL = "hierarchical"  # tickets.models.Ticket.Visibility; the other visibility is private


def is_involved(viewer, ticket):
    """Whether `viewer` sees `ticket` by their own part in it (author, assignee or reviewer), or sees every
    ticket: the part of `may_see_ticket` that needs the ticket's row alone."""
    if sees_everyone(viewer, Action.VIEW_SUBORDINATE_TICKETS):
        return True
    return viewer is not None and viewer.id in (ticket.author_id, ticket.assignee_id, ticket.reviewer_id)


def may_see_ticket(viewer, ticket, *, watching=False):
    """Whether `viewer` sees `ticket` (docs/rules.md): as its author, assignee or reviewer; and, unless it is
    private, as a watcher or over the assignee's or author's work (`Action.VIEW_SUBORDINATE_TICKETS`).

    The query form is `tickets.selectors.visible_tickets`.
    """
    if is_involved(viewer, ticket):
        return True
    if viewer is None or ticket.visibility != HIERARCHICAL:
        return False
    return watching or any(
        can(viewer, Action.VIEW_SUBORDINATE_TICKETS, person) for person in (ticket.assignee, ticket.author)
    )


def is_assignee(actor, ticket):
    """The assignee alone starts work, submits it, or (for ranks without rewards) closes it."""
    return actor is not None and ticket.assignee_id == actor.id


def may_submit(actor, ticket):
    """Whether `actor` submits `ticket`'s work for review with a reward proposal (their own work; a paid rank)."""
    return is_assignee(actor, ticket) and can(actor, Action.SUBMIT_REWARD, actor)


def may_close_without_reward(actor, ticket):
    """The assignee of a rank that earns no rewards (Nyx, Niki) closes the ticket instead of submitting it."""
    return is_assignee(actor, ticket) and not can(actor, Action.SUBMIT_REWARD, actor)


def may_decide(actor, ticket):
    """Whether `actor` decides `ticket` now: its current reviewer, while it awaits review.

    The query form is `tickets.selectors.review_queue`.
    """
    return actor is not None and ticket.status == AWAITING_REVIEW and ticket.reviewer_id == actor.id


def may_approve_abnormal(actor, assignee, *, own_proposal):
    """Whether `actor` closes an abnormal award for `assignee`: escalation authority over them, and not on
    amounts they wrote or a ticket they authored (Niki excepted)."""
    return can(actor, Action.APPROVE_ESCALATION, assignee) and (not own_proposal or is_niki(actor))


def may_add_watchers(actor, ticket):
    """Who adds someone else as a watcher: the ticket's author, assignee or reviewer."""
    return actor is not None and actor.id in (ticket.author_id, ticket.assignee_id, ticket.reviewer_id)


def may_remove_watchers(actor, ticket):
    """Who removes someone else from the watchers: the ticket's author or assignee."""
    return actor is not None and actor.id in (ticket.author_id, ticket.assignee_id)


def may_raise_to(actor, new_rank):
    """Whether a promotion approved by `actor` may reach `new_rank`: a human rank, below the approver's own
    (Niki excepted)."""
    return new_rank in HUMAN_RANKS and (is_niki(actor) or level(new_rank) < level(actor.rank))


def may_promote(actor, ticket):
    """Whether `actor` decides `ticket`, an open promotion or demotion request (approve or deny): its current
    reviewer, or anyone else who may approve promotions of its subject, a promotion only to a rank below their
    own (Niki excepted) and never past executor, a demotion only above asset."""
    subject = ticket.subject if ticket.is_rank_change and ticket.subject_id else None
    if subject is None or ticket.status == CLOSED:
        return False
    if ticket.reviewer_id == actor.id:
        return True
    if subject.rank not in HUMAN_RANKS or not can(actor, Action.APPROVE_PROMOTION, subject):
        return False
    if ticket.is_promotion_request:
        return may_raise_to(actor, rank_above(subject.rank))
    return subject.rank != Rank.ASSET
