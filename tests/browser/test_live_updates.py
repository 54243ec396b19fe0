"""Live updates on screen: two people side by side, each in their own browser context.

Asset North submits his work; marshal Vance approves it in the other context. Without reloading,
North's wallet shows the new credits and balance, his inbox badge counts the new notification, a
toast announces the reward, and his open ticket page turns to Closed. The pages keep working when
the WebSocket cannot connect, and the live connection comes back by itself after the server restarts.
With two server processes sharing a Redis channel layer, the approval served by one process reaches
the asset's page connected to the other.
"""

import re
import secrets
import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import manage, server_environment
from tests.browser.support import ConsoleLog
from tests.servers import Daphne
from tests.test_live_multiprocess import redis_url, servers  # noqa: F401 - fixtures: redis-server, daphne A and B

pytestmark = pytest.mark.browser

ASSET, MARSHAL = "asset.north", "marshal.vance"
LIVE_TIMEOUT = 10_000  # ms: a live update shows well within this ("within a blink" in practice)
RECONNECT_TIMEOUT = 40_000  # ms: the extension's backoff is full jitter, at most 2^n seconds after n failures

# The live connection's state, as htmx's WebSocket extension keeps it on the element it opened it for.
SOCKET_STATE = "() => document.getElementById('live')?.['htmx-internal-data']?.webSocket?.socket?.readyState"
OPEN, CLOSED = 1, 3


@pytest.fixture
def watched_context(browser, browser_context_args):
    """New browser contexts, each watched for CSP violations and uncaught errors like the default one."""
    contexts, logs = [], []

    def make(**options):
        context = browser.new_context(**{**browser_context_args, **options})
        contexts.append(context)
        log = ConsoleLog()
        log.watch(context)
        logs.append(log)
        return context

    yield make
    for context in contexts:
        context.close()
    for log in logs:
        assert log.csp_violations() == [], "Content Security Policy violations"
        assert log.page_errors == [], "uncaught script errors"


def wait_until_live(page):
    page.wait_for_function(f"() => ({SOCKET_STATE})() === {OPEN}", timeout=LIVE_TIMEOUT)


def file_and_submit(page, title, *, credits, pay):
    """As the signed-in asset: a ticket for his own work, started and submitted with a proposal."""
    page.goto("/tickets/new/")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Category", exact=True).select_option("Intel")
    expect(page.get_by_label("Sub category")).to_contain_text("Recon Report")
    page.get_by_label("Sub category").select_option("Recon Report")
    page.get_by_label("Address to").select_option(label="Asset Jonas North (asset.north)")
    page.get_by_role("button", name="Create ticket").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    page.get_by_role("button", name="Start work").click()
    expect(page.locator(".ticket-meta .status")).to_have_text("In progress")
    page.get_by_label("Credits").fill(credits)
    page.get_by_label("Pay (¤)").fill(pay)
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator(".ticket-meta .status")).to_have_text("Awaiting review")
    return page.url


def approve(page, ticket_url):
    page.goto(ticket_url)
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".ticket-meta .status")).to_have_text("Closed")


def wallet(page):
    credits = int(page.locator("#wallet-credits").inner_text())
    balance = Decimal(page.locator("#wallet-balance").inner_text().removeprefix("¤"))
    return credits, balance


def unread(page):
    """The number on the inbox badge (0 when the badge is hidden)."""
    found = re.match(r"\d+", page.locator("#inbox-badge").text_content() or "")
    return int(found.group()) if found else 0


class Reloads:
    """Every page load of `page` from now on: a live update must need none."""

    def __init__(self, page):
        self.documents = []
        page.on("request", lambda request: request.resource_type == "document" and self.documents.append(request.url))


def test_the_assets_pages_follow_the_approval_without_reload(watched_context, sign_in):
    asset = sign_in(ASSET, on=watched_context().new_page())
    title = f"Courier routes {secrets.token_hex(3)}"
    ticket_url = file_and_submit(asset, title, credits="2", pay="5.50")
    wait_until_live(asset)
    credits_before, balance_before = wallet(asset)
    unread_before = unread(asset)
    expect(asset.locator("#toasts .toast")).to_have_count(0)
    reloads = Reloads(asset)

    marshal = sign_in(MARSHAL, on=watched_context().new_page())
    approve(marshal, ticket_url)

    expect(asset.locator("#wallet-credits")).to_have_text(str(credits_before + 2), timeout=LIVE_TIMEOUT)
    expect(asset.locator("#wallet-balance")).to_have_text(f"¤{balance_before + Decimal('5.50')}")
    expect(asset.locator("#wallet .wallet-rank")).to_have_text("Asset")
    expect(asset.locator("#inbox-badge")).to_have_text(f"{unread_before + 1} unread", timeout=LIVE_TIMEOUT)
    expect(asset.locator("#inbox-badge")).to_be_visible()
    toast = asset.locator("#toasts .toast")
    expect(toast).to_have_text("Reward approved: 2 credits, ¤5.50.")
    expect(toast).to_be_visible()
    expect(asset.locator(".ticket-meta .status")).to_have_text("Closed", timeout=LIVE_TIMEOUT)
    expect(asset.get_by_text("Closed tickets are read-only.")).to_be_visible()
    expect(asset.locator(".log")).to_contain_text("Approved by Marshal Oren Vance")
    assert asset.url == ticket_url
    assert reloads.documents == [], "the page reloaded"

    # The live page is the real one: a reload shows the same figures, straight from the database.
    asset.reload()
    assert wallet(asset) == (credits_before + 2, balance_before + Decimal("5.50"))
    assert unread(asset) == unread_before + 1


def test_the_pages_keep_working_when_the_live_connection_cannot_connect(watched_context, sign_in):
    context = watched_context()
    attempts = []

    def refuse(websocket):  # never reaches the server: closed at once, "try again later"
        attempts.append(time.monotonic())
        websocket.close(code=1013, reason="Unavailable")

    context.route_web_socket(re.compile(r"/ws/"), refuse)
    asset = sign_in(ASSET, on=context.new_page())
    expect(asset.locator("#wallet")).to_be_visible()

    # htmx forms (create, start, submit, comment) and plain forms (sign out, sign in) all still work.
    ticket_url = file_and_submit(asset, f"Offline report {secrets.token_hex(3)}", credits="1", pay="1.00")
    asset.get_by_label("Comment (markdown)").fill("Filed without a live connection.")
    asset.get_by_role("button", name="Add comment").click()
    expect(asset.locator(".comment")).to_contain_text("Filed without a live connection.")
    asset.get_by_role("button", name="Sign out").click()
    expect(asset.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(ASSET, on=asset)
    asset.goto(ticket_url)
    expect(asset.locator(".ticket-meta .status")).to_have_text("Awaiting review")
    expect(asset.locator(".comment")).to_contain_text("Filed without a live connection.")

    # On one page, left alone: it keeps retrying, with a jittered delay that grows from up to a second,
    # never in a tight loop.
    quiet_from = time.monotonic()
    asset.wait_for_timeout(4000)
    retries = [moment for moment in attempts if moment > quiet_from]
    assert 1 <= len(retries) <= 15, f"{len(retries)} attempts in 4 seconds"


@pytest.fixture
def restartable_server(tmp_path, demo_password):
    """A server of this test's own (the shared one must not restart under other tests): (url, restart)."""
    env = server_environment(tmp_path, demo_password)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    manage(env, "seed_demo")
    server = Daphne(env, tmp_path / "daphne.log").start()

    def restart(while_down=lambda: None):
        server.stop()
        while_down()
        server.start()  # on the same port

    try:
        yield server.base_url, restart
    finally:
        server.stop()


def test_the_live_connection_comes_back_after_the_server_restarts(watched_context, sign_in, restartable_server):
    url, restart = restartable_server
    asset = sign_in(ASSET, on=watched_context(base_url=url).new_page())
    ticket_url = file_and_submit(asset, "Depot watch, night", credits="3", pay="2.00")
    credits_before, _balance = wallet(asset)
    wait_until_live(asset)
    # A change of the asset's own: its live update names a time the page already shows (and is not redrawn).
    asset.get_by_label("Comment (markdown)").fill("Starting the night round.")
    asset.get_by_role("button", name="Add comment").click()
    asset.wait_for_function(
        "() => document.querySelector('[id^=ticket-live-]')?.dataset.updatedAt", timeout=LIVE_TIMEOUT
    )
    reloads = Reloads(asset)

    # Back online, the page cannot know what it missed: it redraws the ticket whatever its last update said.
    def redraws_the_ticket(request):
        return request.url == ticket_url and request.headers.get("hx-target") == "ticket"

    with asset.expect_request(redraws_the_ticket, timeout=RECONNECT_TIMEOUT + LIVE_TIMEOUT):
        restart(
            while_down=lambda: asset.wait_for_function(f"() => ({SOCKET_STATE})() === {CLOSED}", timeout=LIVE_TIMEOUT)
        )
        asset.wait_for_function(f"() => ({SOCKET_STATE})() === {OPEN}", timeout=RECONNECT_TIMEOUT)

    marshal = sign_in(MARSHAL, on=watched_context(base_url=url).new_page())
    approve(marshal, ticket_url)

    expect(asset.locator("#wallet-credits")).to_have_text(str(credits_before + 3), timeout=LIVE_TIMEOUT)
    expect(asset.locator(".ticket-meta .status")).to_have_text("Closed", timeout=LIVE_TIMEOUT)
    assert reloads.documents == [], "the page reloaded"


def test_an_approval_served_by_one_process_updates_a_page_connected_to_the_other(
    watched_context,
    servers,  # noqa: F811 - the fixture imported above
):
    password, server_a, server_b = servers

    def signed_in(username, url):
        page = watched_context(base_url=url).new_page()
        page.goto("/login/")
        page.get_by_label("Service name").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#wallet")).to_be_visible()
        return page

    asset = signed_in(ASSET, server_b)
    ticket_path = file_and_submit(asset, "Courier routes, two servers", credits="4", pay="3.25").removeprefix(server_b)
    wait_until_live(asset)
    credits_before, balance_before = wallet(asset)
    reloads = Reloads(asset)

    approve(signed_in(MARSHAL, server_a), server_a + ticket_path)

    expect(asset.locator("#wallet-credits")).to_have_text(str(credits_before + 4), timeout=LIVE_TIMEOUT)
    expect(asset.locator("#wallet-balance")).to_have_text(f"¤{balance_before + Decimal('3.25')}")
    expect(asset.locator("#toasts .toast")).to_have_text("Reward approved: 4 credits, ¤3.25.")
    expect(asset.locator(".ticket-meta .status")).to_have_text("Closed", timeout=LIVE_TIMEOUT)
    assert reloads.documents == [], "the page reloaded"


def test_a_live_update_keeps_what_the_reader_is_typing(watched_context, sign_in):
    asset = sign_in(ASSET, on=watched_context().new_page())
    ticket_url = file_and_submit(asset, f"Night watch {secrets.token_hex(3)}", credits="1", pay="3.00")
    wait_until_live(asset)
    draft = asset.get_by_label("Comment (markdown)")
    draft.fill("Half a report, not sent")
    draft.press("End")

    marshal = sign_in(MARSHAL, on=watched_context().new_page())
    marshal.goto(ticket_url)
    marshal.get_by_label("Comment (markdown)").fill("Report at dawn.")
    marshal.get_by_role("button", name="Add comment").click()
    expect(marshal.locator(".comment")).to_contain_text("Report at dawn.")

    expect(asset.locator(".comment")).to_contain_text("Report at dawn.", timeout=LIVE_TIMEOUT)  # redrawn live
    expect(asset.get_by_label("Comment (markdown)")).to_have_value("Half a report, not sent")
    expect(asset.get_by_label("Comment (markdown)")).to_be_focused()

    # Sent, the draft is gone: the redraw after one's own comment is not a live update.
    asset.get_by_role("button", name="Add comment").click()
    expect(asset.locator(".comment").last).to_contain_text("Half a report, not sent")
    expect(asset.get_by_label("Comment (markdown)")).to_have_value("")


def test_a_live_update_keeps_the_file_chosen_for_upload(watched_context, sign_in):
    asset = sign_in(ASSET, on=watched_context().new_page())
    ticket_url = file_and_submit(asset, f"Night watch {secrets.token_hex(3)}", credits="1", pay="3.00")
    wait_until_live(asset)
    asset.get_by_label("File", exact=True).set_input_files(
        {"name": "gate log.txt", "mimeType": "text/plain", "buffer": b"22:00 closed\n"}
    )

    marshal = sign_in(MARSHAL, on=watched_context().new_page())
    marshal.goto(ticket_url)
    marshal.get_by_label("Comment (markdown)").fill("Log the gate too.")
    marshal.get_by_role("button", name="Add comment").click()
    expect(asset.locator(".comment")).to_contain_text("Log the gate too.", timeout=LIVE_TIMEOUT)  # redrawn live

    assert asset.get_by_label("File", exact=True).evaluate("field => field.files[0].name") == "gate log.txt"
    asset.get_by_role("button", name="Attach file").click()
    expect(asset.locator("#attachments .files")).to_contain_text("gate log.txt")


def test_a_comment_whose_own_live_redraw_lands_first_is_not_kept_as_a_draft(watched_context, sign_in):
    """Sending a comment redraws the sender's page twice: by the form's answer and by the live update the
    comment itself causes. When the live one lands first, the sent text must not come back as a draft."""
    asset = sign_in(ASSET, on=watched_context().new_page())
    file_and_submit(asset, f"Night watch {secrets.token_hex(3)}", credits="1", pay="3.00")
    wait_until_live(asset)

    def answer_late(route):  # the comment is saved at once; only its answer reaches the page late
        answer = route.fetch()
        time.sleep(1.5)
        route.fulfill(response=answer)

    asset.route(re.compile(r".*/comment/$"), answer_late)
    asset.get_by_label("Comment (markdown)").fill("Sent while the page was redrawn")
    asset.get_by_role("button", name="Add comment").click()
    expect(asset.locator(".comment").last).to_contain_text("Sent while the page was redrawn", timeout=LIVE_TIMEOUT)
    time.sleep(2)  # the late answer has come and gone
    expect(asset.get_by_label("Comment (markdown)")).to_have_value("")
    expect(asset.locator(".comment", has_text="Sent while the page was redrawn")).to_have_count(1)


def test_the_live_update_of_ones_own_change_does_not_redraw_the_ticket_again(watched_context, sign_in):
    """Attaching a file redraws the ticket by the form's answer; the live update the attachment causes then
    names a change the page already shows, and is skipped: a second file being chosen meanwhile stays chosen."""
    asset = sign_in(ASSET, on=watched_context().new_page())
    file_and_submit(asset, f"Night watch {secrets.token_hex(3)}", credits="1", pay="3.00")
    wait_until_live(asset)
    asset.evaluate("""() => {
        window.liveRedrawsSkipped = 0;
        document.addEventListener("htmx:beforeRequest", (event) => {
            if (event.detail.elt.id.startsWith("ticket-live-") && event.defaultPrevented) window.liveRedrawsSkipped++;
        });
    }""")

    asset.get_by_label("File", exact=True).set_input_files(
        {"name": "first.txt", "mimeType": "text/plain", "buffer": b"1\n"}
    )
    asset.get_by_role("button", name="Attach file").click()
    expect(asset.locator("#attachments .files")).to_contain_text("first.txt")
    asset.get_by_label("File", exact=True).set_input_files(
        {"name": "second.txt", "mimeType": "text/plain", "buffer": b"2\n"}
    )
    asset.wait_for_function("() => window.liveRedrawsSkipped >= 1", timeout=LIVE_TIMEOUT)

    assert asset.get_by_label("File", exact=True).evaluate("field => field.files[0].name") == "second.txt"
    asset.get_by_role("button", name="Attach file").click()
    expect(asset.locator("#attachments .files")).to_contain_text("second.txt")
