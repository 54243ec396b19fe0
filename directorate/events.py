"""Live events, sent to each recipient's channel group once the writing unit has committed.

Services name the recipients; consumers only relay what reaches their user's group.
Amounts travel as strings so that no float ever stands in for money.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from directorate.db import on_commit

EVENT_MESSAGE_TYPE = "directorate.event"


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
