"""AssemblyAI's exceptions, under the scribewire error tree (``scribewire.errors``).

::

    ServiceError (scribewire.errors)
    ├── AssemblyAIServiceError             any close code; unknown codes land here
    │   ├── UnauthorizedConnection         1008 (§1.4, §5.1)
    │   │   ├── NotAuthorized              4001 (v2, §5.2)
    │   │   ├── InsufficientFunds          4002 (v2)
    │   │   └── PaidFeatureRequired        4003 (v2)
    │   ├── TooManySessions      retryable 3009, or 1008 with the rate-limit reason (§5.1, §9)
    │   │   └── TooManyStreams   retryable 4102 (v2)
    │   ├── TryAgainLater        retryable 1013 (v2)
    │   ├── ServerError          retryable 3005 (§5.1)
    │   ├── InputValidationError           3006 (§5.1)
    │   │   ├── InvalidSampleRate          4000 (v2)
    │   │   ├── InvalidJSONError           4100 (v2)
    │   │   └── InvalidSchemaError         4101 (v2)
    │   ├── AudioDurationViolation         3007: a message outside 50-1000 ms (§3.1)
    │   │   ├── AudioRateExceeded retryable 3007 "Audio Transmission Rate Exceeded" (§3.1)
    │   │   │   └── AudioTooFast retryable 4029 (v2)
    │   │   ├── AudioTooShort              4032 (v2)
    │   │   ├── AudioTooLong               4033 (v2)
    │   │   └── AudioTooSmall              4034 (v2)
    │   ├── SessionExpired       retryable 3008 (§5.1)
    │   │   └── SessionExpiredV2 retryable 4008 (v2)
    │   ├── SessionNotFound      retryable 4004 (v2)
    │   ├── SessionPreviouslyClosed retryable 4010 (v2)
    │   ├── SessionTaken                   4030 (v2)
    │   ├── SessionIdle          retryable 4031 (v2)
    │   └── SessionReconnected             4103 (v2)
    └── TokenRequestError                  ``GET /v3/token`` answered non-2xx (§1.3)
        ├── TokenRequestRejected           400, 401 and other 4xx
        ├── TokenRequestThrottled retryable 429
        └── TokenServiceError     retryable 5xx
    InvalidEventPayload (scribewire.errors, a ProtocolError)
    ├── MalformedMessage                   a server message that is not a JSON object
    ├── InvalidMessageSchema               a known message type with wrong fields
    └── InvalidClientMessage               (server side) a client text message breaking §3.2
    UnexpectedMessage (scribewire.errors, a ProtocolError)
    ├── UnexpectedBinaryMessage            a binary WebSocket message from the server
    └── OutOfOrderMessage                  a message the session's state does not allow

``retryable`` says whether a new session may succeed where this one failed: a rate
limit, a server fault, the session cap (the rollover case), a faster-than-real-time close
(a new session starts a new allowance). Rejected credentials, bad input and bad framing
are not: the same client would fail the same way.

``code`` is the close code as a decimal string (the root's ``code`` is a string: one
type across providers); ``close_code`` is the integer. No text here ever holds an API key
or a token: the texts are the service's close reasons and ours.
"""

from __future__ import annotations

from typing import ClassVar

from ..errors import InvalidEventPayload, ServiceError, UnexpectedMessage
from .limits import CLOSE_REASONS, CloseCode

__all__ = [
    "AssemblyAIServiceError",
    "AudioDurationViolation",
    "AudioRateExceeded",
    "AudioTooFast",
    "AudioTooLong",
    "AudioTooShort",
    "AudioTooSmall",
    "InputValidationError",
    "InsufficientFunds",
    "InvalidClientMessage",
    "InvalidJSONError",
    "InvalidMessageSchema",
    "InvalidSampleRate",
    "InvalidSchemaError",
    "MalformedMessage",
    "NotAuthorized",
    "OutOfOrderMessage",
    "PaidFeatureRequired",
    "ServerError",
    "SessionExpired",
    "SessionExpiredV2",
    "SessionIdle",
    "SessionNotFound",
    "SessionPreviouslyClosed",
    "SessionReconnected",
    "SessionTaken",
    "TokenRequestError",
    "TokenRequestRejected",
    "TokenRequestThrottled",
    "TokenServiceError",
    "TooManySessions",
    "TooManyStreams",
    "TryAgainLater",
    "UnauthorizedConnection",
    "UnexpectedBinaryMessage",
    "error_for_close",
    "error_for_status",
]


class AssemblyAIServiceError(ServiceError):
    """The service ended the session with an error close (or an ``Error`` message, §4.8).

    Args:
        message: the close reason or the ``Error`` message's ``error`` text; empty gives
            the code's table text (§5.1, §5.2).
        close_code: the close code, for an instance of this base class (a code with no
            class of its own); subclasses know theirs.

    Attributes:
        close_code: the WebSocket close code (int), None when the service gave none
            (an ``Error`` message without ``error_code``).
        code: ``str(close_code)``, or ``"AssemblyAIServiceError"`` without one.
        message: the text.
    """

    code: ClassVar[str] = "AssemblyAIServiceError"
    close_code: ClassVar[int | None] = None

    def __init__(self, message: str = "", close_code: int | None = None) -> None:
        if close_code is not None and close_code != type(self).close_code:
            self.close_code = close_code  # type: ignore[misc]
        cc = self.close_code
        if not message and cc is not None:
            message = CLOSE_REASONS.get(cc, f"Connection closed (code={cc})")
        super().__init__(message, code=None if cc is None else str(int(cc)))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message, self.close_code))


class UnauthorizedConnection(AssemblyAIServiceError):
    """1008: missing or invalid key or token, or an account problem (§1.4, §5.1)."""

    code = "1008"
    close_code = CloseCode.UNAUTHORIZED


class NotAuthorized(UnauthorizedConnection):
    """4001 (v2 table, §5.2): not authorized."""

    code = "4001"
    close_code = CloseCode.V2_NOT_AUTHORIZED


class InsufficientFunds(UnauthorizedConnection):
    """4002 (v2 table): insufficient funds."""

    code = "4002"
    close_code = CloseCode.V2_INSUFFICIENT_FUNDS


class PaidFeatureRequired(UnauthorizedConnection):
    """4003 (v2 table): a paid-only feature on a free account."""

    code = "4003"
    close_code = CloseCode.V2_PAID_ONLY


class TooManySessions(AssemblyAIServiceError):
    """3009, or 1008 whose reason names the limit: too many new sessions per minute
    (§5.1; the two documents disagree on the code, §9). Retry with backoff."""

    code = "3009"
    close_code = CloseCode.TOO_MANY_SESSIONS
    retryable = True


class TooManyStreams(TooManySessions):
    """4102 (v2 table): the account exceeded its allowed streams."""

    code = "4102"
    close_code = CloseCode.V2_TOO_MANY_STREAMS


class TryAgainLater(AssemblyAIServiceError):
    """1013 (v2 table): a temporary server condition."""

    code = "1013"
    close_code = CloseCode.TRY_AGAIN_LATER
    retryable = True


class ServerError(AssemblyAIServiceError):
    """3005: "Session Cancelled: An error occurred", the service's catch-all (§5.1)."""

    code = "3005"
    close_code = CloseCode.SERVER_ERROR
    retryable = True


class InputValidationError(AssemblyAIServiceError):
    """3006: a client text message or a parameter the service rejects (§5.1, §2.3)."""

    code = "3006"
    close_code = CloseCode.INPUT_VALIDATION


class InvalidSampleRate(InputValidationError):
    """4000 (v2 table): the sample rate must be a positive integer."""

    code = "4000"
    close_code = CloseCode.V2_INVALID_SAMPLE_RATE


class InvalidJSONError(InputValidationError):
    """4100 (v2 table): the service received invalid JSON."""

    code = "4100"
    close_code = CloseCode.V2_INVALID_JSON


class InvalidSchemaError(InputValidationError):
    """4101 (v2 table): a message with an invalid schema."""

    code = "4101"
    close_code = CloseCode.V2_INVALID_SCHEMA


class AudioDurationViolation(AssemblyAIServiceError):
    """3007: an audio message outside 50-1000 ms (§3.1, §5.1)."""

    code = "3007"
    close_code = CloseCode.AUDIO_DURATION


class AudioRateExceeded(AudioDurationViolation):
    """3007 "Audio Transmission Rate Exceeded": audio faster than real time (§3.1).

    Retryable: a new session starts a new allowance (pace it at 1x)."""

    retryable = True


class AudioTooFast(AudioRateExceeded):
    """4029 (v2 table): the client sent audio too fast."""

    code = "4029"
    close_code = CloseCode.V2_AUDIO_TOO_FAST


class AudioTooShort(AudioDurationViolation):
    """4032 (v2 table): audio duration too short."""

    code = "4032"
    close_code = CloseCode.V2_AUDIO_TOO_SHORT


class AudioTooLong(AudioDurationViolation):
    """4033 (v2 table): audio duration too long."""

    code = "4033"
    close_code = CloseCode.V2_AUDIO_TOO_LONG


class AudioTooSmall(AudioDurationViolation):
    """4034 (v2 table): audio too small to transcode."""

    code = "4034"
    close_code = CloseCode.V2_AUDIO_TOO_SMALL


class SessionExpired(AssemblyAIServiceError):
    """3008: the session reached its cap (3 h, or the token's
    ``max_session_duration_seconds``; §5.1, §4.1). Retryable: continue on a new session."""

    code = "3008"
    close_code = CloseCode.SESSION_EXPIRED
    retryable = True


class SessionExpiredV2(SessionExpired):
    """4008 (v2 table): session expired."""

    code = "4008"
    close_code = CloseCode.V2_SESSION_EXPIRED


class SessionNotFound(AssemblyAIServiceError):
    """4004 (v2 table): session not found; a new session may succeed."""

    code = "4004"
    close_code = CloseCode.V2_SESSION_NOT_FOUND
    retryable = True


class SessionPreviouslyClosed(AssemblyAIServiceError):
    """4010 (v2 table): the session was closed before; a new session may succeed."""

    code = "4010"
    close_code = CloseCode.V2_SESSION_PREVIOUSLY_CLOSED
    retryable = True


class SessionTaken(AssemblyAIServiceError):
    """4030 (v2 table): another WebSocket handles this session."""

    code = "4030"
    close_code = CloseCode.V2_SESSION_TAKEN


class SessionIdle(AssemblyAIServiceError):
    """4031 (v2 table): idle for too long; a new session may succeed."""

    code = "4031"
    close_code = CloseCode.V2_SESSION_IDLE
    retryable = True


class SessionReconnected(AssemblyAIServiceError):
    """4103 (v2 table): the session was reconnected elsewhere; this WebSocket is void."""

    code = "4103"
    close_code = CloseCode.V2_RECONNECTED


_BY_CODE: dict[int, type[AssemblyAIServiceError]] = {
    int(c.close_code or 0): c
    for c in (
        UnauthorizedConnection,
        NotAuthorized,
        InsufficientFunds,
        PaidFeatureRequired,
        TooManySessions,
        TooManyStreams,
        TryAgainLater,
        ServerError,
        InputValidationError,
        InvalidSampleRate,
        InvalidJSONError,
        InvalidSchemaError,
        AudioDurationViolation,
        AudioTooFast,
        AudioTooShort,
        AudioTooLong,
        AudioTooSmall,
        SessionExpired,
        SessionExpiredV2,
        SessionNotFound,
        SessionPreviouslyClosed,
        SessionTaken,
        SessionIdle,
        SessionReconnected,
    )
}

_RATE_LIMIT_MARK = "too many concurrent sessions"
_RATE_EXCEEDED_MARK = "audio transmission rate exceeded"


def error_for_close(code: int, reason: str = "") -> AssemblyAIServiceError | None:
    """What a close (or an ``Error`` message's ``error_code``) from the service means.

    Args:
        code: the close code (or ``error_code``).
        reason: the close reason (or the ``error`` text); may be empty.

    Returns:
        None for 1000 (the normal close, §5.1). Otherwise an instance of the code's class
        (§5.1, §5.2), with the reason as its message (the code's table text when the
        reason is empty). Two codes carry two meanings, told apart by the reason: 1008
        with "Too many concurrent sessions" is :class:`TooManySessions` (§5.1: the
        concurrency page uses 1008, the errors table 3009; §9), and 3007 with "Audio
        Transmission Rate Exceeded" is :class:`AudioRateExceeded` (§3.1). A code with no
        class gives :class:`AssemblyAIServiceError` with that ``close_code`` and the
        reason, or "Connection closed (code=N)" as the SDK says (§5.2).
    """
    if code == CloseCode.NORMAL:
        return None
    low = reason.lower()
    if code == CloseCode.UNAUTHORIZED and _RATE_LIMIT_MARK in low:
        return TooManySessions(reason, close_code=code)
    if code == CloseCode.AUDIO_DURATION and low.startswith(_RATE_EXCEEDED_MARK):
        return AudioRateExceeded(reason)
    cls = _BY_CODE.get(code)
    if cls is None:
        return AssemblyAIServiceError(reason, close_code=code)
    return cls(reason)


# --------------------------------------------------------------------------- temporary tokens


class TokenRequestError(ServiceError):
    """``GET /v3/token`` answered with an error status (§1.3).

    Args:
        status: the HTTP status.
        message: the body's ``error`` text (or a short description of the body).
        error_code: the body's optional ``code``.

    Attributes:
        status, message, error_code: as given; ``code`` is ``str(status)``.
    """

    code: ClassVar[str] = "TokenRequestError"

    def __init__(self, status: int, message: str = "", error_code: str | None = None) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(message or f"HTTP {status}", code=str(status))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.status, self.message, self.error_code))


class TokenRequestRejected(TokenRequestError):
    """400 (a parameter out of range), 401 (bad API key) or another 4xx (§1.3)."""


class TokenRequestThrottled(TokenRequestError):
    """429: too many requests; retry with backoff (§1.3)."""

    retryable = True


class TokenServiceError(TokenRequestError):
    """5xx: the token service failed; retry (§1.3)."""

    retryable = True


def error_for_status(
    status: int, message: str = "", error_code: str | None = None
) -> TokenRequestError:
    """The :class:`TokenRequestError` subclass for a non-2xx token response status."""
    if status == 429:
        return TokenRequestThrottled(status, message, error_code)
    if status >= 500:
        return TokenServiceError(status, message, error_code)
    return TokenRequestRejected(status, message, error_code)


# --------------------------------------------------------------------------- protocol


class MalformedMessage(InvalidEventPayload):
    """A server text message that is not a JSON object (raised with ``remote=True``)."""


class InvalidMessageSchema(InvalidEventPayload):
    """A server message of a known ``type`` whose fields break its schema (§4)."""


class InvalidClientMessage(InvalidEventPayload):
    """(Server side) a client text message that is not a known control message (§3.2).

    Attributes:
        reason: the 3006 close reason to answer with (``Invalid JSON: ...``,
            ``Invalid Message Type: ...`` or ``Invalid Message: ...``, §5.1).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.remote = True


class UnexpectedBinaryMessage(UnexpectedMessage):
    """A binary WebSocket message from the server: every server message is JSON text (§4)."""


class OutOfOrderMessage(UnexpectedMessage):
    """A server message the session's state does not allow: a second ``Begin``, a result
    before ``Begin``, anything after ``Termination`` (§4.6)."""
