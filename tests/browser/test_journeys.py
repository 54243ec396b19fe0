"""The core journeys, by clicking only, at desktop and phone width (docs/rules.md section 18).

1. An asset learns from the new-ticket form and the ticket itself what can earn a reward and who decides; a
   decimal comma is explained at the field; a proposal over the limit is submitted after the warning.
2. The marshal's button says "Recommend and escalate"; a large amount asks to confirm; the result says who
   decides. The executor finds it in the queue with who recommended it; `a` then Enter asks before paying.
3. The executor reverses the award from the asset's ledger, with a reason; the asset's wallet follows.
4. A promotion request waits in the deciding marshal's queue; its addressee is offered no "Start work"; the
   marshal approves one (the member's masthead shows the new rank without a reload) and denies another.

With DIRECTORATE_SCREENSHOTS set to a folder, the pages are also saved there.
"""

import re
import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.support import SCREENS, screen_page, screenshot

pytestmark = pytest.mark.browser

# Members no other browser test changes: each screen has its own, so the journeys can run in any order.
REWARD_ASSET = {"desktop": ("asset.voss", "Nell Voss"), "phone": ("asset.crane", "Ivo Crane")}
PROMOTED = {"desktop": ("asset.pike", "Bo Pike"), "phone": ("asset.stone", "Cy Stone")}
MARSHAL, EXECUTOR, SATO = "marshal.vance", "executor.kade", "marshal.sato"
PROPOSER = "asset.wren"  # files one ticket with a proposal; no other browser test uses this member


@pytest.fixture
def open_as(new_context, console_log, sign_in):
    """`open_as(username, screen)`: a new browser of that screen size, signed in."""

    def opened(username, screen):
        return sign_in(username, on=screen_page(new_context, console_log, screen))

    return opened


def open_from_dashboard_queue(page, title):
    page.goto("/")
    queue = page.locator("section", has=page.get_by_role("heading", name=re.compile("My review queue")))
    queue.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def new_ticket(page, title, *, category, sub_category, addressee=None, concerning=None, submit=True):
    """Fill the new-ticket form and create the ticket; `submit=False`: fill the form already open, no more."""
    if submit:
        page.goto("/")
        page.get_by_role("link", name="New ticket").first.click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Category", exact=True).select_option(category)
    expect(page.get_by_label("Sub category")).to_contain_text(sub_category)
    page.get_by_label("Sub category").select_option(sub_category)
    if addressee:
        page.get_by_label("Address to").select_option(label=addressee)
    if concerning:
        page.get_by_label("Concerning (personnel tickets)").select_option(label=concerning)
    if submit:
        page.get_by_role("button", name="Create ticket").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(title)


@pytest.mark.parametrize("screen", SCREENS)
def test_an_abnormal_award_from_the_asset_to_the_executor_and_back(open_as, screen):
    username, name = REWARD_ASSET[screen]
    title = f"Cut the wire {secrets.token_hex(3)}"
    asset = open_as(username, screen)
    credits_before = int(asset.locator(".wallet-credits").inner_text())

    # The form says what earns a reward, and starts on "yourself".
    asset.get_by_role("link", name="New ticket").first.click()
    address = asset.get_by_label("Address to")
    expect(address.locator("optgroup").first).to_have_attribute("label", "Yourself: your own work, paid after review")
    expect(address.locator("option:checked")).to_have_text(f"Asset {name} ({username})")
    expect(asset.locator("#id_assignee_helptext")).to_contain_text("reviews it and approves your pay")
    screenshot(asset, "journey-new-ticket" + SCREENS[screen]["suffix"])
    new_ticket(asset, title, category="Order", sub_category="Special Operation")

    # The ticket says what it can earn and who decides over the limit, before any work.
    earning = asset.locator(".earning-panel")
    expect(earning).to_contain_text("Up to 100 credits and ¤15.00: decided by Marshal Oren Vance")
    expect(earning).to_contain_text("Over the limit: will be decided by Executor Iris Kade")
    asset.get_by_role("button", name="Start work").click()
    expect(asset.locator(".ticket-meta .status")).to_have_text("In progress")

    # A decimal comma is explained at its field, and what was typed stays.
    asset.get_by_label("Credits").fill("150")
    asset.get_by_label("Pay (¤)").fill("12,50")
    asset.get_by_role("button", name="Submit for review").click()
    pay = asset.get_by_label("Pay (¤)")
    expect(pay).to_have_attribute("aria-invalid", "true")
    expect(asset.locator("#submit-reward_pay_error")).to_have_text("Write decimals with a point: 12.50, not 12,50.")
    expect(pay).to_have_value("12,50")
    expect(asset.get_by_text("reward_pay")).to_have_count(0)
    screenshot(asset, "journey-field-error" + SCREENS[screen]["suffix"])
    pay.fill("12.50")
    asset.get_by_role("button", name="Submit for review").click()
    expect(asset.locator(".ticket-meta .status")).to_have_text("Awaiting review")
    expect(asset.locator("#ticket-result .message")).to_have_text("Submitted for review by Marshal Oren Vance.")

    # The marshal's button says what it will do; a large amount asks first; the result says who decides.
    marshal = open_as(MARSHAL, screen)
    open_from_dashboard_queue(marshal, title)
    expect(marshal.locator(".review-panel")).to_contain_text("Over the limit")
    marshal.get_by_role("button", name="Recommend and escalate").click()
    confirm = marshal.locator("[data-confirm]")
    expect(confirm).to_contain_text("This recommends 150 credits and ¤12.50; Executor Iris Kade makes the final")
    expect(marshal.locator(".ticket-meta .status")).to_have_text("Awaiting review")
    screenshot(marshal, "journey-confirm" + SCREENS[screen]["suffix"])
    confirm.get_by_role("button", name="Yes, recommend and escalate").click()
    expect(marshal.locator("#ticket-result .message")).to_have_text(
        "Recommended and escalated: over the limit, so Executor Iris Kade makes the final decision."
    )

    # The asset is told, in a sentence naming who decides now.
    asset.goto("/inbox/")
    expect(asset.locator("main")).to_contain_text("over the limit, so Executor Iris Kade decides")

    # The executor's queue says who recommended it, what, and how long it waited; oldest first on request.
    executor = open_as(EXECUTOR, screen)
    executor.goto("/tickets/?scope=queue&order=oldest")
    row = executor.locator("#ticket-results tr", has_text=title)
    expect(row).to_contain_text("Recommended and escalated by Marshal Oren Vance (150 cr · ¤12.50)")
    expect(row.locator("time")).to_be_visible()
    screenshot(executor, "journey-queue" + SCREENS[screen]["suffix"])
    row.get_by_role("link", name=title).click()

    # `a` then Enter asks to confirm: nothing is paid at once.
    approve = executor.get_by_role("button", name="Approve and pay")
    expect(approve).to_be_visible()
    executor.locator("body").click(position={"x": 5, "y": 5})
    executor.keyboard.press("a")
    expect(executor.locator("#approve-credits")).to_be_focused()
    executor.keyboard.press("Enter")
    confirm = executor.locator("[data-confirm]")
    expect(confirm).to_contain_text(f"This pays 150 credits and ¤12.50 to Asset {name} at once.")
    executor.keyboard.press("Enter")  # the focus is not on "Yes": a second Enter pays nothing either
    expect(executor.locator(".ticket-meta .status")).to_have_text("Awaiting review")
    confirm.get_by_role("button", name="Yes, pay 150 cr and ¤12.50").click()
    expect(executor.locator(".ticket-meta .status")).to_have_text("Closed")
    expect(executor.locator("#ticket-result .message")).to_have_text(
        f"Approved: 150 credits and ¤12.50 paid to Asset {name}."
    )
    expect(asset.locator(".wallet-credits")).to_have_text(str(credits_before + 150))

    # The executor reverses it from the asset's ledger, with a reason; the wallet follows live.
    executor.goto(f"/people/?q={username}")
    executor.get_by_role("link", name=re.compile(name)).first.click()
    executor.get_by_role("link", name="All entries").click()
    entry = executor.locator("#ledger-entries tbody tr", has_text=title).filter(has_text="+150")
    entry.locator("summary").click()
    entry.get_by_label("Reason for reversing").fill("Approved on the wrong ticket")
    entry.get_by_role("button", name="Reverse").click()
    expect(executor.locator(".messages")).to_contain_text("Reversed")
    reversals = executor.locator("#ledger-entries tbody tr", has_text="Reversal")
    expect(reversals.filter(has_text="Approved on the wrong ticket")).to_have_count(2)
    screenshot(executor, "journey-reversed" + SCREENS[screen]["suffix"])
    expect(asset.locator(".wallet-credits")).to_have_text(str(credits_before))


def test_an_asset_proposes_the_reward_when_filing_and_submits_it_after_starting(open_as):
    screen, username = "desktop", PROPOSER
    title = f"Map the tunnels {secrets.token_hex(3)}"
    asset = open_as(username, screen)

    # The new-ticket form takes the proposal, with the limit warning beside it.
    asset.get_by_role("link", name="New ticket").first.click()
    expect(asset.locator("#id_reward_pay_helptext")).to_contain_text("Over the limit: will be decided by")
    asset.get_by_label("Proposed credits (optional)").fill("12")
    asset.get_by_label("Proposed pay in ¤ (optional)").fill("9,75")
    new_ticket(asset, title, category="Order", sub_category="Routine Directive", submit=False)
    asset.get_by_role("button", name="Create ticket").click()
    expect(asset.locator("#id_reward_pay_helptext ~ p.field-error")).to_have_text(
        "Write decimals with a point: 9.75, not 9,75."
    )
    asset.get_by_label("Proposed pay in ¤ (optional)").fill("9.75")
    asset.get_by_role("button", name="Create ticket").click()
    expect(asset.get_by_role("heading", level=1)).to_have_text(title)

    # The open ticket shows the proposal it will submit; Start work opens the inputs, prefilled.
    preview = asset.locator("fieldset.proposal-preview")
    expect(preview).to_contain_text("Your reward proposal")
    expect(preview.get_by_label("Credits")).to_have_value("12")
    expect(preview.get_by_label("Credits")).to_be_disabled()
    screenshot(asset, "journey-proposal-open" + SCREENS[screen]["suffix"])
    asset.get_by_role("button", name="Start work").click()
    expect(asset.locator(".ticket-meta .status")).to_have_text("In progress")
    expect(asset.locator("fieldset.proposal-preview")).to_have_count(0)
    expect(asset.get_by_label("Credits")).to_have_value("12")
    expect(asset.get_by_label("Pay (¤)")).to_have_value("9.75")
    expect(asset.get_by_label("Pay (¤)")).to_be_enabled()
    asset.get_by_role("button", name="Submit for review").click()
    expect(asset.locator(".ticket-meta .status")).to_have_text("Awaiting review")
    expect(asset.locator("#ticket-result .message")).to_contain_text("Submitted for review by")
    expect(asset.locator(".facts")).to_contain_text("12 cr · ¤9.75")


@pytest.mark.parametrize("screen", SCREENS)
def test_a_promotion_request_is_decided_by_the_marshal(open_as, screen):
    username, name = PROMOTED[screen]
    title = f"Promote {name} {secrets.token_hex(3)}"
    asset = open_as(username, screen)
    new_ticket(
        asset,
        title,
        category="Personnel",
        sub_category="Promotion Request",
        addressee="Shadow Ada Quill (shadow.quill)",
        concerning=f"Asset {name} ({username})",
    )
    expect(asset.locator("#ticket")).to_contain_text("Awaiting the decision of Marshal Mira Sato")

    # The addressee has no work to start on it.
    shadow = open_as("shadow.quill", screen)
    shadow.goto(asset.url)
    expect(shadow.get_by_role("heading", level=1)).to_have_text(title)
    expect(shadow.get_by_role("button", name="Start work")).to_have_count(0)

    # The marshal is told and finds it in the review queue.
    marshal = open_as(SATO, screen)
    expect(marshal.locator("#inbox-badge")).not_to_have_text("")
    open_from_dashboard_queue(marshal, title)
    panel = marshal.locator("section", has=marshal.get_by_role("heading", name="Promotion Request"))
    expect(panel).to_contain_text(f"Promote Asset {name} one rank: yours to decide.")
    screenshot(marshal, "journey-promotion" + SCREENS[screen]["suffix"])
    if screen == "phone":
        # Denied, with a reason: the reason is required, and is said at its field.
        panel.get_by_role("button", name="Deny").click()
        expect(marshal.locator("#deny-note_error")).to_have_text("Say why the request is denied.")
        panel.get_by_label("Why deny").fill("Not before the next review.")
        panel.get_by_role("button", name="Deny").click()
        expect(marshal.locator("#ticket-result .message")).to_have_text("Request denied; no rank changed.")
        expect(marshal.locator(".log")).to_contain_text("Denied by Marshal Mira Sato")
        expect(asset.locator(".wallet-rank")).to_have_text("Asset")
        return
    panel.get_by_role("button", name="Approve promotion").click()
    expect(marshal.locator("#ticket-result .message")).to_have_text(f"Approved: {name} is now a shadow.")
    # The member's open page shows the new rank in the masthead without a reload.
    expect(asset.locator(".wallet-rank")).to_have_text("Shadow")
    expect(asset.locator(".rank-icon")).to_have_class(re.compile(r"\brank-shadow\b"))
