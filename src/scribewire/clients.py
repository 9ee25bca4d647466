"""The clients users construct: auth plus which sans-I/O session a stream runs.

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

Everything a stream does (pacing, bounded buffers, keepalive, reconnect with replay, the
rollover, deadlines) is the provider-neutral :class:`~scribewire.transport.stream.Stream`;
a client only says how to authenticate, where to connect and which session, events and
acknowledgement rule the provider uses.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .assemblyai.ack import TurnAck
from .assemblyai.auth import DEFAULT_HOST, ApiKey, TemporaryToken
from .assemblyai.limits import DEFAULT_CHUNK_SECONDS as AAI_CHUNK_SECONDS
from .assemblyai.limits import MAX_FRAME_MS as AAI_MAX_FRAME_MS
from .assemblyai.limits import MAX_SESSION_SECONDS as AAI_MAX_SESSION_SECONDS
from .assemblyai.limits import MIN_FRAME_MS as AAI_MIN_FRAME_MS
from .assemblyai.params import StreamingParams
from .assemblyai.session import AssemblyAISession, ShortTail
from .audio import ulaw_encode
from .errors import AudioFormatError, CredentialsError, ParameterError
from .media.files import AudioSource, open_audio, read_range
from .metrics import StreamObserver
from .streaming.replay import AudioLedger, Refetch
from .streaming.session import ProviderSession
from .transcribe.ack import TranscribeAck
from .transcribe.credentials import Credentials
from .transcribe.events import ConfigurationEvent, Event
from .transcribe.limits import MAX_CHUNK_DURATION, MAX_STREAM_SECONDS, RECOMMENDED_CHUNK_DURATION
from .transcribe.params import CallAnalyticsParams, MedicalStreamParams, StreamParams
from .transcribe.session import TranscribeSession
from .transport import pacing as _pacing
from .transport.connection import Connection, open_connection
from .transport.credentials import CredentialCache, CredentialProvider, resolve_region
from .transport.options import StreamOptions
from .transport.stream import Stream
from .wsframe import ClientFramer

__all__ = [
    "AssemblyAIClient",
    "AssemblyAIStream",
    "DEFAULT_CHUNK_DURATION",
    "Params",
    "Stream",
    "TranscribeClient",
    "TranscribeStream",
    "run",
    "transcribe",
]

_S = TypeVar("_S", bound=Stream)

Params = StreamParams | MedicalStreamParams | CallAnalyticsParams
"""Any of the three operations' parameter objects."""

DEFAULT_CHUNK_DURATION = RECOMMENDED_CHUNK_DURATION
"""Seconds of audio per AudioEvent (AWS recommends 50-200 ms, protocol.md §5)."""

TranscribeStream = Stream
"""The stream a :class:`TranscribeClient` opens (the provider-neutral ``Stream``)."""


def _user_agent() -> str:
    from . import __version__

    return f"scribewire/{__version__}"


class _PacedClient:
    """What both clients share: the stream options, one message counter and one masking
    framer for all their streams."""

    options: StreamOptions

    def __init__(self, options: StreamOptions, observer: StreamObserver | None) -> None:
        self.options = options
        self.observer = observer
        self._counter = _pacing.MessageCounter()
        self._framer = ClientFramer()

    def _open(self, cls: type[_S], provider: Any, refetch: Refetch | None, track_acks: bool) -> _S:
        """A ``cls`` stream of ``provider`` with this client's options, counter and observer."""
        return cls(
            provider,
            self.options,
            self._counter,
            refetch=refetch,
            observer=self.observer,
            track_acks=track_acks,
        )

    @property
    def speed(self) -> float:
        """The pacing factor (1.0: real time)."""
        return self.options.speed

    @property
    def chunk_duration(self) -> float:
        """Seconds of audio per audio message."""
        return self.options.chunk_duration

    @property
    def messages_sent(self) -> int:
        """Audio messages written by all streams of this client (a counter for benchmarks)."""
        return int(self._counter.value)


class TranscribeClient(_PacedClient):
    """Opens Amazon Transcribe streams; one client serves any number of concurrent streams.

    Args:
        region: AWS region; None resolves it (``AWS_REGION``, ``AWS_DEFAULT_REGION``,
            profile) at the first connect, off the event loop.
        credentials: fixed :class:`~scribewire.transcribe.credentials.Credentials`, a
            callable returning them, or None for the default chain (explicit
            environment, shared files, botocore). Resolved in a worker thread, kept until
            shortly before they expire, so temporary credentials keep working and a
            reconnect storm never blocks the loop.
        profile: AWS profile for credentials and region.
        endpoint: base URL of another endpoint (``ws://127.0.0.1:PORT`` for the local
            service); None for AWS (``wss://transcribestreaming.<region>.amazonaws.com:8443``).
        speed: pacing factor: 1.0 is real time (what AWS requires, protocol.md §5),
            ``math.inf`` sends as fast as the socket takes it (local service only).
        chunk_duration: seconds of audio per AudioEvent, 0 < d <= 1.0 (protocol.md §5).
        keepalive_after: seconds without caller audio after which silence is sent at the
            normal pace (well under the service's 15 s idle limit); None disables it.
        buffer_duration: seconds of framed audio each stream buffers before ``send`` waits.
        open_timeout: seconds for the TCP connect and WebSocket upgrade.
        end_timeout: seconds ``end()`` may take from the moment it is called.
        send_timeout: seconds a stream may stay blocked on a full socket (the service
            stopped reading) before it fails with ``ConnectionClosed``.
        write_limit: bytes the socket may buffer before writing pauses (high-water mark).
        reconnect_attempts: reconnects allowed within ``reconnect_window`` seconds when a
            connection is lost mid-stream, the service sends a retryable exception
            (internal failure, unavailable, limit exceeded) or refuses an upgrade with
            429 or a 5xx; 0 disables reconnecting. The count starts again only after a
            connection has stayed up 10 s and moved the acknowledgement point.
        reconnect_window: seconds over which reconnects are counted.
        max_replay_nbytes: memory budget of each live stream's replay buffer (audio the
            service has not finished with), bytes; it must hold twice
            ``buffer_duration`` of the stream's audio. File streams (``transcribe_file``,
            the CLI) read audio that left it again from the file: they never lose audio.
        rollover_after: seconds of audio after which a stream moves to a new connection
            (ends the old one cleanly, then replays what is unacknowledged), under the
            service's 14,400 s limit per stream (protocol.md §5 limits).
        max_events: events waiting for the caller before a stream stops reading the socket.
        observer: a :class:`~scribewire.metrics.StreamObserver` told about every
            stream's open, close, reconnects, service errors and final latency (e.g.
            :class:`~scribewire.metrics.PrometheusObserver`); None (the default) costs
            nothing per audio message.

    Raises:
        ParameterError: an argument out of range.
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
        reconnect_window: float = 60.0,
        max_replay_nbytes: int = 1_048_576,
        rollover_after: float = 14_100.0,
        max_events: int = 4096,
        observer: StreamObserver | None = None,
    ) -> None:
        super().__init__(
            StreamOptions(
                speed=speed,
                chunk_duration=chunk_duration,
                keepalive_after=keepalive_after,
                buffer_duration=buffer_duration,
                open_timeout=open_timeout,
                end_timeout=end_timeout,
                send_timeout=send_timeout,
                write_limit=write_limit,
                reconnect_attempts=reconnect_attempts,
                reconnect_window=reconnect_window,
                max_replay_nbytes=max_replay_nbytes,
                rollover_after=rollover_after,
                max_events=max_events,
            ),
            observer,
        )
        if self.options.chunk_duration > MAX_CHUNK_DURATION:
            raise ParameterError(
                f"chunk_duration must be <= {MAX_CHUNK_DURATION} s (at most 1 s of audio per "
                f"AudioEvent, protocol.md §5), not {chunk_duration!r}"
            )
        if self.options.rollover_after > MAX_STREAM_SECONDS:
            raise ParameterError(
                f"rollover_after must be <= {MAX_STREAM_SECONDS:g} s (the service ends a "
                f"stream after 4 h, protocol.md §5), not {rollover_after!r}"
            )
        self.endpoint = endpoint
        self.profile = profile
        self._region = region
        self._region_lock: asyncio.Lock | None = None
        if credentials is None:
            source: Callable[[], Credentials] = CredentialProvider(profile=profile)
        elif isinstance(credentials, Credentials):
            fixed = credentials
            source = lambda: fixed  # noqa: E731 - a constant source
        elif callable(credentials):
            source = credentials
        else:
            raise ParameterError(
                "credentials must be Credentials, a callable or None, "
                f"not {type(credentials).__name__}"
            )
        self._credentials = CredentialCache(source)

    def __repr__(self) -> str:
        where = self.endpoint or f"AWS {self._region or '(region from the environment)'}"
        return f"<TranscribeClient {where} speed={self.speed:g}>"

    async def region(self) -> str:
        """The region URLs are signed for (resolved once, off the event loop).

        Raises:
            CredentialsError: none given and none found in the environment or profile.
        """
        if self._region is None:
            if self._region_lock is None:
                self._region_lock = asyncio.Lock()
            async with self._region_lock:
                if self._region is None:
                    self._region = await asyncio.to_thread(resolve_region, profile=self.profile)
        return self._region

    def stream(
        self,
        params: Params,
        *,
        configuration: ConfigurationEvent | None = None,
        refetch: Refetch | None = None,
        track_acks: bool = False,
    ) -> Stream:
        """A stream for ``params``; use it as ``async with client.stream(params) as s:``.

        Args:
            params: ``StreamParams``, ``MedicalStreamParams`` or ``CallAnalyticsParams``
                (``media_encoding`` must be ``pcm``: the client paces and keeps alive
                with PCM).
            configuration: the Call Analytics ``ConfigurationEvent`` (channel roles),
                sent as the first event (protocol.md §4.4).
            refetch: for a source that can read its audio again (a file),
                ``refetch(start, end)`` returns the int16 PCM bytes of stream positions
                ``[start, end)`` as sent before: the stream's replay then never loses
                audio (it is called in a worker thread).
            track_acks: keep, with each event, the acknowledged position right after it
                (``stream.event_ack_nbytes`` as each is iterated): for a consumer that
                must never claim more than the results it has handled (the pool).

        Raises:
            ParameterError: a non-``pcm`` encoding, a configuration on another path, or
                a replay budget too small for ``buffer_duration`` at this rate.
        """
        return self._open(
            Stream, _TranscribeProvider(self, params, configuration), refetch, track_acks
        )

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
        identification / a Call Analytics configuration. After a reconnect the audio the
        service had not finished with is read again from the file if it has left memory:
        nothing is lost.

        Args:
            path: the audio file.
            params: stream parameters.
            configuration: Call Analytics channel roles.
            channel: stream only this channel of the file (0-based).
            on_event: called with each event as it arrives.

        Raises:
            AudioFileError: missing, unreadable or unsupported file.
            AudioFormatError: the file's channels do not fit the parameters.
            plus the errors of :meth:`Stream.send` and :meth:`Stream.end`.
        """
        channels = 2 if configuration is not None else params.channels
        events: list[Event] = []

        def take(event: Event) -> None:
            events.append(event)
            if on_event is not None:
                on_event(event)

        await self._stream_source(
            lambda: open_audio(path), params, configuration, channels, channel, take
        )
        return events

    async def _stream_source(
        self,
        reopen: Callable[[], AudioSource],
        params: Params,
        configuration: ConfigurationEvent | None,
        channels: int,
        channel: int | None,
        on_event: Callable[[Event], None],
        *,
        finish: Callable[[], None] | None = None,
    ) -> Stream:
        """Stream the file ``reopen()`` opens (see :func:`_stream_file`), converted to
        ``params.sample_rate`` Hz and ``channels`` (``channel`` alone if given). Shared by
        :meth:`transcribe_file` and the CLI."""
        return await _stream_file(
            lambda refetch: self.stream(params, configuration=configuration, refetch=refetch),
            reopen,
            sample_rate=params.sample_rate,
            channels=channels,
            channel=channel,
            chunk_duration=self.chunk_duration,
            on_event=on_event,
            finish=finish,
        )

    async def _connect(self, session: TranscribeSession) -> Connection:
        """Credentials (cached, resolved off the loop), a URL presigned just now, and the
        WebSocket."""
        credentials = await self._credentials.get()
        region = await self.region()
        url = session.request_url(
            credentials,
            _dt.datetime.now(_dt.timezone.utc),
            region=region,
            endpoint=self.endpoint,
        )
        options = self.options
        return await open_connection(
            url,
            open_timeout=options.open_timeout,
            write_limit=options.write_limit,
            user_agent=_user_agent(),
        )


class _TranscribeProvider:
    """What a Transcribe stream needs from its client (a ``StreamProvider``)."""

    __slots__ = (
        "_client",
        "params",
        "configuration",
        "sample_rate",
        "channels",
        "bytes_per_frame",
        "label",
    )

    encoding = "pcm"

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
        self._client = client
        self.params = params
        self.configuration = configuration
        self.sample_rate = params.sample_rate
        self.channels = 2 if configuration is not None else params.channels
        self.bytes_per_frame = 2 * self.channels  # int16 PCM
        self.label = params.path
        options = client.options
        per_second = self.sample_rate * 2 * self.channels
        if options.max_replay_nbytes < 2 * options.buffer_duration * per_second:
            raise ParameterError(
                f"max_replay_nbytes ({options.max_replay_nbytes}) must hold twice "
                f"buffer_duration ({options.buffer_duration:g} s) of this stream's audio "
                f"({per_second} bytes per second): audio accepted and not yet sent must "
                "fit in the replay buffer"
            )
        if options.rollover_after * per_second <= options.max_replay_nbytes:
            raise ParameterError(
                f"rollover_after ({options.rollover_after:g} s) must exceed the replay "
                f"budget ({options.max_replay_nbytes / per_second:g} s of this stream's "
                "audio): each new connection replays up to that much"
            )

    def new_session(self) -> TranscribeSession:
        client = self._client
        return TranscribeSession(
            self.params, chunk_duration=client.chunk_duration, framer=client._framer
        )

    async def connect(self, session: ProviderSession) -> Connection:
        assert isinstance(session, TranscribeSession)  # made by new_session
        return await self._client._connect(session)

    def opening_frames(self, session: ProviderSession) -> list[bytes]:
        if self.configuration is None:
            return []
        assert isinstance(session, TranscribeSession)
        return [session.send_configuration(self.configuration)]

    def new_ledger(self, refetchable: bool) -> AudioLedger:
        return AudioLedger(
            self.sample_rate,
            2 * self.channels,
            TranscribeAck(self.channels),
            max_replay_nbytes=self._client.options.max_replay_nbytes,
            refetchable=refetchable,
        )


class AssemblyAIClient(_PacedClient):
    """Opens AssemblyAI Universal-Streaming v3 sessions (assemblyai.md); one client serves
    any number of concurrent streams, with the same stream shape as
    :class:`TranscribeClient` and every guarantee of the shared core (real-time pacing:
    the service closes a session sent audio faster than real time, 3007, §5; bounded
    buffers; reconnect with replay; the rollover before the 3 h session limit).

    Args:
        api_key: the API key, sent raw in ``Authorization`` (§1.2); None reads
            ``ASSEMBLYAI_API_KEY``. Never shown in reprs, logs or errors.
        token: instead of a key, a temporary token (``GET /v3/token``, §1.3), or a
            callable returning a fresh one for each connection (a token opens one
            session; a reconnect needs another).
        host: ``"default"``, ``"us"``, ``"eu"`` (§1.1), a host name, or a base URL.
        endpoint: base URL of another endpoint (``ws://127.0.0.1:PORT`` for the local
            service); overrides ``host``.
        chunk_duration: seconds of audio per binary message, 0.05..1.0 (§3.1).
        short_tail: a last message shorter than 50 ms: ``"pad"`` with silence,
            ``"send"`` it short, or ``"drop"`` it (see ``AssemblyAISession``).
        speed, keepalive_after, buffer_duration, open_timeout, end_timeout, send_timeout,
        write_limit, reconnect_attempts, reconnect_window, max_replay_nbytes,
        rollover_after, max_events, observer: as for :class:`TranscribeClient`
        (``rollover_after`` must stay under the 10,800 s session limit, §2.4).

    Raises:
        ParameterError: an argument out of range.
        CredentialsError: no key, no token and no ``ASSEMBLYAI_API_KEY`` (at ``stream``
            time, so a client for the local service needs none).
    """

    def __init__(
        self,
        *,
        api_key: str | ApiKey | None = None,
        token: str | TemporaryToken | Callable[[], str | TemporaryToken] | None = None,
        host: str = DEFAULT_HOST,
        endpoint: str | None = None,
        speed: float = 1.0,
        chunk_duration: float = AAI_CHUNK_SECONDS,
        short_tail: ShortTail = "pad",
        keepalive_after: float | None = 2.0,
        buffer_duration: float = 2.0,
        open_timeout: float = 10.0,
        end_timeout: float = 30.0,
        send_timeout: float = 20.0,
        write_limit: int = 65_536,
        reconnect_attempts: int = 3,
        reconnect_window: float = 60.0,
        max_replay_nbytes: int = 1_048_576,
        rollover_after: float = 10_500.0,
        max_events: int = 4096,
        observer: StreamObserver | None = None,
    ) -> None:
        super().__init__(
            StreamOptions(
                speed=speed,
                chunk_duration=chunk_duration,
                keepalive_after=keepalive_after,
                buffer_duration=buffer_duration,
                open_timeout=open_timeout,
                end_timeout=end_timeout,
                send_timeout=send_timeout,
                write_limit=write_limit,
                reconnect_attempts=reconnect_attempts,
                reconnect_window=reconnect_window,
                max_replay_nbytes=max_replay_nbytes,
                rollover_after=rollover_after,
                max_events=max_events,
            ),
            observer,
        )
        lo, hi = AAI_MIN_FRAME_MS / 1000, AAI_MAX_FRAME_MS / 1000
        if not lo <= self.options.chunk_duration <= hi:
            raise ParameterError(
                f"chunk_duration must be {lo:g}..{hi:g} s (each audio message holds "
                f"50-1000 ms, assemblyai.md §3.1), not {chunk_duration!r}"
            )
        if self.options.rollover_after >= AAI_MAX_SESSION_SECONDS:
            raise ParameterError(
                f"rollover_after must be < {AAI_MAX_SESSION_SECONDS} s (the service ends a "
                f"session after 3 h, assemblyai.md §2.4), not {rollover_after!r}"
            )
        if short_tail not in ("pad", "send", "drop"):
            raise ParameterError(f"short_tail must be 'pad', 'send' or 'drop', not {short_tail!r}")
        self.short_tail: ShortTail = short_tail
        self.endpoint = endpoint
        self.host = host
        self._api_key = None if api_key is None else ApiKey(api_key)
        self._token = token

    def __repr__(self) -> str:
        where = self.endpoint or self.host
        auth_kind = "token" if self._token is not None else "key"
        return f"<AssemblyAIClient {where} {auth_kind} speed={self.speed:g}>"

    def _credential(self) -> tuple[ApiKey | None, TemporaryToken | None]:
        """The key (for ``Authorization``) or a token (for the URL) of one connection."""
        token = self._token
        if token is not None:
            value = token() if callable(token) and not isinstance(token, str) else token
            return None, TemporaryToken(value)
        if self._api_key is not None:
            return self._api_key, None
        env = os.environ.get("ASSEMBLYAI_API_KEY")
        if env:
            return ApiKey(env), None
        raise CredentialsError(
            "no AssemblyAI credentials: pass api_key= or token=, or set ASSEMBLYAI_API_KEY"
        )

    def stream(
        self,
        params: StreamingParams,
        *,
        refetch: Refetch | None = None,
        track_acks: bool = False,
    ) -> AssemblyAIStream:
        """A stream for ``params``; use it as ``async with client.stream(params) as s:``.

        ``send`` takes int16 PCM (or numpy int16/float32) at ``params.sample_rate``;
        with ``encoding="pcm_mulaw"`` the stream encodes it to μ-law for the wire.
        Events are ``Begin``, ``Turn``, ``SpeechStarted``, ``Termination`` (and the
        other messages of §4), times on one base across reconnects.

        Args:
            params: the session's :class:`~scribewire.assemblyai.StreamingParams` (mono:
                AssemblyAI has no channels; stream each channel on its own).
            refetch: for a source that can read its audio again, ``refetch(start, end)``
                returns wire bytes ``[start, end)`` as sent before (see TranscribeClient).
            track_acks: keep, with each event, the acknowledged position right after it
                (``stream.event_ack_nbytes``), as for TranscribeClient (the pool).

        Raises:
            ParameterError: not a ``StreamingParams``, or a replay budget too small.
            CredentialsError: no key or token (see the class).
        """
        return self._open(AssemblyAIStream, _AssemblyAIProvider(self, params), refetch, track_acks)

    async def transcribe_file(
        self,
        path: str | os.PathLike[str],
        params: StreamingParams,
        *,
        channel: int | None = None,
        on_event: Callable[[Any], None] | None = None,
    ) -> list[Any]:
        """Stream an audio file and return every event received, in order.

        The file is converted to ``params.sample_rate`` Hz mono (the mean of its
        channels, or ``channel`` alone); after a reconnect, audio that left memory is
        read again from the file: nothing is lost. For one session per channel of a
        stereo call, see :meth:`transcribe_channels`.

        Raises:
            AudioFileError: missing, unreadable or unsupported file.
            plus the errors of :meth:`Stream.send` and :meth:`Stream.end`.
        """
        events: list[Any] = []

        def take(event: Any) -> None:
            events.append(event)
            if on_event is not None:
                on_event(event)

        await self._stream_source(lambda: open_audio(path), params, channel, take)
        return events

    async def transcribe_channels(
        self, path: str | os.PathLike[str], params: StreamingParams
    ) -> dict[int, list[Any]]:
        """One session per channel of the file, concurrently (AssemblyAI has no channel
        identification): ``{channel: events}``, each channel's times on its own base.

        Raises:
            The errors of :meth:`transcribe_file`.
        """
        with open_audio(path) as source:
            channels = source.channels
        results = await asyncio.gather(
            *(self.transcribe_file(path, params, channel=ch) for ch in range(channels))
        )
        return dict(enumerate(results))

    async def _stream_source(
        self,
        reopen: Callable[[], AudioSource],
        params: StreamingParams,
        channel: int | None,
        on_event: Callable[[Any], None],
        *,
        finish: Callable[[], None] | None = None,
    ) -> Stream:
        """Stream the file ``reopen()`` opens, mono (``channel`` alone if given); for
        :meth:`transcribe_file` and the CLI."""
        return await _stream_file(
            lambda refetch: self.stream(params, refetch=refetch),
            reopen,
            sample_rate=params.sample_rate,
            channels=1,
            channel=channel,
            chunk_duration=self.chunk_duration,
            on_event=on_event,
            finish=finish,
            encoding="mulaw" if params.encoding == "pcm_mulaw" else "pcm",
        )


class AssemblyAIStream(Stream):
    """The stream an :class:`AssemblyAIClient` opens: the shared ``Stream`` plus the
    session's two control messages (assemblyai.md §3.2, §3.3)."""

    __slots__ = ()

    def _control(self, frame: bytes) -> None:
        # written at once, ahead of audio still queued for its time (at most
        # ``buffer_duration``): the service applies it to the audio it has received
        self._require_open("a control message")
        self._check()
        self._write(frame)

    def update_configuration(self, **fields: object) -> None:
        """Send ``UpdateConfiguration`` (§3.3) now; the new values also hold for every
        later connection of the stream (reconnects, the rollover).

        Raises:
            ParameterError: a field that is not updatable or a value breaking its rule.
            NotOpenError, SessionStateError: the stream is not open, or is ending.
        """
        session = self.session
        assert isinstance(session, AssemblyAISession)
        frame = session.update_configuration(**fields)
        provider = self._provider
        assert isinstance(provider, _AssemblyAIProvider)
        provider.params = session.params
        self._control(frame)

    def force_endpoint(self) -> None:
        """Send ``ForceEndpoint`` (§3.2): the open turn ends now and its final comes back.

        Raises:
            NotOpenError, SessionStateError: the stream is not open, or is ending.
        """
        session = self.session
        assert isinstance(session, AssemblyAISession)
        self._control(session.force_endpoint())


class _AssemblyAIProvider:
    """What an AssemblyAI stream needs from its client (a ``StreamProvider``)."""

    __slots__ = ("_client", "params", "sample_rate", "encoding", "bytes_per_frame", "label")

    channels = 1

    def __init__(self, client: AssemblyAIClient, params: StreamingParams) -> None:
        if not isinstance(params, StreamingParams):
            raise ParameterError(
                f"params must be assemblyai.StreamingParams, not {type(params).__name__}"
            )
        self._client = client
        self.params = params
        self.sample_rate = params.sample_rate
        self.encoding = "mulaw" if params.encoding == "pcm_mulaw" else "pcm"
        self.bytes_per_frame = params.bytes_per_frame
        self.label = f"assemblyai/{params.speech_model}"
        options = client.options
        per_second = params.bytes_per_second
        if options.max_replay_nbytes < 2 * options.buffer_duration * per_second:
            raise ParameterError(
                f"max_replay_nbytes ({options.max_replay_nbytes}) must hold twice "
                f"buffer_duration ({options.buffer_duration:g} s) of this stream's audio "
                f"({per_second} bytes per second)"
            )

    def new_session(self) -> AssemblyAISession:
        client = self._client
        return AssemblyAISession(
            self.params,
            chunk_duration=client.chunk_duration,
            framer=client._framer,
            short_tail=client.short_tail,
        )

    async def connect(self, session: ProviderSession) -> Connection:
        assert isinstance(session, AssemblyAISession)  # made by new_session
        client = self._client
        key, token = client._credential()
        host = client.endpoint or client.host
        options = client.options
        return await open_connection(
            session.request_url(host=host, token=token),
            headers=session.request_headers(key, user_agent=None),
            open_timeout=options.open_timeout,
            write_limit=options.write_limit,
            user_agent=_user_agent(),
        )

    def opening_frames(self, session: ProviderSession) -> list[bytes]:
        return []

    def new_ledger(self, refetchable: bool) -> AudioLedger:
        return AudioLedger(
            self.sample_rate,
            self.bytes_per_frame,
            TurnAck(formats_turns=self.params.formats_turns),
            max_replay_nbytes=self._client.options.max_replay_nbytes,
            refetchable=refetchable,
        )


async def _stream_file(
    open_stream: Callable[[Refetch], Stream],
    reopen: Callable[[], AudioSource],
    *,
    sample_rate: int,
    channels: int,
    channel: int | None,
    chunk_duration: float,
    on_event: Callable[[Any], None],
    finish: Callable[[], None] | None = None,
    encoding: str = "pcm",
) -> Stream:
    """Stream the file ``reopen()`` opens, converted to ``sample_rate`` Hz and
    ``channels`` (``channel`` alone if given), ten messages' worth per read, then end it;
    hand each event to ``on_event`` as it arrives. Audio a reconnect needs again is read
    from the file (``read_range``), in the stream's wire encoding (``"mulaw"``: one byte
    per sample, encoded as the stream encodes what it is sent); ``finish`` is called
    after the last event. Returns the (ended) stream. Any provider's client."""
    frames = max(1, round(sample_rate * chunk_duration)) * 10
    convert: dict[str, Any] = {"sample_rate": sample_rate, "channels": channels, "channel": channel}

    def refetch(start: int, end: int) -> bytes:
        if encoding == "mulaw":  # wire positions are one byte per sample; PCM two
            return bytes(ulaw_encode(read_range(reopen, frames, 2 * start, 2 * end, **convert)))
        return read_range(reopen, frames, start, end, **convert)

    with reopen() as source:
        if channels > 1 and source.channels != channels and channel is None:
            raise AudioFormatError(
                f"{source.path}: {source.channels} channel(s), but the stream expects {channels}"
            )
        chunks = source.chunks(frames, **convert)
        stream = open_stream(refetch)
        async with stream:
            feeder = asyncio.ensure_future(_feed(stream, chunks))
            try:
                async for event in stream:
                    on_event(event)
                await feeder
                if finish is not None:
                    finish()
            finally:
                if not feeder.done():
                    feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)
    return stream


async def _feed(stream: Stream, chunks: Iterable[bytes]) -> None:
    """Send every chunk, then end; a failure here (e.g. the file fails to decode) fails
    the stream, so the task iterating its events stops too."""
    try:
        for chunk in chunks:
            await stream.send(chunk)
        await stream.end()
    except Exception as exc:
        stream._fail(exc, abort=True)
        raise


def run(coro: Any) -> Any:
    """Run ``coro`` in a new event loop (uvloop's when installed) and return its result.

    The choice is made before the coroutine runs, so an error it raises is never chained
    under uvloop's ``ImportError``."""
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        uvloop = None
    if uvloop is None:
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
