"""Property tests of AudioLedger (with TranscribeAck): random chunk sizes, keepalive
silence, results and reconnects.

Invariants: the replay is always the newest recorded bytes (silence as zeros); when
nothing was dropped it starts at the (frame-aligned) acknowledgement point, or after
keepalive silence that directly follows it; stored memory never exceeds the bound and
silence costs none.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scribewire.errors import ReplayOverflow  # noqa: E402
from scribewire.streaming.replay import AudioLedger, seconds_to_nbytes  # noqa: E402
from scribewire.transcribe import (  # noqa: E402
    Result,
    Transcript,
    TranscriptEvent,
)
from scribewire.transcribe.ack import TranscribeAck  # noqa: E402

pytestmark = pytest.mark.hypothesis

RATE = 8000

# one step: ("record", frames) | ("partial"/"final", id, start frame, end frame) | ("reconnect",)
STEP = st.one_of(
    st.tuples(st.just("record"), st.integers(0, 3000)),
    st.tuples(st.just("silence"), st.integers(0, 3000)),
    st.tuples(
        st.sampled_from(["partial", "final"]),
        st.integers(0, 5),
        st.integers(0, 12000),
        st.integers(0, 12000),
    ),
    st.tuples(st.just("reconnect")),
)


def ledger_of(rate: int, channels: int, *, max_replay_seconds: float) -> AudioLedger:
    budget = seconds_to_nbytes(max_replay_seconds, rate, 2 * channels)
    return AudioLedger(rate, 2 * channels, TranscribeAck(channels), max_replay_nbytes=budget)


def _event(rid: int, start: int, end: int, partial: bool) -> TranscriptEvent:
    r = Result(str(rid), start / RATE, end / RATE, partial)
    return TranscriptEvent(Transcript((r,)))


@settings(max_examples=300, deadline=None)
@given(
    channels=st.sampled_from([1, 2]),
    bound_frames=st.one_of(st.just(10**6), st.integers(0, 6000)),
    steps=st.lists(STEP, max_size=40),
)
def test_replay_is_the_recorded_audio_from_the_ack_point(
    channels: int, bound_frames: int, steps: list[tuple[object, ...]]
) -> None:
    bpf = 2 * channels
    ledger = ledger_of(RATE, channels, max_replay_seconds=bound_frames / RATE)
    assert ledger.max_replay_nbytes == bound_frames * bpf
    warnings.simplefilter("ignore", ReplayOverflow)  # drops are expected here (counted)
    stream = bytearray()  # every byte recorded, in order
    silent = bytearray()  # 1 where the byte was keepalive silence
    conn = 0  # model: stream position of the connection's time 0
    ack = 0  # model: acknowledged stream position
    final_end = 0  # model: greatest final end this connection, frames
    opened: dict[int, int] = {}  # model: open partials, id -> start frame
    for step in steps:
        if step[0] == "record":
            n = int(step[1]) * bpf  # type: ignore[call-overload]
            pos = np.arange(len(stream), len(stream) + n, dtype=np.int64)
            chunk = (pos * 7 % 251).astype(np.uint8).tobytes()  # bytes differ by position
            stream += chunk
            silent += bytes(len(chunk))
            ledger.record(chunk)
        elif step[0] == "silence":
            n = int(step[1]) * bpf  # type: ignore[call-overload]
            stream += bytes(n)
            silent += b"\x01" * n
            ledger.record_silence(n)
        elif step[0] == "reconnect":
            replay = ledger.reconnect()
            assert replay == stream[len(stream) - len(replay) :]
            skipped = silent[ack : len(stream) - len(replay)]
            if ledger.dropped_nbytes == 0:
                # from the ack point, less only keepalive silence right after it
                assert len(replay) <= len(stream) - ack and all(skipped)
            conn = len(stream) - len(replay)
            ack = max(ack, conn)
            final_end, opened = 0, {}
            assert ledger.offset == conn / (RATE * bpf)
        else:
            kind, rid, start, end = step
            assert isinstance(rid, int) and isinstance(start, int) and isinstance(end, int)
            if kind == "partial":
                opened[rid] = start
            else:
                opened.pop(rid, None)
                final_end = max(final_end, end)
            ledger.observe(_event(rid, start, end, kind == "partial"))
            frames = min([final_end, *opened.values()])
            ack = max(ack, min(conn + frames * bpf, len(stream)))
        assert ledger.acknowledged_nbytes == ack
        assert ack % bpf == 0
        assert ledger.sent_nbytes == len(stream)
        # stored audio never outgrows the bound; silence costs nothing
        assert ledger.memory_nbytes <= ledger.max_replay_nbytes
        assert ledger.memory_nbytes <= len(stream) - sum(silent)
        if ledger.dropped_nbytes == 0:
            assert ledger.retained_nbytes == len(stream) - ack
        assert ledger.connection_seconds == (len(stream) - conn) / (RATE * bpf)
    tail = ledger.reconnect()
    assert tail == stream[len(stream) - len(tail) :]
    if ledger.dropped_nbytes == 0:
        assert all(silent[ack : len(stream) - len(tail)])
