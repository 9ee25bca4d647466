"""Streaming client for Amazon Transcribe (and the local service): a thin asyncio shell.

::

    client = TranscribeClient(region="us-east-1")          # credentials resolved per connect
    params = StreamParams(language_code="en-US", sample_rate=16_000)
    async with client.stream(params) as stream:
        async def feed():
            async for pcm in microphone():                   # int16 LE, 16 kHz mono
                await stream.send(pcm)
            await stream.end()                               # every final arrives before it returns
        feeder = asyncio.create_task(feed())
        async for event in stream:                           # TranscriptEvent, ...
            ...
        await feeder

The client moves bytes between a ``websockets`` connection and a sans-I/O
:class:`~scribewire.transcribe.TranscribeSession`: the session frames AudioEvents and
decodes the service's events; the client packs no bytes and computes no CRC. The
session is given the client's :class:`~scribewire.wsframe.ClientFramer`, so each
AudioEvent comes out of one fused kernel as a masked WebSocket binary frame (RFC 6455
§5.2, §5.3; masking keys from ``os.urandom``, 1,024 per system call), which the client
writes straight to the transport while the connection is OPEN, one ``transport.write``
per message. ``websockets`` keeps no per-frame send state
for unfragmented messages and flushes everything it writes itself (pongs, the close) at
once, so both writers stay in order on the one transport. The connection (a
``ClientConnection`` subclass) tells its stream whenever writing must stop or may go on
(the transport paused or resumed writing, the WebSocket left OPEN, the connection was
lost), so pacing reads one flag of the stream per message.

Pacing (protocol.md §5): audio leaves at real time (``speed`` times real time for the
local service), one AudioEvent of ``chunk_duration`` seconds at a time (default 100 ms,
at most 1 s). One :class:`~scribewire.transport.pacing.PacingWheel` per event loop serves every
stream of every client: no timer or task per stream. When the caller's audio pauses for
``keepalive_after`` seconds the stream sends PCM silence at the normal pace, so the
service's 15 s idle rule (protocol.md §5, §6.2.7) never ends a live call.

Backpressure: each stream buffers at most ``buffer_duration`` seconds of framed audio;
``send`` waits while the buffer is full, and the socket's own buffer is bounded by
``write_limit`` bytes: nothing is dropped, memory stays bounded when the service stops
reading, and ``send_timeout`` seconds without progress fail the stream.

End of stream (protocol.md §4.1): the buffered audio, then the empty AudioEvent, then the
client reads until the service closes; ``end()`` returns once every result has arrived.
The socket is closed on every exit path, cancellation included.

Errors: a refused upgrade raises :class:`~scribewire.errors.HandshakeRejected`; an
unreachable endpoint, a connection lost mid-stream or a timeout raise
:class:`~scribewire.errors.ConnectionClosed`; an exception frame raises its
:class:`~scribewire.errors.ServiceError` subclass; bytes that break the event-stream
rules raise :class:`~scribewire.errors.ProtocolError` (and the client closes the
WebSocket with code 1002).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as _dt
import math
import os
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed as WsConnectionClosed,
)
from websockets.exceptions import (
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
)
from websockets.protocol import State

from ._kernels._buffers import byte_view
from .audio import AudioSource, Resampler, float32_to_int16, open_audio
from .errors import (
    AudioFormatError,
    AudioTypeError,
    ConnectionClosed,
    HandshakeRejected,
    ParameterError,
    ProtocolError,
    ScribewireError,
    ServiceError,
    SessionStateError,
)
from .transcribe.credentials import CredentialProvider, Credentials, resolve_region
from .transcribe.events import ConfigurationEvent, Event
from .transcribe.ledger import AudioLedger
from .transcribe.params import CallAnalyticsParams, MedicalStreamParams, StreamParams
from .transcribe.session import MAX_CHUNK_DURATION, TranscribeSession
from .transport import pacing as _pacing
from .wsframe import ClientFramer

__all__ = [
    "DEFAULT_CHUNK_DURATION",
    "Params",
    "TranscribeClient",
    "TranscribeStream",
    "run",
    "transcribe",
]

Params = StreamParams | MedicalStreamParams | CallAnalyticsParams
"""Any of the three operations' parameter objects."""

DEFAULT_CHUNK_DURATION = 0.1
"""Seconds of audio per AudioEvent (AWS recommends 50-200 ms, protocol.md §5)."""

_RETRY = 0.02  # seconds between write attempts while the socket buffer is full
_OPEN = State.OPEN
MAX_STREAM_SECONDS = 14_400.0
"""The longest a stream may last, seconds (4 h, protocol.md §5 limits)."""
_BACKOFF_FIRST = 0.25  # seconds before the first reconnect attempt, doubling each time
_BACKOFF_MAX = 4.0
_CATCH_UP = 2.0  # replayed audio leaves at this multiple of the normal pace


class _Rollover(Exception):
    """The old connection ended cleanly for the 4 h rollover (never leaves the stream)."""


class _Connection(ClientConnection):
    """websockets' client connection, keeping its stream's ``_writable`` flag current:
    True while the WebSocket is OPEN and the transport has not paused writing.

    The flag changes only in these callbacks: the transport pauses or resumes writing
    (asyncio flow control, ``write_limit``), data arrives (a close frame or a protocol
    error moves the state out of OPEN), the connection is lost. Every other way out of
    OPEN goes through :meth:`TranscribeStream._fail` first, which clears the flag.
    """

    stream: TranscribeStream | None = None

    def _update(self) -> None:
        stream = self.stream
        if stream is not None:
            stream._writable = (
                stream._error is None
                and self.protocol.state is _OPEN
                and not self.paused
                and not stream._rolling
            )

    def pause_writing(self) -> None:
        super().pause_writing()
        self._update()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._update()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # may write (a pong, a close frame) to the transport
        stream = self.stream
        if stream is not None:
            stream._transport_dirty()
        self._update()

    def connection_lost(self, exc: Exception | None) -> None:
        stream = self.stream
        if stream is not None:
            stream._detach()  # before the transport closes the socket
        super().connection_lost(exc)
        self._update()


def _check_positive(name: str, value: float, *, allow_inf: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number of seconds, not {value!r}") from None
    if not (v > 0) or (math.isinf(v) and not allow_inf):
        raise ParameterError(
            f"{name} must be > 0{'' if allow_inf else ' and finite'}, not {value!r}"
        )
    return v


class TranscribeClient:
    """Opens Transcribe streams; one client serves any number of concurrent streams.

    Args:
        region: AWS region; None resolves it (``AWS_REGION``, ``AWS_DEFAULT_REGION``,
            profile) at the first connect.
        credentials: fixed :class:`~scribewire.transcribe.credentials.Credentials`, a
            callable returning them, or None for the default chain (explicit
            environment, shared files, botocore), re-resolved at every connect so
            temporary credentials keep working.
        profile: AWS profile for credentials and region.
        endpoint: base URL of another endpoint (``ws://127.0.0.1:PORT`` for the local
            service); None for AWS (``wss://transcribestreaming.<region>.amazonaws.com:8443``).
        speed: pacing factor: 1.0 is real time (what AWS requires, protocol.md §5),
            ``math.inf`` sends as fast as the socket takes it (local service only).
        chunk_duration: seconds of audio per AudioEvent, 0 < d <= 1.0.
        keepalive_after: seconds without caller audio after which silence is sent at the
            normal pace (must stay well under the service's 15 s idle limit); None
            disables it.
        buffer_duration: seconds of framed audio each stream buffers before ``send`` waits.
        open_timeout: seconds for the TCP connect and WebSocket upgrade.
        end_timeout: seconds ``end()`` waits, after the end of audio was sent, for a
            message or the close from the service (each message restarts the clock).
        send_timeout: seconds a stream may stay blocked on a full socket (the service
            stopped reading) before it fails with ``ConnectionClosed``.
        write_limit: bytes the socket may buffer before writing pauses (high-water mark).
        reconnect_attempts: new connections tried, one after another with backoff
            (0.25 s doubling to 4 s), when a connection is lost mid-stream or the service
            sends a retryable exception (``ServiceError.retryable``: internal failure,
            unavailable, limit exceeded) or refuses an upgrade with 429 or a 5xx; 0
            disables reconnecting. The count starts again once the new connection
            delivers a result.
        max_replay_seconds: unacknowledged audio each stream keeps to replay on a new
            connection (:class:`~scribewire.transcribe.ledger.AudioLedger`: audio the
            service has not finished with, i.e. not yet covered by a final result), in
            seconds, at least twice ``buffer_duration`` (``send`` never lets the audio
            accepted and not yet written exceed it); older audio is dropped from the
            replay buffer and counted in ``TranscribeStream.ledger.dropped_seconds``.
            Memory: ``max_replay_seconds x sample_rate x 2 x channels`` bytes per stream at
            most.
        rollover_after: seconds of audio after which a stream moves to a new connection
            (ends the old one cleanly, then replays what is unacknowledged), under the
            service's 14,400 s limit per stream (protocol.md §5 limits).

    Raises:
        ParameterError: a timing argument out of range.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        credentials: Credentials | Callable[[], Credentials] | None = None,
        profile: str | None = None,
        endpoint: str | None = None,
        speed: float = 1.0,
        chunk_duration: float = DEFAULT_CHUNK_DURATION,
        keepalive_after: float | None = 2.0,
        buffer_duration: float = 2.0,
        open_timeout: float = 10.0,
        end_timeout: float = 30.0,
        send_timeout: float = 20.0,
        write_limit: int = 65_536,
        reconnect_attempts: int = 3,
        max_replay_seconds: float = 10.0,
        rollover_after: float = 14_100.0,
    ) -> None:
        self.speed = _check_positive("speed", speed, allow_inf=True)
        cd = _check_positive("chunk_duration", chunk_duration)
        if cd > MAX_CHUNK_DURATION:
            raise ParameterError(
                f"chunk_duration must be <= {MAX_CHUNK_DURATION} s (at most 1 s of audio per "
                f"AudioEvent, protocol.md §5), not {chunk_duration!r}"
            )
        self.chunk_duration = cd
        self.keepalive_after = (
            None if keepalive_after is None else _check_positive("keepalive_after", keepalive_after)
        )
        self.buffer_duration = _check_positive("buffer_duration", buffer_duration)
        self.open_timeout = _check_positive("open_timeout", open_timeout)
        self.end_timeout = _check_positive("end_timeout", end_timeout)
        self.send_timeout = _check_positive("send_timeout", send_timeout)
        if int(write_limit) < 1024:
            raise ParameterError(f"write_limit must be >= 1024 bytes, not {write_limit!r}")
        self.write_limit = int(write_limit)
        if isinstance(reconnect_attempts, bool) or not isinstance(reconnect_attempts, int) or (
            reconnect_attempts < 0
        ):
            raise ParameterError(
                f"reconnect_attempts must be an int >= 0, not {reconnect_attempts!r}"
            )
        self.reconnect_attempts = reconnect_attempts
        try:
            replay = float(max_replay_seconds)
        except (TypeError, ValueError):
            replay = math.nan
        if not (replay >= 0 and math.isfinite(replay)):
            raise ParameterError(
                f"max_replay_seconds must be a finite number >= 0, not {max_replay_seconds!r}"
            )
        self.max_replay_seconds = replay
        self.rollover_after = _check_positive("rollover_after", rollover_after)
        if self.rollover_after > MAX_STREAM_SECONDS:
            raise ParameterError(
                f"rollover_after must be <= {MAX_STREAM_SECONDS:g} s (the service ends a "
                f"stream after 4 h, protocol.md §5), not {rollover_after!r}"
            )
        if replay < 2 * self.buffer_duration:
            raise ParameterError(
                f"max_replay_seconds ({max_replay_seconds!r} s) must be at least twice "
                f"buffer_duration ({buffer_duration!r} s): audio accepted and not yet sent "
                "must fit in the replay buffer"
            )
        if self.rollover_after <= replay:
            raise ParameterError(
                f"rollover_after ({rollover_after!r} s) must exceed max_replay_seconds "
                f"({max_replay_seconds!r} s): each new connection replays up to that much"
            )
        self.endpoint = endpoint
        self.profile = profile
        self._region = region
        if credentials is None:
            self._credentials: Callable[[], Credentials] = CredentialProvider(profile=profile)
        elif isinstance(credentials, Credentials):
            fixed = credentials
            self._credentials = lambda: fixed
        elif callable(credentials):
            self._credentials = credentials
        else:
            raise ParameterError(
                "credentials must be Credentials, a callable or None, "
                f"not {type(credentials).__name__}"
            )
        self._counter = _pacing.MessageCounter()
        self._framer = ClientFramer()

    @property
    def messages_sent(self) -> int:
        """AudioEvents written by all streams of this client (a counter for benchmarks)."""
        return int(self._counter.value)

    def __repr__(self) -> str:
        where = self.endpoint or f"AWS {self._region or '(region from the environment)'}"
        return f"<TranscribeClient {where} speed={self.speed:g}>"

    @property
    def region(self) -> str:
        """The region URLs are signed for (resolved on first use).

        Raises:
            CredentialsError: none given and none found in the environment or profile.
        """
        if self._region is None:
            self._region = resolve_region(profile=self.profile)
        return self._region

    def stream(
        self, params: Params, *, configuration: ConfigurationEvent | None = None
    ) -> TranscribeStream:
        """A stream for ``params``; use it as ``async with client.stream(params) as s:``.

        Args:
            params: ``StreamParams``, ``MedicalStreamParams`` or ``CallAnalyticsParams``
                (``media_encoding`` must be ``pcm``: the client paces and keeps alive
                with PCM).
            configuration: the Call Analytics ``ConfigurationEvent`` (channel roles),
                sent as the first event (protocol.md §4.4).

        Raises:
            ParameterError: a non-``pcm`` encoding, or a configuration on another path.
        """
        return TranscribeStream(self, params, configuration)

    async def transcribe_file(
        self,
        path: str | os.PathLike[str],
        params: Params,
        *,
        configuration: ConfigurationEvent | None = None,
        channel: int | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> list[Event]:
        """Stream an audio file (any format ``scribewire.audio.open_audio`` reads) and
        return every event received, in order.

        The file is converted on the way to the stream's format: ``params.sample_rate``
        Hz, 1 channel (the mean of the file's channels, or ``channel``) or 2 with channel
        identification / a Call Analytics configuration.

        Args:
            path: the audio file.
            params: stream parameters.
            configuration: Call Analytics channel roles.
            channel: stream only this channel of the file (0-based).
            on_event: called with each event as it arrives.

        Raises:
            AudioFileError: missing, unreadable or unsupported file.
            AudioFormatError: the file's channels do not fit the parameters.
            plus the errors of :meth:`TranscribeStream.send` and :meth:`TranscribeStream.end`.
        """
        with open_audio(path) as source:
            channels = 2 if configuration is not None else params.channels
            if channels > 1 and source.channels != channels and channel is None:
                raise AudioFormatError(
                    f"{path}: {source.channels} channel(s), but the stream expects {channels}"
                )
            events: list[Event] = []

            def take(event: Event) -> None:
                events.append(event)
                if on_event is not None:
                    on_event(event)

            await self._stream_source(source, params, configuration, channels, channel, take)
            return events

    async def _stream_source(
        self,
        source: AudioSource,
        params: Params,
        configuration: ConfigurationEvent | None,
        channels: int,
        channel: int | None,
        on_event: Callable[[Event], None],
    ) -> None:
        """Stream ``source`` converted to ``params.sample_rate`` Hz and ``channels``
        (``channel`` alone if given), ten AudioEvents' worth per read, then end it; hand
        each event to ``on_event`` as it arrives. Shared by :meth:`transcribe_file` and
        the CLI."""
        frames = max(1, round(params.sample_rate * self.chunk_duration)) * 10
        chunks = source.chunks(
            frames, sample_rate=params.sample_rate, channels=channels, channel=channel
        )
        async with self.stream(params, configuration=configuration) as stream:
            feeder = asyncio.ensure_future(_feed(stream, chunks))
            try:
                async for event in stream:
                    on_event(event)
                await feeder
            finally:
                if not feeder.done():
                    feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)

    # ------------------------------------------------------------------ internals

    async def _connect(self, session: TranscribeSession) -> _Connection:
        """Resolve credentials, presign just now, and open the WebSocket."""
        from . import __version__

        credentials = self._credentials()
        url = session.request_url(
            credentials,
            _dt.datetime.now(_dt.timezone.utc),
            region=self.region,
            endpoint=self.endpoint,
        )
        try:
            conn = await connect(
                url,
                create_connection=_Connection,
                compression=None,
                ping_interval=None,
                ping_timeout=None,
                open_timeout=self.open_timeout,
                close_timeout=2.0,
                write_limit=self.write_limit,
                max_size=2**20,
                user_agent_header=f"scribewire/{__version__}",
            )
        except InvalidStatus as exc:
            response = exc.response
            body = bytes(response.body or b"").decode("utf-8", "replace")[:500]
            raise HandshakeRejected(response.status_code, body) from None
        except InvalidHandshake as exc:
            raise ConnectionClosed(None, f"WebSocket upgrade failed: {exc}") from None
        except (OSError, asyncio.TimeoutError) as exc:
            target = url.split("?", 1)[0]
            why = (
                "timed out" if isinstance(exc, asyncio.TimeoutError) else (exc.strerror or str(exc))
            )
            raise ConnectionClosed(None, f"cannot connect to {target}: {why}") from None
        assert isinstance(conn, _Connection)  # create_connection made it
        return conn


async def _feed(stream: TranscribeStream, chunks: Iterable[bytes]) -> None:
    """Send every chunk, then end; a failure here (e.g. the file fails to decode) fails
    the stream, so the task iterating its events stops too."""
    try:
        for chunk in chunks:
            await stream.send(chunk)
        await stream.end()
    except Exception as exc:
        stream._fail(exc, abort=True)
        raise


class TranscribeStream(_pacing.PacedWriter):
    """One live stream. Create with :meth:`TranscribeClient.stream`, use with ``async with``.

    ``send`` audio, ``end`` it, and iterate the stream for typed events
    (``TranscriptEvent``, ``MedicalTranscriptEvent``, ``UtteranceEvent``,
    ``CategoryEvent``, ``UnknownEvent``). Iteration ends when the service closes after
    the end of audio; a failure is raised from the iterator, ``send`` and ``end``.

    Leaving the ``async with`` block normally ends the stream (as ``end()``) if the
    caller did not; leaving it with an exception or by cancellation closes the socket at
    once.

    Reconnects (``TranscribeClient(reconnect_attempts=...)``): when the connection is
    lost mid-stream or the service sends a retryable exception, the stream opens a new
    connection (credentials and URL made anew), replays the audio the service had not
    finished with (``ledger``), sends it at twice the normal pace until it has caught
    up, and carries on; events keep one time base (``StartTime`` and the other times are
    seconds from the start of the whole stream, across connections). Past
    ``rollover_after`` seconds of audio on one connection the stream ends it cleanly and
    continues on a new one the same way (the 4 h limit). ``send`` waits while a
    reconnect is under way and the buffer is full: nothing accepted is lost, except audio
    older than ``max_replay_seconds`` that the service had not finished with when the
    connection was lost (counted in ``ledger.dropped_seconds``).

    Attributes:
        params: the stream parameters.
        session: the sans-I/O session of the current connection (counters:
            ``audio_bytes_sent``, ``events_received``).
        ledger: the :class:`~scribewire.transcribe.ledger.AudioLedger` of the stream
            (acknowledged, unacknowledged and dropped seconds; ``reconnects``).
        connections: connections opened so far (1 after ``open``).
        connection_offsets: for each connection, the stream time (s) of its first audio:
            its events' times are shifted by this much.
    """

    # the per-message state (queue, deadlines, transport) is the PacedWriter base's
    __slots__ = (
        "__weakref__",
        "_attempts",
        "_backlog",
        "_bytes_per_second",
        "_chunk_nbytes",
        "_client",
        "_configuration",
        "_conn",
        "_drained",
        "_end_frames",
        "_error",
        "_error_raised",
        "_event_waiter",
        "_events",
        "_last_receive",
        "_loop",
        "_max_frames",
        "_partial",
        "_receiver",
        "_resampler",
        "_rolling",
        "_speed",
        "_step_normal",
        "_tail_nbytes",
        "_unframed",
        "_wheel",
        "connection_offsets",
        "connections",
        "ledger",
        "params",
        "session",
    )

    def __init__(
        self, client: TranscribeClient, params: Params, configuration: ConfigurationEvent | None
    ) -> None:
        if not isinstance(params, (StreamParams, MedicalStreamParams, CallAnalyticsParams)):
            raise ParameterError(
                f"params must be a Transcribe parameters object, not {type(params).__name__}"
            )
        if params.media_encoding != "pcm":
            raise ParameterError(
                f"media-encoding {params.media_encoding!r}: the streaming client sends pcm "
                "(it paces and keeps streams alive with PCM); convert with scribewire.audio"
            )
        if configuration is not None and not isinstance(params, CallAnalyticsParams):
            raise ParameterError(
                "a ConfigurationEvent is only for CallAnalyticsParams (protocol.md §4.4)"
            )
        super().__init__(client._counter)
        self._client = client
        self.params = params
        self._configuration = configuration
        self.session = self._new_session()
        self._speed = client.speed
        self._conn: _Connection | None = None
        # _writable is kept current by the connection (see _Connection). The queue holds
        # WebSocket frames of AudioEvents waiting for their time: every one carries
        # ``_chunk_nbytes`` of audio except the remainder queued by end() (``_tail_nbytes``)
        self._end_frames: list[bytes] | None = None
        self._error: BaseException | None = None
        self._error_raised = False
        self._events: collections.deque[Event] = collections.deque()
        self._event_waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._resampler: tuple[int, Resampler] | None = None
        self._last_receive = 0.0
        self._bytes_per_second = 0
        self._chunk_nbytes = 0
        self._tail_nbytes = 0
        self._max_frames = max(2, math.ceil(client.buffer_duration / client.chunk_duration))
        # a waiting send() wakes when a quarter is left and tops the buffer up in one go
        self._low_water = self._max_frames // 4
        channels = 2 if configuration is not None else params.channels
        self.ledger = AudioLedger(
            params.sample_rate, channels, max_replay_seconds=client.max_replay_seconds
        )
        self._partial = b""  # a trailing part of a frame, waiting for the rest
        self._unframed = 0  # bytes accepted during a rollover (in the ledger only)
        self._rolling = False
        self._attempts = 0
        self._backlog = 0  # replayed frames the queue may hold beyond its bound
        self._step_normal = 0.0
        self.connections = 0
        self.connection_offsets: list[float] = []

    def __repr__(self) -> str:
        state = "failed" if self._error else ("ending" if self._ending else "open")
        return f"<TranscribeStream {self.params.path} {state} sent={self.audio_seconds_sent:.1f}s>"

    @property
    def audio_seconds_sent(self) -> float:
        """Seconds of audio written to the socket so far (keepalive silence included)."""
        if not self._bytes_per_second:
            return 0.0
        queued = self._queued() * self._chunk_nbytes
        if queued and self._ending:  # the remainder, last in the queue, may be shorter
            queued -= self._chunk_nbytes - self._tail_nbytes
        held = self.session.buffered_bytes  # a partial chunk not framed yet
        unsent = queued + held + len(self._partial) + self._unframed
        return max(0.0, self.ledger.sent_nbytes - unsent) / self._bytes_per_second

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> TranscribeStream:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                if self._error is None:
                    await self.end()
                elif not self._error_raised:
                    self._check()
            finally:
                await self.aclose()
            return
        await self.aclose()

    async def open(self) -> None:
        """Resolve credentials, presign, connect, and send the configuration if any.

        Raises:
            CredentialsError: no credentials or region.
            HandshakeRejected: the service refused the upgrade (HTTP status and body).
            ConnectionClosed: the endpoint is unreachable or the upgrade timed out.
        """
        if self._conn is not None:
            raise ScribewireError("stream already open")
        self._loop = asyncio.get_running_loop()
        self._wheel = _pacing.wheel_for_loop(self._loop)
        session = self.session
        self._conn = conn = await self._client._connect(session)
        self.connections = 1
        self.connection_offsets.append(0.0)
        self._bytes_per_second = self.ledger.bytes_per_frame * self.params.sample_rate
        now = self._loop.time()
        self._next_due = now
        self._idle_since = now
        self._attach(conn.transport)
        conn.stream = self
        conn._update()
        if self._configuration is not None:
            self._write(session.send_configuration(self._configuration))
        self._chunk_nbytes = self._tail_nbytes = session.chunk_bytes
        # loop seconds between two AudioEvents (0 at infinite speed)
        self._step_normal = self._chunk_nbytes / self._bytes_per_second / self._speed
        self._set_step(self._step_normal)
        self._receiver = self._loop.create_task(self._receive())
        keepalive = self._client.keepalive_after
        if keepalive is not None:
            self._keepalive_after = keepalive
            self._wheel.schedule(self, now + keepalive)

    async def aclose(self) -> None:
        """Close the socket now (no end of stream); safe to call more than once."""
        self._wheel_discard()
        conn = self._conn
        if conn is not None and conn.protocol.state is not State.CLOSED:
            conn.transport.abort()
        receiver = self._receiver
        if receiver is not None and not receiver.done():
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        if self._error is None and not self._done():
            self._fail(ConnectionClosed(None, "stream closed by the caller"), report=False)
        self._writable = False
        if conn is not None:
            conn.stream = None  # no reference cycle left behind
        self.session.close()

    def _new_session(self) -> TranscribeSession:
        """A sans-I/O session for one connection, framing with the client's framer."""
        client = self._client
        return TranscribeSession(
            self.params, chunk_duration=client.chunk_duration, framer=client._framer
        )

    def _wheel_discard(self) -> None:
        wheel = getattr(self, "_wheel", None)
        if wheel is not None:
            wheel.discard(self)

    # ------------------------------------------------------------------ sending

    def _pcm(self, audio: object, sample_rate: int | None) -> memoryview:
        """The caller's audio as int16 interleaved PCM at the declared rate."""
        dtype = getattr(audio, "dtype", None)
        if dtype is not None:
            if str(dtype) == "float32":
                audio = float32_to_int16(audio)
            elif str(dtype) != "int16":
                raise AudioTypeError(f"audio arrays must be int16 or float32, not {dtype}")
        # a strided array is an AudioTypeError too, as for TranscribeSession.send_audio
        view = byte_view(audio, "audio", "int16 PCM or a numpy array", layout_error=AudioTypeError)
        bpf = self.session.bytes_per_frame or 2
        if sample_rate is not None and sample_rate != self.params.sample_rate:
            if self._resampler is None or self._resampler[0] != sample_rate:
                self._resampler = (
                    sample_rate,
                    Resampler(sample_rate, self.params.sample_rate, bpf // 2),
                )
            if len(view) % bpf:
                raise AudioFormatError(
                    f"audio of {len(view)} bytes is not whole frames of {bpf} bytes"
                )
            view = memoryview(self._resampler[1].process(view))
        return view

    async def send(self, audio: object, *, sample_rate: int | None = None) -> None:
        """Queue audio; waits while the stream's buffer is full (backpressure).

        Args:
            audio: signed 16-bit little-endian PCM (bytes-like, channels interleaved: 1,
                or 2 with channel identification / Call Analytics), or a numpy array of
                int16 or float32 (full scale ±1.0, clipped) samples in that layout. Any
                size; partial frames wait for the next call. Empty input does nothing.
            sample_rate: the audio's rate in Hz when it differs from the declared
                ``params.sample_rate`` (resampled with soxr HQ); None means the declared
                rate.

        Raises:
            AudioTypeError: not bytes-like / not C-contiguous / an array of another dtype.
            AudioFormatError: resampled audio that is not whole frames.
            SessionStateError: ``end()`` was already called.
            ServiceError, ProtocolError, ConnectionClosed: the stream failed.
        """
        self._check()
        if self._ending:
            raise SessionStateError("send() after end()")
        view = self._pcm(audio, sample_rate)
        bpf = self.ledger.bytes_per_frame
        if self._partial:
            view = memoryview(self._partial + view)
            self._partial = b""
        whole = len(view) // bpf * bpf
        if whole != len(view):  # the rest of this frame comes with the next call
            self._partial = bytes(view[whole:])
            view = view[:whole]
        if self._backlog and self._queued() <= self._low_water:
            self._caught_up()
        chunks = self._max_frames - self._low_water
        step = self._chunk_nbytes * chunks
        # never more accepted-and-unwritten audio than the ledger keeps for a replay
        most = self.ledger.max_replay_nbytes // self._chunk_nbytes - chunks
        for offset in range(0, len(view), step):
            while (held := self._held()) >= self._max_frames + self._backlog or held > most:
                await self._wait_space()
            self._queue_audio(view[offset : offset + step])
            self._idle_since = None
            self._kick()

    def _queue_audio(self, pcm: memoryview | bytes) -> None:
        """Record whole frames in the ledger, frame them, queue the AudioEvents, and
        start the rollover when this connection has carried ``rollover_after`` s."""
        self.ledger.record(pcm)
        if self._rolling:  # the old session has ended: the ledger replays it on the next
            self._unframed += len(pcm)
            return
        self._queue_frames(self.session.send_audio(pcm))
        if not self._ending and self.ledger.connection_seconds >= self._client.rollover_after:
            self._start_rollover()

    def _start_rollover(self) -> None:
        """End this connection cleanly (the empty AudioEvent after what has been written;
        the frames still queued are replayed on the next one): the receiver reconnects
        once the service has sent its last results and closed."""
        self._rolling = True
        self._writable = False
        *_, end_frame = self.session.end_of_stream()  # the held-back audio is in the ledger
        self._write(end_frame)
        conn = self._conn

        def overdue() -> None:  # the service never closed: drop it, reconnect anyway
            if self._rolling and self._conn is conn and conn is not None:
                conn.transport.abort()

        self._loop.call_later(self._client.end_timeout, overdue)

    def _held(self) -> int:
        """Chunks accepted and not yet written: queued frames, plus audio not framed yet
        (the session's partial chunk; everything sent during a rollover)."""
        unframed = self._unframed + self.session.buffered_bytes
        return self._queued() + -(-unframed // self._chunk_nbytes)

    def _caught_up(self) -> None:
        """The replay after a reconnect has left: back to the normal pace and bound."""
        self._backlog = 0
        self._set_step(self._step_normal)

    def _set_step(self, step: float) -> None:
        """Loop seconds between two AudioEvents; at most two of them behind schedule, so
        a stall or a pause never turns into a burst."""
        self._step = step
        self._max_lag = 2 * step

    def _kick(self) -> None:
        """Write what is due now (no wait for a tick) and keep the stream in the wheel."""
        now = self._loop.time()
        when = self.pace(now)
        if when is not None:
            self._wheel.schedule(self, when)

    async def _wait_space(self) -> None:
        fut = self._space
        if fut is None or fut.done():
            fut = self._space = self._loop.create_future()
        await fut
        self._check()

    async def end(self) -> None:
        """End the audio and wait for every result.

        Sends the buffered audio (paced), the remainder, then the empty AudioEvent
        (protocol.md §4.1), then waits until the service closes the stream. Events stay
        available to the iterator. Calling it again waits for the same end.

        Raises:
            ConnectionClosed: the service did not close within ``end_timeout`` seconds, or
                the connection was lost.
            ServiceError, ProtocolError: the stream failed.
            AudioFormatError: the audio sent ends inside a frame.
        """
        self._check()
        if self._conn is None:
            raise ScribewireError("end() on a stream that is not open")
        if not self._ending:
            if self._partial:
                raise AudioFormatError(
                    f"audio ends inside a frame: {len(self._partial)} bytes left over, not a "
                    f"whole frame of {self.ledger.bytes_per_frame} bytes"
                )
            self._drained = self._loop.create_future()
            if self._rolling:  # the session has ended already: the next one will end
                self._ending = True
            else:
                self._queue_end()
            self._kick()
        drained = self._drained  # set together with _ending
        if drained is not None and not drained.done():
            await asyncio.shield(drained)
        # the clock starts when the end frame has left (it may have left at once, in _kick)
        self._last_receive = self._loop.time()
        self._check()
        receiver = self._receiver
        timeout = self._client.end_timeout
        while receiver is not None and not receiver.done():
            # the service may still be working through audio: any message restarts the clock
            quiet = self._loop.time() - self._last_receive
            if quiet >= timeout:
                self._fail(
                    ConnectionClosed(
                        None,
                        f"the service sent nothing for {timeout:g} s after the end of audio "
                        "and did not close the stream",
                    ),
                    abort=True,
                )
                break
            await asyncio.wait([receiver], timeout=timeout - quiet)
        self._check()

    # ------------------------------------------------------------------ pacing

    # pace(now), inherited from PacedWriter, writes the AudioEvents due at loop time
    # ``now`` (one frame per ``_step`` s, each written at once while the stream is
    # writable: see _Connection) and calls these three hooks

    def _queue_end(self) -> None:
        """End the session's audio: the remainder (one shorter AudioEvent, last in the
        queue) and the end frame, written by ``_write_end`` once the queue is empty."""
        session = self.session
        before = session.audio_bytes_sent
        *audio, end_frame = session.end_of_stream()
        self._ending = True
        if audio:
            self._tail_nbytes = session.audio_bytes_sent - before
            self._queue_frames(audio)
        self._end_frames = [end_frame]

    def _write_end(self) -> None:
        """Everything queued has left: write the end-of-stream frame (protocol.md §4.1)."""
        end_frames = self._end_frames
        if end_frames:
            for frame in end_frames:
                self._write(frame)
            self._end_frames = []
            drained = self._drained
            if drained is not None and not drained.done():
                drained.set_result(None)

    def _queue_silence(self) -> None:
        """The caller's audio paused for ``keepalive_after`` s: one chunk of PCM silence,
        sent at the normal pace, so the 15 s idle rule (protocol.md §5) never ends a
        live call."""
        if self._backlog:
            self._caught_up()
        self._queue_audio(bytes(self._chunk_nbytes))

    def _not_writable(self, now: float) -> float | None:
        """Paused by a full socket buffer: try again shortly (``_blocked``); not open,
        failed or closing: leave the wheel (the receiver reports why)."""
        conn = self._conn
        if (
            conn is None
            or self._error is not None
            or self._rolling
            or conn.protocol.state is not _OPEN
        ):
            return None  # the receiver reports why, or reconnects
        return self._blocked(now)

    def _blocked(self, now: float) -> float | None:
        if self._blocked_since is None:
            self._blocked_since = now
        elif now - self._blocked_since > self._client.send_timeout:
            self._fail(
                ConnectionClosed(
                    None,
                    f"the service has not read for {self._client.send_timeout:g} s "
                    "(socket buffer full)",
                ),
                abort=True,
            )
            return None
        return now + _RETRY

    # ------------------------------------------------------------------ receiving

    async def _receive(self) -> None:
        """The stream's one task: read each connection until it ends; after a loss, a
        retryable service exception or the rollover, connect again and replay."""
        try:
            while True:
                outcome = await self._receive_connection()
                if outcome is None or not await self._recover(outcome):
                    break
        finally:
            self._wheel_discard()
            self._wake_events()
            if self._error is None:
                self.session.close()

    async def _receive_connection(self) -> BaseException | None:
        """Read the current connection until it closes: None when the stream ended
        normally, else what ended the connection (delivered events first)."""
        conn = self._conn
        assert conn is not None
        session = self.session
        try:
            while True:
                try:
                    data = await conn.recv(decode=False)
                except ConnectionClosedOK as exc:
                    if self._rolling:
                        return _Rollover()
                    if not self._ending or self._end_frames:
                        code = exc.rcvd.code if exc.rcvd is not None else 1000
                        reason = exc.rcvd.reason if exc.rcvd is not None else ""
                        return ConnectionClosed(
                            code, reason or "the service closed the stream before its end"
                        )
                    return None
                except WsConnectionClosed as exc:
                    rcvd = exc.rcvd
                    return ConnectionClosed(
                        rcvd.code if rcvd is not None else None,
                        rcvd.reason if rcvd is not None else "connection lost",
                    )
                self._last_receive = self._loop.time()
                events = session.receive_data(data)
                if events:
                    self._attempts = 0  # this connection works
                    self._deliver(events)
        except ServiceError as exc:
            self._deliver_partial(exc)
            await self._close_quietly(1000, "")
            return exc
        except ProtocolError as exc:
            self._deliver_partial(exc)
            await self._close_quietly(1002, str(exc)[:120])
            return exc

    def _deliver(self, events: list[Event]) -> None:
        """Events of the current connection to the caller, on the stream's time base."""
        ledger = self.ledger
        shifted = []
        for event in events:
            ledger.observe(event)
            shifted.append(ledger.shift(event))
        self._events.extend(shifted)
        self._wake_events()

    def _retryable(self, exc: BaseException) -> bool:
        if self._error is not None:
            return False
        if isinstance(exc, _Rollover):
            return True
        if self._attempts >= self._client.reconnect_attempts:
            return False
        if isinstance(exc, ServiceError):
            return type(exc).retryable
        if isinstance(exc, HandshakeRejected):
            return exc.status == 429 or exc.status >= 500
        return isinstance(exc, ConnectionClosed)

    async def _recover(self, exc: BaseException) -> bool:
        """Connect again after ``exc`` ended the connection; False (and the stream
        failed with the last error) when that is not allowed or every attempt failed."""
        while self._retryable(exc):
            if not isinstance(exc, _Rollover):
                delay = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2**self._attempts)
                self._attempts += 1
                await asyncio.sleep(delay)
                if self._error is not None:
                    return False
            try:
                await self._reconnect()
                return True
            except (ConnectionClosed, HandshakeRejected) as again:
                exc = again
        self._fail(exc)  # (a rollover ends here only when the stream has failed already)
        return False

    async def _reconnect(self) -> None:
        """A new connection and session; the unacknowledged audio first (faster than
        real time until it has caught up), then the queue as before.

        Raises:
            ConnectionClosed, HandshakeRejected: the new connection failed (the stream
                stays as it was, ready for another attempt).
            CredentialsError: no credentials any more.
        """
        old = self._conn
        if old is not None:
            old.stream = None
            if old.protocol.state is not State.CLOSED:
                old.transport.abort()
        self._writable = False
        self._detach()
        session = self._new_session()
        conn = await self._client._connect(session)
        self.session.close()
        self.session = session
        self._conn = conn
        self.connections += 1
        self._rolling = False
        self._blocked_since = None
        self._attach(conn.transport)
        conn.stream = self
        if self._configuration is not None:
            self._write(session.send_configuration(self._configuration))
        # the old connection's queue is in the ledger's unacknowledged audio: start over
        self._clear_queue()
        self._unframed = 0
        replay = self.ledger.reconnect()
        self.connection_offsets.append(self.ledger.offset)
        frames = session.send_audio(replay) if replay else []
        self._queue_frames(frames)
        self._backlog = len(frames)
        if self._backlog:  # catch up with live audio: faster than real time for a while
            self._set_step(self._step_normal / _CATCH_UP)
        if self._ending:
            self._end_frames = None
            self._queue_end()
        now = self._loop.time()
        self._next_due = now
        self._idle_since = None
        conn._update()
        self._kick()
        space = self._space
        if space is not None and not space.done():
            space.set_result(None)  # send() may go on: the bound now counts the backlog

    def _deliver_partial(self, exc: BaseException) -> None:
        events = getattr(exc, "events", None)
        if events:
            self._events.extend(events)

    async def _close_quietly(self, code: int, reason: str) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(code, reason), 2.0)
        except (asyncio.TimeoutError, OSError, WsConnectionClosed):
            conn.transport.abort()

    def _fail(self, exc: BaseException, *, abort: bool = False, report: bool = True) -> None:
        self._writable = False
        if self._error is None:
            self._error = exc
            if not report:
                self._error_raised = True
        self._wheel_discard()
        if abort and self._conn is not None:
            self._conn.transport.abort()
        for fut in (self._space, self._drained, self._event_waiter):
            if fut is not None and not fut.done():
                fut.set_result(None)

    def _check(self) -> None:
        err = self._error
        if err is not None:
            self._error_raised = True
            raise err

    def _done(self) -> bool:
        r = self._receiver
        return r is not None and r.done()

    def _wake_events(self) -> None:
        w = self._event_waiter
        if w is not None and not w.done():
            w.set_result(None)

    # ------------------------------------------------------------------ events

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        events = self._events
        while not events:
            if self._done() or (self._error is not None and self._receiver is None):
                if self._error is not None and not self._error_raised:
                    self._error_raised = True
                    raise self._error
                raise StopAsyncIteration
            if self._receiver is None:
                raise ScribewireError("iterating a stream that is not open")
            waiter = self._event_waiter = self._loop.create_future()
            await waiter
            self._event_waiter = None
        return events.popleft()


def run(coro: Any) -> Any:
    """Run ``coro`` in a new event loop (uvloop's when installed) and return its result."""
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def transcribe(
    path: str | os.PathLike[str],
    params: Params,
    *,
    configuration: ConfigurationEvent | None = None,
    channel: int | None = None,
    **client_options: Any,
) -> list[Event]:
    """Synchronous wrapper for scripts: stream one file, return every event.

    Args:
        path: the audio file (formats of ``scribewire.audio.open_audio``).
        params: stream parameters.
        configuration: Call Analytics channel roles.
        channel: stream only this channel of the file.
        **client_options: keyword arguments of :class:`TranscribeClient`
            (``region``, ``endpoint``, ``credentials``, ``speed``, ...).

    Raises:
        The errors of :meth:`TranscribeClient.transcribe_file`.
    """

    async def main() -> list[Event]:
        client = TranscribeClient(**client_options)
        return await client.transcribe_file(
            path, params, configuration=configuration, channel=channel
        )

    result: list[Event] = run(main())
    return result
