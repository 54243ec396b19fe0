"""The inbox page (docs/rules.md 20): following a notification's link reads it, unread or all, identical notices
as one row, and sentences that name only what was awarded. Every test ends with each member's unread count
checked against their notifications (tests/conftest.py checks it after every database test)."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Notification, User
from accounts.presentation import amounts_in_words
from accounts.services import notify
from economy import services as economy
from tickets.services import create_ticket


def kept(person):
    return User.objects.get(id=person.id).unread_notifications


def a_ticket(org, title="Survey the west gate"):
    return create_ticket(
        actor=org["shadow"],
        title=title,
        category="Order",
        sub_category="Routine Directive",
        assignee_id=org["asset"].id,
    )


def rows(page):
    return re.findall(r'<li class="inbox-item[^"]*">(.*?)</li>', page.content.decode(), re.S)


def test_opening_a_linked_notification_reads_it_and_leads_to_its_ticket(as_, org):
    ticket = a_ticket(org)
    notice = Notification.objects.get(user=org["asset"], ticket=ticket)
    other = notify(recipients=[org["asset"]], message="Muster at dawn")[0]
    assert kept(org["asset"]) == 2
    client = as_(org["asset"])
    page = client.get("/inbox/")
    assert f'href="/inbox/{notice.id}/open/"' in page.content.decode()
    answer = client.get(f"/inbox/{notice.id}/open/")
    assert answer.status_code == 302 and answer["Location"] == f"/tickets/{ticket.id}/"
    assert Notification.objects.get(id=notice.id).read is True
    assert Notification.objects.get(id=other.id).read is False
    assert kept(org["asset"]) == 1
    # Opening it again reads nothing more and still leads there.
    assert client.get(f"/inbox/{notice.id}/open/")["Location"] == f"/tickets/{ticket.id}/"
    assert kept(org["asset"]) == 1


def test_someone_elses_notification_does_not_open(as_, org):
    notice = notify(recipients=[org["asset"]], message="Muster at dawn", ticket=a_ticket(org))[0]
    assert as_(org["asset_2"]).get(f"/inbox/{notice.id}/open/").status_code == 404
    assert Notification.objects.get(id=notice.id).read is False


def test_the_inbox_shows_unread_first_and_all_on_request(as_, org):
    old = notify(recipients=[org["asset"]], message="Read already")[0]
    notify(recipients=[org["asset"]], message="Still waiting")
    client = as_(org["asset"])
    client.post(f"/inbox/{old.id}/read/")
    unread = client.get("/inbox/").content.decode()
    assert "Still waiting" in unread and "Read already" not in unread
    assert 'aria-current="true">Unread (1)' in unread
    everything = client.get("/inbox/?show=all").content.decode()
    assert "Still waiting" in everything and "Read already" in everything
    # With nothing unread, the inbox opens on everything.
    client.post("/inbox/read-all/")
    assert "Read already" in client.get("/inbox/").content.decode()
    assert "Nothing unread" in client.get("/inbox/?show=unread").content.decode()


def test_identical_notices_are_one_row_and_read_together(as_, org):
    for _ in range(30):
        notify(recipients=[org["asset"]], message="Report to the depot")
    notify(recipients=[org["asset"]], message="Bring the maps")
    client = as_(org["asset"])
    shown = rows(client.get("/inbox/"))
    assert len(shown) == 2
    assert "30 notices:" in shown[1] and "Report to the depot" in shown[1] and "30 new" in shown[1]
    assert "notices:" not in shown[0]
    newest = Notification.objects.filter(user=org["asset"], message="Report to the depot").order_by("-id").first()
    client.post(f"/inbox/{newest.id}/read/")
    assert Notification.objects.filter(user=org["asset"], read=False).count() == 1
    assert kept(org["asset"]) == 1
    assert "30 notices:" in rows(client.get("/inbox/?show=all"))[1]


def test_sentences_name_only_what_moves():
    assert amounts_in_words(5, 0) == "5 credits"
    assert amounts_in_words(1, 0) == "1 credit"
    assert amounts_in_words(0, 12) == "¤12.00"
    assert amounts_in_words(3, 12.5) == "3 credits and ¤12.50"
    assert amounts_in_words(-7, 0, signed=True) == "minus 7 credits"
    assert amounts_in_words(0, 0) == "nothing"


def test_an_adjustment_of_credits_only_says_no_pay(org):
    economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=5, reason="Bonus")
    message = Notification.objects.get(user=org["asset"]).message
    assert message.endswith("adjusted your account by 5 credits: Bonus")
    economy.adjust(actor=org["marshal"], user_id=org["asset"].id, credits=-2, pay="3.50", reason="Fine")
    latest = Notification.objects.filter(user=org["asset"]).order_by("-id").first().message
    assert latest.endswith("adjusted your account by minus 2 credits and ¤3.50: Fine")


def test_the_inbox_pages_by_number_and_keeps_what_it_shows(as_, org):
    for number in range(27):
        notify(recipients=[org["asset"]], message=f"Order {number:02d}")
    client = as_(org["asset"])
    first = client.get("/inbox/", {"show": "unread"}).content.decode()
    assert len(rows(client.get("/inbox/", {"show": "unread"}))) == 25
    assert "Page 1 of 2" in first and "Order 26" in first and "Order 01" not in first
    assert 'rel="next" href="?show=unread&amp;page=2"' in first
    second = client.get("/inbox/", {"show": "unread", "page": 2}).content.decode()
    assert "Order 01" in second and "Order 00" in second and "Order 26" not in second
    assert 'rel="prev" href="?show=unread&amp;page=1"' in second and 'rel="next"' not in second


def test_a_first_page_with_room_to_spare_is_counted_without_a_query_and_a_full_one_is_counted(as_, org):
    client = as_(org["asset"])

    def first_page():
        with CaptureQueriesContext(connection) as captured:
            body = client.get("/inbox/", {"show": "all"}).content.decode()
        return len(captured), body

    for number in range(25):
        notify(recipients=[org["asset"]], message=f"Order {number:02d}")
    short, body = first_page()
    assert len(re.findall(r'<li class="inbox-item', body)) == 25 and 'class="pager"' not in body
    notify(recipients=[org["asset"]], message="Order 25")
    full, body = first_page()
    assert full == short + 1 and "Page 1 of 2" in body  # the count, read only now
    assert "Order 25" in body and "Order 00" not in body
    assert "Order 00" in client.get("/inbox/", {"show": "all", "page": "2"}).content.decode()
    assert "Order 25" in client.get("/inbox/", {"show": "all", "page": "first"}).content.decode()  # as Django's


def test_each_row_says_what_is_new_offers_reading_it_and_escapes_the_words(as_, org):
    read = notify(recipients=[org["asset"]], message="Seen <b>before</b>")[0]
    notify(recipients=[org["asset"]], message="Fresh & <i>loud</i>")
    client = as_(org["asset"])
    client.post(f"/inbox/{read.id}/read/")
    fresh, seen = rows(client.get("/inbox/?show=all"))
    assert '<span class="tag">new</span>' in fresh and "Fresh &amp; &lt;i&gt;loud&lt;/i&gt;" in fresh
    newest = Notification.objects.get(user=org["asset"], read=False)
    assert f'<form method="post" action="/inbox/{newest.id}/read/">' in fresh
    assert re.search(r'<input type="hidden" name="csrfmiddlewaretoken" value="\w+">', fresh)
    assert "Seen &lt;b&gt;before&lt;/b&gt;" in seen
    assert "new</span>" not in seen and "<form" not in seen and "notices:" not in seen
