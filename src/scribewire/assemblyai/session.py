"""Sans-I/O client session for AssemblyAI Universal-Streaming v3 (assemblyai.md §3-§5).

:class:`AssemblyAISession` is the client side of one WebSocket connection. It turns
audio into binary messages of whole 50-1000 ms chunks (§3.1), builds the control
messages (§3.2, §3.3), turns each message from the server into typed events (§4) and
says what a close means (§5). It never touches a socket and never reads a clock or the
environment: credentials come in as arguments.

It implements the provider-neutral session interface shared with Transcribe's session:
``bytes_per_frame``, ``chunk_bytes``, ``buffered_bytes``, ``audio_bytes_sent``,
``send_audio``, ``end_of_stream``, ``receive_message``, ``receive_close``, ``close``,
``state`` and ``error``.

**What comes out.** With ``framer=ClientFramer()`` every item returned is a complete
masked WebSocket frame to write to the socket as it is: audio in binary frames (opcode
0x2), control messages in text frames (opcode 0x1). Without a framer, audio items are
bare payloads (send each as one *binary* message) and control messages are
:class:`~scribewire.assemblyai.messages.TextMessage` (a ``bytes`` subclass of UTF-8
JSON: send each as one *text* message, ``ws.send(item.decode())``). The session never
mixes the two up: a ``TextMessage`` is never audio.

**States** (``state``; the finer states of §4.7 as flags):

* ``OPEN``: upgrade done, audio may be sent (before ``Begin`` too: the SDKs do not wait
  for it, §4.6); ``begun`` once ``Begin`` arrived (§4.7 STREAMING; ``session_id``,
  ``expires_at``).
* ``ENDING``: ``Terminate`` sent (§4.7 TERMINATING), or the service sent
  ``Termination`` on its own (expiry); results still arrive. ``terminated`` once
  ``Termination`` arrived (§4.7 TERMINATED).
* ``CLOSED``: the connection is over (close received, ``close()``, an ``Error``
  message, or a fault of the peer); ``error`` says why, None for a clean end.
"""

from __future__ import annotations

import enum
import warnings
from typing import Any, Literal, NoReturn

from ..errors import (
    AudioFormatError,
    AudioTypeError,
    ConnectionClosed,
    ParameterError,
    ProtocolError,
    ScribewireError,
    SessionStateError,
)
from ..wsframe import ClientFramer
from . import auth
from .errors import (
    AssemblyAIServiceError,
    OutOfOrderMessage,
    UnexpectedBinaryMessage,
    error_for_close,
)
from .events import (
    Begin,
    ErrorMessage,
    ServerMessage,
    SpeechStarted,
    Termination,
    Turn,
    decode_message,
)
from .limits import (
    API_VERSION,
    DEFAULT_CHUNK_SECONDS,
    MAX_FRAME_MS,
    MIN_FRAME_MS,
    SILENCE_BYTE,
    CloseCode,
)
from .messages import (
    TextMessage,
    encode_force_endpoint,
    encode_keep_alive,
    encode_terminate,
    encode_update_configuration,
    text_frame,
)
from .params import DEPRECATED_ALIASES, UPDATABLE, StreamingParams

__all__ = ["AssemblyAISession", "SessionState", "ShortTail"]

#: What ``end_of_stream`` does with a final remainder shorter than 50 ms (§3.1).
ShortTail = Literal["pad", "send", "drop"]

# Close codes that are the transport's, not AssemblyAI's: a close with one of them (or
# none) before Termination is a lost connection (ConnectionClosed), not a service error.
_AAI_LOW_CODES = frozenset({CloseCode.UNAUTHORIZED, CloseCode.TRY_AGAIN_LATER})


class SessionState(enum.Enum):
    """Where a session is in its life (see the module docstring)."""

    OPEN = "open"
    ENDING = "ending"
    CLOSED = "closed"


def _audio_view(audio: object) -> memoryview:
    try:
        m = memoryview(audio)  # type: ignore[arg-type]
    except TypeError:
        raise AudioTypeError(
            f"audio must be a bytes-like object, not {type(audio).__name__}"
        ) from None
    if not m.c_contiguous:
        raise AudioTypeError("audio must be a C-contiguous buffer")
    return m if m.format == "B" and m.ndim == 1 else m.cast("B")


class AssemblyAISession:
    """Client side of one AssemblyAI v3 connection, without I/O.

    Args:
        params: the session's parameters (rate, encoding, model, turn settings).
        chunk_duration: seconds of audio per binary message, 0.05..1.0 (§3.1; default
            0.1). Each message carries ``round(sample_rate * chunk_duration)`` samples,
            kept inside 50-1000 ms after rounding.
        framer: a :class:`~scribewire.wsframe.ClientFramer` to get complete masked
            WebSocket frames; None for bare payloads (see the module docstring).
        short_tail: what ``end_of_stream`` does with a remainder shorter than 50 ms,
            which the service's 50-1000 ms rule forbids (§3.1; the service's handling
            of a short last message is [open], §6 item 10): ``"pad"`` (default) appends
            silence up to 50 ms (the advice of §8 item 4: the audio's timing is
            unchanged, only silence is added after its end); ``"send"`` sends it short,
            as pipecat does (for a lenient server); ``"drop"`` leaves it out (counted in
            ``dropped_tail_bytes``).

    Raises:
        ParameterError: ``chunk_duration`` out of range or ``short_tail`` unknown.
        TypeError: ``params`` is not a :class:`StreamingParams`.
    """

    def __init__(
        self,
        params: StreamingParams,
        *,
        chunk_duration: float = DEFAULT_CHUNK_SECONDS,
        framer: ClientFramer | None = None,
        short_tail: ShortTail = "pad",
    ) -> None:
        if not isinstance(params, StreamingParams):
            raise TypeError(f"params must be StreamingParams, not {type(params).__name__}")
        lo, hi = MIN_FRAME_MS / 1000, MAX_FRAME_MS / 1000
        if (
            isinstance(chunk_duration, bool)
            or not isinstance(chunk_duration, (int, float))
            or not lo <= chunk_duration <= hi
        ):
            err = ParameterError(
                f"parameter 'chunk_duration' = {chunk_duration!r}: must be {lo:g}..{hi:g} s "
                "(each audio message holds 50-1000 ms, assemblyai.md §3.1)"
            )
            err.parameter = "chunk_duration"  # type: ignore[attr-defined]
            err.value = chunk_duration  # type: ignore[attr-defined]
            err.rule = f"must be {lo:g}..{hi:g} s"  # type: ignore[attr-defined]
            raise err
        if short_tail not in ("pad", "send", "drop"):
            raise ParameterError(
                f"parameter 'short_tail' = {short_tail!r}: must be 'pad', 'send' or 'drop'"
            )
        self.params = params
        self.chunk_duration = float(chunk_duration)
        self.short_tail: ShortTail = short_tail
        self._framer = framer
        self._bpf = params.bytes_per_frame
        rate = params.sample_rate
        lo_frames = -(-rate * MIN_FRAME_MS // 1000)  # ceil: never under 50 ms
        hi_frames = rate * MAX_FRAME_MS // 1000  # floor: never over 1000 ms
        frames = min(max(round(rate * self.chunk_duration), lo_frames), hi_frames)
        self._chunk = frames * self._bpf
        self._min_chunk = lo_frames * self._bpf
        self._pending = bytearray()
        self._state = SessionState.OPEN
        #: Audio bytes framed so far (the caller's audio; padding is counted apart).
        self.audio_bytes_sent = 0
        #: Silence bytes appended to a short last message (``short_tail="pad"``).
        self.padding_bytes_sent = 0
        #: Bytes of a short last message left out (``short_tail="drop"``).
        self.dropped_tail_bytes = 0
        #: Messages received and decoded.
        self.events_received = 0
        #: Why the session ended badly: an ``Error`` message, a fault of the server, or
        #: an error close; None while all is well and after a clean end.
        self.error: ScribewireError | None = None
        #: The ``Begin`` message's ``id`` and ``expires_at`` (Unix seconds), once seen.
        self.session_id: str | None = None
        self.expires_at: int | None = None
        #: The ``Termination`` message, once seen.
        self.termination: Termination | None = None
        #: The ``Error`` message, when the service sent one.
        self.error_message: ErrorMessage | None = None

    # ------------------------------------------------------------------ properties

    @property
    def state(self) -> SessionState:
        """``OPEN``, ``ENDING`` or ``CLOSED``."""
        return self._state

    @property
    def begun(self) -> bool:
        """``Begin`` arrived (§4.7 STREAMING)."""
        return self.session_id is not None

    @property
    def terminated(self) -> bool:
        """``Termination`` arrived (§4.7 TERMINATED)."""
        return self.termination is not None

    @property
    def bytes_per_frame(self) -> int:
        """Bytes per sample frame of the audio the session takes, already in the wire
        encoding: 2 for ``pcm_s16le``, 1 for ``pcm_mulaw`` (mono, §3.1)."""
        return self._bpf

    @property
    def chunk_bytes(self) -> int:
        """Audio bytes per full audio message (``chunk_duration`` of audio)."""
        return self._chunk

    @property
    def min_chunk_bytes(self) -> int:
        """Audio bytes of the shortest legal message (50 ms, rounded up to a sample)."""
        return self._min_chunk

    @property
    def buffered_bytes(self) -> int:
        """Audio accepted but not yet framed: a partial chunk."""
        return len(self._pending)

    @property
    def audio_seconds_sent(self) -> float:
        """Seconds of the caller's audio framed so far."""
        return self.audio_bytes_sent / (self._bpf * self.params.sample_rate)

    def is_final(self, turn: Turn) -> bool:
        """Whether ``turn`` is its turn's final message in this session (§4.7)."""
        return turn.is_final(self.params.formats_turns)

    # ------------------------------------------------------------------ the request

    def request_url(
        self, *, host: str = auth.DEFAULT_HOST, token: auth.TemporaryToken | str | None = None
    ) -> auth.SecretURL:
        """The WebSocket URL (``wss://<host>/v3/ws?<params>``, see ``auth.url``).

        Args:
            host: host name, region name (``default``, ``us``, ``eu``) or base URL.
            token: a temporary token to put in the ``token`` query parameter; leave None
                when the credential goes in ``Authorization`` (``request_headers``).
        """
        return auth.url(self.params, host=host, token=token)

    def request_headers(
        self,
        credential: auth.ApiKey | auth.TemporaryToken | str | None,
        *,
        user_agent: str | None = auth.DEFAULT_USER_AGENT,
        version: str | None = API_VERSION,
    ) -> auth.SecretHeaders:
        """Upgrade headers: ``Authorization`` holds ``credential`` raw (an API key, or a
        temporary token as the Python SDK sends it); None when the token is in the URL."""
        return auth.headers(credential, user_agent=user_agent, version=version)

    # ------------------------------------------------------------------ sending

    def _require_open(self, what: str) -> None:
        if self._state is not SessionState.OPEN:
            raise SessionStateError(f"{what} is not allowed in state {self._state.value}")

    def _audio_message(self, payload: memoryview | bytes) -> bytes:
        framer = self._framer
        return bytes(payload) if framer is None else framer.binary_frame(payload)

    def _text(self, message: TextMessage) -> bytes:
        return message if self._framer is None else text_frame(self._framer, message)

    def _frame(self, view: memoryview) -> list[bytes]:
        n = self._chunk
        out = [self._audio_message(view[i : i + n]) for i in range(0, len(view), n)]
        self.audio_bytes_sent += len(view)
        return out

    def send_audio(self, audio: object) -> list[bytes]:
        """Frame audio into whole chunks; a partial chunk waits for the next call.

        Args:
            audio: any C-contiguous bytes-like object (bytes, bytearray, memoryview,
                numpy array) already in the wire encoding: int16 little-endian mono for
                ``pcm_s16le``, G.711 μ-law bytes for ``pcm_mulaw`` (convert with
                ``scribewire.audio``). Any length; empty input sends nothing.

        Returns:
            Audio messages of exactly ``chunk_bytes`` each (binary frames with a framer).

        Raises:
            SessionStateError: not ``OPEN``.
            AudioTypeError: not a contiguous bytes-like object.
        """
        self._require_open("send_audio")
        view = _audio_view(audio)
        n = self._chunk
        pending = self._pending
        if pending:
            pending += view
            take = len(pending) // n * n
            if not take:
                return []
            with memoryview(pending) as whole:
                out = self._frame(whole[:take])
            del pending[:take]
            return out
        # nothing held back: whole chunks are framed straight from the caller's buffer
        take = len(view) // n * n
        out = self._frame(view[:take]) if take else []
        pending += view[take:]
        return out

    def end_of_stream(self) -> list[bytes]:
        """End the audio: the remainder, then ``Terminate``; the session moves to
        ``ENDING`` and keeps receiving results until ``Termination`` (§3.2, §4.6).

        The remainder goes as one message when it holds at least 50 ms (it is shorter
        than a chunk, so under 1000 ms). A shorter one breaks the 50-1000 ms rule of
        §3.1 and is handled as ``short_tail`` says: padded with silence to 50 ms
        (default), sent short, or dropped.

        Returns:
            Zero or one audio message, then ``Terminate`` (a text frame with a framer,
            else a :class:`TextMessage`).

        Raises:
            SessionStateError: not ``OPEN``.
            AudioFormatError: the audio ends inside a 16-bit sample (nothing is sent;
                the state stays ``OPEN``).
        """
        self._require_open("end_of_stream")
        rest = len(self._pending)
        if rest % self._bpf:
            raise AudioFormatError(
                f"audio ends inside a sample: {rest} buffered bytes is not a multiple of "
                f"{self._bpf} bytes per sample ({self.params.encoding})"
            )
        out: list[bytes] = []
        if rest:
            tail = bytes(self._pending)
            self._pending.clear()
            if rest >= self._min_chunk or self.short_tail == "send":
                out.append(self._audio_message(tail))
                self.audio_bytes_sent += rest
            elif self.short_tail == "pad":
                pad = self._min_chunk - rest
                silence = bytes((SILENCE_BYTE[self.params.encoding],)) * pad
                out.append(self._audio_message(tail + silence))
                self.audio_bytes_sent += rest
                self.padding_bytes_sent += pad
            else:
                self.dropped_tail_bytes += rest
        out.append(self._text(encode_terminate()))
        self._state = SessionState.ENDING
        return out

    def update_configuration(self, **fields: object) -> bytes:
        """``UpdateConfiguration`` with the given fields (§3.3), checked against the
        session's model with the rules of ``StreamingParams``; the session's ``params``
        then hold the new values.

        Fields: ``end_of_turn_confidence_threshold``, ``min_turn_silence``,
        ``max_turn_silence``, ``vad_threshold``, ``format_turns``, ``keyterms_prompt``
        (replaces the whole set; ``[]`` clears it), ``filter_profanity``, ``prompt``,
        ``agent_context``, ``interruption_delay``, ``turn_left_pad_ms``,
        ``language_codes``, ``session_heartbeat``, ``acknowledge_silence`` (the docs'
        sets and the SDK's superset, §3.3). The deprecated
        ``min_end_of_turn_silence_when_confident`` is sent as ``min_turn_silence``.

        Returns:
            The message (a text frame with a framer, else a :class:`TextMessage`).

        Raises:
            SessionStateError: not ``OPEN``.
            ParameterError: no field, a field that is not updatable, None, or a value
                breaking its rule.
        """
        self._require_open("update_configuration")
        if not fields:
            raise ParameterError("update_configuration needs at least one field (§3.3)")
        for name, value in fields.items():
            if name not in UPDATABLE and name not in DEPRECATED_ALIASES:
                err = ParameterError(
                    f"parameter {name!r}: cannot be changed mid-session; updatable: "
                    f"{', '.join(sorted(UPDATABLE))} (assemblyai.md §3.3)"
                )
                err.parameter = name  # type: ignore[attr-defined]
                raise err
            if DEPRECATED_ALIASES.get(name, name) not in UPDATABLE:
                raise ParameterError(f"parameter {name!r}: cannot be changed mid-session")
            if value is None:
                raise ParameterError(
                    f"parameter {name!r} = None: a value is required (none cannot be sent)"
                )
        mapped: dict[str, Any] = {}
        for name, value in fields.items():
            current = DEPRECATED_ALIASES.get(name, name)
            if current != name:
                warnings.warn(
                    f"{name!r} is deprecated, use {current!r}", DeprecationWarning, stacklevel=2
                )
                if current in fields:  # both given: the current name wins (as the SDK)
                    continue
            mapped[current] = value
        new = self.params.update(**mapped)
        wire = {name: getattr(new, name) for name in mapped}
        self.params = new
        return self._text(encode_update_configuration(wire))

    def force_endpoint(self) -> bytes:
        """``ForceEndpoint``: end the current turn now, so its final ``Turn`` comes back
        (§3.2). On universal models the service may drop the in-flight tail (§8 item 1).

        Raises:
            SessionStateError: not ``OPEN``.
        """
        self._require_open("force_endpoint")
        return self._text(encode_force_endpoint())

    def keep_alive(self) -> bytes:
        """``KeepAlive``: resets ``inactivity_timeout``; no reply (§3.2, §3.4).

        Raises:
            SessionStateError: not ``OPEN``.
        """
        self._require_open("keep_alive")
        return self._text(encode_keep_alive())

    def close(self) -> None:
        """Mark the session closed (the connection is gone); idempotent."""
        self._state = SessionState.CLOSED

    # ------------------------------------------------------------------ receiving

    def _fault(self, exc: ScribewireError) -> NoReturn:
        """Record a fault of the server and raise it (``CLOSED``)."""
        if isinstance(exc, ProtocolError):
            exc.remote = True
        exc.events = []  # type: ignore[attr-defined]  # the interface's "events before it"
        self.error = exc
        self._state = SessionState.CLOSED
        raise exc

    def receive_message(self, data: bytes | str) -> list[ServerMessage]:
        """Take one whole WebSocket message from the server; return its typed events.

        Args:
            data: a text message as ``str``; a binary message as bytes (never sent by
                the service: a fault).

        Returns:
            The decoded message (``Begin``, ``Turn``, ``SpeechStarted``, ``Termination``,
            ``WarningMessage``, ``Heartbeat``, ``Silence``, ``SpeakerRevision``,
            ``LLMGatewayResponse`` or ``UnknownMessage``) in a list.

        Raises:
            AssemblyAIServiceError subclass: an ``Error`` message (§4.8; mapped as its
                close code, ``error_for_close``); the session is ``CLOSED`` and
                ``error`` holds it.
            ProtocolError (``remote=True``): a binary message, bad JSON or schema
                (``MalformedMessage``, ``InvalidMessageSchema``), or a message out of
                order (``OutOfOrderMessage``: a second ``Begin``, a result before
                ``Begin``, anything after ``Termination``); ``CLOSED``.
            SessionStateError: the session is already ``CLOSED``.

        The interface lets a call return the events decoded before a fault and leave the
        fault in ``error``; here one message is one event, so no event ever precedes a
        fault in the same call: a fault is always raised (its ``events`` attribute, the
        events before it, is empty) and also kept in ``error``.
        """
        if self._state is SessionState.CLOSED:
            raise SessionStateError("receive_message is not allowed in state closed")
        if not isinstance(data, str):
            self._fault(
                UnexpectedBinaryMessage(
                    f"binary message of {len(data)} bytes from the server: every server "
                    "message is JSON text (assemblyai.md §4)"
                )
            )
        try:
            event = decode_message(data)
        except ProtocolError as exc:
            self._fault(exc)
        if self.termination is not None:
            self._fault(
                OutOfOrderMessage(
                    f"{type(event).__name__} after Termination (the service sends nothing "
                    "more, §4.4)"
                )
            )
        if isinstance(event, Begin):
            if self.session_id is not None:
                self._fault(OutOfOrderMessage("a second Begin (§4.6)"))
            self.session_id = event.id
            self.expires_at = event.expires_at
        elif isinstance(event, (Turn, SpeechStarted)):
            if self.session_id is None:
                self._fault(OutOfOrderMessage(f"{type(event).__name__} before Begin (§4.6)"))
        elif isinstance(event, Termination):
            self.termination = event
            if self._state is SessionState.OPEN:
                self._state = SessionState.ENDING
        elif isinstance(event, ErrorMessage):
            self.error_message = event
            code = event.error_code
            err = None if code is None else error_for_close(code, event.error)
            if err is None:
                err = AssemblyAIServiceError(event.error, close_code=code)
            self.events_received += 1
            self._fault(err)
        self.events_received += 1
        return [event]

    def receive_close(self, code: int | None, reason: str = "") -> ScribewireError | None:
        """What a close from the server (or a lost connection) means; ``CLOSED`` after.

        Args:
            code: the close code, None when the connection ended without a close frame.
            reason: the close reason.

        Returns:
            None for the normal end: close 1000 after ``Termination``. The error already
            recorded (an ``Error`` message, whose close follows with the same code, or a
            fault of the server) if there is one. For a close without an AssemblyAI code
            before ``Termination`` (none, 1000, 1001, 1005, 1006, 1011 ... every code
            under 3000 except 1008 and 1013): :class:`~scribewire.errors.ConnectionClosed`.
            Otherwise the code's typed ``ServiceError`` (``error_for_close``, §5).
        """
        self._state = SessionState.CLOSED
        if self.error is not None:
            return self.error
        result: ScribewireError | None
        if code == CloseCode.NORMAL and self.termination is not None:
            result = None
        elif code is None or (code < 3000 and code not in _AAI_LOW_CODES):
            result = ConnectionClosed(code, reason)
        else:
            result = error_for_close(code, reason)
        self.error = result
        return result

    def __repr__(self) -> str:
        return (
            f"AssemblyAISession(state={self._state.value}, session_id={self.session_id!r}, "
            f"params={self.params!r})"
        )
