"""The relay of a server process without Redis: new rows of the live event log, to this process's sockets.

It runs as a task on the server's event loop, started by the first socket that connects. It reads the log
after the last number it relayed: at once when this process has just recorded an event (`wake`), and every
POLL_INTERVAL otherwise, which is how events recorded by other processes (the worker: Nyx's decisions, the
payroll) arrive, and the closing of a member's sockets from another process. Each row goes to its recipients'
groups on the in-memory channel layer, so the consumers and everything that addresses a member's sockets by
group work as they do over Redis.

Reads run on one thread of the relay's own, with its own database connection, so that they never queue
behind the requests' work.
"""

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection

from accounts import live as delivery
from directorate.layers import send_to_groups

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.1  # seconds between reads of the log when nothing woke the relay
BATCH = 2000  # rows read at once
ERROR_PAUSE = 1.0  # seconds to wait after a failed read

_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-relay")
_lock = threading.Lock()
_relay = None


def _read(function, *args, **kwargs):
    """`function` on the relay's thread, which keeps its database connection between reads (it reads ten times
    a second); a failed read closes it, so that the next read connects again."""

    def run():
        try:
            return function(*args, **kwargs)
        except Exception:
            connection.close()
            raise

    return sync_to_async(run, thread_sensitive=False, executor=_EXECUTOR)()


class Relay:
    def __init__(self, loop, start_after):
        self.loop = loop
        self.last = start_after
        self.woken = asyncio.Event()
        self.task = loop.create_task(self.run())

    def running_on(self, loop):
        return self.loop is loop and not self.task.done() and not loop.is_closed()

    def wake(self):
        try:
            self.loop.call_soon_threadsafe(self.woken.set)
        except RuntimeError:  # the loop has closed
            pass

    async def run(self):
        while True:
            try:
                await asyncio.wait_for(self.woken.wait(), POLL_INTERVAL)
            except TimeoutError:
                pass
            self.woken.clear()
            try:
                await self.relay_new()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("The live event relay failed; it tries again")
                await asyncio.sleep(ERROR_PAUSE)

    async def relay_new(self):
        layer = get_channel_layer()
        while True:
            rows = await _read(delivery.rows_after, self.last, limit=BATCH)
            if not rows:
                return
            fragments = delivery.Fragments()
            for row in rows:
                # A row for many members (a broadcast) is one message to all their groups (accounts.live).
                groups, message = delivery.message_for(row, fragments)
                await send_to_groups(layer, groups, message)
                self.last = row.seq
            if len(rows) < BATCH:
                return


async def ensure_relay():
    """Start this process's relay on the running loop unless it runs already (a no-op over Redis)."""
    global _relay
    if delivery.shared_layer():
        return
    loop = asyncio.get_running_loop()
    if _relay is not None and _relay.running_on(loop):
        return
    start_after = await _read(delivery.latest_seq)
    with _lock:
        if _relay is None or not _relay.running_on(loop):
            if _relay is not None and not _relay.loop.is_closed():
                _relay.loop.call_soon_threadsafe(_relay.task.cancel)
            _relay = Relay(loop, start_after)


def wake():
    """Ask this process's relay, if it runs, to read the log now (called from any thread)."""
    relay = _relay
    if relay is not None:
        relay.wake()
