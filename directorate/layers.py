"""Channel layers: the in-memory layer of a server process without Redis, and sending one message to many groups.

channels' InMemoryChannelLayer looks through every channel's queue and every group's members for expired
entries on each `receive`. Every socket receives again after each message, so one event to 1,000 sockets
made about 1,000 x 2,000 checks: the time to reach the last socket grew with the square of the sockets.
Messages expire after a minute and group memberships after a day, so checking once a second is as good.

`send_to_groups` sends one message to every channel of several groups (a broadcast's thousand members), each
channel once: on the in-memory layer straight into the channels' queues, without a task or a copy per channel;
over channels-redis with one read of the groups' members and one script call per Redis host, so that each server
process receives one message for all its sockets instead of one per member.
"""

import asyncio
import logging
import time

from channels.layers import InMemoryChannelLayer

logger = logging.getLogger(__name__)

CLEAN_INTERVAL = 1.0  # seconds
YIELD_EVERY = 100  # channels given a message before the in-memory layer lets the event loop run other work


class AmortisedInMemoryChannelLayer(InMemoryChannelLayer):
    _cleaned_at = 0.0

    def _clean_expired(self):
        moment = time.monotonic()
        if moment - self._cleaned_at < CLEAN_INTERVAL:
            return
        self._cleaned_at = moment
        super()._clean_expired()

    async def send_to_groups(self, groups, message):
        """Put `message` on every channel of `groups`, each channel once (no task per channel).

        The message is shared, not copied: receivers must not change it (ours only read), as over Redis, where
        a process hands one received message to every local channel it names. A full channel misses it, as
        with `group_send`. Every YIELD_EVERY channels the loop runs what else is ready (the sockets already
        given the message, and the broadcaster's own HTTP response, which would otherwise wait behind them)."""
        self._clean_expired()
        channels = {}
        for group in groups:
            channels.update(self.groups.get(group, {}))
        expires = time.time() + self.expiry
        for number, channel in enumerate(channels, start=1):
            if number % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
            try:
                queue.put_nowait((expires, message))
            except asyncio.QueueFull:
                pass


async def send_to_groups(layer, groups, message):
    """Send `message` to every channel of `groups`, each channel once (see the module's docstring)."""
    groups = list(dict.fromkeys(groups))
    if isinstance(layer, AmortisedInMemoryChannelLayer):
        await layer.send_to_groups(groups, message)
    elif len(groups) > 1 and type(layer).__module__ == "channels_redis.core":
        await _redis_send_to_groups(layer, groups, message)
    else:
        for group in groups:
            await layer.group_send(group, message)


async def _redis_send_to_groups(layer, groups, message):
    """channels-redis's `group_send` for many groups at once: its steps (drop expired members, read the members,
    one message per server process naming its channels, a script that adds it below each channel's capacity),
    with one round trip per step and host instead of four per group. Built on the layer's own helpers
    (channels-redis 4.3, pinned in requirements.txt)."""
    by_host = {}
    for group in groups:
        by_host.setdefault(layer.consistent_hash(group), []).append(group)
    expired_before = int(time.time()) - layer.group_expiry
    channel_names = {}
    for index, host_groups in by_host.items():
        pipe = layer.connection(index).pipeline(transaction=False)
        for group in host_groups:
            key = layer._group_key(group)
            pipe.zremrangebyscore(key, min=0, max=expired_before)
            pipe.zrange(key, 0, -1)
        answers = await pipe.execute()
        for members in answers[1::2]:
            channel_names.update((name.decode("utf8"), None) for name in members)
    if not channel_names:
        return
    keys_by_host, message_for_key, capacity_for_key = layer._map_channel_keys_to_connection(
        list(channel_names), message
    )
    for index, keys in keys_by_host.items():
        connection = layer.connection(index)
        pipe = connection.pipeline(transaction=False)
        for key in keys:
            pipe.zremrangebyscore(key, min=0, max=int(time.time()) - int(layer.expiry))
        await pipe.execute()
        arguments = [message_for_key[key] for key in keys] + [capacity_for_key[key] for key in keys]
        over_capacity = await connection.eval(
            _GROUP_SEND_SCRIPT, len(keys), *keys, *arguments, time.time(), layer.expiry
        )
        if over_capacity:  # as channels-redis's group_send: those processes are too far behind to take more
            logger.warning("%s of %s server processes' channels were full for a live event", over_capacity, len(keys))


# channels-redis's own group_send script: add the message to each key still below its capacity.
_GROUP_SEND_SCRIPT = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""
