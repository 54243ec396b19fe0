"""Full-text search (docs/rules.md 20): titles, bodies and comments, ranked, within what the member may see.

Every rule is checked with both indexes behind the one selector: SQLite's FTS5 (the default here) and the
word index that serves MongoDB, run on SQLite.
"""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User
from tickets import search, services
from tickets.models import Comment, Ticket
from tickets.selectors import TicketFilters, filtered_tickets, list_page, visible_tickets


@pytest.fixture(params=["fts5", "terms"])
def index(request, settings):
    if request.param == "fts5" and connection.vendor != "sqlite":
        pytest.skip("FTS5 is SQLite's; this database searches with the word index (the 'terms' run)")
    settings.TICKET_SEARCH_INDEX = request.param
    search.rebuild()
    return request.param


def new_ticket(author, assignee, title, body="", **kw):
    return services.create_ticket(
        actor=author,
        title=title,
        body_md=body,
        category="Order",
        sub_category="Routine Directive",
        assignee_id=assignee.id,
        **kw,
    )


def found(viewer, text, **filters):
    return [row["id"] for row in list_page(viewer, TicketFilters(text=text, **filters)).items]


@pytest.fixture
def tickets(org, index):
    """Tickets with the word "cut" in one place each, seen by different people."""
    made = {
        "title": new_ticket(org["shadow"], org["asset"], "Cut the west fence"),
        "body": new_ticket(org["shadow"], org["asset_2"], "Mend the gate", "The wire was **cut** at dawn."),
        "private": new_ticket(
            org["asset"], org["shadow"], "Report a theft", "The cutter is missing.", visibility="private"
        ),
        "other_branch": new_ticket(org["marshal_2"], org["shadow_2"], "Inspect the depot"),
        "niki": new_ticket(org["niki"], org["niki"], "Cut the budget", "Cut everything.", visibility="private"),
        "plain": new_ticket(org["shadow"], org["asset"], "Count the crates", "Nothing to see."),
    }
    services.add_comment(actor=org["shadow_2"], ticket_id=made["other_branch"].id, body_md="Someone cut the lock.")
    return made


def test_a_word_in_the_body_or_a_comment_is_found_not_only_in_the_title(org, tickets):
    assert set(found(org["shadow"], "cut")) == {tickets["title"].id, tickets["body"].id, tickets["private"].id}
    assert found(org["marshal_2"], "lock") == [tickets["other_branch"].id]
    assert found(org["marshal_2"], "cut") == [tickets["other_branch"].id]


def test_the_title_ranks_above_the_body(org, tickets):
    assert found(org["marshal"], "cut") == [tickets["title"].id, tickets["body"].id]


def test_words_are_found_by_their_start_in_any_case_and_all_must_be_there(org, tickets):
    assert found(org["asset"], "CUTT") == [tickets["private"].id]
    assert found(org["marshal"], "wire dawn") == [tickets["body"].id]
    assert found(org["marshal"], "wire fence") == []
    assert found(org["marshal"], "!!!") == []


def test_a_member_never_finds_a_ticket_they_may_not_see(org, tickets):
    words = ["cut", "cutter", "lock", "budget", "everything", "theft", "missing", "depot", "crates", "the", "c"]
    for person in User.objects.all():
        seen = set(visible_tickets(person).values_list("id", flat=True))
        for word in words:
            results = set(found(person, word))
            assert results <= seen, (person.username, word)
            expected = {
                ticket.id
                for ticket in Ticket.objects.filter(id__in=seen)
                if any(token.startswith(word) for token in search.words_of(_text_of(ticket)))
            }
            assert results == expected, (person.username, word)


def test_private_tickets_and_nikis_are_found_only_by_those_who_see_them(org, tickets):
    for person in ("marshal", "executor", "asset_2", "nyx"):
        assert tickets["private"].id not in found(org[person], "cutter")
        assert tickets["niki"].id not in found(org[person], "budget")
    assert found(org["asset"], "cutter") == [tickets["private"].id]
    assert found(org["shadow"], "cutter") == [tickets["private"].id]
    assert found(org["niki"], "budget") == [tickets["niki"].id]
    assert found(org["marshal"], "lock") == []


def test_search_keeps_the_other_filters(org, tickets):
    services.start_work(actor=org["asset"], ticket_id=tickets["title"].id)
    assert found(org["marshal"], "cut", status="in_progress") == [tickets["title"].id]
    assert found(org["asset_2"], "cut", scope="mine") == [tickets["body"].id]
    assert found(org["asset"], "cut", scope="authored") == [tickets["private"].id]
    # The JSON API's list filters the same way.
    listed = filtered_tickets(org["marshal"], TicketFilters(text="wire"))
    assert list(listed.values_list("id", flat=True)) == [tickets["body"].id]


def test_a_comment_is_searchable_at_once_and_a_sent_back_note_too(org, index):
    ticket = new_ticket(org["shadow"], org["asset"], "Sweep sector 7")
    assert found(org["shadow"], "lantern") == []
    services.add_comment(actor=org["asset"], ticket_id=ticket.id, body_md="Need a lantern.")
    assert found(org["shadow"], "lantern") == [ticket.id]
    services.start_work(actor=org["asset"], ticket_id=ticket.id)
    services.submit_for_review(actor=org["asset"], ticket_id=ticket.id, reward_credits=1, reward_pay="1.00")
    reviewer = Ticket.objects.get(id=ticket.id).reviewer
    services.send_back(actor=reviewer, ticket_id=ticket.id, comment="Recount the barrels.")
    assert found(org["shadow"], "barrels") == [ticket.id]


def test_search_pages_continue_where_they_stopped(org, index):
    made = [new_ticket(org["shadow"], org["asset"], f"Patrol route {n}") for n in range(27)]
    first = list_page(org["shadow"], TicketFilters(text="patrol"))
    assert len(first.items) == 25 and first.next_cursor == "25"
    second = list_page(org["shadow"], TicketFilters(text="patrol"), first.next_cursor)
    assert second.next_cursor is None
    assert {row["id"] for row in first.items + second.items} == {ticket.id for ticket in made}


def test_a_broken_search_page_link_is_refused_plainly(as_, org, index):
    answer = as_(org["shadow"]).get("/tickets/?q=patrol&after=zz")
    assert answer.status_code == 400


def test_the_ticket_list_searches_bodies(as_, org, tickets):
    page = as_(org["marshal"]).get("/tickets/?q=cut").content.decode()
    assert "Mend the gate" in page and "Cut the west fence" in page and "Report a theft" not in page


def _text_of(ticket):
    comments = Comment.objects.filter(ticket_id=ticket.id).values_list("body_md", flat=True)
    return " ".join([ticket.title, ticket.body_md, *comments])


@pytest.mark.django_db(transaction=True)
def test_the_migration_indexes_the_tickets_already_there(directorate, whole_schema_after):
    before, after = [("tickets", "0005_approval_denied")], [("tickets", "0006_search")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldTicket, OldComment = old.get_model("tickets", "Ticket"), old.get_model("tickets", "Comment")
    nyx = directorate["nyx"]
    ticket = OldTicket.objects.create(
        title="Old survey",
        body_md="Of the harbour",
        category="Order",
        sub_category="Routine Directive",
        author_id=nyx.id,
        assignee_id=nyx.id,
        target_rank="nyx",
    )
    OldComment.objects.create(ticket=ticket, author_id=nyx.id, body_md="Lighthouse dark")
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    niki = directorate["niki"]
    assert found(niki, "harbour") == [ticket.id]
    assert found(niki, "lighthouse") == [ticket.id]


@pytest.mark.parametrize("chunk", [1, 2, 100])
def test_pages_checked_a_few_candidates_at_a_time_are_the_whole_searchs(org, index, monkeypatch, chunk):
    monkeypatch.setattr(search, "CHUNK", chunk)
    for n in range(6):
        new_ticket(org["shadow"], org["asset"], f"Patrol the wall {n}", "patrol " * n)
        new_ticket(org["shadow_2"], org["asset_3"], f"Patrol the gate {n}", "patrol " * (5 - n))
    for person in ("shadow", "shadow_2", "executor", "asset_3", "niki"):
        viewer = org[person]
        whole = list(search.ranked(visible_tickets(viewer), "patrol").values_list("id", flat=True))
        assert len(whole) in (6, 12)
        for start, count in ((0, 2), (0, 5), (2, 4), (5, 25)):
            rows = search.ranked_rows(
                visible_tickets(viewer), "patrol", viewer=viewer, start=start, count=count, fields=("id",)
            )
            assert [row["id"] for row in rows] == whole[start : start + count], (person, start, count)


def test_who_may_see_a_ticket_changes_and_search_follows(org, index):
    private = new_ticket(org["asset"], org["asset"], "Quiet survey", visibility="private")
    assert found(org["marshal"], "quiet") == []
    services.start_work(actor=org["asset"], ticket_id=private.id)
    services.submit_for_review(actor=org["asset"], ticket_id=private.id, reward_credits=1, reward_pay="1.00")
    assert found(org["marshal"], "quiet") == [private.id]  # its reviewer now
    services.send_back(actor=org["marshal"], ticket_id=private.id, comment="More detail.")
    assert found(org["marshal"], "quiet") == []
    open_one = new_ticket(org["executor"], org["marshal"], "Loud survey")
    assert found(org["marshal_2"], "loud") == []
    services.add_watcher(actor=org["executor"], ticket_id=open_one.id, user_id=org["marshal_2"].id)
    assert found(org["marshal_2"], "loud") == [open_one.id]
    services.remove_watcher(actor=org["executor"], ticket_id=open_one.id, user_id=org["marshal_2"].id)
    assert found(org["marshal_2"], "loud") == []


def test_a_member_moved_elsewhere_takes_their_tickets_into_the_new_superiors_search(org, index):
    from accounts.services import move_member
    from directorate.db import atomic

    ticket = new_ticket(org["shadow"], org["asset"], "Harbour watch")
    assert found(org["marshal_2"], "harbour") == []
    with atomic():
        move_member(
            User.objects.get(id=org["shadow"].id),
            rank=org["shadow"].rank,
            superior=org["marshal_2"],
            approved_by=org["niki"],
        )
        search.reindex_subtree_of(org["shadow"])
    assert found(org["marshal_2"], "harbour") == [ticket.id]
    assert found(org["marshal"], "harbour") == []
