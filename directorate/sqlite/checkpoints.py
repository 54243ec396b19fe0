"""WAL checkpoints in a thread of the server process, so that no request waits for one.

In WAL mode SQLite copies the log back into the database file (a checkpoint) as soon as a commit leaves the log
longer than 1,000 pages, and the connection that committed does the copying, and syncs the file, before its
request can answer. On a large database that was the slowest tenth of the approvals (benchmarks/README.md).
A server process (`directorate.server_process`) calls `start()` instead: a thread checkpoints every INTERVAL
seconds, passively (it never waits for a reader or a writer and never blocks one), and the process's own
connections leave checkpoints to it. They keep one at FALLBACK_PAGES, a bound on the log should the thread
ever fall that far behind. Once a checkpoint has copied the whole log, the next writer starts the log again
from its beginning, so the log stays about as long as what is written between two checkpoints.

Other processes (the worker, management commands, the tests) checkpoint as SQLite does by default.
"""

import logging
import sqlite3
import threading

from django.db import connections

INTERVAL = 0.25  # seconds between checkpoints
FALLBACK_PAGES = 10_000  # log pages (4 KiB each) after which a committing connection checkpoints after all

logger = logging.getLogger(__name__)


class Checkpoints(threading.Thread):
    """Checkpoints the database file at `path` every `interval` seconds until `stop()`."""

    def __init__(self, path: str, interval: float = INTERVAL):
        super().__init__(name="wal-checkpoints", daemon=True)
        self.path, self.interval = path, interval
        self.stopping = threading.Event()
        self.passes = 0  # checkpoints run so far

    def run(self) -> None:
        database = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            while not self.stopping.wait(self.interval):
                try:
                    database.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.passes += 1
                except sqlite3.Error:
                    logger.exception("The WAL checkpoint of %s failed; trying again.", self.path)
        finally:
            database.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join()


def start(alias: str = "default") -> Checkpoints | None:
    """Checkpoint the SQLite database of `alias` in a thread from now on, and leave checkpoints to it in the
    connections this process opens after this call; nothing for another database."""
    connection = connections[alias]
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return None
    type(connection).autocheckpoint_pages = FALLBACK_PAGES
    thread = Checkpoints(str(connection.settings_dict["NAME"]))
    thread.start()
    return thread
