"""Sans-I/O server side of Amazon Transcribe streaming over WebSocket (protocol.md §6).

:class:`ServerSession` is the service's half of one stream: bytes of binary WebSocket
messages go in with :meth:`ServerSession.receive_data`, typed events come out of
:meth:`ServerSession.events_received` (:class:`AudioReceived`, :class:`ConfigurationReceived`,
:class:`InputEnded`, :class:`StreamFailed`), and recognition results go in with
:meth:`ServerSession.send_results`, which queues event-stream frames for
:meth:`ServerSession.data_to_send`. Time is an argument (``now``, seconds on any monotonic
clock); the session never reads a clock, never awaits, never touches a socket.

Checks made here (protocol.md §6.2): every frame through the streaming decoder (CRCs,
lengths, header types, UTF-8, duplicates); plain events and signed envelopes (``:date`` +
``:chunk-signature``, protocol.md §4.2; with an ``envelope_verifier`` the signature chain
is verified and, given ``epoch``, each ``:date`` checked against the clock);
``:message-type`` ``event`` and ``:event-type`` ``AudioEvent`` (plus a first
``ConfigurationEvent`` on the Call Analytics path); ``:content-type``
``application/octet-stream`` on non-empty audio; PCM length a multiple of 2 x channels;
at most ``max_event_seconds`` (1 s) of audio per event, and no event-stream message
larger than that allows (plus ``EVENT_HEADER_ROOM`` for headers and a signed envelope),
refused from its prelude before its body is buffered; ``idle_timeout`` (15 s) without
audio (time during which the caller said it was not reading, :meth:`ServerSession.pause_idle`,
does not count); at most ``max_audio_seconds`` (4 h) of audio. The first fault queues an exception
frame (``:message-type`` ``exception``, JSON ``{"Message": ...}``, protocol.md §4.5) and ends
the session: the caller sends what :meth:`data_to_send` returns and closes the socket.
"""

from __future__ import annotations

import enum
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from ..errors import (
    AuthenticationError,
    MessageTooLarge,
    ParameterError,
    ProtocolError,
    ServiceError,
    SessionStateError,
)
from ..eventstream import EventStreamDecoder, Message
from .errors import BadRequestException, LimitExceededException
from .events import (
    Alternative,
    CallAnalyticsItem,
    ConfigurationEvent,
    Item,
    MedicalAlternative,
    MedicalItem,
    MedicalResult,
    MedicalTranscript,
    MedicalTranscriptEvent,
    Result,
    Transcript,
    TranscriptEvent,
    UtteranceEvent,
)
from .frames import (
    AUDIO_EVENT_HEADER_MAP,
    Configuration,
    EndOfStream,
    classify_client_message,
    encode_event,
    encode_exception,
)
from .limits import IDLE_TIMEOUT_SECONDS, MAX_STREAM_SECONDS
from .sigv4 import EventSignatureVerifier

__all__ = [
    "EVENT_HEADER_ROOM",
    "IDLE_TIMEOUT_MESSAGE",
    "STREAM_TOO_BIG_MESSAGE",
    "AudioReceived",
    "ConfigurationReceived",
    "InputEnded",
    "ResultSegment",
    "ResultWord",
    "ServerSession",
    "ServerState",
    "StreamFailed",
    "StreamKind",
]

#: Observed service text for more than 1 s of audio in one event (protocol.md §4.5, ISS-BIG).
STREAM_TOO_BIG_MESSAGE = "Your stream is too big. Reduce the frame size and try your request again."
#: Observed service text for 15 s without audio (protocol.md §4.5, ISS-IDLE).
IDLE_TIMEOUT_MESSAGE = (
    "Your request timed out because no new audio was received for {seconds} seconds."
)

#: Bytes of event-stream headers one audio message may carry besides its audio, per
#: message level: the three AudioEvent headers take 88 B (protocol.md §4.1), a signed
#: envelope's ``:date`` and ``:chunk-signature`` 56 B (§4.2); the rest is room for
#: headers a client adds. A message is refused from its prelude when its headers exceed
#: this or its payload exceeds the audio of ``max_event_seconds`` plus one inner message's
#: prelude, headers and CRC.
EVENT_HEADER_ROOM = 4096

StreamKind = Literal["standard", "medical", "call-analytics"]

_ROLES = ("AGENT", "CUSTOMER")

# (event, transcript, result, alternative, item) classes of the two TranscriptEvent paths
# (ServerSession._transcript_event)
_TRANSCRIPT_SHAPES: dict[str, tuple[type[Any], type[Any], type[Any], type[Any], type[Any]]] = {
    "standard": (TranscriptEvent, Transcript, Result, Alternative, Item),
    "medical": (
        MedicalTranscriptEvent,
        MedicalTranscript,
        MedicalResult,
        MedicalAlternative,
        MedicalItem,
    ),
}


class ServerState(enum.Enum):
    """Where a server session is."""

    OPEN = "open"  #: receiving audio
    INPUT_ENDED = "input-ended"  #: the empty AudioEvent arrived; results may still be sent
    FAILED = "failed"  #: an exception frame is queued; send it and close


class AudioReceived(msgspec.Struct, frozen=True):
    """One non-empty AudioEvent.

    Attributes:
        audio: the payload: int16 little-endian PCM, interleaved when ``channels`` is 2
            (other media encodings: the raw bytes).
        start: stream time of its first sample, seconds (0.0 = start of the stream).
        duration: seconds of audio (0.0 for non-PCM encodings).
    """

    audio: bytes
    start: float
    duration: float


class ConfigurationReceived(msgspec.Struct, frozen=True):
    """The Call Analytics ``ConfigurationEvent`` (protocol.md §4.4).

    Attributes:
        roles: channel number -> ``"AGENT"`` / ``"CUSTOMER"``.
        event: the decoded event.
    """

    roles: dict[int, str]
    event: ConfigurationEvent


class InputEnded(msgspec.Struct, frozen=True):
    """The empty AudioEvent (or empty signed envelope): no more audio will come (§6.2 rule 8)."""


class StreamFailed(msgspec.Struct, frozen=True):
    """The session failed; its exception frame is queued in ``data_to_send``.

    Attributes:
        error: the exception sent to the client.
    """

    error: ServiceError


ServerEvent = AudioReceived | ConfigurationReceived | InputEnded | StreamFailed


class ResultWord(msgspec.Struct, frozen=True):
    """A word to report: content, times in seconds from stream start, optional confidence."""

    content: str
    start: float
    end: float
    confidence: float | None = None


class ResultSegment(msgspec.Struct, frozen=True):
    """A segment to report (see :class:`scribewire.server.recognizers.Segment`).

    Attributes:
        segment_id: stable per channel across the partials and the final of one segment.
        start: seconds from stream start.
        end: seconds from stream start.
        words: the words in time order.
        is_partial: True until the single final update.
    """

    segment_id: int
    start: float
    end: float
    words: tuple[ResultWord, ...]
    is_partial: bool


# --------------------------------------------------------------------------- session


def _same(msg: Message) -> Message:
    return msg


class ServerSession:
    """The service side of one Transcribe stream (sans-I/O).

    Args:
        kind: ``"standard"``, ``"medical"`` or ``"call-analytics"`` (which WebSocket path).
        sample_rate: the stream's declared ``sample-rate``, Hz.
        channels: 1, or 2 with channel identification. On the Call Analytics path a first
            ``ConfigurationEvent`` with two ``ChannelDefinitions`` switches it to 2.
        now: the stream's start time, seconds on the caller's monotonic clock.
        media_encoding: ``"pcm"`` (int16 LE), ``"ogg-opus"`` or ``"flac"``; only PCM is
            measured in seconds (size and duration rules apply to PCM only).
        channel_identification: report ``ChannelId`` ``ch_0``/``ch_1`` on results.
        stabilization: report ``Stable`` on items (``enable-partial-results-stabilization``).
        idle_timeout: seconds without audio before ``BadRequestException`` (AWS: 15).
        max_audio_seconds: seconds of audio before ``LimitExceededException`` (AWS: 4 h).
        max_event_seconds: most seconds of audio in one AudioEvent (AWS: 1).
        max_payload_length: decoder payload limit in bytes; None (default) derives it
            from the stream's parameters (see ``max_message_nbytes``).
        envelope_verifier: when given, every signed envelope's ``:chunk-signature`` is
            checked against the chain seeded with the URL's signature (strict mode,
            protocol.md §6.2 rule 3); a mismatch, or a plain event, gives
            ``BadRequestException``.
        epoch: POSIX time (seconds) at which the ``now`` clock reads 0.0. With an
            ``envelope_verifier``, each envelope's ``:date`` must then lie within the
            verifier's ``max_skew`` of ``epoch + now`` (a stale ``:date`` gives
            ``BadRequestException``, protocol.md §6.2 rule 3).
        digest: keep the SHA-256 of every audio byte (``audio_digest``; tests compare
            it with what they sent). False skips it (1.9 µs per 3,200 B event; load
            runs): ``audio_digest`` is then ``""``.

    Raises:
        ParameterError: unknown ``kind`` or a channel count other than 1 or 2.
    """

    def __init__(
        self,
        kind: StreamKind,
        *,
        sample_rate: int,
        channels: int,
        now: float,
        media_encoding: str = "pcm",
        channel_identification: bool = False,
        stabilization: bool = False,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
        max_audio_seconds: float = MAX_STREAM_SECONDS,
        max_event_seconds: float = 1.0,
        max_payload_length: int | None = None,
        envelope_verifier: EventSignatureVerifier | None = None,
        epoch: float | None = None,
        digest: bool = True,
    ) -> None:
        if kind not in ("standard", "medical", "call-analytics"):
            raise ParameterError(f"unknown stream kind {kind!r}")
        if channels not in (1, 2):
            raise ParameterError(f"channels must be 1 or 2, got {channels}")
        self.kind: StreamKind = kind
        self.sample_rate = sample_rate
        self.channels = channels
        self.media_encoding = media_encoding
        self.channel_identification = channel_identification
        self.stabilization = stabilization
        self.idle_timeout = idle_timeout
        self.max_audio_seconds = max_audio_seconds
        self._max_event_seconds = max_event_seconds
        self._set_channels(channels)
        self.state = ServerState.OPEN
        #: Call Analytics roles per channel (defaults until a ConfigurationEvent says otherwise).
        self.roles: dict[int, str] = {0: "AGENT", 1: "CUSTOMER"}
        self.error: ServiceError | None = None
        # counters
        self.audio_nbytes = 0
        self.audio_events = 0
        self.events_sent = 0
        self.partials_sent = 0
        self.finals_sent = 0
        self._digest = hashlib.sha256() if digest else None
        # The Call Analytics path may switch to 2 channels at its first event: size the
        # decoder for that from the start.
        widest = 2 if kind == "call-analytics" else channels
        audio_limit = self._event_nbytes(widest)
        if media_encoding != "pcm":  # compressed: no frame size; allow twice raw PCM
            audio_limit *= 2
        payload_limit = audio_limit + 16 + EVENT_HEADER_ROOM  # a signed envelope's inner message
        if max_payload_length is not None:
            payload_limit = max_payload_length
        #: Largest event-stream message this stream accepts, bytes (prelude + headers +
        #: payload + CRC); the WebSocket message limit of the stream.
        self.max_message_nbytes = 16 + EVENT_HEADER_ROOM + payload_limit
        self._decoder = EventStreamDecoder(
            max_headers_length=EVENT_HEADER_ROOM, max_payload_length=payload_limit
        )
        self._verifier = envelope_verifier
        self._epoch = epoch
        self._events: list[ServerEvent] = []
        self._out: list[bytes] = []
        self._last_audio = now
        self._paused_at: float | None = None
        self._seen_event = False
        self._result_ids: dict[tuple[int, int], str] = {}
        self._last_partial: dict[tuple[int, int], tuple[str, ...]] = {}

    def _event_nbytes(self, channels: int) -> int:
        return int(self._max_event_seconds * self.sample_rate) * 2 * channels

    def _set_channels(self, channels: int) -> None:
        self.channels = channels
        self.max_event_nbytes = self._event_nbytes(channels)

    # ---------------------------------------------------------------- counters

    @property
    def audio_seconds(self) -> float:
        """Seconds of PCM received so far (0.0 for non-PCM encodings)."""
        if self.media_encoding != "pcm":
            return 0.0
        return self.audio_nbytes / (2 * self.channels * self.sample_rate)

    @property
    def audio_digest(self) -> str:
        """Hex SHA-256 of every audio payload byte received, in order ("" when the
        session was made with ``digest=False``)."""
        return "" if self._digest is None else self._digest.hexdigest()

    # ---------------------------------------------------------------- input

    def receive_data(self, data: bytes, now: float) -> None:
        """Take the payload of one binary WebSocket message (any split of the byte stream).

        Args:
            data: event-stream bytes; partial messages are buffered.
            now: current time, seconds on the clock given at construction.
        """
        if self.state is not ServerState.OPEN:
            return
        # feed_events with no handlers hands back every Message; on a framing error the
        # messages before the bad bytes are still in ``messages`` and are acted on first.
        messages: list[Message] = []
        error: ProtocolError | None = None
        try:
            self._decoder.feed_events(data, {}, _same, messages)
        except ProtocolError as exc:
            error = exc
        for msg in messages:
            self._message(msg, now)
            if self.state is not ServerState.OPEN:
                return
        if isinstance(error, MessageTooLarge):  # announced by a prelude, body not buffered
            self.fail(BadRequestException(STREAM_TOO_BIG_MESSAGE))
        elif error is not None:
            self.fail(BadRequestException(f"Invalid event-stream frame: {error}"))

    def receive_text(self, text: str, now: float) -> None:
        """A text WebSocket message: not part of the protocol (protocol.md §6.2 rule 1)."""
        if self.state is ServerState.OPEN:
            self.fail(
                BadRequestException(
                    "Text WebSocket messages are not supported; send event-stream messages "
                    "in binary frames."
                )
            )

    def check_timers(self, now: float) -> None:
        """Apply the idle rule (``idle_timeout`` seconds without audio, protocol.md §6.2 rule 7).

        Idle time is time the caller spent reading from the socket without audio coming:
        while paused (:meth:`pause_idle`) nothing is counted.
        """
        if (
            self.state is ServerState.OPEN
            and self._paused_at is None
            and now - self._last_audio >= self.idle_timeout
        ):
            seconds = f"{self.idle_timeout:g}"
            self.fail(BadRequestException(IDLE_TIMEOUT_MESSAGE.format(seconds=seconds)))

    def next_deadline(self) -> float | None:
        """When :meth:`check_timers` must next run (None when no timer is armed)."""
        if self.state is not ServerState.OPEN or self._paused_at is not None:
            return None
        return self._last_audio + self.idle_timeout

    def pause_idle(self, now: float) -> None:
        """The caller stops reading the socket (its recognizer is busy, its queue full).

        Audio the client sends meanwhile waits in the socket, so the idle rule stops
        counting until :meth:`resume_idle`; a second pause before the resume is ignored.
        """
        if self._paused_at is None:
            self._paused_at = now

    def resume_idle(self, now: float) -> None:
        """The caller reads again: the idle clock goes on, less the paused time."""
        if self._paused_at is None:
            return
        self._last_audio = min(now, self._last_audio + max(0.0, now - self._paused_at))
        self._paused_at = None

    def _message(self, msg: Message, now: float) -> None:
        if msg.payload and self._verifier is None and msg.headers == AUDIO_EVENT_HEADER_MAP:
            self._seen_event = True  # classify_client_message's AudioChunk, without the call
            self._audio(msg.payload, now)
            return
        try:
            wall = None if self._epoch is None else self._epoch + now
            event = classify_client_message(msg, verifier=self._verifier, now=wall)
        except (ProtocolError, ParameterError) as exc:
            self.fail(BadRequestException(f"Invalid event: {exc}"))
            return
        except AuthenticationError as exc:
            self.fail(BadRequestException(f"Invalid event signature: {exc}"))
            return
        first = not self._seen_event
        self._seen_event = True
        if isinstance(event, Configuration):
            if self.kind != "call-analytics":
                self.fail(
                    BadRequestException(
                        "ConfigurationEvent is only accepted on the Call Analytics path"
                    )
                )
            elif not first:
                self.fail(
                    BadRequestException("ConfigurationEvent must be the first event of the stream")
                )
            else:
                self.roles = {
                    d.channel_id: d.participant_role for d in event.event.channel_definitions
                }
                # Two channel definitions: the audio is 2-channel interleaved PCM from now on.
                self._set_channels(2)
                self._events.append(
                    ConfigurationReceived(roles=dict(self.roles), event=event.event)
                )
        elif isinstance(event, EndOfStream):
            self._end()
        else:
            self._audio(event.audio, now)

    def _audio(self, payload: bytes, now: float) -> None:
        duration = 0.0
        if self.media_encoding == "pcm":
            if len(payload) > self.max_event_nbytes:
                self.fail(BadRequestException(STREAM_TOO_BIG_MESSAGE))
                return
            if len(payload) % (2 * self.channels):
                self.fail(
                    BadRequestException(
                        f"AudioEvent of {len(payload)} bytes is not a whole number of "
                        f"{self.channels}-channel 16-bit samples"
                    )
                )
                return
            per_second = 2 * self.channels * self.sample_rate
            duration = len(payload) / per_second
            start = self.audio_nbytes / per_second
            self.audio_nbytes += len(payload)
            seconds = self.audio_nbytes / per_second  # = audio_seconds
        else:
            start = seconds = 0.0
            self.audio_nbytes += len(payload)
        self.audio_events += 1
        if self._digest is not None:
            self._digest.update(payload)
        self._last_audio = now
        if seconds > self.max_audio_seconds:
            self.fail(
                LimitExceededException(
                    "Your stream has exceeded the maximum audio duration of "
                    f"{self.max_audio_seconds:g} seconds."
                )
            )
            return
        self._events.append(AudioReceived(payload, start, duration))

    def _end(self) -> None:
        self.state = ServerState.INPUT_ENDED
        self._events.append(InputEnded())

    def events_received(self) -> list[ServerEvent]:
        """Events produced since the last call, in order."""
        events, self._events = self._events, []
        return events

    # ---------------------------------------------------------------- output

    def fail(self, error: ServiceError) -> None:
        """End the stream with ``error``: queue its exception frame (protocol.md §4.5).

        Later input is ignored. A second failure is ignored (the first one was sent).
        """
        if self.state is ServerState.FAILED:
            return
        self.state = ServerState.FAILED
        self.error = error
        self._out.append(encode_exception(error.code, error.message))
        self.events_sent += 1
        self._events.append(StreamFailed(error))

    def _result_id(self, channel: int, segment_id: int) -> str:
        key = (channel, segment_id)
        rid = self._result_ids.get(key)
        if rid is None:
            rid = self._result_ids[key] = str(uuid.uuid4())
        return rid

    def _stable_flags(
        self, key: tuple[int, int], words: Sequence[ResultWord], partial: bool
    ) -> list[bool]:
        # A word is stable once two consecutive partials agree on it and on every word
        # before it; the last word of a partial is never stable. Finals are all stable.
        if not partial:
            self._last_partial.pop(key, None)
            return [True] * len(words)
        contents = tuple(w.content for w in words)
        prev = self._last_partial.get(key, ())
        self._last_partial[key] = contents
        flags = []
        agree = True
        for i, c in enumerate(contents):
            agree = agree and i < len(prev) and prev[i] == c and i < len(contents) - 1
            flags.append(agree)
        return flags

    def send_results(self, channel: int, segments: Sequence[ResultSegment]) -> None:
        """Queue result events for ``segments`` of ``channel`` (0 or 1).

        Standard and medical paths: one ``TranscriptEvent`` per segment update (protocol.md
        §4.3, §6.3): stable ``ResultId`` per segment, ``IsPartial``, times in seconds,
        ``ChannelId`` only with channel identification, ``Stable`` only with stabilization,
        ``Confidence`` on final items only. Call Analytics: one ``UtteranceEvent`` with
        ``ParticipantRole`` of the channel and integer millisecond offsets (§4.4).
        Nothing the recognizer cannot compute (sentiment, speakers, entities) is sent.

        Raises:
            SessionStateError: the session has failed.
        """
        if self.state is ServerState.FAILED:
            raise SessionStateError("cannot send results on a failed stream")
        for seg in segments:
            key = (channel, seg.segment_id)
            rid = self._result_id(channel, seg.segment_id)
            transcript = " ".join(w.content for w in seg.words)
            channel_tag = f"ch_{channel}" if self.channel_identification else None
            stable = (
                self._stable_flags(key, seg.words, seg.is_partial) if self.stabilization else None
            )
            if self.kind == "call-analytics":
                frame = encode_event(
                    UtteranceEvent(
                        utterance_id=rid,
                        is_partial=seg.is_partial,
                        participant_role=self.roles.get(channel, _ROLES[channel % 2]),
                        begin_offset_millis=round(seg.start * 1000),
                        end_offset_millis=round(seg.end * 1000),
                        transcript=transcript,
                        items=tuple(
                            CallAnalyticsItem(
                                begin_offset_millis=round(w.start * 1000),
                                end_offset_millis=round(w.end * 1000),
                                type="pronunciation",
                                content=w.content,
                                confidence=None if seg.is_partial else w.confidence,
                                stable=None if stable is None else stable[i],
                            )
                            for i, w in enumerate(seg.words)
                        ),
                    )
                )
            else:
                frame = encode_event(
                    self._transcript_event(seg, rid, transcript, channel_tag, stable)
                )
            self._out.append(frame)
            self.events_sent += 1
            if seg.is_partial:
                self.partials_sent += 1
            else:
                self.finals_sent += 1
                self._result_ids.pop(key, None)

    def _transcript_event(
        self,
        seg: ResultSegment,
        rid: str,
        transcript: str,
        channel_tag: str | None,
        stable: list[bool] | None,
    ) -> TranscriptEvent | MedicalTranscriptEvent:
        """The standard or medical result event for one segment update (protocol.md §4.3).

        The two share their shape (event > transcript > result > alternative > items) and
        differ in their classes; medical items carry no ``Stable``.
        """
        medical = self.kind == "medical"
        shapes = _TRANSCRIPT_SHAPES[self.kind]
        event_cls, transcript_cls, result_cls, alternative_cls, item_cls = shapes
        items = tuple(
            item_cls(
                start_time=w.start,
                end_time=w.end,
                type="pronunciation",
                content=w.content,
                confidence=None if seg.is_partial else w.confidence,
                **({} if medical else {"stable": None if stable is None else stable[i]}),
            )
            for i, w in enumerate(seg.words)
        )
        result = result_cls(
            result_id=rid,
            start_time=seg.start,
            end_time=seg.end,
            is_partial=seg.is_partial,
            alternatives=(alternative_cls(transcript=transcript, items=items),),
            channel_id=channel_tag,
        )
        event: TranscriptEvent | MedicalTranscriptEvent = event_cls(transcript_cls((result,)))
        return event

    def data_to_send(self) -> list[bytes]:
        """Frames queued since the last call; send each as one binary WebSocket message."""
        out, self._out = self._out, []
        return out
