"""The live connection of a signed-in browser.

Each connection joins its member's own group; services publish to that group after
commit (`directorate.events`). The consumer only relays: it turns each event into the
HTML fragments htmx's WebSocket extension swaps into the page, and decides nothing.
"""

import logging

from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from directorate.events import EVENT_MESSAGE_TYPE, user_group

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
        html = render_to_string(
            "includes/live_event.html",
            {"event": message["event"], "data": message["data"]},
        )
        if html.strip():
            await self.send(text_data=html)
