"""Several server processes behind one port, as `make run` serves: `manage.py serve --processes 2`, no Redis.

Two daphne processes accept connections from one listening socket and share one SQLite database and one
`var/` folder; nothing else. The kernel decides which process takes a connection; these tests ask the kernel
(Linux /proc, `tests.servers.serving_process`) which one holds each of their connections, then act through a
connection to one process and look through a connection to the other. Nothing in the server is there for the
tests. Every wait is bounded; the processes are stopped by the fixture's finalizer whatever happens.
"""

import time
from http.client import HTTPConnection
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as websocket_connect

from desk.demo import ASSETS, SHADOWS
from tests.browser.conftest import manage, server_environment
from tests.servers import Daphne, serving_process

TIMEOUT = 20  # seconds, for each request and for a socket to open
EVENT_TIMEOUT = 10  # seconds, for an expected event or close to arrive
CONNECT_SECONDS = 30  # how long to keep trying to reach one process (the kernel may hand many in a row to the other)
THROTTLED = "Too many failed sign-in attempts"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`manage.py serve` with two server processes on one free port; yields (server, password)."""
    folder = tmp_path_factory.mktemp("serve-multiprocess")
    password = "serve-" + str(time.time_ns())
    env = server_environment(folder, password)
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    manage(env, "seed_demo")
    served = Daphne(env, folder / "serve.log", processes=2).start()
    try:
        assert len(served.server_pids()) == 2
        yield served, password
    finally:
        served.stop()


class Browser:
    """Cookies shared by connections to either process, as one browser's cookie jar is."""

    def __init__(self):
        self.cookies = {}

    def connection(self, server, pid):
        """A kept-alive HTTP connection that the server process `pid` accepted."""
        deadline = time.monotonic() + CONNECT_SECONDS
        tries = 0
        while time.monotonic() < deadline:
            connection = Connection(self, server)
            connection.request("GET", "/login/")
            if connection.pid == pid:
                return connection
            connection.close()
            tries += 1
            time.sleep(0.05)
        raise AssertionError(f"no connection reached process {pid} in {tries} tries ({CONNECT_SECONDS} s)")

    def socket(self, server, pid):
        """A live WebSocket, signed in by this browser's session, that the server process `pid` accepted."""
        deadline = time.monotonic() + CONNECT_SECONDS
        tries = 0
        while time.monotonic() < deadline:
            websocket = websocket_connect(
                f"ws://127.0.0.1:{server.port}/ws/events/",
                origin=server.base_url,
                additional_headers={"Cookie": f"sessionid={self.cookies['sessionid']}"},
                proxy=None,
                open_timeout=TIMEOUT,
                close_timeout=2,
                legacy=True,  # closed by the callers, not a `with` block
            )
            if serving_process(websocket.socket, server.server_pids()) == pid:
                return websocket
            websocket.close()
            tries += 1
            time.sleep(0.05)
        raise AssertionError(f"no WebSocket reached process {pid} in {tries} tries ({CONNECT_SECONDS} s)")


class Connection:
    """One HTTP/1.1 connection; `pid` is the server process holding it, checked after every answer."""

    def __init__(self, browser, server):
        self.browser, self.server = browser, server
        self.http = HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
        self.pid = None

    def request(self, method, path, form=None):
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.browser.cookies.items())}
        body = None
        if form is not None:
            body = urlencode({**form, "csrfmiddlewaretoken": self.browser.cookies["csrftoken"]})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.http.request(method, path, body=body, headers=headers)
        answer = self.http.getresponse()
        text = answer.read().decode()
        for header in answer.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel.value:
                    self.browser.cookies[name] = morsel.value
                else:
                    self.browser.cookies.pop(name, None)
        assert not answer.will_close, "the server closed the connection"
        pid = serving_process(self.http.sock, self.server.server_pids())
        assert self.pid in (None, pid), "the connection moved to another process"
        self.pid = pid
        return answer.status, answer.headers.get("Location"), text

    def sign_in(self, username, password):
        self.request("GET", "/login/")
        status, location, _ = self.request("POST", "/login/", {"username": username, "password": password, "next": ""})
        assert (status, location) == (302, "/"), f"{username} could not sign in"

    def close(self):
        self.http.close()


def both(server):
    first, second = sorted(server.server_pids())
    return first, second


def received(websocket, marker):
    """Wait for a fragment containing `marker`; fail after EVENT_TIMEOUT seconds."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            fragment = websocket.recv(timeout=remaining)
        except TimeoutError:
            break
        if marker in fragment:
            return fragment
    raise AssertionError(f"nothing with {marker!r} arrived within {EVENT_TIMEOUT} s")


def closed_with(websocket):
    """The close code the server ends `websocket` with, waited for at most EVENT_TIMEOUT seconds."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            websocket.recv(timeout=remaining)
    except TimeoutError:
        raise AssertionError(f"the socket was still open after {EVENT_TIMEOUT} s") from None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError(f"the socket was still open after {EVENT_TIMEOUT} s")


def test_connections_land_on_both_processes_behind_one_port(server):
    served, _password = server
    browser = Browser()
    for pid in served.server_pids():
        connection = browser.connection(served, pid)  # tries for up to CONNECT_SECONDS, pausing between tries
        assert connection.request("GET", "/login/")[0] == 200
        assert connection.pid == pid
        connection.close()


def test_signing_out_through_one_process_signs_out_on_the_other(server):
    served, password = server
    a, b = both(served)
    holt = Browser()
    on_a, on_b = holt.connection(served, a), holt.connection(served, b)
    on_a.sign_in(SHADOWS[0][0], password)
    assert on_b.request("GET", "/")[0] == 200  # B has read the session (and its cache has it)
    assert on_a.request("GET", "/")[0] == 200
    socket_on_b = holt.socket(served, b)
    try:
        key = holt.cookies["sessionid"]
        status, location, _ = on_a.request("POST", "/logout/", {})
        assert (status, location) == (302, "/login/") and "sessionid" not in holt.cookies
        holt.cookies["sessionid"] = key  # the cookie again, as a copy kept elsewhere would present it
        assert on_b.request("GET", "/")[:2] == (302, "/login/?next=/")
        assert on_a.request("GET", "/")[:2] == (302, "/login/?next=/")
        assert closed_with(socket_on_b) == 4401  # and that session's live socket on B is closed
    finally:
        socket_on_b.close()


def test_the_sign_in_throttle_counts_failures_on_both_processes(server):
    served, password = server
    a, b = both(served)
    someone = Browser()
    on_a, on_b = someone.connection(served, a), someone.connection(served, b)
    username = ASSETS[5][0]
    for connection in (on_a, on_b, on_a, on_b, on_a):  # five failures: the limit per account
        status, _location, text = connection.request(
            "POST", "/login/", {"username": username, "password": "not-the-password", "next": ""}
        )
        assert status == 400 and THROTTLED not in text
    # The right password, through the process that saw two of the five failures: refused all the same.
    status, _location, text = on_b.request("POST", "/login/", {"username": username, "password": password, "next": ""})
    assert status == 429 and THROTTLED in text


@pytest.mark.parametrize("acting_on", ["first", "second"])
def test_a_broadcast_through_one_process_reaches_a_socket_on_the_other(server, acting_on):
    """Kade broadcasts through one process; North listens with one socket on each: both hear it."""
    served, password = server
    a, b = both(served)
    acting, other = (a, b) if acting_on == "first" else (b, a)
    kade, north = Browser(), Browser()
    kade_there = kade.connection(served, acting)
    kade_there.sign_in("executor.kade", password)
    north.connection(served, other).sign_in(ASSETS[0][0], password)
    north_on_other, north_on_acting = north.socket(served, other), north.socket(served, acting)
    try:
        message = f"All units: report in ({acting_on})."
        status, _location, _text = kade_there.request("POST", "/broadcast/", {"message": message})
        assert status == 302
        assert 'id="inbox-badge"' in received(north_on_other, 'id="inbox-badge"')
        assert 'id="inbox-badge"' in received(north_on_acting, 'id="inbox-badge"')
    finally:
        north_on_other.close()
        north_on_acting.close()
    inbox = north.connection(served, other).request("GET", "/inbox/")[2]
    assert message in inbox


def test_a_killed_server_process_is_started_again_and_sigterm_stops_every_process(server):
    """Last in this module: it kills one process, then stops the server."""
    served, password = server
    victim, survivor = both(served)
    watcher = Browser()
    on_survivor = watcher.connection(served, survivor)
    served.kill_one(victim)
    assert on_survivor.request("GET", "/login/")[0] == 200  # the other went on serving
    deadline = time.monotonic() + 60
    while len(served.server_pids()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = served.server_pids()
    assert len(pids) == 2 and victim not in pids and survivor in pids
    log = served.log_path.read_text()
    assert f"(pid {victim}) ended with signal 9 (SIGKILL); starting it again." in log
    replacement = next(pid for pid in pids if pid != survivor)
    Browser().connection(served, replacement).sign_in(ASSETS[2][0], password)  # and the new one serves

    served.stop()  # SIGTERM to `manage.py serve`, which stops its processes before it ends
    assert served.process.returncode == 0
    assert [pid for pid in (survivor, replacement) if running(pid)] == []


def running(pid):
    """Whether `pid` is a living process (not gone, not a zombie waiting to be reaped)."""
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
