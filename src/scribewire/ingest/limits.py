"""The front door's limits, defined once (every ``ingest`` module imports them here)."""

from __future__ import annotations

__all__ = [
    "DEFAULT_ENTRY_MS",
    "MAX_DISCARD_S",
    "MAX_GAP_FILL_MS",
    "MAX_MESSAGE_NBYTES",
    "MAX_TRACK_SKEW_MS",
    "MIN_ENTRY_MS",
    "SAMPLE_RATES",
    "START_TIMEOUT_S",
]

#: audio per Redis entry by default, ms (``scaleout.md`` §3: the per-entry cost of
#: ``XADD`` is paid 5 times a second per call at 200 ms, not 50 at Twilio's 20 ms)
DEFAULT_ENTRY_MS = 200
#: the smallest entry the front door accepts to write (the issue's coalescing floor)
MIN_ENTRY_MS = 200
#: the largest WebSocket message any front door reads, bytes (a Twilio ``media`` message
#: of 20 ms is ~300 bytes; an AudioHook frame of 1 s stereo L16 32,000 bytes)
MAX_MESSAGE_NBYTES = 256 * 1024
#: seconds a connection may take to start its call before it is closed
START_TIMEOUT_S = 10.0
#: the largest jump of a Twilio track's ``timestamp`` filled with silence, ms; a larger
#: one is a protocol error (a hostile timestamp must not make us write hours of silence)
MAX_GAP_FILL_MS = 5_000
#: the most audio one AudioHook ``discarded`` / ``resumed`` may say was lost, s: the
#: call's worker fills the hole with silence, so a hostile duration must not make it
#: allocate and send hours of it (a longer pause is a protocol error: the call ends)
MAX_DISCARD_S = 300.0
#: how far one track of a two-track Twilio stream may run ahead of the other, ms; past
#: it, the late track is filled with silence (said in the log) so the buffer stays bounded
MAX_TRACK_SKEW_MS = 1_000
#: sample rates the front doors take, Hz: a whole number of frames per millisecond, so
#: every entry ends on a millisecond (entry IDs are the audio end in ms, ``scaleout.md`` §4)
SAMPLE_RATES = (8000, 16000, 24000, 32000, 48000)
