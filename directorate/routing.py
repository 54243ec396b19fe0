from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from accounts.consumers import ApiEventsConsumer, LiveUpdatesConsumer

websocket_urlpatterns = [
    # Browsers sign in with the session cookie; other origins are refused (no cross-site sockets).
    path("ws/events/", AllowedHostsOriginValidator(AuthMiddlewareStack(LiveUpdatesConsumer.as_asgi()))),
    # API clients sign in with a token sent as the first message, which no other site holds: any origin.
    path("ws/api/events/", ApiEventsConsumer.as_asgi()),
]
