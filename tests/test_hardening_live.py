"""Attacks on a running server: one real daphne process over its own SQLite database, as an operator runs it.

The database is prepared by the operator's commands (migrate, bootstrap, seed_demo); the tests speak HTTP and
WebSocket only and never touch the ORM in this process. Every wait is bounded; the server is stopped by the
fixture's finalizer whatever happens.
"""

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as websocket_connect

from desk.demo import ASSETS, MARSHALS
from tests.browser.conftest import manage, server_environment
from tests.servers import Daphne
from tests.test_live_multiprocess import SignedIn

HTTP_TIMEOUT = 60  # seconds, for each request (40 bcrypt checks at once on a loaded machine)
GUESSES = 40
LIMIT_PER_NAME = 5  # settings.LOGIN_THROTTLE["per_account"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A daphne process with a migrated, bootstrapped, demo-seeded database; yields (password, url)."""
    folder = tmp_path_factory.mktemp("hardening")
    password = "hardening-" + str(time.time_ns())
    env = server_environment(folder, password)
    env["LIVE_RECHECK_SECONDS"] = "0"  # sockets check their session and member before every relay
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    manage(env, "seed_demo")
    server = Daphne(env, folder / "daphne.log").start()
    SERVER_ENV[server.base_url] = env
    try:
        yield password, server.base_url
    finally:
        server.stop()


SERVER_ENV = {}  # url -> the environment its server runs with
SHADOWS_FOR_CAP = "shadow.reyes"


def session():
    http = requests.Session()
    http.trust_env = False  # never through a proxy from the environment
    return http


def page_form(url):
    """A visitor holding the sign-in page's CSRF cookie: (session, token)."""
    http = session()
    assert http.get(f"{url}/login/", timeout=HTTP_TIMEOUT).status_code == 200
    return http, http.cookies["csrftoken"]


def all_at_once(tasks):
    """Run the callables together, released by one barrier; their results in order."""
    barrier = threading.Barrier(len(tasks))

    def run(task):
        barrier.wait(timeout=HTTP_TIMEOUT)
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        return list(pool.map(run, tasks))


# 1. The sign-in throttle holds under concurrency -----------------------------------------------------------


def test_simultaneous_api_guesses_are_judged_at_most_up_to_the_limit(server):
    password, url = server
    username = ASSETS[2][0]

    def guess():
        return (
            session()
            .post(
                f"{url}/api/auth/token",
                json={"username": username, "password": "wrong-guess-123"},
                timeout=HTTP_TIMEOUT,
            )
            .status_code
        )

    statuses = all_at_once([guess] * GUESSES)

    assert set(statuses) <= {400, 429}, statuses
    assert statuses.count(400) <= LIMIT_PER_NAME, statuses  # judged: a wrong password
    assert statuses.count(429) >= GUESSES - LIMIT_PER_NAME
    # A refused guess leaves no failure behind: one at a time, guesses are judged until the limit is reached.
    assert [guess() for _ in range(LIMIT_PER_NAME - statuses.count(400))] == [400] * (
        LIMIT_PER_NAME - statuses.count(400)
    )
    assert guess() == 429
    right = session().post(
        f"{url}/api/auth/token", json={"username": username, "password": password}, timeout=HTTP_TIMEOUT
    )
    assert right.status_code == 429 and right.json()["code"] == "throttled"
    assert "access_token" not in right.text


def test_simultaneous_page_guesses_are_judged_at_most_up_to_the_limit(server):
    password, url = server
    username = ASSETS[3][0]
    visitors = [page_form(url) for _ in range(GUESSES)]

    def guesser(http, token):
        def guess():
            return http.post(
                f"{url}/login/",
                data={"username": username, "password": "wrong-guess-123", "csrfmiddlewaretoken": token},
                headers={"Referer": f"{url}/login/"},
                timeout=HTTP_TIMEOUT,
                allow_redirects=False,
            ).status_code

        return guess

    statuses = all_at_once([guesser(http, token) for http, token in visitors])

    assert set(statuses) <= {400, 429}, statuses
    assert statuses.count(400) <= LIMIT_PER_NAME, statuses
    # A refused guess leaves no failure behind: one at a time, guesses are judged until the limit is reached.
    more = LIMIT_PER_NAME - statuses.count(400)
    assert [guesser(*page_form(url))() for _ in range(more)] == [400] * more
    assert guesser(*page_form(url))() == 429
    http, token = page_form(url)
    right = http.post(
        f"{url}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        timeout=HTTP_TIMEOUT,
        allow_redirects=False,
    )
    assert right.status_code == 429 and "Too many failed sign-in attempts" in right.text
    assert "sessionid" not in http.cookies


# 3 and 4. Malformed and over-long requests ------------------------------------------------------------------


def raw_exchange(url, head, body=b"", *, send_body=True):
    """Send a raw HTTP/1.1 request; the status line and headers of the answer (read within HTTP_TIMEOUT)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(head.encode("latin-1"))
        if send_body:
            sock.sendall(body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer.decode("latin-1")


@pytest.mark.parametrize(
    "path, content_type, size",
    [
        ("/api/auth/refresh", "application/json", 3 * 1024 * 1024),  # API JSON
        ("/api/notifications/read-all", "application/json", 3 * 1024 * 1024),  # an API route that reads no body
        ("/login/", "application/x-www-form-urlencoded", 3 * 1024 * 1024),  # page form
        ("/tickets/0/attachments/", "multipart/form-data; boundary=x", 17 * 1024 * 1024),  # upload
    ],
)
def test_a_body_over_the_limit_is_refused_by_its_length(server, path, content_type, size):
    """Refused by the announced length alone, before Django reads the body (no session, no CSRF check)."""
    _password, url = server
    host = urlsplit(url).netloc
    if content_type.startswith("multipart/"):
        body = b'--x\r\nContent-Disposition: form-data; name="note"\r\n\r\n' + b"a" * size + b"\r\n--x--\r\n"
    else:
        body = b"a" * size
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    answer = raw_exchange(url, head, body)
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    if path.startswith("/api/"):
        assert "application/json" in answer


def test_a_json_body_just_over_the_limit_is_413_in_the_error_shape(server):
    _password, url = server
    answer = session().post(
        f"{url}/api/auth/refresh",
        data=b'{"refresh_token": "' + b"a" * 3_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
        timeout=HTTP_TIMEOUT,
    )
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large" and set(answer.json()) == {"detail", "code", "errors"}


def test_a_chunked_body_over_the_limit_is_413(server):
    _password, url = server

    def chunks():
        for _ in range(30):
            yield b"a" * 100_000

    answer = session().post(
        f"{url}/api/auth/refresh", data=chunks(), headers={"Content-Type": "application/json"}, timeout=HTTP_TIMEOUT
    )
    assert answer.status_code == 413


def test_a_static_path_leaving_the_folder_is_404(server):
    _password, url = server
    for path in ("/static/..%2f..%2fetc%2fpasswd", "/static/..%2f..%2fdirectorate%2fsettings.py"):
        answer = raw_exchange(url, f"GET {path} HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\nConnection: close\r\n\r\n")
        assert answer.startswith("HTTP/1.1 404"), answer[:300]


# 2. Behind a TLS-terminating reverse proxy, with DEBUG=0 ----------------------------------------------------

PUBLIC_HOST = "directorate.example"


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    """A daphne process with DEBUG=0 and the proxy settings of docs/operations.md; yields (password, url)."""
    folder = tmp_path_factory.mktemp("production")
    password = "production-" + str(time.time_ns())
    env = server_environment(folder, password)
    env.update(
        {
            "DEBUG": "0",
            "DJANGO_SECRET_KEY": "s" * 24 + str(time.time_ns()),
            "JWT_SECRET": "j" * 24 + str(time.time_ns()),
            "ALLOWED_HOSTS": f"{PUBLIC_HOST},127.0.0.1",
            "TRUSTED_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "TRUSTED_PROXY_ADDRESS_HEADER": "X-Real-IP",
            "CSRF_TRUSTED_ORIGINS": f"https://{PUBLIC_HOST}",
            "SECURE_HSTS_SECONDS": "31536000",
        }
    )
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(env, "bootstrap")
    manage(env, "seed_demo")
    server = Daphne(env, folder / "daphne.log").start()
    try:
        yield password, server.base_url
    finally:
        server.stop()


def cookie_from(response, name):
    """A cookie's value from Set-Cookie (the cookies are Secure: a client would not keep them over plain HTTP)."""
    for header in response.raw.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            assert "Secure" in header, header
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no {name} cookie set: {response.headers}")


def test_a_form_sign_in_through_a_tls_proxy_works_with_debug_off(production_server):
    password, url = production_server
    proxied = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https", "X-Real-IP": "203.0.113.7"}
    http = session()
    page = http.get(f"{url}/login/", headers=proxied, timeout=HTTP_TIMEOUT, allow_redirects=False)
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    token = cookie_from(page, "csrftoken")
    answer = http.post(
        f"{url}/login/",
        data={"username": ASSETS[0][0], "password": password, "csrfmiddlewaretoken": token},
        headers={
            **proxied,
            "Origin": f"https://{PUBLIC_HOST}",
            "Referer": f"https://{PUBLIC_HOST}/login/",
            "Cookie": f"csrftoken={token}",
        },
        timeout=HTTP_TIMEOUT,
        allow_redirects=False,
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/", answer.text[:500]
    session_id = cookie_from(answer, "sessionid")
    dashboard = http.get(
        f"{url}/", headers={**proxied, "Cookie": f"sessionid={session_id}"}, timeout=HTTP_TIMEOUT, allow_redirects=False
    )
    assert dashboard.status_code == 200

    # A form from any other origin is still refused.
    forged = http.post(
        f"{url}/login/",
        data={"username": ASSETS[0][0], "password": password, "csrfmiddlewaretoken": token},
        headers={**proxied, "Origin": "https://evil.example", "Cookie": f"csrftoken={token}"},
        timeout=HTTP_TIMEOUT,
        allow_redirects=False,
    )
    assert forged.status_code == 403


# 5. Live sockets end with what signed them in ---------------------------------------------------------------

SOCKET_WAIT = 10  # seconds


def assert_closed(websocket):
    """The server closes the socket within SOCKET_WAIT seconds, sending nothing more before it does."""
    deadline = time.monotonic() + SOCKET_WAIT
    while time.monotonic() < deadline:
        try:
            fragment = websocket.recv(timeout=deadline - time.monotonic())
        except TimeoutError:
            break
        except ConnectionClosed:
            return
        raise AssertionError(f"received after it should have closed: {fragment!r}")
    raise AssertionError(f"the socket was still open after {SOCKET_WAIT}s")


def member_id(url, password, name):
    """A member's id, as their marshal reads it from the API."""
    token = session().post(
        f"{url}/api/auth/token", json={"username": MARSHALS[0][0], "password": password}, timeout=HTTP_TIMEOUT
    )
    people = session().get(
        f"{url}/api/users",
        params={"q": name},
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=HTTP_TIMEOUT,
    )
    return next(person["id"] for person in people.json()["items"] if person["username"] == name)


def test_signing_out_closes_that_sessions_socket_and_no_other(server):
    password, url = server
    asset = ASSETS[0][0]  # reports to shadow.holt under marshal.vance
    here, elsewhere = SignedIn(url, asset, password), SignedIn(url, asset, password)
    marshal = SignedIn(url, MARSHALS[0][0], password)
    asset_id = member_id(url, password, asset)
    with here.listen() as socket_here, elsewhere.listen() as socket_elsewhere:
        here.post("/logout/", {})
        assert_closed(socket_here)
        marshal.post(f"/people/{asset_id}/adjust/", {"credits": "1", "reason": "After the sign-out"})
        assert "wallet-credits" in "".join(receive_some(socket_elsewhere))  # the other session still hears


def receive_some(websocket):
    """What arrives within SOCKET_WAIT seconds for the first fragment, and one quiet second after the last."""
    fragments = [websocket.recv(timeout=SOCKET_WAIT)]
    while True:
        try:
            fragments.append(websocket.recv(timeout=1))
        except TimeoutError:
            return fragments


def test_a_deactivated_members_socket_closes_before_the_next_relay(server, tmp_path):
    password, url = server
    asset = ASSETS[1][0]
    member = SignedIn(url, asset, password)
    marshal = SignedIn(url, MARSHALS[0][0], password)
    asset_id = member_id(url, password, asset)
    with member.listen() as websocket:
        deactivate(url, asset)
        marshal.post(f"/people/{asset_id}/adjust/", {"credits": "1", "reason": "After deactivation"})
        assert_closed(websocket)


def deactivate(url, username):
    """Deactivate a member the way an operator would, from outside the server process (no close message)."""
    manage(
        SERVER_ENV[url],
        "shell",
        "-c",
        f"from accounts.models import User; User.objects.filter(username={username!r}).update(is_active=False)",
    )


def test_a_member_holds_at_most_ten_sockets(server):
    password, url = server
    member = SignedIn(url, SHADOWS_FOR_CAP, password)
    with ExitStack() as sockets:
        for _ in range(10):
            sockets.enter_context(member.listen())
        with pytest.raises(InvalidStatus):
            with member.listen():
                pass
    time.sleep(0.5)
    with member.listen():
        pass  # a closed socket frees its place


def test_a_close_from_another_process_reaches_this_servers_sockets_through_the_log(server):
    """No Redis: a sign-out done in another process (the worker, a management command), of an API session or of a
    browser session, still closes the member's sockets in the server process, through the live event log. No event
    follows, so only the close can end them; each socket closes only when the close names it."""
    password, url = server
    asset = ASSETS[5][0]
    member = SignedIn(url, asset, password)
    pair = (
        session()
        .post(f"{url}/api/auth/token", json={"username": asset, "password": password}, timeout=HTTP_TIMEOUT)
        .json()
    )
    host = urlsplit(url).netloc
    with (
        member.listen() as browser,
        websocket_connect(f"ws://{host}/ws/api/events/", proxy=None, open_timeout=HTTP_TIMEOUT) as api,
    ):
        api.send(json.dumps({"type": "auth", "token": pair["access_token"]}))
        assert json.loads(api.recv(timeout=SOCKET_WAIT))["type"] == "ready"

        elsewhere(url, f"from accounts.services import sign_out_token; sign_out_token(token={pair['refresh_token']!r})")
        assert_closed(api)
        with pytest.raises(TimeoutError):  # the API's sign-out: the browser's socket stays open
            browser.recv(timeout=1)

        elsewhere(
            url,
            "from accounts.models import User; from accounts.services import end_browser_session; "
            f"end_browser_session(user=User.objects.get(username={asset!r}), "
            f"session_key={member.http.cookies['sessionid']!r})",
        )
        assert_closed(browser)


def elsewhere(url, code):
    """Run `code` in a process of its own on the server's database, as the worker or an operator would."""
    manage(SERVER_ENV[url], "shell", "-c", code)
