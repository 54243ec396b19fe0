"""Live events, sent to each recipient's channel group once the writing unit has committed.

Services name the recipients; consumers only relay what reaches their user's group.
Amounts travel as strings so that no float ever stands in for money.
"""

import hashlib

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from directorate.db import on_commit

EVENT_MESSAGE_TYPE = "directorate.event"
CLOSE_MESSAGE_TYPE = "directorate.close"


def user_group(user_id):
    return f"user.{user_id}"


def publish(recipient_ids, event, data):
    """Send `event` with `data` to each recipient after commit; a failed send never fails the write."""
    recipients = sorted({str(recipient_id) for recipient_id in recipient_ids if recipient_id})
    if not recipients:
        return
    message = {"type": EVENT_MESSAGE_TYPE, "event": event, "data": data}

    def send():
        layer = get_channel_layer()
        if layer is None:
            return
        for recipient_id in recipients:
            async_to_sync(layer.group_send)(user_group(recipient_id), message)

    on_commit(send, robust=True)


def session_tag(session_key):
    """What a close message names a browser session by: a hash, so that no session key travels between processes."""
    return hashlib.sha256(f"session:{session_key}".encode()).hexdigest()


def close_sockets(user_id, *, session_key=None, token_family=None):
    """After commit, close the member's live sockets: those of one browser session (`session_key`), those of one
    API token family (`token_family`), or, naming neither, all of them (a deactivated member).

    Sent to the member's group, so every socket of that member hears it, in any process, whatever its kind (the
    browser's session socket, an API socket); each closes when the message names its own session or family, or
    names none.
    """
    message = {
        "type": CLOSE_MESSAGE_TYPE,
        "session": session_tag(session_key) if session_key else None,
        "family": token_family or None,
    }

    def send():
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(user_group(user_id), message)

    on_commit(send, robust=True)
