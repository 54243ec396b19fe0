"""Django's SQLite backend, with the connections a request closes kept open for the next one.

Under ASGI every request runs its database work in a fresh thread and context, so Django opens a new
SQLite connection for each request and closes it at the end (persistent connections cannot carry over).
Opening one reads the schema, and each statement is then compiled again, as the connection's statement
cache starts empty: benchmarks/README.md has what that costs every signed-in page. Closed connections
wait here instead, one per thread at a time, and the next request takes one. A connection is kept only
when it is idle (no transaction open), and only for the file it was opened on: a database deleted and
created again under the same name (as tests do) never receives a connection to the old one.

Writers also queue for a lock file beside the database (`<database>.writers`, `flock`) before they begin their
immediate transaction. SQLite's own wait for its write lock is a series of sleeps (1 ms growing to 100 ms):
with 32 clients approving at once, in two server processes, the lock was often free while every writer slept,
and most waits ran into the longer sleeps. Waiting in `flock` wakes the next writer as soon as the lock is
released, in whichever process or thread it waits. The lock is released when the transaction commits or rolls
back, and by the kernel when its process dies. Writes outside a transaction still wait SQLite's way.
"""

import fcntl
import os
import queue

from django.db.backends.sqlite3 import base

IDLE_CONNECTIONS = 8  # per database file; more concurrent requests simply open more, and close them

_idle = {}  # (path, inode) -> connections waiting for the next request, newest first


class DatabaseWrapper(base.DatabaseWrapper):
    def _idle_connections(self):
        if self.is_in_memory_db():
            return None
        path = str(self.settings_dict["NAME"])
        try:
            inode = os.stat(path).st_ino
        except OSError:
            return None
        return _idle.setdefault((path, inode), queue.LifoQueue(maxsize=IDLE_CONNECTIONS))

    _writers_lock = None  # the open lock file while this connection's transaction holds it
    autocheckpoint_pages = None  # set by directorate.sqlite.checkpoints.start(): SQLite's own default until then

    def _start_transaction_under_autocommit(self):
        if self.transaction_mode in ("IMMEDIATE", "EXCLUSIVE") and not self.is_in_memory_db():
            self._take_writers_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._release_writers_lock()
            raise

    def _take_writers_lock(self):
        self._release_writers_lock()
        descriptor = os.open(f"{self.settings_dict['NAME']}.writers", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except BaseException:
            os.close(descriptor)
            raise
        self._writers_lock = descriptor

    def _release_writers_lock(self):
        descriptor, self._writers_lock = self._writers_lock, None
        if descriptor is not None:
            os.close(descriptor)  # releases the flock

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._release_writers_lock()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._release_writers_lock()

    def get_new_connection(self, conn_params):
        idle = self._idle_connections()
        if idle is not None:
            try:
                return idle.get_nowait()
            except queue.Empty:
                pass
        connection = super().get_new_connection(conn_params)
        if self.autocheckpoint_pages is not None:
            connection.execute(f"PRAGMA wal_autocheckpoint={int(self.autocheckpoint_pages)}")
        return connection

    def _close(self):
        self._release_writers_lock()
        idle = self._idle_connections()
        if idle is None or self.connection is None:
            return super()._close()
        with self.wrap_database_errors:
            if self.connection.in_transaction:
                self.connection.rollback()
        try:
            idle.put_nowait(self.connection)
        except queue.Full:
            super()._close()
