"""Typed messages of AssemblyAI Universal-Streaming v3, server to client (assemblyai.md §4).

Frozen msgspec Structs, one per message ``type``, decoded in one pass by a tagged union
on the ``type`` field. Field names are the wire names. Unknown JSON members are tolerated
(the service adds fields); members equal to their default (None) are left out when
encoding, so the server session can build its messages from the same classes.

Times: ``Word.start`` / ``Word.end``, ``SpeechStarted.timestamp`` and ``Silence``'s
``start_ms`` / ``end_ms`` are integer **milliseconds** on the session's audio clock, from
the first audio byte of the connection (§4.2, §6 item 18). ``Begin.expires_at`` is Unix
seconds (integer). ``Termination``'s durations are whole seconds (§4.4; a float is kept
when a server sends one).

Required fields follow the Python SDK's models (§4; PY ``models.py``), so what the SDK
accepts we accept: ``Turn`` needs ``turn_order``, ``turn_is_formatted``, ``end_of_turn``,
``transcript``, ``end_of_turn_confidence`` and ``words``; ``Begin`` needs ``id`` and an
integer ``expires_at`` (the SDK also takes ISO strings; pipecat does not, §4.1).

:func:`decode_message` raises :class:`~scribewire.assemblyai.errors.MalformedMessage`
(not JSON, not an object) or :class:`~scribewire.assemblyai.errors.InvalidMessageSchema`
(a known type with wrong fields), both with ``remote=True``. A ``type`` it does not know
becomes :class:`UnknownMessage`; an object without ``type`` but with ``error`` is an
:class:`ErrorMessage` (as both SDKs read it, §4.8).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

from .errors import InvalidMessageSchema, MalformedMessage

__all__ = [
    "MESSAGE_TYPES",
    "Begin",
    "ErrorMessage",
    "Heartbeat",
    "LLMGatewayResponse",
    "ServerMessage",
    "SessionConfiguration",
    "Silence",
    "SpeakerRevision",
    "SpeakerRevisionItem",
    "SpeechStarted",
    "Termination",
    "Turn",
    "UnknownMessage",
    "WarningMessage",
    "Word",
    "decode_message",
    "encode_message",
]


class Word(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """One word of a ``Turn`` (§4.2).

    Attributes:
        start, end: ms on the session's audio clock.
        text: the word (formatted on a formatted message).
        confidence: 0..1.
        word_is_final: a final word never changes again (universal models); on U3 every
            word of a partial is non-final and every word of the final is final.
        speaker: per-word speaker label (SDK model; with ``speaker_labels``).
    """

    start: int
    end: int
    text: str
    confidence: float
    word_is_final: bool
    speaker: str | None = None


class _Tagged(msgspec.Struct, frozen=True, omit_defaults=True, tag_field="type", gc=False):
    """Base of the messages with a ``type`` tag."""


class SessionConfiguration(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """``Begin.configuration`` (optional): the model, mode and API version in force (§4.1)."""

    model: str | None = None
    mode: str | None = None
    api_version: str | None = None


class Begin(_Tagged, frozen=True, tag="Begin"):
    """The first message of a session (§4.1).

    Attributes:
        id: the session id (a UUID string); a new one on every connection (§4.6).
        expires_at: Unix seconds when the service force-closes the session (3 h after
            start, or the token's ``max_session_duration_seconds``; close 3008).
        configuration: what the service chose, when it says.
    """

    id: str
    expires_at: int
    configuration: SessionConfiguration | None = None


class Turn(_Tagged, frozen=True, tag="Turn"):
    """A transcript update of one turn (§4.2).

    Attributes:
        turn_order: the turn's index from 0 in this session; every message of a turn
            repeats it.
        turn_is_formatted: punctuation, casing and ITN applied. Not an end-of-turn
            signal (§8.8).
        end_of_turn: the turn is over. With ``format_turns`` on a universal model an
            unformatted and then a formatted end-of-turn message come with the same
            ``turn_order``; the formatted one is the turn's final (§4.7).
        transcript: universal models: the final words so far; U3: the whole current text.
        end_of_turn_confidence: 0..1 (U3: 1 on the end of turn, else 0).
        words: the words with their times (may be empty).
        utterance: universal models: filled when an utterance boundary is found, else
            ``""``; U3: equals ``transcript`` on the end-of-turn message. None when absent
            (the SDK does not model it).
        language_code, language_confidence: with ``language_detection``, on messages
            with a non-empty ``utterance`` or ``end_of_turn`` (§4.2, D-ML).
        speaker_label: with ``speaker_labels``: ``"A"``, ``"B"``... or ``"UNKNOWN"``.
    """

    turn_order: int
    turn_is_formatted: bool
    end_of_turn: bool
    transcript: str
    end_of_turn_confidence: float
    words: tuple[Word, ...]
    utterance: str | None = None
    language_code: str | None = None
    language_confidence: float | None = None
    speaker_label: str | None = None

    def is_final(self, formats_turns: bool) -> bool:
        """Whether this message is its turn's final one (§4.7): ``end_of_turn``, and
        ``turn_is_formatted`` when the session formats turns (``formats_turns``:
        ``format_turns`` on a universal model, or any U3 model; see
        ``StreamingParams.formats_turns``)."""
        return self.end_of_turn and (self.turn_is_formatted or not formats_turns)


class SpeechStarted(_Tagged, frozen=True, tag="SpeechStarted"):
    """Speech began (U3 family), before the turn's first ``Turn`` (§4.3).

    Attributes:
        timestamp: ms on the session's audio clock.
        confidence: 0..1 (required by the spec, ignored by the clients).
    """

    timestamp: int
    confidence: float | None = None


class Termination(_Tagged, frozen=True, tag="Termination"):
    """The session ended (after ``Terminate``, or at expiry); a close 1000 follows (§4.4).

    Attributes:
        audio_duration_seconds: audio received, whole seconds.
        session_duration_seconds: time the socket was open, whole seconds.
    """

    audio_duration_seconds: int | float | None = None
    session_duration_seconds: int | float | None = None


class ErrorMessage(_Tagged, frozen=True, tag="Error"):
    """``Error``: sent just before an error close with the same code (§4.8).

    Attributes:
        error: the text.
        error_code: the close code that follows (None when the server gave none).
    """

    error: str
    error_code: int | None = None


class WarningMessage(_Tagged, frozen=True, tag="Warning"):
    """``Warning``: non-fatal; no codes are documented (§4.5)."""

    warning_code: int
    warning: str


class Heartbeat(_Tagged, frozen=True, tag="Heartbeat"):
    """With ``session_heartbeat`` (§4.5).

    Attributes:
        total_audio_received_ms: audio received so far, ms.
        total_duration_ms: session time so far, ms.
        realtime_factor: processing speed ratio (may exceed 1).
        max_speech_probability: highest speech probability in the interval, 0..1.
    """

    total_audio_received_ms: int
    total_duration_ms: int
    realtime_factor: float
    max_speech_probability: float = 0.0


class Silence(_Tagged, frozen=True, tag="Silence"):
    """With ``acknowledge_silence`` (U3): a stretch without speech, ms on the audio clock
    (ranges can overlap after a service-side replay, §4.5)."""

    start_ms: int
    end_ms: int


class LLMGatewayResponse(_Tagged, frozen=True, tag="LLMGatewayResponse", gc=True):
    """With ``llm_gateway``: the model's answer for a turn (§4.5)."""

    turn_order: int
    transcript: str
    data: Any


class SpeakerRevisionItem(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """One earlier turn whose speaker labels changed; match it by ``turn_order``."""

    turn_order: int
    speaker_label: str | None = None
    words: tuple[Word, ...] = ()


class SpeakerRevision(_Tagged, frozen=True, tag="SpeakerRevision"):
    """Speaker re-clustering of earlier turns (§4.5)."""

    revisions: tuple[SpeakerRevisionItem, ...] = ()


class UnknownMessage(msgspec.Struct, frozen=True):
    """A message whose ``type`` this version does not know, kept whole.

    Attributes:
        type: the ``type`` value.
        data: the decoded JSON object (``type`` included).
    """

    type: str
    data: dict[str, Any]


_TAGGED = (
    Begin,
    Turn,
    SpeechStarted,
    Termination,
    ErrorMessage,
    WarningMessage,
    Heartbeat,
    Silence,
    LLMGatewayResponse,
    SpeakerRevision,
)

#: Every message a server may send, typed; ``UnknownMessage`` for the rest.
ServerMessage: TypeAlias = (
    Begin
    | Turn
    | SpeechStarted
    | Termination
    | ErrorMessage
    | WarningMessage
    | Heartbeat
    | Silence
    | LLMGatewayResponse
    | SpeakerRevision
    | UnknownMessage
)

#: ``type`` tag -> class.
MESSAGE_TYPES: dict[str, type[msgspec.Struct]] = {
    msgspec.inspect.type_info(c).tag: c  # type: ignore[attr-defined]
    for c in _TAGGED
}

_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    Begin
    | Turn
    | SpeechStarted
    | Termination
    | ErrorMessage
    | WarningMessage
    | Heartbeat
    | Silence
    | LLMGatewayResponse
    | SpeakerRevision
)
_any_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def _snippet(data: str | bytes | bytearray | memoryview) -> str:
    text = data if isinstance(data, str) else bytes(data[:120]).decode("utf-8", "replace")
    return text[:100] + ("..." if len(text) > 100 else "")


def _remote(
    err: MalformedMessage | InvalidMessageSchema,
) -> MalformedMessage | InvalidMessageSchema:
    err.remote = True
    return err


def decode_message(data: str | bytes | bytearray | memoryview) -> ServerMessage:
    """Decode one server message (the text of one WebSocket text message; UTF-8 bytes
    are accepted too).

    Returns:
        The typed message; :class:`UnknownMessage` for an unknown ``type``.

    Raises:
        MalformedMessage: not JSON, or not a JSON object (``remote=True``).
        InvalidMessageSchema: a known ``type`` whose fields break its schema, or a
            ``type`` that is not a string (``remote=True``).
    """
    try:
        msg: ServerMessage = _decoder.decode(data)
        return msg
    except msgspec.ValidationError as exc:
        error = exc
    except msgspec.DecodeError:
        raise _remote(MalformedMessage(f"server message is not JSON: {_snippet(data)!r}")) from None
    # slow path: what the tagged union refused
    obj = _any_decoder.decode(data)
    if not isinstance(obj, dict):
        raise _remote(
            MalformedMessage(f"server message is not a JSON object: {_snippet(data)!r}")
        )
    kind = obj.get("type")
    if kind is None and "error" in obj:
        try:
            return msgspec.convert(obj, ErrorMessage)
        except msgspec.ValidationError as exc:
            raise _remote(InvalidMessageSchema(f"Error message: {exc}")) from None
    if isinstance(kind, str) and kind not in MESSAGE_TYPES:
        return UnknownMessage(kind, obj)
    what = f"{kind} message" if isinstance(kind, str) else "server message"
    raise _remote(InvalidMessageSchema(f"{what}: {error}")) from None


def encode_message(message: ServerMessage) -> bytes:
    """The JSON of a message (UTF-8), ``type`` first, None fields left out; an
    :class:`UnknownMessage` gives its ``data``."""
    if isinstance(message, UnknownMessage):
        return _encoder.encode(message.data)
    return _encoder.encode(message)
