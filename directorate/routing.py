from django.urls import path

from accounts.consumers import LiveUpdatesConsumer

websocket_urlpatterns = [
    path("ws/events/", LiveUpdatesConsumer.as_asgi()),
]
