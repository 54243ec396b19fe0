"""The ledger page's CSV download (docs/rules.md section 11): the rows of the ledger the page shows, for the
same owner and with the same refusals; text cells that could start a spreadsheet formula are neutralised."""

import csv
import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.presentation import DIRECTORATE, shown_name
from economy.models import Transaction
from economy.services import adjust
from nyx.services import niki_command
from tests.downloads import downloaded
from tests.invariants import traces_of_niki
from tests.test_api_ledger import UNREADABLE_LEDGERS
from tickets import services

HEADER = ["time (UTC)", "type", "credits", "pay", "ticket id", "ticket title", "approved by", "reason"]
MISSING_ID = "0123456789abcdef01234567"


def main_part(content):
    """The page's own part, without the masthead (whose current-page mark differs by route)."""
    return re.search(rb"<main.*</main>", content, re.S).group()


def rows_of(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename")
    return list(csv.reader(io.StringIO(downloaded(response))))


def paid_ticket(org, *, title, visibility="hierarchical", credits=2, pay="7.50"):
    ticket = services.create_ticket(
        actor=org["asset"],
        assignee_id=org["asset"].id,
        title=title,
        category="Order",
        sub_category="Routine Directive",
        visibility=visibility,
    )
    services.start_work(actor=org["asset"], ticket_id=ticket.id)
    services.submit_for_review(actor=org["asset"], ticket_id=ticket.id, reward_credits=credits, reward_pay=pay)
    services.approve_reward(actor=org["marshal"], ticket_id=ticket.id, credits=credits, pay=pay)
    return ticket


@pytest.fixture
def ledger(org):
    """The asset's ledger: a paid ticket, a private paid ticket, formula-like text, a penalty and Niki's act."""
    shown = paid_ticket(org, title='=HYPERLINK("http://evil","Depot")')
    private = paid_ticket(org, title="Private errand", visibility="private", credits=1, pay="3.00")
    adjust(actor=org["marshal"], user_id=org["asset"].id, credits=-5, pay="-1.25", reason="+SUM(A1:A9)")
    adjust(actor=org["marshal"], user_id=org["asset"].id, credits=3, pay="0", reason="@cmd|'/c calc'!A0")
    adjust(actor=org["marshal"], user_id=org["asset"].id, credits=1, pay="0", reason="-1 for lateness; =ok")
    assert niki_command(
        actor=org["niki"],
        payload={"action": "adjust", "user_id": org["asset"].id, "credits": 4, "pay": "2.00", "reason": "Bonus"},
    ).done
    return {"shown": shown, "private": private}


def test_the_owner_downloads_every_entry_newest_first(client, org, ledger):
    client.force_login(org["asset"])
    rows = rows_of(client.get(reverse("ledger_csv")))
    assert rows[0] == HEADER
    entries = list(Transaction.objects.filter(user_id=org["asset"].id).order_by("-ts", "-id"))
    assert len(rows) == 1 + len(entries) == 1 + 8
    for row, entry in zip(rows[1:], entries, strict=True):
        when, kind, credits, pay = row[:4]
        assert when == entry.ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{entry.ts.microsecond // 1000:03d}Z"
        assert (kind, int(credits), Decimal(pay)) == (entry.type, entry.amount_cr, entry.amount_pay)
    assert sum(int(row[2]) for row in rows[1:]) == 2 + 1 - 5 + 3 + 1 + 4  # the wallet's credits
    assert sum(Decimal(row[3]) for row in rows[1:]) == Decimal("7.50") + Decimal("3.00") - Decimal("1.25") + 2


def test_formula_text_is_neutralised_and_numbers_stay_numbers(client, org, ledger):
    client.force_login(org["asset"])
    rows = rows_of(client.get(reverse("ledger_csv")))
    reasons = {row[7] for row in rows[1:]}
    assert {"'+SUM(A1:A9)", "'@cmd|'/c calc'!A0", "'-1 for lateness; =ok", "Bonus"} <= reasons
    titles = {row[5] for row in rows[1:] if row[5]}
    assert '\'=HYPERLINK("http://evil","Depot")' in titles
    penalty = next(row for row in rows[1:] if row[7] == "'+SUM(A1:A9)")
    assert (penalty[2], penalty[3]) == ("-5", "-1.25")  # numeric cells keep their sign, unquoted
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for row in rows for cell in row)


def test_niki_shows_as_the_directorate_and_leaves_no_trace(client, org, ledger):
    for viewer in ("asset", "marshal", "executor"):
        client.force_login(org[viewer])
        response = client.get(reverse("ledger_csv"), {"user": org["asset"].id} if viewer != "asset" else {})
        text = downloaded(response)
        assert traces_of_niki(text, org["niki"]) == [], viewer
        bonus = next(row for row in csv.reader(io.StringIO(text)) if row[-1] == "Bonus")
        assert bonus[6] == DIRECTORATE


def test_tickets_are_named_only_when_the_reader_may_see_them(client, org, ledger):
    client.force_login(org["marshal"])  # the reviewer of both: sees both
    rows = rows_of(client.get(reverse("ledger_csv"), {"user": org["asset"].id}))
    assert {row[4] for row in rows[1:] if row[4]} == {ledger["shown"].id, ledger["private"].id}
    client.force_login(org["executor"])  # above, but a private ticket is not theirs to see
    rows = rows_of(client.get(reverse("ledger_csv"), {"user": org["asset"].id}))
    named = {row[4]: row[5] for row in rows[1:] if row[4]}
    assert named == {ledger["shown"].id: "'" + ledger["shown"].title}
    assert "Private errand" not in downloaded(client.get(reverse("ledger_csv"), {"user": org["asset"].id}))
    payment = next(row for row in rows[1:] if row[1] == "payment" and row[3] == "3.00")
    assert payment[4:6] == ["", ""] and payment[6] == shown_name(org["marshal"])


@pytest.mark.parametrize("viewer, owner", [*UNREADABLE_LEDGERS, ("executor", "niki"), ("marshal", None)])
def test_a_ledger_the_page_refuses_is_refused_the_same(client, org, ledger, viewer, owner):
    client.force_login(org[viewer])
    query = {"user": org[owner].id if owner else MISSING_ID}
    page = client.get(reverse("ledger"), query)
    download = client.get(reverse("ledger_csv"), query)
    assert page.status_code == download.status_code == 404
    assert main_part(download.content) == main_part(page.content)
    assert traces_of_niki(download.content.decode(), org["niki"]) == []


@pytest.mark.parametrize("viewer", ["marshal", "executor", "nyx", "niki"])
def test_a_subordinates_ledger_downloads_exactly_when_the_page_shows(client, org, ledger, viewer):
    client.force_login(org[viewer])
    page = client.get(reverse("ledger"), {"user": org["asset"].id})
    assert page.status_code == 200
    assert f'href="{reverse("ledger_csv")}?user={org["asset"].id}"' in page.content.decode()
    rows = rows_of(client.get(reverse("ledger_csv"), {"user": org["asset"].id}))
    assert len(rows) == 1 + Transaction.objects.filter(user_id=org["asset"].id).count()


def test_the_download_link_on_ones_own_ledger(client, org):
    client.force_login(org["shadow"])
    page = client.get(reverse("ledger")).content.decode()
    assert f'href="{reverse("ledger_csv")}"' in page and "Download CSV" in page
    assert rows_of(client.get(reverse("ledger_csv"))) == [HEADER]


def test_a_name_beyond_ascii_still_names_the_file(client, org, make_member):
    member = make_member("asset", org["shadow"], username="asset.ñandú")
    client.force_login(member)
    response = client.get(reverse("ledger_csv"))
    assert rows_of(response) == [HEADER]
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''ledger-asset.%C3%B1and%C3%BA.csv"
