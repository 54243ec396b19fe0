"""The live connection of a signed-in browser.

Each connection joins its member's own group; services publish to that group after
commit (`directorate.events`). The consumer only relays: it turns each event into the
HTML fragments htmx's WebSocket extension swaps into the page, and decides nothing.

A socket lives no longer than what signed it in (docs/rules.md section 14):
- sign-out and deactivation send a close message to the member's group (`directorate.events.close_sockets`),
  which closes the sockets of that session (sign-out) or all of them (deactivation) at once, in any process;
- the session's expiry closes the socket when it comes, even if nothing is relayed;
- before relaying, a socket whose last check is older than `LIVE_RECHECK_SECONDS` checks again that its session
  still exists and its member is still active (whatever ended them), and closes if not;
- a member holds at most `LIVE_SOCKETS_PER_MEMBER` sockets per server process; more are refused.
"""

import asyncio
import logging
import time
from collections import Counter

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.sessions.models import Session
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from directorate.events import CLOSE_MESSAGE_TYPE, EVENT_MESSAGE_TYPE, session_tag, user_group

logger = logging.getLogger(__name__)

UNAUTHENTICATED = 4401
TOO_MANY_SOCKETS = 4429
SESSION_ENDED = 4401  # the same as never signed in: htmx's extension does not reconnect after it

OPEN_SOCKETS = Counter()  # member id -> sockets open in this process


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
        if OPEN_SOCKETS[user.id] >= settings.LIVE_SOCKETS_PER_MEMBER:
            await self.close(code=TOO_MANY_SOCKETS)
            return
        OPEN_SOCKETS[user.id] += 1
        self.member_id = user.id
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.session_tag = session_tag(self.session_key) if self.session_key else None
        self.checked_at = time.monotonic()
        self.group = user_group(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        if self.session_key:
            seconds = await database_sync_to_async(session_seconds_left)(self.session_key)
            self.expiry_timer = asyncio.get_running_loop().call_later(
                seconds, lambda: asyncio.ensure_future(self.end("the session expired"))
            )

    async def disconnect(self, code):
        timer = getattr(self, "expiry_timer", None)
        if timer is not None:
            timer.cancel()
        if hasattr(self, "member_id"):
            OPEN_SOCKETS[self.member_id] -= 1
            if OPEN_SOCKETS[self.member_id] <= 0:
                del OPEN_SOCKETS[self.member_id]
            del self.member_id
        await self._leave_group()

    async def _leave_group(self):
        if hasattr(self, "group"):
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except Exception:  # noqa: BLE001 - a broken layer forgets the membership when it expires
                logger.warning("Could not leave the live group %s.", self.group, exc_info=True)
            del self.group

    async def end(self, reason):
        """Close for good: the session or the member behind this socket has ended."""
        if hasattr(self, "group"):
            logger.info("Closing a live socket: %s.", reason)
            await self._leave_group()
            await self.close(code=SESSION_ENDED)

    async def receive(self, text_data=None, bytes_data=None):
        """The browser sends nothing that matters; whatever arrives is ignored."""

    async def dispatch(self, message):
        if message["type"] == EVENT_MESSAGE_TYPE:
            # Relaying an event reads no database (but for the periodic check below), so it skips the per-message
            # check of database connections (a thread hop each) that the base class makes before every handler.
            await self.directorate_event(message)
        elif message["type"] == CLOSE_MESSAGE_TYPE:
            await self.directorate_close(message)
        else:
            await super().dispatch(message)

    async def directorate_close(self, message):
        if message.get("family"):
            return  # an API token family: not a browser session's socket
        if message.get("session") in (None, self.session_tag):
            await self.end("signed out or deactivated")

    async def directorate_event(self, message):
        if not hasattr(self, "group"):
            return
        if time.monotonic() - self.checked_at >= settings.LIVE_RECHECK_SECONDS:
            if not await self.still_signed_in():
                await self.end("the session or the member ended")
                return
            self.checked_at = time.monotonic()
        html = render_to_string(
            "includes/live_event.html",
            {"event": message["event"], "data": message["data"]},
        )
        if html.strip():
            await self.send(text_data=html)

    @database_sync_to_async
    def still_signed_in(self):
        if not self.session_key or session_seconds_left(self.session_key) <= 0:
            return False
        return User.objects.filter(id=self.member_id, is_active=True).exists()


def session_seconds_left(session_key):
    """Seconds until the stored session ends (0 when it is gone): sessions are kept in the database (cached_db)."""
    expires = Session.objects.filter(session_key=session_key).values_list("expire_date", flat=True).first()
    return 0 if expires is None else max(0, (expires - timezone.now()).total_seconds())
