"""The economy analytics dashboard in Chromium, over a year of history (`manage.py seed_scale`) plus a few
manual adjustments made through the ledger service: the charts and their tables are there, the page fits a
desktop and a phone screen, bad filters are refused with a message, and an asset finds no such page.
With DIRECTORATE_SCREENSHOTS set to a folder, a PNG of the dashboard at each width is saved there.
"""

import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import manage, server_environment
from tests.browser.support import OVERFLOW, SCREENS, screen_page, screenshot
from tests.servers import Daphne

pytestmark = pytest.mark.browser

EXECUTOR = "executor.000001"
ADJUSTMENTS = """
from accounts.models import User
from economy.services import adjust
executor = User.objects.get(username="executor.000001")
marshal = User.objects.filter(rank="marshal", chain__startswith=executor.chain).order_by("username").first()
people = User.objects.filter(reports_to=marshal).order_by("username")[:4]
for number, person in enumerate(people):
    adjust(actor=marshal, user_id=person.id, credits=[-4, 6, -2, 3][number], pay="0", reason="Roster check")
"""


@pytest.fixture(scope="module")
def history_server(tmp_path_factory):
    """A server of its own, with 60 members and 1,500 tickets spread over the last year."""
    folder = tmp_path_factory.mktemp("analytics-server")
    password = secrets.token_urlsafe(12)
    env = server_environment(folder, password)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    manage(env, "seed_scale", "--users", "60", "--tickets", "1500", "--password", password, "--quiet")
    manage(env, "shell", "-c", ADJUSTMENTS)
    server = Daphne(env, folder / "daphne.log").start()
    try:
        yield server.base_url, password
    finally:
        server.stop()


def signed_in_page(new_context, console_log, screen, server):
    url, password = server
    page = screen_page(new_context, console_log, screen)
    page.goto(f"{url}/login/")
    page.get_by_label("Service name").fill(EXECUTOR)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda address: "/login/" not in address)
    return page


@pytest.mark.parametrize("screen", SCREENS)
def test_the_dashboard_draws_every_figure_and_fits(new_context, console_log, history_server, screen):
    page = signed_in_page(new_context, console_log, screen, history_server)
    page.get_by_role("link", name="Analytics", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Economy analytics")
    expect(page.locator("#summary [data-figure=entries]")).not_to_have_text("0")
    for name in (
        "Credits per day by entry type",
        "Pay per day by entry type",
        "Current credits by rank",
        "Top earners by credits gained in the period",
    ):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    # Each piece of a bar has its own title; the hidden tables hold a row for each of the 30 days.
    assert page.locator("#chart-credits rect").count() > 20
    expect(page.locator("#credits-table tbody tr")).to_have_count(30)
    expect(page.locator("#distribution-table tbody tr")).to_have_count(4)  # asset to executor
    expect(page.locator("#earners-table tbody tr")).to_have_count(10)
    expect(page.locator("#totals-table tbody tr[data-type=manual_adj]")).to_be_visible()
    page.mouse.move(0, 0)
    overflow = page.evaluate(OVERFLOW)
    assert overflow["scrollWidth"] <= overflow["width"], f"analytics scrolls sideways on {screen}: {overflow['wide']}"
    screenshot(page, f"analytics{SCREENS[screen]['suffix']}")

    page.get_by_label("Per", exact=True).select_option("week")
    page.get_by_label("Period", exact=True).select_option("90")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("img", name="Credits per week by entry type")).to_be_visible()
    assert 13 <= page.locator("#credits-table tbody tr").count() <= 14

    page.get_by_label("From", exact=True).fill("2030-01-10")
    page.get_by_label("To", exact=True).fill("2030-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("The end comes before the start.")).to_be_visible()
    expect(page.locator("#summary")).to_have_count(0)


def test_an_asset_has_no_such_page(page, sign_in):
    sign_in("asset.north")
    expect(page.get_by_role("link", name="Analytics", exact=True)).to_have_count(0)
    response = page.goto("/analytics/")
    assert response.status == 404
