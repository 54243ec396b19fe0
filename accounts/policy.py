"""The permission matrix of spec section 3, as one table.

Each cell says which targets a rank may act on. `can(actor, action, target)` is
the only way the rest of the code asks a permission question; services call it
before every write, selectors mirror it in their queries.

Targets are users: for ticket actions, the person whose work it is (the ticket's
assignee or author); for broadcasts, a member of the audience.
"""

from dataclasses import dataclass
from enum import StrEnum

from accounts.ranks import Rank, level


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

# Spec section 3, with the decisions of DESIGN.md and docs/rules.md:
# - "Escalation approval, executor (<= executor)" applies to subordinates, who
#   always rank below an executor, hence up to marshal.
# - Creating a ticket is upward (to your direct superior) or a directive (to
#   yourself or a subordinate); Nyx and Niki issue directives only.
# - Manual adjustments: marshal and up, over subordinates.
# - Economy analytics (spec 11): marshal and up, over their subtree including themselves.
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
    Action.VIEW_ANALYTICS: row(
        NO, NO, self_or_subordinates(), self_or_subordinates(), self_or_subordinates(), ANYONE
    ),
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
