"""Transcribe event-stream frames, both directions: the one place frames are built.

Client side: ``encode_audio_event`` (delegates to ``scribewire.eventstream``),
``encode_end_of_stream``, ``encode_configuration_event``, ``encode_signed_envelope``.
Server side: ``encode_event`` (TranscriptEvent / MedicalTranscriptEvent / UtteranceEvent /
CategoryEvent, ``:content-type`` ``application/json``), ``encode_exception`` and
``classify_client_message`` (AudioEvent, the signed envelope of protocol.md §4.2, the end
frame with or without ``:content-type``, ConfigurationEvent).
"""

from __future__ import annotations

import datetime as _dt

import msgspec

from .. import eventstream
from .._kernels._eventstream_types import Message, Timestamp
from ..errors import UnexpectedMessage
from .events import (
    CategoryEvent,
    ConfigurationEvent,
    MedicalTranscriptEvent,
    TranscriptEvent,
    UtteranceEvent,
    decode_payload,
    encode_payload,
)
from .params import Operation
from .sigv4 import EventSignatureVerifier, EventSigner

__all__ = [
    "AUDIO_EVENT_HEADER_MAP",
    "AudioChunk",
    "ClientMessage",
    "Configuration",
    "EndOfStream",
    "classify_client_message",
    "encode_audio_event",
    "encode_configuration_event",
    "encode_end_of_stream",
    "encode_event",
    "encode_exception",
    "encode_signed_envelope",
]

#: Frames a raw audio buffer as an AudioEvent (protocol.md §4.1); empty = end of stream.
encode_audio_event = eventstream.encode_audio_event

_JSON_EVENT_TYPES: dict[type[msgspec.Struct], str] = {
    TranscriptEvent: "TranscriptEvent",
    MedicalTranscriptEvent: "TranscriptEvent",
    UtteranceEvent: "UtteranceEvent",
    CategoryEvent: "CategoryEvent",
    ConfigurationEvent: "ConfigurationEvent",
}


def encode_end_of_stream() -> bytes:
    """The empty AudioEvent that ends the audio (protocol.md §4.1), 104 bytes."""
    return eventstream.encode_audio_event(b"")


def _json_event(event_type: str, body: bytes) -> bytes:
    return eventstream.encode_message(
        [
            (":content-type", "application/json"),
            (":event-type", event_type),
            (":message-type", "event"),
        ],
        body,
    )


def encode_configuration_event(event: ConfigurationEvent) -> bytes:
    """A Call Analytics ``ConfigurationEvent`` frame (JSON, protocol.md §4.4)."""
    if not isinstance(event, ConfigurationEvent):
        raise TypeError(f"expected ConfigurationEvent, got {type(event).__name__}")
    return _json_event("ConfigurationEvent", encode_payload(event))


def encode_event(
    event: TranscriptEvent | MedicalTranscriptEvent | UtteranceEvent | CategoryEvent,
) -> bytes:
    """A server event frame: ``:message-type`` event, ``:event-type`` (``TranscriptEvent``
    for both standard and medical), ``:content-type`` ``application/json``, PascalCase JSON
    body (protocol.md §6.3).

    Raises:
        TypeError: not one of the four server event types.
    """
    name = _JSON_EVENT_TYPES.get(type(event))
    if name is None or isinstance(event, ConfigurationEvent):
        raise TypeError(f"not a server event: {type(event).__name__}")
    return _json_event(name, encode_payload(event))


def encode_exception(code: str, message: str) -> bytes:
    """An exception frame: ``:message-type`` exception, ``:exception-type`` = ``code``,
    ``:content-type`` ``application/json``, body ``{"Message": message}`` (protocol.md
    §4.5, §6.3)."""
    if not code:
        raise ValueError("exception code must not be empty")
    return eventstream.encode_message(
        [
            (":content-type", "application/json"),
            (":exception-type", code),
            (":message-type", "exception"),
        ],
        msgspec.json.encode({"Message": message}),
    )


def encode_signed_envelope(
    inner: bytes, signer: EventSigner, now: _dt.datetime | float | int
) -> bytes:
    """Wrap an encoded message in the signed envelope of protocol.md §4.2.

    Args:
        inner: the complete inner message bytes; empty = the signed end of stream.
        signer: the chain's ``EventSigner`` (advanced by this call).
        now: signing time (aware datetime or POSIX seconds).
    """
    date_ms, sig = signer.sign(inner, now)
    return eventstream.encode_message(
        [(":date", Timestamp(date_ms)), (":chunk-signature", sig)], inner
    )


# --------------------------------------------------------------------------- server side


class AudioChunk(msgspec.Struct, frozen=True):
    """A non-empty AudioEvent: ``audio`` is the raw payload in the media encoding."""

    audio: bytes


class EndOfStream(msgspec.Struct, frozen=True):
    """The empty AudioEvent (or empty signed envelope): end of the audio."""


class Configuration(msgspec.Struct, frozen=True):
    """A ConfigurationEvent (Call Analytics); the server checks path and order."""

    event: ConfigurationEvent


ClientMessage = AudioChunk | EndOfStream | Configuration

_ENVELOPE_HEADERS = frozenset({":date", ":chunk-signature"})

#: The headers of a plain AudioEvent, exactly (protocol.md §4.1): a message with these
#: headers and a non-empty payload is an ``AudioChunk`` of that payload when no envelope
#: verifier is in force (the server session's per-message shortcut; every other message
#: goes through ``classify_client_message``).
AUDIO_EVENT_HEADER_MAP: dict[str, object] = {
    ":content-type": "application/octet-stream",
    ":event-type": "AudioEvent",
    ":message-type": "event",
}


def _classify_inner(msg: Message) -> ClientMessage:
    headers = msg.headers
    if headers.get(":message-type") != "event":
        raise UnexpectedMessage(
            f":message-type must be 'event', got {headers.get(':message-type')!r}"
        )
    etype = headers.get(":event-type")
    ctype = headers.get(":content-type")
    if etype == "AudioEvent":
        if not msg.payload:
            if ctype not in (None, "application/octet-stream"):
                raise UnexpectedMessage(f"end-of-stream AudioEvent with :content-type {ctype!r}")
            return EndOfStream()
        if ctype != "application/octet-stream":
            raise UnexpectedMessage(
                f"AudioEvent :content-type must be application/octet-stream, got {ctype!r}"
            )
        return AudioChunk(msg.payload)
    if etype == "ConfigurationEvent":
        if ctype not in (None, "application/json"):
            raise UnexpectedMessage(
                f"ConfigurationEvent :content-type must be application/json, got {ctype!r}"
            )
        event = decode_payload("ConfigurationEvent", msg.payload, Operation.CALL_ANALYTICS)
        return Configuration(event)
    raise UnexpectedMessage(f"unexpected :event-type {etype!r} from a client")


def classify_client_message(
    msg: Message,
    *,
    verifier: EventSignatureVerifier | None = None,
    now: _dt.datetime | float | int | None = None,
) -> ClientMessage:
    """Classify one message a client sent (protocol.md §6.2 steps 3-4).

    Accepts a plain event, or a signed envelope (headers exactly ``:date`` timestamp and
    ``:chunk-signature`` byte array; payload = the inner message, empty = end of stream).
    With a ``verifier`` the envelope signature chain is checked (strict mode; plain events
    are then refused), with ``now`` also the ``:date`` skew.

    Returns:
        ``AudioChunk`` / ``EndOfStream`` / ``Configuration``.

    Raises:
        UnexpectedMessage: wrong ``:message-type``, ``:event-type`` or ``:content-type``,
            malformed envelope, or a plain event when a verifier demands envelopes.
        InvalidEventPayload: a ConfigurationEvent whose JSON breaks its schema.
        ProtocolError: the envelope's inner bytes are not one valid message.
        AuthenticationError: the envelope signature does not verify.
    """
    headers = msg.headers
    if ":chunk-signature" in headers or ":date" in headers:
        if set(headers) != _ENVELOPE_HEADERS:
            raise UnexpectedMessage("signed envelope must carry exactly :date and :chunk-signature")
        date = headers[":date"]
        sig = headers[":chunk-signature"]
        if not isinstance(date, Timestamp) or not isinstance(sig, bytes) or len(sig) != 32:
            raise UnexpectedMessage(
                "signed envelope needs a timestamp :date and a 32-byte :chunk-signature"
            )
        if verifier is not None:
            verifier.verify(int(date), sig, msg.payload, now)
        if not msg.payload:
            return EndOfStream()
        inner = eventstream.decode_message(msg.payload)
        if ":chunk-signature" in inner.headers or ":date" in inner.headers:
            raise UnexpectedMessage("nested signed envelope")
        return _classify_inner(inner)
    if verifier is not None:
        raise UnexpectedMessage("unsigned event where signed envelopes are required")
    return _classify_inner(msg)

