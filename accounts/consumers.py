"""The live connections of a signed-in browser (`LiveUpdatesConsumer`) and of an API client (`ApiEventsConsumer`).

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
import json
import logging
import time
import weakref
from collections import Counter, deque

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.live import addressed_to
from accounts.models import User
from accounts.relay import ensure_relay
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
        await ensure_relay()  # without Redis, this process's relay of the live event log (accounts/relay.py)
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
            except Exception:  # a broken layer forgets the membership when it expires
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
        # The fragment was rendered once for every socket that receives it (accounts.live).
        addressed = addressed_to(message, self.member_id)
        if addressed is not None and addressed[1]:
            await self.send(text_data=addressed[1])

    async def still_signed_in(self):
        if not self.session_key:
            return False
        return await RECHECKS.stands(SESSION, self.session_key, self.member_id)


SESSION, FAMILY = "session", "token family"
RECHECK_CHUNK = 500  # keys per query


class Rechecks:
    """The periodic checks of sockets (is the session, or the API token family, still standing, and the member
    still active?), answered for many sockets at once.

    A broadcast reaches a thousand sockets at the same moment, and those idle for more than LIVE_RECHECK_SECONDS
    all check before relaying: one at a time, that was two queries and a thread hop each, seconds for the last
    socket. Here the checks asked while one read runs wait for the next, which answers all of them with one query
    per kind (chunked). One per event loop (each test runs its own loop)."""

    def __init__(self):
        self.waiting = {}  # (kind, key, member_id) -> futures
        self.reading = False

    async def stands(self, kind, key, member_id):
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault((kind, key, str(member_id)), []).append(future)
        if not self.reading:
            self.reading = True
            asyncio.ensure_future(self._answer())
        return await future

    async def _answer(self):
        try:
            while self.waiting:
                await asyncio.sleep(0)  # the other sockets woken by the same event ask first
                batch, self.waiting = self.waiting, {}
                try:
                    standing = await database_sync_to_async(standing_of)(list(batch))
                except Exception as error:
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    continue
                for request, futures in batch.items():
                    for future in futures:
                        if not future.done():
                            future.set_result(request in standing)
        finally:
            self.reading = False


class _RechecksByLoop:
    def __init__(self):
        self.by_loop = weakref.WeakKeyDictionary()

    def stands(self, kind, key, member_id):
        loop = asyncio.get_running_loop()
        if loop not in self.by_loop:
            self.by_loop[loop] = Rechecks()
        return self.by_loop[loop].stands(kind, key, member_id)


RECHECKS = _RechecksByLoop()


def standing_of(requests):
    """Of (kind, key, member_id) requests, those that still stand: the session unexpired (SESSION) or the token
    family unrevoked (FAMILY), and the member active. A few queries, whatever the number of requests."""
    from accounts.models import RefreshToken

    def chunks(values):
        values = sorted(set(values))
        return [values[start : start + RECHECK_CHUNK] for start in range(0, len(values), RECHECK_CHUNK)]

    active = set()
    for ids in chunks(member_id for _, _, member_id in requests):
        active.update(str(pk) for pk in User.objects.filter(id__in=ids, is_active=True).values_list("id", flat=True))
    moment = timezone.now()
    live_sessions = set()
    for keys in chunks(key for kind, key, _ in requests if kind == SESSION):
        live_sessions.update(
            Session.objects.filter(session_key__in=keys, expire_date__gt=moment).values_list("session_key", flat=True)
        )
    revoked = set()
    for families in chunks(key for kind, key, _ in requests if kind == FAMILY):
        revoked.update(
            RefreshToken.objects.filter(family__in=families).exclude(revoked_at=None).values_list("family", flat=True)
        )
    return {
        (kind, key, member_id)
        for kind, key, member_id in requests
        if member_id in active and (key in live_sessions if kind == SESSION else key not in revoked)
    }


def session_seconds_left(session_key):
    """Seconds until the stored session ends (0 when it is gone): sessions are kept in the database (cached_db)."""
    expires = Session.objects.filter(session_key=session_key).values_list("expire_date", flat=True).first()
    return 0 if expires is None else max(0, (expires - timezone.now()).total_seconds())


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

    As a browser's socket: an API sign-out of its token family or the member's deactivation closes it (close
    messages to the group), before relaying it checks again every `LIVE_RECHECK_SECONDS` that the family is not
    revoked and the member still active, and it counts towards the member's `LIVE_SOCKETS_PER_MEMBER`.
    """

    async def connect(self):
        await ensure_relay()
        self.api_member = None
        self.family = None
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
        except Exception:
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
        if self.api_member is None:
            if kind != "auth":
                await self._refuse('Send {"type": "auth", "token": ...} first.')
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
            member, family, expires_at = await database_sync_to_async(_member_for_token)(token)
        except tokens.TokenRefused as refusal:
            await self._refuse(str(refusal))
            return
        for timer in self.timers:
            timer.cancel()
        if OPEN_SOCKETS[member.id] >= settings.LIVE_SOCKETS_PER_MEMBER:
            await self.send(text_data=json.dumps({"type": "error", "error": "Too many live sockets."}))
            await self.close(code=TOO_MANY_SOCKETS)
            return
        OPEN_SOCKETS[member.id] += 1
        self.member_id = member.id  # counted, and uncounted on disconnect, as a browser's socket is
        self.api_member, self.family = member.id, family
        self.checked_at = time.monotonic()
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
        rows = await database_sync_to_async(_events_for)(self.api_member, since)
        for row in rows:
            await self._send_event(row.event, row.data, row.seq, row.at.isoformat())
        await self.send(text_data=json.dumps({"type": "caught_up", "last_event_id": self.last_sent}))

    async def directorate_close(self, message):
        if message.get("session"):
            return  # a browser session: not this socket
        if message.get("family") in (None, self.family):
            await self.end("the token family was signed out, or the member deactivated")

    async def directorate_event(self, message):
        if self.api_member is None or not hasattr(self, "group"):
            return
        if time.monotonic() - self.checked_at >= settings.LIVE_RECHECK_SECONDS:
            if not await RECHECKS.stands(FAMILY, self.family, self.api_member):
                await self.end("the token family was revoked or the member ended")
                return
            self.checked_at = time.monotonic()
        addressed = addressed_to(message, self.api_member)
        if addressed is not None:
            await self._send_event(message["event"], addressed[0], message.get("event_id"), message.get("at"))

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
        frame = {"type": "event", "event": event, "event_id": event_id, "at": at, "data": data}
        await self.send(text_data=json.dumps(frame))


def _member_for_token(token):
    """The member of a valid access token, its family and the moment (epoch seconds) it expires; else TokenRefused."""
    from accounts import tokens

    member = tokens.user_for_access_token(token)
    claims = tokens.decode(token, expected_type=tokens.ACCESS)
    return member, claims["fam"], claims["exp"]


def _latest_event_id():
    from accounts.live import latest_seq

    return latest_seq()


def _events_for(member_id, since):
    from accounts.live import rows_after

    return rows_after(since, limit=CATCH_UP_LIMIT, recipient_id=member_id)
