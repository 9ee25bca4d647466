"""AudioLedger with Transcribe's TranscribeAck: the acknowledgement rule, bounded memory,
reconnect and the time base.

Unit tests build events by hand; the end-to-end test cuts a real stream to the local
service (pocketsphinx) mid-clip and reconnects with the ledger's replay.
"""

from __future__ import annotations

import array
import asyncio
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import in_order, words_of
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from scribewire.audio import open_audio
from scribewire.errors import (
    AudioFormatError,
    AudioTypeError,
    EventTypeError,
    ParameterError,
    ReplayOverflow,
)
from scribewire.server import LocalTranscribeService
from scribewire.streaming.replay import AudioLedger, seconds_to_nbytes
from scribewire.transcribe import (
    Alternative,
    CallAnalyticsEntity,
    CallAnalyticsItem,
    CategoryEvent,
    ChannelDefinition,
    CharacterOffsets,
    ConfigurationEvent,
    Entity,
    IssueDetected,
    Item,
    MedicalAlternative,
    MedicalEntity,
    MedicalItem,
    MedicalResult,
    MedicalTranscript,
    MedicalTranscriptEvent,
    PointsOfInterest,
    Result,
    StreamParams,
    TimestampRange,
    TranscribeSession,
    Transcript,
    TranscriptEvent,
    UnknownEvent,
    UtteranceEvent,
)
from scribewire.transcribe.ack import TranscribeAck
from scribewire.transcribe.errors import BadRequestException


def ledger_of(
    sample_rate: int, channels: int, *, max_replay_seconds: float = 30.0, **kw: Any
) -> AudioLedger:
    """A Transcribe stream's ledger: int16 PCM, the budget given in seconds."""
    ack = TranscribeAck(channels)
    budget = seconds_to_nbytes(max_replay_seconds, sample_rate, 2 * channels)
    return AudioLedger(sample_rate, 2 * channels, ack, max_replay_nbytes=budget, **kw)


def pcm_of(seconds: float, rate: int = 16000, channels: int = 1) -> bytes:
    """Distinct bytes per position (a ramp), so a wrong slice never compares equal."""
    n = int(seconds * rate) * 2 * channels
    return (np.arange(n, dtype=np.uint32) * 2654435761 >> 13).astype(np.uint8).tobytes()


def res(
    rid: str, start: float, end: float, partial: bool, ch: str | None = None, text: str = "w"
) -> Result:
    items = (Item(start_time=start, end_time=end, type="pronunciation", content=text),)
    return Result(
        result_id=rid,
        start_time=start,
        end_time=end,
        is_partial=partial,
        alternatives=(Alternative(transcript=text, items=items),),
        channel_id=ch,
    )


def ev(*results: Result) -> TranscriptEvent:
    return TranscriptEvent(Transcript(tuple(results)))


def utt(uid: str, role: str, begin: int, end: int, partial: bool) -> UtteranceEvent:
    return UtteranceEvent(
        utterance_id=uid,
        is_partial=partial,
        participant_role=role,
        begin_offset_millis=begin,
        end_offset_millis=end,
        transcript="w",
    )


def at(ledger: Any, seconds: float) -> int:
    """Stream byte position of a time that falls on a frame."""
    frames = seconds * ledger.sample_rate
    assert frames == round(frames)
    return round(frames) * ledger.bytes_per_frame


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "kw",
    [
        {"sample_rate": 0, "channels": 1},
        {"sample_rate": -8000, "channels": 1},
        {"sample_rate": 16000.0, "channels": 1},
        {"sample_rate": True, "channels": 1},
        {"sample_rate": 16000, "channels": 0},
        {"sample_rate": 16000, "channels": 3},
        {"sample_rate": 16000, "channels": True},
        {"sample_rate": 16000, "channels": 1, "max_replay_seconds": -0.1},
        {"sample_rate": 16000, "channels": 1, "max_replay_seconds": math.nan},
        {"sample_rate": 16000, "channels": 1, "max_replay_seconds": math.inf},
        {"sample_rate": 16000, "channels": 1, "max_replay_seconds": "30"},
    ],
)
def test_bad_arguments(kw: dict[str, Any]) -> None:
    with pytest.raises(ParameterError):
        ledger_of(**kw)


def test_bad_audio() -> None:
    ledger = ledger_of(8000, 2)
    with pytest.raises(AudioFormatError, match="whole number of 4-byte frames"):
        ledger.record(b"\0" * 6)
    with pytest.raises(AudioTypeError):
        ledger.record("abcd")
    with pytest.raises(AudioFormatError):
        ledger.record(np.zeros((4, 4), dtype=np.int16)[:, ::2])
    assert ledger.sent_nbytes == 0
    ledger.record(b"")
    ledger.record(np.zeros(6, dtype=np.int16))  # int16 arrays and bytes-likes are fine
    ledger.record(array.array("h", [1, 2]))
    ledger.record(memoryview(bytearray(8)))
    assert ledger.sent_nbytes == 12 + 4 + 8
    assert ledger.sent_seconds == pytest.approx(6 / 8000)


@pytest.mark.parametrize(
    "bad", [BadRequestException("no"), ev().transcript, {"Transcript": {}}, None, b"x"]
)
def test_bad_events(bad: Any) -> None:
    ledger = ledger_of(16000, 1)
    with pytest.raises(EventTypeError):
        ledger.observe(bad)
    with pytest.raises(EventTypeError):
        ledger.shift(bad)
    ledger.record(pcm_of(0.1))
    ledger.reconnect()
    with pytest.raises(EventTypeError):
        ledger.shift(bad)  # also with a non-zero offset


# --------------------------------------------------------------------------- ack rule


def test_partials_then_final_mono() -> None:
    ledger = ledger_of(16000, 1)
    ledger.record(pcm_of(3.0))
    assert ledger.retained_nbytes == at(ledger, 3.0)
    ledger.observe(ev(res("a", 0.5, 0.8, True)))
    ledger.observe(ev(res("a", 0.5, 1.1, True)))
    assert ledger.acknowledged_nbytes == 0  # no final yet
    ledger.observe(ev(res("a", 0.5, 1.25, False)))
    assert ledger.acknowledged_nbytes == at(ledger, 1.25)
    assert ledger.acknowledged_seconds == 1.25
    assert ledger.unacknowledged_seconds == pytest.approx(1.75)
    assert ledger.retained_nbytes == at(ledger, 1.75)  # released at once
    ledger.observe(ev(res("b", 1.5, 1.9, True)))
    assert ledger.acknowledged_seconds == 1.25
    ledger.observe(ev(res("b", 1.5, 2.5, False)))
    assert ledger.acknowledged_seconds == 2.5
    assert ledger.memory_nbytes <= max(4096, 2 * ledger.sent_nbytes)


def test_open_partial_holds_back_a_later_final() -> None:
    ledger = ledger_of(16000, 1)
    ledger.record(pcm_of(3.0))
    ledger.observe(ev(res("a", 0.4, 0.9, True), res("b", 1.0, 2.0, False)))
    assert ledger.acknowledged_seconds == 0.4
    ledger.observe(ev(res("a", 0.4, 0.95, False)))
    assert ledger.acknowledged_seconds == 2.0


def test_no_results_and_no_items_move_nothing_wrongly() -> None:
    ledger = ledger_of(16000, 1)
    ledger.record(pcm_of(2.0))
    ledger.observe(ev())
    ledger.observe(TranscriptEvent())
    ledger.observe(CategoryEvent(matched_categories=("x",)))
    ledger.observe(UnknownEvent("FutureEvent", b"{}"))
    assert ledger.acknowledged_nbytes == 0
    bare = Result(result_id="n", start_time=0.0, end_time=0.75, is_partial=False)
    ledger.observe(ev(bare))  # a final with no alternatives still ends at its EndTime
    assert ledger.acknowledged_seconds == 0.75


def test_final_end_going_backwards_never_moves_ack_back() -> None:
    ledger = ledger_of(16000, 1)
    ledger.record(pcm_of(3.0))
    ledger.observe(ev(res("a", 0.0, 2.0, False)))
    ledger.observe(ev(res("b", 0.5, 1.0, False)))
    assert ledger.acknowledged_seconds == 2.0
    ledger.observe(ev(res("c", 0.25, 0.5, True)))  # an open partial from the past
    assert ledger.acknowledged_seconds == 2.0
    ledger.observe(ev(res("c", 0.25, 2.5, False)))
    assert ledger.acknowledged_seconds == 2.5


def test_negative_times_and_finals_past_the_audio() -> None:
    ledger = ledger_of(16000, 1)
    ledger.record(pcm_of(1.0))
    ledger.observe(ev(res("a", -1.0, -0.5, False)))
    assert ledger.acknowledged_nbytes == 0
    ledger.observe(ev(res("b", 0.0, 9.0, False)))
    assert ledger.acknowledged_nbytes == ledger.sent_nbytes  # capped at the audio recorded
    assert ledger.retained_nbytes == 0 and ledger.reconnect() == b""


def test_ack_is_frame_aligned_and_float_noise_costs_no_frame() -> None:
    ledger = ledger_of(8000, 2)
    ledger.record(pcm_of(2.0, 8000, 2))
    ledger.observe(ev(res("a", 0.0, 0.12345, False, "ch_0"), res("b", 0.0, 0.5, False, "ch_1")))
    assert ledger.acknowledged_nbytes == 987 * 4  # floor(0.12345 x 8000) frames
    mono = ledger_of(16000, 1)
    mono.record(pcm_of(2.0))
    mono.observe(ev(res("a", 0.0, 1.234, False)))  # 1.234 * 16000 = 19743.999999999996
    assert mono.acknowledged_nbytes == 19744 * 2


def test_channels_a_final_never_acknowledges_the_other_channels_open_audio() -> None:
    ledger = ledger_of(8000, 2)
    ledger.record(pcm_of(6.0, 8000, 2))
    ledger.observe(ev(res("a", 0.5, 2.0, False, "ch_0")))
    assert ledger.acknowledged_nbytes == 0  # ch_1 has not reported: nothing known of it
    ledger.observe(ev(res("b", 1.0, 1.2, True, "ch_1")))
    assert ledger.acknowledged_nbytes == 0  # ch_1 is open from 1.0, with no final before
    ledger.observe(ev(res("b", 1.0, 1.5, False, "ch_1")))
    assert ledger.acknowledged_seconds == 1.5  # min(ch_0 2.0, ch_1 1.5)
    ledger.observe(ev(res("c", 1.75, 2.0, True, "ch_1")))
    ledger.observe(ev(res("d", 2.25, 4.0, False, "ch_0")))  # ch_0 runs ahead
    assert ledger.acknowledged_seconds == 1.5  # ch_1 finished only up to 1.5
    ledger.observe(ev(res("c", 1.75, 3.0, False, "ch_1")))
    assert ledger.acknowledged_seconds == 3.0
    ledger.observe(ev(res("e", 3.25, 3.5, True, "ch_1")))
    ledger.observe(ev(res("f", 4.25, 5.0, False, "ch_0")))
    assert ledger.acknowledged_seconds == 3.0  # ch_1 still open from 3.25, final at 3.0


def test_channels_interleaved_out_of_order() -> None:
    """Whatever order the two channels' results interleave in, the ack is the same min."""
    events = [
        ev(res("a", 0.0, 1.0, False, "ch_0")),
        ev(res("b", 0.0, 0.5, True, "ch_0")),
        ev(res("x", 0.25, 3.0, False, "ch_1")),
        ev(res("b", 1.25, 2.0, False, "ch_0"), res("y", 3.5, 3.75, True, "ch_1")),
        ev(res("c", 2.5, 4.0, False, "ch_0")),
    ]

    def acks(order: list[TranscriptEvent]) -> list[float]:
        ledger = ledger_of(16000, 2)
        ledger.record(pcm_of(5.0, 16000, 2))
        out = []
        for e in order:
            ledger.observe(e)
            out.append(ledger.acknowledged_seconds)
        return out

    # "b" on ch_0 is open from 0.0 until its final; ch_1 is then open from 3.5
    assert acks(events) == [0.0, 0.0, 0.0, 2.0, 3.0]
    ch1_first = [events[2], ev(res("y", 3.5, 3.75, True, "ch_1")), events[0], events[1]]
    ch1_first += [ev(res("b", 1.25, 2.0, False, "ch_0")), events[4]]
    assert acks(ch1_first) == [0.0, 0.0, 1.0, 1.0, 2.0, 3.0]


def test_results_without_channel_cover_both_channels() -> None:
    ledger = ledger_of(16000, 2)
    ledger.record(pcm_of(2.0, 16000, 2))
    ledger.observe(ev(res("a", 0.0, 1.0, False)))
    assert ledger.acknowledged_seconds == 1.0


def test_call_analytics_utterances() -> None:
    ledger = ledger_of(8000, 2)
    ledger.record(pcm_of(5.0, 8000, 2))
    ledger.observe(utt("u1", "AGENT", 500, 900, True))
    ledger.observe(utt("u2", "CUSTOMER", 1000, 2000, False))
    assert ledger.acknowledged_nbytes == 0  # AGENT open from 0.5 s (and no final yet)
    ledger.observe(utt("u1", "AGENT", 500, 1500, False))
    assert ledger.acknowledged_seconds == 1.5
    ledger.observe(utt("u3", "CUSTOMER", 2500, 2600, True))
    ledger.observe(utt("u4", "AGENT", 1750, 3000, False))
    assert ledger.acknowledged_seconds == 2.0  # CUSTOMER: final to 2.0, open from 2.5
    ledger.observe(CategoryEvent(matched_categories=("billing",)))
    ledger.observe(utt("u3", "CUSTOMER", 2500, 3250, False))
    assert ledger.acknowledged_seconds == 3.0


# --------------------------------------------------------------------------- bound


def test_bound_drops_and_counts_unacknowledged_audio() -> None:
    ledger = ledger_of(16000, 1, max_replay_seconds=1.0)
    audio = pcm_of(2.5)
    with pytest.warns(ReplayOverflow, match="1.0. s of audio|0.10 s of audio"):
        for i in range(0, len(audio), 3200):
            ledger.record(audio[i : i + 3200])
        assert ledger.retained_nbytes <= ledger.max_replay_nbytes
        assert ledger.memory_nbytes <= ledger.max_replay_nbytes
    assert ledger.dropped_nbytes == at(ledger, 1.5)
    assert ledger.dropped_seconds == 1.5 and ledger.overflows == 1  # one warning per episode
    assert ledger.unacknowledged_seconds == 2.5  # dropped audio is still unacknowledged
    replay = ledger.reconnect()
    assert replay == audio[at(ledger, 1.5) :]
    assert ledger.offset == 1.5 and ledger.acknowledged_seconds == 1.5
    ledger.observe(ev(res("a", 0.0, 0.5, False)))  # new connection's time base
    assert ledger.acknowledged_seconds == 2.0


def test_bound_with_one_chunk_larger_than_it_and_zero_bound() -> None:
    ledger = ledger_of(16000, 1, max_replay_seconds=0.5)
    ledger.record(pcm_of(0.25))
    big = pcm_of(2.0)
    with pytest.warns(ReplayOverflow):
        ledger.record(big)
    assert ledger.retained_nbytes == at(ledger, 0.5)
    assert ledger.dropped_seconds == 1.75
    assert ledger.reconnect() == big[-at(ledger, 0.5) :]
    none = ledger_of(16000, 1, max_replay_seconds=0)
    with pytest.warns(ReplayOverflow):
        none.record(pcm_of(0.5))
    assert none.retained_nbytes == 0 and none.dropped_seconds == 0.5
    assert none.reconnect() == b"" and none.offset == 0.5


def test_memory_stays_small_while_audio_is_acknowledged() -> None:
    """Memory follows the audio not yet acknowledged, not the audio recorded."""
    ledger = ledger_of(16000, 1, max_replay_seconds=10.0)
    chunk = pcm_of(0.1)
    for i in range(1, 400):
        ledger.record(chunk)
        ledger.observe(ev(res(str(i), 0.1 * i - 0.1, 0.1 * i - 0.05, False)))
        assert ledger.memory_nbytes <= 2 * len(chunk)
    assert ledger.dropped_nbytes == 0


def test_keepalive_silence_costs_no_memory_and_is_not_replayed_when_leading() -> None:
    ledger = ledger_of(16000, 1, max_replay_seconds=1.0)
    speech = pcm_of(0.5)
    ledger.record(speech)
    ledger.observe(ev(res("a", 0.0, 0.5, False)))  # all of it acknowledged
    for _ in range(600):  # a minute of keepalive silence: no memory, no overflow
        ledger.record_silence(3200)
    assert ledger.memory_nbytes == 0 and ledger.dropped_nbytes == 0
    assert ledger.sent_seconds == pytest.approx(60.5)
    # leading silence is not replayed: the new connection starts after it
    assert ledger.reconnect() == b""
    assert ledger.offset == pytest.approx(60.5)
    # silence between unacknowledged speech is replayed as zeros, in place
    ledger.record(speech)
    ledger.record_silence(3200)
    ledger.record(speech)
    assert ledger.reconnect() == speech + bytes(3200) + speech
    assert ledger.offset == pytest.approx(60.5)
    with pytest.raises(AudioFormatError):
        ledger.record_silence(3)


def test_refetchable_source_loses_nothing_when_audio_leaves_memory() -> None:
    audio = pcm_of(3.0)
    ledger = ledger_of(16000, 1, max_replay_seconds=1.0, refetchable=True)
    for i in range(0, len(audio), 3200):
        ledger.record(audio[i : i + 3200])  # no ReplayOverflow: the file has it
    assert ledger.memory_nbytes <= at(ledger, 1.0) and ledger.dropped_nbytes == 0
    ledger.observe(ev(res("a", 0.0, 0.5, False)))
    start, end = ledger.refetch_range()  # type: ignore[misc]
    assert start == at(ledger, 0.5) and end == at(ledger, 2.0)
    with pytest.raises(AudioFormatError, match="refetched audio"):
        ledger.reconnect(b"short")
    assert ledger.reconnect(audio[start:end]) == audio[start:]
    assert ledger.offset == 0.5 and ledger.refetch_range() is None


# --------------------------------------------------------------------------- reconnect


def test_reconnect_replays_from_the_ack_point_and_moves_the_time_base() -> None:
    ledger = ledger_of(16000, 1)
    audio = pcm_of(4.0)
    ledger.record(audio[: at(ledger, 3.0)])
    ledger.observe(ev(res("a", 0.0, 1.0, False), res("b", 1.5, 2.0, True)))
    assert ledger.acknowledged_seconds == 1.0
    replay = ledger.reconnect()
    assert replay == audio[at(ledger, 1.0) : at(ledger, 3.0)]
    assert ledger.offset == 1.0 and ledger.reconnects == 1
    assert ledger.connection_seconds == 2.0  # the replay is the new connection's audio
    assert ledger.sent_seconds == 3.0  # counted once
    # the open partial "b" was forgotten: a final on the new connection acknowledges
    ledger.observe(ev(res("c", 0.1, 0.5, False)))
    assert ledger.acknowledged_seconds == 1.5
    # a second reconnect during the replay loses nothing either
    ledger.record(audio[at(ledger, 3.0) :])
    assert ledger.connection_seconds == 3.0
    assert ledger.reconnect() == audio[at(ledger, 1.5) :]
    assert ledger.offset == 1.5 and ledger.connection_seconds == 2.5
    ledger.observe(ev(res("d", 0.0, 2.5, False)))
    assert ledger.acknowledged_seconds == 4.0 and ledger.retained_nbytes == 0
    assert ledger.reconnect() == b"" and ledger.connection_seconds == 0.0


def test_reconnect_result_is_a_copy() -> None:
    ledger = ledger_of(16000, 1)
    audio = pcm_of(1.0)
    ledger.record(audio)
    replay = ledger.reconnect()
    assert isinstance(replay, bytes)
    ledger.record(audio)  # the buffer grows after the replay was taken
    ledger.observe(ev(res("a", 0.0, 1.5, False)))
    assert replay == audio


# --------------------------------------------------------------------------- shift


def test_shift_with_zero_offset_is_the_identity() -> None:
    ledger = ledger_of(16000, 1)
    e = ev(res("a", 0.1, 0.2, False))
    assert ledger.shift(e) is e
    u = utt("u", "AGENT", 1, 2, True)
    assert ledger.shift(u) is u


def _reconnected(offset_s: float) -> AudioLedger:
    ledger = ledger_of(16000, 1)
    ledger.record(pcm_of(offset_s + 1.0))
    ledger.observe(ev(res("a", 0.0, offset_s, False)))
    ledger.reconnect()
    assert ledger.offset == offset_s
    return ledger


def test_shift_transcript_event_moves_every_time() -> None:
    ledger = _reconnected(2.5)
    ent = Entity(start_time=0.25, end_time=0.5, category="PII", type="NAME", content="x")
    alt = Alternative(
        transcript="hi x",
        items=(Item(start_time=0.0, end_time=0.25, content="hi"), Item(0.25, 0.5, content="x")),
        entities=(ent,),
    )
    r = Result("a", 0.0, 0.5, False, alternatives=(alt, Alternative("hi")), channel_id="ch_0")
    out = ledger.shift(TranscriptEvent(Transcript((r, res("b", 0.75, 1.0, True)))))
    r0, r1 = out.transcript.results
    assert (r0.start_time, r0.end_time, r1.start_time, r1.end_time) == (2.5, 3.0, 3.25, 3.5)
    assert [(i.start_time, i.end_time) for i in r0.alternatives[0].items] == [
        (2.5, 2.75),
        (2.75, 3.0),
    ]
    e0 = r0.alternatives[0].entities[0]
    assert (e0.start_time, e0.end_time, e0.content) == (2.75, 3.0, "x")
    assert r0.alternatives[1] == Alternative("hi") and r0.channel_id == "ch_0"
    assert r0.result_id == "a" and r1.is_partial
    empty = ev()
    assert ledger.shift(empty) is empty


def test_shift_medical() -> None:
    ledger = _reconnected(1.0)
    alt = MedicalAlternative(
        transcript="t",
        items=(MedicalItem(start_time=0.5, end_time=0.75, content="t"),),
        entities=(MedicalEntity(start_time=0.5, end_time=0.75, category="PHI"),),
    )
    e = MedicalTranscriptEvent(MedicalTranscript((MedicalResult("m", 0.5, 0.75, False, (alt,)),)))
    out = ledger.shift(e)
    assert isinstance(out, MedicalTranscriptEvent)
    (r,) = out.transcript.results
    assert (r.start_time, r.end_time) == (1.5, 1.75)
    assert r.alternatives[0].items[0].start_time == 1.5
    assert r.alternatives[0].entities[0].end_time == 1.75


def test_shift_utterance_and_category_in_milliseconds() -> None:
    ledger = ledger_of(8000, 2)
    ledger.record(pcm_of(3.0, 8000, 2))
    ledger.observe(utt("a", "AGENT", 0, 1234, False))
    ledger.observe(utt("b", "CUSTOMER", 0, 2000, False))
    ledger.reconnect()
    assert ledger.offset == 1.234
    u = UtteranceEvent(
        utterance_id="u",
        is_partial=False,
        participant_role="AGENT",
        begin_offset_millis=100,
        end_offset_millis=900,
        transcript="card 1234",
        items=(CallAnalyticsItem(begin_offset_millis=100, end_offset_millis=400),),
        entities=(CallAnalyticsEntity(begin_offset_millis=500, end_offset_millis=900),),
        sentiment="NEUTRAL",
        issues_detected=(IssueDetected(CharacterOffsets(begin=0, end=4)),),
    )
    out = ledger.shift(u)
    assert (out.begin_offset_millis, out.end_offset_millis) == (1334, 2134)
    assert (out.items[0].begin_offset_millis, out.items[0].end_offset_millis) == (1334, 1634)
    assert out.entities[0].begin_offset_millis == 1734
    assert out.issues_detected == u.issues_detected  # character offsets are not times
    assert out.sentiment == "NEUTRAL" and out.transcript == "card 1234"
    cat = CategoryEvent(
        matched_categories=("billing",),
        matched_details={"billing": PointsOfInterest((TimestampRange(10, 20),))},
    )
    shifted = ledger.shift(cat)
    assert shifted.matched_details["billing"].timestamp_ranges == (TimestampRange(1244, 1254),)
    assert shifted.matched_categories == ("billing",)
    bare = CategoryEvent(matched_categories=("x",))
    assert ledger.shift(bare) is bare
    unknown = UnknownEvent("Future", b"{}")
    assert ledger.shift(unknown) is unknown
    config = ConfigurationEvent((ChannelDefinition(0, "AGENT"), ChannelDefinition(1, "CUSTOMER")))
    assert ledger.shift(config) is config
    ledger.observe(config)  # accepted, moves nothing


# --------------------------------------------------------------------------- end to end

CLIP = "vosk_digits_10001_90210_01803.wav"  # three digit groups with pauses, 8.3 s, 16 kHz


async def _read(
    ws: ClientConnection,
    session: TranscribeSession,
    ledger: Any,
    finals: list[Result],
    got_final: asyncio.Event,
) -> None:
    try:
        async for data in ws:
            for event in session.receive_data(data):
                ledger.observe(event)
                shifted = ledger.shift(event)
                assert isinstance(shifted, TranscriptEvent)
                for r in shifted.transcript.results:
                    if not r.is_partial:
                        finals.append(r)
                        got_final.set()
    except ConnectionClosed:
        pass


def test_reconnect_with_replay_end_to_end(shared_dir: Path) -> None:
    with open_audio(shared_dir / "audio" / CLIP) as src:
        pcm = src.read(sample_rate=16000, channels=1)
    meta = json.loads((shared_dir / "audio" / "MANIFEST.json").read_text())
    (clip,) = [c for c in meta["clips"] if c["file"] == CLIP]
    reference = words_of(clip["reference_transcript"])
    params = StreamParams(language_code="en-US", media_encoding="pcm", sample_rate=16000)
    ledger = ledger_of(16000, 1)
    duration = len(pcm) / 32000
    cut = int(0.65 * duration * 16000) * 2  # mid-clip, frame-aligned

    async def connection(
        svc: LocalTranscribeService, replay: bytes, rest: bytes, *, abort: bool
    ) -> list[Result]:
        """Send ``replay`` (already recorded by ``reconnect``) then ``rest`` (recorded)."""
        session = TranscribeSession(params, chunk_duration=0.1)
        url = session.request_url(
            svc.credentials, svc.now_utc(), region=svc.region, endpoint=svc.url
        )
        finals: list[Result] = []
        got_final = asyncio.Event()
        async with connect(url, compression=None, max_size=None) as ws:
            reader = asyncio.create_task(_read(ws, session, ledger, finals, got_final))
            for frame in session.send_audio(replay):
                await ws.send(frame)
            step = session.chunk_bytes
            for j in range(0, len(rest), step):
                piece = rest[j : j + step]
                for frame in session.send_audio(piece):
                    await ws.send(frame)
                ledger.record(piece)
            if abort:
                await asyncio.wait_for(got_final.wait(), 20)
                ws.transport.abort()  # no close frame, no end of stream: the link is gone
            else:
                for frame in session.end_of_stream():
                    await ws.send(frame)
            await asyncio.wait_for(reader, 20)
        return finals

    async def main() -> tuple[list[Result], list[Result], bytes, list[Any]]:
        async with LocalTranscribeService(recognizer="pocketsphinx") as svc:
            first = await connection(svc, b"", pcm[:cut], abort=True)
            await svc.wait_finished(1)
            replay = ledger.reconnect()
            second = await connection(svc, replay, pcm[cut:], abort=False)
            stats = await svc.wait_finished(2)
            return first, second, replay, stats

    first, second, replay, stats = asyncio.run(main())
    ack = cut - len(replay)
    # (a) the replay starts at a frame-aligned ack point that a final really reached, and
    # the two connections carried the clip: the first at least up to the ack point, the
    # second exactly from it to the end
    assert 0 < ack < cut and ack % 2 == 0
    assert ledger.offset == ack / 32000
    assert max(r.end_time for r in first) >= ack / 32000 - 1 / 16000
    s1, s2 = stats
    assert ack <= s1.audio_nbytes <= cut
    assert hashlib.sha256(pcm[: s1.audio_nbytes]).hexdigest() == s1.audio_sha256
    assert s2.audio_nbytes == len(pcm) - ack
    assert s2.audio_sha256 == hashlib.sha256(pcm[ack:]).hexdigest()
    assert replay == pcm[ack:cut]
    # (b) shifted finals are monotonic on the clip's timeline and cover it
    finals = first + second
    assert second and all(r.start_time >= ack / 32000 for r in second)
    for prev, r in zip(finals, finals[1:], strict=False):
        assert r.start_time >= prev.end_time - 1 / 16000, (prev, r)
        assert r.start_time <= r.end_time
    assert finals[0].start_time < 1.5 and finals[-1].end_time > duration - 1.5
    assert finals[-1].end_time <= duration + 0.05
    # (c) the words of both connections hold the reference's words in order (loosely:
    # the recogniser makes errors), from both sides of the cut
    hyp = [w for r in finals for w in words_of(r.alternatives[0].transcript)]
    assert in_order(reference, hyp) >= 0.5 * len(reference), (reference, hyp)
    assert in_order(reference[:5], hyp) >= 4 and in_order(reference[-4:], hyp) >= 3
    assert ledger.acknowledged_seconds >= finals[-1].end_time - 1 / 16000
