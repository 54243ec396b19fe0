"""ASGI entry point, served by daphne: `daphne directorate.asgi:application`."""

import gc
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "directorate.settings")

from directorate.config import ConfigError

try:
    from directorate.handler import get_asgi_application

    django_application = get_asgi_application()

    from channels.routing import ProtocolTypeRouter, URLRouter

    from directorate.gate import RequestBodyLimit, StaticFiles
    from directorate.routing import websocket_urlpatterns
except ConfigError as error:
    sys.exit(f"configuration error: {error}")

application = ProtocolTypeRouter(
    {
        # The app is local-hosted: it serves its own static files (a reverse proxy may take
        # over /static/ when it grows, see docs/operations.md). An over-long body is refused before it is read.
        "http": RequestBodyLimit(StaticFiles(django_application)),
        # Browsers sign in with the session cookie from the app's own origin, API clients with a token
        # (directorate/routing.py).
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

# What is loaded by now (Django, the apps, their modules: about 100,000 objects) lives as long as the process.
# Frozen, it is left out of the garbage collector's full collections, which otherwise walked it again every
# time, adding a pause to whatever the server was doing: with 1,000 open sockets a full collection took 130 to
# 425 ms on a loaded 2-core machine, 80 to 90 ms with this (benchmarks/README.md).
gc.freeze()
