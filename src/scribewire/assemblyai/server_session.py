"""Sans-I/O server side of AssemblyAI Universal-Streaming v3 (assemblyai.md §6).

:class:`AssemblyAIServerSession` is the service's half of one connection, for the local
service: the handshake (path, credentials, parameters) is judged at construction; then
WebSocket messages go in with :meth:`~AssemblyAIServerSession.receive_message`, events
for the recognizer come out of :meth:`~AssemblyAIServerSession.events_received`,
results go in with :meth:`~AssemblyAIServerSession.emit_turn`, and the JSON text
messages to send come out of :meth:`~AssemblyAIServerSession.data_to_send`. When
``close_decision`` is set, the caller sends what is queued and closes the socket with
that code and reason. The recognizer stays outside: the session only shapes its results
into the wire's ``Turn`` messages. Time is an argument: ``now`` (seconds on any
monotonic clock) on every call, and the POSIX time at the start (``unix_time``) for
``Begin.expires_at``. No socket, no clock, no environment.

What it checks and emits, in the order of §6:

* **Upgrade** (items 1-5): the path must be ``/v3/ws`` (else HTTP 404). An API key in
  ``Authorization`` (compared in constant time), or a temporary token in the ``token``
  query or in ``Authorization`` (checked by a caller's hook, e.g.
  :meth:`TokenIssuer.redeem`: single use, redemption window, session cap). A failure
  sends ``Error`` 1008 and closes 1008 with the same reason, or (``reject_over_http``)
  answers HTTP 401 before the upgrade.
* **Parameters** (items 6-8): ``StreamingParams.from_query`` (lenient: ``True`` and
  ``true``, JSON lists, unknown names ignored); a rule broken sends ``Error`` 3006 and
  closes 3006 (after the upgrade, before ``Begin``: where the service reports it is
  [open], §2.3).
* **Session** (items 9-17): ``Begin`` first with a UUID4 ``id`` and an integer
  ``expires_at``. Binary messages are audio: each must hold 50-1000 ms (else 3007 with
  the documented text), one short message right before ``Terminate`` is allowed unless
  ``strict_tail``; audio may run at most ``rate_allowance`` seconds ahead of the wall
  clock (else 3007 "Audio Transmission Rate Exceeded"). Text messages must be JSON
  objects with a known ``type`` (else 3006 "Invalid JSON" / "Invalid Message Type" /
  "Invalid Message"). ``UpdateConfiguration`` changes the parameters (no reply),
  ``ForceEndpoint`` asks the recognizer for the turn's final, ``KeepAlive`` resets the
  inactivity timer. At ``expires_at``: ``Error`` 3008 and close 3008. After
  ``inactivity_timeout`` without audio or ``KeepAlive``: ``Termination`` and close 1000
  (what happens there is [open]; this is the guess of §6 item 15).
* **Results** (items 18-23): see :meth:`AssemblyAIServerSession.emit_turn`.
* **Termination** (items 24-26): after ``Terminate`` the caller flushes the open turn
  and calls :meth:`~AssemblyAIServerSession.finish`: ``Termination`` with **integer**
  ``audio_duration_seconds`` (bytes received) and ``session_duration_seconds`` (wall
  clock), then close 1000. A float there crashes the official SDK (§4.4). Audio after
  ``Terminate`` is ignored. Every error path sends ``Error`` first, then the close with
  the same code.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypeAlias
from urllib.parse import parse_qsl, urlsplit

import msgspec

from ..errors import ParameterError, SessionStateError
from .auth import TOKEN_PATH, WS_PATH, ApiKey, Secret, TemporaryToken, keys_match
from .errors import InvalidClientMessage
from .events import Begin, SessionConfiguration, SpeechStarted, Termination, Turn, Word
from .events import encode_message as _encode_message
from .limits import (
    API_VERSION,
    BYTES_PER_SAMPLE,
    MAX_CLOSE_REASON_BYTES,
    MAX_FRAME_MS,
    MAX_SESSION_SECONDS,
    MIN_FRAME_MS,
    RATE_ALLOWANCE_SECONDS,
    REASON_DURATION,
    REASON_RATE_EXCEEDED,
    REASON_UNAUTHORIZED,
    TOKEN_EXPIRES_MAX_SECONDS,
    TOKEN_EXPIRES_MIN_SECONDS,
    TOKEN_SESSION_MAX_SECONDS,
    TOKEN_SESSION_MIN_SECONDS,
    CloseCode,
)
from .messages import (
    ForceEndpoint,
    KeepAlive,
    Terminate,
    UpdateConfiguration,
    decode_client_message,
)
from .params import DEPRECATED_ALIASES, UPDATABLE, StreamingParams

__all__ = [
    "AssemblyAIServerSession",
    "AudioReceived",
    "CloseDecision",
    "ConfigurationUpdated",
    "Credential",
    "ForceEndpointRequested",
    "HttpResponse",
    "RecognizedWord",
    "ServerConfig",
    "ServerEvent",
    "ServerState",
    "TerminateRequested",
    "TokenCheck",
    "TokenInfo",
    "TokenIssuer",
    "default_formatter",
]

#: 1008 text for a connection without credentials (§1.4, §5.1).
MISSING_AUTH = "Missing Authorization header"
#: 1008 text for credentials that do not check out (wording ours; the service's is [open]).
INVALID_AUTH = "Invalid API key or temporary token"
#: 3008 text (§5.1).
SESSION_EXPIRED = "Session Expired: Maximum session duration exceeded"
#: 3006 prefix for a rejected parameter or audio shape (seen in production, §2.3 [obs]).
INPUT_VALIDATION = "User Input Validation Error: {}"


class HttpResponse(NamedTuple):
    """An HTTP answer instead of (or beside) the upgrade: status and JSON body."""

    status: int
    body: bytes
    content_type: str = "application/json"


class CloseDecision(NamedTuple):
    """Close the WebSocket with this code and reason once the queued messages are sent."""

    code: int
    reason: str


class Credential(NamedTuple):
    """What the client presented: ``kind`` ``"api_key"`` or ``"token"``, ``source``
    ``"header"`` (``Authorization``) or ``"query"`` (``token=``), the secret."""

    kind: Literal["api_key", "token"]
    source: Literal["header", "query"]
    secret: Secret


class TokenInfo(NamedTuple):
    """What a redeemed token allows: the session cap, seconds (None: the default 3 h)."""

    max_session_duration_seconds: int | None


#: ``(token, unix_now) -> TokenInfo`` for a token that may open a session now (single
#: use: a second call for the same token must return None), or None.
TokenCheck: TypeAlias = Callable[[TemporaryToken, float], "TokenInfo | None"]


class ServerState(enum.Enum):
    """Where a server session is."""

    OPEN = "open"  #: ``Begin`` sent; audio and control messages accepted
    TERMINATING = "terminating"  #: ``Terminate`` received; results may still be emitted
    CLOSING = "closing"  #: ``Termination`` or ``Error`` queued; send, then close
    CLOSED = "closed"  #: the connection is gone


# --------------------------------------------------------------------------- events


class AudioReceived(msgspec.Struct, frozen=True, gc=False):
    """One accepted audio message.

    Attributes:
        audio: the bytes, in the session's ``encoding`` (mono).
        offset: bytes of audio received before it (the audio clock, §6 item 18).
        start: its first sample's time, seconds on the audio clock.
        duration: seconds of audio.
    """

    audio: bytes
    offset: int
    start: float
    duration: float


class ConfigurationUpdated(msgspec.Struct, frozen=True):
    """``UpdateConfiguration`` applied (§3.3): the fields as sent (current names) and
    the parameters now in force."""

    fields: dict[str, Any]
    params: StreamingParams


class ForceEndpointRequested(msgspec.Struct, frozen=True):
    """``ForceEndpoint``: emit the open turn's final now (nothing if no turn is open)."""


class TerminateRequested(msgspec.Struct, frozen=True):
    """``Terminate``: no more audio; emit the open turn's final, then call ``finish``."""


ServerEvent: TypeAlias = (
    AudioReceived | ConfigurationUpdated | ForceEndpointRequested | TerminateRequested
)


class RecognizedWord(msgspec.Struct, frozen=True, gc=False):
    """A word from the recognizer.

    Attributes:
        text: the word as recognized (unformatted).
        start, end: ms on the audio clock (``AudioReceived.start`` x 1000).
        confidence: 0..1.
        final: universal models: whether the word is final (only the last word of a
            partial may be non-final, §4.2); ignored on U3 and at the end of a turn.
    """

    text: str
    start: int
    end: int
    confidence: float = 1.0
    final: bool = True


def default_formatter(words: Sequence[str]) -> list[str]:
    """A minimal ``format_turns`` pass: capital first letter, a full stop at the end
    unless the turn ends in ``.``, ``?`` or ``!``."""
    out = list(words)
    if out:
        out[0] = out[0][:1].upper() + out[0][1:]
        if not out[-1].endswith((".", "?", "!")):
            out[-1] += "."
    return out


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    """Settings of the local service (the points where the docs leave a choice).

    Attributes:
        api_keys: accepted API keys; None accepts any non-empty credential (the
            embedded default; a missing credential still fails).
        token_check: redeems temporary tokens (:meth:`TokenIssuer.redeem`); None: with
            ``api_keys`` None any token is accepted, else tokens are refused.
        reject_over_http: answer bad credentials with HTTP 401 before the upgrade (the
            SDK's ``InvalidStatus`` path, §6 item 3) instead of ``Error`` + close 1008.
        default_speech_model: the model when the client sends none (disputed, §2.2, §9).
        max_session_seconds: the session cap without a token cap (3 h, §5.1).
        rate_allowance: seconds audio may run ahead of the wall clock (§3.1 [obs]: about
            310 s); None: no check.
        strict_tail: refuse a short audio message right before ``Terminate`` too (§6
            item 10; pipecat sends one, §3.1).
        begin_configuration: add ``configuration {model, mode, api_version}`` to ``Begin``.
        formatter: the formatting pass for formatted messages (words in, words out).
    """

    api_keys: frozenset[Secret] | None = None
    token_check: TokenCheck | None = None
    reject_over_http: bool = False
    default_speech_model: str | None = "universal-streaming-english"
    max_session_seconds: float = MAX_SESSION_SECONDS
    rate_allowance: float | None = RATE_ALLOWANCE_SECONDS
    strict_tail: bool = False
    begin_configuration: bool = True
    formatter: Callable[[Sequence[str]], Sequence[str]] = default_formatter

    @staticmethod
    def keys(*keys: str | Secret) -> frozenset[Secret]:
        """API keys for ``api_keys``, wrapped as secrets."""
        return frozenset(k if isinstance(k, Secret) else ApiKey(k) for k in keys)


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    low = name.lower()
    for key, value in items:
        if key.lower() == low:
            return value
    return None


def _reason(text: str) -> str:
    """``text`` cut to what a close frame carries (123 UTF-8 bytes, RFC 6455 §5.5)."""
    raw = text.encode()
    if len(raw) <= MAX_CLOSE_REASON_BYTES:
        return text
    return raw[:MAX_CLOSE_REASON_BYTES].decode("utf-8", "ignore")


def _half_up(x: float) -> int:
    return math.floor(x + 0.5)


_encode = msgspec.json.Encoder().encode


# --------------------------------------------------------------------------- the session


class AssemblyAIServerSession:
    """The service side of one AssemblyAI v3 connection (sans-I/O).

    Args:
        path: the request target (path and query, e.g. ``/v3/ws?sample_rate=16000``).
        headers: the upgrade request's headers (any case; a mapping or pairs).
        now: the connection's start, seconds on the caller's monotonic clock.
        unix_time: POSIX seconds at ``now`` (for ``expires_at``).
        config: the service's settings.
        session_id: the ``Begin`` id (default: a new UUID4).

    After construction: ``http_response`` set means "answer this over HTTP instead of
    upgrading"; otherwise upgrade, then send :meth:`data_to_send` (``Begin``, or
    ``Error``) and honour ``close_decision``.
    """

    def __init__(
        self,
        path: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        now: float,
        unix_time: float,
        config: ServerConfig | None = None,
        session_id: str | None = None,
    ) -> None:
        self.config = cfg = config if config is not None else ServerConfig()
        self.start = now
        self.unix_start = unix_time
        self.session_id = session_id if session_id is not None else str(uuid.uuid4())
        self.state = ServerState.OPEN
        self.http_response: HttpResponse | None = None
        self.close_decision: CloseDecision | None = None
        #: The first error sent (code, text), if any.
        self.error: CloseDecision | None = None
        self.credential: Credential | None = None
        #: The client's ``AssemblyAI-Version`` header, if any (§1.2).
        self.api_version: str | None = None
        self.params: StreamingParams | None = None
        self.expires_at = 0
        self.audio_nbytes = 0
        self.audio_messages = 0
        self.turn_order = 0
        self.turns_sent = 0
        self._out: list[str] = []
        self._events: list[ServerEvent] = []
        self._last_activity = now
        self._short: bytes | None = None  # a short audio message waiting for Terminate
        self._turn_open = False
        self._speech_started = False
        self._bpf = 2
        self._rate = 16_000

        parts = urlsplit(path)
        if parts.path != WS_PATH:
            self.http_response = HttpResponse(404, _encode({"error": f"Not found: {parts.path}"}))
            self.state = ServerState.CLOSED
            return
        query = parse_qsl(parts.query, keep_blank_values=True)
        self.api_version = _header(headers, "AssemblyAI-Version")
        cap = self._authenticate(headers, query, unix_time)
        if cap is None:
            return
        try:
            params = StreamingParams.from_query(
                query, default_speech_model=cfg.default_speech_model
            )
        except ParameterError as exc:
            self.fail(CloseCode.INPUT_VALIDATION, INPUT_VALIDATION.format(_param_text(exc)))
            return
        self.params = params
        self._bpf = BYTES_PER_SAMPLE[params.encoding]
        self._rate = params.sample_rate
        self.expires_at = int(unix_time + cap)
        conf = None
        if cfg.begin_configuration:
            mode = params.mode if params.mode is not None else params.effective("mode")
            conf = SessionConfiguration(
                model=params.speech_model,
                mode=mode if isinstance(mode, str) else None,
                api_version=self.api_version or API_VERSION,
            )
        self._send(Begin(id=self.session_id, expires_at=self.expires_at, configuration=conf))

    # ---------------------------------------------------------------- handshake

    def _authenticate(
        self,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        query: list[tuple[str, str]],
        unix_time: float,
    ) -> float | None:
        """Check the credential; return the session cap in seconds, or None (failed)."""
        cfg = self.config
        cap = float(cfg.max_session_seconds)
        auth_value = _header(headers, "Authorization")
        tokens = [v for k, v in query if k == "token"]
        presented: list[tuple[Literal["header", "query"], str]] = []
        if auth_value:
            presented.append(("header", auth_value))
        if tokens and tokens[-1]:
            presented.append(("query", tokens[-1]))
        if not presented:
            self._auth_failed(MISSING_AUTH)
            return None
        for source, value in presented:
            try:
                secret = TemporaryToken(value)
            except ParameterError:
                continue  # whitespace or control characters: never a credential
            if source == "header" and cfg.api_keys is not None:
                if any(keys_match(value, k) for k in cfg.api_keys):
                    self.credential = Credential("api_key", "header", ApiKey(value))
                    return cap
            if cfg.token_check is not None:
                info = cfg.token_check(secret, unix_time)
                if info is not None:
                    self.credential = Credential("token", source, secret)
                    if info.max_session_duration_seconds is not None:
                        cap = min(cap, float(info.max_session_duration_seconds))
                    return cap
            if cfg.api_keys is None:  # open mode: any credential
                kind: Literal["api_key", "token"] = "api_key" if source == "header" else "token"
                self.credential = Credential(kind, source, secret)
                return cap
        self._auth_failed(INVALID_AUTH)
        return None

    def _auth_failed(self, why: str) -> None:
        reason = REASON_UNAUTHORIZED.format(why)
        if self.config.reject_over_http:
            self.http_response = HttpResponse(401, _encode({"error": reason}))
            self.state = ServerState.CLOSED
            return
        self.fail(CloseCode.UNAUTHORIZED, reason)

    # ---------------------------------------------------------------- output

    def _send(self, message: Begin | Turn | SpeechStarted | Termination) -> None:
        self._out.append(_encode_message(message).decode())

    def data_to_send(self) -> list[str]:
        """JSON text messages queued since the last call, in order; send each as one
        text message."""
        out, self._out = self._out, []
        return out

    def events_received(self) -> list[ServerEvent]:
        """Events for the recognizer since the last call, in order."""
        events, self._events = self._events, []
        return events

    def fail(self, code: int, reason: str) -> None:
        """End the session with an error: queue ``Error {error_code, error}`` and decide
        the close with the same code (§4.8, §6 item 26). For the caller's own faults
        too (3005 on a recognizer crash; 3009 or 1008 from a new-session limiter, §5.1).
        A second failure, or one after ``finish``, is ignored."""
        if self.state in (ServerState.CLOSING, ServerState.CLOSED):
            return
        self._out.append(_encode({"type": "Error", "error_code": code, "error": reason}).decode())
        self.close_decision = self.error = CloseDecision(code, _reason(reason))
        self.state = ServerState.CLOSING

    def finish(self, now: float) -> None:
        """End the session normally: queue ``Termination`` with integer durations, then
        close 1000 (§4.4, §6 item 24). Call it after ``TerminateRequested`` once the
        open turn's final is emitted (or for a server-side end). Durations are rounded
        half up: audio from the bytes received, session from ``now``.

        Raises:
            SessionStateError: the session is already closing or closed.
        """
        if self.state in (ServerState.CLOSING, ServerState.CLOSED):
            raise SessionStateError(f"finish is not allowed in state {self.state.value}")
        self._send(
            Termination(
                audio_duration_seconds=_half_up(self.audio_seconds),
                session_duration_seconds=_half_up(max(0.0, now - self.start)),
            )
        )
        self.close_decision = CloseDecision(CloseCode.NORMAL, "")
        self.state = ServerState.CLOSING

    # ---------------------------------------------------------------- input

    @property
    def audio_seconds(self) -> float:
        """Seconds of audio received so far (the audio clock)."""
        return self.audio_nbytes / (self._bpf * self._rate)

    def receive_message(self, data: bytes | bytearray | memoryview | str, now: float) -> None:
        """Take one whole WebSocket message from the client: ``str`` for a text
        message (a control message), bytes for a binary one (audio).

        Outside ``OPEN`` the message is ignored (audio after ``Terminate`` too, §6 item 25).
        """
        if self.state is not ServerState.OPEN:
            return
        if isinstance(data, str):
            self._text(data, now)
        else:
            self._audio(bytes(data), now)

    def receive_close(self, code: int | None = None, reason: str = "") -> None:
        """The client closed, or the transport is gone: nothing more is sent or taken."""
        self.state = ServerState.CLOSED

    def _text(self, text: str, now: float) -> None:
        try:
            msg = decode_client_message(text)
        except InvalidClientMessage as exc:
            self._fail_short()
            self.fail(CloseCode.INPUT_VALIDATION, exc.reason)
            return
        if isinstance(msg, Terminate):
            if self._short is not None:  # the allowed short last message (§6 item 10)
                self._accept(self._short, now)
                self._short = None
            self.state = ServerState.TERMINATING
            self._events.append(TerminateRequested())
            return
        if self._fail_short():
            return
        self._last_activity = now
        if isinstance(msg, KeepAlive):
            return
        if isinstance(msg, ForceEndpoint):
            self._events.append(ForceEndpointRequested())
            return
        if isinstance(msg, UpdateConfiguration):
            self._update(msg.fields)

    def _update(self, fields: dict[str, Any]) -> None:
        assert self.params is not None
        known = {
            DEPRECATED_ALIASES.get(k, k): v
            for k, v in fields.items()
            if k in UPDATABLE or DEPRECATED_ALIASES.get(k) in UPDATABLE
        }
        # the current name wins over its deprecated alias when both come
        for old, new in DEPRECATED_ALIASES.items():
            if old in fields and new in fields:
                known[new] = fields[new]
        known = {k: v for k, v in known.items() if v is not None}
        if not known:
            return  # extra fields the SDK may add are tolerated (§6 item 13)
        try:
            self.params = self.params.update(lenient=True, **known)
        except ParameterError as exc:
            self.fail(CloseCode.INPUT_VALIDATION, INPUT_VALIDATION.format(_param_text(exc)))
            return
        self._events.append(ConfigurationUpdated(known, self.params))

    def _fail_short(self) -> bool:
        """A held short message not followed by ``Terminate`` breaks the 50 ms rule."""
        short = self._short
        if short is None:
            return False
        self._short = None
        ms = len(short) / self._bpf / self._rate * 1000
        self.fail(CloseCode.AUDIO_DURATION, REASON_DURATION.format(f"{ms:.1f}"))
        return True

    def _audio(self, payload: bytes, now: float) -> None:
        if self._fail_short():
            return
        if len(payload) % self._bpf:
            self.fail(
                CloseCode.INPUT_VALIDATION,
                INPUT_VALIDATION.format(
                    f"audio message of {len(payload)} bytes is not whole 16-bit samples"
                ),
            )
            return
        ms = len(payload) / self._bpf / self._rate * 1000
        # exact comparisons in samples: 50 ms at 11025 Hz is 551.25 samples
        samples_x1000 = len(payload) // self._bpf * 1000
        if samples_x1000 > MAX_FRAME_MS * self._rate:
            self.fail(CloseCode.AUDIO_DURATION, REASON_DURATION.format(f"{ms:.1f}"))
            return
        if samples_x1000 < MIN_FRAME_MS * self._rate:
            if self.config.strict_tail:
                self.fail(CloseCode.AUDIO_DURATION, REASON_DURATION.format(f"{ms:.1f}"))
            else:
                self._short = payload  # allowed only if Terminate comes next
            return
        allowance = self.config.rate_allowance
        if allowance is not None:
            audio = (self.audio_nbytes + len(payload)) / (self._bpf * self._rate)
            elapsed = max(0.0, now - self.start)
            if audio > elapsed + allowance:
                self.fail(
                    CloseCode.AUDIO_DURATION,
                    REASON_RATE_EXCEEDED.format(f"{audio:.1f}", f"{elapsed:.6f}"),
                )
                return
        self._accept(payload, now)

    def _accept(self, payload: bytes, now: float) -> None:
        start = self.audio_seconds
        offset = self.audio_nbytes
        self.audio_nbytes += len(payload)
        self.audio_messages += 1
        self._last_activity = now
        self._events.append(
            AudioReceived(payload, offset, start, len(payload) / (self._bpf * self._rate))
        )

    # ---------------------------------------------------------------- timers

    def _expiry_now_clock(self) -> float:
        return self.start + (self.expires_at - self.unix_start)

    def next_deadline(self) -> float | None:
        """When :meth:`check_timers` must next run (``now`` clock), None if never."""
        if self.state not in (ServerState.OPEN, ServerState.TERMINATING) or self.params is None:
            return None
        deadline = self._expiry_now_clock()
        timeout = self.params.inactivity_timeout
        if timeout is not None and self.state is ServerState.OPEN:
            deadline = min(deadline, self._last_activity + timeout)
        return deadline

    def check_timers(self, now: float) -> None:
        """Apply the session cap (3008, §6 item 16) and ``inactivity_timeout``
        (``Termination`` + close 1000, §6 item 15)."""
        if self.state not in (ServerState.OPEN, ServerState.TERMINATING) or self.params is None:
            return
        if now >= self._expiry_now_clock():
            self.fail(CloseCode.SESSION_EXPIRED, SESSION_EXPIRED)
            return
        timeout = self.params.inactivity_timeout
        if (
            timeout is not None
            and self.state is ServerState.OPEN
            and now - self._last_activity >= timeout
        ):
            self.finish(now)

    # ---------------------------------------------------------------- results

    @property
    def turn_is_open(self) -> bool:
        """A turn has partials out and no end of turn yet."""
        return self._turn_open

    def emit_speech_started(self, timestamp: int, confidence: float = 1.0) -> None:
        """``SpeechStarted`` for the coming turn (U3 family, §4.3); ``emit_turn`` sends
        one by itself before a turn's first message when this was not called.

        Raises:
            SessionStateError: not a U3-family session, or closing.
        """
        self._require_results()
        assert self.params is not None
        if self.params.family != "u3":
            raise SessionStateError("SpeechStarted is sent by U3-family models only (§4.3)")
        if not self._speech_started:
            self._send(SpeechStarted(timestamp=timestamp, confidence=confidence))
            self._speech_started = True

    def _require_results(self) -> None:
        if self.state not in (ServerState.OPEN, ServerState.TERMINATING) or self.params is None:
            raise SessionStateError(f"results cannot be sent in state {self.state.value}")

    def emit_turn(
        self,
        words: Sequence[RecognizedWord],
        *,
        end_of_turn: bool,
        end_of_turn_confidence: float | None = None,
        formatted: Sequence[str] | None = None,
        speaker_label: str | None = None,
        language_code: str | None = None,
        language_confidence: float | None = None,
    ) -> None:
        """Queue the ``Turn`` message(s) for an update of the current turn (§4.2, §6
        items 18-23). ``turn_order`` is the session's: from 0, +1 after each end of turn.

        Universal models: a partial carries the words with their ``final`` flags,
        ``transcript`` = the final words, ``utterance`` ``""``; the end of turn is an
        unformatted message with every word final and ``utterance`` = ``transcript``,
        followed, with ``format_turns``, by a formatted copy (``turn_is_formatted``,
        same ``turn_order``). U3 family: ``SpeechStarted`` before the turn's first
        message; partials with every word non-final and ``end_of_turn_confidence`` 0;
        one final, formatted, every word final, confidence 1, ``utterance`` =
        ``transcript``.

        Args:
            words: the turn's words so far (times in ms on the audio clock).
            end_of_turn: this update ends the turn.
            end_of_turn_confidence: universal models' score (default 0 on a partial,
                1 at the end of turn); U3 always 0 / 1.
            formatted: the formatted words of the end of turn, one per word (default:
                ``config.formatter``).
            speaker_label: with ``speaker_labels`` (default ``"UNKNOWN"``); else ignored.
            language_code, language_confidence: with ``language_detection``; sent on
                messages with an utterance or an end of turn only (§4.2); else ignored.

        Raises:
            SessionStateError: the session is closing or closed.
            ParameterError: ``formatted`` does not have one entry per word.
        """
        self._require_results()
        params = self.params
        assert params is not None
        u3 = params.family == "u3"
        if u3 and not self._speech_started:
            first = words[0].start if words else _half_up(self.audio_seconds * 1000)
            self.emit_speech_started(first)
        extra: dict[str, Any] = {}
        if params.speaker_labels:
            extra["speaker_label"] = speaker_label if speaker_label is not None else "UNKNOWN"
        lang: dict[str, Any] = {}
        if params.language_detection and language_code is not None:
            lang = {"language_code": language_code, "language_confidence": language_confidence}
        if not end_of_turn:
            if u3:
                ws = tuple(Word(w.start, w.end, w.text, w.confidence, False) for w in words)
                transcript = " ".join(w.text for w in words)
                conf = 0.0
            else:
                ws = tuple(Word(w.start, w.end, w.text, w.confidence, w.final) for w in words)
                transcript = " ".join(w.text for w in words if w.final)
                conf = 0.0 if end_of_turn_confidence is None else end_of_turn_confidence
            self._send(
                Turn(self.turn_order, False, False, transcript, conf, ws, "", **extra)
            )
            self._turn_open = True
            self.turns_sent += 1
            return
        texts = [w.text for w in words]
        if formatted is None:
            formatted = list(self.config.formatter(texts))
        if len(formatted) != len(words):
            raise ParameterError(
                f"formatted has {len(formatted)} entries for {len(words)} words (one per word)"
            )
        final = tuple(Word(w.start, w.end, w.text, w.confidence, True) for w in words)
        pretty = tuple(
            Word(w.start, w.end, t, w.confidence, True)
            for w, t in zip(words, formatted, strict=True)
        )
        if u3:
            text = " ".join(formatted)
            self._send(Turn(self.turn_order, True, True, text, 1.0, pretty, text, **extra, **lang))
            self.turns_sent += 1
        else:
            conf = 1.0 if end_of_turn_confidence is None else end_of_turn_confidence
            text = " ".join(texts)
            self._send(Turn(self.turn_order, False, True, text, conf, final, text, **extra, **lang))
            self.turns_sent += 1
            if params.format_turns:
                ftext = " ".join(formatted)
                self._send(
                    Turn(self.turn_order, True, True, ftext, conf, pretty, ftext, **extra, **lang)
                )
                self.turns_sent += 1
        self.turn_order += 1
        self._turn_open = False
        self._speech_started = False


def _param_text(exc: ParameterError) -> str:
    name = getattr(exc, "parameter", None)
    rule = getattr(exc, "rule", None)
    if name is None or rule is None:
        return str(exc)
    return f"{name}={getattr(exc, 'value', None)!r}: {rule}"


# --------------------------------------------------------------------------- tokens


class TokenIssuer:
    """The local service's ``GET /v3/token`` (§1.3, §6 items 1, 4), sans-I/O.

    Mints single-use tokens, each with a redemption window (``expires_in_seconds``) and
    a session cap (``max_session_duration_seconds``); :meth:`redeem` is a
    :data:`TokenCheck` for :class:`ServerConfig`. Time is passed in (POSIX seconds).

    Args:
        api_keys: keys allowed to mint (None: any non-empty key).
        token_factory: makes a token string (default ``secrets.token_urlsafe(32)``).
    """

    def __init__(
        self,
        api_keys: frozenset[Secret] | None = None,
        *,
        token_factory: Callable[[], str] = lambda: secrets.token_urlsafe(32),
    ) -> None:
        self._keys = api_keys
        self._factory = token_factory
        # token -> (redeem before, session cap)
        self._live: dict[Secret, tuple[float, int]] = {}

    def handle(
        self,
        path: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        unix_now: float,
    ) -> HttpResponse:
        """Answer ``GET /v3/token?expires_in_seconds=N[&max_session_duration_seconds=M]``:
        200 ``{"token", "expires_in_seconds"}``, 400 for a bad range, 401 for a bad key,
        404 for another path; errors as ``{"error": ...}`` (§1.3)."""
        parts = urlsplit(path)
        if parts.path != TOKEN_PATH:
            return HttpResponse(404, _encode({"error": f"Not found: {parts.path}"}))
        key = _header(headers, "Authorization")
        if not key or (
            self._keys is not None and not any(keys_match(key, k) for k in self._keys)
        ):
            return HttpResponse(401, _encode({"error": "Invalid API key"}))
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        values: dict[str, int] = {}
        for name, lo, hi, default in (
            ("expires_in_seconds", TOKEN_EXPIRES_MIN_SECONDS, TOKEN_EXPIRES_MAX_SECONDS, None),
            ("max_session_duration_seconds", TOKEN_SESSION_MIN_SECONDS,
             TOKEN_SESSION_MAX_SECONDS, TOKEN_SESSION_MAX_SECONDS),
        ):  # fmt: skip
            raw = query.get(name)
            if raw is None:
                if default is None:
                    return HttpResponse(400, _encode({"error": f"{name} is required"}))
                values[name] = default
                continue
            if not raw.isdigit() or not lo <= int(raw) <= hi:
                return HttpResponse(
                    400, _encode({"error": f"{name} must be an integer in {lo}..{hi}"})
                )
            values[name] = int(raw)
        self._expire(unix_now)
        token = self._factory()
        window = values["expires_in_seconds"]
        self._live[TemporaryToken(token)] = (
            unix_now + window,
            values["max_session_duration_seconds"],
        )
        return HttpResponse(200, _encode({"token": token, "expires_in_seconds": window}))

    def _expire(self, unix_now: float) -> None:
        for tok in [t for t, (until, _) in self._live.items() if until < unix_now]:
            del self._live[tok]

    def redeem(self, token: TemporaryToken, unix_now: float) -> TokenInfo | None:
        """Use ``token`` now: its info if it is live and unused, else None; a token
        redeems once."""
        entry = self._live.pop(token, None)
        if entry is None or entry[0] < unix_now:
            return None
        return TokenInfo(entry[1])

    def __len__(self) -> int:
        return len(self._live)
