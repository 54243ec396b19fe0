"""The ticket, ledger and dashboard pages through Django's test client, as each relevant rank.

Names follow docs/rules.md's demo chain: asset North -> shadow Holt -> marshal Vance -> executor Kade -> Nyx.
Every test ends with the ledger invariant.
"""

import base64
import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.presentation import shown_name
from accounts.ranks import Rank
from attachments import services as attachments
from directorate.errors import Forbidden
from economy import services as economy
from economy.models import Transaction
from tests.factories import new_ticket, reload, started, submitted
from tests.invariants import assert_ledger_invariant, database_state
from tests.test_attachments import PNG
from tickets import services
from tickets.models import Comment, Ticket, TicketWatcher

Status = Ticket.Status
HX = {"HX-Request": "true"}
HX_RESULTS = {"HX-Request": "true", "HX-Target": "ticket-results"}
TICKET_LINK = re.compile(r'href="/tickets/([0-9a-f]{24})/"')
NEXT_LINK = re.compile(r'<a rel="next" href="([^"]+)"')


def text(response):
    return response.content.decode()


def listed_ids(response):
    return TICKET_LINK.findall(text(response))


def is_fragment(response):
    body = text(response)
    return "<html" not in body and "<body" not in body


def url(ticket, action=None):
    return f"/tickets/{ticket.id}/" + (f"{action}/" if action else "")


# Signing in and methods --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/"),
        ("get", "/tickets/"),
        ("get", "/tickets/new/"),
        ("post", "/tickets/new/"),
        ("get", "/tickets/sub-categories/?category=Intel"),
        ("get", "/tickets/{id}/"),
        ("post", "/tickets/{id}/start/"),
        ("post", "/tickets/{id}/approve/"),
        ("post", "/tickets/{id}/comment/"),
        ("get", "/ledger/"),
        ("post", "/people/{person}/adjust/"),
    ],
)
def test_signed_out_requests_go_to_the_sign_in_page(client, org, method, path):
    ticket = new_ticket(org["shadow"], org["asset"])
    before = database_state()
    path = path.format(id=ticket.id, person=org["asset"].id)
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert database_state() == before


@pytest.mark.parametrize(
    "action", ["start", "submit", "approve", "escalate", "send-back", "close", "promote", "comment", "watch", "unwatch"]
)
def test_get_on_a_ticket_action_is_405(as_, org, action):
    ticket = new_ticket(org["shadow"], org["asset"])
    before = database_state()
    assert as_(org["asset"]).get(url(ticket, action)).status_code == 405
    assert database_state() == before


def test_get_on_adjust_is_405_and_post_on_sub_categories_is_405(as_, org):
    client = as_(org["marshal"])
    assert client.get(f"/people/{org['asset'].id}/adjust/").status_code == 405
    assert client.post("/tickets/sub-categories/", {"category": "Intel"}).status_code == 405


# The list: scopes, filters, pages -------------------------------------------------------------------------


@pytest.fixture
def board(org):
    """Tickets around marshal Vance, each with a unique title."""
    tickets = {
        "north_recon": new_ticket(org["shadow"], org["asset"], title="North recon"),
        "north_request": new_ticket(
            org["asset"], org["shadow"], title="North asks kit", category="Request", sub_category="Resource"
        ),
        "vance_own": new_ticket(
            org["marshal"], org["marshal"], title="Vance paperwork", category="Audit", sub_category="Process Check"
        ),
        "vance_from_kade": new_ticket(
            org["executor"],
            org["marshal"],
            title="Kade orders Vance",
            category="Order",
            sub_category="Routine Directive",
        ),
        "review": submitted(org["shadow"], org["asset_2"], title="Lark patrol awaiting"),
        "private": new_ticket(org["shadow"], org["asset"], title="Holt private note", visibility="private"),
        "other_branch": new_ticket(org["marshal_2"], org["asset_3"], title="Sato branch work"),
    }
    return tickets


def titles(response):
    return set(re.findall(r'<a href="/tickets/[0-9a-f]{24}/"><bdi>([^<]+)</bdi></a>', text(response)))


def test_the_list_shows_everything_i_may_see_and_nothing_else(as_, org, board):
    response = as_(org["marshal"]).get("/tickets/")
    assert response.status_code == 200
    assert titles(response) == {
        "North recon",
        "North asks kit",
        "Vance paperwork",
        "Kade orders Vance",
        "Lark patrol awaiting",
    }
    assert titles(as_(org["asset"]).get("/tickets/")) == {"North recon", "North asks kit", "Holt private note"}
    assert titles(as_(org["asset_3"]).get("/tickets/")) == {"Sato branch work"}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("scope=mine", {"Vance paperwork", "Kade orders Vance"}),
        ("scope=authored", {"Vance paperwork"}),
        ("scope=queue", {"Lark patrol awaiting"}),
        ("scope=subordinates", {"North recon", "North asks kit", "Lark patrol awaiting"}),
        (
            "scope=nonsense",
            {"North recon", "North asks kit", "Vance paperwork", "Kade orders Vance", "Lark patrol awaiting"},
        ),
        ("status=awaiting_review", {"Lark patrol awaiting"}),
        ("status=open&category=Intel", {"North recon"}),
        ("category=Request", {"North asks kit"}),
        ("category=Audit&scope=mine", {"Vance paperwork"}),
        ("q=north", {"North recon", "North asks kit"}),
        ("q=ORDERS", {"Kade orders Vance"}),
        ("q=private", set()),  # Holt's private ticket stays out of Vance's sight, even by title
        ("status=closed", set()),
    ],
)
def test_list_scopes_and_filters(as_, org, board, query, expected):
    response = as_(org["marshal"]).get(f"/tickets/?{query}")
    assert response.status_code == 200
    assert titles(response) == expected
    if not expected:
        assert "No tickets match." in text(response)


def test_filter_by_words_in_the_assignees_name(as_, org, board):
    client = as_(org["marshal"])
    asset_2 = org["asset_2"].display_name
    assert titles(client.get(f"/tickets/?who={org['asset'].display_name}")) == {"North recon"}
    assert titles(client.get(f"/tickets/?who={asset_2.upper()}&status=awaiting_review")) == {"Lark patrol awaiting"}
    assert titles(client.get(f"/tickets/?who={org['asset_3'].display_name}")) == set()  # another branch
    response = client.get(f"/tickets/?who={org['niki'].display_name}")
    assert titles(response) == set() and org["niki"].display_name not in text(response).replace(
        f'value="{org["niki"].display_name}"', ""
    )


@pytest.mark.parametrize("page", ["/", "/tickets/?scope=queue", "/tickets/"])
def test_a_longer_review_queue_costs_no_more_queries(as_, org, page):
    client = as_(org["marshal"])
    submitted(org["shadow"], org["asset"], title="First for review")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(page).status_code == 200
        return len(captured)

    one = queries()
    for number in range(4):
        submitted(org["shadow"], org["asset_2"], title=f"Also for review {number}")
    assert queries() == one


def test_unknown_filter_values_are_ignored_not_errors(as_, org, board):
    response = as_(org["marshal"]).get("/tickets/?status=bogus&category=Nope&scope=&q=" + "x" * 5000)
    assert response.status_code == 200
    assert "No tickets match." in text(response)  # the title filter still applies, cut to 100 characters


def walk(client, first_url, headers=None):
    """Follow the "Next page" links from `first_url`; return the ids of each page."""
    pages, next_url = [], first_url
    while next_url:
        response = client.get(next_url, headers=headers or {})
        assert response.status_code == 200
        pages.append(listed_ids(response))
        found = NEXT_LINK.search(text(response))
        next_url = "/tickets/" + found.group(1).replace("&amp;", "&") if found else None
        assert len(pages) < 10, "the pager never ends"
    return pages


@pytest.fixture
def many(org):
    """32 Intel tickets and 3 Logistics tickets assigned to North."""
    intel = [new_ticket(org["shadow"], org["asset"], title=f"Recon {n:02d}").id for n in range(32)]
    logistics = [
        new_ticket(org["shadow"], org["asset"], title=f"Crate {n}", category="Logistics", sub_category="Transport").id
        for n in range(3)
    ]
    return intel, logistics


def test_a_list_row_shows_each_column_escaped(as_, org):
    ticket = started(org["shadow"], org["asset"], title='<b onmouseover="x()">Depot & "yard"</b>', visibility="private")
    row = re.search(rf'<tr><td><a href="/tickets/{ticket.id}/">.*?</tr>', text(as_(org["asset"]).get("/tickets/")))
    moment = reload(ticket).updated_at
    assert row.group(0) == (
        f'<tr><td><a href="/tickets/{ticket.id}/"><bdi>&lt;b onmouseover=&quot;x()&quot;&gt;Depot &amp; '
        '&quot;yard&quot;&lt;/b&gt;</bdi></a> <span class="tag">private</span></td>'
        '<td class="col-optional">Intel / Recon Report</td>'
        f'<td class="col-optional"><bdi>Asset {org["asset"].display_name}</bdi></td>'
        '<td><span class="status status-in_progress">In progress</span></td>'
        f'<td class="col-optional"><time datetime="{moment.isoformat()}">{moment:%Y-%m-%d %H:%M}</time></td></tr>'
    )


def test_a_list_row_names_a_hidden_assignee_as_the_directorate(as_, org):
    ticket = new_ticket(org["executor"], org["marshal"], title="Audit the archive")
    Ticket.objects.filter(id=ticket.id).update(assignee=org["niki"])  # only Niki could be; shown as nobody
    page = text(as_(org["nyx"]).get("/tickets/", {"q": "Audit the archive"}))
    assert '<td class="col-optional"><bdi>The Directorate</bdi></td>' in page and "Niki" not in page


def test_keyset_pages_cover_every_ticket_once_newest_first(as_, org, many):
    intel, logistics = many
    pages = walk(as_(org["asset"]), "/tickets/")
    assert [len(page) for page in pages] == [25, 10]
    seen = [ticket_id for page in pages for ticket_id in page]
    assert len(seen) == len(set(seen)) == 35
    assert set(seen) == set(intel + logistics)
    stamps = [(t.updated_at, t.id) for t in Ticket.objects.filter(id__in=seen)]
    assert seen == [ticket_id for _, ticket_id in sorted(stamps, reverse=True)]


def test_keyset_pages_keep_the_filters(as_, org, many):
    intel, _ = many
    pages = walk(as_(org["asset"]), "/tickets/?category=Intel&scope=mine")
    assert [len(page) for page in pages] == [25, 7]
    assert sorted(ticket_id for page in pages for ticket_id in page) == sorted(intel)


def test_keyset_pages_survive_identical_timestamps(as_, org, many):
    intel, logistics = many
    moment = Ticket.objects.order_by("created_at").first().updated_at
    Ticket.objects.update(updated_at=moment)  # every ticket changed in the same millisecond
    pages = walk(as_(org["asset"]), "/tickets/")
    seen = [ticket_id for page in pages for ticket_id in page]
    assert len(seen) == len(set(seen)) == 35


def test_keyset_pages_over_htmx_return_fragments(as_, org, many):
    client = as_(org["asset"])
    first = client.get("/tickets/", headers=HX_RESULTS)
    assert first.status_code == 200 and is_fragment(first)
    assert text(first).lstrip().startswith('<div id="ticket-results">')
    pages = walk(client, "/tickets/", headers=HX_RESULTS)
    assert sum(len(page) for page in pages) == 35


def test_a_changed_ticket_moves_to_the_top(as_, org, many):
    intel, _ = many
    oldest = intel[0]
    services.add_comment(actor=org["shadow"], ticket_id=oldest, body_md="Bump.")
    assert listed_ids(as_(org["asset"]).get("/tickets/"))[0] == oldest


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "x",
        base64.urlsafe_b64encode(b"2024-01-01T00:00:00+00:00|short").decode(),
        base64.urlsafe_b64encode(b"2024-01-01T00:00:00|" + b"a" * 24).decode(),  # no time zone
        base64.urlsafe_b64encode(b"not a date|" + b"a" * 24).decode(),
        base64.urlsafe_b64encode(b"a|b|c").decode(),
        base64.urlsafe_b64encode("\u00e9\u00e9".encode("latin-1")).decode(),
    ],
)
def test_a_broken_page_link_is_a_clear_400(as_, org, many, cursor):
    client = as_(org["asset"])
    response = client.get("/tickets/", {"after": cursor})
    assert response.status_code == 400
    assert "That page link is broken; start from the first page." in text(response)
    fragment = client.get("/tickets/", {"after": cursor}, headers=HX_RESULTS)
    assert fragment.status_code == 400 and is_fragment(fragment)
    assert "That page link is broken" in text(fragment)


def test_htmx_list_requests_get_only_the_results_partial(as_, org, board):
    client = as_(org["marshal"])
    fragment = client.get("/tickets/?scope=queue", headers=HX_RESULTS)
    assert fragment.status_code == 200 and is_fragment(fragment)
    assert 'class="filter-bar"' not in text(fragment)
    assert titles(fragment) == {"Lark patrol awaiting"}
    page = client.get("/tickets/?scope=queue", headers=HX)  # htmx, but aimed elsewhere: the whole page
    assert "<html" in text(page) and 'class="filter-bar"' in text(page)


# Creating ----------------------------------------------------------------------------------------------------


def test_the_new_ticket_form_offers_only_people_i_may_address(as_, org):
    response = as_(org["asset"]).get("/tickets/new/")
    assert response.status_code == 200
    body = text(response)
    assert f'value="{org["shadow"].id}"' in body and f'value="{org["asset"].id}"' in body
    for other in ("asset_2", "marshal", "executor", "asset_3"):
        assert f'value="{org[other].id}"' not in body
    assert "Choose a category first" in body
    assert all(f'<option value="{name}"' in body for name in ("Order", "Intel", "Miscellaneous"))


def test_the_new_ticket_form_can_start_from_a_category(as_, org):
    body = text(as_(org["asset"]).get("/tickets/new/?category=Economy"))
    assert '<option value="Credit Dispute"' in body and '<option value="Payment Inquiry"' in body


def test_sub_categories_of_intel(as_, org):
    response = as_(org["asset"]).get("/tickets/sub-categories/?category=Intel")
    assert response.status_code == 200 and is_fragment(response)
    assert re.findall(r'<option value="([^"]*)"', text(response)) == [
        "Recon Report",
        "Data Leak",
        "Counter-Espionage",
        "Asset Status",
    ]
    unknown = as_(org["asset"]).get("/tickets/sub-categories/?category=Nope")
    assert re.findall(r'<option value="([^"]*)"', text(unknown)) == [""]
    assert "Choose a category first" in text(unknown)


def form_data(org, **changes):
    data = {
        "title": "Night-vision kit",
        "category": "Request",
        "sub_category": "Resource",
        "assignee": org["shadow"].id,
        "visibility": "hierarchical",
        "subject": "",
        "body_md": "Cracked lens.",
    }
    data.update(changes)
    return data


def test_creating_a_ticket_redirects_to_it(as_, org):
    client = as_(org["asset"])
    response = client.post("/tickets/new/", form_data(org))
    ticket = Ticket.objects.get(title="Night-vision kit")
    assert response.status_code == 302 and response["Location"] == url(ticket)
    assert (ticket.author_id, ticket.assignee_id, ticket.category, ticket.sub_category, ticket.body_md) == (
        org["asset"].id,
        org["shadow"].id,
        "Request",
        "Resource",
        "Cracked lens.",
    )
    page = client.get(response["Location"])
    assert "Ticket created." in text(page)


def test_creating_a_promotion_request_through_the_form(as_, org):
    response = as_(org["marshal"]).post(
        "/tickets/new/",
        form_data(
            org,
            title="Promote Holt",
            category="Personnel",
            sub_category="Promotion Request",
            assignee=org["executor"].id,
            subject=org["shadow"].id,
        ),
    )
    assert response.status_code == 302
    assert Ticket.objects.get(title="Promote Holt").subject_id == org["shadow"].id


@pytest.mark.parametrize(
    "changes, shown",
    [
        ({"title": ""}, "This field is required."),
        ({"title": "t" * 201}, "Ensure this value has at most 200 characters"),
        ({"category": "Nope"}, "Select a valid choice."),
        ({"category": "Economy", "sub_category": "Leave"}, "Not a sub-category of Economy."),
        ({"sub_category": ""}, "This field is required."),
        ({"assignee": "ASSET_2"}, "Select a valid choice."),  # a peer is not addressable
        ({"assignee": "MARSHAL"}, "Select a valid choice."),  # nor two levels up
        ({"visibility": "public"}, "Select a valid choice."),
        ({"body_md": "b" * 20_001}, "The body has at most 20000 characters."),
        ({"category": "Personnel", "sub_category": "Promotion Request"}, "Choose the person to promote."),
        ({"subject": "ASSET_3"}, "Select a valid choice."),
    ],
)
def test_an_invalid_ticket_is_a_400_showing_the_field_error(as_, org, changes, shown):
    changes = {
        key: org[value.lower()].id if value in ("ASSET_2", "MARSHAL", "ASSET_3") else value
        for key, value in changes.items()
    }
    before = database_state()
    response = as_(org["asset"]).post("/tickets/new/", form_data(org, **changes))
    assert response.status_code == 400
    assert shown in text(response)
    assert 'class="field-error"' in text(response) or 'class="form-errors"' in text(response)
    assert database_state() == before


# A reward proposed on the new-ticket form (docs/rules.md section 18) -------------------------------------


def field_block(body, name, prefix="id_"):
    """The markup of one form field: its label, input, help and errors."""
    match = re.search(rf'<div class="field[^"]*">\s*<label for="{prefix}{name}">.*?</div>', body, re.S)
    assert match, f"no field {name}"
    return match.group(0)


def own_work(org, **changes):
    return (
        form_data(
            org, title="Sweep sector 7", category="Order", sub_category="Routine Directive", assignee=org["asset"].id
        )
        | changes
    )


def test_the_new_ticket_form_offers_a_proposal_with_the_limit_warning(as_, org):
    body = text(as_(org["asset"]).get("/tickets/new/"))
    assert 'name="reward_credits"' in body and 'name="reward_pay"' in body
    pay = field_block(body, "reward_pay")
    assert f"decided by {shown_name(services.normal_reviewer(org['asset']))}. " in pay
    assert f"Over the limit: will be decided by {shown_name(org['executor'])}." in pay


def test_a_proposal_on_the_new_ticket_is_stored_and_prefills_the_submit_form(as_, org):
    client = as_(org["asset"])
    response = client.post("/tickets/new/", own_work(org, reward_credits="20", reward_pay="12.50"))
    ticket = Ticket.objects.get(title="Sweep sector 7")
    assert response.status_code == 302 and (ticket.reward_credits, ticket.reward_pay) == (20, Decimal("12.50"))
    open_page = text(client.get(url(ticket)))
    preview = open_page.split("Your reward proposal")[1].split("</fieldset>")[0]
    assert "Over the limit" not in preview and "after Start work" in preview
    assert 'value="20"' in field_block(open_page, "reward_credits", "submit-")
    assert "disabled" in field_block(open_page, "reward_pay", "submit-")
    client.post(url(ticket, "start"))
    submit_form = text(client.get(url(ticket)))
    credits, pay = (
        field_block(submit_form, "reward_credits", "submit-"),
        field_block(submit_form, "reward_pay", "submit-"),
    )
    assert 'value="20"' in credits and 'value="12.50"' in pay and "disabled" not in credits + pay
    assert "Your reward proposal" not in submit_form


def test_a_proposal_over_the_limit_is_warned_of_when_filed(as_, org):
    client = as_(org["asset"])
    response = client.post("/tickets/new/", own_work(org, reward_credits="150"), follow=True)
    body = text(response)
    assert "The proposed reward is over the limit: it will be decided by" in body
    preview = body.split("Your reward proposal")[1].split("</fieldset>")[0]
    assert "Over the limit: will be decided by" in preview


@pytest.mark.parametrize(
    ("changes", "field", "shown"),
    [
        ({"reward_pay": "12,50"}, "reward_pay", "Write decimals with a point: 12.50, not 12,50."),
        ({"reward_pay": "1.005"}, "reward_pay", "An amount has at most two decimals."),
        ({"reward_credits": "-4"}, "reward_credits", "Must be between 0 and 10000."),
        ({"reward_credits": "ten"}, "reward_credits", "Must be a whole number."),
    ],
)
def test_a_bad_proposal_is_a_400_with_the_error_at_its_field(as_, org, changes, field, shown):
    before = database_state()
    response = as_(org["asset"]).post("/tickets/new/", own_work(org, **changes))
    assert response.status_code == 400
    block = field_block(text(response), field)
    assert "has-error" in block and shown in block
    assert 'class="form-errors"' not in text(response)
    assert database_state() == before


def test_a_request_upward_with_a_proposal_is_refused_at_the_field(as_, org):
    before = database_state()
    response = as_(org["asset"]).post("/tickets/new/", form_data(org, reward_credits="5", reward_pay="2.00"))
    assert response.status_code == 400
    for field in ("reward_credits", "reward_pay"):
        assert "A request to your superior takes no reward" in field_block(text(response), field)
    assert database_state() == before


# The ticket page: who sees which panel --------------------------------------------------------------------


def forms_on(response):
    return set(re.findall(r'<form method="post" action="/tickets/[0-9a-f]{24}/([a-z/-]+)/"', text(response)))


def test_an_open_ticket_offers_start_to_the_assignee_only(as_, org):
    ticket = new_ticket(org["shadow"], org["asset"])
    assert forms_on(as_(org["asset"]).get(url(ticket))) == {"start", "attachments", "attachments/comment", "watch"}
    assert forms_on(as_(org["shadow"]).get(url(ticket))) == {"attachments", "attachments/comment", "watch"}
    assert forms_on(as_(org["marshal"]).get(url(ticket))) == {"attachments", "attachments/comment", "watch"}


def test_work_in_progress_offers_submit_to_the_assignee_only(as_, org):
    ticket = started(org["shadow"], org["asset"])
    page = text(as_(org["asset"]).get(url(ticket)))
    assert forms_on(as_(org["asset"]).get(url(ticket))) == {"submit", "attachments", "attachments/comment", "watch"}
    assert 'name="hours_worked"' in page and 'name="reward_credits"' in page and 'name="reward_pay"' in page
    assert forms_on(as_(org["marshal"]).get(url(ticket))) == {"attachments", "attachments/comment", "watch"}


def test_the_reviewer_sees_the_review_panel_and_nobody_else_does(as_, org):
    ticket = submitted(org["shadow"], org["asset"], credits=2, pay="15.01")
    page = as_(org["marshal"]).get(url(ticket))
    assert forms_on(page) == {"approve", "escalate", "send-back", "attachments", "attachments/comment", "watch"}
    body = text(page)
    assert 'name="credits" value="2"' in body and 'name="pay" value="15.01"' in body
    assert "Over the limit" in body and "15.00" in body
    assert "Recommend and escalate" in body  # Vance may only recommend it: the button says so
    for name in ("asset", "shadow", "executor", "nyx", "niki"):
        assert not forms_on(as_(org[name]).get(url(ticket))) & {"approve", "escalate", "send-back"}, name


def test_a_normal_proposal_carries_no_abnormal_warning(as_, org):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="15.00")
    assert "Over the limit" not in text(as_(org["marshal"]).get(url(ticket)))


def test_a_closed_ticket_page_offers_nothing(as_, org):
    ticket = submitted(org["shadow"], org["asset"])
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=1, pay="3.00")
    for name in ("asset", "marshal", "shadow"):
        response = as_(org[name]).get(url(ticket))
        assert forms_on(response) == set()
        assert "Closed tickets are read-only." in text(response)


def test_nyx_is_offered_close_without_reward(as_, org):
    ticket = new_ticket(org["executor"], org["nyx"], category="Request", sub_category="Clarification")
    assert "close" in forms_on(as_(org["nyx"]).get(url(ticket)))
    assert "close" not in forms_on(as_(org["executor"]).get(url(ticket)))
    services.start_work(actor=org["nyx"], ticket_id=ticket.id)
    assert forms_on(as_(org["nyx"]).get(url(ticket))) >= {"close"}
    assert "submit" not in forms_on(as_(org["nyx"]).get(url(ticket)))


def promotion_request(org):
    """The asset's request to be promoted, assigned to their superior the shadow."""
    return new_ticket(
        org["asset"],
        org["shadow"],
        title="Promote me",
        category="Personnel",
        sub_category="Promotion Request",
        subject_id=org["asset"].id,
    )


def test_the_promotion_panel_is_for_those_who_may_approve_it(as_, org):
    ticket = promotion_request(org)
    assert "promote" in forms_on(as_(org["marshal"]).get(url(ticket)))
    assert "promote" in forms_on(as_(org["executor"]).get(url(ticket)))
    assert "promote" not in forms_on(as_(org["shadow"]).get(url(ticket)))
    assert "promote" not in forms_on(as_(org["asset"]).get(url(ticket)))


def test_the_promotion_panel_is_not_offered_when_the_approval_would_be_refused(as_, org):
    # The shadow would become a marshal: the marshal's own rank, beyond what a marshal may grant.
    ticket = new_ticket(
        org["shadow"],
        org["marshal"],
        title="Promote me",
        category="Personnel",
        sub_category="Promotion Request",
        subject_id=org["shadow"].id,
    )
    assert "promote" not in forms_on(as_(org["marshal"]).get(url(ticket)))
    assert "promote" in forms_on(as_(org["executor"]).get(url(ticket)))
    with pytest.raises(Forbidden):
        services.approve_promotion(actor=org["marshal"], ticket_id=ticket.id)


def test_a_ticket_out_of_sight_is_404_like_one_that_does_not_exist(as_, org):
    ticket = new_ticket(org["shadow"], org["asset"])
    private = new_ticket(org["shadow"], org["asset"], visibility="private")
    answers = [
        as_(org["marshal_2"]).get(url(ticket)),
        as_(org["marshal"]).get(url(private)),
        as_(org["marshal"]).get("/tickets/" + "0" * 24 + "/"),
    ]
    assert [response.status_code for response in answers] == [404, 404, 404]
    bodies = {re.sub(r'value="[^"]+"', "", text(response).split("<main", 1)[1]) for response in answers}
    assert len(bodies) == 1 and "No such ticket." in bodies.pop()


# Actions through the views ---------------------------------------------------------------------------------


def act(client, ticket, action, data=None, htmx=False):
    return client.post(url(ticket, action), data or {}, headers=HX if htmx else {})


def assert_done(response, ticket, htmx):
    if htmx:
        assert response.status_code == 200 and is_fragment(response)
        assert text(response).lstrip().startswith('<div id="ticket"')
        assert "HX-Trigger" not in response  # wallets update over the live connection, not per response
    else:
        assert response.status_code == 302 and response["Location"] == url(ticket)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_the_whole_cycle_through_the_views(as_, org, htmx):
    north, vance = org["asset"], org["marshal"]
    ticket = new_ticket(org["shadow"], north)
    assert_done(act(as_(north), ticket, "start", htmx=htmx), ticket, htmx)
    assert reload(ticket).status == Status.IN_PROGRESS
    response = act(as_(north), ticket, "submit", {"hours_worked": "2", "reward_credits": "", "reward_pay": ""}, htmx)
    assert_done(response, ticket, htmx)
    assert (reload(ticket).reward_credits, reload(ticket).reward_pay) == (1, Decimal("6.00"))
    assert_done(
        act(as_(vance), ticket, "approve", {"credits": "1", "pay": "6.00", "note": "Good."}, htmx), ticket, htmx
    )
    ticket = reload(ticket)
    assert ticket.status == Status.CLOSED
    assert (User.objects.get(id=north.id).credits, User.objects.get(id=north.id).balance) == (1, Decimal("6.00"))
    if htmx:
        assert "Closed tickets are read-only." in text(as_(vance).get(url(ticket)))
    assert_ledger_invariant()


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_escalate_and_send_back_through_the_views(as_, org, htmx):
    ticket = submitted(org["shadow"], org["asset"])
    assert_done(act(as_(org["marshal"]), ticket, "escalate", {"note": "Kade should see this."}, htmx), ticket, htmx)
    assert reload(ticket).reviewer_id == org["executor"].id
    assert_done(act(as_(org["executor"]), ticket, "send-back", {"note": "Add times."}, htmx), ticket, htmx)
    assert (reload(ticket).status, reload(ticket).reviewer_id) == (Status.IN_PROGRESS, None)
    assert Comment.objects.get(ticket_id=ticket.id).body_md == "Add times."


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_comment_watch_and_unwatch_through_the_views(as_, org, htmx):
    ticket = new_ticket(org["shadow"], org["asset"])
    client = as_(org["executor"])
    assert_done(act(client, ticket, "comment", {"body_md": "Noted **well**."}, htmx), ticket, htmx)
    assert Comment.objects.get(ticket_id=ticket.id).author_id == org["executor"].id
    assert_done(act(client, ticket, "watch", htmx=htmx), ticket, htmx)
    assert TicketWatcher.objects.filter(ticket_id=ticket.id, user_id=org["executor"].id).exists()
    assert "unwatch" in forms_on(client.get(url(ticket)))
    assert_done(act(client, ticket, "unwatch", htmx=htmx), ticket, htmx)
    assert not TicketWatcher.objects.filter(ticket_id=ticket.id).exists()
    author = as_(org["shadow"])
    assert_done(act(author, ticket, "watch", {"user_id": org["asset_2"].id}, htmx), ticket, htmx)
    assert TicketWatcher.objects.filter(ticket_id=ticket.id, user_id=org["asset_2"].id).exists()


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_close_and_promote_through_the_views(as_, org, htmx):
    request = new_ticket(org["executor"], org["nyx"], category="Request", sub_category="Support")
    assert_done(act(as_(org["nyx"]), request, "close", {"note": "Done."}, htmx), request, htmx)
    assert reload(request).status == Status.CLOSED
    promotion = new_ticket(
        org["asset"], org["shadow"], category="Personnel", sub_category="Promotion Request", subject_id=org["asset"].id
    )
    assert_done(act(as_(org["marshal"]), promotion, "promote", htmx=htmx), promotion, htmx)
    north = User.objects.get(id=org["asset"].id)
    assert (north.rank, north.reports_to_id) == (Rank.SHADOW, org["marshal"].id)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_refusals_render_with_their_status_and_message(as_, org, htmx):
    ticket = new_ticket(org["shadow"], org["asset"])
    cases = [
        (org["shadow"], "start", {}, 403, "Only the assignee starts work on a ticket.", "Not permitted"),
        (org["marshal_2"], "start", {}, 404, "No such ticket.", "Not found"),
        (org["asset"], "comment", {"body_md": "  "}, 400, "A comment cannot be empty.", "Request refused"),
    ]
    for actor, action, data, status, message, heading in cases:
        before = database_state()
        response = act(as_(actor), ticket, action, data, htmx)
        assert response.status_code == status, (action, text(response))
        assert message in text(response) and f"<h1>{heading}</h1>" in text(response)
        assert is_fragment(response) == htmx
        assert database_state() == before
    services.start_work(actor=org["asset"], ticket_id=ticket.id)
    before = database_state()
    response = act(as_(org["asset"]), ticket, "start", htmx=htmx)
    assert response.status_code == 409 and "This ticket changed meanwhile" in text(response)
    assert database_state() == before


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_decisions_on_a_closed_ticket_are_409(as_, org, htmx):
    ticket = submitted(org["shadow"], org["asset"])
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=1, pay="3.00")
    before = database_state()
    for action, data in (
        ("approve", {"credits": "1", "pay": "3.00"}),
        ("escalate", {}),
        ("send-back", {"note": "x"}),
        ("comment", {"body_md": "late"}),
    ):
        response = act(as_(org["marshal"]), ticket, action, data, htmx)
        assert response.status_code == 409, action
        assert "This ticket is closed and read-only." in text(response)
    assert database_state() == before


def test_send_back_without_a_note_is_400(as_, org):
    ticket = submitted(org["shadow"], org["asset"])
    before = database_state()
    response = act(as_(org["marshal"]), ticket, "send-back", {"note": ""})
    assert response.status_code == 400 and "Say what needs rework." in text(response)
    assert database_state() == before


def test_a_decision_that_takes_a_private_ticket_out_of_sight_lands_on_the_list(as_, org):
    ticket = submitted(org["shadow"], org["asset"], credits=1, pay="15.01", visibility="private")
    client = as_(org["marshal"])
    response = act(client, ticket, "approve", {"credits": "1", "pay": "15.01", "confirmed": "yes"})  # up to Kade
    assert reload(ticket).reviewer_id == org["executor"].id
    assert response.status_code == 302 and response["Location"] == "/tickets/"
    assert "Recommended and escalated: over the limit" in text(client.get("/tickets/"))
    again = submitted(org["shadow"], org["asset"], credits=1, pay="3.00", visibility="private")
    response = act(client, again, "send-back", {"note": "Redo."}, htmx=True)
    assert reload(again).status == Status.IN_PROGRESS
    assert response.status_code == 200 and response["HX-Redirect"] == "/tickets/"
    assert "Not found" not in text(response)


# Markdown ----------------------------------------------------------------------------------------------------

HOSTILE = (
    "**bold** <script>alert('body')</script>\n\n"
    "[click](javascript:alert(1)) [ok](https://example.org/a)\n\n"
    '<img src=x onerror="alert(2)"> <a href="javascript:alert(3)">raw</a>\n\n'
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"
)


def prose(response):
    return "".join(re.findall(r'<div class="prose">(.*?)</div>', text(response), re.S))


def test_markdown_in_bodies_and_comments_never_becomes_live_html(as_, org):
    ticket = new_ticket(org["shadow"], org["asset"], body_md=HOSTILE)
    services.add_comment(actor=org["asset"], ticket_id=ticket.id, body_md=HOSTILE)
    response = as_(org["asset"]).get(url(ticket))
    rendered = prose(response)
    assert rendered.count("<strong>bold</strong>") == 2  # markdown still renders
    assert rendered.count('href="https://example.org/a"') == 2
    assert "<script" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;" in rendered  # shown as text
    live_links = re.findall(r'<a\s[^>]*href="([^"]*)"', rendered)
    assert live_links and not [link for link in live_links if not link.startswith("https://")]
    assert not re.search(r"<[a-z][^>]*\son\w+=", rendered, re.I)  # no live tag carries an event handler
    assert "<script>alert" not in text(response)


# Ledger, adjustments, dashboard ------------------------------------------------------------------------------


def test_my_own_ledger(as_, org):
    ticket = submitted(org["shadow"], org["asset"], credits=2, pay="7.25")
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=2, pay="7.25")
    response = as_(org["asset"]).get("/ledger/")
    body = text(response)
    assert response.status_code == 200
    assert "Your standing: <strong>2 credits</strong>, <strong>&curren;7.25</strong>" in body
    assert "Credit award" in body and "Payment" in body and "+2" in body and "&curren;7.25" in body
    assert f'href="{url(ticket)}"' in body
    fragment = as_(org["asset"]).get("/ledger/", headers=HX)
    assert is_fragment(fragment) and 'id="ledger-entries"' in text(fragment)


def test_the_ledger_pages_by_keyset_and_keeps_whose_ledger(as_, org):
    for number in range(27):
        economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=1, reason=f"Merit {number:02d}")
    client = as_(org["marshal"])
    first = text(client.get(f"/ledger/?user={org['asset'].id}"))
    assert "Merit 26" in first and "Merit 02" in first and "Merit 01" not in first  # 25 a page, newest first
    assert "First page" not in first
    next_link = NEXT_LINK.search(first).group(1).replace("&amp;", "&")
    assert next_link.startswith(f"?user={org['asset'].id}&after=")
    second = text(client.get("/ledger/" + next_link))
    assert "Merit 01" in second and "Merit 00" in second and "Merit 02" not in second
    assert "First page" in second and NEXT_LINK.search(second) is None
    own = text(as_(org["asset"]).get("/ledger/"))
    assert NEXT_LINK.search(own).group(1).startswith("?after=")  # one's own ledger needs no `user`
    broken = client.get(f"/ledger/?user={org['asset'].id}&after=not-a-cursor")
    assert broken.status_code == 400 and "That page link is broken" in text(broken)


def test_a_marshal_reads_a_subordinates_ledger_not_a_peers(as_, org):
    economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=4, reason="Good catch")
    client = as_(org["marshal"])
    response = client.get(f"/ledger/?user={org['asset'].id}")
    assert response.status_code == 200
    assert f"Ledger of {org['asset']}" in text(response) and "Good catch" in text(response)
    assert client.get(f"/ledger/?user={org['marshal_2'].id}").status_code == 404
    assert client.get(f"/ledger/?user={org['executor'].id}").status_code == 404
    assert client.get(f"/ledger/?user={org['asset_3'].id}").status_code == 404
    assert client.get("/ledger/?user=" + "c" * 24).status_code == 404
    assert as_(org["shadow"]).get(f"/ledger/?user={org['asset'].id}").status_code == 404
    assert as_(org["asset_2"]).get(f"/ledger/?user={org['asset'].id}").status_code == 404


def test_a_subordinates_ledger_does_not_name_a_ticket_out_of_the_readers_sight(as_, org):
    quiet = submitted(org["shadow"], org["asset"], title="Quiet errand", visibility="private")
    services.approve_reward(actor=org["marshal"], ticket_id=quiet.id, credits=1, pay="3.00")
    open_work = submitted(org["shadow"], org["asset"], title="Open errand")
    services.approve_reward(actor=org["marshal"], ticket_id=open_work.id, credits=1, pay="3.00")
    body = text(as_(org["executor"]).get(f"/ledger/?user={org['asset'].id}"))
    assert "Open errand" in body and f'href="{url(open_work)}"' in body
    assert "Quiet errand" not in body and quiet.id not in body
    assert body.count("not yours to see") == 2  # its credit award and its payment
    assert "Quiet errand" in text(as_(org["asset"]).get("/ledger/"))


def test_a_ledger_row_shows_each_column_escaped(as_, org):
    ticket = submitted(org["shadow"], org["asset"], title='<i>Crates & "kit"</i>', credits=2, pay="7.25")
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=2, pay="7.25")
    economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=-1, reason="<b>Late</b> & loud")
    body = text(as_(org["asset"]).get("/ledger/"))
    rows = re.findall(r"<tr>\s*<td><time datetime=\"[^\"]+\">[^<]+</time></td>\s*(.*?)\s*</tr>", body, re.S)
    marshal = f'<td class="col-optional" data-label="Approved by"><bdi>{shown_name(org["marshal"])}</bdi></td>'
    titled = f'<a href="{url(ticket)}"><bdi>&lt;i&gt;Crates &amp; &quot;kit&quot;&lt;/i&gt;</bdi></a>'
    cells = [re.split(r"\n\s*", row) for row in rows]
    assert cells[0] == [
        '<td class="col-optional" data-label="Type">Manual adjustment</td>',
        '<td class="num">-1</td>',
        '<td class="num"></td>',
        '<td class="col-optional" data-label="Ticket"></td>',
        marshal,
        '<td class="col-optional" data-label="Reason"><bdi>&lt;b&gt;Late&lt;/b&gt; &amp; loud</bdi></td>',
    ]
    assert sorted(cells[1:]) == sorted(
        [
            [
                f'<td class="col-optional" data-label="Type">{kind}</td>',
                f'<td class="num">{credits}</td>',
                f'<td class="num">{pay}</td>',
                f'<td class="col-optional" data-label="Ticket">{titled}</td>',
                marshal,
                '<td class="col-optional" data-label="Reason"><bdi></bdi></td>',
            ]
            for kind, credits, pay in (("Credit award", "+2", ""), ("Payment", "", "&curren;7.25"))
        ]
    )


def test_a_superiors_reading_of_a_ledger_costs_as_many_queries_however_many_entries_others_approved(as_, org):
    client = as_(org["executor"])  # may reverse what the marshal below them approved

    def queries():
        with CaptureQueriesContext(connection) as captured:
            body = text(client.get(f"/ledger/?user={org['asset'].id}"))
        return len(captured), body.count("Reverse&hellip;")

    def approved(number):
        ticket = submitted(org["shadow"], org["asset"], title=f"Errand {number}")
        services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=1, pay="3.00")

    economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=1, reason="First")
    approved(0)
    one, reversible = queries()
    assert reversible == 3  # the adjustment, the award and the payment
    approved(1)
    approved(2)
    assert queries() == (one, 7)


def test_adjusting_from_the_profile_route(as_, org):
    client = as_(org["marshal"])
    response = client.post(
        f"/people/{org['asset'].id}/adjust/", {"credits": "-2", "pay": "3.50", "reason": "Late, but thorough"}
    )
    assert response.status_code == 302 and response["Location"] == f"/people/{org['asset'].id}/"
    north = User.objects.get(id=org["asset"].id)
    assert (north.credits, north.balance) == (-2, Decimal("3.50"))
    entry = Transaction.objects.get(user_id=north.id)
    assert (entry.type, entry.approved_by_id, entry.reason) == ("manual_adj", org["marshal"].id, "Late, but thorough")
    assert "Adjustment recorded in the ledger." in text(client.get(response["Location"]))


@pytest.mark.parametrize(
    "viewer, person, shown",
    [
        ("marshal", "asset", True),
        ("marshal", "marshal", True),
        ("asset", "asset", True),
        ("asset", "shadow", False),
        ("shadow", "asset_2", False),
        ("marshal", "marshal_2", False),
    ],
)
def test_a_profile_shows_the_wallet_and_ledger_link_to_those_who_may_read_the_ledger(as_, org, viewer, person, shown):
    page = text(as_(org[viewer]).get(f"/people/{org[person].id}/"))
    assert ("All entries" in page) is shown
    assert ("<dt>Social credits</dt>" in page) is shown
    if shown and viewer != person:
        assert f"/ledger/?user={org[person].id}" in page
        assert as_(org[viewer]).get(f"/ledger/?user={org[person].id}").status_code == 200


@pytest.mark.parametrize(
    "actor, target, data, status, message",
    [
        ("marshal", "asset", {"credits": "1", "reason": ""}, 400, "A reason is required"),
        ("marshal", "asset", {"pay": "-0.01", "reason": "Fine"}, 400, "below zero"),
        ("marshal", "asset", {"pay": "1.005", "reason": "Fine"}, 400, "at most two decimals"),
        ("marshal", "asset", {"reason": "Nothing"}, 400, "must change credits or pay"),
        ("shadow", "asset", {"credits": "1", "reason": "Fine"}, 403, "Manual adjustments are for marshals"),
        ("marshal", "marshal_2", {"credits": "1", "reason": "Fine"}, 403, "Manual adjustments are for marshals"),
        ("marshal", "asset_3", {"credits": "1", "reason": "Fine"}, 404, "No such person."),
    ],
)
def test_refused_adjustments(as_, org, actor, target, data, status, message):
    before = database_state()
    response = as_(org[actor]).post(f"/people/{org[target].id}/adjust/", data)
    assert response.status_code == status
    assert message in text(response)
    assert database_state() == before


def test_the_dashboard_lists_my_open_work(as_, org):
    new_ticket(org["shadow"], org["asset"], title="Watch the depot")
    started(org["shadow"], org["asset"], title="Count the crates")
    done = submitted(org["shadow"], org["asset"], title="Finished sweep")
    services.approve_reward(actor=org["marshal"], ticket_id=done.id, credits=1, pay="3.00")
    new_ticket(org["shadow"], org["asset_2"], title="Lark's errand")
    work = my_work_panel(as_(org["asset"]).get("/"))
    assert "Watch the depot" in work and "Count the crates" in work
    assert "Finished sweep" not in work and "Lark's errand" not in work
    assert "Lark&#x27;s errand" not in work
    assert "Nothing is assigned to you." in my_work_panel(as_(org["marshal_3"]).get("/"))


def test_the_ticket_page_reads_its_people_without_secrets_in_as_many_queries_however_long_its_thread(
    as_, org, attachments_folder
):
    ticket = submitted(org["shadow"], org["asset"])
    client = as_(org["executor"])  # sees it over the assignee's work; not its reviewer

    def page():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url(ticket))
        assert response.status_code == 200
        return response.context, len(captured)

    def add_to_thread(number, watcher):
        services.add_comment(actor=org["shadow"], ticket_id=ticket.id, body_md=f"Note {number}")
        attachments.comment_with_attachment(
            actor=org["asset"], ticket_id=ticket.id, body_md=f"Photo {number}", upload=photo(number)
        )
        attachments.attach_to_ticket(actor=org["marshal"], ticket_id=ticket.id, upload=photo(number))
        services.add_watcher(actor=org[watcher], ticket_id=ticket.id, user_id=org[watcher].id)

    add_to_thread(1, "marshal")
    _, first = page()
    add_to_thread(2, "executor")
    services.send_back(actor=org["marshal"], ticket_id=ticket.id, comment="Sharper photos.")
    context, queries = page()
    assert queries == first
    assert len(context["comments"]) == 5 and len(context["attachments"]) == 2 and len(context["watchers"]) == 2
    people = [
        context["ticket"].author,
        context["ticket"].assignee,
        *context["watchers"],
        *(comment.author for comment in context["comments"]),
        *(file.uploader for file in context["attachments"]),
        *(file.uploader for comment in context["comments"] for file in comment.files),
        *(step.approver for step in context["approval_log"]),
    ]
    assert len(people) == 14
    for person in people:  # read with the columns that name them and answer the policy, nothing else
        assert {"password", "email", "credits", "balance"} <= person.get_deferred_fields()


def test_a_rank_changes_page_reads_its_subject_without_secrets(as_, org):
    request = promotion_request(org)
    response = as_(org["marshal"]).get(url(request))  # its reviewer, who decides it
    assert response.status_code == 200
    subject = response.context["ticket"].subject
    assert subject.id == org["asset"].id and f"<dd>{shown_name(org['asset'])}</dd>" in text(response)
    assert {"password", "email", "credits", "balance"} <= subject.get_deferred_fields()
    assert "Approve promotion" in text(response)


def photo(number):
    return SimpleUploadedFile(f"photo-{number}.png", PNG)


def test_each_dashboard_row_shows_its_columns_escaped(as_, org):
    title = '<b onmouseover="x()">Depot & "yard"</b>'
    shown = "&lt;b onmouseover=&quot;x()&quot;&gt;Depot &amp; &quot;yard&quot;&lt;/b&gt;"
    ticket = submitted(org["shadow"], org["asset"], title=title, credits=2, pay="4.50")
    promotion_request(org)
    north = shown_name(org["asset"])
    link = f'<td><a href="/tickets/{ticket.id}/"><bdi>{shown}</bdi></a></td>'
    awaiting = '<td><span class="status status-awaiting_review">Awaiting review</span></td>'

    asset = text(as_(org["asset"]).get("/"))
    assert f'<tr>{link}<td class="col-optional">Intel / Recon Report</td>{awaiting}</tr>' in asset
    shadow = text(as_(org["shadow"]).get("/"))
    assert f'<tr>{link}<td class="col-optional"><bdi>{north}</bdi></td>{awaiting}</tr>' in shadow
    marshal = text(as_(org["marshal"]).get("/"))
    assert (
        f'<tr>{link}<td class="col-optional"><bdi>{north}</bdi></td><td>2 cr &middot; &curren;4.50</td>'
        '<td class="col-optional">0\xa0minutes</td></tr>'
    ) in marshal
    assert (
        f'<bdi>Promote me</bdi></a></td><td class="col-optional"><bdi>{shown_name(org["shadow"])}</bdi></td>'
        in (marshal)
        and "<td>Promotion Request</td>" in marshal
    )
    assert re.search(
        rf'<li><svg class="rank-icon rank-shadow" [^>]*aria-label="Rank: Shadow">.*?</svg> '
        rf'<a href="/people/{org["shadow"].id}/">{re.escape(shown_name(org["shadow"]))}</a></li>',
        marshal,
    )

    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=2, pay="4.50")
    day = reload(ticket).closed_at.date().isoformat()
    panel = re.search(
        r'<h2 id="rewards-heading">Recent rewards</h2>(.*?)</section>', text(as_(org["asset"]).get("/")), re.S
    )
    rows = re.findall(r'<tr><td><time datetime="[^"]+">(.*?)</time></td><td>(.*?)</td><td>(.*?)</td></tr>', panel[1])
    linked = f'<a href="/tickets/{ticket.id}/"><bdi>{shown}</bdi></a>'
    assert sorted(rows) == sorted([(day, linked, "+2 cr"), (day, linked, "&curren;4.50")])


def test_the_dashboard_names_a_hidden_assignee_as_the_directorate(as_, org):
    ticket = new_ticket(org["executor"], org["marshal"], title="Audit the archive")
    Ticket.objects.filter(id=ticket.id).update(assignee=org["niki"])  # only Niki could be; shown as nobody
    page = text(as_(org["executor"]).get("/"))
    assert '<bdi>Audit the archive</bdi></a></td><td class="col-optional"><bdi>The Directorate</bdi></td>' in page
    assert org["niki"].display_name not in page and "rank-niki" not in page


def my_work_panel(response):
    assert response.status_code == 200
    found = re.search(r'<h2 id="work-heading">My work</h2>(.*?)</section>', text(response), re.S)
    assert found, "the dashboard has no My work panel"
    return found.group(1)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"reward_pay": "NaN"}, "reward_pay", "Must be an amount such as 12.50."),
        ({"reward_pay": "1e30"}, "reward_pay", "Must be an amount such as 12.50."),
        ({"reward_pay": "12,50"}, "reward_pay", "Write decimals with a point: 12.50, not 12,50."),
        ({"reward_pay": "100000.01"}, "reward_pay", "Must be between 0 and 100000.00."),
        ({"reward_credits": "2.5", "reward_pay": "1"}, "reward_credits", "Must be a whole number."),
        ({}, "hours_worked", "Required when no pay is proposed."),
    ],
)
def test_a_refused_submission_is_explained_at_its_field(as_, org, htmx, data, field, message):
    ticket = started(org["shadow"], org["asset"])
    before = database_state()
    response = act(as_(org["asset"]), ticket, "submit", data, htmx)
    assert response.status_code == 400
    body = text(response)
    # The message sits in the field's own error block, the input is marked invalid and keeps what was typed.
    assert re.search(rf'id="submit-{field}_error" role="alert"><p class="field-error">{re.escape(message)}</p>', body)
    assert re.search(
        rf'<input[^>]*aria-invalid="true"[^>]*id="submit-{field}"|<input[^>]*id="submit-{field}"'
        rf'[^>]*aria-invalid="true"',
        body,
    )
    assert field + ":" not in body  # no internal field names in what a member reads
    for value in data.values():
        assert f'value="{value}"' in body
    assert database_state() == before


def test_a_large_approval_asks_to_confirm_before_paying(as_, org):
    ticket = submitted(org["shadow"], org["asset"], credits=5, pay="12.00")
    client = as_(org["marshal"])
    before = database_state()
    response = act(client, ticket, "approve", {"credits": "5", "pay": "15.01"}, True)
    assert response.status_code == 200 and response["X-Decision-Pending"] == "confirm"
    assert "Yes, recommend and escalate" in text(response)
    assert database_state() == before  # nothing decided yet
    response = act(client, ticket, "approve", {"credits": "5", "pay": "12.00"}, True)  # normal: no question
    assert reload(ticket).status == Status.CLOSED
    assert "Approved: 5 credits and ¤12.00 paid to" in text(response)


def test_the_approval_service_asks_to_confirm_large_amounts_only_when_told_and_writes_nothing(org):
    ticket = submitted(org["shadow"], org["asset"], credits=5, pay="12.00")
    before = database_state()
    with pytest.raises(services.ConfirmationNeeded) as pending:
        services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=5, pay="15.01", confirm_large=True)
    assert (pending.value.outcome, pending.value.next_reviewer.id) == ("recommend", org["executor"].id)
    assert (pending.value.credits, pending.value.pay) == (5, Decimal("15.01"))
    assert database_state() == before
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=5, pay="15.01")  # the API's way
    assert reload(ticket).reviewer_id == org["executor"].id


def test_a_large_adjustment_asks_to_confirm_and_errors_sit_at_their_fields(as_, org):
    client = as_(org["marshal"])
    path = f"/people/{org['asset'].id}/adjust/"
    before = database_state()
    response = client.post(path, {"credits": "150", "pay": "", "reason": "Heroics"})
    assert response.status_code == 200 and "Confirm a large adjustment" in text(response)
    response = client.post(path, {"credits": "1", "pay": "12,50", "reason": "Heroics"})
    assert response.status_code == 400
    assert re.search(
        r'id="adjust-pay_error" role="alert"><p class="field-error">Write decimals with a point', text(response)
    )
    assert database_state() == before
    response = client.post(path, {"credits": "150", "pay": "0", "reason": "Heroics", "confirmed": "yes"})
    assert response.status_code == 302 and User.objects.get(id=org["asset"].id).credits == 150


def test_reversing_from_the_ledger_page(as_, org):
    client = as_(org["marshal"])
    entry = economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=3, pay="2.00", reason="Bonus")
    page = text(client.get(f"/ledger/?user={org['asset'].id}"))
    assert f"/ledger/entries/{entry.id}/reverse/" in page
    assert f"/ledger/entries/{entry.id}/reverse/" not in text(as_(org["asset"]).get("/ledger/"))  # not one's own
    client = as_(org["marshal"])
    response = client.post(f"/ledger/entries/{entry.id}/reverse/", {"reason": " "})
    assert response.status_code == 400 and 'id="reverse-' in text(response) and "Give a reason." in text(response)
    response = client.post(f"/ledger/entries/{entry.id}/reverse/", {"reason": "Wrong member"})
    assert response.status_code == 302
    assert User.objects.get(id=org["asset"].id).credits == 0
    assert f"/ledger/entries/{entry.id}/reverse/" not in text(client.get(response["Location"]))
    assert client.post(f"/ledger/entries/{entry.id}/reverse/", {"reason": "Again"}).status_code == 409


def test_the_queue_shows_who_brought_it_up_and_how_long_it_waited_oldest_first(as_, org):
    kade = org["executor"]
    first = submitted(org["shadow"], org["asset"], credits=1, pay="15.01")
    services.approve_reward(actor=org["marshal"], ticket_id=first.id, credits=1, pay="15.01")
    second = submitted(org["shadow"], org["asset_2"], credits=1, pay="20.00")
    services.approve_reward(actor=org["marshal"], ticket_id=second.id, credits=1, pay="20.00")
    client = as_(kade)
    body = text(client.get("/tickets/?scope=queue&order=oldest"))
    rows = re.findall(r'<a href="/tickets/([0-9a-f]{24})/">', body)
    assert rows[:2] == [first.id, second.id]
    assert "Recommended and escalated by <bdi>Marshal Member" in body and "(1 cr &middot; &curren;15.01)" in body
    assert re.search(r'<time datetime="[^"]+" title="Submitted [^"]+">0\xa0minutes</time>', body)
    rows = re.findall(r'<a href="/tickets/([0-9a-f]{24})/">', text(client.get("/tickets/?scope=queue")))
    assert rows[:2] == [second.id, first.id]


def test_the_dashboard_lists_tickets_i_wrote_and_the_form_says_what_earns(as_, org):
    request = new_ticket(
        org["asset"], org["shadow"], title="Night-vision kit", category="Request", sub_category="Resource"
    )
    client = as_(org["asset"])
    body = text(client.get("/"))
    assert "Written by me" in body and f"/tickets/{request.id}/" in body
    form = text(client.get("/tickets/new/"))
    assert '<optgroup label="Yourself: your own work, paid after review">' in form
    assert '<optgroup label="Your superior: a request, earns you nothing">' in form
    assert f'<option value="{org["asset"].id}" selected>' in form  # writing to yourself is the default
    assert "Marshal Member" in form and "reviews it and approves your pay" in form
