"""Amazon Transcribe streaming protocol layer: pure Python, sans-I/O (protocol.md §3-§6).

- ``sigv4``: presigned WebSocket URLs and their verification; event (chunk) signatures.
- ``credentials``: ``Credentials`` (resolving them is I/O: ``scribewire.transport.credentials``).
- ``params``: ``StreamParams``, ``MedicalStreamParams``, ``CallAnalyticsParams``.
- ``events``: typed events (msgspec Structs) and ``decode_event``.
- ``frames``: every Transcribe frame, client and server side.
- ``session``: ``TranscribeSession``, the client session.
- ``ack``: ``TranscribeAck``, the acknowledgement rule and time shift for the replay
  ledger (``scribewire.streaming.replay``).
- ``limits``: every limit of the service, defined once.
- ``errors``: the service's exceptions by name.
"""

from __future__ import annotations

from .ack import TranscribeAck
from .credentials import Credentials
from .events import (
    Alternative,
    CallAnalyticsEntity,
    CallAnalyticsItem,
    CategoryEvent,
    ChannelDefinition,
    CharacterOffsets,
    ConfigurationEvent,
    Entity,
    Event,
    EventDecoder,
    IssueDetected,
    Item,
    LanguageWithScore,
    MedicalAlternative,
    MedicalEntity,
    MedicalItem,
    MedicalResult,
    MedicalTranscript,
    MedicalTranscriptEvent,
    PointsOfInterest,
    PostCallAnalyticsSettings,
    Result,
    TimestampRange,
    Transcript,
    TranscriptEvent,
    UnknownEvent,
    UtteranceEvent,
    decode_event,
)
from .frames import (
    AudioChunk,
    Configuration,
    EndOfStream,
    classify_client_message,
    encode_audio_event,
    encode_configuration_event,
    encode_end_of_stream,
    encode_event,
    encode_exception,
    encode_signed_envelope,
)
from .params import (
    CallAnalyticsParams,
    MedicalStreamParams,
    Operation,
    StreamParams,
    params_for_path,
)
from .session import SessionState, TranscribeSession
from .sigv4 import (
    EventSignatureVerifier,
    EventSigner,
    VerifiedRequest,
    default_endpoint,
    presign_url,
    verify_presigned,
)

__all__ = [
    "TranscribeAck",
    "Alternative",
    "AudioChunk",
    "CallAnalyticsEntity",
    "CallAnalyticsItem",
    "CallAnalyticsParams",
    "CategoryEvent",
    "ChannelDefinition",
    "CharacterOffsets",
    "Configuration",
    "ConfigurationEvent",
    "Credentials",
    "EndOfStream",
    "Entity",
    "Event",
    "EventDecoder",
    "EventSignatureVerifier",
    "EventSigner",
    "IssueDetected",
    "Item",
    "LanguageWithScore",
    "MedicalAlternative",
    "MedicalEntity",
    "MedicalItem",
    "MedicalResult",
    "MedicalStreamParams",
    "MedicalTranscript",
    "MedicalTranscriptEvent",
    "Operation",
    "PointsOfInterest",
    "PostCallAnalyticsSettings",
    "Result",
    "SessionState",
    "StreamParams",
    "TimestampRange",
    "TranscribeSession",
    "Transcript",
    "TranscriptEvent",
    "UnknownEvent",
    "UtteranceEvent",
    "VerifiedRequest",
    "classify_client_message",
    "decode_event",
    "default_endpoint",
    "encode_audio_event",
    "encode_configuration_event",
    "encode_end_of_stream",
    "encode_event",
    "encode_exception",
    "encode_signed_envelope",
    "params_for_path",
    "presign_url",
    "verify_presigned",
]
