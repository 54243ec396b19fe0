"""Niki's console: each form sends one command through the same service as `/niki/command`, people and tickets
are picked by search, refusals are shown at the form and write nothing but their audit entry, the audit log
names people and tickets, filters, pages and downloads, and the override panel sits on every ticket page."""

import csv
import io
import json
import re
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import Notification, RankChange, User
from accounts.ranks import Rank
from economy.models import Transaction
from nyx.models import AuditEntry, NyxAction
from tests.downloads import materialised
from tests.invariants import assert_ledger_invariant, database_state
from tickets import services
from tickets.models import Ticket

HOME = "/niki/"


@pytest.fixture
def niki(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org["niki"])
    page = client.get(HOME)
    assert page.status_code == 200
    client.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    return client


def act(client, name, data, **extra):
    return client.post(f"/niki/act/{name}", {"csrfmiddlewaretoken": client.token, **data}, **extra)


def submitted(person, *, credits, pay, title="Night watch"):
    ticket = services.create_ticket(
        actor=person, assignee_id=person.id, category="Order", sub_category="Special Operation", title=title
    )
    services.start_work(actor=person, ticket_id=ticket.id)
    services.submit_for_review(actor=person, ticket_id=ticket.id, reward_credits=credits, reward_pay=pay)
    return Ticket.objects.get(id=ticket.id)


def without_audit(state):
    return {table: rows for table, rows in state.items() if "audit" not in table.lower()}


# Each power ----------------------------------------------------------------------------------------------


def test_override_from_the_console_closes_and_pays_and_is_audited(niki, org):
    ticket = submitted(org["shadow"], credits="150", pay="9.00")

    response = act(
        niki,
        "override",
        {
            "override-ticket": ticket.id,
            "override-credits": "120",
            "override-pay": "",
            "override-reason": "Exemplary watch.",
        },
    )

    assert response.status_code == 302 and response["Location"] == "/niki/#override"
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED and ticket.reward_credits == 120
    shadow = User.objects.get(id=org["shadow"].id)
    assert (shadow.credits, shadow.balance) == (120, Decimal("9.00"))
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.outcome, entry.subject_id) == ("override_approve", "done", shadow.id)
    assert entry.detail["command"]["reasoning"] == "Exemplary watch."
    assert (entry.detail["credits"], entry.detail["pay"]) == (120, "9.00")
    page = niki.get(HOME).content.decode()
    assert "Approved past review: 120 credits" in page
    assert_ledger_invariant()


def test_override_from_the_ticket_page_goes_back_to_the_ticket(niki, org):
    ticket = submitted(org["asset"], credits="1", pay="3.00")
    page = niki.get(f"/tickets/{ticket.id}/").content.decode()
    assert 'id="niki-override"' in page and 'action="/niki/act/override"' in page

    response = act(niki, "override", {"back": "ticket", "override-ticket": ticket.id, "override-reason": "Fine."})

    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.id}/"
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.CLOSED
    closed = niki.get(f"/tickets/{ticket.id}/").content.decode()
    assert "Closed tickets stay read-only, overrides included." in closed


def test_a_refused_override_on_the_ticket_page_says_why_there(niki, org):
    ticket = submitted(org["asset"], credits="1", pay="3.00")
    before = without_audit(database_state())

    response = act(
        niki,
        "override",
        {"back": "ticket", "override-ticket": ticket.id, "override-credits": "lots", "override-reason": "Fine."},
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="niki-override"' in body and "Refused" in body and "Nothing was changed." in body
    assert ticket.title in body  # the ticket page itself, not the console
    assert without_audit(database_state()) == before
    assert AuditEntry.objects.get().outcome == "refused"


def test_the_ticket_page_panel_answers_htmx_in_place(niki, org):
    ticket = submitted(org["asset"], credits="1", pay="3.00")
    htmx = {"headers": {"HX-Request": "true"}}

    refused = act(
        niki,
        "override",
        {"back": "ticket", "override-ticket": ticket.id, "override-pay": "x", "override-reason": "Fine."},
        **htmx,
    )
    assert refused.status_code == 400
    body = refused.content.decode()
    assert body.lstrip().startswith('<section class="panel override-panel" id="niki-override"')  # the panel alone
    assert "Refused" in body and "<html" not in body

    done = act(niki, "override", {"back": "ticket", "override-ticket": ticket.id, "override-reason": "Fine."}, **htmx)
    assert done.status_code == 200 and done["HX-Redirect"] == f"/tickets/{ticket.id}/"
    assert Ticket.objects.get(id=ticket.id).status == Ticket.Status.CLOSED


def test_an_override_of_a_ticket_closed_meanwhile_is_refused_on_its_page(niki, org):
    ticket = submitted(org["asset"], credits="1", pay="3.00")
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits="1", pay="3.00")

    response = act(niki, "override", {"back": "ticket", "override-ticket": ticket.id, "override-reason": "Late."})

    assert response.status_code == 409
    panel = re.search(r'<section class="panel override-panel".*?</section>', response.content.decode(), re.S).group(0)
    assert "Refused" in panel and "This ticket is closed and read-only." in panel
    assert "Closed tickets stay read-only, overrides included." in panel
    assert Transaction.objects.filter(related_ticket_id=ticket.id).count() == 2  # the marshal's approval only


def test_adjust_a_member_picked_by_search(niki, org):
    asset = org["asset_3"]
    found = niki.get("/niki/pick/people", {"field": "adjust-member", "q": str(asset.service_number)})
    assert found.status_code == 200
    assert f'name="adjust-member" value="{asset.id}"' in found.content.decode()
    by_name = niki.get("/niki/pick/people", {"field": "adjust-member", "q": "asset.thr"}).content.decode()
    assert asset.id in by_name and org["asset"].id not in by_name

    response = act(
        niki,
        "adjust",
        {"adjust-member": asset.id, "adjust-credits": "-4", "adjust-pay": "2.50", "adjust-reason": "Correction."},
    )

    assert response.status_code == 302
    asset.refresh_from_db()
    assert (asset.credits, asset.balance) == (-4, Decimal("2.50"))
    entry = Transaction.objects.get(user_id=asset.id)
    assert entry.type == "manual_adj" and entry.approved_by_id == org["niki"].id
    assert AuditEntry.objects.get().subject_id == asset.id
    assert_ledger_invariant()


def test_promote_with_a_new_superior(niki, org):
    asset = org["asset"]
    response = act(
        niki, "rank", {"rank-member": asset.id, "rank-rank": "marshal", "rank-superior": org["executor_2"].id}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    asset.refresh_from_db()
    assert (asset.rank, asset.reports_to_id) == (Rank.MARSHAL, org["executor_2"].id)
    assert RankChange.objects.get(user=asset).approved_by_id == org["niki"].id
    note = Notification.objects.get(user_id=asset.id)
    assert note.message == "The Directorate promoted you to Marshal; you report to Executor Member 2."


def test_demote_keeping_the_superior(niki, org):
    marshal = org["marshal_3"]
    response = act(niki, "rank", {"rank-member": marshal.id, "rank-rank": "shadow"})
    assert response.status_code == 302
    marshal.refresh_from_db()
    assert (marshal.rank, marshal.reports_to_id) == (Rank.SHADOW, org["executor_2"].id)


def test_move_under_another_superior_takes_the_subtree_along(niki, org):
    shadow = org["shadow"]
    response = act(niki, "move", {"move-member": shadow.id, "move-superior": org["marshal_2"].id})
    assert response.status_code == 302
    shadow.refresh_from_db()
    asset = User.objects.get(id=org["asset"].id)
    assert shadow.reports_to_id == org["marshal_2"].id and asset.chain.startswith(shadow.chain)
    assert Notification.objects.get(user_id=shadow.id).message == (
        "The Directorate moved you: you now report to Marshal Member 4."
    )


def test_broadcast_reaches_every_member_as_the_directorates(niki, org):
    response = act(niki, "broadcast", {"broadcast-message": "Stand by for inspection."})
    assert response.status_code == 302
    members = User.objects.filter(hidden=False).count()
    notes = Notification.objects.filter(message="Command from The Directorate: Stand by for inspection.")
    assert notes.count() == members
    assert not Notification.objects.filter(user_id=org["niki"].id).exists()
    assert AuditEntry.objects.get().detail["reason"] == f"Broadcast to {members} members."


def test_ask_nyx_for_directives(niki, org, settings):
    settings.GEMINI_API_KEY = ""
    response = act(niki, "directives", {"directives-topic": "perimeter inspection"})
    assert response.status_code == 302
    issued = NyxAction.objects.filter(outcome="done", requested_by=org["niki"])
    assert issued.count() >= 2
    assert Ticket.objects.filter(author=org["nyx"], title__icontains="perimeter").count() == issued.count()
    entry = AuditEntry.objects.get()
    assert entry.action == "request_directives" and entry.outcome == "done"


# Refusals ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, data, status, message",
    [
        ("rank", lambda o: {"rank-member": o["nyx"].id, "rank-rank": "executor"}, 403, "keep their places"),
        ("rank", lambda o: {"rank-member": o["executor"].id, "rank-rank": "niki"}, 400, "nobody is made Nyx or"),
        (
            "rank",
            lambda o: {"rank-member": o["shadow"].id, "rank-rank": "executor"},
            400,
            "superior must hold a higher rank",
        ),
        (
            "move",
            lambda o: {"move-member": o["marshal"].id, "move-superior": o["marshal"].id},
            400,
            "Nobody reports to themselves",
        ),
        (
            "move",
            lambda o: {"move-member": o["marshal"].id, "move-superior": o["asset"].id},
            400,
            "nobody reports to someone below them",
        ),
        (
            "adjust",
            lambda o: {"adjust-member": o["asset"].id, "adjust-pay": "-1.00", "adjust-reason": "x"},
            400,
            "below zero",
        ),
        ("adjust", lambda o: {"adjust-member": o["asset"].id, "adjust-credits": "3"}, 400, "Give a reason"),
        ("adjust", lambda o: {"adjust-credits": "3", "adjust-reason": "x"}, 400, "Choose the member"),
        ("broadcast", lambda o: {"broadcast-message": "x" * 501}, 400, "at most 500"),
    ],
)
def test_a_refusal_is_shown_at_the_form_and_writes_nothing(niki, org, name, data, status, message):
    before = without_audit(database_state())
    response = act(niki, name, data(org))
    body = response.content.decode()
    assert response.status_code == status, body[:3000]
    assert message in body
    assert "Refused" in body and "Nothing was changed." in body
    assert without_audit(database_state()) == before


def test_promoting_to_niki_is_not_offered(niki, org):
    page = niki.get(HOME).content.decode()
    ranks = re.search(r'<select name="rank-rank"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'value="([a-z]+)"', ranks) == ["asset", "shadow", "marshal", "executor"]


def test_niki_is_not_among_the_people_to_pick(niki, org):
    for query in ("niki", "Niki", "7360", "nik"):
        found = niki.get("/niki/pick/people", {"field": "move-superior", "q": query}).content.decode()
        assert org["niki"].id not in found


def test_the_json_route_keeps_its_shape_for_the_new_commands(niki, org):
    response = niki.post(
        "/niki/command",
        json.dumps({"action": "broadcast", "message": "Attention."}),
        content_type="application/json",
        headers={"X-CSRFToken": niki.token},
    )
    assert response.status_code == 200
    assert response.json() == {"outcome": "done", "reason": response.json()["reason"], "ticket_id": None}
    refused = niki.post(
        "/niki/command",
        json.dumps({"action": "broadcast", "message": ""}),
        content_type="application/json",
        headers={"X-CSRFToken": niki.token},
    )
    assert refused.status_code == 400 and refused.json()["outcome"] == "refused"


def test_a_form_needs_the_csrf_token(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org["niki"])
    response = client.post("/niki/act/broadcast", {"broadcast-message": "No token."})
    assert response.status_code == 403
    assert not Notification.objects.exists()


# The audit log -------------------------------------------------------------------------------------------


@pytest.fixture
def logged(niki, org):
    ticket = submitted(org["shadow"], credits="5", pay="9.00", title="Vault count")
    act(niki, "override", {"override-ticket": ticket.id, "override-reason": "Counted."})
    act(niki, "adjust", {"adjust-member": org["asset"].id, "adjust-credits": "2", "adjust-reason": "Merit."})
    act(niki, "rank", {"rank-member": org["nyx"].id, "rank-rank": "asset"})
    return ticket


def test_the_audit_log_names_people_and_tickets_and_marks_refusals(niki, org, logged):
    page = niki.get("/niki/audit/").content.decode()
    assert f'<a href="/tickets/{logged.id}/">Vault count</a>' in page
    assert f'href="/people/{org["asset"].id}/"' in page and str(org["asset"]) in page
    assert "Override approval" in page and "Adjustment" in page and "Rank or superior" in page
    assert page.count('class="warning">Refused') == 1
    assert "Counted." in page and "Merit." in page
    assert '<td class="col-optional">Niki</td>' in page  # who: the true actor, for Niki's eyes only
    assert not re.search(r">\s*[0-9a-f]{24}\s*<", page), "no bare ids shown"


def entries_of(page):
    """The audit log's heading and table (the filter form names every kind of command)."""
    return re.search(r'<h2 id="entries-heading">.*?</table>', page, re.S).group(0)


def test_the_audit_log_filters(niki, org, logged):
    refused = entries_of(niki.get("/niki/audit/", {"outcome": "refused"}).content.decode())
    assert "1 command<" in refused and "Rank or superior" in refused and "Adjustment" not in refused
    about_asset = entries_of(niki.get("/niki/audit/", {"member": org["asset"].id}).content.decode())
    assert "1 command about" in about_asset and "Merit." in about_asset and "Counted." not in about_asset
    adjustments = entries_of(niki.get("/niki/audit/", {"action": "adjust"}).content.decode())
    assert "Merit." in adjustments and "Counted." not in adjustments
    bad = niki.get("/niki/audit/", {"outcome": "maybe"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()


def test_the_audit_log_pages(niki, org):
    for number in range(55):
        act(
            niki,
            "adjust",
            {"adjust-member": org["asset"].id, "adjust-credits": "1", "adjust-reason": f"Merit {number}."},
        )
    first = niki.get("/niki/audit/", {"action": "adjust"}).content.decode()
    assert "55 commands" in first and "Merit 54." in first and "Merit 4." not in first
    assert "First page" not in first
    next_link = re.search(r'<a rel="next" href="\?([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "action=adjust" in next_link  # the filters go on to the next page
    second = niki.get(f"/niki/audit/?{next_link}").content.decode()
    assert "Merit 4." in second and "Merit 0." in second and "Merit 54." not in second and "Merit 5." not in second
    assert "First page" in second and 'rel="next"' not in second
    broken = niki.get("/niki/audit/", {"after": "not-a-cursor"})
    assert broken.status_code == 400 and "That page link is broken" in broken.content.decode()


def test_the_audit_log_downloads_as_csv(niki, org, logged):
    response = materialised(niki.get("/niki/audit.csv", {"outcome": "done"}))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["time (UTC)", "who", "what", "outcome"]
    assert len(rows) == 3 and {row[3] for row in rows[1:]} == {"done"}
    adjust = next(row for row in rows if row[2] == "Adjustment")
    assert adjust[1] == "Niki" and adjust[4] == str(org["asset"]) and adjust[7] == "2" and adjust[9] == "Merit."


# Niki's own pages --------------------------------------------------------------------------------------------


def test_niki_s_own_pages_read_naturally(niki, org):
    dashboard = niki.get("/").content.decode()
    heading = re.search(r'<h1 class="page-title">(.*?)</h1>', dashboard).group(1)
    assert heading == "Niki"
    assert "Reports to</dt><dd>The Directorate" not in dashboard
    assert 'href="/niki/"' in dashboard  # the console is in Niki's main navigation
    profile = niki.get("/profile/").content.decode()
    assert "Reports to</dt><dd>No one: the Controller</dd>" in profile
    nyx = niki.get(f"/people/{org['nyx'].id}/").content.decode()
    assert "Reports to</dt><dd>You</dd>" in nyx  # Nyx reports to Niki, who reads it so


@pytest.mark.parametrize("viewer", ["marshal", "executor", "nyx"])
def test_others_see_no_override_panel_and_no_controller_link(client, org, viewer):
    ticket = submitted(org["asset"], credits="1", pay="3.00")
    client.force_login(org[viewer])
    page = client.get(f"/tickets/{ticket.id}/").content.decode()
    assert 'id="niki-override"' not in page and "Override and approve" not in page
    assert ">Controller<" not in client.get("/").content.decode()


def test_the_console_stylesheet_says_nothing_of_niki(client):
    from django.contrib.staticfiles import finders

    for name in ("nyx/controls.css", "nyx/nyx.css"):
        with open(finders.find(name), encoding="utf-8") as stylesheet:
            assert "niki" not in stylesheet.read().lower(), name


def test_no_id_is_typed_by_hand(niki, org):
    """Every field that names a person or a ticket is a radio button filled by search (or fixed by the page)."""
    submitted(org["asset"], credits="1", pay="3.00")
    page = niki.get(HOME).content.decode()
    named = re.findall(r'<input type="(\w+)" name="[a-z]+-(?:member|superior|ticket)"', page)
    assert named and set(named) == {"radio"}
    searches = re.findall(r'<input type="search" id="([a-z-]+)-q" name="q" form="([a-z-]+)"', page)
    assert {field for field, _ in searches} == {
        "override-ticket",
        "adjust-member",
        "rank-member",
        "rank-superior",
        "move-member",
        "move-superior",
    }
    assert all(owner == f"{field}-search" for field, owner in searches)  # no form: Enter sends nothing
    assert not re.search(r'id="[a-z-]+-search"', page)


@pytest.mark.parametrize(
    "payload",
    [
        lambda o: {"action": "hide", "user_id": o["asset"].id},
        lambda o: {"action": "move_member", "user_id": o["asset"].id, "hidden": True},
        lambda o: {"action": "adjust", "user_id": o["asset"].id, "credits": 1, "reason": "x", "hidden": False},
    ],
)
def test_no_command_hides_or_unhides_a_member(niki, org, payload):
    response = niki.post(
        "/niki/command", json.dumps(payload(org)), content_type="application/json", headers={"X-CSRFToken": niki.token}
    )
    assert response.status_code == 400 and response.json()["outcome"] == "refused"
    assert list(User.objects.filter(hidden=True).values_list("rank", flat=True)) == [Rank.NIKI]
