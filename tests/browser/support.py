"""Helpers shared by the browser tests."""

import os
from pathlib import Path

from playwright.sync_api import expect

# The screens pages are checked at, and a script listing what sticks out of the screen sideways.
SCREENS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}, "suffix": ""},
    "phone": {"viewport": {"width": 390, "height": 844}, "suffix": "-phone", "is_mobile": True, "has_touch": True},
}
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter(el => el.getBoundingClientRect().right > width + 1);
  const shown = wide.slice(0, 5).map(el => el.outerHTML.slice(0, 80));
  return {scrollWidth: document.documentElement.scrollWidth, width, wide: shown};
}"""


class ConsoleLog:
    """Console messages and uncaught errors of every page of a browser context."""

    def __init__(self):
        self.messages = []
        self.page_errors = []

    def watch(self, context):
        context.on("console", lambda message: self.messages.append(f"[{message.type}] {message.text}"))
        context.on("weberror", lambda error: self.page_errors.append(str(error.error)))

    def csp_violations(self):
        return [text for text in self.messages if "Content Security Policy" in text]


def screen_page(new_context, console_log, screen, screens=SCREENS):
    """A new page in a browser context the size of `screen` (a key of `screens`), its console watched."""
    settings = screens[screen]
    context = new_context(
        viewport=settings["viewport"],
        device_scale_factor=1,
        is_mobile=settings.get("is_mobile", False),
        has_touch=settings.get("has_touch", False),
    )
    console_log.watch(context)
    return context.new_page()


def screenshot(page, name, *, full_page=True):
    """With DIRECTORATE_SCREENSHOTS set to a folder, save the page there as `name`.png; otherwise nothing.

    Playwright hides the text caret, and can stop animations, by injecting an inline style; the pages' Content
    Security Policy refuses it, and the refusal fails the test (the console is watched). So neither is asked."""
    folder = os.environ.get("DIRECTORATE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=Path(folder) / f"{name}.png", full_page=full_page, caret="initial")


def file_and_submit(
    page,
    title,
    *,
    assignee="Asset Jonas North (asset.north)",
    body="Watched the **east depot** for one shift.",
    **proposal,
):
    """As the signed-in asset: create a ticket for oneself, start it and submit it for review."""
    page.goto("/tickets/new/")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Category", exact=True).select_option("Intel")
    expect(page.get_by_label("Sub category")).to_contain_text("Recon Report")  # followed the category (htmx)
    page.get_by_label("Sub category").select_option("Recon Report")
    page.get_by_label("Address to").select_option(label=assignee)
    page.get_by_label("Details (markdown)").fill(body)
    page.get_by_role("button", name="Create ticket").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator(".messages")).to_have_text("Ticket created.")
    page.get_by_role("button", name="Start work").click()
    expect(page.locator(".ticket-meta .status")).to_have_text("In progress")
    expect(page.locator(".messages")).to_have_count(0)  # it was news about the step before
    page.get_by_label("Hours worked").fill(proposal.get("hours", ""))
    page.get_by_label("Credits").fill(proposal.get("credits", ""))
    page.get_by_label("Pay (¤)").fill(proposal.get("pay", ""))
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".ticket-meta .status")).to_have_text("Awaiting review")
    return page.url
