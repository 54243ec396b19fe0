"""The work and reward cycle as people do it, by clicking, in two browsers.

Asset North files a ticket for his own work, starts it and submits it with his hours;
marshal Vance (the nearest superior who approves rewards for assets) finds it in his
review queue and approves; North's wallet and ledger show the reward. An abnormal award
climbs past Vance to executor Kade.

With DIRECTORATE_SCREENSHOTS set to a folder, the ticket pages are also saved there.
"""

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.support import file_and_submit, screenshot

pytestmark = pytest.mark.browser

ASSET, MARSHAL, EXECUTOR = "asset.north", "marshal.vance", "executor.kade"


def open_from_queue(page, title):
    """Open `title` from the reviewer's whole queue, newest first (the dashboard lists only its ten oldest)."""
    page.goto("/tickets/?scope=queue")
    page.locator("#ticket-results").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name="Review")).to_be_visible()


def test_an_asset_is_paid_after_the_right_reviewer_approves(browser, sign_in, new_context):
    title = f"Depot watch {secrets.token_hex(3)}"
    asset = sign_in(ASSET, on=new_context().new_page())
    credits_before = int(asset.locator(".wallet-credits").inner_text())
    ticket_url = file_and_submit(asset, title, hours="2")
    expect(asset.locator(".ticket-side")).to_contain_text("1 cr · ¤6.00")  # the default: 1 credit, 2 h x ¤3.00
    screenshot(asset, "ticket-submitted")

    marshal = sign_in(MARSHAL, on=new_context().new_page())
    open_from_queue(marshal, title)
    expect(marshal.get_by_label("Credits")).to_have_value("1")
    expect(marshal.get_by_label("Pay (¤)")).to_have_value("6.00")
    screenshot(marshal, "ticket-review")
    marshal.get_by_role("button", name="Approve").click()
    expect(marshal.locator(".ticket-meta .status")).to_have_text("Closed")
    expect(marshal.locator(".log")).to_contain_text("Approved by Marshal Oren Vance")

    # The asset's open page follows without a reload: the wallet and the ticket's status.
    expect(asset.locator(".wallet-credits")).to_have_text(str(credits_before + 1))
    expect(asset.locator(".ticket-meta .status")).to_have_text("Closed")
    asset.goto(ticket_url)
    expect(asset.locator(".ticket-meta .status")).to_have_text("Closed")
    expect(asset.locator(".wallet-credits")).to_have_text(str(credits_before + 1))
    asset.get_by_role("link", name="Ledger").click()
    rows = asset.locator("#ledger-entries tbody tr", has_text=title)
    expect(rows).to_have_count(2)  # one credit award, one payment
    expect(rows.filter(has_text="¤6.00")).to_have_count(1)
    expect(rows.filter(has_text="+1")).to_have_count(1)
    screenshot(asset, "ledger")


def test_an_abnormal_award_climbs_to_an_executor(browser, sign_in, new_context):
    title = f"Night shift {secrets.token_hex(3)}"
    asset = sign_in(ASSET, on=new_context().new_page())
    file_and_submit(asset, title, credits="1", pay="15.01")  # above 5 x ¤3.00

    marshal = sign_in(MARSHAL, on=new_context().new_page())
    open_from_queue(marshal, title)
    expect(marshal.locator(".review-panel")).to_contain_text("Over the limit")
    marshal.get_by_role("button", name="Recommend and escalate").click()
    marshal.get_by_role("button", name="Yes, recommend and escalate").click()
    expect(marshal.locator(".log")).to_contain_text("Recommended and escalated by Marshal Oren Vance")
    expect(marshal.locator(".ticket-side dl")).to_contain_text(re.compile(r"Reviewer\s*Executor Iris Kade"))

    executor = sign_in(EXECUTOR, on=new_context().new_page())
    open_from_queue(executor, title)
    executor.get_by_role("button", name="Approve and pay").click()
    executor.get_by_role("button", name=re.compile("^Yes, pay")).click()
    expect(executor.locator(".ticket-meta .status")).to_have_text("Closed")
    expect(executor.locator(".log li")).to_have_count(2)


def test_the_ticket_list_filters_and_pages(sign_in, page):
    sign_in(MARSHAL)
    page.get_by_role("link", name="Tickets", exact=True).click()
    page.get_by_label("Show").select_option("subordinates")
    expect(page).to_have_url(re.compile(r"scope=subordinates"))  # htmx pushed the filter into the address
    expect(page.locator("#ticket-results")).to_contain_text("Observe the east depot")
    page.get_by_label("Search titles, details and comments").fill("east depot")
    # Best match first: the words in a title weigh more than in the details of tickets filed meanwhile.
    expect(page.locator("#ticket-results tbody tr").first).to_contain_text("Observe the east depot")
    screenshot(page, "tickets")
