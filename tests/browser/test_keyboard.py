"""Keyboard use: the skip link comes first, and the focused element is always visible."""

import re

import pytest
from playwright.sync_api import expect

from desk.demo import MARSHALS

pytestmark = pytest.mark.browser

MARSHAL, _ = MARSHALS[0]

# How the focused element is drawn, and the colour behind it (taken from what is painted
# just beside it, so an element floating over the masthead is judged against the masthead).
FOCUS_STYLE = """
el => {
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const reach = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth) + 2;
  const x = Math.min(box.right + reach, window.innerWidth - 1);
  const y = box.top + box.height / 2;
  let behind = getComputedStyle(document.documentElement).backgroundColor;
  for (const node of document.elementsFromPoint(x, y)) {
    if (node === el || el.contains(node)) continue;
    const colour = getComputedStyle(node).backgroundColor;
    if (colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") { behind = colour; break; }
  }
  return {
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth),
    outlineColor: style.outlineColor,
    behind,
    inViewport: box.width > 0 && box.height > 0 && box.left >= 0 && box.top >= 0
      && box.right <= window.innerWidth && box.bottom <= window.innerHeight,
  };
}
"""


def assert_focus_visible(page):
    focused = page.locator(":focus")
    expect(focused).to_have_count(1)
    style = focused.evaluate(FOCUS_STYLE)
    description = focused.evaluate("el => el.outerHTML.slice(0, 80)")
    assert style["inViewport"], f"focused element is off screen: {description}"
    assert style["outlineStyle"] not in ("none", "hidden"), f"no focus outline on {description}"
    assert style["outlineWidth"] >= 2, f"focus outline too thin on {description}"
    assert style["outlineColor"] != style["behind"], f"focus outline invisible against its background: {description}"


@pytest.mark.parametrize("path", ["/", "/people/", "/profile/"])
def test_skip_link_is_the_first_tab_stop_and_leads_to_the_content(page, sign_in, path):
    sign_in(MARSHAL)
    page.goto(path)

    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    expect(skip).to_have_text("Skip to content")
    expect(skip).to_have_attribute("href", "#main")
    assert_focus_visible(page)

    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.locator(":focus").evaluate("el => !!el.closest('main')"), "Tab after the skip link left <main>"
    assert_focus_visible(page)


def test_every_masthead_stop_shows_its_focus(page, sign_in):
    sign_in(MARSHAL)
    # The inbox link also carries its unread count.
    expected = [
        "Skip to content",
        "Directorate of Order",
        "Dashboard",
        "Tickets",
        "Ledger",
        "Analytics",  # a marshal's figures (docs/rules.md section 11)
        "People",
        re.compile(r"^Inbox\b"),
        "Profile",
        "Sign out",
    ]
    for name in expected:
        page.keyboard.press("Tab")
        expect(page.locator(":focus")).to_have_text(name)
        assert_focus_visible(page)


def test_sign_in_page_starts_in_the_service_name_field(page):
    """The sign-in form takes the focus at once (autofocus); the skip link and the brand lie behind it."""
    page.goto("/login/")
    expect(page.get_by_label("Service name")).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    assert_focus_visible(page)
    page.get_by_label("Service name").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    assert_focus_visible(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    assert_focus_visible(page)
