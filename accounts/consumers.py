"""The live connection of a signed-in browser.

Each connection joins its member's own group; services publish to that group after
commit (`directorate.events`). The consumer only relays: it turns each event into the
HTML fragments htmx's WebSocket extension swaps into the page, and decides nothing.
"""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from directorate.events import user_group

UNAUTHENTICATED = 4401


class LiveUpdatesConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.group = user_group(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """The browser sends nothing that matters; whatever arrives is ignored."""

    async def directorate_event(self, message):
        html = render_to_string(
            "includes/live_event.html",
            {"event": message["event"], "data": message["data"], "member": self.scope["user"]},
        )
        if html.strip():
            await self.send(text_data=html)
