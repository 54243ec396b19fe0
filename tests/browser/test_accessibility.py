"""axe-core (vendored in tests/browser/vendor/, npm axe-core@4.14.1) on every main page, at desktop and phone
width, in Chromium against the real server: no violation of WCAG 2.x A and AA, nor of axe's best practices.

The script is evaluated through the DevTools protocol, like a tester's console, so the page's Content
Security Policy (no inline or foreign script) stays as users get it.
"""

import secrets
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import SCREENS, file_and_submit, screen_page

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text()
RUN_AXE = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
    resultTypes: ['violations'],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(
      n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n').slice(1, 3).join(' ')),
  }));
}"""


def violations(page):
    page.wait_for_load_state("load")
    page.evaluate(AXE)
    return page.evaluate(RUN_AXE)


def assert_clean(page, name):
    found = violations(page)
    report = "\n".join(f"{v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in found)
    assert found == [], f"axe found violations on {name}:\n{report}"


@pytest.mark.parametrize("screen", SCREENS)
def test_the_sign_in_page_has_no_violations(new_context, console_log, screen):
    page = screen_page(new_context, console_log, screen)
    page.goto("/login/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert_clean(page, "the sign-in page")


@pytest.mark.parametrize("screen", SCREENS)
def test_a_marshals_main_pages_have_no_violations(new_context, console_log, sign_in, screen):
    page = screen_page(new_context, console_log, screen)
    sign_in("marshal.vance", on=page)
    assert_clean(page, "the dashboard")
    for path, heading in (
        ("/tickets/", "Tickets"),
        ("/tickets/?q=report", "Tickets"),
        ("/tickets/new/", None),
        ("/ledger/", None),
        ("/inbox/", "Inbox"),
        ("/inbox/?show=all", "Inbox"),
        ("/people/", None),
        ("/analytics/", None),
        ("/profile/", None),
    ):
        page.goto(path)
        if heading:
            expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert_clean(page, path)


@pytest.mark.parametrize("screen", SCREENS)
def test_ticket_pages_and_the_nyx_console_have_no_violations(new_context, console_log, sign_in, screen):
    asset = screen_page(new_context, console_log, screen)
    sign_in("asset.north", on=asset)
    url = file_and_submit(asset, f"Axe check {secrets.token_hex(3)}", hours="2")
    assert_clean(asset, "a submitted ticket, as its assignee")
    marshal = screen_page(new_context, console_log, screen)
    sign_in("marshal.vance", on=marshal)
    marshal.goto(url)
    expect(marshal.get_by_role("heading", name="Review")).to_be_visible()
    assert_clean(marshal, "a ticket under review, as its reviewer")
    executor = screen_page(new_context, console_log, screen)
    sign_in("executor.kade", on=executor)
    executor.get_by_role("navigation", name="Main").get_by_role("link", name="Nyx", exact=True).click()
    expect(executor.get_by_role("heading", level=1)).to_have_text("Nyx console")
    assert_clean(executor, "the Nyx console")


def test_the_check_finds_a_violation_when_there_is_one(page):
    """The check can fail: an image without a text alternative and an unlabelled field are reported."""
    page.goto("/login/")
    page.evaluate("""() => {
      const main = document.querySelector('main');
      main.insertAdjacentHTML('beforeend', '<img src="/static/img/triangle.svg"><input id="axe-unlabelled">');
    }""")
    assert {"image-alt", "label"} <= {violation["id"] for violation in violations(page)}
