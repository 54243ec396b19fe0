"""Live updates under `make run`'s own layout: daphne and `manage.py worker` as two processes, no Redis.

The worker is a separate process: whatever it does (Nyx's reviews, the weekly payroll) reaches the server's
sockets only through the live event log in the shared database, which the server relays to its sockets. With
the in-memory channel layer alone those events would be lost. Executor Kade reports to Nyx, so Nyx reviews
the work Kade submits; the demo organisation counts as enlisted four weeks ago, so the worker pays the payroll
as soon as it starts.
"""

import secrets
import subprocess
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import manage, server_environment
from tests.browser.test_live_updates import LIVE_TIMEOUT, Reloads, wait_until_live, wallet, watched_context  # noqa: F401
from tests.servers import PROJECT_DIR, PYTHON, Daphne, stop

pytestmark = pytest.mark.browser

EXECUTOR = "executor.kade"
WORKER_TIMEOUT = 20_000  # ms: the worker ticks every half second here; its first tick also loads Django


@pytest.fixture
def make_run_layout(tmp_path, demo_password):
    """daphne serving, and a function that starts the worker beside it as `make serve` does: (url, start_worker)."""
    env = server_environment(tmp_path, demo_password)  # REDIS_URL empty: the in-memory layer
    env["NYX_WORKER_INTERVAL"] = "0.5"
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    manage(env, "seed_demo")
    started = []

    def start_worker():
        log = open(tmp_path / "worker.log", "ab")
        started.append(
            subprocess.Popen(
                [PYTHON, "manage.py", "worker"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        )
        log.close()

    try:
        server = Daphne(env, tmp_path / "daphne.log").start()
        started.append(server.process)
        yield server.base_url, start_worker
    finally:
        for process in started:
            stop(process)


def standing(page):
    """The Standing box's credits and balance."""
    figures = page.locator("#standing dd.figure")
    return int(figures.nth(0).inner_text()), Decimal(figures.nth(1).inner_text().removeprefix("¤"))


@pytest.fixture
def kade_pages(make_run_layout, watched_context, demo_password):  # noqa: F811 - the fixture imported above
    url, start_worker = make_run_layout
    context = watched_context(base_url=url)
    dashboard = context.new_page()
    dashboard.goto("/login/")
    dashboard.get_by_label("Service name").fill(EXECUTOR)
    dashboard.get_by_label("Password").fill(demo_password)
    dashboard.get_by_role("button", name="Sign in").click()
    expect(dashboard.locator("#standing")).to_be_visible()
    return dashboard, context.new_page(), start_worker


def test_the_workers_acts_change_the_open_pages_without_redis(kade_pages):
    dashboard, ticket_page, start_worker = kade_pages

    # Kade submits work for Nyx's review, on a second page of the same session.
    title = f"Sector audit {secrets.token_hex(3)}"
    ticket_page.goto("/tickets/new/")
    ticket_page.get_by_label("Title").fill(title)
    ticket_page.get_by_label("Category", exact=True).select_option("Intel")
    expect(ticket_page.get_by_label("Sub category")).to_contain_text("Recon Report")
    ticket_page.get_by_label("Sub category").select_option("Recon Report")
    ticket_page.get_by_label("Address to").select_option(label="Executor Iris Kade (executor.kade)")
    ticket_page.get_by_role("button", name="Create ticket").click()
    expect(ticket_page.get_by_role("heading", level=1)).to_have_text(title)
    ticket_page.get_by_role("button", name="Start work").click()
    ticket_page.get_by_label("Credits").fill("3")
    ticket_page.get_by_label("Pay (¤)").fill("4.00")
    ticket_page.get_by_role("button", name="Submit for review").click()
    expect(ticket_page.locator(".ticket-meta .status")).to_have_text("Awaiting review")

    dashboard.reload()
    wait_until_live(dashboard)
    wait_until_live(ticket_page)
    row = dashboard.locator("#my-work tr", has_text=title)
    expect(row.locator(".status")).to_have_text("Awaiting review")
    expect(dashboard.locator("#recent-rewards")).not_to_contain_text(title)
    credits_before, balance_before = wallet(dashboard)
    assert standing(dashboard) == (credits_before, balance_before)
    reloads = [Reloads(dashboard), Reloads(ticket_page)]

    # The worker starts: it pays the weeks' payroll and Nyx approves Kade's proposal, in its own process.
    start_worker()

    expect(ticket_page.locator(".ticket-meta .status")).to_have_text("Closed", timeout=WORKER_TIMEOUT)
    expect(ticket_page.locator(".log")).to_contain_text("Approved by Nyx")
    expect(row).to_have_count(0, timeout=LIVE_TIMEOUT)  # My work lists open tickets only: a closed one leaves it
    expect(dashboard.locator("#recent-rewards")).to_contain_text(title, timeout=LIVE_TIMEOUT)
    expect(dashboard.locator("#toasts .toast").first).to_have_text("Reward approved: 3 credits, ¤4.00.")
    # The payroll paid a salary: the balance grew by more than the reward's ¤4.00.
    expect(dashboard.locator("#wallet-balance")).not_to_have_text(f"¤{balance_before + Decimal('4.00')}")
    on_screen = wallet(dashboard)
    assert on_screen[1] > balance_before + Decimal("4.00")
    expect(dashboard.locator("#standing dd.figure").nth(1)).to_have_text(f"¤{on_screen[1]}", timeout=LIVE_TIMEOUT)
    assert standing(dashboard) == wallet(dashboard)
    assert wallet(ticket_page) == wallet(dashboard)
    assert all(watch.documents == [] for watch in reloads), "a page reloaded"

    # What the pages show is what the database holds.
    shown = wallet(dashboard)
    dashboard.reload()
    assert wallet(dashboard) == shown == standing(dashboard)
    expect(dashboard.locator("#my-work tr", has_text=title)).to_have_count(0)
