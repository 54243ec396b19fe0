"""Browser tests: Debian's Chromium against the real ASGI server (daphne), as a user runs it.

The server is a subprocess with its own SQLite database in a temporary folder, prepared by the
same management commands an operator runs (migrate, bootstrap, seed_demo). The tests never
touch the Django ORM: Playwright's sync API runs an event loop in the test thread, so Django
would refuse synchronous database access there. For the same reason the browser tests run
after every other test of the session (see `pytest_collection_modifyitems` below).
"""

import os
import secrets
from pathlib import Path

import pytest

from tests import servers
from tests.browser.support import ConsoleLog

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
COMMAND_TIMEOUT = 180  # seconds, for each management command


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Run the browser tests last, once the database tests are done with the thread."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_collection_finish(session):
    if any(item.get_closest_marker("browser") for item in session.items) and not Path(CHROMIUM).exists():
        raise pytest.UsageError(
            f"The browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium "
            "(or run them with -m 'not browser')."
        )


def server_environment(folder, demo_password):
    """The environment of every server-side process: an own SQLite database and var folder.

    Values a developer's `.env` may hold are overridden, so the browser tests never write to a
    real database (MONGO_URI), spread to other processes (REDIS_URL) or call Gemini (GEMINI_API_KEY).
    """
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "directorate.settings",
            "DIRECTORATE_VAR_DIR": str(folder / "var"),
            "SQLITE_PATH": str(folder / "var" / "browser.sqlite3"),
            "DEMO_PASSWORD": demo_password,
            "NIKI_PASSWORD": niki_password_for(demo_password),
            "DEBUG": "1",
            "MONGO_URI": "",
            "REDIS_URL": "",
            "GEMINI_API_KEY": "",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def niki_password_for(demo_password):
    """The Controller's password on the test server, read by `manage.py bootstrap` from NIKI_PASSWORD."""
    return f"{demo_password}-controller"


def manage(env, *args):
    return servers.manage(env, *args, timeout=COMMAND_TIMEOUT)


@pytest.fixture(scope="session")
def demo_password():
    return secrets.token_urlsafe(12)


@pytest.fixture(scope="session")
def live_server_url(tmp_path_factory, demo_password):
    """A running daphne with a migrated, bootstrapped, demo-seeded database of its own."""
    folder = tmp_path_factory.mktemp("browser-server")
    env = server_environment(folder, demo_password)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    manage(env, "seed_demo")
    server = servers.Daphne(env, folder / "daphne.log").start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def base_url(live_server_url):
    """pytest-playwright gives this to every browser context: `page.goto("/people/")` works."""
    return live_server_url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def console_log(context):
    """Fails any browser test in which a page broke the Content Security Policy or threw an error."""
    log = ConsoleLog()
    log.watch(context)
    yield log
    assert log.csp_violations() == [], "Content Security Policy violations"
    assert log.page_errors == [], "uncaught script errors"


@pytest.fixture
def sign_in(page, demo_password):
    """Sign in through the form, as a person does; returns the page on the dashboard."""

    def sign_in_as(username, *, on=page):
        on.goto("/login/")
        on.get_by_label("Service name").fill(username)
        on.get_by_label("Password").fill(demo_password)
        on.get_by_role("button", name="Sign in").click()
        on.wait_for_url(lambda url: url.endswith("/") and "/login/" not in url)
        return on

    return sign_in_as
