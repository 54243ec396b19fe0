"""directorate.sqlite: the connections a request closes are kept open for the next request, safely."""

import threading

import pytest
from django.db import connections

from directorate.sqlite.base import IDLE_CONNECTIONS, DatabaseWrapper

pytestmark = pytest.mark.skipif(
    connections["default"].vendor != "sqlite", reason="the SQLite backend's own connections; not used on MongoDB"
)


@pytest.fixture
def database(tmp_path, django_db_blocker):
    """A database of its own in a temporary file, outside the test database and its transaction."""
    with django_db_blocker.unblock():
        yield from _own_database(tmp_path)


def _own_database(tmp_path):
    settings = {**connections.settings["default"], "NAME": str(tmp_path / "own.sqlite3")}
    wrappers = []

    def open_wrapper():
        wrapper = DatabaseWrapper(settings, alias="own")
        wrappers.append(wrapper)
        return wrapper

    first = open_wrapper()
    with first.cursor() as cursor:
        cursor.execute("CREATE TABLE entry (note TEXT)")
    first.close()
    yield open_wrapper
    for wrapper in wrappers:
        if wrapper.connection is not None:
            wrapper.close()


def rows(wrapper):
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT note FROM entry ORDER BY note")
        return [row[0] for row in cursor.fetchall()]


def test_the_next_request_takes_the_connection_the_last_one_closed(database):
    one = database()
    one.ensure_connection()
    raw = one.connection
    one.close()
    two = database()
    two.ensure_connection()
    assert two.connection is raw
    assert rows(two) == []  # and it works: foreign keys, functions and settings as opened


def test_a_connection_closed_in_a_transaction_comes_back_rolled_back(database):
    writer = database()
    writer.set_autocommit(False)
    with writer.cursor() as cursor:
        cursor.execute("INSERT INTO entry VALUES ('never committed')")
    writer.close()
    reader = database()
    reader.ensure_connection()
    assert not reader.connection.in_transaction
    assert rows(reader) == []


def test_a_recreated_database_never_receives_a_connection_to_the_old_file(database, tmp_path):
    old = database()
    old.ensure_connection()
    raw = old.connection
    old.close()
    (tmp_path / "own.sqlite3").unlink()
    fresh = database()
    fresh.ensure_connection()
    assert fresh.connection is not raw
    with fresh.cursor() as cursor:
        cursor.execute("CREATE TABLE entry (note TEXT)")
    assert rows(fresh) == []


def test_requests_at_the_same_time_each_have_a_connection_of_their_own(database):
    all_connected = threading.Barrier(5)  # four requests and this test
    done = threading.Event()
    seen = []

    def request():
        wrapper = database()
        wrapper.ensure_connection()
        seen.append(wrapper.connection)
        all_connected.wait(timeout=10)
        done.wait(timeout=10)
        wrapper.close()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    all_connected.wait(timeout=10)
    done.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len({id(raw) for raw in seen}) == 4


def test_at_most_a_few_connections_wait(database):
    wrappers = [database() for _ in range(IDLE_CONNECTIONS + 3)]
    for wrapper in wrappers:
        wrapper.ensure_connection()
    raws = [wrapper.connection for wrapper in wrappers]
    for wrapper in wrappers:
        if wrapper.connection is not None:
            wrapper.close()
    kept = [database() for _ in range(IDLE_CONNECTIONS + 3)]
    for wrapper in kept:
        wrapper.ensure_connection()
    reused = [wrapper.connection for wrapper in kept if any(wrapper.connection is raw for raw in raws)]
    assert len(reused) == IDLE_CONNECTIONS
