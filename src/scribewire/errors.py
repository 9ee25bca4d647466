"""Every exception scribewire raises, in one tree.

::

    ScribewireError
    ├── ProtocolError                      bytes on the wire break a rule
    │   ├── FramingError                   event-stream prelude / lengths (protocol.md §1.1, §1.5)
    │   │   ├── InvalidLength              total_length < 16, headers_length > total_length - 16
    │   │   └── MessageTooLarge            headers or payload over the configured limit (§1.4)
    │   ├── ChecksumMismatch (ValueError)  a CRC32 did not match (expected, actual)
    │   │   ├── PreludeChecksumMismatch
    │   │   └── MessageChecksumMismatch
    │   ├── InvalidHeader                  a header in the headers section is malformed (§1.3)
    │   │   ├── UnknownHeaderType          value type byte outside 0..9
    │   │   ├── TruncatedHeader            a header runs past the headers section
    │   │   ├── InvalidHeaderName          empty name, name not valid UTF-8
    │   │   ├── InvalidHeaderValue         value not valid UTF-8, too long to encode
    │   │   └── DuplicateHeader            the same name twice in one message
    │   ├── UnexpectedMessage              valid frame, wrong :message-type / :event-type / state
    │   ├── InvalidEventPayload            an event's JSON does not match its schema
    │   ├── WebSocketProtocolError         a WebSocket frame breaks RFC 6455 (its close code)
    │   └── MediaStreamError               a media platform's message breaks its protocol
    │                                      (Twilio Media Streams, AudioHook, generic: ingest/)
    ├── ServiceError                       the service answered with an exception or error message
    │                                      (each provider's own subclasses: transcribe.errors,
    │                                      assemblyai.errors)
    ├── HandshakeRejected                  the WebSocket upgrade was refused (HTTP status, body)
    ├── AuthenticationError                a presigned URL fails verification (server side)
    ├── ConnectionClosed                   the socket closed before the stream ended cleanly
    ├── CredentialsError                   no usable AWS credentials / region
    ├── ParameterError (ValueError)        a stream parameter breaks a rule of protocol.md §3.3
    ├── SessionStateError                  a session call made in the wrong state
    │   ├── NotOpenError                   a stream used before open() / after close
    │   ├── DecoderClosed                  a decoder fed after an interrupted handler
    │   └── ReentrantFeed                  a decoder fed from inside its own handler
    ├── EventTypeError (TypeError)         an event argument of a type the call does not take
    ├── AudioFormatError (ValueError)      audio bytes or arrays of the wrong shape, size or dtype
    │   └── AudioTypeError (TypeError)     an audio argument of the wrong type
    ├── AudioFileError                     a file that cannot be opened or decoded (names the file)
    ├── CallRefused                        the front door refused a call or its audio (reason)
    └── RecognizerError                    a recognizer in a worker process failed (local service)
        └── RecognizerCrashed              its worker process died: the streams it served lost
                                           their recognizer state (others carry on)

Warnings: ``ScribewireWarning`` (``UserWarning``) > ``ReplayOverflow``.

``ProtocolError`` raised while parsing bytes received from a peer carries ``remote=True``:
the peer broke the rule, not this process.

No exception text ever contains a secret key, session token or signature: the classes
that keep text from a peer (``HandshakeRejected``'s body, ``ConnectionClosed``'s reason,
``ServiceError``'s message) pass it through :func:`scribewire.redact.redact` first.
"""

from __future__ import annotations

from typing import ClassVar

from .redact import redact

__all__ = [
    "AudioFileError",
    "AudioFormatError",
    "AudioTypeError",
    "AuthenticationError",
    "CallRefused",
    "ChecksumMismatch",
    "ConnectionClosed",
    "CredentialsError",
    "DecoderClosed",
    "DuplicateHeader",
    "EventTypeError",
    "FramingError",
    "HandshakeRejected",
    "InvalidEventPayload",
    "InvalidHeader",
    "InvalidHeaderName",
    "InvalidHeaderValue",
    "InvalidLength",
    "MessageChecksumMismatch",
    "MediaStreamError",
    "MessageTooLarge",
    "NotOpenError",
    "ParameterError",
    "PreludeChecksumMismatch",
    "ProtocolError",
    "RecognizerCrashed",
    "RecognizerError",
    "ReentrantFeed",
    "ReplayOverflow",
    "ScribewireError",
    "ScribewireWarning",
    "ServiceError",
    "SessionStateError",
    "TruncatedHeader",
    "UnexpectedMessage",
    "UnknownHeaderType",
    "WebSocketProtocolError",
]


class ScribewireError(Exception):
    """Root of every exception raised by scribewire."""


# --------------------------------------------------------------------------- protocol


class ProtocolError(ScribewireError):
    """Bytes on the wire break a rule of the protocol.

    Attributes:
        remote: True when the bytes came from the peer (set by the session's
            ``receive_data``), False when this process produced them.
    """

    remote: bool = False


class FramingError(ProtocolError):
    """The event-stream prelude or lengths are inconsistent (protocol.md §1.1, §1.5)."""


class InvalidLength(FramingError):
    """``total_length`` < 16 or ``headers_length`` > ``total_length`` - 16 (protocol.md §1.5)."""


class MessageTooLarge(FramingError):
    """A headers section or payload exceeds the limit (protocol.md §1.4).

    Attributes:
        what: ``"headers"``, ``"payload"`` or ``"message"``.
        size: the announced size in bytes.
        limit: the limit in bytes.
    """

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what} length {size} bytes exceeds the limit of {limit} bytes")
        self.what = what
        self.size = size
        self.limit = limit


class ChecksumMismatch(ProtocolError, ValueError):
    """A CRC32 in an event-stream message does not match the bytes it covers.

    Attributes:
        expected: the CRC32 carried by the message (unsigned 32-bit).
        actual: the CRC32 computed over the received bytes.
    """

    kind: ClassVar[str] = "message"

    def __init__(self, expected: int, actual: int, offset: int | None = None) -> None:
        where = f" at stream offset {offset}" if offset is not None else ""
        super().__init__(
            f"{self.kind} CRC32 mismatch{where}: message carries 0x{expected:08x}, "
            f"computed 0x{actual:08x}"
        )
        self.expected = expected
        self.actual = actual
        self.offset = offset


class PreludeChecksumMismatch(ChecksumMismatch):
    """The prelude CRC (bytes 0..7) does not match (protocol.md §1.1)."""

    kind = "prelude"


class MessageChecksumMismatch(ChecksumMismatch):
    """The message CRC (bytes 0..total_length-5) does not match (protocol.md §1.1)."""

    kind = "message"


class InvalidHeader(ProtocolError):
    """A header in the headers section is malformed (protocol.md §1.3)."""


class UnknownHeaderType(InvalidHeader):
    """A header value type byte outside 0..9 (protocol.md §1.3)."""


class TruncatedHeader(InvalidHeader):
    """A header's name or value runs past the end of the headers section."""


class InvalidHeaderName(InvalidHeader):
    """A header name is empty, too long (names are 1..255 bytes, protocol.md §1.3) or not
    valid UTF-8."""


class InvalidHeaderValue(InvalidHeader):
    """A header value is malformed: invalid UTF-8, or out of range for its type."""


class DuplicateHeader(InvalidHeader):
    """A header name occurs twice in one message (forbidden by the spec, protocol.md §1.3)."""


class UnexpectedMessage(ProtocolError):
    """A well-framed message that is not allowed here (wrong type, event or state)."""


class InvalidEventPayload(ProtocolError):
    """An event's payload (JSON) does not decode to the event's schema."""


class WebSocketProtocolError(ProtocolError):
    """A WebSocket frame from the peer breaks RFC 6455 (server-side reader, §5).

    Attributes:
        close_code: the close code the connection is failed with (RFC 6455 §7.4.1): 1002
            (protocol error: unmasked client frame, reserved bits or opcode, bad
            fragmentation, a control frame fragmented or over 125 bytes, a malformed
            close frame), 1007 (text or close reason not UTF-8), 1009 (a message over
            the size limit, refused from the frame header before its payload is read).
    """

    def __init__(self, message: str, close_code: int = 1002) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.remote = True


class MediaStreamError(ProtocolError):
    """A message from a media platform (Twilio Media Streams, Genesys AudioHook, a
    generic binary WebSocket) breaks that protocol: not JSON, a missing or ill-typed
    field, a message not allowed in the session's state, audio of the wrong size.

    Attributes:
        close_code: the WebSocket close code the front door closes with (RFC 6455
            §7.4.1): 1003 (a data type the protocol does not take there), 1007 (data not
            matching its declared type), 1008 (a policy: the rule the message broke).
    """

    def __init__(self, message: str, close_code: int = 1008) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.remote = True


# --------------------------------------------------------------------------- service


class ServiceError(ScribewireError):
    """The service sent an ``exception`` or ``error`` message (protocol.md §4.5).

    Attributes:
        code: the ``:exception-type`` or ``:error-code`` as the service names it.
        message: the service's message text, credentials redacted (a service that echoes
            the request would otherwise put the URL's signature or token here).
        retryable: whether opening a new stream may succeed (class property).
    """

    code: ClassVar[str] = "ServiceError"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str = "", code: str | None = None) -> None:
        message = redact(message)
        self.message = message
        if code is not None and code != type(self).code:
            self.code = code  # type: ignore[misc]
        super().__init__(f"{self.code}: {message}" if message else self.code)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message, self.code))


# --------------------------------------------------------------------------- transport, config


class HandshakeRejected(ScribewireError):
    """The WebSocket upgrade was refused with an HTTP status.

    Attributes:
        status: HTTP status code (e.g. 403).
        body: the response body as text, credentials redacted (a body that echoes the
            request would otherwise carry the URL's token and signature).
    """

    def __init__(self, status: int, body: str = "") -> None:
        body = redact(body)
        super().__init__(f"handshake rejected with HTTP {status}" + (f": {body}" if body else ""))
        self.status = status
        self.body = body


class AuthenticationError(ScribewireError):
    """A SigV4 presigned URL failed verification (protocol.md §6.1).

    The message names the failed check (algorithm, scope, expiry, signature, ...) and
    never contains the secret, the token or the expected signature.
    """


class ConnectionClosed(ScribewireError):
    """The connection closed before the stream ended cleanly.

    Attributes:
        code: WebSocket close code, or None when the transport failed.
        reason: the close reason text, credentials redacted.
        retryable: whether a new connection may succeed (a lost link: yes; a deadline
            or the caller's own close: no).
    """

    def __init__(
        self, code: int | None = None, reason: str = "", *, retryable: bool = True
    ) -> None:
        reason = redact(reason)
        super().__init__(f"connection closed (code={code}, reason={reason!r})")
        self.code = code
        self.reason = reason
        self.retryable = retryable

    def __reduce__(self) -> tuple[object, ...]:
        return (_connection_closed, (self.code, self.reason, self.retryable))


def _connection_closed(code: int | None, reason: str, retryable: bool) -> ConnectionClosed:
    return ConnectionClosed(code, reason, retryable=retryable)


class CredentialsError(ScribewireError):
    """No usable AWS credentials or region; the message says where it looked."""


class ParameterError(ScribewireError, ValueError):
    """A stream parameter breaks a rule; the message names parameter, value and rule."""


class SessionStateError(ScribewireError):
    """A session method was called in a state that does not allow it."""


class NotOpenError(SessionStateError):
    """A stream used before ``open()`` (or ``async with``), or after it was closed."""


class DecoderClosed(SessionStateError):
    """A decoder fed again after a handler was interrupted mid-stream (the stream
    position is lost, so no later byte can be trusted); ``__cause__`` is the interrupt."""


class ReentrantFeed(SessionStateError):
    """A decoder fed again from inside one of its own handlers."""


class EventTypeError(ScribewireError, TypeError):
    """An event argument that is not one of the event types the call takes."""


class AudioFormatError(ScribewireError, ValueError):
    """Audio of the wrong size, shape, rate or channel count for the call."""


class AudioTypeError(AudioFormatError, TypeError):
    """An audio argument of the wrong type or dtype."""


class AudioFileError(ScribewireError):
    """An audio file that cannot be opened or decoded; the message names the file.

    Args:
        message: what is wrong; with ``path`` given, without the path (the text is then
            ``"<path>: <message>"``).
        path: the file, when the caller has it apart.

    Attributes:
        path: the file (None when only the message names it).
        reason: ``message`` without the path.
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message if path is None else f"{path}: {message}")
        self.path = path
        self.reason = message

    def __reduce__(self) -> tuple[object, ...]:
        return (_audio_file_error, (self.reason, self.path))


def _audio_file_error(message: str, path: str | None) -> AudioFileError:
    return AudioFileError(message, path=path)


class CallRefused(ScribewireError):
    """The front door (``scribewire.ingest``) refused a new call or the rest of one.

    Attributes:
        reason: a short fixed word: ``"capacity"`` (the fleet's free capacity is below
            the front door's floor), ``"oom"`` (Redis is out of memory under
            ``maxmemory-policy noeviction``: its ``OOM`` reply to ``XADD``),
            ``"duplicate"`` (a call of that id is already open), ``"redis"`` (Redis is
            unreachable or answered an error).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (CallRefused, (self.reason, str(self)))


class RecognizerError(ScribewireError):
    """A recognizer running in a worker process of the local service failed: the pool
    is closed or cannot start its processes, or the recognizer raised an error that
    could not be carried back (the message names its type)."""


class RecognizerCrashed(RecognizerError):
    """The worker process that ran a stream's recognizer died (killed, out of memory, a
    crash in native code). That stream's recognizer state is gone, so every later call on
    it raises this too; streams on other worker processes carry on, and the pool starts a
    replacement process for new streams."""


# --------------------------------------------------------------------------- warnings


class ScribewireWarning(UserWarning):
    """Root of every warning scribewire issues."""


class ReplayOverflow(ScribewireWarning):
    """Audio the service had not finished with left a live stream's replay buffer (its
    memory budget): a reconnect before the service finishes with it cannot replay it.
    Also counted (``stream.ledger.dropped_nbytes``) and printed by the CLI summary."""
