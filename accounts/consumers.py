"""The live connection of a signed-in browser.

Each connection joins its member's own group; services publish to that group after
commit (`directorate.events`). The consumer only relays: it turns each event into the
HTML fragments htmx's WebSocket extension swaps into the page, and decides nothing.
"""

import asyncio
import json
from collections import deque
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from directorate.events import EVENT_MESSAGE_TYPE, user_group
from accounts.relay import ensure_relay

logger = logging.getLogger(__name__)

UNAUTHENTICATED = 4401


class LiveUpdatesConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        """Run the connection. If it fails (the channel layer stalls or goes away, as Redis may), leave the
        member's group before failing: daphne then logs the error and closes with 1011, after which htmx's
        WebSocket extension reconnects with backoff (it does after 1006, 1011, 1012 and 1013).

        Leaving the group matters with Redis: otherwise the dead channel stays in the group for a day, and
        each event for the member is still carried to this process and buffered for a receiver that is gone."""
        try:
            await super().__call__(scope, receive, send)
        except Exception:
            await self._leave_group()
            raise

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        await ensure_relay()
        self.group = user_group(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self._leave_group()

    async def _leave_group(self):
        if hasattr(self, "group"):
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except Exception:  # noqa: BLE001 - a broken layer forgets the membership when it expires
                logger.warning("Could not leave the live group %s.", self.group, exc_info=True)
            del self.group

    async def receive(self, text_data=None, bytes_data=None):
        """The browser sends nothing that matters; whatever arrives is ignored."""

    async def dispatch(self, message):
        if message["type"] == EVENT_MESSAGE_TYPE:
            # Relaying an event reads no database, so it skips the per-message check of database
            # connections (a thread hop each) that the base class makes before every handler.
            await self.directorate_event(message)
        else:
            await super().dispatch(message)

    async def directorate_event(self, message):
        # The fragment was rendered once for every socket that receives it (accounts.live).
        if message.get("html"):
            await self.send(text_data=message["html"])


AUTH_DEADLINE = 5  # seconds an API socket has, once open, to send its token
CATCH_UP_LIMIT = 1000  # events sent at most in answer to one "since"
RECENT_IDS = 2 * CATCH_UP_LIMIT  # ids of the latest events sent, remembered so that none is sent twice


class ApiEventsConsumer(LiveUpdatesConsumer):
    """The live connection of an API client: spec 7's events as JSON, authenticated by a JWT access token.

    The socket opens unauthenticated; its first message must be `{"type": "auth", "token": "<access token>"}`
    within AUTH_DEADLINE seconds (the token never travels in the URL, which servers and proxies log). A bad,
    expired or revoked token, or silence, closes it with 4401. Once signed in it joins its member's group, the
    same group as the member's browsers (so whatever closes a member's sockets closes this one too), and it is
    closed with 4401 when the token expires. `"since": <event id>` in the auth message, or a later
    `{"type": "catch_up", "since": <event id>}`, sends the member's events after that id first (docs/api.md).
    """

    async def connect(self):
        await ensure_relay()
        self.member_id = None
        self.last_sent = 0
        self.recent_ids = deque(maxlen=RECENT_IDS)
        self.sent_ids = set()
        await self.accept()
        self.timers = [asyncio.get_running_loop().call_later(AUTH_DEADLINE, self._expire, "No token was sent in time.")]

    def _expire(self, reason):
        asyncio.ensure_future(self._refuse(reason))

    async def _refuse(self, reason):
        try:
            await self.send(text_data=json.dumps({"type": "error", "error": reason}))
            await self.close(code=UNAUTHENTICATED)
        except Exception:  # noqa: BLE001 - the socket has gone already
            pass

    async def disconnect(self, code):
        for timer in getattr(self, "timers", []):
            timer.cancel()
        await super().disconnect(code)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            request = json.loads(text_data or "")
        except ValueError:
            request = None
        if not isinstance(request, dict):
            await self._answer_error("Send JSON objects.")
            return
        kind = request.get("type")
        if self.member_id is None:
            if kind != "auth":
                await self._refuse("Send {\"type\": \"auth\", \"token\": ...} first.")
                return
            await self._authenticate(request)
        elif kind == "catch_up":
            await self._catch_up(request.get("since"))
        elif kind == "auth":
            await self._answer_error("This socket is signed in already.")
        else:
            await self._answer_error("Unknown message type.")

    async def _answer_error(self, text):
        await self.send(text_data=json.dumps({"type": "error", "error": text}))

    async def _authenticate(self, request):
        from accounts import tokens

        token = request.get("token")
        if not isinstance(token, str) or not token:
            await self._refuse("The token is missing.")
            return
        try:
            member, expires_at = await database_sync_to_async(_member_for_token)(token)
        except tokens.TokenRefused as refusal:
            await self._refuse(str(refusal))
            return
        for timer in self.timers:
            timer.cancel()
        self.member_id = member.id
        self.group = user_group(member.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.timers = [
            asyncio.get_running_loop().call_later(
                max(0.0, expires_at - time.time()), self._expire, "The token has expired."
            )
        ]
        last_event_id = await database_sync_to_async(_latest_event_id)()
        await self.send(text_data=json.dumps({"type": "ready", "user_id": member.id, "last_event_id": last_event_id}))
        if request.get("since") is not None:
            await self._catch_up(request.get("since"))

    async def _catch_up(self, since):
        if isinstance(since, bool) or not isinstance(since, int) or since < 0:
            await self._answer_error("since must be an event id (a whole number, 0 or more).")
            return
        rows = await database_sync_to_async(_events_for)(self.member_id, since)
        for row in rows:
            await self._send_event(row.event, row.data, row.seq, row.at.isoformat())
        await self.send(text_data=json.dumps({"type": "caught_up", "last_event_id": self.last_sent}))

    async def directorate_event(self, message):
        if self.member_id is None:
            return
        await self._send_event(message["event"], message["data"], message.get("event_id"), message.get("at"))

    async def _send_event(self, event, data, event_id, at):
        if event_id is not None:
            # Sent already, by a catch-up that overlapped the live events? (Ids, not order: over Redis, events
            # written by two processes may arrive in either order.)
            if event_id in self.sent_ids:
                return
            if len(self.recent_ids) == self.recent_ids.maxlen:
                self.sent_ids.discard(self.recent_ids[0])
            self.recent_ids.append(event_id)
            self.sent_ids.add(event_id)
            self.last_sent = max(self.last_sent, event_id)
        await self.send(text_data=json.dumps({"type": "event", "event": event, "event_id": event_id, "at": at, "data": data}))


def _member_for_token(token):
    """The member of a valid access token and the moment (epoch seconds) it expires; TokenRefused otherwise."""
    from accounts import tokens

    member = tokens.user_for_access_token(token)
    expires_at = tokens.decode(token, expected_type=tokens.ACCESS)["exp"]
    return member, expires_at


def _latest_event_id():
    from accounts.live import latest_seq

    return latest_seq()


def _events_for(member_id, since):
    from accounts.live import rows_after

    return rows_after(since, limit=CATCH_UP_LIMIT, recipient_id=member_id)
