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
import collections
import dataclasses
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
from websockets.datastructures import Headers, MultipleValuesError
from websockets.http11 import Request, Response

from ..assemblyai.auth import TOKEN_PATH as AAI_TOKEN_PATH
from ..assemblyai.auth import WS_PATH as AAI_WS_PATH
from ..assemblyai.auth import ApiKey
from ..assemblyai.server_session import AssemblyAIServerSession, TokenIssuer
from ..assemblyai.server_session import ServerConfig as AAIServerConfig
from ..audio import deinterleave
from ..errors import AuthenticationError, ParameterError, ServiceError
from ..redact import install_log_redaction
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
    EVENT_HEADER_ROOM,
    AudioReceived,
    InputEnded,
    ServerSession,
    ServerState,
    StreamKind,
)
from ..transcribe.sigv4 import EventSignatureVerifier, verify_presigned
from .assemblyai import run_session as run_aai_session
from .handshake import collapse_repeated_upgrade_headers
from .recognizers import Recognizer, RecognizerFactory, recognizer_factory
from .stats import NOT_READING, ServiceTotals, StreamStats
from .wire import Wire, WireConnection

__all__ = ["PATHS", "LocalTranscribeService"]

logger = logging.getLogger("scribewire.server")

#: WebSocket path -> stream kind (protocol.md §3.1).
PATHS: dict[str, StreamKind] = {
    "/stream-transcription-websocket": "standard",
    "/medical-stream-transcription-websocket": "medical",
    "/call-analytics-stream-transcription-websocket": "call-analytics",
}

_MAX_RATE, _MAX_CHANNELS = 48_000, 2  # the widest stream parameters allow (protocol.md §3.3)
_MIN_BACKLOG = 128  # listen queue of the service socket, connections (see start())
#: Audio events a blocking recognizer may have waiting before the stream stops reading.
_QUEUE_EVENTS = 32
_END = object()  # queued after the last audio: finish the recognizers
#: Seconds an inline recognizer step may take and still count as idle time (the idle
#: rule is 15 s: a step this short changes nothing a client could notice).
_SLOW_STEP = 0.001


def _json_response(status: int, reason: str, body: Mapping[str, object] | bytes) -> Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Connection", "close"),
        ]
    )
    return Response(status, reason, headers, data)


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


class _Connection(WireConnection):
    """A server connection carrying the service's handshake verdict for its handler.

    The verdict lives on the connection, not in a table of the service, so it goes away
    with the connection on every path: a handshake websockets rejects after
    ``process_request`` (no ``Upgrade`` header, server closing), a client that drops,
    a handler that ends.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: ``("ok", VerifiedRequest)`` or ``("error", message)``, set by process_request.
        self.verdict: tuple[str, Any] | None = None


class _Stream:
    """One live stream: its wire, session, recognizers and stats.

    It is the :class:`~scribewire.server.wire.WireHandler` of its connection: each
    binary message goes through the session and the (non-blocking) recognizers within
    the read that completed it, and the frames this produces leave together at the end
    of that read. Blocking recognizers run in a worker fed by a bounded queue; while the
    queue is full the socket is not read (and the idle clock is paused).
    """

    def __init__(
        self, service: LocalTranscribeService, ws: ServerConnection, stats: StreamStats
    ) -> None:
        self.service = service
        self.ws = ws
        self.stats = stats
        self.wire: Wire | None = None
        self.session: ServerSession | None = None
        self.recognizers: list[Recognizer] = []
        self.blocking = False
        self.closing = False
        self.timer: asyncio.TimerHandle | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.queue: asyncio.Queue[Any] | None = None
        self.worker: asyncio.Task[None] | None = None
        self.loop = asyncio.get_running_loop()
        #: set when the reading part of the stream is over (session no longer open, or
        #: the connection is closing)
        self.ended: asyncio.Future[None] = self.loop.create_future()
        self.queue_full = False

    # ------------------------------------------------------------ WireHandler

    def binary(self, payload: bytes) -> None:
        session = self.session
        if session is None or self.closing or session.state is not ServerState.OPEN:
            return  # before the session exists (a refused stream) or after its end
        session.receive_data(payload, self.loop.time())
        try:
            self._received(session)
        except Exception as exc:  # a bug in a recognizer must not kill the service
            self._internal_failure(exc)

    def text(self, payload: str) -> None:
        session = self.session
        if session is None or self.closing:
            return
        session.receive_text(payload, self.loop.time())
        self._received(session)

    def _internal_failure(self, exc: Exception) -> None:
        logger.error("stream %s failed", self.stats.stream_id, exc_info=exc)
        self.fail_soon(InternalFailureException(f"internal error: {type(exc).__name__}"))

    def closed(self, code: int, reason: str) -> None:
        """The connection is closing (the client's close, a fault, the send deadline,
        a lost connection): the quota slot is free from now on."""
        assert self.wire is not None
        if self.wire.not_reading:
            self.stats.close_reason = NOT_READING
            logger.info("stream %s: client not reading; closing", self.stats.stream_id)
        self._release()
        if not self.ended.done():
            self.ended.set_result(None)

    # ------------------------------------------------------------ input

    def _received(self, session: ServerSession) -> None:
        events = session.events_received()
        for event in events:
            if type(event) is AudioReceived:
                recs = self.recognizers
                if not recs and session.media_encoding == "pcm":
                    recs = self._make_recognizers(session)
                if recs:
                    if self.blocking:
                        self._submit(event)
                    else:
                        self._inline(session, event)
            elif type(event) is InputEnded:
                if self.blocking:
                    self._submit(_END)
                else:
                    self.service._inline(self, self.service._finish, None)
        self.flush()
        if session.state is not ServerState.OPEN and not self.ended.done():
            self.ended.set_result(None)

    def _make_recognizers(self, session: ServerSession) -> list[Recognizer]:
        # Made at the first audio: a ConfigurationEvent may have set the channel count
        # (Call Analytics).
        self.stats.channels = session.channels
        factory = self.service._factory
        self.recognizers = [factory(session.sample_rate, ch) for ch in range(session.channels)]
        self.blocking = any(getattr(r, "blocking", False) for r in self.recognizers)
        return self.recognizers

    def _inline(self, session: ServerSession, event: AudioReceived) -> None:
        """A non-blocking recognizer's step for one event, in the loop (the per-message
        form of ``LocalTranscribeService._inline``): the time it takes, while no socket is
        read, is not idle time."""
        time = self.loop.time
        service = self.service
        t0 = time()
        results = service._recognize(self, event)
        t1 = time()
        if t1 - t0 > _SLOW_STEP:  # (a quicker step is not worth two more calls)
            session.pause_idle(t0)
            session.resume_idle(t1)
        service._send(self, results)

    def _submit(self, item: Any) -> None:
        """Queue audio (or ``_END``) for the stream's worker; once the queue is full the
        socket is not read (and the idle clock is paused) until the worker takes one."""
        session = self.session
        assert session is not None and self.wire is not None
        if self.queue is None:
            # bounded by the reads: no read starts once _QUEUE_EVENTS wait, and one read
            # holds at most READ_BUFFER_NBYTES of messages
            self.queue = asyncio.Queue()
            self.worker = self.loop.create_task(self.service._work(self))
        self.queue.put_nowait(item)
        if self.queue.qsize() >= _QUEUE_EVENTS and not self.queue_full:
            self.queue_full = True
            session.pause_idle(self.loop.time())
            self.wire.pause_reading()

    def took(self) -> None:
        """The worker took an item: read again if the queue had filled."""
        if self.queue_full and self.queue is not None and self.queue.qsize() < _QUEUE_EVENTS:
            assert self.session is not None and self.wire is not None
            self.queue_full = False
            self.session.resume_idle(self.loop.time())
            self.service._arm_timer(self)
            self.wire.resume_reading()

    # ------------------------------------------------------------ output

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

    def flush(self) -> None:
        """Queue the session's frames on the wire (they leave at the end of the current
        read, or at once outside one), in the order the session made them."""
        session, wire = self.session, self.wire
        if session is None or wire is None:
            return
        for frame in session.data_to_send():
            wire.send(frame)

    def fail_soon(self, error: ServiceError) -> None:
        """Queue ``error`` as an exception frame and start the close (protocol.md §6.2
        rule 9); from a callback."""
        if self.closing:
            return
        if self.session is not None:
            self.session.fail(error)
            self.flush()
        else:
            self.stats.exceptions.append(error.code)
            self.stats.exception_messages.append(error.message)
            if self.wire is not None:
                self.wire.send(encode_exception(error.code, error.message))
            self.stats.events_sent += 1
        self._release()
        if self.wire is not None:
            self.wire.start_close()
        if not self.ended.done():
            self.ended.set_result(None)

    async def fail(self, error: ServiceError) -> None:
        """Send ``error`` as an exception frame, then close (protocol.md §6.2 rule 9)."""
        self.fail_soon(error)
        await self.close()

    def _release(self) -> None:
        """Free the quota slot and stop the idle timer (from the first sign of a close)."""
        self.closing = True
        self.service._live.pop(self.stats.stream_id, None)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection; the stream's quota slot is free from the first call on.

        The close handshake is bounded by the service's ``close_timeout`` (then the TCP
        connection is closed, or aborted when the client's window is full).
        """
        # 1000 after an exception too, on purpose. The exception frame sent just before is
        # the error report (protocol.md §4.5: exception message, then a close frame; §6.2
        # rule 9) and the docs name no close code for that case. Users report AWS closing
        # with the reason "Streaming completed successfully" on streams it refused (invalid
        # PCM, amazon-archives/amazon-transcribe-websocket-static issue 2), i.e. a normal
        # close; AWS's SDKs and demo read the exception frame, not the close code. A
        # 1008/1011 would add nothing a client can act on and would make clients that treat
        # any other code as a transport failure report that instead of the exception.
        # (1008 is kept for a client that stopped reading: it cannot read a frame anyway.)
        self._release()
        if self.wire is not None:
            await self.wire.close(code, reason)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` as a task the stream keeps (so it is neither lost nor collected)."""
        task: asyncio.Task[None] = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class LocalTranscribeService:
    """A local Amazon Transcribe streaming endpoint (standard, medical, Call Analytics paths).

    Use as ``async with LocalTranscribeService() as svc:``; ``svc.url`` is the base URL
    (``ws://127.0.0.1:PORT``), ``svc.credentials`` and ``svc.region`` sign URLs for it.

    A slow or hostile client never pins a stream: every send to a client has a deadline
    (``send_timeout``; a client that stops reading is closed with 1008), every close
    handshake too (``close_timeout``; then the TCP connection is aborted), and a stream's
    quota slot is free as soon as its close starts. The largest WebSocket message a stream
    accepts follows its parameters (1 s of audio plus header room; refused from the frame
    header). Per-connection state lives on the connection; finished streams are kept in a
    ring of ``keep_finished`` and counted in ``totals``.

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
        idle_timeout: seconds without audio -> ``BadRequestException`` (AWS 15 s); counted
            only while the service is reading the socket.
        max_audio_seconds: seconds of audio per stream -> ``LimitExceededException`` (4 h).
        max_event_seconds: seconds of audio per AudioEvent (AWS 1 s).
        auth_failure: ``"http"`` (403 with a JSON body) or ``"frame"`` (upgrade, then an
            ``UnrecognizedClientException`` frame and close).
        verify_event_signatures: check the ``:chunk-signature`` chain of signed envelopes.
        ssl: a server TLS context for ``wss://``.
        clock: POSIX-seconds clock for URL expiry checks (tests may shift it).
        send_timeout: seconds one message to a client may take to leave (the client's
            receive window full that long: it is not reading); then close 1008.
        close_timeout: seconds a close handshake may take; then the connection is aborted.
        keep_finished: how many finished streams' stats ``finished_streams`` keeps.
        assemblyai_api_key: the key AssemblyAI clients present on ``/v3/ws`` and
            ``/v3/token`` (raw in ``Authorization``, assemblyai.md §1.2); None generates
            one (``assemblyai_api_key`` attribute). See ``server.assemblyai``.
        digest: keep the SHA-256 of every stream's audio (``StreamStats.audio_sha256``;
            tests compare it with what they sent); False skips it (load runs:
            ``scribewire serve --no-digest``), the digest is then ``""``.
        assemblyai_options: the AssemblyAI session's choices where the docs leave one,
            by name (fields of :class:`scribewire.assemblyai.server_session.ServerConfig`
            other than the credentials: ``max_session_seconds``, ``rate_allowance``,
            ``strict_tail``, ``reject_over_http``, ``default_speech_model``,
            ``begin_configuration``, ``formatter``).

    Raises:
        ParameterError: an argument out of range, or an unknown ``assemblyai_options``
            name.
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
        send_timeout: float = 10.0,
        close_timeout: float = 5.0,
        keep_finished: int = 1000,
        digest: bool = True,
        assemblyai_api_key: str | None = None,
        assemblyai_options: Mapping[str, Any] | None = None,
    ) -> None:
        if auth_failure not in ("http", "frame"):
            raise ParameterError(f"auth_failure must be 'http' or 'frame', got {auth_failure!r}")
        if quota < 1:
            raise ParameterError(f"quota must be >= 1, got {quota}")
        for name, value in (("send_timeout", send_timeout), ("close_timeout", close_timeout)):
            if not value > 0:
                raise ParameterError(f"{name} must be > 0 seconds, got {value}")
        if keep_finished < 0:
            raise ParameterError(f"keep_finished must be >= 0, got {keep_finished}")
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
        self.send_timeout = send_timeout
        self.close_timeout = close_timeout
        self.digest = digest
        #: live streams by stream id (counters as of the last ``live_stats()``)
        self.streams: dict[str, StreamStats] = {}
        #: the most recent ``keep_finished`` streams whose socket has closed, oldest first
        self.finished_streams: collections.deque[StreamStats] = collections.deque(
            maxlen=keep_finished
        )
        #: counters over every finished stream
        self.totals = ServiceTotals()
        #: the AssemblyAI API key (a secret: never logged); tokens come from ``/v3/token``
        self.assemblyai_api_key = ApiKey(assemblyai_api_key or "aai-" + secrets.token_urlsafe(24))
        keys = AAIServerConfig.keys(self.assemblyai_api_key)
        self._tokens = TokenIssuer(keys)
        options = dict(assemblyai_options or {})
        known = {f.name for f in dataclasses.fields(AAIServerConfig)} - {"api_keys", "token_check"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ParameterError(
                f"assemblyai_options: unknown {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        self._aai_config = AAIServerConfig(
            api_keys=keys, token_check=self._tokens.redeem, **options
        )
        self._live: dict[str, Any] = {}  # streams holding a quota slot
        self._sessions: dict[str, _Stream] = {}
        self._server: Server | None = None
        self._finished_event = asyncio.Event()

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """Base URL, e.g. ``ws://127.0.0.1:54321`` (``wss://`` with TLS)."""
        scheme = "wss" if self.ssl is not None else "ws"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def max_message_nbytes(self) -> int:
        """The WebSocket message limit before a stream's parameters are known: the widest
        stream's (48 kHz, 2 channels, compressed); each stream then narrows its own."""
        audio = int(self.max_event_seconds * _MAX_RATE) * 2 * _MAX_CHANNELS * 2
        return 2 * (16 + EVENT_HEADER_ROOM) + audio

    async def start(self) -> None:
        """Start listening (``port=0`` is replaced by the port chosen)."""
        install_log_redaction()  # websockets logs request lines (signatures) at DEBUG
        self._server = await serve(
            self._handler,
            self.host,
            self.port,
            process_request=self._process_request,
            compression=None,
            max_size=self.max_message_nbytes,
            ssl=self.ssl,
            ping_interval=None,
            close_timeout=self.close_timeout,
            server_header="scribewire-local",
            create_connection=_Connection,
            # asyncio's default accept queue (100) overflowed in the 2,000-stream soak:
            # the kernel drops the SYNs, retried after 1, 3, 7 s, so connects hit the
            # client's 10 s open timeout; a queue as deep as the quota (the kernel caps
            # it at net.core.somaxconn) holds a whole reconnect storm
            backlog=max(_MIN_BACKLOG, self.quota),
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

    def live_stats(self) -> dict[str, StreamStats]:
        """The live streams' stats, their counters brought up to date now."""
        for stream in self._live.values():
            stream.sync_stats()
        return dict(self.streams)

    async def wait_finished(self, count: int, timeout: float = 10.0) -> list[StreamStats]:
        """Wait until ``count`` streams have finished in all; returns ``finished_streams``.

        Raises:
            TimeoutError: fewer streams finished within ``timeout`` seconds.
        """

        async def wait() -> None:
            while self.totals.streams < count:
                self._finished_event.clear()
                await self._finished_event.wait()

        await asyncio.wait_for(wait(), timeout)
        return list(self.finished_streams)

    # ---------------------------------------------------------------- handshake

    def _lookup(self, access_key_id: str) -> tuple[str, str | None] | None:
        c = self.credentials
        if secrets.compare_digest(access_key_id.encode(), c.access_key_id.encode()):
            return c.secret_access_key, c.session_token
        return None

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        collapse_repeated_upgrade_headers(request.headers)  # as AWS does (handshake.py)
        path, _, query = request.path.partition("?")
        if path == AAI_TOKEN_PATH:  # AssemblyAI temporary tokens (§1.3), over HTTP
            headers = list(request.headers.raw_items())
            answer = self._tokens.handle(request.path, headers, self.clock())
            return _json_response(answer.status, _REASONS.get(answer.status, ""), answer.body)
        if path == AAI_WS_PATH:
            session = AssemblyAIServerSession(
                request.path,
                list(request.headers.raw_items()),
                now=asyncio.get_running_loop().time(),
                unix_time=self.clock(),
                config=self._aai_config,
            )
            if session.http_response is not None:
                answer = session.http_response
                return _json_response(answer.status, _REASONS.get(answer.status, ""), answer.body)
            if isinstance(connection, _Connection):
                connection.verdict = ("assemblyai", session)
            return None
        if path not in PATHS:
            return _json_response(404, "Not Found", {"message": f"no such path: {path[:200]}"})
        try:
            host = request.headers.get("Host", "")
        except MultipleValuesError:
            return _json_response(
                400,
                "Bad Request",
                {"__type": "BadRequestException", "message": "more than one Host header"},
            )
        try:
            verified = verify_presigned(
                path=path,
                query_string=query,
                host=host,
                region=self.region,
                now=self.clock(),
                lookup_secret=self._lookup,
            )
        except AuthenticationError as exc:
            if self.auth_failure == "http":
                return _json_response(
                    403, "Forbidden", {"__type": "UnrecognizedClientException", "message": str(exc)}
                )
            verdict: tuple[str, Any] = ("error", str(exc))
        else:
            verdict = ("ok", verified)
        if isinstance(connection, _Connection):
            connection.verdict = verdict
        return None

    # ---------------------------------------------------------------- streams

    async def _handler(self, ws: ServerConnection) -> None:
        path = ws.request.path.partition("?")[0] if ws.request is not None else ""
        verdict = getattr(ws, "verdict", None)
        if verdict is not None and verdict[0] == "assemblyai":
            stats = await run_aai_session(self, ws, verdict[1])
            logger.info("%s", stats.summary())
            return
        stream_id = str(uuid.uuid4())
        stats = StreamStats(stream_id=stream_id, path=path, recognizer=self.recognizer_name)
        stream = _Stream(self, ws, stats)
        self.streams[stream_id] = stats
        self._live[stream_id] = stream
        assert isinstance(ws, WireConnection)  # create_connection=_Connection
        stream.wire = ws.attach(
            stream,
            max_message_nbytes=self.max_message_nbytes,
            send_timeout=self.send_timeout,
            close_timeout=self.close_timeout,
        )
        try:
            await self._run(stream, path)
        except Exception as exc:  # a bug in a recognizer must not kill the service
            logger.exception("stream %s failed", stream_id)
            await stream.fail(InternalFailureException(f"internal error: {type(exc).__name__}"))
        finally:
            await stream.close()
            await self._stop_worker(stream)
            if stream.tasks:  # a timer's close or a conflict's exception: each bounded
                await asyncio.gather(*stream.tasks, return_exceptions=True)
            for rec in stream.recognizers:
                rec.close()
            stream.sync_stats()
            if stream.wire is not None:
                stats.close_code = stream.wire.close_code
                if stream.wire.not_reading:  # (also when a close was under way)
                    stats.close_reason = NOT_READING
            self.streams.pop(stream_id, None)
            if self._sessions.get(stats.session_id) is stream:
                del self._sessions[stats.session_id]
            self.finished_streams.append(stats)
            self.totals.add(stats)
            self._finished_event.set()
            logger.info("%s", stats.summary())

    async def _run(self, stream: _Stream, path: str) -> None:
        ws = stream.ws
        kind = PATHS[path]
        verdict: tuple[str, Any] = getattr(ws, "verdict", None) or ("error", "no handshake record")
        status, auth = verdict
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
            older.spawn(
                older.fail(
                    ConflictException(
                        f"A new stream with session-id {session_id} has started; "
                        "this stream is terminated."
                    )
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
            digest=self.digest,
        )
        stream.session = session
        assert stream.wire is not None
        stream.wire.max_message_nbytes = session.max_message_nbytes
        self._arm_timer(stream)
        # From here the stream runs in the wire's callbacks (_Stream.binary): every
        # message is taken from the socket as it arrives, so the idle clock sees audio
        # when it is received, not when a busy recognizer gets to it.
        await stream.ended
        if stream.worker is not None and session.state is ServerState.INPUT_ENDED:
            await stream.worker  # the queued audio's results, then the finals
        await stream.close()

    # ---------------------------------------------------------------- recognition

    def _inline(self, stream: _Stream, step: Callable[..., Any], arg: Any) -> None:
        """Run a non-blocking recognizer step in the loop; the time it takes (no socket is
        read meanwhile) is not idle time."""
        session = stream.session
        assert session is not None
        loop = asyncio.get_running_loop()
        session.pause_idle(loop.time())
        try:
            results = step(stream) if arg is None else step(stream, arg)
        finally:
            session.resume_idle(loop.time())
        self._send(stream, results)

    async def _work(self, stream: _Stream) -> None:
        """The worker of a blocking recognizer: audio in order, results sent as they come
        (after each, it waits while the client's window is full: the wire's send deadline
        closes a client that stopped reading)."""
        session, wire = stream.session, stream.wire
        assert session is not None and stream.queue is not None and wire is not None
        try:
            while session.state is not ServerState.FAILED and not stream.closing:
                item = await stream.queue.get()
                stream.took()
                if item is None:  # stop
                    return
                if item is _END:
                    results = await asyncio.to_thread(self._finish, stream)
                else:
                    results = await asyncio.to_thread(self._recognize, stream, item)
                self._send(stream, results)
                stream.flush()
                await wire.drain()
                if item is _END:
                    return
        except Exception as exc:  # a bug in a recognizer must not kill the service
            logger.exception("stream %s failed", stream.stats.stream_id)
            await stream.fail(InternalFailureException(f"internal error: {type(exc).__name__}"))

    @staticmethod
    async def _stop_worker(stream: _Stream) -> None:
        """Stop the worker after its current call (a thread cannot be cancelled, and the
        recognizers are closed only once no thread uses them)."""
        worker, queue = stream.worker, stream.queue
        if worker is None or queue is None or worker.done():
            return
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)
        await asyncio.gather(worker, return_exceptions=True)

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

    # ---------------------------------------------------------------- idle timer

    def _arm_timer(self, stream: _Stream) -> None:
        if stream.timer is not None:
            stream.timer.cancel()
            stream.timer = None
        session = stream.session
        if session is None or stream.closing:
            return
        deadline = session.next_deadline()
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        stream.timer = loop.call_at(deadline, self._on_timer, stream)

    def _on_timer(self, stream: _Stream) -> None:
        stream.timer = None
        session = stream.session
        if session is None or stream.closing:
            return
        loop = asyncio.get_running_loop()
        session.check_timers(loop.time())
        if session.state is ServerState.FAILED:
            session.events_received()
            stream.flush()
            stream.spawn(stream.close())
            if not stream.ended.done():
                stream.ended.set_result(None)
        else:
            self._arm_timer(stream)

    # ---------------------------------------------------------------- helpers for tests

    def now_utc(self) -> _dt.datetime:
        """The service clock as an aware UTC datetime."""
        return _dt.datetime.fromtimestamp(self.clock(), _dt.timezone.utc)
