"""Recording live events in the log and handing them to the channel layer.

`record_and_send` runs after the service's unit has committed (`directorate.events.publish`). It writes the
rows of all that unit's events in one atomic unit of their own, numbered after the largest number in the log;
two processes writing at once cannot both take a number (unique constraint, and on SQLite the unit holds the
write lock from its start), and the loser takes the next numbers. So numbers grow in commit order, and a
reader that asks for "after N" misses nothing committed before.

The channel layer message carries the event for every kind of socket: the JSON an API client receives and the
HTML fragment a browser swaps in, rendered once per distinct fragment rather than once per socket.
"""

import asyncio
import atexit
import functools
import logging
import threading
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db import DatabaseError, IntegrityError
from django.db.models import Q
from django.template.loader import render_to_string

from accounts.models import LiveEvent
from directorate import events
from directorate.db import atomic, now, on_commit
from directorate.errors import Conflict
from directorate.events import CLOSE_EVENT, CLOSE_MESSAGE_TYPE, EVENT_MESSAGE_TYPE, user_group
from directorate.layers import send_to_groups

logger = logging.getLogger(__name__)

RECORD_ATTEMPTS = 20
SENDER_DRAIN_TIMEOUT = 10  # seconds a stopping process waits for the Redis sender to finish


def shared_layer():
    """Whether the channel layer spans processes (channels-redis): then events go through it directly."""
    return events.shared_layer()


# Recording -------------------------------------------------------------------------------------------------


FAN_OUT = "*"  # the recipient_id of a row addressed to many members (its data names each of them)
FAN_OUT_FROM = 10  # recipients from which one publish is one row for all of them, not one row each


def record(batches):
    """Write the log rows of each (event, items) batch, in order, numbered in commit order; returns the rows.

    `items` is (recipient_id, data) pairs. Up to FAN_OUT_FROM - 1 distinct recipients get a row each; more (today,
    a broadcast) share one row whose data holds what all of them share and what is each one's own
    (`fan_out_data`): one row, one read and one channel layer message instead of a thousand."""
    for attempt in range(RECORD_ATTEMPTS):
        try:
            with atomic():
                return _write(batches)
        except (IntegrityError, Conflict, DatabaseError):
            if attempt == RECORD_ATTEMPTS - 1:
                raise
    return []  # not reached


def _write(batches):
    """The rows of `batches`, numbered after the largest number in the log and written; inside a unit that either
    holds the write lock (SQLite) or fails on a number taken meanwhile (unique constraint)."""
    batches = [(event, _grouped(event, items)) for event, items in batches]
    last = latest_seq()
    moment = now()
    rows = [
        LiveEvent(seq=last + number, recipient_id=recipient_id, event=event, data=data, at=moment)
        for number, (event, recipient_id, data) in enumerate(
            ((event, *item) for event, items in batches for item in items), start=1
        )
    ]
    LiveEvent.objects.bulk_create(rows)
    return rows


def _grouped(event, items):
    recipients = [recipient_id for recipient_id, _ in items]
    if event != CLOSE_EVENT and len(items) >= FAN_OUT_FROM and len(set(recipients)) == len(recipients):
        return [(FAN_OUT, fan_out_data(items))]
    return items


def fan_out_data(items):
    """One row's data for many recipients: {"shared": what every recipient's data holds alike, "each": {recipient
    id: the rest of theirs}} (a broadcast's notifications differ only by their ids)."""
    first = items[0][1]
    shared = {key: value for key, value in first.items() if all(data.get(key, ...) == value for _, data in items)}
    each = {recipient_id: {k: v for k, v in data.items() if k not in shared} for recipient_id, data in items}
    return {"shared": shared, "each": each}


def latest_seq():
    """The largest number in the log (0 when empty): one read of the unique index's end."""
    return LiveEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


class Row(NamedTuple):
    """One row of the log as the relay and the catch-up read it (no model instance: a broadcast reads thousands)."""

    seq: int
    recipient_id: str
    event: str
    data: dict
    at: datetime

    def addressed(self):
        """(recipient_id, data) for each member the row is for: one, or each of a fan-out row's."""
        if self.recipient_id != FAN_OUT:
            return [(self.recipient_id, self.data)]
        shared = self.data["shared"]
        return [(recipient_id, {**shared, **own}) for recipient_id, own in self.data["each"].items()]


def rows_after(seq, *, limit, recipient_id=None):
    """The log after `seq`, in order: every row as stored (the relay), or one member's events (`recipient_id`,
    the API's catch-up): their own rows and their part of fan-out rows, without the closing of sockets."""
    events = LiveEvent.objects.filter(seq__gt=seq).order_by("seq")
    if recipient_id is None:
        return [Row(*values) for values in events.values_list(*Row._fields)[:limit]]
    events = events.filter(Q(recipient_id=recipient_id) | Q(recipient_id=FAN_OUT)).exclude(event=CLOSE_EVENT)
    found = []
    while len(found) < limit:
        rows = [Row(*values) for values in events.filter(seq__gt=seq).values_list(*Row._fields)[:limit]]
        for row in rows:
            seq = row.seq
            if row.recipient_id != FAN_OUT:
                found.append(row)
            elif recipient_id in row.data["each"]:
                own = {**row.data["shared"], **row.data["each"][recipient_id]}
                found.append(row._replace(recipient_id=recipient_id, data=own))
        if len(rows) < limit:
            break
    return found[:limit]


# Messages --------------------------------------------------------------------------------------------------


class Fragments:
    """The browser's HTML for events, rendered once per distinct fragment (a broadcast's notifications share one)."""

    def __init__(self):
        self.rendered = {}

    def __call__(self, event, data):
        # A notification's fragment only asks the page to fetch its badge: the same for every recipient.
        key = (event,) if event == "notification" else (event, tuple(sorted((k, str(v)) for k, v in data.items())))
        if key not in self.rendered:
            html = render_to_string("includes/live_event.html", {"event": event, "data": data})
            self.rendered[key] = html if html.strip() else ""
        return self.rendered[key]


def message_for(row, fragments):
    """The channel layer message of one log row, and the groups it goes to: ([group], message).

    A row for one member carries its `data` and `html`. A fan-out row is one message to all its members' groups,
    carrying `shared` and `each` as stored, and one `html` when every member's fragment is the same, else
    `html_each` by member; each socket takes its own part (`addressed_to`). Over Redis that is one message per
    server process, not one per member."""
    if row.event == CLOSE_EVENT:  # sockets to close (directorate.events.close_sockets), in every process
        close = {"type": CLOSE_MESSAGE_TYPE, "session": row.data.get("session"), "family": row.data.get("family")}
        return [user_group(row.recipient_id)], close
    message = {"type": EVENT_MESSAGE_TYPE, "event": row.event, "event_id": row.seq, "at": row.at.isoformat()}
    if row.recipient_id != FAN_OUT:
        return [user_group(row.recipient_id)], {**message, "data": row.data, "html": fragments(row.event, row.data)}
    addressed = row.addressed()
    html = {recipient_id: fragments(row.event, data) for recipient_id, data in addressed}
    message.update(shared=row.data["shared"], each=row.data["each"])
    if len(set(html.values())) == 1:
        message["html"] = next(iter(html.values()))
    else:
        message["html_each"] = html
    return [user_group(recipient_id) for recipient_id, _ in addressed], message


def addressed_to(message, member_id):
    """(data, html) of an event message for one member's socket; None when it names others only."""
    if "each" not in message:
        return message["data"], message.get("html") or ""
    own = message["each"].get(str(member_id))
    if own is None:
        return None
    html = message["html"] if "html" in message else message["html_each"].get(str(member_id), "")
    return {**message["shared"], **own}, html or ""


def record_in_unit(batches):
    """Record the events of the unit being written (a list of (event, items)) in it, on SQLite, where the unit holds
    the write lock: no other writer can take a number meanwhile. Send them once it commits."""
    on_commit(functools.partial(send, _write(batches)), robust=True)


def record_and_send(batches):
    """Record the events of one committed unit (a list of (event, items)), then send them."""
    send(record(batches))


def send(rows):
    """Send recorded rows on (Redis), or wake this process's relay, which reads them from the log (in-memory)."""
    if shared_layer():
        fragments = Fragments()
        SENDER.send(
            [message_for(Row(row.seq, row.recipient_id, row.event, row.data, row.at), fragments) for row in rows]
        )
    else:
        from accounts.relay import wake

        wake()


# The Redis sender ------------------------------------------------------------------------------------------


class Sender:
    """A thread with its own event loop that sends messages through channels-redis in the order given.

    The writing request only queues its messages and returns; a stopping process (the worker, a management
    command) drains the queue first, for at most SENDER_DRAIN_TIMEOUT seconds.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.loop = None
        self.queue = None
        self.thread = None
        self.pending = 0
        self.idle = threading.Condition(self.lock)

    def send(self, messages):
        """Queue messages, each ([group, ...], message), to be sent in order."""
        if not messages:
            return
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self._start()
            self.pending += 1
            self.loop.call_soon_threadsafe(self.queue.put_nowait, messages)

    def _start(self):
        started = threading.Event()

        def run():
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.queue = asyncio.Queue()
            started.set()
            self.loop.run_until_complete(self._main())

        self.thread = threading.Thread(target=run, name="live-event-sender", daemon=True)
        self.thread.start()
        started.wait()

    async def _main(self):
        from channels.layers import get_channel_layer

        while True:
            messages = await self.queue.get()
            try:
                layer = get_channel_layer()
                for groups, message in messages:
                    await send_to_groups(layer, groups, message)
            except Exception:
                logger.exception("Could not send %d live events", len(messages))
            finally:
                with self.lock:
                    self.pending -= 1
                    if not self.pending:
                        self.idle.notify_all()

    def drain(self, timeout=SENDER_DRAIN_TIMEOUT):
        """Wait until everything queued has been sent (or `timeout` seconds); True if it was."""
        with self.lock:
            return self.idle.wait_for(lambda: not self.pending, timeout=timeout)


SENDER = Sender()
atexit.register(SENDER.drain)


# Retention -------------------------------------------------------------------------------------------------

RETENTION = timedelta(days=7)


def prune(*, older_than=RETENTION):
    """Delete log rows older than `older_than` (the worker does, each tick); returns how many went.

    The newest row always stays, so that numbering never restarts below a number a client has seen."""
    newest = latest_seq()
    return LiveEvent.objects.filter(at__lt=now() - older_than, seq__lt=newest).delete()[0]
