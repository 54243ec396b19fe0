"""The in-memory channel layer of a server process without Redis, with expiry cleaned once a second.

channels' InMemoryChannelLayer looks through every channel's queue and every group's members for expired
entries on each `receive`. Every socket receives again after each message, so one event to 1,000 sockets
made about 1,000 x 2,000 checks: the time to reach the last socket grew with the square of the sockets.
Messages expire after a minute and group memberships after a day, so checking once a second is as good.
"""

import time

from channels.layers import InMemoryChannelLayer

CLEAN_INTERVAL = 1.0  # seconds


class AmortisedInMemoryChannelLayer(InMemoryChannelLayer):
    _cleaned_at = 0.0

    def _clean_expired(self):
        moment = time.monotonic()
        if moment - self._cleaned_at < CLEAN_INTERVAL:
            return
        self._cleaned_at = moment
        super()._clean_expired()
