"""The local Amazon Transcribe-compatible streaming service (asyncio + ``websockets``).

``LocalTranscribeService`` listens on a host and port (``ws://``, or ``wss://`` with a TLS
context), answers the three Transcribe WebSocket paths (protocol.md §3.1) and runs one
:class:`scribewire.transcribe.server_session.ServerSession` plus one recognizer per audio
channel for every stream. Handshake checks (protocol.md §6.1): unknown path -> HTTP 404;
presigned URL verified with :func:`scribewire.transcribe.sigv4.verify_presigned` against the
service's credentials -> HTTP 403 with a JSON body, or (``auth_failure="frame"``) upgrade and
send ``UnrecognizedClientException``; query parameters validated by
:mod:`scribewire.transcribe.params` -> ``BadRequestException`` frame then close; stream quota
-> ``LimitExceededException``; a ``session-id`` already live -> ``ConflictException`` on the
older stream.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import json
import logging
import secrets
import ssl as _ssl
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed as WsConnectionClosed
from websockets.http11 import Request, Response

from ..audio import deinterleave
from ..errors import AuthenticationError, ParameterError, ServiceError
from ..transcribe import params as _params
from ..transcribe.credentials import Credentials
from ..transcribe.errors import (
    BadRequestException,
    ConflictException,
    InternalFailureException,
    LimitExceededException,
    UnrecognizedClientException,
)
from ..transcribe.frames import encode_exception
from ..transcribe.limits import IDLE_TIMEOUT_SECONDS, MAX_STREAM_SECONDS
from ..transcribe.server_session import (
    AudioReceived,
    InputEnded,
    ServerSession,
    ServerState,
    StreamKind,
)
from ..transcribe.sigv4 import EventSignatureVerifier, verify_presigned
from .recognizers import Recognizer, RecognizerFactory, recognizer_factory
from .stats import StreamStats

__all__ = ["PATHS", "LocalTranscribeService"]

logger = logging.getLogger("scribewire.server")

#: WebSocket path -> stream kind (protocol.md §3.1).
PATHS: dict[str, StreamKind] = {
    "/stream-transcription-websocket": "standard",
    "/medical-stream-transcription-websocket": "medical",
    "/call-analytics-stream-transcription-websocket": "call-analytics",
}

_MAX_MESSAGE = 25_165_824 + 131_072 + 16


def _json_response(status: int, reason: str, body: Mapping[str, object]) -> Response:
    data = json.dumps(body).encode()
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Connection", "close"),
        ]
    )
    return Response(status, reason, headers, data)


class _Stream:
    """One live stream: its socket, session, recognizers and stats."""

    def __init__(
        self, service: LocalTranscribeService, ws: ServerConnection, stats: StreamStats
    ) -> None:
        self.service = service
        self.ws = ws
        self.stats = stats
        self.session: ServerSession | None = None
        self.recognizers: list[Recognizer] = []
        self.closing = False
        self.timer: asyncio.TimerHandle | None = None

    def sync_stats(self) -> None:
        s = self.session
        if s is None:
            return
        st = self.stats
        st.audio_nbytes = s.audio_nbytes
        st.audio_seconds = s.audio_seconds
        st.audio_events = s.audio_events
        st.audio_sha256 = s.audio_digest
        st.events_sent = s.events_sent
        st.partials_sent = s.partials_sent
        st.finals_sent = s.finals_sent
        st.input_ended = s.state is ServerState.INPUT_ENDED or st.input_ended
        if s.error is not None and not st.exceptions:
            st.exceptions.append(s.error.code)
            st.exception_messages.append(s.error.message)

    async def flush(self) -> None:
        if self.session is None:
            return
        for frame in self.session.data_to_send():
            await self.ws.send(frame)
        self.sync_stats()

    async def fail(self, error: ServiceError) -> None:
        """Send ``error`` as an exception frame, then close (protocol.md §6.2 rule 9)."""
        if self.closing:
            return
        try:
            if self.session is not None:
                self.session.fail(error)
                await self.flush()
            else:
                self.stats.exceptions.append(error.code)
                self.stats.exception_messages.append(error.message)
                await self.ws.send(encode_exception(error.code, error.message))
                self.stats.events_sent += 1
        except WsConnectionClosed:
            pass
        await self.close()

    async def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        if self.timer is not None:
            self.timer.cancel()
        # 1000 after an exception too, on purpose. The exception frame sent just before is
        # the error report (protocol.md §4.5: exception message, then a close frame; §6.2
        # rule 9) and the docs name no close code for that case. Users report AWS closing
        # with the reason "Streaming completed successfully" on streams it refused (invalid
        # PCM, amazon-archives/amazon-transcribe-websocket-static issue 2), i.e. a normal
        # close; AWS's SDKs and demo read the exception frame, not the close code. A
        # 1008/1011 would add nothing a client can act on and would make clients that treat
        # any other code as a transport failure report that instead of the exception.
        await self.ws.close(1000)


class LocalTranscribeService:
    """A local Amazon Transcribe streaming endpoint (standard, medical, Call Analytics paths).

    Use as ``async with LocalTranscribeService() as svc:``; ``svc.url`` is the base URL
    (``ws://127.0.0.1:PORT``), ``svc.credentials`` and ``svc.region`` sign URLs for it.

    Args:
        host: address to listen on.
        port: TCP port; 0 picks a free one.
        region: the region in the credential scope the service accepts.
        credentials: accepted credentials; None generates random ones.
        recognizer: ``"pocketsphinx"``, ``"replay"``, ``"null"``, or a factory
            ``(sample_rate, channel) -> Recognizer``.
        replay: channel -> :class:`~scribewire.server.recognizers.ReplayScript` for
            ``recognizer="replay"``.
        quota: most concurrent streams (AWS default 25); more -> ``LimitExceededException``.
        idle_timeout: seconds without audio -> ``BadRequestException`` (AWS 15 s).
        max_audio_seconds: seconds of audio per stream -> ``LimitExceededException`` (4 h).
        max_event_seconds: seconds of audio per AudioEvent (AWS 1 s).
        auth_failure: ``"http"`` (403 with a JSON body) or ``"frame"`` (upgrade, then an
            ``UnrecognizedClientException`` frame and close).
        verify_event_signatures: check the ``:chunk-signature`` chain of signed envelopes.
        ssl: a server TLS context for ``wss://``.
        clock: POSIX-seconds clock for URL expiry checks (tests may shift it).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        credentials: Credentials | None = None,
        recognizer: str | RecognizerFactory = "pocketsphinx",
        replay: Mapping[int, Any] | None = None,
        quota: int = 25,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        max_audio_seconds: float = MAX_STREAM_SECONDS,
        max_event_seconds: float = 1.0,
        auth_failure: str = "http",
        verify_event_signatures: bool = False,
        ssl: _ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if auth_failure not in ("http", "frame"):
            raise ParameterError(f"auth_failure must be 'http' or 'frame', got {auth_failure!r}")
        if quota < 1:
            raise ParameterError(f"quota must be >= 1, got {quota}")
        self.host = host
        self.port = port
        self.region = region
        self.credentials = credentials or Credentials(
            access_key_id="AKIDLOCAL" + secrets.token_hex(6).upper(),
            secret_access_key=secrets.token_urlsafe(30),
        )
        if isinstance(recognizer, str):
            self.recognizer_name = recognizer
            self._factory = recognizer_factory(recognizer, replay=replay)
        else:
            self.recognizer_name = getattr(recognizer, "__name__", "custom")
            self._factory = recognizer
        self.quota = quota
        self.idle_timeout = idle_timeout
        self.max_audio_seconds = max_audio_seconds
        self.max_event_seconds = max_event_seconds
        self.auth_failure = auth_failure
        self.verify_event_signatures = verify_event_signatures
        self.ssl = ssl
        self.clock = clock
        #: live streams by stream id
        self.streams: dict[str, StreamStats] = {}
        #: streams whose socket has closed, oldest first
        self.finished_streams: list[StreamStats] = []
        self._live: dict[str, _Stream] = {}
        self._sessions: dict[str, _Stream] = {}
        self._auth: dict[int, tuple[str, Any]] = {}
        self._server: Server | None = None
        self._finished_event = asyncio.Event()

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """Base URL, e.g. ``ws://127.0.0.1:54321`` (``wss://`` with TLS)."""
        scheme = "wss" if self.ssl is not None else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        """Start listening (``port=0`` is replaced by the port chosen)."""
        self._server = await serve(
            self._handler,
            self.host,
            self.port,
            process_request=self._process_request,
            compression=None,
            max_size=_MAX_MESSAGE,
            ssl=self.ssl,
            ping_interval=None,
            server_header="scribewire-local",
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        logger.info("local Transcribe service listening on %s (region %s)", self.url, self.region)

    async def stop(self) -> None:
        """Close every stream (1001) and stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> LocalTranscribeService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def wait_finished(self, count: int, timeout: float = 10.0) -> list[StreamStats]:
        """Wait until ``count`` streams have finished; returns ``finished_streams``.

        Raises:
            TimeoutError: fewer streams finished within ``timeout`` seconds.
        """

        async def wait() -> None:
            while len(self.finished_streams) < count:
                self._finished_event.clear()
                await self._finished_event.wait()

        await asyncio.wait_for(wait(), timeout)
        return self.finished_streams

    # ---------------------------------------------------------------- handshake

    def _lookup(self, access_key_id: str) -> tuple[str, str | None] | None:
        c = self.credentials
        if secrets.compare_digest(access_key_id.encode(), c.access_key_id.encode()):
            return c.secret_access_key, c.session_token
        return None

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if path not in PATHS:
            return _json_response(404, "Not Found", {"message": f"no such path: {path}"})
        try:
            verified = verify_presigned(
                path=path,
                query_string=query,
                host=request.headers.get("Host", ""),
                region=self.region,
                now=self.clock(),
                lookup_secret=self._lookup,
            )
        except AuthenticationError as exc:
            if self.auth_failure == "http":
                return _json_response(
                    403, "Forbidden", {"__type": "UnrecognizedClientException", "message": str(exc)}
                )
            self._auth[id(connection)] = ("error", str(exc))
            return None
        self._auth[id(connection)] = ("ok", verified)
        return None

    # ---------------------------------------------------------------- streams

    async def _handler(self, ws: ServerConnection) -> None:
        path = ws.request.path.partition("?")[0] if ws.request is not None else ""
        stream_id = str(uuid.uuid4())
        stats = StreamStats(stream_id=stream_id, path=path, recognizer=self.recognizer_name)
        stream = _Stream(self, ws, stats)
        self.streams[stream_id] = stats
        self._live[stream_id] = stream
        try:
            await self._run(stream, path)
        except WsConnectionClosed:
            pass
        except Exception as exc:  # a bug in a recognizer must not kill the service
            logger.exception("stream %s failed", stream_id)
            await stream.fail(InternalFailureException(f"internal error: {type(exc).__name__}"))
        finally:
            await stream.close()
            for rec in stream.recognizers:
                rec.close()
            stream.sync_stats()
            stats.close_code = ws.close_code
            self._live.pop(stream_id, None)
            self.streams.pop(stream_id, None)
            if self._sessions.get(stats.session_id) is stream:
                del self._sessions[stats.session_id]
            self.finished_streams.append(stats)
            self._finished_event.set()
            logger.info("%s", stats.summary())

    async def _run(self, stream: _Stream, path: str) -> None:
        ws = stream.ws
        kind = PATHS[path]
        status, auth = self._auth.pop(id(ws), ("error", "no handshake record"))
        if status != "ok":
            await stream.fail(
                UnrecognizedClientException(
                    f"The security token included in the request is invalid: {auth}"
                )
            )
            return
        query: dict[str, str] = auth.params
        stream.stats.access_key_id = auth.access_key_id
        params_cls = _params.params_for_path(path)
        assert params_cls is not None
        try:
            params = params_cls.from_query(query)
        except ParameterError as exc:
            await stream.fail(BadRequestException(str(exc)))
            return
        if len(self._live) > self.quota:
            await stream.fail(
                LimitExceededException(
                    f"You have reached your limit of {self.quota} concurrent streams. "
                    "Wait for a stream to end and try again."
                )
            )
            return
        session_id = params.session_id or str(uuid.uuid4())
        stream.stats.session_id = session_id
        older = self._sessions.get(session_id)
        self._sessions[session_id] = stream
        if older is not None:
            await older.fail(
                ConflictException(
                    f"A new stream with session-id {session_id} has started; "
                    "this stream is terminated."
                )
            )
        sample_rate = params.sample_rate
        channel_id = bool(getattr(params, "enable_channel_identification", False))
        encoding = params.media_encoding
        stream.stats.sample_rate = sample_rate
        stream.stats.channels = params.channels
        stream.stats.media_encoding = encoding
        verifier = None
        if self.verify_event_signatures:
            verifier = EventSignatureVerifier(
                self.credentials.secret_access_key, self.region, auth.seed_signature
            )
        loop = asyncio.get_running_loop()
        session = ServerSession(
            kind,
            sample_rate=sample_rate,
            channels=params.channels,
            now=loop.time(),
            media_encoding=encoding,
            channel_identification=channel_id,
            stabilization=bool(getattr(params, "enable_partial_results_stabilization", False)),
            idle_timeout=self.idle_timeout,
            max_audio_seconds=self.max_audio_seconds,
            max_event_seconds=self.max_event_seconds,
            envelope_verifier=verifier,
            epoch=self.clock() - loop.time(),
        )
        stream.session = session
        blocking = False
        self._arm_timer(stream)
        while session.state is ServerState.OPEN and not stream.closing:
            data = await ws.recv()
            if isinstance(data, str):
                session.receive_text(data, loop.time())
            else:
                session.receive_data(data, loop.time())
            for event in session.events_received():
                if isinstance(event, AudioReceived):
                    if not stream.recognizers and encoding == "pcm":
                        # Created at the first audio: a ConfigurationEvent may have set
                        # the channel count (Call Analytics).
                        stream.stats.channels = session.channels
                        stream.recognizers = [
                            self._factory(sample_rate, ch) for ch in range(session.channels)
                        ]
                        blocking = any(getattr(r, "blocking", False) for r in stream.recognizers)
                    if stream.recognizers:
                        if blocking:
                            results = await asyncio.to_thread(self._recognize, stream, event)
                        else:
                            results = self._recognize(stream, event)
                        self._send(stream, results)
                elif isinstance(event, InputEnded):
                    if blocking:
                        results = await asyncio.to_thread(self._finish, stream)
                    else:
                        results = self._finish(stream)
                    self._send(stream, results)
            await stream.flush()
        if session.state is ServerState.INPUT_ENDED:
            await stream.close()
        elif session.state is ServerState.FAILED:
            await stream.close()

    @staticmethod
    def _recognize(stream: _Stream, event: AudioReceived) -> list[tuple[int, list[Any]]]:
        recs = stream.recognizers
        if len(recs) == 1:
            return [(0, recs[0].accept(event.audio, event.start))]
        parts = deinterleave(event.audio, len(recs))
        return [(ch, rec.accept(parts[ch], event.start)) for ch, rec in enumerate(recs)]

    @staticmethod
    def _finish(stream: _Stream) -> list[tuple[int, list[Any]]]:
        return [(ch, rec.finish()) for ch, rec in enumerate(stream.recognizers)]

    @staticmethod
    def _send(stream: _Stream, results: list[tuple[int, list[Any]]]) -> None:
        session = stream.session
        assert session is not None
        if session.state is ServerState.FAILED:
            return
        for ch, segments in results:
            if segments:
                session.send_results(ch, segments)

    def _arm_timer(self, stream: _Stream) -> None:
        session = stream.session
        if session is None or stream.closing:
            return
        deadline = session.next_deadline()
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        stream.timer = loop.call_at(deadline, self._on_timer, stream)

    def _on_timer(self, stream: _Stream) -> None:
        session = stream.session
        if session is None or stream.closing:
            return
        loop = asyncio.get_running_loop()
        session.check_timers(loop.time())
        if session.state is ServerState.FAILED:
            session.events_received()
            loop.create_task(self._flush_and_close(stream))
        else:
            self._arm_timer(stream)

    @staticmethod
    async def _flush_and_close(stream: _Stream) -> None:
        try:
            await stream.flush()
        except WsConnectionClosed:
            pass
        await stream.close()

    # ---------------------------------------------------------------- helpers for tests

    def now_utc(self) -> _dt.datetime:
        """The service clock as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.clock(), _dt.timezone.utc)
