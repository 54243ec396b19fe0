"""Live events, recorded and sent to each recipient's channel group once the writing unit has committed.

Services name the recipients; consumers only relay what reaches their member's group. Amounts travel as
strings so that no float ever stands in for money.

Every event is first written to the live event log (`accounts.models.LiveEvent`), numbered in commit order: on
SQLite inside the service's unit, just before it commits (the unit holds the write lock from its start, so the
numbers follow commit order, and the events commit or fail with the write); on MongoDB in one small unit of the
log's own after the service's unit committed. Once the unit has committed:

- without `REDIS_URL` (the in-memory channel layer), each server process relays new rows of the log to its own
  sockets (`accounts.relay`): an event written by the worker, or by another process, reaches every open page;
- with `REDIS_URL`, the event goes through channels-redis at once, from a background sender thread, so that a
  request that notifies a thousand members does not wait for the thousand sends.

A failure to send (and, on MongoDB, to record) is logged and never fails the write that caused it.
"""

import hashlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils.module_loading import import_string

from directorate.db import after_commit_batched, before_commit_batched, in_unit, on_commit

logger = logging.getLogger(__name__)

EVENT_MESSAGE_TYPE = "directorate.event"
CLOSE_MESSAGE_TYPE = "directorate.close"
# Without a shared channel layer a close message travels to the other server processes through the live event
# log, as a row of this kind (never shown to anyone: the catch-up of API clients leaves it out).
CLOSE_EVENT = "sockets_closed"


def user_group(user_id):
    """The channel group of one member's sockets (browser and API): events, and closing them all."""
    return f"user.{user_id}"


def shared_layer():
    """Whether the channel layer spans processes (channels-redis, with REDIS_URL)."""
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return "channels_redis" in backend


def publish(recipient_ids, event, data):
    """Send `event` with `data` to each recipient after commit; a failed send never fails the write."""
    recipients = sorted({str(recipient_id) for recipient_id in recipient_ids if recipient_id})
    publish_each(event, [(recipient_id, data) for recipient_id in recipients])


def publish_each(event, items):
    """Send `event` to several recipients after commit, each with their own data: `items` is (recipient_id, data)."""
    items = [(str(recipient_id), data) for recipient_id, data in items if recipient_id]
    if not items:
        return
    if in_unit() and connection.vendor == "sqlite":
        # On SQLite a unit holds the write lock from its start: the events of the unit are written to the log
        # in it, numbered in commit order, and commit or fail with it; they are sent once it commits.
        before_commit_batched(_record_in_unit, (event, items))
    else:
        # The events of one unit are recorded together after it commits, in one small unit of the log's own.
        after_commit_batched(_record_and_send, (event, items))


# Named in settings (LIVE_EVENT_RECORDING, LIVE_EVENT_DELIVERY: `accounts.live`): the project package imports no app
# (docs/architecture.md).


def _record_in_unit(batches):
    import_string(settings.LIVE_EVENT_RECORDING)(batches)


def _record_and_send(batches):
    import_string(settings.LIVE_EVENT_DELIVERY)(batches)


def session_tag(session_key):
    """What a close message names a browser session by: a hash, so that no session key travels between processes."""
    return hashlib.sha256(f"session:{session_key}".encode()).hexdigest()


def close_sockets(user_id, *, session_key=None, token_family=None):
    """After commit, close the member's live sockets: those of one browser session (`session_key`), those of one
    API token family (`token_family`), or, naming neither, all of them (a deactivated member).

    Sent to the member's group, so every socket of that member hears it, in any process, whatever its kind (the
    browser's session socket, an API socket); each closes when the message names its own session or family, or
    names none. Over Redis the message goes through the channel layer; without it, through the live event log,
    which every server process relays to its own sockets (`manage.py serve` runs several).
    """
    message = {
        "type": CLOSE_MESSAGE_TYPE,
        "session": session_tag(session_key) if session_key else None,
        "family": token_family or None,
    }
    if not shared_layer():
        data = {"session": message["session"], "family": message["family"]}
        publish_each(CLOSE_EVENT, [(user_id, data)])
        return

    def send():
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(user_group(user_id), message)

    on_commit(send, robust=True)
