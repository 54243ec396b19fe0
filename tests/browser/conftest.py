"""Browser tests: Debian's Chromium against the real ASGI server (daphne), as a user runs it.

The server is a subprocess with its own SQLite database in a temporary folder, prepared by the
same management commands an operator runs (migrate, bootstrap, seed_demo). The tests never
touch the Django ORM: Playwright's sync API runs an event loop in the test thread, so Django
would refuse synchronous database access there. For the same reason the browser tests run
after every other test of the session (see `pytest_collection_modifyitems` below).
"""

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser.support import ConsoleLog

PROJECT_DIR = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
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
SERVER_START_TIMEOUT = 30  # seconds
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


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy


def answers(url):
    try:
        with DIRECT.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start_daphne(env, log_path):
    """Start daphne on a free port and wait until the sign-in page answers; returns (process, url)."""
    last_error = ""
    for _attempt in range(3):  # another process may take the free port before daphne binds it
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(log_path, "ab")
        process = subprocess.Popen(
            [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "directorate.asgi:application"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        try:
            while time.monotonic() < deadline and process.poll() is None:
                if answers(f"{url}/login/"):
                    return process, url
                time.sleep(0.2)
        except BaseException:
            stop(process)
            raise
        stop(process)
        last_error = Path(log_path).read_text(errors="replace")[-3000:]
    raise RuntimeError(f"daphne did not start; its log ({log_path}) ends:\n{last_error}")


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
    process, url = start_daphne(env, folder / "daphne.log")
    try:
        yield url
    finally:
        stop(process)


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
