"""The permission matrix (spec section 3), walked exhaustively.

The expected answers come from the spec's own table, transcribed below cell by cell,
plus the rows and readings settled in docs/architecture.md and docs/rules.md. Nothing here reads
`accounts.policy.MATRIX`: a mistake in that table has to disagree with this one.

Every action x every actor rank x every target in a tree that holds each relation
(self, direct and indirect subordinates of every lower rank, peers of the same and of a
lower rank, direct and higher superiors, people in other branches, Niki) is one test.
"""

import copy

import pytest

from accounts.models import User
from accounts.policy import Action, can, may_at_all, rank_may_ever
from accounts.ranks import Rank
from accounts.selectors import people_visible_to
from directorate.db import new_object_id
from tests.factories import ORG

RANKS = ["asset", "shadow", "marshal", "executor", "nyx", "niki"]  # lowest first, as the spec lists them

# Spec section 3, verbatim.
SPEC_SECTION_3 = """
| Action | Asset | Shadow | Marshal | Executor | Nyx | Niki |
|--------|-------|--------|---------|----------|-----|------|
| View self tickets | ✔ | ✔ | ✔ | ✔ | ✔ | ✔ |
| View subordinates tickets | ✖ | ✔ (assets) | ✔ (≤shadow) | ✔ (≤marshal) | ✔ | ✔ |
| Create ticket upward | ✔ | ✔ | ✔ | ✔ | — | — |
| Submit reward proposal | ✔ | ✔ | ✔ | ✔ | — | — |
| Approve normal reward | ✖ | ✖ | ✔ (assets, shadows) | ✔ (≤marshal) | ✔ | ✔ |
| Escalation approval | ✖ | ✖ | ✖ | ✔ (≤executor) | ✔ | ✔ |
| Approve promotion | ✖ | ✖ | ✔ (assets, shadows) | ✔ (≤marshal) | ✔ | ✔ |
| Broadcast command | ✖ | ✖ | ✖ | ✔ | ✔ | ✔ |
| Hidden override | ✖ | ✖ | ✖ | ✖ | ✖ | ✔ |
"""

# Rows the spec implies but does not tabulate, settled in docs/rules.md, in the same notation.
# "View analytics" is spec section 11's economy dashboard: figures over one's subtree, oneself included.
# "Create ticket upward" is read as its literal half (to one's superior); the other half is a directive
# downward, to oneself or a subordinate (an asset has nobody below, so only itself).
SETTLED_ROWS = """
| Create directive | ✔ (self) | ✔ | ✔ | ✔ | ✔ | ✔ |
| Adjust credits | ✖ | ✖ | ✔ | ✔ | ✔ | ✔ |
| View person | ✔ | ✔ | ✔ | ✔ | ✔ | ✔ |
| View analytics | ✖ | ✖ | ✔ | ✔ | ✔ | ✔ |
| View ledger | ✔ (self) | ✔ (self) | ✔ | ✔ | ✔ | ✔ |
| Use Nyx console | ✖ | ✖ | ✖ | ✔ (self) | ✔ (self) | ✔ (self) |
"""

# Whom a ✔ in each row reaches. Rank caps in a cell, "(assets)" or "(≤marshal)", narrow it further.
ROW_MEANING = {
    "View self tickets": (Action.VIEW_OWN_TICKETS, "self"),
    "View subordinates tickets": (Action.VIEW_SUBORDINATE_TICKETS, "subordinates"),
    "Create ticket upward": (Action.CREATE_TICKET_UPWARD, "direct superior"),
    "Submit reward proposal": (Action.SUBMIT_REWARD, "self"),  # one's own work
    "Approve normal reward": (Action.APPROVE_NORMAL_REWARD, "subordinates"),
    "Escalation approval": (Action.APPROVE_ESCALATION, "subordinates"),
    "Approve promotion": (Action.APPROVE_PROMOTION, "subordinates"),
    "Broadcast command": (Action.BROADCAST, "subordinates"),
    "Hidden override": (Action.HIDDEN_OVERRIDE, "anyone"),
    "Create directive": (Action.CREATE_DIRECTIVE, "self or subordinates"),
    "Adjust credits": (Action.ADJUST_CREDITS, "subordinates"),
    "View person": (Action.VIEW_PERSON, "chain of command"),
    "View analytics": (Action.VIEW_ANALYTICS, "self or subordinates"),  # docs/rules.md section 11
    "View ledger": (Action.VIEW_LEDGER, "self or subordinates"),  # one's own; subordinates' for those who adjust
    "Use Nyx console": (Action.USE_NYX_CONSOLE, "self"),  # tasking Nyx: those who command their subtree
}

CHAIN_OF_COMMAND = {"self", "direct superior", "higher superior", "peer", "direct subordinate", "indirect subordinate"}
SUBORDINATE = {"direct subordinate", "indirect subordinate"}


def parse_cell(text):
    """A cell as (reach, allowed target ranks or None), or None for ✖ and —."""
    text = text.strip()
    if text in ("✖", "—"):
        return None
    assert text.startswith("✔"), text
    qualifier = text.removeprefix("✔").strip().strip("()").strip()
    if not qualifier:
        return ("row", None)
    if qualifier == "self":
        return ("self", None)
    if qualifier.startswith("≤"):
        cap = qualifier.removeprefix("≤").strip()
        return ("row", set(RANKS[: RANKS.index(cap) + 1]))
    ranks = {word.strip().removesuffix("s") for word in qualifier.split(",")}
    assert ranks <= set(RANKS), qualifier
    return ("row", ranks)


def parse_table(markdown):
    rows = {}
    for line in markdown.strip().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] in ("Action", "") or set(cells[0]) <= {"-"}:
            continue
        assert len(cells) == 7, line
        rows[cells[0]] = dict(zip(RANKS, (parse_cell(cell) for cell in cells[1:]), strict=True))
    return rows


TABLE = parse_table(SPEC_SECTION_3) | parse_table(SETTLED_ROWS)
EXPECTED_CELLS = {ROW_MEANING[label][0]: (ROW_MEANING[label][1], cells) for label, cells in TABLE.items()}


def expected(action, actor_rank, relation, target_rank, *, actor_active=True):
    """The answer the spec gives, from the transcription above and the settled rules."""
    row_reach, cells = EXPECTED_CELLS[action]
    cell = cells[actor_rank]
    if not actor_active or cell is None:
        return False  # inactive people may do nothing; ✖ and — grant nothing
    reach, ranks = cell
    reach = row_reach if reach == "row" else reach
    if actor_rank == "niki":
        # Niki's ✔ reaches anyone (Niki included), except where the row is about oneself.
        return relation == "self" if reach == "self" else True
    if target_rank == "niki":
        return False  # Niki is hidden: nobody else may act on, or even see, Niki
    if reach == "self":
        return relation == "self"
    if reach == "direct superior":
        return relation == "direct superior"
    if reach == "chain of command":
        return relation in CHAIN_OF_COMMAND
    if reach == "anyone":
        return True
    below = relation in SUBORDINATE and (ranks is None or target_rank in ranks)
    if reach == "self or subordinates":
        return relation == "self" or below
    assert reach == "subordinates", reach
    return below


# --- a tree holding every relation -------------------------------------------------------------
# name: (rank, superior). Actors are a1, s1, m1, x1, nyx and niki; the others are their targets.
TREE = {
    "niki": ("niki", None),
    "nyx": ("nyx", "niki"),
    "xk": ("executor", "niki"),  # peer of Nyx (lower rank); outside Nyx's subtree
    "mk": ("marshal", "xk"),  # outside Nyx's subtree
    "ak": ("asset", "niki"),
    "x1": ("executor", "nyx"),
    "x2": ("executor", "nyx"),  # peer of x1; its branch is outside for x1 and below
    "mn": ("marshal", "nyx"),  # lower-rank peer of x1
    "sn": ("shadow", "nyx"),
    "m1": ("marshal", "x1"),
    "m2": ("marshal", "x1"),  # peer of m1
    "sx": ("shadow", "x1"),  # direct shadow report of x1; lower-rank peer of m1
    "ax": ("asset", "x1"),  # direct asset report of x1
    "m3": ("marshal", "x2"),
    "s4": ("shadow", "m3"),
    "a5": ("asset", "s4"),
    "s1": ("shadow", "m1"),
    "s2": ("shadow", "m1"),  # peer of s1
    "am": ("asset", "m1"),  # direct asset report of m1; lower-rank peer of s1
    "s3": ("shadow", "m2"),  # cousin of s1
    "a4": ("asset", "s3"),
    "a1": ("asset", "s1"),
    "a2": ("asset", "s1"),  # peer of a1
    "a3": ("asset", "s2"),  # cousin of a1
}
ACTORS = {"asset": "a1", "shadow": "s1", "marshal": "m1", "executor": "x1", "nyx": "nyx", "niki": "niki"}


def superiors_in_tree(name, tree):
    """Names above `name`, nearest first, from the tree's own links."""
    above = []
    while tree[name][1] is not None:
        name = tree[name][1]
        above.append(name)
    return above


def relation_in_tree(actor, target, tree):
    if actor == target:
        return "self"
    above_actor = superiors_in_tree(actor, tree)
    if above_actor and target == above_actor[0]:
        return "direct superior"
    if target in above_actor:
        return "higher superior"
    above_target = superiors_in_tree(target, tree)
    if above_target and above_target[0] == actor:
        return "direct subordinate"
    if actor in above_target:
        return "indirect subordinate"
    if tree[actor][1] is not None and tree[actor][1] == tree[target][1]:
        return "peer"
    return "outside"


def build_people(tree):
    """Unsaved users with the chains `User.save` would give them (the policy needs no database)."""
    people = {}
    for name, (rank, superior) in tree.items():  # superiors are listed before their reports
        person = User(
            id=new_object_id(),
            username=name,
            display_name=name,
            rank=rank,
            reports_to=people[superior] if superior else None,
            hidden=rank == "niki",
        )
        person.chain = person.chain_below(person.reports_to)
        person.clean()  # every superior outranks their report
        people[name] = person
    return people


PEOPLE = build_people(TREE)


def case_id(action, actor_rank, target):
    relation = relation_in_tree(ACTORS[actor_rank], target, TREE).replace(" ", "_")
    return f"{action}-{actor_rank}-{relation}-{TREE[target][0]}:{target}"


CASES = [
    pytest.param(action, actor_rank, target, id=case_id(action, actor_rank, target))
    for action in EXPECTED_CELLS
    for actor_rank, actor in ACTORS.items()
    for target in TREE
]


def test_the_transcription_covers_every_action_and_rank():
    assert set(EXPECTED_CELLS) == set(Action)
    assert RANKS == [rank.value for rank in Rank]


def test_the_tree_holds_every_relation_for_every_actor():
    for actor_rank, actor in ACTORS.items():
        found = {relation_in_tree(actor, target, TREE) for target in TREE}
        wanted = {
            "self",
            "direct subordinate",
            "indirect subordinate",
            "peer",
            "direct superior",
            "higher superior",
            "outside",
        }
        if actor_rank == "asset":
            wanted -= SUBORDINATE
        if actor_rank == "shadow":
            wanted -= {"indirect subordinate"}  # only assets rank below a shadow, so all report directly
        if actor_rank == "nyx":
            wanted -= {"higher superior"}
        if actor_rank == "niki":
            wanted = {"self", "direct subordinate", "indirect subordinate"}
        assert found == wanted, actor_rank
        # Subordinates of every lower rank, so each rank cap is tried on both sides.
        below = {TREE[t][0] for t in TREE if relation_in_tree(actor, t, TREE) in SUBORDINATE}
        assert below == set(RANKS[: RANKS.index(actor_rank)]), actor_rank


@pytest.mark.parametrize(("action", "actor_rank", "target"), CASES)
def test_matrix_cell(action, actor_rank, target):
    actor = PEOPLE[ACTORS[actor_rank]]
    relation = relation_in_tree(ACTORS[actor_rank], target, TREE)
    want = expected(action, actor_rank, relation, TREE[target][0])
    assert can(actor, action, PEOPLE[target]) is want, f"{actor_rank} {action} on {relation} {target}"


@pytest.mark.parametrize("actor_rank", RANKS)
@pytest.mark.parametrize("action", list(EXPECTED_CELLS))
def test_inactive_actor_may_do_nothing(action, actor_rank):
    actor = copy.copy(PEOPLE[ACTORS[actor_rank]])
    actor.is_active = False
    assert [t for t in TREE if can(actor, action, PEOPLE[t])] == []
    assert may_at_all(actor, action) is False
    # The same person, active, is allowed something wherever the cell grants anything.
    assert may_at_all(PEOPLE[ACTORS[actor_rank]], action) is (EXPECTED_CELLS[action][1][actor_rank] is not None)
    # A missing target is never allowed: "at all" is a separate question.
    assert can(PEOPLE[ACTORS[actor_rank]], action, None) is False


@pytest.mark.parametrize("actor_rank", RANKS)
@pytest.mark.parametrize("action", list(EXPECTED_CELLS))
def test_may_ever_follows_the_cell(action, actor_rank):
    assert rank_may_ever(actor_rank, action) is (EXPECTED_CELLS[action][1][actor_rank] is not None)


def test_no_actor_means_no():
    assert not any(can(None, action, PEOPLE["a1"]) for action in Action)


@pytest.mark.parametrize("action", list(EXPECTED_CELLS))
def test_nobody_but_niki_targets_niki(action):
    niki = PEOPLE["niki"]
    assert [name for name in TREE if name != "niki" and can(PEOPLE[name], action, niki)] == []


# --- the same, on people saved through the real services ----------------------------------------

ORG_MEMBERS = list(ORG)


def saved_tree(org):
    """The org fixture as a TREE-like mapping, from the stored superiors."""
    names = {person.id: name for name, person in org.items()}
    return {name: (person.rank, names.get(person.reports_to_id)) for name, person in org.items()}


def test_matrix_on_saved_people(org):
    assert sorted(org) == sorted(ORG_MEMBERS)
    tree = saved_tree(org)
    people = {person.id: person for person in User.objects.all()}
    wrong = []
    for action in EXPECTED_CELLS:
        for actor_name in org:
            actor = people[org[actor_name].id]
            for target_name in org:
                relation = relation_in_tree(actor_name, target_name, tree)
                want = expected(action, actor.rank, relation, tree[target_name][0])
                if can(actor, action, people[org[target_name].id]) is not want:
                    wrong.append((action, actor_name, relation, target_name))
    assert wrong == []


@pytest.mark.parametrize("viewer", ORG_MEMBERS)
def test_people_visible_to_is_exactly_view_person(org, viewer, django_assert_max_num_queries):
    everyone = list(User.objects.all())
    viewer = User.objects.get(id=org[viewer].id)
    with django_assert_max_num_queries(1):
        visible = {person.id for person in people_visible_to(viewer)}
    assert visible == {person.id for person in everyone if can(viewer, Action.VIEW_PERSON, person)}
    assert viewer.id in visible
    if viewer.rank != Rank.NIKI:
        assert org["niki"].id not in visible
    else:
        assert visible == {person.id for person in everyone}


# --- each predicate and its query form agree ----------------------------------------------------


def tickets_between(org):
    """Tickets with every relation a viewer can have to one: authored, assigned, reviewed and watched,
    private and hierarchical, in every branch, open, in review and closed."""
    from tickets.models import Ticket, TicketWatcher

    pairs = [
        ("asset", "shadow"),
        ("shadow", "marshal"),
        ("asset_3", "shadow_2"),
        ("marshal_3", "executor_2"),
        ("marshal", "executor"),
        ("executor", "nyx"),
        ("nyx", "asset"),
        ("niki", "asset_2"),
    ]
    made = []
    for number, (assignee, author) in enumerate(pairs):
        for visibility in Ticket.Visibility.values:
            for status in (Ticket.Status.IN_PROGRESS, Ticket.Status.AWAITING_REVIEW, Ticket.Status.CLOSED):
                reviewer = org[author] if status == Ticket.Status.AWAITING_REVIEW else None
                made.append(
                    Ticket.objects.create(
                        title=f"t{number}",
                        category="Order",
                        sub_category="Routine Directive",
                        status=status,
                        visibility=visibility,
                        author=org[author],
                        assignee=org[assignee],
                        reviewer=reviewer,
                        target_rank=org[assignee].rank,
                    )
                )
    for ticket in made[::5]:
        TicketWatcher.objects.create(ticket=ticket, user=org["marshal_2"])
        TicketWatcher.objects.create(ticket=ticket, user=org["asset_2"])
    return made


@pytest.mark.parametrize("viewer", ORG_MEMBERS)
def test_visible_tickets_is_exactly_may_see_ticket(org, viewer):
    from accounts.policy import may_see_ticket
    from tickets.models import TicketWatcher
    from tickets.selectors import visible_tickets

    every = tickets_between(org)
    viewer = User.objects.get(id=org[viewer].id)
    watched = set(TicketWatcher.objects.filter(user_id=viewer.id).values_list("ticket_id", flat=True))
    want = {ticket.id for ticket in every if may_see_ticket(viewer, ticket, watching=ticket.id in watched)}
    assert {ticket.id for ticket in visible_tickets(viewer)} == want
    narrowed = visible_tickets(viewer, narrowed_to_ids=True).filter(id__in=[ticket.id for ticket in every])
    assert {ticket.id for ticket in narrowed} == want
    assert 0 < len(want) <= len(every)


@pytest.mark.parametrize("viewer", ORG_MEMBERS)
def test_review_queue_is_exactly_may_decide(org, viewer):
    from accounts.policy import may_decide
    from tickets.selectors import review_queue

    every = tickets_between(org)
    viewer = User.objects.get(id=org[viewer].id)
    assert {ticket.id for ticket in review_queue(viewer)} == {
        ticket.id for ticket in every if may_decide(viewer, ticket)
    }


@pytest.mark.parametrize("viewer", ORG_MEMBERS)
def test_analytics_reach_is_exactly_view_analytics(org, viewer):
    from accounts.policy import may_view_analytics
    from analytics.selectors import members_in_reach
    from directorate.errors import NotFound

    viewer = User.objects.get(id=org[viewer].id)
    everyone = list(User.objects.all())
    if not may_view_analytics(viewer):
        with pytest.raises(NotFound):
            members_in_reach(viewer)
        assert not any(can(viewer, Action.VIEW_ANALYTICS, person) for person in everyone)
        return
    reached = {person.id for person in User.objects.filter(members_in_reach(viewer))}
    assert reached == {person.id for person in everyone if can(viewer, Action.VIEW_ANALYTICS, person)}


@pytest.mark.parametrize("viewer", ORG_MEMBERS)
def test_addressable_people_are_exactly_those_a_ticket_may_go_to(org, viewer):
    from accounts.selectors import addressable_people

    viewer = User.objects.get(id=org[viewer].id)
    everyone = list(User.objects.all())
    want = {
        person.id
        for person in everyone
        if can(viewer, Action.CREATE_TICKET_UPWARD, person) or can(viewer, Action.CREATE_DIRECTIVE, person)
    }
    assert {person.id for person in addressable_people(viewer)} == want


@pytest.mark.parametrize("viewer", ORG_MEMBERS)
def test_ledger_owner_for_is_exactly_view_ledger(org, viewer):
    from directorate.errors import NotFound
    from economy.selectors import ledger_owner_for

    viewer = User.objects.get(id=org[viewer].id)
    readable = set()
    for person in User.objects.all():
        try:
            readable.add(ledger_owner_for(viewer, person.id).id)
        except NotFound:
            pass
    assert readable == {person.id for person in User.objects.all() if can(viewer, Action.VIEW_LEDGER, person)}


def test_the_ticket_values_the_policy_reads_are_the_models():
    from accounts import policy
    from tickets.models import Ticket

    assert policy.AWAITING_REVIEW == Ticket.Status.AWAITING_REVIEW
    assert policy.CLOSED == Ticket.Status.CLOSED
    assert policy.HIERARCHICAL == Ticket.Visibility.HIERARCHICAL
    assert set(Ticket.Visibility.values) == {policy.HIERARCHICAL, "private"}


@pytest.mark.parametrize("viewer", ["niki", "executor", "shadow_2"])
def test_people_search_is_view_person_narrowed_by_name(org, viewer):
    from accounts.selectors import search_people

    viewer = User.objects.get(id=org[viewer].id)
    everyone = list(User.objects.all())
    for text in ["", "ONE", ".t", "niki", "Member"]:
        found = [person.id for person in search_people(viewer, f"  {text} ")]
        want = {
            person.id
            for person in everyone
            if can(viewer, Action.VIEW_PERSON, person)
            and (text.lower() in person.display_name.lower() or text.lower() in person.username.lower())
        }
        assert set(found) == want, text
        assert len(found) == len(want)


@pytest.mark.parametrize("viewer", ORG_MEMBERS)
def test_request_subjects_are_exactly_may_request_about(org, viewer):
    from accounts.policy import may_request_about
    from accounts.selectors import request_subjects

    viewer = User.objects.get(id=org[viewer].id)
    subjects = [person.id for person in request_subjects(viewer)]
    assert subjects[0] == viewer.id and len(subjects) == len(set(subjects))
    assert set(subjects) == {person.id for person in User.objects.all() if may_request_about(viewer, person)}
