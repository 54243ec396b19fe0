"""directorate.sqlite: the connections a request closes are kept open for the next request, safely; a server
process's WAL checkpoints run in a thread of their own."""

import os
import sqlite3
import threading
import time

import pytest
from django.db import connections

from directorate.sqlite import checkpoints
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


def autocheckpoint(wrapper):
    with wrapper.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return cursor.fetchone()[0]


def test_a_server_process_connections_leave_checkpoints_to_its_thread(database, monkeypatch):
    opened_before = database()
    opened_before.ensure_connection()  # the idle connection, opened before the process started its thread
    monkeypatch.setattr(DatabaseWrapper, "autocheckpoint_pages", checkpoints.FALLBACK_PAGES)
    opened_after = database()
    assert autocheckpoint(opened_after) == checkpoints.FALLBACK_PAGES
    assert autocheckpoint(opened_before) == 1000  # SQLite's own


def test_the_checkpoint_thread_keeps_the_log_as_short_as_one_write(tmp_path):
    path = tmp_path / "log.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as a server process's connections: no checkpoint of its own
    writer.execute("CREATE TABLE entry (body BLOB)")
    one_write = 2_000_000  # bytes, about 500 pages

    def write_and_measure():
        writer.execute("INSERT INTO entry VALUES (randomblob(?))", (one_write,))
        return os.path.getsize(f"{path}-wal")

    grown = [write_and_measure() for _ in range(4)]
    assert grown[-1] > 4 * one_write  # nothing checkpoints: the log holds every write

    thread = checkpoints.Checkpoints(str(path), interval=0.01)
    thread.start()
    try:
        sizes = []
        for _ in range(4):
            seen = thread.passes
            deadline = time.monotonic() + 10
            while thread.passes < seen + 2 and time.monotonic() < deadline:  # a whole pass after the last write
                time.sleep(0.01)
            sizes.append(write_and_measure())
    finally:
        thread.stop()
        writer.close()
    assert thread.passes >= 8
    # The log was copied back each time, so each write started it again from the beginning: its file
    # never grew past what it held before.
    assert sizes == [grown[-1]] * 4
    assert sqlite3.connect(path).execute("SELECT count(*) FROM entry").fetchone() == (8,)
