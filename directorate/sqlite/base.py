"""Django's SQLite backend, with the connections a request closes kept open for the next one.

Under ASGI every request runs its database work in a fresh thread and context, so Django opens a new
SQLite connection for each request and closes it at the end (persistent connections cannot carry over).
Opening one reads the schema, and each statement is then compiled again, as the connection's statement
cache starts empty: benchmarks/README.md has what that costs every signed-in page. Closed connections
wait here instead, one per thread at a time, and the next request takes one. A connection is kept only
when it is idle (no transaction open), and only for the file it was opened on: a database deleted and
created again under the same name (as tests do) never receives a connection to the old one.
"""

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

    def get_new_connection(self, conn_params):
        idle = self._idle_connections()
        if idle is not None:
            try:
                return idle.get_nowait()
            except queue.Empty:
                pass
        return super().get_new_connection(conn_params)

    def _close(self):
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
