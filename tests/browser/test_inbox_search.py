"""The inbox and search journeys, by clicking only, at desktop and phone width (docs/rules.md 20).

Inbox: a marshal follows the link of a new notification, lands on the ticket, and it is read (the badge
falls); identical broadcasts are one row. Search: a word from a ticket's details finds it for those who may
see it, and for nobody else.
"""

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.support import SCREENS, file_and_submit, screen_page, screenshot

pytestmark = pytest.mark.browser


def unread(page):
    found = re.match(r"\d+", page.locator("#inbox-badge").text_content() or "")
    return int(found.group()) if found else 0


def go_to_inbox(page):
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile("^Inbox")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")


@pytest.mark.parametrize("screen", SCREENS)
def test_following_a_notification_reads_it_and_identical_ones_are_one_row(new_context, console_log, sign_in, screen):
    word = secrets.token_hex(3)
    asset = screen_page(new_context, console_log, screen)
    sign_in("asset.north", on=asset)
    title = f"Inbox check {word}"
    url = file_and_submit(asset, title, hours="1")

    marshal = screen_page(new_context, console_log, screen)
    sign_in("marshal.vance", on=marshal)
    before = unread(marshal)
    assert before >= 1
    go_to_inbox(marshal)
    switch = marshal.get_by_role("navigation", name="Which notifications")
    expect(switch.get_by_role("link", name=re.compile("^Unread"))).to_have_attribute("aria-current", "true")
    notice = marshal.get_by_role("link", name=f"Awaiting your review: {title}")
    expect(notice).to_be_visible()
    notice.click()
    marshal.wait_for_url(url)
    expect(marshal.get_by_role("heading", level=1)).to_have_text(title)
    expect(marshal.locator("#inbox-badge")).to_have_text(re.compile(rf"^{before - 1}\D|^$"))
    go_to_inbox(marshal)
    expect(marshal.get_by_role("link", name=f"Awaiting your review: {title}")).to_have_count(0)
    marshal.get_by_role("navigation", name="Which notifications").get_by_role("link", name="All").click()
    expect(marshal.get_by_role("link", name=f"Awaiting your review: {title}")).to_be_visible()

    executor = screen_page(new_context, console_log, screen)
    sign_in("executor.kade", on=executor)
    for _ in range(3):
        executor.get_by_label("To everyone below you").fill(f"Report at the gate {word}")
        executor.get_by_role("button", name="Broadcast").click()
        expect(executor.locator(".messages")).to_be_visible()
    go_to_inbox(asset)
    row = asset.locator(".inbox-item", has_text=f"Report at the gate {word}")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("3 notices:")
    expect(row).to_contain_text("3 new")
    screenshot(asset, f"inbox-grouped{SCREENS[screen]['suffix']}")
    before = unread(asset)
    row.get_by_role("button", name="Mark read").click()
    expect(asset.locator(".inbox-item", has_text=f"Report at the gate {word}")).to_have_count(0)
    assert unread(asset) == before - 3


@pytest.mark.parametrize("screen", SCREENS)
def test_a_word_in_the_details_finds_the_ticket_for_those_who_see_it(new_context, console_log, sign_in, screen):
    word = f"lantern{secrets.token_hex(3)}"
    asset = screen_page(new_context, console_log, screen)
    sign_in("asset.north", on=asset)
    title = f"Night watch {secrets.token_hex(2)}"
    file_and_submit(asset, title, body=f"The {word} at the east gate is out.", hours="1")

    marshal = screen_page(new_context, console_log, screen)
    sign_in("marshal.vance", on=marshal)
    marshal.get_by_role("navigation", name="Main").get_by_role("link", name="Tickets").click()
    marshal.get_by_label("Search titles, details and comments").fill(word)
    result = marshal.locator("#ticket-results").get_by_role("link", name=title)
    expect(result).to_be_visible()
    expect(marshal.locator("#ticket-results tbody tr")).to_have_count(1)
    screenshot(marshal, f"ticket-search{SCREENS[screen]['suffix']}")
    result.click()
    expect(marshal.get_by_role("heading", level=1)).to_have_text(title)

    other = screen_page(new_context, console_log, screen)
    sign_in("marshal.sato", on=other)  # the other branch: North's ticket is not Sato's to see
    other.goto("/tickets/")
    other.get_by_label("Search titles, details and comments").fill(word)
    expect(other.locator("#ticket-results")).to_contain_text("No tickets match.")


def test_a_ledger_entry_keeps_its_type_ticket_approver_and_reason_on_a_phone(new_context, console_log, sign_in):
    asset = screen_page(new_context, console_log, "phone")
    sign_in("asset.north", on=asset)
    title = f"Ledger check {secrets.token_hex(3)}"
    url = file_and_submit(asset, title, hours="1")
    marshal = screen_page(new_context, console_log, "desktop")
    sign_in("marshal.vance", on=marshal)
    marshal.goto(url)
    marshal.get_by_role("button", name="Approve").click()
    expect(marshal.locator(".ticket-meta .status")).to_have_text("Closed")

    asset.get_by_role("navigation", name="Main").get_by_role("link", name="Ledger").click()
    entry = asset.locator(".ledger-table tbody tr", has_text=title).filter(has_text="Credit award")
    for label, value in (("Type", "Credit award"), ("Ticket", title), ("Approved by", "Marshal Oren Vance")):
        cell = entry.locator(f'td[data-label="{label}"]')
        expect(cell).to_be_visible()
        expect(cell).to_contain_text(value)
    box = asset.locator(".ledger-table").bounding_box()
    assert box["width"] <= 390
    screenshot(asset, "ledger-phone")
