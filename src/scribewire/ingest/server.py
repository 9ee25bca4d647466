"""The front door's WebSocket server: one port, one path per platform protocol.

- ``/twilio``: Twilio Media Streams (:mod:`scribewire.ingest.twilio`);
- ``/audiohook``: Genesys Cloud AudioHook (:mod:`scribewire.ingest.audiohook`);
- ``/ws`` (``?call_id=`` optional): the generic binary WebSocket
  (:mod:`scribewire.ingest.websocket`).

Each connection is one call: the protocol session parses its messages, the call's
:class:`~scribewire.ingest.writer.CallWriter` appends its audio to Redis, replies go back
to the platform. Refusals are the platform's own: AudioHook ``disconnect`` (reason
``error``, the refusal in ``info``) then the close; Twilio and the generic socket are
closed with 1013 (try again later: capacity, Redis out of memory or unreachable) or
1008 / 1003 / 1007 (the message broke the protocol). A socket that closes without its
protocol's end (Twilio ``stop``, AudioHook ``close``, generic ``stop``) ends the call
the same way (logged). A connection that starts no call within ``start_timeout`` s is
closed; no message over :data:`~scribewire.ingest.limits.MAX_MESSAGE_NBYTES` is read. A
call refused midway is ended in Redis just after the audio it holds (retried while Redis
is out of memory), so its worker finishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as _ssl
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import CallRefused, MediaStreamError
from ..metrics import StreamObserver
from .audiohook import AudioHookSession
from .events import Audio, CallEnd, CallStart, Gap, Reply
from .limits import DEFAULT_ENTRY_MS, MAX_MESSAGE_NBYTES, MIN_ENTRY_MS, START_TIMEOUT_S
from .twilio import TwilioSession
from .websocket import WebSocketSession
from .writer import CallSink, CallWriter

__all__ = ["IngestServer"]

logger = logging.getLogger("scribewire.ingest")

CLOSE_TIMEOUT_S = 2.0  # how long a refused AudioHook client has to close its session

Session = TwilioSession | AudioHookSession | WebSocketSession


class IngestServer:
    """``scribewire ingest`` in-process: ``async with IngestServer(url) as door: ...``.

    Args:
        redis_url: the fleet's Redis.
        host, port: where to listen (port 0: a free one, see :attr:`port`).
        entry_ms: audio per Redis entry, ms (>= 200).
        min_free_capacity: refuse new calls while the workers' free capacity is lower.
        language: the language of Twilio calls (Twilio does not send one).
        start_timeout: seconds a connection has to start its call.
        ssl: a server ``SSLContext`` for ``wss://``.
        observer: counts media frames and refusals.
        provider: the speech provider of these calls (``transcribe`` or ``assemblyai``:
            AssemblyAI sessions are mono, so its calls should be mono too).

    Raises:
        ParameterError: ``entry_ms`` below 200, an unknown provider.
    """

    def __init__(
        self,
        redis_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        entry_ms: int = DEFAULT_ENTRY_MS,
        min_free_capacity: int = 1,
        language: str = "en-US",
        start_timeout: float = START_TIMEOUT_S,
        ssl: _ssl.SSLContext | None = None,
        observer: StreamObserver | None = None,
        provider: str = "transcribe",
    ) -> None:
        from ..errors import ParameterError

        if entry_ms < MIN_ENTRY_MS:
            raise ParameterError(f"entry_ms {entry_ms} (at least {MIN_ENTRY_MS} ms)")
        if provider not in ("transcribe", "assemblyai"):
            raise ParameterError(f"provider {provider!r} (transcribe or assemblyai)")
        self.sink = CallSink(
            redis_url, entry_ms=entry_ms, min_free_capacity=min_free_capacity, provider=provider
        )
        self.host, self._port, self.language = host, port, language
        self.start_timeout, self.ssl, self.observer = start_timeout, ssl, observer
        self._server: Any = None
        self.calls: dict[str, CallWriter] = {}  # open calls by id
        self._sessions: dict[Any, Session] = {}  # connection -> its session
        self.refused: dict[str, int] = {}  # reason -> count
        self._ending: set[asyncio.Task[bool]] = set()  # refused calls being ended in Redis

    @property
    def port(self) -> int:
        """The port listened on."""
        return int(self._server.sockets[0].getsockname()[1]) if self._server else self._port

    async def __aenter__(self) -> IngestServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect to Redis and listen.

        Raises:
            OSError, ConnectionError: Redis is unreachable or the port is taken.
        """
        from websockets.asyncio.server import serve

        await self.sink.open()
        self._server = await serve(
            self._handle,
            self.host,
            self._port,
            max_size=MAX_MESSAGE_NBYTES,
            ssl=self.ssl,
            compression=None,
        )

    async def close(self, *, drain: float = 5.0) -> None:
        """Stop listening; ask AudioHook sessions to reconnect (to another front door);
        end the other calls' connections; wait up to ``drain`` s for them to finish."""
        if self._server is None:
            return
        self._server.close(close_connections=False)
        for ws, session in list(self._sessions.items()):
            if isinstance(session, AudioHookSession) and session.started and not session.closed:
                with contextlib.suppress(Exception):
                    await ws.send(session.reconnect("the front door is going away").text)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), drain)
        for ws in list(self._sessions):
            with contextlib.suppress(Exception):
                await ws.close(1001, "the front door is going away")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), drain)
        if self._ending:  # refused calls still being ended: bounded too
            _, late = await asyncio.wait(list(self._ending), timeout=drain)
            for task in late:
                task.cancel()
        self._server = None
        await self.sink.close()

    # ------------------------------------------------------------------ connections

    def _session_for(self, path: str) -> Session | None:
        url = urlsplit(path)
        if url.path == "/twilio":
            return TwilioSession(language=self.language)
        if url.path == "/audiohook":
            return AudioHookSession()
        if url.path == "/ws":
            return WebSocketSession(call_id=parse_qs(url.query).get("call_id", [""])[0])
        return None

    async def _handle(self, ws: Any) -> None:
        session = self._session_for(ws.request.path)
        if session is None:
            await ws.close(1008, "unknown path (the front door serves /twilio, /audiohook, /ws)")
            return
        self._sessions[ws] = session
        writer: CallWriter | None = None
        protocol = session.protocol
        ended = False
        try:
            while True:
                try:
                    if writer is None:
                        msg = await asyncio.wait_for(ws.recv(), self.start_timeout)
                    else:
                        msg = await ws.recv()
                except TimeoutError:
                    self._refused(protocol, "timeout")
                    await ws.close(1008, f"no call started within {self.start_timeout:g} s")
                    return
                if isinstance(msg, str):
                    events = session.receive_text(msg)
                else:
                    events = session.receive_bytes(msg)
                for ev in events:
                    if isinstance(ev, Audio):
                        if self.observer is not None:
                            self.observer.frontdoor_frames(protocol)
                        await writer.audio(ev.data)  # type: ignore[union-attr]
                    elif isinstance(ev, Reply):
                        await ws.send(ev.text)
                    elif isinstance(ev, CallStart):
                        writer = await self._start(ev, protocol)
                        for reply in session.accept():
                            await ws.send(reply.text)
                    elif isinstance(ev, Gap):
                        assert writer is not None
                        logger.warning(
                            "%s call %s: %d ms of audio %s by the platform (the worker sends "
                            "silence for it)",
                            protocol,
                            writer.start.call_id,
                            ev.frames * 1000 // writer.start.sample_rate,
                            ev.reason,
                        )
                        await writer.gap(ev.frames)
                    elif isinstance(ev, CallEnd):
                        ended = True
                        if ev.reason == "reconnect":
                            await writer.release()  # type: ignore[union-attr]
                        else:
                            await writer.end()  # type: ignore[union-attr]
                if ended and isinstance(session, WebSocketSession):
                    await ws.close(1000)
                    return
        except MediaStreamError as exc:
            logger.warning("%s connection: %s", protocol, exc)
            self._refused(protocol, "protocol")
            await self._refuse(ws, session, exc.close_code, str(exc))
        except CallRefused as exc:
            logger.warning("%s call refused (%s): %s", protocol, exc.reason, exc)
            self._refused(protocol, exc.reason)
            await self._refuse(ws, session, 1013, f"refused: {exc.reason}")
        except Exception as exc:
            from websockets.exceptions import ConnectionClosed

            if not isinstance(exc, ConnectionClosed):
                logger.exception("%s connection failed", protocol)
                await self._refuse(ws, session, 1011, "front door error")
        finally:
            self._sessions.pop(ws, None)
            if writer is not None:
                self.calls.pop(writer.start.call_id, None)
                if writer.failed is not None and not writer.ended:
                    task = asyncio.ensure_future(writer.end_after_refusal())
                    self._ending.add(task)
                    task.add_done_callback(self._ending.discard)
                elif not writer.ended:
                    logger.warning(
                        "%s call %s: the socket closed without the protocol's end: call ended",
                        protocol,
                        writer.start.call_id,
                    )
                    with contextlib.suppress(CallRefused):
                        await writer.end()

    async def _start(self, start: CallStart, protocol: str) -> CallWriter:
        writer = await self.sink.start_call(start, protocol)
        self.calls[start.call_id] = writer
        logger.info(
            "%s call %s: %d Hz %s, %d channel(s)%s",
            protocol,
            start.call_id,
            start.sample_rate,
            start.encoding,
            start.channels,
            " (continued)" if start.continued else "",
        )
        return writer

    def _refused(self, protocol: str, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        if self.observer is not None:
            self.observer.frontdoor_refused(protocol, reason)

    async def _refuse(self, ws: Any, session: Session, code: int, why: str) -> None:
        with contextlib.suppress(Exception):
            if isinstance(session, AudioHookSession) and session.started and not session.closed:
                # AudioHook's own refusal: disconnect, then the client's close is
                # answered with closed (bounded: a client that says nothing is closed)
                await ws.send(session.disconnect("error", why[:120]).text)
                await asyncio.wait_for(self._await_close(ws, session), CLOSE_TIMEOUT_S)
            await ws.close(code, why[:120])

    async def _await_close(self, ws: Any, session: AudioHookSession) -> None:
        while not session.closed:
            msg = await ws.recv()
            if isinstance(msg, str):
                for ev in session.receive_text(msg):
                    if isinstance(ev, Reply):
                        await ws.send(ev.text)
