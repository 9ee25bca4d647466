"""Every AssemblyAI Universal-Streaming (v3) limit, defined once.

Section numbers (``§``) refer to ``assemblyai.md``, the project's wire reference; each
constant names the section that sources it. Other modules import these names and never
repeat the numbers. Durations are in the unit their name says (``_MS`` milliseconds,
``_SECONDS`` seconds); sizes are bytes.
"""

from __future__ import annotations

import enum

__all__ = [
    "API_VERSION",
    "BYTES_PER_SAMPLE",
    "CLOSE_REASONS",
    "REASON_DURATION",
    "REASON_INVALID_JSON",
    "REASON_INVALID_MESSAGE",
    "REASON_INVALID_MESSAGE_TYPE",
    "REASON_RATE_EXCEEDED",
    "REASON_TOO_MANY_SESSIONS",
    "REASON_UNAUTHORIZED",
    "CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_CHUNK_SECONDS",
    "DEFAULT_SAMPLE_RATE",
    "ENCODINGS",
    "INACTIVITY_TIMEOUT_MAX_SECONDS",
    "INACTIVITY_TIMEOUT_MIN_SECONDS",
    "INTERRUPTION_DELAY_MAX_MS",
    "KEYTERM_MAX_CHARS",
    "KEYTERMS_MAX",
    "MAX_CLOSE_REASON_BYTES",
    "MAX_FRAME_MS",
    "MAX_SESSION_SECONDS",
    "MAX_SPEAKERS_MAX",
    "MAX_SPEAKERS_MIN",
    "MIN_EOT_SPEECH_MS",
    "MIN_FRAME_MS",
    "NEW_SESSIONS_PER_MINUTE_FREE",
    "NEW_SESSIONS_PER_MINUTE_PAID",
    "PREVIOUS_CONTEXT_TURNS_MAX",
    "RATE_ALLOWANCE_SECONDS",
    "RECOMMENDED_FRAME_MS",
    "SDK_ONLY_ENCODINGS",
    "SILENCE_BYTE",
    "TERMINATE_TIMEOUT_SECONDS",
    "TOKEN_EXPIRES_MAX_SECONDS",
    "TOKEN_EXPIRES_MIN_SECONDS",
    "TOKEN_SESSION_MAX_SECONDS",
    "TOKEN_SESSION_MIN_SECONDS",
    "CloseCode",
]

# --------------------------------------------------------------------------- audio (§3.1)

#: Shortest audio message, ms: shorter ones close the session with 3007 (§3.1, §5.1).
MIN_FRAME_MS = 50
#: Longest audio message, ms: longer ones close the session with 3007 (§3.1, §5.1).
MAX_FRAME_MS = 1000
#: Size AssemblyAI recommends for each audio message, ms (§3.1, D-SEQ).
RECOMMENDED_FRAME_MS = 50
#: scribewire's default audio per message, seconds (inside the 50-1000 ms rule, §3.1).
DEFAULT_CHUNK_SECONDS = 0.1
#: The encodings the v3 documents list, with bytes per sample (mono only, §3.1, §2.3).
BYTES_PER_SAMPLE: dict[str, int] = {"pcm_s16le": 2, "pcm_mulaw": 1}
#: The documented ``encoding`` values (§2.3).
ENCODINGS = frozenset(BYTES_PER_SAMPLE)
#: Compressed encodings only SDK 1.8.2 knows (§2.3); no fixed frame size, not supported here.
SDK_ONLY_ENCODINGS = frozenset({"opus", "ogg_opus", "aac"})
#: One byte of digital silence per encoding: int16 zero, and G.711 μ-law's code for 0
#: (0xFF, ITU-T G.711); used to pad a short final message up to ``MIN_FRAME_MS`` (§3.1).
SILENCE_BYTE: dict[str, int] = {"pcm_s16le": 0x00, "pcm_mulaw": 0xFF}
#: ``sample_rate`` when the parameter is left out, Hz (§2.3; it must be positive).
DEFAULT_SAMPLE_RATE = 16_000
#: Audio a client may run ahead of real time before the 3007 "Audio Transmission Rate
#: Exceeded" close, seconds: one observed report (§3.1 [obs]); the local service's default.
RATE_ALLOWANCE_SECONDS = 310.0

# --------------------------------------------------------------------------- sessions (§1.3, §5.1)

#: A session's life: never-terminated sessions auto-close after 3 h; 3008 (§5.1, §1.3).
MAX_SESSION_SECONDS = 10_800
#: ``GET /v3/token`` ``expires_in_seconds`` (redemption window), required, 1-600 (§1.3).
TOKEN_EXPIRES_MIN_SECONDS = 1
TOKEN_EXPIRES_MAX_SECONDS = 600
#: ``max_session_duration_seconds`` of a token, optional, 60-10800, default 10800 (§1.3).
TOKEN_SESSION_MIN_SECONDS = 60
TOKEN_SESSION_MAX_SECONDS = 10_800
#: ``inactivity_timeout`` range, seconds; unset means no timeout (§2.3, §5.1).
INACTIVITY_TIMEOUT_MIN_SECONDS = 5
INACTIVITY_TIMEOUT_MAX_SECONDS = 3_600
#: New sessions per minute: free accounts 5, paid 100 and more (§5.1, D-CONC).
NEW_SESSIONS_PER_MINUTE_FREE = 5
NEW_SESSIONS_PER_MINUTE_PAID = 100
#: The Python SDK's handshake timeout: a server must answer the upgrade inside it (§1.4).
CONNECT_TIMEOUT_SECONDS = 1.0
#: How long clients wait for ``Termination`` after ``Terminate`` (SDK, pipecat; §6 item 24).
TERMINATE_TIMEOUT_SECONDS = 5.0
#: The ``AssemblyAI-Version`` the Python SDK pins (§1.2).
API_VERSION = "2025-05-12"

# --------------------------------------------------------------------------- parameters (§2.3)

#: At most this many ``keyterms_prompt`` terms; more is an error (§2.3, D-KT).
KEYTERMS_MAX = 100
#: Longest keyterm, characters; the service ignores longer terms without an error (§2.3).
KEYTERM_MAX_CHARS = 50
#: ``max_speakers`` range, only with ``speaker_labels`` (§2.3).
MAX_SPEAKERS_MIN = 1
MAX_SPEAKERS_MAX = 10
#: ``interruption_delay`` upper bound, ms (pipecat's range, §2.3).
INTERRUPTION_DELAY_MAX_MS = 1000
#: ``previous_context_n_turns`` upper bound (0 disables carryover, §2.3).
PREVIOUS_CONTEXT_TURNS_MAX = 100
#: Speech needed since the last end of turn before another, ms (universal models, §4.2).
MIN_EOT_SPEECH_MS = 80

# --------------------------------------------------------------------------- close codes (§5)

#: Longest close reason a WebSocket close frame carries, bytes (RFC 6455 §5.5: 125-byte
#: control payload minus the 2-byte code).
MAX_CLOSE_REASON_BYTES = 123


class CloseCode(enum.IntEnum):
    """Every close code of §5: the documented v3 closes (§5.1) and the SDK tables' codes
    (§5.2 Python, §5.3 JS), which come from the v2 API and which no v3 document uses."""

    NORMAL = 1000  #: after ``Termination`` (§4.4, §5.1)
    UNAUTHORIZED = 1008  #: bad or missing credentials, account problem, or (per D-CONC) rate limit
    TRY_AGAIN_LATER = 1013  #: v2: temporary server condition (§5.2)
    SERVER_ERROR = 3005  #: "Session Cancelled: An error occurred" (§5.1)
    INPUT_VALIDATION = 3006  #: bad client text message or parameter (§5.1, §2.3)
    AUDIO_DURATION = 3007  #: message outside 50-1000 ms, or audio faster than real time (§5.1)
    SESSION_EXPIRED = 3008  #: maximum session duration exceeded (§5.1)
    TOO_MANY_SESSIONS = 3009  #: new-session rate limit (errors table; §5.1, §9)
    # v2-era codes of the SDK tables (§5.2, §5.3)
    V2_INVALID_SAMPLE_RATE = 4000
    V2_NOT_AUTHORIZED = 4001
    V2_INSUFFICIENT_FUNDS = 4002
    V2_PAID_ONLY = 4003
    V2_SESSION_NOT_FOUND = 4004
    V2_SESSION_EXPIRED = 4008
    V2_SESSION_PREVIOUSLY_CLOSED = 4010
    V2_AUDIO_TOO_FAST = 4029
    V2_SESSION_TAKEN = 4030
    V2_SESSION_IDLE = 4031
    V2_AUDIO_TOO_SHORT = 4032
    V2_AUDIO_TOO_LONG = 4033
    V2_AUDIO_TOO_SMALL = 4034
    V2_INVALID_JSON = 4100
    V2_INVALID_SCHEMA = 4101
    V2_TOO_MANY_STREAMS = 4102
    V2_RECONNECTED = 4103


#: 1008 reason format (§1.4, §5.1): ``Missing Authorization header`` or an account reason.
REASON_UNAUTHORIZED = "Unauthorized Connection: {}"
#: 1008 / 3009 reason of the new-session rate limit (§5.1).
REASON_TOO_MANY_SESSIONS = "Unauthorized connection: Too many concurrent sessions"
#: 3006 reason formats for a bad client text message (§5.1, D-ERR).
REASON_INVALID_JSON = "Invalid JSON: {}"
REASON_INVALID_MESSAGE_TYPE = "Invalid Message Type: {}"
REASON_INVALID_MESSAGE = "Invalid Message: {}"
#: 3007 reason formats (§3.1, §5.1): message duration in ms; audio seconds and wall seconds.
REASON_DURATION = "Input duration violation: {} ms. Expected between 50 and 1000 ms"
REASON_RATE_EXCEEDED = "Audio Transmission Rate Exceeded: Received {} sec. audio in {} sec"

#: Each code's fixed text, for a close that carries no reason: the documented reason
#: (§5.1) where it has no variable part, else the Python SDK's table text (§5.2).
CLOSE_REASONS: dict[int, str] = {
    CloseCode.UNAUTHORIZED: REASON_UNAUTHORIZED.format("Missing Authorization header"),
    CloseCode.TRY_AGAIN_LATER: "Temporary server condition forced blocking client's request",
    CloseCode.SERVER_ERROR: "Session Cancelled: An error occurred",
    CloseCode.INPUT_VALIDATION: "Input validation error",
    CloseCode.AUDIO_DURATION: "Audio chunk duration violation",
    CloseCode.SESSION_EXPIRED: "Session Expired: Maximum session duration exceeded",
    CloseCode.TOO_MANY_SESSIONS: REASON_TOO_MANY_SESSIONS,
    CloseCode.V2_INVALID_SAMPLE_RATE: "Sample rate must be a positive integer",
    CloseCode.V2_NOT_AUTHORIZED: "Not Authorized",
    CloseCode.V2_INSUFFICIENT_FUNDS: "Insufficient Funds",
    CloseCode.V2_PAID_ONLY: "This feature is paid-only and requires you to add a credit card",
    CloseCode.V2_SESSION_NOT_FOUND: "Session Not Found",
    CloseCode.V2_SESSION_EXPIRED: "Session Expired",
    CloseCode.V2_SESSION_PREVIOUSLY_CLOSED: "Session Previously Closed",
    CloseCode.V2_AUDIO_TOO_FAST: "Client sent audio too fast",
    CloseCode.V2_SESSION_TAKEN: "Session is handled by another websocket",
    CloseCode.V2_SESSION_IDLE: "Session idle for too long",
    CloseCode.V2_AUDIO_TOO_SHORT: "Audio duration is too short",
    CloseCode.V2_AUDIO_TOO_LONG: "Audio duration is too long",
    CloseCode.V2_AUDIO_TOO_SMALL: "Audio too small to transcode",
    CloseCode.V2_INVALID_JSON: "Endpoint received invalid JSON",
    CloseCode.V2_INVALID_SCHEMA: "Endpoint received a message with an invalid schema",
    CloseCode.V2_TOO_MANY_STREAMS: "This account has exceeded the number of allowed streams",
    CloseCode.V2_RECONNECTED: (
        "The session has been reconnected. This websocket is no longer valid."
    ),
}
