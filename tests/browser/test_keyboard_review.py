"""A reviewer clears the review queue by keyboard alone.

Asset Dale files three tickets through the forms in one browser; marshal Sato (the reviewer of
Dale's work) signs in and, without touching the mouse, walks the queue with j/k, opens a ticket
with Enter, approves one with adjusted credits (a, type, Enter), escalates one (e), sends one back
(s), goes on with n, and finishes on an empty queue. Shortcuts never fire while typing, and the
help overlay (?) opens, closes with Esc and gives the focus back.
"""

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.support import file_and_submit
from tests.browser.test_keyboard import assert_focus_visible

pytestmark = pytest.mark.browser

ASSET, ASSET_LABEL, REVIEWER = "asset.dale", "Asset Rhea Dale (asset.dale)", "marshal.sato"
MOST_DECISIONS = 20  # the demo queue is small: a loop that runs longer than this is stuck


def sign_in_by_keyboard(page, username, password):
    page.goto("/login/")
    expect(page.get_by_label("Service name")).to_be_focused()  # autofocus
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: url.endswith("/") and "/login/" not in url)


def decide(page, key, text):
    """Press a decision key, check where the focus went, type and press Enter."""
    page.keyboard.press(key)
    field = page.locator(":focus")
    assert_focus_visible(page)
    page.keyboard.type(text)
    return field


def test_a_reviewer_clears_the_queue_by_keyboard_alone(sign_in, new_context, demo_password, console_log):
    tag = secrets.token_hex(3)
    titles = {decision: f"Kbd {decision} {tag}" for decision in ("approve", "escalate", "send-back")}
    asset = sign_in(ASSET, on=new_context().new_page())
    for title in titles.values():
        file_and_submit(asset, title, assignee=ASSET_LABEL, hours="1")

    reviewer_context = new_context()
    console_log.watch(reviewer_context)
    page = reviewer_context.new_page()
    sign_in_by_keyboard(page, REVIEWER, demo_password)
    queue = page.locator("section", has=page.get_by_role("heading", name=re.compile("My review queue")))
    rows = queue.locator("tbody tr")
    expect(rows.filter(has_text=tag)).to_have_count(3)

    # j/k move a visible selection; the selected row's link has the focus.
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bis-selected\b"))
    expect(rows.nth(0).get_by_role("link")).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bis-selected\b"))
    expect(rows.nth(0)).not_to_have_class(re.compile(r"\bis-selected\b"))
    page.keyboard.press("k")
    expect(rows.nth(0).get_by_role("link")).to_be_focused()

    # ? opens the help overlay; Esc closes it and the focus comes back to the row.
    page.keyboard.press("?")
    help_overlay = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_overlay).to_be_visible()
    expect(help_overlay).to_contain_text("Send back")
    page.keyboard.press("Escape")
    expect(help_overlay).to_be_hidden()
    expect(rows.nth(0).get_by_role("link")).to_be_focused()

    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Review")).to_be_visible()

    decided = {}
    for _ in range(MOST_DECISIONS):
        title = page.get_by_role("heading", level=1).text_content().strip()
        if title == titles["escalate"]:
            field = decide(page, "e", "Beyond my remit")
            expect(field).to_have_id("escalate-note")
            expect(field).to_have_value("Beyond my remit")  # "e" and "s" typed into the field stayed text
        elif title == titles["send-back"]:
            field = decide(page, "s", "Redo the log, sans gaps")
            expect(field).to_have_id("sendback-note")
            expect(field).to_have_value("Redo the log, sans gaps")
        else:
            field = decide(page, "a", "3" if title == titles["approve"] else "")
            expect(field).to_have_id("approve-credits")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Review")).to_have_count(0)
        decided[title] = page.locator(".ticket-meta .status").text_content().strip()
        nxt = page.get_by_role("link", name="Next in queue")
        expect(nxt).to_be_focused()
        if title in titles.values():  # tickets other tests left in the queue are decided too, but not judged
            assert_focus_visible(page)
        here = page.url
        page.keyboard.press("n")
        page.wait_for_url(lambda url, here=here: url != here)
        if "/tickets/" in page.url and "scope=queue" in page.url:
            break  # the queue is empty: n leads to the queue page
        expect(page.get_by_role("heading", name="Review")).to_be_visible()
    else:
        pytest.fail(f"the queue did not empty after {MOST_DECISIONS} decisions")

    expect(page.locator("#ticket-results")).to_contain_text("No tickets match")
    assert set(titles.values()) <= set(decided), decided
    assert decided[titles["approve"]] == "Closed"
    assert decided[titles["escalate"]] == "Awaiting review"  # now before the executor
    assert decided[titles["send-back"]] == "In progress"

    # The asset sees the adjusted award on the approved ticket.
    asset.goto("/tickets/?scope=mine&q=" + tag)
    asset.get_by_role("link", name=titles["approve"]).click()
    expect(asset.locator(".log")).to_contain_text("3 cr")


def test_the_ticket_list_walks_by_keyboard_but_not_while_typing(page, sign_in):
    sign_in("marshal.vance")
    page.goto("/tickets/?scope=all")
    rows = page.locator("#ticket-results tbody tr")
    expect(rows.first).to_be_visible()
    search = page.get_by_label("Search titles, details and comments")
    search.focus()
    page.keyboard.type("jk")  # letters typed into a field stay letters
    expect(search).to_have_value("jk")
    expect(page.locator("tr.is-selected")).to_have_count(0)
    page.keyboard.press("Control+a")
    page.keyboard.press("Backspace")
    expect(rows.first).to_be_visible()
    page.keyboard.press("Escape")
    page.locator("main").focus()
    page.keyboard.press("j")
    expect(rows.first).to_have_class(re.compile(r"\bis-selected\b"))
    assert_focus_visible(page)
    href = rows.first.get_by_role("link").get_attribute("href")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
