"""More pages at desktop and phone width: the inbox, the Nyx console, the help overlay, and the
ticket page (submitted and under review) on a phone. Each must fit its screen without scrolling
sideways. With DIRECTORATE_SCREENSHOTS set to a folder, a PNG of each is saved there.
"""

import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.support import OVERFLOW, SCREENS, file_and_submit, screen_page, screenshot

pytestmark = pytest.mark.browser

ASSET, MARSHAL, EXECUTOR = "asset.north", "marshal.vance", "executor.kade"


def fits(page, name, screen, *, full_page=True):
    page.wait_for_load_state("load")
    page.mouse.move(0, 0)  # no hover state in the picture
    overflow = page.evaluate(OVERFLOW)
    assert overflow["scrollWidth"] <= overflow["width"], f"{name} scrolls sideways on {screen}: {overflow['wide']}"
    screenshot(page, f"{name}{SCREENS[screen]['suffix']}", full_page=full_page)


@pytest.mark.parametrize("screen", SCREENS)
def test_the_inbox_and_the_nyx_console_fit(new_context, console_log, sign_in, screen):
    page = screen_page(new_context, console_log, screen)
    sign_in(MARSHAL, on=page)
    page.goto("/inbox/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    fits(page, "inbox", screen)

    executor = screen_page(new_context, console_log, screen)
    sign_in(EXECUTOR, on=executor)
    executor.get_by_role("navigation", name="Main").get_by_role("link", name="Nyx", exact=True).click()
    expect(executor.get_by_role("heading", level=1)).to_have_text("Nyx console")
    expect(executor.locator("#nyx-thinking")).to_be_hidden()  # shown only while Nyx works
    executor.get_by_label("Issue directives for").fill("perimeter inspection")
    executor.get_by_role("button", name="Issue directives").click()
    expect(executor.locator("#nyx-actions .message")).to_be_visible()
    expect(executor.locator("#nyx-thinking")).to_be_hidden()
    expect(executor.locator("#nyx-actions .nyx-action").first).to_be_visible()
    fits(executor, "nyx-console", screen)


@pytest.mark.parametrize("screen", SCREENS)
def test_the_ticket_page_and_the_help_overlay_fit(new_context, console_log, sign_in, screen):
    asset = screen_page(new_context, console_log, screen)
    sign_in(ASSET, on=asset)
    title = f"Perimeter log {secrets.token_hex(3)}"
    url = file_and_submit(asset, title, hours="3")
    fits(asset, "ticket-submitted", screen)

    marshal = screen_page(new_context, console_log, screen)
    sign_in(MARSHAL, on=marshal)
    if screen == "desktop":  # the review queue, its first row selected with j
        marshal.keyboard.press("j")
        expect(marshal.locator("tr.is-selected")).to_have_count(1)
        screenshot(marshal, "review-queue", full_page=False)
    marshal.goto(url)
    expect(marshal.get_by_role("heading", name="Review")).to_be_visible()
    if screen == "phone":  # the desktop review panel is taken by the reward journey
        fits(marshal, "ticket-review", screen)

    marshal.keyboard.press("?")
    help_overlay = marshal.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_overlay).to_be_visible()
    box = help_overlay.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= SCREENS[screen]["viewport"]["width"]
    fits(marshal, "help-overlay", screen, full_page=False)  # a modal covers the screen, not the page
    marshal.get_by_role("button", name="Close").click()
    expect(help_overlay).to_be_hidden()

    # A refused decision is said at its field, as an alert, keeping what was typed; the review stays open.
    if screen == "desktop":
        marshal.keyboard.press("a")
        marshal.keyboard.type("-5")
        marshal.keyboard.press("Enter")
        credits = marshal.get_by_label("Credits")
        alert = marshal.locator(".field.has-error [role=alert]")
        expect(alert).to_be_visible()
        expect(credits).to_have_value("-5")
        expect(credits).to_have_attribute("aria-invalid", "true")
        expect(marshal.get_by_role("heading", name="Review")).to_be_visible()
        expect(marshal.locator(".ticket-meta .status")).to_have_text("Awaiting review")
        marshal.mouse.move(0, 0)
        screenshot(marshal, "ticket-refused", full_page=False)
