"""Typed Transcribe streaming events (protocol.md §4.3-§4.5).

Frozen msgspec Structs with snake_case attributes over the service's PascalCase JSON
member names. Unknown JSON members are tolerated (the service adds fields); members equal
to their default are omitted when encoding. Times:

- standard and medical results: ``start_time`` / ``end_time`` are float **seconds** from
  the start of the stream (protocol.md §4.3, §7.4);
- Call Analytics: ``begin_offset_millis`` / ``end_offset_millis`` are integer
  **milliseconds** (protocol.md §4.4).

``decode_event(message, operation=...)`` turns one event-stream ``Message`` into a typed
event. A ``:message-type`` ``exception`` or ``error`` message is **returned** as a
``scribewire.errors.ServiceError`` subclass instance (not raised); the session raises it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import msgspec
from msgspec.structs import force_setattr

from .._kernels._eventstream_types import Message
from ..errors import (
    InvalidEventPayload,
    ParameterError,
    ServiceError,
    UnexpectedMessage,
)
from .errors import service_error
from .params import Operation

__all__ = [
    "Alternative",
    "CallAnalyticsEntity",
    "CallAnalyticsItem",
    "CategoryEvent",
    "ChannelDefinition",
    "CharacterOffsets",
    "ConfigurationEvent",
    "Entity",
    "Event",
    "EventDecoder",
    "IssueDetected",
    "Item",
    "LanguageWithScore",
    "MedicalAlternative",
    "MedicalEntity",
    "MedicalItem",
    "MedicalResult",
    "MedicalTranscript",
    "MedicalTranscriptEvent",
    "PointsOfInterest",
    "PostCallAnalyticsSettings",
    "Result",
    "TimestampRange",
    "Transcript",
    "TranscriptEvent",
    "UnknownEvent",
    "UtteranceEvent",
    "decode_event",
    "decode_payload",
    "encode_payload",
]

_OPTS: dict[str, Any] = {"frozen": True, "rename": "pascal", "omit_defaults": True, "gc": False}


# --------------------------------------------------------------------------- standard


class Item(msgspec.Struct, **_OPTS):
    """One word or punctuation mark (JSON ``Item``, protocol.md §4.3).

    Attributes:
        start_time, end_time: seconds from the start of the stream.
        type: ``"pronunciation"`` or ``"punctuation"``.
        content: the word or mark.
        vocabulary_filter_match: a vocabulary filter matched (``tag`` method).
        speaker: speaker label (``"0"``, ``"1"``...) with ``show-speaker-label``.
        confidence: 0..1, for words of complete segments.
        stable: with partial-results stabilization only.
    """

    start_time: float = 0.0
    end_time: float = 0.0
    type: str | None = None
    content: str | None = None
    vocabulary_filter_match: bool = False
    speaker: str | None = None
    confidence: float | None = None
    stable: bool | None = None


class Entity(msgspec.Struct, **_OPTS):
    """A PII span with content identification (JSON ``Entity``; times in seconds)."""

    start_time: float = 0.0
    end_time: float = 0.0
    category: str | None = None
    type: str | None = None
    content: str | None = None
    confidence: float | None = None


class Alternative(msgspec.Struct, **_OPTS):
    """One transcription hypothesis: text, items and entities."""

    transcript: str = ""
    items: tuple[Item, ...] = ()
    entities: tuple[Entity, ...] = ()


class LanguageWithScore(msgspec.Struct, **_OPTS):
    """A candidate language with its score (language identification)."""

    language_code: str
    score: float = 0.0


class Result(msgspec.Struct, **_OPTS):
    """One segment (JSON ``Result``).

    Attributes:
        result_id: the same across the partial updates of one segment (``ResultId``).
        start_time, end_time: seconds from the start of the stream.
        is_partial: True while the segment may still change (``IsPartial``).
        alternatives: hypotheses, best first.
        channel_id: ``"ch_0"`` / ``"ch_1"`` with channel identification.
        language_code, language_identification: with language identification.
    """

    result_id: str
    start_time: float
    end_time: float
    is_partial: bool  # required: the service always sends it, false included
    alternatives: tuple[Alternative, ...] = ()
    channel_id: str | None = None
    language_code: str | None = None
    language_identification: tuple[LanguageWithScore, ...] = ()


class Transcript(msgspec.Struct, **_OPTS):
    """The ``Transcript`` member: a list of results (possibly empty)."""

    results: tuple[Result, ...] = ()


class TranscriptEvent(msgspec.Struct, **_OPTS):
    """``TranscriptEvent`` of StartStreamTranscription (protocol.md §4.3)."""

    transcript: Transcript = Transcript()


# --------------------------------------------------------------------------- medical


class MedicalItem(msgspec.Struct, **_OPTS):
    """A medical item: as ``Item`` without ``VocabularyFilterMatch`` and ``Stable``."""

    start_time: float = 0.0
    end_time: float = 0.0
    type: str | None = None
    content: str | None = None
    confidence: float | None = None
    speaker: str | None = None


class MedicalEntity(msgspec.Struct, **_OPTS):
    """A PHI span (no ``Type``); times in seconds."""

    start_time: float = 0.0
    end_time: float = 0.0
    category: str | None = None
    content: str | None = None
    confidence: float | None = None


class MedicalAlternative(msgspec.Struct, **_OPTS):
    """A medical hypothesis."""

    transcript: str = ""
    items: tuple[MedicalItem, ...] = ()
    entities: tuple[MedicalEntity, ...] = ()


class MedicalResult(msgspec.Struct, **_OPTS):
    """A medical segment: as ``Result`` without language identification."""

    result_id: str
    start_time: float
    end_time: float
    is_partial: bool  # required: the service always sends it, false included
    alternatives: tuple[MedicalAlternative, ...] = ()
    channel_id: str | None = None


class MedicalTranscript(msgspec.Struct, **_OPTS):
    """The ``Transcript`` member of a medical event."""

    results: tuple[MedicalResult, ...] = ()


class MedicalTranscriptEvent(msgspec.Struct, **_OPTS):
    """``TranscriptEvent`` of StartMedicalStreamTranscription (same wire name)."""

    transcript: MedicalTranscript = MedicalTranscript()


# --------------------------------------------------------------------------- call analytics


class CallAnalyticsItem(msgspec.Struct, **_OPTS):
    """A Call Analytics item; offsets in integer milliseconds."""

    begin_offset_millis: int = 0
    end_offset_millis: int = 0
    type: str | None = None
    content: str | None = None
    confidence: float | None = None
    vocabulary_filter_match: bool = False
    stable: bool | None = None


class CallAnalyticsEntity(msgspec.Struct, **_OPTS):
    """A Call Analytics PII entity; offsets in integer milliseconds."""

    begin_offset_millis: int = 0
    end_offset_millis: int = 0
    category: str | None = None
    type: str | None = None
    content: str | None = None
    confidence: float | None = None


class CharacterOffsets(msgspec.Struct, **_OPTS):
    """Character offsets of an issue in the utterance transcript.

    The model spells the members ``Begin`` / ``End``; doc examples spell them
    ``BeginOffsetChar`` / ``EndOffsetChar`` (protocol.md §4.4). Both decode into
    ``begin`` / ``end``; encoding uses the model spelling.
    """

    begin: int | None = None
    end: int | None = None
    begin_offset_char: int | None = None
    end_offset_char: int | None = None

    def __post_init__(self) -> None:
        if self.begin_offset_char is not None:
            if self.begin is None:
                force_setattr(self, "begin", self.begin_offset_char)
            force_setattr(self, "begin_offset_char", None)
        if self.end_offset_char is not None:
            if self.end is None:
                force_setattr(self, "end", self.end_offset_char)
            force_setattr(self, "end_offset_char", None)


class IssueDetected(msgspec.Struct, **_OPTS):
    """An issue detected in an utterance (``IssuesDetected`` list member)."""

    character_offsets: CharacterOffsets = CharacterOffsets()


class UtteranceEvent(msgspec.Struct, **_OPTS):
    """``UtteranceEvent`` of StartCallAnalyticsStreamTranscription (protocol.md §4.4).

    Attributes:
        utterance_id: same across partial updates of one utterance.
        is_partial: True while the utterance may change.
        participant_role: ``"AGENT"`` or ``"CUSTOMER"``.
        begin_offset_millis, end_offset_millis: integer milliseconds from stream start.
        transcript: the utterance text.
        sentiment: ``POSITIVE`` / ``NEGATIVE`` / ``MIXED`` / ``NEUTRAL`` (finals).
    """

    utterance_id: str
    is_partial: bool  # required: the service always sends it, false included
    participant_role: str | None = None
    begin_offset_millis: int = 0
    end_offset_millis: int = 0
    transcript: str = ""
    items: tuple[CallAnalyticsItem, ...] = ()
    entities: tuple[CallAnalyticsEntity, ...] = ()
    sentiment: str | None = None
    issues_detected: tuple[IssueDetected, ...] = ()


class TimestampRange(msgspec.Struct, **_OPTS):
    """A matched range, integer milliseconds."""

    begin_offset_millis: int = 0
    end_offset_millis: int = 0


class PointsOfInterest(msgspec.Struct, **_OPTS):
    """Where a category matched."""

    timestamp_ranges: tuple[TimestampRange, ...] = ()


class CategoryEvent(msgspec.Struct, **_OPTS):
    """``CategoryEvent``: categories matched so far (protocol.md §4.4)."""

    matched_categories: tuple[str, ...] = ()
    matched_details: dict[str, PointsOfInterest] = {}


# --------------------------------------------------------------------------- configuration


class ChannelDefinition(msgspec.Struct, **_OPTS):
    """Role of one audio channel (Call Analytics ``ChannelDefinitions`` member).

    Raises:
        ParameterError: ``channel_id`` not 0 or 1, role not ``AGENT``/``CUSTOMER``.
    """

    channel_id: int
    participant_role: Literal["AGENT", "CUSTOMER"]

    def __post_init__(self) -> None:
        if isinstance(self.channel_id, bool) or self.channel_id not in (0, 1):
            raise ParameterError(
                f"ChannelDefinition ChannelId = {self.channel_id!r}: must be 0 or 1 "
                "(protocol.md §4.4)"
            )
        if self.participant_role not in ("AGENT", "CUSTOMER"):
            raise ParameterError(
                f"ChannelDefinition ParticipantRole = {self.participant_role!r}: "
                "must be AGENT or CUSTOMER (protocol.md §4.4)"
            )


class PostCallAnalyticsSettings(msgspec.Struct, **_OPTS):
    """Post-call analytics output settings (protocol.md §4.4).

    Raises:
        ParameterError: empty ``output_location`` / ``data_access_role_arn``, or an
            unknown ``content_redaction_output``.
    """

    output_location: str
    data_access_role_arn: str
    content_redaction_output: Literal["redacted", "redacted_and_unredacted"] | None = None
    output_encryption_kms_key_id: str | None = msgspec.field(
        default=None, name="OutputEncryptionKMSKeyId"
    )

    def __post_init__(self) -> None:
        if not self.output_location or not self.output_location.startswith("s3://"):
            raise ParameterError(
                f"PostCallAnalyticsSettings OutputLocation = {self.output_location!r}: "
                "must be an s3:// URI (protocol.md §4.4)"
            )
        if not self.data_access_role_arn.startswith("arn:"):
            raise ParameterError(
                f"PostCallAnalyticsSettings DataAccessRoleArn = {self.data_access_role_arn!r}: "
                "must be an IAM role ARN (protocol.md §4.4)"
            )
        if self.content_redaction_output not in (None, "redacted", "redacted_and_unredacted"):
            raise ParameterError(
                "PostCallAnalyticsSettings ContentRedactionOutput = "
                f"{self.content_redaction_output!r}: must be redacted or redacted_and_unredacted"
            )


class ConfigurationEvent(msgspec.Struct, **_OPTS):
    """Call Analytics ``ConfigurationEvent``, sent first (protocol.md §4.4).

    Attributes:
        channel_definitions: exactly two, channel ids 0 and 1.
        post_call_analytics_settings: optional.

    Raises:
        ParameterError: not exactly two definitions, or the same channel twice.
    """

    channel_definitions: tuple[ChannelDefinition, ...]
    post_call_analytics_settings: PostCallAnalyticsSettings | None = None

    def __post_init__(self) -> None:
        ids = sorted(d.channel_id for d in self.channel_definitions)
        if ids != [0, 1]:
            raise ParameterError(
                f"ConfigurationEvent ChannelDefinitions has channel ids {ids}: exactly two "
                "definitions with ChannelId 0 and 1 are required (protocol.md §4.4)"
            )


class UnknownEvent(msgspec.Struct, frozen=True):
    """An ``event`` message whose ``:event-type`` this operation does not model (the
    service may add union members); kept raw rather than dropped."""

    event_type: str
    payload: bytes


Event = (
    TranscriptEvent
    | MedicalTranscriptEvent
    | UtteranceEvent
    | CategoryEvent
    | ConfigurationEvent
    | UnknownEvent
)

# --------------------------------------------------------------------------- decoding

_DECODERS: dict[Operation, dict[str, msgspec.json.Decoder[Any]]] = {
    Operation.STANDARD: {"TranscriptEvent": msgspec.json.Decoder(TranscriptEvent)},
    Operation.MEDICAL: {"TranscriptEvent": msgspec.json.Decoder(MedicalTranscriptEvent)},
    Operation.CALL_ANALYTICS: {
        "UtteranceEvent": msgspec.json.Decoder(UtteranceEvent),
        "CategoryEvent": msgspec.json.Decoder(CategoryEvent),
    },
}
_CONFIG_DECODER = msgspec.json.Decoder(ConfigurationEvent)
_ERROR_DECODER = msgspec.json.Decoder(dict[str, Any])
_ENCODER = msgspec.json.Encoder()


def encode_payload(event: msgspec.Struct) -> bytes:
    """The PascalCase JSON body of an event struct."""
    return _ENCODER.encode(event)


def decode_payload(event_type: str, payload: bytes, operation: Operation | str) -> Any:
    """Decode an event's JSON body by ``:event-type`` (``ConfigurationEvent`` on the
    Call Analytics operation included).

    Raises:
        InvalidEventPayload: JSON that does not match the event's schema.
        UnexpectedMessage: an event type the operation does not have.
    """
    op = Operation(operation)
    decoder = _DECODERS[op].get(event_type)
    if decoder is None:
        if event_type == "ConfigurationEvent" and op is Operation.CALL_ANALYTICS:
            decoder = _CONFIG_DECODER
        else:
            raise UnexpectedMessage(f"{op.value} has no event type {event_type!r}")
    try:
        return decoder.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidEventPayload(
            f"{event_type} payload does not match its schema: {exc}"
        ) from None


def _service_error_text(payload: bytes) -> str:
    if not payload:
        return ""
    try:
        body = _ERROR_DECODER.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return payload.decode("utf-8", "replace")
    text = body.get("Message", body.get("message", ""))
    return text if isinstance(text, str) else str(text)


class EventDecoder:
    """``decode_event`` bound to one operation (tables looked up once): the hot path of
    the client session. Calling it has the contract of ``decode_event``.

    Args:
        operation: the ``Operation`` (or its name) of the stream.

    Raises:
        ValueError: an unknown operation name.
    """

    __slots__ = ("operation", "_table", "payload_decoders")

    def __init__(self, operation: Operation | str) -> None:
        self.operation = Operation(operation)
        self._table = _DECODERS[self.operation]
        #: ``{:event-type: decode(payload: bytes) -> event}`` for the event types this
        #: operation models: the fast path of ``EventStreamDecoder.feed_events``, with
        #: this object as its fallback. Each agrees with ``__call__`` when it returns; on
        #: bad JSON it raises msgspec's error, and ``__call__`` (the fallback) raises the
        #: typed ``InvalidEventPayload``.
        self.payload_decoders: dict[str, Callable[[bytes], Event]] = {
            etype: decoder.decode for etype, decoder in self._table.items()
        }

    def __call__(self, message: Message) -> Event | ServiceError:
        headers = message.headers
        mtype = headers.get(":message-type")
        if mtype == "event":
            etype = headers.get(":event-type")
            if not isinstance(etype, str):
                raise UnexpectedMessage("event message without a string :event-type header")
            decoder = self._table.get(etype)
            if decoder is None:
                return UnknownEvent(etype, message.payload)
            try:
                return decoder.decode(message.payload)  # type: ignore[no-any-return]
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise InvalidEventPayload(
                    f"{etype} payload does not match its schema: {exc}"
                ) from None
        if mtype == "exception":
            code = headers.get(":exception-type")
            if not isinstance(code, str) or not code:
                raise UnexpectedMessage("exception message without a string :exception-type header")
            return service_error(code, _service_error_text(message.payload))
        if mtype == "error":
            code = headers.get(":error-code")
            if not isinstance(code, str) or not code:
                raise UnexpectedMessage("error message without a string :error-code header")
            text = headers.get(":error-message", "")
            return service_error(code, text if isinstance(text, str) else str(text))
        raise UnexpectedMessage(f"unknown :message-type {mtype!r}")


# keyed by Operation; its str values hash and compare equal, so names hit too
_BOUND: dict[Operation | str, EventDecoder] = {op: EventDecoder(op) for op in Operation}


def decode_event(message: Message, *, operation: Operation | str) -> Event | ServiceError:
    """Turn one decoded event-stream message from the service into a typed event.

    Args:
        message: an event-stream ``Message`` (CRC-verified by the codec).
        operation: the ``Operation`` (or its name) of the stream: it decides whether a
            ``TranscriptEvent`` is standard or medical.

    Returns:
        ``TranscriptEvent`` / ``MedicalTranscriptEvent`` / ``UtteranceEvent`` /
        ``CategoryEvent``; ``UnknownEvent`` for an event type the operation does not
        model; for ``:message-type`` ``exception`` (``:exception-type``, JSON
        ``{"Message": ...}``) or ``error`` (``:error-code``, ``:error-message``) the
        matching ``ServiceError`` subclass **instance**, returned not raised
        (protocol.md §1.6, §4.5).

    Raises:
        UnexpectedMessage: missing/unknown ``:message-type`` or missing type header.
        InvalidEventPayload: JSON that does not match the event's schema.
        ValueError: an unknown operation name.
    """
    bound = _BOUND.get(operation)
    if bound is None:
        bound = _BOUND[Operation(operation)]
    return bound(message)
