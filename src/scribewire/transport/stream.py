"""The ``Stream`` users hold: send audio, end it, iterate typed events; for any provider.

A stream is the asyncio shell around the sans-I/O pieces (DESIGN.md "Layers" 3-4):

- a provider session per connection (:class:`~scribewire.streaming.session.ProviderSession`)
  frames audio and decodes the service's messages;
- the :class:`~scribewire.streaming.replay.AudioLedger` keeps what the service has not
  finished with, by the provider's acknowledgement rule, and shifts event times onto one
  time base across connections;
- the :class:`~scribewire.streaming.supervisor.Supervisor` says when to reconnect, when to
  give up and by when ``end()`` must return.

The shell moves bytes and dispatches events. It writes each ready-made WebSocket frame
through the loop's one :class:`~scribewire.transport.pacing.PacingWheel` (this class is a
``PacedWriter``: real-time pacing, keepalive silence, the end of audio) and reads with
one task per stream.

Guarantees (each tested against misbehaving peers on loopback):

- **bounded both ways**: ``send`` waits while ``buffer_duration`` seconds of framed audio
  are queued (and never lets audio accepted but unwritten exceed the replay budget); the
  receiver stops reading the socket while ``max_events`` events wait for the caller, so
  a flooding peer meets TCP backpressure instead of growing memory;
- **end has a deadline**: ``end()`` returns (or raises) within ``end_timeout`` seconds of
  being called, whatever the peer keeps sending;
- **reconnects end**: the supervisor's budget cannot reset forever;
- **no silent loss**: a file source can re-read audio that left memory
  (``refetch``); a live source's overflow is a ``ReplayOverflow`` warning, a log record,
  a counter (``ledger.dropped_nbytes``);
- **misuse is typed**: ``send``/``end``/iteration before ``open`` raise
  ``NotOpenError``; after ``end``, ``send`` raises ``SessionStateError``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
from collections.abc import AsyncIterator, Awaitable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from websockets.exceptions import ConnectionClosed as WsConnectionClosed
from websockets.exceptions import ConnectionClosedOK

from ..errors import (
    AudioFormatError,
    ConnectionClosed,
    NotOpenError,
    ParameterError,
    ProtocolError,
    ScribewireError,
    ServiceError,
    SessionStateError,
)
from ..media.normalise import InputNormaliser
from ..streaming.replay import AudioLedger, Refetch
from ..streaming.session import ProviderSession
from ..streaming.supervisor import CATCH_UP, Finish, GiveUp, Reconnect
from . import pacing as _pacing
from .connection import Connection
from .options import StreamOptions

if TYPE_CHECKING:
    from ..metrics import StreamObserver

__all__ = ["Stream", "StreamProvider"]

logger = logging.getLogger("scribewire.stream")

_RETRY = 0.02  # seconds between write attempts while the socket buffer is full
#: send() pieces remembered for the final latency (oldest forgotten first)
_MAX_MARKS = 4096


class StreamProvider(Protocol):
    """What a client gives each of its streams: the provider-specific parts."""

    #: the stream's rate, Hz
    sample_rate: int
    #: interleaved channels the caller sends
    channels: int
    #: ``"pcm"`` or ``"mulaw"``: the wire encoding of the audio
    encoding: str
    #: bytes of one frame of all channels in the wire encoding
    bytes_per_frame: int
    #: a label for reprs and logs
    label: str

    def new_session(self) -> ProviderSession:
        """A sans-I/O session for one new connection."""
        ...

    def connect(self, session: ProviderSession) -> Awaitable[Connection]:
        """Resolve credentials (off the loop), build the URL and open the WebSocket."""
        ...

    def opening_frames(self, session: ProviderSession) -> list[bytes]:
        """Frames to write first on each connection (e.g. a configuration event)."""
        ...

    def new_ledger(self, refetchable: bool) -> AudioLedger:
        """The replay ledger of a stream (the provider's ack rule inside)."""
        ...


class _Rollover(Exception):
    """The old connection ended cleanly for the rollover (never leaves the stream)."""


class Stream(_pacing.PacedWriter):
    """One live stream; open it with ``async with client.stream(...) as stream``.

    ``send`` audio, ``end`` it, and iterate the stream for the provider's typed events.
    Iteration ends when the service has closed after the end of audio; a failure is
    raised from the iterator, ``send`` and ``end``. Leaving the ``async with`` block
    normally ends the stream (as ``end()``) if the caller did not; leaving it with an
    exception or by cancellation closes the socket at once.

    Attributes:
        session: the sans-I/O session of the current connection.
        ledger: the replay ledger (acknowledged, unacknowledged and dropped audio;
            ``reconnects``).
        supervisor: the reconnect policy (``connections``, ``reconnects``).
        connections: connections opened so far (1 after ``open``).
        connection_offsets: for each connection, the stream time (s) of its first audio:
            its events' times are shifted by this much.
    """

    # the per-message state (queue, deadlines, transport) is the PacedWriter base's
    __slots__ = (
        "__weakref__",
        "_acks",
        "_backlog",
        "_bytes_per_second",
        "_catch_up_nbytes",
        "_chunk_nbytes",
        "_closed",
        "_conn",
        "_drained",
        "_end_frames",
        "_error",
        "_error_raised",
        "_event_space",
        "_event_waiter",
        "_events",
        "_loop",
        "_marks",
        "_max_frames",
        "_normalise",
        "_observer",
        "_opened",
        "_options",
        "_provider",
        "_receiver",
        "_refetch",
        "_rolling",
        "_step_normal",
        "_tail_nbytes",
        "_unframed",
        "_wheel",
        "connection_offsets",
        "connections",
        "event_ack_nbytes",
        "ledger",
        "session",
        "supervisor",
    )

    def __init__(
        self,
        provider: StreamProvider,
        options: StreamOptions,
        counter: _pacing.MessageCounter,
        *,
        refetch: Refetch | None = None,
        observer: StreamObserver | None = None,
        track_acks: bool = False,
    ) -> None:
        super().__init__(counter)
        # None costs one check at open, close, reconnect and acknowledgement; nothing
        # per audio message
        self._observer = observer
        # (stream position at the end of a send() piece, loop time it was accepted):
        # for the final latency, kept only with an observer
        self._marks: collections.deque[tuple[int, float]] | None = (
            None if observer is None else collections.deque(maxlen=_MAX_MARKS)
        )
        # the ledger's acknowledgement point after each event waiting for the caller
        self._acks: collections.deque[int] | None = collections.deque() if track_acks else None
        #: with ``track_acks``: the ledger's acknowledged position (bytes) right after
        #: the event iteration returned last was observed (what a consumer that
        #: publishes results in order may claim as covered, never more)
        self.event_ack_nbytes = 0
        self._provider = provider
        self._options = options
        self.session = provider.new_session()
        self.ledger = provider.new_ledger(refetch is not None)
        self._refetch = refetch
        self.supervisor = options.supervisor()
        self._normalise = InputNormaliser(
            provider.sample_rate, provider.channels, provider.encoding
        )
        self._conn: Connection | None = None
        self._opened = False
        self._closed = False
        # The queue holds WebSocket frames waiting for their time: every one carries
        # ``_chunk_nbytes`` of audio except the remainder queued by end() (``_tail_nbytes``)
        self._end_frames: list[bytes] | None = None
        self._error: BaseException | None = None
        self._error_raised = False
        self._events: collections.deque[Any] = collections.deque()
        self._event_waiter: asyncio.Future[None] | None = None
        self._event_space: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._receiver: asyncio.Task[None] | None = None
        self._bytes_per_second = 0
        self._chunk_nbytes = 0
        self._tail_nbytes = 0
        self._max_frames = max(2, math.ceil(options.buffer_duration / options.chunk_duration))
        # a waiting send() wakes when a quarter is left and tops the buffer up in one go
        self._low_water = self._max_frames // 4
        self._unframed = 0  # bytes accepted during a rollover (in the ledger only)
        self._rolling = False
        self._backlog = 0  # replayed frames the queue may hold beyond its bound
        self._catch_up_nbytes = 0  # late audio the caller announced and has not sent yet
        self._step_normal = 0.0
        self.connections = 0
        self.connection_offsets: list[float] = []

    def __repr__(self) -> str:
        state = "failed" if self._error else ("ending" if self._ending else "open")
        return (
            f"<Stream {self._provider.label} {state} sent={self.audio_seconds_sent:.1f}s "
            f"connections={self.connections}>"
        )

    @property
    def audio_seconds_sent(self) -> float:
        """Seconds of audio written to the socket so far (keepalive silence included)."""
        if not self._bytes_per_second:
            return 0.0
        queued = self._queued() * self._chunk_nbytes
        if queued and self._ending:  # the remainder, last in the queue, may be shorter
            queued -= self._chunk_nbytes - self._tail_nbytes
        held = self.session.buffered_bytes  # a partial chunk not framed yet
        unsent = queued + held + self._unframed
        return max(0.0, self.ledger.sent_nbytes - unsent) / self._bytes_per_second

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Stream:
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
                if self._error is None and not self._closed:
                    await self.end()
                elif not self._error_raised:
                    self._check()
            finally:
                await self.aclose()
            return
        await self.aclose()

    async def open(self) -> None:
        """Resolve credentials, connect, and write the opening frames if any.

        Raises:
            SessionStateError: already opened.
            CredentialsError: no credentials (or region).
            HandshakeRejected: the service refused the upgrade (HTTP status, body).
            ConnectionClosed: the endpoint is unreachable or the upgrade timed out.
        """
        if self._opened:
            raise SessionStateError("stream already opened")
        self._opened = True
        self._loop = asyncio.get_running_loop()
        self._wheel = _pacing.wheel_for_loop(self._loop)
        session = self.session
        conn = await self._provider.connect(session)
        self._bytes_per_second = self._provider.bytes_per_frame * self._provider.sample_rate
        self._chunk_nbytes = self._tail_nbytes = session.chunk_bytes
        # loop seconds between two audio messages (0 at infinite speed)
        self._step_normal = self._chunk_nbytes / self._bytes_per_second / self._options.speed
        self._set_step(self._step_normal)
        now = self._loop.time()
        self._use_connection(conn, now)
        self._idle_since = now
        self._receiver = self._loop.create_task(self._receive())
        if self._observer is not None:
            self._observer.stream_opened(self)
        keepalive = self._options.keepalive_after
        if keepalive is not None:
            self._keepalive_after = keepalive
            self._wheel.schedule(self, now + keepalive)

    def _use_connection(self, conn: Connection, now: float) -> None:
        """Make ``conn`` the stream's connection: flags, opening frames, counters."""
        self._conn = conn
        self.connections += 1
        self.supervisor.opened(now)
        self.connection_offsets.append(self.ledger.offset)
        self._rolling = False
        self._blocked_since = None
        self._next_due = now
        self._attach(conn.transport)
        conn.owner = self
        for frame in self._provider.opening_frames(self.session):
            self._write(frame)
        conn._update()

    async def aclose(self) -> None:
        """Close the socket now (no end of stream); safe to call more than once."""
        self._closed = True
        self._wheel_discard()
        conn = self._conn
        if conn is not None:
            conn.abort()
        receiver = self._receiver
        if receiver is not None and not receiver.done():
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
        if self._error is None and not self._done():
            self._fail(
                ConnectionClosed(None, "stream closed by the caller", retryable=False),
                report=False,
            )
        self._writable = False
        self.session.close()

    def _wheel_discard(self) -> None:
        wheel = getattr(self, "_wheel", None)
        if wheel is not None:
            wheel.discard(self)

    def _require_open(self, what: str) -> None:
        if self._closed:
            raise NotOpenError(f"{what} on a stream that was closed (aclose)")
        if not self._opened or self._conn is None:
            raise NotOpenError(
                f"{what} on a stream that is not open: use 'async with client.stream(...)' "
                "or await stream.open() first"
            )

    # ------------------------------------------------------------------ sending

    async def send(self, audio: object, *, sample_rate: int | None = None) -> None:
        """Queue audio; waits while the stream's buffer is full (backpressure).

        Args:
            audio: signed 16-bit little-endian PCM (bytes-like, channels interleaved),
                or a numpy array of int16 or float32 (full scale ±1.0, clipped) samples
                in that layout. Any size; partial frames wait for the next call. Empty
                input does nothing.
            sample_rate: the audio's rate in Hz when it differs from the stream's
                (resampled with soxr HQ); None means the stream's rate.

        Raises:
            NotOpenError: the stream is not open.
            AudioTypeError: not bytes-like / not C-contiguous / an array of another dtype.
            AudioFormatError: resampled audio that is not whole frames.
            SessionStateError: ``end()`` was already called.
            ServiceError, ProtocolError, ConnectionClosed: the stream failed.
        """
        self._require_open("send()")
        self._check()
        if self._ending:
            raise SessionStateError("send() after end()")
        view = self._normalise(audio, sample_rate)
        if self._backlog and not self._catch_up_nbytes and self._queued() <= self._low_water:
            self._caught_up()
        chunks = self._max_frames - self._low_water
        step = self._chunk_nbytes * chunks
        # never more accepted-and-unwritten audio than the ledger keeps for a replay
        budget = self.ledger.max_replay_nbytes
        most = math.inf if budget is None else budget // self._chunk_nbytes - chunks
        for offset in range(0, len(view), step):
            while (held := self._held()) >= self._max_frames + self._backlog or held > most:
                await self._wait_space()
            piece = view[offset : offset + step]
            self._queue_audio(piece)
            if self._catch_up_nbytes:
                self._catch_up_nbytes = max(0, self._catch_up_nbytes - len(piece))
            self._idle_since = None
            self._kick()

    def catch_up(self, nbytes: int) -> None:
        """The next ``nbytes`` of audio sent are late (live audio that waited elsewhere,
        e.g. a call taken over from another worker): pace them, and what is queued with
        them, at the catch-up multiple of the normal pace (the same as a replay after a
        reconnect) until the queue has caught up.

        Args:
            nbytes: bytes of late audio in the stream's input encoding (>= 0).

        Raises:
            NotOpenError: the stream is not open.
            ParameterError: ``nbytes`` is negative or not an int.
        """
        self._require_open("catch_up()")
        if isinstance(nbytes, bool) or not isinstance(nbytes, int) or nbytes < 0:
            raise ParameterError(f"nbytes must be an int >= 0, not {nbytes!r}")
        if not nbytes:
            return
        self._catch_up_nbytes = nbytes
        self._backlog = max(self._backlog, -(-nbytes // self._chunk_nbytes))
        self._set_step(self._step_normal / CATCH_UP)

    def _queue_audio(self, pcm: memoryview | bytes) -> None:
        """Record the audio in the ledger, frame it, queue the messages, and start the
        rollover when this connection has carried ``rollover_after`` s."""
        ledger = self.ledger
        overflows = ledger.overflows
        ledger.record(pcm)  # warns ReplayOverflow when unacknowledged audio leaves memory
        marks = self._marks
        if marks is not None:
            marks.append((ledger.sent_nbytes, self._loop.time()))
        if ledger.overflows != overflows:
            logger.warning(
                "%s: audio the service had not finished with left the replay buffer "
                "(%d bytes); %.2f s dropped so far",
                self._provider.label,
                ledger.max_replay_nbytes or 0,
                ledger.dropped_seconds,
            )
        if self._rolling:  # the old session has ended: the ledger replays it on the next
            self._unframed += len(pcm)
            return
        self._queue_frames(self.session.send_audio(pcm))
        if not self._ending and self.supervisor.rollover_due(self.ledger.connection_seconds):
            self._start_rollover()

    def _start_rollover(self) -> None:
        """End this connection cleanly (the end of audio after what has been written;
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

        self._loop.call_later(self._options.end_timeout, overdue)

    def _held(self) -> int:
        """Chunks accepted and not yet written: queued frames, plus audio not framed yet
        (the session's partial chunk; everything sent during a rollover)."""
        unframed = self._unframed + self.session.buffered_bytes
        return self._queued() + -(-unframed // self._chunk_nbytes)

    def _caught_up(self) -> None:
        """The replay after a reconnect has left: back to the normal pace and bound."""
        self._backlog = 0
        self._catch_up_nbytes = 0
        self._set_step(self._step_normal)

    def _set_step(self, step: float) -> None:
        """Loop seconds between two audio messages; at most two of them behind schedule,
        so a stall or a pause never turns into a burst."""
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

        Sends the buffered audio (paced), the remainder, then the provider's end of
        audio, then waits until the service closes the stream; returns or raises within
        ``end_timeout`` seconds of the first call, whatever the service keeps sending.
        Events stay available to the iterator. Calling it again waits for the same end.

        Raises:
            NotOpenError: the stream is not open.
            ConnectionClosed: the service did not finish within ``end_timeout`` seconds
                of the call, or the connection was lost for good.
            ServiceError, ProtocolError: the stream failed.
            AudioFormatError: the audio sent ends inside a frame.
        """
        self._require_open("end()")
        self._check()
        deadline = self.supervisor.end_deadline(self._loop.time())
        if not self._ending:
            held = self._normalise.held_nbytes
            if held:
                raise AudioFormatError(
                    f"audio ends inside a frame: {held} bytes left over, not a whole frame"
                )
            self._drained = self._loop.create_future()
            if self._rolling:  # the session has ended already: the next one will end
                self._ending = True
            else:
                self._queue_end()
            self._kick()
        receiver = self._receiver
        if receiver is not None and not receiver.done():
            left = deadline - self._loop.time()
            if left > 0:
                await asyncio.wait([receiver], timeout=left)
            if not receiver.done() and self._error is None:
                full = len(self._events) >= self._options.max_events
                why = (
                    f"{len(self._events)} events are waiting to be read (iterate the stream "
                    "while ending it)"
                    if full
                    else "the service did not finish the stream"
                )
                self._fail(
                    ConnectionClosed(
                        None,
                        f"end() timed out after {self._options.end_timeout:g} s: {why}",
                        retryable=False,
                    ),
                    abort=True,
                )
        self._check()

    # ------------------------------------------------------------------ pacing hooks

    def _queue_end(self) -> None:
        """End the session's audio: the remainder (one shorter message, last in the
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
        """Everything queued has left: write the end-of-audio frame."""
        end_frames = self._end_frames
        if end_frames:
            for frame in end_frames:
                self._write(frame)
            self._end_frames = []
            drained = self._drained
            if drained is not None and not drained.done():
                drained.set_result(None)

    def _queue_silence(self) -> None:
        """The caller's audio paused for ``keepalive_after`` s: one chunk of silence at
        the normal pace, so the service's idle rule never ends a live call (recorded in
        the ledger as a count: it costs no replay memory)."""
        if self._backlog:
            self._caught_up()
        n = self._chunk_nbytes
        self.ledger.record_silence(n)
        if self._rolling:
            self._unframed += n
            return
        silence = b"\xff" * n if self._provider.encoding == "mulaw" else bytes(n)
        self._queue_frames(self.session.send_audio(silence))

    def _not_writable(self, now: float) -> float | None:
        """Paused by a full socket buffer: try again shortly (``_blocked``); not open,
        failed or rolling over: leave the wheel (the receiver reports why)."""
        conn = self._conn
        if conn is None or self._error is not None or self._rolling or not conn.is_open:
            return None
        return self._blocked(now)

    def _blocked(self, now: float) -> float | None:
        if self._blocked_since is None:
            self._blocked_since = now
        elif now - self._blocked_since > self._options.send_timeout:
            self._fail(
                ConnectionClosed(
                    None,
                    f"the service has not read for {self._options.send_timeout:g} s "
                    "(socket buffer full)",
                    retryable=False,
                ),
                abort=True,
            )
            return None
        return now + _RETRY

    # ------------------------------------------------------------------ receiving

    async def _receive(self) -> None:
        """The stream's one task: read each connection until it ends; act on what the
        supervisor says (reconnect and replay, give up, finish)."""
        try:
            outcome = await self._receive_connection()
            while True:
                now = self._loop.time()
                observer = self._observer
                if observer is not None and isinstance(outcome, (ServiceError, ProtocolError)):
                    observer.service_error(self, type(outcome).__name__)
                if isinstance(outcome, _Rollover):
                    action = self.supervisor.connection_ended(now, None, rolled=True)
                else:
                    action = self.supervisor.connection_ended(now, outcome)
                if isinstance(action, Reconnect):
                    # the session is over (closed by the loss): until the next one, audio
                    # accepted goes to the ledger only (replayed), not to the dead session
                    self._rolling = True
                while isinstance(action, Reconnect):
                    if self._error is not None:
                        return
                    delay = action.at - self._loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                        if self._error is not None:
                            return
                    try:
                        replayed = await self._reconnect()
                        if observer is not None:
                            cause = (
                                "rollover"
                                if isinstance(outcome, _Rollover)
                                else type(outcome).__name__
                            )
                            observer.reconnected(self, cause, replayed / self._bytes_per_second)
                        break
                    except ScribewireError as again:  # refused, unreachable, credentials
                        action = self.supervisor.connect_failed(self._loop.time(), again)
                if isinstance(action, GiveUp):
                    self._fail(action.error)
                    return
                if isinstance(action, Finish):
                    return
                outcome = await self._receive_connection()
        finally:
            self._wheel_discard()
            self._wake_events()
            if self._error is None:
                self.session.close()
            if self._observer is not None:
                self._observer.stream_closed(self)

    async def _receive_connection(self) -> BaseException | None:
        """Read the current connection until it closes: None when the stream ended
        normally, else what ended the connection (delivered events first)."""
        conn = self._conn
        assert conn is not None
        session = self.session
        limit = self._options.max_events
        try:
            while True:
                while len(self._events) >= limit:  # the caller is not reading: stop reading
                    space = self._event_space = self._loop.create_future()
                    await space
                try:
                    data = await conn.recv(decode=None)
                except ConnectionClosedOK as exc:
                    if self._rolling:
                        return _Rollover()
                    rcvd = exc.rcvd
                    ok_code = rcvd.code if rcvd is not None else 1000
                    reason = rcvd.reason if rcvd is not None else ""
                    meaning = session.receive_close(ok_code, reason)
                    if meaning is not None:
                        return meaning
                    if not self._ending or self._end_frames:
                        return ConnectionClosed(
                            ok_code, reason or "the service closed the stream before its end"
                        )
                    return None
                except WsConnectionClosed as exc:
                    rcvd = exc.rcvd
                    code = rcvd.code if rcvd is not None else None
                    reason = rcvd.reason if rcvd is not None else "connection lost"
                    meaning = session.receive_close(code, reason)
                    return meaning if meaning is not None else ConnectionClosed(code, reason)
                events = session.receive_message(data)
                if events:
                    self._deliver(events)
                failed = session.error
                if failed is not None:
                    raise failed
        except ServiceError as exc:
            await self._close_quietly(1000, "")
            return exc
        except ProtocolError as exc:
            await self._close_quietly(1002, str(exc)[:120])
            return exc

    def _deliver(self, events: list[Any]) -> None:
        """Events of the current connection to the caller, on the stream's time base."""
        ledger = self.ledger
        before = ledger.acknowledged_nbytes
        shifted = []
        acks = self._acks
        for event in events:
            ledger.observe(event)
            shifted.append(ledger.shift(event))
            if acks is not None:
                acks.append(ledger.acknowledged_nbytes)
        if ledger.acknowledged_nbytes > before:
            self.supervisor.acknowledged()
            marks = self._marks
            if marks is not None:
                self._note_latency(marks, ledger.acknowledged_nbytes)
        self._events.extend(shifted)
        self._wake_events()

    def _note_latency(self, marks: collections.deque[tuple[int, float]], ack: int) -> None:
        """Tell the observer how long ago the audio at the new acknowledgement point
        ``ack`` was accepted (the first ``send`` piece reaching it)."""
        while marks and marks[0][0] < ack:
            marks.popleft()
        if marks:
            assert self._observer is not None
            self._observer.final_latency(self, self._loop.time() - marks[0][1])

    async def _reconnect(self) -> int:
        """A new connection and session; the unacknowledged audio first (faster than
        real time until it has caught up), then the queue as before. Returns the bytes
        replayed.

        Raises:
            ConnectionClosed, HandshakeRejected: the new connection failed (the stream
                stays as it was, ready for another attempt).
            CredentialsError: no credentials any more.
        """
        old = self._conn
        if old is not None:
            old.abort()
        self._writable = False
        self._detach()
        # between sessions, audio accepted goes to the ledger only (replayed below)
        self._rolling = True
        session = self._provider.new_session()
        conn = await self._provider.connect(session)
        try:
            refetched = await self._refetched()
        except BaseException:
            conn.abort()
            raise
        # no await from here on: nothing may be accepted between these steps
        self.session.close()
        self.session = session
        # the old connection's queue is in the ledger's unacknowledged audio: start over
        self._clear_queue()
        self._unframed = 0
        replay = self.ledger.reconnect(refetched)
        self._use_connection(conn, self._loop.time())
        frames = session.send_audio(replay) if replay else []
        self._queue_frames(frames)
        self._backlog = len(frames)
        if self._backlog:  # catch up with live audio: faster than real time for a while
            self._set_step(self._step_normal / CATCH_UP)
        if self._ending:
            self._end_frames = None
            self._queue_end()
        self._idle_since = None
        self._kick()
        space = self._space
        if space is not None and not space.done():
            space.set_result(None)  # send() may go on: the bound now counts the backlog
        return len(replay)

    async def _refetched(self) -> bytes:
        """The audio the ledger needs read again from a file source, read in a worker
        thread (the range may grow while it is read: audio keeps arriving)."""
        refetch = self._refetch
        wanted = self.ledger.refetch_range()
        if refetch is None or wanted is None:
            return b""
        pieces: list[bytes] = []
        begin, end = wanted
        while True:
            pieces.append(await asyncio.to_thread(refetch, begin, end))
            now = self.ledger.refetch_range()
            if now is None or now[1] <= end:
                return b"".join(pieces)
            begin, end = end, now[1]

    async def _close_quietly(self, code: int, reason: str) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(code, reason), 2.0)
        except (asyncio.TimeoutError, OSError, WsConnectionClosed):
            conn.abort()

    def _fail(self, exc: BaseException, *, abort: bool = False, report: bool = True) -> None:
        self._writable = False
        if self._error is None:
            self._error = exc
            if not report:
                self._error_raised = True
        self._wheel_discard()
        if abort and self._conn is not None:
            self._conn.abort()
        for fut in (self._space, self._drained, self._event_waiter, self._event_space):
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

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        events = self._events
        while not events:
            if self._done() or (self._error is not None and self._receiver is None):
                if self._error is not None and not self._error_raised:
                    self._error_raised = True
                    raise self._error
                raise StopAsyncIteration
            if self._receiver is None:
                raise NotOpenError(
                    "iterating a stream that is not open: use 'async with client.stream(...)'"
                )
            waiter = self._event_waiter = self._loop.create_future()
            await waiter
            self._event_waiter = None
        event = events.popleft()
        if self._acks is not None:
            self.event_ack_nbytes = self._acks.popleft()
        space = self._event_space
        if space is not None and not space.done():
            space.set_result(None)
        return event
