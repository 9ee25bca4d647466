"""Sans-I/O client session for Amazon Transcribe streaming (protocol.md §3-§5).

``TranscribeSession`` turns audio into AudioEvent frames and bytes from the service into
typed events. It never touches a socket and never reads a clock: the caller moves the
bytes and passes the time in. The same class serves the three operations; the
parameters object (``StreamParams``, ``MedicalStreamParams``, ``CallAnalyticsParams``)
says which.

States: ``OPEN`` (audio may be sent) -> ``ENDING`` (end of stream sent; results still
arrive) -> ``CLOSED`` (the service closed, sent an exception, or sent bad bytes).
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable

from .. import eventstream
from .._kernels._buffers import byte_view
from .._kernels._eventstream_types import Message
from ..errors import (
    AudioFormatError,
    AudioTypeError,
    ProtocolError,
    ScribewireError,
    ServiceError,
    SessionStateError,
    UnexpectedMessage,
)
from ..wsframe import ClientFramer
from . import frames
from .credentials import Credentials
from .events import ConfigurationEvent, Event, EventDecoder
from .limits import MAX_CHUNK_DURATION, MAX_COMPRESSED_CHUNK
from .params import CallAnalyticsParams, MedicalStreamParams, Operation, StreamParams
from .sigv4 import MAX_EXPIRES, presign_url

__all__ = ["MAX_CHUNK_DURATION", "SessionState", "TranscribeSession"]



class SessionState(enum.Enum):
    """Where a session is in its life."""

    OPEN = "open"
    ENDING = "ending"
    CLOSED = "closed"


def _as_bytes_view(audio: object) -> memoryview:
    return byte_view(audio, "audio", "int16 PCM", layout_error=AudioTypeError)


_CLOSED = SessionState.CLOSED


def _event_or_raise(decode_event: EventDecoder) -> Callable[[Message], Event]:
    """``decode_event``, raising the ``ServiceError`` it would return (the fallback of
    ``EventStreamDecoder.feed_events`` in ``receive_data``)."""

    def fallback(message: Message) -> Event:
        event = decode_event(message)
        if isinstance(event, ServiceError):
            raise event
        return event

    return fallback


class TranscribeSession:
    """Client side of one Transcribe stream, without I/O.

    Args:
        params: the stream parameters (decide the operation, path, rate, channels).
        chunk_duration: seconds of audio per AudioEvent, > 0 and <= 1.0 (default 0.1;
            AWS recommends 50-200 ms). For ``pcm`` each event carries exactly
            ``round(sample_rate * chunk_duration)`` frames of all channels (except the
            last one flushed); for compressed encodings events carry the bytes as given,
            split at 32 KiB.
        framer: a :class:`~scribewire.wsframe.ClientFramer` to get every frame the
            session returns (``send_audio``, ``flush_audio``, ``send_configuration``,
            ``end_of_stream``) as a complete masked WebSocket binary frame (RFC 6455
            §5.2, §5.3) holding the event-stream message, ready to write to the socket
            (AudioEvents are then framed by one fused kernel call per batch); None (the
            default) returns bare event-stream messages, for a WebSocket library to send
            as binary messages.

    Raises:
        ValueError: ``chunk_duration`` out of range.
        TypeError: ``params`` is not a parameters object.
    """

    def __init__(
        self,
        params: StreamParams | MedicalStreamParams | CallAnalyticsParams,
        *,
        chunk_duration: float = 0.1,
        framer: ClientFramer | None = None,
    ) -> None:
        if not isinstance(params, (StreamParams, MedicalStreamParams, CallAnalyticsParams)):
            raise TypeError(
                f"params must be a Transcribe parameters object, got {type(params).__name__}"
            )
        if not 0 < chunk_duration <= MAX_CHUNK_DURATION:
            raise ValueError(
                f"chunk_duration must be > 0 and <= {MAX_CHUNK_DURATION} s, got {chunk_duration}"
            )
        self.params = params
        self.operation: Operation = params.operation
        self.chunk_duration = chunk_duration
        self._framer = framer
        self._channels = params.channels
        self._decoder = eventstream.EventStreamDecoder()
        self._decode_event = EventDecoder(params.operation)
        # receive_data's fast path: typed decoders called straight from the codec
        self._feed_events = self._decoder.feed_events
        self._payload_decoders = self._decode_event.payload_decoders
        self._fallback = _event_or_raise(self._decode_event)
        self._pending = bytearray()
        self._state = SessionState.OPEN
        self._sent_any = False
        self.audio_bytes_sent = 0
        self.events_received = 0
        #: the peer fault that ended the session after events it also returned
        self.error: ScribewireError | None = None

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> SessionState:
        """``OPEN``, ``ENDING`` or ``CLOSED``."""
        return self._state

    @property
    def channels(self) -> int:
        """Interleaved channels in the audio (2 after a Call Analytics configuration)."""
        return self._channels

    @property
    def bytes_per_frame(self) -> int | None:
        """Bytes of one frame of all channels (``pcm``: 2 x channels), None if compressed."""
        return 2 * self._channels if self.params.media_encoding == "pcm" else None

    @property
    def chunk_bytes(self) -> int:
        """Audio payload bytes per AudioEvent (``pcm``), or the compressed split size."""
        bpf = self.bytes_per_frame
        if bpf is None:
            return MAX_COMPRESSED_CHUNK
        frames_per_chunk = max(1, round(self.params.sample_rate * self.chunk_duration))
        return min(frames_per_chunk, self.params.sample_rate) * bpf

    @property
    def audio_seconds_sent(self) -> float | None:
        """Seconds of audio sent so far (``pcm``), None for compressed encodings."""
        bpf = self.bytes_per_frame
        if bpf is None:
            return None
        return self.audio_bytes_sent / (bpf * self.params.sample_rate)

    @property
    def buffered_bytes(self) -> int:
        """Audio bytes held back until a whole chunk is available."""
        return len(self._pending)

    # ------------------------------------------------------------------ sending

    def request_url(
        self,
        credentials: Credentials,
        now: _dt.datetime | float | int,
        *,
        region: str,
        endpoint: str | None = None,
        expires: int = MAX_EXPIRES,
    ) -> str:
        """The presigned WebSocket URL for this stream (see ``sigv4.presign_url``).

        Args:
            credentials: resolve them anew at every connect (they may expire).
            now: signing time, aware datetime or POSIX seconds.
            region: AWS region.
            endpoint: None for AWS, or a base URL such as ``ws://127.0.0.1:54321``.
            expires: ``X-Amz-Expires``, 1..300 seconds.
        """
        return presign_url(
            credentials=credentials,
            region=region,
            path=self.params.path,
            query=self.params.to_query(),
            now=now,
            expires=expires,
            endpoint=endpoint,
        )

    def _require_open(self, what: str) -> None:
        if self._state is not SessionState.OPEN:
            raise SessionStateError(f"{what} is not allowed in state {self._state.value}")

    def _wrap(self, message: bytes) -> bytes:
        """``message`` in a WebSocket frame when the session has a framer."""
        return message if self._framer is None else self._framer.binary_frame(message)

    def _encode(self, view: memoryview, n: int) -> list[bytes]:
        """AudioEvents of ``n`` audio bytes each from ``view`` (the last one may be
        shorter), counted as sent."""
        if self._framer is not None:
            out = self._framer.audio_event_frames(view, n)
        else:
            out = eventstream.encode_audio_events(view, n)
        self.audio_bytes_sent += len(view)
        self._sent_any = True
        return out

    def _emit(self, final: bool) -> list[bytes]:
        buf = self._pending
        n = self.chunk_bytes
        # whole chunks; with ``final`` also the whole frames after them (one shorter event)
        unit = (self.bytes_per_frame or 1) if final else n
        take = len(buf) // unit * unit
        if not take:
            return []
        with memoryview(buf) as view:
            out = self._encode(view[:take], n)
        del buf[:take]
        return out

    def send_audio(self, audio: object) -> list[bytes]:
        """Frame audio as AudioEvents; a partial chunk is buffered for the next call.

        Args:
            audio: any C-contiguous bytes-like object (bytes, bytearray, memoryview, numpy
                array) in the stream's media encoding; for ``pcm`` int16 little-endian with
                channels interleaved (partial frames are allowed: they wait in the buffer).
                Empty input emits nothing (the end of stream is ``end_of_stream()``).

        Returns:
            Complete AudioEvent messages, each of exactly ``chunk_bytes`` payload bytes.

        Raises:
            SessionStateError: not ``OPEN``.
            AudioTypeError: not a contiguous bytes-like object.
        """
        self._require_open("send_audio")
        view = _as_bytes_view(audio)
        if self._pending:
            self._pending += view
            return self._emit(final=False)
        # nothing held back: whole chunks are framed straight from the caller's buffer
        n = self.chunk_bytes
        take = len(view) // n * n
        out = self._encode(view[:take], n) if take else []
        self._pending += view[take:]
        return out

    def flush_audio(self) -> list[bytes]:
        """Emit the buffered remainder (whole frames) as one shorter AudioEvent.

        Returns:
            Zero or one message. A trailing partial frame stays buffered.

        Raises:
            SessionStateError: not ``OPEN``.
        """
        self._require_open("flush_audio")
        return self._emit(final=True)

    def send_configuration(self, event: ConfigurationEvent) -> bytes:
        """The Call Analytics ``ConfigurationEvent`` frame; it must precede any audio
        (protocol.md §4.4). With its two channel definitions the audio becomes stereo.

        Raises:
            SessionStateError: not a Call Analytics stream, not ``OPEN``, or audio (or a
                configuration) was already sent.
            TypeError: not a ``ConfigurationEvent``.
        """
        self._require_open("send_configuration")
        if self.operation is not Operation.CALL_ANALYTICS:
            raise SessionStateError(
                f"ConfigurationEvent is only for Call Analytics, not {self.operation.value}"
            )
        if self._sent_any or self._pending:
            raise SessionStateError("ConfigurationEvent must be the first event of the stream")
        frame = self._wrap(frames.encode_configuration_event(event))
        self._channels = len(event.channel_definitions)
        self._sent_any = True
        return frame

    def end_of_stream(self) -> list[bytes]:
        """Flush the remainder and end the audio with the empty AudioEvent (protocol.md
        §4.1); the session moves to ``ENDING`` and keeps receiving results.

        Returns:
            Zero or one remainder AudioEvent, then the end frame.

        Raises:
            SessionStateError: not ``OPEN``.
            AudioFormatError: the buffered audio ends inside a frame (nothing is sent;
                the state stays ``OPEN``).
        """
        self._require_open("end_of_stream")
        bpf = self.bytes_per_frame or 1
        if len(self._pending) % bpf:
            raise AudioFormatError(
                f"audio ends inside a frame: {len(self._pending)} buffered bytes is not a "
                f"multiple of {bpf} bytes per frame ({self._channels} channel(s) of int16)"
            )
        out = self._emit(final=True)
        out.append(self._wrap(frames.encode_end_of_stream()))
        self._state = SessionState.ENDING
        return out

    def close(self) -> None:
        """Mark the session closed (the connection ended)."""
        self._state = SessionState.CLOSED

    # ------------------------------------------------------------------ receiving

    def receive_data(self, data: object) -> list[Event]:
        """Feed bytes received from the service; return the typed events they complete.

        Args:
            data: any bytes-like object, any split of the stream (partial messages wait).

        Returns:
            ``TranscriptEvent`` / ``MedicalTranscriptEvent`` / ``UtteranceEvent`` /
            ``CategoryEvent`` / ``UnknownEvent`` in arrival order. When a fault follows
            events in the same data, those events are returned, the session is
            ``CLOSED`` and the fault is left in :attr:`error` for the caller to raise
            after delivering them.

        Raises:
            ServiceError subclass: the service sent an exception or error message before
                any event of this call; the session is ``CLOSED``.
            ProtocolError: malformed bytes from the service (``remote=True``), before any
                event of this call; ``CLOSED``.
            SessionStateError: the session is already ``CLOSED``.
        """
        if self._state is _CLOSED:
            raise SessionStateError("receive_data is not allowed in state closed")
        out: list[Event] = []
        try:
            # events the operation models go straight from the codec to their msgspec
            # decoder; every other message (and bad JSON) through the fallback, in order
            self._feed_events(data, self._payload_decoders, self._fallback, out)
        except (ProtocolError, ServiceError) as exc:
            if isinstance(exc, ProtocolError):
                exc.remote = True
            self._state = SessionState.CLOSED
            self.events_received += len(out)
            if not out:
                raise
            self.error = exc
            return out
        self.events_received += len(out)
        return out

    def receive_message(self, data: bytes | str) -> list[Event]:
        """One whole WebSocket message from the service: binary frames carry
        event-stream bytes (protocol.md §1); the service never sends text frames.

        Raises:
            UnexpectedMessage: a text frame (``remote=True``); the session is ``CLOSED``.
            plus the errors of :meth:`receive_data`.
        """
        if isinstance(data, str):
            if self._state is _CLOSED:
                raise SessionStateError("receive_message is not allowed in state closed")
            self._state = SessionState.CLOSED
            exc = UnexpectedMessage(
                f"the service sent a text WebSocket frame ({len(data)} characters); "
                "Transcribe streams carry event-stream messages in binary frames only"
            )
            exc.remote = True
            raise exc
        return self.receive_data(data)

    def receive_close(self, code: int | None, reason: str) -> ScribewireError | None:
        """What a close from the service means: Transcribe reports faults with exception
        messages before closing (protocol.md §4.5), so a close carries none itself."""
        return None
