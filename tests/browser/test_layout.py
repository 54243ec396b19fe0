"""The main pages fit a desktop and a phone screen.

With DIRECTORATE_SCREENSHOTS set to a folder, this also saves a PNG of each page there
(`scripts/screenshots` writes the ones in docs/screenshots/).
"""

import pytest
from playwright.sync_api import expect

from desk.demo import MARSHALS
from tests.browser.support import OVERFLOW, SCREENS, screen_page, screenshot

pytestmark = pytest.mark.browser

MARSHAL, MARSHAL_NAME = MARSHALS[0]


@pytest.mark.parametrize("screen", SCREENS)
def test_main_pages_fit_the_screen(new_context, console_log, sign_in, screen):
    page = screen_page(new_context, console_log, screen)

    def check(name):
        page.wait_for_load_state("load")
        overflow = page.evaluate(OVERFLOW)
        assert overflow["scrollWidth"] <= overflow["width"], f"{name} scrolls sideways on {screen}: {overflow['wide']}"
        masthead = page.locator(".masthead").bounding_box()
        assert masthead["x"] == 0 and masthead["width"] == overflow["width"]
        screenshot(page, name + SCREENS[screen]["suffix"])

    page.goto("/login/")
    check("login")

    sign_in(MARSHAL, on=page)
    expect(page.locator("#wallet")).to_be_visible()
    wallet = page.locator("#wallet").bounding_box()
    masthead = page.locator(".masthead").bounding_box()
    assert wallet["y"] + wallet["height"] <= masthead["y"] + masthead["height"]
    check("dashboard")

    page.goto("/people/")
    expect(page.locator("#directory-results tbody tr").first).to_be_visible()
    check("directory")

    page.goto("/profile/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(MARSHAL_NAME)
    check("profile")
